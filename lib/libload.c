/* libbot: loading a library on demand without GnuTLS's implicit start-up.
 *
 * Debian's libcurl (the OpenSSL flavour botpipe links) pulls GnuTLS in
 * through librtmp and OpenLDAP.  GnuTLS initialises itself in its
 * constructor as it is loaded (its ASN.1 trees, random pool, system
 * priorities, p11-kit's modules): 0.7 MB of the 11.8 MB a one-shot
 * `bot-send -b webhook` peaked at, and botpipe never uses GnuTLS.  With
 * GNUTLS_NO_IMPLICIT_INIT=1 the constructor does nothing, and the first
 * gnutls_global_init() does the work instead: librtmp, OpenLDAP and
 * libmicrohttpd each call it before using GnuTLS, so nothing changes for
 * them.  The variable is set only while the library loads (a program loads
 * its backends before it starts threads) and put back as it was: children
 * never see it, and a user's own setting wins.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#include "bot.h"
#include "libload.h"

#define NO_INIT "GNUTLS_NO_IMPLICIT_INIT"

void *bot_dlopen(const char *path, int flags)
{
	int ours = getenv(NO_INIT) == NULL && setenv(NO_INIT, "1", 0) == 0;
	void *h = dlopen(path, flags);
	if (ours)
		unsetenv(NO_INIT);
	return h;
}

void *bot_dlopen_needed(const char *soname)
{
	void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		fprintf(stderr, "botpipe: cannot load %s: %s\n", soname, dlerror());
		exit(BOT_EX_UNAVAILABLE);
	}
	return h;
}

void bot_dlsym_needed(void *h, const char *soname, const char *name, void **fn)
{
	*fn = dlsym(h, name);
	if (!*fn) {
		fprintf(stderr, "botpipe: %s has no %s\n", soname, name);
		exit(BOT_EX_UNAVAILABLE);
	}
}
