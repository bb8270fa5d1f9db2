/* fuzz-mattermost: what the server sends on the v4 WebSocket (one JSON
 * message, its data.post and data.reaction JSON again), and what a user
 * gives as an identifier, through the Mattermost backend's parsers.  Up,
 * with a cursor, so that a seq gap starts the catch-up fetches (cancelled
 * at the end: their answers are the failure path).  Everything is freed. */
#include "../../backends/mattermost.c"

static void drop(struct bot_host *h, jv ev, jv mark)
{
	(void)h;
	jv_free(ev);
	jv_free(mark);
}

static void up(struct bot_host *h)
{
	(void)h;
}

static int not_lagging(struct bot_host *h)
{
	(void)h;
	return 0;
}

static int no_spool(struct bot_host *h, const char *name, char *buf, size_t n, jv *err)
{
	(void)h;
	(void)name;
	(void)buf;
	(void)n;
	*err = bot_fail("no spool here");
	return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bot_host host = { .size = sizeof host, .emit = drop, .up = up,
	                         .lagging = not_lagging, .spool_path = no_spool };
	struct mm *c = calloc(1, sizeof *c);
	c->host = &host;
	c->fail = jv_null();
	c->channels = JV_ARRAY(jv_string("opschannel0000000000000000"));
	c->names = jv_object();
	c->seen = jv_object();
	c->seen_order = jv_array();
	c->base = strdup("http://127.0.0.1:9");
	c->auth = strdup("Authorization: Bearer t");
	c->token = strdup("t");
	jv err = jv_null();
	c->m = bot_http_multi_new(&err);
	jv_free(err);
	snprintf(c->self_id, sizeof c->self_id, "botuser0000000000000000000");
	c->state = MM_UP;
	c->seq = 0;
	c->since = 1;
	/* the input as one message, then its lines as messages */
	mm_feed(c, (const char *)data, size);
	const char *p = (const char *)data, *end = p + size;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		mm_feed(c, p, n);
		p += n + 1;
	}
	/* what the server sent, what it made us hold is bounded */
	if (jv_array_length(jv_copy(c->seen_order)) > MM_SEEN_MAX ||
	    jv_array_length(jv_copy(c->channels)) > MM_CHANNELS_MAX)
		abort();
	mm_close(c);

	/* user text as an identifier */
	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = 0;
	jv id = mm_build_identifier(NULL, s);
	jv_free(id);
	free(s);
	return 0;
}
