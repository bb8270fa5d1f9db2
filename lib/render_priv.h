/* libbot: what render.c tells split.c about a rendered message.
 *
 * A renderer writes its output into a struct rout: the bytes, one flag byte
 * per output byte, and the list of spans (bold, a link, a code block, an
 * HTML element) with where each one's opening and closing markup sit.  The
 * splitter cuts the bytes where the flags allow and closes/reopens the spans
 * that a cut goes through.
 */
#ifndef BOT_RENDER_PRIV_H
#define BOT_RENDER_PRIV_H

#include <stddef.h>

/* How good a place to cut is the point just before this byte. */
enum rcut {
	RCUT_NONE = 0,       /* never: inside an escape, a tag, a UTF-8 sequence */
	RCUT_CODEPOINT = 1,  /* between code points of one grapheme (last resort) */
	RCUT_CHAR = 2,       /* between characters */
	RCUT_WORD = 3,       /* after a space */
	RCUT_LINE = 4,       /* at the start of a line */
	RCUT_PARA = 5,       /* at the start of a block */
};

#define RF_CUT     0x07  /* mask: enum rcut */
#define RF_MARKUP  0x08  /* markup, not text: never trimmed at a cut */
#define RF_PREFIX  0x10  /* a line prefix ("> ", list indentation) */

struct rspan {
	size_t open_pos, open_len;      /* the opening markup */
	size_t close_pos, close_len;    /* the closing markup */
	int table;      /* a table's header and borders: repeated at a cut only
	                 * when they take at most half the limit */
};

struct rout {
	char *s;                 /* NUL-terminated */
	unsigned char *f;        /* len flags */
	size_t len, cap;
	struct rspan *sp;        /* in order of open_pos */
	size_t nsp, capsp;
	int semantic_prefix;     /* line prefixes carry meaning (quotes) */
};

/* Render md into o (zeroed by the caller).  0, or -1 for an unknown
 * markup.  rout_free releases what it holds. */
int bot_render_into(const char *markup, const char *md, size_t len,
                    struct rout *o);
void rout_free(struct rout *o);
/* The same through cmark always, and whether md takes the path without
 * it (render.c's plain bodies): for test-render.c, which holds the two
 * equal. */
int bot_render_into_parsed(const char *markup, const char *md, size_t len,
                           struct rout *o);
int bot_render_is_plain(const char *md, size_t len);
/* 1 when the markup wants ESC[0m after text holding an escape (ansi). */
int bot_render_needs_reset(const char *markup, const char *s);

/* card.c: the built-in copy of share/templates/card.md. */
const char *bot_card_builtin_template(void);

#endif
