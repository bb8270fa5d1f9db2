/* scripted.c: the test backend.  A module that fills every member of ABI 2
 * (lib/backend.h), driven by a script file, and that writes down what the
 * programs asked of it, so that test/abi2.bats can run the real bot-listen,
 * bot-send and bot-room against it and assert on both sides.
 *
 * Settings: --scripted-script FILE (the script), --scripted-log FILE (one
 * JSON line per thing that happened, appended), --scripted-account NAME
 * (the identity setting: which "connection" this is).
 *
 * The script, one line each ('#' comments and blank lines skipped):
 *   directives, read once at open, wherever they stand:
 *     self ID                   the bot's own id (default @bot)
 *     heartbeat MS              a ping/pong every MS while connected
 *     size-limit N              message_size_limit in bytes (0: none)
 *     submit-delay MS           a delivery ends MS after its submit
 *     fail-submits N SECONDS [K]
 *                               N deliveries (after the first K) fail: a 429,
 *                               temporary, retry_after SECONDS
 *     fail-idents N             the first N build_identifier calls fail for now
 *     refuse-cards              a native card is refused ("unsupported")
 *     markup NAME               markup_for's answer (default html)
 *   actions, run in order on the listening connection (bot-listen):
 *     up                        host->up: the connection is really up
 *     emit JSON                 an event, with the line number as its mark
 *     filler N BYTES            N messages of BYTES each, without a mark
 *     file BYTES NAME...        an inbound file named NAME by the network
 *     sleep MS                  wait (a deadline from prepare)
 *     fail temporary|permanent CODE [SECONDS]
 *                               dispatch fails (retry_after SECONDS)
 *     end                       dispatch returns 1: the service said stop
 *   The program counter survives a reconnect: after a failure, the next
 *   start goes on with the next line.  An emit at or before the committed
 *   mark (the state store's "cursor") is skipped: a restart re-reads only
 *   what was never committed.
 *
 * Deliveries end from dispatch, at their deadline (never inside submit),
 * or from stop and close (connection_lost).  A message part gets an id
 * "sc-PID-N" (an edit keeps the id it replaces), a delete the id it
 * deletes, presence {"id": null}; a stream is read from its path; a room
 * operation is answered as a room event (rooms named "#missing..." do not
 * exist).  Identifiers: @name, #room, #room/nick.
 *
 * The connection uses three fds: a pipe the "network" rings when a batch of
 * events is ready (read only while the reader keeps up), and a socketpair
 * for the heartbeat (ping written when the fd is writable, answered by the
 * other end, the pong read back), so a loop that watches one fd, or only
 * POLLIN, or ignores the deadline, stalls visibly.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "buf.h"
#include "failure.h"
#include "render.h"
#include "state.h"

/* bare.c builds the same module under another name, with fewer can bits. */
#ifndef SCRIPTED_NAME
#define SCRIPTED_NAME "scripted"
#define SCRIPTED_CAN (BOT_CAN_LISTEN | BOT_CAN_CARD | BOT_CAN_REACTION | BOT_CAN_PRESENCE | \
                      BOT_CAN_STREAM | BOT_CAN_EDIT | BOT_CAN_DELETE | BOT_CAN_ROOM | BOT_CAN_PLAIN | \
                      BOT_CAN_SESSION)
#endif

#define SCRIPT_MAX (4u << 20)
#define UPLOAD_LOG_MAX 4096     /* bytes of an uploaded file put in the log */

static const struct bot_option scripted_options[] = {
	{ SCRIPTED_NAME "-script", 0, BOT_OPT_STR, "FILE", NULL, "the script: directives and actions, one a line" },
	{ SCRIPTED_NAME "-log", 0, BOT_OPT_STR, "FILE", NULL, "append one JSON line for every call the program made" },
	{ SCRIPTED_NAME "-account", 0, BOT_OPT_STR | BOT_OPT_IDENTITY, "NAME", "bot", "which connection this is" },
	BOT_OPTIONS_END
};

/* A delivery waiting for its end. */
struct job {
	jv result;
	bot_done_fn done;
	void *ctx;
	long long due;
	struct job *next;
};

enum hb_state { HB_IDLE, HB_PING, HB_ANSWER, HB_PONG };

struct scripted {
	struct bot_host *host;
	int log_fd;
	char self[128];
	char markup[32];           /* markup_for's answer */
	/* the script */
	char **line;
	size_t nlines, pc;
	long heartbeat_ms, submit_delay_ms;
	size_t size_limit;
	int fail_submits, fail_after, fail_idents, refuse_cards;
	double submit_retry_after;
	/* the connection */
	int started, starts, lazy;
	long long committed;       /* the cursor read at start */
	int net[2], hb[2];
	jv pending;                /* [[event, mark], ...] for the next read */
	long long wake_at;         /* sleep's deadline, 0 = none */
	enum hb_state hb_state;
	long long hb_at;
	long heartbeats;
	jv failure;                /* what dispatch returns next, or null */
	int ended;
	/* deliveries */
	struct job *jobs;
	long seq;
	int submits, idents;
	jv joined;                 /* rooms joined (array of ids) */
};

/* ---- the log ----------------------------------------------------------- */

static long long wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One line: entry (consumed) with "what", the wall clock and the pid. */
static void log_entry(struct scripted *s, const char *what, jv entry)
{
	if (s->log_fd < 0) {
		jv_free(entry);
		return;
	}
	entry = jv_object_merge(JV_OBJECT(jv_string("what"), jv_string(what),
	                                  jv_string("ms"), jv_number((double)wall_ms()),
	                                  jv_string("pid"), jv_number((double)getpid())),
	                        entry);
	jv line = jv_dump_string(entry, 0);
	struct sbuf b = { 0 };
	sb_add(&b, jv_string_value(line), strlen(jv_string_value(line)));
	sb_add(&b, "\n", 1);
	jv_free(line);
	/* one write(2) on an O_APPEND fd: lines of several processes never mix */
	if (write(s->log_fd, b.s, b.len) < 0) {
		/* nothing to do: a backend never prints */
	}
	free(b.s);
}

static jv str_or_null(const char *v)
{
	return v ? jv_string(v) : jv_null();
}

/* ---- the script -------------------------------------------------------- */

static int is_action(const char *l, const char *name)
{
	size_t n = strlen(name);
	return !strncmp(l, name, n) && (l[n] == 0 || l[n] == ' ');
}

/* A directive's effect: 1 done, 0 the line is no directive, -1 it names
 * one but its arguments are wrong. */
static int directive(struct scripted *s, const char *l)
{
	char id[128];
	int ok;
	if (is_action(l, "self")) {
		if ((ok = sscanf(l, "self %127s", id) == 1))
			snprintf(s->self, sizeof s->self, "%s", id);
	} else if (is_action(l, "heartbeat"))
		ok = sscanf(l, "heartbeat %ld", &s->heartbeat_ms) == 1;
	else if (is_action(l, "size-limit"))
		ok = sscanf(l, "size-limit %zu", &s->size_limit) == 1;
	else if (is_action(l, "submit-delay"))
		ok = sscanf(l, "submit-delay %ld", &s->submit_delay_ms) == 1;
	else if (is_action(l, "fail-submits"))
		ok = sscanf(l, "fail-submits %d %lf %d", &s->fail_submits, &s->submit_retry_after,
		            &s->fail_after) >= 2;
	else if (is_action(l, "fail-idents"))
		ok = sscanf(l, "fail-idents %d", &s->fail_idents) == 1;
	else if (is_action(l, "markup"))
		ok = sscanf(l, "markup %31s", s->markup) == 1 && bot_markup_known(s->markup);
	else if (is_action(l, "refuse-cards"))
		ok = s->refuse_cards = !strcmp(l, "refuse-cards");
	else
		return 0;
	return ok ? 1 : -1;
}

/* Check an action line; NULL when it is good, else why not. */
static const char *bad_action(const char *l)
{
	static const char *const plain[] = { "up", "end", NULL };
	for (const char *const *p = plain; *p; p++)
		if (!strcmp(l, *p))
			return NULL;
	long a, b;
	char kind[16], code[64];
	if (is_action(l, "emit")) {
		jv e = jv_parse(l + 4);
		int ok = jv_get_kind(e) == JV_KIND_OBJECT;
		jv_free(e);
		return ok ? NULL : "emit takes a JSON object";
	}
	if (is_action(l, "filler"))
		return sscanf(l, "filler %ld %ld", &a, &b) == 2 && a > 0 && b >= 0 ? NULL : "filler N BYTES";
	if (is_action(l, "file"))
		return sscanf(l, "file %ld %*s", &a) == 1 && a >= 0 ? NULL : "file BYTES NAME";
	if (is_action(l, "sleep"))
		return sscanf(l, "sleep %ld", &a) == 1 && a >= 0 ? NULL : "sleep MS";
	if (is_action(l, "fail"))
		return sscanf(l, "fail %15s %63s", kind, code) == 2 &&
		       (!strcmp(kind, "temporary") || !strcmp(kind, "permanent")) ? NULL
		       : "fail temporary|permanent CODE [SECONDS]";
	return "unknown action";
}

/* Read the script: directives take effect, actions are kept in order
 * (comments and blank lines stay as empty lines, so that a mark is the
 * line number in the file). */
static int load_script(struct scripted *s, const char *path, jv *err)
{
	size_t len;
	char *text = bot_slurp(path, SCRIPT_MAX, &len);
	if (!text) {
		*err = bot_fail_code("bad_config", 0, "--" SCRIPTED_NAME "-script %s: %s", path, strerror(errno));
		return -1;
	}
	size_t cap = 0;
	for (char *l = text, *nl; l < text + len; l = nl + 1) {
		nl = memchr(l, '\n', (size_t)(text + len - l));
		if (!nl)
			nl = text + len;
		*nl = 0;
		if (s->nlines == cap) {
			cap = cap ? cap * 2 : 32;
			s->line = realloc(s->line, cap * sizeof *s->line);
			if (!s->line)
				abort();
		}
		const char *why = NULL;
		int d = *l == '#' || !*l ? 1 : directive(s, l);
		if (d < 0)
			why = "bad arguments";
		else if (d == 0)
			why = bad_action(l);
		if (d > 0)
			s->line[s->nlines] = strdup("");
		else if (why) {
			char shown[80];
			*err = bot_fail_code("bad_config", 0, "--" SCRIPTED_NAME "-script %s: line %zu: %s: %s", path,
			                     s->nlines + 1, why, bot_oneline(shown, sizeof shown, l, strlen(l)));
			free(text);
			return -1;
		} else
			s->line[s->nlines] = strdup(l);
		s->nlines++;
	}
	free(text);
	return 0;
}

/* ---- open and close ---------------------------------------------------- */

static void fail_jobs(struct scripted *s, const char *why);
static void drop_connection(struct scripted *s);

static void scripted_close(void *p)
{
	struct scripted *s = p;
	if (!s)
		return;
	fail_jobs(s, "closed");
	drop_connection(s);
	log_entry(s, "close", jv_object());
	for (size_t i = 0; i < s->nlines; i++)
		free(s->line[i]);
	free(s->line);
	jv_free(s->pending);
	jv_free(s->failure);
	jv_free(s->joined);
	if (s->log_fd >= 0)
		close(s->log_fd);
	free(s);
}

static void *scripted_open(const struct bot_config *cfg, struct bot_host *host, jv *err)
{
	struct scripted *s = calloc(1, sizeof *s);
	if (!s)
		abort();
	s->host = host;
	s->log_fd = -1;
	s->net[0] = s->net[1] = s->hb[0] = s->hb[1] = -1;
	s->pending = jv_array();
	s->failure = jv_null();
	s->joined = JV_ARRAY(jv_string("#ops"));
	snprintf(s->self, sizeof s->self, "@bot");
	snprintf(s->markup, sizeof s->markup, "html");
	const char *log = bot_cfg_str(cfg, SCRIPTED_NAME "-log"), *script = bot_cfg_str(cfg, SCRIPTED_NAME "-script");
	if (log && (s->log_fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) < 0) {
		*err = bot_fail_code("bad_config", 0, "--" SCRIPTED_NAME "-log %s: %s", log, strerror(errno));
		scripted_close(s);
		return NULL;
	}
	if (script && load_script(s, script, err) < 0) {
		scripted_close(s);
		return NULL;
	}
	log_entry(s, "open", JV_OBJECT(jv_string("listening"), jv_number(host->listening),
	                               jv_string("account"), str_or_null(bot_cfg_str(cfg, SCRIPTED_NAME "-account"))));
	return s;
}

/* ---- the connection ---------------------------------------------------- */

static void close_pair(int fd[2])
{
	for (int i = 0; i < 2; i++)
		if (fd[i] >= 0) {
			close(fd[i]);
			fd[i] = -1;
		}
}

static void drop_connection(struct scripted *s)
{
	close_pair(s->net);
	close_pair(s->hb);
	jv_free(s->pending);
	s->pending = jv_array();
	s->started = 0;
	s->wake_at = 0;
	s->hb_state = HB_IDLE;
}

/* The committed cursor (0 when none). */
static long long read_cursor(struct scripted *s)
{
	jv err = jv_invalid();
	const char *dir = s->host->state_dir(s->host, &err);
	if (!dir) {
		jv_free(err);
		return 0;
	}
	jv v = bot_state_get(dir, "cursor", 64);
	long long c = jv_get_kind(v) == JV_KIND_STRING ? atoll(jv_string_value(v)) : 0;
	jv_free(v);
	return c;
}

static int scripted_start(void *p, jv *err)
{
	struct scripted *s = p;
	if (pipe2(s->net, O_NONBLOCK | O_CLOEXEC) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, s->hb) < 0) {
		*err = bot_fail_code("unavailable", 1, "scripted: %s", strerror(errno));
		drop_connection(s);
		return -1;
	}
	s->started = 1;
	s->starts++;
	s->committed = read_cursor(s);
	s->hb_at = bot_now_ms() + s->heartbeat_ms;
	log_entry(s, "start", JV_OBJECT(jv_string("n"), jv_number(s->starts),
	                                jv_string("committed"), jv_number((double)s->committed)));
	return 0;
}

static void scripted_stop(void *p)
{
	struct scripted *s = p;
	log_entry(s, "stop", jv_object());
	fail_jobs(s, "stopped");
	drop_connection(s);
}

static void scripted_commit(void *p, jv mark)
{
	struct scripted *s = p;
	log_entry(s, "commit", JV_OBJECT(jv_string("mark"), jv_copy(mark)));
	if (jv_get_kind(mark) != JV_KIND_NUMBER)
		return;
	jv err = jv_invalid();
	const char *dir = s->host->state_dir(s->host, &err);
	char v[32];
	int n = snprintf(v, sizeof v, "%.0f", jv_number_value(mark));
	if (!dir || bot_state_put(dir, "cursor", v, (size_t)n, &err) < 0)
		log_entry(s, "commit-failed", JV_OBJECT(jv_string("error"), jv_invalid_get_msg(err)));
	else
		jv_free(err);
}

/* The "network" has a batch: queue the event and ring the pipe. */
static void queue_event(struct scripted *s, jv ev, jv mark)
{
	s->pending = jv_array_append(s->pending, JV_ARRAY(ev, mark));
	if (write(s->net[1], "!", 1) < 0 && errno != EAGAIN)
		log_entry(s, "ring-failed", JV_OBJECT(jv_string("error"), jv_string(strerror(errno))));
}

static jv filler_message(struct scripted *s, long bytes, long i)
{
	char *body = malloc((size_t)bytes + 1);
	if (!body)
		abort();
	memset(body, 'x', (size_t)bytes);
	body[bytes] = 0;
	jv m = bot_message(bot_person("@alice", "alice"), bot_person(s->self, s->self + 1), body);
	free(body);
	return jv_object_set(m, jv_string("id"), jv_string_fmt("filler-%ld", i));
}

/* An inbound file: a name we make in the spool (never NAME), BYTES of
 * data, and its stream events. */
static void inbound_file(struct scripted *s, long bytes, const char *name, size_t lineno)
{
	char path[4096];
	jv err = jv_invalid();
	jv who = bot_person("@alice", "alice");
	if (s->host->spool_path(s->host, name, path, sizeof path, &err) < 0) {
		log_entry(s, "spool-failed", JV_OBJECT(jv_string("error"), jv_invalid_get_msg(err)));
		queue_event(s, bot_stream_event(who, name, NULL, NULL, bytes, 0, "error"), jv_number((double)lineno));
		return;
	}
	queue_event(s, bot_stream_event(jv_copy(who), name, NULL, "application/octet-stream", bytes, 0,
	                                "transfering"), jv_null());
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	long done = 0;
	for (char chunk[4096]; fd >= 0 && done < bytes;) {
		size_t n = (size_t)(bytes - done) < sizeof chunk ? (size_t)(bytes - done) : sizeof chunk;
		for (size_t i = 0; i < n; i++)
			chunk[i] = (char)('a' + (done + (long)i) % 26);
		ssize_t w = write(fd, chunk, n);
		if (w <= 0)
			break;
		done += w;
	}
	int ok = fd >= 0 && done == bytes && close(fd) == 0;
	if (fd >= 0 && !ok)
		close(fd);
	log_entry(s, "spooled", JV_OBJECT(jv_string("name"), jv_string(name), jv_string("path"), jv_string(path),
	                                  jv_string("ok"), jv_bool(ok)));
	queue_event(s, bot_stream_event(who, name, path, "application/octet-stream", bytes, done,
	                                ok ? "success" : "error"), jv_number((double)lineno));
}

/* Run the script until it must wait: 0 go on, -1 fail (s->failure), 1 end. */
static int run_script(struct scripted *s)
{
	while (s->pc < s->nlines) {
		const char *l = s->line[s->pc];
		size_t lineno = s->pc + 1;
		long a, b;
		if (!*l) {
			s->pc++;
			continue;
		}
		if (is_action(l, "emit")) {
			if ((long long)lineno <= s->committed)
				log_entry(s, "skip", JV_OBJECT(jv_string("line"), jv_number((double)lineno)));
			else
				queue_event(s, jv_parse(l + 4), jv_number((double)lineno));
			s->pc++;
			continue;
		}
		if (jv_array_length(jv_copy(s->pending)) > 0)
			return 0;   /* the batch goes downstream first */
		if (is_action(l, "filler")) {
			sscanf(l, "filler %ld %ld", &a, &b);
			for (long i = 0; i < a; i++)
				queue_event(s, filler_message(s, b, i), jv_null());
		} else if (is_action(l, "file")) {
			int at = 0;
			sscanf(l, "file %ld %n", &a, &at);
			inbound_file(s, a, l + at, lineno);
		} else if (is_action(l, "sleep")) {
			sscanf(l, "sleep %ld", &a);
			if (!s->wake_at) {
				s->wake_at = bot_now_ms() + a;
				return 0;
			}
			if (bot_now_ms() < s->wake_at)
				return 0;
			s->wake_at = 0;
		} else if (!strcmp(l, "up")) {
			log_entry(s, "up", jv_object());
			s->pc++;
			s->host->up(s->host);
			continue;
		} else if (is_action(l, "fail")) {
			char kind[16], code[64];
			double ra = 0;
			sscanf(l, "fail %15s %63s %lf", kind, code, &ra);
			jv f = bot_fail_code(code, !strcmp(kind, "temporary"), "scripted failure: %s", code);
			if (ra > 0)
				f = bot_fail_with_retry(f, ra, NULL);
			log_entry(s, "fail", JV_OBJECT(jv_string("line"), jv_number((double)lineno),
			                               jv_string("failure"), jv_invalid_get_msg(jv_copy(f))));
			jv_free(s->failure);
			s->failure = f;
			s->pc++;
			return -1;
		} else if (!strcmp(l, "end")) {
			log_entry(s, "end", jv_object());
			s->pc++;
			return 1;
		}
		s->pc++;
	}
	return 0;
}

static int lagging(struct scripted *s)
{
	return s->host->lagging && s->host->lagging(s->host);
}

static void scripted_prepare(void *p, struct bot_poll *pl)
{
	struct scripted *s = p;
	long long soonest = -1;
	for (struct job *j = s->jobs; j; j = j->next)
		if (soonest < 0 || j->due < soonest)
			soonest = j->due;
	if (soonest >= 0)
		bot_poll_deadline(pl, soonest);
	if (!s->started)
		return;
	if (!lagging(s))
		bot_poll_want(pl, s->net[0], POLLIN);
	if (s->wake_at)
		bot_poll_deadline(pl, s->wake_at);
	else if (s->pc < s->nlines && jv_array_length(jv_copy(s->pending)) == 0)
		bot_poll_deadline(pl, bot_now_ms());   /* the script can go on now */
	switch (s->hb_state) {
	case HB_IDLE:
		if (s->heartbeat_ms > 0)
			bot_poll_deadline(pl, s->hb_at);
		break;
	case HB_PING:
		bot_poll_want(pl, s->hb[0], POLLOUT);
		break;
	case HB_ANSWER:
		bot_poll_want(pl, s->hb[1], POLLIN);
		break;
	case HB_PONG:
		bot_poll_want(pl, s->hb[0], POLLIN);
		break;
	}
}

/* One step of the heartbeat, as the fds allow. */
static void heartbeat(struct scripted *s, const struct bot_poll *pl)
{
	char buf[16];
	if (s->hb_state == HB_IDLE && s->heartbeat_ms > 0 && bot_now_ms() >= s->hb_at)
		s->hb_state = HB_PING;
	if (s->hb_state == HB_PING && (bot_poll_revents(pl, s->hb[0]) & POLLOUT)) {
		if (write(s->hb[0], "ping", 4) == 4)
			s->hb_state = HB_ANSWER;
	} else if (s->hb_state == HB_ANSWER && (bot_poll_revents(pl, s->hb[1]) & POLLIN)) {
		if (read(s->hb[1], buf, sizeof buf) == 4 && write(s->hb[1], "pong", 4) == 4)
			s->hb_state = HB_PONG;
	} else if (s->hb_state == HB_PONG && (bot_poll_revents(pl, s->hb[0]) & POLLIN)) {
		if (read(s->hb[0], buf, sizeof buf) == 4) {
			s->heartbeats++;
			log_entry(s, "heartbeat", JV_OBJECT(jv_string("n"), jv_number((double)s->heartbeats),
			                                    jv_string("lagging"), jv_bool(lagging(s))));
			s->hb_state = HB_IDLE;
			s->hb_at = bot_now_ms() + s->heartbeat_ms;
		}
	}
}

/* The batch the pipe rang for, downstream. */
static void read_batch(struct scripted *s, const struct bot_poll *pl)
{
	char buf[256];
	if (lagging(s) || !(bot_poll_revents(pl, s->net[0]) & POLLIN))
		return;
	while (read(s->net[0], buf, sizeof buf) > 0)
		;
	jv batch = s->pending;
	s->pending = jv_array();
	jv_array_foreach(batch, i, pair) {
		jv ev = jv_array_get(jv_copy(pair), 0), mark = jv_array_get(jv_copy(pair), 1);
		if (jv_get_kind(mark) == JV_KIND_NUMBER)
			log_entry(s, "emit", JV_OBJECT(jv_string("mark"), jv_copy(mark),
			                               jv_string("id"), bot_get(ev, "id")));
		s->host->emit(s->host, ev, mark);
		jv_free(pair);
		(void)i;
	}
	jv_free(batch);
}

static void finish_jobs(struct scripted *s, int all);

static int scripted_dispatch(void *p, const struct bot_poll *pl, jv *err)
{
	struct scripted *s = p;
	finish_jobs(s, 0);
	if (!s->started)
		return 0;
	heartbeat(s, pl);
	read_batch(s, pl);
	int r = run_script(s);
	if (r < 0) {
		*err = s->failure;
		s->failure = jv_null();
	}
	return r;
}

/* ---- deliveries -------------------------------------------------------- */

static void fail_jobs(struct scripted *s, const char *why)
{
	for (struct job *j = s->jobs; j; j = j->next) {
		jv_free(j->result);
		j->result = bot_fail_code("connection_lost", 1, "scripted: %s with the delivery queued", why);
	}
	finish_jobs(s, 1);
}

/* End the deliveries that are due (all: every one), in submit order.  A
 * done callback may submit again: each job is unlinked before its call. */
static void finish_jobs(struct scripted *s, int all)
{
	long long now = bot_now_ms();
	for (struct job **pp = &s->jobs; *pp;) {
		struct job *j = *pp;
		if (!all && j->due > now) {
			pp = &j->next;
			continue;
		}
		*pp = j->next;
		j->done(j->ctx, j->result);
		free(j);
		pp = &s->jobs;   /* the list may have changed */
	}
}

static void add_job(struct scripted *s, jv result, bot_done_fn done, void *ctx)
{
	struct job *j = calloc(1, sizeof *j), **tail = &s->jobs;
	if (!j)
		abort();
	*j = (struct job){ result, done, ctx, bot_now_ms() + s->submit_delay_ms, NULL };
	while (*tail)
		tail = &(*tail)->next;
	*tail = j;
}

/* An uploaded file: its size and (the start of) its content. */
static jv upload(const char *path, jv *entry)
{
	int fd = path ? open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) : -1;
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		jv f = bot_fail_code("bad_input", 0, "stream: %s: %s", path ? path : "(no path)",
		                     fd < 0 ? strerror(errno) : "not a regular file");
		if (fd >= 0)
			close(fd);
		return f;
	}
	char buf[UPLOAD_LOG_MAX];
	ssize_t n = read(fd, buf, sizeof buf);
	close(fd);
	*entry = jv_object_set(*entry, jv_string("size"), jv_number((double)st.st_size));
	if (n >= 0 && bot_utf8_valid(buf, (size_t)n))
		*entry = jv_object_set(*entry, jv_string("content"), jv_string_sized(buf, (int)n));
	return jv_true();
}

/* The answer to a room event. */
static jv room_answer(struct scripted *s, jv ev)
{
	const char *action = bot_str(ev, "action");
	jv room = bot_get(ev, "room");
	const char *id = bot_ident_id(room);
	if (!action || (strcmp(action, "list") && !id)) {
		jv_free(room);
		return bot_fail_code("bad_input", 0, "room: no action or room");
	}
	if (id && !strncmp(id, "#missing", 8) && strcmp(action, "create") && strcmp(action, "join")) {
		jv f = bot_fail_code("room_does_not_exist", 0, "%s does not exist", id);
		jv_free(room);
		return f;
	}
	if (!strcmp(action, "list")) {
		jv_free(room);
		jv rooms = jv_array();
		jv_array_foreach(s->joined, i, r) {
			rooms = jv_array_append(rooms, bot_room(jv_string_value(r)));
			jv_free(r);
			(void)i;
		}
		return jv_object_set(JV_OBJECT(jv_string("type"), jv_string("room"), jv_string("action"),
		                               jv_string("list")), jv_string("rooms"), rooms);
	}
	jv ans = bot_room_event(action, room);
	if (!strcmp(action, "join"))
		s->joined = jv_array_append(s->joined, jv_string(id));
	else if (!strcmp(action, "topic"))
		ans = jv_object_set(ans, jv_string("topic"),
		                    str_or_null(bot_str(ev, "topic") ? bot_str(ev, "topic") : "the scripted topic"));
	else if (!strcmp(action, "occupants"))
		ans = jv_object_set(ans, jv_string("occupants"), JV_ARRAY(bot_person(s->self, s->self + 1)));
	else if (!strcmp(action, "info"))
		ans = jv_object_set(jv_object_set(ans, jv_string("exists"), jv_true()), jv_string("joined"), jv_true());
	return ans;
}

/* What a delivery of this part comes to: {"id"}, an answer, or a failure. */
static jv deliver(struct scripted *s, const struct bot_part *part, jv *entry)
{
	const char *type = part->type;
	if (s->submits > s->fail_after && s->submits <= s->fail_after + s->fail_submits) {
		jv f = bot_fail_code("rate_limited", 1, "scripted: 429 Too Many Requests (%d of %d)",
		                     s->submits - s->fail_after, s->fail_submits);
		f = bot_fail_with_retry(f, s->submit_retry_after, NULL);
		jv o = jv_invalid_get_msg(f);
		return jv_invalid_with_msg(jv_object_set(o, jv_string("status"), jv_number(429)));
	}
	if (!strcmp(type, "card") && !part->text && s->refuse_cards)
		return bot_fail_code("unsupported", 0, "scripted: the network refuses this card");
	if (!strcmp(type, "stream")) {
		jv ok = upload(bot_str(part->event, "path"), entry);
		if (!jv_is_valid(ok))
			return ok;
	} else if (!strcmp(type, "presence"))
		return JV_OBJECT(jv_string("id"), jv_null());   /* the network names no message */
	else if (!strcmp(type, "room"))
		return room_answer(s, part->event);
	else if (!strcmp(type, "delete"))
		return JV_OBJECT(jv_string("id"), str_or_null(bot_str(part->event, "deletes")));
	else if (!strcmp(type, "message") && part->replaces)
		return JV_OBJECT(jv_string("id"), jv_string(part->replaces));   /* an edit keeps its id */
	return JV_OBJECT(jv_string("id"), jv_string_fmt("sc-%d-%ld", (int)getpid(), ++s->seq));
}

static int scripted_submit(void *p, const struct bot_part *part, bot_done_fn done, void *ctx, jv *err)
{
	struct scripted *s = p;
	(void)err;
	if (!s->started && !s->lazy) {
		s->lazy = 1;
		log_entry(s, "connect-lazily", jv_object());
	}
	s->submits++;
	jv to = bot_get(part->event, "to");
	jv entry = JV_OBJECT(jv_string("n"), jv_number(s->submits),
	                     jv_string("listening"), jv_number(s->host->listening),
	                     jv_string("type"), str_or_null(part->type),
	                     jv_string("key"), str_or_null(part->key),
	                     jv_string("index"), jv_number(part->index),
	                     jv_string("count"), jv_number(part->count));
	entry = jv_object_merge(entry, JV_OBJECT(jv_string("text"), str_or_null(part->text),
	                                         jv_string("plain"), str_or_null(part->plain),
	                                         jv_string("replaces"), str_or_null(part->replaces),
	                                         jv_string("to"), str_or_null(bot_ident_id(to)),
	                                         jv_string("event"), jv_copy(part->event)));
	jv_free(to);
	jv result = deliver(s, part, &entry);
	entry = jv_object_set(entry, jv_string("result"),
	                      jv_is_valid(result) ? jv_copy(result) : jv_invalid_get_msg(jv_copy(result)));
	log_entry(s, "submit", entry);
	add_job(s, result, done, ctx);
	return 0;
}

static int scripted_idle(void *p)
{
	struct scripted *s = p;
	if (s->jobs)
		return 0;
	if (s->lazy) {
		s->lazy = 0;
		log_entry(s, "quit", jv_object());
	}
	return 1;
}

/* ---- the model ----------------------------------------------------------- */

/* @name a person, #room a room, #room/nick an occupant. */
static jv scripted_build_identifier(void *p, const char *text)
{
	struct scripted *s = p;
	s->idents++;
	int fail = s->idents <= s->fail_idents;
	log_entry(s, "ident", JV_OBJECT(jv_string("text"), jv_string(text), jv_string("ok"), jv_bool(!fail)));
	if (fail)
		return bot_fail_code("unavailable", 1, "scripted: the directory cannot answer for now (%d of %d)",
		                     s->idents, s->fail_idents);
	for (const char *c = text; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f)
			return bot_fail_code("bad_input", 0, "scripted: an identifier has no spaces or control characters");
	const char *slash = strchr(text, '/');
	if (text[0] == '@' && text[1] && !slash)
		return bot_person(text, text + 1);
	if (text[0] == '#' && text[1] && !slash)
		return bot_room(text);
	if (text[0] == '#' && slash && slash > text + 1 && slash[1] && !strchr(slash + 1, '/')) {
		char room[256];
		snprintf(room, sizeof room, "%.*s", (int)(slash - text), text);
		return bot_occupant(room, slash + 1, text);
	}
	return bot_fail_code("bad_input", 0, "scripted: an identifier starts with @ or #");
}

/* The bot's own message, reaction, presence or file, by who made it. */
static int scripted_is_from_self(void *p, jv ev)
{
	struct scripted *s = p;
	static const char *const who[] = { "from", "reactor", "identifier" };
	for (size_t i = 0; i < sizeof who / sizeof *who; i++) {
		jv id = bot_get(ev, who[i]);
		const char *v = bot_ident_id(id);
		const char *person = bot_str(id, "person");
		int self = (v && !strcmp(v, s->self)) || (person && !strcmp(person, s->self));
		jv_free(id);
		if (self)
			return 1;
	}
	return 0;
}

static jv scripted_mention(void *p, jv ident, jv body)
{
	(void)p;
	ident = bot_ident_derive(ident);
	const char *who = bot_ident_person(ident);
	jv out = bot_mention_body(who ? who : "", body);
	jv_free(ident);
	return out;
}

static const char *scripted_markup_for(void *p)
{
	return ((struct scripted *)p)->markup;
}

static size_t scripted_size_limit(void *p, jv to)
{
	(void)to;
	return ((struct scripted *)p)->size_limit;
}

const struct bot_backend bot_backend = {
	.size = sizeof(struct bot_backend),
	.abi = BOT_BACKEND_ABI,
	.name = SCRIPTED_NAME,
	.markup = "html",
	.options = scripted_options,
	.can = SCRIPTED_CAN,
	.size_unit = BOT_UNIT_BYTES,
	.open = scripted_open,
	.close = scripted_close,
	.start = scripted_start,
	.prepare = scripted_prepare,
	.dispatch = scripted_dispatch,
	.stop = scripted_stop,
	.commit = scripted_commit,
	.submit = scripted_submit,
	.idle = scripted_idle,
	.build_identifier = scripted_build_identifier,
	.is_from_self = scripted_is_from_self,
	.mention = scripted_mention,
	.size_limit = scripted_size_limit,
	.markup_for = scripted_markup_for,
};
