/* lazyhttp.c: libbothttp opened on first use (see lazyhttp.h). */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "bot.h"
#include "lazyhttp.h"
#include "libload.h"

/* libbothttp beside libbot, named by path (a bare soname would be looked
 * up through the caller's run path, and under ASan the caller dlopen sees
 * is the sanitizer's runtime), else by soname. */
static void *open_beside_libbot(void)
{
	Dl_info info;
	char path[4096];
	if (dladdr((void *)open_beside_libbot, &info) && info.dli_fname) {
		const char *slash = strrchr(info.dli_fname, '/');
		if (slash && snprintf(path, sizeof path, "%.*s/libbothttp.so.0",
		                      (int)(slash - info.dli_fname), info.dli_fname) < (int)sizeof path) {
			void *h = bot_dlopen(path, RTLD_NOW | RTLD_LOCAL);
			if (h)
				return h;
		}
	}
	/* through bot_dlopen: libcurl brings GnuTLS, whose start-up we skip */
	return bot_dlopen("libbothttp.so.0", RTLD_NOW | RTLD_LOCAL);
}

void *bot_http_dlopen(const char *code, jv *err)
{
	static void *handle;
	if (!handle)
		handle = open_beside_libbot();
	if (!handle)
		*err = bot_fail_code(code, 0, "needs libbothttp.so.0: %s", dlerror());
	return handle;
}

/* One function of libbothttp into *slot; 0, or -1 when it has none. */
static int bind_one(void *h, const char *name, void *slot)
{
	void *f = dlsym(h, name);
	if (!f)
		return -1;
	memcpy(slot, &f, sizeof f);   /* a function pointer from a void *, as POSIX allows */
	return 0;
}

const struct bot_http_lib *bot_http_lib(jv *err)
{
	static struct bot_http_lib lib;
	static int bound;
	if (bound)
		return &lib;
	void *h = bot_http_dlopen("send_failed", err);
	if (!h)
		return NULL;
	struct bot_http_lib t;
	const struct { const char *name; void *slot; } fns[] = {
		{ "bot_http_multi_new", &t.multi_new },
		{ "bot_http_multi_free", &t.multi_free },
		{ "bot_http_multi_set_cafile", &t.multi_set_cafile },
		{ "bot_http_multi_set_verbose", &t.multi_set_verbose },
		{ "bot_http_start", &t.start },
		{ "bot_http_cancel", &t.cancel },
		{ "bot_http_cancel_all", &t.cancel_all },
		{ "bot_http_running", &t.running },
		{ "bot_http_multi_prepare", &t.multi_prepare },
		{ "bot_http_multi_dispatch", &t.multi_dispatch },
		{ "bot_http_redact", &t.redact },
	};
	for (size_t i = 0; i < sizeof fns / sizeof *fns; i++)
		if (bind_one(h, fns[i].name, fns[i].slot) < 0) {
			*err = bot_fail_code("send_failed", 0, "libbothttp.so.0 has no %s", fns[i].name);
			return NULL;
		}
	lib = t;
	bound = 1;
	return &lib;
}
