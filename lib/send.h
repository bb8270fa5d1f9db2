/* libbot: bot-send's engine. */
#ifndef BOT_SEND_H
#define BOT_SEND_H

#include "bot.h"

/* One-shot (--to) or filter, as cfg says.  Returns the exit code. */
int bot_send_run(const struct bot_config *cfg);

/* The session socket's side of bot-send, for bot-listen: the one answer
 * (a sent or error event) for a message or card event (look-only),
 * delivered on the connection be, without retries. */
struct bot_sender;
struct bot_sender *bot_sender_new(const struct bot_config *cfg, const struct bot_backend *b,
                                  void *be);
jv bot_sender_answer(struct bot_sender *s, jv ev);
void bot_sender_free(struct bot_sender *s);

#endif
