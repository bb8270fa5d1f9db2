/* Unit tests for lib/failure.c: the one failure table. */
#include "bot.h"
#include "failure.h"
#include "unit.h"

static void test_exit_table(void)
{
	jv f = bot_fail_code("send_failed", 1, "HTTP 503");
	CHECK(bot_fail_exit(f) == BOT_EX_TEMPFAIL, "temporary: 75");
	jv_free(f);
	f = bot_fail_code("denied", 1, "HTTP 429");
	CHECK(bot_fail_exit(f) == BOT_EX_TEMPFAIL, "temporary wins over the code");
	jv_free(f);
	static const struct { const char *code; int exit; } want[] = {
		{"denied", 77}, {"unauthorized", 77}, {"bad_input", 65}, {"bad_config", 78},
		{"bad_template", 78}, {"room_not_joined", 79}, {"room_does_not_exist", 80},
		{"usage", 64}, {"send_failed", 69}, {"unsupported", 69}, {"anything_else", 69},
	};
	for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
		f = bot_fail_code(want[i].code, 0, "x");
		char what[128];
		snprintf(what, sizeof what, "permanent %s: %d", want[i].code, want[i].exit);
		CHECK(bot_fail_exit(f) == want[i].exit, what);
		jv_free(f);
	}
	f = bot_fail("no code at all");
	CHECK(bot_fail_exit(f) == BOT_EX_UNAVAILABLE, "a bare message: 69");
	jv_free(f);
	CHECK(bot_fail_exit(jv_null()) == 0, "a valid value: 0");
}

static void test_round_trip(void)
{
	jv f = bot_fail_with_retry(bot_fail_code("send_failed", 1, "HTTP 429"), 2.5, "global");
	CHECK(bot_fail_retry_after(f) == 2.5, "retry_after read back");
	jv orig = jv_parse("{\"type\":\"message\",\"body\":\"hi\"}");
	jv ev = bot_fail_event(f, orig);
	CHECK_STR(bot_str(ev, "type"), "error", "an error event");
	CHECK_STR(bot_str(ev, "code"), "send_failed", "its code");
	CHECK_STR(bot_str(ev, "message"), "HTTP 429", "its message");
	CHECK_STR(bot_str(ev, "scope"), "global", "its scope");
	CHECK(bot_true(ev, "temporary"), "temporary kept");
	jv inner = bot_get(ev, "event");
	CHECK_STR(bot_str(inner, "body"), "hi", "the original carried");
	jv_free(inner);

	jv back = bot_fail_from_event(ev);
	CHECK(!jv_is_valid(back), "back to a failure");
	CHECK(bot_fail_exit(back) == BOT_EX_TEMPFAIL, "still temporary after the hop (75, not 69)");
	CHECK(bot_fail_retry_after(back) == 2.5, "retry_after survives the hop");
	jv_free(back);

	f = bot_fail("plain");
	ev = bot_fail_event(f, jv_null());
	CHECK_STR(bot_str(ev, "code"), "send_failed", "a bare message gets send_failed");
	CHECK(!bot_true(ev, "temporary") && jv_get_kind(bot_get(ev, "temporary")) == JV_KIND_FALSE,
	      "temporary false is written");
	CHECK(jv_get_kind(bot_get(ev, "event")) == JV_KIND_NULL, "no event field for null");
	jv_free(ev);

	back = bot_fail_from_event(jv_parse("{\"type\":\"sent\",\"id\":\"1\"}"));
	CHECK(bot_fail_exit(back) == BOT_EX_DATAERR, "a non-error event is bad input");
	jv_free(back);
	back = bot_fail_from_event(jv_parse("{\"type\":\"error\"}"));
	CHECK(bot_fail_exit(back) == BOT_EX_UNAVAILABLE, "an error event without code: 69");
	CHECK(bot_fail_retry_after(back) == 0, "and no pause");
	jv_free(back);
}

int main(void)
{
	test_exit_table();
	test_round_trip();
	return unit_done();
}
