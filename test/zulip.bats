#!/usr/bin/env bats
# The Zulip backend against a loopback Zulip API (helpers/zulip-fake.bash
# over test/fake-http.py): what the fake received, byte for byte, for the
# pipeline's replies (stream/topic, private, mention), long replies, cards,
# reactions, edits, deletes and files both ways; the API's retry-after;
# nothing lost or twice across a kill -9 of bot-listen, a restart of the
# fake and an expired event queue; a bad key exits 77; the key shows nowhere.
load helpers/common
load helpers/zulip-fake

setup() {
	d=$BATS_TEST_TMPDIR
	ZL_PID= LPID= ZL_PORT=
	export XDG_STATE_HOME=$d/state
	export ZL_LOG="$d/zl.ndjson"
}

teardown() {
	[ -z "$LPID" ] || { pkill -TERM -P "$LPID" 2>/dev/null; kill "$LPID" 2>/dev/null; wait "$LPID" 2>/dev/null || true; }
	zl_stop
}

# The bot: bot-listen | bot-dispatch | bot-send in the background, events
# seen by the dispatcher in $d/events, replies' answers in $d/sent.
start_bot() {
	( bot-listen -b zulip "$@" 2>"$d/listen.err" |
	  tee -a "$d/events" | bot-dispatch 2>"$d/dispatch.err" |
	  bot-send -b zulip >>"$d/sent" 2>"$d/send.err" ) 3>&- &
	LPID=$!
}

stop_bot() {
	[ -z "$LPID" ] || { pkill -TERM -P "$LPID" 2>/dev/null; wait "$LPID" 2>/dev/null || true; }
	LPID=
}

# bot-listen alone, its events in $d/listen.out.
start_listen() {
	bot-listen -b zulip --session none "$@" >>"$d/listen.out" 2>>"$d/listen.err" 3>&- &
	LPID=$!
}

# Wait until METHOD PATH was requested N times (default 1), up to 15 s.
wait_calls() {
	local i
	for i in $(seq 300); do
		[ "$(zl_calls "$1" "$2" | wc -l)" -ge "${3:-1}" ] && return 0
		sleep 0.05
	done
	echo "$1 $2 requested $(zl_calls "$1" "$2" | wc -l) times, not ${3:-1}" >&2
	return 1
}

# The form fields of a logged body, as one JSON object per line.
form() { python3 -c 'import sys, json, urllib.parse
for l in sys.stdin:
    print(json.dumps(dict(urllib.parse.parse_qsl(l.rstrip("\n"), keep_blank_values=True)), ensure_ascii=False))'; }

# The messages posted, as form objects, one a line.
posted() { zl_calls POST '^/api/v1/messages$' | form; }

@test "one-shot: bot-send --to STREAM/TOPIC posts the form with HTTP Basic and answers the message id" {
	zl_start
	run --separate-stderr bot-send -b zulip --to 'ops/deploys' 'build **ok** & co'
	assert_success
	assert_equal "$stderr" ""
	assert_output --regexp '^\{"type":"sent","id":"[0-9]+","to":\{"kind":"room","id":"ops/deploys","stream":"ops","topic":"deploys"\}\}$'
	run zl_calls POST '^/api/v1/messages$'
	assert_output 'type=stream&to=ops&topic=deploys&content=build%20%2A%2Aok%2A%2A%20%26%20co'
	run jq -r 'select(.path == "/api/v1/messages") | [.headers["content-type"], .headers.authorization] | @tsv' "$ZL_LOG"
	assert_output "$(printf 'application/x-www-form-urlencoded\tBasic %s' "$(printf '%s:%s' "$ZL_EMAIL" "$ZL_KEY" | base64 -w0)")"
}

@test "a command in a stream gets its reply in the same stream and topic, with the sender's mention" {
	zl_start "[$(zl_msg 0 101 '!echo **hi** there')]"
	start_bot
	wait_calls POST '^/api/v1/messages$'
	run posted
	assert_output '{"type": "stream", "to": "ops", "topic": "deploys", "content": "@**Al Ops|9** **hi** there"}'
	run jq -c 'select(.type=="message") | [.from.kind, .from.id, .from.person, .from.nick, .to.id, .id]' "$d/events"
	assert_output '["occupant","al@zulip.test","al@zulip.test","Al Ops","ops/deploys","101"]'
}

@test "a private message is answered privately to the sender's email" {
	zl_start "[$(zl_msg 0 102 '!echo hello' '')]"
	start_bot
	wait_calls POST '^/api/v1/messages$'
	run posted
	assert_output '{"type": "private", "to": "[\"al@zulip.test\"]", "content": "hello"}'
	run jq -c 'select(.type=="message") | [.from.kind, .from.id, .to.id, .is_direct]' "$d/events"
	assert_output '["person","al@zulip.test","botpipe-bot@zulip.test",true]'
}
