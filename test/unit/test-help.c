/* help.c: headers read without running, errbot's !help layout. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>
#include "dispatch.h"
#include "unit.h"

static char dir[] = "/tmp/test-help-XXXXXX";

static const char *put(const char *name, const char *text)
{
	static char path[256];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

static const char *help_of(const char *name, const char *text, struct bot_help *h)
{
	const char *p = put(name, text);
	bot_help_read(p, h);
	return h->help;
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	struct bot_help h;
	CHECK_STR(help_of("deploy", "#!/bin/sh\n# help: Deploy a service.\n# help: Second line.\n"
	                  "# usage: deploy SERVICE [ENV]\n# admin-only: yes\necho hi\n", &h),
	          "Deploy a service.\nSecond line.", "help lines joined");
	CHECK_STR(h.usage, "deploy SERVICE [ENV]", "usage");
	CHECK(h.admin_only && !h.hidden, "admin-only");
	bot_help_clear(&h);
	CHECK_STR(help_of("py", "#!/usr/bin/env python3\n\"\"\"doc\"\"\"\n#help:x\n", &h), "x",
	          "no blank needed");
	bot_help_clear(&h);
	CHECK_STR(help_of("js", "#!/usr/bin/node\n// help: from js\n// hidden: true\n", &h),
	          "from js", "// comments");
	CHECK(h.hidden, "hidden");
	bot_help_clear(&h);
	CHECK(help_of("none", "#!/bin/sh\necho help: not a comment\n", &h) == NULL, "code is not help");
	bot_help_clear(&h);
	char late[2048] = "#!/bin/sh\n";
	for (int i = 0; i < 40; i++)
		strcat(late, ":\n");
	strcat(late, "# help: too late\n");
	CHECK(help_of("late", late, &h) == NULL, "only the first 30 lines");
	bot_help_clear(&h);
	put("bin.help", "help: A binary.\nusage: bin X\n");
	CHECK_STR(help_of("bin", "\x7f" "ELF\x01\x01\x01", &h), "A binary.", "sidecar .help");
	bot_help_clear(&h);
	CHECK_STR(help_of("ctl", "# help: a\x1b[31m red\n", &h), "a [31m red", "control characters blanked");
	bot_help_clear(&h);

	struct bot_help_entry e[] = {
		{ "status", "builtin", "If I am alive I should be able to respond to this one", 0 },
		{ "echo", "builtin", "A simple echo command. Useful for encoding tests etc ...", 0 },
		{ "deploy_status", "ops", "Show a deployment.\nMore text.", 0 },
		{ "deploy", "ops", NULL, 0 },
		{ "secret", "ops", "hidden one", 1 },
		{ "long", "ops", "123456789 123456789 123456789 123456789 123456789 123456789 "
		                  "123456789 123456789 123456789", 0 },
	};
	jv t = bot_help_text("!", e, 6, "");
	CHECK_STR(jv_string_value(t),
	          "### All commands\n"
	          "\n**builtin**\n\n\n\n"
	          "- **!echo** - A simple echo command. Useful for encoding tests etc ...\n"
	          "- **!status** - If I am alive I should be able to respond to this one\n"
	          "\n**ops**\n\n\n\n"
	          "- **!deploy** - (undocumented)\n"
	          "- **!deploy status** - Show a deployment.\n"
	          "- **!long** - 123456789 123456789 123456789 123456789 123456789 123456789 123456789 1234567...\n"
	          "\n\n",
	          "!help: sections sorted, commands sorted, hidden skipped, 77+...");
	jv_free(t);
	t = bot_help_text("!", e, 6, "OPS");
	CHECK(strstr(jv_string_value(t), "\n**ops**\n") && strstr(jv_string_value(t), "!deploy") &&
	      !strstr(jv_string_value(t), "!secret"), "!help SECTION lists it, hidden left out");
	jv_free(t);
	t = bot_help_text("!", e, 6, "deploy status");
	CHECK_STR(jv_string_value(t), "- **!deploy status** - Show a deployment.\nMore text.\n",
	          "!help CMD: full doc");
	jv_free(t);
	t = bot_help_text("!", e, 6, "Deploy_Status");
	CHECK_STR(jv_string_value(t), "- **!deploy status** - Show a deployment.\nMore text.\n",
	          "!help CMD: lower-cased, _ form");
	jv_free(t);
	t = bot_help_text("!", e, 6, "beurk");
	CHECK_STR(jv_string_value(t), "That command is not defined.", "!help unknown");
	jv_free(t);
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd))
		return 1;
	return unit_done();
}
