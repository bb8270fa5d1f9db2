/* The NDJSON reader and writer: every bad-input case gives its one error
 * event and the lines around it still flow. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "bot.h"
#include "unit.h"

/* A reader over a temporary file holding text. */
static struct bot_reader *reader_over(const char *text, size_t len, size_t max)
{
	char path[] = "/tmp/botpipe-unit-XXXXXX";
	int fd = mkstemp(path);
	if (write(fd, text, len) != (ssize_t)len)
		abort();
	lseek(fd, 0, SEEK_SET);
	unlink(path);
	return bot_reader_new(fd, "<test>", max);
}

/* Read everything: "E:<code>:<line>" for an error, the body or type else. */
static void read_all(const char *text, size_t len, size_t max, char *out, size_t n)
{
	struct bot_reader *r = reader_over(text, len, max);
	jv ev;
	int rc;
	out[0] = 0;
	size_t o = 0;
	while ((rc = bot_read_event(r, &ev)) != 0) {
		if (rc < 0) {
			jv line = jv_object_get(jv_copy(ev), jv_string("line"));
			o += (size_t)snprintf(out + o, n - o, "E:%s:%d|", bot_str(ev, "code"),
			                      (int)jv_number_value(line));
			jv_free(line);
		} else
			o += (size_t)snprintf(out + o, n - o, "%s|",
			                      bot_str(ev, "body") ? bot_str(ev, "body") : bot_str(ev, "type"));
		jv_free(ev);
		if (o >= n)
			o = n - 1;
	}
	close(bot_reader_fd(r));
	bot_reader_free(r);
}

#define CASE(input, want, what) do { \
	char got[4096]; \
	read_all(input, sizeof input - 1, 0, got, sizeof got); \
	CHECK_STR(got, want, what); \
} while (0)

static void test_bad_lines(void)
{
	CASE("{\"type\":\"message\",\"body\":\"a\"}\n{\"type\":\"message\",\"body\":\"b\"}\n",
	     "a|b|", "two good lines");
	CASE("{\"type\":\"message\",\"body\":\"a\"}\nnot json\n{\"type\":\"message\",\"body\":\"b\"}\n",
	     "a|E:bad_input:2|b|", "invalid JSON is reported with its line, the rest flows");
	CASE("[1,2]\n{\"type\":\"x\"}\n", "E:bad_input:1|x|", "an array is not an event");
	CASE("\"s\"\n{\"type\":\"x\"}\n", "E:bad_input:1|x|", "a string is not an event");
	CASE("{\"body\":\"no type\"}\n{\"type\":\"x\"}\n", "E:bad_input:1|x|", "no type");
	CASE("{\"type\":7}\n", "E:bad_input:1|", "a type that is not a string");
	CASE("{\"type\":\"x\",\"body\":\"\xff\xfe\"}\n{\"type\":\"y\"}\n", "E:bad_input:1|y|",
	     "invalid UTF-8 is refused, not turned into U+FFFD");
	CASE("{\"type\":\"x\",\"body\":\"\xc0\xaf\"}\n", "E:bad_input:1|", "an overlong encoding");
	CASE("{\"type\":\"x\",\"body\":\"\xed\xa0\x80\"}\n", "E:bad_input:1|", "an encoded surrogate");
	CASE("{\"type\":\"x\"}\0\n{\"type\":\"y\"}\n", "E:bad_input:1|y|", "a NUL byte");
	CASE("{\"type\":\"x\"} {\"type\":\"y\"}\n", "E:bad_input:1|", "two values on one line");
	CASE("\n  \n{\"type\":\"x\"}\n", "x|", "blank lines are skipped");
	CASE("{\"type\":\"x\"}\r\n", "x|", "CRLF line ends");
	CASE("{\"type\":\"message\",\"body\":\"last\"}", "last|", "a last line without newline");
	CASE("{\"type\":\"x\"\n{\"type\":\"y\"}\n", "E:bad_input:1|y|", "a cut-off object");
}

static void test_long_lines(void)
{
	size_t big = 300000;
	char *text = malloc(big + 200);
	size_t n = (size_t)sprintf(text, "{\"type\":\"message\",\"body\":\"a\"}\n{\"type\":\"message\",\"body\":\"");
	memset(text + n, 'x', big);
	n += big;
	n += (size_t)sprintf(text + n, "\"}\n{\"type\":\"message\",\"body\":\"c\"}\n");
	char got[4096];
	read_all(text, n, 100000, got, sizeof got);
	CHECK_STR(got, "a|E:bad_input:2|c|", "a line over --max-line is reported and skipped");
	char *whole = malloc(big + 100);
	read_all(text, n, 0, whole, big + 100);
	CHECK(strlen(whole) == big + 5 && !strcmp(whole + big + 2, "|c|"),
	      "a 300 kB line under the default maximum is read whole");
	free(whole);
	free(text);
}

static void test_raw_kept(void)
{
	const char in[] = "{\"type\":\"x\",\"z\":1,\"a\":[1,2],\"m\":{\"k\":\"v\"}}\n";
	struct bot_reader *r = reader_over(in, sizeof in - 1, 0);
	jv ev;
	CHECK(bot_read_event(r, &ev) == 1, "an event with unknown fields is read");
	jv s = jv_dump_string(ev, 0);
	CHECK_STR(jv_string_value(s), "{\"type\":\"x\",\"z\":1,\"a\":[1,2],\"m\":{\"k\":\"v\"}}",
	          "unknown fields survive, key order kept");
	jv_free(s);
	size_t len;
	const char *raw = bot_reader_raw(r, &len);
	CHECK(len == sizeof in - 2 && !memcmp(raw, in, len), "the raw line is available unchanged");
	close(bot_reader_fd(r));
	bot_reader_free(r);

	struct bot_reader *bad = reader_over("oops\n", 5, 0);
	CHECK(bot_read_event(bad, &ev) == -1, "a bad line");
	jv orig = jv_object_get(jv_copy(ev), jv_string("event"));
	CHECK_STR(jv_string_value(orig), "oops", "the error event carries the raw line");
	CHECK(bot_str(ev, "message") && strstr(bot_str(ev, "message"), "<test>:1: not valid JSON"),
	      "the message names the input and line");
	jv_free(orig);
	jv_free(ev);
	close(bot_reader_fd(bad));
	bot_reader_free(bad);
}

/* A bad line of multi-byte characters: the event keeps at most 4,096
 * bytes, cut between characters, and says how long the line was. */
static void test_bad_line_cut(void)
{
	size_t chars = 3000;   /* "é" is 2 bytes: 1 byte + 6,000 bytes + "\n" */
	char *text = malloc(2 * chars + 4);
	size_t n = 0;
	text[n++] = '{';
	for (size_t i = 0; i < chars; i++) {
		text[n++] = (char)0xc3;
		text[n++] = (char)0xa9;
	}
	text[n++] = '\n';
	struct bot_reader *r = reader_over(text, n, 0);
	jv ev;
	CHECK(bot_read_event(r, &ev) == -1, "a long bad line is an error");
	jv raw = jv_object_get(jv_copy(ev), jv_string("event"));
	jv length = jv_object_get(jv_copy(ev), jv_string("length"));
	CHECK(jv_get_kind(raw) == JV_KIND_STRING && jv_string_length_bytes(jv_copy(raw)) == 4095,
	      "the event carries the line's first 4,095 bytes: 4,096 would cut a character");
	CHECK(jv_get_kind(raw) == JV_KIND_STRING &&
	      bot_utf8_valid(jv_string_value(raw), (size_t)jv_string_length_bytes(jv_copy(raw))) &&
	      !strstr(jv_string_value(raw), "\xef\xbf\xbd"), "the cut leaves whole characters (no U+FFFD)");
	CHECK(jv_get_kind(length) == JV_KIND_NUMBER && jv_number_value(length) == (double)(n - 1),
	      "length is the whole line's");
	CHECK(bot_true(ev, "truncated"), "marked truncated");
	jv_free(raw);
	jv_free(length);
	jv_free(ev);
	close(bot_reader_fd(r));
	bot_reader_free(r);
	free(text);
}

static void test_writer(void)
{
	int p[2];
	if (pipe(p))
		abort();
	struct bot_writer *w = bot_writer_new(p[1]);
	bot_write(w, JV_OBJECT(jv_string("type"), jv_string("x"), jv_string("s"), jv_string("a\nb")));
	CHECK(bot_writer_pending(w), "a write is queued until a flush");
	bot_writer_flush(w);
	char buf[100] = "";
	ssize_t n = read(p[0], buf, sizeof buf - 1);
	CHECK(n > 0 && !strcmp(buf, "{\"type\":\"x\",\"s\":\"a\\nb\"}\n"), "one compact line per event");
	close(p[0]);
	CHECK(bot_write(w, JV_OBJECT(jv_string("type"), jv_string("y"))) == 0 &&
	      bot_writer_flush(w) == -1 && errno == EPIPE, "a vanished reader is EPIPE, reported");
	close(p[1]);
	bot_writer_free(w);
}

int main(void)
{
	bot_init("test-ndjson");   /* SIGPIPE ignored, as in the programs */
	bot_verbosity = 0;
	test_bad_lines();
	test_long_lines();
	test_raw_kept();
	test_bad_line_cut();
	test_writer();
	return unit_done();
}
