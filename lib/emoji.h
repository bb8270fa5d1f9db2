/* emoji.h: a reaction's name in the form each network wants.
 *
 * Telegram, Matrix, Discord and XMPP name a reaction by the emoji itself
 * ("👍"); Slack and Mattermost by a short name ("+1", "tada"); Zulip by
 * names of its own ("+1", "tada", but "smile" is 🙂 there and 😄 on
 * Slack).  A backend says which in reaction_names; bot-listen adds the
 * emoji itself to each reaction event ("emoji"), and the send queue turns
 * a reaction's name into the target's form, so that a bridge's reaction,
 * or a rule's "tada", lands on any network.  A name the table does not
 * know (a custom emoji) goes as it is.  Same ownership rules as bot.h. */
#ifndef BOT_EMOJI_H
#define BOT_EMOJI_H

#include <jv.h>

enum bot_emoji_names {
	BOT_EMOJI_ASIS = 0,     /* no reactions, or names we do not translate */
	BOT_EMOJI_UNICODE,      /* the emoji itself */
	BOT_EMOJI_SLACK,        /* Slack's short names */
	BOT_EMOJI_MATTERMOST,   /* Mattermost's */
	BOT_EMOJI_ZULIP,        /* Zulip's */
};

/* The emoji (fully qualified) that name means in the names of from
 * (":tada:" and "tada" alike; BOT_EMOJI_UNICODE: the emoji, with or
 * without U+FE0F), or NULL when the table does not know it. */
const char *bot_emoji_of(const char *name, enum bot_emoji_names from);
/* The canonical name of emoji (look-only) in the names of to (not
 * BOT_EMOJI_UNICODE), or NULL. */
const char *bot_emoji_name_of(const char *emoji, enum bot_emoji_names to);
/* A reaction event ev (consumed) from a network that names emoji as from:
 * with "emoji" (the emoji itself, fully qualified where the table knows
 * it) when the backend gave one or the table knows its name. */
jv bot_emoji_derive(jv ev, enum bot_emoji_names from);
/* A reaction event ev (consumed) about to go to a network that names emoji
 * as to: its reaction_name in that form.  Its "emoji" says which when
 * given; else reaction_name is read as an emoji, or as a name of to, then
 * of Slack, Mattermost and Zulip, in that order. */
jv bot_emoji_for(jv ev, enum bot_emoji_names to);
/* The emoji of code points in hex joined by "-" ("1f44d", "1f468-200d-1f4bb",
 * as Zulip gives them), or invalid when that is not what code is. */
jv bot_emoji_from_code(const char *code);
/* emoji without U+FE0F, as Telegram lists its reactions ("❤", not "❤️"). */
jv bot_emoji_bare(const char *emoji);

#endif
