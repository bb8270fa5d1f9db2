#!/usr/bin/env bats
# The IRC backend inside the programs' poll loop (backend ABI 2), against
# a scripted server (helpers/fake-ircd.py) that logs every line it reads:
# connected only at the server's 001, a refused password ends bot-listen,
# keep-alives while the reader is stopped, 10,000 lines through the flood
# bucket, and a plain connection that never loads libcurl.
load helpers/hostile
load helpers/common

setup() {
	W=$BATS_TEST_TMPDIR
	IRC_PID= LPID=
}

teardown() {
	[ -z "$LPID" ] || { kill "$LPID" 2>/dev/null; wait "$LPID" 2>/dev/null || true; }
	exec 8<&- 2>/dev/null || true
	[ -z "$IRC_PID" ] || { kill "$IRC_PID" 2>/dev/null; wait "$IRC_PID" 2>/dev/null || true; }
}

# Start the fake in MODE; sets IRC_PID, IRC_PORT, IRC_LOG.
fake_ircd() {
	IRC_LOG=$W/irc-$1.log
	rm -f "$W/irc.port"
	/usr/bin/python3 "$BATS_TEST_DIRNAME/helpers/fake-ircd.py" "$1" "$W/irc.port" "$IRC_LOG" 3>&- &
	IRC_PID=$!
	wait_file "$W/irc.port"
	IRC_PORT=$(cat "$W/irc.port")
}

@test "connected comes at the server's 001, not at the TCP connect" {
	fake_ircd nowelcome
	run -124 --separate-stderr timeout 3 bot-listen -b irc --irc-server "127.0.0.1:$IRC_PORT" --session none
	# it registered, and waited
	wait_for "$IRC_LOG" '^USER '
	run jq -r 'select(.type=="connection") | .state' <<< "$output"
	assert_output 'connecting'
	kill "$IRC_PID"
	# the same with a server that welcomes
	fake_ircd ok
	run -124 --separate-stderr timeout 2 bot-listen -b irc --irc-server "127.0.0.1:$IRC_PORT" --session none
	run jq -r 'select(.type=="connection") | .state' <<< "$output"
	assert_output $'connecting\nconnected'
}

@test "a 464 after the connect ends bot-listen with 77: one attempt, one disconnected event" {
	fake_ircd badpass
	BOT_IRC_PASSWORD=wrong run -77 --separate-stderr timeout 20 bot-listen -b irc \
		--irc-server "127.0.0.1:$IRC_PORT" --session none
	run jq -c 'select(.type=="connection") | [.state, .retry_in]' <<< "$output"
	assert_output $'["connecting",null]\n["disconnected",null]'
	run grep -c '^NICK ' "$IRC_LOG"
	assert_output 1
}

@test "while stdout's reader is stopped, the server's PINGs still get their PONGs" {
	# 33,000 lines of chat: past the 8 MiB bot-listen queues for a
	# stopped reader (so it lags), then PINGs every 0.2 s.  Not under
	# valgrind, which takes minutes over 10 MiB of events (test-irc's
	# "while the reader lags" runs there).
	[ "${VALGRIND:-}" != 1 ] || skip "minutes under valgrind"
	LAGPING_CHAT=33000 LAGPING_PINGS=10 fake_ircd lagping
	mkfifo "$W/fifo"
	exec 8<> "$W/fifo"   # the reader: holds the pipe open, never reads
	bot-listen -b irc --irc-server "127.0.0.1:$IRC_PORT" --session none > "$W/fifo" 2> "$W/err" 8<&- &
	LPID=$!
	wait_for "$IRC_LOG" '^PONG :k10$' 30
	run grep -c '^PONG :k' "$IRC_LOG"
	assert_output 10
	kill -0 "$LPID"   # still serving
}

@test "10,000 queued lines all go out, in order, paced by the flood bucket, in bounded memory" {
	fake_ircd ok
	seq 1 10000 > "$W/lines"
	start=$(date +%s%N)
	with_rss bot-send -b irc --irc-server "127.0.0.1:$IRC_PORT" --irc-rate 1000 --irc-burst 5 \
		--raw --to '#flood' < "$W/lines" > "$W/sent"
	end=$(date +%s%N)
	run jq -r .type "$W/sent"
	assert_output sent
	sed -n 's/^PRIVMSG #flood ://p' "$IRC_LOG" > "$W/got"
	cmp "$W/lines" "$W/got"
	# 9,995 lines past the burst at 1,000 a second: at least 9.9 s
	[ $(( (end - start) / 1000000 )) -ge 9900 ]
	assert_rss_below 32768
}

@test "a plain connection loads neither libcurl nor OpenSSL; --irc-tls loads them" {
	fake_ircd ok
	bot-listen -b irc --irc-server "127.0.0.1:$IRC_PORT" --session none > "$W/events" 2> "$W/err" &
	LPID=$!
	wait_for "$W/events" '"state":"connected"'
	run grep -Ec 'libcurl|libssl|libcrypto|libbothttp' "/proc/$LPID/maps"
	assert_output 0
	kill "$LPID"
	wait "$LPID" || true
	# the fake speaks no TLS: the handshake waits, with libbothttp loaded
	bot-listen -b irc --irc-server "localhost:$IRC_PORT" --irc-tls --session none > "$W/events" 2> "$W/err" &
	LPID=$!
	local i
	for i in $(seq 100); do grep -q libcurl "/proc/$LPID/maps" && break; sleep 0.05; done
	grep -q libcurl "/proc/$LPID/maps"
}
