/* http_stream.c: raw TCP or TLS byte streams over libcurl's connect-only
 * mode (CURLOPT_CONNECT_ONLY, curl_easy_send/recv), so that a line
 * protocol such as IRC gets verified TLS without its own OpenSSL code. */
#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bot.h"
#include "http.h"

struct bot_stream {
	CURL *curl;
	curl_socket_t fd;
	char errbuf[CURL_ERROR_SIZE];
};

/* A host name or address literal, nothing that could reshape the URL. */
static int host_ok(const char *h)
{
	if (!h || !*h || strlen(h) > 253)
		return 0;
	for (; *h; h++)
		if (!((*h >= 'a' && *h <= 'z') || (*h >= 'A' && *h <= 'Z')
		      || (*h >= '0' && *h <= '9') || *h == '.' || *h == '-' || *h == ':'
		      || *h == '_' || *h == '%'))
			return 0;
	return 1;
}

static int stream_temporary(CURLcode rc)
{
	return rc == CURLE_COULDNT_CONNECT || rc == CURLE_OPERATION_TIMEDOUT
	       || rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_COULDNT_RESOLVE_PROXY
	       || rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR
	       || rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_GOT_NOTHING;
}

static jv stream_failure(struct bot_stream *s, CURLcode rc, const char *what)
{
	char clean[CURL_ERROR_SIZE + 64];
	bot_http_redact_text(s->errbuf[0] ? s->errbuf : curl_easy_strerror(rc),
	                     clean, sizeof clean);
	return bot_fail_code("send_failed", stream_temporary(rc), "%s: %s", what, clean);
}

struct bot_stream *bot_stream_open(const char *host, int port, int tls,
                                   const char *cafile, long timeout_ms, jv *err)
{
	if (!host_ok(host) || port <= 0 || port > 65535) {
		*err = bot_fail_code("bad_config", 0, "bad host or port");
		return NULL;
	}
	struct bot_stream *s = calloc(1, sizeof *s);
	if (!s || !(s->curl = curl_easy_init())) {
		free(s);
		*err = bot_fail_code("send_failed", 1, "cannot start libcurl");
		return NULL;
	}
	char url[300];
	int v6 = strchr(host, ':') != NULL;
	snprintf(url, sizeof url, "%s://%s%s%s:%d/", tls ? "https" : "http",
	         v6 ? "[" : "", host, v6 ? "]" : "", port);
	CURL *c = s->curl;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CONNECT_ONLY, 1L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, s->errbuf);
	/* A proxy from the environment must tunnel the stream, not see it. */
	curl_easy_setopt(c, CURLOPT_HTTPPROXYTUNNEL, 1L);
	/* ALPN would negotiate h2 and the raw stream would die. */
	curl_easy_setopt(c, CURLOPT_SSL_ENABLE_ALPN, 0L);
	if (timeout_ms > 0)
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
	if (cafile)
		curl_easy_setopt(c, CURLOPT_CAINFO, cafile);
	CURLcode rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		rc = curl_easy_getinfo(c, CURLINFO_ACTIVESOCKET, &s->fd);
	if (rc != CURLE_OK || s->fd == CURL_SOCKET_BAD) {
		char what[300];
		snprintf(what, sizeof what, "%s:%d", host, port);
		*err = stream_failure(s, rc, what);
		bot_stream_close(s);
		return NULL;
	}
	return s;
}

int bot_stream_fd(const struct bot_stream *s)
{
	return (int)s->fd;
}

ssize_t bot_stream_send(struct bot_stream *s, const void *buf, size_t len, jv *err)
{
	size_t n = 0;
	s->errbuf[0] = 0;
	CURLcode rc = curl_easy_send(s->curl, buf, len, &n);
	if (rc == CURLE_AGAIN)
		return BOT_STREAM_AGAIN;
	if (rc != CURLE_OK) {
		*err = stream_failure(s, rc, "send");
		return -1;
	}
	return (ssize_t)n;
}

int bot_stream_send_all(struct bot_stream *s, const void *buf, size_t len,
                        long timeout_ms, jv *err)
{
	const char *p = buf;
	long long deadline = bot_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	while (len > 0) {
		ssize_t k = bot_stream_send(s, p, len, err);
		if (k < 0 && k != BOT_STREAM_AGAIN)
			return -1;
		if (k > 0) {
			p += k;
			len -= (size_t)k;
			continue;
		}
		long long left = deadline - bot_now_ms();
		if (timeout_ms > 0 && left <= 0) {
			*err = bot_fail_code("send_failed", 1, "send: timed out");
			return -1;
		}
		struct pollfd pfd = { .fd = (int)s->fd, .events = POLLOUT };
		if (poll(&pfd, 1, timeout_ms > 0 ? (int)left : -1) < 0 && errno != EINTR) {
			*err = bot_fail_code("send_failed", 1, "send: %s", strerror(errno));
			return -1;
		}
	}
	return 0;
}

ssize_t bot_stream_recv(struct bot_stream *s, void *buf, size_t len, jv *err)
{
	size_t n = 0;
	s->errbuf[0] = 0;
	CURLcode rc = curl_easy_recv(s->curl, buf, len, &n);
	if (rc == CURLE_AGAIN)
		return BOT_STREAM_AGAIN;
	if (rc != CURLE_OK) {
		*err = stream_failure(s, rc, "recv");
		return -1;
	}
	return (ssize_t)n;
}

void bot_stream_close(struct bot_stream *s)
{
	if (!s)
		return;
	curl_easy_cleanup(s->curl);
	free(s);
}
