/* folders.c: what a plugin folder gives its commands besides the files:
 * its private state folder (BOT_STATE_DIR) and its settings file
 * (FOLDER.conf, as BOT_CONFIG_* variables).  Used by dispatch.c when it
 * builds a command's environment. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bot.h"
#include "dispatch_priv.h"
#include "state.h"

#define CONFIG_VARS_MAX 100
#define CONFIG_MAX (64u << 10)

/* The folder (its index in d->dirs) a plugin file is in, -1 none. */
int dispatch_folder_of(const struct dispatch *d, const char *path)
{
	int found = -1;
	jv_array_foreach(d->dirs, i, dir) {
		size_t dl = (size_t)jv_string_length_bytes(jv_copy(dir));
		if (found < 0 && !strncmp(path, jv_string_value(dir), dl) && path[dl] == '/')
			found = i;
		jv_free(dir);
	}
	return found;
}

/* --replay and --test: the state folders live in a fresh folder, removed
 * at the end, so that a replay or a transcript finds no state of an
 * earlier run.  0, or -1 + *err. */
static int replay_state_dir(struct dispatch *d, const char *name, char *buf, size_t n, jv *err)
{
	if (!d->replay_state) {
		const char *tmp = getenv("TMPDIR");
		char path[PATH_MAX];
		snprintf(path, sizeof path, "%s/bot-dispatch-state.XXXXXX",
		         tmp && *tmp == '/' ? tmp : "/tmp");
		if (!mkdtemp(path)) {
			*err = bot_fail("%s: %s", path, strerror(errno));
			return -1;
		}
		d->replay_state = strdup(path);
	}
	snprintf(buf, n, "%s/%s", d->replay_state, name);
	if (mkdir(buf, 0700) < 0 && errno != EEXIST) {
		*err = bot_fail("%s: %s", buf, strerror(errno));
		return -1;
	}
	return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	remove(path);
	return 0;
}

/* A folder's private state folder, $XDG_STATE_HOME/botpipe/plugin-NAME-HASH
 * (HASH of its real path: two folders named alike never share one), made
 * 0700 the first time a plugin of it runs.  NULL when it cannot be. */
const char *dispatch_state_dir(struct dispatch *d, int i)
{
	jv have = jv_array_get(jv_copy(d->state_dirs), i);
	if (jv_get_kind(have) == JV_KIND_STRING) {
		const char *s = jv_string_value(have);   /* the array keeps it */
		jv_free(have);
		return *s ? s : NULL;
	}
	jv_free(have);
	jv dir = jv_array_get(jv_copy(d->dirs), i);
	const char *ds = jv_string_value(dir);
	unsigned long long h = 1469598103934665603ULL;   /* FNV-1a */
	for (const char *p = ds; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	char name[160], buf[PATH_MAX];
	const char *base = strrchr(ds, '/') ? strrchr(ds, '/') + 1 : ds;
	int k = snprintf(name, sizeof name, "plugin-%.100s", base);
	for (int c = 7; c < k; c++)
		if (!isalnum((unsigned char)name[c]) && name[c] != '_' && name[c] != '-' && name[c] != '.')
			name[c] = '_';
	snprintf(name + k, sizeof name - (size_t)k, "-%016llx", h);
	jv err = jv_invalid();
	jv made = jv_string("");
	if ((d->replay ? replay_state_dir(d, name, buf, sizeof buf, &err)
	               : bot_state_dir(name, buf, sizeof buf, &err)) < 0) {
		/* said where it matters, by bot-dispatch state; here with -v */
		char msg[PATH_MAX + 200];
		bot_debug("%s: no BOT_STATE_DIR: %s", ds, bot_fail_message(err, msg, sizeof msg));
	} else {
		jv_free(made);
		made = jv_string(buf);
	}
	jv_free(err);
	jv_free(dir);
	d->state_dirs = jv_array_set(d->state_dirs, i, made);
	jv got = jv_array_get(jv_copy(d->state_dirs), i);
	const char *s = jv_string_value(got);
	jv_free(got);
	return *s ? s : NULL;
}

/* BOT_CONFIG_NAME for each "NAME=value" line of FOLDER.conf, the file
 * beside the folder (held to the folder's rule: ours, written by no one
 * else).  Blank lines and "#" lines are skipped. */
void dispatch_push_config(struct dispatch *d, int i, char **env, int *n)
{
	jv dir = jv_array_get(jv_copy(d->dirs), i);
	char path[PATH_MAX + 8], why[PATH_MAX + 300];
	snprintf(path, sizeof path, "%s.conf", jv_string_value(dir));
	jv_free(dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return;
	jv err = jv_invalid();
	if (bot_fd_private(fd, path, 1, &err) < 0) {
		char msg[PATH_MAX + 200];
		snprintf(why, sizeof why, "%s", bot_fail_message(err, msg, sizeof msg));
		dispatch_tell_once(d, why, 1);
		jv_free(err);
		close(fd);
		return;
	}
	jv_free(err);
	char *text = malloc(CONFIG_MAX + 1);
	if (!text)
		abort();
	ssize_t len = read(fd, text, CONFIG_MAX);
	close(fd);
	text[len > 0 ? len : 0] = 0;
	int line = 0, vars = 0;
	for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		line++;
		l += strspn(l, " \t");
		if (!*l || *l == '#')
			continue;
		size_t klen = strcspn(l, "= \t");
		char *eq = strchr(l, '=');
		char var[128];
		int ok = eq && klen && klen < 64 && isalpha((unsigned char)*l) && vars < CONFIG_VARS_MAX;
		for (size_t c = 0; ok && c < klen; c++)
			ok = isalnum((unsigned char)l[c]) || l[c] == '_' || l[c] == '-';
		if (!ok) {
			snprintf(why, sizeof why, "%s:%d: not NAME=value (NAME: a letter, then letters, "
			         "digits, _ or -; at most %d)", path, line, CONFIG_VARS_MAX);
			dispatch_tell_once(d, why, 0);
			continue;
		}
		int vl = snprintf(var, sizeof var, "BOT_CONFIG_");
		for (size_t c = 0; c < klen; c++)
			var[vl++] = l[c] == '-' ? '_' : (char)toupper((unsigned char)l[c]);
		var[vl] = 0;
		char *v = eq + 1;
		v += strspn(v, " \t");
		size_t e = strlen(v);
		while (e && (v[e - 1] == ' ' || v[e - 1] == '\t' || v[e - 1] == '\r'))
			v[--e] = 0;
		dispatch_push_env(env, n, var, v);
		vars++;
	}
	free(text);
}

void dispatch_state_cleanup(struct dispatch *d)
{
	if (d->replay_state)
		nftw(d->replay_state, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	free(d->replay_state);
	d->replay_state = NULL;
}
