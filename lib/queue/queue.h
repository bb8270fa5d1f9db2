/* bot-queue's engine: the pipeline over NATS JetStream (bot-queue(1)).
 * Compiled into bot-queue alone; nothing else links libnats. */
#ifndef BOT_QUEUE_H
#define BOT_QUEUE_H

#include "bot.h"

/* Run the mode the first operand names (publish, work, subscribe); for
 * work, the operands after it are the filter command.  An exit code. */
int bot_queue_run(const struct bot_config *cfg);

#endif
