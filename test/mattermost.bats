#!/usr/bin/env bats
# The mattermost backend against a loopback Mattermost: the REST API
# (test/fake-http.py) and the v4 WebSocket (fake-http.py --ws), asserting
# on what the fakes received and on the events bot-listen wrote.
load helpers/common
load helpers/mattermost

setup() {
	d=$BATS_TEST_TMPDIR
	export XDG_STATE_HOME="$d/state" XDG_RUNTIME_DIR="$d/run"
	mkdir -p -m 700 "$XDG_STATE_HOME" "$XDG_RUNTIME_DIR"
	LISTEN_PID=
	PIDS=()
}

teardown() {
	[ -z "$LISTEN_PID" ] || kill -9 "$LISTEN_PID" 2>/dev/null || true
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	fake_stop rest
	fake_stop ws
}

# bot-listen in the background, its events in $d/events.
listen_bg() {
	bot-listen "${L[@]}" --session none "$@" > "$d/events" 2> "$d/err" &
	LISTEN_PID=$!
}
stop_listen() {
	kill "$LISTEN_PID"
	local rc=0
	wait "$LISTEN_PID" || rc=$?
	LISTEN_PID=
	[ "$rc" -eq 0 ] || { echo "bot-listen exited $rc:" >&2; cat "$d/err" >&2; return 1; }
}

@test "one-shot bot-send posts to a channel id: the body Mattermost reads, the Bearer token, the post's id" {
	rest_start '[{"path":"/api/v4/posts$","status":201,"body":{"id":"newpost000000000000000000a","channel_id":"x"}}]'
	run --separate-stderr bot-send "${L[@]}" --session none --to "$CH" 'deploy **done**'
	assert_success
	assert_output "{\"type\":\"sent\",\"id\":\"newpost000000000000000000a\",\"to\":{\"kind\":\"room\",\"id\":\"$CH\"}}"
	assert_equal "$(requests '/api/v4/posts$' '.method')" '"POST"'
	assert_equal "$(requests '/api/v4/posts$' '.json | del(.pending_post_id)')" \
		"{\"message\":\"deploy **done**\",\"channel_id\":\"$CH\"}"
	assert_equal "$(requests '/api/v4/posts$' '.headers.authorization')" "\"Bearer $TOKEN\""
}

@test "a ~channel is looked up in --mattermost-team, then posted to" {
	rest_start "[{\"path\":\"/api/v4/teams/name/eng/channels/name/ops\$\",\"status\":200,\"body\":{\"id\":\"$CH\",\"name\":\"ops\"}}]"
	run --separate-stderr bot-send "${L[@]}" --mattermost-team eng --session none --to '~ops' hi
	assert_success
	assert_equal "$(requests '/api/v4/posts$' '.json.channel_id')" "\"$CH\""
	run --separate-stderr bot-send "${L[@]}" --session none --to '~ops' hi
	assert_failure 65
	assert_equal "$stderr" "bot-send: error: bad_input: mattermost: a channel name: give --mattermost-team to send to a ~channel"
}

@test "listening: a posted event (its post a JSON string) is a message; edited, deleted, reactions and members are events" {
	rest_start
	react=$(jq -cn --arg u "$ALICE" '{event:"reaction_added", seq:2, data:{reaction:({user_id:$u, post_id:"p1p1p1p1p1p1p1p1p1p1p1p1p1", emoji_name:"tada", create_at:1700000001000}|tojson)}, broadcast:{}}')
	edit=$(posted 3 p1p1p1p1p1p1p1p1p1p1p1p1p1 'hello, edited' | jq -c '.event = "post_edited"')
	del=$(posted 4 p1p1p1p1p1p1p1p1p1p1p1p1p1 '' | jq -c '.event = "post_deleted"')
	join=$(jq -cn --arg u "$ALICE" --arg c "$CH" '{event:"user_added", seq:5, data:{team_id:"t", user_id:$u}, broadcast:{channel_id:$c}}')
	ws_start "$(ws_conn "$(posted 1 p1p1p1p1p1p1p1p1p1p1p1p1p1 'hello **bot**')" "$react" "$edit" "$del" "$join")"
	listen_bg
	wait_for "$d/events" '"type":"room"' || { cat "$d/err" >&2; false; }
	stop_listen
	run jq -c 'select(.type != "connection") | del(.backend, .is_direct, .is_group, .is_threaded, .from.person, .from.aclattr, .reactor.person, .reactor.aclattr, .occupant.person, .occupant.aclattr)' "$d/events"
	assert_line --index 0 "{\"type\":\"message\",\"from\":{\"kind\":\"person\",\"id\":\"@alice\",\"nick\":\"alice\",\"userid\":\"$ALICE\"},\"to\":{\"kind\":\"room\",\"id\":\"~ops\",\"channel_id\":\"$CH\"},\"body\":\"hello **bot**\",\"id\":\"p1p1p1p1p1p1p1p1p1p1p1p1p1\",\"ts\":1700000000}"
	assert_line --index 1 --partial '"type":"reaction","reactor":{"kind":"person","id":"@alice"'
	assert_line --index 1 --partial '"action":"added","reaction_name":"tada"'
	assert_line --index 2 --partial '"body":"hello, edited","id":"p1p1p1p1p1p1p1p1p1p1p1p1p1","replaces":"p1p1p1p1p1p1p1p1p1p1p1p1p1"'
	assert_line --index 3 --partial '"type":"delete"'
	assert_line --index 3 --partial '"deletes":"p1p1p1p1p1p1p1p1p1p1p1p1p1"'
	assert_line --index 4 --partial '"type":"room","action":"joined"'
	assert_line --index 4 --partial '"occupant":{"kind":"person","id":"@alice"'
	assert_equal "$(jq -r 'select(.type == "connection") | .state' "$d/events" | paste -sd' ')" "connecting connected"
	# the socket was authenticated with the challenge, the token in its data
	assert_equal "$(jq -c 'select(.event == "frame" and .opcode == 1) | .data | fromjson | .action' "$d/ws.ndjson" | head -1)" '"authentication_challenge"'
}

@test "bot-listen | bot-dispatch | bot-send: !echo in a thread is answered in that thread (root_id), with the mention" {
	rest_start
	ws_start "$(ws_conn "$(posted 1 p2p2p2p2p2p2p2p2p2p2p2p2p2 '!echo hi there' rootrootrootrootrootroot01)")"
	mkfifo "$d/p1" "$d/p2"
	bot-listen "${L[@]}" --session none > "$d/p1" 2> "$d/err" &
	PIDS+=($!)
	bot-dispatch < "$d/p1" > "$d/p2" 2> "$d/derr" &
	PIDS+=($!)
	bot-send "${L[@]}" --session none < "$d/p2" > "$d/sent" 2> "$d/serr" &
	PIDS+=($!)
	wait_req '/api/v4/posts$'
	run requests '/api/v4/posts$' '.json | [.channel_id, .root_id, .message]'
	assert_output "[\"$CH\",\"rootrootrootrootrootroot01\",\"@alice hi there\"]"
	# the idempotency key of the part rides as pending_post_id
	assert_equal "$(requests '/api/v4/posts$' '.json.pending_post_id')" '"p2p2p2p2p2p2p2p2p2p2p2p2p2.reply.0"'
}

@test "a bad token: users/me answers 401, bot-listen exits 77 after one attempt, the token nowhere" {
	ME_ANSWERS=0 rest_start '[{"path":"/api/v4/users/me$","status":401,"body":{"id":"api.context.session_expired.app_error","message":"Invalid or expired session","status_code":401}}]'
	run --separate-stderr timeout 20 bot-listen "${L[@]}" --session none -v
	assert_equal "$status" 77
	assert_equal "$(nreq /api/v4/users/me)" 1
	refute_output --partial "$TOKEN"
	[[ "$stderr" != *"$TOKEN"* ]]
}

@test "a token the socket refuses (status FAIL to the challenge): bot-listen exits 77, no reconnect loop" {
	rest_start
	ws_start "$(jq -cn '{actions: [{recv: 1}, {send: ({status:"FAIL", seq_reply:1, error:{id:"api.web_socket_router.not_authenticated.app_error"}} | tojson)}, {sleep: 5}]}')"
	run --separate-stderr timeout 20 bot-listen "${L[@]}" --session none
	assert_equal "$status" 77
	assert_equal "$(jq -c 'select(.event == "open")' "$d/ws.ndjson" | wc -l)" 1
	[[ "$stderr" != *"$TOKEN"* ]]
}

@test "a seq gap fetches the channel's posts since the last create_at: the missed post once, the one already seen not again" {
	missed=$(jq -cn --arg ch "$CH" --arg u "$ALICE" '{order:["p4p4p4p4p4p4p4p4p4p4p4p4p4","p3p3p3p3p3p3p3p3p3p3p3p3p3"],
		posts:{p3p3p3p3p3p3p3p3p3p3p3p3p3:{id:"p3p3p3p3p3p3p3p3p3p3p3p3p3",create_at:1700000000000,user_id:$u,channel_id:$ch,root_id:"",message:"first"},
		       p4p4p4p4p4p4p4p4p4p4p4p4p4:{id:"p4p4p4p4p4p4p4p4p4p4p4p4p4",create_at:1700000001000,user_id:$u,channel_id:$ch,root_id:"",message:"missed"}}}')
	rest_start "[{\"path\":\"/api/v4/channels/$CH/posts\",\"status\":200,\"body\":$missed}]"
	ws_start "$(ws_conn "$(posted 1 p3p3p3p3p3p3p3p3p3p3p3p3p3 first '' 1700000000000)" \
		"$(posted 3 p5p5p5p5p5p5p5p5p5p5p5p5p5 third '' 1700000002000)")"
	listen_bg
	wait_for "$d/events" '"body":"missed"'
	stop_listen
	assert_equal "$(requests "/api/v4/channels/$CH/posts" .path)" "\"/api/v4/channels/$CH/posts?since=1700000000000\""
	assert_equal "$(jq -r 'select(.type == "message") | .body' "$d/events" | paste -sd' ')" "first third missed"
}

@test "a card is posted with props.attachments; a long reply is split at 16383 characters, in order" {
	rest_start
	run --separate-stderr bot-send "${L[@]}" --session none <<< \
		"{\"type\":\"card\",\"to\":\"$CH\",\"title\":\"Deploy\",\"body\":\"v1.2 is out\",\"link\":\"https://example.org/d\",\"color\":\"green\",\"fields\":[[\"env\",\"prod\"]]}"
	assert_success
	assert_equal "$(requests '/api/v4/posts$' '.json.props.attachments[0] | [.title, .title_link, .text, .color, .fields[0].title, .fields[0].value]')" \
		'["Deploy","https://example.org/d","v1.2 is out","green","env","prod"]'
	long=$(printf 'x%.0s' $(seq 20000))
	run --separate-stderr bot-send "${L[@]}" --session none --to "$CH" "$long"
	assert_success
	assert_equal "$(requests '/api/v4/posts$' '.json.message | length' | tail -n 2 | paste -sd' ')" "16383 3617"
}

@test "X-Ratelimit-Reset on a 429 is honoured: the post goes again after the reset, once" {
	rest_start '[{"path":"/api/v4/posts$","status":429,"headers":{"X-Ratelimit-Limit":"10","X-Ratelimit-Remaining":"0","X-Ratelimit-Reset":"2"},"body":{"id":"api.context.rate_limit","message":"rate limited"}}]'
	run --separate-stderr bot-send "${L[@]}" --session none --retries 2 --to "$CH" hi
	assert_success
	assert_equal "$(nreq '/api/v4/posts$')" 2
	run requests '/api/v4/posts$' .t
	gap=$(echo "$output" | paste -sd' ' | awk '{print ($2 - $1 >= 1.9)}')
	assert_equal "$gap" 1
}

@test "an edit, a delete and a reaction go out as PUT patch, DELETE and POST reactions" {
	rest_start
	run --separate-stderr bot-send "${L[@]}" --session none <<EOT
{"type":"message","to":"$CH","body":"fixed","replaces":"p1p1p1p1p1p1p1p1p1p1p1p1p1"}
{"type":"delete","to":"$CH","deletes":"p1p1p1p1p1p1p1p1p1p1p1p1p1"}
{"type":"reaction","to":"$CH","action":"added","reaction_name":"tada","reacted_to":{"id":"p1p1p1p1p1p1p1p1p1p1p1p1p1"}}
{"type":"reaction","to":"$CH","action":"removed","reaction_name":"tada","reacted_to":{"id":"p1p1p1p1p1p1p1p1p1p1p1p1p1"}}
{"type":"reaction","to":"$CH","action":"added","reaction_name":"👍","reacted_to":{"id":"p1p1p1p1p1p1p1p1p1p1p1p1p1"}}
EOT
	assert_success
	run jq -c 'select(.path | test("/api/v4/users/me$") | not) | [.method, .path, .json]' "$d/rest.ndjson"
	assert_line --index 0 '["PUT","/api/v4/posts/p1p1p1p1p1p1p1p1p1p1p1p1p1/patch",{"message":"fixed"}]'
	assert_line --index 1 '["DELETE","/api/v4/posts/p1p1p1p1p1p1p1p1p1p1p1p1p1",null]'
	assert_line --index 2 "[\"POST\",\"/api/v4/reactions\",{\"user_id\":\"$SELF\",\"post_id\":\"p1p1p1p1p1p1p1p1p1p1p1p1p1\",\"emoji_name\":\"tada\"}]"
	assert_line --index 3 "[\"DELETE\",\"/api/v4/users/me/posts/p1p1p1p1p1p1p1p1p1p1p1p1p1/reactions/tada\",null]"
	# a reaction named by its emoji (from Telegram, Matrix) goes by Mattermost's name
	assert_line --index 4 "[\"POST\",\"/api/v4/reactions\",{\"user_id\":\"$SELF\",\"post_id\":\"p1p1p1p1p1p1p1p1p1p1p1p1p1\",\"emoji_name\":\"+1\"}]"
}

@test "a silent socket (no pong) is noticed within twice --mattermost-ping and reconnected" {
	rest_start
	ws_start "$(ws_conn | jq -c '.actions += [{silence: true}]')" "$(ws_conn "$(posted 1 p7p7p7p7p7p7p7p7p7p7p7p7p7 'after the silence')")"
	listen_bg --mattermost-ping 1
	wait_for "$d/events" '"body":"after the silence"' 15
	stop_listen
	assert_equal "$(jq -r 'select(.type == "connection") | .state' "$d/events" | paste -sd' ')" \
		"connecting connected disconnected connecting connected"
	assert_equal "$(jq -c 'select(.event == "open")' "$d/ws.ndjson" | wc -l)" 2
	# the bound botpipe-backends(7) states: noticed within twice
	# --mattermost-ping (2 s), then bot-listen's first backoff (1-4 s)
	run jq -s '[.[] | select(.event == "open") | .t] | .[1] - .[0] < 2 + 4 + 1' "$d/ws.ndjson"
	assert_output true
}

@test "files: a post's file is downloaded into the spool (a stream event); a stream event is uploaded, then posted by file_ids" {
	rest_start '[{"path":"/api/v4/files/file0000000000000000000000$","status":200,"body":"the bytes of a.txt"},
		{"path":"/api/v4/files$","status":201,"body":{"file_infos":[{"id":"upld0000000000000000000000","name":"report.txt"}]}}]'
	ws_start "$(ws_conn "$(posted 1 p8p8p8p8p8p8p8p8p8p8p8p8p8 'see file' '' 1700000000000 '[{"id":"file0000000000000000000000","name":"a.txt","size":18,"mime_type":"text/plain"}]')")"
	listen_bg
	wait_for "$d/events" '"type":"stream"'
	stop_listen
	path=$(jq -r 'select(.type == "stream") | .path' "$d/events")
	assert_equal "$(cat "$path")" "the bytes of a.txt"
	assert_equal "$(jq -r 'select(.type == "stream") | [.name, .status, .stream_type] | join(" ")' "$d/events")" "a.txt success text/plain"
	printf 'quarterly\n' > "$d/report.txt"
	run --separate-stderr bot-send "${L[@]}" --session none --files-from "$d" <<< "{\"type\":\"stream\",\"to\":\"$CH\",\"path\":\"$d/report.txt\",\"name\":\"report.txt\"}"
	assert_success
	assert_equal "$(requests '/api/v4/files$' '.headers["content-type"] | startswith("multipart/form-data")')" true
	requests '/api/v4/files$' .body | grep -q 'quarterly'
	assert_equal "$(requests '/api/v4/posts$' '.json | [.channel_id, .file_ids[0]]')" "[\"$CH\",\"upld0000000000000000000000\"]"
}

@test "kill -9 of bot-listen and a restart of the fake: what came in between is fetched since the cursor, nothing twice" {
	p9=$(jq -cn --arg ch "$CH" --arg u "$ALICE" '{order:["p9p9p9p9p9p9p9p9p9p9p9p9p9","p1p1p1p1p1p1p1p1p1p1p1p1p1"],
		posts:{p1p1p1p1p1p1p1p1p1p1p1p1p1:{id:"p1p1p1p1p1p1p1p1p1p1p1p1p1",create_at:1690000000000,edit_at:1700000005000,user_id:$u,channel_id:$ch,root_id:"",message:"old, edited"},
		       p9p9p9p9p9p9p9p9p9p9p9p9p9:{id:"p9p9p9p9p9p9p9p9p9p9p9p9p9",create_at:1700000009000,user_id:$u,channel_id:$ch,root_id:"",message:"while down"}}}')
	rest_start
	ws_start "$(ws_conn "$(posted 1 p6p6p6p6p6p6p6p6p6p6p6p6p6 'before' '' 1700000000000)")"
	listen_bg
	wait_for "$d/events" '"body":"before"'
	for _ in $(seq 100); do [ -s "$XDG_STATE_HOME"/botpipe/mattermost/cursor ] && break; sleep 0.05; done
	kill -9 "$LISTEN_PID"; wait "$LISTEN_PID" 2>/dev/null || true; LISTEN_PID=
	fake_stop rest; fake_stop ws
	rest_start "[{\"path\":\"/api/v4/channels/$CH/posts\",\"status\":200,\"body\":$p9}]"
	ws_start "$(ws_conn)"
	bot-listen "${L[@]}" --session none > "$d/events2" 2> "$d/err" &
	LISTEN_PID=$!
	wait_for "$d/events2" '"body":"while down"'
	stop_listen
	assert_equal "$(requests "/api/v4/channels/$CH/posts" .path)" "\"/api/v4/channels/$CH/posts?since=1700000000000\""
	assert_equal "$(cat "$d/events" "$d/events2" | jq -r 'select(.type == "message") | .body' | paste -sd'|')" "before|while down"
}

@test "the token is in no output, event, -v log or ps, through a running bot-listen's session too" {
	rest_start
	ws_start "$(ws_conn "$(posted 1 pApApApApApApApApApApApApA 'hello')")"
	bot-listen "${L[@]}" -v -v > "$d/events" 2> "$d/err" &
	LISTEN_PID=$!
	wait_for "$d/events" '"body":"hello"'
	run ps -eo args
	refute_output --partial "$TOKEN"
	wait_for "$d/err" 'session'
	# to @alice: on a connection of its own bot-send would ask users/me
	# first; through the session, bot-listen knows who it is
	run --separate-stderr bot-send "${L[@]}" -v --to '@alice' 'through the session'
	assert_success
	wait_req '/api/v4/posts$'
	stop_listen
	assert_equal "$(requests '/api/v4/posts$' .json.message)" '"through the session"'
	assert_equal "$(nreq /api/v4/users/me)" 1
	assert_equal "$(requests /api/v4/channels/direct .json)" "[\"$SELF\",\"post0000000000000000000000\"]"
	run ! grep -rF "$TOKEN" "$d/events" "$d/err"
	[[ "$stderr" != *"$TOKEN"* ]]
}

# Channel objects and answers as the v4 API documents them.
TEAM=engteam0000000000000000000
NEWCH=newchannel0000000000000000
BOB=bobuser0000000000000000000
channel_json() {   # ID NAME HEADER
	jq -cn --arg id "$1" --arg n "$2" --arg h "$3" --arg t "$TEAM" \
		'{id:$id, create_at:1700000000000, update_at:1700000000000, delete_at:0, team_id:$t, type:"O",
		  display_name:$n, name:$n, header:$h, purpose:"", total_msg_count:0, creator_id:""}'
}
member_json() { jq -cn --arg c "$1" --arg u "$2" '{channel_id:$c, user_id:$u, roles:"channel_user", msg_count:0, mention_count:0}'; }
not_found='{"id":"store.sql_channel.get_by_name.missing.app_error","message":"Channel does not exist.","status_code":404}'

@test "bot-room: join (a ~name that does not exist is created), topic, occupants, invite, leave, list, info as v4 calls" {
	ops=$(channel_json "$CH" ops 'release at noon')
	ME_ANSWERS=10 rest_start "$(jq -cn --arg ch "$CH" --arg self "$SELF" --arg t "$TEAM" --arg bob "$BOB" --arg alice "$ALICE" \
		--argjson ops "$ops" --argjson new "$(channel_json "$NEWCH" new '')" --argjson nf "$not_found" \
		--argjson me "$(member_json "$CH" "$SELF")" --argjson al "$(member_json "$CH" "$ALICE")" '[
		{path:"^/api/v4/teams/name/eng$", keep:true, body:{id:$t, name:"eng", display_name:"Eng", type:"O"}},
		{path:"^/api/v4/teams/name/eng/channels/name/ops$", keep:true, body:$ops},
		{path:"^/api/v4/teams/name/eng/channels/name/new$", status:404, body:$nf},
		{path:"^/api/v4/channels$", status:201, body:$new},
		{path:("^/api/v4/channels/" + $ch + "/members$"), keep:true, status:201, body:$me},
		{path:("^/api/v4/channels/" + $ch + "/patch$"), body:($ops + {header:"release at one"})},
		{path:("^/api/v4/channels/" + $ch + "/members[?]"), keep:true, body:[$me, $al]},
		{path:"^/api/v4/users/ids$", body:[{id:$self, username:"bot"}, {id:$alice, username:"alice"}]},
		{path:"^/api/v4/users/username/bob$", body:{id:$bob, username:"bob"}},
		{path:("^/api/v4/channels/" + $ch + "/members/" + $self + "$"), keep:true, body:$me},
		{path:("^/api/v4/channels/" + $ch + "/stats$"), body:{channel_id:$ch, member_count:2}},
		{path:("^/api/v4/users/" + $self + "/teams/" + $t + "/channels$"), body:[$ops, $new]}]')"
	R=(bot-room "${L[@]}" --mattermost-team eng --session none)
	run --separate-stderr "${R[@]}" join '~new'
	assert_success
	assert_output 'Joined the room ~new.'
	run --separate-stderr "${R[@]}" join '~ops'
	assert_output 'Joined the room ~ops.'
	run --separate-stderr "${R[@]}" topic '~ops'
	assert_output 'Topic for ~ops: release at noon.'
	run --separate-stderr "${R[@]}" topic '~ops' release at one
	assert_output 'Topic for ~ops set.'
	run --separate-stderr "${R[@]}" --json occupants '~ops'
	assert_success
	assert_equal "$(jq -c '[.occupants[] | [.person, .userid]]' <<< "$output")" "[[\"@bot\",\"$SELF\"],[\"@alice\",\"$ALICE\"]]"
	run --separate-stderr "${R[@]}" invite '~ops' '@bob'
	assert_output 'Invited @bob into the room ~ops.'
	run --separate-stderr "${R[@]}" leave '~ops'
	assert_output 'Left the room ~ops.'
	run --separate-stderr "${R[@]}" list
	assert_output $'~ops\n~new'
	run --separate-stderr "${R[@]}" info '~ops'
	assert_output '~ops: exists, joined, 2 users, topic: release at noon.'
	run jq -c 'select(.path | test("/users/me$") | not) | [.method, .path, .json]' "$d/rest.ndjson"
	assert_output - <<EOT
["GET","/api/v4/teams/name/eng/channels/name/new",null]
["GET","/api/v4/teams/name/eng",null]
["POST","/api/v4/channels",{"team_id":"$TEAM","name":"new","display_name":"new","type":"O"}]
["GET","/api/v4/teams/name/eng/channels/name/ops",null]
["POST","/api/v4/channels/$CH/members",{"user_id":"$SELF"}]
["GET","/api/v4/teams/name/eng/channels/name/ops",null]
["GET","/api/v4/teams/name/eng/channels/name/ops",null]
["PUT","/api/v4/channels/$CH/patch",{"header":"release at one"}]
["GET","/api/v4/teams/name/eng/channels/name/ops",null]
["GET","/api/v4/channels/$CH/members?page=0&per_page=200",null]
["POST","/api/v4/users/ids",["$SELF","$ALICE"]]
["GET","/api/v4/teams/name/eng/channels/name/ops",null]
["GET","/api/v4/users/username/bob",null]
["POST","/api/v4/channels/$CH/members",{"user_id":"$BOB"}]
["GET","/api/v4/teams/name/eng/channels/name/ops",null]
["DELETE","/api/v4/channels/$CH/members/$SELF",null]
["GET","/api/v4/teams/name/eng",null]
["GET","/api/v4/users/$SELF/teams/$TEAM/channels",null]
["GET","/api/v4/teams/name/eng/channels/name/ops",null]
["GET","/api/v4/channels/$CH/stats",null]
["GET","/api/v4/channels/$CH/members/$SELF",null]
EOT
}

@test "bot-room: destroy archives (DELETE the channel); info on an id that does not exist; a ~name needs --mattermost-team" {
	ME_ANSWERS=4 rest_start "$(jq -cn --arg ch "$CH" --argjson nf "$not_found" '[
		{path:("^/api/v4/channels/" + $ch + "$"), body:{status:"OK"}},
		{path:"^/api/v4/channels/nochannel00000000000000000$", status:404, body:($nf + {id:"app.channel.get.existing.app_error"})}]')"
	run --separate-stderr bot-room "${L[@]}" --session none destroy "$CH"
	assert_success
	assert_output "Destroyed the room $CH."
	run --separate-stderr bot-room "${L[@]}" --session none --json info nochannel00000000000000000
	assert_success
	assert_equal "$(jq -c '[.exists, .joined]' <<< "$output")" '[false,false]'
	run --separate-stderr bot-room "${L[@]}" --session none join '~ops'
	assert_failure 78
	assert_equal "$stderr" "bot-room: error: bad_config: room: give --mattermost-team (the team of ~channel names)"
	run jq -c 'select(.path | test("/users/me$") | not) | [.method, .path]' "$d/rest.ndjson"
	assert_output - <<EOT
["DELETE","/api/v4/channels/$CH"]
["GET","/api/v4/channels/nochannel00000000000000000"]
EOT
}

@test "presence both ways: status_change events as presence events; the bot's own status PUT, its message as the custom status" {
	rest_start
	away=$(jq -cn --arg u "$ALICE" '{event:"status_change", seq:2, data:{status:"away", user_id:$u}, broadcast:{omit_users:null, user_id:$u, channel_id:"", team_id:""}}')
	odd=$(jq -cn --arg u "$ALICE" '{event:"status_change", seq:3, data:{status:"sleepy", user_id:$u}, broadcast:{user_id:$u}}')
	dnd=$(jq -cn --arg u "$BOB" '{event:"status_change", seq:4, data:{status:"dnd", user_id:$u}, broadcast:{user_id:$u}}')
	ws_start "$(ws_conn "$(posted 1 pBpBpBpBpBpBpBpBpBpBpBpBpB 'hi')" "$away" "$odd" "$dnd")"
	listen_bg
	wait_for "$d/events" "\"userid\":\"$BOB\""
	stop_listen
	run jq -c 'select(.type == "presence") | [.identifier.id, .identifier.userid, .status]' "$d/events"
	assert_output - <<EOT
["@alice","$ALICE","away"]
["$BOB","$BOB","dnd"]
EOT
	run --separate-stderr bot-send "${L[@]}" --session none <<< '{"type":"presence","status":"away","message":"at lunch"}'
	assert_success
	run --separate-stderr bot-send "${L[@]}" --session none <<< '{"type":"presence","status":"online"}'
	assert_success
	run jq -c 'select(.path | test("/status")) | [.method, .path, .json]' "$d/rest.ndjson"
	assert_output - <<EOT
["PUT","/api/v4/users/$SELF/status",{"user_id":"$SELF","status":"away"}]
["PUT","/api/v4/users/$SELF/status/custom",{"emoji":"speech_balloon","text":"at lunch"}]
["PUT","/api/v4/users/$SELF/status",{"user_id":"$SELF","status":"online"}]
EOT
	run --separate-stderr bot-send "${L[@]}" --session none <<< '{"type":"presence","status":"napping"}'
	assert_failure 65
	assert_equal "$(nreq /status)" 3
}

@test "bot-room occupants reads the members 200 a page until a page is not full, then names them in one POST /users/ids" {
	page0=$(jq -cn --arg c "$CH" '[range(200) | {channel_id:$c, user_id:("u" + (. | tostring | ("0" * (25 - length)) + .))}]')
	page1=$(jq -cn --arg c "$CH" --arg a "$ALICE" '[{channel_id:$c, user_id:$a}]')
	users=$(jq -cn --argjson p "$page0" --arg a "$ALICE" '[$p[] | {id:.user_id, username:("n" + .user_id[-3:])}] + [{id:$a, username:"alice"}]')
	rest_start "$(jq -cn --arg ch "$CH" --argjson p0 "$page0" --argjson p1 "$page1" --argjson u "$users" '[
		{path:("^/api/v4/channels/" + $ch + "/members[?]page=0&"), body:$p0},
		{path:("^/api/v4/channels/" + $ch + "/members[?]page=1&"), body:$p1},
		{path:"^/api/v4/users/ids$", body:$u}]')"
	run --separate-stderr bot-room "${L[@]}" --session none --json occupants "$CH"
	assert_success
	assert_equal "$(jq -c '.occupants | [length, .[0].person, .[200].person]' <<< "$output")" '[201,"@n000","@alice"]'
	assert_equal "$(requests '/members[?]' .path | paste -sd' ')" \
		"\"/api/v4/channels/$CH/members?page=0&per_page=200\" \"/api/v4/channels/$CH/members?page=1&per_page=200\""
	assert_equal "$(requests '/users/ids$' '.json | length')" 201
}

@test "a dropped socket: disconnected, reconnected, the posts in between fetched; across the session every post once" {
	since=$(jq -cn --arg ch "$CH" --arg u "$ALICE" '{order:["q4q4q4q4q4q4q4q4q4q4q4q4q4","q3q3q3q3q3q3q3q3q3q3q3q3q3","q2q2q2q2q2q2q2q2q2q2q2q2q2"],
		posts:{q2q2q2q2q2q2q2q2q2q2q2q2q2:{id:"q2q2q2q2q2q2q2q2q2q2q2q2q2",create_at:1700000002000,user_id:$u,channel_id:$ch,root_id:"",message:"two"},
		       q3q3q3q3q3q3q3q3q3q3q3q3q3:{id:"q3q3q3q3q3q3q3q3q3q3q3q3q3",create_at:1700000003000,user_id:$u,channel_id:$ch,root_id:"",message:"three"},
		       q4q4q4q4q4q4q4q4q4q4q4q4q4:{id:"q4q4q4q4q4q4q4q4q4q4q4q4q4",create_at:1700000004000,user_id:$u,channel_id:$ch,root_id:"",message:"four"}}}')
	rest_start "[{\"path\":\"/api/v4/channels/$CH/posts\",\"status\":200,\"body\":$since}]"
	ws_start "$(ws_conn "$(posted 1 q1q1q1q1q1q1q1q1q1q1q1q1q1 one '' 1700000001000)" \
			"$(posted 2 q2q2q2q2q2q2q2q2q2q2q2q2q2 two '' 1700000002000)" | jq -c '.actions += [{sleep: 0.3}, {drop: true}]')" \
		"$(ws_conn "$(posted 1 q3q3q3q3q3q3q3q3q3q3q3q3q3 three '' 1700000003000)")"
	listen_bg
	wait_for "$d/events" '"body":"four"'
	sleep 0.3
	stop_listen
	assert_equal "$(jq -r 'select(.type == "message") | .body' "$d/events" | sort | paste -sd' ')" "four one three two"
	assert_equal "$(jq -r 'select(.type == "connection") | .state' "$d/events" | paste -sd' ')" \
		"connecting connected disconnected connecting connected"
	assert_equal "$(requests "/api/v4/channels/$CH/posts" .path)" "\"/api/v4/channels/$CH/posts?since=1700000002000\""
}

@test "bot-room and the bot's presence through a running bot-listen's session: no network of their own, no users/me again" {
	unshare -rn true 2>/dev/null || skip "no network namespaces here"
	rest_start "$(jq -cn --arg ch "$CH" --argjson c "$(channel_json "$CH" ops 'release at noon')" --argjson m "$(member_json "$CH" "$SELF")" '[
		{path:("^/api/v4/channels/" + $ch + "$"), body:$c},
		{path:("^/api/v4/channels/" + $ch + "/stats$"), body:{channel_id:$ch, member_count:3}},
		{path:("^/api/v4/channels/" + $ch + "/members/"), body:$m}]')"
	ws_start "$(ws_conn)"
	bot-listen "${L[@]}" -v > "$d/events" 2> "$d/err" &
	LISTEN_PID=$!
	wait_for "$d/events" '"state":"connected"'
	wait_for "$d/err" 'session'
	run --separate-stderr unshare -rn bot-room "${L[@]}" info "$CH"
	assert_success
	assert_output "$CH: exists, joined, 3 users, topic: release at noon."
	run --separate-stderr unshare -rn bot-send "${L[@]}" <<< '{"type":"presence","status":"dnd"}'
	assert_success
	wait_req /status
	stop_listen
	assert_equal "$(nreq /api/v4/users/me)" 1
	assert_equal "$(requests /status '.json')" "{\"user_id\":\"$SELF\",\"status\":\"dnd\"}"
}
