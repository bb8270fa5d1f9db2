/* help.c: a command's help, read from its file without running it, and
 * errbot's !help layout (core_plugins/help.py).
 *
 * The header: within the first BOT_HELP_LINES lines of a script, comment
 * lines ("#", "//", "--" or ";" first) holding "help: text" (several make
 * a longer help; the first line is the summary), "usage: text",
 * "admin-only: yes", "hidden: yes".  A binary (or any file) may have a
 * sidecar NAME.help beside it with the same lines, comment marks
 * optional; the sidecar wins. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bot.h"
#include "dispatch.h"

#define BOT_HELP_LINES 30
#define LINE_MAX_HELP 1024

void bot_help_clear(struct bot_help *h)
{
	free(h->help);
	free(h->usage);
	free(h->args);
	free(h->match);
	free(h->on);
	free(h->every);
	free(h->to);
	memset(h, 0, sizeof *h);
}

static const char *skip_comment_mark(const char *s, int required)
{
	static const char *const marks[] = { "#", "//", "--", ";", NULL };
	for (const char *const *m = marks; *m; m++) {
		size_t n = strlen(*m);
		if (!strncmp(s, *m, n)) {
			s += n;
			while (*s == ' ' || *s == '\t')
				s++;
			return s;
		}
	}
	return required ? NULL : s;
}

static int yes(const char *v)
{
	return !strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcmp(v, "1");
}

/* Printable text only: control characters become spaces. */
static void clean(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ' ';
}

static void append_line(char **dst, const char *line)
{
	size_t old = *dst ? strlen(*dst) : 0, n = strlen(line);
	char *p = realloc(*dst, old + n + 2);
	if (!p)
		abort();
	if (old)
		p[old++] = '\n';
	memcpy(p + old, line, n + 1);
	*dst = p;
}

static void set_value(char **dst, const char *v)
{
	free(*dst);
	*dst = strdup(v);
	if (!*dst)
		abort();
}

/* key (klen bytes) is name, without case. */
static int is_key(const char *key, size_t klen, const char *name)
{
	return klen == strlen(name) && !strncasecmp(key, name, klen);
}

static void read_lines(FILE *f, int comments_required, int max_lines, struct bot_help *h)
{
	char line[LINE_MAX_HELP];
	for (int i = 0; (max_lines == 0 || i < max_lines) && fgets(line, sizeof line, f); i++) {
		if (memchr(line, 0, strlen(line) + 1) != line + strlen(line))
			break;
		line[strcspn(line, "\r\n")] = 0;
		const char *s = skip_comment_mark(line, comments_required);
		if (!s)
			continue;
		const char *colon = strchr(s, ':');
		if (!colon)
			continue;
		size_t klen = (size_t)(colon - s);
		const char *v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		char val[LINE_MAX_HELP];
		snprintf(val, sizeof val, "%s", v);
		size_t vl = strlen(val);
		while (vl && (val[vl - 1] == ' ' || val[vl - 1] == '\t'))
			val[--vl] = 0;
		clean(val);
		if (is_key(s, klen, "help"))
			append_line(&h->help, val);
		else if (is_key(s, klen, "usage"))
			set_value(&h->usage, val);
		else if (is_key(s, klen, "admin-only"))
			h->admin_only = yes(val);
		else if (is_key(s, klen, "hidden"))
			h->hidden = yes(val);
		else if (is_key(s, klen, "args"))
			set_value(&h->args, val);
		else if (is_key(s, klen, "match"))
			set_value(&h->match, val);
		else if (is_key(s, klen, "matchall"))
			h->matchall = yes(val);
		else if (is_key(s, klen, "prefixed"))
			h->unprefixed = !yes(val);
		else if (is_key(s, klen, "on"))
			set_value(&h->on, val);
		else if (is_key(s, klen, "every"))
			set_value(&h->every, val);
		else if (is_key(s, klen, "to"))
			set_value(&h->to, val);
	}
}

void bot_help_read(const char *path, struct bot_help *h)
{
	memset(h, 0, sizeof *h);
	char side[4096];
	FILE *f = NULL;
	if (snprintf(side, sizeof side, "%s.help", path) < (int)sizeof side)
		f = fopen(side, "re");
	if (f) {
		read_lines(f, 0, 200, h);
		fclose(f);
		return;
	}
	f = fopen(path, "re");
	if (!f)
		return;
	read_lines(f, 1, BOT_HELP_LINES, h);
	fclose(f);
}

/* ---- errbot's layout ---- */

static int by_plugin_then_name(const void *x, const void *y)
{
	const struct bot_help_entry *a = x, *b = y;
	int c = strcmp(a->plugin, b->plugin);
	return c ? c : strcmp(a->name, b->name);
}

/* errbot shows "deploy_status" as "deploy status". */
static jv spaced(const char *name)
{
	char *t = strdup(name);
	for (char *p = t; *p; p++)
		if (*p == '_')
			*p = ' ';
	jv s = jv_string(t);
	free(t);
	return s;
}

/* "- **!name with spaces** - doc\n": the first line, cut to 77 + "..."
 * past 80 characters, unless full. */
static jv help_line(jv text, const char *prefix, const struct bot_help_entry *e, int full)
{
	const char *doc = e->doc ? e->doc : "(undocumented)";
	jv d;
	if (full)
		d = jv_string(doc);
	else {
		d = jv_string_sized(doc, (int)strcspn(doc, "\n"));
		if (jv_string_length_codepoints(jv_copy(d)) > 80) {
			jv cut = jv_string_empty(0);
			int n = 0;
			jv cps = jv_string_explode(d);
			jv_array_foreach(cps, i, c) {
				if (n++ < 77)
					cut = jv_string_append_codepoint(cut, (uint32_t)jv_number_value(c));
				jv_free(c);
				(void)i;
			}
			jv_free(cps);
			d = jv_string_append_str(cut, "...");
		}
	}
	text = jv_string_append_str(text, "- **");
	text = jv_string_append_str(text, prefix);
	text = jv_string_concat(text, spaced(e->name));
	text = jv_string_append_str(text, "** - ");
	text = jv_string_concat(text, d);
	return jv_string_append_str(text, "\n");
}

static jv section_head(jv text, const char *plugin)
{
	return jv_string_concat(text, jv_string_fmt("\n**%s**\n\n\n\n", plugin));
}

static int same_name(const char *name, const char *query)
{
	/* query is lower-cased; "deploy status" or "deploy_status" */
	size_t n = strlen(name);
	if (strlen(query) != n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char a = name[i], b = query[i];
		if (a == b || (a == '_' && b == ' '))
			continue;
		return 0;
	}
	return 1;
}

jv bot_help_text(const char *prefix, struct bot_help_entry *e, size_t n, const char *args)
{
	qsort(e, n, sizeof *e, by_plugin_then_name);
	char *q = strdup(args ? args : "");
	for (char *p = q; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	jv text;
	if (!*q) {
		text = jv_string("### All commands\n");
		for (size_t i = 0; i < n; i++) {
			if (i == 0 || strcmp(e[i].plugin, e[i - 1].plugin))
				text = section_head(text, e[i].plugin);
			if (!e[i].hidden)
				text = help_line(text, prefix, &e[i], 0);
		}
		text = jv_string_append_str(text, "\n\n");
		free(q);
		return text;
	}
	/* a section by name, without case */
	for (size_t i = 0; i < n; i++)
		if (!strcasecmp(e[i].plugin, q)) {
			text = section_head(jv_string(""), e[i].plugin);
			for (size_t k = i; k < n && !strcmp(e[k].plugin, e[i].plugin); k++)
				if (!e[k].hidden)
					text = help_line(text, prefix, &e[k], 0);
			free(q);
			return text;
		}
	for (size_t i = 0; i < n; i++)
		if (same_name(e[i].name, q)) {
			free(q);
			return help_line(jv_string(""), prefix, &e[i], 1);
		}
	free(q);
	return jv_string("That command is not defined.");
}
