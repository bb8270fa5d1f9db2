/* bot-send: deliver events, or one message from a cron job. */
#include "bot.h"
#include "builtin.h"
#include "send.h"

static const struct bot_option opts[] = {
	{ "backend", 'b', BOT_OPT_STR, "NAME", "text", "the chat network" },
	{ "to", 'T', BOT_OPT_STR, "ID", NULL, "send one message to ID (text from the arguments, or standard input)" },
	{ "code", 0, BOT_OPT_FLAG, NULL, NULL, "with --to: send the text as a code block" },
	{ "raw", 0, BOT_OPT_FLAG, NULL, NULL, "send bodies as they are, without rendering markdown" },
	{ "markup", 0, BOT_OPT_STR, "NAME", NULL, "render into this markup instead of the backend's" },
	{ "max-line", 0, BOT_OPT_INT, "BYTES", "16777216", "refuse input lines longer than BYTES" },
	BOT_OPTIONS_END
};

int main(int argc, char **argv)
{
	struct bot_config cfg = {
		.prog = "bot-send",
		.synopsis = "[-b NAME] [--to ID [TEXT...]] [OPTIONS]",
		.about = "Deliver message and card events to a chat network; with --to, send one message.",
		.opts = opts,
	};
	bot_init(argv[0]);
	int rc = bot_config_load(&cfg, argc, argv, bot_builtin);
	if (rc >= 0)
		return rc;
	rc = bot_send_run(&cfg);
	bot_config_free(&cfg);
	return rc;
}
