/* backend.c: the registry.  The embedded backends come from the program
 * (text); every other one is NAME.so, loaded with dlopen only when asked
 * for, from BOT_BACKEND_PATH, the install directory, or the build tree
 * beside the running program. */
#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "libload.h"

#ifndef BOT_LIBDIR
#define BOT_LIBDIR "/usr/local/lib/botpipe"
#endif

/* A backend name is a plain word: never a path. */
static int name_ok(const char *name)
{
	if (!name || !*name || strlen(name) > 64)
		return 0;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		      *p == '_' || *p == '-'))
			return 0;
	return 1;
}

/* The module directory next to the program: <bindir>/../lib/botpipe. */
static int self_dir(char *buf, size_t n)
{
	char exe[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (len <= 0)
		return -1;
	exe[len] = 0;
	char *slash = strrchr(exe, '/');
	if (!slash)
		return -1;
	*slash = 0;
	return snprintf(buf, n, "%s/../lib/botpipe", exe) < (int)n ? 0 : -1;
}

/* Call fn on each directory of the search path, in order, until it
 * returns non-zero. */
static int each_dir(int (*fn)(const char *dir, void *ctx), void *ctx)
{
	const char *path = getenv("BOT_BACKEND_PATH");
	if (path && *path) {
		char *copy = strdup(path), *save = NULL;
		for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save))
			if (fn(d, ctx)) {
				free(copy);
				return 1;
			}
		free(copy);
	}
	char self[PATH_MAX];
	if (self_dir(self, sizeof self) == 0 && fn(self, ctx))
		return 1;
	return fn(BOT_LIBDIR, ctx);
}

struct load { const char *name; const struct bot_backend *found; char why[PATH_MAX + 256]; };

static int try_load(const char *dir, void *ctx)
{
	struct load *l = ctx;
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s.so", dir, l->name);
	if (access(path, F_OK) != 0)
		return 0;
	void *h = bot_dlopen(path, RTLD_LAZY | RTLD_LOCAL);   /* -z defs: checked at link time */
	if (!h) {
		snprintf(l->why, sizeof l->why, "%s", dlerror());
		return 1;
	}
	/* Never dlclose: leak reports keep the backend's frames. */
	const struct bot_backend *b = dlsym(h, "bot_backend");
	if (!b) {
		snprintf(l->why, sizeof l->why, "%s: no bot_backend symbol", path);
		return 1;
	}
	/* ABI 1 began with the int abi, so its first size_t reads as 1 */
	if (b->size < offsetof(struct bot_backend, name) || b->abi != BOT_BACKEND_ABI) {
		snprintf(l->why, sizeof l->why, "%s: made for backend ABI %d, this is %d",
		         path, b->size < offsetof(struct bot_backend, name) ? 1 : b->abi, BOT_BACKEND_ABI);
		return 1;
	}
	l->found = b;
	return 1;
}

const struct bot_backend *bot_backend_find(const char *name,
                                           const struct bot_backend *const *builtin,
                                           jv *err)
{
	for (const struct bot_backend *const *b = builtin; b && *b; b++)
		if (!strcmp((*b)->name, name))
			return *b;
	struct load l = { .name = name };
	if (name_ok(name))
		each_dir(try_load, &l);
	if (l.found)
		return l.found;
	if (l.why[0]) {
		*err = bot_fail("backend %s: %s", name, l.why);
		return NULL;
	}
	jv names = bot_backend_list(builtin);
	jv joined = jv_string("");
	jv_array_foreach(names, i, n) {
		joined = jv_string_concat(joined, i ? jv_string(", ") : jv_string(""));
		joined = jv_string_concat(joined, n);
	}
	char shown[80];
	bot_oneline(shown, sizeof shown, name, strlen(name));
	*err = bot_fail("unknown backend '%s' (backends: %s)", shown, jv_string_value(joined));
	jv_free(joined);
	jv_free(names);
	return NULL;
}

static int has_module(const char *dir, void *ctx)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s.so", dir, (const char *)ctx);
	return access(path, F_OK) == 0;
}

int bot_backend_exists(const char *name, const struct bot_backend *const *builtin)
{
	for (const struct bot_backend *const *b = builtin; b && *b; b++)
		if (!strcmp((*b)->name, name))
			return 1;
	return name_ok(name) && each_dir(has_module, (void *)name);
}

static int list_dir(const char *dir, void *ctx)
{
	jv *names = ctx;
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	for (struct dirent *e; (e = readdir(d));) {
		size_t n = strlen(e->d_name);
		if (n <= 3 || strcmp(e->d_name + n - 3, ".so"))
			continue;
		jv name = jv_string_sized(e->d_name, (int)n - 3);
		int seen = 0;
		jv_array_foreach(*names, i, x) {
			seen |= jv_equal(x, jv_copy(name));
			(void)i;
		}
		if (!seen && name_ok(jv_string_value(name)))
			*names = jv_array_append(*names, name);
		else
			jv_free(name);
	}
	closedir(d);
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

jv bot_backend_list(const struct bot_backend *const *builtin)
{
	jv names = jv_array();
	for (const struct bot_backend *const *b = builtin; b && *b; b++)
		names = jv_array_append(names, jv_string((*b)->name));
	each_dir(list_dir, &names);
	/* sorted, for a stable message */
	int n = jv_array_length(jv_copy(names));
	const char **v = calloc((size_t)n + 1, sizeof *v);
	for (int i = 0; i < n; i++) {
		jv x = jv_array_get(jv_copy(names), i);
		v[i] = jv_string_value(x);
		jv_free(x);   /* names keeps it alive */
	}
	qsort(v, (size_t)n, sizeof *v, cmp_names);
	jv sorted = jv_array();
	for (int i = 0; i < n; i++)
		sorted = jv_array_append(sorted, jv_string(v[i]));
	free(v);
	jv_free(names);
	return sorted;
}

jv bot_expand_ident(const struct bot_backend *b, void *be, jv ident)
{
	if (jv_get_kind(ident) != JV_KIND_STRING)
		return ident;
	if (!b || !BOT_BACKEND_HAS(b, build_identifier)) {
		jv_free(ident);
		return bot_fail("this backend cannot read identifiers");
	}
	jv out = b->build_identifier(be, jv_string_value(ident));
	jv_free(ident);
	return out;
}
