/* irc.c: the IRC backend (RFC 1459/2812, with IRCv3 SASL PLAIN).
 *
 * Plain IRC runs over a socket of our own, so a plain-IRC bot loads neither
 * libcurl nor OpenSSL.  TLS goes through libbothttp's connect-only stream,
 * loaded with dlopen only when --irc-tls is on.
 *
 * Every operation that must know its outcome (a send, a join, NAMES, ...)
 * is a round trip: its lines, then "PING :token"; the server answers in
 * order, so every error numeric about those lines arrives before the PONG.
 * A send therefore reports 401/404 as errors, and a connection that dies
 * before the PONG is retried on a new one: nothing is lost in between.
 *
 * Hostile text: every line that reaches the wire goes through write_line,
 * which refuses CR, LF and NUL; message text is cut into lines first and
 * stripped of CR and NUL, so "hi\r\nQUIT" is one PRIVMSG.
 */
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bot.h"
#include "render.h"

#define IRC_LINE_MAX 512            /* RFC 1459: one line with its CRLF */
#define IRC_IN_MAX (8191 + 512)     /* IRCv3: tags, then a line */
#define IRC_PARAMS_MAX 15
#define IRC_QUEUE_MAX 10000         /* lines waiting for the flood bucket */
/* What a server can make us hold is bounded (doc/SECURITY.md, "IRC"):
 * past a bound the rest is dropped, with a note at most every
 * IRC_NOTE_MS. */
#define IRC_TURN_BYTES 32768        /* read per on_ready turn, then the loop runs */
#define IRC_NAMES_CHANNELS_MAX 64   /* channels whose NAMES reply is coming in */
#define IRC_NAMES_MAX 20000         /* nicks held for them, all channels */
#define IRC_JOINED_MAX 1000         /* channels we are in */
#define IRC_RT_COST_MAX (4u << 20)  /* answers kept for one round trip, ~bytes */
#define IRC_RT_READ_MAX (8u << 20)  /* read in one round trip while listening */
#define IRC_NOTE_MS 10000
#define IRC_IDLE_MS 120000          /* PING the server after this silence */
#define IRC_PING_GRACE_MS 60000     /* ...and give up this long after */
#define IRC_REGISTER_MS 30000
#define IRC_ROUNDTRIP_MS 60000
#define IRC_CONNECT_MS 10000
#define IRC_NICK_TRIES 8
#define IRC_HOST_MAX 63             /* the host others see, when unknown */

static const struct bot_option irc_options[] = {
	{ "irc-server", 0, BOT_OPT_STR | BOT_OPT_IDENTITY, "HOST[:PORT]", "localhost", "the IRC server (port 6667, or 6697 with --irc-tls)" },
	{ "irc-nick", 0, BOT_OPT_STR | BOT_OPT_IDENTITY, "NICK", "botpipe", "the bot's nick (a collision appends _)" },
	{ "irc-user", 0, BOT_OPT_STR | BOT_OPT_IDENTITY, "USER", "botpipe", "the user name sent at registration" },
	{ "irc-realname", 0, BOT_OPT_STR, "TEXT", "botpipe bot", "the real name sent at registration" },
	{ "irc-password", 0, BOT_OPT_SECRET, "PASSWORD", NULL, "the server password (PASS)" },
	{ "irc-sasl-user", 0, BOT_OPT_STR | BOT_OPT_IDENTITY, "USER", NULL, "log in with SASL PLAIN as USER" },
	{ "irc-sasl-password", 0, BOT_OPT_SECRET, "PASSWORD", NULL, "the SASL password" },
	{ "irc-channels", 0, BOT_OPT_LIST, "#CHAN", NULL, "join #CHAN after connecting (repeat, or a comma list)" },
	{ "irc-tls", 0, BOT_OPT_FLAG | BOT_OPT_IDENTITY, NULL, NULL, "connect with TLS, checking the certificate and host name" },
	{ "irc-cafile", 0, BOT_OPT_STR, "FILE", NULL, "with --irc-tls: trust the CA certificates in FILE" },
	{ "irc-rate", 0, BOT_OPT_STR, "LINES", "1", "flood control: lines a second after the burst" },
	{ "irc-burst", 0, BOT_OPT_INT, "LINES", "5", "flood control: lines sent at once before pacing" },
	BOT_OPTIONS_END
};

/* ---- the line parser --------------------------------------------------- */

struct irc_msg {
	char *tags;         /* without '@', or NULL */
	char *prefix;       /* without ':', or NULL */
	char *command;
	char *params[IRC_PARAMS_MAX];
	int nparams;
};

/* Split one line (NUL-terminated, CR/LF already gone) in place.  Extra
 * spaces are tolerated; a 15th parameter takes the rest of the line.
 * 0, or -1 when there is no command. */
static int irc_parse(char *line, struct irc_msg *m)
{
	char *p = line;
	memset(m, 0, sizeof *m);
	while (*p == ' ')
		p++;
	if (*p == '@') {
		m->tags = ++p;
		p += strcspn(p, " ");
		if (*p)
			*p++ = 0;
		while (*p == ' ')
			p++;
	}
	if (*p == ':') {
		m->prefix = ++p;
		p += strcspn(p, " ");
		if (*p)
			*p++ = 0;
		while (*p == ' ')
			p++;
	}
	if (!*p)
		return -1;
	m->command = p;
	p += strcspn(p, " ");
	while (*p) {
		*p++ = 0;
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		if (*p == ':' || m->nparams == IRC_PARAMS_MAX - 1) {
			m->params[m->nparams++] = *p == ':' ? p + 1 : p;
			break;
		}
		m->params[m->nparams++] = p;
		p += strcspn(p, " ");
	}
	return 0;
}

/* Split a prefix nick!user@host in place; user and host are "" when absent. */
static void irc_split_mask(char *prefix, const char **nick, const char **user,
                           const char **host)
{
	char *bang = strchr(prefix, '!'), *at = strchr(prefix, '@');
	*nick = prefix;
	*user = *host = "";
	if (at) {
		*at = 0;
		*host = at + 1;
	}
	if (bang && (!at || bang < at)) {
		*bang = 0;
		*user = bang + 1;
	}
}

/* ---- identifiers ------------------------------------------------------- */

static int is_special(int c) { return strchr("[]\\`_^{|}", c) != NULL; }

/* RFC 2812 nick: a letter or special, then letters, digits, specials, '-'. */
static int nick_ok(const char *s, size_t n)
{
	if (n == 0 || n > 64)
		return 0;
	unsigned char c = (unsigned char)s[0];
	if (!(isalpha(c) || is_special(c)))
		return 0;
	for (size_t i = 1; i < n; i++) {
		c = (unsigned char)s[i];
		if (!(isalnum(c) || is_special(c) || c == '-'))
			return 0;
	}
	return 1;
}

static int is_chantype(int c) { return c == '#' || c == '&' || c == '+' || c == '!'; }

/* A channel: a type character, then up to 199 bytes that are not space,
 * comma, BEL, ':' or a line break; '/' is kept for occupants. */
static int chan_ok(const char *s, size_t n)
{
	if (n < 2 || n > 200 || !is_chantype((unsigned char)s[0]))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (strchr(" ,\a:/\r\n", s[i]) || s[i] == 0)
			return 0;
	return 1;
}

/* A user or host part of a mask: printable, no space, '!' or '@'. */
static int mask_part_ok(const char *s, size_t n)
{
	if (n == 0 || n > 255)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == '!' || s[i] == '@' || s[i] == 0x7f)
			return 0;
	return 1;
}

/* A person from a nick and, when known, user and host. */
static jv irc_person(const char *nick, const char *user, const char *host)
{
	jv p = bot_person("", nick);
	p = jv_object_set(p, jv_string("id"), jv_string_fmt("@%s", nick));
	p = jv_object_set(p, jv_string("person"), jv_string_fmt("@%s", nick));
	if (user && *user && host && *host) {
		jv mask = jv_string_fmt("%s!%s@%s", nick, user, host);
		p = jv_object_set(p, jv_string("client"), jv_copy(mask));
		p = jv_object_set(p, jv_string("aclattr"), mask);
	}
	return p;
}

/* An occupant #chan/nick, with the person's fields. */
static jv irc_occupant(const char *chan, const char *nick, const char *user,
                       const char *host)
{
	jv o = bot_occupant(chan, nick, NULL);
	o = jv_object_set(o, jv_string("person"), jv_string_fmt("@%s", nick));
	if (user && *user && host && *host) {
		jv mask = jv_string_fmt("%s!%s@%s", nick, user, host);
		o = jv_object_set(o, jv_string("client"), jv_copy(mask));
		o = jv_object_set(o, jv_string("aclattr"), mask);
	}
	return o;
}

/* Read "@nick", "nick", "nick!user@host", "#chan" or "#chan/nick". */
static jv irc_parse_identifier(const char *s)
{
	size_t n = strlen(s);
	if (n && is_chantype((unsigned char)s[0])) {
		const char *slash = strrchr(s, '/');
		if (!slash)
			return chan_ok(s, n) ? bot_room(s) : bot_fail("'%.64s' is not an IRC channel", s);
		size_t cn = (size_t)(slash - s);
		if (!chan_ok(s, cn) || !nick_ok(slash + 1, strlen(slash + 1)))
			return bot_fail("an IRC occupant is #channel/nick");
		char chan[201];
		snprintf(chan, sizeof chan, "%.*s", (int)cn, s);
		return irc_occupant(chan, slash + 1, NULL, NULL);
	}
	if (n && s[0] == '@') {
		s++;
		n--;
	}
	const char *bang = memchr(s, '!', n), *at = memchr(s, '@', n);
	if (!bang && !at)
		return nick_ok(s, n) ? irc_person(s, NULL, NULL)
		                     : bot_fail("an IRC identifier is @nick, nick!user@host, #channel or #channel/nick");
	if (!bang || !at || at < bang || !nick_ok(s, (size_t)(bang - s)) ||
	    !mask_part_ok(bang + 1, (size_t)(at - bang - 1)) ||
	    !mask_part_ok(at + 1, n - (size_t)(at - s) - 1))
		return bot_fail("an IRC identifier is @nick, nick!user@host, #channel or #channel/nick");
	char nick[65], user[256], host[256];
	snprintf(nick, sizeof nick, "%.*s", (int)(bang - s), s);
	snprintf(user, sizeof user, "%.*s", (int)(at - bang - 1), bang + 1);
	snprintf(host, sizeof host, "%s", at + 1);
	return irc_person(nick, user, host);
}

/* ---- text -------------------------------------------------------------- */

/* Remove mIRC formatting (bold, colours, ...) from inbound text, and read
 * text that is not UTF-8 as Latin-1, as IRC clients do. */
static jv irc_clean_text(const char *s, size_t n)
{
	char *out = malloc(n * 2 + 1);
	size_t o = 0;
	int utf8 = bot_utf8_valid(s, n);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == 0x03) {            /* colour: \x03[NN[,NN]] */
			size_t k = 0;
			while (k < 2 && i + 1 < n && isdigit((unsigned char)s[i + 1]))
				i++, k++;
			if (k && i + 2 < n && s[i + 1] == ',' && isdigit((unsigned char)s[i + 2])) {
				i += 2;
				if (i + 1 < n && isdigit((unsigned char)s[i + 1]))
					i++;
			}
			continue;
		}
		if (c == 0x04) {            /* hex colour: \x04RRGGBB */
			size_t k = 0;
			while (k < 6 && i + 1 < n && isxdigit((unsigned char)s[i + 1]))
				i++, k++;
			continue;
		}
		if (c < 0x20 && c != '\t')
			continue;               /* \x02 \x0f \x11 \x16 \x1d \x1e \x1f, and the rest */
		if (c >= 0x80 && !utf8) {
			out[o++] = (char)(0xc0 | (c >> 6));
			out[o++] = (char)(0x80 | (c & 0x3f));
			continue;
		}
		out[o++] = (char)c;
	}
	jv r = jv_string_sized(out, (int)o);
	free(out);
	return r;
}

/* The length of the longest prefix of s (at most max bytes) that does not
 * end inside a UTF-8 sequence. */
static size_t utf8_cut(const char *s, size_t n, size_t max)
{
	if (n <= max)
		return n;
	size_t k = max;
	while (k > 0 && ((unsigned char)s[k] & 0xc0) == 0x80)
		k--;
	return k ? k : max;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void base64(const unsigned char *in, size_t n, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) |
		             (i + 2 < n ? in[i + 2] : 0);
		out[o++] = b64[v >> 18 & 63];
		out[o++] = b64[v >> 12 & 63];
		out[o++] = i + 1 < n ? b64[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? b64[v & 63] : '=';
	}
	out[o] = 0;
}

/* ---- TLS through libbothttp, loaded on demand -------------------------- */

struct bot_stream;
struct tls_api {
	struct bot_stream *(*open)(const char *host, int port, int tls, const char *cafile,
	                           long timeout_ms, jv *err);
	int (*fd)(const struct bot_stream *s);
	ssize_t (*send)(struct bot_stream *s, const void *buf, size_t len, jv *err);
	ssize_t (*recv)(struct bot_stream *s, void *buf, size_t len, jv *err);
	void (*close)(struct bot_stream *s);
};
#define BOT_STREAM_AGAIN (-2)

/* libbothttp beside libbot: one folder above irc.so, named by path (a
 * bare soname would be looked up through the caller's run path, and under
 * ASan the caller dlopen sees is the sanitizer's runtime), else by soname. */
static void *tls_dlopen(void)
{
	Dl_info info;
	char path[4096];
	if (dladdr((void *)tls_dlopen, &info) && info.dli_fname) {
		const char *slash = strrchr(info.dli_fname, '/');
		if (slash && snprintf(path, sizeof path, "%.*s/../libbothttp.so.0",
		                      (int)(slash - info.dli_fname), info.dli_fname) < (int)sizeof path) {
			void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
			if (h)
				return h;
		}
	}
	return dlopen("libbothttp.so.0", RTLD_NOW | RTLD_LOCAL);
}

static int tls_load(struct tls_api *api, jv *err)
{
	void *h = tls_dlopen();
	if (!h) {
		*err = bot_fail("--irc-tls needs libbothttp.so.0: %s", dlerror());
		return -1;
	}
	*(void **)&api->open = dlsym(h, "bot_stream_open");
	*(void **)&api->fd = dlsym(h, "bot_stream_fd");
	*(void **)&api->send = dlsym(h, "bot_stream_send");
	*(void **)&api->recv = dlsym(h, "bot_stream_recv");
	*(void **)&api->close = dlsym(h, "bot_stream_close");
	if (!api->open || !api->fd || !api->send || !api->recv || !api->close) {
		*err = bot_fail("--irc-tls: libbothttp.so.0 has no stream API");
		return -1;
	}
	return 0;
}

/* ---- the backend's state ----------------------------------------------- */

/* The answers a round trip keeps (the error numerics apart). */
enum rt_kind { RT_NAMES, RT_LIST, RT_TOPIC, RT_KINDS };

struct irc {
	/* settings */
	char host[256], nick_cfg[65], user[65], realname[256], cafile[1024];
	int port, tls, burst;
	double rate;
	char *password, *sasl_user, *sasl_pass;
	jv channels;                /* array of strings */
	struct tls_api api;

	/* the connection */
	int fd;
	struct bot_stream *stream;
	int registered, dead, listening, casemap_ascii;
	char nick[65], mask_user[256], mask_host[256];
	char fail[300];
	int fail_permanent;
	const char *fail_code;
	int nick_tries;
	char in[IRC_IN_MAX];
	size_t in_len;
	int in_skip;                /* dropping the rest of an overlong line */
	long long last_rx_ms, ping_sent_ms;

	int more;                   /* the last turn stopped with input maybe left */
	long long wait_ms;          /* a round trip's deadline after its PING */
	long long register_ms;      /* the welcome's deadline after connecting */

	/* flood control: a token bucket over the queue */
	double tokens;
	long long tokens_ms;
	jv queue;                   /* lines waiting for a token: [queue_head..] */
	int queue_head;

	/* a round trip in progress: what the server answered meanwhile */
	char await[32];
	int await_done;
	int rt_code;                /* the first error numeric, or 0 */
	char rt_text[300];          /* "target: text" of that error */
	jv rt[RT_KINDS];            /* arrays, each held once: appended in place */
	size_t rt_cost, rt_read;

	jv joined;                  /* folded channel -> true */
	int joined_count;
	jv names;                   /* channel -> nicks, while NAMES comes in */
	int names_channels;
	long names_held;

	long dropped;               /* lines dropped since the last note */
	long long note_ms;
	const struct bot_sink *sink;
	long seq;
};

static int write_line(struct irc *c, const char *line, jv *err);

/* The empty state: no connection, nothing held. */
static void irc_state_init(struct irc *c)
{
	c->fd = -1;
	c->channels = jv_array();
	c->queue = jv_array();
	for (int k = 0; k < RT_KINDS; k++)
		c->rt[k] = jv_array();
	c->joined = jv_object();
	c->names = jv_object();
	c->wait_ms = IRC_ROUNDTRIP_MS;
	c->register_ms = IRC_REGISTER_MS;
}

/* What the server sent past a bound was dropped: say so, once in a
 * while (a server that floods must not flood stderr too). */
static void drop_note(struct irc *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void drop_note(struct irc *c, const char *fmt, ...)
{
	long long now = bot_now_ms();
	c->dropped++;
	if (c->note_ms && now - c->note_ms < IRC_NOTE_MS)
		return;
	char what[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	bot_warn("irc: %s: %s: dropped (%ld since the last note)", c->host, what, c->dropped);
	c->note_ms = now;
	c->dropped = 0;
}

static void emit(struct irc *c, jv ev)
{
	if (c->sink)
		c->sink->emit(c->sink->ctx, ev);
	else
		jv_free(ev);
}

/* A local id: IRC has none.  Unique across processes and restarts. */
static jv local_id(struct irc *c)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return jv_string_fmt("%lld.%06ld.%d.%ld", (long long)ts.tv_sec, ts.tv_nsec / 1000,
	                     (int)getpid(), ++c->seq);
}

/* Fold a nick or channel for comparison (rfc1459 unless the server said
 * CASEMAPPING=ascii). */
static void fold(const struct irc *c, const char *s, char *out, size_t n)
{
	size_t i = 0;
	for (; s[i] && i + 1 < n; i++) {
		char ch = s[i];
		if (ch >= 'A' && ch <= 'Z')
			ch = (char)(ch - 'A' + 'a');
		else if (!c->casemap_ascii && ch == '[')
			ch = '{';
		else if (!c->casemap_ascii && ch == ']')
			ch = '}';
		else if (!c->casemap_ascii && ch == '\\')
			ch = '|';
		else if (!c->casemap_ascii && ch == '~')
			ch = '^';
		out[i] = ch;
	}
	out[i] = 0;
}

static int same_name(const struct irc *c, const char *a, const char *b)
{
	char fa[256], fb[256];
	fold(c, a, fa, sizeof fa);
	fold(c, b, fb, sizeof fb);
	return !strcmp(fa, fb);
}

static void set_joined(struct irc *c, const char *chan, int on)
{
	char f[256];
	fold(c, chan, f, sizeof f);
	int was = bot_true(c->joined, f);
	if (on && !was && c->joined_count >= IRC_JOINED_MAX) {
		drop_note(c, "a JOIN past %d channels", IRC_JOINED_MAX);
		return;
	}
	if (on && !was) {
		c->joined = jv_object_set(c->joined, jv_string(f), jv_true());
		c->joined_count++;
	} else if (!on && was) {
		c->joined = jv_object_delete(c->joined, jv_string(f));
		c->joined_count--;
	}
}

static int is_joined(const struct irc *c, const char *chan)
{
	char f[256];
	fold(c, chan, f, sizeof f);
	return bot_true(c->joined, f);
}

/* ---- settings ---------------------------------------------------------- */

static int parse_server(struct irc *c, const char *s, jv *err)
{
	const char *colon;
	c->port = c->tls ? 6697 : 6667;
	if (s[0] == '[') {               /* [v6]:port */
		const char *end = strchr(s, ']');
		if (!end || (size_t)(end - s - 1) >= sizeof c->host)
			goto bad;
		snprintf(c->host, sizeof c->host, "%.*s", (int)(end - s - 1), s + 1);
		colon = end[1] == ':' ? end + 1 : NULL;
		if (end[1] && !colon)
			goto bad;
	} else {
		colon = strrchr(s, ':');
		if (colon && strchr(s, ':') != colon)
			colon = NULL;            /* a bare v6 address */
		size_t n = colon ? (size_t)(colon - s) : strlen(s);
		if (n == 0 || n >= sizeof c->host)
			goto bad;
		snprintf(c->host, sizeof c->host, "%.*s", (int)n, s);
	}
	if (colon) {
		char *end;
		long p = strtol(colon + 1, &end, 10);
		if (*end || p < 1 || p > 65535)
			goto bad;
		c->port = (int)p;
	}
	return 0;
bad:
	*err = bot_fail("--irc-server: expected HOST[:PORT], got '%.100s'", s);
	return -1;
}

static char *secret_dup(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

static void secret_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

static void irc_close_conn(struct irc *c);
static ssize_t transport_recv(struct irc *c, char *buf, size_t n, jv *err);

static void irc_close(void *be)
{
	struct irc *c = be;
	if (!c)
		return;
	if (c->fd >= 0 && c->registered && !c->dead) {
		/* A one-shot send: QUIT, and wait for the server to close, which
		 * it does after everything before the QUIT was handled. */
		jv err = jv_invalid();
		if (write_line(c, "QUIT :botpipe", &err) == 0) {
			long long until = bot_now_ms() + 3000;
			char buf[4096];
			while (bot_now_ms() < until) {
				struct pollfd p = { .fd = c->fd, .events = POLLIN };
				if (poll(&p, 1, 200) < 0 && errno != EINTR)
					break;
				jv e = jv_invalid();
				ssize_t r = transport_recv(c, buf, sizeof buf, &e);
				jv_free(e);
				if (r == 0 || r == -1)
					break;
			}
		}
		jv_free(err);
	}
	irc_close_conn(c);
	secret_free(c->password);
	secret_free(c->sasl_user);
	secret_free(c->sasl_pass);
	jv_free(c->channels);
	jv_free(c->queue);
	for (int k = 0; k < RT_KINDS; k++)
		jv_free(c->rt[k]);
	jv_free(c->joined);
	jv_free(c->names);
	free(c);
}

static int check_setting(const char *name, const char *v, jv *err)
{
	if (v && bot_has_line_break(v, strlen(v))) {
		*err = bot_fail("--%s: must not hold a line break", name);
		return -1;
	}
	return 0;
}

static void *irc_open(const struct bot_config *cfg, jv *err)
{
	struct irc *c = calloc(1, sizeof *c);
	if (!c)
		abort();
	irc_state_init(c);
	jv_free(c->channels);
	c->channels = bot_cfg_list(cfg, "irc-channels");
	c->tls = bot_cfg_flag(cfg, "irc-tls");
	const char *nick = bot_cfg_str(cfg, "irc-nick"), *user = bot_cfg_str(cfg, "irc-user");
	const char *real = bot_cfg_str(cfg, "irc-realname"), *rate = bot_cfg_str(cfg, "irc-rate");
	if (parse_server(c, bot_cfg_str(cfg, "irc-server") ? bot_cfg_str(cfg, "irc-server") : "localhost", err) < 0)
		goto fail;
	if (!nick || !nick_ok(nick, strlen(nick)) || strlen(nick) > 30) {
		*err = bot_fail("--irc-nick: '%.64s' is not a nick", nick ? nick : "");
		goto fail;
	}
	if (!user || !mask_part_ok(user, strlen(user)) || strlen(user) > 30) {
		*err = bot_fail("--irc-user: '%.64s' is not a user name", user ? user : "");
		goto fail;
	}
	if (check_setting("irc-realname", real, err) < 0 ||
	    check_setting("irc-password", bot_cfg_str(cfg, "irc-password"), err) < 0 ||
	    check_setting("irc-sasl-user", bot_cfg_str(cfg, "irc-sasl-user"), err) < 0 ||
	    check_setting("irc-sasl-password", bot_cfg_str(cfg, "irc-sasl-password"), err) < 0)
		goto fail;
	snprintf(c->nick_cfg, sizeof c->nick_cfg, "%s", nick);
	snprintf(c->user, sizeof c->user, "%s", user);
	snprintf(c->realname, sizeof c->realname, "%s", real && *real ? real : nick);
	char *end = NULL;
	c->rate = rate ? strtod(rate, &end) : 1;
	if (!rate || *end || !(c->rate > 0) || c->rate > 1000) {
		*err = bot_fail("--irc-rate: expected lines a second (0.01 to 1000), got '%.32s'", rate ? rate : "");
		goto fail;
	}
	/* bot-send's --timeout (seconds), when the program has one: how long
	 * the welcome and each answer may take */
	const char *timeout = bot_cfg_str(cfg, "timeout");
	double secs = timeout ? strtod(timeout, NULL) : 0;
	if (secs > 0 && secs < 1e6)
		c->wait_ms = c->register_ms = (long long)(secs * 1000);
	c->burst = (int)bot_cfg_int(cfg, "irc-burst", 5);
	if (c->burst < 1)
		c->burst = 1;
	c->tokens = c->burst;
	c->tokens_ms = bot_now_ms();
	jv_array_foreach(c->channels, i, ch) {
		if (!chan_ok(jv_string_value(ch), (size_t)jv_string_length_bytes(jv_copy(ch)))) {
			*err = bot_fail("--irc-channels: '%.64s' is not a channel", jv_string_value(ch));
			jv_free(ch);
			goto fail;
		}
		jv_free(ch);
		(void)i;
	}
	c->password = secret_dup(bot_cfg_str(cfg, "irc-password"));
	c->sasl_user = secret_dup(bot_cfg_str(cfg, "irc-sasl-user"));
	c->sasl_pass = secret_dup(bot_cfg_str(cfg, "irc-sasl-password"));
	if (!!c->sasl_user != !!c->sasl_pass) {
		*err = bot_fail("SASL needs both --irc-sasl-user and BOT_IRC_SASL_PASSWORD");
		goto fail;
	}
	if (bot_cfg_str(cfg, "irc-cafile"))
		snprintf(c->cafile, sizeof c->cafile, "%s", bot_cfg_str(cfg, "irc-cafile"));
	if (c->tls && tls_load(&c->api, err) < 0)
		goto fail;
	snprintf(c->nick, sizeof c->nick, "%s", c->nick_cfg);
	return c;
fail:
	irc_close(c);
	return NULL;
}

/* ---- the transport ----------------------------------------------------- */

static int tcp_connect(struct irc *c, jv *err)
{
	char port[16];
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res, *a;
	snprintf(port, sizeof port, "%d", c->port);
	int rc = getaddrinfo(c->host, port, &hints, &res);
	if (rc) {
		*err = bot_fail_code("connect_failed", 1, "%s: %s", c->host, gai_strerror(rc));
		return -1;
	}
	int fd = -1, last = 0;
	for (a = res; a && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0) {
			last = errno;
			continue;
		}
		if (connect(fd, a->ai_addr, a->ai_addrlen) < 0 && errno != EINPROGRESS) {
			last = errno;
			close(fd);
			fd = -1;
			continue;
		}
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		int soerr = 0;
		socklen_t sl = sizeof soerr;
		if (poll(&p, 1, IRC_CONNECT_MS) != 1 ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr) {
			last = soerr ? soerr : ETIMEDOUT;
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd >= 0) {
		/* lines are small and a round trip waits for each: no Nagle */
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	}
	if (fd < 0) {
		*err = bot_fail_code("connect_failed", 1, "%s:%d: %s", c->host, c->port, strerror(last));
		return -1;
	}
	c->fd = fd;
	return 0;
}

static int transport_open(struct irc *c, jv *err)
{
	if (!c->tls)
		return tcp_connect(c, err);
	c->stream = c->api.open(c->host, c->port, 1, c->cafile[0] ? c->cafile : NULL,
	                        IRC_CONNECT_MS, err);
	if (!c->stream)
		return -1;
	c->fd = c->api.fd(c->stream);
	return 0;
}

/* >0 bytes, 0 closed, BOT_STREAM_AGAIN nothing now, -1 + *err. */
static ssize_t transport_recv(struct irc *c, char *buf, size_t n, jv *err)
{
	if (c->stream)
		return c->api.recv(c->stream, buf, n, err);
	ssize_t r = read(c->fd, buf, n);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return BOT_STREAM_AGAIN;
	if (r < 0)
		*err = bot_fail_code("connection_lost", 1, "read: %s", strerror(errno));
	return r;
}

/* Write all of buf, waiting for the socket up to 30 s. */
static int transport_send(struct irc *c, const char *buf, size_t n, jv *err)
{
	long long until = bot_now_ms() + 30000;
	while (n) {
		ssize_t w;
		if (c->stream)
			w = c->api.send(c->stream, buf, n, err);
		else {
			w = send(c->fd, buf, n, MSG_NOSIGNAL);
			if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
				w = BOT_STREAM_AGAIN;
			else if (w < 0)
				*err = bot_fail_code("connection_lost", 1, "write: %s", strerror(errno));
		}
		if (w == -1)
			return -1;
		if (w == BOT_STREAM_AGAIN) {
			long long left = until - bot_now_ms();
			if (bot_stop) {
				*err = bot_fail_code("connection_lost", 1, "write: stopped");
				return -1;
			}
			if (left <= 0) {
				*err = bot_fail_code("connection_lost", 1, "write: the server takes nothing");
				return -1;
			}
			struct pollfd p = { .fd = c->fd, .events = POLLOUT };
			poll(&p, 1, (int)(left > 1000 ? 1000 : left));
			continue;
		}
		buf += w;
		n -= (size_t)w;
	}
	return 0;
}

static void irc_close_conn(struct irc *c)
{
	if (c->stream)
		c->api.close(c->stream);
	else if (c->fd >= 0)
		close(c->fd);
	c->stream = NULL;
	c->fd = -1;
	c->registered = c->dead = 0;
	c->in_len = 0;
	c->in_skip = 0;
	c->more = 0;
	c->await[0] = 0;
	jv_free(c->queue);
	c->queue = jv_array();
	c->queue_head = 0;
	jv_free(c->joined);
	c->joined = jv_object();
	c->joined_count = 0;
	jv_free(c->names);
	c->names = jv_object();
	c->names_channels = 0;
	c->names_held = 0;
}

/* The one way to the wire: a whole line, never a line break inside. */
static int write_line(struct irc *c, const char *line, jv *err)
{
	size_t n = strlen(line);
	char buf[IRC_LINE_MAX];
	if (bot_has_line_break(line, n) || n > IRC_LINE_MAX - 2) {
		*err = bot_fail_code("bad_input", 0, "refused to write a malformed IRC line");
		return -1;
	}
	memcpy(buf, line, n);
	memcpy(buf + n, "\r\n", 2);
	return transport_send(c, buf, n + 2, err);
}

/* ---- flood control ----------------------------------------------------- */

static void bucket_refill(struct irc *c)
{
	long long now = bot_now_ms();
	c->tokens += (double)(now - c->tokens_ms) / 1000.0 * c->rate;
	if (c->tokens > c->burst)
		c->tokens = c->burst;
	c->tokens_ms = now;
}

/* Milliseconds until a line may go (0: now). */
static long long bucket_wait(struct irc *c)
{
	bucket_refill(c);
	if (c->tokens >= 1)
		return 0;
	return (long long)((1 - c->tokens) / c->rate * 1000) + 1;
}

static int queue_len(const struct irc *c)
{
	return jv_array_length(jv_copy(c->queue)) - c->queue_head;
}

static int queue_line(struct irc *c, jv line, jv *err)
{
	if (queue_len(c) >= IRC_QUEUE_MAX) {
		jv_free(line);
		*err = bot_fail_code("send_failed", 1, "more than %d lines wait for flood control", IRC_QUEUE_MAX);
		return -1;
	}
	c->queue = jv_array_append(c->queue, line);
	return 0;
}

/* Drop the lines already sent from the front of the queue: at once when
 * it is empty, else once 1024 have gone (a copy then: O(1) a line). */
static void queue_compact(struct irc *c)
{
	int n = jv_array_length(jv_copy(c->queue));
	if (c->queue_head < n && c->queue_head < 1024)
		return;
	jv rest = jv_array();
	for (int i = c->queue_head; i < n; i++)
		rest = jv_array_append(rest, jv_array_get(jv_copy(c->queue), i));
	jv_free(c->queue);
	c->queue = rest;
	c->queue_head = 0;
}

/* Send queued lines as the bucket allows. */
static int queue_flush(struct irc *c, jv *err)
{
	while (queue_len(c) > 0 && bucket_wait(c) == 0) {
		jv line = jv_array_get(jv_copy(c->queue), c->queue_head++);
		queue_compact(c);
		int rc = write_line(c, jv_string_value(line), err);
		jv_free(line);
		if (rc < 0)
			return -1;
		c->tokens -= 1;
	}
	return 0;
}

/* ---- what the server says ---------------------------------------------- */

static void fail_with(struct irc *c, int permanent, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void fail_with(struct irc *c, int permanent, const char *code, const char *fmt, ...)
{
	if (c->dead)
		return;   /* the first reason stands: a 464 says why the ERROR after it came */
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->fail, sizeof c->fail, fmt, ap);
	va_end(ap);
	c->fail_permanent = permanent;
	c->fail_code = code;
	c->dead = 1;
}

static void send_now(struct irc *c, const char *line)
{
	jv err = jv_invalid();
	if (write_line(c, line, &err) < 0) {
		char why[256];
		bot_fail_message(err, why, sizeof why);
		fail_with(c, 0, "connection_lost", "%s", why);
	}
	jv_free(err);
}

static void on_nick_refused(struct irc *c, const struct irc_msg *m)
{
	if (c->registered)
		return;   /* a later NICK change failed: keep the nick we have */
	if (++c->nick_tries > IRC_NICK_TRIES) {
		fail_with(c, 1, "denied", "the server refused every nick (%s %s)", m->command,
		          m->nparams ? m->params[m->nparams - 1] : "");
		return;
	}
	size_t n = strlen(c->nick);
	if (n < 9)                  /* RFC 1459's NICKLEN: append, then vary */
		c->nick[n] = '_', c->nick[n + 1] = 0;
	else
		c->nick[n - 1] = (char)('0' + c->nick_tries);
	char line[100];
	snprintf(line, sizeof line, "NICK %s", c->nick);
	send_now(c, line);
}

static void on_welcome(struct irc *c, const struct irc_msg *m)
{
	c->registered = 1;
	if (m->nparams && nick_ok(m->params[0], strlen(m->params[0])))
		snprintf(c->nick, sizeof c->nick, "%s", m->params[0]);
	/* "Welcome ... nick!user@host": the mask others see, when given */
	const char *text = m->nparams ? m->params[m->nparams - 1] : "";
	const char *sp = strrchr(text, ' ');
	char mask[600];
	snprintf(mask, sizeof mask, "%s", sp ? sp + 1 : text);
	if (strchr(mask, '!') && strchr(mask, '@')) {
		const char *n, *u, *h;
		irc_split_mask(mask, &n, &u, &h);
		snprintf(c->mask_user, sizeof c->mask_user, "%s", u);
		snprintf(c->mask_host, sizeof c->mask_host, "%s", h);
	}
}

static void on_isupport(struct irc *c, const struct irc_msg *m)
{
	for (int i = 1; i < m->nparams - 1; i++)
		if (!strncmp(m->params[i], "CASEMAPPING=", 12))
			c->casemap_ascii = !strcmp(m->params[i] + 12, "ascii");
}

static void sasl_send(struct irc *c)
{
	size_t nu = strlen(c->sasl_user), np = strlen(c->sasl_pass), n = 2 * nu + np + 2;
	unsigned char *raw = malloc(n);
	char *enc = malloc(4 * (n / 3 + 1) + 1);
	memcpy(raw, c->sasl_user, nu);          /* authzid \0 authcid \0 password */
	raw[nu] = 0;
	memcpy(raw + nu + 1, c->sasl_user, nu);
	raw[2 * nu + 1] = 0;
	memcpy(raw + 2 * nu + 2, c->sasl_pass, np);
	base64(raw, n, enc);
	size_t len = strlen(enc);
	char line[420];
	for (size_t off = 0; off < len; off += 400) {
		snprintf(line, sizeof line, "AUTHENTICATE %.400s", enc + off);
		send_now(c, line);
	}
	if (len % 400 == 0)
		send_now(c, "AUTHENTICATE +");
	explicit_bzero(raw, n);
	explicit_bzero(enc, len);
	explicit_bzero(line, sizeof line);
	free(raw);
	free(enc);
}

static void on_cap(struct irc *c, const struct irc_msg *m)
{
	if (m->nparams < 3 || !c->sasl_user)
		return;
	const char *sub = m->params[1], *caps = m->params[m->nparams - 1];
	if (!strcmp(sub, "ACK") && strstr(caps, "sasl"))
		send_now(c, "AUTHENTICATE PLAIN");
	else if (!strcmp(sub, "NAK"))
		fail_with(c, 1, "denied", "the server does not offer SASL");
}

/* A round trip starts: nothing answered yet. */
static void rt_reset(struct irc *c)
{
	for (int k = 0; k < RT_KINDS; k++) {
		jv_free(c->rt[k]);
		c->rt[k] = jv_array();
	}
	c->rt_code = 0;
	c->rt_text[0] = 0;
	c->rt_cost = c->rt_read = 0;
}

/* Keep an answer to the round trip in progress, about cost bytes of it,
 * within IRC_RT_COST_MAX (a LIST of a whole network may not fit: the rest
 * is dropped). */
static void rt_add(struct irc *c, enum rt_kind k, jv value, size_t cost)
{
	if (!c->await[0]) {
		jv_free(value);
		return;
	}
	if (c->rt_cost + cost > IRC_RT_COST_MAX) {
		jv_free(value);
		drop_note(c, "an answer to one request past %u bytes", IRC_RT_COST_MAX);
		return;
	}
	c->rt_cost += cost;
	c->rt[k] = jv_array_append(c->rt[k], value);
}

/* An error numeric during the round trip: the first decides, the rest
 * are only counted. */
static void rt_add_error(struct irc *c, int num, const char *target, const char *text)
{
	if (!c->await[0] || c->rt_code)
		return;
	c->rt_code = num;
	jv t = irc_clean_text(text, strlen(text));
	const char *s = jv_string_value(t);
	int n = (int)utf8_cut(s, strlen(s), 200);
	snprintf(c->rt_text, sizeof c->rt_text, "%.64s%s%.*s", target, *target ? ": " : "", n, s);
	jv_free(t);
}

static jv room_event(const char *action, const char *chan)
{
	return JV_OBJECT(jv_string("type"), jv_string("room"), jv_string("action"), jv_string(action),
	                 jv_string("room"), bot_room(chan));
}

/* A NAMES reply line: the nicks wait for the 366 that ends the reply.
 * At most IRC_NAMES_CHANNELS_MAX channels at once, IRC_NAMES_MAX nicks in
 * all (a server that never ends a reply cannot grow us). */
static void on_names(struct irc *c, const struct irc_msg *m)
{
	if (m->nparams < 4 || !chan_ok(m->params[2], strlen(m->params[2])))
		return;
	const char *chan = m->params[2];
	jv list = jv_object_get(jv_copy(c->names), jv_string(chan));
	if (jv_get_kind(list) == JV_KIND_ARRAY)   /* held once: appended in place */
		c->names = jv_object_delete(c->names, jv_string(chan));
	else if (c->names_channels >= IRC_NAMES_CHANNELS_MAX) {
		jv_free(list);
		drop_note(c, "NAMES replies for more than %d channels at once", IRC_NAMES_CHANNELS_MAX);
		return;
	} else {
		jv_free(list);
		list = jv_array();
		c->names_channels++;
	}
	char *names = m->params[3], *save = NULL;
	for (char *w = strtok_r(names, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		w += strspn(w, "~&@%+!");    /* mode prefixes (multi-prefix) */
		char *bang = strchr(w, '!');   /* userhost-in-names */
		if (bang)
			*bang = 0;
		if (!nick_ok(w, strlen(w)))
			continue;
		if (c->names_held >= IRC_NAMES_MAX) {
			drop_note(c, "NAMES replies holding more than %d nicks", IRC_NAMES_MAX);
			break;
		}
		list = jv_array_append(list, jv_string(w));
		c->names_held++;
	}
	c->names = jv_object_set(c->names, jv_string(chan), list);
}

static void on_names_end(struct irc *c, const struct irc_msg *m)
{
	if (m->nparams < 2)
		return;
	const char *chan = m->params[1];
	jv list = jv_object_get(jv_copy(c->names), jv_string(chan));
	if (jv_get_kind(list) != JV_KIND_ARRAY) {
		jv_free(list);
		list = jv_array();
	} else {
		c->names = jv_object_delete(c->names, jv_string(chan));
		c->names_channels--;
		c->names_held -= jv_array_length(jv_copy(list));
	}
	jv occ = jv_array();
	jv_array_foreach(list, i, nick) {
		occ = jv_array_append(occ, irc_occupant(chan, jv_string_value(nick), NULL, NULL));
		jv_free(nick);
		(void)i;
	}
	jv_free(list);
	rt_add(c, RT_NAMES, JV_OBJECT(jv_string("room"), jv_string(chan), jv_string("occupants"), jv_copy(occ)),
	       256 + (size_t)jv_array_length(jv_copy(occ)) * 512);
	if (chan_ok(chan, strlen(chan))) {
		jv ev = room_event("occupants", chan);
		emit(c, jv_object_set(ev, jv_string("occupants"), occ));
	} else
		jv_free(occ);
}

/* PRIVMSG and NOTICE: a message event, direct or to a room. */
static void on_message(struct irc *c, const struct irc_msg *m, const char *nick,
                       const char *user, const char *host)
{
	if (m->nparams < 2 || !*user || !nick_ok(nick, strlen(nick)))
		return;   /* from a server, or malformed */
	const char *target = m->params[0], *text = m->params[1];
	size_t n = strlen(text);
	int action = 0, notice = !strcmp(m->command, "NOTICE");
	if (text[0] == 1) {                 /* CTCP */
		if (strncmp(text, "\001ACTION ", 8))
			return;                     /* other CTCP requests are not chat */
		text += 8;
		n -= 8;
		if (n && text[n - 1] == 1)
			n--;
		action = 1;
	}
	jv from, to;
	if (chan_ok(target, strlen(target))) {
		from = irc_occupant(target, nick, user, host);
		to = bot_room(target);
	} else if (same_name(c, target, c->nick)) {
		from = irc_person(nick, user, host);
		to = irc_person(c->nick, c->mask_user, c->mask_host);
	} else
		return;
	jv msg = bot_message(from, to, "");
	msg = jv_object_set(msg, jv_string("body"), irc_clean_text(text, n));
	msg = jv_object_set(msg, jv_string("id"), local_id(c));
	msg = jv_object_set(msg, jv_string("ts"), jv_number((double)time(NULL)));
	if (action || notice) {
		jv extras = jv_object();
		if (action)
			extras = jv_object_set(extras, jv_string("action"), jv_true());
		if (notice)
			extras = jv_object_set(extras, jv_string("notice"), jv_true());
		msg = jv_object_set(msg, jv_string("extras"), extras);
	}
	emit(c, msg);
}

static void on_join(struct irc *c, const struct irc_msg *m, const char *nick,
                    const char *user, const char *host)
{
	if (m->nparams < 1 || !chan_ok(m->params[0], strlen(m->params[0])))
		return;
	const char *chan = m->params[0];
	if (same_name(c, nick, c->nick)) {
		set_joined(c, chan, 1);
		snprintf(c->mask_user, sizeof c->mask_user, "%s", user);
		snprintf(c->mask_host, sizeof c->mask_host, "%s", host);
	}
	jv ev = room_event("joined", chan);
	emit(c, jv_object_set(ev, jv_string("occupant"), irc_occupant(chan, nick, user, host)));
}

static void on_leave(struct irc *c, const char *chan, const char *who, const char *user,
                     const char *host, const char *by, const char *reason)
{
	if (!chan_ok(chan, strlen(chan)) || !nick_ok(who, strlen(who)))
		return;
	if (same_name(c, who, c->nick))
		set_joined(c, chan, 0);
	jv ev = room_event("left", chan);
	ev = jv_object_set(ev, jv_string("occupant"), irc_occupant(chan, who, user, host));
	if (reason && *reason)
		ev = jv_object_set(ev, jv_string("message"), irc_clean_text(reason, strlen(reason)));
	if (by)
		ev = jv_object_set(ev, jv_string("extras"),
		                   JV_OBJECT(jv_string("kicked_by"), jv_string_fmt("@%s", by)));
	emit(c, ev);
}

static void on_topic(struct irc *c, const char *chan, const char *topic, const char *nick,
                     const char *user, const char *host)
{
	if (!chan_ok(chan, strlen(chan)))
		return;
	jv t = topic ? irc_clean_text(topic, strlen(topic)) : jv_null();
	rt_add(c, RT_TOPIC, JV_OBJECT(jv_string("room"), jv_string(chan), jv_string("topic"), jv_copy(t)),
	       256 + strlen(chan) + (topic ? 2 * strlen(topic) : 0));
	jv ev = room_event("topic", chan);
	ev = jv_object_set(ev, jv_string("topic"), jv_get_kind(t) == JV_KIND_NULL ? jv_string("") : t);
	if (nick && nick_ok(nick, strlen(nick)))
		ev = jv_object_set(ev, jv_string("occupant"), irc_occupant(chan, nick, user, host));
	emit(c, ev);
}

static void on_nick(struct irc *c, const struct irc_msg *m, const char *nick,
                    const char *user, const char *host)
{
	if (m->nparams < 1 || !nick_ok(m->params[0], strlen(m->params[0])))
		return;
	if (same_name(c, nick, c->nick))
		snprintf(c->nick, sizeof c->nick, "%s", m->params[0]);
	jv ev = bot_presence_event(irc_person(m->params[0], user, host), "online", NULL);
	emit(c, jv_object_set(ev, jv_string("extras"),
	                      JV_OBJECT(jv_string("was"), jv_string_fmt("@%s", nick))));
}

static int numeric(const char *cmd)
{
	if (strlen(cmd) != 3 || !isdigit((unsigned char)cmd[0]) ||
	    !isdigit((unsigned char)cmd[1]) || !isdigit((unsigned char)cmd[2]))
		return -1;
	return atoi(cmd);
}

static void on_numeric(struct irc *c, int num, const struct irc_msg *m)
{
	const char *last = m->nparams ? m->params[m->nparams - 1] : "";
	switch (num) {
	case 1: on_welcome(c, m); return;
	case 5: on_isupport(c, m); return;
	case 331: if (m->nparams >= 2) on_topic(c, m->params[1], NULL, NULL, NULL, NULL); return;
	case 332: if (m->nparams >= 3) on_topic(c, m->params[1], last, NULL, NULL, NULL); return;
	case 353: on_names(c, m); return;
	case 366: on_names_end(c, m); return;
	case 322:
		if (m->nparams >= 3 && chan_ok(m->params[1], strlen(m->params[1])) && c->await[0])
			rt_add(c, RT_LIST, JV_OBJECT(jv_string("room"), jv_string(m->params[1]),
			                             jv_string("users"), jv_number(atoi(m->params[2])),
			                             jv_string("topic"), irc_clean_text(last, strlen(last))),
			       256 + strlen(m->params[1]) + 2 * strlen(last));
		return;
	case 432: case 433: case 436: case 437:
		if (!c->registered) {
			on_nick_refused(c, m);
			return;
		}
		break;
	case 464: fail_with(c, 1, "denied", "the server refused the password: %.200s", last); return;
	case 465: fail_with(c, 1, "denied", "banned from the server: %.200s", last); return;
	case 903: send_now(c, "CAP END"); return;
	case 902: case 904: case 905: case 906: case 908:
		fail_with(c, 1, "denied", "SASL login failed: %.200s", last);
		return;
	}
	if (num >= 400 && num < 600)
		rt_add_error(c, num, m->nparams >= 2 ? m->params[1] : "", last);
}

static void handle_line(struct irc *c, char *line)
{
	struct irc_msg m;
	if (irc_parse(line, &m) < 0)
		return;
	const char *nick = "", *user = "", *host = "";
	if (m.prefix)
		irc_split_mask(m.prefix, &nick, &user, &host);
	const char *cmd = m.command, *last = m.nparams ? m.params[m.nparams - 1] : "";
	int num = numeric(cmd);
	if (num >= 0)
		on_numeric(c, num, &m);
	else if (!strcmp(cmd, "PING")) {
		char pong[IRC_LINE_MAX];
		snprintf(pong, sizeof pong, "PONG :%.400s", last);
		send_now(c, pong);
	} else if (!strcmp(cmd, "PONG")) {
		if (c->await[0] && !strcmp(last, c->await))
			c->await_done = 1;
		c->ping_sent_ms = 0;
	} else if (!strcmp(cmd, "ERROR"))
		fail_with(c, 0, "connection_lost", "the server closed the link: %.200s", last);
	else if (!strcmp(cmd, "CAP"))
		on_cap(c, &m);
	else if (!strcmp(cmd, "AUTHENTICATE") && !strcmp(last, "+") && c->sasl_user)
		sasl_send(c);
	else if (!strcmp(cmd, "PRIVMSG") || !strcmp(cmd, "NOTICE"))
		on_message(c, &m, nick, user, host);
	else if (!strcmp(cmd, "JOIN"))
		on_join(c, &m, nick, user, host);
	else if (!strcmp(cmd, "PART") && m.nparams >= 1)
		on_leave(c, m.params[0], nick, user, host, NULL, m.nparams >= 2 ? last : NULL);
	else if (!strcmp(cmd, "KICK") && m.nparams >= 2)
		on_leave(c, m.params[0], m.params[1], NULL, NULL, nick, m.nparams >= 3 ? last : NULL);
	else if (!strcmp(cmd, "QUIT") && nick_ok(nick, strlen(nick)))
		emit(c, bot_presence_event(irc_person(nick, user, host), "offline",
		                           m.nparams ? last : NULL));
	else if (!strcmp(cmd, "NICK"))
		on_nick(c, &m, nick, user, host);
	else if (!strcmp(cmd, "TOPIC") && m.nparams >= 2)
		on_topic(c, m.params[0], last, nick, user, host);
	else if (!strcmp(cmd, "INVITE") && m.nparams >= 2 && chan_ok(last, strlen(last)) &&
	         nick_ok(nick, strlen(nick))) {
		jv ev = room_event("invite", last);
		emit(c, jv_object_set(ev, jv_string("identifier"), irc_person(nick, user, host)));
	}
}

/* Take the complete lines in the input buffer.  A line longer than the
 * buffer is dropped whole: memory stays bounded whatever the server sends. */
static void take_lines(struct irc *c)
{
	size_t start = 0;
	for (;;) {
		char *nl = memchr(c->in + start, '\n', c->in_len - start);
		if (!nl)
			break;
		size_t end = (size_t)(nl - c->in);
		if (c->in_skip)
			c->in_skip = 0;
		else {
			*nl = 0;
			if (end > start && c->in[end - 1] == '\r')
				c->in[end - 1] = 0;
			handle_line(c, c->in + start);
		}
		start = end + 1;
	}
	if (start == 0 && c->in_len == sizeof c->in) {
		c->in_skip = 1;      /* an overlong line: drop what we have of it */
		c->in_len = 0;
		return;
	}
	memmove(c->in, c->in + start, c->in_len - start);
	c->in_len -= start;
}

/* Read what arrived and handle it: one turn, at most IRC_TURN_BYTES, so
 * that a server that never stops sending still leaves the caller its
 * deadlines, its output bound and its stop flag.  When the turn ends with
 * input maybe left (in the kernel, or in the TLS layer, where poll cannot
 * see it), c->more is set: come back without waiting.  0, or -1 + *err
 * when the connection is gone (closed, ERROR, or failed registration). */
static int pump(struct irc *c, jv *err)
{
	size_t got = 0;
	c->more = 0;
	for (;;) {
		if (got >= IRC_TURN_BYTES) {
			c->more = 1;
			break;
		}
		ssize_t r = transport_recv(c, c->in + c->in_len, sizeof c->in - c->in_len, err);
		if (r == BOT_STREAM_AGAIN)
			break;
		if (r < 0)
			return -1;
		if (r == 0) {
			if (!c->dead)
				fail_with(c, 0, "connection_lost", "the server closed the connection");
			break;
		}
		c->last_rx_ms = bot_now_ms();
		c->in_len += (size_t)r;
		got += (size_t)r;
		if (c->await[0])
			c->rt_read += (size_t)r;
		take_lines(c);
		if (c->dead)
			break;
	}
	if (c->dead) {
		*err = bot_fail_code(c->fail_code ? c->fail_code : "connection_lost",
		                     !c->fail_permanent, "%s", c->fail);
		return -1;
	}
	return 0;
}

/* Wait for input up to ms (or until the bucket frees a token), then pump;
 * no wait when the last turn left input. */
static int wait_and_pump(struct irc *c, long long ms, jv *err)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN };
	if (ms > 1000)
		ms = 1000;
	if (ms < 0 || c->more)
		ms = 0;
	if (poll(&p, 1, (int)ms) < 0 && errno != EINTR) {
		*err = bot_fail_code("connection_lost", 1, "poll: %s", strerror(errno));
		return -1;
	}
	return pump(c, err);
}

/* ---- registration and round trips -------------------------------------- */

static int irc_register(struct irc *c, jv *err)
{
	char line[IRC_LINE_MAX];
	c->nick_tries = 0;
	c->fail[0] = 0;
	c->fail_code = NULL;
	c->fail_permanent = 0;
	c->casemap_ascii = 0;
	c->mask_user[0] = c->mask_host[0] = 0;
	snprintf(c->nick, sizeof c->nick, "%s", c->nick_cfg);
	if (c->sasl_user)
		send_now(c, "CAP REQ :sasl");
	if (c->password) {
		snprintf(line, sizeof line, "PASS :%.400s", c->password);
		send_now(c, line);
		explicit_bzero(line, sizeof line);
	}
	snprintf(line, sizeof line, "NICK %s", c->nick);
	send_now(c, line);
	snprintf(line, sizeof line, "USER %s 0 * :%.300s", c->user, c->realname);
	send_now(c, line);
	long long until = bot_now_ms() + c->register_ms;
	while (!c->registered) {
		if (c->dead) {
			*err = bot_fail_code(c->fail_code ? c->fail_code : "connection_lost",
			                     !c->fail_permanent, "%s", c->fail);
			return -1;
		}
		if (bot_stop) {
			*err = bot_fail_code("connect_failed", 1, "stopped before the server's welcome");
			return -1;
		}
		if (wait_and_pump(c, until - bot_now_ms(), err) < 0)
			return -1;
		if (bot_now_ms() >= until) {
			*err = bot_fail_code("connect_failed", 1, "%s:%d: no welcome from the server in %g s",
			                     c->host, c->port, (double)c->register_ms / 1000);
			return -1;
		}
	}
	c->last_rx_ms = bot_now_ms();
	c->ping_sent_ms = 0;
	return 0;
}

/* Connect and register; the connection's state starts afresh. */
static int irc_connect_now(struct irc *c, jv *err)
{
	irc_close_conn(c);
	if (transport_open(c, err) < 0)
		return -1;
	if (irc_register(c, err) < 0) {
		irc_close_conn(c);
		return -1;
	}
	return 0;
}

/* Send lines (an array, consumed) through the bucket, then PING, and
 * handle what comes until its PONG, c->wait_ms at most after the PING.
 * The answers are in c->rt and c->rt_code. */
static int roundtrip(struct irc *c, jv lines, jv *err)
{
	jv_array_foreach(lines, i, l) {
		if (queue_line(c, l, err) < 0) {
			jv_free(lines);
			return -1;
		}
		(void)i;
	}
	jv_free(lines);
	rt_reset(c);
	snprintf(c->await, sizeof c->await, "bp%ld", ++c->seq);
	c->await_done = 0;
	int pinged = 0;
	long long until = 0;
	while (!c->await_done) {
		if (queue_flush(c, err) < 0)
			goto fail;
		if (!pinged && queue_len(c) == 0) {
			char ping[48];
			snprintf(ping, sizeof ping, "PING :%s", c->await);
			if (write_line(c, ping, err) < 0)
				goto fail;
			pinged = 1;
			until = bot_now_ms() + c->wait_ms;
		}
		long long now = bot_now_ms();
		if (pinged && now >= until) {
			*err = bot_fail_code("connection_lost", 1, "no answer from the server in %g s",
			                     (double)c->wait_ms / 1000);
			goto fail;
		}
		if (bot_stop) {
			*err = bot_fail_code("connection_lost", 1, "stopped before the server's answer");
			goto fail;
		}
		/* bot-listen's events heard meanwhile wait in its output, which
		 * its loop cannot bound while we are here: bound them here */
		if (c->listening && c->rt_read > IRC_RT_READ_MAX) {
			*err = bot_fail_code("connection_lost", 1, "the server sent more than %u MiB before its answer",
			                     IRC_RT_READ_MAX >> 20);
			goto fail;
		}
		long long wait = pinged ? until - now : bucket_wait(c);
		if (wait_and_pump(c, wait, err) < 0)
			goto fail;
	}
	c->await[0] = 0;
	return 0;
fail:
	c->await[0] = 0;
	c->dead = 1;
	return -1;
}

/* The first error numeric of the last round trip, or 0. */
static int rt_error(struct irc *c, char *text, size_t n)
{
	if (c->rt_code)
		snprintf(text, n, "%s", c->rt_text);
	return c->rt_code;
}

/* A round trip, connecting first when there is no connection.  One that
 * died while idle (the server restarted, or dropped us for not answering
 * its PING while bot-send waited for input) is replaced at once; any other
 * failure goes back to bot-send's one retry policy. */
static int roundtrip_connected(struct irc *c, jv lines, jv *err)
{
	int had = c->fd >= 0 && !c->dead;
	if (c->listening) {
		/* bot-listen's connection (a session request): its serve loop
		 * polls this fd and reconnects it; never swap it from here. */
		if (!had || !c->registered) {
			jv_free(lines);
			*err = bot_fail_code("connection_lost", 1, "not connected to %s now", c->host);
			return -1;
		}
		return roundtrip(c, lines, err);
	}
	if (!had && irc_connect_now(c, err) < 0) {
		jv_free(lines);
		return -1;
	}
	if (roundtrip(c, jv_copy(lines), err) == 0) {
		jv_free(lines);
		return 0;
	}
	irc_close_conn(c);
	if (!had || !bot_fail_temporary(*err)) {
		jv_free(lines);
		return -1;
	}
	jv_free(*err);
	*err = jv_invalid();
	if (irc_connect_now(c, err) < 0) {
		jv_free(lines);
		return -1;
	}
	if (roundtrip(c, lines, err) < 0) {
		irc_close_conn(c);
		return -1;
	}
	return 0;
}

/* ---- the backend interface --------------------------------------------- */

static int irc_connect(void *be, jv *err)
{
	struct irc *c = be;
	c->listening = 1;
	if (irc_connect_now(c, err) < 0)
		return -1;
	jv_array_foreach(c->channels, i, ch) {
		jv line = jv_string_fmt("JOIN %s", jv_string_value(ch));
		jv_free(ch);
		if (queue_line(c, line, err) < 0)
			return -1;
		(void)i;
	}
	if (queue_flush(c, err) < 0)
		return -1;
	return c->fd;
}

static int irc_on_ready(void *be, const struct bot_sink *out, jv *err)
{
	struct irc *c = be;
	c->sink = out;
	int rc = pump(c, err);
	if (rc == 0)
		rc = queue_flush(c, err);
	long long now = bot_now_ms();
	if (rc == 0 && c->ping_sent_ms && now - c->ping_sent_ms > IRC_PING_GRACE_MS) {
		*err = bot_fail_code("connection_lost", 1, "ping timeout: no answer in %d s",
		                     IRC_PING_GRACE_MS / 1000);
		rc = -1;
	} else if (rc == 0 && !c->ping_sent_ms && now - c->last_rx_ms > IRC_IDLE_MS) {
		rc = write_line(c, "PING :botpipe-idle", err);
		c->ping_sent_ms = now;
	}
	/* The sink stays: a send or room request that bot-listen makes on
	 * this connection (its session socket) reads the server meanwhile,
	 * and what it hears must still become events. */
	return rc < 0 ? -1 : 0;
}

static int irc_timeout_ms(void *be)
{
	struct irc *c = be;
	if (c->more)
		return 0;   /* input left from the last turn: no wait */
	long long now = bot_now_ms(), t;
	if (c->ping_sent_ms)
		t = c->ping_sent_ms + IRC_PING_GRACE_MS - now;
	else
		t = c->last_rx_ms + IRC_IDLE_MS - now;
	if (queue_len(c) > 0) {
		long long w = bucket_wait(c);
		if (w < t)
			t = w;
	}
	return t < 0 ? 0 : t > 60000 ? 60000 : (int)t;
}

static void irc_disconnect(void *be)
{
	struct irc *c = be;
	if (c->fd >= 0 && !c->dead) {
		jv err = jv_invalid();
		write_line(c, "QUIT :botpipe", &err);
		jv_free(err);
	}
	irc_close_conn(c);
}

/* The nick or channel a message goes to, from its "to" (look-only). */
static jv target_of(jv to, char *buf, size_t n)
{
	jv parsed = jv_null();
	if (jv_get_kind(to) == JV_KIND_STRING) {
		parsed = irc_parse_identifier(jv_string_value(to));
		if (!jv_is_valid(parsed)) {
			jv_free(parsed);
			return bot_fail_code("bad_input", 0, "to: not an IRC nick or channel");
		}
	}
	jv id = jv_get_kind(parsed) == JV_KIND_NULL ? to : parsed;
	const char *kind = bot_ident_kind(id), *name = NULL;
	if (kind && !strcmp(kind, "room"))
		name = bot_str(id, "id");
	else if (kind)
		name = bot_str(id, "nick");
	if (kind && !name && !strcmp(kind, "person"))
		name = bot_str(id, "id") + (bot_str(id, "id")[0] == '@');
	int ok = name && (chan_ok(name, strlen(name)) || nick_ok(name, strlen(name)));
	if (ok)
		snprintf(buf, n, "%s", name);
	jv_free(parsed);
	return ok ? jv_true() : bot_fail_code("bad_input", 0, "to: not an IRC nick or channel");
}

/* The bytes a line to target may carry: 512 less ":nick!user@host PRIVMSG
 * target :" and CRLF, as the other clients receive it. */
static size_t body_limit(struct irc *c, const char *target)
{
	size_t nick = strlen(c->registered ? c->nick : c->nick_cfg) + (c->registered ? 0 : 2);
	size_t user = c->mask_user[0] ? strlen(c->mask_user) : strlen(c->user) + 1;
	size_t host = c->mask_host[0] ? strlen(c->mask_host) : IRC_HOST_MAX;
	size_t over = 1 + nick + 1 + user + 1 + host + 1 + 7 + 1 + strlen(target) + 2 + 2;
	return over < IRC_LINE_MAX - 32 ? IRC_LINE_MAX - over : 32;
}

static size_t irc_size_limit(void *be, jv to)
{
	struct irc *c = be;
	char target[256];
	jv ok = target_of(to, target, sizeof target);
	size_t n = body_limit(c, jv_is_valid(ok) ? target : "#xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	jv_free(ok);
	return n;
}

/* Cut text into PRIVMSG lines: one per line of text, each within the
 * limit; CR and NUL dropped, \x01 shown as '*' (no CTCP injection). */
static jv message_lines(const char *cmd, const char *target, const char *text,
                        size_t limit, int action)
{
	jv lines = jv_array();
	size_t len = strlen(text);
	char *clean = malloc(len + 1), line[IRC_LINE_MAX];
	if (action)
		limit = limit > 9 + 16 ? limit - 9 : 16;
	for (size_t start = 0; start <= len;) {
		const char *nl = memchr(text + start, '\n', len - start);
		size_t end = nl ? (size_t)(nl - text) : len, o = 0;
		for (size_t i = start; i < end; i++)
			if (text[i] != '\r' && text[i] != 0)
				clean[o++] = text[i] == 1 ? '*' : text[i];
		for (size_t off = 0; off < o;) {
			size_t k = utf8_cut(clean + off, o - off, limit);
			if (action)
				snprintf(line, sizeof line, "%s %s :\001ACTION %.*s\001", cmd, target, (int)k, clean + off);
			else
				snprintf(line, sizeof line, "%s %s :%.*s", cmd, target, (int)k, clean + off);
			lines = jv_array_append(lines, jv_string(line));
			off += k;
		}
		start = end + 1;
	}
	free(clean);
	return lines;
}

static jv fail_for_numeric(int code, const char *text, const char *target)
{
	switch (code) {
	case 403:
		return bot_fail_code("room_does_not_exist", 0, "%s", text);
	case 442:
		return bot_fail_code("room_not_joined", 0, "%s", text);
	case 404: case 471: case 473: case 474: case 475: case 477: case 482:
		return bot_fail_code("denied", 0, "%s", text);
	case 401: case 406:
		return bot_fail_code("send_failed", 0, "%s: no such nick or channel", target);
	}
	return bot_fail_code("send_failed", 0, "%s", text);
}

static jv irc_send(void *be, jv ev, const char *text)
{
	struct irc *c = be;
	char target[256], why[300];
	jv to = bot_get(ev, "to");
	jv ok = target_of(to, target, sizeof target);
	jv_free(to);
	if (!jv_is_valid(ok))
		return ok;
	jv extras = bot_get(ev, "extras");
	int action = bot_true(extras, "action"), notice = bot_true(extras, "notice");
	jv_free(extras);
	jv lines = message_lines(notice ? "NOTICE" : "PRIVMSG", target, text,
	                         body_limit(c, target), action);
	if (jv_array_length(jv_copy(lines)) == 0) {
		jv_free(lines);
		return JV_OBJECT(jv_string("id"), local_id(c));   /* nothing to say */
	}
	jv err = jv_invalid();
	if (roundtrip_connected(c, jv_copy(lines), &err) < 0) {
		jv_free(lines);
		return err;
	}
	int code = rt_error(c, why, sizeof why);
	if ((code == 404 || code == 401) && chan_ok(target, strlen(target)) && !is_joined(c, target)) {
		/* +n, or no such channel yet: join (creating it), say it again */
		if (roundtrip_connected(c, jv_array_append(jv_array(), jv_string_fmt("JOIN %s", target)), &err) < 0) {
			jv_free(lines);
			return err;
		}
		code = rt_error(c, why, sizeof why);
		if (!code && roundtrip_connected(c, jv_copy(lines), &err) < 0) {
			jv_free(lines);
			return err;
		}
		if (!code)
			code = rt_error(c, why, sizeof why);
	}
	jv_free(lines);
	if (code)
		return fail_for_numeric(code, why, target);
	return JV_OBJECT(jv_string("id"), local_id(c));
}

/* ---- rooms ------------------------------------------------------------- */

static jv room_answer(jv ev, const char *action, const char *chan)
{
	jv ans = room_event(action, chan);
	jv ref = bot_get(ev, "id");
	if (jv_get_kind(ref) != JV_KIND_NULL)
		ans = jv_object_set(ans, jv_string("ref"), ref);
	else
		jv_free(ref);
	return ans;
}

/* The first entry of c->rt[k] whose "room" is chan (null if none). */
static jv rt_find(struct irc *c, enum rt_kind k, const char *chan)
{
	jv list = jv_copy(c->rt[k]), found = jv_null();
	if (jv_get_kind(list) == JV_KIND_ARRAY)
		jv_array_foreach(list, i, e) {
			const char *r = bot_str(e, "room");
			if (jv_get_kind(found) == JV_KIND_NULL && r && same_name(c, r, chan)) {
				jv_free(found);
				found = e;
			} else
				jv_free(e);
			(void)i;
		}
	jv_free(list);
	return found;
}

static jv room_op(struct irc *c, jv ev, const char *action, const char *chan)
{
	char why[300], line[IRC_LINE_MAX];
	jv lines = jv_array(), err = jv_invalid();
	const char *topic = bot_str(ev, "topic");
	jv who = jv_null();
	char nick[128] = "";
	if (!strcmp(action, "join") || !strcmp(action, "create"))
		snprintf(line, sizeof line, "JOIN %s", chan);
	else if (!strcmp(action, "leave"))
		snprintf(line, sizeof line, "PART %s", chan);
	else if (!strcmp(action, "topic") && topic) {
		if (bot_has_line_break(topic, strlen(topic)) || strlen(topic) > 400) {
			jv_free(lines);
			return bot_fail_code("bad_input", 0, "topic: one line of at most 400 bytes");
		}
		snprintf(line, sizeof line, "TOPIC %s :%s", chan, topic);
	} else if (!strcmp(action, "topic"))
		snprintf(line, sizeof line, "TOPIC %s", chan);
	else if (!strcmp(action, "occupants"))
		snprintf(line, sizeof line, "NAMES %s", chan);
	else if (!strcmp(action, "info"))
		snprintf(line, sizeof line, "LIST %s", chan);
	else if (!strcmp(action, "invite")) {
		who = bot_get(ev, "identifier");
		if (jv_get_kind(who) == JV_KIND_NULL) {
			jv_free(who);
			who = bot_get(ev, "occupant");
		}
		jv ok = target_of(who, nick, sizeof nick);
		jv_free(who);
		if (!jv_is_valid(ok) || !nick_ok(nick, strlen(nick))) {
			jv_free(ok);
			jv_free(lines);
			return bot_fail_code("bad_input", 0, "invite: \"identifier\" must be a person");
		}
		jv_free(ok);
		snprintf(line, sizeof line, "INVITE %s %s", nick, chan);
	} else if (!strcmp(action, "destroy")) {
		jv_free(lines);
		return bot_fail_code("unsupported", 0, "IRC back-end does not support destroying rooms.");
	} else {
		jv_free(lines);
		return bot_fail_code("unsupported", 0, "IRC has no room action %s", action);
	}
	lines = jv_array_append(lines, jv_string(line));
	if (roundtrip_connected(c, lines, &err) < 0)
		return err;
	int code = rt_error(c, why, sizeof why);
	if (code)
		return fail_for_numeric(code, why, chan);
	jv ans = room_answer(ev, action, chan);
	if (!strcmp(action, "join") || !strcmp(action, "create"))
		return jv_object_set(ans, jv_string("joined"), jv_true());
	if (!strcmp(action, "leave"))
		return jv_object_set(ans, jv_string("joined"), jv_false());
	if (!strcmp(action, "invite"))
		return jv_object_set(ans, jv_string("identifier"), irc_person(nick, NULL, NULL));
	if (!strcmp(action, "topic")) {
		jv t = rt_find(c, RT_TOPIC, chan);
		jv tv = bot_get(t, "topic");
		jv_free(t);
		if (topic) {
			jv_free(tv);
			tv = jv_string(topic);
		}
		return jv_object_set(ans, jv_string("topic"), jv_get_kind(tv) == JV_KIND_NULL ? (jv_free(tv), jv_string("")) : tv);
	}
	if (!strcmp(action, "occupants")) {
		jv n = rt_find(c, RT_NAMES, chan);
		jv occ = bot_get(n, "occupants");
		jv_free(n);
		if (jv_get_kind(occ) != JV_KIND_ARRAY || jv_array_length(jv_copy(occ)) == 0) {
			jv_free(occ);
			jv_free(ans);
			return bot_fail_code("room_does_not_exist", 0, "%s: no such channel", chan);
		}
		return jv_object_set(ans, jv_string("occupants"), occ);
	}
	/* info */
	jv l = rt_find(c, RT_LIST, chan);
	int exists = jv_get_kind(l) != JV_KIND_NULL;
	ans = jv_object_set(ans, jv_string("exists"), jv_bool(exists));
	ans = jv_object_set(ans, jv_string("joined"), jv_bool(is_joined(c, chan)));
	if (exists) {
		ans = jv_object_set(ans, jv_string("topic"), bot_get(l, "topic"));
		ans = jv_object_set(ans, jv_string("users"), bot_get(l, "users"));
	}
	jv_free(l);
	return ans;
}

static jv room_list(struct irc *c, jv ev)
{
	jv err = jv_invalid();
	if (roundtrip_connected(c, jv_array_append(jv_array(), jv_string("LIST")), &err) < 0)
		return err;
	jv ans = JV_OBJECT(jv_string("type"), jv_string("room"), jv_string("action"), jv_string("list"));
	jv ref = bot_get(ev, "id");
	if (jv_get_kind(ref) != JV_KIND_NULL)
		ans = jv_object_set(ans, jv_string("ref"), ref);
	else
		jv_free(ref);
	jv rooms = jv_array(), list = jv_copy(c->rt[RT_LIST]);
	if (jv_get_kind(list) == JV_KIND_ARRAY)
		jv_array_foreach(list, i, e) {
			jv r = bot_room(bot_str(e, "room"));
			r = jv_object_set(r, jv_string("topic"), bot_get(e, "topic"));
			r = jv_object_set(r, jv_string("users"), bot_get(e, "users"));
			r = jv_object_set(r, jv_string("joined"), jv_bool(is_joined(c, bot_str(e, "room"))));
			rooms = jv_array_append(rooms, r);
			jv_free(e);
			(void)i;
		}
	jv_free(list);
	return jv_object_set(ans, jv_string("rooms"), rooms);
}

static jv irc_room(void *be, jv ev)
{
	struct irc *c = be;
	const char *action = bot_str(ev, "action");
	if (!action)
		return bot_fail_code("bad_input", 0, "room: missing field \"action\"");
	if (!strcmp(action, "list"))
		return room_list(c, ev);
	jv room = bot_get(ev, "room");
	const char *chan = bot_ident_room(room);
	if (!chan && jv_get_kind(room) == JV_KIND_STRING)
		chan = jv_string_value(room);
	if (!chan || !chan_ok(chan, strlen(chan))) {
		jv_free(room);
		return bot_fail_code("bad_input", 0, "room: not an IRC channel");
	}
	char name[256];
	snprintf(name, sizeof name, "%s", chan);
	jv_free(room);
	return room_op(c, ev, action, name);
}

/* ---- identity ---------------------------------------------------------- */

static jv irc_build_identifier(void *be, const char *text)
{
	(void)be;
	return irc_parse_identifier(text);
}

/* Our nick, or one of the nicks a collision gave us (nick_, nick__). */
static int irc_is_from_self(void *be, jv msg)
{
	struct irc *c = be;
	jv from = bot_get(msg, "from");
	const char *nick = bot_str(from, "nick");
	int self = 0;
	if (nick) {
		size_t n = strlen(c->nick_cfg);
		self = same_name(c, nick, c->nick);
		if (!self && !strncasecmp(nick, c->nick_cfg, n) && nick[n] == '_')
			self = strspn(nick + n, "_") == strlen(nick + n);
	}
	jv_free(from);
	return self;
}

/* errbot's IRC prefix: "nick: body"; before a body that starts with a
 * block (errbot: a '#'), on a line of its own. */
static jv irc_mention(void *be, jv ident, jv body)
{
	(void)be;
	const char *nick = bot_str(ident, "nick");
	jv prefix = jv_string_fmt("%s:", nick ? nick : bot_ident_id(ident) ? bot_ident_id(ident) : "");
	jv out = bot_mention_body(jv_string_value(prefix), body);
	jv_free(prefix);
	jv_free(ident);
	return out;
}

const struct bot_backend bot_backend = {
	.abi = BOT_BACKEND_ABI,
	.name = "irc",
	.markup = "irc",
	.options = irc_options,
	.open = irc_open,
	.close = irc_close,
	.connect = irc_connect,
	.on_ready = irc_on_ready,
	.timeout_ms = irc_timeout_ms,
	.disconnect = irc_disconnect,
	.send = irc_send,
	.room = irc_room,
	.build_identifier = irc_build_identifier,
	.is_from_self = irc_is_from_self,
	.mention = irc_mention,
	.size_limit = irc_size_limit,
	.size_unit = BOT_UNIT_BYTES,
};
