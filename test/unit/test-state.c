/* Unit tests for lib/state.c: the instance state store. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bot.h"
#include "state.h"
#include "unit.h"

static char base[] = "/tmp/test-state.XXXXXX";

static void test_put_get(void)
{
	char dir[4096];
	jv err = jv_null();
	CHECK(bot_state_dir("telegram@work", dir, sizeof dir, &err) == 0, "the folder is made");
	char want[4200];
	snprintf(want, sizeof want, "%s/botpipe/telegram@work", base);
	CHECK_STR(dir, want, "under $XDG_STATE_HOME/botpipe/BACKEND@PROFILE");
	struct stat st;
	CHECK(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700, "mode 0700");

	jv v = bot_state_get(dir, "offset", 64);
	CHECK(jv_get_kind(v) == JV_KIND_NULL, "a key never put is null");
	jv_free(v);
	CHECK(bot_state_put(dir, "offset", "41", 2, &err) == 0, "put");
	CHECK(bot_state_put(dir, "offset", "42", 2, &err) == 0, "put again");
	v = bot_state_get(dir, "offset", 64);
	CHECK_STR(jv_get_kind(v) == JV_KIND_STRING ? jv_string_value(v) : "?", "42", "the last value is read");
	jv_free(v);
	v = bot_state_get(dir, "offset", 1);
	CHECK(!jv_is_valid(v), "a value over max is an error");
	jv_free(v);

	CHECK(bot_state_put(dir, "../x", "1", 1, &err) < 0, "a key ../x is refused");
	jv_free(err);
	err = jv_null();
	CHECK(bot_state_put(dir, ".hidden", "1", 1, &err) < 0, "a key starting with a dot is refused");
	jv_free(err);
	err = jv_null();
	CHECK(bot_state_dir("../etc", dir, sizeof dir, &err) < 0, "an instance ../etc is refused");
	jv_free(err);
	err = jv_null();
}

static void test_hostile(void)
{
	char dir[4096], path[4300];
	jv err = jv_null();
	bot_state_dir("irc", dir, sizeof dir, &err);
	snprintf(path, sizeof path, "%s/cursor", dir);
	CHECK(symlink("/etc/passwd", path) == 0, "a symlink planted as a key");
	jv v = bot_state_get(dir, "cursor", 1 << 20);
	CHECK(!jv_is_valid(v), "is not followed on read");
	jv_free(v);
	CHECK(bot_state_put(dir, "cursor", "1", 1, &err) == 0, "a put replaces the link itself");
	struct stat st;
	CHECK(lstat(path, &st) == 0 && S_ISREG(st.st_mode), "with a file of ours");
	CHECK(stat("/etc/passwd", &st) == 0 && st.st_size > 1, "and the target is untouched");

	chmod(dir, 0777);
	CHECK(bot_state_dir("irc", dir, sizeof dir, &err) < 0, "a folder others may write is refused");
	char msg[512];
	bot_fail_message(err, msg, sizeof msg);
	CHECK(strstr(msg, "chmod go-w") != NULL, "naming the fix");
	jv_free(err);
	err = jv_null();
	chmod(dir, 0700);
	if (geteuid() == 0) {
		CHECK(chown(dir, 65534, 65534) == 0, "a folder given to nobody");
		CHECK(bot_state_dir("irc", dir, sizeof dir, &err) < 0, "is refused (not ours)");
		jv_free(err);
		err = jv_null();
	}
}

int main(void)
{
	if (!mkdtemp(base))
		return 1;
	setenv("XDG_STATE_HOME", base, 1);
	test_put_get();
	test_hostile();
	char cmd[256];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
	if (system(cmd) != 0)
		return 1;
	return unit_done();
}
