/* history.c: errbot's cmd_history: per person, the last BOT_HISTORY_MAX
 * (command, args) pairs, an identical pair moved to the end. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bot.h"
#include "dispatch.h"

struct bot_history {
	jv people;   /* person -> [[name, args], ...], oldest first; the
	                person who asked longest ago first */
	int n;       /* people (jv_object_length counts by walking) */
};

/* "nick!user@host" -> "user@host"; NULL when s is no such mask. */
static const char *mask_user_host(const char *s)
{
	const char *bang = s ? strchr(s, '!') : NULL;
	if (!bang || bang == s || !bang[1])
		return NULL;
	const char *at = strchr(bang + 1, '@');
	return at && at > bang + 1 && at[1] ? bang + 1 : NULL;
}

const char *bot_history_key(jv from, char *buf, size_t n)
{
	const char *account = bot_str(from, "account");
	const char *mask = mask_user_host(bot_str(from, "client"));
	if (!mask)
		mask = mask_user_host(bot_str(from, "aclattr"));
	const char *person = bot_ident_person(from);
	/* each kind of key its own mark, so that no person's id is a mask's */
	if (account && *account)
		snprintf(buf, n, "account:%s", account);
	else if (mask)
		snprintf(buf, n, "mask:%s", mask);
	else
		snprintf(buf, n, "id:%s", person ? person : "");
	return buf;
}

struct bot_history *bot_history_new(void)
{
	struct bot_history *h = calloc(1, sizeof *h);
	if (!h)
		abort();
	h->people = jv_object();
	return h;
}

void bot_history_free(struct bot_history *h)
{
	if (!h)
		return;
	jv_free(h->people);
	free(h);
}

static jv entries(const struct bot_history *h, const char *person)
{
	jv e = jv_object_get(jv_copy(h->people), jv_string(person ? person : ""));
	if (jv_get_kind(e) != JV_KIND_ARRAY) {
		jv_free(e);
		return jv_array();
	}
	return e;
}

void bot_history_add(struct bot_history *h, const char *person, const char *name,
                     const char *args)
{
	jv pair = JV_ARRAY(jv_string(name), jv_string(args ? args : ""));
	jv old = entries(h, person), kept = jv_array();
	jv_array_foreach(old, i, e) {
		if (jv_equal(jv_copy(e), jv_copy(pair)))
			jv_free(e);
		else
			kept = jv_array_append(kept, e);
		(void)i;
	}
	jv_free(old);
	kept = jv_array_append(kept, pair);
	int n = jv_array_length(jv_copy(kept));
	if (n > BOT_HISTORY_MAX)
		kept = jv_array_slice(kept, n - BOT_HISTORY_MAX, n);
	jv key = jv_string(person ? person : "");
	/* to the end of the insertion order */
	if (jv_object_has(jv_copy(h->people), jv_copy(key)))
		h->people = jv_object_delete(h->people, jv_copy(key));
	else
		h->n++;
	h->people = jv_object_set(h->people, key, kept);
	if (h->n > BOT_HISTORY_PEOPLE_MAX) {
		int it = jv_object_iter(h->people);
		h->people = jv_object_delete(h->people, jv_object_iter_key(h->people, it));
		h->n--;
	}
}

int bot_history_get(const struct bot_history *h, const char *person, long n,
                    const char **name, const char **args)
{
	jv e = entries(h, person);
	long len = jv_array_length(jv_copy(e));
	long idx = n < 0 ? len - 1 : n == 0 ? 0 : len - n;
	int ok = len > 0 && n >= -1 && idx >= 0 && idx < len;
	if (ok) {
		/* the strings live in h->people, which keeps them */
		jv pair = jv_array_get(jv_copy(e), (int)idx);
		jv a = jv_array_get(jv_copy(pair), 0), b = jv_array_get(pair, 1);
		*name = jv_string_value(a);
		*args = jv_string_value(b);
		jv_free(a);
		jv_free(b);
	}
	jv_free(e);
	return ok;
}

jv bot_history_text(const struct bot_history *h, const char *person, const char *prefix)
{
	jv e = entries(h, person), text = jv_string("");
	int len = jv_array_length(jv_copy(e));
	jv_array_foreach(e, i, pair) {
		jv a = jv_array_get(jv_copy(pair), 0), b = jv_array_get(pair, 1);
		text = jv_string_append_str(text, i ? "\n" : "");
		text = jv_string_concat(text, jv_string_fmt("%2d:%s%s %s", len - i, prefix,
		                                            jv_string_value(a), jv_string_value(b)));
		jv_free(a);
		jv_free(b);
	}
	jv_free(e);
	return text;
}
