/* sendq.c: the one delivery engine, on ABI 2.  bot-send (with retries),
 * bot-room and bot-listen's session (without: the client retries) queue
 * events here; the queue expands "to" (build_identifier may fail for now),
 * renders and cuts messages into parts, gives each part its idempotency
 * key, waits for the rate limiter, submits the parts one after the other,
 * retries what fails for now by the one retry policy, and answers each
 * event once: a "sent" event (every part's id), a room answer, or a
 * failure.  Events go out in the order they were queued.
 * Same ownership rules as bot.h. */
#ifndef BOT_SENDQ_H
#define BOT_SENDQ_H

#include "backend.h"

struct bot_sendq_opts {
	int retries;            /* attempts after the first, per part */
	double give_up_after;   /* seconds per part, 0 = no limit */
	int raw;                /* --raw: no markdown, only cut */
	const char *markup;     /* NULL: the backend's */
};

struct bot_sendq;
/* The markup must be known (bot_markup_known). */
struct bot_sendq *bot_sendq_new(const struct bot_backend *b, void *be,
                                const struct bot_sendq_opts *o);
/* Answers what is still queued with a temporary "connection_lost".  Close
 * the backend first: its close answers what it holds. */
void bot_sendq_free(struct bot_sendq *q);
/* Queue ev (consumed): a message or card, or a reaction, presence,
 * stream, delete or room event, already checked (bot_validate).  done
 * gets the answer (a sent event, a room answer, or a failure; consumed),
 * from bot_sendq_dispatch, never from push. */
void bot_sendq_push(struct bot_sendq *q, jv ev, bot_done_fn done, void *ctx);
/* The queue's deadline (a retry or rate-limit wait) for this turn. */
void bot_sendq_prepare(struct bot_sendq *q, struct bot_poll *p);
/* Submit what may go now; answer what has ended. */
void bot_sendq_dispatch(struct bot_sendq *q);
/* 1 when nothing is queued. */
int bot_sendq_empty(const struct bot_sendq *q);
const char *bot_sendq_markup(const struct bot_sendq *q);
/* Look-only: null when b can deliver ev's type, else the "unsupported"
 * failure that names what it cannot. */
jv bot_sendq_unsupported(const struct bot_backend *b, jv ev);
/* For bot-send and bot-room, which have no loop of their own: run the
 * backend and the queue until *flag is set (0), or bot_stop or
 * deadline_ms passed (-1; deadline -1: none). */
int bot_sendq_run_until(struct bot_sendq *q, const int *flag, long long deadline_ms);
/* After the last push: run until the backend's idle says it is done
 * (a lazy connection's graceful quit), at most until deadline_ms. */
void bot_sendq_finish(struct bot_sendq *q, long long deadline_ms);

#endif
