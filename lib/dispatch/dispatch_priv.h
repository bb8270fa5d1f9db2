/* bot-dispatch's insides, shared by dispatch.c, builtin.c, hooks.c and
 * folders.c only. */
#ifndef BOT_DISPATCH_PRIV_H
#define BOT_DISPATCH_PRIV_H

#include <limits.h>
#include <time.h>

#include "dispatch.h"
#include "jobs.h"

#define BOT_HISTORY_KEY_MAX 1024   /* longer keys are cut: still one person's */

/* What waits in the queue: a plugin to run, a built-in to answer, or
 * replies already made (not found, denied).  One queue keeps the order of
 * the answers when --jobs is 1. */
enum item_kind { ITEM_PLUGIN, ITEM_BUILTIN, ITEM_EVENTS };

/* What made a plugin run: a command's name, a "# match:" pattern, an
 * event it is a callback of ("# on:"), or its schedule ("# every:"). */
enum item_origin { ORIGIN_COMMAND, ORIGIN_PATTERN, ORIGIN_CALLBACK, ORIGIN_POLLER };

struct item {
	enum item_kind kind;
	jv msg;                          /* the triggering event */
	char name[BOT_CMD_NAME_MAX + 1];
	char plugin[NAME_MAX + 1];       /* "builtin" or the folder's name */
	char *path;                      /* malloc'd; NULL for a built-in */
	char *args;
	int private_, threaded;          /* DIVERT_TO_PRIVATE / _THREAD */
	size_t bytes;                    /* its input line's, while it waits */
	long fd3_events, fd3_dropped;    /* fd 3 events forwarded, and past --max-events */
	jv events;                       /* ITEM_EVENTS: an array */
	long seq;                        /* its input's number (--replay) */
	int in_slot;                     /* counted in that input's slot */
	double now;                      /* its input's time (--replay) */
	int replies;                     /* replies made so far (their ids) */
	enum item_origin origin;
	jv words;                        /* a pattern's argv words (captures); null: split args */
	jv vars;                         /* more variables, name -> string; null: none */
	char *to;                        /* "# to:": where output goes that is no reply */
	char *argspec;                   /* a command's "# args:", read with its ACL check */
};

/* hooks.c: plugins run without a command name.  Their headers are read
 * when the folders change (check_folders), never per event. */
enum {
	ON_MESSAGE = 1, ON_MENTION = 2, ON_PRESENCE = 4, ON_REACTION = 8, ON_ROOM = 16,
	ON_STREAM = 32, ON_CARD = 64, ON_CONNECTION = 128,
};

struct hook {
	char name[BOT_CMD_NAME_MAX + 1];
	char plugin[NAME_MAX + 1];
	char *path;
	char *to;               /* "# to:", or NULL */
	unsigned on;            /* ON_* */
	long every_ms;          /* 0: no poller */
	long long next_at;      /* the next run, bot_now_ms */
	int running;            /* a poller's run is queued or running */
	void *re;               /* OnigRegex of "# match:", or NULL */
	int matchall, unprefixed;
	int admin_only;         /* "# admin-only: yes", read with the rest */
};

struct hooks {
	struct hook *h;
	int n;
	unsigned on;            /* every hook's ON_* */
	int patterns, pollers;
};

/* --replay: what one input's outputs wait in until every earlier input
 * is finished (a reorder buffer keyed by the input's number). */
struct slot {
	jv out;       /* events (objects) and passed lines (strings), in order */
	int items;    /* its commands and answers not yet finished */
	int open;     /* still being read */
	jv ref;       /* --done: the input's id (or null) */
};

struct dispatch {
	const struct bot_config *cfg;
	struct bot_writer *w;
	struct bot_reader *r;
	struct bot_jobs *jobs;
	struct bot_history *history;
	struct bot_acl *acl;
	struct bot_rules *rules;
	struct bot_cmd_opts cmdopts;
	jv dirs;                 /* plugin folders, resolved */
	jv names;                /* every command name, cached (or null) */
	long long names_at;      /* when names was made, ms */
	char *names_key;         /* the folders' mtimes then */
	char *checked_key;       /* the folders' mtimes at the last check */
	long long checked_at;    /* when, ms */
	jv told;                 /* what was logged about the folders: why -> true */
	jv dirs_ok;              /* per folder: true when safe at the last check */
	jv alt_prefixes, divert_private, divert_thread, env_pass;
	const char *prefix;
	int pass, mention, override, suppress_not_found, hide_commands, hide_access;
	int jobs_max;
	long max_events;         /* fd 3 events a command may write */
	struct item **queue;
	int qlen, qhead;
	size_t queued_bytes;     /* input lines behind what waits */
	size_t line_bytes;       /* the line being handled */
	int status;              /* exit code so far */
	time_t started;
	/* --replay */
	int replay;
	int done;                /* --done: a done event after each input's outputs */
	double now, since;       /* the recorded clock; since < 0: not yet known */
	struct slot *slots;      /* a ring of slots_cap, for inputs seq_out..seq_in-1 */
	long slots_cap, seq_in, seq_out, cur_seq;
	jv collect;              /* --test: per input, the array of its outputs */
	struct hooks hooks;
	struct item **cbq;       /* callbacks waiting for a slot, a ring of cb_max */
	int cblen, cbhead, cb_max;
	long cb_dropped;         /* callbacks dropped since the last log line */
	long long cb_told_at;    /* when that line was written, ms */
	jv state_dirs;           /* per folder: its BOT_STATE_DIR, once made (or null) */
	char *replay_state;      /* --replay: the folder the state folders are in */
};

/* dispatch.c */
/* Log why once (an error or a warning), as long as the process runs. */
void dispatch_tell_once(struct dispatch *d, const char *why, int error);
struct item *dispatch_item_new(struct dispatch *d, enum item_kind kind, jv msg);
void dispatch_item_free(struct dispatch *d, struct item *it);
void dispatch_enqueue(struct dispatch *d, struct item *it);
/* Whether msg's sender may run plugin:name: NULL, or errbot's denial. */
const char *dispatch_acl(const struct dispatch *d, jv msg, const struct item *it,
                         int admin_only);
void dispatch_emit(struct dispatch *d, jv ev);
/* A reply to it's message (body copied), diverted as its command is. */
void dispatch_reply(struct dispatch *d, struct item *it, const char *body);
/* 1 when a plugin file named name exists; fills path and the folder's
 * name (either may be NULL). */
int dispatch_find_plugin(const struct dispatch *d, const char *name, char *path,
                         size_t n, char *plugin, size_t pn);
/* Every command name (built-ins and plugins), "_" form; kept while the
 * folders' mtimes stay and for at most a few seconds. */
jv dispatch_all_names(struct dispatch *d);
/* The ACL verdict for msg asking for name (args ""): NULL = allowed. */
const char *dispatch_may_run(const struct dispatch *d, jv msg, const char *name);

/* Run the engine over in_fd; with collect (--test), keep the outputs in
 * *collect (an array, per input the array of its outputs) instead of
 * writing them. */
int dispatch_stream(const struct bot_config *cfg, int in_fd, jv *collect);

/* transcript.c: --test */
int dispatch_test(const struct bot_config *cfg);

/* builtin.c */
int builtin_known(const char *name);
/* errbot's first doc line and full doc of a built-in. */
const char *builtin_doc(const char *name);
extern const char *const builtin_names[];
void builtin_run(struct dispatch *d, struct item *it);
/* !history answered when it is read, not when its turn comes (later
 * commands are not in it): it becomes ITEM_EVENTS, a private reply. */
void builtin_history_now(struct dispatch *d, struct item *it);

/* dispatch.c: a command's environment, at most BOT_PLUGIN_ENV_MAX
 * variables (the contract's, --env's, a folder's settings, a header's
 * arguments); value NULL adds none. */
#define BOT_PLUGIN_ENV_MAX 256
void dispatch_push_env(char **env, int *n, const char *name, const char *value);

/* folders.c */
/* The folder (its index in d->dirs) a plugin file is in, -1 none. */
int dispatch_folder_of(const struct dispatch *d, const char *path);
/* Folder i's BOT_STATE_DIR (made when first asked for), NULL when none. */
const char *dispatch_state_dir(struct dispatch *d, int i);
/* Folder i's settings (FOLDER.conf) as BOT_CONFIG_* variables. */
void dispatch_push_config(struct dispatch *d, int i, char **env, int *n);
/* --replay: remove the state folders made for the run. */
void dispatch_state_cleanup(struct dispatch *d);

/* hooks.c */
void hooks_scan(struct dispatch *d);
void hooks_free(struct hooks *hs);
/* Pattern commands on a message no command took (c: how it was
 * addressed).  Returns how many matched (each queued). */
int hooks_match(struct dispatch *d, jv msg, const struct bot_cmd *c);
/* Callbacks for ev (look-only), queued within --jobs or dropped. */
void hooks_callbacks(struct dispatch *d, jv ev);
/* Queue the pollers that are due; ms until the next is, -1 for none. */
int hooks_run_due(struct dispatch *d);
void hooks_poller_done(struct dispatch *d, const char *name);
/* Log how many callbacks were dropped, at most once a second unless force. */
void hooks_tell_drops(struct dispatch *d, int force);
/* "5m" as ms: s, m, h, d or none (seconds); -1 when it is no interval. */
long hooks_interval_ms(const char *text);

#endif
