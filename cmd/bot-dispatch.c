/* bot-dispatch: turn events into replies: commands and jq rules. */
#include <string.h>

#include "bot.h"
#include "builtin.h"
#include "dispatch.h"

int main(int argc, char **argv)
{
	struct bot_config cfg = {
		.prog = "bot-dispatch",
		.synopsis = "[-d DIR]... [-e FILTER]... [OPTIONS]",
		.about = "Read events, run the commands they ask for and the jq rules, write the replies.",
		.opts = bot_dispatch_options,
	};
	bot_init(argv[0]);
	/* bot-dispatch state ...: a plugin's keys (botpipe-plugins(7)) */
	if (argc > 1 && !strcmp(argv[1], "state"))
		return bot_dispatch_state(argc - 1, argv + 1);
	int rc = bot_config_load(&cfg, argc, argv, bot_builtin);
	if (rc >= 0)
		return rc;
	rc = bot_dispatch_run(&cfg);
	bot_config_free(&cfg);
	return rc;
}
