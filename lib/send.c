/* send.c: bot-send's engine.  Every event in gives exactly one event out:
 * for a delivery, "sent" (with the backend's id) or "error" (with the
 * original event); a report (any other type) is passed on unchanged.
 * Markdown is rendered into the backend's markup and cut to its size.
 * Each part is retried by the one retry policy (retry.c); with an outbox
 * (outbox.c) an event is stored before it is sent, so that nothing is
 * lost when delivery fails for now or the process dies, and --flush sends
 * what waits. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bot.h"
#include "failure.h"
#include "outbox.h"
#include "render.h"
#include "send.h"
#include "session.h"

struct sender {
	const struct bot_config *cfg;
	const struct bot_backend *b;
	void *be;
	struct bot_writer *w;
	int raw;
	const char *markup;
	int worst;      /* exit code of the worst failure so far */
	int retries;            /* --retries */
	double give_up_after;   /* --give-up-after, seconds; 0 = no limit */
	const char *outbox;     /* --outbox DIR, or NULL */
	struct bot_outbox *ob;  /* the open outbox; NULL when none or it failed for now */
	int queue_rest;         /* an event was queued: queue the rest behind it */
	struct bot_session_client *session;   /* a running bot-listen's, or NULL */
	char session_path[4096];              /* where to look for one, or "" */
};

/* A failure with its message prefixed (code, temporary etc. kept). */
static jv failure_reword(jv failure, const char *prefix)
{
	char why[1024];
	bot_fail_message(failure, why, sizeof why);
	jv msg = jv_invalid_get_msg(failure);
	if (jv_get_kind(msg) != JV_KIND_OBJECT) {
		jv_free(msg);
		return bot_fail("%s%s", prefix, why);
	}
	msg = jv_object_set(msg, jv_string("message"), jv_string_fmt("%s%s", prefix, why));
	return jv_invalid_with_msg(msg);
}

/* One part, sent again on temporary failures as the retry policy says. */
static jv send_retrying(struct sender *s, jv part, const char *text)
{
	struct bot_retry r;
	bot_retry_init(&r, s->retries, s->give_up_after);
	for (;;) {
		jv res = s->b->send(s->be, part, text);
		if (jv_is_valid(res))
			return res;
		double delay = bot_retry_next(&r, res);
		if (delay < 0) {
			if (r.attempts > 1 && bot_fail_temporary(res)) {
				char prefix[64];
				snprintf(prefix, sizeof prefix, "gave up after %d attempts: ", r.attempts);
				return failure_reword(res, prefix);
			}
			return res;
		}
		/* Only with -v: a send that succeeds after retries stays silent
		 * (cron mails whatever a job writes to stderr). */
		char why[1024];
		bot_debug("%s; attempt %d of %d in %.1f s", bot_fail_message(res, why, sizeof why),
		         r.attempts + 1, r.max_attempts, delay);
		jv_free(res);
		bot_sleep_ms((long long)(delay * 1000));
	}
}

/* Send the rendered parts in order; the id of the last one. */
static jv send_parts(struct sender *s, jv ev, jv parts)
{
	int n = jv_array_length(jv_copy(parts));
	jv result = jv_null();
	for (int i = 0; i < n; i++) {
		jv text = jv_array_get(jv_copy(parts), i);
		jv part = jv_object_set(jv_copy(ev), jv_string("partial"), jv_bool(i < n - 1));
		jv_free(result);
		result = send_retrying(s, part, jv_string_value(text));
		jv_free(part);
		jv_free(text);
		if (!jv_is_valid(result))
			break;
	}
	jv_free(parts);
	return result;
}

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

/* A message: its body rendered, mention applied, cut to size. */
static jv deliver_message(struct sender *s, jv ev)
{
	jv body = bot_get(ev, "body");
	if (jv_get_kind(body) != JV_KIND_STRING) {
		jv_free(body);
		body = jv_string("");
	}
	jv mention = bot_get(ev, "mention");
	if (jv_get_kind(mention) != JV_KIND_NULL && s->b->mention) {
		mention = bot_expand_ident(s->b, s->be, mention);
		if (jv_is_valid(mention))
			body = s->b->mention(s->be, mention, body);
		else
			jv_free(mention);
	} else
		jv_free(mention);
	jv to = bot_get(ev, "to");
	size_t limit = s->b->size_limit ? s->b->size_limit(s->be, to) : 0;
	jv_free(to);
	size_t len = (size_t)jv_string_length_bytes(jv_copy(body));
	jv parts = s->raw ? raw_split(jv_string_value(body), len, limit, s->b->size_unit)
	                  : bot_split(s->markup, jv_string_value(body), len, limit,
	                              (enum bot_size_unit)s->b->size_unit);
	jv_free(body);
	return send_parts(s, ev, parts);
}

static jv deliver_card(struct sender *s, jv ev)
{
	if (s->b->send_card)
		return s->b->send_card(s->be, ev);
	jv md = bot_card_markdown(ev, NULL);
	if (!jv_is_valid(md))
		return md;
	jv msg = jv_object_set(jv_copy(ev), jv_string("body"), md);
	jv r = deliver_message(s, msg);
	jv_free(msg);
	return r;
}

/* Through the session: its answer, as deliver's result.  An invalid
 * without a code when the session is gone (then act on our own). */
static jv deliver_by_session(struct sender *s, jv ev)
{
	jv ans = bot_session_call(s->session, ev, 150000);
	if (!jv_is_valid(ans)) {
		bot_session_disconnect(s->session);
		s->session = NULL;
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
static jv deliver(struct sender *s, jv ev)
{
	/* looked for at each event: bot-listen may start after us */
	if (!s->session && s->session_path[0])
		s->session = bot_session_connect(s->session_path);
	if (s->session) {
		jv r = deliver_by_session(s, ev);
		if (jv_is_valid(r) || jv_invalid_has_msg(jv_copy(r))) {
			jv_free(ev);
			return r;
		}
		jv_free(r);
	}
	jv to = bot_expand_ident(s->b, s->be, bot_get(ev, "to"));
	if (!jv_is_valid(to)) {
		char why[512];
		bot_fail_message(to, why, sizeof why);
		jv_free(to);
		jv_free(ev);
		return bot_fail_code("bad_input", 0, "to: %s", why);
	}
	ev = jv_object_set(ev, jv_string("to"), jv_copy(to));
	const char *type = bot_str(ev, "type");
	jv r = !strcmp(type, "card") ? deliver_card(s, ev) : deliver_message(s, ev);
	if (!jv_is_valid(r)) {
		jv_free(to);
		jv_free(ev);
		return r;
	}
	jv sent = bot_sent_event(bot_str(r, "id"), to, bot_get(ev, "id"));
	jv_free(r);
	jv_free(ev);
	return sent;
}

/* What bot-send does with an event, by its type (bot-send(1), EVENTS). */
enum disposition {
	DELIVER,        /* message, card: delivered, answered sent or error */
	UNDELIVERABLE,  /* a request this backend cannot carry out */
	REPORT,         /* everything else: passed on unchanged */
};

static enum disposition disposition_of(const char *type)
{
	if (!strcmp(type, "message") || !strcmp(type, "card"))
		return DELIVER;
	/* A reaction asks for an action on the network, but no backend can
	 * carry one out yet (struct bot_backend has no hook for it). */
	if (!strcmp(type, "reaction"))
		return UNDELIVERABLE;
	return REPORT;
}

/* Check an input event: the valid event, or a failure saying why not. */
static jv check(jv ev)
{
	const char *type = bot_str(ev, "type");
	if (!type || (strcmp(type, "message") && strcmp(type, "card"))) {
		jv f = bot_fail_code("unsupported", 0, "bot-send delivers message and card events, not %s",
		                     type ? type : "this");
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

/* Write the one answer for ev (consumed): the sent event, or the error
 * event for a failure, which carries ev. */
static void answer(struct sender *s, jv result, jv ev)
{
	if (!jv_is_valid(result)) {
		char why[1024], code[64];
		bot_fail_message(result, why, sizeof why);
		bot_fail_code_of(result, code, sizeof code);
		int ex = bot_fail_exit(result);
		if (ex > s->worst || s->worst == BOT_EX_OK)
			s->worst = ex;
		bot_error("%s: %s", code, why);
		result = bot_fail_event(result, ev);
	} else
		jv_free(ev);
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
	jv_free(failure);
	return bot_fail_code("queued", 1, "%s; kept in the outbox %s for bot-send --flush", why, dir);
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
static jv deliver_spooled(struct sender *s, jv ev)
{
	struct bot_outbox_item it;
	struct bot_outbox *ob = outbox(s);
	if (!ob)
		return deliver(s, ev);
	if (s->queue_rest) {
		/* Something earlier waits: keep the order, queue behind it. */
		if (bot_outbox_put(ob, ev) < 0)
			return bot_fail_code("send_failed", 1, "outbox %s: %s", s->outbox, strerror(errno));
		return bot_fail_code("queued", 1, "an earlier message waits; kept in the outbox %s for bot-send --flush",
		                     s->outbox);
	}
	if (bot_outbox_hold(ob, jv_copy(ev), &it) < 0) {
		/* Cannot store it (ENOSPC, ...): still try to send it now. */
		bot_warn("outbox %s: %s; sending without it", s->outbox, strerror(errno));
		return deliver(s, ev);
	}
	jv r = deliver(s, ev);
	if (jv_is_valid(r) || !bot_fail_temporary(r)) {
		if (bot_outbox_done(ob, &it) < 0)
			bot_warn("outbox %s: %s: %s (it may be sent again)", s->outbox, it.entry, strerror(errno));
		return r;
	}
	if (bot_outbox_keep(ob, &it) < 0)
		bot_warn("outbox %s: %s: %s", s->outbox, it.entry, strerror(errno));
	s->queue_rest = 1;
	return queued(s->outbox, r);
}

/* An event this backend cannot deliver (consumed): its answer is an
 * unsupported error event carrying it, on stdout only.  Not a failure of
 * the run: a rule that reacts on every network is not wrong on this one. */
static void answer_undeliverable(struct sender *s, jv ev)
{
	char why[160];
	snprintf(why, sizeof why, "backend %s cannot deliver %s events", s->b->name,
	         bot_str(ev, "type"));
	bot_debug("%s", why);
	if (bot_write(s->w, bot_error_event("unsupported", why, ev)) < 0
	    || bot_writer_flush(s->w) < 0) {
		bot_error("stdout: %s", strerror(errno));
		s->worst = BOT_EX_IOERR;
	}
}

/* Handle one input event; write its one answer. */
static void handle(struct sender *s, jv ev)
{
	jv valid = check(jv_copy(ev));
	if (!jv_is_valid(valid))
		answer(s, valid, ev);
	else if (s->outbox)
		answer(s, deliver_spooled(s, valid), ev);
	else
		answer(s, deliver(s, valid), ev);
}

/* bot-send --flush DIR: deliver what waits, oldest first.  Each entry
 * taken gives one answer; at the first that fails for now the flush stops
 * (the rest stay, in order) and the exit is 75. */
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
		jv valid = check(jv_copy(ev));
		jv r = jv_is_valid(valid) ? deliver(s, valid) : valid;
		int keep = !jv_is_valid(r) && bot_fail_temporary(r);
		if (keep) {
			bot_outbox_release(&it);
			r = failure_reword(r, "still in the outbox: ");
		} else if (bot_outbox_done(ob, &it) < 0)
			bot_warn("outbox %s: %s: %s (it may be sent again)", dir, it.entry, strerror(errno));
		answer(s, r, ev);
		if (keep || s->worst == BOT_EX_IOERR)
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
			if (!type || disposition_of(type) != DELIVER) {
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

static int run_filter(struct sender *s)
{
	struct bot_reader *r = bot_reader_new(STDIN_FILENO, "<stdin>",
	                                      (size_t)bot_cfg_int(s->cfg, "max-line", 0));
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
		enum disposition d = disposition_of(bot_str(ev, "type"));
		if (d == DELIVER) {
			handle(s, ev);
		} else if (d == UNDELIVERABLE) {
			answer_undeliverable(s, ev);
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

static int parse_retry_options(struct sender *s, const struct bot_config *cfg)
{
	s->retries = (int)bot_cfg_int(cfg, "retries", 4);
	const char *g = bot_cfg_str(cfg, "give-up-after");
	s->give_up_after = g ? seconds(g) : 0;
	if (s->retries < 0 || s->give_up_after < 0) {
		bot_error("--retries wants a count and --give-up-after seconds, both >= 0");
		return -1;
	}
	const char *t = bot_cfg_str(cfg, "timeout");
	if (t && seconds(t) <= 0) {
		bot_error("--timeout wants seconds > 0");
		return -1;
	}
	s->outbox = bot_cfg_str(cfg, "outbox");
	if (s->outbox && !*s->outbox)
		s->outbox = NULL;
	return 0;
}

int bot_send_run(const struct bot_config *cfg)
{
	struct sender s = { .cfg = cfg, .b = cfg->backend, .raw = bot_cfg_flag(cfg, "raw") };
	const char *flush = bot_cfg_str(cfg, "flush");
	if (parse_retry_options(&s, cfg) < 0)
		return BOT_EX_USAGE;
	if (flush && (one_shot_to(cfg) || jv_array_length(jv_copy(cfg->operands)))) {
		bot_error("--flush delivers what waits in the outbox: it takes no --to and no text");
		return BOT_EX_USAGE;
	}
	int code = BOT_EX_OK;
	if (open_outbox(&s, flush, &code) < 0)
		return code;
	jv err = jv_invalid();
	if (!s.b->send) {
		bot_error("backend %s cannot send", s.b->name);
		bot_outbox_close(s.ob);
		return BOT_EX_USAGE;
	}
	s.be = s.b->open(cfg, &err);
	if (!s.be) {
		bot_error_jv(s.b->name, err);
		bot_outbox_close(s.ob);
		return BOT_EX_CONFIG;
	}
	s.markup = bot_cfg_str(cfg, "markup");
	if (!s.markup)
		s.markup = s.b->markup_for ? s.b->markup_for(s.be) : s.b->markup;
	if (!bot_markup_known(s.markup)) {
		bot_error("--markup %s: unknown markup", s.markup);
		s.b->close(s.be);
		bot_outbox_close(s.ob);
		return BOT_EX_USAGE;
	}
	if (flush || bot_session_path(cfg, s.session_path, sizeof s.session_path) < 0)
		s.session_path[0] = 0;
	s.w = bot_writer_new(STDOUT_FILENO);
	const char *to = one_shot_to(cfg);
	if (flush) {
		code = run_flush(&s, s.ob);
	} else if (to) {
		run_one_shot(&s, to);
		code = s.worst;
	} else if (jv_array_length(jv_copy(cfg->operands))) {
		bot_error("text to send needs --to (or give events on standard input)");
		code = BOT_EX_USAGE;
	} else
		code = run_filter(&s);
	bot_writer_free(s.w);
	bot_session_disconnect(s.session);
	s.b->close(s.be);
	bot_outbox_close(s.ob);
	return code;
}

struct bot_sender *bot_sender_new(const struct bot_config *cfg, const struct bot_backend *b,
                                  void *be)
{
	struct sender *s = calloc(1, sizeof *s);
	if (!s)
		abort();
	s->cfg = cfg;
	s->b = b;
	s->be = be;
	s->markup = bot_cfg_str(cfg, "markup");
	if (!s->markup || !bot_markup_known(s->markup))
		s->markup = b->markup_for ? b->markup_for(be) : b->markup;
	return (struct bot_sender *)s;
}

jv bot_sender_answer(struct bot_sender *bs, jv ev)
{
	struct sender *s = (struct sender *)bs;
	jv valid = check(jv_copy(ev));
	jv r = jv_is_valid(valid) ? deliver(s, valid) : valid;
	if (jv_is_valid(r))
		return r;
	return bot_fail_event(r, jv_copy(ev));
}

void bot_sender_free(struct bot_sender *s)
{
	free(s);
}
