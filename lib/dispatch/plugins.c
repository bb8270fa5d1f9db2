/* plugins.c: what may run from a plugin folder.
 *
 * A folder or a file that another user can write would let that user run
 * code as the bot's user, so both are refused as ssh refuses such key
 * files: each must be owned by us or by root and writable by no group and
 * no other user (bot_fd_private).  The folders above a plugin folder are held to the same,
 * except that one with the sticky bit (/tmp) may be writable by all: its
 * other users cannot rename or replace what is ours in it.
 *
 * A file that cannot run (no exec bit, a ".sh" suffix, CRLF line ends, no
 * "#!" line) would only ever be "not found"; bot_plugin_unrunnable says
 * why, with the fix, for bot-dispatch to warn once.  A file whose name is
 * no command name counts only when it looks like a program (executable,
 * or starting with "#!"): a README.md is not meant to run. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bot.h"
#include "dispatch.h"
#include "state.h"

/* Why path is not safe to take commands from, into buf; NULL when it is:
 * ours or root's and writable by no one else (bot_fd_private, the one
 * owner-and-mode check).  sticky_ok: a folder above the plugin folder,
 * which others may write when it is sticky. */
static const char *path_unsafe(const char *path, int sticky_ok, char *buf, size_t n)
{
	int fd = open(path, O_PATH | O_CLOEXEC);   /* no read permission needed */
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(buf, n, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return buf;
	}
	jv err = jv_invalid();
	int bad;
	if (sticky_ok && S_ISDIR(st.st_mode) && (st.st_mode & S_ISVTX))
		bad = st.st_uid != geteuid() && st.st_uid != 0 ? bot_fd_private(fd, path, 1, &err) : 0;
	else
		bad = bot_fd_private(fd, path, 1, &err);
	close(fd);
	if (!bad) {
		jv_free(err);
		return NULL;
	}
	bot_fail_message(err, buf, n);
	jv_free(err);
	return buf;
}

const char *bot_plugin_file_unsafe(const char *path, char *buf, size_t n)
{
	if (path_unsafe(path, 0, buf, n))
		return buf;
	/* the folder it is in: the plugin folder, or one inside it that a
	 * symbolic link leads to */
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash)
		return NULL;
	*(slash == dir ? slash + 1 : slash) = 0;
	return path_unsafe(dir, 0, buf, n);
}

const char *bot_plugin_dir_unsafe(const char *dir, char *buf, size_t n)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s", dir);
	for (int own = 1;; own = 0) {
		if (path_unsafe(path, !own, buf, n))
			return buf;
		char *slash = strrchr(path, '/');
		if (!slash || !strcmp(path, "/"))
			return NULL;
		*(slash == path ? slash + 1 : slash) = 0;
	}
}

/* A name that would be a command but for a suffix: "deploy" of
 * "deploy.sh", into base. */
static int suffixed(const char *name, char *base, size_t n)
{
	const char *dot = strrchr(name, '.');
	if (!dot || dot == name || !dot[1] || (size_t)(dot - name) >= n)
		return 0;
	memcpy(base, name, (size_t)(dot - name));
	base[dot - name] = 0;
	return bot_cmd_name_safe(base);
}

/* 1 when the file starts as a program does: "#!" or an ELF header. */
static int starts_as_program(const char *path)
{
	char head[4];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return 0;
	ssize_t len = read(fd, head, sizeof head);
	close(fd);
	return (len >= 2 && !memcmp(head, "#!", 2)) || (len == 4 && !memcmp(head, "\x7f" "ELF", 4));
}

/* What the first line says: NULL when the file can be exec'd. */
static const char *head_unrunnable(const char *path, char *buf, size_t n)
{
	char head[256];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return NULL;   /* access said it may run: let the run say why not */
	ssize_t len = read(fd, head, sizeof head - 1);
	close(fd);
	if (len < 0)
		return NULL;
	head[len] = 0;
	if (len >= 4 && !memcmp(head, "\x7f" "ELF", 4))
		return NULL;
	if (len < 2 || memcmp(head, "#!", 2)) {
		snprintf(buf, n, "%s: no #! line, so it cannot be run (make its first line "
		         "one such as #!/bin/sh)", path);
		return buf;
	}
	size_t line = strcspn(head, "\n");
	if (line > 2 && head[line - 1] == '\r') {
		snprintf(buf, n, "%s: CRLF line ends, so its interpreter's name ends in a carriage "
		         "return (sed -i 's/\\r$//' %s)", path, path);
		return buf;
	}
	/* the interpreter: after "#!" and blanks, up to a blank */
	char *p = head + 2;
	p += strspn(p, " \t");
	p[strcspn(p, " \t\r\n")] = 0;
	if (*p == '/' && access(p, X_OK) < 0) {
		snprintf(buf, n, "%s: its interpreter %s: %s", path, p, strerror(errno));
		return buf;
	}
	return NULL;
}

const char *bot_plugin_unrunnable(const char *dir, const char *name, char *buf, size_t n)
{
	char path[PATH_MAX], base[BOT_CMD_NAME_MAX + 1];
	struct stat st;
	if (name[0] == '.' || snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path ||
	    stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return NULL;   /* dot files, folders, dangling links: not meant as commands */
	size_t len = strlen(name);
	if (len > 5 && !strcmp(name + len - 5, ".help"))
		return NULL;   /* a sidecar */
	if (!bot_cmd_name_safe(name)) {
		/* a README.md or notes.txt is not meant to run */
		if (access(path, X_OK) < 0 && !starts_as_program(path))
			return NULL;
		if (suffixed(name, base, sizeof base))
			snprintf(buf, n, "%s: a command's file name has no suffix (rename it %s)", path,
			         base);
		else
			snprintf(buf, n, "%s: not a command name (1 to %d of A-Z a-z 0-9 _ -, not "
			         "starting with -)", path, BOT_CMD_NAME_MAX);
		return buf;
	}
	if (access(path, X_OK) < 0) {
		snprintf(buf, n, "%s: not executable (chmod +x %s)", path, path);
		return buf;
	}
	return head_unrunnable(path, buf, n);
}
