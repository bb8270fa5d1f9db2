/* The one failure table: failure -> exit code, failure <-> error event. */
#include <string.h>

#include "bot.h"
#include "failure.h"

/* Permanent failures by code; a code not here is "unavailable" (69). */
static const struct {
	const char *code;
	int exit;
} permanent_exit[] = {
	{"usage", BOT_EX_USAGE},
	{"no_input", BOT_EX_USAGE},
	{"bad_input", BOT_EX_DATAERR},
	{"denied", BOT_EX_NOPERM},
	{"unauthorized", BOT_EX_NOPERM},
	{"bad_config", BOT_EX_CONFIG},
	{"unknown_instance", BOT_EX_USAGE},
	{"bad_template", BOT_EX_CONFIG},
	{"room_not_joined", BOT_EX_ROOM_NOT_JOINED},
	{"room_does_not_exist", BOT_EX_ROOM_DOES_NOT_EXIST},
};

/* The fields of a failure that an error event carries, in this order. */
static const char *const carried[] = {"code", "message", "temporary", "retry_after", "scope", "status"};

/* A failure's object (a new reference): a bare message becomes
 * {code:"send_failed", message, temporary:false}. */
static jv failure_object(jv failure)
{
	jv msg = jv_invalid_get_msg(failure);
	if (jv_get_kind(msg) == JV_KIND_OBJECT)
		return bot_str(msg, "code") ? msg : jv_object_set(msg, jv_string("code"), jv_string("send_failed"));
	jv o = jv_object();
	o = jv_object_set(o, jv_string("code"), jv_string("send_failed"));
	if (jv_get_kind(msg) == JV_KIND_STRING)
		o = jv_object_set(o, jv_string("message"), msg);
	else
		jv_free(msg);
	return jv_object_set(o, jv_string("temporary"), jv_false());
}

int bot_fail_exit(jv failure)
{
	if (jv_is_valid(failure))
		return BOT_EX_OK;
	jv o = failure_object(jv_copy(failure));
	int ex = BOT_EX_UNAVAILABLE;
	const char *code = bot_str(o, "code");
	if (bot_true(o, "temporary"))
		ex = BOT_EX_TEMPFAIL;
	else
		for (size_t i = 0; code && i < sizeof permanent_exit / sizeof *permanent_exit; i++)
			if (!strcmp(code, permanent_exit[i].code))
				ex = permanent_exit[i].exit;
	jv_free(o);
	return ex;
}

double bot_fail_retry_after(jv failure)
{
	if (jv_is_valid(failure))
		return 0;
	jv o = failure_object(jv_copy(failure));
	jv ra = jv_object_get(o, jv_string("retry_after"));
	double s = jv_get_kind(ra) == JV_KIND_NUMBER ? jv_number_value(ra) : 0;
	jv_free(ra);
	return s > 0 ? s : 0;
}

jv bot_fail_with_retry(jv failure, double retry_after, const char *scope)
{
	jv o = failure_object(failure);
	if (retry_after > 0)
		o = jv_object_set(o, jv_string("retry_after"), jv_number(retry_after));
	if (scope)
		o = jv_object_set(o, jv_string("scope"), jv_string(scope));
	return jv_invalid_with_msg(o);
}

jv bot_fail_event(jv failure, jv original)
{
	jv o = failure_object(failure);
	/* bot_error_event masks the message: a server's text may quote a secret */
	jv ev = bot_error_event(bot_str(o, "code"), bot_str(o, "message") ? bot_str(o, "message") : "",
	                        original);
	ev = jv_object_set(ev, jv_string("temporary"), jv_bool(bot_true(o, "temporary")));
	for (size_t i = 3; i < sizeof carried / sizeof *carried; i++) {   /* after temporary */
		jv v = jv_object_get(jv_copy(o), jv_string(carried[i]));
		if (jv_is_valid(v) && jv_get_kind(v) != JV_KIND_NULL)
			ev = jv_object_set(ev, jv_string(carried[i]), v);
		else
			jv_free(v);
	}
	jv_free(o);
	return ev;
}

jv bot_fail_from_event(jv ev)
{
	const char *type = bot_str(ev, "type");
	if (!type || strcmp(type, "error")) {
		jv_free(ev);
		return bot_fail_code("bad_input", 0, "expected an error event");
	}
	jv o = jv_object();
	for (size_t i = 0; i < sizeof carried / sizeof *carried; i++) {
		jv v = jv_object_get(jv_copy(ev), jv_string(carried[i]));
		if (jv_is_valid(v) && jv_get_kind(v) != JV_KIND_NULL)
			o = jv_object_set(o, jv_string(carried[i]), v);
		else
			jv_free(v);
	}
	jv_free(ev);
	if (!bot_str(o, "code"))
		o = jv_object_set(o, jv_string("code"), jv_string("send_failed"));
	if (!bot_str(o, "message"))
		o = jv_object_set(o, jv_string("message"), jv_string(""));
	o = jv_object_set(o, jv_string("temporary"), jv_bool(bot_true(o, "temporary")));
	return jv_invalid_with_msg(o);
}

jv bot_fail_reword(jv failure, const char *prefix)
{
	char why[1024];
	bot_fail_message(failure, why, sizeof why);
	jv msg = jv_invalid_get_msg(failure);
	if (jv_get_kind(msg) != JV_KIND_OBJECT) {
		jv_free(msg);
		return bot_fail("%s%s", prefix, why);
	}
	msg = jv_object_set(msg, jv_string("message"), jv_string_fmt("%s%s", prefix, why));
	return jv_invalid_with_msg(msg);
}
