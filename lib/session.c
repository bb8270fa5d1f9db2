/* session.c: the session socket.  bot-listen holds one connection to the
 * chat network; bot-send and bot-room, finding its socket, hand it their
 * events instead of connecting as a second identity.  A Unix stream
 * socket, mode 0600 in a 0700 folder, peers checked to be our own user;
 * NDJSON both ways, one answer line per request line, in order. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "bot.h"
#include "session.h"

#define SESSION_LINE_MAX (16u << 20)

struct client {
	int fd;
	struct bot_reader *r;
	struct bot_writer *w;
};

struct bot_session {
	int fd;
	char path[sizeof ((struct sockaddr_un *)0)->sun_path];
	bot_session_handler handle;
	void *ctx;
	struct client clients[BOT_SESSION_CLIENTS];
	int nclients;
};

struct bot_session_client {
	int fd;
	struct bot_reader *r;
	struct bot_writer *w;
};

int bot_session_path(const struct bot_config *cfg, char *buf, size_t n)
{
	const char *set = bot_cfg_str(cfg, "session"), *run = getenv("XDG_RUNTIME_DIR");
	const char *profile = bot_cfg_str(cfg, "profile");
	const char *backend = cfg->backend ? cfg->backend->name : "text";
	int len;
	if (set && !strcmp(set, "none"))
		return -1;   /* no session: act on a connection of one's own */
	if (set && *set)
		len = snprintf(buf, n, "%s", set);
	else if (run && *run && profile)
		len = snprintf(buf, n, "%s/botpipe/%s@%s.sock", run, backend, profile);
	else if (run && *run)
		len = snprintf(buf, n, "%s/botpipe/%s.sock", run, backend);
	else
		return -1;
	return len > 0 && (size_t)len < n ? 0 : -1;
}

static int fill_addr(struct sockaddr_un *a, const char *path)
{
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof a->sun_path)
		return -1;
	memcpy(a->sun_path, path, strlen(path) + 1);
	return 0;
}

/* The folder of path, made 0700 when we create it; one that others can
 * write into is refused. */
static int make_dir(const char *path, jv *err)
{
	char dir[sizeof ((struct sockaddr_un *)0)->sun_path];
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = 0;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		*err = bot_fail("session: %s: %s", dir, strerror(errno));
		return -1;
	}
	struct stat st;
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != getuid() ||
	    (st.st_mode & 022)) {
		*err = bot_fail("session: %s: not a private folder of ours", dir);
		return -1;
	}
	return 0;
}

/* 1 when something answers at path. */
static int alive(const char *path)
{
	struct sockaddr_un a;
	if (fill_addr(&a, path) < 0)
		return 0;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
	close(fd);
	return ok;
}

struct bot_session *bot_session_listen(const char *path, bot_session_handler h,
                                       void *ctx, jv *err)
{
	struct sockaddr_un a;
	if (fill_addr(&a, path) < 0) {
		*err = bot_fail("session: path too long");
		return NULL;
	}
	if (make_dir(path, err) < 0)
		return NULL;
	if (alive(path)) {
		*err = bot_fail("session: %s: another bot-listen holds this session", path);
		return NULL;
	}
	unlink(path);   /* stale: its bot-listen is gone */
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	mode_t old = umask(077);
	int rc = fd < 0 ? -1 : bind(fd, (struct sockaddr *)&a, sizeof a);
	umask(old);
	if (rc < 0 || chmod(path, 0600) < 0 || listen(fd, 8) < 0) {
		*err = bot_fail("session: %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	struct bot_session *s = calloc(1, sizeof *s);
	if (!s)
		abort();
	s->fd = fd;
	snprintf(s->path, sizeof s->path, "%s", path);
	s->handle = h;
	s->ctx = ctx;
	return s;
}

int bot_session_pollfds(struct bot_session *s, struct pollfd *fds, int max)
{
	int n = 0;
	if (max > 0)
		fds[n++] = (struct pollfd){ .fd = s->fd, .events = POLLIN };
	for (int i = 0; i < s->nclients && n < max; i++)
		fds[n++] = (struct pollfd){ .fd = s->clients[i].fd, .events = POLLIN };
	return n;
}

static void drop_client(struct bot_session *s, int i)
{
	bot_reader_free(s->clients[i].r);
	bot_writer_free(s->clients[i].w);
	close(s->clients[i].fd);
	s->clients[i] = s->clients[--s->nclients];
}

/* Only our own user may act as the bot, whatever the file's mode. */
static int peer_is_us(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof cred;
	return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.uid == getuid();
}

static void accept_clients(struct bot_session *s)
{
	for (;;) {
		int fd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return;
		if (s->nclients == BOT_SESSION_CLIENTS || !peer_is_us(fd)) {
			close(fd);
			continue;
		}
		/* answers are small; a client that stops reading is dropped */
		struct timeval tv = { .tv_sec = 5 };
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		struct client *c = &s->clients[s->nclients++];
		c->fd = fd;
		c->r = bot_reader_new(fd, "<session>", SESSION_LINE_MAX);
		c->w = bot_writer_new(fd);
	}
}

/* Answer every complete request of client i; 0 keeps it, -1 drops it. */
static int serve_client(struct bot_session *s, int i)
{
	struct client *c = &s->clients[i];
	int rc = bot_reader_fill(c->r);
	jv ev;
	int got;
	while ((got = bot_reader_next(c->r, &ev)) != 0) {
		jv answer = got > 0 ? s->handle(s->ctx, ev) : jv_copy(ev);
		jv_free(ev);
		if (bot_write(c->w, answer) < 0 || bot_writer_flush(c->w) < 0)
			return -1;
	}
	return rc <= 0 ? -1 : 0;
}

void bot_session_ready(struct bot_session *s, const struct pollfd *fds, int n)
{
	for (int k = n - 1; k >= 1; k--) {
		if (!(fds[k].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		for (int i = 0; i < s->nclients; i++)
			if (s->clients[i].fd == fds[k].fd) {
				if (serve_client(s, i) < 0)
					drop_client(s, i);
				break;
			}
	}
	if (n > 0 && (fds[0].revents & POLLIN))
		accept_clients(s);
}

void bot_session_close(struct bot_session *s)
{
	if (!s)
		return;
	while (s->nclients)
		drop_client(s, 0);
	close(s->fd);
	unlink(s->path);
	free(s);
}

struct bot_session_client *bot_session_connect(const char *path)
{
	struct sockaddr_un a;
	struct stat st;
	if (!path || fill_addr(&a, path) < 0 || lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode) ||
	    st.st_uid != getuid())
		return NULL;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
		close(fd);
		return NULL;
	}
	struct bot_session_client *c = calloc(1, sizeof *c);
	if (!c)
		abort();
	c->fd = fd;
	c->r = bot_reader_new(fd, "<session>", SESSION_LINE_MAX);
	c->w = bot_writer_new(fd);
	return c;
}

jv bot_session_call(struct bot_session_client *c, jv request, long timeout_ms)
{
	if (bot_write(c->w, jv_copy(request)) < 0 || bot_writer_flush(c->w) < 0)
		return bot_fail_code("session_lost", 1, "session: %s", strerror(errno));
	long long until = bot_now_ms() + timeout_ms;
	for (;;) {
		jv ev;
		int got = bot_reader_next(c->r, &ev);
		if (got != 0)
			return ev;   /* an answer, or the error event for a bad line */
		long long left = until - bot_now_ms();
		if (left <= 0)
			return bot_fail_code("session_lost", 1, "session: no answer in %ld ms", timeout_ms);
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		if (poll(&p, 1, left > 1000 ? 1000 : (int)left) < 0 && errno != EINTR)
			return bot_fail_code("session_lost", 1, "session: %s", strerror(errno));
		if (p.revents && bot_reader_fill(c->r) <= 0 && !bot_reader_pending(c->r))
			return bot_fail_code("session_lost", 1, "session: bot-listen went away");
	}
}

void bot_session_disconnect(struct bot_session_client *c)
{
	if (!c)
		return;
	bot_reader_free(c->r);
	bot_writer_free(c->w);
	close(c->fd);
	free(c);
}
