/* libFuzzer target: bot_card_markdown.  The input is a template, rendered
 * against a card with every field set (some hostile); the card's markdown
 * then goes through a renderer as bot-send would. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "render.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *tmpl = malloc(size + 1);
	memcpy(tmpl, data, size);
	tmpl[size] = '\0';
	jv card = jv_parse("{\"title\":\"T **x**\",\"summary\":\"<b>s</b>\",\"link\":\"http://l/(x)\","
	                   "\"image\":\"javascript:1\",\"thumbnail\":\"t\",\"color\":\"red\","
	                   "\"text_color\":\"white\",\"body\":\"# body\\n\\n```\\nx\",\"fields\":"
	                   "[[\"k\",\"v\"],[1,true],\"junk\",[\"- a\",\"1. b\"]]}");
	jv md = bot_card_markdown(card, tmpl);
	if (jv_is_valid(md)) {
		char *out = bot_render("irc", jv_string_value(md),
		                       (size_t)jv_string_length_bytes(jv_copy(md)));
		free(out);
	}
	jv_free(md);
	jv_free(card);
	free(tmpl);
	return 0;
}
