/* http_stream.c: TLS (or plain) byte streams over libcurl's connect-only
 * mode, so that a line protocol such as IRC gets a checked TLS connection
 * without OpenSSL code of its own.  The connect (DNS, proxy tunnel, TLS
 * handshake) runs on a multi handle inside the program's poll loop; then
 * curl_easy_send/recv move the bytes.  Programs reach it through libbot's
 * stream.h, which loads this library on the first TLS stream and calls
 * the table below. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bot.h"
#include "http_priv.h"

struct hstream {
	struct bot_http_multi *m;
	long id;
	CURL *easy;                /* the multi's, for send and recv */
	int state;                 /* 0 connecting, 1 up, -1 failed */
	jv fail;                   /* why it failed */
	int fd;
};

static void on_connected(void *ud, const struct bot_http_done *d)
{
	struct hstream *s = ud;
	if (jv_get_kind(d->fail) != JV_KIND_NULL) {
		s->state = -1;
		s->fail = jv_copy(d->fail);
		s->id = 0;             /* the multi freed the transfer */
		return;
	}
	curl_socket_t fd = CURL_SOCKET_BAD;
	curl_easy_getinfo(s->easy, CURLINFO_ACTIVESOCKET, &fd);
	if (fd == CURL_SOCKET_BAD) {
		s->state = -1;
		s->fail = bot_fail_code("connection_lost", 1, "the connection closed as it opened");
		return;
	}
	s->fd = (int)fd;
	s->state = 1;
}

static void hs_close(void *h)
{
	struct hstream *s = h;
	if (!s)
		return;
	bot_http_multi_free(s->m);   /* the connect-only handle goes with it */
	jv_free(s->fail);
	free(s);
}

static void *hs_open(const char *host, int port, int tls, const char *cafile,
                     long timeout_ms, jv *err)
{
	struct hstream *s = calloc(1, sizeof *s);
	if (!s)
		abort();
	s->fail = jv_null();
	s->fd = -1;
	if (!(s->m = bot_http_multi_new(err))) {
		free(s);
		return NULL;
	}
	char url[300];
	int v6 = strchr(host, ':') != NULL;
	snprintf(url, sizeof url, "%s://%s%s%s:%d/", tls ? "https" : "http", v6 ? "[" : "", host,
	         v6 ? "]" : "", port);
	s->id = bot_http_start_connect(s->m, url, timeout_ms, cafile, on_connected, s, &s->easy, err);
	if (s->id < 0) {
		hs_close(s);
		return NULL;
	}
	return s;
}

static void hs_prepare(void *h, struct bot_poll *p)
{
	struct hstream *s = h;
	if (s->state == 0)
		bot_http_multi_prepare(s->m, p);
}

static int hs_step(void *h, const struct bot_poll *p, jv *err)
{
	struct hstream *s = h;
	if (s->state == 0)
		bot_http_multi_dispatch(s->m, p);
	if (s->state < 0)
		*err = jv_copy(s->fail);
	return s->state;
}

static int hs_fd(const void *h)
{
	const struct hstream *s = h;
	return s->state == 1 ? s->fd : -1;
}

static jv io_failure(CURLcode rc, const char *what)
{
	char clean[CURL_ERROR_SIZE + 64];
	bot_http_redact_text(curl_easy_strerror(rc), clean, sizeof clean);
	return bot_fail_code("connection_lost", 1, "%s: %s", what, clean);
}

static ssize_t hs_send(void *h, const void *buf, size_t len, jv *err)
{
	struct hstream *s = h;
	size_t n = 0;
	CURLcode rc = curl_easy_send(s->easy, buf, len, &n);
	if (rc == CURLE_AGAIN)
		return BOT_STREAM_AGAIN;
	if (rc != CURLE_OK) {
		*err = io_failure(rc, "send");
		return -1;
	}
	return (ssize_t)n;
}

static ssize_t hs_recv(void *h, void *buf, size_t len, jv *err)
{
	struct hstream *s = h;
	size_t n = 0;
	CURLcode rc = curl_easy_recv(s->easy, buf, len, &n);
	if (rc == CURLE_AGAIN)
		return BOT_STREAM_AGAIN;
	if (rc != CURLE_OK) {
		*err = io_failure(rc, "recv");
		return -1;
	}
	return (ssize_t)n;
}

static const struct bot_stream_ops ops = {
	.size = sizeof ops,
	.open = hs_open,
	.prepare = hs_prepare,
	.step = hs_step,
	.fd = hs_fd,
	.send = hs_send,
	.recv = hs_recv,
	.close = hs_close,
};

const struct bot_stream_ops *bot_http_stream_ops(void)
{
	return &ops;
}
