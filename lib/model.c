/* model.c: errbot's message model (errbot.backends.base) as jv events.
 * Identifiers are objects {kind, id, ...}; every event has a "type". */
#include <string.h>

#include "bot.h"

static jv set_str(jv o, const char *key, const char *val)
{
	if (val)
		o = jv_object_set(o, jv_string(key), jv_string(val));
	return o;
}

jv bot_person(const char *id, const char *nick)
{
	jv p = jv_object();
	p = set_str(p, "kind", "person");
	p = set_str(p, "id", id);
	p = set_str(p, "person", id);
	p = set_str(p, "nick", nick);
	return p;
}

jv bot_room(const char *id)
{
	jv r = jv_object();
	r = set_str(r, "kind", "room");
	r = set_str(r, "id", id);
	return r;
}

jv bot_occupant(const char *room, const char *nick, const char *id)
{
	jv o = jv_object();
	o = set_str(o, "kind", "occupant");
	if (id)
		o = set_str(o, "id", id);
	else
		o = jv_object_set(o, jv_string("id"), jv_string_fmt("%s/%s", room, nick));
	o = set_str(o, "room", room);
	o = set_str(o, "nick", nick);
	return bot_ident_derive(o);
}

jv bot_ident_derive(jv ident)
{
	const char *k = bot_ident_kind(ident);
	const char *nick = bot_str(ident, "nick");
	if (!k || strcmp(k, "occupant") || bot_str(ident, "person") || !nick || !*nick)
		return ident;
	jv person = jv_string_fmt("@%s", nick);
	return jv_object_set(ident, jv_string("person"), person);
}

const char *bot_ident_kind(jv ident)
{
	const char *k = bot_str(ident, "kind");
	if (!k || !bot_str(ident, "id"))
		return NULL;
	if (strcmp(k, "person") && strcmp(k, "room") && strcmp(k, "occupant"))
		return NULL;
	return k;
}

const char *bot_ident_id(jv ident)
{
	if (jv_get_kind(ident) == JV_KIND_STRING)
		return jv_string_value(ident);
	return bot_str(ident, "id");
}

const char *bot_ident_person(jv ident)
{
	const char *p = bot_str(ident, "person");
	return p ? p : bot_ident_id(ident);
}

const char *bot_ident_room(jv ident)
{
	const char *k = bot_ident_kind(ident);
	if (!k)
		return NULL;
	if (!strcmp(k, "room"))
		return bot_str(ident, "id");
	if (!strcmp(k, "occupant"))
		return bot_str(ident, "room");
	return NULL;
}

const char *bot_ident_aclattr(jv ident)
{
	const char *a = bot_str(ident, "aclattr");
	return a ? a : bot_ident_person(ident);
}

jv bot_message(jv from, jv to, const char *body)
{
	jv m = jv_object();
	m = jv_object_set(m, jv_string("type"), jv_string("message"));
	if (jv_get_kind(from) != JV_KIND_NULL)
		m = jv_object_set(m, jv_string("from"), from);
	else
		jv_free(from);
	m = jv_object_set(m, jv_string("to"), to);
	m = jv_object_set(m, jv_string("body"), jv_string(body ? body : ""));
	return m;
}

jv bot_sent_event(const char *id, jv to, jv ref)
{
	jv e = jv_object();
	e = jv_object_set(e, jv_string("type"), jv_string("sent"));
	e = set_str(e, "id", id);
	e = jv_object_set(e, jv_string("to"), to);
	if (jv_get_kind(ref) != JV_KIND_NULL)
		e = jv_object_set(e, jv_string("ref"), ref);
	else
		jv_free(ref);
	return e;
}

jv bot_sent_event_parts(jv ids, jv to, jv ref)
{
	int n = jv_array_length(jv_copy(ids));
	jv last = n > 0 ? jv_array_get(jv_copy(ids), n - 1) : jv_null();
	jv e = bot_sent_event(jv_get_kind(last) == JV_KIND_STRING ? jv_string_value(last) : NULL, to, ref);
	jv_free(last);
	if (n > 1)
		return jv_object_set(e, jv_string("ids"), ids);
	jv_free(ids);
	return e;
}

jv bot_error_event(const char *code, const char *message, jv event)
{
	jv e = jv_object();
	e = jv_object_set(e, jv_string("type"), jv_string("error"));
	e = set_str(e, "code", code);
	if (message)   /* a server's text may quote a secret */
		e = jv_object_set(e, jv_string("message"), bot_redact_jv(jv_string(message)));
	if (jv_is_valid(event) && jv_get_kind(event) != JV_KIND_NULL)
		e = jv_object_set(e, jv_string("event"), event);
	else
		jv_free(event);
	return e;
}

jv bot_connection_event(const char *state, int attempt, double retry_in,
                        const char *reason)
{
	jv e = jv_object();
	e = jv_object_set(e, jv_string("type"), jv_string("connection"));
	e = set_str(e, "state", state);
	e = jv_object_set(e, jv_string("attempt"), jv_number(attempt));
	if (retry_in >= 0)
		e = jv_object_set(e, jv_string("retry_in"), jv_number(retry_in));
	if (reason)
		e = jv_object_set(e, jv_string("reason"), bot_redact_jv(jv_string(reason)));
	return e;
}

jv bot_presence_event(jv identifier, const char *status, const char *message)
{
	jv e = jv_object();
	e = jv_object_set(e, jv_string("type"), jv_string("presence"));
	e = jv_object_set(e, jv_string("identifier"), identifier);
	e = set_str(e, "status", status);
	e = set_str(e, "message", message);
	return e;
}

jv bot_reaction_event(jv reactor, const char *action, const char *name, jv reacted_to,
                      const char *timestamp)
{
	jv owner = bot_get(reacted_to, "from");
	jv e = JV_OBJECT(jv_string("type"), jv_string("reaction"), jv_string("reactor"), reactor,
	                 jv_string("action"), jv_string(action));
	e = set_str(e, "reaction_name", name);
	e = jv_object_set(e, jv_string("reacted_to"), reacted_to);
	if (jv_get_kind(owner) != JV_KIND_NULL)
		e = jv_object_set(e, jv_string("reacted_to_owner"), owner);
	else
		jv_free(owner);
	return set_str(e, "timestamp", timestamp);
}

jv bot_stream_event(jv identifier, const char *name, const char *path, const char *mime,
                    long long size, long long transfered, const char *status)
{
	jv e = JV_OBJECT(jv_string("type"), jv_string("stream"), jv_string("identifier"), identifier);
	e = set_str(e, "name", name);
	e = set_str(e, "path", path);
	e = set_str(e, "stream_type", mime);
	if (size >= 0)
		e = jv_object_set(e, jv_string("size"), jv_number((double)size));
	if (transfered >= 0)
		e = jv_object_set(e, jv_string("transfered"), jv_number((double)transfered));
	return set_str(e, "status", status);
}

jv bot_room_event(const char *action, jv room)
{
	return JV_OBJECT(jv_string("type"), jv_string("room"), jv_string("action"), jv_string(action),
	                 jv_string("room"), room);
}

/* from and to with their derived fields, when they are objects. */
static jv derive_ident_field(jv msg, const char *key)
{
	jv v = bot_get(msg, key);
	if (!bot_ident_kind(v) || bot_str(v, "person")) {
		jv_free(v);
		return msg;
	}
	return jv_object_set(msg, jv_string(key), bot_ident_derive(v));
}

jv bot_derive(jv msg)
{
	msg = derive_ident_field(derive_ident_field(msg, "from"), "to");
	jv to = bot_get(msg, "to");
	const char *k = bot_ident_kind(to);
	int group = k && !strcmp(k, "room");
	int direct = k && !group;
	jv parent = bot_get(msg, "parent");
	int threaded = jv_get_kind(parent) != JV_KIND_NULL;
	jv_free(parent);
	jv_free(to);
	msg = jv_object_set(msg, jv_string("is_direct"), jv_bool(direct));
	msg = jv_object_set(msg, jv_string("is_group"), jv_bool(group));
	return jv_object_set(msg, jv_string("is_threaded"), jv_bool(threaded));
}

/* ---- validation ---- */

static const char *const ident_fields[] = {
	"from", "to", "identifier", "reactor", "reacted_to_owner", "occupant",
	"room", "mention", NULL
};
static const char *const string_fields[] = {
	"body", "backend", "title", "summary", "link", "image", "thumbnail",
	"color", "text_color", "status", "reaction_name", "emoji", "stream_type", "name",
	"path", "state", "code", "topic", "replaces", "deletes", NULL
};
static const char *const bool_fields[] = { "delayed", "partial", NULL };

static int is_ident(jv v)
{
	if (jv_get_kind(v) == JV_KIND_STRING)
		return jv_string_length_bytes(jv_copy(v)) > 0;
	return bot_ident_kind(v) != NULL;
}

static jv check_fields(jv ev, const char *type, const char *const *names,
                       int (*ok)(jv), const char *want)
{
	for (const char *const *n = names; *n; n++) {
		jv v = jv_object_get(jv_copy(ev), jv_string(*n));
		int bad = jv_is_valid(v) && jv_get_kind(v) != JV_KIND_NULL && !ok(v);
		jv_free(v);
		if (bad) {
			jv_free(ev);
			return bot_fail("%s: field \"%s\": expected %s", type, *n, want);
		}
	}
	return ev;
}

static int is_string(jv v) { return jv_get_kind(v) == JV_KIND_STRING; }
static int is_bool(jv v)
{
	return jv_get_kind(v) == JV_KIND_TRUE || jv_get_kind(v) == JV_KIND_FALSE;
}

static int is_fields(jv v)
{
	if (jv_get_kind(v) != JV_KIND_ARRAY)
		return 0;
	int ok = 1;
	jv_array_foreach(v, i, pair) {
		if (jv_get_kind(pair) != JV_KIND_ARRAY ||
		    jv_array_length(jv_copy(pair)) != 2)
			ok = 0;
		else {
			jv k = jv_array_get(jv_copy(pair), 0), val = jv_array_get(jv_copy(pair), 1);
			ok = ok && is_string(k) && is_string(val);
			jv_free(k);
			jv_free(val);
		}
		jv_free(pair);
		(void)i;
	}
	return ok;
}

static int has(jv ev, const char *key)
{
	jv v = bot_get(ev, key);
	int h = jv_get_kind(v) != JV_KIND_NULL;
	jv_free(v);
	return h;
}

static jv require(jv ev, const char *type, const char *key)
{
	if (!jv_is_valid(ev) || has(ev, key))
		return ev;
	jv_free(ev);
	return bot_fail("%s: missing field \"%s\"", type, key);
}

/* Room (the field) may be an identifier; room events need an action. */
static const char *const room_actions[] = {
	"create", "destroy", "join", "leave", "invite", "topic", "info", "list",
	"joined", "left", "occupants", NULL
};

static jv check_room_event(jv ev)
{
	const char *a = bot_str(ev, "action");
	if (!a) {
		jv_free(ev);
		return bot_fail("room: missing field \"action\"");
	}
	for (const char *const *x = room_actions; *x; x++)
		if (!strcmp(*x, a))
			return ev;
	jv fail = bot_fail("room: field \"action\": unknown action \"%s\"", a);
	jv_free(ev);
	return fail;
}

jv bot_validate(jv ev)
{
	const char *t = bot_str(ev, "type");
	if (!t) {
		jv_free(ev);
		return bot_fail("event: missing field \"type\"");
	}
	char type[32];
	snprintf(type, sizeof type, "%s", t);
	ev = check_fields(ev, type, ident_fields, is_ident,
	                  "an identifier (an object with kind and id, or a string)");
	if (jv_is_valid(ev))
		ev = check_fields(ev, type, string_fields, is_string, "a string");
	if (jv_is_valid(ev))
		ev = check_fields(ev, type, bool_fields, is_bool, "true or false");
	if (jv_is_valid(ev))
		ev = check_fields(ev, type, (const char *const[]){ "fields", NULL },
		                  is_fields, "an array of [key, value] string pairs");
	if (!jv_is_valid(ev))
		return ev;
	if (!strcmp(type, "message") || !strcmp(type, "card"))
		return require(ev, type, "to");
	/* someone's presence has an identifier; the bot's own (a request to
	 * bot-send) has none, but a status */
	if (!strcmp(type, "presence"))
		return require(ev, type, "status");
	if (!strcmp(type, "delete"))
		return require(require(ev, type, "to"), type, "deletes");
	if (!strcmp(type, "reaction"))
		return require(require(ev, type, "reaction_name"), type, "reacted_to");
	if (!strcmp(type, "room"))
		return check_room_event(ev);
	if (!strcmp(type, "connection"))
		return require(ev, type, "state");
	if (!strcmp(type, "error"))
		return require(ev, type, "code");
	return ev;
}

/* ---- build_reply ---- */

jv bot_build_reply(jv msg, const char *body, int private_, int threaded,
                   int mention)
{
	jv from = bot_get(msg, "from"), to = bot_get(msg, "to");
	const char *tk = bot_ident_kind(to);
	/* a bare-string "to" has no kind: the derived is_group says it */
	int group = (tk && !strcmp(tk, "room")) || bot_true(msg, "is_group");
	jv reply = jv_object();
	reply = jv_object_set(reply, jv_string("type"), jv_string("message"));
	if (group && !private_) {
		reply = jv_object_set(reply, jv_string("to"), jv_copy(to));
	} else {
		reply = jv_object_set(reply, jv_string("to"), jv_copy(from));
		if (!group)
			reply = jv_object_set(reply, jv_string("from"), jv_copy(to));
	}
	reply = jv_object_set(reply, jv_string("body"), jv_string(body ? body : ""));
	jv backend = bot_get(msg, "backend");
	if (jv_get_kind(backend) != JV_KIND_NULL)
		reply = jv_object_set(reply, jv_string("backend"), backend);
	else
		jv_free(backend);
	jv id = bot_get(msg, "id"), parent = bot_get(msg, "parent");
	if (jv_get_kind(id) != JV_KIND_NULL)
		reply = jv_object_set(reply, jv_string("in_reply_to"), jv_copy(id));
	/* an id of its own, derived from the input's: the same reply to the
	 * same input has the same id (replays, de-duplication downstream) */
	if (jv_get_kind(id) == JV_KIND_STRING)
		reply = jv_object_set(reply, jv_string("id"),
		                      jv_string_fmt("%s.reply", jv_string_value(id)));
	if (jv_get_kind(parent) != JV_KIND_NULL)
		reply = jv_object_set(reply, jv_string("parent"), jv_copy(parent));
	else if (threaded && jv_get_kind(id) != JV_KIND_NULL)
		reply = jv_object_set(reply, jv_string("parent"),
		                      JV_OBJECT(jv_string("id"), jv_copy(id)));
	if (group && !private_ && mention && jv_get_kind(from) != JV_KIND_NULL)
		reply = jv_object_set(reply, jv_string("mention"), bot_ident_derive(jv_copy(from)));
	jv_free(id);
	jv_free(parent);
	jv_free(from);
	jv_free(to);
	jv_free(msg);
	return reply;
}
