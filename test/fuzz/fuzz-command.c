/* fuzz-command: a chat message's body through command finding (command.c),
 * argument splitting (argv.c) and the not-found text, as bot-dispatch
 * does.  Promises: a found name is a safe file name the lookup agreed to;
 * arguments carry no NUL; split words never hold a NUL; a similarity is
 * within [0, 1]. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bot.h"
#include "dispatch.h"

static void fail(const char *why)
{
	fprintf(stderr, "FAILED PROMISE: %s\n", why);
	abort();
}

static const char *const names[] = { "echo", "help", "deploy", "deploy_status", "a-b", NULL };

static int exists(void *ctx, const char *name)
{
	(void)ctx;
	if (!bot_cmd_name_safe(name))
		fail("the lookup is only asked about safe names");
	for (const char *const *n = names; *n; n++)
		if (!strcmp(*n, name))
			return 1;
	return 0;
}

static void split(const char *s)
{
	jv w = bot_split_args(s, strlen(s));
	if (jv_is_valid(w)) {
		if (jv_get_kind(w) != JV_KIND_ARRAY)
			fail("words are an array");
		jv_array_foreach(w, i, word) {
			if (jv_get_kind(word) != JV_KIND_STRING)
				fail("a word is a string");
			if ((size_t)jv_string_length_bytes(jv_copy(word)) != strlen(jv_string_value(word)))
				fail("a word holds no NUL");
			jv_free(word);
			(void)i;
		}
	} else if (!jv_invalid_has_msg(jv_copy(w)))
		fail("a refusal says why");
	jv_free(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = 0;   /* a jv string's C view stops at a NUL as well */
	jv alt = JV_ARRAY(jv_string("Err"), jv_string("Errbot"), jv_string("@bot:"));
	for (int mode = 0; mode < 4; mode++) {
		struct bot_cmd_opts o = {
			.prefix = mode & 2 ? "! " : "!", .alt_prefixes = alt, .separators = ":,;",
			.alt_caseless = mode & 1, .prefix_optional = mode & 1, .exists = exists,
		};
		struct bot_cmd c;
		bot_cmd_parse(&o, s, mode & 1, &c);
		if (c.kind == BOT_CMD_FOUND) {
			if (!bot_cmd_name_safe(c.name) || !exists(NULL, c.name))
				fail("a found name is safe and exists");
			split(c.args);
		} else if (c.kind == BOT_CMD_NOT_FOUND) {
			jv names_jv = jv_array();
			for (const char *const *n = names; *n; n++)
				names_jv = jv_array_append(names_jv, jv_string(*n));
			jv t = bot_cmd_not_found("!", c.word, c.next, names_jv);
			if (jv_get_kind(t) != JV_KIND_STRING)
				fail("the not-found text is a string");
			jv_free(t);
			jv_free(names_jv);
			double r = bot_similarity(c.word, "deploy status");
			if (!(r >= 0 && r <= 1))
				fail("a ratio is within [0, 1]");
		}
		bot_cmd_clear(&c);
	}
	split(s);
	jv_free(alt);
	free(s);
	return 0;
}
