/* http_priv.h: what the files of libbothttp share and nobody else sees. */
#ifndef BOT_HTTP_PRIV_H
#define BOT_HTTP_PRIV_H

#include <curl/curl.h>

#include "http.h"

#define BOT_HIDDEN __attribute__((visibility("hidden")))

/* http.c: CURLOPT_DEBUGFUNCTION, every path and credential redacted. */
BOT_HIDDEN int bot_http_debug_cb(CURL *c, curl_infotype type, char *data, size_t size, void *ud);
/* http.c: a server's words for a message, secret parts of url hidden:
 * ": text" or "" (look-only body). */
BOT_HIDDEN void bot_http_server_says(const char *url, jv body, char *out, size_t n);
/* multi.c: a failure for a libcurl error (url only shown redacted). */
BOT_HIDDEN jv bot_http_curl_failure(CURLcode rc, const char *errbuf, const char *url);
/* multi.c: headers (consumed) + content type as an slist; NULL + *err. */
BOT_HIDDEN struct curl_slist *bot_http_header_list(jv headers, const char *content_type, jv *err);

/* multi.c, for ws.c: a connect-only transfer (CURLOPT_CONNECT_ONLY) whose
 * easy handle stays in the multi after done() reports it connected, as
 * libcurl requires for curl_easy_send/recv; bot_http_cancel(id) frees it.
 * *easy is the handle, for the caller's curl_easy_send/recv. */
BOT_HIDDEN long bot_http_start_connect(struct bot_http_multi *m, const char *url,
                                       long connect_timeout_ms, const char *cafile,
                                       bot_http_done_fn *done, void *ud, CURL **easy, jv *err);

#endif
