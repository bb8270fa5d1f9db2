#!/usr/bin/env bats
# What a session's answer means to bot-send and bot-room: an error answer
# keeps its code, "temporary" and "retry_after" across the socket, so the
# exit code is the one the same failure gives without a session (75 for a
# 429, not 69).  The session is a scripted socket (test/helpers/fake-session.py).
bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert

ROOT=${BOT_ROOT:-$(cd "$BATS_TEST_DIRNAME/.." && pwd)}

# fake_session ANSWER...: a session socket answering with these events.
fake_session() {
	S=$(mktemp -d)   # 0700, as a session folder must be
	printf '%s\n' "$@" > "$S/answers"
	python3 "$ROOT/test/helpers/fake-session.py" "$S/s.sock" "$S/answers" "$S/requests" > "$S/out" &
	FAKE=$!
	for _ in $(seq 100); do [ -S "$S/s.sock" ] && break; sleep 0.05; done
}

teardown() {
	[ -n "${FAKE:-}" ] && kill "$FAKE" 2>/dev/null
	[ -n "${S:-}" ] && rm -rf "$S"
	true
}

@test "a 429 answered through the session is temporary with its retry_after: bot-send --retries 0 exits 75, not 69 (retries: test/abi2.bats)" {
	fake_session '{"type":"error","code":"send_failed","message":"HTTP 429","temporary":true,"retry_after":7}'
	run --separate-stderr bot-send -b irc --irc-server 127.0.0.1:1 --retries 0 --session "$S/s.sock" --to '#ops' hi
	assert_equal "$status" 75
	assert_equal "$stderr" "bot-send: error: send_failed: HTTP 429"
	# the request went through the session, once
	assert_equal "$(jq -r '.type + " " + .to + " " + .body' "$S/requests")" "message #ops hi"
}

@test "as a filter, the error event keeps temporary and retry_after from the session's answer" {
	fake_session '{"type":"error","code":"send_failed","message":"HTTP 429","temporary":true,"retry_after":7}'
	run --separate-stderr bash -c "echo '{\"type\":\"message\",\"to\":\"#ops\",\"body\":\"hi\",\"id\":\"m1\"}' |
		bot-send -b irc --irc-server 127.0.0.1:1 --retries 0 --session '$S/s.sock' | jq -c '[.code, .temporary, .retry_after, .event.id]'"
	assert_output '["send_failed",true,7,"m1"]'
}

@test "a permanent answer keeps its code's exit: denied is 77" {
	fake_session '{"type":"error","code":"denied","message":"not allowed","temporary":false}'
	run bot-send -b irc --irc-server 127.0.0.1:1 --session "$S/s.sock" --to '#ops' hi
	assert_equal "$status" 77
}

@test "bot-room through the session: room_not_joined is 79, a temporary answer 75" {
	fake_session '{"type":"error","code":"room_not_joined","message":"not in #ops"}'
	run bot-room -b irc --irc-server 127.0.0.1:1 --session "$S/s.sock" topic '#ops'
	assert_equal "$status" 79
	kill "$FAKE"; rm -rf "$S"
	fake_session '{"type":"error","code":"connection_lost","message":"reconnecting","temporary":true,"retry_after":2}'
	run --separate-stderr bot-room -b irc --irc-server 127.0.0.1:1 --session "$S/s.sock" --json topic '#ops'
	assert_equal "$status" 75
	assert_equal "$(echo "$output" | jq -c '[.code, .temporary, .retry_after]')" '["connection_lost",true,2]'
}

@test "a usage mistake in bot-room is still 64" {
	run bot-room -b irc --irc-server 127.0.0.1:1 topic
	assert_equal "$status" 64
}
