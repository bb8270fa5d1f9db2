/* argv.c: split a command's argument text into words with POSIX shell
 * quoting rules, and nothing else: no expansion of any kind ($VAR, $(x),
 * `x`, ~, globs stay literal) and no operators (; | & are plain
 * characters).  Errors read as Python's shlex, which errbot uses. */
#include <stdlib.h>
#include <string.h>

#include "bot.h"
#include "dispatch.h"

/* A growing byte buffer for the word being built. */
struct word {
	char *s;
	size_t len, cap;
	int started;   /* a word exists, even an empty one ("" or '') */
};

static void word_put(struct word *w, const char *p, size_t n)
{
	if (w->len + n + 1 > w->cap) {
		w->cap = (w->len + n + 1) * 2;
		w->s = realloc(w->s, w->cap);
		if (!w->s)
			abort();
	}
	memcpy(w->s + w->len, p, n);
	w->len += n;
	w->s[w->len] = 0;
	w->started = 1;
}

static jv word_end(struct word *w, jv words)
{
	if (!w->started)
		return words;
	words = jv_array_append(words, jv_string_sized(w->s ? w->s : "", (int)w->len));
	w->len = 0;
	w->started = 0;
	return words;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Inside double quotes a backslash escapes only $ ` " \ and newline. */
static int dq_escapable(char c)
{
	return c == '$' || c == '`' || c == '"' || c == '\\' || c == '\n';
}

jv bot_split_words(const char *text, size_t len)
{
	struct word w = { 0 };
	if (memchr(text, 0, len))   /* argv cannot carry it */
		return bot_fail("No NUL character allowed");
	jv words = jv_array();
	size_t i = 0;
	while (i < len) {
		char c = text[i];
		if (is_blank(c)) {
			words = word_end(&w, words);
			i++;
		} else if (c == '\\') {
			if (i + 1 >= len)
				goto no_escaped;
			if (text[i + 1] != '\n')   /* backslash-newline joins lines */
				word_put(&w, text + i + 1, 1);
			i += 2;
		} else if (c == '\'') {
			const char *end = memchr(text + i + 1, '\'', len - i - 1);
			if (!end)
				goto no_closing;
			word_put(&w, text + i + 1, (size_t)(end - text - i - 1));
			i = (size_t)(end - text) + 1;
		} else if (c == '"') {
			word_put(&w, "", 0);
			for (i++;; i++) {
				if (i >= len)
					goto no_closing;
				if (text[i] == '"')
					break;
				if (text[i] == '\\' && i + 1 < len && dq_escapable(text[i + 1])) {
					if (text[i + 1] != '\n')
						word_put(&w, text + i + 1, 1);
					i++;
				} else
					word_put(&w, text + i, 1);
			}
			i++;
		} else {
			static const char special[] = " \t\n\r\v\f\\'\"";
			size_t n = 0;   /* bounded by len: text need not end in NUL */
			while (i + n < len && !memchr(special, text[i + n], sizeof special - 1))
				n++;
			word_put(&w, text + i, n);
			i += n;
		}
	}
	words = word_end(&w, words);
	free(w.s);
	return words;
no_closing:
	free(w.s);
	jv_free(words);
	return bot_fail("No closing quotation");
no_escaped:
	free(w.s);
	jv_free(words);
	return bot_fail("No escaped character");
}

/* errbot's arg_botcmd turns typographic dashes and quotes, which phones
 * and chat clients put in for the user, into their ASCII forms before
 * splitting.  We do the same for argv only (BOT_ARGS stays raw). */
static const struct { const char *from, *to; } typographic[] = {
	{ "\xe2\x80\x94", "--" },   /* — em dash */
	{ "\xe2\x80\x9c", "\"" },   /* “ */
	{ "\xe2\x80\x9d", "\"" },   /* ” */
	{ "\xe2\x80\x98", "'" },    /* ‘ */
	{ "\xe2\x80\x99", "'" },    /* ’ */
};

char *bot_ascii_quotes(const char *text, size_t len, size_t *outlen)
{
	char *out = malloc(len * 2 + 1), *o = out;
	if (!out)
		abort();
	for (size_t i = 0; i < len;) {
		size_t k = 0;
		for (; k < sizeof typographic / sizeof *typographic; k++)
			if (len - i >= 3 && !memcmp(text + i, typographic[k].from, 3))
				break;
		if (k < sizeof typographic / sizeof *typographic) {
			size_t n = strlen(typographic[k].to);
			memcpy(o, typographic[k].to, n);
			o += n;
			i += 3;
		} else
			*o++ = text[i++];
	}
	*o = 0;
	*outlen = (size_t)(o - out);
	return out;
}

jv bot_split_args(const char *text, size_t len)
{
	size_t n;
	char *ascii = bot_ascii_quotes(text, len, &n);
	jv words = bot_split_words(ascii, n);
	free(ascii);
	return words;
}
