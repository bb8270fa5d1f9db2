/* transcript.c: bot-dispatch --test.  A transcript (botpipe-plugins(7))
 * is what someone says (">" lines) and what the bot answers ("<" lines);
 * it is replayed through the engine (dispatch_stream, --replay) and the
 * answers are written the same way.  The file with the actual answers in
 * place of the expected ones is compared with the file: a difference is
 * shown by diff -u, or, with --update, written back. */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bot.h"
#include "dispatch_priv.h"

#define TRANSCRIPT_MAX (16u << 20)

extern char **environ;

/* One line of the file; kind is its first character's role. */
/* L_MORE: a ". " line, until parse() says what it continues */
enum line_kind { L_OTHER, L_INPUT, L_INPUT_MORE, L_EXPECT, L_EXPECT_MORE, L_MORE };

struct line {
	const char *s;
	size_t len;
	enum line_kind kind;
};

struct bot_transcript {
	const char *file;
	jv err;         /* what parse() found wrong */
	struct line *lines;
	size_t n;
	jv inputs;      /* the events, in order */
};

static enum line_kind kind_of(const char *s, size_t len)
{
	if (len && s[0] == '>')
		return L_INPUT;
	if (len && s[0] == '<')
		return L_EXPECT;
	if (len && s[0] == '.' && (len == 1 || s[1] == ' '))
		return L_MORE;
	return L_OTHER;
}

/* A "> text" or "< text" line's text: after the mark and one space. */
static jv line_text(const struct line *l, size_t skip)
{
	size_t at = skip < l->len && l->s[skip] == ' ' ? skip + 1 : skip;
	return jv_string_sized(l->s + at, (int)(l->len - at));
}

/* "# who: @alice" (a direct chat) or "# who: @alice in #ops". */
static int parse_who(const char *s, size_t len, char *who, size_t wn, char *room, size_t rn)
{
	static const char mark[] = "# who:";
	if (len < sizeof mark - 1 || strncmp(s, mark, sizeof mark - 1))
		return 0;
	char text[600];
	snprintf(text, sizeof text, "%.*s", (int)(len - (sizeof mark - 1)), s + sizeof mark - 1);
	char a[300] = "", in[8] = "", r[300] = "";
	int n = sscanf(text, " %299s %7s %299s", a, in, r);
	if ((n != 1 && n != 3) || a[0] != '@' || !a[1] || (n == 3 && (strcmp(in, "in") || r[0] != '#' || !r[1])))
		return -1;
	snprintf(who, wn, "%s", a);
	snprintf(room, rn, "%s", n == 3 ? r : "");
	return 1;
}

/* The message a ">" line says: from who, in room or to the bot, with
 * the input's number as its id, as the text backend numbers them. */
static jv said(const char *who, const char *room, jv body, long number)
{
	jv from, to;
	if (*room) {
		jv id = jv_string_fmt("%s/%s", room, who + 1);
		from = jv_object_set(bot_occupant(room, who + 1, jv_string_value(id)),
		                     jv_string("person"), jv_string(who));
		jv_free(id);
		to = bot_room(room);
	} else {
		from = bot_person(who, who + 1);
		to = bot_person("@bot", "bot");
	}
	jv m = bot_message(from, to, jv_string_value(body));
	jv_free(body);
	m = jv_object_set(m, jv_string("backend"), jv_string("text"));
	return jv_object_set(m, jv_string("id"), jv_string_fmt("%ld", number));
}

static int bad(struct bot_transcript *t, size_t i, const char *why)
{
	t->err = jv_string_fmt("%s:%zu: %s", t->file, i + 1, why);
	return -1;
}

/* A raw input event, ">{...}": an object with a "type". */
static int raw_input(struct bot_transcript *t, size_t i, jv *ev)
{
	jv text = jv_string_sized(t->lines[i].s + 1, (int)t->lines[i].len - 1);
	*ev = jv_parse(jv_string_value(text));
	jv_free(text);
	if (!jv_is_valid(*ev) || jv_get_kind(*ev) != JV_KIND_OBJECT || !bot_str(*ev, "type")) {
		jv_free(*ev);
		return bad(t, i, "not an event (a JSON object with a \"type\")");
	}
	return 0;
}

static int parse(struct bot_transcript *t)
{
	char who[300] = "@you", room[300] = "";
	t->inputs = jv_array();
	enum line_kind last = L_OTHER;   /* what a ". " line would continue */
	for (size_t i = 0; i < t->n; i++) {
		struct line *l = &t->lines[i];
		l->kind = kind_of(l->s, l->len);
		if (l->kind == L_OTHER) {
			int w = parse_who(l->s, l->len, who, sizeof who, room, sizeof room);
			if (w < 0)
				return bad(t, i, "write \"# who: @NAME\" or \"# who: @NAME in #ROOM\"");
			if (!w && l->len && l->s[0] != '#')
				return bad(t, i, "not a transcript line: >, <, ., # or an empty line");
		} else if (l->kind == L_MORE) {
			if (last != L_INPUT && last != L_EXPECT)
				return bad(t, i, "a \". \" line continues a \">\" or \"<\" line right above it");
			l->kind = last == L_INPUT ? L_INPUT_MORE : L_EXPECT_MORE;
			continue;
		} else if (l->kind == L_EXPECT && !jv_array_length(jv_copy(t->inputs)))
			return bad(t, i, "an answer (\"<\") before anything was said (\">\")");
		else if (l->kind == L_INPUT && l->len > 1 && l->s[1] == '{') {
			jv ev;
			if (raw_input(t, i, &ev) < 0)
				return -1;
			t->inputs = jv_array_append(t->inputs, ev);
			last = L_OTHER;   /* a raw event is one line */
			continue;
		} else if (l->kind == L_INPUT) {
			jv body = line_text(l, 1);
			for (size_t k = i + 1; k < t->n && kind_of(t->lines[k].s, t->lines[k].len) == L_MORE; k++) {
				body = jv_string_append_str(body, "\n");
				body = jv_string_concat(body, line_text(&t->lines[k], 1));
			}
			long n = jv_array_length(jv_copy(t->inputs));
			t->inputs = jv_array_append(t->inputs, said(who, room, body, n + 1));
		}
		last = l->kind;
	}
	return 0;
}

/* ---- what happened, as transcript lines ---- */

static jv body_lines(jv out, const char *mark, const char *body)
{
	out = jv_string_append_str(out, mark);
	for (const char *p = body;; ) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		if (len)
			out = jv_string_append_str(out, " ");
		out = jv_string_append_buf(out, p, (int)len);
		out = jv_string_append_str(out, "\n");
		if (!nl)
			break;
		p = nl + 1;
		out = jv_string_append_str(out, ".");
	}
	return out;
}

static int same_but_id(jv a, jv b)
{
	a = jv_object_delete(a, jv_string("id"));
	b = jv_object_delete(b, jv_string("id"));
	return jv_equal(a, b);
}

/* ev without the fields a plain reply to input has, with the same values
 * (to, from, backend, in_reply_to, id, mention): what is left says what
 * the event is. */
static jv short_form(jv input, jv ev, int mention)
{
	jv plain = bot_build_reply(jv_copy(input), "", 0, 0, mention);
	jv_object_foreach(plain, key, value) {
		const char *k = jv_string_value(key);
		if (strcmp(k, "type") && strcmp(k, "body") && jv_equal(bot_get(ev, k), jv_copy(value)))
			ev = jv_object_delete(ev, jv_copy(key));
		jv_free(key);
		jv_free(value);
	}
	jv_free(plain);
	return ev;
}

/* "< body" for a plain reply to the input, "<! code: message" for an
 * error about it, else "<" and the event as sorted JSON. */
static jv render(jv out, jv input, jv ev, int mention)
{
	const char *type = bot_str(ev, "type"), *body = bot_str(ev, "body");
	if (type && !strcmp(type, "message") && body) {
		jv plain = bot_build_reply(jv_copy(input), body, 0, 0, mention);
		if (same_but_id(plain, jv_copy(ev)))
			return body_lines(out, "<", body);
	}
	const char *code = bot_str(ev, "code"), *msg = bot_str(ev, "message");
	if (type && !strcmp(type, "error") && code && msg && !strchr(msg, '\n') &&
	    jv_object_length(jv_copy(ev)) == 4) {
		jv about = bot_get(ev, "event");
		if (jv_equal(about, jv_copy(input)))
			return jv_string_concat(out, jv_string_fmt("<! %s: %s\n", code, msg));
	}
	jv s = jv_dump_string(short_form(input, jv_copy(ev), mention), JV_PRINT_SORTED);
	out = jv_string_concat(jv_string_append_str(out, "<"), s);
	return jv_string_append_str(out, "\n");
}

static jv render_all(jv input, jv events, int mention)
{
	jv out = jv_string("");
	jv_array_foreach(events, i, ev) {
		out = render(out, input, ev, mention);
		jv_free(ev);
		(void)i;
	}
	jv_free(events);
	jv_free(input);
	return out;
}

/* Whether the input at line i has "<" lines before the next input. */
static int has_expected(const struct bot_transcript *t, size_t i)
{
	for (i++; i < t->n && t->lines[i].kind != L_INPUT; i++)
		if (t->lines[i].kind == L_EXPECT)
			return 1;
	return 0;
}

static jv answers(const struct bot_transcript *t, jv outputs, long input, int mention)
{
	jv ev = jv_array_get(jv_copy(t->inputs), (int)input);
	jv outs = jv_array_get(jv_copy(outputs), (int)input);
	if (jv_get_kind(outs) != JV_KIND_ARRAY) {
		jv_free(outs);
		outs = jv_array();
	}
	return render_all(ev, outs, mention);
}

/* The file with each input's answers in place of the expected ones: at
 * its first "<" line, or right after it when it has none. */
jv bot_transcript_rewrite(const struct bot_transcript *t, jv outputs, int mention)
{
	jv text = jv_string("");
	long input = -1;
	int pending = 0;
	for (size_t i = 0; i < t->n; i++) {
		const struct line *l = &t->lines[i];
		if (l->kind == L_EXPECT || l->kind == L_EXPECT_MORE) {
			if (pending)
				text = jv_string_concat(text, answers(t, outputs, input, mention));
			pending = 0;
			continue;
		}
		text = jv_string_append_buf(text, l->s, (int)l->len);
		text = jv_string_append_str(text, "\n");
		if (l->kind == L_INPUT) {
			input++;
			pending = has_expected(t, i);
		}
		int block_ends = i + 1 >= t->n || t->lines[i + 1].kind != L_INPUT_MORE;
		if ((l->kind == L_INPUT || l->kind == L_INPUT_MORE) && block_ends && !pending)
			text = jv_string_concat(text, answers(t, outputs, input, mention));
	}
	jv_free(outputs);
	return text;
}

static void split_lines(struct bot_transcript *t, const char *text, size_t len)
{
	size_t cap = 64;
	t->lines = malloc(cap * sizeof *t->lines);
	for (const char *p = text; p < text + len;) {
		const char *nl = memchr(p, '\n', (size_t)(text + len - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(text + len - p);
		if (t->n == cap)
			t->lines = realloc(t->lines, (cap *= 2) * sizeof *t->lines);
		if (!t->lines)
			abort();
		t->lines[t->n++] = (struct line){ p, n, L_OTHER };
		p += n + 1;
	}
}

struct bot_transcript *bot_transcript_parse(const char *name, const char *text, size_t len,
                                            jv *err)
{
	struct bot_transcript *t = calloc(1, sizeof *t);
	if (!t)
		abort();
	t->file = name;
	t->err = jv_invalid();
	split_lines(t, text, len);
	if (parse(t) < 0) {
		*err = t->err;
		t->err = jv_invalid();
		bot_transcript_free(t);
		return NULL;
	}
	return t;
}

void bot_transcript_free(struct bot_transcript *t)
{
	if (!t)
		return;
	jv_free(t->inputs);
	jv_free(t->err);
	free(t->lines);
	free(t);
}

jv bot_transcript_inputs(const struct bot_transcript *t)
{
	return jv_copy(t->inputs);
}

/* ---- running one ---- */

/* A temporary file holding text, rewound; -1 on failure. */
static int temp_with(const char *text, size_t len)
{
	FILE *f = tmpfile();
	if (!f)
		return -1;
	int fd = dup(fileno(f));
	fclose(f);
	if (fd < 0)
		return -1;
	for (size_t done = 0; done < len;) {
		ssize_t n = write(fd, text + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			return -1;
		}
		done += (size_t)n;
	}
	lseek(fd, 0, SEEK_SET);
	return fd;
}

/* diff -u, the file against what happened, on stdout: run, never a shell. */
static void show_diff(const char *file, const char *actual, size_t len)
{
	int fd = temp_with(actual, len);
	if (fd < 0) {
		bot_error("%s: a temporary file: %s", file, strerror(errno));
		return;
	}
	char path[64], label[PATH_MAX + 16];
	snprintf(path, sizeof path, "/dev/fd/%d", fd);
	snprintf(label, sizeof label, "%s (actual)", file);
	char *argv[] = { "diff", "-u", "--label", (char *)file, "--label", label, (char *)file, path, NULL };
	fflush(stdout);
	pid_t pid;
	int status = 0;
	if (posix_spawnp(&pid, "diff", NULL, NULL, argv, environ) != 0)
		bot_error("%s: cannot run diff: %s", file, strerror(errno));
	else
		waitpid(pid, &status, 0);
	close(fd);
}

/* Write text over file: a new file beside it, with the old one's mode,
 * renamed into place. */
static int update(const char *file, const char *text, size_t len)
{
	char tmp[PATH_MAX];
	struct stat st;
	if (snprintf(tmp, sizeof tmp, "%s.XXXXXX", file) >= (int)sizeof tmp || stat(file, &st) < 0) {
		bot_error("%s: cannot update: %s", file, strerror(errno ? errno : ENAMETOOLONG));
		return -1;
	}
	int fd = mkstemp(tmp);
	FILE *f = fd < 0 ? NULL : fdopen(fd, "w");
	if (!f || fchmod(fd, st.st_mode & 07777) < 0 || fwrite(text, 1, len, f) != len ||
	    fflush(f) != 0 || fsync(fd) < 0) {
		bot_error("%s: cannot update: %s", file, strerror(errno));
		if (f)
			fclose(f);
		else if (fd >= 0)
			close(fd);
		if (fd >= 0)
			unlink(tmp);
		return -1;
	}
	if (fclose(f) != 0 || rename(tmp, file) != 0) {
		bot_error("%s: cannot update: %s", file, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* 0 the same, 1 different (diff shown, or file updated), else an exit code. */
static int run_one(const struct bot_config *cfg, const char *file)
{
	size_t len;
	char *text = bot_slurp(file, TRANSCRIPT_MAX, &len);
	if (!text) {
		bot_error("%s: %s", file, strerror(errno));
		return BOT_EX_DATAERR;
	}
	jv err = jv_invalid();
	struct bot_transcript *t = bot_transcript_parse(file, text, len, &err);
	int rc = 0;
	jv outputs = jv_invalid();
	if (!t) {
		bot_error("%s", jv_string_value(err));
		rc = BOT_EX_DATAERR;
	} else {
		jv lines = jv_string("");
		jv_array_foreach(t->inputs, i, ev) {
			lines = jv_string_concat(lines, jv_dump_string(ev, 0));
			lines = jv_string_append_str(lines, "\n");
			(void)i;
		}
		int fd = temp_with(jv_string_value(lines), (size_t)jv_string_length_bytes(jv_copy(lines)));
		jv_free(lines);
		if (fd < 0) {
			bot_error("%s: a temporary file: %s", file, strerror(errno));
			rc = BOT_EX_IOERR;
		} else {
			rc = dispatch_stream(cfg, fd, &outputs);
			close(fd);
		}
	}
	jv_free(err);
	if (!rc) {
		jv actual = bot_transcript_rewrite(t, jv_copy(outputs), bot_cfg_flag(cfg, "nick-prefix"));
		size_t alen = (size_t)jv_string_length_bytes(jv_copy(actual));
		/* a last line without its newline is the same line */
		size_t cmp = len && text[len - 1] != '\n' && alen == len + 1 ? alen - 1 : alen;
		if (cmp != len || memcmp(jv_string_value(actual), text, len)) {
			rc = 1;
			if (bot_cfg_flag(cfg, "update")) {
				if (update(file, jv_string_value(actual), alen) < 0)
					rc = BOT_EX_IOERR;
				else
					bot_warn("%s: updated", file);
			} else {
				bot_error("%s: the answers differ", file);
				show_diff(file, jv_string_value(actual), alen);
			}
		}
		jv_free(actual);
	}
	jv_free(outputs);
	bot_transcript_free(t);
	free(text);
	return rc;
}

int dispatch_test(const struct bot_config *cfg)
{
	int n = jv_array_length(jv_copy(cfg->operands)), status = 0, update = bot_cfg_flag(cfg, "update");
	if (!n) {
		bot_error("--test: name the transcripts to run (FILE.chat ...)");
		return BOT_EX_USAGE;
	}
	for (int i = 0; i < n; i++) {
		jv f = jv_array_get(jv_copy(cfg->operands), i);
		int rc = run_one(cfg, jv_string_value(f));
		jv_free(f);
		if (rc == 1 && update)
			rc = 0;
		if (rc && (!status || status == 1))
			status = rc;
	}
	return status;
}
