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
#include "emoji.h"
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

struct out {                   /* stdout, shared by every instance */
	struct bot_writer *w;
	int write_failed;
};

/* One backend instance (-b NAME[@PROFILE]): its connection, its
 * reconnect loop, its cursor and its session. */
struct serve {
	struct bot_host host;      /* first: the backend's view of us */
	const struct bot_config *cfg;
	const char *name;          /* the instance: what its events carry in "backend" */
	const struct bot_backend *b;
	void *be;
	struct out *out;
	struct bot_writer *w;      /* out->w */
	long dropped_self;
	struct bot_session *session;
	struct bot_sendq *sendq;   /* the session's deliveries */
	enum link link;
	long long offline_until;   /* LINK_OFFLINE: the next start */
	int attempt, was_up;
	double delay;              /* errbot's backoff */
	struct mark *marks;        /* emitted marks not yet downstream, oldest first */
	size_t nmarks;
	int ended;                 /* stopped for good; its exit code in code */
	int code;
};

static struct serve *serve_of(struct bot_host *h) { return (struct serve *)h; }

/* A failed write of stdout ends the run (EPIPE: the reader left). */
static void note_write(struct serve *s, int rc)
{
	if (rc < 0 && !s->out->write_failed) {
		s->out->write_failed = errno ? errno : EIO;
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
	if (s->out->write_failed) {
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

/* Every event says which instance it came from: the backend's own name
 * (or none) becomes the instance's, "irc@libera". */
static jv with_instance(struct serve *s, jv ev)
{
	const char *had = bot_str(ev, "backend");
	if (!had || (strcmp(had, s->name) && !strcmp(had, s->b->name)))
		ev = jv_object_set(ev, jv_string("backend"), jv_string(s->name));
	return ev;
}

/* host->emit: drop our own echoes, add the derived fields and the
 * instance's name, mask the secrets (a server may quote the password back
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
		ev = with_instance(s, ev);
		if (type && (!strcmp(type, "message") || !strcmp(type, "card")))
			ev = bot_derive(ev);
		else if (type && !strcmp(type, "reaction") && BOT_BACKEND_HAS(s->b, reaction_names))
			ev = bot_emoji_derive(ev, (enum bot_emoji_names)s->b->reaction_names);
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
	write_event(s, with_instance(s, bot_redact_jv(bot_connection_event(state, attempt, retry_in, reason))));
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
		jv f = bot_fail_code("connection_lost", 1, "%s: %s", s->name,
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
		bot_error("%s: %s", s->name, why);
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
	         s->name, why, wait, s->attempt - 1);
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

/* An instance that will not come back (a permanent failure, or its
 * service asked to stop): its session goes, so a bot-send acts on its
 * own; the others go on. */
static void end_instance(struct serve *s, int code)
{
	s->ended = 1;
	s->code = code;
	s->link = LINK_OFFLINE;
	bot_session_close(s->session);
	s->session = NULL;
}

/* Before the wait: start what is due; add what this instance waits for. */
static void instance_want(struct serve *s, struct bot_poll *p, struct pollfd *fds, int *ns)
{
	int code = BOT_EX_OK;
	if (s->link == LINK_OFFLINE && bot_now_ms() >= s->offline_until && start_link(s, &code) < 0) {
		end_instance(s, code);
		return;
	}
	if (s->link != LINK_OFFLINE)
		s->b->prepare(s->be, p);
	else
		bot_poll_deadline(p, s->offline_until);
	if (s->sendq)
		bot_sendq_prepare(s->sendq, p);
	*ns = session_want(s, p, fds);
}

/* After the wait: what happened to this instance's fds. */
static void instance_ready(struct serve *s, struct bot_poll *p, struct pollfd *fds, int ns)
{
	commit_written(s);
	session_ready(s, p, fds, ns);
	if (s->link != LINK_OFFLINE && !bot_stop) {
		jv err = jv_invalid();
		int rc = s->b->dispatch(s->be, p, &err), code = BOT_EX_OK;
		if (rc > 0) {
			jv_free(err);
			if (BOT_BACKEND_HAS(s->b, stop))
				s->b->stop(s->be);
			end_instance(s, BOT_EX_OK);   /* the service asked us to stop */
			return;
		}
		if (rc < 0) {
			if (BOT_BACKEND_HAS(s->b, stop))
				s->b->stop(s->be);
			if (connection_failed(s, err, &code) < 0) {
				end_instance(s, code);
				return;
			}
		} else
			jv_free(err);
	}
	if (s->sendq)
		bot_sendq_dispatch(s->sendq);
}

struct fdset { struct pollfd fds[1 + BOT_SESSION_CLIENTS]; int n; };

/* One turn of the loop over every live instance.  -1 when bot-listen must
 * end at once (poll itself failed). */
static int turn(struct serve *nets, int n, struct fdset *sets, struct bot_poll *p)
{
	bot_poll_reset(p);
	for (int i = 0; i < n; i++) {
		sets[i].n = 0;
		if (!nets[i].ended)
			instance_want(&nets[i], p, sets[i].fds, &sets[i].n);
	}
	struct out *out = nets[0].out;
	if (bot_writer_queued(out->w))
		bot_poll_want(p, STDOUT_FILENO, POLLOUT);
	bot_poll_deadline(p, bot_now_ms() + 1000);   /* notice bot_stop; drop stuck session clients */
	if (bot_poll_wait(p) < 0 && errno != EINTR) {
		bot_error("poll: %s", strerror(errno));
		return -1;
	}
	if (bot_poll_revents(p, STDOUT_FILENO))
		note_write(&nets[0], bot_writer_try_flush(out->w));
	for (int i = 0; i < n; i++)
		if (!nets[i].ended)
			instance_ready(&nets[i], p, sets[i].fds, sets[i].n);
	return 0;
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

static void stop_instance(struct serve *s)
{
	if (s->link != LINK_OFFLINE && BOT_BACKEND_HAS(s->b, stop))
		s->b->stop(s->be);
	s->link = LINK_OFFLINE;
	bot_session_close(s->session);
	s->session = NULL;
}

static void free_instance(struct serve *s)
{
	commit_written(s);
	if (s->be)
		s->b->close(s->be);
	bot_sendq_free(s->sendq);
	for (size_t i = 0; i < s->nmarks; i++)
		jv_free(s->marks[i].mark);
	free(s->marks);
	bot_host_free(&s->host);
}

/* The end: the sessions first (a bot-send waiting for its answer must not
 * wait on us while we wait on our reader), then what is still queued
 * goes out.  The exit code. */
static int serve_end(struct serve *nets, int n, int async, int flags, int code)
{
	struct out *out = nets[0].out;
	for (int i = 0; i < n; i++)
		stop_instance(&nets[i]);
	if (out->write_failed) {
		bot_error("stdout: %s: stopped listening", strerror(out->write_failed));
		code = BOT_EX_IOERR;
	}
	size_t dropped = async && bot_stop && !out->write_failed ? flush_before_stop(out->w) : 0;
	if (dropped) {
		bot_error("stdout: the reader left %zu bytes of events untaken %d s after the stop: dropped",
		          dropped, SERVE_STOP_FLUSH_MS / 1000);
		code = BOT_EX_IOERR;
	}
	if (async) {
		fcntl(STDOUT_FILENO, F_SETFL, flags);
		bot_writer_set_async(out->w, 0);
	}
	if (!out->write_failed && bot_writer_flush(out->w) < 0) {
		bot_error("stdout: %s: events not written", strerror(errno));
		code = BOT_EX_IOERR;
	}
	for (int i = 0; i < n; i++)
		free_instance(&nets[i]);
	return code;
}

/* One instance opened, its session listening.  0, or -1 (said why). */
static int open_instance(struct serve *s, const struct bot_config *cfg, struct out *out)
{
	*s = (struct serve){ .cfg = cfg, .name = cfg->instance, .b = cfg->backend, .out = out,
	                     .w = out->w, .delay = 1, .link = LINK_OFFLINE };
	if (!(s->b->can & BOT_CAN_LISTEN) || !BOT_BACKEND_HAS(s->b, start)) {
		bot_error("backend %s cannot listen (it only sends)", s->b->name);
		return -1;
	}
	bot_host_init(&s->host, cfg);
	s->host.emit = serve_emit;
	s->host.up = serve_up;
	s->host.lagging = serve_lagging;
	s->host.listening = 1;
	jv err = jv_invalid();
	s->be = s->b->open(cfg, &s->host, &err);
	if (!s->be) {
		bot_error_jv(s->name, err);
		return -1;
	}
	jv_free(err);
	open_session(s, cfg);
	return 0;
}

/* The exit code when every instance has ended: the first that failed. */
static int ended_code(const struct serve *nets, int n)
{
	for (int i = 0; i < n; i++)
		if (nets[i].ended && nets[i].code != BOT_EX_OK)
			return nets[i].code;
	return BOT_EX_OK;
}

static int live_instances(const struct serve *nets, int n)
{
	int live = 0;
	for (int i = 0; i < n; i++)
		live += !nets[i].ended;
	return live;
}

int bot_serve(const struct bot_config *cfg, struct bot_writer *w)
{
	int n = 1 + cfg->nmore;
	const char *spath = bot_cfg_str(cfg, "session");
	if (n > 1 && spath && strcmp(spath, "none")) {
		bot_error("--session %s: one socket for %d instances; leave it unset (each has its own) or none",
		          spath, n);
		return BOT_EX_USAGE;
	}
	struct out out = { .w = w };
	struct serve *nets = calloc((size_t)n, sizeof *nets);
	struct fdset *sets = calloc((size_t)n, sizeof *sets);
	if (!nets || !sets)
		abort();
	int opened = 0, code = BOT_EX_OK;
	for (; opened < n; opened++)
		if (open_instance(&nets[opened], opened ? &cfg->more[opened - 1] : cfg, &out) < 0)
			break;
	if (opened < n) {
		code = nets[opened].be || !(nets[opened].b->can & BOT_CAN_LISTEN) ? BOT_EX_USAGE : BOT_EX_CONFIG;
		bot_host_free(&nets[opened].host);
		for (int i = 0; i < opened; i++)
			stop_instance(&nets[i]), free_instance(&nets[i]);
		free(nets);
		free(sets);
		return code;
	}
	srandom((unsigned)time(NULL) ^ (unsigned)getpid());
	bot_catch_signals();
	int flags, async = stdout_async(w, &flags);
	struct bot_poll p = BOT_POLL_INIT;
	while (!bot_stop && live_instances(nets, n) > 0)
		if (turn(nets, n, sets, &p) < 0) {
			code = BOT_EX_SOFTWARE;
			break;
		}
	bot_poll_free(&p);
	if (code == BOT_EX_OK)
		code = ended_code(nets, n);
	code = serve_end(nets, n, async, flags, code);
	free(nets);
	free(sets);
	return code;
}
