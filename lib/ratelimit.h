/* ratelimit.c: the one rate limiter.  Token buckets per key (a chat, a
 * route, an IRC connection) and pauses a server imposes, globally or on one
 * key.  bot-send consults it before every part and feeds it every failure
 * that names a pause (a 429's retry_after and scope).  Times are monotonic
 * milliseconds (bot_now_ms).  Memory is bounded: at most BOT_RATE_KEYS keys
 * are tracked; an idle key (full bucket, no pause) makes room first.
 */
#ifndef BOT_RATELIMIT_H
#define BOT_RATELIMIT_H

#include <jv.h>

#define BOT_RATE_KEYS 1024

struct bot_rate;

/* Every key starts as a bucket of burst tokens refilling per_second
 * tokens a second; per_second <= 0 means no bucket (pauses only). */
struct bot_rate *bot_rate_new(double burst, double per_second);
void bot_rate_free(struct bot_rate *r);
/* A key of its own shape (a route the server described). */
void bot_rate_shape(struct bot_rate *r, const char *key, double burst, double per_second);
/* Milliseconds until a part for key may go (0: now): the longest of the
 * global pause, the key's pause and its bucket's refill. */
long long bot_rate_wait(struct bot_rate *r, const char *key, long long now_ms);
/* Spend one token of key (call when the part goes). */
void bot_rate_take(struct bot_rate *r, const char *key, long long now_ms);
/* Nothing for key (NULL: for any key) before until_ms. */
void bot_rate_pause(struct bot_rate *r, const char *key, long long until_ms);
/* Look-only: a failure with a retry_after pauses its scope: "global"
 * pauses every key, anything else (or none) the key it was sent on. */
void bot_rate_feed(struct bot_rate *r, const char *key, jv failure, long long now_ms);

#endif
