/* text.c: the console backend, embedded in every program.  A chat with the
 * person at the keyboard: each line typed is a message to the bot; replies
 * are shown on the terminal.  errbot's TextCmds switch the context:
 * !inroom [#room], !inperson, !asuser [name], !asadmin. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "buf.h"
#include "render.h"

static const struct bot_option text_options[] = {
	{ "text-input", 0, BOT_OPT_STR, "FILE", "-", "read what the person types from FILE (- = standard input)" },
	{ "text-output", 0, BOT_OPT_STR, "FILE", NULL, "show the chat in FILE (default: the terminal, else standard error)" },
	{ "text-user", 0, BOT_OPT_STR, "@NAME", "@you", "the person at the keyboard" },
	{ "text-bot", 0, BOT_OPT_STR, "@NAME", "@bot", "the bot's identity" },
	{ "text-room", 0, BOT_OPT_STR, "#ROOM", "#room", "the room !inroom joins without an argument" },
	{ "text-color", 0, BOT_OPT_STR, "WHEN", "auto", "ANSI colours: auto (on a terminal), always, never" },
	BOT_OPTIONS_END
};

struct text {
	struct bot_host *host;
	int in_fd, own_in;
	FILE *out;
	int own_out, color;
	int raw;               /* bot-send --raw: bodies not rendered */
	char input[1024];
	char admin[128], user[128], bot[128], room[128], default_room[128];
	char *buf;
	size_t len, cap;
	long seq;
	long long prompt_at;   /* when to show the prompt again, 0 = shown */
};

static void text_close(void *p)
{
	struct text *t = p;
	if (!t)
		return;
	if (t->own_in && t->in_fd >= 0)
		close(t->in_fd);
	if (t->own_out && t->out)
		fclose(t->out);
	free(t->buf);
	free(t);
}

static int name_ok(const char *s, char sigil)
{
	return s && s[0] == sigil && s[1] && !strpbrk(s, " \t\r\n/");
}

/* The console: a FILE given, else the terminal, else stderr. */
static FILE *open_output(const char *path, int *own)
{
	FILE *f = NULL;
	*own = 1;
	if (path && strcmp(path, "-"))
		return fopen(path, "a");
	if ((f = fopen("/dev/tty", "w")))
		return f;
	*own = 0;
	return stderr;
}

static void *text_open(const struct bot_config *cfg, struct bot_host *host, jv *err)
{
	struct text *t = calloc(1, sizeof *t);
	if (!t)
		abort();
	t->host = host;
	const char *user = bot_cfg_str(cfg, "text-user"), *bot = bot_cfg_str(cfg, "text-bot");
	const char *room = bot_cfg_str(cfg, "text-room"), *color = bot_cfg_str(cfg, "text-color");
	if (!name_ok(user, '@') || !name_ok(bot, '@') || !name_ok(room, '#')) {
		*err = bot_fail("--text-user and --text-bot take @name, --text-room #room");
		free(t);
		return NULL;
	}
	snprintf(t->admin, sizeof t->admin, "%s", user);
	snprintf(t->user, sizeof t->user, "%s", user);
	snprintf(t->bot, sizeof t->bot, "%s", bot);
	snprintf(t->default_room, sizeof t->default_room, "%s", room);
	t->in_fd = -1;
	snprintf(t->input, sizeof t->input, "%s", bot_cfg_str(cfg, "text-input"));
	t->out = open_output(bot_cfg_str(cfg, "text-output"), &t->own_out);
	if (!t->out) {
		*err = bot_fail("--text-output %s: %s", bot_cfg_str(cfg, "text-output"), strerror(errno));
		free(t);
		return NULL;
	}
	setvbuf(t->out, NULL, _IOLBF, 0);
	t->raw = bot_cfg_flag(cfg, "raw");
	if (!color || !strcmp(color, "auto"))
		t->color = isatty(fileno(t->out));
	else if (!strcmp(color, "always"))
		t->color = 1;
	else if (!strcmp(color, "never"))
		t->color = 0;
	else {
		*err = bot_fail("--text-color: expected auto, always or never, got '%s'", color);
		text_close(t);
		return NULL;
	}
	return t;
}

static const char *text_markup(void *p)
{
	return ((struct text *)p)->color ? "ansi" : "text";
}

static void prompt(struct text *t)
{
	if (!isatty(fileno(t->out)) || !isatty(t->in_fd))
		return;
	fprintf(t->out, "[%s \xe2\x9e\xa1 %s] >>> ", t->user, t->room[0] ? t->room : t->bot);
	fflush(t->out);
}


/* Identifiers: @name, #room, #room/name (errbot's text backend).  No
 * spaces or control characters: an id may reach a line protocol. */
static jv text_build_identifier(void *p, const char *s)
{
	(void)p;
	for (const char *c = s; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f)
			return bot_fail("An identifier for the Text backend has no spaces or control characters.");
	const char *slash = strchr(s, '/');
	if (s[0] == '@' && s[1] && !slash)
		return bot_person(s, s + 1);
	if (s[0] == '#' && s[1] && !slash)
		return bot_room(s);
	if (s[0] == '#' && slash && slash > s + 1 && slash[1] && !strchr(slash + 1, '/')) {
		char room[256], person[256];
		snprintf(room, sizeof room, "%.*s", (int)(slash - s), s);
		snprintf(person, sizeof person, "@%s", slash + 1);
		jv o = bot_occupant(room, slash + 1, s);
		return jv_object_set(o, jv_string("person"), jv_string(person));
	}
	return bot_fail("An identifier for the Text backend needs to start with # for a room or @ for a person.");
}

/* The message for one typed line, from the person or the occupant. */
static jv typed_message(struct text *t, const char *line)
{
	jv from, to;
	if (t->room[0]) {
		char id[300];
		snprintf(id, sizeof id, "%s/%s", t->room, t->user + 1);
		from = text_build_identifier(t, id);
		to = bot_room(t->room);
	} else {
		from = bot_person(t->user, t->user + 1);
		to = bot_person(t->bot, t->bot + 1);
	}
	jv m = bot_message(from, to, line);
	m = jv_object_set(m, jv_string("id"), jv_string_fmt("%ld", ++t->seq));
	return jv_object_set(m, jv_string("ts"), jv_number((double)time(NULL)));
}

/* errbot's TextCmds; 1 when the line was one of them. */
static int context_command(struct text *t, const char *line)
{
	char arg[128] = "";
	if (!strncmp(line, "!inroom", 7) && (!line[7] || line[7] == ' ')) {
		sscanf(line + 7, " %127s", arg);
		snprintf(t->room, sizeof t->room, "%s", arg[0] ? arg : t->default_room);
		if (!name_ok(t->room, '#'))
			snprintf(t->room, sizeof t->room, "%s", t->default_room);
		fprintf(t->out, "Joined Room %s.\n", t->room);
	} else if (!strcmp(line, "!inperson")) {
		t->room[0] = 0;
		fprintf(t->out, "Now in one-on-one with the bot.\n");
	} else if (!strncmp(line, "!asuser", 7) && (!line[7] || line[7] == ' ')) {
		sscanf(line + 7, " %126s", arg);
		snprintf(t->user, sizeof t->user, "@%s", arg[0] ? (arg[0] == '@' ? arg + 1 : arg) : "luser");
		fprintf(t->out, "You are now: %s.\n", t->user);
	} else if (!strcmp(line, "!asadmin")) {
		snprintf(t->user, sizeof t->user, "%s", t->admin);
		fprintf(t->out, "You are now an admin: %s.\n", t->user);
	} else
		return 0;
	return 1;
}

/* The prompt waits a moment after a line, so that the bot's answer
 * (written by bot-send to the same terminal) comes before it, as errbot's
 * text backend pauses half a second. */
#define PROMPT_DELAY_MS 300

static void text_prepare(void *p, struct bot_poll *poll)
{
	struct text *t = p;
	if (t->in_fd >= 0 && !t->host->lagging(t->host))
		bot_poll_want(poll, t->in_fd, POLLIN);
	if (t->prompt_at)
		bot_poll_deadline(poll, t->prompt_at);
}

/* Each complete line typed: a message, or one of errbot's TextCmds. */
static void take_lines(struct text *t)
{
	char *start = t->buf, *nl;
	while ((nl = memchr(start, '\n', t->len - (size_t)(start - t->buf)))) {
		*nl = 0;
		if (nl > start && nl[-1] == '\r')
			nl[-1] = 0;
		if (*start && !context_command(t, start))
			t->host->emit(t->host, typed_message(t, start), jv_null());
		start = nl + 1;
		t->prompt_at = bot_now_ms() + PROMPT_DELAY_MS;
	}
	t->len -= (size_t)(start - t->buf);
	memmove(t->buf, start, t->len);
}

static int text_dispatch(void *p, const struct bot_poll *poll, jv *err)
{
	struct text *t = p;
	if (t->prompt_at && bot_now_ms() >= t->prompt_at) {
		t->prompt_at = 0;
		prompt(t);
	}
	if (t->in_fd < 0 || !bot_poll_revents(poll, t->in_fd))
		return 0;   /* woken for the prompt only */
	if (t->cap - t->len < 4096) {
		t->cap = t->cap ? t->cap * 2 : 8192;
		t->buf = realloc(t->buf, t->cap);
		if (!t->buf)
			abort();
	}
	ssize_t n = read(t->in_fd, t->buf + t->len, t->cap - t->len - 1);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n < 0) {
		*err = bot_fail_code("read_failed", 1, "read: %s", strerror(errno));
		return -1;
	}
	if (n == 0 && t->len)  /* a last line without newline */
		t->buf[t->len++] = '\n';
	t->len += (size_t)n;
	take_lines(t);
	if (n == 0) {
		t->host->emit(t->host, bot_presence_event(bot_person(t->user, t->user + 1), "offline", NULL),
		              jv_null());
		return 1;   /* end of input: the person left */
	}
	return 0;
}

static int text_is_from_self(void *p, jv msg)
{
	struct text *t = p;
	jv from = bot_get(msg, "from");
	const char *id = bot_ident_id(from), *nick = bot_str(from, "nick");
	int self = (id && !strcmp(id, t->bot)) || (nick && !strcmp(nick, t->bot + 1) &&
	           bot_ident_room(from));
	jv_free(from);
	return self;
}

/* Length of the SGR sequence (ESC [ digits and ; m: colour, bold) at s,
 * or 0.  The ansi markup writes only these. */
static size_t sgr_len(const unsigned char *s, size_t n)
{
	if (n < 3 || s[0] != 0x1b || s[1] != '[')
		return 0;
	for (size_t i = 2; i < n && i < 32; i++) {
		if (s[i] == 'm')
			return i + 1;
		if (!((s[i] >= '0' && s[i] <= '9') || s[i] == ';'))
			return 0;
	}
	return 0;
}

/* Length of the valid UTF-8 sequence at s, or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t l = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2 :
	           (s[0] & 0xf0) == 0xe0 ? 3 : (s[0] & 0xf8) == 0xf0 ? 4 : 0;
	if (!l || l > n || (l == 2 && s[0] < 0xc2) || (l == 4 && s[0] > 0xf4))
		return 0;
	for (size_t i = 1; i < l; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return l;
}

/* Text as the console may show it: control characters other than
 * newline and tab (C0, DEL, C1: the start of a CSI or OSC sequence that
 * would move the cursor, retitle the window or worse) in cat -v's caret
 * notation (ESC as ^[, U+009B as M-^[), bytes that are not UTF-8 as
 * U+FFFD.  With sgr, the colour and bold sequences the ansi markup
 * writes pass (bodies sent --raw get no such exception). */
static void console_text(struct sbuf *out, const char *text, int sgr)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t n = strlen(text);
	for (size_t i = 0; i < n;) {
		size_t l = sgr ? sgr_len(s + i, n - i) : 0;
		char caret[5];
		if (l) {
			sb_add(out, text + i, l);
		} else if ((s[i] < 0x20 && s[i] != '\n' && s[i] != '\t') || s[i] == 0x7f) {
			snprintf(caret, sizeof caret, "^%c", s[i] == 0x7f ? '?' : s[i] + 0x40);
			sb_add(out, caret, 2);
			l = 1;
		} else if (s[i] == 0xc2 && i + 1 < n && s[i + 1] >= 0x80 && s[i + 1] < 0xa0) {
			snprintf(caret, sizeof caret, "M-^%c", s[i + 1] - 0x40);
			sb_add(out, caret, 4);
			l = 2;
		} else if ((l = utf8_len(s + i, n - i))) {
			sb_add(out, text + i, l);
		} else {
			sb_add(out, "\xef\xbf\xbd", 3);
			l = 1;
		}
		i += l;
	}
	sb_add(out, "", 0);
}

/* One line on the console, made safe (no escapes but our colours). */
static jv show(struct text *t, const char *text, int sgr)
{
	struct sbuf safe = { 0 };
	console_text(&safe, text, sgr);
	int bad = fprintf(t->out, "%s\n", safe.s) < 0 || fflush(t->out) != 0;
	free(safe.s);
	if (bad)
		return bot_fail_code("send_failed", 0, "console: %s", strerror(errno));
	return JV_OBJECT(jv_string("id"), jv_string_fmt("%ld", ++t->seq));
}

/* Everything is delivered at once: done before submit returns. */
static int text_submit(void *p, const struct bot_part *part, bot_done_fn done, void *ctx, jv *err)
{
	struct text *t = p;
	(void)err;
	done(ctx, show(t, part->text ? part->text : "", !t->raw));
	return 0;
}

/* errbot's Text prefix: "{person} body" (an occupant's person is @nick);
 * before a body that starts with a block, on a line of its own. */
static jv text_mention(void *p, jv ident, jv body)
{
	(void)p;
	ident = bot_ident_derive(ident);
	const char *who = bot_ident_person(ident);
	jv out = bot_mention_body(who ? who : "", body);
	jv_free(ident);
	return out;
}

static size_t text_size_limit(void *p, jv to)
{
	(void)p;
	(void)to;
	return 10000;
}

/* Open the input when listening starts, not at open: bot-send never
 * reads.  The console is up at once. */
static int text_start(void *p, jv *err)
{
	struct text *t = p;
	if (t->in_fd < 0 && strcmp(t->input, "-")) {
		t->in_fd = open(t->input, O_RDONLY | O_CLOEXEC);
		t->own_in = 1;
		if (t->in_fd < 0) {
			*err = bot_fail_code("no_input", 0, "--text-input %s: %s", t->input, strerror(errno));
			return -1;
		}
	} else if (t->in_fd < 0)
		t->in_fd = 0;
	t->host->up(t->host);
	prompt(t);
	return 0;
}

const struct bot_backend bot_backend_text = {
	.size = sizeof(struct bot_backend),
	.abi = BOT_BACKEND_ABI,
	.name = "text",
	.markup = "ansi",
	.options = text_options,
	.can = BOT_CAN_LISTEN | BOT_CAN_SESSION,
	.size_unit = BOT_UNIT_CHARS,
	.open = text_open,
	.close = text_close,
	.start = text_start,
	.prepare = text_prepare,
	.dispatch = text_dispatch,
	.submit = text_submit,
	.build_identifier = text_build_identifier,
	.is_from_self = text_is_from_self,
	.mention = text_mention,
	.size_limit = text_size_limit,
	.markup_for = text_markup,
};
