#!/usr/bin/env bats
# The Telegram backend against a loopback Bot API (helpers/telegram-fake.bash
# over test/fake-http.py): what the fake received, byte for byte, for the
# pipeline's replies (markup, thread, mention), long replies, cards,
# reactions, edits and files both ways; the API's retry_after and
# migrate_to_chat_id; nothing lost or twice across a kill -9 of bot-listen
# and a restart of the fake; a bad token exits 77; the token shows nowhere.
load helpers/common
load helpers/telegram-fake

setup() {
	d=$BATS_TEST_TMPDIR
	TG_PID= LPID= TG_PORT=
	# a state folder (the cursor, the spool) of this test's own
	export XDG_STATE_HOME=$d/state
	export -f tg_calls
	export TG_LOG="$d/tg.ndjson" TG_TOKEN
}

teardown() {
	stop_bot
	tg_stop
}

# The bot: bot-listen | bot-dispatch | bot-send in the background, events
# seen by the dispatcher in $d/events (tee), replies' answers in $d/sent.
# In a process group of its own, so that stop_bot ends all of it.
start_bot() {
	setsid sh -c 'd=$1; shift
	  bot-listen -b telegram --telegram-poll-timeout 2 "$@" 2>"$d/listen.err" |
	  tee "$d/events" | bot-dispatch 2>"$d/dispatch.err" |
	  bot-send -b telegram >"$d/sent" 2>"$d/send.err"' sh "$d" "$@" 3>&- &
	LPID=$!
}

# Stops what start_bot or start_listen started, whichever it was.
stop_bot() {
	[ -n "$LPID" ] || return 0
	stop_group "$LPID"
	kill "$LPID" 2>/dev/null
	wait "$LPID" 2>/dev/null || true
	LPID=
}

# bot-listen alone, its events in $d/listen.out.
start_listen() {
	bot-listen -b telegram --telegram-poll-timeout 2 --session none "$@" >>"$d/listen.out" 2>>"$d/listen.err" 3>&- &
	LPID=$!
}

# Wait until METHOD was called N times (default 1), up to 15 s.
wait_calls() {
	local i
	for i in $(seq 300); do
		[ "$(tg_calls "$1" | wc -l)" -ge "${2:-1}" ] && return 0
		sleep 0.05
	done
	echo "$1 called $(tg_calls "$1" | wc -l) times, not ${2:-1}" >&2
	return 1
}

@test "one-shot: bot-send --to CHAT sends HTML with sendMessage, and answers the chat:message id" {
	tg_start
	run --separate-stderr bot-send -b telegram --to "$TG_CHAT" 'build **ok** & <tag> _v1.2_'
	assert_success
	assert_equal "$stderr" ""
	assert_output '{"type":"sent","id":"-1001234567890:1","to":{"kind":"room","id":"-1001234567890"}}'
	run tg_calls sendMessage
	assert_output '{"chat_id":-1001234567890,"text":"build <b>ok</b> &amp; &lt;tag&gt; <i>v1.2</i>","parse_mode":"HTML"}'
	run jq -r '[.method, .headers["content-type"]] | @tsv' "$TG_LOG"
	assert_output "$(printf 'POST\tapplication/json')"
}

@test "a command in a group gets its reply: HTML, the @username mention, in the thread it came in" {
	local parent='{"reply_to_message":{"message_id":40,"from":{"id":222,"is_bot":false,"first_name":"Bo"},"chat":{"id":-1001234567890,"type":"supergroup"},"date":1,"text":"earlier"}}'
	tg_start "[$(tg_update 1 "$TG_CHAT" '!echo **hi** <there>' '' "$parent")]"
	start_bot
	wait_calls sendMessage
	run tg_calls sendMessage
	assert_output '{"chat_id":-1001234567890,"text":"@al: <b>hi</b> &lt;there&gt;","parse_mode":"HTML","reply_parameters":{"message_id":40,"allow_sending_without_reply":true}}'
	# the message as bot-dispatch saw it: an occupant, the parent, the id
	run jq -c 'select(.type=="message") | [.from.id, .from.person, .from.nick, .to.id, .id, .parent.id, .is_threaded]' "$d/events"
	assert_output '["-1001234567890/111","111","al","-1001234567890","-1001234567890:51","-1001234567890:40",true]'
}

@test "a direct message is answered in the private chat, without a mention" {
	tg_start "[$(tg_update 1 111 '!echo hello')]"
	start_bot
	wait_calls sendMessage
	run tg_calls sendMessage
	assert_output '{"chat_id":111,"text":"hello","parse_mode":"HTML"}'
	run jq -c 'select(.type=="message") | [.from.kind, .from.id, .to.id, .is_direct]' "$d/events"
	assert_output '["person","111","4242",true]'
}

@test "a long reply is cut at 4096 UTF-16 units, in order, nothing lost" {
	tg_start
	# 3000 emoji are 6000 units (each is a surrogate pair), with spaces 9000
	local text
	text=$(for _ in $(seq 3000); do printf '\xf0\x9f\x98\x80 '; done)
	run --separate-stderr bot-send -b telegram --to "$TG_CHAT" "$text"
	assert_success
	run jq -r '.ids | length' <<<"$output"
	assert_output 3
	run tg_calls sendMessage
	# every part within the limit as Telegram counts it
	run python3 -c '
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
parts = [r["json"]["text"] for r in reqs if r["path"].endswith("/sendMessage")]
print(max(len(p.encode("utf-16-le")) // 2 for p in parts))
print(" ".join(parts).split() == sys.argv[2].split())' "$TG_LOG" "$text"
	assert_line --index 0 --regexp '^(40[0-9][0-9]|[1-3][0-9]{3})$'
	[ "${lines[0]}" -le 4096 ]
	assert_line --index 1 True
}

@test "a card is sent as Telegram HTML: title linked, summary, fields, escaped" {
	tg_start
	bot-card --title 'Build <7>' --link 'https://ci.example/7' --summary 'main & co' \
		--field 'status=passed' --field 'took=3 min' --to "$TG_CHAT" 'all **green**' |
		bot-send -b telegram >"$d/out"
	run tg_calls sendMessage
	assert_output '{"chat_id":-1001234567890,"text":"<b><a href=\"https://ci.example/7\">Build &lt;7&gt;</a></b>\n<i>main &amp; co</i>\nall <b>green</b>\n<b>status</b>: passed\n<b>took</b>: 3 min","parse_mode":"HTML"}'
	run jq -r .type "$d/out"
	assert_output sent
}

@test "reactions both ways: message_reaction in (added and removed), setMessageReaction out" {
	local r='{"update_id":5,"message_reaction":{"chat":{"id":-1001234567890,"type":"supergroup","title":"Ops"},"message_id":55,"user":{"id":111,"is_bot":false,"first_name":"Al","username":"al"},"date":1700000000,"old_reaction":[{"type":"emoji","emoji":"👎"}],"new_reaction":[{"type":"emoji","emoji":"👍"}]}}'
	tg_start "[$r]"
	start_listen
	wait_for "$d/listen.out" '"removed"'
	run jq -c 'select(.type=="reaction") | [.action, .reaction_name, .emoji, .reactor.id, .reacted_to.id]' "$d/listen.out"
	assert_line --index 0 '["added","👍","👍","-1001234567890/111","-1001234567890:55"]'
	assert_line --index 1 '["removed","👎","👎","-1001234567890/111","-1001234567890:55"]'
	# allowed_updates asked for them
	run bash -c "tg_calls getUpdates | head -1 | jq -c '.allowed_updates | index(\"message_reaction\") != null'"
	assert_output true
	jq -cn '{type:"reaction", reacted_to:{id:"-1001234567890:55"}, reaction_name:"🔥", action:"added"}' |
		bot-send -b telegram >"$d/out"
	run tg_calls setMessageReaction
	assert_output '{"chat_id":-1001234567890,"message_id":55,"reaction":[{"type":"emoji","emoji":"🔥"}]}'
	jq -cn '{type:"reaction", reacted_to:{id:"-1001234567890:55"}, reaction_name:"🔥", action:"removed"}' |
		bot-send -b telegram >>"$d/out"
	run bash -c 'tg_calls setMessageReaction | tail -1'
	assert_output '{"chat_id":-1001234567890,"message_id":55,"reaction":[]}'
	run jq -r .type "$d/out"
	assert_output "$(printf 'sent\nsent')"
	# a Slack name, and an emoji with U+FE0F, as Telegram lists its reactions
	printf '%s\n' '{"type":"reaction","reacted_to":{"id":"-1001234567890:55"},"reaction_name":":fire:"}' \
		'{"type":"reaction","reacted_to":{"id":"-1001234567890:55"},"reaction_name":"❤️"}' |
		bot-send -b telegram >"$d/out"
	run bash -c 'tg_calls setMessageReaction | tail -2 | jq -c .reaction'
	assert_output "$(printf '%s\n' '[{"type":"emoji","emoji":"🔥"}]' '[{"type":"emoji","emoji":"❤"}]')"
}

@test "edits both ways: edited_message in replaces the message, replaces out is editMessageText" {
	local e='{"update_id":3,"edited_message":{"message_id":55,"from":{"id":111,"is_bot":false,"first_name":"Al"},"chat":{"id":111,"type":"private","first_name":"Al"},"date":1700000000,"edit_date":1700000100,"text":"fixed"}}'
	tg_start "[$e]"
	start_listen
	wait_for "$d/listen.out" '"fixed"'
	run jq -c 'select(.type=="message") | [.body, .replaces, .id]' "$d/listen.out"
	assert_output '["fixed","111:55","111:55.e1700000100"]'
	jq -cn '{type:"message", to:"111", replaces:"111:56", body:"now *right*"}' | bot-send -b telegram >"$d/out"
	run tg_calls editMessageText
	assert_output '{"chat_id":111,"text":"now <i>right</i>","parse_mode":"HTML","message_id":56}'
	jq -cn '{type:"delete", to:"111", deletes:"111:56"}' | bot-send -b telegram >>"$d/out"
	run tg_calls deleteMessage
	assert_output '{"chat_id":111,"message_id":56}'
}

@test "files both ways: a document is fetched into the spool, a stream goes out with sendDocument" {
	local doc='{"update_id":8,"message":{"message_id":70,"from":{"id":111,"is_bot":false,"first_name":"Al","username":"al"},"chat":{"id":111,"type":"private"},"date":1700000000,"document":{"file_id":"F1","file_unique_id":"U1","file_name":"../../etc/report.pdf","mime_type":"application/pdf","file_size":11}}}'
	tg_start "[$doc]"
	start_listen
	wait_for "$d/listen.out" '"type":"stream"'
	run jq -c 'select(.type=="stream") | [.name, .stream_type, .size, .status, .identifier.id]' "$d/listen.out"
	assert_output '["../../etc/report.pdf","application/pdf",11,"success","111"]'
	local path
	path=$(jq -r 'select(.type=="stream") | .path' "$d/listen.out")
	# a name we made, in the spool, with the bytes the server had
	[[ $path == "$XDG_STATE_HOME/botpipe/telegram/spool/"*.pdf ]]
	assert_equal "$(cat "$path")" '%PDF-1 fake'
	run tg_calls getFile
	assert_output '{"file_id":"F1"}'
	# out: a file of ours, as multipart
	mkdir -p "$d/out" && printf 'log line\n' >"$d/out/build.log"
	jq -cn --arg p "$d/out/build.log" '{type:"stream", to:"-1001234567890", path:$p, name:"build.log", stream_type:"text/plain"}' |
		bot-send -b telegram --files-from "$d/out" >"$d/sent"
	run jq -r '.type + " " + .id' "$d/sent"
	assert_output --regexp '^sent -1001234567890:[0-9]+$'
	run jq -r 'select(.path | endswith("/sendDocument")) | .headers["content-type"]' "$TG_LOG"
	assert_output --partial 'multipart/form-data'
	run jq -r 'select(.path | endswith("/sendDocument")) | .body' "$TG_LOG"
	assert_output --partial 'name="chat_id"'
	assert_output --partial 'name="document"; filename="build.log"'
	assert_output --partial 'log line'
}

@test "a 429 with parameters.retry_after is waited out, then the message goes" {
	tg_start '[]' '[{"path":"/sendMessage$","status":429,"body":{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 1","parameters":{"retry_after":1}}}]'
	run --separate-stderr bot-send -b telegram --to "$TG_CHAT" 'patience'
	assert_success
	run jq -r 'select(.path | endswith("/sendMessage")) | .t' "$TG_LOG"
	assert_equal "${#lines[@]}" 2
	# the second try came no sooner than the server asked
	run python3 -c 'import sys; print(float(sys.argv[2]) - float(sys.argv[1]) >= 1.0)' "${lines[0]}" "${lines[1]}"
	assert_output True
}

@test "a group that became a supergroup: migrate_to_chat_id is followed" {
	tg_start '[]' '[{"path":"/sendMessage$","status":400,"body":{"ok":false,"error_code":400,"description":"Bad Request: group chat was upgraded to a supergroup chat","parameters":{"migrate_to_chat_id":-1009999}}}]'
	run --separate-stderr bot-send -b telegram --to -4242 'moved?'
	assert_success
	run tg_calls sendMessage
	assert_line --index 0 --partial '"chat_id":-4242,'
	assert_line --index 1 --partial '"chat_id":-1009999,'
}

@test "HTML Telegram cannot parse is sent again as plain text" {
	tg_start '[]' '[{"path":"/sendMessage$","status":400,"body":{"ok":false,"error_code":400,"description":"Bad Request: can'"'"'t parse entities: unexpected end tag"}}]'
	run --separate-stderr bot-send -b telegram --to "$TG_CHAT" 'a **b** & c'
	assert_success
	run tg_calls sendMessage
	assert_line --index 1 '{"chat_id":-1001234567890,"text":"a b & c"}'
}

@test "a bad token: bot-listen and bot-send exit 77 after one attempt, token unshown" {
	tg_start '[]' '[{"path":"/getMe$","status":401,"body":{"ok":false,"error_code":401,"description":"Unauthorized"}},
	               {"path":"/sendMessage$","status":401,"body":{"ok":false,"error_code":401,"description":"Unauthorized"}}]'
	run --separate-stderr timeout 10 bot-listen -b telegram --session none -v
	assert_failure 77
	assert_equal "$(tg_calls getMe | wc -l)" 1
	[[ $stderr != *"$TG_TOKEN"* && $output != *"$TG_TOKEN"* ]]
	[[ $stderr != *AAHs3cr3t* ]]
	run --separate-stderr bot-send -b telegram --to "$TG_CHAT" -v x
	assert_failure 77
	assert_equal "$(tg_calls sendMessage | wc -l)" 1
	[[ $stderr != *AAHs3cr3t* && $output != *AAHs3cr3t* ]]
}

@test "the token is in no output, error event, -v log or ps" {
	tg_start '[]' '[{"path":"/sendMessage$","status":400,"body":{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}}]'
	# an error event, with -v and libcurl's trace (-v -v)
	run --separate-stderr bash -c "jq -cn '{type:\"message\",to:\"-1\",body:\"x\"}' | bot-send -b telegram -v -v"
	run jq -r .type <<<"$output"
	assert_output error
	[[ $output != *AAHs3cr3t* ]]
	[[ $stderr != *AAHs3cr3t* ]]
	[[ $stderr == *"/…"* || $stderr == *"127.0.0.1"* || -z $stderr ]]
	# a running bot-listen, with -v: nothing in its argv or output
	start_listen -v -v
	wait_calls getUpdates 2
	run ps -ww -o args= -p "$LPID"
	assert_output --partial bot-listen
	refute_output --partial AAHs3cr3t
	run grep -c AAHs3cr3t "$d/listen.out" "$d/listen.err"
	assert_output "$(printf '%s:0\n%s:0' "$d/listen.out" "$d/listen.err")"
}

@test "kill -9 of bot-listen: what was written is not read again, what was not is read after" {
	tg_start "[$(tg_update 1 "$TG_CHAT" one)]"
	start_listen
	wait_for "$d/listen.out" '"body":"one"'
	# the next poll confirms it: offset 2, and the cursor is kept
	for _ in $(seq 100); do tg_calls getUpdates | grep -q '"offset":2' && break; sleep 0.05; done
	assert_equal "$(cat "$XDG_STATE_HOME/botpipe/telegram/cursor")" 2
	kill -9 "$LPID"; wait "$LPID" 2>/dev/null || true; LPID=
	tg_push "$(tg_update 2 "$TG_CHAT" two)" "$(tg_update 3 "$TG_CHAT" three)"
	start_listen
	wait_for "$d/listen.out" '"body":"three"'
	run jq -r 'select(.type=="message") | .body' "$d/listen.out"
	assert_output "$(printf 'one\ntwo\nthree')"
	# read again after a kill: not marked delayed (they are minutes old at most)
	run jq -r 'select(.type=="message") | .delayed // false' "$d/listen.out"
	refute_output --partial true
}

@test "a restart of the fake: the cursor carries on, nothing lost or twice" {
	local u1 u2 u3
	u1=$(tg_update 1 "$TG_CHAT" one) u2=$(tg_update 2 "$TG_CHAT" two) u3=$(tg_update 3 "$TG_CHAT" three)
	tg_start "[$u1]"
	start_listen
	wait_for "$d/listen.out" '"body":"one"'
	for _ in $(seq 100); do tg_calls getUpdates | grep -q '"offset":2' && break; sleep 0.05; done
	tg_stop
	# the same port, the server still holding every update (it was not told)
	tg_start "[$u1,$u2]"
	wait_for "$d/listen.out" '"body":"two"' 30
	tg_push "$u3"
	wait_for "$d/listen.out" '"body":"three"'
	run jq -r 'select(.type=="message") | .body' "$d/listen.out"
	assert_output "$(printf 'one\ntwo\nthree')"
	run jq -r 'select(.type=="connection") | .state' "$d/listen.out"
	assert_line disconnected
}

@test "the backlog at start is marked delayed and not dispatched" {
	local old
	old=$(tg_update 1 "$TG_CHAT" '!echo stale' | jq -c '.message.date = 1700000000')
	tg_start "[$old]"
	start_bot
	wait_for "$d/events" '"delayed":true'
	tg_push "$(tg_update 2 "$TG_CHAT" '!echo fresh')"
	wait_calls sendMessage
	run tg_calls sendMessage
	assert_output --partial '"text":"@al: fresh"'
	refute_output --partial stale
}

@test "joins and leaves, and the bot added to a group, are room events" {
	local j='{"update_id":4,"message":{"message_id":60,"from":{"id":111,"is_bot":false,"first_name":"Al"},"chat":{"id":-1001234567890,"type":"supergroup","title":"Ops"},"date":1700000000,"new_chat_members":[{"id":333,"is_bot":false,"first_name":"Cy","username":"cy"}]}}'
	local l='{"update_id":5,"message":{"message_id":61,"from":{"id":333,"is_bot":false,"first_name":"Cy"},"chat":{"id":-1001234567890,"type":"supergroup","title":"Ops"},"date":1700000000,"left_chat_member":{"id":333,"is_bot":false,"first_name":"Cy","username":"cy"}}}'
	local m='{"update_id":6,"my_chat_member":{"chat":{"id":-1005,"type":"group","title":"New"},"from":{"id":111,"is_bot":false,"first_name":"Al"},"date":1700000000,"old_chat_member":{"status":"left","user":{"id":4242,"is_bot":true,"first_name":"Botpipe"}},"new_chat_member":{"status":"member","user":{"id":4242,"is_bot":true,"first_name":"Botpipe"}}}}'
	tg_start "[$j,$l,$m]"
	start_listen
	wait_for "$d/listen.out" '"-1005"'
	run jq -c 'select(.type=="room") | [.action, .room.id, .occupant.id]' "$d/listen.out"
	assert_output "$(printf '%s\n' '["joined","-1001234567890","-1001234567890/333"]' \
		'["left","-1001234567890","-1001234567890/333"]' '["joined","-1005","-1005/4242"]')"
}

@test "bot-room: info from getChat and getChatMember, topic, occupants (admins only), leave" {
	tg_start
	run --separate-stderr bot-room -b telegram --json info -- "$TG_CHAT"
	assert_success
	run jq -c '[.exists, .joined, .topic, .title]' <<<"$output"
	assert_output '[true,true,"the ops room","Ops"]'
	run bash -c 'tg_calls getChatMember'
	assert_output '{"chat_id":-1001234567890,"user_id":4242}'
	run --separate-stderr bot-room -b telegram --json topic -- "$TG_CHAT" 'new topic'
	assert_success
	run tg_calls setChatDescription
	assert_output '{"chat_id":-1001234567890,"description":"new topic"}'
	run --separate-stderr bot-room -b telegram --json occupants -- "$TG_CHAT"
	assert_success
	run jq -c '[.occupants[].id, .partial]' <<<"$output"
	assert_output '["-1001234567890/111",true]'
	run --separate-stderr bot-room -b telegram --json leave -- "$TG_CHAT"
	assert_success
	run tg_calls leaveChat
	assert_output '{"chat_id":-1001234567890}'
	run --separate-stderr bot-room -b telegram join -- "$TG_CHAT"
	assert_failure 69
	assert_equal "$stderr" "bot-room: error: unsupported: Telegram bots cannot join a chat (a member adds the bot; see botpipe-backends(7))"
}

@test "bot-room info of a chat the bot is not in: room_does_not_exist" {
	tg_start '[]' '[{"path":"/getChat$","status":400,"body":{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}}]'
	run --separate-stderr bot-room -b telegram info -- -100777
	assert_failure 80
}

@test "through a running bot-listen's session: bot-send --to answers from its connection" {
	tg_start
	bot-listen -b telegram --telegram-poll-timeout 2 >"$d/listen.out" 2>"$d/listen.err" 3>&- &
	LPID=$!
	wait_for "$d/listen.out" '"connected"'
	# with another token of its own: the request carries bot-listen's
	run --separate-stderr env BOT_TELEGRAM_TOKEN=999:other bot-send -b telegram --to "$TG_CHAT" 'via the session'
	assert_success
	run tg_calls sendMessage
	assert_output --partial '"text":"via the session"'
	run grep -c /bot999: "$TG_LOG"
	assert_output 0
}

@test "a 409 (a webhook is set, or another poller) is a configuration error: 78, once" {
	tg_start '[]' '[{"path":"/getUpdates$","status":409,"body":{"ok":false,"error_code":409,"description":"Conflict: can'"'"'t use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"}}]'
	run --separate-stderr timeout 10 bot-listen -b telegram --session none
	assert_failure 78
	assert_equal "$(tg_calls getUpdates | wc -l)" 1
	[[ $stderr == *deleteWebhook* ]]
}

@test "a file larger than --telegram-file-max is not fetched: its stream event says error" {
	local doc='{"update_id":8,"message":{"message_id":70,"from":{"id":111,"is_bot":false,"first_name":"Al"},"chat":{"id":111,"type":"private"},"date":1700000000,"document":{"file_id":"F1","file_unique_id":"U1","file_name":"big.iso","file_size":5000}}}'
	tg_start "[$doc]"
	start_listen --telegram-file-max 4096
	wait_for "$d/listen.out" '"type":"stream"'
	run jq -c 'select(.type=="stream") | [.name, .status, .size, .path]' "$d/listen.out"
	assert_output '["big.iso","error",5000,null]'
	assert_equal "$(tg_calls getFile | wc -l)" 0
}

@test "a 429 on getUpdates: bot-listen waits parameters.retry_after before it polls again" {
	tg_start "[$(tg_update 1 "$TG_CHAT" after)]" '[{"path":"/getUpdates$","status":429,"body":{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 3","parameters":{"retry_after":3}}}]'
	start_listen
	wait_for "$d/listen.out" '"body":"after"' 20
	run jq -c 'select(.type=="connection" and .state=="disconnected") | .retry_in >= 3' "$d/listen.out"
	assert_output true
	run jq -r 'select(.path | endswith("/getUpdates")) | .t' "$TG_LOG"
	run python3 -c 'import sys; print(float(sys.argv[2]) - float(sys.argv[1]) >= 3.0)' "${lines[0]}" "${lines[1]}"
	assert_output True
}

@test "a PNG goes out with sendPhoto; a reply to another chat's message names that chat" {
	tg_start
	mkdir -p "$d/out" && printf '\x89PNG\r\n\x1a\nfake' >"$d/out/graph.png"
	jq -cn --arg p "$d/out/graph.png" '{type:"stream", to:"111", path:$p, name:"graph.png", stream_type:"image/png", size:12}' |
		bot-send -b telegram --files-from "$d/out" >"$d/sent"
	run jq -r .type "$d/sent"
	assert_output sent
	run jq -r 'select(.path | endswith("/sendPhoto")) | .body' "$TG_LOG"
	assert_output --partial 'name="photo"; filename="graph.png"'
	assert_output --partial 'Content-Type: image/png'
	jq -cn '{type:"message", to:"111", parent:{id:"-1001234567890:40"}, body:"seen"}' | bot-send -b telegram >"$d/sent"
	run tg_calls sendMessage
	assert_output '{"chat_id":111,"text":"seen","parse_mode":"HTML","reply_parameters":{"message_id":40,"allow_sending_without_reply":true,"chat_id":-1001234567890}}'
}
