/* host.c: the program's side of a backend (struct bot_host) as bot-send
 * and bot-room give it: events dropped, never lagging; the state and
 * spool folders of the instance.  bot-listen's loop (serve.c) replaces
 * emit, up and lagging. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "backend.h"
#include "state.h"

struct host_priv {
	char instance[256];   /* BACKEND[@PROFILE] */
	char state[4096];     /* "" until asked for */
	unsigned long counter;
};

static void drop_event(struct bot_host *h, jv ev, jv mark)
{
	(void)h;
	const char *type = bot_str(ev, "type");
	bot_debug("event from the connection, not for this program: %s", type ? type : "?");
	jv_free(ev);
	jv_free(mark);
}

static void no_up(struct bot_host *h) { (void)h; }
static int never_lagging(struct bot_host *h) { (void)h; return 0; }

static const char *host_state_dir(struct bot_host *h, jv *err)
{
	struct host_priv *p = h->prog;
	if (!p->state[0] && bot_state_dir(p->instance, p->state, sizeof p->state, err) < 0) {
		p->state[0] = 0;
		return NULL;
	}
	return p->state;
}

/* ".ext" of name when it is short and plain (letters and digits), else "". */
static void safe_extension(const char *name, char *ext, size_t n)
{
	ext[0] = 0;
	const char *dot = name ? strrchr(name, '.') : NULL;
	if (!dot || !dot[1] || strlen(dot) > 9 || strlen(dot) >= n)
		return;
	for (const char *c = dot + 1; *c; c++)
		if (!isalnum((unsigned char)*c))
			return;
	for (size_t i = 0; dot[i]; i++)
		ext[i] = (char)tolower((unsigned char)dot[i]), ext[i + 1] = 0;
}

static int host_spool_path(struct bot_host *h, const char *name, char *buf, size_t n, jv *err)
{
	struct host_priv *p = h->prog;
	const char *dir = host_state_dir(h, err);
	if (!dir)
		return -1;
	char spool[4200], ext[16];
	snprintf(spool, sizeof spool, "%s/spool", dir);
	if (bot_mkdirs(spool) < 0) {
		*err = bot_fail_code("io_error", 1, "spool %s: %s", spool, strerror(errno));
		return -1;
	}
	safe_extension(name, ext, sizeof ext);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int k = snprintf(buf, n, "%s/%lld-%09ld-%lu%s", spool, (long long)ts.tv_sec, ts.tv_nsec,
	                 ++p->counter, ext);
	if (k < 0 || (size_t)k >= n) {
		*err = bot_fail_code("bad_config", 0, "spool: path too long");
		return -1;
	}
	return 0;
}

void bot_host_init(struct bot_host *h, const struct bot_config *cfg)
{
	memset(h, 0, sizeof *h);
	struct host_priv *p = calloc(1, sizeof *p);
	if (!p)
		abort();
	snprintf(p->instance, sizeof p->instance, "%s", cfg->instance ? cfg->instance : "none");
	h->size = sizeof *h;
	h->emit = drop_event;
	h->up = no_up;
	h->lagging = never_lagging;
	h->state_dir = host_state_dir;
	h->spool_path = host_spool_path;
	h->prog = p;
}

void bot_host_free(struct bot_host *h)
{
	free(h->prog);
	h->prog = NULL;
}
