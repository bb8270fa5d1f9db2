#!/usr/bin/env bats
# bot-dispatch --replay: a recorded session gives the same output on every
# run, whatever --jobs says; bot-dispatch --test: transcripts of plugins
# (share/examples/tests) and golden transcripts of the built-ins
# (test/golden) fail with a diff when an answer changes.

load helpers/common

setup_file() {
	P="$BATS_FILE_TMPDIR/plugins"
	mkdir -p "$P"
	cp "$PLUGINS"/* "$P/"
	plugin() { cat > "$P/$1"; chmod +x "$P/$1"; }
	plugin fail <<-'EOF2'
	#!/bin/sh
	# help: Fail
	echo "half an answer"
	exit 3
	EOF2
	plugin slow <<-'EOF2'
	#!/bin/sh
	# help: Take too long
	exec sleep 30
	EOF2
	plugin now <<-'EOF2'
	#!/bin/sh
	# help: Say the time, as the plugin sees it
	echo "it is $BOT_NOW"
	EOF2
	# a few milliseconds, so that later commands finish before earlier ones
	plugin nap <<-'EOF2'
	#!/bin/sh
	# help: Sleep a little, then answer
	sleep "0.0$1"
	echo "slept $1"
	EOF2
	export P
}

# A session of N events: commands (plugins, built-ins, failures, one
# timeout, not found, denied), chatter for the rules, presence, a bad line.
session() {
	python3 - "$1" <<-'EOF2'
	import json, sys
	n = int(sys.argv[1])
	# one in eight is a plugin's: forks are what a replay costs
	cmds = ["!hello bob", "!echo hi {i}", "ping", "just talking {i}", "!whoami", "!nope",
	        "!echo {i}", "!uptime", "!fail", "ping", "!help hello", "chatter", "!history",
	        "!!", "!status", "!nap {d}", "!echo x", "!helo", "!roll 2x", "talk {i}",
	        "!whoami #ops/p1", "!echo {i} {i}", "!now", "ping", "!help", "what {i}",
	        "!echo", "!uptime", "!nothing here", "chat", "!history", "!echo end {i}",
	        "!hello", "more talk", "!2", "!echo {i}", "ping", "!status", "!help builtin", "bye"]
	for i in range(n):
	    who = "p%d" % (i % 7)
	    ts = 1764581000 + i // 3
	    if i == n // 2:
	        body = "!slow"
	    elif i % 997 == 5:
	        print('{"type":"message", broken')
	        continue
	    elif i % 101 == 7:
	        print(json.dumps({"type": "presence", "identifier": "@" + who, "status": "away", "ts": ts}))
	        continue
	    else:
	        body = cmds[i % len(cmds)].format(i=i, d=(i * 7) % 10)
	    if i % 3:
	        frm = {"kind": "occupant", "id": "#ops/" + who, "room": "#ops", "nick": who, "person": "@" + who}
	        to = {"kind": "room", "id": "#ops"}
	    else:
	        frm = {"kind": "person", "id": "@" + who, "person": "@" + who, "nick": who}
	        to = {"kind": "person", "id": "@bot", "person": "@bot", "nick": "bot"}
	    print(json.dumps({"type": "message", "id": str(i + 1), "backend": "text", "from": frm,
	                      "to": to, "body": body, "ts": ts}))
	EOF2
}

RULES='select(.type=="message" and .body=="ping") | reply("pong")'

replay() {
	# 65: the session has bad lines, each answered with a bad_input event
	bot-dispatch --replay -d "$P" -j 8 -t 1 -e "$RULES" --pass "$@" 2>/dev/null || [ $? = 65 ]
}

@test "a 10,000-event session replayed ten times with --jobs 8 gives ten identical outputs" {
	session 10000 > "$BATS_TEST_TMPDIR/log.ndjson"
	# all at once: each run's naps and its timeout overlap the others' work
	pids=()
	for r in 1 2 3 4 5 6 7 8 9 10; do
		replay < "$BATS_TEST_TMPDIR/log.ndjson" > "$BATS_TEST_TMPDIR/out.$r" &
		pids+=("$!")
	done
	for p in "${pids[@]}"; do wait "$p"; done
	for r in 2 3 4 5 6 7 8 9 10; do
		cmp "$BATS_TEST_TMPDIR/out.1" "$BATS_TEST_TMPDIR/out.$r"
	done
	out="$BATS_TEST_TMPDIR/out.1"
	# everything is there: the commands answered, the failures, the timeout
	[ "$(jq -r 'select(.type=="message") | .body' "$out" | grep -c '^Hello, bob!$')" -gt 200 ]
	[ "$(jq -r 'select(.code=="command_failed") | .message' "$out" | grep -c '^fail: exited with status 3$')" -gt 200 ]
	[ "$(jq -r 'select(.code=="command_failed") | .message' "$out" | grep -cx 'slow: timed out')" = 1 ]
	[ "$(jq -r 'select(.body=="pong") | .in_reply_to' "$out" | wc -l)" -gt 400 ]
	[ "$(jq -c 'select(.code=="bad_input")' "$out" | wc -l)" = 11 ]
	# passed through (presence), in place
	[ "$(jq -c 'select(.type=="presence")' "$out" | wc -l)" -gt 90 ]
}

@test "under --replay every output follows its input's order whatever --jobs says" {
	session 600 > "$BATS_TEST_TMPDIR/log.ndjson"
	replay < "$BATS_TEST_TMPDIR/log.ndjson" > "$BATS_TEST_TMPDIR/j8"
	replay -j 1 < "$BATS_TEST_TMPDIR/log.ndjson" > "$BATS_TEST_TMPDIR/j1"
	cmp "$BATS_TEST_TMPDIR/j8" "$BATS_TEST_TMPDIR/j1"
	# each answer's input id (in_reply_to, or the error's event) never goes down
	run -0 jq -r '(.in_reply_to // .event.id // .id // empty) | tonumber' "$BATS_TEST_TMPDIR/j8"
	sort -n -c <<< "$output"
	# while without --replay, naps that end early answer first
	bot-dispatch -d "$P" -j 8 -t 1 < "$BATS_TEST_TMPDIR/log.ndjson" 2>/dev/null |
		jq -r '(.in_reply_to // .event.id // empty) | tonumber' > "$BATS_TEST_TMPDIR/free"
	! sort -n -c "$BATS_TEST_TMPDIR/free" 2>/dev/null
}

@test "under --replay the clock is the recorded one: uptime, BOT_NOW, ids" {
	{
		room_msg '!uptime' 1 | jq -c '.ts = 1764581000'
		room_msg '!now' 2 | jq -c '.ts = 1764584725'
		room_msg '!uptime' 3
		room_msg '!echo a' 4
	} > "$BATS_TEST_TMPDIR/in"
	run -0 bot-dispatch --replay -d "$P" < "$BATS_TEST_TMPDIR/in"
	run -0 jq -r '[.id, .body] | join(" ")' <<< "$output"
	assert_output - <<-'EOF2'
	1.reply I've been up for 0 seconds (since Monday, Dec 01 at 09:23).
	2.reply it is 1764584725
	3.reply I've been up for 1 hours and 2 minutes (since Monday, Dec 01 at 09:23).
	4.reply a
	EOF2
	# --clock: the time before any event has a ts
	run -0 bash -c "$(declare -f room_msg); room_msg '!uptime' | bot-dispatch --replay --clock 86400 | jq -r .body"
	assert_output "I've been up for 0 seconds (since Friday, Jan 02 at 00:00)."
	# BOT_NOW is no setting of any program (a plugin's bot-send would take it)
	for prog in bot-listen bot-dispatch bot-send bot-card bot-room; do
		! "$prog" --help | grep -q -- '--now\b'
	done
}

@test "a second reply to one input gets its own id" {
	plugin() { cat > "$P/$1"; chmod +x "$P/$1"; }
	plugin twice <<-'EOF2'
	#!/bin/sh
	echo '{"type":"message","body":"one"}' >&3
	echo two
	EOF2
	run -0 bash -c "$(declare -f dm); dm '!twice' m7 | bot-dispatch --replay -d '$P' | jq -r '[.id, .in_reply_to, .body] | join(\" \")'"
	assert_output - <<-'EOF2'
	m7.reply m7 one
	m7.reply.2 m7 two
	EOF2
	rm "$P/twice"
}

@test "a recorded pipeline replays: bot-send -b text gives the same console and events" {
	session 300 | grep -v '"!slow"' > "$BATS_TEST_TMPDIR/log.ndjson"
	for r in 1 2 3; do
		replay < "$BATS_TEST_TMPDIR/log.ndjson" |
			BOT_TEXT_OUTPUT="$BATS_TEST_TMPDIR/console.$r" BOT_TEXT_COLOR=never bot-send -b text --session none > "$BATS_TEST_TMPDIR/sent.$r" 2>/dev/null || true
	done
	[ -s "$BATS_TEST_TMPDIR/console.1" ]
	grep -q 'Hello, bob!' "$BATS_TEST_TMPDIR/console.1"
	for r in 2 3; do
		cmp "$BATS_TEST_TMPDIR/console.1" "$BATS_TEST_TMPDIR/console.$r"
		cmp "$BATS_TEST_TMPDIR/sent.1" "$BATS_TEST_TMPDIR/sent.$r"
	done
}

@test "the example plugins' transcripts pass (share/examples/tests)" {
	cd "$ROOT/share/examples"
	run -0 bot-dispatch -d plugins --test tests/hello.chat tests/roll.chat tests/whereami.chat
	assert_output ""
	# every example plugin has one
	for p in plugins/*; do [ -f "tests/${p#plugins/}.chat" ]; done
}

@test "golden transcripts of the built-ins: help, whoami, history, status, uptime, not found" {
	run -0 bot-dispatch -d "$PLUGINS" --test "$ROOT"/test/golden/*.chat
	assert_output ""
	for c in '!help' '!whoami' '!history' '!status' '!uptime' '!helo' '!nothing here'; do
		grep -qx "> $c" "$ROOT/test/golden/builtins.chat"
	done
}

@test "a plugin whose answer changed: a unified diff and exit 1; --update writes what happened" {
	T="$BATS_TEST_TMPDIR"
	mkdir "$T/p"
	cp "$PLUGINS/hello" "$T/p/"
	cp "$ROOT/share/examples/tests/hello.chat" "$T/hello.chat"
	sed -i 's/Hello, %s!/Howdy, %s!/' "$T/p/hello"
	run -1 --separate-stderr bot-dispatch -d "$T/p" --test "$T/hello.chat"
	assert_equal "$stderr" "bot-dispatch: error: $T/hello.chat: the answers differ"
	assert_line --index 0 "--- $T/hello.chat"
	assert_line --index 1 "+++ $T/hello.chat (actual)"
	assert_line -- "-< Hello, alice!"
	assert_line -- "+< Howdy, alice!"
	assert_line -- "-< Hello, Ada Lovelace!"
	assert_line -- "+< Howdy, Ada Lovelace!"
	# the parts that stay the same are context, not changes
	refute_line -- "-> !hello"
	run -0 bot-dispatch -d "$T/p" --test --update "$T/hello.chat"
	run -0 bot-dispatch -d "$T/p" --test "$T/hello.chat"
	# only the answers changed
	sed 's/^< Hello, /< Howdy, /' "$ROOT/share/examples/tests/hello.chat" | diff - "$T/hello.chat"
}

@test "a new transcript: answers written after each line said; who, where, raw events, several lines" {
	T="$BATS_TEST_TMPDIR"
	cat > "$T/new.chat" <<-'EOF2'
	# who: @alice in #ops
	> !echo one
	. two

	# who: @bob
	> !hello
	>{"type":"presence","identifier":"@carol","status":"away"}
	# who: @carol in #dev
	> !nope
	EOF2
	run -0 bot-dispatch -e 'select(.type=="presence") | {type:"message",to:"#ops",body:"\(.identifier) is away"}' \
		-d "$PLUGINS" --test --update "$T/new.chat"
	run cat "$T/new.chat"
	assert_output - <<-'EOF2'
	# who: @alice in #ops
	> !echo one
	. two
	< one
	. two

	# who: @bob
	> !hello
	< Hello, bob!
	>{"type":"presence","identifier":"@carol","status":"away"}
	<{"body":"@carol is away","to":"#ops","type":"message"}
	# who: @carol in #dev
	> !nope
	< Command "nope" not found.
	EOF2
}

@test "a failing command in a transcript: the reply and the error event" {
	T="$BATS_TEST_TMPDIR"
	printf '> !fail\n> !slow\n' > "$T/f.chat"
	run -0 bot-dispatch -d "$P" -t 1 --test --update "$T/f.chat"
	run cat "$T/f.chat"
	assert_output - <<-'EOF2'
	> !fail
	< Computer says nooo. See logs for details:
	. fail: exited with status 3
	<! command_failed: fail: exited with status 3
	> !slow
	< Computer says nooo. See logs for details:
	. slow: timed out
	<! command_failed: slow: timed out
	EOF2
}

@test "a bad transcript line: one line naming the file and line, exit 65" {
	T="$BATS_TEST_TMPDIR"
	printf '> !echo a\n< a\nhello\n' > "$T/bad.chat"
	run -65 --separate-stderr bot-dispatch --test "$T/bad.chat"
	assert_equal "$stderr" "bot-dispatch: error: $T/bad.chat:3: not a transcript line: >, <, ., # or an empty line"
	printf '< a\n' > "$T/bad.chat"
	run -65 --separate-stderr bot-dispatch --test "$T/bad.chat"
	assert_equal "$stderr" "bot-dispatch: error: $T/bad.chat:1: an answer (\"<\") before anything was said (\">\")"
	printf '>{"no":"type"}\n' > "$T/bad.chat"
	run -65 --separate-stderr bot-dispatch --test "$T/bad.chat"
	assert_equal "$stderr" "bot-dispatch: error: $T/bad.chat:1: not an event (a JSON object with a \"type\")"
	printf '# who: alice\n' > "$T/bad.chat"
	run -65 --separate-stderr bot-dispatch --test "$T/bad.chat"
	assert_equal "$stderr" "bot-dispatch: error: $T/bad.chat:1: write \"# who: @NAME\" or \"# who: @NAME in #ROOM\""
	run -64 --separate-stderr bot-dispatch --test
	assert_equal "$stderr" "bot-dispatch: error: --test: name the transcripts to run (FILE.chat ...)"
	# the file is left as it was
	run -65 bot-dispatch --test --update "$T/bad.chat"
	[ "$(cat "$T/bad.chat")" = "# who: alice" ]
}

@test "files and --update are only for --test" {
	run -64 --separate-stderr bot-dispatch foo.chat < /dev/null
	assert_equal "$stderr" "bot-dispatch: error: foo.chat: only --test takes files (transcripts); events come on standard input"
	run -64 --separate-stderr bot-dispatch --update < /dev/null
	assert_equal "$stderr" "bot-dispatch: error: --update: only with --test"
}
