/* ws.c: WebSocket clients.  libcurl connects (DNS, proxy tunnel, TLS with
 * the certificate checked, HTTP/1.1 only) as a connect-only transfer of a
 * bot_http_multi; we send the RFC 6455 Upgrade and check its answer; then
 * libwslay does all the framing (masking, fragments, ping/pong, close)
 * over curl_easy_send/recv.  All of it inside the program's poll loop.
 *
 * Debian 12's libcurl (7.88.1) has no WebSocket of its own: curl-config
 * --features lists no "ws", curl_version_info's protocols neither, and
 * curl_ws_recv is a stub answering CURLE_NOT_BUILT_IN (checked by the
 * test "libcurl's own WebSocket" in test/unit/test-ws.c).  So wslay it is;
 * a libcurl with ws (8.11 turned it on by default) could replace the
 * framing below without changing this file's API. */
#include <curl/curl.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wslay/wslay.h>

#include "bot.h"
#include "http_priv.h"
#include "libload.h"

#define HANDSHAKE_MAX (16u << 10)
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
/* Read at most this much a turn, then let the loop run (a peer that
 * streams fast cannot keep us reading, and a pause takes effect). */
#define WS_TURN_BYTES (256u << 10)

/* ---- libwslay, loaded by the first WebSocket -----------------------------
 *
 * libbothttp does not link wslay: a program that only POSTs (a one-shot
 * send) never maps it.  Below this block the code calls wslay as usual. */
#define WSLAY_FUNCTIONS(X) \
	X(wslay_event_context_client_init) X(wslay_event_config_set_max_recv_msg_length) \
	X(wslay_event_context_free) X(wslay_event_set_error) X(wslay_event_recv) \
	X(wslay_event_send) X(wslay_event_want_write) X(wslay_event_queue_msg) \
	X(wslay_event_queue_close) X(wslay_event_get_close_received) \
	X(wslay_event_get_close_sent)

#define WS_POINTER(name) static __typeof__(name) *ws_##name;
WSLAY_FUNCTIONS(WS_POINTER)
#undef WS_POINTER

#define WSLAY_SONAME "libwslay.so.1"

static void wslay_load(void)
{
	static void *h;
	if (h)
		return;
	h = bot_dlopen_needed(WSLAY_SONAME);
#define WS_LOOKUP(name) bot_dlsym_needed(h, WSLAY_SONAME, #name, (void **)&ws_##name);
	WSLAY_FUNCTIONS(WS_LOOKUP)
#undef WS_LOOKUP
}

#define wslay_event_context_client_init (*ws_wslay_event_context_client_init)
#define wslay_event_config_set_max_recv_msg_length (*ws_wslay_event_config_set_max_recv_msg_length)
#define wslay_event_context_free (*ws_wslay_event_context_free)
#define wslay_event_set_error (*ws_wslay_event_set_error)
#define wslay_event_recv (*ws_wslay_event_recv)
#define wslay_event_send (*ws_wslay_event_send)
#define wslay_event_want_write (*ws_wslay_event_want_write)
#define wslay_event_queue_msg (*ws_wslay_event_queue_msg)
#define wslay_event_queue_close (*ws_wslay_event_queue_close)
#define wslay_event_get_close_received (*ws_wslay_event_get_close_received)
#define wslay_event_get_close_sent (*ws_wslay_event_get_close_sent)

enum ws_state { WS_CONNECTING, WS_HANDSHAKE, WS_OPEN, WS_ENDED };

struct bot_ws {
	struct bot_http_multi *m;
	long xid;
	CURL *curl;
	int fd;
	enum ws_state state;
	char *url;                 /* http(s)://host:port/ for curl */
	char *request;             /* the Upgrade request */
	size_t reqlen, reqoff;
	char accept[64];           /* the Sec-WebSocket-Accept we expect */
	char *in;                  /* the handshake answer, then leftover frames */
	size_t inlen, inoff;
	int in_is_frames;
	wslay_event_context_ptr ctx;
	long long deadline;        /* handshake */
	long long next_ping, pong_due;
	long ping_interval_ms, pong_timeout_ms;
	size_t max_message;
	int eof;                   /* the peer closed the TCP stream */
	int paused;                /* bot_ws_pause: read nothing */
	int more;                  /* the turn's budget ended a read: go on next turn */
	size_t turn_read;          /* bytes read this turn */
	int close_code;
	char close_reason[128];
	size_t close_reason_len;
	jv fail;                   /* why it ended, when not cleanly */
	struct bot_ws_cb cb;
	void *ud;
	const char *feed;          /* bot_ws_feed_frames: bytes instead of a socket */
	size_t feedlen;
};

static void ws_fail(struct bot_ws *ws, jv f)
{
	if (!jv_invalid_has_msg(jv_copy(ws->fail))) {
		jv_free(ws->fail);
		ws->fail = f;
	} else {
		jv_free(f);
	}
	ws->state = WS_ENDED;
}

/* ---- wslay's callbacks -------------------------------------------------- */

static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *ud)
{
	(void)flags;
	struct bot_ws *ws = ud;
	if (ws->inoff < ws->inlen) {   /* what came right after the 101 */
		size_t n = ws->inlen - ws->inoff < len ? ws->inlen - ws->inoff : len;
		memcpy(buf, ws->in + ws->inoff, n);
		ws->inoff += n;
		return (ssize_t)n;
	}
	if (!ws->curl) {               /* fuzzing: the feed is all there is */
		size_t n = ws->feedlen < len ? ws->feedlen : len;
		if (n == 0) {
			wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
			return -1;
		}
		memcpy(buf, ws->feed, n);
		ws->feed += n;
		ws->feedlen -= n;
		return (ssize_t)n;
	}
	if (ws->paused || ws->turn_read >= WS_TURN_BYTES) {
		ws->more = !ws->paused;
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	size_t n = 0;
	CURLcode rc = curl_easy_recv(ws->curl, buf, len, &n);
	ws->turn_read += n;
	if (rc == CURLE_AGAIN) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	if (rc != CURLE_OK || n == 0) {
		ws->eof = 1;
		if (rc != CURLE_OK)
			ws_fail(ws, bot_http_curl_failure(rc, NULL, ws->url));
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return (ssize_t)n;
}

static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags, void *ud)
{
	(void)flags;
	struct bot_ws *ws = ud;
	if (!ws->curl)
		return (ssize_t)len;   /* fuzzing: our answers go nowhere */
	size_t n = 0;
	CURLcode rc = curl_easy_send(ws->curl, data, len, &n);
	if (rc == CURLE_AGAIN) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	if (rc != CURLE_OK) {
		ws_fail(ws, bot_http_curl_failure(rc, NULL, ws->url));
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return (ssize_t)n;
}

static int genmask_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *ud)
{
	(void)ctx;
	(void)ud;
	return RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
}

static void msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg, void *ud)
{
	(void)ctx;
	struct bot_ws *ws = ud;
	ws->pong_due = 0;   /* any frame shows the peer alive */
	switch (arg->opcode) {
	case WSLAY_TEXT_FRAME:
	case WSLAY_BINARY_FRAME:
		if (ws->cb.message)
			ws->cb.message(ws->ud, arg->opcode == WSLAY_BINARY_FRAME,
			               (const char *)arg->msg, arg->msg_length);
		break;
	case WSLAY_CONNECTION_CLOSE:
		ws->close_code = arg->status_code ? arg->status_code : 1005;
		if (arg->msg_length > 2) {
			size_t n = arg->msg_length - 2;
			if (n > sizeof ws->close_reason)
				n = sizeof ws->close_reason;
			memcpy(ws->close_reason, arg->msg + 2, n);
			ws->close_reason_len = n;
		}
		break;
	default:
		break;   /* pings are answered by wslay; pongs only count as life */
	}
}

static const struct wslay_event_callbacks wslay_cbs = {
	recv_cb, send_cb, genmask_cb, NULL, NULL, NULL, msg_cb,
};

static int start_framing(struct bot_ws *ws)
{
	wslay_load();
	if (wslay_event_context_client_init(&ws->ctx, &wslay_cbs, ws) != 0)
		return -1;
	wslay_event_config_set_max_recv_msg_length(ws->ctx, ws->max_message);
	return 0;
}

/* ---- opening ------------------------------------------------------------ */

/* The parts of url a handshake needs, with ws(s) mapped to http(s). */
static int split_url(const char *url, char **connect_url, char **host, char **target, jv *err)
{
	char *scheme = NULL, *h = NULL, *port = NULL, *path = NULL, *query = NULL;
	CURLU *u = curl_url();
	int ok = u && curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK
	         && curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK
	         && curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK
	         && curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK;
	const char *cs = NULL;
	if (ok) {
		if (strcmp(scheme, "ws") == 0 || strcmp(scheme, "http") == 0)
			cs = "http";
		else if (strcmp(scheme, "wss") == 0 || strcmp(scheme, "https") == 0)
			cs = "https";
		ok = cs != NULL;
	}
	if (ok) {
		curl_url_get(u, CURLUPART_PORT, &port, 0);
		curl_url_get(u, CURLUPART_QUERY, &query, 0);
		size_t n = strlen(h) + (port ? strlen(port) : 0) + 16;
		*host = malloc(n);
		*connect_url = malloc(n + 8);
		*target = malloc(strlen(path) + (query ? strlen(query) : 0) + 2);
		if (!*host || !*connect_url || !*target)
			abort();
		snprintf(*host, n, "%s%s%s", h, port ? ":" : "", port ? port : "");
		snprintf(*connect_url, n + 8, "%s://%s/", cs, *host);
		sprintf(*target, "%s%s%s", path, query ? "?" : "", query ? query : "");
		ok = !bot_has_line_break(*target, strlen(*target)) && !strchr(*target, ' ');
		if (!ok) {
			free(*host);
			free(*connect_url);
			free(*target);
		}
	}
	if (!ok) {
		char where[256];
		*err = bot_fail_code("bad_config", 0, "%s: not a WebSocket URL",
		                     bot_http_redact(url, where, sizeof where));
	}
	curl_free(scheme);
	curl_free(h);
	curl_free(port);
	curl_free(path);
	curl_free(query);
	curl_url_cleanup(u);
	return ok ? 0 : -1;
}

/* base64 of n bytes into out (NUL-terminated). */
static void base64(const unsigned char *in, int n, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, in, n);
}

static int make_request(struct bot_ws *ws, const char *host, const char *target, jv headers, jv *err)
{
	unsigned char raw[16], sha[EVP_MAX_MD_SIZE];
	char key[32], both[96];
	unsigned int shalen = 0;
	if (RAND_bytes(raw, sizeof raw) != 1) {
		jv_free(headers);
		*err = bot_fail_code("send_failed", 1, "no random bytes for the WebSocket key");
		return -1;
	}
	base64(raw, sizeof raw, key);
	snprintf(both, sizeof both, "%s" WS_GUID, key);
	EVP_Digest(both, strlen(both), sha, &shalen, EVP_sha1(), NULL);
	base64(sha, (int)shalen, ws->accept);
	jv req = jv_string_fmt("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
	                       "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
	                       "Sec-WebSocket-Version: 13\r\nUser-Agent: botpipe/" BOT_VERSION "\r\n",
	                       target, host, key);
	if (jv_get_kind(headers) == JV_KIND_ARRAY) {
		jv_array_foreach(headers, i, hd) {
			const char *s = jv_get_kind(hd) == JV_KIND_STRING ? jv_string_value(hd) : NULL;
			if (!s || !strchr(s, ':') || bot_has_line_break(s, strlen(s))) {
				*err = bot_fail_code("bad_config", 0, "header %d: expected \"Name: value\" on one line", i + 1);
				jv_free(hd);
				jv_free(headers);
				jv_free(req);
				return -1;
			}
			req = jv_string_append_str(req, s);
			req = jv_string_append_str(req, "\r\n");
			jv_free(hd);
		}
	}
	jv_free(headers);
	req = jv_string_append_str(req, "\r\n");
	ws->reqlen = (size_t)jv_string_length_bytes(jv_copy(req));
	ws->request = malloc(ws->reqlen);
	if (!ws->request)
		abort();
	memcpy(ws->request, jv_string_value(req), ws->reqlen);
	jv_free(req);
	return 0;
}

static void on_connected(void *ud, const struct bot_http_done *d)
{
	struct bot_ws *ws = ud;
	if (jv_get_kind(d->fail) != JV_KIND_NULL) {
		ws->xid = 0;   /* the multi freed it */
		ws_fail(ws, jv_copy(d->fail));
		return;
	}
	curl_socket_t fd = CURL_SOCKET_BAD;
	curl_easy_getinfo(ws->curl, CURLINFO_ACTIVESOCKET, &fd);
	if (fd == CURL_SOCKET_BAD) {
		ws_fail(ws, bot_fail_code("send_failed", 1, "WebSocket: no socket after connecting"));
		return;
	}
	ws->fd = (int)fd;
	ws->state = WS_HANDSHAKE;
}

struct bot_ws *bot_ws_open(struct bot_http_multi *m, struct bot_ws_opts *o,
                           const struct bot_ws_cb *cb, void *ud, jv *err)
{
	jv headers = o->headers;
	o->headers = jv_invalid();
	char *host, *target, *curl_url;
	if (split_url(o->url ? o->url : "", &curl_url, &host, &target, err) < 0) {
		jv_free(headers);
		return NULL;
	}
	struct bot_ws *ws = calloc(1, sizeof *ws);
	if (!ws)
		abort();
	ws->m = m;
	ws->fd = -1;
	ws->url = curl_url;
	ws->cb = *cb;
	ws->ud = ud;
	ws->fail = jv_invalid();
	ws->ping_interval_ms = o->ping_interval_ms;
	ws->pong_timeout_ms = o->pong_timeout_ms > 0 ? o->pong_timeout_ms : o->ping_interval_ms;
	ws->max_message = o->max_message ? o->max_message : BOT_HTTP_RESPONSE_MAX;
	long cto = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : BOT_HTTP_CONNECT_TIMEOUT_MS_DEFAULT;
	ws->deadline = bot_now_ms() + cto;
	int rc = make_request(ws, host, target, headers, err);
	free(host);
	free(target);
	if (rc == 0)
		ws->xid = bot_http_start_connect(m, ws->url, cto, o->cafile, on_connected, ws, &ws->curl, err);
	if (rc < 0 || ws->xid < 0) {
		ws->xid = 0;
		bot_ws_free(ws);
		return NULL;
	}
	return ws;
}

/* ---- the handshake ------------------------------------------------------ */

/* The answer to the Upgrade is complete in ws->in: check it, keep what
 * follows the blank line as frames. */
static void check_answer(struct bot_ws *ws, size_t head_len)
{
	char where[256];
	bot_http_redact(ws->url, where, sizeof where);
	jv h = jv_object();
	long status = 0;
	if (sscanf(ws->in, "HTTP/1.1 %ld", &status) != 1)
		status = 0;
	for (size_t a = 0; a < head_len;) {
		const char *nl = memchr(ws->in + a, '\n', head_len - a);
		size_t b = nl ? (size_t)(nl - ws->in) + 1 : head_len;
		if (a > 0)
			h = bot_http_header_add(h, ws->in + a, b - a);
		a = b;
	}
	const char *upgrade = bot_str(h, "upgrade");
	const char *accept = bot_str(h, "sec-websocket-accept");
	if (status != 101) {
		int temporary = status == 0 || status == 408 || status == 429 || status >= 500;
		struct bot_ratelimit rl;
		bot_ratelimit_parse(status, h, jv_null(), (double)time(NULL), &rl);
		jv f = bot_fail_code(status == 401 || status == 403 ? "denied" : "send_failed", temporary,
		                     "%s: WebSocket upgrade refused: HTTP %ld", where, status);
		if (rl.retry_after >= 0) {
			jv o = jv_invalid_get_msg(f);
			o = jv_object_set(o, jv_string("retry_after"), jv_number(rl.retry_after));
			f = jv_invalid_with_msg(o);
		}
		ws_fail(ws, f);
	} else if (!upgrade || strcasecmp(upgrade, "websocket") != 0 || !accept
	           || strcmp(accept, ws->accept) != 0) {
		ws_fail(ws, bot_fail_code("send_failed", 0, "%s: WebSocket upgrade answered wrongly", where));
	} else if (start_framing(ws) < 0) {
		ws_fail(ws, bot_fail_code("send_failed", 1, "WebSocket: out of memory"));
	} else {
		ws->inoff = head_len;
		ws->in_is_frames = 1;
		ws->state = WS_OPEN;
		long long now = bot_now_ms();
		ws->next_ping = ws->ping_interval_ms > 0 ? now + ws->ping_interval_ms : 0;
		if (ws->cb.open)
			ws->cb.open(ws->ud);
	}
	jv_free(h);
}

static void handshake(struct bot_ws *ws, short re)
{
	if (ws->reqoff < ws->reqlen && (re & POLLOUT)) {
		size_t n = 0;
		CURLcode rc = curl_easy_send(ws->curl, ws->request + ws->reqoff, ws->reqlen - ws->reqoff, &n);
		if (rc != CURLE_OK && rc != CURLE_AGAIN) {
			ws_fail(ws, bot_http_curl_failure(rc, NULL, ws->url));
			return;
		}
		ws->reqoff += n;
	}
	if (ws->reqoff < ws->reqlen)
		return;
	/* Read until the blank line; under TLS until CURLE_AGAIN. */
	for (;;) {
		if (!ws->in && !(ws->in = malloc(HANDSHAKE_MAX + 1)))
			abort();
		if (ws->inlen >= HANDSHAKE_MAX) {
			ws_fail(ws, bot_fail_code("send_failed", 0, "WebSocket: upgrade answer over %u bytes",
			                          HANDSHAKE_MAX));
			return;
		}
		size_t n = 0;
		CURLcode rc = curl_easy_recv(ws->curl, ws->in + ws->inlen, HANDSHAKE_MAX - ws->inlen, &n);
		if (rc == CURLE_AGAIN)
			break;
		if (rc != CURLE_OK || n == 0) {
			ws_fail(ws, rc != CURLE_OK ? bot_http_curl_failure(rc, NULL, ws->url)
			        : bot_fail_code("send_failed", 1, "WebSocket: closed during the upgrade"));
			return;
		}
		ws->inlen += n;
		ws->in[ws->inlen] = 0;
		char *end = memmem(ws->in, ws->inlen, "\r\n\r\n", 4);
		if (end) {
			check_answer(ws, (size_t)(end - ws->in) + 4);
			return;
		}
	}
	if (bot_now_ms() >= ws->deadline)
		ws_fail(ws, bot_fail_code("send_failed", 1, "WebSocket: no answer to the upgrade in time"));
}

/* ---- the open connection ------------------------------------------------ */

static void frames(struct bot_ws *ws, short re)
{
	long long now = bot_now_ms();
	if (ws->pong_due && now >= ws->pong_due && !ws->paused) {
		ws_fail(ws, bot_fail_code("send_failed", 1, "WebSocket: no answer to a ping in %ld ms",
		                          ws->pong_timeout_ms));
		return;
	}
	if (ws->next_ping && now >= ws->next_ping) {
		struct wslay_event_msg ping = { WSLAY_PING, (const uint8_t *)"", 0 };
		wslay_event_queue_msg(ws->ctx, &ping);
		if (!ws->pong_due)
			ws->pong_due = now + ws->pong_timeout_ms;
		ws->next_ping = now + ws->ping_interval_ms;
	}
	int more = ws->more;
	ws->more = 0;
	ws->turn_read = 0;
	if (!ws->paused && ((re & (POLLIN | POLLHUP | POLLERR)) || ws->inoff < ws->inlen || more)) {
		if (wslay_event_recv(ws->ctx) != 0 && ws->state != WS_ENDED) {
			if (ws->eof && !wslay_event_get_close_received(ws->ctx))
				ws_fail(ws, bot_fail_code("send_failed", 1, "WebSocket: the connection dropped"));
			else if (!ws->eof)
				ws_fail(ws, bot_fail_code("send_failed", 1, "WebSocket: bad frames from the server"));
		}
	}
	if (ws->state == WS_OPEN && wslay_event_want_write(ws->ctx)
	    && wslay_event_send(ws->ctx) != 0 && ws->state != WS_ENDED)
		ws_fail(ws, bot_fail_code("send_failed", 1, "WebSocket: cannot send"));
	if (ws->state == WS_OPEN && wslay_event_get_close_received(ws->ctx)
	    && (wslay_event_get_close_sent(ws->ctx) || ws->eof) && !wslay_event_want_write(ws->ctx))
		ws->state = WS_ENDED;
	else if (ws->state == WS_OPEN && ws->eof)
		ws_fail(ws, bot_fail_code("send_failed", 1, "WebSocket: the connection dropped"));
}

/* Tell the caller how it ended, once. */
static void report_end(struct bot_ws *ws)
{
	bot_http_cancel(ws->m, ws->xid);   /* the socket goes with its handle */
	ws->xid = 0;
	ws->curl = NULL;
	ws->fd = -1;
	if (jv_invalid_has_msg(jv_copy(ws->fail))) {
		if (ws->cb.error)
			ws->cb.error(ws->ud, ws->fail);
	} else if (ws->cb.close) {
		ws->cb.close(ws->ud, ws->close_code ? ws->close_code : 1005, ws->close_reason,
		             ws->close_reason_len);
	}
	ws->cb = (struct bot_ws_cb){ 0 };
}

void bot_ws_prepare(struct bot_ws *ws, struct bot_poll *p)
{
	if (!ws || ws->state == WS_CONNECTING)
		return;   /* the multi handle waits for the connection */
	if (ws->state == WS_ENDED) {
		if (ws->cb.close || ws->cb.error)
			bot_poll_deadline(p, 0);   /* report it at once */
		return;
	}
	if (ws->state == WS_HANDSHAKE) {
		bot_poll_want(p, ws->fd, ws->reqoff < ws->reqlen ? POLLOUT : POLLIN);
		bot_poll_deadline(p, ws->deadline);
		return;
	}
	short want = (short)((ws->paused ? 0 : POLLIN) | (wslay_event_want_write(ws->ctx) ? POLLOUT : 0));
	if (want)
		bot_poll_want(p, ws->fd, want);
	if ((ws->inoff < ws->inlen || ws->more) && !ws->paused)
		bot_poll_deadline(p, 0);
	if (ws->next_ping)
		bot_poll_deadline(p, ws->next_ping);
	if (ws->pong_due && !ws->paused)
		bot_poll_deadline(p, ws->pong_due);
}

void bot_ws_dispatch(struct bot_ws *ws, const struct bot_poll *p)
{
	if (!ws)
		return;
	short re = ws->fd >= 0 ? bot_poll_revents(p, ws->fd) : 0;
	if (ws->state == WS_HANDSHAKE)
		handshake(ws, re);
	if (ws->state == WS_OPEN)
		frames(ws, re);
	if (ws->state == WS_ENDED && (ws->cb.close || ws->cb.error))
		report_end(ws);
}

int bot_ws_send(struct bot_ws *ws, int binary, const char *data, size_t len, jv *err)
{
	if (ws->state != WS_OPEN) {
		*err = bot_fail_code("send_failed", 1, "WebSocket: not open");
		return -1;
	}
	struct wslay_event_msg msg = { binary ? WSLAY_BINARY_FRAME : WSLAY_TEXT_FRAME,
	                               (const uint8_t *)data, len };
	if (wslay_event_queue_msg(ws->ctx, &msg) != 0) {
		*err = bot_fail_code("send_failed", 1, "WebSocket: closing, cannot send");
		return -1;
	}
	return 0;
}

void bot_ws_close(struct bot_ws *ws, int code, const char *reason)
{
	if (ws->state == WS_OPEN) {
		size_t n = reason ? strlen(reason) : 0;
		wslay_event_queue_close(ws->ctx, (uint16_t)code, (const uint8_t *)reason, n > 123 ? 123 : n);
	} else if (ws->state != WS_ENDED) {
		ws->close_code = code;
		ws->state = WS_ENDED;
	}
}

void bot_ws_pause(struct bot_ws *ws, int paused)
{
	if (ws->paused && !paused) {
		if (ws->pong_due)
			ws->pong_due = bot_now_ms() + ws->pong_timeout_ms;   /* the answer may be waiting unread */
		ws->more = 1;   /* TLS may hold bytes poll() cannot see */
	}
	ws->paused = paused != 0;
}

int bot_ws_alive(const struct bot_ws *ws)
{
	return ws && ws->state != WS_ENDED;
}

void bot_ws_free(struct bot_ws *ws)
{
	if (!ws)
		return;
	if (ws->xid > 0)
		bot_http_cancel(ws->m, ws->xid);
	if (ws->ctx)
		wslay_event_context_free(ws->ctx);
	jv_free(ws->fail);
	free(ws->request);
	free(ws->in);
	free(ws->url);
	free(ws);
}

void bot_ws_feed_frames(const unsigned char *data, size_t len, size_t max_message,
                        const struct bot_ws_cb *cb, void *ud)
{
	struct bot_ws ws = { .fd = -1, .cb = *cb, .ud = ud, .fail = jv_invalid(),
	                     .feed = (const char *)data, .feedlen = len,
	                     .max_message = max_message ? max_message : BOT_HTTP_RESPONSE_MAX };
	if (start_framing(&ws) == 0) {
		wslay_event_recv(ws.ctx);
		if (wslay_event_want_write(ws.ctx))
			wslay_event_send(ws.ctx);
		wslay_event_context_free(ws.ctx);
	}
	jv_free(ws.fail);
}
