/* libbot: dlopen for the libraries botpipe loads on demand (backends). */
#ifndef BOT_LIBLOAD_H
#define BOT_LIBLOAD_H

/* dlopen(path, flags), without the start-up work of GnuTLS (see libload.c). */
void *bot_dlopen(const char *path, int flags);

#endif
