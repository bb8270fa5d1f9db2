/* keys.c: bot-dispatch state, the key/value store a plugin reaches from
 * any language (errbot's self['key'], a shelf per plugin):
 *
 *   bot-dispatch state get KEY [DEFAULT]
 *   bot-dispatch state set KEY [VALUE]     (no VALUE: standard input)
 *   bot-dispatch state del KEY
 *   bot-dispatch state incr KEY [N]
 *   bot-dispatch state list
 *
 * The values are files in $BOT_STATE_DIR, the plugin folder's private
 * state folder, through lib/state.c: written whole to a temporary file,
 * synced and renamed, so a reader sees the old value or the new one.
 * Writers also take a lock (flock on the folder's .lock), so that incr,
 * a read and a write, never loses a concurrent update. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "bot.h"
#include "dispatch.h"
#include "state.h"

#define STATE_USAGE "usage: bot-dispatch state get KEY [DEFAULT] | set KEY [VALUE] | " \
                    "del KEY | incr KEY [N] | list"

/* $BOT_STATE_DIR, when it is a folder of ours that no one else may write;
 * else NULL, said why. */
static const char *state_folder(void)
{
	const char *dir = getenv("BOT_STATE_DIR");
	if (!dir || *dir != '/') {
		bot_error("state: BOT_STATE_DIR is not set (bot-dispatch sets it for a plugin; "
		          "bot-dispatch -v says why it could not)");
		return NULL;
	}
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	jv err = jv_invalid();
	if (fd < 0) {
		bot_error("state: %s: %s", dir, strerror(errno));
		return NULL;
	}
	int bad = bot_fd_private(fd, dir, 0, &err);
	close(fd);
	if (bad) {
		bot_error_jv("state", err);
		return NULL;
	}
	jv_free(err);
	return dir;
}

/* The writers' lock, held until exit. */
static int lock_folder(const char *dir)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/.lock", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	while (fd >= 0 && flock(fd, LOCK_EX) < 0 && errno == EINTR)
		;
	if (fd < 0)
		bot_error("state: %s: %s", path, strerror(errno));
	return fd;
}

static int bad_key(const char *verb, const char *key)
{
	char shown[120];
	bot_error("state %s %s: not a key (1 to 200 of letters, digits, . _ -, not starting with .)",
	          verb, bot_oneline(shown, sizeof shown, key, strlen(key)));
	return BOT_EX_DATAERR;
}

static int write_out(const char *s, size_t len)
{
	if (fwrite(s, 1, len, stdout) != len || fflush(stdout) != 0) {
		bot_error("stdout: %s", strerror(errno));
		return BOT_EX_IOERR;
	}
	return BOT_EX_OK;
}

/* A value: get's, and incr's before it adds. */
static jv read_value(const char *dir, const char *key)
{
	return bot_state_get(dir, key, BOT_STATE_VALUE_MAX);
}

static int state_get(const char *dir, const char *key, const char *def)
{
	jv v = read_value(dir, key);
	int rc;
	if (!jv_is_valid(v)) {
		bot_error_jv("state get", v);
		return BOT_EX_IOERR;
	}
	if (jv_get_kind(v) == JV_KIND_NULL)
		rc = def ? write_out(def, strlen(def)) : 1;   /* never set: as grep finding nothing */
	else
		rc = write_out(jv_string_value(v), (size_t)jv_string_length_bytes(jv_copy(v)));
	jv_free(v);
	return rc;
}

static int put(const char *dir, const char *key, const char *data, size_t len)
{
	jv err = jv_invalid();
	if (bot_state_put(dir, key, data, len, &err) < 0) {
		bot_error_jv("state set", err);
		return BOT_EX_IOERR;
	}
	jv_free(err);
	return BOT_EX_OK;
}

static int state_set(const char *dir, const char *key, const char *value)
{
	if (value)
		return put(dir, key, value, strlen(value));
	size_t len;
	char *data = bot_slurp("/dev/stdin", BOT_STATE_VALUE_MAX, &len);
	if (!data) {
		bot_error("state set %s: standard input: %s (at most %u bytes)", key,
		          strerror(errno), BOT_STATE_VALUE_MAX);
		return BOT_EX_DATAERR;
	}
	int rc = put(dir, key, data, len);
	free(data);
	return rc;
}

static int parse_int(const char *s, long long *n)
{
	char *end;
	errno = 0;
	*n = strtoll(s, &end, 10);
	return end != s && !*end && !errno;
}

static int state_incr(const char *dir, const char *key, const char *by)
{
	long long step = 1, now = 0;
	if (by && !parse_int(by, &step)) {
		bot_error("state incr %s: %s is no integer", key, by);
		return BOT_EX_USAGE;
	}
	jv v = read_value(dir, key);
	if (!jv_is_valid(v)) {
		bot_error_jv("state incr", v);
		return BOT_EX_IOERR;
	}
	if (jv_get_kind(v) == JV_KIND_STRING) {
		char text[32];
		snprintf(text, sizeof text, "%s", jv_string_value(v));
		text[strcspn(text, "\n")] = 0;
		if (!parse_int(text, &now)) {
			bot_error("state incr %s: its value is no integer", key);
			jv_free(v);
			return BOT_EX_DATAERR;
		}
	}
	jv_free(v);
	if ((step > 0 && now > LLONG_MAX - step) || (step < 0 && now < LLONG_MIN - step)) {
		bot_error("state incr %s: out of range", key);
		return BOT_EX_DATAERR;
	}
	char out[32];
	int len = snprintf(out, sizeof out, "%lld\n", now + step);
	int rc = put(dir, key, out, (size_t)len - 1);
	return rc ? rc : write_out(out, (size_t)len);
}

static int by_string(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int state_list(const char *dir)
{
	DIR *dd = opendir(dir);
	if (!dd) {
		bot_error("state: %s: %s", dir, strerror(errno));
		return BOT_EX_IOERR;
	}
	char **names = NULL;
	size_t n = 0;
	for (struct dirent *e; (e = readdir(dd));)
		if (bot_state_key_ok(e->d_name)) {
			names = realloc(names, (n + 1) * sizeof *names);
			if (!names || !(names[n++] = strdup(e->d_name)))
				abort();
		}
	closedir(dd);
	qsort(names, n, sizeof *names, by_string);
	int rc = BOT_EX_OK;
	for (size_t i = 0; i < n; i++) {
		if (!rc)
			rc = write_out(names[i], strlen(names[i]));
		if (!rc)
			rc = write_out("\n", 1);
		free(names[i]);
	}
	free(names);
	return rc;
}

int bot_dispatch_state(int argc, char **argv)
{
	const char *verb = argc > 1 ? argv[1] : "";
	int want = !strcmp(verb, "list") ? 2 : 3;
	int most = !strcmp(verb, "del") || !strcmp(verb, "list") ? want : want + 1;
	if (!strcmp(verb, "--help") || !strcmp(verb, "-h")) {
		printf("%s\n", STATE_USAGE);
		return BOT_EX_OK;
	}
	if ((strcmp(verb, "get") && strcmp(verb, "set") && strcmp(verb, "del") &&
	     strcmp(verb, "incr") && strcmp(verb, "list")) || argc < want || argc > most) {
		bot_error("%s", STATE_USAGE);
		return BOT_EX_USAGE;
	}
	const char *key = argc > 2 ? argv[2] : NULL, *arg = argc > 3 ? argv[3] : NULL;
	if (key && !bot_state_key_ok(key))
		return bad_key(verb, key);
	const char *dir = state_folder();
	if (!dir)
		return BOT_EX_CONFIG;
	if (!strcmp(verb, "get"))
		return state_get(dir, key, arg);
	if (!strcmp(verb, "list"))
		return state_list(dir);
	int lock = lock_folder(dir);
	if (lock < 0)
		return BOT_EX_IOERR;
	int rc;
	if (!strcmp(verb, "set"))
		rc = state_set(dir, key, arg);
	else if (!strcmp(verb, "incr"))
		rc = state_incr(dir, key, arg);
	else {
		jv err = jv_invalid();
		rc = bot_state_del(dir, key, &err) < 0 ? BOT_EX_IOERR : BOT_EX_OK;
		if (rc)
			bot_error_jv("state del", err);
		else
			jv_free(err);
	}
	close(lock);
	return rc;
}
