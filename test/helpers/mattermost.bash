# Helpers for test/mattermost.bats: the REST side and the WebSocket side of
# a Mattermost server, each a test/fake-http.py (HTTP mode, --ws mode) on a
# free loopback port, and the v4 events in the shapes the API documents.

TOKEN=mmT0KEN-s3cr3t-xyz
SELF=botuser0000000000000000000      # 26 characters, as Mattermost ids are
ALICE=aliceuser00000000000000000
CH=opschannel0000000000000000ab
CH=${CH:0:26}
export BOT_MATTERMOST_TOKEN=$TOKEN

# fake_start NAME ARGS...: a fake-http.py; its port in $d/NAME.port.
fake_start() {
	local name=$1; shift
	rm -f "$d/$name.port"
	/usr/bin/python3 "$BATS_TEST_DIRNAME/fake-http.py" --port-file "$d/$name.port" \
		--log "$d/$name.ndjson" "$@" > /dev/null 2> "$d/$name.err" 3>&- &
	echo $! > "$d/$name.pid"
	for _ in $(seq 100); do [ -s "$d/$name.port" ] && break; sleep 0.05; done
}
fake_stop() {
	[ -f "$d/$1.pid" ] || return 0
	kill "$(cat "$d/$1.pid")" 2>/dev/null || true
	wait "$(cat "$d/$1.pid")" 2>/dev/null || true
	rm -f "$d/$1.pid"
}

# rest_start SCRIPT_JSON: the REST API; users/me answers first (once per
# connection made: $ME_ANSWERS, 4), then the script.  Sets MM_URL.
rest_start() {
	local me
	me=$(jq -cn --arg id "$SELF" --argjson n "${ME_ANSWERS:-4}" \
		'[range($n)] | map({path:"/api/v4/users/me$", status:200, body:{id:$id, username:"bot"}})')
	fake_start rest --script-json "$(jq -cn --argjson me "$me" --argjson s "${1:-[]}" \
		'{responses: ($me + $s), default: {status: 201, body: {id: "post0000000000000000000000"}}}')"
	MM_URL="http://127.0.0.1:$(cat "$d/rest.port")"
	L=(-b mattermost --mattermost-url "$MM_URL")
}

# ws_start CONNECTION_JSON...: the socket, one script per connection.
ws_start() {
	fake_start ws --ws --script-json "$(printf '%s\n' "$@" | jq -cs '{connections: ., default: {actions: [{recv: 1}, {close: 1011}]}}')"
	L+=(--mattermost-ws-url "ws://127.0.0.1:$(cat "$d/ws.port")/api/v4/websocket")
}

# A connection that takes the challenge, says OK and hello, then sends
# each event given (JSON texts) and stays open.
ws_conn() {
	local ev
	{
		echo '{"recv":1}'
		jq -cn '{send: ({status:"OK", seq_reply:1} | tojson)}'
		jq -cn '{send: ({event:"hello", data:{server_version:"9.0"}, broadcast:{}, seq:0} | tojson)}'
		for ev in "$@"; do jq -cn --arg e "$ev" '{send: $e}'; done
	} | jq -cs '{actions: .}'
}

# posted SEQ POST_ID TEXT [ROOT_ID] [CREATE_AT] [FILES_JSON]: a "posted"
# event in ~ops from @alice, its post a JSON string inside the JSON.
posted() {
	jq -cn --argjson seq "$1" --arg id "$2" --arg m "$3" --arg root "${4:-}" \
		--argjson at "${5:-1700000000000}" --argjson files "${6:-null}" \
		--arg ch "$CH" --arg u "$ALICE" '{event:"posted", seq:$seq,
		data:{channel_display_name:"Ops", channel_name:"ops", channel_type:"O",
		      sender_name:"@alice", team_id:"team00000000000000000000000",
		      post:({id:$id, create_at:$at, update_at:$at, edit_at:0, user_id:$u,
		             channel_id:$ch, root_id:$root, message:$m, type:"", props:{}}
		            + (if $files then {file_ids:[$files[].id], metadata:{files:$files}} else {} end)
		            | tojson)},
		broadcast:{channel_id:$ch, team_id:"", user_id:"", omit_users:null}}'
}

# The requests the REST fake saw on a path (regex), through a jq filter.
requests() { jq -c --arg p "$1" "select(.path | test(\$p)) | ${2:-.}" "$d/rest.ndjson" 2>/dev/null; }
nreq() { requests "$1" | wc -l; }
wait_req() {
	for _ in $(seq 300); do [ "$(nreq "$1")" -ge "${2:-1}" ] && return 0; sleep 0.05; done
	echo "fewer than ${2:-1} requests to $1:" >&2; cat "$d/rest.ndjson" >&2; return 1
}
