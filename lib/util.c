/* util.c: small helpers over jv and bytes that every part uses. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bot.h"

const char *bot_str(jv obj, const char *key)
{
	if (jv_get_kind(obj) != JV_KIND_OBJECT)
		return NULL;
	jv v = jv_object_get(jv_copy(obj), jv_string(key));
	const char *s = NULL;
	if (jv_get_kind(v) == JV_KIND_STRING)
		s = jv_string_value(v);   /* obj keeps the string alive */
	jv_free(v);
	return s;
}

int bot_true(jv obj, const char *key)
{
	if (jv_get_kind(obj) != JV_KIND_OBJECT)
		return 0;
	jv v = jv_object_get(jv_copy(obj), jv_string(key));
	int t = jv_get_kind(v) == JV_KIND_TRUE;
	jv_free(v);
	return t;
}

jv bot_get(jv obj, const char *key)
{
	if (jv_get_kind(obj) != JV_KIND_OBJECT)
		return jv_null();
	jv v = jv_object_get(jv_copy(obj), jv_string(key));
	if (!jv_is_valid(v)) {
		jv_free(v);
		return jv_null();
	}
	return v;
}

jv bot_fail(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	return jv_invalid_with_msg(jv_string(buf));
}

jv bot_fail_code(const char *code, int temporary, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	jv o = jv_object();
	o = jv_object_set(o, jv_string("code"), jv_string(code));
	o = jv_object_set(o, jv_string("message"), jv_string(buf));
	o = jv_object_set(o, jv_string("temporary"), jv_bool(temporary));
	return jv_invalid_with_msg(o);
}

const char *bot_fail_message(jv invalid, char *buf, size_t n)
{
	if (n == 0)
		return "";
	buf[0] = 0;
	if (jv_is_valid(invalid))
		return buf;
	jv msg = jv_invalid_get_msg(jv_copy(invalid));
	if (jv_get_kind(msg) == JV_KIND_STRING)
		snprintf(buf, n, "%s", jv_string_value(msg));
	else if (bot_str(msg, "message"))
		snprintf(buf, n, "%s", bot_str(msg, "message"));
	jv_free(msg);
	return buf;
}

const char *bot_fail_code_of(jv invalid, char *buf, size_t n)
{
	jv msg = jv_invalid_get_msg(jv_copy(invalid));
	snprintf(buf, n, "%s", bot_str(msg, "code") ? bot_str(msg, "code") : "send_failed");
	jv_free(msg);
	return buf;
}

int bot_fail_temporary(jv invalid)
{
	jv msg = jv_invalid_get_msg(jv_copy(invalid));
	int t = bot_true(msg, "temporary");
	jv_free(msg);
	return t;
}

/* Strict UTF-8: rejects overlong forms, surrogates, values past U+10FFFF
 * and stray continuation bytes (jq would turn them into U+FFFD silently). */
int bot_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	while (p < end) {
		/* Most of an event is ASCII: skip it eight bytes at a time. */
		uint64_t w;
		while (end - p >= 8 && (memcpy(&w, p, 8), !(w & 0x8080808080808080u)))
			p += 8;
		if (p == end)
			break;
		unsigned c = *p;
		if (c < 0x80) {
			p++;
			continue;
		}
		size_t need;
		unsigned min, cp;
		if (c >= 0xc2 && c <= 0xdf)
			need = 1, min = 0x80, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			need = 2, min = 0x800, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			need = 3, min = 0x10000, cp = c & 0x07;
		else
			return 0;
		if ((size_t)(end - p) <= need)
			return 0;
		for (size_t i = 1; i <= need; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		p += need + 1;
	}
	return 1;
}

int bot_has_line_break(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] == '\r' || s[i] == '\n' || s[i] == 0)
			return 1;
	return 0;
}

char *bot_slurp(const char *path, size_t max, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	/* one byte past max is read to tell "exactly max" from "more" */
	size_t cap = max < 4096 ? max + 1 : 4096, n = 0;
	char *buf = malloc(cap + 1);
	if (!buf)
		abort();
	for (;;) {
		if (n == cap) {
			if (n > max) {
				free(buf);
				close(fd);
				errno = EFBIG;
				return NULL;
			}
			cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			char *b = realloc(buf, cap + 1);
			if (!b)
				abort();
			buf = b;
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			free(buf);
			close(fd);
			errno = e;
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (n > max) {
		free(buf);
		errno = EFBIG;
		return NULL;
	}
	buf[n] = 0;
	if (len)
		*len = n;
	return buf;
}

long long bot_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
