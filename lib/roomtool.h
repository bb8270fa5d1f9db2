/* libbot: bot-room's engine. */
#ifndef BOT_ROOMTOOL_H
#define BOT_ROOMTOOL_H

#include "bot.h"

/* Do the room action named by cfg's operands (ACTION [ROOM] [ARGS...])
 * on the backend, print the answer (text, or the event with "json" set)
 * and return the exit code. */
int bot_room_run(const struct bot_config *cfg);

#endif
