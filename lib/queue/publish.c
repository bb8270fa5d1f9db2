/* publish.c: events from stdin into a subject, each stored (the server
 * said so) before the next is read; an event's id is its message id, so
 * the same event published again is dropped by the server. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "queue_priv.h"

/* One event (consumed) into subject. 0, or -1 when the server refused it. */
static int publish_event(struct bot_queue *q, const char *subject, jv ev)
{
	char msgid[QUEUE_MSGID_MAX];
	const char *id = bot_str(ev, "id");
	if (id)
		queue_msgid(msgid, sizeof msgid, id, "");
	jv line = jv_dump_string(ev, 0);
	int rc = queue_publish(q, subject, jv_string_value(line),
	                       jv_string_length_bytes(jv_copy(line)), id ? msgid : NULL);
	jv_free(line);
	if (rc > 0)
		bot_debug("%s: %s: stored before (a duplicate)", subject, msgid);
	return rc < 0 ? -1 : 0;
}

int queue_publish_run(struct bot_queue *q)
{
	const char *subject = queue_subject(q, "subject", "botpipe.in", 0);
	if (!subject)
		return BOT_EX_USAGE;
	char stream[QUEUE_NAME_MAX];
	queue_stream_for(q, "subject", subject, stream, sizeof stream);
	if (queue_ensure_stream(q, stream, subject, 1, NULL) < 0)
		return BOT_EX_UNAVAILABLE;
	struct bot_reader *r = bot_reader_new(STDIN_FILENO, "<stdin>",
	                                      (size_t)bot_cfg_int(q->cfg, "max-line", 0));
	int status = BOT_EX_OK;
	for (;;) {
		jv ev;
		int rc = bot_read_event(r, &ev);
		if (rc == 0)
			break;
		if (rc == -2) {
			bot_error("<stdin>: %s", strerror(errno));
			status = BOT_EX_IOERR;
			break;
		}
		if (rc < 0) {   /* logged; the error event goes on */
			queue_emit(q, ev);
			status = BOT_EX_DATAERR;
			continue;
		}
		if (publish_event(q, subject, ev) < 0) {
			if (bot_stop) {
				status = BOT_EX_TEMPFAIL;
				break;
			}
			status = BOT_EX_DATAERR;
		}
	}
	bot_reader_free(r);
	if (q->out_failed && status == BOT_EX_OK)
		status = BOT_EX_IOERR;
	return status;
}
