/* fuzz-slack: what Slack's socket sends (one message a line) through the
 * envelope and event parsers, and what a user gives as an identifier or
 * Slack as mrkdwn.  Built with clang -fsanitize=fuzzer; everything is
 * freed so leaks show. */
#include "../../backends/slack.c"

static int lag;

static void drop(struct bot_host *h, jv ev, jv mark)
{
	(void)h;
	/* whatever came in, what goes out is an event the model accepts */
	jv ok = bot_validate(ev);
	if (!jv_is_valid(ok) && jv_invalid_has_msg(jv_copy(ok)))
		abort();
	jv_free(ok);
	jv_free(mark);
}

static void up(struct bot_host *h) { (void)h; }
static int lagging_now(struct bot_host *h) { (void)h; return lag; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bot_host host = { .size = sizeof host, .emit = drop, .up = up, .lagging = lagging_now };
	struct slack *s = calloc(1, sizeof *s);
	s->host = &host;
	s->failure = jv_null();
	s->names = jv_object();
	snprintf(s->self_user, sizeof s->self_user, "UBOT");
	/* a socket that is no one's: acknowledgements have nowhere to go */
	struct sock k = { .s = s, .gen = 7 };
	lag = size && (data[0] & 1);
	const char *p = (const char *)data, *end = p + size;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		on_message(&k, 0, p, len);
		p += len + (nl != NULL);
	}
	lag = 0;
	drain(s);
	slack_commit(s, jv_number((double)s->seq));
	if (s->inbox_len > INBOX_MAX || s->inbox_bytes > INBOX_BYTES_MAX)
		abort();
	slack_close(s);

	char *t = malloc(size + 1);
	memcpy(t, data, size);
	t[size] = 0;
	jv_free(slack_build_identifier(NULL, t));
	jv_free(body_from_mrkdwn(t));
	free(t);
	return 0;
}
