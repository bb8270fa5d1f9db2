/* libbot: bot-send's engine. */
#ifndef BOT_SEND_H
#define BOT_SEND_H

#include "bot.h"

/* One-shot (--to) or filter, as cfg says.  Returns the exit code. */
int bot_send_run(const struct bot_config *cfg);

#endif
