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
#include "render_priv.h"
#include "unit.h"

#include "cases.h"
}

static int ends_with(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);
	return a >= b && strcmp(s + a - b, suf) == 0;
}

static const char *const all_markups[] = {
	"text", "ansi", "irc", "xmpp", "markdown", "discord", "mattermost", "zulip",
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
			    !(strcmp(m, "irc") == 0 && (*p == 2 || *p == 3 || *p == 0x1e || *p == 0x1f)) &&
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

/* The mention joined to a body: inline before a paragraph, a paragraph
 * of its own before any other block. */
static void test_mention(void)
{
	static const struct { const char *body, *want, *what; } cases[] = {
		{ "hi", "@a hi", "mention: before a paragraph, inline" },
		{ "", "@a ", "mention: an empty body" },
		{ "#hashtag", "@a #hashtag", "mention: a # that starts no heading" },
		{ "# Title", "@a\n\n# Title", "mention: before a heading" },
		{ "Title\n===", "@a\n\nTitle\n===", "mention: before a setext heading" },
		{ "- !hello - hi", "@a\n\n- !hello - hi", "mention: before a list" },
		{ "1. one", "@a\n\n1. one", "mention: before an ordered list" },
		{ "```\ncode\n```", "@a\n\n```\ncode\n```", "mention: before a code fence" },
		{ "    code", "@a\n\n    code", "mention: before an indented code block" },
		{ "> q", "@a\n\n> q", "mention: before a quote" },
		{ "---", "@a\n\n---", "mention: before a thematic break" },
		{ "| a | b |\n|---|---|", "@a\n\n| a | b |\n|---|---|", "mention: before a table" },
		{ "<div>x</div>", "@a\n\n<div>x</div>", "mention: before an HTML block" },
		{ "<https://x.org> hi", "@a <https://x.org> hi", "mention: an autolink starts a paragraph" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		jv r = bot_mention_body("@a", jv_string(cases[i].body));
		CHECK_STR(jv_string_value(r), cases[i].want, cases[i].what);
		jv_free(r);
	}
	/* and rendered: the mention stands on its own line in every markup */
	for (size_t i = 0; i < sizeof all_markups / sizeof *all_markups; i++) {
		jv r = bot_mention_body("alice:", jv_string("```\ncode line\n```"));
		char *s = bot_render(all_markups[i], jv_string_value(r),
		                     (size_t)jv_string_length_bytes(jv_copy(r)));
		char what[128];
		snprintf(what, sizeof what, "mention: alone on its first line in %s", all_markups[i]);
		const char *nl = s ? strchr(s, '\n') : NULL;
		CHECK(nl && strstr(s, "alice:") < nl && strstr(s, "code line") > nl, what);
		free(s);
		jv_free(r);
	}
}

/* o and p hold the same bytes, cut flags and spans. */
static int same_rout(const struct rout *o, const struct rout *p)
{
	if (o->len != p->len || o->nsp != p->nsp || o->semantic_prefix != p->semantic_prefix)
		return 0;
	if (memcmp(o->s, p->s, o->len + 1) != 0 || memcmp(o->f, p->f, o->len) != 0)
		return 0;
	for (size_t i = 0; i < o->nsp; i++)
		if (o->sp[i].open_pos != p->sp[i].open_pos || o->sp[i].open_len != p->sp[i].open_len ||
		    o->sp[i].close_pos != p->sp[i].close_pos ||
		    o->sp[i].close_len != p->sp[i].close_len || o->sp[i].table != p->sp[i].table)
			return 0;
	return 1;
}

/* s renders to the same thing with and without cmark, in every markup. */
static void check_both_ways(const char *s, size_t n, const char *what)
{
	for (size_t i = 0; i < sizeof all_markups / sizeof *all_markups; i++) {
		struct rout a, b;
		memset(&a, 0, sizeof a);
		memset(&b, 0, sizeof b);
		int ra = bot_render_into(all_markups[i], s, n, &a);
		int rb = bot_render_into_parsed(all_markups[i], s, n, &b);
		char w[300];
		snprintf(w, sizeof w, "%.200s: as cmark renders it in %s", what, all_markups[i]);
		CHECK(ra == 0 && rb == 0 && same_rout(&a, &b), w);
		rout_free(&a);
		rout_free(&b);
	}
}

/* Plain bodies are written without cmark: the same output, flags and
 * spans as through it, and only bodies that cmark reads as themselves. */
static void test_plain_bodies(void)
{
	static const char *const plain[] = {
		"build 1234 passed", "hi", "x", "42", "1234 passed", "Deploy of api-7 (prod) done",
		"wow, what a week; why? because!", "it's \"quoted\" 50% / 100%", "C# and C++ = fun $5",
		"a  b   c", "ends with a dot.", "sentence. Another one! And? more", "wwwx and w.w. and ww.x",
		"caf\xc3\xa9 \xe2\x80\x94 na\xc3\xafve", "everyone here", "x - y + z = 1",
		"1a. not a list", "2024-12-01 release", "a-b-c #1 #2", "x!!y", "q?",
	};
	static const char *const markdown[] = {
		"", " lead", "trail ", "two\nlines", "tab\there", "*em*", "a_b", "`c`", "[l](u)",
		"![i](u)", "a <b>", "a & b", "a\\b", "~~s~~", "a|b", "{: color='red' }",
		"see www.x.org", "see WWW.X.ORG", "http://x", "a@b.c", "@everyone", "1. one",
		"2) two", "12345. x", "# h", "- item", "+ item", "> q", "=x", "-x", "#x", "(x)",
		"a:b", "bad \xff byte", "cut \xc3", "a \x7f del", "x\r",
	};
	for (size_t i = 0; i < sizeof plain / sizeof *plain; i++) {
		char w[200];
		snprintf(w, sizeof w, "plain: '%s' takes the path without cmark", plain[i]);
		CHECK(bot_render_is_plain(plain[i], strlen(plain[i])), w);
		check_both_ways(plain[i], strlen(plain[i]), plain[i]);
	}
	for (size_t i = 0; i < sizeof markdown / sizeof *markdown; i++) {
		char w[200];
		snprintf(w, sizeof w, "plain: markdown case %zu goes through cmark", i);
		CHECK(!bot_render_is_plain(markdown[i], strlen(markdown[i])), w);
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
			check_both_ways(cs[i].in, cs[i].in_len, cs[i].what);
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
	test_mention();
	test_plain_bodies();
	return unit_done();
}
