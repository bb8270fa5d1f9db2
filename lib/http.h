/* libbothttp: the project's one HTTP layer (libcurl), and raw TCP/TLS
 * streams over libcurl's connect-only mode.  Same ownership rules as bot.h.
 * Only backends that speak HTTP or TLS link it (see the Makefile).
 *
 * Failures are bot_fail_code invalids: {code, message, temporary,
 * retry_after?, status?}, ready for bot_retry_next:
 *   - HTTP 429: temporary; retry_after from the Retry-After header, else a
 *     "retry_after" (or "parameters.retry_after", Telegram) in a JSON body;
 *   - HTTP 408, 500, 502, 503, 504 and other 5xx except 501 and 505: temporary;
 *   - refused, reset, timed out, nothing received, DNS lookup failed:
 *     temporary;
 *   - every other 4xx or 3xx (redirects are not followed), a bad
 *     certificate, a malformed URL: permanent.
 *   code is "denied" for 401 and 403, "send_failed" otherwise.
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

/* ---- http.c: requests with JSON in and out ------------------------------ */

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

/* ---- http_stream.c: raw TCP or TLS streams (for IRC) -------------------- */

#define BOT_STREAM_AGAIN (-2)

struct bot_stream;

/* Connect to host:port, in TLS when tls is set (certificate and host name
 * checked; cafile NULL = the system's store; ALPN off).  timeout_ms bounds
 * the connect and handshake.  The stream is non-blocking: poll its fd.
 * NULL + *err (a failure as above). */
struct bot_stream *bot_stream_open(const char *host, int port, int tls,
                                   const char *cafile, long timeout_ms, jv *err);
int bot_stream_fd(const struct bot_stream *s);
/* Bytes sent (possibly fewer than len), BOT_STREAM_AGAIN when the socket
 * cannot take any now, -1 + *err. */
ssize_t bot_stream_send(struct bot_stream *s, const void *buf, size_t len, jv *err);
/* Send everything, waiting up to timeout_ms in all.  0, or -1 + *err. */
int bot_stream_send_all(struct bot_stream *s, const void *buf, size_t len,
                        long timeout_ms, jv *err);
/* Bytes received, 0 when the peer closed, BOT_STREAM_AGAIN when nothing
 * is ready, -1 + *err.  Under TLS, call it until BOT_STREAM_AGAIN before
 * polling: the TLS layer buffers what the fd no longer shows. */
ssize_t bot_stream_recv(struct bot_stream *s, void *buf, size_t len, jv *err);
void bot_stream_close(struct bot_stream *s);

#endif
