#!/usr/bin/env bats
# The three programs together, and each one's contract with the stream.

load helpers/common

# bot-listen and bot-send write to different files here: no session socket
# between them (botpipe-session(7)), or a reply would go to bot-listen's.
setup() { export BOT_SESSION=none; SRV=; }
teardown() { [ -z "$SRV" ] || "$BATS_TEST_DIRNAME/helpers/ngircd.sh" stop "$SRV"; }

@test "the console bot answers !echo through the whole pipeline" {
	printf '!echo hi\n' > "$BATS_TEST_TMPDIR/typed"
	bot-listen -b text --text-input "$BATS_TEST_TMPDIR/typed" --text-output /dev/null |
		bot-dispatch -d "$PLUGINS" |
		bot-send -b text --text-output "$BATS_TEST_TMPDIR/console" > "$BATS_TEST_TMPDIR/events"
	run cat "$BATS_TEST_TMPDIR/console"
	assert_output "hi"
	run jq -c '[.type, .to.id]' "$BATS_TEST_TMPDIR/events"
	assert_output '["sent","@you"]'
}

@test "the example plugins answer, in a room with the sender's mention" {
	printf '!hello\n!inroom\n!hello Ann\n!roll 3d1x\n' > "$BATS_TEST_TMPDIR/typed"
	bot-listen -b text --text-input "$BATS_TEST_TMPDIR/typed" --text-output /dev/null |
		bot-dispatch -d "$PLUGINS" -j 1 |
		bot-send -b text --text-output "$BATS_TEST_TMPDIR/console" > /dev/null
	run cat "$BATS_TEST_TMPDIR/console"
	assert_line --index 0 "Hello, you!"
	assert_line --index 1 "@you Hello, Ann!"
	assert_line --index 2 '@you I roll dice written like 2d6, not 3d1x.'
}

@test "a bad line in the middle of a stream is reported and the rest flows" {
	{ dm '!echo one' 1; echo 'this is not json'; dm '!echo two' 3; } > "$BATS_TEST_TMPDIR/in"
	run --separate-stderr bot-dispatch -j 1 < "$BATS_TEST_TMPDIR/in"
	assert_equal "$status" 65
	assert_equal "$stderr" "bot-dispatch: error: <stdin>:2: not valid JSON: Invalid literal at line 1, column 5"
	run jq -c 'if .type=="error" then [.code, .event] else .body end' <<< "$output"
	assert_line --index 0 '"one"'
	assert_line --index 1 '["bad_input","this is not json"]'
	assert_line --index 2 '"two"'
}

@test "every bad-input case gives one line naming the line, and loses no other" {
	printf '{"type":"x","a":1}\n[1]\n{"no":"type"}\n{"type":"x","s":"\xff"}\n{"type":"x"}\0\n{"type":"x","b":2}\n' > "$BATS_TEST_TMPDIR/in"
	run --separate-stderr bot-dispatch --pass < "$BATS_TEST_TMPDIR/in"
	assert_equal "${#stderr_lines[@]}" 4
	assert_equal "${stderr_lines[0]}" "bot-dispatch: error: <stdin>:2: not an object: array"
	assert_equal "${stderr_lines[1]}" 'bot-dispatch: error: <stdin>:3: no "type" string'
	assert_equal "${stderr_lines[2]}" "bot-dispatch: error: <stdin>:4: invalid UTF-8"
	assert_equal "${stderr_lines[3]}" "bot-dispatch: error: <stdin>:5: NUL byte in line"
	assert_line --index 0 '{"type":"x","a":1}'
	assert_line --index 5 '{"type":"x","b":2}'
	run jq -c 'select(.type=="error") | .line' <<< "$output"
	assert_output $'2\n3\n4\n5'
}

@test "a line over --max-line is reported and skipped" {
	{ echo '{"type":"x","n":1}'; printf '{"type":"x","pad":"%05000d"}\n' 0; echo '{"type":"x","n":3}'; } > "$BATS_TEST_TMPDIR/in"
	run --separate-stderr bot-dispatch --pass --max-line 1000 < "$BATS_TEST_TMPDIR/in"
	assert_equal "$stderr" "bot-dispatch: error: <stdin>:2: line longer than 1000 bytes (5021 bytes), skipped"
	run jq -c '[.type, .n // .code, .truncated]' <<< "$output"
	assert_output $'["x",1,null]\n["error","bad_input",true]\n["x",3,null]'
}

@test "unknown fields survive bot-dispatch --pass byte for byte" {
	line='{"type":"presence","zz":[1,{"b":2,"a":1}],"identifier":"@a","status":"online","x-custom":"é"}'
	run bot-dispatch --pass <<< "$line"
	assert_output "$line"
}

@test "unknown fields survive into a reply's error event in bot-send" {
	line='{"type":"message","to":"nobody","body":"x","custom":{"k":[3,2,1]}}'
	run --separate-stderr bot-send -b text --text-output /dev/null <<< "$line"
	assert_equal "$status" 65
	run jq -c '[.type, .code, .event.custom]' <<< "$output"
	assert_output '["error","bad_input",{"k":[3,2,1]}]'
}

@test "unknown fields a backend or upstream adds survive bot-listen's derived fields" {
	printf 'hi\n' > "$BATS_TEST_TMPDIR/typed"
	run bot-listen --text-input "$BATS_TEST_TMPDIR/typed" --text-output /dev/null
	run jq -c 'select(.type=="message") | [.body, .from.id, .to.id, .is_direct, .is_group, .backend]' <<< "$output"
	assert_output '["hi","@you","@bot",true,false,"text"]'
}

@test "bot-send counts: every delivery in gives one sent or one error out, a report passes unchanged" {
	{ dm x | jq -c '{type:"message",to:"@you",body:"a",id:"m1"}'
	  echo '{"type":"message","to":"","body":"b"}'
	  echo '{"type":"presence","identifier":"@a","status":"online"}'
	  echo 'junk'
	  echo '{"type":"message","to":"#ops","body":"c","id":"m3"}'; } > "$BATS_TEST_TMPDIR/in"
	run --separate-stderr bot-send -b text --text-output "$BATS_TEST_TMPDIR/console" < "$BATS_TEST_TMPDIR/in"
	assert_line --index 2 '{"type":"presence","identifier":"@a","status":"online"}'
	run jq -c '[.type, .ref // .code]' <<< "$output"
	assert_output $'["sent","m1"]\n["error","bad_input"]\n["presence",null]\n["error","bad_input"]\n["sent","m3"]'
	run cat "$BATS_TEST_TMPDIR/console"
	assert_output $'a\nc'
}

# The example pipeline of bot-dispatch(1) and botpipe.7, with one more
# command that fails and one more rule that fails.
@test "the example bot on a session with a denial, a failing command, a rule error and a reaction: every stage is quiet and exits 0" {
	local t=$BATS_TEST_TMPDIR
	# !status is denied in private (share/examples/acl.json); "thanks" gets
	# a reaction, which the console cannot show
	printf '%s\n' '!status' '!fail' '!boom' 'thanks!' '!echo done' > "$t/typed"
	cp -r "$PLUGINS" "$t/plugins"
	printf '#!/bin/sh\nexit 3\n' > "$t/plugins/fail"
	chmod +x "$t/plugins/fail"
	run bash -c 'bot-listen -b text --text-input "$0/typed" --text-output /dev/null 2> "$0/listen.err" |
		bot-dispatch -d "$0/plugins" --acl "$1/share/examples/acl.json" -f "$1/share/examples/rules.jq" \
			-e '\''select(.body == "!boom") | error("boom")'\'' 2> "$0/dispatch.err" |
		bot-send -b text --text-output "$0/console" > "$0/events" 2> "$0/send.err"
		echo "${PIPESTATUS[*]}"' "$t" "$ROOT"
	assert_output "0 0 0"
	# no stage says anything: the denial and the failures are events
	assert_equal "$(cat "$t/dispatch.err")" ""
	assert_equal "$(cat "$t/send.err")" ""
	assert_equal "$(cat "$t/listen.err")" ""
	# one answer or report for each event bot-dispatch wrote
	run jq -c '[.type, .code // .to.id]' "$t/events"
	assert_equal "$(sort <<< "$output")" "$(sort <<< '["sent","@you"]
["error","denied"]
["sent","@you"]
["error","command_failed"]
["error","rule_failed"]
["error","unsupported"]
["sent","@you"]
["sent","@you"]')"
	# the reports are bot-dispatch's events, unchanged; the reaction comes back inside its error
	run jq -c 'select(.code == "unsupported") | [.message, .event.type, .event.reaction_name]' "$t/events"
	assert_output '["backend text cannot deliver reaction events","reaction","thumbsup"]'
	run jq -r 'select(.code == "denied") | .event.body' "$t/events"
	assert_output '!status'
	run cat "$t/console"
	assert_line "You're not allowed to access this command via private message to me"
	assert_line "done"
}

@test "bot-send as a filter exits 0 on reports and undeliverable events, non-zero when a delivery fails" {
	printf '%s\n' '{"type":"error","code":"denied","message":"no"}' '{"type":"sent","id":"9"}' \
		'{"type":"connection","state":"connected"}' \
		'{"type":"reaction","action":"added","reaction_name":"+1","reacted_to":{"id":"1"}}' > "$BATS_TEST_TMPDIR/in"
	run --separate-stderr bot-send -b text --text-output /dev/null < "$BATS_TEST_TMPDIR/in"
	assert_success
	assert_equal "$stderr" ""
	assert_line --index 0 '{"type":"error","code":"denied","message":"no"}'
	assert_equal "${#lines[@]}" 4
	# with -v the undeliverable one is named on stderr
	run --separate-stderr bot-send -v -b text --text-output /dev/null < "$BATS_TEST_TMPDIR/in"
	assert_success
	assert_equal "$stderr" "bot-send: debug: backend text cannot deliver reaction events"
	# a message that cannot be delivered is a failure of the run
	echo '{"type":"message","to":"nobody","body":"x"}' >> "$BATS_TEST_TMPDIR/in"
	run --separate-stderr bot-send -b text --text-output /dev/null < "$BATS_TEST_TMPDIR/in"
	assert_failure 65
	assert_equal "${#stderr_lines[@]}" 1
}

@test "bot-send --to: a one-shot send from arguments or standard input" {
	run bot-send --to @ops --text-output "$BATS_TEST_TMPDIR/console" deploy done
	assert_success
	echo "line one" | bot-send --to @ops --code --text-output "$BATS_TEST_TMPDIR/console" > /dev/null
	run cat "$BATS_TEST_TMPDIR/console"
	assert_line --index 0 "deploy done"
	assert_line --index 1 "line one"
	run --separate-stderr bot-send --to nobody --text-output /dev/null x
	assert_equal "$status" 65
	assert_equal "$stderr" "bot-send: error: bad_input: to: An identifier for the Text backend needs to start with # for a room or @ for a person."
}

@test "bot-send --to: event lines on standard input are those events, sent to --to; other input is text" {
	local t=$BATS_TEST_TMPDIR
	bot-card --title Deploy --field env=prod done | bot-send --to '#ops' --text-output "$t/console" > "$t/events"
	run cat "$t/console"
	assert_output $'Deploy\n\ndone\n\n\u2022 env: prod'
	run jq -c '[.type, .to.id]' "$t/events"
	assert_output '["sent","#ops"]'
	# several event lines: each one an event, each to --to (not its own to)
	{ bot-card --title A one; echo '{"type":"message","to":"@elsewhere","body":"two","id":"m2"}'; echo; } |
		bot-send --to '#ops' --text-output "$t/console2" > "$t/events"
	run cat "$t/console2"
	assert_output $'A\n\none\ntwo'
	run jq -c '[.type, .to.id, .ref]' "$t/events"
	assert_output $'["sent","#ops",null]\n["sent","#ops","m2"]'
	# a line that is not an event bot-send delivers makes the whole input text
	printf '%s\n' '{"type":"message","to":"#x","body":"a"}' 'plain words' | bot-send --to '#ops' --text-output "$t/console3" > /dev/null
	printf '%s\n' '{"type":"presence","identifier":"@a"}' | bot-send --to '#ops' --text-output "$t/console3" > /dev/null
	# --code always sends text
	bot-card --title C x | bot-send --to '#ops' --code --text-output "$t/console3" > /dev/null
	run cat "$t/console3"
	assert_output "$(printf '%s\n' '{"type":"message","to":"#x","body":"a"}' 'plain words' \
		'{"type":"presence","identifier":"@a"}' "$(bot-card --title C x)")"
}

@test "bot-card | bot-send -b irc --to '#ops' (the README's): the person on IRC sees the card, not JSON" {
	load helpers/ngircd
	ngircd_test_setup
	SRV="$BATS_TEST_TMPDIR/ngircd"
	PORT=$("$BATS_TEST_DIRNAME/helpers/ngircd.sh" start "$SRV")
	export BOT_IRC_SERVER="127.0.0.1:$PORT" BOT_IRC_NICK=cardbot
	python3 "$BATS_TEST_DIRNAME/helpers/irc-client.py" "$PORT" > "$W/seen" <<-EOF &
		join #ops
		expect ^:cardbot\S* PRIVMSG #ops :.*prod 15
	EOF
	local human=$!
	for _ in $(seq 100); do grep -q ' 366 ' "$W/seen" 2>/dev/null && break; sleep 0.05; done
	run --separate-stderr bash -c "bot-card --title Deploy --field env=prod done | bot-send -b irc --to '#ops'"
	assert_success
	assert_equal "$(jq -c '[.type, .to.id]' <<< "$output")" '["sent","#ops"]'
	wait "$human"
	run sed -n 's/^:cardbot!\S* PRIVMSG #ops ://p' "$W/seen"
	assert_output $'\x02Deploy\x02\ndone\n\u2022 \x02env\x02: prod'
}

@test "BOT_REPLY_TO (set by bot-dispatch for a plugin) is where text without --to goes" {
	local t=$BATS_TEST_TMPDIR
	BOT_REPLY_TO=@alice run --separate-stderr bot-send --text-output "$t/console" 'working on it...'
	assert_success
	assert_equal "$(jq -r .to.id <<< "$output")" @alice
	# --to wins
	BOT_REPLY_TO=@alice run --separate-stderr bot-send --to '#ops' --text-output "$t/console" to the room
	assert_equal "$(jq -r .to.id <<< "$output")" '#ops'
	run cat "$t/console"
	assert_output $'working on it...\nto the room'
	# without text it is a filter, as ever: each event goes to its own to
	BOT_REPLY_TO=@alice run --separate-stderr bot-send --text-output /dev/null <<< '{"type":"message","to":"@carol","body":"x"}'
	assert_equal "$(jq -r .to.id <<< "$output")" @carol
	# and without BOT_REPLY_TO, text needs --to
	run --separate-stderr bot-send --text-output /dev/null lost words
	assert_failure 64
	assert_equal "$stderr" "bot-send: error: text to send needs --to (or give events on standard input)"
}

@test "a burst through the session socket: bot-listen answers bot-send while its own reader lags" {
	unset BOT_SESSION
	seq 5000 | sed 's/^/!echo line /' > "$BATS_TEST_TMPDIR/typed"
	# bot-listen stays up (the sleep) so that every reply goes through its
	# session socket, while its stdout is full of the burst
	{ cat "$BATS_TEST_TMPDIR/typed"; sleep 3; } |
		bot-listen --text-output "$BATS_TEST_TMPDIR/console" |
		bot-dispatch |
		timeout 60 bot-send --text-output "$BATS_TEST_TMPDIR/own" > "$BATS_TEST_TMPDIR/events"
	run jq -r .type "$BATS_TEST_TMPDIR/events"
	assert_equal "${#lines[@]}" 5000
	assert_equal "$(sort -u <<< "$output")" sent
	# through the session the answers reached bot-listen's console; once it
	# left, bot-send's own: each once, in order, nothing lost
	run sh -c "cat '$BATS_TEST_TMPDIR/console' '$BATS_TEST_TMPDIR/own' | sed -n 's/^line //p'"
	assert_output "$(seq 5000)"
	run grep -c '^line ' "$BATS_TEST_TMPDIR/console"
	refute_output 0
}
