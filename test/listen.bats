#!/usr/bin/env bats
# bot-listen's reconnect loop: a permanent failure ends it with its exit
# code; a temporary one reconnects after errbot's backoff; while it backs
# off, the session answers at once (a temporary failure), so a bot-send
# waiting on it delivers on its own connection.
bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert

ROOT=${BOT_ROOT:-$(cd "$BATS_TEST_DIRNAME/.." && pwd)}

fake_ircd() {
	IRC_LOG=$BATS_TEST_TMPDIR/irc-$1.log
	/usr/bin/python3 "$ROOT/test/helpers/fake-ircd.py" "$1" "$BATS_TEST_TMPDIR/irc.port" "$IRC_LOG" 3>&- &
	IRC_PID=$!
	for _ in $(seq 100); do [ -s "$BATS_TEST_TMPDIR/irc.port" ] && break; sleep 0.05; done
	IRC_PORT=$(cat "$BATS_TEST_TMPDIR/irc.port")
}

setup() {
	case "$BATS_TEST_DESCRIPTION" in
	*password*) fake_ircd badpass ;;
	*) fake_ircd close ;;
	esac
}

teardown() {
	[ -z "${IRC_PID:-}" ] || kill "$IRC_PID" 2>/dev/null || true
}

@test "a refused password ends bot-listen with 77 after one attempt, not a reconnect loop" {
	[ -f "$BOT_BUILD/lib/botpipe/irc.so" ] || skip "the irc backend is not built"
	export BOT_IRC_PASSWORD=wrong-password
	run --separate-stderr timeout 20 bot-listen -b irc --irc-server "127.0.0.1:$IRC_PORT" --session none
	assert_equal "$status" 77
	assert_equal "$stderr" "bot-listen: error: irc: the server refused the password: Password incorrect"
	# one connection, and its end says why, with no retry
	assert_equal "$(grep -c '^PASS ' "$IRC_LOG")" 1
	assert_equal "$(echo "$output" | jq -c 'select(.type=="connection") | [.state, .retry_in, .reason]' | tail -1)" \
		'["disconnected",null,"the server refused the password: Password incorrect"]'
}

@test "a server that hangs up reconnects, with a disconnected event saying when" {
	[ -f "$BOT_BUILD/lib/botpipe/irc.so" ] || skip "the irc backend is not built"
	run --separate-stderr timeout 4 bot-listen -b irc --irc-server "127.0.0.1:$IRC_PORT" --session none
	assert_equal "$status" 124   # still trying when timeout stops it
	[ "$(grep -c '^NICK ' "$IRC_LOG")" -ge 2 ]
	assert_equal "$(echo "$output" | jq -r 'select(.state=="disconnected") | .retry_in > 0' | sort -u)" "true"
}

@test "while bot-listen backs off, its session answers at once and bot-send delivers on its own" {
	[ -f "$BOT_BUILD/lib/botpipe/irc.so" ] || skip "the irc backend is not built"
	S=$(mktemp -d)
	bot-listen -b irc --irc-server "127.0.0.1:$IRC_PORT" --session "$S/s.sock" > "$BATS_TEST_TMPDIR/events" 2>/dev/null &
	LPID=$!
	for _ in $(seq 100); do grep -q '"disconnected"' "$BATS_TEST_TMPDIR/events" && break; sleep 0.05; done
	start=$(date +%s%N)
	run --separate-stderr bot-room -b irc --irc-server "127.0.0.1:$IRC_PORT" --session "$S/s.sock" --json topic '#ops'
	took=$(( ($(date +%s%N) - start) / 1000000 ))
	kill "$LPID"; wait "$LPID" || true; rm -rf "$S"
	assert_equal "$status" 75
	assert_equal "$(echo "$output" | jq -c '[.code, .temporary, (.retry_after > 0)]')" '["connection_lost",true,true]'
	[ "$took" -lt 5000 ]   # an answer, not a 150 s wait
}
