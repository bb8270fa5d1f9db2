/* args.c: a command's "# args:" header (errbot's arg_botcmd), checked
 * before the command runs.
 *
 *   # args: SERVICE [ENV=prod] [FILES...] [--force] [--tag=latest]
 *
 * NAME is required, [NAME] optional, [NAME=DEFAULT] optional with a
 * default, NAME... or [NAME...] takes the rest (last); [--NAME] is a flag,
 * [--NAME=DEFAULT] an option with a value (--tag v1 or --tag=v1).  "--"
 * ends the options.  The errors are argparse's, as errbot shows them. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bot.h"
#include "dispatch.h"

#define ARGS_MAX 32

struct arg {
	char name[64];
	char *def;          /* default, or NULL */
	int optional, rest; /* positional: [..], ... */
	int flag, option;   /* --NAME, --NAME=VALUE */
};

static int name_ok(const char *s, size_t n)
{
	if (!n || n >= 64 || !isalpha((unsigned char)s[0]))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
			return 0;
	return 1;
}

static void free_spec(struct arg *a, int n)
{
	for (int i = 0; i < n; i++)
		free(a[i].def);
}

/* One word of the header into a; NULL or why not. */
static const char *parse_one(const char *w, size_t len, struct arg *a)
{
	memset(a, 0, sizeof *a);
	if (w[0] == '[') {
		if (len < 3 || w[len - 1] != ']')
			return "an optional argument is [NAME], with its ]";
		w++;
		len -= 2;
		a->optional = 1;
	}
	if (len > 2 && !strncmp(w, "--", 2)) {
		if (!a->optional)
			return "an option is optional: [--NAME]";
		w += 2;
		len -= 2;
		a->flag = 1;
	}
	const char *eq = memchr(w, '=', len);
	if (eq) {
		if (!a->optional)
			return "only an optional argument has a default: [NAME=DEFAULT]";
		a->def = strndup(eq + 1, len - (size_t)(eq - w) - 1);
		len = (size_t)(eq - w);
		if (a->flag) {
			a->flag = 0;
			a->option = 1;
		}
	}
	if (!a->flag && !a->option && len > 3 && !strncmp(w + len - 3, "...", 3)) {
		if (eq)
			return "NAME... has no default";
		a->rest = 1;
		len -= 3;
	}
	if (!name_ok(w, len))
		return "a name is a letter, then letters, digits, _ or -";
	memcpy(a->name, w, len);
	a->name[len] = 0;
	return NULL;
}

/* The header's words into a (at most ARGS_MAX); the count, or -1 + *err. */
static int parse_spec(const char *spec, struct arg *a, jv *err)
{
	int n = 0;
	const char *p = spec;
	while (*p) {
		p += strspn(p, " \t");
		size_t len = strcspn(p, " \t");
		if (!len)
			break;
		const char *why = n >= ARGS_MAX ? "too many arguments" : parse_one(p, len, &a[n]);
		if (!why && n && a[n - 1].rest && !a[n].flag && !a[n].option)
			why = "NAME... is the last argument";
		if (!why && !a[n].optional && !a[n].flag && !a[n].option)
			for (int k = 0; k < n; k++)
				if (a[k].optional && !a[k].flag && !a[k].option)
					why = "a required argument after an optional one";
		if (why) {
			*err = bot_fail_code("bad_header", 0, "args: %.*s: %s", (int)len, p, why);
			if (n < ARGS_MAX)
				free(a[n].def);
			free_spec(a, n);
			return -1;
		}
		n++;
		p += len;
	}
	return n;
}

/* BOT_ARG_ + the name in capitals, - as _. */
static jv var_name(const char *name)
{
	jv v = jv_string("BOT_ARG_");
	for (const char *s = name; *s; s++)
		v = jv_string_append_codepoint(v, *s == '-' ? '_' : (uint32_t)toupper((unsigned char)*s));
	return v;
}

static int find_option(struct arg *a, int n, const char *w, size_t len)
{
	for (int i = 0; i < n; i++)
		if ((a[i].flag || a[i].option) && strlen(a[i].name) == len && !strncmp(a[i].name, w, len))
			return i;
	return -1;
}

/* The options among words set in vars; the rest (positionals) in order
 * into *pos.  NULL or the error. */
static jv take_options(struct arg *a, int n, jv words, jv *vars, jv *pos)
{
	int count = jv_array_length(jv_copy(words)), only_pos = 0;
	jv extra = jv_array();
	for (int i = 0; i < count; i++) {
		jv w = jv_array_get(jv_copy(words), i);
		const char *s = jv_string_value(w);
		if (only_pos || strncmp(s, "--", 2) || !s[2]) {
			if (!only_pos && !strcmp(s, "--"))
				only_pos = 1;
			else
				*pos = jv_array_append(*pos, jv_copy(w));
			jv_free(w);
			continue;
		}
		const char *eq = strchr(s + 2, '=');
		size_t len = eq ? (size_t)(eq - s - 2) : strlen(s + 2);
		int k = find_option(a, n, s + 2, len);
		jv e = jv_null();
		if (k < 0)
			extra = jv_array_append(extra, jv_copy(w));
		else if (a[k].flag && eq)
			e = bot_fail("argument --%s: ignored explicit argument '%s'", a[k].name, eq + 1);
		else if (a[k].flag)
			*vars = jv_object_set(*vars, var_name(a[k].name), jv_string("1"));
		else if (eq)
			*vars = jv_object_set(*vars, var_name(a[k].name), jv_string(eq + 1));
		else if (i + 1 < count) {
			*vars = jv_object_set(*vars, var_name(a[k].name),
			                      jv_array_get(jv_copy(words), i + 1));
			i++;
		} else
			e = bot_fail("argument --%s: expected one argument", a[k].name);
		jv_free(w);
		if (jv_get_kind(e) != JV_KIND_NULL) {
			jv_free(extra);
			return e;
		}
	}
	return extra;   /* unknown options: named with any extra positionals */
}

static jv join(jv list)
{
	jv s = jv_string("");
	jv_array_foreach(list, i, w) {
		if (i)
			s = jv_string_append_str(s, " ");
		s = jv_string_concat(s, w);
	}
	jv_free(list);
	return s;
}

jv bot_args_parse(const char *spec, jv words)
{
	struct arg a[ARGS_MAX];
	jv err = jv_invalid();
	int n = parse_spec(spec, a, &err);
	if (n < 0) {
		jv_free(words);
		return err;
	}
	jv vars = jv_object(), pos = jv_array(), argv = jv_array(), missing = jv_array();
	for (int i = 0; i < n; i++)
		if (a[i].flag)
			vars = jv_object_set(vars, var_name(a[i].name), jv_string("0"));
		else if (a[i].option)
			vars = jv_object_set(vars, var_name(a[i].name), jv_string(a[i].def));
	jv extra = take_options(a, n, words, &vars, &pos);
	if (!jv_is_valid(extra)) {
		jv_free(vars);
		jv_free(pos);
		jv_free(argv);
		jv_free(missing);
		jv_free(words);
		free_spec(a, n);
		return extra;
	}
	int np = jv_array_length(jv_copy(pos)), at = 0;
	for (int i = 0; i < n; i++) {
		if (a[i].flag || a[i].option)
			continue;
		jv value;
		if (a[i].rest) {
			jv rest = jv_array_slice(jv_copy(pos), at, np);
			at = np;
			if (!a[i].optional && !jv_array_length(jv_copy(rest)))
				missing = jv_array_append(missing, jv_string(a[i].name));
			argv = jv_array_concat(argv, jv_copy(rest));
			value = join(rest);
		} else if (at < np) {
			value = jv_array_get(jv_copy(pos), at++);
			argv = jv_array_append(argv, jv_copy(value));
		} else {
			if (!a[i].optional)
				missing = jv_array_append(missing, jv_string(a[i].name));
			value = jv_string(a[i].def ? a[i].def : "");
			argv = jv_array_append(argv, jv_copy(value));
		}
		vars = jv_object_set(vars, var_name(a[i].name), value);
	}
	extra = jv_array_concat(extra, jv_array_slice(pos, at, np));
	jv result;
	if (jv_array_length(jv_copy(missing))) {
		jv names = jv_string("");
		jv_array_foreach(missing, i, m) {
			if (i)
				names = jv_string_append_str(names, ", ");
			names = jv_string_concat(names, m);
		}
		result = bot_fail("the following arguments are required: %s", jv_string_value(names));
		jv_free(names);
	} else if (jv_array_length(jv_copy(extra))) {
		jv list = join(jv_copy(extra));
		result = bot_fail("unrecognized arguments: %s", jv_string_value(list));
		jv_free(list);
	} else
		result = JV_OBJECT(jv_string("argv"), jv_copy(argv), jv_string("vars"), jv_copy(vars));
	jv_free(extra);
	jv_free(missing);
	jv_free(argv);
	jv_free(vars);
	jv_free(words);
	free_spec(a, n);
	return result;
}
