/* config.c: settings from flags, then BOT_* variables, then the config
 * file, then defaults, all driven by one option table per program (plus
 * the chosen backend's).  A config key is a long option name (curl's
 * rule); a secret never comes from the command line. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "state.h"

/* Options every program has. */
static const struct bot_option common_opts[] = {
	{ "config", 'c', BOT_OPT_STR, "FILE", NULL, "read settings from FILE (default: $XDG_CONFIG_HOME/botpipe/config)" },
	{ "profile", 0, BOT_OPT_STR, "NAME", NULL, "use the [NAME] section of the config file" },
	{ "verbose", 'v', BOT_OPT_FLAG, NULL, NULL, "say more on stderr" },
	{ "quiet", 'q', BOT_OPT_FLAG, NULL, NULL, "say only errors on stderr" },
	{ "help", 'h', BOT_OPT_FLAG, NULL, NULL, "show this help and exit" },
	{ "version", 'V', BOT_OPT_FLAG, NULL, NULL, "show the version and exit" },
	BOT_OPTIONS_END
};

#define NTABLES 3
/* Backend instances one program serves at most (-b given this often). */
#define MAX_INSTANCES 16

struct parse {
	struct bot_config *cfg;
	const struct bot_option *tables[NTABLES];
	/* the other instances' backends: their options are read from the
	 * command line and left to those instances */
	const struct bot_option *skip[MAX_INSTANCES];
	const struct bot_backend *const *builtin;
	jv file;        /* key -> array of raw values, from the config file */
	jv lines;       /* every key in the file, any section -> its first line */
	unsigned mode;  /* the config file's permission bits */
	jv set;         /* names given on the command line */
	const char *profile;   /* an instance's @PROFILE, or NULL */
	int section_seen;      /* the file has a [profile] section */
};

/* BOT_NAME_WITH_UNDERSCORES for "name-with-underscores". */
static void env_name(char *buf, size_t n, const char *name, const char *suffix)
{
	size_t o = (size_t)snprintf(buf, n, "BOT_");
	for (const char *p = name; *p && o + 1 < n; p++)
		buf[o++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
	buf[o] = 0;
	if (suffix)
		snprintf(buf + o, n - o, "%s", suffix);
}

/* An option by long name in our tables; else, with *foreign set, in
 * another instance's backend's. */
static const struct bot_option *find_long(struct parse *ps, const char *name, size_t len,
                                          int *foreign)
{
	*foreign = 0;
	for (int t = 0; t < NTABLES; t++)
		for (const struct bot_option *o = ps->tables[t]; o && o->name; o++)
			if (strlen(o->name) == len && !strncmp(o->name, name, len))
				return o;
	for (int t = 0; t < MAX_INSTANCES && ps->skip[t]; t++)
		for (const struct bot_option *o = ps->skip[t]; o->name; o++)
			if (strlen(o->name) == len && !strncmp(o->name, name, len)) {
				*foreign = 1;
				return o;
			}
	return NULL;
}

/* Short options belong to the programs, never to a backend. */
static const struct bot_option *find_short(struct parse *ps, char c)
{
	for (int t = 0; t < NTABLES; t++)
		for (const struct bot_option *o = ps->tables[t]; o && o->name; o++)
			if (o->shortopt == c)
				return o;
	return NULL;
}

/* Store one value for an option.  Returns 0, or -1 with *err. */
static int store(struct parse *ps, const struct bot_option *o, const char *val,
                 const char *origin, jv *err)
{
	jv *values = &ps->cfg->values;
	jv v;
	switch (BOT_OPT_KIND(o->type)) {
	case BOT_OPT_FLAG:
		if (!val || !strcmp(val, "1") || !strcasecmp(val, "true") ||
		    !strcasecmp(val, "yes") || !strcasecmp(val, "on"))
			v = jv_true();
		else if (!strcmp(val, "0") || !strcasecmp(val, "false") ||
		         !strcasecmp(val, "no") || !strcasecmp(val, "off"))
			v = jv_false();
		else {
			*err = bot_fail("%s: --%s: expected true or false, got '%s'", origin, o->name, val);
			return -1;
		}
		break;
	case BOT_OPT_INT: {
		char *end;
		errno = 0;
		long n = strtol(val, &end, 10);
		if (errno || end == val || *end) {
			*err = bot_fail("%s: --%s: expected a whole number, got '%s'", origin, o->name, val);
			return -1;
		}
		/* Every number setting is a count, a size or seconds: a negative
		 * one would turn into a huge size_t, a huge one overflow an int. */
		if (n < 0 || n > INT_MAX) {
			*err = bot_fail("%s: --%s: expected a whole number from 0 to %d, got '%s'",
			                origin, o->name, INT_MAX, val);
			return -1;
		}
		v = jv_number((double)n);
		break;
	}
	case BOT_OPT_LIST: {
		jv old = jv_object_get(jv_copy(*values), jv_string(o->name));
		if (jv_get_kind(old) != JV_KIND_ARRAY) {
			jv_free(old);
			old = jv_array();
		}
		v = jv_array_append(old, jv_string(val));
		break;
	}
	case BOT_OPT_SECRET:
		bot_secret_add(val);   /* masked wherever text is shown from now on */
		v = jv_string(val);
		break;
	default:
		v = jv_string(val);
	}
	*values = jv_object_set(*values, jv_string(o->name), v);
	return 0;
}

static int needs_arg(const struct bot_option *o) { return BOT_OPT_KIND(o->type) != BOT_OPT_FLAG; }

static int refuse_secret(const struct bot_option *o, jv *err)
{
	char env[128];
	env_name(env, sizeof env, o->name, NULL);
	*err = bot_fail("--%s is a secret and is never read from the command line: set %s or %s_FILE",
	                o->name, env, env);
	return -1;
}

/* One "--name[=value]" argument; may consume the next argv entry. */
static int parse_long(struct parse *ps, int argc, char **argv, int *i, jv *err)
{
	const char *arg = argv[*i] + 2, *eq = strchr(arg, '=');
	size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
	int foreign;
	const struct bot_option *o = find_long(ps, arg, len, &foreign);
	int negate = 0;
	if (!o && len > 3 && !strncmp(arg, "no-", 3)) {
		o = find_long(ps, arg + 3, len - 3, &foreign);
		negate = o && BOT_OPT_KIND(o->type) == BOT_OPT_FLAG;
		if (!negate)
			o = NULL;
	}
	if (!o) {
		*err = bot_fail("unknown option --%.*s (see --help)", (int)len, arg);
		return -1;
	}
	if (BOT_OPT_KIND(o->type) == BOT_OPT_SECRET)
		return refuse_secret(o, err);
	const char *val = NULL;
	if (needs_arg(o)) {
		if (eq)
			val = eq + 1;
		else if (*i + 1 < argc)
			val = argv[++*i];
		else {
			*err = bot_fail("option --%s needs %s", o->name, o->metavar ? o->metavar : "a value");
			return -1;
		}
	} else if (eq) {
		*err = bot_fail("option --%s takes no value", o->name);
		return -1;
	}
	if (foreign)
		return 0;   /* another instance's */
	ps->set = jv_object_set(ps->set, jv_string(o->name), jv_true());
	return store(ps, o, negate ? "false" : val, "command line", err);
}

/* "-abc" or "-xVALUE" or "-x VALUE". */
static int parse_short(struct parse *ps, int argc, char **argv, int *i, jv *err)
{
	for (const char *p = argv[*i] + 1; *p; p++) {
		const struct bot_option *o = find_short(ps, *p);
		if (!o) {
			*err = bot_fail("unknown option -%c (see --help)", *p);
			return -1;
		}
		if (BOT_OPT_KIND(o->type) == BOT_OPT_SECRET)
			return refuse_secret(o, err);
		const char *val = NULL;
		if (needs_arg(o)) {
			if (p[1])
				val = p + 1;
			else if (*i + 1 < argc)
				val = argv[++*i];
			else {
				*err = bot_fail("option -%c needs %s", *p, o->metavar ? o->metavar : "a value");
				return -1;
			}
		}
		ps->set = jv_object_set(ps->set, jv_string(o->name), jv_true());
		if (store(ps, o, val, "command line", err) < 0)
			return -1;
		if (val)
			break;
	}
	return 0;
}

static int parse_argv(struct parse *ps, int argc, char **argv, jv *err)
{
	int dashdash = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int rc = 0;
		if (dashdash || a[0] != '-' || !a[1])
			ps->cfg->operands = jv_array_append(ps->cfg->operands, jv_string(a));
		else if (!strcmp(a, "--"))
			dashdash = 1;
		else if (a[1] == '-')
			rc = parse_long(ps, argc, argv, &i, err);
		else
			rc = parse_short(ps, argc, argv, &i, err);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* ---- the config file ---- */

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

/* A NUL would end the text early and the rest be ignored silently;
 * invalid UTF-8 would become U+FFFD in a value.  Refuse both, naming the
 * line. */
static int check_text(const char *path, const char *text, size_t len, jv *err)
{
	const char *p = text, *end = text + len;
	for (int line = 1; p < end; line++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		int nul = memchr(p, 0, n) != NULL;
		if (nul || !bot_utf8_valid(p, n)) {
			*err = bot_fail("%s:%d: %s", path, line, nul ? "a NUL byte" : "not UTF-8");
			return -1;
		}
		p += n + 1;
	}
	return 0;
}

/* A config file says which plugins run and where the password goes: one
 * that another user could have written is refused, as ssh refuses such a
 * key file.  The file and its folder (after symbolic links) must be ours
 * or root's and writable by no one else; a sticky folder such as /tmp
 * excepted, where no one else may replace a file of ours.  0 and the
 * file's mode, 1 when the file is missing (errno kept), -1 with *err. */
static int check_config_file(const char *path, unsigned *mode, jv *err)
{
	char *real = realpath(path, NULL);
	int fd = real ? open(real, O_RDONLY | O_CLOEXEC) : -1;
	if (fd < 0) {
		free(real);
		return 1;
	}
	struct stat st;
	int rc = fstat(fd, &st) == 0 ? bot_fd_private(fd, path, 1, err) : 1;
	close(fd);
	*mode = (unsigned)st.st_mode;
	char *slash = strrchr(real, '/');
	if (rc == 0 && slash) {
		*(slash == real ? slash + 1 : slash) = 0;
		char what[4200];
		snprintf(what, sizeof what, "%s: its folder %s", path, real);
		int dfd = open(real, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		struct stat dst;
		if (dfd >= 0 && fstat(dfd, &dst) == 0 && !(dst.st_mode & S_ISVTX))
			rc = bot_fd_private(dfd, what, 1, err);
		if (dfd >= 0)
			close(dfd);
	}
	free(real);
	return rc;
}

/* Parse "key = value", "key value" or "key"; [section] picks a profile.
 * Keys before any section apply to all profiles; the chosen profile's
 * keys come after them and so win. */
static int read_config(struct parse *ps, const char *path, const char *profile,
                       int must_exist, jv *err)
{
	size_t len;
	int perm = check_config_file(path, &ps->mode, err);
	if (perm < 0)
		return -1;
	char *text = perm == 0 ? bot_slurp(path, 1 << 20, &len) : NULL;
	if (!text) {
		if (!must_exist && errno == ENOENT)
			return 0;
		*err = bot_fail("%s: %s", path, strerror(errno));
		return -1;
	}
	ps->cfg->file = strdup(path);
	if (check_text(path, text, len, err) < 0) {
		free(text);
		return -1;
	}
	jv global = jv_object(), chosen = jv_object();
	const char *section = NULL;
	int lineno = 0, rc = 0;
	for (char *line = text, *next; line && rc == 0; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		lineno++;
		char *s = trim(line);
		if (!*s || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *close = strchr(s, ']');
			if (!close || close[1] || close == s + 1) {
				*err = bot_fail("%s:%d: a section header is [NAME]", path, lineno);
				rc = -1;
				break;
			}
			*close = 0;
			section = s + 1;
			ps->section_seen |= profile && !strcmp(section, profile);
			continue;
		}
		size_t klen = strcspn(s, " \t=");
		char *val = s + klen;
		if (*val)
			*val++ = 0;
		val = trim(val);
		if (*val == '=')
			val = trim(val + 1);
		size_t vlen = strlen(val);
		if (vlen >= 2 && ((val[0] == '"' && val[vlen - 1] == '"') ||
		                  (val[0] == '\'' && val[vlen - 1] == '\''))) {
			val[vlen - 1] = 0;
			val++;
		}
		for (char *k = s; *k; k++)
			if (!(isalnum((unsigned char)*k) || *k == '-')) {
				*err = bot_fail("%s:%d: '%s' is not a setting name (letters, digits and -)", path, lineno, s);
				rc = -1;
				break;
			}
		if (rc)
			break;
		if (!jv_object_has(jv_copy(ps->lines), jv_string(s)))
			ps->lines = jv_object_set(ps->lines, jv_string(s), jv_number(lineno));
		jv *dst = !section ? &global : (profile && !strcmp(section, profile)) ? &chosen : NULL;
		if (!dst)
			continue;
		jv old = jv_object_get(jv_copy(*dst), jv_string(s));
		if (jv_get_kind(old) != JV_KIND_ARRAY) {
			jv_free(old);
			old = jv_array();
		}
		*dst = jv_object_set(*dst, jv_string(s), jv_array_append(old, jv_string(val)));
	}
	free(text);
	jv_object_foreach(chosen, k, v)
		global = jv_object_set(global, k, v);
	jv_free(chosen);
	jv_free(ps->file);
	ps->file = global;
	return rc;
}

static const char *prescan(int argc, char **argv, const char *lng, char shrt)
{
	size_t n = strlen(lng);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--"))
			break;
		if (a[0] == '-' && a[1] == '-' && !strncmp(a + 2, lng, n)) {
			if (a[2 + n] == '=')
				return a + 3 + n;
			if (!a[2 + n] && i + 1 < argc)
				return argv[i + 1];
		}
		if (shrt && a[0] == '-' && a[1] == shrt)
			return a[2] ? a + 2 : (i + 1 < argc ? argv[i + 1] : NULL);
	}
	return NULL;
}

static int load_file(struct parse *ps, int argc, char **argv, jv *err)
{
	const char *path = prescan(argc, argv, "config", 'c');
	const char *profile = ps->profile ? ps->profile : prescan(argc, argv, "profile", 0);
	if (!profile)
		profile = getenv("BOT_PROFILE");
	if (!path)
		path = getenv("BOT_CONFIG");
	if (path)
		return read_config(ps, path, profile, 1, err);
	char buf[4096];
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	if (xdg && *xdg)
		snprintf(buf, sizeof buf, "%s/botpipe/config", xdg);
	else if (home && *home)
		snprintf(buf, sizeof buf, "%s/.config/botpipe/config", home);
	else
		return 0;
	return read_config(ps, buf, profile, 0, err);
}

/* ---- defaults, environment, file ---- */

static char *read_secret_file(const char *path, jv *err, const char *what)
{
	size_t len;
	char *s = bot_slurp(path, 1 << 16, &len);
	if (!s) {
		*err = bot_fail("%s: %s: %s", what, path, strerror(errno));
		return NULL;
	}
	while (len && (s[len - 1] == '\n' || s[len - 1] == '\r'))
		s[--len] = 0;
	return s;
}

/* Fill one option that the command line did not set. */
static int fill_option(struct parse *ps, const struct bot_option *o, jv *err)
{
	char env[160], envfile[170];
	env_name(env, sizeof env, o->name, NULL);
	env_name(envfile, sizeof envfile, o->name, "_FILE");
	const char *ev = getenv(env);
	if (ev && BOT_OPT_KIND(o->type) == BOT_OPT_LIST) {
		char *copy = strdup(ev), *save = NULL;
		for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
			if (store(ps, o, t, env, err) < 0) {
				free(copy);
				return -1;
			}
		free(copy);
		return 0;
	}
	if (ev)
		return store(ps, o, ev, env, err);
	if (BOT_OPT_KIND(o->type) == BOT_OPT_SECRET && getenv(envfile)) {
		char *s = read_secret_file(getenv(envfile), err, envfile);
		if (!s)
			return -1;
		int rc = store(ps, o, s, envfile, err);
		explicit_bzero(s, strlen(s));
		free(s);
		return rc;
	}
	jv fv = jv_object_get(jv_copy(ps->file), jv_string(o->name));
	if (jv_get_kind(fv) == JV_KIND_ARRAY) {
		char where[4200];
		snprintf(where, sizeof where, "%s", ps->cfg->file ? ps->cfg->file : "config");
		int rc = 0;
		int n = jv_array_length(jv_copy(fv));
		for (int i = (BOT_OPT_KIND(o->type) == BOT_OPT_LIST ? 0 : n - 1); i < n && rc == 0; i++) {
			jv x = jv_array_get(jv_copy(fv), i);
			rc = store(ps, o, jv_string_value(x), where, err);
			jv_free(x);
		}
		jv_free(fv);
		return rc;
	}
	jv_free(fv);
	if (BOT_OPT_KIND(o->type) == BOT_OPT_SECRET) {
		char key[160];
		snprintf(key, sizeof key, "%s-file", o->name);
		jv ff = jv_object_get(jv_copy(ps->file), jv_string(key));
		if (jv_get_kind(ff) == JV_KIND_ARRAY) {
			jv last = jv_array_get(jv_copy(ff), jv_array_length(jv_copy(ff)) - 1);
			char *s = read_secret_file(jv_string_value(last), err, key);
			jv_free(last);
			jv_free(ff);
			if (!s)
				return -1;
			int rc = store(ps, o, s, key, err);
			explicit_bzero(s, strlen(s));
			free(s);
			return rc;
		}
		jv_free(ff);
	}
	if (o->def)
		return store(ps, o, o->def, "default", err);
	return 0;
}

static int fill_rest(struct parse *ps, jv *err)
{
	for (int t = 0; t < NTABLES; t++)
		for (const struct bot_option *o = ps->tables[t]; o && o->name; o++) {
			if (jv_object_has(jv_copy(ps->set), jv_string(o->name)))
				continue;
			if (fill_option(ps, o, err) < 0)
				return -1;
		}
	return 0;
}

/* ---- what the file holds that no one reads ---- */

static const struct bot_option *in_table(const struct bot_option *t, const char *key)
{
	for (const struct bot_option *o = t; o && o->name; o++)
		if (!strcmp(o->name, key))
			return o;
	return NULL;
}

/* The option a config key sets in one table: NAME, or NAME-file for a
 * secret. */
static const struct bot_option *key_in(const struct bot_option *t, const char *key)
{
	const struct bot_option *o = in_table(t, key);
	size_t n = strlen(key);
	if (!o && n > 5 && !strcmp(key + n - 5, "-file")) {
		char name[256];
		snprintf(name, sizeof name, "%.*s", (int)(n - 5), key);
		o = in_table(t, name);
		if (o && BOT_OPT_KIND(o->type) != BOT_OPT_SECRET)
			o = NULL;
	}
	return o;
}

/* 1 when some program or backend reads key.  The programs' tables and
 * the chosen backend's are at hand; a key of another backend is left to
 * the programs that use it when its prefix names one ("webhook-url"):
 * nothing is loaded for that.  Only a key that fits none of these has
 * every backend loaded to look (a third party's may name its settings
 * otherwise), and then it is most likely a typo. */
static int key_known(struct parse *ps, const char *key)
{
	if (key_in(common_opts, key) || key_in(ps->tables[2], key))
		return 1;
	for (const struct bot_option *const *t = bot_program_options; *t; t++)
		if (key_in(*t, key))
			return 1;
	char prefix[80];
	snprintf(prefix, sizeof prefix, "%.*s", (int)strcspn(key, "-"), key);
	const char *chosen = ps->cfg->backend ? ps->cfg->backend->name : NULL;
	if (key[strlen(prefix)] == '-' && (!chosen || strcmp(prefix, chosen)) &&
	    bot_backend_exists(prefix, ps->builtin))
		return 1;
	int found = 0;
	jv names = bot_backend_list(ps->builtin);
	jv_array_foreach(names, i, name) {
		jv err = jv_invalid();
		const struct bot_backend *b = found ? NULL : bot_backend_find(jv_string_value(name), ps->builtin, &err);
		found |= b && key_in(b->options, key);
		jv_free(err);
		jv_free(name);
		(void)i;
	}
	jv_free(names);
	return found;
}

/* Warn, once each, about a key that nothing reads (a typo would
 * otherwise leave the default in force silently), and about a secret in
 * a file that others can read. */
static void check_keys(struct parse *ps)
{
	const char *path = ps->cfg->file;
	int told_secret = 0;
	jv_object_foreach(ps->lines, key, line) {
		const char *k = jv_string_value(key);
		int at = (int)jv_number_value(line);
		if (!key_known(ps, k))
			bot_warn("%s:%d: unknown key '%s'", path, at, k);
		const struct bot_option *o = in_table(ps->tables[1], k);
		if (!o)
			o = in_table(ps->tables[2], k);
		if (o && BOT_OPT_KIND(o->type) == BOT_OPT_SECRET && (ps->mode & 044) && !told_secret++)
			bot_warn("%s:%d: '%s' is a secret and others can read this file (mode %04o): chmod go-r %s",
			         path, at, k, ps->mode & 07777, path);
		jv_free(key);
		jv_free(line);
	}
}

/* ---- backend choice ---- */

static int has_backend_option(const struct bot_option *opts)
{
	for (const struct bot_option *o = opts; o && o->name; o++)
		if (!strcmp(o->name, "backend"))
			return 1;
	return 0;
}

/* Every value of a repeatable option on the command line, in order. */
static jv prescan_all(int argc, char **argv, const char *lng, char shrt)
{
	jv all = jv_array();
	size_t n = strlen(lng);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = NULL;
		if (!strcmp(a, "--"))
			break;
		if (a[0] == '-' && a[1] == '-' && !strncmp(a + 2, lng, n)) {
			if (a[2 + n] == '=')
				val = a + 3 + n;
			else if (!a[2 + n] && i + 1 < argc)
				val = argv[++i];
		} else if (shrt && a[0] == '-' && a[1] == shrt)
			val = a[2] ? a + 2 : (i + 1 < argc ? argv[++i] : NULL);
		if (val)
			all = jv_array_append(all, jv_string(val));
	}
	return all;
}

/* The instances named: each -b on the command line; else BOT_BACKEND,
 * comma-separated; else the file's backend keys.  Maybe empty. */
static jv named_instances(struct parse *ps, int argc, char **argv)
{
	jv names = prescan_all(argc, argv, "backend", 'b');
	const char *env = getenv("BOT_BACKEND");
	if (jv_array_length(jv_copy(names)) == 0 && env && *env) {
		char *copy = strdup(env), *save = NULL;
		if (!copy)
			abort();
		for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
			names = jv_array_append(names, jv_string(t));
		free(copy);
	}
	if (jv_array_length(jv_copy(names)) == 0) {
		jv fv = jv_object_get(jv_copy(ps->file), jv_string("backend"));
		if (jv_get_kind(fv) == JV_KIND_ARRAY) {
			jv_free(names);
			names = fv;
		} else
			jv_free(fv);
	}
	return names;
}

static int profile_char(int c) { return isalnum(c) || c == '.' || c == '_' || c == '-'; }

/* "irc@libera" into "irc" and "libera" ("" when there is no @).  The
 * profile becomes part of file names (state, session): letters, digits,
 * '.', '_' and '-', not first a '.'.  0, or -1 with *err. */
static int split_instance(const char *spec, char *name, size_t nn, char *profile, size_t np,
                          jv *err)
{
	const char *at = strchr(spec, '@');
	size_t len = at ? (size_t)(at - spec) : strlen(spec);
	int ok = len > 0 && len < nn && (!at || (at[1] && at[1] != '.' && strlen(at + 1) < np));
	for (const char *c = at ? at + 1 : ""; ok && *c; c++)
		ok = profile_char((unsigned char)*c);
	if (!ok) {
		*err = bot_fail("-b %s: an instance is NAME or NAME@PROFILE (a profile is letters, "
		                "digits, '.', '_' and '-')", spec);
		return -1;
	}
	snprintf(name, nn, "%.*s", (int)len, spec);
	snprintf(profile, np, "%s", at ? at + 1 : "");
	return 0;
}

int bot_instance_of(const char *spec, const char *backend)
{
	size_t n = strlen(backend);
	return spec && !strncmp(spec, backend, n) && (spec[n] == 0 || spec[n] == '@');
}

static const char *default_backend(const struct bot_option *opts)
{
	for (const struct bot_option *o = opts; o && o->name; o++)
		if (!strcmp(o->name, "backend"))
			return o->def;
	return NULL;
}

/* The name an instance's events carry: the backend's, and @PROFILE when
 * a profile was chosen (by -b NAME@PROFILE or --profile). */
static void name_instance(struct bot_config *cfg)
{
	const char *profile = bot_cfg_str(cfg, "profile");
	const char *name = cfg->backend ? cfg->backend->name : "";
	size_t n = strlen(name) + (profile ? strlen(profile) + 1 : 0) + 1;
	cfg->instance = malloc(n);
	if (!cfg->instance)
		abort();
	snprintf(cfg->instance, n, "%s%s%s", name, profile ? "@" : "", profile ? profile : "");
}

enum load_step { LOAD_GO_ON = -1 };

/* The settings of one program and (spec not NULL) one backend instance.
 * first: the program's own, which handles --help and --version and warns
 * about the file.  LOAD_GO_ON, or the exit code with *err (invalid and
 * message-less after --help or --version). */
static int load_one(struct bot_config *cfg, const char *spec, const struct bot_option *const *skip,
                    int first, jv *err)
{
	struct parse ps = { .cfg = cfg, .builtin = cfg->builtin, .file = jv_object(),
	                    .lines = jv_object(), .set = jv_object() };
	char name[128] = "", profile[128] = "";
	int code = BOT_EX_USAGE;
	cfg->values = jv_object();
	cfg->operands = jv_array();
	cfg->backend = NULL;
	cfg->file = NULL;
	cfg->instance = NULL;
	ps.tables[0] = common_opts;
	ps.tables[1] = cfg->opts;
	for (int i = 0; skip && i < MAX_INSTANCES && skip[i]; i++)
		ps.skip[i] = skip[i];
	if (spec && split_instance(spec, name, sizeof name, profile, sizeof profile, err) < 0)
		goto out;
	ps.profile = profile[0] ? profile : NULL;
	code = BOT_EX_CONFIG;
	if (load_file(&ps, cfg->argc, cfg->argv, err) < 0)
		goto out;
	if (ps.profile && !ps.section_seen) {
		*err = cfg->file ? bot_fail("-b %s: %s has no [%s] section", spec, cfg->file, profile)
		                 : bot_fail("-b %s: no config file, so no [%s] section (see botpipe-config(5))",
		                            spec, profile);
		goto out;
	}
	if (spec) {
		cfg->backend = bot_backend_find(name, cfg->builtin, err);
		if (!cfg->backend)
			goto out;
		ps.tables[2] = cfg->backend->options;
	}
	code = BOT_EX_USAGE;
	if (parse_argv(&ps, cfg->argc, cfg->argv, err) < 0)
		goto out;
	if (first && (bot_cfg_flag(cfg, "help") || bot_cfg_flag(cfg, "version"))) {
		if (bot_cfg_flag(cfg, "help"))
			bot_config_help(cfg);
		else
			printf("%s (botpipe) %s\n", cfg->prog, BOT_VERSION);
		code = BOT_EX_OK;
		goto out;
	}
	code = BOT_EX_CONFIG;
	if (fill_rest(&ps, err) < 0)
		goto out;
	if (ps.profile)
		cfg->values = jv_object_set(cfg->values, jv_string("profile"), jv_string(profile));
	if (spec)
		name_instance(cfg);
	if (first) {
		bot_verbosity = bot_cfg_flag(cfg, "quiet") ? 0 : bot_cfg_flag(cfg, "verbose") ? 2 : 1;
		check_keys(&ps);
	}
	code = LOAD_GO_ON;
out:
	jv_free(ps.file);
	jv_free(ps.lines);
	jv_free(ps.set);
	return code;
}

/* The option tables of the backends named (unknown names are left to
 * load_one, which says so). */
static void named_tables(jv names, const struct bot_backend *const *builtin,
                         const struct bot_option **skip)
{
	int k = 0;
	jv_array_foreach(names, i, spec) {
		char name[128], profile[128];
		jv err = jv_invalid();
		const struct bot_backend *b = NULL;
		if (split_instance(jv_string_value(spec), name, sizeof name, profile, sizeof profile, &err) == 0)
			b = bot_backend_find(name, builtin, &err);
		if (b && b->options && k < MAX_INSTANCES - 1)
			skip[k++] = b->options;
		jv_free(err);
		jv_free(spec);
		(void)i;
	}
	skip[k] = NULL;
}

/* The instances named, checked: at most MAX_INSTANCES, none twice.
 * An array, or invalid with *err and the exit code in *code. */
static jv instances_to_load(struct bot_config *cfg, jv *err, int *code)
{
	*code = BOT_EX_CONFIG;
	struct parse probe = { .cfg = cfg, .file = jv_object(), .lines = jv_object(), .set = jv_object() };
	if (load_file(&probe, cfg->argc, cfg->argv, err) < 0) {
		jv_free(probe.file);
		jv_free(probe.lines);
		jv_free(probe.set);
		free(cfg->file);
		cfg->file = NULL;
		return jv_invalid();
	}
	*code = BOT_EX_USAGE;
	jv names = named_instances(&probe, cfg->argc, cfg->argv);
	jv_free(probe.file);
	jv_free(probe.lines);
	jv_free(probe.set);
	free(cfg->file);
	cfg->file = NULL;
	int n = jv_array_length(jv_copy(names));
	if (n > MAX_INSTANCES) {
		*err = bot_fail("-b: at most %d instances, not %d", MAX_INSTANCES, n);
		jv_free(names);
		return jv_invalid();
	}
	for (int i = 0; i < n; i++)
		for (int j = 0; j < i; j++) {
			jv a = jv_array_get(jv_copy(names), i), b = jv_array_get(jv_copy(names), j);
			int same = jv_equal(jv_copy(a), b);
			if (same)
				*err = bot_fail("-b %s: named twice", jv_string_value(a));
			jv_free(a);
			if (same) {
				jv_free(names);
				return jv_invalid();
			}
		}
	return names;
}

/* A config that has the program's table and command line of base, and
 * nothing loaded yet. */
static struct bot_config program_of(const struct bot_config *base)
{
	return (struct bot_config){ .prog = base->prog, .synopsis = base->synopsis, .about = base->about,
	                            .opts = base->opts, .argc = base->argc, .argv = base->argv,
	                            .builtin = base->builtin };
}

int bot_config_instance(const struct bot_config *base, const char *spec,
                        struct bot_config *out, jv *err)
{
	*out = program_of(base);
	const struct bot_option *skip[MAX_INSTANCES + 1] = { 0 };
	int k = 0;
	for (int i = -1; i < base->nmore && k < MAX_INSTANCES; i++) {
		const struct bot_config *c = i < 0 ? base : &base->more[i];
		if (c->backend && c->backend->options)
			skip[k++] = c->backend->options;
	}
	if (load_one(out, spec, skip, 0, err) == LOAD_GO_ON)
		return 0;
	bot_config_free(out);
	return -1;
}

/* The program's settings and its first instance's in cfg, the other
 * instances' in cfg->more. */
static int load_instances(struct bot_config *cfg, jv *err)
{
	int code;
	jv names = instances_to_load(cfg, err, &code);
	if (!jv_is_valid(names))
		return code;
	int n = jv_array_length(jv_copy(names));
	const struct bot_option *skip[MAX_INSTANCES + 1];
	named_tables(names, cfg->builtin, skip);
	jv first = n ? jv_array_get(jv_copy(names), 0) : jv_string(default_backend(cfg->opts));
	code = load_one(cfg, jv_string_value(first), skip, 1, err);
	jv_free(first);
	cfg->backends_named = n;
	if (code == LOAD_GO_ON && n > 1) {
		cfg->more = calloc((size_t)n - 1, sizeof *cfg->more);
		if (!cfg->more)
			abort();
	}
	for (int i = 1; code == LOAD_GO_ON && i < n; i++) {
		struct bot_config *c = &cfg->more[i - 1];
		*c = program_of(cfg);
		jv spec = jv_array_get(jv_copy(names), i);
		code = load_one(c, jv_string_value(spec), skip, 0, err);
		jv_free(spec);
		cfg->nmore = i;   /* what bot_config_free frees */
	}
	jv_free(names);
	return code;
}

int bot_config_load(struct bot_config *cfg, int argc, char **argv,
                    const struct bot_backend *const *builtin)
{
	jv err = jv_invalid();
	cfg->values = jv_null();
	cfg->operands = jv_null();
	cfg->file = NULL;
	cfg->instance = NULL;
	cfg->argc = argc;
	cfg->argv = argv;
	cfg->builtin = builtin;
	cfg->more = NULL;
	cfg->nmore = 0;
	cfg->backends_named = 0;
	int code = has_backend_option(cfg->opts) ? load_instances(cfg, &err)
	                                         : load_one(cfg, NULL, NULL, 1, &err);
	if (code == LOAD_GO_ON) {
		jv_free(err);
		return -1;
	}
	if (jv_invalid_has_msg(jv_copy(err)))
		bot_error_jv(NULL, err);
	else
		jv_free(err);
	bot_config_free(cfg);   /* the program stops here: nothing to keep */
	return code;
}

void bot_config_free(struct bot_config *cfg)
{
	for (int i = 0; i < cfg->nmore; i++)
		bot_config_free(&cfg->more[i]);
	free(cfg->more);
	cfg->more = NULL;
	cfg->nmore = 0;
	jv_free(cfg->values);
	jv_free(cfg->operands);
	free(cfg->file);
	free(cfg->instance);
	cfg->values = jv_null();
	cfg->operands = jv_null();
	cfg->file = NULL;
	cfg->instance = NULL;
}

static jv cfg_get(const struct bot_config *cfg, const char *name)
{
	return jv_object_get(jv_copy(cfg->values), jv_string(name));
}

const char *bot_cfg_str(const struct bot_config *cfg, const char *name)
{
	return bot_str(cfg->values, name);
}

long bot_cfg_int(const struct bot_config *cfg, const char *name, long def)
{
	jv v = cfg_get(cfg, name);
	long n = jv_get_kind(v) == JV_KIND_NUMBER ? (long)jv_number_value(v) : def;
	jv_free(v);
	return n;
}

int bot_cfg_flag(const struct bot_config *cfg, const char *name)
{
	return bot_true(cfg->values, name);
}

jv bot_cfg_list(const struct bot_config *cfg, const char *name)
{
	jv v = cfg_get(cfg, name);
	if (jv_get_kind(v) == JV_KIND_ARRAY)
		return v;
	jv_free(v);
	return jv_array();
}

/* All of fd as one string, without its trailing newlines.  Read whole and
 * made a string once: a UTF-8 sequence split between two reads (a pipe
 * gives what the writer wrote) would otherwise become two U+FFFD.  At
 * most max bytes: a cron job's output can be endless; the rest is left
 * unread, with a warning. */
static jv read_text(int fd, size_t max)
{
	if (max == 0)
		max = BOT_LINE_MAX_DEFAULT;
	size_t len = 0, cap = 65536;
	char *buf = malloc(cap);
	if (!buf)
		abort();
	for (;;) {
		if (len == cap) {
			if (cap > max)
				break;
			cap *= 2;
			buf = realloc(buf, cap);
			if (!buf)
				abort();
		}
		ssize_t r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	if (len > max) {
		bot_warn("standard input: longer than %zu bytes, cut there", max);
		len = max;
		/* not inside a UTF-8 sequence */
		while (len > 0 && ((unsigned char)buf[len] & 0xc0) == 0x80)
			len--;
	}
	while (len > 0 && buf[len - 1] == '\n')
		len--;
	jv text = jv_string_sized(buf, (int)len);
	free(buf);
	return text;
}

jv bot_operand_text(const struct bot_config *cfg, int fd)
{
	jv text = jv_string("");
	int n = jv_array_length(jv_copy(cfg->operands));
	for (int i = 0; i < n; i++) {
		if (i)
			text = jv_string_append_str(text, " ");
		text = jv_string_concat(text, jv_array_get(jv_copy(cfg->operands), i));
	}
	if (n || fd < 0)
		return text;
	jv_free(text);
	return read_text(fd, (size_t)bot_cfg_int(cfg, "max-line", BOT_LINE_MAX_DEFAULT));
}

/* ---- --help ---- */

static void help_table(const struct bot_option *opts)
{
	for (const struct bot_option *o = opts; o && o->name; o++) {
		char left[200], env[128];
		int n = 0;
		if (BOT_OPT_KIND(o->type) == BOT_OPT_SECRET) {
			env_name(env, sizeof env, o->name, NULL);
			snprintf(left, sizeof left, "    %s[_FILE]", env);
			printf("  %-30s %s (a secret: environment or file only)\n", left, o->help);
			continue;
		}
		if (o->shortopt)
			n = snprintf(left, sizeof left, "-%c, ", o->shortopt);
		else
			n = snprintf(left, sizeof left, "    ");
		snprintf(left + n, sizeof left - (size_t)n, "--%s%s%s", o->name,
		         o->metavar ? " " : "", o->metavar ? o->metavar : "");
		printf("  %-30s %s", left, o->help);
		if (o->def)
			printf(" (default: %s)", o->def);
		printf("\n");
	}
}

void bot_config_help(const struct bot_config *cfg)
{
	printf("usage: %s %s\n%s\n\nOptions:\n", cfg->prog, cfg->synopsis, cfg->about);
	help_table(cfg->opts);
	help_table(common_opts);
	if (cfg->backend && cfg->backend->options && cfg->backend->options->name) {
		printf("\nBackend %s:\n", cfg->backend->name);
		help_table(cfg->backend->options);
	}
	printf("\nEvery --NAME option is also the variable BOT_NAME (upper case, - as _)\n"
	       "and the config file key NAME.  See %s(1).\n", cfg->prog);
}
