/* http.c: the one HTTP layer.  One long-lived curl easy handle per
 * context, JSON in and out as jv, every failure classified for the retry
 * policy, and no URL path (where tokens live) in any message. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bot.h"
#include "http.h"

struct bot_http {
	CURL *curl;
	char *buf;            /* the response body */
	size_t len, cap;
	int too_large;
	long status;
	long timeout_ms, connect_timeout_ms;
	char *cafile;
	int verbose;
	char errbuf[CURL_ERROR_SIZE];
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
static int debug_cb(CURL *c, curl_infotype type, char *data, size_t size, void *ud)
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

/* ---- the context -------------------------------------------------------- */

struct bot_http *bot_http_new(jv *err)
{
	struct bot_http *h = calloc(1, sizeof *h);
	if (!h || !(h->curl = curl_easy_init())) {
		free(h);
		*err = bot_fail_code("send_failed", 1, "cannot start libcurl");
		return NULL;
	}
	h->timeout_ms = BOT_HTTP_TIMEOUT_MS_DEFAULT;
	h->connect_timeout_ms = BOT_HTTP_CONNECT_TIMEOUT_MS_DEFAULT;
	h->verbose = bot_verbosity >= 2;
	return h;
}

void bot_http_free(struct bot_http *h)
{
	if (!h)
		return;
	curl_easy_cleanup(h->curl);
	free(h->buf);
	free(h->cafile);
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
	free(h->cafile);
	h->cafile = cafile ? strdup(cafile) : NULL;
}

void bot_http_set_verbose(struct bot_http *h, int on)
{
	h->verbose = on;
}

long bot_http_status(const struct bot_http *h)
{
	return h->status;
}

/* CURLOPT_WRITEFUNCTION: collect the body, up to BOT_HTTP_RESPONSE_MAX. */
static size_t write_cb(char *data, size_t size, size_t nmemb, void *ud)
{
	struct bot_http *h = ud;
	size_t n = size * nmemb;
	if (h->len + n + 1 > BOT_HTTP_RESPONSE_MAX) {
		h->too_large = 1;
		return 0;
	}
	if (h->len + n + 1 > h->cap) {
		size_t cap = h->cap ? h->cap : 4096;
		while (cap < h->len + n + 1)
			cap *= 2;
		char *p = realloc(h->buf, cap);
		if (!p)
			return 0;
		h->buf = p;
		h->cap = cap;
	}
	memcpy(h->buf + h->len, data, n);
	h->len += n;
	h->buf[h->len] = 0;
	return n;
}

/* Options every request gets, after a reset that keeps the connection. */
static void set_common(struct bot_http *h)
{
	CURL *c = h->curl;
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, h->timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, h->connect_timeout_ms);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "botpipe/" BOT_VERSION);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, h);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf);
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	if (h->cafile)
		curl_easy_setopt(c, CURLOPT_CAINFO, h->cafile);
	if (h->verbose) {
		curl_easy_setopt(c, CURLOPT_DEBUGFUNCTION, debug_cb);
		curl_easy_setopt(c, CURLOPT_VERBOSE, 1L);
	}
	h->errbuf[0] = 0;
	h->len = 0;
	h->too_large = 0;
	h->status = 0;
	if (h->buf)
		h->buf[0] = 0;
}

/* A failure with retry_after and status added to bot_fail_code's object. */
static jv fail_with(jv f, double retry_after, long status)
{
	jv m = jv_invalid_get_msg(f);
	if (retry_after >= 0)
		m = jv_object_set(m, jv_string("retry_after"), jv_number(retry_after));
	if (status > 0)
		m = jv_object_set(m, jv_string("status"), jv_number((double)status));
	return jv_invalid_with_msg(m);
}

static int curl_temporary(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_GOT_NOTHING:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_AGAIN:
		return 1;
	default:
		return 0;
	}
}

/* A transport failure: no HTTP status at all. */
static jv curl_failure(struct bot_http *h, CURLcode rc, const char *url)
{
	char where[256], why[CURL_ERROR_SIZE + 64], clean[sizeof why];
	bot_http_redact(url, where, sizeof where);
	if (h->too_large)
		return bot_fail_code("send_failed", 0, "%s: response larger than %u bytes",
		                     where, BOT_HTTP_RESPONSE_MAX);
	snprintf(why, sizeof why, "%s", h->errbuf[0] ? h->errbuf : curl_easy_strerror(rc));
	bot_http_redact_text(why, clean, sizeof clean);
	return bot_fail_code("send_failed", curl_temporary(rc), "%s: %s", where, clean);
}

/* A number at body.key or body.parameters.key (Telegram), or -1. */
static double body_retry_after(jv body)
{
	jv v = bot_get(body, "retry_after");
	if (jv_get_kind(v) != JV_KIND_NUMBER) {
		jv p = bot_get(body, "parameters");
		jv_free(v);
		v = bot_get(p, "retry_after");
		jv_free(p);
	}
	double r = jv_get_kind(v) == JV_KIND_NUMBER ? jv_number_value(v) : -1;
	jv_free(v);
	return r >= 0 ? r : -1;
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
static void server_says(const char *url, jv body, char *out, size_t n)
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

/* An HTTP status that is not 2xx, classified. */
static jv status_failure(struct bot_http *h, const char *url, jv body)
{
	long st = h->status;
	char where[256], said[300];
	bot_http_redact(url, where, sizeof where);
	server_says(url, body, said, sizeof said);
	int temporary = st == 408 || st == 429 || (st >= 500 && st != 501 && st != 505);
	const char *code = st == 401 || st == 403 ? "denied" : "send_failed";
	double retry_after = -1;
	if (st == 429 || st == 503) {
		curl_off_t ra = -1;
		if (curl_easy_getinfo(h->curl, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
			retry_after = (double)ra;
		else
			retry_after = body_retry_after(body);
	}
	jv_free(body);
	return fail_with(bot_fail_code(code, temporary, "%s: HTTP %ld%s", where, st, said),
	                 retry_after, st);
}

/* The body as JSON when it parses, else as a string. */
static jv response_body(struct bot_http *h)
{
	if (h->len == 0)
		return jv_string("");
	jv v = jv_parse_sized(h->buf, (int)h->len);
	if (jv_is_valid(v))
		return v;
	jv_free(v);
	return jv_string_sized(h->buf, (int)h->len);
}

/* Headers array (consumed) plus an optional content type as an slist. */
static struct curl_slist *header_list(jv headers, const char *content_type, jv *err)
{
	struct curl_slist *l = NULL;
	if (content_type) {
		char ct[128];
		snprintf(ct, sizeof ct, "Content-Type: %s", content_type);
		l = curl_slist_append(l, ct);
	}
	/* No "Expect: 100-continue" round trip on large bodies. */
	l = curl_slist_append(l, "Expect:");
	if (jv_get_kind(headers) == JV_KIND_ARRAY) {
		jv_array_foreach(headers, i, hd) {
			const char *s = jv_get_kind(hd) == JV_KIND_STRING ? jv_string_value(hd) : NULL;
			if (!s || !strchr(s, ':') || bot_has_line_break(s, strlen(s))) {
				*err = bot_fail_code("bad_config", 0, "header %d: expected \"Name: value\" on one line", i + 1);
				jv_free(hd);
				jv_free(headers);
				curl_slist_free_all(l);
				return NULL;
			}
			l = curl_slist_append(l, s);
			jv_free(hd);
		}
	}
	jv_free(headers);
	return l;
}

jv bot_http_request(struct bot_http *h, const char *method, const char *url,
                    jv headers, const char *content_type,
                    const char *body, size_t len)
{
	jv err = jv_null();
	set_common(h);
	struct curl_slist *hl = header_list(headers, content_type, &err);
	if (!hl)
		return err;
	CURL *c = h->curl;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	if (strcmp(method, "GET") == 0) {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	} else {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
		if (strcmp(method, "POST") != 0)
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	}
	CURLcode rc = curl_easy_perform(c);
	/* The list must outlive the transfer; libcurl keeps only a pointer. */
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hl);
	if (rc != CURLE_OK)
		return curl_failure(h, rc, url);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &h->status);
	jv resp = response_body(h);
	if (h->status < 200 || h->status > 299)
		return status_failure(h, url, resp);
	return resp;
}

jv bot_http_post_json(struct bot_http *h, const char *url, jv headers, jv body)
{
	jv text = jv_dump_string(body, 0);
	jv r = bot_http_request(h, "POST", url, headers, "application/json",
	                        jv_string_value(text),
	                        (size_t)jv_string_length_bytes(jv_copy(text)));
	jv_free(text);
	return r;
}

jv bot_http_get_json(struct bot_http *h, const char *url, jv headers)
{
	return bot_http_request(h, "GET", url, headers, NULL, NULL, 0);
}

/* key=value&... with both sides percent-encoded. */
static jv form_encode(CURL *c, jv fields)
{
	jv out = jv_string("");
	int first = 1;
	if (jv_get_kind(fields) != JV_KIND_OBJECT) {
		jv_free(fields);
		return out;
	}
	jv_object_foreach(fields, k, v) {
		jv text = jv_get_kind(v) == JV_KIND_STRING ? jv_copy(v) : jv_dump_string(jv_copy(v), 0);
		char *ek = curl_easy_escape(c, jv_string_value(k), jv_string_length_bytes(jv_copy(k)));
		char *ev = curl_easy_escape(c, jv_string_value(text), jv_string_length_bytes(jv_copy(text)));
		if (ek && ev) {
			if (!first)
				out = jv_string_append_str(out, "&");
			out = jv_string_append_str(out, ek);
			out = jv_string_append_str(out, "=");
			out = jv_string_append_str(out, ev);
		}
		first = 0;
		curl_free(ek);
		curl_free(ev);
		jv_free(text);
		jv_free(k);
		jv_free(v);
	}
	jv_free(fields);
	return out;
}

jv bot_http_post_form(struct bot_http *h, const char *url, jv headers, jv fields)
{
	jv text = form_encode(h->curl, fields);
	jv r = bot_http_request(h, "POST", url, headers, "application/x-www-form-urlencoded",
	                        jv_string_value(text),
	                        (size_t)jv_string_length_bytes(jv_copy(text)));
	jv_free(text);
	return r;
}
