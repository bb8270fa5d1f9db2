/* seen.c: the keys of the messages handled lately, in two generations of
 * an open-addressed table: when the newer one is full, or half the
 * duplicate window old, the older is dropped.  So a key is forgotten
 * within the window, as the server forgets a message id: an id that
 * comes back later is a new message. */
#include <stdlib.h>
#include <string.h>

#include "queue_priv.h"

#define SLOTS (QUEUE_SEEN_MAX * 2)   /* half full at most: short probes */

struct queue_seen {
	uint64_t *gen[2];      /* gen[0] the newer; 0 marks a free slot */
	size_t count;          /* keys in gen[0] */
	long long since_ms;    /* when gen[0] was begun */
	long long half_ms;     /* half the duplicate window */
};

struct queue_seen *queue_seen_new(long long window_ms)
{
	struct queue_seen *s = calloc(1, sizeof *s);
	if (!s)
		abort();
	s->half_ms = window_ms / 2;
	s->since_ms = bot_now_ms();
	for (int g = 0; g < 2; g++)
		if (!(s->gen[g] = calloc(SLOTS, sizeof *s->gen[g])))
			abort();
	return s;
}

void queue_seen_free(struct queue_seen *s)
{
	if (!s)
		return;
	free(s->gen[0]);
	free(s->gen[1]);
	free(s);
}

/* FNV-1a over the id, or the sequence with its top bit set: never 0. */
uint64_t queue_seen_key(const char *msgid, uint64_t seq)
{
	uint64_t h = 1469598103934665603ULL;
	if (!msgid)
		return seq | (1ULL << 63);
	for (const unsigned char *p = (const unsigned char *)msgid; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	h &= ~(1ULL << 63);
	return h ? h : 1;
}

static int table_has(const uint64_t *t, uint64_t key)
{
	for (size_t i = key % SLOTS;; i = (i + 1) % SLOTS) {
		if (t[i] == key)
			return 1;
		if (!t[i])
			return 0;
	}
}

static void rotate(struct queue_seen *s)
{
	uint64_t *old = s->gen[1];
	memset(old, 0, SLOTS * sizeof *old);
	s->gen[1] = s->gen[0];
	s->gen[0] = old;
	s->count = 0;
	s->since_ms = bot_now_ms();
}

/* Drop what is older than the window. */
static void age(struct queue_seen *s)
{
	long long now = bot_now_ms();
	if (now - s->since_ms >= 2 * s->half_ms) {
		rotate(s);
		rotate(s);
	} else if (now - s->since_ms >= s->half_ms)
		rotate(s);
}

int queue_seen_has(struct queue_seen *s, uint64_t key)
{
	age(s);
	return table_has(s->gen[0], key) || table_has(s->gen[1], key);
}

void queue_seen_add(struct queue_seen *s, uint64_t key)
{
	age(s);
	if (table_has(s->gen[0], key))
		return;
	if (s->count >= QUEUE_SEEN_MAX)
		rotate(s);
	size_t i = key % SLOTS;
	while (s->gen[0][i])
		i = (i + 1) % SLOTS;
	s->gen[0][i] = key;
	s->count++;
}
