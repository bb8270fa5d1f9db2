/* bot-queue's insides, shared by the files of lib/queue/ only. */
#ifndef BOT_QUEUE_PRIV_H
#define BOT_QUEUE_PRIV_H

#include <pthread.h>
#include <stdint.h>
#include <nats/nats.h>

#include "bot.h"
#include "queue.h"

#define QUEUE_NAME_MAX 256        /* a subject's, a stream's, a consumer's */
#define QUEUE_MSGID_MAX 512       /* a Nats-Msg-Id we make */

struct bot_queue {
	const struct bot_config *cfg;
	natsConnection *nc;
	jsCtx *js;
	/* stdout: connection events in every mode, and subscribe's events;
	 * libnats' thread writes the connection events, hence the lock */
	struct bot_writer *out;
	pthread_mutex_t out_lock;
	int out_failed;               /* errno of a failed write, or 0 */
	int attempt;                  /* reconnections so far */
	volatile int closing;         /* we close: no disconnected event */
	long long ack_wait_ms;
	long long dup_window_ms;
	long max_deliveries;
	long in_flight;
	const char *durable;
};

/* conn.c */
/* Read the settings, connect (retrying while no server answers), set the
 * connection events up.  An exit code, or -1 when connected. */
int queue_open(struct bot_queue *q, const struct bot_config *cfg);
void queue_close(struct bot_queue *q);
/* Write one event (consumed) to stdout under the lock, flushed. */
void queue_emit(struct bot_queue *q, jv ev);
/* The subject setting, or def; NULL (logged) when it is not a subject
 * (wild: wildcards allowed). */
const char *queue_subject(const struct bot_queue *q, const char *name,
                          const char *def, int wild);
/* The stream that holds subject: --stream when name is "subject", else
 * the subject with its dots and wildcards as "_". */
void queue_stream_name(const char *subject, char *out, size_t n);
/* Make the stream holding subject when it is missing: work-queue
 * retention (an acknowledged message is gone) or limits (kept); its
 * duplicate window into *window_ms (when not NULL): the stream's own
 * when it was there, else --duplicate-window.  0, or -1 (logged). */
int queue_ensure_stream(struct bot_queue *q, const char *stream, const char *subject,
                        int work_queue, long long *window_ms);
/* A pull subscription on the shared durable consumer of stream (made
 * when missing: explicit acks, --ack-wait, no delivery limit of its own:
 * the dead-letter rule is ours).  NULL (logged) on failure. */
natsSubscription *queue_pull(struct bot_queue *q, const char *stream, const char *subject);
/* Publish data to subject with the de-duplication id msgid (NULL: none)
 * and wait for the server's acknowledgement, trying again while the
 * server is away, until it is stored or bot_stop.  0 stored, 1 stored
 * before (a duplicate), -1 refused for good or stopped (logged). */
int queue_publish(struct bot_queue *q, const char *subject, const char *data, int len,
                  const char *msgid);
/* Fetch up to batch messages (timeout_ms 0: only what waits now) into
 * list.  The count; 0 none or the server is away (waited a little). */
int queue_fetch(struct bot_queue *q, natsSubscription *sub, natsMsgList *list, int batch,
                long long timeout_ms);
/* Acknowledge and wait for the server to confirm: 0, or -1 (logged as a
 * warning: the message comes again after the ack wait). */
int queue_ack(struct bot_queue *q, natsMsg *m);
/* One line about a libnats failure. */
const char *queue_status_text(natsStatus s);
/* The event in a message: an object with a string "type", on one line;
 * else an invalid with the reason. */
jv queue_msg_event(natsMsg *m);
/* The message's Nats-Msg-Id, or NULL. */
const char *queue_msg_id(natsMsg *m);
/* Stream sequence and deliveries of a message (0 when unknown). */
void queue_msg_meta(natsMsg *m, uint64_t *seq, uint64_t *delivered);

/* queue.c */
/* A Nats-Msg-Id: base (an event's id, which the network chose) and
 * suffix; when base is not plain text or is too long, a hash of it. */
const char *queue_msgid(char *out, size_t n, const char *base, const char *suffix);
/* The stream for the subject setting name: --stream for "subject", else
 * one named after the subject. */
void queue_stream_for(const struct bot_queue *q, const char *name, const char *subject,
                      char *out, size_t n);

/* seen.c: the keys of recent messages (their Nats-Msg-Id, else their
 * stream sequence), at most 2 x QUEUE_SEEN_MAX and none older than the
 * duplicate window: a message the server delivers again after it was
 * handled (its ack was lost), or stores again (a publish tried again
 * across a restart), is recognised and only acknowledged. */
#define QUEUE_SEEN_MAX 65536
struct queue_seen;
struct queue_seen *queue_seen_new(long long window_ms);
void queue_seen_free(struct queue_seen *s);
uint64_t queue_seen_key(const char *msgid, uint64_t seq);
int queue_seen_has(struct queue_seen *s, uint64_t key);
void queue_seen_add(struct queue_seen *s, uint64_t key);

/* publish.c, subscribe.c, work.c: the modes */
int queue_publish_run(struct bot_queue *q);
int queue_subscribe_run(struct bot_queue *q);
int queue_work_run(struct bot_queue *q, jv argv);

#endif
