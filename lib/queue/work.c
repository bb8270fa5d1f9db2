/* work.c: a worker.  It pulls events from the durable work-queue
 * consumer every worker shares, writes them to its command's stdin,
 * publishes what the command writes with message ids made from the input
 * it answers (so a second run of the same input, after a worker died, is
 * dropped by the server), and acknowledges an input only once the command
 * has said it is finished with it.  A worker that dies leaves its inputs
 * unacknowledged: the server gives them to another after the ack wait. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "queue_priv.h"

#define WORK_IDLE_WAIT_MS 1000   /* fetch wait when nothing is in flight */
#define WORK_BUSY_POLL_MS 50     /* poll on the command while inputs run */
#define WORK_FULL_POLL_MS 200    /* the same with no room for more */

enum entry_state { WAITING, RUNNING };
/* How the command says it is finished with an input (--answered-by). */
enum answer_rule { BY_DONE, BY_SENT };

struct entry {
	natsMsg *msg;
	uint64_t seq, delivered, key;
	char *id;                 /* the input's id, or NULL */
	char *type;
	int parts;                /* outputs published for it so far */
	enum entry_state state;
	long long touched_ms;     /* delivered, or told in progress */
};

struct work {
	struct bot_queue *q;
	const char *in_subject, *out_subject, *dead_subject;
	char in_stream[QUEUE_NAME_MAX], out_stream[QUEUE_NAME_MAX], dead_stream[QUEUE_NAME_MAX];
	natsSubscription *sub;
	struct entry *e;          /* in flight, oldest first */
	int n;
	int solo;                 /* a redelivered input runs alone */
	int careful;              /* one input at a time, see fetch_more */
	enum answer_rule rule;
	pid_t child;
	struct bot_writer *to_child;
	int to_fd;                /* its stdin, ours to close */
	struct bot_reader *from_child;
	struct queue_seen *seen;
	int stopping, status;
	long long stop_by_ms;     /* stopping: give up on CMD's answers then */
};

/* ---- the command ---- */

/* Start argv (a jv array of strings) with pipes on its stdin and stdout;
 * execvp, no shell.  0, or -1 (logged). */
static int child_start(struct work *w, jv argv)
{
	int n = jv_array_length(jv_copy(argv));
	char **av = calloc((size_t)n + 1, sizeof *av);
	if (!av)
		abort();
	for (int i = 0; i < n; i++) {
		jv a = jv_array_get(jv_copy(argv), i);
		av[i] = strdup(jv_string_value(a));
		jv_free(a);
	}
	int in[2], out[2];
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
		bot_error("pipe: %s", strerror(errno));
		return -1;
	}
	w->child = fork();
	if (w->child == 0) {
		/* only what is safe after fork in a threaded process */
		dup2(in[0], 0);
		dup2(out[1], 1);
		execvp(av[0], av);
		static const char msg[] = ": cannot run the command\n";
		(void)!write(2, av[0], strlen(av[0]));
		(void)!write(2, msg, sizeof msg - 1);
		_exit(errno == ENOENT ? 127 : 126);
	}
	int saved = errno;
	close(in[0]);
	close(out[1]);
	for (int i = 0; i < n; i++)
		free(av[i]);
	free(av);
	if (w->child < 0) {
		bot_error("fork: %s", strerror(saved));
		close(in[1]);
		close(out[0]);
		return -1;
	}
	fcntl(in[1], F_SETFL, fcntl(in[1], F_GETFL) | O_NONBLOCK);
	fcntl(out[0], F_SETFL, fcntl(out[0], F_GETFL) | O_NONBLOCK);
	w->to_fd = in[1];
	w->to_child = bot_writer_new(in[1]);
	bot_writer_set_async(w->to_child, 1);
	w->from_child = bot_reader_new(out[0], "<command>", (size_t)bot_cfg_int(w->q->cfg, "max-line", 0));
	return 0;
}

static void child_close_stdin(struct work *w)
{
	if (!w->to_child)
		return;
	bot_writer_free(w->to_child);   /* flushes */
	close(w->to_fd);
	w->to_child = NULL;
}

/* The command's exit, as execline passes it on: its code, 128+signal. */
static int child_wait(struct work *w)
{
	int st;
	if (w->child <= 0)
		return BOT_EX_SOFTWARE;
	while (waitpid(w->child, &st, 0) < 0)
		if (errno != EINTR)
			return BOT_EX_SOFTWARE;
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return WEXITSTATUS(st) > 128 ? 128 : WEXITSTATUS(st);
}

/* ---- what is in flight ---- */

static void entry_free(struct entry *e)
{
	natsMsg_Destroy(e->msg);
	free(e->id);
	free(e->type);
}

static void entry_remove(struct work *w, int i)
{
	entry_free(&w->e[i]);
	memmove(&w->e[i], &w->e[i + 1], (size_t)(w->n - i - 1) * sizeof *w->e);
	w->n--;
}

static int entry_by_seq(const struct work *w, uint64_t seq)
{
	for (int i = 0; i < w->n; i++)
		if (w->e[i].seq == seq)
			return i;
	return -1;
}

/* The running input whose id is id; with id NULL, the oldest running one
 * without an id (of type type, when given). */
static int entry_running(const struct work *w, const char *id, const char *type)
{
	for (int i = 0; i < w->n; i++) {
		const struct entry *e = &w->e[i];
		if (e->state != RUNNING)
			continue;
		if (id ? e->id && !strcmp(e->id, id)
		       : !e->id && (!type || !strcmp(e->type, type)))
			return i;
	}
	return -1;
}

/* The command is finished with input i: acknowledge it, and remember it,
 * so that it is only acknowledged if the server gives it again (when the
 * ack was lost on the way). */
static void answer(struct work *w, int i)
{
	struct entry *e = &w->e[i];
	queue_ack(w->q, e->msg);
	queue_seen_add(w->seen, e->key);
	if (e->delivered > 1)
		w->solo = 0;
	entry_remove(w, i);
}

/* An input that came too often, or that is no event: into the
 * dead-letter subject as it came, then acknowledged. */
static void dead_letter(struct work *w, natsMsg *m, uint64_t seq, const char *why)
{
	char msgid[QUEUE_MSGID_MAX], seqs[32];
	const char *id = queue_msg_id(m);
	snprintf(seqs, sizeof seqs, "seq:%llu", (unsigned long long)seq);
	queue_msgid(msgid, sizeof msgid, id ? id : seqs, "/dead");
	bot_warn("%s: message %llu%s%s: %s; moved to %s", w->in_subject, (unsigned long long)seq,
	         id ? " id " : "", id ? id : "", why, w->dead_subject);
	if (queue_publish(w->q, w->dead_subject, natsMsg_GetData(m), natsMsg_GetDataLength(m),
	                  msgid) >= 0)
		queue_ack(w->q, m);
	natsMsg_Destroy(m);
}

/* A message fetched: a repeat of one answered or in flight, one for the
 * dead letters, or a new input (owned from here). */
static void take(struct work *w, natsMsg *m)
{
	uint64_t seq, delivered;
	queue_msg_meta(m, &seq, &delivered);
	uint64_t key = queue_seen_key(queue_msg_id(m), seq);
	int i = entry_by_seq(w, seq);
	if (i >= 0) {   /* given again while we hold it: keep the newer handle */
		natsMsg_Destroy(w->e[i].msg);
		w->e[i].msg = m;
		w->e[i].touched_ms = bot_now_ms();
		return;
	}
	if (queue_seen_has(w->seen, key)) {
		queue_ack(w->q, m);
		natsMsg_Destroy(m);
		return;
	}
	if ((long)delivered > w->q->max_deliveries) {
		char why[64];
		snprintf(why, sizeof why, "delivered %llu times", (unsigned long long)delivered);
		dead_letter(w, m, seq, why);
		return;
	}
	jv ev = queue_msg_event(m);
	if (!jv_is_valid(ev)) {
		char why[256];
		dead_letter(w, m, seq, bot_fail_message(ev, why, sizeof why));
		jv_free(ev);
		return;
	}
	const char *id = bot_str(ev, "id");
	/* careful from a redelivery on, until a fresh input comes alone */
	w->careful = delivered > 1 || (w->careful && w->n > 0);
	w->e[w->n++] = (struct entry){
		.msg = m, .seq = seq, .delivered = delivered, .key = key,
		.id = id ? strdup(id) : NULL, .type = strdup(bot_str(ev, "type")),
		.state = WAITING, .touched_ms = bot_now_ms(),
	};
	jv_free(ev);
}

static int any_running(const struct work *w)
{
	for (int i = 0; i < w->n; i++)
		if (w->e[i].state == RUNNING)
			return 1;
	return 0;
}

/* Hand waiting inputs to the command, oldest first.  One delivered before
 * runs alone: if it is what kills workers, it takes no other input down
 * with it (each of those would count a delivery more). */
static void feed(struct work *w)
{
	for (int i = 0; i < w->n && w->to_child && !w->solo; i++) {
		struct entry *e = &w->e[i];
		if (e->state == RUNNING)
			continue;
		if (e->delivered > 1) {
			if (any_running(w))
				break;   /* when the others are done */
			w->solo = 1;
		}
		bot_write_raw(w->to_child, natsMsg_GetData(e->msg), (size_t)natsMsg_GetDataLength(e->msg));
		e->state = RUNNING;
	}
	if (w->to_child && bot_writer_try_flush(w->to_child) < 0) {
		bot_error("command's stdin: %s", strerror(errno));
		child_close_stdin(w);
	}
}

/* Tell the server the running inputs are still being worked on, well
 * before the ack wait runs out. */
static void keep_alive(struct work *w)
{
	long long now = bot_now_ms();
	for (int i = 0; i < w->n; i++)
		if (now - w->e[i].touched_ms >= w->q->ack_wait_ms / 3) {
			natsMsg_InProgress(w->e[i].msg, NULL);
			w->e[i].touched_ms = now;
		}
}

/* ---- what the command writes ---- */

/* The input an output belongs to: the first of in_reply_to, ref, an
 * error's event.id and its own id that names a running input. */
static int output_owner(const struct work *w, jv ev)
{
	jv inner = bot_get(ev, "event");
	const char *cands[] = { bot_str(ev, "in_reply_to"), bot_str(ev, "ref"),
	                        jv_get_kind(inner) == JV_KIND_OBJECT ? bot_str(inner, "id") : NULL,
	                        bot_str(ev, "id") };
	int owner = -1;
	for (size_t c = 0; c < sizeof cands / sizeof *cands && owner < 0; c++)
		if (cands[c])
			owner = entry_running(w, cands[c], NULL);
	jv_free(inner);
	return owner;
}

/* Under --answered-by sent, the input this output answers: a sent with
 * its ref, an error about it, or the input itself passed on. */
static int answered_by_sent(const struct work *w, jv ev, int owner)
{
	const char *type = bot_str(ev, "type");
	if (owner >= 0) {
		const struct entry *e = &w->e[owner];
		const char *id = bot_str(ev, "id"), *ref = bot_str(ev, "ref");
		int passed = id && !strcmp(id, e->id) && !strcmp(type, e->type) &&
		             !bot_str(ev, "in_reply_to") && !ref;
		if (passed || !strcmp(type, "sent") || !strcmp(type, "error"))
			return owner;
		return -1;
	}
	/* an event without an id, passed on, or refused (an error about
	 * it carries it as "event") */
	if (bot_str(ev, "id") || bot_str(ev, "ref") || bot_str(ev, "in_reply_to"))
		return -1;
	if (strcmp(type, "error"))
		return entry_running(w, NULL, type);
	jv inner = bot_get(ev, "event");
	int i = -1;
	if (jv_get_kind(inner) == JV_KIND_OBJECT && bot_str(inner, "type") && !bot_str(inner, "id"))
		i = entry_running(w, NULL, bot_str(inner, "type"));
	jv_free(inner);
	return i;
}

static void on_output(struct work *w, jv ev, const char *raw, size_t len)
{
	const char *type = bot_str(ev, "type");
	if (w->rule == BY_DONE && !strcmp(type, "done")) {
		const char *ref = bot_str(ev, "ref");
		int i = entry_running(w, ref, NULL);
		if (i >= 0)
			answer(w, i);
		else
			bot_debug("done%s%s: no such input in flight", ref ? " " : "", ref ? ref : "");
		jv_free(ev);
		return;
	}
	int owner = output_owner(w, ev);
	char msgid[QUEUE_MSGID_MAX], part[24];
	const char *id = NULL;
	if (owner >= 0) {
		snprintf(part, sizeof part, "/%d", ++w->e[owner].parts);
		id = queue_msgid(msgid, sizeof msgid, w->e[owner].id, part);
	} else if (bot_str(ev, "id"))
		id = queue_msgid(msgid, sizeof msgid, bot_str(ev, "id"), "/out");
	if (queue_publish(w->q, w->out_subject, raw, (int)len, id) < 0 && !bot_stop)
		w->status = BOT_EX_DATAERR;
	if (w->rule == BY_SENT) {
		int i = answered_by_sent(w, ev, owner);
		if (i >= 0)
			answer(w, i);
	}
	jv_free(ev);
}

/* Read what the command wrote.  0, or -1 at its end of output. */
static int read_child(struct work *w)
{
	if (bot_reader_fill(w->from_child) < 0) {
		bot_error("<command>: %s", strerror(errno));
		return -1;
	}
	jv ev;
	int rc;
	while ((rc = bot_reader_next(w->from_child, &ev)) != 0) {
		if (rc < 0) {   /* logged: the command wrote a bad line */
			jv_free(ev);
			w->status = BOT_EX_DATAERR;
			continue;
		}
		size_t len;
		const char *raw = bot_reader_raw(w->from_child, &len);
		on_output(w, ev, raw, len);
	}
	return bot_reader_eof(w->from_child) ? -1 : 0;
}

/* ---- the loop ---- */

/* SIGTERM: no more inputs; what waits goes back to the server at once,
 * what runs is finished; the command sees the end of its input. */
static void begin_stop(struct work *w)
{
	w->stopping = 1;
	w->stop_by_ms = bot_now_ms() + w->q->ack_wait_ms;
	for (int i = w->n - 1; i >= 0; i--)
		if (w->e[i].state == WAITING) {
			natsMsg_Nak(w->e[i].msg, NULL);
			entry_remove(w, i);
		}
}

/* Careful (at the start, and after taking an input delivered before):
 * one input at a time, none while another is in flight, so that an input
 * that kills its worker takes no other down with it: each would count a
 * delivery more, and could reach the dead letters for nothing. */
static void fetch_more(struct work *w)
{
	int room = (int)w->q->in_flight - w->n;
	if (w->careful)
		room = w->n ? 0 : 1;
	if (w->stopping || room <= 0)
		return;
	natsMsgList list;
	int got = queue_fetch(w->q, w->sub, &list, room, w->n ? 0 : WORK_IDLE_WAIT_MS);
	for (int i = 0; i < got; i++) {
		take(w, list.Msgs[i]);
		list.Msgs[i] = NULL;   /* ours now */
	}
	natsMsgList_Destroy(&list);
}

static int setup(struct work *w)
{
	struct bot_queue *q = w->q;
	const char *rule = bot_cfg_str(q->cfg, "answered-by");
	if (rule && strcmp(rule, "done") && strcmp(rule, "sent")) {
		bot_error("--answered-by: done or sent, not %s", rule);
		return BOT_EX_USAGE;
	}
	w->rule = rule && !strcmp(rule, "sent") ? BY_SENT : BY_DONE;
	w->in_subject = queue_subject(q, "subject", "botpipe.in", 0);
	w->out_subject = queue_subject(q, "reply-subject", "botpipe.out", 0);
	w->dead_subject = queue_subject(q, "dead-letter", "botpipe.dead", 0);
	if (!w->in_subject || !w->out_subject || !w->dead_subject)
		return BOT_EX_USAGE;
	queue_stream_for(q, "subject", w->in_subject, w->in_stream, sizeof w->in_stream);
	queue_stream_for(q, "reply-subject", w->out_subject, w->out_stream, sizeof w->out_stream);
	queue_stream_for(q, "dead-letter", w->dead_subject, w->dead_stream, sizeof w->dead_stream);
	long long window_ms;
	if (queue_ensure_stream(q, w->in_stream, w->in_subject, 1, &window_ms) < 0 ||
	    queue_ensure_stream(q, w->out_stream, w->out_subject, 1, NULL) < 0 ||
	    queue_ensure_stream(q, w->dead_stream, w->dead_subject, 0, NULL) < 0)
		return BOT_EX_UNAVAILABLE;
	if (!(w->sub = queue_pull(q, w->in_stream, w->in_subject)))
		return BOT_EX_UNAVAILABLE;
	w->e = calloc((size_t)q->in_flight, sizeof *w->e);
	if (!w->e)
		abort();
	w->seen = queue_seen_new(window_ms);
	return -1;
}

static void loop(struct work *w)
{
	for (;;) {
		if (bot_stop && !w->stopping)
			begin_stop(w);
		/* what is not answered within an ack wait comes again anyway */
		if (w->stopping && (!w->n || bot_now_ms() >= w->stop_by_ms))
			child_close_stdin(w);
		fetch_more(w);
		feed(w);
		struct pollfd fds[2] = {
			{ .fd = bot_reader_fd(w->from_child), .events = POLLIN },
			{ .fd = -1 },
		};
		if (w->to_child && bot_writer_pending(w->to_child))
			fds[1] = (struct pollfd){ .fd = w->to_fd, .events = POLLOUT };
		/* idle: the fetch waited already; full or stopping: only the
		 * command can move things, yet the keep-alive must not wait */
		int wait = !w->n && !w->stopping ? 0
		           : w->stopping || w->n >= w->q->in_flight ? WORK_FULL_POLL_MS
		           : WORK_BUSY_POLL_MS;
		if (poll(fds, 2, wait) < 0 && errno != EINTR)
			break;
		if (fds[1].revents && bot_writer_try_flush(w->to_child) < 0) {
			bot_error("command's stdin: %s", strerror(errno));
			child_close_stdin(w);
		}
		if (fds[0].revents && read_child(w) < 0)
			break;
		keep_alive(w);
	}
}

int queue_work_run(struct bot_queue *q, jv argv)
{
	struct work w = { .q = q, .status = BOT_EX_OK, .careful = 1 };
	int rc = setup(&w);
	if (rc < 0 && child_start(&w, argv) < 0)
		rc = BOT_EX_SOFTWARE;
	jv_free(argv);
	if (rc < 0) {
		bot_catch_signals();
		loop(&w);
		child_close_stdin(&w);
		int cs = child_wait(&w);
		w.child = 0;
		if (!w.stopping)
			bot_error("the command ended (status %d) with %d input%s unanswered (they come again)",
			          cs, w.n, w.n == 1 ? "" : "s");
		rc = cs ? cs : !w.stopping || w.n ? BOT_EX_SOFTWARE : w.status;
	}
	for (int i = 0; i < w.n; i++)
		entry_free(&w.e[i]);
	free(w.e);
	queue_seen_free(w.seen);
	if (w.sub)
		natsSubscription_Destroy(w.sub);
	child_close_stdin(&w);
	if (w.from_child) {
		close(bot_reader_fd(w.from_child));
		bot_reader_free(w.from_child);
	}
	if (w.child > 0)
		child_wait(&w);
	return rc;
}
