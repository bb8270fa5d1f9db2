/* bot_render against the tables in test/data/render/<markup>.test.
 *
 * A table file: comment lines starting with # before the first case, then
 * cases:
 *     == MARKUP: what the case shows
 *     markdown input (any number of lines)
 *     =>
 *     expected output (any number of lines)
 * Trailing newlines of input and output are dropped; \x{HH} stands for the
 * byte HH in both (control bytes, NUL).  argv[1]: the folder (default
 * test/data/render, relative to the repo root where make check runs).
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "render.h"
#include "unit.h"

struct tcase {
	char markup[32];
	char what[160];
	char *in, *want;
	size_t in_len, want_len;
};

/* Decode \x{HH} in place; returns the new length. */
static size_t unescape(char *s, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\' && i + 5 < n + 1 && s[i + 1] == 'x' && s[i + 2] == '{') {
			char *end;
			unsigned long v = strtoul(s + i + 3, &end, 16);
			if (*end == '}' && end > s + i + 3 && v < 256) {
				s[o++] = (char)v;
				i = (size_t)(end - s);
				continue;
			}
		}
		s[o++] = s[i];
	}
	return o;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 4096, n = 0;
	char *s = malloc(cap);
	size_t r;
	while ((r = fread(s + n, 1, cap - n - 1, f)) > 0) {
		n += r;
		if (n + 1 == cap)
			s = realloc(s, cap *= 2);
	}
	fclose(f);
	s[n] = '\0';
	*len = n;
	return s;
}

static char *dup_block(const char *a, const char *b, size_t *len)
{
	while (b > a && b[-1] == '\n')
		b--;
	size_t n = (size_t)(b - a);
	char *s = malloc(n + 1);
	memcpy(s, a, n);
	s[n] = '\0';
	*len = unescape(s, n);
	s[*len] = '\0';
	return s;
}

/* Parse the cases of one file; returns how many. */
static size_t read_cases(const char *path, struct tcase **out)
{
	size_t len, n = 0, cap = 0;
	char *text = slurp(path, &len);
	struct tcase *cs = NULL;
	*out = NULL;
	if (!text)
		return 0;
	char *p = strncmp(text, "== ", 3) == 0 ? text : strstr(text, "\n== ");
	if (p && p != text)
		p++;
	while (p) {
		char *eol = strchr(p, '\n');
		if (!eol)
			break;
		if (n == cap)
			cs = realloc(cs, (cap = cap ? cap * 2 : 32) * sizeof *cs);
		struct tcase *c = &cs[n];
		memset(c, 0, sizeof *c);
		char *colon = memchr(p, ':', (size_t)(eol - p));
		size_t ml = (size_t)((colon ? colon : eol) - (p + 3));
		snprintf(c->markup, sizeof c->markup, "%.*s", (int)ml, p + 3);
		if (colon)
			snprintf(c->what, sizeof c->what, "%s:%.*s", c->markup,
			         (int)(eol - colon - 1), colon + 1);
		char *body = eol + 1;
		char *sep = strstr(body, "\n=>\n");
		if (body[0] == '=' && body[1] == '>' && body[2] == '\n')
			sep = body - 1;
		if (!sep)
			break;
		char *exp = sep + 4;
		char *next = strstr(exp - 1, "\n== ");
		char *end = next ? next + 1 : text + len;
		c->in = dup_block(body, sep + 1 > body ? sep + 1 : body, &c->in_len);
		c->want = dup_block(exp, end, &c->want_len);
		n++;
		p = next ? next + 1 : NULL;
	}
	free(text);
	*out = cs;
	return n;
}

static void free_cases(struct tcase *cs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(cs[i].in);
		free(cs[i].want);
	}
	free(cs);
}

static int ends_with(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);
	return a >= b && strcmp(s + a - b, suf) == 0;
}

static const char *const all_markups[] = {
	"text", "ansi", "irc", "xmpp", "markdown", "discord", "mattermost",
	"slack", "telegram", "html", "matrix",
};

/* What must hold for any input in any markup. */
static void check_invariants(const struct tcase *c)
{
	for (size_t i = 0; i < sizeof all_markups / sizeof *all_markups; i++) {
		const char *m = all_markups[i];
		char *s = bot_render(m, c->in, c->in_len);
		int ok = s != NULL;
		for (const unsigned char *p = (const unsigned char *)s; ok && *p; p++) {
			if (*p == '\r')
				ok = 0;
			/* control bytes: only newline, tab, and the markup's own codes */
			if (*p < 0x20 && *p != '\n' && *p != '\t' &&
			    !(strcmp(m, "irc") == 0 && (*p == 2 || *p == 0x1f)) &&
			    !(strcmp(m, "ansi") == 0 && *p == 0x1b))
				ok = 0;
		}
		if (ok && strcmp(m, "irc") == 0)
			ok = strstr(s, "\n\n") == NULL;
		char what[256];
		snprintf(what, sizeof what, "%s: no CR or stray control byte in %s",
		         c->what, m);
		CHECK(ok, what);
		free(s);
	}
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "test/data/render";
	DIR *d = opendir(dir);
	CHECK(d != NULL, "the table folder opens");
	if (!d)
		return unit_done();
	struct dirent *e;
	size_t files = 0;
	while ((e = readdir(d))) {
		if (!ends_with(e->d_name, ".test") || strcmp(e->d_name, "split.test") == 0 ||
		    strcmp(e->d_name, "card.test") == 0)
			continue;
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		struct tcase *cs = NULL;
		size_t n = read_cases(path, &cs);
		char what[256];
		snprintf(what, sizeof what, "%.200s has cases", e->d_name);
		CHECK(n > 0, what);
		files++;
		for (size_t i = 0; i < n; i++) {
			char *got = bot_render(cs[i].markup, cs[i].in, cs[i].in_len);
			CHECK_STR(got, cs[i].want, cs[i].what);
			free(got);
			check_invariants(&cs[i]);
		}
		free_cases(cs, n);
	}
	closedir(d);
	CHECK(files >= 11, "a table for every markup");

	/* the API around the tables */
	CHECK(bot_render("nosuch", "x", 1) == NULL, "an unknown markup gives NULL");
	CHECK(!bot_markup_known("nosuch") && !bot_markup_known(NULL),
	      "bot_markup_known says no to unknown names");
	for (size_t i = 0; i < sizeof all_markups / sizeof *all_markups; i++)
		CHECK(bot_markup_known(all_markups[i]), all_markups[i]);
	char *s = bot_render("text", NULL, 0);
	CHECK_STR(s, "", "NULL input renders empty");
	free(s);
	/* NUL inside the input, and bytes that are not UTF-8 */
	s = bot_render("irc", "a\0b\xff\xfe", 5);
	CHECK_STR(s, "a\xef\xbf\xbd" "b\xef\xbf\xbd\xef\xbf\xbd", "NUL and bad UTF-8 become U+FFFD");
	free(s);
	return unit_done();
}
