/* fuzz-irc: what a server sends (lines, in pieces), and what a user gives
 * as an identifier or a message body, through the IRC backend's parsers.
 * Built with clang -fsanitize=fuzzer; everything is freed so leaks show. */
#include "../../backends/irc.c"

static void drop(struct bot_host *h, jv ev, jv mark)
{
	(void)h;
	jv_free(ev);
	jv_free(mark);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* server bytes, fed in two pieces so lines straddle reads */
	struct irc *c = calloc(1, sizeof *c);
	struct bot_host host = { .size = sizeof host, .emit = drop };
	irc_state_init(c);
	snprintf(c->nick_cfg, sizeof c->nick_cfg, "bot");
	snprintf(c->nick, sizeof c->nick, "bot");
	c->bh = &host;
	c->bucket = bot_rate_new(c->burst, c->rate);
	/* a message job whose lines went out: it collects the answers, and a
	 * "PONG :bp1" answers it (a 404 or 401 first sends it again) */
	struct job *j = job_new(JOB_MESSAGE, jv_null());
	snprintf(j->target, sizeof j->target, "#ops");
	snprintf(j->token, sizeof j->token, "bp1");
	j->lines = jv_array_append(jv_array(), jv_string("PRIVMSG #ops :x"));
	j->written = 1;
	j->ping_ms = 1;
	c->jobs = c->jobs_tail = j;
	size_t half = size / 2;
	const uint8_t *parts[2] = { data, data + half };
	size_t lens[2] = { half, size - half };
	for (int p = 0; p < 2; p++)
		for (size_t off = 0; off < lens[p];) {
			size_t k = sizeof c->in - c->in_len;
			if (k > lens[p] - off)
				k = lens[p] - off;
			memcpy(c->in + c->in_len, parts[p] + off, k);
			c->in_len += k;
			take_lines(c);
			off += k;
		}
	/* whatever the server sent, what it made us hold is bounded */
	if (c->names_channels > IRC_NAMES_CHANNELS_MAX || c->names_held > IRC_NAMES_MAX ||
	    c->joined_count > IRC_JOINED_MAX || (c->jobs && c->jobs->rt_cost > IRC_RT_COST_MAX) ||
	    jv_object_length(jv_copy(c->names)) != c->names_channels ||
	    jv_object_length(jv_copy(c->joined)) != c->joined_count)
		abort();
	c->bh = NULL;
	irc_close(c);

	/* user text: an identifier, and a body cut into lines */
	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = 0;
	jv id = irc_parse_identifier(s);
	if (jv_is_valid(id)) {
		char target[256];
		jv ok = target_of(id, target, sizeof target);
		if (jv_is_valid(ok) && (nick_ok(target, strlen(target)) || chan_ok(target, strlen(target)))) {
			jv lines = message_lines("PRIVMSG", target, s, 40, size & 1);
			jv_array_foreach(lines, i, l) {
				if (bot_has_line_break(jv_string_value(l), (size_t)jv_string_length_bytes(jv_copy(l))))
					abort();   /* a line break would be a second command */
				jv_free(l);
				(void)i;
			}
			jv_free(lines);
		}
		jv_free(ok);
	}
	jv_free(id);
	jv_free(irc_clean_text(s, size));
	free(s);
	return 0;
}
