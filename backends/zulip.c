/* zulip.c: the Zulip backend (REST API v1, HTTP Basic email:api_key).
 *
 * Listening: POST /register makes an event queue, GET /events long-polls
 * it with the queue id and the last event id.  The last event id is the
 * cursor: it goes into a mark, is saved (with the queue id) in the state
 * store once the events up to it are written, and is only then sent back
 * to the server (which drops what it acknowledges).  A kill -9 re-reads.
 *
 * Zulip keeps a queue's events until they are acknowledged, and drops an
 * idle queue (about 10 minutes without a client): the next poll answers
 * 400 BAD_EVENT_QUEUE_ID, and what happened between the expiry and a new
 * register is not in any queue.  We then register again, and fetch the
 * messages after the last one we emitted with GET /messages (anchor) up to
 * the new queue's max_message_id; message events of the new queue at or
 * below the highest message id emitted are dropped (ids only grow), so
 * nothing is repeated.  Reactions, edits and deletes in the gap cannot be
 * fetched again: they are lost (botpipe-backends(7)).
 *
 * Identifiers follow errbot's Zulip backend: a person's id is the email, a
 * stream message's room is "stream/topic" (errbot's ZulipRoom title and
 * subject), its sender an occupant of that room.
 */
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

#define ZULIP_SIZE_LIMIT 10000        /* bytes (max_message_length) */
#define ZULIP_POLL_TIMEOUT_MS 120000L /* the server sends heartbeats ~1/min */
#define ZULIP_CATCHUP_PAGE 100
#define ZULIP_CACHE 256               /* recent messages, for edits and reactions */
#define ZULIP_FILES_MAX 4             /* files fetched per message */

static const struct bot_option zulip_options[] = {
	{ "zulip-site", 0, BOT_OPT_STR | BOT_OPT_IDENTITY, "URL", NULL,
	  "the Zulip server's base URL (https://chat.example.org)" },
	{ "zulip-email", 0, BOT_OPT_STR | BOT_OPT_IDENTITY, "EMAIL", NULL,
	  "the bot's email address (its user name for the API)" },
	{ "zulip-api-key", 0, BOT_OPT_SECRET, "KEY", NULL,
	  "the bot's API key" },
	{ "zulip-file-max", 0, BOT_OPT_INT, "BYTES", "26214400",
	  "download files in messages up to BYTES into the spool (0: never)" },
	{ "zulip-cafile", 0, BOT_OPT_STR, "FILE", NULL,
	  "trust the certificates in FILE instead of the system's" },
	BOT_OPTIONS_END
};

enum phase { PH_IDLE, PH_ME, PH_REGISTER, PH_CATCHUP, PH_POLL, PH_ITEMS };

struct cached { long long id; jv from, to; };

struct zl {
	struct bot_host *host;
	struct bot_http_multi *m;
	char site[512];
	char *email, *key;
	long timeout_ms;
	size_t file_max;
	int listening, said_up;
	enum phase phase;
	long xfer;                 /* the listening transfer running, 0 none */
	jv failure;                /* the connection's end, for dispatch */
	/* the cursor */
	char queue_id[128];
	long long last_event_id;   /* the highest event id read */
	long long acked;           /* committed: what the next poll may send */
	long long marked;          /* the highest event id put in a mark */
	long long max_msg;         /* the highest message id emitted */
	long long catch_up_to;     /* messages to fetch up to (0: none) */
	/* who we are (GET /users/me) */
	long long user_id;
	char full_name[256];
	/* items being turned into events (events of a poll, or caught up
	 * messages), one at a time: a message with files waits for them */
	jv items;
	int next;
	jv held;                   /* the events of the current item */
	jv files;                  /* its /user_uploads/ paths left to fetch */
	struct cached cache[ZULIP_CACHE];
	int cache_next;
};

/* ---- small helpers ----------------------------------------------------- */

static long long num(jv obj, const char *key, long long def)
{
	jv v = bot_get(obj, key);
	long long r = jv_get_kind(v) == JV_KIND_NUMBER ? (long long)jv_number_value(v) : def;
	jv_free(v);
	return r;
}

static void secret_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* site + "/api/v1/" + segments, query: a jv string. */
static jv api_url(struct zl *z, jv segments, jv query)
{
	char base[600];
	snprintf(base, sizeof base, "%s/api/v1", z->site);
	return bot_http_url(base, segments, query);
}

static jv seg1(const char *a) { return JV_ARRAY(jv_string(a)); }

/* Start a request with our credentials and Zulip's error envelope. */
static long call(struct zl *z, const char *method, jv url, jv form, long timeout_ms,
                 bot_http_done_fn *done, void *ud, jv *err)
{
	jv body = jv_null();
	if (jv_get_kind(form) == JV_KIND_OBJECT)
		body = bot_http_form_encode(form);
	else
		jv_free(form);
	struct bot_http_req req = {
		.method = method, .url = jv_string_value(url),
		.body = jv_get_kind(body) == JV_KIND_STRING ? jv_string_value(body) : NULL,
		.body_len = jv_get_kind(body) == JV_KIND_STRING ? (size_t)jv_string_length_bytes(jv_copy(body)) : 0,
		.content_type = jv_get_kind(body) == JV_KIND_STRING ? "application/x-www-form-urlencoded" : NULL,
		.user = z->email, .password = z->key,
		.timeout_ms = timeout_ms ? timeout_ms : z->timeout_ms,
		.connect_timeout_ms = z->timeout_ms,
		.envelope = bot_http_envelope_result,
	};
	long id = bot_http_start(z->m, &req, done, ud, err);
	jv_free(body);
	jv_free(url);
	return id;
}

/* A transfer's failure, with what Zulip said ("msg", one line) in its
 * message: "Invalid API key" says more than "HTTP 401". */
static jv failure_of(const struct bot_http_done *d)
{
	jv fail = jv_copy(d->fail);
	const char *msg = bot_str(d->body, "msg");
	if (!msg || !*msg || !jv_invalid_has_msg(jv_copy(fail)))
		return fail;
	jv obj = jv_invalid_get_msg(fail);
	if (jv_get_kind(obj) != JV_KIND_OBJECT)
		return jv_invalid_with_msg(obj);
	char line[300];
	bot_oneline(line, sizeof line, msg, strlen(msg));
	obj = jv_object_set(obj, jv_string("message"),
	                    d->status ? jv_string_fmt("zulip: %s (HTTP %ld)", line, d->status)
	                              : jv_string_fmt("zulip: %s", line));
	return jv_invalid_with_msg(obj);
}

/* ---- identifiers ------------------------------------------------------- */

static jv person_of(const char *email, const char *name, long long uid)
{
	jv p = bot_person(email, name && *name ? name : email);
	if (name)
		p = jv_object_set(p, jv_string("fullname"), jv_string(name));
	if (uid > 0)
		p = jv_object_set(p, jv_string("user_id"), jv_number((double)uid));
	return p;
}

static jv room_of(const char *stream, const char *topic)
{
	jv id = jv_string_fmt("%s/%s", stream, topic ? topic : "");
	jv r = bot_room(jv_string_value(id));
	jv_free(id);
	r = jv_object_set(r, jv_string("stream"), jv_string(stream));
	return jv_object_set(r, jv_string("topic"), jv_string(topic ? topic : ""));
}

/* "#stream/topic", "stream/topic" or "stream": a room; "email@host" (or
 * "@email@host"): a person. */
static jv zulip_parse_identifier(const char *s)
{
	if (!s || !*s || strlen(s) > 1024 || bot_has_line_break(s, strlen(s)) ||
	    !bot_utf8_valid(s, strlen(s)))
		return bot_fail_code("bad_input", 0, "a Zulip identifier is an email or stream/topic");
	if (s[0] == '#')
		s++;
	else if (strchr(s, '@') && !strchr(s, '/'))
		return person_of(s[0] == '@' ? s + 1 : s, NULL, 0);
	const char *slash = strchr(s, '/');
	if (slash == s || !*s)
		return bot_fail_code("bad_input", 0, "a Zulip stream has a name: STREAM/TOPIC");
	if (!slash) {
		jv r = bot_room(s);
		return jv_object_set(r, jv_string("stream"), jv_string(s));
	}
	char stream[256];
	size_t n = (size_t)(slash - s);
	if (n >= sizeof stream)
		return bot_fail_code("bad_input", 0, "a Zulip stream name is at most 60 characters");
	memcpy(stream, s, n);
	stream[n] = '\0';
	return room_of(stream, slash + 1);
}

/* The stream and topic a room or occupant is in; 0, or -1 when not one. */
static int stream_topic(jv to, const char **stream, const char **topic)
{
	const char *k = bot_ident_kind(to);
	if (!k || !strcmp(k, "person"))
		return -1;
	/* rooms and occupants we make carry both */
	*stream = bot_str(to, "stream");
	*topic = bot_str(to, "topic");
	return *stream ? 0 : -1;
}

/* ---- the cache of recent messages ---------------------------------------- */

static void cache_put(struct zl *z, long long id, jv from, jv to)
{
	struct cached *c = &z->cache[z->cache_next];
	z->cache_next = (z->cache_next + 1) % ZULIP_CACHE;
	jv_free(c->from);
	jv_free(c->to);
	*c = (struct cached){ id, from, to };
}

static struct cached *cache_get(struct zl *z, long long id)
{
	for (int i = 0; i < ZULIP_CACHE; i++)
		if (z->cache[i].id == id && id > 0)
			return &z->cache[i];
	return NULL;
}

/* ---- events from Zulip --------------------------------------------------- */

/* Each "/user_uploads/PATH" linked in content (markdown "(/user_uploads/..)"),
 * as the path after /user_uploads/, checked: URL-safe bytes only, no "..". */
static jv upload_links(const char *content)
{
	jv out = jv_array();
	const char *needle = "(/user_uploads/";
	for (const char *p = content; p && (p = strstr(p, needle)); ) {
		p += strlen(needle);
		size_t n = strcspn(p, ")");
		int ok = n > 0 && n < 400 && p[n] == ')';
		for (size_t i = 0; ok && i < n; i++)
			ok = isalnum((unsigned char)p[i]) || strchr("/._-%~", p[i]);
		char path[400];
		if (ok) {
			memcpy(path, p, n);
			path[n] = '\0';
			ok = !strstr(path, "..") && !strstr(path, "//");
		}
		if (ok && jv_array_length(jv_copy(out)) < ZULIP_FILES_MAX)
			out = jv_array_append(out, jv_string(path));
		p += n;
	}
	return out;
}

/* The file's name shown: the last segment of its path. */
static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* A Zulip message as a botpipe message (its ends cached). */
static jv message_event(struct zl *z, jv msg)
{
	long long id = num(msg, "id", 0);
	const char *email = bot_str(msg, "sender_email");
	const char *name = bot_str(msg, "sender_full_name");
	const char *type = bot_str(msg, "type");
	const char *content = bot_str(msg, "content");
	if (!id || !email || !type || !content)
		return jv_invalid();
	long long uid = num(msg, "sender_id", 0);
	jv from, to;
	if (!strcmp(type, "stream")) {
		const char *stream = bot_str(msg, "display_recipient");
		const char *topic = bot_str(msg, "subject");
		if (!topic)
			topic = bot_str(msg, "topic");
		if (!stream)
			return jv_invalid();
		to = room_of(stream, topic);
		from = bot_occupant(bot_str(to, "id"), name ? name : email, email);
		from = jv_object_set(from, jv_string("person"), jv_string(email));
		from = jv_object_set(from, jv_string("stream"), jv_string(stream));
		from = jv_object_set(from, jv_string("topic"), jv_string(topic ? topic : ""));
		if (name)
			from = jv_object_set(from, jv_string("fullname"), jv_string(name));
		if (uid > 0)
			from = jv_object_set(from, jv_string("user_id"), jv_number((double)uid));
	} else {
		from = person_of(email, name, uid);
		to = person_of(z->email, z->full_name[0] ? z->full_name : NULL, z->user_id);
	}
	cache_put(z, id, jv_copy(from), jv_copy(to));
	jv ev = bot_message(from, to, content);
	ev = jv_object_set(ev, jv_string("id"), jv_string_fmt("%lld", id));
	long long ts = num(msg, "timestamp", 0);
	if (ts > 0)
		ev = jv_object_set(ev, jv_string("timestamp"), jv_number((double)ts));
	return ev;
}

static jv reactor_of(jv e)
{
	jv user = bot_get(e, "user");
	const char *email = bot_str(user, "email");
	long long uid = num(e, "user_id", 0);
	char idtext[32];
	snprintf(idtext, sizeof idtext, "%lld", uid);
	/* without the (older) "user" object only the user id is known */
	jv p = person_of(email ? email : idtext, bot_str(user, "full_name"), uid);
	jv_free(user);
	return p;
}

/* A Unicode reaction's emoji, from its code ("1f44d"): every emoji, not
 * only those whose names the table knows. */
static jv with_emoji(jv ev, jv e)
{
	const char *kind = bot_str(e, "reaction_type");
	jv emoji = kind && !strcmp(kind, "unicode_emoji") ? bot_emoji_from_code(bot_str(e, "emoji_code"))
	                                                  : jv_invalid();
	if (!jv_is_valid(emoji)) {
		jv_free(emoji);
		return ev;
	}
	return jv_object_set(ev, jv_string("emoji"), emoji);
}

static jv reacted_to_of(struct zl *z, long long mid)
{
	jv r = JV_OBJECT(jv_string("id"), jv_string_fmt("%lld", mid));
	struct cached *c = cache_get(z, mid);
	if (c) {
		r = jv_object_set(r, jv_string("from"), jv_copy(c->from));
		r = jv_object_set(r, jv_string("to"), jv_copy(c->to));
	}
	return r;
}

/* The botpipe events of one Zulip event, appended to evs. */
static jv events_of(struct zl *z, jv e, jv evs)
{
	const char *type = bot_str(e, "type");
	if (!type)
		return evs;
	if (!strcmp(type, "message")) {
		jv msg = bot_get(e, "message");
		long long id = num(msg, "id", 0);
		if (id > z->max_msg) {   /* else caught up already */
			jv ev = message_event(z, msg);
			if (jv_is_valid(ev)) {
				z->max_msg = id;
				evs = jv_array_append(evs, ev);
			} else
				jv_free(ev);
		}
		jv_free(msg);
	} else if (!strcmp(type, "reaction")) {
		const char *op = bot_str(e, "op"), *name = bot_str(e, "emoji_name");
		long long mid = num(e, "message_id", 0);
		if (op && name && mid > 0) {
			jv ev = bot_reaction_event(reactor_of(e), !strcmp(op, "remove") ? "removed" : "added",
			                           name, reacted_to_of(z, mid), NULL);
			evs = jv_array_append(evs, with_emoji(ev, e));
		}
	} else if (!strcmp(type, "update_message")) {
		long long mid = num(e, "message_id", 0);
		const char *content = bot_str(e, "content");
		struct cached *c = cache_get(z, mid);
		if (content && c && !bot_true(e, "rendering_only")) {
			jv ev = bot_message(jv_copy(c->from), jv_copy(c->to), content);
			ev = jv_object_set(ev, jv_string("id"), jv_string_fmt("%lld.e%lld", mid,
			                   num(e, "edit_timestamp", 0)));
			ev = jv_object_set(ev, jv_string("replaces"), jv_string_fmt("%lld", mid));
			evs = jv_array_append(evs, ev);
		} else if (content)
			bot_debug("zulip: an edit of message %lld we have not seen is not passed on", mid);
	} else if (!strcmp(type, "delete_message")) {
		long long mid = num(e, "message_id", 0);
		struct cached *c = cache_get(z, mid);
		if (c) {
			jv ev = JV_OBJECT(jv_string("type"), jv_string("delete"),
			                  jv_string("to"), jv_copy(c->to),
			                  jv_string("deletes"), jv_string_fmt("%lld", mid));
			evs = jv_array_append(evs, ev);
		}
	}
	return evs;
}

/* ---- the listening connection --------------------------------------------- */

static void lose(struct zl *z, jv failure)
{
	if (jv_get_kind(z->failure) == JV_KIND_NULL) {
		z->failure = failure;
	} else
		jv_free(failure);
	z->phase = PH_IDLE;
}

static jv mark_of(struct zl *z, long long event_id)
{
	return JV_OBJECT(jv_string("queue_id"), jv_string(z->queue_id),
	                 jv_string("last_event_id"), jv_number((double)event_id),
	                 jv_string("max_message_id"), jv_number((double)z->max_msg),
	                 jv_string("catch_up_to"), jv_number((double)z->catch_up_to));
}

static void take_items(struct zl *z);
static void start_poll(struct zl *z);
static void start_catchup(struct zl *z);

/* Hand on the held events; the last one carries the mark of event_id. */
static void emit_held(struct zl *z, long long event_id)
{
	jv held = z->held;
	z->held = jv_array();
	int n = jv_array_length(jv_copy(held));
	jv_array_foreach(held, i, ev) {
		jv mark = jv_null();
		if (i == n - 1) {
			mark = mark_of(z, event_id);
			if (event_id > z->marked)
				z->marked = event_id;
		}
		z->host->emit(z->host, ev, mark);
	}
	jv_free(held);
}

static long long item_event_id(struct zl *z, jv item)
{
	long long id = num(item, "id", -2);
	return id == -2 ? z->acked : id;   /* a caught-up message: no event id */
}

static void fetch_next_file(struct zl *z);

/* The current file is done: its stream event (success or error) joins the
 * held events, then the next file, or the item is finished. */
static void file_done(struct zl *z, const char *path, long long size, const char *why)
{
	jv f = jv_array_get(jv_copy(z->files), 0);
	z->files = jv_array_slice(z->files, 1, jv_array_length(jv_copy(z->files)));
	jv msg = jv_array_get(jv_copy(z->held), 0);
	jv ev = bot_stream_event(bot_get(msg, "from"), base_name(jv_string_value(f)), path, NULL,
	                         path ? size : -1, path ? size : 0, path ? "success" : "error");
	ev = jv_object_set(ev, jv_string("to"), bot_get(msg, "to"));
	ev = jv_object_set(ev, jv_string("id"), jv_string_fmt("%s.f%d", bot_str(msg, "id"),
	                   jv_array_length(jv_copy(z->held))));
	if (why)
		ev = jv_object_set(ev, jv_string("message"), jv_string(why));
	jv_free(msg);
	jv_free(f);
	z->held = jv_array_append(z->held, ev);
	fetch_next_file(z);
}

static void downloaded(void *ud, const struct bot_http_done *d)
{
	struct zl *z = ud;
	z->xfer = 0;
	if (jv_get_kind(d->fail) != JV_KIND_NULL || !d->file) {
		char why[300];
		bot_fail_message(d->fail, why, sizeof why);
		if (bot_fail_temporary(d->fail) && !d->status) {
			lose(z, failure_of(d));
			return;
		}
		file_done(z, NULL, -1, why);
		return;
	}
	FILE *fp = fopen(d->file, "rb");
	long long size = -1;
	if (fp && fseek(fp, 0, SEEK_END) == 0)
		size = ftell(fp);
	if (fp)
		fclose(fp);
	file_done(z, d->file, size, NULL);
}

/* GET /user_uploads/{path} answered a temporary URL: download it. */
static void got_file_url(void *ud, const struct bot_http_done *d)
{
	struct zl *z = ud;
	z->xfer = 0;
	if (jv_get_kind(d->fail) != JV_KIND_NULL) {
		char why[300];
		if (bot_fail_temporary(d->fail) && !d->status) {
			lose(z, failure_of(d));
			return;
		}
		file_done(z, NULL, -1, bot_fail_message(d->fail, why, sizeof why));
		return;
	}
	const char *url = bot_str(d->body, "url");
	jv f = jv_array_get(jv_copy(z->files), 0);
	char spool[1024];
	jv err = jv_null();
	if (!url || url[0] != '/' || url[1] == '/' ||
	    z->host->spool_path(z->host, base_name(jv_string_value(f)), spool, sizeof spool, &err) < 0) {
		char why[300];
		jv_free(f);
		file_done(z, NULL, -1, url && url[0] == '/' && url[1] != '/' ?
		          bot_fail_message(err, why, sizeof why) : "the server gave no file URL");
		jv_free(err);
		return;
	}
	jv_free(f);
	jv_free(err);
	/* the temporary URL is on our site: never a host the message names */
	jv full = jv_string_fmt("%s%s", z->site, url);
	struct bot_http_req req = { .url = jv_string_value(full), .user = z->email, .password = z->key,
	                            .timeout_ms = z->timeout_ms, .download_path = spool,
	                            .download_max = z->file_max };
	jv e2 = jv_null();
	z->xfer = bot_http_start(z->m, &req, downloaded, z, &e2);
	jv_free(full);
	if (z->xfer < 0) {
		char why[300];
		z->xfer = 0;
		file_done(z, NULL, -1, bot_fail_message(e2, why, sizeof why));
	}
	jv_free(e2);
}

/* The next file of the held message, or the item's end. */
static void fetch_next_file(struct zl *z)
{
	if (jv_array_length(jv_copy(z->files)) == 0) {
		jv item = jv_array_get(jv_copy(z->items), z->next);
		long long eid = item_event_id(z, item);
		jv_free(item);
		emit_held(z, eid);
		z->next++;
		take_items(z);
		return;
	}
	jv f = jv_array_get(jv_copy(z->files), 0);
	jv segs = seg1("user_uploads");
	/* the path was checked: it is sent as it is, segment by segment */
	char path[400];
	snprintf(path, sizeof path, "%s", jv_string_value(f));
	jv_free(f);
	for (char *s = strtok(path, "/"); s; s = strtok(NULL, "/"))
		segs = jv_array_append(segs, jv_string(s));
	jv err = jv_null();
	z->xfer = call(z, "GET", api_url(z, segs, jv_null()), jv_null(), 0, got_file_url, z, &err);
	if (z->xfer < 0) {
		char why[300];
		z->xfer = 0;
		file_done(z, NULL, -1, bot_fail_message(err, why, sizeof why));
	}
	jv_free(err);
}

/* Turn the items into events, one by one; then catch up or poll. */
static void take_items(struct zl *z)
{
	z->phase = PH_ITEMS;
	int n = jv_array_length(jv_copy(z->items));
	while (z->next < n) {
		jv item = jv_array_get(jv_copy(z->items), z->next);
		z->held = events_of(z, item, z->held);
		jv first = jv_array_length(jv_copy(z->held)) ? jv_array_get(jv_copy(z->held), 0) : jv_null();
		jv_free(z->files);
		const char *type = bot_str(first, "type");
		if (z->file_max && type && !strcmp(type, "message") && !bot_str(first, "replaces"))
			z->files = upload_links(bot_str(first, "body"));
		else
			z->files = jv_array();
		jv_free(first);
		jv_free(item);
		if (jv_array_length(jv_copy(z->files)) > 0) {
			fetch_next_file(z);
			return;
		}
		item = jv_array_get(jv_copy(z->items), z->next);
		long long eid = item_event_id(z, item);
		jv_free(item);
		if (jv_array_length(jv_copy(z->held)))
			emit_held(z, eid);
		z->next++;
	}
	jv_free(z->items);
	z->items = jv_array();
	z->next = 0;
	if (z->catch_up_to && z->max_msg < z->catch_up_to && z->phase == PH_ITEMS)
		z->phase = PH_CATCHUP;   /* the next page */
	else {
		if (z->catch_up_to && z->max_msg >= z->catch_up_to)
			z->catch_up_to = 0;
		z->phase = PH_POLL;
	}
}

static void said_up(struct zl *z)
{
	if (!z->said_up) {
		z->said_up = 1;
		z->host->up(z->host);
	}
}

/* A failure of the listening connection (a Zulip error or the transfer's). */
static int queue_gone(const struct bot_http_done *d)
{
	return d->status == 400 && bot_str(d->body, "code") &&
	       !strcmp(bot_str(d->body, "code"), "BAD_EVENT_QUEUE_ID");
}

static void start_register(struct zl *z);

static void polled(void *ud, const struct bot_http_done *d)
{
	struct zl *z = ud;
	z->xfer = 0;
	if (queue_gone(d)) {
		bot_info("zulip: the event queue expired; registering a new one");
		z->queue_id[0] = '\0';
		start_register(z);
		return;
	}
	if (jv_get_kind(d->fail) != JV_KIND_NULL) {
		lose(z, failure_of(d));
		return;
	}
	said_up(z);
	jv events = bot_get(d->body, "events");
	if (jv_get_kind(events) != JV_KIND_ARRAY) {
		jv_free(events);
		lose(z, bot_fail_code("send_failed", 1, "zulip: GET /events answered no events"));
		return;
	}
	jv_array_foreach(events, i, e) {
		long long id = num(e, "id", -1);
		if (id > z->last_event_id)
			z->last_event_id = id;
		jv_free(e);
		(void)i;
	}
	jv_free(z->items);
	z->items = events;
	z->next = 0;
	take_items(z);
}

/* The next poll waits until every mark handed on is committed: the
 * server drops what last_event_id acknowledges. */
static int may_poll(struct zl *z)
{
	return z->listening && z->phase == PH_POLL && !z->xfer && z->acked >= z->marked &&
	       jv_get_kind(z->failure) == JV_KIND_NULL &&
	       !(z->host->lagging && z->host->lagging(z->host));
}

static void start_poll(struct zl *z)
{
	jv q = JV_OBJECT(jv_string("queue_id"), jv_string(z->queue_id),
	                 jv_string("last_event_id"), jv_string_fmt("%lld", z->last_event_id));
	jv err = jv_null();
	z->xfer = call(z, "GET", api_url(z, seg1("events"), q), jv_null(), ZULIP_POLL_TIMEOUT_MS,
	               polled, z, &err);
	if (z->xfer < 0) {
		z->xfer = 0;
		lose(z, err);
		return;
	}
	jv_free(err);
}

static void caught_up(void *ud, const struct bot_http_done *d)
{
	struct zl *z = ud;
	z->xfer = 0;
	if (jv_get_kind(d->fail) != JV_KIND_NULL) {
		lose(z, failure_of(d));
		return;
	}
	jv msgs = bot_get(d->body, "messages");
	jv items = jv_array();
	long long before = z->max_msg;
	if (jv_get_kind(msgs) == JV_KIND_ARRAY)
		jv_array_foreach(msgs, i, m) {
			items = jv_array_append(items, JV_OBJECT(jv_string("type"), jv_string("message"),
			                                          jv_string("message"), m));
			(void)i;
		}
	jv_free(msgs);
	int more = !bot_true(d->body, "found_newest") && jv_array_length(jv_copy(items)) > 0;
	jv_free(z->items);
	z->items = items;
	z->next = 0;
	take_items(z);
	/* a page that brought nothing new, or the newest: the gap is closed */
	if (z->phase == PH_CATCHUP && (!more || z->max_msg == before)) {
		z->catch_up_to = 0;
		z->phase = PH_POLL;
	}
}

static void start_catchup(struct zl *z)
{
	jv q = JV_OBJECT(jv_string("anchor"), jv_string_fmt("%lld", z->max_msg),
	                 jv_string("num_before"), jv_string("0"),
	                 jv_string("num_after"), jv_string_fmt("%d", ZULIP_CATCHUP_PAGE),
	                 jv_string("include_anchor"), jv_string("false"),
	                 jv_string("apply_markdown"), jv_string("false"),
	                 jv_string("narrow"), jv_string("[]"));
	jv err = jv_null();
	z->xfer = call(z, "GET", api_url(z, seg1("messages"), q), jv_null(), 0, caught_up, z, &err);
	if (z->xfer < 0) {
		z->xfer = 0;
		lose(z, err);
		return;
	}
	jv_free(err);
}

static void registered(void *ud, const struct bot_http_done *d)
{
	struct zl *z = ud;
	z->xfer = 0;
	if (jv_get_kind(d->fail) != JV_KIND_NULL) {
		lose(z, failure_of(d));
		return;
	}
	const char *q = bot_str(d->body, "queue_id");
	if (!q || strlen(q) >= sizeof z->queue_id) {
		lose(z, bot_fail_code("send_failed", 1, "zulip: register answered no queue_id"));
		return;
	}
	snprintf(z->queue_id, sizeof z->queue_id, "%s", q);
	z->last_event_id = z->acked = z->marked = num(d->body, "last_event_id", -1);
	long long newest = num(d->body, "max_message_id", -1);
	if (z->max_msg <= 0)
		z->max_msg = newest;     /* the first run: no backlog */
	else if (newest > z->max_msg)
		z->catch_up_to = newest; /* messages in the gap */
	said_up(z);
	z->phase = z->catch_up_to ? PH_CATCHUP : PH_POLL;
}

static void start_register(struct zl *z)
{
	jv form = JV_OBJECT(jv_string("event_types"),
	                    jv_string("[\"message\",\"reaction\",\"update_message\",\"delete_message\"]"),
	                    jv_string("fetch_event_types"), jv_string("[\"message\"]"),
	                    jv_string("apply_markdown"), jv_string("false"),
	                    jv_string("all_public_streams"), jv_string("false"));
	jv err = jv_null();
	z->phase = PH_REGISTER;
	z->xfer = call(z, "POST", api_url(z, seg1("register"), jv_null()), form, 0, registered, z, &err);
	if (z->xfer < 0) {
		z->xfer = 0;
		lose(z, err);
		return;
	}
	jv_free(err);
}

static void got_me(void *ud, const struct bot_http_done *d)
{
	struct zl *z = ud;
	z->xfer = 0;
	if (jv_get_kind(d->fail) != JV_KIND_NULL) {
		lose(z, failure_of(d));
		return;
	}
	z->user_id = num(d->body, "user_id", 0);
	const char *name = bot_str(d->body, "full_name");
	snprintf(z->full_name, sizeof z->full_name, "%s", name ? name : "");
	if (z->queue_id[0]) {
		z->phase = z->catch_up_to && z->max_msg < z->catch_up_to ? PH_CATCHUP : PH_POLL;
		return;
	}
	start_register(z);
}

/* The cursor saved by commit: {queue_id, last_event_id, max_message_id,
 * catch_up_to}. */
static void load_cursor(struct zl *z)
{
	jv err = jv_null();
	const char *dir = z->host->state_dir(z->host, &err);
	jv_free(err);
	if (!dir)
		return;
	jv v = bot_state_get(dir, "cursor", 4096);
	if (jv_get_kind(v) == JV_KIND_STRING) {
		jv c = jv_parse(jv_string_value(v));
		const char *q = bot_str(c, "queue_id");
		if (jv_get_kind(c) == JV_KIND_OBJECT && q && *q && strlen(q) < sizeof z->queue_id &&
		    !bot_has_line_break(q, strlen(q))) {
			snprintf(z->queue_id, sizeof z->queue_id, "%s", q);
			z->last_event_id = z->acked = z->marked = num(c, "last_event_id", -1);
			z->max_msg = num(c, "max_message_id", 0);
			z->catch_up_to = num(c, "catch_up_to", 0);
		}
		jv_free(c);
	}
	jv_free(v);
}

static int zulip_start(void *be, jv *err)
{
	struct zl *z = be;
	z->listening = 1;
	z->said_up = 0;
	jv_free(z->failure);
	z->failure = jv_null();
	/* in memory, the cursor is what was committed: kept across reconnects */
	if (!z->queue_id[0])
		load_cursor(z);
	else
		z->last_event_id = z->marked;   /* what a dropped batch had not handed on comes again */
	jv_free(z->items);
	z->items = jv_array();
	z->next = 0;
	jv_free(z->held);
	z->held = jv_array();
	z->phase = PH_ME;
	z->xfer = call(z, "GET", api_url(z, JV_ARRAY(jv_string("users"), jv_string("me")), jv_null()),
	               jv_null(), 0, got_me, z, err);
	if (z->xfer < 0) {
		z->xfer = 0;
		z->phase = PH_IDLE;
		return -1;
	}
	return 0;
}

static void zulip_prepare(void *be, struct bot_poll *p)
{
	struct zl *z = be;
	if (jv_get_kind(z->failure) != JV_KIND_NULL || may_poll(z) ||
	    (z->listening && z->phase == PH_CATCHUP && !z->xfer))
		bot_poll_deadline(p, bot_now_ms());
	bot_http_multi_prepare(z->m, p);
}

static int zulip_dispatch(void *be, const struct bot_poll *p, jv *err)
{
	struct zl *z = be;
	bot_http_multi_dispatch(z->m, p);
	if (jv_get_kind(z->failure) != JV_KIND_NULL) {
		*err = z->failure;
		z->failure = jv_null();
		return -1;
	}
	if (z->listening && z->phase == PH_CATCHUP && !z->xfer)
		start_catchup(z);
	else if (may_poll(z))
		start_poll(z);
	return 0;
}

static void zulip_stop(void *be)
{
	struct zl *z = be;
	z->listening = 0;
	bot_http_cancel_all(z->m);
	z->xfer = 0;
	z->phase = PH_IDLE;
	jv_free(z->failure);
	z->failure = jv_null();
}

static void zulip_commit(void *be, jv mark)
{
	struct zl *z = be;
	const char *q = bot_str(mark, "queue_id");
	long long e = num(mark, "last_event_id", -1);
	if (q && !strcmp(q, z->queue_id) && e > z->acked)
		z->acked = e;
	jv err = jv_null();
	const char *dir = z->host->state_dir(z->host, &err);
	if (dir) {
		jv text = jv_dump_string(jv_copy(mark), 0);
		if (bot_state_put(dir, "cursor", jv_string_value(text),
		                  (size_t)jv_string_length_bytes(jv_copy(text)), &err) < 0) {
			char why[300];
			bot_warn("zulip: cannot save the cursor: %s", bot_fail_message(err, why, sizeof why));
		}
		jv_free(text);
	} else {
		char why[300];
		bot_warn("zulip: cannot save the cursor: %s", bot_fail_message(err, why, sizeof why));
	}
	jv_free(err);
}

/* ---- deliveries ------------------------------------------------------------ */

struct send {
	struct zl *z;
	bot_done_fn done;
	void *ctx;
	jv result;          /* for answers that are not {"id": ...} */
	jv msg_form;        /* a stream: the message that links the upload */
	char name[256];
	int room_action;    /* the answer is a room event */
	int step;           /* a room action's request after the first */
	char stream[256];
	jv ev;
};

static void send_end(struct send *s, jv result)
{
	s->done(s->ctx, result);
	jv_free(s->result);
	jv_free(s->msg_form);
	jv_free(s->ev);
	free(s);
}

static struct send *send_new(struct zl *z, const struct bot_part *part, bot_done_fn done, void *ctx)
{
	struct send *s = calloc(1, sizeof *s);
	if (!s)
		abort();
	*s = (struct send){ .z = z, .done = done, .ctx = ctx, .result = jv_null(),
	                    .msg_form = jv_null(), .ev = jv_copy(part->event) };
	return s;
}

static jv room_answer(jv ev, const char *action, jv room)
{
	jv ans = bot_room_event(action, room);
	jv ref = bot_get(ev, "id");
	if (jv_get_kind(ref) != JV_KIND_NULL)
		return jv_object_set(ans, jv_string("ref"), ref);
	jv_free(ref);
	return ans;
}

static jv id_segs_stream(long long sid)
{
	return JV_ARRAY(jv_string("streams"), jv_number((double)sid));
}

/* The subscription of our list (look-only body) named stream, or null. */
static jv subscription_of(jv body, const char *stream)
{
	jv subs = bot_get(body, "subscriptions"), found = jv_null();
	if (jv_get_kind(subs) == JV_KIND_ARRAY)
		jv_array_foreach(subs, i, sub) {
			const char *name = bot_str(sub, "name");
			if (jv_get_kind(found) == JV_KIND_NULL && name && !strcmp(name, stream)) {
				found = sub;
			} else
				jv_free(sub);
			(void)i;
		}
	jv_free(subs);
	return found;
}

static int send_start(struct send *s, const char *method, jv url, jv form, jv *err);

/* topic and info begin with our subscriptions: the next request, or the
 * answer.  1 when a request was started (the answer comes later). */
static int room_step(struct send *s, const struct bot_http_done *d, jv *answer)
{
	const char *action = bot_str(s->ev, "action");
	const char *topic = bot_str(s->ev, "topic");
	jv room = bot_get(s->ev, "room");
	jv err = jv_null();
	int started = 0;
	if (!strcmp(action, "topic") && s->step == 0) {
		jv sub = subscription_of(d->body, s->stream);
		long long sid = num(sub, "stream_id", 0);
		if (jv_get_kind(sub) == JV_KIND_NULL || sid <= 0) {
			*answer = bot_fail_code("room_not_joined", 0, "%s: not subscribed", s->stream);
		} else if (topic) {
			/* a stream's "topic" is its description: topics proper are per message */
			s->step = 1;
			started = send_start(s, "PATCH", api_url(s->z, id_segs_stream(sid), jv_null()),
			                     JV_OBJECT(jv_string("description"), jv_string(topic)), &err) == 0;
			if (!started)
				*answer = jv_copy(err);
		} else {
			jv ans = room_answer(s->ev, action, jv_copy(room));
			jv desc = bot_get(sub, "description");
			*answer = jv_object_set(ans, jv_string("topic"),
			                        jv_get_kind(desc) == JV_KIND_STRING ? desc : jv_string(""));
			if (jv_get_kind(desc) != JV_KIND_STRING)
				jv_free(desc);
		}
		jv_free(sub);
	} else if (!strcmp(action, "topic")) {
		*answer = jv_object_set(room_answer(s->ev, action, jv_copy(room)), jv_string("topic"),
		                        jv_string(topic ? topic : ""));
	} else if (!strcmp(action, "info") && s->step == 0) {
		jv sub = subscription_of(d->body, s->stream);
		if (jv_get_kind(sub) != JV_KIND_NULL) {
			jv ans = room_answer(s->ev, action, jv_copy(room));
			ans = jv_object_set(ans, jv_string("exists"), jv_true());
			ans = jv_object_set(ans, jv_string("joined"), jv_true());
			*answer = jv_object_set(ans, jv_string("topic"), bot_get(sub, "description"));
		} else {
			/* not ours: does it exist at all? */
			s->step = 1;
			started = send_start(s, "GET", api_url(s->z, seg1("get_stream_id"),
			                     JV_OBJECT(jv_string("stream"), jv_string(s->stream))),
			                     jv_null(), &err) == 0;
			if (!started)
				*answer = jv_copy(err);
		}
		jv_free(sub);
	} else {   /* info, after get_stream_id answered */
		jv ans = room_answer(s->ev, action, jv_copy(room));
		ans = jv_object_set(ans, jv_string("exists"), jv_bool(num(d->body, "stream_id", 0) > 0));
		*answer = jv_object_set(ans, jv_string("joined"), jv_false());
	}
	jv_free(err);
	jv_free(room);
	return started;
}

static jv room_result(struct send *s, jv body)
{
	const char *action = bot_str(s->ev, "action");
	if (!strcmp(action, "list")) {
		jv rooms = jv_array();
		jv subs = bot_get(body, "subscriptions");
		if (jv_get_kind(subs) == JV_KIND_ARRAY)
			jv_array_foreach(subs, i, sub) {
				const char *name = bot_str(sub, "name");
				if (name) {
					jv r = bot_room(name);
					r = jv_object_set(r, jv_string("stream"), jv_string(name));
					r = jv_object_set(r, jv_string("topic"), bot_get(sub, "description"));
					rooms = jv_array_append(rooms, r);
				}
				jv_free(sub);
				(void)i;
			}
		jv_free(subs);
		jv ans = JV_OBJECT(jv_string("type"), jv_string("room"), jv_string("action"), jv_string("list"),
		                   jv_string("rooms"), rooms);
		jv ref = bot_get(s->ev, "id");
		if (jv_get_kind(ref) != JV_KIND_NULL)
			return jv_object_set(ans, jv_string("ref"), ref);
		jv_free(ref);
		return ans;
	}
	jv ans = room_answer(s->ev, action, bot_get(s->ev, "room"));
	return jv_object_set(ans, jv_string("joined"), jv_bool(!strcmp(action, "join")));
}

static void sent(void *ud, const struct bot_http_done *d)
{
	struct send *s = ud;
	const char *action = s->room_action ? bot_str(s->ev, "action") : NULL;
	int multi = action && (!strcmp(action, "topic") || !strcmp(action, "info"));
	if (jv_get_kind(d->fail) != JV_KIND_NULL && multi && s->step == 1 && d->status == 400 &&
	    !strcmp(action, "info")) {
		/* get_stream_id: 400 for a stream that does not exist */
		jv ans = room_answer(s->ev, action, bot_get(s->ev, "room"));
		ans = jv_object_set(ans, jv_string("exists"), jv_false());
		send_end(s, jv_object_set(ans, jv_string("joined"), jv_false()));
		return;
	}
	if (jv_get_kind(d->fail) != JV_KIND_NULL) {
		send_end(s, failure_of(d));
		return;
	}
	if (multi) {
		jv answer = jv_null();
		if (!room_step(s, d, &answer))
			send_end(s, answer);
		else
			jv_free(answer);
		return;
	}
	if (jv_get_kind(s->msg_form) == JV_KIND_OBJECT) {
		/* the upload is done: the message that links it */
		const char *uri = bot_str(d->body, "url");
		if (!uri)
			uri = bot_str(d->body, "uri");
		if (!uri) {
			send_end(s, bot_fail_code("send_failed", 0, "zulip: the upload answered no url"));
			return;
		}
		jv form = s->msg_form;
		s->msg_form = jv_null();
		form = jv_object_set(form, jv_string("content"), jv_string_fmt("[%s](%s)", s->name, uri));
		jv err = jv_null();
		if (send_start(s, "POST", api_url(s->z, seg1("messages"), jv_null()), form, &err) < 0)
			send_end(s, err);
		else
			jv_free(err);
		return;
	}
	if (s->room_action) {
		send_end(s, room_result(s, d->body));
		return;
	}
	if (jv_get_kind(s->result) != JV_KIND_NULL) {
		jv r = s->result;
		s->result = jv_null();
		send_end(s, r);
		return;
	}
	long long id = num(d->body, "id", 0);
	send_end(s, JV_OBJECT(jv_string("id"), id > 0 ? jv_string_fmt("%lld", id) : jv_null()));
}

static int send_start(struct send *s, const char *method, jv url, jv form, jv *err)
{
	return call(s->z, method, url, form, 0, sent, s, err) < 0 ? -1 : 0;
}

/* The fields of a message to `to`: type, to, topic.  null + *err. */
static jv message_form(struct zl *z, jv to, jv *err)
{
	(void)z;
	const char *stream, *topic;
	if (stream_topic(to, &stream, &topic) == 0) {
		if (!topic || !*topic) {
			*err = bot_fail_code("bad_input", 0, "a Zulip stream message needs a topic: STREAM/TOPIC");
			return jv_null();
		}
		return JV_OBJECT(jv_string("type"), jv_string("stream"), jv_string("to"), jv_string(stream),
		                 jv_string("topic"), jv_string(topic));
	}
	const char *k = bot_ident_kind(to);
	const char *email = bot_ident_person(to);
	if (!k || strcmp(k, "person") || !email || !*email) {
		*err = bot_fail_code("bad_input", 0, "a Zulip message goes to a person (email) or STREAM/TOPIC");
		return jv_null();
	}
	jv list = jv_dump_string(JV_ARRAY(jv_string(email)), 0);
	return JV_OBJECT(jv_string("type"), jv_string("private"), jv_string("to"), list);
}

/* A message id from an event field (a number as text). */
static int msg_id(const char *s, long long *out)
{
	if (!s || !*s || strlen(s) > 20)
		return -1;
	char *end;
	long long v = strtoll(s, &end, 10);
	if (*end || v <= 0)
		return -1;
	*out = v;
	return 0;
}

static jv id_segs(const char *what, long long id, const char *tail)
{
	jv segs = JV_ARRAY(jv_string(what), jv_number((double)id));
	return tail ? jv_array_append(segs, jv_string(tail)) : segs;
}

static int submit_room(struct zl *z, const struct bot_part *part, struct send *s, jv *err)
{
	const char *action = bot_str(part->event, "action");
	s->room_action = 1;
	if (action && !strcmp(action, "list"))
		return send_start(s, "GET", api_url(z, JV_ARRAY(jv_string("users"), jv_string("me"),
		                  jv_string("subscriptions")), jv_null()), jv_null(), err);
	jv room = bot_get(part->event, "room");
	const char *stream = bot_str(room, "stream");
	jv parsed = jv_null();
	if (!stream) {
		const char *id = jv_get_kind(room) == JV_KIND_STRING ? jv_string_value(room) : bot_ident_id(room);
		parsed = zulip_parse_identifier(id);
		stream = jv_is_valid(parsed) ? bot_str(parsed, "stream") : NULL;
	}
	int rc = -1;
	if (!action || !stream) {
		*err = bot_fail_code("bad_input", 0, "room: a Zulip stream and an action are needed");
	} else if (!strcmp(action, "join")) {
		jv subs = jv_dump_string(JV_ARRAY(JV_OBJECT(jv_string("name"), jv_string(stream))), 0);
		rc = send_start(s, "POST", api_url(z, JV_ARRAY(jv_string("users"), jv_string("me"),
		                jv_string("subscriptions")), jv_null()),
		                JV_OBJECT(jv_string("subscriptions"), subs), err);
	} else if (!strcmp(action, "topic") || !strcmp(action, "info")) {
		snprintf(s->stream, sizeof s->stream, "%s", stream);
		rc = send_start(s, "GET", api_url(z, JV_ARRAY(jv_string("users"), jv_string("me"),
		                jv_string("subscriptions")), jv_null()), jv_null(), err);
	} else if (!strcmp(action, "leave")) {
		jv subs = jv_dump_string(JV_ARRAY(jv_string(stream)), 0);
		rc = send_start(s, "DELETE", api_url(z, JV_ARRAY(jv_string("users"), jv_string("me"),
		                jv_string("subscriptions")), JV_OBJECT(jv_string("subscriptions"), subs)),
		                jv_null(), err);
	} else
		*err = bot_fail_code("unsupported", 0, "Zulip has no room action %.32s here", action);
	jv_free(room);
	jv_free(parsed);
	return rc;
}

static int zulip_submit(void *be, const struct bot_part *part, bot_done_fn done, void *ctx, jv *err)
{
	struct zl *z = be;
	const char *type = part->type;
	struct send *s = send_new(z, part, done, ctx);
	int rc = -1;
	long long id;
	if (!strcmp(type, "reaction")) {
		jv rt = bot_get(part->event, "reacted_to");
		const char *name = bot_str(part->event, "reaction_name");
		const char *action = bot_str(part->event, "action");
		if (msg_id(bot_str(rt, "id"), &id) < 0 || !name)
			*err = bot_fail_code("bad_input", 0, "reaction: reacted_to.id is a Zulip message id");
		else
			rc = send_start(s, action && !strcmp(action, "removed") ? "DELETE" : "POST",
			                api_url(z, id_segs("messages", id, "reactions"), jv_null()),
			                JV_OBJECT(jv_string("emoji_name"), jv_string(name)), err);
		jv_free(rt);
	} else if (!strcmp(type, "delete")) {
		if (msg_id(bot_str(part->event, "deletes"), &id) < 0)
			*err = bot_fail_code("bad_input", 0, "delete: deletes is a Zulip message id");
		else
			rc = send_start(s, "DELETE", api_url(z, id_segs("messages", id, NULL), jv_null()),
			                jv_null(), err);
	} else if (!strcmp(type, "presence")) {
		const char *st = bot_str(part->event, "status");
		s->result = JV_OBJECT(jv_string("id"), jv_null());
		rc = send_start(s, "POST", api_url(z, JV_ARRAY(jv_string("users"), jv_string("me"),
		                jv_string("presence")), jv_null()),
		                JV_OBJECT(jv_string("status"), jv_string(st && !strcmp(st, "online") ?
		                          "active" : "idle")), err);
	} else if (!strcmp(type, "room")) {
		rc = submit_room(z, part, s, err);
	} else if (!strcmp(type, "stream")) {
		const char *path = bot_str(part->event, "path");
		jv to = bot_get(part->event, "to");
		jv form = message_form(z, to, err);
		jv_free(to);
		if (jv_get_kind(form) == JV_KIND_OBJECT && path) {
			const char *name = bot_str(part->event, "name");
			snprintf(s->name, sizeof s->name, "%s", name ? name : base_name(path));
			for (char *c = s->name; *c; c++)   /* the link text stays one link */
				if (strchr("[]()\r\n", *c))
					*c = '_';
			s->msg_form = form;
			struct bot_http_req req = { .method = "POST", .url = NULL, .user = z->email,
			                            .password = z->key, .timeout_ms = z->timeout_ms,
			                            .upload_path = path, .upload_field = "file",
			                            .upload_name = s->name, .form = jv_object(),
			                            .envelope = bot_http_envelope_result };
			jv url = api_url(z, seg1("user_uploads"), jv_null());
			req.url = jv_string_value(url);
			rc = bot_http_start(z->m, &req, sent, s, err) < 0 ? -1 : 0;
			jv_free(url);
		} else {
			jv_free(form);
			if (!path)
				*err = bot_fail_code("bad_input", 0, "stream: no path");
		}
	} else if (part->replaces) {
		if (msg_id(part->replaces, &id) < 0)
			*err = bot_fail_code("bad_input", 0, "replaces: not a Zulip message id");
		else {
			s->result = JV_OBJECT(jv_string("id"), jv_string(part->replaces));
			rc = send_start(s, "PATCH", api_url(z, id_segs("messages", id, NULL), jv_null()),
			                JV_OBJECT(jv_string("content"), jv_string(part->text ? part->text : "")), err);
		}
	} else {
		jv to = bot_get(part->event, "to");
		jv form = message_form(z, to, err);
		jv_free(to);
		if (jv_get_kind(form) == JV_KIND_OBJECT) {
			form = jv_object_set(form, jv_string("content"), jv_string(part->text ? part->text : ""));
			rc = send_start(s, "POST", api_url(z, seg1("messages"), jv_null()), form, err);
		} else
			jv_free(form);
	}
	if (rc < 0) {
		jv_free(s->result);
		jv_free(s->msg_form);
		jv_free(s->ev);
		free(s);
	}
	return rc;
}

static int zulip_idle(void *be)
{
	struct zl *z = be;
	return bot_http_running(z->m) == 0;
}

/* ---- the model ------------------------------------------------------------- */

static jv zulip_build_identifier(void *be, const char *text)
{
	(void)be;
	return zulip_parse_identifier(text);
}

static int zulip_is_from_self(void *be, jv ev)
{
	struct zl *z = be;
	const char *type = bot_str(ev, "type");
	jv who = bot_get(ev, type && !strcmp(type, "reaction") ? "reactor" : "from");
	const char *email = bot_ident_person(who);
	int self = email && z->email && !strcasecmp(email, z->email);
	jv_free(who);
	return self;
}

/* errbot's Zulip prefix: "@**Full Name** body"; with the user id,
 * "@**Full Name|ID**" names exactly one person. */
static jv zulip_mention(void *be, jv ident, jv body)
{
	(void)be;
	const char *name = bot_str(ident, "fullname");
	if (!name)
		name = bot_str(ident, "nick");
	if (!name)
		name = bot_ident_person(ident);
	long long uid = num(ident, "user_id", 0);
	jv out;
	char clean[256];
	snprintf(clean, sizeof clean, "%s", name ? name : "");
	for (char *c = clean; *c; c++)
		if (*c == '*' || *c == '|' || *c == '\n' || *c == '\r')
			*c = ' ';
	if (uid > 0)
		out = jv_string_fmt("@**%s|%lld** %s", clean, uid, jv_string_value(body));
	else
		out = jv_string_fmt("@**%s** %s", clean, jv_string_value(body));
	jv_free(ident);
	jv_free(body);
	return out;
}

static size_t zulip_size_limit(void *be, jv to)
{
	(void)be;
	(void)to;
	return ZULIP_SIZE_LIMIT;
}

/* ---- open and close ---------------------------------------------------------- */

static void zulip_close(void *be)
{
	struct zl *z = be;
	if (!z)
		return;
	if (z->m)
		bot_http_cancel_all(z->m);
	bot_http_multi_free(z->m);
	secret_free(z->key);
	free(z->email);
	jv_free(z->failure);
	jv_free(z->items);
	jv_free(z->held);
	jv_free(z->files);
	for (int i = 0; i < ZULIP_CACHE; i++) {
		jv_free(z->cache[i].from);
		jv_free(z->cache[i].to);
	}
	free(z);
}

static void *zulip_open(const struct bot_config *cfg, struct bot_host *host, jv *err)
{
	struct zl *z = calloc(1, sizeof *z);
	if (!z) {
		*err = bot_fail("out of memory");
		return NULL;
	}
	z->host = host;
	z->failure = jv_null();
	z->items = jv_array();
	z->held = jv_array();
	z->files = jv_array();
	for (int i = 0; i < ZULIP_CACHE; i++)
		z->cache[i] = (struct cached){ 0, jv_null(), jv_null() };
	const char *site = bot_cfg_str(cfg, "zulip-site");
	const char *email = bot_cfg_str(cfg, "zulip-email");
	const char *key = bot_cfg_str(cfg, "zulip-api-key");
	if (!site || (strncmp(site, "https://", 8) && strncmp(site, "http://", 7)) ||
	    strlen(site) >= sizeof z->site || bot_has_line_break(site, strlen(site))) {
		*err = bot_fail_code("config", 0, "--zulip-site: expected the server's URL (https://...)");
		goto fail;
	}
	snprintf(z->site, sizeof z->site, "%s", site);
	for (size_t n = strlen(z->site); n > 8 && z->site[n - 1] == '/'; n--)
		z->site[n - 1] = '\0';
	if (!email || !*email || !strchr(email, '@') || strchr(email, ':') ||
	    bot_has_line_break(email, strlen(email))) {
		*err = bot_fail_code("config", 0, "--zulip-email: expected the bot's email address");
		goto fail;
	}
	if (!key || !*key || bot_has_line_break(key, strlen(key))) {
		*err = bot_fail_code("config", 0, "no Zulip API key: set BOT_ZULIP_API_KEY or BOT_ZULIP_API_KEY_FILE");
		goto fail;
	}
	z->email = strdup(email);
	z->key = strdup(key);
	long fmax = bot_cfg_int(cfg, "zulip-file-max", 26214400);
	z->file_max = fmax > 0 ? (size_t)fmax : 0;
	const char *timeout = bot_cfg_str(cfg, "timeout");
	double secs = timeout ? strtod(timeout, NULL) : 0;
	z->timeout_ms = secs > 0 ? (long)(secs * 1000) : 0;
	if (!(z->m = bot_http_multi_new(err)))
		goto fail;
	bot_http_multi_set_cafile(z->m, bot_cfg_str(cfg, "zulip-cafile"));
	return z;
fail:
	zulip_close(z);
	return NULL;
}

const struct bot_backend bot_backend = {
	.size = sizeof(struct bot_backend),
	.abi = BOT_BACKEND_ABI,
	.name = "zulip",
	.markup = "zulip",
	.options = zulip_options,
	.can = BOT_CAN_LISTEN | BOT_CAN_REACTION | BOT_CAN_PRESENCE | BOT_CAN_STREAM |
	       BOT_CAN_EDIT | BOT_CAN_DELETE | BOT_CAN_ROOM | BOT_CAN_SESSION,
	.size_unit = BOT_UNIT_BYTES,
	.reaction_names = BOT_EMOJI_ZULIP,
	.open = zulip_open,
	.close = zulip_close,
	.start = zulip_start,
	.prepare = zulip_prepare,
	.dispatch = zulip_dispatch,
	.stop = zulip_stop,
	.commit = zulip_commit,
	.submit = zulip_submit,
	.idle = zulip_idle,
	.build_identifier = zulip_build_identifier,
	.is_from_self = zulip_is_from_self,
	.mention = zulip_mention,
	.size_limit = zulip_size_limit,
};
