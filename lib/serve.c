/* serve.c: errbot's serve_forever, as a poll loop over a backend. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bot.h"
#include "failure.h"
#include "send.h"
#include "session.h"

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
	struct bot_session *session;
	struct bot_sender *sender;
	long long offline_until;   /* backing off until then: no connection */
};

/* The sink a backend emits into: drop our own messages, add the derived
 * fields and the backend's name, mask the secrets (a server may quote the
 * password back in a NOTICE), write one flushed line. */
static void serve_emit(void *ctx, jv ev)
{
	struct serve *s = ctx;
	ev = bot_redact_jv(ev);
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
	/* never wait for the reader: bot-send may be waiting on our session
	 * socket while our reader waits on it (a cycle through the pipes) */
	if (bot_write(s->w, ev) < 0 || bot_writer_try_flush(s->w) < 0) {
		s->write_failed = errno ? errno : EIO;
		bot_stop = 1;
	}
}

/* Events queued for a slow reader, past which the network is not read
 * (the session is still answered). */
#define SERVE_QUEUE_MAX (8u << 20)
/* After a stop signal, how long the reader has to take what is queued. */
#define SERVE_STOP_FLUSH_MS 2000

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
		size_t queued = bot_writer_queued(s->w);
		int timeout = s->b->timeout_ms ? s->b->timeout_ms(s->be) : -1;
		if (timeout < 0 || timeout > 1000 || queued >= SERVE_QUEUE_MAX)
			timeout = 1000;   /* wake to notice bot_stop; no spin while the reader lags */
		/* p[0] the network (-1 while too much waits for the reader),
		 * p[1] our stdout while events wait, then the session */
		struct pollfd p[3 + BOT_SESSION_CLIENTS] = {
			{ .fd = queued < SERVE_QUEUE_MAX ? fd : -1, .events = POLLIN },
			{ .fd = queued ? STDOUT_FILENO : -1, .events = POLLOUT },
		};
		int ns = s->session ? bot_session_pollfds(s->session, p + 2, 1 + BOT_SESSION_CLIENTS) : 0;
		int n = poll(p, (nfds_t)(2 + ns), timeout);
		if (n < 0 && errno != EINTR) {
			*err = bot_fail("poll: %s", strerror(errno));
			return -1;
		}
		if (n > 0 && p[1].revents && bot_writer_try_flush(s->w) < 0) {
			s->write_failed = errno ? errno : EIO;
			return 1;
		}
		if (ns)   /* timeouts too: a client that stopped reading is dropped */
			bot_session_ready(s->session, p + 2, ns);
		if (n > 0 && !p[0].revents)
			continue;   /* only stdout or the session */
		if (queued >= SERVE_QUEUE_MAX)
			continue;   /* a timeout while the reader lags: wait for it */
		if (n == 0 && !s->b->timeout_ms)
			continue;
		int rc = s->b->on_ready(s->be, sink, err);
		if (rc)
			return rc;
	}
	return 1;
}

/* After a stop signal: the reader gets SERVE_STOP_FLUSH_MS to take what
 * is queued (stdout is still non-blocking); one that never reads must not
 * keep a stopped bot-listen alive.  What it did not take is dropped:
 * stdout becomes /dev/null, so nothing waits on the pipe at exit.  0, or
 * the bytes dropped. */
static size_t flush_before_stop(struct bot_writer *w)
{
	long long until = bot_now_ms() + SERVE_STOP_FLUSH_MS;
	while (bot_writer_queued(w) && bot_writer_try_flush(w) == 0 && bot_writer_queued(w)) {
		long long left = until - bot_now_ms();
		if (left <= 0)
			break;
		struct pollfd p = { .fd = STDOUT_FILENO, .events = POLLOUT };
		poll(&p, 1, (int)left);
	}
	size_t dropped = bot_writer_queued(w);
	int null = dropped ? open("/dev/null", O_WRONLY | O_CLOEXEC) : -1;
	if (null >= 0) {
		dup2(null, STDOUT_FILENO);
		close(null);
	}
	return dropped;
}

/* A request on the session socket: one answer event. */
static jv session_answer(void *ctx, jv req)
{
	struct serve *s = ctx;
	const char *type = bot_str(req, "type");
	long long left = s->offline_until - bot_now_ms();
	if (left > 0) {
		/* no connection now: the client delivers on its own (bot-send)
		 * or tries again (bot-room) */
		jv f = bot_fail_code("connection_lost", 1, "%s: reconnecting", s->b->name);
		return bot_fail_event(bot_fail_with_retry(f, (double)left / 1000.0, NULL), jv_copy(req));
	}
	if (!type || strcmp(type, "room"))
		return bot_sender_answer(s->sender, req);
	jv ans = s->b->room ? s->b->room(s->be, req)
	                    : bot_fail_code("unsupported", 0, "backend %s has no rooms", s->b->name);
	if (jv_is_valid(ans))
		return ans;
	return bot_fail_event(ans, jv_copy(req));   /* temporary and retry_after kept */
}

/* Between two connections: wait ms, still writing queued events to a
 * slow reader and answering the session (with a temporary failure). */
static void wait_offline(struct serve *s, long long ms)
{
	s->offline_until = bot_now_ms() + ms;
	while (!bot_stop && !s->write_failed) {
		long long left = s->offline_until - bot_now_ms();
		if (left <= 0)
			break;
		struct pollfd p[2 + BOT_SESSION_CLIENTS] = {
			{ .fd = bot_writer_queued(s->w) ? STDOUT_FILENO : -1, .events = POLLOUT },
		};
		int ns = s->session ? bot_session_pollfds(s->session, p + 1, 1 + BOT_SESSION_CLIENTS) : 0;
		int n = poll(p, (nfds_t)(1 + ns), left > 1000 ? 1000 : (int)left);
		if (n > 0 && p[0].revents && bot_writer_try_flush(s->w) < 0)
			s->write_failed = errno ? errno : EIO;
		if (ns)
			bot_session_ready(s->session, p + 1, ns);
	}
	s->offline_until = 0;
}

/* A failure that says it is permanent (a refused password, a ban, a bad
 * token): reconnecting cannot help.  A bare message is not a verdict. */
static int failure_permanent(jv err)
{
	jv msg = jv_invalid_get_msg(jv_copy(err));
	int permanent = jv_get_kind(msg) == JV_KIND_OBJECT && bot_str(msg, "code") &&
	                !bot_true(msg, "temporary");
	jv_free(msg);
	return permanent;
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
	/* a pipe or socket to the next program: never wait for it (a terminal
	 * or file is shared with the shell, and does not stall: leave it) */
	int flags = fcntl(STDOUT_FILENO, F_GETFL);
	struct stat st;
	int async = fstat(STDOUT_FILENO, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode));
	if (async) {
		fcntl(STDOUT_FILENO, F_SETFL, flags | O_NONBLOCK);
		bot_writer_set_async(w, 1);
	}
	struct bot_sink sink = { serve_emit, &s };
	char spath[4096];
	int chosen = s.b->send ? bot_session_path(cfg, spath, sizeof spath) : -1;
	if (chosen >= 0) {
		jv serr = jv_invalid();
		s.session = bot_session_listen(spath, chosen, session_answer, &s, &serr);
		if (s.session) {
			s.sender = bot_sender_new(cfg, s.b, s.be);
			bot_debug("session: %s", spath);
		} else
			bot_error_jv(NULL, serr);   /* "session: ...": go on without one */
	}
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
		if (failure_permanent(err)) {
			/* errbot would retry forever; a supervisor restarts us if
			 * it should (77 and 78 say it should not) */
			bot_error("%s: %s", s.b->name, why);
			emit_connection(&s, "disconnected", attempt + 1, -1, why);
			code = bot_fail_exit(err);
			break;
		}
		/* the server's pause, when longer than errbot's backoff */
		double wait = delay, ra = bot_fail_retry_after(err);
		if (ra > wait)
			wait = ra;
		jv_free(err);
		err = jv_invalid();
		/* errbot's reset_reconnection_count after a good connect. */
		if (connected) {
			attempt = 0;
			delay = 1;
			wait = ra > 1 ? ra : 1;
		}
		attempt++;
		bot_warn("%s: %s; reconnecting in %.0f seconds (%d attempted reconnections so far)",
		         s.b->name, why, wait, attempt - 1);
		emit_connection(&s, "disconnected", attempt, wait, why);
		wait_offline(&s, (long long)(wait * 1000));
		delay = bot_backoff_next(delay);
	}
	jv_free(err);
	if (s.write_failed) {
		bot_error("stdout: %s: stopped listening", strerror(s.write_failed));
		code = BOT_EX_IOERR;
	}
	/* the session goes first: a bot-send waiting for its answer must not
	 * wait on us while we wait on our reader below (it falls back to a
	 * connection of its own) */
	bot_session_close(s.session);
	bot_sender_free(s.sender);
	/* what is still queued goes out, waiting for the reader now (after
	 * a stop signal, for SERVE_STOP_FLUSH_MS) */
	size_t dropped = async && bot_stop && !s.write_failed ? flush_before_stop(w) : 0;
	if (dropped) {
		bot_error("stdout: the reader left %zu bytes of events untaken %d s after the stop: dropped",
		          dropped, SERVE_STOP_FLUSH_MS / 1000);
		code = BOT_EX_IOERR;
	}
	if (async) {
		fcntl(STDOUT_FILENO, F_SETFL, flags);
		bot_writer_set_async(w, 0);
	}
	if (!s.write_failed && bot_writer_flush(w) < 0) {
		bot_error("stdout: %s: events not written", strerror(errno));
		code = BOT_EX_IOERR;
	}
	s.b->close(s.be);
	return code;
}
