/* test-session: the session socket: a request gets its one answer, in
 * order; a live session is not taken over, a stale one is; modes. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend.h"
#include "session.h"
#include "unit.h"

/* Answer {"type":"sent","ref":<body>} for each request. */
static jv echo(void *ctx, jv req, unsigned long long ticket)
{
	(void)ticket;
	int *served = ctx;
	(*served)++;
	return JV_OBJECT(jv_string("type"), jv_string("sent"), jv_string("ref"), bot_get(req, "body"));
}

/* A child that serves until it answered n requests (counted by echo). */
static pid_t serve_child(struct bot_session *s, int *served, int n)
{
	pid_t pid = fork();
	if (pid)
		return pid;
	struct bot_session *mine = s;
	alarm(10);
	while (*served < n) {
		struct pollfd fds[BOT_SESSION_CLIENTS + 1];
		int k = bot_session_pollfds(mine, fds, BOT_SESSION_CLIENTS + 1);
		poll(fds, (nfds_t)k, 1000);
		bot_session_ready(mine, fds, k);
	}
	bot_session_close(mine);
	_exit(0);
}

/* A backend whose server and nick name its connection, and whose rate
 * does not. */
static const struct bot_option fake_opts[] = {
	{ "fake-server", 0, BOT_OPT_STR | BOT_OPT_IDENTITY, "HOST", NULL, "" },
	{ "fake-nick", 0, BOT_OPT_STR | BOT_OPT_IDENTITY, "NICK", NULL, "" },
	{ "fake-rate", 0, BOT_OPT_STR, "N", NULL, "" },
	BOT_OPTIONS_END
};
static const struct bot_backend fake = { .size = sizeof(struct bot_backend), .abi = BOT_BACKEND_ABI, .name = "fake", .options = fake_opts };

static void path_for(char *buf, size_t n, const char *server, const char *nick, const char *rate,
                     const char *profile)
{
	struct bot_config cfg = { .backend = &fake };
	cfg.values = JV_OBJECT(jv_string("fake-server"), jv_string(server), jv_string("fake-nick"),
	                       jv_string(nick), jv_string("fake-rate"), jv_string(rate));
	char instance[64];
	if (profile) {
		/* as bot_config names an instance given as -b fake@PROFILE */
		snprintf(instance, sizeof instance, "fake@%s", profile);
		cfg.instance = instance;
		cfg.values = jv_object_set(cfg.values, jv_string("profile"), jv_string(profile));
	}
	if (bot_session_path(&cfg, buf, n) != 0)
		buf[0] = 0;
	jv_free(cfg.values);
}

/* The socket's name tells connections apart by the identity settings. */
static void test_identity(void)
{
	char a[4096], b[4096];
	setenv("XDG_RUNTIME_DIR", "/run/me", 1);
	path_for(a, sizeof a, "irc.example:6667", "bot", "1", NULL);
	CHECK(!strncmp(a, "/run/me/botpipe/fake-", 21) && strlen(a) == 21 + 16 + 5, "DIR/BACKEND-HASH.sock");
	path_for(b, sizeof b, "irc.example:6667", "bot", "5", NULL);
	CHECK_STR(a, b, "a setting that is not identity does not change it");
	path_for(b, sizeof b, "irc.example:6667", "other", "1", NULL);
	CHECK(strcmp(a, b) != 0, "another nick: another socket");
	path_for(b, sizeof b, "other.example:6667", "bot", "1", NULL);
	CHECK(strcmp(a, b) != 0, "another server: another socket");
	path_for(b, sizeof b, "irc.example:6667", "bot", "1", "work");
	CHECK(!strncmp(b, "/run/me/botpipe/fake@work-", 26), "a profile is in the name");
	unsetenv("XDG_RUNTIME_DIR");
	setenv("TMPDIR", "/var/tmp", 1);
	path_for(b, sizeof b, "irc.example:6667", "bot", "1", NULL);
	char want[64];
	snprintf(want, sizeof want, "/var/tmp/botpipe-%u/", (unsigned)getuid());
	if (access("/run/user", F_OK) != 0)
		CHECK(!strncmp(b, want, strlen(want)), "no XDG_RUNTIME_DIR: ${TMPDIR:-/tmp}/botpipe-UID");
	CHECK_STR(strrchr(a, '/'), strrchr(b, '/'), "...with the same name");
	unsetenv("TMPDIR");
}

int main(void)
{
	test_identity();
	signal(SIGPIPE, SIG_IGN);   /* as bot_init does */
	char dir[] = "/tmp/test-session-XXXXXX", path[200];
	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof path, "%s/botpipe/irc.sock", dir);
	int served = 0;
	jv err = jv_invalid();

	CHECK(bot_session_connect(path) == NULL, "no session: connect says so");
	struct bot_session *s = bot_session_listen(path, 0, echo, &served, &err);
	CHECK(s != NULL, "listen");
	struct stat st;
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "socket is 0600");
	char d[200];
	snprintf(d, sizeof d, "%s/botpipe", dir);
	CHECK(stat(d, &st) == 0 && (st.st_mode & 0777) == 0700, "its folder is 0700");

	jv err2 = jv_invalid();
	CHECK(bot_session_listen(path, 0, echo, &served, &err2) == NULL, "a live session is not taken over");
	CHECK(jv_invalid_has_msg(jv_copy(err2)), "...and says why");
	jv_free(err2);

	pid_t child = serve_child(s, &served, 3);
	struct bot_session_client *c = bot_session_connect(path);
	CHECK(c != NULL, "connect");
	const char *bodies[] = { "one", "two", "three" };
	for (int i = 0; i < 3; i++) {
		jv req = JV_OBJECT(jv_string("type"), jv_string("message"), jv_string("to"), jv_string("#ops"),
		                   jv_string("body"), jv_string(bodies[i]));
		jv ans = bot_session_call(c, req, 5000);
		CHECK_STR(bot_str(ans, "ref"), bodies[i], "each request gets its own answer, in order");
		if (!bot_str(ans, "ref")) { char b[300]; printf("# %s\n", bot_fail_message(ans, b, sizeof b)); }
		jv_free(ans);
		jv_free(req);
	}
	int status;
	waitpid(child, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the server answered three");
	/* the server side is gone: the call says so instead of hanging */
	bot_session_close(s);
	jv req = JV_OBJECT(jv_string("type"), jv_string("message"), jv_string("body"), jv_string("x"));
	jv ans = bot_session_call(c, req, 2000);
	CHECK(!jv_is_valid(ans), "a session that went away is a failure");
	jv msg = jv_invalid_get_msg(ans);
	CHECK(bot_true(msg, "temporary"), "...a temporary one (act on your own connection)");
	jv_free(msg);
	jv_free(req);
	bot_session_disconnect(c);
	CHECK(access(path, F_OK) != 0, "close removes the socket");

	/* a stale socket (its bot-listen killed) is replaced */
	s = bot_session_listen(path, 0, echo, &served, &err);
	/* a crash: the listening fd closed, the socket file left behind */
	struct bot_session *again;
	struct pollfd one;
	bot_session_pollfds(s, &one, 1);
	close(one.fd);
	again = bot_session_listen(path, 0, echo, &served, &err);
	CHECK(again != NULL, "a stale socket is replaced");
	bot_session_close(again);
	free(s);   /* its fd was closed above */
	jv_free(err);
	rmdir(d);
	rmdir(dir);
	return unit_done();
}
