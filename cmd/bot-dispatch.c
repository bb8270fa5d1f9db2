/* bot-dispatch: turn events into replies: commands and jq rules. */
#include "bot.h"
#include "builtin.h"
#include "dispatch.h"

static const struct bot_option opts[] = {
	{ "plugins", 'd', BOT_OPT_LIST, "DIR", NULL, "a folder of commands (several allowed; the first that has a name wins)" },
	{ "prefix", 'p', BOT_OPT_STR, "TEXT", "!", "the command prefix" },
	{ "alt-prefix", 'a', BOT_OPT_LIST, "TEXT", NULL, "another prefix, such as the bot's name (several allowed)" },
	{ "alt-prefix-separators", 0, BOT_OPT_STR, "CHARS", ":,;", "characters stripped after an alternative prefix, each once, in order" },
	{ "alt-prefix-caseless", 0, BOT_OPT_FLAG, NULL, NULL, "match alternative prefixes without regard to case" },
	{ "prefix-optional", 0, BOT_OPT_FLAG, NULL, NULL, "in a direct chat, every message is a command" },
	{ "suppress-not-found", 0, BOT_OPT_FLAG, NULL, NULL, "say nothing when a command does not exist" },
	{ "override", 0, BOT_OPT_FLAG, NULL, NULL, "let a plugin replace a built-in command of the same name" },
	{ "acl", 0, BOT_OPT_STR, "FILE", NULL, "access controls (errbot's ACCESS_CONTROLS) from a JSON file" },
	{ "admin", 0, BOT_OPT_LIST, "GLOB", NULL, "a bot admin, matched on the sender's aclattr (several allowed)" },
	{ "hide-restricted-commands", 0, BOT_OPT_FLAG, NULL, NULL, "leave out of help what the asker may not run" },
	{ "hide-restricted-access", 0, BOT_OPT_FLAG, NULL, NULL, "deny without a reply (the error event stays)" },
	{ "divert-to-private", 0, BOT_OPT_LIST, "NAME", NULL, "answer this command privately (several allowed)" },
	{ "divert-to-thread", 0, BOT_OPT_LIST, "NAME", NULL, "answer this command in a thread (several allowed)" },
	{ "rule", 'e', BOT_OPT_LIST, "FILTER", NULL, "a jq program run on every event; each output is an event (several allowed)" },
	{ "rules-file", 'f', BOT_OPT_LIST, "FILE", NULL, "a jq program from a file (several allowed)" },
	{ "jq-library", 0, BOT_OPT_STR, "DIR", NULL, "where bot.jq lives (default: beside the program)" },
	{ "jobs", 'j', BOT_OPT_INT, "N", "10", "run at most N commands at once" },
	{ "timeout", 't', BOT_OPT_INT, "SECONDS", "60", "kill a command (its whole process group) after SECONDS" },
	{ "max-output", 0, BOT_OPT_INT, "BYTES", "1048576", "keep at most BYTES of a command's output" },
	{ "max-events", 0, BOT_OPT_INT, "N", "1000", "forward at most N events a command writes on fd 3" },
	{ "max-line", 0, BOT_OPT_INT, "BYTES", "16777216", "refuse input lines longer than BYTES" },
	{ "limit-cpu", 0, BOT_OPT_INT, "SECONDS", "0", "a command's CPU time limit (0: none)" },
	{ "limit-memory", 0, BOT_OPT_INT, "MB", "0", "a command's address space limit (0: none)" },
	{ "limit-processes", 0, BOT_OPT_INT, "N", "0", "a command's process limit (0: none)" },
	{ "env", 0, BOT_OPT_LIST, "NAME", NULL, "pass this environment variable on to commands (several allowed)" },
	{ "nick-prefix", 0, BOT_OPT_FLAG, NULL, "true", "mention the sender in replies to a room (--no-nick-prefix: not)" },
	{ "pass", 0, BOT_OPT_FLAG, NULL, NULL, "pass on events that no command or rule consumed" },
	BOT_OPTIONS_END
};

int main(int argc, char **argv)
{
	struct bot_config cfg = {
		.prog = "bot-dispatch",
		.synopsis = "[-d DIR]... [-e FILTER]... [OPTIONS]",
		.about = "Read events, run the commands they ask for and the jq rules, write the replies.",
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
