#!/usr/bin/env bats
# Faults: a reader that goes away, kill -9, a slow reader, a silent peer.
# Each test counts what came out against what went in.

load helpers/hostile

setup() {
	in=$BATS_TEST_TMPDIR/in.ndjson
	seq 1 "${N:-200000}" | awk '{ printf "{\"type\":\"message\",\"to\":\"#ops\",\"body\":\"m%d\"}\n", $1 }' > "$in"
}

teardown() {
	stop_fake
	for p in ${KILL_PIDS:-}; do kill -9 "$p" 2>/dev/null || true; done
}

# Run "$@ < $in | head -1" and record the upstream status and stderr.
upstream_of_head() {
	"$@" < "$in" 2> "$BATS_TEST_TMPDIR/err" | head -n 1 > "$BATS_TEST_TMPDIR/out"
	echo "${PIPESTATUS[0]}" > "$BATS_TEST_TMPDIR/rc"
}

@test "bot-dispatch --pass | head -1: one line saying stdout broke, exit 74" {
	upstream_of_head bot-dispatch --pass
	assert_equal "$(cat "$BATS_TEST_TMPDIR/rc")" 74
	assert_equal "$(cat "$BATS_TEST_TMPDIR/err")" "bot-dispatch: error: stdout: Broken pipe"
	assert_equal "$(cat "$BATS_TEST_TMPDIR/out")" "$(head -n 1 "$in")"
}

@test "bot-send | head -1: exit 74, one line, and it stops delivering" {
	bot-send --text-output "$BATS_TEST_TMPDIR/chat" < "$in" 2> "$BATS_TEST_TMPDIR/err" | head -n 1 > /dev/null
	assert_equal "${PIPESTATUS[0]}" 74
	assert_equal "$(cat "$BATS_TEST_TMPDIR/err")" "bot-send: error: stdout: Broken pipe"
	# it noticed at once: far fewer than all 200000 reached the chat
	[ "$(wc -l < "$BATS_TEST_TMPDIR/chat")" -lt 100000 ]
}

@test "bot-listen | head -1: exit 74 and one line saying it stopped" {
	seq 1 200000 | sed 's/^/line /' > "$BATS_TEST_TMPDIR/typed"
	bot-listen --text-input "$BATS_TEST_TMPDIR/typed" --text-output /dev/null 2> "$BATS_TEST_TMPDIR/err" | head -n 1 > /dev/null
	assert_equal "${PIPESTATUS[0]}" 74
	assert_equal "$(cat "$BATS_TEST_TMPDIR/err")" "bot-listen: error: stdout: Broken pipe: stopped listening"
}

@test "bot-dispatch writes out everything it has read before it waits: kill -9 then loses nothing" {
	mkfifo "$BATS_TEST_TMPDIR/fifo"
	bot-dispatch --pass < "$BATS_TEST_TMPDIR/fifo" > "$BATS_TEST_TMPDIR/out" 2>/dev/null &
	pid=$!
	KILL_PIDS=$pid
	exec 5> "$BATS_TEST_TMPDIR/fifo"
	head -n 1000 "$in" >&5
	for _ in $(seq 1 100); do
		[ "$(wc -l < "$BATS_TEST_TMPDIR/out")" -ge 1000 ] && break
		sleep 0.05
	done
	kill -9 "$pid"
	wait "$pid" || true
	exec 5>&-
	cmp "$BATS_TEST_TMPDIR/out" <(head -n 1000 "$in")
}

@test "bot-send acknowledges each delivery at once: kill -9 while idle loses no sent event" {
	mkfifo "$BATS_TEST_TMPDIR/fifo"
	bot-send --text-output "$BATS_TEST_TMPDIR/chat" < "$BATS_TEST_TMPDIR/fifo" > "$BATS_TEST_TMPDIR/out" 2>/dev/null &
	pid=$!
	KILL_PIDS=$pid
	exec 5> "$BATS_TEST_TMPDIR/fifo"
	head -n 500 "$in" >&5
	for _ in $(seq 1 100); do
		[ "$(wc -l < "$BATS_TEST_TMPDIR/out")" -ge 500 ] && break
		sleep 0.05
	done
	kill -9 "$pid"
	wait "$pid" || true
	exec 5>&-
	assert_equal "$(jq -r .type "$BATS_TEST_TMPDIR/out" | sort | uniq -c | awk '{print $1, $2}')" "500 sent"
	assert_equal "$(wc -l < "$BATS_TEST_TMPDIR/chat")" 500
}

@test "bot-listen writes each event as it happens: kill -9 loses no typed line" {
	mkfifo "$BATS_TEST_TMPDIR/fifo"
	bot-listen --text-input "$BATS_TEST_TMPDIR/fifo" --text-output /dev/null > "$BATS_TEST_TMPDIR/out" 2>/dev/null &
	pid=$!
	KILL_PIDS=$pid
	exec 5> "$BATS_TEST_TMPDIR/fifo"
	seq 1 300 | sed 's/^/typed /' >&5
	for _ in $(seq 1 100); do
		[ "$(grep -c '"type":"message"' "$BATS_TEST_TMPDIR/out")" -ge 300 ] && break
		sleep 0.05
	done
	kill -9 "$pid"
	wait "$pid" || true
	exec 5>&-
	run jq -r 'select(.type=="message") | .body' "$BATS_TEST_TMPDIR/out"
	assert_equal "$output" "$(seq 1 300 | sed 's/^/typed /')"
}

@test "kill -9 in mid-stream: what bot-dispatch wrote is whole lines, in order, a prefix of the input" {
	bot-dispatch --pass < "$in" > "$BATS_TEST_TMPDIR/out" 2>/dev/null &
	pid=$!
	KILL_PIDS=$pid
	sleep 0.2
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" || true
	n=$(wc -l < "$BATS_TEST_TMPDIR/out")
	# every complete line is the input's line of the same number
	cmp <(head -n "$n" "$BATS_TEST_TMPDIR/out") <(head -n "$n" "$in")
	# a torn last line can only be the start of the next input line
	tail -c +"$(( $(head -n "$n" "$BATS_TEST_TMPDIR/out" | wc -c) + 1 ))" "$BATS_TEST_TMPDIR/out" > "$BATS_TEST_TMPDIR/torn"
	if [ -s "$BATS_TEST_TMPDIR/torn" ]; then
		sed -n "$((n + 1))p" "$in" | head -c "$(wc -c < "$BATS_TEST_TMPDIR/torn")" | cmp - "$BATS_TEST_TMPDIR/torn"
	fi
}

@test "a slow reader: bot-dispatch waits for it in bounded memory and loses nothing" {
	# 200000 events (9.5 MB) into a reader that sleeps 3 s before reading
	with_rss bot-dispatch --pass < "$in" 2>/dev/null | { sleep 3; cat > "$BATS_TEST_TMPDIR/out"; }
	cmp "$BATS_TEST_TMPDIR/out" "$in"
	assert_rss_below 12000
}

@test "a slow reader: bot-send waits for it in bounded memory and acknowledges every event" {
	N=50000
	head -n 50000 "$in" | with_rss bot-send --text-output /dev/null 2>/dev/null | { sleep 2; jq -r .type > "$BATS_TEST_TMPDIR/out"; }
	assert_equal "$(sort "$BATS_TEST_TMPDIR/out" | uniq -c | awk '{print $1, $2}')" "50000 sent"
	assert_rss_below 12000
}

@test "a webhook peer that accepts and says nothing: --timeout fires, exit 75, an error event, nothing hangs" {
	fake_http '{"responses": [{"hang": 30}]}'
	export BOT_WEBHOOK_URL="http://127.0.0.1:$FAKE_PORT/hook"
	start=$(date +%s)
	run --separate-stderr timeout 20 bot-send -b webhook --timeout 1 --retries 0 <<< '{"type":"message","to":"#ops","body":"hello"}'
	elapsed=$(( $(date +%s) - start ))
	assert_equal "$status" 75
	[ "$elapsed" -lt 6 ]
	assert_equal "$(echo "$output" | jq -r '.type + " " + .code')" "error send_failed"
	echo "$output" | jq -r .message | grep -q 'timed out'
	# the request did arrive: the time went to waiting for an answer
	assert_equal "$(jq -r .body "$FAKE_LOG" | jq -r .text)" "hello"
}

@test "a webhook peer that accepts and says nothing: the default timeout is finite (30 s)" {
	run bot-send -b webhook --help
	assert_output --partial "--timeout SECONDS"
	assert_output --regexp "give up on one request after SECONDS.*default: 30"
}

# Run "$@" with stdin and stdout one end of a socketpair (as inetd, socat or
# a terminal give it), send N lines, read only after a second; prints
# "<lines back> <exit status>".
socket_run() {
	python3 - "$@" <<'PY'
import socket, subprocess, sys, threading, time
n = int(sys.argv[1])
a, b = socket.socketpair()
p = subprocess.Popen(sys.argv[2:], stdin=b, stdout=b, stderr=subprocess.DEVNULL)
b.close()
def feed():
    try:
        for i in range(n):
            a.sendall(b'{"type":"message","to":"#ops","body":"m%d"}\n' % i)
        a.shutdown(socket.SHUT_WR)
    except OSError:
        pass
t = threading.Thread(target=feed)
t.start()
time.sleep(1)
got = b""
while True:
    d = a.recv(65536)
    if not d:
        break
    got += d
t.join()
print(got.count(b"\n"), p.wait())
PY
}

@test "stdin and stdout one socket, read slowly: bot-dispatch waits for it and loses nothing" {
	# bot-dispatch makes stdin non-blocking, which makes that socket's
	# stdout non-blocking too: a full buffer must mean wait, not fail
	run socket_run 100000 bot-dispatch --pass
	assert_output "100000 0"
	run socket_run 20000 bot-send --text-output /dev/null
	assert_output "20000 0"
}
