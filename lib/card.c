/* libbot: a card event as markdown, through a small template language.
 *
 * The syntax is a subset of mustache (botpipe-markup(7), CARD TEMPLATES):
 *   {{name}}            the field's text, markdown characters escaped
 *   {{{name}}} {{&name}} the field as it is (for body, which is markdown)
 *   {{#name}}...{{/name}} the inside when the field is set and not empty;
 *                       {{#fields}} repeats it for each [key, value] pair,
 *                       with {{key}} and {{value}} inside
 *   {{^name}}...{{/name}} the inside when the field is unset or empty
 *   {{! comment }}
 * A line holding only a section tag or a comment leaves no line behind,
 * and template text never makes a third newline in a row (nor starts the
 * card with one), so optional sections need no care with blank lines.
 * Names: title summary link image thumbnail color text_color body fields
 * (and key, value inside fields).  A template is checked as a whole before
 * anything is rendered: an error names its line ("template:3: ...").
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "render.h"
#include "render_priv.h"

/* The same text as share/templates/card.md (a unit test compares them). */
static const char builtin_template[] =
	"{{! botpipe's default card template: see botpipe-markup(7). }}\n"
	"{{#title}}\n"
	"{{#link}}\n"
	"## [{{title}}]({{link}})\n"
	"{{/link}}\n"
	"{{^link}}\n"
	"## {{title}}\n"
	"{{/link}}\n"
	"\n"
	"{{/title}}\n"
	"{{^title}}\n"
	"{{#link}}\n"
	"[{{link}}]({{link}})\n"
	"\n"
	"{{/link}}\n"
	"{{/title}}\n"
	"{{#summary}}\n"
	"**{{summary}}**\n"
	"\n"
	"{{/summary}}\n"
	"{{#body}}\n"
	"{{{body}}}\n"
	"\n"
	"{{/body}}\n"
	"{{#fields}}\n"
	"- **{{key}}**: {{value}}\n"
	"{{/fields}}\n"
	"{{#image}}\n"
	"\n"
	"![image]({{image}})\n"
	"{{/image}}\n"
	"{{^image}}\n"
	"{{#thumbnail}}\n"
	"\n"
	"![thumbnail]({{thumbnail}})\n"
	"{{/thumbnail}}\n"
	"{{/image}}\n";

const char *bot_card_builtin_template(void)
{
	return builtin_template;
}

enum tkind { TK_TEXT, TK_VAR, TK_RAW, TK_OPEN, TK_INVERT, TK_CLOSE };

struct token {
	enum tkind kind;
	const char *s;      /* text, or the name */
	size_t n;
	int line;
	size_t match;       /* TK_OPEN/TK_INVERT: index of its TK_CLOSE */
};

struct tmpl {
	struct token *t;
	size_t n, cap;
};

#define MAX_SECTION_DEPTH 16

static const char *const card_names[] = {
	"title", "summary", "link", "image", "thumbnail", "color", "text_color",
	"body", "fields", "key", "value",
};

static void tmpl_add(struct tmpl *tp, enum tkind k, const char *s, size_t n,
                     int line)
{
	if (tp->n == tp->cap) {
		tp->cap = tp->cap ? tp->cap * 2 : 32;
		tp->t = realloc(tp->t, tp->cap * sizeof *tp->t);
		if (!tp->t)
			abort();
	}
	tp->t[tp->n++] = (struct token){ k, s, n, line, 0 };
}

static int name_known(const char *s, size_t n)
{
	for (size_t i = 0; i < sizeof card_names / sizeof *card_names; i++)
		if (strlen(card_names[i]) == n && memcmp(card_names[i], s, n) == 0)
			return 1;
	return 0;
}

static int name_is(const struct token *t, const char *name)
{
	return strlen(name) == t->n && memcmp(name, t->s, t->n) == 0;
}

static jv tmpl_error(int line, const char *fmt, const char *a, size_t an)
{
	char what[160];
	char arg[64];
	size_t l = an < sizeof arg - 1 ? an : sizeof arg - 1;
	memcpy(arg, a ? a : "", a ? l : 0);
	arg[a ? l : 0] = '\0';
	for (char *p = arg; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = '?';
	snprintf(what, sizeof what, fmt, arg);
	return jv_invalid_with_msg(jv_string_fmt("template:%d: %s", line, what));
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Is the tag at [ts, te) alone on its line?  Then *ls is the line's start
 * and *le just past its end (the newline included). */
static int standalone(const char *src, size_t len, size_t ts, size_t te,
                      size_t *ls, size_t *le)
{
	size_t a = ts;
	while (a > 0 && is_blank(src[a - 1]))
		a--;
	if (a > 0 && src[a - 1] != '\n')
		return 0;
	size_t b = te;
	while (b < len && is_blank(src[b]))
		b++;
	if (b < len && src[b] == '\r')
		b++;
	if (b < len && src[b] != '\n')
		return 0;
	*ls = a;
	*le = b < len ? b + 1 : b;
	return 1;
}

/* The first needle in [s, s+n), or NULL (memmem without _GNU_SOURCE). */
static const char *find(const char *s, size_t n, const char *needle)
{
	size_t k = strlen(needle);
	for (size_t i = 0; i + k <= n; i++)
		if (s[i] == needle[0] && memcmp(s + i, needle, k) == 0)
			return s + i;
	return NULL;
}

static int count_lines(const char *s, size_t from, size_t to, int line)
{
	for (size_t i = from; i < to; i++)
		if (s[i] == '\n')
			line++;
	return line;
}

/* Tokenize and check the template.  Returns jv_true() or an invalid. */
static jv tmpl_parse(const char *src, size_t len, struct tmpl *tp)
{
	size_t stack[MAX_SECTION_DEPTH];
	int depth = 0, fields_depth = 0;
	size_t i = 0, text_start = 0;
	int line = 1;
	while (i < len) {
		const char *o = find(src + i, len - i, "{{");
		if (!o)
			break;
		size_t ts = (size_t)(o - src);
		int tline = count_lines(src, i, ts, line);
		int triple = ts + 2 < len && src[ts + 2] == '{';
		const char *endmark = triple ? "}}}" : "}}";
		size_t body = ts + (triple ? 3 : 2);
		const char *c = find(src + body, len - body, endmark);
		const char *nl = memchr(src + body, '\n', len - body);
		if (!c || (nl && nl < c))
			return tmpl_error(tline, "unterminated tag: no %s on the line", endmark, strlen(endmark));
		size_t te = (size_t)(c - src) + strlen(endmark);
		const char *p = src + body, *q = c;
		char sigil = 0;
		if (!triple && p < q && strchr("#^/&!", *p))
			sigil = *p++;
		if (sigil == '!') {
			/* comment: nothing to check */
		} else {
			while (p < q && is_blank(*p))
				p++;
			while (q > p && is_blank(q[-1]))
				q--;
			if (p == q)
				return tmpl_error(tline, "empty tag%s", "", 0);
			for (const char *r = p; r < q; r++)
				if (!((*r >= 'a' && *r <= 'z') || *r == '_'))
					return tmpl_error(tline, "bad name \"%s\" (lower-case letters and _ only)", p, (size_t)(q - p));
			if (!name_known(p, (size_t)(q - p)))
				return tmpl_error(tline, "unknown name \"%s\"", p, (size_t)(q - p));
		}
		size_t ls, le, n = (size_t)(q - p);
		int alone = (sigil == '#' || sigil == '^' || sigil == '/' || sigil == '!') &&
		            standalone(src, len, ts, te, &ls, &le);
		size_t text_end = alone ? ls : ts;
		if (text_end > text_start)
			tmpl_add(tp, TK_TEXT, src + text_start, text_end - text_start, line);
		int is_fields = n == 6 && memcmp(p, "fields", 6) == 0;
		int is_item = (n == 3 && memcmp(p, "key", 3) == 0) ||
		              (n == 5 && memcmp(p, "value", 5) == 0);
		switch (sigil) {
		case '#':
		case '^':
			if (depth == MAX_SECTION_DEPTH)
				return tmpl_error(tline, "sections nested deeper than %s", "16", 2);
			if (is_item)
				return tmpl_error(tline, "\"%s\" is not a section", p, n);
			if (is_fields && fields_depth)
				return tmpl_error(tline, "%s inside fields", "fields", 6);
			stack[depth++] = tp->n;
			if (is_fields && sigil == '#')
				fields_depth = depth;
			tmpl_add(tp, sigil == '#' ? TK_OPEN : TK_INVERT, p, n, tline);
			break;
		case '/': {
			if (depth == 0)
				return tmpl_error(tline, "{{/%s}} closes no section", p, n);
			struct token *op = &tp->t[stack[depth - 1]];
			if (op->n != n || memcmp(op->s, p, n) != 0)
				return tmpl_error(tline, "{{/%s}} does not close the open section", p, n);
			if (fields_depth == depth)
				fields_depth = 0;
			depth--;
			op->match = tp->n;
			tmpl_add(tp, TK_CLOSE, p, n, tline);
			break;
		}
		case '!':
			break;
		default:
			if (is_fields)
				return tmpl_error(tline, "%s is a list: use {{#fields}}...{{/fields}}", "fields", 6);
			if (is_item && !fields_depth)
				return tmpl_error(tline, "{{%s}} outside {{#fields}}", p, n);
			tmpl_add(tp, triple || sigil == '&' ? TK_RAW : TK_VAR, p, n, tline);
		}
		size_t next = alone ? le : te;
		line = count_lines(src, i, next, line);
		i = text_start = next;
	}
	if (depth > 0) {
		struct token *op = &tp->t[stack[depth - 1]];
		return tmpl_error(op->line, "{{#%s}} is never closed", op->s, op->n);
	}
	if (len > text_start)
		tmpl_add(tp, TK_TEXT, src + text_start, len - text_start, line);
	return jv_true();
}

/* ---- values ------------------------------------------------------------ */



/* A value as text (look-only on v): strings as they are, numbers and
 * booleans as JSON writes them, anything else empty.  Returns a jv
 * string. */
static jv value_text(jv v)
{
	switch (jv_get_kind(v)) {
	case JV_KIND_STRING:
		return jv_copy(v);
	case JV_KIND_NUMBER:
	case JV_KIND_TRUE:
	case JV_KIND_FALSE:
		return jv_dump_string(jv_copy(v), 0);
	default:
		return jv_string("");
	}
}

static int value_set(jv v)
{
	switch (jv_get_kind(v)) {
	case JV_KIND_STRING:
		return jv_string_length_bytes(jv_copy(v)) > 0;
	case JV_KIND_ARRAY:
		return jv_array_length(jv_copy(v)) > 0;
	case JV_KIND_NUMBER:
	case JV_KIND_TRUE:
		return 1;
	default:
		return 0;
	}
}

static int is_url_field(const struct token *t)
{
	return name_is(t, "link") || name_is(t, "image") || name_is(t, "thumbnail");
}

/* Insert text so that it reads as itself in markdown: one line, leading
 * and trailing blanks dropped, markdown punctuation backslash-escaped
 * (which also holds inside a link destination), and a line-start marker
 * ("1.", "-", "+", "=") escaped.  In a URL, spaces become %20. */
static void put_escaped(struct sbuf *out, const char *s, size_t n, int url)
{
	while (n && (is_blank(*s) || *s == '\n' || *s == '\r')) {
		s++;
		n--;
	}
	while (n && (is_blank(s[n - 1]) || s[n - 1] == '\n' || s[n - 1] == '\r'))
		n--;
	size_t digits = 0;
	while (digits < n && s[digits] >= '0' && s[digits] <= '9')
		digits++;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\n' || c == '\r' || c == '\t' || c == ' ') {
			sb_add(out, url ? "%20" : " ", url ? 3 : 1);
		} else if (c < 0x20 || c == 0x7f) {
			continue;
		} else if (strchr("\\`*_[]()<>!|~{}&#", c) ||
		           (i == 0 && c == '=') ||
		           (i == 0 && (c == '-' || c == '+') &&
		            (n == 1 || s[1] == ' ' || s[1] == c)) ||
		           (i == digits && digits && (c == '.' || c == ')') &&
		            (i + 1 == n || s[i + 1] == ' '))) {
			char e[2] = { '\\', (char)c };
			sb_add(out, e, 2);
		} else {
			sb_add(out, (const char *)&c, 1);
		}
	}
}

struct ctx {
	jv card;          /* look-only */
	jv pair;          /* look-only: the current [key, value], or null */
};

static jv lookup(const struct ctx *cx, const struct token *t)
{
	if (jv_get_kind(cx->pair) == JV_KIND_ARRAY) {
		if (name_is(t, "key"))
			return jv_array_get(jv_copy(cx->pair), 0);
		if (name_is(t, "value"))
			return jv_array_get(jv_copy(cx->pair), 1);
	}
	if (jv_get_kind(cx->card) != JV_KIND_OBJECT)
		return jv_null();
	char name[32];
	snprintf(name, sizeof name, "%.*s", (int)t->n, t->s);
	jv v = jv_object_get(jv_copy(cx->card), jv_string(name));
	if (!jv_is_valid(v)) {
		jv_free(v);
		return jv_null();
	}
	return v;
}

static void render_range(const struct tmpl *tp, size_t from, size_t to,
                         const struct ctx *cx, struct sbuf *out)
{
	for (size_t i = from; i < to; i++) {
		const struct token *t = &tp->t[i];
		switch (t->kind) {
		case TK_TEXT: {
			/* template text adds no third newline in a row, so
			 * optional sections need not juggle blank lines */
			const char *p = t->s;
			size_t n = t->n;
			while (n && *p == '\n' && (out->len == 0 ||
			       (out->len >= 2 && out->s[out->len - 1] == '\n' &&
			        out->s[out->len - 2] == '\n'))) {
				p++;
				n--;
			}
			sb_add(out, p, n);
			break;
		}
		case TK_VAR:
		case TK_RAW: {
			jv v = lookup(cx, t);
			jv s = value_text(v);
			const char *str = jv_string_value(s);
			size_t n = (size_t)jv_string_length_bytes(jv_copy(s));
			if (t->kind == TK_RAW)
				sb_add(out, str, n);
			else
				put_escaped(out, str, n, is_url_field(t));
			jv_free(s);
			jv_free(v);
			break;
		}
		case TK_OPEN:
		case TK_INVERT: {
			jv v = lookup(cx, t);
			int set = value_set(v);
			if (t->kind == TK_INVERT) {
				if (!set)
					render_range(tp, i + 1, t->match, cx, out);
			} else if (name_is(t, "fields")) {
				if (jv_get_kind(v) == JV_KIND_ARRAY) {
					jv_array_foreach(v, k, pair) {
						if (jv_get_kind(pair) == JV_KIND_ARRAY) {
							struct ctx inner = { cx->card, pair };
							render_range(tp, i + 1, t->match, &inner, out);
						}
						jv_free(pair);
						(void)k;
					}
				}
			} else if (set) {
				render_range(tp, i + 1, t->match, cx, out);
			}
			jv_free(v);
			i = t->match;
			break;
		}
		case TK_CLOSE:
			break;
		}
	}
}

jv bot_card_markdown(jv card, const char *template_text)
{
	const char *src = template_text ? template_text : builtin_template;
	struct tmpl tp = { 0 };
	jv ok = tmpl_parse(src, strlen(src), &tp);
	if (!jv_is_valid(ok)) {
		free(tp.t);
		return ok;
	}
	jv_free(ok);
	struct sbuf out = { 0 };
	struct ctx cx = { card, jv_null() };
	sb_add(&out, "", 0);
	render_range(&tp, 0, tp.n, &cx, &out);
	free(tp.t);
	/* a card ends with its last line, not with blank ones */
	size_t n = out.len, a = 0;
	while (n && (out.s[n - 1] == '\n' || out.s[n - 1] == ' '))
		n--;
	while (a < n && out.s[a] == '\n')
		a++;
	jv r = jv_string_sized(out.s + a, (int)(n - a));
	free(out.s);
	return r;
}
