/* libbothttp: the project's one HTTP layer (libcurl), WebSocket over it
 * (wslay), and raw TCP/TLS streams over libcurl's connect-only mode.  Same
 * ownership rules as bot.h.  Only backends that speak HTTP or TLS link it
 * (see the Makefile); doc/HACKING.md says what lives where.
 *
 * Failures are bot_fail_code invalids: {code, message, temporary,
 * retry_after?, status?}, ready for bot_retry_next:
 *   - HTTP 429: temporary;
 *   - HTTP 408, 500, 502, 503, 504 and other 5xx except 501 and 505: temporary;
 *   - refused, reset, timed out, nothing received, DNS lookup failed:
 *     temporary;
 *   - every other 4xx or 3xx (redirects are not followed), a bad
 *     certificate, a malformed URL, a response over its cap: permanent.
 *   retry_after (seconds) on any 4xx or 5xx that says how long to wait, in
 *   any dialect bot_ratelimit_parse reads (the Retry-After header first,
 *   then the body: Matrix retry_after_ms, Zulip retry-after, Discord
 *   retry_after, Telegram parameters.retry_after; then X-RateLimit-Reset-After
 *   or X-RateLimit-Reset when nothing is left).
 *   code is "denied" for 401 and 403, "cancelled" for a transfer cancelled
 *   (temporary), "send_failed" otherwise.
 * libcurl itself sends a request a second time, once, when a reused
 * connection turns out dead before any answer: a receiver may see a POST
 * twice (at least once, as the outbox documents).
 * No message ever holds a URL's path or query: URLs carry tokens
 * (Telegram's /bot<token>/, a webhook URL), so they appear redacted.
 */
#ifndef BOT_HTTP_H
#define BOT_HTTP_H

#include <stddef.h>
#include <sys/types.h>
#include <jv.h>

#include "pollset.h"
#include "stream.h"

/* ---- http.c: blocking requests with JSON in and out --------------------- */
/* Each call runs one transfer of its own bot_http_multi (below) to its end,
 * so the two share every option, limit and failure rule. */

#define BOT_HTTP_TIMEOUT_MS_DEFAULT 30000L
#define BOT_HTTP_CONNECT_TIMEOUT_MS_DEFAULT 10000L
#define BOT_HTTP_RESPONSE_MAX (16u << 20)

struct bot_http;

/* One context holds one easy handle for its whole life, so connections are
 * reused.  TLS verification is on; proxies come from the environment
 * (http_proxy, https_proxy, no_proxy), as libcurl does.  NULL + *err. */
struct bot_http *bot_http_new(jv *err);
void bot_http_free(struct bot_http *h);
/* Whole-request and connect timeouts in milliseconds (0 = keep). */
void bot_http_set_timeout(struct bot_http *h, long timeout_ms, long connect_timeout_ms);
/* A CA bundle to trust instead of the system's (NULL = the system's). */
void bot_http_set_cafile(struct bot_http *h, const char *cafile);
/* libcurl's trace, through bot_debug, with every URL path, Authorization
 * and other credential header redacted.  Defaults to bot_verbosity >= 2. */
void bot_http_set_verbose(struct bot_http *h, int on);

/* POST body (consumed) as JSON.  headers (consumed): null or an array of
 * "Name: value" strings.  Returns the response parsed as JSON, or as a
 * string when it is not JSON (an empty string for an empty body), or a
 * failure as above. */
jv bot_http_post_json(struct bot_http *h, const char *url, jv headers, jv body);
/* GET; same results. */
jv bot_http_get_json(struct bot_http *h, const char *url, jv headers);
/* POST an object of fields (consumed; values strings, or others as JSON
 * text) as application/x-www-form-urlencoded; same results. */
jv bot_http_post_form(struct bot_http *h, const char *url, jv headers, jv fields);
/* Any method and body; content_type NULL for none. */
jv bot_http_request(struct bot_http *h, const char *method, const char *url,
                    jv headers, const char *content_type,
                    const char *body, size_t len);
/* The HTTP status of the last request (0 when none was received). */
long bot_http_status(const struct bot_http *h);

/* Write url into buf with everything after scheme://host[:port] replaced
 * by "/…" (nothing replaced when the path is empty or "/"), user
 * information dropped.  Something that is not scheme://... gives "<url>".
 * Returns buf. */
const char *bot_http_redact(const char *url, char *buf, size_t n);
/* Copy text into buf with every URL in it redacted as above. */
const char *bot_http_redact_text(const char *text, char *buf, size_t n);

/* ---- http_stream.c: TLS streams (for IRC), through libbot's stream.h ---- */

/* The table stream.c binds (BOT_STREAM_OPS_SYMBOL): connect-only
 * transfers on a multi handle of their own, non-blocking throughout; TLS
 * checked as every transfer is (cafile NULL: the system's store), ALPN
 * off, a proxy from the environment tunnelled.  Use bot_stream_open. */
const struct bot_stream_ops *bot_http_stream_ops(void);

/* ---- multi.c: asynchronous transfers inside the poll loop --------------- */

struct bot_http_multi;

/* What bot_http_start sends.  Strings are borrowed (copied at the start);
 * jv fields are consumed by bot_http_start, always.  A jv left zeroed
 * (jv_invalid()) or null means "none". */
struct bot_http_req {
	const char *method;        /* NULL: GET, or POST when there is a body */
	const char *url;           /* http: or https: only */
	jv headers;                /* array of "Name: value" strings */
	jv json;                   /* a body sent as application/json, or */
	const char *body;          /* raw body bytes, body_len long, with */
	size_t body_len;
	const char *content_type;  /* (NULL: none) */
	/* multipart/form-data: fields (object; strings, others as JSON text)
	 * and, with upload_path, a file part named upload_field (a regular
	 * file of our own; the name shown is upload_name, its type upload_type). */
	jv form;
	const char *upload_path, *upload_field, *upload_name, *upload_type;
	const char *user, *password;   /* HTTP Basic, when user is set */
	long timeout_ms;           /* the whole transfer; 0: 30 s */
	long connect_timeout_ms;   /* 0: 10 s */
	size_t response_max;       /* body cap; 0: BOT_HTTP_RESPONSE_MAX */
	const char *download_path; /* write the body to this file (0600) */
	size_t download_max;       /* its cap; 0: response_max */
	jv want_headers;           /* array of header names to report */
	/* Errors inside a 2xx answer (see bot_http_envelope_ok): given the
	 * status and the body (look-only), jv_null() for a good answer or a
	 * bot_fail_code failure. */
	jv (*envelope)(long status, jv body);
	/* With upload_path and no form: the file is the whole body (POST
	 * unless method says otherwise), sent as content_type (Matrix's media
	 * upload, S3-style PUTs), not a multipart part. */
	int upload_raw;
};

/* The rate-limit state an answer states, in whatever dialect. */
enum bot_ratelimit_scope {
	BOT_RL_NONE,      /* nothing said */
	BOT_RL_ROUTE,     /* this route (or the server did not say) */
	BOT_RL_BUCKET,    /* a named bucket shared by routes (bucket holds it) */
	BOT_RL_GLOBAL,    /* every request of this token */
};
struct bot_ratelimit {
	double retry_after;        /* seconds to wait, -1 when nothing says */
	enum bot_ratelimit_scope scope;
	char bucket[80];           /* X-RateLimit-Bucket, "" when none */
	long limit, remaining;     /* -1 when not given */
	double reset;              /* Unix time the window resets, -1 */
};

/* What a completion callback sees.  Everything is look-only and lives
 * until the callback returns: jv_copy what you keep. */
struct bot_http_done {
	long id;
	long status;               /* 0 when no answer came */
	jv headers;                /* object: the wanted headers, lower-case names */
	jv body;                   /* JSON parsed, or a string; null when none */
	jv fail;                   /* null, or a failure as above */
	const char *file;          /* the download's path, on success */
	struct bot_ratelimit rate;
};
typedef void bot_http_done_fn(void *ud, const struct bot_http_done *d);

/* A set of concurrent transfers (one curl multi handle, its connection
 * cache shared by all).  NULL + *err. */
struct bot_http_multi *bot_http_multi_new(jv *err);
/* Cancels what still runs (their callbacks see "cancelled"), then frees. */
void bot_http_multi_free(struct bot_http_multi *m);
void bot_http_multi_set_cafile(struct bot_http_multi *m, const char *cafile);
void bot_http_multi_set_verbose(struct bot_http_multi *m, int on);
/* Start a transfer: its id (> 0), or -1 + *err for a request that cannot
 * start (bad method, header, file).  done(ud, ...) runs exactly once, from
 * bot_http_multi_dispatch or from a cancel; it may start or cancel other
 * transfers, never free the multi. */
long bot_http_start(struct bot_http_multi *m, struct bot_http_req *req,
                    bot_http_done_fn *done, void *ud, jv *err);
/* End one transfer now: its callback sees a "cancelled" failure.  An id
 * that is done or unknown is ignored. */
void bot_http_cancel(struct bot_http_multi *m, long id);
/* Cancel every transfer (on SIGTERM: a long poll ends at once). */
void bot_http_cancel_all(struct bot_http_multi *m);
/* How many transfers run. */
size_t bot_http_running(const struct bot_http_multi *m);
void bot_http_multi_prepare(struct bot_http_multi *m, struct bot_poll *p);
void bot_http_multi_dispatch(struct bot_http_multi *m, const struct bot_poll *p);

/* ---- ratelimit.c: response parsers --------------------------------------- */

/* Read every rate-limit dialect from an answer: headers (object, lower-
 * case names, look-only), body (look-only), status; now is Unix time. */
void bot_ratelimit_parse(long status, jv headers, jv body, double now,
                         struct bot_ratelimit *rl);
/* Seconds in a Retry-After value: a number (fractions kept) or an HTTP
 * date; -1 when neither. */
double bot_http_retry_after_value(const char *v, double now);
/* One response header line (as libcurl hands it: "Name: value\r\n") added
 * to headers (consumed, returned): the name lower-cased, the value trimmed,
 * a repeated name joined with ", ".  A status line ("HTTP/...") starts a
 * new answer: an empty object.  Lines that are not headers change nothing. */
jv bot_http_header_add(jv headers, const char *line, size_t len);
/* Envelopes for bot_http_req.envelope: {"ok": false, "error"|"description"}
 * (Slack, Telegram), {"result": "error", "msg", "code"} (Zulip). */
jv bot_http_envelope_ok(long status, jv body);
jv bot_http_envelope_result(long status, jv body);
/* base + "/" + each segment of segments (consumed; strings or numbers),
 * percent-encoded, + "?" + query (object, consumed) form-encoded.
 * Returns a jv string. */
jv bot_http_url(const char *base, jv segments, jv query);
/* key=value&... of an object (consumed), both percent-encoded. */
jv bot_http_form_encode(jv fields);

/* ---- ws.c: WebSocket (RFC 6455 framing by libwslay) ---------------------- */

struct bot_ws;

struct bot_ws_opts {
	const char *url;           /* ws://, wss://, http:// or https:// */
	jv headers;                /* consumed: extra "Name: value" lines */
	const char *cafile;
	long connect_timeout_ms;   /* connect + handshake; 0: 10 s */
	long ping_interval_ms;     /* 0: never ping */
	long pong_timeout_ms;      /* no frame at all this long after a ping: dead */
	size_t max_message;        /* 0: BOT_HTTP_RESPONSE_MAX */
};

struct bot_ws_cb {
	void (*open)(void *ud);
	/* A whole message (fragments joined); data is not NUL-terminated. */
	void (*message)(void *ud, int binary, const char *data, size_t len);
	/* The connection ended cleanly: the peer's close code (1005 when it
	 * gave none) and reason.  Then nothing more is called. */
	void (*close)(void *ud, int code, const char *reason, size_t len);
	/* It ended otherwise (drop, silent peer, bad frames): fail look-only. */
	void (*error)(void *ud, jv fail);
};

/* Start connecting through m (DNS, proxy, TLS with HTTP/1.1 only) and then
 * the upgrade, all inside the poll loop.  NULL + *err for a bad URL. */
struct bot_ws *bot_ws_open(struct bot_http_multi *m, struct bot_ws_opts *o,
                           const struct bot_ws_cb *cb, void *ud, jv *err);
void bot_ws_prepare(struct bot_ws *ws, struct bot_poll *p);
void bot_ws_dispatch(struct bot_ws *ws, const struct bot_poll *p);
/* Queue a text (or binary) message.  0, or -1 + *err when not open. */
int bot_ws_send(struct bot_ws *ws, int binary, const char *data, size_t len, jv *err);
/* 1: read nothing more (the peer's frames wait in the kernel, so a
 * reader downstream that lags holds memory still), but go on writing:
 * heartbeats and acknowledgements still go out; no pong is awaited.
 * It takes effect at once, also from inside the message callback.
 * 0: read again.  (Whatever the pause, a turn reads at most 256 KiB.) */
void bot_ws_pause(struct bot_ws *ws, int paused);
/* Start a clean close with code and reason; close() follows. */
void bot_ws_close(struct bot_ws *ws, int code, const char *reason);
/* 1 while connecting or open, 0 once ended. */
int bot_ws_alive(const struct bot_ws *ws);
void bot_ws_free(struct bot_ws *ws);
/* For fuzzing the frame path: a client context that reads frames from
 * data (as if the server sent them) and reports them through cb. */
void bot_ws_feed_frames(const unsigned char *data, size_t len, size_t max_message,
                        const struct bot_ws_cb *cb, void *ud);

#endif
