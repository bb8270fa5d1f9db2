/* emoji.c: reaction names between networks (emoji.h), by one table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bot.h"
#include "emoji.h"

/* One emoji: itself, fully qualified, and its names on each network
 * ("a,b": the canonical first, then aliases the network accepts too;
 * NULL: Mattermost's are Slack's; "": the network has no name for it). */
struct emoji {
	const char *emoji;
	const char *slack;
	const char *mattermost;
	const char *zulip;
};

static const struct emoji table[] = {
#include "emoji_table.h"
};

#define NEMOJI (sizeof table / sizeof table[0])

/* U+FE0F, the variation selector that asks for the emoji's colour form:
 * networks differ on it ("❤" on Telegram, "❤️" on Matrix). */
static const char VS16[] = "\xef\xb8\x8f";

/* 1 when a and b are the same emoji, U+FE0F aside. */
static int same_emoji(const char *a, const char *b)
{
	for (;;) {
		while (!strncmp(a, VS16, 3))
			a += 3;
		while (!strncmp(b, VS16, 3))
			b += 3;
		if (*a != *b)
			return 0;
		if (!*a)
			return 1;
		a++, b++;
	}
}

jv bot_emoji_bare(const char *emoji)
{
	jv out = jv_string("");
	for (const char *p = emoji; *p;) {
		const char *vs = strstr(p, VS16);
		size_t n = vs ? (size_t)(vs - p) : strlen(p);
		out = jv_string_append_buf(out, p, (int)n);
		p += n + (vs ? 3 : 0);
	}
	return out;
}

static const char *names_in(const struct emoji *e, enum bot_emoji_names of)
{
	switch (of) {
	case BOT_EMOJI_SLACK:
		return e->slack;
	case BOT_EMOJI_MATTERMOST:
		return e->mattermost ? e->mattermost : e->slack;
	case BOT_EMOJI_ZULIP:
		return e->zulip;
	default:
		return "";
	}
}

/* 1 when the list "a,b,c" holds name (len bytes). */
static int list_has(const char *list, const char *name, size_t len)
{
	while (*list) {
		size_t n = strcspn(list, ",");
		if (n == len && !strncmp(list, name, len))
			return 1;
		list += n + (list[n] == ',');
	}
	return 0;
}

/* The row of name in the names of of, or NULL. */
static const struct emoji *find(const char *name, enum bot_emoji_names of)
{
	if (of == BOT_EMOJI_ASIS || !name || !*name)
		return NULL;
	if (of == BOT_EMOJI_UNICODE) {
		for (size_t i = 0; i < NEMOJI; i++)
			if (same_emoji(name, table[i].emoji))
				return &table[i];
		return NULL;
	}
	/* ":tada:" is how people write "tada" */
	size_t len = strlen(name);
	if (len > 2 && name[0] == ':' && name[len - 1] == ':')
		name++, len -= 2;
	for (size_t i = 0; i < NEMOJI; i++)
		if (list_has(names_in(&table[i], of), name, len))
			return &table[i];
	return NULL;
}

const char *bot_emoji_of(const char *name, enum bot_emoji_names from)
{
	const struct emoji *e = find(name, from);
	return e ? e->emoji : NULL;
}

/* e's canonical name in the names of to (the emoji itself for
 * BOT_EMOJI_UNICODE), or invalid when that network has none. */
static jv name_in(const struct emoji *e, enum bot_emoji_names to)
{
	if (to == BOT_EMOJI_UNICODE)
		return jv_string(e->emoji);
	const char *list = names_in(e, to);
	size_t n = strcspn(list, ",");
	return n ? jv_string_sized(list, (int)n) : jv_invalid();
}

jv bot_emoji_derive(jv ev, enum bot_emoji_names from)
{
	const char *given = bot_str(ev, "emoji");
	const char *emoji = given ? bot_emoji_of(given, BOT_EMOJI_UNICODE)
	                          : bot_emoji_of(bot_str(ev, "reaction_name"), from);
	return emoji ? jv_object_set(ev, jv_string("emoji"), jv_string(emoji)) : ev;
}

/* c as UTF-8 into out (at least 4 bytes): its length, 0 when c is not a
 * scalar value. */
static int utf8_put(unsigned long c, char *out)
{
	if (c < 0x80) {
		out[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		out[0] = (char)(0xc0 | c >> 6);
		out[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c >= 0xd800 && c <= 0xdfff)
		return 0;
	if (c < 0x10000) {
		out[0] = (char)(0xe0 | c >> 12);
		out[1] = (char)(0x80 | (c >> 6 & 0x3f));
		out[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	if (c > 0x10ffff)
		return 0;
	out[0] = (char)(0xf0 | c >> 18);
	out[1] = (char)(0x80 | (c >> 12 & 0x3f));
	out[2] = (char)(0x80 | (c >> 6 & 0x3f));
	out[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

/* 1 when c has no place in an emoji: controls (C0, DEL, C1), the bidi
 * controls that reorder the text around them, noncharacters.  (ASCII
 * digits, # and * stay: keycaps are "0031-20e3".) */
static int no_emoji_part(unsigned long c)
{
	return c < 0x20 || (c >= 0x7f && c < 0xa0) || (c >= 0x202a && c <= 0x202e) ||
	       (c >= 0x2066 && c <= 0x2069) || (c >= 0xfdd0 && c <= 0xfdef) || (c & 0xfffe) == 0xfffe;
}

/* Code points in an emoji at most (the longest sequences have 10). */
#define CODE_POINTS_MAX 16

jv bot_emoji_from_code(const char *code)
{
	char out[CODE_POINTS_MAX * 4 + 1];
	size_t len = 0;
	int pictured = 0;   /* one code point at least past Latin-1's text */
	for (int n = 0; code && *code; n++) {
		size_t digits = strspn(code, "0123456789abcdefABCDEF");
		if (n == CODE_POINTS_MAX || digits == 0 || digits > 6 ||
		    (code[digits] && (code[digits] != '-' || !code[digits + 1])))
			return jv_invalid();
		char hex[8];
		snprintf(hex, sizeof hex, "%.*s", (int)digits, code);
		unsigned long c = strtoul(hex, NULL, 16);
		int w = no_emoji_part(c) ? 0 : utf8_put(c, out + len);
		if (w == 0)
			return jv_invalid();
		pictured |= c >= 0xa0;
		len += (size_t)w;
		code += digits + (code[digits] == '-');
	}
	return len && pictured ? jv_string_sized(out, (int)len) : jv_invalid();
}

/* Whose names a name given alone is read in, after the target's own. */
static const enum bot_emoji_names guesses[] = {
	BOT_EMOJI_UNICODE, BOT_EMOJI_SLACK, BOT_EMOJI_MATTERMOST, BOT_EMOJI_ZULIP
};

/* The row a reaction event means, for a network that names emoji as to. */
static const struct emoji *meant(jv ev, enum bot_emoji_names to)
{
	const struct emoji *e = find(bot_str(ev, "emoji"), BOT_EMOJI_UNICODE);
	const char *name = bot_str(ev, "reaction_name");
	if (e || !name)
		return e;
	if ((unsigned char)name[0] >= 0x80)
		return find(name, BOT_EMOJI_UNICODE);
	if ((e = find(name, to)))
		return e;
	for (size_t i = 0; i < sizeof guesses / sizeof guesses[0] && !e; i++)
		e = find(name, guesses[i]);
	return e;
}

/* ":tada:" as the name networks want it, "tada"; invalid when name has
 * no colons around it. */
static jv without_colons(const char *name)
{
	size_t len = name ? strlen(name) : 0;
	if (len > 2 && name[0] == ':' && name[len - 1] == ':')
		return jv_string_sized(name + 1, (int)len - 2);
	return jv_invalid();
}

jv bot_emoji_for(jv ev, enum bot_emoji_names to)
{
	if (to == BOT_EMOJI_ASIS)
		return ev;
	const struct emoji *e = meant(ev, to);
	const char *given = bot_str(ev, "reaction_name"), *emoji = bot_str(ev, "emoji");
	if (!e && to == BOT_EMOJI_UNICODE && emoji && *emoji && (!given || strcmp(given, emoji)))
		return jv_object_set(ev, jv_string("reaction_name"), jv_string(emoji));   /* 🦩: any emoji */
	jv name;
	if (e && (to == BOT_EMOJI_UNICODE || find(given, to) != e))
		name = name_in(e, to);
	else if (to != BOT_EMOJI_UNICODE)
		name = without_colons(given);   /* one of its names there ("thumbsup" stays), or a custom one */
	else
		name = jv_invalid();
	if (!jv_is_valid(name)) {
		jv_free(name);
		return ev;   /* as it is: a custom emoji, or one this network has no name for */
	}
	return jv_object_set(ev, jv_string("reaction_name"), name);
}
