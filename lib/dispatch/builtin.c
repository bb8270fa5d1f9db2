/* builtin.c: errbot's built-in commands, with errbot's outputs where they
 * apply (errbot.md §4): apropos, echo, help, whoami, history, status,
 * uptime. */
#include <dirent.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "bot.h"
#include "dispatch_priv.h"

const char *const builtin_names[] = {
	"apropos", "echo", "help", "history", "status", "uptime", "whoami", NULL
};

/* errbot's docstrings. */
static const char *const builtin_docs[] = {
	"Returns a help string listing available options.\n\nAutomatically assigned to the \"help\" command.",
	"A simple echo command. Useful for encoding tests etc ...",
	"Returns a help string listing available options.\nAutomatically assigned to the \"help\" command.",
	"display the command history",
	"If I am alive I should be able to respond to this one",
	"Return the uptime of the bot",
	"A simple command echoing the details of your identifier. Useful to debug identity problems.",
};

int builtin_known(const char *name)
{
	return builtin_doc(name) != NULL;
}

const char *builtin_doc(const char *name)
{
	for (int i = 0; builtin_names[i]; i++)
		if (!strcmp(builtin_names[i], name))
			return builtin_docs[i];
	return NULL;
}

/* ---- help ---- */

struct entries {
	struct bot_help_entry *e;
	size_t n, cap;
};

static void add_entry(struct entries *es, const char *name, const char *plugin,
                      const char *doc, int hidden)
{
	if (es->n == es->cap) {
		es->cap = es->cap ? es->cap * 2 : 32;
		es->e = realloc(es->e, es->cap * sizeof *es->e);
		if (!es->e)
			abort();
	}
	es->e[es->n++] = (struct bot_help_entry){ strdup(name), strdup(plugin),
	                                          doc ? strdup(doc) : NULL, hidden };
}

static void free_entries(struct entries *es)
{
	for (size_t i = 0; i < es->n; i++) {
		free((char *)es->e[i].name);
		free((char *)es->e[i].plugin);
		free((char *)es->e[i].doc);
	}
	free(es->e);
}

/* A plugin's doc: its help lines, then its usage line (or, without one,
 * its "# args:" after its name). */
static char *plugin_doc(const struct dispatch *d, const char *name, const char *path)
{
	struct bot_help h;
	bot_help_read(path, &h);
	char *doc = NULL;
	if (!h.usage && h.args) {
		if (asprintf(&h.usage, "%s%s %s", d->prefix, name, h.args) < 0)
			abort();
		for (char *p = h.usage + strlen(d->prefix); *p && *p != ' '; p++)
			if (*p == '_')
				*p = ' ';
	}
	if (h.help && h.usage) {
		if (asprintf(&doc, "%s\nusage: %s", h.help, h.usage) < 0)
			abort();
	} else if (h.help || h.usage) {
		if (asprintf(&doc, "%s%s", h.help ? "" : "usage: ", h.help ? h.help : h.usage) < 0)
			abort();
	}
	bot_help_clear(&h);
	return doc;
}

static int plugin_hidden(const char *path)
{
	struct bot_help h;
	bot_help_read(path, &h);
	int hidden = h.hidden;
	bot_help_clear(&h);
	return hidden;
}

/* Every command the asker may see: built-ins unless a plugin overrides
 * them, plugins by folder (the first folder with a name wins). */
static void collect(struct dispatch *d, jv msg, struct entries *es)
{
	jv names = dispatch_all_names(d);
	jv_array_foreach(names, i, nm) {
		const char *name = jv_string_value(nm);
		char path[PATH_MAX], plugin[NAME_MAX + 1];
		int is_plugin = dispatch_find_plugin(d, name, path, sizeof path, plugin, sizeof plugin);
		int visible = !d->hide_commands || !dispatch_may_run(d, msg, name);
		if (visible && builtin_known(name) && !(is_plugin && d->override))
			add_entry(es, name, "builtin", builtin_doc(name), 0);
		else if (visible && is_plugin) {
			char *doc = plugin_doc(d, name, path);
			add_entry(es, name, plugin, doc, plugin_hidden(path));
			free(doc);
		}
		jv_free(nm);
		(void)i;
	}
	jv_free(names);
}

static void builtin_help(struct dispatch *d, struct item *it)
{
	struct entries es = { 0 };
	collect(d, it->msg, &es);
	jv text = bot_help_text(d->prefix, es.e, es.n, it->args);
	dispatch_reply(d, it, jv_string_value(text));
	jv_free(text);
	free_entries(&es);
}

/* ---- apropos ---- */

static int by_plugin_name(const void *x, const void *y)
{
	const struct bot_help_entry *a = x, *b = y;
	int c = strcmp(a->plugin, b->plugin);
	return c ? c : strcmp(a->name, b->name);
}

/* errbot's apropos: the commands whose help has the words (without case),
 * one "TAB !name: first line" each, by section and name; an undocumented
 * command is always listed, as errbot lists it. */
static void builtin_apropos(struct dispatch *d, struct item *it)
{
	if (!*it->args) {
		jv usage = jv_string_fmt("Usage: %sapropos search_term", d->prefix);
		dispatch_reply(d, it, jv_string_value(usage));
		jv_free(usage);
		return;
	}
	struct entries es = { 0 };
	collect(d, it->msg, &es);
	qsort(es.e, es.n, sizeof *es.e, by_plugin_name);
	jv text = jv_string("Available commands:\n");
	int listed = 0;
	for (size_t i = 0; i < es.n; i++) {
		const struct bot_help_entry *e = &es.e[i];
		if (e->hidden || !strcmp(e->name, "help") || (e->doc && !strcasestr(e->doc, it->args)))
			continue;
		const char *doc = e->doc ? e->doc : "(undocumented)";
		char *name = strdup(e->name), *us = strchr(name, '_');
		if (us)
			*us = ' ';   /* the first only, as errbot */
		text = jv_string_concat(text, jv_string_fmt("%s\t%s%s: %.*s", listed++ ? "\n" : "",
		                                            d->prefix, name, (int)strcspn(doc, "\n"),
		                                            doc));
		free(name);
	}
	if (!listed) {
		jv_free(text);
		text = jv_string("Available commands:");
	}
	dispatch_reply(d, it, jv_string_value(text));
	jv_free(text);
	free_entries(&es);
}

/* ---- whoami ---- */

static jv field(jv text, const char *key, jv ident, const char *name)
{
	const char *v = bot_str(ident, name);
	return jv_string_concat(text, jv_string_fmt("| %-8s | `%s`\n", key, v ? v : "None"));
}

/* An identifier from the argument text: without a backend at hand, its
 * kind is guessed from the text ("#room", "#room/nick", else a person). */
static jv guess_identifier(const char *text)
{
	char *s = strdup(text);
	size_t n = strlen(s);
	char *p = s;
	while (n && *p == '"') {
		p++;
		n--;
	}
	while (n && p[n - 1] == '"')
		p[--n] = 0;
	jv id;
	char *slash = *p == '#' ? strchr(p, '/') : NULL;
	if (slash) {
		*slash = 0;
		id = bot_occupant(p, slash + 1, NULL);
	} else if (*p == '#')
		id = bot_room(p);
	else
		id = bot_person(p, NULL);
	free(s);
	return id;
}

static void builtin_whoami(struct dispatch *d, struct item *it)
{
	jv frm = *it->args ? guess_identifier(it->args) : bot_get(it->msg, "from");
	jv to = bot_get(it->msg, "to");
	const char *tk = bot_ident_kind(to);
	jv text = jv_string(d->mention && tk && !strcmp(tk, "room") ? "\n\n" : "");
	jv_free(to);
	text = jv_string_append_str(text, "| key      | value\n| -------- | --------\n");
	if (!bot_str(frm, "person") && bot_ident_id(frm))
		frm = jv_object_set(frm, jv_string("person"), jv_string(bot_ident_person(frm)));
	text = field(text, "person", frm, "person");
	text = field(text, "nick", frm, "nick");
	text = field(text, "fullname", frm, "fullname");
	text = field(text, "client", frm, "client");
	text = field(text, "email", frm, "email");
	const char *room = bot_ident_room(frm);
	if (room)
		text = jv_string_concat(text, jv_string_fmt("\n`room` is %s\n", room));
	const char *id = bot_ident_id(frm), *kind = bot_ident_kind(frm);
	text = jv_string_concat(text, jv_string_fmt("\n\n- string representation is '%s'\n",
	                                            id ? id : "None"));
	text = jv_string_concat(text, jv_string_fmt("- class is '%s'\n", kind ? kind : "None"));
	dispatch_reply(d, it, jv_string_value(text));
	jv_free(text);
	jv_free(frm);
}

/* ---- history, uptime, status ---- */

void builtin_history_now(struct dispatch *d, struct item *it)
{
	char key[BOT_HISTORY_KEY_MAX];
	jv from = bot_get(it->msg, "from");
	jv text = bot_history_text(d->history, bot_history_key(from, key, sizeof key), d->prefix);
	jv_free(from);
	it->kind = ITEM_EVENTS;
	/* never to the room: the arguments may be nobody else's business */
	if (jv_string_length_bytes(jv_copy(text)))
		it->events = jv_array_append(it->events,
		                             bot_build_reply(jv_copy(it->msg), jv_string_value(text), 1,
		                                             it->threaded, d->mention));
	jv_free(text);
}

void bot_format_timedelta(char *out, size_t n, long total)
{
	long hours = total / 3600, minutes = total % 3600 / 60, seconds = total % 60;
	if (!hours && !minutes)
		snprintf(out, n, "%ld seconds", seconds);
	else if (!hours)
		snprintf(out, n, "%ld minutes", minutes);
	else if (!minutes)
		snprintf(out, n, "%ld hours", hours);
	else
		snprintf(out, n, "%ld hours and %ld minutes", hours, minutes);
}

/* With --replay the clock is the recorded one: up since the first
 * input's time, until this input's, in UTC (the same on every machine). */
static void builtin_uptime(struct dispatch *d, struct item *it)
{
	char span[64], since[64], body[200];
	time_t started = d->replay ? (time_t)d->since : d->started;
	long up = d->replay ? (long)(it->now - d->since) : (long)(time(NULL) - d->started);
	bot_format_timedelta(span, sizeof span, up);
	struct tm tm;
	if (d->replay)
		gmtime_r(&started, &tm);
	else
		localtime_r(&started, &tm);
	strftime(since, sizeof since, "%A, %b %d at %H:%M", &tm);
	snprintf(body, sizeof body, "I've been up for %s (since %s).", span, since);
	dispatch_reply(d, it, body);
}

/* Python's repr of a load average: shortest form, at least one decimal. */
static void load_text(char *out, size_t n, double v)
{
	snprintf(out, n, "%.2f", v);
	size_t len = strlen(out);
	while (len > 3 && out[len - 1] == '0' && out[len - 2] != '.')
		out[--len] = 0;
}

static void builtin_status(struct dispatch *d, struct item *it)
{
	jv text = jv_string("## Yes I am alive...\n\n### Plugins\n\n"
	                    "Status  | Name                    \n------- | ----------------------- \n");
	text = jv_string_append_str(text, "**A**{:color='green'} | builtin\n");
	jv_array_foreach(d->dirs, i, dir) {
		char copy[PATH_MAX];
		snprintf(copy, sizeof copy, "%s", jv_string_value(dir));
		int readable = access(jv_string_value(dir), R_OK | X_OK) == 0;
		text = jv_string_concat(text, jv_string_fmt("%s | %s\n",
		                                            readable ? "**A**{:color='green'}" : "**D**    ",
		                                            basename(copy)));
		jv_free(dir);
		(void)i;
	}
	text = jv_string_append_str(text, "\n**A**{:color='green'} = Activated, **D** = Deactivated, "
	                                  "**B**{:color='red'} = Blacklisted, **C**{:color='yellow'} = "
	                                  "Needs to be configured\n\n");
	double load[3] = { 0, 0, 0 };
	char l[3][32];
	/* --replay: the machine's load and the commands in flight differ
	 * from run to run; errbot's "Load None" and no commands line */
	if (!d->replay && getloadavg(load, 3) == 3) {
		for (int k = 0; k < 3; k++)
			load_text(l[k], sizeof l[k], load[k]);
		text = jv_string_concat(text, jv_string_fmt("Load %s, %s, %s\n", l[0], l[1], l[2]));
	} else
		text = jv_string_append_str(text, "Load None\n");
	/* errbot's GC line has no meaning here; the commands' state does */
	if (!d->replay)
		text = jv_string_concat(text, jv_string_fmt("Commands %d running, %d waiting\n",
		                                            bot_jobs_running(d->jobs), d->qlen));
	dispatch_reply(d, it, jv_string_value(text));
	jv_free(text);
}

void builtin_run(struct dispatch *d, struct item *it)
{
	if (!strcmp(it->name, "echo")) {
		if (*it->args)   /* errbot: a falsy result sends nothing */
			dispatch_reply(d, it, it->args);
	} else if (!strcmp(it->name, "help"))
		builtin_help(d, it);
	else if (!strcmp(it->name, "apropos"))
		builtin_apropos(d, it);
	else if (!strcmp(it->name, "whoami"))
		builtin_whoami(d, it);
	else if (!strcmp(it->name, "uptime"))
		builtin_uptime(d, it);
	else if (!strcmp(it->name, "status"))
		builtin_status(d, it);
}
