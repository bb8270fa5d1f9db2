#!/usr/bin/env bats
# The Discord backend against loopback fakes built from Discord's
# documented shapes: test/fake-http.py serves the REST API (every request
# logged byte for byte) and, with --ws, the gateway (scripted payloads;
# every frame the bot sends logged).  The pipeline bot-listen |
# bot-dispatch | bot-send, one-shot bot-send, and bot-listen's session.
load helpers/common
load helpers/hostile

TOKEN=dc-T0KEN.s3cr3t-xyz

setup() {
	W=$BATS_TEST_TMPDIR
	API_PID= GW_PID= LPID= PIPE_PID=
	export BOT_DISCORD_TOKEN=$TOKEN
	GWPORT=$(free_port)
	export BOT_DISCORD_GATEWAY="ws://127.0.0.1:$GWPORT"
}

teardown() {
	[ -z "$LPID" ] || { kill "$LPID" 2>/dev/null; wait "$LPID" 2>/dev/null || true; }
	if [ -n "$PIPE_PID" ]; then
		kill -TERM -- "-$PIPE_PID" 2>/dev/null || true
		local i=0
		while kill -0 -- "-$PIPE_PID" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	fi
	gw_stop
	api_stop
	if grep -l 'Sanitizer\|runtime error' "$W"/*.err 2>/dev/null; then
		cat "$W"/*.err
		return 1
	fi
	return 0
}

free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# api_start [SCRIPT_JSON]: the REST fake; BOT_DISCORD_API points at it.
# By default every request gets a message as Discord answers a POST.
api_start() {
	local def='{"status":200,"body":{"id":"900","channel_id":"100"}}'
	rm -f "$W/api.port"
	/usr/bin/python3 "$BATS_TEST_DIRNAME/fake-http.py" --port-file "$W/api.port" --log "$W/api.ndjson" \
		--script-json "{\"responses\":${1:-[]},\"default\":$def}" >/dev/null 2>"$W/api-fake.log" 3>&- &
	API_PID=$!
	for _ in $(seq 100); do [ -s "$W/api.port" ] && break; sleep 0.05; done
	APIPORT=$(cat "$W/api.port")
	export BOT_DISCORD_API="http://127.0.0.1:$APIPORT/api/v10"
}
api_stop() { [ -z "$API_PID" ] || { kill "$API_PID" 2>/dev/null; wait "$API_PID" 2>/dev/null || true; API_PID=; }; }

# gw_start CONNECTIONS_JSON: the gateway fake on $GWPORT.
gw_start() {
	rm -f "$W/gw.port"
	/usr/bin/python3 "$BATS_TEST_DIRNAME/fake-http.py" --ws --port "$GWPORT" --port-file "$W/gw.port" \
		--log "$W/gw.ndjson" --script <(printf '%s' "$1") >/dev/null 2>"$W/gw-fake.log" 3>&- &
	GW_PID=$!
	for _ in $(seq 100); do [ -s "$W/gw.port" ] && return 0; sleep 0.05; done
	return 1
}
gw_stop() { [ -z "$GW_PID" ] || { kill "$GW_PID" 2>/dev/null; wait "$GW_PID" 2>/dev/null || true; GW_PID=; }; }

# Gateway payloads, as Discord sends them.
hello() { printf '{"op":10,"d":{"heartbeat_interval":%s}}' "${1:-45000}"; }
ready() {
	printf '{"op":0,"t":"READY","s":%s,"d":{"v":10,"session_id":"%s","resume_gateway_url":"ws://127.0.0.1:%s","user":{"id":"999","username":"botpipe","bot":true}}}' \
		"${2:-1}" "${1:-sess-1}" "$GWPORT"
}
# say SEQ MESSAGE_ID TEXT [EXTRA_JSON]: alice (200) in channel 100 of guild 50.
say() {
	jq -cn --argjson s "$1" --arg id "$2" --arg c "$3" --argjson x "${4:-{\}}" \
		'{op:0,t:"MESSAGE_CREATE",s:$s,d:({id:$id,channel_id:"100",guild_id:"50",
		  author:{id:"200",username:"alice",global_name:"Alice"},content:$c,
		  timestamp:"2026-12-01T12:00:00.000000+00:00"} + $x)}'
}
dispatch_ev() { jq -cn --argjson s "$1" --arg t "$2" --argjson d "$3" '{op:0,t:$t,s:$s,d:$d}'; }
# The actions of a connection: answer heartbeats, HELLO, then wait for the
# IDENTIFY (or RESUME with "resume").
ack_auto='{"auto":[{"match":"^\\{\"op\":1,","send":"{\"op\":11}"}]}'
send() { jq -cn --arg s "$1" '{send:$s}'; }
expect_op() { jq -cn --arg re "^\\{\"op\":$1," '{expect:$re}'; }
# conn ACTION_JSON...: one connection's script.
conn() { jq -cs '{actions: .}' <<< "$*"; }
session_start() { echo "$ack_auto $(send "$(hello "${1:-45000}")") $(expect_op 2) $(send "$(ready)")"; }

# Frames the bot sent on connection N with gateway op OP, as JSON lines.
frames() {
	jq -c --argjson c "$1" --argjson op "$2" 'select(.conn==$c and .event=="frame" and .opcode==1)
		| .data | fromjson | select(.op==$op)' "$W/gw.ndjson"
}
# Requests the REST fake got (jq filter on each).
requests() { jq -c "$1" "$W/api.ndjson"; }

listen() {
	bot-listen -b discord --session "${SESSION:-none}" "$@" > "$W/events" 2> "$W/listen.err" 3>&- &
	LPID=$!
}

@test "connected at READY, not before; IDENTIFY carries the token and the intents the settings ask for" {
	api_start
	gw_start "[$(conn "$ack_auto" "$(send "$(hello)")" "$(expect_op 2)" '{"sleep":1}' "$(send "$(ready)")" '{"hold":true}')]"
	listen --discord-members
	wait_for "$W/gw.ndjson" '"op\\":2'
	sleep 0.5
	run jq -r 'select(.type=="connection") | .state' "$W/events"
	assert_output connecting
	wait_for "$W/events" '"state":"connected"'
	run frames 1 2
	# GUILDS 1 | GUILD_MEMBERS 2 | GUILD_MESSAGES 512 | reactions 1024 |
	# DIRECT_MESSAGES 4096 | DM reactions 8192 | MESSAGE_CONTENT 32768
	assert_output "{\"op\":2,\"d\":{\"token\":\"$TOKEN\",\"intents\":46595,\"properties\":{\"os\":\"linux\",\"browser\":\"botpipe\",\"device\":\"botpipe\"}}}"
	# the gateway URL with the version and encoding Discord wants
	run jq -r 'select(.event=="open") | .path' "$W/gw.ndjson"
	assert_output '/?v=10&encoding=json'
	# the token is in no event and no log line
	run ! grep -F "$TOKEN" "$W/events" "$W/listen.err"
}

@test "without --discord-gateway the gateway comes from GET /gateway/bot, asked with the token" {
	api_start "[{\"path\":\"/gateway/bot\",\"body\":{\"url\":\"ws://127.0.0.1:$GWPORT\",\"shards\":1}}]"
	unset BOT_DISCORD_GATEWAY
	gw_start "[$(conn $(session_start) '{"hold":true}')]"
	listen
	wait_for "$W/events" '"state":"connected"'
	run requests '[.method, .path, .headers.authorization]'
	assert_output "[\"GET\",\"/api/v10/gateway/bot\",\"Bot $TOKEN\"]"
}

@test "guild messages, edits, deletes, reactions, member joins and presence come in as events" {
	api_start
	local member='{"guild_id":"50","user":{"id":"300","username":"bob"},"nick":null}'
	local react='{"user_id":"200","channel_id":"100","message_id":"700","guild_id":"50","message_author_id":"999","member":{"user":{"id":"200","username":"alice"}},"emoji":{"id":null,"name":"👍"}}'
	gw_start "[$(conn $(session_start) \
		"$(send "$(say 2 700 'hello there' '{"message_reference":{"message_id":"650","channel_id":"100"}}')")" \
		"$(send "$(dispatch_ev 3 MESSAGE_UPDATE "$(say 0 700 'hello, edited' | jq -c .d)")")" \
		"$(send "$(dispatch_ev 4 MESSAGE_REACTION_ADD "$react")")" \
		"$(send "$(dispatch_ev 5 MESSAGE_DELETE '{"id":"700","channel_id":"100","guild_id":"50"}')")" \
		"$(send "$(dispatch_ev 6 GUILD_MEMBER_ADD "$member")")" \
		"$(send "$(dispatch_ev 7 PRESENCE_UPDATE '{"user":{"id":"300"},"guild_id":"50","status":"idle","activities":[{"type":4,"name":"Custom Status","state":"lunch"}]}')")" \
		'{"hold":true}')]"
	listen
	wait_for "$W/events" '"type":"presence"'
	run jq -c 'select(.type=="message") | [.id, .from.id, .from.person, .from.nick, .to.id, .body, .parent.id, .replaces, .is_group]' "$W/events"
	assert_output - <<-'EOF'
		["100:700","#100/@200","@200","alice","#100","hello there","100:650",null,true]
		["100:700","#100/@200","@200","alice","#100","hello, edited",null,"100:700",true]
	EOF
	run jq -c 'select(.type=="reaction") | [.action, .reaction_name, .reactor.person, .reacted_to.id, .reacted_to_owner.id]' "$W/events"
	assert_output '["added","👍","@200","100:700","@999"]'
	run jq -c 'select(.type=="delete") | [.to.id, .deletes]' "$W/events"
	assert_output '["#100","100:700"]'
	run jq -c 'select(.type=="room") | [.action, .room.id, .occupant.person, .occupant.nick]' "$W/events"
	assert_output '["joined","&50","@300","bob"]'
	run jq -c 'select(.type=="presence") | [.identifier.id, .status, .message]' "$W/events"
	assert_output '["@300","away","lunch"]'
}

@test "!echo in a channel: the reply mentions (and pings only) the asker, refers to the message, carries a nonce" {
	api_start
	# a reply to message 650: a threaded message, so the answer refers to it too
	gw_start "[$(conn $(session_start) "$(send "$(say 2 701 '!echo hi **there**' '{"message_reference":{"message_id":"650"}}')")" '{"hold":true}')]"
	setsid sh -c 'bot-listen -b discord | tee "$0/events" | bot-dispatch 2>"$0/dispatch.err" |
		bot-send -b discord >"$0/sent" 2>"$0/send.err"' "$W" 2>"$W/listen.err" 3>&- &
	PIPE_PID=$!
	wait_for "$W/api.ndjson" 'messages'
	run requests 'select(.method=="POST") | [.path, .json.content, .json.nonce, .json.enforce_nonce, .json.allowed_mentions, .json.message_reference.message_id]'
	assert_output '["/api/v10/channels/100/messages","<@200> hi **there**","100:701.reply.0",true,{"parse":[],"users":["200"]},"650"]'
	run requests '.headers.authorization'
	assert_output "\"Bot $TOKEN\""
	wait_for "$W/sent" '"type":"sent"'
	run jq -c '[.type, .id]' "$W/sent"
	assert_output '["sent","100:900"]'
}

@test "a DM is answered in the DM channel it came from; a new DM opens one first" {
	api_start "[{\"path\":\"/users/@me/channels\",\"body\":{\"id\":\"555\",\"type\":1}}]"
	gw_start "[$(conn $(session_start) "$(send "$(say 2 702 '!echo private' '{"guild_id":null,"channel_id":"444"}' | jq -c 'del(.d.guild_id)')")" '{"hold":true}')]"
	setsid sh -c 'bot-listen -b discord | tee "$0/events" | bot-dispatch 2>"$0/dispatch.err" |
		bot-send -b discord >"$0/sent" 2>"$0/send.err"' "$W" 2>"$W/listen.err" 3>&- &
	PIPE_PID=$!
	wait_for "$W/sent" '"type":"sent"'
	run jq -c 'select(.type=="message") | [.from.id, .to.id, .is_direct]' "$W/events"
	assert_output '["@200","@999",true]'
	run requests '[.method, .path, .json.content]'
	assert_output '["POST","/api/v10/channels/444/messages","private"]'
	# one-shot to someone never met: POST /users/@me/channels, then the message
	: > "$W/api.ndjson"
	XDG_RUNTIME_DIR=/nonexistent run bot-send -b discord --to '@300' 'hello bob'
	assert_success
	run requests '[.method, .path, (.json | del(.nonce))]'
	assert_output - <<-'EOF'
		["POST","/api/v10/users/@me/channels",{"recipient_id":"300"}]
		["POST","/api/v10/channels/555/messages",{"enforce_nonce":true,"allowed_mentions":{"parse":[],"users":[]},"content":"hello bob"}]
	EOF
	run requests 'select(.path | endswith("/messages")) | .json.nonce | test("^h[0-9a-f]+[.]0$") and length <= 25'
	assert_output true
}

@test "a long message is cut at 2,000 characters, in order, each part with its own nonce" {
	api_start
	python3 -c 'print(" ".join("word%04d" % i for i in range(500)))' > "$W/long"
	run bot-send -b discord < <(jq -cn --rawfile b "$W/long" '{type:"message",id:"long1",to:"#100",body:$b}')
	assert_success
	run requests '.json.content | length <= 2000'
	refute_output --partial false
	run requests '.json.nonce'
	assert_output $'"long1.0"\n"long1.1"\n"long1.2"'
	# joined again, nothing lost or reordered
	diff <(requests '.json.content' | jq -r . | tr '\n' ' ' | tr -s ' ' | sed 's/ $//') <(tr -d '\n' < "$W/long")
}

@test "a nonce longer than 25 characters is hashed, the same on every retry" {
	api_start '[{"status":500,"body":{"message":"oops"}}]'
	run bot-send -b discord <<< '{"type":"message","id":"a-very-long-event-identifier-from-a-plugin","to":"#100","body":"hi"}'
	assert_success
	run requests '.json.nonce'
	[ "${#lines[@]}" -eq 2 ]
	[ "${lines[0]}" = "${lines[1]}" ]
	[ "$(jq -r 'length' <<< "${lines[0]}")" -le 25 ]
}

@test "a card is one native embed" {
	api_start
	run bot-card --to '#100' --title 'Build 42' --summary 'all green' --link https://ci.example/42 \
		--color red --field branch=main --field took=3m
	bot-card --to '#100' --title 'Build 42' --summary 'all green' --link https://ci.example/42 \
		--color red --field branch=main --field took=3m | bot-send -b discord
	run requests '.json | {embeds, content}'
	assert_output '{"embeds":[{"title":"Build 42","description":"all green","url":"https://ci.example/42","color":16711680,"fields":[{"name":"branch","value":"main","inline":true},{"name":"took","value":"3m","inline":true}]}],"content":null}'
}

@test "reactions, edits, deletes and files go out on Discord's routes" {
	api_start '[{"path":"reactions","status":204,"body":""},{"path":"reactions","status":204,"body":""}]'
	echo '{"type":"reaction","action":"added","reaction_name":"👍","reacted_to":{"id":"100:700","to":"#100"}}' | bot-send -b discord
	echo '{"type":"reaction","action":"removed","reaction_name":"thumbsup","reacted_to":{"id":"100:700","to":"#100"}}' | bot-send -b discord
	echo '{"type":"message","to":"#100","replaces":"100:900","body":"fixed *typo*"}' | bot-send -b discord
	echo '{"type":"delete","to":"#100","deletes":"100:900"}' | bot-send -b discord
	mkdir -p "$W/out" && printf 'report\x00\x01bytes' > "$W/out/r.bin"
	echo "{\"type\":\"stream\",\"to\":\"#100\",\"path\":\"$W/out/r.bin\",\"name\":\"r.bin\"}" |
		bot-send -b discord --files-from "$W/out" > "$W/sent"
	run requests '[.method, .path]'
	assert_output - <<-'EOF'
		["PUT","/api/v10/channels/100/messages/700/reactions/%F0%9F%91%8D/@me"]
		["DELETE","/api/v10/channels/100/messages/700/reactions/%F0%9F%91%8D/@me"]
		["PATCH","/api/v10/channels/100/messages/900"]
		["DELETE","/api/v10/channels/100/messages/900"]
		["POST","/api/v10/channels/100/messages"]
	EOF
	run requests 'select(.method=="PATCH") | .json.content'
	assert_output '"fixed *typo*"'
	# the file: multipart with files[0] (its exact bytes) and payload_json
	jq -r 'select(.path=="/api/v10/channels/100/messages" and .method=="POST") | .body_b64' "$W/api.ndjson" | base64 -d > "$W/multipart"
	grep -a 'name="files\[0\]"; filename="r.bin"' "$W/multipart"
	grep -a -F 'report' "$W/multipart"
	grep -a -F '"attachments":[{"id":0,"filename":"r.bin"}]' "$W/multipart"
	cmp <(printf 'report\x00\x01bytes') <(python3 -c '
import sys,re
d=open(sys.argv[1],"rb").read()
i=d.index(b"filename=\"r.bin\"")
b=d[d.index(b"\r\n\r\n",i)+4:]
print(end="",flush=True); sys.stdout.buffer.write(b[:b.index(b"\r\n--")])' "$W/multipart")
	run jq -r .type "$W/sent"
	assert_output sent
}

@test "an attachment comes in as a stream event: downloaded into the spool, without the token" {
	api_start '[{"path":"/cdn/","body":"PDF-BYTES-1234"}]'
	local att="{\"attachments\":[{\"id\":\"1\",\"filename\":\"../../etc/report.pdf\",\"size\":14,\"url\":\"http://127.0.0.1:$APIPORT/cdn/report.pdf?sig=x\",\"content_type\":\"application/pdf\"}]}"
	gw_start "[$(conn $(session_start) "$(send "$(say 2 703 'see file' "$att")")" '{"hold":true}')]"
	listen
	wait_for "$W/events" '"type":"stream"'
	run jq -c 'select(.type=="stream") | [.status, .name, .stream_type, .identifier.person, .parent.id]' "$W/events"
	assert_output '["success","../../etc/report.pdf","application/pdf","@200","100:703"]'
	path=$(jq -r 'select(.type=="stream") | .path' "$W/events")
	[[ "$path" == "$XDG_STATE_HOME"/botpipe/discord/spool/*.pdf ]]
	run cat "$path"
	assert_output PDF-BYTES-1234
	run requests 'select(.path | startswith("/cdn/")) | .headers.authorization'
	assert_output null
}

@test "a dropped socket is resumed at resume_gateway_url with the session and sequence: nothing lost, nothing twice" {
	api_start
	gw_start "[$(conn $(session_start) "$(send "$(say 2 710 one)")" "$(send "$(say 3 711 two)")" '{"sleep":0.3}' '{"drop":true}'),
		$(conn "$ack_auto" "$(send "$(hello)")" "$(expect_op 6)" "$(send "$(say 4 712 three)")" \
			"$(send '{"op":0,"t":"RESUMED","s":5,"d":{}}')" "$(send "$(say 6 713 four)")" '{"sleep":0.3}' \
			'{"send":"{\"op\":7,\"d\":null}"}' '{"hold":true}'),
		$(conn "$ack_auto" "$(send "$(hello)")" "$(expect_op 6)" "$(send '{"op":0,"t":"RESUMED","s":7,"d":{}}')" \
			"$(send "$(say 8 714 five)")" '{"hold":true}')]"
	listen
	wait_for "$W/events" '"body":"five"' 20
	run jq -r 'select(.type=="message") | .body' "$W/events"
	assert_output $'one\ntwo\nthree\nfour\nfive'
	# connection 2 and 3 resumed, never identified
	run frames 2 6
	assert_output "{\"op\":6,\"d\":{\"token\":\"$TOKEN\",\"session_id\":\"sess-1\",\"seq\":3}}"
	run frames 3 6
	assert_output "{\"op\":6,\"d\":{\"token\":\"$TOKEN\",\"session_id\":\"sess-1\",\"seq\":6}}"
	run jq -s '[.[] | select(.event=="frame" and .opcode==1) | .data | fromjson | select(.op==2)] | length' "$W/gw.ndjson"
	assert_output 1
	run jq -r 'select(.type=="connection") | .state' "$W/events"
	assert_output $'connecting\nconnected\ndisconnected\nconnecting\nconnected\ndisconnected\nconnecting\nconnected'
}

@test "invalid session: resumable resumes, not resumable identifies again" {
	api_start
	gw_start "[$(conn $(session_start) '{"send":"{\"op\":9,\"d\":true}"}' '{"hold":true}'),
		$(conn "$ack_auto" "$(send "$(hello)")" "$(expect_op 6)" '{"send":"{\"op\":9,\"d\":false}"}' '{"hold":true}'),
		$(conn $(session_start) "$(send "$(say 2 720 again)")" '{"hold":true}')]"
	listen
	wait_for "$W/events" '"body":"again"' 30
	run jq -c 'select(.event=="frame" and .opcode==1) | [.conn, (.data | fromjson | .op)] | select(.[1] != 1)' "$W/gw.ndjson"
	assert_output $'[1,2]\n[2,6]\n[3,2]'
}

@test "a missed heartbeat ACK, or a silent socket, is noticed within two intervals and resumed" {
	api_start
	# connection 1 acks nothing; connection 2 goes silent after READY
	gw_start "[$(conn "$(send "$(hello 400)")" "$(expect_op 2)" "$(send "$(ready)")" '{"hold":true}'),
		$(conn "$(send "$(hello 400)")" "$(expect_op 6)" '{"silence":true}'),
		$(conn "$ack_auto" "$(send "$(hello 400)")" "$(expect_op 6)" "$(send '{"op":0,"t":"RESUMED","s":2,"d":{}}')" '{"hold":true}')]"
	listen
	wait_for "$W/gw.ndjson" '"conn": 3, "event": "open"' 10
	wait_for "$W/events" '"state":"connected".*' 10
	run jq -r 'select(.type=="connection" and .state=="disconnected") | .reason' "$W/events"
	assert_output --partial 'no heartbeat ACK in 400 ms'
	# each connection ended within two intervals of its first beat (+ the reconnect)
	run jq -s '[.[] | select(.event=="open" or .event=="closed") | .t] as $t | ($t[1] - $t[0]) < 5' "$W/gw.ndjson"
	assert_output true
}

@test "close 4004 (bad token) ends bot-listen with 77 after one attempt; a 401 on /gateway/bot too" {
	api_start '[{"path":"/gateway/bot","status":401,"body":{"message":"401: Unauthorized","code":0}}]'
	gw_start "[$(conn "$(send "$(hello)")" "$(expect_op 2)" '{"close":4004,"reason":"Authentication failed."}')]"
	run -77 --separate-stderr timeout 20 bot-listen -b discord --session none
	run jq -c 'select(.type=="connection") | [.state, .retry_in]' <<< "$output"
	assert_output $'["connecting",null]\n["disconnected",null]'
	run jq -s '[.[] | select(.event=="open")] | length' "$W/gw.ndjson"
	assert_output 1
	unset BOT_DISCORD_GATEWAY
	run -77 --separate-stderr timeout 20 bot-listen -b discord --session none
	[ "$(jq -s 'length' "$W/api.ndjson")" -eq 1 ]
	# and a REST 401 for a one-shot send
	api_stop
	api_start '[{"status":401,"body":{"message":"401: Unauthorized","code":0}}]'
	run -77 bot-send -b discord --to '#100' hi
	refute_output --partial "$TOKEN"
}

@test "close 4014 (privileged intents not enabled) is a configuration error, 78" {
	api_start
	gw_start "[$(conn "$(send "$(hello)")" "$(expect_op 2)" '{"close":4014,"reason":"Disallowed intent(s)."}')]"
	run -78 --separate-stderr timeout 20 bot-listen -b discord --session none
	assert_output --partial '"state":"disconnected"'
	[[ "$stderr" == *"4014"* ]]
}

@test "a 429's float retry_after is honoured (bucket and global), and the retry reuses the nonce" {
	api_start '[{"status":429,"headers":{"X-RateLimit-Bucket":"abcd1234","X-RateLimit-Scope":"user"},"body":{"message":"You are being rate limited.","retry_after":0.75,"global":false}},
		{"status":429,"headers":{"X-RateLimit-Global":"true","X-RateLimit-Scope":"global"},"body":{"message":"You are being rate limited.","retry_after":0.5,"global":true}}]'
	run bot-send -b discord <<< '{"type":"message","id":"rl1","to":"#100","body":"slow down"}'
	assert_success
	run jq -s 'map(.t) | [.[1] - .[0] >= 0.75, .[2] - .[1] >= 0.5]' "$W/api.ndjson"
	assert_output "$(jq -n '[true, true]')"
	run requests '.json.nonce'
	assert_output $'"rl1.0"\n"rl1.0"\n"rl1.0"'
}

@test "an answer that empties its bucket makes the next part wait for X-RateLimit-Reset-After" {
	api_start '[{"headers":{"X-RateLimit-Bucket":"b1","X-RateLimit-Limit":"5","X-RateLimit-Remaining":"0","X-RateLimit-Reset-After":"0.8"},"body":{"id":"901","channel_id":"100"}}]'
	python3 -c 'print("x" * 2500)' > "$W/two"
	run bot-send -b discord --to '#100' --raw < "$W/two"
	assert_success
	run jq -s 'map(.t) | .[1] - .[0] >= 0.8' "$W/api.ndjson"
	assert_output true
}

@test "one-shot bot-send from cron, and through a running bot-listen's session" {
	api_start
	XDG_RUNTIME_DIR=/nonexistent run bot-send -b discord --to '#100' 'from cron'
	assert_success
	assert_output --partial '"type":"sent"'
	gw_start "[$(conn $(session_start) '{"hold":true}')]"
	bot-listen -b discord -v > "$W/events" 2> "$W/listen.err" 3>&- &
	LPID=$!
	wait_for "$W/events" '"state":"connected"'
	run --separate-stderr bot-send -b discord -v --to '#100' 'through the session'
	assert_success
	assert_output --partial '"id":"100:900"'
	# bot-listen made the request, not bot-send
	[[ "$stderr" != *"> POST"* ]]
	wait_for "$W/listen.err" '> POST /'

	run requests '.json.content'
	assert_output $'"from cron"\n"through the session"'
}

@test "nothing lost or twice across a kill -9 of bot-listen and a restart of the gateway" {
	api_start
	gw_start "[$(conn $(session_start) "$(send "$(say 2 730 a1)")" '{"hold":true}'),
		$(conn $(session_start) "$(send "$(say 2 731 a2)")" '{"sleep":0.3}' '{"drop":true}')]"
	listen
	wait_for "$W/events" '"body":"a1"'
	kill -9 "$LPID"; wait "$LPID" 2>/dev/null || true
	listen
	wait_for "$W/events" '"body":"a2"'
	# the second process identified afresh (its session died with the first)
	run frames 2 2
	assert_output --partial '"op":2'
	gw_stop
	gw_start "[$(conn "$ack_auto" "$(send "$(hello)")" "$(expect_op 6)" "$(send "$(say 3 732 a3)")" '{"hold":true}')]"
	wait_for "$W/events" '"body":"a3"' 20
	run jq -r 'select(.type=="message") | .body' "$W/events"
	assert_output $'a2\na3'
	run frames 1 6
	assert_output "{\"op\":6,\"d\":{\"token\":\"$TOKEN\",\"session_id\":\"sess-1\",\"seq\":2}}"
}

@test "the token is in no output, event, -v log or ps" {
	api_start
	gw_start "[$(conn $(session_start) "$(send "$(say 2 740 "token? $TOKEN")")" '{"hold":true}')]"
	bot-listen -b discord -v --session none > "$W/events" 2> "$W/listen.err" 3>&- &
	LPID=$!
	wait_for "$W/events" '"body"'
	ps -eo args > "$W/ps"
	bot-send -b discord -v --to '#100' hi > "$W/sent" 2> "$W/send.err"
	run ! grep -F "$TOKEN" "$W/events" "$W/listen.err" "$W/sent" "$W/send.err" "$W/ps"
}

@test "bad identifiers and settings are named" {
	run bot-send -b discord --discord-api http://127.0.0.1:1 --to 'ops' hi
	assert_failure
	assert_output --partial '#CHANNEL'
	BOT_DISCORD_TOKEN= run bot-send -b discord --to '#100' hi
	assert_failure 78
	assert_output --partial 'BOT_DISCORD_TOKEN'
	run bot-listen -b discord --discord-gateway http://x --session none
	assert_failure 78
	assert_output --partial 'ws://'
}

@test "while stdout's reader is stopped, nothing more is read from the gateway, and heartbeats go on" {
	[ "${VALGRIND:-}" != 1 ] || skip "minutes under valgrind over 60 MB of events"
	api_start
	head -c 1000000 /dev/zero | tr '\0' x > "$W/mb"
	# 60 MB of messages, then heartbeats are all the gateway waits for;
	# beats 3 s apart, so the first ACK is read before the reader lags
	say 2 800 BIG | jq -c --rawfile mb "$W/mb" '.d.content = $mb' > "$W/big"
	jq -cn --arg ack "$ack_auto" --arg hello "$(hello 3000)" --arg ready "$(ready)" --rawfile big "$W/big" \
		'[{actions: [($ack | fromjson), {send: $hello}, {expect: "^\\{\"op\":2,"}, {send: $ready},
		   {send: $big, repeat: 60}, {hold: true}]}]' > "$W/gw.json"
	gw_start "$(cat "$W/gw.json")"
	mkfifo "$W/fifo"
	exec 8<> "$W/fifo"   # the reader: holds the pipe open, never reads
	/usr/bin/time -f %M -o "$W/rss" bot-listen -b discord -v --session none > "$W/fifo" 2> "$W/listen.err" 8<&- &
	LPID=$!
	wait_for "$W/listen.err" 'stopped reading the gateway' 30
	# four beats after the reader stopped: the connection stays (the
	# ACKs wait unread behind the events, and that is no zombie)
	local before
	before=$(frames 1 1 | wc -l)
	for _ in $(seq 300); do
		[ "$(frames 1 1 | wc -l)" -ge $((before + 4)) ] && break
		sleep 0.1
	done
	[ "$(frames 1 1 | wc -l)" -ge $((before + 4)) ]
	run jq -s '[.[] | select(.event=="open")] | length' "$W/gw.ndjson"
	assert_output 1
	kill -0 "$LPID"
	kill "$(pgrep -P "$LPID")"   # bot-listen, under time
	wait "$LPID" || true; LPID=
	exec 8<&-
	# 60 MB came; what was held is the 8 MiB queue and what one turn reads
	# (with_rss's file: not under sanitizers, whose quarantine keeps what was freed)
	assert_rss_below 40000
}
