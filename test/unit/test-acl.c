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
