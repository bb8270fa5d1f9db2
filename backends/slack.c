/* slack.c: Slack through Socket Mode (events in over a WebSocket) and the
 * Web API (everything out), both inside the program's poll loop.
 *
 * Connecting: auth.test (the bot token) says who we are; then
 * apps.connections.open (the app token) gives a single-use wss URL; its
 * "hello" is the moment we are up.  A "disconnect" (refresh_requested,
 * warning, ...) opens the next socket first and closes the old one only
 * once the new one said hello; link_disabled is permanent.  A socket that
 * stops answering pings is dead after --slack-ping twice over.
 *
 * Envelopes: each is acknowledged ({"envelope_id"}) once the events made
 * from it are written downstream (commit), or at the latest ACK_AFTER_MS
 * after it came (a slow reader: the events wait in our memory, so Slack's
 * 3 s deadline is kept).  A kill -9 before the write leaves it
 * unacknowledged, so Slack delivers it again.  Past INBOX_MAX held
 * envelopes one is not acknowledged at all (Slack redelivers it later).
 * Redeliveries are dropped by event_id: a bounded set of recent ids, the
 * ones written downstream kept in the state folder across restarts.
 *
 * Identity is the user id: "@U0456" (names are not unique); rooms are
 * "#C0123" (a channel id) or "#name"; a message's id is "CHANNEL:TS", the
 * ts kept as the string Slack gave. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backend.h"
#include "emoji.h"
#include "buf.h"
#include "http.h"
#include "render.h"
#include "state.h"

#define SLACK_API_DEFAULT "https://slack.com/api"
#define SIZE_LIMIT 4000          /* Slack's advice for text (it cuts at 40,000) */
#define ACK_AFTER_MS 2000        /* Slack redelivers after 3 s */
#define INBOX_MAX 1000           /* envelopes held (downloads, a lagging reader) */
#define INBOX_BYTES_MAX (8u << 20) /* and their bytes as they came */
#define MESSAGE_MAX (1u << 20)   /* one socket message (an envelope is a few KiB) */
#define SEEN_MAX 1024            /* recent event ids */
#define SEEN_KEPT 256            /* of them written to the state folder */
#define ID_MAX 96
#define LIST_PAGES_MAX 50        /* conversations.list pages for a name */

static const struct bot_option slack_options[] = {
	{ "slack-api", 0, BOT_OPT_STR | BOT_OPT_IDENTITY, "URL", SLACK_API_DEFAULT,
	  "the Web API's base URL" },
	{ "slack-app-token", 0, BOT_OPT_SECRET, "TOKEN", NULL,
	  "the app-level token (xapp-...) for Socket Mode" },
	{ "slack-bot-token", 0, BOT_OPT_SECRET | BOT_OPT_IDENTITY, "TOKEN", NULL,
	  "the bot token (xoxb-...) for the Web API" },
	{ "slack-ping", 0, BOT_OPT_INT, "SECONDS", "30",
	  "ping a quiet socket every SECONDS; no answer in as long: reconnect" },
	{ "slack-file-max", 0, BOT_OPT_INT, "BYTES", "104857600",
	  "the largest inbound file downloaded into the spool" },
	{ "slack-cafile", 0, BOT_OPT_STR, "FILE", NULL,
	  "trust the certificates in FILE instead of the system's" },
	BOT_OPTIONS_END
};

/* ---- state ------------------------------------------------------------- */

struct sock {
	struct slack *s;
	struct bot_ws *ws;
	int gen;
	int hello;
	int ended;
};

/* An envelope's events, held until every download of it ended. */
struct entry {
	struct entry *next;
	unsigned long long seq;
	jv events;                 /* array; a stream slot is null until its file came */
	int waiting;
	size_t bytes;              /* the envelope's size, counted in inbox_bytes */
};

struct ack {
	unsigned long long seq;
	long long at;
	int gen;
	char envelope[ID_MAX];
};

struct seen {
	unsigned long long seq;
	char id[ID_MAX];
};

struct slack {
	struct bot_host *host;
	struct bot_http_multi *m;
	char *api, *app_token, *bot_token;
	char api_origin[256];
	const char *cafile;
	long ping_ms;
	long long file_max;
	long timeout_ms;
	char self_user[ID_MAX], self_bot[ID_MAX];
	/* the connection */
	int started, up, gen;
	long connect_xid;          /* auth.test or apps.connections.open running */
	struct sock *cur, *next, *old;
	jv failure;                /* for dispatch to return, or null */
	/* envelopes */
	unsigned long long seq, committed;
	struct entry *inbox, *inbox_tail;
	int inbox_len;
	size_t inbox_bytes;
	struct ack *acks;
	size_t nacks, acks_cap;
	struct seen seen[SEEN_MAX];
	size_t seen_next;
	int seen_loaded, seen_dirty;
	int closing;
	jv names;                  /* channel name -> id */
};

static void secret_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* ---- the Web API --------------------------------------------------------- */

/* Slack's error strings, beyond libbothttp's temporary and denied ones. */
static const struct { const char *error, *code; } slack_errors[] = {
	{ "account_inactive", "denied" },
	{ "token_expired", "denied" },
	{ "no_permission", "denied" },
	{ "missing_scope", "denied" },
	{ "not_allowed_token_type", "denied" },
	{ "restricted_action", "denied" },
	{ "ekm_access_denied", "denied" },
	{ "team_access_not_granted", "denied" },
	{ "cant_invite_self", "bad_input" },
	{ "channel_not_found", "room_does_not_exist" },
	{ "not_in_channel", "room_not_joined" },
	{ "user_not_found", "bad_input" },
	{ "users_not_found", "bad_input" },
	{ "invalid_name", "bad_input" },
	{ "msg_too_long", "bad_input" },
	{ "no_text", "bad_input" },
	{ "invalid_blocks", "bad_input" },
	{ "invalid_attachments", "bad_input" },
	{ "too_many_attachments", "bad_input" },
	{ "message_not_found", "bad_input" },
	{ "cant_update_message", "denied" },
	{ "cant_delete_message", "denied" },
	{ "edit_window_closed", "denied" },
};

/* The 2xx envelope {"ok": false, "error"}: libbothttp says temporary or
 * not (ratelimited, internal_error, ...) and denied for a bad token; the
 * table above names the rest. */
static jv slack_envelope(long status, jv body)
{
	jv f = bot_http_envelope_ok(status, body);
	if (jv_is_valid(f) || bot_fail_temporary(f))
		return f;
	const char *e = bot_str(body, "error");
	for (size_t i = 0; e && i < sizeof slack_errors / sizeof *slack_errors; i++)
		if (!strcmp(e, slack_errors[i].error)) {
			jv msg = jv_invalid_get_msg(f);
			msg = jv_object_set(msg, jv_string("code"), jv_string(slack_errors[i].code));
			return jv_invalid_with_msg(msg);
		}
	return f;
}

/* The Authorization header for a token. */
static jv auth_headers(const char *token)
{
	return JV_ARRAY(jv_string_fmt("Authorization: Bearer %s", token ? token : ""));
}

enum call_kind { CALL_JSON, CALL_GET, CALL_POST_EMPTY };

/* One Web API call: POST JSON (body consumed), a GET with query (an
 * object, consumed), or an empty POST.  Its id, or -1 + *err. */
static long api_call(struct slack *s, const char *method, enum call_kind kind, jv args,
                     const char *token, bot_http_done_fn *done, void *ud, jv *err)
{
	jv url = bot_http_url(s->api, JV_ARRAY(jv_string(method)),
	                      kind == CALL_GET && jv_get_kind(args) == JV_KIND_OBJECT ? jv_copy(args) : jv_null());
	struct bot_http_req req = {
		.method = kind == CALL_GET ? "GET" : "POST",
		.url = jv_string_value(url),
		.headers = auth_headers(token),
		.json = kind == CALL_JSON ? jv_copy(args) : jv_null(),
		.timeout_ms = s->timeout_ms,
		.envelope = slack_envelope,
	};
	if (kind == CALL_POST_EMPTY) {
		req.body = "";
		req.content_type = "application/x-www-form-urlencoded";
	}
	jv_free(args);
	long id = bot_http_start(s->m, &req, done, ud, err);
	jv_free(url);
	return id;
}

/* ---- identifiers -------------------------------------------------------- */

/* A Slack id: C0123ABCD, U0456..., upper-case letters and digits. */
static int is_slack_id(const char *p, const char *lead)
{
	size_t n = strlen(p);
	if (n < 3 || n > 20 || !strchr(lead, p[0]))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isupper((unsigned char)p[i]) && !isdigit((unsigned char)p[i]))
			return 0;
	return 1;
}

static jv slack_person(const char *uid)
{
	jv id = jv_string_fmt("@%s", uid);
	jv p = bot_person(jv_string_value(id), uid);
	jv_free(id);
	return p;
}

static jv slack_room(const char *channel)
{
	jv id = jv_string_fmt("#%s", channel);
	jv r = bot_room(jv_string_value(id));
	jv_free(id);
	return r;
}

/* In channel C, user U: {"kind":"occupant","id":"#C/U","room":"#C",
 * "nick":"U","person":"@U"}: ACLs match the person, a user id. */
static jv slack_occupant(const char *channel, const char *uid)
{
	jv room = jv_string_fmt("#%s", channel);
	jv o = bot_occupant(jv_string_value(room), uid, NULL);
	jv_free(room);
	return o;
}

/* A name of Slack's: letters, digits, '-', '_', '.'; at most 80. */
static int name_ok(const char *s)
{
	size_t n = strlen(s);
	if (!n || n > 80)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("-_.", s[i]))
			return 0;
	return 1;
}

static jv slack_build_identifier(void *be, const char *text)
{
	(void)be;
	if (!text || !*text || bot_has_line_break(text, strlen(text)))
		return bot_fail_code("bad_input", 0, "a Slack identifier is @USERID, #CHANNEL or #CHANNEL/USERID");
	char buf[200];
	snprintf(buf, sizeof buf, "%s", text);
	if (buf[0] == '@' && (is_slack_id(buf + 1, "UWB") || name_ok(buf + 1)))
		return slack_person(buf + 1);
	if (is_slack_id(buf, "UW"))
		return slack_person(buf);
	char *slash = strchr(buf, '/');
	if (buf[0] == '#' && slash) {
		*slash = 0;
		if (is_slack_id(buf + 1, "CGD") && is_slack_id(slash + 1, "UWB"))
			return slack_occupant(buf + 1, slash + 1);
	} else if (buf[0] == '#' && (is_slack_id(buf + 1, "CGD") || name_ok(buf + 1))) {
		return slack_room(buf + 1);
	} else if (is_slack_id(buf, "CGD")) {
		return slack_room(buf);
	}
	return bot_fail_code("bad_input", 0, "%s: not a Slack identifier (@USERID, #CHANNEL or #CHANNEL/USERID)",
	                     text);
}

/* Where a message to ident goes: a channel id or name, or a user id (a
 * direct message).  "" when none. */
static void channel_of(jv ident, char *buf, size_t n)
{
	const char *room = bot_ident_room(ident);
	const char *kind = bot_ident_kind(ident);
	const char *id = bot_ident_id(ident);
	buf[0] = 0;
	if (room)
		snprintf(buf, n, "%s", room + (room[0] == '#'));
	else if (kind && !strcmp(kind, "person"))
		snprintf(buf, n, "%s", bot_ident_person(ident) + (bot_ident_person(ident)[0] == '@'));
	else if (id)
		snprintf(buf, n, "%s", id + (id[0] == '#' || id[0] == '@'));
}

/* "C0123:1700000000.000100" into channel and ts; 0, or -1. */
static int split_msg_id(const char *id, char *ch, size_t chn, char *ts, size_t tsn)
{
	const char *colon = id ? strchr(id, ':') : NULL;
	if (!colon || colon == id || !colon[1] || (size_t)(colon - id) >= chn || strlen(colon + 1) >= tsn)
		return -1;
	memcpy(ch, id, (size_t)(colon - id));
	ch[colon - id] = 0;
	snprintf(ts, tsn, "%s", colon + 1);
	return 0;
}

static int slack_is_from_self(void *be, jv ev)
{
	struct slack *s = be;
	if (!s->self_user[0] && !s->self_bot[0])
		return 0;
	const char *type = bot_str(ev, "type");
	jv who = bot_get(ev, type && !strcmp(type, "reaction") ? "reactor" : "from");
	const char *p = bot_ident_person(who);
	int self = p && p[0] == '@' && s->self_user[0] && !strcmp(p + 1, s->self_user);
	jv_free(who);
	jv extras = bot_get(ev, "extras");
	const char *bot = bot_str(extras, "bot_id");
	if (bot && s->self_bot[0] && !strcmp(bot, s->self_bot))
		self = 1;
	jv_free(extras);
	return self;
}

/* errbot's Slack prefix, "@nick: "; submit turns it into a live <@U...>. */
static jv slack_mention(void *be, jv ident, jv body)
{
	(void)be;
	const char *p = bot_ident_person(ident);
	jv prefix = jv_string_fmt("%s:", p ? p : "");
	jv out = bot_mention_body(jv_string_value(prefix), body);
	jv_free(prefix);
	jv_free(ident);
	return out;
}

static size_t slack_size_limit(void *be, jv to)
{
	(void)be;
	(void)to;
	return SIZE_LIMIT;
}

/* ---- inbound text: Slack's mrkdwn into the markdown of a body ------------ */

static void add_unescaped(struct sbuf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '&') {
			static const struct { const char *e; char c; } ents[] = {
				{ "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' } };
			size_t k = 0;
			for (; k < 3; k++) {
				size_t l = strlen(ents[k].e);
				if (n - i >= l && !strncmp(s + i, ents[k].e, l)) {
					sb_add(b, &ents[k].c, 1);
					i += l - 1;
					break;
				}
			}
			if (k < 3)
				continue;
		}
		sb_add(b, s + i, 1);
	}
}

/* One <...> of Slack's: a user, channel, special mention or link. */
static void add_angle(struct sbuf *b, const char *s, size_t n)
{
	const char *bar = memchr(s, '|', n);
	size_t head = bar ? (size_t)(bar - s) : n;
	const char *label = bar ? bar + 1 : NULL;
	size_t llen = bar ? n - head - 1 : 0;
	if (n && s[0] == '@') {
		sb_add(b, s, head);
	} else if (n && s[0] == '#') {
		sb_add(b, "#", 1);
		if (label)
			add_unescaped(b, label, llen);
		else
			sb_add(b, s + 1, head - 1);
	} else if (n && s[0] == '!') {
		if (label) {
			add_unescaped(b, label, llen);
		} else {
			sb_add(b, "@", 1);
			sb_add(b, s + 1, head - 1);
		}
	} else if (label) {
		sb_add(b, "[", 1);
		add_unescaped(b, label, llen);
		sb_add(b, "](", 2);
		add_unescaped(b, s, head);
		sb_add(b, ")", 1);
	} else {
		add_unescaped(b, s, n);
	}
}

static jv body_from_mrkdwn(const char *t)
{
	struct sbuf b = { 0 };
	size_t n = t ? strlen(t) : 0;
	for (size_t i = 0; i < n;) {
		const char *close = t[i] == '<' ? memchr(t + i + 1, '>', n - i - 1) : NULL;
		if (close) {
			add_angle(&b, t + i + 1, (size_t)(close - t - i - 1));
			i = (size_t)(close - t) + 1;
			continue;
		}
		size_t run = strcspn(t + i, "<");
		if (!run)
			run = 1;
		add_unescaped(&b, t + i, run);
		i += run;
	}
	sb_add(&b, "", 0);
	jv r = jv_string(b.s ? b.s : "");
	free(b.s);
	return r;
}

/* ---- inbound events ------------------------------------------------------ */

static jv msg_id(const char *channel, const char *ts)
{
	return jv_string_fmt("%s:%s", channel, ts);
}

/* A message (plain, in a thread, a file share, a bot's): from, to, id,
 * parent, extras. */
static jv message_event(struct slack *s, jv m, const char *channel, const char *channel_type)
{
	const char *user = bot_str(m, "user"), *bot = bot_str(m, "bot_id");
	const char *ts = bot_str(m, "ts"), *thread = bot_str(m, "thread_ts");
	const char *who = user ? user : bot ? bot : "";
	int direct = (channel_type && !strcmp(channel_type, "im")) || channel[0] == 'D';
	jv from = direct ? slack_person(who) : slack_occupant(channel, who);
	jv to = direct ? slack_person(s->self_user[0] ? s->self_user : "bot") : slack_room(channel);
	jv body = body_from_mrkdwn(bot_str(m, "text"));
	jv ev = bot_message(from, to, jv_string_value(body));
	jv_free(body);
	if (ts)
		ev = jv_object_set(ev, jv_string("id"), msg_id(channel, ts));
	if (thread && ts && strcmp(thread, ts))
		ev = jv_object_set(ev, jv_string("parent"), JV_OBJECT(jv_string("id"), msg_id(channel, thread)));
	jv extras = JV_OBJECT(jv_string("channel"), jv_string(channel));
	if (ts)
		extras = jv_object_set(extras, jv_string("ts"), jv_string(ts));
	if (thread)
		extras = jv_object_set(extras, jv_string("thread_ts"), jv_string(thread));
	if (bot)
		extras = jv_object_set(extras, jv_string("bot_id"), jv_string(bot));
	return jv_object_set(ev, jv_string("extras"), extras);
}

static void entry_download(struct slack *s, struct entry *e, int slot, jv file, jv owner);

/* The events of one message event (look-only e) into out (consumed). */
static jv message_events(struct slack *s, struct entry *en, jv e, jv out)
{
	const char *channel = bot_str(e, "channel"), *sub = bot_str(e, "subtype");
	const char *ctype = bot_str(e, "channel_type");
	if (!channel)
		return out;
	if (sub && !strcmp(sub, "message_changed")) {
		jv m = bot_get(e, "message"), prev = bot_get(e, "previous_message");
		const char *t = bot_str(m, "text"), *pt = bot_str(prev, "text"), *ts = bot_str(m, "ts");
		/* an unfurl or a reply count changes a message too: only text edits */
		if (ts && t && !(pt && !strcmp(t, pt))) {
			jv ev = message_event(s, m, channel, ctype);
			ev = jv_object_set(ev, jv_string("replaces"), msg_id(channel, ts));
			const char *ets = bot_str(e, "event_ts") ? bot_str(e, "event_ts") : bot_str(e, "ts");
			if (ets)
				ev = jv_object_set(ev, jv_string("id"), jv_string_fmt("%s:%s:edit", channel, ets));
			out = jv_array_append(out, ev);
		}
		jv_free(m);
		jv_free(prev);
		return out;
	}
	if (sub && !strcmp(sub, "message_deleted")) {
		const char *ts = bot_str(e, "deleted_ts");
		if (ts)
			out = jv_array_append(out, JV_OBJECT(jv_string("type"), jv_string("delete"),
			                                     jv_string("to"), slack_room(channel),
			                                     jv_string("deletes"), msg_id(channel, ts)));
		return out;
	}
	if (sub && (!strcmp(sub, "channel_topic") || !strcmp(sub, "group_topic"))) {
		jv ev = bot_room_event("topic", slack_room(channel));
		const char *topic = bot_str(e, "topic"), *user = bot_str(e, "user");
		ev = jv_object_set(ev, jv_string("topic"), jv_string(topic ? topic : ""));
		if (user)
			ev = jv_object_set(ev, jv_string("occupant"), slack_occupant(channel, user));
		return jv_array_append(out, ev);
	}
	if (sub && strcmp(sub, "thread_broadcast") && strcmp(sub, "file_share") &&
	    strcmp(sub, "me_message") && strcmp(sub, "bot_message"))
		return out;   /* joins as messages, pins, ...: their own events say it */
	jv ev = message_event(s, e, channel, ctype);
	jv files = bot_get(e, "files");
	jv owner = bot_get(ev, "from");
	out = jv_array_append(out, ev);
	if (en && jv_get_kind(files) == JV_KIND_ARRAY)
		jv_array_foreach(files, i, f) {
			out = jv_array_append(out, jv_null());
			entry_download(s, en, jv_array_length(jv_copy(out)) - 1, f, jv_copy(owner));
			(void)i;
		}
	jv_free(owner);
	jv_free(files);
	return out;
}

static jv reaction_events(jv e, const char *type, jv out)
{
	jv item = bot_get(e, "item");
	const char *user = bot_str(e, "user"), *name = bot_str(e, "reaction");
	const char *channel = bot_str(item, "channel"), *ts = bot_str(item, "ts");
	if (user && name && channel && ts) {
		jv to = JV_OBJECT(jv_string("id"), msg_id(channel, ts), jv_string("to"), slack_room(channel));
		const char *owner = bot_str(e, "item_user");
		if (owner)
			to = jv_object_set(to, jv_string("from"), slack_occupant(channel, owner));
		out = jv_array_append(out, bot_reaction_event(slack_person(user),
		                                              !strcmp(type, "reaction_added") ? "added" : "removed",
		                                              name, to, bot_str(e, "event_ts")));
	}
	jv_free(item);
	return out;
}

/* payload.event (look-only) as botpipe events (an array, maybe empty). */
static jv slack_events(struct slack *s, struct entry *en, jv e)
{
	jv out = jv_array();
	const char *type = bot_str(e, "type");
	if (!type || jv_get_kind(e) != JV_KIND_OBJECT)
		return out;
	if (!strcmp(type, "message"))
		return message_events(s, en, e, out);
	if (!strcmp(type, "reaction_added") || !strcmp(type, "reaction_removed"))
		return reaction_events(e, type, out);
	if (!strcmp(type, "member_joined_channel") || !strcmp(type, "member_left_channel")) {
		const char *user = bot_str(e, "user"), *channel = bot_str(e, "channel");
		if (user && channel) {
			jv ev = bot_room_event(type[7] == 'j' ? "joined" : "left", slack_room(channel));
			out = jv_array_append(out, jv_object_set(ev, jv_string("occupant"),
			                                         slack_occupant(channel, user)));
		}
	}
	return out;
}

/* ---- the inbox: envelopes held until downloaded and written ------------ */

static void emit(struct slack *s, jv ev, jv mark)
{
	if (s->host && s->host->emit)
		s->host->emit(s->host, ev, mark);
	else {
		jv_free(ev);
		jv_free(mark);
	}
}

static void ack_now(struct slack *s, unsigned long long seq);

static int lagging(struct slack *s)
{
	return s->host && s->host->lagging && s->host->lagging(s->host);
}

/* Emit the head entries that are complete, while the reader keeps up. */
static void drain(struct slack *s)
{
	if (s->closing)
		return;
	while (s->inbox && !s->inbox->waiting && !lagging(s)) {
		struct entry *e = s->inbox;
		s->inbox = e->next;
		if (!s->inbox)
			s->inbox_tail = NULL;
		s->inbox_len--;
		s->inbox_bytes -= e->bytes;
		int n = jv_array_length(jv_copy(e->events));
		jv_array_foreach(e->events, i, ev) {
			if (jv_get_kind(ev) == JV_KIND_NULL)
				jv_free(ev);
			else
				emit(s, ev, i == n - 1 ? jv_number((double)e->seq) : jv_null());
		}
		if (!n)   /* nothing to write, so nothing to lose: acknowledged now */
			ack_now(s, e->seq);
		jv_free(e->events);
		free(e);
	}
}

/* The live socket of generation gen (not one that is closing: it would
 * take no more messages). */
static struct sock *sock_of_gen(struct slack *s, int gen)
{
	struct sock *all[2] = { s->cur, s->next };
	for (int i = 0; i < 2; i++)
		if (all[i] && all[i]->gen == gen && !all[i]->ended)
			return all[i];
	return NULL;
}

/* Acknowledge one envelope: on its own socket, else on the current one
 * (else not at all: Slack delivers it again, and the id is known). */
static void send_ack(struct slack *s, const struct ack *a)
{
	struct sock *k = sock_of_gen(s, a->gen);
	if (!k && s->cur && !s->cur->ended && s->cur->hello)
		k = s->cur;
	if (!k)
		return;
	jv text = jv_dump_string(JV_OBJECT(jv_string("envelope_id"), jv_string(a->envelope)), 0);
	jv err = jv_invalid();
	if (bot_ws_send(k->ws, 0, jv_string_value(text), (size_t)jv_string_length_bytes(jv_copy(text)), &err) < 0)
		bot_debug("slack: an acknowledgement was not sent: the socket is closing");
	jv_free(err);
	jv_free(text);
}

/* Send the acknowledgements from the oldest on: those up to seq upto, and
 * those that came at older_than or before. */
static void acks_flush(struct slack *s, unsigned long long upto, long long older_than)
{
	size_t k = 0;
	if (!s->nacks)
		return;
	for (; k < s->nacks && (s->acks[k].seq <= upto || s->acks[k].at <= older_than); k++)
		if (s->acks[k].envelope[0])
			send_ack(s, &s->acks[k]);
	memmove(s->acks, s->acks + k, (s->nacks - k) * sizeof *s->acks);
	s->nacks -= k;
}

/* The acknowledgement of seq goes out now (its envelope made no events). */
static void ack_now(struct slack *s, unsigned long long seq)
{
	for (size_t k = 0; k < s->nacks; k++)
		if (s->acks[k].seq == seq && s->acks[k].envelope[0]) {
			send_ack(s, &s->acks[k]);
			s->acks[k].envelope[0] = 0;   /* acks_flush skips it */
		}
}

static void ack_later(struct slack *s, const char *envelope, int gen, unsigned long long seq)
{
	if (s->nacks == s->acks_cap) {
		size_t cap = s->acks_cap ? s->acks_cap * 2 : 64;
		struct ack *a = realloc(s->acks, cap * sizeof *a);
		if (!a)
			abort();
		s->acks = a;
		s->acks_cap = cap;
	}
	struct ack *a = &s->acks[s->nacks++];
	a->seq = seq;
	a->at = bot_now_ms();
	a->gen = gen;
	snprintf(a->envelope, sizeof a->envelope, "%s", envelope);
}

static struct seen *seen_find(struct slack *s, const char *id)
{
	for (size_t i = 0; i < SEEN_MAX; i++)
		if (s->seen[i].id[0] && !strcmp(s->seen[i].id, id))
			return &s->seen[i];
	return NULL;
}

static void seen_add(struct slack *s, const char *id, unsigned long long seq)
{
	struct seen *e = &s->seen[s->seen_next];
	s->seen_next = (s->seen_next + 1) % SEEN_MAX;
	e->seq = seq;
	snprintf(e->id, sizeof e->id, "%s", id);
}

/* The ids seen before a restart (those whose events were written). */
static void seen_load(struct slack *s)
{
	if (s->seen_loaded || !s->host || !s->host->state_dir)
		return;
	s->seen_loaded = 1;
	jv err = jv_invalid();
	const char *dir = s->host->state_dir(s->host, &err);
	if (!dir) {
		jv_free(err);
		return;
	}
	jv v = bot_state_get(dir, "seen", SEEN_KEPT * (ID_MAX + 1));
	if (jv_get_kind(v) == JV_KIND_STRING) {
		char *copy = strdup(jv_string_value(v)), *save = NULL;
		for (char *l = copy ? strtok_r(copy, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save))
			if (strlen(l) < ID_MAX)
				seen_add(s, l, 0);
		free(copy);
	}
	jv_free(v);
}

/* Keep the newest SEEN_KEPT ids whose events are downstream. */
static void seen_save(struct slack *s)
{
	if (!s->seen_dirty || !s->host || !s->host->state_dir)
		return;
	s->seen_dirty = 0;
	struct sbuf b = { 0 };
	int kept = 0;
	for (size_t k = 0; k < SEEN_MAX && kept < SEEN_KEPT; k++) {
		const struct seen *e = &s->seen[(s->seen_next + SEEN_MAX - 1 - k) % SEEN_MAX];
		if (!e->id[0] || e->seq > s->committed)
			continue;
		sb_add(&b, e->id, strlen(e->id));
		sb_add(&b, "\n", 1);
		kept++;
	}
	jv err = jv_invalid();
	const char *dir = s->host->state_dir(s->host, &err);
	if (!dir || bot_state_put(dir, "seen", b.s ? b.s : "", b.len, &err) < 0) {
		char why[256];
		bot_warn("slack: the recent event ids were not saved: %s", bot_fail_message(err, why, sizeof why));
	}
	jv_free(err);
	free(b.s);
}

static void slack_commit(void *be, jv mark)
{
	struct slack *s = be;
	if (jv_get_kind(mark) != JV_KIND_NUMBER)
		return;
	unsigned long long seq = (unsigned long long)jv_number_value(mark);
	if (seq > s->committed)
		s->committed = seq;
	s->seen_dirty = 1;
	seen_save(s);   /* first: an id acknowledged is an id remembered */
	acks_flush(s, s->committed, -1);
}

/* ---- files in -------------------------------------------------------------- */

struct fetch {
	struct slack *s;
	struct entry *e;
	int slot;
	jv file, owner;     /* files.info's file, the sharer */
	char path[4096];
};

static void fetch_end(struct fetch *f, jv ev)
{
	f->e->events = jv_array_set(f->e->events, f->slot, ev);
	f->e->waiting--;
	jv_free(f->file);
	jv_free(f->owner);
	struct slack *s = f->s;
	free(f);
	drain(s);
}

static jv stream_of(struct fetch *f, const char *path, const char *status)
{
	jv size = bot_get(f->file, "size");
	long long n = jv_get_kind(size) == JV_KIND_NUMBER ? (long long)jv_number_value(size) : -1;
	jv_free(size);
	jv ev = bot_stream_event(jv_copy(f->owner), bot_str(f->file, "name"), path,
	                         bot_str(f->file, "mimetype"), n, path ? n : -1, status);
	const char *id = bot_str(f->file, "id");
	if (id)
		ev = jv_object_set(ev, jv_string("extras"), JV_OBJECT(jv_string("file"), jv_string(id)));
	return ev;
}

static void downloaded(void *ud, const struct bot_http_done *d)
{
	struct fetch *f = ud;
	if (jv_get_kind(d->fail) != JV_KIND_NULL) {
		char why[256];
		bot_warn("slack: file %s not downloaded: %s", bot_str(f->file, "id") ? bot_str(f->file, "id") : "?",
		         bot_fail_message(d->fail, why, sizeof why));
		fetch_end(f, stream_of(f, NULL, "error"));
		return;
	}
	fetch_end(f, stream_of(f, d->file, "success"));
}

/* scheme://host[:port] of url into buf ("" when it has none). */
static void origin_of(const char *url, char *buf, size_t n)
{
	const char *p = strstr(url, "://");
	buf[0] = 0;
	if (!p)
		return;
	size_t len = (size_t)(p + 3 - url) + strcspn(p + 3, "/?#");
	if (len < n) {
		memcpy(buf, url, len);
		buf[len] = 0;
	}
}

/* The bot token goes only to Slack: the API's own origin or its file host. */
static int token_may_go_to(struct slack *s, const char *url)
{
	char o[256];
	origin_of(url, o, sizeof o);
	return o[0] && (!strcasecmp(o, s->api_origin) || !strcasecmp(o, "https://files.slack.com"));
}

static void file_info_done(void *ud, const struct bot_http_done *d)
{
	struct fetch *f = ud;
	struct slack *s = f->s;
	jv file = jv_get_kind(d->fail) == JV_KIND_NULL ? bot_get(d->body, "file") : jv_null();
	if (jv_get_kind(file) != JV_KIND_OBJECT) {
		jv_free(file);
		fetch_end(f, stream_of(f, NULL, "error"));
		return;
	}
	jv_free(f->file);
	f->file = file;
	const char *url = bot_str(file, "url_private_download");
	if (!url)
		url = bot_str(file, "url_private");
	jv err = jv_invalid();
	if (!url || !token_may_go_to(s, url)) {
		bot_warn("slack: file %s: its URL is not Slack's: not downloaded", bot_str(file, "id") ? bot_str(file, "id") : "?");
		fetch_end(f, stream_of(f, NULL, "error"));
		jv_free(err);
		return;
	}
	if (s->host->spool_path(s->host, bot_str(file, "name"), f->path, sizeof f->path, &err) < 0) {
		char why[256];
		bot_warn("slack: no spool file: %s", bot_fail_message(err, why, sizeof why));
		jv_free(err);
		fetch_end(f, stream_of(f, NULL, "error"));
		return;
	}
	struct bot_http_req req = { .url = url, .headers = auth_headers(s->bot_token),
	                            .download_path = f->path, .download_max = (size_t)s->file_max,
	                            .timeout_ms = 600000 };
	if (bot_http_start(s->m, &req, downloaded, f, &err) < 0) {
		jv_free(err);
		fetch_end(f, stream_of(f, NULL, "error"));
	}
}

/* Slot slot of entry e becomes the stream event of file (consumed) once
 * files.info and the download end. */
static void entry_download(struct slack *s, struct entry *e, int slot, jv file, jv owner)
{
	struct fetch *f = calloc(1, sizeof *f);
	if (!f)
		abort();
	*f = (struct fetch){ .s = s, .e = e, .slot = slot, .file = file, .owner = owner };
	e->waiting++;
	const char *id = bot_str(file, "id");
	jv err = jv_invalid();
	if (!id || !s->host || !s->host->spool_path ||
	    api_call(s, "files.info", CALL_GET, JV_OBJECT(jv_string("file"), jv_string(id)),
	             s->bot_token, file_info_done, f, &err) < 0) {
		jv_free(err);
		e->events = jv_array_set(e->events, slot, stream_of(f, NULL, "error"));
		e->waiting--;
		jv_free(f->file);
		jv_free(f->owner);
		free(f);
	}
}

/* ---- envelopes ------------------------------------------------------------ */

static void set_failure(struct slack *s, jv f)
{
	if (jv_get_kind(s->failure) == JV_KIND_NULL) {
		jv_free(s->failure);
		s->failure = f;
	} else
		jv_free(f);
}

static void open_socket_request(struct slack *s);

static void on_events_api(struct slack *s, struct sock *k, jv env, const char *envelope, size_t bytes)
{
	jv payload = bot_get(env, "payload");
	const char *eid = bot_str(payload, "event_id");
	char key[ID_MAX];
	snprintf(key, sizeof key, "%s", eid ? eid : envelope);
	struct ack a = { .gen = k->gen };
	snprintf(a.envelope, sizeof a.envelope, "%s", envelope);
	if (seen_find(s, key)) {   /* a redelivery: taken already */
		jv n = bot_get(env, "retry_attempt");
		bot_debug("slack: event %s delivered again (retry_attempt %g): dropped", key,
		          jv_get_kind(n) == JV_KIND_NUMBER ? jv_number_value(n) : 0.0);
		jv_free(n);
		send_ack(s, &a);
		jv_free(payload);
		return;
	}
	if (s->inbox_len >= INBOX_MAX || s->inbox_bytes + bytes > INBOX_BYTES_MAX) {
		/* not acknowledged: Slack delivers it again later */
		bot_debug("slack: %d envelopes (%zu bytes) held: %s left to Slack's redelivery",
		          s->inbox_len, s->inbox_bytes, key);
		jv_free(payload);
		return;
	}
	struct entry *e = calloc(1, sizeof *e);
	if (!e)
		abort();
	e->seq = ++s->seq;
	e->bytes = bytes;
	e->events = jv_array();
	jv ev = bot_get(payload, "event");
	jv events = slack_events(s, e, ev);
	/* downloads already started may have filled slots of e->events */
	jv_array_foreach(e->events, i, x) {
		if (jv_get_kind(x) != JV_KIND_NULL)
			events = jv_array_set(events, i, x);
		else
			jv_free(x);
	}
	jv_free(e->events);
	e->events = events;
	jv_free(ev);
	jv_free(payload);
	seen_add(s, key, e->seq);
	if (s->inbox_tail)
		s->inbox_tail->next = e;
	else
		s->inbox = e;
	s->inbox_tail = e;
	s->inbox_len++;
	s->inbox_bytes += bytes;
	ack_later(s, envelope, k->gen, e->seq);
	drain(s);
}

/* One message from a socket. */
static void on_message(void *ud, int binary, const char *data, size_t len)
{
	struct sock *k = ud;
	struct slack *s = k->s;
	if (binary || k->ended)
		return;
	jv env = jv_parse_sized(data, (int)len);
	if (jv_get_kind(env) != JV_KIND_OBJECT) {
		bot_debug("slack: a socket message that is not a JSON object: ignored");
		jv_free(env);
		return;
	}
	const char *type = bot_str(env, "type"), *envelope = bot_str(env, "envelope_id");
	if (envelope && strlen(envelope) >= ID_MAX)
		envelope = NULL;
	if (!type) {
		;
	} else if (!strcmp(type, "hello")) {
		k->hello = 1;
		if (k == s->next) {   /* the replacement is up: now the old one goes */
			if (s->cur && !s->cur->ended)
				bot_ws_close(s->cur->ws, 1000, "replaced");
			s->old = s->cur;
			s->cur = k;
			s->next = NULL;
		}
		if (!s->up) {
			s->up = 1;
			if (s->host->up)
				s->host->up(s->host);
		}
	} else if (!strcmp(type, "disconnect")) {
		const char *reason = bot_str(env, "reason");
		if (reason && !strcmp(reason, "link_disabled"))
			set_failure(s, bot_fail_code("bad_config", 0,
			                             "Slack disabled Socket Mode for this app (link_disabled)"));
		else if (k == s->cur)
			open_socket_request(s);
	} else if (!strcmp(type, "events_api") && envelope) {
		on_events_api(s, k, env, envelope, len);
	} else if (envelope) {
		/* slash commands, interactivity: not events botpipe has */
		struct ack a = { .gen = k->gen };
		snprintf(a.envelope, sizeof a.envelope, "%s", envelope);
		send_ack(s, &a);
	}
	jv_free(env);
}

static void sock_lost(struct sock *k, jv why)
{
	struct slack *s = k->s;
	k->ended = 1;
	if (k == s->old)
		return;
	if (k == s->cur && (s->next || s->connect_xid > 0)) {
		return;   /* its replacement is on its way */
	}
	if (k == s->next)
		s->next = NULL;
	set_failure(s, why);
}

static void on_close(void *ud, int code, const char *reason, size_t len)
{
	struct sock *k = ud;
	char r[128];
	bot_oneline(r, sizeof r, reason, len);
	sock_lost(k, bot_fail_code("send_failed", 1, "Slack closed the socket (%d%s%s)", code, len ? " " : "", r));
}

static void on_error(void *ud, jv fail)
{
	sock_lost(ud, jv_copy(fail));
}

static void on_open(void *ud)
{
	(void)ud;
}

static const struct bot_ws_cb sock_cb = { on_open, on_message, on_close, on_error };

static void sock_free(struct sock *k)
{
	if (!k)
		return;
	bot_ws_free(k->ws);
	free(k);
}

/* ---- connecting ------------------------------------------------------------ */

static void connections_open_done(void *ud, const struct bot_http_done *d)
{
	struct slack *s = ud;
	s->connect_xid = 0;
	if (jv_get_kind(d->fail) != JV_KIND_NULL) {
		if (s->cur && !s->cur->ended && s->cur->hello)
			bot_debug("slack: no new socket for a refresh; the current one stays");
		else
			set_failure(s, jv_copy(d->fail));
		return;
	}
	const char *url = bot_str(d->body, "url");
	if (!url) {
		set_failure(s, bot_fail_code("send_failed", 1, "apps.connections.open gave no url"));
		return;
	}
	struct sock *k = calloc(1, sizeof *k);
	if (!k)
		abort();
	k->s = s;
	k->gen = ++s->gen;
	struct bot_ws_opts o = { .url = url, .headers = jv_null(), .cafile = s->cafile,
	                         .ping_interval_ms = s->ping_ms, .pong_timeout_ms = s->ping_ms,
	                         .max_message = MESSAGE_MAX };
	jv err = jv_invalid();
	k->ws = bot_ws_open(s->m, &o, &sock_cb, k, &err);
	if (!k->ws) {
		free(k);
		set_failure(s, err);
		return;
	}
	if (s->cur && !s->cur->ended) {
		sock_free(s->next);   /* an older replacement that never said hello */
		s->next = k;
	} else {
		sock_free(s->old);
		s->old = s->cur;
		s->cur = k;
	}
}

/* apps.connections.open: a new socket (the first, or a replacement). */
static void open_socket_request(struct slack *s)
{
	if (s->connect_xid > 0 || s->next)
		return;
	jv err = jv_invalid();
	long id = api_call(s, "apps.connections.open", CALL_POST_EMPTY, jv_null(), s->app_token,
	                   connections_open_done, s, &err);
	if (id < 0)
		set_failure(s, err);
	else
		s->connect_xid = id;
}

static void auth_test_done(void *ud, const struct bot_http_done *d)
{
	struct slack *s = ud;
	s->connect_xid = 0;
	if (jv_get_kind(d->fail) != JV_KIND_NULL) {
		set_failure(s, jv_copy(d->fail));
		return;
	}
	const char *user = bot_str(d->body, "user_id"), *bot = bot_str(d->body, "bot_id");
	snprintf(s->self_user, sizeof s->self_user, "%s", user && strlen(user) < ID_MAX ? user : "");
	snprintf(s->self_bot, sizeof s->self_bot, "%s", bot && strlen(bot) < ID_MAX ? bot : "");
	open_socket_request(s);
}

static int slack_start(void *be, jv *err)
{
	struct slack *s = be;
	if (!s->app_token || !*s->app_token) {
		*err = bot_fail_code("bad_config", 0, "no app token: set BOT_SLACK_APP_TOKEN or BOT_SLACK_APP_TOKEN_FILE");
		return -1;
	}
	seen_load(s);
	s->started = 1;
	s->up = 0;
	jv_free(s->failure);
	s->failure = jv_null();
	long id = api_call(s, "auth.test", CALL_POST_EMPTY, jv_null(), s->bot_token, auth_test_done, s, err);
	if (id < 0)
		return -1;
	s->connect_xid = id;
	return 0;
}

static void drop_sockets(struct slack *s)
{
	if (s->connect_xid > 0)
		bot_http_cancel(s->m, s->connect_xid);
	s->connect_xid = 0;
	sock_free(s->cur);
	sock_free(s->next);
	sock_free(s->old);
	s->cur = s->next = s->old = NULL;
}

/* Sends run on the Web API, not the socket: they go on; held envelopes too. */
static void slack_stop(void *be)
{
	struct slack *s = be;
	drop_sockets(s);
	s->started = 0;
	s->up = 0;
}

static void slack_prepare(void *be, struct bot_poll *p)
{
	struct slack *s = be;
	bot_http_multi_prepare(s->m, p);
	struct sock *all[3] = { s->cur, s->next, s->old };
	for (int i = 0; i < 3; i++)
		if (all[i] && !all[i]->ended)
			bot_ws_prepare(all[i]->ws, p);
	if (s->nacks)
		bot_poll_deadline(p, s->acks[0].at + ACK_AFTER_MS);
	if (jv_get_kind(s->failure) != JV_KIND_NULL || (s->inbox && !s->inbox->waiting && !lagging(s)))
		bot_poll_deadline(p, bot_now_ms());
}

/* Sockets that ended are freed here, never inside their callbacks. */
static void reap(struct slack *s)
{
	if (s->old && (s->old->ended || !bot_ws_alive(s->old->ws))) {
		sock_free(s->old);
		s->old = NULL;
	}
	if (s->cur && s->cur->ended && s->next == NULL && jv_get_kind(s->failure) == JV_KIND_NULL &&
	    s->connect_xid <= 0) {
		sock_free(s->cur);
		s->cur = NULL;
	}
}

static int slack_dispatch(void *be, const struct bot_poll *p, jv *err)
{
	struct slack *s = be;
	bot_http_multi_dispatch(s->m, p);
	struct sock *all[3] = { s->cur, s->next, s->old };
	for (int i = 0; i < 3; i++)
		if (all[i] && !all[i]->ended)
			bot_ws_dispatch(all[i]->ws, p);
	reap(s);
	drain(s);
	acks_flush(s, 0, bot_now_ms() - ACK_AFTER_MS);
	if (jv_get_kind(s->failure) != JV_KIND_NULL) {
		*err = s->failure;
		s->failure = jv_null();
		return -1;
	}
	return 0;
}

/* ---- deliveries ------------------------------------------------------------ */

enum job_kind { JOB_POST, JOB_REACTION, JOB_DELETE, JOB_STREAM, JOB_ROOM };

struct job {
	struct slack *s;
	bot_done_fn done;
	void *ctx;
	enum job_kind kind;
	jv ev;
	char channel[ID_MAX];      /* an id once resolved (rooms, files) */
	char action[16];
	char file_id[ID_MAX];
	char path[4096];
	jv cursor;                 /* conversations.list paging */
	int pages;
	jv acc;                    /* answers gathered (occupants, rooms) */
	jv result;                 /* for a call's answer: what done gets */
	const char *method;
	int stage;
};

static void job_end(struct job *j, jv result)
{
	j->done(j->ctx, result);
	jv_free(j->ev);
	jv_free(j->cursor);
	jv_free(j->acc);
	jv_free(j->result);
	free(j);
}

static jv answer_ref(struct job *j, jv ans)
{
	jv ref = bot_get(j->ev, "id");
	if (jv_get_kind(ref) != JV_KIND_NULL)
		return jv_object_set(ans, jv_string("ref"), ref);
	jv_free(ref);
	return ans;
}

/* errbot's colour names as Slack's hex, else as given. */
static const char *card_color(const char *c)
{
	static const struct { const char *name, *hex; } map[] = {
		{ "red", "#FF0000" }, { "green", "#008000" }, { "yellow", "#FFA500" },
		{ "blue", "#0000FF" }, { "white", "#FFFFFF" }, { "cyan", "#00FFFF" } };
	for (size_t i = 0; c && i < sizeof map / sizeof *map; i++)
		if (!strcasecmp(c, map[i].name))
			return map[i].hex;
	return c;
}

static jv set_if(jv o, const char *key, const char *val)
{
	return val ? jv_object_set(o, jv_string(key), jv_string(val)) : o;
}

/* A card as one legacy attachment, errbot's Slack card. */
static jv card_attachment(jv ev)
{
	jv a = jv_object();
	const char *body = bot_str(ev, "body");
	if (body && *body) {
		char *t = bot_render("slack", body, strlen(body));
		a = jv_object_set(a, jv_string("text"), jv_string(t ? t : body));
		free(t);
	}
	a = set_if(a, "pretext", bot_str(ev, "summary"));
	a = set_if(a, "title", bot_str(ev, "title"));
	a = set_if(a, "title_link", bot_str(ev, "link"));
	a = set_if(a, "image_url", bot_str(ev, "image"));
	a = set_if(a, "thumb_url", bot_str(ev, "thumbnail"));
	a = set_if(a, "color", card_color(bot_str(ev, "color") ? bot_str(ev, "color") : "green"));
	jv fields = bot_get(ev, "fields"), out = jv_array();
	if (jv_get_kind(fields) == JV_KIND_ARRAY)
		jv_array_foreach(fields, i, f) {
			jv k = jv_array_get(jv_copy(f), 0), v = jv_array_get(jv_copy(f), 1);
			out = jv_array_append(out, JV_OBJECT(jv_string("title"), k, jv_string("value"), v,
			                                     jv_string("short"), jv_true()));
			jv_free(f);
			(void)i;
		}
	jv_free(fields);
	if (jv_array_length(jv_copy(out)))
		a = jv_object_set(a, jv_string("fields"), out);
	else
		jv_free(out);
	const char *fb = bot_str(ev, "summary") ? bot_str(ev, "summary") : bot_str(ev, "title");
	return set_if(a, "fallback", fb ? fb : body ? body : "card");
}

/* The first part's "@U0456:" from slack_mention, as a live <@U0456>. */
static jv live_mention(const struct bot_part *part, const char *text)
{
	jv m = bot_get(part->event, "mention");
	const char *p = bot_ident_person(m);
	jv out = jv_null();
	size_t n = p ? strlen(p) : 0;
	if (part->index == 0 && n > 1 && p[0] == '@' && !strncmp(text, p, n) && text[n] == ':')
		out = jv_string_fmt("<@%s>%s", p + 1, text + n);
	jv_free(m);
	return jv_get_kind(out) == JV_KIND_NULL ? jv_string(text) : out;
}

static void call_done(void *ud, const struct bot_http_done *d);

static int job_call(struct job *j, const char *method, enum call_kind kind, jv args, jv *err)
{
	j->method = method;
	return api_call(j->s, method, kind, args, j->s->bot_token, call_done, j, err) < 0 ? -1 : 0;
}

/* A message or card part: chat.postMessage, or chat.update for an edit. */
static int submit_post(struct job *j, const struct bot_part *part, jv *err)
{
	jv to = bot_get(part->event, "to");
	char channel[ID_MAX];
	channel_of(to, channel, sizeof channel);
	if (bot_ident_room(to) && channel[0] && !is_slack_id(channel, "CGD")) {
		/* a name: chat.postMessage takes "#name" (the rest want the id) */
		memmove(channel + 1, channel, strnlen(channel, sizeof channel - 2) + 1);
		channel[0] = '#';
	}
	jv_free(to);
	if (!channel[0]) {
		*err = bot_fail_code("bad_input", 0, "to: not a Slack channel or person");
		return -1;
	}
	jv args = JV_OBJECT(jv_string("channel"), jv_string(channel));
	if (part->text)
		args = jv_object_set(args, jv_string("text"), live_mention(part, part->text));
	else {
		jv att = card_attachment(part->event);
		args = jv_object_set(args, jv_string("text"), jv_string(bot_str(att, "fallback")));
		args = jv_object_set(args, jv_string("attachments"), JV_ARRAY(att));
	}
	char ch[ID_MAX], ts[64];
	if (part->replaces && part->index == 0) {
		if (split_msg_id(part->replaces, ch, sizeof ch, ts, sizeof ts) < 0) {
			jv_free(args);
			*err = bot_fail_code("bad_input", 0, "replaces: not a Slack message id (CHANNEL:TS)");
			return -1;
		}
		args = jv_object_set(args, jv_string("channel"), jv_string(ch));
		args = jv_object_set(args, jv_string("ts"), jv_string(ts));
		return job_call(j, "chat.update", CALL_JSON, args, err);
	}
	jv parent = bot_get(part->event, "parent");
	const char *pid = jv_get_kind(parent) == JV_KIND_STRING ? jv_string_value(parent) : bot_str(parent, "id");
	if (pid && split_msg_id(pid, ch, sizeof ch, ts, sizeof ts) == 0)
		args = jv_object_set(args, jv_string("thread_ts"), jv_string(ts));
	jv_free(parent);
	return job_call(j, "chat.postMessage", CALL_JSON, args, err);
}

static int submit_reaction(struct job *j, const struct bot_part *part, jv *err)
{
	jv rt = bot_get(part->event, "reacted_to");
	const char *id = jv_get_kind(rt) == JV_KIND_STRING ? jv_string_value(rt) : bot_str(rt, "id");
	char ch[ID_MAX], ts[64], name[100];
	int bad = split_msg_id(id, ch, sizeof ch, ts, sizeof ts) < 0;
	jv_free(rt);
	const char *n = bot_str(part->event, "reaction_name");
	if (bad || !n) {
		*err = bot_fail_code("bad_input", 0, "reaction: reacted_to.id must be a Slack message id (CHANNEL:TS)");
		return -1;
	}
	snprintf(name, sizeof name, "%s", n);   /* without colons: the send queue's (emoji.h) */
	const char *action = bot_str(part->event, "action");
	int remove = action && !strcmp(action, "removed");
	snprintf(j->action, sizeof j->action, "%s", remove ? "removed" : "added");
	return job_call(j, remove ? "reactions.remove" : "reactions.add", CALL_JSON,
	                JV_OBJECT(jv_string("channel"), jv_string(ch), jv_string("timestamp"), jv_string(ts),
	                          jv_string("name"), jv_string(name)), err);
}

static int submit_delete(struct job *j, const struct bot_part *part, jv *err)
{
	char ch[ID_MAX], ts[64];
	if (split_msg_id(bot_str(part->event, "deletes"), ch, sizeof ch, ts, sizeof ts) < 0) {
		*err = bot_fail_code("bad_input", 0, "deletes: not a Slack message id (CHANNEL:TS)");
		return -1;
	}
	return job_call(j, "chat.delete", CALL_JSON,
	                JV_OBJECT(jv_string("channel"), jv_string(ch), jv_string("ts"), jv_string(ts)), err);
}

/* ---- rooms and files: a channel id first ------------------------------------ */

static void job_next(struct job *j);

static void list_done(void *ud, const struct bot_http_done *d);

/* Start or go on with conversations.list (a name's id, or "list"). */
static int list_page(struct job *j, jv *err)
{
	jv q = JV_OBJECT(jv_string("types"), jv_string("public_channel,private_channel"),
	                 jv_string("exclude_archived"), jv_string("true"), jv_string("limit"), jv_string("200"));
	if (jv_get_kind(j->cursor) == JV_KIND_STRING)
		q = jv_object_set(q, jv_string("cursor"), jv_copy(j->cursor));
	j->pages++;
	j->method = "conversations.list";
	return api_call(j->s, "conversations.list", CALL_GET, q, j->s->bot_token, list_done, j, err) < 0 ? -1 : 0;
}

static void list_done(void *ud, const struct bot_http_done *d)
{
	struct job *j = ud;
	if (jv_get_kind(d->fail) != JV_KIND_NULL) {
		job_end(j, jv_copy(d->fail));
		return;
	}
	jv chans = bot_get(d->body, "channels");
	jv_array_foreach(chans, i, c) {
		const char *id = bot_str(c, "id"), *name = bot_str(c, "name");
		if (id && name && strlen(id) < ID_MAX)
			j->s->names = jv_object_set(j->s->names, jv_string(name), jv_string(id));
		if (!strcmp(j->action, "list"))
			j->acc = jv_array_append(j->acc, c);
		else
			jv_free(c);
		(void)i;
	}
	jv_free(chans);
	jv meta = bot_get(d->body, "response_metadata");
	jv_free(j->cursor);
	j->cursor = bot_get(meta, "next_cursor");
	jv_free(meta);
	int more = jv_get_kind(j->cursor) == JV_KIND_STRING && jv_string_length_bytes(jv_copy(j->cursor)) > 0 &&
	           j->pages < LIST_PAGES_MAX;
	jv err = jv_invalid();
	if (!strcmp(j->action, "list")) {
		if (more && list_page(j, &err) == 0) {
			jv_free(err);
			return;
		}
		jv_free(err);
		job_next(j);
		return;
	}
	jv id = jv_object_get(jv_copy(j->s->names), jv_string(j->channel));
	if (jv_is_valid(id)) {
		snprintf(j->channel, sizeof j->channel, "%s", jv_string_value(id));
		jv_free(id);
		jv_free(err);
		job_next(j);
		return;
	}
	jv_free(id);
	if (more && list_page(j, &err) == 0) {
		jv_free(err);
		return;
	}
	jv_free(err);
	job_end(j, bot_fail_code("room_does_not_exist", 0, "#%s: no such channel", j->channel));
}

/* j->channel as an id: at once, from the cache, or by conversations.list. */
static int resolve(struct job *j, jv *err)
{
	if (is_slack_id(j->channel, "CGDUW")) {
		j->stage++;
		job_next(j);
		return 0;
	}
	jv id = jv_object_get(jv_copy(j->s->names), jv_string(j->channel));
	if (jv_is_valid(id)) {
		snprintf(j->channel, sizeof j->channel, "%s", jv_string_value(id));
		jv_free(id);
		j->stage++;
		job_next(j);
		return 0;
	}
	jv_free(id);
	j->stage++;
	return list_page(j, err);
}

static void upload_done(void *ud, const struct bot_http_done *d);

/* The steps of a file out: the channel's id, files.getUploadURLExternal,
 * the upload, files.completeUploadExternal. */
static void stream_step(struct job *j, jv *err, int *rc)
{
	struct slack *s = j->s;
	if (j->stage == 1) {
		const char *path = bot_str(j->ev, "path"), *name = bot_str(j->ev, "name");
		FILE *f = path ? fopen(path, "rb") : NULL;
		long len = -1;
		if (f && fseek(f, 0, SEEK_END) == 0)
			len = ftell(f);
		if (f)
			fclose(f);
		if (len < 0) {
			*err = bot_fail_code("bad_input", 0, "stream: path: cannot read the file");
			*rc = -1;
			return;
		}
		snprintf(j->path, sizeof j->path, "%s", path);
		const char *base = strrchr(path, '/');
		jv q = JV_OBJECT(jv_string("filename"), jv_string(name ? name : base ? base + 1 : path),
		                 jv_string("length"), jv_string_fmt("%ld", len));
		j->stage = 2;
		*rc = job_call(j, "files.getUploadURLExternal", CALL_GET, q, err);
		return;
	}
	if (j->stage == 2) {
		const char *url = bot_str(j->result, "upload_url"), *id = bot_str(j->result, "file_id");
		if (!url || !id || strlen(id) >= ID_MAX) {
			*err = bot_fail_code("send_failed", 0, "files.getUploadURLExternal gave no upload_url");
			*rc = -1;
			return;
		}
		snprintf(j->file_id, sizeof j->file_id, "%s", id);
		const char *base = strrchr(j->path, '/');
		struct bot_http_req req = { .method = "POST", .url = url, .upload_path = j->path,
		                            .upload_field = "file", .upload_name = base ? base + 1 : j->path,
		                            .upload_type = bot_str(j->ev, "stream_type"),
		                            .timeout_ms = 600000 };
		if (token_may_go_to(s, url))
			req.headers = auth_headers(s->bot_token);
		j->stage = 3;
		*rc = bot_http_start(s->m, &req, upload_done, j, err) < 0 ? -1 : 0;
		return;
	}
	const char *name = bot_str(j->ev, "name");
	jv file = JV_OBJECT(jv_string("id"), jv_string(j->file_id));
	if (name)
		file = jv_object_set(file, jv_string("title"), jv_string(name));
	jv args = JV_OBJECT(jv_string("files"), JV_ARRAY(file), jv_string("channel_id"), jv_string(j->channel));
	j->stage = 5;
	*rc = job_call(j, "files.completeUploadExternal", CALL_JSON, args, err);
}

static void upload_done(void *ud, const struct bot_http_done *d)
{
	struct job *j = ud;
	if (jv_get_kind(d->fail) != JV_KIND_NULL) {
		job_end(j, jv_copy(d->fail));
		return;
	}
	j->stage = 4;
	job_next(j);
}

/* The answer event of a room operation, from the call's answer. */
static jv room_answer(struct job *j)
{
	jv room = bot_get(j->ev, "room");
	if (jv_get_kind(room) == JV_KIND_STRING) {
		jv r = bot_room(jv_string_value(room));
		jv_free(room);
		room = r;
	}
	jv ans = answer_ref(j, bot_room_event(j->action, room));
	jv ch = bot_get(j->result, "channel");
	const char *a = j->action;
	if (!strcmp(a, "join") || !strcmp(a, "create")) {
		ans = jv_object_set(ans, jv_string("joined"), jv_true());
	} else if (!strcmp(a, "leave")) {
		ans = jv_object_set(ans, jv_string("joined"), jv_false());
	} else if (!strcmp(a, "invite")) {
		ans = jv_object_set(ans, jv_string("identifier"), bot_get(j->ev, "identifier"));
	} else if (!strcmp(a, "topic")) {
		const char *set = bot_str(j->ev, "topic");
		jv t = bot_get(ch, "topic");
		const char *v = set ? set : bot_str(t, "value");
		ans = jv_object_set(ans, jv_string("topic"), jv_string(v ? v : ""));
		jv_free(t);
	} else if (!strcmp(a, "info")) {
		jv t = bot_get(ch, "topic"), n = bot_get(ch, "num_members");
		int exists = jv_get_kind(ch) == JV_KIND_OBJECT;
		ans = jv_object_set(ans, jv_string("exists"), jv_bool(exists));
		ans = jv_object_set(ans, jv_string("joined"), jv_bool(bot_true(ch, "is_member")));
		if (exists)
			ans = jv_object_set(ans, jv_string("topic"), jv_string(bot_str(t, "value") ? bot_str(t, "value") : ""));
		if (jv_get_kind(n) == JV_KIND_NUMBER)
			ans = jv_object_set(ans, jv_string("users"), jv_copy(n));
		jv_free(t);
		jv_free(n);
	} else if (!strcmp(a, "occupants")) {
		jv occ = jv_array();
		jv_array_foreach(j->acc, i, m) {
			if (jv_get_kind(m) == JV_KIND_STRING)
				occ = jv_array_append(occ, slack_occupant(j->channel, jv_string_value(m)));
			jv_free(m);
			(void)i;
		}
		ans = jv_object_set(ans, jv_string("occupants"), occ);
	}
	jv_free(ch);
	return ans;
}

static jv list_answer(struct job *j)
{
	jv rooms = jv_array();
	jv_array_foreach(j->acc, i, c) {
		const char *id = bot_str(c, "id");
		if (id) {
			jv r = slack_room(id);
			jv t = bot_get(c, "topic");
			r = set_if(r, "name", bot_str(c, "name"));
			r = set_if(r, "topic", bot_str(t, "value"));
			r = jv_object_set(r, jv_string("users"), bot_get(c, "num_members"));
			r = jv_object_set(r, jv_string("joined"), jv_bool(bot_true(c, "is_member")));
			jv_free(t);
			rooms = jv_array_append(rooms, r);
		}
		jv_free(c);
		(void)i;
	}
	jv ans = JV_OBJECT(jv_string("type"), jv_string("room"), jv_string("action"), jv_string("list"),
	                   jv_string("rooms"), rooms);
	return answer_ref(j, ans);
}

static void members_page(struct job *j, jv *err, int *rc)
{
	jv q = JV_OBJECT(jv_string("channel"), jv_string(j->channel), jv_string("limit"), jv_string("200"));
	if (jv_get_kind(j->cursor) == JV_KIND_STRING && jv_string_length_bytes(jv_copy(j->cursor)))
		q = jv_object_set(q, jv_string("cursor"), jv_copy(j->cursor));
	j->pages++;
	*rc = job_call(j, "conversations.members", CALL_GET, q, err);
}

/* The call of a room action once the channel's id is known. */
static void room_step(struct job *j, jv *err, int *rc)
{
	const char *a = j->action;
	jv ch = JV_OBJECT(jv_string("channel"), jv_string(j->channel));
	j->stage = 5;
	if (!strcmp(a, "join"))
		*rc = job_call(j, "conversations.join", CALL_JSON, ch, err);
	else if (!strcmp(a, "leave"))
		*rc = job_call(j, "conversations.leave", CALL_JSON, ch, err);
	else if (!strcmp(a, "destroy"))
		*rc = job_call(j, "conversations.archive", CALL_JSON, ch, err);
	else if (!strcmp(a, "info") || (!strcmp(a, "topic") && !bot_str(j->ev, "topic")))
		*rc = job_call(j, "conversations.info", CALL_GET, ch, err);
	else if (!strcmp(a, "topic"))
		*rc = job_call(j, "conversations.setTopic", CALL_JSON,
		               jv_object_set(ch, jv_string("topic"), jv_string(bot_str(j->ev, "topic"))), err);
	else if (!strcmp(a, "invite")) {
		jv who = bot_get(j->ev, "identifier");
		char uid[ID_MAX];
		channel_of(who, uid, sizeof uid);
		jv_free(who);
		if (!is_slack_id(uid, "UW")) {
			jv_free(ch);
			*err = bot_fail_code("bad_input", 0, "invite: identifier must be a Slack user id (@U...)");
			*rc = -1;
			return;
		}
		*rc = job_call(j, "conversations.invite", CALL_JSON,
		               jv_object_set(ch, jv_string("users"), jv_string(uid)), err);
	} else if (!strcmp(a, "occupants")) {
		jv_free(ch);
		j->stage = 6;
		members_page(j, err, rc);
	} else {
		jv_free(ch);
		*err = bot_fail_code("unsupported", 0, "room: Slack cannot %s", a);
		*rc = -1;
	}
}

/* Move a room or stream job on; it ends itself on a failure. */
static void job_next(struct job *j)
{
	jv err = jv_invalid();
	int rc = 0;
	if (j->kind == JOB_ROOM && !strcmp(j->action, "list")) {
		job_end(j, list_answer(j));
		jv_free(err);
		return;
	}
	if (j->stage == 0) {
		rc = resolve(j, &err);
	} else if (j->kind == JOB_STREAM && j->stage < 5) {
		stream_step(j, &err, &rc);
	} else if (j->kind == JOB_ROOM && j->stage == 1) {
		room_step(j, &err, &rc);
	} else {
		job_end(j, bot_fail_code("send_failed", 0, "slack: a job in a state it cannot be in"));
		jv_free(err);
		return;
	}
	if (rc < 0) {
		if (!jv_invalid_has_msg(jv_copy(err)))
			err = bot_fail_code("send_failed", 0, "slack: the request could not start");
		job_end(j, err);
		return;
	}
	jv_free(err);
}

/* The end of a Web API call of a job. */
static void call_done(void *ud, const struct bot_http_done *d)
{
	struct job *j = ud;
	if (jv_get_kind(d->fail) != JV_KIND_NULL) {
		const char *e = bot_str(d->body, "error");
		/* a retry of an add that went through, of a remove that did */
		if (e && ((j->kind == JOB_REACTION && (!strcmp(e, "already_reacted") || !strcmp(e, "no_reaction"))) ||
		          (j->kind == JOB_ROOM && !strcmp(j->action, "info") && !strcmp(e, "channel_not_found")))) {
			if (j->kind == JOB_REACTION) {
				job_end(j, JV_OBJECT(jv_string("id"), jv_null()));
				return;
			}
			jv_free(j->result);
			j->result = jv_object();
			job_end(j, room_answer(j));
			return;
		}
		job_end(j, jv_copy(d->fail));
		return;
	}
	jv_free(j->result);
	j->result = jv_copy(d->body);
	if (j->kind == JOB_POST) {
		const char *ch = bot_str(d->body, "channel"), *ts = bot_str(d->body, "ts");
		job_end(j, ch && ts ? JV_OBJECT(jv_string("id"), msg_id(ch, ts)) : JV_OBJECT(jv_string("id"), jv_null()));
	} else if (j->kind == JOB_REACTION || j->kind == JOB_DELETE) {
		job_end(j, JV_OBJECT(jv_string("id"), jv_null()));
	} else if (j->kind == JOB_STREAM && j->stage < 5) {
		job_next(j);
	} else if (j->kind == JOB_STREAM) {
		job_end(j, JV_OBJECT(jv_string("id"), jv_string_fmt("%s:%s", j->channel, j->file_id)));
	} else if (j->stage == 6) {   /* occupants: page by page */
		jv mem = bot_get(d->body, "members"), meta = bot_get(d->body, "response_metadata");
		jv_array_foreach(mem, i, m) {
			j->acc = jv_array_append(j->acc, m);
			(void)i;
		}
		jv_free(mem);
		jv_free(j->cursor);
		j->cursor = bot_get(meta, "next_cursor");
		jv_free(meta);
		jv err = jv_invalid();
		int rc = 0;
		if (jv_get_kind(j->cursor) == JV_KIND_STRING && jv_string_length_bytes(jv_copy(j->cursor)) &&
		    j->pages < LIST_PAGES_MAX) {
			members_page(j, &err, &rc);
			if (rc < 0)
				job_end(j, err);
			else
				jv_free(err);
			return;
		}
		jv_free(err);
		job_end(j, room_answer(j));
	} else {
		job_end(j, room_answer(j));
	}
}

static int submit_room(struct job *j, const struct bot_part *part, jv *err)
{
	const char *a = bot_str(part->event, "action");
	snprintf(j->action, sizeof j->action, "%s", a ? a : "");
	if (!strcmp(j->action, "list")) {
		j->acc = jv_array();
		return list_page(j, err);
	}
	jv room = bot_get(part->event, "room");
	const char *id = bot_ident_room(room);
	if (!id && jv_get_kind(room) == JV_KIND_STRING)
		id = jv_string_value(room);
	if (!id || !*id) {
		jv_free(room);
		*err = bot_fail_code("bad_input", 0, "room: not a Slack channel");
		return -1;
	}
	snprintf(j->channel, sizeof j->channel, "%s", id + (id[0] == '#'));
	jv_free(room);
	if (!strcmp(j->action, "create")) {
		j->stage = 5;
		return job_call(j, "conversations.create", CALL_JSON,
		                JV_OBJECT(jv_string("name"), jv_string(j->channel)), err);
	}
	j->acc = jv_array();
	jv ignored = jv_invalid();
	int rc = resolve(j, &ignored);   /* it may end j: the answer is then given */
	if (rc < 0) {
		*err = ignored;
		return -1;
	}
	jv_free(ignored);
	return 0;
}

static int submit_stream(struct job *j, const struct bot_part *part, jv *err)
{
	jv to = bot_get(part->event, "to");
	channel_of(to, j->channel, sizeof j->channel);
	jv_free(to);
	if (!j->channel[0] || !bot_str(part->event, "path")) {
		*err = bot_fail_code("bad_input", 0, "stream: needs to (a channel) and path");
		return -1;
	}
	return resolve(j, err);
}

static int slack_submit(void *be, const struct bot_part *part, bot_done_fn done, void *ctx, jv *err)
{
	struct slack *s = be;
	if (!s->bot_token || !*s->bot_token) {
		*err = bot_fail_code("bad_config", 0, "no bot token: set BOT_SLACK_BOT_TOKEN or BOT_SLACK_BOT_TOKEN_FILE");
		return -1;
	}
	struct job *j = calloc(1, sizeof *j);
	if (!j)
		abort();
	*j = (struct job){ .s = s, .done = done, .ctx = ctx, .ev = jv_copy(part->event),
	                   .cursor = jv_null(), .acc = jv_null(), .result = jv_null() };
	const char *t = part->type ? part->type : "message";
	int rc;
	if (!strcmp(t, "reaction")) {
		j->kind = JOB_REACTION;
		rc = submit_reaction(j, part, err);
	} else if (!strcmp(t, "delete")) {
		j->kind = JOB_DELETE;
		rc = submit_delete(j, part, err);
	} else if (!strcmp(t, "stream")) {
		j->kind = JOB_STREAM;
		rc = submit_stream(j, part, err);
	} else if (!strcmp(t, "room")) {
		j->kind = JOB_ROOM;
		rc = submit_room(j, part, err);
	} else {
		j->kind = JOB_POST;
		rc = submit_post(j, part, err);
	}
	if (rc < 0) {
		jv_free(j->ev);
		jv_free(j->cursor);
		jv_free(j->acc);
		jv_free(j->result);
		free(j);
	}
	return rc;
}

static int slack_idle(void *be)
{
	return bot_http_running(((struct slack *)be)->m) == 0;
}

/* ---- open and close ------------------------------------------------------ */

static void slack_close(void *be)
{
	struct slack *s = be;
	if (!s)
		return;
	s->closing = 1;
	drop_sockets(s);
	if (s->m)
		bot_http_cancel_all(s->m);   /* every job and download answers */
	bot_http_multi_free(s->m);
	while (s->inbox) {
		struct entry *e = s->inbox;
		s->inbox = e->next;
		jv_free(e->events);
		free(e);
	}
	free(s->acks);
	free(s->api);
	secret_free(s->app_token);
	secret_free(s->bot_token);
	jv_free(s->failure);
	jv_free(s->names);
	free(s);
}

static char *dup_or_null(const char *v)
{
	return v && *v ? strdup(v) : NULL;
}

static void *slack_open(const struct bot_config *cfg, struct bot_host *host, jv *err)
{
	struct slack *s = calloc(1, sizeof *s);
	if (!s) {
		*err = bot_fail("out of memory");
		return NULL;
	}
	s->host = host;
	s->failure = jv_null();
	s->names = jv_object();
	const char *api = bot_cfg_str(cfg, "slack-api");
	if (!api || !*api)
		api = SLACK_API_DEFAULT;
	if (strncmp(api, "http://", 7) && strncmp(api, "https://", 8)) {
		*err = bot_fail_code("bad_config", 0, "--slack-api must start with http:// or https://");
		goto fail;
	}
	s->api = strdup(api);
	size_t l = strlen(s->api);
	while (l && s->api[l - 1] == '/')
		s->api[--l] = 0;
	origin_of(s->api, s->api_origin, sizeof s->api_origin);
	s->app_token = dup_or_null(bot_cfg_str(cfg, "slack-app-token"));
	s->bot_token = dup_or_null(bot_cfg_str(cfg, "slack-bot-token"));
	if (!s->bot_token) {
		*err = bot_fail_code("bad_config", 0, "no bot token: set BOT_SLACK_BOT_TOKEN or BOT_SLACK_BOT_TOKEN_FILE");
		goto fail;
	}
	long ping = bot_cfg_int(cfg, "slack-ping", 30);
	s->ping_ms = (ping > 0 ? ping : 30) * 1000;
	long fmax = bot_cfg_int(cfg, "slack-file-max", 104857600L);
	s->file_max = fmax > 0 ? fmax : 104857600L;
	s->cafile = bot_cfg_str(cfg, "slack-cafile");
	const char *timeout = bot_cfg_str(cfg, "timeout");
	double secs = timeout ? strtod(timeout, NULL) : 0;
	if (secs > 0)
		s->timeout_ms = (long)(secs * 1000);
	if (!(s->m = bot_http_multi_new(err)))
		goto fail;
	bot_http_multi_set_cafile(s->m, s->cafile);
	return s;
fail:
	slack_close(s);
	return NULL;
}

const struct bot_backend bot_backend = {
	.size = sizeof(struct bot_backend),
	.abi = BOT_BACKEND_ABI,
	.name = "slack",
	.markup = "slack",
	.options = slack_options,
	.can = BOT_CAN_LISTEN | BOT_CAN_CARD | BOT_CAN_REACTION | BOT_CAN_STREAM | BOT_CAN_EDIT |
	       BOT_CAN_DELETE | BOT_CAN_ROOM | BOT_CAN_SESSION,
	.size_unit = BOT_UNIT_CHARS,
	.reaction_names = BOT_EMOJI_SLACK,
	.open = slack_open,
	.close = slack_close,
	.start = slack_start,
	.prepare = slack_prepare,
	.dispatch = slack_dispatch,
	.stop = slack_stop,
	.commit = slack_commit,
	.submit = slack_submit,
	.idle = slack_idle,
	.build_identifier = slack_build_identifier,
	.is_from_self = slack_is_from_self,
	.mention = slack_mention,
	.size_limit = slack_size_limit,
};
