/* bot-send: deliver events, or one message from a cron job. */
#include "bot.h"
#include "builtin.h"
#include "send.h"

static const struct bot_option opts[] = {
	{ "backend", 'b', BOT_OPT_STR, "NAME", "text", "the chat network" },
	{ "session", 0, BOT_OPT_STR, "PATH", NULL, "the session socket (botpipe-session(7); none: no session)" },
	{ "to", 'T', BOT_OPT_STR, "ID", NULL, "send to ID: the arguments as text, or standard input (text, or event lines)" },
	{ "code", 0, BOT_OPT_FLAG, NULL, NULL, "with --to: send the text as a code block" },
	{ "raw", 0, BOT_OPT_FLAG, NULL, NULL, "send bodies as they are, without rendering markdown" },
	{ "markup", 0, BOT_OPT_STR, "NAME", NULL, "render into this markup instead of the backend's" },
	{ "max-line", 0, BOT_OPT_INT, "BYTES", "16777216", "refuse input lines longer than BYTES" },
	{ "retries", 0, BOT_OPT_INT, "N", "4", "try a failed part again up to N times (429, 5xx, dropped connections)" },
	{ "give-up-after", 0, BOT_OPT_STR, "SECONDS", "120", "stop retrying a message after SECONDS (0: no limit)" },
	{ "timeout", 0, BOT_OPT_STR, "SECONDS", "30", "give up on one request after SECONDS" },
	{ "outbox", 0, BOT_OPT_STR, "DIR", NULL, "store each message in DIR (made 0700 when missing) before sending; keep it there when it cannot be sent now" },
	{ "flush", 0, BOT_OPT_STR, "DIR", NULL, "send what waits in the outbox DIR (which must exist), oldest first, and exit" },
	BOT_OPTIONS_END
};

int main(int argc, char **argv)
{
	struct bot_config cfg = {
		.prog = "bot-send",
		.synopsis = "[-b NAME] [--to ID [TEXT...]] [OPTIONS]",
		.about = "Deliver message and card events to a chat network, passing other events on; with --to, send one message.",
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
