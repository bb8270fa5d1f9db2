/* fuzz-redact: URL redaction (lib/http.c) and secret masking (lib/util.c)
 * on any bytes.  A server's error text and curl's messages pass through
 * bot_http_redact_text before they reach a log or an event;
 * bot_http_redact must never let a path or a query through, whatever the
 * URL.  bot_redact, given the input's first lines as secrets and the rest
 * as a server's text, must leave none of the secrets in it. */
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

/* Lines before the first empty one are secrets; the rest is the text. */
static void check_masked(char *s)
{
	char *text = strstr(s, "\n\n");
	if (!text)
		return;
	*text = 0;
	text += 2;
	bot_secrets_clear();
	int n = 0;   /* a program has a few secrets: at most 16 are kept whole */
	for (char *line = s, *next; line && n < 16; line = next, n++) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		bot_secret_add(line);
	}
	static const size_t sizes[] = { 1, 5, 64, 4096 };
	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
		char *out = malloc(sizes[i]);
		bot_redact(text, out, sizes[i]);
		if (strlen(out) >= sizes[i])
			abort();
		/* a whole secret of 4 bytes or more (with no '*', which the
		 * mask itself is made of) is never in what is shown */
		int k = 0;
		for (char *line = s; line < text - 2 && k < 16; line += strlen(line) + 1, k++)
			if (strlen(line) >= 4 && !strchr(line, '*') && strstr(out, line))
				abort();
		jv v = bot_redact_jv(JV_ARRAY(jv_string(text), JV_OBJECT(jv_string("k"), jv_string(text))));
		jv_free(v);
		free(out);
	}
	bot_secrets_clear();
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
	check_masked(s);
	free(s);
	return 0;
}
