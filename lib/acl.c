/* acl.c: errbot's access controls (core_plugins/acls.py, errbot.md §3).
 * The first ACCESS_CONTROLS pattern that matches "plugin:cmd" without
 * regard to case (a pattern without ':' means "*:pattern") is merged over
 * ACCESS_CONTROLS_DEFAULT; then, in errbot HEAD's order: allowargs,
 * denyargs, allowusers, denyusers, in a room allowmuc, allowrooms,
 * denyrooms, in a direct chat allowprivate, then admin-only commands.
 * User, room and argument globs are case-sensitive. */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
static const char *const rule_bools[] = { "allowmuc", "allowprivate", NULL };

static int in_list(const char *const *list, const char *s)
{
	for (; *list; list++)
		if (!strcmp(*list, s))
			return 1;
	return 0;
}

/* A glob list: a string (one pattern), a number (its text) or an array of
 * those; normalised to an array of strings. */
static jv glob_list(jv v, const char *what)
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

/* Check one rule object and normalise its lists. */
static jv check_rule(jv rule, const char *what)
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
			val = glob_list(val, path);
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
			got = check_rule(val, k);
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
					jv r = check_rule(rule, path);
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
			got = glob_list(val, k);
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
	a->admins = jv_array_append(a->admins, jv_string(glob));
}

/* errbot's glob(): any pattern matches, case-sensitively.  No backslash
 * escapes, as Python's fnmatch. */
static int glob_any(const char *text, jv patterns, int caseless)
{
	int hit = 0;
	jv_array_foreach(patterns, i, p) {
		if (!hit && fnmatch(jv_string_value(p), text,
		                    FNM_NOESCAPE | (caseless ? FNM_CASEFOLD : 0)) == 0)
			hit = 1;
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
			if (fnmatch(jv_string_value(pattern), cmd_str, FNM_NOESCAPE | FNM_CASEFOLD) == 0) {
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

static int denies(jv acl, const char *key, const char *text, int allow)
{
	jv list = get(acl, key);
	int deny = 0;
	if (jv_is_valid(list)) {
		int hit = glob_any(text ? text : "", list, 0);
		deny = allow ? !hit : hit;
	}
	jv_free(list);
	return deny;
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

static const char *check(const struct bot_acl *a, jv acl, jv msg, const char *args,
                         int admin_only)
{
	jv from = bot_get(msg, "from"), to = bot_get(msg, "to");
	const char *usr = bot_ident_aclattr(from);
	const char *kind = bot_ident_kind(to);
	int group = bot_true(msg, "is_group") || (kind && !strcmp(kind, "room"));
	const char *room = group ? bot_ident_id(to) : NULL;
	const char *why = NULL;
	if (group && !room)
		room = "";
	if (!usr)
		usr = "";
	if (denies(acl, "allowargs", args, 1) || denies(acl, "denyargs", args, 0))
		why = DENY_ARGS;
	else if (denies(acl, "allowusers", usr, 1) || denies(acl, "denyusers", usr, 0))
		why = DENY_USER;
	else if (room && is_false(acl, "allowmuc"))
		why = DENY_MUC;
	else if (room && (denies(acl, "allowrooms", room, 1) || denies(acl, "denyrooms", room, 0)))
		why = DENY_ROOM;
	else if (!room && is_false(acl, "allowprivate"))
		why = DENY_PRIVATE;
	else if (admin_only && !glob_any(usr, a->admins, 0))
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
