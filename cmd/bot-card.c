/* bot-card: build a card event, or show how one renders. */
#include "bot.h"
#include "builtin.h"
#include "cardtool.h"

static const struct bot_option opts[] = {
	{ "title", 't', BOT_OPT_STR, "TEXT", NULL, "the card's title" },
	{ "summary", 's', BOT_OPT_STR, "TEXT", NULL, "a line above the title" },
	{ "link", 'l', BOT_OPT_STR, "URL", NULL, "where the title links to" },
	{ "image", 0, BOT_OPT_STR, "URL", NULL, "a picture" },
	{ "thumbnail", 0, BOT_OPT_STR, "URL", NULL, "a small picture" },
	{ "color", 0, BOT_OPT_STR, "COLOR", NULL, "red, green, yellow, blue, white, cyan, black or #RRGGBB" },
	{ "text-color", 0, BOT_OPT_STR, "COLOR", NULL, "the text colour (default: white on black or blue, else black)" },
	{ "field", 'f', BOT_OPT_LIST, "KEY=VALUE", NULL, "a field; several keep their order" },
	{ "to", 'T', BOT_OPT_STR, "ID", NULL, "where bot-send delivers the card" },
	{ "render", 'r', BOT_OPT_STR, "HOW", NULL, "print the card rendered: markdown, a markup (text, ansi, irc, ...) or a backend's name" },
	{ "template", 0, BOT_OPT_STR, "FILE", NULL, "with --render: the card template (default: share/templates/card.md)" },
	BOT_OPTIONS_END
};

int main(int argc, char **argv)
{
	struct bot_config cfg = {
		.prog = "bot-card",
		.synopsis = "[--title T] [--field K=V]... [OPTIONS] [BODY...]",
		.about = "Write a card event (or, with --render, show one) from flags; the body from the arguments or standard input.",
		.opts = opts,
	};
	bot_init(argv[0]);
	int rc = bot_config_load(&cfg, argc, argv, bot_builtin);
	if (rc >= 0)
		return rc;
	rc = bot_card_run(&cfg, bot_builtin);
	bot_config_free(&cfg);
	return rc;
}
