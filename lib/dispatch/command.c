/* command.c: errbot's process_message (errbot.md §2), steps 1 to 6: the
 * alternative prefixes with their separators, the prefix, multi-word
 * commands, history recall; and errbot's "command not found" reply with
 * difflib's suggestions.  Departures (see doc/ERRBOT.md): an alternative
 * prefix needs a word boundary; arguments are split as errbot HEAD does;
 * suggestions are sorted. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bot.h"
#include "dispatch.h"

int bot_cmd_name_safe(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > BOT_CMD_NAME_MAX || name[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (!(isascii(c) && (isalnum(c) || c == '_' || c == '-')))
			return 0;
	}
	return 1;
}

void bot_cmd_clear(struct bot_cmd *c)
{
	free(c->args);
	free(c->text);
	free(c->word);
	free(c->next);
	memset(c, 0, sizeof *c);
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* A letter, digit, underscore or any non-ASCII byte (part of a word in
 * some script): what may not follow a prefix ending in a word character. */
static int is_word_byte(unsigned char c)
{
	return c >= 0x80 || isalnum(c) || c == '_';
}

/* Step 1: the longest alternative prefix text starts with, at a word
 * boundary.  Returns its length, 0 for none. */
static size_t alt_prefix_len(const struct bot_cmd_opts *o, const char *text)
{
	size_t best = 0;
	if (jv_get_kind(o->alt_prefixes) != JV_KIND_ARRAY)
		return 0;
	int n = jv_array_length(jv_copy(o->alt_prefixes));
	for (int i = 0; i < n; i++) {
		jv p = jv_array_get(jv_copy(o->alt_prefixes), i);
		if (jv_get_kind(p) == JV_KIND_STRING) {
			const char *ps = jv_string_value(p);
			size_t pl = strlen(ps);
			int match = pl > 0 && pl > best &&
			            (o->alt_caseless ? !strncasecmp(text, ps, pl) : !strncmp(text, ps, pl));
			if (match && is_word_byte((unsigned char)ps[pl - 1]) &&
			    is_word_byte((unsigned char)text[pl]))
				match = 0;   /* "Erroneous" is not "Err" + "oneous" */
			if (match)
				best = pl;
		}
		jv_free(p);
	}
	return best;
}

/* Steps 1 to 4: the command text, or NULL when the message is chatter. */
static const char *strip_prefixes(const struct bot_cmd_opts *o, const char *body,
                                  int is_direct)
{
	const char *text = body;
	const char *prefix = o->prefix ? o->prefix : "!";
	size_t pl = strlen(prefix);
	size_t alt = alt_prefix_len(o, body);
	int addressed = 0;
	if (alt) {
		text += alt;
		for (const char *s = o->separators; s && *s; s++)
			if (*text == *s)
				text++;
		addressed = 1;
	} else if (is_direct && o->prefix_optional)
		addressed = 1;
	if (!strncmp(text, prefix, pl)) {
		text += pl;
		addressed = 1;
	}
	return addressed ? text : NULL;
}

/* The words of text: start offsets and lengths, at most max. */
static int split_words(const char *text, const char **start, size_t *len, int max)
{
	int n = 0;
	const char *p = text;
	while (n < max) {
		while (is_space(*p))
			p++;
		if (!*p)
			break;
		start[n] = p;
		while (*p && !is_space(*p))
			p++;
		len[n] = (size_t)(p - start[n]);
		n++;
	}
	return n;
}

static char *dup_trimmed(const char *s)
{
	while (is_space(*s))
		s++;
	size_t n = strlen(s);
	while (n && is_space(s[n - 1]))
		n--;
	return strndup(s, n);
}

/* Step 5 (errbot HEAD): the longest run of leading words that, joined by
 * "_", names a command; the arguments are the rest of the text, verbatim
 * but for the blanks around it. */
static int find_longest(const struct bot_cmd_opts *o, const char *text, struct bot_cmd *c)
{
	const char *start[BOT_CMD_WORDS_MAX + 1];
	size_t len[BOT_CMD_WORDS_MAX + 1];
	int nw = split_words(text, start, len, BOT_CMD_WORDS_MAX);
	for (int k = nw; k >= 1; k--) {
		char name[BOT_CMD_NAME_MAX + 2];
		size_t off = 0;
		int ok = 1;
		for (int i = 0; i < k && ok; i++) {
			if (off + len[i] + 1 > BOT_CMD_NAME_MAX + 1) {
				ok = 0;
				break;
			}
			if (i)
				name[off++] = '_';
			memcpy(name + off, start[i], len[i]);
			off += len[i];
		}
		if (!ok)
			continue;
		name[off] = 0;
		if (!bot_cmd_name_safe(name) || !o->exists || !o->exists(o->ctx, name))
			continue;
		memcpy(c->name, name, off + 1);
		c->args = dup_trimmed(start[k - 1] + len[k - 1]);
		return 1;
	}
	return 0;
}

/* Step 6: "!!" (the first word is the prefix) or "!N". */
static int find_recall(const char *prefix, const char *text, struct bot_cmd *c)
{
	const char *start[1];
	size_t len[1];
	if (split_words(text, start, len, 1) < 1)
		return 0;
	if (len[0] == strlen(prefix) && !strncmp(start[0], prefix, len[0])) {
		c->recall = -1;
		return 1;
	}
	if (len[0] > 9)
		return 0;
	for (size_t i = 0; i < len[0]; i++)
		if (!isdigit((unsigned char)start[0][i]))
			return 0;
	c->recall = strtol(start[0], NULL, 10);
	return 1;
}

void bot_cmd_parse(const struct bot_cmd_opts *o, const char *body, int is_direct,
                   struct bot_cmd *c)
{
	memset(c, 0, sizeof *c);
	const char *text = strip_prefixes(o, body, is_direct);
	if (!text) {
		c->kind = BOT_CMD_NONE;
		return;
	}
	c->text = dup_trimmed(text);
	if (find_longest(o, text, c)) {
		c->kind = BOT_CMD_FOUND;
		return;
	}
	if (find_recall(o->prefix ? o->prefix : "!", text, c)) {
		c->kind = BOT_CMD_RECALL;
		return;
	}
	/* errbot's cnf_filter: the first word, and the next one. */
	c->kind = BOT_CMD_NOT_FOUND;
	const char *start[2];
	size_t len[2];
	int n = split_words(text, start, len, 2);
	c->word = n ? strndup(start[0], len[0]) : strdup("");
	c->next = n > 1 ? strndup(start[1], len[1]) : NULL;
}

/* ---- difflib ---- */

/* Code points of s (bytes of a malformed sequence count one each). */
static int *code_points(const char *s, size_t *n)
{
	size_t len = strlen(s);
	int *cp = malloc((len + 1) * sizeof *cp);
	if (!cp)
		abort();
	size_t k = 0;
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)s[i];
		int need = c < 0x80 ? 0 : c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
		int v = need == 0 ? c : need == 1 ? c & 0x1F : need == 2 ? c & 0x0F : c & 0x07;
		size_t j = 1;
		for (; j <= (size_t)need && i + j < len && ((unsigned char)s[i + j] & 0xC0) == 0x80; j++)
			v = (v << 6) | (s[i + j] & 0x3F);
		if (j != (size_t)need + 1) {
			v = 0x110000 + c;   /* a stray byte: its own symbol */
			j = 1;
		}
		cp[k++] = v;
		i += j;
	}
	*n = k;
	return cp;
}

/* Code points in s, as code_points counts them. */
static size_t count_points(const char *s)
{
	size_t n;
	int *cp = code_points(s, &n);
	free(cp);
	return n;
}

/* find_longest_match without junk, as difflib computes it: the longest
 * block a[i:i+k] == b[j:j+k], the first found scanning block ends in a,
 * then in b.  Dynamic programming over block ends: O(|a|·|b|). */
static void longest_match(const int *a, size_t alo, size_t ahi, const int *b, size_t blo,
                          size_t bhi, size_t *bi, size_t *bj, size_t *bk)
{
	size_t nb = bhi - blo;
	size_t *prev = calloc(nb + 1, sizeof *prev), *cur = calloc(nb + 1, sizeof *cur);
	if (!prev || !cur)
		abort();
	*bi = alo;
	*bj = blo;
	*bk = 0;
	for (size_t i = alo; i < ahi; i++) {
		for (size_t j = blo; j < bhi; j++) {
			size_t k = a[i] == b[j] ? prev[j - blo] + 1 : 0;
			cur[j - blo + 1] = k;
			if (k > *bk) {
				*bi = i + 1 - k;
				*bj = j + 1 - k;
				*bk = k;
			}
		}
		size_t *t = prev;
		prev = cur;
		cur = t;
	}
	free(prev);
	free(cur);
}

static size_t matches(const int *a, size_t alo, size_t ahi, const int *b, size_t blo,
                      size_t bhi)
{
	size_t i, j, k;
	longest_match(a, alo, ahi, b, blo, bhi, &i, &j, &k);
	if (!k)
		return 0;
	size_t m = k;
	if (alo < i && blo < j)
		m += matches(a, alo, i, b, blo, j);
	if (i + k < ahi && j + k < bhi)
		m += matches(a, i + k, ahi, b, j + k, bhi);
	return m;
}

double bot_similarity(const char *a, const char *b)
{
	size_t na, nb;
	int *ca = code_points(a, &na), *cb = code_points(b, &nb);
	double r = na + nb ? 2.0 * (double)matches(ca, 0, na, cb, 0, nb) / (double)(na + nb) : 1.0;
	free(ca);
	free(cb);
	return r;
}

struct scored {
	char *name;    /* space form */
	double score;
};

static int by_score_then_name(const void *x, const void *y)
{
	const struct scored *a = x, *b = y;
	if (a->score != b->score)
		return a->score > b->score ? -1 : 1;
	return strcmp(a->name, b->name);
}

/* difflib.get_close_matches(word, names, n=3, cutoff=0.6), adding to
 * out (deduplicated, the best score kept). */
static size_t close_matches(const char *word, jv names, struct scored *out, size_t nout)
{
	size_t total = (size_t)jv_array_length(jv_copy(names));
	struct scored *all = calloc(total + 1, sizeof *all);
	size_t n = 0;
	jv_array_foreach(names, i, name) {
		if (jv_get_kind(name) == JV_KIND_STRING) {
			char *spaced = strdup(jv_string_value(name));
			for (char *p = spaced; *p; p++)
				if (*p == '_')
					*p = ' ';
			/* SequenceMatcher(a=candidate, b=word) as difflib has it;
			 * first its real_quick_ratio bound, which also spares a
			 * long hostile word the quadratic match */
			size_t la = count_points(spaced), lb = count_points(word);
			double bound = la + lb ? 2.0 * (double)(la < lb ? la : lb) / (double)(la + lb) : 1.0;
			double s = bound >= 0.6 ? bot_similarity(spaced, word) : 0;
			if (s >= 0.6)
				all[n++] = (struct scored){ spaced, s };
			else
				free(spaced);
		}
		jv_free(name);
		(void)i;
	}
	qsort(all, n, sizeof *all, by_score_then_name);
	for (size_t k = 0; k < n; k++) {
		size_t d = 0;
		while (d < nout && strcmp(out[d].name, all[k].name))
			d++;
		if (k < 3 && d == nout)
			out[nout++] = (struct scored){ strdup(all[k].name), all[k].score };
		else if (k < 3 && all[k].score > out[d].score)
			out[d].score = all[k].score;
		free(all[k].name);
	}
	free(all);
	return nout;
}

jv bot_cmd_not_found(const char *prefix, const char *word, const char *next, jv names)
{
	jv text;
	char *full = NULL;
	if (next) {
		if (asprintf(&full, "%s %s", word, next) < 0)
			abort();
		text = jv_string_fmt("Command \"%s\" / \"%s\" not found.", word, full);
	} else
		text = jv_string_fmt("Command \"%s\" not found.", word);
	struct scored found[6];
	size_t n = close_matches(word, names, found, 0);
	if (full)
		n = close_matches(full, names, found, n);
	qsort(found, n, sizeof *found, by_score_then_name);
	for (size_t i = 0; i < n; i++) {
		text = jv_string_append_str(text, i ? "\" or \"" : "\n\nDid you mean \"");
		text = jv_string_append_str(text, prefix);
		text = jv_string_append_str(text, found[i].name);
		free(found[i].name);
	}
	if (n)
		text = jv_string_append_str(text, "\" ?");
	free(full);
	return text;
}
