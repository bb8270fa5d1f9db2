/* bot-send: deliver events, or one message from a cron job. */
#include "bot.h"
#include "builtin.h"
#include "send.h"

int main(int argc, char **argv)
{
	struct bot_config cfg = {
		.prog = "bot-send",
		.synopsis = "[-b NAME] [--to ID [TEXT...]] [OPTIONS]",
		.about = "Deliver message and card events to a chat network, passing other events on; with --to, send one message.",
		.opts = bot_send_options,
	};
	bot_init(argv[0]);
	int rc = bot_config_load(&cfg, argc, argv, bot_builtin);
	if (rc >= 0)
		return rc;
	rc = bot_send_run(&cfg);
	bot_config_free(&cfg);
	return rc;
}
