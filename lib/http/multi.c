/* multi.c: asynchronous transfers on one curl multi handle, driven by the
 * program's poll loop (poll.h).
 *
 * Why curl_multi_socket_action with CURLMOPT_SOCKETFUNCTION/TIMERFUNCTION:
 * libcurl tells us, as it changes, which sockets it waits on and when it
 * must run next; prepare copies that into the shared poll set and dispatch
 * hands back exactly what is ready.  curl_multi_fdset is select()-bound
 * (fds < 1024), curl_multi_poll would own the wait (and so the loop), and
 * curl_multi_waitfds comes only in 8.8. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bot.h"
#include "http_priv.h"
#include "state.h"

#define HEADERS_MAX (64u << 10)   /* all response header bytes of one answer */

struct xfer {
	struct bot_http_multi *m;
	struct xfer *next;
	long id;
	CURL *curl;
	struct curl_slist *hl;
	curl_mime *mime;
	int upload_fd;
	char *url;
	/* the answer */
	char *buf;
	size_t len, cap, max;
	int too_large;
	jv headers;               /* every header of the final answer */
	size_t header_bytes;
	jv want;                  /* lower-case names to report */
	int dl_fd;
	char *dl_path, *dl_tmp;
	jv (*envelope)(long, jv);
	bot_http_done_fn *done;
	void *ud;
	int connect_only, connected;
	char errbuf[CURL_ERROR_SIZE];
};

struct sock {
	curl_socket_t fd;
	int what;                 /* CURL_POLL_IN, _OUT, _INOUT */
};

struct bot_http_multi {
	CURLM *multi;
	struct xfer *xfers;
	long next_id;
	struct sock *socks;
	size_t nsocks, capsocks;
	long long timer_at;       /* bot_now_ms() when libcurl wants to run; -1 */
	char *cafile;
	int verbose;
};

/* ---- failures ----------------------------------------------------------- */

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

jv bot_http_curl_failure(CURLcode rc, const char *errbuf, const char *url)
{
	char where[256], why[CURL_ERROR_SIZE + 64], clean[sizeof why];
	bot_http_redact(url, where, sizeof where);
	snprintf(why, sizeof why, "%s", errbuf && errbuf[0] ? errbuf : curl_easy_strerror(rc));
	bot_http_redact_text(why, clean, sizeof clean);
	return bot_fail_code("send_failed", curl_temporary(rc), "%s: %s", where, clean);
}

/* A failure with retry_after and status added to bot_fail_code's object
 * (retry_after kept when the failure has one already). */
static jv fail_with(jv f, double retry_after, long status)
{
	jv m = jv_invalid_get_msg(f);
	if (jv_get_kind(m) != JV_KIND_OBJECT) {
		jv_free(m);
		m = jv_object();
	}
	jv had = jv_object_get(jv_copy(m), jv_string("retry_after"));
	if (retry_after >= 0 && jv_get_kind(had) != JV_KIND_NUMBER)
		m = jv_object_set(m, jv_string("retry_after"), jv_number(retry_after));
	jv_free(had);
	if (status > 0)
		m = jv_object_set(m, jv_string("status"), jv_number((double)status));
	return jv_invalid_with_msg(m);
}

/* An HTTP status that is not 2xx, classified. */
static jv status_failure(long st, const char *url, jv body, const struct bot_ratelimit *rl)
{
	char where[256], said[300];
	bot_http_redact(url, where, sizeof where);
	bot_http_server_says(url, body, said, sizeof said);
	int temporary = st == 408 || st == 429 || (st >= 500 && st != 501 && st != 505);
	const char *code = st == 401 || st == 403 ? "denied" : "send_failed";
	return fail_with(bot_fail_code(code, temporary, "%s: HTTP %ld%s", where, st, said),
	                 rl->retry_after, st);
}

/* ---- building a request ------------------------------------------------- */

struct curl_slist *bot_http_header_list(jv headers, const char *content_type, jv *err)
{
	struct curl_slist *l = NULL;
	if (content_type) {
		char ct[160];
		if (bot_has_line_break(content_type, strlen(content_type)) || strlen(content_type) > 120) {
			jv_free(headers);
			*err = bot_fail_code("bad_config", 0, "content type: expected one short line");
			return NULL;
		}
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

static int method_ok(const char *m)
{
	size_t n = strlen(m);
	if (n == 0 || n > 16)
		return 0;
	for (; *m; m++)
		if (*m < 'A' || *m > 'Z')
			return 0;
	return 1;
}

/* CURLOPT_WRITEFUNCTION: the body into memory or the download file, capped. */
static size_t write_cb(char *data, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t n = size * nmemb;
	if (x->len + n > x->max) {
		x->too_large = 1;
		return 0;
	}
	if (x->dl_fd >= 0) {
		for (size_t done = 0; done < n;) {
			ssize_t w = write(x->dl_fd, data + done, n - done);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				return 0;
			done += (size_t)w;
		}
		x->len += n;
		return n;
	}
	if (x->len + n + 1 > x->cap) {
		size_t cap = x->cap ? x->cap : 4096;
		while (cap < x->len + n + 1)
			cap *= 2;
		char *p = realloc(x->buf, cap);
		if (!p)
			return 0;
		x->buf = p;
		x->cap = cap;
	}
	memcpy(x->buf + x->len, data, n);
	x->len += n;
	x->buf[x->len] = 0;
	return n;
}

/* CURLOPT_HEADERFUNCTION: every header line, into x->headers. */
static size_t header_cb(char *data, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t n = size * nmemb;
	if (n >= 5 && memcmp(data, "HTTP/", 5) == 0)
		x->header_bytes = 0;
	x->header_bytes += n;
	if (x->header_bytes > HEADERS_MAX) {
		x->too_large = 1;
		return 0;
	}
	x->headers = bot_http_header_add(x->headers, data, n);
	return n;
}

/* The file part's bytes come from a descriptor we opened and checked. */
static size_t upload_read(char *buf, size_t size, size_t nitems, void *ud)
{
	struct xfer *x = ud;
	ssize_t r;
	do
		r = read(x->upload_fd, buf, size * nitems);
	while (r < 0 && errno == EINTR);
	return r < 0 ? CURL_READFUNC_ABORT : (size_t)r;
}

static int upload_seek(void *ud, curl_off_t offset, int origin)
{
	struct xfer *x = ud;
	return lseek(x->upload_fd, (off_t)offset, origin) < 0 ? CURL_SEEKFUNC_FAIL : CURL_SEEKFUNC_OK;
}

static void xfer_free(struct xfer *x)
{
	if (!x)
		return;
	if (x->curl) {
		curl_multi_remove_handle(x->m->multi, x->curl);
		curl_easy_cleanup(x->curl);
	}
	curl_slist_free_all(x->hl);
	curl_mime_free(x->mime);
	if (x->upload_fd >= 0)
		close(x->upload_fd);
	if (x->dl_fd >= 0)
		close(x->dl_fd);
	if (x->dl_tmp)
		unlink(x->dl_tmp);
	free(x->dl_tmp);
	free(x->dl_path);
	free(x->buf);
	free(x->url);
	jv_free(x->headers);
	jv_free(x->want);
	free(x);
}

/* Open the file to post and check it is ours: its size, or -1 + *err. */
static curl_off_t open_upload(struct xfer *x, const char *path, jv *err)
{
	x->upload_fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (x->upload_fd < 0 || fstat(x->upload_fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		*err = bot_fail_code("bad_input", 0, "%s: %s", path,
		                     x->upload_fd < 0 ? strerror(errno) : "not a regular file");
		return -1;
	}
	/* What others may rewrite is not ours to post. */
	if (bot_fd_private(x->upload_fd, path, 1, err) < 0)
		return -1;
	return (curl_off_t)st.st_size;
}

/* The file is the body itself, read as curl sends it. */
static int set_raw_upload(struct xfer *x, struct bot_http_req *r, jv *err)
{
	curl_off_t size = open_upload(x, r->upload_path, err);
	if (size < 0)
		return -1;
	curl_easy_setopt(x->curl, CURLOPT_POST, 1L);
	curl_easy_setopt(x->curl, CURLOPT_POSTFIELDSIZE_LARGE, size);
	curl_easy_setopt(x->curl, CURLOPT_READFUNCTION, upload_read);
	curl_easy_setopt(x->curl, CURLOPT_READDATA, x);
	curl_easy_setopt(x->curl, CURLOPT_SEEKFUNCTION, upload_seek);
	curl_easy_setopt(x->curl, CURLOPT_SEEKDATA, x);
	return 0;
}

static int set_upload(struct xfer *x, struct bot_http_req *r, jv *err)
{
	x->mime = curl_mime_init(x->curl);
	if (jv_get_kind(r->form) == JV_KIND_OBJECT) {
		jv_object_foreach(r->form, k, v) {
			jv text = jv_get_kind(v) == JV_KIND_STRING ? v : jv_dump_string(v, 0);
			curl_mimepart *p = curl_mime_addpart(x->mime);
			curl_mime_name(p, jv_string_value(k));
			curl_mime_data(p, jv_string_value(text), (size_t)jv_string_length_bytes(jv_copy(text)));
			jv_free(text);
			jv_free(k);
		}
	}
	if (r->upload_path) {
		curl_off_t size = open_upload(x, r->upload_path, err);
		if (size < 0)
			return -1;
		curl_mimepart *p = curl_mime_addpart(x->mime);
		curl_mime_name(p, r->upload_field ? r->upload_field : "file");
		const char *slash = strrchr(r->upload_path, '/');
		curl_mime_filename(p, r->upload_name ? r->upload_name : slash ? slash + 1 : r->upload_path);
		curl_mime_type(p, r->upload_type ? r->upload_type : "application/octet-stream");
		curl_mime_data_cb(p, size, upload_read, upload_seek, NULL, x);
	}
	curl_easy_setopt(x->curl, CURLOPT_MIMEPOST, x->mime);
	return 0;
}

static int set_download(struct xfer *x, const char *path, jv *err)
{
	x->dl_path = strdup(path);
	size_t n = strlen(path) + 6;
	x->dl_tmp = malloc(n);
	if (!x->dl_path || !x->dl_tmp)
		abort();
	snprintf(x->dl_tmp, n, "%s.part", path);
	x->dl_fd = open(x->dl_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (x->dl_fd < 0) {
		*err = bot_fail_code("bad_config", 0, "%s: %s", x->dl_tmp, strerror(errno));
		free(x->dl_tmp);
		x->dl_tmp = NULL;
		return -1;
	}
	return 0;
}

/* Options every transfer gets. */
static void set_common(struct xfer *x, long timeout_ms, long connect_timeout_ms)
{
	CURL *c = x->curl;
	curl_easy_setopt(c, CURLOPT_PRIVATE, x);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : BOT_HTTP_TIMEOUT_MS_DEFAULT);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
	                 connect_timeout_ms > 0 ? connect_timeout_ms : BOT_HTTP_CONNECT_TIMEOUT_MS_DEFAULT);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "botpipe/" BOT_VERSION);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, x->errbuf);
	if (x->m->cafile)
		curl_easy_setopt(c, CURLOPT_CAINFO, x->m->cafile);
	if (x->m->verbose) {
		curl_easy_setopt(c, CURLOPT_DEBUGFUNCTION, bot_http_debug_cb);
		curl_easy_setopt(c, CURLOPT_VERBOSE, 1L);
	}
}

static struct xfer *xfer_new(struct bot_http_multi *m, const char *url)
{
	struct xfer *x = calloc(1, sizeof *x);
	if (!x || !(x->url = strdup(url ? url : "")))
		abort();
	x->m = m;
	x->upload_fd = x->dl_fd = -1;
	x->headers = jv_object();
	x->want = jv_array();
	x->curl = curl_easy_init();
	return x;
}

/* Link x in, add it to the multi: its id, or -1 + *err (x freed). */
static long xfer_add(struct bot_http_multi *m, struct xfer *x, jv *err)
{
	CURLMcode mc = curl_multi_add_handle(m->multi, x->curl);
	if (mc != CURLM_OK) {
		*err = bot_fail_code("send_failed", 1, "cannot start a transfer: %s", curl_multi_strerror(mc));
		xfer_free(x);
		return -1;
	}
	x->id = ++m->next_id;
	x->next = m->xfers;
	m->xfers = x;
	return x->id;
}

/* Every jv of r, consumed. */
static void req_free(struct bot_http_req *r)
{
	jv_free(r->headers);
	jv_free(r->json);
	jv_free(r->form);
	jv_free(r->want_headers);
	r->headers = r->json = r->form = r->want_headers = jv_invalid();
}

static int has(jv v)
{
	return jv_is_valid(v) && jv_get_kind(v) != JV_KIND_NULL;
}

/* Everything that can fail before the transfer starts. */
static int xfer_setup(struct xfer *x, struct bot_http_req *r, jv *err)
{
	CURL *c = x->curl;
	const char *method = r->method ? r->method
	                     : (r->body || has(r->json) || has(r->form) || r->upload_path) ? "POST" : "GET";
	if (!c) {
		*err = bot_fail_code("send_failed", 1, "cannot start libcurl");
		return -1;
	}
	if (!method_ok(method)) {
		*err = bot_fail_code("bad_input", 0, "bad HTTP method");
		return -1;
	}
	set_common(x, r->timeout_ms, r->connect_timeout_ms);
	x->max = r->response_max ? r->response_max : BOT_HTTP_RESPONSE_MAX;
	curl_easy_setopt(c, CURLOPT_URL, r->url ? r->url : "");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
	if (!r->download_path)
		curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	if (r->download_path) {
		if (r->download_max)
			x->max = r->download_max;
		if (set_download(x, r->download_path, err) < 0)
			return -1;
	}
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->max);
	const char *ctype = r->content_type;
	jv text = jv_invalid();
	if (has(r->json)) {
		text = jv_dump_string(jv_copy(r->json), 0);
		ctype = "application/json";
	}
	int raw = r->upload_raw && r->upload_path && !has(r->form);
	int multipart = !raw && (has(r->form) || r->upload_path);
	if ((x->hl = bot_http_header_list(jv_copy(r->headers), multipart ? NULL : ctype, err)) == NULL) {
		jv_free(text);
		return -1;
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, x->hl);
	if (multipart) {
		if (set_upload(x, r, err) < 0)
			return -1;
	} else if (raw) {
		if (set_raw_upload(x, r, err) < 0) {
			jv_free(text);
			return -1;
		}
	} else if (jv_is_valid(text) || r->body || (strcmp(method, "POST") == 0)) {
		const char *b = jv_is_valid(text) ? jv_string_value(text) : r->body ? r->body : "";
		size_t bl = jv_is_valid(text) ? (size_t)jv_string_length_bytes(jv_copy(text)) : r->body_len;
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)bl);
		curl_easy_setopt(c, CURLOPT_COPYPOSTFIELDS, b);
	}
	jv_free(text);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (r->user) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERNAME, r->user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, r->password ? r->password : "");
	}
	if (jv_get_kind(r->want_headers) == JV_KIND_ARRAY) {
		jv_array_foreach(r->want_headers, i, name) {
			(void)i;
			if (jv_get_kind(name) == JV_KIND_STRING) {
				char low[80];
				snprintf(low, sizeof low, "%s", jv_string_value(name));
				for (char *p = low; *p; p++)
					if (*p >= 'A' && *p <= 'Z')
						*p = (char)(*p + 32);
				x->want = jv_array_append(x->want, jv_string(low));
			}
			jv_free(name);
		}
	}
	x->envelope = r->envelope;
	return 0;
}

long bot_http_start(struct bot_http_multi *m, struct bot_http_req *r,
                    bot_http_done_fn *done, void *ud, jv *err)
{
	struct xfer *x = xfer_new(m, r->url);
	x->done = done;
	x->ud = ud;
	int rc = xfer_setup(x, r, err);
	req_free(r);
	if (rc < 0) {
		xfer_free(x);
		return -1;
	}
	return xfer_add(m, x, err);
}

long bot_http_start_connect(struct bot_http_multi *m, const char *url,
                            long connect_timeout_ms, const char *cafile,
                            bot_http_done_fn *done, void *ud, CURL **easy, jv *err)
{
	struct xfer *x = xfer_new(m, url);
	if (!x->curl) {
		xfer_free(x);
		*err = bot_fail_code("send_failed", 1, "cannot start libcurl");
		return -1;
	}
	x->done = done;
	x->ud = ud;
	x->connect_only = 1;
	set_common(x, 0, connect_timeout_ms);
	curl_easy_setopt(x->curl, CURLOPT_TIMEOUT_MS, 0L);
	curl_easy_setopt(x->curl, CURLOPT_URL, url);
	curl_easy_setopt(x->curl, CURLOPT_CONNECT_ONLY, 1L);
	/* A proxy from the environment must tunnel the stream, not see it;
	 * over TLS only HTTP/1.1 may be offered, or an h2 server breaks the
	 * Upgrade. */
	curl_easy_setopt(x->curl, CURLOPT_HTTPPROXYTUNNEL, 1L);
	curl_easy_setopt(x->curl, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(x->curl, CURLOPT_SSL_ENABLE_ALPN, 0L);
	if (cafile)
		curl_easy_setopt(x->curl, CURLOPT_CAINFO, cafile);
	*easy = x->curl;
	return xfer_add(m, x, err);
}

/* ---- the multi handle --------------------------------------------------- */

static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	(void)easy;
	(void)socketp;
	struct bot_http_multi *m = userp;
	size_t i = 0;
	while (i < m->nsocks && m->socks[i].fd != fd)
		i++;
	if (what == CURL_POLL_REMOVE) {
		if (i < m->nsocks)
			m->socks[i] = m->socks[--m->nsocks];
		return 0;
	}
	if (i == m->nsocks) {
		if (m->nsocks == m->capsocks) {
			size_t cap = m->capsocks ? m->capsocks * 2 : 8;
			struct sock *s = realloc(m->socks, cap * sizeof *s);
			if (!s)
				abort();
			m->socks = s;
			m->capsocks = cap;
		}
		m->nsocks++;
	}
	m->socks[i] = (struct sock){ fd, what };
	return 0;
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	(void)multi;
	struct bot_http_multi *m = userp;
	m->timer_at = timeout_ms < 0 ? -1 : bot_now_ms() + timeout_ms;
	return 0;
}

struct bot_http_multi *bot_http_multi_new(jv *err)
{
	static int global_done;
	if (!global_done) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		global_done = 1;
	}
	struct bot_http_multi *m = calloc(1, sizeof *m);
	if (!m || !(m->multi = curl_multi_init())) {
		free(m);
		*err = bot_fail_code("send_failed", 1, "cannot start libcurl");
		return NULL;
	}
	m->timer_at = -1;
	m->verbose = bot_verbosity >= 2;
	curl_multi_setopt(m->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(m->multi, CURLMOPT_SOCKETDATA, m);
	curl_multi_setopt(m->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(m->multi, CURLMOPT_TIMERDATA, m);
	return m;
}

void bot_http_multi_set_cafile(struct bot_http_multi *m, const char *cafile)
{
	free(m->cafile);
	m->cafile = cafile ? strdup(cafile) : NULL;
}

void bot_http_multi_set_verbose(struct bot_http_multi *m, int on)
{
	m->verbose = on;
}

size_t bot_http_running(const struct bot_http_multi *m)
{
	size_t n = 0;
	for (const struct xfer *x = m->xfers; x; x = x->next)
		n += !x->connected;
	return n;
}

/* Take x out of the list (it is then the caller's). */
static void unlink_xfer(struct bot_http_multi *m, struct xfer *x)
{
	for (struct xfer **pp = &m->xfers; *pp; pp = &(*pp)->next)
		if (*pp == x) {
			*pp = x->next;
			x->next = NULL;
			return;
		}
}

static struct xfer *find(struct bot_http_multi *m, long id)
{
	for (struct xfer *x = m->xfers; x; x = x->next)
		if (x->id == id)
			return x;
	return NULL;
}

/* The body as JSON when it parses, else as a string. */
static jv response_body(const struct xfer *x)
{
	if (x->len == 0)
		return jv_string("");
	jv v = jv_parse_sized(x->buf, (int)x->len);
	if (jv_is_valid(v))
		return v;
	jv_free(v);
	return jv_string_sized(x->buf, (int)x->len);
}

/* Only the headers the caller asked for. */
static jv wanted(const struct xfer *x)
{
	jv out = jv_object();
	jv_array_foreach(x->want, i, name) {
		(void)i;
		jv v = jv_object_get(jv_copy(x->headers), jv_copy(name));
		if (jv_get_kind(v) == JV_KIND_STRING)
			out = jv_object_set(out, name, v);
		else {
			jv_free(v);
			jv_free(name);
		}
	}
	return out;
}

/* Turn what libcurl did into the callback's view, call it, free x. */
static void finish(struct bot_http_multi *m, struct xfer *x, CURLcode rc, jv fail)
{
	struct bot_http_done d = { .id = x->id, .headers = jv_null(), .body = jv_null(), .fail = fail };
	double now = (double)time(NULL);
	if (jv_invalid_has_msg(jv_copy(fail))) {
		/* cancelled: nothing more to read */
	} else if ((d.fail = jv_null()), rc != CURLE_OK) {
		if (x->too_large || rc == CURLE_FILESIZE_EXCEEDED)
			d.fail = bot_fail_code("send_failed", 0, "%s: response larger than %zu bytes",
			                       bot_http_redact(x->url, (char[256]){ 0 }, 256), x->max);
		else
			d.fail = bot_http_curl_failure(rc, x->errbuf, x->url);
	} else {
		curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &d.status);
		d.headers = wanted(x);
		d.body = x->dl_fd >= 0 ? jv_null() : response_body(x);
		bot_ratelimit_parse(d.status, x->headers, d.body, now, &d.rate);
		if (d.status < 200 || d.status > 299) {
			d.fail = status_failure(d.status, x->url, d.body, &d.rate);
		} else if (x->envelope) {
			jv e = x->envelope(d.status, d.body);
			if (!jv_is_valid(e) && jv_invalid_has_msg(jv_copy(e))) {
				bot_ratelimit_parse(429, x->headers, d.body, now, &d.rate);
				d.fail = fail_with(e, d.rate.retry_after, d.status);
			} else {
				jv_free(e);
			}
		}
		if (jv_get_kind(d.fail) == JV_KIND_NULL && x->dl_fd >= 0) {
			int bad = close(x->dl_fd) < 0 || rename(x->dl_tmp, x->dl_path) < 0;
			x->dl_fd = -1;
			if (bad)
				d.fail = bot_fail_code("send_failed", 0, "%s: %s", x->dl_path, strerror(errno));
			else {
				free(x->dl_tmp);
				x->dl_tmp = NULL;
				d.file = x->dl_path;
			}
		}
	}
	unlink_xfer(m, x);
	if (x->done)
		x->done(x->ud, &d);
	jv_free(d.headers);
	jv_free(d.body);
	jv_free(d.fail);
	xfer_free(x);
}

/* A connect-only transfer reports connected (or failed) and stays. */
static void finish_connect(struct bot_http_multi *m, struct xfer *x, CURLcode rc)
{
	struct bot_http_done d = { .id = x->id, .headers = jv_null(), .body = jv_null(), .fail = jv_null() };
	if (rc != CURLE_OK) {
		d.fail = bot_http_curl_failure(rc, x->errbuf, x->url);
		unlink_xfer(m, x);
		x->done(x->ud, &d);
		jv_free(d.fail);
		xfer_free(x);
		return;
	}
	x->connected = 1;
	x->done(x->ud, &d);
}

void bot_http_cancel(struct bot_http_multi *m, long id)
{
	struct xfer *x = find(m, id);
	if (!x)
		return;
	if (x->connected) {   /* a WebSocket's connection, already reported */
		unlink_xfer(m, x);
		xfer_free(x);
		return;
	}
	finish(m, x, CURLE_OK, bot_fail_code("cancelled", 1, "cancelled"));
}

void bot_http_cancel_all(struct bot_http_multi *m)
{
	/* Only those running now: a callback may start new ones. */
	size_t n = 0;
	for (struct xfer *x = m->xfers; x; x = x->next)
		n++;
	long *ids = calloc(n ? n : 1, sizeof *ids);
	if (!ids)
		abort();
	n = 0;
	for (struct xfer *x = m->xfers; x; x = x->next)
		if (!x->connected)
			ids[n++] = x->id;
	for (size_t i = 0; i < n; i++)
		bot_http_cancel(m, ids[i]);
	free(ids);
}

void bot_http_multi_free(struct bot_http_multi *m)
{
	if (!m)
		return;
	bot_http_cancel_all(m);
	while (m->xfers) {          /* connect-only handles a WebSocket left */
		struct xfer *x = m->xfers;
		m->xfers = x->next;
		xfer_free(x);
	}
	curl_multi_cleanup(m->multi);
	free(m->socks);
	free(m->cafile);
	free(m);
}

void bot_http_multi_prepare(struct bot_http_multi *m, struct bot_poll *p)
{
	for (size_t i = 0; i < m->nsocks; i++) {
		short ev = 0;
		if (m->socks[i].what & CURL_POLL_IN)
			ev |= POLLIN;
		if (m->socks[i].what & CURL_POLL_OUT)
			ev |= POLLOUT;
		bot_poll_want(p, (int)m->socks[i].fd, ev);
	}
	bot_poll_deadline(p, m->timer_at);
}

static void read_done(struct bot_http_multi *m)
{
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(m->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		struct xfer *x = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		CURLcode rc = msg->data.result;
		if (!x || !find(m, x->id))
			continue;
		if (x->connect_only)
			finish_connect(m, x, rc);
		else
			finish(m, x, rc, jv_invalid());
	}
}

void bot_http_multi_dispatch(struct bot_http_multi *m, const struct bot_poll *p)
{
	int running;
	/* socket_action may change the table: act on a copy. */
	size_t n = m->nsocks;
	struct sock *ready = calloc(n ? n : 1, sizeof *ready);
	if (!ready)
		abort();
	if (n)
		memcpy(ready, m->socks, n * sizeof *ready);
	for (size_t i = 0; i < n; i++) {
		short re = bot_poll_revents(p, (int)ready[i].fd);
		int flags = 0;
		if (re & (POLLIN | POLLHUP))
			flags |= CURL_CSELECT_IN;
		if (re & POLLOUT)
			flags |= CURL_CSELECT_OUT;
		if (re & (POLLERR | POLLNVAL))
			flags |= CURL_CSELECT_ERR;
		if (flags)
			curl_multi_socket_action(m->multi, ready[i].fd, flags, &running);
	}
	free(ready);
	if (m->timer_at >= 0 && bot_now_ms() >= m->timer_at) {
		m->timer_at = -1;
		curl_multi_socket_action(m->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	}
	read_done(m);
}
