/* outbox.c: a maildir-style spool of events (see outbox.h for the rules,
 * whom it trusts, and what a kill -9 at each step leaves behind). */
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
#include "state.h"

#define OUTBOX_FILE_MAX (16u << 20)   /* as BOT_LINE_MAX_DEFAULT */

enum sub { SUB_TMP, SUB_NEW, SUB_CUR, NSUB };
static const char *const sub_name[NSUB] = { "tmp", "new", "cur" };

struct bot_outbox {
	char *path;
	int dir;            /* DIR */
	int sub[NSUB];      /* DIR/tmp, DIR/new, DIR/cur */
	int bad;            /* DIR/bad, opened when first needed; -1 before */
};

/* ---- opening, and whom we trust ---- */

/* The failure for errno e at what (DIR, or DIR/sub), by its class. */
static jv open_failure(const char *what, int e)
{
	if (e == EACCES || e == EPERM)
		return bot_fail_code("denied", 0, "outbox %s: %s", what, strerror(e));
	if (e == ENOSPC || e == EDQUOT || e == EIO || e == ENOMEM || e == EMFILE || e == ENFILE)
		return bot_fail_code("outbox_failed", 1, "outbox %s: %s", what, strerror(e));
	return bot_fail_code("bad_config", 0, "outbox %s: %s", what, strerror(e));
}

/* A folder we may keep events in: a directory of ours that nobody else
 * may write (bot_fd_private, the project's one such check).  Else the
 * failure, naming it. */
static jv check_folder(int fd, const char *what)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return open_failure(what, errno);
	if (!S_ISDIR(st.st_mode))
		return bot_fail_code("bad_config", 0, "outbox %s: not a folder", what);
	char label[PATH_MAX + 32];
	snprintf(label, sizeof label, "outbox %s", what);
	jv err = jv_invalid();
	if (bot_fd_private(fd, label, 0, &err) == 0)
		return jv_true();
	if (st.st_uid == geteuid())
		return err;     /* others may write it: the message says chmod go-w */
	char why[PATH_MAX + 256];
	bot_fail_message(err, why, sizeof why);
	jv_free(err);
	return bot_fail_code("bad_config", 0, "%s; use a folder of our own", why);
}

/* Open (making it first when missing) the folder name inside dfd, never
 * through a symlink, and check it.  The fd, or -1 and *err. */
static int open_inside(int dfd, const char *dir, const char *name, jv *err)
{
	char what[PATH_MAX + 16];
	snprintf(what, sizeof what, "%s/%s", dir, name);
	if (mkdirat(dfd, name, 0700) < 0 && errno != EEXIST) {
		*err = open_failure(what, errno);
		return -1;
	}
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		struct stat st;
		if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
			*err = bot_fail_code("bad_config", 0, "outbox %s: a symlink, not a folder: refused; remove it", what);
		else
			*err = open_failure(what, e);
		return -1;
	}
	jv ok = check_folder(fd, what);
	if (!jv_is_valid(ok)) {
		close(fd);
		*err = ok;
		return -1;
	}
	return fd;
}

struct bot_outbox *bot_outbox_open(const char *dir, int create, jv *err)
{
	if (create && bot_mkdirs(dir) < 0) {
		*err = open_failure(dir, errno);
		return NULL;
	}
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		*err = e == ENOENT
		           ? bot_fail_code("no_input", 0, "outbox %s: no such folder (bot-send --outbox makes it)", dir)
		           : open_failure(dir, e);
		return NULL;
	}
	jv ok = check_folder(fd, dir);
	if (!jv_is_valid(ok)) {
		close(fd);
		*err = ok;
		return NULL;
	}
	struct bot_outbox *ob = calloc(1, sizeof *ob);
	if (!ob || !(ob->path = strdup(dir)))
		abort();
	ob->dir = fd;
	ob->bad = -1;
	for (int i = 0; i < NSUB; i++)
		ob->sub[i] = -1;
	for (int i = 0; i < NSUB; i++)
		if ((ob->sub[i] = open_inside(fd, dir, sub_name[i], err)) < 0) {
			bot_outbox_close(ob);
			return NULL;
		}
	return ob;
}

void bot_outbox_close(struct bot_outbox *ob)
{
	if (!ob)
		return;
	for (int i = 0; i < NSUB; i++)
		if (ob->sub[i] >= 0)
			close(ob->sub[i]);
	if (ob->bad >= 0)
		close(ob->bad);
	close(ob->dir);
	free(ob->path);
	free(ob);
}

const char *bot_outbox_dir(const struct bot_outbox *ob)
{
	return ob->path;
}

/* ---- writing ---- */

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

/* close() that keeps errno. */
static void close_keep_errno(int fd)
{
	int e = errno;
	close(fd);
	errno = e;
}

/* Write the line into tmp/name (created exclusively, never through a
 * symlink), fsync it when sync.  With keep, the file is locked first and
 * stays open: its fd is returned; else 0. */
static int write_file(struct bot_outbox *ob, const char *name, const char *line, size_t len,
                      int keep, int sync)
{
	int fd = openat(ob->sub[SUB_TMP], name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	                0600);
	if (fd < 0)
		return -1;
	if ((keep && flock(fd, LOCK_EX | LOCK_NB) < 0)
	    || write_all(fd, line, len) < 0 || (sync && fsync(fd) < 0)) {
		close_keep_errno(fd);
		return -1;
	}
	if (keep)
		return fd;
	return close(fd);
}

/* Write the event into tmp/NAME and rename it into sub/NAME, durably when
 * sync.  With it, the file stays open and locked in *it. */
static int store(struct bot_outbox *ob, enum sub to, jv event, struct bot_outbox_item *it,
                 int sync)
{
	jv line = jv_dump_string(event, 0);
	line = jv_string_append_str(line, "\n");
	char name[96];
	unique_name(name, sizeof name);
	int fd = write_file(ob, name, jv_string_value(line),
	                    (size_t)jv_string_length_bytes(jv_copy(line)), it != NULL, sync);
	jv_free(line);
	if (fd < 0 || renameat(ob->sub[SUB_TMP], name, ob->sub[to], name) < 0) {
		int e = errno;
		unlinkat(ob->sub[SUB_TMP], name, 0);
		if (it && fd >= 0)
			close(fd);
		errno = e;
		return -1;
	}
	/* Make the rename durable too.  If that fails, take the event back
	 * out: the caller is told it was not stored, and still holds it. */
	if (sync && fsync(ob->sub[to]) < 0) {
		int e = errno;
		unlinkat(ob->sub[to], name, 0);
		if (it)
			close(fd);
		errno = e;
		return -1;
	}
	if (it) {
		snprintf(it->entry, sizeof it->entry, "%s/%s", sub_name[to], name);
		it->fd = fd;
	}
	return 0;
}

int bot_outbox_put(struct bot_outbox *ob, jv event)
{
	return store(ob, SUB_NEW, event, NULL, 1);
}

int bot_outbox_hold(struct bot_outbox *ob, jv event, struct bot_outbox_item *it)
{
	it->fd = -1;
	it->entry[0] = 0;
	/* No fsync: a kill leaves the page cache intact, and only an event
	 * that stays (bot_outbox_keep) needs to survive a power cut. */
	return store(ob, SUB_CUR, event, it, 0);
}

int bot_outbox_keep(struct bot_outbox *ob, struct bot_outbox_item *it)
{
	int r = -1, e = EINVAL;
	if (it->fd >= 0) {
		r = fsync(it->fd) < 0 || fsync(ob->sub[SUB_CUR]) < 0 ? -1 : 0;
		e = errno;
	}
	bot_outbox_release(it);
	errno = e;
	return r;
}

/* ---- listing ---- */

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

/* "new/NAME" or "cur/NAME" with a good NAME: the NAME (and *sub), else
 * NULL. */
static const char *entry_name(const char *entry, enum sub *sub)
{
	if (strncmp(entry, "new/", 4) == 0)
		*sub = SUB_NEW;
	else if (strncmp(entry, "cur/", 4) == 0)
		*sub = SUB_CUR;
	else
		return NULL;
	return name_ok(entry + 4) && strlen(entry) < sizeof ((struct bot_outbox_item *)0)->entry
	           ? entry + 4 : NULL;
}

/* A stream over the folder fd (which stays ours), or NULL. */
static DIR *open_listing(int fd)
{
	int d = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dp = d >= 0 ? fdopendir(d) : NULL;
	if (d >= 0 && !dp)
		close_keep_errno(d);
	return dp;
}

/* Append "sub/NAME" for each good name in sub/ to arr. */
static jv list_sub(struct bot_outbox *ob, enum sub sub, jv arr)
{
	DIR *d = open_listing(ob->sub[sub]);
	if (!d) {
		jv_free(arr);
		return bot_fail("%s: %s", sub_name[sub], strerror(errno));
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		if (name_ok(de->d_name))
			arr = jv_array_append(arr, jv_string_fmt("%s/%s", sub_name[sub], de->d_name));
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
static void clean_tmp(struct bot_outbox *ob)
{
	int tmp = ob->sub[SUB_TMP];
	DIR *d = open_listing(tmp);
	if (!d)
		return;
	time_t now = time(NULL);
	struct dirent *de;
	struct stat st;
	while ((de = readdir(d)) != NULL)
		if (name_ok(de->d_name) && fstatat(tmp, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0
		    && S_ISREG(st.st_mode) && now - st.st_mtime > 36 * 3600)
			unlinkat(tmp, de->d_name, 0);
	closedir(d);
}

jv bot_outbox_list(struct bot_outbox *ob)
{
	clean_tmp(ob);
	jv arr = list_sub(ob, SUB_CUR, jv_array());
	if (jv_is_valid(arr))
		arr = list_sub(ob, SUB_NEW, arr);
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

/* ---- taking ---- */

/* Move sub/name out of the queue into bad/ (made when first needed). */
static void quarantine(struct bot_outbox *ob, enum sub sub, const char *name)
{
	if (ob->bad < 0) {
		jv err = jv_invalid();
		ob->bad = open_inside(ob->dir, ob->path, "bad", &err);
		jv_free(err);
		if (ob->bad < 0)
			return;
	}
	renameat(ob->sub[sub], name, ob->bad, name);
}

/* Read one event back from an open file: one JSON object and a newline. */
static jv read_event(int fd, off_t size)
{
	if (size > (off_t)OUTBOX_FILE_MAX)
		return bot_fail("larger than %u bytes", OUTBOX_FILE_MAX);
	size_t cap = (size_t)size + 1, len = 0;
	char *buf = malloc(cap);
	if (!buf)
		return bot_fail("out of memory");
	while (len < cap) {
		ssize_t k = read(fd, buf + len, cap - len);
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
	if (len == cap) {
		free(buf);
		return bot_fail("grew while it was read");
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

/* Why an entry's file is not one we may read (NULL when it is): a
 * regular file of ours with this one name. */
static const char *untrusted(const struct stat *st)
{
	if (S_ISLNK(st->st_mode))
		return "a symlink";
	if (!S_ISREG(st->st_mode))
		return "not a regular file";
	if (st->st_uid != geteuid())
		return "not our file";
	if (st->st_nlink > 1)
		return "a hard link";
	return NULL;
}

/* Open and lock sub/name.  -1: skip it (gone, held by another live
 * process, or delivered by one since we listed it: then it has no name
 * left, st_nlink 0).  -2: not a file we read (*why says what it is). */
static int open_locked(struct bot_outbox *ob, enum sub sub, const char *name, struct stat *st,
                       const char **why)
{
	struct stat pre;
	if (fstatat(ob->sub[sub], name, &pre, AT_SYMLINK_NOFOLLOW) < 0)
		return -1;
	if ((*why = untrusted(&pre)) != NULL)
		return -2;
	/* O_NOFOLLOW and O_NONBLOCK: should it have been swapped since, for
	 * a symlink or a FIFO, the open fails or returns at once, and the
	 * checks below see it. */
	int fd = openat(ob->sub[sub], name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		*why = "a symlink";
		return errno == ELOOP ? -2 : -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0 || fstat(fd, st) < 0 || st->st_nlink == 0) {
		close(fd);
		return -1;
	}
	if ((*why = untrusted(st)) != NULL || st->st_ino != pre.st_ino || st->st_dev != pre.st_dev) {
		if (!*why)
			*why = "replaced while it was opened";
		close(fd);
		return -2;
	}
	return fd;
}

jv bot_outbox_take(struct bot_outbox *ob, const char *entry, struct bot_outbox_item *it)
{
	it->fd = -1;
	it->entry[0] = 0;
	enum sub sub;
	const char *name = entry_name(entry, &sub);
	if (!name)
		return bot_fail("bad outbox entry name");
	struct stat st;
	const char *why = NULL;
	int fd = open_locked(ob, sub, name, &st, &why);
	if (fd == -2) {
		quarantine(ob, sub, name);
		return bot_fail("%s: %s, not read (moved to bad/)", name, why);
	}
	if (fd < 0)
		return jv_null();
	if (sub == SUB_NEW && renameat(ob->sub[SUB_NEW], name, ob->sub[SUB_CUR], name) < 0) {
		close(fd);
		return jv_null();
	}
	jv ev = read_event(fd, st.st_size);
	if (!jv_is_valid(ev)) {
		char msg[256];
		bot_fail_message(ev, msg, sizeof msg);
		jv_free(ev);
		quarantine(ob, SUB_CUR, name);
		close(fd);
		return bot_fail("%s: %s (moved to bad/)", name, msg);
	}
	snprintf(it->entry, sizeof it->entry, "cur/%s", name);
	it->fd = fd;
	return ev;
}

int bot_outbox_done(struct bot_outbox *ob, struct bot_outbox_item *it)
{
	enum sub sub;
	const char *name = it->fd >= 0 ? entry_name(it->entry, &sub) : NULL;
	int r = -1, e = EINVAL;
	/* No fsync of cur/: after a power cut a delivered entry may come
	 * back and be sent again (at least once), which costs less than a
	 * sync per message. */
	if (name && sub == SUB_CUR) {
		r = unlinkat(ob->sub[SUB_CUR], name, 0);
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
