/* Reaction names between networks (emoji.h): what a bridge or a rule's
 * reaction becomes on each, and properties over the whole table (each
 * name means one emoji on its network, each emoji goes and comes back). */
#include <stdlib.h>
#include <string.h>

#include "bot.h"
#include "emoji.h"
#include "unit.h"

/* The table itself, read as emoji.c reads it. */
struct emoji {
	const char *emoji, *slack, *mattermost, *zulip;
};
static const struct emoji table[] = {
#include "emoji_table.h"
};
#define NEMOJI (sizeof table / sizeof table[0])

static jv reaction(const char *name, const char *emoji)
{
	jv ev = JV_OBJECT(jv_string("type"), jv_string("reaction"), jv_string("reaction_name"), jv_string(name));
	return emoji ? jv_object_set(ev, jv_string("emoji"), jv_string(emoji)) : ev;
}

/* reaction_name once ev (consumed) is made for a network naming as to. */
static const char *name_for(jv ev, enum bot_emoji_names to)
{
	static char buf[256];
	jv out = bot_emoji_for(ev, to);
	snprintf(buf, sizeof buf, "%s", bot_str(out, "reaction_name"));
	jv_free(out);
	return buf;
}

static void test_names(void)
{
	CHECK_STR(bot_emoji_of("tada", BOT_EMOJI_SLACK), "🎉", "a Slack name");
	CHECK_STR(bot_emoji_of(":tada:", BOT_EMOJI_SLACK), "🎉", "...written with colons");
	CHECK_STR(bot_emoji_of("thumbsup", BOT_EMOJI_SLACK), "👍", "an alias");
	CHECK_STR(bot_emoji_of("thumbsup", BOT_EMOJI_MATTERMOST), "👍", "Mattermost's names");
	CHECK_STR(bot_emoji_of("smile", BOT_EMOJI_SLACK), "😄", "smile is 😄 on Slack");
	CHECK_STR(bot_emoji_of("smile", BOT_EMOJI_ZULIP), "🙂", "...and 🙂 on Zulip");
	CHECK_STR(bot_emoji_of("❤", BOT_EMOJI_UNICODE), "❤️", "an emoji without U+FE0F is the same emoji");
	CHECK_STR(bot_emoji_of("❤️", BOT_EMOJI_UNICODE), "❤️", "...and with it");
	CHECK(bot_emoji_of("partyparrot", BOT_EMOJI_SLACK) == NULL, "a custom emoji is not known");
	CHECK(bot_emoji_of(":", BOT_EMOJI_SLACK) == NULL && bot_emoji_of("", BOT_EMOJI_SLACK) == NULL,
	      "nor an empty name");
	CHECK(bot_emoji_of("tada", BOT_EMOJI_ASIS) == NULL, "as it is: no names");
}

static void test_for(void)
{
	CHECK_STR(name_for(reaction("👍", "👍"), BOT_EMOJI_SLACK), "+1", "Telegram's 👍 to Slack");
	CHECK_STR(name_for(reaction("👍", "👍"), BOT_EMOJI_ZULIP), "+1", "...to Zulip");
	CHECK_STR(name_for(reaction("+1", "👍"), BOT_EMOJI_UNICODE), "👍", "Slack's +1 to Matrix");
	CHECK_STR(name_for(reaction("smile", "😄"), BOT_EMOJI_ZULIP), "big_smile",
	          "Slack's smile to Zulip is Zulip's name for 😄, not its smile");
	CHECK_STR(name_for(reaction("smile", "🙂"), BOT_EMOJI_SLACK), "slightly_smiling_face",
	          "Zulip's smile to Slack");
	CHECK_STR(name_for(reaction("tada", NULL), BOT_EMOJI_UNICODE), "🎉", "a rule's name alone, to Telegram");
	CHECK_STR(name_for(reaction(":tada:", NULL), BOT_EMOJI_SLACK), "tada", "a name of the target's stays, without colons");
	CHECK_STR(name_for(reaction("thumbsup", "👍"), BOT_EMOJI_SLACK), "thumbsup", "...an alias too");
	CHECK_STR(name_for(reaction(":+1:", NULL), BOT_EMOJI_ZULIP), "+1", "...on Zulip too");
	CHECK_STR(name_for(reaction("smile", NULL), BOT_EMOJI_ZULIP), "smile",
	          "a name alone is first the target's own");
	CHECK_STR(name_for(reaction("smile", NULL), BOT_EMOJI_UNICODE), "😄", "...then Slack's");
	CHECK_STR(name_for(reaction("big_smile", NULL), BOT_EMOJI_UNICODE), "😄", "...then Zulip's");
	CHECK_STR(name_for(reaction("❤", NULL), BOT_EMOJI_UNICODE), "❤️", "an emoji alone, fully qualified");
	CHECK_STR(name_for(reaction("partyparrot", NULL), BOT_EMOJI_UNICODE), "partyparrot",
	          "a custom emoji goes as it is");
	CHECK_STR(name_for(reaction(":partyparrot:", NULL), BOT_EMOJI_ZULIP), "partyparrot",
	          "...without colons to a network of names");
	CHECK_STR(name_for(reaction(":partyparrot:", NULL), BOT_EMOJI_UNICODE), ":partyparrot:",
	          "...and as it is to one of emoji");
	CHECK_STR(name_for(reaction("partyparrot", "🦜"), BOT_EMOJI_SLACK), "partyparrot",
	          "...even with an emoji the table does not know");
	CHECK_STR(name_for(reaction("flamingo", "🦩"), BOT_EMOJI_UNICODE), "🦩",
	          "an emoji the table does not know goes as itself where emoji are names");
	CHECK_STR(name_for(reaction("tada", NULL), BOT_EMOJI_ASIS), "tada", "as it is: untouched");
	jv ev = bot_emoji_derive(reaction("thumbsup", NULL), BOT_EMOJI_SLACK);
	CHECK_STR(bot_str(ev, "emoji"), "👍", "a Slack reaction event gets its emoji");
	jv_free(ev);
	ev = bot_emoji_derive(reaction("partyparrot", NULL), BOT_EMOJI_SLACK);
	CHECK(bot_str(ev, "emoji") == NULL, "a custom one none");
	jv_free(ev);
	ev = bot_emoji_derive(jv_object_set(reaction("heart", NULL), jv_string("emoji"), jv_string("❤")),
	                      BOT_EMOJI_ZULIP);
	CHECK_STR(bot_str(ev, "emoji"), "❤️", "an emoji the backend gave, fully qualified");
	jv_free(ev);
	const char *codes[][2] = {
		{ "1f44d", "👍" }, { "1f468-200d-1f4bb", "👨‍💻" }, { "2764", "❤" },
		{ "", NULL }, { "zz", NULL }, { "d800", NULL }, { "0a", NULL }, { "110000", NULL },
		{ "1f44d--1f44d", NULL }, { "1f44d 1f44d", NULL }, { "0031-20e3", "1\xe2\x83\xa3" },
		{ "41", NULL }, { "80", NULL }, { "202e", NULL }, { "202e-1f44d", NULL }, { "fffe", NULL },
		{ "1f44d-", NULL }, { "1fffe", NULL },
	};
	int codes_ok = 1;
	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
		jv e = bot_emoji_from_code(codes[i][0]);
		int ok = codes[i][1] ? jv_is_valid(e) && !strcmp(jv_string_value(e), codes[i][1]) : !jv_is_valid(e);
		if (!ok)
			printf("# code \"%s\"\n", codes[i][0]);
		codes_ok &= ok;
		jv_free(e);
	}
	CHECK(codes_ok, "Zulip's emoji codes, and what is not one");
	jv bare = bot_emoji_bare("❤️‍🔥");
	CHECK_STR(jv_string_value(bare), "❤‍🔥", "Telegram's form: no U+FE0F");
	jv_free(bare);
}

/* Each network's names: none twice, each leads back to its emoji, and an
 * emoji made for the network and read back is itself. */
static void test_table(void)
{
	static const enum bot_emoji_names nets[] = { BOT_EMOJI_SLACK, BOT_EMOJI_MATTERMOST, BOT_EMOJI_ZULIP };
	int back = 0, round = 0, unicode = 0;
	for (size_t i = 0; i < NEMOJI; i++) {
		const struct emoji *e = &table[i];
		if (strcmp(bot_emoji_of(e->emoji, BOT_EMOJI_UNICODE), e->emoji))
			unicode++, printf("# %s: another row has the same emoji\n", e->emoji);
		for (size_t k = 0; k < sizeof nets / sizeof nets[0]; k++) {
			const char *list = nets[k] == BOT_EMOJI_SLACK ? e->slack
			                 : nets[k] == BOT_EMOJI_MATTERMOST ? (e->mattermost ? e->mattermost : e->slack)
			                 : e->zulip;
			for (const char *p = list; *p;) {
				char name[128];
				size_t n = strcspn(p, ",");
				snprintf(name, sizeof name, "%.*s", (int)n, p);
				p += n + (p[n] == ',');
				const char *got = bot_emoji_of(name, nets[k]);
				if (!got || strcmp(got, e->emoji))
					back++, printf("# %s (network %d) leads to %s, not %s\n", name, nets[k], got, e->emoji);
			}
			if (*list) {
				jv out = bot_emoji_for(reaction("x", e->emoji), nets[k]);
				const char *emoji = bot_emoji_of(bot_str(out, "reaction_name"), nets[k]);
				if (!emoji || strcmp(emoji, e->emoji))
					round++, printf("# %s does not come back from network %d\n", e->emoji, nets[k]);
				jv_free(out);
			}
		}
	}
	CHECK(unicode == 0, "each emoji once");
	CHECK(back == 0, "each name on its network means its emoji alone");
	CHECK(round == 0, "each emoji goes to each network and back");
	CHECK(NEMOJI >= 100, "the table has the common reactions");
}

/* Telegram takes only these, as its Bot API lists them (ReactionTypeEmoji,
 * Bot API 10.1): each must be reachable from Slack's and Zulip's names. */
static const char *const telegram[] = {
	"❤", "👍", "👎", "🔥", "🥰", "👏", "😁", "🤔", "🤯", "😱", "🤬", "😢", "🎉", "🤩", "🤮", "💩",
	"🙏", "👌", "🕊", "🤡", "🥱", "🥴", "😍", "🐳", "❤‍🔥", "🌚", "🌭", "💯", "🤣", "⚡", "🍌", "🏆",
	"💔", "🤨", "😐", "🍓", "🍾", "💋", "🖕", "😈", "😴", "😭", "🤓", "👻", "👨‍💻", "👀", "🎃", "🙈",
	"😇", "😨", "🤝", "✍", "🤗", "🫡", "🎅", "🎄", "☃", "💅", "🤪", "🗿", "🆒", "💘", "🙉", "🦄",
	"😘", "💊", "🙊", "😎", "👾", "🤷‍♂", "🤷", "🤷‍♀", "😡",
};

static void test_telegram(void)
{
	int missing = 0;
	for (size_t i = 0; i < sizeof telegram / sizeof telegram[0]; i++) {
		const char *e = bot_emoji_of(telegram[i], BOT_EMOJI_UNICODE);
		jv slack = e ? bot_emoji_for(reaction(telegram[i], e), BOT_EMOJI_SLACK) : jv_null();
		jv zulip = e ? bot_emoji_for(reaction(telegram[i], e), BOT_EMOJI_ZULIP) : jv_null();
		/* and back from Zulip's name, as bot-listen gives it, as Telegram wants it */
		jv back = e ? bot_emoji_for(bot_emoji_derive(reaction(bot_str(zulip, "reaction_name"), NULL),
		                                             BOT_EMOJI_ZULIP), BOT_EMOJI_UNICODE) : jv_null();
		jv bare = e ? bot_emoji_bare(bot_str(back, "reaction_name")) : jv_null();
		if (!e || (unsigned char)bot_str(slack, "reaction_name")[0] >= 0x80 ||
		    (unsigned char)bot_str(zulip, "reaction_name")[0] >= 0x80 || strcmp(jv_string_value(bare), telegram[i]))
			missing++, printf("# %s\n", telegram[i]);
		jv_free(slack);
		jv_free(zulip);
		jv_free(back);
		jv_free(bare);
	}
	CHECK(missing == 0, "each of Telegram's reactions has a Slack and a Zulip name, and comes back as Telegram lists it");
	CHECK_STR(name_for(reaction("thinking", NULL), BOT_EMOJI_UNICODE), "🤔", "a Mattermost-only name");
	CHECK_STR(name_for(reaction("thinking", "🤔"), BOT_EMOJI_SLACK), "thinking_face", "...is Slack's thinking_face");
	CHECK_STR(name_for(reaction("🙏", NULL), BOT_EMOJI_ZULIP), "pray", "🙏 is Zulip's pray, old servers and new");
	CHECK_STR(name_for(reaction("ok", NULL), BOT_EMOJI_UNICODE), "🆗", "a name alone that Slack and Zulip disagree on is Slack's");
	CHECK_STR(name_for(bot_emoji_derive(reaction("ok", NULL), BOT_EMOJI_ZULIP), BOT_EMOJI_UNICODE), "👌",
	          "...but Zulip's reaction event says which");
}

int main(void)
{
	test_names();
	test_for();
	test_table();
	test_telegram();
	return unit_done();
}
