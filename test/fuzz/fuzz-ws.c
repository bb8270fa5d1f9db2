/* fuzz-ws: the WebSocket frame path (lib/http/ws.c) on any bytes, as if a
 * server sent them after the 101: libwslay parses them through ws.c's
 * recv callback, and every message ws.c hands on must be whole and within
 * max_message.  The first byte picks max_message (64 << (b % 8)). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bot.h"
#include "http.h"

struct seen {
	size_t max, total;
};

static void on_message(void *ud, int binary, const char *data, size_t len)
{
	struct seen *s = ud;
	(void)binary;
	if (len > s->max) {
		fprintf(stderr, "FAILED PROMISE: a message of %zu bytes over max_message %zu\n", len, s->max);
		abort();
	}
	if (len > 0 && (data[0] == 0 || data[len - 1] == 0))
		s->total++;   /* touch both ends: ASan checks the bytes are ours */
	s->total += len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	struct seen s = { (size_t)64 << (data[0] % 8), 0 };
	struct bot_ws_cb cb = { .message = on_message };
	bot_ws_feed_frames(data + 1, size - 1, s.max, &cb, &s);
	if (s.total > size * 2 + 16) {
		fprintf(stderr, "FAILED PROMISE: more message bytes than input\n");
		abort();
	}
	return 0;
}
