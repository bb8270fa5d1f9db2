/* conn.c: bot-queue's connection to NATS: settings, connecting with
 * connection events, streams, consumers, publishing with the server's
 * acknowledgement, fetching and acknowledging. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue_priv.h"

#define PUBLISH_WAIT_MS 5000      /* for one publish's acknowledgement */
#define RETRY_FIRST_MS 100        /* the server is away: first wait, */
#define RETRY_MAX_MS 2000         /* then doubling up to this */
#define RECONNECT_WAIT_MS 250     /* libnats' wait between reconnections */
#define API_WAIT_MS 5000          /* stream and consumer requests */

const char *queue_status_text(natsStatus s)
{
	natsStatus was = NATS_OK;
	const char *last = nats_GetLastError(&was);
	if (!last || !*last || was != s)
		return natsStatus_GetText(s);
	/* "(conn.c:1905): Authorization Violation": the user needs no line
	 * number of libnats */
	const char *past = last[0] == '(' ? strstr(last, "): ") : NULL;
	return past ? past + 3 : last;
}

void queue_emit(struct bot_queue *q, jv ev)
{
	pthread_mutex_lock(&q->out_lock);
	if (q->out_failed)
		jv_free(ev);
	else if (bot_write(q->out, ev) < 0 || bot_writer_flush(q->out) < 0)
		q->out_failed = errno ? errno : EIO;
	pthread_mutex_unlock(&q->out_lock);
}

/* libnats' thread: the connection went and came back. */
static void on_disconnected(natsConnection *nc, void *ctx)
{
	(void)nc;
	struct bot_queue *q = ctx;
	if (q->closing)
		return;
	queue_emit(q, bot_connection_event("disconnected", q->attempt + 1, -1,
	                                   "the connection to the server was lost"));
}

static void on_reconnected(natsConnection *nc, void *ctx)
{
	(void)nc;
	struct bot_queue *q = ctx;
	queue_emit(q, bot_connection_event("connected", ++q->attempt, -1, NULL));
}

/* A subject: 1..255 printable bytes without spaces, tokens not empty;
 * wildcards ('*' a token, '>' the last) only where wild. */
static int subject_valid(const char *s, int wild)
{
	size_t n = strlen(s);
	if (!n || n >= QUEUE_NAME_MAX || s[0] == '.' || s[n - 1] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= ' ' || c == 0x7f || (c == '.' && s[i + 1] == '.'))
			return 0;
		if (c == '*' || c == '>') {
			int alone = (i == 0 || s[i - 1] == '.') && (!s[i + 1] || s[i + 1] == '.');
			if (!wild || !alone || (c == '>' && s[i + 1]))
				return 0;
		}
	}
	return 1;
}

const char *queue_subject(const struct bot_queue *q, const char *name, const char *def,
                          int wild)
{
	const char *s = bot_cfg_str(q->cfg, name);
	if (!s)
		s = def;
	if (!subject_valid(s, wild)) {
		char shown[128];
		bot_error("--%s: not a subject: %s", name, bot_oneline(shown, sizeof shown, s, strlen(s)));
		return NULL;
	}
	return s;
}

void queue_stream_name(const char *subject, char *out, size_t n)
{
	size_t i = 0;
	for (; subject[i] && i + 1 < n; i++)
		out[i] = strchr(".*>", subject[i]) ? '_' : subject[i];
	out[i] = 0;
}

/* A URL may not carry a password: it would show in ps and in messages. */
static int url_has_userinfo(const char *urls)
{
	for (const char *u = urls; u && *u;) {
		const char *end = strchr(u, ',');
		size_t len = end ? (size_t)(end - u) : strlen(u);
		const char *scheme = memmem(u, len, "://", 3);
		const char *host = scheme ? scheme + 3 : u;
		const char *stop = memchr(host, '/', len - (size_t)(host - u));
		size_t hl = stop ? (size_t)(stop - host) : len - (size_t)(host - u);
		if (memchr(host, '@', hl))
			return 1;
		u = end ? end + 1 : NULL;
	}
	return 0;
}

static long positive(const struct bot_config *cfg, const char *name, long def, long max)
{
	long v = bot_cfg_int(cfg, name, def);
	if (v < 1 || v > max) {
		bot_error("--%s: must be 1 to %ld, not %ld", name, max, v);
		return -1;
	}
	return v;
}

static int read_settings(struct bot_queue *q)
{
	long ack = positive(q->cfg, "ack-wait", 30, 86400);
	long dup = positive(q->cfg, "duplicate-window", 120, 86400 * 7);
	q->max_deliveries = positive(q->cfg, "max-deliveries", 5, 1000000);
	q->in_flight = positive(q->cfg, "in-flight", 10, 10000);
	if (ack < 0 || dup < 0 || q->max_deliveries < 0 || q->in_flight < 0)
		return BOT_EX_USAGE;
	q->ack_wait_ms = ack * 1000LL;
	q->dup_window_ms = dup * 1000LL;
	q->durable = bot_cfg_str(q->cfg, "durable");
	if (!q->durable)
		q->durable = "botpipe";
	for (const char *c = q->durable; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '-' && *c != '_') {
			bot_error("--durable: letters, digits, - and _ only");
			return BOT_EX_USAGE;
		}
	return -1;
}

/* The options for natsConnection_Connect: servers, credentials, TLS,
 * reconnection for ever, the callbacks. */
static int make_options(struct bot_queue *q, natsOptions **opts)
{
	const struct bot_config *cfg = q->cfg;
	const char *url = bot_cfg_str(cfg, "nats-url");
	if (!url || !*url)
		url = getenv("NATS_URL");
	if (!url || !*url)
		url = "nats://127.0.0.1:4222";
	if (url_has_userinfo(url)) {
		bot_error("--nats-url: credentials do not go in the URL (ps shows it); "
		          "use BOT_NATS_TOKEN or --nats-user and BOT_NATS_PASSWORD");
		return BOT_EX_USAGE;
	}
	const char *user = bot_cfg_str(cfg, "nats-user"), *pass = bot_cfg_str(cfg, "nats-password");
	const char *token = bot_cfg_str(cfg, "nats-token"), *ca = bot_cfg_str(cfg, "nats-ca");
	if (pass && !user) {
		bot_error("BOT_NATS_PASSWORD: needs --nats-user");
		return BOT_EX_USAGE;
	}
	natsStatus s = natsOptions_Create(opts);
	if (s == NATS_OK)
		s = natsOptions_SetURL(*opts, url);
	if (s == NATS_OK)
		s = natsOptions_SetName(*opts, bot_progname);
	if (s == NATS_OK && user)
		s = natsOptions_SetUserInfo(*opts, user, pass ? pass : "");
	if (s == NATS_OK && token)
		s = natsOptions_SetToken(*opts, token);
	if (s == NATS_OK && (ca || bot_cfg_flag(cfg, "tls")))
		s = natsOptions_SetSecure(*opts, true);
	if (s == NATS_OK && ca && (s = natsOptions_LoadCATrustedCertificates(*opts, ca)) != NATS_OK) {
		bot_error("--nats-ca %s: %s", ca, queue_status_text(s));
		return BOT_EX_CONFIG;
	}
	if (s == NATS_OK)
		s = natsOptions_SetMaxReconnect(*opts, -1);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectWait(*opts, RECONNECT_WAIT_MS);
	if (s == NATS_OK)
		s = natsOptions_SetDisconnectedCB(*opts, on_disconnected, q);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectedCB(*opts, on_reconnected, q);
	if (s != NATS_OK) {
		bot_error("--nats-url %s: %s", url, queue_status_text(s));
		return BOT_EX_CONFIG;
	}
	return -1;
}

static int transient(natsStatus s)
{
	return s == NATS_NO_SERVER || s == NATS_IO_ERROR || s == NATS_TIMEOUT ||
	       s == NATS_STALE_CONNECTION || s == NATS_CONNECTION_CLOSED ||
	       s == NATS_CONNECTION_DISCONNECTED || s == NATS_NO_RESPONDERS ||
	       s == NATS_NOT_YET_CONNECTED;
}

/* The first connection, tried again with errbot's backoff while no server
 * answers; refused credentials end it. */
static int connect_first(struct bot_queue *q, natsOptions *opts)
{
	double delay = 0;
	for (int attempt = 0;; attempt++) {
		queue_emit(q, bot_connection_event("connecting", attempt, -1, NULL));
		natsStatus s = natsConnection_Connect(&q->nc, opts);
		if (s == NATS_OK) {
			queue_emit(q, bot_connection_event("connected", attempt, -1, NULL));
			return -1;
		}
		const char *why = queue_status_text(s);
		if (!transient(s)) {
			bot_error("nats: %s", why);
			return s == NATS_CONNECTION_AUTH_FAILED || s == NATS_NOT_PERMITTED ? BOT_EX_NOPERM
			       : BOT_EX_UNAVAILABLE;
		}
		delay = bot_backoff_next(delay);
		queue_emit(q, bot_connection_event("disconnected", attempt + 1, delay, why));
		bot_sleep_ms((long long)(delay * 1000));
		if (bot_stop)
			return BOT_EX_UNAVAILABLE;
	}
}

int queue_open(struct bot_queue *q, const struct bot_config *cfg)
{
	q->cfg = cfg;
	pthread_mutex_init(&q->out_lock, NULL);
	q->out = bot_writer_new(1);
	int rc = read_settings(q);
	if (rc >= 0)
		return rc;
	natsOptions *opts = NULL;
	rc = make_options(q, &opts);
	if (rc < 0)
		rc = connect_first(q, opts);
	natsOptions_Destroy(opts);
	if (rc >= 0)
		return rc;
	jsOptions jo;
	jsOptions_Init(&jo);
	jo.Wait = API_WAIT_MS;
	natsStatus s = natsConnection_JetStream(&q->js, q->nc, &jo);
	if (s != NATS_OK) {
		bot_error("nats: JetStream: %s", queue_status_text(s));
		return BOT_EX_UNAVAILABLE;
	}
	return -1;
}

void queue_close(struct bot_queue *q)
{
	jsCtx_Destroy(q->js);
	q->js = NULL;
	if (q->nc) {
		q->closing = 1;
		natsConnection_Close(q->nc);
		natsConnection_Destroy(q->nc);
		q->nc = NULL;
	}
	/* libnats' threads are gone after this: no callback writes any more */
	nats_CloseAndWait(2000);
	bot_writer_free(q->out);
	q->out = NULL;
	pthread_mutex_destroy(&q->out_lock);
}

/* Wait before trying again: RETRY_FIRST_MS, doubling to RETRY_MAX_MS. */
static void retry_wait(long long *wait_ms)
{
	*wait_ms = *wait_ms ? *wait_ms * 2 : RETRY_FIRST_MS;
	if (*wait_ms > RETRY_MAX_MS)
		*wait_ms = RETRY_MAX_MS;
	bot_sleep_ms(*wait_ms);
}

int queue_ensure_stream(struct bot_queue *q, const char *stream, const char *subject,
                        int work_queue, long long *window_ms)
{
	long long wait = 0;
	if (window_ms)
		*window_ms = q->dup_window_ms;
	for (;;) {
		jsStreamInfo *si = NULL;
		jsErrCode jerr = 0;
		natsStatus s = js_GetStreamInfo(&si, q->js, stream, NULL, &jerr);
		if (s == NATS_OK && window_ms && si->Config && si->Config->Duplicates > 0)
			*window_ms = si->Config->Duplicates / 1000000;
		jsStreamInfo_Destroy(si);
		if (s == NATS_OK)
			return 0;
		if (s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) {
			const char *subjects[] = { subject };
			jsStreamConfig sc;
			jsStreamConfig_Init(&sc);
			sc.Name = stream;
			sc.Subjects = subjects;
			sc.SubjectsLen = 1;
			sc.Retention = work_queue ? js_WorkQueuePolicy : js_LimitsPolicy;
			sc.Storage = js_FileStorage;
			sc.Duplicates = q->dup_window_ms * 1000000LL;
			s = js_AddStream(&si, q->js, &sc, NULL, &jerr);
			jsStreamInfo_Destroy(si);
			if (s == NATS_OK || jerr == JSStreamNameExistErr)
				return 0;   /* made, or another worker made it first */
		}
		if (!transient(s) || bot_stop) {
			bot_error("stream %s (%s): %s", stream, subject, queue_status_text(s));
			return -1;
		}
		retry_wait(&wait);
	}
}

natsSubscription *queue_pull(struct bot_queue *q, const char *stream, const char *subject)
{
	jsSubOptions so;
	jsSubOptions_Init(&so);
	so.Stream = stream;
	so.Config.Durable = q->durable;
	so.Config.AckPolicy = js_AckExplicit;
	so.Config.AckWait = q->ack_wait_ms * 1000000LL;
	so.Config.MaxDeliver = -1;
	so.Config.MaxAckPending = 100000;
	long long wait = 0;
	for (;;) {
		natsSubscription *sub = NULL;
		jsErrCode jerr = 0;
		natsStatus s = js_PullSubscribe(&sub, q->js, subject, q->durable, NULL, &so, &jerr);
		if (s == NATS_OK)
			return sub;
		if (!transient(s) || bot_stop) {
			bot_error("consumer %s on %s: %s", q->durable, stream, queue_status_text(s));
			return NULL;
		}
		retry_wait(&wait);
	}
}

int queue_publish(struct bot_queue *q, const char *subject, const char *data, int len,
                  const char *msgid)
{
	jsPubOptions po;
	jsPubOptions_Init(&po);
	po.MsgId = msgid;
	po.MaxWait = PUBLISH_WAIT_MS;
	long long wait = 0;
	for (;;) {
		jsPubAck *ack = NULL;
		jsErrCode jerr = 0;
		natsStatus s = js_Publish(&ack, q->js, subject, data, len, &po, &jerr);
		if (s == NATS_OK) {
			int dup = ack->Duplicate;
			jsPubAck_Destroy(ack);
			return dup;
		}
		/* JetStream not ready yet after a restart answers with an error
		 * of its own: worth waiting for too */
		if ((!transient(s) && jerr != JSNotEnabledErr) || bot_stop) {
			bot_error("%s: publish%s%s: %s", subject, msgid ? " " : "", msgid ? msgid : "",
			          queue_status_text(s));
			return -1;
		}
		retry_wait(&wait);
	}
}

int queue_fetch(struct bot_queue *q, natsSubscription *sub, natsMsgList *list, int batch,
                long long timeout_ms)
{
	(void)q;
	*list = (natsMsgList){ 0 };
	natsStatus s;
	if (timeout_ms > 0)
		s = natsSubscription_Fetch(list, sub, batch, timeout_ms, NULL);
	else {
		jsFetchRequest fr;
		jsFetchRequest_Init(&fr);
		fr.Batch = batch;
		fr.NoWait = true;
		fr.Expires = 1000000000LL;   /* the library wants one; NoWait answers at once */
		s = natsSubscription_FetchRequest(list, sub, &fr);
	}
	if (s == NATS_OK)
		return list->Count;
	if (s != NATS_TIMEOUT && s != NATS_NOT_FOUND) {
		/* the server is away (reconnecting) or busy: not an error of ours */
		bot_debug("fetch: %s", queue_status_text(s));
		if (timeout_ms <= 0)
			bot_sleep_ms(50);
		else
			bot_sleep_ms(timeout_ms < 250 ? timeout_ms : 250);
	}
	return 0;
}

int queue_ack(struct bot_queue *q, natsMsg *m)
{
	(void)q;
	jsErrCode jerr = 0;
	natsStatus s = natsMsg_AckSync(m, NULL, &jerr);
	if (s == NATS_OK)
		return 0;
	uint64_t seq, n;
	queue_msg_meta(m, &seq, &n);
	bot_warn("ack of message %llu: %s (it comes again)", (unsigned long long)seq,
	         queue_status_text(s));
	return -1;
}

jv queue_msg_event(natsMsg *m)
{
	const char *data = natsMsg_GetData(m);
	int len = natsMsg_GetDataLength(m);
	if (!data || len <= 0)
		return bot_fail("empty");
	if (bot_has_line_break(data, (size_t)len))
		return bot_fail("not one line");
	if (!bot_utf8_valid(data, (size_t)len))
		return bot_fail("invalid UTF-8");
	jv ev = jv_parse_sized(data, len);
	if (!jv_is_valid(ev)) {
		jv msg = jv_invalid_get_msg(ev);
		jv r = bot_fail("not valid JSON: %s", jv_get_kind(msg) == JV_KIND_STRING ?
		                jv_string_value(msg) : "?");
		jv_free(msg);
		return r;
	}
	if (jv_get_kind(ev) != JV_KIND_OBJECT || !bot_str(ev, "type")) {
		jv_free(ev);
		return bot_fail("not an event (an object with a \"type\" string)");
	}
	return ev;
}

const char *queue_msg_id(natsMsg *m)
{
	const char *v = NULL;
	if (natsMsgHeader_Get(m, "Nats-Msg-Id", &v) != NATS_OK)
		return NULL;
	return v && *v ? v : NULL;
}

void queue_msg_meta(natsMsg *m, uint64_t *seq, uint64_t *delivered)
{
	jsMsgMetaData *md = NULL;
	*seq = *delivered = 0;
	if (natsMsg_GetMetaData(&md, m) == NATS_OK) {
		*seq = md->Sequence.Stream;
		*delivered = md->NumDelivered;
	}
	jsMsgMetaData_Destroy(md);
}
