/* fuzz-transcript: bot-dispatch --test's transcript reader on any bytes,
 * and the rewrite --update does.  Promises: a bad transcript is refused
 * with "NAME:LINE: why"; a good one, rewritten with answers, reads back
 * into the same inputs, and rewriting that with the same answers gives
 * the same text (after --update, --test passes). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bot.h"
#include "dispatch.h"

static void fail(const char *why)
{
	fprintf(stderr, "FAILED PROMISE: %s\n", why);
	abort();
}

/* Per input: a reply with its body (several lines, maybe), and for every
 * other input an error event about it and a card. */
static jv answers_for(jv inputs)
{
	jv all = jv_array();
	jv_array_foreach(inputs, i, in) {
		const char *body = bot_str(in, "body");
		jv outs = JV_ARRAY(bot_build_reply(jv_copy(in), body ? body : "ok", 0, 0, i % 3 == 0));
		if (i % 2)
			outs = jv_array_append(outs, bot_error_event("command_failed", body ? body : "x",
			                                             jv_copy(in)));
		if (i % 4 == 1)
			outs = jv_array_append(outs, JV_OBJECT(jv_string("type"), jv_string("card"),
			                                       jv_string("title"), jv_string("t")));
		all = jv_array_append(all, outs);
		jv_free(in);
	}
	jv_free(inputs);
	return all;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	jv err = jv_invalid();
	struct bot_transcript *t = bot_transcript_parse("f.chat", (const char *)data, size, &err);
	if (!t) {
		if (jv_get_kind(err) != JV_KIND_STRING || strncmp(jv_string_value(err), "f.chat:", 7))
			fail("a bad transcript is refused with NAME:LINE: why");
		jv_free(err);
		return 0;
	}
	jv_free(err);
	jv inputs = bot_transcript_inputs(t);
	jv answers = answers_for(jv_copy(inputs));
	jv text = bot_transcript_rewrite(t, jv_copy(answers), 0);
	const char *s = jv_string_value(text);
	size_t len = (size_t)jv_string_length_bytes(jv_copy(text));
	err = jv_invalid();
	struct bot_transcript *again = bot_transcript_parse("f.chat", s, len, &err);
	if (!again)
		fail("a rewritten transcript reads back");
	if (!jv_equal(jv_copy(inputs), bot_transcript_inputs(again)))
		fail("a rewritten transcript says the same");
	jv text2 = bot_transcript_rewrite(again, jv_copy(answers), 0);
	if (!jv_equal(jv_copy(text), jv_copy(text2)))
		fail("rewriting with the same answers changes nothing");
	jv_free(text2);
	jv_free(text);
	jv_free(answers);
	jv_free(inputs);
	jv_free(err);
	bot_transcript_free(again);
	bot_transcript_free(t);
	return 0;
}
