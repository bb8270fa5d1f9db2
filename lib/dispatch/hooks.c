/* hooks.c: plugins that run without being named by a command, from the
 * headers botpipe-plugins(7) documents:
 *
 *   # match: REGEX     a pattern command (errbot's re_botcmd): runs on a
 *                      message no command took, captures as argv
 *   # on: presence     a callback (errbot's callback_*): runs on every
 *                      event of those types, within --jobs; a few wait
 *                      (as many as commands may), the rest are dropped
 *   # every: 5m        a poller (errbot's start_poller): runs on a
 *                      schedule, never two runs of one at once
 *
 * The headers are read when the plugin folders change (check_folders
 * calls hooks_scan), so an event costs nothing here when no plugin has
 * such a header: each entry point first looks at a counter or a mask.
 *
 * Patterns are Oniguruma's, as jq's test() and match() (jq links libonig),
 * in Perl syntax, UTF-8, with a limit on backtracking: a pattern such as
 * (a+)+$ over a long line from chat would otherwise run for years. */
#include <ctype.h>
#include <dirent.h>
#include <limits.h>
#include <oniguruma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bot.h"
#include "dispatch_priv.h"

/* Backtracking steps one match attempt may take (Oniguruma's default is
 * ten times more), and one search over a message. */
#define MATCH_RETRY_LIMIT 100000UL
#define SEARCH_RETRY_LIMIT 10000000UL
#define MATCHALL_MAX 100   /* matches a matchall command gets */
#define POLL_MIN_MS 1000

static const struct {
	const char *name;
	unsigned bit;
} event_types[] = {
	{ "message", ON_MESSAGE }, { "mention", ON_MENTION }, { "presence", ON_PRESENCE },
	{ "reaction", ON_REACTION }, { "room", ON_ROOM }, { "stream", ON_STREAM },
	{ "card", ON_CARD }, { "connection", ON_CONNECTION },
};

long hooks_interval_ms(const char *text)
{
	char *end;
	if (!text || !*text)
		return -1;
	long n = strtol(text, &end, 10);
	long unit = 1000;
	if (!strcmp(end, "m"))
		unit = 60000;
	else if (!strcmp(end, "h"))
		unit = 3600000;
	else if (!strcmp(end, "d"))
		unit = 86400000;
	else if (*end && strcmp(end, "s"))
		return -1;
	if (end == text || n <= 0 || n > 366L * 86400000 / unit)
		return -1;
	return n * unit;
}

/* The "# on:" words as ON_* bits; 0 and *bad when a word is no type. */
static unsigned parse_on(const char *text, char *bad, size_t n)
{
	unsigned on = 0;
	char *copy = strdup(text), *save = NULL;
	for (char *w = strtok_r(copy, " \t,", &save); w; w = strtok_r(NULL, " \t,", &save)) {
		unsigned bit = 0;
		for (size_t i = 0; i < sizeof event_types / sizeof *event_types; i++)
			if (!strcasecmp(w, event_types[i].name))
				bit = event_types[i].bit;
		if (!bit) {
			snprintf(bad, n, "%s", w);
			free(copy);
			return 0;
		}
		on |= bit;
	}
	free(copy);
	if (!on)
		snprintf(bad, n, "(nothing)");
	return on;
}

static void *compile(const char *pattern, char *why, size_t n)
{
	OnigRegex re;
	OnigErrorInfo einfo;
	const UChar *p = (const UChar *)pattern;
	int rc = onig_new(&re, p, p + strlen(pattern), ONIG_OPTION_CAPTURE_GROUP, ONIG_ENCODING_UTF8,
	                  ONIG_SYNTAX_PERL_NG, &einfo);
	if (rc != ONIG_NORMAL) {
		UChar msg[ONIG_MAX_ERROR_MESSAGE_LEN];
		onig_error_code_to_str(msg, rc, &einfo);
		snprintf(why, n, "%s", (const char *)msg);
		return NULL;
	}
	return re;
}

static void hook_clear(struct hook *h)
{
	free(h->path);
	free(h->to);
	if (h->re)
		onig_free(h->re);
}

void hooks_free(struct hooks *hs)
{
	for (int i = 0; i < hs->n; i++)
		hook_clear(&hs->h[i]);
	free(hs->h);
	memset(hs, 0, sizeof *hs);
}

/* A poller keeps its schedule and its running run across a rescan. */
static void carry_over(const struct hooks *old, struct hook *h, long long now)
{
	h->next_at = now + h->every_ms;
	for (int i = 0; i < old->n; i++)
		if (!strcmp(old->h[i].name, h->name) && old->h[i].every_ms) {
			h->running = old->h[i].running;
			if (old->h[i].every_ms == h->every_ms)
				h->next_at = old->h[i].next_at;
		}
}

/* The hook of the plugin at path, from its header: 1 when it has one, 0
 * none, -1 a bad header (told). */
static int read_hook(struct dispatch *d, const char *path, struct hook *h)
{
	struct bot_help hd;
	char why[PATH_MAX + 300], bad[64];
	bot_help_read(path, &hd);
	int rc = 0;
	if (hd.every) {
		h->every_ms = hooks_interval_ms(hd.every);
		if (h->every_ms < POLL_MIN_MS) {
			snprintf(why, sizeof why, "%s: every: %s is no interval (such as 30s, 5m, 1h, 1d; "
			         "at least 1s)", path, hd.every);
			rc = -1;
		} else
			rc = 1;
	}
	if (rc >= 0 && hd.on) {
		h->on = parse_on(hd.on, bad, sizeof bad);
		if (!h->on) {
			snprintf(why, sizeof why, "%s: on: %s is no event type (message, mention, presence, "
			         "reaction, room, stream, card, connection)", path, bad);
			rc = -1;
		} else
			rc = 1;
	}
	if (rc >= 0 && hd.match) {
		char err[300];
		h->re = compile(hd.match, err, sizeof err);
		if (!h->re) {
			snprintf(why, sizeof why, "%s: match: %s", path, err);
			rc = -1;
		} else {
			h->matchall = hd.matchall;
			h->unprefixed = hd.unprefixed;
			rc = 1;
		}
	}
	if (rc > 0 && hd.to)
		h->to = strdup(hd.to);
	h->admin_only = hd.admin_only;
	if (rc < 0)
		dispatch_tell_once(d, why, 1);
	bot_help_clear(&hd);
	return rc;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct hook *)a)->name, ((const struct hook *)b)->name);
}

void hooks_scan(struct dispatch *d)
{
	struct hooks old = d->hooks, hs = { 0 };
	long long now = bot_now_ms();
	int cap = 0;
	jv_array_foreach(d->dirs, i, dir) {
		DIR *dd = opendir(jv_string_value(dir));
		for (struct dirent *e; dd && (e = readdir(dd));) {
			char path[PATH_MAX], plugin[NAME_MAX + 1];
			/* only the plugin that runs by this name: the first folder's */
			if (!dispatch_find_plugin(d, e->d_name, path, sizeof path, plugin, sizeof plugin) ||
			    strncmp(path, jv_string_value(dir), strlen(jv_string_value(dir))))
				continue;
			struct hook h = { 0 };
			if (read_hook(d, path, &h) <= 0) {
				hook_clear(&h);
				continue;
			}
			snprintf(h.name, sizeof h.name, "%s", e->d_name);
			snprintf(h.plugin, sizeof h.plugin, "%s", plugin);
			h.path = strdup(path);
			if (h.every_ms)
				carry_over(&old, &h, now);
			if (hs.n == cap) {
				cap = cap ? cap * 2 : 8;
				hs.h = realloc(hs.h, (size_t)cap * sizeof *hs.h);
				if (!hs.h)
					abort();
			}
			hs.on |= h.on;
			hs.patterns += h.re != NULL;
			hs.pollers += h.every_ms > 0;
			hs.h[hs.n++] = h;
		}
		if (dd)
			closedir(dd);
		jv_free(dir);
		(void)i;
	}
	if (hs.n)
		qsort(hs.h, (size_t)hs.n, sizeof *hs.h, by_name);
	hooks_free(&old);
	d->hooks = hs;
}

/* ---- pattern commands ---- */

/* The byte after the code point at s[i]. */
static size_t next_point(const char *s, size_t len, size_t i)
{
	i++;
	while (i < len && ((unsigned char)s[i] & 0xC0) == 0x80)
		i++;
	return i;
}

/* One search from start; the match in region.  >= 0 matched, ONIG_MISMATCH
 * none, else an error (the limit). */
static int search(struct hook *h, const char *s, size_t len, size_t start, OnigRegion *region,
                  OnigMatchParam *mp)
{
	const UChar *b = (const UChar *)s, *end = b + len;
	onig_region_clear(region);
	return onig_search_with_param(h->re, b, end, b + start, end, region, ONIG_OPTION_NONE, mp);
}

static jv group_text(const char *s, const OnigRegion *r, int g)
{
	if (g >= r->num_regs || r->beg[g] < 0)
		return jv_string("");
	return jv_string_sized(s + r->beg[g], r->end[g] - r->beg[g]);
}

/* errbot's re.search (the groups as argv) or, with matchall, finditer
 * (every match as argv).  An array of words, null for no match, an
 * invalid when the limit stopped it. */
static jv match_words(struct hook *h, const char *s, size_t len, jv *whole)
{
	OnigRegion *region = onig_region_new();
	OnigMatchParam *mp = onig_new_match_param();
	onig_initialize_match_param(mp);
	onig_set_retry_limit_in_match_of_match_param(mp, MATCH_RETRY_LIMIT);
	onig_set_retry_limit_in_search_of_match_param(mp, SEARCH_RETRY_LIMIT);
	jv words = jv_null();
	*whole = jv_null();
	size_t at = 0;
	for (int n = 0; at <= len && n < (h->matchall ? MATCHALL_MAX : 1); n++) {
		int rc = search(h, s, len, at, region, mp);
		if (rc == ONIG_MISMATCH)
			break;
		if (rc < 0) {
			jv_free(words);
			words = jv_invalid();
			break;
		}
		if (jv_get_kind(words) != JV_KIND_ARRAY) {
			words = jv_array();
			jv_free(*whole);
			*whole = group_text(s, region, 0);
		}
		if (h->matchall)
			words = jv_array_append(words, group_text(s, region, 0));
		else
			for (int g = 1; g < region->num_regs; g++)
				words = jv_array_append(words, group_text(s, region, g));
		size_t end = (size_t)region->end[0];
		at = end > (size_t)region->beg[0] ? end : next_point(s, len, end);
	}
	onig_region_free(region, 1);
	onig_free_match_param(mp);
	return words;
}

/* errbot's step 7: every pattern command, in name order, is tried; those
 * that need the prefix only on an addressed message. */
int hooks_match(struct dispatch *d, jv msg, const struct bot_cmd *c)
{
	if (!d->hooks.patterns)
		return 0;
	int addressed = c->kind != BOT_CMD_NONE;
	const char *text = addressed ? c->text : bot_str(msg, "body");
	if (!text)
		return 0;
	size_t len = strlen(text);
	int matched = 0;
	for (int i = 0; i < d->hooks.n; i++) {
		struct hook *h = &d->hooks.h[i];
		if (!h->re || (!addressed && !h->unprefixed))
			continue;
		jv whole;
		jv words = match_words(h, text, len, &whole);
		if (!jv_is_valid(words)) {
			char why[BOT_CMD_NAME_MAX + 200];
			snprintf(why, sizeof why, "%s: match: a message took more than %lu steps to match "
			         "(the pattern backtracks too much): taken as no match", h->name,
			         MATCH_RETRY_LIMIT);
			dispatch_tell_once(d, why, 0);
		}
		if (jv_get_kind(words) != JV_KIND_ARRAY) {
			jv_free(words);
			jv_free(whole);
			continue;
		}
		matched++;
		struct item *it = dispatch_item_new(d, ITEM_PLUGIN, jv_copy(msg));
		it->origin = ORIGIN_PATTERN;
		snprintf(it->name, sizeof it->name, "%s", h->name);
		snprintf(it->plugin, sizeof it->plugin, "%s", h->plugin);
		it->path = strdup(h->path);
		it->args = strdup(text);
		it->words = words;
		it->vars = JV_OBJECT(jv_string("BOT_MATCH"), whole);
		const char *why = dispatch_acl(d, msg, it, h->admin_only);
		if (why) {
			/* chatter that happens to match is not told it may not */
			if (addressed)
				dispatch_emit(d, bot_build_reply(jv_copy(msg), why, 0, 0, d->mention));
			dispatch_emit(d, bot_error_event("denied", why, jv_copy(msg)));
			dispatch_item_free(d, it);
			continue;
		}
		dispatch_enqueue(d, it);
	}
	return matched;
}

/* ---- callbacks ---- */

static int word_byte(unsigned char c)
{
	return c >= 0x80 || c == '_' || isalnum(c);
}

/* A message that names the bot: one of --alt-prefix as a word anywhere
 * in its body (with --alt-prefix-caseless, in any case). */
static int mentions_bot(const struct dispatch *d, const char *body)
{
	int hit = 0;
	jv_array_foreach(d->alt_prefixes, i, p) {
		const char *ps = jv_string_value(p);
		size_t pl = strlen(ps);
		for (const char *s = body; !hit && pl && *s; s++) {
			int same = d->cmdopts.alt_caseless ? !strncasecmp(s, ps, pl) : !strncmp(s, ps, pl);
			if (same && (s == body || !word_byte((unsigned char)s[-1])) &&
			    !word_byte((unsigned char)s[pl]))
				hit = 1;
		}
		jv_free(p);
		(void)i;
	}
	return hit;
}

static unsigned event_bit(jv ev, const struct dispatch *d)
{
	const char *type = bot_str(ev, "type");
	if (!type)
		return 0;
	if (!strcmp(type, "message")) {
		const char *body = bot_str(ev, "body");
		if (bot_true(ev, "delayed"))
			return 0;
		return ON_MESSAGE | (body && (d->hooks.on & ON_MENTION) && mentions_bot(d, body)
		                     ? ON_MENTION : 0);
	}
	for (size_t i = 0; i < sizeof event_types / sizeof *event_types; i++)
		if (!strcmp(type, event_types[i].name))
			return event_types[i].bit;
	return 0;
}

/* Log the drops at most once a second (and at the end: force). */
void hooks_tell_drops(struct dispatch *d, int force)
{
	long long now = bot_now_ms();
	if (!d->cb_dropped || (!force && now - d->cb_told_at < 1000))
		return;
	bot_warn("callbacks: %ld events dropped: %d running and %d waiting (--jobs %d)",
	         d->cb_dropped, bot_jobs_running(d->jobs), d->cblen, d->jobs_max);
	d->cb_dropped = 0;
	d->cb_told_at = now;
}

void hooks_callbacks(struct dispatch *d, jv ev)
{
	if (!d->hooks.on)
		return;
	unsigned bit = event_bit(ev, d);
	if (!(bit & d->hooks.on))
		return;
	for (int i = 0; i < d->hooks.n; i++) {
		struct hook *h = &d->hooks.h[i];
		if (!(h->on & bit))
			continue;
		if (d->cblen >= d->cb_max) {
			d->cb_dropped++;
			continue;
		}
		struct item *it = dispatch_item_new(d, ITEM_PLUGIN, jv_copy(ev));
		it->origin = ORIGIN_CALLBACK;
		snprintf(it->name, sizeof it->name, "%s", h->name);
		snprintf(it->plugin, sizeof it->plugin, "%s", h->plugin);
		it->path = strdup(h->path);
		it->args = strdup("");
		it->to = h->to ? strdup(h->to) : NULL;
		if ((bit & ON_MESSAGE) && dispatch_acl(d, ev, it, h->admin_only)) {
			dispatch_item_free(d, it);   /* what the sender may not run is not run for them */
			continue;
		}
		d->cbq[(d->cbhead + d->cblen++) % d->cb_max] = it;
	}
	hooks_tell_drops(d, 0);
}

/* ---- pollers ---- */

static jv timer_event(const struct hook *h)
{
	jv ev = JV_OBJECT(jv_string("type"), jv_string("timer"), jv_string("command"),
	                  jv_string(h->name), jv_string("interval"),
	                  jv_number((double)h->every_ms / 1000));
	if (h->to)
		ev = jv_object_set(ev, jv_string("to"), jv_string(h->to));
	return ev;
}

int hooks_run_due(struct dispatch *d)
{
	if (!d->hooks.pollers || d->replay)
		return -1;
	long long now = bot_now_ms(), next = -1;
	for (int i = 0; i < d->hooks.n; i++) {
		struct hook *h = &d->hooks.h[i];
		if (!h->every_ms)
			continue;
		if (h->next_at <= now) {
			/* on its schedule, not after a late run: a slow run skips ticks */
			while (h->next_at <= now)
				h->next_at += h->every_ms;
			if (h->running)
				bot_debug("%s: still running at its next time: skipped", h->name);
			else {
				struct item *it = dispatch_item_new(d, ITEM_PLUGIN, timer_event(h));
				it->origin = ORIGIN_POLLER;
				snprintf(it->name, sizeof it->name, "%s", h->name);
				snprintf(it->plugin, sizeof it->plugin, "%s", h->plugin);
				it->path = strdup(h->path);
				it->args = strdup("");
				it->to = h->to ? strdup(h->to) : NULL;
				h->running = 1;
				dispatch_enqueue(d, it);
			}
		}
		if (next < 0 || h->next_at < next)
			next = h->next_at;
	}
	if (next < 0)
		return -1;
	return next - now > INT_MAX ? INT_MAX : (int)(next - now);
}

void hooks_poller_done(struct dispatch *d, const char *name)
{
	for (int i = 0; i < d->hooks.n; i++)
		if (!strcmp(d->hooks.h[i].name, name))
			d->hooks.h[i].running = 0;
}
