/* outbox.c: a maildir-style spool of events (see outbox.h for the rules
 * and what a kill -9 at each step leaves behind). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bot.h"
#include "outbox.h"

#define OUTBOX_FILE_MAX (16u << 20)   /* as BOT_LINE_MAX_DEFAULT */

/* dir + "/" + rest into buf; -1 (ENAMETOOLONG) when it does not fit. */
static int join(char *buf, size_t n, const char *dir, const char *rest)
{
	int k = snprintf(buf, n, "%s/%s", dir, rest);
	if (k < 0 || (size_t)k >= n) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

static int mkdir_one(const char *path)
{
	if (mkdir(path, 0700) == 0 || errno == EEXIST)
		return 0;
	return -1;
}

/* DIR and its tmp, new, cur. */
static int make_dirs(const char *dir)
{
	static const char *const sub[] = { "tmp", "new", "cur" };
	char p[PATH_MAX];
	if (mkdir_one(dir) < 0)
		return -1;
	for (size_t i = 0; i < sizeof sub / sizeof *sub; i++)
		if (join(p, sizeof p, dir, sub[i]) < 0 || mkdir_one(p) < 0)
			return -1;
	return 0;
}

static int fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int r = fsync(fd);
	int e = errno;
	close(fd);
	errno = e;
	return r;
}

/* A name that sorts by time: seconds and nanoseconds, fixed width, then
 * pid and random bits for uniqueness across processes. */
static void unique_name(char *buf, size_t n)
{
	struct timespec ts;
	uint32_t rnd = 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	if (getrandom(&rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t)sizeof rnd)
		rnd = (uint32_t)ts.tv_nsec ^ (uint32_t)getpid() << 16;
	snprintf(buf, n, "%012lld.%09ld.P%dR%08x", (long long)ts.tv_sec,
	         (long)ts.tv_nsec, (int)getpid(), rnd);
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t k = write(fd, p, len);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += k;
		len -= (size_t)k;
	}
	return 0;
}

/* Write the line into path (created exclusively), and fsync it when
 * sync.  With keep, the file is locked first and stays open: its fd is
 * returned; else 0. */
static int write_file(const char *path, const char *line, size_t len, int keep, int sync)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if ((keep && flock(fd, LOCK_EX | LOCK_NB) < 0)
	    || write_all(fd, line, len) < 0 || (sync && fsync(fd) < 0)) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	if (keep)
		return fd;
	return close(fd);
}

/* Write the event into tmp/NAME and rename it into sub/NAME, durably when
 * sync.  With it, the file stays open and locked in *it. */
static int store(const char *dir, const char *sub, jv event, struct bot_outbox_item *it,
                 int sync)
{
	jv line = jv_dump_string(event, 0);
	line = jv_string_append_str(line, "\n");
	char name[96], tmp[PATH_MAX], dst[PATH_MAX], rel[128];
	unique_name(name, sizeof name);
	int r = -1, fd = -1;
	snprintf(rel, sizeof rel, "tmp/%s", name);
	if (make_dirs(dir) < 0 || join(tmp, sizeof tmp, dir, rel) < 0)
		goto out;
	snprintf(rel, sizeof rel, "%s/%s", sub, name);
	if (join(dst, sizeof dst, dir, rel) < 0)
		goto out;
	fd = write_file(tmp, jv_string_value(line),
	                (size_t)jv_string_length_bytes(jv_copy(line)), it != NULL, sync);
	if (fd < 0 || rename(tmp, dst) < 0) {
		int e = errno;
		unlink(tmp);
		errno = e;
		goto out;
	}
	/* Make the rename durable too.  If that fails, take the event back
	 * out: the caller is told it was not stored, and still holds it. */
	if (sync && (join(tmp, sizeof tmp, dir, sub) < 0 || fsync_dir(tmp) < 0)) {
		int e = errno;
		unlink(dst);
		errno = e;
		goto out;
	}
	if (it) {
		snprintf(it->entry, sizeof it->entry, "%s", rel);
		it->fd = fd;
		fd = -1;
	}
	r = 0;
out:
	if (it && fd > 0) {
		int e = errno;
		close(fd);
		errno = e;
	}
	jv_free(line);
	return r;
}

int bot_outbox_put(const char *dir, jv event)
{
	return store(dir, "new", event, NULL, 1);
}

int bot_outbox_hold(const char *dir, jv event, struct bot_outbox_item *it)
{
	it->fd = -1;
	it->entry[0] = 0;
	/* No fsync: a kill leaves the page cache intact, and only an event
	 * that stays (bot_outbox_keep) needs to survive a power cut. */
	return store(dir, "cur", event, it, 0);
}

int bot_outbox_keep(const char *dir, struct bot_outbox_item *it)
{
	char path[PATH_MAX];
	int r = -1, e = EINVAL;
	if (it->fd >= 0 && join(path, sizeof path, dir, "cur") == 0) {
		r = fsync(it->fd) < 0 ? -1 : fsync_dir(path);
		e = errno;
	}
	bot_outbox_release(it);
	errno = e;
	return r;
}

/* A name we wrote: no dots first, no slashes, only [A-Za-z0-9._-]. */
static int name_ok(const char *s)
{
	if (!*s || *s == '.')
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')
		      || (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' || *s == '-'))
			return 0;
	return 1;
}

/* "new/NAME" or "cur/NAME" with a good NAME: the NAME, else NULL. */
static const char *entry_name(const char *entry)
{
	if (strncmp(entry, "new/", 4) != 0 && strncmp(entry, "cur/", 4) != 0)
		return NULL;
	return name_ok(entry + 4) ? entry + 4 : NULL;
}

/* Append "sub/NAME" for each good file name in dir/sub to arr. */
static jv list_sub(const char *dir, const char *sub, jv arr)
{
	char p[PATH_MAX];
	if (join(p, sizeof p, dir, sub) < 0) {
		jv_free(arr);
		return bot_fail("%s: path too long", sub);
	}
	DIR *d = opendir(p);
	if (!d) {
		if (errno == ENOENT)
			return arr;
		jv_free(arr);
		return bot_fail("%s: %s", sub, strerror(errno));
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		if (name_ok(de->d_name))
			arr = jv_array_append(arr, jv_string_fmt("%s/%s", sub, de->d_name));
	closedir(d);
	return arr;
}

static int by_name(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	int c = strcmp(x + 4, y + 4);
	return c ? c : strcmp(x, y);
}

/* Remove what a put killed before its rename left in tmp/, once it is
 * old enough not to be a put still under way (maildir's 36 hours). */
static void clean_tmp(const char *dir)
{
	char p[PATH_MAX], f[PATH_MAX];
	if (join(p, sizeof p, dir, "tmp") < 0)
		return;
	DIR *d = opendir(p);
	if (!d)
		return;
	time_t now = time(NULL);
	struct dirent *de;
	struct stat st;
	while ((de = readdir(d)) != NULL)
		if (name_ok(de->d_name) && join(f, sizeof f, p, de->d_name) == 0
		    && lstat(f, &st) == 0 && S_ISREG(st.st_mode) && now - st.st_mtime > 36 * 3600)
			unlink(f);
	closedir(d);
}

jv bot_outbox_list(const char *dir)
{
	clean_tmp(dir);
	jv arr = list_sub(dir, "cur", jv_array());
	if (jv_is_valid(arr))
		arr = list_sub(dir, "new", arr);
	if (!jv_is_valid(arr))
		return arr;
	int n = jv_array_length(jv_copy(arr));
	if (n < 2)
		return arr;
	/* Sort by NAME (the time of the put), whichever folder holds it.  The
	 * strings live in arr while we sort pointers to them. */
	const char **v = malloc((size_t)n * sizeof *v);
	if (!v) {
		jv_free(arr);
		return bot_fail("out of memory");
	}
	for (int i = 0; i < n; i++) {
		jv s = jv_array_get(jv_copy(arr), i);
		v[i] = jv_string_value(s);
		jv_free(s);   /* arr still holds a reference */
	}
	qsort(v, (size_t)n, sizeof *v, by_name);
	jv sorted = jv_array();
	for (int i = 0; i < n; i++)
		sorted = jv_array_append(sorted, jv_string(v[i]));
	free(v);
	jv_free(arr);
	return sorted;
}

/* Move a file that cannot be read back out of the queue into DIR/bad. */
static void quarantine(const char *dir, const char *path, const char *name)
{
	char bad[PATH_MAX], dst[PATH_MAX];
	if (join(bad, sizeof bad, dir, "bad") < 0 || mkdir_one(bad) < 0
	    || join(dst, sizeof dst, bad, name) < 0)
		return;
	rename(path, dst);
}

/* Read one event back from an open file: one JSON object and a newline. */
static jv read_event(int fd)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (len + 4096 > cap) {
			if (cap >= OUTBOX_FILE_MAX) {
				free(buf);
				return bot_fail("larger than %u bytes", OUTBOX_FILE_MAX);
			}
			cap = cap ? cap * 2 : 8192;
			char *p = realloc(buf, cap);
			if (!p) {
				free(buf);
				return bot_fail("out of memory");
			}
			buf = p;
		}
		ssize_t k = read(fd, buf + len, cap - len - 1);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			int e = errno;
			free(buf);
			return bot_fail("%s", strerror(e));
		}
		if (k == 0)
			break;
		len += (size_t)k;
	}
	jv ev = len ? jv_parse_sized(buf, (int)len) : jv_invalid();
	free(buf);
	if (!jv_is_valid(ev)) {
		jv_free(ev);
		return bot_fail("not a JSON event");
	}
	if (jv_get_kind(ev) != JV_KIND_OBJECT) {
		jv_free(ev);
		return bot_fail("not a JSON object");
	}
	return ev;
}

/* Open and lock an entry's file.  -1: skip it (gone, held by another live
 * process, or delivered by one since we listed it: then it has no name
 * left, st_nlink 0). */
static int open_locked(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct stat st;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0 || fstat(fd, &st) < 0 || st.st_nlink == 0) {
		close(fd);
		return -1;
	}
	return fd;
}

jv bot_outbox_take(const char *dir, const char *entry, struct bot_outbox_item *it)
{
	it->fd = -1;
	it->entry[0] = 0;
	const char *name = entry_name(entry);
	if (!name)
		return bot_fail("bad outbox entry name");
	char src[PATH_MAX], cur[PATH_MAX], rel[128];
	snprintf(rel, sizeof rel, "cur/%s", name);
	if (strlen(entry) >= sizeof rel || join(cur, sizeof cur, dir, rel) < 0
	    || join(src, sizeof src, dir, entry) < 0)
		return bot_fail("%s: path too long", name);
	int fd = open_locked(src);
	if (fd < 0)
		return jv_null();
	if (strncmp(entry, "new/", 4) == 0 && rename(src, cur) < 0) {
		close(fd);
		return jv_null();
	}
	jv ev = read_event(fd);
	if (!jv_is_valid(ev)) {
		char msg[256];
		bot_fail_message(ev, msg, sizeof msg);
		jv_free(ev);
		quarantine(dir, cur, name);
		close(fd);
		return bot_fail("%s: %s (moved to bad/)", name, msg);
	}
	snprintf(it->entry, sizeof it->entry, "%s", rel);
	it->fd = fd;
	return ev;
}

int bot_outbox_done(const char *dir, struct bot_outbox_item *it)
{
	const char *name = it->fd >= 0 ? entry_name(it->entry) : NULL;
	char path[PATH_MAX];
	int r = -1, e = EINVAL;
	/* No fsync of cur/: after a power cut a delivered entry may come
	 * back and be sent again (at least once), which costs less than a
	 * sync per message. */
	if (name && join(path, sizeof path, dir, it->entry) == 0) {
		r = unlink(path);
		e = errno;
	}
	bot_outbox_release(it);
	errno = e;
	return r;
}

void bot_outbox_release(struct bot_outbox_item *it)
{
	if (it->fd >= 0)
		close(it->fd);
	it->fd = -1;
}
