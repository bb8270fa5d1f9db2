/* A tiny TAP producer for libbot's C unit tests.  Each check prints one
 * "ok N - what" or "not ok N - what" line; main returns unit_done(). */
#ifndef UNIT_H
#define UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_n, unit_failed;

static void unit_result(int pass, const char *file, int line, const char *what)
{
	unit_n++;
	if (!pass)
		unit_failed++;
	printf("%sok %d - %s\n", pass ? "" : "not ", unit_n, what);
	if (!pass)
		printf("#   at %s:%d\n", file, line);
}

/* CHECK(cond, "what"): a boolean check. */
#define CHECK(cond, what) unit_result(!!(cond), __FILE__, __LINE__, what)

/* CHECK_STR(got, want, "what"): string equality, both shown on failure. */
#define CHECK_STR(got, want, what) do { \
	const char *g_ = (got), *w_ = (want); \
	int p_ = (g_ && w_) ? strcmp(g_, w_) == 0 : g_ == w_; \
	unit_result(p_, __FILE__, __LINE__, what); \
	if (!p_) printf("#   got:  \"%s\"\n#   want: \"%s\"\n", g_ ? g_ : "(null)", w_ ? w_ : "(null)"); \
} while (0)

static int unit_done(void)
{
	printf("1..%d\n", unit_n);
	return unit_failed != 0;
}

#endif
