#!/usr/bin/env bats
# bot-send over several instances (bot-send(1), -b): a worker each, the
# answers in the input's order, the bridge's copies kept by the parent,
# and a clean end when standard output goes away.  Two console instances
# (text@a, text@b), each writing to its own file.
bats_require_minimum_version 1.5.0
load helpers/common

setup() {
	W=$BATS_TEST_TMPDIR
	export XDG_CONFIG_HOME=$W/conf XDG_STATE_HOME=$W/state XDG_RUNTIME_DIR=$W/run
	mkdir -p -m 700 "$XDG_CONFIG_HOME/botpipe" "$XDG_RUNTIME_DIR"
	printf '[a]\ntext-output = %s/a.out\n[b]\ntext-output = %s/b.out\n' "$W" "$W" > "$XDG_CONFIG_HOME/botpipe/config"
	chmod 600 "$XDG_CONFIG_HOME/botpipe/config"
}

@test "an answer to an edit or reaction that named a copy carries the event as it came, not as it was resolved" {
	{
		# a copy of text@b's message 5, delivered to text@a's #r
		echo '{"type":"message","backend":"text@a","to":"#r","body":"hi","relayed_from":{"backend":"text@b","id":"5","room":"#s"}}'
		# a reaction to message 5, for its copy on text@a: the console cannot react
		echo '{"type":"reaction","backend":"text@a","to":"#r","reaction_name":"tada","reacted_to_copy_of":{"backend":"text@b","id":"5"}}'
	} > "$W/in"
	run --separate-stderr bot-send -b text@a -b text@b --session none < "$W/in"
	run jq -c 'select(.type == "error") | [.code, .event.reacted_to_copy_of, .event.reacted_to]' <<< "$output"
	assert_output '["unsupported",{"backend":"text@b","id":"5"},null]'
	# the same as one instance gives
	run --separate-stderr bot-send -b text@a --session none < "$W/in"
	run jq -c 'select(.type == "error") | [.code, .event.reacted_to_copy_of, .event.reacted_to]' <<< "$output"
	assert_output '["unsupported",{"backend":"text@b","id":"5"},null]'
}

@test "bot-send | head -1 over two instances ends, even when SIGTERM is ignored: exit 74, one line" {
	for i in $(seq 20000); do
		printf '{"type":"message","backend":"text@%s","to":"@you","body":"line %d"}\n' "$([ $((i % 2)) = 0 ] && echo a || echo b)" "$i"
	done > "$W/in"
	run timeout 30 bash -c 'trap "" TERM
		bot-send -b text@a -b text@b --session none --raw < "$1" 2> "$2" | head -1 > "$3"
		echo "${PIPESTATUS[0]}"' bash "$W/in" "$W/err" "$W/first"
	assert_success
	assert_output 74
	assert_equal "$(wc -l < "$W/first")" 1
	run cat "$W/err"
	assert_output "bot-send: error: stdout: Broken pipe"
	# no worker is left behind
	run pgrep -f "bot-send -b text@a -b text@b --session none --raw"
	assert_failure
}
