/* backend.h: the backend interface, ABI 2.
 *
 * The one header a backend compiles against (with bot.h for the model and
 * the codec, pollset.h for the loop, failure.h for failures).  A backend
 * is a struct bot_backend named "bot_backend" in NAME.so (or built in,
 * like text); doc/HACKING.md says how to write one, step by step.
 *
 * Rules
 *   - One thread.  The program owns poll(); a backend never blocks, sleeps,
 *     exits or prints.  It says which fds it wants and when it next needs
 *     the clock (prepare), and is called with what is ready (dispatch).  A
 *     curl multi handle, a WebSocket that must write, a heartbeat and a
 *     long poll all fit.  The same connection serves listening (bot-listen)
 *     and delivering (bot-send, bot-room, and the session of bot-listen).
 *   - Ownership is jv's: a function taking a jv consumes it unless marked
 *     look-only; a returned jv is a new reference.
 *   - Failures are bot_fail_code invalids (failure.h): {code, message,
 *     temporary, retry_after?, scope?, status?}.  What follows from one
 *     (an exit code, a retry, a reconnect, an error event) is decided by
 *     the programs from failure.h's one table.
 *   - Growth: struct bot_backend and struct bot_host start with their
 *     size.  New members are added last; a member past a module's size is
 *     taken as NULL (0).
 */
#ifndef BOT_BACKEND_H
#define BOT_BACKEND_H

#include <stddef.h>
#include <jv.h>

#include "bot.h"
#include "pollset.h"

#define BOT_BACKEND_ABI 2

/* What a backend can deliver besides messages; the rest is answered with
 * an "unsupported" error event carrying the input. */
enum bot_can {
	BOT_CAN_LISTEN = 1 << 0,     /* start/prepare/dispatch/stop: bot-listen */
	BOT_CAN_CARD = 1 << 1,       /* native cards (else the card template) */
	BOT_CAN_REACTION = 1 << 2,   /* reaction events, added and removed */
	BOT_CAN_PRESENCE = 1 << 3,   /* the bot's own presence (change_presence) */
	BOT_CAN_STREAM = 1 << 4,     /* a file sent by path */
	BOT_CAN_EDIT = 1 << 5,       /* a message that replaces one */
	BOT_CAN_DELETE = 1 << 6,     /* delete events */
	BOT_CAN_ROOM = 1 << 7,       /* room operations (bot-room) */
	BOT_CAN_PLAIN = 1 << 8,      /* wants each part as plain text too */
	BOT_CAN_SESSION = 1 << 9,    /* bot-listen serves the session socket */
};

/* The program's side, handed to open and valid until close. */
struct bot_host {
	size_t size;
	/* One event downstream (consumed): bot-listen drops the bot's own
	 * (is_from_self), adds backend and the derived fields, masks secrets.
	 * mark: jv_null(), or the backend's cursor after this event
	 * (Telegram's offset + 1, Matrix's next_batch, ...): commit is called
	 * with it once every event up to it is written to the pipe.  In
	 * bot-send and bot-room events are dropped (debug log). */
	void (*emit)(struct bot_host *h, jv event, jv mark);
	/* The connection is really up (IRC 001, XMPP session, Discord READY,
	 * the first good poll): the "connected" event, errbot's backoff is
	 * reset, the session is served. */
	void (*up)(struct bot_host *h);
	/* 1 while the reader downstream lags: read nothing new from the
	 * network, but keep heartbeats, pongs and acknowledgements going. */
	int (*lagging)(struct bot_host *h);
	/* The instance's private state folder (state.h: BACKEND[@PROFILE]),
	 * made on first use.  NULL + *err. */
	const char *(*state_dir)(struct bot_host *h, jv *err);
	/* A new file name for an inbound file, in the instance's spool
	 * folder (made 0700): "SPOOL/<time>-<counter><ext>", ext a
	 * sanitised extension taken from name (".pdf"), or none.  Never a
	 * name from the network.  0, or -1 + *err. */
	int (*spool_path)(struct bot_host *h, const char *name, char *buf, size_t n, jv *err);
	int listening;   /* 1 in bot-listen */
	void *prog;      /* the program's own */
};

/* One part of a delivery, built by the sender; look-only for the backend
 * and valid until done is called.  text/plain are NULL for events that
 * carry no body (reaction, presence, stream, delete, room). */
struct bot_part {
	size_t size;
	jv event;             /* the input event, "to" an expanded identifier */
	const char *type;     /* the event's type */
	const char *text;     /* this part in the backend's markup */
	const char *plain;    /* the same cut as plain text (BOT_CAN_PLAIN), else NULL */
	int index, count;     /* 0-based; count parts in all */
	/* An idempotency key, the same across retries, --flush and replay:
	 * "ID.INDEX" from the event's id, else "h" and a hash of the event. */
	const char *key;
	const char *replaces; /* an edit: the backend's id of the message it replaces */
};

/* A delivery's end.  result: {"id": ID} for a message or card part, a
 * reaction, presence, stream or delete ({"id": null} when the network
 * gives none); the answer event for a room operation; or a failure.
 * Consumed by the callee.  Called exactly once per accepted submit, from
 * dispatch, from submit itself when it finishes at once, or from stop and
 * close for what is still queued (a temporary "connection_lost"). */
typedef void (*bot_done_fn)(void *ctx, jv result);

struct bot_backend {
	size_t size;                      /* sizeof (struct bot_backend) */
	int abi;                          /* BOT_BACKEND_ABI */
	const char *name;
	const char *markup;               /* renderer name (render.h) */
	const struct bot_option *options; /* settings: BOT_OPT_SECRET, BOT_OPT_IDENTITY */
	unsigned can;                     /* enum bot_can */
	int size_unit;                    /* enum bot_size_unit (render.h) */

	/* State from configuration, no network yet.  NULL + *err. */
	void *(*open)(const struct bot_config *cfg, struct bot_host *host, jv *err);
	/* Release everything (no network: stop was called, or never start). */
	void (*close)(void *be);

	/* ---- the connection (BOT_CAN_LISTEN) ---- */
	/* Begin connecting, without blocking.  0, or -1 + *err. */
	int (*start)(void *be, jv *err);
	/* Add fds and the next deadline for this turn.  Called every turn in
	 * bot-listen, and in bot-send and bot-room while a submit waits. */
	void (*prepare)(void *be, struct bot_poll *p);
	/* Do what is ready (timers too).  0 go on; 1 the service asked us to
	 * stop; -1 the listening connection failed or was lost, *err says
	 * why: temporary, bot-listen reconnects after max(backoff,
	 * retry_after), or at once for code "reconnect_now"; permanent, it
	 * exits with the failure's code.  Without start (a one-shot send) a
	 * lost connection fails the queued submits instead. */
	int (*dispatch)(void *be, const struct bot_poll *p, jv *err);
	/* Drop the connection (a graceful quit where the network has one;
	 * non-blocking).  The backend may be started again. */
	void (*stop)(void *be);
	/* Events up to mark (look-only) are downstream: persist the cursor
	 * (state.h's bot_state_put). */
	void (*commit)(void *be, jv mark);

	/* ---- deliveries ---- */
	/* One part of a message or card, or a reaction, presence, stream,
	 * delete or room event (what can says).  Connects lazily when not
	 * started (a one-shot send).  0 accepted (done will be called), or
	 * -1 + *err (done is not called). */
	int (*submit)(void *be, const struct bot_part *part, bot_done_fn done, void *ctx, jv *err);
	/* Nothing more will be submitted (bot-send at the end of input):
	 * finish what is queued, then end a lazy connection gracefully.  1
	 * once that is done (then close), 0 while work remains; NULL: 1. */
	int (*idle)(void *be);

	/* ---- the model ---- */
	/* A user-given id ("@alice", "#ops") as an identifier; a failure
	 * (bad_input permanent, or temporary when the network must be asked
	 * and cannot answer now: the sender retries). */
	jv (*build_identifier)(void *be, const char *text);
	/* Look-only: 1 when the event (any type) is the bot's own echo. */
	int (*is_from_self)(void *be, jv event);
	/* errbot's prefix_groupchat_reply: body (consumed) with ident's
	 * mention; NULL: no mention. */
	jv (*mention)(void *be, jv ident, jv body);
	/* message_size_limit for a part to this target (look-only), in
	 * size_unit; 0 no limit; NULL: no limit. */
	size_t (*size_limit)(void *be, jv to);
	/* The markup of this instance (ansi on a terminal, text in a file);
	 * NULL: markup. */
	const char *(*markup_for)(void *be);
	/* How the network names a reaction: enum bot_emoji_names (emoji.h);
	 * 0 (as it is) for one without reactions. */
	int reaction_names;
};

/* A member of b, or NULL when the module's struct is older than it. */
#define BOT_BACKEND_HAS(b, member) \
	((b)->size >= offsetof(struct bot_backend, member) + sizeof((b)->member) && (b)->member)

/* ---- backend.c: the registry ---- */

/* Find a backend by name: the builtins, then NAME.so on BOT_BACKEND_PATH,
 * the install directory, and the build tree beside the program.  A module
 * of another ABI is refused.  NULL + *err naming the backends that exist. */
const struct bot_backend *bot_backend_find(const char *name,
                                           const struct bot_backend *const *builtin,
                                           jv *err);
/* 1 when a backend of that name can be found; nothing is loaded. */
int bot_backend_exists(const char *name, const struct bot_backend *const *builtin);
/* Names of every backend that can be found (array of strings). */
jv bot_backend_list(const struct bot_backend *const *builtin);
/* Expand a bare string identifier (or pass an object through); a failure
 * from build_identifier as it came (temporary kept). */
jv bot_expand_ident(const struct bot_backend *b, void *be, jv ident);

/* ---- host.c: the program's side ---- */

/* A host for bot-send and bot-room (events dropped with a debug line,
 * never lagging), or the base of bot-listen's (which sets emit, up,
 * lagging and listening). */
void bot_host_init(struct bot_host *h, const struct bot_config *cfg);
void bot_host_free(struct bot_host *h);

#endif
