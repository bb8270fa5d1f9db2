/* mattermost.c: Mattermost, API v4.
 *
 * Listening: GET /api/v4/users/me (who the bot is; a bad token is a
 * permanent "denied" here), then the WebSocket /api/v4/websocket with an
 * authentication_challenge carrying the token; its "hello" makes us up.
 * Events: posted (data.post is JSON inside a JSON string), post_edited (a
 * message that replaces), post_deleted (delete), reaction_added/removed
 * (data.reaction, encoded the same way), user_added/user_removed (room
 * events).  Every event has a seq, consecutive on one socket: a gap, or a
 * new socket after one was lost, means events were missed, and the posts
 * of every channel seen are fetched since the last create_at seen
 * (GET /api/v4/channels/{id}/posts?since=), de-duplicated by post id.  The
 * cursor {since, channels} is the commit mark, kept in the state folder.
 *
 * Sending: POST /api/v4/posts (root_id for a thread, props.attachments
 * for a native card, pending_post_id from the part's key, file_ids for a
 * file uploaded first with POST /api/v4/files), PUT .../patch for an
 * edit, DELETE for a delete, POST /api/v4/reactions and DELETE
 * /api/v4/users/me/posts/{id}/reactions/{emoji} for reactions.
 *
 * Identifiers: a person "@username"; a room "~channel" (resolved in
 * --mattermost-team) or a 26-character channel id.  Inbound identifiers
 * carry "channel_id" (and a person "userid"), so a reply needs no lookup.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend.h"
#include "emoji.h"
#include "buf.h"
#include "http.h"
#include "render.h"
#include "state.h"

#define MM_SIZE_LIMIT 16383      /* characters (runes) in a post */
#define MM_SEEN_MAX 1024         /* post ids remembered for de-duplication */
#define MM_CHANNELS_MAX 256      /* channels caught up after a gap */
#define MM_FILE_MAX (64u << 20)  /* an inbound file's cap */

static const struct bot_option mm_options[] = {
	{ "mattermost-url", 0, BOT_OPT_STR | BOT_OPT_IDENTITY, "URL", NULL,
	  "the server's base URL (https://chat.example.org)" },
	{ "mattermost-token", 0, BOT_OPT_SECRET | BOT_OPT_IDENTITY, "TOKEN", NULL,
	  "the bot's access token (Authorization: Bearer)" },
	{ "mattermost-team", 0, BOT_OPT_STR, "NAME", NULL,
	  "the team in which ~channel names are looked up" },
	{ "mattermost-ws-url", 0, BOT_OPT_STR, "URL", NULL,
	  "the WebSocket URL (default: the base URL's /api/v4/websocket)" },
	{ "mattermost-ping", 0, BOT_OPT_INT, "SECONDS", "30",
	  "ping the socket after SECONDS of quiet; no answer in as long again: reconnect" },
	{ "mattermost-cafile", 0, BOT_OPT_STR, "FILE", NULL,
	  "trust the certificates in FILE instead of the system's" },
	BOT_OPTIONS_END
};

enum mm_state { MM_IDLE, MM_WHOAMI, MM_SOCKET, MM_AUTH, MM_UP };

struct mm {
	struct bot_host *host;
	struct bot_http_multi *m;
	struct bot_ws *ws;
	char *base, *ws_url, *team, *cafile;
	char *auth;               /* "Authorization: Bearer TOKEN" */
	char *token;
	long ping_ms;
	enum mm_state state;
	int started;
	jv fail;                  /* the listening connection's end, for dispatch */
	char self_id[64], self_name[128];
	char team_id[64];         /* --mattermost-team's id, once looked up */
	long long seq;            /* the last seq on this socket, -1 none */
	double since;             /* the newest create_at emitted (ms) */
	jv channels;              /* channel ids seen (array), caught up after a gap */
	jv names;                 /* "~name" -> channel id; user id -> username */
	jv seen;                  /* post id -> true, bounded by seen_order */
	jv seen_order;
	int catching_up;          /* fetches running */
	int lost;                 /* a socket was lost: catch up at the next hello */
};

/* ---- small helpers ------------------------------------------------------ */

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void free_secret(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* The API URL base + "/api/v4" + segments (consumed) + query (consumed). */
static jv api_url(struct mm *c, jv segments, jv query)
{
	jv base = jv_string_fmt("%s/api/v4", c->base);
	jv u = bot_http_url(jv_string_value(base), segments, query);
	jv_free(base);
	return u;
}

static jv auth_headers(struct mm *c)
{
	return JV_ARRAY(jv_string(c->auth));
}

/* A Mattermost id: 26 lower-case letters and digits. */
static int is_mm_id(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++)
		if (!isdigit((unsigned char)s[n]) && !islower((unsigned char)s[n]))
			return 0;
	return n == 26;
}

/* Parse a JSON string's content again (data.post, data.reaction). */
static jv parse_inner(jv data, const char *key)
{
	jv s = bot_get(data, key);
	if (jv_get_kind(s) == JV_KIND_OBJECT)
		return s;
	if (jv_get_kind(s) != JV_KIND_STRING) {
		jv_free(s);
		return jv_invalid_with_msg(jv_string_fmt("data.%s is not a JSON string", key));
	}
	jv v = jv_parse_sized(jv_string_value(s), jv_string_length_bytes(jv_copy(s)));
	jv_free(s);
	if (jv_is_valid(v) && jv_get_kind(v) != JV_KIND_OBJECT) {
		jv_free(v);
		return jv_invalid_with_msg(jv_string_fmt("data.%s is not an object", key));
	}
	return v;
}

static double num_or(jv obj, const char *key, double def)
{
	jv v = bot_get(obj, key);
	double d = jv_get_kind(v) == JV_KIND_NUMBER ? jv_number_value(v) : def;
	jv_free(v);
	return d;
}

/* ---- names: channel and user caches ------------------------------------ */

static void remember(struct mm *c, const char *key, const char *value)
{
	if (!key || !value || !*key || !*value)
		return;
	if (jv_get_kind(c->names) == JV_KIND_OBJECT && jv_object_length(jv_copy(c->names)) > 4096) {
		jv_free(c->names);
		c->names = jv_object();
	}
	c->names = jv_object_set(c->names, jv_string(key), jv_string(value));
}

static const char *recall(struct mm *c, const char *key)
{
	jv v = jv_object_get(jv_copy(c->names), jv_string(key));
	const char *s = NULL;
	if (jv_get_kind(v) == JV_KIND_STRING)
		s = jv_string_value(v);   /* lives in c->names until the next remember */
	jv_free(v);
	return s;
}

static void note_channel(struct mm *c, const char *id)
{
	if (!id || !is_mm_id(id))
		return;
	jv_array_foreach(c->channels, i, v) {
		int same = !strcmp(jv_string_value(v), id);
		jv_free(v);
		if (same)
			return;
		(void)i;
	}
	if (jv_array_length(jv_copy(c->channels)) >= MM_CHANNELS_MAX)
		c->channels = jv_array_slice(c->channels, 1, MM_CHANNELS_MAX);
	c->channels = jv_array_append(c->channels, jv_string(id));
}

/* 1 the first time a post id is seen, 0 after. */
static int first_sight(struct mm *c, const char *id)
{
	jv v = jv_object_get(jv_copy(c->seen), jv_string(id));
	int known = jv_is_valid(v);
	jv_free(v);
	if (known)
		return 0;
	c->seen = jv_object_set(c->seen, jv_string(id), jv_true());
	c->seen_order = jv_array_append(c->seen_order, jv_string(id));
	if (jv_array_length(jv_copy(c->seen_order)) > MM_SEEN_MAX) {
		jv old = jv_array_get(jv_copy(c->seen_order), 0);
		c->seen = jv_object_delete(c->seen, old);
		c->seen_order = jv_array_slice(c->seen_order, 1, MM_SEEN_MAX + 1);
	}
	return 1;
}

/* ---- the cursor -------------------------------------------------------- */

static jv cursor_mark(struct mm *c)
{
	return JV_OBJECT(jv_string("since"), jv_number(c->since), jv_string("channels"),
	                 jv_copy(c->channels));
}

static void load_cursor(struct mm *c)
{
	jv err = jv_null();
	const char *dir = c->host->state_dir(c->host, &err);
	jv_free(err);
	if (!dir)
		return;
	jv raw = bot_state_get(dir, "cursor", 1 << 16);
	if (jv_get_kind(raw) != JV_KIND_STRING) {
		jv_free(raw);
		return;
	}
	jv cur = jv_parse(jv_string_value(raw));
	jv_free(raw);
	if (jv_get_kind(cur) == JV_KIND_OBJECT) {
		c->since = num_or(cur, "since", 0);
		jv chans = bot_get(cur, "channels");
		if (jv_get_kind(chans) == JV_KIND_ARRAY)
			jv_array_foreach(chans, i, v) {
				if (jv_get_kind(v) == JV_KIND_STRING)
					note_channel(c, jv_string_value(v));
				jv_free(v);
				(void)i;
			}
		jv_free(chans);
		c->lost = c->since > 0;   /* what came while we were away */
	}
	jv_free(cur);
}

static void mm_commit(void *be, jv mark)
{
	struct mm *c = be;
	jv err = jv_null();
	const char *dir = c->host->state_dir(c->host, &err);
	if (dir) {
		jv text = jv_dump_string(jv_copy(mark), 0);
		bot_state_put(dir, "cursor", jv_string_value(text),
		              (size_t)jv_string_length_bytes(jv_copy(text)), &err);
		jv_free(text);
	}
	if (!jv_is_valid(err)) {
		char buf[256];
		bot_warn("mattermost: cannot keep the cursor: %s", bot_fail_message(err, buf, sizeof buf));
	}
	jv_free(err);
}

/* ---- inbound events ---------------------------------------------------- */

static jv person_for(struct mm *c, const char *user_id, const char *name)
{
	if (name && name[0] == '@')
		name++;
	if (!name || !*name)
		name = user_id ? recall(c, user_id) : NULL;
	char copy[128];   /* remember may free what recall gave */
	if (name) {
		snprintf(copy, sizeof copy, "%s", name);
		name = copy;
	}
	if (name && user_id)
		remember(c, user_id, name);
	jv p;
	if (name && *name) {
		char id[160];
		snprintf(id, sizeof id, "@%s", name);
		p = bot_person(id, name);
	} else {
		p = bot_person(user_id ? user_id : "?", NULL);
	}
	if (user_id)
		p = jv_object_set(p, jv_string("userid"), jv_string(user_id));
	return p;
}

static jv room_for(struct mm *c, const char *channel_id, const char *name)
{
	jv r;
	if (name && *name) {
		char id[160];
		snprintf(id, sizeof id, "~%s", name);
		remember(c, id, channel_id);
		remember(c, channel_id, id);   /* for events that give no name */
		r = bot_room(id);
	} else {
		const char *known = recall(c, channel_id);
		r = bot_room(known && known[0] == '~' ? known : channel_id);
	}
	return jv_object_set(r, jv_string("channel_id"), jv_string(channel_id));
}

static void fetch_file(struct mm *c, const char *file_id, const char *name, const char *mime,
                       jv from);

/* A post as a message event; kind is "message" or "edit". */
static jv post_message(struct mm *c, jv post, jv data, int edited)
{
	const char *id = bot_str(post, "id"), *chan = bot_str(post, "channel_id");
	const char *user = bot_str(post, "user_id"), *msg = bot_str(post, "message");
	if (!id || !chan || !user)
		return jv_invalid_with_msg(jv_string("a post without id, channel_id or user_id"));
	const char *ctype = bot_str(data, "channel_type");
	jv from = person_for(c, user, bot_str(data, "sender_name"));
	jv to;
	if (ctype && !strcmp(ctype, "D")) {
		/* a direct message: to the bot; the reply goes back on this channel */
		from = jv_object_set(from, jv_string("channel_id"), jv_string(chan));
		to = person_for(c, c->self_id, c->self_name);
	} else {
		const char *cname = bot_str(data, "channel_name");
		to = room_for(c, chan, cname ? cname : NULL);
	}
	jv ev = bot_message(from, to, msg ? msg : "");
	ev = jv_object_set(ev, jv_string("id"), jv_string(id));
	const char *root = bot_str(post, "root_id");
	if (root && *root)
		ev = jv_object_set(ev, jv_string("parent"), JV_OBJECT(jv_string("id"), jv_string(root)));
	if (edited)
		ev = jv_object_set(ev, jv_string("replaces"), jv_string(id));
	double at = num_or(post, edited ? "edit_at" : "create_at", 0);
	if (at > 0)
		ev = jv_object_set(ev, jv_string("ts"), jv_number(at / 1000.0));
	return ev;
}

/* The files a post carries, each downloaded into the spool. */
static void post_files(struct mm *c, jv post, jv from)
{
	jv md = bot_get(post, "metadata");
	jv files = bot_get(md, "files");
	jv_free(md);
	if (jv_get_kind(files) == JV_KIND_ARRAY)
		jv_array_foreach(files, i, f) {
			const char *fid = bot_str(f, "id");
			if (fid && is_mm_id(fid))
				fetch_file(c, fid, bot_str(f, "name"), bot_str(f, "mime_type"), jv_copy(from));
			jv_free(f);
			(void)i;
		}
	jv_free(files);
	jv_free(from);
}

/* Emit one post (posted or fetched): once per id, the cursor after it. */
static void emit_post(struct mm *c, jv post, jv data)
{
	const char *id = bot_str(post, "id");
	if (!id || !first_sight(c, id)) {
		jv_free(post);
		return;
	}
	jv ev = post_message(c, post, data, 0);
	if (!jv_is_valid(ev)) {
		char buf[200];
		bot_warn("mattermost: posted: %s", bot_fail_message(ev, buf, sizeof buf));
		jv_free(ev);
		jv_free(post);
		return;
	}
	note_channel(c, bot_str(post, "channel_id"));
	double at = num_or(post, "create_at", 0);
	if (at > c->since)
		c->since = at;
	jv from = bot_get(ev, "from");
	c->host->emit(c->host, ev, cursor_mark(c));
	post_files(c, post, from);
	jv_free(post);
}

static void on_posted(struct mm *c, jv data)
{
	jv post = parse_inner(data, "post");
	if (!jv_is_valid(post)) {
		char buf[200];
		bot_warn("mattermost: posted: %s", bot_fail_message(post, buf, sizeof buf));
		jv_free(post);
		return;
	}
	emit_post(c, post, data);
}

static void on_edited(struct mm *c, jv data)
{
	jv post = parse_inner(data, "post");
	jv ev = jv_is_valid(post) ? post_message(c, post, data, 1) : jv_copy(post);
	jv_free(post);
	if (jv_is_valid(ev))
		c->host->emit(c->host, ev, jv_null());
	else
		jv_free(ev);
}

static void on_deleted(struct mm *c, jv data)
{
	jv post = parse_inner(data, "post");
	const char *id = jv_is_valid(post) ? bot_str(post, "id") : NULL;
	const char *chan = jv_is_valid(post) ? bot_str(post, "channel_id") : NULL;
	if (id && chan) {
		jv ev = JV_OBJECT(jv_string("type"), jv_string("delete"),
		                  jv_string("to"), room_for(c, chan, NULL),
		                  jv_string("deletes"), jv_string(id));
		const char *user = bot_str(post, "user_id");
		if (user)
			ev = jv_object_set(ev, jv_string("from"), person_for(c, user, NULL));
		c->host->emit(c->host, ev, jv_null());
	}
	jv_free(post);
}

static void on_reaction(struct mm *c, jv data, const char *action)
{
	jv r = parse_inner(data, "reaction");
	const char *user = jv_is_valid(r) ? bot_str(r, "user_id") : NULL;
	const char *post = jv_is_valid(r) ? bot_str(r, "post_id") : NULL;
	const char *emoji = jv_is_valid(r) ? bot_str(r, "emoji_name") : NULL;
	if (user && post && emoji) {
		double at = num_or(r, "create_at", 0);
		char ts[32];
		snprintf(ts, sizeof ts, "%.3f", at / 1000.0);
		jv ev = bot_reaction_event(person_for(c, user, NULL), action, emoji,
		                           JV_OBJECT(jv_string("id"), jv_string(post)), at > 0 ? ts : NULL);
		c->host->emit(c->host, ev, jv_null());
	}
	jv_free(r);
}

static void on_member(struct mm *c, jv data, jv broadcast, const char *action)
{
	const char *chan = bot_str(broadcast, "channel_id");
	if (!chan)
		chan = bot_str(data, "channel_id");
	const char *user = bot_str(data, "user_id");
	if (!chan || !user)
		return;
	jv ev = bot_room_event(action, room_for(c, chan, NULL));
	ev = jv_object_set(ev, jv_string("occupant"), person_for(c, user, NULL));
	c->host->emit(c->host, ev, jv_null());
}

/* status_change: a person's status, the seed's words (Mattermost's are
 * the same: online, away, dnd, offline). */
static void on_status(struct mm *c, jv data)
{
	const char *user = bot_str(data, "user_id"), *status = bot_str(data, "status");
	if (!user || !status || (strcmp(status, "online") && strcmp(status, "away") && strcmp(status, "dnd") &&
	                         strcmp(status, "offline")))
		return;
	c->host->emit(c->host, bot_presence_event(person_for(c, user, NULL), status, NULL), jv_null());
}

static void catch_up(struct mm *c);

/* One WebSocket message: a reply to our seq, or an event. */
static void handle_frame(struct mm *c, jv msg)
{
	if (jv_get_kind(msg) != JV_KIND_OBJECT)
		return;
	jv reply = bot_get(msg, "seq_reply");
	int is_reply = jv_get_kind(reply) == JV_KIND_NUMBER;
	jv_free(reply);
	if (is_reply) {
		const char *status = bot_str(msg, "status");
		if (c->state == MM_AUTH && status && strcmp(status, "OK") != 0 && jv_get_kind(c->fail) == JV_KIND_NULL)
			c->fail = bot_fail_code("denied", 0, "mattermost: the server refused the token");
		return;
	}
	const char *event = bot_str(msg, "event");
	if (!event)
		return;
	double seq = num_or(msg, "seq", -1);
	if (seq >= 0) {
		if (c->seq >= 0 && (long long)seq > c->seq + 1 && c->state == MM_UP)
			catch_up(c);   /* a gap: what came before this event, since the cursor */
		c->seq = (long long)seq;
	}
	jv data = bot_get(msg, "data"), broadcast = bot_get(msg, "broadcast");
	if (!strcmp(event, "hello")) {
		if (c->state != MM_UP) {
			c->state = MM_UP;
			c->host->up(c->host);
		}
	} else if (!strcmp(event, "posted")) {
		on_posted(c, data);
	} else if (!strcmp(event, "post_edited")) {
		on_edited(c, data);
	} else if (!strcmp(event, "post_deleted")) {
		on_deleted(c, data);
	} else if (!strcmp(event, "reaction_added")) {
		on_reaction(c, data, "added");
	} else if (!strcmp(event, "reaction_removed")) {
		on_reaction(c, data, "removed");
	} else if (!strcmp(event, "user_added")) {
		on_member(c, data, broadcast, "joined");
	} else if (!strcmp(event, "user_removed")) {
		on_member(c, data, broadcast, "left");
	} else if (!strcmp(event, "status_change")) {
		on_status(c, data);
	}
	jv_free(data);
	jv_free(broadcast);
	if (c->lost && c->state == MM_UP)
		catch_up(c);
}

/* One socket message as text (test/fuzz/fuzz-mattermost.c feeds it too). */
static void mm_feed(void *be, const char *data, size_t len)
{
	jv msg = jv_parse_sized(data, (int)(len > (1u << 24) ? 1u << 24 : len));
	if (jv_is_valid(msg))
		handle_frame(be, msg);
	jv_free(msg);
}

/* ---- catching up after a gap ------------------------------------------- */

static int by_create_at(const void *a, const void *b)
{
	double x = num_or(*(const jv *)a, "create_at", 0), y = num_or(*(const jv *)b, "create_at", 0);
	return (x > y) - (x < y);
}

/* One channel's catch-up: the cursor it asked from. */
struct catchup {
	struct mm *c;
	double since;
};

/* The posts fetched, oldest first: those created before the cursor are
 * edits of old posts (already seen), the rest once each by id. */
static void caught_up(void *ud, const struct bot_http_done *d)
{
	struct catchup *cu = ud;
	struct mm *c = cu->c;
	double since = cu->since;
	free(cu);
	c->catching_up--;
	if (jv_get_kind(d->fail) != JV_KIND_NULL) {
		char buf[256];
		bot_warn("mattermost: fetching missed posts: %s", bot_fail_message(d->fail, buf, sizeof buf));
		return;
	}
	jv posts = bot_get(d->body, "posts");
	if (jv_get_kind(posts) != JV_KIND_OBJECT) {
		jv_free(posts);
		return;
	}
	int n = jv_object_length(jv_copy(posts));
	jv *list = calloc((size_t)n + 1, sizeof *list);
	if (!list)
		abort();
	int k = 0;
	jv_object_foreach(posts, key, p) {
		jv_free(key);
		if (jv_get_kind(p) == JV_KIND_OBJECT && k < n && num_or(p, "create_at", 0) >= since)
			list[k++] = p;
		else
			jv_free(p);
	}
	qsort(list, (size_t)k, sizeof *list, by_create_at);
	jv data = jv_object();
	for (int i = 0; i < k; i++)
		emit_post(c, list[i], data);
	jv_free(data);
	free(list);
	jv_free(posts);
}

static void catch_up(struct mm *c)
{
	c->lost = 0;
	if (c->since <= 0)
		return;
	jv_array_foreach(c->channels, i, chan) {
		jv url = api_url(c, JV_ARRAY(jv_string("channels"), chan, jv_string("posts")),
		                 JV_OBJECT(jv_string("since"), jv_string_fmt("%.0f", c->since)));
		struct bot_http_req req = { .url = jv_string_value(url), .headers = auth_headers(c) };
		struct catchup *cu = malloc(sizeof *cu);
		if (!cu)
			abort();
		*cu = (struct catchup){ c, c->since };
		jv err = jv_null();
		if (bot_http_start(c->m, &req, caught_up, cu, &err) > 0)
			c->catching_up++;
		else
			free(cu);
		jv_free(err);
		jv_free(url);
		(void)i;
	}
}

/* ---- the socket ------------------------------------------------------- */

static void ws_opened(void *ud)
{
	struct mm *c = ud;
	c->state = MM_AUTH;
	c->seq = -1;
	jv chal = JV_OBJECT(jv_string("seq"), jv_number(1), jv_string("action"),
	                    jv_string("authentication_challenge"), jv_string("data"),
	                    JV_OBJECT(jv_string("token"), jv_string(c->token)));
	jv text = jv_dump_string(chal, 0);
	jv err = jv_null();
	if (bot_ws_send(c->ws, 0, jv_string_value(text), (size_t)jv_string_length_bytes(jv_copy(text)), &err) < 0
	    && jv_get_kind(c->fail) == JV_KIND_NULL)
		c->fail = bot_fail_code("connection_lost", 1, "mattermost: cannot authenticate on the socket");
	explicit_bzero((char *)jv_string_value(text), (size_t)jv_string_length_bytes(jv_copy(text)));
	jv_free(text);
	jv_free(err);
}

static void ws_message(void *ud, int binary, const char *data, size_t len)
{
	struct mm *c = ud;
	if (binary)
		return;
	mm_feed(c, data, len);
}

static void ws_closed(void *ud, int code, const char *reason, size_t len)
{
	struct mm *c = ud;
	(void)reason;
	(void)len;
	if (jv_get_kind(c->fail) == JV_KIND_NULL)
		c->fail = bot_fail_code("connection_lost", 1, "mattermost: the server closed the socket (%d)", code);
}

static void ws_error(void *ud, jv fail)
{
	struct mm *c = ud;
	if (jv_get_kind(c->fail) != JV_KIND_NULL)
		return;
	char buf[256];
	jv f = bot_fail_code("connection_lost", 1, "mattermost: socket: %s",
	                     bot_fail_message(fail, buf, sizeof buf));
	if (!strcmp(bot_fail_code_of(fail, buf, sizeof buf), "denied"))
		f = (jv_free(f), bot_fail_code("denied", 0, "mattermost: the server refused the token"));
	c->fail = f;
}

static const struct bot_ws_cb ws_callbacks = { ws_opened, ws_message, ws_closed, ws_error };

static void open_socket(struct mm *c)
{
	struct bot_ws_opts o = {
		.url = c->ws_url, .headers = jv_array(), .cafile = c->cafile,
		.ping_interval_ms = c->ping_ms, .pong_timeout_ms = c->ping_ms,
	};
	jv err = jv_null();
	c->ws = bot_ws_open(c->m, &o, &ws_callbacks, c, &err);
	if (!c->ws)
		c->fail = bot_fail_code("bad_input", 0, "mattermost: cannot open the socket");
	else
		c->state = MM_SOCKET;
	jv_free(err);
}

static void whoami_done(void *ud, const struct bot_http_done *d)
{
	struct mm *c = ud;
	if (c->state != MM_WHOAMI)
		return;
	if (jv_get_kind(d->fail) != JV_KIND_NULL) {
		if (jv_get_kind(c->fail) == JV_KIND_NULL)
			c->fail = jv_copy(d->fail);
		return;
	}
	const char *id = bot_str(d->body, "id"), *name = bot_str(d->body, "username");
	if (!id) {
		c->fail = bot_fail_code("connection_lost", 1, "mattermost: users/me gave no id");
		return;
	}
	snprintf(c->self_id, sizeof c->self_id, "%s", id);
	snprintf(c->self_name, sizeof c->self_name, "%s", name ? name : id);
	remember(c, c->self_id, c->self_name);
	open_socket(c);
}

static int mm_start(void *be, jv *err)
{
	struct mm *c = be;
	if (!c->started) {
		load_cursor(c);
		c->started = 1;
	}
	jv_free(c->fail);
	c->fail = jv_null();
	jv url = api_url(c, JV_ARRAY(jv_string("users"), jv_string("me")), jv_null());
	struct bot_http_req req = { .url = jv_string_value(url), .headers = auth_headers(c) };
	long id = bot_http_start(c->m, &req, whoami_done, c, err);
	jv_free(url);
	if (id < 0)
		return -1;
	c->state = MM_WHOAMI;
	return 0;
}

static void mm_prepare(void *be, struct bot_poll *p)
{
	struct mm *c = be;
	bot_http_multi_prepare(c->m, p);
	if (c->ws)
		bot_ws_prepare(c->ws, p);
	if (jv_get_kind(c->fail) != JV_KIND_NULL)
		bot_poll_deadline(p, 0);
}

static void drop_socket(struct mm *c)
{
	if (c->ws)
		bot_ws_free(c->ws);
	c->ws = NULL;
	c->state = MM_IDLE;
}

static int mm_dispatch(void *be, const struct bot_poll *p, jv *err)
{
	struct mm *c = be;
	bot_http_multi_dispatch(c->m, p);
	/* Read even while lagging: the pongs that keep the socket alive come
	 * in the same stream as events (bot-listen queues what we emit). */
	if (c->ws)
		bot_ws_dispatch(c->ws, p);
	if (jv_get_kind(c->fail) == JV_KIND_NULL)
		return 0;
	*err = c->fail;
	c->fail = jv_null();
	drop_socket(c);
	if (c->since > 0)
		c->lost = 1;   /* catch up at the next hello */
	return -1;
}

static void mm_stop(void *be)
{
	struct mm *c = be;
	if (c->ws && bot_ws_alive(c->ws))
		bot_ws_close(c->ws, 1000, "bye");
	drop_socket(c);
}

/* ---- deliveries -------------------------------------------------------- */

struct job {
	struct mm *c;
	bot_done_fn done;
	void *ctx;
	jv body;          /* the post to make once the channel is known */
	char *path;       /* a file to upload first */
	char *name;
	jv to;            /* the recipient, while it is looked up */
	int reaction;     /* j->to is a reaction event waiting for users/me */
	int step;         /* what the next answer is for */
};

enum { J_ME, J_CHANNEL, J_USER, J_DIRECT, J_UPLOAD, J_FINAL, J_ROOM };

static void job_end(struct job *j, jv result)
{
	j->done(j->ctx, result);
	jv_free(j->body);
	jv_free(j->to);
	free(j->path);
	free(j->name);
	free(j);
}

static void job_http(void *ud, const struct bot_http_done *d);

static void job_start(struct job *j, const char *method, jv url, jv json)
{
	struct bot_http_req req = { .method = method, .url = jv_string_value(url),
	                            .headers = auth_headers(j->c), .json = json };
	jv err = jv_null();
	if (bot_http_start(j->c->m, &req, job_http, j, &err) < 0)
		job_end(j, err);
	else
		jv_free(err);
	jv_free(url);
}

static jv id_result(jv body)
{
	jv id = bot_get(body, "id");
	if (jv_get_kind(id) != JV_KIND_STRING) {
		jv_free(id);
		id = jv_null();
	}
	return JV_OBJECT(jv_string("id"), id);
}

static void post_now(struct job *j, const char *channel_id)
{
	j->body = jv_object_set(j->body, jv_string("channel_id"), jv_string(channel_id));
	if (j->path) {
		j->step = J_UPLOAD;
		jv url = api_url(j->c, JV_ARRAY(jv_string("files")), jv_null());
		struct bot_http_req req = {
			.method = "POST", .url = jv_string_value(url), .headers = auth_headers(j->c),
			.form = JV_OBJECT(jv_string("channel_id"), jv_string(channel_id)),
			.upload_path = j->path, .upload_field = "files",
			.upload_name = j->name, .upload_type = "application/octet-stream",
		};
		jv err = jv_null();
		if (bot_http_start(j->c->m, &req, job_http, j, &err) < 0)
			job_end(j, err);
		else
			jv_free(err);
		jv_free(url);
		return;
	}
	j->step = J_FINAL;
	job_start(j, "POST", api_url(j->c, JV_ARRAY(jv_string("posts")), jv_null()), jv_copy(j->body));
}

static void post_to(struct job *j);
static void submit_reaction(struct job *j);

static void job_http(void *ud, const struct bot_http_done *d)
{
	struct job *j = ud;
	if (jv_get_kind(d->fail) != JV_KIND_NULL) {
		jv f = jv_copy(d->fail);
		if ((j->step == J_CHANNEL || j->step == J_USER) && d->status == 404)
			f = (jv_free(f), bot_fail_code("room_does_not_exist", 0, "mattermost: no such channel or user"));
		job_end(j, f);
		return;
	}
	const char *id = bot_str(d->body, "id");
	switch (j->step) {
	case J_ME:
		if (!id) {
			job_end(j, bot_fail_code("send_failed", 1, "mattermost: users/me gave no id"));
			return;
		}
		snprintf(j->c->self_id, sizeof j->c->self_id, "%s", id);
		if (j->reaction)
			submit_reaction(j);
		else
			post_to(j);
		return;
	case J_CHANNEL:
	case J_DIRECT:
		if (!id) {
			job_end(j, bot_fail_code("send_failed", 1, "mattermost: the channel has no id"));
			return;
		}
		post_now(j, id);
		return;
	case J_USER:
		if (!id) {
			job_end(j, bot_fail_code("send_failed", 1, "mattermost: the user has no id"));
			return;
		}
		j->step = J_DIRECT;
		job_start(j, "POST", api_url(j->c, JV_ARRAY(jv_string("channels"), jv_string("direct")), jv_null()),
		          JV_ARRAY(jv_string(j->c->self_id), jv_string(id)));
		return;
	case J_UPLOAD: {
		jv infos = bot_get(d->body, "file_infos");
		jv first = jv_get_kind(infos) == JV_KIND_ARRAY ? jv_array_get(jv_copy(infos), 0) : jv_null();
		const char *fid = jv_is_valid(first) ? bot_str(first, "id") : NULL;
		if (!fid) {
			jv_free(infos);
			jv_free(first);
			job_end(j, bot_fail_code("send_failed", 1, "mattermost: the upload gave no file id"));
			return;
		}
		j->body = jv_object_set(j->body, jv_string("file_ids"), JV_ARRAY(jv_string(fid)));
		jv_free(infos);
		jv_free(first);
		free(j->path);
		j->path = NULL;
		j->step = J_FINAL;
		job_start(j, "POST", api_url(j->c, JV_ARRAY(jv_string("posts")), jv_null()), jv_copy(j->body));
		return;
	}
	default:
		job_end(j, id_result(d->body));
	}
}

/* Find the channel of j->to, then post j->body there. */
static void post_to(struct job *j)
{
	struct mm *c = j->c;
	jv to = j->to;
	const char *chan = bot_str(to, "channel_id");
	const char *id = bot_ident_id(to);
	if (!chan && id)
		chan = is_mm_id(id) ? id : recall(c, id);
	if (chan && is_mm_id(chan)) {
		post_now(j, chan);
		return;
	}
	if (!id) {
		job_end(j, bot_fail_code("bad_input", 0, "mattermost: no recipient"));
		return;
	}
	if (id[0] == '@') {
		if (!c->self_id[0]) {   /* a one-shot send: who is the bot? */
			j->step = J_ME;
			job_start(j, "GET", api_url(c, JV_ARRAY(jv_string("users"), jv_string("me")), jv_null()),
			          jv_null());
			return;
		}
		j->step = J_USER;
		job_start(j, "GET", api_url(c, JV_ARRAY(jv_string("users"), jv_string("username"), jv_string(id + 1)),
		                            jv_null()), jv_null());
		return;
	}
	if (id[0] == '~' && c->team) {
		j->step = J_CHANNEL;
		job_start(j, "GET", api_url(c, JV_ARRAY(jv_string("teams"), jv_string("name"), jv_string(c->team),
		                                        jv_string("channels"), jv_string("name"), jv_string(id + 1)),
		                            jv_null()), jv_null());
		return;
	}
	job_end(j, bot_fail_code("bad_input", 0, "mattermost: %s: give --mattermost-team to send to a ~channel",
	                         id[0] == '~' ? "a channel name" : "a recipient"));
}

/* Slack-compatible attachments from a card event (look-only). */
static jv card_attachment(jv ev)
{
	jv a = jv_object();
	static const char *const map[][2] = {
		{ "title", "title" }, { "link", "title_link" }, { "body", "text" },
		{ "summary", "pretext" }, { "image", "image_url" }, { "thumbnail", "thumb_url" },
		{ "color", "color" },
	};
	for (size_t i = 0; i < sizeof map / sizeof *map; i++) {
		const char *v = bot_str(ev, map[i][0]);
		if (v)
			a = jv_object_set(a, jv_string(map[i][1]), jv_string(v));
	}
	const char *fb = bot_str(ev, "title") ? bot_str(ev, "title") : bot_str(ev, "body");
	a = jv_object_set(a, jv_string("fallback"), jv_string(fb ? fb : "card"));
	jv fields = bot_get(ev, "fields"), out = jv_array();
	if (jv_get_kind(fields) == JV_KIND_ARRAY)
		jv_array_foreach(fields, i, f) {
			jv k = jv_get_kind(f) == JV_KIND_ARRAY ? jv_array_get(jv_copy(f), 0) : jv_null();
			jv v = jv_get_kind(f) == JV_KIND_ARRAY ? jv_array_get(jv_copy(f), 1) : jv_null();
			if (jv_get_kind(k) == JV_KIND_STRING && jv_get_kind(v) == JV_KIND_STRING)
				out = jv_array_append(out, JV_OBJECT(jv_string("title"), k, jv_string("value"), v,
				                                     jv_string("short"), jv_true()));
			else {
				jv_free(k);
				jv_free(v);
			}
			jv_free(f);
			(void)i;
		}
	jv_free(fields);
	if (jv_array_length(jv_copy(out)) > 0)
		a = jv_object_set(a, jv_string("fields"), out);
	else
		jv_free(out);
	return JV_OBJECT(jv_string("attachments"), JV_ARRAY(a));
}

/* root_id for a message in a thread (look-only ev). */
static jv thread_root(jv ev)
{
	jv parent = bot_get(ev, "parent");
	jv id = bot_get(parent, "id");
	jv_free(parent);
	if (jv_get_kind(id) == JV_KIND_STRING)
		return id;
	jv_free(id);
	return jv_null();
}

static struct job *job_new(struct mm *c, bot_done_fn done, void *ctx)
{
	struct job *j = calloc(1, sizeof *j);
	if (!j)
		abort();
	*j = (struct job){ .c = c, .done = done, .ctx = ctx, .body = jv_object(), .to = jv_null() };
	return j;
}

/* A reaction (the event is j->to) added or removed as the bot. */
static void submit_reaction(struct job *j)
{
	struct mm *c = j->c;
	jv ev = j->to;
	jv rt = bot_get(ev, "reacted_to");
	const char *post = bot_str(rt, "id"), *emoji = bot_str(ev, "reaction_name");
	const char *action = bot_str(ev, "action");
	if (!post || !emoji) {
		jv_free(rt);
		job_end(j, bot_fail_code("bad_input", 0, "mattermost: a reaction needs reacted_to.id and reaction_name"));
		return;
	}
	if (!c->self_id[0]) {   /* a one-shot send: who is the bot? */
		jv_free(rt);
		j->reaction = 1;
		j->step = J_ME;
		job_start(j, "GET", api_url(c, JV_ARRAY(jv_string("users"), jv_string("me")), jv_null()), jv_null());
		return;
	}
	j->step = J_FINAL;
	if (action && !strcmp(action, "removed"))
		job_start(j, "DELETE", api_url(c, JV_ARRAY(jv_string("users"), jv_string("me"), jv_string("posts"),
		                                           jv_string(post), jv_string("reactions"), jv_string(emoji)),
		                               jv_null()), jv_null());
	else
		job_start(j, "POST", api_url(c, JV_ARRAY(jv_string("reactions")), jv_null()),
		          JV_OBJECT(jv_string("user_id"), jv_string(c->self_id), jv_string("post_id"),
		                    jv_string(post), jv_string("emoji_name"), jv_string(emoji)));
	jv_free(rt);
}

static int submit_rjob(struct mm *c, const char *type, jv ev, bot_done_fn done, void *ctx, jv *err);

static int mm_submit(void *be, const struct bot_part *part, bot_done_fn done, void *ctx, jv *err)
{
	struct mm *c = be;
	const char *type = part->type;
	jv ev = part->event;
	if (!strcmp(type, "room") || !strcmp(type, "presence"))
		return submit_rjob(c, type, ev, done, ctx, err);
	if (strcmp(type, "message") && strcmp(type, "card") && strcmp(type, "reaction") &&
	    strcmp(type, "delete") && strcmp(type, "stream")) {
		*err = bot_fail_code("unsupported", 0, "mattermost: %s events are not delivered", type);
		return -1;
	}
	struct job *j = job_new(c, done, ctx);
	if (!strcmp(type, "reaction")) {
		j->to = jv_copy(ev);
		submit_reaction(j);
		return 0;
	}
	if (!strcmp(type, "delete")) {
		const char *id = bot_str(ev, "deletes");
		j->step = J_FINAL;
		job_start(j, "DELETE", api_url(c, JV_ARRAY(jv_string("posts"), jv_string(id ? id : "")), jv_null()),
		          jv_null());
		return 0;
	}
	if (part->replaces) {
		j->step = J_FINAL;
		job_start(j, "PUT", api_url(c, JV_ARRAY(jv_string("posts"), jv_string(part->replaces),
		                                        jv_string("patch")), jv_null()),
		          JV_OBJECT(jv_string("message"), jv_string(part->text ? part->text : "")));
		return 0;
	}
	j->body = jv_object_set(j->body, jv_string("message"), jv_string(part->text ? part->text : ""));
	jv root = thread_root(ev);
	if (jv_get_kind(root) == JV_KIND_STRING)
		j->body = jv_object_set(j->body, jv_string("root_id"), root);
	else
		jv_free(root);
	if (part->key)
		j->body = jv_object_set(j->body, jv_string("pending_post_id"), jv_string(part->key));
	if (!strcmp(type, "card") && !part->text)
		j->body = jv_object_set(j->body, jv_string("props"), card_attachment(ev));
	if (!strcmp(type, "stream")) {
		const char *path = bot_str(ev, "path"), *name = bot_str(ev, "name");
		const char *slash = path ? strrchr(path, '/') : NULL;
		j->path = dup_or_null(path);
		j->name = dup_or_null(name ? name : slash ? slash + 1 : path);
	}
	j->to = bot_get(ev, "to");
	post_to(j);
	return 0;
}

/* ---- rooms and the bot's presence --------------------------------------- *
 *
 * bot-room's actions on the v4 API, each a few calls in turn; what is
 * known so far lives in the job, and room_next asks for the next missing
 * piece (who the bot is, the team's id, the channel's id, the invitee's id,
 * the channel, its member count, the bot's membership), then makes the
 * call the action is about and answers with the room event.
 *   join      POST /channels/{id}/members {user_id}; a ~name that does not
 *             exist is created (POST /channels), as the seed's join does
 *   create    POST /channels {team_id, name, display_name, type "O"}
 *   leave     DELETE /channels/{id}/members/{bot's id}
 *   destroy   DELETE /channels/{id} (Mattermost archives the channel)
 *   topic     the channel's header: GET /channels/{id}, PUT .../patch
 *   invite    GET /users/username/{name}, POST /channels/{id}/members
 *   occupants GET /channels/{id}/members, POST /users/ids for the names
 *   info      GET /channels/{id}, .../stats, .../members/{bot's id}
 *   list      GET /users/{bot's id}/teams/{team id}/channels
 * The bot's presence: PUT /users/{id}/status, and with a message PUT
 * /users/{id}/status/custom. */

#define MM_MEMBERS_PAGE 200      /* occupants: members a page */
#define MM_MEMBERS_PAGES 50      /* and at most that many pages */

enum rstep { RS_ME, RS_TEAM, RS_CHANNEL, RS_GETCH, RS_USER, RS_STATS, RS_MEMBER, RS_MEMBERS,
             RS_NAMES, RS_FINAL, RS_CUSTOM };

struct rjob {
	struct mm *c;
	bot_done_fn done;
	void *ctx;
	jv ev;                 /* the room or presence event */
	char action[16];       /* a room action, or "presence" */
	char chan[64];         /* the channel's id once known */
	char user[64];         /* invite: the invitee's id once known */
	jv channel;            /* the channel object once fetched, else null */
	jv members;            /* occupants: the member list, else null */
	jv names;              /* occupants: the users, else null */
	jv result;             /* the final call's answer, else null */
	int creating;          /* join: the ~name does not exist, create it */
	int missing;           /* info: the channel does not exist */
	int joined;            /* info: -1 unknown */
	double users;          /* info: member count, -1 unknown */
	int custom_done;       /* presence: the custom status is set */
	int pages;             /* occupants: member pages read */
	int more;              /* occupants: the last page was full */
	enum rstep step;
};

static int is_action(const struct rjob *r, const char *a)
{
	return !strcmp(r->action, a);
}

static void rjob_end(struct rjob *r, jv result)
{
	r->done(r->ctx, result);
	jv_free(r->ev);
	jv_free(r->channel);
	jv_free(r->members);
	jv_free(r->names);
	jv_free(r->result);
	free(r);
}

static void room_http(void *ud, const struct bot_http_done *d);

static void rjob_call(struct rjob *r, enum rstep step, const char *method, jv url, jv json)
{
	r->step = step;
	struct bot_http_req req = { .method = method, .url = jv_string_value(url),
	                            .headers = auth_headers(r->c), .json = json };
	jv err = jv_null();
	if (bot_http_start(r->c->m, &req, room_http, r, &err) < 0)
		rjob_end(r, err);
	else
		jv_free(err);
	jv_free(url);
}

/* The room identifier the event names: its id ("~name" or an id). */
static const char *room_id_of(jv ev)
{
	jv room = bot_get(ev, "room");
	const char *id = bot_ident_room(room);
	if (!id)
		id = bot_ident_id(room);   /* a bare string */
	jv_free(room);
	return id;                     /* lives in ev */
}

static jv room_ident(struct rjob *r)
{
	const char *id = room_id_of(r->ev);
	jv room = bot_room(id ? id : "");
	if (r->chan[0])
		room = jv_object_set(room, jv_string("channel_id"), jv_string(r->chan));
	return room;
}

static jv room_reply(struct rjob *r, jv ans)
{
	jv ref = bot_get(r->ev, "id");
	if (jv_get_kind(ref) != JV_KIND_NULL)
		return jv_object_set(ans, jv_string("ref"), ref);
	jv_free(ref);
	return ans;
}

/* The username of user id among the users fetched (look-only), or NULL. */
static const char *username_in(jv users, const char *id)
{
	const char *name = NULL;
	if (jv_get_kind(users) == JV_KIND_ARRAY)
		jv_array_foreach(users, i, u) {
			const char *uid = bot_str(u, "id");
			if (!name && uid && !strcmp(uid, id))
				name = bot_str(u, "username");   /* users holds u */
			jv_free(u);
			(void)i;
		}
	return name;
}

static jv occupants_of(struct rjob *r)
{
	jv out = jv_array();
	const char *room = room_id_of(r->ev);
	jv_array_foreach(r->members, i, m) {
		const char *uid = bot_str(m, "user_id");
		if (uid) {
			const char *name = username_in(r->names, uid);
			jv o = bot_occupant(room ? room : r->chan, name ? name : uid, NULL);
			out = jv_array_append(out, jv_object_set(o, jv_string("userid"), jv_string(uid)));
		}
		jv_free(m);
		(void)i;
	}
	return out;
}

static jv list_rooms(struct rjob *r)
{
	jv rooms = jv_array();
	if (jv_get_kind(r->result) == JV_KIND_ARRAY)
		jv_array_foreach(r->result, i, ch) {
			const char *id = bot_str(ch, "id"), *name = bot_str(ch, "name");
			const char *type = bot_str(ch, "type");
			if (id && name && (!type || !strcmp(type, "O") || !strcmp(type, "P"))) {
				jv rid = jv_string_fmt("~%s", name);
				jv room = bot_room(jv_string_value(rid));
				jv_free(rid);
				room = jv_object_set(room, jv_string("channel_id"), jv_string(id));
				const char *h = bot_str(ch, "header");
				room = jv_object_set(room, jv_string("topic"), jv_string(h ? h : ""));
				room = jv_object_set(room, jv_string("joined"), jv_true());
				rooms = jv_array_append(rooms, room);
			}
			jv_free(ch);
			(void)i;
		}
	return room_reply(r, JV_OBJECT(jv_string("type"), jv_string("room"), jv_string("action"),
	                               jv_string("list"), jv_string("rooms"), rooms));
}

/* The answer event, once everything the action needs is known. */
static jv room_result(struct rjob *r)
{
	if (is_action(r, "presence"))
		return JV_OBJECT(jv_string("id"), jv_null());
	if (is_action(r, "list"))
		return list_rooms(r);
	jv ans = room_reply(r, bot_room_event(r->action, room_ident(r)));
	const char *header = bot_str(r->channel, "header");
	if (is_action(r, "join") || is_action(r, "create")) {
		ans = jv_object_set(ans, jv_string("joined"), jv_true());
	} else if (is_action(r, "leave")) {
		ans = jv_object_set(ans, jv_string("joined"), jv_false());
	} else if (is_action(r, "invite")) {
		ans = jv_object_set(ans, jv_string("identifier"), bot_get(r->ev, "identifier"));
	} else if (is_action(r, "topic")) {
		const char *set = bot_str(r->ev, "topic");
		ans = jv_object_set(ans, jv_string("topic"), jv_string(set ? set : header ? header : ""));
	} else if (is_action(r, "occupants")) {
		ans = jv_object_set(ans, jv_string("occupants"), occupants_of(r));
	} else if (is_action(r, "info")) {
		ans = jv_object_set(ans, jv_string("exists"), jv_bool(!r->missing));
		ans = jv_object_set(ans, jv_string("joined"), jv_bool(r->joined > 0));
		if (!r->missing) {
			ans = jv_object_set(ans, jv_string("topic"), jv_string(header ? header : ""));
			if (r->users >= 0)
				ans = jv_object_set(ans, jv_string("users"), jv_number(r->users));
		}
	}
	return ans;
}

/* create and list need the team's id (a ~name is looked up by names). */
static int needs_team(const struct rjob *r)
{
	return is_action(r, "create") || is_action(r, "list") || r->creating;
}

/* The channel's name for create (and a join that creates): a ~name. */
static const char *new_channel_name(struct rjob *r)
{
	const char *id = room_id_of(r->ev);
	return id && id[0] == '~' && id[1] ? id + 1 : NULL;
}

static void room_create(struct rjob *r)
{
	const char *name = new_channel_name(r);
	if (!name) {
		rjob_end(r, bot_fail_code("bad_input", 0, "mattermost: create a channel by its ~name"));
		return;
	}
	rjob_call(r, RS_FINAL, "POST", api_url(r->c, JV_ARRAY(jv_string("channels")), jv_null()),
	          JV_OBJECT(jv_string("team_id"), jv_string(r->c->team_id), jv_string("name"), jv_string(name),
	                    jv_string("display_name"), jv_string(name), jv_string("type"), jv_string("O")));
}

/* Find the channel's id: it is the identifier, or its ~name's lookup. */
static int room_resolve(struct rjob *r)
{
	const char *id = room_id_of(r->ev);
	jv room = bot_get(r->ev, "room");
	const char *known = bot_str(room, "channel_id");
	if (!known && id)
		known = is_mm_id(id) ? id : recall(r->c, id);
	if (known && is_mm_id(known)) {
		snprintf(r->chan, sizeof r->chan, "%s", known);
		jv_free(room);
		return 0;
	}
	jv_free(room);
	if (!id || id[0] != '~' || !id[1]) {
		rjob_end(r, bot_fail_code("bad_input", 0, "mattermost: a room is ~channel or a channel id"));
		return -1;
	}
	if (!r->c->team) {
		rjob_end(r, bot_fail_code("bad_config", 0, "room: give --mattermost-team (the team of ~channel names)"));
		return -1;
	}
	rjob_call(r, RS_CHANNEL, "GET",
	          api_url(r->c, JV_ARRAY(jv_string("teams"), jv_string("name"), jv_string(r->c->team),
	                                 jv_string("channels"), jv_string("name"), jv_string(id + 1)), jv_null()),
	          jv_null());
	return -1;
}

/* The invitee's id: its userid, a bare id, or GET /users/username/NAME. */
static int room_invitee(struct rjob *r)
{
	jv who = bot_get(r->ev, "identifier");
	const char *uid = bot_str(who, "userid"), *id = bot_ident_person(who);
	if (!id)
		id = bot_ident_id(who);
	if (!uid && id && is_mm_id(id + (id[0] == '@')))
		uid = id + (id[0] == '@');
	if (uid && is_mm_id(uid)) {
		snprintf(r->user, sizeof r->user, "%s", uid);
		jv_free(who);
		return 0;
	}
	if (!id || id[0] != '@' || !id[1]) {
		jv_free(who);
		rjob_end(r, bot_fail_code("bad_input", 0, "mattermost: invite an @username"));
		return -1;
	}
	jv url = api_url(r->c, JV_ARRAY(jv_string("users"), jv_string("username"), jv_string(id + 1)), jv_null());
	jv_free(who);
	rjob_call(r, RS_USER, "GET", url, jv_null());
	return -1;
}

static jv channel_url(struct rjob *r, jv more)
{
	jv segs = JV_ARRAY(jv_string("channels"), jv_string(r->chan));
	jv_array_foreach(more, i, s) {
		segs = jv_array_append(segs, s);
		(void)i;
	}
	jv_free(more);
	return api_url(r->c, segs, jv_null());
}

/* The bot's own presence: its status, then the custom status's text. */
static void presence_next(struct rjob *r)
{
	struct mm *c = r->c;
	const char *msg = bot_str(r->ev, "message");
	jv me = jv_string(c->self_id);
	if (r->step != RS_FINAL && r->step != RS_CUSTOM) {
		const char *s = bot_str(r->ev, "status");
		rjob_call(r, RS_FINAL, "PUT", api_url(c, JV_ARRAY(jv_string("users"), jv_copy(me), jv_string("status")),
		                                      jv_null()),
		          JV_OBJECT(jv_string("user_id"), me, jv_string("status"), jv_string(s ? s : "online")));
	} else if (msg && *msg && !r->custom_done) {
		r->custom_done = 1;
		rjob_call(r, RS_CUSTOM, "PUT", api_url(c, JV_ARRAY(jv_string("users"), me, jv_string("status"),
		                                                   jv_string("custom")), jv_null()),
		          JV_OBJECT(jv_string("emoji"), jv_string("speech_balloon"), jv_string("text"), jv_string(msg)));
	} else {
		jv_free(me);
		rjob_end(r, room_result(r));
	}
}

/* The action's own calls, once the ids are known. */
static void room_act(struct rjob *r)
{
	struct mm *c = r->c;
	if (r->step == RS_FINAL) {
		rjob_end(r, room_result(r));
		return;
	}
	if (is_action(r, "info") || (is_action(r, "topic") && !bot_str(r->ev, "topic"))) {
		if (jv_get_kind(r->channel) != JV_KIND_OBJECT)
			rjob_call(r, RS_GETCH, "GET", channel_url(r, jv_array()), jv_null());
		else if (is_action(r, "topic"))
			rjob_end(r, room_result(r));
		else if (r->users < 0)
			rjob_call(r, RS_STATS, "GET", channel_url(r, JV_ARRAY(jv_string("stats"))), jv_null());
		else if (r->joined < 0)
			rjob_call(r, RS_MEMBER, "GET", channel_url(r, JV_ARRAY(jv_string("members"), jv_string(c->self_id))),
			          jv_null());
		else
			rjob_end(r, room_result(r));
		return;
	}
	if (is_action(r, "occupants")) {
		if (jv_get_kind(r->members) != JV_KIND_ARRAY || (r->more && r->pages < MM_MEMBERS_PAGES)) {
			jv u = channel_url(r, JV_ARRAY(jv_string("members")));
			jv q = jv_string_fmt("%s?page=%d&per_page=%d", jv_string_value(u), r->pages, MM_MEMBERS_PAGE);
			jv_free(u);
			rjob_call(r, RS_MEMBERS, "GET", q, jv_null());
		} else if (jv_get_kind(r->names) != JV_KIND_ARRAY && jv_array_length(jv_copy(r->members)) > 0) {
			jv ids = jv_array();
			jv_array_foreach(r->members, i, m) {
				const char *uid = bot_str(m, "user_id");
				if (uid)
					ids = jv_array_append(ids, jv_string(uid));
				jv_free(m);
				(void)i;
			}
			rjob_call(r, RS_NAMES, "POST", api_url(c, JV_ARRAY(jv_string("users"), jv_string("ids")), jv_null()),
			          ids);
		} else {
			rjob_end(r, room_result(r));
		}
		return;
	}
	if ((is_action(r, "join") && r->creating) || is_action(r, "create"))
		room_create(r);
	else if (is_action(r, "join") || is_action(r, "invite"))
		rjob_call(r, RS_FINAL, "POST", channel_url(r, JV_ARRAY(jv_string("members"))),
		          JV_OBJECT(jv_string("user_id"), jv_string(is_action(r, "join") ? c->self_id : r->user)));
	else if (is_action(r, "leave"))
		rjob_call(r, RS_FINAL, "DELETE", channel_url(r, JV_ARRAY(jv_string("members"), jv_string(c->self_id))),
		          jv_null());
	else if (is_action(r, "destroy"))
		rjob_call(r, RS_FINAL, "DELETE", channel_url(r, jv_array()), jv_null());
	else if (is_action(r, "topic"))
		rjob_call(r, RS_FINAL, "PUT", channel_url(r, JV_ARRAY(jv_string("patch"))),
		          JV_OBJECT(jv_string("header"), jv_string(bot_str(r->ev, "topic"))));
	else if (is_action(r, "list"))
		rjob_call(r, RS_FINAL, "GET",
		          api_url(c, JV_ARRAY(jv_string("users"), jv_string(c->self_id), jv_string("teams"),
		                              jv_string(c->team_id), jv_string("channels")), jv_null()), jv_null());
	else
		rjob_end(r, bot_fail_code("unsupported", 0, "room: Mattermost cannot %s", r->action));
}

/* Ask for the next thing the job lacks, or act. */
static void room_next(struct rjob *r)
{
	struct mm *c = r->c;
	if (!c->self_id[0]) {
		rjob_call(r, RS_ME, "GET", api_url(c, JV_ARRAY(jv_string("users"), jv_string("me")), jv_null()), jv_null());
		return;
	}
	if (is_action(r, "presence")) {
		presence_next(r);
		return;
	}
	if (needs_team(r) && !c->team_id[0]) {
		if (!c->team) {
			rjob_end(r, bot_fail_code("bad_config", 0, "room: give --mattermost-team (the team of ~channel names)"));
			return;
		}
		rjob_call(r, RS_TEAM, "GET", api_url(c, JV_ARRAY(jv_string("teams"), jv_string("name"), jv_string(c->team)),
		                                     jv_null()), jv_null());
		return;
	}
	if (!is_action(r, "list") && !is_action(r, "create") && !r->creating && !r->chan[0] && room_resolve(r) < 0)
		return;
	if (is_action(r, "invite") && !r->user[0] && room_invitee(r) < 0)
		return;
	room_act(r);
}

/* A 404 that answers the question rather than failing it. */
static int room_not_found(struct rjob *r)
{
	if ((r->step == RS_CHANNEL || r->step == RS_GETCH) && is_action(r, "info")) {
		r->missing = 1;
		rjob_end(r, room_result(r));
		return 1;
	}
	if (r->step == RS_CHANNEL && is_action(r, "join")) {
		r->creating = 1;
		room_next(r);
		return 1;
	}
	if (r->step == RS_MEMBER) {
		r->joined = 0;
		room_next(r);
		return 1;
	}
	return 0;
}

static void room_http(void *ud, const struct bot_http_done *d)
{
	struct rjob *r = ud;
	struct mm *c = r->c;
	if (jv_get_kind(d->fail) != JV_KIND_NULL) {
		if (d->status == 404 && room_not_found(r))
			return;
		jv f = jv_copy(d->fail);
		if (d->status == 404 && (r->step == RS_CHANNEL || r->step == RS_GETCH || r->step == RS_TEAM))
			f = (jv_free(f), bot_fail_code("room_does_not_exist", 0, "mattermost: no such %s",
			                               r->step == RS_TEAM ? "team" : "channel"));
		else if (d->status == 404 && r->step == RS_USER)
			f = (jv_free(f), bot_fail_code("bad_input", 0, "mattermost: no such user"));
		rjob_end(r, f);
		return;
	}
	const char *id = bot_str(d->body, "id");
	switch (r->step) {
	case RS_ME:
	case RS_TEAM:
	case RS_USER:
		if (!id || !is_mm_id(id)) {
			rjob_end(r, bot_fail_code("send_failed", 1, "mattermost: the answer has no id"));
			return;
		}
		snprintf(r->step == RS_ME ? c->self_id : r->step == RS_TEAM ? c->team_id : r->user,
		         sizeof c->self_id, "%s", id);
		break;
	case RS_CHANNEL:
	case RS_GETCH:
		if (!id || !is_mm_id(id)) {
			rjob_end(r, bot_fail_code("send_failed", 1, "mattermost: the channel has no id"));
			return;
		}
		snprintf(r->chan, sizeof r->chan, "%s", id);
		jv_free(r->channel);
		r->channel = jv_copy(d->body);
		break;
	case RS_STATS:
		r->users = num_or(d->body, "member_count", 0);
		break;
	case RS_MEMBER:
		r->joined = 1;
		break;
	case RS_MEMBERS: {   /* page by page, until one is not full */
		jv page = jv_get_kind(d->body) == JV_KIND_ARRAY ? jv_copy(d->body) : jv_array();
		r->more = jv_array_length(jv_copy(page)) >= MM_MEMBERS_PAGE;
		r->pages++;
		if (jv_get_kind(r->members) != JV_KIND_ARRAY) {
			jv_free(r->members);
			r->members = jv_array();
		}
		r->members = jv_array_concat(r->members, page);
		break;
	}
	case RS_NAMES:
		jv_free(r->names);
		r->names = jv_get_kind(d->body) == JV_KIND_ARRAY ? jv_copy(d->body) : jv_array();
		break;
	case RS_FINAL:
	case RS_CUSTOM:
		jv_free(r->result);
		r->result = jv_copy(d->body);
		if (id && is_mm_id(id) && (is_action(r, "create") || r->creating))
			snprintf(r->chan, sizeof r->chan, "%s", id);
		break;
	}
	room_next(r);
}

/* A room (bot-room) or presence event as a job; 0, or -1 + *err. */
static int submit_rjob(struct mm *c, const char *type, jv ev, bot_done_fn done, void *ctx, jv *err)
{
	const char *a = !strcmp(type, "presence") ? "presence" : bot_str(ev, "action");
	if (!a || strlen(a) >= sizeof ((struct rjob *)0)->action) {
		*err = bot_fail_code("bad_input", 0, "room: no action");
		return -1;
	}
	if (!strcmp(type, "presence")) {
		jv who = bot_get(ev, "identifier");
		const char *uid = bot_str(who, "userid"), *id = bot_ident_id(who);
		int other = jv_get_kind(who) != JV_KIND_NULL &&
		            !(uid && c->self_id[0] && !strcmp(uid, c->self_id)) &&
		            !(id && id[0] == '@' && c->self_name[0] && !strcmp(id + 1, c->self_name));
		jv_free(who);
		const char *s = bot_str(ev, "status");
		if (other) {
			*err = bot_fail_code("unsupported", 0, "mattermost sets only the bot's own presence (no \"identifier\")");
			return -1;
		}
		if (s && strcmp(s, "online") && strcmp(s, "away") && strcmp(s, "dnd") && strcmp(s, "offline")) {
			*err = bot_fail_code("bad_input", 0, "presence: status is online, away, dnd or offline");
			return -1;
		}
	}
	struct rjob *r = calloc(1, sizeof *r);
	if (!r)
		abort();
	*r = (struct rjob){ .c = c, .done = done, .ctx = ctx, .ev = jv_copy(ev), .channel = jv_null(),
	                    .members = jv_null(), .names = jv_null(), .result = jv_null(), .joined = -1,
	                    .users = -1, .step = RS_ME };
	snprintf(r->action, sizeof r->action, "%s", a);
	room_next(r);
	return 0;
}

/* ---- inbound files ------------------------------------------------------ */

struct fetch {
	struct mm *c;
	jv from;
	char *name, *mime;
	char path[4096];
};

static void file_fetched(void *ud, const struct bot_http_done *d)
{
	struct fetch *f = ud;
	int ok = jv_get_kind(d->fail) == JV_KIND_NULL;
	if (!ok) {
		char buf[256];
		bot_warn("mattermost: a file could not be fetched: %s", bot_fail_message(d->fail, buf, sizeof buf));
	}
	f->c->host->emit(f->c->host,
	                 bot_stream_event(f->from, f->name ? f->name : "file", ok ? f->path : NULL, f->mime,
	                                  -1, -1, ok ? "success" : "error"),
	                 jv_null());
	free(f->name);
	free(f->mime);
	free(f);
}

static void fetch_file(struct mm *c, const char *file_id, const char *name, const char *mime, jv from)
{
	struct fetch *f = calloc(1, sizeof *f);
	if (!f)
		abort();
	*f = (struct fetch){ .c = c, .from = from, .name = dup_or_null(name), .mime = dup_or_null(mime) };
	jv err = jv_null();
	if (c->host->spool_path(c->host, name ? name : "", f->path, sizeof f->path, &err) < 0) {
		jv_free(err);
		jv_free(f->from);
		free(f->name);
		free(f->mime);
		free(f);
		return;
	}
	jv url = api_url(c, JV_ARRAY(jv_string("files"), jv_string(file_id)), jv_null());
	struct bot_http_req req = { .url = jv_string_value(url), .headers = auth_headers(c),
	                            .download_path = f->path, .download_max = MM_FILE_MAX };
	if (bot_http_start(c->m, &req, file_fetched, f, &err) < 0) {
		jv_free(f->from);
		free(f->name);
		free(f->mime);
		free(f);
	}
	jv_free(err);
	jv_free(url);
}

/* ---- open, close, the model --------------------------------------------- */

static void mm_close(void *be)
{
	struct mm *c = be;
	if (!c)
		return;
	if (c->ws)
		bot_ws_free(c->ws);
	if (c->m)
		bot_http_cancel_all(c->m);   /* jobs answered "cancelled" */
	bot_http_multi_free(c->m);
	free(c->base);
	free(c->ws_url);
	free(c->team);
	free(c->cafile);
	free_secret(c->auth);
	free_secret(c->token);
	jv_free(c->fail);
	jv_free(c->channels);
	jv_free(c->names);
	jv_free(c->seen);
	jv_free(c->seen_order);
	free(c);
}

static void *mm_open(const struct bot_config *cfg, struct bot_host *host, jv *err)
{
	struct mm *c = calloc(1, sizeof *c);
	if (!c) {
		*err = bot_fail("out of memory");
		return NULL;
	}
	c->host = host;
	c->fail = jv_null();
	c->channels = jv_array();
	c->names = jv_object();
	c->seen = jv_object();
	c->seen_order = jv_array();
	c->seq = -1;
	const char *url = bot_cfg_str(cfg, "mattermost-url");
	const char *token = bot_cfg_str(cfg, "mattermost-token");
	if (!url || (strncmp(url, "http://", 7) && strncmp(url, "https://", 8))) {
		*err = bot_fail("--mattermost-url: expected the server's http:// or https:// URL");
		goto fail;
	}
	if (!token || !*token || bot_has_line_break(token, strlen(token))) {
		*err = bot_fail("no Mattermost token: set BOT_MATTERMOST_TOKEN or BOT_MATTERMOST_TOKEN_FILE");
		goto fail;
	}
	c->base = strdup(url);
	size_t n = strlen(c->base);
	while (n > 0 && c->base[n - 1] == '/')
		c->base[--n] = 0;
	const char *ws = bot_cfg_str(cfg, "mattermost-ws-url");
	if (ws)
		c->ws_url = strdup(ws);
	else {
		jv u = jv_string_fmt("%s/api/v4/websocket", c->base);
		c->ws_url = strdup(jv_string_value(u));
		jv_free(u);
	}
	c->team = dup_or_null(bot_cfg_str(cfg, "mattermost-team"));
	c->cafile = dup_or_null(bot_cfg_str(cfg, "mattermost-cafile"));
	c->token = strdup(token);
	jv a = jv_string_fmt("Authorization: Bearer %s", token);
	c->auth = strdup(jv_string_value(a));
	jv_free(a);
	long ping = bot_cfg_int(cfg, "mattermost-ping", 30);
	c->ping_ms = (ping > 0 ? ping : 30) * 1000;
	if (!(c->m = bot_http_multi_new(err)))
		goto fail;
	bot_http_multi_set_cafile(c->m, c->cafile);
	return c;
fail:
	mm_close(c);
	return NULL;
}

static int mm_idle(void *be)
{
	return bot_http_running(((struct mm *)be)->m) == 0;
}

/* "@name" a person; "~name" or a 26-character id a room. */
static jv mm_build_identifier(void *be, const char *s)
{
	(void)be;
	size_t n = s ? strlen(s) : 0;
	if (!n || n > 128 || bot_has_line_break(s, n))
		return bot_fail_code("bad_input", 0, "a Mattermost identifier is @user, ~channel or a channel id");
	if (s[0] == '@' && s[1])
		return bot_person(s, s + 1);
	if ((s[0] == '~' && s[1]) || is_mm_id(s))
		return bot_room(s);
	return bot_fail_code("bad_input", 0, "a Mattermost identifier is @user, ~channel or a channel id");
}

static int mm_is_from_self(void *be, jv ev)
{
	struct mm *c = be;
	if (!c->self_id[0])
		return 0;
	jv who = bot_get(ev, "from");
	if (jv_get_kind(who) == JV_KIND_NULL) {
		jv_free(who);
		who = bot_get(ev, "reactor");
	}
	const char *uid = bot_str(who, "userid");
	int self = uid && !strcmp(uid, c->self_id);
	jv_free(who);
	return self;
}

static jv mm_mention(void *be, jv ident, jv body)
{
	(void)be;
	const char *nick = bot_str(ident, "nick");
	jv out = nick ? jv_string_fmt("@%s %s", nick, jv_string_value(body)) : jv_copy(body);
	jv_free(body);
	return out;
}

static size_t mm_size_limit(void *be, jv to)
{
	(void)be;
	(void)to;
	return MM_SIZE_LIMIT;
}

const struct bot_backend bot_backend = {
	.size = sizeof(struct bot_backend),
	.abi = BOT_BACKEND_ABI,
	.name = "mattermost",
	.markup = "mattermost",
	.options = mm_options,
	.can = BOT_CAN_LISTEN | BOT_CAN_CARD | BOT_CAN_REACTION | BOT_CAN_STREAM | BOT_CAN_EDIT |
	       BOT_CAN_DELETE | BOT_CAN_ROOM | BOT_CAN_PRESENCE | BOT_CAN_SESSION,
	.size_unit = BOT_UNIT_CHARS,
	.reaction_names = BOT_EMOJI_MATTERMOST,
	.open = mm_open,
	.close = mm_close,
	.start = mm_start,
	.prepare = mm_prepare,
	.dispatch = mm_dispatch,
	.stop = mm_stop,
	.commit = mm_commit,
	.submit = mm_submit,
	.idle = mm_idle,
	.build_identifier = mm_build_identifier,
	.is_from_self = mm_is_from_self,
	.mention = mm_mention,
	.size_limit = mm_size_limit,
};
