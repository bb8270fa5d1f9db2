/* jobs.c: run commands as child processes, many at once, from one poll
 * loop.  SIGCHLD arrives through a signalfd.
 *
 * A timeout (or a command's end) kills everything the command started,
 * also what left its process group (setsid, setpgid):
 *  - each command leads a process group of its own, killed as a whole;
 *  - each command is a child subreaper (PR_SET_CHILD_SUBREAPER, kept
 *    across execve), so while it runs, the orphans of its descendants
 *    become its children: its whole tree hangs under it, and is walked
 *    through /proc/PID/task/TID/children and killed with the group;
 *  - we are a child subreaper too, so when a command is over, what it
 *    left behind becomes our child.  Every child of ours that is not a
 *    running command (nor a child we had before the first command) is
 *    such a leftover: killed with its tree, and reaped by its pid, so
 *    that the waitpid of a command's own pid is never disturbed.
 * Without /proc only the process groups are killed.  A SIGKILL to this
 * process leaves escaped descendants to init: no cgroup is used. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bot.h"
#include "jobs.h"

#define KILL_GRACE_MS 1000   /* between SIGTERM and SIGKILL on a timeout */
#define TREE_MAX 4096        /* processes walked in one command's tree */
#define FOREIGN_MAX 64       /* children we had before the first command */

struct job {
	pid_t pid;
	void *tag;
	int in_fd, out_fd, ev_fd;
	char *input;
	size_t inlen, inoff;
	char *out;
	size_t outlen, outcap;
	int truncated;
	struct bot_reader *evr;
	long long deadline, kill_at;
	int exited, status, timed_out;
};

struct bot_jobs {
	struct job *job;
	int max, n;
	struct bot_job_limits lim;
	struct bot_job_events ev;
	int sigfd;
	sigset_t oldmask;
	pid_t foreign[FOREIGN_MAX];   /* not ours to kill: children from before */
	int nforeign;
};

/* ---- process trees ---- */

/* Append the pids listed in the open file fd ("12 345 "), at most max,
 * to out; returns how many. */
static int read_pids(int fd, pid_t *out, int max)
{
	char buf[4096];
	long cur = 0;
	int n = 0, digits = 0;
	ssize_t len;
	while (n < max && (len = read(fd, buf, sizeof buf)) > 0)
		for (ssize_t i = 0; i < len && n < max; i++) {
			if (buf[i] >= '0' && buf[i] <= '9' && cur < 1L << 30) {
				cur = cur * 10 + (buf[i] - '0');
				digits = 1;
			} else {
				if (digits && cur > 0)
					out[n++] = (pid_t)cur;
				cur = 0;
				digits = 0;
			}
		}
	if (digits && cur > 0 && n < max)
		out[n++] = (pid_t)cur;
	return n;
}

/* The children of pid (of all its threads), at most max; 0 when /proc
 * cannot say. */
static int children_of(pid_t pid, pid_t *out, int max)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	int n = 0;
	for (struct dirent *e; d && n < max && (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		char file[128];
		snprintf(file, sizeof file, "/proc/%d/task/%.20s/children", (int)pid, e->d_name);
		int fd = open(file, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			n += read_pids(fd, out + n, max - n);
			close(fd);
		}
	}
	if (d)
		closedir(d);
	return n;
}

/* Signal root and every process under it, parents first (a parent that
 * dies hands its children on to its subreaper, where the next sweep
 * finds them).  As any walk of /proc, a pid read here could die and be
 * reused before the kill: the window is the walk's few microseconds. */
static void kill_tree(pid_t root, int sig)
{
	pid_t tree[TREE_MAX];
	int n = 1;
	tree[0] = root;
	for (int i = 0; i < n && n < TREE_MAX; i++)
		n += children_of(tree[i], tree + n, TREE_MAX - n);
	for (int i = 0; i < n; i++)
		kill(tree[i], sig);
}

static int is_running_command(const struct bot_jobs *j, pid_t pid)
{
	for (int i = 0; i < j->n; i++)
		if (j->job[i].pid == pid && !j->job[i].exited)
			return 1;
	for (int i = 0; i < j->nforeign; i++)
		if (j->foreign[i] == pid)
			return 1;
	return 0;
}

/* Kill what commands left behind (our children that are not running
 * commands), and reap what of it has died.  wait: block until each is
 * reaped. Returns how many there were. */
static int sweep_leftovers(struct bot_jobs *j, int wait)
{
	pid_t kids[256];
	int n = children_of(getpid(), kids, 256), found = 0;
	for (int i = 0; i < n; i++) {
		if (is_running_command(j, kids[i]))
			continue;
		found++;
		kill_tree(kids[i], SIGKILL);
		waitpid(kids[i], NULL, wait ? 0 : WNOHANG);
	}
	return found;
}

struct bot_jobs *bot_jobs_new(int max, const struct bot_job_limits *limits,
                              const struct bot_job_events *ev)
{
	struct bot_jobs *j = calloc(1, sizeof *j);
	if (!j)
		abort();
	j->max = max > 0 ? max : 1;
	j->job = calloc((size_t)j->max, sizeof *j->job);
	if (!j->job)
		abort();
	j->lim = *limits;
	j->ev = *ev;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, &j->oldmask);
	j->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	j->nforeign = children_of(getpid(), j->foreign, FOREIGN_MAX);
	prctl(PR_SET_CHILD_SUBREAPER, 1L, 0L, 0L, 0L);
	return j;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void job_release(struct job *jb)
{
	close_fd(&jb->in_fd);
	close_fd(&jb->out_fd);
	close_fd(&jb->ev_fd);
	bot_reader_free(jb->evr);
	free(jb->input);
	free(jb->out);
	memset(jb, 0, sizeof *jb);
}

void bot_jobs_free(struct bot_jobs *j)
{
	if (!j)
		return;
	for (int i = 0; i < j->n; i++) {
		kill(-j->job[i].pid, SIGKILL);
		kill_tree(j->job[i].pid, SIGKILL);
		waitpid(j->job[i].pid, NULL, 0);
		if (j->ev.dropped)
			j->ev.dropped(j->ev.ctx, j->job[i].tag);
		job_release(&j->job[i]);
	}
	j->n = 0;
	/* each round kills and reaps what the last one orphaned */
	for (int round = 0; round < 100 && sweep_leftovers(j, 1); round++)
		;
	close(j->sigfd);
	sigprocmask(SIG_SETMASK, &j->oldmask, NULL);
	free(j->job);
	free(j);
}

int bot_jobs_running(const struct bot_jobs *j) { return j->n; }
int bot_jobs_full(const struct bot_jobs *j) { return j->n >= j->max; }

static void set_limit(int resource, long value)
{
	if (value <= 0)
		return;
	/* CPU: the hard limit a second later, so that the command first gets
	 * SIGXCPU, which says why it died, and SIGKILL only if it ignores it */
	struct rlimit rl = { (rlim_t)value, (rlim_t)value + (resource == RLIMIT_CPU) };
	setrlimit(resource, &rl);
}

static void say(const char *s)
{
	if (write(2, s, strlen(s)) < 0)
		_exit(127);
}

/* In the child of vfork(): it shares the parent's memory until execve, so
 * only system calls here, nothing that writes memory the parent uses.
 * Wire fds 0, 1, 3, close the rest, set limits, exec. */
static void child_exec(const struct bot_jobs *j, const char *path, char *const argv[],
                       char *const envp[], int in_r, int out_w, int ev_w)
{
	struct sigaction dfl;
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	setpgid(0, 0);
	/* orphans of the command's descendants become its children */
	prctl(PR_SET_CHILD_SUBREAPER, 1L, 0L, 0L, 0L);
	/* the parent's handlers must never run in this shared memory */
	sigaction(SIGINT, &dfl, NULL);
	sigaction(SIGTERM, &dfl, NULL);
	sigaction(SIGPIPE, &dfl, NULL);
	if (dup2(in_r, 0) < 0 || dup2(out_w, 1) < 0 || dup2(ev_w, 3) < 0)
		_exit(126);
	if (ev_w == 3)
		fcntl(3, F_SETFD, 0);
	close_range(4, ~0U, 0);
	set_limit(RLIMIT_CPU, j->lim.cpu_seconds);
	set_limit(RLIMIT_AS, j->lim.memory_mb * 1024 * 1024);
	set_limit(RLIMIT_NPROC, j->lim.processes);
	sigprocmask(SIG_SETMASK, &j->oldmask, NULL);
	execve(path, argv, envp);
	int e = errno;
	say(bot_progname);
	say(": error: cannot run ");
	say(path);
	say(": ");
	say(strerrordesc_np(e) ? strerrordesc_np(e) : "error");
	say("\n");
	_exit(e == ENOENT ? 127 : 126);
}

int bot_jobs_start(struct bot_jobs *j, const char *path, char *const argv[],
                   char *const envp[], const char *input, size_t len,
                   void *tag, jv *err)
{
	int in[2], out[2], ev[2];
	if (j->n >= j->max) {
		*err = bot_fail("too many commands running");
		return -1;
	}
	if (pipe2(in, O_CLOEXEC) < 0)
		goto fail0;
	if (pipe2(out, O_CLOEXEC) < 0)
		goto fail1;
	if (pipe2(ev, O_CLOEXEC) < 0)
		goto fail2;
	/* vfork: a copy of a large parent costs more than the command's own
	 * start; every signal is held until the child has reset its handlers */
	sigset_t all, before;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &before);
	pid_t pid = vfork();
	if (pid == 0)
		child_exec(j, path, argv, envp, in[0], out[1], ev[1]);
	int fork_errno = errno;
	sigprocmask(SIG_SETMASK, &before, NULL);
	if (pid < 0) {
		errno = fork_errno;
		goto fail3;
	}
	setpgid(pid, pid);   /* also here: no race with an early kill */
	close(in[0]);
	close(out[1]);
	close(ev[1]);
	fcntl(in[1], F_SETFL, O_NONBLOCK);
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	fcntl(ev[0], F_SETFL, O_NONBLOCK);
	struct job *jb = &j->job[j->n++];
	memset(jb, 0, sizeof *jb);
	jb->pid = pid;
	jb->tag = tag;
	jb->in_fd = in[1];
	jb->out_fd = out[0];
	jb->ev_fd = ev[0];
	jb->input = malloc(len ? len : 1);
	memcpy(jb->input, input, len);
	jb->inlen = len;
	jb->evr = bot_reader_new(ev[0], path, 0);
	jb->deadline = j->lim.timeout_ms > 0 ? bot_now_ms() + j->lim.timeout_ms : 0;
	return 0;
fail3:
	close(ev[0]);
	close(ev[1]);
fail2:
	close(out[0]);
	close(out[1]);
fail1:
	close(in[0]);
	close(in[1]);
fail0:
	*err = bot_fail("cannot start %s: %s", path, strerror(errno));
	return -1;
}

int bot_jobs_pollfds(struct bot_jobs *j, struct pollfd *fds, int max)
{
	int n = 0;
	if (n < max)
		fds[n++] = (struct pollfd){ .fd = j->sigfd, .events = POLLIN };
	for (int i = 0; i < j->n; i++) {
		struct job *jb = &j->job[i];
		if (jb->in_fd >= 0 && n < max)
			fds[n++] = (struct pollfd){ .fd = jb->in_fd, .events = POLLOUT };
		if (jb->out_fd >= 0 && n < max)
			fds[n++] = (struct pollfd){ .fd = jb->out_fd, .events = POLLIN };
		if (jb->ev_fd >= 0 && n < max)
			fds[n++] = (struct pollfd){ .fd = jb->ev_fd, .events = POLLIN };
	}
	return n;
}

int bot_jobs_timeout(const struct bot_jobs *j)
{
	long long next = -1, now = bot_now_ms();
	for (int i = 0; i < j->n; i++) {
		const struct job *jb = &j->job[i];
		long long t = jb->kill_at ? jb->kill_at : jb->deadline;
		if (t && (next < 0 || t < next))
			next = t;
	}
	if (next < 0)
		return -1;
	return next <= now ? 0 : (int)(next - now);
}

static void job_write_input(struct job *jb)
{
	while (jb->inoff < jb->inlen) {
		ssize_t n = write(jb->in_fd, jb->input + jb->inoff, jb->inlen - jb->inoff);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0)
			break;   /* EPIPE: the command does not read its input */
		jb->inoff += (size_t)n;
	}
	close_fd(&jb->in_fd);
}

static void job_read_output(struct job *jb, size_t max)
{
	char scratch[65536];
	for (;;) {
		char *dst = scratch;
		size_t room = sizeof scratch;
		if (jb->outlen < max) {
			if (jb->outcap - jb->outlen < 65536) {
				jb->outcap = jb->outcap ? jb->outcap * 2 : 65536;
				jb->out = realloc(jb->out, jb->outcap);
				if (!jb->out)
					abort();
			}
			dst = jb->out + jb->outlen;
			room = jb->outcap - jb->outlen;
			if (room > max - jb->outlen)
				room = max - jb->outlen;
		}
		ssize_t n = read(jb->out_fd, dst, room);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			close_fd(&jb->out_fd);
			return;
		}
		if (dst == scratch)
			jb->truncated = 1;
		else
			jb->outlen += (size_t)n;
	}
}

static void job_read_events(struct bot_jobs *j, struct job *jb)
{
	int rc = bot_reader_fill(jb->evr);
	jv ev;
	int got;
	while ((got = bot_reader_next(jb->evr, &ev)) != 0)
		(got < 0 && j->ev.bad_event ? j->ev.bad_event : j->ev.event)(j->ev.ctx, jb->tag, ev);
	if (rc <= 0)
		close_fd(&jb->ev_fd);
}

/* Has the leader exited?  Look without reaping, so that its process
 * group id cannot be reused before we kill what it left behind.  1 when
 * it just did. */
static int job_check_exit(struct job *jb)
{
	if (jb->exited)
		return 0;
	siginfo_t si;
	memset(&si, 0, sizeof si);
	if (waitid(P_PID, (id_t)jb->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid == 0)
		return 0;
	/* leftovers of the command: its group now; what left the group was
	 * handed to us as it exited, for sweep_leftovers */
	kill(-jb->pid, SIGKILL);
	int st;
	waitpid(jb->pid, &st, 0);
	jb->exited = 1;
	jb->deadline = bot_now_ms() + KILL_GRACE_MS;
	jb->kill_at = 0;
	jb->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	return 1;
}

static void job_check_deadline(struct job *jb, long long now)
{
	if (jb->exited) {
		/* Something outside the group still holds the pipes: stop
		 * waiting for it. */
		if (jb->deadline && now >= jb->deadline) {
			close_fd(&jb->out_fd);
			close_fd(&jb->ev_fd);
		}
		return;
	}
	if (jb->kill_at && now >= jb->kill_at) {
		kill(-jb->pid, SIGKILL);
		kill_tree(jb->pid, SIGKILL);
		jb->kill_at = 0;
	} else if (jb->deadline && now >= jb->deadline && !jb->timed_out) {
		jb->timed_out = 1;
		kill(-jb->pid, SIGTERM);
		kill_tree(jb->pid, SIGTERM);
		jb->kill_at = now + KILL_GRACE_MS;
		jb->deadline = 0;
	}
}

static void job_finish(struct bot_jobs *j, int i)
{
	struct job *jb = &j->job[i];
	struct bot_job_result r = {
		.status = jb->status, .timed_out = jb->timed_out,
		.truncated = jb->truncated, .out = jb->out ? jb->out : "", .len = jb->outlen,
	};
	void *tag = jb->tag;
	j->ev.done(j->ev.ctx, tag, &r);
	job_release(jb);
	j->job[i] = j->job[--j->n];
}

static int fd_ready(const struct pollfd *fds, int n, int fd)
{
	for (int i = 0; i < n; i++)
		if (fds[i].fd == fd)
			return fds[i].revents != 0;
	return 0;
}

void bot_jobs_handle(struct bot_jobs *j, const struct pollfd *fds, int n)
{
	struct signalfd_siginfo si;
	int child_event = 0;
	while (read(j->sigfd, &si, sizeof si) == sizeof si)
		child_event = 1;
	long long now = bot_now_ms();
	for (int i = 0; i < j->n; i++) {
		struct job *jb = &j->job[i];
		if (jb->in_fd >= 0 && fd_ready(fds, n, jb->in_fd))
			job_write_input(jb);
		if (jb->out_fd >= 0 && fd_ready(fds, n, jb->out_fd))
			job_read_output(jb, j->lim.max_output);
		if (jb->ev_fd >= 0 && fd_ready(fds, n, jb->ev_fd))
			job_read_events(j, jb);
		if (job_check_exit(jb))
			child_event = 1;   /* its leftovers are ours now */
		job_check_deadline(jb, now);
		if (jb->exited) {
			close_fd(&jb->in_fd);
			/* drain what is left in the pipes; the group is dead */
			if (jb->out_fd >= 0)
				job_read_output(jb, j->lim.max_output);
			if (jb->ev_fd >= 0)
				job_read_events(j, jb);
		}
		if (jb->exited && jb->out_fd < 0 && jb->ev_fd < 0) {
			job_finish(j, i);
			i--;
		}
	}
	if (child_event)
		sweep_leftovers(j, 0);
}
