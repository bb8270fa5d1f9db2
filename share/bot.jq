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

# ---- bridges ----
#
# What a bridge passes on: a message said in a room, with text, that is
# not backlog (delayed), not a copy a bridge made (relayed_from), not a
# notice (extras.notice: what bots speak in on IRC and Matrix, never to
# be answered automatically), not from a sender marked is_bot, and not by
# one of `bots` (nicks or ids: the bridge's own names elsewhere, another
# bridge).  bot-listen drops the bot's own messages already.
def relay_field(o; k): o | if type == "object" then .[k] else null end;
def relay_passes(bots):
  is_message and is_group and (.delayed | not) and .relayed_from == null
  and relay_field(.extras; "notice") != true and relay_field(.from; "is_bot") != true
  and (.body | type) == "string" and .body != ""
  and ([bots] | flatten) as $bots
  | (.from | if type == "object" then [.nick, .id, .person] else [.] end
     | map(select(. != null))) as $names
  | all($names[]; . as $n | all($bots[]; . != $n));

# Who said it: the sender's nick, else its id.
def relay_who:
  .from | (if type == "object" then .nick // .id else . end) // "?" | tostring;

# The text as markdown shows it: every ASCII punctuation mark escaped.
# One pass over the code points and a constant table (true: a mark; 16
# code points a row, from 0), so a long body costs its length, no more.
def md_literal:
  [false, false, false, false, false, false, false, false, false, false, false, false, false, false, false, false,
   false, false, false, false, false, false, false, false, false, false, false, false, false, false, false, false,
   false, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true,
   false, false, false, false, false, false, false, false, false, false, true, true, true, true, true, true,
   true, false, false, false, false, false, false, false, false, false, false, false, false, false, false, false,
   false, false, false, false, false, false, false, false, false, false, false, true, true, true, true, true,
   true, false, false, false, false, false, false, false, false, false, false, false, false, false, false, false,
   false, false, false, false, false, false, false, false, false, false, false, true, true, true, true, false] as $mark
  | explode | map(if $mark[.] then 92, . else . end) | implode;

# The networks whose people write plain text and read "<nick> text":
# IRC, XMPP and the console.  The rest read markdown.
def relay_plain_network(backend):
  ((backend | strings) as $b
   | any("irc", "xmpp", "text"; . as $n | $b == $n or ($b | startswith($n + "@"))))
  // false;

# The room a message was said in, as its id.
def relay_room_id: if (.to | type) == "object" then .to.id else .to end;

# Set key k to v unless v is null.
def relay_set(k; v): if v != null then .[k] = v else . end;

# The copies of a message that passes, one per [backend, room] of
# targets; what depends on the message alone is worked out once.
def relay_to(targets; bots):
  select(relay_passes(bots))
  | . as $m
  | relay_room_id as $here
  | (relay_who | md_literal) as $who
  | ((if relay_plain_network($m.backend) then .body | md_literal else .body end)
     + (if .replaces != null then " (edited)" else "" end)) as $text
  | (relay_field(.extras; "action") == true) as $action
  | ({} | relay_set("backend"; $m.backend) | relay_set("room"; $here)
        | relay_set("id"; $m.id) | relay_set("from"; $m.from)) as $origin
  | targets as [$to_backend, $to]
  | ($to_backend // $m.backend) as $b
  | ($to | if type == "object" then .id else . end) as $rid
  | select([$b, $rid] != [$m.backend, $here])
  | (if relay_plain_network($b) then (if $action then "\\* \($who) " else "\\<\($who)\\> " end)
     elif $action then "\\* **\($who)** "
     else "**\($who)**: " end) as $head
  | {type: "message"} | relay_set("backend"; $b)
  | .to = $to
  | .body = $head + $text
  | if ($m.id | type) == "string" then .id = "\($m.id).relay.\($b).\($rid)" else . end
  | if ($m.replaces | type) == "string"
    then .replaces_copy_of = {backend: $m.backend, id: $m.replaces} else . end
  | .relayed_from = $origin;

# A reaction to a message (said in a room, or a copy of one) put on the
# same message in each of targets, by bot-send, which knows the copies it
# made (reacted_to_copy_of); one with no copy there is answered
# "unsupported" and goes nowhere.  Not a reaction of one of `bots`.
def relay_reaction_to(targets; bots):
  select(.type == "reaction" and .reactor != null and (.reacted_to | type) == "object"
         and (.reacted_to.id | type) == "string")
  | . as $r
  | ([bots] | flatten) as $bots
  | select(.reactor | (if type == "object" then [.nick, .id, .person] else [.] end)
                     | all(.[] | select(. != null); . as $n | all($bots[]; . != $n)))
  | targets as [$to_backend, $to]
  | ($to_backend // $r.backend) as $b
  | select($b != $r.backend)
  | {type: "reaction", backend: $b, to: $to, action: ($r.action // "added"),
     reaction_name: $r.reaction_name,
     reacted_to_copy_of: {backend: $r.backend, id: $r.reacted_to.id}}
  + (if $r.emoji then {emoji: $r.emoji} else {} end);

# A room's message copied to room to_room (an id or an identifier) on
# backend instance to_backend ("irc@libera", "matrix"; null: the
# message's own), keeping who said it in the target network's form:
#   IRC, XMPP, the console   <alice> hi       an action: * alice waves
#   every other network      **alice**: hi    an action: * **alice** waves
# The name is the sender's nick (else its id); it is escaped, so that it
# shows as it is.  The body is markdown as every body is, rendered by
# bot-send for the target; a body from a plain network (IRC, XMPP, the
# console) is escaped, so that it arrives as it was typed.  An edit
# (replaces) ends in " (edited)" and edits the copy in place where the
# target can edit and bot-send delivered the copy (replaces_copy_of),
# else arrives as a new message.  A reaction to a message, or to a copy
# of one, is put on the copy (or the message) in the target room.
# Nothing goes back to the room it came from.
def relay(to_backend; to_room; bots):
  relay_to([to_backend, to_room]; bots), relay_reaction_to([to_backend, to_room]; bots);

# relay(to; bots), the first form, is kept: to is a room on the same
# network, bots an array of nicks, and the body is plain text for
# bot-send --raw ("<alice> hi", unescaped).  So a second argument that is
# an array (or null) is that form; a string or an identifier is to_room.
def relay(a; b):
  if (b | type) == "array" or (b | type) == "null" then
    select(relay_passes(b))
    | relay_who as $who
    | {type: "message", to: a, body: "<\($who)> \(.body)", relayed_from: .from}
  else relay(a; b; []) end;
def relay(to): relay(to; []);

# A ring of rooms, one line: rooms is an array of [backend, room] pairs;
# a message said in one of them is relayed to each of the others.
def bridge(rooms; bots):
  rooms as $rooms
  | if .type == "reaction" then
      .backend as $src
      | select(any($rooms[]; .[0] == $src))
      | relay_reaction_to($rooms[] | select(.[0] != $src); bots)
    else
      [.backend, relay_room_id] as $here
      | select(any($rooms[]; . == $here))
      | relay_to($rooms[] | select(. != $here); bots)
    end;
def bridge(rooms): bridge(rooms; []);
