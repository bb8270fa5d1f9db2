/* dispatch.c: bot-dispatch's engine.  Reads events; runs the jq rules on
 * each; finds commands in messages (command.c), checks access (acl.c),
 * keeps history (history.c); answers built-ins (builtin.c) and runs
 * plugins as child processes (jobs.c), also those a pattern, an event or
 * a schedule runs (hooks.c), in their folder's environment (folders.c);
 * writes replies in the order they are ready, or in the order of the
 * commands when --jobs is 1, or, with --replay, in the order of their
 * inputs whatever --jobs says. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bot.h"
#include "dispatch.h"
#include "dispatch_priv.h"
#include "jobs.h"

#define MAX_QUEUE 10000   /* answers waiting for their turn */
/* Read no further ahead than this many commands waiting for a slot, nor
 * than this many bytes of their input lines: the pipe pushes back, and a
 * small process forks fast.  One always may wait, however long its line. */
#define READ_AHEAD(d) ((d)->jobs_max * 8 < 128 ? 128 : (d)->jobs_max * 8)
#define READ_AHEAD_BYTES (64u << 20)
#define MAX_ARGS 65536    /* bytes of argument text; execve takes 128 KiB a string */

/* ---- output ---- */

static void write_event(struct dispatch *d, jv ev)
{
	if (bot_write(d->w, ev) < 0 && d->status != BOT_EX_IOERR) {
		bot_error("stdout: %s", strerror(errno));
		d->status = BOT_EX_IOERR;
	}
}

/* --replay and --done keep a slot per input: to hold its outputs, or to
 * say when its last one is out. */
static int slotted(const struct dispatch *d)
{
	return d->replay || d->done;
}

static struct slot *slot_of(struct dispatch *d, long seq)
{
	return &d->slots[seq % d->slots_cap];
}

/* --replay: an output waits in its input's slot (an event, or a passed
 * line as a string). */
static void hold(struct dispatch *d, jv out)
{
	struct slot *s = slot_of(d, d->cur_seq);
	s->out = jv_array_append(s->out, out);
}

void dispatch_emit(struct dispatch *d, jv ev)
{
	if (d->replay)
		hold(d, ev);
	else
		write_event(d, ev);
}

static void emit_raw(struct dispatch *d, const char *raw, size_t len)
{
	if (d->replay)
		hold(d, jv_string_sized(raw, (int)len));
	else
		bot_write_raw(d->w, raw, len);
}

/* One slot's outputs, in order: written, or kept for --test. */
static void release(struct dispatch *d, struct slot *s)
{
	if (jv_get_kind(d->collect) == JV_KIND_ARRAY) {
		jv outs = jv_array();
		jv_array_foreach(s->out, i, o) {
			int line = jv_get_kind(o) == JV_KIND_STRING;
			outs = jv_array_append(outs, line ? jv_parse(jv_string_value(o)) : jv_copy(o));
			jv_free(o);
			(void)i;
		}
		d->collect = jv_array_append(d->collect, outs);
	} else
		jv_array_foreach(s->out, i, o) {
			if (jv_get_kind(o) == JV_KIND_STRING)
				bot_write_raw(d->w, jv_string_value(o),
				              (size_t)jv_string_length_bytes(jv_copy(o)));
			else
				write_event(d, jv_copy(o));
			jv_free(o);
			(void)i;
		}
	jv_free(s->out);
	s->out = jv_null();
	if (d->done && jv_get_kind(d->collect) != JV_KIND_ARRAY) {
		jv done = jv_object_set(jv_object(), jv_string("type"), jv_string("done"));
		if (jv_get_kind(s->ref) == JV_KIND_STRING)
			done = jv_object_set(done, jv_string("ref"), jv_copy(s->ref));
		write_event(d, done);
	}
	jv_free(s->ref);
	s->ref = jv_null();
}

/* Write what the finished inputs at the head of the ring made. */
static void reorder_flush(struct dispatch *d)
{
	while (slotted(d) && d->seq_out < d->seq_in) {
		struct slot *s = slot_of(d, d->seq_out);
		if (s->open || s->items)
			break;
		release(d, s);
		d->seq_out++;
	}
}

/* The input being read gets its slot (and its time: the event's own "ts",
 * else the time of the input before, else --clock). */
static void input_begin(struct dispatch *d, jv ev)
{
	if (!slotted(d))
		return;
	if (d->replay) {
		jv ts = jv_is_valid(ev) ? bot_get(ev, "ts") : jv_null();
		if (jv_get_kind(ts) == JV_KIND_NUMBER && isfinite(jv_number_value(ts)))
			d->now = jv_number_value(ts);
		jv_free(ts);
		if (d->since < 0)
			d->since = d->now;
	}
	d->cur_seq = d->seq_in++;
	struct slot *s = slot_of(d, d->cur_seq);
	*s = (struct slot){ .out = jv_array(), .open = 1,
	                    .ref = jv_is_valid(ev) ? bot_get(ev, "id") : jv_null() };
}

static void input_end(struct dispatch *d)
{
	if (!slotted(d))
		return;
	slot_of(d, d->cur_seq)->open = 0;
	reorder_flush(d);
}

/* Replies are numbered: the first keeps the id build_reply gives it,
 * derived from the input's; later ones to the same input add ".N". */
static jv number_reply(struct item *it, jv ev)
{
	if (++it->replies < 2)
		return ev;
	const char *id = bot_str(ev, "id");
	if (!id)
		return ev;
	jv nid = jv_string_fmt("%s.%d", id, it->replies);
	return jv_object_set(ev, jv_string("id"), nid);
}

void dispatch_reply(struct dispatch *d, struct item *it, const char *body)
{
	dispatch_emit(d, number_reply(it, bot_build_reply(jv_copy(it->msg), body, it->private_,
	                                                  it->threaded, d->mention)));
}

/* errbot's send_simple_reply: never diverted. */
static jv simple_reply(struct dispatch *d, jv msg, const char *body)
{
	return bot_build_reply(msg, body, 0, 0, d->mention);
}

/* Look-only: a message to a room (errbot's is_group). */
static int is_group(jv msg)
{
	if (bot_true(msg, "is_group"))
		return 1;   /* the usual answer: then to's kind is not looked at */
	jv to = bot_get(msg, "to");
	const char *kind = bot_ident_kind(to);
	int group = kind && !strcmp(kind, "room");
	jv_free(to);
	return group;
}

static int in_names(jv list, const char *name)
{
	int hit = 0;
	jv_array_foreach(list, i, s) {
		if (jv_get_kind(s) == JV_KIND_STRING && !strcmp(jv_string_value(s), name))
			hit = 1;
		jv_free(s);
		(void)i;
	}
	return hit;
}

/* ---- plugins ---- */

/* The plugin file name in folder i: 1 found (path and plugin filled), 0
 * none, -1 there but refused (others may write it: why filled). */
static int find_in(const struct dispatch *d, int i, const char *name, char *path, size_t n,
                   char *plugin, size_t pn, char *why, size_t wn)
{
	char cand[PATH_MAX], real[PATH_MAX];
	struct stat st;
	jv dir = jv_array_get(jv_copy(d->dirs), i);
	const char *ds = jv_string_value(dir);
	size_t dl = strlen(ds);
	int found = 0;
	/* a symlink may point elsewhere inside the folder, never out;
	 * access() first: realpath costs a readlink per component */
	if (snprintf(cand, sizeof cand, "%s/%s", ds, name) < (int)sizeof cand &&
	    !access(cand, X_OK) && realpath(cand, real) && !strncmp(real, ds, dl) && real[dl] == '/' &&
	    !stat(real, &st) && S_ISREG(st.st_mode) && !access(real, X_OK)) {
		jv ok = jv_array_get(jv_copy(d->dirs_ok), i);
		found = jv_get_kind(ok) == JV_KIND_FALSE ? -1 : 1;
		jv_free(ok);
		if (found < 0)
			snprintf(why, wn, "%s: its folder is refused", cand);
		else if (bot_plugin_file_unsafe(real, why, wn))
			found = -1;
	}
	if (found > 0 && path)
		snprintf(path, n, "%s", real);
	if (found > 0 && plugin) {
		char copy[PATH_MAX];
		snprintf(copy, sizeof copy, "%s", ds);
		snprintf(plugin, pn, "%s", basename(copy));
	}
	jv_free(dir);
	return found;
}

/* As dispatch_find_plugin; -1 when the first folder that has the name
 * refuses it (why filled). */
static int find_plugin(const struct dispatch *d, const char *name, char *path, size_t n,
                       char *plugin, size_t pn, char *why, size_t wn)
{
	if (!bot_cmd_name_safe(name))
		return 0;
	int count = jv_array_length(jv_copy(d->dirs));
	for (int i = 0; i < count; i++) {
		int found = find_in(d, i, name, path, n, plugin, pn, why, wn);
		if (found)
			return found;
	}
	return 0;
}

int dispatch_find_plugin(const struct dispatch *d, const char *name, char *path, size_t n,
                         char *plugin, size_t pn)
{
	char why[PATH_MAX + 200];
	return find_plugin(d, name, path, n, plugin, pn, why, sizeof why) > 0;
}

/* Log what is wrong with a file or folder (why names it), once. */
void dispatch_tell_once(struct dispatch *d, const char *why, int error)
{
	if (jv_object_has(jv_copy(d->told), jv_string(why)))
		return;
	if (error)
		bot_error("%s", why);
	else
		bot_warn("%s", why);
	d->told = jv_object_set(d->told, jv_string(why), jv_true());
}

/* A plugin that runs by a pattern, an event or a schedule is no command
 * (as errbot's re_botcmd, callbacks and pollers are not). */
static int is_hook(const struct dispatch *d, const char *name)
{
	for (int i = 0; i < d->hooks.n; i++)
		if (!strcmp(d->hooks.h[i].name, name))
			return 1;
	return 0;
}

static int command_exists(void *ctx, const char *name)
{
	struct dispatch *d = ctx;
	char why[PATH_MAX + 200];
	if (builtin_known(name))
		return 1;
	if (is_hook(d, name))
		return 0;
	int found = find_plugin(d, name, NULL, 0, NULL, 0, why, sizeof why);
	if (found < 0)
		dispatch_tell_once(d, why, 1);
	return found > 0;
}

#define NAMES_TTL_MS 5000

/* The folders' modification and change times as text: what says the
 * listing (or a folder's owner or mode) may have changed. */
static char *dirs_key(const struct dispatch *d)
{
	jv key = jv_string("");
	jv_array_foreach(d->dirs, i, dir) {
		struct stat st;
		if (stat(jv_string_value(dir), &st) == 0)
			key = jv_string_concat(key, jv_string_fmt("%lld.%ld.%lld.%ld/",
			                                          (long long)st.st_mtim.tv_sec,
			                                          st.st_mtim.tv_nsec,
			                                          (long long)st.st_ctim.tv_sec,
			                                          st.st_ctim.tv_nsec));
		jv_free(dir);
		(void)i;
	}
	char *k = strdup(jv_string_value(key));
	jv_free(key);
	return k;
}

static jv scan_names(const struct dispatch *d)
{
	jv names = jv_array();
	for (const char *const *b = builtin_names; *b; b++)
		names = jv_array_append(names, jv_string(*b));
	jv_array_foreach(d->dirs, i, dir) {
		DIR *dd = opendir(jv_string_value(dir));
		for (struct dirent *e; dd && (e = readdir(dd));)
			if (!is_hook(d, e->d_name) && dispatch_find_plugin(d, e->d_name, NULL, 0, NULL, 0) &&
			    !in_names(names, e->d_name))
				names = jv_array_append(names, jv_string(e->d_name));
		if (dd)
			closedir(dd);
		jv_free(dir);
		(void)i;
	}
	return names;
}

jv dispatch_all_names(struct dispatch *d)
{
	/* a flood of unknown commands must not rescan big folders each time */
	char *key = dirs_key(d);
	long long now = bot_now_ms();
	if (jv_get_kind(d->names) != JV_KIND_ARRAY || !d->names_key ||
	    strcmp(key, d->names_key) || now - d->names_at > NAMES_TTL_MS) {
		jv_free(d->names);
		d->names = scan_names(d);
		d->names_at = now;
		free(d->names_key);
		d->names_key = key;
	} else
		free(key);
	return jv_copy(d->names);
}

/* Check a plugin folder and what is in it: 1 when it is safe; logs (once) a
 * folder or file that others may write, and a file that cannot run. */
static int check_folder(struct dispatch *d, const char *dir)
{
	char why[PATH_MAX + 200];
	if (bot_plugin_dir_unsafe(dir, why, sizeof why)) {
		dispatch_tell_once(d, why, 1);
		return 0;
	}
	DIR *dd = opendir(dir);
	for (struct dirent *e; dd && (e = readdir(dd));) {
		char path[PATH_MAX], real[PATH_MAX];
		if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path)
			continue;
		if (bot_plugin_unrunnable(dir, e->d_name, why, sizeof why))
			dispatch_tell_once(d, why, 0);
		else if (bot_cmd_name_safe(e->d_name) && realpath(path, real) &&
		         !strncmp(real, dir, strlen(dir)) && real[strlen(dir)] == '/' &&
		         bot_plugin_file_unsafe(real, why, sizeof why))
			dispatch_tell_once(d, why, 1);
	}
	if (dd)
		closedir(dd);
	return 1;
}

/* At start, and (at most once a second) when a folder changed: check
 * them again. */
static void check_folders(struct dispatch *d, int now_anyway)
{
	long long now = bot_now_ms();
	if (!now_anyway && now - d->checked_at < 1000)
		return;
	d->checked_at = now;
	char *key = dirs_key(d);
	if (!now_anyway && d->checked_key && !strcmp(key, d->checked_key)) {
		free(key);
		return;
	}
	free(d->checked_key);
	d->checked_key = key;
	jv ok = jv_array();
	jv_array_foreach(d->dirs, i, dir) {
		ok = jv_array_append(ok, jv_bool(check_folder(d, jv_string_value(dir))));
		jv_free(dir);
		(void)i;
	}
	jv_free(d->dirs_ok);
	d->dirs_ok = ok;
	hooks_scan(d);
}

/* Which runs: a plugin, unless a built-in has the name and --override is
 * off.  Fills it->kind, path, plugin. */
static int resolve(const struct dispatch *d, struct item *it)
{
	char path[PATH_MAX];
	int plugin = dispatch_find_plugin(d, it->name, path, sizeof path, it->plugin,
	                                  sizeof it->plugin);
	free(it->path);
	it->path = NULL;
	if (builtin_known(it->name) && !(plugin && d->override)) {
		it->kind = ITEM_BUILTIN;
		snprintf(it->plugin, sizeof it->plugin, "builtin");
		return 1;
	}
	it->kind = ITEM_PLUGIN;
	if (plugin)
		it->path = strdup(path);
	return plugin;
}

static int admin_only(const struct item *it)
{
	if (it->kind != ITEM_PLUGIN || !it->path)
		return 0;
	struct bot_help h;
	bot_help_read(it->path, &h);
	int a = h.admin_only;
	bot_help_clear(&h);
	return a;
}

const char *dispatch_may_run(const struct dispatch *d, jv msg, const char *name)
{
	struct item it = { .msg = msg };
	snprintf(it.name, sizeof it.name, "%s", name);
	const char *why = resolve(d, &it) ? bot_acl_check(d->acl, msg, it.plugin, it.name, "",
	                                                  admin_only(&it))
	                                  : "not found";
	free(it.path);
	return why;
}

const char *dispatch_acl(const struct dispatch *d, jv msg, const struct item *it,
                         int admin_only)
{
	return bot_acl_check(d->acl, msg, it->plugin, it->name, it->args ? it->args : "",
	                     admin_only);
}

/* ---- the queue ---- */

/* An item is done: its slot may be complete (--replay). */
void dispatch_item_free(struct dispatch *d, struct item *it)
{
	if (!it)
		return;
	if (it->in_slot && slotted(d) && d->slots) {
		slot_of(d, it->seq)->items--;
		reorder_flush(d);
	}
	jv_free(it->msg);
	jv_free(it->events);
	jv_free(it->words);
	jv_free(it->vars);
	free(it->path);
	free(it->args);
	free(it->to);
	free(it->argspec);
	free(it);
}

struct item *dispatch_item_new(struct dispatch *d, enum item_kind kind, jv msg)
{
	struct item *it = calloc(1, sizeof *it);
	if (!it)
		abort();
	it->kind = kind;
	it->msg = msg;
	it->events = jv_array();
	it->words = jv_null();
	it->vars = jv_null();
	it->seq = d->cur_seq;
	it->now = d->now;
	/* an input's items count in its slot; a poller's run, made between
	 * inputs, belongs to none */
	if (slotted(d) && it->seq >= d->seq_out && it->seq < d->seq_in && slot_of(d, it->seq)->open) {
		slot_of(d, it->seq)->items++;
		it->in_slot = 1;
	}
	return it;
}

void dispatch_enqueue(struct dispatch *d, struct item *it)
{
	if (d->qlen >= MAX_QUEUE) {
		bot_error("%s: too many commands waiting; refused", it->name);
		if (it->origin == ORIGIN_POLLER)
			hooks_poller_done(d, it->name);   /* it runs again at its next time */
		else
			dispatch_reply(d, it, BOT_MSG_ERROR_OCCURRED);
		dispatch_emit(d, bot_error_event("busy", "too many commands waiting", jv_copy(it->msg)));
		dispatch_item_free(d, it);
		return;
	}
	it->bytes = d->line_bytes;
	d->queued_bytes += it->bytes;
	d->queue[(d->qhead + d->qlen++) % MAX_QUEUE] = it;
}

static void dequeued(struct dispatch *d, struct item *it)
{
	d->queued_bytes -= it->bytes;
	it->bytes = 0;
}

static int may_read_ahead(const struct dispatch *d)
{
	if (slotted(d) && d->seq_in - d->seq_out >= d->slots_cap)
		return 0;   /* the reorder buffer is full: the first unfinished input holds it */
	return d->qlen < READ_AHEAD(d) && (!d->qlen || d->queued_bytes < READ_AHEAD_BYTES);
}

static void queue_events(struct dispatch *d, jv msg, jv events)
{
	struct item *it = dispatch_item_new(d, ITEM_EVENTS, msg);
	jv_free(it->events);
	it->events = events;
	dispatch_enqueue(d, it);
}

/* ---- running plugins ---- */

void dispatch_push_env(char **env, int *n, const char *name, const char *value)
{
	if (!value || *n >= BOT_PLUGIN_ENV_MAX - 1)
		return;
	if (asprintf(&env[*n], "%s=%s", name, value) >= 0)
		(*n)++;
}

/* Whether what a run writes answers someone: a command, a pattern, a
 * callback of a message.  A poller's, or a presence callback's, goes to
 * its "# to:" or nowhere. */
static int answers_chat(const struct item *it)
{
	if (it->origin == ORIGIN_POLLER)
		return 0;
	const char *type = bot_str(it->msg, "type");
	return it->origin != ORIGIN_CALLBACK || (type && !strcmp(type, "message"));
}

/* A clean environment: PATH, HOME, LANG, the XDG folders, what --env
 * lets through, and the BOT_* of the contract.  None of these names is a setting of a
 * botpipe program (BOT_TO would be bot-send's and bot-card's --to, and a
 * plugin's bot-send would send to the bot itself): BOT_REPLY_TO is where
 * the reply goes, which a one-shot bot-send takes as its destination. */
static void build_env(struct dispatch *d, struct item *it, char **env)
{
	int n = 0;
	const char *path = getenv("PATH");
	dispatch_push_env(env, &n, "PATH", path ? path : "/usr/local/bin:/usr/bin:/bin");
	dispatch_push_env(env, &n, "HOME", getenv("HOME"));
	dispatch_push_env(env, &n, "LANG", getenv("LANG"));
	/* a bot-send or bot-room in a plugin reads the bot's config and finds
	 * its session, as the bot's own programs do */
	static const char *const xdg[] = {"XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR"};
	for (size_t i = 0; i < sizeof xdg / sizeof *xdg; i++)
		dispatch_push_env(env, &n, xdg[i], getenv(xdg[i]));
	jv_array_foreach(d->env_pass, i, name) {
		const char *s = jv_string_value(name);
		if (strncmp(s, "BOT_", 4))
			dispatch_push_env(env, &n, s, getenv(s));
		jv_free(name);
		(void)i;
	}
	jv from = bot_get(it->msg, "from"), to = bot_get(it->msg, "to");
	int group = is_group(it->msg);
	dispatch_push_env(env, &n, "BOT_COMMAND", it->name);
	dispatch_push_env(env, &n, "BOT_ARGS", it->args);
	dispatch_push_env(env, &n, "BOT_FROM", bot_ident_id(from));
	dispatch_push_env(env, &n, "BOT_FROM_NICK", bot_str(from, "nick"));
	dispatch_push_env(env, &n, "BOT_ROOM", group ? bot_ident_id(to) : bot_ident_room(from));
	jv reply = jv_null(), reply_to = jv_null();
	if (it->to)
		dispatch_push_env(env, &n, "BOT_REPLY_TO", it->to);
	else if (answers_chat(it)) {
		reply = bot_build_reply(jv_copy(it->msg), "", it->private_, it->threaded, 0);
		reply_to = bot_get(reply, "to");
		dispatch_push_env(env, &n, "BOT_REPLY_TO", bot_ident_id(reply_to));
	}
	int folder = it->path ? dispatch_folder_of(d, it->path) : -1;
	if (folder >= 0) {
		dispatch_push_env(env, &n, "BOT_STATE_DIR", dispatch_state_dir(d, folder));
		dispatch_push_config(d, folder, env, &n);
	}
	if (jv_get_kind(it->vars) == JV_KIND_OBJECT) {
		jv_object_foreach(it->vars, name, value) {
			dispatch_push_env(env, &n, jv_string_value(name), jv_string_value(value));
			jv_free(name);
			jv_free(value);
		}
	}
	dispatch_push_env(env, &n, "BOT_MESSAGE_BACKEND", bot_str(it->msg, "backend"));
	dispatch_push_env(env, &n, "BOT_MESSAGE_ID", bot_str(it->msg, "id"));
	dispatch_push_env(env, &n, "BOT_IS_DIRECT", group ? "0" : "1");
	dispatch_push_env(env, &n, "BOT_COMMAND_PREFIX", d->prefix);
	dispatch_push_env(env, &n, "BOT_EVENTS_FD", "3");
	if (d->replay) {
		/* the recorded time, for a plugin that would read the clock */
		jv now = jv_dump_string(jv_number(it->now), 0);
		dispatch_push_env(env, &n, "BOT_NOW", jv_string_value(now));
		jv_free(now);
	}
	env[n] = NULL;
	jv_free(reply_to);
	jv_free(reply);
	jv_free(from);
	jv_free(to);
}

/* The argument words: a pattern's captures, else the argument text
 * split (argv.c); an invalid when it does not split. */
static jv arg_words(struct item *it)
{
	if (jv_get_kind(it->words) == JV_KIND_ARRAY)
		return jv_copy(it->words);
	size_t len = strlen(it->args);
	if (len > MAX_ARGS)
		return bot_fail("Too long: %zu bytes, at most %d.", len, MAX_ARGS);
	return bot_split_args(it->args, len);
}

/* A command with an "# args:" header: words checked against it.  The
 * parsed values as words (and it->vars), or an invalid: the header is
 * wrong (code bad_header), or the words do not fit it. */
static jv parsed_words(struct item *it, jv words)
{
	if (it->origin != ORIGIN_COMMAND || !it->argspec)
		return words;
	jv r = bot_args_parse(it->argspec, words);
	if (!jv_is_valid(r))
		return r;
	jv vars = jv_object_get(jv_copy(r), jv_string("vars"));
	it->vars = jv_get_kind(it->vars) == JV_KIND_OBJECT ? jv_object_merge(it->vars, vars) : vars;
	return jv_object_get(r, jv_string("argv"));
}

/* errbot's arg_botcmd answer: what is wrong, then the usage line. */
static void bad_arguments(struct dispatch *d, struct item *it, jv err, const char *spec)
{
	char why[600];
	bot_fail_message(err, why, sizeof why);
	jv name = jv_string(it->name);
	char *spaced = strdup(jv_string_value(name));
	for (char *p = spaced; *p; p++)
		if (*p == '_')
			*p = ' ';
	jv first = jv_string_fmt("I couldn't parse the arguments; %s", why);
	jv usage = jv_string_fmt("usage: %s %s", spaced, spec);
	dispatch_reply(d, it, jv_string_value(first));
	dispatch_reply(d, it, jv_string_value(usage));
	dispatch_emit(d, bot_error_event("bad_arguments", why, jv_copy(it->msg)));
	jv_free(first);
	jv_free(usage);
	jv_free(name);
	free(spaced);
}

/* argv: the plugin, then the words. */
static char **build_argv(struct item *it, jv words)
{
	int n = jv_array_length(jv_copy(words));
	char **argv = calloc((size_t)n + 2, sizeof *argv);
	if (!argv)
		abort();
	argv[0] = strdup(it->path);
	jv_array_foreach(words, i, w) {
		argv[i + 1] = strdup(jv_string_value(w));
		jv_free(w);
	}
	jv_free(words);
	return argv;
}

static void free_strv(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

/* Failures of one event (a command that failed, a refusal, a rule's
 * error) are reported as error events on stdout, for whoever reads the
 * stream; stderr has them only with -v, so that a normal session of a
 * supervised bot leaves its log quiet. */
static void fail_command(struct dispatch *d, struct item *it, const char *why)
{
	bot_debug("%s", why);
	char body[1200];
	snprintf(body, sizeof body, "%s:\n%s", BOT_MSG_ERROR_OCCURRED, why);
	dispatch_reply(d, it, body);
	dispatch_emit(d, bot_error_event("command_failed", why, jv_copy(it->msg)));
}

/* A run that failed: a command's asker is answered; a poller's or a
 * callback's failure is logged (it runs again at its next time or event). */
static void run_failed(struct dispatch *d, struct item *it, const char *why)
{
	if (it->origin == ORIGIN_POLLER || it->origin == ORIGIN_CALLBACK) {
		bot_error("%s%s", why, it->origin == ORIGIN_POLLER ? " (it runs again at its next time)"
		                                                   : "");
		dispatch_emit(d, bot_error_event("command_failed", why, jv_copy(it->msg)));
	} else
		fail_command(d, it, why);
}

static void start_plugin(struct dispatch *d, struct item *it)
{
	d->cur_seq = it->seq;
	jv err = jv_invalid();
	jv words = arg_words(it);
	if (!jv_is_valid(words)) {
		/* errbot: "Sorry, I couldn't parse your arguments. {e}" */
		char why[300], body[400];
		bot_fail_message(words, why, sizeof why);
		jv_free(words);
		snprintf(body, sizeof body, "Sorry, I couldn't parse your arguments. %s", why);
		dispatch_reply(d, it, body);
		dispatch_emit(d, bot_error_event("bad_arguments", why, jv_copy(it->msg)));
		jv_free(err);
		dispatch_item_free(d, it);
		return;
	}
	words = parsed_words(it, words);
	if (!jv_is_valid(words)) {
		char code[32], why[600], msg[500];
		if (!strcmp(bot_fail_code_of(words, code, sizeof code), "bad_header")) {
			snprintf(why, sizeof why, "%s: %s", it->name, bot_fail_message(words, msg, sizeof msg));
			run_failed(d, it, why);
		} else
			bad_arguments(d, it, words, it->argspec);
		jv_free(words);
		jv_free(err);
		dispatch_item_free(d, it);
		return;
	}
	char **argv = build_argv(it, words);
	char *env[BOT_PLUGIN_ENV_MAX];
	build_env(d, it, env);
	jv line = jv_dump_string(jv_copy(it->msg), 0);
	line = jv_string_append_str(line, "\n");
	if (bot_jobs_start(d->jobs, it->path, argv, env, jv_string_value(line),
	                   (size_t)jv_string_length_bytes(jv_copy(line)), it, &err) < 0) {
		char why[512];
		bot_fail_message(err, why, sizeof why);
		jv_free(err);
		run_failed(d, it, why);
		if (it->origin == ORIGIN_POLLER)
			hooks_poller_done(d, it->name);
		dispatch_item_free(d, it);
	}
	jv_free(line);
	free_strv(argv);
	for (char **e = env; *e; e++)
		free(*e);
}

/* Event types only botpipe's programs make: from a plugin, an error
 * event would forge a refusal (denied) or a failure, sent a delivery,
 * connection a change of link.  A plugin says it failed by its exit
 * status. */
static int program_only(const char *type)
{
	static const char *const types[] = { "error", "sent", "connection", NULL };
	for (const char *const *t = types; *t; t++)
		if (!strcmp(type, *t))
			return 1;
	return 0;
}

/* A message or card without a "to" is a reply: it gets what build_reply
 * gives the stdout reply (to, mention, in_reply_to, thread, divert) for
 * each field it does not set itself. */
static jv aim_like_reply(struct dispatch *d, struct item *it, jv ev)
{
	jv r = number_reply(it, bot_build_reply(jv_copy(it->msg), "", it->private_, it->threaded,
	                                        d->mention));
	jv_object_foreach(r, key, value) {
		const char *k = jv_string_value(key);
		jv have = strcmp(k, "type") && strcmp(k, "body") ? bot_get(ev, k) : jv_true();
		if (jv_get_kind(have) == JV_KIND_NULL)
			ev = jv_object_set(ev, key, value);
		else {
			jv_free(key);
			jv_free(value);
		}
		jv_free(have);
	}
	jv_free(r);
	return ev;
}

/* What a command makes goes to the network it was asked on: an event
 * that names no backend instance gets the asker's (bot-send given
 * several delivers by it). */
static jv on_askers_network(struct item *it, jv ev)
{
	const char *asked_on = jv_is_valid(it->msg) ? bot_str(it->msg, "backend") : NULL;
	if (asked_on && !bot_str(ev, "backend"))
		ev = jv_object_set(ev, jv_string("backend"), jv_string(asked_on));
	return ev;
}

/* Forward an event from a command's fd 3, marked with the command that
 * made it, within --max-events. */
static void forward_job_event(struct dispatch *d, struct item *it, jv ev)
{
	if (d->max_events >= 0 && it->fd3_events >= d->max_events) {
		it->fd3_dropped++;
		jv_free(ev);
		return;
	}
	it->fd3_events++;
	ev = on_askers_network(it, ev);
	dispatch_emit(d, jv_object_set(ev, jv_string("plugin"), jv_string(it->name)));
}

/* Output of a run that answers no one and has no "# to:". */
static void nowhere(struct dispatch *d, struct item *it)
{
	char why[BOT_CMD_NAME_MAX + 100];
	snprintf(why, sizeof why, "%s: output with nowhere to go (no \"# to:\" header): dropped",
	         it->name);
	dispatch_tell_once(d, why, 0);
}

/* What a run wrote on stdout: a reply, or a message to its "# to:". */
static void deliver(struct dispatch *d, struct item *it, const char *body)
{
	if (it->to)
		dispatch_emit(d, jv_object_set(on_askers_network(it, bot_message(jv_null(), jv_string(it->to), body)),
		                               jv_string("plugin"), jv_string(it->name)));
	else if (answers_chat(it))
		dispatch_reply(d, it, body);
	else
		nowhere(d, it);
}

/* An event the command wrote on fd 3. */
static void on_job_event(void *ctx, void *tag, jv ev)
{
	struct dispatch *d = ctx;
	struct item *it = tag;
	d->cur_seq = it->seq;
	const char *type = bot_str(ev, "type");
	if (program_only(type)) {
		bot_error("%s: fd 3: a \"%s\" event is bot-dispatch's or bot-send's to make; dropped",
		          it->name, type);
		jv_free(ev);
		return;
	}
	jv to = bot_get(ev, "to");
	int aimless = (!strcmp(type, "message") || !strcmp(type, "card")) &&
	              jv_get_kind(to) == JV_KIND_NULL;
	jv_free(to);
	if (aimless && it->to)
		ev = jv_object_set(ev, jv_string("to"), jv_string(it->to));
	else if (aimless && answers_chat(it))
		ev = aim_like_reply(d, it, ev);
	else if (aimless) {
		nowhere(d, it);
		jv_free(ev);
		return;
	}
	forward_job_event(d, it, ev);
}

/* A line on fd 3 that is no event: the reader's bad_input error event,
 * which is ours to make. */
static void on_job_bad_event(void *ctx, void *tag, jv ev)
{
	struct dispatch *d = ctx;
	struct item *it = tag;
	d->cur_seq = it->seq;
	forward_job_event(d, it, ev);
}

static void on_job_done(void *ctx, void *tag, const struct bot_job_result *r)
{
	struct dispatch *d = ctx;
	struct item *it = tag;
	d->cur_seq = it->seq;
	char why[600];
	if (r->timed_out)
		snprintf(why, sizeof why, "%s: timed out", it->name);
	else if (r->status > 128)
		snprintf(why, sizeof why, "%s: killed by signal %d", it->name, r->status - 128);
	else if (r->status)
		snprintf(why, sizeof why, "%s: exited with status %d", it->name, r->status);
	if (it->fd3_dropped)
		bot_error("%s: %ld events on fd 3 past --max-events %ld dropped", it->name,
		          it->fd3_dropped, d->max_events);
	if (it->origin == ORIGIN_POLLER)
		hooks_poller_done(d, it->name);
	if (r->timed_out || r->status)
		run_failed(d, it, why);
	else {
		size_t len = r->len;
		while (len && (r->out[len - 1] == '\n' || r->out[len - 1] == '\r'))
			len--;
		if (r->truncated)
			bot_warn("%s: output over %zu bytes, cut", it->name, r->len);
		if (len) {
			jv body = jv_string_sized(r->out, (int)len);
			deliver(d, it, jv_string_value(body));
			jv_free(body);
		}
	}
	dispatch_item_free(d, it);
}

/* bot-dispatch stops while the command runs: it was killed. */
static void on_job_dropped(void *ctx, void *tag)
{
	struct item *it = tag;
	if (it->origin == ORIGIN_POLLER)
		hooks_poller_done(ctx, it->name);
	dispatch_item_free(ctx, tag);
}

/* A built-in or a ready answer: no slot needed. */
static void answer_now(struct dispatch *d, struct item *it)
{
	d->cur_seq = it->seq;
	if (it->kind == ITEM_BUILTIN)
		builtin_run(d, it);
	else
		jv_array_foreach(it->events, i, ev) {
			dispatch_emit(d, ev);
			(void)i;
		}
	dispatch_item_free(d, it);
}

/* Answer what waits, in order.  A built-in or a ready answer needs no
 * slot: with --jobs 1 it still waits for the command before it (the
 * answers keep the commands' order); with more slots it does not wait
 * behind commands that wait for one. */
static void run_queue(struct dispatch *d)
{
	while (d->qlen) {
		struct item *it = d->queue[d->qhead];
		if (it->kind == ITEM_PLUGIN ? bot_jobs_full(d->jobs)
		                            : d->jobs_max == 1 && bot_jobs_running(d->jobs))
			break;
		d->qhead = (d->qhead + 1) % MAX_QUEUE;
		d->qlen--;
		dequeued(d, it);
		if (it->kind == ITEM_PLUGIN)
			start_plugin(d, it);
		else
			answer_now(d, it);
	}
	/* callbacks take the slots that commands leave */
	while (d->cblen && (!d->qlen || d->queue[d->qhead]->kind != ITEM_PLUGIN) &&
	       !bot_jobs_full(d->jobs)) {
		struct item *it = d->cbq[d->cbhead];
		d->cbhead = (d->cbhead + 1) % d->cb_max;
		d->cblen--;
		start_plugin(d, it);
	}
	if (d->jobs_max == 1)
		return;
	int kept = 0, n = d->qlen;
	for (int i = 0; i < n; i++) {
		struct item *it = d->queue[(d->qhead + i) % MAX_QUEUE];
		if (it->kind == ITEM_PLUGIN)
			d->queue[(d->qhead + kept++) % MAX_QUEUE] = it;
		else {
			dequeued(d, it);
			answer_now(d, it);
		}
	}
	d->qlen = kept;
}

/* ---- commands ---- */

static void not_found(struct dispatch *d, jv msg, const char *word, const char *next)
{
	if (d->suppress_not_found) {
		jv_free(msg);
		return;
	}
	jv names = dispatch_all_names(d);
	jv text = bot_cmd_not_found(d->prefix, word, next, names);
	jv_free(names);
	jv r = simple_reply(d, jv_copy(msg), jv_string_value(text));
	jv_free(text);
	queue_events(d, msg, JV_ARRAY(r));
}

/* errbot's _process_command: access first, then history, then run. */
static void command(struct dispatch *d, jv msg, const char *name, const char *args)
{
	struct item *it = dispatch_item_new(d, ITEM_PLUGIN, msg);
	snprintf(it->name, sizeof it->name, "%s", name);
	it->args = strdup(args ? args : "");
	if (!resolve(d, it)) {
		/* gone since it was recalled from history */
		not_found(d, jv_copy(msg), name, NULL);
		dispatch_item_free(d, it);
		return;
	}
	/* the header, read once: admin-only for the ACL, args for the run */
	struct bot_help h = { 0 };
	if (it->kind == ITEM_PLUGIN)
		bot_help_read(it->path, &h);
	if (h.args)
		it->argspec = strdup(h.args);
	const char *why = bot_acl_check(d->acl, msg, it->plugin, it->name, it->args, h.admin_only);
	bot_help_clear(&h);
	if (why) {
		jv from = bot_get(msg, "from");
		bot_debug("%s: denied to %s: %s", it->name, bot_ident_id(from) ? bot_ident_id(from) : "?",
		         why);
		jv_free(from);
		jv events = jv_array();
		if (!d->hide_access)
			events = jv_array_append(events, simple_reply(d, jv_copy(msg), why));
		events = jv_array_append(events, bot_error_event("denied", why, jv_copy(msg)));
		queue_events(d, jv_copy(msg), events);
		dispatch_item_free(d, it);
		return;
	}
	if (strlen(it->args) > MAX_ARGS) {
		/* refused before the history keeps a copy (errbot would keep it) */
		char why[100], body[200];
		snprintf(why, sizeof why, "Too long: %zu bytes, at most %d.", strlen(it->args), MAX_ARGS);
		snprintf(body, sizeof body, "Sorry, I couldn't parse your arguments. %s", why);
		jv events = JV_ARRAY(simple_reply(d, jv_copy(msg), body),
		                     bot_error_event("bad_arguments", why, jv_copy(msg)));
		queue_events(d, jv_copy(msg), events);
		dispatch_item_free(d, it);
		return;
	}
	int is_history = it->kind == ITEM_BUILTIN && !strcmp(it->name, "history");
	if (!is_history) {
		char key[BOT_HISTORY_KEY_MAX];
		jv from = bot_get(msg, "from");
		bot_history_add(d->history, bot_history_key(from, key, sizeof key), it->name, it->args);
		jv_free(from);
	}
	it->private_ = in_names(d->divert_private, it->name);
	it->threaded = in_names(d->divert_thread, it->name);
	if (is_history)
		builtin_history_now(d, it);
	dispatch_enqueue(d, it);
}

static void recall(struct dispatch *d, jv msg, long n)
{
	char key[BOT_HISTORY_KEY_MAX];
	jv from = bot_get(msg, "from");
	const char *name, *args;
	if (bot_history_get(d->history, bot_history_key(from, key, sizeof key), n, &name, &args)) {
		char *nm = strdup(name), *ar = strdup(args);
		command(d, msg, nm, ar);
		free(nm);
		free(ar);
	} else
		jv_free(msg);   /* nothing to recall: silence, as errbot */
	jv_free(from);
}

/* ---- rules ---- */

struct rule_ctx {
	struct dispatch *d;
	jv input;
};

static void on_rule_output(void *ctx, jv out)
{
	struct rule_ctx *rc = ctx;
	if (!bot_str(out, "type")) {
		jv s = jv_dump_string(out, 0);
		char line[200];
		bot_error("%s:%ld: a rule's output is not an event (an object with a \"type\"): %s",
		          bot_reader_name(rc->d->r), bot_reader_lineno(rc->d->r),
		          bot_oneline(line, sizeof line, jv_string_value(s), strlen(jv_string_value(s))));
		jv_free(s);
		return;
	}
	dispatch_emit(rc->d, out);
}

static void on_rule_error(void *ctx, const char *rule, jv msg)
{
	struct rule_ctx *rc = ctx;
	jv text = jv_get_kind(msg) == JV_KIND_STRING ? msg : jv_dump_string(msg, 0);
	char line[600];
	bot_oneline(line, sizeof line, jv_string_value(text), strlen(jv_string_value(text)));
	bot_debug("%s:%ld: rule %s: %s", bot_reader_name(rc->d->r), bot_reader_lineno(rc->d->r),
	          rule, line);
	char why[700];
	snprintf(why, sizeof why, "rule %s: %s", rule, line);
	dispatch_emit(rc->d, bot_error_event("rule_failed", why, jv_copy(rc->input)));
	jv_free(text);
}

/* Every rule on ev; an addressed message carries .command for bot.jq. */
static int run_rules(struct dispatch *d, jv ev, const struct bot_cmd *c)
{
	if (!bot_rules_count(d->rules))
		return 0;
	jv input = jv_copy(ev);
	if (c->kind != BOT_CMD_NONE) {
		jv cmd = JV_OBJECT(jv_string("text"), jv_string(c->text ? c->text : ""));
		if (c->kind == BOT_CMD_FOUND)
			cmd = jv_object_set(jv_object_set(cmd, jv_string("name"), jv_string(c->name)),
			                    jv_string("args"), jv_string(c->args));
		input = jv_object_set(input, jv_string("command"), cmd);
	}
	struct rule_ctx rc = { d, ev };
	int n = bot_rules_run(d->rules, input, on_rule_output, on_rule_error, &rc);
	jv_free(input);
	return n;
}

/* ---- events ---- */

static void handle_event(struct dispatch *d, jv ev)
{
	size_t rawlen;
	const char *raw = bot_reader_raw(d->r, &rawlen);
	d->line_bytes = rawlen;
	const char *type = bot_str(ev, "type");
	const char *body = bot_str(ev, "body");
	struct bot_cmd c = { .kind = BOT_CMD_NONE };
	int chat = !strcmp(type, "message") && body && !bot_true(ev, "delayed");
	check_folders(d, 0);
	if (chat)
		bot_cmd_parse(&d->cmdopts, body, !is_group(ev), &c);
	int outputs = run_rules(d, ev, &c);
	hooks_callbacks(d, ev);
	/* errbot's step 7: patterns where no command is */
	if (chat && (c.kind == BOT_CMD_NONE || c.kind == BOT_CMD_NOT_FOUND))
		outputs += hooks_match(d, ev, &c);
	int consumed = outputs > 0;
	switch (c.kind) {
	case BOT_CMD_NONE:
		jv_free(ev);
		break;
	case BOT_CMD_FOUND:
		command(d, ev, c.name, c.args);
		consumed = 1;
		break;
	case BOT_CMD_RECALL:
		recall(d, ev, c.recall);
		consumed = 1;
		break;
	case BOT_CMD_NOT_FOUND:
		/* a rule or a pattern that answered took the message, as errbot's
		 * regex commands */
		if (!outputs)
			not_found(d, ev, c.word, c.next);
		else
			jv_free(ev);
		consumed = 1;
		break;
	}
	bot_cmd_clear(&c);
	if (!consumed && d->pass)
		emit_raw(d, raw, rawlen);
}

/* ---- set-up ---- */

static int resolve_dirs(struct dispatch *d)
{
	jv dirs = bot_cfg_list(d->cfg, "plugins");
	int ok = 1;
	jv_array_foreach(dirs, i, dir) {
		char real[PATH_MAX];
		struct stat st;
		char why[PATH_MAX + 200];
		if (realpath(jv_string_value(dir), real) && !stat(real, &st) && S_ISDIR(st.st_mode)) {
			if (bot_plugin_dir_unsafe(real, why, sizeof why)) {
				bot_error("--plugins %s: %s", jv_string_value(dir), why);
				ok = 0;
			}
			d->dirs = jv_array_append(d->dirs, jv_string(real));
		} else {
			bot_error("--plugins %s: %s", jv_string_value(dir),
			          errno ? strerror(errno) : "not a folder");
			ok = 0;
		}
		jv_free(dir);
		(void)i;
	}
	jv_free(dirs);
	return ok;
}

/* Where bot.jq lives: --jq-library, else beside the program (the build
 * tree's share/, an install's share/botpipe), else the install path. */
static void find_jq_library(const struct bot_config *cfg, char *out, size_t n)
{
	const char *set = bot_cfg_str(cfg, "jq-library");
	if (set) {
		if (!realpath(set, out))
			snprintf(out, n, "%s", set);
		return;
	}
	char exe[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (len > 0) {
		exe[len] = 0;
		char *dir = dirname(exe);
		const char *const tries[] = { "%s/../../share", "%s/../share/botpipe", NULL };
		for (const char *const *t = tries; *t; t++) {
			char cand[PATH_MAX * 2], real[PATH_MAX], file[PATH_MAX + 8];
			snprintf(cand, sizeof cand, *t, dir);
			snprintf(file, sizeof file, "%s/bot.jq", realpath(cand, real) ? real : cand);
			if (!access(file, R_OK)) {
				snprintf(out, n, "%s", real);
				return;
			}
		}
	}
#ifdef BOT_DATADIR
	snprintf(out, n, "%s", BOT_DATADIR);
#else
	snprintf(out, n, "/usr/local/share/botpipe");
#endif
}

static int load_rules(struct dispatch *d)
{
	jv exprs = bot_cfg_list(d->cfg, "rule"), files = bot_cfg_list(d->cfg, "rules-file");
	int ok = 1;
	if (jv_array_length(jv_copy(exprs)) || jv_array_length(jv_copy(files))) {
		char lib[PATH_MAX];
		find_jq_library(d->cfg, lib, sizeof lib);
		d->rules = bot_rules_new(lib);
		jv_array_foreach(exprs, i, e) {
			char name[32];
			jv err = jv_invalid();
			snprintf(name, sizeof name, "-e #%d", i + 1);
			if (ok && bot_rules_add(d->rules, name, jv_string_value(e), &err) < 0) {
				bot_error_jv("--rule", err);
				ok = 0;
			} else
				jv_free(err);
			jv_free(e);
		}
		jv_array_foreach(files, i, f) {
			size_t len;
			jv err = jv_invalid();
			char *text = ok ? bot_slurp(jv_string_value(f), 16u << 20, &len) : NULL;
			if (ok && !text) {
				bot_error("--rules-file %s: %s", jv_string_value(f), strerror(errno));
				ok = 0;
			} else if (ok && bot_rules_add(d->rules, jv_string_value(f), text, &err) < 0) {
				bot_error_jv("--rules-file", err);
				ok = 0;
			} else
				jv_free(err);
			free(text);
			jv_free(f);
			(void)i;
		}
	}
	jv_free(exprs);
	jv_free(files);
	return ok;
}

static int load_acl(struct dispatch *d)
{
	const char *file = bot_cfg_str(d->cfg, "acl");
	jv err = jv_invalid();
	d->acl = file ? bot_acl_load(file, &err) : bot_acl_new(jv_null(), "--acl", &err);
	if (!d->acl) {
		bot_error_jv("--acl", err);
		return 0;
	}
	jv_free(err);
	jv admins = bot_cfg_list(d->cfg, "admin");
	jv_array_foreach(admins, i, a) {
		bot_acl_add_admin(d->acl, jv_string_value(a));
		jv_free(a);
		(void)i;
	}
	jv_free(admins);
	return 1;
}

static int setup(struct dispatch *d, const struct bot_config *cfg)
{
	d->cfg = cfg;
	d->prefix = bot_cfg_str(cfg, "prefix");
	if (!d->prefix)
		d->prefix = "!";
	d->pass = bot_cfg_flag(cfg, "pass");
	d->mention = bot_cfg_flag(cfg, "nick-prefix");
	d->override = bot_cfg_flag(cfg, "override");
	d->suppress_not_found = bot_cfg_flag(cfg, "suppress-not-found");
	d->hide_commands = bot_cfg_flag(cfg, "hide-restricted-commands");
	d->hide_access = bot_cfg_flag(cfg, "hide-restricted-access");
	d->alt_prefixes = bot_cfg_list(cfg, "alt-prefix");
	d->divert_private = bot_cfg_list(cfg, "divert-to-private");
	d->divert_thread = bot_cfg_list(cfg, "divert-to-thread");
	d->env_pass = bot_cfg_list(cfg, "env");
	d->jobs_max = (int)bot_cfg_int(cfg, "jobs", 10);
	if (d->jobs_max < 1)
		d->jobs_max = 1;
	d->max_events = bot_cfg_int(cfg, "max-events", 1000);
	d->started = time(NULL);
	d->replay = bot_cfg_flag(cfg, "replay") || bot_cfg_flag(cfg, "test");
	d->done = bot_cfg_flag(cfg, "done");
	long clock = bot_cfg_int(cfg, "clock", -1);
	d->now = clock >= 0 ? (double)clock : 0;
	d->since = clock >= 0 ? (double)clock : -1;
	/* every input waiting for a slot, every one running, and as many
	 * finished behind the first that is not */
	d->slots_cap = 2L * (READ_AHEAD(d) + d->jobs_max) + 1;
	if (slotted(d))
		d->slots = calloc((size_t)d->slots_cap, sizeof *d->slots);
	d->cmdopts = (struct bot_cmd_opts){
		.prefix = d->prefix,
		.alt_prefixes = d->alt_prefixes,
		.separators = bot_cfg_str(cfg, "alt-prefix-separators"),
		.alt_caseless = bot_cfg_flag(cfg, "alt-prefix-caseless"),
		.prefix_optional = bot_cfg_flag(cfg, "prefix-optional"),
		.exists = command_exists,
		.ctx = d,
	};
	d->history = bot_history_new();
	d->dirs = jv_array();
	d->names = jv_null();
	d->told = jv_object();
	d->dirs_ok = jv_array();
	d->state_dirs = jv_array();
	if (!*d->prefix) {
		bot_error("--prefix: may not be empty");
		return 0;
	}
	if (!resolve_dirs(d))
		return 0;
	check_folders(d, 1);
	return load_acl(d) && load_rules(d);
}

static void teardown(struct dispatch *d)
{
	d->replay = d->done = 0;   /* what still waits is dropped with its slot */
	bot_jobs_free(d->jobs);
	for (int i = 0; i < d->qlen; i++)
		dispatch_item_free(d, d->queue[(d->qhead + i) % MAX_QUEUE]);
	free(d->queue);
	for (int i = 0; i < d->cblen; i++)
		dispatch_item_free(d, d->cbq[(d->cbhead + i) % d->cb_max]);
	free(d->cbq);
	hooks_free(&d->hooks);
	jv_free(d->state_dirs);
	dispatch_state_cleanup(d);
	for (long s = d->seq_out; d->slots && s < d->seq_in; s++) {
		jv_free(slot_of(d, s)->out);
		jv_free(slot_of(d, s)->ref);
	}
	free(d->slots);
	d->slots = NULL;
	bot_writer_free(d->w);
	bot_reader_free(d->r);
	bot_history_free(d->history);
	bot_acl_free(d->acl);
	bot_rules_free(d->rules);
	jv_free(d->dirs);
	jv_free(d->names);
	free(d->names_key);
	free(d->checked_key);
	jv_free(d->told);
	jv_free(d->dirs_ok);
	jv_free(d->alt_prefixes);
	jv_free(d->divert_private);
	jv_free(d->divert_thread);
	jv_free(d->env_pass);
}

/* --timeout in seconds as milliseconds, without overflowing an int: a
 * huge value is a long timeout, 0 or less none. */
static int timeout_ms(long seconds)
{
	if (seconds <= 0)
		return 0;
	return seconds > INT_MAX / 1000 ? INT_MAX : (int)seconds * 1000;
}

int bot_dispatch_run(const struct bot_config *cfg)
{
	if (bot_cfg_flag(cfg, "test"))
		return dispatch_test(cfg);
	if (jv_array_length(jv_copy(cfg->operands))) {
		jv first = jv_array_get(jv_copy(cfg->operands), 0);
		bot_error("%s: only --test takes files (transcripts); events come on standard input",
		          jv_string_value(first));
		jv_free(first);
		return BOT_EX_USAGE;
	}
	if (bot_cfg_flag(cfg, "update")) {
		bot_error("--update: only with --test");
		return BOT_EX_USAGE;
	}
	return dispatch_stream(cfg, STDIN_FILENO, NULL);
}

int dispatch_stream(const struct bot_config *cfg, int in_fd, jv *collect)
{
	struct dispatch d = { 0 };
	if (collect)
		d.collect = jv_array();
	if (!setup(&d, cfg)) {
		teardown(&d);
		return BOT_EX_CONFIG;
	}
	struct bot_job_limits lim = {
		.timeout_ms = timeout_ms(bot_cfg_int(cfg, "timeout", 60)),
		.max_output = (size_t)bot_cfg_int(cfg, "max-output", 1 << 20),
		.cpu_seconds = bot_cfg_int(cfg, "limit-cpu", 0),
		.memory_mb = bot_cfg_int(cfg, "limit-memory", 0),
		.processes = bot_cfg_int(cfg, "limit-processes", 0),
	};
	struct bot_job_events jev = { on_job_event, on_job_done, &d, on_job_dropped, on_job_bad_event };
	d.jobs = bot_jobs_new(d.jobs_max, &lim, &jev);
	d.queue = calloc(MAX_QUEUE, sizeof *d.queue);
	d.cb_max = READ_AHEAD(&d);
	d.cbq = calloc((size_t)d.cb_max, sizeof *d.cbq);
	d.w = bot_writer_new(STDOUT_FILENO);
	d.r = bot_reader_new(in_fd, collect ? "<transcript>" : "<stdin>",
	                     (size_t)bot_cfg_int(cfg, "max-line", 0));
	fcntl(in_fd, F_SETFL, fcntl(in_fd, F_GETFL) | O_NONBLOCK);
	bot_catch_signals();
	int nfds = 2 + 3 * d.jobs_max;
	struct pollfd *fds = calloc((size_t)nfds, sizeof *fds);
	while (!bot_stop) {
		jv ev;
		int rc;
		while (may_read_ahead(&d) && (rc = bot_reader_next(d.r, &ev)) != 0) {
			input_begin(&d, ev);
			if (rc < 0) {
				dispatch_emit(&d, ev);   /* the bad_input error event */
				if (d.status == BOT_EX_OK)
					d.status = BOT_EX_DATAERR;
			} else
				handle_event(&d, ev);
			input_end(&d);
			run_queue(&d);   /* answers keep their place among passed events */
		}
		/* the pollers stop with the input */
		int due = bot_reader_eof(d.r) ? -1 : hooks_run_due(&d);
		run_queue(&d);
		if (bot_reader_eof(d.r) && !bot_reader_pending(d.r) && !bot_jobs_running(d.jobs) &&
		    !d.qlen && !d.cblen)
			break;
		if (bot_writer_flush(d.w) < 0 && d.status != BOT_EX_IOERR) {
			bot_error("stdout: %s", strerror(errno));
			d.status = BOT_EX_IOERR;
		}
		if (d.status == BOT_EX_IOERR)
			break;
		int n = 0;
		if (!bot_reader_eof(d.r) && may_read_ahead(&d))
			fds[n++] = (struct pollfd){ .fd = in_fd, .events = POLLIN };
		int in = n;
		n += bot_jobs_pollfds(d.jobs, fds + n, nfds - n);
		int timeout = bot_jobs_timeout(d.jobs);
		if (due >= 0 && (timeout < 0 || due < timeout))
			timeout = due;
		if (poll(fds, (nfds_t)n, timeout) < 0 && errno != EINTR)
			break;
		if (in && fds[0].revents && bot_reader_fill(d.r) < 0) {
			bot_error("%s: %s", bot_reader_name(d.r), strerror(errno));
			break;
		}
		bot_jobs_handle(d.jobs, fds + in, n - in);
	}
	reorder_flush(&d);
	hooks_tell_drops(&d, 1);
	bot_writer_flush(d.w);
	int status = d.status;
	if (collect)
		*collect = d.collect;
	else
		jv_free(d.collect);
	free(fds);
	teardown(&d);
	return status;
}
