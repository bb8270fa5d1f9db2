/* lazyhttp.h: libbothttp loaded on first use, for code that needs HTTP
 * only sometimes (XMPP's file uploads and downloads, IRC's TLS streams):
 * libbothttp, and with it libcurl and its ~30 libraries, is opened with
 * dlopen the first time it is asked for, so a program that never asks
 * never pays for it (about 3.5 ms and 4 MB of RSS at start-up, measured
 * for bot-send -b xmpp; doc/PERFORMANCE.md).  Never unloaded: libcurl
 * keeps global state.  Same ownership rules as bot.h.
 *
 *     const struct bot_http_lib *h = bot_http_lib(&err);
 *     struct bot_http_multi *m = h ? h->multi_new(&err) : NULL;
 *     ... h->start(m, &req, done, ud, &err) ... h->prepare / h->dispatch ...
 */
#ifndef BOT_LAZYHTTP_H
#define BOT_LAZYHTTP_H

#include <jv.h>

#include "http/http.h"

/* libbothttp's asynchronous transfers (http.h, multi.c), the same calls
 * by pointer. */
struct bot_http_lib {
	struct bot_http_multi *(*multi_new)(jv *err);
	void (*multi_free)(struct bot_http_multi *m);
	void (*multi_set_cafile)(struct bot_http_multi *m, const char *cafile);
	void (*multi_set_verbose)(struct bot_http_multi *m, int on);
	long (*start)(struct bot_http_multi *m, struct bot_http_req *req,
	              bot_http_done_fn *done, void *ud, jv *err);
	void (*cancel)(struct bot_http_multi *m, long id);
	void (*cancel_all)(struct bot_http_multi *m);
	size_t (*running)(const struct bot_http_multi *m);
	void (*multi_prepare)(struct bot_http_multi *m, struct bot_poll *p);
	void (*multi_dispatch)(struct bot_http_multi *m, const struct bot_poll *p);
	const char *(*redact)(const char *url, char *buf, size_t n);
};

/* The table, libbothttp opened on the first call; NULL + *err (a
 * permanent "send_failed" naming what is missing) when it cannot be. */
const struct bot_http_lib *bot_http_lib(jv *err);

/* libbothttp.so.0 itself, opened (once) beside libbot, else by soname:
 * the handle, or NULL + *err (permanent, code as given).  For a table of
 * its own (stream.c's). */
void *bot_http_dlopen(const char *code, jv *err);

#endif
