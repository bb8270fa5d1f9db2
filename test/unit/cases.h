/* The case tables of test/data/render/ (one .test file a table), shared by the render, split
 * and card unit tests: one case a block, input and expected output. */
#ifndef CASES_H
#define CASES_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tcase {
	char markup[32];
	char what[160];
	char *in, *want;
	size_t in_len, want_len;
};

/* Decode \x{HH} in place; returns the new length. */
static size_t unescape(char *s, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\' && i + 5 < n + 1 && s[i + 1] == 'x' && s[i + 2] == '{') {
			char *end;
			unsigned long v = strtoul(s + i + 3, &end, 16);
			if (*end == '}' && end > s + i + 3 && v < 256) {
				s[o++] = (char)v;
				i = (size_t)(end - s);
				continue;
			}
		}
		s[o++] = s[i];
	}
	return o;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 4096, n = 0;
	char *s = malloc(cap);
	size_t r;
	while ((r = fread(s + n, 1, cap - n - 1, f)) > 0) {
		n += r;
		if (n + 1 == cap)
			s = realloc(s, cap *= 2);
	}
	fclose(f);
	s[n] = '\0';
	*len = n;
	return s;
}

static char *dup_block(const char *a, const char *b, size_t *len)
{
	while (b > a && b[-1] == '\n')
		b--;
	size_t n = (size_t)(b - a);
	char *s = malloc(n + 1);
	memcpy(s, a, n);
	s[n] = '\0';
	*len = unescape(s, n);
	s[*len] = '\0';
	return s;
}

/* Parse the cases of one file; returns how many. */
static size_t read_cases(const char *path, struct tcase **out)
{
	size_t len, n = 0, cap = 0;
	char *text = slurp(path, &len);
	struct tcase *cs = NULL;
	*out = NULL;
	if (!text)
		return 0;
	char *p = strncmp(text, "== ", 3) == 0 ? text : strstr(text, "\n== ");
	if (p && p != text)
		p++;
	while (p) {
		char *eol = strchr(p, '\n');
		if (!eol)
			break;
		if (n == cap)
			cs = realloc(cs, (cap = cap ? cap * 2 : 32) * sizeof *cs);
		struct tcase *c = &cs[n];
		memset(c, 0, sizeof *c);
		char *colon = memchr(p, ':', (size_t)(eol - p));
		size_t ml = (size_t)((colon ? colon : eol) - (p + 3));
		snprintf(c->markup, sizeof c->markup, "%.*s", (int)ml, p + 3);
		if (colon)
			snprintf(c->what, sizeof c->what, "%s:%.*s", c->markup,
			         (int)(eol - colon - 1), colon + 1);
		char *body = eol + 1;
		char *sep = strstr(body, "\n=>\n");
		if (body[0] == '=' && body[1] == '>' && body[2] == '\n')
			sep = body - 1;
		if (!sep)
			break;
		char *exp = sep + 4;
		char *next = strstr(exp - 1, "\n== ");
		char *end = next ? next + 1 : text + len;
		c->in = dup_block(body, sep + 1 > body ? sep + 1 : body, &c->in_len);
		c->want = dup_block(exp, end, &c->want_len);
		n++;
		p = next ? next + 1 : NULL;
	}
	free(text);
	*out = cs;
	return n;
}

static void free_cases(struct tcase *cs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(cs[i].in);
		free(cs[i].want);
	}
	free(cs);

#endif
