/* stream.h: a byte stream to host:port, plain TCP or TLS, for the
 * backends that speak a line protocol over a socket (IRC, and anything
 * else that needs a raw connection).
 *
 * Non-blocking from the start: open begins connecting, prepare and step
 * drive the connect inside the program's poll loop (pollset.h), then send
 * and recv never wait.  Plain TCP is libbot's own socket (the name is
 * looked up with getaddrinfo, the one step that may wait, for DNS).  TLS
 * goes through libbothttp (libcurl's connect-only mode: the certificate
 * and the host name checked, ALPN off, proxies tunnelled), loaded with
 * dlopen on the first TLS stream: a program that never asks for TLS never
 * loads libcurl or OpenSSL.  Same ownership rules as bot.h.
 *
 *     s = bot_stream_open(host, port, tls, cafile, 10000, &err);
 *     each turn:  bot_stream_prepare(s, &p);       (while connecting)
 *                 ... bot_poll_wait(&p) ...
 *                 rc = bot_stream_step(s, &p, &err);   1: up, poll bot_stream_fd
 */
#ifndef BOT_STREAM_H
#define BOT_STREAM_H

#include <stddef.h>
#include <sys/types.h>
#include <jv.h>

#include "pollset.h"

/* send/recv: nothing can be done now; poll the fd and try again. */
#define BOT_STREAM_AGAIN (-2)

struct bot_stream;

/* Begin connecting to host:port (TLS when tls is set; cafile NULL: the
 * system's store).  timeout_ms bounds the connect (each address of a
 * plain stream) and the TLS handshake.  NULL + *err: a host that is not a
 * host name or address (permanent "bad_config"), a name that does not
 * resolve (temporary "connect_failed"), libbothttp missing (permanent). */
struct bot_stream *bot_stream_open(const char *host, int port, int tls,
                                   const char *cafile, long timeout_ms, jv *err);
/* While connecting: the fds to watch and the deadline.  Once connected,
 * nothing (the caller polls bot_stream_fd itself). */
void bot_stream_prepare(struct bot_stream *s, struct bot_poll *p);
/* Drive the connect with what poll said: 1 connected (also every call
 * after), 0 still connecting, -1 + *err (refused, timed out, a bad
 * certificate: temporary or permanent as libbothttp.h says). */
int bot_stream_step(struct bot_stream *s, const struct bot_poll *p, jv *err);
/* The socket once connected, else -1. */
int bot_stream_fd(const struct bot_stream *s);
/* Bytes sent (possibly fewer than len), BOT_STREAM_AGAIN, or -1 + *err
 * (a temporary "connection_lost"). */
ssize_t bot_stream_send(struct bot_stream *s, const void *buf, size_t len, jv *err);
/* Bytes received, 0 when the peer closed, BOT_STREAM_AGAIN, or -1 + *err.
 * Under TLS, call it until BOT_STREAM_AGAIN before polling: the TLS layer
 * holds what the fd no longer shows. */
ssize_t bot_stream_recv(struct bot_stream *s, void *buf, size_t len, jv *err);
void bot_stream_close(struct bot_stream *s);

/* ---- the binding to libbothttp (stream.c and lib/http/http_stream.c) ---- */

/* libbothttp's streams, the same calls on its own handle: the table that
 * bot_http_stream_ops() returns, found by stream.c with one dlsym of
 * BOT_STREAM_OPS_SYMBOL.  size first, new members last. */
struct bot_stream_ops {
	size_t size;
	void *(*open)(const char *host, int port, int tls, const char *cafile,
	              long timeout_ms, jv *err);
	void (*prepare)(void *h, struct bot_poll *p);
	int (*step)(void *h, const struct bot_poll *p, jv *err);
	int (*fd)(const void *h);
	ssize_t (*send)(void *h, const void *buf, size_t len, jv *err);
	ssize_t (*recv)(void *h, void *buf, size_t len, jv *err);
	void (*close)(void *h);
};
#define BOT_STREAM_OPS_SYMBOL "bot_http_stream_ops"
typedef const struct bot_stream_ops *bot_stream_ops_fn(void);

#endif
