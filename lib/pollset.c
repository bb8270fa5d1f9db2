/* pollset.c: the poll set every asynchronous component fills (see pollset.h). */
#include <stdlib.h>

#include "bot.h"
#include "pollset.h"

void bot_poll_reset(struct bot_poll *p)
{
	p->n = 0;
	p->deadline = -1;
}

void bot_poll_free(struct bot_poll *p)
{
	free(p->fds);
	p->fds = NULL;
	p->n = p->cap = 0;
	p->deadline = -1;
}

void bot_poll_want(struct bot_poll *p, int fd, short events)
{
	if (fd < 0)
		return;
	for (size_t i = 0; i < p->n; i++)
		if (p->fds[i].fd == fd) {
			p->fds[i].events |= events;
			return;
		}
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 8;
		struct pollfd *f = realloc(p->fds, cap * sizeof *f);
		if (!f)
			abort();   /* as jv does: out of memory is not the caller's problem */
		p->fds = f;
		p->cap = cap;
	}
	p->fds[p->n++] = (struct pollfd){ .fd = fd, .events = events };
}

void bot_poll_deadline(struct bot_poll *p, long long at_ms)
{
	if (at_ms >= 0 && (p->deadline < 0 || at_ms < p->deadline))
		p->deadline = at_ms;
}

int bot_poll_wait(struct bot_poll *p)
{
	int timeout = -1;
	if (p->deadline >= 0) {
		long long left = p->deadline - bot_now_ms();
		timeout = left <= 0 ? 0 : left > 86400000 ? 86400000 : (int)left;
	}
	for (size_t i = 0; i < p->n; i++)
		p->fds[i].revents = 0;
	/* A signal that lands between the caller's bot_stop check and poll()
	 * is seen at the next wake-up at the latest. */
	return poll(p->fds, (nfds_t)p->n, timeout);
}

short bot_poll_revents(const struct bot_poll *p, int fd)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->fds[i].fd == fd)
			return p->fds[i].revents;
	return 0;
}
