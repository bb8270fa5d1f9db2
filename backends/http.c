/* http.c: webhooks in.  A listen-only backend: an HTTP server (Debian's
 * libmicrohttpd, driven from bot-listen's poll loop through its epoll fd)
 * that turns each POST to a configured path into events with a jq
 * program, and answers the sender only once those events are written
 * downstream (a commit mark per request), so that a webhook the bot
 * acknowledged is never lost.  GitHub's X-Hub-Signature-256 (an HMAC of
 * the body) and a shared-secret header are checked before anything is
 * emitted; bodies past --http-max-body are refused with 413 in bounded
 * memory. */
#include <arpa/inet.h>
#include <errno.h>
#include <jq.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backend.h"
#include "failure.h"

static const struct bot_option http_options[] = {
	{ "http-listen", 0, BOT_OPT_STR | BOT_OPT_IDENTITY, "ADDR:PORT", "127.0.0.1:8080",
	  "where to listen (an IPv4 address and a port)" },
	{ "http-route", 0, BOT_OPT_LIST, "PATH=JQ", NULL,
	  "POSTs to PATH become the events the jq program (or @FILE) makes of {path, headers, query, body} (may be given several times)" },
	{ "http-max-body", 0, BOT_OPT_INT, "BYTES", "1048576", "refuse larger bodies with 413" },
	{ "http-secret", 0, BOT_OPT_SECRET, "SECRET", NULL,
	  "check GitHub's X-Hub-Signature-256 (HMAC-SHA256 of the body) with SECRET" },
	{ "http-token-header", 0, BOT_OPT_STR, "NAME", NULL,
	  "a header that must hold the secret BOT_HTTP_TOKEN (GitLab's X-Gitlab-Token, ...)" },
	{ "http-token", 0, BOT_OPT_SECRET, "TOKEN", NULL, "the value --http-token-header must hold" },
	{ "http-tls-cert", 0, BOT_OPT_STR, "FILE", NULL, "serve HTTPS with this certificate (PEM)" },
	{ "http-tls-key", 0, BOT_OPT_STR, "FILE", NULL, "and this key (PEM; owned by us, not readable by others)" },
	BOT_OPTIONS_END
};

#define HTTP_ROUTES_MAX 64
#define HTTP_PENDING_MAX 256     /* requests waiting for their events to be written */
#define HTTP_HEADERS_MAX (64u << 10)

struct route {
	char path[256];
	jq_state *jq;
};

struct request {
	struct request *next;      /* in the pending list, oldest first */
	struct MHD_Connection *conn;
	char *body;
	size_t len;
	int too_big, suspended, emitted;
	unsigned status;           /* the answer once known, 0 before */
	long long mark;            /* the commit mark of its last event */
};

struct http {
	struct bot_host *host;
	struct MHD_Daemon *d;
	struct sockaddr_in addr;
	struct route routes[HTTP_ROUTES_MAX];
	int nroutes;
	size_t max_body;
	char *secret, *token, token_header[128];
	char *cert, *key;
	long long next_mark, committed;
	struct request *pending, **tail;
	int npending, stopping;
	char jq_error[256];
};

static void wipe(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

static void on_jq_error(void *data, jv msg)
{
	struct http *h = data;
	if (!h->jq_error[0]) {
		jv t = jv_get_kind(msg) == JV_KIND_STRING ? jv_copy(msg) : jv_dump_string(jv_copy(msg), 0);
		bot_oneline(h->jq_error, sizeof h->jq_error, jv_string_value(t),
		            (size_t)jv_string_length_bytes(jv_copy(t)));
		jv_free(t);
	}
	jv_free(msg);
}

/* "PATH=JQ": a path starting with '/', and a program that compiles. */
static int add_route(struct http *h, const char *spec, jv *err)
{
	const char *eq = strchr(spec, '=');
	if (!eq || spec[0] != '/' || (size_t)(eq - spec) >= sizeof h->routes[0].path) {
		*err = bot_fail("--http-route %s: expected /PATH=JQ", spec);
		return -1;
	}
	if (h->nroutes == HTTP_ROUTES_MAX) {
		*err = bot_fail("--http-route: at most %d routes", HTTP_ROUTES_MAX);
		return -1;
	}
	struct route *r = &h->routes[h->nroutes];
	snprintf(r->path, sizeof r->path, "%.*s", (int)(eq - spec), spec);
	r->jq = jq_init();
	if (!r->jq) {
		*err = bot_fail("--http-route: cannot start jq");
		return -1;
	}
	h->nroutes++;
	h->jq_error[0] = 0;
	jq_set_error_cb(r->jq, on_jq_error, h);
	/* PATH=@FILE: the program is in FILE */
	char *text = eq[1] == '@' ? bot_slurp(eq + 2, 1 << 20, NULL) : NULL;
	if (eq[1] == '@' && !text) {
		*err = bot_fail("--http-route %s: %s: %s", r->path, eq + 2, strerror(errno));
		return -1;
	}
	int ok = jq_compile(r->jq, text ? text : eq + 1);
	free(text);
	if (!ok) {
		*err = bot_fail("--http-route %s: %s", r->path, h->jq_error[0] ? h->jq_error : "does not compile");
		return -1;
	}
	return 0;
}

static void http_close(void *be)
{
	struct http *h = be;
	if (!h)
		return;
	h->stopping = 1;
	for (struct request *r = h->pending; r; r = r->next)
		if (r->suspended) {
			r->suspended = 0;
			MHD_resume_connection(r->conn);   /* never stop with one suspended */
		}
	if (h->d) {
		MHD_run(h->d);   /* the resumed ones get their 503 */
		MHD_stop_daemon(h->d);
	}
	for (int i = 0; i < h->nroutes; i++)
		jq_teardown(&h->routes[i].jq);
	wipe(h->secret);
	wipe(h->token);
	wipe(h->key);
	free(h->cert);
	free(h);
}

static int parse_listen(struct http *h, const char *spec, jv *err)
{
	char host[64];
	const char *colon = spec ? strrchr(spec, ':') : NULL;
	char *end;
	long port = colon ? strtol(colon + 1, &end, 10) : -1;
	if (!colon || (size_t)(colon - spec) >= sizeof host || *end || port < 0 || port > 65535) {
		*err = bot_fail("--http-listen %s: expected ADDR:PORT", spec ? spec : "");
		return -1;
	}
	snprintf(host, sizeof host, "%.*s", (int)(colon - spec), spec);
	h->addr.sin_family = AF_INET;
	h->addr.sin_port = htons((unsigned short)port);
	if (inet_pton(AF_INET, host, &h->addr.sin_addr) != 1) {
		*err = bot_fail("--http-listen %s: not an IPv4 address", host);
		return -1;
	}
	return 0;
}

static int read_tls(struct http *h, const struct bot_config *cfg, jv *err)
{
	const char *cert = bot_cfg_str(cfg, "http-tls-cert"), *key = bot_cfg_str(cfg, "http-tls-key");
	if (!cert && !key)
		return 0;
	if (!cert || !key) {
		*err = bot_fail("--http-tls-cert and --http-tls-key go together");
		return -1;
	}
	h->cert = bot_slurp(cert, 1 << 20, NULL);
	h->key = bot_slurp(key, 1 << 20, NULL);
	if (!h->cert || !h->key) {
		*err = bot_fail("--http-tls-%s: %s", h->cert ? "key" : "cert", strerror(errno));
		return -1;
	}
	return 0;
}

static void *http_open(const struct bot_config *cfg, struct bot_host *host, jv *err)
{
	struct http *h = calloc(1, sizeof *h);
	if (!h)
		abort();
	h->host = host;
	h->tail = &h->pending;
	long max = bot_cfg_int(cfg, "http-max-body", 1 << 20);
	h->max_body = max > 0 ? (size_t)max : 1 << 20;
	const char *secret = bot_cfg_str(cfg, "http-secret"), *token = bot_cfg_str(cfg, "http-token");
	const char *th = bot_cfg_str(cfg, "http-token-header");
	h->secret = secret ? strdup(secret) : NULL;
	h->token = token ? strdup(token) : NULL;
	snprintf(h->token_header, sizeof h->token_header, "%s", th ? th : "");
	jv routes = bot_cfg_list(cfg, "http-route");
	int bad = parse_listen(h, bot_cfg_str(cfg, "http-listen"), err) < 0 || read_tls(h, cfg, err) < 0;
	jv_array_foreach(routes, i, r) {
		if (!bad && add_route(h, jv_string_value(r), err) < 0)
			bad = 1;
		jv_free(r);
		(void)i;
	}
	jv_free(routes);
	if (!bad && !h->nroutes) {
		*err = bot_fail("no --http-route: say which paths become which events");
		bad = 1;
	}
	if (!bad && (h->token_header[0] != 0) != (h->token != NULL)) {
		*err = bot_fail("--http-token-header and BOT_HTTP_TOKEN go together");
		bad = 1;
	}
	if (bad) {
		http_close(h);
		return NULL;
	}
	return h;
}

/* ---- answering ---- */

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, const char *text)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(text), (void *)text,
	                                                            MHD_RESPMEM_MUST_COPY);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
	enum MHD_Result rc = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return rc;
}

static const char *status_text(unsigned status)
{
	switch (status) {
	case 202: return "accepted\n";
	case 204: return "";
	case 400: return "bad request\n";
	case 401: return "bad or missing signature\n";
	case 404: return "no such route\n";
	case 405: return "POST only\n";
	case 413: return "body too large\n";
	case 422: return "the route made no valid event\n";
	case 503: return "busy or stopping, try again\n";
	default: return "error\n";
	}
}

/* ---- checking ---- */

/* GitHub: "sha256=" + hex HMAC-SHA256(secret, body), compared in constant time. */
static int signature_ok(const struct http *h, struct MHD_Connection *c, const struct request *r)
{
	const char *sig = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Hub-Signature-256");
	if (!sig || strncmp(sig, "sha256=", 7) || strlen(sig) != 7 + 64)
		return 0;
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned maclen = 0;
	if (!HMAC(EVP_sha256(), h->secret, (int)strlen(h->secret), (const unsigned char *)r->body, r->len,
	          mac, &maclen) || maclen != 32)
		return 0;
	char hex[65];
	for (unsigned i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", mac[i]);
	return CRYPTO_memcmp(hex, sig + 7, 64) == 0;
}

static int token_ok(const struct http *h, struct MHD_Connection *c)
{
	const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, h->token_header);
	size_t n = strlen(h->token);
	return v && strlen(v) == n && CRYPTO_memcmp(v, h->token, n) == 0;
}

/* ---- the request as jq's input ---- */

struct collect { jv obj; size_t bytes; };

static enum MHD_Result add_value(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	(void)kind;
	struct collect *c = cls;
	if (!key || !value || !bot_utf8_valid(key, strlen(key)) || !bot_utf8_valid(value, strlen(value)))
		return MHD_YES;
	c->bytes += strlen(key) + strlen(value);
	if (c->bytes > HTTP_HEADERS_MAX)
		return MHD_NO;
	char lower[256];
	snprintf(lower, sizeof lower, "%s", key);
	for (char *p = lower; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	c->obj = jv_object_set(c->obj, jv_string(lower), jv_string(value));
	return MHD_YES;
}

static jv request_input(struct MHD_Connection *c, const char *path, const struct request *r)
{
	struct collect headers = { jv_object(), 0 }, query = { jv_object(), 0 };
	MHD_get_connection_values(c, MHD_HEADER_KIND, add_value, &headers);
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, add_value, &query);
	jv body = jv_parse_sized(r->body ? r->body : "", (int)r->len);
	if (!jv_is_valid(body)) {
		jv_free(body);
		body = bot_utf8_valid(r->body ? r->body : "", r->len) ? jv_string_sized(r->body ? r->body : "", (int)r->len)
		                                                      : jv_null();
	}
	return JV_OBJECT(jv_string("path"), jv_string(path), jv_string("headers"), headers.obj,
	                 jv_string("query"), query.obj, jv_string("body"), body);
}

/* Every output of the route's program, each checked; an array of events,
 * or an invalid naming what was wrong. */
static jv route_events(struct http *h, struct route *rt, jv input)
{
	jv out = jv_array();
	jq_start(rt->jq, input, 0);
	for (jv ev = jq_next(rt->jq); ; ev = jq_next(rt->jq)) {
		if (!jv_is_valid(ev)) {
			if (jv_invalid_has_msg(jv_copy(ev))) {
				jv msg = jv_invalid_get_msg(ev);
				jv t = jv_get_kind(msg) == JV_KIND_STRING ? msg : jv_dump_string(msg, 0);
				jv f = bot_fail("route %s: %s", rt->path, jv_string_value(t));
				jv_free(t);
				jv_free(out);
				return f;
			}
			jv_free(ev);
			break;
		}
		if (jv_get_kind(ev) == JV_KIND_OBJECT && !bot_str(ev, "backend"))
			ev = jv_object_set(ev, jv_string("backend"), jv_string("http"));
		jv valid = bot_validate(ev);
		if (!jv_is_valid(valid)) {
			char why[512];
			jv f = bot_fail("route %s: %s", rt->path, bot_fail_message(valid, why, sizeof why));
			jv_free(valid);
			jv_free(out);
			return f;
		}
		out = jv_array_append(out, valid);
	}
	(void)h;
	return out;
}

static struct route *find_route(struct http *h, const char *path)
{
	for (int i = 0; i < h->nroutes; i++)
		if (!strcmp(h->routes[i].path, path))
			return &h->routes[i];
	return NULL;
}

/* The body is in: check, make the events, emit them with a mark, and
 * wait (suspended) for the commit.  The status when it is answered now,
 * 0 when it waits. */
static unsigned take_request(struct http *h, struct MHD_Connection *c, const char *path,
                             struct request *r)
{
	if (r->too_big)
		return 413;
	struct route *rt = find_route(h, path);
	if (!rt)
		return 404;
	if ((h->secret && !signature_ok(h, c, r)) || (h->token && !token_ok(h, c)))
		return 401;
	/* too many waiting, the reader downstream lagging, or stopping: the
	 * sender should try again (nothing was emitted) */
	if (h->npending >= HTTP_PENDING_MAX || h->stopping || h->host->lagging(h->host))
		return 503;
	jv evs = route_events(h, rt, request_input(c, path, r));
	if (!jv_is_valid(evs)) {
		char why[512];
		bot_warn("http: %s", bot_fail_message(evs, why, sizeof why));
		jv_free(evs);
		return 422;
	}
	int n = jv_array_length(jv_copy(evs));
	if (n == 0) {
		jv_free(evs);
		return 204;
	}
	r->mark = ++h->next_mark;
	jv_array_foreach(evs, i, ev) {
		h->host->emit(h->host, ev, i == n - 1 ? jv_number((double)r->mark) : jv_null());
	}
	jv_free(evs);
	r->emitted = 1;
	if (r->mark <= h->committed)   /* written at once */
		return 202;
	r->conn = c;
	r->suspended = 1;
	*h->tail = r;
	h->tail = &r->next;
	h->npending++;
	MHD_suspend_connection(c);
	return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *size, void **con_cls)
{
	struct http *h = cls;
	struct request *r = *con_cls;
	(void)version;
	if (!r) {
		r = calloc(1, sizeof *r);
		if (!r)
			return MHD_NO;
		*con_cls = r;
		if (strcmp(method, "POST"))
			return answer(c, 405, status_text(405));
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
		if (cl && strtoull(cl, NULL, 10) > h->max_body)
			return answer(c, 413, status_text(413));   /* before a byte of it is read */
		return MHD_YES;
	}
	if (r->status)   /* resumed: its events are written (or we stop) */
		return answer(c, r->status, status_text(r->status));
	if (*size) {
		/* a chunked body past the cap is read and dropped: bounded memory */
		if (!r->too_big && r->len + *size <= h->max_body) {
			char *b = realloc(r->body, r->len + *size + 1);
			if (!b)
				return MHD_NO;
			memcpy(b + r->len, data, *size);
			r->body = b;
			r->len += *size;
		} else
			r->too_big = 1;
		*size = 0;
		return MHD_YES;
	}
	if (r->emitted)
		return MHD_YES;   /* called again while suspended work is under way */
	unsigned status = take_request(h, c, url, r);
	return status ? answer(c, status, status_text(status)) : MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode why)
{
	struct http *h = cls;
	struct request *r = *con_cls;
	(void)c;
	(void)why;
	if (!r)
		return;
	/* a request still pending (the client left while suspended cannot
	 * be seen; it ends here only once answered) */
	for (struct request **p = &h->pending; *p; p = &(*p)->next)
		if (*p == r) {
			*p = r->next;
			if (!*p)
				h->tail = p;
			h->npending--;
			break;
		}
	free(r->body);
	free(r);
	*con_cls = NULL;
}

/* ---- the connection ---- */

static int http_start(void *be, jv *err)
{
	struct http *h = be;
	if (h->d) {
		h->host->up(h->host);
		return 0;
	}
	unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | (h->cert ? MHD_USE_TLS : 0);
	h->d = h->cert
	     ? MHD_start_daemon(flags, 0, NULL, NULL, on_request, h,
	                        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&h->addr,
	                        MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
	                        MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_CONNECTION_LIMIT, 512u,
	                        MHD_OPTION_HTTPS_MEM_CERT, h->cert, MHD_OPTION_HTTPS_MEM_KEY, h->key,
	                        MHD_OPTION_END)
	     : MHD_start_daemon(flags, 0, NULL, NULL, on_request, h,
	                        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&h->addr,
	                        MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
	                        MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_CONNECTION_LIMIT, 512u,
	                        MHD_OPTION_END);
	if (!h->d) {
		/* a port in use or not ours is a setting to change, not a retry */
		*err = bot_fail_code("bad_config", 0, "--http-listen: cannot listen there (in use, or not allowed)");
		return -1;
	}
	h->host->up(h->host);
	return 0;
}

static int epoll_fd(struct http *h)
{
	const union MHD_DaemonInfo *i = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
	return i ? i->epoll_fd : -1;
}

static void http_prepare(void *be, struct bot_poll *p)
{
	struct http *h = be;
	if (!h->d)
		return;
	bot_poll_want(p, epoll_fd(h), POLLIN);
	MHD_UNSIGNED_LONG_LONG ms;
	if (MHD_get_timeout(h->d, &ms) == MHD_YES)
		bot_poll_deadline(p, bot_now_ms() + (long long)(ms > 60000 ? 60000 : ms));
}

static int http_dispatch(void *be, const struct bot_poll *p, jv *err)
{
	struct http *h = be;
	(void)p;
	(void)err;
	if (h->d)
		MHD_run(h->d);
	return 0;
}

/* Events up to mark are written: their senders get 202. */
static void http_commit(void *be, jv mark)
{
	struct http *h = be;
	long long m = (long long)jv_number_value(mark);
	if (m > h->committed)
		h->committed = m;
	int resumed = 0;
	for (struct request *r = h->pending; r; r = r->next)
		if (r->suspended && r->mark <= h->committed) {
			r->suspended = 0;
			r->status = 202;
			MHD_resume_connection(r->conn);
			resumed = 1;
		}
	if (resumed)
		MHD_run(h->d);
}

static void http_stop(void *be)
{
	struct http *h = be;
	for (struct request *r = h->pending; r; r = r->next)
		if (r->suspended) {
			r->suspended = 0;
			r->status = 503;
			MHD_resume_connection(r->conn);
		}
	if (h->d)
		MHD_run(h->d);
}

static int http_is_from_self(void *be, jv ev)
{
	(void)be;
	(void)ev;
	return 0;
}

const struct bot_backend bot_backend = {
	.size = sizeof(struct bot_backend),
	.abi = BOT_BACKEND_ABI,
	.name = "http",
	.markup = "markdown",
	.options = http_options,
	.can = BOT_CAN_LISTEN,
	.open = http_open,
	.close = http_close,
	.start = http_start,
	.prepare = http_prepare,
	.dispatch = http_dispatch,
	.stop = http_stop,
	.commit = http_commit,
	.is_from_self = http_is_from_self,
};
