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

#include "backend.h"
#include "session.h"

#define SESSION_LINE_MAX (16u << 20)
/* Answers queued for one client past which its requests wait unread. */
#define SESSION_QUEUE_MAX (64u << 10)

struct client {
	int fd;
	struct bot_reader *r;
	struct bot_writer *w;      /* async: bot-listen never waits for a client */
	long long stuck_since;     /* ms since answers wait unwritten; 0 none */
	int eof;                   /* it sent all it will: close once answered */
	unsigned long long pending; /* the ticket of a request answered later, or 0 */
};

struct bot_session {
	int fd;
	char path[sizeof ((struct sockaddr_un *)0)->sun_path];
	bot_session_handler handle;
	void *ctx;
	struct client clients[BOT_SESSION_CLIENTS];
	int nclients;
	unsigned long long tickets;
};

struct bot_session_client {
	int fd;
	struct bot_reader *r;
	struct bot_writer *w;
};

/* The folder for the session sockets when --session does not name one:
 * $XDG_RUNTIME_DIR/botpipe, else (cron gives no XDG_RUNTIME_DIR) the
 * folder systemd makes for us, /run/user/UID/botpipe, when it is there,
 * else ${TMPDIR:-/tmp}/botpipe-UID, as tmux does.  0, or -1. */
static int runtime_dir(char *buf, size_t n)
{
	const char *run = getenv("XDG_RUNTIME_DIR"), *tmp = getenv("TMPDIR");
	unsigned uid = (unsigned)getuid();
	char sysd[64];
	struct stat st;
	int len;
	snprintf(sysd, sizeof sysd, "/run/user/%u", uid);
	if (run && *run)
		len = snprintf(buf, n, "%s/botpipe", run);
	else if (lstat(sysd, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == uid &&
	         !(st.st_mode & 077))
		len = snprintf(buf, n, "%s/botpipe", sysd);
	else
		len = snprintf(buf, n, "%s/botpipe-%u", tmp && *tmp ? tmp : "/tmp", uid);
	return len > 0 && (size_t)len < n ? 0 : -1;
}

/* FNV-1a over the backend's identity settings (BOT_OPT_IDENTITY), each
 * "name=value\n" as resolved: the same for two programs exactly when
 * they would make the same connection.  Secrets are never identity. */
static unsigned long long identity_hash(const struct bot_config *cfg, int *any)
{
	unsigned long long h = 0xcbf29ce484222325ull;
	*any = 0;
	for (const struct bot_option *o = cfg->backend ? cfg->backend->options : NULL; o && o->name; o++) {
		if (!(o->type & BOT_OPT_IDENTITY))
			continue;
		*any = 1;
		jv v = jv_object_get(jv_copy(cfg->values), jv_string(o->name));
		jv text = jv_dump_string(jv_is_valid(v) ? v : jv_null(), 0);
		if (!jv_is_valid(v))
			jv_free(v);
		char line[4096];
		int len = snprintf(line, sizeof line, "%s=%s\n", o->name, jv_string_value(text));
		jv_free(text);
		for (int i = 0; i < len && i < (int)sizeof line - 1; i++)
			h = (h ^ (unsigned char)line[i]) * 0x100000001b3ull;
	}
	return h;
}

int bot_session_path(const struct bot_config *cfg, char *buf, size_t n)
{
	const char *set = bot_cfg_str(cfg, "session");
	const char *backend = cfg->backend ? cfg->backend->name : "text";
	char dir[4096], id[24] = "";
	int len, any;
	if (set && !strcmp(set, "none"))
		return -1;   /* no session: act on a connection of one's own */
	if (set && *set) {
		len = snprintf(buf, n, "%s", set);
		return len > 0 && (size_t)len < n ? 1 : -1;
	}
	if (runtime_dir(dir, sizeof dir) < 0)
		return -1;
	unsigned long long h = identity_hash(cfg, &any);
	if (any)
		snprintf(id, sizeof id, "-%016llx", h);
	len = snprintf(buf, n, "%s/%s%s.sock", dir, cfg->instance ? cfg->instance : backend, id);
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

/* The folder of path, made 0700 when we create it.  One that is not ours
 * (a symlink, another user's) or that others may write into is refused;
 * so is one where others may look, unless --session named it. */
static int check_dir(const char *dir, mode_t refused)
{
	struct stat st;
	return lstat(dir, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == getuid() &&
	       !(st.st_mode & refused) ? 0 : -1;
}

static int dir_of(const char *path, char *dir, size_t n)
{
	snprintf(dir, n, "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash)
		return -1;
	if (slash == dir)
		slash[1] = 0;
	else
		*slash = 0;
	return 0;
}

static int make_dir(const char *path, int chosen, jv *err)
{
	char dir[sizeof ((struct sockaddr_un *)0)->sun_path];
	if (dir_of(path, dir, sizeof dir) < 0)
		return 0;   /* a bare name: the current folder, the user's choice */
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		*err = bot_fail("session: %s: %s", dir, strerror(errno));
		return -1;
	}
	if (check_dir(dir, chosen ? 022 : 077) < 0) {
		*err = bot_fail("session: %s: not a private folder of ours (it must be owned by us, mode 0700)", dir);
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

struct bot_session *bot_session_listen(const char *path, int chosen,
                                       bot_session_handler h, void *ctx, jv *err)
{
	struct sockaddr_un a;
	if (fill_addr(&a, path) < 0) {
		*err = bot_fail("session: path too long");
		return NULL;
	}
	if (make_dir(path, chosen, err) < 0)
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

/* A client is read while it has few answers waiting, and written to
 * while any wait. */
int bot_session_pollfds(struct bot_session *s, struct pollfd *fds, int max)
{
	int n = 0;
	if (max > 0)
		fds[n++] = (struct pollfd){ .fd = s->fd, .events = POLLIN };
	for (int i = 0; i < s->nclients && n < max; i++) {
		struct client *c = &s->clients[i];
		short ev = 0;
		if (!c->eof && !c->pending && bot_writer_queued(c->w) < SESSION_QUEUE_MAX)
			ev |= POLLIN;
		if (bot_writer_pending(c->w))
			ev |= POLLOUT;
		fds[n++] = (struct pollfd){ .fd = c->fd, .events = ev };
	}
	return n;
}

static void drop_client(struct bot_session *s, int i)
{
	struct client *c = &s->clients[i];
	/* what is still queued is dropped with it: the writer's last flush
	 * fails at once instead of waiting for a reader that is not there */
	shutdown(c->fd, SHUT_RDWR);
	bot_reader_free(c->r);
	bot_writer_free(c->w);
	close(c->fd);
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
		struct client *c = &s->clients[s->nclients++];
		*c = (struct client){ .fd = fd };
		c->r = bot_reader_new(fd, "<session>", SESSION_LINE_MAX);
		c->w = bot_writer_new(fd);
		bot_writer_set_async(c->w, 1);
	}
}

/* Write what client c takes now; note since when it takes nothing.
 * 0, or -1 when it is gone. */
static int flush_client(struct client *c)
{
	size_t before = bot_writer_queued(c->w);
	if (!before) {
		c->stuck_since = 0;
		return 0;
	}
	if (bot_writer_try_flush(c->w) < 0)
		return -1;
	size_t after = bot_writer_queued(c->w);
	if (!after)
		c->stuck_since = 0;
	else if (after < before || !c->stuck_since)
		c->stuck_since = bot_now_ms();   /* it reads: the clock starts again */
	return 0;
}

/* Answer the complete requests of client c buffered now, in order, up to
 * one answered later.  0, or -1 when it is gone. */
static int answer_buffered(struct bot_session *s, struct client *c)
{
	jv ev;
	int got;
	while (!c->pending && bot_writer_queued(c->w) < SESSION_QUEUE_MAX &&
	       (got = bot_reader_next(c->r, &ev)) != 0) {
		unsigned long long ticket = ++s->tickets;
		jv answer = got > 0 ? s->handle(s->ctx, ev, ticket) : jv_copy(ev);
		jv_free(ev);
		if (!jv_is_valid(answer) && !jv_invalid_has_msg(jv_copy(answer))) {
			c->pending = ticket;   /* bot_session_answer comes with it */
			break;
		}
		if (bot_write(c->w, answer) < 0)
			return -1;
	}
	return 0;
}

/* Answer every complete request of client c; 0 keeps it, -1 drops it. */
static int serve_client(struct bot_session *s, struct client *c)
{
	int rc = bot_reader_fill(c->r);
	if (answer_buffered(s, c) < 0)
		return -1;
	if (rc < 0)
		return -1;
	if (rc == 0)
		c->eof = 1;   /* a half-close (socat, shutdown): answer, then close */
	return flush_client(c);
}

/* A client whose answers could not be written for this long is dropped,
 * so one that stops reading never holds bot-listen up. */
#define SESSION_SEND_MS 5000

void bot_session_ready(struct bot_session *s, const struct pollfd *fds, int n)
{
	for (int k = n - 1; k >= 1; k--) {
		if (!fds[k].revents)
			continue;
		for (int i = 0; i < s->nclients; i++) {
			struct client *c = &s->clients[i];
			if (c->fd != fds[k].fd)
				continue;
			int rc = 0;
			if (fds[k].revents & POLLOUT)
				rc = flush_client(c);
			if (rc == 0 && (fds[k].revents & (POLLIN | POLLHUP | POLLERR)) && !c->eof)
				rc = serve_client(s, c);
			if (rc == 0 && (fds[k].revents & POLLERR))
				rc = -1;
			if (rc < 0)
				drop_client(s, i);
			break;
		}
	}
	long long now = bot_now_ms();
	for (int i = s->nclients - 1; i >= 0; i--) {
		struct client *c = &s->clients[i];
		/* requests read while answers waited, answered now there is room */
		if (!c->eof && !c->pending && bot_reader_pending(c->r) &&
		    bot_writer_queued(c->w) < SESSION_QUEUE_MAX && serve_client(s, c) < 0) {
			drop_client(s, i);
			continue;
		}
		int done = c->eof && !c->pending && !bot_writer_pending(c->w) && !bot_reader_pending(c->r);
		int stuck = c->stuck_since && now - c->stuck_since > SESSION_SEND_MS;
		if (done || stuck)
			drop_client(s, i);
	}
	if (n > 0 && (fds[0].revents & POLLIN))
		accept_clients(s);
}

void bot_session_answer(struct bot_session *s, unsigned long long ticket, jv answer)
{
	for (int i = 0; s && i < s->nclients; i++) {
		struct client *c = &s->clients[i];
		if (c->pending != ticket)
			continue;
		c->pending = 0;
		if (bot_write(c->w, answer) < 0 || answer_buffered(s, c) < 0 || flush_client(c) < 0)
			drop_client(s, i);
		return;
	}
	jv_free(answer);   /* the client left meanwhile */
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

/* Our events go only to a bot-listen of our own user, found in a folder
 * that no one else could have put a socket into. */
struct bot_session_client *bot_session_connect(const char *path)
{
	struct sockaddr_un a;
	struct stat st;
	char dir[sizeof a.sun_path];
	if (!path || fill_addr(&a, path) < 0 || lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode) ||
	    st.st_uid != getuid())
		return NULL;
	if (dir_of(path, dir, sizeof dir) == 0 && check_dir(dir, 022) < 0)
		return NULL;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0 || !peer_is_us(fd)) {
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
