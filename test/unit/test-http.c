/* Unit tests for lib/http/ (libbothttp, linked) against the loopback
 * receiver test/fake-http.py: the blocking API, the asynchronous multi
 * API in one poll loop, the response parsers, and raw streams. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include "bot.h"
#include "http.h"
#include "unit.h"

/* The functions under test (pointers: the older tests call them so). */
static const char *(*redact)(const char *, char *, size_t);
static const char *(*redact_text)(const char *, char *, size_t);
static struct bot_http *(*http_new)(jv *);
static void (*http_free)(struct bot_http *);
static void (*http_set_timeout)(struct bot_http *, long, long);
static void (*http_set_verbose)(struct bot_http *, int);
static jv (*post_json)(struct bot_http *, const char *, jv, jv);
static jv (*get_json)(struct bot_http *, const char *, jv);
static jv (*post_form)(struct bot_http *, const char *, jv, jv);
static long (*http_status)(const struct bot_http *);
static struct bot_stream *(*stream_open)(const char *, int, int, const char *, long, jv *);
static int (*stream_fd)(const struct bot_stream *);
static int (*stream_send_all)(struct bot_stream *, const void *, size_t, long, jv *);
static ssize_t (*stream_recv)(struct bot_stream *, void *, size_t, jv *);
static void (*stream_close)(struct bot_stream *);

static int load(void)
{
	redact = bot_http_redact;
	redact_text = bot_http_redact_text;
	http_new = bot_http_new;
	http_free = bot_http_free;
	http_set_timeout = bot_http_set_timeout;
	http_set_verbose = bot_http_set_verbose;
	post_json = bot_http_post_json;
	get_json = bot_http_get_json;
	post_form = bot_http_post_form;
	http_status = bot_http_status;
	stream_open = bot_stream_open;
	stream_fd = bot_stream_fd;
	stream_send_all = bot_stream_send_all;
	stream_recv = bot_stream_recv;
	stream_close = bot_stream_close;
	return 1;
}

static char tmpdir[256];

static void test_redact(void)
{
	static const char *const cases[][2] = {
		{ "https://api.telegram.org/bot123:ABC/sendMessage", "https://api.telegram.org/\xe2\x80\xa6" },
		{ "http://127.0.0.1:8080/hook?token=s3cret", "http://127.0.0.1:8080/\xe2\x80\xa6" },
		{ "https://user:pw@example.org/x", "https://example.org/\xe2\x80\xa6" },
		{ "https://example.org", "https://example.org" },
		{ "https://example.org/", "https://example.org/" },
		{ "https://example.org?key=1", "https://example.org/\xe2\x80\xa6" },
		{ "https://[::1]:443/a", "https://[::1]:443/\xe2\x80\xa6" },
		{ "not a url /with/path", "<url>" },
		{ "", "<url>" },
	};
	char buf[256];
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char what[300];
		snprintf(what, sizeof what, "redact %s", cases[i][0]);
		CHECK_STR(redact(cases[i][0], buf, sizeof buf), cases[i][1], what);
	}
	CHECK_STR(redact(NULL, buf, sizeof buf), "<url>", "redact NULL");
	char small[12];
	redact("https://example.org/secret", small, sizeof small);
	CHECK(strlen(small) == sizeof small - 1 && !strstr(small, "secret"), "a short buffer truncates, never overflows");

	CHECK_STR(redact_text("Failed https://h/bot1:X/getMe and 'http://a:1/k?x' then", buf, sizeof buf),
	          "Failed https://h/\xe2\x80\xa6 and 'http://a:1/\xe2\x80\xa6' then",
	          "redact every URL inside text");
	CHECK_STR(redact_text("no urls here: a://", buf, sizeof buf), "no urls here: a://",
	          "text without a URL is unchanged");
}

/* ---- the fake ------------------------------------------------------------ */

static pid_t fake_pid;
static int fake_port;
static char fake_log[300];

static const char *fake_path(void)
{
	static char p[600];
	const char *env = getenv("BOT_FAKE_HTTP");
	if (env)
		return env;
	if (access("test/fake-http.py", R_OK) == 0)
		return "test/fake-http.py";
	snprintf(p, sizeof p, "%s", __FILE__);
	char *slash = strrchr(p, '/');
	if (slash)
		snprintf(slash, sizeof p - (size_t)(slash - p), "/../fake-http.py");
	return access(p, R_OK) == 0 ? p : NULL;
}

static int fake_start(const char *script, const char *cert, const char *key)
{
	const char *py = fake_path();
	if (!py)
		return -1;
	char portfile[300];
	snprintf(portfile, sizeof portfile, "%s/port", tmpdir);
	snprintf(fake_log, sizeof fake_log, "%s/requests.ndjson", tmpdir);
	unlink(portfile);
	unlink(fake_log);
	fake_pid = fork();
	if (fake_pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		if (cert)
			execl("/usr/bin/python3", "python3", py, "--port-file", portfile, "--log", fake_log,
			      "--script-json", script, "--cert", cert, "--key", key, (char *)NULL);
		else
			execl("/usr/bin/python3", "python3", py, "--port-file", portfile, "--log", fake_log,
			      "--script-json", script, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100; i++) {
		FILE *f = fopen(portfile, "r");
		if (f) {
			int ok = fscanf(f, "%d", &fake_port) == 1;
			fclose(f);
			if (ok)
				return 0;
		}
		usleep(50000);
	}
	return -1;
}

static void fake_stop(void)
{
	if (fake_pid > 0) {
		kill(fake_pid, SIGTERM);
		waitpid(fake_pid, NULL, 0);
		fake_pid = 0;
	}
}

/* The n-th (1-based) request the fake logged, parsed. */
static jv fake_request(int n)
{
	size_t len;
	char *buf = bot_slurp(fake_log, 1 << 20, &len);
	jv r = jv_null();
	if (!buf)
		return r;
	char *line = buf;
	for (int i = 1; line && *line; i++) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = 0;
		if (i == n) {
			jv_free(r);
			r = jv_parse(line);
			break;
		}
		line = nl ? nl + 1 : NULL;
	}
	free(buf);
	return r;
}

/* Look-only: the failure object's field. */
static jv fail_field(jv f, const char *key)
{
	jv m = jv_invalid_get_msg(jv_copy(f));
	jv v = bot_get(m, key);
	jv_free(m);
	return v;
}

static int fail_temporary(jv f)
{
	jv t = fail_field(f, "temporary");
	int r = jv_get_kind(t) == JV_KIND_TRUE;
	jv_free(t);
	return r;
}

static double fail_number(jv f, const char *key)
{
	jv t = fail_field(f, key);
	double r = jv_get_kind(t) == JV_KIND_NUMBER ? jv_number_value(t) : -1;
	jv_free(t);
	return r;
}

static int fail_mentions(jv f, const char *s)
{
	char buf[1024];
	return strstr(bot_fail_message(f, buf, sizeof buf), s) != NULL;
}

static jv body(void)
{
	return JV_OBJECT(jv_string("text"), jv_string("d\u00e9ploy \"done\"\n<b>"));
}

static void test_requests(void)
{
	const char *script =
	    "[{\"status\":200,\"body\":{\"ok\":true,\"result\":{\"message_id\":42}}},"
	    "{\"status\":200,\"body\":\"ok\"},"
	    "{\"status\":429,\"headers\":{\"Retry-After\":\"3\"},\"body\":{\"ok\":false}},"
	    "{\"status\":429,\"body\":{\"ok\":false,\"description\":\"Too Many Requests\",\"parameters\":{\"retry_after\":5}}},"
	    "{\"status\":503,\"headers\":{\"Retry-After\":\"%s\"}},"
	    "{\"status\":500,\"body\":\"boom\"},"
	    "{\"status\":400,\"body\":{\"ok\":false,\"description\":\"Bad Request: chat not found\"}},"
	    "{\"status\":403,\"body\":\"\"},"
	    "{\"reset\":true},"
	    "{\"hang\":2},"
	    "{\"close\":true},"
	    "{\"status\":200,\"body\":{\"ok\":true}}]";
	/* Retry-After may also be an HTTP date: 4 s from now. */
	char date[64], filled[2048];
	time_t later = time(NULL) + 4;
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", gmtime(&later));
	snprintf(filled, sizeof filled, script, date);
	if (fake_start(filled, NULL, NULL) < 0) {
		printf("# skip: cannot start test/fake-http.py\n");
		return;
	}
	jv err = jv_null();
	struct bot_http *h = http_new(&err);
	CHECK(h != NULL, "bot_http_new");
	http_set_timeout(h, 500, 500);
	char url[200];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/hook/SECRETTOKEN?k=SECRETKEY", fake_port);

	jv r = post_json(h, url, JV_ARRAY(jv_string("X-Custom: yes")), body());
	jv want = JV_OBJECT(jv_string("ok"), jv_true(), jv_string("result"),
	                    JV_OBJECT(jv_string("message_id"), jv_number(42)));
	CHECK(jv_equal(r, want), "200: the JSON answer comes back parsed");
	CHECK(http_status(h) == 200, "status 200");
	jv req = fake_request(1);
	CHECK_STR(bot_str(req, "method"), "POST", "the fake saw a POST");
	CHECK_STR(bot_str(req, "path"), "/hook/SECRETTOKEN?k=SECRETKEY", "to the full path");
	CHECK_STR(bot_str(req, "body"), "{\"text\":\"d\u00e9ploy \\\"done\\\"\\n<b>\"}",
	          "the body, byte for byte, as compact JSON");
	jv hd = bot_get(req, "headers");
	CHECK_STR(bot_str(hd, "content-type"), "application/json", "Content-Type: application/json");
	CHECK_STR(bot_str(hd, "x-custom"), "yes", "extra headers are sent");
	CHECK(bot_str(hd, "expect") == NULL, "no Expect: 100-continue");
	jv_free(hd);
	jv_free(req);

	r = post_json(h, url, jv_null(), body());
	CHECK(jv_get_kind(r) == JV_KIND_STRING && strcmp(jv_string_value(r), "ok") == 0,
	      "a text answer comes back as a string");
	jv_free(r);

	r = post_json(h, url, jv_null(), body());
	CHECK(!jv_is_valid(r) && fail_temporary(r), "429 is temporary");
	CHECK(fail_number(r, "retry_after") == 3, "Retry-After: 3 gives retry_after 3");
	CHECK(fail_number(r, "status") == 429, "the status is in the failure");
	CHECK(!fail_mentions(r, "SECRET") && fail_mentions(r, "127.0.0.1"),
	      "the message names the host, not the path or query");
	jv_free(r);

	r = post_json(h, url, jv_null(), body());
	CHECK(fail_temporary(r) && fail_number(r, "retry_after") == 5,
	      "429 with parameters.retry_after in the body (Telegram) gives 5");
	jv_free(r);

	r = post_json(h, url, jv_null(), body());
	double ra = fail_number(r, "retry_after");
	CHECK(fail_temporary(r) && ra >= 2 && ra <= 5, "503 with a Retry-After date gives the seconds until then");
	jv_free(r);

	r = post_json(h, url, jv_null(), body());
	CHECK(!jv_is_valid(r) && fail_temporary(r) && fail_mentions(r, "HTTP 500"), "500 is temporary");
	jv_free(r);

	r = post_json(h, url, jv_null(), body());
	CHECK(!jv_is_valid(r) && !fail_temporary(r), "400 is permanent");
	CHECK(fail_mentions(r, "chat not found"), "the server's description is in the message");
	jv_free(r);

	r = post_json(h, url, jv_null(), body());
	jv code = fail_field(r, "code");
	CHECK(!fail_temporary(r) && jv_get_kind(code) == JV_KIND_STRING
	      && strcmp(jv_string_value(code), "denied") == 0, "403 is permanent, code denied");
	jv_free(code);
	jv_free(r);

	/* A fresh handle: on a reused connection that dies before any answer
	 * libcurl itself sends the request again once, which would eat the
	 * next scripted answer. */
	http_free(h);
	h = http_new(&err);
	http_set_timeout(h, 500, 500);
	r = post_json(h, url, jv_null(), body());
	CHECK(!jv_is_valid(r) && fail_temporary(r), "a reset connection is temporary");
	CHECK(!fail_mentions(r, "SECRET"), "and its message has no secret");
	jv_free(r);

	long long t0 = bot_now_ms();
	r = post_json(h, url, jv_null(), body());
	long long took = bot_now_ms() - t0;
	CHECK(!jv_is_valid(r) && fail_temporary(r) && fail_mentions(r, "imed out"),
	      "a hung server times out, temporary");
	CHECK(took >= 450 && took < 1500, "after the 500 ms timeout");
	jv_free(r);

	r = post_json(h, url, jv_null(), body());
	CHECK(!jv_is_valid(r) && fail_temporary(r), "a connection closed without an answer is temporary");
	jv_free(r);

	/* Verbose: libcurl's trace goes through bot_debug, redacted. */
	char errpath[300];
	snprintf(errpath, sizeof errpath, "%s/stderr", tmpdir);
	fflush(stderr);
	int saved = dup(2), fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(fd, 2);
	close(fd);
	int verbosity = bot_verbosity;
	bot_verbosity = 2;
	http_set_verbose(h, 1);
	r = post_json(h, url, JV_ARRAY(jv_string("Authorization: Bearer SECRETBEARER"),
	                               jv_string("X-Api-Key: SECRETAPIKEY")), body());
	http_set_verbose(h, 0);
	bot_verbosity = verbosity;
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	CHECK(jv_is_valid(r), "a verbose request succeeds");
	jv_free(r);
	size_t len;
	char *trace = bot_slurp(errpath, 1 << 20, &len);
	CHECK(trace && strstr(trace, "POST /\xe2\x80\xa6 HTTP/1.1"), "the trace shows the request line, path redacted");
	CHECK(trace && strstr(trace, "Authorization: <redacted>") && strstr(trace, "X-Api-Key: <redacted>"),
	      "credential headers are redacted");
	CHECK(trace && !strstr(trace, "SECRET"), "no secret anywhere in the trace");
	CHECK(trace && strstr(trace, "HTTP/1.1 200"), "the answer's status line is shown");
	free(trace);

	jv bad = post_json(h, url, JV_ARRAY(jv_string("X-Evil: a\r\nX-Injected: b")), body());
	CHECK(!jv_is_valid(bad) && !fail_temporary(bad), "a header with a line break is refused");
	jv_free(bad);

	/* Default answer, GET and form posts. */
	r = get_json(h, url, jv_null());
	CHECK(jv_is_valid(r), "GET gets the default answer");
	jv_free(r);
	r = post_form(h, url, jv_null(), JV_OBJECT(jv_string("chat id"), jv_string("@a&b=c"),
	                                           jv_string("n"), jv_number(3)));
	jv_free(r);
	int nreq = 0;
	for (;;) {
		jv q = fake_request(nreq + 1);
		if (jv_get_kind(q) != JV_KIND_OBJECT) {
			jv_free(q);
			break;
		}
		jv_free(q);
		nreq++;
	}
	req = fake_request(nreq);
	CHECK_STR(bot_str(req, "body"), "chat%20id=%40a%26b%3Dc&n=3", "a form post is percent-encoded");
	jv_free(req);
	req = fake_request(nreq - 1);
	CHECK_STR(bot_str(req, "method"), "GET", "and the GET was a GET");
	jv_free(req);
	http_free(h);
	fake_stop();

	/* Refused: a port nobody listens on. */
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof a;
	bind(s, (struct sockaddr *)&a, sizeof a);
	getsockname(s, (struct sockaddr *)&a, &alen);
	close(s);
	h = http_new(&err);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/SECRET", ntohs(a.sin_port));
	r = post_json(h, url, jv_null(), body());
	CHECK(!jv_is_valid(r) && fail_temporary(r) && !fail_mentions(r, "SECRET"),
	      "connection refused is temporary");
	jv_free(r);
	r = post_json(h, "file:///etc/passwd", jv_null(), body());
	CHECK(!jv_is_valid(r) && !fail_temporary(r), "a file: URL is refused, permanently");
	jv_free(r);
	http_free(h);
}

/* Read from a stream until want appears or 3 s pass. */
static int stream_expect(struct bot_stream *st, const char *want)
{
	char buf[4096];
	size_t have = 0;
	long long end = bot_now_ms() + 3000;
	while (bot_now_ms() < end) {
		jv err = jv_null();
		ssize_t k = stream_recv(st, buf + have, sizeof buf - 1 - have, &err);
		if (k == BOT_STREAM_AGAIN) {
			struct pollfd p = { .fd = stream_fd(st), .events = POLLIN };
			poll(&p, 1, 100);
			continue;
		}
		if (k <= 0) {
			jv_free(err);
			break;
		}
		have += (size_t)k;
		buf[have] = 0;
		if (strstr(buf, want))
			return 1;
	}
	return 0;
}

static void test_stream(const char *cert, const char *key)
{
	int tls = cert != NULL;
	if (fake_start("[{\"status\":200,\"body\":\"stream ok\"}]", cert, key) < 0) {
		printf("# skip: cannot start the fake\n");
		return;
	}
	jv err = jv_null();
	const char *req = "GET /raw HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	struct bot_stream *st = stream_open(tls ? "localhost" : "127.0.0.1", fake_port, tls,
	                                    cert, 10000, &err);
	CHECK(st != NULL, tls ? "a TLS stream opens, checked against the given CA" : "a TCP stream opens");
	if (!st) {
		char m[300];
		printf("# %s\n", bot_fail_message(err, m, sizeof m));
		jv_free(err);
		fake_stop();
		return;
	}
	CHECK(stream_send_all(st, req, strlen(req), 2000, &err) == 0, "send_all sends the bytes");
	CHECK(stream_expect(st, "stream ok"), "and the answer comes back through recv");
	stream_close(st);
	if (tls) {
		st = stream_open("localhost", fake_port, 1, NULL, 10000, &err);   /* slow under ASan and load */
		CHECK(st == NULL && !fail_temporary(err), "a self-signed certificate is refused without its CA");
		if (st == NULL && fail_temporary(err)) {
			char m[300];
			printf("# %s\n", bot_fail_message(err, m, sizeof m));
		}
		jv_free(err);
		err = jv_null();
	}
	fake_stop();
	st = stream_open("127.0.0.1", fake_port, 0, NULL, 1000, &err);
	CHECK(st == NULL && fail_temporary(err), "a refused stream is a temporary failure");
	jv_free(err);
	err = jv_null();
	st = stream_open("host/evil@x", 80, 0, NULL, 1000, &err);
	CHECK(st == NULL && !fail_temporary(err), "a host that would reshape the URL is refused");
	jv_free(err);
}

/* A self-signed certificate for localhost, with openssl(1) if present. */
static int make_cert(char *cert, char *key, size_t n)
{
	snprintf(cert, n, "%s/cert.pem", tmpdir);
	snprintf(key, n, "%s/key.pem", tmpdir);
	char cmd[1200];
	snprintf(cmd, sizeof cmd,
	         "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
	         "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 "
	         "-keyout '%s' -out '%s' >/dev/null 2>&1", key, cert);
	return system(cmd) == 0;
}

int main(void)
{
	if (!load()) {
		printf("1..0 # SKIP\n");
		return 0;
	}
	snprintf(tmpdir, sizeof tmpdir, "%s/test-http.XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(tmpdir))
		return 1;
	test_redact();
	test_requests();
	test_stream(NULL, NULL);
	char cert[400], key[400];
	if (make_cert(cert, key, sizeof cert))
		test_stream(cert, key);
	else
		printf("# skip: no openssl(1) for the TLS stream test\n");
	char cmd[400];
	snprintf(cmd, sizeof cmd, "test -n \"$KEEP\" || rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", tmpdir);
	return unit_done();
}
