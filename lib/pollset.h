/* pollset.h: one poll loop for every asynchronous part of a program.
 *
 * Each turn the loop resets a struct bot_poll, lets every component add
 * what it waits for (X_prepare: fds with POLLIN/POLLOUT and the earliest
 * moment it must run again), waits once, then lets every component act
 * on what is ready (X_dispatch).  No threads: jv refcounts are not atomic.
 *
 *     struct bot_poll p = BOT_POLL_INIT;
 *     while (!bot_stop) {
 *         bot_poll_reset(&p);
 *         bot_http_multi_prepare(m, &p);
 *         bot_ws_prepare(ws, &p);
 *         if (bot_poll_wait(&p) < 0 && errno != EINTR) break;
 *         bot_http_multi_dispatch(m, &p);
 *         bot_ws_dispatch(ws, &p);
 *     }
 *     bot_poll_free(&p);
 */
/* (Not "poll.h": with -Ilib that name would hide the system's <poll.h>.) */
#ifndef BOT_POLLSET_H
#define BOT_POLLSET_H

#include <poll.h>
#include <stddef.h>

struct bot_poll {
	struct pollfd *fds;
	size_t n, cap;
	long long deadline;     /* monotonic ms (bot_now_ms), -1 = none */
};

#define BOT_POLL_INIT { NULL, 0, 0, -1 }

/* Empty the set for a new turn (keeps the memory). */
void bot_poll_reset(struct bot_poll *p);
void bot_poll_free(struct bot_poll *p);
/* Wait for events (POLLIN, POLLOUT) on fd; several calls for one fd merge. */
void bot_poll_want(struct bot_poll *p, int fd, short events);
/* Wake no later than at_ms (bot_now_ms's clock); the earliest one wins. */
void bot_poll_deadline(struct bot_poll *p, long long at_ms);
/* poll() until an fd is ready or the deadline passes.  Returns the number
 * of ready fds, 0 at the deadline, -1 with errno (EINTR when a signal came:
 * the caller checks bot_stop). */
int bot_poll_wait(struct bot_poll *p);
/* What happened on fd in the last wait (0 when it was not in the set). */
short bot_poll_revents(const struct bot_poll *p, int fd);

#endif
