/* libbot: markdown (cmark-gfm's AST) into each backend's markup.
 *
 * One walk over cmark's AST serves every markup; a table says what each
 * markup writes for emphasis, and the walk asks the markup's family (plain
 * text, HTML, Telegram's HTML subset, Slack's mrkdwn, markdown) for the
 * rest.  Everything goes through a small writer that also records, for the
 * splitter, where a cut may fall and which spans (bold, a link, a code
 * block) are open where (render_priv.h).
 *
 * Chat text is hostile: raw HTML from the source is written as literal
 * text, links to javascript:, vbscript:, data: and file: URLs keep their
 * text only, and control characters (C0 but tab and newline, DEL, C1)
 * become U+FFFD in every markup.  See botpipe-markup(7).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cmark-gfm.h>
#include <cmark-gfm-core-extensions.h>
#include <cmark-gfm_version.h>

#include "bot.h"
#include "buf.h"
#include "libload.h"
#include "render.h"
#include "render_priv.h"

/* ---- cmark-gfm, loaded by the first body that needs parsing -------------
 *
 * libbot does not link cmark-gfm: a plain body (see is_plain) is rendered
 * without it, and a program that sends only such bodies never maps it
 * (364 kB of a one-shot send's peak RSS).  The first parse opens the
 * extensions library (which brings cmark-gfm itself) and takes every
 * function from it; below this block the code calls cmark as usual. */
#define CMARK_FUNCTIONS(X) \
	X(cmark_find_syntax_extension) X(cmark_gfm_core_extensions_ensure_registered) \
	X(cmark_gfm_extensions_get_table_alignments) X(cmark_gfm_extensions_get_table_columns) \
	X(cmark_gfm_extensions_get_tasklist_item_checked) \
	X(cmark_iter_free) X(cmark_iter_get_node) X(cmark_iter_new) X(cmark_iter_next) \
	X(cmark_iter_reset) X(cmark_node_first_child) X(cmark_node_free) \
	X(cmark_node_get_fence_info) X(cmark_node_get_heading_level) \
	X(cmark_node_get_list_start) X(cmark_node_get_list_tight) X(cmark_node_get_list_type) \
	X(cmark_node_get_literal) X(cmark_node_get_type) X(cmark_node_get_type_string) \
	X(cmark_node_get_url) X(cmark_node_get_user_data) X(cmark_node_last_child) \
	X(cmark_node_next) X(cmark_node_parent) X(cmark_node_previous) \
	X(cmark_node_set_user_data) X(cmark_parser_attach_syntax_extension) \
	X(cmark_parser_feed) X(cmark_parser_finish) X(cmark_parser_free) X(cmark_parser_new)

#define CM_POINTER(name) static __typeof__(name) *cm_##name;
CMARK_FUNCTIONS(CM_POINTER)
#undef CM_POINTER

/* cmark-gfm's shared objects carry the whole version as their soname. */
#define CMARK_EXTENSIONS_SONAME "libcmark-gfm-extensions.so." CMARK_GFM_VERSION_STRING

static void cmark_load(void)
{
	static void *h;
	if (h)
		return;   /* never unloaded: cmark keeps its extensions in a global list */
	h = bot_dlopen_needed(CMARK_EXTENSIONS_SONAME);
#define CM_LOOKUP(name) bot_dlsym_needed(h, CMARK_EXTENSIONS_SONAME, #name, (void **)&cm_##name);
	CMARK_FUNCTIONS(CM_LOOKUP)
#undef CM_LOOKUP
}

#define CM_CALL(name) (*cm_##name)
#define cmark_find_syntax_extension CM_CALL(cmark_find_syntax_extension)
#define cmark_gfm_core_extensions_ensure_registered CM_CALL(cmark_gfm_core_extensions_ensure_registered)
#define cmark_gfm_extensions_get_table_alignments CM_CALL(cmark_gfm_extensions_get_table_alignments)
#define cmark_gfm_extensions_get_table_columns CM_CALL(cmark_gfm_extensions_get_table_columns)
#define cmark_gfm_extensions_get_tasklist_item_checked CM_CALL(cmark_gfm_extensions_get_tasklist_item_checked)
#define cmark_iter_free CM_CALL(cmark_iter_free)
#define cmark_iter_get_node CM_CALL(cmark_iter_get_node)
#define cmark_iter_new CM_CALL(cmark_iter_new)
#define cmark_iter_next CM_CALL(cmark_iter_next)
#define cmark_iter_reset CM_CALL(cmark_iter_reset)
#define cmark_node_first_child CM_CALL(cmark_node_first_child)
#define cmark_node_free CM_CALL(cmark_node_free)
#define cmark_node_get_fence_info CM_CALL(cmark_node_get_fence_info)
#define cmark_node_get_heading_level CM_CALL(cmark_node_get_heading_level)
#define cmark_node_get_list_start CM_CALL(cmark_node_get_list_start)
#define cmark_node_get_list_tight CM_CALL(cmark_node_get_list_tight)
#define cmark_node_get_list_type CM_CALL(cmark_node_get_list_type)
#define cmark_node_get_literal CM_CALL(cmark_node_get_literal)
#define cmark_node_get_type CM_CALL(cmark_node_get_type)
#define cmark_node_get_type_string CM_CALL(cmark_node_get_type_string)
#define cmark_node_get_url CM_CALL(cmark_node_get_url)
#define cmark_node_get_user_data CM_CALL(cmark_node_get_user_data)
#define cmark_node_last_child CM_CALL(cmark_node_last_child)
#define cmark_node_next CM_CALL(cmark_node_next)
#define cmark_node_parent CM_CALL(cmark_node_parent)
#define cmark_node_previous CM_CALL(cmark_node_previous)
#define cmark_node_set_user_data CM_CALL(cmark_node_set_user_data)
#define cmark_parser_attach_syntax_extension CM_CALL(cmark_parser_attach_syntax_extension)
#define cmark_parser_feed CM_CALL(cmark_parser_feed)
#define cmark_parser_finish CM_CALL(cmark_parser_finish)
#define cmark_parser_free CM_CALL(cmark_parser_free)
#define cmark_parser_new CM_CALL(cmark_parser_new)

enum family { F_TEXT, F_HTML, F_TG, F_SLACK, F_MD };
enum escape { ESC_NONE, ESC_HTML, ESC_AMP, ESC_MD, ESC_DISCORD, ESC_MM, ESC_ZULIP };
/* How a markup shows errbot's {: color='..' bgcolor='..' } marks. */
enum colour { COL_NONE, COL_ANSI, COL_IRC, COL_HTML, COL_MATRIX };
/* How a markup draws a table. */
enum tables {
	T_BOX,     /* box drawing (errbot's text and ansi) */
	T_PLAIN,   /* aligned columns, no border (errbot's compact IRC tables) */
	T_CODE,    /* aligned columns in a code block */
	T_HTML,    /* <table> */
	T_PIPE,    /* a GitHub pipe table again */
};

struct markup {
	const char *name;
	enum family fam;
	enum escape esc;
	enum colour colour;
	enum tables tables;
	const char *strong_open, *strong_close;
	const char *emph_open, *emph_close;
	const char *strike_open, *strike_close;
	const char *head_open, *head_close;    /* h1-h2 in the text family */
	const char *sub_open, *sub_close;      /* h3-h6 in the text family */
	unsigned per_line : 1;        /* inline spans never cross a line */
	unsigned drop_empty : 1;      /* no empty lines (IRC) */
	unsigned semantic_prefix : 1; /* "> " means a quote to the reader */
	unsigned styled_code : 1;     /* `code` and ``` fences (xmpp) */
	unsigned img_as_link : 1;     /* <a> rather than <img> (matrix) */
	unsigned ansi_reset : 1;      /* end with ESC[0m (ansi) */
	unsigned hard_newline : 1;    /* a newline is a line break (discord) */
	unsigned mass_mentions : 1;   /* @everyone, @here... ping (discord...) */
};

#define MD_STYLES .strong_open = "**", .strong_close = "**", \
	.emph_open = "*", .emph_close = "*", \
	.strike_open = "~~", .strike_close = "~~"

static const struct markup markups[] = {
	{ .name = "text", .fam = F_TEXT, .tables = T_BOX },
	{ .name = "ansi", .fam = F_TEXT, .colour = COL_ANSI, .tables = T_BOX,
	  .strong_open = "\x1b[1m", .strong_close = "\x1b[22m",
	  .emph_open = "\x1b[4m", .emph_close = "\x1b[24m",
	  .strike_open = "\x1b[9m", .strike_close = "\x1b[29m",
	  .head_open = "\x1b[1m", .head_close = "\x1b[22m",
	  .sub_open = "\x1b[4m", .sub_close = "\x1b[24m", .ansi_reset = 1 },
	{ .name = "irc", .fam = F_TEXT, .colour = COL_IRC, .tables = T_PLAIN,
	  .strong_open = "\x02", .strong_close = "\x02",
	  .emph_open = "\x1f", .emph_close = "\x1f",
	  .strike_open = "\x1e", .strike_close = "\x1e",
	  .head_open = "\x02", .head_close = "\x02",
	  .sub_open = "\x1f", .sub_close = "\x1f", .per_line = 1, .drop_empty = 1 },
	{ .name = "xmpp", .fam = F_TEXT, .tables = T_CODE,
	  .strong_open = "*", .strong_close = "*", .emph_open = "_", .emph_close = "_",
	  .strike_open = "~", .strike_close = "~",
	  .head_open = "*", .head_close = "*", .sub_open = "*", .sub_close = "*",
	  .per_line = 1, .semantic_prefix = 1, .styled_code = 1 },
	{ .name = "markdown", .fam = F_MD, .esc = ESC_MD, .tables = T_PIPE,
	  MD_STYLES, .semantic_prefix = 1 },
	{ .name = "discord", .fam = F_MD, .esc = ESC_DISCORD, .tables = T_CODE,
	  MD_STYLES, .semantic_prefix = 1, .hard_newline = 1, .mass_mentions = 1 },
	{ .name = "mattermost", .fam = F_MD, .esc = ESC_MM, .tables = T_PIPE,
	  MD_STYLES, .semantic_prefix = 1, .hard_newline = 1, .mass_mentions = 1 },
	{ .name = "zulip", .fam = F_MD, .esc = ESC_ZULIP, .tables = T_PIPE,
	  MD_STYLES, .semantic_prefix = 1 },
	{ .name = "slack", .fam = F_SLACK, .esc = ESC_AMP, .tables = T_CODE,
	  .strong_open = "*", .strong_close = "*", .emph_open = "_", .emph_close = "_",
	  .strike_open = "~", .strike_close = "~",
	  .head_open = "*", .head_close = "*", .sub_open = "*", .sub_close = "*",
	  .per_line = 1, .semantic_prefix = 1, .mass_mentions = 1 },
	{ .name = "telegram", .fam = F_TG, .esc = ESC_AMP, .tables = T_CODE,
	  .strong_open = "<b>", .strong_close = "</b>", .emph_open = "<i>", .emph_close = "</i>",
	  .strike_open = "<s>", .strike_close = "</s>",
	  .head_open = "<b>", .head_close = "</b>", .sub_open = "<b>", .sub_close = "</b>" },
	{ .name = "html", .fam = F_HTML, .esc = ESC_HTML, .colour = COL_HTML, .tables = T_HTML,
	  .strong_open = "<strong>", .strong_close = "</strong>",
	  .emph_open = "<em>", .emph_close = "</em>",
	  .strike_open = "<del>", .strike_close = "</del>" },
	{ .name = "matrix", .fam = F_HTML, .esc = ESC_HTML, .colour = COL_MATRIX, .tables = T_HTML,
	  .strong_open = "<strong>", .strong_close = "</strong>",
	  .emph_open = "<em>", .emph_close = "</em>",
	  .strike_open = "<del>", .strike_close = "</del>", .img_as_link = 1 },
};

#define HRULE "\xe2\x94\x80\xe2\x94\x80\xe2\x94\x80\xe2\x94\x80\xe2\x94\x80" \
              "\xe2\x94\x80\xe2\x94\x80\xe2\x94\x80\xe2\x94\x80\xe2\x94\x80"
#define REPLACEMENT "\xef\xbf\xbd"
#define BULLET "\xe2\x80\xa2 "
#define ZWSP "\xe2\x80\x8b"
/* Line prefixes deeper than this are not drawn (hostile nesting). */
#define MAX_PREFIX_FRAMES 16

struct frame {
	char first[16];        /* this frame's part of the item's first line */
	char cont[16];         /* ...and of the lines after it */
	int started;
};

struct open_span {
	size_t rec;            /* index in rout.sp */
	const char *open_s, *close_s;   /* for per-line spans: static */
	const char *style;     /* the markup table's string, for styles */
	int per_line, suspended, dummy;
};

struct list_state {
	int ordered, tight, start, count;
};

struct rstate {
	struct rout *o;
	const struct markup *m;
	struct frame *fr;
	int nfr, capfr;
	struct open_span *op;
	int nop, capop;
	struct list_state *ls;
	int nls, capls;
	int bol;               /* the current line's prefix is not written yet */
	int line_empty;        /* nothing but the prefix on this line yet */
	int pending;           /* cut class for the next byte written */
	int any;               /* something was written */
	int verbatim;          /* code: no markdown escaping */
	int upper;             /* h1 in the text family */
	int in_heading, in_link, quote_depth;
	int in_table;          /* markdown: escape | in cells */
	size_t table_rec, table_start;   /* a pipe table's header span */
	uint32_t prev_cp;      /* for grapheme clusters */
	int ri_run;            /* regional indicators in a row */
	char **keep;           /* strings spans point to, freed at the end */
	int nkeep, capkeep;
};

/* ---- memory: out of memory is not the caller's problem (jq's rule) ---- */

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		abort();
	return q;
}

#define GROW(arr, n, cap) do { \
	if ((n) >= (cap)) { \
		(cap) = (cap) ? (cap) * 2 : 8; \
		(arr) = xrealloc((arr), (size_t)(cap) * sizeof *(arr)); \
	} \
} while (0)

/* ---- the writer -------------------------------------------------------- */

static void out_reserve(struct rout *o, size_t n)
{
	if (o->len + n + 1 <= o->cap)
		return;
	size_t cap = o->cap ? o->cap : 256;
	while (cap < o->len + n + 1)
		cap *= 2;
	o->s = xrealloc(o->s, cap);
	o->f = xrealloc(o->f, cap);
	o->cap = cap;
}

/* Append bytes: the first gets flags first (with the pending cut class),
 * the others flags rest. */
static void append(struct rstate *st, const char *s, size_t n,
                   unsigned first, unsigned rest)
{
	struct rout *o = st->o;
	if (n == 0)
		return;
	out_reserve(o, n);
	memcpy(o->s + o->len, s, n);
	unsigned cls = first & RF_CUT;
	if ((unsigned)st->pending > cls)
		cls = (unsigned)st->pending;
	o->f[o->len] = (unsigned char)((first & ~RF_CUT) | cls);
	memset(o->f + o->len + 1, rest, n - 1);
	o->len += n;
	o->s[o->len] = '\0';
	st->pending = 0;
	st->any = 1;
}

static void begin_line(struct rstate *st);

/* Write content or markup, starting the line (prefix, reopened spans)
 * first when needed. */
static void emit(struct rstate *st, const char *s, size_t n, int cls,
                 unsigned fl)
{
	if (n == 0)
		return;
	if (st->bol)
		begin_line(st);
	append(st, s, n, fl | (unsigned)cls, fl);
	st->line_empty = 0;
}

static void emit_markup(struct rstate *st, const char *s)
{
	emit(st, s, strlen(s), RCUT_NONE, RF_MARKUP);
}

static size_t span_record(struct rstate *st, size_t pos, size_t n)
{
	struct rout *o = st->o;
	GROW(o->sp, o->nsp, o->capsp);
	o->sp[o->nsp] = (struct rspan){ pos, n, (size_t)-1, 0, 0 };
	return o->nsp++;
}

static void push_open(struct rstate *st, size_t rec, const char *open_s,
                      const char *close_s, int per_line)
{
	GROW(st->op, st->nop, st->capop);
	st->op[st->nop++] = (struct open_span){ rec, open_s, close_s, NULL,
	                                         per_line, 0, 0 };
}

/* Build the line prefix from the frames: first-line parts for frames that
 * have not started, continuation parts for the others.  blank: for an
 * empty line (trailing spaces dropped, frames not started). */
static size_t build_prefix(struct rstate *st, char *buf, size_t cap, int blank)
{
	size_t n = 0;
	for (int i = 0; i < st->nfr && i < MAX_PREFIX_FRAMES; i++) {
		struct frame *f = &st->fr[i];
		const char *p = f->started ? f->cont : f->first;
		if (!blank)
			f->started = 1;
		size_t l = strlen(p);
		if (n + l < cap) {
			memcpy(buf + n, p, l);
			n += l;
		}
	}
	if (blank)
		while (n > 0 && buf[n - 1] == ' ')
			n--;
	buf[n] = '\0';
	return n;
}

static void begin_line(struct rstate *st)
{
	char buf[MAX_PREFIX_FRAMES * 16 + 1];
	size_t n = build_prefix(st, buf, sizeof buf, 0);
	st->bol = 0;
	append(st, buf, n, RF_MARKUP | RF_PREFIX, RF_MARKUP | RF_PREFIX);
	st->line_empty = 1;
	for (int i = 0; i < st->nop; i++) {
		struct open_span *s = &st->op[i];
		if (!s->suspended || s->dummy)
			continue;
		size_t l = strlen(s->open_s);
		s->rec = span_record(st, st->o->len, l);
		append(st, s->open_s, l, RF_MARKUP, RF_MARKUP);
		s->suspended = 0;
	}
}

/* Mark a finished span's markup as no place to cut, and its opening's
 * end too (a part must not end with an opening). */
static void span_seal(struct rstate *st, size_t rec)
{
	struct rout *o = st->o;
	struct rspan *r = &o->sp[rec];
	size_t oe = r->open_pos + r->open_len;
	for (size_t i = r->open_pos + 1; i <= oe && i < o->len; i++) {
		unsigned cls = o->f[i] & RF_CUT;
		if (r->table && i == oe)
			continue;   /* the first row starts a line */
		/* a table's header may still be cut, as a last resort (it may
		 * not fit at all) */
		cls = r->table && cls != RCUT_NONE ? RCUT_CODEPOINT : RCUT_NONE;
		o->f[i] = (unsigned char)((o->f[i] & ~RF_CUT) | cls);
	}
	for (size_t i = r->close_pos; i < r->close_pos + r->close_len; i++) {
		/* a table's bottom border may be cut, as a last resort */
		unsigned cls = r->table && i > r->close_pos && (o->s[i] & 0xc0) != 0x80 ?
		               RCUT_CODEPOINT : RCUT_NONE;
		o->f[i] = (unsigned char)((o->f[i] & ~RF_CUT) | RF_MARKUP | cls);
	}
}

static void close_record(struct rstate *st, size_t rec, const char *s, size_t n)
{
	st->o->sp[rec].close_pos = st->o->len;
	append(st, s, n, RF_MARKUP, RF_MARKUP);
	st->o->sp[rec].close_len = n;
	span_seal(st, rec);
}

/* A newline.  Per-line spans are closed before it and reopened after the
 * next line's prefix. */
static void w_newline(struct rstate *st, int cls)
{
	if (st->bol) {
		if (st->m->drop_empty) {
			if (cls > st->pending)
				st->pending = cls;
			return;
		}
		char buf[MAX_PREFIX_FRAMES * 16 + 1];
		size_t n = build_prefix(st, buf, sizeof buf, 1);
		append(st, buf, n, RF_MARKUP | RF_PREFIX, RF_MARKUP | RF_PREFIX);
	} else {
		int low = st->nop;
		for (int i = 0; i < st->nop; i++)
			if (st->op[i].per_line && !st->op[i].suspended) {
				low = i;
				break;
			}
		for (int i = st->nop - 1; i >= low; i--) {
			struct open_span *s = &st->op[i];
			if (s->suspended || !s->per_line || s->dummy)
				continue;
			/* a span that must not cross lines is closed here */
			const char *c = s->close_s ? s->close_s : "";
			close_record(st, s->rec, c, strlen(c));
			s->suspended = 1;
		}
	}
	append(st, "\n", 1, 0, 0);
	st->bol = 1;
	st->line_empty = 1;
	if (cls > st->pending)
		st->pending = cls;
}

/* Open a span: its opening markup goes after the line prefix. */
static void span_open(struct rstate *st, const char *open, size_t n,
                      const char *per_line_close)
{
	if (st->bol)
		begin_line(st);
	size_t rec = span_record(st, st->o->len, n);
	append(st, open, n, RF_MARKUP, RF_MARKUP);
	st->line_empty = 0;
	push_open(st, rec, per_line_close ? open : NULL, per_line_close,
	          per_line_close != NULL);
}

static void span_open_s(struct rstate *st, const char *open)
{
	span_open(st, open, strlen(open), NULL);
}

/* An inline span from the markup's table. */
static void style_open(struct rstate *st, const char *open, const char *close)
{
	if (!open)
		return;
	/* a style inside the same style (em in an underlined heading) would
	 * toggle it off with IRC codes and end it early with ANSI ones */
	for (int i = 0; i < st->nop; i++)
		if (st->op[i].style && strcmp(st->op[i].style, open) == 0) {
			push_open(st, (size_t)-1, NULL, NULL, 0);
			st->op[st->nop - 1].dummy = 1;
			return;
		}
	span_open(st, open, strlen(open), st->m->per_line ? close : NULL);
	st->op[st->nop - 1].style = open;
}

static void span_close(struct rstate *st, const char *close, size_t n)
{
	if (st->nop == 0)
		return;
	struct open_span *s = &st->op[--st->nop];
	if (s->suspended || s->dummy)
		return;   /* closed at the end of the last line already */
	if (st->bol)
		begin_line(st);
	close_record(st, s->rec, close, n);
}

static void span_close_s(struct rstate *st, const char *close)
{
	span_close(st, close, strlen(close));
}

static void style_close(struct rstate *st, const char *open, const char *close)
{
	if (open)
		span_close_s(st, close);
}

static void push_frame(struct rstate *st, const char *first, const char *cont)
{
	GROW(st->fr, st->nfr, st->capfr);
	struct frame *f = &st->fr[st->nfr++];
	snprintf(f->first, sizeof f->first, "%s", first);
	snprintf(f->cont, sizeof f->cont, "%s", cont);
	f->started = 0;
}

/* ---- characters -------------------------------------------------------- */

/* Length of the UTF-8 sequence at s (cmark has validated it; a stray byte
 * counts as one). */
static size_t utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned char c = s[0];
	size_t l = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
	if (l > n)
		l = 1;
	for (size_t i = 1; i < l; i++)
		if ((s[i] & 0xc0) != 0x80)
			l = 1;
	if (l == 1) {
		*cp = c;
		return 1;
	}
	uint32_t v = c & (0xff >> (l + 1));
	for (size_t i = 1; i < l; i++)
		v = (v << 6) | (s[i] & 0x3f);
	*cp = v;
	return l;
}

static int is_control(uint32_t cp)
{
	return (cp < 0x20 && cp != '\t' && cp != '\n') || cp == 0x7f ||
	       (cp >= 0x80 && cp < 0xa0);
}

/* Does cp belong to the grapheme cluster before it?  Combining marks,
 * joiners, variation selectors, emoji modifiers and tags, the second of
 * a pair of regional indicators. */
static int extends_cluster(struct rstate *st, uint32_t cp)
{
	int ri = cp >= 0x1f1e6 && cp <= 0x1f1ff;
	int ext = (cp >= 0x300 && cp <= 0x36f) || (cp >= 0x1ab0 && cp <= 0x1aff) ||
	          (cp >= 0x1dc0 && cp <= 0x1dff) || (cp >= 0x20d0 && cp <= 0x20ff) ||
	          (cp >= 0xfe20 && cp <= 0xfe2f) || (cp >= 0xfe00 && cp <= 0xfe0f) ||
	          cp == 0x200d || cp == 0x200c || (cp >= 0x1f3fb && cp <= 0x1f3ff) ||
	          (cp >= 0xe0020 && cp <= 0xe007f) || (cp >= 0xe0100 && cp <= 0xe01ef) ||
	          st->prev_cp == 0x200d || (ri && st->ri_run % 2 == 1);
	st->ri_run = ri ? st->ri_run + 1 : 0;
	st->prev_cp = cp;
	return ext;
}

/* The escape for byte c of text s at i, or NULL. */
static const char *escape_for(struct rstate *st, const char *s, size_t i,
                              size_t n, char *buf)
{
	unsigned char c = (unsigned char)s[i];
	enum escape e = st->m->esc;
	switch (e) {
	case ESC_NONE:
		return NULL;
	case ESC_HTML:
		if (c == '"')
			return "&quot;";
		/* fall through */
	case ESC_AMP:
		return c == '&' ? "&amp;" : c == '<' ? "&lt;" : c == '>' ? "&gt;" : NULL;
	case ESC_MD:
	case ESC_DISCORD:
	case ESC_MM:
	case ESC_ZULIP:
		break;
	}
	if (st->in_table && c == '|')
		return "\\|";   /* a pipe would end the cell, even in code */
	if (st->verbatim)
		return NULL;
	/* Zulip's markdown (Python-Markdown) unescapes only its own set, so
	 * a backslash before '<', '~', '=' or '&' would show; it never reads
	 * raw HTML, so '<' needs none */
	const char *always = e == ESC_MD ? "\\`*_[]<~" :
	                     e == ESC_ZULIP ? "\\`*_[]" :
	                     e == ESC_DISCORD ? "\\`*_~|[]<>" : "\\`*_~|[]<>";
	const char *at_start = e == ESC_MD ? "#>-+=~" : e == ESC_ZULIP ? "#>-+" : "#>-+=";
	int esc = c && strchr(always, c) != NULL;
	if (!esc && c == '&' && i + 1 < n && e != ESC_ZULIP) {
		unsigned char d = (unsigned char)s[i + 1];
		esc = d == '#' || (d >= 'a' && d <= 'z') || (d >= 'A' && d <= 'Z');
	}
	if (!esc && st->line_empty && c && strchr(at_start, c))
		esc = 1;
	if (!esc)
		return NULL;
	buf[0] = '\\';
	buf[1] = (char)c;
	buf[2] = '\0';
	return buf;
}

/* "everyone", "here", "channel" or "all" as a whole word at s: after an
 * '@', Discord, Slack and Mattermost notify a whole server or channel. */
static int is_mass_mention(const char *s, size_t n)
{
	static const char *const words[] = { "everyone", "here", "channel", "all" };
	for (size_t k = 0; k < sizeof words / sizeof *words; k++) {
		size_t l = strlen(words[k]);
		if (n >= l && strncasecmp(s, words[k], l) == 0) {
			unsigned char d = l < n ? (unsigned char)s[l] : ' ';
			if (!((d >= 'a' && d <= 'z') || (d >= 'A' && d <= 'Z') ||
			      (d >= '0' && d <= '9') || d == '_' || d == '-'))
				return 1;
		}
	}
	return 0;
}

/* Write text: escaped for the markup, controls replaced, and each byte
 * marked with how good a place to cut it is. */
static void w_text_cls(struct rstate *st, const char *s, size_t n, int base)
{
	size_t i = 0;
	size_t list_punct = (size_t)-1;   /* "1." at a line start */
	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\n') {
			if (st->in_heading || st->in_link)
				emit(st, " ", 1, RCUT_CHAR, 0);
			else
				w_newline(st, RCUT_LINE);
			i++;
			continue;
		}
		/* leading blanks would make markdown read a code block (raw
		 * HTML is the only text that can start a line with them) */
		if (st->line_empty && (c == ' ' || c == '\t') &&
		    st->m->fam == F_MD && !st->verbatim) {
			i++;
			continue;
		}
		if (st->line_empty && c >= '0' && c <= '9' && st->m->fam == F_MD &&
		    !st->verbatim) {
			size_t j = i;
			while (j < n && s[j] >= '0' && s[j] <= '9')
				j++;
			if (j < n && (s[j] == '.' || s[j] == ')'))
				list_punct = j;
		}
		uint32_t cp;
		size_t l = utf8_seq((const unsigned char *)s + i, n - i, &cp);
		int cls = base;
		if (extends_cluster(st, cp) && base > RCUT_CODEPOINT)
			cls = RCUT_CODEPOINT;
		char buf[8];
		const char *out = s + i;
		size_t outn = l;
		const char *e;
		if (is_control(cp)) {
			out = REPLACEMENT;
			outn = 3;
		} else if (c == '@' && st->m->mass_mentions && !st->verbatim &&
		           is_mass_mention(s + i + 1, n - i - 1)) {
			/* a zero-width space keeps @everyone from pinging */
			out = "@" ZWSP;
			outn = 1 + strlen(ZWSP);
		} else if (i == list_punct) {
			buf[0] = '\\';
			buf[1] = (char)c;
			out = buf;
			outn = 2;
		} else if (l == 1 && (e = escape_for(st, s, i, n, buf))) {
			out = e;
			outn = strlen(e);
		} else if (st->upper && c >= 'a' && c <= 'z') {
			buf[0] = (char)(c - 'a' + 'A');
			out = buf;
		}
		emit(st, out, outn, cls, 0);
		if (c == ' ' && base >= RCUT_CHAR && st->pending < RCUT_WORD)
			st->pending = RCUT_WORD;
		i += l;
	}
}

static void w_text(struct rstate *st, const char *s, size_t n)
{
	w_text_cls(st, s, n, RCUT_CHAR);
}

static void w_text_s(struct rstate *st, const char *s)
{
	w_text(st, s, strlen(s));
}

/* ---- errbot's attribute marks: {: color='green' bgcolor='red' } -------- */

/* errbot's colour names, with the codes of each markup that has colour
 * (the hex values are the ones errbot's Slack backend uses). */
static const struct colour_name {
	const char *name;
	int ansi, irc;
	const char *hex;
} colour_names[] = {
	{ "black", 0, 1, "#000000" },   { "red", 1, 4, "#FF0000" },
	{ "green", 2, 3, "#008000" },   { "yellow", 3, 8, "#FFA500" },
	{ "blue", 4, 2, "#0000FF" },    { "magenta", 5, 6, "#FF00FF" },
	{ "cyan", 6, 10, "#00FFFF" },   { "white", 7, 0, "#FFFFFF" },
};

struct colours {
	int fg, bg;            /* index in colour_names, or -1 */
};

/* The length of the mark "{: ... }" at s, or 0 when there is none. */
static size_t mark_len(const char *s, size_t n)
{
	if (n < 3 || s[0] != '{' || s[1] != ':')
		return 0;
	for (size_t i = 2; i < n && i < 256; i++) {
		if (s[i] == '}')
			return i + 1;
		if (s[i] == '{' || s[i] == '\n')
			return 0;
	}
	return 0;
}

static int colour_index(const char *v, size_t n)
{
	for (size_t i = 0; i < sizeof colour_names / sizeof *colour_names; i++)
		if (strlen(colour_names[i].name) == n &&
		    strncasecmp(colour_names[i].name, v, n) == 0)
			return (int)i;
	return -1;
}

/* The colours a mark of n bytes names: color= and bgcolor=, the value
 * bare or quoted; other keys, classes and ids are ignored. */
static struct colours mark_colours(const char *s, size_t n)
{
	struct colours c = { -1, -1 };
	size_t end = n - 1, i = 2;   /* s[end] is the '}' */
	while (i < end) {
		while (i < end && (s[i] == ' ' || s[i] == '\t'))
			i++;
		size_t k = i;
		while (i < end && s[i] != '=' && s[i] != ' ' && s[i] != '\t')
			i++;
		size_t klen = i - k;
		if (i >= end || s[i] != '=')
			continue;
		i++;
		char q = i < end && (s[i] == '\'' || s[i] == '"') ? s[i++] : 0;
		size_t v = i;
		while (i < end && (q ? s[i] != q : s[i] != ' ' && s[i] != '\t'))
			i++;
		int idx = colour_index(s + v, i - v);
		if (q && i < end)
			i++;
		if (klen == 5 && strncmp(s + k, "color", 5) == 0)
			c.fg = idx;
		else if (klen == 7 && strncmp(s + k, "bgcolor", 7) == 0)
			c.bg = idx;
	}
	return c;
}

static int is_type(cmark_node *node, const char *type)
{
	const char *t = node ? cmark_node_get_type_string(node) : NULL;
	return t && strcmp(t, type) == 0;
}

/* A mark right after an inline element colours that element: the mark
 * starts the text node that follows it. */
static int mark_after(cmark_node *node, struct colours *c)
{
	cmark_node *next = cmark_node_next(node);
	if (!next || cmark_node_get_type(next) != CMARK_NODE_TEXT)
		return 0;
	const char *t = cmark_node_get_literal(next);
	size_t l = t ? mark_len(t, strlen(t)) : 0;
	if (!l)
		return 0;
	*c = mark_colours(t, l);
	return 1;
}

static int is_inline_element(cmark_node *node)
{
	switch (cmark_node_get_type(node)) {
	case CMARK_NODE_EMPH:
	case CMARK_NODE_STRONG:
	case CMARK_NODE_CODE:
	case CMARK_NODE_LINK:
	case CMARK_NODE_IMAGE:
		return 1;
	default:
		return is_type(node, "strikethrough");
	}
}

/* A mark that ends a paragraph, heading or table cell colours all of it
 * (Python-Markdown's attr_list on a block), unless it belongs to the
 * inline element just before it. */
static int mark_at_end(cmark_node *block, struct colours *c)
{
	cmark_node *last = cmark_node_last_child(block);
	if (!last || cmark_node_get_type(last) != CMARK_NODE_TEXT)
		return 0;
	const char *t = cmark_node_get_literal(last);
	size_t n = t ? strlen(t) : 0;
	while (n && t[n - 1] == ' ')
		n--;
	if (!n || t[n - 1] != '}')
		return 0;
	size_t at = n;
	while (at > 0 && !(t[at - 1] == '{' && t[at] == ':'))
		at--;
	if (at == 0 || mark_len(t + at - 1, n - at + 1) != n - at + 1)
		return 0;
	at--;
	cmark_node *prev = cmark_node_previous(last);
	if (at == 0 && prev && is_inline_element(prev))
		return 0;
	*c = mark_colours(t + at, n - at);
	return 1;
}

/* A text node that is only a mark, the last of its block, after a line
 * break (errbot's card template puts one on a line of its own). */
static int is_lone_final_mark(cmark_node *node)
{
	if (!node || cmark_node_get_type(node) != CMARK_NODE_TEXT || cmark_node_next(node))
		return 0;
	const char *t = cmark_node_get_literal(node);
	size_t n = t ? strlen(t) : 0;
	while (n && t[n - 1] == ' ')
		n--;
	return n && mark_len(t, n) == n;
}

/* The opening and closing markup for colours c (buffers of 128 bytes);
 * 0 when the markup shows no colour, or c names none. */
static int colour_markup(const struct markup *m, struct colours c,
                         char *open, char *close)
{
	if (c.fg < 0 && c.bg < 0)
		return 0;
	const struct colour_name *fg = c.fg >= 0 ? &colour_names[c.fg] : NULL;
	const struct colour_name *bg = c.bg >= 0 ? &colour_names[c.bg] : NULL;
	open[0] = close[0] = '\0';
	switch (m->colour) {
	case COL_NONE:
		return 0;
	case COL_ANSI:
		if (fg)
			snprintf(open, 128, "\x1b[%dm", 30 + fg->ansi);
		if (bg)
			snprintf(open + strlen(open), 64, "\x1b[%dm", 40 + bg->ansi);
		snprintf(close, 128, "%s%s", fg ? "\x1b[39m" : "", bg ? "\x1b[49m" : "");
		return 1;
	case COL_IRC:
		/* two digits always, and a closing that a digit after it cannot
		 * extend (^C^B^B: the bold toggles cancel out) */
		if (bg)
			snprintf(open, 128, "\x03%02d,%02d", fg ? fg->irc : 99, bg->irc);
		else
			snprintf(open, 128, "\x03%02d", fg->irc);
		snprintf(close, 128, "\x03\x02\x02");
		return 1;
	case COL_HTML:
		snprintf(open, 128, "<span style=\"%s%s%s%s%s\">",
		         fg ? "color: " : "", fg ? fg->hex : "", fg && bg ? "; " : "",
		         bg ? "background-color: " : "", bg ? bg->hex : "");
		snprintf(close, 128, "</span>");
		return 1;
	case COL_MATRIX:
		snprintf(open, 128, "<font%s%s%s%s%s%s>",
		         fg ? " data-mx-color=\"" : "", fg ? fg->hex : "", fg ? "\"" : "",
		         bg ? " data-mx-bg-color=\"" : "", bg ? bg->hex : "", bg ? "\"" : "");
		snprintf(close, 128, "</font>");
		return 1;
	}
	return 0;
}

/* A copy of s that lives as long as the render (for per-line spans). */
static const char *keep_str(struct rstate *st, const char *s)
{
	GROW(st->keep, st->nkeep, st->capkeep);
	size_t n = strlen(s);
	char *c = xrealloc(NULL, n + 1);
	memcpy(c, s, n + 1);
	st->keep[st->nkeep++] = c;
	return c;
}

/* Open a colour span; 1 when one was opened (close it with colour_close). */
static int colour_open(struct rstate *st, struct colours c)
{
	char open[128], close[128];
	if (!colour_markup(st->m, c, open, close))
		return 0;
	const char *o = keep_str(st, open), *cl = keep_str(st, close);
	span_open(st, o, strlen(o), st->m->per_line ? cl : NULL);
	return 1;
}

static void colour_close(struct rstate *st, struct colours c)
{
	char open[128], close[128];
	if (colour_markup(st->m, c, open, close))
		span_close_s(st, close);
}

/* Each run of s between marks, given to put (marks are never shown). */
static void each_unmarked(const char *s, void (*put)(void *ctx, const char *p, size_t n), void *ctx)
{
	size_t n = strlen(s), from = 0;
	for (size_t i = 0; i + 2 < n; i++) {
		size_t l = s[i] == '{' ? mark_len(s + i, n - i) : 0;
		if (!l)
			continue;
		put(ctx, s + from, i - from);
		i += l - 1;
		from = i + 1;
	}
	if (from < n)
		put(ctx, s + from, n - from);
}

static void put_text(void *st, const char *p, size_t n) { w_text(st, p, n); }

/* Text with every mark left out. */
static void w_text_unmarked(struct rstate *st, const char *s)
{
	each_unmarked(s, put_text, st);
}

/* ---- URLs -------------------------------------------------------------- */

/* The URL with control bytes dropped (browsers drop tabs and newlines,
 * which would hide a scheme), malloc'd; NULL when unsafe or empty. */
static char *url_clean(const char *url)
{
	size_t n = strlen(url);
	char *u = xrealloc(NULL, n + 1), *p = u;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)url[i];
		if (c > 0x20 && c != 0x7f)
			*p++ = (char)c;
		else if (c == ' ')
			*p++ = ' ';
	}
	*p = '\0';
	char *q = u;
	while (*q == ' ')
		q++;
	static const char *const bad[] = { "javascript:", "vbscript:", "data:", "file:" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		if (strncasecmp(q, bad[i], strlen(bad[i])) == 0) {
			free(u);
			return NULL;
		}
	if (!*q) {
		free(u);
		return NULL;
	}
	memmove(u, q, strlen(q) + 1);
	return u;
}

/* The URL as the markup wants it inside its link syntax, malloc'd. */
static char *url_for_markup(const struct markup *m, const char *u)
{
	size_t n = strlen(u);
	char *r = xrealloc(NULL, n * 6 + 1), *p = r;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)u[i];
		const char *rep = NULL;
		char hex[4];
		switch (m->fam) {
		case F_HTML:
		case F_TG:
			rep = c == '&' ? "&amp;" : c == '<' ? "&lt;" : c == '>' ? "&gt;" :
			      c == '"' ? "&quot;" : NULL;
			break;
		case F_SLACK:
			if (c == '&')
				rep = "&amp;";
			else if (c == '<' || c == '>' || c == '|' || c == ' ')
				rep = "%";
			break;
		case F_MD:
			if (c == '<' || c == '>' || c == '(' || c == ')' || c == ' ' ||
			    c == '\\' || c == '[' || c == ']' || c == '`')
				rep = "%";
			break;
		case F_TEXT:
			break;
		}
		if (rep && rep[0] == '%' && !rep[1]) {
			snprintf(hex, sizeof hex, "%%%02X", c);
			rep = hex;
		}
		if (rep) {
			size_t l = strlen(rep);
			memcpy(p, rep, l);
			p += l;
		} else {
			*p++ = (char)c;
		}
	}
	*p = '\0';
	return r;
}

/* The text of a node's descendants (an image's alt text), malloc'd. */
static char *node_plain_text(cmark_node *node)
{
	size_t n = 0, cap = 64;
	char *r = xrealloc(NULL, cap);
	cmark_iter *it = cmark_iter_new(node);
	cmark_event_type ev;
	while ((ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
		cmark_node *c = cmark_iter_get_node(it);
		if (ev != CMARK_EVENT_ENTER || c == node)
			continue;
		cmark_node_type t = cmark_node_get_type(c);
		const char *lit = t == CMARK_NODE_SOFTBREAK || t == CMARK_NODE_LINEBREAK ?
		                  " " : cmark_node_get_literal(c);
		if (!lit)
			continue;
		size_t l = strlen(lit);
		while (n + l + 1 > cap)
			cap *= 2;
		r = xrealloc(r, cap);
		memcpy(r + n, lit, l);
		n += l;
	}
	cmark_iter_free(it);
	r[n] = '\0';
	return r;
}

/* A link whose text is its URL (an autolink): shown once. */
static int is_autolink(cmark_node *node, const char *url)
{
	cmark_node *c = cmark_node_first_child(node);
	if (!c || cmark_node_next(c) || cmark_node_get_type(c) != CMARK_NODE_TEXT)
		return 0;
	const char *t = cmark_node_get_literal(c);
	if (!t)
		return 0;
	return strcmp(t, url) == 0 ||
	       (strncmp(url, "mailto:", 7) == 0 && strcmp(t, url + 7) == 0) ||
	       (strncmp(url, "http://", 7) == 0 && strncmp(t, "www.", 4) == 0 &&
	        strcmp(t, url + 7) == 0);
}

/* ---- blocks ------------------------------------------------------------ */

static int list_is_tight(cmark_node *list)
{
	return list && cmark_node_get_type(list) == CMARK_NODE_LIST &&
	       cmark_node_get_list_tight(list);
}

/* Separate a block from what came before it. */
static void block_sep(struct rstate *st, cmark_node *node)
{
	if (!st->any)
		return;
	cmark_node *parent = cmark_node_parent(node);
	if (!cmark_node_previous(node) && parent &&
	    cmark_node_get_type(parent) != CMARK_NODE_DOCUMENT)
		return;   /* the container's own start separated it */
	int tight = parent &&
	            ((cmark_node_get_type(parent) == CMARK_NODE_ITEM &&
	              list_is_tight(cmark_node_parent(parent))) ||
	             list_is_tight(parent));
	if (st->m->fam == F_HTML || st->m->drop_empty || tight) {
		w_newline(st, tight ? RCUT_LINE : RCUT_PARA);
	} else {
		w_newline(st, RCUT_PARA);
		w_newline(st, RCUT_PARA);
	}
}

/* errbot's md() drops kramdown attribute lists such as {: color='red' }. */
static int is_attribute_paragraph(cmark_node *node)
{
	cmark_node *c = cmark_node_first_child(node);
	if (!c || cmark_node_next(c) || cmark_node_get_type(c) != CMARK_NODE_TEXT)
		return 0;
	const char *t = cmark_node_get_literal(c);
	size_t n = t ? strlen(t) : 0;
	return n >= 3 && t[0] == '{' && t[1] == ':' && t[n - 1] == '}';
}

static int in_tight_item(cmark_node *node)
{
	cmark_node *p = cmark_node_parent(node);
	return p && cmark_node_get_type(p) == CMARK_NODE_ITEM &&
	       list_is_tight(cmark_node_parent(p));
}

/* Open a code block holding lit (n bytes) in language lang (may be "").
 * fence receives what code_close needs (at least 48 bytes). */
static void code_open(struct rstate *st, const char *lang, const char *lit,
                      size_t n, char *fence)
{
	const struct markup *m = st->m;
	char open[96];
	fence[0] = '\0';
	if (m->fam == F_HTML || m->fam == F_TG) {
		if (*lang)
			snprintf(open, sizeof open, "<pre><code class=\"language-%s\">", lang);
		else
			snprintf(open, sizeof open, "<pre><code>");
		span_open_s(st, open);
	} else if (m->fam == F_MD || m->fam == F_SLACK || m->styled_code) {
		/* a fence longer than any run of backticks inside */
		size_t run = 0, best = 0;
		for (size_t i = 0; i < n; i++) {
			run = lit[i] == '`' ? run + 1 : 0;
			if (run > best)
				best = run;
		}
		size_t ticks = best < 3 ? 3 : best + 1;
		if (ticks > 40)
			ticks = 40;
		memset(open, '`', ticks);
		snprintf(open + ticks, sizeof open - ticks, "%s\n",
		         m->fam == F_MD ? lang : "");
		span_open_s(st, open);
		st->bol = 1;
		st->line_empty = 1;
		memcpy(fence, open, ticks);
		fence[ticks] = '\0';
	}
}

static void code_close(struct rstate *st, const char *fence)
{
	const struct markup *m = st->m;
	if (m->fam == F_HTML || m->fam == F_TG) {
		span_close_s(st, "</code></pre>");
	} else if (*fence) {
		/* the closing fence, on its own line with the line prefix */
		char close[MAX_PREFIX_FRAMES * 16 + 128];
		char pre[MAX_PREFIX_FRAMES * 16 + 1];
		build_prefix(st, pre, sizeof pre, 0);
		snprintf(close, sizeof close, "%s%s%s", st->bol ? "" : "\n", pre, fence);
		st->bol = 0;   /* the prefix is part of the closing markup */
		span_close_s(st, close);
	}
}

static void code_block(struct rstate *st, cmark_node *node)
{
	const char *lit = cmark_node_get_literal(node);
	const char *info = cmark_node_get_fence_info(node);
	size_t n = lit ? strlen(lit) : 0;
	if (n && lit[n - 1] == '\n')
		n--;
	char lang[32];
	size_t ln = 0;
	for (; info && info[ln] && ln + 1 < sizeof lang; ln++) {
		char c = info[ln];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || strchr("_+#.-", c)))
			break;
		lang[ln] = c;
	}
	lang[ln] = '\0';
	char fence[48];
	code_open(st, lang, lit ? lit : "", n, fence);
	st->verbatim = 1;
	w_text(st, lit ? lit : "", n);
	st->verbatim = 0;
	code_close(st, fence);
}

static void heading(struct rstate *st, cmark_node *node, int entering)
{
	const struct markup *m = st->m;
	int level = cmark_node_get_heading_level(node);
	char tag[16];
	if (m->fam == F_HTML) {
		snprintf(tag, sizeof tag, entering ? "<h%d>" : "</h%d>", level);
		if (entering)
			span_open_s(st, tag);
		else
			span_close_s(st, tag);
	} else if (m->fam == F_MD) {
		int bold = level > 3 && m->esc == ESC_DISCORD;
		if (bold) {
			if (entering)
				span_open_s(st, "**");
			else
				span_close_s(st, "**");
		} else if (entering) {
			memset(tag, '#', (size_t)level);
			tag[level] = ' ';
			tag[level + 1] = '\0';
			emit_markup(st, tag);
		}
	} else {
		const char *o = level <= 2 ? m->head_open : m->sub_open;
		const char *c = level <= 2 ? m->head_close : m->sub_close;
		if (entering)
			style_open(st, o, c);
		else
			style_close(st, o, c);
		if (m->fam == F_TEXT)
			st->upper = entering && level == 1;
	}
	st->in_heading = entering;
}

static void list_item(struct rstate *st, int entering)
{
	if (st->nls == 0)
		return;
	struct list_state *l = &st->ls[st->nls - 1];
	if (st->m->fam == F_HTML) {
		if (entering)
			span_open_s(st, "<li>");
		else
			span_close_s(st, "</li>");
		return;
	}
	if (!entering) {
		if (st->nfr)
			st->nfr--;
		return;
	}
	char first[16], cont[16];
	if (l->ordered) {
		snprintf(first, sizeof first, "%d. ", l->start + l->count);
	} else {
		snprintf(first, sizeof first, "%s", st->m->fam == F_MD ? "- " : BULLET);
	}
	l->count++;
	size_t w = st->m->fam == F_MD || l->ordered ? strlen(first) : 2;
	memset(cont, ' ', w);
	cont[w] = '\0';
	push_frame(st, first, cont);
}

static void list(struct rstate *st, cmark_node *node, int entering)
{
	if (entering) {
		GROW(st->ls, st->nls, st->capls);
		struct list_state *l = &st->ls[st->nls++];
		l->ordered = cmark_node_get_list_type(node) == CMARK_ORDERED_LIST;
		l->tight = cmark_node_get_list_tight(node);
		l->start = cmark_node_get_list_start(node);
		if (l->start < 0 || l->start > 999999)
			l->start = 1;
		l->count = 0;
	} else if (st->nls) {
		st->nls--;
	}
	if (st->m->fam != F_HTML)
		return;
	int ordered = cmark_node_get_list_type(node) == CMARK_ORDERED_LIST;
	if (!entering) {
		span_close_s(st, ordered ? "</ol>" : "</ul>");
		return;
	}
	int start = cmark_node_get_list_start(node);
	char tag[32];
	if (ordered && start != 1)
		snprintf(tag, sizeof tag, "<ol start=\"%d\">", start);
	else
		snprintf(tag, sizeof tag, ordered ? "<ol>" : "<ul>");
	span_open_s(st, tag);
}

static void quote(struct rstate *st, int entering)
{
	const struct markup *m = st->m;
	if (!entering)
		st->quote_depth--;
	if (m->fam == F_HTML || (m->fam == F_TG && st->quote_depth == 0)) {
		if (entering)
			span_open_s(st, "<blockquote>");
		else
			span_close_s(st, "</blockquote>");
	} else if (m->fam != F_TG) {
		if (entering)
			push_frame(st, "> ", "> ");
		else if (st->nfr)
			st->nfr--;
	}
	if (entering)
		st->quote_depth++;
}

static void hrule(struct rstate *st)
{
	switch (st->m->fam) {
	case F_HTML:
		emit_markup(st, "<hr />");
		break;
	case F_MD:
		emit_markup(st, st->m->esc == ESC_DISCORD ? HRULE : "***");
		break;
	default:
		emit_markup(st, HRULE);
	}
}

/* ---- inlines ----------------------------------------------------------- */

static void code_span(struct rstate *st, cmark_node *node)
{
	const struct markup *m = st->m;
	const char *lit = cmark_node_get_literal(node);
	size_t n = lit ? strlen(lit) : 0;
	char open[48], close[48];
	switch (m->fam) {
	case F_HTML:
	case F_TG:
		snprintf(open, sizeof open, "<code>");
		snprintf(close, sizeof close, "</code>");
		break;
	case F_SLACK:
		snprintf(open, sizeof open, "`");
		snprintf(close, sizeof close, "`");
		break;
	case F_MD: {
		size_t run = 0, best = 0;
		for (size_t i = 0; i < n; i++) {
			run = lit[i] == '`' ? run + 1 : 0;
			if (run > best)
				best = run;
		}
		size_t ticks = best + 1 > 20 ? 20 : best + 1;
		int pad = n && (lit[0] == '`' || lit[n - 1] == '`' ||
		                (lit[0] == ' ' && lit[n - 1] == ' ' &&
		                 strspn(lit, " ") != n));
		memset(open, '`', ticks);
		open[ticks] = '\0';
		snprintf(close, sizeof close, "%s%s", pad ? " " : "", open);
		if (pad)
			strcat(open, " ");
		break;
	}
	case F_TEXT:
		if (!m->styled_code) {
			w_text(st, lit ? lit : "", n);
			return;
		}
		snprintf(open, sizeof open, "`");
		snprintf(close, sizeof close, "`");
		break;
	}
	/* code spans hold no newline (cmark makes them spaces), so they
	 * never need closing at a line's end */
	span_open_s(st, open);
	st->verbatim = 1;
	w_text(st, lit ? lit : "", n);
	st->verbatim = 0;
	span_close_s(st, close);
}

/* Returns 1 when the children were written (or must be skipped). */
static int link_enter(struct rstate *st, cmark_node *node)
{
	const struct markup *m = st->m;
	char *url = url_clean(cmark_node_get_url(node) ? cmark_node_get_url(node) : "");
	if (!url)
		return 0;
	int autol = is_autolink(node, url);
	int mailto = strncmp(url, "mailto:", 7) == 0;
	char *mu = url_for_markup(m, url);
	int skip = 0;
	size_t ul = strlen(mu);
	char *tag = xrealloc(NULL, ul + 32);
	switch (m->fam) {
	case F_HTML:
	case F_TG:
		snprintf(tag, ul + 32, "<a href=\"%s\">", mu);
		span_open_s(st, tag);
		break;
	case F_SLACK:
		if (autol && mailto) {
			/* Slack shows the part after | */
			snprintf(tag, ul + 32, "<%s|%s>", mu, mu + 7);
			emit(st, tag, strlen(tag), RCUT_NONE, RF_MARKUP);
			skip = 1;
		} else if (autol) {
			snprintf(tag, ul + 32, "<%s>", mu);
			emit(st, tag, strlen(tag), RCUT_NONE, RF_MARKUP);
			skip = 1;
		} else {
			snprintf(tag, ul + 32, "<%s|", mu);
			span_open_s(st, tag);
			st->in_link = 1;
		}
		break;
	case F_MD:
		if (autol && !strpbrk(url, " <>")) {
			snprintf(tag, ul + 32, "<%s>", mailto ? url + 7 : url);
			emit(st, tag, strlen(tag), RCUT_NONE, RF_MARKUP);
			skip = 1;
		} else {
			span_open_s(st, "[");
		}
		break;
	case F_TEXT:
		break;
	}
	free(tag);
	free(mu);
	free(url);
	return skip ? 2 : 1;
}

static void link_exit(struct rstate *st, cmark_node *node)
{
	const struct markup *m = st->m;
	char *url = url_clean(cmark_node_get_url(node) ? cmark_node_get_url(node) : "");
	if (!url)
		return;
	switch (m->fam) {
	case F_HTML:
	case F_TG:
		span_close_s(st, "</a>");
		break;
	case F_SLACK:
		span_close_s(st, ">");
		st->in_link = 0;
		break;
	case F_MD: {
		char *mu = url_for_markup(m, url);
		size_t l = strlen(mu) + 4;
		char *c = xrealloc(NULL, l);
		snprintf(c, l, "](%s)", mu);
		span_close_s(st, c);
		free(c);
		free(mu);
		break;
	}
	case F_TEXT:
		if (!is_autolink(node, url)) {
			w_text_s(st, " (");
			w_text_cls(st, url, strlen(url), RCUT_CODEPOINT);
			w_text_s(st, ")");
		}
		break;
	}
	free(url);
}

static void image(struct rstate *st, cmark_node *node)
{
	const struct markup *m = st->m;
	char *alt = node_plain_text(node);
	char *url = url_clean(cmark_node_get_url(node) ? cmark_node_get_url(node) : "");
	if (!url) {
		w_text_s(st, alt);
		free(alt);
		return;
	}
	char *mu = url_for_markup(m, url);
	size_t cap = strlen(mu) + strlen(alt) * 6 + 64;
	char *tag = xrealloc(NULL, cap);
	switch (m->fam) {
	case F_HTML:
		if (m->img_as_link) {
			snprintf(tag, cap, "<a href=\"%s\">", mu);
			span_open_s(st, tag);
			w_text_s(st, *alt ? alt : url);
			span_close_s(st, "</a>");
		} else {
			/* alt goes through the writer for its escaping */
			snprintf(tag, cap, "<img src=\"%s\" alt=\"", mu);
			emit_markup(st, tag);
			st->verbatim = 1;
			w_text_cls(st, alt, strlen(alt), RCUT_NONE);
			st->verbatim = 0;
			emit_markup(st, "\" />");
		}
		break;
	case F_TG:
		snprintf(tag, cap, "<a href=\"%s\">", mu);
		span_open_s(st, tag);
		w_text_s(st, *alt ? alt : url);
		span_close_s(st, "</a>");
		break;
	case F_SLACK:
		if (!*alt) {
			snprintf(tag, cap, "<%s>", mu);
			emit_markup(st, tag);
			break;
		}
		snprintf(tag, cap, "<%s|", mu);
		span_open_s(st, tag);
		w_text_s(st, alt);
		span_close_s(st, ">");
		break;
	case F_MD:
		/* Discord shows no inline images: a link it can preview */
		span_open_s(st, m->esc == ESC_DISCORD ? "[" : "![");
		st->in_link = 1;
		w_text_s(st, *alt || m->esc != ESC_DISCORD ? alt : url);
		st->in_link = 0;
		snprintf(tag, cap, "](%s)", mu);
		span_close_s(st, tag);
		break;
	case F_TEXT:
		if (*alt) {
			w_text_s(st, alt);
			w_text_s(st, " (");
		}
		w_text_cls(st, url, strlen(url), RCUT_CODEPOINT);
		if (*alt)
			w_text_s(st, ")");
		break;
	}
	free(tag);
	free(mu);
	free(url);
	free(alt);
}

static void softbreak(struct rstate *st, int hard)
{
	const struct markup *m = st->m;
	if (st->in_heading || (st->in_link && m->fam == F_SLACK)) {
		emit(st, " ", 1, RCUT_CHAR, 0);
		st->pending = RCUT_WORD;
		return;
	}
	if (m->fam == F_HTML) {
		if (hard)
			emit_markup(st, "<br />");
		append(st, "\n", 1, RCUT_WORD, 0);
		return;
	}
	if (hard && m->fam == F_MD && !m->hard_newline)
		emit_markup(st, "\\");
	w_newline(st, RCUT_LINE);
}

/* ---- tables ------------------------------------------------------------ */

/* Columns wider than this are not padded further: one hostile wide cell
 * would else pad every row of a long table. */
#define MAX_COL_WIDTH 48

struct cell {
	char *text;
	size_t width;
	struct colours col;
	int coloured;
};

struct grid {
	struct cell *c;        /* rows x cols */
	size_t rows, cols;
	size_t *w;             /* each column's width */
	const uint8_t *align;  /* 'l', 'r', 'c' or 0 per column */
};

/* Columns a code point takes on a terminal: 0 for what joins the one
 * before, 2 for East Asian wide characters and most emoji. */
static size_t cp_width(uint32_t cp)
{
	if ((cp >= 0x300 && cp <= 0x36f) || (cp >= 0x1ab0 && cp <= 0x1aff) ||
	    (cp >= 0x1dc0 && cp <= 0x1dff) || (cp >= 0x20d0 && cp <= 0x20ff) ||
	    (cp >= 0xfe00 && cp <= 0xfe0f) || (cp >= 0xfe20 && cp <= 0xfe2f) ||
	    (cp >= 0x200b && cp <= 0x200d) || (cp >= 0x1f3fb && cp <= 0x1f3ff) ||
	    (cp >= 0xe0000 && cp <= 0xe0fff))
		return 0;
	if ((cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf) ||
	    (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
	    (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
	    (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1f300 && cp <= 0x1f64f) ||
	    (cp >= 0x1f900 && cp <= 0x1f9ff) || (cp >= 0x20000 && cp <= 0x3fffd))
		return 2;
	return 1;
}

static size_t text_width(const char *s, size_t n)
{
	size_t w = 0;
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		i += utf8_seq((const unsigned char *)s + i, n - i, &cp);
		w += cp_width(cp);
	}
	return w;
}

static void put_sb(void *b, const char *p, size_t n) { sb_add(b, p, n); }

static void sb_add_unmarked(struct sbuf *b, const char *s)
{
	each_unmarked(s, put_sb, b);
}

/* A cell as one line of plain text: code and link text kept, a link's
 * URL after its text as the text markup writes it, marks left out (the
 * first that applies colours the cell). */
static void cell_text(cmark_node *cell, struct cell *out)
{
	struct sbuf b = { 0 };
	out->coloured = mark_at_end(cell, &out->col);
	cmark_iter *it = cmark_iter_new(cell);
	cmark_event_type ev;
	while ((ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
		cmark_node *n = cmark_iter_get_node(it);
		int in = ev == CMARK_EVENT_ENTER;
		const char *lit = cmark_node_get_literal(n);
		char *url;
		if (in && !out->coloured && is_inline_element(n))
			out->coloured = mark_after(n, &out->col);
		switch (cmark_node_get_type(n)) {
		case CMARK_NODE_TEXT:
			if (lit)
				sb_add_unmarked(&b, lit);
			break;
		case CMARK_NODE_CODE:
		case CMARK_NODE_HTML_INLINE:
			if (lit)
				sb_add(&b, lit, strlen(lit));
			break;
		case CMARK_NODE_SOFTBREAK:
		case CMARK_NODE_LINEBREAK:
			sb_add(&b, " ", 1);
			break;
		case CMARK_NODE_LINK:
		case CMARK_NODE_IMAGE:
			if (in)
				break;
			url = url_clean(cmark_node_get_url(n) ? cmark_node_get_url(n) : "");
			if (url && !cmark_node_first_child(n)) {
				sb_add(&b, url, strlen(url));
			} else if (url && !is_autolink(n, url)) {
				sb_add(&b, " (", 2);
				sb_add(&b, url, strlen(url));
				sb_add(&b, ")", 1);
			}
			free(url);
			break;
		default:
			break;
		}
	}
	cmark_iter_free(it);
	sb_add(&b, "", 0);
	char *t = b.s;
	for (char *p = t; *p; p++)
		if (*p == '\t' || *p == '\n')
			*p = ' ';
	size_t start = strspn(t, " "), n = strlen(t);
	while (n > start && t[n - 1] == ' ')
		n--;
	memmove(t, t + start, n - start);
	t[n - start] = '\0';
	out->text = t;
	out->width = text_width(t, n - start);
}

static void grid_build(cmark_node *table, struct grid *g)
{
	memset(g, 0, sizeof *g);
	g->cols = cmark_gfm_extensions_get_table_columns(table);
	for (cmark_node *r = cmark_node_first_child(table); r; r = cmark_node_next(r))
		g->rows++;
	if (!g->cols || !g->rows)
		return;
	g->c = calloc(g->rows * g->cols, sizeof *g->c);
	g->w = calloc(g->cols, sizeof *g->w);
	if (!g->c || !g->w)
		abort();
	g->align = cmark_gfm_extensions_get_table_alignments(table);
	size_t i = 0;
	for (cmark_node *r = cmark_node_first_child(table); r; r = cmark_node_next(r), i++) {
		size_t j = 0;
		for (cmark_node *c = cmark_node_first_child(r); c && j < g->cols;
		     c = cmark_node_next(c), j++)
			cell_text(c, &g->c[i * g->cols + j]);
		for (; j < g->cols; j++) {
			g->c[i * g->cols + j].text = xrealloc(NULL, 1);
			g->c[i * g->cols + j].text[0] = '\0';
		}
	}
	for (size_t j = 0; j < g->cols; j++) {
		g->w[j] = 1;
		for (i = 0; i < g->rows; i++)
			if (g->c[i * g->cols + j].width > g->w[j])
				g->w[j] = g->c[i * g->cols + j].width;
		if (g->w[j] > MAX_COL_WIDTH)
			g->w[j] = MAX_COL_WIDTH;
	}
}

static void grid_free(struct grid *g)
{
	for (size_t i = 0; g->c && i < g->rows * g->cols; i++)
		free(g->c[i].text);
	free(g->c);
	free(g->w);
}

static void w_pad(struct rstate *st, size_t n)
{
	for (size_t i = 0; i < n; i++)
		emit(st, " ", 1, RCUT_CODEPOINT, 0);
}

/* A border line: left, fill (column width + 2 times), mid between
 * columns, right. */
static void grid_rule(struct rstate *st, const struct grid *g, const char *l,
                      const char *fill, const char *mid, const char *r)
{
	struct sbuf b = { 0 };
	sb_add(&b, l, strlen(l));
	for (size_t j = 0; j < g->cols; j++) {
		for (size_t k = 0; k < g->w[j] + 2; k++)
			sb_add(&b, fill, strlen(fill));
		if (j + 1 < g->cols)
			sb_add(&b, mid, strlen(mid));
	}
	sb_add(&b, r, strlen(r));
	/* a cut may fall between any two characters, as a last resort */
	for (size_t i = 0; i < b.len;) {
		size_t l = 1;
		while (i + l < b.len && (b.s[i + l] & 0xc0) == 0x80)
			l++;
		emit(st, b.s + i, l, RCUT_CODEPOINT, RF_MARKUP);
		i += l;
	}
	free(b.s);
}

/* One cell padded to its column, aligned; header cells in bold where
 * the markup has bold outside code. */
static void grid_cell(struct rstate *st, const struct grid *g, size_t i,
                      size_t j, int last)
{
	const struct markup *m = st->m;
	const struct cell *c = &g->c[i * g->cols + j];
	size_t w = g->w[j], pad = c->width < w ? w - c->width : 0;
	uint8_t a = g->align ? g->align[j] : 0;
	size_t left = a == 'r' ? pad : a == 'c' ? pad / 2 : 0;
	int bold = i == 0 && m->tables != T_CODE && m->strong_open;
	w_pad(st, left);
	if (bold)
		style_open(st, m->strong_open, m->strong_close);
	if (c->coloured)
		colour_open(st, c->col);
	w_text_cls(st, c->text, strlen(c->text), RCUT_CODEPOINT);
	if (c->coloured)
		colour_close(st, c->col);
	if (bold)
		style_close(st, m->strong_open, m->strong_close);
	if (!(last && m->tables != T_BOX))
		w_pad(st, pad - left);
}

static void grid_row(struct rstate *st, const struct grid *g, size_t i)
{
	int box = st->m->tables == T_BOX;
	const char *edge = i == 0 ? "\xe2\x94\x83 " : "\xe2\x94\x82 ";       /* ┃ │ */
	const char *sep = i == 0 ? " \xe2\x94\x83 " : " \xe2\x94\x82 ";
	const char *end = i == 0 ? " \xe2\x94\x83" : " \xe2\x94\x82";
	if (box)
		emit(st, edge, strlen(edge), RCUT_CODEPOINT, RF_MARKUP);
	for (size_t j = 0; j < g->cols; j++) {
		if (j)
			emit(st, box ? sep : "  ", box ? strlen(sep) : 2, RCUT_CODEPOINT,
			     box ? RF_MARKUP : 0);
		grid_cell(st, g, i, j, j + 1 == g->cols);
	}
	if (box)
		emit(st, end, strlen(end), RCUT_CODEPOINT, RF_MARKUP);
}

/* A table drawn with aligned columns: box drawing, bare columns, or bare
 * columns in a code block.  The header (with its borders) is recorded as
 * a span's opening, so a part cut inside the table starts with it again;
 * rows are cut between, inside one only when it alone is too long. */
static void table_grid(struct rstate *st, cmark_node *table)
{
	const struct markup *m = st->m;
	struct grid g;
	grid_build(table, &g);
	if (!g.rows || !g.cols) {
		grid_free(&g);
		return;
	}
	int box = m->tables == T_BOX;
	char fence[48] = "";
	if (m->tables == T_CODE)
		code_open(st, "", "", 0, fence);
	st->verbatim = 1;
	if (st->bol)
		begin_line(st);
	/* a header-only table needs no span: nothing to repeat it for */
	size_t hs = st->o->len, rec = (size_t)-1;
	if (g.rows > 1) {
		rec = span_record(st, hs, 0);
		st->o->sp[rec].table = 1;
	}
	if (box) {
		grid_rule(st, &g, "\xe2\x94\x8f", "\xe2\x94\x81", "\xe2\x94\xb3", "\xe2\x94\x93");
		w_newline(st, RCUT_LINE);
	}
	grid_row(st, &g, 0);
	if (g.rows > 1) {
		w_newline(st, RCUT_LINE);
		if (box)
			grid_rule(st, &g, "\xe2\x94\xa1", "\xe2\x94\x81", "\xe2\x95\x87", "\xe2\x94\xa9");
		else
			for (size_t j = 0; j < g.cols; j++) {
				struct sbuf b = { 0 };
				for (size_t k = 0; k < g.w[j]; k++)
					sb_add(&b, "-", 1);
				if (j + 1 < g.cols)
					sb_add(&b, "  ", 2);
				emit(st, b.s, b.len, RCUT_CODEPOINT, RF_MARKUP);
				free(b.s);
			}
		w_newline(st, RCUT_LINE);
		st->o->sp[rec].open_len = st->o->len - hs;
		for (size_t i = 1; i < g.rows; i++) {
			if (i > 1)
				w_newline(st, RCUT_LINE);
			grid_row(st, &g, i);
		}
	}
	struct sbuf close = { 0 };
	if (box) {
		/* the bottom border, on its own line, closes the span */
		char pre[MAX_PREFIX_FRAMES * 16 + 1];
		build_prefix(st, pre, sizeof pre, 0);
		sb_add(&close, "\n", 1);
		sb_add(&close, pre, strlen(pre));
		const char *l = g.rows > 1 ? "\xe2\x94\x94" : "\xe2\x94\x97";
		const char *f = g.rows > 1 ? "\xe2\x94\x80" : "\xe2\x94\x81";
		const char *mid = g.rows > 1 ? "\xe2\x94\xb4" : "\xe2\x94\xbb";
		const char *r = g.rows > 1 ? "\xe2\x94\x98" : "\xe2\x94\x9b";
		sb_add(&close, l, strlen(l));
		for (size_t j = 0; j < g.cols; j++) {
			for (size_t k = 0; k < g.w[j] + 2; k++)
				sb_add(&close, f, strlen(f));
			if (j + 1 < g.cols)
				sb_add(&close, mid, strlen(mid));
		}
		sb_add(&close, r, strlen(r));
	}
	if (rec != (size_t)-1)
		close_record(st, rec, close.s ? close.s : "", close.len);
	else
		append(st, close.s ? close.s : "", close.len, RF_MARKUP, RF_MARKUP);
	free(close.s);
	st->verbatim = 0;
	if (m->tables == T_CODE)
		code_close(st, fence);
	grid_free(&g);
}

/* HTML tables: <table>, <thead> with the header row, <tbody>. */
static void table_html(struct rstate *st, cmark_node *node, int in)
{
	if (is_type(node, "table")) {
		if (in) {
			span_open_s(st, "<table>");
			return;
		}
		cmark_node *last = cmark_node_last_child(node);
		if (last && !is_type(last, "table_header"))
			span_close_s(st, "</tbody>");
		w_newline(st, RCUT_LINE);
		span_close_s(st, "</table>");
	} else if (is_type(node, "table_header")) {
		if (in) {
			w_newline(st, RCUT_LINE);
			span_open_s(st, "<thead><tr>");
		} else {
			span_close_s(st, "</tr></thead>");
		}
	} else if (is_type(node, "table_row")) {
		if (in) {
			w_newline(st, RCUT_LINE);
			if (is_type(cmark_node_previous(node), "table_header"))
				span_open_s(st, "<tbody>");
			span_open_s(st, "<tr>");
		} else {
			span_close_s(st, "</tr>");
		}
	} else if (is_type(node, "table_cell")) {
		int head = is_type(cmark_node_parent(node), "table_header");
		if (in)
			span_open_s(st, head ? "<th>" : "<td>");
		else
			span_close_s(st, head ? "</th>" : "</td>");
	}
}

/* A GitHub pipe table again (markdown, Mattermost), pipes in cells
 * escaped; the header and its delimiter row are a span's opening, so a
 * part cut inside the table starts with them again. */
static void table_pipe(struct rstate *st, cmark_node *node, int in)
{
	if (is_type(node, "table")) {
		st->in_table = in;
		if (!in && st->table_rec != (size_t)-1) {
			close_record(st, st->table_rec, "", 0);
			st->table_rec = (size_t)-1;
		}
	} else if (is_type(node, "table_header")) {
		if (in) {
			if (st->bol)
				begin_line(st);
			st->table_start = st->o->len;
			if (cmark_node_next(node)) {   /* rows to repeat it for */
				st->table_rec = span_record(st, st->table_start, 0);
				st->o->sp[st->table_rec].table = 1;
			}
			emit_markup(st, "|");
			return;
		}
		cmark_node *table = cmark_node_parent(node);
		const uint8_t *al = cmark_gfm_extensions_get_table_alignments(table);
		size_t cols = cmark_gfm_extensions_get_table_columns(table);
		w_newline(st, RCUT_LINE);
		struct sbuf b = { 0 };
		sb_add(&b, "|", 1);
		for (size_t j = 0; j < cols; j++) {
			uint8_t a = al ? al[j] : 0;
			const char *d = a == 'l' ? " :-- |" : a == 'r' ? " --: |" :
			                a == 'c' ? " :-: |" : " --- |";
			sb_add(&b, d, strlen(d));
		}
		emit(st, b.s, b.len, RCUT_NONE, RF_MARKUP);
		free(b.s);
		if (st->table_rec != (size_t)-1) {
			w_newline(st, RCUT_LINE);
			st->o->sp[st->table_rec].open_len = st->o->len - st->table_start;
		}
	} else if (is_type(node, "table_row")) {
		if (in) {
			if (!is_type(cmark_node_previous(node), "table_header"))
				w_newline(st, RCUT_LINE);
			emit_markup(st, "|");
		}
	} else if (is_type(node, "table_cell")) {
		emit_markup(st, in ? " " : " |");
	}
}

static void styled(struct rstate *st, cmark_node *node, int in,
                   const char *open, const char *close);

/* The nodes of cmark-gfm's extensions, which have no public type. */
static void extension_node(struct rstate *st, cmark_iter *it, cmark_node *node,
                           int in)
{
	const struct markup *m = st->m;
	struct colours c;
	if (is_type(node, "strikethrough")) {
		styled(st, node, in, m->strike_open, m->strike_close);
		return;
	}
	int cell_colour = is_type(node, "table_cell") && mark_at_end(node, &c);
	if (cell_colour && !in)
		colour_close(st, c);
	if (is_type(node, "table") && in)
		block_sep(st, node);
	if (m->tables == T_HTML)
		table_html(st, node, in);
	else if (m->tables == T_PIPE)
		table_pipe(st, node, in);
	else if (is_type(node, "table") && in) {
		table_grid(st, node);
		cmark_iter_reset(it, node, CMARK_EVENT_EXIT);
	}
	if (cell_colour && in)   /* inside the cell's own markup */
		colour_open(st, c);
}

/* ---- the walk ---------------------------------------------------------- */

/* Emphasis, strong emphasis: the style, inside the colour of a mark
 * that follows the element. */
static void styled(struct rstate *st, cmark_node *node, int in,
                   const char *open, const char *close)
{
	struct colours c;
	int marked = mark_after(node, &c);
	if (in) {
		if (marked)
			colour_open(st, c);
		style_open(st, open, close);
	} else {
		style_close(st, open, close);
		if (marked)
			colour_close(st, c);
	}
}

/* A paragraph or heading that ends with a mark is coloured inside its
 * own markup. */
static void block_colour(struct rstate *st, cmark_node *node, int in)
{
	struct colours c;
	if (!mark_at_end(node, &c))
		return;
	if (in)
		colour_open(st, c);
	else
		colour_close(st, c);
}

static void paragraph(struct rstate *st, cmark_node *node, int in)
{
	int p = st->m->fam == F_HTML && !in_tight_item(node);
	if (in) {
		block_sep(st, node);
		if (p)
			span_open_s(st, "<p>");
		block_colour(st, node, in);
	} else {
		block_colour(st, node, in);
		if (p)
			span_close_s(st, "</p>");
	}
}

static void html_block(struct rstate *st, cmark_node *node)
{
	/* raw HTML is shown, never obeyed */
	const char *lit = cmark_node_get_literal(node);
	block_sep(st, node);
	if (st->m->fam == F_HTML)
		span_open_s(st, "<p>");
	if (lit) {
		size_t n = strlen(lit);
		while (n && lit[n - 1] == '\n')
			n--;
		w_text(st, lit, n);
	}
	if (st->m->fam == F_HTML)
		span_close_s(st, "</p>");
}

/* A leaf inline (code span, image) inside the colour of a mark after it. */
static void coloured_leaf(struct rstate *st, cmark_node *node,
                          void (*write)(struct rstate *, cmark_node *))
{
	struct colours c;
	int marked = mark_after(node, &c);
	if (marked)
		colour_open(st, c);
	write(st, node);
	if (marked)
		colour_close(st, c);
}

static void link_node(struct rstate *st, cmark_iter *it, cmark_node *node, int in)
{
	struct colours c;
	int marked = mark_after(node, &c);
	if (in) {
		if (marked)
			colour_open(st, c);
		int r = link_enter(st, node);
		if (r == 2) {
			/* written whole: its children and exit are skipped */
			cmark_iter_reset(it, node, CMARK_EVENT_EXIT);
			if (marked)
				colour_close(st, c);
		} else if (r == 0) {
			cmark_node_set_user_data(node, (void *)1);
		}
		return;
	}
	if (!cmark_node_get_user_data(node))
		link_exit(st, node);
	if (marked)
		colour_close(st, c);
}

/* A task list item's box, after the item's marker. */
static void task_box(struct rstate *st, cmark_node *item)
{
	if (is_type(item, "tasklist"))
		emit_markup(st, cmark_gfm_extensions_get_tasklist_item_checked(item) ?
		                "[x] " : "[ ] ");
}

static void walk(struct rstate *st, cmark_node *root)
{
	const struct markup *m = st->m;
	cmark_iter *it = cmark_iter_new(root);
	cmark_event_type ev;
	while ((ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
		cmark_node *node = cmark_iter_get_node(it);
		int in = ev == CMARK_EVENT_ENTER;
		const char *lit;
		switch (cmark_node_get_type(node)) {
		case CMARK_NODE_DOCUMENT:
			break;
		case CMARK_NODE_BLOCK_QUOTE:
			if (in)
				block_sep(st, node);
			quote(st, in);
			break;
		case CMARK_NODE_LIST:
			if (in)
				block_sep(st, node);
			list(st, node, in);
			break;
		case CMARK_NODE_ITEM:
			if (in)
				block_sep(st, node);
			list_item(st, in);
			if (in)
				task_box(st, node);
			break;
		case CMARK_NODE_PARAGRAPH:
			if (in && is_attribute_paragraph(node))
				cmark_iter_reset(it, node, CMARK_EVENT_EXIT);
			else
				paragraph(st, node, in);
			break;
		case CMARK_NODE_HEADING:
			if (in)
				block_sep(st, node);
			if (!in)
				block_colour(st, node, in);
			heading(st, node, in);
			if (in)
				block_colour(st, node, in);
			break;
		case CMARK_NODE_THEMATIC_BREAK:
			block_sep(st, node);
			hrule(st);
			break;
		case CMARK_NODE_CODE_BLOCK:
			block_sep(st, node);
			code_block(st, node);
			break;
		case CMARK_NODE_HTML_BLOCK:
			html_block(st, node);
			break;
		case CMARK_NODE_TEXT:
			lit = cmark_node_get_literal(node);
			if (lit)
				w_text_unmarked(st, lit);
			break;
		case CMARK_NODE_HTML_INLINE:
			lit = cmark_node_get_literal(node);
			if (lit)
				w_text_s(st, lit);
			break;
		case CMARK_NODE_SOFTBREAK:
			if (!is_lone_final_mark(cmark_node_next(node)))
				softbreak(st, m->hard_newline);
			break;
		case CMARK_NODE_LINEBREAK:
			if (!is_lone_final_mark(cmark_node_next(node)))
				softbreak(st, 1);
			break;
		case CMARK_NODE_CODE:
			coloured_leaf(st, node, code_span);
			break;
		case CMARK_NODE_EMPH:
			styled(st, node, in, m->emph_open, m->emph_close);
			break;
		case CMARK_NODE_STRONG:
			styled(st, node, in, m->strong_open, m->strong_close);
			break;
		case CMARK_NODE_LINK:
			link_node(st, it, node, in);
			break;
		case CMARK_NODE_IMAGE:
			coloured_leaf(st, node, image);
			cmark_iter_reset(it, node, CMARK_EVENT_EXIT);
			break;
		default:
			extension_node(st, it, node, in);
			break;
		}
	}
	cmark_iter_free(it);
}

/* The extensions chat users type: GitHub's tables, ~~strikethrough~~,
 * bare URLs, task lists.  cmark-gfm registers them in a process-wide list
 * (guarded by its own flag); looking them up by name is cheap. */
static const char *const gfm_extensions[] = {
	"table", "strikethrough", "autolink", "tasklist",
};

/* ---- plain bodies: rendered without cmark --------------------------------
 *
 * A body that cmark-gfm would read as one paragraph holding exactly its
 * own text is written as that paragraph directly: one line, starting with
 * a letter or a digit (no block starts so: no indent, quote, heading,
 * list, fence or HTML) but not with a list number ("1." "2)"), not ending
 * in a space, valid UTF-8, and no character that cmark or errbot reads as
 * markup: emphasis, code, links, images, escapes, entities, HTML, tables,
 * strikethrough, {: colour marks }, and the autolink extension's URLs
 * (":"), e-mail addresses ("@") and "www.".  test-render.c renders every
 * such body of its corpus both ways, in every markup. */
static const char plain_punct[] = " ,.;?!'\"%/-()#=+$";

static int ascii_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static int ascii_alnum(unsigned char c)
{
	return ascii_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

int bot_render_is_plain(const char *s, size_t n)
{
	if (n == 0 || !ascii_alnum((unsigned char)s[0]) || s[n - 1] == ' ')
		return 0;
	size_t i = 0;
	while (i < n && ascii_digit((unsigned char)s[i]))
		i++;
	if (i > 0 && i < n && (s[i] == '.' || s[i] == ')'))
		return 0;
	int wide = 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x80)
			wide = 1;
		else if (!ascii_alnum(c) && (c == '\0' || !strchr(plain_punct, c)))
			return 0;
		else if (c == '.' && i >= 3 && strncasecmp(s + i - 3, "www", 3) == 0)
			return 0;
	}
	return !wide || bot_utf8_valid(s, n);
}

/* What walk() writes for a document of one paragraph of one text node. */
static void plain_paragraph(struct rstate *st, const char *s, size_t n)
{
	int p = st->m->fam == F_HTML;
	if (p)
		span_open_s(st, "<p>");
	w_text(st, s, n);
	if (p)
		span_close_s(st, "</p>");
}

static cmark_node *parse_markdown(const char *md, size_t len,
                                  cmark_parser **parser)
{
	cmark_load();
	cmark_gfm_core_extensions_ensure_registered();
	cmark_parser *p = cmark_parser_new(CMARK_OPT_VALIDATE_UTF8);
	if (!p)
		abort();
	for (size_t i = 0; i < sizeof gfm_extensions / sizeof *gfm_extensions; i++) {
		cmark_syntax_extension *e = cmark_find_syntax_extension(gfm_extensions[i]);
		if (e)
			cmark_parser_attach_syntax_extension(p, e);
	}
	cmark_parser_feed(p, md, len);
	*parser = p;
	return cmark_parser_finish(p);
}

jv bot_mention_body(const char *prefix, jv body)
{
	const char *b = jv_get_kind(body) == JV_KIND_STRING ? jv_string_value(body) : "";
	int block = 0;   /* the body starts with a block other than a paragraph */
	if (*b && !bot_render_is_plain(b, strlen(b))) {
		cmark_parser *parser = NULL;
		cmark_node *doc = parse_markdown(b, strlen(b), &parser);
		cmark_node *first = cmark_node_first_child(doc);
		block = first && cmark_node_get_type(first) != CMARK_NODE_PARAGRAPH;
		cmark_node_free(doc);
		cmark_parser_free(parser);
	}
	jv out = jv_string_fmt("%s%s%s", prefix ? prefix : "", block ? "\n\n" : " ", b);
	jv_free(body);
	return out;
}

static const struct markup *markup_find(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < sizeof markups / sizeof *markups; i++)
		if (strcmp(markups[i].name, name) == 0)
			return &markups[i];
	return NULL;
}

int bot_markup_known(const char *markup)
{
	return markup_find(markup) != NULL;
}

static int render_into(const char *markup, const char *md, size_t len,
                       struct rout *o, int plain_ok)
{
	const struct markup *m = markup_find(markup);
	if (!m)
		return -1;
	struct rstate st;
	memset(&st, 0, sizeof st);
	st.o = o;
	st.m = m;
	st.bol = 1;
	st.line_empty = 1;
	st.table_rec = (size_t)-1;
	o->semantic_prefix = m->semantic_prefix;
	out_reserve(o, len + 16);
	o->s[0] = '\0';
	if (plain_ok && md && bot_render_is_plain(md, len)) {
		plain_paragraph(&st, md, len);
	} else {
		cmark_parser *parser = NULL;
		cmark_node *doc = parse_markdown(md ? md : "", md ? len : 0, &parser);
		walk(&st, doc);
		cmark_node_free(doc);
		cmark_parser_free(parser);
	}
	/* trailing whitespace of the last line says nothing */
	while (o->len && (o->s[o->len - 1] == '\n' || o->s[o->len - 1] == ' ') &&
	       !(o->f[o->len - 1] & RF_MARKUP))
		o->s[--o->len] = '\0';
	free(st.fr);
	free(st.op);
	free(st.ls);
	for (int i = 0; i < st.nkeep; i++)
		free(st.keep[i]);
	free(st.keep);
	return 0;
}

int bot_render_into(const char *markup, const char *md, size_t len,
                    struct rout *o)
{
	return render_into(markup, md, len, o, 1);
}

int bot_render_into_parsed(const char *markup, const char *md, size_t len,
                           struct rout *o)
{
	return render_into(markup, md, len, o, 0);
}

void rout_free(struct rout *o)
{
	free(o->s);
	free(o->f);
	free(o->sp);
	memset(o, 0, sizeof *o);
}

/* errbot's ansi() ends every message with a reset; we do when the text
 * holds an escape sequence at all. */
int bot_render_needs_reset(const char *markup, const char *s)
{
	const struct markup *m = markup_find(markup);
	return m && m->ansi_reset && strchr(s, '\x1b') != NULL;
}

char *bot_render(const char *markup, const char *md, size_t len)
{
	struct rout o;
	memset(&o, 0, sizeof o);
	if (bot_render_into(markup, md, len, &o) < 0)
		return NULL;
	char *s = o.s;
	if (bot_render_needs_reset(markup, s)) {
		s = xrealloc(s, o.len + 5);
		memcpy(s + o.len, "\x1b[0m", 5);
	}
	o.s = NULL;
	rout_free(&o);
	return s;
}
