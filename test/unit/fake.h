/* The loopback fake HTTP/WebSocket server (test/fake-http.py) for the
 * unit tests of libbothttp: started from a JSON script, it records what it
 * receives in fake_log and listens on fake_port. */
#ifndef UNIT_FAKE_H
#define UNIT_FAKE_H

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t fake_pid;
static int fake_port;
static char fake_log[300];

static const char *fake_path(void)
{
	static char p[600];
	const char *env = getenv("BOT_FAKE_HTTP");
	if (env)
		return env;
	if (access("test/fake-http.py", R_OK) == 0)
		return "test/fake-http.py";
	snprintf(p, sizeof p, "%s", __FILE__);
	char *slash = strrchr(p, '/');
	if (slash)
		snprintf(slash, sizeof p - (size_t)(slash - p), "/../fake-http.py");
	return access(p, R_OK) == 0 ? p : NULL;
}

/* Start the fake in dir with script, logging to dir/log_name, with up to
 * four more arguments (NULL-terminated).  0 once its port is known. */
static int fake_run(const char *dir, const char *script, const char *log_name,
                    const char *const *extra)
{
	const char *py = fake_path();
	if (!py)
		return -1;
	char portfile[300];
	snprintf(portfile, sizeof portfile, "%s/port", dir);
	snprintf(fake_log, sizeof fake_log, "%s/%s", dir, log_name);
	unlink(portfile);
	unlink(fake_log);
	const char *argv[16] = {"python3", py, "--port-file", portfile, "--log", fake_log,
	                        "--script-json", script};
	int n = 8;
	for (int i = 0; extra && extra[i] && n < 15; i++)
		argv[n++] = extra[i];
	fake_pid = fork();
	if (fake_pid == 0) {
		/* A test that crashes takes its fake with it. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		execv("/usr/bin/python3", (char *const *)argv);
		_exit(127);
	}
	for (int i = 0; i < 100; i++) {
		FILE *f = fopen(portfile, "r");
		if (f) {
			int ok = fscanf(f, "%d", &fake_port) == 1;
			fclose(f);
			if (ok)
				return 0;
		}
		usleep(50000);
	}
	return -1;
}

static void fake_stop(void)
{
	if (fake_pid > 0) {
		kill(fake_pid, SIGTERM);
		waitpid(fake_pid, NULL, 0);
		fake_pid = 0;
	}
}

#endif
