/* libFuzzer target: bot_split.  Byte 0 picks the markup, byte 1 the unit,
 * byte 2 the limit (0-255), the rest is the markdown. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "render.h"

static const char *const markups[] = {
	"text", "ansi", "irc", "xmpp", "markdown", "discord", "mattermost", "zulip",
	"slack", "telegram", "html", "matrix",
};

/* A part must never end or start inside a UTF-8 sequence. */
static int utf8_ok(const unsigned char *p)
{
	for (; *p; p++) {
		int l = *p < 0x80 ? 0 : *p >= 0xf0 ? 3 : *p >= 0xe0 ? 2 : *p >= 0xc0 ? 1 : -1;
		if (l < 0)
			return 0;
		for (; l > 0; l--)
			if ((*++p & 0xc0) != 0x80)
				return 0;
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3)
		return 0;
	const char *m = markups[data[0] % (sizeof markups / sizeof *markups)];
	enum bot_size_unit unit = (enum bot_size_unit)(data[1] % 3);
	size_t limit = data[2];
	char *md = malloc(size - 2);
	memcpy(md, data + 3, size - 3);
	md[size - 3] = '\0';
	jv parts = bot_split(m, md, size - 3, limit, unit);
	if (jv_get_kind(parts) != JV_KIND_ARRAY || jv_array_length(jv_copy(parts)) < 1)
		abort();
	jv_array_foreach(parts, i, p) {
		if (!utf8_ok((const unsigned char *)jv_string_value(p)))
			abort();
		jv_free(p);
		(void)i;
	}
	jv_free(parts);
	free(md);
	return 0;
}
