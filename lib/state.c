/* The state store: one small file per key in a private folder. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bot.h"
#include "state.h"

int bot_fd_private(int fd, const char *what, int root_ok, jv *err)
{
	struct stat st;
	if (fstat(fd, &st) < 0) {
		*err = bot_fail_code("bad_config", 0, "%s: %s", what, strerror(errno));
		return -1;
	}
	if (st.st_uid != geteuid() && !(root_ok && st.st_uid == 0)) {
		*err = bot_fail_code("bad_config", 0, "%s: owned by uid %d, not by us (uid %d): refused",
		                     what, (int)st.st_uid, (int)geteuid());
		return -1;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		*err = bot_fail_code("bad_config", 0, "%s: others may write it (mode %03o): refused; chmod go-w",
		                     what, (unsigned)(st.st_mode & 0777));
		return -1;
	}
	return 0;
}

static int valid_name(const char *s, int allow_at)
{
	if (!s || !*s || *s == '.' || strlen(s) > 200)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '.' || *s == '_' || *s == '-' || (allow_at && *s == '@')))
			return 0;
	return 1;
}

int bot_state_key_ok(const char *key)
{
	return valid_name(key, 0);
}

int bot_state_dir(const char *instance, char *buf, size_t n, jv *err)
{
	if (!valid_name(instance, 1)) {
		*err = bot_fail_code("bad_config", 0, "state: bad instance name");
		return -1;
	}
	const char *base = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	int k;
	if (base && *base == '/')
		k = snprintf(buf, n, "%s/botpipe/%s", base, instance);
	else if (home && *home == '/')
		k = snprintf(buf, n, "%s/.local/state/botpipe/%s", home, instance);
	else {
		*err = bot_fail_code("bad_config", 0, "state: neither XDG_STATE_HOME nor HOME is set");
		return -1;
	}
	if (k < 0 || (size_t)k >= n) {
		*err = bot_fail_code("bad_config", 0, "state: path too long");
		return -1;
	}
	if (bot_mkdirs(buf) < 0) {
		*err = bot_fail_code("bad_config", 0, "state: %s: %s", buf, strerror(errno));
		return -1;
	}
	int fd = open(buf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		*err = bot_fail_code("bad_config", 0, "state: %s: %s", buf, strerror(errno));
		return -1;
	}
	char what[PATH_MAX + 8];
	snprintf(what, sizeof what, "state: %s", buf);
	int r = bot_fd_private(fd, what, 0, err);
	close(fd);
	return r;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int bot_state_put(const char *dir, const char *key, const char *data, size_t len, jv *err)
{
	if (!valid_name(key, 0)) {
		*err = bot_fail_code("bad_input", 0, "state: bad key");
		return -1;
	}
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		*err = bot_fail_code("send_failed", 1, "state: %s: %s", dir, strerror(errno));
		return -1;
	}
	char tmp[256];
	snprintf(tmp, sizeof tmp, ".%s.%d.tmp", key, (int)getpid());
	int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	int ok = fd >= 0 && write_all(fd, data, len) == 0 && fsync(fd) == 0;
	int e = errno;
	if (fd >= 0 && close(fd) < 0 && ok) {
		ok = 0;
		e = errno;
	}
	if (ok && renameat(dfd, tmp, dfd, key) < 0) {
		ok = 0;
		e = errno;
	}
	if (!ok)
		unlinkat(dfd, tmp, 0);
	else
		fsync(dfd);
	close(dfd);
	if (!ok) {
		*err = bot_fail_code("send_failed", 1, "state: %s/%s: %s", dir, key, strerror(e));
		return -1;
	}
	return 0;
}

jv bot_state_get(const char *dir, const char *key, size_t max)
{
	if (!valid_name(key, 0))
		return bot_fail("state: bad key");
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return errno == ENOENT ? jv_null() : bot_fail("state: %s: %s", dir, strerror(errno));
	int fd = openat(dfd, key, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	int e = errno;
	close(dfd);
	if (fd < 0)
		return e == ENOENT ? jv_null() : bot_fail("state: %s/%s: %s", dir, key, strerror(e));
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
		close(fd);
		return bot_fail("state: %s/%s: not a file of at most %zu bytes", dir, key, max);
	}
	char *buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		abort();
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	jv v = jv_string_sized(buf, (int)got);
	free(buf);
	return v;
}

int bot_state_del(const char *dir, const char *key, jv *err)
{
	if (!valid_name(key, 0)) {
		*err = bot_fail_code("bad_input", 0, "state: bad key");
		return -1;
	}
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		*err = bot_fail_code("send_failed", 1, "state: %s: %s", dir, strerror(errno));
		return -1;
	}
	int r = unlinkat(dfd, key, 0);
	int e = errno;
	if (r == 0)
		fsync(dfd);
	close(dfd);
	if (r < 0 && e != ENOENT) {
		*err = bot_fail_code("send_failed", 1, "state: %s/%s: %s", dir, key, strerror(e));
		return -1;
	}
	return 0;
}
