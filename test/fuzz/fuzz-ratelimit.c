/* fuzz-ratelimit: the response parsers of lib/http/ratelimit.c on any
 * bytes: header lines (bot_http_header_add), every rate-limit dialect
 * (bot_ratelimit_parse), the envelopes, Retry-After values, URL building.
 * Input: two bytes of status, then header lines ("\n"-separated) up to a
 * blank line, then a body (JSON, else a string). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bot.h"
#include "http.h"

static void fail(const char *why)
{
	fprintf(stderr, "FAILED PROMISE: %s\n", why);
	abort();
}

static void check_rate(const struct bot_ratelimit *rl)
{
	if (!(rl->retry_after == -1 || (rl->retry_after >= 0 && isfinite(rl->retry_after))))
		fail("retry_after is -1 or a finite wait");
	if (rl->remaining < -1 || rl->limit < -1)
		fail("remaining and limit are -1 or counts");
	if (memchr(rl->bucket, 0, sizeof rl->bucket) == NULL)
		fail("bucket is a string");
	if (rl->scope == BOT_RL_BUCKET && rl->bucket[0] == 0 && rl->scope != BOT_RL_GLOBAL)
		; /* an empty X-RateLimit-Bucket value is still a bucket */
}

static void check_envelope(jv e)
{
	if (jv_is_valid(e)) {
		if (jv_get_kind(e) != JV_KIND_NULL)
			fail("an envelope returns null or a failure");
	} else {
		char msg[512];
		bot_fail_message(e, msg, sizeof msg);
		if (bot_has_line_break(msg, strlen(msg)))
			fail("a failure message is one line");
	}
	jv_free(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	long status = 100 + (long)((data[0] << 8 | data[1]) % 500);
	const char *p = (const char *)data + 2, *end = (const char *)data + size;
	jv headers = jv_object(), segments = jv_array();
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (len == 0) {
			p = nl ? nl + 1 : end;
			break;
		}
		headers = bot_http_header_add(headers, p, len);
		char *line = strndup(p, len);
		bot_http_retry_after_value(line, 1700000000.0);
		segments = jv_array_append(segments, jv_string_sized(p, (int)len));
		free(line);
		p = nl ? nl + 1 : end;
	}
	if (jv_get_kind(headers) != JV_KIND_OBJECT)
		fail("headers stay an object");
	jv body = jv_parse_sized(p, (int)(end - p));
	if (!jv_is_valid(body)) {
		jv_free(body);
		body = jv_string_sized(p, (int)(end - p));
	}
	struct bot_ratelimit rl;
	bot_ratelimit_parse(status, headers, body, 1700000000.0, &rl);
	check_rate(&rl);
	check_envelope(bot_http_envelope_ok(status, body));
	check_envelope(bot_http_envelope_result(status, body));
	jv url = bot_http_url("https://h.example/api", segments,
	                      jv_get_kind(body) == JV_KIND_OBJECT ? jv_copy(body) : jv_null());
	const char *u = jv_string_value(url);
	if (strncmp(u, "https://h.example/api", 21) != 0 || strpbrk(u + 8, " \r\n\"#<>") != NULL)
		fail("a built URL keeps its base and has only encoded bytes");
	jv_free(url);
	jv_free(headers);
	jv_free(body);
	return 0;
}
