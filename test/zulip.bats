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

@test "a long reply is cut at 10000 bytes, in order, nothing lost" {
	zl_start
	local text
	text=$(python3 -c 'print(" ".join("w%05d" % i for i in range(3500)))')
	run --separate-stderr bot-send -b zulip --to 'ops/deploys' "$text"
	assert_success
	run posted
	assert_equal "${#lines[@]}" 3
	# each part within the limit, and the parts, joined, are the text
	run python3 -c 'import sys, json, urllib.parse
parts = []
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e["method"] == "POST" and e["path"] == "/api/v1/messages":
        parts.append(dict(urllib.parse.parse_qsl(e["body"]))["content"])
assert all(len(p.encode()) <= 10000 for p in parts), [len(p.encode()) for p in parts]
print(" ".join(" ".join(p.split()) for p in parts) == " ".join("w%05d" % i for i in range(3500)))' "$ZL_LOG"
	assert_output True
}

@test "a card is sent as the card template's markdown (Zulip has no native cards)" {
	zl_start
	run --separate-stderr bot-send -b zulip <<<'{"type":"card","to":"ops/deploys","title":"Deploy","body":"It *worked*","fields":[["env","prod"]]}'
	assert_success
	run posted
	assert_output --partial '"type": "stream", "to": "ops", "topic": "deploys", "content": "'
	assert_output --partial '## Deploy'
	assert_output --partial 'It *worked*'
	assert_output --partial 'prod'
}

@test "reactions, edits and deletes go out: POST/DELETE .../reactions, PATCH and DELETE /messages/ID" {
	zl_start
	run --separate-stderr bot-send -b zulip <<-'EOF2'
	{"type":"reaction","to":"ops/deploys","reacted_to":{"id":"101"},"reaction_name":"thumbs_up","action":"added"}
	{"type":"reaction","to":"ops/deploys","reacted_to":{"id":"101"},"reaction_name":"thumbs_up","action":"removed"}
	{"type":"message","to":"ops/deploys","body":"fixed *now*","replaces":"101"}
	{"type":"delete","to":"ops/deploys","deletes":"101"}
	EOF2
	assert_success
	run jq -r 'select(.path | startswith("/api/v1/messages/")) | [.method, .path, .body] | @tsv' "$ZL_LOG"
	assert_output "$(printf '%s\t%s\t%s\n' \
		POST /api/v1/messages/101/reactions emoji_name=thumbs_up \
		DELETE /api/v1/messages/101/reactions emoji_name=thumbs_up \
		PATCH /api/v1/messages/101 'content=fixed%20%2Anow%2A' \
		DELETE /api/v1/messages/101 '')"
}

@test "a file goes out: POST /user_uploads, then a message that links it" {
	zl_start
	printf 'report body\n' >"$d/report.txt"
	run --separate-stderr bot-send -b zulip --files-from "$d" <<<"{\"type\":\"stream\",\"to\":\"al@zulip.test\",\"path\":\"$d/report.txt\",\"name\":\"report.txt\"}"
	assert_success
	run jq -r 'select(.path == "/api/v1/user_uploads") | [.method, (.headers["content-type"] | startswith("multipart/form-data")), (.body | contains("report body"))] | @tsv' "$ZL_LOG"
	assert_output "$(printf 'POST\ttrue\ttrue')"
	run posted
	assert_output '{"type": "private", "to": "[\"al@zulip.test\"]", "content": "[report.txt](/user_uploads/2/ab/cdef/report.txt)"}'
}

@test "reactions, edits, deletes and files come in as events" {
	local file='see [notes.pdf](/user_uploads/2/ab/notes.pdf)'
	zl_start "[$(zl_msg 0 101 'hello'),
	  {\"type\":\"reaction\",\"id\":1,\"op\":\"add\",\"message_id\":101,\"user_id\":12,\"emoji_name\":\"tada\",\"emoji_code\":\"1f389\",\"reaction_type\":\"unicode_emoji\",\"user\":{\"email\":\"bo@zulip.test\",\"full_name\":\"Bo\",\"user_id\":12}},
	  {\"type\":\"update_message\",\"id\":2,\"message_id\":101,\"user_id\":9,\"content\":\"hello again\",\"orig_content\":\"hello\",\"rendering_only\":false,\"edit_timestamp\":1700000100},
	  {\"type\":\"delete_message\",\"id\":3,\"message_id\":101,\"message_type\":\"stream\",\"stream_id\":3,\"topic\":\"deploys\"},
	  $(zl_msg 4 102 "$file")]"
	start_listen
	wait_for "$d/listen.out" '"type":"stream"'
	run jq -c 'select(.type != "connection") | [.type, .id // .deletes, .body // .reaction_name // .name, .replaces // .action // .status, .reacted_to.id // .to.id]' "$d/listen.out"
	assert_output "$(cat <<-'EOF2'
	["message","101","hello",null,"ops/deploys"]
	["reaction",null,"tada","added","101"]
	["message","101.e1700000100","hello again","101","ops/deploys"]
	["delete","101",null,null,"ops/deploys"]
	["message","102","see [notes.pdf](/user_uploads/2/ab/notes.pdf)",null,"ops/deploys"]
	["stream","102.f1","notes.pdf","success","ops/deploys"]
	EOF2
	)"
	run jq -r 'select(.type == "stream") | .path' "$d/listen.out"
	[[ $output == "$XDG_STATE_HOME"/* ]]
	assert_equal "$(cat "$output")" '%PDF-1 fake'
	# the file came through the API's temporary URL
	run jq -r 'select(.path | test("user_uploads")) | .path' "$ZL_LOG"
	assert_output "$(printf '/api/v1/user_uploads/2/ab/notes.pdf\n/user_uploads/temporary/tok3n/notes.pdf')"
}
