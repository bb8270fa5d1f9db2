/* fuzz-ndjson: the NDJSON reader on any bytes, fed through a pipe in
 * chunks whose size the input chooses, so that lines cross read
 * boundaries; every event read is written back through the writer.
 * The first byte picks the chunk size, the second the line maximum. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bot.h"

/* A broken promise: say which, then crash so that libFuzzer keeps the input. */
static void fail(const char *why)
{
	fprintf(stderr, "FAILED PROMISE: %s\n", why);
	abort();
}

static void drain(struct bot_reader *r, struct bot_writer *w)
{
	jv ev;
	int rc;
	while ((rc = bot_reader_next(r, &ev)) != 0) {
		size_t len;
		const char *raw = bot_reader_raw(r, &len);
		if (rc == 1 && (!raw || memchr(raw, 0, len)))
			fail("a good event always has its raw line");
		bot_write(w, ev);
		if (raw)
			bot_write_raw(w, raw, len);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2 || size > 60000)
		return 0;
	size_t chunk = 1 + data[0] % 64 * 8;
	size_t maxline = 16 + (size_t)data[1] * 8;
	data += 2;
	size -= 2;

	int p[2];
	if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0)
		fail("pipe2");
	int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	struct bot_reader *r = bot_reader_new(p[0], "<fuzz>", maxline);
	struct bot_writer *w = bot_writer_new(devnull);
	for (size_t off = 0; off < size; off += chunk) {
		size_t n = size - off < chunk ? size - off : chunk;
		if (write(p[1], data + off, n) != (ssize_t)n)
			fail("write to the pipe");
		if (bot_reader_fill(r) < 0)
			fail("a pipe read never fails");
		drain(r, w);
	}
	close(p[1]);
	while (bot_reader_fill(r) > 0)
		drain(r, w);
	drain(r, w);   /* the last line, without a newline */
	if (!bot_reader_eof(r))
		fail("everything written was consumed");
	bot_writer_free(w);
	bot_reader_free(r);
	close(devnull);
	close(p[0]);
	return 0;
}
