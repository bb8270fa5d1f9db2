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
 *         the rename the event is queued.  A listing removes tmp/
 *         files older than 36 hours (maildir's rule).
 *   hold: the same, but into cur/, with the file locked and without
 *         fsync: write-ahead for an event about to be sent by this
 *         process.  A kill leaves the page cache intact, so nothing is
 *         lost; an event that stays is made durable by keep before the
 *         caller reports it queued (a power cut while it is being sent
 *         loses it, as it loses the pipe it came from).
 *   take: open, lock (flock, not waiting), rename new/NAME to cur/NAME,
 *         read.  cur/ means "being delivered"; the lock says by whom.  A
 *         sender killed at any point drops its lock with its life, so the
 *         next flush lists the entry (cur/ as well as new/) and sends it
 *         again.  A live sender's lock makes every other process skip the
 *         entry: a cron flush and a running bot-send never send one event
 *         twice.
 *   done: after a successful send, unlink cur/NAME, then unlock.  Killed
 *         between the send and the unlink, the next flush sends the event
 *         a second time: delivery is at least once, and duplicates happen
 *         only in that window (a backend with idempotency keys can close
 *         it), or after a power cut (the unlink is not synced).
 * Names sort by the time of the put (wall clock, nanoseconds), so a flush
 * goes oldest first.
 */
#ifndef BOT_OUTBOX_H
#define BOT_OUTBOX_H

#include <jv.h>

/* An entry this process holds (locked) while it delivers it. */
struct bot_outbox_item {
	char entry[128];   /* "cur/NAME" */
	int fd;            /* the open, locked file; -1 when none */
};

/* Queue an event (consumed) in new/.  0, or -1 with errno (ENOSPC,
 * EACCES, ...); on failure nothing is left in new/. */
int bot_outbox_put(const char *dir, jv event);
/* Write-ahead: store an event (consumed) in cur/, locked by *it, before
 * trying to send it (not synced yet).  0, or -1 with errno. */
int bot_outbox_hold(const char *dir, jv event, struct bot_outbox_item *it);
/* Not delivered, and it stays: sync it to disk, then unlock.  0, or -1
 * with errno (it stays either way, maybe not durably). */
int bot_outbox_keep(const char *dir, struct bot_outbox_item *it);
/* The entries waiting, oldest first: an array of strings "new/NAME" or
 * "cur/NAME" (cur/ holds what a sender is sending, or was when it died).
 * An empty array when DIR does not exist; an invalid on error. */
jv bot_outbox_list(const char *dir);
/* Take an entry from bot_outbox_list for delivery: lock it, move it to
 * cur/, read it.  Returns the event (and *it holds the lock); null when
 * another process holds it or it is gone (skip it); an invalid with a
 * message when it cannot be read (a file that does not hold one JSON
 * object is moved to DIR/bad/ so that it does not block the queue). */
jv bot_outbox_take(const char *dir, const char *entry, struct bot_outbox_item *it);
/* The entry was delivered: remove it, then unlock.  0, or -1 with errno
 * (the lock is dropped either way). */
int bot_outbox_done(const char *dir, struct bot_outbox_item *it);
/* Not delivered: leave the entry queued and unlock it. */
void bot_outbox_release(struct bot_outbox_item *it);

#endif
