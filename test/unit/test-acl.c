/* acl.c: errbot's ACCESS_CONTROLS semantics and denial strings. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "dispatch.h"
#include "unit.h"

#define ARGS "You're not allowed to access this command using the provided arguments"
#define USER "You're not allowed to access this command from this user"
#define MUC "You're not allowed to access this command from a chatroom"
#define ROOM "You're not allowed to access this command from this room"
#define PRIV "You're not allowed to access this command via private message to me"
#define ADMIN "This command requires bot-admin privileges"
#define ADMIN_ROOM "This command may only be issued through a direct message"

static struct bot_acl *acl(const char *json)
{
	jv err = jv_invalid();
	struct bot_acl *a = bot_acl_new(jv_parse(json), "test", &err);
	if (!a) {
		char m[512];
		printf("# %s\n", bot_fail_message(err, m, sizeof m));
	}
	jv_free(err);
	return a;
}

/* A DM from user, or a room message in room from user. */
static jv msg(const char *user, const char *room)
{
	if (room)
		return bot_message(jv_string(user), bot_room(room), "");
	return bot_message(bot_person(user, NULL), bot_person("@bot", NULL), "");
}

static const char *check(struct bot_acl *a, const char *user, const char *room,
                         const char *plugin, const char *cmd, const char *args, int admin)
{
	jv m = msg(user, room);
	if (room)   /* an occupant sender, aclattr set as the text backend does */
		m = jv_object_set(m, jv_string("from"),
		                  jv_object_set(bot_occupant(room, user + 1, NULL),
		                                jv_string("aclattr"), jv_string(user)));
	const char *why = bot_acl_check(a, m, plugin, cmd, args, admin);
	jv_free(m);
	return why ? why : "allowed";
}

static const char *load_error(const char *text)
{
	static char out[512];
	char path[] = "/tmp/test-acl-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0 || write(fd, text, strlen(text)) < 0)
		return "mkstemp";
	close(fd);
	jv err = jv_invalid();
	struct bot_acl *a = bot_acl_load(path, &err);
	char m[512];
	snprintf(out, sizeof out, "%s", a ? "loaded" : bot_fail_message(err, m, sizeof m));
	/* the path is random: show it as FILE */
	size_t pl = strlen(path);
	if (!strncmp(out, path, pl)) {
		memmove(out + 4, out + pl, strlen(out + pl) + 1);
		memcpy(out, "FILE", 4);
	}
	jv_free(err);
	bot_acl_free(a);
	unlink(path);
	return out;
}

/* An IRC message from mask to room (NULL: to the bot), as bot-listen -b
 * irc writes it; casemapping NULL: the server said nothing. */
static const char *irc_check(struct bot_acl *a, const char *mask, const char *room,
                             const char *casemapping, int admin)
{
	char nick[64];
	snprintf(nick, sizeof nick, "%.*s", (int)strcspn(mask, "!"), mask);
	jv from = room ? bot_occupant(room, nick, NULL) : bot_person("", nick);
	from = jv_object_set(from, jv_string("aclattr"), jv_string(mask));
	jv m = bot_message(from, room ? bot_room(room) : bot_person("@bot", NULL), "");
	m = jv_object_set(m, jv_string("backend"), jv_string("irc"));
	if (casemapping)
		m = jv_object_set(m, jv_string("extras"),
		                  JV_OBJECT(jv_string("casemapping"), jv_string(casemapping)));
	const char *why = bot_acl_check(a, m, "x", "cmd", "", admin);
	jv_free(m);
	return why ? why : "allowed";
}

static const char *glob(const char *pattern, const char *user)
{
	char json[512];
	snprintf(json, sizeof json, "{\"ACCESS_CONTROLS\": {\"cmd\": {\"allowusers\": \"%s\"}}}",
	         pattern);
	struct bot_acl *a = acl(json);
	const char *why = a ? check(a, user, NULL, "x", "cmd", "", 0) : "bad acl";
	bot_acl_free(a);
	return !strcmp(why, "allowed") ? "match" : "no match";
}

int main(void)
{
	struct bot_acl *a = acl("{}");
	CHECK_STR(check(a, "@bob", NULL, "builtin", "echo", "", 0), "allowed", "no rules: allowed");
	CHECK_STR(check(a, "@bob", NULL, "builtin", "status", "", 1), ADMIN, "admin-only, no admins");
	bot_acl_add_admin(a, "@ad*");
	CHECK_STR(check(a, "@admin", NULL, "builtin", "status", "", 1), "allowed", "admin glob");
	CHECK_STR(check(a, "@admin", "#ops", "builtin", "status", "", 1), ADMIN_ROOM,
	          "admin command in a room");
	bot_acl_free(a);

	a = acl("{\"ACCESS_CONTROLS\": {"
	        "\"echo\": {\"allowusers\": [\"@bob\", \"*err\"]},"
	        "\"Ops:*\": {\"denyusers\": \"@eve\", \"allowmuc\": false},"
	        "\"ops:deploy\": {\"allowusers\": \"@nobody\"},"
	        "\"room*\": {\"allowrooms\": [\"#ok\"], \"denyrooms\": [\"#ok2\"]},"
	        "\"dm\": {\"allowprivate\": false},"
	        "\"num\": {\"allowusers\": [123]},"
	        "\"args\": {\"allowargs\": [\"safe*\"], \"denyargs\": [\"*--force*\"]},"
	        "\"adm\": {\"allowmuc\": true},"
	        "\"nul\": {\"allowmuc\": null}"
	        "}, \"BOT_ADMINS\": [\"@root\"]}");
	CHECK(a != NULL, "rules load");
	CHECK_STR(check(a, "@bob", NULL, "builtin", "echo", "", 0), "allowed", "allowusers hit");
	CHECK_STR(check(a, "@Bob", NULL, "builtin", "echo", "", 0), USER, "users case-sensitive");
	CHECK_STR(check(a, "@gerr", NULL, "builtin", "echo", "", 0), "allowed", "*err glob");
	CHECK_STR(check(a, "@bob", NULL, "builtin", "ECHO", "", 0), "allowed",
	          "bare key matches *:cmd without case");
	CHECK_STR(check(a, "@eve", NULL, "ops", "restart", "", 0), USER, "Plugin:* without case");
	CHECK_STR(check(a, "@bob", "#r", "ops", "restart", "", 0), MUC, "allowmuc false");
	CHECK_STR(check(a, "@bob", NULL, "ops", "deploy", "", 0), "allowed",
	          "first match wins (Ops:* before ops:deploy)");
	CHECK_STR(check(a, "@bob", "#ok", "x", "roomy", "", 0), "allowed", "allowrooms hit");
	CHECK_STR(check(a, "@bob", "#no", "x", "roomy", "", 0), ROOM, "allowrooms miss");
	CHECK_STR(check(a, "@bob", NULL, "x", "roomy", "", 0), "allowed", "room rules not in DM");
	CHECK_STR(check(a, "@bob", NULL, "x", "dm", "", 0), PRIV, "allowprivate false");
	CHECK_STR(check(a, "@bob", "#r", "x", "dm", "", 0), "allowed", "allowprivate only in DM");
	CHECK_STR(check(a, "123", NULL, "x", "num", "", 0), "allowed", "numbers as text");
	CHECK_STR(check(a, "@bob", NULL, "x", "args", "safe one", 0), "allowed", "allowargs");
	CHECK_STR(check(a, "@bob", NULL, "x", "args", "other", 0), ARGS, "allowargs miss");
	CHECK_STR(check(a, "@bob", NULL, "x", "args", "safe --force", 0), ARGS, "denyargs");
	CHECK_STR(check(a, "@root", "#r", "x", "adm", "", 1), "allowed", "admin in room with allowmuc true");
	CHECK_STR(check(a, "@bob", NULL, "x", "adm", "", 1), ADMIN, "not an admin");
	CHECK_STR(check(a, "@bob", "#r", "x", "nul", "", 0), "allowed", "null means unset (no crash)");
	bot_acl_free(a);

	a = acl("{\"ACCESS_CONTROLS_DEFAULT\": {\"allowusers\": [\"@bob\"]},"
	        " \"ACCESS_CONTROLS\": {\"echo\": {\"allowmuc\": false}}}");
	CHECK_STR(check(a, "@eve", NULL, "builtin", "help", "", 0), USER, "default applies");
	CHECK_STR(check(a, "@eve", NULL, "builtin", "echo", "", 0), USER, "rule merged over default");
	CHECK_STR(check(a, "@bob", "#r", "builtin", "echo", "", 0), MUC, "rule's own setting");
	bot_acl_free(a);


	/* globs as Python's fnmatch */
	CHECK_STR(glob("@b?b", "@bob"), "match", "? takes one character");
	CHECK_STR(glob("@b?b", "@b\xc3\xb6" "b"), "match", "? takes one UTF-8 character");
	CHECK_STR(glob("@b[aeiou]b", "@bob"), "match", "[seq]");
	CHECK_STR(glob("@b[!aeiou]b", "@bob"), "no match", "[!seq]");
	CHECK_STR(glob("@b[a-p]b", "@bob"), "match", "[a-z] range");
	CHECK_STR(glob("@[]x", "@]x"), "no match", "[] with no second ] is literal");
	CHECK_STR(glob("@[]x]", "@x"), "match", "] first in a set is a member");
	CHECK_STR(glob("@[x", "@[x"), "match", "[ without ] is itself");
	CHECK_STR(glob("@a\\\\*", "@a\\b"), "match", "no backslash escapes");
	CHECK_STR(glob("@[^a]", "@^"), "match", "^ is a member, not a negation (Python)");
	CHECK_STR(glob("*", ""), "match", "* takes nothing");
	CHECK_STR(glob("@*b*c", "@abxc"), "match", "* backtracks");
	CHECK_STR(glob("@*b*c", "@abxd"), "no match", "* backtracks and fails");
	{
		/* many stars against a long name: at most pattern x text steps */
		char user[20001];
		memset(user, 'a', sizeof user - 1);
		user[sizeof user - 1] = 0;
		CHECK_STR(glob("*a*a*a*a*a*a*a*a*a*a*a*a*b", user), "no match", "hostile stars end");
	}

	/* denyargs sees what the command gets (issue 12.6) */
	a = acl("{\"ACCESS_CONTROLS\": {\"args\": {\"denyargs\": [\"*--force*\"]},"
	        " \"only\": {\"allowargs\": [\"status\", \"list *\", \"show ?\"]},"
	        " \"word\": {\"denyargs\": [\"-rf\"]}}}");
	static const char *const bypass[] = {
		"\xe2\x80\x94" "force", "--\"force\"", "-\\-force", "'--'force", "x \"--\"force y",
		"\xe2\x80\x9c--force\xe2\x80\x9d",
	};
	for (size_t i = 0; i < sizeof bypass / sizeof *bypass; i++) {
		char what[100];
		snprintf(what, sizeof what, "denyargs *--force* refuses %s", bypass[i]);
		CHECK_STR(check(a, "@bob", NULL, "x", "args", bypass[i], 0), ARGS, what);
	}
	CHECK_STR(check(a, "@bob", NULL, "x", "args", "--forc e", 0), "allowed", "--forc e is not --force");
	CHECK_STR(check(a, "@bob", NULL, "x", "args", "it's", 0), "allowed",
	          "unsplittable text: the typed text alone");
	CHECK_STR(check(a, "@bob", NULL, "x", "args", "'it --force", 0), ARGS,
	          "unsplittable text still matched as typed");
	CHECK_STR(check(a, "@bob", NULL, "x", "word", "a -rf b", 0), ARGS, "a glob on one word");
	CHECK_STR(check(a, "@bob", NULL, "x", "word", "a '-r'f b", 0), ARGS, "one word, unquoted");
	CHECK_STR(check(a, "@bob", NULL, "x", "word", "a -rfx", 0), "allowed", "a word is whole");
	CHECK_STR(check(a, "@bob", NULL, "x", "only", "status", 0), "allowed", "allowargs hit");
	CHECK_STR(check(a, "@bob", NULL, "x", "only", "show  a", 0), ARGS,
	          "allowargs: the typed text must match too");
	CHECK_STR(check(a, "@bob", NULL, "x", "only", "list a", 0), "allowed", "allowargs glob");
	CHECK_STR(check(a, "@bob", NULL, "x", "only", "list ' ;x'", 0), "allowed",
	          "allowargs: typed and joined both match");
	CHECK_STR(check(a, "@bob", NULL, "x", "only", "stat\"\"us", 0), ARGS,
	          "allowargs: joined words match, typed text does not");
	bot_acl_free(a);

	/* IRC names compare with the network's case mapping (issue 12.9) */
	a = acl("{\"ACCESS_CONTROLS\": {\"cmd\": {\"denyusers\": [\"mallory!*@*\", \"*!*@EVIL.example\","
	        " \"x[[]1]!*@*\", \"*!Ident@*\"], \"denyrooms\": [\"#Secret\"]}}}");
	CHECK_STR(irc_check(a, "MALLORY!m@host", NULL, NULL, 0), USER, "MALLORY is mallory");
	CHECK_STR(irc_check(a, "mallory!m@host", NULL, NULL, 0), USER, "mallory is mallory");
	CHECK_STR(irc_check(a, "mallory2!m@host", NULL, NULL, 0), "allowed", "mallory2 is not");
	CHECK_STR(irc_check(a, "eve!e@evil.EXAMPLE", NULL, NULL, 0), USER, "host without case");
	CHECK_STR(irc_check(a, "X{1}!x@host", NULL, NULL, 0), USER, "rfc1459: X{1} is x[1]");
	CHECK_STR(irc_check(a, "X{1}!x@host", NULL, "ascii", 0), "allowed", "ascii: X{1} is not x[1]");
	CHECK_STR(irc_check(a, "X[1]!x@host", NULL, "ascii", 0), USER, "ascii: X[1] is x[1]");
	CHECK_STR(irc_check(a, "bob!Ident@host", NULL, NULL, 0), USER, "user part as it is");
	CHECK_STR(irc_check(a, "bob!ident@host", NULL, NULL, 0), "allowed", "user part keeps case");
	CHECK_STR(irc_check(a, "Bob!MALLORY@host", NULL, NULL, 0), "allowed",
	          "the nick's folding stops at the !");
	CHECK_STR(irc_check(a, "bob!b@host", "#SECRET", NULL, 0), ROOM, "channels without case");
	CHECK_STR(irc_check(a, "bob!b@host", "#secret", NULL, 0), ROOM, "channels without case (2)");
	bot_acl_free(a);
	a = acl("{\"ACCESS_CONTROLS\": {\"cmd\": {\"allowusers\": [\"alice!*@*\", \"@carol\"],"
	        " \"allowrooms\": [\"#ops\"]}}, \"BOT_ADMINS\": [\"alice!*@*.example\"]}");
	CHECK_STR(irc_check(a, "Alice!a@h.example", NULL, NULL, 0), "allowed", "Alice passes alice");
	CHECK_STR(irc_check(a, "@CAROL", NULL, NULL, 0), "allowed", "a bare @nick folds whole");
	CHECK_STR(irc_check(a, "Alice!a@h.example", "#OPS", NULL, 0), "allowed", "#OPS is #ops");
	CHECK_STR(irc_check(a, "ALICE!a@H.EXAMPLE", NULL, NULL, 1), "allowed", "admin globs fold too");
	CHECK_STR(check(a, "Alice!a@h", NULL, "x", "cmd", "", 0), USER,
	          "other backends: users byte for byte, as errbot");
	bot_acl_free(a);

	CHECK_STR(load_error("{\"ACCESS_CONTROLS\": {\n  \"echo\": {\"allowusers\": [\"@bob\"] \n  \"x\": 1}}"),
	          "FILE:3: Expected separator between values (column 5)", "syntax error names line");
	CHECK_STR(load_error("{\"ACCESS_CONTROLS\": {\"echo\": {\"allowuser\": [\"@bob\"]}}}"),
	          "FILE: ACCESS_CONTROLS: \"echo\": allowuser: unknown setting (known: allowusers, "
	          "denyusers, allowrooms, denyrooms, allowmuc, allowprivate, allowargs, denyargs)",
	          "typo named");
	CHECK_STR(load_error("{\"ACCESS_CONTROLS\": {\"echo\": {\"allowmuc\": \"no\"}}}"),
	          "FILE: ACCESS_CONTROLS: \"echo\": allowmuc: expected true or false", "bad bool");
	CHECK_STR(load_error("[]"), "FILE: expected an object", "not an object");
	CHECK_STR(load_error(""), "FILE: empty file", "empty");
	CHECK_STR(load_error("{} {}"), "FILE: more than one JSON value", "two values");
	CHECK(!strncmp(load_error("{\"BOT_ADMINS\": [\"@a\"]}"), "loaded", 6), "admins only");
	return unit_done();
}
