#!/usr/bin/env bats
# Hostile input against the real programs: each bad thing is reported,
# skipped, costs bounded memory, and the next line still flows.

load helpers/hostile

NEXT='{"type":"message","to":"#ops","body":"next"}'

teardown() { stop_fake; }

# {"type":"message",...,"x":[[[...]]]} nested N deep.
nested_line() {
	python3 -c 'import sys; n = int(sys.argv[1]); print("{\"type\":\"message\",\"to\":\"#ops\",\"x\":" + "[" * n + "]" * n + "}")' "$1"
}

@test "a 100 MB line: bot-dispatch --pass reports it, skips it, stays small, passes the next line" {
	{ big_line 100000000; echo "$NEXT"; } | with_rss bot-dispatch --pass > "$BATS_TEST_TMPDIR/out" 2> "$BATS_TEST_TMPDIR/err" || echo $? > "$BATS_TEST_TMPDIR/rc"
	assert_equal "$(cat "$BATS_TEST_TMPDIR/rc")" 65
	assert_equal "$(cat "$BATS_TEST_TMPDIR/err")" \
		"bot-dispatch: error: <stdin>:1: line longer than 16777216 bytes (100000040 bytes), skipped"
	run jq -c '[.type, .code, .line, .truncated, (.event | length)]' "$BATS_TEST_TMPDIR/out"
	assert_output '["error","bad_input",1,true,4096]
["message",null,null,null,0]'
	assert_equal "$(sed -n 2p "$BATS_TEST_TMPDIR/out")" "$NEXT"
	# bounded by the line maximum (16 MiB), not by the line: under 40 MB
	assert_rss_below 40000
}

@test "a 100 MB line: bot-send reports it as an error event, sends the next one, stays small" {
	{ big_line 100000000; echo "$NEXT"; } | with_rss bot-send --text-output "$BATS_TEST_TMPDIR/chat" > "$BATS_TEST_TMPDIR/out" 2> "$BATS_TEST_TMPDIR/err" || echo $? > "$BATS_TEST_TMPDIR/rc"
	assert_equal "$(cat "$BATS_TEST_TMPDIR/rc")" 65
	assert_equal "$(cat "$BATS_TEST_TMPDIR/err")" \
		"bot-send: error: <stdin>:1: line longer than 16777216 bytes (100000040 bytes), skipped"
	run jq -c '[.type, .code, .truncated]' "$BATS_TEST_TMPDIR/out"
	assert_output '["error","bad_input",true]
["sent",null,null]'
	assert_equal "$(cat "$BATS_TEST_TMPDIR/chat")" "next"
	assert_rss_below 40000
}

@test "a 10 MB bad line: its error event carries 4,096 bytes of it and its length, memory stays small" {
	# invalid UTF-8 needs no parse: what costs memory is the event it makes
	{ printf '{"type":"message","to":"#ops","body":"\xff'; head -c 10000000 /dev/zero | tr '\0' a; printf '"}\n'; echo "$NEXT"; } |
		with_rss bot-dispatch --pass > "$BATS_TEST_TMPDIR/out" 2> "$BATS_TEST_TMPDIR/err" || echo $? > "$BATS_TEST_TMPDIR/rc"
	assert_equal "$(cat "$BATS_TEST_TMPDIR/rc")" 65
	assert_equal "$(cat "$BATS_TEST_TMPDIR/err")" "bot-dispatch: error: <stdin>:1: invalid UTF-8"
	run jq -c '[.type, .code, (.event | length), .length, .truncated]' "$BATS_TEST_TMPDIR/out"
	assert_output $'["error","bad_input",4096,10000041,true]\n["message",null,0,null,null]'
	[ "$(stat -c %s "$BATS_TEST_TMPDIR/out")" -lt 10000 ]
	assert_rss_below 20000
}

@test "150 lines of 10 MB waiting behind a slow command: the read-ahead is bounded in bytes" {
	dir=$(plugin sleep 'sleep "$1"; echo "slept $1"')
	{ printf '{"type":"message","id":"x","from":"@bob","to":{"kind":"person","id":"@bot"},"body":"!echo big","x":"'
	  head -c 10000000 /dev/zero | tr '\0' y; printf '"}\n'; } > "$BATS_TEST_TMPDIR/line"
	# with --jobs 1 every !echo waits for the !sleep: read ahead, they would all be held
	{ echo '{"type":"message","id":"0","from":"@bob","to":{"kind":"person","id":"@bot"},"body":"!sleep 3"}'
	  for i in $(seq 149); do cat "$BATS_TEST_TMPDIR/line"; done; } |
		with_rss bot-dispatch -j 1 -d "$dir" > "$BATS_TEST_TMPDIR/out"
	run sh -c "jq -r .body '$BATS_TEST_TMPDIR/out' | uniq -c | awk '{\$1=\$1; print}'"
	assert_output $'1 slept 3\n149 big'
	# 64 MiB of waiting lines, then the pipe pushes back (128 held 1.3 GB)
	assert_rss_below 150000
}

@test "--max-line lowers the bound: a 2 MB line with --max-line 65536 stays under 10 MB" {
	{ big_line 2000000; echo "$NEXT"; } | with_rss bot-dispatch --pass --max-line 65536 > "$BATS_TEST_TMPDIR/out" 2>/dev/null || true
	run jq -r '.type' "$BATS_TEST_TMPDIR/out"
	assert_output $'error\nmessage'
	assert_rss_below 10000
}

@test "100,000 nested arrays: refused by depth, no crash, the next line flows" {
	for prog in "bot-dispatch --pass" "bot-send --text-output $BATS_TEST_TMPDIR/chat"; do
		run --separate-stderr sh -c "{ python3 -c 'import sys; n = 100000; print(\"{\\\"type\\\":\\\"message\\\",\\\"to\\\":\\\"#ops\\\",\\\"x\\\":\" + \"[\" * n + \"]\" * n + \"}\")'; echo '$NEXT'; } | $prog"
		assert_equal "$status" 65
		assert_equal "$(echo "$output" | jq -r '[.type, .code // .body // .to.id] | join(" ")')" \
			"$(printf 'error bad_input\n%s' "$([ "${prog%% *}" = bot-send ] && echo 'sent #ops' || echo 'message next')")"
		assert_equal "$stderr" "${prog%% *}: error: <stdin>:1: not valid JSON: Exceeds depth limit for parsing at line 1, column 289"
	done
}

@test "nesting under jq's depth limit passes through unchanged" {
	line=$(nested_line 200)
	run --separate-stderr bot-dispatch --pass <<< "$line"
	assert_success
	assert_equal "$output" "$line"
}

@test "invalid UTF-8, overlong forms, surrogates, NUL bytes: each line refused, the others pass, output is UTF-8" {
	python3 - "$BATS_TEST_TMPDIR/in" <<'PY'
import sys
bodies = [b"a\xc0\xafb", b"\xe0\x80\xaf", b"\xed\xa0\x80", b"\xff", b"\xe2\x82",
          b"\xf4\x90\x80\x80", b"a\x00b", b"ok \xc3\xa9"]
with open(sys.argv[1], "wb") as f:
    for b in bodies:
        f.write(b'{"type":"message","to":"#ops","body":"' + b + b'"}\n')
PY
	bot-dispatch --pass < "$BATS_TEST_TMPDIR/in" > "$BATS_TEST_TMPDIR/out" 2> "$BATS_TEST_TMPDIR/err" || echo $? > "$BATS_TEST_TMPDIR/rc"
	assert_equal "$(cat "$BATS_TEST_TMPDIR/rc")" 65
	iconv -f UTF-8 -t UTF-8 "$BATS_TEST_TMPDIR/out" > /dev/null
	run jq -r '[.type, .line // "", .body // ""] | join(" ")' "$BATS_TEST_TMPDIR/out"
	assert_output "error 1 
error 2 
error 3 
error 4 
error 5 
error 6 
error 7 
message  ok é"
	run cat "$BATS_TEST_TMPDIR/err"
	assert_line -n 0 "bot-dispatch: error: <stdin>:1: invalid UTF-8"
	assert_line -n 5 "bot-dispatch: error: <stdin>:6: invalid UTF-8"
	assert_line -n 6 "bot-dispatch: error: <stdin>:7: NUL byte in line"
	assert_equal "${#lines[@]}" 7
}

@test "a lone surrogate escape is refused; an escaped NUL never reaches the console as a byte" {
	run --separate-stderr bot-dispatch --pass <<< '{"type":"message","to":"#ops","body":"\ud800 x"}'
	assert_equal "$status" 65
	assert_equal "$(echo "$output" | jq -r .code)" bad_input
	run --separate-stderr bot-send --text-output "$BATS_TEST_TMPDIR/chat" <<< '{"type":"message","to":"#ops","body":"a\u0000b"}'
	assert_success
	no_match '\x00' "$BATS_TEST_TMPDIR/chat"
	# nothing after the NUL is lost silently
	grep -q b "$BATS_TEST_TMPDIR/chat"
}

@test "bot-send: a missing or wrong-typed field in each event type gives its error event" {
	cat > "$BATS_TEST_TMPDIR/in" <<'IN'
{"type":"message","body":"no to"}
{"type":"message","to":5,"body":"x"}
{"type":"message","to":"#ops","body":7}
{"type":"message","to":{"kind":"planet","id":"x"},"body":"x"}
{"type":"message","to":"#ops","body":"x","from":[]}
{"type":"message","to":"#ops","body":"x","delayed":"yes"}
{"type":"card","title":"no to"}
{"type":"card","to":"#ops","fields":[["k"]]}
{"type":"card","to":"#ops","fields":{"k":"v"}}
{"type":"card","to":"#ops","title":3}
{"type":"presence","identifier":"@a","status":"away"}
{"type":"reaction","reaction_name":"+1"}
{"type":"room","action":"join"}
{"type":"connection","state":"connected"}
{"type":"stream","identifier":"@a"}
{"type":"error","code":"x"}
{"type":"sent","id":"1"}
{"type":"bogus"}
{"type":1}
["type","message"]
IN
	bot-send --text-output "$BATS_TEST_TMPDIR/chat" < "$BATS_TEST_TMPDIR/in" > "$BATS_TEST_TMPDIR/out" 2> "$BATS_TEST_TMPDIR/err" || echo $? > "$BATS_TEST_TMPDIR/rc"
	# one answer per input line, none of them sent; a report (any type but
	# message, card, reaction) passes unchanged and says nothing on stderr
	assert_equal "$(wc -l < "$BATS_TEST_TMPDIR/out")" 20
	assert_equal "$(wc -l < "$BATS_TEST_TMPDIR/err")" 12
	[ ! -s "$BATS_TEST_TMPDIR/chat" ]
	run jq -r '[.type, .code, .message] | join(" | ")' "$BATS_TEST_TMPDIR/out"
	assert_output 'error | bad_input | message: missing field "to"
error | bad_input | message: field "to": expected an identifier (an object with kind and id, or a string)
error | bad_input | message: field "body": expected a string
error | bad_input | message: field "to": expected an identifier (an object with kind and id, or a string)
error | bad_input | message: field "from": expected an identifier (an object with kind and id, or a string)
error | bad_input | message: field "delayed": expected true or false
error | bad_input | card: missing field "to"
error | bad_input | card: field "fields": expected an array of [key, value] string pairs
error | bad_input | card: field "fields": expected an array of [key, value] string pairs
error | bad_input | card: field "title": expected a string
presence |  | 
error | unsupported | backend text cannot deliver reaction events
room |  | 
connection |  | 
stream |  | 
error | x | 
sent |  | 
bogus |  | 
error | bad_input | <stdin>:19: no "type" string
error | bad_input | <stdin>:20: not an object: array'
	# each error event carries the event that failed, unchanged
	assert_equal "$(jq -c '.event' "$BATS_TEST_TMPDIR/out" | sed -n 2p)" '{"type":"message","to":5,"body":"x"}'
	# and the reports are the input lines, byte for byte
	assert_equal "$(sed -n '15p;16p;18p' "$BATS_TEST_TMPDIR/out")" "$(sed -n '15p;16p;18p' "$BATS_TEST_TMPDIR/in")"
	[ -n "$(cat "$BATS_TEST_TMPDIR/rc")" ]
}

@test "an identifier for the wrong backend is a bad_input error, not a send" {
	printf '%s\n' '{"type":"message","to":"alice@example.org/phone","body":"x"}' \
		'{"type":"message","to":"nick!user@host","body":"x"}' \
		'{"type":"message","to":"#a/b/c","body":"x"}' |
		bot-send --text-output "$BATS_TEST_TMPDIR/chat" > "$BATS_TEST_TMPDIR/out" 2>/dev/null || echo $? > "$BATS_TEST_TMPDIR/rc"
	assert_equal "$(cat "$BATS_TEST_TMPDIR/rc")" 65
	run jq -r '[.type, .code, .message] | join(" | ")' "$BATS_TEST_TMPDIR/out"
	assert_line -n 0 'error | bad_input | to: An identifier for the Text backend needs to start with # for a room or @ for a person.'
	assert_equal "${#lines[@]}" 3
	assert_equal "$(jq -r .code "$BATS_TEST_TMPDIR/out" | sort -u)" bad_input
	[ ! -s "$BATS_TEST_TMPDIR/chat" ]
}

@test "CR or LF in an identifier is refused before it reaches a line protocol" {
	printf '%s\n' '{"type":"message","to":"@a\rPRIVMSG #x :hi","body":"x"}' '{"type":"message","to":"#ops\nQUIT","body":"x"}' |
		bot-send --text-output "$BATS_TEST_TMPDIR/chat" > "$BATS_TEST_TMPDIR/out" 2>/dev/null || true
	assert_equal "$(jq -r '.type + " " + .code' "$BATS_TEST_TMPDIR/out")" $'error bad_input\nerror bad_input'
}

@test "text backend: a body with CR or escape sequences is shown as text, not as terminal control" {
	bot-send --text-output "$BATS_TEST_TMPDIR/chat" <<< '{"type":"message","to":"#ops","body":"safe\rEVIL \u001b[2J gone"}' > /dev/null
	grep -q EVIL "$BATS_TEST_TMPDIR/chat"
	no_match '\r' "$BATS_TEST_TMPDIR/chat"
	no_match '\x1b' "$BATS_TEST_TMPDIR/chat"
}

@test "a 10 MB plugin reply is cut at --max-output, with a warning, in bounded memory" {
	dir=$(plugin big 'head -c 10000000 /dev/zero | tr "\0" b')
	room_msg '!big' | with_rss bot-dispatch -d "$dir" --max-output 100000 > "$BATS_TEST_TMPDIR/out" 2> "$BATS_TEST_TMPDIR/err"
	assert_equal "$(jq -r '.body | length' "$BATS_TEST_TMPDIR/out")" 100000
	assert_equal "$(cat "$BATS_TEST_TMPDIR/err")" "bot-dispatch: warning: big: output over 100000 bytes, cut"
	assert_rss_below 20000
	# the default keeps 1 MiB
	room_msg '!big' | bot-dispatch -d "$dir" 2>/dev/null > "$BATS_TEST_TMPDIR/out"
	assert_equal "$(jq -r '.body | length' "$BATS_TEST_TMPDIR/out")" 1048576
}

@test "a plugin that prints invalid UTF-8: its reply is valid UTF-8, its bad fd 3 line an error event" {
	dir=$(plugin badutf 'printf "bad \377\300\257 end\n"
printf "{\"type\":\"message\",\"body\":\"e\377\"}\n{\"type\":\"message\",\"body\":\"fine\"}\n" >&3')
	room_msg '!badutf' | bot-dispatch -d "$dir" > "$BATS_TEST_TMPDIR/out" 2> "$BATS_TEST_TMPDIR/err"
	iconv -f UTF-8 -t UTF-8 "$BATS_TEST_TMPDIR/out" > /dev/null
	run jq -r '[.type, .code // "", .body // ""] | join(" ")' "$BATS_TEST_TMPDIR/out"
	assert_line "error bad_input "
	assert_line "message  fine"
	assert_line "message  bad ��� end"
	assert_equal "$(cat "$BATS_TEST_TMPDIR/err")" "bot-dispatch: error: $dir/badutf:1: invalid UTF-8"
}

@test "a config file with a syntax error: every program names file and line, exits 78, starts nothing" {
	conf=$BATS_TEST_TMPDIR/config
	printf 'prefix = ?\n\n[broken\n' > "$conf"
	for prog in bot-listen bot-dispatch bot-send bot-card; do
		run --separate-stderr "$prog" -c "$conf" < /dev/null
		assert_equal "$status" 78
		assert_equal "$stderr" "$prog: error: $conf:3: a section header is [NAME]"
		assert_equal "$output" ""
	done
	printf 'ok = 1\nb@d = 2\n' > "$conf"
	run --separate-stderr bot-send -c "$conf" < /dev/null
	assert_equal "$status" 78
	assert_equal "$stderr" "bot-send: error: $conf:2: 'b@d' is not a setting name (letters, digits and -)"
}

@test "a negative or huge number setting is refused, never read as a huge size" {
	run --separate-stderr bot-dispatch --max-output -1 < /dev/null
	assert_equal "$status" 64
	assert_equal "$stderr" "bot-dispatch: error: command line: --max-output: expected a whole number from 0 to 2147483647, got '-1'"
	BOT_MAX_LINE=99999999999 run --separate-stderr bot-send < /dev/null
	assert_equal "$status" 78
	assert_equal "$stderr" "bot-send: error: BOT_MAX_LINE: --max-line: expected a whole number from 0 to 2147483647, got '99999999999'"
}

@test "a config file with a NUL byte or invalid UTF-8 is refused, naming the line, not half read" {
	conf=$BATS_TEST_TMPDIR/config
	printf 'prefix = ?\n\njobs = 2\0\nprefix = !\n' > "$conf"
	run --separate-stderr bot-dispatch -c "$conf" < /dev/null
	assert_equal "$status" 78
	assert_equal "$stderr" "bot-dispatch: error: $conf:3: a NUL byte"
	printf 'prefix = \xff\n' > "$conf"
	run --separate-stderr bot-dispatch -c "$conf" < /dev/null
	assert_equal "$status" 78
	assert_equal "$stderr" "bot-dispatch: error: $conf:1: not UTF-8"
}

@test "a hostile server's answer cannot drive the terminal through stderr" {
	fake_http '{"responses": [{"status": 500, "body": {"error": "a\u001b]0;owned\u0007b\u009b2Jc\r\nd"}}]}'
	BOT_WEBHOOK_URL="http://127.0.0.1:$FAKE_PORT/hook" bot-send -b webhook --retries 0 --to '#ops' hi > "$BATS_TEST_TMPDIR/out" 2> "$BATS_TEST_TMPDIR/err" || true
	stop_fake
	assert_equal "$(wc -l < "$BATS_TEST_TMPDIR/err")" 1
	no_match '\x1b|\x07|\xc2[\x80-\x9f]|\r' "$BATS_TEST_TMPDIR/err"
	run cat "$BATS_TEST_TMPDIR/err"
	assert_output --partial 'HTTP 500: a\x1b]0;owned\x07b\u009b2Jc\r\nd'
}

@test "a huge --timeout is a long timeout, not an overflow (4294968 s * 1000 wraps to 704 ms in an int)" {
	dir=$(plugin slow 'sleep 1.5; echo done')
	room_msg '!slow' | bot-dispatch -d "$dir" --timeout 4294968 > "$BATS_TEST_TMPDIR/out" 2>/dev/null
	assert_equal "$(jq -r .body "$BATS_TEST_TMPDIR/out")" "done"
}

@test "bot-send --to: a UTF-8 character split between two reads of stdin arrives whole" {
	{ printf 'caf\xc3'; sleep 0.3; printf '\xa9 ok\n'; } | bot-send --to '#ops' --text-output "$BATS_TEST_TMPDIR/chat" > /dev/null
	assert_equal "$(cat "$BATS_TEST_TMPDIR/chat")" "café ok"
}

@test "bot-send --to with endless stdin: cut at --max-line with a warning, in bounded memory" {
	yes héllo | with_rss bot-send --to '#ops' --max-line 100000 --text-output "$BATS_TEST_TMPDIR/chat" > "$BATS_TEST_TMPDIR/out" 2> "$BATS_TEST_TMPDIR/err"
	assert_equal "$(cat "$BATS_TEST_TMPDIR/err")" "bot-send: warning: standard input: longer than 100000 bytes, cut there"
	assert_equal "$(jq -r .type "$BATS_TEST_TMPDIR/out" | sort -u)" sent
	[ "$(wc -c < "$BATS_TEST_TMPDIR/chat")" -le 100100 ]
	iconv -f UTF-8 -t UTF-8 "$BATS_TEST_TMPDIR/chat" > /dev/null
	assert_rss_below 40000
}
