/* fuzz-config: the config file parser.  The input is written to a file
 * that BOT_CONFIG names; bot_config_load reads it with a table that has
 * every option type, and the backend option (only text is built in).
 * The profile is "p", so [p] sections count too. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"

/* A broken promise: say which, then crash so that libFuzzer keeps the input. */
static void fail(const char *why)
{
	fprintf(stderr, "FAILED PROMISE: %s\n", why);
	abort();
}

extern const struct bot_backend bot_backend_text;
static const struct bot_backend *const builtin[] = { &bot_backend_text, NULL };

static const struct bot_option opts[] = {
	{ "backend", 'b', BOT_OPT_STR, "NAME", "text", "backend" },
	{ "flag", 'f', BOT_OPT_FLAG, NULL, NULL, "a flag" },
	{ "str", 's', BOT_OPT_STR, "S", "x", "a string" },
	{ "num", 'n', BOT_OPT_INT, "N", "3", "a number" },
	{ "list", 'l', BOT_OPT_LIST, "X", NULL, "a list" },
	{ "token", 0, BOT_OPT_SECRET, NULL, NULL, "a secret" },
	BOT_OPTIONS_END
};

static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(path, sizeof path, "/tmp/fuzz-config.%ld", (long)getpid());
	setenv("BOT_CONFIG", path, 1);
	setenv("BOT_PROFILE", "p", 1);
	/* never load a module: nothing on this path */
	setenv("BOT_BACKEND_PATH", "/nonexistent", 1);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		fail("cannot write the config file");
	close(fd);
	struct bot_config cfg = { .prog = "fuzz", .synopsis = "", .about = "", .opts = opts };
	char *argv[] = { "fuzz", NULL };
	int rc = bot_config_load(&cfg, 1, argv, builtin);
	if (rc == -1) {
		(void)bot_cfg_str(&cfg, "str");
		(void)bot_cfg_int(&cfg, "num", 0);
		(void)bot_cfg_flag(&cfg, "flag");
		jv_free(bot_cfg_list(&cfg, "list"));
	} else if (rc != BOT_EX_CONFIG && rc != BOT_EX_USAGE) {
		fail("a bad file is a config error, nothing else");
	}
	bot_config_free(&cfg);
	unlink(path);
	return 0;
}
