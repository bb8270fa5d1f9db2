/* serve.c: errbot's serve_forever, as a poll loop over a backend. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bot.h"

volatile sig_atomic_t bot_stop;

static void on_stop_signal(int sig)
{
	(void)sig;
	bot_stop = 1;
}

void bot_catch_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

double bot_backoff_next(double delay)
{
	double next = delay * 1.75;
	if (next > 600)
		next = 600;
	return next + 3.0 * ((double)random() / RAND_MAX);
}

void bot_sleep_ms(long long ms)
{
	long long until = bot_now_ms() + ms;
	while (!bot_stop) {
		long long left = until - bot_now_ms();
		if (left <= 0)
			break;
		poll(NULL, 0, left > 1000 ? 1000 : (int)left);
	}
}

struct serve {
	const struct bot_backend *b;
	void *be;
	struct bot_writer *w;
	int write_failed;
	long dropped_self;
};

/* The sink a backend emits into: drop our own messages, add the derived
 * fields and the backend's name, write one flushed line. */
static void serve_emit(void *ctx, jv ev)
{
	struct serve *s = ctx;
	const char *type = bot_str(ev, "type");
	if (type && (!strcmp(type, "message") || !strcmp(type, "card"))) {
		if (s->b->is_from_self && s->b->is_from_self(s->be, ev)) {
			s->dropped_self++;
			jv_free(ev);
			return;
		}
		if (!bot_str(ev, "backend"))
			ev = jv_object_set(ev, jv_string("backend"), jv_string(s->b->name));
		ev = bot_derive(ev);
	}
	if (s->write_failed) {
		jv_free(ev);
		return;
	}
	if (bot_write(s->w, ev) < 0 || bot_writer_flush(s->w) < 0) {
		s->write_failed = errno ? errno : EIO;
		bot_stop = 1;
	}
}

static void emit_connection(struct serve *s, const char *state, int attempt,
                            double retry_in, const char *reason)
{
	serve_emit(s, bot_connection_event(state, attempt, retry_in, reason));
}

/* Serve one connection until it drops (-1), the backend asks to stop (1)
 * or a signal stops us (1). */
static int serve_once(struct serve *s, const struct bot_sink *sink, int *connected,
                      jv *err)
{
	int fd = s->b->connect(s->be, err);
	if (fd < 0)
		return -1;
	*connected = 1;
	emit_connection(s, "connected", 0, -1, NULL);
	while (!bot_stop) {
		int timeout = s->b->timeout_ms ? s->b->timeout_ms(s->be) : -1;
		if (timeout < 0 || timeout > 1000)
			timeout = 1000;   /* wake to notice bot_stop */
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int n = poll(&p, 1, timeout);
		if (n < 0 && errno != EINTR) {
			*err = bot_fail("poll: %s", strerror(errno));
			return -1;
		}
		if (n == 0 && !s->b->timeout_ms)
			continue;
		int rc = s->b->on_ready(s->be, sink, err);
		if (rc)
			return rc;
	}
	return 1;
}

int bot_serve(const struct bot_config *cfg, struct bot_writer *w)
{
	struct serve s = { .b = cfg->backend, .w = w };
	jv err = jv_invalid();
	if (!s.b->connect || !s.b->on_ready) {
		bot_error("backend %s cannot listen (it only sends)", s.b->name);
		return BOT_EX_USAGE;
	}
	s.be = s.b->open(cfg, &err);
	if (!s.be) {
		bot_error_jv(s.b->name, err);
		return BOT_EX_CONFIG;
	}
	srandom((unsigned)time(NULL) ^ (unsigned)getpid());
	bot_catch_signals();
	struct bot_sink sink = { serve_emit, &s };
	double delay = 1;
	int attempt = 0, code = BOT_EX_OK;
	while (!bot_stop) {
		emit_connection(&s, "connecting", attempt, -1, NULL);
		int connected = 0;
		int rc = serve_once(&s, &sink, &connected, &err);
		if (s.b->disconnect)
			s.b->disconnect(s.be);
		if (rc > 0 || bot_stop)
			break;
		char why[512];
		bot_fail_message(err, why, sizeof why);
		jv_free(err);
		err = jv_invalid();
		/* errbot's reset_reconnection_count after a good connect. */
		if (connected) {
			attempt = 0;
			delay = 1;
		}
		attempt++;
		bot_warn("%s: %s; reconnecting in %.0f seconds (%d attempted reconnections so far)",
		         s.b->name, why, delay, attempt - 1);
		emit_connection(&s, "disconnected", attempt, delay, why);
		bot_sleep_ms((long long)(delay * 1000));
		delay = bot_backoff_next(delay);
	}
	jv_free(err);
	if (s.write_failed) {
		bot_error("stdout: %s: stopped listening", strerror(s.write_failed));
		code = BOT_EX_IOERR;
	}
	s.b->close(s.be);
	return code;
}
