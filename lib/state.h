/* state.c: the small state store of a backend instance (poll offsets, sync
 * tokens, queue ids: the cursor that bot-listen commits only once the
 * events up to it are written downstream).  Same ownership rules as bot.h.
 *
 * One folder per instance, $XDG_STATE_HOME/botpipe/NAME (else
 * ~/.local/state/botpipe/NAME), NAME being the backend or BACKEND@PROFILE;
 * made 0700, and refused when another user owns it or may write it.  One
 * file per key, replaced whole: written to a temporary file, synced,
 * renamed over the old one, the folder synced.  A kill -9 at any moment
 * leaves the old value or the new one, never a mix, and never a skipped
 * cursor: a reader that commits after writing re-reads at worst.
 */
#ifndef BOT_STATE_H
#define BOT_STATE_H

#include <stddef.h>
#include <jv.h>

#define BOT_STATE_VALUE_MAX (1u << 20)

/* The instance's folder into buf (made when missing).  0, or -1 + *err. */
int bot_state_dir(const char *instance, char *buf, size_t n, jv *err);
/* Replace key's value (key: letters, digits, '.', '_', '-'; not starting
 * with '.').  0, or -1 + *err. */
int bot_state_put(const char *dir, const char *key, const char *data, size_t len, jv *err);
/* key's value as a string, null when it was never put, an invalid (with
 * message) when it cannot be read or is larger than max. */
jv bot_state_get(const char *dir, const char *key, size_t max);
/* 1 when key may name a value: 1 to 200 of letters, digits, '.', '_',
 * '-', not starting with '.' (so never "..", never a path). */
int bot_state_key_ok(const char *key);
/* Remove key (0 also when it was not there), the folder synced.  0, or
 * -1 + *err. */
int bot_state_del(const char *dir, const char *key, jv *err);
/* 0 when the open fd is ours (or root's, when root_ok) and neither group
 * nor others may write it; -1 + *err naming what (and the fix) else. */
int bot_fd_private(int fd, const char *what, int root_ok, jv *err);

#endif
