/* irc.c: the IRC backend (RFC 1459/2812, with IRCv3 SASL PLAIN), on the
 * backend interface ABI 2 (backend.h): one thread, never blocking.
 *
 * The connection: start (bot-listen) or the first submit (bot-send,
 * bot-room: a lazy connection) begins the TCP or TLS connect (stream.h:
 * plain IRC is a socket of libbot's own and loads neither libcurl nor
 * OpenSSL; TLS loads libbothttp on first use), then registers; only the
 * server's 001 makes it up (host->up).  prepare says what the connection
 * waits for, dispatch does it.  A 464, 465 or failed SASL is a permanent
 * "denied": bot-listen exits 77 instead of reconnecting.
 *
 * Every delivery (a message part, a room operation, a presence change) is
 * a job: its lines go through the flood bucket (ratelimit.h), then
 * "PING :token".  The server answers in order, so every error numeric
 * about those lines arrives before the PONG: the job's answer is what
 * came between, and done is called at the PONG.  Jobs are pipelined; the
 * one at the head of the list, once a line of it went out, collects.
 *
 * Hostile text: every line that reaches the wire goes through out_line,
 * which refuses CR, LF and NUL; message text is cut into lines first and
 * stripped of CR and NUL, so "hi\r\nQUIT" is one PRIVMSG.  What a server
 * can make us hold is bounded (doc/SECURITY.md, "IRC").
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "pollset.h"
#include "ratelimit.h"
#include "render.h"
#include "stream.h"

#define IRC_LINE_MAX 512            /* RFC 1459: one line with its CRLF */
#define IRC_IN_MAX (8191 + 512)     /* IRCv3: tags, then a line */
#define IRC_PARAMS_MAX 15
#define IRC_QUEUE_MAX 10000         /* lines waiting for the flood bucket */
/* What a server can make us hold is bounded (doc/SECURITY.md, "IRC"):
 * past a bound the rest is dropped, with a note at most every
 * IRC_NOTE_MS. */
#define IRC_TURN_BYTES 32768        /* read per dispatch, then the loop runs */
#define IRC_NAMES_CHANNELS_MAX 64   /* channels whose NAMES reply is coming in */
#define IRC_NAMES_MAX 20000         /* nicks held for them, all channels */
#define IRC_JOINED_MAX 1000         /* channels we are in */
#define IRC_RT_COST_MAX (4u << 20)  /* answers kept for one job, ~bytes */
#define IRC_LAG_READ_MAX (256u << 10) /* read while the reader lags, then pause */
#define IRC_OUT_LOW 4096            /* the bucket feeds the output below this */
#define IRC_OUT_HIGH 16384          /* reading pauses above it (PONGs pile up) */
#define IRC_NOTE_MS 10000
#define IRC_IDLE_MS 120000          /* PING the server after this silence */
#define IRC_PING_GRACE_MS 60000     /* ...and give up this long after */
#define IRC_REGISTER_MS 30000
#define IRC_ROUNDTRIP_MS 60000
#define IRC_CONNECT_MS 10000
#define IRC_WRITE_STALL_MS 30000    /* output waiting, none taken: gone */
#define IRC_QUIT_MS 3000            /* after QUIT, the server's close */
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


/* ---- the backend's state ----------------------------------------------- */

/* The answers a job keeps (the error numerics apart). */
enum rt_kind { RT_NAMES, RT_LIST, RT_TOPIC, RT_KINDS };

enum job_kind {
	JOB_MESSAGE,    /* PRIVMSG or NOTICE lines: {"id"} */
	JOB_ROOM,       /* a room operation on one channel: the answer event */
	JOB_LIST,       /* LIST: the answer event with "rooms" */
	JOB_PRESENCE,   /* AWAY: {"id": null} */
	JOB_CHANNELS,   /* our own: the JOINs of --irc-channels, no done */
};

/* One delivery, from submit to done. */
struct job {
	struct job *next;
	enum job_kind kind;
	bot_done_fn done;           /* NULL for our own */
	void *ctx;
	jv ev;                      /* the event (a copy) */
	jv lines;                   /* a message's lines, kept for a second try */
	jv result;                  /* once finished: what done gets */
	char target[256];           /* the nick or channel */
	char action[32];            /* a room operation */
	char nick[128];             /* whom an invite is for */
	int phase;                  /* a message: 0 sent, 1 joining first, 2 sent again */
	char token[32];             /* the PING after its lines */
	int written;                /* a line of it went out: what comes now is its answer */
	long long ping_ms;          /* when its PING went out, 0 before */
	/* what the server answered */
	int rt_code;                /* the first error numeric, or 0 */
	char rt_text[300];          /* "target: text" of that error */
	jv rt[RT_KINDS];            /* arrays, each held once: appended in place */
	size_t rt_cost;
};

/* A line waiting for the flood bucket; a job's PING waits in the same
 * queue (so it follows the job's lines) but costs no token. */
struct qline {
	struct qline *next;
	jv text;
	struct job *job;            /* whose line it is, or NULL */
	int ping;
};

enum conn_state {
	ST_IDLE,                    /* no connection */
	ST_CONNECTING,              /* TCP or TLS under way */
	ST_REGISTERING,             /* connected, waiting for the 001 */
	ST_UP,
	ST_QUITTING,                /* QUIT written, waiting for the server's close */
};

struct irc {
	/* settings */
	char host[256], nick_cfg[65], user[65], realname[256], cafile[1024];
	int port, tls, burst;
	double rate;
	char *password, *sasl_user, *sasl_pass;
	jv channels;                /* array of strings */
	long long wait_ms;          /* a job's deadline after its PING */
	long long register_ms;      /* the welcome's deadline after connecting */
	struct bot_host *bh;         /* the program's side */

	/* the connection */
	enum conn_state state;
	int listening;              /* started (bot-listen), else lazy */
	struct bot_stream *stream;
	int fd;
	int registered, dead, casemap_ascii;
	jv failure;                 /* why it died (dead) */
	char nick[65], mask_user[256], mask_host[256];
	int nick_tries;
	char in[IRC_IN_MAX];
	size_t in_len;
	int in_skip;                /* dropping the rest of an overlong line */
	int more;                   /* the last read stopped with input maybe left */
	int reading;                /* prepare asked for input this turn */
	size_t lag_read;            /* read while the reader lags */
	long long quiet_since_ms;   /* nothing heard since (or a keep-alive sent) */
	long long ping_sent_ms;     /* our keep-alive PING, unanswered */
	long long register_until;
	long long quit_until;

	/* what goes to the server: lines ready, then the flood bucket's queue */
	char *out;
	size_t out_off, out_len, out_cap;
	long long out_since_ms;     /* output waiting, nothing taken since */
	struct bot_rate *bucket;
	struct qline *q_head, *q_tail;
	int q_lines;                /* lines in it that cost a token */

	/* deliveries: in the order of their PINGs; the head collects */
	struct job *jobs, *jobs_tail;
	struct job *finished, *finished_tail;   /* answered, done not yet called */

	jv joined;                  /* folded channel -> true */
	int joined_count;
	jv names;                   /* channel -> nicks, while NAMES comes in */
	int names_channels;
	long names_held;

	long dropped;               /* lines dropped since the last note */
	long long note_ms;
	long seq;                   /* local ids */
	long pings;                 /* job tokens: bp1, bp2, ... */
};

/* The empty state: no connection, nothing held. */
static void irc_state_init(struct irc *c)
{
	c->fd = -1;
	c->channels = jv_array();
	c->failure = jv_null();
	c->joined = jv_object();
	c->names = jv_object();
	c->wait_ms = IRC_ROUNDTRIP_MS;
	c->register_ms = IRC_REGISTER_MS;
	c->rate = 1;
	c->burst = 5;
}

/* The job collecting answers now, or NULL. */
static struct job *collector(struct irc *c)
{
	return c->jobs && c->jobs->written ? c->jobs : NULL;
}

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

/* One event downstream (bot-send and bot-room drop it). */
static void emit(struct irc *c, jv ev)
{
	if (c->bh && c->bh->emit)
		c->bh->emit(c->bh, ev, jv_null());
	else
		jv_free(ev);
}

static int lagging(struct irc *c)
{
	return c->listening && c->bh && c->bh->lagging && c->bh->lagging(c->bh);
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

static void irc_close(void *be);

static int check_setting(const char *name, const char *v, jv *err)
{
	if (v && bot_has_line_break(v, strlen(v))) {
		*err = bot_fail("--%s: must not hold a line break", name);
		return -1;
	}
	return 0;
}

static void *irc_open(const struct bot_config *cfg, struct bot_host *host, jv *err)
{
	struct irc *c = calloc(1, sizeof *c);
	if (!c)
		abort();
	irc_state_init(c);
	c->bh = host;
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
	c->bucket = bot_rate_new(c->burst, c->rate);
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
	snprintf(c->nick, sizeof c->nick, "%s", c->nick_cfg);
	return c;
fail:
	irc_close(c);
	return NULL;
}


/* ---- the connection's end: failures, output, the flood bucket ---------- */

/* The connection is gone; the first reason stands (a 464 says why the
 * ERROR after it came).  Consumes failure. */
static void die(struct irc *c, jv failure)
{
	if (c->dead) {
		jv_free(failure);
		return;
	}
	jv_free(c->failure);
	c->failure = failure;
	c->dead = 1;
}

static void fail_with(struct irc *c, int permanent, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void fail_with(struct irc *c, int permanent, const char *code, const char *fmt, ...)
{
	if (c->dead)
		return;
	char why[300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	die(c, bot_fail_code(code, !permanent, "%s", why));
}

/* The one way to the wire: a whole line, never a line break inside,
 * appended to the output.  0, or -1 + *err. */
static int out_line(struct irc *c, const char *line, jv *err)
{
	size_t n = strlen(line);
	if (bot_has_line_break(line, n) || n > IRC_LINE_MAX - 2) {
		*err = bot_fail_code("bad_input", 0, "refused to write a malformed IRC line");
		return -1;
	}
	if (c->out_off && c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (c->out_len + n + 2 > c->out_cap) {
		if (c->out_off) {          /* what was written makes room first */
			memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
			c->out_len -= c->out_off;
			c->out_off = 0;
		}
		size_t cap = c->out_cap ? c->out_cap : 4096;
		while (c->out_len + n + 2 > cap)
			cap *= 2;
		if (cap != c->out_cap) {
			char *o = realloc(c->out, cap);
			if (!o)
				abort();
			c->out = o;
			c->out_cap = cap;
		}
	}
	if (c->out_len == c->out_off)
		c->out_since_ms = bot_now_ms();
	memcpy(c->out + c->out_len, line, n);
	memcpy(c->out + c->out_len + n, "\r\n", 2);
	c->out_len += n + 2;
	return 0;
}

static size_t out_pending(const struct irc *c)
{
	return c->out_len - c->out_off;
}

/* A line of ours (registration, PONG, QUIT): ahead of the bucket. */
static void send_now(struct irc *c, const char *line)
{
	jv err = jv_invalid();
	if (out_line(c, line, &err) < 0)
		die(c, bot_fail_code("connection_lost", 1, "the server sent what cannot be answered"));
	jv_free(err);
}

/* Write what the socket takes now. */
static void out_flush(struct irc *c)
{
	while (!c->dead && c->stream && out_pending(c)) {
		jv err = jv_invalid();
		ssize_t w = bot_stream_send(c->stream, c->out + c->out_off, out_pending(c), &err);
		if (w == BOT_STREAM_AGAIN) {
			jv_free(err);
			return;
		}
		if (w < 0) {
			die(c, err);
			return;
		}
		jv_free(err);
		c->out_off += (size_t)w;
		c->out_since_ms = bot_now_ms();
	}
}

static void queue_push(struct irc *c, jv text, struct job *job, int ping)
{
	struct qline *q = calloc(1, sizeof *q);
	if (!q)
		abort();
	q->text = text;
	q->job = job;
	q->ping = ping;
	if (c->q_tail)
		c->q_tail->next = q;
	else
		c->q_head = q;
	c->q_tail = q;
	c->q_lines += !ping;
}

static void queue_clear(struct irc *c)
{
	while (c->q_head) {
		struct qline *q = c->q_head;
		c->q_head = q->next;
		jv_free(q->text);
		free(q);
	}
	c->q_tail = NULL;
	c->q_lines = 0;
}

/* Milliseconds until the bucket lets the next queued line go (0: now,
 * -1: nothing waits, or the output is full and POLLOUT wakes us). */
static long long queue_wait(struct irc *c, long long now)
{
	if (!c->q_head || c->state != ST_UP || out_pending(c) >= IRC_OUT_LOW)
		return -1;
	return c->q_head->ping ? 0 : bot_rate_wait(c->bucket, "", now);
}

/* Move queued lines to the output as the bucket allows: O(1) a line. */
static void queue_feed(struct irc *c)
{
	long long now = bot_now_ms();
	while (!c->dead && queue_wait(c, now) == 0) {
		struct qline *q = c->q_head;
		if (!(c->q_head = q->next))
			c->q_tail = NULL;
		if (!q->ping) {
			bot_rate_take(c->bucket, "", now);
			c->q_lines--;
		}
		jv err = jv_invalid();
		if (out_line(c, jv_string_value(q->text), &err) < 0)
			die(c, err);      /* cannot be: every queued line was checked */
		else
			jv_free(err);
		if (q->job) {
			q->job->written = 1;
			if (q->ping)
				q->job->ping_ms = now;
		}
		jv_free(q->text);
		free(q);
	}
}

/* Close the connection and forget its state (the jobs are the caller's). */
static void conn_close(struct irc *c)
{
	bot_stream_close(c->stream);
	c->stream = NULL;
	c->fd = -1;
	c->state = ST_IDLE;
	c->registered = c->dead = 0;
	jv_free(c->failure);
	c->failure = jv_null();
	c->in_len = 0;
	c->in_skip = c->more = c->reading = 0;
	c->lag_read = 0;
	c->out_off = c->out_len = 0;
	queue_clear(c);
	jv_free(c->joined);
	c->joined = jv_object();
	c->joined_count = 0;
	jv_free(c->names);
	c->names = jv_object();
	c->names_channels = 0;
	c->names_held = 0;
}

/* A best-effort QUIT on a connection about to close: whatever the
 * socket takes now, nothing waited for. */
static void quit_now(struct irc *c)
{
	if (c->stream && c->fd >= 0 && !c->dead && c->state >= ST_REGISTERING) {
		send_now(c, "QUIT :botpipe");
		out_flush(c);
	}
}
/* ---- what the server says ---------------------------------------------- */

static void registered_now(struct irc *c);
static void job_answered(struct irc *c);

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
	if (c->registered)
		return;
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
	registered_now(c);
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

/* Keep an answer for the job collecting, about cost bytes of it, within
 * IRC_RT_COST_MAX (a LIST of a whole network may not fit: the rest is
 * dropped). */
static void rt_add(struct irc *c, enum rt_kind k, jv value, size_t cost)
{
	struct job *j = collector(c);
	if (!j) {
		jv_free(value);
		return;
	}
	if (j->rt_cost + cost > IRC_RT_COST_MAX) {
		jv_free(value);
		drop_note(c, "an answer to one request past %u bytes", IRC_RT_COST_MAX);
		return;
	}
	j->rt_cost += cost;
	j->rt[k] = jv_array_append(j->rt[k], value);
}

/* An error numeric for the job collecting: the first decides. */
static void rt_add_error(struct irc *c, int num, const char *target, const char *text)
{
	struct job *j = collector(c);
	if (!j || j->rt_code)
		return;
	j->rt_code = num;
	jv t = irc_clean_text(text, strlen(text));
	const char *s = jv_string_value(t);
	int n = (int)utf8_cut(s, strlen(s), 200);
	snprintf(j->rt_text, sizeof j->rt_text, "%.64s%s%.*s", target, *target ? ": " : "", n, s);
	jv_free(t);
}

static jv room_event(const char *action, const char *chan)
{
	return bot_room_event(action, bot_room(chan));
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
		if (m->nparams >= 3 && chan_ok(m->params[1], strlen(m->params[1])) && collector(c))
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
		c->ping_sent_ms = 0;
		if (c->jobs && c->jobs->ping_ms && !strcmp(last, c->jobs->token))
			job_answered(c);
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

/* Read what arrived and handle it: at most IRC_TURN_BYTES a turn, so
 * that a server that never stops sending still leaves the loop its
 * deadlines, its output bound and its stop flag.  When the turn ends with
 * input maybe left (in the kernel, or in the TLS layer, where poll cannot
 * see it), c->more is set: come back without waiting.  A close, an ERROR
 * or a failed registration leaves c->dead set. */
static void pump(struct irc *c)
{
	size_t got = 0;
	int lag = lagging(c);
	c->more = 0;
	while (!c->dead) {
		if (got >= IRC_TURN_BYTES || (lag && c->lag_read >= IRC_LAG_READ_MAX) ||
		    out_pending(c) > IRC_OUT_HIGH) {
			/* maybe more, in the TLS layer too: once reading may go
			 * on, prepare asks for a turn at once, not for POLLIN */
			c->more = 1;
			break;
		}
		jv err = jv_invalid();
		ssize_t r = bot_stream_recv(c->stream, c->in + c->in_len, sizeof c->in - c->in_len, &err);
		if (r == BOT_STREAM_AGAIN) {
			jv_free(err);
			break;
		}
		if (r < 0) {
			die(c, err);
			break;
		}
		jv_free(err);
		if (r == 0) {
			fail_with(c, 0, "connection_lost", "the server closed the connection");
			break;
		}
		c->quiet_since_ms = bot_now_ms();
		c->in_len += (size_t)r;
		got += (size_t)r;
		if (lag)
			c->lag_read += (size_t)r;
		take_lines(c);
	}
}
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

/* The first answer of j's of kind k whose "room" is chan (null if none). */
static jv rt_find(struct irc *c, struct job *j, enum rt_kind k, const char *chan)
{
	jv list = jv_copy(j->rt[k]), found = jv_null();
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


/* ---- jobs: from submit to done ----------------------------------------- */

static struct job *job_new(enum job_kind kind, jv ev)
{
	struct job *j = calloc(1, sizeof *j);
	if (!j)
		abort();
	j->kind = kind;
	j->ev = ev;
	j->lines = jv_null();
	j->result = jv_invalid();
	for (int k = 0; k < RT_KINDS; k++)
		j->rt[k] = jv_array();
	return j;
}

static void job_free(struct job *j)
{
	jv_free(j->ev);
	jv_free(j->lines);
	jv_free(j->result);
	for (int k = 0; k < RT_KINDS; k++)
		jv_free(j->rt[k]);
	free(j);
}

/* Queue lines (look-only), then the job's PING; the job joins the end
 * of the list, in the order of the PINGs.  What it heard before is
 * forgotten. */
static void job_send(struct irc *c, struct job *j, jv lines)
{
	for (int k = 0; k < RT_KINDS; k++) {
		jv_free(j->rt[k]);
		j->rt[k] = jv_array();
	}
	j->rt_code = 0;
	j->rt_text[0] = 0;
	j->rt_cost = 0;
	j->written = 0;
	j->ping_ms = 0;
	snprintf(j->token, sizeof j->token, "bp%ld", ++c->pings);
	jv_array_foreach(lines, i, l) {
		queue_push(c, l, j, 0);
		(void)i;
	}
	queue_push(c, jv_string_fmt("PING :%s", j->token), j, 1);
	j->next = NULL;
	if (c->jobs_tail)
		c->jobs_tail->next = j;
	else
		c->jobs = j;
	c->jobs_tail = j;
}

/* j is answered with result (consumed); done is called by deliver. */
static void job_finish(struct irc *c, struct job *j, jv result)
{
	jv_free(j->result);
	j->result = result;
	j->next = NULL;
	if (c->finished_tail)
		c->finished_tail->next = j;
	else
		c->finished = j;
	c->finished_tail = j;
}

/* Call done for every answered job, once the state is whole again (a
 * done may submit the next part). */
static void deliver(struct irc *c)
{
	while (c->finished) {
		struct job *j = c->finished;
		if (!(c->finished = j->next))
			c->finished_tail = NULL;
		jv r = j->result;
		j->result = jv_invalid();
		if (j->done)
			j->done(j->ctx, r);
		else
			jv_free(r);
		job_free(j);
	}
}

/* Every job still waiting fails with failure (consumed). */
static void fail_jobs(struct irc *c, jv failure)
{
	queue_clear(c);   /* its lines point at them */
	struct job *j = c->jobs;
	c->jobs = c->jobs_tail = NULL;
	while (j) {
		struct job *next = j->next;
		job_finish(c, j, jv_copy(failure));
		j = next;
	}
	jv_free(failure);
}

static jv fail_for_numeric(int code, const char *text, const char *target);
static jv room_result(struct irc *c, struct job *j);
static jv list_result(struct irc *c, struct job *j);

/* The PONG of the job at the head came: its answer is complete. */
static void job_answered(struct irc *c)
{
	struct job *j = c->jobs;
	if (!(c->jobs = j->next))
		c->jobs_tail = NULL;
	int code = j->rt_code;
	jv result;
	switch (j->kind) {
	case JOB_MESSAGE:
		if (j->phase == 0 && (code == 404 || code == 401) &&
		    chan_ok(j->target, strlen(j->target)) && !is_joined(c, j->target)) {
			/* +n, or no such channel yet: join (creating it), say it again */
			j->phase = 1;
			jv join = jv_array_append(jv_array(), jv_string_fmt("JOIN %s", j->target));
			job_send(c, j, join);
			jv_free(join);
			return;
		}
		if (j->phase == 1 && !code) {
			j->phase = 2;
			job_send(c, j, j->lines);
			return;
		}
		result = code ? fail_for_numeric(code, j->rt_text, j->target)
		              : JV_OBJECT(jv_string("id"), local_id(c));
		break;
	case JOB_ROOM:
		result = room_result(c, j);
		break;
	case JOB_LIST:
		result = list_result(c, j);
		break;
	case JOB_PRESENCE:
		result = code ? fail_for_numeric(code, j->rt_text, "AWAY") : JV_OBJECT(jv_string("id"), jv_null());
		break;
	default:   /* JOB_CHANNELS */
		if (code)
			bot_warn("irc: %s: --irc-channels: %s", c->host, j->rt_text);
		result = jv_null();
	}
	job_finish(c, j, result);
}

/* ---- the connection's life --------------------------------------------- */

static void register_send(struct irc *c)
{
	char line[IRC_LINE_MAX];
	c->nick_tries = 0;
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
}

/* The 001: up.  bot-listen hears of it, and joins --irc-channels (a job
 * of our own, so that their answers are not taken for another's). */
static void registered_now(struct irc *c)
{
	c->state = ST_UP;
	c->quiet_since_ms = bot_now_ms();
	c->ping_sent_ms = 0;
	if (!c->listening)
		return;
	if (c->bh && c->bh->up)
		c->bh->up(c->bh);
	if (jv_array_length(jv_copy(c->channels)) == 0)
		return;
	jv lines = jv_array();
	jv_array_foreach(c->channels, i, ch) {
		lines = jv_array_append(lines, jv_string_fmt("JOIN %s", jv_string_value(ch)));
		jv_free(ch);
		(void)i;
	}
	job_send(c, job_new(JOB_CHANNELS, jv_null()), lines);
	jv_free(lines);
}

static int begin_connect(struct irc *c, jv *err)
{
	conn_close(c);
	c->stream = bot_stream_open(c->host, c->port, c->tls, c->cafile[0] ? c->cafile : NULL,
	                            IRC_CONNECT_MS, err);
	if (!c->stream)
		return -1;
	c->state = ST_CONNECTING;
	return 0;
}

/* Drive the TCP or TLS connect; once through, register. */
static void connect_step(struct irc *c, const struct bot_poll *p)
{
	jv err = jv_invalid();
	int r = bot_stream_step(c->stream, p, &err);
	if (r < 0) {
		die(c, err);
		return;
	}
	jv_free(err);
	if (r == 0)
		return;
	c->fd = bot_stream_fd(c->stream);
	c->state = ST_REGISTERING;
	c->register_until = bot_now_ms() + c->register_ms;
	register_send(c);
}

/* Whether to read this turn: not while the server leaves our output
 * untaken (its PONGs would pile up), and while bot-listen's reader lags
 * only up to IRC_LAG_READ_MAX (PINGs keep being answered meanwhile). */
static int can_read(struct irc *c)
{
	if (!lagging(c))
		c->lag_read = 0;
	else if (c->lag_read >= IRC_LAG_READ_MAX)
		return 0;
	return out_pending(c) <= IRC_OUT_HIGH;
}

/* The timers of a connected turn. */
static void timers(struct irc *c)
{
	long long now = bot_now_ms();
	if (c->state == ST_REGISTERING && now >= c->register_until)
		fail_with(c, 0, "connect_failed", "%s:%d: no welcome from the server in %g s", c->host,
		          c->port, (double)c->register_ms / 1000);
	if (c->state == ST_QUITTING && now >= c->quit_until)
		fail_with(c, 0, "connection_lost", "no close after QUIT");
	if (c->jobs && c->jobs->ping_ms && now - c->jobs->ping_ms >= c->wait_ms)
		fail_with(c, 0, "connection_lost", "no answer from the server in %g s",
		          (double)c->wait_ms / 1000);
	if (out_pending(c) && now - c->out_since_ms >= IRC_WRITE_STALL_MS)
		fail_with(c, 0, "connection_lost", "the server took nothing in %d s",
		          IRC_WRITE_STALL_MS / 1000);
	if (c->state != ST_UP || c->dead)
		return;
	if (!c->reading) {
		/* We cannot read its PONG now: keep the server hearing from us,
		 * and time nothing out. */
		c->ping_sent_ms = 0;
		if (now - c->quiet_since_ms >= IRC_IDLE_MS) {
			send_now(c, "PING :botpipe-idle");
			c->quiet_since_ms = now;
		}
	} else if (c->ping_sent_ms && now - c->ping_sent_ms >= IRC_PING_GRACE_MS)
		fail_with(c, 0, "connection_lost", "ping timeout: no answer in %d s", IRC_PING_GRACE_MS / 1000);
	else if (!c->ping_sent_ms && now - c->quiet_since_ms >= IRC_IDLE_MS) {
		send_now(c, "PING :botpipe-idle");
		c->ping_sent_ms = now;
	}
}

/* The connection ended (c->dead): close it, fail what waits.  In
 * bot-listen, -1 + *err for the loop to decide; after our QUIT, or on a
 * lazy connection, 0 (the jobs carry the failure). */
static int conn_ended(struct irc *c, jv *err)
{
	jv f = c->failure;
	c->failure = jv_null();
	int quitting = c->state == ST_QUITTING;
	fail_jobs(c, jv_copy(f));
	conn_close(c);
	if (quitting || !c->listening) {
		jv_free(f);
		return 0;
	}
	*err = f;
	return -1;
}

/* ---- the backend interface: the connection ----------------------------- */

static int irc_start(void *be, jv *err)
{
	struct irc *c = be;
	c->listening = 1;
	return begin_connect(c, err);
}

static void irc_prepare(void *be, struct bot_poll *p)
{
	struct irc *c = be;
	long long now = bot_now_ms();
	if (c->state == ST_IDLE)
		return;
	if (c->dead) {
		bot_poll_deadline(p, now);   /* dispatch ends it */
		return;
	}
	if (c->state == ST_CONNECTING) {
		bot_stream_prepare(c->stream, p);
		return;
	}
	c->reading = can_read(c);
	short ev = (short)((c->reading ? POLLIN : 0) | (out_pending(c) ? POLLOUT : 0));
	if (ev)
		bot_poll_want(p, c->fd, ev);
	if (c->reading && c->more)
		bot_poll_deadline(p, now);
	if (c->state == ST_REGISTERING)
		bot_poll_deadline(p, c->register_until);
	if (c->state == ST_QUITTING)
		bot_poll_deadline(p, c->quit_until);
	if (c->state == ST_UP)
		bot_poll_deadline(p, c->reading && c->ping_sent_ms ? c->ping_sent_ms + IRC_PING_GRACE_MS
		                                                   : c->quiet_since_ms + IRC_IDLE_MS);
	if (c->jobs && c->jobs->ping_ms)
		bot_poll_deadline(p, c->jobs->ping_ms + c->wait_ms);
	long long wait = queue_wait(c, now);
	if (wait >= 0)
		bot_poll_deadline(p, now + wait);
	if (out_pending(c))
		bot_poll_deadline(p, c->out_since_ms + IRC_WRITE_STALL_MS);
}

static int irc_dispatch(void *be, const struct bot_poll *p, jv *err)
{
	struct irc *c = be;
	if (c->state == ST_CONNECTING && !c->dead)
		connect_step(c, p);
	if (c->state >= ST_REGISTERING && !c->dead) {
		out_flush(c);
		if (c->reading)
			pump(c);
		timers(c);
		queue_feed(c);
		out_flush(c);
	}
	int rc = 0;
	if (c->dead)
		rc = conn_ended(c, err);
	deliver(c);
	return rc;
}

static void irc_stop(void *be)
{
	struct irc *c = be;
	quit_now(c);
	fail_jobs(c, bot_fail_code("connection_lost", 1, "the connection to %s was closed", c->host));
	conn_close(c);
	deliver(c);
}

static void irc_commit(void *be, jv mark)
{
	(void)be;
	(void)mark;   /* IRC has no cursor: what was missed is gone */
}

/* Nothing more comes: once every job is answered, QUIT and wait for the
 * server to close (it has then handled everything before). */
static int irc_idle(void *be)
{
	struct irc *c = be;
	if (c->jobs || c->finished || c->dead)
		return 0;
	switch (c->state) {
	case ST_IDLE:
		return 1;
	case ST_CONNECTING:
	case ST_REGISTERING:
		conn_close(c);
		return 1;
	case ST_UP:
		send_now(c, "QUIT :botpipe");
		c->state = ST_QUITTING;
		c->quit_until = bot_now_ms() + IRC_QUIT_MS;
		out_flush(c);
		return 0;
	default:
		return 0;
	}
}


/* What a room operation sends, from its event (look-only): j's line, or
 * -1 + *err for input that cannot be sent. */
static int room_line(struct job *j, jv ev, char *line, size_t n, jv *err)
{
	const char *action = j->action, *chan = j->target, *topic = bot_str(ev, "topic");
	if (!strcmp(action, "join") || !strcmp(action, "create"))
		snprintf(line, n, "JOIN %s", chan);
	else if (!strcmp(action, "leave"))
		snprintf(line, n, "PART %s", chan);
	else if (!strcmp(action, "topic") && topic) {
		if (bot_has_line_break(topic, strlen(topic)) || strlen(topic) > 400) {
			*err = bot_fail_code("bad_input", 0, "topic: one line of at most 400 bytes");
			return -1;
		}
		snprintf(line, n, "TOPIC %s :%s", chan, topic);
	} else if (!strcmp(action, "topic"))
		snprintf(line, n, "TOPIC %s", chan);
	else if (!strcmp(action, "occupants"))
		snprintf(line, n, "NAMES %s", chan);
	else if (!strcmp(action, "info"))
		snprintf(line, n, "LIST %s", chan);
	else if (!strcmp(action, "invite")) {
		jv who = bot_get(ev, "identifier");
		if (jv_get_kind(who) == JV_KIND_NULL) {
			jv_free(who);
			who = bot_get(ev, "occupant");
		}
		jv ok = target_of(who, j->nick, sizeof j->nick);
		jv_free(who);
		int person = jv_is_valid(ok) && nick_ok(j->nick, strlen(j->nick));
		jv_free(ok);
		if (!person) {
			*err = bot_fail_code("bad_input", 0, "invite: \"identifier\" must be a person");
			return -1;
		}
		snprintf(line, n, "INVITE %s %s", j->nick, chan);
	} else if (!strcmp(action, "destroy")) {
		*err = bot_fail_code("unsupported", 0, "IRC back-end does not support destroying rooms.");
		return -1;
	} else {
		*err = bot_fail_code("unsupported", 0, "IRC has no room action %.32s", action);
		return -1;
	}
	return 0;
}

/* A room event as a job and its lines; NULL + *err. */
static struct job *room_job(jv ev, jv *lines, jv *err)
{
	const char *action = bot_str(ev, "action");
	if (!action) {
		*err = bot_fail_code("bad_input", 0, "room: missing field \"action\"");
		return NULL;
	}
	if (!strcmp(action, "list")) {
		*lines = jv_array_append(jv_array(), jv_string("LIST"));
		return job_new(JOB_LIST, jv_copy(ev));
	}
	jv room = bot_get(ev, "room");
	const char *chan = bot_ident_room(room);
	if (!chan && jv_get_kind(room) == JV_KIND_STRING)
		chan = jv_string_value(room);
	if (!chan || !chan_ok(chan, strlen(chan))) {
		jv_free(room);
		*err = bot_fail_code("bad_input", 0, "room: not an IRC channel");
		return NULL;
	}
	struct job *j = job_new(JOB_ROOM, jv_copy(ev));
	snprintf(j->target, sizeof j->target, "%s", chan);
	snprintf(j->action, sizeof j->action, "%s", action);
	jv_free(room);
	char line[IRC_LINE_MAX];
	if (room_line(j, ev, line, sizeof line, err) < 0) {
		job_free(j);
		return NULL;
	}
	*lines = jv_array_append(jv_array(), jv_string(line));
	return j;
}

/* The answer event of a room operation, from what the server said. */
static jv room_result(struct irc *c, struct job *j)
{
	const char *action = j->action, *chan = j->target, *topic = bot_str(j->ev, "topic");
	if (j->rt_code)
		return fail_for_numeric(j->rt_code, j->rt_text, chan);
	jv ans = room_answer(j->ev, action, chan);
	if (!strcmp(action, "join") || !strcmp(action, "create"))
		return jv_object_set(ans, jv_string("joined"), jv_true());
	if (!strcmp(action, "leave"))
		return jv_object_set(ans, jv_string("joined"), jv_false());
	if (!strcmp(action, "invite"))
		return jv_object_set(ans, jv_string("identifier"), irc_person(j->nick, NULL, NULL));
	if (!strcmp(action, "topic")) {
		jv t = rt_find(c, j, RT_TOPIC, chan);
		jv tv = bot_get(t, "topic");
		jv_free(t);
		if (topic) {
			jv_free(tv);
			tv = jv_string(topic);
		}
		if (jv_get_kind(tv) == JV_KIND_NULL) {
			jv_free(tv);
			tv = jv_string("");
		}
		return jv_object_set(ans, jv_string("topic"), tv);
	}
	if (!strcmp(action, "occupants")) {
		jv n = rt_find(c, j, RT_NAMES, chan);
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
	jv l = rt_find(c, j, RT_LIST, chan);
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

static jv list_result(struct irc *c, struct job *j)
{
	if (j->rt_code)
		return fail_for_numeric(j->rt_code, j->rt_text, "LIST");
	jv ans = JV_OBJECT(jv_string("type"), jv_string("room"), jv_string("action"), jv_string("list"));
	jv ref = bot_get(j->ev, "id");
	if (jv_get_kind(ref) != JV_KIND_NULL)
		ans = jv_object_set(ans, jv_string("ref"), ref);
	else
		jv_free(ref);
	jv rooms = jv_array();
	jv_array_foreach(j->rt[RT_LIST], i, e) {
		jv r = bot_room(bot_str(e, "room"));
		r = jv_object_set(r, jv_string("topic"), bot_get(e, "topic"));
		r = jv_object_set(r, jv_string("users"), bot_get(e, "users"));
		r = jv_object_set(r, jv_string("joined"), jv_bool(is_joined(c, bot_str(e, "room"))));
		rooms = jv_array_append(rooms, r);
		jv_free(e);
		(void)i;
	}
	return jv_object_set(ans, jv_string("rooms"), rooms);
}

/* The bot's own presence (no identifier, or the bot's): "online" is
 * AWAY with nothing (back), any other status AWAY with the message (or
 * the status). */
static struct job *presence_job(struct irc *c, jv ev, jv *lines, jv *err)
{
	jv who = bot_get(ev, "identifier");
	int other = 0;
	if (jv_get_kind(who) != JV_KIND_NULL) {
		char nick[256] = "";
		jv ok = target_of(who, nick, sizeof nick);
		other = !jv_is_valid(ok) || !(same_name(c, nick, c->nick) || same_name(c, nick, c->nick_cfg));
		jv_free(ok);
	}
	jv_free(who);
	if (other) {
		*err = bot_fail_code("unsupported", 0, "IRC sets only the bot's own presence (no \"identifier\")");
		return NULL;
	}
	const char *status = bot_str(ev, "status"), *msg = bot_str(ev, "message");
	if (!status || !strcmp(status, "online"))
		*lines = jv_array_append(jv_array(), jv_string("AWAY"));
	else {
		const char *text = msg && *msg ? msg : status;
		if (bot_has_line_break(text, strlen(text)) || strlen(text) > 400) {
			*err = bot_fail_code("bad_input", 0, "presence: a message of one line, at most 400 bytes");
			return NULL;
		}
		*lines = jv_array_append(jv_array(), jv_string_fmt("AWAY :%s", text));
	}
	return job_new(JOB_PRESENCE, jv_copy(ev));
}

/* A part of a message (or of a card as text) as a job and its lines. */
static struct job *message_job(struct irc *c, const struct bot_part *part, jv *lines, jv *err)
{
	char target[256];
	jv to = bot_get(part->event, "to");
	jv ok = target_of(to, target, sizeof target);
	jv_free(to);
	if (!jv_is_valid(ok)) {
		*err = ok;
		return NULL;
	}
	jv extras = bot_get(part->event, "extras");
	int action = bot_true(extras, "action"), notice = bot_true(extras, "notice");
	jv_free(extras);
	*lines = message_lines(notice ? "NOTICE" : "PRIVMSG", target, part->text,
	                       body_limit(c, target), action);
	struct job *j = job_new(JOB_MESSAGE, jv_null());
	snprintf(j->target, sizeof j->target, "%s", target);
	j->lines = jv_copy(*lines);
	return j;
}

/* A connection for a job: bot-listen's when it is up (never another
 * from here: its loop reconnects it), else the lazy one, made now, or
 * made again when it died while nobody polled it (the server restarted,
 * or dropped us for not answering while bot-send waited for input). */
static int ready_for_jobs(struct irc *c, jv *err)
{
	if (c->listening) {
		if (c->state != ST_UP || c->dead) {
			*err = bot_fail_code("connection_lost", 1, "not connected to %s now", c->host);
			return -1;
		}
		return 0;
	}
	if (c->state == ST_UP && !c->dead) {
		out_flush(c);
		pump(c);
	}
	if (c->dead || c->state == ST_QUITTING) {
		jv e = jv_invalid();
		conn_ended(c, &e);
		jv_free(e);
	}
	if (c->state == ST_IDLE)
		return begin_connect(c, err);
	return 0;
}

static int irc_submit(void *be, const struct bot_part *part, bot_done_fn done, void *ctx, jv *err)
{
	struct irc *c = be;
	const char *type = part->type ? part->type : bot_str(part->event, "type");
	jv lines = jv_null();
	struct job *j;
	if (type && !strcmp(type, "room"))
		j = room_job(part->event, &lines, err);
	else if (type && !strcmp(type, "presence"))
		j = presence_job(c, part->event, &lines, err);
	else if (part->text)
		j = message_job(c, part, &lines, err);
	else {
		*err = bot_fail_code("unsupported", 0, "IRC cannot deliver %.32s events", type ? type : "these");
		return -1;
	}
	if (!j)
		return -1;
	int n = jv_array_length(jv_copy(lines));
	if (n == 0) {   /* nothing to say */
		jv_free(lines);
		job_free(j);
		done(ctx, JV_OBJECT(jv_string("id"), local_id(c)));
		return 0;
	}
	if (c->q_lines + n > IRC_QUEUE_MAX) {
		jv_free(lines);
		job_free(j);
		*err = bot_fail_code("send_failed", 1, "more than %d lines wait for flood control", IRC_QUEUE_MAX);
		return -1;
	}
	if (ready_for_jobs(c, err) < 0) {
		jv_free(lines);
		job_free(j);
		return -1;
	}
	j->done = done;
	j->ctx = ctx;
	job_send(c, j, lines);
	jv_free(lines);
	/* what can go now goes now (a lazy connection's first lines wait for the 001) */
	queue_feed(c);
	out_flush(c);
	return 0;
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


static void irc_close(void *be)
{
	struct irc *c = be;
	if (!c)
		return;
	quit_now(c);
	fail_jobs(c, bot_fail_code("connection_lost", 1, "the connection to %s was closed", c->host));
	conn_close(c);
	deliver(c);
	secret_free(c->password);
	secret_free(c->sasl_user);
	secret_free(c->sasl_pass);
	jv_free(c->channels);
	jv_free(c->failure);
	jv_free(c->joined);
	jv_free(c->names);
	bot_rate_free(c->bucket);
	free(c->out);
	free(c);
}

const struct bot_backend bot_backend = {
	.size = sizeof(struct bot_backend),
	.abi = BOT_BACKEND_ABI,
	.name = "irc",
	.markup = "irc",
	.options = irc_options,
	.can = BOT_CAN_LISTEN | BOT_CAN_ROOM | BOT_CAN_PRESENCE | BOT_CAN_SESSION,
	.size_unit = BOT_UNIT_BYTES,
	.open = irc_open,
	.close = irc_close,
	.start = irc_start,
	.prepare = irc_prepare,
	.dispatch = irc_dispatch,
	.stop = irc_stop,
	.commit = irc_commit,
	.submit = irc_submit,
	.idle = irc_idle,
	.build_identifier = irc_build_identifier,
	.is_from_self = irc_is_from_self,
	.mention = irc_mention,
	.size_limit = irc_size_limit,
};
