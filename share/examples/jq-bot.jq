# jq-bot.jq: a whole bot in jq, no plugins.  Run it between listener and
# sender with jq itself:
#
#   bot-listen -b irc |
#     jq -c --unbuffered -L /usr/share/botpipe -f jq-bot.jq |
#     bot-send -b irc
#
# or as bot-dispatch's rules (which add !help, ACLs and the rest):
#   bot-dispatch -f jq-bot.jq
# Each rule reads one event and writes zero or more; the comma runs them
# all on every event.  bot.jq gives reply, command, args, react.
include "bot";

# !ping: pong, in the room or the chat it came from.
(select(is_command("ping")) | reply("pong")),
# !rot13 TEXT: a command with arguments, computed in jq.
(select(is_command("rot13")) | reply(args("rot13")
  | explode | map(if 97 <= . and . <= 122 then (. - 97 + 13) % 26 + 97
                  elif 65 <= . and . <= 90 then (. - 65 + 13) % 26 + 65
                  else . end) | implode)),
# !count WORDS: how many words.
(select(is_command("count")) | reply("\(args("count") | [splits("\\s+") | select(. != "")] | length) words")),
# Say good morning back, without a prefix, once a message says it.
(select(is_message and (.body | type) == "string" and (.body | test("^good morning\\b"; "i")))
  | reply("Good morning, \(.from.nick // "you")!"))
