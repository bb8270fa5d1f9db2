/* webhook.c: a send-only backend.  Each message part is POSTed as JSON to
 * one URL, a secret (it often carries the token: Slack's and Discord's
 * incoming webhooks, ntfy topics, ...).  The payload is {"text": TEXT}
 * unless --webhook-template gives a jq program; the program's input is
 * the event with "text" set to the rendered part, and its first output is
 * the payload: {content: .text} for Discord, {text: .text, channel:
 * .to.id} for Slack or Mattermost.  The "to" of an event is informational:
 * any string is an identifier, and the template may use it.  Whatever the
 * template, no mention in a payload pings (defuse_mentions). */
#include <ctype.h>
#include <jq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backend.h"
#include "buf.h"
#include "http.h"
#include "render.h"

static const struct bot_option webhook_options[] = {
	{ "webhook-url", 0, BOT_OPT_SECRET, "URL", NULL,
	  "the URL to POST to (it often carries a token)" },
	{ "webhook-template", 0, BOT_OPT_STR, "JQ", NULL,
	  "a jq program that turns {text, to, ...} into the payload (default {text: .text})" },
	{ "webhook-header", 0, BOT_OPT_LIST, "'NAME: VALUE'", NULL,
	  "an extra HTTP header (may be given several times)" },
	{ "webhook-auth-header", 0, BOT_OPT_SECRET, "'NAME: VALUE'", NULL,
	  "one more header that holds a credential, e.g. 'Authorization: Bearer ...'" },
	{ "webhook-markup", 0, BOT_OPT_STR, "NAME", "markdown",
	  "the markup the receiver reads (markdown, text, slack, html, ...)" },
	{ "webhook-size-limit", 0, BOT_OPT_INT, "CHARS", "0",
	  "split messages longer than CHARS characters (0: never)" },
	{ "webhook-cafile", 0, BOT_OPT_STR, "FILE", NULL,
	  "trust the certificates in FILE instead of the system's" },
	BOT_OPTIONS_END
};

struct webhook {
	struct bot_http_multi *m;
	long timeout_ms;       /* bot-send's --timeout; 0: libbothttp's 30 s */
	char *url;
	jv headers;            /* array of "Name: value" */
	jq_state *jq;          /* NULL: the default payload, built in C */
	char markup[32];
	size_t size_limit;
	char jq_error[512];
};

static void webhook_close(void *p)
{
	struct webhook *w = p;
	if (!w)
		return;
	if (w->m)
		bot_http_cancel_all(w->m);   /* their done callbacks run: nothing held */
	bot_http_multi_free(w->m);
	if (w->url) {
		explicit_bzero(w->url, strlen(w->url));
		free(w->url);
	}
	jv_free(w->headers);
	if (w->jq)
		jq_teardown(&w->jq);
	free(w);
}

/* jq reports compile errors through a callback; keep the first one. */
static void on_jq_error(void *data, jv msg)
{
	struct webhook *w = data;
	if (!w->jq_error[0]) {
		jv text = jv_get_kind(msg) == JV_KIND_STRING ? jv_copy(msg) : jv_dump_string(jv_copy(msg), 0);
		bot_oneline(w->jq_error, sizeof w->jq_error, jv_string_value(text),
		            (size_t)jv_string_length_bytes(jv_copy(text)));
		jv_free(text);
	}
	jv_free(msg);
}

/* Compile the template once; only when one is given (jq costs ~15 ms). */
static int compile_template(struct webhook *w, const char *program, jv *err)
{
	w->jq = jq_init();
	if (!w->jq) {
		*err = bot_fail("--webhook-template: cannot start jq");
		return -1;
	}
	jq_set_error_cb(w->jq, on_jq_error, w);
	if (!jq_compile(w->jq, program)) {
		*err = bot_fail("--webhook-template: %s", w->jq_error[0] ? w->jq_error : "does not compile");
		return -1;
	}
	return 0;
}

/* The configured headers plus the secret one, each checked. */
static int collect_headers(struct webhook *w, const struct bot_config *cfg, jv *err)
{
	w->headers = jv_array();
	jv list = bot_cfg_list(cfg, "webhook-header");
	const char *auth = bot_cfg_str(cfg, "webhook-auth-header");
	if (auth)
		list = jv_array_append(list, jv_string(auth));
	int bad = 0;
	jv_array_foreach(list, i, h) {
		const char *s = jv_get_kind(h) == JV_KIND_STRING ? jv_string_value(h) : "";
		const char *colon = strchr(s, ':');
		if (!bad && (!colon || colon == s || bot_has_line_break(s, strlen(s)))) {
			/* never echo the value: it may be a credential */
			*err = bot_fail("--webhook-header %d: expected 'Name: value' on one line", i + 1);
			bad = 1;
		}
		w->headers = jv_array_append(w->headers, h);
	}
	jv_free(list);
	return bad ? -1 : 0;
}

static void *webhook_open(const struct bot_config *cfg, struct bot_host *host, jv *err)
{
	(void)host;
	struct webhook *w = calloc(1, sizeof *w);
	if (!w) {
		*err = bot_fail("out of memory");
		return NULL;
	}
	w->headers = jv_null();
	const char *url = bot_cfg_str(cfg, "webhook-url");
	if (!url || !*url) {
		*err = bot_fail("no webhook URL: set BOT_WEBHOOK_URL or BOT_WEBHOOK_URL_FILE");
		goto fail;
	}
	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
		*err = bot_fail("the webhook URL must start with http:// or https://");
		goto fail;
	}
	w->url = strdup(url);
	const char *markup = bot_cfg_str(cfg, "webhook-markup");
	snprintf(w->markup, sizeof w->markup, "%s", markup ? markup : "markdown");
	long limit = bot_cfg_int(cfg, "webhook-size-limit", 0);
	w->size_limit = limit > 0 ? (size_t)limit : 0;
	if (collect_headers(w, cfg, err) < 0)
		goto fail;
	const char *tpl = bot_cfg_str(cfg, "webhook-template");
	if (tpl && compile_template(w, tpl, err) < 0)
		goto fail;
	if (!(w->m = bot_http_multi_new(err)))
		goto fail;
	/* bot-send's --timeout (seconds), when the program has one. */
	const char *timeout = bot_cfg_str(cfg, "timeout");
	double secs = timeout ? strtod(timeout, NULL) : 0;
	if (secs > 0)
		w->timeout_ms = (long)(secs * 1000);
	bot_http_multi_set_cafile(w->m, bot_cfg_str(cfg, "webhook-cafile"));
	return w;
fail:
	webhook_close(w);
	return NULL;
}

/* The payload for one part: {"text": TEXT}, or the template's output. */
static jv payload(struct webhook *w, jv ev, const char *text)
{
	if (!w->jq)
		return JV_OBJECT(jv_string("text"), jv_string(text));
	jv input = jv_get_kind(ev) == JV_KIND_OBJECT ? jv_copy(ev) : jv_object();
	input = jv_object_set(input, jv_string("text"), jv_string(text));
	jq_start(w->jq, input, 0);
	jv out = jq_next(w->jq);
	if (jv_is_valid(out))
		return out;
	char why[512];
	if (jv_invalid_has_msg(jv_copy(out))) {
		jv msg = jv_invalid_get_msg(out);
		jv text_msg = jv_get_kind(msg) == JV_KIND_STRING ? msg : jv_dump_string(msg, 0);
		bot_oneline(why, sizeof why, jv_string_value(text_msg),
		            (size_t)jv_string_length_bytes(jv_copy(text_msg)));
		jv_free(text_msg);
	} else {
		jv_free(out);
		snprintf(why, sizeof why, "produced no payload");
	}
	return bot_fail_code("bad_template", 0, "--webhook-template: %s", why);
}

/* Slack-style text (Slack, Mattermost) with no live mass or user
 * mention: "<!here>", "<!channel>", "<!everyone>", "<!subteam^..>" and
 * "<@U123>" lose their '<' to "&lt;" (Slack's own escaping), and "@here",
 * "@channel", "@everyone", "@all" get a zero-width space after the '@'.
 * Links ("<https://x|label>") stay links. */
static jv defuse_slack_text(const char *t)
{
	static const char *const words[] = { "everyone", "here", "channel", "all" };
	struct sbuf b = { 0 };
	for (size_t i = 0; t[i]; i++) {
		if (t[i] == '<' && (t[i + 1] == '!' || t[i + 1] == '@')) {
			sb_add(&b, "&lt;", 4);
			continue;
		}
		sb_add(&b, t + i, 1);
		if (t[i] != '@')
			continue;
		for (size_t k = 0; k < sizeof words / sizeof *words; k++) {
			size_t l = strlen(words[k]);
			if (strncasecmp(t + i + 1, words[k], l) != 0)
				continue;
			char d = t[i + 1 + l];   /* the l bytes matched: none is NUL */
			if (!(isalnum((unsigned char)d) || d == '_' || d == '-')) {
				sb_add(&b, "\xe2\x80\x8b", 3);
				break;
			}
		}
	}
	sb_add(&b, "", 0);
	jv r = jv_string(b.s);
	free(b.s);
	return r;
}

/* Only the mentions botpipe means are live, and it means none: a
 * Discord-shaped payload ("content") gets allowed_mentions {parse: []}
 * unless it has its own; a Slack-shaped one ("text") is defused. */
static jv defuse_mentions(jv body)
{
	if (jv_get_kind(body) != JV_KIND_OBJECT)
		return body;
	jv content = bot_get(body, "content"), am = bot_get(body, "allowed_mentions");
	if (jv_get_kind(content) == JV_KIND_STRING && jv_get_kind(am) == JV_KIND_NULL)
		body = jv_object_set(body, jv_string("allowed_mentions"),
		                     JV_OBJECT(jv_string("parse"), jv_array()));
	jv_free(content);
	jv_free(am);
	jv text = bot_get(body, "text");
	if (jv_get_kind(text) == JV_KIND_STRING)
		body = jv_object_set(body, jv_string("text"), defuse_slack_text(jv_string_value(text)));
	jv_free(text);
	return body;
}

/* The id of what was posted (look-only): the answer's "id" when it has one. */
static jv sent_id(jv resp)
{
	jv id = bot_get(resp, "id");
	if (jv_get_kind(id) == JV_KIND_NUMBER) {
		jv s = jv_dump_string(id, 0);   /* opaque: kept as a string */
		return JV_OBJECT(jv_string("id"), s);
	}
	if (jv_get_kind(id) == JV_KIND_STRING)
		return JV_OBJECT(jv_string("id"), id);
	jv_free(id);
	return jv_object();
}

struct post { bot_done_fn done; void *ctx; };

static void posted(void *ud, const struct bot_http_done *d)
{
	struct post *p = ud;
	jv result = jv_get_kind(d->fail) != JV_KIND_NULL ? jv_copy(d->fail) : sent_id(d->body);
	p->done(p->ctx, result);
	free(p);
}

static int webhook_submit(void *be, const struct bot_part *part, bot_done_fn done, void *ctx, jv *err)
{
	struct webhook *w = be;
	jv body = payload(w, part->event, part->text ? part->text : "");
	if (!jv_is_valid(body)) {
		*err = body;
		return -1;
	}
	struct post *p = malloc(sizeof *p);
	if (!p)
		abort();
	*p = (struct post){ done, ctx };
	struct bot_http_req req = { .method = "POST", .url = w->url, .headers = jv_copy(w->headers),
	                            .json = defuse_mentions(body), .timeout_ms = w->timeout_ms,
	                            .connect_timeout_ms = w->timeout_ms };
	if (bot_http_start(w->m, &req, posted, p, err) < 0) {
		free(p);
		return -1;
	}
	return 0;
}

static void webhook_prepare(void *be, struct bot_poll *p)
{
	bot_http_multi_prepare(((struct webhook *)be)->m, p);
}

static int webhook_dispatch(void *be, const struct bot_poll *p, jv *err)
{
	(void)err;
	bot_http_multi_dispatch(((struct webhook *)be)->m, p);
	return 0;
}

static int webhook_idle(void *be)
{
	return bot_http_running(((struct webhook *)be)->m) == 0;
}

/* Any non-empty string: "@name" is a person, anything else a room. */
static jv webhook_build_identifier(void *p, const char *s)
{
	(void)p;
	if (!s || !*s || bot_has_line_break(s, strlen(s)))
		return bot_fail("a webhook identifier is any one-line string");
	if (s[0] == '@' && s[1])
		return bot_person(s, s + 1);
	return bot_room(s);
}

static int webhook_is_from_self(void *p, jv msg)
{
	(void)p;
	(void)msg;
	return 0;
}

static size_t webhook_size_limit(void *p, jv to)
{
	(void)to;
	return ((struct webhook *)p)->size_limit;
}

static const char *webhook_markup(void *p)
{
	return ((struct webhook *)p)->markup;
}

const struct bot_backend bot_backend = {
	.size = sizeof(struct bot_backend),
	.abi = BOT_BACKEND_ABI,
	.name = "webhook",
	.markup = "markdown",
	.options = webhook_options,
	.can = 0,   /* messages (and cards, by the template) only; it cannot listen */
	.size_unit = BOT_UNIT_CHARS,
	.open = webhook_open,
	.close = webhook_close,
	.prepare = webhook_prepare,
	.dispatch = webhook_dispatch,
	.submit = webhook_submit,
	.idle = webhook_idle,
	.build_identifier = webhook_build_identifier,
	.is_from_self = webhook_is_from_self,
	.size_limit = webhook_size_limit,
	.markup_for = webhook_markup,
};
