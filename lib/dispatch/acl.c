/* acl.c: errbot's access controls (core_plugins/acls.py, errbot.md §3).
 * The first ACCESS_CONTROLS pattern that matches "plugin:cmd" without
 * regard to case (a pattern without ':' means "*:pattern") is merged over
 * ACCESS_CONTROLS_DEFAULT; then, in errbot HEAD's order: allowargs,
 * denyargs, allowusers, denyusers, in a room allowmuc, allowrooms,
 * denyrooms, in a direct chat allowprivate, then admin-only commands.
 * User and room globs compare as the network does (IRC: its case
 * mapping; elsewhere byte for byte); argument globs see the arguments as
 * the command gets them.
 *
 * User, room and admin globs may name a backend instance, BACKEND:GLOB
 * (matrix:!abc:example.org, irc@libera:alice!*@*, irc:... for every irc
 * instance): it takes only messages whose "backend" is that instance.
 * Ids hold ':' themselves (Matrix, XMPP), so the part before the first
 * ':' is a qualifier only when it reads as an instance (qualifier_len)
 * and that backend exists; otherwise the whole entry is a glob, as
 * before.  Every list is kept as [qualifier or null, glob] pairs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "bot.h"
#include "dispatch.h"

#define ACL_FILE_MAX (4u << 20)

struct bot_acl {
	jv defaults;   /* object */
	jv rules;      /* object, in file order */
	jv admins;     /* array of glob strings */
};

static const char *const rule_lists[] = {
	"allowusers", "denyusers", "allowrooms", "denyrooms", "allowargs", "denyargs", NULL
};
/* The lists whose entries are ids and may name an instance. */
static const char *const id_lists[] = {
	"allowusers", "denyusers", "allowrooms", "denyrooms", NULL
};
static const char *const rule_bools[] = { "allowmuc", "allowprivate", NULL };

static int in_list(const char *const *list, const char *s)
{
	for (; *list; list++)
		if (!strcmp(*list, s))
			return 1;
	return 0;
}

/* A string (one pattern), a number (its text) or an array of those, as
 * an array of strings. */
static jv glob_strings(jv v, const char *what)
{
	jv_kind k = jv_get_kind(v);
	if (k == JV_KIND_STRING)
		return JV_ARRAY(v);
	if (k == JV_KIND_NUMBER)
		return JV_ARRAY(jv_dump_string(v, 0));
	if (k != JV_KIND_ARRAY) {
		jv_free(v);
		return bot_fail("%s: expected a string or an array of strings", what);
	}
	jv out = jv_array();
	jv_array_foreach(v, i, e) {
		k = jv_get_kind(e);
		if (k == JV_KIND_STRING)
			out = jv_array_append(out, e);
		else if (k == JV_KIND_NUMBER)
			out = jv_array_append(out, jv_dump_string(e, 0));
		else {
			jv_free(e);
			jv_free(out);
			jv_free(v);
			return bot_fail("%s[%d]: expected a string", what, i);
		}
	}
	jv_free(v);
	return out;
}

/* The length of s's instance qualifier: a backend name ([a-z0-9_-], as
 * the registry names backends) and optionally @PROFILE ([A-Za-z0-9._-])
 * before the first ':'.  0 when s has none of that form. */
static size_t qualifier_len(const char *s, size_t *name_len)
{
	size_t i = 0, n;
	while ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
	       s[i] == '-')
		i++;
	n = i;
	if (n == 0 || n > 64)
		return 0;
	if (s[i] == '@') {
		size_t at = ++i;
		while ((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		       (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '_' || s[i] == '-')
			i++;
		if (i == at)
			return 0;
	}
	*name_len = n;
	return s[i] == ':' ? i : 0;
}

/* A backend this program can find.  text is embedded in every program
 * (the Makefile links it in); the others are modules, looked for on the
 * backend path without loading them. */
static int backend_known(const char *name)
{
	return !strcmp(name, "text") || bot_backend_exists(name, NULL);
}

/* One entry (consumed) as [qualifier or null, glob].  A prefix of the
 * instance form whose backend is unknown is most likely a typo, so it is
 * said once on the log; the entry is then a glob of the whole text. */
static jv qualify(jv pattern, int ids, const char *where, const char *what)
{
	const char *s = jv_string_value(pattern);
	size_t name_len = 0, q = ids ? qualifier_len(s, &name_len) : 0;
	if (q) {
		char name[65];
		snprintf(name, sizeof name, "%.*s", (int)name_len, s);
		if (backend_known(name)) {
			jv out = JV_ARRAY(jv_string_sized(s, (int)q), jv_string(s + q + 1));
			jv_free(pattern);
			return out;
		}
		bot_warn("%s: %s: \"%s\": no backend %s here, so it is matched as an id, "
		         "on every network", where, what, s, name);
	}
	return JV_ARRAY(jv_null(), pattern);
}

/* A glob list: a string (one pattern), a number (its text) or an array of
 * those; normalised to an array of [qualifier, glob] pairs (ids: the
 * entries may name an instance). */
static jv glob_list(jv v, const char *where, const char *what, int ids)
{
	jv strings = glob_strings(v, what);
	if (!jv_is_valid(strings))
		return strings;
	jv out = jv_array();
	jv_array_foreach(strings, i, e) {
		out = jv_array_append(out, qualify(e, ids, where, what));
		(void)i;
	}
	jv_free(strings);
	return out;
}

/* Check one rule object and normalise its lists; where names the file. */
static jv check_rule(jv rule, const char *where, const char *what)
{
	if (jv_get_kind(rule) != JV_KIND_OBJECT) {
		jv_free(rule);
		return bot_fail("%s: expected an object", what);
	}
	jv out = jv_object();
	jv_object_foreach(rule, key, val) {
		const char *k = jv_string_value(key);
		char path[512];
		snprintf(path, sizeof path, "%s: %s", what, k);
		if (in_list(rule_lists, k)) {
			val = glob_list(val, where, path, in_list(id_lists, k));
		} else if (in_list(rule_bools, k)) {
			/* errbot crashes on None (a silent block); null means unset */
			if (jv_get_kind(val) == JV_KIND_NULL) {
				jv_free(val);
				jv_free(key);
				continue;
			}
			if (jv_get_kind(val) != JV_KIND_TRUE && jv_get_kind(val) != JV_KIND_FALSE) {
				jv_free(val);
				val = bot_fail("%s: expected true or false", path);
			}
		} else {
			jv_free(val);
			val = bot_fail("%s: unknown setting (known: allowusers, denyusers, allowrooms, "
			               "denyrooms, allowmuc, allowprivate, allowargs, denyargs)", path);
		}
		if (!jv_is_valid(val)) {
			jv_free(key);
			jv_free(out);
			jv_free(rule);
			return val;
		}
		out = jv_object_set(out, key, val);
	}
	jv_free(rule);
	return out;
}

void bot_acl_free(struct bot_acl *a)
{
	if (!a)
		return;
	jv_free(a->defaults);
	jv_free(a->rules);
	jv_free(a->admins);
	free(a);
}

static struct bot_acl *acl_fail(struct bot_acl *a, jv conf, jv why, const char *where, jv *err)
{
	char msg[600];
	*err = bot_fail("%s: %s", where, bot_fail_message(why, msg, sizeof msg));
	jv_free(why);
	jv_free(conf);
	bot_acl_free(a);
	return NULL;
}

struct bot_acl *bot_acl_new(jv conf, const char *where, jv *err)
{
	struct bot_acl *a = calloc(1, sizeof *a);
	if (!a)
		abort();
	a->defaults = jv_object();
	a->rules = jv_object();
	a->admins = jv_array();
	if (jv_get_kind(conf) == JV_KIND_NULL) {
		jv_free(conf);
		return a;
	}
	if (jv_get_kind(conf) != JV_KIND_OBJECT)
		return acl_fail(a, conf, bot_fail("expected an object"), where, err);
	jv_object_foreach(conf, key, val) {
		const char *k = jv_string_value(key);
		jv got;
		if (!strcmp(k, "ACCESS_CONTROLS_DEFAULT")) {
			got = check_rule(val, where, k);
			if (jv_is_valid(got)) {
				jv_free(a->defaults);
				a->defaults = jv_copy(got);
			}
		} else if (!strcmp(k, "ACCESS_CONTROLS")) {
			got = jv_get_kind(val) == JV_KIND_OBJECT ? jv_true()
			      : bot_fail("%s: expected an object", k);
			if (jv_is_valid(got))
				jv_object_foreach(val, pat, rule) {
					char path[512];
					snprintf(path, sizeof path, "%s: \"%s\"", k, jv_string_value(pat));
					jv r = check_rule(rule, where, path);
					if (!jv_is_valid(r)) {
						jv_free(got);
						got = r;
						jv_free(pat);
						break;
					}
					a->rules = jv_object_set(a->rules, pat, r);
				}
			jv_free(val);
		} else if (!strcmp(k, "BOT_ADMINS")) {
			got = glob_list(val, where, k, 1);
			if (jv_is_valid(got))
				a->admins = jv_array_concat(a->admins, jv_copy(got));
		} else {
			jv_free(val);
			got = bot_fail("%s: unknown key (known: ACCESS_CONTROLS_DEFAULT, "
			               "ACCESS_CONTROLS, BOT_ADMINS)", k);
		}
		jv_free(key);
		if (!jv_is_valid(got))
			return acl_fail(a, conf, got, where, err);
		jv_free(got);
	}
	jv_free(conf);
	return a;
}

/* jq's parser says "... at line N, column M"; say "FILE:N: ..." instead. */
struct bot_acl *bot_acl_load(const char *path, jv *err)
{
	size_t len;
	char *text = bot_slurp(path, ACL_FILE_MAX, &len);
	if (!text) {
		*err = bot_fail("%s: %s", path, strerror(errno));
		return NULL;
	}
	struct jv_parser *p = jv_parser_new(0);
	jv_parser_set_buf(p, text, (int)len, 0);
	jv conf = jv_parser_next(p);
	if (jv_is_valid(conf)) {
		jv more = jv_parser_next(p);
		if (jv_is_valid(more) || jv_invalid_has_msg(jv_copy(more))) {
			jv_free(conf);
			conf = jv_is_valid(more) ? bot_fail("more than one JSON value") : more;
			if (jv_is_valid(more))
				jv_free(more);
		} else
			jv_free(more);
	} else if (!jv_invalid_has_msg(jv_copy(conf))) {
		jv_free(conf);
		conf = bot_fail("empty file");
	}
	jv_parser_free(p);
	free(text);
	if (!jv_is_valid(conf)) {
		char msg[600];
		bot_fail_message(conf, msg, sizeof msg);
		jv_free(conf);
		int line = 0, col = 0;
		char *at = strstr(msg, " at line ");
		if (at && sscanf(at, " at line %d, column %d", &line, &col) == 2) {
			*at = 0;
			*err = bot_fail("%s:%d: %s (column %d)", path, line, msg, col);
		} else
			*err = bot_fail("%s: %s", path, msg);
		return NULL;
	}
	return bot_acl_new(conf, path, err);
}

void bot_acl_add_admin(struct bot_acl *a, const char *glob)
{
	a->admins = jv_array_append(a->admins, qualify(jv_string(glob), 1, "--admin", "BOT_ADMINS"));
}

/* ---- globs ----
 * errbot matches with Python's fnmatch: '*', '?', "[seq]", "[!seq]"; no
 * backslash escapes; a '[' without its ']' is itself.  Written here
 * rather than with fnmatch(3) because a position in the text decides how
 * case is compared (an IRC mask folds its nick one way and its host
 * another), and because '*' must not backtrack exponentially on hostile
 * names.  Units are UTF-8 code points (a stray byte is one unit). */

enum fold { FOLD_NONE, FOLD_ASCII, FOLD_RFC1459 };

/* The text to match and how each part of it compares: bytes before
 * split1 with fold[0], before split2 with fold[1], the rest with
 * fold[2]. */
struct acl_text {
	const char *s;
	size_t len, split1, split2;
	enum fold fold[3];
};

static struct acl_text text_plain(const char *s, enum fold f)
{
	size_t n = strlen(s);
	return (struct acl_text){ s, n, n, n, { f, f, f } };
}

/* One unit at s (n bytes left, n > 0): its value, and its length. */
static unsigned unit_at(const char *s, size_t n, size_t *len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t need = u[0] < 0x80 ? 0 : u[0] >= 0xF0 ? 3 : u[0] >= 0xE0 ? 2 : u[0] >= 0xC0 ? 1 : 9;
	unsigned v = need == 0 ? u[0] : need == 1 ? u[0] & 0x1Fu : need == 2 ? u[0] & 0x0Fu : u[0] & 0x07u;
	size_t i = 1;
	if (need > 3 || need >= n)
		need = 9;
	for (; need <= 3 && i <= need && (u[i] & 0xC0) == 0x80; i++)
		v = (v << 6) | (u[i] & 0x3Fu);
	if (need > 3 || i != need + 1) {
		*len = 1;
		return 0x110000u + u[0];   /* a stray byte: a unit of its own */
	}
	*len = i;
	return v;
}

/* The lower and upper forms of c under f (RFC 1459: {}|^ are the lower
 * case of []\~). */
static unsigned fold_lower(unsigned c, enum fold f)
{
	if (f != FOLD_NONE && c >= 'A' && c <= 'Z')
		return c - 'A' + 'a';
	if (f == FOLD_RFC1459 && (c == '[' || c == ']' || c == '\\' || c == '~'))
		return c == '[' ? '{' : c == ']' ? '}' : c == '\\' ? '|' : '^';
	return c;
}

static unsigned fold_upper(unsigned c, enum fold f)
{
	if (f != FOLD_NONE && c >= 'a' && c <= 'z')
		return c - 'a' + 'A';
	if (f == FOLD_RFC1459 && (c == '{' || c == '}' || c == '|' || c == '^'))
		return c == '{' ? '[' : c == '}' ? ']' : c == '|' ? '\\' : '~';
	return c;
}

static int in_range(unsigned c, unsigned lo, unsigned hi, enum fold f)
{
	unsigned l = fold_lower(c, f), u = fold_upper(c, f);
	return (c >= lo && c <= hi) || (l >= lo && l <= hi) || (u >= lo && u <= hi);
}

/* The ']' closing a bracket expression that opens at p[0], or NULL: it
 * is itself then.  A ']' first (after a '!') is a member. */
static const char *bracket_end(const char *p, const char *end)
{
	const char *q = p + 1;
	if (q < end && *q == '!')
		q++;
	if (q < end && *q == ']')
		q++;
	while (q < end && *q != ']')
		q++;
	return q < end ? q : NULL;
}

/* Does the bracket expression p..close (p at '[') take c? */
static int bracket_takes(const char *p, const char *close, unsigned c, enum fold f)
{
	const char *q = p + 1;
	int negate = q < close && *q == '!', hit = 0;
	if (negate)
		q++;
	while (q < close && !hit) {
		size_t n, m;
		unsigned lo = unit_at(q, (size_t)(close - q), &n);
		if (q + n + 1 < close && q[n] == '-') {
			unsigned hi = unit_at(q + n + 1, (size_t)(close - q - n - 1), &m);
			hit = in_range(c, lo, hi, f);
			q += n + 1 + m;
		} else {
			hit = fold_lower(c, f) == fold_lower(lo, f);
			q += n;
		}
	}
	return hit != negate;
}

static enum fold fold_at(const struct acl_text *t, size_t i)
{
	return t->fold[i < t->split1 ? 0 : i < t->split2 ? 1 : 2];
}

/* Does the pattern unit at *pp take the text unit c (folded as f)?
 * Advances *pp past it. */
static int unit_takes(const char **pp, const char *pend, unsigned c, enum fold f)
{
	const char *p = *pp;
	size_t n;
	if (*p == '?') {
		*pp = p + 1;
		return 1;
	}
	const char *close = *p == '[' ? bracket_end(p, pend) : NULL;
	if (close) {
		*pp = close + 1;
		return bracket_takes(p, close, c, f);
	}
	unsigned want = unit_at(p, (size_t)(pend - p), &n);
	*pp = p + n;
	return fold_lower(c, f) == fold_lower(want, f);
}

/* One '*' remembered (the last one seen) is all the backtracking a glob
 * needs: O(pattern x text) at worst. */
static int glob_match(const char *pat, const struct acl_text *t)
{
	const char *p = pat, *pend = pat + strlen(pat), *star = NULL;
	size_t i = 0, star_i = 0;
	while (i < t->len) {
		size_t n;
		unsigned c = unit_at(t->s + i, t->len - i, &n);
		const char *q = p;
		if (p < pend && *p == '*') {
			star = ++p;
			star_i = i;
		} else if (p < pend && unit_takes(&q, pend, c, fold_at(t, i))) {
			p = q;
			i += n;
		} else if (star) {
			unit_at(t->s + star_i, t->len - star_i, &n);
			star_i += n;
			i = star_i;
			p = star;
		} else
			return 0;
	}
	while (p < pend && *p == '*')
		p++;
	return p == pend;
}

/* Does an entry qualified q take a message of this instance?  A bare
 * backend name takes each of its instances (irc: irc, irc@libera), a
 * NAME@PROFILE that instance only; a message without a backend, none. */
static int instance_takes(const char *q, const char *instance)
{
	if (!instance)
		return 0;
	return strchr(q, '@') ? !strcmp(q, instance) : bot_instance_of(instance, q);
}

/* errbot's glob(): does any of the [qualifier, glob] pairs (look-only)
 * match a message of this instance (NULL: none named)? */
static int glob_any(const struct acl_text *t, const char *instance, jv patterns)
{
	int hit = 0;
	jv_array_foreach(patterns, i, p) {
		jv q = jv_array_get(jv_copy(p), 0), g = jv_array_get(jv_copy(p), 1);
		if (!hit && (jv_get_kind(q) == JV_KIND_NULL || instance_takes(jv_string_value(q), instance)))
			hit = glob_match(jv_string_value(g), t);
		jv_free(q);
		jv_free(g);
		jv_free(p);
		(void)i;
	}
	return hit;
}

/* The rule for plugin:cmd: defaults with the first matching rule over
 * them. */
static jv rule_for(const struct bot_acl *a, const char *plugin, const char *cmd)
{
	char cmd_str[512];
	snprintf(cmd_str, sizeof cmd_str, "%s:%s", plugin, cmd);
	jv acl = jv_copy(a->defaults);
	int done = 0;
	jv_object_foreach(a->rules, pat, rule) {
		if (!done) {
			const char *ps = jv_string_value(pat);
			jv pattern = strchr(ps, ':') ? jv_copy(pat) : jv_string_fmt("*:%s", ps);
			struct acl_text t = text_plain(cmd_str, FOLD_ASCII);
			if (glob_match(jv_string_value(pattern), &t)) {
				acl = jv_object_merge(acl, jv_copy(rule));
				done = 1;
			}
			jv_free(pattern);
		}
		jv_free(pat);
		jv_free(rule);
	}
	return acl;
}

/* Look-only: the list at key, or NULL-kind when absent. */
static jv get(jv acl, const char *key)
{
	return jv_object_get(jv_copy(acl), jv_string(key));
}

/* allow: a list that takes none of the texts refuses; deny: a list that
 * takes any refuses.  No list, no refusal.  instance: the message's. */
static int refuses(jv acl, const char *key, const struct acl_text *texts, size_t n, int allow,
                   const char *instance)
{
	jv list = get(acl, key);
	int refuse = 0;
	for (size_t i = 0; jv_is_valid(list) && i < n && !refuse; i++) {
		int hit = glob_any(&texts[i], instance, list);
		refuse = allow ? !hit : hit;
	}
	jv_free(list);
	return refuse;
}

static int is_false(jv acl, const char *key)
{
	jv v = get(acl, key);
	int f = jv_get_kind(v) == JV_KIND_FALSE;
	jv_free(v);
	return f;
}

static int is_true(jv acl, const char *key)
{
	jv v = get(acl, key);
	int t = jv_get_kind(v) == JV_KIND_TRUE;
	jv_free(v);
	return t;
}

#define DENY_ARGS "You're not allowed to access this command using the provided arguments"
#define DENY_USER "You're not allowed to access this command from this user"
#define DENY_MUC "You're not allowed to access this command from a chatroom"
#define DENY_ROOM "You're not allowed to access this command from this room"
#define DENY_PRIVATE "You're not allowed to access this command via private message to me"
#define DENY_ADMIN "This command requires bot-admin privileges"
#define DENY_ADMIN_ROOM "This command may only be issued through a direct message"

/* allowargs and denyargs see what the command will get: the text as
 * typed (BOT_ARGS, a built-in's arguments), and, when it splits, the
 * words of its argv (after quote removal and errbot's dash and quote
 * translation, argv.c) one by one and joined by one space.  So
 * "--\"force\"", "-\\-force", "'--'force" and an em dash are all
 * "--force".  allowargs must take the typed text and the joined words;
 * denyargs refuses when it takes any one of them. */
static int args_refused(jv acl, const char *args)
{
	jv allow = get(acl, "allowargs"), deny = get(acl, "denyargs");
	int have = jv_is_valid(allow) || jv_is_valid(deny);
	jv_free(allow);
	jv_free(deny);
	if (!have)
		return 0;
	jv words = bot_split_args(args, strlen(args));
	int nw = jv_is_valid(words) ? jv_array_length(jv_copy(words)) : 0;
	struct acl_text *t = calloc((size_t)nw + 2, sizeof *t);
	if (!t)
		abort();
	size_t n = 0;
	t[n++] = text_plain(args, FOLD_NONE);
	jv joined = jv_string("");
	if (jv_is_valid(words)) {
		jv_array_foreach(words, i, w) {
			joined = jv_string_concat(i ? jv_string_append_str(joined, " ") : joined, jv_copy(w));
			jv_free(w);
		}
		t[n++] = text_plain(jv_string_value(joined), FOLD_NONE);
	}
	int refused = refuses(acl, "allowargs", t, n, 1, NULL);
	for (int i = 0; i < nw && !refused; i++) {
		jv w = jv_array_get(jv_copy(words), i);
		struct acl_text wt = text_plain(jv_string_value(w), FOLD_NONE);
		refused = refuses(acl, "denyargs", &wt, 1, 0, NULL);
		jv_free(w);
	}
	if (!refused)
		refused = refuses(acl, "denyargs", t, n, 0, NULL);
	jv_free(joined);
	jv_free(words);
	free(t);
	return refused;
}

/* How names compare on the message's network: IRC (any instance: irc,
 * irc@libera) folds nicks and channels with the server's case mapping
 * (rfc1459 unless the event's extras say "casemapping": "ascii");
 * elsewhere byte for byte, as errbot. */
static enum fold name_fold(jv msg)
{
	if (!bot_instance_of(bot_str(msg, "backend"), "irc"))
		return FOLD_NONE;
	jv extras = bot_get(msg, "extras");
	const char *map = bot_str(extras, "casemapping");
	enum fold f = map && !strcmp(map, "ascii") ? FOLD_ASCII : FOLD_RFC1459;
	jv_free(extras);
	return f;
}

/* The sender as ACL user globs see it.  An IRC mask nick!user@host
 * compares its nick by the case mapping, its user as it is (ident is
 * case-sensitive), its host without ASCII case (DNS); a bare @nick is
 * all nick. */
static struct acl_text user_text(const char *usr, enum fold nick)
{
	struct acl_text t = text_plain(usr, nick);
	const char *bang = strchr(usr, '!'), *at = bang ? strchr(bang, '@') : NULL;
	if (nick != FOLD_NONE && bang && at) {
		t.split1 = (size_t)(bang - usr);
		t.split2 = (size_t)(at - usr);
		t.fold[1] = FOLD_NONE;
		t.fold[2] = FOLD_ASCII;
	}
	return t;
}

static const char *check(const struct bot_acl *a, jv acl, jv msg, const char *args,
                         int admin_only)
{
	jv from = bot_get(msg, "from"), to = bot_get(msg, "to");
	const char *usr = bot_ident_aclattr(from);
	const char *kind = bot_ident_kind(to);
	int group = bot_true(msg, "is_group") || (kind && !strcmp(kind, "room"));
	const char *room = group ? bot_ident_id(to) : NULL;
	const char *why = NULL;
	enum fold f = name_fold(msg);
	const char *net = bot_str(msg, "backend");
	if (group && !room)
		room = "";
	struct acl_text ut = user_text(usr ? usr : "", f), rt = text_plain(room ? room : "", f);
	if (args_refused(acl, args ? args : ""))
		why = DENY_ARGS;
	else if (refuses(acl, "allowusers", &ut, 1, 1, net) || refuses(acl, "denyusers", &ut, 1, 0, net))
		why = DENY_USER;
	else if (room && is_false(acl, "allowmuc"))
		why = DENY_MUC;
	else if (room && (refuses(acl, "allowrooms", &rt, 1, 1, net) ||
	                  refuses(acl, "denyrooms", &rt, 1, 0, net)))
		why = DENY_ROOM;
	else if (!room && is_false(acl, "allowprivate"))
		why = DENY_PRIVATE;
	else if (admin_only && !glob_any(&ut, net, a->admins))
		why = DENY_ADMIN;
	else if (admin_only && room && !is_true(acl, "allowmuc"))
		why = DENY_ADMIN_ROOM;
	jv_free(from);
	jv_free(to);
	return why;
}

const char *bot_acl_check(const struct bot_acl *a, jv msg, const char *plugin,
                          const char *cmd, const char *args, int admin_only)
{
	if (!admin_only && jv_object_length(jv_copy(a->defaults)) == 0 &&
	    jv_object_length(jv_copy(a->rules)) == 0)
		return NULL;   /* no rules at all: the common case, kept cheap */
	jv acl = rule_for(a, plugin, cmd);
	const char *why = check(a, acl, msg, args, admin_only);
	jv_free(acl);
	return why;
}
