/* fuzz-argv: the plugin argument splitter (POSIX quoting, no expansion)
 * on any bytes.  Words that come out, quoted again with single quotes,
 * split back into the same words.  Builds as a no-op until lib/argv.c
 * (the dispatch work, BOT_CMD_NAME_MAX in dispatch.h) is in the tree. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bot.h"
#include "dispatch.h"

#ifdef BOT_CMD_NAME_MAX
static void fail(const char *why)
{
	fprintf(stderr, "FAILED PROMISE: %s\n", why);
	abort();
}

/* 'w1' 'w2' ..., with ' written as '\'' */
static jv requote(jv words)
{
	jv text = jv_string("");
	jv_array_foreach(words, i, w) {
		text = jv_string_append_str(text, i ? " '" : "'");
		/* whole runs between quotes: a byte at a time would cut UTF-8 */
		for (const char *p = jv_string_value(w); *p;) {
			size_t run = strcspn(p, "'");
			text = jv_string_append_buf(text, p, (int)run);
			p += run;
			if (*p == '\'') {
				text = jv_string_append_str(text, "'\\''");
				p++;
			}
		}
		text = jv_string_append_str(text, "'");
		jv_free(w);
	}
	jv_free(words);
	return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	jv words = bot_split_words(text, size);
	if (jv_is_valid(words)) {
		jv_array_foreach(words, i, w) {
			if (jv_get_kind(w) != JV_KIND_STRING ||
			    memchr(jv_string_value(w), 0, (size_t)jv_string_length_bytes(jv_copy(w))))
				fail("a word is a string without NUL");
			jv_free(w);
			(void)i;
		}
		jv again_text = requote(jv_copy(words));
		jv again = bot_split_words(jv_string_value(again_text),
		                           (size_t)jv_string_length_bytes(jv_copy(again_text)));
		if (!jv_equal(jv_copy(words), again))
			fail("words quoted again split back into the same words");
		jv_free(again_text);
	} else {
		char buf[128];
		if (!bot_fail_message(words, buf, sizeof buf)[0])
			fail("a refusal says why");
	}
	jv_free(words);
	jv_free(bot_split_args(text, size));
	size_t n;
	free(bot_ascii_quotes(text, size, &n));
	return 0;
}
#else
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	(void)data;
	(void)size;
	return 0;
}
#endif
