/* fuzz-discord: what the gateway sends (payloads, one a line, in a
 * session that is identifying), what a REST answer holds, and what a
 * user gives as an identifier or a card, through the Discord backend's
 * parsers.  Built with clang -fsanitize=fuzzer; everything is freed so
 * leaks show. */
#include "../../backends/discord.c"

static void drop(struct bot_host *h, jv ev, jv mark)
{
	(void)h;
	/* every event we make is one the model accepts */
	jv checked = bot_validate(jv_copy(ev));
	if (!jv_is_valid(checked))
		abort();
	jv_free(checked);
	jv_free(ev);
	jv_free(mark);
}

static void up(struct bot_host *h) { (void)h; }

static int no_spool(struct bot_host *h, const char *name, char *buf, size_t n, jv *err)
{
	(void)h;
	(void)name;
	(void)buf;
	(void)n;
	*err = bot_fail("no spool while fuzzing");
	return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bot_host host = { .size = sizeof host, .emit = drop, .up = up, .spool_path = no_spool };
	struct discord *d = calloc(1, sizeof *d);
	d->host = &host;
	d->failure = jv_null();
	d->dm = jv_object();
	d->seq = -1;
	d->state = GW_HELLO;
	d->token = strdup("tok");
	d->download_max = 1 << 20;
	/* each line a payload: HELLO, READY, dispatches, op 7/9... */
	const char *p = (const char *)data, *end = p + size;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		on_payload(d, p, n);
		if (jv_get_kind(d->failure) != JV_KIND_NULL) {   /* a reconnect: go on */
			jv_free(d->failure);
			d->failure = jv_null();
		}
		if (d->seq < -1 || jv_object_length(jv_copy(d->dm)) > DC_DM_MAX)
			abort();
		p += n + 1;
	}
	free(d->token);
	free(d->session_id);
	free(d->resume_url);
	jv_free(d->failure);
	jv_free(d->dm);
	free(d);

	/* the whole input as a user's identifier, a card event and a REST answer */
	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = 0;
	jv id = dc_parse_identifier(s);
	if (jv_is_valid(id) && !bot_ident_kind(id))
		abort();
	jv_free(id);
	jv parsed = jv_parse_sized(s, (int)size);
	if (jv_get_kind(parsed) == JV_KIND_OBJECT) {
		jv_free(card_embed(parsed));
		jv_free(message_id_of(parsed));
	}
	jv_free(parsed);
	char nonce[DC_NONCE_MAX + 1];
	nonce_of(s, nonce);
	if (strlen(nonce) > DC_NONCE_MAX)
		abort();
	free(s);
	return 0;
}
