/* libbot: the outbox, a maildir-style spool of events waiting to be sent.
 * Same ownership rules as bot.h.
 *
 * Layout: DIR/tmp, DIR/new, DIR/cur (created 0700 on first use), and
 * DIR/bad for files that cannot be read back.  One event a file, written
 * as one JSON line, so cat(1) on a file in DIR/new shows what waits.
 *
 * Life of an entry, and what kill -9 at each step leaves behind:
 *   put:  write tmp/NAME, fsync, rename to new/NAME, fsync new/.
 *         Killed before the rename: a stray tmp/NAME, never sent, and the
 *         caller never heard "queued" (it still holds the event).  After
 *         the rename the event is queued.
 *   take: rename new/NAME to cur/NAME, then read it.  cur/ means "being
 *         delivered": a flush killed here leaves it in cur/, and the next
 *         flush lists cur/ as well as new/ and sends it again.
 *   done: after a successful send, unlink cur/NAME.  Killed between the
 *         send and the unlink, the next flush sends the event a second
 *         time: delivery is at least once, and duplicates happen only in
 *         that window (a backend with idempotency keys can close it).
 * Names sort by the time of the put (wall clock, nanoseconds), so a flush
 * goes oldest first.  Two flushes of one DIR at once would both see cur/:
 * a flush holds bot_outbox_lock for its duration.
 */
#ifndef BOT_OUTBOX_H
#define BOT_OUTBOX_H

#include <jv.h>

/* Queue an event (consumed).  0, or -1 with errno (ENOSPC, EACCES, ...);
 * on failure nothing is left in new/. */
int bot_outbox_put(const char *dir, jv event);
/* The entries waiting, oldest first: an array of strings "new/NAME" or
 * "cur/NAME" (cur/ holds what a crashed flush was sending).  An empty
 * array when DIR does not exist; an invalid with a message on error. */
jv bot_outbox_list(const char *dir);
/* Mark an entry from bot_outbox_list as being delivered (new/ -> cur/) and
 * read it.  Returns the event, or an invalid with a message (the entry
 * vanished, or its file does not hold one JSON object: then it is moved
 * to DIR/bad/ so that it does not block the queue). */
jv bot_outbox_take(const char *dir, const char *entry);
/* The entry was delivered: remove it.  0, or -1 with errno. */
int bot_outbox_done(const char *dir, const char *entry);
/* Take DIR's flush lock (an exclusive flock on DIR/.lock, not waiting).
 * Returns the fd to close when done, or -1 with errno (EWOULDBLOCK when
 * another flush holds it). */
int bot_outbox_lock(const char *dir);

#endif
