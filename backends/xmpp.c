/* xmpp.c: the XMPP backend (RFC 6120/6121, XEP-0045 MUC) on libstrophe,
 * on the backend interface ABI 2 (backend.h): one thread, never blocking.
 *
 * The connection: libstrophe owns the socket, TLS (STARTTLS, or direct TLS
 * with --xmpp-direct-tls; the certificate always checked, against the JID's
 * domain, with --xmpp-cafile as the trust) and SASL.  It never runs its own
 * loop here: prepare adds the socket (taken from the sockopt callback) and
 * the next deadline (the ping timer we gave libstrophe, a job's timeout, a
 * short tick while the stream is being set up), dispatch calls
 * xmpp_run_once with a zero timeout, which writes what is queued, fires
 * the timed handlers and reads.  The session established (XMPP_CONN_CONNECT)
 * makes it up (host->up); a SASL failure is a permanent "denied" (77).
 *
 * Every delivery is a job.  A message (or invite, reaction, correction) is
 * sent, then a XEP-0199 ping to our server: the server answers in order, so
 * an error about the message arrives before the pong, and done is called at
 * the pong (delivered, or the error).  A room operation waits for its own
 * answer: the room's self-presence (110) and subject for a join, the owner
 * form's result for a new room (unlocked at once), the self unavailable
 * presence for a leave, an iq result for info, list and destroy.
 *
 * Files go through libbothttp, opened on the first file (lazyhttp.h: a
 * bot that never sends or receives one never loads libcurl).  A stream
 * event is a job of stages: discover the server's HTTP File Upload
 * service (XEP-0363: disco#info of the domain, else of each of its
 * disco#items; kept for the connection), ask it for a slot, PUT the file
 * there, then send the GET URL as the body and as an out-of-band link
 * (XEP-0066), pinged as a message is.  A message with an out-of-band
 * https link is followed by a stream event once the link is fetched into
 * the spool (at most --xmpp-download-max bytes).
 *
 * Hostile input: libstrophe escapes attributes and text; what we put into
 * a stanza is valid UTF-8 without the characters XML 1.0 forbids (a control
 * byte in a body would end our stream).  What the server sends is held in
 * bounded tables (rooms, occupants, reaction sets).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <strophe.h>

#include "backend.h"
#include "emoji.h"
#include "failure.h"
#include "lazyhttp.h"
#include "pollset.h"
#include "render.h"

#define XMPP_JID_MAX 3071            /* RFC 7622: three parts of 1023 */
#define XMPP_NICK_MAX 1023
#define XMPP_SIZE_LIMIT 10000        /* errbot's message_size_limit for XMPP */
#define XMPP_PING_MS 60000           /* ping the server after this */
#define XMPP_PING_GRACE_MS 30000     /* ...and give up this long after */
#define XMPP_WAIT_MS 30000           /* a job's answer */
#define XMPP_CONNECT_MS 30000        /* until the session is established */
#define XMPP_SETUP_TICK_MS 50        /* libstrophe's own timers while setting up */
#define XMPP_QUIT_MS 3000
#define XMPP_ROOMS_MAX 1000          /* rooms we know of */
#define XMPP_OCCUPANTS_MAX 5000      /* occupants held per room */
#define XMPP_REACTIONS_MAX 2000      /* (sender, message) reaction sets held */
#define XMPP_READS_PER_TURN 16       /* run_once reads 4 KiB; a TLS record is 16 */
#define XMPP_LAG_RUN_MS 5000         /* while the reader lags: heartbeats only */
#define XMPP_JOBS_MAX 10000
#define XMPP_URL_MAX 4096            /* an upload slot's or a link's URL */
#define XMPP_UPLOAD_LOOK_MAX 32      /* disco#items asked for the upload service */
#define XMPP_PUT_MS 600000           /* a file's PUT, whole */
#define XMPP_FETCH_MS 300000         /* a link's download, whole */
#define XMPP_FETCHES_MAX 8           /* downloads at once */
#define XMPP_DOWNLOAD_MAX_DEFAULT 52428800L

#define NS_MUC "http://jabber.org/protocol/muc"
#define NS_MUC_USER "http://jabber.org/protocol/muc#user"
#define NS_MUC_OWNER "http://jabber.org/protocol/muc#owner"
#define NS_DISCO_INFO "http://jabber.org/protocol/disco#info"
#define NS_DISCO_ITEMS "http://jabber.org/protocol/disco#items"
#define NS_PING "urn:xmpp:ping"
#define NS_DELAY "urn:xmpp:delay"
#define NS_STANZAS "urn:ietf:params:xml:ns:xmpp-stanzas"
#define NS_CORRECT "urn:xmpp:message-correct:0"
#define NS_REACTIONS "urn:xmpp:reactions:0"
#define NS_REPLY "urn:xmpp:reply:0"
#define NS_OOB "jabber:x:oob"
#define NS_SID "urn:xmpp:sid:0"
#define NS_DATA "jabber:x:data"
#define NS_CONFERENCE "jabber:x:conference"
#define NS_UPLOAD "urn:xmpp:http:upload:0"

static const struct bot_option xmpp_options[] = {
	{ "xmpp-jid", 0, BOT_OPT_STR | BOT_OPT_IDENTITY, "JID", NULL, "the bot's account, user@domain[/resource]" },
	{ "xmpp-password", 0, BOT_OPT_SECRET, "PASSWORD", NULL, "the account's password" },
	{ "xmpp-server", 0, BOT_OPT_STR | BOT_OPT_IDENTITY, "HOST[:PORT]", NULL, "connect here (default: the JID's domain, by SRV record)" },
	{ "xmpp-direct-tls", 0, BOT_OPT_FLAG | BOT_OPT_IDENTITY, NULL, NULL, "TLS from the first byte (XEP-0368) instead of STARTTLS" },
	{ "xmpp-cafile", 0, BOT_OPT_STR, "FILE", NULL, "trust the CA certificates in FILE (the system's otherwise)" },
	{ "xmpp-rooms", 0, BOT_OPT_LIST, "ROOM", NULL, "join ROOM (room@service[:password]) after connecting (repeat, or a comma list)" },
	{ "xmpp-nick", 0, BOT_OPT_STR, "NICK", NULL, "the nick in rooms (default: the JID's user part)" },
	{ "xmpp-muc-service", 0, BOT_OPT_STR, "DOMAIN", NULL, "the MUC service bot-room lists (default: conference.DOMAIN)" },
	{ "xmpp-rejoin", 0, BOT_OPT_FLAG, NULL, "true", "join a room again after a kick (--no-xmpp-rejoin: not)" },
	{ "xmpp-rejoin-delay", 0, BOT_OPT_INT, "SECONDS", "5", "wait this long before joining again after a kick" },
	{ "xmpp-download-max", 0, BOT_OPT_INT, "BYTES", "52428800",
	  "fetch out-of-band https links in messages up to BYTES into the spool (0: never)" },
	BOT_OPTIONS_END
};

/* ---- JIDs ---------------------------------------------------------------- */

/* A JID we accept: bounded, valid UTF-8, no space or control characters,
 * at most one '@' before the '/', a domain. */
static int jid_ok(const char *s)
{
	size_t n = strlen(s);
	if (!n || n > XMPP_JID_MAX || !bot_utf8_valid(s, n))
		return 0;
	const char *slash = strchr(s, '/');
	size_t bare = slash ? (size_t)(slash - s) : n;
	if (!bare || (slash && !slash[1]))
		return 0;
	int ats = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= ' ' || c == 0x7f)
			return 0;
		if (i < bare && (c == '@' && ++ats > 1))
			return 0;
		if (i < bare && strchr("\"&'<>:", c))
			return 0;
	}
	const char *at = memchr(s, '@', bare);
	return !at || (at > s && (size_t)(at - s) + 1 < bare);
}

/* The bare part of a JID into buf. */
static void jid_bare(const char *jid, char *buf, size_t n)
{
	const char *slash = strchr(jid, '/');
	snprintf(buf, n, "%.*s", (int)(slash ? (size_t)(slash - jid) : strlen(jid)), jid);
}

static const char *jid_resource(const char *jid)
{
	const char *slash = strchr(jid, '/');
	return slash ? slash + 1 : NULL;
}

/* The domain of a JID into buf. */
static void jid_domain(const char *jid, char *buf, size_t n)
{
	char bare[XMPP_JID_MAX + 1];
	jid_bare(jid, bare, sizeof bare);
	const char *at = strchr(bare, '@');
	snprintf(buf, n, "%s", at ? at + 1 : bare);
}

static void jid_node(const char *jid, char *buf, size_t n)
{
	const char *at = strchr(jid, '@'), *slash = strchr(jid, '/');
	if (!at || (slash && slash < at))
		buf[0] = 0;
	else
		snprintf(buf, n, "%.*s", (int)(at - jid), jid);
}

static int nick_ok(const char *s)
{
	size_t n = strlen(s);
	if (!n || n > XMPP_NICK_MAX || !bot_utf8_valid(s, n))
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < ' ' || s[i] == 0x7f)
			return 0;
	return 1;
}

/* A person: id the bare JID, client the full one (where replies go). */
static jv xmpp_person(const char *jid)
{
	char bare[XMPP_JID_MAX + 1], node[XMPP_JID_MAX + 1];
	jid_bare(jid, bare, sizeof bare);
	jid_node(jid, node, sizeof node);
	jv p = bot_person(bare, *node ? node : bare);
	if (jid_resource(jid))
		p = jv_object_set(p, jv_string("client"), jv_string(jid));
	return p;
}

/* An occupant room@service/nick; person its real bare JID where the room
 * shows it (non-anonymous rooms), else errbot's @nick. */
static jv xmpp_occupant(const char *room, const char *nick, const char *real)
{
	jv o = jv_object();
	o = jv_object_set(o, jv_string("kind"), jv_string("occupant"));
	o = jv_object_set(o, jv_string("id"), jv_string_fmt("%s/%s", room, nick));
	o = jv_object_set(o, jv_string("room"), jv_string(room));
	o = jv_object_set(o, jv_string("nick"), jv_string(nick));
	if (real && jid_ok(real)) {
		char bare[XMPP_JID_MAX + 1];
		jid_bare(real, bare, sizeof bare);
		o = jv_object_set(o, jv_string("person"), jv_string(bare));
		o = jv_object_set(o, jv_string("client"), jv_string(real));
	}
	return bot_ident_derive(o);
}

/* Text that may go into a stanza: valid UTF-8 (bad sequences become
 * U+FFFD by jv), without the characters XML 1.0 forbids. */
static jv xml_clean(const char *s)
{
	size_t n = strlen(s);
	jv in = jv_string_sized(s, (int)n);   /* jv repairs bad UTF-8 */
	const char *t = jv_string_value(in);
	size_t m = (size_t)jv_string_length_bytes(jv_copy(in));
	char *out = malloc(m + 1);
	if (!out)
		abort();
	size_t k = 0;
	for (size_t i = 0; i < m; i++) {
		unsigned char c = (unsigned char)t[i];
		if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
			continue;
		/* U+FFFE and U+FFFF: EF BF BE / EF BF BF */
		if (c == 0xef && i + 2 < m && (unsigned char)t[i + 1] == 0xbf &&
		    ((unsigned char)t[i + 2] == 0xbe || (unsigned char)t[i + 2] == 0xbf)) {
			i += 2;
			continue;
		}
		out[k++] = (char)c;
	}
	jv r = jv_string_sized(out, (int)k);
	free(out);
	jv_free(in);
	return r;
}

/* ---- state --------------------------------------------------------------- */

enum state { ST_IDLE, ST_CONNECTING, ST_UP, ST_QUITTING };

enum job_kind {
	JOB_PINGED,     /* stanzas sent, done at the pong (a message, invite, reaction) */
	JOB_JOIN,       /* join or create: done when the join completes */
	JOB_LEAVE,
	JOB_TOPIC,      /* set: done at the room's subject from us */
	JOB_IQ,         /* info, list, destroy: done at the iq's answer */
	JOB_LOCAL,      /* answered from what we know (topic, occupants) */
	JOB_UPLOAD,     /* a file: disco, slot, PUT; then a JOB_PINGED message */
};

enum upload_stage { UP_INFO, UP_ITEMS, UP_SLOT, UP_PUT };

struct job {
	struct job *next;
	enum job_kind kind;
	jv ev;                 /* the input (room operations), or null */
	jv result;             /* once answered */
	char id[64];           /* the stanza id we wait for (a ping, an iq) */
	char msg_id[64];       /* a message's id: its error fails the job */
	char room[XMPP_JID_MAX + 1];
	char action[16];
	jv stanzas;            /* array of serialised stanzas to send when up */
	int sent, answered, configuring;
	long long deadline;
	bot_done_fn done;
	void *ctx;
	/* JOB_UPLOAD */
	struct xmpp *owner;
	enum upload_stage stage;
	jv file;               /* {path, name, mime, size, to, type} */
	jv look;               /* the services still to ask (disco#info) */
	long xfer;             /* the running PUT */
};

/* An out-of-band link being fetched into the spool. */
struct fetch {
	struct fetch *next;
	struct xmpp *c;
	jv stream;             /* the stream event, status still to set */
	long xfer;
	char path[4096];
};

struct xmpp {
	struct bot_host *bh;
	xmpp_ctx_t *ctx;
	xmpp_conn_t *conn;
	xmpp_log_t log;
	enum state state;
	int listening, dead, fd, auth_failed, session_up, direct_tls, rejoin;
	jv failure;
	char jid[XMPP_JID_MAX + 1], bare[XMPP_JID_MAX + 1], domain[1024];
	char host[1024], muc_service[1024], nick[XMPP_NICK_MAX + 1], cafile[4096];
	unsigned short port;
	char *password;
	jv rooms_cfg;              /* [{room, password}] from --xmpp-rooms */
	/* room -> {nick, joined, want, password, subject, occupants{nick: ident}, rejoin_at} */
	jv rooms;
	jv reactions;              /* "sender\nmsgid" -> [names]: the sets seen */
	jv my_reactions;           /* "to\nmsgid" -> [names]: the sets we sent */
	struct job *jobs, *jobs_tail;
	int njobs;
	unsigned long counter;
	char id_prefix[16];
	long long connect_until, quit_until, ping_due, ping_sent_ms, lag_run_ms;
	long long rejoin_delay_ms, wait_ms;
	char ping_id[64];
	/* files: libbothttp, opened on the first one */
	const struct bot_http_lib *http;
	struct bot_http_multi *m;
	int upload_known, closing;     /* upload_known: 1 found, -1 none */
	char upload_svc[1024];
	long long upload_max;          /* its max-file-size, -1 when it gave none */
	long long download_max;
	struct fetch *fetches;
	int nfetches;
};

/* One registry of connections for the sockopt callback, which gets no
 * user data: the connection's socket is ours to poll. */
#define XMPP_INSTANCES 8
static struct xmpp *instances[XMPP_INSTANCES];

/* files (below) */
static void on_upload_iq(struct xmpp *c, struct job *j, xmpp_stanza_t *st, int ok);
static void upload_begin(struct xmpp *c, struct job *j);
static struct job *upload_job(struct xmpp *c, const struct bot_part *part, jv *err);
static void fetch_link(struct xmpp *c, jv msg, const char *url);
static int xm_is_from_self(void *be, jv ev);

static void new_id(struct xmpp *c, const char *kind, char *buf, size_t n)
{
	snprintf(buf, n, "bp%s-%s%lu", c->id_prefix, kind, ++c->counter);
}

static void emit(struct xmpp *c, jv ev)
{
	c->bh->emit(c->bh, ev, jv_null());
}

static void die(struct xmpp *c, jv failure)
{
	if (c->dead) {
		jv_free(failure);
		return;
	}
	jv_free(c->failure);
	c->failure = failure;
	c->dead = 1;
}

static jv room_get(struct xmpp *c, const char *room)
{
	return jv_object_get(jv_copy(c->rooms), jv_string(room));
}

static int room_known(struct xmpp *c, const char *room)
{
	return jv_object_has(jv_copy(c->rooms), jv_string(room));
}

static void room_put(struct xmpp *c, const char *room, jv r)
{
	c->rooms = jv_object_set(c->rooms, jv_string(room), r);
}

/* A field of a room's entry set (made when new, within XMPP_ROOMS_MAX). */
static void room_set(struct xmpp *c, const char *room, const char *key, jv v)
{
	jv r;
	if (room_known(c, room))
		r = room_get(c, room);
	else if (jv_object_length(jv_copy(c->rooms)) >= XMPP_ROOMS_MAX) {
		jv_free(v);
		return;
	} else
		r = JV_OBJECT(jv_string("nick"), jv_string(c->nick), jv_string("occupants"), jv_object());
	room_put(c, room, jv_object_set(r, jv_string(key), v));
}

static int room_flag(struct xmpp *c, const char *room, const char *key)
{
	jv r = room_get(c, room);
	int v = bot_true(r, key);
	jv_free(r);
	return v;
}

static int room_joined(struct xmpp *c, const char *room)
{
	return room_known(c, room) && room_flag(c, room, "joined");
}

/* Our nick in a room (into buf): the one we asked for, or the server's. */
static const char *room_nick(struct xmpp *c, const char *room, char *buf, size_t n)
{
	jv r = room_get(c, room);
	const char *nick = bot_str(r, "nick");
	snprintf(buf, n, "%s", nick ? nick : c->nick);
	jv_free(r);
	return buf;
}

/* ---- stanzas ------------------------------------------------------------- */

static xmpp_stanza_t *add_child(xmpp_stanza_t *parent, const char *name, const char *ns)
{
	xmpp_stanza_t *ch = xmpp_stanza_new(xmpp_stanza_get_context(parent));
	xmpp_stanza_set_name(ch, name);
	if (ns)
		xmpp_stanza_set_ns(ch, ns);
	xmpp_stanza_add_child(parent, ch);
	xmpp_stanza_release(ch);   /* the parent holds it */
	return ch;
}

static void add_text(xmpp_stanza_t *parent, const char *text)
{
	xmpp_stanza_t *t = xmpp_stanza_new(xmpp_stanza_get_context(parent));
	jv clean = xml_clean(text);
	xmpp_stanza_set_text(t, jv_string_value(clean));
	jv_free(clean);
	xmpp_stanza_add_child(parent, t);
	xmpp_stanza_release(t);
}

static void add_text_child(xmpp_stanza_t *parent, const char *name, const char *ns, const char *text)
{
	add_text(add_child(parent, name, ns), text);
}

/* The text inside a stanza (a jv string, or null). */
static jv text_of(xmpp_stanza_t *st)
{
	if (!st)
		return jv_null();
	char *t = xmpp_stanza_get_text(st);
	if (!t)
		return jv_string("");
	jv v = jv_string(t);
	xmpp_free(xmpp_stanza_get_context(st), t);
	return v;
}

static xmpp_stanza_t *child_ns(xmpp_stanza_t *st, const char *name, const char *ns)
{
	return st ? xmpp_stanza_get_child_by_name_and_ns(st, name, ns) : NULL;
}

/* A stanza as text, to send later (a job queued before the session). */
static jv stanza_text(xmpp_stanza_t *st)
{
	char *buf = NULL;
	size_t len = 0;
	jv v = jv_null();
	if (xmpp_stanza_to_text(st, &buf, &len) == XMPP_EOK) {
		v = jv_string_sized(buf, (int)len);
		xmpp_free(xmpp_stanza_get_context(st), buf);
	}
	xmpp_stanza_release(st);
	return v;
}

static xmpp_stanza_t *ping_stanza(struct xmpp *c, const char *id)
{
	xmpp_stanza_t *iq = xmpp_iq_new(c->ctx, "get", id);
	xmpp_stanza_set_to(iq, c->domain);
	add_child(iq, "ping", NS_PING);
	return iq;
}

/* ---- jobs ---------------------------------------------------------------- */

static struct job *job_new(enum job_kind kind, jv ev)
{
	struct job *j = calloc(1, sizeof *j);
	if (!j)
		abort();
	j->kind = kind;
	j->ev = ev;
	j->result = jv_null();
	j->stanzas = jv_array();
	j->file = jv_null();
	j->look = jv_null();
	return j;
}

static void job_free(struct job *j)
{
	/* a PUT still running ends now; its callback sees the job answered */
	if (j->xfer > 0 && j->owner && j->owner->m)
		j->owner->http->cancel(j->owner->m, j->xfer);
	jv_free(j->ev);
	jv_free(j->result);
	jv_free(j->stanzas);
	jv_free(j->file);
	jv_free(j->look);
	free(j);
}

static void job_answer(struct job *j, jv result)
{
	if (j->answered) {
		jv_free(result);
		return;
	}
	j->answered = 1;
	jv_free(j->result);
	j->result = result;
}

static void job_push(struct xmpp *c, struct job *j)
{
	if (c->jobs_tail)
		c->jobs_tail->next = j;
	else
		c->jobs = j;
	c->jobs_tail = j;
	c->njobs++;
}

static void job_stanza(struct job *j, xmpp_stanza_t *st)
{
	j->stanzas = jv_array_append(j->stanzas, stanza_text(st));
}

/* Call done for every answered job, in order (done may submit more). */
static void deliver(struct xmpp *c)
{
	struct job **pp = &c->jobs, *prev = NULL;
	while (*pp) {
		struct job *j = *pp;
		if (!j->answered) {
			prev = j;
			pp = &j->next;
			continue;
		}
		*pp = j->next;
		if (c->jobs_tail == j)
			c->jobs_tail = prev;
		c->njobs--;
		jv r = j->result;
		j->result = jv_null();
		bot_done_fn done = j->done;
		void *ctx = j->ctx;
		job_free(j);
		if (done)
			done(ctx, r);
		else
			jv_free(r);
		pp = prev ? &prev->next : &c->jobs;
	}
}

static void fail_jobs(struct xmpp *c, jv failure)
{
	for (struct job *j = c->jobs; j; j = j->next)
		job_answer(j, jv_copy(failure));
	jv_free(failure);
}

static struct job *job_by_id(struct xmpp *c, const char *id)
{
	if (!id || !*id)
		return NULL;
	for (struct job *j = c->jobs; j; j = j->next)
		if (!j->answered && j->sent && !strcmp(j->id, id))
			return j;
	return NULL;
}

static struct job *job_by_msg_id(struct xmpp *c, const char *id)
{
	if (!id || !*id)
		return NULL;
	for (struct job *j = c->jobs; j; j = j->next)
		if (!j->answered && j->sent && !strcmp(j->msg_id, id))
			return j;
	return NULL;
}

static struct job *job_for_room(struct xmpp *c, enum job_kind kind, const char *room)
{
	for (struct job *j = c->jobs; j; j = j->next)
		if (!j->answered && j->sent && j->kind == kind && !strcasecmp(j->room, room))
			return j;
	return NULL;
}

/* The answer event of a room operation. */
static jv room_answer(jv ev, const char *action, const char *room)
{
	jv ans = bot_room_event(action, bot_room(room));
	jv ref = bot_get(ev, "id");
	if (jv_get_kind(ref) != JV_KIND_NULL)
		ans = jv_object_set(ans, jv_string("ref"), ref);
	else
		jv_free(ref);
	return ans;
}

/* A stanza error (<error type><condition xmlns=stanzas/><text/></error>)
 * as a failure; room operations map item-not-found and friends. */
static jv stanza_failure(xmpp_stanza_t *st, const char *what, int room_op)
{
	xmpp_stanza_t *err = xmpp_stanza_get_child_by_name(st, "error");
	const char *cond = "undefined-condition", *etype = err ? xmpp_stanza_get_type(err) : NULL;
	jv text = jv_null();
	for (xmpp_stanza_t *ch = err ? xmpp_stanza_get_children(err) : NULL; ch; ch = xmpp_stanza_get_next(ch)) {
		const char *name = xmpp_stanza_get_name(ch), *ns = xmpp_stanza_get_ns(ch);
		if (!name || !ns || strcmp(ns, NS_STANZAS))
			continue;
		if (!strcmp(name, "text")) {
			jv_free(text);
			text = text_of(ch);
		} else
			cond = name;
	}
	char msg[600];
	snprintf(msg, sizeof msg, "%.300s: %s%s%.200s", what, cond,
	         jv_get_kind(text) == JV_KIND_STRING ? ": " : "",
	         jv_get_kind(text) == JV_KIND_STRING ? jv_string_value(text) : "");
	jv_free(text);
	int temporary = etype && !strcmp(etype, "wait");
	const char *code = "send_failed";
	if (room_op && (!strcmp(cond, "item-not-found") || !strcmp(cond, "recipient-unavailable")))
		code = "room_does_not_exist";
	else if (room_op && !strcmp(cond, "not-acceptable"))
		code = "room_not_joined";
	else if (!strcmp(cond, "forbidden") || !strcmp(cond, "not-authorized") ||
	         !strcmp(cond, "registration-required") || !strcmp(cond, "not-allowed"))
		code = room_op && !strcmp(cond, "not-allowed") ? "room_does_not_exist" : "denied";
	else if (!strcmp(cond, "resource-constraint") || !strcmp(cond, "remote-server-timeout") ||
	         !strcmp(cond, "service-unavailable") || !strcmp(cond, "internal-server-error"))
		temporary = 1;
	return bot_fail_code(code, temporary, "%s", msg);
}

/* ---- what the server sends: presence ------------------------------------ */

static int has_status(xmpp_stanza_t *x, const char *code)
{
	for (xmpp_stanza_t *ch = x ? xmpp_stanza_get_children(x) : NULL; ch; ch = xmpp_stanza_get_next(ch)) {
		const char *name = xmpp_stanza_get_name(ch), *v = xmpp_stanza_get_attribute(ch, "code");
		if (name && !strcmp(name, "status") && v && !strcmp(v, code))
			return 1;
	}
	return 0;
}

/* show (none, chat, away, xa, dnd) or type unavailable as the seed's
 * statuses: online, away, dnd, offline; xa is away (errbot's XA). */
static const char *presence_status(xmpp_stanza_t *st)
{
	const char *type = xmpp_stanza_get_type(st);
	if (type && !strcmp(type, "unavailable"))
		return "offline";
	jv show = text_of(xmpp_stanza_get_child_by_name(st, "show"));
	const char *s = "online";
	if (jv_get_kind(show) == JV_KIND_STRING) {
		const char *v = jv_string_value(show);
		if (!strcmp(v, "away") || !strcmp(v, "xa"))
			s = "away";
		else if (!strcmp(v, "dnd"))
			s = "dnd";
	}
	jv_free(show);
	return s;
}

static jv presence_event(jv who, xmpp_stanza_t *st)
{
	jv status = text_of(xmpp_stanza_get_child_by_name(st, "status"));
	jv clean = jv_get_kind(status) == JV_KIND_STRING ? status : jv_string("");
	if (jv_get_kind(status) != JV_KIND_STRING)
		jv_free(status);
	jv ev = bot_presence_event(who, presence_status(st),
	                           jv_string_length_bytes(jv_copy(clean)) ? jv_string_value(clean) : NULL);
	jv_free(clean);
	return ev;
}

static void occupant_set(struct xmpp *c, const char *room, const char *nick, jv ident)
{
	jv r = room_get(c, room);
	jv occ = bot_get(r, "occupants");
	if (jv_get_kind(occ) != JV_KIND_OBJECT) {
		jv_free(occ);
		occ = jv_object();
	}
	if (jv_get_kind(ident) == JV_KIND_NULL)
		occ = jv_object_delete(occ, jv_string(nick));
	else if (jv_object_length(jv_copy(occ)) < XMPP_OCCUPANTS_MAX || jv_object_has(jv_copy(occ), jv_string(nick)))
		occ = jv_object_set(occ, jv_string(nick), jv_copy(ident));
	jv_free(ident);
	room_put(c, room, jv_object_set(r, jv_string("occupants"), occ));
}

static void send_stanza(struct xmpp *c, xmpp_stanza_t *st)
{
	if (c->conn)
		xmpp_send(c->conn, st);
	xmpp_stanza_release(st);
}

/* A join request: presence to room/nick with the MUC x (history is the
 * room's default: it comes marked delayed and is not dispatched). */
static xmpp_stanza_t *join_stanza(struct xmpp *c, const char *room, const char *nick, const char *password)
{
	xmpp_stanza_t *p = xmpp_presence_new(c->ctx);
	char to[XMPP_JID_MAX + XMPP_NICK_MAX + 2];
	snprintf(to, sizeof to, "%s/%s", room, nick);
	xmpp_stanza_set_to(p, to);
	xmpp_stanza_t *x = add_child(p, "x", NS_MUC);
	if (password && *password)
		add_text_child(x, "password", NULL, password);
	return p;
}

/* Make a new room usable: submit the owner form as it is (instant room). */
static void unlock_room(struct xmpp *c, struct job *j, const char *room)
{
	new_id(c, "cfg", j->id, sizeof j->id);
	xmpp_stanza_t *iq = xmpp_iq_new(c->ctx, "set", j->id);
	xmpp_stanza_set_to(iq, room);
	xmpp_stanza_t *q = add_child(iq, "query", NS_MUC_OWNER);
	xmpp_stanza_t *x = add_child(q, "x", NS_DATA);
	xmpp_stanza_set_type(x, "submit");
	j->configuring = 1;
	send_stanza(c, iq);
}

static void self_left(struct xmpp *c, const char *room, xmpp_stanza_t *x, jv occupant)
{
	int kicked = has_status(x, "307") || has_status(x, "301");
	room_set(c, room, "joined", jv_false());
	room_set(c, room, "occupants", jv_object());
	struct job *j = job_for_room(c, JOB_LEAVE, room);
	if (j) {
		room_set(c, room, "want", jv_false());
		job_answer(j, jv_object_set(room_answer(j->ev, "leave", room), jv_string("joined"), jv_false()));
	} else if (kicked && c->rejoin && room_flag(c, room, "want") && c->listening)
		room_set(c, room, "rejoin_at", jv_number((double)(bot_now_ms() + c->rejoin_delay_ms)));
	jv ev = jv_object_set(bot_room_event("left", bot_room(room)), jv_string("occupant"), occupant);
	if (kicked)
		ev = jv_object_set(ev, jv_string("extras"), JV_OBJECT(jv_string(has_status(x, "301") ? "banned" : "kicked"), jv_true()));
	emit(c, ev);
}

static void on_room_presence(struct xmpp *c, xmpp_stanza_t *st, const char *room, const char *nick)
{
	const char *type = xmpp_stanza_get_type(st);
	if (type && !strcmp(type, "error")) {
		struct job *j = job_for_room(c, JOB_JOIN, room);
		if (j) {
			room_set(c, room, "want", jv_false());
			job_answer(j, stanza_failure(st, room, 1));
		}
		return;
	}
	xmpp_stanza_t *x = child_ns(st, "x", NS_MUC_USER);
	xmpp_stanza_t *item = x ? xmpp_stanza_get_child_by_name(x, "item") : NULL;
	const char *real = item ? xmpp_stanza_get_attribute(item, "jid") : NULL;
	char mine[XMPP_NICK_MAX + 1];
	int self = has_status(x, "110") || !strcmp(nick, room_nick(c, room, mine, sizeof mine));
	int gone = type && !strcmp(type, "unavailable");
	jv occ = xmpp_occupant(room, nick, real);
	if (self && gone) {
		self_left(c, room, x, occ);
		return;
	}
	int was_in = 0;
	jv r = room_get(c, room);
	jv have = jv_object_get(bot_get(r, "occupants"), jv_string(nick));
	was_in = jv_is_valid(have);
	jv_free(have);
	jv_free(r);
	if (self && !gone) {
		room_set(c, room, "nick", jv_string(nick));   /* 210: the server's choice */
		if (!room_flag(c, room, "joined")) {
			room_set(c, room, "joined", jv_true());
			struct job *j = job_for_room(c, JOB_JOIN, room);
			if (j && has_status(x, "201"))
				unlock_room(c, j, room);
		}
	}
	occupant_set(c, room, nick, gone ? jv_null() : jv_copy(occ));
	if (gone) {
		emit(c, jv_object_set(bot_room_event("left", bot_room(room)), jv_string("occupant"), jv_copy(occ)));
		emit(c, presence_event(occ, st));
		return;
	}
	if (!was_in)
		emit(c, jv_object_set(bot_room_event("joined", bot_room(room)), jv_string("occupant"), jv_copy(occ)));
	emit(c, presence_event(occ, st));
}

static int on_presence(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
	struct xmpp *c = ud;
	(void)conn;
	const char *from = xmpp_stanza_get_from(st), *type = xmpp_stanza_get_type(st);
	if (!from || !jid_ok(from))
		return 1;
	char bare[XMPP_JID_MAX + 1];
	jid_bare(from, bare, sizeof bare);
	const char *res = jid_resource(from);
	if (room_known(c, bare) && res && nick_ok(res)) {
		on_room_presence(c, st, bare, res);
		return 1;
	}
	if (type && !strcmp(type, "subscribe")) {
		/* errbot accepts every subscription; so do we, and ask back */
		xmpp_stanza_t *p = xmpp_presence_new(c->ctx);
		xmpp_stanza_set_type(p, "subscribed");
		xmpp_stanza_set_to(p, bare);
		send_stanza(c, p);
		p = xmpp_presence_new(c->ctx);
		xmpp_stanza_set_type(p, "subscribe");
		xmpp_stanza_set_to(p, bare);
		send_stanza(c, p);
		return 1;
	}
	if (type && strcmp(type, "unavailable"))
		return 1;   /* subscribed, unsubscribe, probe, error */
	const char *bound = c->conn ? xmpp_conn_get_bound_jid(c->conn) : NULL;
	if (bound && !strcasecmp(from, bound))
		return 1;   /* our own presence, reflected */
	emit(c, presence_event(xmpp_person(from), st));
	return 1;
}

/* ---- what the server sends: messages ------------------------------------ */

/* Look-only: 1 when the array of strings holds s. */
static int array_has(jv arr, const char *s)
{
	int found = 0;
	jv_array_foreach(arr, i, v) {
		if (!found && jv_get_kind(v) == JV_KIND_STRING && !strcmp(jv_string_value(v), s))
			found = 1;
		jv_free(v);
		(void)i;
	}
	return found;
}

/* The difference between the reaction set a sender had on a message and
 * the one it sends now (XEP-0444: each stanza is the whole set). */
static void on_reactions(struct xmpp *c, xmpp_stanza_t *react, jv reactor, jv to, const char *sender)
{
	const char *target = xmpp_stanza_get_attribute(react, "id");
	if (!target || !*target || strlen(target) > 256) {
		jv_free(reactor);
		jv_free(to);
		return;
	}
	jv key = jv_string_fmt("%s\n%s", sender, target);
	jv before = jv_object_get(jv_copy(c->reactions), jv_copy(key));
	if (!jv_is_valid(before)) {
		jv_free(before);
		before = jv_array();
	}
	jv now = jv_array();
	int n = 0;
	for (xmpp_stanza_t *ch = xmpp_stanza_get_children(react); ch && n < 64; ch = xmpp_stanza_get_next(ch)) {
		const char *name = xmpp_stanza_get_name(ch);
		if (!name || strcmp(name, "reaction"))
			continue;
		jv t = text_of(ch);
		if (jv_string_length_bytes(jv_copy(t)) > 0 && jv_string_length_bytes(jv_copy(t)) <= 64) {
			now = jv_array_append(now, t);
			n++;
		} else
			jv_free(t);
	}
	jv reacted = JV_OBJECT(jv_string("id"), jv_string(target), jv_string("to"), to);
	jv_array_foreach(now, i, r) {
		if (!array_has(before, jv_string_value(r)))
			emit(c, bot_reaction_event(jv_copy(reactor), "added", jv_string_value(r), jv_copy(reacted), NULL));
		jv_free(r);
		(void)i;
	}
	jv_array_foreach(before, i, r) {
		if (!array_has(now, jv_string_value(r)))
			emit(c, bot_reaction_event(jv_copy(reactor), "removed", jv_string_value(r), jv_copy(reacted), NULL));
		jv_free(r);
		(void)i;
	}
	jv_free(before);
	jv_free(reacted);
	jv_free(reactor);
	if (jv_array_length(jv_copy(now)) == 0)
		c->reactions = jv_object_delete(c->reactions, key);
	else {
		if (jv_object_length(jv_copy(c->reactions)) >= XMPP_REACTIONS_MAX)
			c->reactions = jv_object();   /* forget the oldest sets at once */
		c->reactions = jv_object_set(c->reactions, key, jv_copy(now));
	}
	jv_free(now);
}

static void on_subject(struct xmpp *c, xmpp_stanza_t *st, const char *room, const char *nick, jv subject)
{
	room_set(c, room, "subject", jv_copy(subject));
	struct job *j = job_for_room(c, JOB_JOIN, room);
	if (j && !j->configuring)
		job_answer(j, jv_object_set(room_answer(j->ev, j->action, room), jv_string("joined"), jv_true()));
	/* our new subject, echoed (prosody drops the id): from our nick */
	char mine[XMPP_NICK_MAX + 1];
	struct job *t = job_by_msg_id(c, xmpp_stanza_get_id(st));
	if (!t && nick && !strcmp(nick, room_nick(c, room, mine, sizeof mine)))
		t = job_for_room(c, JOB_TOPIC, room);
	if (t && t->kind == JOB_TOPIC)
		job_answer(t, jv_object_set(room_answer(t->ev, "topic", room), jv_string("topic"), jv_copy(subject)));
	jv ev = jv_object_set(bot_room_event("topic", bot_room(room)), jv_string("topic"), subject);
	if (nick)
		ev = jv_object_set(ev, jv_string("occupant"), xmpp_occupant(room, nick, NULL));
	emit(c, ev);
}

static jv message_extras(xmpp_stanza_t *st, jv msg, const char *room)
{
	xmpp_stanza_t *delay = child_ns(st, "delay", NS_DELAY);
	if (delay)
		msg = jv_object_set(msg, jv_string("delayed"), jv_true());
	xmpp_stanza_t *rep = child_ns(st, "replace", NS_CORRECT);
	const char *rid = rep ? xmpp_stanza_get_attribute(rep, "id") : NULL;
	if (rid && *rid && strlen(rid) <= 256)
		msg = jv_object_set(msg, jv_string("replaces"), jv_string(rid));
	xmpp_stanza_t *reply = child_ns(st, "reply", NS_REPLY);
	const char *pid = reply ? xmpp_stanza_get_attribute(reply, "id") : NULL;
	if (pid && *pid && strlen(pid) <= 256)
		msg = jv_object_set(msg, jv_string("parent"), JV_OBJECT(jv_string("id"), jv_string(pid)));
	jv extras = jv_object();
	for (xmpp_stanza_t *sid = st ? xmpp_stanza_get_children(st) : NULL; sid; sid = xmpp_stanza_get_next(sid)) {
		const char *name = xmpp_stanza_get_name(sid), *ns = xmpp_stanza_get_ns(sid);
		const char *by = xmpp_stanza_get_attribute(sid, "by"), *v = xmpp_stanza_get_attribute(sid, "id");
		if (name && ns && !strcmp(name, "stanza-id") && !strcmp(ns, NS_SID) && room && by &&
		    !strcasecmp(by, room) && v && strlen(v) <= 256)
			extras = jv_object_set(extras, jv_string("stanza_id"), jv_string(v));
	}
	xmpp_stanza_t *oob = child_ns(st, "x", NS_OOB);
	if (oob) {
		jv url = text_of(xmpp_stanza_get_child_by_name(oob, "url"));
		if (jv_get_kind(url) == JV_KIND_STRING && jv_string_length_bytes(jv_copy(url)) <= 4096)
			extras = jv_object_set(extras, jv_string("url"), url);
		else
			jv_free(url);
	}
	if (jv_object_length(jv_copy(extras)))
		msg = jv_object_set(msg, jv_string("extras"), extras);
	else
		jv_free(extras);
	return msg;
}

/* A message error for one of our jobs (the room or person said no). */
static int on_message_error(struct xmpp *c, xmpp_stanza_t *st)
{
	const char *id = xmpp_stanza_get_id(st);
	struct job *j = job_by_msg_id(c, id);
	if (j) {
		const char *from = xmpp_stanza_get_from(st);
		char bare[XMPP_JID_MAX + 1] = "";
		if (from)
			jid_bare(from, bare, sizeof bare);
		job_answer(j, stanza_failure(st, *bare ? bare : "message", room_known(c, bare)));
	}
	return 1;
}

static int on_message(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
	struct xmpp *c = ud;
	(void)conn;
	const char *from = xmpp_stanza_get_from(st), *type = xmpp_stanza_get_type(st);
	if (type && !strcmp(type, "error"))
		return on_message_error(c, st);
	if (!from || !jid_ok(from))
		return 1;
	char bare[XMPP_JID_MAX + 1];
	jid_bare(from, bare, sizeof bare);
	const char *res = jid_resource(from), *id = xmpp_stanza_get_id(st);
	int group = type && !strcmp(type, "groupchat");
	if (group && !room_known(c, bare))
		return 1;
	jv body = text_of(xmpp_stanza_get_child_by_name(st, "body"));
	jv subject = text_of(xmpp_stanza_get_child_by_name(st, "subject"));
	xmpp_stanza_t *react = child_ns(st, "reactions", NS_REACTIONS);
	if (group && jv_get_kind(subject) == JV_KIND_STRING && jv_get_kind(body) == JV_KIND_NULL) {
		jv_free(body);
		on_subject(c, st, bare, res && nick_ok(res) ? res : NULL, subject);
		return 1;
	}
	jv_free(subject);
	/* a mediated invitation (XEP-0045 7.8.2) or a direct one (XEP-0249) */
	xmpp_stanza_t *ux = child_ns(st, "x", NS_MUC_USER);
	xmpp_stanza_t *inv = ux ? xmpp_stanza_get_child_by_name(ux, "invite") : NULL;
	xmpp_stanza_t *dinv = child_ns(st, "x", NS_CONFERENCE);
	if ((inv || dinv) && !group) {
		const char *room = dinv ? xmpp_stanza_get_attribute(dinv, "jid") : bare;
		const char *by = inv ? xmpp_stanza_get_attribute(inv, "from") : from;
		if (room && jid_ok(room)) {
			jv ev = bot_room_event("invite", bot_room(room));
			char byroom[XMPP_JID_MAX + 1] = "";
			if (by && jid_ok(by))
				jid_bare(by, byroom, sizeof byroom);
			/* an anonymous room names the occupant who invites */
			if (*byroom && !strcasecmp(byroom, room) && jid_resource(by) && nick_ok(jid_resource(by)))
				ev = jv_object_set(ev, jv_string("occupant"), xmpp_occupant(room, jid_resource(by), NULL));
			else if (*byroom)
				ev = jv_object_set(ev, jv_string("identifier"), xmpp_person(by));
			emit(c, ev);
		}
		jv_free(body);
		return 1;
	}
	jv who, to;
	if (group) {
		if (!res || !nick_ok(res)) {
			jv_free(body);
			return 1;   /* the room itself speaking */
		}
		jv r = room_get(c, bare);
		jv known = jv_object_get(bot_get(r, "occupants"), jv_string(res));
		jv_free(r);
		who = jv_is_valid(known) ? known : xmpp_occupant(bare, res, NULL);
		if (!jv_is_valid(known))
			jv_free(known);
		to = bot_room(bare);
	} else if (room_known(c, bare) && res && nick_ok(res)) {
		who = xmpp_occupant(bare, res, NULL);   /* a private message in a room */
		to = xmpp_person(c->bare);
	} else {
		who = xmpp_person(from);
		to = xmpp_person(c->bare);
	}
	if (react && id) {
		jv_free(body);
		on_reactions(c, react, who, to, from);
		return 1;
	}
	if (jv_get_kind(body) != JV_KIND_STRING) {
		jv_free(body);
		jv_free(who);
		jv_free(to);
		return 1;   /* chat states, receipts: nothing to say */
	}
	jv msg = bot_message(who, to, "");
	msg = jv_object_set(msg, jv_string("body"), body);
	if (id && *id && strlen(id) <= 256)
		msg = jv_object_set(msg, jv_string("id"), jv_string(id));
	msg = jv_object_set(msg, jv_string("ts"), jv_number((double)time(NULL)));
	msg = message_extras(st, msg, group ? bare : NULL);
	jv extras = bot_get(msg, "extras");
	const char *url = bot_str(extras, "url");
	if (url && c->listening && c->download_max > 0 && !bot_true(msg, "delayed") && !xm_is_from_self(c, msg)) {
		jv keep = jv_copy(msg);
		emit(c, msg);
		fetch_link(c, keep, url);   /* its stream event after the message */
		jv_free(keep);
	} else
		emit(c, msg);
	jv_free(extras);
	return 1;
}

/* ---- what the server sends: iq ------------------------------------------ */

static jv disco_info_answer(struct job *j, xmpp_stanza_t *st, struct xmpp *c)
{
	jv ans = room_answer(j->ev, "info", j->room);
	ans = jv_object_set(ans, jv_string("exists"), jv_true());
	ans = jv_object_set(ans, jv_string("joined"), jv_bool(room_joined(c, j->room)));
	xmpp_stanza_t *q = child_ns(st, "query", NS_DISCO_INFO);
	xmpp_stanza_t *idn = q ? xmpp_stanza_get_child_by_name(q, "identity") : NULL;
	const char *name = idn ? xmpp_stanza_get_attribute(idn, "name") : NULL;
	if (name && bot_utf8_valid(name, strlen(name)) && strlen(name) <= 1024)
		ans = jv_object_set(ans, jv_string("name"), jv_string(name));
	jv r = room_get(c, j->room);
	jv subj = bot_get(r, "subject");
	jv_free(r);
	if (jv_get_kind(subj) == JV_KIND_STRING)
		ans = jv_object_set(ans, jv_string("topic"), subj);
	else
		jv_free(subj);
	return ans;
}

static jv disco_items_answer(struct xmpp *c, struct job *j, xmpp_stanza_t *st)
{
	jv ans = JV_OBJECT(jv_string("type"), jv_string("room"), jv_string("action"), jv_string("list"));
	jv ref = bot_get(j->ev, "id");
	if (jv_get_kind(ref) != JV_KIND_NULL)
		ans = jv_object_set(ans, jv_string("ref"), ref);
	else
		jv_free(ref);
	jv rooms = jv_array();
	xmpp_stanza_t *q = child_ns(st, "query", NS_DISCO_ITEMS);
	int n = 0;
	for (xmpp_stanza_t *it = q ? xmpp_stanza_get_children(q) : NULL; it && n < XMPP_ROOMS_MAX; it = xmpp_stanza_get_next(it)) {
		const char *nm = xmpp_stanza_get_name(it), *jid = xmpp_stanza_get_attribute(it, "jid");
		if (!nm || strcmp(nm, "item") || !jid || !jid_ok(jid) || jid_resource(jid))
			continue;
		jv r = bot_room(jid);
		const char *name = xmpp_stanza_get_attribute(it, "name");
		if (name && bot_utf8_valid(name, strlen(name)) && strlen(name) <= 1024)
			r = jv_object_set(r, jv_string("name"), jv_string(name));
		r = jv_object_set(r, jv_string("joined"), jv_bool(room_joined(c, jid)));
		rooms = jv_array_append(rooms, r);
		n++;
	}
	return jv_object_set(ans, jv_string("rooms"), rooms);
}

static void on_job_iq(struct xmpp *c, struct job *j, xmpp_stanza_t *st, int ok)
{
	if (!strcmp(j->id, c->ping_id))
		return;
	if (j->kind == JOB_UPLOAD) {
		on_upload_iq(c, j, st, ok);
		return;
	}
	if (j->kind == JOB_PINGED && !strcmp(j->action, "invite")) {
		job_answer(j, jv_copy(j->ev));
		return;
	}
	if (j->kind == JOB_PINGED) {
		/* the pong after our stanzas: everything before it was taken */
		job_answer(j, JV_OBJECT(jv_string("id"), *j->msg_id ? jv_string(j->msg_id) : jv_null()));
		return;
	}
	if (j->kind == JOB_JOIN && j->configuring) {
		if (!ok)
			job_answer(j, stanza_failure(st, j->room, 1));
		else
			job_answer(j, jv_object_set(room_answer(j->ev, j->action, j->room), jv_string("joined"), jv_true()));
		return;
	}
	if (!ok) {
		jv f = stanza_failure(st, j->room, 1);
		char code[64];
		if (!strcmp(j->action, "info") && !strcmp(bot_fail_code_of(f, code, sizeof code), "room_does_not_exist")) {
			jv_free(f);
			jv ans = room_answer(j->ev, "info", j->room);
			ans = jv_object_set(ans, jv_string("exists"), jv_false());
			job_answer(j, jv_object_set(ans, jv_string("joined"), jv_false()));
		} else
			job_answer(j, f);
		return;
	}
	if (!strcmp(j->action, "info"))
		job_answer(j, disco_info_answer(j, st, c));
	else if (!strcmp(j->action, "list"))
		job_answer(j, disco_items_answer(c, j, st));
	else {   /* destroy */
		room_set(c, j->room, "want", jv_false());
		room_set(c, j->room, "joined", jv_false());
		job_answer(j, jv_object_set(room_answer(j->ev, "destroy", j->room), jv_string("joined"), jv_false()));
	}
}

static int on_iq(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
	struct xmpp *c = ud;
	(void)conn;
	const char *type = xmpp_stanza_get_type(st), *id = xmpp_stanza_get_id(st);
	if (!type)
		return 1;
	if (!strcmp(type, "result") || !strcmp(type, "error")) {
		if (id && *c->ping_id && !strcmp(id, c->ping_id)) {
			c->ping_sent_ms = 0;   /* any answer means the server is there */
			c->ping_id[0] = 0;
		}
		struct job *j = job_by_id(c, id);
		if (j)
			on_job_iq(c, j, st, !strcmp(type, "result"));
		return 1;
	}
	if (strcmp(type, "get") && strcmp(type, "set"))
		return 1;   /* no such iq type: nothing to answer */
	/* get/set: answer a ping; refuse the rest (RFC 6120 8.2.3) */
	xmpp_stanza_t *reply;
	if (!strcmp(type, "get") && child_ns(st, "ping", NS_PING)) {
		reply = xmpp_iq_new(c->ctx, "result", id ? id : "");
		if (xmpp_stanza_get_from(st))
			xmpp_stanza_set_to(reply, xmpp_stanza_get_from(st));
	} else
		reply = xmpp_stanza_reply_error(st, "cancel", "service-unavailable", NULL);
	if (reply)
		send_stanza(c, reply);
	return 1;
}

/* ---- the connection ------------------------------------------------------ */

/* libstrophe's log: nothing unless -v -v, and never the SASL exchange
 * (under PLAIN the DEBUG line holds the password in base64) nor an upload
 * slot (its PUT headers carry the service's credential).  The SASL
 * failure is seen here: libstrophe reports it only by disconnecting. */
static void on_log(void *ud, xmpp_log_level_t level, const char *area, const char *msg)
{
	struct xmpp *c = ud;
	if (!msg)
		return;
	if ((strstr(msg, "RECV: <failure") && strstr(msg, "xmpp-sasl")) ||
	    (area && !strcmp(area, "auth") && strstr(msg, "Cannot authenticate")))
		c->auth_failed = 1;
	if (strstr(msg, "<auth") || strstr(msg, "<response") || strstr(msg, "<challenge") ||
	    strstr(msg, "<success"))
		return;
	(void)level;
	if (bot_verbosity < 2)
		return;
	if (strstr(msg, "<slot") && strstr(msg, NS_UPLOAD)) {
		bot_debug("xmpp: %s: an upload slot (not shown: its headers are credentials)", area ? area : "");
		return;
	}
	char line[512];
	bot_debug("xmpp: %s: %s", area ? area : "", bot_oneline(line, sizeof line, msg, strlen(msg)));
}

static int on_sockopt(xmpp_conn_t *conn, void *sock)
{
	for (int i = 0; i < XMPP_INSTANCES; i++)
		if (instances[i] && instances[i]->conn == conn)
			instances[i]->fd = *(int *)sock;
	return xmpp_sockopt_cb_keepalive(conn, sock);
}

static void instance_set(struct xmpp *c, int on)
{
	for (int i = 0; i < XMPP_INSTANCES; i++) {
		if (on && !instances[i]) {
			instances[i] = c;
			return;
		}
		if (!on && instances[i] == c)
			instances[i] = NULL;
	}
}

static const char *stream_error_name(xmpp_error_type_t t)
{
	static const char *const names[] = {
		"bad-format", "bad-namespace-prefix", "conflict", "connection-timeout", "host-gone",
		"host-unknown", "improper-addressing", "internal-server-error", "invalid-from",
		"invalid-id", "invalid-namespace", "invalid-xml", "not-authorized", "policy-violation",
		"remote-connection-failed", "resource-constraint", "restricted-xml", "see-other-host",
		"system-shutdown", "undefined-condition", "unsupported-encoding",
		"unsupported-stanza-type", "unsupported-version", "xml-not-well-formed",
	};
	return (unsigned)t < sizeof names / sizeof *names ? names[t] : "undefined-condition";
}

static void session_started(struct xmpp *c);

static void on_conn(xmpp_conn_t *conn, xmpp_conn_event_t ev, int error, xmpp_stream_error_t *se, void *ud)
{
	struct xmpp *c = ud;
	(void)conn;
	if (ev == XMPP_CONN_CONNECT) {
		session_started(c);
		return;
	}
	if (ev == XMPP_CONN_RAW_CONNECT)
		return;
	const char *where = *c->host ? c->host : c->domain;
	if (c->state == ST_QUITTING)
		die(c, bot_fail_code("connection_lost", 1, "the connection to %s was closed", where));
	else if (c->auth_failed || (se && se->type == XMPP_SE_NOT_AUTHORIZED))
		die(c, bot_fail_code("denied", 0, "%s: the server refused the login of %s (wrong password?)", where, c->bare));
	else if (se)
		die(c, bot_fail_code("connection_lost", 1, "%s: stream error %s%s%.200s", where,
		                     stream_error_name(se->type), se->text ? ": " : "", se->text ? se->text : ""));
	else if (!c->session_up)
		die(c, bot_fail_code("connect_failed", 1, "%s: no XMPP session%s%s", where,
		                     error ? ": " : " (the connection, TLS or the stream failed)",
		                     error ? strerror(error) : ""));
	else
		die(c, bot_fail_code("connection_lost", 1, "%s: the connection was lost%s%s", where,
		                     error ? ": " : "", error ? strerror(error) : ""));
}

static int on_ping_timer(xmpp_conn_t *conn, void *ud)
{
	struct xmpp *c = ud;
	(void)conn;
	c->ping_due = bot_now_ms() + XMPP_PING_MS;
	if (c->ping_sent_ms)
		return 1;   /* the grace timer decides */
	new_id(c, "ping", c->ping_id, sizeof c->ping_id);
	send_stanza(c, ping_stanza(c, c->ping_id));
	c->ping_sent_ms = bot_now_ms();
	return 1;
}

/* Join a room we want (bot-listen's rooms, after a connect or a kick): a
 * job without a caller, answered at the join's end. */
static void join_wanted(struct xmpp *c, const char *room)
{
	struct job *j = job_new(JOB_JOIN, jv_null());
	snprintf(j->room, sizeof j->room, "%s", room);
	snprintf(j->action, sizeof j->action, "join");
	char nick[XMPP_NICK_MAX + 1];
	jv r = room_get(c, room);
	const char *pw = bot_str(r, "password");
	job_stanza(j, join_stanza(c, room, c->nick, pw));
	snprintf(nick, sizeof nick, "%s", c->nick);
	jv_free(r);
	room_set(c, room, "nick", jv_string(nick));
	room_set(c, room, "joined", jv_false());
	/* first in the queue: the callers' jobs wait for the joins */
	j->next = c->jobs;
	c->jobs = j;
	if (!c->jobs_tail)
		c->jobs_tail = j;
	c->njobs++;
}

static int joins_pending(struct xmpp *c)
{
	for (struct job *j = c->jobs; j; j = j->next)
		if (j->kind == JOB_JOIN && !j->done && !j->answered)
			return 1;
	return 0;
}

static void send_jobs(struct xmpp *c);

static void session_started(struct xmpp *c)
{
	c->state = ST_UP;
	c->session_up = 1;
	bot_debug("xmpp: session established on fd %d", c->fd);
	c->ping_sent_ms = 0;
	c->ping_id[0] = 0;
	c->upload_known = 0;   /* the upload service is looked for again */
	send_stanza(c, xmpp_presence_new(c->ctx));
	xmpp_timed_handler_add(c->conn, on_ping_timer, XMPP_PING_MS, c);
	c->ping_due = bot_now_ms() + XMPP_PING_MS;
	/* what we want to be in: the configured rooms, and in bot-listen
	 * those bot-room joined since (a reconnect rejoins them) */
	jv rooms_now = jv_copy(c->rooms);
	jv_object_foreach(rooms_now, room, r) {
		if (bot_true(r, "want"))
			join_wanted(c, jv_string_value(room));
		jv_free(room);
		jv_free(r);
	}
	jv_free(rooms_now);
	if (c->listening)
		c->bh->up(c->bh);
}

static int begin_connect(struct xmpp *c, jv *err)
{
	c->conn = xmpp_conn_new(c->ctx);
	if (!c->conn)
		abort();
	long flags = XMPP_CONN_FLAG_MANDATORY_TLS | XMPP_CONN_FLAG_DISABLE_SM;
	if (c->direct_tls)
		flags |= XMPP_CONN_FLAG_LEGACY_SSL;
	xmpp_conn_set_flags(c->conn, flags);
	xmpp_conn_set_jid(c->conn, c->jid);
	xmpp_conn_set_pass(c->conn, c->password);
	if (*c->cafile)
		xmpp_conn_set_cafile(c->conn, c->cafile);
	xmpp_conn_set_sockopt_callback(c->conn, on_sockopt);
	xmpp_handler_add(c->conn, on_message, NULL, "message", NULL, c);
	xmpp_handler_add(c->conn, on_presence, NULL, "presence", NULL, c);
	xmpp_handler_add(c->conn, on_iq, NULL, "iq", NULL, c);
	c->fd = -1;
	c->auth_failed = c->session_up = c->dead = 0;
	instance_set(c, 1);
	if (xmpp_connect_client(c->conn, *c->host ? c->host : NULL, c->port, on_conn, c) != XMPP_EOK) {
		*err = bot_fail_code("connect_failed", 1, "%s: cannot connect", *c->host ? c->host : c->domain);
		instance_set(c, 0);
		xmpp_conn_release(c->conn);
		c->conn = NULL;
		return -1;
	}
	c->state = ST_CONNECTING;
	c->connect_until = bot_now_ms() + c->wait_ms;
	return 0;
}

/* Drop the connection at once (no goodbye); the rooms are left, those we
 * want are joined again on the next session. */
static void conn_close(struct xmpp *c)
{
	if (c->conn) {
		instance_set(c, 0);
		xmpp_conn_release(c->conn);
		c->conn = NULL;
	}
	c->fd = -1;
	c->state = ST_IDLE;
	c->session_up = 0;
	c->ping_sent_ms = 0;
	jv rooms_now = jv_copy(c->rooms);
	jv_object_foreach(rooms_now, room, r) {
		room_set(c, jv_string_value(room), "joined", jv_false());
		room_set(c, jv_string_value(room), "occupants", jv_object());
		jv_free(room);
		jv_free(r);
	}
	jv_free(rooms_now);
}

/* The connection ended (c->dead): close it, fail what waits.  In
 * bot-listen -1 + *err for the loop to decide; after our goodbye or on a
 * lazy connection 0 (the jobs carry the failure). */
static int conn_ended(struct xmpp *c, jv *err)
{
	jv f = c->failure;
	c->failure = jv_null();
	c->dead = 0;
	int quitting = c->state == ST_QUITTING;
	if (jv_get_kind(f) == JV_KIND_NULL)
		f = bot_fail_code("connection_lost", 1, "the connection was lost");
	fail_jobs(c, jv_copy(f));
	conn_close(c);
	if (quitting || !c->listening) {
		jv_free(f);
		return 0;
	}
	*err = f;
	return -1;
}

/* A job's last check before it goes out: a room it needs joined. */
static int job_ready(struct xmpp *c, struct job *j)
{
	if (!*j->room || j->kind == JOB_JOIN || j->kind == JOB_IQ)
		return 1;
	if (room_joined(c, j->room))
		return 1;
	job_answer(j, bot_fail_code("room_not_joined", 0, "%s: the bot is not in this room", j->room));
	return 0;
}

/* The answer of a topic or occupants request, from what the room told us. */
static jv local_answer(struct xmpp *c, struct job *j)
{
	jv r = room_get(c, j->room);
	jv ans = room_answer(j->ev, j->action, j->room);
	if (!strcmp(j->action, "topic")) {
		jv s = bot_get(r, "subject");
		ans = jv_object_set(ans, jv_string("topic"), jv_get_kind(s) == JV_KIND_STRING ? s : jv_string(""));
		if (jv_get_kind(s) != JV_KIND_STRING)
			jv_free(s);
	} else {
		jv list = jv_array();
		jv occ_now = bot_get(r, "occupants");
		if (jv_get_kind(occ_now) != JV_KIND_OBJECT) {
			jv_free(occ_now);
			occ_now = jv_object();
		}
		jv_object_foreach(occ_now, nick, o) {
			list = jv_array_append(list, o);
			jv_free(nick);
		}
		jv_free(occ_now);
		ans = jv_object_set(ans, jv_string("occupants"), list);
	}
	jv_free(r);
	return ans;
}

/* Send what waits, once the session is up and the rooms we want are
 * joined (a lazy connection's message to a room needs the room). */
static void send_jobs(struct xmpp *c)
{
	if (c->state != ST_UP || c->dead)
		return;
	int joining = joins_pending(c);
	long long now = bot_now_ms();
	for (struct job *j = c->jobs; j; j = j->next) {
		if (j->sent || j->answered)
			continue;
		if (joining && j->done)
			break;   /* in order: the callers' jobs after the joins */
		if (!job_ready(c, j))
			continue;
		j->sent = 1;
		j->deadline = now + c->wait_ms;
		if (j->kind == JOB_LOCAL) {
			job_answer(j, local_answer(c, j));
			continue;
		}
		if (j->kind == JOB_UPLOAD) {
			upload_begin(c, j);
			continue;
		}
		jv_array_foreach(j->stanzas, i, s) {
			xmpp_send_raw(c->conn, jv_string_value(s), (size_t)jv_string_length_bytes(jv_copy(s)));
			jv_free(s);
			(void)i;
		}
		if (j->kind == JOB_PINGED) {
			new_id(c, "p", j->id, sizeof j->id);
			send_stanza(c, ping_stanza(c, j->id));
		}
	}
}

static void rejoin_due(struct xmpp *c, long long now)
{
	jv rooms_now = jv_copy(c->rooms);
	jv_object_foreach(rooms_now, room, r) {
		jv at = bot_get(r, "rejoin_at");
		if (jv_get_kind(at) == JV_KIND_NUMBER && jv_number_value(at) <= (double)now) {
			c->rooms = jv_object_set(c->rooms, jv_copy(room), jv_object_delete(jv_copy(r), jv_string("rejoin_at")));
			join_wanted(c, jv_string_value(room));
		}
		jv_free(at);
		jv_free(room);
		jv_free(r);
	}
	jv_free(rooms_now);
}

static long long next_rejoin(struct xmpp *c)
{
	long long at = -1;
	jv rooms_now = jv_copy(c->rooms);
	jv_object_foreach(rooms_now, room, r) {
		jv t = bot_get(r, "rejoin_at");
		if (jv_get_kind(t) == JV_KIND_NUMBER && (at < 0 || (long long)jv_number_value(t) < at))
			at = (long long)jv_number_value(t);
		jv_free(t);
		jv_free(room);
		jv_free(r);
	}
	jv_free(rooms_now);
	return at;
}

static void timers(struct xmpp *c)
{
	long long now = bot_now_ms();
	if (c->state == ST_CONNECTING && now >= c->connect_until)
		die(c, bot_fail_code("connect_failed", 1, "%s: no XMPP session in %g s",
		                     *c->host ? c->host : c->domain, (double)c->wait_ms / 1000));
	if (c->state == ST_QUITTING && now >= c->quit_until)
		die(c, bot_fail_code("connection_lost", 1, "no close after the goodbye"));
	if (c->state != ST_UP || c->dead)
		return;
	if (c->ping_sent_ms && now - c->ping_sent_ms >= XMPP_PING_GRACE_MS) {
		die(c, bot_fail_code("connection_lost", 1, "ping timeout: no answer in %d s", XMPP_PING_GRACE_MS / 1000));
		return;
	}
	for (struct job *j = c->jobs; j; j = j->next) {
		if (!j->sent || j->answered || j->xfer > 0 || now < j->deadline)
			continue;   /* a PUT has libcurl's own timeout */
		if (j->kind == JOB_PINGED) {
			die(c, bot_fail_code("connection_lost", 1, "no answer from the server in %g s", (double)c->wait_ms / 1000));
			return;
		}
		job_answer(j, bot_fail_code("send_failed", 1, "%s: no answer in %g s", *j->room ? j->room : "request",
		                            (double)c->wait_ms / 1000));
	}
	rejoin_due(c, now);
}

/* ---- the backend interface: the connection ------------------------------ */

static int xm_start(void *be, jv *err)
{
	struct xmpp *c = be;
	c->listening = 1;
	if (c->state != ST_IDLE)
		return 0;
	return begin_connect(c, err);
}

static void xm_prepare(void *be, struct bot_poll *p)
{
	struct xmpp *c = be;
	long long now = bot_now_ms();
	if (c->m)
		c->http->multi_prepare(c->m, p);   /* files go on whatever the connection does */
	if (c->state == ST_IDLE) {
		for (struct job *j = c->jobs; j; j = j->next)
			if (j->answered)
				bot_poll_deadline(p, now);
		return;
	}
	if (c->dead) {
		bot_poll_deadline(p, now);
		return;
	}
	int lag = c->listening && c->bh->lagging(c->bh);
	if (c->fd >= 0) {
		short ev = (short)((lag ? 0 : POLLIN) |
		                   (xmpp_conn_send_queue_len(c->conn) > 0 || xmpp_conn_is_connecting(c->conn) ? POLLOUT : 0));
		if (ev)
			bot_poll_want(p, c->fd, ev);
	}
	if (c->state != ST_UP) {
		/* connecting, TLS, SASL, the goodbye: libstrophe's own timers
		 * (POLLOUT only for the TCP connect and queued output: a
		 * writable socket would wake every turn) */
		bot_poll_deadline(p, now + XMPP_SETUP_TICK_MS);
		return;
	}
	if (lag)
		bot_poll_deadline(p, c->lag_run_ms + XMPP_LAG_RUN_MS);
	bot_poll_deadline(p, c->ping_due + 1);
	if (c->ping_sent_ms)
		bot_poll_deadline(p, c->ping_sent_ms + XMPP_PING_GRACE_MS);
	for (struct job *j = c->jobs; j; j = j->next) {
		if (j->answered || (!j->sent && j->kind == JOB_LOCAL))
			bot_poll_deadline(p, now);
		else if (j->sent && !j->xfer)
			bot_poll_deadline(p, j->deadline);
	}
	long long r = next_rejoin(c);
	if (r >= 0)
		bot_poll_deadline(p, r);
}

/* libstrophe's turn: write what is queued, fire its timers, read (a few
 * times when the socket had data: one call reads 4 KiB, and what OpenSSL
 * decrypted ahead shows on no fd). */
static void run_strophe(struct xmpp *c, const struct bot_poll *p)
{
	long long now = bot_now_ms();
	int lag = c->listening && c->bh->lagging(c->bh);
	if (lag && c->state == ST_UP && now < c->lag_run_ms + XMPP_LAG_RUN_MS)
		return;
	c->lag_run_ms = now;
	int reads = c->fd >= 0 && (bot_poll_revents(p, c->fd) & (POLLIN | POLLHUP | POLLERR)) ? XMPP_READS_PER_TURN : 1;
	for (int i = 0; i < reads && c->conn && !c->dead; i++)
		xmpp_run_once(c->ctx, 0);
}

static int xm_dispatch(void *be, const struct bot_poll *p, jv *err)
{
	struct xmpp *c = be;
	if (c->m)
		c->http->multi_dispatch(c->m, p);
	if (c->state != ST_IDLE && !c->dead) {
		run_strophe(c, p);
		timers(c);
		send_jobs(c);
		if (c->conn && !c->dead)
			xmpp_run_once(c->ctx, 0);   /* what send_jobs queued goes now */
	}
	int rc = 0;
	if (c->dead)
		rc = conn_ended(c, err);
	deliver(c);
	return rc;
}

/* A goodbye that does not wait: </stream>, flushed as far as the socket
 * takes it now. */
static void quit_now(struct xmpp *c)
{
	if (c->conn && c->state == ST_UP && !c->dead) {
		c->state = ST_QUITTING;
		xmpp_disconnect(c->conn);
		for (int i = 0; i < 4 && !c->dead; i++)
			xmpp_run_once(c->ctx, 0);
	}
}

static void xm_stop(void *be)
{
	struct xmpp *c = be;
	quit_now(c);
	jv_free(c->failure);
	c->failure = jv_null();
	c->dead = 0;
	fail_jobs(c, bot_fail_code("connection_lost", 1, "the connection to %s was closed", c->domain));
	conn_close(c);
	deliver(c);
}

static void xm_commit(void *be, jv mark)
{
	(void)be;
	(void)mark;   /* no cursor: a MUC's history comes again, marked delayed */
}

static int xm_idle(void *be)
{
	struct xmpp *c = be;
	if (c->dead) {
		jv e = jv_invalid();
		conn_ended(c, &e);
		jv_free(e);
		deliver(c);
		return c->jobs ? 0 : 1;
	}
	for (struct job *j = c->jobs; j; j = j->next)
		if (j->done)
			return 0;
	switch (c->state) {
	case ST_IDLE:
		return 1;
	case ST_CONNECTING:
		conn_close(c);
		return 1;
	case ST_UP:
		c->state = ST_QUITTING;
		c->quit_until = bot_now_ms() + XMPP_QUIT_MS;
		xmpp_disconnect(c->conn);
		return 0;
	default:
		return 0;
	}
}

/* ---- deliveries ---------------------------------------------------------- */

/* Where a message to an identifier goes: the JID, its type, and the room
 * it needs joined (a room, or a room's occupant).  -1 + *err. */
static int target_of(struct xmpp *c, jv to, char *jid, size_t n, const char **type, char *room, size_t rn, jv *err)
{
	const char *kind = bot_ident_kind(to), *id = bot_ident_id(to);
	*room = 0;
	(void)c;
	if (!kind) {
		*err = bot_fail_code("bad_input", 0, "to: expected an identifier");
		return -1;
	}
	if (!strcmp(kind, "room")) {
		if (!jid_ok(id) || jid_resource(id))
			goto bad;
		snprintf(jid, n, "%s", id);
		snprintf(room, rn, "%s", id);
		*type = "groupchat";
		return 0;
	}
	if (!strcmp(kind, "occupant")) {
		const char *r = bot_str(to, "room"), *nick = bot_str(to, "nick");
		if (!r || !nick || !jid_ok(r) || jid_resource(r) || !nick_ok(nick))
			goto bad;
		snprintf(jid, n, "%s/%s", r, nick);
		snprintf(room, rn, "%s", r);
		*type = "chat";
		return 0;
	}
	const char *client = bot_str(to, "client");
	const char *dest = client && jid_ok(client) ? client : id;
	if (!jid_ok(dest))
		goto bad;
	snprintf(jid, n, "%s", dest);
	*type = "chat";
	return 0;
bad:
	*err = bot_fail_code("bad_input", 0, "to: '%.64s' is not an XMPP address", id ? id : "");
	return -1;
}

/* target_of the part's "to". */
static int part_target(struct xmpp *c, const struct bot_part *part, char *jid, size_t jn,
                       const char **type, char *room, size_t rn, jv *err)
{
	jv to = bot_get(part->event, "to");
	int rc = target_of(c, to, jid, jn, type, room, rn, err);
	jv_free(to);
	return rc;
}

static struct job *message_job(struct xmpp *c, const struct bot_part *part, jv *err)
{
	char jid[2 * XMPP_JID_MAX + 2], room[XMPP_JID_MAX + 1];
	const char *type;
	if (part_target(c, part, jid, sizeof jid, &type, room, sizeof room, err) < 0)
		return NULL;
	struct job *j = job_new(JOB_PINGED, jv_null());
	snprintf(j->room, sizeof j->room, "%s", !strcmp(type, "groupchat") ? room : "");
	new_id(c, "m", j->msg_id, sizeof j->msg_id);
	xmpp_stanza_t *m = xmpp_message_new(c->ctx, type, jid, j->msg_id);
	add_text_child(m, "body", NULL, part->text ? part->text : "");
	if (*room && strcmp(type, "groupchat"))
		add_child(m, "x", NS_MUC_USER);   /* a private message through the room */
	if (part->replaces && *part->replaces)
		xmpp_stanza_set_attribute(add_child(m, "replace", NS_CORRECT), "id", part->replaces);
	jv parent = bot_get(part->event, "parent");
	const char *pid = bot_str(parent, "id");
	if (pid && part->index == 0) {
		xmpp_stanza_t *r = add_child(m, "reply", NS_REPLY);
		xmpp_stanza_set_attribute(r, "id", pid);
		jv pfrom = bot_get(parent, "from");
		const char *pf = bot_ident_id(pfrom);
		if (pf && jid_ok(pf))
			xmpp_stanza_set_attribute(r, "to", pf);
		jv_free(pfrom);
	}
	jv_free(parent);
	job_stanza(j, m);
	return j;
}

/* A reaction: XEP-0444 sends the whole set we keep on that message. */
static struct job *reaction_job(struct xmpp *c, jv ev, jv *err)
{
	jv target = bot_get(ev, "reacted_to");
	const char *mid = bot_str(target, "id"), *name = bot_str(ev, "reaction_name");
	const char *action = bot_str(ev, "action");
	jv to = bot_get(ev, "to");
	if (jv_get_kind(to) == JV_KIND_NULL) {
		jv_free(to);
		to = bot_get(target, "to");
		const char *k = bot_ident_kind(to);
		if (!k || strcmp(k, "room")) {   /* a direct chat: to the one who wrote it */
			jv_free(to);
			to = bot_get(target, "from");
		}
	}
	char jid[2 * XMPP_JID_MAX + 2], room[XMPP_JID_MAX + 1];
	const char *type;
	struct job *j = NULL;
	if (!mid || !name || !*name || strlen(name) > 64) {
		*err = bot_fail_code("bad_input", 0, "reaction: needs reacted_to.id and reaction_name");
		goto out;
	}
	if (target_of(c, to, jid, sizeof jid, &type, room, sizeof room, err) < 0)
		goto out;
	jv key = jv_string_fmt("%s\n%s", jid, mid);
	jv set = jv_object_get(jv_copy(c->my_reactions), jv_copy(key));
	if (!jv_is_valid(set)) {
		jv_free(set);
		set = jv_array();
	}
	jv next = jv_array();
	jv_array_foreach(set, i, r) {
		if (strcmp(jv_string_value(r), name))
			next = jv_array_append(next, r);
		else
			jv_free(r);
		(void)i;
	}
	jv_free(set);
	if (!action || strcmp(action, "removed"))
		next = jv_array_append(next, jv_string(name));
	if (jv_object_length(jv_copy(c->my_reactions)) >= XMPP_REACTIONS_MAX)
		c->my_reactions = jv_object();
	c->my_reactions = jv_object_set(c->my_reactions, key, jv_copy(next));
	j = job_new(JOB_PINGED, jv_null());
	snprintf(j->room, sizeof j->room, "%s", !strcmp(type, "groupchat") ? room : "");
	new_id(c, "r", j->msg_id, sizeof j->msg_id);
	xmpp_stanza_t *m = xmpp_message_new(c->ctx, type, jid, j->msg_id);
	xmpp_stanza_t *rs = add_child(m, "reactions", NS_REACTIONS);
	xmpp_stanza_set_attribute(rs, "id", mid);
	jv_array_foreach(next, i, r) {
		add_text_child(rs, "reaction", NULL, jv_string_value(r));
		jv_free(r);
		(void)i;
	}
	jv_free(next);
	add_child(m, "store", "urn:xmpp:hints");
	job_stanza(j, m);
out:
	jv_free(target);
	jv_free(to);
	return j;
}

/* The bot's own presence: show and status (online is no show). */
static struct job *presence_job(struct xmpp *c, jv ev, jv *err)
{
	jv who = bot_get(ev, "identifier");
	const char *id = bot_ident_id(who);
	char bare[XMPP_JID_MAX + 1] = "";
	if (id)
		jid_bare(id, bare, sizeof bare);
	int other = jv_get_kind(who) != JV_KIND_NULL && strcasecmp(bare, c->bare);
	jv_free(who);
	if (other) {
		*err = bot_fail_code("unsupported", 0, "XMPP sets only the bot's own presence (no \"identifier\")");
		return NULL;
	}
	const char *status = bot_str(ev, "status"), *msg = bot_str(ev, "message");
	xmpp_stanza_t *p = xmpp_presence_new(c->ctx);
	if (status && !strcmp(status, "offline"))
		xmpp_stanza_set_type(p, "unavailable");
	else if (status && (!strcmp(status, "away") || !strcmp(status, "dnd") || !strcmp(status, "xa") ||
	                    !strcmp(status, "chat")))
		add_text_child(p, "show", NULL, status);
	if (msg && *msg)
		add_text_child(p, "status", NULL, msg);
	struct job *j = job_new(JOB_PINGED, jv_null());
	job_stanza(j, p);
	return j;
}

/* The room an operation is about: room@service (a room or an occupant's
 * room); -1 + *err. */
static int op_room(jv ev, char *room, size_t n, jv *err)
{
	jv r = bot_get(ev, "room");
	const char *id = bot_ident_room(r);
	if (!id && jv_get_kind(r) == JV_KIND_STRING)
		id = jv_string_value(r);
	int ok = id && jid_ok(id) && !jid_resource(id) && strchr(id, '@');
	if (ok)
		snprintf(room, n, "%s", id);
	jv_free(r);
	if (!ok)
		*err = bot_fail_code("bad_input", 0, "room: not an XMPP room (room@service)");
	return ok ? 0 : -1;
}

static struct job *iq_job(struct xmpp *c, jv ev, const char *action, const char *to, const char *ns,
                          const char *type, int destroy)
{
	struct job *j = job_new(JOB_IQ, jv_copy(ev));
	snprintf(j->action, sizeof j->action, "%s", action);
	snprintf(j->room, sizeof j->room, "%s", to);
	new_id(c, "q", j->id, sizeof j->id);
	xmpp_stanza_t *iq = xmpp_iq_new(c->ctx, type, j->id);
	xmpp_stanza_set_to(iq, to);
	xmpp_stanza_t *q = add_child(iq, "query", ns);
	if (destroy)
		add_child(q, "destroy", NULL);
	job_stanza(j, iq);
	return j;
}

static struct job *room_job(struct xmpp *c, jv ev, jv *err)
{
	const char *action = bot_str(ev, "action");
	char room[XMPP_JID_MAX + 1];
	if (!action) {
		*err = bot_fail_code("bad_input", 0, "room: missing field \"action\"");
		return NULL;
	}
	if (!strcmp(action, "list"))
		return iq_job(c, ev, "list", c->muc_service, NS_DISCO_ITEMS, "get", 0);
	if (op_room(ev, room, sizeof room, err) < 0)
		return NULL;
	if (!strcmp(action, "info"))
		return iq_job(c, ev, "info", room, NS_DISCO_INFO, "get", 0);
	if (!strcmp(action, "destroy"))
		return iq_job(c, ev, "destroy", room, NS_MUC_OWNER, "set", 1);
	struct job *j;
	if (!strcmp(action, "join") || !strcmp(action, "create")) {
		const char *pw = bot_str(ev, "password");
		if (pw && !nick_ok(pw)) {
			*err = bot_fail_code("bad_input", 0, "room: a password of one line");
			return NULL;
		}
		if (room_joined(c, room)) {
			jv ans = jv_object_set(room_answer(ev, action, room), jv_string("joined"), jv_true());
			j = job_new(JOB_LOCAL, jv_copy(ev));
			job_answer(j, ans);
			return j;
		}
		j = job_new(JOB_JOIN, jv_copy(ev));
		room_set(c, room, "nick", jv_string(c->nick));
		room_set(c, room, "want", jv_true());
		if (pw)
			room_set(c, room, "password", jv_string(pw));
		job_stanza(j, join_stanza(c, room, c->nick, pw));
	} else if (!strcmp(action, "leave")) {
		j = job_new(JOB_LEAVE, jv_copy(ev));
		char to[2 * XMPP_JID_MAX + 2], nick[XMPP_NICK_MAX + 1];
		snprintf(to, sizeof to, "%s/%s", room, room_nick(c, room, nick, sizeof nick));
		xmpp_stanza_t *p = xmpp_presence_new(c->ctx);
		xmpp_stanza_set_type(p, "unavailable");
		xmpp_stanza_set_to(p, to);
		job_stanza(j, p);
	} else if (!strcmp(action, "topic") && bot_str(ev, "topic")) {
		j = job_new(JOB_TOPIC, jv_copy(ev));
		new_id(c, "t", j->msg_id, sizeof j->msg_id);
		xmpp_stanza_t *m = xmpp_message_new(c->ctx, "groupchat", room, j->msg_id);
		add_text_child(m, "subject", NULL, bot_str(ev, "topic"));
		job_stanza(j, m);
	} else if (!strcmp(action, "topic") || !strcmp(action, "occupants")) {
		j = job_new(JOB_LOCAL, jv_copy(ev));
	} else if (!strcmp(action, "invite")) {
		jv who = bot_get(ev, "identifier");
		if (jv_get_kind(who) == JV_KIND_NULL) {
			jv_free(who);
			who = bot_get(ev, "occupant");
		}
		const char *id = jv_get_kind(who) == JV_KIND_STRING ? jv_string_value(who) : bot_ident_person(who);
		char bare[XMPP_JID_MAX + 1];
		int ok = id && jid_ok(id) && strchr(id, '@');
		if (ok)
			jid_bare(id, bare, sizeof bare);
		jv_free(who);
		if (!ok) {
			*err = bot_fail_code("bad_input", 0, "invite: \"identifier\" must be a person (user@domain)");
			return NULL;
		}
		j = job_new(JOB_PINGED, jv_copy(ev));
		new_id(c, "i", j->msg_id, sizeof j->msg_id);
		xmpp_stanza_t *m = xmpp_message_new(c->ctx, NULL, room, j->msg_id);
		xmpp_stanza_t *x = add_child(m, "x", NS_MUC_USER);
		xmpp_stanza_set_attribute(add_child(x, "invite", NULL), "to", bare);
		job_stanza(j, m);
		snprintf(j->action, sizeof j->action, "invite");
		/* the answer names the invited person */
		jv ans = jv_object_set(room_answer(ev, "invite", room), jv_string("identifier"), xmpp_person(bare));
		jv_free(j->ev);
		j->ev = ans;
	} else {
		*err = bot_fail_code("unsupported", 0, "XMPP has no room action %.32s", action);
		return NULL;
	}
	snprintf(j->room, sizeof j->room, "%s", room);
	if (!*j->action)
		snprintf(j->action, sizeof j->action, "%s", action);
	return j;
}

/* A connection for a job: bot-listen's when it is up, else the lazy one,
 * made now (or again, when it died while nobody polled it). */
static int ready_for_jobs(struct xmpp *c, jv *err)
{
	if (c->listening) {
		if (c->state != ST_UP || c->dead) {
			*err = bot_fail_code("connection_lost", 1, "not connected to %s now", c->domain);
			return -1;
		}
		return 0;
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

static int xm_submit(void *be, const struct bot_part *part, bot_done_fn done, void *ctx, jv *err)
{
	struct xmpp *c = be;
	const char *type = part->type ? part->type : bot_str(part->event, "type");
	struct job *j;
	if (c->njobs >= XMPP_JOBS_MAX) {
		*err = bot_fail_code("send_failed", 1, "%d deliveries wait already", XMPP_JOBS_MAX);
		return -1;
	}
	if (type && !strcmp(type, "room"))
		j = room_job(c, part->event, err);
	else if (type && !strcmp(type, "presence"))
		j = presence_job(c, part->event, err);
	else if (type && !strcmp(type, "reaction"))
		j = reaction_job(c, part->event, err);
	else if (type && !strcmp(type, "stream"))
		j = upload_job(c, part, err);
	else if (part->text)
		j = message_job(c, part, err);
	else {
		*err = bot_fail_code("unsupported", 0, "XMPP cannot deliver %.32s events", type ? type : "these");
		return -1;
	}
	if (!j)
		return -1;
	if (!j->answered && ready_for_jobs(c, err) < 0) {
		job_free(j);
		return -1;
	}
	j->done = done;
	j->ctx = ctx;
	job_push(c, j);
	send_jobs(c);
	if (c->conn && c->state == ST_UP)
		xmpp_run_once(c->ctx, 0);
	deliver(c);
	return 0;
}

/* ---- files --------------------------------------------------------------- */

/* libbothttp's multi handle, made (and libbothttp opened) on first use. */
static int http_ready(struct xmpp *c, jv *err)
{
	if (c->m)
		return 0;
	if (!c->http && !(c->http = bot_http_lib(err)))
		return -1;
	if (!(c->m = c->http->multi_new(err)))
		return -1;
	if (*c->cafile)
		c->http->multi_set_cafile(c->m, c->cafile);
	return 0;
}

/* A name to show or to ask a slot for: one line of UTF-8, no '/', short. */
static int file_name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (!n || n > 200 || !bot_utf8_valid(s, n) || !strcmp(s, ".") || !strcmp(s, ".."))
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < ' ' || s[i] == 0x7f || s[i] == '/' || s[i] == '\\')
			return 0;
	return 1;
}

/* type/subtype of token characters. */
static int mime_ok(const char *s)
{
	size_t n = strlen(s), slash = strcspn(s, "/");
	if (!n || n > 100 || slash == 0 || slash + 1 >= n || strchr(s + slash + 1, '/'))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (i != slash && !strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$&^_.+-", s[i]))
			return 0;
	return 1;
}

/* A URL we send or fetch: http(s) (https only when https is set), one
 * token of printable ASCII, bounded. */
static int url_ok(const char *u, int https)
{
	size_t n = u ? strlen(u) : 0;
	if (!n || n > XMPP_URL_MAX)
		return 0;
	if (strncasecmp(u, "https://", 8) && (https || strncasecmp(u, "http://", 7)))
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)u[i] <= ' ' || (unsigned char)u[i] >= 0x7f)
			return 0;
	return 1;
}

static int hexval(int ch)
{
	return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
	       : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
}

/* The name a link shows: its last path segment, percent-decoded, when
 * that is a good name; else "file". */
static void link_name(const char *url, char *buf, size_t n)
{
	const char *p = strstr(url, "://");
	p = p ? p + 3 : url;
	size_t end = strcspn(p, "?#");
	const char *last = NULL;
	for (size_t i = 0; i < end; i++)
		if (p[i] == '/')
			last = p + i + 1;
	size_t k = 0;
	if (last)
		for (const char *q = last; q < p + end && k + 1 < n; q++) {
			int hi, lo;
			if (*q == '%' && q + 2 < p + end && (hi = hexval(q[1])) >= 0 && (lo = hexval(q[2])) >= 0) {
				buf[k++] = (char)(hi * 16 + lo);
				q += 2;
			} else
				buf[k++] = *q;
		}
	buf[k] = 0;
	if (!file_name_ok(buf))
		snprintf(buf, n, "file");
}

/* -- outbound: XEP-0363 ---------------------------------------------------- */

static void upload_ask(struct xmpp *c, struct job *j, const char *to, const char *ns)
{
	new_id(c, "u", j->id, sizeof j->id);
	xmpp_stanza_t *iq = xmpp_iq_new(c->ctx, "get", j->id);
	xmpp_stanza_set_to(iq, to);
	add_child(iq, "query", ns);
	send_stanza(c, iq);
	j->deadline = bot_now_ms() + c->wait_ms;
}

/* Ask the next service in j->look for its disco#info. */
static void upload_ask_next(struct xmpp *c, struct job *j)
{
	jv next = jv_array_get(jv_copy(j->look), 0);
	j->stage = UP_INFO;
	upload_ask(c, j, jv_string_value(next), NS_DISCO_INFO);
	jv_free(next);
}

/* Look-only: 1 when a disco#info answer offers HTTP File Upload; *max its
 * max-file-size (from the form whose FORM_TYPE is the namespace), or -1. */
static int upload_feature(xmpp_stanza_t *st, long long *max)
{
	xmpp_stanza_t *q = child_ns(st, "query", NS_DISCO_INFO);
	int found = 0;
	*max = -1;
	for (xmpp_stanza_t *ch = q ? xmpp_stanza_get_children(q) : NULL; ch; ch = xmpp_stanza_get_next(ch)) {
		const char *name = xmpp_stanza_get_name(ch), *ns = xmpp_stanza_get_ns(ch);
		const char *var = xmpp_stanza_get_attribute(ch, "var");
		if (name && !strcmp(name, "feature") && var && !strcmp(var, NS_UPLOAD))
			found = 1;
		if (!name || strcmp(name, "x") || !ns || strcmp(ns, NS_DATA))
			continue;
		int ours = 0;
		long long v = -1;
		for (xmpp_stanza_t *f = xmpp_stanza_get_children(ch); f; f = xmpp_stanza_get_next(f)) {
			const char *fvar = xmpp_stanza_get_attribute(f, "var");
			if (!fvar)
				continue;
			jv val = text_of(xmpp_stanza_get_child_by_name(f, "value"));
			const char *t = jv_get_kind(val) == JV_KIND_STRING ? jv_string_value(val) : "";
			char *end;
			if (!strcmp(fvar, "FORM_TYPE"))
				ours = !strcmp(t, NS_UPLOAD);
			else if (!strcmp(fvar, "max-file-size") && *t) {
				long long n = strtoll(t, &end, 10);
				if (!*end && n > 0)
					v = n;
			}
			jv_free(val);
		}
		if (ours && v > 0)
			*max = v;
	}
	return found;
}

/* The services the domain lists (disco#items), at most a few. */
static jv upload_items(xmpp_stanza_t *st)
{
	jv out = jv_array();
	xmpp_stanza_t *q = child_ns(st, "query", NS_DISCO_ITEMS);
	int n = 0;
	for (xmpp_stanza_t *it = q ? xmpp_stanza_get_children(q) : NULL; it && n < XMPP_UPLOAD_LOOK_MAX;
	     it = xmpp_stanza_get_next(it)) {
		const char *nm = xmpp_stanza_get_name(it), *jid = xmpp_stanza_get_attribute(it, "jid");
		if (nm && !strcmp(nm, "item") && jid && jid_ok(jid) && !jid_resource(jid) && !strchr(jid, '@')) {
			out = jv_array_append(out, jv_string(jid));
			n++;
		}
	}
	return out;
}

static const char *file_str(struct job *j, const char *key)
{
	return bot_str(j->file, key);
}

static long long file_size(struct job *j)
{
	jv v = bot_get(j->file, "size");
	long long n = jv_get_kind(v) == JV_KIND_NUMBER ? (long long)jv_number_value(v) : 0;
	jv_free(v);
	return n;
}

/* Ask the service for a slot, when the file is within its limit. */
static void upload_slot(struct xmpp *c, struct job *j)
{
	long long size = file_size(j);
	if (c->upload_max > 0 && size > c->upload_max) {
		job_answer(j, bot_fail_code("bad_input", 0, "stream: %s is %lld bytes, over the %lld bytes "
		                            "%s takes (its max-file-size)", file_str(j, "name"), size,
		                            c->upload_max, c->upload_svc));
		return;
	}
	new_id(c, "s", j->id, sizeof j->id);
	xmpp_stanza_t *iq = xmpp_iq_new(c->ctx, "get", j->id);
	xmpp_stanza_set_to(iq, c->upload_svc);
	xmpp_stanza_t *r = add_child(iq, "request", NS_UPLOAD);
	char n[32];
	snprintf(n, sizeof n, "%lld", size);
	xmpp_stanza_set_attribute(r, "filename", file_str(j, "name"));
	xmpp_stanza_set_attribute(r, "size", n);
	xmpp_stanza_set_attribute(r, "content-type", file_str(j, "mime"));
	send_stanza(c, iq);
	j->stage = UP_SLOT;
	j->deadline = bot_now_ms() + c->wait_ms;
}

/* The start of a file's job, once the session is up. */
static void upload_begin(struct xmpp *c, struct job *j)
{
	if (c->upload_known > 0) {
		upload_slot(c, j);
		return;
	}
	if (c->upload_known < 0) {
		job_answer(j, bot_fail_code("unsupported", 0, "%s offers no HTTP File Upload (XEP-0363)", c->domain));
		return;
	}
	jv_free(j->look);
	j->look = JV_ARRAY(jv_string(c->domain));
	upload_ask_next(c, j);
}

/* A slot refused: permanent or temporary as the error's type says; the
 * service's limit named when it gives one. */
static jv slot_failure(xmpp_stanza_t *st)
{
	xmpp_stanza_t *err = xmpp_stanza_get_child_by_name(st, "error");
	xmpp_stanza_t *big = child_ns(err, "file-too-large", NS_UPLOAD);
	jv max = text_of(big ? xmpp_stanza_get_child_by_name(big, "max-file-size") : NULL);
	jv f = stanza_failure(st, "upload slot", 0);
	if (jv_get_kind(max) == JV_KIND_STRING && strlen(jv_string_value(max)) < 24) {
		char why[700];
		bot_fail_message(f, why, sizeof why);
		int temporary = bot_fail_temporary(f);
		jv_free(f);
		f = bot_fail_code("bad_input", temporary, "%s (max-file-size %s bytes)", why, jv_string_value(max));
	}
	jv_free(max);
	return f;
}

static void upload_put_done(void *ud, const struct bot_http_done *d);

/* The PUT headers a slot gives: Authorization, Cookie and Expires only
 * (XEP-0363 0.6: the others are ignored), each one line. */
static jv slot_headers(xmpp_stanza_t *put)
{
	jv out = jv_array();
	for (xmpp_stanza_t *h = xmpp_stanza_get_children(put); h; h = xmpp_stanza_get_next(h)) {
		const char *nm = xmpp_stanza_get_name(h), *hn = xmpp_stanza_get_attribute(h, "name");
		if (!nm || strcmp(nm, "header") || !hn ||
		    (strcasecmp(hn, "Authorization") && strcasecmp(hn, "Cookie") && strcasecmp(hn, "Expires")))
			continue;
		jv v = text_of(h);
		const char *t = jv_get_kind(v) == JV_KIND_STRING ? jv_string_value(v) : "";
		if (*t && strlen(t) <= 8192 && !bot_has_line_break(t, strlen(t)))
			out = jv_array_append(out, jv_string_fmt("%s: %s", hn, t));
		jv_free(v);
	}
	return out;
}

/* The slot came: PUT the file to it. */
static void upload_put(struct xmpp *c, struct job *j, xmpp_stanza_t *st)
{
	xmpp_stanza_t *slot = child_ns(st, "slot", NS_UPLOAD);
	xmpp_stanza_t *put = slot ? xmpp_stanza_get_child_by_name(slot, "put") : NULL;
	xmpp_stanza_t *get = slot ? xmpp_stanza_get_child_by_name(slot, "get") : NULL;
	const char *put_url = put ? xmpp_stanza_get_attribute(put, "url") : NULL;
	const char *get_url = get ? xmpp_stanza_get_attribute(get, "url") : NULL;
	if (!url_ok(put_url, 1) || !url_ok(get_url, 0)) {
		job_answer(j, bot_fail_code("send_failed", 0, "upload slot from %s: %s", c->upload_svc,
		                            !url_ok(put_url, 1) ? "no https PUT URL" : "no GET URL"));
		return;
	}
	jv err = jv_null();
	if (http_ready(c, &err) < 0) {
		job_answer(j, err);
		return;
	}
	j->file = jv_object_set(j->file, jv_string("get"), jv_string(get_url));
	struct bot_http_req req = {
		.method = "PUT", .url = put_url, .headers = slot_headers(put),
		.upload_path = file_str(j, "path"), .upload_raw = 1, .content_type = file_str(j, "mime"),
		.timeout_ms = XMPP_PUT_MS,
	};
	j->stage = UP_PUT;
	long id = c->http->start(c->m, &req, upload_put_done, j, &err);
	if (id < 0)
		job_answer(j, err);
	else
		j->xfer = id;
}

/* The file is there: the message with its link goes out next, pinged. */
static void upload_put_done(void *ud, const struct bot_http_done *d)
{
	struct job *j = ud;
	struct xmpp *c = j->owner;
	j->xfer = 0;
	if (j->answered)
		return;
	if (jv_get_kind(d->fail) != JV_KIND_NULL) {
		job_answer(j, bot_fail_reword(jv_copy(d->fail), "upload: "));
		return;
	}
	const char *get = file_str(j, "get"), *type = file_str(j, "type");
	new_id(c, "m", j->msg_id, sizeof j->msg_id);
	xmpp_stanza_t *m = xmpp_message_new(c->ctx, type, file_str(j, "to"), j->msg_id);
	add_text_child(m, "body", NULL, get);
	if (bot_true(j->file, "private"))
		add_child(m, "x", NS_MUC_USER);
	add_text_child(add_child(m, "x", NS_OOB), "url", NULL, get);
	job_stanza(j, m);
	j->kind = JOB_PINGED;
	j->sent = 0;
}

/* An answer to one of a file job's iqs (from whom it was asked). */
static void on_upload_iq(struct xmpp *c, struct job *j, xmpp_stanza_t *st, int ok)
{
	const char *from = xmpp_stanza_get_from(st);
	if (!from)
		from = c->domain;   /* our server may answer for itself without a from */
	jv head = j->stage == UP_INFO ? jv_array_get(jv_copy(j->look), 0) : jv_null();
	const char *want = j->stage == UP_SLOT ? c->upload_svc : j->stage == UP_ITEMS ? c->domain
	                   : jv_get_kind(head) == JV_KIND_STRING ? jv_string_value(head) : "";
	if (strcasecmp(from, want)) {
		jv_free(head);
		return;   /* not from whom we asked: the job waits on */
	}
	long long max;
	if (j->stage == UP_INFO) {
		int n = jv_array_length(jv_copy(j->look));
		j->look = jv_array_slice(j->look, 1, n);
		if (ok && upload_feature(st, &max)) {
			snprintf(c->upload_svc, sizeof c->upload_svc, "%s", from);
			c->upload_known = 1;
			c->upload_max = max;
			upload_slot(c, j);
		} else if (n > 1)
			upload_ask_next(c, j);
		else if (!strcasecmp(from, c->domain) && !j->configuring) {
			j->configuring = 1;   /* the domain's items are asked once */
			j->stage = UP_ITEMS;
			upload_ask(c, j, c->domain, NS_DISCO_ITEMS);
		} else {
			c->upload_known = -1;
			upload_begin(c, j);
		}
	} else if (j->stage == UP_ITEMS) {
		jv_free(j->look);
		j->look = ok ? upload_items(st) : jv_array();
		if (jv_array_length(jv_copy(j->look)) > 0)
			upload_ask_next(c, j);
		else {
			c->upload_known = -1;
			upload_begin(c, j);
		}
	} else if (j->stage == UP_SLOT) {
		if (ok)
			upload_put(c, j, st);
		else
			job_answer(j, slot_failure(st));
	}
	jv_free(head);
}

/* A stream event: a file of ours to the network. */
static struct job *upload_job(struct xmpp *c, const struct bot_part *part, jv *err)
{
	char jid[2 * XMPP_JID_MAX + 2], room[XMPP_JID_MAX + 1];
	const char *type;
	if (part_target(c, part, jid, sizeof jid, &type, room, sizeof room, err) < 0)
		return NULL;
	const char *path = bot_str(part->event, "path");
	struct stat st;
	const char *bad = !path ? "missing" : stat(path, &st) < 0 ? strerror(errno)
	                  : !S_ISREG(st.st_mode) ? "not a regular file" : NULL;
	if (bad) {
		*err = bot_fail_code("bad_input", 0, "stream: path: %s", bad);
		return NULL;
	}
	const char *name = bot_str(part->event, "name"), *slash = strrchr(path, '/');
	if (!file_name_ok(name))
		name = file_name_ok(slash ? slash + 1 : path) ? (slash ? slash + 1 : path) : "file";
	const char *mime = bot_str(part->event, "stream_type");
	if (!mime || !mime_ok(mime))
		mime = "application/octet-stream";
	struct job *j = job_new(JOB_UPLOAD, jv_null());
	j->owner = c;
	int group = !strcmp(type, "groupchat");
	snprintf(j->room, sizeof j->room, "%s", group ? room : "");
	j->file = JV_OBJECT(jv_string("path"), jv_string(path), jv_string("name"), jv_string(name),
	                    jv_string("mime"), jv_string(mime), jv_string("size"), jv_number((double)st.st_size),
	                    jv_string("to"), jv_string(jid), jv_string("type"), jv_string(type),
	                    jv_string("private"), jv_bool(*room && !group));
	return j;
}

/* -- inbound: XEP-0066 links into the spool -------------------------------- */

static void fetch_unlink(struct xmpp *c, struct fetch *f)
{
	for (struct fetch **pp = &c->fetches; *pp; pp = &(*pp)->next)
		if (*pp == f) {
			*pp = f->next;
			c->nfetches--;
			return;
		}
}

/* The stream event (consumed) with its end: an error, with why. */
static void fetch_failed(struct xmpp *c, jv ev, const char *why)
{
	ev = jv_object_delete(ev, jv_string("path"));
	ev = jv_object_set(ev, jv_string("status"), jv_string("error"));
	emit(c, jv_object_set(ev, jv_string("message"), jv_string(why)));
}

static void fetch_done(void *ud, const struct bot_http_done *d)
{
	struct fetch *f = ud;
	struct xmpp *c = f->c;
	fetch_unlink(c, f);
	jv ev = f->stream;
	free(f);
	if (c->closing) {
		jv_free(ev);
		return;
	}
	struct stat st;
	if (jv_get_kind(d->fail) != JV_KIND_NULL || !d->file || stat(d->file, &st) < 0) {
		char why[400];
		fetch_failed(c, ev, jv_get_kind(d->fail) != JV_KIND_NULL ? bot_fail_message(d->fail, why, sizeof why)
		                                                         : "the download was not kept");
		return;
	}
	char mime[128];
	const char *ct = bot_str(d->headers, "content-type");
	snprintf(mime, sizeof mime, "%.*s", ct ? (int)strcspn(ct, "; ") : 0, ct ? ct : "");
	if (*mime && mime_ok(mime))
		ev = jv_object_set(ev, jv_string("stream_type"), jv_string(mime));
	ev = jv_object_set(ev, jv_string("path"), jv_string(d->file));
	ev = jv_object_set(ev, jv_string("size"), jv_number((double)st.st_size));
	ev = jv_object_set(ev, jv_string("transfered"), jv_number((double)st.st_size));
	emit(c, jv_object_set(ev, jv_string("status"), jv_string("success")));
}

/* A message's link (look-only msg): fetched into the spool, then a
 * stream event of the message's sender with the message's id as parent. */
static void fetch_link(struct xmpp *c, jv msg, const char *url)
{
	char name[256];
	link_name(url, name, sizeof name);
	jv ev = bot_stream_event(bot_get(msg, "from"), name, NULL, NULL, -1, 0, "pending");
	ev = jv_object_set(ev, jv_string("to"), bot_get(msg, "to"));
	const char *id = bot_str(msg, "id");
	if (id)
		ev = jv_object_set(ev, jv_string("parent"), JV_OBJECT(jv_string("id"), jv_string(id)));
	if (!url_ok(url, 1)) {
		fetch_failed(c, ev, "not an https link: not fetched");
		return;
	}
	if (c->nfetches >= XMPP_FETCHES_MAX) {
		fetch_failed(c, ev, "too many downloads at once: not fetched");
		return;
	}
	struct fetch *f = calloc(1, sizeof *f);
	if (!f)
		abort();
	f->c = c;
	jv err = jv_null();
	char why[400];
	if (http_ready(c, &err) < 0 || c->bh->spool_path(c->bh, name, f->path, sizeof f->path, &err) < 0) {
		fetch_failed(c, ev, bot_fail_message(err, why, sizeof why));
		jv_free(err);
		free(f);
		return;
	}
	f->stream = ev;
	struct bot_http_req req = {
		.method = "GET", .url = url, .download_path = f->path, .download_max = (size_t)c->download_max,
		.timeout_ms = XMPP_FETCH_MS, .want_headers = JV_ARRAY(jv_string("content-type")),
	};
	f->next = c->fetches;
	c->fetches = f;
	c->nfetches++;
	f->xfer = c->http->start(c->m, &req, fetch_done, f, &err);
	if (f->xfer < 0) {
		fetch_unlink(c, f);
		fetch_failed(c, f->stream, bot_fail_message(err, why, sizeof why));
		jv_free(err);
		free(f);
	}
}

/* ---- the model ----------------------------------------------------------- */

static int is_muc(struct xmpp *c, const char *bare)
{
	char dom[1024];
	jid_domain(bare, dom, sizeof dom);
	return room_known(c, bare) || !strcasecmp(dom, c->muc_service);
}

static jv xm_build_identifier(void *be, const char *text)
{
	struct xmpp *c = be;
	if (text[0] == '@')
		text++;
	if (!jid_ok(text))
		return bot_fail_code("bad_input", 0, "'%.64s' is not an XMPP address (user@domain[/resource], room@service[/nick])", text);
	char bare[XMPP_JID_MAX + 1];
	jid_bare(text, bare, sizeof bare);
	const char *res = jid_resource(text);
	if (is_muc(c, bare) && strchr(bare, '@'))
		return res ? xmpp_occupant(bare, res, NULL) : bot_room(bare);
	return xmpp_person(text);
}

static int xm_is_from_self(void *be, jv ev)
{
	struct xmpp *c = be;
	jv who = bot_get(ev, "from");
	if (jv_get_kind(who) == JV_KIND_NULL) {
		jv_free(who);
		who = bot_get(ev, "reactor");
	}
	if (jv_get_kind(who) == JV_KIND_NULL) {
		jv_free(who);
		who = bot_get(ev, "identifier");
	}
	const char *kind = bot_ident_kind(who);
	int self = 0;
	if (kind && !strcmp(kind, "occupant")) {
		const char *room = bot_str(who, "room"), *nick = bot_str(who, "nick");
		char mine[XMPP_NICK_MAX + 1];
		self = room && nick && room_known(c, room) && !strcmp(nick, room_nick(c, room, mine, sizeof mine));
	} else if (kind && !strcmp(kind, "person")) {
		const char *id = bot_ident_id(who);
		self = id && !strcasecmp(id, c->bare);
	}
	jv_free(who);
	return self;
}

/* errbot's XMPP prefix: "@nick body" (nick the occupant's resource). */
static jv xm_mention(void *be, jv ident, jv body)
{
	(void)be;
	const char *nick = bot_str(ident, "nick");
	jv prefix = jv_string_fmt("@%s", nick ? nick : bot_ident_id(ident) ? bot_ident_id(ident) : "");
	jv out = bot_mention_body(jv_string_value(prefix), body);
	jv_free(prefix);
	jv_free(ident);
	return out;
}

static size_t xm_size_limit(void *be, jv to)
{
	(void)be;
	(void)to;
	return XMPP_SIZE_LIMIT;
}

/* ---- open and close ------------------------------------------------------ */

static void xm_close(void *be);

static int parse_server(struct xmpp *c, const char *s, jv *err)
{
	if (!s || !*s)
		return 0;
	const char *colon = strrchr(s, ':');
	size_t hn = colon ? (size_t)(colon - s) : strlen(s);
	long port = 0;
	if (colon) {
		char *end;
		port = strtol(colon + 1, &end, 10);
		if (*end || port < 1 || port > 65535)
			goto bad;
	}
	if (!hn || hn >= sizeof c->host)
		goto bad;
	for (size_t i = 0; i < hn; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == '/')
			goto bad;
	snprintf(c->host, sizeof c->host, "%.*s", (int)hn, s);
	c->port = (unsigned short)port;
	return 0;
bad:
	*err = bot_fail("--xmpp-server: expected HOST[:PORT], got '%.64s'", s);
	return -1;
}

/* --xmpp-rooms: room@service, or room@service:password. */
static int parse_rooms(struct xmpp *c, jv list, jv *err)
{
	int rc = 0;
	jv_array_foreach(list, i, v) {
		const char *s = jv_string_value(v);
		const char *colon = strchr(s, ':');
		char room[XMPP_JID_MAX + 1];
		snprintf(room, sizeof room, "%.*s", (int)(colon ? (size_t)(colon - s) : strlen(s)), s);
		if (rc == 0 && (!jid_ok(room) || jid_resource(room) || !strchr(room, '@'))) {
			*err = bot_fail("--xmpp-rooms: '%.64s' is not a room (room@service[:password])", room);
			rc = -1;
		} else if (rc == 0) {
			room_set(c, room, "want", jv_true());
			if (colon && colon[1])
				room_set(c, room, "password", jv_string(colon + 1));
		}
		jv_free(v);
		(void)i;
	}
	jv_free(list);
	return rc;
}

static void *xm_open(const struct bot_config *cfg, struct bot_host *host, jv *err)
{
	static int initialized;
	if (!initialized) {
		xmpp_initialize();
		initialized = 1;
	}
	struct xmpp *c = calloc(1, sizeof *c);
	if (!c)
		abort();
	c->bh = host;
	c->fd = -1;
	c->failure = jv_null();
	c->rooms = jv_object();
	c->reactions = jv_object();
	c->my_reactions = jv_object();
	c->rooms_cfg = jv_null();
	c->wait_ms = XMPP_WAIT_MS;
	c->log.handler = on_log;
	c->log.userdata = c;
	c->ctx = xmpp_ctx_new(NULL, &c->log);
	if (!c->ctx)
		abort();
	snprintf(c->id_prefix, sizeof c->id_prefix, "%lx", (unsigned long)getpid() ^ (unsigned long)time(NULL));
	const char *jid = bot_cfg_str(cfg, "xmpp-jid"), *pw = bot_cfg_str(cfg, "xmpp-password");
	if (!jid || !jid_ok(jid) || !strchr(jid, '@')) {
		*err = bot_fail("--xmpp-jid: expected user@domain[/resource], got '%.64s'", jid ? jid : "");
		goto fail;
	}
	if (!pw || !*pw) {
		*err = bot_fail("the password: set BOT_XMPP_PASSWORD or BOT_XMPP_PASSWORD_FILE");
		goto fail;
	}
	if (!bot_utf8_valid(pw, strlen(pw)) || bot_has_line_break(pw, strlen(pw))) {
		*err = bot_fail("BOT_XMPP_PASSWORD: one line of UTF-8");
		goto fail;
	}
	snprintf(c->jid, sizeof c->jid, "%s", jid);
	jid_bare(jid, c->bare, sizeof c->bare);
	jid_domain(jid, c->domain, sizeof c->domain);
	c->password = strdup(pw);
	if (parse_server(c, bot_cfg_str(cfg, "xmpp-server"), err) < 0)
		goto fail;
	const char *nick = bot_cfg_str(cfg, "xmpp-nick");
	char node[XMPP_JID_MAX + 1];
	jid_node(jid, node, sizeof node);
	if (nick && !nick_ok(nick)) {
		*err = bot_fail("--xmpp-nick: '%.64s' is not a nick", nick);
		goto fail;
	}
	snprintf(c->nick, sizeof c->nick, "%s", nick && *nick ? nick : node);
	const char *svc = bot_cfg_str(cfg, "xmpp-muc-service");
	if (svc && (!jid_ok(svc) || strchr(svc, '@') || jid_resource(svc))) {
		*err = bot_fail("--xmpp-muc-service: '%.64s' is not a domain", svc);
		goto fail;
	}
	if (svc && *svc)
		snprintf(c->muc_service, sizeof c->muc_service, "%s", svc);
	else
		snprintf(c->muc_service, sizeof c->muc_service, "conference.%s", c->domain);
	const char *ca = bot_cfg_str(cfg, "xmpp-cafile");
	if (ca) {
		if (access(ca, R_OK) < 0) {
			*err = bot_fail("--xmpp-cafile: %.200s: %s", ca, strerror(errno));
			goto fail;
		}
		snprintf(c->cafile, sizeof c->cafile, "%s", ca);
	}
	c->direct_tls = bot_cfg_flag(cfg, "xmpp-direct-tls");
	c->rejoin = bot_cfg_flag(cfg, "xmpp-rejoin");
	long delay = bot_cfg_int(cfg, "xmpp-rejoin-delay", 5);
	c->rejoin_delay_ms = (delay < 0 ? 0 : delay > 3600 ? 3600 : delay) * 1000;
	long dmax = bot_cfg_int(cfg, "xmpp-download-max", XMPP_DOWNLOAD_MAX_DEFAULT);
	if (dmax < 0) {
		*err = bot_fail("--xmpp-download-max: a size in bytes (0: never fetch)");
		goto fail;
	}
	c->download_max = dmax;
	const char *timeout = bot_cfg_str(cfg, "timeout");
	double secs = timeout ? strtod(timeout, NULL) : 0;
	if (secs > 0 && secs < 1e6)
		c->wait_ms = (long long)(secs * 1000);
	if (parse_rooms(c, bot_cfg_list(cfg, "xmpp-rooms"), err) < 0)
		goto fail;
	return c;
fail:
	xm_close(c);
	return NULL;
}

static void xm_close(void *be)
{
	struct xmpp *c = be;
	if (!c)
		return;
	quit_now(c);
	fail_jobs(c, bot_fail_code("connection_lost", 1, "the connection to %s was closed", c->domain));
	conn_close(c);
	deliver(c);
	if (c->m) {
		c->closing = 1;   /* the downloads still running end without events */
		c->http->multi_free(c->m);
	}
	if (c->password) {
		explicit_bzero(c->password, strlen(c->password));
		free(c->password);
	}
	if (c->ctx)
		xmpp_ctx_free(c->ctx);
	jv_free(c->failure);
	jv_free(c->rooms);
	jv_free(c->rooms_cfg);
	jv_free(c->reactions);
	jv_free(c->my_reactions);
	free(c);
}

const struct bot_backend bot_backend = {
	.size = sizeof(struct bot_backend),
	.abi = BOT_BACKEND_ABI,
	.name = "xmpp",
	.markup = "xmpp",
	.options = xmpp_options,
	.can = BOT_CAN_LISTEN | BOT_CAN_ROOM | BOT_CAN_PRESENCE | BOT_CAN_REACTION | BOT_CAN_EDIT |
	       BOT_CAN_STREAM | BOT_CAN_SESSION,
	.size_unit = BOT_UNIT_CHARS,
	.reaction_names = BOT_EMOJI_UNICODE,
	.open = xm_open,
	.close = xm_close,
	.start = xm_start,
	.prepare = xm_prepare,
	.dispatch = xm_dispatch,
	.stop = xm_stop,
	.commit = xm_commit,
	.submit = xm_submit,
	.idle = xm_idle,
	.build_identifier = xm_build_identifier,
	.is_from_self = xm_is_from_self,
	.mention = xm_mention,
	.size_limit = xm_size_limit,
};
