# The Zulip REST API as test/fake-http.py plays it, from the documented
# shapes (zulip.com/api): {"result": "success", ...} answers, an event
# queue long-polled with GET /events (last_event_id acknowledges, as the
# real server does), POST /messages answering a fresh id, uploads and the
# temporary URL of a file.  Load after helpers/common.
#
#   zl_start [EVENTS_JSON [QUEUED_JSON]]  the fake on a free port (or $ZL_PORT)
#   zl_stop                                end it
#   zl_push EVENT_JSON...                  more events, while it runs
#   zl_calls METHOD PATH_REGEX             the bodies of those requests, one a line
#   zl_msg EVENT_ID MSG_ID TEXT [STREAM [TOPIC]]  a message event (stream "" for a DM)

ZL_EMAIL=botpipe-bot@zulip.test
ZL_KEY=Zk3yS3cr3tValue0123456789abcdef

zl_script() {
	jq -cn --argjson items "${1:-[]}" --argjson queued "${2:-[]}" '
	{responses: $queued,
	 feed: {path: "^/api/v1/events[?]", cursor: "last_event_id", id: "id", after: true,
	        wait: 1, max_wait: 2, key: "events", body: {result: "success", msg: ""},
	        items: $items},
	 answers: [
	  {path: "^/api/v1/users/me$", body: {result: "success", msg: "", user_id: 99,
	     email: "botpipe-bot@zulip.test", full_name: "Botpipe"}},
	  {path: "^/api/v1/register$", body: {result: "success", msg: "", queue_id: "q1",
	     last_event_id: -1, max_message_id: 100, max_message_length: 10000}},
	  {path: "^/api/v1/messages$", body: {result: "success", msg: "", id: "$n"}},
	  {path: "^/api/v1/user_uploads$", body: {result: "success", msg: "",
	     uri: "/user_uploads/2/ab/cdef/report.txt", url: "/user_uploads/2/ab/cdef/report.txt"}},
	  {path: "^/api/v1/user_uploads/2/", body: {result: "success", msg: "",
	     url: "/user_uploads/temporary/tok3n/notes.pdf"}},
	  {path: "^/user_uploads/temporary/tok3n/notes.pdf$", body: "%PDF-1 fake"},
	  {path: "^/api/v1/users/me/subscriptions$", body: {result: "success", msg: "",
	     subscriptions: [{name: "ops", stream_id: 3, description: "the ops stream"}]}}
	 ],
	 default: {status: 200, body: {result: "success", msg: ""}}}'
}

zl_start() {
	local d=$BATS_TEST_TMPDIR
	rm -f "$d/zl.port"
	/usr/bin/python3 "$ROOT/test/fake-http.py" --port "${ZL_PORT:-0}" --port-file "$d/zl.port" \
		--log "$d/zl.ndjson" --script-json "$(zl_script "${1:-[]}" "${2:-[]}")" \
		>/dev/null 2>>"$d/zl.err" 3>&- &
	ZL_PID=$!
	for _ in $(seq 100); do [ -s "$d/zl.port" ] && break; sleep 0.05; done
	ZL_PORT=$(cat "$d/zl.port")
	ZL_LOG=$d/zl.ndjson
	export BOT_ZULIP_API_KEY=$ZL_KEY BOT_ZULIP_SITE="http://127.0.0.1:$ZL_PORT" BOT_ZULIP_EMAIL=$ZL_EMAIL
}

zl_stop() {
	if [ -n "${ZL_PID:-}" ]; then
		kill "$ZL_PID" 2>/dev/null || true
		wait "$ZL_PID" 2>/dev/null || true
		ZL_PID=
	fi
}

zl_push() {
	local e
	for e in "$@"; do
		curl -s -o /dev/null -X POST --data-binary "$e" "http://127.0.0.1:$ZL_PORT/__fake/feed"
	done
}

zl_calls() {
	[ -f "$ZL_LOG" ] || return 0
	jq -r --arg m "$1" --arg p "$2" 'select(.method == $m and (.path | test($p))) | .body' "$ZL_LOG"
}

# zl_msg EVENT_ID MSG_ID TEXT [STREAM [TOPIC [SENDER_EMAIL SENDER_NAME SENDER_ID]]]
zl_msg() {
	jq -cn --argjson eid "$1" --argjson mid "$2" --arg text "$3" --arg stream "${4-ops}" \
		--arg topic "${5:-deploys}" --arg email "${6:-al@zulip.test}" --arg name "${7:-Al Ops}" \
		--argjson uid "${8:-9}" '
	{type: "message", id: $eid, flags: [],
	 message: ({id: $mid, sender_id: $uid, sender_email: $email, sender_full_name: $name,
	           content: $text, timestamp: 1700000000, client: "test"} +
	  (if $stream == "" then {type: "private", display_recipient: [
	     {id: $uid, email: $email, full_name: $name},
	     {id: 99, email: "botpipe-bot@zulip.test", full_name: "Botpipe"}]}
	   else {type: "stream", stream_id: 3, display_recipient: $stream, subject: $topic} end))}'
}
