/* fuzz-redact: URL redaction (lib/http.c) on any bytes.  A server's error
 * text and curl's messages pass through bot_http_redact_text before they
 * reach a log or an event; bot_http_redact must never let a path or a
 * query through, whatever the URL. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bot.h"
#include "http.h"

/* After scheme "://", at most one '/', and then only at the end or
 * before the final "…". */
static void check_redacted(const char *out)
{
	if (strcmp(out, "<url>") == 0)
		return;
	const char *p = strstr(out, "://");
	if (!p)
		abort();
	const char *slash = strchr(p + 3, '/');
	if (slash && slash[1] && strcmp(slash + 1, "\xe2\x80\xa6") != 0)
		abort();
	if (strchr(p + 3, '?') || strchr(p + 3, '@'))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = 0;
	static const size_t sizes[] = { 1, 7, 64, 4096 };
	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
		char *out = malloc(sizes[i]);
		bot_http_redact(s, out, sizes[i]);
		if (strlen(out) >= sizes[i])
			abort();
		if (sizes[i] == 4096 && size < 1000)
			check_redacted(out);
		bot_http_redact_text(s, out, sizes[i]);
		if (strlen(out) >= sizes[i])
			abort();
		free(out);
	}
	free(s);
	return 0;
}
