/* rules.c and share/bot.jq: compiled once, errors in one line, the stream
 * goes on, reply() builds what bot_build_reply builds. */
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include "dispatch.h"
#include "unit.h"

struct got {
	jv outs;
	char err[512];
	int errors;
};

static void on_emit(void *ctx, jv out)
{
	struct got *g = ctx;
	g->outs = jv_array_append(g->outs, out);
}

static void on_error(void *ctx, const char *rule, jv msg)
{
	struct got *g = ctx;
	jv s = jv_get_kind(msg) == JV_KIND_STRING ? msg : jv_dump_string(msg, 0);
	snprintf(g->err, sizeof g->err, "%s: %s", rule, jv_string_value(s));
	jv_free(s);
	g->errors++;
}

static char share[PATH_MAX];

/* The outputs of program on input, as compact JSON lines joined by " ". */
static const char *run(const char *program, const char *input)
{
	static char out[4096];
	struct bot_rules *r = bot_rules_new(share);
	jv err = jv_invalid();
	if (bot_rules_add(r, "-e #1", program, &err) < 0) {
		char m[512];
		snprintf(out, sizeof out, "compile: %s", bot_fail_message(err, m, sizeof m));
		jv_free(err);
		bot_rules_free(r);
		return out;
	}
	struct got g = { jv_array(), "", 0 };
	jv ev = jv_parse(input);
	bot_rules_run(r, ev, on_emit, on_error, &g);
	jv_free(ev);
	out[0] = 0;
	jv_array_foreach(g.outs, i, o) {
		jv s = jv_dump_string(o, 0);
		strcat(out, i ? " " : "");
		strncat(out, jv_string_value(s), sizeof out - strlen(out) - 1);
		jv_free(s);
	}
	if (g.errors) {
		strcat(out, " error ");
		strcat(out, g.err);
	}
	jv_free(g.outs);
	bot_rules_free(r);
	return out;
}

/* reply("hi") from bot.jq against bot_build_reply, byte for byte. */
static int same_reply(const char *msg, const char *opts, int private_, int threaded, int mention)
{
	char prog[256];
	snprintf(prog, sizeof prog, "reply(\"hi\"; %s)", opts);
	const char *jqout = run(prog, msg);
	jv c = bot_build_reply(jv_parse(msg), "hi", private_, threaded, mention);
	jv s = jv_dump_string(c, 0);
	int same = !strcmp(jqout, jv_string_value(s));
	if (!same)
		printf("#   jq: %s\n#   C:  %s\n", jqout, jv_string_value(s));
	jv_free(s);
	return same;
}

int main(int argc, char **argv)
{
	(void)argc;
	char self[PATH_MAX], path[PATH_MAX * 2];
	snprintf(self, sizeof self, "%s", argv[0]);
	snprintf(path, sizeof path, "%s/../../share", dirname(self));
	if (!realpath(path, share) && !realpath("share", share))
		return 1;

	const char *room = "{\"type\":\"message\",\"id\":\"m1\",\"backend\":\"text\","
	                   "\"from\":{\"kind\":\"occupant\",\"id\":\"#ops/bob\",\"room\":\"#ops\",\"nick\":\"bob\"},"
	                   "\"to\":{\"kind\":\"room\",\"id\":\"#ops\"},\"body\":\"!deploy status web\"}";
	const char *dm = "{\"type\":\"message\",\"id\":\"m2\",\"from\":{\"kind\":\"person\",\"id\":\"@bob\"},"
	                 "\"to\":{\"kind\":\"person\",\"id\":\"@bot\"},\"body\":\"hello\"}";
	const char *thread = "{\"type\":\"message\",\"id\":\"m3\",\"parent\":{\"id\":\"m0\"},"
	                     "\"from\":{\"kind\":\"person\",\"id\":\"@bob\"},"
	                     "\"to\":{\"kind\":\"room\",\"id\":\"#ops\"},\"body\":\"x\"}";
	CHECK(same_reply(room, "{}", 0, 0, 1), "room reply as bot_build_reply (mention)");
	CHECK(same_reply(room, "{mention: false}", 0, 0, 0), "room reply without mention");
	CHECK(same_reply(room, "{private: true}", 1, 0, 1), "private reply from a room");
	CHECK(same_reply(room, "{threaded: true}", 0, 1, 1), "threaded reply");
	CHECK(same_reply(dm, "{}", 0, 0, 1), "direct reply");
	CHECK(same_reply(thread, "{}", 0, 0, 1), "reply in the thread");

	CHECK_STR(run("select(is_command(\"deploy status\")) | args(\"deploy status\")", room),
	          "\"web\"", "is_command, multi-word, args");
	CHECK_STR(run("select(is_command(\"deploy\")) | args(\"deploy\")", room),
	          "\"status web\"", "one word");
	CHECK_STR(run("is_command(\"echo\")", room), "false", "not that command");
	CHECK_STR(run("is_command(\"hello\")", dm), "false", "no prefix");
	CHECK_STR(run(".command = {text: \"hello  you \"} | [is_command(\"hello\"), args]", dm),
	          "[true,\"you\"]", ".command.text from bot-dispatch");
	CHECK_STR(run("react(\"thumbsup\") | .reaction_name", room), "\"thumbsup\"", "react");
	CHECK_STR(run("reply_card({title: \"T\", fields: [[\"k\",\"v\"]]}) | [.type, .to.id, .color, .title, .fields[0][1]]", room),
	          "[\"card\",\"#ops\",\"green\",\"T\",\"v\"]", "reply_card");
	CHECK_STR(run("import \"bot\" as bot; bot::reply(\"x\") | .body", dm), "\"x\"", "import \"bot\" as bot");
	CHECK_STR(run("1, (.body | . + 1), 3", dm),
	          "1 error -e #1: string (\"hello\") and number (1) cannot be added",
	          "runtime error: earlier outputs kept, the message named");
	CHECK_STR(run(".x | $missing", dm),
	          "compile: -e #1: $missing is not defined at <top-level>, line 1:",
	          "compile error in one line");
	CHECK_STR(run("error({a: 1})", dm), " error -e #1: {\"a\":1}", "error(object)");

	/* one jq_state, many events, an error between */
	struct bot_rules *r = bot_rules_new(share);
	jv err = jv_invalid();
	CHECK(bot_rules_add(r, "r1", "select(.n > 1) | .n", &err) == 0, "compiles");
	CHECK(bot_rules_add(r, "r2", "if .n == 2 then error(\"boom\") else .n * 10 end", &err) == 0,
	      "second rule");
	CHECK(bot_rules_count(r) == 2, "two rules");
	struct got g = { jv_array(), "", 0 };
	for (int n = 1; n <= 3; n++) {
		jv ev = JV_OBJECT(jv_string("n"), jv_number(n));
		bot_rules_run(r, ev, on_emit, on_error, &g);
		jv_free(ev);
	}
	jv s = jv_dump_string(g.outs, 0);
	CHECK_STR(jv_string_value(s), "[10,2,3,30]", "rules in order, stream goes on after an error");
	CHECK_STR(g.err, "r2: boom", "error named");
	jv_free(s);
	jv_free(err);
	bot_rules_free(r);

	/* Which rules skip jq for the events they rule out, with the shipped
	 * bot.jq (which must not switch guards off: a change to it did once). */
	static const struct { const char *rule; int guarded; } guards[] = {
		{ "select(.type == \"message\" and (.body | test(\"deploy\"))) | {type: \"y\", to}", 1 },
		{ "select(\"message\" == .type)", 1 },
		{ "select(.body | test(\"deploy\"))", 1 },
		{ "select(.type == \"message\" and .n == \"1\" or .n == \"2\")", 0 },
		{ "select(.type == \"message\" and .body | test(\"deploy\"))", 0 },
		{ "select(.type == \"message\" and (.body | test(\"de.*y\")))", 0 },
		{ "select(.type == \"message\") as $x | $x", 0 },
		{ "(select(.type == \"message\"))", 0 },
	};
	r = bot_rules_new(share);
	for (size_t i = 0; i < sizeof guards / sizeof *guards; i++) {
		jv e = jv_invalid();
		CHECK(bot_rules_add(r, "g", guards[i].rule, &e) == 0, "guard rule compiles");
		jv_free(e);
		char what[200];
		snprintf(what, sizeof what, "%s a guard: %s", guards[i].guarded ? "has" : "has no",
		         guards[i].rule);
		CHECK(bot_rules_guarded(r, (int)i) == guards[i].guarded, what);
	}
	bot_rules_free(r);
	return unit_done();
}
