/* fuzz-ident: every backend's build_identifier on any string.  Each
 * backend is compiled in under its own name (run.sh passes
 * -Dbot_backend=bot_backend_NAME).  What one accepts must be an
 * identifier whose id reads back to the same identifier. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"

/* A broken promise: say which, then crash so that libFuzzer keeps the input. */
static void fail(const char *why)
{
	fprintf(stderr, "FAILED PROMISE: %s\n", why);
	abort();
}

extern const struct bot_backend bot_backend_text;
#ifdef FUZZ_WEBHOOK
extern const struct bot_backend bot_backend_webhook;
#endif
#ifdef FUZZ_IRC
extern const struct bot_backend bot_backend_irc;
#endif

static const struct bot_backend *const backends[] = {
	&bot_backend_text,
#ifdef FUZZ_WEBHOOK
	&bot_backend_webhook,
#endif
#ifdef FUZZ_IRC
	&bot_backend_irc,
#endif
};

/* build_identifier never needs a connection; these backends ignore the
 * instance pointer. */
static void check(const struct bot_backend *b, const char *s)
{
	jv id = bot_expand_ident(b, NULL, jv_string(s));
	if (!jv_is_valid(id)) {
		char buf[256];
		bot_fail_message(id, buf, sizeof buf);
		if (!buf[0])
			fail("a refusal says why");
		jv_free(id);
		return;
	}
	const char *kind = bot_ident_kind(id), *canon = bot_ident_id(id);
	if (!kind || !canon)
		fail("an accepted identifier has a kind and an id");
	if (bot_has_line_break(canon, strlen(canon)))
		fail("an accepted id has no CR, LF or NUL: it may reach a line protocol");
	jv again = b->build_identifier(NULL, canon);
	if (!jv_is_valid(again) || strcmp(bot_ident_kind(again), kind) ||
	    strcmp(bot_ident_id(again), canon))
		fail("the canonical id reads back to itself");
	(void)bot_ident_person(id);
	(void)bot_ident_room(id);
	(void)bot_ident_aclattr(id);
	jv_free(again);
	jv_free(id);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = 0;   /* a C string stops at the first NUL, as argv would */
	for (size_t i = 0; i < sizeof backends / sizeof *backends; i++)
		check(backends[i], s);
	free(s);
	return 0;
}
