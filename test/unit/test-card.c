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

#include "cases.h"
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
