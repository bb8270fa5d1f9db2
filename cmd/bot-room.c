/* bot-room: the seed's Room from the command line. */
#include "bot.h"
#include "builtin.h"
#include "roomtool.h"

static const struct bot_option opts[] = {
	{ "backend", 'b', BOT_OPT_STR, "NAME", "text", "the chat network" },
	{ "json", 'j', BOT_OPT_FLAG, NULL, NULL, "print the answer (or the error) as an event" },
	{ "session", 0, BOT_OPT_STR, "PATH", NULL, "a running bot-listen's session socket (none: act on a connection of its own)" },
	BOT_OPTIONS_END
};

int main(int argc, char **argv)
{
	struct bot_config cfg = {
		.prog = "bot-room",
		.synopsis = "[-b NAME] [--json] info|create|join|leave|destroy|invite|topic|occupants|list [ROOM] [ARGS...]",
		.about = "Act on a chat room: join, leave, invite, read or set the topic, list occupants or rooms.",
		.opts = opts,
	};
	bot_init(argv[0]);
	int rc = bot_config_load(&cfg, argc, argv, bot_builtin);
	if (rc >= 0)
		return rc;
	rc = bot_room_run(&cfg);
	bot_config_free(&cfg);
	return rc;
}
