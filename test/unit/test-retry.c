/* Unit tests for lib/retry.c: the one retry policy. */
#include "bot.h"
#include "unit.h"

/* A temporary failure, with a retry_after when ra >= 0. */
static jv temp_failure(double ra)
{
	jv f = bot_fail_code("send_failed", 1, "HTTP 503");
	if (ra < 0)
		return f;
	jv m = jv_invalid_get_msg(f);
	m = jv_object_set(m, jv_string("retry_after"), jv_number(ra));
	return jv_invalid_with_msg(m);
}

static void test_permanent(void)
{
	struct bot_retry r;
	bot_retry_init(&r, 5, 0);
	jv f = bot_fail_code("denied", 0, "HTTP 403");
	CHECK(bot_retry_next(&r, f) < 0, "a permanent failure is never retried");
	CHECK(r.attempts == 1, "it counts as one attempt");
	jv_free(f);

	bot_retry_init(&r, 5, 0);
	f = bot_fail("no classification");
	CHECK(bot_retry_next(&r, f) < 0, "an unclassified failure is not retried");
	jv_free(f);

	bot_retry_init(&r, 5, 0);
	f = bot_fail_code("denied", 0, "HTTP 400");
	jv m = jv_invalid_get_msg(f);
	m = jv_object_set(m, jv_string("retry_after"), jv_number(1));
	f = jv_invalid_with_msg(m);
	CHECK(bot_retry_next(&r, f) < 0, "retry_after does not make a permanent failure temporary");
	jv_free(f);
}

static void test_exhausted(void)
{
	struct bot_retry r;
	jv f = temp_failure(-1);
	bot_retry_init(&r, 0, 0);
	CHECK(bot_retry_next(&r, f) < 0, "--retries 0: one attempt only");

	bot_retry_init(&r, 2, 0);
	CHECK(r.max_attempts == 3, "max_attempts is retries + 1");
	CHECK(bot_retry_next(&r, f) >= 0, "retry 1 of 2");
	CHECK(bot_retry_next(&r, f) >= 0, "retry 2 of 2");
	CHECK(bot_retry_next(&r, f) < 0, "then give up");
	CHECK(r.attempts == 3, "after three attempts");

	bot_retry_init(&r, -3, 0);
	CHECK(bot_retry_next(&r, f) < 0, "negative retries mean none");
	jv_free(f);
}

static void test_backoff_bounds(void)
{
	struct bot_retry r;
	jv f = temp_failure(-1);
	int ok = 1;
	for (int trial = 0; trial < 200; trial++) {
		bot_retry_init(&r, 20, 0);
		r.base = 1;
		r.cap = 8;
		for (int n = 1; n <= 10; n++) {
			double want = n - 1 < 3 ? (double)(1 << (n - 1)) : 8;
			double d = bot_retry_next(&r, f);
			if (d < want / 2 || d > want)
				ok = 0;
		}
	}
	CHECK(ok, "delays lie in [d/2, d] with d = min(cap, base*2^(n-1))");

	/* Jitter: 200 first delays are not all the same. */
	double first = -1;
	int varied = 0;
	for (int trial = 0; trial < 200; trial++) {
		bot_retry_init(&r, 1, 0);
		double d = bot_retry_next(&r, f);
		if (first < 0)
			first = d;
		else if (d != first)
			varied = 1;
	}
	CHECK(varied, "delays are jittered");

	bot_retry_init(&r, 1000, 0);
	double d = 0;
	for (int n = 0; n < 999; n++)
		d = bot_retry_next(&r, f);
	CHECK(d > 0 && d <= r.cap, "a long run stays within the cap");
	jv_free(f);
}

static void test_retry_after(void)
{
	struct bot_retry r;
	bot_retry_init(&r, 3, 0);
	jv f = temp_failure(7);
	double d = bot_retry_next(&r, f);
	CHECK(d >= 7 && d < 7.001, "Retry-After 7 gives a delay of 7 s");
	jv_free(f);

	bot_retry_init(&r, 3, 0);
	r.base = 100;
	r.cap = 100;
	f = temp_failure(1);
	d = bot_retry_next(&r, f);
	CHECK(d >= 50, "retry_after is a floor, not a ceiling");
	jv_free(f);

	bot_retry_init(&r, 3, 0);
	f = temp_failure(0);
	d = bot_retry_next(&r, f);
	CHECK(d > 0, "retry_after 0 still backs off");
	jv_free(f);

	/* An object given as is (not wrapped in an invalid) is read too. */
	bot_retry_init(&r, 3, 0);
	jv o = JV_OBJECT(jv_string("temporary"), jv_true(),
	                 jv_string("retry_after"), jv_number(2));
	d = bot_retry_next(&r, o);
	CHECK(d >= 2, "a failure object passed as a value is read");
	jv_free(o);
}

static void test_give_up_after(void)
{
	struct bot_retry r;
	bot_retry_init(&r, 100, 5);
	jv f = temp_failure(10);
	CHECK(bot_retry_next(&r, f) < 0, "a delay past --give-up-after gives up");
	jv_free(f);

	bot_retry_init(&r, 100, 5);
	f = temp_failure(2);
	CHECK(bot_retry_next(&r, f) >= 2, "a delay within --give-up-after is taken");
	r.started_ms -= 4000;   /* pretend 4 s went by */
	CHECK(bot_retry_next(&r, f) < 0, "time already spent counts");
	jv_free(f);

	bot_retry_init(&r, 100, 0);
	f = temp_failure(3600);
	CHECK(bot_retry_next(&r, f) == 3600, "no --give-up-after: any retry_after is honoured");
	jv_free(f);
}

int main(void)
{
	test_permanent();
	test_exhausted();
	test_backoff_bounds();
	test_retry_after();
	test_give_up_after();
	return unit_done();
}
