/* libbot: bot-card's engine. */
#ifndef BOT_CARDTOOL_H
#define BOT_CARDTOOL_H

#include "bot.h"

/* Write a card event built from cfg, or with "render" set print it
 * rendered.  Returns the exit code. */
int bot_card_run(const struct bot_config *cfg, const struct bot_backend *const *builtin);

#endif
