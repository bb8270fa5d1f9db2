/* fuzz-validate: bot_validate, bot_derive, bot_build_reply and the
 * identifier look-ups on any JSON value.  The first byte picks the
 * build_reply flags; the rest is the JSON text. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bot.h"

/* A broken promise: say which, then crash so that libFuzzer keeps the input. */
static void fail(const char *why)
{
	fprintf(stderr, "FAILED PROMISE: %s\n", why);
	abort();
}

static void look(jv ev)
{
	static const char *const keys[] = { "from", "to", "identifier", "reactor", "room", "mention" };
	for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
		jv id = bot_get(ev, keys[i]);
		const char *k = bot_ident_kind(id);
		if (k && !bot_ident_id(id))
			fail("a valid identifier always has an id");
		(void)bot_ident_person(id);
		(void)bot_ident_room(id);
		(void)bot_ident_aclattr(id);
		jv_free(id);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int flags = data[0];
	jv v = jv_parse_sized((const char *)data + 1, (int)(size - 1));
	if (!jv_is_valid(v)) {
		jv_free(v);
		return 0;
	}
	look(v);
	jv ok = bot_validate(jv_copy(v));
	if (jv_is_valid(ok)) {
		if (!bot_str(ok, "type"))
			fail("what passes validation has a type");
		jv d = bot_derive(jv_copy(ok));
		if (jv_get_kind(d) != JV_KIND_OBJECT)
			fail("derive returns an object");
		jv_free(d);
		jv reply = bot_build_reply(jv_copy(ok), "reply", flags & 1, flags & 2, flags & 4);
		if (!bot_str(reply, "type"))
			fail("a reply is an event");
		jv_free(jv_dump_string(reply, 0));
	} else {
		char buf[256];
		bot_fail_message(ok, buf, sizeof buf);
		if (!buf[0])
			fail("a refusal always says why");
	}
	jv_free(ok);
	/* derive takes any object, build_reply anything: not only valid events */
	if (jv_get_kind(v) == JV_KIND_OBJECT)
		jv_free(bot_derive(jv_copy(v)));
	jv_free(bot_build_reply(v, NULL, flags & 1, flags & 2, flags & 4));
	return 0;
}
