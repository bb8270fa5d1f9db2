/* telegram.c: the Telegram Bot API backend.
 *
 * Listening is getUpdates long polling on the libbothttp multi handle.
 * The offset Telegram confirms with is our commit mark: the next
 * getUpdates is sent only once every event of the batch before it is
 * downstream (bot-listen's commit), so a kill -9 re-reads and never
 * skips; the offset is also kept in the state folder ("cursor") for a
 * server that forgot it.  Deliveries are JSON POSTs (sendMessage with
 * parse_mode HTML, editMessageText, setMessageReaction, deleteMessage,
 * getChat, ...) and multipart uploads (sendDocument, sendPhoto).
 *
 * Identifiers: a chat is its id ("-1001234567890", or "@channel" for a
 * public one); a person is their user id ("111", also their private
 * chat); a member of a group is "CHAT/USER".  A message id is
 * "CHAT:MESSAGE" (Telegram's message_id is unique per chat only).
 * The token lives in every URL path (/bot<token>/): URLs are never shown
 * but redacted (libbothttp), and the token is a registered secret. */
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

#define TG_LIMIT 4096              /* sendMessage text, in UTF-16 units */
#define TG_BATCH 100               /* getUpdates limit */
#define TG_FILE_MAX (20u << 20)    /* getFile serves up to 20 MB */
#define TG_PHOTO_MAX (10u << 20)   /* sendPhoto takes up to 10 MB */

static const struct bot_option telegram_options[] = {
	{ "telegram-api", 0, BOT_OPT_STR | BOT_OPT_IDENTITY, "URL", "https://api.telegram.org",
	  "the Bot API's base URL" },
	{ "telegram-token", 0, BOT_OPT_SECRET, "TOKEN", NULL,
	  "the bot's token from BotFather" },
	{ "telegram-poll-timeout", 0, BOT_OPT_INT, "SECONDS", "25",
	  "how long one getUpdates long poll waits (0 to 50)" },
	{ "telegram-backlog-age", 0, BOT_OPT_INT, "SECONDS", "120",
	  "at start, updates older than SECONDS are marked delayed (not dispatched)" },
	{ "telegram-file-max", 0, BOT_OPT_INT, "BYTES", "20971520",
	  "download inbound files up to BYTES into the spool (larger: a stream event with status error)" },
	{ "telegram-cafile", 0, BOT_OPT_STR, "FILE", NULL,
	  "trust the certificates in FILE instead of the system's" },
	BOT_OPTIONS_END
};

/* What getUpdates asks for (message_reaction is only sent when asked). */
static const char *const allowed_updates[] = {
	"message", "edited_message", "channel_post", "edited_channel_post",
	"message_reaction", "my_chat_member", NULL
};

enum tg_state { ST_IDLE, ST_HELLO, ST_POLLING };

struct tg {
	struct bot_host *host;
	struct bot_http_multi *m;
	char *bot_url;              /* API/bot<token>: a secret */
	char *file_url;             /* API/file/bot<token>: a secret */
	long timeout_ms;            /* bot-send's --timeout; 0: libbothttp's */
	int poll_timeout;           /* seconds */
	long backlog_age;           /* seconds */
	size_t file_max;

	enum tg_state state;
	int listening, stopping;
	long xfer;                  /* the running getMe/getUpdates/getFile/download */
	jv failure;                 /* the listening connection's end, for dispatch */
	char me_id[32], me_name[64];

	long long offset;           /* the next getUpdates' offset (committed) */
	long long read_to;          /* the offset after the batch being turned into events */
	long long emitted, committed; /* the last mark handed to emit, and committed */
	int backlog;                /* 1 until a batch shorter than TG_BATCH came */
	double started_at;          /* Unix time of start, for the backlog's age */
	jv batch;                   /* the updates of the last getUpdates */
	int next;                   /* the first not yet handled */
	jv held;                    /* the events of the update waiting for its file */
	jv held_file;               /* {name, mime, size, from, to, id} of that file */
	long long held_mark;
	int held_delayed;
	int up_said;

	jv migrated;                /* old chat id -> new chat id (a group became a supergroup) */
	jv chats;                   /* chat id -> room identifier, every chat seen */
};

/* ---- small helpers ---------------------------------------------------- */

/* Ids are JSON numbers: integers within a double's exact range, or none. */
#define TG_INT_MAX 9007199254740991.0   /* 2^53 - 1 */

static int int_value(jv v, long long *out)
{
	if (jv_get_kind(v) != JV_KIND_NUMBER)
		return 0;
	double d = jv_number_value(v);
	if (!(d >= -TG_INT_MAX && d <= TG_INT_MAX))
		return 0;
	*out = (long long)d;
	return 1;
}

static int int_id_ok(const char *s, size_t n);
static int username_ok(const char *s);

/* A JSON number id (look-only) as an integer string (a string only when
 * it is one, or an @username); "" when not one. */
static void num_text(jv v, char *buf, size_t n)
{
	long long i;
	if (int_value(v, &i))
		snprintf(buf, n, "%lld", i);
	else if (jv_get_kind(v) == JV_KIND_STRING && jv_string_length_bytes(jv_copy(v)) < 40 &&
	         (int_id_ok(jv_string_value(v), strlen(jv_string_value(v))) || username_ok(jv_string_value(v))))
		snprintf(buf, n, "%s", jv_string_value(v));
	else if (n)
		buf[0] = 0;
}

/* obj[key] as an integer string (look-only). */
static void field_text(jv obj, const char *key, char *buf, size_t n)
{
	jv v = bot_get(obj, key);
	num_text(v, buf, n);
	jv_free(v);
}

static long long field_int(jv obj, const char *key, long long def)
{
	jv v = bot_get(obj, key);
	long long r;
	if (!int_value(v, &r))
		r = def;
	jv_free(v);
	return r;
}

/* An integer id: optional '-', 1 to 19 digits, nothing else. */
static int int_id_ok(const char *s, size_t n)
{
	size_t i = s[0] == '-' ? 1 : 0;
	if (n <= i || n - i > 19)
		return 0;
	for (size_t k = i; k < n; k++)
		if (!isdigit((unsigned char)s[k]))
			return 0;
	return 1;
}

/* A public chat's @username: 4 to 32 of [A-Za-z0-9_] after '@'. */
static int username_ok(const char *s)
{
	size_t n = strlen(s);
	if (n < 5 || n > 33 || s[0] != '@')
		return 0;
	for (size_t k = 1; k < n; k++)
		if (!isalnum((unsigned char)s[k]) && s[k] != '_')
			return 0;
	return 1;
}

/* chat_id for a request: a number, or the "@channel" string. */
static jv chat_id_value(const char *chat)
{
	if (chat[0] == '@')
		return jv_string(chat);
	return jv_number((double)strtoll(chat, NULL, 10));
}

/* "CHAT:MESSAGE" (optionally followed by ".anything") into its parts. */
static int parse_message_id(const char *s, char *chat, size_t n, long long *msg)
{
	const char *colon = s ? strrchr(s, ':') : NULL;
	if (!colon || (size_t)(colon - s) >= n)
		return -1;
	memcpy(chat, s, (size_t)(colon - s));
	chat[colon - s] = 0;
	if (!int_id_ok(chat, strlen(chat)) && !username_ok(chat))
		return -1;
	const char *m = colon + 1;
	size_t k = strspn(m, "0123456789");
	if (k == 0 || k > 18 || (m[k] && m[k] != '.'))
		return -1;
	*msg = strtoll(m, NULL, 10);
	return 0;
}

/* The id string of a message-ish reference (a string, or an object's "id"). */
static const char *ref_id(jv ref)
{
	if (jv_get_kind(ref) == JV_KIND_STRING)
		return jv_string_value(ref);
	return bot_str(ref, "id");
}

/* A chat id we know moved (the group became a supergroup), else chat. */
static void follow_migration(struct tg *t, char *chat, size_t n)
{
	jv to = jv_object_get(jv_copy(t->migrated), jv_string(chat));
	if (jv_get_kind(to) == JV_KIND_STRING)
		snprintf(chat, n, "%s", jv_string_value(to));
	jv_free(to);
}

/* ---- identifiers -------------------------------------------------------- */

static void full_name(jv user, char *buf, size_t n)
{
	const char *first = bot_str(user, "first_name"), *last = bot_str(user, "last_name");
	snprintf(buf, n, "%s%s%s", first ? first : "", first && last ? " " : "", last ? last : "");
}

/* A person from a Telegram User (look-only). */
static jv person_of(jv user)
{
	char id[32], name[300];
	field_text(user, "id", id, sizeof id);
	const char *nick = bot_str(user, "username");
	full_name(user, name, sizeof name);
	jv p = bot_person(id, nick ? nick : *name ? name : id);
	if (nick)
		p = jv_object_set(p, jv_string("username"), jv_string(nick));
	if (*name)
		p = jv_object_set(p, jv_string("fullname"), jv_string(name));
	if (bot_true(user, "is_bot"))
		p = jv_object_set(p, jv_string("is_bot"), jv_true());
	return p;
}

/* A member of a group: "CHAT/USER", person the user id. */
static jv occupant_of(const char *chat, jv user)
{
	char id[32], oid[80], name[300];
	field_text(user, "id", id, sizeof id);
	snprintf(oid, sizeof oid, "%s/%s", chat, id);
	const char *nick = bot_str(user, "username");
	full_name(user, name, sizeof name);
	jv o = bot_occupant(chat, nick ? nick : *name ? name : id, oid);
	o = jv_object_set(o, jv_string("person"), jv_string(id));
	if (nick)
		o = jv_object_set(o, jv_string("username"), jv_string(nick));
	if (*name)
		o = jv_object_set(o, jv_string("fullname"), jv_string(name));
	return o;
}

static int chat_is_private(jv chat)
{
	const char *type = bot_str(chat, "type");
	return type && !strcmp(type, "private");
}

/* The room identifier of a group or channel chat (look-only). */
static jv room_of(jv chat)
{
	char id[32];
	field_text(chat, "id", id, sizeof id);
	jv r = bot_room(id);
	const char *title = bot_str(chat, "title");
	if (title)
		r = jv_object_set(r, jv_string("title"), jv_string(title));
	const char *type = bot_str(chat, "type");
	if (type)
		r = jv_object_set(r, jv_string("chat_type"), jv_string(type));
	return r;
}

static jv telegram_parse_identifier(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	const char *slash = n ? strchr(s, '/') : NULL;
	if (slash && int_id_ok(s, (size_t)(slash - s)) && s[0] == '-' &&
	    int_id_ok(slash + 1, strlen(slash + 1)) && slash[1] != '-') {
		char chat[32];
		snprintf(chat, sizeof chat, "%.*s", (int)(slash - s), s);
		jv o = bot_occupant(chat, slash + 1, s);
		o = jv_object_set(o, jv_string("person"), jv_string(slash + 1));
		return o;
	}
	if (n && int_id_ok(s, n))
		return s[0] == '-' ? bot_room(s) : bot_person(s, NULL);
	if (n && username_ok(s))
		return bot_room(s);
	return bot_fail_code("bad_input", 0,
	                     "a Telegram identifier is a chat id (-100123), a user id (111), "
	                     "CHAT/USER or @channel");
}

/* Where a delivery to ident (look-only) goes: the chat id, or -1. */
static int chat_of(struct tg *t, jv ident, char *chat, size_t n)
{
	const char *kind = bot_ident_kind(ident);
	const char *id = kind && !strcmp(kind, "occupant") ? bot_ident_room(ident) : bot_ident_id(ident);
	if (!id || (!int_id_ok(id, strlen(id)) && !username_ok(id)) || strlen(id) >= n)
		return -1;
	snprintf(chat, n, "%s", id);
	follow_migration(t, chat, n);
	return 0;
}

/* ---- open and close ------------------------------------------------------ */

static void secret_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

static int token_ok(const char *tok)
{
	size_t d = strspn(tok, "0123456789");
	if (d == 0 || d > 20 || tok[d] != ':' || !tok[d + 1] || strlen(tok) > 200)
		return 0;
	for (const char *c = tok + d + 1; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '_' && *c != '-')
			return 0;
	return 1;
}

static void telegram_close(void *be);

static void *telegram_open(const struct bot_config *cfg, struct bot_host *host, jv *err)
{
	struct tg *t = calloc(1, sizeof *t);
	if (!t)
		abort();
	t->host = host;
	t->failure = jv_null();
	t->batch = jv_array();
	t->held = jv_null();
	t->held_file = jv_null();
	t->migrated = jv_object();
	t->chats = jv_object();
	const char *api = bot_cfg_str(cfg, "telegram-api");
	const char *tok = bot_cfg_str(cfg, "telegram-token");
	if (!api || (strncmp(api, "http://", 7) && strncmp(api, "https://", 8)) ||
	    bot_has_line_break(api, strlen(api)) || strlen(api) > 400 || strchr(api, '?')) {
		*err = bot_fail_code("bad_config", 0, "--telegram-api: expected an http:// or https:// URL");
		goto fail;
	}
	if (!tok || !*tok) {
		*err = bot_fail_code("bad_config", 0,
		                     "no Telegram token: set BOT_TELEGRAM_TOKEN or BOT_TELEGRAM_TOKEN_FILE");
		goto fail;
	}
	if (!token_ok(tok)) {   /* never echoed: it is the credential */
		*err = bot_fail_code("bad_config", 0, "BOT_TELEGRAM_TOKEN: expected DIGITS:LETTERS as BotFather gives it");
		goto fail;
	}
	size_t al = strlen(api);
	while (al > 8 && api[al - 1] == '/')
		al--;
	size_t n = al + strlen(tok) + 16;
	t->bot_url = malloc(n);
	t->file_url = malloc(n);
	if (!t->bot_url || !t->file_url)
		abort();
	snprintf(t->bot_url, n, "%.*s/bot%s", (int)al, api, tok);
	snprintf(t->file_url, n, "%.*s/file/bot%s", (int)al, api, tok);
	bot_secret_add(tok);
	long pt = bot_cfg_int(cfg, "telegram-poll-timeout", 25);
	if (pt < 0 || pt > 50) {
		*err = bot_fail_code("bad_config", 0, "--telegram-poll-timeout: expected 0 to 50 seconds");
		goto fail;
	}
	t->poll_timeout = (int)pt;
	t->backlog_age = bot_cfg_int(cfg, "telegram-backlog-age", 120);
	if (t->backlog_age < 0) {
		*err = bot_fail_code("bad_config", 0, "--telegram-backlog-age: expected seconds, 0 or more");
		goto fail;
	}
	long fm = bot_cfg_int(cfg, "telegram-file-max", (long)TG_FILE_MAX);
	t->file_max = fm > 0 ? (size_t)fm : TG_FILE_MAX;
	const char *timeout = bot_cfg_str(cfg, "timeout");
	double secs = timeout ? strtod(timeout, NULL) : 0;
	if (secs > 0 && secs < 1e6)
		t->timeout_ms = (long)(secs * 1000);
	if (!(t->m = bot_http_multi_new(err)))
		goto fail;
	bot_http_multi_set_cafile(t->m, bot_cfg_str(cfg, "telegram-cafile"));
	return t;
fail:
	telegram_close(t);
	return NULL;
}

/* ---- requests ------------------------------------------------------------ */

static jv method_url(struct tg *t, const char *method)
{
	return jv_string_fmt("%s/%s", t->bot_url, method);
}

/* POST a JSON call; done(ud, d) as libbothttp's, ok:false a failure. */
static long call(struct tg *t, const char *method, jv params, long timeout_ms,
                 bot_http_done_fn *done, void *ud, jv *err)
{
	jv url = method_url(t, method);
	struct bot_http_req req = { .method = "POST", .url = jv_string_value(url), .json = params,
	                            .timeout_ms = timeout_ms ? timeout_ms : t->timeout_ms,
	                            .connect_timeout_ms = t->timeout_ms,
	                            .envelope = bot_http_envelope_ok };
	long id = bot_http_start(t->m, &req, done, ud, err);
	jv_free(url);
	return id;
}

/* The failure a done callback saw, with Telegram's own meaning: a
 * getMe answered 404 is a malformed token (denied), 409 another poller
 * or a webhook (a configuration error). */
static jv tg_failure(const struct bot_http_done *d, int hello)
{
	jv f = jv_copy(d->fail);
	long code = d->status;
	if (jv_get_kind(d->body) == JV_KIND_OBJECT && field_int(d->body, "error_code", 0))
		code = (long)field_int(d->body, "error_code", 0);
	char why[400];
	bot_fail_message(f, why, sizeof why);
	if (hello && code == 404) {
		jv_free(f);
		return bot_fail_code("denied", 0, "the token was refused (getMe: 404 Not Found)");
	}
	if (code == 409) {
		jv_free(f);
		return bot_fail_code("bad_config", 0, "%s (another getUpdates poller, or a webhook is set: deleteWebhook)", why);
	}
	return f;
}

/* ---- listening: the batch of updates into events --------------------------- */

static void start_poll(struct tg *t);
static void take_batch(struct tg *t);

static void lose(struct tg *t, jv failure)
{
	if (jv_get_kind(t->failure) == JV_KIND_NULL && !t->stopping)
		t->failure = failure;
	else
		jv_free(failure);
}

static void remember_chat(struct tg *t, jv chat)
{
	if (chat_is_private(chat) || jv_get_kind(chat) != JV_KIND_OBJECT)
		return;
	char id[32];
	field_text(chat, "id", id, sizeof id);
	if (*id && jv_object_length(jv_copy(t->chats)) < 10000)
		t->chats = jv_object_set(t->chats, jv_string(id), room_of(chat));
}

/* from and to of a message in chat from user (both look-only). */
static void ends_of(struct tg *t, jv chat, jv user, jv *from, jv *to)
{
	char cid[32];
	field_text(chat, "id", cid, sizeof cid);
	if (chat_is_private(chat)) {
		*from = person_of(user);
		*to = bot_person(t->me_id[0] ? t->me_id : cid, t->me_name[0] ? t->me_name : NULL);
	} else {
		*from = jv_get_kind(user) == JV_KIND_OBJECT ? occupant_of(cid, user) : room_of(chat);
		*to = room_of(chat);
	}
}

/* The text of a message: text or caption, as it came. */
static const char *text_of(jv msg)
{
	const char *s = bot_str(msg, "text");
	return s ? s : bot_str(msg, "caption");
}

/* The file a message carries, as {file_id, name, mime, size}, or null.
 * For a photo, its largest size. */
static jv file_of(jv msg)
{
	static const char *const kinds[] = { "document", "video", "audio", "voice", "animation",
	                                     "video_note", "sticker", NULL };
	jv f = jv_null();
	const char *name = NULL, *mime = NULL;
	jv photo = bot_get(msg, "photo");
	if (jv_get_kind(photo) == JV_KIND_ARRAY && jv_array_length(jv_copy(photo)) > 0) {
		f = jv_array_get(jv_copy(photo), jv_array_length(jv_copy(photo)) - 1);
		name = "photo.jpg";
		mime = "image/jpeg";
	}
	jv_free(photo);
	for (int i = 0; kinds[i] && jv_get_kind(f) != JV_KIND_OBJECT; i++) {
		jv_free(f);
		f = bot_get(msg, kinds[i]);
	}
	if (jv_get_kind(f) != JV_KIND_OBJECT || !bot_str(f, "file_id")) {
		jv_free(f);
		return jv_null();
	}
	if (bot_str(f, "file_name"))
		name = bot_str(f, "file_name");
	if (bot_str(f, "mime_type"))
		mime = bot_str(f, "mime_type");
	jv out = JV_OBJECT(jv_string("file_id"), jv_string(bot_str(f, "file_id")),
	                   jv_string("name"), jv_string(name ? name : "file"),
	                   jv_string("mime"), mime ? jv_string(mime) : jv_null(),
	                   jv_string("size"), jv_number((double)field_int(f, "file_size", -1)));
	jv_free(f);
	return out;
}

/* A room event about chat (look-only) with occupant (consumed). */
static jv member_event(const char *action, jv chat, jv occupant)
{
	jv ev = bot_room_event(action, room_of(chat));
	return jv_object_set(ev, jv_string("occupant"), occupant);
}

/* The events a message (or channel post, or edit) makes, appended to evs. */
static jv message_events(struct tg *t, jv msg, int edit, jv evs)
{
	jv chat = bot_get(msg, "chat"), user = bot_get(msg, "from");
	char cid[32], mid[32], id[80];
	field_text(chat, "id", cid, sizeof cid);
	field_text(msg, "message_id", mid, sizeof mid);
	if (!*cid || !*mid) {
		jv_free(chat);
		jv_free(user);
		return evs;
	}
	remember_chat(t, chat);
	snprintf(id, sizeof id, "%s:%s", cid, mid);
	/* a group that became a supergroup: later sends to it follow */
	char moved[32];
	field_text(msg, "migrate_to_chat_id", moved, sizeof moved);
	if (*moved)
		t->migrated = jv_object_set(t->migrated, jv_string(cid), jv_string(moved));
	jv joined = bot_get(msg, "new_chat_members");
	if (jv_get_kind(joined) == JV_KIND_ARRAY) {
		jv_array_foreach(joined, i, u) {
			evs = jv_array_append(evs, member_event("joined", chat, occupant_of(cid, u)));
			jv_free(u);
			(void)i;
		}
	}
	jv_free(joined);
	jv left = bot_get(msg, "left_chat_member");
	if (jv_get_kind(left) == JV_KIND_OBJECT)
		evs = jv_array_append(evs, member_event("left", chat, occupant_of(cid, left)));
	jv_free(left);
	const char *title = bot_str(msg, "new_chat_title");
	if (title) {
		jv ev = bot_room_event("topic", room_of(chat));
		ev = jv_object_set(ev, jv_string("title"), jv_string(title));
		evs = jv_array_append(evs, ev);
	}
	const char *text = text_of(msg);
	jv file = file_of(msg);
	if (text || jv_get_kind(file) == JV_KIND_OBJECT) {
		jv from, to;
		ends_of(t, chat, user, &from, &to);
		if (jv_get_kind(file) == JV_KIND_OBJECT) {
			/* the stream event is made once the file is in the spool */
			file = jv_object_set(file, jv_string("from"), jv_copy(from));
			file = jv_object_set(file, jv_string("to"), jv_copy(to));
			file = jv_object_set(file, jv_string("id"), jv_string(id));
			jv_free(t->held_file);
			t->held_file = jv_copy(file);
		}
		if (text) {
			jv m = bot_message(from, to, text);
			if (edit) {
				m = jv_object_set(m, jv_string("id"),
				                  jv_string_fmt("%s.e%lld", id, field_int(msg, "edit_date", 0)));
				m = jv_object_set(m, jv_string("replaces"), jv_string(id));
			} else
				m = jv_object_set(m, jv_string("id"), jv_string(id));
			m = jv_object_set(m, jv_string("ts"), jv_number((double)field_int(msg, "date", 0)));
			jv parent = bot_get(msg, "reply_to_message");
			if (jv_get_kind(parent) == JV_KIND_OBJECT) {
				char pid[32];
				field_text(parent, "message_id", pid, sizeof pid);
				jv p = JV_OBJECT(jv_string("id"), jv_string_fmt("%s:%s", cid, pid));
				jv pu = bot_get(parent, "from");
				if (jv_get_kind(pu) == JV_KIND_OBJECT) {
					jv pf, pt;
					ends_of(t, chat, pu, &pf, &pt);
					p = jv_object_set(p, jv_string("from"), pf);
					jv_free(pt);
				}
				jv_free(pu);
				m = jv_object_set(m, jv_string("parent"), p);
			}
			jv_free(parent);
			jv extras = jv_object();
			jv thread = bot_get(msg, "message_thread_id");
			if (jv_get_kind(thread) == JV_KIND_NUMBER)
				extras = jv_object_set(extras, jv_string("message_thread_id"), thread);
			else
				jv_free(thread);
			jv ents = bot_get(msg, "entities");
			if (jv_get_kind(ents) == JV_KIND_ARRAY)
				extras = jv_object_set(extras, jv_string("entities"), ents);
			else
				jv_free(ents);
			extras = jv_object_set(extras, jv_string("chat_type"), bot_get(chat, "type"));
			m = jv_object_set(m, jv_string("extras"), extras);
			evs = jv_array_append(evs, m);
		} else {
			jv_free(from);
			jv_free(to);
		}
	}
	jv_free(file);
	jv_free(chat);
	jv_free(user);
	return evs;
}

/* Emoji of a reaction list (look-only), as an array of strings;
 * custom emoji as "custom:ID", paid ones as "paid". */
static jv reaction_names(jv list)
{
	jv out = jv_array();
	if (jv_get_kind(list) != JV_KIND_ARRAY)
		return out;
	jv_array_foreach(list, i, r) {
		const char *type = bot_str(r, "type");
		if (type && !strcmp(type, "emoji") && bot_str(r, "emoji"))
			out = jv_array_append(out, jv_string(bot_str(r, "emoji")));
		else if (type && !strcmp(type, "custom_emoji") && bot_str(r, "custom_emoji_id"))
			out = jv_array_append(out, jv_string_fmt("custom:%s", bot_str(r, "custom_emoji_id")));
		else if (type && !strcmp(type, "paid"))
			out = jv_array_append(out, jv_string("paid"));
		jv_free(r);
		(void)i;
	}
	return out;
}

static int has_name(jv names, const char *name)
{
	int found = 0;
	jv_array_foreach(names, i, n) {
		found |= !strcmp(jv_string_value(n), name);
		jv_free(n);
		(void)i;
	}
	return found;
}

/* message_reaction: one reaction event per emoji added or removed. */
static jv reaction_events(struct tg *t, jv r, jv evs)
{
	jv chat = bot_get(r, "chat"), user = bot_get(r, "user");
	char cid[32], mid[32], ts[32];
	field_text(chat, "id", cid, sizeof cid);
	field_text(r, "message_id", mid, sizeof mid);
	field_text(r, "date", ts, sizeof ts);
	if (*cid && *mid) {
		remember_chat(t, chat);
		jv oldv = bot_get(r, "old_reaction"), newv = bot_get(r, "new_reaction");
		jv olds = reaction_names(oldv), news = reaction_names(newv);
		jv_free(oldv);
		jv_free(newv);
		for (int pass = 0; pass < 2; pass++) {
			jv from = pass ? olds : news, other = pass ? news : olds;
			jv_array_foreach(from, i, name) {
				if (!has_name(other, jv_string_value(name))) {
					jv reactor, to;
					ends_of(t, chat, user, &reactor, &to);
					jv target = JV_OBJECT(jv_string("id"), jv_string_fmt("%s:%s", cid, mid),
					                      jv_string("to"), to);
					evs = jv_array_append(evs, bot_reaction_event(reactor, pass ? "removed" : "added",
					                                              jv_string_value(name), target, ts));
				}
				jv_free(name);
				(void)i;
			}
		}
		jv_free(olds);
		jv_free(news);
	}
	jv_free(chat);
	jv_free(user);
	return evs;
}

/* my_chat_member: the bot was added to or removed from a chat. */
static jv membership_events(struct tg *t, jv u, jv evs)
{
	jv chat = bot_get(u, "chat"), nm = bot_get(u, "new_chat_member");
	const char *status = bot_str(nm, "status");
	char cid[32];
	field_text(chat, "id", cid, sizeof cid);
	if (*cid && status && !chat_is_private(chat)) {
		int in = !strcmp(status, "member") || !strcmp(status, "administrator") ||
		         !strcmp(status, "creator") || !strcmp(status, "restricted");
		jv user = bot_get(nm, "user");
		evs = jv_array_append(evs, member_event(in ? "joined" : "left", chat, occupant_of(cid, user)));
		jv_free(user);
		if (in)
			remember_chat(t, chat);
		else
			t->chats = jv_object_delete(t->chats, jv_string(cid));
	}
	jv_free(chat);
	jv_free(nm);
	return evs;
}

/* Every event of one update (look-only), in order. */
static jv update_events(struct tg *t, jv u)
{
	static const struct { const char *key; int edit; } msgs[] = {
		{ "message", 0 }, { "channel_post", 0 }, { "edited_message", 1 }, { "edited_channel_post", 1 },
	};
	jv evs = jv_array();
	for (size_t i = 0; i < sizeof msgs / sizeof *msgs; i++) {
		jv m = bot_get(u, msgs[i].key);
		if (jv_get_kind(m) == JV_KIND_OBJECT)
			evs = message_events(t, m, msgs[i].edit, evs);
		jv_free(m);
	}
	jv r = bot_get(u, "message_reaction");
	if (jv_get_kind(r) == JV_KIND_OBJECT)
		evs = reaction_events(t, r, evs);
	jv_free(r);
	jv mc = bot_get(u, "my_chat_member");
	if (jv_get_kind(mc) == JV_KIND_OBJECT)
		evs = membership_events(t, mc, evs);
	jv_free(mc);
	return evs;
}

/* The date of an update's message (0 when none). */
static long long update_date(jv u)
{
	static const char *const keys[] = { "message", "channel_post", "edited_message",
	                                    "edited_channel_post", "message_reaction", "my_chat_member", NULL };
	for (int i = 0; keys[i]; i++) {
		jv m = bot_get(u, keys[i]);
		long long d = field_int(m, "edit_date", 0);
		if (!d)
			d = field_int(m, "date", 0);
		jv_free(m);
		if (d)
			return d;
	}
	return 0;
}

/* Hand one update's events downstream: the last one carries the mark. */
static void emit_held(struct tg *t, jv evs, long long mark, int delayed)
{
	int n = jv_array_length(jv_copy(evs));
	jv_array_foreach(evs, i, ev) {
		if (delayed)
			ev = jv_object_set(ev, jv_string("delayed"), jv_true());
		int last = i == n - 1;
		if (last)
			t->emitted = mark;
		t->host->emit(t->host, ev, last ? jv_number((double)mark) : jv_null());
	}
	jv_free(evs);
}

static int is_delayed(struct tg *t, jv u)
{
	if (!t->backlog)
		return 0;
	long long d = update_date(u);
	return d > 0 && (double)d < t->started_at - (double)t->backlog_age;
}

/* ---- inbound files: getFile, then the download into the spool ---------- */

static void file_ended(struct tg *t, const char *path, long long size, const char *why)
{
	jv f = t->held_file;
	t->held_file = jv_null();
	jv ev = bot_stream_event(bot_get(f, "from"), bot_str(f, "name"), path, bot_str(f, "mime"),
	                         path ? size : field_int(f, "size", -1), path ? size : 0,
	                         path ? "success" : "error");
	ev = jv_object_set(ev, jv_string("to"), bot_get(f, "to"));
	ev = jv_object_set(ev, jv_string("id"), bot_get(f, "id"));
	if (why)
		ev = jv_object_set(ev, jv_string("message"), jv_string(why));
	jv_free(f);
	t->held = jv_array_append(t->held, ev);
	jv held = t->held;
	t->held = jv_null();
	emit_held(t, held, t->held_mark, t->held_delayed);
	t->read_to = t->held_mark;
	t->next++;
	take_batch(t);
}

static void downloaded(void *ud, const struct bot_http_done *d)
{
	struct tg *t = ud;
	t->xfer = 0;
	if (t->stopping)
		return;
	if (jv_get_kind(d->fail) != JV_KIND_NULL || !d->file) {
		char why[300];
		bot_fail_message(d->fail, why, sizeof why);
		if (bot_fail_temporary(d->fail) && !d->status) {
			lose(t, jv_copy(d->fail));   /* the network is gone: poll again later */
			return;
		}
		file_ended(t, NULL, -1, why);
		return;
	}
	FILE *fp = fopen(d->file, "rb");
	long long size = -1;
	if (fp && fseek(fp, 0, SEEK_END) == 0)
		size = ftell(fp);
	if (fp)
		fclose(fp);
	file_ended(t, d->file, size, NULL);
}

/* A file_path from the server as URL segments: no empty, "." or ".."
 * segment, nothing but printable ASCII. */
static jv path_segments(const char *p)
{
	if (!p || !*p || strlen(p) > 512)
		return jv_invalid();
	jv segs = jv_array();
	const char *s = p;
	while (1) {
		size_t n = strcspn(s, "/");
		if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.')) {
			jv_free(segs);
			return jv_invalid();
		}
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f) {
				jv_free(segs);
				return jv_invalid();
			}
		segs = jv_array_append(segs, jv_string_sized(s, (int)n));
		if (!s[n])
			return segs;
		s += n + 1;
	}
}

static void got_file(void *ud, const struct bot_http_done *d)
{
	struct tg *t = ud;
	t->xfer = 0;
	if (t->stopping)
		return;
	if (jv_get_kind(d->fail) != JV_KIND_NULL) {
		char why[300];
		if (bot_fail_temporary(d->fail)) {
			lose(t, jv_copy(d->fail));
			return;
		}
		file_ended(t, NULL, -1, bot_fail_message(d->fail, why, sizeof why));
		return;
	}
	jv res = bot_get(d->body, "result");
	jv segs = path_segments(bot_str(res, "file_path"));
	jv_free(res);
	if (!jv_is_valid(segs)) {
		jv_free(segs);
		file_ended(t, NULL, -1, "getFile gave no usable file_path");
		return;
	}
	char path[4096];
	jv err = jv_null();
	if (t->host->spool_path(t->host, bot_str(t->held_file, "name"), path, sizeof path, &err) < 0) {
		char why[300];
		bot_fail_message(err, why, sizeof why);
		jv_free(err);
		jv_free(segs);
		file_ended(t, NULL, -1, why);
		return;
	}
	jv url = bot_http_url(t->file_url, segs, jv_null());
	struct bot_http_req req = { .method = "GET", .url = jv_string_value(url), .download_path = path,
	                            .download_max = t->file_max, .timeout_ms = 300000 };
	jv e = jv_null();
	t->xfer = bot_http_start(t->m, &req, downloaded, t, &e);
	jv_free(url);
	if (t->xfer < 0) {
		t->xfer = 0;
		char why[300];
		file_ended(t, NULL, -1, bot_fail_message(e, why, sizeof why));
		jv_free(e);
	}
}

/* Start fetching the held file: 0 started, -1 it ended at once. */
static void fetch_held_file(struct tg *t)
{
	long long size = field_int(t->held_file, "size", -1);
	if (size > 0 && (size_t)size > t->file_max) {
		file_ended(t, NULL, -1, "the file is larger than --telegram-file-max");
		return;
	}
	jv e = jv_null();
	t->xfer = call(t, "getFile", JV_OBJECT(jv_string("file_id"), bot_get(t->held_file, "file_id")),
	               0, got_file, t, &e);
	if (t->xfer < 0) {
		t->xfer = 0;
		char why[300];
		file_ended(t, NULL, -1, bot_fail_message(e, why, sizeof why));
		jv_free(e);
	}
}

/* The batch is all downstream once the last mark is committed: then the
 * next getUpdates may confirm it. */
static void batch_caught_up(struct tg *t)
{
	if (t->next < jv_array_length(jv_copy(t->batch)) || t->emitted != t->committed)
		return;
	if (t->read_to > t->offset) {
		t->offset = t->read_to;
		jv err = jv_null();
		const char *dir = t->host->state_dir(t->host, &err);
		char text[32];
		int n = snprintf(text, sizeof text, "%lld", t->offset);
		if (!dir || bot_state_put(dir, "cursor", text, (size_t)n, &err) < 0) {
			char why[300];
			bot_warn("telegram: cannot keep the cursor: %s", bot_fail_message(err, why, sizeof why));
		}
		jv_free(err);
	}
}

/* Turn the batch's updates into events, one at a time; an update with a
 * file waits for its download. */
static void take_batch(struct tg *t)
{
	int n = jv_array_length(jv_copy(t->batch));
	while (t->next < n && !t->xfer && jv_get_kind(t->failure) == JV_KIND_NULL) {
		jv u = jv_array_get(jv_copy(t->batch), t->next);
		long long uid = field_int(u, "update_id", -1);
		if (uid < t->read_to) {   /* confirmed or handled before: a server that replays */
			jv_free(u);
			t->next++;
			continue;
		}
		jv evs = update_events(t, u);
		if (jv_get_kind(t->held_file) == JV_KIND_OBJECT) {
			jv_free(t->held);
			t->held = evs;
			t->held_mark = uid + 1;
			t->held_delayed = is_delayed(t, u);
			jv_free(u);
			fetch_held_file(t);
			return;
		}
		if (jv_array_length(jv_copy(evs)) > 0)
			emit_held(t, evs, uid + 1, is_delayed(t, u));
		else
			jv_free(evs);
		jv_free(u);
		if (uid + 1 > t->read_to)
			t->read_to = uid + 1;   /* only once handed on: a restart reads it again */
		t->next++;
	}
	batch_caught_up(t);
}

static void polled(void *ud, const struct bot_http_done *d)
{
	struct tg *t = ud;
	t->xfer = 0;
	if (t->stopping)
		return;
	if (jv_get_kind(d->fail) != JV_KIND_NULL) {
		lose(t, tg_failure(d, 0));
		return;
	}
	jv res = bot_get(d->body, "result");
	if (jv_get_kind(res) != JV_KIND_ARRAY) {
		jv_free(res);
		lose(t, bot_fail_code("send_failed", 1, "getUpdates: the answer has no result list"));
		return;
	}
	int n = jv_array_length(jv_copy(res));
	if (!t->up_said)
		t->host->up(t->host);
	t->up_said = 1;
	jv_free(t->batch);
	t->batch = res;
	t->next = 0;
	take_batch(t);
	if (n < TG_BATCH)
		t->backlog = 0;
}

static void start_poll(struct tg *t)
{
	jv allowed = jv_array();
	for (int i = 0; allowed_updates[i]; i++)
		allowed = jv_array_append(allowed, jv_string(allowed_updates[i]));
	int wait = t->backlog ? 0 : t->poll_timeout;
	jv params = JV_OBJECT(jv_string("offset"), jv_number((double)t->offset),
	                      jv_string("limit"), jv_number(TG_BATCH),
	                      jv_string("timeout"), jv_number(wait),
	                      jv_string("allowed_updates"), allowed);
	jv err = jv_null();
	t->xfer = call(t, "getUpdates", params, (wait + 15) * 1000L, polled, t, &err);
	if (t->xfer < 0) {
		t->xfer = 0;
		lose(t, err);
	}
}

/* Ready for the next getUpdates: the batch is all committed, the
 * reader keeps up. */
static int may_poll(struct tg *t)
{
	return t->state == ST_POLLING && !t->xfer && jv_get_kind(t->failure) == JV_KIND_NULL &&
	       t->next >= jv_array_length(jv_copy(t->batch)) && t->emitted == t->committed &&
	       t->offset >= t->read_to && !t->host->lagging(t->host);
}

static void said_hello(void *ud, const struct bot_http_done *d)
{
	struct tg *t = ud;
	t->xfer = 0;
	if (t->stopping)
		return;
	if (jv_get_kind(d->fail) != JV_KIND_NULL) {
		lose(t, tg_failure(d, 1));
		return;
	}
	jv me = bot_get(d->body, "result");
	field_text(me, "id", t->me_id, sizeof t->me_id);
	const char *name = bot_str(me, "username");
	snprintf(t->me_name, sizeof t->me_name, "%s", name ? name : "");
	jv_free(me);
	t->state = ST_POLLING;
}

/* The cursor kept by an earlier run (0 when none). */
static long long stored_cursor(struct tg *t)
{
	jv err = jv_null();
	const char *dir = t->host->state_dir(t->host, &err);
	jv_free(err);
	if (!dir)
		return 0;
	jv v = bot_state_get(dir, "cursor", 64);
	long long c = 0;
	if (jv_get_kind(v) == JV_KIND_STRING)
		c = strtoll(jv_string_value(v), NULL, 10);
	jv_free(v);
	return c > 0 ? c : 0;
}

static int telegram_start(void *be, jv *err)
{
	struct tg *t = be;
	t->listening = 1;
	t->stopping = 0;
	jv_free(t->failure);
	t->failure = jv_null();
	jv_free(t->batch);
	t->batch = jv_array();
	t->next = 0;
	long long c = stored_cursor(t);
	if (c > t->offset)
		t->offset = c;
	if (t->read_to < t->offset)
		t->read_to = t->offset;
	/* emitted and committed stay: events handed on before a reconnect
	 * are still written, and committed, after it */
	t->up_said = 0;
	t->backlog = 1;
	t->started_at = (double)time(NULL);
	t->state = ST_HELLO;
	t->xfer = call(t, "getMe", jv_object(), 0, said_hello, t, err);
	if (t->xfer < 0) {
		t->xfer = 0;
		t->state = ST_IDLE;
		return -1;
	}
	return 0;
}

static void telegram_prepare(void *be, struct bot_poll *p)
{
	struct tg *t = be;
	if (jv_get_kind(t->failure) != JV_KIND_NULL || may_poll(t))
		bot_poll_deadline(p, bot_now_ms());
	bot_http_multi_prepare(t->m, p);
}

static int telegram_dispatch(void *be, const struct bot_poll *p, jv *err)
{
	struct tg *t = be;
	bot_http_multi_dispatch(t->m, p);
	if (jv_get_kind(t->failure) != JV_KIND_NULL) {
		*err = t->failure;
		t->failure = jv_null();
		return -1;
	}
	if (may_poll(t))
		start_poll(t);
	return 0;
}

static void telegram_stop(void *be)
{
	struct tg *t = be;
	t->stopping = 1;
	bot_http_cancel_all(t->m);   /* sends see "cancelled": a temporary failure */
	t->xfer = 0;
	t->state = ST_IDLE;
	jv_free(t->held);
	t->held = jv_null();
	jv_free(t->held_file);
	t->held_file = jv_null();
	t->stopping = 0;
}

static void telegram_commit(void *be, jv mark)
{
	struct tg *t = be;
	long long m;
	if (int_value(mark, &m))
		t->committed = m;
	batch_caught_up(t);
}

/* ---- deliveries ----------------------------------------------------------- */

struct send {
	struct tg *t;
	bot_done_fn done;
	void *ctx;
	char method[32];
	jv params;        /* the JSON call, kept for a resend */
	jv plain;         /* the part as plain text, for a resend without parse_mode */
	jv answer;        /* a room operation's answer so far, else null */
	int resends;
	const char *upload_path, *upload_field, *upload_name, *upload_type;
	jv upload;        /* holds those strings */
	enum { R_MESSAGE, R_NOID, R_ROOM_INFO, R_ROOM_JOINED, R_ROOM_OTHER, R_TOPIC_READ,
	       R_OCCUPANTS } kind;
};

static void send_free(struct send *s)
{
	jv_free(s->params);
	jv_free(s->plain);
	jv_free(s->answer);
	jv_free(s->upload);
	free(s);
}

static int send_start(struct send *s, jv *err);

/* What a delivery answers from a good result. */
static jv send_result(struct send *s, jv result)
{
	switch (s->kind) {
	case R_MESSAGE: {
		if (jv_get_kind(result) != JV_KIND_OBJECT)   /* editMessageText may say true */
			return JV_OBJECT(jv_string("id"), jv_null());
		char cid[32], mid[32];
		jv chat = bot_get(result, "chat");
		field_text(chat, "id", cid, sizeof cid);
		field_text(result, "message_id", mid, sizeof mid);
		jv_free(chat);
		return JV_OBJECT(jv_string("id"), jv_string_fmt("%s:%s", cid, mid));
	}
	case R_NOID:
		return JV_OBJECT(jv_string("id"), jv_null());
	default:
		return jv_null();
	}
}

/* A room answer from getChat's Chat (look-only). */
static jv room_info(jv ans, jv chat)
{
	ans = jv_object_set(ans, jv_string("exists"), jv_true());
	const char *desc = bot_str(chat, "description");
	ans = jv_object_set(ans, jv_string("topic"), jv_string(desc ? desc : ""));
	const char *title = bot_str(chat, "title");
	if (title)
		ans = jv_object_set(ans, jv_string("title"), jv_string(title));
	return ans;
}

static int joined_status(const char *s)
{
	return s && (!strcmp(s, "member") || !strcmp(s, "administrator") || !strcmp(s, "creator") ||
	             !strcmp(s, "restricted"));
}

/* A room operation's next step after a good answer: 1 when another
 * call was started. */
static int room_step(struct send *s, jv result)
{
	struct tg *t = s->t;
	if (s->kind == R_ROOM_INFO) {
		s->answer = room_info(s->answer, result);
		if (!t->me_id[0]) {   /* who are we?  getMe, then getChatMember */
			s->kind = R_ROOM_JOINED;
			snprintf(s->method, sizeof s->method, "getMe");
			jv_free(s->params);
			s->params = jv_object();
		} else {
			s->kind = R_ROOM_JOINED;
			snprintf(s->method, sizeof s->method, "getChatMember");
			s->params = jv_object_set(s->params, jv_string("user_id"),
			                          jv_number((double)strtoll(t->me_id, NULL, 10)));
		}
		return 1;
	}
	if (s->kind == R_ROOM_JOINED && !strcmp(s->method, "getMe")) {
		field_text(result, "id", t->me_id, sizeof t->me_id);
		const char *name = bot_str(result, "username");
		snprintf(t->me_name, sizeof t->me_name, "%s", name ? name : "");
		snprintf(s->method, sizeof s->method, "getChatMember");
		jv chat = bot_get(s->answer, "room");
		jv_free(s->params);
		s->params = JV_OBJECT(jv_string("chat_id"), chat_id_value(bot_ident_id(chat)),
		                      jv_string("user_id"), jv_number((double)strtoll(t->me_id, NULL, 10)));
		jv_free(chat);
		return 1;
	}
	if (s->kind == R_ROOM_JOINED) {
		s->answer = jv_object_set(s->answer, jv_string("joined"),
		                          jv_bool(joined_status(bot_str(result, "status"))));
		return 0;
	}
	if (s->kind == R_OCCUPANTS) {
		jv chat = bot_get(s->answer, "room");
		const char *cid = bot_ident_id(chat);
		jv occ = jv_array();
		if (jv_get_kind(result) == JV_KIND_ARRAY) {
			jv_array_foreach(result, i, m) {
				jv u = bot_get(m, "user");
				jv o = occupant_of(cid, u);
				const char *st = bot_str(m, "status");
				if (st)
					o = jv_object_set(o, jv_string("status"), jv_string(st));
				occ = jv_array_append(occ, o);
				jv_free(u);
				jv_free(m);
				(void)i;
			}
		}
		jv_free(chat);
		s->answer = jv_object_set(s->answer, jv_string("occupants"), occ);
		s->answer = jv_object_set(s->answer, jv_string("partial"), jv_true());
		return 0;
	}
	if (s->kind == R_TOPIC_READ) {
		const char *desc = bot_str(result, "description");
		s->answer = jv_object_set(s->answer, jv_string("topic"), jv_string(desc ? desc : ""));
	}
	return 0;
}

/* A 400 worth sending again, changed: the chat moved to a supergroup
 * (migrate_to_chat_id), or HTML Telegram cannot parse (sent as plain
 * text).  1 when the call was changed. */
static int fix_for_resend(struct send *s, const struct bot_http_done *d)
{
	if (s->resends >= 2 || jv_get_kind(d->body) != JV_KIND_OBJECT)
		return 0;
	jv params = bot_get(d->body, "parameters");
	jv moved = bot_get(params, "migrate_to_chat_id");
	jv_free(params);
	if (jv_get_kind(moved) == JV_KIND_NUMBER) {
		char old[32], to[32];
		jv oldv = bot_get(s->params, "chat_id");
		num_text(oldv, old, sizeof old);
		jv_free(oldv);
		num_text(moved, to, sizeof to);
		s->t->migrated = jv_object_set(s->t->migrated, jv_string(old), jv_string(to));
		s->params = jv_object_set(s->params, jv_string("chat_id"), moved);
		return 1;
	}
	jv_free(moved);
	const char *desc = bot_str(d->body, "description");
	if (desc && strstr(desc, "can't parse entities") && jv_get_kind(s->plain) == JV_KIND_STRING &&
	    bot_str(s->params, "parse_mode")) {
		s->params = jv_object_delete(s->params, jv_string("parse_mode"));
		const char *field = bot_str(s->params, "caption") ? "caption" : "text";
		s->params = jv_object_set(s->params, jv_string(field), jv_copy(s->plain));
		return 1;
	}
	return 0;
}

static void sent(void *ud, const struct bot_http_done *d)
{
	struct send *s = ud;
	if (jv_get_kind(d->fail) != JV_KIND_NULL) {
		if (fix_for_resend(s, d)) {
			s->resends++;
			jv err = jv_null();
			if (send_start(s, &err) == 0)
				return;
			s->done(s->ctx, err);
			send_free(s);
			return;
		}
		if (s->kind == R_ROOM_JOINED && !strcmp(s->method, "getChatMember") &&
		    !bot_fail_temporary(d->fail)) {
			/* not a member (or not allowed to ask): not joined */
			s->answer = jv_object_set(s->answer, jv_string("joined"), jv_false());
			s->done(s->ctx, jv_copy(s->answer));
			send_free(s);
			return;
		}
		jv f = tg_failure(d, 0);
		char code[64];
		bot_fail_code_of(f, code, sizeof code);
		if (!strcmp(code, "cancelled")) {
			jv_free(f);
			f = bot_fail_code("connection_lost", 1, "the connection to Telegram was closed");
		}
		const char *desc = bot_str(d->body, "description");
		long status = (long)field_int(d->body, "error_code", d->status);
		if (s->kind >= R_ROOM_INFO && status == 400 && desc && strstr(desc, "chat not found")) {
			jv_free(f);
			jv room = bot_get(s->answer, "room");
			f = bot_fail_code("room_does_not_exist", 0, "%s: chat not found",
			                  bot_ident_id(room) ? bot_ident_id(room) : "?");
			jv_free(room);
		}
		s->done(s->ctx, f);
		send_free(s);
		return;
	}
	jv result = bot_get(d->body, "result");
	if (s->kind >= R_ROOM_INFO) {
		if (room_step(s, result)) {
			jv_free(result);
			jv err = jv_null();
			if (send_start(s, &err) == 0)
				return;
			s->done(s->ctx, err);
			send_free(s);
			return;
		}
		jv_free(result);
		s->done(s->ctx, jv_copy(s->answer));
		send_free(s);
		return;
	}
	s->done(s->ctx, send_result(s, result));
	jv_free(result);
	send_free(s);
}

static int send_start(struct send *s, jv *err)
{
	struct tg *t = s->t;
	jv url = method_url(t, s->method);
	struct bot_http_req req = { .method = "POST", .url = jv_string_value(url),
	                            .timeout_ms = t->timeout_ms, .connect_timeout_ms = t->timeout_ms,
	                            .envelope = bot_http_envelope_ok };
	if (s->upload_path) {
		req.form = jv_copy(s->params);
		req.upload_path = s->upload_path;
		req.upload_field = s->upload_field;
		req.upload_name = s->upload_name;
		req.upload_type = s->upload_type;
		if (!t->timeout_ms)
			req.timeout_ms = 300000;
	} else
		req.json = jv_copy(s->params);
	long id = bot_http_start(t->m, &req, sent, s, err);
	jv_free(url);
	return id < 0 ? -1 : 0;
}

static struct send *send_new(struct tg *t, const char *method, jv params, bot_done_fn done, void *ctx)
{
	struct send *s = calloc(1, sizeof *s);
	if (!s)
		abort();
	s->t = t;
	s->done = done;
	s->ctx = ctx;
	snprintf(s->method, sizeof s->method, "%s", method);
	s->params = params;
	s->plain = jv_null();
	s->answer = jv_null();
	s->upload = jv_null();
	return s;
}

/* Text for HTML: & < > escaped. */
static void html_add(struct sbuf *b, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '&')
			sb_add(b, "&amp;", 5);
		else if (*s == '<')
			sb_add(b, "&lt;", 4);
		else if (*s == '>')
			sb_add(b, "&gt;", 4);
		else
			sb_add(b, s, 1);
	}
}

/* A URL fit for href: http(s) only, no quote or space or control. */
static int href_ok(const char *u)
{
	if (!u || (strncmp(u, "https://", 8) && strncmp(u, "http://", 7)))
		return 0;
	for (; *u; u++)
		if ((unsigned char)*u <= ' ' || *u == '"' || *u == '<' || *u == '>' || (unsigned char)*u == 0x7f)
			return 0;
	return 1;
}

/* A card as Telegram HTML: the title bold (linked), the summary, the
 * body rendered from markdown, each field "<b>key</b>: value", the
 * image as a link. */
static jv card_html(jv card)
{
	struct sbuf b = { 0 };
	const char *title = bot_str(card, "title"), *link = bot_str(card, "link");
	if (title) {
		sb_add(&b, "<b>", 3);
		if (href_ok(link)) {
			sb_add(&b, "<a href=\"", 9);
			html_add(&b, link);
			sb_add(&b, "\">", 2);
		}
		html_add(&b, title);
		if (href_ok(link))
			sb_add(&b, "</a>", 4);
		sb_add(&b, "</b>\n", 5);
	}
	const char *summary = bot_str(card, "summary");
	if (summary) {
		sb_add(&b, "<i>", 3);
		html_add(&b, summary);
		sb_add(&b, "</i>\n", 5);
	}
	const char *body = bot_str(card, "body");
	if (body && *body) {
		char *r = bot_render("telegram", body, strlen(body));
		if (r) {
			sb_add(&b, r, strlen(r));
			size_t rl = strlen(r);
			if (rl && r[rl - 1] != '\n')
				sb_add(&b, "\n", 1);
			free(r);
		}
	}
	jv fields = bot_get(card, "fields");
	if (jv_get_kind(fields) == JV_KIND_ARRAY) {
		jv_array_foreach(fields, i, f) {
			jv k = jv_get_kind(f) == JV_KIND_ARRAY ? jv_array_get(jv_copy(f), 0) : jv_null();
			jv v = jv_get_kind(f) == JV_KIND_ARRAY ? jv_array_get(jv_copy(f), 1) : jv_null();
			if (jv_get_kind(k) == JV_KIND_STRING && jv_get_kind(v) == JV_KIND_STRING) {
				sb_add(&b, "<b>", 3);
				html_add(&b, jv_string_value(k));
				sb_add(&b, "</b>: ", 6);
				html_add(&b, jv_string_value(v));
				sb_add(&b, "\n", 1);
			}
			jv_free(k);
			jv_free(v);
			jv_free(f);
			(void)i;
		}
	}
	jv_free(fields);
	const char *image = bot_str(card, "image");
	if (href_ok(image)) {
		sb_add(&b, "<a href=\"", 9);
		html_add(&b, image);
		sb_add(&b, "\">image</a>\n", 12);
	}
	while (b.len && b.s[b.len - 1] == '\n')
		b.len--;
	sb_add(&b, "", 0);
	jv r = jv_string(b.s ? b.s : "");
	free(b.s);
	return r;
}

/* UTF-16 units of s (as Telegram counts its limit). */
static size_t utf16_len(const char *s)
{
	size_t n = 0;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c & 0xc0) != 0x80)
			n += c >= 0xf0 ? 2 : 1;
	}
	return n;
}

/* sendMessage / editMessageText for a message or card part. */
static struct send *message_send(struct tg *t, const struct bot_part *part, const char *chat,
                                 bot_done_fn done, void *ctx, jv *err)
{
	jv text;
	if (!strcmp(part->type, "card") && !part->text) {
		text = card_html(part->event);
		if (utf16_len(jv_string_value(text)) > TG_LIMIT) {
			jv_free(text);   /* the template, which is split */
			*err = bot_fail_code("unsupported", 0, "the card is longer than a Telegram message");
			return NULL;
		}
	} else
		text = jv_string(part->text ? part->text : "");
	jv params = JV_OBJECT(jv_string("chat_id"), chat_id_value(chat), jv_string("text"), text,
	                      jv_string("parse_mode"), jv_string("HTML"));
	const char *method = "sendMessage";
	if (part->replaces) {
		char ochat[64];
		long long mid;
		if (parse_message_id(part->replaces, ochat, sizeof ochat, &mid) < 0) {
			jv_free(params);
			*err = bot_fail_code("bad_input", 0, "replaces: expected a Telegram message id CHAT:MESSAGE");
			return NULL;
		}
		follow_migration(t, ochat, sizeof ochat);
		method = "editMessageText";
		params = jv_object_set(params, jv_string("chat_id"), chat_id_value(ochat));
		params = jv_object_set(params, jv_string("message_id"), jv_number((double)mid));
	} else {
		jv parent = bot_get(part->event, "parent");
		char pchat[64];
		long long pmid;
		const char *pid = ref_id(parent);
		if (pid && parse_message_id(pid, pchat, sizeof pchat, &pmid) == 0) {
			jv rp = JV_OBJECT(jv_string("message_id"), jv_number((double)pmid),
			                  jv_string("allow_sending_without_reply"), jv_true());
			follow_migration(t, pchat, sizeof pchat);
			if (strcmp(pchat, chat))   /* a message of another chat: say which */
				rp = jv_object_set(rp, jv_string("chat_id"), chat_id_value(pchat));
			params = jv_object_set(params, jv_string("reply_parameters"), rp);
		}
		jv_free(parent);
	}
	struct send *s = send_new(t, method, params, done, ctx);
	s->kind = R_MESSAGE;
	if (part->plain)
		s->plain = jv_string(part->plain);
	return s;
}

static struct send *reaction_send(struct tg *t, const struct bot_part *part, bot_done_fn done,
                                  void *ctx, jv *err)
{
	jv target = bot_get(part->event, "reacted_to");
	char chat[64];
	long long mid;
	const char *id = ref_id(target);
	int bad = !id || parse_message_id(id, chat, sizeof chat, &mid) < 0;
	jv_free(target);
	if (bad) {
		*err = bot_fail_code("bad_input", 0, "reacted_to: expected a Telegram message id CHAT:MESSAGE");
		return NULL;
	}
	follow_migration(t, chat, sizeof chat);
	const char *name = bot_str(part->event, "reaction_name"), *action = bot_str(part->event, "action");
	jv list = jv_array();
	if (!action || strcmp(action, "removed"))
		list = jv_array_append(list, JV_OBJECT(jv_string("type"), jv_string("emoji"),
		                                       jv_string("emoji"), bot_emoji_bare(name ? name : "")));
	jv params = JV_OBJECT(jv_string("chat_id"), chat_id_value(chat),
	                      jv_string("message_id"), jv_number((double)mid), jv_string("reaction"), list);
	struct send *s = send_new(t, "setMessageReaction", params, done, ctx);
	s->kind = R_NOID;
	return s;
}

static struct send *delete_send(struct tg *t, const struct bot_part *part, bot_done_fn done,
                                void *ctx, jv *err)
{
	jv target = bot_get(part->event, "deletes");
	char chat[64];
	long long mid;
	const char *id = ref_id(target);
	int bad = !id || parse_message_id(id, chat, sizeof chat, &mid) < 0;
	jv_free(target);
	if (bad) {
		*err = bot_fail_code("bad_input", 0, "deletes: expected a Telegram message id CHAT:MESSAGE");
		return NULL;
	}
	follow_migration(t, chat, sizeof chat);
	jv params = JV_OBJECT(jv_string("chat_id"), chat_id_value(chat),
	                      jv_string("message_id"), jv_number((double)mid));
	struct send *s = send_new(t, "deleteMessage", params, done, ctx);
	s->kind = R_NOID;
	return s;
}

/* sendPhoto for a JPEG, PNG or WebP up to 10 MB, else sendDocument. */
static struct send *stream_send(struct tg *t, const struct bot_part *part, const char *chat,
                                bot_done_fn done, void *ctx, jv *err)
{
	const char *path = bot_str(part->event, "path");
	if (!path) {
		*err = bot_fail_code("bad_input", 0, "stream: no path");
		return NULL;
	}
	const char *mime = bot_str(part->event, "stream_type"), *name = bot_str(part->event, "name");
	jv size = bot_get(part->event, "size");
	double bytes = jv_get_kind(size) == JV_KIND_NUMBER ? jv_number_value(size) : -1;
	jv_free(size);
	int photo = mime && (!strcmp(mime, "image/jpeg") || !strcmp(mime, "image/png") ||
	                     !strcmp(mime, "image/webp")) && bytes >= 0 && bytes <= TG_PHOTO_MAX;
	const char *base = strrchr(path, '/');
	jv hold = JV_ARRAY(jv_string(path), jv_string(name ? name : base ? base + 1 : path),
	                   mime ? jv_string(mime) : jv_null());
	struct send *s = send_new(t, photo ? "sendPhoto" : "sendDocument",
	                          JV_OBJECT(jv_string("chat_id"), jv_string(chat)), done, ctx);
	s->kind = R_MESSAGE;
	s->upload = hold;
	jv a = jv_array_get(jv_copy(hold), 0), b = jv_array_get(jv_copy(hold), 1),
	   c = jv_array_get(jv_copy(hold), 2);
	/* the strings live as long as hold does (jv strings are shared) */
	s->upload_path = jv_string_value(a);
	s->upload_name = jv_string_value(b);
	s->upload_type = jv_get_kind(c) == JV_KIND_STRING ? jv_string_value(c) : NULL;
	jv_free(a);
	jv_free(b);
	jv_free(c);
	s->upload_field = photo ? "photo" : "document";
	return s;
}

/* bot-room's actions, where the Bot API has them. */
static struct send *room_send(struct tg *t, const struct bot_part *part, bot_done_fn done,
                              void *ctx, jv *err)
{
	const char *action = bot_str(part->event, "action");
	jv room = bot_get(part->event, "room");
	if (jv_get_kind(room) == JV_KIND_STRING) {
		jv parsed = telegram_parse_identifier(jv_string_value(room));
		jv_free(room);
		room = jv_is_valid(parsed) ? parsed : (jv_free(parsed), jv_null());
	}
	char chat[64];
	const char *id = bot_ident_id(room);
	if (!action || !strcmp(action, "list")) {
		jv_free(room);
		jv rooms = jv_array();
		jv_object_foreach(t->chats, k, r) {
			rooms = jv_array_append(rooms, jv_object_set(r, jv_string("joined"), jv_true()));
			jv_free(k);
		}
		jv ans = JV_OBJECT(jv_string("type"), jv_string("room"), jv_string("action"), jv_string("list"),
		                   jv_string("rooms"), rooms);
		jv ref = bot_get(part->event, "id");
		if (jv_get_kind(ref) != JV_KIND_NULL)
			ans = jv_object_set(ans, jv_string("ref"), ref);
		else
			jv_free(ref);
		done(ctx, ans);
		return NULL;
	}
	if (!id || (!int_id_ok(id, strlen(id)) && !username_ok(id)) || strlen(id) >= sizeof chat) {
		jv_free(room);
		*err = bot_fail_code("bad_input", 0, "room: expected a Telegram chat id or @channel");
		return NULL;
	}
	snprintf(chat, sizeof chat, "%s", id);
	follow_migration(t, chat, sizeof chat);
	jv ans = bot_room_event(action, bot_room(id));
	jv ref = bot_get(part->event, "id");
	if (jv_get_kind(ref) != JV_KIND_NULL)
		ans = jv_object_set(ans, jv_string("ref"), ref);
	else
		jv_free(ref);
	jv_free(room);
	jv params = JV_OBJECT(jv_string("chat_id"), chat_id_value(chat));
	const char *method = NULL, *topic = bot_str(part->event, "topic");
	int kind = R_ROOM_OTHER;
	if (!strcmp(action, "info")) {
		method = "getChat";
		kind = R_ROOM_INFO;
	} else if (!strcmp(action, "leave")) {
		method = "leaveChat";
		ans = jv_object_set(ans, jv_string("joined"), jv_false());
	} else if (!strcmp(action, "topic") && topic) {
		method = "setChatDescription";
		params = jv_object_set(params, jv_string("description"), jv_string(topic));
		ans = jv_object_set(ans, jv_string("topic"), jv_string(topic));
	} else if (!strcmp(action, "topic")) {
		method = "getChat";
		kind = R_TOPIC_READ;
	} else if (!strcmp(action, "occupants")) {
		method = "getChatAdministrators";   /* the only member list bots get */
		kind = R_OCCUPANTS;
	}
	if (!method) {
		jv_free(params);
		jv_free(ans);
		*err = bot_fail_code("unsupported", 0,
		                     "Telegram bots cannot %s a chat (a member adds the bot; see botpipe-backends(7))",
		                     action);
		return NULL;
	}
	struct send *s = send_new(t, method, params, done, ctx);
	s->kind = kind;
	s->answer = ans;
	return s;
}

static int telegram_submit(void *be, const struct bot_part *part, bot_done_fn done, void *ctx, jv *err)
{
	struct tg *t = be;
	struct send *s = NULL;
	const char *type = part->type;
	char chat[64] = "";
	jv to = bot_get(part->event, "to");
	int need_to = !strcmp(type, "message") || !strcmp(type, "card") || !strcmp(type, "stream");
	if (need_to && chat_of(t, to, chat, sizeof chat) < 0) {
		jv_free(to);
		*err = bot_fail_code("bad_input", 0, "to: expected a Telegram chat, user or CHAT/USER");
		return -1;
	}
	jv_free(to);
	if (!strcmp(type, "message") || !strcmp(type, "card"))
		s = message_send(t, part, chat, done, ctx, err);
	else if (!strcmp(type, "reaction"))
		s = reaction_send(t, part, done, ctx, err);
	else if (!strcmp(type, "delete"))
		s = delete_send(t, part, done, ctx, err);
	else if (!strcmp(type, "stream"))
		s = stream_send(t, part, chat, done, ctx, err);
	else if (!strcmp(type, "room")) {
		jv e = jv_null();
		s = room_send(t, part, done, ctx, &e);
		if (!s && jv_get_kind(e) == JV_KIND_NULL)
			return 0;   /* answered at once */
		if (!s)
			*err = e;
	} else
		*err = bot_fail_code("unsupported", 0, "telegram cannot deliver %s events", type);
	if (!s)
		return -1;
	if (send_start(s, err) < 0) {
		send_free(s);
		return -1;
	}
	return 0;
}

static int telegram_idle(void *be)
{
	struct tg *t = be;
	return bot_http_running(t->m) == 0;
}

/* ---- the model ------------------------------------------------------------ */

static jv telegram_build_identifier(void *be, const char *text)
{
	(void)be;
	return telegram_parse_identifier(text);
}

static int telegram_is_from_self(void *be, jv ev)
{
	struct tg *t = be;
	if (!t->me_id[0])
		return 0;
	jv who = bot_get(ev, "from");
	if (jv_get_kind(who) == JV_KIND_NULL) {
		jv_free(who);
		who = bot_get(ev, "reactor");
	}
	const char *p = bot_ident_person(who);
	int self = p && !strcmp(p, t->me_id);
	jv_free(who);
	return self;
}

/* errbot's Telegram prefix: "@username: body" (the full name when the
 * user has no username). */
static jv telegram_mention(void *be, jv ident, jv body)
{
	(void)be;
	const char *user = bot_str(ident, "username"), *name = bot_str(ident, "fullname");
	const char *nick = bot_str(ident, "nick");
	jv prefix = user ? jv_string_fmt("@%s:", user)
	          : jv_string_fmt("%s:", name ? name : nick ? nick : "");
	jv out = bot_mention_body(jv_string_value(prefix), body);
	jv_free(prefix);
	jv_free(ident);
	return out;
}

static size_t telegram_size_limit(void *be, jv to)
{
	(void)be;
	(void)to;
	return TG_LIMIT;
}

static void telegram_close(void *be)
{
	struct tg *t = be;
	if (!t)
		return;
	t->stopping = 1;
	if (t->m)
		bot_http_cancel_all(t->m);
	bot_http_multi_free(t->m);
	secret_free(t->bot_url);
	secret_free(t->file_url);
	jv_free(t->failure);
	jv_free(t->batch);
	jv_free(t->held);
	jv_free(t->held_file);
	jv_free(t->migrated);
	jv_free(t->chats);
	free(t);
}

const struct bot_backend bot_backend = {
	.size = sizeof(struct bot_backend),
	.abi = BOT_BACKEND_ABI,
	.name = "telegram",
	.markup = "telegram",
	.options = telegram_options,
	.can = BOT_CAN_LISTEN | BOT_CAN_CARD | BOT_CAN_REACTION | BOT_CAN_STREAM | BOT_CAN_EDIT |
	       BOT_CAN_DELETE | BOT_CAN_ROOM | BOT_CAN_PLAIN | BOT_CAN_SESSION,
	.size_unit = BOT_UNIT_UTF16,
	.reaction_names = BOT_EMOJI_UNICODE,
	.open = telegram_open,
	.close = telegram_close,
	.start = telegram_start,
	.prepare = telegram_prepare,
	.dispatch = telegram_dispatch,
	.stop = telegram_stop,
	.commit = telegram_commit,
	.submit = telegram_submit,
	.idle = telegram_idle,
	.build_identifier = telegram_build_identifier,
	.is_from_self = telegram_is_from_self,
	.mention = telegram_mention,
	.size_limit = telegram_size_limit,
};
