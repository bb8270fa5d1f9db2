/* libFuzzer target: bot_render, and bot_mention_body.  The first byte
 * picks the markup, the rest is the markdown. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "render.h"

static const char *const markups[] = {
	"text", "ansi", "irc", "xmpp", "markdown", "discord", "mattermost", "zulip",
	"slack", "telegram", "html", "matrix",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *m = markups[data[0] % (sizeof markups / sizeof *markups)];
	char *md = malloc(size);
	memcpy(md, data + 1, size - 1);
	md[size - 1] = '\0';
	char *out = bot_render(m, md, size - 1);
	/* IRC sends a line per PRIVMSG: no CR may survive */
	if (!out || (strcmp(m, "irc") == 0 && strchr(out, '\r')))
		abort();
	free(out);
	/* the mention joined before it, as the text and IRC backends do */
	jv body = bot_mention_body("@a", jv_string_sized(md, (int)strlen(md)));
	out = bot_render(m, jv_string_value(body), (size_t)jv_string_length_bytes(jv_copy(body)));
	if (!out)
		abort();
	free(out);
	jv_free(body);
	free(md);
	return 0;
}
