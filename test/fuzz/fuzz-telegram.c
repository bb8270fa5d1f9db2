/* fuzz-telegram: what the Bot API answers (a getUpdates body, a getFile
 * answer) and what a user gives (an identifier, a message id, a card)
 * through the Telegram backend's parsers.  Every event it makes must pass
 * the schema, its marks must rise, and a file path from the server never
 * yields a "." or ".." segment.  Built with clang -fsanitize=fuzzer;
 * everything is freed so leaks show. */
#include "../../backends/telegram.c"

static long long last_mark;

static void check_event(struct bot_host *h, jv ev, jv mark)
{
	(void)h;
	jv v = bot_validate(ev);
	if (!jv_is_valid(v))
		abort();   /* an event the schema refuses */
	jv_free(v);
	if (jv_get_kind(mark) == JV_KIND_NUMBER) {
		long long m = (long long)jv_number_value(mark);
		if (m <= last_mark)
			abort();   /* a mark that does not rise would commit too little */
		last_mark = m;
	}
	jv_free(mark);
}

static void no_up(struct bot_host *h) { (void)h; }
static int no_lag(struct bot_host *h) { (void)h; return 0; }

static const char *no_state(struct bot_host *h, jv *err)
{
	(void)h;
	*err = bot_fail("no state in the fuzzer");
	return NULL;
}

static int no_spool(struct bot_host *h, const char *name, char *buf, size_t n, jv *err)
{
	(void)h;
	(void)name;
	(void)buf;
	(void)n;
	*err = bot_fail("no spool in the fuzzer");
	return -1;
}

static struct tg *fuzz_tg(struct bot_host *host)
{
	struct tg *t = calloc(1, sizeof *t);
	t->host = host;
	t->failure = jv_null();
	t->batch = jv_array();
	t->held = jv_null();
	t->held_file = jv_null();
	t->migrated = jv_object();
	t->chats = jv_object();
	t->bot_url = strdup("http://127.0.0.1:9/bot1:x");
	t->file_url = strdup("http://127.0.0.1:9/file/bot1:x");
	jv err = jv_null();
	t->m = bot_http_multi_new(&err);
	jv_free(err);
	t->state = ST_POLLING;
	t->backlog = 1;
	t->file_max = TG_FILE_MAX;
	snprintf(t->me_id, sizeof t->me_id, "4242");
	return t;
}

/* The getFile that take_batch started ends with answer (look-only). */
static void finish_file(struct tg *t, jv answer)
{
	t->stopping = 1;
	bot_http_cancel_all(t->m);   /* the real transfer: never run */
	t->stopping = 0;
	t->xfer = 0;
	struct bot_http_done d = { .headers = jv_null(), .body = answer, .fail = jv_null() };
	got_file(t, &d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bot_host host = { .size = sizeof host, .emit = check_event, .up = no_up,
	                         .lagging = no_lag, .state_dir = no_state, .spool_path = no_spool };
	last_mark = 0;
	jv body = jv_parse_sized((const char *)data, (int)size);
	if (!jv_is_valid(body)) {
		jv_free(body);
		body = jv_null();
	}

	/* the body as getUpdates' answer; each file it holds as getFile's */
	struct tg *t = fuzz_tg(&host);
	struct bot_http_done d = { .headers = jv_null(), .body = body, .fail = jv_null() };
	polled(t, &d);
	for (int i = 0; i < 200 && jv_get_kind(t->held_file) == JV_KIND_OBJECT && t->xfer; i++)
		finish_file(t, body);
	telegram_close(t);

	/* a card */
	if (jv_get_kind(body) == JV_KIND_OBJECT)
		jv_free(card_html(body));
	jv_free(body);

	/* user text: an identifier, a message id, a server's file path */
	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = 0;
	jv id = telegram_parse_identifier(s);
	if (jv_is_valid(id) && !bot_ident_id(id))
		abort();
	jv_free(id);
	char chat[64];
	long long msg;
	if (parse_message_id(s, chat, sizeof chat, &msg) == 0 &&
	    !int_id_ok(chat, strlen(chat)) && !username_ok(chat))
		abort();
	jv segs = path_segments(s);
	if (jv_is_valid(segs)) {
		jv_array_foreach(segs, i, seg) {
			const char *v = jv_string_value(seg);
			if (!*v || !strcmp(v, ".") || !strcmp(v, "..") || strchr(v, '/'))
				abort();
			jv_free(seg);
			(void)i;
		}
	}
	jv_free(segs);
	free(s);
	return 0;
}
