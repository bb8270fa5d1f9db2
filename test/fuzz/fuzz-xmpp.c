/* fuzz-xmpp: what a server sends (one stanza, parsed by libstrophe from
 * the bytes) through the XMPP backend's stanza handlers, with a room
 * joined and jobs waiting for answers (file uploads at each stage of the
 * upload service's discovery and the slot); then the bytes as an
 * identifier and as a link's URL.
 * Built with clang -fsanitize=fuzzer; everything is freed so leaks show. */
#include "../../backends/xmpp.c"

static void drop(struct bot_host *h, jv ev, jv mark)
{
	(void)h;
	jv_free(ev);
	jv_free(mark);
}

static void done_drop(void *ctx, jv result)
{
	(void)ctx;
	jv_free(result);
}

static struct job *waiting(struct xmpp *c, enum job_kind kind, const char *id, const char *msg_id,
                           const char *room, const char *action)
{
	struct job *j = job_new(kind, JV_OBJECT(jv_string("type"), jv_string("room"), jv_string("id"), jv_string("e1")));
	snprintf(j->id, sizeof j->id, "%s", id);
	snprintf(j->msg_id, sizeof j->msg_id, "%s", msg_id);
	snprintf(j->room, sizeof j->room, "%s", room);
	snprintf(j->action, sizeof j->action, "%s", action);
	j->sent = 1;
	j->done = done_drop;
	job_push(c, j);
	return j;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static xmpp_ctx_t *ctx;
	static const xmpp_log_t quiet = { NULL, NULL };
	if (!ctx) {
		xmpp_initialize();
		ctx = xmpp_ctx_new(NULL, &quiet);
	}
	struct bot_host host = { .size = sizeof host, .emit = drop };
	struct xmpp *c = calloc(1, sizeof *c);
	c->bh = &host;
	c->ctx = ctx;
	c->failure = jv_null();
	c->rooms = jv_object();
	c->reactions = jv_object();
	c->my_reactions = jv_object();
	c->rooms_cfg = jv_null();
	snprintf(c->bare, sizeof c->bare, "bot@localhost");
	snprintf(c->domain, sizeof c->domain, "localhost");
	snprintf(c->nick, sizeof c->nick, "bot");
	snprintf(c->muc_service, sizeof c->muc_service, "conference.localhost");
	room_set(c, "ops@conference.localhost", "joined", jv_true());
	room_set(c, "ops@conference.localhost", "want", jv_true());
	waiting(c, JOB_JOIN, "cfg1", "", "new@conference.localhost", "create");
	room_set(c, "new@conference.localhost", "want", jv_true());
	waiting(c, JOB_PINGED, "p1", "m1", "", "");
	waiting(c, JOB_TOPIC, "", "t1", "ops@conference.localhost", "topic");
	waiting(c, JOB_IQ, "q1", "", "ops@conference.localhost", "info");
	waiting(c, JOB_IQ, "q2", "", "conference.localhost", "list");
	waiting(c, JOB_LEAVE, "", "", "ops@conference.localhost", "leave");
	jv file = JV_OBJECT(jv_string("path"), jv_string("/nonexistent/f.bin"), jv_string("name"), jv_string("f.bin"),
	                    jv_string("mime"), jv_string("text/plain"), jv_string("size"), jv_number(10),
	                    jv_string("to"), jv_string("human@localhost"), jv_string("type"), jv_string("chat"));
	struct job *u = waiting(c, JOB_UPLOAD, "u1", "", "", "");
	u->owner = c;
	u->stage = UP_INFO;
	u->look = JV_ARRAY(jv_string("localhost"), jv_string("upload.localhost"));
	u->file = jv_copy(file);
	u = waiting(c, JOB_UPLOAD, "u2", "", "", "");
	u->owner = c;
	u->stage = UP_ITEMS;
	u->file = jv_copy(file);
	/* a slot's answer: with no libbothttp beside the target, no PUT starts */
	u = waiting(c, JOB_UPLOAD, "s1", "", "", "");
	u->owner = c;
	u->stage = UP_SLOT;
	u->file = file;
	snprintf(c->upload_svc, sizeof c->upload_svc, "upload.localhost");

	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = 0;
	/* with no connection what a handler answers (a pong, an error, an
	 * accepted subscription, a new room's form) is dropped */
	xmpp_stanza_t *st = xmpp_stanza_new_from_string(ctx, s);
	if (st) {
		const char *name = xmpp_stanza_get_name(st);
		if (name && !strcmp(name, "message"))
			on_message(NULL, st, c);
		else if (name && !strcmp(name, "presence"))
			on_presence(NULL, st, c);
		else if (name && !strcmp(name, "iq"))
			on_iq(NULL, st, c);
		xmpp_stanza_release(st);
	}
	/* what the server made us hold is bounded */
	if (jv_object_length(jv_copy(c->rooms)) > XMPP_ROOMS_MAX ||
	    jv_object_length(jv_copy(c->reactions)) > XMPP_REACTIONS_MAX)
		abort();
	deliver(c);
	fail_jobs(c, bot_fail_code("connection_lost", 1, "end"));
	deliver(c);

	/* the same bytes as a user's identifier */
	jv id = xm_build_identifier(c, s);
	if (jv_is_valid(id) && !bot_ident_kind(id))
		abort();
	jv_free(id);
	/* ... and as a link: the name shown is always a good one */
	char name[256];
	link_name(s, name, sizeof name);
	if (!file_name_ok(name))
		abort();
	free(s);
	if (c->m)
		c->http->multi_free(c->m);
	c->ctx = NULL;
	c->bh = NULL;
	jv_free(c->failure);
	jv_free(c->rooms);
	jv_free(c->rooms_cfg);
	jv_free(c->reactions);
	jv_free(c->my_reactions);
	free(c);
	return 0;
}
