/* libbot: bot-send's engine. */
#ifndef BOT_SEND_H
#define BOT_SEND_H

#include "bot.h"

/* One-shot (--to) or filter, as cfg says.  Returns the exit code. */
int bot_send_run(const struct bot_config *cfg);

struct bot_backend;
/* Check a request for the network (consumed): a message, card, reaction,
 * presence, stream, delete or room event that validates; else a
 * permanent failure ("unsupported" for another type, "bad_input"). */
jv bot_send_check(jv ev, const struct bot_backend *b);

#endif
