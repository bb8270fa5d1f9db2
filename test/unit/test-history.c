/* history.c: whose history a sender has, and errbot's recall order. */
#include <stdlib.h>

#include "bot.h"
#include "dispatch.h"
#include "unit.h"

static const char *key_of(const char *json, char *buf, size_t n)
{
	jv from = jv_parse(json);
	bot_history_key(from, buf, n);
	jv_free(from);
	return buf;
}

static void test_keys(void)
{
	char k[256];
	CHECK_STR(key_of("{\"kind\":\"person\",\"id\":\"@alice\",\"person\":\"@alice\",\"nick\":\"alice\","
	                 "\"client\":\"alice!~al@home.example\",\"aclattr\":\"alice!~al@home.example\"}",
	                 k, sizeof k),
	          "mask:~al@home.example", "IRC: the user@host of the client mask, not the nick");
	CHECK_STR(key_of("{\"kind\":\"occupant\",\"id\":\"#ops/alice\",\"room\":\"#ops\",\"nick\":\"alice\","
	                 "\"person\":\"@alice\",\"aclattr\":\"alice!~al@home.example\"}", k, sizeof k),
	          "mask:~al@home.example", "an occupant has the same key as the person");
	CHECK_STR(key_of("{\"kind\":\"person\",\"id\":\"@a\",\"account\":\"acct-1\","
	                 "\"client\":\"a!u@h\"}", k, sizeof k),
	          "account:acct-1", "an account wins over the mask");
	CHECK_STR(key_of("{\"kind\":\"person\",\"id\":\"@you\",\"person\":\"@you\"}", k, sizeof k),
	          "id:@you", "no account, no mask: the person");
	CHECK_STR(key_of("{\"kind\":\"person\",\"id\":\"@x\",\"client\":\"phone\",\"aclattr\":\"!@\"}", k,
	                 sizeof k),
	          "id:@x", "a client that is no mask is not used");
	CHECK_STR(key_of("\"@bare\"", k, sizeof k), "id:@bare", "a bare string id");
	CHECK_STR(key_of("{\"kind\":\"person\",\"id\":\"mask:~al@home.example\"}", k, sizeof k),
	          "id:mask:~al@home.example", "no id can pass for a mask's key");
}

static void test_recall(void)
{
	struct bot_history *h = bot_history_new();
	bot_history_add(h, "id:@a", "echo", "one");
	bot_history_add(h, "id:@a", "echo", "two");
	bot_history_add(h, "id:@a", "echo", "one");
	bot_history_add(h, "id:@b", "echo", "other");
	const char *name, *args;
	CHECK(bot_history_get(h, "id:@a", -1, &name, &args) && !strcmp(args, "one"), "!! is the last");
	CHECK(bot_history_get(h, "id:@a", 0, &name, &args) && !strcmp(args, "two"),
	      "an identical pair moved to the end");
	CHECK(!bot_history_get(h, "id:@c", -1, &name, &args), "nobody else's");
	jv t = bot_history_text(h, "id:@a", "!");
	CHECK_STR(jv_string_value(t), " 2:!echo two\n 1:!echo one", "the !history text");
	jv_free(t);
	bot_history_free(h);
}

int main(void)
{
	test_keys();
	test_recall();
	return unit_done();
}
