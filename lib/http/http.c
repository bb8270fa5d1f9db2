/* http.c: the blocking face of the one HTTP layer (each call is one
 * transfer of the context's own bot_http_multi, run to its end), and the
 * redaction every message and trace goes through: no URL path (where
 * tokens live) in any message. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bot.h"
#include "http_priv.h"

struct bot_http {
	struct bot_http_multi *m;
	long timeout_ms, connect_timeout_ms;
	long status;
};

/* ---- redaction ---------------------------------------------------------- */

/* Length of a URL scheme ending at "://" at s, or 0. */
static size_t scheme_len(const char *s)
{
	size_t i = 0;
	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return 0;
	while (s[i] && (s[i] == '+' || s[i] == '-' || s[i] == '.'
	                || (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z')
	                || (s[i] >= 'A' && s[i] <= 'Z')))
		i++;
	return strncmp(s + i, "://", 3) == 0 ? i : 0;
}

/* A character that ends a URL inside free text. */
static int url_end(char c)
{
	return c == 0 || c == ' ' || c == '\t' || c == '\r' || c == '\n'
	       || c == '"' || c == '\'' || c == '<' || c == '>';
}

/* Append to buf at *o (bounded; always NUL-terminated). */
static void put(char *buf, size_t n, size_t *o, const char *s, size_t len)
{
	for (size_t i = 0; i < len && *o + 1 < n; i++)
		buf[(*o)++] = s[i];
	buf[*o < n ? *o : n - 1] = 0;
}

/* Redact the URL at s (which starts with a scheme); append to buf; return
 * how many bytes of s it spans (up to url_end). */
static size_t redact_one(const char *s, size_t sl, char *buf, size_t n, size_t *o)
{
	const char *auth = s + sl + 3, *p = auth;
	while (!url_end(*p) && *p != '/' && *p != '?' && *p != '#')
		p++;
	const char *at = NULL;
	for (const char *q = auth; q < p; q++)
		if (*q == '@')
			at = q;
	const char *host = at ? at + 1 : auth;
	put(buf, n, o, s, sl + 3);
	put(buf, n, o, host, (size_t)(p - host));
	const char *end = p;
	while (!url_end(*end))
		end++;
	if (end - p == 1 && *p == '/')
		put(buf, n, o, "/", 1);
	else if (end > p)
		put(buf, n, o, "/\xe2\x80\xa6", 4);   /* "/…" */
	return (size_t)(end - s);
}

const char *bot_http_redact(const char *url, char *buf, size_t n)
{
	size_t o = 0, sl;
	if (n == 0)
		return buf;
	buf[0] = 0;
	if (!url || !(sl = scheme_len(url))) {
		put(buf, n, &o, "<url>", 5);
		return buf;
	}
	redact_one(url, sl, buf, n, &o);
	return buf;
}

const char *bot_http_redact_text(const char *text, char *buf, size_t n)
{
	size_t o = 0;
	if (n == 0)
		return buf;
	buf[0] = 0;
	for (const char *s = text; s && *s;) {
		size_t sl = (s == text || !((s[-1] >= 'a' && s[-1] <= 'z')
		                            || (s[-1] >= 'A' && s[-1] <= 'Z')))
		            ? scheme_len(s) : 0;
		if (sl) {
			s += redact_one(s, sl, buf, n, &o);
		} else {
			put(buf, n, &o, s, 1);
			s++;
		}
	}
	return buf;
}

/* A header whose value is a credential, by its name. */
static int secret_header(const char *line, size_t namelen)
{
	static const char *const words[] = {
		"authorization", "cookie", "token", "key", "secret", "auth",
		"signature", "password", "session",
	};
	char name[128];
	if (namelen >= sizeof name)
		return 1;
	for (size_t i = 0; i < namelen; i++)
		name[i] = (char)(line[i] >= 'A' && line[i] <= 'Z' ? line[i] + 32 : line[i]);
	name[namelen] = 0;
	for (size_t i = 0; i < sizeof words / sizeof *words; i++)
		if (strstr(name, words[i]))
			return 1;
	return 0;
}

/* One line of libcurl's header trace, redacted: a request line loses its
 * path, a credential header its value, a Location its path. */
static void redact_header_line(const char *line, char *out, size_t n)
{
	const char *colon = strchr(line, ':');
	const char *sp = strchr(line, ' ');
	if (sp && (!colon || sp < colon) && sp[1] == '/') {
		/* "POST /bot123:abc/sendMessage HTTP/1.1" */
		const char *ver = strchr(sp + 1, ' ');
		snprintf(out, n, "%.*s /\xe2\x80\xa6%s", (int)(sp - line), line, ver ? ver : "");
	} else if (colon && secret_header(line, (size_t)(colon - line))) {
		snprintf(out, n, "%.*s: <redacted>", (int)(colon - line), line);
	} else {
		bot_http_redact_text(line, out, n);
	}
}

/* CURLOPT_DEBUGFUNCTION: text and headers, redacted, through bot_debug;
 * bodies only as their size. */
int bot_http_debug_cb(CURL *c, curl_infotype type, char *data, size_t size, void *ud)
{
	(void)c;
	(void)ud;
	static const char *const tag[] = { "*", "<", ">" };
	char chunk[2048], line[2048];
	switch (type) {
	case CURLINFO_TEXT:
	case CURLINFO_HEADER_IN:
	case CURLINFO_HEADER_OUT:
		break;
	case CURLINFO_DATA_IN:
	case CURLINFO_DATA_OUT:
		bot_debug("http: %s [%zu bytes of data]", type == CURLINFO_DATA_IN ? "<" : ">", size);
		return 0;
	default:
		return 0;
	}
	/* A header block may hold several lines: one debug line each. */
	size_t i = 0;
	while (i < size) {
		size_t j = i;
		while (j < size && data[j] != '\n' && data[j] != '\r')
			j++;
		size_t len = j - i < sizeof chunk - 1 ? j - i : sizeof chunk - 1;
		memcpy(chunk, data + i, len);
		chunk[len] = 0;
		if (len > 0) {
			if (type == CURLINFO_TEXT)
				bot_http_redact_text(chunk, line, sizeof line);
			else
				redact_header_line(chunk, line, sizeof line);
			bot_debug("http: %s %s", tag[type], line);
		}
		while (j < size && (data[j] == '\n' || data[j] == '\r'))
			j++;
		i = j;
	}
	return 0;
}

/* A server may quote the request's path back ("Cannot POST /hooks/T0K3N"):
 * blank out, in place, every piece of the URL's path and query long enough
 * to be a secret (8 bytes or more). */
static void hide_url_pieces(const char *url, char *text)
{
	const char *p = strstr(url, "://");
	p = p ? strchr(p + 3, '/') : NULL;
	while (p && *p) {
		size_t len = strcspn(p, "/?&=#;");
		if (len >= 8) {
			for (char *hit; (hit = memmem(text, strlen(text), p, len));) {
				memmove(hit + 3, hit + len, strlen(hit + len) + 1);
				memcpy(hit, "\xe2\x80\xa6", 3);   /* U+2026, shorter than len */
			}
		}
		p += len + (p[len] ? 1 : 0);
	}
}

/* What the server said, for the message: a JSON description/error/message
 * field, else the start of a text body; one line, at most ~200 bytes,
 * without the request's secret parts. */
void bot_http_server_says(const char *url, jv body, char *out, size_t n)
{
	static const char *const keys[] = { "description", "error", "message" };
	const char *s = NULL;
	for (size_t i = 0; i < 3 && !s; i++)
		s = bot_str(body, keys[i]);
	if (!s && jv_get_kind(body) == JV_KIND_STRING)
		s = jv_string_value(body);
	if (!s || !*s) {
		out[0] = 0;
		return;
	}
	char one[256], clean[256];
	char *copy = strdup(s);   /* hide before cutting: no half token shown */
	if (!copy)
		abort();
	hide_url_pieces(url, copy);
	bot_oneline(one, 200, copy, strlen(copy));
	free(copy);
	bot_http_redact_text(one, clean, sizeof clean);
	snprintf(out, n, ": %s", clean);
}

/* ---- the blocking API -------------------------------------------------- */

struct bot_http *bot_http_new(jv *err)
{
	struct bot_http *h = calloc(1, sizeof *h);
	if (!h)
		abort();
	if (!(h->m = bot_http_multi_new(err))) {
		free(h);
		return NULL;
	}
	h->timeout_ms = BOT_HTTP_TIMEOUT_MS_DEFAULT;
	h->connect_timeout_ms = BOT_HTTP_CONNECT_TIMEOUT_MS_DEFAULT;
	return h;
}

void bot_http_free(struct bot_http *h)
{
	if (!h)
		return;
	bot_http_multi_free(h->m);
	free(h);
}

void bot_http_set_timeout(struct bot_http *h, long timeout_ms, long connect_timeout_ms)
{
	if (timeout_ms > 0)
		h->timeout_ms = timeout_ms;
	if (connect_timeout_ms > 0)
		h->connect_timeout_ms = connect_timeout_ms;
}

void bot_http_set_cafile(struct bot_http *h, const char *cafile)
{
	bot_http_multi_set_cafile(h->m, cafile);
}

void bot_http_set_verbose(struct bot_http *h, int on)
{
	bot_http_multi_set_verbose(h->m, on);
}

long bot_http_status(const struct bot_http *h)
{
	return h->status;
}

struct wait {
	int done;
	long status;
	jv result;
};

static void on_done(void *ud, const struct bot_http_done *d)
{
	struct wait *w = ud;
	w->done = 1;
	w->status = d->status;
	w->result = jv_get_kind(d->fail) == JV_KIND_NULL ? jv_copy(d->body) : jv_copy(d->fail);
}

/* Run one request to its end in a poll loop of its own.  A signal does
 * not cut it short: the transfer's timeout bounds it, as before. */
static jv run(struct bot_http *h, struct bot_http_req *r)
{
	struct wait w = { 0, 0, jv_null() };
	jv err = jv_null();
	r->timeout_ms = h->timeout_ms;
	r->connect_timeout_ms = h->connect_timeout_ms;
	h->status = 0;
	if (bot_http_start(h->m, r, on_done, &w, &err) < 0)
		return err;
	struct bot_poll p = BOT_POLL_INIT;
	while (!w.done) {
		bot_poll_reset(&p);
		bot_http_multi_prepare(h->m, &p);
		bot_poll_wait(&p);
		bot_http_multi_dispatch(h->m, &p);
	}
	bot_poll_free(&p);
	h->status = w.status;
	return w.result;
}

jv bot_http_request(struct bot_http *h, const char *method, const char *url,
                    jv headers, const char *content_type,
                    const char *body, size_t len)
{
	struct bot_http_req r = {
		.method = method, .url = url, .headers = headers,
		.content_type = content_type, .body = body ? body : (strcmp(method, "GET") ? "" : NULL),
		.body_len = len,
	};
	return run(h, &r);
}

jv bot_http_post_json(struct bot_http *h, const char *url, jv headers, jv body)
{
	struct bot_http_req r = { .method = "POST", .url = url, .headers = headers, .json = body };
	return run(h, &r);
}

jv bot_http_get_json(struct bot_http *h, const char *url, jv headers)
{
	return bot_http_request(h, "GET", url, headers, NULL, NULL, 0);
}

jv bot_http_post_form(struct bot_http *h, const char *url, jv headers, jv fields)
{
	jv text = bot_http_form_encode(fields);
	jv r = bot_http_request(h, "POST", url, headers, "application/x-www-form-urlencoded",
	                        jv_string_value(text),
	                        (size_t)jv_string_length_bytes(jv_copy(text)));
	jv_free(text);
	return r;
}
