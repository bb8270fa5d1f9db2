/* argv.c: POSIX quoting, no expansion, shlex's errors. */
#include "dispatch.h"
#include "unit.h"

/* The words of text joined by "|", or the error message. */
static const char *split(const char *text)
{
	static char out[1024];
	jv w = bot_split_args(text, strlen(text));
	if (!jv_is_valid(w)) {
		bot_fail_message(w, out, sizeof out);
		jv_free(w);
		return out;
	}
	out[0] = 0;
	jv_array_foreach(w, i, s) {
		strcat(out, i ? "|" : "");
		strcat(out, jv_string_value(s));
		jv_free(s);
	}
	jv_free(w);
	return out;
}

int main(void)
{
	CHECK_STR(split("a b  c"), "a|b|c", "blanks separate words");
	CHECK_STR(split("  a\tb\nc  "), "a|b|c", "tabs and newlines separate too");
	CHECK_STR(split(""), "", "no words");
	CHECK_STR(split("'a b' c"), "a b|c", "single quotes keep blanks");
	CHECK_STR(split("'a\\b'"), "a\\b", "backslash is literal in single quotes");
	CHECK_STR(split("\"a \\\"b\\\" \\\\ \\$x \\`y\\` \\n\""), "a \"b\" \\ $x `y` \\n",
	          "double quotes: \\\" \\\\ \\$ \\` escape, \\n stays");
	CHECK_STR(split("a\\ b"), "a b", "backslash escapes a blank");
	CHECK_STR(split("a\\\nb"), "ab", "backslash-newline joins");
	CHECK_STR(split("'' \"\" x"), "||x", "empty quotes make empty words");
	CHECK_STR(split("pre'mid'\"post\""), "premidpost", "adjacent parts make one word");
	CHECK_STR(split("$(id)"), "$(id)", "$(id) is literal");
	CHECK_STR(split("`id`"), "`id`", "backticks are literal");
	CHECK_STR(split("; rm -rf /"), ";|rm|-rf|/", "; is a plain character");
	CHECK_STR(split("a|b&&c>d"), "a|b&&c>d", "operators are plain characters");
	CHECK_STR(split("~ * $HOME ${x}"), "~|*|$HOME|${x}", "no tilde, glob or variable expansion");
	CHECK_STR(split("\"$HOME\""), "$HOME", "no expansion in double quotes");
	CHECK_STR(split("#not a comment"), "#not|a|comment", "# is no comment");
	CHECK_STR(split("'open"), "No closing quotation", "unterminated single quote");
	CHECK_STR(split("\"open"), "No closing quotation", "unterminated double quote");
	CHECK_STR(split("x\\"), "No escaped character", "trailing backslash");
	CHECK_STR(split("\xe2\x80\x9c" "a b" "\xe2\x80\x9d"), "a b", "curly double quotes quote");
	CHECK_STR(split("\xe2\x80\x98" "a b" "\xe2\x80\x99"), "a b", "curly single quotes quote");
	CHECK_STR(split("\xe2\x80\x94" "name x"), "--name|x", "em dash becomes --");
	CHECK_STR(split("\xe3\x81\xb8\xe3\x82\x88"), "\xe3\x81\xb8\xe3\x82\x88", "UTF-8 kept");
	jv w = bot_split_args("a\0b", 3);
	CHECK(!jv_is_valid(w), "a NUL is refused");
	jv_free(w);
	w = bot_split_words("\xe2\x80\x9c" "a b", 6);
	CHECK(jv_array_length(w) == 2, "bot_split_words leaves curly quotes alone");
	return unit_done();
}
