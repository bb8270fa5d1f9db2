# bot.jq: helpers for jq rules over botpipe events (bot-dispatch -e, or
# jq -L share 'include "bot"; ...').  See botpipe-plugins(7).
#
# reply builds what libbot's bot_build_reply builds (errbot's build_reply):
# to the room for a group message, to the sender for a direct one, in the
# thread where threaded, with the sender as "mention" in a room.

def is_message: .type == "message";
def is_group: ((.to | type) == "object" and .to.kind == "room") or .is_group == true;
def is_direct: is_message and (is_group | not);
def is_threaded: .parent != null;

# An identifier with its derived fields, as libbot's bot_ident_derive: an
# occupant without "person" gets "@" + its nick.
def derive_ident:
  if type == "object" and .kind == "occupant" and .person == null
     and (.nick | type) == "string" and .nick != ""
  then .person = "@" + .nick else . end;

# opts: {private: bool, threaded: bool, mention: bool (default true)}
def reply(text; opts):
  . as $m
  | (text | if type == "string" then . else tostring end) as $text
  | (opts // {}) as $o
  | (is_group and ($o.private | not)) as $group_reply
  | {type: "message"}
  | if $group_reply then .to = $m.to
    else .to = $m.from | (if ($m | is_group | not) then .from = $m.to else . end)
    end
  | .body = $text
  | if $m.backend != null then .backend = $m.backend else . end
  | if $m.id != null then .in_reply_to = $m.id else . end
  | if ($m.id | type) == "string" then .id = ($m.id + ".reply") else . end
  | if $m.parent != null then .parent = $m.parent
    elif $o.threaded and $m.id != null then .parent = {id: $m.id}
    else . end
  | if $group_reply and $o.mention != false and $m.from != null
    then .mention = ($m.from | derive_ident) else . end;
def reply(text): reply(text; {});

# A card to where a reply would go; card holds title, summary, link,
# image, thumbnail, color (errbot's default "green"), fields, body.
def reply_card(card):
  card as $c
  | reply($c.body // ""; {mention: false})
  | .type = "card"
  | .color = "green"
  | . + ($c | del(.body));

# A reaction (errbot's Reaction) to this message.
def react(name):
  {type: "reaction", action: "added", reaction_name: name,
   reacted_to: {id: .id, from: .from, to: .to}, reacted_to_owner: .from}
  + (if .backend != null then {backend: .backend} else {} end);

# The text after the bot's prefixes: bot-dispatch puts it in .command.text
# (with its --prefix and --alt-prefix rules); without bot-dispatch, a
# body starting with "!".
def command_text:
  if (.command | type) == "object" then .command.text
  elif (.body | type) == "string" and (.body | startswith("!")) then .body[1:]
  else null end;

# {name, args} when the command text starts with the words of name
# ("deploy status" or "deploy_status"), else null.
def command(name):
  (name | gsub(" "; "_")) as $n
  | command_text as $t
  | if ($t | type) != "string" then null
    else [$t | match("\\S+"; "g")] as $w
    | first(range(1; ($w | length) + 1) as $k
        | select(($w[0:$k] | map(.string) | join("_")) == $n)
        | {name: $n,
           args: ($t[($w[$k - 1].offset + $w[$k - 1].length):]
                  | sub("^\\s+"; "") | sub("\\s+$"; ""))}) // null
    end;
def is_command(name): is_message and command(name) != null;
def args(name): command(name).args // "";
# The arguments after the first word of the command text.
def args:
  if (.command | type) == "object" and .command.args != null then .command.args
  else command_text // "" | sub("^\\s*\\S*\\s*"; "") | sub("\\s+$"; "") end;

# A bridge: a message said in a room becomes a message to `to` (on another
# network) that keeps who said it: "<alice> hi".  Nothing else passes: not
# a direct chat, not backlog (delayed), not a line by a nick in `bots` (the
# bridge's own nicks: bot-listen drops the bot's own lines already, this
# keeps two bridges from echoing each other).  Send the result with
# bot-send --raw, so the text goes as it was written, not as markdown.
def relay(to; bots):
  select(is_message and is_group and (.delayed | not) and (.body | type) == "string")
  | (.from.nick // .from.id // "?") as $who
  | select([bots] | flatten | index($who) | not)
  | {type: "message", to: to, body: "<\($who)> \(.body)", relayed_from: .from};
def relay(to): relay(to; []);
