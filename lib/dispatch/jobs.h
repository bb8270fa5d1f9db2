/* libbot: running commands (plugins) as child processes.  Same ownership
 * rules as bot.h. */
#ifndef BOT_JOBS_H
#define BOT_JOBS_H

#include <poll.h>
#include <stddef.h>
#include <jv.h>

struct bot_job_limits {
	int timeout_ms;          /* whole run; then the process group is killed */
	size_t max_output;       /* bytes of stdout kept; the rest is read and dropped */
	long cpu_seconds;        /* RLIMIT_CPU, 0 = unlimited */
	long memory_mb;          /* RLIMIT_AS, 0 = unlimited */
	long processes;          /* RLIMIT_NPROC, 0 = unlimited */
};

struct bot_job_result {
	int status;              /* exit code; 128+N killed by signal N */
	int timed_out;
	int truncated;           /* stdout was over max_output */
	const char *out;         /* stdout (not NUL-safe: use len) */
	size_t len;
};

struct bot_job_events {
	/* An event the command wrote to fd 3 (consumed), or a bad_input error
	 * event for a bad line. */
	void (*event)(void *ctx, void *tag, jv ev);
	/* The command is over: exited (and its output read) or killed. */
	void (*done)(void *ctx, void *tag, const struct bot_job_result *r);
	void *ctx;
	/* Optional: bot_jobs_free killed the command; no done follows. */
	void (*dropped)(void *ctx, void *tag);
	/* Optional: a bad line on fd 3 (its bad_input error event, consumed)
	 * goes here instead of to event, which then has only what the command
	 * wrote. */
	void (*bad_event)(void *ctx, void *tag, jv ev);
};

struct bot_jobs;
struct bot_jobs *bot_jobs_new(int max, const struct bot_job_limits *limits,
                              const struct bot_job_events *ev);
/* Kills whatever still runs, and what any command left behind. */
void bot_jobs_free(struct bot_jobs *j);
int bot_jobs_running(const struct bot_jobs *j);
int bot_jobs_full(const struct bot_jobs *j);
/* Start path with argv and envp (never through a shell): input on its
 * stdin, fd 3 a pipe for events, stderr inherited, nothing else open; a
 * new process group, and a child subreaper (orphans of its descendants
 * become its children).  0, or -1 and *err.  The first bot_jobs_new
 * makes the calling process a child subreaper too: a child of it that is
 * not a running command (nor one it had before) is killed and reaped as
 * a command's leftover. */
int bot_jobs_start(struct bot_jobs *j, const char *path, char *const argv[],
                   char *const envp[], const char *input, size_t len,
                   void *tag, jv *err);
/* Poll integration: fill fds (at most max) with what to watch; after
 * poll, hand them back.  timeout: ms until the next deadline, -1 none. */
int bot_jobs_pollfds(struct bot_jobs *j, struct pollfd *fds, int max);
void bot_jobs_handle(struct bot_jobs *j, const struct pollfd *fds, int n);
int bot_jobs_timeout(const struct bot_jobs *j);

#endif
