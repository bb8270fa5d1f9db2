/* stream.c: plain TCP streams of libbot's own, TLS streams through
 * libbothttp, bound here and nowhere else (see stream.h). */
#include <dlfcn.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bot.h"
#include "lazyhttp.h"
#include "stream.h"

struct bot_stream {
	/* TLS: libbothttp's handle */
	const struct bot_stream_ops *ops;
	void *h;
	/* plain */
	int fd, connected, last_errno;
	struct addrinfo *res, *cur;    /* the addresses, the one being tried */
	long timeout_ms;
	long long deadline;            /* of the address being tried */
	char where[300];               /* host:port, for messages */
};

/* ---- libbothttp, loaded on the first TLS stream ------------------------- */

/* The table, loaded once (never unloaded: libcurl keeps global state). */
static const struct bot_stream_ops *tls_ops(jv *err)
{
	static const struct bot_stream_ops *ops;
	if (ops)
		return ops;
	void *h = bot_http_dlopen("connect_failed", err);
	if (!h)
		return NULL;
	bot_stream_ops_fn *get;
	*(void **)&get = dlsym(h, BOT_STREAM_OPS_SYMBOL);
	const struct bot_stream_ops *o = get ? get() : NULL;
	if (!o || o->size < sizeof *o) {
		*err = bot_fail_code("connect_failed", 0, "TLS: libbothttp.so.0 has no stream table");
		return NULL;
	}
	return ops = o;
}

/* ---- plain TCP ---------------------------------------------------------- */

/* A host name or address literal. */
static int host_ok(const char *h)
{
	if (!h || !*h || strlen(h) > 253)
		return 0;
	for (; *h; h++)
		if (!((*h >= 'a' && *h <= 'z') || (*h >= 'A' && *h <= 'Z') || (*h >= '0' && *h <= '9') ||
		      *h == '.' || *h == '-' || *h == ':' || *h == '_' || *h == '%'))
			return 0;
	return 1;
}

static void drop_fd(struct bot_stream *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

/* Start on the next address that takes a connect; 0, or -1 when none is
 * left (s->last_errno says why the last one failed). */
static int try_next(struct bot_stream *s)
{
	for (; s->cur; s->cur = s->cur->ai_next) {
		struct addrinfo *a = s->cur;
		s->fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
		if (s->fd < 0) {
			s->last_errno = errno;
			continue;
		}
		s->deadline = bot_now_ms() + s->timeout_ms;
		if (connect(s->fd, a->ai_addr, a->ai_addrlen) == 0) {
			s->connected = 1;
			break;
		}
		if (errno == EINPROGRESS)
			break;
		s->last_errno = errno;
		drop_fd(s);
	}
	if (s->fd < 0)
		return -1;
	s->cur = s->cur->ai_next;   /* the one after, should this one fail */
	return 0;
}

static void plain_up(struct bot_stream *s)
{
	/* lines are small and every request waits for its answer: no Nagle */
	int one = 1;
	setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	s->connected = 1;
	freeaddrinfo(s->res);
	s->res = s->cur = NULL;
}

static jv refused(struct bot_stream *s)
{
	return bot_fail_code("connect_failed", 1, "%s: %s", s->where,
	                     strerror(s->last_errno ? s->last_errno : ETIMEDOUT));
}

static int plain_open(struct bot_stream *s, const char *host, int port, jv *err)
{
	char service[16];
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	snprintf(service, sizeof service, "%d", port);
	int rc = getaddrinfo(host, service, &hints, &s->res);
	if (rc) {
		s->res = NULL;
		*err = bot_fail_code("connect_failed", 1, "%s: %s", host, gai_strerror(rc));
		return -1;
	}
	s->cur = s->res;
	if (try_next(s) < 0) {
		*err = refused(s);
		return -1;
	}
	if (s->connected)
		plain_up(s);
	return 0;
}

static int plain_step(struct bot_stream *s, const struct bot_poll *p, jv *err)
{
	while (!s->connected) {
		short re = bot_poll_revents(p, s->fd);
		if (re & (POLLOUT | POLLERR | POLLHUP)) {
			int soerr = 0;
			socklen_t sl = sizeof soerr;
			if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
				soerr = errno;
			if (!soerr) {
				plain_up(s);
				break;
			}
			s->last_errno = soerr;
		} else if (bot_now_ms() >= s->deadline)
			s->last_errno = ETIMEDOUT;
		else
			return 0;
		drop_fd(s);
		if (try_next(s) < 0) {
			*err = refused(s);
			return -1;
		}
		if (!s->connected)
			return 0;   /* a new socket: the next poll says more */
		plain_up(s);
	}
	return 1;
}

/* ---- the API ------------------------------------------------------------ */

struct bot_stream *bot_stream_open(const char *host, int port, int tls,
                                   const char *cafile, long timeout_ms, jv *err)
{
	if (!host_ok(host) || port <= 0 || port > 65535) {
		*err = bot_fail_code("bad_config", 0, "bad host or port");
		return NULL;
	}
	struct bot_stream *s = calloc(1, sizeof *s);
	if (!s)
		abort();
	s->fd = -1;
	s->timeout_ms = timeout_ms > 0 ? timeout_ms : 10000;
	snprintf(s->where, sizeof s->where, "%s:%d", host, port);
	int rc;
	if (tls) {
		s->ops = tls_ops(err);
		s->h = s->ops ? s->ops->open(host, port, 1, cafile, s->timeout_ms, err) : NULL;
		rc = s->h ? 0 : -1;
	} else
		rc = plain_open(s, host, port, err);
	if (rc < 0) {
		bot_stream_close(s);
		return NULL;
	}
	return s;
}

void bot_stream_prepare(struct bot_stream *s, struct bot_poll *p)
{
	if (s->ops) {
		s->ops->prepare(s->h, p);
		return;
	}
	if (s->connected)
		return;
	bot_poll_want(p, s->fd, POLLOUT);
	bot_poll_deadline(p, s->deadline);
}

int bot_stream_step(struct bot_stream *s, const struct bot_poll *p, jv *err)
{
	if (s->ops)
		return s->ops->step(s->h, p, err);
	return plain_step(s, p, err);
}

int bot_stream_fd(const struct bot_stream *s)
{
	if (s->ops)
		return s->ops->fd(s->h);
	return s->connected ? s->fd : -1;
}

ssize_t bot_stream_send(struct bot_stream *s, const void *buf, size_t len, jv *err)
{
	if (s->ops)
		return s->ops->send(s->h, buf, len, err);
	ssize_t w = send(s->fd, buf, len, MSG_NOSIGNAL);
	if (w >= 0)
		return w;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return BOT_STREAM_AGAIN;
	*err = bot_fail_code("connection_lost", 1, "%s: write: %s", s->where, strerror(errno));
	return -1;
}

ssize_t bot_stream_recv(struct bot_stream *s, void *buf, size_t len, jv *err)
{
	if (s->ops)
		return s->ops->recv(s->h, buf, len, err);
	ssize_t r = read(s->fd, buf, len);
	if (r >= 0)
		return r;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return BOT_STREAM_AGAIN;
	*err = bot_fail_code("connection_lost", 1, "%s: read: %s", s->where, strerror(errno));
	return -1;
}

void bot_stream_close(struct bot_stream *s)
{
	if (!s)
		return;
	if (s->ops && s->h)
		s->ops->close(s->h);
	drop_fd(s);
	if (s->res)
		freeaddrinfo(s->res);
	free(s);
}
