/* ndjson.c: the event codec.  One JSON object a line.
 *
 * The reader splits lines itself (jv_parser cannot resynchronise on a
 * newline after a syntax error) and parses each with jv_parse_sized, so a
 * bad line costs only itself.  It checks what jq would let through
 * silently: invalid UTF-8 (jq turns it into U+FFFD), raw NUL bytes, lines
 * over a maximum.  A bad line becomes an error event with code bad_input
 * that carries the start of the raw line (at most RAW_KEEP bytes, cut at a
 * character boundary) and its length, and one line on stderr.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bot.h"

#define READ_CHUNK 65536
#define RAW_KEEP 4096   /* bytes of a bad line an error event carries */

struct bot_reader {
	int fd;
	const char *name;
	size_t max;
	char *buf;
	size_t cap, off, len, scan;  /* line starts at off; scanned to scan */
	int eof;
	int skipping;        /* inside a line longer than max */
	size_t skipped;      /* its length so far */
	long lineno;
	const char *raw;     /* last line returned */
	size_t rawlen;
	char *overlong;      /* the start of an over-long line, for its report */
	jv type_key;         /* "type", made once: a look-up with a fresh key
	                        string costs a malloc, a hash and a free */
};

struct bot_reader *bot_reader_new(int fd, const char *name, size_t maxline)
{
	struct bot_reader *r = calloc(1, sizeof *r);
	if (!r)
		abort();
	r->fd = fd;
	r->name = name ? name : "<stdin>";
	r->max = maxline ? maxline : BOT_LINE_MAX_DEFAULT;
	r->cap = READ_CHUNK + 1;
	r->buf = malloc(r->cap);
	if (!r->buf)
		abort();
	r->type_key = jv_string("type");
	return r;
}

void bot_reader_free(struct bot_reader *r)
{
	if (!r)
		return;
	free(r->buf);
	free(r->overlong);
	jv_free(r->type_key);
	free(r);
}

/* Move the unread tail to the front and make room for one more chunk. */
static void reader_make_room(struct bot_reader *r)
{
	if (r->off > 0) {
		memmove(r->buf, r->buf + r->off, r->len - r->off);
		r->len -= r->off;
		r->scan -= r->off;
		r->off = 0;
	}
	if (r->cap - r->len < READ_CHUNK + 1) {
		size_t cap = r->cap * 2;
		while (cap - r->len < READ_CHUNK + 1)
			cap *= 2;
		char *b = realloc(r->buf, cap);
		if (!b)
			abort();
		r->buf = b;
		r->cap = cap;
	}
}

int bot_reader_fill(struct bot_reader *r)
{
	if (r->eof)
		return 0;
	reader_make_room(r);
	for (;;) {
		ssize_t n = read(r->fd, r->buf + r->len, r->cap - r->len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 1;
		if (n < 0)
			return -1;
		if (n == 0) {
			r->eof = 1;
			return 0;
		}
		r->len += (size_t)n;
		return 1;
	}
}

/* How much of a bad line to keep: at most RAW_KEEP bytes, and not the
 * middle of a UTF-8 sequence (a cut never makes a valid line invalid). */
static size_t keep_length(const char *raw, size_t len)
{
	if (len <= RAW_KEEP)
		return len;
	size_t n = RAW_KEEP;
	/* back over continuation bytes to the start of the cut character */
	for (int back = 0; back < 4 && n > 0 && ((unsigned char)raw[n] & 0xc0) == 0x80; back++)
		n--;
	return n;
}

/* The bad_input error event for the current line, logged once.  length
 * is the whole line's, raw holds rawlen bytes of it. */
static jv reader_bad(struct bot_reader *r, const char *what, const char *raw,
                     size_t rawlen, size_t length)
{
	char msg[600];
	snprintf(msg, sizeof msg, "%s:%ld: %s", r->name, r->lineno, what);
	bot_error("%s", msg);
	size_t keep = keep_length(raw, rawlen);
	jv ev = bot_error_event("bad_input", msg, jv_string_sized(raw, (int)keep));
	ev = jv_object_set(ev, jv_string("line"), jv_number((double)r->lineno));
	ev = jv_object_set(ev, jv_string("length"), jv_number((double)length));
	if (keep < length)
		ev = jv_object_set(ev, jv_string("truncated"), jv_true());
	return ev;
}

/* jq's parse messages end with "(while parsing '<the whole line>')";
 * keep only the part before it. */
static void parse_message(jv invalid, char *out, size_t n)
{
	char buf[512];
	bot_fail_message(invalid, buf, sizeof buf);
	char *cut = strstr(buf, " (while parsing");
	if (cut)
		*cut = 0;
	snprintf(out, n, "not valid JSON: %s", buf[0] ? buf : "parse error");
}

/* Parse and check one complete line (NUL-terminated in place). */
static int reader_parse(struct bot_reader *r, char *line, size_t len, jv *ev)
{
	char why[600];
	if (memchr(line, 0, len))
		return *ev = reader_bad(r, "NUL byte in line", line, len, len), -1;
	if (!bot_utf8_valid(line, len))
		return *ev = reader_bad(r, "invalid UTF-8", line, len, len), -1;
	jv v = jv_parse_sized(line, (int)len);
	if (!jv_is_valid(v)) {
		parse_message(v, why, sizeof why);
		jv_free(v);
		return *ev = reader_bad(r, why, line, len, len), -1;
	}
	if (jv_get_kind(v) != JV_KIND_OBJECT) {
		snprintf(why, sizeof why, "not an object: %s",
		         jv_kind_name(jv_get_kind(v)));
		jv_free(v);
		return *ev = reader_bad(r, why, line, len, len), -1;
	}
	jv type = jv_object_get(jv_copy(v), jv_copy(r->type_key));
	int typed = jv_get_kind(type) == JV_KIND_STRING;
	jv_free(type);
	if (!typed) {
		jv_free(v);
		return *ev = reader_bad(r, "no \"type\" string", line, len, len), -1;
	}
	*ev = v;
	return 1;
}

static int blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return 0;
	return 1;
}

/* Discard the rest of an over-long line; report it once its end is seen. */
static int reader_skip(struct bot_reader *r, jv *ev)
{
	char *nl = memchr(r->buf + r->off, '\n', r->len - r->off);
	size_t upto = nl ? (size_t)(nl - r->buf) + 1 : r->len;
	r->skipped += upto - r->off;
	r->off = r->scan = upto;
	if (!nl && !r->eof)
		return 0;
	r->skipping = 0;
	r->lineno++;
	char why[128];
	snprintf(why, sizeof why, "line longer than %zu bytes (%zu bytes), skipped",
	         r->max, r->skipped - (nl ? 1 : 0));
	*ev = reader_bad(r, why, r->overlong, r->rawlen, r->skipped - (nl ? 1 : 0));
	r->raw = r->overlong;   /* valid until the next call */
	return -1;
}

/* Start skipping a line that has grown past the maximum: keep its start. */
static void reader_start_skip(struct bot_reader *r)
{
	free(r->overlong);
	r->rawlen = r->len - r->off < RAW_KEEP ? r->len - r->off : RAW_KEEP;
	r->overlong = malloc(r->rawlen + 1);
	if (!r->overlong)
		abort();
	memcpy(r->overlong, r->buf + r->off, r->rawlen);
	r->skipping = 1;
	r->skipped = 0;
}

int bot_reader_next(struct bot_reader *r, jv *ev)
{
	for (;;) {
		if (r->skipping) {
			jv bad = jv_null();
			int rc = reader_skip(r, ev ? ev : &bad);
			jv_free(bad);
			if (rc == 0)
				return 0;
			return rc;
		}
		char *nl = memchr(r->buf + r->scan, '\n', r->len - r->scan);
		size_t linelen;
		if (nl) {
			linelen = (size_t)(nl - (r->buf + r->off));
		} else {
			r->scan = r->len;
			if (r->len - r->off > r->max) {
				reader_start_skip(r);
				continue;
			}
			if (!r->eof || r->len == r->off)
				return 0;
			linelen = r->len - r->off;   /* last line, no newline */
		}
		if (linelen > r->max) {
			reader_start_skip(r);
			continue;
		}
		char *line = r->buf + r->off;
		line[linelen] = 0;   /* over the newline, or the spare byte */
		r->off += linelen + (nl ? 1 : 0);
		r->scan = r->off;
		r->lineno++;
		if (linelen && line[linelen - 1] == '\r')
			line[--linelen] = 0;
		r->raw = line;
		r->rawlen = linelen;
		if (blank(line, linelen))
			continue;
		if (!ev)
			return 1;   /* the line alone (bot_reader_raw) */
		return reader_parse(r, line, linelen, ev);
	}
}

int bot_read_event(struct bot_reader *r, jv *ev)
{
	for (;;) {
		int rc = bot_reader_next(r, ev);
		if (rc != 0)
			return rc;
		if (r->eof)
			return 0;
		rc = bot_reader_fill(r);
		if (rc < 0)
			return -2;
	}
}

const char *bot_reader_raw(const struct bot_reader *r, size_t *len)
{
	if (len)
		*len = r->rawlen;
	return r->raw;
}

long bot_reader_lineno(const struct bot_reader *r) { return r->lineno; }
const char *bot_reader_name(const struct bot_reader *r) { return r->name; }
int bot_reader_eof(const struct bot_reader *r) { return r->eof && r->off == r->len; }
int bot_reader_fd(const struct bot_reader *r) { return r->fd; }

int bot_reader_partial(const struct bot_reader *r)
{
	return r->eof && !r->skipping && r->len > r->off && !memchr(r->buf + r->off, '\n', r->len - r->off);
}

int bot_reader_pending(const struct bot_reader *r)
{
	if (r->skipping)
		return r->eof || memchr(r->buf + r->off, '\n', r->len - r->off) != NULL;
	return memchr(r->buf + r->scan, '\n', r->len - r->scan) != NULL ||
	       (r->eof && r->len > r->off);
}

/* ---- writer ---- */

#define WRITE_HIGH 65536   /* flush when this much is queued */

struct bot_writer {
	int fd;
	char *buf;
	size_t len, cap;
	int err;
	int async;    /* never wait for the reader: queue (bot_writer_set_async) */
	FILE *dump;   /* jv_dumpf's way into buf (see bot_write) */
	unsigned long long total, written;   /* bytes appended; bytes written to fd */
};

static void writer_append(struct bot_writer *w, const char *s, size_t n);

static ssize_t writer_cookie_write(void *cookie, const char *s, size_t n)
{
	writer_append(cookie, s, n);
	return (ssize_t)n;
}

struct bot_writer *bot_writer_new(int fd)
{
	struct bot_writer *w = calloc(1, sizeof *w);
	if (!w)
		abort();
	w->fd = fd;
	w->dump = fopencookie(w, "w", (cookie_io_functions_t){ .write = writer_cookie_write });
	if (!w->dump)
		abort();
	__fsetlocking(w->dump, FSETLOCKING_BYCALLER);   /* one thread: no lock per fwrite */
	return w;
}

void bot_writer_free(struct bot_writer *w)
{
	if (!w)
		return;
	fclose(w->dump);
	bot_writer_flush(w);
	free(w->buf);
	free(w);
}

static void writer_append(struct bot_writer *w, const char *s, size_t n)
{
	if (w->len + n > w->cap) {
		size_t cap = w->cap ? w->cap : 4096;
		while (cap < w->len + n)
			cap *= 2;
		char *b = realloc(w->buf, cap);
		if (!b)
			abort();
		w->buf = b;
		w->cap = cap;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->total += n;
}

int bot_writer_try_flush(struct bot_writer *w)
{
	size_t done = 0;
	while (done < w->len && !w->err) {
		ssize_t n = write(w->fd, w->buf + done, w->len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;   /* the rest waits for the reader */
		if (n < 0) {
			w->err = errno;
			break;
		}
		done += (size_t)n;
	}
	if (w->err) {
		w->len = 0;
		errno = w->err;
		return -1;
	}
	if (done > 0)   /* (an empty writer has no buffer yet; a reader that took nothing: no copy) */
		memmove(w->buf, w->buf + done, w->len - done);
	w->len -= done;
	w->written += done;
	return 0;
}

unsigned long long bot_writer_total(const struct bot_writer *w) { return w->total; }
unsigned long long bot_writer_written(const struct bot_writer *w) { return w->written; }

size_t bot_writer_queued(const struct bot_writer *w) { return w->len; }
int bot_writer_fd(const struct bot_writer *w) { return w->fd; }

void bot_writer_set_async(struct bot_writer *w, int async) { w->async = async; }

int bot_writer_flush(struct bot_writer *w)
{
	size_t done = 0;
	while (done < w->len && !w->err) {
		ssize_t n = write(w->fd, w->buf + done, w->len - done);
		if (n < 0 && errno == EINTR)
			continue;
		/* A non-blocking fd (stdin and stdout one socket or terminal,
		 * and the reader made it non-blocking): wait until it drains. */
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd pf = { .fd = w->fd, .events = POLLOUT };
			if (poll(&pf, 1, -1) < 0 && errno != EINTR) {
				w->err = errno;
				break;
			}
			continue;
		}
		if (n < 0) {
			w->err = errno;
			break;
		}
		done += (size_t)n;
	}
	w->written += done;
	w->len = 0;
	if (w->err) {
		errno = w->err;
		return -1;
	}
	return 0;
}

int bot_write_raw(struct bot_writer *w, const char *line, size_t len)
{
	if (w->err) {
		errno = w->err;
		return -1;
	}
	writer_append(w, line, len);
	writer_append(w, "\n", 1);
	if (w->len >= WRITE_HIGH && w->async)
		return bot_writer_try_flush(w);
	if (w->len >= WRITE_HIGH)
		return bot_writer_flush(w);
	return 0;
}

/* jv_dump_string appends to a jv string one character at a time, each
 * append a function call with its checks; jv_dumpf puts the same
 * characters into a stdio buffer, which passes them on to ours in blocks
 * (bot-dispatch answering !echo: 5 % fewer instructions in all). */
int bot_write(struct bot_writer *w, jv ev)
{
	if (!jv_is_valid(ev)) {
		jv_free(ev);
		errno = EINVAL;
		return -1;
	}
	if (w->err) {
		jv_free(ev);
		errno = w->err;
		return -1;
	}
	jv_dumpf(ev, w->dump, 0);
	putc('\n', w->dump);
	fflush(w->dump);
	if (w->len >= WRITE_HIGH && w->async)
		return bot_writer_try_flush(w);
	if (w->len >= WRITE_HIGH)
		return bot_writer_flush(w);
	return 0;
}

int bot_writer_pending(const struct bot_writer *w) { return w->len > 0; }
