#!/usr/bin/env bats
# bot-dispatch's jq rules skip jq for the events a rule's leading select()
# cannot match (lib/dispatch/rules.c, "guards"): whatever the rule, its output is
# the one jq gives.  Every rule here is run twice, as written and inside
# parentheses, which no guard reads, and the two outputs must be equal
# byte for byte (error events included).
bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert

setup() {
	export PATH="${BOT_BUILD:-$BATS_TEST_DIRNAME/../build}/bin:$PATH"
	ev="$BATS_TEST_TMPDIR/events"
	jq -cn '
		{type:"message", body:"deploy prod now", n:"1", to:{kind:"room",id:"#ops"}},
		{type:"message", body:"nothing here", n:"2", to:{kind:"room",id:"#ops"}},
		{type:"message", body:"redeployed café ✓", n:1},
		{type:"message", body:42, n:"3"},
		{type:"message", n:"4"},
		{type:"message", body:null, n:"1"},
		{type:"message", body:"de\u0000ploy", n:"1"},
		{type:"presence", body:"deploy", n:"1"},
		{type:"presence", n:"1"},
		{type:"deploy", body:"deploy"}' > "$ev"
}

# Both runs of rule over the events, compared; both must give something.
same_as_unguarded() {
	local rule=$1 lib=${2:-}
	run -0 bot-dispatch $lib -e "$rule" < "$ev"
	local guarded=$output
	run -0 bot-dispatch $lib -e "($rule)" < "$ev"
	assert_equal "$guarded" "$output"
	[ -n "$output" ]
}

@test "guards: the bench's rule, its conditions reversed, select() alone" {
	same_as_unguarded 'select(.type == "message" and (.body | test("deploy"))) | {type: "message", to: .to, body: ("seen: " + .body)}'
	same_as_unguarded 'select((.body|test("deploy")) and "message" == .type) | {type: "seen", n}'
	same_as_unguarded 'select(.type == "message")'
	same_as_unguarded 'select(.body | test("ploy"))'
}

@test "guards: a rule's runtime errors and its outputs in order stay as jq gives them" {
	# a body that is not a string: test() fails, rule_failed events
	same_as_unguarded 'select(.type == "message" and (.n | test("1"))) | {type: "y", n}'
	same_as_unguarded 'select(.type == "message" and (.body | test("o"))) | {type: "a", n}, {type: "b", b: .body}'
	same_as_unguarded 'select(.type == "message" and (.body | test("deploy"))) | {type: "y", n: (.n + 1)}'
}

@test "guards: what binds looser than and keeps its meaning" {
	same_as_unguarded 'select(.type == "presence" and .n == "2" or .n == "1") | {type: "y", n}'
	same_as_unguarded 'select(.type == "none" and .n == "1" // true) | {type: "y", n}'
	same_as_unguarded 'select(.type == "message" and .body | test("deploy")) | {type: "y", n}'
	same_as_unguarded 'select(.type == "message" and (.body | test("de.*y"))) | {type: "y", n}'
	same_as_unguarded 'select(.type == "message" and .n == "1") as $x | {type: "y", n}'
	same_as_unguarded 'select(.type == "message" and .n == "1") | {type: "y", n}, {type: "z"}'
	same_as_unguarded 'select(.type == "message" and .n == "1")? | {type: "y", n}'
}

@test "guards: jq's line numbers in what follows select() are the rule's" {
	same_as_unguarded $'select(.type == "message"\n and (.body | test("deploy"))) | {type: "y", at: $__loc__}'
	run -0 bash -c "bot-dispatch -e \$'select(.type == \"message\"\\n and (.body | test(\"deploy\"))) | {type: \"y\", at: \$__loc__.line}' < '$ev' | jq -c 'select(.type == \"y\") | .at'"
	assert_output $'2\n2'   # the second line, as jq says of the whole rule
}

@test "guards: a bot.jq that defines its own test or select is obeyed" {
	lib="$BATS_TEST_TMPDIR/lib"; mkdir -p "$lib"
	printf 'def test($re): true;\n' > "$lib/bot.jq"
	same_as_unguarded 'select(.type == "message" and (.body | test("zzz"))) | {type: "y", n}' "--jq-library $lib"
	run -0 bot-dispatch --jq-library "$lib" -e 'select(.body | test("zzz")) | {type: "y", n}' < "$ev"
	assert_equal "$(printf '%s\n' "$output" | grep -c '"y"')" 10
	printf 'def select(f): .;\n' > "$lib/bot.jq"
	run -0 bot-dispatch --jq-library "$lib" -e 'select(.type == "nope") | {type: "y", n}' < "$ev"
	assert_equal "$(printf '%s\n' "$output" | grep -c '"y"')" 10
}
