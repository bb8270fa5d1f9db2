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
	run --separate-stderr bot-send -b zulip --to 'ops/deploys' 'build **ok** & <tag> 1 ~ 2'
	assert_success
	assert_equal "$stderr" ""
	assert_output --regexp '^\{"type":"sent","id":"[0-9]+","to":\{"kind":"room","id":"ops/deploys","stream":"ops","topic":"deploys"\}\}$'
	run zl_calls POST '^/api/v1/messages$'
	assert_output 'type=stream&to=ops&topic=deploys&content=build%20%2A%2Aok%2A%2A%20%26%20%3Ctag%3E%201%20~%202'
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
	{"type":"reaction","to":"ops/deploys","reacted_to":{"id":"101"},"reaction_name":"😄","action":"added"}
	{"type":"message","to":"ops/deploys","body":"fixed *now*","replaces":"101"}
	{"type":"delete","to":"ops/deploys","deletes":"101"}
	EOF2
	assert_success
	run jq -r 'select(.path | startswith("/api/v1/messages/")) | [.method, .path, .body] | @tsv' "$ZL_LOG"
	assert_output "$(printf '%s\t%s\t%s\n' \
		POST /api/v1/messages/101/reactions emoji_name=thumbs_up \
		DELETE /api/v1/messages/101/reactions emoji_name=thumbs_up \
		POST /api/v1/messages/101/reactions emoji_name=big_smile \
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
	run jq -r 'select(.type == "reaction") | .emoji' "$d/listen.out"
	assert_output 🎉
	run jq -r 'select(.type == "stream") | .path' "$d/listen.out"
	[[ $output == "$XDG_STATE_HOME"/* ]]
	assert_equal "$(cat "$output")" '%PDF-1 fake'
	# the file came through the API's temporary URL
	run jq -r 'select(.path | test("user_uploads")) | .path' "$ZL_LOG"
	assert_output "$(printf '/api/v1/user_uploads/2/ab/notes.pdf\n/user_uploads/temporary/tok3n/notes.pdf')"
}

@test "a 429 with Zulip's retry-after is waited out, then the message goes once" {
	zl_start '[]' '[{"path":"^/api/v1/messages$","status":429,"headers":{"Retry-After":"2"},"body":{"result":"error","msg":"API usage exceeded rate limit","code":"RATE_LIMIT_HIT","retry-after":1.5}}]'
	run --separate-stderr bot-send -b zulip --to 'ops/deploys' 'after the limit'
	assert_success
	run jq -r 'select(.path == "/api/v1/messages") | .answer.status' "$ZL_LOG"
	assert_output "$(printf '429\n200')"
	# the second try came no sooner than the server asked
	run jq -rs 'map(select(.path == "/api/v1/messages") | .t) | .[1] - .[0] >= 1.4' "$ZL_LOG"
	assert_output true
}

@test "a bad API key (401) exits 77 at once, without a reconnect loop, and says so in one line" {
	zl_start '[]' '[{"path":"^/api/v1/users/me$","status":401,"body":{"result":"error","msg":"Invalid API key","code":"INVALID_API_KEY"}}]'
	run --separate-stderr timeout 10 bot-listen -b zulip --session none
	assert_failure 77
	assert_equal "$(jq -r 'select(.path == "/api/v1/users/me") | .path' "$ZL_LOG" | wc -l)" 1
	[[ $stderr == *"Invalid API key"* ]]
	[[ $stderr != *"$ZL_KEY"* ]]
}

@test "the API key shows in no output, error event, -v log or ps" {
	zl_start "[$(zl_msg 0 101 '!echo hi')]"
	start_bot -v
	wait_calls POST '^/api/v1/messages$'
	ps -eo args >"$d/ps"
	run bot-send -b zulip -v --to 'nosuch' 'x'
	printf '%s\n' "$output" >"$d/oneshot"
	stop_bot
	local auth
	auth=$(printf '%s:%s' "$ZL_EMAIL" "$ZL_KEY" | base64 -w0)
	run grep -l -e "$ZL_KEY" -e "$auth" "$d/listen.err" "$d/events" "$d/dispatch.err" "$d/sent" "$d/send.err" "$d/ps" "$d/oneshot"
	assert_failure
	# it was there to be seen: the request carried it
	grep -q "Basic $auth" "$ZL_LOG"
}

@test "nothing lost or twice across a kill -9 of bot-listen and a restart of the fake" {
	zl_start "[$(zl_msg 0 101 one), $(zl_msg 1 102 two)]"
	start_listen
	wait_for "$d/listen.out" '"body":"two"'
	kill -9 "$LPID"; wait "$LPID" 2>/dev/null || true
	LPID=
	zl_push "$(zl_msg 2 103 three)"
	start_listen
	wait_for "$d/listen.out" '"body":"three"'
	# the fake restarts on the same port with the same events
	zl_stop
	zl_start "[$(zl_msg 0 101 one), $(zl_msg 1 102 two), $(zl_msg 2 103 three)]"
	zl_push "$(zl_msg 3 104 four)"
	wait_for "$d/listen.out" '"body":"four"' 20
	run jq -r 'select(.type == "message") | .id' "$d/listen.out"
	assert_output "$(printf '101\n102\n103\n104')"
	# the second bot-listen went on from the saved queue and event id:
	# the first run's register is the only one
	run jq -r 'select(.path | startswith("/api/v1/register")) | .path' "$ZL_LOG"
	assert_output /api/v1/register
}

@test "an expired queue (BAD_EVENT_QUEUE_ID): register again, catch up with GET /messages, none lost or twice" {
	zl_start "[$(zl_msg 0 101 one)]"
	start_listen
	wait_for "$d/listen.out" '"body":"one"'
	# the queue expires; messages 102 and 103 come while there is none
	local m102 m103
	m102=$(zl_msg 0 102 two | jq -c .message)
	m103=$(zl_msg 0 103 three | jq -c .message)
	curl -s -o /dev/null -X POST --data-binary "[
	  {\"path\":\"^/api/v1/events[?]\",\"status\":400,\"body\":{\"result\":\"error\",\"msg\":\"Bad event queue ID: q1\",\"code\":\"BAD_EVENT_QUEUE_ID\",\"queue_id\":\"q1\"}},
	  {\"path\":\"^/api/v1/register$\",\"body\":{\"result\":\"success\",\"msg\":\"\",\"queue_id\":\"q2\",\"last_event_id\":10,\"max_message_id\":103}},
	  {\"path\":\"^/api/v1/messages[?]\",\"body\":{\"result\":\"success\",\"msg\":\"\",\"found_newest\":true,\"messages\":[$(zl_msg 0 101 one | jq -c .message),$m102,$m103]}}]" \
		"http://127.0.0.1:$ZL_PORT/__fake/queue"
	# once registered again, the new queue has 103 too (it came as it
	# registered), then 104
	for _ in $(seq 100); do
		[ "$(jq -r 'select(.path == "/api/v1/register") | .n' "$ZL_LOG" | wc -l)" -ge 2 ] && break
		sleep 0.1
	done
	zl_push "$(zl_msg 11 103 three)" "$(zl_msg 12 104 four)"
	wait_for "$d/listen.out" '"body":"four"' 20
	run jq -r 'select(.type == "message") | .id' "$d/listen.out"
	assert_output "$(printf '101\n102\n103\n104')"
	run jq -r 'select(.path | startswith("/api/v1/messages?")) | .path' "$ZL_LOG"
	assert_output --partial 'anchor=101&num_before=0&num_after=100&include_anchor=false&apply_markdown=false'
	run jq -r 'select(.path | startswith("/api/v1/events?")) | .path' "$ZL_LOG"
	assert_output --partial 'queue_id=q2&last_event_id=10'
}

@test "through a running bot-listen's session: bot-send --to answers from its connection" {
	zl_start
	bot-listen -b zulip >"$d/listen.out" 2>"$d/listen.err" 3>&- &
	LPID=$!
	wait_for "$d/listen.out" '"connected"'
	# with another key of its own: the request carries bot-listen's
	run --separate-stderr env BOT_ZULIP_API_KEY=other-key bot-send -b zulip --to 'ops/deploys' 'via the session'
	assert_success
	run posted
	assert_output '{"type": "stream", "to": "ops", "topic": "deploys", "content": "via the session"}'
	run grep -c "$(printf '%s:other-key' "$ZL_EMAIL" | base64 -w0)" "$ZL_LOG"
	assert_output 0
}

@test "bot-room: join, leave and list through /users/me/subscriptions" {
	zl_start
	run --separate-stderr bot-room -b zulip join ops
	assert_success
	run --separate-stderr bot-room -b zulip leave ops
	assert_success
	run --separate-stderr bot-room -b zulip list
	assert_success
	assert_output ops
	run jq -r 'select(.path | startswith("/api/v1/users/me/subscriptions")) | [.method, .path, .body] | @tsv' "$ZL_LOG"
	assert_output "$(printf '%s\t%s\t%s\n' \
		POST /api/v1/users/me/subscriptions 'subscriptions=%5B%7B%22name%22%3A%22ops%22%7D%5D' \
		DELETE '/api/v1/users/me/subscriptions?subscriptions=%5B%22ops%22%5D' '' \
		GET /api/v1/users/me/subscriptions '')"
}

@test "a file over --zulip-file-max is not kept: its stream event says error" {
	zl_start "[$(zl_msg 0 101 'see [notes.pdf](/user_uploads/2/ab/notes.pdf)')]"
	start_listen --zulip-file-max 4
	wait_for "$d/listen.out" '"type":"stream"'
	run jq -c 'select(.type == "stream") | [.name, .status, .path]' "$d/listen.out"
	assert_output '["notes.pdf","error",null]'
	run find "$XDG_STATE_HOME" -type f -name '*.pdf'
	assert_output ''
}

@test "a link to another host, or out of /user_uploads/, is never fetched" {
	zl_start "[$(zl_msg 0 101 'x [a](https://evil.test/user_uploads/2/a.pdf) [b](/user_uploads/../../etc/passwd) [c](/avatar/1)')]"
	start_listen
	wait_for "$d/listen.out" '"type":"message"'
	sleep 1
	run jq -c 'select(.type == "stream")' "$d/listen.out"
	assert_output ''
	run jq -r 'select(.path | test("user_uploads|passwd|avatar")) | .path' "$ZL_LOG"
	assert_output ''
}

@test "bot-room: topic (the stream's description) read and set, info for a stream of ours, another and none" {
	zl_start '[]' '[{"path":"^/api/v1/get_stream_id[?]stream=nosuch$","status":400,"body":{"result":"error","msg":"Invalid channel name '"'"'nosuch'"'"'","code":"BAD_REQUEST"}},
	  {"path":"^/api/v1/get_stream_id[?]stream=other$","body":{"result":"success","msg":"","stream_id":7}}]'
	run --separate-stderr bot-room -b zulip topic ops
	assert_success
	assert_output 'Topic for ops: the ops stream.'
	run --separate-stderr bot-room -b zulip topic ops 'all about ops'
	assert_success
	run --separate-stderr bot-room -b zulip info ops
	assert_output 'ops: exists, joined, topic: the ops stream.'
	run --separate-stderr bot-room -b zulip info other
	assert_output 'other: exists, not joined.'
	run --separate-stderr bot-room -b zulip info nosuch
	assert_output 'nosuch: does not exist, not joined.'
	run --separate-stderr bot-room -b zulip topic elsewhere
	assert_failure 79
	run jq -r 'select(.method == "PATCH") | [.path, .body] | @tsv' "$ZL_LOG"
	assert_output "$(printf '/api/v1/streams/3\tdescription=all%%20about%%20ops')"
}

@test "a poll that is reset and a register answered 500: bot-listen reconnects, nothing lost or twice" {
	zl_start "[$(zl_msg 0 101 one)]" '[{"path":"^/api/v1/register$","status":500,"body":"oops"}]'
	start_listen
	wait_for "$d/listen.out" '"body":"one"' 20
	curl -s -o /dev/null -X POST --data-binary '[{"path":"^/api/v1/events[?]","reset":true}]' \
		"http://127.0.0.1:$ZL_PORT/__fake/queue"
	zl_push "$(zl_msg 1 102 two)"
	wait_for "$d/listen.out" '"body":"two"' 20
	run jq -r 'select(.type == "message") | .id' "$d/listen.out"
	assert_output "$(printf '101\n102')"
	run jq -r 'select(.type == "connection") | .state' "$d/listen.out"
	assert_output --partial disconnected
}
