/* dispatch.c: bot-dispatch's engine.  Reads events, finds commands in
 * messages, runs built-ins at once and plugins as child processes (many
 * at once, see jobs.c), and writes replies in the order they are ready. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bot.h"
#include "dispatch.h"
#include "jobs.h"

#define MAX_QUEUE 10000   /* commands waiting for a free slot */

struct command {
	jv msg;               /* the triggering event */
	char name[256];       /* plugin name, "deploy_status" */
	char path[PATH_MAX];
	char *args;           /* raw argument text */
};

struct dispatch {
	const struct bot_config *cfg;
	struct bot_writer *w;
	struct bot_reader *r;
	struct bot_jobs *jobs;
	jv dirs;              /* plugin folders, resolved */
	const char *prefix;
	int pass, mention, prefix_optional;
	struct command **queue;
	int qlen, qhead;
	int status;           /* exit code so far */
};

/* ---- replies ---- */

static void emit(struct dispatch *d, jv ev)
{
	if (bot_write(d->w, ev) < 0 && d->status != BOT_EX_IOERR) {
		bot_error("stdout: %s", strerror(errno));
		d->status = BOT_EX_IOERR;
	}
}

static void reply(struct dispatch *d, jv msg, const char *body)
{
	emit(d, bot_build_reply(msg, body, 0, 0, d->mention));
}

/* ---- finding commands ---- */

/* A command name from chat may only name a plain file of a plugin folder. */
static int name_safe(const char *name)
{
	if (!*name || *name == '-' || strlen(name) > 200)
		return 0;
	for (const char *p = name; *p; p++)
		if (!(isalnum((unsigned char)*p) || *p == '_' || *p == '-'))
			return 0;
	return 1;
}

/* The executable for name in the first folder that has it; refuses
 * anything that resolves outside its folder (a symlink out). */
static int find_plugin(struct dispatch *d, const char *name, char *path, size_t n)
{
	if (!name_safe(name))
		return 0;
	int found = 0;
	jv_array_foreach(d->dirs, i, dir) {
		char cand[PATH_MAX], real[PATH_MAX];
		struct stat st;
		const char *ds = jv_string_value(dir);
		if (!found && snprintf(cand, sizeof cand, "%s/%s", ds, name) < (int)sizeof cand &&
		    realpath(cand, real) && !strncmp(real, ds, strlen(ds)) &&
		    real[strlen(ds)] == '/' && !stat(real, &st) && S_ISREG(st.st_mode) &&
		    !access(real, X_OK)) {
			snprintf(path, n, "%s", real);
			found = 1;
		}
		jv_free(dir);
		(void)i;
	}
	return found;
}

static const char *const builtins[] = { "echo", "help", NULL };

static int is_builtin(const char *name)
{
	for (const char *const *b = builtins; *b; b++)
		if (!strcmp(*b, name))
			return 1;
	return 0;
}

/* The text after the prefix, or NULL when the message is no command. */
static const char *command_text(struct dispatch *d, jv msg, const char *body)
{
	size_t pl = strlen(d->prefix);
	if (pl && !strncmp(body, d->prefix, pl))
		return body + pl;
	if (d->prefix_optional && bot_true(msg, "is_direct"))
		return body;
	return NULL;
}

/* Split into words on spaces and find the longest "_"-joined prefix of
 * words that names a command.  Fills name, path (empty for a built-in)
 * and the rest as args. */
static int lookup(struct dispatch *d, const char *text, struct command *c)
{
	char words[16][256];
	const char *starts[17];
	int nw = 0;
	const char *p = text;
	while (nw < 16) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		size_t len = strcspn(p, " ");
		if (len >= sizeof words[0])
			break;
		starts[nw] = p;
		memcpy(words[nw], p, len);
		words[nw][len] = 0;
		nw++;
		p += len;
	}
	for (int k = nw; k >= 1; k--) {
		char name[256] = "";
		size_t o = 0;
		for (int i = 0; i < k && o < sizeof name; i++)
			o += (size_t)snprintf(name + o, sizeof name - o, "%s%s", i ? "_" : "", words[i]);
		if (o >= sizeof name)
			continue;
		c->path[0] = 0;
		if (find_plugin(d, name, c->path, sizeof c->path) || is_builtin(name)) {
			snprintf(c->name, sizeof c->name, "%s", name);
			const char *rest = k < nw ? starts[k] : "";
			c->args = strdup(rest);
			return 1;
		}
	}
	return 0;
}

/* ---- built-ins ---- */

/* The "# help:" line of a script, read without running it. */
static void plugin_help(const char *path, char *out, size_t n)
{
	snprintf(out, n, "(undocumented)");
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	char line[512];
	for (int i = 0; i < 20 && fgets(line, sizeof line, f); i++)
		if (!strncmp(line, "# help:", 7)) {
			char *s = line + 7;
			while (*s == ' ')
				s++;
			s[strcspn(s, "\r\n")] = 0;
			snprintf(out, n, "%s", s);
			break;
		}
	fclose(f);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void builtin_help(struct dispatch *d, jv msg)
{
	jv text = jv_string("### All commands\n\n**Built-ins**\n\n");
	text = jv_string_append_str(text, "- **!echo** - Say the arguments back\n");
	text = jv_string_append_str(text, "- **!help** - Returns a help string listing available commands\n");
	char *names[512];
	int n = 0;
	jv_array_foreach(d->dirs, i, dir) {
		DIR *dd = opendir(jv_string_value(dir));
		for (struct dirent *e; dd && (e = readdir(dd)) && n < 512;) {
			char path[PATH_MAX];
			if (!name_safe(e->d_name) || is_builtin(e->d_name) ||
			    !find_plugin(d, e->d_name, path, sizeof path))
				continue;
			int dup = 0;
			for (int k = 0; k < n; k++)
				dup |= !strcmp(names[k], e->d_name);
			if (!dup)
				names[n++] = strdup(e->d_name);
		}
		if (dd)
			closedir(dd);
		jv_free(dir);
		(void)i;
	}
	qsort(names, (size_t)n, sizeof *names, cmp_str);
	if (n)
		text = jv_string_append_str(text, "\n**Plugins**\n\n");
	for (int k = 0; k < n; k++) {
		char path[PATH_MAX], help[300];
		find_plugin(d, names[k], path, sizeof path);
		plugin_help(path, help, sizeof help);
		for (char *u = names[k]; *u; u++)
			if (*u == '_')
				*u = ' ';
		text = jv_string_append_str(text, "- **!");
		text = jv_string_append_str(text, names[k]);
		text = jv_string_append_str(text, "** - ");
		text = jv_string_append_str(text, help);
		text = jv_string_append_str(text, "\n");
		free(names[k]);
	}
	reply(d, msg, jv_string_value(text));
	jv_free(text);
}

static void run_builtin(struct dispatch *d, struct command *c)
{
	if (!strcmp(c->name, "echo")) {
		if (*c->args)
			reply(d, jv_copy(c->msg), c->args);
	} else if (!strcmp(c->name, "help"))
		builtin_help(d, jv_copy(c->msg));
}

/* ---- plugins ---- */

static void command_free(struct command *c)
{
	if (!c)
		return;
	jv_free(c->msg);
	free(c->args);
	free(c);
}

static void push_env(char **env, int *n, const char *name, const char *value)
{
	if (!value)
		return;
	if (asprintf(&env[*n], "%s=%s", name, value) >= 0)
		(*n)++;
}

/* A clean environment: PATH, HOME, LANG and the BOT_* of the contract. */
static void build_env(struct command *c, char **env)
{
	int n = 0;
	const char *path = getenv("PATH");
	push_env(env, &n, "PATH", path ? path : "/usr/local/bin:/usr/bin:/bin");
	push_env(env, &n, "HOME", getenv("HOME"));
	push_env(env, &n, "LANG", getenv("LANG"));
	jv from = bot_get(c->msg, "from"), to = bot_get(c->msg, "to");
	push_env(env, &n, "BOT_COMMAND", c->name);
	push_env(env, &n, "BOT_ARGS", c->args);
	push_env(env, &n, "BOT_FROM", bot_ident_id(from));
	push_env(env, &n, "BOT_FROM_NICK", bot_str(from, "nick"));
	push_env(env, &n, "BOT_ROOM", bot_ident_room(to));
	push_env(env, &n, "BOT_TO", bot_ident_id(to));
	push_env(env, &n, "BOT_BACKEND", bot_str(c->msg, "backend"));
	push_env(env, &n, "BOT_MESSAGE_ID", bot_str(c->msg, "id"));
	push_env(env, &n, "BOT_IS_DIRECT", bot_true(c->msg, "is_direct") ? "1" : "0");
	push_env(env, &n, "BOT_EVENTS_FD", "3");
	env[n] = NULL;
	jv_free(from);
	jv_free(to);
}

/* argv: the plugin, then the argument words. */
static char **build_argv(struct command *c)
{
	size_t cap = 8, n = 0;
	char **argv = malloc(cap * sizeof *argv);
	argv[n++] = strdup(c->path);
	char *copy = strdup(c->args), *save = NULL;
	for (char *t = strtok_r(copy, " \t\n", &save); t; t = strtok_r(NULL, " \t\n", &save)) {
		if (n + 2 > cap)
			argv = realloc(argv, (cap *= 2) * sizeof *argv);
		argv[n++] = strdup(t);
	}
	free(copy);
	argv[n] = NULL;
	return argv;
}

static void free_strv(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

static void start_plugin(struct dispatch *d, struct command *c)
{
	char *env[20];
	char **argv = build_argv(c);
	build_env(c, env);
	jv line = jv_dump_string(jv_copy(c->msg), 0);
	line = jv_string_append_str(line, "\n");
	jv err = jv_invalid();
	if (bot_jobs_start(d->jobs, c->path, argv, env, jv_string_value(line),
	                   (size_t)jv_string_length_bytes(jv_copy(line)), c, &err) < 0) {
		char why[512];
		bot_fail_message(err, why, sizeof why);
		bot_error("%s", why);
		jv_free(err);
		reply(d, jv_copy(c->msg), BOT_MSG_ERROR_OCCURRED);
		emit(d, bot_error_event("command_failed", why, jv_copy(c->msg)));
		command_free(c);
	}
	jv_free(line);
	free_strv(argv);
	for (char **e = env; *e; e++)
		free(*e);
}

/* An event the command wrote on fd 3: forwarded, aimed like a reply
 * when it names no target. */
static void on_job_event(void *ctx, void *tag, jv ev)
{
	struct dispatch *d = ctx;
	struct command *c = tag;
	const char *type = bot_str(ev, "type");
	if (type && (!strcmp(type, "message") || !strcmp(type, "card")) &&
	    !jv_is_valid(jv_object_get(jv_copy(ev), jv_string("to")))) {
		jv r = bot_build_reply(jv_copy(c->msg), "", 0, 0, 0);
		ev = jv_object_set(ev, jv_string("to"), jv_object_get(r, jv_string("to")));
	}
	emit(d, ev);
}

static void on_job_done(void *ctx, void *tag, const struct bot_job_result *r)
{
	struct dispatch *d = ctx;
	struct command *c = tag;
	char why[600];
	if (r->timed_out)
		snprintf(why, sizeof why, "%s: timed out", c->name);
	else if (r->status > 128)
		snprintf(why, sizeof why, "%s: killed by signal %d", c->name, r->status - 128);
	else if (r->status)
		snprintf(why, sizeof why, "%s: exited with status %d", c->name, r->status);
	if (r->timed_out || r->status) {
		bot_error("%s", why);
		char body[700];
		snprintf(body, sizeof body, "%s:\n%s", BOT_MSG_ERROR_OCCURRED, why);
		reply(d, jv_copy(c->msg), body);
		emit(d, bot_error_event("command_failed", why, jv_copy(c->msg)));
	} else {
		size_t len = r->len;
		while (len && (r->out[len - 1] == '\n' || r->out[len - 1] == '\r'))
			len--;
		if (r->truncated)
			bot_warn("%s: output over %zu bytes, cut", c->name, len);
		if (len) {
			jv body = jv_string_sized(r->out, (int)len);
			reply(d, jv_copy(c->msg), jv_string_value(body));
			jv_free(body);
		}
	}
	command_free(c);
}

/* ---- the loop ---- */

static void handle_message(struct dispatch *d, jv msg, const char *raw, size_t rawlen)
{
	const char *body = bot_str(msg, "body");
	const char *text = body && !bot_true(msg, "delayed") ? command_text(d, msg, body) : NULL;
	struct command *c = NULL;
	if (text) {
		c = calloc(1, sizeof *c);
		if (!lookup(d, text, c)) {
			char name[64];
			size_t len = strcspn(text, " ");
			snprintf(name, sizeof name, "%.*s", (int)(len < 60 ? len : 60), text);
			char out[128];
			snprintf(out, sizeof out, "Command \"%s\" not found.", name);
			reply(d, msg, out);
			free(c);
			return;
		}
	}
	if (!c) {
		if (d->pass)
			bot_write_raw(d->w, raw, rawlen);
		jv_free(msg);
		return;
	}
	c->msg = msg;
	if (!c->path[0]) {
		run_builtin(d, c);
		command_free(c);
		return;
	}
	if (d->qlen >= MAX_QUEUE) {
		reply(d, jv_copy(c->msg), BOT_MSG_ERROR_OCCURRED);
		emit(d, bot_error_event("busy", "too many commands waiting", jv_copy(c->msg)));
		command_free(c);
		return;
	}
	d->queue[(d->qhead + d->qlen++) % MAX_QUEUE] = c;
}

static void start_queued(struct dispatch *d)
{
	while (d->qlen && !bot_jobs_full(d->jobs)) {
		struct command *c = d->queue[d->qhead];
		d->qhead = (d->qhead + 1) % MAX_QUEUE;
		d->qlen--;
		start_plugin(d, c);
	}
}

static void handle_event(struct dispatch *d, int rc, jv ev)
{
	size_t rawlen;
	const char *raw = bot_reader_raw(d->r, &rawlen);
	if (rc < 0) {
		emit(d, ev);   /* the bad_input error event */
		if (d->status == BOT_EX_OK)
			d->status = BOT_EX_DATAERR;
		return;
	}
	const char *type = bot_str(ev, "type");
	if (!strcmp(type, "message"))
		handle_message(d, ev, raw, rawlen);
	else {
		if (d->pass)
			bot_write_raw(d->w, raw, rawlen);
		jv_free(ev);
	}
}

static int resolve_dirs(struct dispatch *d)
{
	jv dirs = bot_cfg_list(d->cfg, "plugins");
	d->dirs = jv_array();
	int ok = 1;
	jv_array_foreach(dirs, i, dir) {
		char real[PATH_MAX];
		if (realpath(jv_string_value(dir), real))
			d->dirs = jv_array_append(d->dirs, jv_string(real));
		else {
			bot_error("--plugins %s: %s", jv_string_value(dir), strerror(errno));
			ok = 0;
		}
		jv_free(dir);
		(void)i;
	}
	jv_free(dirs);
	return ok;
}

int bot_dispatch_run(const struct bot_config *cfg)
{
	struct dispatch d = { .cfg = cfg };
	d.prefix = bot_cfg_str(cfg, "prefix");
	d.pass = bot_cfg_flag(cfg, "pass");
	d.mention = bot_cfg_flag(cfg, "nick-prefix");
	d.prefix_optional = bot_cfg_flag(cfg, "prefix-optional");
	if (!d.prefix)
		d.prefix = "!";
	if (!resolve_dirs(&d)) {
		jv_free(d.dirs);
		return BOT_EX_CONFIG;
	}
	struct bot_job_limits lim = {
		.timeout_ms = (int)bot_cfg_int(cfg, "timeout", 60) * 1000,
		.max_output = (size_t)bot_cfg_int(cfg, "max-output", 1 << 20),
		.cpu_seconds = bot_cfg_int(cfg, "limit-cpu", 0),
		.memory_mb = bot_cfg_int(cfg, "limit-memory", 0),
		.processes = bot_cfg_int(cfg, "limit-processes", 0),
	};
	struct bot_job_events jev = { on_job_event, on_job_done, &d };
	d.jobs = bot_jobs_new((int)bot_cfg_int(cfg, "jobs", 10), &lim, &jev);
	d.queue = calloc(MAX_QUEUE, sizeof *d.queue);
	d.w = bot_writer_new(STDOUT_FILENO);
	d.r = bot_reader_new(STDIN_FILENO, "<stdin>", (size_t)bot_cfg_int(cfg, "max-line", 0));
	fcntl(STDIN_FILENO, F_SETFL, fcntl(STDIN_FILENO, F_GETFL) | O_NONBLOCK);
	bot_catch_signals();
	int nfds = 1 + 3 * (int)bot_cfg_int(cfg, "jobs", 10);
	struct pollfd *fds = calloc((size_t)nfds + 1, sizeof *fds);
	while (!bot_stop) {
		jv ev;
		int rc;
		while ((rc = bot_reader_next(d.r, &ev)) != 0)
			handle_event(&d, rc, ev);
		start_queued(&d);
		if (bot_reader_eof(d.r) && !bot_jobs_running(d.jobs) && !d.qlen)
			break;
		if (bot_writer_flush(d.w) < 0 && d.status != BOT_EX_IOERR) {
			bot_error("stdout: %s", strerror(errno));
			d.status = BOT_EX_IOERR;
		}
		if (d.status == BOT_EX_IOERR)
			break;
		int n = 0;
		if (!bot_reader_eof(d.r))
			fds[n++] = (struct pollfd){ .fd = STDIN_FILENO, .events = POLLIN };
		int in = n;
		n += bot_jobs_pollfds(d.jobs, fds + n, nfds + 1 - n);
		if (poll(fds, (nfds_t)n, bot_jobs_timeout(d.jobs)) < 0 && errno != EINTR)
			break;
		if (in && fds[0].revents && bot_reader_fill(d.r) < 0) {
			bot_error("<stdin>: %s", strerror(errno));
			break;
		}
		bot_jobs_handle(d.jobs, fds + in, n - in);
	}
	bot_writer_flush(d.w);
	bot_jobs_free(d.jobs);
	for (int i = 0; i < d.qlen; i++)
		command_free(d.queue[(d.qhead + i) % MAX_QUEUE]);
	free(d.queue);
	free(fds);
	bot_writer_free(d.w);
	bot_reader_free(d.r);
	jv_free(d.dirs);
	return d.status;
}
