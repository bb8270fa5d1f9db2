/* Unit tests for lib/outbox.c: the maildir-style spool. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bot.h"
#include "outbox.h"
#include "unit.h"

static char root[256];

static int count_files(const char *dir, const char *sub)
{
	char cmd[600];
	snprintf(cmd, sizeof cmd, "ls -A '%s/%s' 2>/dev/null | wc -l", dir, sub);
	FILE *p = popen(cmd, "r");
	int n = -1;
	if (p) {
		if (fscanf(p, "%d", &n) != 1)
			n = -1;
		pclose(p);
	}
	return n;
}

/* Open (making it) the outbox at dir; a failed open fails the test run. */
static struct bot_outbox *ob_open(const char *dir)
{
	jv err = jv_invalid();
	struct bot_outbox *ob = bot_outbox_open(dir, 1, &err);
	if (!ob) {
		char why[512];
		printf("# %s\n", bot_fail_message(err, why, sizeof why));
		jv_free(err);
		CHECK(0, "the outbox opens");
		exit(unit_done());
	}
	return ob;
}

static jv msg(int i)
{
	return JV_OBJECT(jv_string("type"), jv_string("message"),
	                 jv_string("to"), jv_string("#ops"),
	                 jv_string("body"), jv_string_fmt("message %d \u00e9\n\"x\"", i));
}

static void test_put_list_take_done(void)
{
	char dir[300];
	snprintf(dir, sizeof dir, "%s/a/b/outbox", root);
	jv err = jv_invalid();
	CHECK(bot_outbox_open(dir, 0, &err) == NULL, "a missing outbox does not open without create");
	char code[64];
	CHECK_STR(bot_fail_code_of(err, code, sizeof code), "no_input", "its code is no_input");
	jv_free(err);
	struct bot_outbox *ob = ob_open(dir);
	jv l = bot_outbox_list(ob);
	CHECK(jv_is_valid(l) && jv_array_length(jv_copy(l)) == 0, "a new outbox (and its parents) is made, empty");
	jv_free(l);
	struct stat pst;
	char parent[300];
	snprintf(parent, sizeof parent, "%s/a/b", root);
	CHECK(stat(parent, &pst) == 0 && (pst.st_mode & 0777) == 0700, "a parent it made is private (0700)");

	int ok = 1;
	for (int i = 0; i < 5; i++)
		ok &= bot_outbox_put(ob, msg(i)) == 0;
	CHECK(ok, "five puts succeed");
	CHECK(count_files(dir, "new") == 5 && count_files(dir, "tmp") == 0,
	      "five files in new/, none left in tmp/");

	struct stat st;
	CHECK(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700, "the outbox is private (0700)");

	l = bot_outbox_list(ob);
	CHECK(jv_array_length(jv_copy(l)) == 5, "list shows five");
	jv e0 = jv_array_get(jv_copy(l), 0);
	CHECK(strncmp(jv_string_value(e0), "new/", 4) == 0, "entries are new/NAME");

	/* Take the first: it moves to cur/ and reads back equal. */
	struct bot_outbox_item it, it2;
	jv ev = bot_outbox_take(ob, jv_string_value(e0), &it);
	CHECK(jv_equal(jv_copy(ev), msg(0)), "take returns the first event put, unchanged");
	jv_free(ev);
	CHECK(count_files(dir, "cur") == 1 && count_files(dir, "new") == 4, "take moved it to cur/");

	/* A flush that dies here (its lock goes with it): the next listing
	 * still has it, first. */
	bot_outbox_release(&it);
	jv l2 = bot_outbox_list(ob);
	jv f = jv_array_get(jv_copy(l2), 0);
	CHECK(jv_array_length(jv_copy(l2)) == 5 && strncmp(jv_string_value(f), "cur/", 4) == 0
	      && strcmp(jv_string_value(f) + 4, jv_string_value(e0) + 4) == 0,
	      "after a crash mid-send the entry is listed again (from cur/), still first");
	ev = bot_outbox_take(ob, jv_string_value(f), &it);
	CHECK(jv_equal(jv_copy(ev), msg(0)), "taking from cur/ reads it again");
	jv_free(ev);
	ev = bot_outbox_take(ob, jv_string_value(f), &it2);
	CHECK(jv_get_kind(ev) == JV_KIND_NULL && it2.fd < 0,
	      "while it is held, another take skips it (null)");
	CHECK(bot_outbox_done(ob, &it) == 0 && it.fd < 0, "done succeeds and unlocks");
	ev = bot_outbox_take(ob, jv_string_value(f), &it2);
	CHECK(jv_get_kind(ev) == JV_KIND_NULL, "a delivered entry cannot be taken again");
	CHECK(count_files(dir, "cur") == 0, "done removed it");
	jv_free(f);
	jv_free(l2);
	jv_free(e0);
	jv_free(l);

	/* The rest come out oldest first. */
	l = bot_outbox_list(ob);
	int order = jv_array_length(jv_copy(l)) == 4;
	for (int i = 0; i < 4 && order; i++) {
		jv e = jv_array_get(jv_copy(l), i);
		ev = bot_outbox_take(ob, jv_string_value(e), &it);
		order = jv_equal(ev, msg(i + 1)) && bot_outbox_done(ob, &it) == 0;
		jv_free(e);
	}
	jv_free(l);
	CHECK(order, "the others come out oldest first");
	l = bot_outbox_list(ob);
	CHECK(jv_array_length(l) == 0, "and the outbox is empty");
	bot_outbox_close(ob);
}

static void test_bad_names_and_files(void)
{
	char dir[300], path[400];
	snprintf(dir, sizeof dir, "%s/b", root);
	struct bot_outbox *ob = ob_open(dir);
	struct bot_outbox_item it;
	jv r = bot_outbox_take(ob, "new/../../etc/passwd", &it);
	CHECK(!jv_is_valid(r), "take refuses a path outside the outbox");
	jv_free(r);
	r = bot_outbox_take(ob, "tmp/x", &it);
	CHECK(!jv_is_valid(r), "take refuses tmp/");
	jv_free(r);
	errno = 0;
	snprintf(it.entry, sizeof it.entry, "cur/../x");
	it.fd = open("/dev/null", O_RDONLY);
	CHECK(bot_outbox_done(ob, &it) < 0 && errno == EINVAL && it.fd == -1,
	      "done refuses a bad name (and drops the lock)");

	CHECK(bot_outbox_put(ob, msg(1)) == 0, "put into a fresh outbox");
	snprintf(path, sizeof path, "%s/new/.hidden", dir);
	FILE *fp = fopen(path, "w");
	fputs("junk", fp);
	fclose(fp);
	snprintf(path, sizeof path, "%s/new/0000-corrupt", dir);
	fp = fopen(path, "w");
	fputs("{\"type\":", fp);
	fclose(fp);
	jv l = bot_outbox_list(ob);
	CHECK(jv_array_length(jv_copy(l)) == 2, "dot files are not listed");
	jv e = jv_array_get(jv_copy(l), 0);
	CHECK_STR(jv_string_value(e), "new/0000-corrupt", "names sort (the corrupt one is first)");
	r = bot_outbox_take(ob, jv_string_value(e), &it);
	char buf[200];
	CHECK(!jv_is_valid(r) && strstr(bot_fail_message(r, buf, sizeof buf), "bad/"),
	      "a corrupt file gives an error naming bad/");
	jv_free(r);
	CHECK(count_files(dir, "bad") == 1 && count_files(dir, "cur") == 0,
	      "and is moved to bad/, out of the queue");
	jv_free(e);
	jv_free(l);
	l = bot_outbox_list(ob);
	CHECK(jv_array_length(l) == 1, "the good entry still waits");
	bot_outbox_close(ob);
}

static void test_write_failure(void)
{
	char dir[300];
	snprintf(dir, sizeof dir, "%s/c", root);
	struct bot_outbox *ob = ob_open(dir);
	CHECK(bot_outbox_put(ob, msg(0)) == 0, "put a small event");
	/* Make writes fail past 100 bytes: the put must report it and leave
	 * nothing behind (ENOSPC takes the same path; the bats suite covers
	 * a full file system where it can mount one). */
	struct rlimit old, lim;
	getrlimit(RLIMIT_FSIZE, &old);
	lim = old;
	lim.rlim_cur = 100;   /* the soft limit only, so it can be raised back */
	fflush(stdout);       /* stdout may be a file: it is limited too */
	signal(SIGXFSZ, SIG_IGN);
	setrlimit(RLIMIT_FSIZE, &lim);
	jv big = JV_OBJECT(jv_string("type"), jv_string("message"),
	                   jv_string("body"), jv_string_fmt("%0500d", 7));
	errno = 0;
	int r = bot_outbox_put(ob, big);
	int e = errno;
	setrlimit(RLIMIT_FSIZE, &old);
	CHECK(r == -1 && e == EFBIG, "a failed write returns -1 with errno");
	/* A put killed before its rename leaves tmp/NAME: a listing removes it
	 * once it is old, and never lists it. */
	char stray[400], fresh[400];
	snprintf(stray, sizeof stray, "%s/tmp/1.2.P3R4", dir);
	snprintf(fresh, sizeof fresh, "%s/tmp/5.6.P7R8", dir);
	fclose(fopen(stray, "w"));
	fclose(fopen(fresh, "w"));
	struct timespec old_times[2] = { { time(NULL) - 40 * 3600, 0 }, { time(NULL) - 40 * 3600, 0 } };
	utimensat(AT_FDCWD, stray, old_times, 0);
	jv l = bot_outbox_list(ob);
	CHECK(jv_array_length(l) == 1 && access(stray, F_OK) != 0 && access(fresh, F_OK) == 0,
	      "a listing removes tmp/ files older than 36 hours, keeps newer ones");
	unlink(fresh);
	CHECK(count_files(dir, "tmp") == 0 && count_files(dir, "new") == 1,
	      "and leaves no partial file in tmp/ or new/");

	bot_outbox_close(ob);

	char ro[300], code[64];
	jv err;
	snprintf(ro, sizeof ro, "%s/c/ro", root);
	mkdir(ro, 0500);
	err = jv_invalid();
	ob = bot_outbox_open(ro, 1, &err);
	/* root ignores permissions; only check when they apply */
	if (geteuid() != 0)
		CHECK(!ob && !strcmp(bot_fail_code_of(err, code, sizeof code), "denied"),
		      "an unwritable outbox is denied");
	else
		CHECK(ob != NULL, "root may write anywhere");
	jv_free(err);
	bot_outbox_close(ob);
}

/* Write-ahead: hold puts the event in cur/, locked by this process. */
static void test_hold(void)
{
	char dir[300];
	snprintf(dir, sizeof dir, "%s/d", root);
	struct bot_outbox *ob = ob_open(dir);
	struct bot_outbox_item it, other;
	CHECK(bot_outbox_hold(ob, msg(9), &it) == 0 && it.fd >= 0, "hold stores and locks");
	CHECK(strncmp(it.entry, "cur/", 4) == 0 && count_files(dir, "cur") == 1
	      && count_files(dir, "new") == 0 && count_files(dir, "tmp") == 0,
	      "the held entry is in cur/");
	jv l = bot_outbox_list(ob);
	jv e = jv_array_get(jv_copy(l), 0);
	CHECK_STR(jv_string_value(e), it.entry, "it is listed (a flush elsewhere sees it)");
	pid_t pid = fork();
	if (pid == 0) {
		/* another process: a cron flush while bot-send is sending */
		struct bot_outbox_item x;
		struct bot_outbox *mine = ob_open(dir);
		jv r = bot_outbox_take(mine, jv_string_value(e), &x);
		int skipped = jv_get_kind(r) == JV_KIND_NULL;
		jv_free(r);
		bot_outbox_close(mine);
		bot_outbox_close(ob);
		jv_free(e);
		jv_free(l);
		_exit(skipped ? 0 : 1);
	}
	int status;
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "another process skips an entry this one holds");

	/* The holder dies (kill -9): its lock goes, the entry stays. */
	pid = fork();
	if (pid == 0) {
		struct bot_outbox_item x;
		bot_outbox_hold(ob, msg(10), &x);
		kill(getpid(), SIGKILL);
		_exit(1);
	}
	waitpid(pid, &status, 0);
	bot_outbox_release(&it);
	jv_free(e);
	jv_free(l);
	l = bot_outbox_list(ob);
	int n = jv_array_length(jv_copy(l)), got = 0;
	for (int i = 0; i < n; i++) {
		e = jv_array_get(jv_copy(l), i);
		jv ev = bot_outbox_take(ob, jv_string_value(e), &other);
		if (jv_equal(ev, i == 0 ? msg(9) : msg(10)) && bot_outbox_done(ob, &other) == 0)
			got++;
		jv_free(e);
	}
	jv_free(l);
	CHECK(n == 2 && got == 2, "after its holder died (or let go), a flush takes each, in order");
	CHECK(count_files(dir, "cur") == 0, "and the outbox is empty");

	CHECK(bot_outbox_hold(ob, msg(11), &it) == 0, "hold again");
	CHECK(bot_outbox_keep(ob, &it) == 0 && it.fd < 0, "keep syncs it and lets go");
	l = bot_outbox_list(ob);
	e = jv_array_get(jv_copy(l), 0);
	jv ev = bot_outbox_take(ob, jv_string_value(e), &other);
	CHECK(jv_array_length(jv_copy(l)) == 1 && jv_equal(ev, msg(11)), "a kept entry waits for the next flush");
	bot_outbox_done(ob, &other);
	jv_free(e);
	jv_free(l);
	bot_outbox_close(ob);
}

/* The failure of opening dir (create set), or "" when it opens. */
static const char *open_refusal(const char *dir, char *buf, size_t n)
{
	jv err = jv_invalid();
	struct bot_outbox *ob = bot_outbox_open(dir, 1, &err);
	buf[0] = 0;
	if (!ob)
		bot_fail_message(err, buf, n);
	jv_free(err);
	bot_outbox_close(ob);
	return buf;
}

/* Whom the outbox trusts: folders of ours nobody else writes, and inside
 * them regular files of ours, never reached through a symlink. */
static void test_trust(void)
{
	char dir[300], path[400], why[512], want[700];
	snprintf(dir, sizeof dir, "%s/open", root);
	mkdir(dir, 0777);
	chmod(dir, 0777);
	snprintf(want, sizeof want, "outbox %s: others may write it (mode 777): refused; chmod go-w", dir);
	CHECK_STR(open_refusal(dir, why, sizeof why), want, "a folder others may write is refused, naming the fix");
	chmod(dir, 0770);
	CHECK(strstr(open_refusal(dir, why, sizeof why), "others may write it (mode 770)") != NULL,
	      "so is one its group may write");
	chmod(dir, 0755);
	CHECK_STR(open_refusal(dir, why, sizeof why), "", "a folder of ours others may only read opens");
	if (geteuid() == 0) {
		snprintf(dir, sizeof dir, "%s/theirs", root);
		mkdir(dir, 0700);
		CHECK(chown(dir, 65534, 65534) == 0, "chown to nobody");
		snprintf(want, sizeof want, "outbox %s: owned by uid 65534, not by us (uid 0): refused; use a folder of our own", dir);
		CHECK_STR(open_refusal(dir, why, sizeof why), want, "a folder another user owns is refused");
	}

	/* new/ a symlink to a folder elsewhere */
	char elsewhere[300];
	snprintf(elsewhere, sizeof elsewhere, "%s/elsewhere", root);
	mkdir(elsewhere, 0700);
	snprintf(dir, sizeof dir, "%s/linked", root);
	mkdir(dir, 0700);
	snprintf(path, sizeof path, "%s/new", dir);
	CHECK(symlink(elsewhere, path) == 0, "new/ made a symlink");
	snprintf(want, sizeof want, "outbox %s/new: a symlink, not a folder: refused; remove it", dir);
	CHECK_STR(open_refusal(dir, why, sizeof why), want, "a symlink for new/ is refused");

	/* Entries that are not regular files of ours, in an outbox of ours:
	 * each is moved to bad/ unread, and the good one still comes out. */
	snprintf(dir, sizeof dir, "%s/entries", root);
	struct bot_outbox *ob = ob_open(dir);
	char secret[300];
	snprintf(secret, sizeof secret, "%s/secret.json", root);
	FILE *fp = fopen(secret, "w");
	fputs("{\"type\":\"message\",\"to\":\"#ops\",\"body\":\"SECRET-CONTENT\"}\n", fp);
	fclose(fp);
	chmod(secret, 0600);
	snprintf(path, sizeof path, "%s/new/0001-symlink", dir);
	CHECK(symlink(secret, path) == 0, "a symlink to a private file planted in new/");
	snprintf(path, sizeof path, "%s/new/0002-fifo", dir);
	CHECK(mkfifo(path, 0600) == 0, "a FIFO planted in new/");
	snprintf(path, sizeof path, "%s/new/0003-hardlink", dir);
	CHECK(link(secret, path) == 0, "a hard link to the private file planted in new/");
	int planted = 3;
	if (geteuid() == 0) {
		snprintf(path, sizeof path, "%s/new/0004-theirs", dir);
		fp = fopen(path, "w");
		fputs("{\"type\":\"message\",\"to\":\"#ops\",\"body\":\"x\"}\n", fp);
		fclose(fp);
		CHECK(chown(path, 65534, 65534) == 0, "a file of another user planted in new/");
		planted++;
	}
	CHECK(bot_outbox_put(ob, msg(5)) == 0, "and one good entry");
	static const char *const expect[] = { "a symlink", "not a regular file", "a hard link", "not our file" };
	jv l = bot_outbox_list(ob);
	int n = jv_array_length(jv_copy(l)), moved = 0, good = 0, leaked = 0;
	for (int i = 0; i < n; i++) {
		jv e = jv_array_get(jv_copy(l), i);
		struct bot_outbox_item it;
		jv ev = bot_outbox_take(ob, jv_string_value(e), &it);
		if (jv_is_valid(ev)) {
			good += jv_equal(jv_copy(ev), msg(5));
			bot_outbox_done(ob, &it);
			jv_free(ev);
		} else {
			bot_fail_message(ev, why, sizeof why);
			leaked |= strstr(why, "SECRET") != NULL;
			if (i < planted && strstr(why, expect[i]) && strstr(why, "not read (moved to bad/)"))
				moved++;
			else
				printf("# %s\n", why);
			jv_free(ev);
		}
		jv_free(e);
	}
	jv_free(l);
	CHECK(n == planted + 1 && moved == planted && good == 1,
	      "each planted entry is refused unread, saying what it is; the good one is delivered");
	CHECK(!leaked, "no error shows what a planted entry points at");
	CHECK(count_files(dir, "bad") == planted && count_files(dir, "new") == 0,
	      "the planted entries are in bad/, out of the queue");
	fp = fopen(secret, "r");
	char back[200] = "";
	CHECK(fp && fgets(back, sizeof back, fp) && strstr(back, "SECRET-CONTENT"),
	      "the file a symlink pointed at is untouched");
	if (fp)
		fclose(fp);
	bot_outbox_close(ob);
}

int main(void)
{
	snprintf(root, sizeof root, "%s/test-outbox.XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	test_put_list_take_done();
	test_bad_names_and_files();
	test_write_failure();
	test_hold();
	test_trust();
	char cmd[400];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", root);
	return unit_done();
}
