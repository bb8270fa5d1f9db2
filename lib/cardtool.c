/* cardtool.c: bot-card's engine: a card event from settings, or a card
 * rendered the way a backend without native cards would show it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "cardtool.h"
#include "render.h"

/* errbot's text colour: white on black or blue, else black. */
static const char *text_color_for(const char *color)
{
	return color && (!strcmp(color, "black") || !strcmp(color, "blue")) ? "white" : "black";
}

static jv set_opt(jv card, const struct bot_config *cfg, const char *opt, const char *field)
{
	const char *v = bot_cfg_str(cfg, opt);
	if (v)
		card = jv_object_set(card, jv_string(field), jv_string(v));
	return card;
}

/* --field KEY=VALUE, in order; an entry without "=" is an error. */
static jv fields_from(const struct bot_config *cfg)
{
	jv list = bot_cfg_list(cfg, "field"), out = jv_array();
	jv_array_foreach(list, i, f) {
		const char *s = jv_string_value(f), *eq = strchr(s, '=');
		if (!eq || eq == s) {
			jv fail = bot_fail("--field %s: expected KEY=VALUE", s);
			jv_free(f);
			jv_free(out);
			jv_free(list);
			return fail;
		}
		out = jv_array_append(out, JV_ARRAY(jv_string_sized(s, (int)(eq - s)), jv_string(eq + 1)));
		jv_free(f);
		(void)i;
	}
	jv_free(list);
	return out;
}

static jv card_from(const struct bot_config *cfg)
{
	jv card = JV_OBJECT(jv_string("type"), jv_string("card"));
	card = set_opt(card, cfg, "to", "to");
	/* the body: from standard input only when it is no terminal */
	card = jv_object_set(card, jv_string("body"),
	                     bot_operand_text(cfg, isatty(STDIN_FILENO) ? -1 : STDIN_FILENO));
	card = set_opt(card, cfg, "title", "title");
	card = set_opt(card, cfg, "summary", "summary");
	card = set_opt(card, cfg, "link", "link");
	card = set_opt(card, cfg, "image", "image");
	card = set_opt(card, cfg, "thumbnail", "thumbnail");
	card = set_opt(card, cfg, "color", "color");
	const char *tc = bot_cfg_str(cfg, "text-color");
	card = jv_object_set(card, jv_string("text_color"),
	                     jv_string(tc ? tc : text_color_for(bot_cfg_str(cfg, "color"))));
	jv fields = fields_from(cfg);
	if (!jv_is_valid(fields)) {
		jv_free(card);
		return fields;
	}
	return jv_object_set(card, jv_string("fields"), fields);
}

/* --render: "markdown", a markup, or a backend's name (its markup). */
static int render(const struct bot_config *cfg, jv card, const char *how,
                  const struct bot_backend *const *builtin)
{
	const char *markup = how;
	if (strcmp(how, "markdown") && !bot_markup_known(how)) {
		jv err = jv_invalid();
		const struct bot_backend *b = bot_backend_find(how, builtin, &err);
		if (!b) {
			jv_free(err);
			bot_error("--render %s: not a markup (text, ansi, markdown, irc, html, ...) nor a backend", how);
			jv_free(card);
			return BOT_EX_USAGE;
		}
		markup = b->markup;
	}
	char *tmpl = NULL;
	const char *path = bot_cfg_str(cfg, "template");
	if (path && !(tmpl = bot_slurp(path, 1 << 20, NULL))) {
		bot_error("--template %s: %s", path, strerror(errno));
		jv_free(card);
		return BOT_EX_CONFIG;
	}
	jv md = bot_card_markdown(card, tmpl);
	free(tmpl);
	jv_free(card);
	if (!jv_is_valid(md)) {
		bot_error_jv(path ? path : "template", md);
		return BOT_EX_DATAERR;
	}
	if (!strcmp(markup, "markdown")) {
		printf("%s\n", jv_string_value(md));
	} else {
		char *out = bot_render(markup, jv_string_value(md),
		                       (size_t)jv_string_length_bytes(jv_copy(md)));
		printf("%s\n", out ? out : "");
		free(out);
	}
	jv_free(md);
	return fflush(stdout) == 0 ? BOT_EX_OK : BOT_EX_IOERR;
}

int bot_card_run(const struct bot_config *cfg, const struct bot_backend *const *builtin)
{
	jv card = card_from(cfg);
	if (!jv_is_valid(card)) {
		bot_error_jv(NULL, card);
		return BOT_EX_USAGE;
	}
	const char *how = bot_cfg_str(cfg, "render");
	if (how)
		return render(cfg, card, how, builtin);
	struct bot_writer *w = bot_writer_new(STDOUT_FILENO);
	int rc = bot_write(w, card) < 0 || bot_writer_flush(w) < 0 ? BOT_EX_IOERR : BOT_EX_OK;
	bot_writer_free(w);
	return rc;
}
