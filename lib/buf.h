/* libbot (private): a growing byte string, always NUL-terminated. */
#ifndef BOT_BUF_H
#define BOT_BUF_H

#include <stdlib.h>
#include <string.h>

struct sbuf {
	char *s;
	size_t len, cap;
};

/* Append n bytes of s; out of memory aborts, as jq's allocator does. */
static inline void sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		while (cap < b->len + n + 1)
			cap *= 2;
		b->s = realloc(b->s, cap);
		if (!b->s)
			abort();
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

#endif
