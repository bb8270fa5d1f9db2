/* args.c: the "# args:" header, argparse's errors. */
#include "dispatch.h"
#include "unit.h"

/* spec applied to the words of text: "argv|...; NAME=value ..." (vars
 * sorted), or the error message ("header: ..." for a bad header). */
static const char *parse(const char *spec, const char *text)
{
	static char out[2048];
	jv r = bot_args_parse(spec, bot_split_args(text, strlen(text)));
	if (!jv_is_valid(r)) {
		char msg[1024], code[64];
		bot_fail_message(r, msg, sizeof msg);
		snprintf(out, sizeof out, "%s%s",
		         !strcmp(bot_fail_code_of(r, code, sizeof code), "bad_header") ? "header: " : "",
		         msg);
		jv_free(r);
		return out;
	}
	out[0] = 0;
	jv argv = jv_object_get(jv_copy(r), jv_string("argv"));
	jv_array_foreach(argv, i, w) {
		strcat(out, i ? "|" : "");
		strcat(out, jv_string_value(w));
		jv_free(w);
	}
	jv_free(argv);
	strcat(out, ";");
	jv vars = jv_keys(jv_object_get(jv_copy(r), jv_string("vars")));
	jv all = jv_object_get(r, jv_string("vars"));
	jv_array_foreach(vars, i, k) {
		jv v = jv_object_get(jv_copy(all), jv_copy(k));
		strcat(out, " ");
		strcat(out, jv_string_value(k));
		strcat(out, "=");
		strcat(out, jv_string_value(v));
		jv_free(v);
		jv_free(k);
		(void)i;
	}
	jv_free(vars);
	jv_free(all);
	return out;
}

int main(void)
{
	const char *spec = "SERVICE [ENV=prod] [--force]";
	CHECK_STR(parse(spec, "web"), "web|prod; BOT_ARG_ENV=prod BOT_ARG_FORCE=0 BOT_ARG_SERVICE=web",
	          "a default fills an optional argument");
	CHECK_STR(parse(spec, "--force web test"),
	          "web|test; BOT_ARG_ENV=test BOT_ARG_FORCE=1 BOT_ARG_SERVICE=web",
	          "a flag anywhere; positionals in order");
	CHECK_STR(parse(spec, ""), "the following arguments are required: SERVICE",
	          "a missing required argument, as argparse says it");
	CHECK_STR(parse("A B", ""), "the following arguments are required: A, B",
	          "every missing one is named");
	CHECK_STR(parse(spec, "web prod more"), "unrecognized arguments: more", "one too many");
	CHECK_STR(parse(spec, "web --nope x y"), "unrecognized arguments: --nope y",
	          "an unknown option, then the extra positional");
	CHECK_STR(parse(spec, "web --force=1"), "argument --force: ignored explicit argument '1'",
	          "a flag takes no value");
	CHECK_STR(parse("[--tag=latest]", "--tag"), "argument --tag: expected one argument",
	          "an option without its value");
	CHECK_STR(parse("[--tag=latest]", "--tag=v1"), "; BOT_ARG_TAG=v1", "--name=value");
	CHECK_STR(parse("[--tag=latest]", "--tag v2"), "; BOT_ARG_TAG=v2", "--name value");
	CHECK_STR(parse("[--tag=latest]", ""), "; BOT_ARG_TAG=latest", "an option's default");
	CHECK_STR(parse("X", "-- --force"), "--force; BOT_ARG_X=--force", "-- ends the options");
	CHECK_STR(parse("X", "-"), "-; BOT_ARG_X=-", "a lone - is a positional");
	CHECK_STR(parse("FILES...", "a b c"), "a|b|c; BOT_ARG_FILES=a b c", "NAME... takes the rest");
	CHECK_STR(parse("FILES...", ""), "the following arguments are required: FILES",
	          "NAME... needs one");
	CHECK_STR(parse("[FILES...]", ""), "; BOT_ARG_FILES=", "[NAME...] takes none too");
	CHECK_STR(parse("[opt]", ""), "; BOT_ARG_OPT=", "an optional one without a default is empty");
	CHECK_STR(parse("my-name", "x"), "x; BOT_ARG_MY_NAME=x", "- in a name is _ in its variable");
	CHECK_STR(parse("[A] B", "x"), "header: args: B: a required argument after an optional one",
	          "a required argument after an optional one is the header's fault");
	CHECK_STR(parse("A... B", "x"), "header: args: B: NAME... is the last argument",
	          "NAME... last");
	CHECK_STR(parse("--x", "x"), "header: args: --x: an option is optional: [--NAME]",
	          "an option in brackets");
	CHECK_STR(parse("[A", "x"), "header: args: [A: an optional argument is [NAME], with its ]",
	          "an unclosed bracket");
	CHECK_STR(parse("A=1", "x"),
	          "header: args: A=1: only an optional argument has a default: [NAME=DEFAULT]",
	          "a default only in brackets");
	CHECK_STR(parse("$(id)", "x"),
	          "header: args: $(id): a name is a letter, then letters, digits, _ or -",
	          "a name is a name");
	CHECK_STR(parse("", ""), ";", "an empty header takes nothing");
	CHECK_STR(parse("", "x"), "unrecognized arguments: x", "and refuses anything");
	return unit_done();
}
