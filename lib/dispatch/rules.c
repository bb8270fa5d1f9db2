/* rules.c: jq programs over events, compiled once with libjq (jq 1.6).
 * Each rule has its own jq_state.  share/bot.jq is on the library path
 * and included in every rule ("include \"bot\"; " on the program's first
 * line, so jq's line numbers stay right).  libjq 1.6's rules: compile
 * errors reach only the callback; never call jq_next after it returned
 * an invalid. */
#include <stdlib.h>
#include <string.h>
#include <jq.h>

#include "bot.h"
#include "dispatch.h"

/* ---- guards: events a rule cannot match, found without running jq ----
 *
 * A rule shaped like  select(C1 and C2 and ...) | rest  (or the select
 * alone) gives nothing for an event on which one of the Ci is false, as
 * long as every Cj before it can neither fail nor give more than one
 * value.  Two shapes of Ci are understood, and only with literal strings
 * (no backslash, so no escapes or interpolation):
 *   .field == "text"   ("text" == .field)   false unless .field is that string
 *   (.field | test("text"))                 with text free of regex syntax:
 *                                           false when .field is a string
 *                                           without text in it
 * Anything else in the rule, or a conjunct that is not one of these (or
 * in parentheses), and the rule has no guard: it always runs.  When the
 * guard cannot decide (a .field that is not a string for test, which jq
 * would report as an error), jq runs.  bot.jq must not redefine select or
 * test, nor pull in other modules; checked when the rule is added. */

enum cond_kind { COND_EQUALS, COND_CONTAINS };

struct cond {
	enum cond_kind kind;
	jv key;          /* the field's name */
	jv text;         /* the literal string */
};

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

/* The end of the string literal at p (on its closing quote), or NULL for
 * one with a backslash or no end. */
static const char *string_end(const char *p)
{
	for (p++; *p && *p != '"'; p++)
		if (*p == '\\')
			return NULL;
	return *p ? p : NULL;
}

/* The bracket closing the one at p, or NULL; strings are skipped, a
 * comment or a backslash gives up. */
static const char *matching(const char *p, const char *end)
{
	int depth = 0;
	for (; p < end; p++) {
		if (*p == '"') {
			if (!(p = string_end(p)) || p >= end)
				return NULL;
		} else if (*p == '#') {
			return NULL;
		} else if (*p == '(' || *p == '[' || *p == '{') {
			depth++;
		} else if (*p == ')' || *p == ']' || *p == '}') {
			if (--depth == 0)
				return p;
			if (depth < 0)
				return NULL;
		}
	}
	return NULL;
}

static int is_ident(int c, int first)
{
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (!first && c >= '0' && c <= '9');
}

/* Reads ".name" at *p into key; advances *p. */
static int read_field(const char **p, const char *end, jv *key)
{
	const char *s = *p;
	if (s >= end || *s != '.' || s + 1 >= end || !is_ident((unsigned char)s[1], 1))
		return 0;
	const char *e = s + 2;
	while (e < end && is_ident((unsigned char)*e, 0))
		e++;
	*key = jv_string_sized(s + 1, (int)(e - s - 1));
	*p = e;
	return 1;
}

/* Reads "text" at *p into text; advances *p. */
static int read_string(const char **p, const char *end, jv *text)
{
	const char *s = *p;
	if (s >= end || *s != '"')
		return 0;
	const char *e = string_end(s);
	if (!e || e >= end)
		return 0;
	*text = jv_string_sized(s + 1, (int)(e - s - 1));
	*p = e + 1;
	return 1;
}

static int skip_token(const char **p, const char *end, const char *tok)
{
	size_t n = strlen(tok);
	const char *s = skip_ws(*p);
	if ((size_t)(end - s) < n || strncmp(s, tok, n))
		return 0;
	*p = skip_ws(s + n);
	return 1;
}

/* A regex that matches only itself: letters, digits and punctuation
 * Oniguruma's Perl syntax gives no meaning to. */
static int plain_regex(jv text)
{
	for (const char *s = jv_string_value(text); *s; s++)
		if (!is_ident((unsigned char)*s, 0) && !strchr(" -:/@,=!%&'<>~;", *s))
			return 0;
	return 1;
}

/* Printable ASCII: what jq's lexer and jv_string_sized read alike. */
static int plain_string(jv text)
{
	for (const char *s = jv_string_value(text); *s; s++)
		if (*s < 0x20 || *s > 0x7e)
			return 0;
	return 1;
}

/* .field == "text" (or "text" == .field) at s..end. */
static int read_equals(const char *s, const char *end, struct cond *c)
{
	for (int string_first = 0; string_first < 2; string_first++) {
		const char *p = s;
		jv key = jv_invalid(), text = jv_invalid();
		int ok = string_first
		         ? read_string(&p, end, &text) && skip_token(&p, end, "==") &&
		           read_field(&p, end, &key)
		         : read_field(&p, end, &key) && skip_token(&p, end, "==") &&
		           read_string(&p, end, &text);
		if (ok && p == end && plain_string(text)) {
			*c = (struct cond){ COND_EQUALS, key, text };
			return 1;
		}
		jv_free(key);
		jv_free(text);
	}
	return 0;
}

/* .field | test("text") at s..end. */
static int read_contains(const char *s, const char *end, struct cond *c)
{
	const char *p = s;
	jv key = jv_invalid(), text = jv_invalid();
	if (read_field(&p, end, &key) && skip_token(&p, end, "|") && skip_token(&p, end, "test") &&
	    skip_token(&p, end, "(") && read_string(&p, end, &text) && skip_token(&p, end, ")") &&
	    p == end && plain_regex(text)) {
		*c = (struct cond){ COND_CONTAINS, key, text };
		return 1;
	}
	jv_free(key);
	jv_free(text);
	return 0;
}

/* One conjunct at s..end (no space around); piped: a pipe in it is its
 * own (it was in parentheses, or is the only conjunct). */
static int read_cond(const char *s, const char *end, int piped, struct cond *c)
{
	return read_equals(s, end, c) || (piped && read_contains(s, end, c));
}

/* The next " and " outside brackets and strings in s..end, or end. */
static const char *next_and(const char *s, const char *end)
{
	for (const char *p = s; p < end; p++) {
		if (*p == '"') {
			if (!(p = string_end(p)))
				return end;
		} else if (*p == '(' || *p == '[' || *p == '{') {
			if (!(p = matching(p, end)))
				return end;
		} else if (p > s && p + 4 < end && !strncmp(p, "and", 3) &&
		           !is_ident((unsigned char)p[-1], 0) && !is_ident((unsigned char)p[3], 0)) {
			return p;
		}
	}
	return end;
}

static void free_guard(struct cond *g, int n)
{
	for (int i = 0; i < n; i++) {
		jv_free(g[i].key);
		jv_free(g[i].text);
	}
	free(g);
}

/* The guard of program, *n conditions, or NULL when it has none; *rest:
 * what follows "select(...) |", or NULL when nothing does. */
static struct cond *read_guard(const char *program, int *n, const char **rest)
{
	const char *p = skip_ws(program);
	*n = 0;
	*rest = NULL;
	if (strncmp(p, "select(", 7))
		return NULL;
	const char *open = p + 6, *close = matching(open, open + strlen(open));
	if (!close)
		return NULL;
	const char *after = skip_ws(close + 1);
	if (*after && !(*after == '|' && after[1] != '='))
		return NULL;
	if (*after)
		*rest = after + 1;
	struct cond *g = NULL;
	for (const char *s = open + 1; s < close;) {
		const char *e = next_and(s, close), *next = e < close ? e + 3 : close;
		s = skip_ws(s);
		while (e > s && strchr(" \t\n\r", e[-1]))
			e--;
		int paren = 0;
		/* (( x )) -> x, only where the first bracket closes at the end */
		while (e > s && *s == '(' && matching(s, e) == e - 1) {
			s = skip_ws(s + 1);
			e--;
			while (e > s && strchr(" \t\n\r", e[-1]))
				e--;
			paren = 1;
		}
		struct cond c;
		/* a lone conjunct needs no parentheses round its pipe */
		if (s >= e || !read_cond(s, e, paren || (s == skip_ws(open + 1) && next == close), &c)) {
			free_guard(g, *n);
			*n = 0;
			return NULL;
		}
		struct cond *grown = realloc(g, (size_t)(*n + 1) * sizeof *g);
		if (!grown)
			abort();
		g = grown;
		g[(*n)++] = c;
		s = next;
	}
	return g;
}

static const char *scan_string(const char *p, int level, int *hit);

/* Scans jq text at p for what stops guards: a definition of select or
 * test, or an import or include (of modules that might define them).
 * In an interpolation (level > 0) it stops at the ')' that ends it.
 * Returns where it stopped; *hit when found, or when nested too deep. */
static const char *scan_words(const char *p, int level, int *hit)
{
	int after_def = 0, depth = 0;
	if (level > 16) {
		*hit = 1;
		return p;
	}
	while (*p && !*hit) {
		if (*p == '#') {
			p += strcspn(p, "\n");
		} else if (*p == '"') {
			p = scan_string(p + 1, level, hit);
			after_def = 0;
		} else if (is_ident((unsigned char)*p, 1)) {
			const char *e = p;
			while (is_ident((unsigned char)*e, 0))
				e++;
			size_t n = (size_t)(e - p);
			if ((n == 6 && !strncmp(p, "import", 6)) || (n == 7 && !strncmp(p, "include", 7)))
				*hit = 1;
			if (after_def && ((n == 6 && !strncmp(p, "select", 6)) ||
			                  (n == 4 && !strncmp(p, "test", 4))))
				*hit = 1;
			after_def = n == 3 && !strncmp(p, "def", 3);
			p = e;
		} else {
			if (*p == '(')
				depth++;
			else if (*p == ')' && level && depth-- == 0)
				return p;
			if (!strchr(" \t\r\n", *p))
				after_def = 0;
			p++;
		}
	}
	return p;
}

/* From after a string's opening quote to after its closing one, through
 * its interpolations. */
static const char *scan_string(const char *p, int level, int *hit)
{
	while (*p && *p != '"' && !*hit) {
		if (p[0] == '\\' && p[1] == '(') {
			p = scan_words(p + 2, level + 1, hit);
			if (*p == ')')
				p++;
		} else {
			p += p[0] == '\\' && p[1] ? 2 : 1;
		}
	}
	return *p == '"' ? p + 1 : p;
}

static int redefines_guard_words(const char *s)
{
	int hit = 0;
	scan_words(s, 0, &hit);
	return hit;
}

struct rule {
	char *name;
	jq_state *jq;
	struct cond *guard;   /* NULL: none, the rule runs on every event */
	int nguard;
	char *rest_text;      /* the rule after its select(), or NULL */
	jq_state *rest;       /* that compiled, once needed */
};

struct bot_rules {
	struct rule *rule;
	int n;
	char *libdir;
	int guards;  /* the library lets guards be read (see above) */
	jv errors;   /* compile messages of the rule being compiled */
};

/* Without a library only jq's builtins are there; with one, its bot.jq
 * must be readable and leave select and test alone. */
static int library_allows_guards(const char *libdir)
{
	if (!libdir)
		return 1;
	char path[4096];
	if (snprintf(path, sizeof path, "%s/bot.jq", libdir) >= (int)sizeof path)
		return 0;
	size_t len;
	char *text = bot_slurp(path, 1u << 20, &len);
	int ok = text && strlen(text) == len && !redefines_guard_words(text);
	free(text);
	return ok;
}

struct bot_rules *bot_rules_new(const char *libdir)
{
	struct bot_rules *r = calloc(1, sizeof *r);
	if (!r)
		abort();
	r->libdir = libdir ? strdup(libdir) : NULL;
	r->guards = library_allows_guards(libdir);
	r->errors = jv_array();
	return r;
}

void bot_rules_free(struct bot_rules *r)
{
	if (!r)
		return;
	for (int i = 0; i < r->n; i++) {
		jq_teardown(&r->rule[i].jq);
		free(r->rule[i].name);
		free_guard(r->rule[i].guard, r->rule[i].nguard);
		if (r->rule[i].rest)
			jq_teardown(&r->rule[i].rest);
		free(r->rule[i].rest_text);
	}
	free(r->rule);
	free(r->libdir);
	jv_free(r->errors);
	free(r);
}

int bot_rules_count(const struct bot_rules *r)
{
	return r ? r->n : 0;
}

int bot_rules_guarded(const struct bot_rules *r, int i)
{
	return r && i >= 0 && i < r->n && r->rule[i].guard != NULL;
}

/* jq's compile messages, one per call; the callback owns msg. */
static void on_compile_error(void *ctx, jv msg)
{
	struct bot_rules *r = ctx;
	if (jv_get_kind(msg) == JV_KIND_STRING)
		r->errors = jv_array_append(r->errors, msg);
	else
		r->errors = jv_array_append(r->errors, jv_dump_string(msg, 0));
}

static void discard(void *ctx, jv msg)
{
	(void)ctx;
	jv_free(msg);
}

/* "jq: error: x/0 is not defined at <top-level>, line 1:\nx/0\njq: 1
 * compile error" becomes one line. */
static jv one_line(jv errors)
{
	jv out = jv_string("");
	int first = 1;
	jv_array_foreach(errors, i, e) {
		const char *s = jv_string_value(e);
		if (!strncmp(s, "jq: error: ", 11))
			s += 11;
		size_t n = strcspn(s, "\n");
		if (strncmp(s, "jq: ", 4) && n) {
			if (!first)
				out = jv_string_append_str(out, "; ");
			out = jv_string_append_buf(out, s, (int)n);
			first = 0;
		}
		jv_free(e);
		(void)i;
	}
	jv_free(errors);
	return out;
}

/* jq_state for text (with bot.jq included), or NULL and *err. */
static jq_state *compile(struct bot_rules *r, const char *name, const char *text, jv *err)
{
	jq_state *jq = jq_init();
	if (!jq) {
		*err = bot_fail("%s: cannot start jq", name);
		return NULL;
	}
	jq_set_error_cb(jq, on_compile_error, r);
	if (r->libdir)
		jq_set_attr(jq, jv_string("JQ_LIBRARY_PATH"), JV_ARRAY(jv_string(r->libdir)));
	jv program = jv_string_fmt("%s%s", r->libdir ? "include \"bot\"; " : "", text);
	int ok = jq_compile(jq, jv_string_value(program));
	jv_free(program);
	jv errors = r->errors;
	r->errors = jv_array();
	if (!ok) {
		jv msg = one_line(errors);
		*err = bot_fail("%s: %s", name, jv_string_value(msg));
		jv_free(msg);
		jq_teardown(&jq);
		return NULL;
	}
	jv_free(errors);
	jq_set_error_cb(jq, discard, NULL);   /* NULL would mean stderr */
	return jq;
}

/* The rule's guard, and the text after its select() for the events the
 * guard lets through (on the same line numbers as in the rule). */
static void add_guard(struct rule *rl, const char *program)
{
	const char *rest;
	rl->guard = read_guard(program, &rl->nguard, &rest);
	if (!rl->guard || !rest)
		return;
	jv text = jv_string("");
	for (const char *p = program; p < rest; p++)
		if (*p == '\n')
			text = jv_string_append_str(text, "\n");
	text = jv_string_append_str(text, rest);
	rl->rest_text = strdup(jv_string_value(text));
	jv_free(text);
}

/* The rest compiled, the first time it is needed (a second jq_compile
 * costs as much as the first: only rules that the guard passes pay). */
static jq_state *rest_of(struct bot_rules *r, struct rule *rl)
{
	if (!rl->rest && rl->rest_text) {
		jv err = jv_invalid();
		rl->rest = compile(r, rl->name, rl->rest_text, &err);
		jv_free(err);
		free(rl->rest_text);
		rl->rest_text = NULL;
		if (!rl->rest) {   /* not expected: then no guard */
			free_guard(rl->guard, rl->nguard);
			rl->guard = NULL;
		}
	}
	return rl->rest;
}

int bot_rules_add(struct bot_rules *r, const char *name, const char *program, jv *err)
{
	jq_state *jq = compile(r, name, program, err);
	if (!jq)
		return -1;
	struct rule *grown = realloc(r->rule, (size_t)(r->n + 1) * sizeof *grown);
	if (!grown)
		abort();
	r->rule = grown;
	struct rule *rl = &r->rule[r->n++];
	*rl = (struct rule){ .name = strdup(name), .jq = jq };
	if (r->guards)
		add_guard(rl, program);
	return 0;
}

enum verdict { GUARD_FALSE, GUARD_TRUE, GUARD_UNSURE };

/* What the rule's guard says of ev: GUARD_FALSE, the rule gives nothing;
 * GUARD_TRUE, its select() passes ev on; GUARD_UNSURE: run the rule. */
static enum verdict guard_verdict(const struct rule *rl, jv ev)
{
	if (!rl->guard || jv_get_kind(ev) != JV_KIND_OBJECT)
		return GUARD_UNSURE;
	for (int i = 0; i < rl->nguard; i++) {
		const struct cond *c = &rl->guard[i];
		jv v = jv_object_get(jv_copy(ev), jv_copy(c->key));
		int is_string = jv_get_kind(v) == JV_KIND_STRING;
		enum verdict holds;
		if (c->kind == COND_EQUALS)
			holds = is_string && jv_equal(jv_copy(v), jv_copy(c->text)) ? GUARD_TRUE : GUARD_FALSE;
		else if (!is_string)
			holds = GUARD_UNSURE;   /* test fails: jq says how */
		else
			holds = memmem(jv_string_value(v), (size_t)jv_string_length_bytes(jv_copy(v)),
			               jv_string_value(c->text),
			               (size_t)jv_string_length_bytes(jv_copy(c->text))) ? GUARD_TRUE : GUARD_FALSE;
		jv_free(v);
		if (holds != GUARD_TRUE)
			return holds;
	}
	return GUARD_TRUE;
}

/* jq's outputs of one program on ev; the count. */
static int run_jq(jq_state *jq, const char *name, jv ev, void (*emit)(void *ctx, jv out),
                  void (*error)(void *ctx, const char *rule, jv msg), void *ctx)
{
	int outputs = 0;
	jq_start(jq, jv_copy(ev), 0);
	jv out;
	while (jv_is_valid(out = jq_next(jq))) {
		emit(ctx, out);
		outputs++;
	}
	if (jv_invalid_has_msg(jv_copy(out)))
		error(ctx, name, jv_invalid_get_msg(out));
	else
		jv_free(out);
	return outputs;
}

int bot_rules_run(struct bot_rules *r, jv ev, void (*emit)(void *ctx, jv out),
                  void (*error)(void *ctx, const char *rule, jv msg), void *ctx)
{
	int outputs = 0;
	for (int i = 0; r && i < r->n; i++) {
		struct rule *rl = &r->rule[i];
		enum verdict v = guard_verdict(rl, ev);
		if (v == GUARD_TRUE && (rl->rest_text || rl->rest) && !rest_of(r, rl))
			v = GUARD_UNSURE;
		switch (v) {
		case GUARD_FALSE:
			break;
		case GUARD_TRUE:
			if (rl->rest) {
				outputs += run_jq(rl->rest, rl->name, ev, emit, error, ctx);
			} else {   /* select(...) alone gives its input */
				emit(ctx, jv_copy(ev));
				outputs++;
			}
			break;
		case GUARD_UNSURE:
			outputs += run_jq(rl->jq, rl->name, ev, emit, error, ctx);
			break;
		}
	}
	return outputs;
}
