/* libbot: markdown rendering, splitting and card templates.
 * Same ownership rules as bot.h. */
#ifndef BOT_RENDER_H
#define BOT_RENDER_H

#include <stddef.h>
#include <jv.h>

/* ---- render.c: markdown (cmark-gfm's AST) into each backend's markup --- */

/* Markups: "text" (errbot's text()), "ansi" (errbot's ansi()), "irc"
 * (mIRC codes), "markdown" (pass-through, attributes stripped), "html",
 * "xmpp" (plain body), "telegram" (Telegram's HTML subset), "slack"
 * (mrkdwn), "matrix" (HTML for formatted_body), "discord" and
 * "mattermost" (markdown with escaping fixed), "zulip" (markdown escaped
 * only where Zulip's Python-Markdown reads a backslash).
 * Returns a malloc'd NUL-terminated string, or NULL when the markup is
 * unknown.  Never fails on any input bytes. */
char *bot_render(const char *markup, const char *md, size_t len);
/* 1 when markup names a renderer above. */
int bot_markup_known(const char *markup);
/* errbot's prefix_groupchat_reply, joined the markdown way: "PREFIX body",
 * or PREFIX as a paragraph of its own when the body starts with a block
 * (a list, a code block, a heading, a table, a quote, a thematic break,
 * an HTML block), which the prefix would otherwise break.  Consumes body
 * (a string; anything else counts as ""). */
jv bot_mention_body(const char *prefix, jv body);

/* ---- split.c: cut a message to the backend's size ---------------------- */

enum bot_size_unit { BOT_UNIT_BYTES, BOT_UNIT_CHARS, BOT_UNIT_UTF16 };

/* Split markdown md so that each part, rendered in markup, is at most
 * limit units long.  Cuts prefer paragraph, line, then word boundaries,
 * never inside a UTF-8 sequence, and close/reopen formatting across parts.
 * Returns an array of rendered strings (at least one; limit 0 = no cut). */
jv bot_split(const char *markup, const char *md, size_t len, size_t limit,
             enum bot_size_unit unit);

/* The same cut, each part as [rendered, plain]: plain is the part's text
 * without its markup (HTML entities unescaped), for networks that want
 * both (Matrix body and formatted_body, a Slack fallback text). */
jv bot_split_plain(const char *markup, const char *md, size_t len, size_t limit,
                   enum bot_size_unit unit);

/* ---- card.c: cards as markdown, for backends without native cards ------ */

/* Render a card event (look-only) through a template (NULL = the built-in
 * copy of share/templates/card.md).  Returns a markdown string or an
 * invalid with a message naming the template line. */
jv bot_card_markdown(jv card, const char *template_text);

#endif
