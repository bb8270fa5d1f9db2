/* libbot: the public interface.  Grouped by the .c file that implements it.
 *
 * Ownership follows jq's jv rule: a function taking a jv consumes one
 * reference of it; a function returning a jv returns a new reference.  The
 * exceptions are marked "look-only": they borrow their jv argument.
 * Nothing in lib/ writes to stderr except log.c, and nothing exits.
 */
#ifndef BOT_H
#define BOT_H

#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <jv.h>

#ifndef BOT_VERSION
#define BOT_VERSION "0.0.0"
#endif

/* Exit codes, after <sysexits.h>; the same table in every man page. */
enum bot_exit {
	BOT_EX_OK = 0,
	BOT_EX_USAGE = 64,
	BOT_EX_DATAERR = 65,
	BOT_EX_UNAVAILABLE = 69,
	BOT_EX_SOFTWARE = 70,
	BOT_EX_IOERR = 74,
	BOT_EX_TEMPFAIL = 75,
	BOT_EX_NOPERM = 77,
	BOT_EX_CONFIG = 78,
	BOT_EX_ROOM_NOT_JOINED = 79,
	BOT_EX_ROOM_DOES_NOT_EXIST = 80,
};

/* ---- log.c: the one place that writes to stderr ------------------------ */

extern const char *bot_progname;
extern int bot_verbosity;              /* 0 quiet, 1 normal, 2 verbose */

void bot_init(const char *argv0);     /* fds 0-2 open, SIGPIPE ignored */
void bot_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void bot_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void bot_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void bot_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "prog: error: <where>: message" with message from a jv (consumed): a
 * string, an invalid's message, or an object with "message". */
void bot_error_jv(const char *where, jv msg);
/* Write a single-line version of s into buf (CR/LF/controls
 * shown as \n, \r, \xNN; truncated with "..." past n-1 bytes). */
const char *bot_oneline(char *buf, size_t n, const char *s, size_t len);

/* ---- util.c ------------------------------------------------------------ */

/* Look-only: the string at key, or NULL when missing or not a string.  The
 * pointer lives as long as obj does. */
const char *bot_str(jv obj, const char *key);
/* Look-only: 1 when obj[key] is true, 0 otherwise. */
int bot_true(jv obj, const char *key);
/* Look-only: a copy of obj[key], or null when obj is not an object or key
 * is missing (never invalid). */
jv bot_get(jv obj, const char *key);
/* jv_invalid_with_msg(jv_string_fmt(...)) */
jv bot_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* An invalid carrying {code, message, temporary, retry_after?}: a failure
 * a sender can classify.  temporary: 1 worth retrying, 0 permanent. */
jv bot_fail_code(const char *code, int temporary, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Look-only on an invalid from bot_fail*: the message text (static "" when
 * none).  Copies what it needs into buf. */
const char *bot_fail_message(jv invalid, char *buf, size_t n);
/* Look-only: a failure's code ("send_failed" when it has none), into buf. */
const char *bot_fail_code_of(jv invalid, char *buf, size_t n);
/* Look-only: 1 when a failure may pass (worth retrying or queueing). */
int bot_fail_temporary(jv invalid);
/* UTF-8 validity (no overlongs, surrogates or > U+10FFFF). */
int bot_utf8_valid(const char *s, size_t len);
/* 1 when s holds CR, LF or NUL within len bytes. */
int bot_has_line_break(const char *s, size_t len);
/* Read a whole file (capped at max bytes); NULL + errno on failure. */
char *bot_slurp(const char *path, size_t max, size_t *len);
/* mkdir -p, each folder made 0700.  0, or -1 with errno. */
int bot_mkdirs(const char *dir);
/* Monotonic milliseconds. */
long long bot_now_ms(void);
/* Secrets: config.c registers every secret setting it reads (with the
 * parts a server may quote back: a URL's userinfo and long path or query
 * pieces, a header's value and its long words); bot_redact copies s into
 * buf with each one shown as "***" (also a secret's beginning at the very
 * end of s, where text was cut).  log.c, bot_fail*, bot_fail_message and
 * the error and connection events call it, so no backend has to. */
void bot_secret_add(const char *secret);
void bot_secrets_clear(void);
const char *bot_redact(const char *s, char *buf, size_t n);
int bot_has_secret(const char *s);
/* v (consumed) with every string in it masked likewise: bot-listen's
 * events, which carry what the server said. */
jv bot_redact_jv(jv v);

/* ---- config.c: one option table serves flags, environment, file, --help */

enum bot_opt_type {
	BOT_OPT_FLAG,     /* no argument; --no-NAME turns it off */
	BOT_OPT_STR,
	BOT_OPT_INT,
	BOT_OPT_LIST,     /* may be given several times; collects an array */
	BOT_OPT_SECRET,   /* environment or file only (BOT_X, BOT_X_FILE) */
	/* Or'ed into a backend option's type: the setting tells which
	 * connection this is (server, account, TLS).  A running bot-listen's
	 * session serves only a program whose identity settings are the same
	 * (botpipe-session(7)); the others connect on their own. */
	BOT_OPT_IDENTITY = 0x100,
};
#define BOT_OPT_KIND(t) ((enum bot_opt_type)((t) & 0xff))

struct bot_option {
	const char *name;       /* long name = config key; BOT_NAME in env */
	char shortopt;          /* 0 for none */
	enum bot_opt_type type;  /* a kind, | BOT_OPT_IDENTITY */
	const char *metavar;    /* "FILE", "N", ... (NULL for flags) */
	const char *def;        /* default as text, or NULL */
	const char *help;       /* one line */
};
#define BOT_OPTIONS_END { 0, 0, 0, 0, 0, 0 }

struct bot_backend;

struct bot_config {
	const char *prog;               /* "bot-send" */
	const char *synopsis;           /* "[-b NAME] [--to ID] [TEXT...]" */
	const char *about;              /* one line for --help */
	const struct bot_option *opts;  /* the program's table */
	const struct bot_backend *backend;  /* chosen with -b, or NULL */
	jv values;                      /* name -> string | number | bool | array */
	jv operands;                    /* array of strings */
	char *file;                     /* the config file that was read */
	/* Backend instances (botpipe-config(5)): NAME or NAME@PROFILE. */
	char *instance;                 /* the name events carry: "irc@libera", "irc" */
	int backends_named;             /* -b (or BOT_BACKEND, or backend keys) named this many */
	struct bot_config *more;        /* the other instances named, nmore of them */
	int nmore;
	int argc;                       /* kept for bot_config_instance */
	char **argv;
	const struct bot_backend *const *builtin;
};

/* Parse argv, then BOT_* variables, then the config file, the program's
 * table first and then the backend's (when the program has a "backend"
 * option).  Handles --help and --version.  Returns -1 when the program
 * should go on, else the exit code (0 after --help). */
int bot_config_load(struct bot_config *cfg, int argc, char **argv,
                    const struct bot_backend *const *builtin);
void bot_config_free(struct bot_config *cfg);
/* The settings of one more backend instance, NAME or NAME@PROFILE, as
 * bot_config_load would give them with -b SPEC: the command line (the
 * options of the other instances' backends skipped), the environment,
 * the file's [PROFILE] section (which must exist).  0, or -1 with *err.
 * out is freed with bot_config_free. */
int bot_config_instance(const struct bot_config *base, const char *spec,
                        struct bot_config *out, jv *err);
/* 1 when spec names an instance of backend (irc, irc@libera for "irc"). */
int bot_instance_of(const char *spec, const char *backend);
/* Look-ups by long name; NULL / def / 0 when unset. */
const char *bot_cfg_str(const struct bot_config *cfg, const char *name);
long bot_cfg_int(const struct bot_config *cfg, const char *name, long def);
int bot_cfg_flag(const struct bot_config *cfg, const char *name);
jv bot_cfg_list(const struct bot_config *cfg, const char *name); /* array */
/* The text a one-shot program was given: the operands joined by spaces,
 * else, when fd >= 0, all that can be read from fd without its trailing
 * newlines. */
jv bot_operand_text(const struct bot_config *cfg, int fd);
/* Print the --help text for cfg's tables to stdout. */
void bot_config_help(const struct bot_config *cfg);

/* ---- options.c: each program's table, and all of them ----------------- */

extern const struct bot_option bot_listen_options[], bot_dispatch_options[],
	bot_send_options[], bot_card_options[], bot_room_options[], bot_queue_options[];
extern const struct bot_option *const bot_program_options[];   /* NULL-ended */

/* ---- ndjson.c: the event codec ----------------------------------------- */

#define BOT_LINE_MAX_DEFAULT (16u << 20)   /* 16 MiB */

struct bot_reader;
struct bot_reader *bot_reader_new(int fd, const char *name, size_t maxline);
void bot_reader_free(struct bot_reader *r);
/* Read once from the fd (blocking or not, as the fd is).  1 read something
 * (or EAGAIN), 0 end of input, -1 read error (errno). */
int bot_reader_fill(struct bot_reader *r);
/* Take the next complete line.  1: *ev is an event (an object with a
 * string "type").  -1: the line was bad; *ev is the bad_input error event
 * and the one-line message has been logged.  0: no complete line buffered
 * (at end of input, a last line without newline is still returned). */
int bot_reader_next(struct bot_reader *r, jv *ev);
/* ev NULL: the next complete line is not parsed, only taken (1; see
 * bot_reader_raw), for lines from a writer of our own. */
/* Blocking convenience: fill until a line or the end.  1, -1 as above, 0 at
 * end of input, -2 read error. */
int bot_read_event(struct bot_reader *r, jv *ev);
/* The raw bytes of the line last returned (without newline). */
const char *bot_reader_raw(const struct bot_reader *r, size_t *len);
long bot_reader_lineno(const struct bot_reader *r);
const char *bot_reader_name(const struct bot_reader *r);
int bot_reader_pending(const struct bot_reader *r);  /* a line is buffered */
/* At end of input, only the start of a line is left (its writer died). */
int bot_reader_partial(const struct bot_reader *r);
int bot_reader_eof(const struct bot_reader *r);
int bot_reader_fd(const struct bot_reader *r);

struct bot_writer;
struct bot_writer *bot_writer_new(int fd);
void bot_writer_free(struct bot_writer *w);     /* flushes */
/* Queue one event (consumed) as a compact line.  Returns 0, or -1 when an
 * earlier write failed (errno kept; EPIPE when the reader went away). */
int bot_write(struct bot_writer *w, jv ev);
int bot_write_raw(struct bot_writer *w, const char *line, size_t len);
int bot_writer_flush(struct bot_writer *w);
/* For a non-blocking fd: write what the reader takes now, keep the rest
 * queued.  0, or -1 on a write error. */
int bot_writer_try_flush(struct bot_writer *w);
/* With async set, bot_write never waits for the reader (it only tries to
 * flush); the caller polls the fd and watches bot_writer_queued. */
void bot_writer_set_async(struct bot_writer *w, int async);
size_t bot_writer_queued(const struct bot_writer *w);
int bot_writer_fd(const struct bot_writer *w);
/* 1 when queued bytes wait for a flush. */
int bot_writer_pending(const struct bot_writer *w);
/* Bytes handed to the writer so far, and of them written to the fd: an
 * event queued when bot_writer_total was T is downstream once
 * bot_writer_written reaches T (bot-listen's commit marks). */
unsigned long long bot_writer_total(const struct bot_writer *w);
unsigned long long bot_writer_written(const struct bot_writer *w);

/* ---- model.c: errbot's message model as jv events ---------------------- */

/* Identifiers: {"kind":"person"|"room"|"occupant","id":...,...}. */
jv bot_person(const char *id, const char *nick);
jv bot_room(const char *id);
jv bot_occupant(const char *room, const char *nick, const char *id);
/* Look-only: "person", "room", "occupant" or NULL when ident is not a
 * valid identifier object. */
const char *bot_ident_kind(jv ident);
/* Look-only: the canonical id string of an identifier (object or bare
 * string), or NULL. */
const char *bot_ident_id(jv ident);
/* Look-only: the person part: "person" field, else the id. */
const char *bot_ident_person(jv ident);
/* An identifier with the fields derived from the others: an occupant
 * without "person" gets "@nick" (errbot's person part of an occupant).
 * Consumes ident; anything else comes back as it was. */
jv bot_ident_derive(jv ident);
/* Look-only: the room part of a room or occupant, else NULL. */
const char *bot_ident_room(jv ident);
/* Look-only: errbot's aclattr: "aclattr" field, else person, else id. */
const char *bot_ident_aclattr(jv ident);

jv bot_message(jv from, jv to, const char *body);
jv bot_sent_event(const char *id, jv to, jv ref);
/* The same with "ids", every part's id in order (consumed), when a
 * message went out in more than one part. */
jv bot_sent_event_parts(jv ids, jv to, jv ref);
jv bot_error_event(const char *code, const char *message, jv event);
jv bot_connection_event(const char *state, int attempt, double retry_in,
                        const char *reason);
jv bot_presence_event(jv identifier, const char *status, const char *message);
/* A reaction: reactor and reacted_to (a message or {id, from, to}) are
 * consumed, action "added" or "removed"; reacted_to_owner is reacted_to's
 * "from" when it has one; timestamp may be NULL. */
jv bot_reaction_event(jv reactor, const char *action, const char *name, jv reacted_to,
                      const char *timestamp);
/* A stream (a file) of identifier (consumed): name as the network gave it
 * (shown, never a path), path where it lies in the spool (or NULL), MIME
 * type (or NULL), size and transfered in bytes (-1: unknown), status
 * "pending", "transfering", "success", "error". */
jv bot_stream_event(jv identifier, const char *name, const char *path, const char *mime,
                    long long size, long long transfered, const char *status);
/* A room event with action about room (an identifier, consumed). */
jv bot_room_event(const char *action, jv room);
/* The seed's derived fields, computed here and nowhere else: sets
 * is_direct (to is a person or an occupant: errbot's RoomOccupant is a
 * Person), is_group (to is a room), is_threaded (parent set); and the
 * identifiers' derived fields (bot_ident_derive) for from and to. */
jv bot_derive(jv msg);
/* Check an event's fields against the schema.  Returns ev, or an invalid
 * whose message names the type and the field ("message: to: expected an
 * identifier (object or string)"). */
jv bot_validate(jv ev);
/* errbot's build_reply: a message from self to the room (group) or the
 * sender (direct), in the thread where threaded; with mention set, the
 * reply carries "mention" (the sender) for bot-send to prefix.  Its id is
 * the input's (a string) with ".reply": the same input, the same id. */
jv bot_build_reply(jv msg, const char *body, int private_, int threaded,
                   int mention);

/* The backend interface and its registry (backend.c) are in backend.h. */

/* ---- serve.c: errbot's serve_forever ----------------------------------- */

/* Set by SIGINT/SIGTERM once bot_catch_signals() ran. */
extern volatile sig_atomic_t bot_stop;
void bot_catch_signals(void);
/* errbot's backoff: first delay 1 s, then min(d*1.75, 600) + U(0,3). */
double bot_backoff_next(double delay);
/* Sleep up to ms, waking early when bot_stop is set. */
void bot_sleep_ms(long long ms);
/* errbot's serve_forever over a backend, writing every event to w, one
 * flushed line each: connection events, backoff, reset after a good
 * connect; drops the bot's own messages.  Returns an exit code. */
int bot_serve(const struct bot_config *cfg, struct bot_writer *w);

/* ---- retry.c: the one retry policy (HTTP and sockets alike) ------------ */

struct bot_retry {
	int attempts;          /* made so far */
	int max_attempts;      /* --retries + 1 */
	double give_up_after;  /* seconds, 0 = no limit */
	double base, cap;      /* backoff base and cap, seconds */
	long long started_ms;
};
void bot_retry_init(struct bot_retry *r, int retries, double give_up_after);
/* Given a failure (look-only, from bot_fail_code), the delay in seconds
 * before the next attempt, or -1 to give up (permanent or exhausted). */
double bot_retry_next(struct bot_retry *r, jv failure);

#endif
