/* sendq.c: the one delivery engine (see sendq.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emoji.h"
#include "failure.h"
#include "ratelimit.h"
#include "render.h"
#include "sendq.h"

enum job_state { JOB_READY, JOB_INFLIGHT, JOB_ENDED };

struct job {
	struct job *next;
	struct bot_sendq *q;
	jv ev;                 /* the input; "to" expanded once expanded */
	jv parts;              /* array of [text, plain] (strings or null); null until built */
	jv ids;                /* every part's id so far */
	jv result;             /* once ended: the answer or a failure */
	int index, count;
	int expanded, native_card;
	enum job_state state;
	long long not_before;  /* bot_now_ms */
	struct bot_retry retry;
	char key_base[160];
	char key[192];
	char rate_key[256];
	struct bot_part part;  /* the one in flight: valid until its done */
	bot_done_fn done;
	void *ctx;
};

struct bot_sendq {
	const struct bot_backend *b;
	void *be;
	struct bot_sendq_opts o;
	const char *markup;
	struct bot_rate *rate;     /* pauses the servers impose, per chat or global */
	struct job *head, **tail;
};

struct bot_sendq *bot_sendq_new(const struct bot_backend *b, void *be,
                                const struct bot_sendq_opts *o)
{
	struct bot_sendq *q = calloc(1, sizeof *q);
	if (!q)
		abort();
	q->b = b;
	q->be = be;
	q->o = *o;
	q->markup = o->markup ? o->markup
	          : BOT_BACKEND_HAS(b, markup_for) && b->markup_for(be) ? b->markup_for(be) : b->markup;
	q->rate = bot_rate_new(0, 0);
	q->tail = &q->head;
	return q;
}

const char *bot_sendq_markup(const struct bot_sendq *q) { return q->markup; }
int bot_sendq_empty(const struct bot_sendq *q) { return q->head == NULL; }

static void job_free(struct job *j)
{
	jv_free(j->ev);
	jv_free(j->parts);
	jv_free(j->ids);
	jv_free(j->result);
	free(j);
}

/* FNV-1a, for the key of an event without an id. */
static unsigned long long fnv1a(const char *s)
{
	unsigned long long h = 0xcbf29ce484222325ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

/* The key base: the event's id (a string or number), else a hash of the
 * event as given (sorted keys), so that a retry, an outbox --flush and a
 * replay give the same keys. */
static void key_base_of(jv ev, char *buf, size_t n)
{
	jv id = bot_get(ev, "id");
	if (jv_get_kind(id) == JV_KIND_STRING && jv_string_length_bytes(jv_copy(id)) < 120) {
		snprintf(buf, n, "%s", jv_string_value(id));
	} else if (jv_get_kind(id) == JV_KIND_NUMBER) {
		snprintf(buf, n, "%.17g", jv_number_value(id));
	} else {
		jv text = jv_dump_string(jv_copy(ev), JV_PRINT_SORTED);
		snprintf(buf, n, "h%016llx", fnv1a(jv_string_value(text)));
		jv_free(text);
	}
	jv_free(id);
}

void bot_sendq_push(struct bot_sendq *q, jv ev, bot_done_fn done, void *ctx)
{
	struct job *j = calloc(1, sizeof *j);
	if (!j)
		abort();
	j->q = q;
	/* a reaction's name as this network names it (a bridge's, a rule's) */
	const char *type = bot_str(ev, "type");
	if (type && !strcmp(type, "reaction") && BOT_BACKEND_HAS(q->b, reaction_names))
		ev = bot_emoji_for(ev, (enum bot_emoji_names)q->b->reaction_names);
	j->ev = ev;
	j->parts = jv_null();
	j->ids = jv_array();
	j->result = jv_null();
	j->done = done;
	j->ctx = ctx;
	key_base_of(ev, j->key_base, sizeof j->key_base);
	bot_retry_init(&j->retry, q->o.retries, q->o.give_up_after);
	*q->tail = j;
	q->tail = &j->next;
}

static void job_end(struct job *j, jv result)
{
	jv_free(j->result);
	j->result = result;
	j->state = JOB_ENDED;
}

/* ---- building the parts ---- */

/* Units one UTF-8 sequence starting with byte c counts for. */
static size_t units_of(unsigned char c, int unit)
{
	if (unit == BOT_UNIT_BYTES)
		return c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
	return unit == BOT_UNIT_UTF16 && c >= 0xf0 ? 2 : 1;
}

/* --raw: the body untouched, only cut to the size limit, at a line break
 * or else a space where there is one, never inside a UTF-8 sequence; the
 * line break or space at a cut is dropped. */
static jv raw_split(const char *p, size_t len, size_t limit, int unit)
{
	jv parts = jv_array();
	while (limit > 0 && len > 0) {
		size_t i = 0, used = 0, nl = 0, sp = 0;
		while (i < len) {
			unsigned char c = (unsigned char)p[i];
			size_t seq = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
			if (used + units_of(c, unit) > limit)
				break;
			used += units_of(c, unit);
			if (c == '\n')
				nl = i;
			else if (c == ' ')
				sp = i;
			i += seq < len - i ? seq : len - i;
		}
		if (i >= len)
			break;
		if (p[i] == '\n' || (p[i] == ' ' && !nl))
			nl = i;     /* the break right after what fits is best */
		size_t cut = nl ? nl : sp ? sp : i;
		if (cut == 0) {
			/* not even one character fits: send that one alone */
			unsigned char c = (unsigned char)p[0];
			cut = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
			cut = cut < len ? cut : len;
		}
		parts = jv_array_append(parts, jv_string_sized(p, (int)cut));
		if (cut == nl || cut == sp)
			cut++;
		p += cut;
		len -= cut;
	}
	return jv_array_append(parts, jv_string_sized(p, (int)len));
}

/* The body of a message with the mention applied (errbot's
 * prefix_groupchat_reply), as a string. */
static jv body_with_mention(struct bot_sendq *q, jv ev)
{
	jv body = bot_get(ev, "body");
	if (jv_get_kind(body) != JV_KIND_STRING) {
		jv_free(body);
		body = jv_string("");
	}
	jv mention = bot_get(ev, "mention");
	if (jv_get_kind(mention) == JV_KIND_NULL || !BOT_BACKEND_HAS(q->b, mention)) {
		jv_free(mention);
		return body;
	}
	mention = bot_expand_ident(q->b, q->be, mention);
	if (!jv_is_valid(mention)) {
		jv_free(mention);
		return body;
	}
	return q->b->mention(q->be, mention, body);
}

/* Each part as [text, plain or null]. */
static jv as_pairs(jv parts)
{
	jv pairs = jv_array();
	jv_array_foreach(parts, i, p) {
		pairs = jv_array_append(pairs, JV_ARRAY(p, jv_null()));
		(void)i;
	}
	jv_free(parts);
	return pairs;
}

/* A message's parts: rendered into the markup, cut to the size limit. */
static jv message_parts(struct bot_sendq *q, jv ev)
{
	jv body = body_with_mention(q, ev);
	jv to = bot_get(ev, "to");
	size_t limit = BOT_BACKEND_HAS(q->b, size_limit) ? q->b->size_limit(q->be, to) : 0;
	jv_free(to);
	const char *md = jv_string_value(body);
	size_t len = (size_t)jv_string_length_bytes(jv_copy(body));
	jv pairs;
	if (q->o.raw) {
		/* a raw body is its own plain text */
		jv cut = raw_split(md, len, limit, q->b->size_unit);
		pairs = jv_array();
		jv_array_foreach(cut, i, p) {
			pairs = jv_array_append(pairs, JV_ARRAY(jv_copy(p),
			                                        q->b->can & BOT_CAN_PLAIN ? p : jv_null()));
			if (!(q->b->can & BOT_CAN_PLAIN))
				jv_free(p);
			(void)i;
		}
		jv_free(cut);
	} else if (q->b->can & BOT_CAN_PLAIN) {
		pairs = bot_split_plain(q->markup, md, len, limit, (enum bot_size_unit)q->b->size_unit);
	} else {
		jv cut = bot_split(q->markup, md, len, limit, (enum bot_size_unit)q->b->size_unit);
		pairs = jv_is_valid(cut) ? as_pairs(cut) : cut;
	}
	jv_free(body);
	return pairs;
}

/* What each type needs of the backend. */
static unsigned can_needed(const char *type, jv ev)
{
	if (!strcmp(type, "reaction"))
		return BOT_CAN_REACTION;
	if (!strcmp(type, "presence"))
		return BOT_CAN_PRESENCE;
	if (!strcmp(type, "stream"))
		return BOT_CAN_STREAM;
	if (!strcmp(type, "delete"))
		return BOT_CAN_DELETE;
	if (!strcmp(type, "room"))
		return BOT_CAN_ROOM;
	if (!strcmp(type, "message") && bot_str(ev, "replaces"))
		return BOT_CAN_EDIT;
	return 0;
}

jv bot_sendq_unsupported(const struct bot_backend *b, jv ev)
{
	const char *type = bot_str(ev, "type");
	unsigned need = type ? can_needed(type, ev) : 0;
	if (!need || (b->can & need))
		return jv_null();
	return bot_fail_code("unsupported", 0, "backend %s cannot deliver %s%s events", b->name,
	                     need == BOT_CAN_EDIT ? "edits of " : "", type);
}

/* Build the job's parts: 0, or -1 when the job ended (a failure). */
static int build_parts(struct job *j)
{
	struct bot_sendq *q = j->q;
	const char *type = bot_str(j->ev, "type");
	jv no = bot_sendq_unsupported(q->b, j->ev);
	if (!jv_is_valid(no)) {
		job_end(j, no);
		return -1;
	}
	jv parts;
	if (!strcmp(type, "message")) {
		parts = message_parts(q, j->ev);
	} else if (!strcmp(type, "card") && (q->b->can & BOT_CAN_CARD) && !j->native_card) {
		j->native_card = 1;
		parts = JV_ARRAY(JV_ARRAY(jv_null(), jv_null()));
	} else if (!strcmp(type, "card")) {
		jv md = bot_card_markdown(j->ev, NULL);
		if (!jv_is_valid(md)) {
			job_end(j, md);
			return -1;
		}
		jv msg = jv_object_set(jv_copy(j->ev), jv_string("body"), md);
		parts = message_parts(q, msg);
		jv_free(msg);
	} else {
		parts = JV_ARRAY(JV_ARRAY(jv_null(), jv_null()));
	}
	if (!jv_is_valid(parts)) {
		job_end(j, parts);
		return -1;
	}
	jv_free(j->parts);
	j->parts = parts;
	j->count = jv_array_length(jv_copy(parts));
	j->index = 0;
	return 0;
}

/* ---- submitting ---- */


/* A failure of the current step: retried after the policy's delay (the
 * server's pause a floor), or the job's end. */
static void job_failed(struct job *j, jv failure)
{
	bot_rate_feed(j->q->rate, j->rate_key, failure, bot_now_ms());
	double delay = bot_retry_next(&j->retry, failure);
	if (delay < 0) {
		if (j->retry.attempts > 1 && bot_fail_temporary(failure)) {
			char prefix[64];
			snprintf(prefix, sizeof prefix, "gave up after %d attempts: ", j->retry.attempts);
			failure = bot_fail_reword(failure, prefix);
		}
		job_end(j, failure);
		return;
	}
	/* Only with -v: a send that succeeds after retries stays silent
	 * (cron mails whatever a job writes to stderr). */
	char why[1024];
	bot_debug("%s; attempt %d of %d in %.1f s", bot_fail_message(failure, why, sizeof why),
	          j->retry.attempts + 1, j->retry.max_attempts, delay);
	jv_free(failure);
	j->state = JOB_READY;
	j->not_before = bot_now_ms() + (long long)(delay * 1000);
}

/* The answer of a whole delivery: sent, or the backend's answer event. */
static jv delivered(struct job *j, jv last)
{
	const char *type = bot_str(j->ev, "type");
	if (!strcmp(type, "room"))
		return last;
	jv_free(last);
	return bot_sent_event_parts(jv_copy(j->ids), bot_get(j->ev, "to"), bot_get(j->ev, "id"));
}

static void part_done(void *ctx, jv result)
{
	struct job *j = ctx;
	if (j->state != JOB_INFLIGHT) {   /* a backend answering twice */
		jv_free(result);
		return;
	}
	if (!jv_is_valid(result)) {
		const char *code = NULL;
		char cbuf[64];
		code = bot_fail_code_of(result, cbuf, sizeof cbuf);
		if (j->native_card && !strcmp(code, "unsupported")) {
			/* a native card the network refused: the template */
			jv_free(result);
			j->state = JOB_READY;
			if (build_parts(j) == 0)
				bot_retry_init(&j->retry, j->q->o.retries, j->q->o.give_up_after);
			return;
		}
		job_failed(j, result);
		return;
	}
	jv id = jv_get_kind(result) == JV_KIND_OBJECT ? bot_get(result, "id") : jv_null();
	j->ids = jv_array_append(j->ids, id);
	j->index++;
	if (j->index >= j->count) {
		job_end(j, delivered(j, result));
		return;
	}
	jv_free(result);
	j->state = JOB_READY;
	bot_retry_init(&j->retry, j->q->o.retries, j->q->o.give_up_after);
}

/* Expand "to" once (bad input is the end; a temporary failure of the
 * look-up is retried). 0 go on, -1 not now. */
static int expand_to(struct job *j)
{
	if (j->expanded)
		return 0;
	jv to = bot_get(j->ev, "to");
	if (jv_get_kind(to) != JV_KIND_NULL) {
		to = bot_expand_ident(j->q->b, j->q->be, to);
		if (!jv_is_valid(to)) {
			if (bot_fail_temporary(to)) {
				j->state = JOB_INFLIGHT;
				job_failed(j, to);
				return -1;
			}
			char why[512];
			bot_fail_message(to, why, sizeof why);
			jv_free(to);
			job_end(j, bot_fail_code("bad_input", 0, "to: %s", why));
			return -1;
		}
		const char *id = bot_ident_id(to);
		snprintf(j->rate_key, sizeof j->rate_key, "%s", id ? id : "");
		j->ev = jv_object_set(j->ev, jv_string("to"), to);
	} else
		jv_free(to);
	j->expanded = 1;
	return 0;
}

/* One step of the head job: expand, build, wait for the rate limiter,
 * submit the next part. */
static void job_step(struct job *j)
{
	struct bot_sendq *q = j->q;
	if (expand_to(j) < 0)
		return;
	if (jv_get_kind(j->parts) == JV_KIND_NULL && build_parts(j) < 0)
		return;
	long long now = bot_now_ms();
	long long wait = bot_rate_wait(q->rate, j->rate_key, now);
	if (wait > 0) {
		j->not_before = now + wait;
		return;
	}
	bot_rate_take(q->rate, j->rate_key, now);
	jv pair = jv_array_get(jv_copy(j->parts), j->index);
	jv text = jv_array_get(jv_copy(pair), 0), plain = jv_array_get(pair, 1);
	snprintf(j->key, sizeof j->key, "%s.%d", j->key_base, j->index);
	j->part = (struct bot_part){
		.size = sizeof j->part,
		.event = j->ev,
		.type = bot_str(j->ev, "type"),
		/* the strings live in j->parts, which is not replaced while in flight */
		.text = jv_get_kind(text) == JV_KIND_STRING ? jv_string_value(text) : NULL,
		.plain = jv_get_kind(plain) == JV_KIND_STRING ? jv_string_value(plain) : NULL,
		.index = j->index,
		.count = j->count,
		.key = j->key,
		.replaces = bot_str(j->ev, "replaces"),
	};
	jv_free(text);
	jv_free(plain);
	j->state = JOB_INFLIGHT;
	jv err = jv_invalid();
	if (q->b->submit(q->be, &j->part, part_done, j, &err) < 0) {
		if (!jv_invalid_has_msg(jv_copy(err)))
			err = bot_fail_code("send_failed", 1, "%s: submit failed", q->b->name);
		job_failed(j, err);
	}
}

void bot_sendq_dispatch(struct bot_sendq *q)
{
	for (;;) {
		struct job *j = q->head;
		if (!j)
			return;
		if (j->state == JOB_ENDED) {
			q->head = j->next;
			if (!q->head)
				q->tail = &q->head;
			jv result = j->result;
			j->result = jv_null();
			bot_done_fn done = j->done;
			void *ctx = j->ctx;
			job_free(j);
			done(ctx, result);
			continue;
		}
		if (j->state == JOB_INFLIGHT || j->not_before > bot_now_ms())
			return;
		job_step(j);
	}
}

void bot_sendq_prepare(struct bot_sendq *q, struct bot_poll *p)
{
	struct job *j = q->head;
	if (!j)
		return;
	if (j->state == JOB_ENDED)
		bot_poll_deadline(p, 0);
	else if (j->state == JOB_READY)
		bot_poll_deadline(p, j->not_before);
}

int bot_sendq_run_until(struct bot_sendq *q, const int *flag, long long deadline_ms)
{
	struct bot_poll p = BOT_POLL_INIT;
	int rc = -1;
	bot_sendq_dispatch(q);
	while (!*flag && !bot_stop) {
		long long now = bot_now_ms();
		if (deadline_ms >= 0 && now >= deadline_ms)
			break;
		bot_poll_reset(&p);
		if (BOT_BACKEND_HAS(q->b, prepare))
			q->b->prepare(q->be, &p);
		bot_sendq_prepare(q, &p);
		/* wake at least once a second to notice bot_stop */
		bot_poll_deadline(&p, now + 1000);
		if (deadline_ms >= 0)
			bot_poll_deadline(&p, deadline_ms);
		bot_poll_wait(&p);
		if (BOT_BACKEND_HAS(q->b, dispatch)) {
			jv err = jv_invalid();
			if (q->b->dispatch(q->be, &p, &err) < 0) {
				char why[512];
				bot_debug("%s: %s", q->b->name, bot_fail_message(err, why, sizeof why));
			}
			jv_free(err);
		}
		bot_sendq_dispatch(q);
	}
	if (*flag)
		rc = 0;
	bot_poll_free(&p);
	return rc;
}

void bot_sendq_finish(struct bot_sendq *q, long long deadline_ms)
{
	if (!BOT_BACKEND_HAS(q->b, idle))
		return;
	int done = q->b->idle(q->be);
	struct bot_poll p = BOT_POLL_INIT;
	while (!done && !bot_stop && bot_now_ms() < deadline_ms) {
		bot_poll_reset(&p);
		if (BOT_BACKEND_HAS(q->b, prepare))
			q->b->prepare(q->be, &p);
		bot_poll_deadline(&p, deadline_ms);
		bot_poll_wait(&p);
		if (BOT_BACKEND_HAS(q->b, dispatch)) {
			jv err = jv_invalid();
			q->b->dispatch(q->be, &p, &err);
			jv_free(err);
		}
		done = q->b->idle(q->be);
	}
	bot_poll_free(&p);
}

void bot_sendq_free(struct bot_sendq *q)
{
	if (!q)
		return;
	while (q->head) {
		struct job *j = q->head;
		q->head = j->next;
		jv result = j->state == JOB_ENDED ? j->result
		          : bot_fail_code("connection_lost", 1, "%s: stopped before delivery", q->b->name);
		if (j->state == JOB_ENDED)
			j->result = jv_null();
		bot_done_fn done = j->done;
		void *ctx = j->ctx;
		job_free(j);
		done(ctx, result);
	}
	bot_rate_free(q->rate);
	free(q);
}
