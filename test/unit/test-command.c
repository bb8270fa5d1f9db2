/* command.c and history.c: errbot's command finding, not-found text,
 * difflib's ratio, history. */
#include <math.h>
#include "dispatch.h"
#include "unit.h"

static const char *const known[] = {
	"echo", "help", "deploy", "deploy_status", "multi_word_cmd", "history", "whoami",
	"status", "uptime", "run_lots_of_subcommands", NULL
};

static int exists(void *ctx, const char *name)
{
	(void)ctx;
	for (const char *const *k = known; *k; k++)
		if (!strcmp(*k, name))
			return 1;
	return 0;
}

static struct bot_cmd_opts opts(void)
{
	struct bot_cmd_opts o = { .prefix = "!", .alt_prefixes = jv_null(), .exists = exists };
	return o;
}

/* "name|args", "recall N", "notfound word|next", or "none". */
static const char *parse(const struct bot_cmd_opts *o, const char *body, int direct)
{
	static char out[512];
	struct bot_cmd c;
	bot_cmd_parse(o, body, direct, &c);
	switch (c.kind) {
	case BOT_CMD_NONE: snprintf(out, sizeof out, "none"); break;
	case BOT_CMD_FOUND: snprintf(out, sizeof out, "%s|%s", c.name, c.args); break;
	case BOT_CMD_RECALL: snprintf(out, sizeof out, "recall %ld", c.recall); break;
	case BOT_CMD_NOT_FOUND:
		snprintf(out, sizeof out, "notfound %s|%s", c.word, c.next ? c.next : "(none)");
		break;
	}
	bot_cmd_clear(&c);
	return out;
}

static const char *not_found(const char *word, const char *next)
{
	static char out[512];
	jv names = jv_array();
	for (const char *const *k = known; *k; k++)
		names = jv_array_append(names, jv_string(*k));
	jv t = bot_cmd_not_found("!", word, next, names);
	snprintf(out, sizeof out, "%s", jv_string_value(t));
	jv_free(t);
	jv_free(names);
	return out;
}

static int near(double a, double b) { return fabs(a - b) < 1e-9; }

static void test_history(void)
{
	struct bot_history *h = bot_history_new();
	const char *n, *a;
	CHECK(!bot_history_get(h, "@bob", -1, &n, &a), "empty history: !! is nothing");
	jv t = bot_history_text(h, "@bob", "!");
	CHECK_STR(jv_string_value(t), "", "empty history: no text");
	jv_free(t);
	bot_history_add(h, "@bob", "echo", "one");
	bot_history_add(h, "@bob", "help", "");
	bot_history_add(h, "@bob", "echo", "two");
	bot_history_add(h, "@bob", "echo", "one");   /* moves to the end */
	bot_history_add(h, "@eve", "whoami", "");
	t = bot_history_text(h, "@bob", "!");
	CHECK_STR(jv_string_value(t), " 3:!help \n 2:!echo two\n 1:!echo one",
	          "history: oldest first, deduplicated, trailing space without args");
	jv_free(t);
	CHECK(bot_history_get(h, "@bob", -1, &n, &a) && !strcmp(n, "echo") && !strcmp(a, "one"),
	      "!! is the last");
	CHECK(bot_history_get(h, "@bob", 2, &n, &a) && !strcmp(a, "two"), "!2 the second latest");
	CHECK(bot_history_get(h, "@bob", 0, &n, &a) && !strcmp(n, "help"), "!0 the oldest");
	CHECK(!bot_history_get(h, "@bob", 4, &n, &a), "!4 out of range");
	CHECK(bot_history_get(h, "@eve", -1, &n, &a) && !strcmp(n, "whoami"), "per person");
	for (int i = 0; i < 15; i++) {
		char arg[8];
		snprintf(arg, sizeof arg, "%d", i);
		bot_history_add(h, "@bob", "echo", arg);
	}
	CHECK(bot_history_get(h, "@bob", 10, &n, &a) && !strcmp(a, "5"), "10 kept");
	CHECK(!bot_history_get(h, "@bob", 11, &n, &a), "no 11th");
	for (int i = 0; i < BOT_HISTORY_PEOPLE_MAX; i++) {
		char who[32];
		snprintf(who, sizeof who, "@p%d", i);
		bot_history_add(h, who, "echo", "x");
		if (i == 10)
			bot_history_add(h, "@bob", "help", "");   /* bob asked recently */
	}
	CHECK(bot_history_get(h, "@bob", -1, &n, &a) && !strcmp(n, "help"),
	      "people cap: a recent asker is kept");
	CHECK(!bot_history_get(h, "@eve", -1, &n, &a), "people cap: the longest idle is forgotten");
	CHECK(!bot_history_get(h, "@p0", -1, &n, &a) && bot_history_get(h, "@p1", -1, &n, &a),
	      "people cap: evicted in order of last use");
	bot_history_free(h);
}

int main(void)
{
	struct bot_cmd_opts o = opts();
	CHECK_STR(parse(&o, "!echo hi there", 0), "echo|hi there", "prefix, command, args");
	CHECK_STR(parse(&o, "!echo", 0), "echo|", "no args");
	CHECK_STR(parse(&o, "!  echo   a   b  ", 0), "echo|a   b", "args verbatim (HEAD), trimmed");
	CHECK_STR(parse(&o, "!echo\nfoo\nbar", 0), "echo|foo\nbar", "newline separates (HEAD)");
	CHECK_STR(parse(&o, "!echo foo\nbar", 0), "echo|foo\nbar", "newlines kept in args");
	CHECK_STR(parse(&o, "echo hi", 0), "none", "no prefix: chatter");
	CHECK_STR(parse(&o, "echo hi", 1), "none", "no prefix in a DM: chatter by default");
	CHECK_STR(parse(&o, "!ECHO hi", 0), "notfound ECHO|hi", "case-sensitive");
	CHECK_STR(parse(&o, "!deploy status web", 0), "deploy_status|web", "longest match");
	CHECK_STR(parse(&o, "!deploy_status web", 0), "deploy_status|web", "_ form");
	CHECK_STR(parse(&o, "!deploy web", 0), "deploy|web", "one word");
	CHECK_STR(parse(&o, "!multi word cmd x y", 0), "multi_word_cmd|x y", "three words");
	CHECK_STR(parse(&o, "!run lots of subcommands with these args", 0),
	          "run_lots_of_subcommands|with these args", "errbot's test");
	CHECK_STR(parse(&o, "!!", 0), "recall -1", "!! recalls");
	CHECK_STR(parse(&o, "!2 whatever", 0), "recall 2", "!N recalls");
	CHECK_STR(parse(&o, "!0", 0), "recall 0", "!0");
	CHECK_STR(parse(&o, "!", 0), "notfound |(none)", "a lone prefix");
	CHECK_STR(parse(&o, "!foo bar baz", 0), "notfound foo|bar", "not found");
	CHECK_STR(parse(&o, "!../../bin/sh", 0), "notfound ../../bin/sh|(none)", "traversal refused");
	CHECK_STR(parse(&o, "!.hidden", 0), "notfound .hidden|(none)", "dot file refused");
	CHECK(!bot_cmd_name_safe("a/b") && !bot_cmd_name_safe("..") && !bot_cmd_name_safe(".x") &&
	      !bot_cmd_name_safe("-x") && !bot_cmd_name_safe("a\x01") && !bot_cmd_name_safe("") &&
	      !bot_cmd_name_safe("\xc3\xa9") && !bot_cmd_name_safe("a.b"),
	      "unsafe names");
	CHECK(bot_cmd_name_safe("deploy_status") && bot_cmd_name_safe("x-1"), "safe names");
	char longname[BOT_CMD_NAME_MAX + 2];
	memset(longname, 'a', sizeof longname - 1);
	longname[sizeof longname - 1] = 0;
	CHECK(!bot_cmd_name_safe(longname), "too long");

	o.prefix_optional = 1;
	CHECK_STR(parse(&o, "echo hi", 1), "echo|hi", "optional prefix in a DM");
	CHECK_STR(parse(&o, "!echo hi", 1), "echo|hi", "optional prefix: prefix still works");
	CHECK_STR(parse(&o, "echo hi", 0), "none", "optional prefix: not in a room");
	CHECK_STR(parse(&o, "hello there", 1), "notfound hello|there", "optional prefix: not found");
	o.prefix_optional = 0;

	o.alt_prefixes = JV_ARRAY(jv_string("Err"), jv_string("Errbot"));
	o.separators = ":,;";
	CHECK_STR(parse(&o, "Err echo hi", 0), "echo|hi", "alt prefix");
	CHECK_STR(parse(&o, "Err, echo hi", 0), "echo|hi", "alt prefix, separator");
	CHECK_STR(parse(&o, "Errbot: echo hi", 0), "echo|hi", "longest alt prefix");
	CHECK_STR(parse(&o, "Err:,echo", 0), "echo|", "separators once each, in order");
	CHECK_STR(parse(&o, "Err,:echo", 0), "notfound :echo|(none)", "separators not in order");
	CHECK_STR(parse(&o, "Err!echo x", 0), "echo|x", "prefix after alt prefix");
	CHECK_STR(parse(&o, "Errbot: !echo hi", 0), "notfound !echo|hi",
	          "prefix after a blank is not stripped (errbot)");
	CHECK_STR(parse(&o, "Erroneous idea", 0), "none", "word boundary: Erroneous is chatter");
	CHECK_STR(parse(&o, "err echo", 0), "none", "alt prefix case-sensitive by default");
	o.alt_caseless = 1;
	CHECK_STR(parse(&o, "ERRBOT: echo hi", 0), "echo|hi", "caseless alt prefix");
	jv_free(o.alt_prefixes);
	o.alt_prefixes = JV_ARRAY(jv_string("@bot:"));
	CHECK_STR(parse(&o, "@bot:echo x", 0), "echo|x", "a prefix ending in punctuation needs no blank");
	jv_free(o.alt_prefixes);

	CHECK(near(bot_similarity("help", "hlep"), 0.75), "ratio help/hlep = 0.75");
	CHECK(near(bot_similarity("abcd", "bcde"), 0.75), "ratio abcd/bcde");
	CHECK(near(bot_similarity("", ""), 1.0), "ratio of empties");
	CHECK(near(bot_similarity("echo", "xyz"), 0.0), "ratio of strangers");
	CHECK(near(bot_similarity("deploy status", "deploy stat"), 2.0 * 11 / 24), "ratio prefix");
	CHECK(near(bot_similarity("\xc3\xa9" "cho", "echo"), 0.75), "ratio by code points");

	CHECK_STR(not_found("foo", "bar"), "Command \"foo\" / \"foo bar\" not found.", "two words");
	CHECK_STR(not_found("", NULL), "Command \"\" not found.", "empty");
	CHECK_STR(not_found("hlep", NULL), "Command \"hlep\" not found.\n\nDid you mean \"!help\" ?",
	          "one suggestion");
	CHECK_STR(not_found("deploy", "stat"),
	          "Command \"deploy\" / \"deploy stat\" not found.\n\nDid you mean \"!deploy\" or \"!deploy status\" ?",
	          "suggestions sorted by score then name, _ shown as space");
	CHECK_STR(not_found("statu", NULL),
	          "Command \"statu\" not found.\n\nDid you mean \"!status\" ?", "status");
	test_history();

	char span[64];
	bot_format_timedelta(span, sizeof span, 0);
	CHECK_STR(span, "0 seconds", "uptime: 0 seconds");
	bot_format_timedelta(span, sizeof span, 59);
	CHECK_STR(span, "59 seconds", "uptime: seconds");
	bot_format_timedelta(span, sizeof span, 61);
	CHECK_STR(span, "1 minutes", "uptime: minutes, seconds dropped, no singular");
	bot_format_timedelta(span, sizeof span, 7200 + 30);
	CHECK_STR(span, "2 hours", "uptime: hours");
	bot_format_timedelta(span, sizeof span, 3600 + 13 * 60);
	CHECK_STR(span, "1 hours and 13 minutes", "uptime: errbot's test, 1h13m");
	bot_format_timedelta(span, sizeof span, 2 * 86400 + 60);
	CHECK_STR(span, "48 hours and 1 minutes", "uptime: days as hours");
	return unit_done();
}
