/* fuzz-matrix: what a homeserver answers a /sync with, through the Matrix
 * backend's event parser (the initial sync and a later one, so the
 * reactions it remembers meet their redactions), and what a user gives
 * as an identifier.  Built with clang -fsanitize=fuzzer; everything is
 * freed so leaks show. */
#include "../../backends/matrix.c"

static struct mx *fuzz_state(void)
{
	struct mx *c = calloc(1, sizeof *c);
	if (!c)
		abort();
	c->auth = jv_null();
	c->failure = jv_null();
	c->batch = jv_array();
	c->reactions = jv_object();
	c->reaction_ids = jv_array();
	c->aliases = jv_object();
	c->join_invites = 1;
	snprintf(c->user, sizeof c->user, "@bot:hs");
	return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mx *c = fuzz_state();
	jv body = jv_parse_sized((const char *)data, (int)size);
	for (int initial = 1; initial >= 0; initial--) {
		c->initial = initial;
		/* twice: the second pass meets the reactions the first kept */
		for (int pass = 0; pass < 2; pass++) {
			jv joins = jv_array();
			jv items = sync_items(c, body, &joins);
			/* every item is an event to emit or a file to fetch */
			jv_array_foreach(items, i, it) {
				jv ev = bot_get(it, "emit"), dl = bot_get(it, "download");
				if (jv_get_kind(ev) != JV_KIND_OBJECT && jv_get_kind(dl) != JV_KIND_OBJECT)
					abort();
				if (jv_get_kind(dl) == JV_KIND_OBJECT) {
					jv server, id;
					if (mxc_parts(bot_str(dl, "mxc"), &server, &id) == 0) {
						jv_free(server);
						jv_free(id);
					}
				}
				jv_free(ev);
				jv_free(dl);
				jv_free(it);
				(void)i;
			}
			jv_free(items);
			jv_free(joins);
		}
	}
	if (jv_array_length(jv_copy(c->reaction_ids)) > MX_REACTIONS_MAX)
		abort();
	jv_free(body);
	matrix_close(c);

	/* user text: an identifier, a reply's fallback */
	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = 0;
	jv_free(matrix_build_identifier(NULL, s));
	jv_free(strip_reply_fallback(s));
	jv_free(alias_localpart(s));
	free(s);
	return 0;
}
