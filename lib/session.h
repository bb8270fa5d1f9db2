/* libbot: the session socket, through which bot-send and bot-room act on a
 * running bot-listen's connection.  The protocol is botpipe-session(7). */
#ifndef BOT_SESSION_H
#define BOT_SESSION_H

#include <poll.h>
#include <stddef.h>
#include "bot.h"

#define BOT_SESSION_CLIENTS 16

/* The socket's path: --session when set (returns 1), else (returns 0)
 * DIR/BACKEND[@PROFILE][-HASH].sock, where DIR is $XDG_RUNTIME_DIR/botpipe,
 * else /run/user/UID/botpipe when that is ours, else
 * ${TMPDIR:-/tmp}/botpipe-UID, and HASH names the backend's identity
 * settings (BOT_OPT_IDENTITY: server, account, TLS), so that a sender
 * meant for another connection never finds this one.  -1 with
 * --session none. */
int bot_session_path(const struct bot_config *cfg, char *buf, size_t n);

/* ---- the server, in bot-listen ---- */

/* Answers one request (look-only) with one event: sent, a room answer, or
 * an error event; or returns jv_invalid() (without a message) and answers
 * later with bot_session_answer(ticket).  A client's requests are answered
 * in order: the next is read once this one is answered. */
typedef jv (*bot_session_handler)(void *ctx, jv request, unsigned long long ticket);

struct bot_session;
/* Listen at path (its folder made 0700, the socket 0600; a folder that is
 * not ours, or where others may write, or, unless chosen with --session,
 * look, is refused).  A stale socket left by a dead bot-listen is
 * replaced; a live one is an error (another bot-listen holds this
 * session).  NULL + *err. */
struct bot_session *bot_session_listen(const char *path, int chosen,
                                       bot_session_handler h, void *ctx, jv *err);
/* The fds to poll for input: the socket and its clients.  Returns how
 * many were written (at most max). */
int bot_session_pollfds(struct bot_session *s, struct pollfd *fds, int max);
/* After poll (call it after every poll, timeouts too): accept new
 * clients, answer every complete request, write what waits, drop clients
 * that left or whose answers could not be written for 5 seconds.  fds, n
 * as filled by bot_session_pollfds. */
void bot_session_ready(struct bot_session *s, const struct pollfd *fds, int n);
/* The answer (consumed) to the request that got ticket; dropped when its
 * client left. */
void bot_session_answer(struct bot_session *s, unsigned long long ticket, jv answer);
/* Close every client and remove the socket. */
void bot_session_close(struct bot_session *s);

/* ---- the client, in bot-send and bot-room ---- */

struct bot_session_client;
/* Connect to a running bot-listen's session; NULL when there is none. */
struct bot_session_client *bot_session_connect(const char *path);
/* Send one request (look-only) and wait up to timeout_ms for its answer.
 * The answer event, or an invalid (bot_fail_code, temporary) when the
 * session broke: the caller may then act on its own connection. */
jv bot_session_call(struct bot_session_client *c, jv request, long timeout_ms);
void bot_session_disconnect(struct bot_session_client *c);

#endif
