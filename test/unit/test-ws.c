/* Unit tests for lib/http/ws.c: WebSocket clients in one poll loop against
 * test/fake-http.py --ws (python3-websockets), which logs every frame it
 * receives. */
#include <curl/curl.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bot.h"
#include "http.h"
#include "unit.h"
#include "fake.h"

static char tmpdir[256];
/* The fake, --ws unless ws is 0, answering from script. */
static int fake_start(int ws, const char *script)
{
	static const char *const ws_args[] = {"--ws", NULL}, *const http_args[] = {"--port=0", NULL};
	return fake_run(tmpdir, script, "log.ndjson", ws ? ws_args : http_args);
}

/* Every logged event, as an array. */
static jv fake_events(void)
{
	size_t len;
	char *buf = bot_slurp(fake_log, 1 << 20, &len);
	jv out = jv_array();
	for (char *line = buf; line && *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = 0;
		jv v = jv_parse(line);
		if (jv_is_valid(v))
			out = jv_array_append(out, v);
		else
			jv_free(v);
		line = nl ? nl + 1 : NULL;
	}
	free(buf);
	return out;
}

/* The data of the text frames (opcode 1) the fake received, joined by "|". */
static jv received_texts(void)
{
	jv ev = fake_events(), out = jv_string("");
	jv_array_foreach(ev, i, e) {
		(void)i;
		jv op = bot_get(e, "opcode");
		if (jv_get_kind(op) == JV_KIND_NUMBER && jv_number_value(op) == 1 && bot_str(e, "data")) {
			if (jv_string_length_bytes(jv_copy(out)) > 0)
				out = jv_string_append_str(out, "|");
			out = jv_string_append_str(out, bot_str(e, "data"));
		}
		jv_free(op);
		jv_free(e);
	}
	jv_free(ev);
	return out;
}

/* The first logged event with "event" == name (null when none). */
static jv fake_event(const char *name)
{
	jv ev = fake_events(), found = jv_null();
	jv_array_foreach(ev, i, e) {
		(void)i;
		const char *n = bot_str(e, "event");
		if (jv_get_kind(found) == JV_KIND_NULL && n && strcmp(n, name) == 0) {
			found = e;
		} else {
			jv_free(e);
		}
	}
	jv_free(ev);
	return found;
}

/* ---- a client that records what it is told -------------------------------- */

struct client {
	int opened, closed, errored;
	int close_code;
	char close_reason[200];
	jv messages;       /* array of strings */
	char error[400];
	int error_temporary;
	int send_on_open;  /* send "hello" and "second" once open */
	struct bot_ws *ws;
};

static void c_open(void *ud)
{
	struct client *c = ud;
	c->opened = 1;
	if (c->send_on_open) {
		jv err = jv_null();
		bot_ws_send(c->ws, 0, "hello", 5, &err);
		bot_ws_send(c->ws, 0, "second \xc3\xa9", 9, &err);
		jv_free(err);
	}
}

static void c_message(void *ud, int binary, const char *data, size_t len)
{
	struct client *c = ud;
	(void)binary;
	c->messages = jv_array_append(c->messages, jv_string_sized(data, (int)len));
}

static void c_close(void *ud, int code, const char *reason, size_t len)
{
	struct client *c = ud;
	c->closed = 1;
	c->close_code = code;
	snprintf(c->close_reason, sizeof c->close_reason, "%.*s", (int)len, reason);
}

static void c_error(void *ud, jv fail)
{
	struct client *c = ud;
	c->errored = 1;
	bot_fail_message(fail, c->error, sizeof c->error);
	c->error_temporary = bot_fail_temporary(fail);
}

static const struct bot_ws_cb callbacks = { c_open, c_message, c_close, c_error };

/* Run m and ws until the connection ends, or until stop(c) says so, or
 * 10 s (a test bug). */
static void run(struct bot_http_multi *m, struct client *c, int (*stop)(struct client *))
{
	struct bot_poll p = BOT_POLL_INIT;
	long long end = bot_now_ms() + 10000;
	while (bot_now_ms() < end && !c->closed && !c->errored && !(stop && stop(c))) {
		bot_poll_reset(&p);
		bot_http_multi_prepare(m, &p);
		bot_ws_prepare(c->ws, &p);
		bot_poll_deadline(&p, end);
		bot_poll_wait(&p);
		bot_http_multi_dispatch(m, &p);
		bot_ws_dispatch(c->ws, &p);
	}
	bot_poll_free(&p);
}

static struct client *client_open(struct bot_http_multi *m, const char *path, long ping_ms, long pong_ms)
{
	static struct client c;
	memset(&c, 0, sizeof c);
	c.messages = jv_array();
	char url[200];
	snprintf(url, sizeof url, "ws://127.0.0.1:%d%s", fake_port, path);
	struct bot_ws_opts o = {
		.url = url, .headers = JV_ARRAY(jv_string("Authorization: Bearer T0KEN")),
		.ping_interval_ms = ping_ms, .pong_timeout_ms = pong_ms, .max_message = 1 << 20,
	};
	jv err = jv_null();
	c.ws = bot_ws_open(m, &o, &callbacks, &c, &err);
	if (!c.ws) {
		char msg[300];
		printf("# bot_ws_open: %s\n", bot_fail_message(err, msg, sizeof msg));
		jv_free(err);
		return NULL;
	}
	return &c;
}

static void client_free(struct client *c)
{
	bot_ws_free(c->ws);
	jv_free(c->messages);
	c->ws = NULL;
}

static const char *message(struct client *c, int i)
{
	if (i >= jv_array_length(jv_copy(c->messages)))
		return NULL;
	jv v = jv_array_get(jv_copy(c->messages), i);
	static char buf[4096];
	snprintf(buf, sizeof buf, "%s", jv_string_value(v));
	jv_free(v);
	return buf;
}

static int two_messages(struct client *c)
{
	return jv_array_length(jv_copy(c->messages)) >= 2;
}

static void test_curl_ws(void)
{
	const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
	int ws = 0;
	for (const char *const *p = v->protocols; p && *p; p++)
		ws |= strcmp(*p, "ws") == 0;
	printf("# libcurl %s: WebSocket %s; ws.c frames with libwslay\n", v->version,
	       ws ? "built in" : "not built in");
	/* The API is declared either way; without ws it is a stub. */
	CURL *c = curl_easy_init();
	char buf[1];
	size_t n = 0;
	struct curl_ws_frame *meta = NULL;
	CURLcode rc = curl_ws_recv(c, buf, sizeof buf, &n, &meta);
	curl_easy_cleanup(c);
	printf("# curl_ws_recv on a fresh handle: %d (%s)\n", (int)rc, curl_easy_strerror(rc));
	CHECK(ws || rc == CURLE_NOT_BUILT_IN,
	      "without ws among libcurl's protocols, curl_ws_* is a stub: ws.c frames with wslay");
}

static void test_echo(struct bot_http_multi *m)
{
	if (fake_start(1, "[]") < 0) {
		printf("# skip: cannot start the fake\n");
		return;
	}
	struct client *c = client_open(m, "/socket?token=x", 0, 0);
	if (!c) {
		fake_stop();
		return;
	}
	c->send_on_open = 1;
	run(m, c, two_messages);
	CHECK(c->opened, "open: the upgrade succeeds");
	CHECK_STR(message(c, 0), "hello", "echo: the first message comes back");
	CHECK_STR(message(c, 1), "second \xc3\xa9", "and the second, UTF-8 intact");
	jv texts = received_texts();
	CHECK_STR(jv_string_value(texts), "hello|second \xc3\xa9", "the server got both frames, byte for byte");
	jv_free(texts);
	jv open = fake_event("open");
	CHECK_STR(bot_str(open, "path"), "/socket?token=x", "the path and query reach the server");
	jv hd = bot_get(open, "headers");
	CHECK_STR(bot_str(hd, "authorization"), "Bearer T0KEN", "extra headers go with the upgrade");
	CHECK(bot_str(hd, "sec-websocket-extensions") == NULL, "no extension is asked for");
	jv_free(hd);
	jv_free(open);
	bot_ws_close(c->ws, 1000, "done");
	run(m, c, NULL);
	CHECK(c->closed && !c->errored && c->close_code == 1000, "our close with 1000: close() reports the server's 1000");
	/* The close frame the server received: code 1000 (03 e8), "done". */
	jv ev = fake_events();
	int seen = 0;
	jv_array_foreach(ev, i, e) {
		(void)i;
		jv op = bot_get(e, "opcode");
		if (jv_get_kind(op) == JV_KIND_NUMBER && jv_number_value(op) == 8)
			seen = bot_str(e, "data_b64") && strcmp(bot_str(e, "data_b64"), "A+hkb25l") == 0;
		jv_free(op);
		jv_free(e);
	}
	jv_free(ev);
	CHECK(seen, "the server got a close frame: 1000, \"done\", byte for byte");
	CHECK(!bot_ws_alive(c->ws), "and the connection is over");
	client_free(c);
	fake_stop();
}

static void test_script(struct bot_http_multi *m)
{
	const char *script =
	    "[{\"actions\":[{\"fragments\":[\"frag\",\"men\",\"ted \xc3\xa9\"]},{\"send\":\"then whole\"},"
	    "{\"recv\":1},{\"close\":4001,\"reason\":\"bye now\"}]},"
	    "{\"actions\":[{\"send\":\"before the drop\"},{\"sleep\":0.2},{\"drop\":true}]},"
	    "{\"actions\":[{\"send\":\"then silence\"},{\"silence\":true}]}]";
	if (fake_start(1, script) < 0) {
		printf("# skip: cannot start the fake\n");
		return;
	}
	/* A message in three frames, then a close code. */
	struct client *c = client_open(m, "/a", 0, 0);
	if (!c) {
		fake_stop();
		return;
	}
	run(m, c, two_messages);
	CHECK_STR(message(c, 0), "fragmented \xc3\xa9", "a message fragmented across three frames arrives whole");
	CHECK_STR(message(c, 1), "then whole", "and the next one after it");
	jv err = jv_null();
	CHECK(bot_ws_send(c->ws, 0, "ack", 3, &err) == 0, "send while open");
	run(m, c, NULL);
	CHECK(c->closed && c->close_code == 4001, "the server's close code 4001 is reported");
	CHECK_STR(c->close_reason, "bye now", "with its reason");
	CHECK(bot_ws_send(c->ws, 0, "late", 4, &err) < 0, "sending after the close fails");
	jv_free(err);
	client_free(c);

	/* A drop: no close frame. */
	c = client_open(m, "/b", 0, 0);
	run(m, c, NULL);
	CHECK_STR(message(c, 0), "before the drop", "messages before a drop arrive");
	CHECK(c->errored && !c->closed && c->error_temporary && strstr(c->error, "dropped"),
	      "a dropped connection is an error, temporary, not a close");
	client_free(c);

	/* A silent peer: pings every 200 ms, no pong in 400 ms. */
	c = client_open(m, "/c", 200, 400);
	long long t0 = bot_now_ms();
	run(m, c, NULL);
	long long took = bot_now_ms() - t0;
	CHECK_STR(message(c, 0), "then silence", "the last message before the silence arrives");
	CHECK(c->errored && c->error_temporary && strstr(c->error, "no answer to a ping"),
	      "a silent peer is detected by the ping timeout, temporary");
	CHECK(took >= 400, "not before the pong timeout");
	client_free(c);
	fake_stop();
}

static void test_refused(struct bot_http_multi *m)
{
	if (fake_start(0, "[{\"status\":401,\"body\":\"no\"},{\"status\":503,\"headers\":{\"Retry-After\":\"9\"}}]") < 0) {
		printf("# skip: cannot start the fake\n");
		return;
	}
	struct client *c = client_open(m, "/ws", 0, 0);
	run(m, c, NULL);
	CHECK(c->errored && !c->opened && !c->error_temporary && strstr(c->error, "HTTP 401"),
	      "an upgrade answered 401 is a permanent error");
	CHECK(!strstr(c->error, "/ws"), "its message has no path");
	client_free(c);
	c = client_open(m, "/ws", 0, 0);
	run(m, c, NULL);
	CHECK(c->errored && c->error_temporary && strstr(c->error, "HTTP 503"), "one answered 503 is temporary");
	client_free(c);
	fake_stop();
	/* Nobody listening now. */
	c = client_open(m, "/ws", 0, 0);
	run(m, c, NULL);
	CHECK(c->errored && c->error_temporary, "a refused connection is a temporary error");
	client_free(c);
	jv err = jv_null();
	struct bot_ws_opts o = { .url = "ftp://example.org/x" };
	CHECK(bot_ws_open(m, &o, &callbacks, NULL, &err) == NULL && !bot_fail_temporary(err),
	      "a URL that is not ws, wss, http or https is refused");
	jv_free(err);
	err = jv_null();
	struct bot_ws_opts o2 = { .url = "ws://127.0.0.1:1/x", .headers = JV_ARRAY(jv_string("X: a\r\nY: b")) };
	CHECK(bot_ws_open(m, &o2, &callbacks, NULL, &err) == NULL && !bot_fail_temporary(err),
	      "a header with a line break is refused");
	jv_free(err);
}

/* The frame path without a socket: what fuzz-ws feeds. */
static void feed_message(void *ud, int binary, const char *data, size_t len)
{
	(void)binary;
	jv *out = ud;
	*out = jv_array_append(*out, jv_string_sized(data, (int)len));
}

static void test_feed(void)
{
	/* Unmasked server frames: "Hel" (text, not final) + "lo" (continuation,
	 * final), a ping between them, then a binary frame of 2 bytes. */
	static const unsigned char frames[] = {
		0x01, 0x03, 'H', 'e', 'l',
		0x89, 0x00,
		0x80, 0x02, 'l', 'o',
		0x82, 0x02, 0x00, 0xff,
	};
	struct bot_ws_cb cb = { .message = feed_message };
	jv got = jv_array();
	bot_ws_feed_frames(frames, sizeof frames, 0, &cb, &got);
	jv want = JV_ARRAY(jv_string("Hello"), jv_string_sized("\0\xff", 2));
	CHECK(jv_equal(got, want), "frames fed in: a fragmented text with a ping inside, then binary");
	got = jv_array();
	static const unsigned char big[] = { 0x81, 0x7e, 0x01, 0x00 };   /* 256 bytes announced */
	bot_ws_feed_frames(big, sizeof big, 100, &cb, &got);
	CHECK(jv_array_length(got) == 0, "a message over max_message is not delivered");
}

/* ---- a driver for test/http.bats ----------------------------------------- */

static void d_open(void *ud)
{
	char **texts = ud;
	printf("open\n");
	fflush(stdout);
	(void)texts;
}

static struct bot_ws *driver_ws;
static char **driver_texts;

static void d_open_send(void *ud)
{
	d_open(ud);
	for (char **t = driver_texts; *t; t++) {
		jv err = jv_null();
		bot_ws_send(driver_ws, 0, *t, strlen(*t), &err);
		jv_free(err);
	}
}

static void d_message(void *ud, int binary, const char *data, size_t len)
{
	(void)ud;
	printf("%s: %.*s\n", binary ? "binary" : "text", (int)len, data);
	fflush(stdout);
	if (len == 4 && memcmp(data, "quit", 4) == 0)
		bot_ws_close(driver_ws, 1000, "bye");
}

static int driver_status = -1;

static void d_close(void *ud, int code, const char *reason, size_t len)
{
	(void)ud;
	printf("close %d %.*s\n", code, (int)len, reason);
	driver_status = 0;
}

static void d_error(void *ud, jv fail)
{
	(void)ud;
	char msg[400];
	printf("error: %s\n", bot_fail_message(fail, msg, sizeof msg));
	driver_status = 1;
}

static void d_done(void *ud, const struct bot_http_done *d)
{
	(void)ud;
	char msg[400];
	if (jv_get_kind(d->fail) != JV_KIND_NULL) {
		char code[64];
		printf("failed: %s: %s\n", bot_fail_code_of(d->fail, code, sizeof code),
		       bot_fail_message(d->fail, msg, sizeof msg));
		driver_status = 1;
	} else {
		jv text = jv_dump_string(jv_copy(d->body), 0);
		printf("%ld %s\n", d->status, jv_string_value(text));
		jv_free(text);
		driver_status = 0;
	}
}

/* test-ws ws URL CAFILE [TEXT...]: connect, send each TEXT, print what
 * comes ("text: ..."), close when "quit" comes; exit 0 on a close, 1 on
 * an error.  test-ws get URL TIMEOUT_MS: one GET; prints "STATUS BODY".
 * Both stop on SIGTERM: every transfer cancelled at once, exit 2 if that
 * was what ended it. */
static int driver(int argc, char **argv)
{
	jv err = jv_null();
	struct bot_http_multi *m = bot_http_multi_new(&err);
	bot_catch_signals();
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(argv[1], "ws") == 0 && argc >= 4) {
		struct bot_ws_opts o = { .url = argv[2], .cafile = *argv[3] ? argv[3] : NULL,
		                         .ping_interval_ms = 1000, .pong_timeout_ms = 3000 };
		static const struct bot_ws_cb cb = { d_open_send, d_message, d_close, d_error };
		driver_texts = argv + 4;
		driver_ws = bot_ws_open(m, &o, &cb, NULL, &err);
	} else if (strcmp(argv[1], "get") == 0 && argc == 4) {
		struct bot_http_req r = { .url = argv[2], .timeout_ms = atol(argv[3]) };
		if (bot_http_start(m, &r, d_done, NULL, &err) < 0)
			driver_status = 1;
	} else {
		fprintf(stderr, "usage: test-ws ws URL CAFILE [TEXT...] | get URL TIMEOUT_MS\n");
		return 64;
	}
	struct bot_poll p = BOT_POLL_INIT;
	int stopped = 0;
	while (driver_status < 0) {
		if (bot_stop && !stopped) {
			stopped = 1;
			bot_http_cancel_all(m);
			if (driver_ws)
				bot_ws_close(driver_ws, 1001, "going away");
			continue;
		}
		bot_poll_reset(&p);
		bot_http_multi_prepare(m, &p);
		bot_ws_prepare(driver_ws, &p);
		bot_poll_wait(&p);
		bot_http_multi_dispatch(m, &p);
		bot_ws_dispatch(driver_ws, &p);
	}
	bot_poll_free(&p);
	bot_ws_free(driver_ws);
	bot_http_multi_free(m);
	jv_free(err);
	return stopped ? 2 : driver_status;
}

int main(int argc, char **argv)
{
	if (argc > 1)
		return driver(argc, argv);
	snprintf(tmpdir, sizeof tmpdir, "%s/test-ws.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(tmpdir))
		return 1;
	jv err = jv_null();
	struct bot_http_multi *m = bot_http_multi_new(&err);
	test_curl_ws();
	test_feed();
	test_echo(m);
	test_script(m);
	test_refused(m);
	bot_http_multi_free(m);
	char cmd[400];
	snprintf(cmd, sizeof cmd, "test -n \"$KEEP\" || rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", tmpdir);
	return unit_done();
}
