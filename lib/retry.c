/* retry.c: the one retry policy, for HTTP requests and sockets alike.
 *
 * A failure is a jv_invalid from bot_fail_code: {code, message, temporary,
 * retry_after?}.  The policy:
 *   - a permanent failure (temporary false, or a failure that is not
 *     classified at all) is never retried;
 *   - at most max_attempts attempts in all (--retries + 1);
 *   - the delay before attempt n+1 is capped exponential backoff with
 *     "equal jitter": d = min(cap, base * 2^(n-1)), then d/2 + U(0, d/2);
 *   - a retry_after from the server (HTTP Retry-After, Telegram's
 *     parameters.retry_after) is a floor: the delay is never shorter;
 *   - with give_up_after > 0, no attempt is scheduled that would start
 *     later than give_up_after seconds after bot_retry_init.
 */
#include <math.h>
#include <stdint.h>
#include <sys/random.h>
#include <unistd.h>

#include "bot.h"

#define RETRY_BASE_DEFAULT 0.5   /* seconds */
#define RETRY_CAP_DEFAULT  30.0

void bot_retry_init(struct bot_retry *r, int retries, double give_up_after)
{
	r->attempts = 0;
	r->max_attempts = retries < 0 ? 1 : retries + 1;
	r->give_up_after = give_up_after > 0 ? give_up_after : 0;
	r->base = RETRY_BASE_DEFAULT;
	r->cap = RETRY_CAP_DEFAULT;
	r->started_ms = bot_now_ms();
}

/* A uniform number in [0, 1).  The kernel's generator, so that the policy
 * keeps no state of its own; a hash of time and pid if that fails. */
static double uniform01(const struct bot_retry *r)
{
	uint64_t x;
	if (getrandom(&x, sizeof x, GRND_NONBLOCK) != (ssize_t)sizeof x) {
		x = (uint64_t)bot_now_ms() * 0x9E3779B97F4A7C15ull
		    ^ (uint64_t)getpid() << 32 ^ (uint64_t)r->attempts;
		x ^= x >> 31;
		x *= 0xBF58476D1CE4E5B9ull;
		x ^= x >> 27;
	}
	return (double)(x >> 11) / 9007199254740992.0;   /* 2^53 */
}

/* Look-only: the object inside a failure (an invalid's message, or an
 * object passed as is).  Returns a new reference, or null. */
static jv failure_details(jv failure)
{
	if (jv_is_valid(failure))
		return jv_get_kind(failure) == JV_KIND_OBJECT ? jv_copy(failure)
		                                               : jv_null();
	jv msg = jv_invalid_get_msg(jv_copy(failure));
	if (jv_get_kind(msg) != JV_KIND_OBJECT) {
		jv_free(msg);
		return jv_null();
	}
	return msg;
}

/* The backoff before attempt n + 1, after n failed ones (n >= 1). */
static double backoff(const struct bot_retry *r, int n)
{
	double d = r->base * ldexp(1.0, n - 1 > 60 ? 60 : n - 1);
	if (d > r->cap)
		d = r->cap;
	return d / 2 + uniform01(r) * d / 2;
}

double bot_retry_next(struct bot_retry *r, jv failure)
{
	r->attempts++;
	jv d = failure_details(failure);
	int temporary = bot_true(d, "temporary");
	jv ra = bot_get(d, "retry_after");
	double retry_after = jv_get_kind(ra) == JV_KIND_NUMBER ? jv_number_value(ra) : 0;
	jv_free(ra);
	jv_free(d);

	if (!temporary || r->attempts >= r->max_attempts)
		return -1;
	double delay = backoff(r, r->attempts);
	if (isfinite(retry_after) && retry_after > delay)
		delay = retry_after;
	if (r->give_up_after > 0) {
		double elapsed = (bot_now_ms() - r->started_ms) / 1000.0;
		if (elapsed + delay > r->give_up_after)
			return -1;
	}
	return delay;
}
