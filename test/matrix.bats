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
