/* bot-queue: the pipeline over NATS JetStream, past one machine. */
#include "bot.h"
#include "builtin.h"
#include "queue.h"

int main(int argc, char **argv)
{
	struct bot_config cfg = {
		.prog = "bot-queue",
		.synopsis = "publish|subscribe [OPTIONS] | work [OPTIONS] -- CMD [ARG...]",
		.about = "Carry events through NATS JetStream: publish stdin into a subject, work (pull, run CMD on them, publish its answers), subscribe to stdout.",
		.opts = bot_queue_options,
	};
	bot_init(argv[0]);
	int rc = bot_config_load(&cfg, argc, argv, bot_builtin);
	if (rc >= 0)
		return rc;
	rc = bot_queue_run(&cfg);
	bot_config_free(&cfg);
	return rc;
}
