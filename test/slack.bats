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
