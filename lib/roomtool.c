/* roomtool.c: bot-room, the seed's Room for any backend that has rooms.
 * One action from the command line becomes a room event; the backend's
 * answer is printed as errbot's ChatRoom plugin words it, or as the event. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "failure.h"
#include "roomtool.h"
#include "sendq.h"
#include "session.h"

static const char *const actions[] = {
	"info", "create", "join", "leave", "destroy", "invite", "topic", "occupants", "list", NULL
};

static int known_action(const char *a)
{
	for (const char *const *x = actions; *x; x++)
		if (!strcmp(*x, a))
			return 1;
	return 0;
}

/* The operands from index i on, joined by spaces. */
static jv rest_text(jv ops, int i)
{
	jv t = jv_string("");
	int n = jv_array_length(jv_copy(ops));
	for (int k = i; k < n; k++) {
		if (k > i)
			t = jv_string_append_str(t, " ");
		t = jv_string_concat(t, jv_array_get(jv_copy(ops), k));
	}
	return t;
}

/* An identifier from an operand; one the backend cannot read is bad input. */
static jv operand_ident(const struct bot_backend *b, void *be, jv ops, int i)
{
	jv id = bot_expand_ident(b, be, jv_array_get(jv_copy(ops), i));
	if (jv_is_valid(id))
		return id;
	char why[512];
	bot_fail_message(id, why, sizeof why);
	jv_free(id);
	return bot_fail_code("bad_input", 0, "%s", why);
}

/* The room event for ACTION [ROOM] [ARGS...], or an invalid saying what is
 * missing (errbot's ChatRoom usage lines). */
static jv request(const struct bot_config *cfg, const struct bot_backend *b, void *be)
{
	jv ops = cfg->operands;
	int n = jv_array_length(jv_copy(ops));
	if (n < 1)
		return bot_fail_code("usage", 0, "which action? %s", "info, create, join, leave, destroy, invite, topic, occupants or list");
	jv a = jv_array_get(jv_copy(ops), 0);
	char action[32];
	snprintf(action, sizeof action, "%s", jv_string_value(a));
	jv_free(a);
	if (!known_action(action))
		return bot_fail_code("usage", 0, "unknown action '%.32s'", action);
	jv ev = JV_OBJECT(jv_string("type"), jv_string("room"), jv_string("action"), jv_string(action));
	if (!strcmp(action, "list"))
		return ev;
	if (n < 2) {
		jv_free(ev);
		if (!strcmp(action, "occupants"))
			return bot_fail_code("usage", 0, "Please supply a room to list the occupants of.");
		if (!strcmp(action, "invite"))
			return bot_fail_code("usage", 0, "Please tell me which person(s) to invite into which room.");
		if (!strcmp(action, "topic") || !strcmp(action, "info"))
			return bot_fail_code("usage", 0, "Please tell me which chatroom you want to know the %s of.",
			                !strcmp(action, "topic") ? "topic" : "state");
		return bot_fail_code("usage", 0, "Please tell me which chatroom to %s.", action);
	}
	jv room = operand_ident(b, be, ops, 1);
	if (!jv_is_valid(room)) {
		jv_free(ev);
		return room;
	}
	ev = jv_object_set(ev, jv_string("room"), room);
	if (!strcmp(action, "topic") && n > 2)
		ev = jv_object_set(ev, jv_string("topic"), rest_text(ops, 2));
	if (!strcmp(action, "invite")) {
		if (n < 3) {
			jv_free(ev);
			return bot_fail_code("usage", 0, "Please tell me which person(s) to invite into which room.");
		}
		jv people = jv_array();
		for (int k = 2; k < n; k++) {
			jv p = operand_ident(b, be, ops, k);
			if (!jv_is_valid(p)) {
				jv_free(people);
				jv_free(ev);
				return p;
			}
			people = jv_array_append(people, p);
		}
		ev = jv_object_set(ev, jv_string("identifiers"), people);
	}
	return ev;
}

static const char *room_name(jv ev)
{
	jv r = bot_get(ev, "room");
	const char *id = bot_ident_id(r);
	jv_free(r);
	return id ? id : "";   /* ev keeps the string alive */
}

/* errbot's ChatRoom sentences for an answer. */
static void print_text(FILE *out, const char *action, jv req, jv ans)
{
	const char *r = room_name(req);
	if (!strcmp(action, "create"))
		fprintf(out, "Created the room %s.\n", r);
	else if (!strcmp(action, "join"))
		fprintf(out, "Joined the room %s.\n", r);
	else if (!strcmp(action, "leave"))
		fprintf(out, "Left the room %s.\n", r);
	else if (!strcmp(action, "destroy"))
		fprintf(out, "Destroyed the room %s.\n", r);
	else if (!strcmp(action, "invite")) {
		jv people = bot_get(req, "identifiers");
		fprintf(out, "Invited ");
		jv_array_foreach(people, i, p) {
			fprintf(out, "%s%s", i ? ", " : "", bot_ident_id(p));
			jv_free(p);
		}
		jv_free(people);
		fprintf(out, " into the room %s.\n", r);
	} else if (!strcmp(action, "topic")) {
		const char *set = bot_str(req, "topic"), *t = bot_str(ans, "topic");
		if (set)
			fprintf(out, "Topic for %s set.\n", r);
		else if (!t || !*t)
			fprintf(out, "No topic is set for %s.\n", r);
		else
			fprintf(out, "Topic for %s: %s.\n", r, t);
	} else if (!strcmp(action, "occupants")) {
		jv occ = bot_get(ans, "occupants");
		fprintf(out, "Occupants in %s:", r);
		jv_array_foreach(occ, i, o) {
			const char *who = bot_str(o, "person") ? bot_str(o, "person") : bot_ident_id(o);
			fprintf(out, "\n\t%s", who ? who : "");
			jv_free(o);
			(void)i;
		}
		jv_free(occ);
		fprintf(out, ".\n");
	} else if (!strcmp(action, "list")) {
		jv rooms = bot_get(ans, "rooms");
		if (jv_get_kind(rooms) != JV_KIND_ARRAY || jv_array_length(jv_copy(rooms)) == 0)
			fprintf(out, "There are no rooms.\n");
		else
			jv_array_foreach(rooms, i, x) {
				fprintf(out, "%s\n", bot_ident_id(x) ? bot_ident_id(x) : "");
				jv_free(x);
				(void)i;
			}
		jv_free(rooms);
	} else {   /* info */
		jv users = bot_get(ans, "users");
		const char *t = bot_str(ans, "topic");
		fprintf(out, "%s: %s, %s", r, bot_true(ans, "exists") ? "exists" : "does not exist",
		        bot_true(ans, "joined") ? "joined" : "not joined");
		if (jv_get_kind(users) == JV_KIND_NUMBER)
			fprintf(out, ", %d users", (int)jv_number_value(users));
		if (t && *t)
			fprintf(out, ", topic: %s", t);
		fprintf(out, ".\n");
		jv_free(users);
	}
}

/* One request, through a running bot-listen's session when there is one
 * (its answer event, an error event turned back into a failure), else on
 * our own connection. */
struct one_answer { int done; jv result; };

static void got_answer(void *ctx, jv result)
{
	struct one_answer *a = ctx;
	a->result = result;
	a->done = 1;
}

static jv ask(struct bot_sendq *q, struct bot_session_client **sc, jv req)
{
	if (*sc) {
		jv ans = bot_session_call(*sc, req, 150000);
		if (jv_is_valid(ans)) {
			const char *type = bot_str(ans, "type");
			if (!type || strcmp(type, "error"))
				return ans;
			return bot_fail_from_event(ans);   /* temporary and retry_after kept */
		}
		jv_free(ans);   /* the session went away: on our own */
		bot_session_disconnect(*sc);
		*sc = NULL;
	}
	struct one_answer a = { 0, jv_null() };
	bot_sendq_push(q, jv_copy(req), got_answer, &a);
	if (bot_sendq_run_until(q, &a.done, -1) < 0 && !a.done)
		return bot_fail_code("connection_lost", 1, "stopped by a signal");
	return a.result;
}

/* One invite request per person: IRC invites one nick at a time. */
static jv perform(struct bot_sendq *q, struct bot_session_client **sc, jv req)
{
	const char *action = bot_str(req, "action");
	if (strcmp(action, "invite"))
		return ask(q, sc, req);
	jv people = bot_get(req, "identifiers"), ans = jv_null();
	jv_array_foreach(people, i, p) {
		jv one = jv_object_set(jv_copy(req), jv_string("identifier"), p);
		one = jv_object_delete(one, jv_string("identifiers"));
		jv_free(ans);
		ans = ask(q, sc, one);
		jv_free(one);
		if (!jv_is_valid(ans))
			break;
		(void)i;
	}
	jv_free(people);
	return ans;
}

int bot_room_run(const struct bot_config *cfg)
{
	const struct bot_backend *b = cfg->backend;
	int json = bot_cfg_flag(cfg, "json");
	if (cfg->nmore) {
		bot_error("-b: bot-room acts on one instance, not %d (run it once for each)", cfg->nmore + 1);
		return BOT_EX_USAGE;
	}
	if (!(b->can & BOT_CAN_ROOM) || !BOT_BACKEND_HAS(b, submit)) {
		bot_error("backend %s has no rooms", b->name);
		return BOT_EX_UNAVAILABLE;
	}
	jv err = jv_invalid();
	struct bot_host host;
	bot_host_init(&host, cfg);
	void *be = b->open(cfg, &host, &err);
	if (!be) {
		bot_error_jv(b->name, err);
		bot_host_free(&host);
		return BOT_EX_CONFIG;
	}
	jv_free(err);
	int code = BOT_EX_OK;
	jv req = request(cfg, b, be);
	if (!jv_is_valid(req)) {
		code = bot_fail_exit(req);
		bot_error_jv(NULL, req);
		b->close(be);
		bot_host_free(&host);
		return code;
	}
	struct bot_sendq_opts o = { .retries = 0 };
	struct bot_sendq *q = bot_sendq_new(b, be, &o);
	char spath[4096];
	struct bot_session_client *sc = NULL;
	if (bot_session_path(cfg, spath, sizeof spath) >= 0)
		sc = bot_session_connect(spath);
	jv ans = perform(q, &sc, req);
	bot_session_disconnect(sc);
	struct bot_writer *w = json ? bot_writer_new(STDOUT_FILENO) : NULL;
	if (!jv_is_valid(ans)) {
		char why[1024];
		jv msg = jv_invalid_get_msg(jv_copy(ans));
		const char *ecode = bot_str(msg, "code") ? bot_str(msg, "code") : "room_failed";
		bot_fail_message(ans, why, sizeof why);
		code = bot_fail_exit(ans);
		bot_error("%s: %s", ecode, why);
		jv_free(msg);
		if (w)
			bot_write(w, bot_fail_event(ans, jv_copy(req)));
		else
			jv_free(ans);
	} else if (w) {
		bot_write(w, ans);
	} else {
		print_text(stdout, bot_str(req, "action"), req, ans);
		jv_free(ans);
		if (fflush(stdout) != 0) {
			bot_error("stdout: %s", strerror(errno));
			code = BOT_EX_IOERR;
		}
	}
	if (w && bot_writer_flush(w) < 0) {
		bot_error("stdout: %s", strerror(errno));
		code = BOT_EX_IOERR;
	}
	bot_writer_free(w);
	jv_free(req);
	bot_sendq_finish(q, bot_now_ms() + 5000);   /* a lazy connection quits */
	b->close(be);
	bot_sendq_free(q);
	bot_host_free(&host);
	return code;
}
