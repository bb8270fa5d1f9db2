/* libbot: bot-dispatch's engine and its parts: argument splitting, command
 * finding, history, access control, help, jq rules.  Same ownership rules
 * as bot.h.  Each part is pure (no I/O but reading plugin files), so each
 * has its own unit test. */
#ifndef BOT_DISPATCH_H
#define BOT_DISPATCH_H

#include <stddef.h>
#include "bot.h"

/* errbot's MSG_ERROR_OCCURRED as ErrBot overrides it. */
#define BOT_MSG_ERROR_OCCURRED "Computer says nooo. See logs for details"

/* Read events on stdin, run commands, write replies and events on
 * stdout, until the input ends and every command is over. */
int bot_dispatch_run(const struct bot_config *cfg);

/* ---- transcript.c: the conversations of bot-dispatch --test ----------- */

/* A transcript (botpipe-plugins(7)): lines said (">") and answers ("<"). */
struct bot_transcript;
/* Read one from text (not copied: keep it until the free); name says
 * where it is from.  NULL and *err, "NAME:LINE: why", when a line is bad. */
struct bot_transcript *bot_transcript_parse(const char *name, const char *text, size_t len,
                                            jv *err);
void bot_transcript_free(struct bot_transcript *t);
/* The events said, in order: an array. */
jv bot_transcript_inputs(const struct bot_transcript *t);
/* The text with each input's answers in place of the written ones.
 * outputs (consumed): per input, the array of the events it gave;
 * mention: replies to a room carry the sender (--nick-prefix). */
jv bot_transcript_rewrite(const struct bot_transcript *t, jv outputs, int mention);

/* ---- argv.c: POSIX shell quoting, no expansion ------------------------- */

/* Split text into words: blanks separate, '...' is literal, "..." keeps
 * \$ \` \" \\ escapes, a backslash outside quotes escapes the next
 * character.  Nothing is expanded.  Returns an array of strings, or an
 * invalid: "No closing quotation", "No escaped character" (as shlex),
 * "No NUL character allowed". */
jv bot_split_words(const char *text, size_t len);
/* The same after errbot's arg_botcmd translation of typographic dashes and
 * quotes (— “ ” ‘ ’ to -- " " ' '). */
jv bot_split_args(const char *text, size_t len);
/* That translation alone; a malloc'd string. */
char *bot_ascii_quotes(const char *text, size_t len, size_t *outlen);

/* ---- command.c: finding the command in a message ----------------------- */

#define BOT_CMD_NAME_MAX 100   /* bytes in a command (plugin file) name */
#define BOT_CMD_WORDS_MAX 10   /* words tried for a multi-word command */

struct bot_cmd_opts {
	const char *prefix;           /* BOT_PREFIX, "!" */
	jv alt_prefixes;              /* look-only array of strings */
	const char *separators;       /* BOT_ALT_PREFIX_SEPARATORS, each one char, in order */
	int alt_caseless;             /* BOT_ALT_PREFIX_CASEINSENSITIVE (ASCII) */
	int prefix_optional;          /* BOT_PREFIX_OPTIONAL_ON_CHAT */
	/* 1 when name is a command (built-in or plugin); name is safe. */
	int (*exists)(void *ctx, const char *name);
	void *ctx;
};

enum bot_cmd_kind {
	BOT_CMD_NONE,       /* not addressed to the bot: chatter */
	BOT_CMD_FOUND,      /* name and args set */
	BOT_CMD_RECALL,     /* !! (recall -1) or !N (recall N) */
	BOT_CMD_NOT_FOUND,  /* addressed, no such command: word and next set */
};

struct bot_cmd {
	enum bot_cmd_kind kind;
	char name[BOT_CMD_NAME_MAX + 1];
	char *args;                  /* malloc'd raw argument text */
	char *text;                  /* the text after the prefixes, trimmed */
	long recall;
	char *word, *next;           /* not found: first word, second word or NULL */
};

/* A name from chat may name a plugin file only if it is 1 to
 * BOT_CMD_NAME_MAX bytes of [A-Za-z0-9_-] not starting with '-'. */
int bot_cmd_name_safe(const char *name);
/* errbot's process_message steps 1-6 on body.  Fills c (free with
 * bot_cmd_clear). */
void bot_cmd_parse(const struct bot_cmd_opts *o, const char *body, int is_direct,
                   struct bot_cmd *c);
void bot_cmd_clear(struct bot_cmd *c);
/* difflib.SequenceMatcher(None, a, b).ratio() over code points. */
double bot_similarity(const char *a, const char *b);
/* errbot's unknown_command text: word, next (NULL when no args), the
 * known names (look-only array of strings, "_" form).  Suggestions are
 * difflib's close matches (n=3, cutoff 0.6) of word and of "word next",
 * ordered by score, then name. */
jv bot_cmd_not_found(const char *prefix, const char *word, const char *next,
                     jv names);

/* ---- plugins.c: what may run from a plugin folder ---------------------- */

/* NULL when commands may be taken from the folder dir (a real path): it
 * and every folder above it are owned by this user or root and writable
 * by no group and no other user (a folder above may be when sticky, as
 * /tmp).  Else a one-line why, with the fix, in buf. */
const char *bot_plugin_dir_unsafe(const char *dir, char *buf, size_t n);
/* The same for a plugin file (a real path) and the folder it is in. */
const char *bot_plugin_file_unsafe(const char *path, char *buf, size_t n);
/* NULL when the entry name of folder dir runs, or is not meant to (a dot
 * file, a folder, a NAME.help sidecar).  Else why it never will, with the
 * fix: a suffix (".sh"), a name that is no command name, no exec bit, no
 * "#!" line, CRLF line ends, a missing interpreter. */
const char *bot_plugin_unrunnable(const char *dir, const char *name, char *buf, size_t n);

/* ---- args.c: the "# args:" header (errbot's arg_botcmd) ------------- */

/* Check words (consumed: an array of strings) against spec.  Returns
 * {"argv": the positional values in the header's order (defaults filled,
 * "" for an optional one without), "vars": {"BOT_ARG_NAME": value}} (a
 * flag "1" or "0"); else an invalid with argparse's message, or, for a
 * spec that is wrong, one with the code "bad_header". */
jv bot_args_parse(const char *spec, jv words);

/* ---- keys.c: bot-dispatch state, a plugin's keys ----------------------- */

/* bot-dispatch state get|set|del|incr KEY ...: argv from "state" on.
 * The exit status. */
int bot_dispatch_state(int argc, char **argv);

/* ---- history.c: errbot's cmd_history ----------------------------------- */

/* Whose history a message's sender (look-only) has: its most stable
 * identity, into buf.  An identifier's "account" where the network has
 * one; else the user@host of a client mask nick!user@host ("client" or
 * "aclattr", as IRC's): a nick is anyone's after its owner quits; else
 * the person, else the id. */
const char *bot_history_key(jv from, char *buf, size_t n);

#define BOT_HISTORY_MAX 10
#define BOT_HISTORY_PEOPLE_MAX 10000   /* then the longest idle is forgotten */

struct bot_history;
struct bot_history *bot_history_new(void);
void bot_history_free(struct bot_history *h);
/* Remove an identical (name, args) from person's history, then append;
 * the oldest goes past BOT_HISTORY_MAX. */
void bot_history_add(struct bot_history *h, const char *person,
                     const char *name, const char *args);
/* errbot's recall: n == -1 the last, n == 0 the oldest, n the n-th
 * latest.  0 when out of range; else pointers valid until the next add. */
int bot_history_get(const struct bot_history *h, const char *person, long n,
                    const char **name, const char **args);
/* The !history reply: " N:!cmd args" lines, oldest first; "" when empty. */
jv bot_history_text(const struct bot_history *h, const char *person,
                    const char *prefix);

/* ---- acl.c: errbot's ACCESS_CONTROLS ------------------------------------ */

struct bot_acl;
/* Read a JSON file: {"ACCESS_CONTROLS_DEFAULT": {...}, "ACCESS_CONTROLS":
 * {pattern: {...}, ...}, "BOT_ADMINS": [...]}.  NULL + *err (a one-line
 * message naming the file, and the line for a syntax error). */
struct bot_acl *bot_acl_load(const char *path, jv *err);
/* The same from a parsed value (consumed); where names it in errors. */
struct bot_acl *bot_acl_new(jv conf, const char *where, jv *err);
void bot_acl_free(struct bot_acl *a);
/* Add admin globs (BOT_ADMINS), e.g. from --admin. */
void bot_acl_add_admin(struct bot_acl *a, const char *glob);
/* errbot's acls filter: msg (look-only) asks plugin:cmd with args.
 * Returns NULL when allowed, else errbot's denial text (static). */
const char *bot_acl_check(const struct bot_acl *a, jv msg, const char *plugin,
                          const char *cmd, const char *args, int admin_only);

/* ---- help.c: a command's help, read from its file ----------------------- */

struct bot_help {
	char *help;      /* the "# help:" lines, joined by "\n"; NULL none */
	char *usage;     /* "# usage:" */
	int admin_only;  /* "# admin-only: yes" */
	int hidden;      /* "# hidden: yes" */
	char *args;      /* "# args: SERVICE [ENV=prod] [--force]" */
	char *match;     /* "# match: REGEX" (a pattern command) */
	int matchall;    /* "# matchall: yes": every match, not the first */
	int unprefixed;  /* "# prefixed: no": matched in any message */
	char *on;        /* "# on: presence reaction" (a callback) */
	char *every;     /* "# every: 5m" (a poller) */
	char *to;        /* "# to: #ops": where a poller's or callback's output goes */
};
/* Read path's header (or path.help beside a binary); never runs it. */
void bot_help_read(const char *path, struct bot_help *h);
void bot_help_clear(struct bot_help *h);

struct bot_help_entry {
	const char *name;     /* "deploy_status" */
	const char *plugin;   /* section: "builtin" or the folder's name */
	const char *doc;      /* full help, NULL = undocumented */
	int hidden;
};
/* errbot's !help layout over entries (sorted here).  args: "" for all,
 * else a section or a command ("deploy status" or "deploy_status"). */
jv bot_help_text(const char *prefix, struct bot_help_entry *e, size_t n,
                 const char *args);

/* ---- builtin.c: errbot's built-in commands (used by dispatch.c) ---- */

/* errbot's format_timedelta: "N seconds", "N minutes", "N hours", "N
 * hours and M minutes" (days counted as hours, no singular). */
void bot_format_timedelta(char *out, size_t n, long seconds);

/* ---- rules.c: jq programs over events ----------------------------------- */

struct bot_rules;
/* libdir holds bot.jq (made importable and included by default). */
struct bot_rules *bot_rules_new(const char *libdir);
void bot_rules_free(struct bot_rules *r);
/* Compile a rule; name says where it came from ("-e #1", "rules.jq").
 * 0, or -1 and *err with jq's compile messages on one line. */
int bot_rules_add(struct bot_rules *r, const char *name, const char *program,
                  jv *err);
int bot_rules_count(const struct bot_rules *r);
/* Whether rule i has a guard: events its leading select() rules out are
 * not given to jq (the output is the same; see rules.c). */
int bot_rules_guarded(const struct bot_rules *r, int i);
/* Run every rule on ev (look-only); outputs go to emit (consumed).  A
 * runtime error goes to error (consumed message) and the next rule runs.
 * Returns the number of outputs. */
int bot_rules_run(struct bot_rules *r, jv ev,
                  void (*emit)(void *ctx, jv out),
                  void (*error)(void *ctx, const char *rule, jv msg), void *ctx);

#endif
