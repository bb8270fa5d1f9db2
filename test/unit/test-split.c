/* bot_split against test/data/render/split.test, and properties over the
 * render tables: every part valid UTF-8 and within the limit, HTML tags and
 * IRC codes balanced in each part, and no text lost or doubled.
 *
 * split.test holds cases as the render tables do (test-render.c), with the
 * header "== MARKUP LIMIT UNIT: what" and the expected parts separated by
 * lines "~~".  argv[1]: the folder (default test/data/render).
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "render.h"
#include "unit.h"

#include "cases.h"
}

static const char *const all_markups[] = {
	"text", "ansi", "irc", "xmpp", "markdown", "discord", "mattermost", "zulip",
	"slack", "telegram", "html", "matrix",
};

static size_t count_units(const char *s, enum bot_size_unit u)
{
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (u == BOT_UNIT_BYTES)
			n++;
		else if ((*p & 0xc0) != 0x80)
			n += 1 + (u == BOT_UNIT_UTF16 && *p >= 0xf0);
	}
	return n;
}

static int utf8_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		int l = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3 :
		        (*p & 0xf8) == 0xf0 ? 4 : 0;
		if (!l)
			return 0;
		for (int i = 1; i < l; i++)
			if ((p[i] & 0xc0) != 0x80)
				return 0;
		p += l;
	}
	return 1;
}

/* Every <tag> closed by </tag> in order, in one part (void tags end />). */
static int html_balanced(const char *s)
{
	char stack[64][16];
	int depth = 0;
	for (const char *p = s; (p = strchr(p, '<')); p++) {
		const char *e = strchr(p, '>');
		if (!e)
			return 0;
		if (e[-1] == '/')
			continue;
		int closing = p[1] == '/';
		const char *n = p + 1 + closing;
		size_t l = strcspn(n, " >");
		if (l >= 16)
			return 0;
		if (!closing) {
			if (depth == 64)
				return 0;
			memcpy(stack[depth], n, l);
			stack[depth++][l] = '\0';
		} else if (depth == 0 || strlen(stack[depth - 1]) != l ||
		           memcmp(stack[depth - 1], n, l) != 0) {
			return 0;
		} else {
			depth--;
		}
	}
	return depth == 0;
}

/* Bold and underline codes come in pairs on every IRC line. */
static int irc_balanced(const char *s)
{
	int b = 0, u = 0;
	for (const char *p = s;; p++) {
		if (*p == '\n' || !*p) {
			if (b % 2 || u % 2)
				return 0;
			if (!*p)
				return 1;
		}
		b += *p == '\x02';
		u += *p == '\x1f';
	}
}

/* s without whitespace and IRC codes (colour: ^C with up to two digits,
 * a comma and two more). */
static char *visible(const char *s)
{
	char *r = malloc(strlen(s) + 1), *o = r;
	for (; *s; s++) {
		if (*s == '\x03') {
			for (int k = 0; k < 2 && s[1] >= '0' && s[1] <= '9'; k++)
				s++;
			if (s[1] == ',' && s[2] >= '0' && s[2] <= '9') {
				s++;
				for (int k = 0; k < 2 && s[1] >= '0' && s[1] <= '9'; k++)
					s++;
			}
			continue;
		}
		if (!strchr(" \n\t\x02\x1e\x1f", *s))
			*o++ = *s;
	}
	*o = '\0';
	return r;
}

static void check_properties(const struct tcase *c)
{
	static const size_t limits[] = { 7, 23, 64, 200 };
	for (size_t mi = 0; mi < sizeof all_markups / sizeof *all_markups; mi++) {
		const char *m = all_markups[mi];
		for (size_t li = 0; li < sizeof limits / sizeof *limits; li++) {
			size_t limit = limits[li];
			int html_table = (!strcmp(m, "html") || !strcmp(m, "matrix")) &&
			                 strstr(c->in, "|") != NULL;
			enum bot_size_unit u = li % 2 ? BOT_UNIT_CHARS : BOT_UNIT_BYTES;
			jv parts = bot_split(m, c->in, c->in_len, limit, u);
			int ok_utf8 = 1, ok_len = 1, ok_bal = 1;
			size_t total = 0;
			char *joined = calloc(1, 1);
			jv_array_foreach(parts, i, p) {
				const char *s = jv_string_value(p);
				ok_utf8 &= utf8_ok(s);
				/* past a floor the markup's own overhead fits (an
				 * HTML table nests four elements deep) */
				size_t floor = html_table ? 200 : 64;
				if (limit >= floor && count_units(s, u) > limit)
					ok_len = 0;
				if (!strcmp(m, "html") || !strcmp(m, "matrix") || !strcmp(m, "telegram"))
					ok_bal &= html_balanced(s);
				if (!strcmp(m, "irc"))
					ok_bal &= irc_balanced(s);
				total += strlen(s) + 1;
				joined = realloc(joined, total + 1);
				strcat(joined, s);
				jv_free(p);
				(void)i;
			}
			char what[300];
			snprintf(what, sizeof what, "%s: %s at %zu: parts are UTF-8, fit, balance",
			         c->what, m, limit);
			CHECK(ok_utf8 && ok_len && ok_bal, what);
			if (!(ok_utf8 && ok_len && ok_bal))
				printf("#   utf8 %d len %d balanced %d\n", ok_utf8, ok_len, ok_bal);
			if (!strcmp(m, "text") || !strcmp(m, "irc")) {
				char *whole = bot_render(m, c->in, c->in_len);
				char *a = visible(whole), *b = visible(joined);
				snprintf(what, sizeof what, "%s: %s at %zu: no text lost or doubled",
				         c->what, m, limit);
				CHECK_STR(b, a, what);
				free(a);
				free(b);
				free(whole);
			}
			free(joined);
			jv_free(parts);
		}
	}
}

static enum bot_size_unit unit_named(const char *s)
{
	return !strcmp(s, "chars") ? BOT_UNIT_CHARS : !strcmp(s, "utf16") ?
	       BOT_UNIT_UTF16 : BOT_UNIT_BYTES;
}

static void run_table(const char *path)
{
	struct tcase *cs = NULL;
	size_t n = read_cases(path, &cs);
	CHECK(n > 0, "split.test has cases");
	for (size_t i = 0; i < n; i++) {
		char markup[32], unit[16];
		size_t limit;
		if (sscanf(cs[i].markup, "%31s %zu %15s", markup, &limit, unit) != 3) {
			CHECK(0, cs[i].markup);
			continue;
		}
		jv parts = bot_split(markup, cs[i].in, cs[i].in_len, limit, unit_named(unit));
		jv want = jv_array();
		const char *p = cs[i].want;
		for (;;) {
			const char *sep = strstr(p, "\n~~\n");
			if (!sep) {
				want = jv_array_append(want, jv_string(p));
				break;
			}
			want = jv_array_append(want, jv_string_sized(p, (int)(sep - p)));
			p = sep + 4;
		}
		jv g = jv_dump_string(parts, 0), w = jv_dump_string(want, 0);
		CHECK_STR(jv_string_value(g), jv_string_value(w), cs[i].what);
		jv_free(g);
		jv_free(w);
	}
	free_cases(cs, n);
}

static void run_properties(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (l < 5 || strcmp(e->d_name + l - 5, ".test") || !strcmp(e->d_name, "split.test") ||
		    !strcmp(e->d_name, "card.test"))
			continue;
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		struct tcase *cs = NULL;
		size_t n = read_cases(path, &cs);
		for (size_t i = 0; i < n; i++)
			if (!strncmp(cs[i].what, "html:", 5))   /* one markup's inputs suffice */
				check_properties(&cs[i]);
		free_cases(cs, n);
	}
	closedir(d);
}

/* bot_split_plain: the same cut as bot_split, each part with its text. */
static void test_plain(void)
{
	const char *md = "**Fish** & <chips> for `x < y`";
	jv one = bot_split_plain("matrix", md, strlen(md), 0, BOT_UNIT_BYTES);
	jv p0 = jv_array_get(jv_copy(one), 0);
	jv plain = jv_array_get(jv_copy(p0), 1), html = jv_array_get(p0, 0);
	CHECK_STR(jv_string_value(plain), "Fish & <chips> for x < y", "matrix: plain text, entities unescaped");
	CHECK(strstr(jv_string_value(html), "<strong>Fish</strong>") != NULL, "matrix: the html beside it");
	jv_free(plain);
	jv_free(html);
	jv_free(one);
	char big[3000] = "";
	while (strlen(big) + 40 < sizeof big)
		strcat(big, "some **bold** words and `code` here.\n\n");
	jv pairs = bot_split_plain("html", big, strlen(big), 300, BOT_UNIT_CHARS);
	jv parts = bot_split("html", big, strlen(big), 300, BOT_UNIT_CHARS);
	int n = jv_array_length(jv_copy(pairs)), same = n == jv_array_length(jv_copy(parts)) && n > 1;
	for (int i = 0; same && i < n; i++) {
		jv pr = jv_array_get(jv_copy(pairs), i), t = jv_array_get(jv_copy(parts), i);
		jv a = jv_array_get(jv_copy(pr), 0), b = jv_array_get(pr, 1);
		same = !strcmp(jv_string_value(a), jv_string_value(t)) && !strchr(jv_string_value(b), '<') &&
		       strstr(jv_string_value(b), "bold words") != NULL;
		jv_free(a);
		jv_free(b);
		jv_free(t);
	}
	CHECK(same, "html: many parts, each as bot_split cuts it, its plain text beside it");
	jv_free(pairs);
	jv_free(parts);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "test/data/render";
	char path[4096];
	snprintf(path, sizeof path, "%s/split.test", dir);
	run_table(path);
	run_properties(dir);

	jv r = bot_split("nosuch", "x", 1, 10, BOT_UNIT_BYTES);
	CHECK(!jv_is_valid(r), "an unknown markup gives an invalid");
	jv_free(r);
	test_plain();
	/* a long message of long words, every unit */
	static const char *const words[] = { "caf\xc3\xa9 ", "**bold \xe2\x82\xac** ",
	                                     "word ", "\xf0\x9f\x98\x80 ", "\n\n" };
	char big[6000] = "";
	for (size_t i = 0; strlen(big) + 16 < sizeof big; i++)
		strcat(big, words[i * 7 % 5]);
	for (int u = 0; u < 3; u++) {
		jv parts = bot_split("irc", big, strlen(big), 510, (enum bot_size_unit)u);
		int ok = jv_array_length(jv_copy(parts)) > 1;
		jv_array_foreach(parts, i, p) {
			ok &= count_units(jv_string_value(p), (enum bot_size_unit)u) <= 510 &&
			      utf8_ok(jv_string_value(p));
			jv_free(p);
			(void)i;
		}
		CHECK(ok, "6000 bytes of text at IRC's 510: parts fit and are UTF-8");
		jv_free(parts);
	}
	return unit_done();
}
