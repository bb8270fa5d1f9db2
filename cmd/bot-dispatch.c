/* bot-dispatch: turn events into replies: commands and jq rules. */
#include "bot.h"
#include "builtin.h"
#include "dispatch.h"

static const struct bot_option opts[] = {
	{ "plugins", 'd', BOT_OPT_LIST, "DIR", NULL, "a folder of commands (several allowed; the first that has a name wins)" },
	{ "prefix", 'p', BOT_OPT_STR, "TEXT", "!", "the command prefix" },
	{ "prefix-optional", 0, BOT_OPT_FLAG, NULL, NULL, "in a direct chat, every message is a command" },
	{ "jobs", 'j', BOT_OPT_INT, "N", "10", "run at most N commands at once" },
	{ "timeout", 't', BOT_OPT_INT, "SECONDS", "60", "kill a command (its whole process group) after SECONDS" },
	{ "max-output", 0, BOT_OPT_INT, "BYTES", "1048576", "keep at most BYTES of a command's output" },
	{ "max-line", 0, BOT_OPT_INT, "BYTES", "16777216", "refuse input lines longer than BYTES" },
	{ "limit-cpu", 0, BOT_OPT_INT, "SECONDS", "0", "a command's CPU time limit (0: none)" },
	{ "limit-memory", 0, BOT_OPT_INT, "MB", "0", "a command's address space limit (0: none)" },
	{ "limit-processes", 0, BOT_OPT_INT, "N", "0", "a command's process limit (0: none)" },
	{ "nick-prefix", 0, BOT_OPT_FLAG, NULL, "true", "mention the sender in replies to a room (--no-nick-prefix: not)" },
	{ "pass", 0, BOT_OPT_FLAG, NULL, NULL, "pass on events that no command consumed" },
	BOT_OPTIONS_END
};

int main(int argc, char **argv)
{
	struct bot_config cfg = {
		.prog = "bot-dispatch",
		.synopsis = "[-d DIR]... [OPTIONS]",
		.about = "Read events, run the commands they ask for, write the replies.",
		.opts = opts,
	};
	bot_init(argv[0]);
	int rc = bot_config_load(&cfg, argc, argv, bot_builtin);
	if (rc >= 0)
		return rc;
	rc = bot_dispatch_run(&cfg);
	bot_config_free(&cfg);
	return rc;
}
