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
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include "bot.h"
#include "http.h"
#include "unit.h"
#include "fake.h"

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

static int fake_start(const char *script, const char *cert, const char *key)
{
	const char *const tls[] = {"--cert", cert, "--key", key, NULL};
	return fake_run(tmpdir, script, "requests.ndjson", cert ? tls : NULL);
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
	if (jv_is_valid(f))
		return jv_null();
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

/* ---- the asynchronous API ------------------------------------------------ */

/* What a completion callback saw, copied. */
struct got {
	int done, order;
	long status;
	jv body, fail, headers;
	char file[400];
	struct bot_ratelimit rate;
};
static int done_count;

static void on_got(void *ud, const struct bot_http_done *d)
{
	struct got *g = ud;
	g->done = 1;
	g->order = ++done_count;
	g->status = d->status;
	g->body = jv_copy(d->body);
	g->fail = jv_copy(d->fail);
	g->headers = jv_copy(d->headers);
	g->rate = d->rate;
	snprintf(g->file, sizeof g->file, "%s", d->file ? d->file : "");
}

static void got_free(struct got *g)
{
	jv_free(g->body);
	jv_free(g->fail);
	jv_free(g->headers);
	memset(g, 0, sizeof *g);
}

static int failed(const struct got *g)
{
	return jv_get_kind(g->fail) != JV_KIND_NULL;
}

/* The program's loop: until nothing runs (or 15 s, a test bug). */
static void loop(struct bot_http_multi *m, int cancel_on_stop)
{
	struct bot_poll p = BOT_POLL_INIT;
	long long end = bot_now_ms() + 15000;
	while (bot_http_running(m) > 0 && bot_now_ms() < end) {
		if (cancel_on_stop && bot_stop) {
			bot_http_cancel_all(m);
			continue;
		}
		bot_poll_reset(&p);
		bot_http_multi_prepare(m, &p);
		bot_poll_wait(&p);
		bot_http_multi_dispatch(m, &p);
	}
	bot_poll_free(&p);
}

static long start(struct bot_http_multi *m, struct bot_http_req *r, struct got *g)
{
	jv err = jv_null();
	long id = bot_http_start(m, r, on_got, g, &err);
	if (id < 0) {
		char msg[300];
		printf("# start: %s\n", bot_fail_message(err, msg, sizeof msg));
		jv_free(err);
	}
	return id;
}

static int count_requests(void)
{
	int n = 0;
	for (;;) {
		jv q = fake_request(n + 1);
		int more = jv_get_kind(q) == JV_KIND_OBJECT;
		jv_free(q);
		if (!more)
			return n;
		n++;
	}
}

/* The request to path p (the last one), from the fake's log. */
static jv request_to(const char *p)
{
	jv found = jv_null();
	for (int i = 1;; i++) {
		jv q = fake_request(i);
		if (jv_get_kind(q) != JV_KIND_OBJECT) {
			jv_free(q);
			return found;
		}
		const char *qp = bot_str(q, "path");
		if (qp && strcmp(qp, p) == 0) {
			jv_free(found);
			found = q;
		} else {
			jv_free(q);
		}
	}
}

static int has_text(const char *raw, size_t len, const char *s)
{
	return memmem(raw, len, s, strlen(s)) != NULL;
}

static void url_for(char *buf, size_t n, const char *path)
{
	snprintf(buf, n, "http://127.0.0.1:%d%s", fake_port, path);
}

static void test_async(void)
{
	const char *script =
	    "{\"responses\":["
	    "{\"path\":\"^/slow$\",\"delay\":1.0,\"body\":{\"which\":\"slow\"}},"
	    "{\"path\":\"^/fast$\",\"body\":{\"which\":\"fast\"}},"
	    "{\"path\":\"^/hang$\",\"hang\":3},"
	    "{\"path\":\"^/late$\",\"delay\":0.5,\"body\":\"late but in time\"},"
	    "{\"path\":\"^/big$\",\"body\":\"0123456789abcdefghijklmnopqrstuvwxyz\"},"
	    "{\"path\":\"^/longpoll$\",\"hang\":10},"
	    "{\"path\":\"^/slack$\",\"body\":{\"ok\":false,\"error\":\"channel_not_found\"}},"
	    "{\"path\":\"^/slack$\",\"body\":{\"ok\":false,\"error\":\"ratelimited\"},\"headers\":{\"Retry-After\":\"7\"}},"
	    "{\"path\":\"^/slack$\",\"body\":{\"ok\":true,\"ts\":\"1700000001.000200\"}},"
	    "{\"path\":\"^/zulip$\",\"status\":429,\"body\":{\"result\":\"error\",\"msg\":\"API usage exceeded rate limit\",\"code\":\"RATE_LIMIT_HIT\",\"retry-after\":2.74}},"
	    "{\"path\":\"^/zulip$\",\"body\":{\"result\":\"error\",\"msg\":\"Stream does not exist\",\"code\":\"STREAM_DOES_NOT_EXIST\"}},"
	    "{\"path\":\"^/discord$\",\"status\":429,\"headers\":{\"X-RateLimit-Limit\":\"5\",\"X-RateLimit-Remaining\":\"0\",\"X-RateLimit-Reset-After\":\"64.57\",\"X-RateLimit-Bucket\":\"abcd1234\",\"X-RateLimit-Scope\":\"user\"},\"body\":{\"message\":\"You are being rate limited.\",\"retry_after\":64.57,\"global\":false}},"
	    "{\"path\":\"^/headers$\",\"headers\":{\"X-Thing\":\"one\",\"X-Other\":\"two\"},\"body\":\"h\"},"
	    "{\"path\":\"^/file$\",\"body\":\"the file's content, 40 bytes long......\"},"
	    "{\"path\":\"^/file$\",\"body\":\"the file's content, 40 bytes long......\"}"
	    "],\"default\":{\"status\":200,\"body\":{\"ok\":true}}}";
	if (fake_start(script, NULL, NULL) < 0) {
		printf("# skip: cannot start test/fake-http.py\n");
		return;
	}
	jv err = jv_null();
	struct bot_http_multi *m = bot_http_multi_new(&err);
	CHECK(m != NULL, "bot_http_multi_new");
	char u1[200], u2[200];

	/* Concurrent: the slow one started first, the fast one ends first. */
	struct got slow = { 0 }, fast = { 0 };
	url_for(u1, sizeof u1, "/slow");
	url_for(u2, sizeof u2, "/fast");
	done_count = 0;
	start(m, &(struct bot_http_req){ .url = u1 }, &slow);
	start(m, &(struct bot_http_req){ .url = u2 }, &fast);
	CHECK(bot_http_running(m) == 2, "two transfers run at once");
	loop(m, 0);
	CHECK(slow.done && fast.done && fast.order == 1 && slow.order == 2,
	      "in one loop, the fast answer comes while the slow one still runs");
	CHECK_STR(bot_str(fast.body, "which"), "fast", "each callback gets its own answer");
	CHECK_STR(bot_str(slow.body, "which"), "slow", "and the other its own");
	CHECK(slow.status == 200 && !failed(&slow), "status 200, no failure");
	got_free(&slow);
	got_free(&fast);

	/* Per-transfer timeouts: 300 ms fails on a hang, 5 s waits for a late answer. */
	struct got hang = { 0 }, late = { 0 };
	url_for(u1, sizeof u1, "/hang");
	url_for(u2, sizeof u2, "/late");
	start(m, &(struct bot_http_req){ .url = u1, .timeout_ms = 300 }, &hang);
	start(m, &(struct bot_http_req){ .url = u2, .timeout_ms = 5000 }, &late);
	loop(m, 0);
	CHECK(failed(&hang) && fail_temporary(hang.fail) && fail_mentions(hang.fail, "imed out"),
	      "a transfer with a 300 ms timeout times out, temporary");
	CHECK(!failed(&late) && jv_get_kind(late.body) == JV_KIND_STRING,
	      "while one with 5 s gets its answer after 0.5 s");
	got_free(&hang);
	got_free(&late);

	/* Response cap. */
	struct got big = { 0 };
	url_for(u1, sizeof u1, "/big");
	start(m, &(struct bot_http_req){ .url = u1, .response_max = 10 }, &big);
	loop(m, 0);
	CHECK(failed(&big) && !fail_temporary(big.fail) && fail_mentions(big.fail, "larger than 10 bytes"),
	      "a body over response_max fails, permanently, naming the cap");
	got_free(&big);

	/* SIGTERM during a long poll: the loop cancels, the transfer ends at once. */
	struct got lp = { 0 };
	url_for(u1, sizeof u1, "/longpoll");
	start(m, &(struct bot_http_req){ .url = u1, .timeout_ms = 40000 }, &lp);
	bot_catch_signals();
	pid_t self = getpid();
	pid_t killer = fork();
	if (killer == 0) {
		usleep(300000);
		kill(self, SIGTERM);
		_exit(0);
	}
	long long t0 = bot_now_ms();
	loop(m, 1);
	long long took = bot_now_ms() - t0;
	waitpid(killer, NULL, 0);
	jv code = fail_field(lp.fail, "code");
	CHECK(lp.done && jv_get_kind(code) == JV_KIND_STRING && strcmp(jv_string_value(code), "cancelled") == 0,
	      "SIGTERM: the long poll's callback sees \"cancelled\"");
	jv_free(code);
	CHECK(took < 5000, "long before the server's 10 s hang would end");
	bot_stop = 0;
	signal(SIGTERM, SIG_DFL);
	got_free(&lp);

	/* Envelopes: errors inside a 200. */
	struct got s1 = { 0 }, s2 = { 0 }, s3 = { 0 };
	url_for(u1, sizeof u1, "/slack");
	start(m, &(struct bot_http_req){ .url = u1, .envelope = bot_http_envelope_ok }, &s1);
	loop(m, 0);
	start(m, &(struct bot_http_req){ .url = u1, .envelope = bot_http_envelope_ok }, &s2);
	loop(m, 0);
	start(m, &(struct bot_http_req){ .url = u1, .envelope = bot_http_envelope_ok }, &s3);
	loop(m, 0);
	CHECK(failed(&s1) && !fail_temporary(s1.fail) && fail_mentions(s1.fail, "channel_not_found"),
	      "200 {ok:false, error:channel_not_found} is a permanent failure naming the error");
	CHECK(failed(&s2) && fail_temporary(s2.fail) && fail_number(s2.fail, "retry_after") == 7,
	      "200 {ok:false, error:ratelimited} + Retry-After: 7 is temporary, retry_after 7");
	CHECK(!failed(&s3) && strcmp(bot_str(s3.body, "ts"), "1700000001.000200") == 0,
	      "200 {ok:true} passes the envelope, the body intact");
	got_free(&s1);
	got_free(&s2);
	got_free(&s3);
	struct got z1 = { 0 }, z2 = { 0 };
	url_for(u1, sizeof u1, "/zulip");
	start(m, &(struct bot_http_req){ .url = u1, .envelope = bot_http_envelope_result }, &z1);
	loop(m, 0);
	start(m, &(struct bot_http_req){ .url = u1, .envelope = bot_http_envelope_result }, &z2);
	loop(m, 0);
	CHECK(failed(&z1) && fail_temporary(z1.fail) && fail_number(z1.fail, "retry_after") == 2.74,
	      "Zulip 429 RATE_LIMIT_HIT: temporary, retry_after 2.74 from \"retry-after\" in the body");
	CHECK(failed(&z2) && !fail_temporary(z2.fail) && fail_mentions(z2.fail, "STREAM_DOES_NOT_EXIST"),
	      "Zulip 200 result:error is a permanent failure with its code");
	got_free(&z1);
	got_free(&z2);

	/* Discord's 429 through the whole path. */
	struct got d = { 0 };
	url_for(u1, sizeof u1, "/discord");
	start(m, &(struct bot_http_req){ .url = u1 }, &d);
	loop(m, 0);
	CHECK(failed(&d) && fail_number(d.fail, "retry_after") == 64.57 && d.rate.scope == BOT_RL_BUCKET
	      && strcmp(d.rate.bucket, "abcd1234") == 0 && d.rate.remaining == 0 && d.rate.limit == 5,
	      "Discord 429: retry_after 64.57, bucket abcd1234, 0 of 5 left");
	got_free(&d);

	/* Only the headers asked for. */
	struct got h = { 0 };
	url_for(u1, sizeof u1, "/headers");
	start(m, &(struct bot_http_req){ .url = u1, .want_headers = JV_ARRAY(jv_string("X-Thing"), jv_string("x-missing")) }, &h);
	loop(m, 0);
	CHECK_STR(bot_str(h.headers, "x-thing"), "one", "a header asked for is reported, lower-case name");
	CHECK(bot_str(h.headers, "x-other") == NULL && bot_str(h.headers, "x-missing") == NULL,
	      "one not asked for, or absent, is not");
	got_free(&h);

	/* Every method, Basic auth, a JSON body. */
	static const char *const methods[] = { "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS" };
	for (size_t i = 0; i < sizeof methods / sizeof *methods; i++) {
		char p[64];
		struct got g = { 0 };
		snprintf(p, sizeof p, "/method/%s", methods[i]);
		url_for(u1, sizeof u1, p);
		start(m, &(struct bot_http_req){ .method = methods[i], .url = u1 }, &g);
		loop(m, 0);
		jv q = request_to(p);
		char what[100];
		snprintf(what, sizeof what, "method %s reaches the server as %s", methods[i], methods[i]);
		CHECK(!failed(&g) && bot_str(q, "method") && strcmp(bot_str(q, "method"), methods[i]) == 0, what);
		jv_free(q);
		got_free(&g);
	}
	struct bot_http_req bad = { .method = "GET\r\nX: y", .url = u1 };
	jv berr = jv_null();
	CHECK(bot_http_start(m, &bad, on_got, NULL, &berr) < 0 && !fail_temporary(berr),
	      "a method that is not a token is refused before sending");
	jv_free(berr);

	struct got b = { 0 };
	url_for(u1, sizeof u1, "/auth");
	start(m, &(struct bot_http_req){ .method = "PUT", .url = u1, .user = "bot@example.org",
	                                 .password = "s3cr:et", .json = JV_OBJECT(jv_string("a"), jv_number(1)) }, &b);
	loop(m, 0);
	jv q = request_to("/auth");
	jv qh = bot_get(q, "headers");
	/* base64("bot@example.org:s3cr:et") */
	CHECK_STR(bot_str(qh, "authorization"), "Basic Ym90QGV4YW1wbGUub3JnOnMzY3I6ZXQ=",
	          "HTTP Basic: user:password in base64");
	CHECK_STR(bot_str(q, "body"), "{\"a\":1}", "a JSON body with PUT");
	CHECK_STR(bot_str(qh, "content-type"), "application/json", "sent as application/json");
	jv_free(qh);
	jv_free(q);
	got_free(&b);

	/* URL building. */
	jv built = bot_http_url("http://127.0.0.1:1/_matrix/client/v3/",
	                        JV_ARRAY(jv_string("rooms"), jv_string("!r:hs.example"), jv_string("send"),
	                                 jv_string("m.room.message"), jv_string("txn 1/2?#")),
	                        JV_OBJECT(jv_string("since"), jv_string("s72595_4483_1934"),
	                                  jv_string("timeout"), jv_number(30000),
	                                  jv_string("filter"), jv_string("{\"a\":[1]}")));
	CHECK_STR(jv_string_value(built),
	          "http://127.0.0.1:1/_matrix/client/v3/rooms/%21r%3Ahs.example/send/m.room.message/txn%201%2F2%3F%23"
	          "?since=s72595_4483_1934&timeout=30000&filter=%7B%22a%22%3A%5B1%5D%7D",
	          "bot_http_url percent-encodes each segment and the query");
	jv_free(built);
	char base[100];
	snprintf(base, sizeof base, "http://127.0.0.1:%d/api", fake_port);
	built = bot_http_url(base, JV_ARRAY(jv_string("caf\xc3\xa9 & co"), jv_number(42)), jv_null());
	struct got ug = { 0 };
	start(m, &(struct bot_http_req){ .url = jv_string_value(built) }, &ug);
	loop(m, 0);
	jv uq = request_to("/api/caf%C3%A9%20%26%20co/42");
	CHECK(jv_get_kind(uq) == JV_KIND_OBJECT, "the server sees the encoded path /api/caf%C3%A9%20%26%20co/42");
	jv_free(uq);
	jv_free(built);
	got_free(&ug);

	/* Multipart from a file: the exact bytes arrive. */
	char up[400];
	snprintf(up, sizeof up, "%s/upload.bin", tmpdir);
	static const unsigned char payload[] = { 'P', 'D', 'F', 0, 1, 2, 0xff, '\r', '\n', '-', '-', 'x' };
	FILE *f = fopen(up, "wb");
	fwrite(payload, 1, sizeof payload, f);
	fclose(f);
	chmod(up, 0600);
	struct got mp = { 0 };
	url_for(u1, sizeof u1, "/upload");
	start(m, &(struct bot_http_req){ .url = u1, .form = JV_OBJECT(jv_string("chat_id"), jv_string("-100123"),
	                                                               jv_string("payload_json"), JV_OBJECT(jv_string("n"), jv_number(1))),
	                                 .upload_path = up, .upload_field = "document", .upload_name = "r\xc3\xa9port.pdf",
	                                 .upload_type = "application/pdf" }, &mp);
	loop(m, 0);
	CHECK(!failed(&mp), "a multipart upload succeeds");
	q = request_to("/upload");
	qh = bot_get(q, "headers");
	const char *ct = bot_str(qh, "content-type");
	CHECK(ct && strncmp(ct, "multipart/form-data; boundary=", 30) == 0, "sent as multipart/form-data");
	size_t blen = 0;
	char *raw = NULL;
	const char *b64 = bot_str(q, "body_b64");
	if (b64) {
		char cmd[200];
		snprintf(cmd, sizeof cmd, "%s/body.b64", tmpdir);
		FILE *bf = fopen(cmd, "w");
		fputs(b64, bf);
		fclose(bf);
		snprintf(cmd, sizeof cmd, "base64 -d '%s/body.b64' > '%s/body.raw'", tmpdir, tmpdir);
		if (system(cmd) == 0) {
			snprintf(cmd, sizeof cmd, "%s/body.raw", tmpdir);
			raw = bot_slurp(cmd, 1 << 20, &blen);
		}
	}
	CHECK(raw && memmem(raw, blen, payload, sizeof payload), "the file's exact bytes are in the body");
	CHECK(raw && has_text(raw, blen, "name=\"document\"; filename=\"r\xc3\xa9port.pdf\"")
	      && has_text(raw, blen, "Content-Type: application/pdf"), "in a part named document, with its file name and type");
	CHECK(raw && has_text(raw, blen, "name=\"chat_id\"\r\n\r\n-100123\r\n")
	      && has_text(raw, blen, "name=\"payload_json\"\r\n\r\n{\"n\":1}\r\n"),
	      "other fields as parts: strings as they are, others as JSON");
	free(raw);
	jv_free(qh);
	jv_free(q);
	got_free(&mp);

	/* upload_raw: the file is the whole body (Matrix's media upload). */
	struct got rw = { 0 };
	url_for(u1, sizeof u1, "/raw-upload");
	start(m, &(struct bot_http_req){ .url = u1, .upload_path = up, .upload_raw = 1,
	                                 .content_type = "application/pdf" }, &rw);
	loop(m, 0);
	CHECK(!failed(&rw), "a raw upload succeeds");
	q = request_to("/raw-upload");
	qh = bot_get(q, "headers");
	CHECK(bot_str(q, "method") && !strcmp(bot_str(q, "method"), "POST"), "a raw upload is a POST");
	CHECK(bot_str(qh, "content-type") && !strcmp(bot_str(qh, "content-type"), "application/pdf"),
	      "with the content type given");
	char want64[64];
	FILE *pb = popen("printf 'PDF\\000\\001\\002\\377\\r\\n--x' | base64 -w0", "r");
	size_t wn = pb ? fread(want64, 1, sizeof want64 - 1, pb) : 0;
	want64[wn] = 0;
	if (pb)
		pclose(pb);
	CHECK(bot_str(q, "body_b64") && wn > 0 && !strcmp(bot_str(q, "body_b64"), want64),
	      "the body is the file's exact bytes, nothing around them");
	jv_free(qh);
	jv_free(q);
	got_free(&rw);
	chmod(up, 0666);
	struct bot_http_req shared_raw = { .url = u1, .upload_path = up, .upload_raw = 1 };
	berr = jv_null();
	CHECK(bot_http_start(m, &shared_raw, on_got, NULL, &berr) < 0 && fail_mentions(berr, "others may write"),
	      "a file others may write is refused for a raw upload too");
	jv_free(berr);
	struct bot_http_req shared = { .url = u1, .upload_path = up };
	berr = jv_null();
	CHECK(bot_http_start(m, &shared, on_got, NULL, &berr) < 0 && fail_mentions(berr, "others may write"),
	      "a file others may write is refused for upload");
	jv_free(berr);
	struct bot_http_req nofile = { .url = u1, .upload_path = "/nonexistent/x" };
	berr = jv_null();
	CHECK(bot_http_start(m, &nofile, on_got, NULL, &berr) < 0 && fail_mentions(berr, "/nonexistent/x"),
	      "an upload of a missing file is refused, naming it");
	jv_free(berr);

	/* Download to a file, capped. */
	char dl[400], part[420];
	snprintf(dl, sizeof dl, "%s/download.txt", tmpdir);
	snprintf(part, sizeof part, "%s.part", dl);
	struct got g1 = { 0 }, g2 = { 0 };
	url_for(u1, sizeof u1, "/file");
	start(m, &(struct bot_http_req){ .url = u1, .download_path = dl, .download_max = 1000 }, &g1);
	loop(m, 0);
	size_t dlen = 0;
	char *content = bot_slurp(dl, 4096, &dlen);
	CHECK(!failed(&g1) && strcmp(g1.file, dl) == 0, "a download reports its file");
	const char *want_body = "the file's content, 40 bytes long......";
	CHECK(content && dlen == strlen(want_body) && memcmp(content, want_body, dlen) == 0,
	      "which holds the body, byte for byte");
	struct stat st;
	CHECK(stat(dl, &st) == 0 && (st.st_mode & 077) == 0, "readable by its owner only");
	free(content);
	unlink(dl);
	start(m, &(struct bot_http_req){ .url = u1, .download_path = dl, .download_max = 10 }, &g2);
	loop(m, 0);
	CHECK(failed(&g2) && fail_mentions(g2.fail, "larger than 10 bytes"), "a download over its cap fails");
	CHECK(access(dl, F_OK) != 0 && access(part, F_OK) != 0, "and leaves no file behind");
	got_free(&g1);
	got_free(&g2);

	/* Cancel one of two. */
	struct got c1 = { 0 }, c2 = { 0 };
	url_for(u1, sizeof u1, "/default1");
	url_for(u2, sizeof u2, "/default2");
	long id1 = start(m, &(struct bot_http_req){ .url = u1 }, &c1);
	start(m, &(struct bot_http_req){ .url = u2 }, &c2);
	bot_http_cancel(m, id1);
	CHECK(c1.done && fail_temporary(c1.fail), "bot_http_cancel calls the callback at once, cancelled");
	bot_http_cancel(m, id1);
	loop(m, 0);
	CHECK(c2.done && !failed(&c2), "the other transfer goes on");
	got_free(&c1);
	got_free(&c2);
	(void)count_requests;

	bot_http_multi_free(m);
	fake_stop();
}

/* The rate-limit dialects, each from its documented shape. */
static void test_ratelimit(void)
{
	struct bot_ratelimit rl;
	double now = 1700000000;
	jv h, b;

	h = JV_OBJECT(jv_string("retry-after"), jv_string("30"));
	bot_ratelimit_parse(503, h, jv_null(), now, &rl);
	CHECK(rl.retry_after == 30 && rl.scope == BOT_RL_ROUTE, "Retry-After: 30 on a 503");
	bot_ratelimit_parse(200, h, jv_null(), now, &rl);
	CHECK(rl.retry_after == -1, "Retry-After on a 2xx is not a wait");
	jv_free(h);
	h = JV_OBJECT(jv_string("retry-after"), jv_string("Tue, 14 Nov 2023 22:13:40 GMT"));
	bot_ratelimit_parse(429, h, jv_null(), now, &rl);
	CHECK(rl.retry_after == 20, "Retry-After as an HTTP date: the seconds until then");
	jv_free(h);

	/* Matrix: {"errcode":"M_LIMIT_EXCEEDED","error":"Too many requests","retry_after_ms":2000} */
	b = jv_parse("{\"errcode\":\"M_LIMIT_EXCEEDED\",\"error\":\"Too many requests\",\"retry_after_ms\":2000}");
	bot_ratelimit_parse(429, jv_null(), b, now, &rl);
	CHECK(rl.retry_after == 2, "Matrix retry_after_ms 2000 gives 2 s");
	h = JV_OBJECT(jv_string("retry-after"), jv_string("5"));
	bot_ratelimit_parse(429, h, b, now, &rl);
	CHECK(rl.retry_after == 5, "Matrix since 1.10: the Retry-After header wins over the body");
	jv_free(h);
	jv_free(b);

	/* Zulip: 429 {"result":"error","code":"RATE_LIMIT_HIT","retry-after":2.74} + X-RateLimit-* */
	b = jv_parse("{\"result\":\"error\",\"msg\":\"API usage exceeded rate limit\",\"code\":\"RATE_LIMIT_HIT\",\"retry-after\":2.74}");
	h = JV_OBJECT(jv_string("x-ratelimit-limit"), jv_string("200"), jv_string("x-ratelimit-remaining"), jv_string("0"),
	              jv_string("x-ratelimit-reset"), jv_string("1700000003"));
	bot_ratelimit_parse(429, h, b, now, &rl);
	CHECK(rl.retry_after == 2.74 && rl.limit == 200 && rl.remaining == 0 && rl.reset == 1700000003,
	      "Zulip: retry-after 2.74 (hyphenated, float), limit 200, 0 left, reset at the Unix time");
	jv_free(h);
	jv_free(b);

	/* Discord: 429 {"message":"You are being rate limited.","retry_after":64.57,"global":false} */
	b = jv_parse("{\"message\":\"You are being rate limited.\",\"retry_after\":64.57,\"global\":false}");
	h = JV_OBJECT(jv_string("x-ratelimit-limit"), jv_string("5"), jv_string("x-ratelimit-remaining"), jv_string("0"),
	              jv_string("x-ratelimit-reset"), jv_string("1470173023.123"),
	              jv_string("x-ratelimit-reset-after"), jv_string("64.57"),
	              jv_string("x-ratelimit-bucket"), jv_string("abcd1234"), jv_string("x-ratelimit-scope"), jv_string("user"));
	bot_ratelimit_parse(429, h, b, now, &rl);
	CHECK(rl.retry_after == 64.57 && rl.scope == BOT_RL_BUCKET && strcmp(rl.bucket, "abcd1234") == 0
	      && rl.reset == 1470173023.123, "Discord: float retry_after, the bucket, reset as Unix time");
	jv_free(b);
	b = jv_parse("{\"message\":\"You are being rate limited.\",\"retry_after\":1.5,\"global\":true}");
	bot_ratelimit_parse(429, h, b, now, &rl);
	CHECK(rl.retry_after == 1.5 && rl.scope == BOT_RL_GLOBAL, "Discord global:true is global");
	jv_free(b);
	jv_free(h);
	h = JV_OBJECT(jv_string("x-ratelimit-global"), jv_string("true"), jv_string("retry-after"), jv_string("3"));
	bot_ratelimit_parse(429, h, jv_null(), now, &rl);
	CHECK(rl.retry_after == 3 && rl.scope == BOT_RL_GLOBAL, "X-RateLimit-Global: true is global");
	jv_free(h);
	h = JV_OBJECT(jv_string("x-ratelimit-remaining"), jv_string("4"), jv_string("x-ratelimit-reset-after"), jv_string("1.25"));
	bot_ratelimit_parse(200, h, jv_null(), now, &rl);
	CHECK(rl.retry_after == -1 && rl.remaining == 4 && rl.reset == now + 1.25 && rl.scope == BOT_RL_ROUTE,
	      "a 200 with buckets headers: what is left and when it resets, no wait");
	jv_free(h);

	/* Mattermost: 429, X-Ratelimit-Limit/-Remaining/-Reset (seconds left), no Retry-After. */
	h = JV_OBJECT(jv_string("x-ratelimit-limit"), jv_string("10"), jv_string("x-ratelimit-remaining"), jv_string("0"),
	              jv_string("x-ratelimit-reset"), jv_string("2"));
	b = jv_parse("{\"id\":\"api.context.rate_limit\",\"message\":\"too many requests\",\"status_code\":429}");
	bot_ratelimit_parse(429, h, b, now, &rl);
	CHECK(rl.retry_after == 2 && rl.reset == now + 2, "Mattermost: X-Ratelimit-Reset 2 (seconds left) gives 2");
	jv_free(h);
	jv_free(b);

	/* Telegram: {"ok":false,"error_code":429,"description":"Too Many Requests: retry after 34","parameters":{"retry_after":34}} */
	b = jv_parse("{\"ok\":false,\"error_code\":429,\"description\":\"Too Many Requests: retry after 34\",\"parameters\":{\"retry_after\":34}}");
	bot_ratelimit_parse(429, jv_null(), b, now, &rl);
	CHECK(rl.retry_after == 34, "Telegram parameters.retry_after 34");
	jv e = bot_http_envelope_ok(200, b);
	CHECK(!jv_is_valid(e) && fail_temporary(e) && fail_mentions(e, "Too Many Requests"),
	      "the ok envelope reads Telegram's error_code 429 as temporary");
	jv_free(e);
	jv_free(b);

	/* Slack: 429 + Retry-After: 30 (and {"ok":false,"error":"ratelimited"}). */
	h = JV_OBJECT(jv_string("retry-after"), jv_string("30"));
	b = jv_parse("{\"ok\":false,\"error\":\"ratelimited\"}");
	bot_ratelimit_parse(429, h, b, now, &rl);
	CHECK(rl.retry_after == 30, "Slack 429 Retry-After: 30");
	jv_free(h);
	jv_free(b);
	h = JV_OBJECT(jv_string("retry-after"), jv_string("soon"));
	b = jv_string("not json");
	bot_ratelimit_parse(429, h, b, now, &rl);
	jv_free(b);
	CHECK(rl.retry_after == -1, "a Retry-After that is neither a number nor a date says nothing");
	jv_free(h);

	/* Header lines. */
	jv hd = jv_object();
	hd = bot_http_header_add(hd, "HTTP/1.1 200 OK\r\n", 17);
	hd = bot_http_header_add(hd, "X-RateLimit-Remaining:  4 \r\n", 28);
	hd = bot_http_header_add(hd, "Set-Cookie: a=1\r\n", 17);
	hd = bot_http_header_add(hd, "set-cookie: b=2\r\n", 17);
	hd = bot_http_header_add(hd, "bad header line\r\n", 17);
	hd = bot_http_header_add(hd, "\r\n", 2);
	CHECK_STR(bot_str(hd, "x-ratelimit-remaining"), "4", "header names lower-cased, values trimmed");
	CHECK_STR(bot_str(hd, "set-cookie"), "a=1, b=2", "a repeated header is joined");
	CHECK(jv_object_length(jv_copy(hd)) == 2, "a line that is not a header is skipped");
	hd = bot_http_header_add(hd, "HTTP/1.1 429 Too Many Requests\r\n", 32);
	CHECK(jv_object_length(jv_copy(hd)) == 0, "a status line starts a new answer");
	jv_free(hd);
}

/* libbot's stream.h (TLS from this library, loaded as irc.so loads it):
 * open, and drive the connect in a poll loop to its end.  NULL + *err. */
static struct bot_stream *stream_open(const char *host, int port, int tls, const char *cafile,
                                      long timeout_ms, jv *err)
{
	struct bot_stream *st = bot_stream_open(host, port, tls, cafile, timeout_ms, err);
	struct bot_poll p = BOT_POLL_INIT;
	int rc = 0;
	while (st && rc == 0) {
		bot_poll_reset(&p);
		bot_stream_prepare(st, &p);
		bot_poll_deadline(&p, bot_now_ms() + 1000);
		bot_poll_wait(&p);
		rc = bot_stream_step(st, &p, err);
	}
	bot_poll_free(&p);
	if (rc < 0) {
		bot_stream_close(st);
		return NULL;
	}
	return st;
}

#define stream_fd bot_stream_fd
#define stream_recv bot_stream_recv
#define stream_close bot_stream_close

/* Send all of buf within timeout_ms.  0, or -1 + *err. */
static int stream_send_all(struct bot_stream *st, const char *buf, size_t len, long timeout_ms, jv *err)
{
	long long until = bot_now_ms() + timeout_ms;
	while (len) {
		ssize_t k = bot_stream_send(st, buf, len, err);
		if (k == -1)
			return -1;
		if (k > 0) {
			buf += k;
			len -= (size_t)k;
			continue;
		}
		if (bot_now_ms() >= until) {
			*err = bot_fail_code("send_failed", 1, "send: timed out");
			return -1;
		}
		struct pollfd pf = { .fd = stream_fd(st), .events = POLLOUT };
		poll(&pf, 1, 100);
	}
	return 0;
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
	test_ratelimit();
	test_async();
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
