#!/usr/bin/env bats
# The mattermost backend against a loopback Mattermost: the REST API
# (test/fake-http.py) and the v4 WebSocket (fake-http.py --ws), asserting
# on what the fakes received and on the events bot-listen wrote.
load helpers/common
load helpers/mattermost

setup() {
	d=$BATS_TEST_TMPDIR
	export XDG_STATE_HOME="$d/state" XDG_RUNTIME_DIR="$d/run"
	mkdir -p -m 700 "$XDG_STATE_HOME" "$XDG_RUNTIME_DIR"
	LISTEN_PID=
}

teardown() {
	[ -z "$LISTEN_PID" ] || kill -9 "$LISTEN_PID" 2>/dev/null || true
	fake_stop rest
	fake_stop ws
}

# bot-listen in the background, its events in $d/events.
listen_bg() {
	bot-listen "${L[@]}" --session "${SESSION:-none}" "$@" > "$d/events" 2> "$d/err" &
	LISTEN_PID=$!
}
stop_listen() {
	kill "$LISTEN_PID"
	local rc=0
	wait "$LISTEN_PID" || rc=$?
	LISTEN_PID=
	[ "$rc" -eq 0 ] || { echo "bot-listen exited $rc:" >&2; cat "$d/err" >&2; return 1; }
}

@test "one-shot bot-send posts to a channel id: the body Mattermost reads, the Bearer token, the post's id" {
	rest_start '[{"path":"/api/v4/posts$","status":201,"body":{"id":"newpost000000000000000000a","channel_id":"x"}}]'
	run --separate-stderr bot-send "${L[@]}" --session none --to "$CH" 'deploy **done**'
	assert_success
	assert_output "{\"type\":\"sent\",\"id\":\"newpost000000000000000000a\",\"to\":{\"kind\":\"room\",\"id\":\"$CH\"}}"
	assert_equal "$(requests '/api/v4/posts$' '.method')" '"POST"'
	assert_equal "$(requests '/api/v4/posts$' '.json | del(.pending_post_id)')" \
		"{\"message\":\"deploy **done**\",\"channel_id\":\"$CH\"}"
	assert_equal "$(requests '/api/v4/posts$' '.headers.authorization')" "\"Bearer $TOKEN\""
}

@test "a ~channel is looked up in --mattermost-team, then posted to" {
	rest_start "[{\"path\":\"/api/v4/teams/name/eng/channels/name/ops\$\",\"status\":200,\"body\":{\"id\":\"$CH\",\"name\":\"ops\"}}]"
	run --separate-stderr bot-send "${L[@]}" --mattermost-team eng --session none --to '~ops' hi
	assert_success
	assert_equal "$(requests '/api/v4/posts$' '.json.channel_id')" "\"$CH\""
	run --separate-stderr bot-send "${L[@]}" --session none --to '~ops' hi
	assert_failure 65
	assert_equal "$stderr" "bot-send: error: bad_input: mattermost: a channel name: give --mattermost-team to send to a ~channel"
}

@test "listening: a posted event (its post a JSON string) is a message; edited, deleted, reactions and members are events" {
	rest_start
	react=$(jq -cn --arg u "$ALICE" '{event:"reaction_added", seq:2, data:{reaction:({user_id:$u, post_id:"p1p1p1p1p1p1p1p1p1p1p1p1p1", emoji_name:"tada", create_at:1700000001000}|tojson)}, broadcast:{}}')
	edit=$(posted 3 p1p1p1p1p1p1p1p1p1p1p1p1p1 'hello, edited' | jq -c '.event = "post_edited"')
	del=$(posted 4 p1p1p1p1p1p1p1p1p1p1p1p1p1 '' | jq -c '.event = "post_deleted"')
	join=$(jq -cn --arg u "$ALICE" --arg c "$CH" '{event:"user_added", seq:5, data:{team_id:"t", user_id:$u}, broadcast:{channel_id:$c}}')
	ws_start "$(ws_conn "$(posted 1 p1p1p1p1p1p1p1p1p1p1p1p1p1 'hello **bot**')" "$react" "$edit" "$del" "$join")"
	listen_bg
	wait_for "$d/events" '"type":"room"'
	stop_listen
	run jq -c 'select(.type != "connection") | del(.backend, .is_direct, .is_group, .is_threaded, .from.person, .from.aclattr, .reactor.person, .reactor.aclattr, .occupant.person, .occupant.aclattr)' "$d/events"
	assert_line --index 0 "{\"type\":\"message\",\"from\":{\"kind\":\"person\",\"id\":\"@alice\",\"nick\":\"alice\",\"userid\":\"$ALICE\"},\"to\":{\"kind\":\"room\",\"id\":\"~ops\",\"channel_id\":\"$CH\"},\"body\":\"hello **bot**\",\"id\":\"p1p1p1p1p1p1p1p1p1p1p1p1p1\",\"ts\":1700000000}"
	assert_line --index 1 --partial '"type":"reaction","reactor":{"kind":"person","id":"@alice"'
	assert_line --index 1 --partial '"action":"added","reaction_name":"tada"'
	assert_line --index 2 --partial '"body":"hello, edited","id":"p1p1p1p1p1p1p1p1p1p1p1p1p1","replaces":"p1p1p1p1p1p1p1p1p1p1p1p1p1"'
	assert_line --index 3 --partial '"type":"delete"'
	assert_line --index 3 --partial '"deletes":"p1p1p1p1p1p1p1p1p1p1p1p1p1"'
	assert_line --index 4 --partial '"type":"room","action":"joined"'
	assert_line --index 4 --partial '"occupant":{"kind":"person","id":"@alice"'
	assert_equal "$(jq -r 'select(.type == "connection") | .state' "$d/events" | paste -sd' ')" "connecting connected"
	# the socket was authenticated with the challenge, the token in its data
	assert_equal "$(jq -c 'select(.event == "frame" and .opcode == 1) | .data | fromjson | .action' "$d/ws.ndjson" | head -1)" '"authentication_challenge"'
}
