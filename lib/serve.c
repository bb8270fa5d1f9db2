/* serve.c: errbot's serve_forever, as a poll loop over a backend. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "failure.h"
#include "render.h"
#include "send.h"
#include "sendq.h"
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

/* Events queued for a slow reader, past which the backend is told the
 * reader lags (it reads nothing new, but keeps its heartbeats). */
#define SERVE_QUEUE_MAX (8u << 20)
/* After a stop signal, how long the reader has to take what is queued. */
#define SERVE_STOP_FLUSH_MS 2000
/* Marks waiting for their events to be written, past which the oldest
 * are merged (a later mark covers an earlier one). */
#define SERVE_MARKS_MAX 4096

enum link { LINK_OFFLINE, LINK_CONNECTING, LINK_UP };

struct mark { unsigned long long at; jv mark; };

struct serve {
	struct bot_host host;      /* first: the backend's view of us */
	const struct bot_backend *b;
	void *be;
	struct bot_writer *w;
	int write_failed;
	long dropped_self;
	struct bot_session *session;
	struct bot_sendq *sendq;   /* the session's deliveries */
	enum link link;
	long long offline_until;   /* LINK_OFFLINE: the next start */
	int attempt, was_up;
	double delay;              /* errbot's backoff */
	struct mark *marks;        /* emitted marks not yet downstream, oldest first */
	size_t nmarks;
};

static struct serve *serve_of(struct bot_host *h) { return (struct serve *)h; }

/* A failed write of stdout ends the run (EPIPE: the reader left). */
static void note_write(struct serve *s, int rc)
{
	if (rc < 0 && !s->write_failed) {
		s->write_failed = errno ? errno : EIO;
		bot_stop = 1;
	}
}

/* Commit the latest mark whose events are all written. */
static void commit_written(struct serve *s)
{
	unsigned long long written = bot_writer_written(s->w);
	size_t k = 0;
	while (k < s->nmarks && s->marks[k].at <= written)
		k++;
	if (!k)
		return;
	if (BOT_BACKEND_HAS(s->b, commit))
		s->b->commit(s->be, s->marks[k - 1].mark);
	for (size_t i = 0; i < k; i++)
		jv_free(s->marks[i].mark);
	memmove(s->marks, s->marks + k, (s->nmarks - k) * sizeof *s->marks);
	s->nmarks -= k;
}

static void add_mark(struct serve *s, jv mark)
{
	if (s->nmarks == SERVE_MARKS_MAX) {
		/* the newest mark covers the ones before it */
		jv_free(s->marks[s->nmarks - 1].mark);
		s->nmarks--;
	}
	if (!s->marks)
		s->marks = calloc(SERVE_MARKS_MAX, sizeof *s->marks);
	if (!s->marks)
		abort();
	s->marks[s->nmarks++] = (struct mark){ bot_writer_total(s->w), mark };
}

static void write_event(struct serve *s, jv ev)
{
	if (s->write_failed) {
		jv_free(ev);
		return;
	}
	/* never wait for the reader: bot-send may be waiting on our session
	 * socket while our reader waits on it (a cycle through the pipes) */
	int rc = bot_write(s->w, ev);
	if (rc == 0)
		rc = bot_writer_try_flush(s->w);
	note_write(s, rc);
}

/* host->emit: drop our own echoes, add the derived fields and the
 * backend's name, mask the secrets (a server may quote the password back
 * in a NOTICE), write one line; the mark is committed once it is out. */
static void serve_emit(struct bot_host *h, jv ev, jv mark)
{
	struct serve *s = serve_of(h);
	ev = bot_redact_jv(ev);
	const char *type = bot_str(ev, "type");
	if (type && strcmp(type, "connection") && BOT_BACKEND_HAS(s->b, is_from_self) &&
	    s->b->is_from_self(s->be, ev)) {
		s->dropped_self++;
		jv_free(ev);
	} else {
		if (type && (!strcmp(type, "message") || !strcmp(type, "card"))) {
			if (!bot_str(ev, "backend"))
				ev = jv_object_set(ev, jv_string("backend"), jv_string(s->b->name));
			ev = bot_derive(ev);
		}
		write_event(s, ev);
	}
	if (jv_get_kind(mark) == JV_KIND_NULL) {
		jv_free(mark);
		return;
	}
	add_mark(s, mark);
	commit_written(s);
}

static void emit_connection(struct serve *s, const char *state, int attempt,
                            double retry_in, const char *reason)
{
	write_event(s, bot_redact_jv(bot_connection_event(state, attempt, retry_in, reason)));
}

/* host->up: the connection is really up. */
static void serve_up(struct bot_host *h)
{
	struct serve *s = serve_of(h);
	if (s->link == LINK_UP)
		return;
	s->link = LINK_UP;
	s->was_up = 1;
	emit_connection(s, "connected", 0, -1, NULL);
}

static int serve_lagging(struct bot_host *h)
{
	return bot_writer_queued(serve_of(h)->w) >= SERVE_QUEUE_MAX;
}

/* ---- the session ---- */

struct session_job { struct serve *s; unsigned long long ticket; jv request; };

static void session_done(void *ctx, jv result)
{
	struct session_job *j = ctx;
	jv ans = jv_is_valid(result) ? result : bot_fail_event(result, jv_copy(j->request));
	if (j->s->session)
		bot_session_answer(j->s->session, j->ticket, ans);
	else
		jv_free(ans);
	jv_free(j->request);
	free(j);
}

/* A request on the session socket: while the connection is not up, a
 * temporary failure at once (bot-send then delivers on its own, bot-room
 * tries again); else a queued job, answered when it ends. */
static jv session_request(void *ctx, jv req, unsigned long long ticket)
{
	struct serve *s = ctx;
	if (s->link != LINK_UP) {
		long long left = s->link == LINK_OFFLINE ? s->offline_until - bot_now_ms() : 1000;
		jv f = bot_fail_code("connection_lost", 1, "%s: %s", s->b->name,
		                     s->link == LINK_OFFLINE ? "reconnecting" : "connecting");
		return bot_fail_event(bot_fail_with_retry(f, left > 0 ? (double)left / 1000.0 : 1, NULL),
		                      jv_copy(req));
	}
	jv valid = bot_send_check(jv_copy(req), s->b);
	if (!jv_is_valid(valid))
		return bot_fail_event(valid, jv_copy(req));
	struct session_job *j = calloc(1, sizeof *j);
	if (!j)
		abort();
	*j = (struct session_job){ s, ticket, jv_copy(req) };
	bot_sendq_push(s->sendq, valid, session_done, j);
	return jv_invalid();
}

static void open_session(struct serve *s, const struct bot_config *cfg)
{
	char spath[4096];
	if (!(s->b->can & BOT_CAN_SESSION))
		return;
	int chosen = bot_session_path(cfg, spath, sizeof spath);
	if (chosen < 0)
		return;
	jv serr = jv_invalid();
	s->session = bot_session_listen(spath, chosen, session_request, s, &serr);
	if (!s->session) {
		bot_error_jv(NULL, serr);   /* "session: ...": go on without one */
		return;
	}
	/* no retries: the client has its own policy */
	struct bot_sendq_opts o = { .retries = 0, .markup = bot_cfg_str(cfg, "markup") };
	if (o.markup && !bot_markup_known(o.markup))
		o.markup = NULL;
	s->sendq = bot_sendq_new(s->b, s->be, &o);
	bot_debug("session: %s", spath);
}

/* ---- the loop ---- */

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

/* The connection failed or was lost (err consumed): -1 with the exit code
 * in *code when bot-listen must end, else 0 with the next start set. */
static int connection_failed(struct serve *s, jv err, int *code)
{
	char why[512], cbuf[64];
	bot_fail_message(err, why, sizeof why);
	if (failure_permanent(err)) {
		/* errbot would retry forever; a supervisor restarts us if it
		 * should (77 and 78 say it should not) */
		bot_error("%s: %s", s->b->name, why);
		emit_connection(s, "disconnected", s->attempt + 1, -1, why);
		*code = bot_fail_exit(err);
		jv_free(err);
		return -1;
	}
	double wait = s->delay, ra = bot_fail_retry_after(err);
	if (ra > wait)
		wait = ra;
	/* errbot's reset_reconnection_count after a good connect */
	if (s->was_up) {
		s->attempt = 0;
		s->delay = 1;
		wait = ra > 1 ? ra : 1;
	}
	if (!strcmp(bot_fail_code_of(err, cbuf, sizeof cbuf), "reconnect_now"))
		wait = 0;
	jv_free(err);
	s->attempt++;
	bot_warn("%s: %s; reconnecting in %.0f seconds (%d attempted reconnections so far)",
	         s->b->name, why, wait, s->attempt - 1);
	emit_connection(s, "disconnected", s->attempt, wait, why);
	s->link = LINK_OFFLINE;
	s->offline_until = bot_now_ms() + (long long)(wait * 1000);
	if (!s->was_up || wait > 0)
		s->delay = bot_backoff_next(s->delay);
	s->was_up = 0;
	return 0;
}

/* Begin a connection.  0, or what connection_failed says. */
static int start_link(struct serve *s, int *code)
{
	emit_connection(s, "connecting", s->attempt, -1, NULL);
	jv err = jv_invalid();
	s->link = LINK_CONNECTING;
	if (s->b->start(s->be, &err) == 0)
		return 0;
	if (BOT_BACKEND_HAS(s->b, stop))
		s->b->stop(s->be);
	return connection_failed(s, err, code);
}

/* The session's fds into the set; after the wait, what happened to them. */
static int session_want(struct serve *s, struct bot_poll *p, struct pollfd *fds)
{
	int n = s->session ? bot_session_pollfds(s->session, fds, 1 + BOT_SESSION_CLIENTS) : 0;
	for (int i = 0; i < n; i++)
		bot_poll_want(p, fds[i].fd, fds[i].events);
	return n;
}

static void session_ready(struct serve *s, struct bot_poll *p, struct pollfd *fds, int n)
{
	if (!n)
		return;
	for (int i = 0; i < n; i++)
		fds[i].revents = bot_poll_revents(p, fds[i].fd) & (short)(fds[i].events | POLLHUP | POLLERR);
	/* timeouts too: a client that stopped reading is dropped */
	bot_session_ready(s->session, fds, n);
}

/* One turn of the loop.  -1 with *code when bot-listen must end. */
static int turn(struct serve *s, struct bot_poll *p, int *code)
{
	long long now = bot_now_ms();
	if (s->link == LINK_OFFLINE && now >= s->offline_until && start_link(s, code) < 0)
		return -1;
	bot_poll_reset(p);
	if (s->link != LINK_OFFLINE)
		s->b->prepare(s->be, p);
	else
		bot_poll_deadline(p, s->offline_until);
	if (s->sendq)
		bot_sendq_prepare(s->sendq, p);
	if (bot_writer_queued(s->w))
		bot_poll_want(p, STDOUT_FILENO, POLLOUT);
	struct pollfd fds[1 + BOT_SESSION_CLIENTS];
	int ns = session_want(s, p, fds);
	bot_poll_deadline(p, now + 1000);   /* notice bot_stop; drop stuck session clients */
	if (bot_poll_wait(p) < 0 && errno != EINTR) {
		bot_error("poll: %s", strerror(errno));
		*code = BOT_EX_SOFTWARE;
		return -1;
	}
	if (bot_poll_revents(p, STDOUT_FILENO))
		note_write(s, bot_writer_try_flush(s->w));
	commit_written(s);
	session_ready(s, p, fds, ns);
	if (s->link != LINK_OFFLINE && !bot_stop) {
		jv err = jv_invalid();
		int rc = s->b->dispatch(s->be, p, &err);
		if (rc > 0) {
			jv_free(err);
			return -1;   /* the service asked us to stop */
		}
		if (rc < 0) {
			if (BOT_BACKEND_HAS(s->b, stop))
				s->b->stop(s->be);
			if (connection_failed(s, err, code) < 0)
				return -1;
		} else
			jv_free(err);
	}
	if (s->sendq)
		bot_sendq_dispatch(s->sendq);
	return 0;
}

/* After a stop signal: the reader gets SERVE_STOP_FLUSH_MS to take what
 * is queued (stdout is still non-blocking); one that never reads must not
 * keep a stopped bot-listen alive.  What it did not take is dropped:
 * stdout becomes /dev/null, so nothing waits on the pipe at exit.  0, or
 * the bytes dropped. */
static size_t flush_before_stop(struct serve *s)
{
	long long until = bot_now_ms() + SERVE_STOP_FLUSH_MS;
	while (bot_writer_queued(s->w) && bot_writer_try_flush(s->w) == 0 && bot_writer_queued(s->w)) {
		long long left = until - bot_now_ms();
		if (left <= 0)
			break;
		struct pollfd p = { .fd = STDOUT_FILENO, .events = POLLOUT };
		poll(&p, 1, (int)left);
	}
	commit_written(s);
	size_t dropped = bot_writer_queued(s->w);
	int null = dropped ? open("/dev/null", O_WRONLY | O_CLOEXEC) : -1;
	if (null >= 0) {
		dup2(null, STDOUT_FILENO);
		close(null);
	}
	return dropped;
}

/* stdout a pipe or socket to the next program: never wait for it (a
 * terminal or file is shared with the shell, and does not stall: leave
 * it).  1 when it was made non-blocking. */
static int stdout_async(struct bot_writer *w, int *flags)
{
	*flags = fcntl(STDOUT_FILENO, F_GETFL);
	struct stat st;
	if (fstat(STDOUT_FILENO, &st) < 0 || !(S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
		return 0;
	fcntl(STDOUT_FILENO, F_SETFL, *flags | O_NONBLOCK);
	bot_writer_set_async(w, 1);
	return 1;
}

/* The end: the session first (a bot-send waiting for its answer must not
 * wait on us while we wait on our reader), then what is still queued
 * goes out.  The exit code. */
static int serve_end(struct serve *s, int async, int flags, int code)
{
	if (s->link != LINK_OFFLINE && BOT_BACKEND_HAS(s->b, stop))
		s->b->stop(s->be);
	bot_session_close(s->session);
	s->session = NULL;
	if (s->write_failed) {
		bot_error("stdout: %s: stopped listening", strerror(s->write_failed));
		code = BOT_EX_IOERR;
	}
	size_t dropped = async && bot_stop && !s->write_failed ? flush_before_stop(s) : 0;
	if (dropped) {
		bot_error("stdout: the reader left %zu bytes of events untaken %d s after the stop: dropped",
		          dropped, SERVE_STOP_FLUSH_MS / 1000);
		code = BOT_EX_IOERR;
	}
	if (async) {
		fcntl(STDOUT_FILENO, F_SETFL, flags);
		bot_writer_set_async(s->w, 0);
	}
	if (!s->write_failed && bot_writer_flush(s->w) < 0) {
		bot_error("stdout: %s: events not written", strerror(errno));
		code = BOT_EX_IOERR;
	}
	commit_written(s);
	s->b->close(s->be);
	bot_sendq_free(s->sendq);
	for (size_t i = 0; i < s->nmarks; i++)
		jv_free(s->marks[i].mark);
	free(s->marks);
	bot_host_free(&s->host);
	return code;
}

int bot_serve(const struct bot_config *cfg, struct bot_writer *w)
{
	struct serve s = { .b = cfg->backend, .w = w, .delay = 1 };
	if (!(s.b->can & BOT_CAN_LISTEN) || !BOT_BACKEND_HAS(s.b, start)) {
		bot_error("backend %s cannot listen (it only sends)", s.b->name);
		return BOT_EX_USAGE;
	}
	bot_host_init(&s.host, cfg);
	s.host.emit = serve_emit;
	s.host.up = serve_up;
	s.host.lagging = serve_lagging;
	s.host.listening = 1;
	jv err = jv_invalid();
	s.be = s.b->open(cfg, &s.host, &err);
	if (!s.be) {
		bot_error_jv(s.b->name, err);
		bot_host_free(&s.host);
		return BOT_EX_CONFIG;
	}
	jv_free(err);
	srandom((unsigned)time(NULL) ^ (unsigned)getpid());
	bot_catch_signals();
	int flags, async = stdout_async(w, &flags);
	open_session(&s, cfg);
	struct bot_poll p = BOT_POLL_INIT;
	int code = BOT_EX_OK;
	s.link = LINK_OFFLINE;
	s.offline_until = 0;
	while (!bot_stop && turn(&s, &p, &code) == 0)
		;
	bot_poll_free(&p);
	return serve_end(&s, async, flags, code);
}
