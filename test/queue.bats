#!/usr/bin/env bats
# bot-queue: the pipeline through a real nats-server with JetStream, and
# each command answered once whatever dies on the way.

load helpers/common
load helpers/nats

setup() {
	export BOT_SESSION=none
	W=$BATS_TEST_TMPDIR
	PIDS=() GROUPS_STARTED=()
	P=$W/plugins
	mkdir -p -m 700 "$P"
	printf '#!/bin/sh\necho "got $1"\n' > "$P/say"
	# kills the worker that runs it: bot-queue is its bot-dispatch's parent
	printf '#!/bin/sh\nkill -KILL "$(ps -o ppid= -p "$PPID")"\nsleep 5\n' > "$P/crash"
	chmod 755 "$P/say" "$P/crash"
	nats_start
}

teardown() {
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for g in "${GROUPS_STARTED[@]}"; do kill -TERM -- "-$g" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	for g in "${GROUPS_STARTED[@]}"; do
		for _ in $(seq 100); do kill -0 -- "-$g" 2>/dev/null || break; sleep 0.05; done
	done
	nats_stop
	if grep -l 'Sanitizer\|runtime error' "$W"/*.err 2>/dev/null; then
		cat "$W"/*.err
		return 1
	fi
	return 0
}

example() { python3 "$ROOT/test/helpers/examples.py" get "$ROOT/$1" "$2"; }

# Run a man page's topology: each line a machine (comments aside), the
# publishing one first and to its end, the others in the background, each
# in a process group of its own; the console backend at both ends, the
# plugins in ./plugins.
run_topology() {
	cd "$W"
	ln -s "$P" plugins
	export BOT_TEXT_INPUT=$W/typed BOT_TEXT_OUTPUT=$W/console
	local line
	while IFS= read -r line; do
		case $line in
		'#'* | '') ;;
		*publish*) bash -c "$line" > "$W/publish.out" 2> "$W/publish.err" ;;
		*)
			setsid bash -c "$line" >> "$W/bg.out" 2>> "$W/bg.err" 3>&- &
			GROUPS_STARTED+=("$!")
			;;
		esac
	done <<< "$1"
}

# The console shows "got I" once for each I of 1..N, also a while later.
console_once() {
	wait_lines "$W/console" '^got ' "$1" 120
	sleep 3
	assert_equal "$(grep '^got ' "$W/console" | sed 's/^got //' | sort -n | paste -sd,)" "$(seq "$1" | paste -sd,)"
}

# N commands "!say I" as typed lines, for bot-listen -b text.
commands() { seq "$1" | sed 's/^/!say /' > "$W/typed"; }

publish() {
	bot-listen -b text --text-input "$W/typed" --text-output /dev/null |
		bot-queue publish > "$W/publish.out" 2> "$W/publish.err"
}

# worker NAME [OPTION...]: a worker running bot-dispatch --done, in the
# background; its pid in WORKER.
worker() {
	local name=$1; shift
	bot-queue work --ack-wait 2 "$@" -- bot-dispatch --done -d "$P" \
		> "$W/$name.out" 2> "$W/$name.err" &
	WORKER=$!
	PIDS+=("$WORKER")
}

# The far end: subscribe, the events kept in sub.ndjson, to bot-send -b
# text, which writes the console and its sent events.
subscriber() {
	{ bot-queue subscribe "$@" 2> "$W/subscribe.err" & echo $! > "$W/subscribe.pid"; wait; } |
		tee "$W/sub.ndjson" | bot-send -b text --text-output "$W/console" > "$W/sent.ndjson" &
	PIDS+=($!)
	wait_for "$W/subscribe.pid" . 5
	SUBSCRIBER=$(cat "$W/subscribe.pid")
	PIDS+=("$SUBSCRIBER")
}

# Wait until FILE has N lines matching RE (up to SECS, 300).
wait_lines() {
	local file=$1 re=$2 n=$3 secs=${4:-300} i=0
	until [ "$(grep -c -- "$re" "$file" 2>/dev/null)" -ge "$n" ]; do
		i=$((i + 1))
		if [ $i -gt $((secs * 4)) ]; then
			echo "$file: $(grep -c -- "$re" "$file") lines /$re/ after $secs s, not $n" >&2
			return 1
		fi
		sleep 0.25
	done
}

# Every one of the N commands answered once: on the console, in the
# events subscribe wrote (one reply per in_reply_to) and in bot-send's.
# Waits for the answers, then past an ack wait for any late second one.
answered_once() {
	local n=$1
	wait_lines "$W/sent.ndjson" '"type":"sent"' "$n"
	sleep 3
	kill -TERM "$SUBSCRIBER"
	wait_for "$W/sent.ndjson" . 1
	run sort "$W/console"
	assert_equal "$(printf '%s\n' "$output" | uniq -d | head -3)" ""
	assert_equal "$(wc -l < "$W/console")" "$n"
	assert_equal "$(sed 's/^got //' "$W/console" | sort -n | paste -sd,)" "$(seq "$n" | paste -sd,)"
	run -0 jq -r 'select(.type=="message") | .in_reply_to' "$W/sub.ndjson"
	assert_equal "$(printf '%s\n' "$output" | sort | uniq -c | awk '$1 != 1' | head -3)" ""
	assert_equal "${#lines[@]}" "$n"
}

@test "bot-dispatch --done: one done per input, after its outputs, in input order" {
	printf '#!/bin/sh\nsleep 0.3\necho slow\n' > "$P/slow"; chmod 755 "$P/slow"
	{ dm '!slow' a; dm 'hello' b; dm '!say x' c; echo '{"type":"connection","state":"connected"}'; } > "$W/in"
	run -0 bash -c "bot-dispatch --done -d '$P' < '$W/in' | jq -c '[.type, .ref // .in_reply_to]'"
	# the quick answer goes out at once; each done waits for the inputs before it
	assert_output $'["message","c"]\n["message","a"]\n["done","a"]\n["done","b"]\n["done","c"]\n["done",null]'
	run -0 bash -c "bot-dispatch -d '$P' < '$W/in' | jq -r .type | sort -u"
	assert_output "message"
}

@test "bot-dispatch --done: a poller's run belongs to no input and holds no done back" {
	printf '#!/bin/sh\nsleep 1\necho slow\n' > "$P/slow"
	printf '#!/bin/sh\n# every: 1s\n# to: @ops\nsleep 2.5\necho tick\n' > "$P/tick"
	chmod 755 "$P/slow" "$P/tick"
	# the poller starts at 1 s, while !slow (0 to 1 s) still runs
	dm '!slow' a > "$W/in"
	run -0 bash -c "{ sleep 0.5; cat '$W/in'; sleep 4.5; } | bot-dispatch --done -d '$P' | jq -c '[.type, .ref // .body]'"
	assert_line --index 0 '["message","slow"]'
	assert_line --index 1 '["done","a"]'
	assert_line --index 2 '["message","tick"]'
}

@test "publish, three workers, subscribe: 10,000 commands are each answered once" {
	commands 10000
	publish
	assert_equal "$(cat "$W/publish.err")" ""
	run -0 jq -r .state "$W/publish.out"
	assert_output $'connecting\nconnected'
	for i in 1 2 3; do worker "w$i"; done
	subscriber
	answered_once 10000
	for i in 1 2 3; do grep -q '"state":"connected"' "$W/w$i.out"; done
}

@test "publishing the same events again stores none of them twice" {
	commands 50
	publish
	publish
	worker w1
	subscriber
	answered_once 50
}

@test "an id seen within the duplicate window is dropped; after it, the same id is a new event" {
	dm '!say a' 1 | bot-queue publish --duplicate-window 2 > /dev/null
	dm '!say b' 1 | bot-queue publish > /dev/null
	# (whichever of the two makes botpipe.out's stream sets its window)
	worker w1 --duplicate-window 2
	subscriber --duplicate-window 2
	wait_lines "$W/console" '^got ' 1 30
	# the server forgets an id between one and two windows after it
	sleep 5
	dm '!say c' 1 | bot-queue publish > /dev/null
	wait_lines "$W/console" '^got ' 2 30
	sleep 1
	assert_equal "$(cat "$W/console")" $'got a\ngot c'
}

@test "a worker killed with SIGKILL mid-stream: every command is still answered, none twice" {
	commands 10000
	publish
	for i in 1 2 3; do worker "w$i"; done
	victim=$WORKER
	subscriber
	wait_lines "$W/sent.ndjson" '"type":"sent"' 2500
	kill -KILL "$victim"
	worker w4
	answered_once 10000
	# the killed worker had inputs in flight: another ran them again
	run -0 jq -r 'select(.type=="message") | .in_reply_to' "$W/sub.ndjson"
}

@test "nats-server restarted mid-stream: nothing lost, nothing doubled" {
	commands 10000
	publish
	for i in 1 2 3; do worker "w$i"; done
	subscriber
	wait_lines "$W/sent.ndjson" '"type":"sent"' 2500
	nats_restart
	answered_once 10000
	# each program saw the server go and come back
	grep -q '"state":"disconnected"' "$W/w1.out"
	grep -q '"state":"connected","attempt":1' "$W/w1.out"
	grep -q '"state":"disconnected"' "$W/sub.ndjson"
}

@test "publish goes on once the server is back, each event stored once" {
	commands 2000
	{ bot-listen -b text --text-input "$W/typed" --text-output /dev/null |
		bot-queue publish > "$W/publish.out" 2> "$W/publish.err"; echo $? > "$W/publish.rc"; } &
	PIDS+=($!)
	sleep 0.3
	nats_restart
	wait_for "$W/publish.rc" . 120
	assert_equal "$(cat "$W/publish.rc")" 0
	worker w1
	worker w2
	subscriber
	answered_once 2000
}

@test "a command that always kills its worker ends in the dead letters; the others are answered" {
	{ echo '!say 1'; echo '!crash'; seq 2 30 | sed 's/^/!say /'; } > "$W/typed"
	publish
	# workers that come back when killed, as a service manager would start them
	for i in 1 2; do
		bash -c 'trap "kill \$c 2>/dev/null; exit" TERM
			while [ ! -e "$0/stop" ]; do
				bot-queue work --ack-wait 1 --max-deliveries 3 -- bot-dispatch --done -d "$0/plugins" >> "$0/w.out" 2>> "$0/w.err" &
				c=$!; wait $c
			done' "$W" &
		PIDS+=($!)
	done
	subscriber
	wait_lines "$W/sent.ndjson" '"type":"sent"' 30 60
	setsid bash -c "$(example doc/bot-queue.1 'bot-queue subscribe -s botpipe.dead')" > "$W/dead" 2> "$W/dead.err" &
	GROUPS_STARTED+=("$!")
	wait_for "$W/dead" . 10
	touch "$W/stop"
	sleep 1
	assert_equal "$(cat "$W/dead")" '!crash'
	# it was given out 3 times, then moved
	grep -q 'delivered 4 times; moved to botpipe.dead' "$W/w.err"
	answered_once 30
}

@test "a message that is not one event line never reaches the command: it goes to the dead letters" {
	{ dm '!say 1' 1; dm '!say 2' 2; } > "$W/two-lines"
	bot-queue publish < /dev/null > /dev/null   # makes the stream
	nats_raw_pub botpipe.in "$W/two-lines"
	printf 'not json' > "$W/junk"
	nats_raw_pub botpipe.in "$W/junk"
	dm '!say 3' 3 | bot-queue publish > /dev/null
	worker w1
	subscriber
	wait_lines "$W/sent.ndjson" '"type":"sent"' 1 30
	sleep 1
	assert_equal "$(cat "$W/console")" "got 3"
	grep -q 'botpipe.in: message 1: not one line; moved to botpipe.dead' "$W/w1.err"
	grep -q 'botpipe.in: message 2: not valid JSON: .*; moved to botpipe.dead' "$W/w1.err"
	# kept there as they came; subscribe says what they are not
	timeout 5 bot-queue subscribe -s botpipe.dead > "$W/dead" 2> "$W/dead.log" || true
	run -0 jq -r .type "$W/dead"
	assert_output $'connection\nconnection'
	run cat "$W/dead.log"
	assert_line --index 0 'bot-queue: error: botpipe.dead: message 1: not one line'
	assert_line --index 1 --regexp '^bot-queue: error: botpipe.dead: message 2: not valid JSON: '
}

@test "credentials come from the environment, never show in output, errors or ps" {
	secret=tok-$RANDOM-s3cr3t-$RANDOM
	nats_stop
	NATS_PORT= NATS_DIR=$W/nats-auth nats_start "authorization { token: \"$secret\" }"
	echo '{"type":"x","id":"1"}' > "$W/in"
	BOT_NATS_TOKEN=$secret run -0 --separate-stderr bot-queue publish < "$W/in"
	[ -z "$stderr" ]
	BOT_NATS_TOKEN=$secret timeout 5 bot-queue subscribe -s botpipe.in > "$W/got" 2> "$W/got.err" &
	PIDS+=($!)
	wait_for "$W/got" '"type":"x"' 5
	run -0 ps -eo args
	refute_output --partial "$secret"
	run -77 --separate-stderr env BOT_NATS_TOKEN=wrong-$secret bot-queue publish < "$W/in"
	assert_equal "$stderr" "bot-queue: error: nats: Authorization Violation"
	run -64 --separate-stderr bot-queue publish --nats-url "nats://u:$secret@127.0.0.1:$NATS_PORT" < "$W/in"
	refute_output --partial "$secret"
	[[ "$stderr" != *"$secret"* ]]
	[[ "$stderr" == *"credentials do not go in the URL"* ]]
	! grep -rqF -- "$secret" "$W/got" "$W/got.err"
}

@test "TLS: with --nats-ca the server's certificate is checked; without it the connection is refused" {
	nats_stop
	nats_cert
	NATS_PORT= nats_start "$NATS_TLS_CONF"
	echo '{"type":"x","id":"1"}' > "$W/in"
	run -0 --separate-stderr bot-queue publish --nats-ca "$NATS_DIR/cert.pem" < "$W/in"
	[ -z "$stderr" ]
	bot-queue subscribe -s botpipe.in --nats-ca "$NATS_DIR/cert.pem" > "$W/tls.out" 2> "$W/tls.err" &
	PIDS+=($!)
	wait_for "$W/tls.out" '"type":"x"' 20
	run -0 jq -c 'select(.type=="x")' "$W/tls.out"
	assert_output '{"type":"x","id":"1"}'
	# a certificate it does not trust
	NATS_DIR=$W/other nats_cert
	run --separate-stderr bot-queue publish --nats-ca "$W/other/cert.pem" < "$W/in"
	[ "$status" -ne 0 ]
	[[ "$stderr" == "bot-queue: error: nats: "* ]]
	run --separate-stderr bot-queue publish --nats-ca "$W/missing.pem" < "$W/in"
	assert_equal "$status" 78
	[[ "$stderr" == "bot-queue: error: --nats-ca $W/missing.pem: "* ]]
}

@test "usage: a mode is needed, work needs a command, a bad subject is named" {
	run -64 --separate-stderr bot-queue
	assert_equal "$stderr" "bot-queue: error: no mode: say publish, work or subscribe"
	run -64 --separate-stderr bot-queue listen
	assert_equal "$stderr" "bot-queue: error: not a mode: listen: say publish, work or subscribe"
	run -64 --separate-stderr bot-queue work
	assert_equal "$stderr" "bot-queue: error: work: no command to run (bot-queue work -- CMD [ARG...])"
	run -64 --separate-stderr bot-queue publish -s 'a b' < /dev/null
	assert_equal "$stderr" "bot-queue: error: --subject: not a subject: a b"
	run -64 --separate-stderr bot-queue work --answered-by maybe -- cat
	assert_equal "$stderr" "bot-queue: error: --answered-by: done or sent, not maybe"
}

@test "a worker whose command cannot run says so and exits 127; its input waits for another" {
	echo '{"type":"x","id":"1"}' | bot-queue publish > /dev/null
	run -127 --separate-stderr bot-queue work -- /nonexistent/cmd
	[[ "$stderr" == *"/nonexistent/cmd: cannot run the command"* ]]
}

@test "work --answered-by sent: bot-send as the worker's command, its sent events the answers" {
	{ dm 'one' 1; dm 'two' 2; echo '{"type":"presence","status":"online"}'; } > "$W/in"
	bot-queue publish < "$W/in" > /dev/null
	bot-queue work --ack-wait 2 --answered-by sent -- bot-send -b text --text-output "$W/console" > /dev/null 2> "$W/w.err" &
	w=$!
	PIDS+=("$w")
	timeout 5 bot-queue subscribe > "$W/out" 2> /dev/null || true
	# every input answered: the worker stops at once, and cleanly
	kill -TERM "$w"
	rc=0
	wait "$w" || rc=$?
	assert_equal "$rc" 0
	run -0 jq -c '[.type, .ref // .state // .code]' "$W/out"
	# the console cannot show a presence: that error is its answer
	assert_output $'["connection","connecting"]\n["connection","connected"]\n["sent","1"]\n["sent","2"]\n["error","unsupported"]'
	assert_equal "$(cat "$W/console")" $'one\ntwo'
}

@test "the example of bot-queue.1: listener, two workers and sender apart, each command answered once" {
	commands 200
	ex=$(example doc/bot-queue.1 'bot-queue work -- bot-dispatch --done -d plugins')
	# one more worker: the same line twice
	run_topology "$ex
$(grep 'work' <<< "$ex")"
	assert_equal "$(cat "$W/publish.err")" ""
	console_once 200
	[ "$(grep -c '"type":"sent"' "$W/bg.out")" -eq 200 ]
}

@test "the topology of botpipe.7 runs as it is written" {
	commands 100
	run_topology "$(example doc/botpipe.7 '# on each worker machine, as many as the load needs')"
	console_once 100
}
