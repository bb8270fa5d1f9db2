/* libbot: dlopen for the libraries botpipe loads on demand (backends). */
#ifndef BOT_LIBLOAD_H
#define BOT_LIBLOAD_H

/* dlopen(path, flags), without the start-up work of GnuTLS (see libload.c). */
void *bot_dlopen(const char *path, int flags);

/* A library that libbot or libbothttp needs only for some work (cmark for
 * markdown, wslay for WebSockets), opened by soname the first time: the
 * handle, else the program exits with BOT_EX_UNAVAILABLE, saying what is
 * missing, as it would have at start had it been linked. */
void *bot_dlopen_needed(const char *soname);
/* *fn = soname's function name, or exit as above. */
void bot_dlsym_needed(void *h, const char *soname, const char *name, void **fn);

#endif
