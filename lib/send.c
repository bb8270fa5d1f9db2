/* send.c: bot-send's engine.  Every event in gives exactly one event out:
 * "sent" (with the backend's id) or "error" (with the original event).
 * Markdown is rendered into the backend's markup and cut to its size. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bot.h"
#include "render.h"
#include "send.h"

struct sender {
	const struct bot_config *cfg;
	const struct bot_backend *b;
	void *be;
	struct bot_writer *w;
	int raw;
	const char *markup;
	int worst;      /* exit code of the worst failure so far */
};

/* The exit code for a failure, by its code and whether it may pass. */
static int failure_exit(jv failure)
{
	jv msg = jv_invalid_get_msg(jv_copy(failure));
	const char *code = bot_str(msg, "code");
	int temporary = bot_true(msg, "temporary"), ex = BOT_EX_UNAVAILABLE;
	if (temporary)
		ex = BOT_EX_TEMPFAIL;
	else if (code && (!strcmp(code, "denied") || !strcmp(code, "unauthorized")))
		ex = BOT_EX_NOPERM;
	else if (code && !strcmp(code, "bad_input"))
		ex = BOT_EX_DATAERR;
	else if (code && !strcmp(code, "room_not_joined"))
		ex = BOT_EX_ROOM_NOT_JOINED;
	else if (code && !strcmp(code, "room_does_not_exist"))
		ex = BOT_EX_ROOM_DOES_NOT_EXIST;
	jv_free(msg);
	return ex;
}

static const char *failure_code(jv failure, char *buf, size_t n)
{
	jv msg = jv_invalid_get_msg(jv_copy(failure));
	snprintf(buf, n, "%s", bot_str(msg, "code") ? bot_str(msg, "code") : "send_failed");
	jv_free(msg);
	return buf;
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
		result = s->b->send(s->be, part, jv_string_value(text));
		jv_free(part);
		jv_free(text);
		if (!jv_is_valid(result))
			break;
	}
	jv_free(parts);
	return result;
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
	const char *markup = s->raw ? "markdown" : s->markup;
	jv parts = bot_split(markup, jv_string_value(body),
	                     (size_t)jv_string_length_bytes(jv_copy(body)), limit,
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

/* Deliver one event (consumed): a sent event, or an invalid saying why. */
static jv deliver(struct sender *s, jv ev)
{
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

/* Handle one input event; write its one answer. */
static void handle(struct sender *s, jv ev)
{
	const char *type = bot_str(ev, "type");
	jv answer;
	if (strcmp(type, "message") && strcmp(type, "card")) {
		answer = bot_fail_code("unsupported", 0, "bot-send delivers message and card events, not %s", type);
	} else {
		jv valid = bot_validate(jv_copy(ev));
		if (!jv_is_valid(valid)) {
			char why[512];
			bot_fail_message(valid, why, sizeof why);
			answer = bot_fail_code("bad_input", 0, "%s", why);
		} else
			answer = deliver(s, valid);
	}
	if (!jv_is_valid(answer)) {
		char why[1024], code[64];
		bot_fail_message(answer, why, sizeof why);
		failure_code(answer, code, sizeof code);
		int ex = failure_exit(answer);
		if (ex > s->worst || s->worst == BOT_EX_OK)
			s->worst = ex;
		bot_error("%s: %s", code, why);
		jv_free(answer);
		answer = bot_error_event(code, why, ev);
	} else
		jv_free(ev);
	if (bot_write(s->w, answer) < 0 || bot_writer_flush(s->w) < 0) {
		bot_error("stdout: %s", strerror(errno));
		s->worst = BOT_EX_IOERR;
	}
}

/* The message of a one-shot send: the operands, or all of stdin. */
static jv one_shot_event(const struct bot_config *cfg)
{
	jv text = jv_string("");
	int n = jv_array_length(jv_copy(cfg->operands));
	if (n) {
		for (int i = 0; i < n; i++) {
			if (i)
				text = jv_string_append_str(text, " ");
			text = jv_string_concat(text, jv_array_get(jv_copy(cfg->operands), i));
		}
	} else {
		char buf[65536];
		ssize_t r;
		while ((r = read(STDIN_FILENO, buf, sizeof buf)) > 0 || (r < 0 && errno == EINTR))
			if (r > 0)
				text = jv_string_append_buf(text, buf, (int)r);
		int len = jv_string_length_bytes(jv_copy(text));
		const char *p = jv_string_value(text);
		while (len > 0 && p[len - 1] == '\n')
			len--;
		jv cut = jv_string_sized(p, len);
		jv_free(text);
		text = cut;
	}
	if (bot_cfg_flag(cfg, "code")) {
		jv fenced = jv_string("```\n");
		fenced = jv_string_concat(fenced, text);
		text = jv_string_append_str(fenced, "\n```");
	}
	jv ev = bot_message(jv_null(), jv_string(bot_cfg_str(cfg, "to")), "");
	return jv_object_set(ev, jv_string("body"), text);
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
		handle(s, ev);
	}
	bot_reader_free(r);
	return s->worst;
}

int bot_send_run(const struct bot_config *cfg)
{
	struct sender s = { .cfg = cfg, .b = cfg->backend, .raw = bot_cfg_flag(cfg, "raw") };
	jv err = jv_invalid();
	if (!s.b->send) {
		bot_error("backend %s cannot send", s.b->name);
		return BOT_EX_USAGE;
	}
	s.be = s.b->open(cfg, &err);
	if (!s.be) {
		bot_error_jv(s.b->name, err);
		return BOT_EX_CONFIG;
	}
	s.markup = bot_cfg_str(cfg, "markup");
	if (!s.markup)
		s.markup = s.b->markup_for ? s.b->markup_for(s.be) : s.b->markup;
	if (!bot_markup_known(s.markup)) {
		bot_error("--markup %s: unknown markup", s.markup);
		s.b->close(s.be);
		return BOT_EX_USAGE;
	}
	s.w = bot_writer_new(STDOUT_FILENO);
	int code;
	if (bot_cfg_str(cfg, "to")) {
		handle(&s, one_shot_event(cfg));
		code = s.worst;
	} else if (jv_array_length(jv_copy(cfg->operands))) {
		bot_error("text to send needs --to (or give events on standard input)");
		code = BOT_EX_USAGE;
	} else
		code = run_filter(&s);
	bot_writer_free(s.w);
	s.b->close(s.be);
	return code;
}
