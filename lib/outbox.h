/* libbot: the outbox, a maildir-style spool of events waiting to be sent.
 * Same ownership rules as bot.h.
 *
 * Layout: DIR/tmp, DIR/new, DIR/cur (created 0700), and DIR/bad for files
 * that cannot be read back.  One event a file, written as one JSON line,
 * so cat(1) on a file in DIR/new shows what waits.
 *
 * Trust: DIR must be a folder owned by this user and writable by nobody
 * else, and so must tmp/, new/, cur/ and bad/; they are opened once and
 * everything inside is reached relative to them (openat, renameat,
 * unlinkat), never through a symlink.  An entry is read only when it is a
 * regular file of ours with one name; anything else in new/ or cur/ is
 * moved to bad/ unread.  So another local user can neither post through
 * our credentials, delete what waits, nor have a file they point at read.
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

/* An open outbox: the folder and its tmp/, new/, cur/. */
struct bot_outbox;

/* An entry this process holds (locked) while it delivers it. */
struct bot_outbox_item {
	char entry[128];   /* "cur/NAME" */
	int fd;            /* the open, locked file; -1 when none */
};

/* Open the outbox DIR.  With create, DIR and its missing parents are made
 * (0700); without, a DIR that does not exist is an error.  Returns NULL
 * and *err, a failure naming DIR whose code says why: "no_input" (it does
 * not exist), "bad_config" (not ours, writable by others, a symlink
 * inside, not a folder, ...), "denied" (no permission), or a temporary
 * "outbox_failed" (no space, an I/O error: worth trying again). */
struct bot_outbox *bot_outbox_open(const char *dir, int create, jv *err);
void bot_outbox_close(struct bot_outbox *ob);
/* The path it was opened with. */
const char *bot_outbox_dir(const struct bot_outbox *ob);

/* Queue an event (consumed) in new/.  0, or -1 with errno (ENOSPC,
 * EACCES, ...); on failure nothing is left in new/. */
int bot_outbox_put(struct bot_outbox *ob, jv event);
/* Write-ahead: store an event (consumed) in cur/, locked by *it, before
 * trying to send it (not synced yet).  0, or -1 with errno. */
int bot_outbox_hold(struct bot_outbox *ob, jv event, struct bot_outbox_item *it);
/* Not delivered, and it stays: sync it to disk, then unlock.  0, or -1
 * with errno (it stays either way, maybe not durably). */
int bot_outbox_keep(struct bot_outbox *ob, struct bot_outbox_item *it);
/* The entries waiting, oldest first: an array of strings "new/NAME" or
 * "cur/NAME" (cur/ holds what a sender is sending, or was when it died).
 * An invalid on error. */
jv bot_outbox_list(struct bot_outbox *ob);
/* Take an entry from bot_outbox_list for delivery: lock it, move it to
 * cur/, read it.  Returns the event (and *it holds the lock); null when
 * another process holds it or it is gone (skip it); an invalid with a
 * message when it cannot be read (a file that does not hold one JSON
 * object, or is not a regular file of ours, is moved to DIR/bad/ so that
 * it does not block the queue). */
jv bot_outbox_take(struct bot_outbox *ob, const char *entry, struct bot_outbox_item *it);
/* The entry was delivered: remove it, then unlock.  0, or -1 with errno
 * (the lock is dropped either way). */
int bot_outbox_done(struct bot_outbox *ob, struct bot_outbox_item *it);
/* Not delivered: leave the entry queued and unlock it. */
void bot_outbox_release(struct bot_outbox_item *it);

#endif
