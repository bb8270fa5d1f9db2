/* Unit tests for lib/ratelimit.c: buckets per key and server pauses. */
#include "bot.h"
#include "failure.h"
#include "ratelimit.h"
#include "unit.h"

static void test_bucket(void)
{
	struct bot_rate *r = bot_rate_new(5, 1);   /* IRC's default: 5 at once, then 1/s */
	long long t = 1000000;
	int sent = 0;
	while (bot_rate_wait(r, "irc", t) == 0 && sent < 100) {
		bot_rate_take(r, "irc", t);
		sent++;
	}
	CHECK(sent == 5, "a burst of 5 goes at once");
	long long w = bot_rate_wait(r, "irc", t);
	CHECK(w > 900 && w <= 1001, "the sixth waits about a second");
	CHECK(bot_rate_wait(r, "irc", t + 1001) == 0, "and goes after it");
	CHECK(bot_rate_wait(r, "other", t) == 0, "another key has its own bucket");
	bot_rate_take(r, "irc", t + 1001);
	CHECK(bot_rate_wait(r, "irc", t + 1500) > 0, "one token a second, not more");
	CHECK(bot_rate_wait(r, "irc", t + 60000) == 0, "refilled after a minute");
	for (int i = 0; i < 5; i++)
		bot_rate_take(r, "irc", t + 60000);
	CHECK(bot_rate_wait(r, "irc", t + 60000) > 0, "a refill stops at the burst");
	bot_rate_free(r);
}

static void test_pauses(void)
{
	struct bot_rate *r = bot_rate_new(1, 0);   /* no bucket: pauses only */
	long long t = 5000;
	CHECK(bot_rate_wait(r, "#a", t) == 0, "no bucket, no pause: now");
	jv f = bot_fail_with_retry(bot_fail_code("send_failed", 1, "429"), 2, NULL);
	bot_rate_feed(r, "#a", f, t);
	CHECK(bot_rate_wait(r, "#a", t) == 2000, "a 429 on #a pauses #a for its retry_after");
	CHECK(bot_rate_wait(r, "#b", t) == 0, "and not #b");
	jv_free(f);
	f = bot_fail_with_retry(bot_fail_code("send_failed", 1, "429"), 0.5, "global");
	bot_rate_feed(r, "#b", f, t);
	CHECK(bot_rate_wait(r, "#c", t) == 500, "a global 429 pauses every key");
	CHECK(bot_rate_wait(r, "#a", t) == 2000, "the longer pause wins");
	jv_free(f);
	f = bot_fail_code("send_failed", 1, "503");
	bot_rate_feed(r, "#d", f, t);
	CHECK(bot_rate_wait(r, "#d", t + 600) == 0, "a failure without retry_after pauses nothing");
	jv_free(f);
	bot_rate_free(r);
}

static void test_bounded(void)
{
	struct bot_rate *r = bot_rate_new(1, 1);
	char key[32];
	for (int i = 0; i < 10 * BOT_RATE_KEYS; i++) {
		snprintf(key, sizeof key, "#room%d", i);
		bot_rate_take(r, key, 1000 + i);
	}
	CHECK(bot_rate_wait(r, "#room10239", 1000 + 10239) > 0, "the newest key is remembered");
	bot_rate_take(r, "#busy", 0);
	bot_rate_pause(r, "#busy", 1000000);
	for (int i = 0; i < 2 * BOT_RATE_KEYS; i++) {
		snprintf(key, sizeof key, "#idle%d", i);
		bot_rate_wait(r, key, 500000);
	}
	CHECK(bot_rate_wait(r, "#busy", 500000) == 500000, "a paused key outlives idle ones");
	bot_rate_free(r);
}

int main(void)
{
	test_bucket();
	test_pauses();
	test_bounded();
	return unit_done();
}
