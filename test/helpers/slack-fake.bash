# Slack's two sides on loopback, from test/fake-http.py: the Web API (HTTP)
# and the Socket Mode socket (--ws), two processes.  The shapes come from
# Slack's documentation (auth.test, apps.connections.open, chat.postMessage,
# Socket Mode envelopes), not from the backend.
#
#   slack_ws_start CONNECTIONS_JSON   the socket: one script per connection
#   slack_api_start [RESPONSES_JSON]  the Web API; these answers first ("SELF"
#                                     in them: the fake's own http://host:port), then
#                                     auth.test, apps.connections.open (the
#                                     socket's URL) and chat.postMessage
#   slack_stop                        both (teardown)
# Logs: $SW/api.ndjson (one request a line), $SW/ws.ndjson (socket events).
# Envelopes for the script: envelope ID EVENT_ID EVENT_JSON [RETRY],
# hello, disconnect REASON: each a {"send": ...} action.

SLACK_APP_TOKEN=xapp-1-A0APP-s3cretapp
SLACK_BOT_TOKEN=xoxb-1-s3cretbot

slack_ws_start() {
	SW=${SW:-$BATS_TEST_TMPDIR}
	rm -f "$SW/ws.port" "$SW/ws.ndjson"
	printf '%s\n' "$1" > "$SW/ws-script.json"   # may be past one argument's 128 KiB
	/usr/bin/python3 "$ROOT/test/fake-http.py" --ws --port-file "$SW/ws.port" \
		--log "$SW/ws.ndjson" --script "$SW/ws-script.json" >/dev/null 2>"$SW/ws.err" 3>&- &
	SLACK_WS_PID=$!
	for _ in $(seq 100); do [ -s "$SW/ws.port" ] && break; sleep 0.05; done
	SLACK_WS_PORT=$(cat "$SW/ws.port")
}

slack_api_start() {
	SW=${SW:-$BATS_TEST_TMPDIR}
	rm -f "$SW/api.port" "$SW/api.ndjson"
	local url="ws://127.0.0.1:$SLACK_WS_PORT/link/?ticket=t1ck3t-s3cret"
	local script port
	# the port first, so that answers can name the fake itself ("SELF")
	port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	script=$(jq -cn --argjson first "${1:-[]}" --arg url "$url" --arg self "http://127.0.0.1:$port" '
		($first | walk(if type == "string" then gsub("SELF"; $self) else . end)) + [
		{path: "/auth.test$", keep: true, body: {ok: true, user_id: "UBOT", bot_id: "BBOT", team_id: "T1"}},
		{path: "/apps.connections.open$", keep: true, body: {ok: true, url: $url}},
		{path: "/chat.postMessage$", keep: true, count: true,
		 body: {ok: true, channel: "C0123", ts: "1700000001.{n}"}},
		{path: "/chat.update$", keep: true, body: {ok: true, channel: "C0123", ts: "1700000000.000100"}}]')
	/usr/bin/python3 "$ROOT/test/fake-http.py" --port "$port" --port-file "$SW/api.port" \
		--log "$SW/api.ndjson" --script-json "$script" >/dev/null 2>"$SW/api.err" 3>&- &
	SLACK_API_PID=$!
	for _ in $(seq 100); do [ -s "$SW/api.port" ] && break; sleep 0.05; done
	SLACK_API_PORT=$(cat "$SW/api.port")
	export BOT_SLACK_API="http://127.0.0.1:$SLACK_API_PORT/api"
	export BOT_SLACK_APP_TOKEN=$SLACK_APP_TOKEN BOT_SLACK_BOT_TOKEN=$SLACK_BOT_TOKEN
}

slack_stop() {
	local p
	for p in "${SLACK_API_PID:-}" "${SLACK_WS_PID:-}"; do
		[ -z "$p" ] || { kill "$p" 2>/dev/null; wait "$p" 2>/dev/null || true; }
	done
	SLACK_API_PID= SLACK_WS_PID=
}

hello() { jq -cn '{send: ({type: "hello", num_connections: 1} | tojson)}'; }
disconnect() { jq -cn --arg r "$1" '{send: ({type: "disconnect", reason: $r} | tojson)}'; }
envelope() {
	jq -cn --arg id "$1" --arg ev "$2" --argjson e "$3" --argjson r "${4:-0}" \
		'{send: ({envelope_id: $id, type: "events_api", accepts_response_payload: false,
		          retry_attempt: $r, retry_reason: (if $r > 0 then "timeout" else "" end),
		          payload: {type: "event_callback", team_id: "T1", event_id: $ev,
		                    event_time: 1700000000, event: $e}} | tojson)}'
}
# A channel message event from user $2 in C0123 with text $1 (ts $3).
chan_msg() {
	jq -cn --arg t "$1" --arg u "${2:-U0456}" --arg ts "${3:-1700000000.000100}" \
		'{type: "message", channel: "C0123", channel_type: "channel", user: $u, text: $t, ts: $ts,
		  event_ts: $ts}'
}
# A connection's actions as JSON: conn ACTION...
conn() { printf '%s\n' "$@" | jq -cs '{actions: .}'; }
connections() { printf '%s\n' "$@" | jq -cs .; }

# API requests to a method, their JSON bodies; socket frames received
# (text) on connection N, or on all.
api_bodies() { jq -c --arg m "$1" 'select(.path | endswith("/" + $m) or contains("/" + $m + "?")) | .json' "$SW/api.ndjson"; }
api_count() { jq -c --arg m "$1" 'select(.path | endswith("/" + $m) or contains("/" + $m + "?"))' "$SW/api.ndjson" 2>/dev/null | wc -l; }
ws_acks() { jq -r 'select(.event == "frame" and .opcode == 1) | .data | fromjson? | .envelope_id // empty' "$SW/ws.ndjson"; }
