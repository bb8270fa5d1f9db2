/* libbot: bot-dispatch's engine. */
#ifndef BOT_DISPATCH_H
#define BOT_DISPATCH_H

#include "bot.h"

/* errbot's MSG_ERROR_OCCURRED as ErrBot overrides it. */
#define BOT_MSG_ERROR_OCCURRED "Computer says nooo. See logs for details"

/* Read events on stdin, run commands, write replies and events on
 * stdout, until the input ends and every command is over. */
int bot_dispatch_run(const struct bot_config *cfg);

#endif
