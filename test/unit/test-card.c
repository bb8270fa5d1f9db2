/* bot_card_markdown against test/data/render/card.test, the built-in
 * template against share/templates/card.md, and cards carried through to
 * what a user sees.
 *
 * card.test holds cases as the render tables do (test-render.c): the
 * input is a card as JSON, then optionally a line %%template and a
 * template; the expected output is markdown or "!error MESSAGE".
 * argv[1]: the folder (default test/data/render); the repo root is taken
 * to be two folders above it.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "render.h"
#include "render_priv.h"
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

static void run_table(const char *path)
{
	struct tcase *cs = NULL;
	size_t n = read_cases(path, &cs);
	CHECK(n > 0, "card.test has cases");
	for (size_t i = 0; i < n; i++) {
		char *tmpl = strstr(cs[i].in, "\n%%template\n");
		if (tmpl) {
			*tmpl = '\0';
			tmpl += strlen("\n%%template\n");
		}
		jv card = jv_parse(cs[i].in);
		jv got = bot_card_markdown(card, tmpl);
		if (jv_is_valid(got)) {
			CHECK_STR(jv_string_value(got), cs[i].want, cs[i].what);
		} else {
			jv msg = jv_invalid_get_msg(got);
			got = jv_invalid();
			jv line = jv_string_fmt("!error %s", jv_string_value(msg));
			CHECK_STR(jv_string_value(line), cs[i].want, cs[i].what);
			jv_free(line);
			jv_free(msg);
		}
		jv_free(got);
		/* look-only: the card is still ours */
		CHECK(jv_get_kind(card) != JV_KIND_INVALID || !*cs[i].in, "the card is borrowed, not consumed");
		jv_free(card);
	}
	free_cases(cs, n);
}

static void check_builtin_matches_file(const char *root)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/share/templates/card.md", root);
	size_t len;
	char *file = slurp(path, &len);
	CHECK(file != NULL, "share/templates/card.md is readable");
	if (file)
		CHECK_STR(bot_card_builtin_template(), file,
		          "the built-in card template is share/templates/card.md");
	free(file);
}

/* What a user sees of a card on a text console and on IRC. */
static void check_end_to_end(void)
{
	jv card = jv_parse("{\"title\":\"Build 42\",\"link\":\"https://ci.example/42\","
	                   "\"summary\":\"green\",\"fields\":[[\"branch\",\"main\"]]}");
	jv md = bot_card_markdown(card, NULL);
	const char *s = jv_string_value(md);
	char *text = bot_render("text", s, strlen(s));
	CHECK_STR(text, "Build 42 (https://ci.example/42)\n\ngreen\n\n\xe2\x80\xa2 branch: main",
	          "the default card as plain text");
	char *irc = bot_render("irc", s, strlen(s));
	CHECK_STR(irc, "\x02" "Build 42 (https://ci.example/42)\x02\n\x02green\x02\n"
	          "\xe2\x80\xa2 \x02" "branch\x02: main", "the default card on IRC");
	free(text);
	free(irc);
	jv_free(md);
	jv_free(card);

	/* hostile values stay text all the way to HTML */
	card = jv_parse("{\"title\":\"<img src=x onerror=alert(1)>\","
	                "\"link\":\"javascript:alert(1)\",\"fields\":[[\"**k**\",\"[x](javascript:y)\"]]}");
	md = bot_card_markdown(card, NULL);
	s = jv_string_value(md);
	char *html = bot_render("html", s, strlen(s));
	CHECK(html && !strstr(html, "<img") && !strstr(html, "href=\"javascript") &&
	      !strstr(html, "<strong>k</strong>"), "card values cannot inject markup into HTML");
	CHECK_STR(html, "<h2>&lt;img src=x onerror=alert(1)&gt;</h2>\n"
	          "<ul><li><strong>**k**</strong>: [x](javascript:y)</li></ul>",
	          "the hostile card in HTML");
	free(html);
	jv_free(md);
	jv_free(card);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "test/data/render";
	char path[4096];
	snprintf(path, sizeof path, "%s/card.test", dir);
	run_table(path);
	snprintf(path, sizeof path, "%s/../../..", dir);
	check_builtin_matches_file(argc > 1 ? path : ".");
	check_end_to_end();
	return unit_done();
}
