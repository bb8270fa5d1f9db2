/* log.c: every message a program prints to stderr goes through here, one
 * line each, "prog: level: text".  Nothing else in lib/ writes to stderr. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "bot.h"

const char *bot_progname = "botpipe";
int bot_verbosity = 1;

/* Make sure fds 0-2 are open, so that a file we open never becomes
 * stdout by accident; ignore SIGPIPE so a vanished reader is an EPIPE we
 * can report, not a silent death; keep secrets out of core dumps. */
void bot_init(const char *argv0)
{
	const char *slash = argv0 ? strrchr(argv0, '/') : NULL;
	if (argv0)
		bot_progname = slash ? slash + 1 : argv0;
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF)
			if (open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) < 0)
				_exit(BOT_EX_IOERR);
	signal(SIGPIPE, SIG_IGN);
	/* Secrets live in this process: no core dump, and no other process of
	 * the same user (a plugin) may read /proc/PID/environ or ptrace it. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

/* Format into one line: every configured secret masked (bot_redact);
 * newlines and other controls (C0, DEL, C1) in the text shown escaped, so
 * that one message stays one line and text from the network cannot drive
 * the terminal. */
static void log_line(const char *level, const char *fmt, va_list ap)
{
	char msg[2048], clean[2048], line[2400];
	vsnprintf(msg, sizeof msg, fmt, ap);
	bot_redact(msg, clean, sizeof clean);
	bot_oneline(line, sizeof line, clean, strlen(clean));
	fprintf(stderr, "%s: %s%s%s\n", bot_progname, level, *level ? ": " : "", line);
	fflush(stderr);
}

void bot_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_line("error", fmt, ap);
	va_end(ap);
}

void bot_warn(const char *fmt, ...)
{
	va_list ap;
	if (bot_verbosity < 1)
		return;
	va_start(ap, fmt);
	log_line("warning", fmt, ap);
	va_end(ap);
}

void bot_info(const char *fmt, ...)
{
	va_list ap;
	if (bot_verbosity < 1)
		return;
	va_start(ap, fmt);
	log_line("", fmt, ap);
	va_end(ap);
}

void bot_debug(const char *fmt, ...)
{
	va_list ap;
	if (bot_verbosity < 2)
		return;
	va_start(ap, fmt);
	log_line("debug", fmt, ap);
	va_end(ap);
}

void bot_error_jv(const char *where, jv msg)
{
	char buf[1024];
	const char *text = "";
	if (!jv_is_valid(msg)) {
		text = bot_fail_message(msg, buf, sizeof buf);
	} else if (jv_get_kind(msg) == JV_KIND_STRING) {
		snprintf(buf, sizeof buf, "%s", jv_string_value(msg));
		text = buf;
	} else if (bot_str(msg, "message")) {
		snprintf(buf, sizeof buf, "%s", bot_str(msg, "message"));
		text = buf;
	}
	if (where && *where)
		bot_error("%s: %s", where, text);
	else
		bot_error("%s", text);
	jv_free(msg);
}

const char *bot_oneline(char *buf, size_t n, const char *s, size_t len)
{
	size_t o = 0;
	if (n == 0)
		return buf;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[8];
		size_t k;
		if (c == '\n')
			k = (size_t)snprintf(esc, sizeof esc, "\\n");
		else if (c == '\r')
			k = (size_t)snprintf(esc, sizeof esc, "\\r");
		else if (c < 0x20 || c == 0x7f)
			k = (size_t)snprintf(esc, sizeof esc, "\\x%02x", c);
		else if (c == 0xc2 && i + 1 < len && (unsigned char)s[i + 1] >= 0x80 &&
		         (unsigned char)s[i + 1] <= 0x9f) {
			/* U+0080..U+009F: C1 controls (U+009B is CSI to a terminal) */
			k = (size_t)snprintf(esc, sizeof esc, "\\u%04x", (unsigned char)s[++i]);
		} else {
			esc[0] = (char)c;
			k = 1;
		}
		if (o + k + 4 > n) {
			if (n >= 4) {
				o = o + 3 < n ? o : n - 4;
				memcpy(buf + o, "...", 3);
				o += 3;
			}
			break;
		}
		memcpy(buf + o, esc, k);
		o += k;
	}
	buf[o] = 0;
	return buf;
}
