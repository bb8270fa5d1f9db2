/* subscribe.c: events from a subject's stream to stdout through the
 * shared durable consumer; each acknowledged once it is written and
 * flushed, and one the server gives again after that written only once. */
#include <string.h>

#include "queue_priv.h"

#define SUBSCRIBE_BATCH 256
#define SUBSCRIBE_WAIT_MS 1000

/* Write one message's event (or say why it is none); 0, or -1 when stdout
 * failed (the message stays unacknowledged). */
static int deliver(struct bot_queue *q, struct queue_seen *seen, const char *subject,
                   natsMsg *m)
{
	uint64_t seq, delivered;
	queue_msg_meta(m, &seq, &delivered);
	uint64_t key = queue_seen_key(queue_msg_id(m), seq);
	if (!queue_seen_has(seen, key)) {
		jv ev = queue_msg_event(m);
		if (jv_is_valid(ev))
			queue_emit(q, ev);
		else {
			char where[QUEUE_NAME_MAX + 48];
			snprintf(where, sizeof where, "%s: message %llu", subject, (unsigned long long)seq);
			bot_error_jv(where, ev);
		}
		if (q->out_failed)
			return -1;
	}
	queue_seen_add(seen, key);
	queue_ack(q, m);
	return 0;
}

int queue_subscribe_run(struct bot_queue *q)
{
	const char *subject = queue_subject(q, "subject", "botpipe.out", 0);
	if (!subject)
		return BOT_EX_USAGE;
	char stream[QUEUE_NAME_MAX];
	queue_stream_for(q, "subject", subject, stream, sizeof stream);
	long long window_ms;
	if (queue_ensure_stream(q, stream, subject, 1, &window_ms) < 0)
		return BOT_EX_UNAVAILABLE;
	natsSubscription *sub = queue_pull(q, stream, subject);
	if (!sub)
		return BOT_EX_UNAVAILABLE;
	struct queue_seen *seen = queue_seen_new(window_ms);
	bot_catch_signals();
	while (!bot_stop && !q->out_failed) {
		natsMsgList list;
		int n = queue_fetch(q, sub, &list, SUBSCRIBE_BATCH, SUBSCRIBE_WAIT_MS);
		for (int i = 0; i < n && !q->out_failed; i++)
			deliver(q, seen, subject, list.Msgs[i]);
		natsMsgList_Destroy(&list);
	}
	queue_seen_free(seen);
	natsSubscription_Destroy(sub);
	if (q->out_failed) {
		bot_error("stdout: %s", strerror(q->out_failed));
		return BOT_EX_IOERR;
	}
	return BOT_EX_OK;
}
