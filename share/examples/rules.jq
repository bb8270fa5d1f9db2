# Example rules for bot-dispatch -f: jq over every event, bot.jq included.
# Each line is one rule; the comma runs them all on every event.

# Answer a greeting in any room or chat, without a prefix.
(select(is_message and (.body | test("^(hi|hello)\\b"; "i"))) | reply("Hello, \(.from.nick // "you")!")),
# A command made of jq alone: !shout TEXT
(select(is_command("shout")) | reply(args | ascii_upcase)),
# Thank whoever says thanks, with a reaction.
(select(is_message and (.body | test("\\bthanks?\\b"; "i"))) | react("thumbsup"))
