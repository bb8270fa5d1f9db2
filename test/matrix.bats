#!/usr/bin/env bats
# The Matrix backend against test/fake-http.py playing a homeserver from
# the client-server API's documented shapes: /sync long polls held until
# the test queues a batch, sends deduplicated by their txnId as a
# homeserver does, and every request logged for the assertions.
load helpers/common

TOKEN=syt_T0KEN-s3cr3t
ROOM='!ops:hs'
ROOM_ENC='%21ops%3Ahs'

setup() {
	d=$BATS_TEST_TMPDIR
	FAKE_PID= PIPE_PID=
	export XDG_STATE_HOME="$d/state" XDG_RUNTIME_DIR="$d/run" BOT_MATRIX_TOKEN=$TOKEN
	export BOT_MATRIX_USER='@bot:hs' BOT_MATRIX_SYNC_TIMEOUT=1
	mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
}

teardown() {
	stop_pipe
	stop_fake
	if grep -l 'Sanitizer\|runtime error' "$d"/*.err 2>/dev/null; then
		cat "$d"/*.err
		return 1
	fi
}

# start_fake [RESPONSES_JSON]: the homeserver; /sync polls wait up to 1 s
# for a queued batch, else answer an empty one ("idle").
start_fake() {
	rm -f "$d/port"
	local script
	script=$(jq -cn --argjson r "${1:-[]}" '{responses: $r,
		dedup: ["/rooms/([^/]+/send/[^/]+/[^/?]+)", "/rooms/([^/]+/redact/[^/]+/[^/?]+)"],
		hold: {path: "/sync", seconds: 1, default: {status: 200, body: {next_batch: "idle"}}},
		default: {status: 200, body: {event_id: "$default"}}}')
	python3 "$BATS_TEST_DIRNAME/fake-http.py" --port-file "$d/port" --log "$d/req.ndjson" \
		--script-json "$script" >/dev/null 2>"$d/fake.log" 3>&- &
	FAKE_PID=$!
	for _ in $(seq 200); do [ -s "$d/port" ] && break; sleep 0.05; done
	export BOT_MATRIX_HOMESERVER="http://127.0.0.1:$(cat "$d/port")"
}

stop_fake() {
	if [ -n "$FAKE_PID" ]; then
		kill "$FAKE_PID" 2>/dev/null || true
		wait "$FAKE_PID" 2>/dev/null || true
		FAKE_PID=
	fi
}

# queue JSON: more responses for the running fake.
queue() { curl -s -X POST --data-binary "$1" "$BOT_MATRIX_HOMESERVER/__fake/queue" > /dev/null; }

# sync NEXT_BATCH [TIMELINE_EVENTS_JSON [ROOM]]: a /sync answer with those
# events in the room's timeline.
sync() {
	jq -cn --arg nb "$1" --argjson ev "${2:-[]}" --arg room "${3:-$ROOM}" \
		'{path: "/sync", status: 200, body: {next_batch: $nb,
		  rooms: {join: {($room): {timeline: {events: $ev, limited: false}}}}}}'
}

# text_event ID SENDER BODY [EXTRA_CONTENT_JSON]
text_event() {
	jq -cn --arg id "$1" --arg s "$2" --arg b "$3" --argjson x "${4:-{\}}" \
		'{type: "m.room.message", event_id: $id, sender: $s, origin_server_ts: 1700000000000,
		  content: ({msgtype: "m.text", body: $b} + $x)}'
}

# Wait until the fake has N requests matching the jq filter.
wait_req() {
	local filter=$1 n=${2:-1} i=0
	until [ "$(jq -c "select($filter)" "$d/req.ndjson" 2>/dev/null | wc -l)" -ge "$n" ]; do
		i=$((i + 1))
		if [ $i -gt 300 ]; then
			echo "fewer than $n requests ($filter):" >&2
			jq -c '[.method, .path]' "$d/req.ndjson" >&2
			return 1
		fi
		sleep 0.05
	done
}
reqs() { jq -c "select($1) | ${2:-.}" "$d/req.ndjson"; }
sends() { reqs '.method == "PUT" and (.path | test("/send/m.room.message/"))' "${1:-.json}"; }

# The whole bot in a process group of its own.
start_bot() {
	setsid sh -c 'exec bot-listen -b matrix "$@" 2>"$0/listen.err" | tee "$0/events" |
		bot-dispatch 2>"$0/dispatch.err" | bot-send -b matrix >"$0/sent" 2>"$0/send.err"' "$d" "$@" 3>&- &
	PIPE_PID=$!
}

stop_pipe() {
	if [ -n "$PIPE_PID" ]; then
		kill -TERM -- "-$PIPE_PID" 2>/dev/null || true
		for _ in $(seq 100); do kill -0 -- "-$PIPE_PID" 2>/dev/null || break; sleep 0.05; done
		kill -KILL -- "-$PIPE_PID" 2>/dev/null || true
		PIPE_PID=
	fi
}

no_token() {
	run ! grep -rF -e "$TOKEN" "$d"/*.err "$d"/events "$d"/sent "$d"/fake.log 2>/dev/null
}

@test "a one-shot send is a PUT of HTML with a plain body, the part's key as txnId" {
	start_fake "[{\"path\": \"/send/\", \"status\": 200, \"body\": {\"event_id\": \"\$e1\"}}]"
	run --separate-stderr bot-send -b matrix --to "$ROOM" 'deploy *done* <b> & "q"'
	assert_success
	assert_output "{\"type\":\"sent\",\"id\":\"\$e1\",\"to\":{\"kind\":\"room\",\"id\":\"$ROOM\"}}"
	assert_equal "$(reqs true '.method')" '"PUT"'
	run reqs true '.path'
	assert_output --regexp "^\"/_matrix/client/v3/rooms/$ROOM_ENC/send/m.room.message/h[0-9a-f]+\\.0\"$"
	assert_equal "$(reqs true '.headers.authorization')" "\"Bearer $TOKEN\""
	assert_equal "$(reqs true '.json')" \
		'{"msgtype":"m.text","body":"deploy done <b> & \"q\"","format":"org.matrix.custom.html","formatted_body":"<p>deploy <em>done</em> &lt;b&gt; &amp; &quot;q&quot;</p>","m.mentions":{}}'
	refute_output --partial "$TOKEN"
	run ! grep -F "$TOKEN" <<< "$stderr"
}

@test "an event's id is the txnId: a retry after a timeout and a --flush after a crash never duplicate" {
	# the server stores the first PUT but its answer is lost (hang)
	start_fake '[{"path": "/send/", "hang": 3, "status": 200, "body": {"event_id": "$stored"}}]'
	ev='{"type":"message","id":"build-7","to":"!ops:hs","body":"release 7"}'
	run --separate-stderr bash -c "echo '$ev' | bot-send -b matrix --timeout 1 --retries 2"
	assert_success
	assert_equal "$(jq -r .id <<< "$output")" '$stored'
	run sends '.path'
	assert_equal "${#lines[@]}" 2
	assert_equal "${lines[0]}" "\"/_matrix/client/v3/rooms/$ROOM_ENC/send/m.room.message/build-7.0\""
	assert_equal "${lines[1]}" "${lines[0]}"
	assert_equal "$(sends '.dedup' | tr '\n' ' ')" 'null true '
	# bot-send gives up (the outbox keeps it), a --flush later sends the same txnId
	queue '[{"path": "/send/", "hang": 3, "status": 200, "body": {"event_id": "$second"}}]'
	ev2='{"type":"message","id":"build-8","to":"!ops:hs","body":"release 8"}'
	run --separate-stderr bash -c "echo '$ev2' | bot-send -b matrix --timeout 1 --retries 0 --outbox '$d/outbox'"
	assert_equal "$status" 75
	assert_equal "$(jq -r .code <<< "$output")" queued
	run --separate-stderr bot-send -b matrix --flush "$d/outbox"
	assert_success
	assert_equal "$(jq -r .id <<< "$output")" '$second'
	run sends '[.path, .dedup]'
	assert_equal "${#lines[@]}" 4
	assert_equal "${lines[3]}" "[\"/_matrix/client/v3/rooms/$ROOM_ENC/send/m.room.message/build-8.0\",true]"
	# one event stored a txnId: two, for four requests
	assert_equal "$(sends '.path' | sort -u | wc -l)" 2
}

@test "the initial sync is small and marked delayed; then !echo is answered with a mention, in the thread" {
	start_fake "[$(sync b1 "[$(text_event '$old' '@alice:hs' '!echo from the backlog')]")]"
	start_bot
	wait_for "$d/events" '"delayed":true'
	queue "[$(sync b2 "[$(text_event '$m1' '@alice:hs' '!echo hi there'),
		$(text_event '$m2' '@alice:hs' '!echo threaded' '{"m.relates_to": {"rel_type": "m.thread", "event_id": "$root", "is_falling_back": true, "m.in_reply_to": {"event_id": "$root"}}}')]")]"
	wait_req '.method == "PUT"' 2
	# the initial sync: timeout=0, a filter with a small timeline and no state
	run reqs '.path | test("/sync")' '.path'
	assert_line --index 0 --regexp '^"/_matrix/client/v3/sync\?filter=[^&]*limit%22%3A5[^&]*&timeout=0"$'
	assert_line --index 1 --regexp 'since=b1'
	run jq -c 'select(.type=="message") | [.id, .body, .delayed, .from.id, .to.id, .parent.id]' "$d/events"
	assert_line '["$old","!echo from the backlog",true,"@alice:hs","!ops:hs",null]'
	assert_line '["$m1","!echo hi there",null,"@alice:hs","!ops:hs",null]'
	assert_line '["$m2","!echo threaded",null,"@alice:hs","!ops:hs","$root"]'
	run sends '[.json.body, .json.formatted_body, .json["m.mentions"], .json["m.relates_to"]]'
	assert_equal "${#lines[@]}" 2
	assert_line '["alice: hi there","<p><a href=\"https://matrix.to/#/@alice:hs\">alice</a>: hi there</p>",{"user_ids":["@alice:hs"]},null]'
	assert_line '["alice: threaded","<p><a href=\"https://matrix.to/#/@alice:hs\">alice</a>: threaded</p>",{"user_ids":["@alice:hs"]},{"rel_type":"m.thread","event_id":"$root","is_falling_back":true,"m.in_reply_to":{"event_id":"$root"}}]'
	no_token
}

@test "a long message is split at 16000 bytes of HTML, the parts in order, each with its own txnId" {
	start_fake
	text=$(python3 -c 'print(" ".join("word%05d" % i for i in range(4000)))')
	run --separate-stderr bot-send -b matrix --to "$ROOM" "$text"
	assert_success
	run sends '.path'
	assert_equal "${#lines[@]}" 3
	for i in 0 1 2; do [[ "${lines[$i]}" == *".$i\"" ]]; done
	while read -r n; do [ "$n" -le 16000 ]; done < <(sends '.json.formatted_body | utf8bytelength')
	assert_equal "$(sends '.json.body' | jq -rj '. + " "' | tr -s ' ' | sed 's/ $//')" "$text"
}

@test "a card is native HTML: the title linked, the fields a table, a plain body beside it" {
	start_fake
	run --separate-stderr bash -c "bot-card --to '$ROOM' --title 'Build <42>' --link https://ci.example/42 \
		--color '#00ff00' --field status=green --field took=3m 'all *good*' | bot-send -b matrix"
	assert_success
	assert_equal "$(jq -r .type <<< "$output")" sent
	assert_equal "$(sends '.json.formatted_body')" \
		'"<p><strong><font data-mx-color=\"#00ff00\"><a href=\"https://ci.example/42\">Build &lt;42&gt;</a></font></strong></p><p>all <em>good</em></p><table><tr><th>status</th><td>green</td></tr><tr><th>took</th><td>3m</td></tr></table>"'
	assert_equal "$(sends '.json.body')" '"Build <42> <https://ci.example/42>\nall good\nstatus: green\ntook: 3m"'
}

@test "reactions, edits, redactions and files come in as their events" {
	printf 'the report' > "$d/payload"
	react='{"type":"m.reaction","event_id":"$r1","sender":"@alice:hs","content":{"m.relates_to":{"rel_type":"m.annotation","event_id":"$m1","key":"👍"}}}'
	unreact='{"type":"m.room.redaction","event_id":"$x1","sender":"@alice:hs","redacts":"$r1","content":{}}'
	edit=$(text_event '$e1' '@alice:hs' '* fixed' '{"m.new_content":{"msgtype":"m.text","body":"fixed"},"m.relates_to":{"rel_type":"m.replace","event_id":"$m1"}}')
	del='{"type":"m.room.redaction","event_id":"$x2","sender":"@alice:hs","content":{"redacts":"$m1"}}'
	file='{"type":"m.room.message","event_id":"$f1","sender":"@alice:hs","content":{"msgtype":"m.file","body":"r.pdf","url":"mxc://hs/AbC","info":{"mimetype":"application/pdf","size":10}}}'
	join='{"type":"m.room.member","event_id":"$j1","sender":"@carol:hs","state_key":"@carol:hs","content":{"membership":"join"}}'
	leave='{"type":"m.room.member","event_id":"$j2","sender":"@carol:hs","state_key":"@carol:hs","content":{"membership":"leave"},"unsigned":{"prev_content":{"membership":"join"}}}'
	after=$(text_event '$m9' '@alice:hs' 'after the file')
	reply=$(text_event '$a1' '@alice:hs' $'> <@bob:hs> the question\n> second line\n\nthe answer' '{"m.relates_to":{"m.in_reply_to":{"event_id":"$q1"}}}')
	start_fake "[$(sync b1), $(sync b2 "[$react, $unreact, $edit, $del, $file, $after, $join, $leave, $reply]"),
		{\"path\": \"/media/download/hs/AbC\", \"status\": 200, \"body\": \"the report\"}]"
	start_bot
	wait_for "$d/events" '"id":"\$a1"'
	run jq -c 'select(.type != "connection") | [.type, .action // .status // .body, .reaction_name // .deletes // .replaces // .name, .reacted_to.id // .from.id // .identifier.id // .occupant.id]' "$d/events"
	assert_line --index 0 '["reaction","added","👍","$m1"]'
	assert_line --index 1 '["reaction","removed","👍","$m1"]'
	assert_line --index 2 '["message","fixed","$m1","@alice:hs"]'
	assert_line --index 3 '["delete",null,"$m1","@alice:hs"]'
	assert_line --index 4 '["stream","success","r.pdf","@alice:hs"]'
	assert_line --index 5 '["message","after the file",null,"@alice:hs"]'
	assert_line --index 6 '["room","joined",null,"@carol:hs"]'
	assert_line --index 7 '["room","left",null,"@carol:hs"]'
	# a reply outside threads: no parent, what it answers in extras, the quote gone
	assert_equal "$(jq -c 'select(.id == "$a1") | [.body, .parent, .extras]' "$d/events")" '["the answer",null,{"reply_to":"$q1"}]'
	path=$(jq -r 'select(.type=="stream") | .path' "$d/events")
	assert_equal "$(cat "$path")" 'the report'
	[[ "$path" == "$XDG_STATE_HOME"/* && "$path" == *.pdf && "$path" != *r.pdf ]]
	assert_equal "$(reqs '.path | test("download")' '.headers.authorization')" "\"Bearer $TOKEN\""
}

@test "reactions, edits, redactions, files and presence go out" {
	start_fake '[{"path": "/relations/", "status": 200, "body": {"chunk": [
		{"event_id": "$other", "sender": "@alice:hs", "content": {"m.relates_to": {"rel_type": "m.annotation", "event_id": "$m1", "key": "👍"}}},
		{"event_id": "$mine", "sender": "@bot:hs", "content": {"m.relates_to": {"rel_type": "m.annotation", "event_id": "$m1", "key": "👍"}}}]}},
		{"path": "/upload", "status": 200, "body": {"content_uri": "mxc://hs/Up1"}}]'
	printf '\x89PNG\r\n\x1a\nbytes' > "$d/chart.png"
	chmod 600 "$d/chart.png"
	{
		echo '{"type":"reaction","id":"a","to":"!ops:hs","reacted_to":{"id":"$m1"},"reaction_name":"👍","action":"added"}'
		echo '{"type":"reaction","id":"b","to":"!ops:hs","reacted_to":{"id":"$m1"},"reaction_name":"👍","action":"removed"}'
		echo '{"type":"message","id":"c","to":"!ops:hs","body":"*new* text","replaces":"$m1"}'
		echo '{"type":"delete","id":"d","to":"!ops:hs","deletes":"$m2"}'
		echo "{\"type\":\"stream\",\"id\":\"e\",\"identifier\":\"!ops:hs\",\"to\":\"!ops:hs\",\"path\":\"$d/chart.png\",\"name\":\"chart.png\",\"stream_type\":\"image/png\"}"
		echo '{"type":"presence","id":"f","status":"away","message":"lunch"}'
		echo '{"type":"message","id":"g","to":"!ops:hs","body":"as asked","extras":{"reply_to":"$q1"}}'
	} > "$d/in"
	run --separate-stderr bot-send -b matrix --files-from "$d" < "$d/in"
	assert_success
	assert_equal "$(jq -r .type <<< "$output" | sort | uniq -c | tr -s ' ')" ' 7 sent'
	run reqs 'true' '[.method, (.path | sub("\\?.*"; "")), .json]'
	assert_line --index 0 '["PUT","/_matrix/client/v3/rooms/%21ops%3Ahs/send/m.reaction/a.0",{"m.relates_to":{"rel_type":"m.annotation","event_id":"$m1","key":"👍"}}]'
	assert_line --index 1 '["GET","/_matrix/client/v3/rooms/%21ops%3Ahs/relations/%24m1/m.annotation/m.reaction",null]'
	assert_line --index 2 '["PUT","/_matrix/client/v3/rooms/%21ops%3Ahs/redact/%24mine/b.0",{}]'
	assert_line --index 3 '["PUT","/_matrix/client/v3/rooms/%21ops%3Ahs/send/m.room.message/c.0",{"msgtype":"m.text","body":"* new text","format":"org.matrix.custom.html","formatted_body":"* <p><em>new</em> text</p>","m.new_content":{"msgtype":"m.text","body":"new text","format":"org.matrix.custom.html","formatted_body":"<p><em>new</em> text</p>","m.mentions":{}},"m.relates_to":{"rel_type":"m.replace","event_id":"$m1"},"m.mentions":{}}]'
	assert_line --index 4 '["PUT","/_matrix/client/v3/rooms/%21ops%3Ahs/redact/%24m2/d.0",{}]'
	assert_line --index 5 '["POST","/_matrix/media/v3/upload",null]'
	assert_line --index 6 '["PUT","/_matrix/client/v3/rooms/%21ops%3Ahs/send/m.room.message/e.0",{"msgtype":"m.image","body":"chart.png","filename":"chart.png","info":{"mimetype":"image/png"},"url":"mxc://hs/Up1"}]'
	assert_line --index 7 '["PUT","/_matrix/client/v3/presence/%40bot%3Ahs/status",{"presence":"unavailable","status_msg":"lunch"}]'
	assert_line --index 8 '["PUT","/_matrix/client/v3/rooms/%21ops%3Ahs/send/m.room.message/g.0",{"msgtype":"m.text","body":"as asked","format":"org.matrix.custom.html","formatted_body":"<p>as asked</p>","m.mentions":{},"m.relates_to":{"m.in_reply_to":{"event_id":"$q1"}}}]'
	# the upload is the file's bytes, with its type
	assert_equal "$(reqs '.path | test("upload")' '.body_b64' | tr -d '"' | base64 -d | od -An -c | tr -s ' ')" "$(od -An -c < "$d/chart.png" | tr -s ' ')"
	assert_equal "$(reqs '.path | test("upload")' '[.path, .headers["content-type"]]')" '["/_matrix/media/v3/upload?filename=chart.png","image/png"]'
	# a Slack or Zulip name is the emoji here, the key Element shows
	echo '{"type":"reaction","id":"h","to":"!ops:hs","reacted_to":{"id":"$m1"},"reaction_name":":tada:","action":"added"}' |
		bot-send -b matrix > /dev/null
	assert_equal "$(reqs '.path | test("m.reaction/h")' '.json["m.relates_to"].key')" '"🎉"'
}

@test "M_LIMIT_EXCEEDED's retry_after_ms is waited out, for a send and for /sync" {
	start_fake '[{"path": "/send/", "status": 429, "body": {"errcode": "M_LIMIT_EXCEEDED", "error": "Too many requests", "retry_after_ms": 1500}}]'
	run --separate-stderr bot-send -b matrix --to "$ROOM" 'hold on'
	assert_success
	run sends '.t'
	assert_equal "${#lines[@]}" 2
	python3 -c "import sys; a, b = map(float, sys.argv[1:]); sys.exit(0 if b - a >= 1.4 else 1)" "${lines[0]}" "${lines[1]}"
	stop_fake
	start_fake '[{"path": "/sync", "status": 429, "body": {"errcode": "M_LIMIT_EXCEEDED", "retry_after_ms": 2000}}]'
	start_bot
	wait_req '.path | test("/sync")' 2
	run reqs '.path | test("/sync")' '.t'
	python3 -c "import sys; a, b = map(float, sys.argv[1:3]); sys.exit(0 if b - a >= 1.9 else 1)" "${lines[0]}" "${lines[1]}"
}

@test "a bad token (401 M_UNKNOWN_TOKEN) exits 77 at once: no reconnect loop, no token shown" {
	start_fake '[{"path": "/sync", "status": 401, "body": {"errcode": "M_UNKNOWN_TOKEN", "error": "Invalid access token passed."}}]'
	run --separate-stderr timeout 20 bot-listen -b matrix -v
	assert_equal "$status" 77
	assert_equal "$(reqs '.path | test("/sync")' '.method' | wc -l)" 1
	[[ "$stderr" == *M_UNKNOWN_TOKEN* || "$stderr" == *denied* || "$stderr" == *401* ]]
	refute_output --partial "$TOKEN"
	run ! grep -F "$TOKEN" <<< "$stderr"
	queue '[{"path": "/send/", "status": 401, "body": {"errcode": "M_UNKNOWN_TOKEN", "error": "Invalid access token passed."}}]'
	run --separate-stderr bot-send -b matrix -v --to "$ROOM" hi
	assert_equal "$status" 77
	assert_equal "$(jq -r .code <<< "$output")" denied
	[[ "$output" == *M_UNKNOWN_TOKEN* ]]
	run ! grep -F "$TOKEN" <<< "$output$stderr"
}

@test "kill -9 of bot-listen and a restart of the homeserver: the committed token re-reads, nothing lost or doubled" {
	start_fake "[$(sync b1), $(sync b2 "[$(text_event '$m1' '@alice:hs' 'first')]")]"
	start_bot
	wait_for "$d/events" '"body":"first"'
	wait_for "$XDG_STATE_HOME/botpipe/matrix/cursor" '.'
	cursor=$(cat "$XDG_STATE_HOME/botpipe/matrix/cursor")
	[[ "$cursor" == b2 || "$cursor" == idle ]]
	kill -KILL -- "-$PIPE_PID"
	PIPE_PID=
	stop_fake
	mv "$d/events" "$d/events.1"
	mv "$d/req.ndjson" "$d/req.1"
	start_fake "[$(sync b3 "[$(text_event '$m2' '@alice:hs' 'second')]")]"
	start_bot
	wait_for "$d/events" '"body":"second"'
	# the restart asked from the committed token, not an initial sync
	assert_equal "$(reqs '.path | test("/sync")' '.path' | head -1 | grep -o 'since=[a-z0-9]*')" "since=$cursor"
	run jq -r 'select(.type=="message") | .body' "$d/events.1" "$d/events"
	assert_output $'first\nsecond'
}

@test "a room alias is resolved through the directory; a 5xx there is temporary, a 404 no such room" {
	start_fake '[{"path": "/directory/", "status": 502, "body": "bad gateway"},
		{"path": "/directory/room/%23ops%3Ahs", "status": 200, "body": {"room_id": "!ops:hs", "servers": ["hs"]}},
		{"path": "/directory/", "status": 404, "body": {"errcode": "M_NOT_FOUND", "error": "Room alias not found"}}]'
	run --separate-stderr bot-send -b matrix --to '#ops:hs' hello
	assert_success
	run reqs true '[.method, .path]'
	assert_line --index 0 '["GET","/_matrix/client/v3/directory/room/%23ops%3Ahs"]'
	assert_line --index 1 '["GET","/_matrix/client/v3/directory/room/%23ops%3Ahs"]'
	assert_line --index 2 --regexp "^\\[\"PUT\",\"/_matrix/client/v3/rooms/$ROOM_ENC/send/m.room.message/h"
	run --separate-stderr bot-send -b matrix --to '#gone:hs' hello
	assert_equal "$status" 80
	assert_equal "$(jq -r .code <<< "$output")" room_does_not_exist
}

@test "bot-room: join, leave, invite, topic, occupants, create and list" {
	start_fake '[{"path": "/join/", "status": 200, "body": {"room_id": "!ops:hs"}},
		{"path": "/joined_members", "status": 200, "body": {"joined": {"@bot:hs": {"display_name": "bot"}, "@alice:hs": {}}}},
		{"path": "/state/m.room.topic", "status": 200, "body": {"topic": "release at noon"}},
		{"path": "/joined_rooms", "status": 200, "body": {"joined_rooms": ["!ops:hs", "!dev:hs"]}},
		{"path": "/createRoom", "status": 200, "body": {"room_id": "!new:hs"}}]'
	run bot-room -b matrix join '#ops:hs'
	assert_success
	assert_output 'Joined the room #ops:hs.'
	run bot-room -b matrix occupants "$ROOM"
	assert_success
	assert_line --partial '@alice:hs'
	run bot-room -b matrix topic "$ROOM"
	assert_output "Topic for $ROOM: release at noon."
	run bot-room -b matrix topic "$ROOM" new topic
	assert_success
	run bot-room -b matrix invite "$ROOM" '@carol:hs'
	assert_success
	run bot-room -b matrix leave "$ROOM"
	assert_output "Left the room $ROOM."
	run bot-room -b matrix create '#new:hs'
	assert_success
	run bot-room -b matrix list
	assert_success
	assert_line --partial '!dev:hs'
	run reqs true '[.method, .path, .json]'
	assert_line --index 0 '["POST","/_matrix/client/v3/join/%23ops%3Ahs",{}]'
	assert_line --index 1 '["GET","/_matrix/client/v3/rooms/%21ops%3Ahs/joined_members",null]'
	assert_line --index 2 '["GET","/_matrix/client/v3/rooms/%21ops%3Ahs/state/m.room.topic",null]'
	assert_line --index 3 '["PUT","/_matrix/client/v3/rooms/%21ops%3Ahs/state/m.room.topic",{"topic":"new topic"}]'
	assert_line --index 4 '["POST","/_matrix/client/v3/rooms/%21ops%3Ahs/invite",{"user_id":"@carol:hs"}]'
	assert_line --index 5 '["POST","/_matrix/client/v3/rooms/%21ops%3Ahs/leave",{}]'
	assert_line --index 6 '["POST","/_matrix/client/v3/createRoom",{"room_alias_name":"new","name":"new"}]'
	assert_line --index 7 '["GET","/_matrix/client/v3/joined_rooms",null]'
}

@test "an invite is a room event, and joined only with --matrix-join-invites" {
	invite='{"path": "/sync", "status": 200, "body": {"next_batch": "b2", "rooms": {"invite": {"!new:hs": {"invite_state": {"events": [{"type": "m.room.member", "sender": "@alice:hs", "state_key": "@bot:hs", "content": {"membership": "invite"}}]}}}}}}'
	start_fake "[$(sync b1), $invite]"
	start_bot
	wait_for "$d/events" '"action":"invite"'
	sleep 0.5
	assert_equal "$(reqs '.path | test("/join/")' '.path' | wc -l)" 0
	stop_pipe
	stop_fake
	rm -rf "$XDG_STATE_HOME" "$d/events"
	start_fake "[$(sync b1), $invite]"
	start_bot --matrix-join-invites
	wait_req '.path | test("/join/")'
	assert_equal "$(reqs '.path | test("/join/")' '[.method, .path]')" '["POST","/_matrix/client/v3/join/%21new%3Ahs"]'
	assert_equal "$(jq -c 'select(.action=="invite") | [.room.id, .identifier.id]' "$d/events")" '["!new:hs","@alice:hs"]'
}

@test "bot-send through a running bot-listen's session; the token in no ps line" {
	start_fake "[$(sync b1)]"
	start_bot
	wait_for "$d/events" '"state":"connected"'
	# one 500 first: bot-send's own policy retries what the session answered
	queue '[{"path": "/send/", "status": 500, "body": {"errcode": "M_UNKNOWN", "error": "busy"}}]'
	run --separate-stderr bot-send -b matrix -v --to "$ROOM" 'via the session'
	assert_success
	assert_equal "$(jq -r .type <<< "$output")" sent
	[[ "$stderr" == *"attempt 2 of 5 through the session"* ]]
	assert_equal "$(sends '.json.body' | sort -u)" '"via the session"'
	run ! grep -F "$TOKEN" <<< "$stderr"
	for p in $(pgrep -g "$PIPE_PID"); do
		run ! grep -aF "$TOKEN" "/proc/$p/cmdline"
	done
	no_token
}

@test "a batch not yet written downstream is read again after a kill -9: the token is committed after the write" {
	# 90 KB: more than a pipe holds (64 KB), less than one argument may be (128 KB)
	evs=$(jq -cn '[range(45) | {type: "m.room.message", event_id: "$b\(.)", sender: "@alice:hs",
		content: {msgtype: "m.text", body: ("n\(.) " + ("x" * 2000))}}]')
	start_fake "[$(sync b1), $(sync b2 "$evs")]"
	# a reader that reads nothing: the pipe fills, the batch's end is not written
	setsid sh -c 'exec bot-listen -b matrix 2>"$0/listen.err" | sleep 600' "$d" 3>&- &
	PIPE_PID=$!
	wait_req '.path | test("since=b1")'
	sleep 1
	assert_equal "$(cat "$XDG_STATE_HOME/botpipe/matrix/cursor")" b1
	kill -KILL -- "-$PIPE_PID"
	PIPE_PID=
	# a new homeserver process (a held poll of the dead one would take the batch)
	stop_fake
	rm "$d/req.ndjson"
	start_fake "[$(sync b2 "$evs")]"
	start_bot
	wait_for "$d/events" '"id":"\$b44"'
	assert_equal "$(reqs '.path | test("/sync")' '.path' | head -1 | grep -o 'since=[a-z0-9]*')" since=b1
	assert_equal "$(jq -r 'select(.type=="message") | .id' "$d/events" | sort -u | wc -l)" 45
	wait_for "$XDG_STATE_HOME/botpipe/matrix/cursor" '^(b2|idle)$'
}
