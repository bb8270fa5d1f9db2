/* bot_utf8_valid: the eight-bytes-at-a-time ASCII skip must not change a
 * verdict, wherever in the line the first non-ASCII byte falls. */
#include <stdio.h>
#include <string.h>

#include "bot.h"
#include "unit.h"

/* An ASCII line of len bytes with seq (n bytes) written at offset at. */
static size_t line_with(char *buf, size_t len, size_t at, const char *seq, size_t n)
{
	memset(buf, 'a', len);
	memcpy(buf + at, seq, n);
	return len;
}

/* Every offset 0..24 in a 40-byte line: a verdict differing from want is
 * counted, and the check reports the first offset that differs. */
static void at_every_offset(const char *seq, size_t n, int want, const char *what)
{
	char buf[64], msg[160];
	int bad = -1;
	for (size_t at = 0; at <= 24 && bad < 0; at++)
		if (bot_utf8_valid(buf, line_with(buf, 40, at, seq, n)) != want)
			bad = (int)at;
	snprintf(msg, sizeof msg, "%s, at every offset (first wrong: %d)", what, bad);
	CHECK(bad < 0, msg);
}

int main(void)
{
	CHECK(bot_utf8_valid("", 0), "empty");
	CHECK(bot_utf8_valid("{\"type\":\"message\",\"body\":\"plain ascii\"}", 39), "ASCII line");
	at_every_offset("\xc3\xa9", 2, 1, "é (2 bytes)");
	at_every_offset("\xe2\x82\xac", 3, 1, "€ (3 bytes)");
	at_every_offset("\xf0\x9f\x9a\x80", 4, 1, "🚀 (4 bytes)");
	at_every_offset("\xff", 1, 0, "0xff");
	at_every_offset("\x80", 1, 0, "a stray continuation byte");
	at_every_offset("\xc0\xaf", 2, 0, "an overlong /");
	at_every_offset("\xed\xa0\x80", 3, 0, "a surrogate");
	at_every_offset("\xf4\x90\x80\x80", 4, 0, "past U+10FFFF");
	/* a sequence cut by the end of the line, after whole ASCII words */
	char buf[32];
	for (size_t len = 1; len <= 17; len++) {
		memset(buf, 'a', len);
		buf[len - 1] = (char)0xe2;
		if (bot_utf8_valid(buf, len)) {
			CHECK(0, "a sequence cut at the end is refused");
			return unit_done();
		}
	}
	CHECK(1, "a sequence cut at the end is refused, for every line length 1..17");
	/* the length is honoured: a bad byte just past it is not read as part */
	memcpy(buf, "abcdefghijklmnop\xff", 17);
	CHECK(bot_utf8_valid(buf, 16), "a bad byte past len is not looked at");
	CHECK(!bot_utf8_valid(buf, 17), "a bad byte at the last position is found");
	return unit_done();
}
