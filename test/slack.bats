#!/usr/bin/env bats
# The slack backend against Slack's two sides faked on loopback
# (test/helpers/slack-fake.bash): Socket Mode in, the Web API out.

load helpers/common
load helpers/slack-fake

setup() {
	W=$BATS_TEST_TMPDIR SW=$BATS_TEST_TMPDIR LPID=
	export XDG_STATE_HOME=$W/state XDG_RUNTIME_DIR=$W/run
	mkdir -p "$XDG_STATE_HOME" "$XDG_RUNTIME_DIR"
}

teardown() {
	[ -z "$LPID" ] || { kill "$LPID" 2>/dev/null; wait "$LPID" 2>/dev/null || true; }
	slack_stop
}

# bot-listen -b slack in the background, its events in $W/out, stderr $W/err.
listen() {
	bot-listen -b slack --session none "$@" > "$W/out" 2> "$W/err" &
	LPID=$!
}
stop_listen() { kill "$LPID"; wait "$LPID" || true; LPID=; }

@test "one-shot bot-send --to '#ops' posts chat.postMessage with the bot token" {
	slack_ws_start '[]'
	slack_api_start
	run --separate-stderr bot-send -b slack --to '#ops' 'deploy **done**'
	assert_success
	run jq -c '.id' <<< "$output"
	assert_output '"C0123:1700000001.1"'
	run api_bodies chat.postMessage
	assert_output '{"channel":"#ops","text":"deploy *done*"}'
	run jq -r 'select(.path | endswith("chat.postMessage")) | .headers.authorization' "$SW/api.ndjson"
	assert_output "Bearer $SLACK_BOT_TOKEN"
}

@test "a message in a thread: the reply in the thread with a live mention, the envelope acknowledged" {
	ev=$(chan_msg '!echo hi' U0456 1700000000.000200 | jq -c '.thread_ts = "1699999999.000050"')
	slack_ws_start "$(connections "$(conn "$(hello)" "$(envelope e1 Ev1 "$ev")")")"
	slack_api_start
	mkfifo "$W/fifo"
	bot-listen -b slack --session none > "$W/fifo" 2> "$W/err" &
	LPID=$!
	bot-dispatch < "$W/fifo" 2> "$W/disp.err" | bot-send -b slack > "$W/sent" 2> "$W/send.err" &
	wait_for "$SW/api.ndjson" 'chat.postMessage'
	run api_bodies chat.postMessage
	assert_output '{"channel":"C0123","text":"<@U0456>: hi","thread_ts":"1699999999.000050"}'
	run ws_acks
	assert_output e1
	wait_for "$W/sent" '"sent"'
	stop_listen
	run jq -c '[.type, .id, .ref]' "$W/sent"
	assert_output '["sent","C0123:1700000001.3","C0123:1700000000.000200.reply"]'
}

@test "an event, its fields: ids as strings, the user id as identity, mrkdwn as markdown" {
	ev=$(chan_msg 'see <https://x.example/a|the doc> &amp; ask <@U0999>' U0456 1700000000.000300)
	slack_ws_start "$(connections "$(conn "$(hello)" "$(envelope e1 Ev1 "$ev")")")"
	slack_api_start
	listen
	wait_for "$W/out" '"message"'
	stop_listen
	run jq -c 'select(.type == "message") | [.id, .from.id, .from.person, .to.id, .body, .extras.ts, .is_group]' "$W/out"
	assert_output '["C0123:1700000000.000300","#C0123/U0456","@U0456","#C0123","see [the doc](https://x.example/a) & ask @U0999","1700000000.000300",true]'
}

@test "a redelivered envelope (retry_attempt 1) is dispatched once; every envelope is acknowledged" {
	m1=$(chan_msg one) m2=$(chan_msg two U0456 1700000000.000900)
	slack_ws_start "$(connections "$(conn "$(hello)" "$(envelope e1 Ev1 "$m1")" \
		"$(envelope e2 Ev1 "$m1" 1)" "$(envelope e3 Ev2 "$m2")")")"
	slack_api_start
	listen
	wait_for "$W/out" '"two"'
	for _ in $(seq 50); do [ "$(ws_acks | wc -l)" -ge 3 ] && break; sleep 0.1; done
	stop_listen
	run bodies < "$W/out"
	assert_output $'one\ntwo'
	run ws_acks
	assert_output $'e1\ne2\ne3'
}

@test "refresh_requested: the new socket says hello before the old one closes; nothing lost or twice" {
	slack_ws_start "$(connections \
		"$(conn "$(hello)" "$(envelope e1 Ev1 "$(chan_msg one)")" "$(disconnect refresh_requested)")" \
		"$(conn "$(hello)" "$(envelope e2 Ev2 "$(chan_msg two U0456 1700000000.000900)")")")"
	slack_api_start
	listen
	wait_for "$W/out" '"two"'
	wait_for "$SW/ws.ndjson" '"conn": 1, "event": "closed"'
	stop_listen
	run bodies < "$W/out"
	assert_output $'one\ntwo'
	# the order on the fake's side: conn 2 opened, then conn 1 closed
	run jq -r 'select(.event == "open" or .event == "closed") | "\(.conn) \(.event)"' "$SW/ws.ndjson"
	assert_line --index 0 '1 open'
	assert_line --index 1 '2 open'
	assert_line --index 2 '1 closed'
	# one connection all along, as far as the bot is concerned
	run jq -r 'select(.type == "connection") | .state' "$W/out"
	assert_output $'connecting\nconnected'
	run ws_acks
	assert_output $'e1\ne2'
}

@test "a dropped socket: disconnected, reconnected, no event lost or twice" {
	slack_ws_start "$(connections \
		"$(conn "$(hello)" "$(envelope e1 Ev1 "$(chan_msg one)")" '{"recv": 1}' '{"drop": true}')" \
		"$(conn "$(hello)" "$(envelope e2 Ev1 "$(chan_msg one)" 1)" "$(envelope e3 Ev2 "$(chan_msg two U0456 1700000000.000900)")")")"
	slack_api_start
	listen
	wait_for "$W/out" '"two"'
	stop_listen
	run bodies < "$W/out"
	assert_output $'one\ntwo'
	run jq -r 'select(.type == "connection") | .state' "$W/out"
	assert_output $'connecting\nconnected\ndisconnected\nconnecting\nconnected'
}

@test "a silent socket is noticed by the ping timeout (twice --slack-ping) and replaced" {
	slack_ws_start "$(connections "$(conn "$(hello)" '{"silence": true}')" \
		"$(conn "$(hello)" "$(envelope e2 Ev2 "$(chan_msg after)")")")"
	slack_api_start
	listen --slack-ping 1
	wait_for "$W/out" '"after"' 10
	stop_listen
	run jq -r 'select(.type == "connection") | .state' "$W/out"
	assert_output $'connecting\nconnected\ndisconnected\nconnecting\nconnected'
	run grep -c ping "$W/err"
	assert_output 1
	# the bound botpipe-backends(7) states: dead within twice --slack-ping
	# (2 s), then bot-listen's first backoff (1 s + up to 3 s of jitter)
	run jq -s '[.[] | select(.event == "open") | .t] | .[1] - .[0] < 2 + 4 + 1' "$SW/ws.ndjson"
	assert_output true
}

@test "a bad bot token ends bot-listen with 77 after one attempt, no reconnect loop" {
	slack_ws_start '[]'
	slack_api_start '[{"path": "/auth.test$", "body": {"ok": false, "error": "invalid_auth"}}]'
	run -77 --separate-stderr timeout 10 bot-listen -b slack --session none
	assert_equal "$(api_count auth.test)" 1
	assert_equal "$(api_count apps.connections.open)" 0
	assert_output --partial '"disconnected"'
	[[ "$stderr" == *invalid_auth* ]]
}

@test "a bad app token ends bot-listen with 77 too" {
	slack_ws_start '[]'
	slack_api_start '[{"path": "/apps.connections.open$", "body": {"ok": false, "error": "invalid_auth"}}]'
	run -77 --separate-stderr timeout 10 bot-listen -b slack --session none
	assert_equal "$(api_count apps.connections.open)" 1
	run jq -r 'select(.path | endswith("apps.connections.open")) | .headers.authorization' "$SW/api.ndjson"
	assert_output "Bearer $SLACK_APP_TOKEN"
}

@test "a card is one native attachment: colour, title, link, fields, the body in mrkdwn" {
	slack_ws_start '[]'
	slack_api_start
	run --separate-stderr bot-send -b slack <<< '{"type":"card","to":"#C0123","summary":"S","title":"T","link":"https://x.example/","body":"**b**","color":"red","fields":[["k","v"]]}'
	assert_success
	run api_bodies chat.postMessage
	assert_output '{"channel":"C0123","text":"S","attachments":[{"text":"*b*","pretext":"S","title":"T","title_link":"https://x.example/","color":"#FF0000","fields":[{"title":"k","value":"v","short":true}],"fallback":"S"}]}'
}

@test "a long reply is cut at 4,000 characters, the parts in order" {
	slack_ws_start '[]'
	slack_api_start
	body=$(for i in $(seq 1 900); do printf 'w%04d ' "$i"; done)
	run --separate-stderr bot-send -b slack --to '#C0123' "$body"
	assert_success
	run api_count chat.postMessage
	assert_output 2
	run jq -r 'select(.path | endswith("chat.postMessage")) | .json.text | length <= 4000' "$SW/api.ndjson"
	assert_output $'true\ntrue'
	run bash -c "jq -r 'select(.path | endswith(\"chat.postMessage\")) | .json.text' '$SW/api.ndjson' | tr -s ' \n' '  '"
	assert_output "${body% } "
}

@test "out: a reaction (added and removed), an edit, a delete; already_reacted counts as done" {
	slack_ws_start '[]'
	slack_api_start '[{"path": "/reactions.add$", "body": {"ok": false, "error": "already_reacted"}}]'
	# the emoji itself (a bridge's from Telegram), and Zulip's name of 😄, become Slack's names
	run --separate-stderr bot-send -b slack <<-'EOF2'
	{"type":"reaction","reacted_to":{"id":"C0123:1700000000.000100"},"reaction_name":":thumbsup:","action":"added"}
	{"type":"reaction","reacted_to":{"id":"C0123:1700000000.000100"},"reaction_name":"thumbsup","action":"removed"}
	{"type":"reaction","reacted_to":{"id":"C0123:1700000000.000100"},"reaction_name":"🎉","action":"added"}
	{"type":"reaction","reacted_to":{"id":"C0123:1700000000.000100"},"reaction_name":"big_smile","action":"added"}
	{"type":"message","to":"#C0123","body":"new *text*","replaces":"C0123:1700000000.000100"}
	{"type":"delete","to":"#C0123","deletes":"C0123:1700000000.000100"}
	EOF2
	assert_success
	run jq -r .type <<< "$output"
	assert_output $'sent\nsent\nsent\nsent\nsent\nsent'
	run jq -c 'select(.path | test("reactions|chat")) | [(.path | sub(".*/"; "")), .json]' "$SW/api.ndjson"
	assert_output - <<-'EOF2'
	["reactions.add",{"channel":"C0123","timestamp":"1700000000.000100","name":"thumbsup"}]
	["reactions.remove",{"channel":"C0123","timestamp":"1700000000.000100","name":"thumbsup"}]
	["reactions.add",{"channel":"C0123","timestamp":"1700000000.000100","name":"tada"}]
	["reactions.add",{"channel":"C0123","timestamp":"1700000000.000100","name":"smile"}]
	["chat.update",{"channel":"C0123","text":"new _text_","ts":"1700000000.000100"}]
	["chat.delete",{"channel":"C0123","ts":"1700000000.000100"}]
	EOF2
}

@test "in: an edit replaces, a delete, reactions, joins and leaves, a topic" {
	edit='{"type":"message","subtype":"message_changed","channel":"C0123","channel_type":"channel","ts":"1700000005.000100","event_ts":"1700000005.000100","message":{"type":"message","user":"U0456","text":"fixed","ts":"1700000000.000100","edited":{"user":"U0456","ts":"1700000005.000000"}},"previous_message":{"type":"message","user":"U0456","text":"fxied","ts":"1700000000.000100"}}'
	unfurl='{"type":"message","subtype":"message_changed","channel":"C0123","ts":"1700000006.000100","message":{"user":"U0456","text":"fixed","ts":"1700000000.000100","attachments":[{}]},"previous_message":{"user":"U0456","text":"fixed","ts":"1700000000.000100"}}'
	del='{"type":"message","subtype":"message_deleted","channel":"C0123","ts":"1700000007.000100","deleted_ts":"1700000000.000100","previous_message":{"user":"U0456","text":"fixed","ts":"1700000000.000100"}}'
	react='{"type":"reaction_added","user":"U0777","reaction":"thumbsup","item_user":"U0456","item":{"type":"message","channel":"C0123","ts":"1700000000.000100"},"event_ts":"1700000008.000100"}'
	unreact='{"type":"reaction_removed","user":"U0777","reaction":"thumbsup","item_user":"U0456","item":{"type":"message","channel":"C0123","ts":"1700000000.000100"},"event_ts":"1700000009.000100"}'
	join='{"type":"member_joined_channel","user":"U0888","channel":"C0123","channel_type":"C","team":"T1"}'
	leave='{"type":"member_left_channel","user":"U0888","channel":"C0123","channel_type":"C","team":"T1"}'
	topic='{"type":"message","subtype":"channel_topic","channel":"C0123","user":"U0456","topic":"release at noon","text":"set the channel topic: release at noon","ts":"1700000010.000100"}'
	own='{"type":"reaction_added","user":"UBOT","reaction":"eyes","item":{"type":"message","channel":"C0123","ts":"1700000000.000100"},"event_ts":"1700000011.000100"}'
	slack_ws_start "$(connections "$(conn "$(hello)" "$(envelope e1 Ev1 "$edit")" "$(envelope e2 Ev2 "$unfurl")" \
		"$(envelope e3 Ev3 "$del")" "$(envelope e4 Ev4 "$react")" "$(envelope e5 Ev5 "$unreact")" \
		"$(envelope e6 Ev6 "$join")" "$(envelope e7 Ev7 "$leave")" "$(envelope e8 Ev8 "$own")" \
		"$(envelope e9 Ev9 "$topic")")")"
	slack_api_start
	listen
	wait_for "$W/out" 'release at noon'
	for _ in $(seq 50); do [ "$(ws_acks | wc -l)" -ge 9 ] && break; sleep 0.1; done
	stop_listen
	run jq -c 'select(.type != "connection") | del(.backend, .is_direct, .is_group, .is_threaded, .extras)' "$W/out"
	assert_output - <<-'EOF2'
	{"type":"message","from":{"kind":"occupant","id":"#C0123/U0456","room":"#C0123","nick":"U0456","person":"@U0456"},"to":{"kind":"room","id":"#C0123"},"body":"fixed","id":"C0123:1700000005.000100:edit","replaces":"C0123:1700000000.000100"}
	{"type":"delete","to":{"kind":"room","id":"#C0123"},"deletes":"C0123:1700000000.000100"}
	{"type":"reaction","reactor":{"kind":"person","id":"@U0777","person":"@U0777","nick":"U0777"},"action":"added","reaction_name":"thumbsup","reacted_to":{"id":"C0123:1700000000.000100","to":{"kind":"room","id":"#C0123"},"from":{"kind":"occupant","id":"#C0123/U0456","room":"#C0123","nick":"U0456","person":"@U0456"}},"reacted_to_owner":{"kind":"occupant","id":"#C0123/U0456","room":"#C0123","nick":"U0456","person":"@U0456"},"timestamp":"1700000008.000100","emoji":"👍"}
	{"type":"reaction","reactor":{"kind":"person","id":"@U0777","person":"@U0777","nick":"U0777"},"action":"removed","reaction_name":"thumbsup","reacted_to":{"id":"C0123:1700000000.000100","to":{"kind":"room","id":"#C0123"},"from":{"kind":"occupant","id":"#C0123/U0456","room":"#C0123","nick":"U0456","person":"@U0456"}},"reacted_to_owner":{"kind":"occupant","id":"#C0123/U0456","room":"#C0123","nick":"U0456","person":"@U0456"},"timestamp":"1700000009.000100","emoji":"👍"}
	{"type":"room","action":"joined","room":{"kind":"room","id":"#C0123"},"occupant":{"kind":"occupant","id":"#C0123/U0888","room":"#C0123","nick":"U0888","person":"@U0888"}}
	{"type":"room","action":"left","room":{"kind":"room","id":"#C0123"},"occupant":{"kind":"occupant","id":"#C0123/U0888","room":"#C0123","nick":"U0888","person":"@U0888"}}
	{"type":"room","action":"topic","room":{"kind":"room","id":"#C0123"},"topic":"release at noon","occupant":{"kind":"occupant","id":"#C0123/U0456","room":"#C0123","nick":"U0456","person":"@U0456"}}
	EOF2
	run ws_acks
	assert_output "$(printf 'e%s\n' 1 2 3 4 5 6 7 8 9)"
}

@test "a file in: files.info, downloaded with the bot token into the spool, a stream event after its message" {
	share='{"type":"message","subtype":"file_share","channel":"C0123","channel_type":"channel","user":"U0456","text":"the report","ts":"1700000000.000400","files":[{"id":"F0111","name":"../../etc/report.txt","mimetype":"text/plain","size":11}]}'
	after=$(chan_msg after U0456 1700000000.000500)
	slack_ws_start "$(connections "$(conn "$(hello)" "$(envelope e1 Ev1 "$share")" "$(envelope e2 Ev2 "$after")")")"
	# files.info names a download on the fake itself ("SELF": the API's origin)
	slack_api_start "$(jq -cn '[{path: "/files.info", delay: 0.5, body: {ok: true, file: {id: "F0111", name: "../../etc/report.txt", mimetype: "text/plain", size: 11, url_private_download: "SELF/files-pri/T1-F0111/download/report.txt"}}}, {path: "/files-pri/", body: "hello file\n"}]')"
	listen
	wait_for "$W/out" '"after"'
	stop_listen
	run jq -r 'select(.type != "connection") | .type' "$W/out"
	assert_output $'message\nstream\nmessage'
	path=$(jq -r 'select(.type == "stream") | .path' "$W/out")
	[[ "$path" == "$XDG_STATE_HOME/botpipe/slack/spool/"*.txt ]]
	run cat "$path"
	assert_output 'hello file'
	run jq -c 'select(.type == "stream") | [.name, .stream_type, .size, .status, .identifier.person]' "$W/out"
	assert_output '["../../etc/report.txt","text/plain",11,"success","@U0456"]'
	run jq -r 'select(.path | contains("files-pri")) | .headers.authorization' "$SW/api.ndjson"
	assert_output "Bearer $SLACK_BOT_TOKEN"
	run jq -r 'select(.path | contains("files.info")) | .path' "$SW/api.ndjson"
	assert_output '/api/files.info?file=F0111'
}

@test "a file out: files.getUploadURLExternal, the upload, files.completeUploadExternal to the channel" {
	slack_ws_start '[]'
	slack_api_start "$(jq -cn '[{path: "/files.getUploadURLExternal", body: {ok: true, upload_url: "SELF/upload/v1/abc", file_id: "F0222"}},
		{path: "/upload/v1/abc", body: "OK - 5"},
		{path: "/files.completeUploadExternal", body: {ok: true, files: [{id: "F0222", title: "notes"}]}}]')"
	mkdir "$W/out-files"
	printf 'hello' > "$W/out-files/notes.txt"
	run --separate-stderr bot-send -b slack --files-from "$W/out-files" <<< "{\"type\":\"stream\",\"to\":\"#C0123\",\"path\":\"$W/out-files/notes.txt\",\"name\":\"notes\"}"
	assert_success
	run jq -c '[.type, .id]' <<< "$output"
	assert_output '["sent","C0123:F0222"]'
	run jq -r 'select(.path | contains("getUploadURLExternal")) | .path' "$SW/api.ndjson"
	assert_output '/api/files.getUploadURLExternal?filename=notes&length=5'
	run jq -r 'select(.path == "/upload/v1/abc") | .body' "$SW/api.ndjson"
	assert_output --partial 'filename="notes.txt"'
	assert_output --partial 'hello'
	run api_bodies files.completeUploadExternal
	assert_output '{"files":[{"id":"F0222","title":"notes"}],"channel_id":"C0123"}'
}

@test "rate limits: a 429's Retry-After is waited for; ok:false ratelimited and internal_error are retried" {
	slack_ws_start '[]'
	slack_api_start '[{"path": "/chat.postMessage$", "status": 429, "headers": {"Retry-After": "1"}, "body": {"ok": false, "error": "ratelimited"}},
		{"path": "/chat.postMessage$", "body": {"ok": false, "error": "internal_error"}}]'
	run --separate-stderr bot-send -b slack --to '#C0123' hi
	assert_success
	run jq -r 'select(.path | endswith("chat.postMessage")) | .answer.status' "$SW/api.ndjson"
	assert_output $'429\n200\n200'
	run jq -s '[.[] | select(.path | endswith("chat.postMessage")) | .t] | .[1] - .[0] >= 1' "$SW/api.ndjson"
	assert_output true
}

@test "ok:false errors: channel_not_found exits 80, not_in_channel 79, missing_scope 77, each after one request" {
	slack_ws_start '[]'
	slack_api_start '[{"path": "/chat.postMessage$", "body": {"ok": false, "error": "channel_not_found"}},
		{"path": "/chat.postMessage$", "body": {"ok": false, "error": "not_in_channel"}},
		{"path": "/chat.postMessage$", "body": {"ok": false, "error": "missing_scope", "needed": "chat:write"}}]'
	run -80 --separate-stderr bot-send -b slack --to '#nope' hi
	[[ "$stderr" == *channel_not_found* ]]
	run -79 --separate-stderr bot-send -b slack --to '#C0999' hi
	run -77 --separate-stderr bot-send -b slack --to '#C0999' hi
	assert_equal "$(api_count chat.postMessage)" 3
}

@test "kill -9 of bot-listen and a restart of the fake: nothing lost, nothing twice" {
	m1=$(chan_msg one) m2=$(chan_msg two U0456 1700000000.000900) m3=$(chan_msg three U0456 1700000000.001000)
	# the first fake delivers one and two; the second, as Slack would for
	# an envelope whose acknowledgement it did not see, two again, and three
	slack_ws_start "$(connections "$(conn "$(hello)" "$(envelope e1 Ev1 "$m1")" "$(envelope e2 Ev2 "$m2")")")"
	slack_api_start
	listen
	wait_for "$W/out" '"two"'
	for _ in $(seq 50); do [ "$(ws_acks | wc -l)" -ge 2 ] && break; sleep 0.1; done
	kill -9 "$LPID"; wait "$LPID" || true; LPID=
	mv "$W/out" "$W/out1"
	slack_stop
	slack_ws_start "$(connections "$(conn "$(hello)" "$(envelope e2b Ev2 "$m2" 1)" "$(envelope e3 Ev3 "$m3")")")"
	slack_api_start
	listen
	wait_for "$W/out" '"three"'
	stop_listen
	run bodies < <(cat "$W/out1" "$W/out")
	assert_output $'one\ntwo\nthree'
	run ws_acks   # the second fake's log: the redelivery is acknowledged too
	assert_output $'e2b\ne3'
}

@test "while stdout's reader is stopped every envelope is still acknowledged, and nothing is lost" {
	big=$(head -c 3000 /dev/zero | tr '\0' x)
	acts=("$(hello)")
	for i in $(seq 1 60); do
		acts+=("$(envelope "e$i" "Ev$i" "$(chan_msg "$i $big" U0456 "1700000000.$(printf %06d "$i")")")")
	done
	slack_ws_start "$(printf '%s\n' "${acts[@]}" | jq -cs '[{actions: .}]')"
	slack_api_start
	mkfifo "$W/fifo"
	exec 8<> "$W/fifo"   # holds the pipe open, reads nothing for now
	bot-listen -b slack --session none > "$W/fifo" 2> "$W/err" 8<&- &
	LPID=$!
	# 180 KB of events: past the pipe's 64 KB, so most wait in bot-listen
	for _ in $(seq 100); do [ "$(ws_acks | wc -l)" -ge 60 ] && break; sleep 0.1; done
	run ws_acks
	assert_equal "${#lines[@]}" 60
	timeout 10 cat <&8 > "$W/out" &
	reader=$!
	for _ in $(seq 100); do [ "$(grep -c '"message"' "$W/out")" -ge 60 ] && break; sleep 0.1; done
	stop_listen
	exec 8<&-
	wait "$reader" || true
	run jq -r 'select(.type == "message") | .body | split(" ")[0]' "$W/out"
	assert_output "$(seq 1 60)"
}

@test "the tokens and the socket's ticket are in no output, event, -vv log or ps" {
	slack_ws_start "$(connections "$(conn "$(hello)" "$(envelope e1 Ev1 "$(chan_msg "!echo $SLACK_BOT_TOKEN")")")")"
	slack_api_start
	bot-listen -b slack --session none -v -v > "$W/out" 2> "$W/err" &
	LPID=$!
	wait_for "$W/out" '"message"'
	# (under VALGRIND=1 the line starts with the valgrind wrapper)
	run bash -c 'ps -eo args | grep -E "(^|/)bot-listen -b slack" | grep -F -e s3cret'
	assert_failure
	ps -eo args | grep -Eq "(^|/)bot-listen -b slack"
	stop_listen
	bot-send -b slack -v -v --to '#C0123' "a $SLACK_APP_TOKEN" > "$W/sent" 2> "$W/send.err"
	for f in "$W/out" "$W/err" "$W/sent" "$W/send.err"; do
		run grep -F -e "$SLACK_BOT_TOKEN" -e "$SLACK_APP_TOKEN" -e t1ck3t "$f"
		assert_failure
	done
	grep -q . "$W/err"   # it did log
}

# A running bot-listen with its session socket, left in SOCK.
listen_with_session() {
	bot-listen -b slack > "$W/out" 2> "$W/err" &
	LPID=$!
	wait_for "$W/out" '"connected"'
	local i=0
	until SOCK=$(ls "$XDG_RUNTIME_DIR"/botpipe/slack*.sock 2>/dev/null) && [ -S "$SOCK" ]; do
		i=$((i + 1))
		[ $i -lt 40 ] || { echo "no session socket" >&2; return 1; }
		sleep 0.05
	done
}

@test "bot-send and bot-room through a running bot-listen's session (with no network of their own)" {
	unshare -rn true 2>/dev/null || skip "no network namespaces here"
	slack_ws_start "$(connections "$(conn "$(hello)")")"
	slack_api_start '[{"path": "/conversations.info", "body": {"ok": true, "channel": {"id": "C0123", "name": "ops", "is_member": true, "num_members": 3, "topic": {"value": "release at noon"}}}}]'
	listen_with_session
	# in a namespace without even loopback: only the session can deliver
	run --separate-stderr unshare -rn bot-send -b slack --to '#C0123' 'from cron'
	assert_success
	run jq -c '[.type, .id]' <<< "$output"
	assert_output '["sent","C0123:1700000001.3"]'
	run --separate-stderr unshare -rn bot-room -b slack info '#C0123'
	assert_success
	assert_output '#C0123: exists, joined, 3 users, topic: release at noon.'
	stop_listen
	run api_bodies chat.postMessage
	assert_output '{"channel":"C0123","text":"from cron"}'
}

@test "bot-room: a name is looked up with conversations.list, then join, topic, occupants, invite" {
	slack_ws_start '[]'
	slack_api_start '[{"path": "/conversations.list[?](?!.*cursor)", "keep": true, "body": {"ok": true, "channels": [{"id": "C0777", "name": "general"}], "response_metadata": {"next_cursor": "dGVhbTpDMDY="}}},
		{"path": "/conversations.list.*cursor=", "keep": true, "body": {"ok": true, "channels": [{"id": "C0123", "name": "ops", "is_member": false}], "response_metadata": {"next_cursor": ""}}},
		{"path": "/conversations.join", "body": {"ok": true, "channel": {"id": "C0123"}}},
		{"path": "/conversations.setTopic", "body": {"ok": true, "channel": {"id": "C0123", "topic": {"value": "new"}}}},
		{"path": "/conversations.members", "body": {"ok": true, "members": ["U0456", "U0777"], "response_metadata": {"next_cursor": ""}}},
		{"path": "/conversations.invite", "body": {"ok": true, "channel": {"id": "C0123"}}},
		{"path": "/conversations.info", "body": {"ok": false, "error": "channel_not_found"}}]'
	run --separate-stderr bot-room -b slack join '#ops'
	assert_success
	assert_output 'Joined the room #ops.'
	run --separate-stderr bot-room -b slack topic '#ops' new
	assert_output 'Topic for #ops set.'
	run --separate-stderr bot-room -b slack --json occupants '#ops'
	run jq -c '[.occupants[].person]' <<< "$output"
	assert_output '["@U0456","@U0777"]'
	run --separate-stderr bot-room -b slack invite '#ops' '@U0999'
	assert_success
	run --separate-stderr bot-room -b slack --json info '#C0404'
	run jq -c '[.exists, .joined]' <<< "$output"
	assert_output '[false,false]'
	# each process looks the name up, over two pages, then uses the id
	run bash -c "jq -r 'select(.path | contains(\"conversations.list\")) | .path' '$SW/api.ndjson' | head -2"
	assert_output $'/api/conversations.list?types=public_channel%2Cprivate_channel&exclude_archived=true&limit=200\n/api/conversations.list?types=public_channel%2Cprivate_channel&exclude_archived=true&limit=200&cursor=dGVhbTpDMDY%3D'
	run jq -c 'select(.path | test("join|setTopic|invite")) | .json' "$SW/api.ndjson"
	assert_output $'{"channel":"C0123"}\n{"channel":"C0123","topic":"new"}\n{"channel":"C0123","users":"U0999"}'
}

@test "a file whose URL is not Slack's is not fetched: the bot token stays home" {
	receiver_start   # another host, as far as the bot can tell
	share='{"type":"message","subtype":"file_share","channel":"C0123","user":"U0456","text":"look","ts":"1700000000.000400","files":[{"id":"F0111","name":"x.txt"}]}'
	slack_ws_start "$(connections "$(conn "$(hello)" "$(envelope e1 Ev1 "$share")")")"
	slack_api_start "$(jq -cn --arg u "$RECEIVER_URL" '[{path: "/files.info", body: {ok: true, file: {id: "F0111", name: "x.txt", url_private_download: $u}}}]')"
	listen
	wait_for "$W/out" '"stream"'
	stop_listen
	receiver_stop
	run jq -r 'select(.type == "stream") | .status' "$W/out"
	assert_output error
	[ ! -s "$RECEIVER_LOG" ]
	grep -q "its URL is not Slack's" "$W/err"
}

@test "disconnect link_disabled is permanent: exit 78, no new socket asked for" {
	slack_ws_start "$(connections "$(conn "$(hello)" "$(disconnect link_disabled)")")"
	slack_api_start
	run -78 --separate-stderr timeout 10 bot-listen -b slack --session none
	assert_equal "$(api_count apps.connections.open)" 1
	[[ "$stderr" == *link_disabled* ]]
}

@test "a direct message: from the person, to the bot; the reply goes to the user id, no mention" {
	dm='{"type":"message","channel":"D0999","channel_type":"im","user":"U0456","text":"!echo psst","ts":"1700000000.000600"}'
	slack_ws_start "$(connections "$(conn "$(hello)" "$(envelope e1 Ev1 "$dm")")")"
	slack_api_start
	mkfifo "$W/fifo"
	bot-listen -b slack --session none > "$W/fifo" 2> "$W/err" &
	LPID=$!
	tee "$W/events" < "$W/fifo" | bot-dispatch 2> "$W/disp.err" | bot-send -b slack > "$W/sent" 2> "$W/send.err" &
	wait_for "$W/sent" '"sent"'
	stop_listen
	run jq -c 'select(.type == "message") | [.from.id, .to.id, .is_direct]' "$W/events"
	assert_output '["@U0456","@UBOT",true]'
	run api_bodies chat.postMessage
	assert_output '{"channel":"U0456","text":"psst"}'
}

@test "counted across one scripted session: redeliveries, a drop, a refresh: every event once, in order, every envelope acknowledged" {
	m() { chan_msg "$1" U0456 "1700000000.00000$2"; }
	slack_ws_start "$(connections \
		"$(conn "$(hello)" "$(envelope e1 Ev1 "$(m one 1)")" "$(envelope e2 Ev2 "$(m two 2)")" \
			"$(envelope e2r Ev2 "$(m two 2)" 1)" '{"sleep": 0.3}' '{"drop": true}')" \
		"$(conn "$(hello)" "$(envelope e2rr Ev2 "$(m two 2)" 2)" "$(envelope e3 Ev3 "$(m three 3)")" \
			'{"sleep": 0.3}' "$(disconnect refresh_requested)" '{"hold": true}')" \
		"$(conn "$(hello)" "$(envelope e3r Ev3 "$(m three 3)" 1)" "$(envelope e4 Ev4 "$(m four 4)")" \
			"$(envelope e5 Ev5 "$(m five 5)")")")"
	slack_api_start
	listen
	wait_for "$W/out" '"five"'
	for _ in $(seq 50); do [ "$(ws_acks | sort -u | wc -l)" -ge 8 ] && break; sleep 0.1; done
	stop_listen
	run bodies < "$W/out"
	assert_output $'one\ntwo\nthree\nfour\nfive'
	assert_equal "$(ws_acks | sort -u | paste -sd' ')" 'e1 e2 e2r e2rr e3 e3r e4 e5'
	# the drop is a reconnect; the refresh is not (the new socket came first)
	run jq -r 'select(.type == "connection") | .state' "$W/out"
	assert_output $'connecting\nconnected\ndisconnected\nconnecting\nconnected'
	run jq -r 'select(.event == "open") | .conn' "$SW/ws.ndjson"
	assert_output $'1\n2\n3'
}

@test "from cron: bot-send -b slack --to '#ops' with only PATH and its settings; the same line through a running bot-listen's session" {
	unshare -rn true 2>/dev/null || skip "no network namespaces here"
	slack_ws_start "$(connections "$(conn "$(hello)")")"
	slack_api_start
	printf '%s\n' "$SLACK_BOT_TOKEN" > "$W/bot.token"
	chmod 600 "$W/bot.token"
	run --separate-stderr env -i PATH="$PATH" BOT_SLACK_API="$BOT_SLACK_API" BOT_SLACK_BOT_TOKEN_FILE="$W/bot.token" \
		bot-send -b slack --to '#ops' 'nightly build passed'
	assert_success
	assert_equal "$(jq -r .type <<< "$output")" sent
	listen_with_session
	# in a namespace without even loopback: only the session can deliver
	run --separate-stderr unshare -rn bot-send -b slack --to '#ops' 'through the session'
	assert_success
	assert_equal "$(jq -r .type <<< "$output")" sent
	stop_listen
	run api_bodies chat.postMessage
	assert_output $'{"channel":"#ops","text":"nightly build passed"}\n{"channel":"#ops","text":"through the session"}'
}
