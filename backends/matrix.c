/* matrix.c: the Matrix backend (client-server API v3), on the backend
 * interface ABI 2 (backend.h), every request on one libbothttp multi
 * handle inside the poll loop.  Unencrypted rooms only.
 *
 * Listening is /sync long polling.  The sync token (next_batch) is the
 * cursor: each batch's events are emitted with it as the mark on the last
 * one, and commit writes it to the state store only once they are
 * downstream, so a kill -9 re-reads a batch, never skips one.  Without a
 * token the first sync is the initial one: a filter keeps it small (a few
 * timeline events a room, no state, no presence), and its messages are
 * marked delayed (not dispatched).  A file in a batch is downloaded into
 * the spool before the events after it are emitted: the order holds.
 *
 * Every delivery is an op: at most three requests in a row (resolve a
 * room alias, upload a file, then the request itself).  A message is
 * PUT /rooms/{room}/send/m.room.message/{txnId} with the part's key as
 * txnId: a homeserver answers a repeated txnId with the first event, so
 * a retry after a timeout or a --flush after a crash never duplicates.
 *
 * Hostile input: everything in a sync answer is checked for its type
 * before use; strings go into events as jv strings, never into paths
 * unencoded (bot_http_url encodes every segment); a download's name is
 * made by the host's spool_path.  The token goes only into a header.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend.h"
#include "emoji.h"
#include "buf.h"
#include "failure.h"
#include "http.h"
#include "render.h"
#include "state.h"

#define MX_SIZE_LIMIT 16000          /* bytes of HTML a part (events: 64 KiB) */
#define MX_INITIAL_MAX (64u << 20)   /* the initial sync's answer */
#define MX_SYNC_MAX (32u << 20)      /* an incremental one's */
#define MX_TIMELINE_LIMIT 200        /* events a room in an incremental sync */
#define MX_REACTIONS_MAX 4096        /* reactions remembered (for their redaction) */
#define MX_ALIASES_MAX 1024          /* resolved aliases kept */
#define MX_CURSOR_MAX 4096

static const struct bot_option matrix_options[] = {
	{ "matrix-homeserver", 0, BOT_OPT_STR | BOT_OPT_IDENTITY, "URL", NULL,
	  "the homeserver's base URL (https://matrix.example.org)" },
	{ "matrix-user", 0, BOT_OPT_STR | BOT_OPT_IDENTITY, "@BOT:SERVER", NULL,
	  "the bot's user id (its own events are not dispatched)" },
	{ "matrix-token", 0, BOT_OPT_SECRET, "TOKEN", NULL,
	  "the access token (sent as Authorization: Bearer)" },
	{ "matrix-sync-timeout", 0, BOT_OPT_INT, "SECONDS", "30",
	  "how long one /sync may wait for events" },
	{ "matrix-initial-limit", 0, BOT_OPT_INT, "N", "5",
	  "timeline events a room in the initial sync (the backlog, marked delayed)" },
	{ "matrix-join-invites", 0, BOT_OPT_FLAG, NULL, NULL,
	  "join the rooms the bot is invited to" },
	{ "matrix-notice", 0, BOT_OPT_FLAG, NULL, NULL,
	  "send messages as m.notice (what bots send) rather than m.text" },
	{ "matrix-download-max", 0, BOT_OPT_INT, "BYTES", "52428800",
	  "the largest inbound file downloaded into the spool" },
	{ "matrix-cafile", 0, BOT_OPT_STR, "FILE", NULL,
	  "trust the certificates in FILE instead of the system's" },
	BOT_OPTIONS_END
};

struct op;

struct mx {
	struct bot_host *host;
	struct bot_http_multi *m;
	char base[512];              /* the homeserver, no trailing '/' */
	char user[256];              /* "" when not given */
	jv auth;                     /* ["Authorization: Bearer ..."] */
	long timeout_ms;             /* bot-send's --timeout, 0: libbothttp's */
	long sync_timeout_ms;
	int initial_limit, join_invites, notice;
	long long download_max;
	/* listening */
	int listening, up;
	int stopping;                /* stop or close: callbacks only clean up */
	char *before;                /* the token the batch being emitted was asked with */
	long sync_id, dl_id;         /* running transfers of the listener (0: none) */
	char *since;                 /* the next sync's token; NULL: initial */
	int initial;                 /* the batch being emitted is the initial sync */
	jv failure;                  /* why listening stopped, for dispatch */
	jv batch;                    /* items of the batch being emitted */
	int batch_pos;
	char *batch_mark;            /* its next_batch */
	char *emitted, *committed, *latest;   /* marks: last emitted, persisted, seen */
	jv reactions;                /* reaction event id -> {name, room, reacted_to} */
	jv reaction_ids;             /* their order, oldest first */
	jv aliases;                  /* "#alias:hs" -> "!room:hs" */
	struct op *ops;              /* deliveries in flight */
};

/* ---- small helpers ----------------------------------------------------- */

static char *dup_or_null(const char *s)
{
	if (!s)
		return NULL;
	char *d = strdup(s);
	if (!d)
		abort();
	return d;
}

static void set_str(char **slot, const char *s)
{
	free(*slot);
	*slot = dup_or_null(s);
}

static int kind_is(jv v, jv_kind k) { return jv_get_kind(v) == k; }

/* Look-only: obj.a.b... as a string, or NULL. */
static const char *str_at(jv obj, const char *a, const char *b)
{
	if (!kind_is(obj, JV_KIND_OBJECT))
		return NULL;
	if (!b)
		return bot_str(obj, a);
	jv inner = bot_get(obj, a);
	const char *s = kind_is(inner, JV_KIND_OBJECT) ? bot_str(inner, b) : NULL;
	jv_free(inner);   /* the string lives in obj, which holds inner */
	return s;
}

/* A Matrix user id: "@localpart:server", one line, bounded. */
static int user_id_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	return n >= 4 && n <= 255 && s[0] == '@' && strchr(s + 2, ':') && !bot_has_line_break(s, n) &&
	       !strchr(s, ' ');
}

/* A room id ("!opaque:server", or room v12's "!opaque") or alias ("#a:server"). */
static int room_ref_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n < 2 || n > 255 || bot_has_line_break(s, n) || strchr(s, ' '))
		return 0;
	return s[0] == '!' || (s[0] == '#' && strchr(s + 2, ':'));
}

static jv person_of(const char *user)
{
	const char *colon = strchr(user, ':');
	size_t n = colon ? (size_t)(colon - user - 1) : strlen(user) - 1;
	jv nick = jv_string_sized(user + 1, (int)n);
	jv p = bot_person(user, jv_string_value(nick));
	jv_free(nick);
	return p;
}

/* Someone in a room: an occupant whose id and person are their user id. */
static jv occupant_of(const char *room, const char *user)
{
	const char *colon = strchr(user, ':');
	size_t n = colon ? (size_t)(colon - user - 1) : strlen(user) - 1;
	jv nick = jv_string_sized(user + 1, (int)n);
	jv o = JV_OBJECT(jv_string("kind"), jv_string("occupant"), jv_string("id"), jv_string(user),
	                 jv_string("room"), jv_string(room), jv_string("nick"), nick,
	                 jv_string("person"), jv_string(user));
	return o;
}

/* The client API's URL for these segments (consumed) and query (consumed). */
static jv api_url(struct mx *c, jv segments, jv query)
{
	jv all = JV_ARRAY(jv_string("_matrix"), jv_string("client"), jv_string("v3"));
	all = jv_array_concat(all, segments);
	return bot_http_url(c->base, all, query);
}

/* ---- open and close ---------------------------------------------------- */

static void op_fail_all(struct mx *c, jv failure);

static void matrix_close(void *be)
{
	struct mx *c = be;
	if (!c)
		return;
	c->stopping = 1;
	if (c->m)
		bot_http_cancel_all(c->m);   /* every op's callback runs and answers */
	op_fail_all(c, bot_fail_code("connection_lost", 1, "the Matrix backend was closed"));
	bot_http_multi_free(c->m);
	jv_free(c->auth);
	jv_free(c->failure);
	jv_free(c->batch);
	jv_free(c->reactions);
	jv_free(c->reaction_ids);
	jv_free(c->aliases);
	free(c->since);
	free(c->before);
	free(c->batch_mark);
	free(c->emitted);
	free(c->committed);
	free(c->latest);
	free(c);
}

static int read_base(struct mx *c, const char *hs, jv *err)
{
	if (!hs || !*hs) {
		*err = bot_fail("no homeserver: set --matrix-homeserver (BOT_MATRIX_HOMESERVER)");
		return -1;
	}
	size_t n = strlen(hs);
	while (n && hs[n - 1] == '/')
		n--;
	if ((strncmp(hs, "http://", 7) && strncmp(hs, "https://", 8)) || n >= sizeof c->base ||
	    bot_has_line_break(hs, strlen(hs)) || strchr(hs, '?') || strchr(hs, '#')) {
		*err = bot_fail("--matrix-homeserver: expected http:// or https:// and a host");
		return -1;
	}
	memcpy(c->base, hs, n);
	c->base[n] = 0;
	return 0;
}

static void *matrix_open(const struct bot_config *cfg, struct bot_host *host, jv *err)
{
	struct mx *c = calloc(1, sizeof *c);
	if (!c)
		abort();
	c->host = host;
	c->auth = jv_null();
	c->failure = jv_null();
	c->batch = jv_array();
	c->reactions = jv_object();
	c->reaction_ids = jv_array();
	c->aliases = jv_object();
	if (read_base(c, bot_cfg_str(cfg, "matrix-homeserver"), err) < 0)
		goto fail;
	const char *user = bot_cfg_str(cfg, "matrix-user");
	if (user && *user && !user_id_ok(user)) {
		*err = bot_fail("--matrix-user: expected @name:server, got '%.64s'", user);
		goto fail;
	}
	snprintf(c->user, sizeof c->user, "%s", user ? user : "");
	const char *token = bot_cfg_str(cfg, "matrix-token");
	if (!token || !*token) {
		*err = bot_fail("no access token: set BOT_MATRIX_TOKEN or BOT_MATRIX_TOKEN_FILE");
		goto fail;
	}
	if (bot_has_line_break(token, strlen(token)) || strchr(token, ' ')) {
		*err = bot_fail("BOT_MATRIX_TOKEN: one word on one line expected");   /* never the value */
		goto fail;
	}
	c->auth = JV_ARRAY(jv_string_fmt("Authorization: Bearer %s", token));
	c->sync_timeout_ms = bot_cfg_int(cfg, "matrix-sync-timeout", 30) * 1000;
	if (c->sync_timeout_ms < 0 || c->sync_timeout_ms > 3600000) {
		*err = bot_fail("--matrix-sync-timeout: 0 to 3600 seconds");
		goto fail;
	}
	c->initial_limit = (int)bot_cfg_int(cfg, "matrix-initial-limit", 5);
	if (c->initial_limit < 0 || c->initial_limit > 1000) {
		*err = bot_fail("--matrix-initial-limit: 0 to 1000");
		goto fail;
	}
	c->download_max = bot_cfg_int(cfg, "matrix-download-max", 52428800);
	if (c->download_max < 0) {
		*err = bot_fail("--matrix-download-max: a size in bytes");
		goto fail;
	}
	c->join_invites = bot_cfg_flag(cfg, "matrix-join-invites");
	c->notice = bot_cfg_flag(cfg, "matrix-notice");
	const char *timeout = bot_cfg_str(cfg, "timeout");
	double secs = timeout ? strtod(timeout, NULL) : 0;
	if (secs > 0 && secs < 1e6)
		c->timeout_ms = (long)(secs * 1000);
	if (!(c->m = bot_http_multi_new(err)))
		goto fail;
	bot_http_multi_set_cafile(c->m, bot_cfg_str(cfg, "matrix-cafile"));
	return c;
fail:
	matrix_close(c);
	return NULL;
}

/* ---- the sync's events ------------------------------------------------- */

/* One item of a batch: {"emit": EVENT} or {"download": {...}}. */
static jv item_emit(jv ev) { return JV_OBJECT(jv_string("emit"), ev); }

/* A reply's body starts with the quoted fallback ("> <@a:hs> ...", then
 * an empty line): what follows is the reply. */
static jv strip_reply_fallback(const char *body)
{
	const char *p = body;
	if (strncmp(p, "> ", 2))
		return jv_string(body);
	while (*p == '>') {
		const char *nl = strchr(p, '\n');
		if (!nl)
			return jv_string(body);
		p = nl + 1;
	}
	if (*p == '\n')
		p++;
	return jv_string(p);
}

static void remember_reaction(struct mx *c, const char *id, jv what)
{
	if (jv_array_length(jv_copy(c->reaction_ids)) >= MX_REACTIONS_MAX) {
		jv old = jv_array_get(jv_copy(c->reaction_ids), 0);
		c->reactions = jv_object_delete(c->reactions, old);
		c->reaction_ids = jv_array_slice(c->reaction_ids, 1, MX_REACTIONS_MAX);
	}
	c->reactions = jv_object_set(c->reactions, jv_string(id), what);
	c->reaction_ids = jv_array_append(c->reaction_ids, jv_string(id));
}

static jv ts_of(jv e)
{
	jv ts = bot_get(e, "origin_server_ts");
	if (kind_is(ts, JV_KIND_NUMBER))
		return jv_number(jv_number_value(ts) / 1000.0);
	jv_free(ts);
	return jv_number((double)time(NULL));
}

/* The message's thread, as "parent" (errbot's threads): its root. */
static jv parent_of(jv rel)
{
	const char *rt = bot_str(rel, "rel_type");
	const char *root = bot_str(rel, "event_id");
	if (rt && !strcmp(rt, "m.thread") && root)
		return JV_OBJECT(jv_string("id"), jv_string(root));
	return jv_null();
}

/* m.file, m.image, m.audio, m.video: an mxc:// URL to download. */
static jv file_item(struct mx *c, const char *room, const char *sender, jv content)
{
	const char *url = bot_str(content, "url"), *name = bot_str(content, "body");
	const char *mime = str_at(content, "info", "mimetype");
	jv size = jv_null();
	jv info = bot_get(content, "info");
	if (kind_is(info, JV_KIND_OBJECT))
		size = bot_get(info, "size");
	jv_free(info);
	if (!url || strncmp(url, "mxc://", 6) || !strchr(url + 6, '/')) {
		jv_free(size);
		return jv_null();   /* encrypted files carry "file", not "url": not ours */
	}
	long long bytes = kind_is(size, JV_KIND_NUMBER) ? (long long)jv_number_value(size) : -1;
	jv_free(size);
	jv ev = bot_stream_event(occupant_of(room, sender), name ? name : "file", NULL, mime, bytes, 0,
	                         "pending");
	(void)c;
	return JV_OBJECT(jv_string("download"), JV_OBJECT(jv_string("mxc"), jv_string(url + 6),
	                                                 jv_string("event"), ev));
}

/* An m.room.message as a message (or a file to fetch). */
static jv message_item(struct mx *c, const char *room, const char *sender, jv e, jv content)
{
	const char *msgtype = bot_str(content, "msgtype");
	if (!msgtype)
		return jv_null();   /* redacted: no content left */
	jv rel = bot_get(content, "m.relates_to");
	const char *rt = bot_str(rel, "rel_type");
	int edit = rt && !strcmp(rt, "m.replace") && bot_str(rel, "event_id");
	jv shown = edit ? bot_get(content, "m.new_content") : jv_copy(content);
	if (!kind_is(shown, JV_KIND_OBJECT) || !bot_str(shown, "msgtype")) {
		jv_free(shown);
		shown = jv_copy(content);
	}
	const char *type = bot_str(shown, "msgtype"), *body = bot_str(shown, "body");
	jv out = jv_null();
	if (!strcmp(type, "m.file") || !strcmp(type, "m.image") || !strcmp(type, "m.audio") ||
	    !strcmp(type, "m.video")) {
		out = c->initial || edit ? jv_null() : file_item(c, room, sender, shown);
	} else if ((!strcmp(type, "m.text") || !strcmp(type, "m.notice") || !strcmp(type, "m.emote")) && body) {
		jv parent = parent_of(rel);
		/* a reply outside threads: what it answers, its quote removed */
		const char *answers = kind_is(parent, JV_KIND_NULL) ? str_at(rel, "m.in_reply_to", "event_id") : NULL;
		jv text = answers && !edit ? strip_reply_fallback(body) : jv_string(body);
		jv msg = bot_message(occupant_of(room, sender), bot_room(room), jv_string_value(text));
		jv_free(text);
		const char *id = bot_str(e, "event_id");
		if (id)
			msg = jv_object_set(msg, jv_string("id"), jv_string(id));
		msg = jv_object_set(msg, jv_string("ts"), ts_of(e));
		if (!kind_is(parent, JV_KIND_NULL))
			msg = jv_object_set(msg, jv_string("parent"), parent);
		else
			jv_free(parent);
		if (edit)
			msg = jv_object_set(msg, jv_string("replaces"), jv_string(bot_str(rel, "event_id")));
		if (c->initial)
			msg = jv_object_set(msg, jv_string("delayed"), jv_true());
		jv extras = jv_object();
		if (strcmp(type, "m.text"))
			extras = jv_object_set(extras, jv_string(!strcmp(type, "m.emote") ? "action" : "notice"),
			                       jv_true());
		if (answers)
			extras = jv_object_set(extras, jv_string("reply_to"), jv_string(answers));
		if (jv_object_length(jv_copy(extras)) > 0)
			msg = jv_object_set(msg, jv_string("extras"), extras);
		else
			jv_free(extras);
		out = item_emit(msg);
	}
	jv_free(shown);
	jv_free(rel);
	return out;
}

static jv reaction_item(struct mx *c, const char *room, const char *sender, jv e, jv content)
{
	jv rel = bot_get(content, "m.relates_to");
	const char *rt = bot_str(rel, "rel_type"), *target = bot_str(rel, "event_id");
	const char *key = bot_str(rel, "key"), *id = bot_str(e, "event_id");
	jv out = jv_null();
	if (rt && !strcmp(rt, "m.annotation") && target && key && !c->initial) {
		jv reacted = JV_OBJECT(jv_string("id"), jv_string(target), jv_string("to"), bot_room(room));
		if (id)
			remember_reaction(c, id, JV_OBJECT(jv_string("name"), jv_string(key),
			                                    jv_string("reacted_to"), jv_copy(reacted)));
		jv ev = bot_reaction_event(occupant_of(room, sender), "added", key, reacted, NULL);
		if (id)
			ev = jv_object_set(ev, jv_string("id"), jv_string(id));
		out = item_emit(ev);
	}
	jv_free(rel);
	return out;
}

/* A redaction: a reaction we saw taken back, or a message deleted. */
static jv redaction_item(struct mx *c, const char *room, const char *sender, jv e, jv content)
{
	const char *redacts = bot_str(e, "redacts");   /* room versions before 11 */
	if (!redacts)
		redacts = bot_str(content, "redacts");
	if (!redacts || c->initial)
		return jv_null();
	jv known = bot_get(c->reactions, redacts);
	if (kind_is(known, JV_KIND_OBJECT)) {
		jv ev = bot_reaction_event(occupant_of(room, sender), "removed", bot_str(known, "name"),
		                           bot_get(known, "reacted_to"), NULL);
		c->reactions = jv_object_delete(c->reactions, jv_string(redacts));
		jv_free(known);
		return item_emit(ev);
	}
	jv_free(known);
	jv ev = JV_OBJECT(jv_string("type"), jv_string("delete"), jv_string("deletes"), jv_string(redacts),
	                  jv_string("to"), bot_room(room), jv_string("from"), occupant_of(room, sender));
	const char *id = bot_str(e, "event_id");
	if (id)
		ev = jv_object_set(ev, jv_string("id"), jv_string(id));
	return item_emit(ev);
}

/* m.room.member: joins and leaves (a profile change is neither). */
static jv member_item(struct mx *c, const char *room, jv e, jv content)
{
	const char *who = bot_str(e, "state_key"), *ms = bot_str(content, "membership");
	const char *before = NULL;
	jv unsig = bot_get(e, "unsigned");
	jv prev = kind_is(unsig, JV_KIND_OBJECT) ? bot_get(unsig, "prev_content") : jv_null();
	before = kind_is(prev, JV_KIND_OBJECT) ? bot_str(prev, "membership") : NULL;
	int was_in = before && !strcmp(before, "join");
	const char *action = NULL;
	if (ms && !strcmp(ms, "join") && !was_in)
		action = "joined";
	else if (ms && (!strcmp(ms, "leave") || !strcmp(ms, "ban")) && was_in)
		action = "left";
	jv out = jv_null();
	if (action && who && user_id_ok(who) && !c->initial) {
		jv ev = bot_room_event(action, bot_room(room));
		ev = jv_object_set(ev, jv_string("occupant"), occupant_of(room, who));
		const char *reason = bot_str(content, "reason");
		if (reason)
			ev = jv_object_set(ev, jv_string("message"), jv_string(reason));
		out = item_emit(ev);
	}
	jv_free(prev);
	jv_free(unsig);
	return out;
}

static jv timeline_item(struct mx *c, const char *room, jv e)
{
	const char *type = bot_str(e, "type"), *sender = bot_str(e, "sender");
	if (!type || !sender || !user_id_ok(sender))
		return jv_null();
	jv content = bot_get(e, "content");
	jv out = jv_null();
	if (!kind_is(content, JV_KIND_OBJECT))
		;
	else if (!strcmp(type, "m.room.message"))
		out = message_item(c, room, sender, e, content);
	else if (!strcmp(type, "m.reaction"))
		out = reaction_item(c, room, sender, e, content);
	else if (!strcmp(type, "m.room.redaction"))
		out = redaction_item(c, room, sender, e, content);
	else if (!strcmp(type, "m.room.member"))
		out = member_item(c, room, e, content);
	else if (!strcmp(type, "m.room.topic") && bot_str(content, "topic") && !c->initial) {
		jv ev = bot_room_event("topic", bot_room(room));
		out = item_emit(jv_object_set(ev, jv_string("topic"), jv_string(bot_str(content, "topic"))));
	}
	/* m.room.encrypted and the rest: not for an unencrypted bot */
	jv_free(content);
	return out;
}

static jv add_item(jv items, jv item)
{
	if (kind_is(item, JV_KIND_NULL)) {
		jv_free(item);
		return items;
	}
	return jv_array_append(items, item);
}

/* Invites: a room event each, and a join when that is configured. */
static jv invite_items(struct mx *c, jv invites, jv items, jv *joins)
{
	if (!kind_is(invites, JV_KIND_OBJECT))
		return items;
	jv_object_foreach(invites, room, r) {
		const char *rid = jv_string_value(room);
		if (room_ref_ok(rid) && rid[0] == '!' && !c->initial) {
			jv ev = bot_room_event("invite", bot_room(rid));
			jv st = bot_get(r, "invite_state");
			jv evs = kind_is(st, JV_KIND_OBJECT) ? bot_get(st, "events") : jv_null();
			if (kind_is(evs, JV_KIND_ARRAY))
				jv_array_foreach(evs, i, s) {
					const char *t = bot_str(s, "type"), *sk = bot_str(s, "state_key");
					const char *from = bot_str(s, "sender");
					if (t && !strcmp(t, "m.room.member") && sk && !strcmp(sk, c->user) && from &&
					    user_id_ok(from))
						ev = jv_object_set(ev, jv_string("identifier"), person_of(from));
					jv_free(s);
					(void)i;
				}
			jv_free(evs);
			jv_free(st);
			items = jv_array_append(items, item_emit(ev));
			if (c->join_invites)
				*joins = jv_array_append(*joins, jv_string(rid));
		}
		jv_free(room);
		jv_free(r);
	}
	return items;
}

static jv room_timeline_items(struct mx *c, jv rooms, jv items)
{
	if (!kind_is(rooms, JV_KIND_OBJECT))
		return items;
	jv_object_foreach(rooms, room, r) {
		const char *rid = jv_string_value(room);
		jv tl = kind_is(r, JV_KIND_OBJECT) ? bot_get(r, "timeline") : jv_null();
		jv evs = kind_is(tl, JV_KIND_OBJECT) ? bot_get(tl, "events") : jv_null();
		if (room_ref_ok(rid) && rid[0] == '!' && kind_is(evs, JV_KIND_ARRAY)) {
			if (!c->initial && bot_true(tl, "limited"))
				bot_warn("matrix: %.64s: the server left out events (a gap in the timeline)", rid);
			jv_array_foreach(evs, i, e) {
				if (kind_is(e, JV_KIND_OBJECT))
					items = add_item(items, timeline_item(c, rid, e));
				jv_free(e);
				(void)i;
			}
		}
		jv_free(evs);
		jv_free(tl);
		jv_free(room);
		jv_free(r);
	}
	return items;
}

static jv presence_items(struct mx *c, jv body, jv items)
{
	jv pr = bot_get(body, "presence");
	jv evs = kind_is(pr, JV_KIND_OBJECT) ? bot_get(pr, "events") : jv_null();
	if (kind_is(evs, JV_KIND_ARRAY) && !c->initial)
		jv_array_foreach(evs, i, e) {
			const char *sender = bot_str(e, "sender"), *t = bot_str(e, "type");
			const char *p = str_at(e, "content", "presence");
			const char *msg = str_at(e, "content", "status_msg");
			if (t && !strcmp(t, "m.presence") && sender && user_id_ok(sender) && p) {
				const char *status = !strcmp(p, "unavailable") ? "away" : p;
				items = jv_array_append(items, item_emit(bot_presence_event(person_of(sender), status, msg)));
			}
			jv_free(e);
			(void)i;
		}
	jv_free(evs);
	jv_free(pr);
	return items;
}

/* Every item of a sync answer (look-only), in order: presence, joined
 * rooms' timelines, left rooms' timelines, invites.  Rooms to join go to
 * *joins (an array). */
static jv sync_items(struct mx *c, jv body, jv *joins)
{
	jv items = jv_array();
	if (!kind_is(body, JV_KIND_OBJECT))
		return items;
	jv rooms = bot_get(body, "rooms");
	if (kind_is(rooms, JV_KIND_OBJECT)) {
		jv join = bot_get(rooms, "join"), leave = bot_get(rooms, "leave"), invite = bot_get(rooms, "invite");
		items = room_timeline_items(c, join, items);
		items = room_timeline_items(c, leave, items);
		items = invite_items(c, invite, items, joins);
		jv_free(join);
		jv_free(leave);
		jv_free(invite);
	}
	jv_free(rooms);
	return presence_items(c, body, items);
}

/* ---- the cursor -------------------------------------------------------- */

static void persist(struct mx *c, const char *mark)
{
	if (c->committed && !strcmp(c->committed, mark))
		return;
	jv err = jv_invalid();
	const char *dir = c->host && c->host->state_dir ? c->host->state_dir(c->host, &err) : NULL;
	if (!dir || bot_state_put(dir, "cursor", mark, strlen(mark), &err) < 0) {
		char why[512];
		bot_warn("matrix: the sync token is not saved: %s", bot_fail_message(err, why, sizeof why));
		jv_free(err);
		return;
	}
	jv_free(err);
	set_str(&c->committed, mark);
}

static void matrix_commit(void *be, jv mark)
{
	struct mx *c = be;
	if (!kind_is(mark, JV_KIND_STRING))
		return;
	const char *m = jv_string_value(mark);
	/* the last mark emitted is downstream: so are the empty batches after it */
	if (c->emitted && !strcmp(m, c->emitted) && c->latest)
		persist(c, c->latest);
	else
		persist(c, m);
}

/* A batch with nothing to emit: its token is saved now when everything
 * before it is downstream, else with the last mark's commit. */
static void empty_batch(struct mx *c, const char *next)
{
	set_str(&c->latest, next);
	if (!c->emitted || (c->committed && !strcmp(c->committed, c->emitted)))
		persist(c, next);
}

/* ---- listening: /sync, the batch, downloads ---------------------------- */

static void sync_start(struct mx *c);
static void batch_run(struct mx *c);

static void listen_failed(struct mx *c, jv failure)
{
	if (kind_is(c->failure, JV_KIND_NULL)) {
		jv_free(c->failure);
		c->failure = failure;
	} else
		jv_free(failure);
}

static void join_room_quietly(struct mx *c, const char *room);

static void synced(void *ud, const struct bot_http_done *d)
{
	struct mx *c = ud;
	c->sync_id = 0;
	if (c->stopping)
		return;
	if (!kind_is(d->fail, JV_KIND_NULL)) {
		listen_failed(c, jv_copy(d->fail));
		return;
	}
	const char *next = bot_str(d->body, "next_batch");
	if (!next || strlen(next) > MX_CURSOR_MAX || bot_has_line_break(next, strlen(next))) {
		listen_failed(c, bot_fail_code("send_failed", 1, "matrix: /sync answered without next_batch"));
		return;
	}
	if (!c->up) {
		c->up = 1;
		c->host->up(c->host);
	}
	c->initial = !c->since;
	jv joins = jv_array();
	jv items = sync_items(c, d->body, &joins);
	jv_array_foreach(joins, i, r) {
		join_room_quietly(c, jv_string_value(r));
		jv_free(r);
		(void)i;
	}
	jv_free(joins);
	set_str(&c->before, c->since);
	set_str(&c->since, next);
	if (jv_array_length(jv_copy(items)) == 0) {
		jv_free(items);
		empty_batch(c, next);
		return;
	}
	jv_free(c->batch);
	c->batch = items;
	c->batch_pos = 0;
	set_str(&c->batch_mark, next);
	batch_run(c);
}

static jv sync_filter(struct mx *c, int initial)
{
	jv none = JV_OBJECT(jv_string("not_types"), JV_ARRAY(jv_string("*")));
	jv timeline = JV_OBJECT(jv_string("limit"), jv_number(initial ? c->initial_limit : MX_TIMELINE_LIMIT));
	jv room = JV_OBJECT(jv_string("timeline"), timeline, jv_string("state"), jv_copy(none),
	                    jv_string("ephemeral"), jv_copy(none), jv_string("account_data"), jv_copy(none));
	jv f = JV_OBJECT(jv_string("room"), room, jv_string("account_data"), jv_copy(none));
	if (initial)
		f = jv_object_set(f, jv_string("presence"), jv_copy(none));
	jv_free(none);
	return jv_dump_string(f, 0);
}

static void sync_start(struct mx *c)
{
	if (c->sync_id || !kind_is(c->failure, JV_KIND_NULL))
		return;
	int initial = !c->since;
	jv q = JV_OBJECT(jv_string("filter"), sync_filter(c, initial),
	                 jv_string("timeout"), jv_number(initial ? 0 : (double)c->sync_timeout_ms));
	if (c->since)
		q = jv_object_set(q, jv_string("since"), jv_string(c->since));
	jv url = api_url(c, JV_ARRAY(jv_string("sync")), q);
	struct bot_http_req req = {
		.url = jv_string_value(url), .headers = jv_copy(c->auth),
		/* the long poll's own wait, and time for the answer after it */
		.timeout_ms = c->sync_timeout_ms + 30000,
		.response_max = initial ? MX_INITIAL_MAX : MX_SYNC_MAX,
	};
	jv err = jv_invalid();
	c->sync_id = bot_http_start(c->m, &req, synced, c, &err);
	jv_free(url);
	if (c->sync_id < 0) {
		c->sync_id = 0;
		listen_failed(c, err);
	} else
		jv_free(err);
}

static void emit_item(struct mx *c, jv ev)
{
	int last = c->batch_pos == jv_array_length(jv_copy(c->batch));
	jv mark = last ? jv_string(c->batch_mark) : jv_null();
	if (last) {
		set_str(&c->emitted, c->batch_mark);
		set_str(&c->latest, c->batch_mark);
	}
	c->host->emit(c->host, ev, mark);
}

static void downloaded(void *ud, const struct bot_http_done *d);

/* "server/id" of an mxc URL: the two segments, checked. */
static int mxc_parts(const char *mxc, jv *server, jv *id)
{
	const char *slash = strchr(mxc, '/');
	if (!slash || slash == mxc || !slash[1] || strchr(slash + 1, '/') || strlen(mxc) > 512)
		return -1;
	*server = jv_string_sized(mxc, (int)(slash - mxc));
	*id = jv_string(slash + 1);
	return 0;
}

/* Start fetching an inbound file: the authenticated media API first,
 * the old unauthenticated one (v3) when the server has no v1. */
static int download_start(struct mx *c, jv dl, int old_api)
{
	jv ev = bot_get(dl, "event");
	const char *name = bot_str(ev, "name");
	jv err = jv_invalid(), server, id;
	int rc = -1;
	if (mxc_parts(bot_str(dl, "mxc"), &server, &id) < 0) {
		jv_free(ev);
		jv_free(err);
		jv_free(dl);
		return -1;
	}
	char path[4096];
	if (c->host->spool_path(c->host, name, path, sizeof path, &err) == 0) {
		jv segs = old_api ? JV_ARRAY(jv_string("_matrix"), jv_string("media"), jv_string("v3"),
		                             jv_string("download"), server, id)
		                  : JV_ARRAY(jv_string("_matrix"), jv_string("client"), jv_string("v1"),
		                             jv_string("media"), jv_string("download"), server, id);
		jv url = bot_http_url(c->base, segs, jv_null());
		struct bot_http_req req = { .url = jv_string_value(url), .headers = jv_copy(c->auth),
		                            .download_path = path,
		                            .download_max = (size_t)c->download_max,
		                            .timeout_ms = 300000 };
		c->dl_id = bot_http_start(c->m, &req, downloaded, c, &err);
		jv_free(url);
		if (c->dl_id > 0) {
			rc = 0;
			c->batch = jv_array_set(c->batch, c->batch_pos - 1,
			                        jv_object_set(jv_copy(dl), jv_string("path"), jv_string(path)));
		} else
			c->dl_id = 0;
	} else {
		jv_free(server);
		jv_free(id);
	}
	if (rc < 0) {
		char why[512];
		bot_warn("matrix: a file is not downloaded: %s", bot_fail_message(err, why, sizeof why));
	}
	jv_free(err);
	jv_free(ev);
	jv_free(dl);
	return rc;
}

static void downloaded(void *ud, const struct bot_http_done *d)
{
	struct mx *c = ud;
	c->dl_id = 0;
	if (c->stopping)
		return;
	jv dl = jv_array_get(jv_copy(c->batch), c->batch_pos - 1);
	if (!kind_is(d->fail, JV_KIND_NULL) && (d->status == 404 || d->status == 400) && !bot_true(dl, "old")) {
		/* a server without authenticated media: the v3 path */
		c->batch = jv_array_set(c->batch, c->batch_pos - 1,
		                        jv_object_set(jv_copy(dl), jv_string("old"), jv_true()));
		int rc = download_start(c, jv_object_set(dl, jv_string("old"), jv_true()), 1);
		if (rc == 0)
			return;
		dl = jv_array_get(jv_copy(c->batch), c->batch_pos - 1);
	}
	jv ev = bot_get(dl, "event");
	if (kind_is(d->fail, JV_KIND_NULL) && d->file) {
		ev = jv_object_set(ev, jv_string("path"), jv_string(d->file));
		ev = jv_object_set(ev, jv_string("status"), jv_string("success"));
	} else {
		char why[512];
		bot_warn("matrix: a file is not downloaded: %s", bot_fail_message(d->fail, why, sizeof why));
		ev = jv_object_set(ev, jv_string("status"), jv_string("error"));
	}
	jv_free(dl);
	emit_item(c, ev);
	batch_run(c);
}

/* Emit the batch's items in order; a download holds the rest until it ends. */
static void batch_run(struct mx *c)
{
	while (!c->dl_id && c->batch_pos < jv_array_length(jv_copy(c->batch))) {
		jv item = jv_array_get(jv_copy(c->batch), c->batch_pos++);
		jv ev = bot_get(item, "emit");
		if (kind_is(ev, JV_KIND_OBJECT)) {
			emit_item(c, ev);
		} else {
			jv_free(ev);
			jv dl = bot_get(item, "download");
			if (download_start(c, jv_copy(dl), 0) < 0) {
				jv sev = bot_get(dl, "event");
				emit_item(c, jv_object_set(sev, jv_string("status"), jv_string("error")));
			}
			jv_free(dl);
		}
		jv_free(item);
	}
}

static int batch_done(struct mx *c)
{
	return !c->dl_id && c->batch_pos >= jv_array_length(jv_copy(c->batch));
}

static int matrix_start(void *be, jv *err)
{
	struct mx *c = be;
	if (!c->user[0]) {
		*err = bot_fail("--matrix-user: the bot's user id (@bot:server) is needed to listen");
		return -1;
	}
	c->listening = 1;
	c->up = 0;
	jv_free(c->failure);
	c->failure = jv_null();
	if (!c->since) {
		jv e = jv_invalid();
		const char *dir = c->host->state_dir(c->host, &e);
		jv saved = dir ? bot_state_get(dir, "cursor", MX_CURSOR_MAX) : jv_null();
		if (!dir || !jv_is_valid(saved)) {
			if (!dir)
				*err = e;
			else {
				jv_free(e);
				*err = saved;
			}
			return -1;
		}
		jv_free(e);
		if (kind_is(saved, JV_KIND_STRING) && jv_string_length_bytes(jv_copy(saved)) > 0) {
			set_str(&c->since, jv_string_value(saved));
			set_str(&c->committed, jv_string_value(saved));
		}
		jv_free(saved);
	}
	sync_start(c);
	return 0;
}

static void matrix_stop(void *be)
{
	struct mx *c = be;
	c->listening = 0;
	c->stopping = 1;
	if (c->sync_id)
		bot_http_cancel(c->m, c->sync_id);
	if (c->dl_id)
		bot_http_cancel(c->m, c->dl_id);
	c->stopping = 0;
	c->sync_id = c->dl_id = 0;
	/* a batch cut short is asked for again, with the token it came for */
	if (!batch_done(c))
		set_str(&c->since, c->before);
	jv_free(c->batch);
	c->batch = jv_array();
	c->batch_pos = 0;
	jv_free(c->failure);
	c->failure = jv_null();
}

static void matrix_prepare(void *be, struct bot_poll *p)
{
	struct mx *c = be;
	if (!kind_is(c->failure, JV_KIND_NULL))
		bot_poll_deadline(p, bot_now_ms());   /* dispatch says so */
	bot_http_multi_prepare(c->m, p);
}

static int matrix_dispatch(void *be, const struct bot_poll *p, jv *err)
{
	struct mx *c = be;
	bot_http_multi_dispatch(c->m, p);
	if (c->listening && !kind_is(c->failure, JV_KIND_NULL)) {
		*err = c->failure;
		c->failure = jv_null();
		c->listening = 0;
		return -1;
	}
	/* the next long poll, once the batch is out and the reader keeps up */
	if (c->listening && !c->sync_id && batch_done(c) && !c->host->lagging(c->host))
		sync_start(c);
	return 0;
}

/* ---- deliveries -------------------------------------------------------- */

enum op_step { OP_RESOLVE, OP_UPLOAD, OP_SEND, OP_EXTRA };

struct op {
	struct op *next;
	struct mx *c;
	bot_done_fn done;
	void *ctx;
	jv ev;              /* the part's event */
	jv content;         /* what a send carries */
	char kind[16];      /* message, card, reaction, stream, delete, presence, room */
	char action[16];    /* a room operation */
	char room[256];     /* the room id (an alias until resolved) */
	char key[256];      /* the txnId */
	char mention[256];
	long id;
	int step;
	jv got;             /* room operations: what earlier steps found */
};

static void op_free(struct op *o)
{
	struct mx *c = o->c;
	for (struct op **pp = &c->ops; *pp; pp = &(*pp)->next)
		if (*pp == o) {
			*pp = o->next;
			break;
		}
	jv_free(o->ev);
	jv_free(o->content);
	jv_free(o->got);
	free(o);
}

static void op_end(struct op *o, jv result)
{
	if (o->c->stopping && !jv_is_valid(result)) {
		jv_free(result);
		result = bot_fail_code("connection_lost", 1, "the Matrix backend was closed");
	}
	bot_done_fn done = o->done;
	void *ctx = o->ctx;
	op_free(o);
	done(ctx, result);
}

static void op_fail_all(struct mx *c, jv failure)
{
	while (c->ops)
		op_end(c->ops, jv_copy(failure));
	jv_free(failure);
}

static void op_next(struct op *o);

/* A failure from the homeserver: its errcode and error in the message. */
static jv server_failure(const struct bot_http_done *d, const char *what)
{
	const char *code = bot_str(d->body, "errcode"), *error = bot_str(d->body, "error");
	if (!code)
		return jv_copy(d->fail);
	char why[512];
	bot_fail_message(d->fail, why, sizeof why);
	jv msg = jv_invalid_get_msg(jv_copy(d->fail));
	jv text = jv_string_fmt("%s: %s%s%.200s (%s)", what, code, error ? ": " : "", error ? error : "", why);
	if (kind_is(msg, JV_KIND_OBJECT)) {
		msg = jv_object_set(msg, jv_string("message"), text);
		return jv_invalid_with_msg(msg);
	}
	jv_free(msg);
	jv f = bot_fail_code("send_failed", 0, "%s", jv_string_value(text));
	jv_free(text);
	return f;
}

static void op_request(struct op *o, const char *method, jv url, jv json, bot_http_done_fn *cb)
{
	struct mx *c = o->c;
	struct bot_http_req req = { .method = method, .url = jv_string_value(url), .headers = jv_copy(c->auth),
	                            .json = json, .timeout_ms = c->timeout_ms,
	                            .connect_timeout_ms = c->timeout_ms };
	jv err = jv_invalid();
	o->id = bot_http_start(c->m, &req, cb, o, &err);
	jv_free(url);
	if (o->id < 0)
		op_end(o, err);
	else
		jv_free(err);
}

/* -- resolving an alias -- */

static void resolved(void *ud, const struct bot_http_done *d)
{
	struct op *o = ud;
	struct mx *c = o->c;
	const char *rid = bot_str(d->body, "room_id");
	if (!kind_is(d->fail, JV_KIND_NULL)) {
		op_end(o, d->status == 404 ? bot_fail_code("room_does_not_exist", 0, "%s: no such room alias", o->room)
		                           : server_failure(d, o->room));
		return;
	}
	if (!rid || !room_ref_ok(rid) || rid[0] != '!') {
		op_end(o, bot_fail_code("send_failed", 1, "%s: the alias resolved to no room id", o->room));
		return;
	}
	if (jv_object_length(jv_copy(c->aliases)) >= MX_ALIASES_MAX) {
		jv_free(c->aliases);
		c->aliases = jv_object();
	}
	c->aliases = jv_object_set(c->aliases, jv_string(o->room), jv_string(rid));
	snprintf(o->room, sizeof o->room, "%s", rid);
	o->step = OP_UPLOAD;
	op_next(o);
}

/* An alias becomes its room id, from the cache or the directory. */
static int resolve(struct op *o)
{
	if (o->room[0] != '#')
		return 0;
	jv known = bot_get(o->c->aliases, o->room);
	if (kind_is(known, JV_KIND_STRING)) {
		snprintf(o->room, sizeof o->room, "%s", jv_string_value(known));
		jv_free(known);
		return 0;
	}
	jv_free(known);
	op_request(o, "GET", api_url(o->c, JV_ARRAY(jv_string("directory"), jv_string("room"),
	                                            jv_string(o->room)), jv_null()),
	           jv_null(), resolved);
	return 1;
}

/* -- messages, cards, files -- */

static void sent(void *ud, const struct bot_http_done *d)
{
	struct op *o = ud;
	if (!kind_is(d->fail, JV_KIND_NULL)) {
		jv f = server_failure(d, o->room);
		const char *code = bot_str(d->body, "errcode");
		/* a card too large for one event: the card template splits it */
		if (!strcmp(o->kind, "card") && code && !strcmp(code, "M_TOO_LARGE")) {
			jv_free(f);
			f = bot_fail_code("unsupported", 0, "the card is larger than a Matrix event");
		}
		op_end(o, f);
		return;
	}
	const char *id = bot_str(d->body, "event_id");
	op_end(o, JV_OBJECT(jv_string("id"), id ? jv_string(id) : jv_null()));
}

static void send_event(struct op *o, const char *type, jv content)
{
	jv url = api_url(o->c, JV_ARRAY(jv_string("rooms"), jv_string(o->room), jv_string("send"),
	                                jv_string(type), jv_string(o->key)), jv_null());
	op_request(o, "PUT", url, content, sent);
}

static void uploaded(void *ud, const struct bot_http_done *d)
{
	struct op *o = ud;
	const char *uri = bot_str(d->body, "content_uri");
	if (!kind_is(d->fail, JV_KIND_NULL)) {
		op_end(o, server_failure(d, "upload"));
		return;
	}
	if (!uri || strncmp(uri, "mxc://", 6)) {
		op_end(o, bot_fail_code("send_failed", 1, "upload: no content_uri in the answer"));
		return;
	}
	o->content = jv_object_set(o->content, jv_string("url"), jv_string(uri));
	o->step = OP_SEND;
	op_next(o);
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

static void upload_start(struct op *o)
{
	struct mx *c = o->c;
	const char *path = bot_str(o->ev, "path"), *mime = bot_str(o->ev, "stream_type");
	const char *name = bot_str(o->ev, "name") ? bot_str(o->ev, "name") : base_name(path);
	if (!mime || !*mime || bot_has_line_break(mime, strlen(mime)))
		mime = "application/octet-stream";
	jv url = bot_http_url(c->base, JV_ARRAY(jv_string("_matrix"), jv_string("media"), jv_string("v3"),
	                                        jv_string("upload")),
	                      JV_OBJECT(jv_string("filename"), jv_string(name)));
	jv type = jv_string_fmt("%s", mime);
	struct bot_http_req req = { .method = "POST", .url = jv_string_value(url), .headers = jv_copy(c->auth),
	                            .upload_path = path, .upload_raw = 1, .content_type = jv_string_value(type),
	                            .timeout_ms = c->timeout_ms ? c->timeout_ms : 300000,
	                            .connect_timeout_ms = c->timeout_ms };
	jv err = jv_invalid();
	o->id = bot_http_start(c->m, &req, uploaded, o, &err);
	jv_free(url);
	jv_free(type);
	if (o->id < 0)
		op_end(o, err);
	else
		jv_free(err);
}

/* -- reactions and deletions -- */

/* Our reaction with this key among the target's annotations: redact it. */
static void relations_found(void *ud, const struct bot_http_done *d)
{
	struct op *o = ud;
	if (!kind_is(d->fail, JV_KIND_NULL)) {
		op_end(o, server_failure(d, o->room));
		return;
	}
	const char *key = bot_str(o->ev, "reaction_name");
	jv chunk = bot_get(d->body, "chunk");
	jv found = jv_null();
	if (kind_is(chunk, JV_KIND_ARRAY))
		jv_array_foreach(chunk, i, e) {
			const char *sender = bot_str(e, "sender"), *id = bot_str(e, "event_id");
			jv rel = bot_get(e, "content");
			jv r = kind_is(rel, JV_KIND_OBJECT) ? bot_get(rel, "m.relates_to") : jv_null();
			const char *k = bot_str(r, "key");
			if (kind_is(found, JV_KIND_NULL) && sender && !strcmp(sender, o->c->user) && id && k && key &&
			    !strcmp(k, key)) {
				jv_free(found);
				found = jv_string(id);
			}
			jv_free(r);
			jv_free(rel);
			jv_free(e);
			(void)i;
		}
	jv_free(chunk);
	if (!kind_is(found, JV_KIND_STRING)) {
		jv_free(found);
		op_end(o, JV_OBJECT(jv_string("id"), jv_null()));   /* nothing of ours to take back */
		return;
	}
	jv url = api_url(o->c, JV_ARRAY(jv_string("rooms"), jv_string(o->room), jv_string("redact"),
	                                found, jv_string(o->key)), jv_null());
	op_request(o, "PUT", url, jv_object(), sent);
}

static void reaction_send(struct op *o)
{
	jv target = bot_get(o->ev, "reacted_to");
	const char *tid = bot_str(target, "id"), *key = bot_str(o->ev, "reaction_name");
	const char *action = bot_str(o->ev, "action");
	if (!tid || !key || !*key) {
		jv_free(target);
		op_end(o, bot_fail_code("bad_input", 0, "reaction: reacted_to.id and reaction_name expected"));
		return;
	}
	if (action && !strcmp(action, "removed")) {
		if (!o->c->user[0]) {
			jv_free(target);
			op_end(o, bot_fail_code("bad_input", 0, "taking a reaction back needs --matrix-user"));
			return;
		}
		jv url = api_url(o->c, JV_ARRAY(jv_string("rooms"), jv_string(o->room), jv_string("relations"),
		                                jv_string(tid), jv_string("m.annotation"), jv_string("m.reaction")),
		                 JV_OBJECT(jv_string("limit"), jv_number(100)));
		jv_free(target);
		op_request(o, "GET", url, jv_null(), relations_found);
		return;
	}
	jv content = JV_OBJECT(jv_string("m.relates_to"),
	                       JV_OBJECT(jv_string("rel_type"), jv_string("m.annotation"),
	                                 jv_string("event_id"), jv_string(tid), jv_string("key"), jv_string(key)));
	jv_free(target);
	send_event(o, "m.reaction", content);
}

static void delete_send(struct op *o)
{
	const char *what = bot_str(o->ev, "deletes");
	if (!what || !*what) {
		op_end(o, bot_fail_code("bad_input", 0, "delete: \"deletes\" (an event id) expected"));
		return;
	}
	jv url = api_url(o->c, JV_ARRAY(jv_string("rooms"), jv_string(o->room), jv_string("redact"),
	                                jv_string(what), jv_string(o->key)), jv_null());
	op_request(o, "PUT", url, jv_object(), sent);
}

static void presence_done(void *ud, const struct bot_http_done *d)
{
	struct op *o = ud;
	op_end(o, kind_is(d->fail, JV_KIND_NULL) ? JV_OBJECT(jv_string("id"), jv_null())
	                                        : server_failure(d, "presence"));
}

static void presence_send(struct op *o)
{
	const char *status = bot_str(o->ev, "status"), *msg = bot_str(o->ev, "message");
	const char *p = !status || !strcmp(status, "online") ? "online"
	                : !strcmp(status, "offline") ? "offline" : "unavailable";
	jv body = JV_OBJECT(jv_string("presence"), jv_string(p));
	if (msg)
		body = jv_object_set(body, jv_string("status_msg"), jv_string(msg));
	jv url = api_url(o->c, JV_ARRAY(jv_string("presence"), jv_string(o->c->user), jv_string("status")),
	                 jv_null());
	op_request(o, "PUT", url, body, presence_done);
}

/* -- room operations (bot-room) -- */

static jv room_answer(struct op *o)
{
	jv room = bot_get(o->ev, "room");
	jv ans = bot_room_event(o->action, kind_is(room, JV_KIND_NULL) ? bot_room(o->room) : room);
	if (kind_is(room, JV_KIND_NULL))
		jv_free(room);
	jv ref = bot_get(o->ev, "id");
	if (!kind_is(ref, JV_KIND_NULL))
		ans = jv_object_set(ans, jv_string("ref"), ref);
	else
		jv_free(ref);
	return ans;
}

static jv occupants_of(struct op *o, jv body)
{
	jv joined = bot_get(body, "joined"), occ = jv_array();
	if (kind_is(joined, JV_KIND_OBJECT))
		jv_object_foreach(joined, k, v) {
			if (user_id_ok(jv_string_value(k)))
				occ = jv_array_append(occ, occupant_of(o->room, jv_string_value(k)));
			jv_free(k);
			jv_free(v);
		}
	jv_free(joined);
	return occ;
}

static jv rooms_of(jv body)
{
	jv ids = bot_get(body, "joined_rooms"), rooms = jv_array();
	if (kind_is(ids, JV_KIND_ARRAY))
		jv_array_foreach(ids, i, r) {
			if (kind_is(r, JV_KIND_STRING) && room_ref_ok(jv_string_value(r)))
				rooms = jv_array_append(rooms, jv_object_set(bot_room(jv_string_value(r)),
				                                             jv_string("joined"), jv_true()));
			jv_free(r);
			(void)i;
		}
	jv_free(ids);
	return rooms;
}

static void room_step(struct op *o);

static void room_done(void *ud, const struct bot_http_done *d)
{
	struct op *o = ud;
	const char *a = o->action;
	int ok = kind_is(d->fail, JV_KIND_NULL);
	/* answers that are not failures for these actions */
	if (!ok && !strcmp(a, "topic") && !bot_str(o->ev, "topic") && d->status == 404) {
		op_end(o, jv_object_set(room_answer(o), jv_string("topic"), jv_string("")));
		return;
	}
	if (!ok && !strcmp(a, "info") && o->step == OP_EXTRA && (d->status == 403 || d->status == 404)) {
		jv ans = jv_object_set(room_answer(o), jv_string("exists"), jv_true());
		op_end(o, jv_object_set(ans, jv_string("joined"), jv_false()));
		return;
	}
	if (!ok && d->status == 404) {
		op_end(o, bot_fail_code("room_does_not_exist", 0, "%s: no such room", o->room));
		return;
	}
	if (!ok) {
		op_end(o, server_failure(d, o->room));
		return;
	}
	jv ans = room_answer(o);
	if (!strcmp(a, "join") || !strcmp(a, "create"))
		ans = jv_object_set(ans, jv_string("joined"), jv_true());
	else if (!strcmp(a, "leave"))
		ans = jv_object_set(ans, jv_string("joined"), jv_false());
	else if (!strcmp(a, "invite"))
		ans = jv_object_set(ans, jv_string("identifier"), bot_get(o->ev, "identifier"));
	else if (!strcmp(a, "topic")) {
		const char *t = bot_str(o->ev, "topic") ? bot_str(o->ev, "topic") : bot_str(d->body, "topic");
		ans = jv_object_set(ans, jv_string("topic"), jv_string(t ? t : ""));
	} else if (!strcmp(a, "occupants"))
		ans = jv_object_set(ans, jv_string("occupants"), occupants_of(o, d->body));
	else if (!strcmp(a, "list")) {
		jv_free(ans);
		ans = JV_OBJECT(jv_string("type"), jv_string("room"), jv_string("action"), jv_string("list"),
		                jv_string("rooms"), rooms_of(d->body));
		jv ref = bot_get(o->ev, "id");
		if (!kind_is(ref, JV_KIND_NULL))
			ans = jv_object_set(ans, jv_string("ref"), ref);
		else
			jv_free(ref);
	} else if (!strcmp(a, "info")) {
		jv occ = occupants_of(o, d->body);
		ans = jv_object_set(ans, jv_string("exists"), jv_true());
		ans = jv_object_set(ans, jv_string("joined"), jv_true());
		ans = jv_object_set(ans, jv_string("users"), jv_number(jv_array_length(occ)));
	}
	op_end(o, ans);
}

/* "#name:server" -> "name", for createRoom's room_alias_name. */
static jv alias_localpart(const char *alias)
{
	const char *colon = strchr(alias, ':');
	if (alias[0] != '#' || !colon || colon == alias + 1)
		return jv_null();
	return jv_string_sized(alias + 1, (int)(colon - alias - 1));
}

static void room_step(struct op *o)
{
	struct mx *c = o->c;
	const char *a = o->action, *topic = bot_str(o->ev, "topic");
	jv R = jv_string(o->room);
	if (!strcmp(a, "list")) {
		jv_free(R);
		op_request(o, "GET", api_url(c, JV_ARRAY(jv_string("joined_rooms")), jv_null()), jv_null(), room_done);
	} else if (!strcmp(a, "join")) {
		op_request(o, "POST", api_url(c, JV_ARRAY(jv_string("join"), R), jv_null()), jv_object(), room_done);
	} else if (!strcmp(a, "create")) {
		jv_free(R);
		jv name = alias_localpart(o->room);
		if (kind_is(name, JV_KIND_NULL)) {
			op_end(o, bot_fail_code("bad_input", 0, "create: a room alias (#name:server) expected"));
			return;
		}
		jv body = JV_OBJECT(jv_string("room_alias_name"), jv_copy(name), jv_string("name"), name);
		op_request(o, "POST", api_url(c, JV_ARRAY(jv_string("createRoom")), jv_null()), body, room_done);
	} else if (!strcmp(a, "leave")) {
		op_request(o, "POST", api_url(c, JV_ARRAY(jv_string("rooms"), R, jv_string("leave")), jv_null()),
		           jv_object(), room_done);
	} else if (!strcmp(a, "invite")) {
		jv ident = bot_get(o->ev, "identifier");
		const char *who = bot_ident_person(ident);
		if (!who || !user_id_ok(who)) {
			jv_free(ident);
			jv_free(R);
			op_end(o, bot_fail_code("bad_input", 0, "invite: a user id (@name:server) expected"));
			return;
		}
		jv body = JV_OBJECT(jv_string("user_id"), jv_string(who));
		jv_free(ident);
		op_request(o, "POST", api_url(c, JV_ARRAY(jv_string("rooms"), R, jv_string("invite")), jv_null()),
		           body, room_done);
	} else if (!strcmp(a, "topic")) {
		jv url = api_url(c, JV_ARRAY(jv_string("rooms"), R, jv_string("state"), jv_string("m.room.topic")),
		                 jv_null());
		if (topic)
			op_request(o, "PUT", url, JV_OBJECT(jv_string("topic"), jv_string(topic)), room_done);
		else
			op_request(o, "GET", url, jv_null(), room_done);
	} else if (!strcmp(a, "occupants") || !strcmp(a, "info")) {
		o->step = OP_EXTRA;
		op_request(o, "GET", api_url(c, JV_ARRAY(jv_string("rooms"), R, jv_string("joined_members")),
		                             jv_null()), jv_null(), room_done);
	} else {
		jv_free(R);
		op_end(o, bot_fail_code("unsupported", 0, "Matrix has no room action %.32s", a));
	}
}

/* The bot was invited and joins (--matrix-join-invites): no one waits. */
static void joined_quietly(void *ud, const struct bot_http_done *d)
{
	(void)ud;
	if (!kind_is(d->fail, JV_KIND_NULL)) {
		char why[512];
		bot_warn("matrix: joining a room the bot was invited to: %s",
		         bot_fail_message(d->fail, why, sizeof why));
	}
}

static void join_room_quietly(struct mx *c, const char *room)
{
	jv url = api_url(c, JV_ARRAY(jv_string("join"), jv_string(room)), jv_null());
	struct bot_http_req req = { .method = "POST", .url = jv_string_value(url), .headers = jv_copy(c->auth),
	                            .json = jv_object() };
	jv err = jv_invalid();
	bot_http_start(c->m, &req, joined_quietly, c, &err);
	jv_free(url);
	jv_free(err);
}

/* -- what a message part carries -- */

static const char *msgtype_for(struct mx *c, jv ev)
{
	jv extras = bot_get(ev, "extras");
	const char *t = bot_true(extras, "action") ? "m.emote"
	                : bot_true(extras, "notice") || c->notice ? "m.notice" : "m.text";
	jv_free(extras);
	return t;
}

/* Intentional mentions: only the one botpipe means (the sender of what
 * is answered) pings; "@room" in the text is just text. */
static jv mentions_of(jv ev)
{
	jv who = bot_get(ev, "mention");
	const char *id = bot_ident_person(who);
	jv m = jv_object();
	if (id && user_id_ok(id))
		m = jv_object_set(m, jv_string("user_ids"), JV_ARRAY(jv_string(id)));
	jv_free(who);
	return m;
}

static jv text_content(const char *msgtype, const char *html, const char *plain)
{
	return JV_OBJECT(jv_string("msgtype"), jv_string(msgtype), jv_string("body"), jv_string(plain),
	                 jv_string("format"), jv_string("org.matrix.custom.html"),
	                 jv_string("formatted_body"), jv_string(html));
}

/* Into the thread of parent; or, with extras.reply_to, a reply to that
 * event outside threads. */
static jv with_parent(jv content, jv ev)
{
	jv parent = bot_get(ev, "parent"), extras = bot_get(ev, "extras");
	const char *pid = bot_str(parent, "id"), *to = bot_str(extras, "reply_to");
	if (pid)
		content = jv_object_set(content, jv_string("m.relates_to"),
		                        JV_OBJECT(jv_string("rel_type"), jv_string("m.thread"),
		                                  jv_string("event_id"), jv_string(pid),
		                                  jv_string("is_falling_back"), jv_true(),
		                                  jv_string("m.in_reply_to"),
		                                  JV_OBJECT(jv_string("event_id"), jv_string(pid))));
	else if (to)
		content = jv_object_set(content, jv_string("m.relates_to"),
		                        JV_OBJECT(jv_string("m.in_reply_to"),
		                                  JV_OBJECT(jv_string("event_id"), jv_string(to))));
	jv_free(parent);
	jv_free(extras);
	return content;
}

static jv message_content(struct mx *c, const struct bot_part *part)
{
	const char *type = msgtype_for(c, part->event);
	const char *plain = part->plain ? part->plain : part->text;
	jv content = text_content(type, part->text, plain);
	if (part->replaces && part->index == 0) {
		/* an edit: "* " and the text for clients without edits */
		jv star = text_content(type, "", "");
		star = jv_object_set(star, jv_string("body"), jv_string_fmt("* %s", plain));
		star = jv_object_set(star, jv_string("formatted_body"), jv_string_fmt("* %s", part->text));
		content = jv_object_set(content, jv_string("m.mentions"), mentions_of(part->event));
		star = jv_object_set(star, jv_string("m.new_content"), content);
		star = jv_object_set(star, jv_string("m.relates_to"),
		                     JV_OBJECT(jv_string("rel_type"), jv_string("m.replace"),
		                               jv_string("event_id"), jv_string(part->replaces)));
		return jv_object_set(star, jv_string("m.mentions"), mentions_of(part->event));
	}
	content = jv_object_set(content, jv_string("m.mentions"), mentions_of(part->event));
	return with_parent(content, part->event);
}

/* -- a native card: HTML with a fields table -- */

static void html_add(struct sbuf *b, const char *s)
{
	for (; s && *s; s++)
		switch (*s) {
		case '<': sb_add(b, "&lt;", 4); break;
		case '>': sb_add(b, "&gt;", 4); break;
		case '&': sb_add(b, "&amp;", 5); break;
		case '"': sb_add(b, "&quot;", 6); break;
		default: sb_add(b, s, 1);
		}
}

static int colour_ok(const char *s)
{
	if (!s || s[0] != '#' || strlen(s) != 7)
		return 0;
	for (int i = 1; i < 7; i++)
		if (!isxdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

static int link_ok(const char *s)
{
	return s && (!strncmp(s, "https://", 8) || !strncmp(s, "http://", 7)) && !bot_has_line_break(s, strlen(s));
}

/* The card's body in HTML and plain text (markdown rendered once, uncut). */
static void card_body(jv ev, struct sbuf *html, struct sbuf *plain)
{
	const char *body = bot_str(ev, "body");
	if (!body || !*body)
		return;
	jv parts = bot_split_plain("matrix", body, strlen(body), 0, BOT_UNIT_BYTES);
	jv one = jv_array_get(parts, 0);
	jv h = jv_array_get(jv_copy(one), 0), p = jv_array_get(one, 1);
	if (kind_is(h, JV_KIND_STRING) && kind_is(p, JV_KIND_STRING)) {
		sb_add(html, jv_string_value(h), strlen(jv_string_value(h)));
		sb_add(plain, jv_string_value(p), strlen(jv_string_value(p)));
		sb_add(plain, "\n", 1);
	}
	jv_free(h);
	jv_free(p);
}

static jv card_content(struct mx *c, jv ev)
{
	struct sbuf h = { 0 }, p = { 0 };
	const char *title = bot_str(ev, "title"), *link = bot_str(ev, "link"), *summary = bot_str(ev, "summary");
	const char *colour = bot_str(ev, "color");
	if (title) {
		sb_add(&h, "<p><strong>", 11);
		if (colour_ok(colour)) {
			sb_add(&h, "<font data-mx-color=\"", 21);
			sb_add(&h, colour, 7);
			sb_add(&h, "\">", 2);
		}
		if (link_ok(link)) {
			sb_add(&h, "<a href=\"", 9);
			html_add(&h, link);
			sb_add(&h, "\">", 2);
		}
		html_add(&h, title);
		if (link_ok(link))
			sb_add(&h, "</a>", 4);
		if (colour_ok(colour))
			sb_add(&h, "</font>", 7);
		sb_add(&h, "</strong></p>", 13);
		sb_add(&p, title, strlen(title));
		if (link_ok(link)) {
			sb_add(&p, " <", 2);
			sb_add(&p, link, strlen(link));
			sb_add(&p, ">", 1);
		}
		sb_add(&p, "\n", 1);
	}
	if (summary) {
		sb_add(&h, "<p><em>", 7);
		html_add(&h, summary);
		sb_add(&h, "</em></p>", 9);
		sb_add(&p, summary, strlen(summary));
		sb_add(&p, "\n", 1);
	}
	card_body(ev, &h, &p);
	jv fields = bot_get(ev, "fields");
	if (kind_is(fields, JV_KIND_ARRAY) && jv_array_length(jv_copy(fields)) > 0) {
		sb_add(&h, "<table>", 7);
		jv_array_foreach(fields, i, f) {
			jv k = jv_array_get(jv_copy(f), 0), v = jv_array_get(f, 1);
			if (kind_is(k, JV_KIND_STRING) && kind_is(v, JV_KIND_STRING)) {
				sb_add(&h, "<tr><th>", 8);
				html_add(&h, jv_string_value(k));
				sb_add(&h, "</th><td>", 9);
				html_add(&h, jv_string_value(v));
				sb_add(&h, "</td></tr>", 10);
				sb_add(&p, jv_string_value(k), strlen(jv_string_value(k)));
				sb_add(&p, ": ", 2);
				sb_add(&p, jv_string_value(v), strlen(jv_string_value(v)));
				sb_add(&p, "\n", 1);
			}
			jv_free(k);
			jv_free(v);
			(void)i;
		}
		sb_add(&h, "</table>", 8);
	}
	jv_free(fields);
	sb_add(&h, "", 0);
	sb_add(&p, "", 0);
	size_t pn = strlen(p.s);
	while (pn && p.s[pn - 1] == '\n')
		p.s[--pn] = 0;
	jv content = text_content(msgtype_for(c, ev), h.s, p.s);
	free(h.s);
	free(p.s);
	content = jv_object_set(content, jv_string("m.mentions"), mentions_of(ev));
	return with_parent(content, ev);
}

static jv file_content(jv ev)
{
	const char *path = bot_str(ev, "path"), *mime = bot_str(ev, "stream_type");
	const char *name = bot_str(ev, "name") ? bot_str(ev, "name") : base_name(path);
	int image = mime && !strncmp(mime, "image/", 6);
	jv info = jv_object();
	if (mime)
		info = jv_object_set(info, jv_string("mimetype"), jv_string(mime));
	jv size = bot_get(ev, "size");
	if (kind_is(size, JV_KIND_NUMBER))
		info = jv_object_set(info, jv_string("size"), size);
	else
		jv_free(size);
	jv content = JV_OBJECT(jv_string("msgtype"), jv_string(image ? "m.image" : "m.file"),
	                       jv_string("body"), jv_string(name), jv_string("filename"), jv_string(name),
	                       jv_string("info"), info);
	return with_parent(content, ev);
}

/* -- the op's steps -- */

static void op_next(struct op *o)
{
	if (o->step == OP_RESOLVE) {
		if (strcmp(o->action, "join") && strcmp(o->action, "create") && resolve(o))
			return;   /* resolved() goes on */
		o->step = OP_UPLOAD;
	}
	if (o->step == OP_UPLOAD) {
		o->step = OP_SEND;
		if (!strcmp(o->kind, "stream")) {
			upload_start(o);
			return;
		}
	}
	if (!strcmp(o->kind, "room"))
		room_step(o);
	else if (!strcmp(o->kind, "reaction"))
		reaction_send(o);
	else if (!strcmp(o->kind, "delete"))
		delete_send(o);
	else if (!strcmp(o->kind, "presence"))
		presence_send(o);
	else
		send_event(o, "m.room.message", jv_copy(o->content));
}

/* The room an event goes to (look-only into ev): a room's id or alias;
 * NULL + *err for a person (a direct room is a room: give its id). */
static const char *target_room(jv ev, const char *type, jv *err)
{
	jv to = bot_get(ev, "to");
	if (!strcmp(type, "reaction") && kind_is(to, JV_KIND_NULL)) {
		jv rt = bot_get(ev, "reacted_to");
		jv_free(to);
		to = kind_is(rt, JV_KIND_OBJECT) ? bot_get(rt, "to") : jv_null();
		jv_free(rt);
	}
	if (!strcmp(type, "room")) {
		jv_free(to);
		to = bot_get(ev, "room");
	}
	const char *kind = bot_ident_kind(to);
	const char *id = kind && !strcmp(kind, "room") ? bot_ident_id(to)
	                 : kind && !strcmp(kind, "occupant") ? bot_ident_room(to)
	                 : kind_is(to, JV_KIND_STRING) ? jv_string_value(to) : NULL;
	jv_free(to);   /* the strings live in ev */
	if (kind && !strcmp(kind, "person")) {
		*err = bot_fail_code("unsupported", 0, "Matrix sends into rooms: give the direct room's id (!id:server)");
		return NULL;
	}
	if (!id || !room_ref_ok(id)) {
		*err = bot_fail_code("bad_input", 0, "a Matrix room (!id:server or #alias:server) expected");
		return NULL;
	}
	return id;
}

static int matrix_submit(void *be, const struct bot_part *part, bot_done_fn done, void *ctx, jv *err)
{
	struct mx *c = be;
	const char *type = part->type ? part->type : bot_str(part->event, "type");
	if (!type) {
		*err = bot_fail_code("bad_input", 0, "an event without a type");
		return -1;
	}
	struct op *o = calloc(1, sizeof *o);
	if (!o)
		abort();
	o->c = c;
	o->ev = jv_copy(part->event);
	o->content = jv_null();
	o->got = jv_null();
	snprintf(o->kind, sizeof o->kind, "%s", type);
	snprintf(o->key, sizeof o->key, "%s", part->key ? part->key : "");
	const char *action = bot_str(part->event, "action");
	if (!strcmp(type, "room"))
		snprintf(o->action, sizeof o->action, "%s", action ? action : "");
	int need_room = strcmp(type, "presence") && strcmp(o->action, "list");
	const char *room = need_room ? target_room(part->event, type, err) : "";
	if (!room || strlen(room) >= sizeof o->room) {
		if (room)
			*err = bot_fail_code("bad_input", 0, "a room id of at most 255 bytes expected");
		jv_free(o->ev);
		free(o);
		return -1;
	}
	snprintf(o->room, sizeof o->room, "%s", room);
	if (!strcmp(type, "presence") && !c->user[0]) {
		*err = bot_fail_code("bad_input", 0, "presence needs --matrix-user");
		jv_free(o->ev);
		free(o);
		return -1;
	}
	if (!strcmp(type, "message"))
		o->content = message_content(c, part);
	else if (!strcmp(type, "card") && part->text)
		o->content = message_content(c, part);   /* the template's parts */
	else if (!strcmp(type, "card"))
		o->content = card_content(c, part->event);
	else if (!strcmp(type, "stream"))
		o->content = file_content(part->event);
	o->done = done;
	o->ctx = ctx;
	o->next = c->ops;
	c->ops = o;
	o->step = OP_RESOLVE;
	op_next(o);
	return 0;
}

static int matrix_idle(void *be)
{
	return bot_http_running(((struct mx *)be)->m) == 0;
}

/* ---- the model --------------------------------------------------------- */

static jv matrix_build_identifier(void *be, const char *s)
{
	(void)be;
	if (s && user_id_ok(s))
		return person_of(s);
	if (s && room_ref_ok(s))
		return bot_room(s);
	return bot_fail_code("bad_input", 0, "a Matrix id is @user:server, !room:server or #alias:server");
}

static int matrix_is_from_self(void *be, jv ev)
{
	struct mx *c = be;
	if (!c->user[0])
		return 0;
	jv who = bot_get(ev, "from");
	if (kind_is(who, JV_KIND_NULL)) {
		jv_free(who);
		who = bot_get(ev, "reactor");
	}
	const char *id = bot_ident_person(who);
	int self = id && !strcmp(id, c->user);
	jv_free(who);
	return self;
}

/* A mention is a link to the user (clients show a pill) before the body;
 * m.mentions, set at the send, is what makes it ping. */
static jv matrix_mention(void *be, jv ident, jv body)
{
	(void)be;
	const char *id = bot_ident_person(ident), *nick = bot_str(ident, "nick");
	if (!id || !user_id_ok(id)) {
		jv_free(ident);
		return body;
	}
	jv prefix = jv_string_fmt("[%s](https://matrix.to/#/%s):", nick ? nick : id, id);
	jv out = bot_mention_body(jv_string_value(prefix), body);
	jv_free(prefix);
	jv_free(ident);
	return out;
}

static size_t matrix_size_limit(void *be, jv to)
{
	(void)be;
	(void)to;
	return MX_SIZE_LIMIT;
}

const struct bot_backend bot_backend = {
	.size = sizeof(struct bot_backend),
	.abi = BOT_BACKEND_ABI,
	.name = "matrix",
	.markup = "matrix",
	.options = matrix_options,
	.can = BOT_CAN_LISTEN | BOT_CAN_CARD | BOT_CAN_REACTION | BOT_CAN_PRESENCE | BOT_CAN_STREAM |
	       BOT_CAN_EDIT | BOT_CAN_DELETE | BOT_CAN_ROOM | BOT_CAN_PLAIN | BOT_CAN_SESSION,
	.size_unit = BOT_UNIT_BYTES,
	.reaction_names = BOT_EMOJI_UNICODE,
	.open = matrix_open,
	.close = matrix_close,
	.start = matrix_start,
	.prepare = matrix_prepare,
	.dispatch = matrix_dispatch,
	.stop = matrix_stop,
	.commit = matrix_commit,
	.submit = matrix_submit,
	.idle = matrix_idle,
	.build_identifier = matrix_build_identifier,
	.is_from_self = matrix_is_from_self,
	.mention = matrix_mention,
	.size_limit = matrix_size_limit,
};
