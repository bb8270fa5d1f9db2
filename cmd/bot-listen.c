/* bot-listen: connect a chat network and write what happens as events. */
#include <unistd.h>

#include "bot.h"
#include "builtin.h"

int main(int argc, char **argv)
{
	struct bot_config cfg = {
		.prog = "bot-listen",
		.synopsis = "[-b NAME] [OPTIONS]",
		.about = "Connect a chat network and write what happens there as NDJSON events.",
		.opts = bot_listen_options,
	};
	bot_init(argv[0]);
	int rc = bot_config_load(&cfg, argc, argv, bot_builtin);
	if (rc >= 0)
		return rc;
	struct bot_writer *w = bot_writer_new(STDOUT_FILENO);
	rc = bot_serve(&cfg, w);
	bot_writer_free(w);
	bot_config_free(&cfg);
	return rc;
}
