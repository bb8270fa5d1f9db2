/* queue.c: bot-queue's modes, and the names it makes. */
#include <stdio.h>
#include <string.h>

#include "queue_priv.h"

const char *queue_msgid(char *out, size_t n, const char *base, const char *suffix)
{
	int plain = strlen(base) + strlen(suffix) + 1 < n && strlen(base) < 200;
	for (const unsigned char *p = (const unsigned char *)base; plain && *p; p++)
		if (*p < 0x21 || *p == 0x7f)
			plain = 0;
	if (plain)
		snprintf(out, n, "%s%s", base, suffix);
	else
		snprintf(out, n, "h:%016llx%s", (unsigned long long)queue_seen_key(base, 0), suffix);
	return out;
}

void queue_stream_for(const struct bot_queue *q, const char *name, const char *subject,
                      char *out, size_t n)
{
	const char *set = !strcmp(name, "subject") ? bot_cfg_str(q->cfg, "stream") : NULL;
	if (set)
		snprintf(out, n, "%s", set);
	else
		queue_stream_name(subject, out, n);
}

static int stream_valid(const struct bot_queue *q)
{
	const char *s = bot_cfg_str(q->cfg, "stream");
	if (!s)
		return 1;
	size_t n = strlen(s);
	int ok = n > 0 && n < QUEUE_NAME_MAX;
	for (size_t i = 0; ok && i < n; i++)
		if ((unsigned char)s[i] <= ' ' || strchr(".*>/\\", s[i]) || s[i] == 0x7f)
			ok = 0;
	if (!ok)
		bot_error("--stream: a name without spaces, dots, wildcards or slashes");
	return ok;
}

int bot_queue_run(const struct bot_config *cfg)
{
	jv ops = jv_copy(cfg->operands);
	int n = jv_array_length(jv_copy(ops));
	jv mode = n ? jv_array_get(jv_copy(ops), 0) : jv_string("");
	const char *m = jv_string_value(mode);
	int work = !strcmp(m, "work");
	int rc = -1;
	if (strcmp(m, "publish") && strcmp(m, "subscribe") && !work) {
		bot_error("%s%s: say publish, work or subscribe", *m ? "not a mode: " : "no mode",
		          m);
		rc = BOT_EX_USAGE;
	} else if (work && n < 2) {
		bot_error("work: no command to run (bot-queue work -- CMD [ARG...])");
		rc = BOT_EX_USAGE;
	} else if (!work && n > 1) {
		bot_error("%s: takes no operands", m);
		rc = BOT_EX_USAGE;
	}
	struct bot_queue q = { 0 };
	if (rc < 0 && !stream_valid(&(struct bot_queue){ .cfg = cfg }))
		rc = BOT_EX_USAGE;
	if (rc < 0)
		rc = queue_open(&q, cfg);
	if (rc < 0) {
		if (work)
			rc = queue_work_run(&q, jv_array_slice(jv_copy(ops), 1, n));
		else if (!strcmp(m, "publish"))
			rc = queue_publish_run(&q);
		else
			rc = queue_subscribe_run(&q);
	}
	if (q.cfg)
		queue_close(&q);
	jv_free(mode);
	jv_free(ops);
	return rc;
}
