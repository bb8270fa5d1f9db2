/* send.c: bot-send's engine.  Every event in gives exactly one event out:
 * for a delivery, "sent" (with the backend's id) or "error" (with the
 * original event); a report (any other type) is passed on unchanged.
 * Markdown is rendered into the backend's markup and cut to its size.
 * Each part is retried by the one retry policy (retry.c); with an outbox
 * (outbox.c) an event is stored before it is sent, so that nothing is
 * lost when delivery fails for now or the process dies, and --flush sends
 * what waits. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend.h"
#include "failure.h"
#include "outbox.h"
#include "render.h"
#include "send.h"
#include "sendq.h"
#include "session.h"

/* Instances one bot-send delivers to at most. */
#define SEND_DESTS_MAX 16

/* With several instances, each has a worker: a child bot-send of that
 * instance alone (see run_fanout). */
struct worker {
	pid_t pid;                 /* 0: not started, or ended */
	struct bot_writer *to;     /* the events for it (its standard input) */
	struct bot_reader *from;   /* its answers, one an event */
	struct pend *pend, **pend_end;   /* what it has not answered, oldest first */
};

/* One backend instance bot-send delivers to: its connection, its queue
 * (rate limits, retries, part keys), its session, its outbox order. */
struct dest {
	const struct bot_config *cfg;
	struct bot_config loaded;   /* cfg, when loaded for an event's backend */
	const char *name;           /* the instance, as events name it */
	const struct bot_backend *b;
	void *be;               /* NULL once closed (after a stop signal) */
	struct bot_host host;
	struct bot_sendq *q;
	int queue_rest;         /* an event was queued: queue the rest behind it */
	int flush_blocked;      /* --flush: one failed for now; the rest stay */
	struct bot_session_client *session;   /* a running bot-listen's, or NULL */
	char session_path[4096];              /* where to look for one, or "" */
	struct worker work;
};

struct sender {
	const struct bot_config *cfg;
	struct dest dests[SEND_DESTS_MAX];
	int ndests;
	int route_any;          /* no -b: open the instance each event names */
	struct dest *only;      /* a worker's instance: every event goes there */
	int ordered;            /* run_fanout: each line waits for its place */
	struct slot *slots, **slots_end;   /* the lines not written yet, in order */
	int nslots;
	struct bot_sendq_opts o;
	const char *flush;
	struct bot_writer *w;
	int worst;      /* exit code of the worst failure so far */
	const char *outbox;     /* --outbox DIR, or NULL */
	struct bot_outbox *ob;  /* the open outbox; NULL when none or it failed for now */
	int retries;            /* --retries, for what comes back through the session */
	double give_up_after;
	jv copies;              /* a bridge's copies: key -> network id (see remember_copy) */
	jv copy_order;          /* their keys, oldest first */
};


struct wait_one { int done; jv result; };

static void got_one(void *ctx, jv result)
{
	struct wait_one *w = ctx;
	w->result = result;
	w->done = 1;
}

/* Deliver on our own connection: through the queue, run until it
 * answers.  A stop signal closes the backend (it answers what it holds)
 * and the queue (it answers the rest): nothing is delivered after it. */
static jv deliver_here(struct dest *d, jv ev)
{
	if (!d->be) {
		jv_free(ev);
		return bot_fail_code("connection_lost", 1, "stopped by a signal");
	}
	struct wait_one w = { 0, jv_null() };
	bot_sendq_push(d->q, ev, got_one, &w);
	if (bot_sendq_run_until(d->q, &w.done, -1) < 0 && !w.done) {
		d->b->close(d->be);
		d->be = NULL;
		bot_sendq_free(d->q);
		d->q = NULL;
	}
	return w.result;
}

/* Through the session: its answer, as deliver's result.  An invalid
 * without a code when the session is gone (then act on our own). */
static jv deliver_by_session(struct dest *d, jv ev)
{
	jv ans = bot_session_call(d->session, ev, 150000);   /* look-only */
	jv_free(ev);
	if (!jv_is_valid(ans)) {
		bot_session_disconnect(d->session);
		d->session = NULL;
		jv_free(ans);
		return jv_invalid();
	}
	const char *type = bot_str(ans, "type"), *code = bot_str(ans, "code");
	if (type && !strcmp(type, "error") && code &&
	    (!strcmp(code, "connection_lost") || !strcmp(code, "connect_failed"))) {
		/* bot-listen is reconnecting: deliver on our own, with retries */
		jv_free(ans);
		return jv_invalid();
	}
	if (type && !strcmp(type, "error"))
		return bot_fail_from_event(ans);   /* temporary and retry_after kept */
	return ans;
}

/* Deliver one event (consumed): a sent event, or an invalid saying why. */
static jv deliver(struct sender *s, struct dest *d, jv ev)
{
	/* looked for at each event: bot-listen may start after us */
	if (!d->session && d->session_path[0])
		d->session = bot_session_connect(d->session_path);
	struct bot_retry retry;
	bot_retry_init(&retry, s->retries, s->give_up_after);
	while (d->session) {
		jv r = deliver_by_session(d, jv_copy(ev));
		if (!jv_is_valid(r) && !jv_invalid_has_msg(jv_copy(r))) {
			jv_free(r);
			break;   /* the session went away: on our own */
		}
		/* bot-listen tries once: our policy retries what may pass
		 * (the whole event again; its parts keep their keys) */
		double delay = jv_is_valid(r) ? -1 : bot_retry_next(&retry, r);
		if (delay < 0) {
			jv_free(ev);
			if (!jv_is_valid(r) && retry.attempts > 1 && bot_fail_temporary(r)) {
				char prefix[64];
				snprintf(prefix, sizeof prefix, "gave up after %d attempts: ", retry.attempts);
				r = bot_fail_reword(r, prefix);
			}
			return r;
		}
		char why[1024];
		bot_debug("%s; attempt %d of %d through the session in %.1f s",
		          bot_fail_message(r, why, sizeof why), retry.attempts + 1, retry.max_attempts, delay);
		jv_free(r);
		bot_sleep_ms((long long)(delay * 1000));
		if (bot_stop) {
			jv_free(ev);
			return bot_fail_code("connection_lost", 1, "stopped by a signal");
		}
	}
	return deliver_here(d, ev);
}

static const char *one_shot_to(const struct bot_config *cfg);

/* Look-only: 1 when ev has key (any value but null). */
static int has_field(jv ev, const char *key)
{
	jv v = bot_get(ev, key);
	int has = jv_get_kind(v) != JV_KIND_NULL;
	jv_free(v);
	return has;
}

/* What bot-send does with an event, by its type (bot-send(1), EVENTS):
 * a request for the network is delivered and answered with sent or
 * error; everything else (what bot-listen reported: someone's presence,
 * someone's reaction, a file that came in) is passed on unchanged. */
enum disposition { DELIVER, REPORT };

static enum disposition disposition_of(jv ev)
{
	const char *type = bot_str(ev, "type");
	if (!type)
		return REPORT;
	if (!strcmp(type, "message") || !strcmp(type, "card") || !strcmp(type, "delete"))
		return DELIVER;
	if (!strcmp(type, "reaction"))   /* ours: react() sets no reactor */
		return has_field(ev, "reactor") ? REPORT : DELIVER;
	if (!strcmp(type, "presence"))   /* ours: no identifier, the bot's own */
		return has_field(ev, "identifier") ? REPORT : DELIVER;
	if (!strcmp(type, "stream"))     /* ours: a path to send, no status yet */
		return bot_str(ev, "path") && !bot_str(ev, "status") ? DELIVER : REPORT;
	return REPORT;
}

static const char *const deliverable[] = {
	"message", "card", "reaction", "presence", "stream", "delete", "room", NULL
};

jv bot_send_check(jv ev, const struct bot_backend *b)
{
	const char *type = bot_str(ev, "type");
	/* what the backend cannot do is said first: not a bad event */
	jv no = b ? bot_sendq_unsupported(b, ev) : jv_null();
	if (!jv_is_valid(no)) {
		jv_free(ev);
		return no;
	}
	int ok = 0;
	for (int i = 0; type && deliverable[i]; i++)
		ok |= !strcmp(type, deliverable[i]);
	if (!ok) {
		jv f = bot_fail_code("unsupported", 0, "bot-send delivers message, card, reaction, presence, "
		                     "stream and delete events, not %s", type ? type : "this");
		jv_free(ev);
		return f;
	}
	jv valid = bot_validate(ev);
	if (!jv_is_valid(valid)) {
		char why[512];
		bot_fail_message(valid, why, sizeof why);
		jv_free(valid);
		return bot_fail_code("bad_input", 0, "%s", why);
	}
	return valid;
}

static jv check(struct dest *d, jv ev) { return bot_send_check(ev, d->b); }


/* Write the one answer for ev (consumed): the sent event, or the error
 * event for a failure, which carries ev. */
static struct slot *add_slot(struct sender *s, jv line);

/* Keep the worst exit code so far (a failure's, a worker's). */
static void note_exit(struct sender *s, int ex)
{
	if (ex != BOT_EX_OK && (ex > s->worst || s->worst == BOT_EX_OK))
		s->worst = ex;
}

/* The one answer to ev (consumed): result, or the failure's error event
 * with ev in it (said on standard error, and the exit code kept). */
static jv answer_event(struct sender *s, jv result, jv ev)
{
	if (!jv_is_valid(result)) {
		char why[1024], code[64];
		bot_fail_message(result, why, sizeof why);
		bot_fail_code_of(result, code, sizeof code);
		/* what this backend cannot do is not a failure of the run: a
		 * rule that reacts on every network is not wrong on this one */
		if (!strcmp(code, "unsupported") && !one_shot_to(s->cfg)) {
			bot_debug("%s", why);
		} else {
			note_exit(s, bot_fail_exit(result));
			bot_error("%s: %s", code, why);
		}
		result = bot_fail_event(result, ev);
	} else
		jv_free(ev);
	return result;
}

/* Write the answer to ev (consumed): in its place among the others when
 * several instances answer (run_fanout). */
static void answer(struct sender *s, jv result, jv ev)
{
	result = answer_event(s, result, ev);
	if (s->ordered) {
		add_slot(s, jv_dump_string(result, 0));
		return;
	}
	if (s->worst == BOT_EX_IOERR) {
		jv_free(result);
		return;   /* said once */
	}
	if (bot_write(s->w, result) < 0 || bot_writer_flush(s->w) < 0) {
		bot_error("stdout: %s", strerror(errno));
		s->worst = BOT_EX_IOERR;
	}
}

/* A temporary failure turned into "queued": the event waits in the
 * outbox for bot-send --flush.  Exit 75: not delivered yet. */
static jv queued(const char *dir, jv failure)
{
	char why[1024];
	bot_fail_message(failure, why, sizeof why);
	double ra = bot_fail_retry_after(failure);
	jv_free(failure);
	jv q = bot_fail_code("queued", 1, "%s; kept in the outbox %s for bot-send --flush", why, dir);
	return ra > 0 ? bot_fail_with_retry(q, ra, NULL) : q;
}

/* The outbox, opened (made when missing) at the first event that needs
 * it after one that failed for now (no space, ...); NULL while it fails,
 * with a warning: the event is then sent without it. */
static struct bot_outbox *outbox(struct sender *s)
{
	if (!s->ob) {
		jv err = jv_invalid();
		s->ob = bot_outbox_open(s->outbox, 1, &err);
		if (!s->ob) {
			char why[512];
			bot_warn("%s; sending without it", bot_fail_message(err, why, sizeof why));
			jv_free(err);
		}
	}
	return s->ob;
}

/* Deliver through the outbox: store, send, then remove (or keep). */
static jv deliver_spooled(struct sender *s, struct dest *d, jv ev)
{
	struct bot_outbox_item it;
	struct bot_outbox *ob = outbox(s);
	if (!ob)
		return deliver(s, d, ev);
	if (d->queue_rest) {
		/* Something earlier waits: keep the order, queue behind it. */
		if (bot_outbox_put(ob, ev) < 0)
			return bot_fail_code("send_failed", 1, "outbox %s: %s", s->outbox, strerror(errno));
		return bot_fail_code("queued", 1, "an earlier message waits; kept in the outbox %s for bot-send --flush",
		                     s->outbox);
	}
	if (bot_outbox_hold(ob, jv_copy(ev), &it) < 0) {
		/* Cannot store it (ENOSPC, ...): still try to send it now. */
		bot_warn("outbox %s: %s; sending without it", s->outbox, strerror(errno));
		return deliver(s, d, ev);
	}
	jv r = deliver(s, d, ev);
	if (jv_is_valid(r) || !bot_fail_temporary(r)) {
		if (bot_outbox_done(ob, &it) < 0)
			bot_warn("outbox %s: %s: %s (it may be sent again)", s->outbox, it.entry, strerror(errno));
		return r;
	}
	if (bot_outbox_keep(ob, &it) < 0)
		bot_warn("outbox %s: %s: %s", s->outbox, it.entry, strerror(errno));
	d->queue_rest = 1;
	return queued(s->outbox, r);
}

/* Handle one input event; write its one answer. */
/* 1 when dir (resolved) holds path (resolved). */
static int under(const char *path, const char *dir)
{
	char rd[PATH_MAX];
	if (!realpath(dir, rd))
		return 0;
	size_t n = strlen(rd);
	return !strncmp(path, rd, n) && (path[n] == '/' || (n == 1 && rd[0] == '/'));
}

/* A stream's file must be a regular file under one of --files-from: a
 * plugin (or a line that came from the network) cannot make bot-send
 * upload ~/.ssh/id_rsa.  The event (consumed) with path resolved, or a
 * failure. */
static jv check_file(struct sender *s, jv ev)
{
	const char *type = bot_str(ev, "type"), *path = bot_str(ev, "path");
	if (strcmp(type, "stream"))
		return ev;
	char real[PATH_MAX];
	struct stat st;
	if (!bot_str(ev, "to")) {
		jv_free(ev);
		return bot_fail_code("bad_input", 0, "stream: missing field \"to\"");
	}
	if (!realpath(path, real) || stat(real, &st) < 0 || !S_ISREG(st.st_mode)) {
		jv f = bot_fail_code("bad_input", 0, "stream: path: not a readable file");
		jv_free(ev);
		return f;
	}
	jv dirs = bot_cfg_list(s->cfg, "files-from");
	int ok = 0;
	jv_array_foreach(dirs, i, d) {
		ok |= jv_get_kind(d) == JV_KIND_STRING && under(real, jv_string_value(d));
		jv_free(d);
		(void)i;
	}
	jv_free(dirs);
	if (!ok) {
		jv_free(ev);
		return bot_fail_code("denied", 0, "stream: path: not under a --files-from folder");
	}
	return jv_object_set(ev, jv_string("path"), jv_string(real));
}

static struct dest *dest_for(struct sender *s, jv ev, jv *fail);

/* ---- a bridge's copies (bot.jq's relay) ----
 *
 * A copy bot-send delivered (an event with relayed_from: the source's
 * backend, id and room) is remembered both ways: the source message and
 * the room it went to give the copy's network id ("f" keys), and the copy
 * gives its source ("r" keys).  So an edit of the source (replaces_copy_of)
 * edits the copy in place, and a reaction to a source or to a copy
 * (reacted_to_copy_of) lands on the same message elsewhere.  At most
 * COPIES_MAX, the oldest forgotten first; not kept across runs (an edit
 * of an older message arrives as a new one). */
#define COPIES_MAX 8192

static const char *room_id_of(jv ev)
{
	jv to = bot_get(ev, "to");
	const char *id = jv_get_kind(to) == JV_KIND_STRING ? jv_string_value(to) : bot_str(to, "id");
	jv_free(to);   /* ev keeps the string alive */
	return id;
}

static jv copy_key(char kind, const char *a, const char *b, const char *c, const char *d)
{
	jv k = jv_string_fmt("%c\x1f%s\x1f%s", kind, a, b);
	if (c)
		k = jv_string_append_str(jv_string_append_str(k, "\x1f"), c);
	if (d)
		k = jv_string_append_str(jv_string_append_str(k, "\x1f"), d);
	return k;
}

static void copies_put(struct sender *s, jv key, jv value)
{
	if (jv_get_kind(s->copies) != JV_KIND_OBJECT) {
		s->copies = jv_object();
		s->copy_order = jv_array();
	}
	if (jv_array_length(jv_copy(s->copy_order)) >= COPIES_MAX) {
		jv old = jv_array_get(jv_copy(s->copy_order), 0);
		s->copies = jv_object_delete(s->copies, old);
		s->copy_order = jv_array_slice(s->copy_order, 1, COPIES_MAX);
	}
	s->copy_order = jv_array_append(s->copy_order, jv_copy(key));
	s->copies = jv_object_set(s->copies, key, value);
}

static jv copies_get(struct sender *s, jv key)
{
	if (jv_get_kind(s->copies) != JV_KIND_OBJECT) {
		jv_free(key);
		return jv_null();
	}
	jv v = jv_object_get(jv_copy(s->copies), key);
	return jv_is_valid(v) ? v : jv_null();
}

/* After a delivery: a copy's network id, both ways. */
static void remember_copy(struct sender *s, struct dest *d, jv ev, jv sent)
{
	jv from = bot_get(ev, "relayed_from");
	const char *sb = bot_str(from, "backend"), *sid = bot_str(from, "id"), *sroom = bot_str(from, "room");
	const char *room = room_id_of(ev);
	jv ids = bot_get(sent, "ids");
	jv first = jv_get_kind(ids) == JV_KIND_ARRAY ? jv_array_get(jv_copy(ids), 0) : bot_get(sent, "id");
	if (sb && sid && room && jv_get_kind(first) == JV_KIND_STRING) {
		copies_put(s, copy_key('f', sb, sid, d->name, room), jv_copy(first));
		copies_put(s, copy_key('r', d->name, jv_string_value(first), NULL, NULL),
		           JV_ARRAY(jv_string(sb), jv_string(sid), sroom ? jv_string(sroom) : jv_null()));
	}
	jv_free(first);
	jv_free(ids);
	jv_free(from);
}

/* The network id, on d in room, of the message that is (or whose copy
 * is) backend's message id; null when none is known. */
static jv copy_here(struct sender *s, struct dest *d, const char *room, const char *backend,
                    const char *id)
{
	jv here = copies_get(s, copy_key('f', backend, id, d->name, room));
	if (jv_get_kind(here) != JV_KIND_NULL)
		return here;
	jv src = copies_get(s, copy_key('r', backend, id, NULL, NULL));   /* id is a copy */
	if (jv_get_kind(src) != JV_KIND_ARRAY)
		return src;
	jv sb = jv_array_get(jv_copy(src), 0), sid = jv_array_get(jv_copy(src), 1);
	jv sroom = jv_array_get(src, 2);
	if (!strcmp(jv_string_value(sb), d->name) && jv_get_kind(sroom) == JV_KIND_STRING &&
	    !strcmp(jv_string_value(sroom), room))
		here = jv_copy(sid);   /* the source itself */
	else
		here = copies_get(s, copy_key('f', jv_string_value(sb), jv_string_value(sid), d->name, room));
	jv_free(sb);
	jv_free(sid);
	jv_free(sroom);
	return here;
}

/* An edit or a reaction that names a source message instead of the copy
 * on d: the copy's id put in, the reference taken out.  An edit whose copy
 * is not known (or that d cannot make) becomes a new message; a reaction
 * without one is a failure. */
static jv resolve_copy(struct sender *s, struct dest *d, jv ev)
{
	jv of = bot_get(ev, "replaces_copy_of");
	int reaction = jv_get_kind(of) == JV_KIND_NULL;
	if (reaction) {
		jv_free(of);
		of = bot_get(ev, "reacted_to_copy_of");
	}
	if (jv_get_kind(of) == JV_KIND_NULL) {
		jv_free(of);
		return ev;
	}
	const char *room = room_id_of(ev), *b = bot_str(of, "backend"), *id = bot_str(of, "id");
	jv here = room && b && id ? copy_here(s, d, room, b, id) : jv_null();
	jv_free(of);
	ev = jv_object_delete(ev, jv_string(reaction ? "reacted_to_copy_of" : "replaces_copy_of"));
	if (!reaction) {
		if (jv_get_kind(here) == JV_KIND_STRING && (d->b->can & BOT_CAN_EDIT))
			ev = jv_object_set(ev, jv_string("replaces"), here);
		else
			jv_free(here);
		return ev;
	}
	if (jv_get_kind(here) != JV_KIND_STRING) {
		jv_free(here);
		jv_free(ev);
		return bot_fail_code("unsupported", 0, "reaction: no copy on %s of the message it reacts to",
		                     d->name);
	}
	jv to = bot_get(ev, "to");
	return jv_object_set(ev, jv_string("reacted_to"), JV_OBJECT(jv_string("id"), here, jv_string("to"), to));
}

static void handle(struct sender *s, jv ev)
{
	jv valid = jv_invalid();
	struct dest *d = dest_for(s, ev, &valid);
	if (d)
		valid = resolve_copy(s, d, jv_copy(ev));
	if (jv_is_valid(valid))
		valid = check(d, valid);
	if (jv_is_valid(valid))
		valid = check_file(s, valid);
	if (!jv_is_valid(valid)) {
		answer(s, valid, ev);
		return;
	}
	jv r = s->outbox ? deliver_spooled(s, d, valid) : deliver(s, d, valid);
	if (jv_is_valid(r))
		remember_copy(s, d, ev, r);
	if (jv_is_valid(r) && s->only)   /* one of several: ids are per network */
		r = jv_object_set(r, jv_string("backend"), jv_string(d->name));
	answer(s, r, ev);
}

/* bot-send --flush DIR: deliver what waits, oldest first.  Each entry
 * taken gives one answer; at the first that fails for now, that
 * instance's entries stop (the rest stay, in order; the other instances'
 * go on) and the exit is 75. */
static int run_flush(struct sender *s, struct bot_outbox *ob)
{
	const char *dir = bot_outbox_dir(ob);
	jv list = bot_outbox_list(ob);
	if (!jv_is_valid(list)) {
		char why[512];
		bot_error("outbox %s: %s", dir, bot_fail_message(list, why, sizeof why));
		jv_free(list);
		return BOT_EX_IOERR;
	}
	jv_array_foreach(list, i, entry) {
		struct bot_outbox_item it;
		jv ev = bot_outbox_take(ob, jv_string_value(entry), &it);
		jv_free(entry);
		if (jv_get_kind(ev) == JV_KIND_NULL)
			continue;       /* another process is sending it */
		if (!jv_is_valid(ev)) {
			char why[512];
			bot_fail_message(ev, why, sizeof why);
			answer(s, bot_fail_code("bad_input", 0, "outbox %s: %s", dir, why), ev);
			continue;
		}
		jv valid = jv_invalid();
		struct dest *d = dest_for(s, ev, &valid);
		if (d && d->flush_blocked) {
			jv_free(valid);
			jv_free(ev);
			bot_outbox_release(&it);   /* behind one that waits: stays, in order */
			continue;
		}
		if (d)
			valid = check(d, jv_copy(ev));
		if (jv_is_valid(valid))
			valid = check_file(s, valid);
		jv r = jv_is_valid(valid) ? deliver(s, d, valid) : valid;
		int keep = !jv_is_valid(r) && bot_fail_temporary(r);
		if (keep) {
			bot_outbox_release(&it);
			r = bot_fail_reword(r, "still in the outbox: ");
			if (d)
				d->flush_blocked = 1;
		} else if (bot_outbox_done(ob, &it) < 0)
			bot_warn("outbox %s: %s: %s (it may be sent again)", dir, it.entry, strerror(errno));
		answer(s, r, ev);
		if (s->worst == BOT_EX_IOERR)
			break;
	}
	jv_free(list);
	return s->worst;
}

/* Open the outbox of --flush (which must exist) or --outbox (made when
 * missing) before anything is read or sent: one it must not trust, or
 * cannot be, stops bot-send.  One that fails for now (no space) is tried
 * again at each event.  -1 with the exit code in *code when it stops. */
static int open_outbox(struct sender *s, const char *flush, int *code)
{
	const char *dir = flush ? flush : s->outbox;
	if (!dir)
		return 0;
	jv err = jv_invalid();
	s->ob = bot_outbox_open(dir, !flush, &err);
	if (s->ob || (!flush && bot_fail_temporary(err))) {
		jv_free(err);
		return 0;
	}
	char why[512];
	bot_error("%s", bot_fail_message(err, why, sizeof why));
	*code = bot_fail_exit(err);
	jv_free(err);
	return -1;
}

/* Standard input of a one-shot send as events: each non-blank line a JSON
 * object whose type bot-send delivers (a card from bot-card, a message),
 * each given the destination to.  null when any line is not one: then
 * the input (consumed) is text. */
static jv stdin_events(jv text, const char *to)
{
	const char *p = jv_string_value(text);
	const char *end = p + jv_string_length_bytes(jv_copy(text));
	jv evs = jv_array();
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		if (strspn(p, " \t\r") < (size_t)(eol - p)) {
			jv ev = jv_parse_sized(p, (int)(eol - p));
			const char *type = jv_get_kind(ev) == JV_KIND_OBJECT ? bot_str(ev, "type") : NULL;
			if (!type || disposition_of(ev) != DELIVER) {
				jv_free(ev);
				jv_free(evs);
				evs = jv_null();
				break;
			}
			evs = jv_array_append(evs, jv_object_set(ev, jv_string("to"), jv_string(to)));
		}
		p = eol + 1;
	}
	jv_free(text);
	if (jv_get_kind(evs) == JV_KIND_ARRAY && jv_array_length(jv_copy(evs)) == 0) {
		jv_free(evs);
		return jv_null();
	}
	return evs;
}

/* A one-shot send to to: the operands as text; or standard input, as
 * events when it is event lines (stdin_events), else as text. */
static void run_one_shot(struct sender *s, const char *to)
{
	int operands = jv_array_length(jv_copy(s->cfg->operands)) > 0;
	int code = bot_cfg_flag(s->cfg, "code");
	jv text = bot_operand_text(s->cfg, STDIN_FILENO);
	jv evs = operands || code ? jv_null() : stdin_events(jv_copy(text), to);
	if (jv_get_kind(evs) == JV_KIND_ARRAY) {
		jv_free(text);
		jv_array_foreach(evs, i, ev) {
			if (s->worst == BOT_EX_IOERR)
				jv_free(ev);
			else
				handle(s, ev);
		}
		jv_free(evs);
		return;
	}
	jv_free(evs);
	if (code) {
		jv fenced = jv_string("```\n");
		fenced = jv_string_concat(fenced, text);
		text = jv_string_append_str(fenced, "\n```");
	}
	jv ev = bot_message(jv_null(), jv_string(to), "");
	handle(s, jv_object_set(ev, jv_string("body"), text));
}

/* Where a one-shot send goes: --to; else, for text given as arguments,
 * BOT_REPLY_TO (set by bot-dispatch for a command: who asked); else NULL. */
static const char *one_shot_to(const struct bot_config *cfg)
{
	const char *to = bot_cfg_str(cfg, "to");
	const char *reply_to = getenv("BOT_REPLY_TO");
	if (!to && reply_to && *reply_to && jv_array_length(jv_copy(cfg->operands)))
		to = reply_to;
	return to;
}

static size_t answer_line_max(const struct sender *s);

static int run_filter(struct sender *s)
{
	/* a worker's lines were measured by the parent; a resolved copy or a
	 * dump may make one longer */
	size_t max = s->only ? answer_line_max(s) : (size_t)bot_cfg_int(s->cfg, "max-line", 0);
	struct bot_reader *r = bot_reader_new(STDIN_FILENO, "<stdin>", max);
	jv ev;
	int rc;
	while ((rc = bot_read_event(r, &ev)) != 0 && s->worst != BOT_EX_IOERR) {
		if (rc == -2) {
			bot_error("<stdin>: %s", strerror(errno));
			s->worst = BOT_EX_IOERR;
			break;
		}
		if (rc < 0) {
			if (s->worst == BOT_EX_OK)
				s->worst = BOT_EX_DATAERR;
			if (bot_write(s->w, ev) < 0 || bot_writer_flush(s->w) < 0)
				s->worst = BOT_EX_IOERR;
			continue;
		}
		if (disposition_of(ev) == DELIVER) {
			handle(s, ev);
		} else {
			/* a report: the line as it came, byte for byte */
			size_t len;
			const char *line = bot_reader_raw(r, &len);
			jv_free(ev);
			if (bot_write_raw(s->w, line, len) < 0 || bot_writer_flush(s->w) < 0) {
				bot_error("stdout: %s", strerror(errno));
				s->worst = BOT_EX_IOERR;
			}
		}
	}
	bot_reader_free(r);
	return s->worst;
}

/* A number of seconds from an option: >= 0, or -1 when it is not one. */
static double seconds(const char *text)
{
	char *end;
	double d = strtod(text, &end);
	return end != text && !*end && d >= 0 && d < 1e9 ? d : -1;
}

static int parse_retry_options(struct sender *s, const struct bot_config *cfg,
                               struct bot_sendq_opts *o)
{
	o->retries = s->retries = (int)bot_cfg_int(cfg, "retries", 4);
	const char *g = bot_cfg_str(cfg, "give-up-after");
	o->give_up_after = s->give_up_after = g ? seconds(g) : 0;
	if (o->retries < 0 || o->give_up_after < 0) {
		bot_error("--retries wants a count and --give-up-after seconds, both >= 0");
		return -1;
	}
	const char *t = bot_cfg_str(cfg, "timeout");
	if (t && seconds(t) <= 0) {
		bot_error("--timeout wants seconds > 0");
		return -1;
	}
	o->raw = bot_cfg_flag(cfg, "raw");
	o->markup = bot_cfg_str(cfg, "markup");
	s->outbox = bot_cfg_str(cfg, "outbox");
	if (s->outbox && !*s->outbox)
		s->outbox = NULL;
	return 0;
}

/* ---- the instances ---- */

/* One instance's backend, queue and session path.  0, or the exit code
 * with *err. */
static int open_dest(struct sender *s, struct dest *d, const struct bot_config *cfg, jv *err)
{
	d->cfg = cfg;
	d->name = cfg->instance;
	d->b = cfg->backend;
	if (!BOT_BACKEND_HAS(d->b, submit)) {
		*err = bot_fail_code("usage", 0, "backend %s cannot send", d->b->name);
		return BOT_EX_USAGE;
	}
	bot_host_init(&d->host, cfg);
	d->be = d->b->open(cfg, &d->host, err);
	if (!d->be) {
		char why[1024];
		bot_fail_message(*err, why, sizeof why);
		jv_free(*err);
		*err = bot_fail_code("bad_config", 0, "%s: %s", d->name, why);
		return BOT_EX_CONFIG;
	}
	d->q = bot_sendq_new(d->b, d->be, &s->o);
	if (!bot_markup_known(bot_sendq_markup(d->q))) {
		*err = bot_fail_code("bad_config", 0, "backend %s: unknown markup %s", d->b->name,
		                     bot_sendq_markup(d->q));
		return BOT_EX_SOFTWARE;
	}
	if (s->flush || bot_session_path(cfg, d->session_path, sizeof d->session_path) < 0)
		d->session_path[0] = 0;
	return 0;
}

/* A lazy connection ends gracefully (IRC's QUIT), then everything goes. */
#define SEND_FINISH_MS 5000

static void close_dest(struct dest *d)
{
	if (d->q && d->be)
		bot_sendq_finish(d->q, bot_now_ms() + SEND_FINISH_MS);
	if (d->be)
		d->b->close(d->be);
	d->be = NULL;
	bot_sendq_free(d->q);
	d->q = NULL;
	bot_host_free(&d->host);
	bot_session_disconnect(d->session);
	d->session = NULL;
	if (d->cfg == &d->loaded)
		bot_config_free(&d->loaded);
}

/* The instance an event goes to: with one -b, that one, whatever the
 * event says; else the one its backend names (the first when it names
 * none).  Without -b, an instance not open yet is opened for it.  NULL
 * with *fail when there is none. */
static struct dest *dest_for(struct sender *s, jv ev, jv *fail)
{
	const char *want = bot_str(ev, "backend");
	if (s->only)
		return s->only;
	if (!want || (s->ndests == 1 && !s->route_any))
		return &s->dests[0];
	for (int i = 0; i < s->ndests; i++)
		if (!strcmp(s->dests[i].name, want))
			return &s->dests[i];
	if (!s->route_any) {
		*fail = bot_fail_code("unknown_instance", 0, "backend %s: not one of this bot-send's -b", want);
		return NULL;
	}
	if (s->ndests == SEND_DESTS_MAX) {
		*fail = bot_fail_code("unknown_instance", 0, "backend %s: already %d instances open",
		                      want, SEND_DESTS_MAX);
		return NULL;
	}
	struct dest *d = &s->dests[s->ndests];
	memset(d, 0, sizeof *d);
	jv err = jv_invalid();
	if (bot_config_instance(s->cfg, want, &d->loaded, &err) < 0) {
		char why[1024];
		bot_fail_message(err, why, sizeof why);
		jv_free(err);
		*fail = bot_fail_code("bad_config", 0, "%s", why);
		return NULL;
	}
	if (open_dest(s, d, &d->loaded, &err) != 0) {
		*fail = err;
		close_dest(d);
		return NULL;
	}
	s->ndests++;
	return d;
}

/* Every instance named (or the default), opened.  0, or -1 with the exit
 * code in *code (said why). */
static int open_dests(struct sender *s, int *code)
{
	const struct bot_config *cfg = s->cfg;
	const char *spath = bot_cfg_str(cfg, "session");
	if (cfg->nmore && spath && strcmp(spath, "none")) {
		bot_error("--session %s: one socket for %d instances; leave it unset (each has its own) or none",
		          spath, cfg->nmore + 1);
		*code = BOT_EX_USAGE;
		return -1;
	}
	if (s->o.markup && !bot_markup_known(s->o.markup)) {
		bot_error("--markup %s: unknown markup", s->o.markup);
		*code = BOT_EX_USAGE;
		return -1;
	}
	s->route_any = cfg->backends_named == 0;
	for (int i = 0; i <= cfg->nmore; i++) {
		jv err = jv_invalid();
		struct dest *d = &s->dests[s->ndests++];
		*code = open_dest(s, d, i ? &cfg->more[i - 1] : cfg, &err);
		if (*code) {
			char why[1024];
			bot_error("%s", bot_fail_message(err, why, sizeof why));
			jv_free(err);
			return -1;
		}
	}
	return 0;
}

static void close_dests(struct sender *s)
{
	for (int i = 0; i < s->ndests; i++)
		close_dest(&s->dests[i]);
}

/* ---- several instances at once ----
 *
 * A filter over several instances (or none named) gives each instance a
 * worker: this process forked, delivering to that instance alone, its
 * events fed over a pipe.  So a network that waits out a rate limit, or
 * retries a send, holds up the delivery of only its own events.  Here the
 * events are routed, those that cannot go are answered, reports are
 * passed on, and the bridge's copies are kept: an edit or a reaction that
 * names a copy waits until every worker has answered what came before it,
 * so that the copy is known.  The output keeps the input's order: each
 * line has its place (struct slot), and a worker's answer fills its own. */

/* Bytes waiting for one worker, and lines waiting for an earlier answer,
 * before standard input waits too. */
#define WORKER_QUEUED_MAX (4u << 20)
#define SLOTS_MAX 10000

struct slot {
	struct slot *next;
	jv line;   /* a string to write; null while its worker has not answered */
};

/* An event a worker has not answered yet, and the place of its answer. */
struct pend {
	struct pend *next;
	jv ev;
	struct slot *slot;
};

/* An answer holds the event it answers: twice the longest line and some. */
static size_t answer_line_max(const struct sender *s)
{
	long n = bot_cfg_int(s->cfg, "max-line", 0);
	return 2 * (n > 0 ? (size_t)n : BOT_LINE_MAX_DEFAULT) + 65536;
}

/* Write the lines whose turn has come, in one write when they can. */
static void write_slots(struct sender *s)
{
	int wrote = 0;
	while (s->slots && jv_get_kind(s->slots->line) == JV_KIND_STRING) {
		struct slot *o = s->slots;
		if (s->worst != BOT_EX_IOERR && bot_write_raw(s->w, jv_string_value(o->line),
		                                              (size_t)jv_string_length_bytes(jv_copy(o->line))) < 0)
			wrote = -1;
		else
			wrote = wrote ? wrote : 1;
		s->slots = o->next;
		if (!s->slots)
			s->slots_end = &s->slots;
		s->nslots--;
		jv_free(o->line);
		free(o);
	}
	if (s->worst != BOT_EX_IOERR && wrote && (wrote < 0 || bot_writer_flush(s->w) < 0)) {
		bot_error("stdout: %s", strerror(errno));   /* said once */
		s->worst = BOT_EX_IOERR;
	}
}

/* A place in the output; line (consumed) a string, or null to fill later. */
static struct slot *add_slot(struct sender *s, jv line)
{
	struct slot *o = calloc(1, sizeof *o);
	if (!o)
		abort();
	o->line = line;
	*s->slots_end = o;
	s->slots_end = &o->next;
	s->nslots++;
	write_slots(s);
	return o;
}

/* The worker's side, in the child: what comes on in goes to d alone, the
 * answers on out; then the process ends with run_filter's code. */
static void run_worker(struct sender *s, struct dest *d, int in, int out)
{
	for (int i = 0; i < s->ndests; i++) {   /* the other instances are not ours */
		struct dest *o = &s->dests[i];
		if (o->work.pid) {
			close(bot_reader_fd(o->work.from));
			if (o->work.to)
				close(bot_writer_fd(o->work.to));
		}
		if (o != d && o->be) {   /* (its files: a reader must see their end) */
			o->b->close(o->be);
			o->be = NULL;
		}
	}
	if (dup2(in, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0)
		_exit(BOT_EX_SOFTWARE);
	close(in);
	close(out);
	s->only = d;
	s->ordered = 0;
	s->worst = BOT_EX_OK;
	s->w = bot_writer_new(STDOUT_FILENO);
	int code = run_filter(s);
	bot_writer_free(s->w);
	close_dest(d);
	bot_outbox_close(s->ob);
	_exit(code);
}

static int start_worker(struct sender *s, struct dest *d)
{
	int to[2], from[2];
	if (pipe2(to, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(from, O_CLOEXEC) < 0) {
		close(to[0]);
		close(to[1]);
		return -1;
	}
	pid_t pid = fork();
	if (pid == 0) {
		close(to[1]);
		close(from[0]);
		run_worker(s, d, to[0], from[1]);
	}
	close(to[0]);
	close(from[1]);
	if (pid < 0) {
		close(to[1]);
		close(from[0]);
		return -1;
	}
	fcntl(to[1], F_SETFL, O_NONBLOCK);
	fcntl(from[0], F_SETFL, O_NONBLOCK);
	struct worker *w = &d->work;
	w->pid = pid;
	w->to = bot_writer_new(to[1]);
	bot_writer_set_async(w->to, 1);
	w->from = bot_reader_new(from[0], d->name, answer_line_max(s));
	w->pend_end = &w->pend;
	return 0;
}

static int names_a_copy(jv ev)
{
	return has_field(ev, "replaces_copy_of") || has_field(ev, "reacted_to_copy_of");
}

/* The oldest event the worker has not answered (its pend, taken off). */
static struct pend *next_pend(struct worker *w)
{
	struct pend *p = w->pend;
	if (p && !(w->pend = p->next))
		w->pend_end = &w->pend;
	return p;
}

/* Each complete answer the worker wrote, into its place; a sent copy is
 * remembered. */
static void take_answers(struct sender *s, struct dest *d)
{
	struct worker *w = &d->work;
	for (;;) {
		if (bot_reader_partial(w->from))
			break;   /* a worker cut short mid-line: end_worker answers for it */
		/* only a copy's answer is read: the rest pass as they came */
		struct pend *p = w->pend;
		jv ans = jv_null();
		int copy = p && (has_field(p->ev, "relayed_from") || names_a_copy(p->ev));
		int rc = bot_reader_next(w->from, copy ? &ans : NULL);
		if (rc == 0)
			break;
		p = next_pend(w);
		const char *type = copy && rc > 0 ? bot_str(ans, "type") : NULL;
		if (type && !strcmp(type, "sent"))
			remember_copy(s, d, p->ev, ans);
		size_t len;
		const char *raw = bot_reader_raw(w->from, &len);
		jv line;
		if (type && !strcmp(type, "error") && names_a_copy(p->ev)) {
			/* the event as it came, not as it was resolved for the worker */
			line = jv_dump_string(jv_object_set(ans, jv_string("event"), jv_copy(p->ev)), 0);
		} else {
			if (rc > 0)
				line = jv_string_sized(raw, (int)len);
			else if (copy)
				line = jv_dump_string(jv_copy(ans), 0);   /* the reader's bad_input */
			else
				line = jv_dump_string(answer_event(s, bot_fail_code("send_failed", 1,
				        "%s: its sender's answer was too long to read", d->name),
				        p ? jv_copy(p->ev) : jv_null()), 0);
			jv_free(ans);
		}
		if (p) {
			p->slot->line = line;
			jv_free(p->ev);
			free(p);
		} else
			add_slot(s, line);   /* (an answer to nothing: it cannot be, but it is not lost) */
	}
	write_slots(s);
}

/* The worker is gone: its exit code counts, and each event it did not
 * answer is answered here, the event kept in the error (unless stdout
 * failed: nothing more can be said). */
static void end_worker(struct sender *s, struct dest *d)
{
	struct worker *w = &d->work;
	take_answers(s, d);
	int status = 0;
	while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR)
		;
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : BOT_EX_SOFTWARE;
	note_exit(s, code);
	for (struct pend *p; (p = next_pend(w));) {
		if (s->worst == BOT_EX_IOERR) {
			jv_free(p->ev);
			free(p);
			continue;
		}
		jv why = bot_fail_code("send_failed", 1, "%s: its sender ended (exit %d) before it answered",
		                       d->name, WIFEXITED(status) ? code : 128 + WTERMSIG(status));
		p->slot->line = jv_dump_string(answer_event(s, why, p->ev), 0);
		free(p);
	}
	if (w->to) {
		close(bot_writer_fd(w->to));
		bot_writer_free(w->to);
	}
	if (s->worst != BOT_EX_IOERR)   /* (stop_workers closed it) */
		close(bot_reader_fd(w->from));
	bot_reader_free(w->from);
	memset(w, 0, sizeof *w);
	write_slots(s);
}

/* Give ev (consumed) to its instance's worker, started when it has none,
 * or answer it here when it cannot go.  raw: the line as it came, which
 * goes as it is unless a copy was resolved into it (NULL: dump ev). */
static void route(struct sender *s, jv ev, const char *raw, size_t rawlen)
{
	jv valid = jv_invalid();
	struct dest *d = dest_for(s, ev, &valid);
	int names_copy = names_a_copy(ev);
	if (d)
		valid = resolve_copy(s, d, jv_copy(ev));
	if (jv_is_valid(valid) && !d->work.pid && start_worker(s, d) < 0) {
		jv_free(valid);
		valid = bot_fail_code("send_failed", 1, "%s: cannot start its sender: %s", d->name, strerror(errno));
	}
	if (!jv_is_valid(valid)) {
		answer(s, valid, ev);
		return;
	}
	struct pend *p = calloc(1, sizeof *p);
	if (!p)
		abort();
	p->ev = ev;
	p->slot = add_slot(s, jv_null());
	*d->work.pend_end = p;
	d->work.pend_end = &p->next;
	/* a worker that died is seen at its end of file */
	if (raw && !names_copy) {
		jv_free(valid);
		bot_write_raw(d->work.to, raw, rawlen);
	} else
		bot_write(d->work.to, valid);
}

static int all_answered(const struct sender *s)
{
	for (int i = 0; i < s->ndests; i++)
		if (s->dests[i].work.pend)
			return 0;
	return 1;
}

/* Too much waits: read no more input for now. */
static int too_much_waits(const struct sender *s)
{
	if (s->nslots >= SLOTS_MAX)
		return 1;
	for (int i = 0; i < s->ndests; i++)
		if (s->dests[i].work.to && bot_writer_queued(s->dests[i].work.to) > WORKER_QUEUED_MAX)
			return 1;
	return 0;
}

/* One line of input: a bad one reported, a report passed on, a delivery
 * routed; one that names a copy returned, to wait (else null). */
static jv take_line(struct sender *s, struct bot_reader *in, int rc, jv ev)
{
	if (rc < 0) {
		if (s->worst == BOT_EX_OK)
			s->worst = BOT_EX_DATAERR;
		add_slot(s, jv_dump_string(ev, 0));
		return jv_null();
	}
	if (disposition_of(ev) == DELIVER) {
		if (!all_answered(s) && names_a_copy(ev))
			return ev;
		size_t len;
		const char *raw = bot_reader_raw(in, &len);
		route(s, ev, raw, len);
		return jv_null();
	}
	size_t len;
	const char *raw = bot_reader_raw(in, &len);
	add_slot(s, jv_string_sized(raw, (int)len));   /* a report, byte for byte */
	jv_free(ev);
	return jv_null();
}

/* What can be done without waiting: the waiting event once it may go,
 * then the lines buffered, until one must wait or too much waits. */
static void take_input(struct sender *s, struct bot_reader *in, jv *waiting)
{
	if (jv_get_kind(*waiting) != JV_KIND_NULL) {
		if (!all_answered(s))
			return;
		route(s, *waiting, NULL, 0);
		*waiting = jv_null();
	}
	jv ev;
	int rc;
	while (s->worst != BOT_EX_IOERR && !too_much_waits(s) && (rc = bot_reader_next(in, &ev)) != 0) {
		*waiting = take_line(s, in, rc, ev);
		if (jv_get_kind(*waiting) != JV_KIND_NULL)
			return;
	}
}

/* At the end of input: a worker whose events are all written gets its end
 * of file (it answers the rest and exits). */
static void close_inputs(struct sender *s)
{
	for (int i = 0; i < s->ndests; i++) {
		struct worker *w = &s->dests[i].work;
		if (w->to && bot_writer_queued(w->to) == 0) {
			close(bot_writer_fd(w->to));
			bot_writer_free(w->to);
			w->to = NULL;
		}
	}
}

static void want_fds(struct sender *s, struct bot_poll *p, struct bot_reader *in, jv waiting,
                     int in_failed)
{
	if (!in_failed && !bot_reader_eof(in) && jv_get_kind(waiting) == JV_KIND_NULL && !too_much_waits(s))
		bot_poll_want(p, STDIN_FILENO, POLLIN);
	for (int i = 0; i < s->ndests; i++) {
		struct worker *w = &s->dests[i].work;
		if (!w->pid)
			continue;
		bot_poll_want(p, bot_reader_fd(w->from), POLLIN);
		if (w->to && bot_writer_queued(w->to))
			bot_poll_want(p, bot_writer_fd(w->to), POLLOUT);
	}
}

static int workers_left(const struct sender *s)
{
	for (int i = 0; i < s->ndests; i++)
		if (s->dests[i].work.pid)
			return 1;
	return 0;
}

/* After a wait: flush to the workers, read their answers, read input. */
static void turn_fds(struct sender *s, struct bot_poll *p, struct bot_reader *in, int *in_failed)
{
	for (int i = 0; i < s->ndests; i++) {
		struct dest *d = &s->dests[i];
		if (!d->work.pid)
			continue;
		if (d->work.to && (bot_poll_revents(p, bot_writer_fd(d->work.to)) & (POLLOUT | POLLERR)))
			bot_writer_try_flush(d->work.to);
		if (bot_poll_revents(p, bot_reader_fd(d->work.from))) {
			int rc = bot_reader_fill(d->work.from);
			take_answers(s, d);
			if (rc <= 0)
				end_worker(s, d);
		}
	}
	if (bot_poll_revents(p, STDIN_FILENO) && !*in_failed && bot_reader_fill(in) < 0) {
		/* an end of input: what was read is still delivered and answered */
		bot_error("<stdin>: %s", strerror(errno));
		*in_failed = 1;
	}
}

/* After stdout failed: the workers stop (what they hold is not sent).
 * Their pipes are closed first, so that none waits on us; SIGKILL, since
 * a SIGTERM ignored by whoever started us is ignored by them too. */
static void stop_workers(struct sender *s)
{
	for (int i = 0; i < s->ndests; i++) {
		struct worker *w = &s->dests[i].work;
		if (!w->pid)
			continue;
		if (w->to) {
			close(bot_writer_fd(w->to));
			bot_writer_free(w->to);
			w->to = NULL;
		}
		close(bot_reader_fd(w->from));
		kill(w->pid, SIGKILL);
		end_worker(s, &s->dests[i]);
	}
	while (s->slots) {
		struct slot *o = s->slots;
		s->slots = o->next;
		jv_free(o->line);
		free(o);
	}
	s->slots_end = &s->slots;
	s->nslots = 0;
}

static int run_fanout(struct sender *s)
{
	struct bot_reader *in = bot_reader_new(STDIN_FILENO, "<stdin>",
	                                       (size_t)bot_cfg_int(s->cfg, "max-line", 0));
	struct bot_poll p = BOT_POLL_INIT;
	jv waiting = jv_null();
	int in_failed = 0;
	s->ordered = 1;
	s->slots_end = &s->slots;
	for (;;) {
		take_input(s, in, &waiting);
		if (s->worst == BOT_EX_IOERR)
			break;   /* stdout */
		int done = (bot_reader_eof(in) || in_failed) && jv_get_kind(waiting) == JV_KIND_NULL;
		if (done)
			close_inputs(s);
		if (done && !workers_left(s))
			break;
		bot_poll_reset(&p);
		want_fds(s, &p, in, waiting, in_failed);
		if (bot_poll_wait(&p) < 0 && errno != EINTR) {
			bot_error("poll: %s", strerror(errno));
			s->worst = BOT_EX_SOFTWARE;
			break;
		}
		turn_fds(s, &p, in, &in_failed);
	}
	stop_workers(s);   /* none left, but after a failure here */
	jv_free(waiting);
	bot_poll_free(&p);
	bot_reader_free(in);
	if (in_failed)
		note_exit(s, BOT_EX_IOERR);
	return s->worst;
}

static int run(struct sender *s)
{
	s->w = bot_writer_new(STDOUT_FILENO);
	const char *to = one_shot_to(s->cfg);
	int code;
	if (s->flush) {
		code = run_flush(s, s->ob);
	} else if (to) {
		run_one_shot(s, to);
		code = s->worst;
	} else if (jv_array_length(jv_copy(s->cfg->operands))) {
		bot_error("text to send needs --to (or give events on standard input)");
		code = BOT_EX_USAGE;
	} else if (s->ndests > 1 || s->route_any)
		code = run_fanout(s);
	else
		code = run_filter(s);
	bot_writer_free(s->w);
	return code;
}

static int send_run(struct sender *s, const struct bot_config *cfg)
{
	const char *flush = bot_cfg_str(cfg, "flush");
	if (parse_retry_options(s, cfg, &s->o) < 0)
		return BOT_EX_USAGE;
	if (flush && (one_shot_to(cfg) || jv_array_length(jv_copy(cfg->operands)))) {
		bot_error("--flush delivers what waits in the outbox: it takes no --to and no text");
		return BOT_EX_USAGE;
	}
	s->flush = flush;
	int code = BOT_EX_OK;
	if (open_outbox(s, flush, &code) < 0)
		return code;
	if (open_dests(s, &code) == 0)
		code = run(s);
	close_dests(s);
	bot_outbox_close(s->ob);
	return code;
}

int bot_send_run(const struct bot_config *cfg)
{
	/* calloc, not the stack: dests[] is 70 kB, which zeroing a stack frame
	 * would make resident whole (a one-shot send's peak RSS) */
	struct sender *s = calloc(1, sizeof *s);
	if (!s)
		abort();
	s->cfg = cfg;
	s->copies = jv_null();
	s->copy_order = jv_null();
	int code = send_run(s, cfg);
	jv_free(s->copies);
	jv_free(s->copy_order);
	free(s);
	return code;
}
