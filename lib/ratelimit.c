/* The one rate limiter: token buckets per key and server-imposed pauses. */
#include <stdlib.h>
#include <string.h>

#include "bot.h"
#include "failure.h"
#include "ratelimit.h"

struct bucket {
	char *key;
	double tokens, burst, per_second;
	long long refilled_ms;   /* when tokens was last brought up to date */
	long long paused_until;  /* the server's pause for this key */
	long long used_ms;       /* last look-up, to pick what to forget */
};

struct bot_rate {
	double burst, per_second;   /* the shape of a new key */
	long long paused_until;     /* a global pause */
	struct bucket b[BOT_RATE_KEYS];
	int n;
};

struct bot_rate *bot_rate_new(double burst, double per_second)
{
	struct bot_rate *r = calloc(1, sizeof *r);
	if (!r)
		abort();
	r->burst = burst > 1 ? burst : 1;
	r->per_second = per_second;
	return r;
}

void bot_rate_free(struct bot_rate *r)
{
	if (!r)
		return;
	for (int i = 0; i < r->n; i++)
		free(r->b[i].key);
	free(r);
}

static void refill(struct bucket *b, long long now_ms)
{
	if (b->per_second <= 0 || now_ms <= b->refilled_ms)
		return;
	b->tokens += (double)(now_ms - b->refilled_ms) * b->per_second / 1000.0;
	if (b->tokens > b->burst)
		b->tokens = b->burst;
	b->refilled_ms = now_ms;
}

/* A key that costs nothing to forget: its bucket is full, no pause. */
static int idle(struct bucket *b, long long now_ms)
{
	refill(b, now_ms);
	return b->paused_until <= now_ms && (b->per_second <= 0 || b->tokens >= b->burst);
}

/* The slot to reuse when the table is full: an idle key, else the one
 * looked up longest ago. */
static int victim(struct bot_rate *r, long long now_ms)
{
	int oldest = 0;
	for (int i = 0; i < r->n; i++) {
		if (idle(&r->b[i], now_ms))
			return i;
		if (r->b[i].used_ms < r->b[oldest].used_ms)
			oldest = i;
	}
	return oldest;
}

static struct bucket *lookup(struct bot_rate *r, const char *key, long long now_ms)
{
	if (!key)
		key = "";
	for (int i = 0; i < r->n; i++)
		if (!strcmp(r->b[i].key, key)) {
			r->b[i].used_ms = now_ms;
			return &r->b[i];
		}
	int i = r->n < BOT_RATE_KEYS ? r->n++ : victim(r, now_ms);
	struct bucket *b = &r->b[i];
	free(b->key);
	*b = (struct bucket){.key = strdup(key), .tokens = r->burst, .burst = r->burst,
	                     .per_second = r->per_second, .refilled_ms = now_ms, .used_ms = now_ms};
	if (!b->key)
		abort();
	return b;
}

void bot_rate_shape(struct bot_rate *r, const char *key, double burst, double per_second)
{
	struct bucket *b = lookup(r, key, bot_now_ms());
	b->burst = burst > 1 ? burst : 1;
	b->per_second = per_second;
	if (b->tokens > b->burst)
		b->tokens = b->burst;
}

long long bot_rate_wait(struct bot_rate *r, const char *key, long long now_ms)
{
	struct bucket *b = lookup(r, key, now_ms);
	refill(b, now_ms);
	long long wait = 0;
	if (r->paused_until > now_ms)
		wait = r->paused_until - now_ms;
	if (b->paused_until - now_ms > wait)
		wait = b->paused_until - now_ms;
	if (b->per_second > 0 && b->tokens < 1) {
		long long refill_ms = (long long)((1 - b->tokens) * 1000.0 / b->per_second) + 1;
		if (refill_ms > wait)
			wait = refill_ms;
	}
	return wait;
}

void bot_rate_take(struct bot_rate *r, const char *key, long long now_ms)
{
	struct bucket *b = lookup(r, key, now_ms);
	refill(b, now_ms);
	if (b->per_second > 0)
		b->tokens -= 1;
}

void bot_rate_pause(struct bot_rate *r, const char *key, long long until_ms)
{
	if (!key) {
		if (until_ms > r->paused_until)
			r->paused_until = until_ms;
		return;
	}
	struct bucket *b = lookup(r, key, bot_now_ms());
	if (until_ms > b->paused_until)
		b->paused_until = until_ms;
}

void bot_rate_feed(struct bot_rate *r, const char *key, jv failure, long long now_ms)
{
	double s = bot_fail_retry_after(failure);
	if (s <= 0)
		return;
	long long until = now_ms + (long long)(s * 1000.0 + 0.5);
	jv o = jv_invalid_get_msg(jv_copy(failure));
	const char *scope = bot_str(o, "scope");
	bot_rate_pause(r, scope && !strcmp(scope, "global") ? NULL : key, until);
	jv_free(o);
}
