/* util.c: small helpers over jv and bytes that every part uses. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bot.h"

/* The key string for a look-up.  Callers name the same few keys ("type",
 * "body", "to", "kind", "id") millions of times, nearly always with a
 * string literal, so the key made for an address is kept in a small table
 * indexed by that address and reused while the text there is the same:
 * no malloc, no copy and, jv strings keeping their hash, no hashing.  A
 * key at an address whose text has changed (a buffer) is made again.
 * botpipe's programs use jv from one thread. */
#define KEPT_KEYS 64

static jv key_string(const char *key)
{
	static struct { const char *at; jv k; int made; } kept[KEPT_KEYS];
	size_t i = ((uintptr_t)key >> 3) % KEPT_KEYS;
	if (kept[i].made && kept[i].at == key && strcmp(jv_string_value(kept[i].k), key) == 0)
		return jv_copy(kept[i].k);
	if (kept[i].made)
		jv_free(kept[i].k);
	kept[i].at = key;
	kept[i].k = jv_string(key);
	kept[i].made = 1;
	return jv_copy(kept[i].k);
}

const char *bot_str(jv obj, const char *key)
{
	if (jv_get_kind(obj) != JV_KIND_OBJECT)
		return NULL;
	jv v = jv_object_get(jv_copy(obj), key_string(key));
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
	jv v = jv_object_get(jv_copy(obj), key_string(key));
	int t = jv_get_kind(v) == JV_KIND_TRUE;
	jv_free(v);
	return t;
}

jv bot_get(jv obj, const char *key)
{
	if (jv_get_kind(obj) != JV_KIND_OBJECT)
		return jv_null();
	jv v = jv_object_get(jv_copy(obj), key_string(key));
	if (!jv_is_valid(v)) {
		jv_free(v);
		return jv_null();
	}
	return v;
}

jv bot_fail(const char *fmt, ...)
{
	char buf[1024], clean[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	return jv_invalid_with_msg(jv_string(bot_redact(buf, clean, sizeof clean)));
}

jv bot_fail_code(const char *code, int temporary, const char *fmt, ...)
{
	char buf[1024], clean[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	jv o = jv_object();
	o = jv_object_set(o, jv_string("code"), jv_string(code));
	o = jv_object_set(o, jv_string("message"), jv_string(bot_redact(buf, clean, sizeof clean)));
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
	/* masked again: a failure may have been made without bot_fail */
	if (jv_get_kind(msg) == JV_KIND_STRING)
		bot_redact(jv_string_value(msg), buf, n);
	else if (bot_str(msg, "message"))
		bot_redact(bot_str(msg, "message"), buf, n);
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

/* ---- secrets ------------------------------------------------------------
 * Every configured secret is registered here as config.c reads it, so that
 * whatever shows text a server sent (log lines, failures, connection
 * reasons, error events) masks it without the backend having to think of
 * it.  The process's one table, as bot_progname is its one name: secrets
 * belong to the process, not to one part of it. */

#define SECRET_PIECES 64
#define SECRET_MIN 4            /* shorter than this is no secret to hide */
#define SECRET_PIECE_MIN 8      /* a part of a URL or header worth hiding */
#define SECRET_MASK "***"

static struct { char *s; size_t len; int url; } secrets[SECRET_PIECES];
static int nsecrets;

/* Room kept for whole secrets, so that pieces never crowd one out. */
#define SECRET_WHOLE_RESERVE 16

static void secret_piece(const char *s, size_t len, size_t min, int whole)
{
	if (len < min || nsecrets == SECRET_PIECES ||
	    (!whole && nsecrets >= SECRET_PIECES - SECRET_WHOLE_RESERVE))
		return;
	for (int i = 0; i < nsecrets; i++)
		if (secrets[i].len == len && !memcmp(secrets[i].s, s, len))
			return;
	char *copy = malloc(len + 1);
	if (!copy)
		abort();
	memcpy(copy, s, len);
	copy[len] = 0;
	/* longest first, so that a piece inside a longer one never splits it */
	int at = nsecrets++;
	while (at > 0 && secrets[at - 1].len < len) {
		secrets[at] = secrets[at - 1];
		at--;
	}
	secrets[at].s = copy;
	secrets[at].len = len;
	secrets[at].url = strstr(copy, "://") != NULL;   /* its start is no secret */
}

/* A URL's userinfo ("user:password", and the password alone) and every
 * piece of its path, query and fragment that is long enough to be a
 * token: a server quotes these back ("Cannot POST /hooks/T0K3N"). */
static void secret_url_pieces(const char *url)
{
	const char *p = strstr(url, "://") + 3;
	size_t hostpart = strcspn(p, "/?#");
	const char *at = memchr(p, '@', hostpart);
	if (at) {
		secret_piece(p, (size_t)(at - p), SECRET_MIN, 0);
		const char *colon = memchr(p, ':', (size_t)(at - p));
		if (colon)
			secret_piece(colon + 1, (size_t)(at - colon - 1), SECRET_MIN, 0);
	}
	for (p += hostpart; *p;) {
		size_t len = strcspn(p, "/?&=#;");
		secret_piece(p, len, SECRET_PIECE_MIN, 0);
		p += len + (p[len] ? 1 : 0);
	}
}

/* "Name: value": the value, and each long word of it (the token after
 * "Bearer "). */
static void secret_header_pieces(const char *s)
{
	size_t name = strcspn(s, ": \t");
	if (!name || s[name] != ':')
		return;
	const char *v = s + name + 1;
	v += strspn(v, " \t");
	secret_piece(v, strlen(v), SECRET_MIN, 0);
	while (*v) {
		size_t len = strcspn(v, " \t");
		secret_piece(v, len, SECRET_PIECE_MIN, 0);
		v += len;
		v += strspn(v, " \t");
	}
}

void bot_secret_add(const char *secret)
{
	if (!secret)
		return;
	secret_piece(secret, strlen(secret), SECRET_MIN, 1);
	if (strstr(secret, "://"))
		secret_url_pieces(secret);
	else
		secret_header_pieces(secret);
}

void bot_secrets_clear(void)
{
	for (int i = 0; i < nsecrets; i++) {
		explicit_bzero(secrets[i].s, secrets[i].len);
		free(secrets[i].s);
	}
	nsecrets = 0;
}

/* How many bytes at the end of s (len bytes) mark a cut: "...", "…" or
 * nothing (the text simply ends). */
static size_t cut_mark(const char *s, size_t len)
{
	if (len >= 3 && !memcmp(s + len - 3, "...", 3))
		return 3;
	if (len >= 3 && !memcmp(s + len - 3, "\xe2\x80\xa6", 3))
		return 3;
	return 0;
}

/* The length of the registered piece that starts at s (len bytes left
 * in the text, whose last mark bytes are a cut mark), or 0.  Where the
 * text ends, or ends in a cut mark, a piece's beginning counts too: text
 * cut at a size ("%.200s", bot_oneline's "...") must not show half a
 * password. */
static size_t secret_at(const char *s, size_t len, size_t mark)
{
	size_t ends[2] = { len, mark <= len ? len - mark : len };
	for (int i = 0; i < nsecrets; i++) {
		size_t k = secrets[i].len;
		if (k <= len && !memcmp(s, secrets[i].s, k))
			return k;
		for (int e = 0; e < 2 && !secrets[i].url; e++)
			if (k > ends[e] && ends[e] >= SECRET_MIN && !memcmp(s, secrets[i].s, ends[e]))
				return ends[e];
	}
	return 0;
}

const char *bot_redact(const char *s, char *buf, size_t n)
{
	size_t o = 0, len = strlen(s), mark = cut_mark(s, len);
	if (n == 0)
		return buf;
	for (size_t i = 0; i < len && o + 1 < n;) {
		size_t k = nsecrets ? secret_at(s + i, len - i, mark) : 0;
		if (k) {
			size_t m = sizeof SECRET_MASK - 1;
			if (o + m >= n)
				break;   /* no room for the mask: end here, never show the rest */
			memcpy(buf + o, SECRET_MASK, m);
			o += m;
			i += k;
		} else
			buf[o++] = s[i++];
	}
	buf[o] = 0;
	return buf;
}

int bot_has_secret(const char *s)
{
	size_t len = strlen(s), mark = cut_mark(s, len);
	for (size_t i = 0; nsecrets && i < len; i++)
		if (secret_at(s + i, len - i, mark))
			return 1;
	return 0;
}

/* Each string in v (object values and array elements, at any depth) with
 * the secrets masked.  Untouched, and cheap, while no secret is set or
 * none is in v. */
jv bot_redact_jv(jv v)
{
	if (!nsecrets)
		return v;
	switch (jv_get_kind(v)) {
	case JV_KIND_STRING: {
		const char *s = jv_string_value(v);
		if (!bot_has_secret(s))
			return v;
		size_t n = strlen(s) + 1;   /* the mask is never longer than a secret */
		char *buf = malloc(n);
		if (!buf)
			abort();
		jv out = jv_string(bot_redact(s, buf, n));
		free(buf);
		jv_free(v);
		return out;
	}
	case JV_KIND_OBJECT: {
		jv keys = jv_keys(jv_copy(v));
		jv_array_foreach(keys, i, k) {
			jv x = jv_object_get(jv_copy(v), jv_copy(k));
			jv y = bot_redact_jv(jv_copy(x));
			if (jv_identical(x, jv_copy(y)))
				jv_free(y), jv_free(k);
			else
				v = jv_object_set(v, k, y);
			(void)i;
		}
		jv_free(keys);
		return v;
	}
	case JV_KIND_ARRAY: {
		int n = jv_array_length(jv_copy(v));
		for (int i = 0; i < n; i++) {
			jv x = jv_array_get(jv_copy(v), i);
			jv y = bot_redact_jv(jv_copy(x));
			if (jv_identical(x, jv_copy(y)))
				jv_free(y);
			else
				v = jv_array_set(v, i, y);
		}
		return v;
	}
	default:
		return v;
	}
}

/* mkdir -p, each folder made 0700.  0, or -1 with errno. */
int bot_mkdirs(const char *dir)
{
	char p[PATH_MAX];
	size_t n = strlen(dir);
	if (n == 0 || n >= sizeof p) {
		errno = n ? ENAMETOOLONG : ENOENT;
		return -1;
	}
	memcpy(p, dir, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (p[i] != '/' && p[i] != 0)
			continue;
		char c = p[i];
		p[i] = 0;
		if (mkdir(p, 0700) < 0 && errno != EEXIST)
			return -1;
		p[i] = c;
	}
	return 0;
}
