/* libbot: cut a message into parts that each fit the backend's limit.
 *
 * How: render the whole markdown once (render.c), keeping for every output
 * byte how good a place to cut it is (block start > line start > after a
 * space > between characters > between code points of one grapheme > never:
 * inside a UTF-8 sequence, an escape, a tag), and the spans (bold, links,
 * code, HTML elements) with where their opening and closing markup sit.
 * Then cut greedily: each part takes the latest cut of the best class that
 * still fits, where "fits" counts the part as it will be sent: the markup
 * reopened at its start, its text, and the markup that closes the spans a
 * cut goes through.  A best-class cut is only taken when it fills at least
 * a quarter of the limit, else the part takes the longest cut that fits.
 * Whitespace at a cut is dropped.  A line prefix that means something (a
 * quote's "> " in markdown, mrkdwn, xmpp) is repeated when a cut falls in
 * the middle of a line.  A part is longer than the limit only when one
 * character with the markup around it is.
 *
 * This beats errbot, which slices the markdown source every N code points
 * (errbot.md §1), cutting words, UTF-8 characters and markup alike.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "render.h"
#include "render_priv.h"

struct splitter {
	const struct rout *o;
	enum bot_size_unit unit;
	size_t limit;
	size_t *U;           /* units of s[0..i) */
	size_t *C;           /* units of the closers a part ending at i needs */
	size_t *TB;          /* i with trailing whitespace before it dropped */
	size_t *close_at;    /* close_len of a span whose closer starts at i */
	unsigned char *opener_end;   /* 1 when a span's opening ends at i */
	size_t *LS;          /* where the line holding byte i starts */
	unsigned char *loose;   /* spans too big to repeat (see splitter_init) */
	/* the spans open at a position, found by a sweep: positions are
	 * asked for in increasing order, and spans nest */
	size_t *stack, depth, next;
};

static size_t unit_of(unsigned char c, enum bot_size_unit u)
{
	switch (u) {
	case BOT_UNIT_BYTES:
		return 1;
	case BOT_UNIT_CHARS:
		return (c & 0xc0) != 0x80;
	case BOT_UNIT_UTF16:
		return ((c & 0xc0) != 0x80) + (c >= 0xf0);
	}
	return 1;
}

static size_t units(const char *s, size_t n, enum bot_size_unit u)
{
	size_t r = 0;
	for (size_t i = 0; i < n; i++)
		r += unit_of((unsigned char)s[i], u);
	return r;
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);
	if (!p)
		abort();
	return p;
}

static int trimmable(const struct rout *o, size_t i)
{
	char c = o->s[i];
	if (o->f[i] & RF_PREFIX)
		return 1;
	return !(o->f[i] & RF_MARKUP) && (c == ' ' || c == '\n' || c == '\t');
}

static void splitter_init(struct splitter *sp, const struct rout *o,
                          enum bot_size_unit unit, size_t limit)
{
	size_t n = o->len;
	sp->o = o;
	sp->unit = unit;
	sp->limit = limit;
	sp->U = xcalloc(n + 1, sizeof *sp->U);
	sp->C = xcalloc(n + 2, sizeof *sp->C);
	sp->TB = xcalloc(n + 1, sizeof *sp->TB);
	sp->close_at = xcalloc(n + 1, sizeof *sp->close_at);
	sp->opener_end = xcalloc(n + 1, 1);
	sp->LS = xcalloc(n + 1, sizeof *sp->LS);
	sp->stack = xcalloc(o->nsp + 1, sizeof *sp->stack);
	sp->loose = xcalloc(o->nsp + 1, 1);
	sp->depth = sp->next = 0;
	for (size_t i = 1; i <= n; i++)
		sp->LS[i] = o->s[i - 1] == '\n' ? i : sp->LS[i - 1];
	for (size_t i = 0; i < n; i++)
		sp->U[i + 1] = sp->U[i] + unit_of((unsigned char)o->s[i], unit);
	/* A table's header and borders that take more than half the limit
	 * are neither repeated nor closed at a cut: the parts would hold
	 * little else. */
	for (size_t k = 0; k < o->nsp; k++) {
		const struct rspan *r = &o->sp[k];
		if (!r->table || r->close_pos == (size_t)-1 || r->close_pos > n)
			continue;
		size_t mu = sp->U[r->open_pos + r->open_len] - sp->U[r->open_pos] +
		            sp->U[r->close_pos + r->close_len] - sp->U[r->close_pos];
		sp->loose[k] = mu * 2 > limit;
	}
	for (size_t i = 0; i <= n; i++)
		sp->TB[i] = i > 0 && trimmable(o, i - 1) ? sp->TB[i - 1] : i;
	/* C by a difference array: a span's closer counts for every end
	 * from its opening's end up to its closer's start. */
	long long *d = xcalloc(n + 2, sizeof *d);
	for (size_t k = 0; k < o->nsp; k++) {
		const struct rspan *r = &o->sp[k];
		if (r->close_pos == (size_t)-1 || r->close_pos > n || sp->loose[k])
			continue;
		size_t oe = r->open_pos + r->open_len;
		size_t cu = sp->U[r->close_pos + r->close_len] - sp->U[r->close_pos];
		d[oe] += (long long)cu;
		d[r->close_pos + 1] -= (long long)cu;
		if (r->close_len > sp->close_at[r->close_pos])
			sp->close_at[r->close_pos] = r->close_len;
		sp->opener_end[oe] = 1;
		sp->opener_end[sp->TB[oe]] = 1;   /* an opening ending in a newline */
	}
	long long acc = 0;
	for (size_t i = 0; i <= n; i++) {
		acc += d[i];
		sp->C[i] = (size_t)acc;
	}
	free(d);
}

static void splitter_free(struct splitter *sp)
{
	free(sp->U);
	free(sp->C);
	free(sp->TB);
	free(sp->close_at);
	free(sp->opener_end);
	free(sp->LS);
	free(sp->stack);
	free(sp->loose);
}

/* Move the sweep to pos: afterwards stack[0..depth) holds the spans whose
 * opening starts before pos and whose closing starts at or after pos,
 * outermost first. */
static void sweep_to(struct splitter *sp, size_t pos)
{
	const struct rout *o = sp->o;
	while (sp->next < o->nsp && o->sp[sp->next].open_pos < pos) {
		const struct rspan *r = &o->sp[sp->next];
		while (sp->depth && o->sp[sp->stack[sp->depth - 1]].close_pos <= r->open_pos)
			sp->depth--;
		if (r->close_pos != (size_t)-1)
			sp->stack[sp->depth++] = sp->next;
		sp->next++;
	}
	while (sp->depth && o->sp[sp->stack[sp->depth - 1]].close_pos < pos)
		sp->depth--;
}


/* Skip what a part must not start with: whitespace, empty prefixed lines,
 * the closing markup of a span the cut ended. */
static size_t skip_forward(const struct splitter *sp, size_t a)
{
	const struct rout *o = sp->o;
	for (;;) {
		if (a >= o->len)
			return o->len;
		if (!(o->f[a] & RF_MARKUP) && (o->s[a] == ' ' || o->s[a] == '\n' ||
		                                o->s[a] == '\t')) {
			a++;
			continue;
		}
		if (o->f[a] & RF_PREFIX) {
			size_t j = a;
			while (j < o->len && (o->f[j] & RF_PREFIX))
				j++;
			if (j < o->len && o->s[j] == '\n' && !(o->f[j] & RF_MARKUP)) {
				a = j + 1;
				continue;
			}
		}
		if (sp->close_at[a]) {
			a += sp->close_at[a];
			continue;
		}
		return a;
	}
}



/* A line prefix as a part that starts a new message should repeat it:
 * in markups where prefixes mean something, the quote markers and the
 * list marker, never indentation (four spaces would start a code block). */
static void prefix_for_part(const struct rout *o, const char *p, size_t n,
                            int mid_line, struct sbuf *out)
{
	if (!o->semantic_prefix) {
		if (!mid_line)
			sb_add(out, p, n);
		return;
	}
	for (size_t i = 0; i < n;) {
		if (p[i] == '>') {
			sb_add(out, "> ", 2);
			i++;
		} else if (p[i] == ' ') {
			i++;
		} else {
			size_t j = i;
			while (j < n && p[j] != ' ')
				j++;
			if (!mid_line) {
				sb_add(out, p + i, j - i);
				sb_add(out, " ", 1);
			}
			i = j;
		}
	}
}

/* What a part starting at a writes before its own text: the line prefix,
 * and the opening markup of the spans open at a (a block opening that
 * ends a line is followed by the prefix again).  *content is where the
 * part's own text starts. */
static void part_lead(struct splitter *sp, size_t a, struct sbuf *lead,
                      size_t *content)
{
	const struct rout *o = sp->o;
	size_t ls = sp->LS[a];
	size_t pe = ls;
	while (pe < o->len && (o->f[pe] & RF_PREFIX))
		pe++;
	struct sbuf pre = { 0 };
	int mid = a != ls;
	prefix_for_part(o, o->s + ls, pe - ls, mid, &pre);
	*content = mid ? a : pe;
	sb_add(lead, pre.s ? pre.s : "", pre.len);
	sweep_to(sp, a);
	for (size_t i = 0; i < sp->depth; i++) {
		const struct rspan *r = &o->sp[sp->stack[i]];
		size_t oe = r->open_pos + r->open_len;
		if (oe > a || r->close_pos <= a || sp->loose[sp->stack[i]])
			continue;
		sb_add(lead, o->s + r->open_pos, r->open_len);
		if (r->open_len && o->s[oe - 1] == '\n')
			sb_add(lead, pre.s ? pre.s : "", pre.len);
	}
	free(pre.s);
}

/* The closers for a part ending at b, innermost first. */
static void part_tail(struct splitter *sp, size_t b, struct sbuf *out)
{
	const struct rout *o = sp->o;
	sweep_to(sp, b);
	for (size_t i = sp->depth; i-- > 0;) {
		const struct rspan *r = &o->sp[sp->stack[i]];
		size_t oe = r->open_pos + r->open_len;
		if (oe > b || r->close_pos < b || sp->loose[sp->stack[i]])
			continue;
		sb_add(out, o->s + r->close_pos, r->close_len);
	}
}

/* Where the part starting at a (with lead units) ends. */
static size_t choose_cut(const struct splitter *sp, size_t a, size_t lead)
{
	const struct rout *o = sp->o;
	size_t n = o->len, limit = sp->limit;
	size_t best[RCUT_PARA + 1] = { 0 }, bestm[RCUT_PARA + 1] = { 0 };
	size_t first = 0;
	for (size_t b = a + 1; b <= n; b++) {
		int cls = b == n ? RCUT_PARA : (o->f[b] & RF_CUT);
		if (cls == RCUT_NONE)
			continue;
		/* right after a line prefix: the cut before it is the one */
		if (b < n && (o->f[b - 1] & RF_PREFIX) && !(o->f[b] & RF_PREFIX))
			continue;
		size_t tb = sp->TB[b];
		if (tb <= a || sp->opener_end[tb])
			continue;
		size_t body = lead + sp->U[tb] - sp->U[a];
		if (!first)
			first = b;
		if (body > limit)
			break;
		size_t m = body + sp->C[tb];
		if (m <= limit) {
			best[cls] = b;
			bestm[cls] = m;
		}
	}
	for (int c = RCUT_PARA; c >= RCUT_CHAR; c--)
		if (best[c] && bestm[c] * 4 >= limit)
			return best[c];
	size_t pick = 0, pm = 0;
	for (int c = RCUT_PARA; c >= RCUT_CHAR; c--)
		if (best[c] && bestm[c] > pm) {
			pick = best[c];
			pm = bestm[c];
		}
	if (pick)
		return pick;
	if (best[RCUT_CODEPOINT])
		return best[RCUT_CODEPOINT];
	return first ? first : n;
}

static jv part_string(const char *s, size_t n, int reset)
{
	jv r = jv_string_sized(s, (int)n);
	if (reset && memchr(s, '\x1b', n))
		r = jv_string_append_str(r, "\x1b[0m");
	return r;
}

/* The text of o between a and b without its markup: the plain text of
 * the same cut.  Markups that escape text as HTML get it unescaped. */
static jv plain_of(const struct rout *o, size_t a, size_t b, int html)
{
	struct sbuf t = { 0 };
	static const struct { const char *ent; char c; } ents[] = {
		{ "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' }, { "&quot;", '"' }, { "&#39;", '\'' },
	};
	for (size_t i = a; i < b; i++) {
		if (o->f[i] & RF_MARKUP)
			continue;
		size_t k = 0, n = sizeof ents / sizeof *ents;
		while (html && o->s[i] == '&' && k < n &&
		       strncmp(o->s + i, ents[k].ent, strlen(ents[k].ent)))
			k++;
		if (html && o->s[i] == '&' && k < n) {
			sb_add(&t, &ents[k].c, 1);
			i += strlen(ents[k].ent) - 1;
		} else
			sb_add(&t, o->s + i, 1);
	}
	jv r = jv_string_sized(t.s ? t.s : "", (int)t.len);
	free(t.s);
	return r;
}

static jv split(const char *markup, const char *md, size_t len, size_t limit,
                enum bot_size_unit unit, int with_plain);

jv bot_split(const char *markup, const char *md, size_t len, size_t limit,
             enum bot_size_unit unit)
{
	return split(markup, md, len, limit, unit, 0);
}

jv bot_split_plain(const char *markup, const char *md, size_t len, size_t limit,
                   enum bot_size_unit unit)
{
	return split(markup, md, len, limit, unit, 1);
}

/* A part: its string, or [string, plain] with plain. */
static jv part_of(jv text, const struct rout *o, size_t a, size_t b, int with_plain, int html)
{
	return with_plain ? JV_ARRAY(text, plain_of(o, a, b, html)) : text;
}

static jv split(const char *markup, const char *md, size_t len, size_t limit,
                enum bot_size_unit unit, int with_plain)
{
	struct rout o;
	memset(&o, 0, sizeof o);
	if (bot_render_into(markup, md, len, &o) < 0)
		return jv_invalid_with_msg(jv_string_fmt("unknown markup: %s",
		                                         markup ? markup : "(null)"));
	int reset = bot_render_needs_reset(markup, o.s);
	int html = !strcmp(markup, "html") || !strcmp(markup, "matrix") || !strcmp(markup, "telegram");
	if (reset && limit > 8)
		limit -= 4;   /* room for the final ESC[0m */
	jv parts = jv_array();
	if (limit == 0 || units(o.s, o.len, unit) <= limit) {
		parts = jv_array_append(parts, part_of(part_string(o.s, o.len, reset), &o, 0, o.len,
		                                       with_plain, html));
		rout_free(&o);
		return parts;
	}
	struct splitter sp;
	splitter_init(&sp, &o, unit, limit);
	size_t a = skip_forward(&sp, 0);
	while (a < o.len) {
		struct sbuf lead = { 0 }, part = { 0 };
		size_t content;
		part_lead(&sp, a, &lead, &content);
		size_t lu = units(lead.s ? lead.s : "", lead.len, unit);
		/* the part's text starts at content; what lies between a and
		 * content is already in the lead */
		size_t lead_adj = lu - (sp.U[content] - sp.U[a]);
		size_t b = choose_cut(&sp, a, lead_adj);
		size_t tb = sp.TB[b];
		if (tb <= a) {
			free(lead.s);
			break;
		}
		sb_add(&part, lead.s ? lead.s : "", lead.len);
		if (tb > content)
			sb_add(&part, o.s + content, tb - content);
		part_tail(&sp, tb, &part);
		parts = jv_array_append(parts, part_of(part_string(part.s, part.len, reset), &o, a, tb,
		                                       with_plain, html));
		free(lead.s);
		free(part.s);
		a = skip_forward(&sp, b);
	}
	splitter_free(&sp);
	if (jv_array_length(jv_copy(parts)) == 0)
		parts = jv_array_append(parts, with_plain ? JV_ARRAY(jv_string(""), jv_string(""))
		                                          : jv_string(""));
	rout_free(&o);
	return parts;
}
