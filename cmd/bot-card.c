/* bot-card: build a card event, or show how one renders. */
#include "bot.h"
#include "builtin.h"
#include "cardtool.h"

int main(int argc, char **argv)
{
	struct bot_config cfg = {
		.prog = "bot-card",
		.synopsis = "[--title T] [--field K=V]... [OPTIONS] [BODY...]",
		.about = "Write a card event (or, with --render, show one) from flags; the body from the arguments or standard input.",
		.opts = bot_card_options,
	};
	bot_init(argv[0]);
	int rc = bot_config_load(&cfg, argc, argv, bot_builtin);
	if (rc >= 0)
		return rc;
	rc = bot_card_run(&cfg, bot_builtin);
	bot_config_free(&cfg);
	return rc;
}
