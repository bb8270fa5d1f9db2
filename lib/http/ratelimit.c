/* ratelimit.c: the parsers of what an answer says besides its body: header
 * lines, every rate-limit dialect in one place, the errors some APIs put
 * inside a 200 (envelopes), and URL building.  No I/O here: each function
 * is a pure parser with a fuzz target (test/fuzz/fuzz-ratelimit.c). */
#include <curl/curl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bot.h"
#include "http.h"

#define HEADER_VALUE_MAX 4096

/* ---- header lines ------------------------------------------------------- */

static int is_token_char(unsigned char c)
{
	return c > 32 && c < 127 && !strchr("()<>@,;:\\\"/[]?={}", c);
}

jv bot_http_header_add(jv headers, const char *line, size_t len)
{
	if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
		jv_free(headers);   /* a new answer (after 100 Continue, a proxy's CONNECT) */
		return jv_object();
	}
	size_t n = 0;
	while (n < len && is_token_char((unsigned char)line[n]))
		n++;
	if (n == 0 || n > 64 || n >= len || line[n] != ':')
		return headers;
	char name[65];
	for (size_t i = 0; i < n; i++)
		name[i] = (char)(line[i] >= 'A' && line[i] <= 'Z' ? line[i] + 32 : line[i]);
	name[n] = 0;
	size_t a = n + 1, b = len;
	while (a < b && (line[a] == ' ' || line[a] == '\t'))
		a++;
	while (b > a && (line[b - 1] == '\r' || line[b - 1] == '\n' || line[b - 1] == ' '
	                 || line[b - 1] == '\t'))
		b--;
	if (b - a > HEADER_VALUE_MAX || memchr(line + a, 0, b - a))
		return headers;
	jv value = jv_string_sized(line + a, (int)(b - a));
	if (jv_get_kind(headers) != JV_KIND_OBJECT) {
		jv_free(headers);
		headers = jv_object();
	}
	jv old = jv_object_get(jv_copy(headers), jv_string(name));
	if (jv_get_kind(old) == JV_KIND_STRING
	    && jv_string_length_bytes(jv_copy(old)) + (b - a) < HEADER_VALUE_MAX) {
		old = jv_string_append_str(old, ", ");
		value = jv_string_concat(old, value);
	} else {
		jv_free(old);
	}
	return jv_object_set(headers, jv_string(name), value);
}

/* ---- rate limits -------------------------------------------------------- */

/* A whole string that is a finite number >= 0, else -1. */
static double number_or_minus(const char *s)
{
	if (!s)
		return -1;
	while (*s == ' ')
		s++;
	char *end;
	double d = strtod(s, &end);
	if (end == s)
		return -1;
	while (*end == ' ')
		end++;
	return *end == 0 && isfinite(d) && d >= 0 ? d : -1;
}

double bot_http_retry_after_value(const char *v, double now)
{
	double d = number_or_minus(v);
	if (d >= 0 || !v)
		return d;
	time_t at = curl_getdate(v, NULL);   /* "Wed, 21 Oct 2015 07:28:00 GMT" */
	if (at < 0)
		return -1;
	return (double)at > now ? (double)at - now : 0;
}

/* Look-only: the string value of a header (NULL when absent). */
static const char *header(jv headers, const char *name)
{
	return jv_get_kind(headers) == JV_KIND_OBJECT ? bot_str(headers, name) : NULL;
}

/* A number at obj.key (look-only), else -1. */
static double body_number(jv obj, const char *key)
{
	if (jv_get_kind(obj) != JV_KIND_OBJECT)
		return -1;
	jv v = jv_object_get(jv_copy(obj), jv_string(key));
	double d = jv_get_kind(v) == JV_KIND_NUMBER ? jv_number_value(v) : -1;
	jv_free(v);
	return isfinite(d) && d >= 0 ? d : -1;
}

/* The wait a body states, in the order the dialects are tried. */
static double body_retry_after(jv body)
{
	double d;
	if ((d = body_number(body, "retry_after_ms")) >= 0)   /* Matrix */
		return d / 1000;
	if ((d = body_number(body, "retry-after")) >= 0)      /* Zulip */
		return d;
	if ((d = body_number(body, "retry_after")) >= 0)      /* Discord, Slack-likes */
		return d;
	if (jv_get_kind(body) == JV_KIND_OBJECT) {            /* Telegram */
		jv p = jv_object_get(jv_copy(body), jv_string("parameters"));
		d = body_number(p, "retry_after");
		jv_free(p);
	}
	return d;
}

static long header_long(jv headers, const char *name)
{
	double d = number_or_minus(header(headers, name));
	return d >= 0 && d < 1e15 ? (long)d : -1;
}

void bot_ratelimit_parse(long status, jv headers, jv body, double now,
                         struct bot_ratelimit *rl)
{
	memset(rl, 0, sizeof *rl);
	rl->retry_after = -1;
	rl->limit = header_long(headers, "x-ratelimit-limit");
	rl->remaining = header_long(headers, "x-ratelimit-remaining");
	rl->reset = -1;
	/* X-RateLimit-Reset: Unix time (Discord, GitHub-likes), or seconds
	 * left (Mattermost): a value below 10^9 cannot be a date this century. */
	double reset = number_or_minus(header(headers, "x-ratelimit-reset"));
	double reset_after = number_or_minus(header(headers, "x-ratelimit-reset-after"));
	if (reset >= 1e9)
		rl->reset = reset;
	else if (reset >= 0)
		rl->reset = now + reset;
	else if (reset_after >= 0)
		rl->reset = now + reset_after;
	const char *bucket = header(headers, "x-ratelimit-bucket");
	if (bucket) {
		snprintf(rl->bucket, sizeof rl->bucket, "%s", bucket);
		rl->scope = BOT_RL_BUCKET;
	} else if (rl->limit >= 0 || rl->remaining >= 0 || rl->reset >= 0) {
		rl->scope = BOT_RL_ROUTE;
	}
	const char *scope = header(headers, "x-ratelimit-scope");
	const char *global = header(headers, "x-ratelimit-global");
	if (bot_true(body, "global") || (global && strcasecmp(global, "true") == 0)
	    || (scope && strcasecmp(scope, "global") == 0))
		rl->scope = BOT_RL_GLOBAL;
	if (status < 400)
		return;
	double ra = bot_http_retry_after_value(header(headers, "retry-after"), now);
	if (ra < 0)
		ra = body_retry_after(body);
	if (ra < 0 && status == 429) {
		if (reset_after >= 0)
			ra = reset_after;
		else if (rl->reset >= 0)
			ra = rl->reset > now ? rl->reset - now : 0;
	}
	rl->retry_after = ra;
	if (ra >= 0 && rl->scope == BOT_RL_NONE)
		rl->scope = BOT_RL_ROUTE;
}

/* ---- envelopes ---------------------------------------------------------- */

/* Slack's error strings worth a retry; every other one is permanent. */
static int slack_temporary(const char *e)
{
	static const char *const words[] = {
		"ratelimited", "rate_limited", "internal_error", "fatal_error",
		"service_unavailable", "request_timeout",
	};
	for (size_t i = 0; e && i < sizeof words / sizeof *words; i++)
		if (strcmp(e, words[i]) == 0)
			return 1;
	return 0;
}

/* At most 200 bytes of what the server said, on one line. */
static void said(const char *s, char *out, size_t n)
{
	if (!s) {
		snprintf(out, n, "no reason given");
		return;
	}
	bot_oneline(out, n < 200 ? n : 200, s, strlen(s));
}

jv bot_http_envelope_ok(long status, jv body)
{
	(void)status;
	if (jv_get_kind(body) != JV_KIND_OBJECT)
		return jv_null();
	jv ok = jv_object_get(jv_copy(body), jv_string("ok"));
	int bad = jv_get_kind(ok) == JV_KIND_FALSE;
	jv_free(ok);
	if (!bad)
		return jv_null();
	char text[256];
	const char *slack = bot_str(body, "error");
	said(slack ? slack : bot_str(body, "description"), text, sizeof text);
	double code = body_number(body, "error_code");        /* Telegram */
	int temporary = slack ? slack_temporary(slack) : (code == 429 || code >= 500);
	const char *kind = code == 401 || code == 403 || (slack && (strcmp(slack, "invalid_auth") == 0
	                   || strcmp(slack, "not_authed") == 0 || strcmp(slack, "token_revoked") == 0))
	                   ? "denied" : "send_failed";
	return bot_fail_code(kind, temporary, "the server answered ok:false: %s", text);
}

jv bot_http_envelope_result(long status, jv body)
{
	(void)status;
	const char *r = jv_get_kind(body) == JV_KIND_OBJECT ? bot_str(body, "result") : NULL;
	if (!r || strcmp(r, "error") != 0)
		return jv_null();
	char text[256];
	said(bot_str(body, "msg"), text, sizeof text);
	const char *code = bot_str(body, "code");
	int temporary = code && strcmp(code, "RATE_LIMIT_HIT") == 0;
	return bot_fail_code("send_failed", temporary, "the server answered result:error: %s%s%s",
	                     text, code ? " " : "", code ? code : "");
}

/* ---- URLs --------------------------------------------------------------- */

/* Percent-encode every byte but RFC 3986's unreserved ones. */
static jv escape_append(jv out, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	char buf[256];
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
		    || c == '-' || c == '.' || c == '_' || c == '~') {
			buf[o++] = (char)c;
		} else {
			buf[o++] = '%';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 15];
		}
		if (o > sizeof buf - 4) {
			out = jv_string_append_buf(out, buf, (int)o);
			o = 0;
		}
	}
	return jv_string_append_buf(out, buf, (int)o);
}

/* A value as text: a string as it is, anything else as JSON (consumed). */
static jv as_text(jv v)
{
	if (jv_get_kind(v) == JV_KIND_STRING)
		return v;
	if (jv_get_kind(v) == JV_KIND_NUMBER && jv_is_integer(v)) {
		char n[40];
		snprintf(n, sizeof n, "%.0f", jv_number_value(v));
		jv_free(v);
		return jv_string(n);
	}
	return jv_dump_string(v, 0);
}

static jv escape_value(jv out, jv v)
{
	jv t = as_text(v);
	out = escape_append(out, jv_string_value(t), (size_t)jv_string_length_bytes(jv_copy(t)));
	jv_free(t);
	return out;
}

jv bot_http_form_encode(jv fields)
{
	jv out = jv_string("");
	if (jv_get_kind(fields) != JV_KIND_OBJECT) {
		jv_free(fields);
		return out;
	}
	int first = 1;
	jv_object_foreach(fields, k, v) {
		if (!first)
			out = jv_string_append_str(out, "&");
		first = 0;
		out = escape_value(out, k);
		out = jv_string_append_str(out, "=");
		out = escape_value(out, v);
	}
	jv_free(fields);
	return out;
}

jv bot_http_url(const char *base, jv segments, jv query)
{
	size_t bl = strlen(base);
	while (bl > 0 && base[bl - 1] == '/')
		bl--;
	jv out = jv_string_sized(base, (int)bl);
	if (jv_get_kind(segments) == JV_KIND_ARRAY) {
		jv_array_foreach(segments, i, seg) {
			(void)i;
			out = jv_string_append_str(out, "/");
			out = escape_value(out, seg);
		}
	}
	jv_free(segments);
	if (jv_get_kind(query) == JV_KIND_OBJECT && jv_object_length(jv_copy(query)) > 0) {
		out = jv_string_append_str(out, "?");
		jv q = bot_http_form_encode(query);
		out = jv_string_concat(out, q);
	} else {
		jv_free(query);
	}
	return out;
}
