/* failure.c: the one failure table.
 *
 * A failure is a jv invalid whose message is an object
 *   {code, message, temporary, retry_after?, scope?, status?}
 * (bot_fail_code makes one; libbothttp and the backends add retry_after,
 * scope and status).  Every program turns failures into exit codes and
 * error events here, and error events back into failures (an answer that
 * came through the session socket), so that "temporary" and "retry_after"
 * survive every hop.  Same ownership rules as bot.h.
 */
#ifndef BOT_FAILURE_H
#define BOT_FAILURE_H

#include <jv.h>

/* Look-only: the exit code for a failure.  Temporary ones are 75 whatever
 * their code; permanent ones by code (see the table in failure.c); a valid
 * value is 0. */
int bot_fail_exit(jv failure);
/* Look-only: the server's pause in seconds (0 when it named none). */
double bot_fail_retry_after(jv failure);
/* A failure with retry_after (seconds) and scope (NULL for none: "global",
 * a route, a chat) set; consumes failure. */
jv bot_fail_with_retry(jv failure, double retry_after, const char *scope);
/* The error event for a failure: {"type":"error", code, message,
 * temporary, retry_after?, scope?, status?, "event": original}.  Consumes
 * both; original may be jv_null() (then no "event" field). */
jv bot_fail_event(jv failure, jv original);
/* The failure an error event stands for (consumes ev).  An event that is
 * not an error event gives a permanent "bad_input" failure. */
jv bot_fail_from_event(jv ev);

/* The failure (consumed) with its message prefixed ("gave up after 3
 * attempts: "); code, temporary, retry_after and the rest kept. */
jv bot_fail_reword(jv failure, const char *prefix);

#endif
