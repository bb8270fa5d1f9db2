/* discord.c: the Discord backend (REST v10 and the gateway), on the
 * backend interface ABI 2 (backend.h): one thread, never blocking.
 *
 * Listening (bot-listen): GET /gateway/bot (unless --discord-gateway
 * names the gateway), then the WebSocket: HELLO, heartbeats every
 * heartbeat_interval (the first one at a random point of it), IDENTIFY,
 * and READY makes it up (host->up).  A heartbeat whose ACK has not come
 * by the next one means a dead or silent socket: it is closed and the
 * session resumed.  After any drop the session is RESUMEd at READY's
 * resume_gateway_url with its session_id and the last sequence number,
 * so Discord replays what was missed; a new IDENTIFY comes only when the
 * session cannot be resumed (op 9 false, close 4007/4009).  Close 4004
 * (a bad token) is a permanent "denied" (bot-listen exits 77), 4010-4014
 * a permanent configuration failure (78).
 *
 * The sequence number is not a commit mark: Discord replays nothing
 * beyond a resume, so a cursor kept across a restart of bot-listen could
 * not bring anything back.  What a kill -9 loses is what Discord sent and
 * bot-listen had not written yet.
 *
 * Deliveries go over REST on the same multi handle, in bot-send too
 * (no gateway there): POST /channels/{id}/messages with a nonce from
 * the part's key and enforce_nonce, so a retry never posts twice.
 * A 429's float retry_after, global flag and bucket come back as the
 * failure's retry_after and scope; an answer that leaves its bucket
 * empty (X-RateLimit-Remaining 0) holds the part's answer until the
 * bucket resets, so the next part waits.
 *
 * Identifiers: "#CHANNEL" a channel (a snowflake), "@USER" a person,
 * "#CHANNEL/@USER" someone in a channel, "&GUILD" a server (member
 * joins and leaves).  Message ids are "CHANNEL:MESSAGE".
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "emoji.h"
#include "buf.h"
#include "failure.h"
#include "http.h"
#include "render.h"

#define DC_API_DEFAULT "https://discord.com/api/v10"
#define DC_TEXT_MAX 2000            /* characters in "content" */
#define DC_NONCE_MAX 25
#define DC_HELLO_MS 30000           /* the socket open, no HELLO yet: gone */
#define DC_READY_MS 60000           /* IDENTIFY or RESUME sent, no answer */
#define DC_BEAT_MIN_MS 100          /* a server's interval is clamped to this... */
#define DC_BEAT_MAX_MS 600000       /* ...and this */
#define DC_HOLD_MAX_MS 60000        /* a bucket's reset we wait for, at most */
#define DC_DM_MAX 4096              /* DM channels remembered */
#define DC_DOWNLOAD_DEFAULT (25L << 20)

/* Gateway intents (discord.com/developers/docs/topics/gateway#gateway-intents). */
#define IN_GUILDS (1u << 0)
#define IN_GUILD_MEMBERS (1u << 1)
#define IN_GUILD_PRESENCES (1u << 8)
#define IN_GUILD_MESSAGES (1u << 9)
#define IN_GUILD_MESSAGE_REACTIONS (1u << 10)
#define IN_DIRECT_MESSAGES (1u << 12)
#define IN_DIRECT_MESSAGE_REACTIONS (1u << 13)
#define IN_MESSAGE_CONTENT (1u << 15)

static const struct bot_option discord_options[] = {
	{ "discord-token", 0, BOT_OPT_SECRET, "TOKEN", NULL, "the bot's token (sent as Authorization: Bot TOKEN)" },
	{ "discord-api", 0, BOT_OPT_STR | BOT_OPT_IDENTITY, "URL", DC_API_DEFAULT, "the REST API's base URL" },
	{ "discord-gateway", 0, BOT_OPT_STR, "URL", NULL, "the gateway's URL (default: asked with GET /gateway/bot)" },
	{ "discord-message-content", 0, BOT_OPT_FLAG, NULL, "1", "ask for the MESSAGE_CONTENT intent (privileged; without it guild messages come without text)" },
	{ "discord-members", 0, BOT_OPT_FLAG, NULL, NULL, "ask for the GUILD_MEMBERS intent (privileged): member joins and leaves" },
	{ "discord-presences", 0, BOT_OPT_FLAG, NULL, NULL, "ask for the GUILD_PRESENCES intent (privileged): presence events" },
	{ "discord-download-max", 0, BOT_OPT_INT, "BYTES", "26214400", "download attachments up to BYTES into the spool (0: none)" },
	{ "discord-cafile", 0, BOT_OPT_STR, "FILE", NULL, "trust the certificates in FILE instead of the system's" },
	BOT_OPTIONS_END
};

enum gw_state { GW_OFF, GW_LOOKUP, GW_OPENING, GW_HELLO, GW_AUTH, GW_UP };

/* A part's answer held until its bucket resets. */
struct held {
	bot_done_fn done;
	void *ctx;
	jv result;
	long long at_ms;
	struct held *next;
};

struct discord {
	struct bot_host *host;
	struct bot_http_multi *m;
	char *token;
	char *api;                 /* no trailing '/' */
	char *gateway_cfg;         /* --discord-gateway, or NULL */
	char *cafile;
	unsigned intents;
	long download_max;
	long timeout_ms;
	int listening;

	/* the gateway */
	enum gw_state state;
	struct bot_ws *ws;
	long lookup_id;
	char *gw_url;              /* from /gateway/bot */
	char *resume_url;          /* READY's resume_gateway_url */
	char *session_id;
	double seq;                /* the last "s", -1 none */
	long long beat_ms, next_beat_ms, state_until_ms;
	int acked;
	int resuming;              /* this connection sent RESUME */
	int paused;                /* the reader downstream lags: not reading */
	jv failure;                /* why the gateway ended (null: it did not) */
	char self_id[32];
	char self_name[128];

	jv dm;                     /* user id -> DM channel id */
	struct held *held;
};

/* ---- small helpers ---------------------------------------------------- */

static char *secret_dup(const char *s) { return s ? strdup(s) : NULL; }

static void secret_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* 1 when s is a snowflake: 1 to 20 digits. */
static int snowflake_ok(const char *s, size_t n)
{
	if (n == 0 || n > 20)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/* A snowflake field (look-only obj) into buf; 0, or -1 when missing/bad. */
static int snowflake_of(jv obj, const char *key, char *buf, size_t n)
{
	const char *s = bot_str(obj, key);
	if (!s || !snowflake_ok(s, strlen(s)) || strlen(s) >= n)
		return -1;
	snprintf(buf, n, "%s", s);
	return 0;
}

static jv dc_person(const char *uid, const char *username, const char *fullname)
{
	jv p = bot_person("", username && *username ? username : uid);
	jv id = jv_string_fmt("@%s", uid);
	p = jv_object_set(p, jv_string("id"), jv_copy(id));
	p = jv_object_set(p, jv_string("person"), jv_copy(id));
	p = jv_object_set(p, jv_string("aclattr"), id);   /* names are not unique */
	if (fullname && *fullname)
		p = jv_object_set(p, jv_string("fullname"), jv_string(fullname));
	return p;
}

static jv dc_occupant(const char *room, const char *uid, const char *username, const char *fullname)
{
	jv id = jv_string_fmt("%s/@%s", room, uid);
	jv o = bot_occupant(room, username && *username ? username : uid, jv_string_value(id));
	jv_free(id);
	jv person = jv_string_fmt("@%s", uid);
	o = jv_object_set(o, jv_string("person"), jv_copy(person));
	o = jv_object_set(o, jv_string("aclattr"), person);
	if (fullname && *fullname)
		o = jv_object_set(o, jv_string("fullname"), jv_string(fullname));
	return o;
}

/* The author (a user object, look-only) where it spoke: an occupant of
 * "#CHANNEL" in a guild, else a person. */
static jv dc_speaker(jv user, const char *channel, int in_guild)
{
	char uid[32];
	if (snowflake_of(user, "id", uid, sizeof uid) < 0)
		return jv_invalid();
	const char *name = bot_str(user, "username"), *full = bot_str(user, "global_name");
	if (!in_guild)
		return dc_person(uid, name, full);
	char room[40];
	snprintf(room, sizeof room, "#%s", channel);
	return dc_occupant(room, uid, name, full);
}

/* Read "#C", "@U", "<@U>", "<@!U>", "<#C>", "#C/@U" or "&G". */
static jv dc_parse_identifier(const char *s)
{
	if (!s || bot_has_line_break(s, strlen(s)))
		return bot_fail_code("bad_input", 0, "a Discord identifier is #CHANNEL, @USER, #CHANNEL/@USER or &GUILD");
	char buf[64];
	size_t n = strlen(s);
	if (n >= 3 && n < sizeof buf && s[0] == '<' && s[n - 1] == '>') {
		/* Discord's own mention forms */
		const char *in = s + 1;
		size_t k = n - 2;
		if (k > 2 && in[0] == '@' && in[1] == '!') {
			in += 2;
			k -= 2;
			snprintf(buf, sizeof buf, "@%.*s", (int)k, in);
		} else {
			snprintf(buf, sizeof buf, "%.*s", (int)k, in);
		}
		s = buf;
		n = strlen(s);
	}
	const char *slash = strchr(s, '/');
	if (s[0] == '#' && slash && slash[1] == '@' && snowflake_ok(s + 1, (size_t)(slash - s - 1)) &&
	    snowflake_ok(slash + 2, strlen(slash + 2))) {
		char room[40];
		snprintf(room, sizeof room, "%.*s", (int)(slash - s), s);
		return dc_occupant(room, slash + 2, NULL, NULL);
	}
	if (s[0] == '#' && snowflake_ok(s + 1, n - 1))
		return bot_room(s);
	if (s[0] == '&' && snowflake_ok(s + 1, n - 1))
		return bot_room(s);
	if (s[0] == '@' && snowflake_ok(s + 1, n - 1))
		return dc_person(s + 1, NULL, NULL);
	return bot_fail_code("bad_input", 0, "a Discord identifier is #CHANNEL, @USER, #CHANNEL/@USER or &GUILD "
	                     "(ids are numbers: names are not unique)");
}

/* The nonce for a key: the key itself when it fits, else "h" and a
 * 64-bit FNV-1a of it in hex (the same key, the same nonce). */
static void nonce_of(const char *key, char out[DC_NONCE_MAX + 1])
{
	if (strlen(key) <= DC_NONCE_MAX) {
		snprintf(out, DC_NONCE_MAX + 1, "%s", key);
		return;
	}
	uint64_t h = 1469598103934665603ull;
	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	snprintf(out, DC_NONCE_MAX + 1, "h%016llx", (unsigned long long)h);
}

/* The first n characters (code points) of s, as a jv string. */
static jv utf8_prefix(const char *s, size_t chars)
{
	size_t i = 0, c = 0;
	while (s[i] && c < chars) {
		i++;
		while (((unsigned char)s[i] & 0xc0) == 0x80)
			i++;
		c++;
	}
	return jv_string_sized(s, (int)i);
}

/* A number in [0, 1) of a generator of our own (random() is the
 * program's), seeded from the clock and the pid. */
static double jitter(void)
{
	static uint64_t x;
	if (!x)
		x = ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid() ^ (uint64_t)bot_now_ms() ^ 0x9e3779b97f4a7c15ull;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return (double)(x >> 11) / 9007199254740992.0;
}

/* ---- open and close --------------------------------------------------- */

static void held_flush(struct discord *d, int all);
static void gw_drop(struct discord *d);
static void discord_close(void *be);

static void *discord_open(const struct bot_config *cfg, struct bot_host *host, jv *err)
{
	struct discord *d = calloc(1, sizeof *d);
	if (!d) {
		*err = bot_fail("out of memory");
		return NULL;
	}
	d->host = host;
	d->failure = jv_null();
	d->dm = jv_object();
	d->seq = -1;
	const char *token = bot_cfg_str(cfg, "discord-token");
	if (!token || !*token || bot_has_line_break(token, strlen(token))) {
		*err = bot_fail_code("bad_config", 0, "no Discord token: set BOT_DISCORD_TOKEN or BOT_DISCORD_TOKEN_FILE");
		goto fail;
	}
	d->token = secret_dup(token);
	const char *api = bot_cfg_str(cfg, "discord-api");
	if (!api)
		api = DC_API_DEFAULT;
	if (strncmp(api, "http://", 7) && strncmp(api, "https://", 8)) {
		*err = bot_fail_code("bad_config", 0, "--discord-api must start with http:// or https://");
		goto fail;
	}
	d->api = strdup(api);
	for (size_t n = strlen(d->api); n > 0 && d->api[n - 1] == '/'; n--)
		d->api[n - 1] = '\0';
	const char *gw = bot_cfg_str(cfg, "discord-gateway");
	if (gw && strncmp(gw, "ws://", 5) && strncmp(gw, "wss://", 6)) {
		*err = bot_fail_code("bad_config", 0, "--discord-gateway must start with ws:// or wss://");
		goto fail;
	}
	d->gateway_cfg = gw ? strdup(gw) : NULL;
	const char *cafile = bot_cfg_str(cfg, "discord-cafile");
	d->cafile = cafile ? strdup(cafile) : NULL;
	d->intents = IN_GUILDS | IN_GUILD_MESSAGES | IN_GUILD_MESSAGE_REACTIONS | IN_DIRECT_MESSAGES |
	             IN_DIRECT_MESSAGE_REACTIONS;
	if (bot_cfg_flag(cfg, "discord-message-content"))
		d->intents |= IN_MESSAGE_CONTENT;
	if (bot_cfg_flag(cfg, "discord-members"))
		d->intents |= IN_GUILD_MEMBERS;
	if (bot_cfg_flag(cfg, "discord-presences"))
		d->intents |= IN_GUILD_PRESENCES;
	d->download_max = bot_cfg_int(cfg, "discord-download-max", DC_DOWNLOAD_DEFAULT);
	const char *timeout = bot_cfg_str(cfg, "timeout");
	double secs = timeout ? strtod(timeout, NULL) : 0;
	if (secs > 0)
		d->timeout_ms = (long)(secs * 1000);
	if (!(d->m = bot_http_multi_new(err)))
		goto fail;
	bot_http_multi_set_cafile(d->m, d->cafile);
	return d;
fail:
	discord_close(d);
	return NULL;
}

static void discord_close(void *be)
{
	struct discord *d = be;
	if (!d)
		return;
	gw_drop(d);
	if (d->m)
		bot_http_cancel_all(d->m);   /* every callback answers its part */
	held_flush(d, 1);
	bot_http_multi_free(d->m);
	secret_free(d->token);
	free(d->api);
	free(d->gateway_cfg);
	free(d->cafile);
	free(d->gw_url);
	free(d->resume_url);
	free(d->session_id);
	jv_free(d->failure);
	jv_free(d->dm);
	free(d);
}

/* ---- REST ------------------------------------------------------------- */

/* One REST call in flight: whose part it answers, and what it needs to
 * go on (a DM channel first, then the part). */
enum op_kind { OP_PART, OP_DM, OP_DOWNLOAD };

struct op {
	struct discord *d;
	enum op_kind kind;
	const struct bot_part *part;
	bot_done_fn done;
	void *ctx;
	char route[96];            /* the rate-limit key of a failure */
	char user[32];             /* OP_DM: whose channel */
	jv stream;                 /* OP_DOWNLOAD: the stream event so far */
};

static jv auth_headers(struct discord *d)
{
	return JV_ARRAY(jv_string_fmt("Authorization: Bot %s", d->token),
	                jv_string("User-Agent: DiscordBot (https://botpipe.invalid, 1) botpipe"));
}

/* Start method on the API's path (a jv string, consumed). */
static long rest_start(struct discord *d, const char *method, jv path, struct bot_http_req *req,
                       bot_http_done_fn *cb, void *ud, jv *err)
{
	jv url = jv_string_fmt("%s%s", d->api, jv_string_value(path));
	jv_free(path);
	req->method = method;
	req->url = jv_string_value(url);
	req->headers = auth_headers(d);
	req->timeout_ms = d->timeout_ms;
	req->connect_timeout_ms = d->timeout_ms;
	long id = bot_http_start(d->m, req, cb, ud, err);
	jv_free(url);
	return id;
}

/* A REST failure (look-only d) as the send queue wants it: a 429 with
 * its retry_after and scope (global, the bucket, or the route); a
 * cancelled transfer as a lost connection; Discord's "unknown channel"
 * as a room that does not exist. */
static jv rest_failure(const struct bot_http_done *r, const char *route)
{
	jv f = jv_copy(r->fail);
	char code[64];
	bot_fail_code_of(f, code, sizeof code);
	if (!strcmp(code, "cancelled")) {
		jv_free(f);
		return bot_fail_code("connection_lost", 1, "the request was cancelled");
	}
	jv dcode = bot_get(r->body, "code");
	int unknown_channel = jv_get_kind(dcode) == JV_KIND_NUMBER && jv_number_value(dcode) == 10003;
	jv_free(dcode);
	if (unknown_channel) {
		jv_free(f);
		return bot_fail_code("room_does_not_exist", 0, "unknown channel");
	}
	if (r->rate.retry_after >= 0) {
		const char *scope = r->rate.scope == BOT_RL_GLOBAL ? "global"
		                    : r->rate.bucket[0] ? r->rate.bucket : route;
		f = bot_fail_with_retry(f, r->rate.retry_after, scope);
	}
	return f;
}

/* Answer now, or when the bucket this answer emptied resets. */
static void answer(struct discord *d, bot_done_fn done, void *ctx, jv result,
                   const struct bot_ratelimit *rate)
{
	double now = (double)time(NULL);
	if (!jv_is_valid(result) || !rate || rate->remaining != 0 || rate->reset <= now) {
		done(ctx, result);
		return;
	}
	double wait = rate->reset - now;
	long long ms = wait * 1000 > DC_HOLD_MAX_MS ? DC_HOLD_MAX_MS : (long long)(wait * 1000);
	struct held *h = malloc(sizeof *h);
	if (!h)
		abort();
	*h = (struct held){ done, ctx, result, bot_now_ms() + ms, NULL };
	struct held **p = &d->held;
	while (*p)
		p = &(*p)->next;
	*p = h;
}

static void held_flush(struct discord *d, int all)
{
	long long now = bot_now_ms();
	struct held **p = &d->held;
	while (*p) {
		struct held *h = *p;
		if (!all && h->at_ms > now) {
			p = &h->next;
			continue;
		}
		*p = h->next;
		h->done(h->ctx, h->result);
		free(h);
	}
}

/* A message's id as we give it: "CHANNEL:MESSAGE" (look-only body). */
static jv message_id_of(jv body)
{
	char ch[32], id[32];
	if (snowflake_of(body, "channel_id", ch, sizeof ch) < 0 || snowflake_of(body, "id", id, sizeof id) < 0)
		return JV_OBJECT(jv_string("id"), jv_null());
	return JV_OBJECT(jv_string("id"), jv_string_fmt("%s:%s", ch, id));
}

static void part_done(void *ud, const struct bot_http_done *r)
{
	struct op *op = ud;
	jv result = jv_get_kind(r->fail) != JV_KIND_NULL ? rest_failure(r, op->route)
	            : r->status == 204 ? JV_OBJECT(jv_string("id"), jv_null()) : message_id_of(r->body);
	answer(op->d, op->done, op->ctx, result, &r->rate);
	free(op);
}

/* ---- deliveries ------------------------------------------------------- */

/* Split "CHANNEL:MESSAGE" (or a bare MESSAGE, the channel then taken from
 * fallback); 0, or -1 when it is not one. */
static int split_message_id(const char *id, const char *fallback, char ch[32], char msg[32])
{
	if (!id)
		return -1;
	const char *colon = strchr(id, ':');
	if (colon) {
		if (!snowflake_ok(id, (size_t)(colon - id)) || !snowflake_ok(colon + 1, strlen(colon + 1)))
			return -1;
		snprintf(ch, 32, "%.*s", (int)(colon - id), id);
		snprintf(msg, 32, "%s", colon + 1);
		return 0;
	}
	if (!fallback || !snowflake_ok(id, strlen(id)))
		return -1;
	snprintf(ch, 32, "%s", fallback);
	snprintf(msg, 32, "%s", id);
	return 0;
}

/* The channel of a target identifier (look-only): 1 with ch set, 0 when a
 * DM channel must be opened for user first, -1 + *err. */
static int channel_of(struct discord *d, jv to, char ch[32], char user[32], jv *err)
{
	const char *id = bot_ident_id(to);
	jv ident = id ? dc_parse_identifier(id) : bot_fail_code("bad_input", 0, "no target identifier");
	if (!jv_is_valid(ident)) {
		*err = ident;
		return -1;
	}
	const char *kind = bot_ident_kind(ident);
	const char *rid = bot_ident_id(ident);
	int rc;
	if (!strcmp(kind, "room") && rid[0] == '#') {
		snprintf(ch, 32, "%s", rid + 1);
		rc = 1;
	} else if (!strcmp(kind, "room")) {
		*err = bot_fail_code("bad_input", 0, "a guild (&ID) is not a channel to send to");
		rc = -1;
	} else {
		/* a person, or someone in a channel: privately, as errbot does */
		snprintf(user, 32, "%s", bot_ident_person(ident) + 1);
		jv known = bot_get(d->dm, user);
		rc = jv_get_kind(known) == JV_KIND_STRING;
		if (rc)
			snprintf(ch, 32, "%s", jv_string_value(known));
		jv_free(known);
	}
	jv_free(ident);
	return rc;
}

static void remember_dm(struct discord *d, const char *user, const char *ch)
{
	if (jv_object_length(jv_copy(d->dm)) >= DC_DM_MAX) {
		jv_free(d->dm);
		d->dm = jv_object();   /* forget them all: each is asked again */
	}
	d->dm = jv_object_set(d->dm, jv_string(user), jv_string(ch));
}

/* allowed_mentions: nobody, or the one person the reply mentions. */
static jv allowed_mentions(jv ev)
{
	jv users = jv_array();
	jv mention = bot_get(ev, "mention");
	const char *who = jv_get_kind(mention) != JV_KIND_NULL ? bot_ident_person(mention) : NULL;
	if (who && who[0] == '@' && snowflake_ok(who + 1, strlen(who + 1)))
		users = jv_array_append(users, jv_string(who + 1));
	jv_free(mention);
	return JV_OBJECT(jv_string("parse"), jv_array(), jv_string("users"), users);
}

/* The rendered text of a part with the mention prefix made live again:
 * the renderer escaped our own "<@ID>" into "\<@ID\>" like any text. */
static jv content_of(const struct bot_part *part)
{
	const char *t = part->text ? part->text : "";
	jv mention = bot_get(part->event, "mention");
	const char *who = jv_get_kind(mention) != JV_KIND_NULL ? bot_ident_person(mention) : NULL;
	jv out = jv_invalid();
	if (part->index == 0 && who && who[0] == '@') {
		jv esc = jv_string_fmt("\\<@%s\\>", who + 1);
		size_t n = (size_t)jv_string_length_bytes(jv_copy(esc));
		if (!strncmp(t, jv_string_value(esc), n))
			out = jv_string_fmt("<@%s>%s", who + 1, t + n);
		jv_free(esc);
	}
	jv_free(mention);
	return jv_is_valid(out) ? out : jv_string(t);
}

static jv message_reference(jv ev, const char *ch)
{
	jv parent = bot_get(ev, "parent");
	const char *pid = bot_str(parent, "id");
	char pch[32], pmsg[32];
	jv ref = jv_null();
	if (split_message_id(pid, ch, pch, pmsg) == 0)
		ref = JV_OBJECT(jv_string("message_id"), jv_string(pmsg), jv_string("channel_id"), jv_string(pch),
		                jv_string("fail_if_not_exists"), jv_false());
	jv_free(parent);
	return ref;
}

/* errbot's card colors by name, else "#RRGGBB"; -1 when neither. */
static long card_color(const char *c)
{
	static const struct { const char *name; long rgb; } named[] = {
		{ "red", 0xff0000 }, { "green", 0x008000 }, { "yellow", 0xffff00 }, { "blue", 0x0000ff },
		{ "white", 0xffffff }, { "black", 0x000000 }, { "cyan", 0x00ffff }, { "magenta", 0xff00ff },
		{ "orange", 0xffa500 }, { "grey", 0x808080 }, { "gray", 0x808080 },
	};
	if (!c)
		return -1;
	for (size_t i = 0; i < sizeof named / sizeof *named; i++)
		if (!strcasecmp(c, named[i].name))
			return named[i].rgb;
	if (c[0] == '#')
		c++;
	char *end;
	long v = strtol(c, &end, 16);
	return strlen(c) == 6 && !*end && v >= 0 ? v : -1;
}

static jv set_limited(jv obj, const char *key, jv ev, const char *field, size_t max)
{
	const char *s = bot_str(ev, field);
	return s && *s ? jv_object_set(obj, jv_string(key), utf8_prefix(s, max)) : obj;
}

/* A card as one embed, within Discord's limits (title 256, description
 * 4096, 25 fields of 256/1024). */
static jv card_embed(jv ev)
{
	jv e = jv_object();
	e = set_limited(e, "title", ev, "title", 256);
	const char *summary = bot_str(ev, "summary"), *body = bot_str(ev, "body");
	jv desc = jv_string_fmt("%s%s%s", summary ? summary : "", summary && body && *body ? "\n\n" : "",
	                        body ? body : "");
	if (jv_string_length_bytes(jv_copy(desc)) > 0)
		e = jv_object_set(e, jv_string("description"), utf8_prefix(jv_string_value(desc), 4096));
	jv_free(desc);
	const char *link = bot_str(ev, "link");
	if (link && (!strncmp(link, "https://", 8) || !strncmp(link, "http://", 7)))
		e = jv_object_set(e, jv_string("url"), jv_string(link));
	long color = card_color(bot_str(ev, "color"));
	if (color >= 0)
		e = jv_object_set(e, jv_string("color"), jv_number((double)color));
	const char *image = bot_str(ev, "image"), *thumb = bot_str(ev, "thumbnail");
	if (image)
		e = jv_object_set(e, jv_string("image"), JV_OBJECT(jv_string("url"), jv_string(image)));
	if (thumb)
		e = jv_object_set(e, jv_string("thumbnail"), JV_OBJECT(jv_string("url"), jv_string(thumb)));
	jv fields = bot_get(ev, "fields"), out = jv_array();
	if (jv_get_kind(fields) == JV_KIND_ARRAY) {
		jv_array_foreach(fields, i, f) {
			jv k = jv_array_get(jv_copy(f), 0), v = jv_array_get(jv_copy(f), 1);
			if (i < 25 && jv_get_kind(k) == JV_KIND_STRING && jv_get_kind(v) == JV_KIND_STRING)
				out = jv_array_append(out, JV_OBJECT(jv_string("name"), utf8_prefix(jv_string_value(k), 256),
				                                     jv_string("value"), utf8_prefix(jv_string_value(v), 1024),
				                                     jv_string("inline"), jv_true()));
			jv_free(k);
			jv_free(v);
			jv_free(f);
		}
	}
	jv_free(fields);
	if (jv_array_length(jv_copy(out)) > 0)
		e = jv_object_set(e, jv_string("fields"), out);
	else
		jv_free(out);
	return e;
}

/* The JSON of a new message (or card) part to channel ch. */
static jv message_body(const struct bot_part *part, const char *ch)
{
	char nonce[DC_NONCE_MAX + 1];
	nonce_of(part->key ? part->key : "", nonce);
	jv body = JV_OBJECT(jv_string("nonce"), jv_string(nonce), jv_string("enforce_nonce"), jv_true(),
	                    jv_string("allowed_mentions"), allowed_mentions(part->event));
	if (!strcmp(part->type, "card") && !part->text)
		body = jv_object_set(body, jv_string("embeds"), JV_ARRAY(card_embed(part->event)));
	else
		body = jv_object_set(body, jv_string("content"), content_of(part));
	jv ref = part->index == 0 ? message_reference(part->event, ch) : jv_null();
	if (jv_get_kind(ref) == JV_KIND_OBJECT)
		body = jv_object_set(body, jv_string("message_reference"), ref);
	else
		jv_free(ref);
	return body;
}

static int send_message(struct discord *d, struct op *op, const char *ch, jv *err)
{
	const struct bot_part *part = op->part;
	struct bot_http_req req = { 0 };
	const char *method = "POST";
	jv path;
	if (part->replaces) {
		char ech[32], emsg[32];
		if (split_message_id(part->replaces, ch, ech, emsg) < 0) {
			*err = bot_fail_code("bad_input", 0, "replaces: not a message id");
			return -1;
		}
		method = "PATCH";
		path = jv_string_fmt("/channels/%s/messages/%s", ech, emsg);
		req.json = JV_OBJECT(jv_string("content"), content_of(part), jv_string("allowed_mentions"),
		                     allowed_mentions(part->event));
	} else {
		path = jv_string_fmt("/channels/%s/messages", ch);
		req.json = message_body(part, ch);
	}
	return rest_start(d, method, path, &req, part_done, op, err) < 0 ? -1 : 0;
}

static int send_delete(struct discord *d, struct op *op, const char *ch, jv *err)
{
	char mch[32], msg[32];
	if (split_message_id(bot_str(op->part->event, "deletes"), ch, mch, msg) < 0) {
		*err = bot_fail_code("bad_input", 0, "deletes: not a message id");
		return -1;
	}
	struct bot_http_req req = { 0 };
	return rest_start(d, "DELETE", jv_string_fmt("/channels/%s/messages/%s", mch, msg), &req, part_done, op,
	                  err) < 0 ? -1 : 0;
}

/* PUT or DELETE /channels/C/messages/M/reactions/EMOJI/@me. */
static int send_reaction(struct discord *d, struct op *op, const char *ch, jv *err)
{
	jv ev = op->part->event;
	jv to = bot_get(ev, "reacted_to");
	char mch[32], msg[32];
	int bad = split_message_id(bot_str(to, "id"), ch, mch, msg);
	jv_free(to);
	const char *name = bot_str(ev, "reaction_name");
	if (bad < 0 || !name || !*name || strlen(name) > 100) {
		*err = bot_fail_code("bad_input", 0, "a reaction needs reacted_to.id (a message id) and reaction_name");
		return -1;
	}
	const char *action = bot_str(ev, "action");
	jv seg = bot_http_url("", JV_ARRAY(jv_string(name)), jv_null());   /* "/" + the emoji, encoded */
	jv path = jv_string_fmt("/channels/%s/messages/%s/reactions%s/@me", mch, msg, jv_string_value(seg));
	jv_free(seg);
	struct bot_http_req req = { 0 };
	const char *method = action && !strcmp(action, "removed") ? "DELETE" : "PUT";
	return rest_start(d, method, path, &req, part_done, op, err) < 0 ? -1 : 0;
}

/* A file: multipart, files[0] and payload_json. */
static int send_stream(struct discord *d, struct op *op, const char *ch, jv *err)
{
	jv ev = op->part->event;
	const char *path = bot_str(ev, "path"), *name = bot_str(ev, "name"), *mime = bot_str(ev, "stream_type");
	if (!name || !*name || strchr(name, '/')) {
		const char *slash = path ? strrchr(path, '/') : NULL;
		name = slash ? slash + 1 : path;
	}
	char nonce[DC_NONCE_MAX + 1];
	nonce_of(op->part->key ? op->part->key : "", nonce);
	jv payload = JV_OBJECT(jv_string("nonce"), jv_string(nonce), jv_string("enforce_nonce"), jv_true(),
	                       jv_string("allowed_mentions"), allowed_mentions(ev),
	                       jv_string("attachments"),
	                       JV_ARRAY(JV_OBJECT(jv_string("id"), jv_number(0), jv_string("filename"), jv_string(name))));
	struct bot_http_req req = {
		.form = JV_OBJECT(jv_string("payload_json"), jv_dump_string(payload, 0)),
		.upload_path = path, .upload_field = "files[0]", .upload_name = name,
		.upload_type = mime ? mime : "application/octet-stream",
	};
	return rest_start(d, "POST", jv_string_fmt("/channels/%s/messages", ch), &req, part_done, op, err) < 0 ? -1 : 0;
}

/* op's part to channel ch; 0, or -1 + *err. */
static int send_part(struct discord *d, struct op *op, const char *ch, jv *err)
{
	const char *type = op->part->type;
	snprintf(op->route, sizeof op->route, "#%s", ch);
	if (!strcmp(type, "delete"))
		return send_delete(d, op, ch, err);
	if (!strcmp(type, "reaction"))
		return send_reaction(d, op, ch, err);
	if (!strcmp(type, "stream"))
		return send_stream(d, op, ch, err);
	return send_message(d, op, ch, err);
}

static void dm_done(void *ud, const struct bot_http_done *r)
{
	struct op *op = ud;
	struct discord *d = op->d;
	char ch[32];
	jv err = jv_invalid();
	if (jv_get_kind(r->fail) != JV_KIND_NULL) {
		err = rest_failure(r, "dm");
	} else if (snowflake_of(r->body, "id", ch, sizeof ch) < 0) {
		err = bot_fail_code("send_failed", 1, "no channel id in the answer to opening a DM");
	} else {
		remember_dm(d, op->user, ch);
		op->kind = OP_PART;
		if (send_part(d, op, ch, &err) == 0)
			return;
	}
	op->done(op->ctx, err);
	free(op);
}

/* The presence over the gateway: op 3. */
static int send_presence(struct discord *d, const struct bot_part *part, jv *err)
{
	if (d->state != GW_UP) {
		*err = bot_fail_code("unsupported", 0, "presence goes over the gateway: send it through bot-listen's session");
		return -1;
	}
	const char *status = bot_str(part->event, "status"), *message = bot_str(part->event, "message");
	const char *s = !status ? "online" : !strcmp(status, "away") ? "idle"
	                : !strcmp(status, "offline") ? "invisible" : status;
	if (strcmp(s, "online") && strcmp(s, "idle") && strcmp(s, "dnd") && strcmp(s, "invisible")) {
		*err = bot_fail_code("bad_input", 0, "status is online, away, dnd or offline");
		return -1;
	}
	jv activities = jv_array();
	if (message && *message)   /* a custom status (type 4) */
		activities = jv_array_append(activities, JV_OBJECT(jv_string("name"), jv_string("Custom Status"),
		                                                   jv_string("type"), jv_number(4),
		                                                   jv_string("state"), utf8_prefix(message, 128)));
	jv p = JV_OBJECT(jv_string("op"), jv_number(3),
	                 jv_string("d"), JV_OBJECT(jv_string("since"), jv_null(), jv_string("activities"), activities,
	                                           jv_string("status"), jv_string(s), jv_string("afk"), jv_false()));
	jv text = jv_dump_string(p, 0);
	int rc = bot_ws_send(d->ws, 0, jv_string_value(text), (size_t)jv_string_length_bytes(jv_copy(text)), err);
	jv_free(text);
	return rc;
}

static int discord_submit(void *be, const struct bot_part *part, bot_done_fn done, void *ctx, jv *err)
{
	struct discord *d = be;
	if (!strcmp(part->type, "presence")) {
		if (send_presence(d, part, err) < 0)
			return -1;
		done(ctx, JV_OBJECT(jv_string("id"), jv_null()));
		return 0;
	}
	jv to = bot_get(part->event, "to");
	if (!strcmp(part->type, "reaction") && jv_get_kind(to) == JV_KIND_NULL) {
		jv rt = bot_get(part->event, "reacted_to");
		jv_free(to);
		to = bot_get(rt, "to");
		jv_free(rt);
	}
	char ch[32] = "", user[32] = "";
	int rc = jv_get_kind(to) == JV_KIND_NULL ? 1 : channel_of(d, to, ch, user, err);
	jv_free(to);
	if (rc < 0)
		return -1;
	struct op *op = calloc(1, sizeof *op);
	if (!op)
		abort();
	*op = (struct op){ .d = d, .kind = OP_PART, .part = part, .done = done, .ctx = ctx };
	if (rc == 1) {
		if (send_part(d, op, ch, err) < 0) {
			free(op);
			return -1;
		}
		return 0;
	}
	op->kind = OP_DM;
	snprintf(op->user, sizeof op->user, "%s", user);
	snprintf(op->route, sizeof op->route, "dm");
	struct bot_http_req req = { .json = JV_OBJECT(jv_string("recipient_id"), jv_string(user)) };
	if (rest_start(d, "POST", jv_string("/users/@me/channels"), &req, dm_done, op, err) < 0) {
		free(op);
		return -1;
	}
	return 0;
}

static int discord_idle(void *be)
{
	struct discord *d = be;
	return !d->held && (d->listening || bot_http_running(d->m) == 0);
}

/* ---- inbound events --------------------------------------------------- */

static void emit(struct discord *d, jv ev)
{
	d->host->emit(d->host, ev, jv_null());
}

static void download_done(void *ud, const struct bot_http_done *r)
{
	struct op *op = ud;
	jv ev = op->stream;
	int ok = jv_get_kind(r->fail) == JV_KIND_NULL && r->file;
	ev = jv_object_set(ev, jv_string("status"), jv_string(ok ? "success" : "error"));
	if (!ok)
		ev = jv_object_delete(ev, jv_string("path"));
	emit(op->d, ev);
	free(op);
}

/* A stream event for each attachment, once it is in the spool. */
static void take_attachments(struct discord *d, jv msg, jv from, jv to, const char *mid)
{
	jv atts = bot_get(msg, "attachments");
	if (jv_get_kind(atts) != JV_KIND_ARRAY || d->download_max <= 0) {
		jv_free(atts);
		return;
	}
	jv_array_foreach(atts, i, a) {
		const char *url = bot_str(a, "url"), *name = bot_str(a, "filename"), *mime = bot_str(a, "content_type");
		jv size = bot_get(a, "size");
		long long n = jv_get_kind(size) == JV_KIND_NUMBER ? (long long)jv_number_value(size) : -1;
		jv_free(size);
		char path[4096];
		jv err = jv_invalid();
		if (!url || (strncmp(url, "https://", 8) && strncmp(url, "http://", 7)) || !name ||
		    d->host->spool_path(d->host, name, path, sizeof path, &err) < 0) {
			jv_free(err);
			jv_free(a);
			continue;
		}
		jv ev = bot_stream_event(jv_copy(from), name, path, mime, n, n, "transfering");
		ev = jv_object_set(ev, jv_string("to"), jv_copy(to));
		ev = jv_object_set(ev, jv_string("parent"), JV_OBJECT(jv_string("id"), jv_string(mid)));
		if (n > d->download_max) {
			ev = jv_object_delete(ev, jv_string("path"));
			emit(d, jv_object_set(ev, jv_string("status"), jv_string("error")));
			jv_free(a);
			continue;
		}
		struct op *op = calloc(1, sizeof *op);
		if (!op)
			abort();
		*op = (struct op){ .d = d, .kind = OP_DOWNLOAD, .stream = ev };
		/* a CDN URL: never with our token */
		struct bot_http_req req = { .method = "GET", .url = url, .download_path = path,
		                            .download_max = (size_t)d->download_max };
		if (bot_http_start(d->m, &req, download_done, op, &err) < 0) {
			jv_free(err);
			emit(d, jv_object_set(jv_object_delete(op->stream, jv_string("path")), jv_string("status"),
			                      jv_string("error")));
			free(op);
		}
		jv_free(a);
		(void)i;
	}
	jv_free(atts);
}

/* MESSAGE_CREATE and MESSAGE_UPDATE (edit set): a message event. */
static void on_message(struct discord *d, jv m, int edit)
{
	char ch[32], mid[32];
	jv author = bot_get(m, "author");
	if (snowflake_of(m, "channel_id", ch, sizeof ch) < 0 || snowflake_of(m, "id", mid, sizeof mid) < 0 ||
	    jv_get_kind(author) != JV_KIND_OBJECT || !bot_str(m, "content")) {
		jv_free(author);
		return;   /* an update of embeds only, or malformed */
	}
	int in_guild = bot_str(m, "guild_id") != NULL;
	jv from = dc_speaker(author, ch, in_guild);
	if (!jv_is_valid(from)) {
		jv_free(author);
		return;
	}
	jv to;
	if (in_guild) {
		char room[40];
		snprintf(room, sizeof room, "#%s", ch);
		to = bot_room(room);
	} else {
		char uid[32];
		if (snowflake_of(author, "id", uid, sizeof uid) == 0)
			remember_dm(d, uid, ch);
		to = dc_person(d->self_id[0] ? d->self_id : "0", d->self_name, NULL);
	}
	jv_free(author);
	char id[72];
	snprintf(id, sizeof id, "%s:%s", ch, mid);
	jv msg = bot_message(jv_copy(from), jv_copy(to), "");
	msg = jv_object_set(msg, jv_string("body"), jv_string(bot_str(m, "content")));
	msg = jv_object_set(msg, jv_string("id"), jv_string(id));
	if (edit)
		msg = jv_object_set(msg, jv_string("replaces"), jv_string(id));
	jv ref = bot_get(m, "message_reference");
	char rch[32], rid[32];
	if (snowflake_of(ref, "message_id", rid, sizeof rid) == 0) {
		if (snowflake_of(ref, "channel_id", rch, sizeof rch) < 0)
			snprintf(rch, sizeof rch, "%s", ch);
		msg = jv_object_set(msg, jv_string("parent"), JV_OBJECT(jv_string("id"), jv_string_fmt("%s:%s", rch, rid)));
	}
	jv_free(ref);
	jv extras = JV_OBJECT(jv_string("channel_id"), jv_string(ch));
	const char *guild = bot_str(m, "guild_id"), *stamp = bot_str(m, "timestamp");
	if (guild && snowflake_ok(guild, strlen(guild)))
		extras = jv_object_set(extras, jv_string("guild_id"), jv_string(guild));
	if (stamp && strlen(stamp) < 64)
		extras = jv_object_set(extras, jv_string("timestamp"), jv_string(stamp));
	msg = jv_object_set(msg, jv_string("extras"), extras);
	emit(d, msg);
	if (!edit)
		take_attachments(d, m, from, to, id);
	jv_free(from);
	jv_free(to);
}

static void on_message_delete(struct discord *d, jv m)
{
	char ch[32], mid[32];
	if (snowflake_of(m, "channel_id", ch, sizeof ch) < 0 || snowflake_of(m, "id", mid, sizeof mid) < 0)
		return;
	char room[40];
	snprintf(room, sizeof room, "#%s", ch);
	jv ev = JV_OBJECT(jv_string("type"), jv_string("delete"), jv_string("to"), bot_room(room),
	                  jv_string("deletes"), jv_string_fmt("%s:%s", ch, mid));
	emit(d, ev);
}

static void on_reaction(struct discord *d, jv r, int added)
{
	char ch[32], mid[32], uid[32];
	if (snowflake_of(r, "channel_id", ch, sizeof ch) < 0 || snowflake_of(r, "message_id", mid, sizeof mid) < 0 ||
	    snowflake_of(r, "user_id", uid, sizeof uid) < 0)
		return;
	jv emoji = bot_get(r, "emoji");
	const char *ename = bot_str(emoji, "name"), *eid = bot_str(emoji, "id");
	if (!ename || strlen(ename) > 100) {
		jv_free(emoji);
		return;
	}
	jv name = eid && snowflake_ok(eid, strlen(eid)) ? jv_string_fmt("%s:%s", ename, eid) : jv_string(ename);
	jv_free(emoji);
	int in_guild = bot_str(r, "guild_id") != NULL;
	jv member = bot_get(r, "member");
	jv user = bot_get(member, "user");
	jv_free(member);
	if (jv_get_kind(user) != JV_KIND_OBJECT) {
		jv_free(user);
		user = JV_OBJECT(jv_string("id"), jv_string(uid));
	}
	jv reactor = dc_speaker(user, ch, in_guild);
	jv_free(user);
	if (!jv_is_valid(reactor)) {
		jv_free(name);
		return;
	}
	char room[40];
	snprintf(room, sizeof room, "#%s", ch);
	jv to = in_guild ? bot_room(room) : dc_person(d->self_id[0] ? d->self_id : "0", d->self_name, NULL);
	jv reacted = JV_OBJECT(jv_string("id"), jv_string_fmt("%s:%s", ch, mid), jv_string("to"), to);
	char owner[32];
	if (snowflake_of(r, "message_author_id", owner, sizeof owner) == 0)
		reacted = jv_object_set(reacted, jv_string("from"), dc_person(owner, NULL, NULL));
	emit(d, bot_reaction_event(reactor, added ? "added" : "removed", jv_string_value(name), reacted, NULL));
	jv_free(name);
}

static void on_member(struct discord *d, jv m, int joined)
{
	char gid[32], room[40];
	jv user = bot_get(m, "user");
	char uid[32];
	if (snowflake_of(m, "guild_id", gid, sizeof gid) < 0 || snowflake_of(user, "id", uid, sizeof uid) < 0) {
		jv_free(user);
		return;
	}
	snprintf(room, sizeof room, "&%s", gid);
	jv ev = bot_room_event(joined ? "joined" : "left", bot_room(room));
	ev = jv_object_set(ev, jv_string("occupant"),
	                   dc_occupant(room, uid, bot_str(user, "username"), bot_str(user, "global_name")));
	jv_free(user);
	emit(d, ev);
}

static void on_presence(struct discord *d, jv p)
{
	jv user = bot_get(p, "user");
	char uid[32];
	const char *status = bot_str(p, "status");
	if (snowflake_of(user, "id", uid, sizeof uid) < 0 || !status) {
		jv_free(user);
		return;
	}
	const char *s = !strcmp(status, "idle") ? "away" : !strcmp(status, "dnd") ? "dnd"
	                : !strcmp(status, "online") ? "online" : "offline";
	jv acts = bot_get(p, "activities");
	jv first = jv_get_kind(acts) == JV_KIND_ARRAY ? jv_array_get(jv_copy(acts), 0) : jv_null();
	const char *msg = bot_str(first, "state");
	if (!msg)
		msg = bot_str(first, "name");
	jv ev = bot_presence_event(dc_person(uid, bot_str(user, "username"), NULL), s, msg);
	jv_free(first);
	jv_free(acts);
	jv_free(user);
	emit(d, ev);
}

/* ---- the gateway ------------------------------------------------------ */

static void gw_fail(struct discord *d, jv failure)
{
	if (jv_get_kind(d->failure) == JV_KIND_NULL) {
		jv_free(d->failure);
		d->failure = failure;
	} else {
		jv_free(failure);
	}
}

static void forget_session(struct discord *d)
{
	free(d->session_id);
	d->session_id = NULL;
	free(d->resume_url);
	d->resume_url = NULL;
	d->seq = -1;
}

static void gw_send(struct discord *d, jv payload)
{
	jv text = jv_dump_string(payload, 0);
	jv err = jv_invalid();
	if (d->ws && bot_ws_send(d->ws, 0, jv_string_value(text), (size_t)jv_string_length_bytes(jv_copy(text)), &err) < 0)
		gw_fail(d, err);
	else
		jv_free(err);
	explicit_bzero((char *)jv_string_value(text), (size_t)jv_string_length_bytes(jv_copy(text)));
	jv_free(text);
}

static jv seq_jv(struct discord *d) { return d->seq >= 0 ? jv_number(d->seq) : jv_null(); }

static void heartbeat(struct discord *d)
{
	gw_send(d, JV_OBJECT(jv_string("op"), jv_number(1), jv_string("d"), seq_jv(d)));
	d->acked = 0;
}

/* IDENTIFY, or RESUME when there is a session to resume. */
static void authenticate(struct discord *d)
{
	jv dd;
	d->resuming = d->session_id != NULL;
	if (d->resuming) {
		dd = JV_OBJECT(jv_string("token"), jv_string(d->token), jv_string("session_id"), jv_string(d->session_id),
		               jv_string("seq"), seq_jv(d));
		gw_send(d, JV_OBJECT(jv_string("op"), jv_number(6), jv_string("d"), dd));
		bot_debug("discord: resuming the session at sequence %.0f", d->seq);
	} else {
		dd = JV_OBJECT(jv_string("token"), jv_string(d->token), jv_string("intents"), jv_number(d->intents),
		               jv_string("properties"), JV_OBJECT(jv_string("os"), jv_string("linux"),
		                                                  jv_string("browser"), jv_string("botpipe"),
		                                                  jv_string("device"), jv_string("botpipe")));
		gw_send(d, JV_OBJECT(jv_string("op"), jv_number(2), jv_string("d"), dd));
		bot_debug("discord: identifying (intents %u)", d->intents);
	}
	d->state = GW_AUTH;
	d->state_until_ms = bot_now_ms() + DC_READY_MS;
}

static void on_hello(struct discord *d, jv dd)
{
	jv iv = bot_get(dd, "heartbeat_interval");
	double ms = jv_get_kind(iv) == JV_KIND_NUMBER ? jv_number_value(iv) : 41250;
	jv_free(iv);
	if (!(ms >= DC_BEAT_MIN_MS))
		ms = DC_BEAT_MIN_MS;
	if (ms > DC_BEAT_MAX_MS)
		ms = DC_BEAT_MAX_MS;
	d->beat_ms = (long long)ms;
	/* the first beat at a random point of the interval, so that bots
	 * that reconnect together do not beat together */
	d->next_beat_ms = bot_now_ms() + (long long)(ms * jitter());
	d->acked = 1;
	authenticate(d);
}

static void on_ready(struct discord *d, jv dd)
{
	const char *sid = bot_str(dd, "session_id"), *url = bot_str(dd, "resume_gateway_url");
	jv user = bot_get(dd, "user");
	if (!sid || strlen(sid) > 256 || snowflake_of(user, "id", d->self_id, sizeof d->self_id) < 0) {
		jv_free(user);
		gw_fail(d, bot_fail_code("connection_lost", 1, "READY without a session or user"));
		return;
	}
	const char *name = bot_str(user, "username");
	snprintf(d->self_name, sizeof d->self_name, "%s", name ? name : "");
	jv_free(user);
	free(d->session_id);
	d->session_id = strdup(sid);
	free(d->resume_url);
	d->resume_url = url && (!strncmp(url, "wss://", 6) || !strncmp(url, "ws://", 5)) ? strdup(url) : NULL;
	d->state = GW_UP;
	d->host->up(d->host);
}

static void on_dispatch(struct discord *d, const char *t, jv dd)
{
	if (!strcmp(t, "READY"))
		on_ready(d, dd);
	else if (!strcmp(t, "RESUMED")) {
		d->state = GW_UP;
		bot_debug("discord: resumed");
		d->host->up(d->host);
	} else if (!strcmp(t, "MESSAGE_CREATE"))
		on_message(d, dd, 0);
	else if (!strcmp(t, "MESSAGE_UPDATE"))
		on_message(d, dd, 1);
	else if (!strcmp(t, "MESSAGE_DELETE"))
		on_message_delete(d, dd);
	else if (!strcmp(t, "MESSAGE_REACTION_ADD"))
		on_reaction(d, dd, 1);
	else if (!strcmp(t, "MESSAGE_REACTION_REMOVE"))
		on_reaction(d, dd, 0);
	else if (!strcmp(t, "GUILD_MEMBER_ADD"))
		on_member(d, dd, 1);
	else if (!strcmp(t, "GUILD_MEMBER_REMOVE"))
		on_member(d, dd, 0);
	else if (!strcmp(t, "PRESENCE_UPDATE"))
		on_presence(d, dd);
}

/* One gateway payload (hostile: anything may be missing or odd). */
static void on_payload(struct discord *d, const char *data, size_t len)
{
	jv p = jv_parse_sized(data, (int)len);
	jv op = bot_get(p, "op");
	if (jv_get_kind(op) != JV_KIND_NUMBER) {
		bot_debug("discord: a gateway message that is not a payload");
		jv_free(op);
		jv_free(p);
		return;
	}
	int code = (int)jv_number_value(op);
	jv_free(op);
	jv dd = bot_get(p, "d");
	switch (code) {
	case 0: {
		jv s = bot_get(p, "s");
		if (jv_get_kind(s) == JV_KIND_NUMBER && jv_number_value(s) > d->seq)
			d->seq = jv_number_value(s);
		jv_free(s);
		const char *t = bot_str(p, "t");
		if (t && d->state >= GW_AUTH)
			on_dispatch(d, t, dd);
		break;
	}
	case 1:   /* the server wants a beat now */
		heartbeat(d);
		break;
	case 7:   /* reconnect (and resume) */
		gw_fail(d, bot_fail_code("reconnect_now", 1, "the gateway asked for a reconnect"));
		break;
	case 9: { /* invalid session; d says whether it may be resumed */
		int resumable = jv_get_kind(dd) == JV_KIND_TRUE;
		if (!resumable)
			forget_session(d);
		/* Discord: wait 1 to 5 seconds before identifying again */
		double wait = 1 + 4 * jitter();
		gw_fail(d, bot_fail_with_retry(bot_fail_code("connection_lost", 1, "invalid session%s",
		                                             resumable ? " (resumable)" : ""),
		                               wait, NULL));
		break;
	}
	case 10:
		if (d->state == GW_HELLO)
			on_hello(d, dd);
		break;
	case 11:
		d->acked = 1;
		break;
	default:
		break;
	}
	jv_free(dd);
	jv_free(p);
}

static void ws_opened(void *ud)
{
	struct discord *d = ud;
	if (!d->ws)
		return;
	d->state = GW_HELLO;
	d->state_until_ms = bot_now_ms() + DC_HELLO_MS;
}

static void ws_message(void *ud, int binary, const char *data, size_t len)
{
	struct discord *d = ud;
	if (!binary && d->ws)
		on_payload(d, data, len);
	/* a pause takes effect before the next message */
	if (d->ws && !d->paused && d->listening && d->host->lagging && d->host->lagging(d->host)) {
		bot_debug("discord: stopped reading the gateway");
		d->paused = 1;
		bot_ws_pause(d->ws, 1);
	}
}

/* The gateway's close codes: 4004 a bad token, 4010-4014 a setting
 * (shard, API version, intents); 4007 and 4009 need a new session;
 * everything else is resumed. */
static void ws_closed(void *ud, int code, const char *reason, size_t len)
{
	struct discord *d = ud;
	char why[128];
	if (!d->ws)
		return;
	bot_oneline(why, sizeof why, reason, len);
	if (code == 4004) {
		gw_fail(d, bot_fail_code("denied", 0, "the gateway refused the token (close 4004)"));
		return;
	}
	if (code >= 4010 && code <= 4014) {
		gw_fail(d, bot_fail_code("bad_config", 0, "the gateway refused the settings (close %d%s%s)%s",
		                         code, *why ? ": " : "", why,
		                         code == 4014 ? ": enable the privileged intents in the developer portal or turn "
		                                        "them off (--no-discord-message-content, ...)" : ""));
		return;
	}
	if (code == 4007 || code == 4009)
		forget_session(d);
	gw_fail(d, bot_fail_code("connection_lost", 1, "the gateway closed the connection (%d%s%s)", code,
	                         *why ? ": " : "", why));
}

static void ws_failed(void *ud, jv fail)
{
	struct discord *d = ud;
	char why[256];
	if (!d->ws)
		return;
	bot_fail_message(fail, why, sizeof why);
	jv f = bot_fail_code("connection_lost", 1, "gateway: %s", why);
	double ra = bot_fail_retry_after(fail);
	gw_fail(d, ra > 0 ? bot_fail_with_retry(f, ra, NULL) : f);
}

static const struct bot_ws_cb ws_callbacks = { ws_opened, ws_message, ws_closed, ws_failed };

static void gw_drop(struct discord *d)
{
	struct bot_ws *ws = d->ws;
	d->ws = NULL;   /* callbacks from the free below are ignored */
	if (ws) {
		/* not 1000: a normal close would end the session we resume */
		bot_ws_close(ws, 4000, "reconnecting");
		bot_ws_free(ws);
	}
	if (d->lookup_id > 0)
		bot_http_cancel(d->m, d->lookup_id);
	d->lookup_id = 0;
	d->state = GW_OFF;
}

static void gw_connect(struct discord *d, const char *base)
{
	size_t n = strlen(base);
	while (n > 0 && base[n - 1] == '/')
		n--;
	jv url = jv_string_fmt("%.*s/?v=10&encoding=json", (int)n, base);
	struct bot_ws_opts o = { .url = jv_string_value(url), .headers = jv_array(), .cafile = d->cafile };
	jv err = jv_invalid();
	d->ws = bot_ws_open(d->m, &o, &ws_callbacks, d, &err);
	jv_free(url);
	if (!d->ws) {
		gw_fail(d, err);
		return;
	}
	d->state = GW_OPENING;
}

static void lookup_done(void *ud, const struct bot_http_done *r)
{
	struct discord *d = ud;
	d->lookup_id = 0;
	if (jv_get_kind(r->fail) != JV_KIND_NULL) {
		jv f = jv_copy(r->fail);
		gw_fail(d, r->rate.retry_after >= 0 ? bot_fail_with_retry(f, r->rate.retry_after, "global") : f);
		return;
	}
	const char *url = bot_str(r->body, "url");
	if (!url || (strncmp(url, "wss://", 6) && strncmp(url, "ws://", 5))) {
		gw_fail(d, bot_fail_code("connection_lost", 1, "GET /gateway/bot gave no gateway URL"));
		return;
	}
	free(d->gw_url);
	d->gw_url = strdup(url);
	gw_connect(d, url);
}

/* ---- the backend interface: the connection ---------------------------- */

static int discord_start(void *be, jv *err)
{
	struct discord *d = be;
	d->listening = 1;
	jv_free(d->failure);
	d->failure = jv_null();
	gw_drop(d);
	const char *base = d->session_id && d->resume_url ? d->resume_url : d->gateway_cfg ? d->gateway_cfg : d->gw_url;
	if (base) {
		gw_connect(d, base);
	} else {
		struct bot_http_req req = { 0 };
		d->state = GW_LOOKUP;
		d->lookup_id = rest_start(d, "GET", jv_string("/gateway/bot"), &req, lookup_done, d, err);
		if (d->lookup_id < 0) {
			d->lookup_id = 0;
			return -1;
		}
	}
	if (jv_get_kind(d->failure) != JV_KIND_NULL) {
		*err = d->failure;
		d->failure = jv_null();
		return -1;
	}
	return 0;
}

static void discord_prepare(void *be, struct bot_poll *p)
{
	struct discord *d = be;
	bot_http_multi_prepare(d->m, p);
	if (d->ws) {
		/* while the reader lags, read nothing new; heartbeats go on */
		int lag = d->listening && d->host->lagging && d->host->lagging(d->host);
		if (lag != d->paused)
			bot_debug("discord: %s reading the gateway", lag ? "stopped" : "back to");
		d->paused = lag;
		bot_ws_pause(d->ws, d->paused);
		bot_ws_prepare(d->ws, p);
	}
	if (jv_get_kind(d->failure) != JV_KIND_NULL)
		bot_poll_deadline(p, bot_now_ms());
	if (d->state == GW_HELLO || d->state == GW_AUTH)
		bot_poll_deadline(p, d->state_until_ms);
	if (d->state >= GW_AUTH)
		bot_poll_deadline(p, d->next_beat_ms);
	if (d->held)
		for (struct held *h = d->held; h; h = h->next)
			bot_poll_deadline(p, h->at_ms);
}

static void gw_timers(struct discord *d)
{
	long long now = bot_now_ms();
	if ((d->state == GW_HELLO || d->state == GW_AUTH) && now >= d->state_until_ms) {
		gw_fail(d, bot_fail_code("connection_lost", 1, "the gateway did not answer %s",
		                         d->state == GW_HELLO ? "with HELLO" : "IDENTIFY or RESUME"));
		return;
	}
	if (d->state < GW_AUTH || now < d->next_beat_ms)
		return;
	if (!d->acked && !d->paused) {
		/* a zombie connection: drop it and resume (while we read
		 * nothing the ACK may well be waiting unread) */
		gw_fail(d, bot_fail_code("connection_lost", 1, "no heartbeat ACK in %lld ms", d->beat_ms));
		return;
	}
	heartbeat(d);
	d->next_beat_ms = now + d->beat_ms;
}

static int discord_dispatch(void *be, const struct bot_poll *p, jv *err)
{
	struct discord *d = be;
	bot_http_multi_dispatch(d->m, p);
	if (d->ws)
		bot_ws_dispatch(d->ws, p);
	if (d->listening && d->state != GW_OFF)
		gw_timers(d);
	held_flush(d, 0);
	if (jv_get_kind(d->failure) == JV_KIND_NULL)
		return 0;
	gw_drop(d);
	*err = d->failure;
	d->failure = jv_null();
	return -1;
}

static void discord_stop(void *be)
{
	struct discord *d = be;
	gw_drop(d);
	bot_http_cancel_all(d->m);   /* each part answered: connection_lost */
	held_flush(d, 1);
}

static void discord_commit(void *be, jv mark)
{
	(void)be;
	(void)mark;   /* no cursor: Discord replays only within a resume */
}

/* ---- the model -------------------------------------------------------- */

static jv discord_build_identifier(void *be, const char *text)
{
	(void)be;
	return dc_parse_identifier(text);
}

static int discord_is_from_self(void *be, jv ev)
{
	struct discord *d = be;
	if (!d->self_id[0])
		return 0;
	jv who = bot_get(ev, "from");
	if (jv_get_kind(who) == JV_KIND_NULL) {
		jv_free(who);
		who = bot_get(ev, "reactor");
	}
	const char *person = bot_ident_person(who);
	int self = person && person[0] == '@' && !strcmp(person + 1, d->self_id);
	jv_free(who);
	return self;
}

/* A mention Discord pings: "<@ID> body" (allowed_mentions names ID). */
static jv discord_mention(void *be, jv ident, jv body)
{
	(void)be;
	const char *person = bot_ident_person(ident);
	jv prefix = person && person[0] == '@' ? jv_string_fmt("<%s>", person) : jv_string("");
	jv out = bot_mention_body(jv_string_value(prefix), body);
	jv_free(prefix);
	jv_free(ident);
	return out;
}

static size_t discord_size_limit(void *be, jv to)
{
	(void)be;
	(void)to;
	return DC_TEXT_MAX;
}

const struct bot_backend bot_backend = {
	.size = sizeof(struct bot_backend),
	.abi = BOT_BACKEND_ABI,
	.name = "discord",
	.markup = "discord",
	.options = discord_options,
	.can = BOT_CAN_LISTEN | BOT_CAN_CARD | BOT_CAN_REACTION | BOT_CAN_PRESENCE | BOT_CAN_STREAM |
	       BOT_CAN_EDIT | BOT_CAN_DELETE | BOT_CAN_SESSION,
	.size_unit = BOT_UNIT_CHARS,
	.reaction_names = BOT_EMOJI_UNICODE,
	.open = discord_open,
	.close = discord_close,
	.start = discord_start,
	.prepare = discord_prepare,
	.dispatch = discord_dispatch,
	.stop = discord_stop,
	.commit = discord_commit,
	.submit = discord_submit,
	.idle = discord_idle,
	.build_identifier = discord_build_identifier,
	.is_from_self = discord_is_from_self,
	.mention = discord_mention,
	.size_limit = discord_size_limit,
};
