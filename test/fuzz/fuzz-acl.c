/* fuzz-acl: errbot's ACCESS_CONTROLS from any JSON, checked against any
 * message.  The input is the ACL text, a line "----", then a message
 * event, whose body is also tried as the arguments.  The answer is
 * allowed (NULL) or a denial text, nothing else.
 * Builds as a no-op until lib/acl.c (the dispatch work) is in the tree. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bot.h"
#include "dispatch.h"

#ifdef BOT_CMD_NAME_MAX
static void fail(const char *why)
{
	fprintf(stderr, "FAILED PROMISE: %s\n", why);
	abort();
}

static jv default_message(void)
{
	return jv_parse("{\"type\":\"message\",\"from\":{\"kind\":\"occupant\",\"id\":\"#ops/alice\","
	                "\"room\":\"#ops\",\"nick\":\"alice\",\"person\":\"@alice\"},"
	                "\"to\":{\"kind\":\"room\",\"id\":\"#ops\"},\"body\":\"!deploy now\"}");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data, *sep = memmem(text, size, "\n----\n", 6);
	size_t acl_len = sep ? (size_t)(sep - text) : size;
	jv conf = jv_parse_sized(text, (int)acl_len);
	if (!jv_is_valid(conf)) {
		jv_free(conf);
		return 0;
	}
	jv msg = sep ? jv_parse_sized(sep + 6, (int)(size - acl_len - 6)) : default_message();
	if (!jv_is_valid(msg) || jv_get_kind(msg) != JV_KIND_OBJECT) {
		jv_free(msg);
		msg = default_message();
	}
	jv err = jv_invalid();
	struct bot_acl *acl = bot_acl_new(conf, "<fuzz>", &err);
	if (!acl) {
		char buf[256];
		if (!bot_fail_message(err, buf, sizeof buf)[0])
			fail("a refused ACL says why");
		jv_free(err);
		jv_free(msg);
		return 0;
	}
	jv_free(err);
	static const char *const cmds[][3] = {
		{ "deploy", "deploy", "now" }, { "Deploy", "deploy_status", "" },
		{ "core", "help", "--all *" }, { "x", "", "" },
	};
	for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++)
		for (int admin = 0; admin < 2; admin++) {
			const char *why = bot_acl_check(acl, msg, cmds[i][0], cmds[i][1], cmds[i][2], admin);
			if (why && !*why)
				fail("a denial says why");
		}
	/* the message's own text as arguments: argv splitting on any bytes */
	const char *body = bot_str(msg, "body");
	if (body) {
		const char *why = bot_acl_check(acl, msg, "deploy", "deploy", body, 0);
		if (why && !*why)
			fail("a denial says why");
	}
	bot_acl_add_admin(acl, "@alice");
	(void)bot_acl_check(acl, msg, "deploy", "deploy", "now", 1);
	bot_acl_free(acl);
	jv_free(msg);
	return 0;
}
#else
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	(void)data;
	(void)size;
	return 0;
}
#endif
