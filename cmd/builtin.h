/* The backends embedded in every program (the rest are modules). */
#ifndef BOT_BUILTIN_H
#define BOT_BUILTIN_H
#include "bot.h"
extern const struct bot_backend bot_backend_text;
static const struct bot_backend *const bot_builtin[] = { &bot_backend_text, NULL };
#endif
