/* bot-room: the seed's Room from the command line. */
#include "bot.h"
#include "builtin.h"
#include "roomtool.h"

int main(int argc, char **argv)
{
	struct bot_config cfg = {
		.prog = "bot-room",
		.synopsis = "[-b NAME] [--json] info|create|join|leave|destroy|invite|topic|occupants|list [ROOM] [ARGS...]",
		.about = "Act on a chat room: join, leave, invite, read or set the topic, list occupants or rooms.",
		.opts = bot_room_options,
	};
	bot_init(argv[0]);
	int rc = bot_config_load(&cfg, argc, argv, bot_builtin);
	if (rc >= 0)
		return rc;
	rc = bot_room_run(&cfg);
	bot_config_free(&cfg);
	return rc;
}
