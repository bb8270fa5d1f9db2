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

#include "cases.h"
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
