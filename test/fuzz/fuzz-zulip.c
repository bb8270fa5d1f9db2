/* fuzz-zulip: what a Zulip server answers to GET /events (parsed as JSON,
 * as libbothttp hands it on) through the Zulip backend's event parser, and
 * what a user gives as an identifier, a mention or a message body with
 * upload links.  Built with clang -fsanitize=fuzzer; everything is freed
 * so leaks show. */
#include "../../backends/zulip.c"

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = 0;

	/* the server's answer to a poll: every event through events_of */
	struct bot_host host = { .size = sizeof host, .emit = drop, .up = up };
	struct zl *z = calloc(1, sizeof *z);
	z->host = &host;
	z->failure = jv_null();
	z->items = jv_array();
	z->held = jv_array();
	z->files = jv_array();
	for (int i = 0; i < ZULIP_CACHE; i++)
		z->cache[i] = (struct cached){ 0, jv_null(), jv_null() };
	z->email = strdup("bot@zulip.test");
	z->listening = 1;
	z->file_max = 0;   /* no transfer: files are fuzzed as links below */
	jv body = jv_parse_sized(s, (int)size);
	if (jv_is_valid(body)) {
		struct bot_http_done d = { .id = 1, .status = 200, .headers = jv_object(),
		                           .body = body, .fail = jv_null() };
		polled(z, &d);
		/* the same events again: every message is at or below max_msg */
		polled(z, &d);
		jv_free(d.headers);
		jv_free(d.fail);
	}
	jv_free(body);
	if (z->acked > z->marked || z->marked > z->last_event_id + 1)
		abort();
	zulip_close(z);

	/* user text */
	jv id = zulip_parse_identifier(s);
	if (jv_is_valid(id)) {
		const char *stream, *topic;
		(void)stream_topic(id, &stream, &topic);
		jv_free(zulip_mention(NULL, jv_copy(id), jv_string("x")));
	}
	jv_free(id);
	jv links = upload_links(s);
	jv_array_foreach(links, i, l) {
		const char *p = jv_string_value(l);
		if (strstr(p, "..") || strstr(p, "//") || strchr(p, '?') || strchr(p, ' '))
			abort();
		jv_free(l);
		(void)i;
	}
	jv_free(links);
	free(s);
	return 0;
}
