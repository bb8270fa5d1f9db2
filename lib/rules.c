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

struct rule {
	char *name;
	jq_state *jq;
};

struct bot_rules {
	struct rule *rule;
	int n;
	char *libdir;
	jv errors;   /* compile messages of the rule being compiled */
};

struct bot_rules *bot_rules_new(const char *libdir)
{
	struct bot_rules *r = calloc(1, sizeof *r);
	if (!r)
		abort();
	r->libdir = libdir ? strdup(libdir) : NULL;
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

int bot_rules_add(struct bot_rules *r, const char *name, const char *program, jv *err)
{
	jq_state *jq = jq_init();
	if (!jq) {
		*err = bot_fail("%s: cannot start jq", name);
		return -1;
	}
	jq_set_error_cb(jq, on_compile_error, r);
	if (r->libdir)
		jq_set_attr(jq, jv_string("JQ_LIBRARY_PATH"), JV_ARRAY(jv_string(r->libdir)));
	jv text = jv_string_fmt("%s%s", r->libdir ? "include \"bot\"; " : "", program);
	int ok = jq_compile(jq, jv_string_value(text));
	jv_free(text);
	jv errors = r->errors;
	r->errors = jv_array();
	if (!ok) {
		jv msg = one_line(errors);
		*err = bot_fail("%s: %s", name, jv_string_value(msg));
		jv_free(msg);
		jq_teardown(&jq);
		return -1;
	}
	jv_free(errors);
	jq_set_error_cb(jq, discard, NULL);   /* NULL would mean stderr */
	struct rule *grown = realloc(r->rule, (size_t)(r->n + 1) * sizeof *grown);
	if (!grown)
		abort();
	r->rule = grown;
	r->rule[r->n].name = strdup(name);
	r->rule[r->n].jq = jq;
	r->n++;
	return 0;
}

int bot_rules_run(struct bot_rules *r, jv ev, void (*emit)(void *ctx, jv out),
                  void (*error)(void *ctx, const char *rule, jv msg), void *ctx)
{
	int outputs = 0;
	for (int i = 0; r && i < r->n; i++) {
		jq_state *jq = r->rule[i].jq;
		jq_start(jq, jv_copy(ev), 0);
		jv out;
		while (jv_is_valid(out = jq_next(jq))) {
			emit(ctx, out);
			outputs++;
		}
		if (jv_invalid_has_msg(jv_copy(out)))
			error(ctx, r->rule[i].name, jv_invalid_get_msg(out));
		else
			jv_free(out);
	}
	return outputs;
}
