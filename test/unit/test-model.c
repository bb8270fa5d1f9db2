/* The message model: identifiers, derived fields, validation, replies. */
#include <stdlib.h>

#include "backend.h"
#include "unit.h"

extern const struct bot_backend bot_backend_text;

static jv parse(const char *s)
{
	jv v = jv_parse(s);
	if (!jv_is_valid(v))
		abort();
	return v;
}

/* The compact dump of v (consumed) compared with want. */
static void check_json(jv v, const char *want, const char *what)
{
	jv s = jv_dump_string(v, JV_PRINT_SORTED);
	jv w = jv_dump_string(parse(want), JV_PRINT_SORTED);
	CHECK_STR(jv_string_value(s), jv_string_value(w), what);
	jv_free(s);
	jv_free(w);
}

static void check_invalid(jv v, const char *want, const char *what)
{
	char buf[512];
	CHECK(!jv_is_valid(v), what);
	CHECK_STR(bot_fail_message(v, buf, sizeof buf), want, what);
	jv_free(v);
}

static void test_identifiers(void)
{
	const struct bot_backend *t = &bot_backend_text;
	check_json(t->build_identifier(NULL, "@alice"),
	           "{\"kind\":\"person\",\"id\":\"@alice\",\"person\":\"@alice\",\"nick\":\"alice\"}",
	           "text: @alice is a person");
	check_json(t->build_identifier(NULL, "#ops"), "{\"kind\":\"room\",\"id\":\"#ops\"}",
	           "text: #ops is a room");
	check_json(t->build_identifier(NULL, "#ops/bob"),
	           "{\"kind\":\"occupant\",\"id\":\"#ops/bob\",\"room\":\"#ops\",\"nick\":\"bob\",\"person\":\"@bob\"}",
	           "text: #ops/bob is an occupant");
	check_invalid(t->build_identifier(NULL, "alice"),
	              "An identifier for the Text backend needs to start with # for a room or @ for a person.",
	              "text: errbot's message for a bare name");
	check_invalid(t->build_identifier(NULL, "#a/b/c"),
	              "An identifier for the Text backend needs to start with # for a room or @ for a person.",
	              "text: two slashes");
	jv occ = bot_occupant("#r", "n", NULL);
	CHECK_STR(bot_ident_room(occ), "#r", "an occupant's room");
	CHECK_STR(bot_ident_person(occ), "@n", "an occupant's person is derived from its nick");
	CHECK_STR(bot_ident_aclattr(occ), "@n", "aclattr falls back to the person");
	jv_free(occ);
	occ = parse("{\"kind\":\"occupant\",\"id\":\"#r/x\",\"room\":\"#r\"}");
	CHECK_STR(bot_ident_aclattr(occ), "#r/x", "aclattr falls back to the id without a nick");
	jv_free(occ);
	occ = bot_ident_derive(parse("{\"kind\":\"occupant\",\"id\":\"#ops/bob\",\"room\":\"#ops\",\"nick\":\"bob\"}"));
	CHECK_STR(bot_str(occ, "person"), "@bob", "bot_ident_derive: an occupant without person gets @nick");
	jv_free(occ);
	occ = bot_ident_derive(parse("{\"kind\":\"occupant\",\"id\":\"#ops/bob\",\"room\":\"#ops\",\"nick\":\"bob\",\"person\":\"bob@example.org\"}"));
	CHECK_STR(bot_str(occ, "person"), "bob@example.org", "bot_ident_derive: a person field is kept");
	jv_free(occ);
	jv p = parse("{\"kind\":\"person\",\"id\":\"@a\",\"aclattr\":\"a!u@h\"}");
	CHECK_STR(bot_ident_aclattr(p), "a!u@h", "aclattr when the backend sets it");
	jv_free(p);
	jv bad = parse("{\"kind\":\"planet\",\"id\":\"x\"}");
	CHECK(bot_ident_kind(bad) == NULL, "an unknown kind is no identifier");
	jv_free(bad);
}

static void test_derive(void)
{
	check_json(bot_derive(parse("{\"type\":\"message\",\"to\":{\"kind\":\"person\",\"id\":\"@b\"}}")),
	           "{\"type\":\"message\",\"to\":{\"kind\":\"person\",\"id\":\"@b\"},\"is_direct\":true,\"is_group\":false,\"is_threaded\":false}",
	           "a message to a person is direct");
	check_json(bot_derive(parse("{\"type\":\"message\",\"to\":{\"kind\":\"room\",\"id\":\"#r\"},\"parent\":{\"id\":\"1\"}}")),
	           "{\"type\":\"message\",\"to\":{\"kind\":\"room\",\"id\":\"#r\"},\"parent\":{\"id\":\"1\"},\"is_direct\":false,\"is_group\":true,\"is_threaded\":true}",
	           "a message to a room in a thread");
	check_json(bot_derive(parse("{\"type\":\"message\",\"to\":{\"kind\":\"occupant\",\"id\":\"#r/a\",\"room\":\"#r\"}}")),
	           "{\"type\":\"message\",\"to\":{\"kind\":\"occupant\",\"id\":\"#r/a\",\"room\":\"#r\"},\"is_direct\":true,\"is_group\":false,\"is_threaded\":false}",
	           "a message to an occupant is direct (errbot's RoomOccupant is a Person)");
}

static void test_validate(void)
{
	check_invalid(bot_validate(parse("{\"type\":\"message\",\"body\":\"x\"}")),
	              "message: missing field \"to\"", "a message needs to");
	check_invalid(bot_validate(parse("{\"type\":\"message\",\"to\":5}")),
	              "message: field \"to\": expected an identifier (an object with kind and id, or a string)",
	              "to of the wrong kind");
	check_invalid(bot_validate(parse("{\"type\":\"message\",\"to\":\"#r\",\"body\":[]}")),
	              "message: field \"body\": expected a string", "body of the wrong kind");
	check_invalid(bot_validate(parse("{\"type\":\"message\",\"to\":\"#r\",\"partial\":\"yes\"}")),
	              "message: field \"partial\": expected true or false", "partial of the wrong kind");
	check_invalid(bot_validate(parse("{\"type\":\"card\",\"to\":\"#r\",\"fields\":[[\"k\"]]}")),
	              "card: field \"fields\": expected an array of [key, value] string pairs", "card fields");
	check_invalid(bot_validate(parse("{\"type\":\"presence\",\"identifier\":\"@a\"}")),
	              "presence: missing field \"status\"", "presence needs a status");
	check_invalid(bot_validate(parse("{\"type\":\"delete\",\"to\":\"#r\"}")),
	              "delete: missing field \"deletes\"", "delete needs the id it deletes");
	check_invalid(bot_validate(parse("{\"type\":\"message\",\"to\":\"#r\",\"replaces\":5}")),
	              "message: field \"replaces\": expected a string", "replaces is a backend id, a string");
	check_invalid(bot_validate(parse("{\"type\":\"room\",\"action\":\"dance\",\"room\":\"#r\"}")),
	              "room: field \"action\": unknown action \"dance\"", "room action");
	check_invalid(bot_validate(parse("{\"type\":\"reaction\",\"reacted_to\":{\"id\":\"1\"}}")),
	              "reaction: missing field \"reaction_name\"", "reaction needs a name");
	check_invalid(bot_validate(parse("{\"type\":\"error\"}")),
	              "error: missing field \"code\"", "error needs a code");
	jv ok = bot_validate(parse("{\"type\":\"card\",\"to\":\"#r\",\"fields\":[[\"k\",\"v\"]],\"x\":1}"));
	CHECK(jv_is_valid(ok), "a good card with an unknown field passes");
	jv_free(ok);
}

static void test_reply(void)
{
	const char *dm = "{\"type\":\"message\",\"id\":\"7\",\"backend\":\"text\","
	                 "\"from\":{\"kind\":\"person\",\"id\":\"@a\"},\"to\":{\"kind\":\"person\",\"id\":\"@bot\"},\"body\":\"!x\"}";
	check_json(bot_build_reply(parse(dm), "hi", 0, 0, 1),
	           "{\"type\":\"message\",\"to\":{\"kind\":\"person\",\"id\":\"@a\"},\"from\":{\"kind\":\"person\",\"id\":\"@bot\"},\"body\":\"hi\",\"backend\":\"text\",\"in_reply_to\":\"7\",\"id\":\"7.reply\"}",
	           "a direct message is answered to the sender, from the bot, no mention");
	const char *room = "{\"type\":\"message\",\"id\":\"8\",\"from\":{\"kind\":\"occupant\",\"id\":\"#r/a\",\"room\":\"#r\"},"
	                   "\"to\":{\"kind\":\"room\",\"id\":\"#r\"},\"body\":\"!x\"}";
	check_json(bot_build_reply(parse(room), "hi", 0, 0, 1),
	           "{\"type\":\"message\",\"to\":{\"kind\":\"room\",\"id\":\"#r\"},\"body\":\"hi\",\"in_reply_to\":\"8\",\"id\":\"8.reply\",\"mention\":{\"kind\":\"occupant\",\"id\":\"#r/a\",\"room\":\"#r\"}}",
	           "a group message is answered to the room with the sender's mention");
	check_json(bot_build_reply(parse(room), "hi", 1, 0, 1),
	           "{\"type\":\"message\",\"to\":{\"kind\":\"occupant\",\"id\":\"#r/a\",\"room\":\"#r\"},\"body\":\"hi\",\"in_reply_to\":\"8\",\"id\":\"8.reply\"}",
	           "private: to the occupant");
	check_json(bot_build_reply(parse(room), "hi", 0, 1, 0),
	           "{\"type\":\"message\",\"to\":{\"kind\":\"room\",\"id\":\"#r\"},\"body\":\"hi\",\"in_reply_to\":\"8\",\"id\":\"8.reply\",\"parent\":{\"id\":\"8\"}}",
	           "threaded: the reply's parent is the message");
	check_json(bot_build_reply(parse("{\"type\":\"message\",\"from\":\"#r/a\",\"to\":\"#r\",\"is_group\":true}"), "hi", 0, 0, 1),
	           "{\"type\":\"message\",\"to\":\"#r\",\"body\":\"hi\",\"mention\":\"#r/a\"}",
	           "a bare-string room, marked is_group, is answered in the room");
	check_json(bot_build_reply(parse("{\"type\":\"message\",\"from\":{\"kind\":\"occupant\",\"id\":\"#ops/alice\",\"room\":\"#ops\",\"nick\":\"alice\"},\"to\":{\"kind\":\"room\",\"id\":\"#ops\"}}"), "hi", 0, 0, 1),
	           "{\"type\":\"message\",\"to\":{\"kind\":\"room\",\"id\":\"#ops\"},\"body\":\"hi\",\"mention\":{\"kind\":\"occupant\",\"id\":\"#ops/alice\",\"room\":\"#ops\",\"nick\":\"alice\",\"person\":\"@alice\"}}",
	           "the mention of an occupant without person has @nick as its person");
	const char *thr = "{\"type\":\"message\",\"id\":\"9\",\"parent\":{\"id\":\"1\"},\"from\":\"@a\",\"to\":{\"kind\":\"room\",\"id\":\"#r\"}}";
	check_json(bot_build_reply(parse(thr), "hi", 0, 0, 0),
	           "{\"type\":\"message\",\"to\":{\"kind\":\"room\",\"id\":\"#r\"},\"body\":\"hi\",\"in_reply_to\":\"9\",\"id\":\"9.reply\",\"parent\":{\"id\":\"1\"}}",
	           "a reply to a threaded message stays in its thread");
}

static void test_util(void)
{
	char buf[32];
	CHECK_STR(bot_oneline(buf, sizeof buf, "a\nb\rc\x01", 6), "a\\nb\\rc\\x01", "one line: controls escaped");
	CHECK_STR(bot_oneline(buf, 10, "abcdefghijklmnop", 16), "abcdef...", "one line: cut with ...");
	CHECK(bot_utf8_valid("h\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 10), "valid UTF-8");
	CHECK(!bot_utf8_valid("\xf4\x90\x80\x80", 4), "past U+10FFFF");
	CHECK(!bot_utf8_valid("\xe2\x82", 2), "a cut sequence");
	CHECK(bot_has_line_break("a\0b", 3) && bot_has_line_break("a\r", 2) && !bot_has_line_break("ab", 2),
	      "line breaks: CR, LF, NUL");
	double d = 1;
	d = bot_backoff_next(d);
	CHECK(d >= 1.75 && d <= 4.75, "backoff: 1 s, then 1.75 s + U(0,3)");
	for (int i = 0; i < 40; i++)
		d = bot_backoff_next(d);
	CHECK(d >= 600 && d <= 603, "backoff: capped at 600 s + U(0,3)");
}

int main(void)
{
	bot_verbosity = 0;
	test_identifiers();
	test_derive();
	test_validate();
	test_reply();
	test_util();
	return unit_done();
}
