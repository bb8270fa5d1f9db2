#!/usr/bin/env bats
# bot.jq's bridge: relay(to_backend; to_room) and bridge(rooms) in
# bot-dispatch rules, over events from three backend instances
# (irc@libera, irc@oftc, matrix) as bot-listen writes them.  No network:
# the events are crafted, the outputs compared byte for byte (jq -c).

load helpers/common

setup() {
	T=$BATS_TEST_TMPDIR
	RING='[["irc@libera","#a"],["irc@oftc","#b"],["matrix","!r:example.org"]]'
}

# A message said in IRC channel $2 on instance $1 by nick $3, body $4,
# id $5; more fields (a jq object) in $6.
irc_said() {
	jq -cn --arg net "$1" --arg ch "$2" --arg nick "$3" --arg b "$4" --arg id "$5" --argjson more "${6:-{\}}" \
		'{type:"message",id:$id,backend:$net,
		  from:{kind:"occupant",id:"\($ch)/\($nick)",room:$ch,nick:$nick,person:"@\($nick)",
		        aclattr:"\($nick)!u@host.example"},
		  to:{kind:"room",id:$ch},body:$b} + $more'
}

# A message said in the Matrix room !r:example.org by user $1 (an mxid),
# body $2, id $3; more fields in $4.
matrix_said() {
	jq -cn --arg u "$1" --arg b "$2" --arg id "$3" --argjson more "${4:-{\}}" \
		'{type:"message",id:$id,backend:"matrix",
		  from:{kind:"occupant",id:$u,room:"!r:example.org",nick:($u | sub("^@"; "") | sub(":.*"; "")),person:$u},
		  to:{kind:"room",id:"!r:example.org"},body:$b} + $more'
}

# bot-dispatch with the rule $1 over the events in file $2, its message
# events on stdout (jq -c, through the filter $3), nothing on stderr.
relay_through() {
	bot-dispatch -e "$1" < "$2" > "$T/out" 2> "$T/err"
	[ ! -s "$T/err" ] || { cat "$T/err"; return 1; }
	jq -c "select(.type == \"message\") | ${3:-.}" "$T/out"
}

@test "relay(to_backend; to_room): IRC to Matrix and Matrix to IRC, who said it in the target's form, byte for byte" {
	{
		irc_said irc@libera '#a' 'al_ice' 'hi *all* <3' 'L1'
		matrix_said '@bob:example.org' 'see **this**' '$ev1'
	} > "$T/in"
	run relay_through '(select(.backend == "irc@libera") | relay("matrix"; "!r:example.org")),
	                   (select(.backend == "matrix") | relay("irc@libera"; "#a"))' "$T/in"
	assert_success
	# IRC text arrives as typed (escaped for markdown), the name in bold;
	# Matrix markdown stays markdown, the name as <bob>
	assert_output - <<-'EOF'
	{"type":"message","backend":"matrix","to":"!r:example.org","body":"**al\\_ice**: hi \\*all\\* \\<3","id":"L1.relay.matrix.!r:example.org","relayed_from":{"backend":"irc@libera","room":"#a","id":"L1","from":{"kind":"occupant","id":"#a/al_ice","room":"#a","nick":"al_ice","person":"@al_ice","aclattr":"al_ice!u@host.example"}}}
	{"type":"message","backend":"irc@libera","to":"#a","body":"\\<bob\\> see **this**","id":"$ev1.relay.irc@libera.#a","relayed_from":{"backend":"matrix","room":"!r:example.org","id":"$ev1","from":{"kind":"occupant","id":"@bob:example.org","room":"!r:example.org","nick":"bob","person":"@bob:example.org"}}}
	EOF
}

@test "relay: what bot-send shows on each network is what was said, with who said it" {
	{
		irc_said irc@libera '#a' 'al_ice' 'hi *all* <3 [x](y)' 'L1'
		matrix_said '@bob:example.org' 'see **this**' '$ev1'
	} > "$T/in"
	relay_through '(select(.backend == "irc@libera") | relay("matrix"; "!r:example.org")),
	               (select(.backend == "matrix") | relay("irc@oftc"; "#b"))' "$T/in" > "$T/relayed"
	# render each copy in its target's markup: bot-send to the console,
	# into a file (the routing to an instance is bot-send's own, tested
	# with it), the room one the console takes
	render() {
		rm -f "$T/shown"
		jq -c 'del(.backend) | .to = "#shown"' | BOT_TEXT_OUTPUT="$T/shown" BOT_TEXT_COLOR=never \
			bot-send -b text --markup "$1" > /dev/null
		cat "$T/shown"
	}
	run render matrix < <(jq -c 'select(.backend == "matrix")' "$T/relayed")
	assert_output '<p><strong>al_ice</strong>: hi *all* &lt;3 [x](y)</p>'
	run render irc < <(jq -c 'select(.backend == "irc@oftc")' "$T/relayed")
	# mIRC bold, as the console shows a control character
	assert_output '<bob> see ^Bthis^B'
}

@test "relay: an action and an edit keep their meaning; relay(null; room) stays on the message's network" {
	{
		irc_said irc@libera '#a' 'alice' 'waves' 'L2' '{"extras":{"action":true}}'
		matrix_said '@bob:example.org' 'fixed text' '$ev2' '{"replaces":"$ev1"}'
	} > "$T/in"
	run relay_through 'relay("matrix"; "!r:example.org") , relay("irc@oftc"; "#b"), relay(null; "#c")' "$T/in" '{backend, to, body}'
	assert_success
	assert_output - <<-'EOF'
	{"backend":"matrix","to":"!r:example.org","body":"\\* **alice** waves"}
	{"backend":"irc@oftc","to":"#b","body":"\\* alice waves"}
	{"backend":"irc@libera","to":"#c","body":"\\* alice waves"}
	{"backend":"irc@oftc","to":"#b","body":"\\<bob\\> fixed text (edited)"}
	{"backend":"matrix","to":"#c","body":"**bob**: fixed text (edited)"}
	EOF
}

@test "relay: the bot's own copies, backlog, notices, bots, listed nicks and direct chats are not relayed" {
	{
		irc_said irc@libera '#a' 'alice' 'copied already' 'N1' '{"relayed_from":{"backend":"matrix"}}'
		irc_said irc@libera '#a' 'alice' 'old news' 'N2' '{"delayed":true}'
		irc_said irc@libera '#a' 'ci' 'build ok' 'N3' '{"extras":{"notice":true}}'
		irc_said irc@libera '#a' 'otherbridge' '<carol> hi' 'N4'
		matrix_said '@bridge:example.org' '**carol**: hi' 'N5'
		matrix_said '@helper:example.org' 'beep' 'N6' '{"from":{"kind":"occupant","id":"@helper:example.org","room":"!r:example.org","nick":"helper","is_bot":true}}'
		irc_said irc@libera '#a' 'alice' '' 'N7'
		jq -cn '{type:"message",id:"N8",backend:"irc@libera",from:{kind:"person",id:"@alice",nick:"alice"},to:{kind:"person",id:"@bot",nick:"bot"},body:"just to you"}'
		jq -cn '{type:"reaction",backend:"matrix",action:"added",reaction_name:"+1",reactor:{kind:"person",id:"@bob:example.org"},reacted_to:{id:"$ev1"}}'
		irc_said irc@libera '#a' 'alice' 'this one' 'Y1'
	} > "$T/in"
	run relay_through "bridge($RING; [\"otherbridge\", \"@bridge:example.org\"])" "$T/in" '{backend, to, body}'
	assert_success
	assert_output - <<-'EOF'
	{"backend":"irc@oftc","to":"#b","body":"\\<alice\\> this one"}
	{"backend":"matrix","to":"!r:example.org","body":"**alice**: this one"}
	EOF
}

@test "bridge: a three-room ring gives each message once to each other room, and what it wrote comes back to nothing" {
	{
		irc_said irc@libera '#a' 'alice' 'one' 'R1'
		irc_said irc@oftc '#b' 'bob' 'two' 'R2'
		matrix_said '@carol:example.org' 'three' 'R3'
		irc_said irc@libera '#elsewhere' 'dave' 'not bridged' 'R4'
		matrix_said '@carol:example.org' 'four' 'R5'
	} > "$T/in"
	relay_through "bridge($RING)" "$T/in" > "$T/round1"
	run jq -c '[.relayed_from.id, .backend, .to]' "$T/round1"
	assert_output - <<-'EOF'
	["R1","irc@oftc","#b"]
	["R1","matrix","!r:example.org"]
	["R2","irc@libera","#a"]
	["R2","matrix","!r:example.org"]
	["R3","irc@libera","#a"]
	["R3","irc@oftc","#b"]
	["R5","irc@libera","#a"]
	["R5","irc@oftc","#b"]
	EOF
	# each copy as it would come back if a network echoed it into the
	# room (another listener, a replay): it carries relayed_from, so the
	# ring stops
	jq -c '.to = {kind: "room", id: .to} | .from = {kind: "occupant", id: "x", nick: "bridge"}' \
		"$T/round1" > "$T/echoed"
	run relay_through "bridge($RING)" "$T/echoed"
	assert_success
	assert_output ""
}

@test "relay(to; bots) and relay(to): the first forms give what they gave, for bot-send --raw" {
	{
		irc_said irc '#a' 'alice' 'hi *x*' 'O1'
		irc_said irc '#a' 'bridge' 'from the other side' 'O2'
	} > "$T/in"
	run relay_through 'relay("#b"; ["bridge"])' "$T/in"
	assert_output '{"type":"message","to":"#b","body":"<alice> hi *x*","relayed_from":{"kind":"occupant","id":"#a/alice","room":"#a","nick":"alice","person":"@alice","aclattr":"alice!u@host.example"}}'
	run relay_through 'relay("#b")' "$T/in" .body
	assert_output - <<-'EOF'
	"<alice> hi *x*"
	"<bridge> from the other side"
	EOF
}

@test "relay: nothing goes back to the room it came from" {
	irc_said irc@libera '#a' 'alice' 'hi' 'S1' > "$T/in"
	run relay_through 'relay("irc@libera"; "#a"), relay(null; "#a")' "$T/in"
	assert_success
	assert_output ""
}

# The example of FILE (a path from the top of the tree) that contains
# KEY, as a reader sees it (test/examples.bats has the same).
example() { python3 "$ROOT/test/helpers/examples.py" get "$ROOT/$1" "$2"; }

@test "bot-dispatch(1): the ring example is share/examples/ring.jq, and each room hears the two others" {
	example doc/bot-dispatch.1 'bridge([["irc@libera"' > "$T/shown"
	[ -s "$T/shown" ]
	grep -v '^#' "$ROOT/share/examples/ring.jq" | diff -u - "$T/shown"
	{
		irc_said irc@libera '#botpipe' 'alice' 'hi from libera' 'E1'
		irc_said irc@oftc '#botpipe' 'bob' 'hi from oftc' 'E2'
		jq -cn '{type:"message",id:"$E3",backend:"matrix",
		         from:{kind:"occupant",id:"@carol:example.org",room:"!ring:example.org",nick:"carol",person:"@carol:example.org"},
		         to:{kind:"room",id:"!ring:example.org"},body:"hi from _matrix_"}'
		irc_said irc@oftc '#other' 'bob' 'not in the ring' 'E4'
	} > "$T/in"
	bot-dispatch -f "$ROOT/share/examples/ring.jq" < "$T/in" > "$T/out" 2> "$T/err"
	[ ! -s "$T/err" ] || { cat "$T/err"; return 1; }
	run jq -c '{backend, to, body}' "$T/out"
	assert_output - <<-'EOF'
	{"backend":"irc@oftc","to":"#botpipe","body":"\\<alice\\> hi from libera"}
	{"backend":"matrix","to":"!ring:example.org","body":"**alice**: hi from libera"}
	{"backend":"irc@libera","to":"#botpipe","body":"\\<bob\\> hi from oftc"}
	{"backend":"matrix","to":"!ring:example.org","body":"**bob**: hi from oftc"}
	{"backend":"irc@libera","to":"#botpipe","body":"\\<carol\\> hi from _matrix_"}
	{"backend":"irc@oftc","to":"#botpipe","body":"\\<carol\\> hi from _matrix_"}
	EOF
}

# ---- the whole bot: two IRC networks (real ngircd) and a Matrix room ----

# The homeserver: test/fake-http.py with /sync polls held up to 1 s
# for a batch queued with matrix_queue.
matrix_fake() {
	local script
	script=$(jq -cn '{responses: [], hold: {path: "/sync", seconds: 1, default: {status: 200, body: {next_batch: "idle"}}},
		default: {status: 200, body: {event_id: "$sent"}}}')
	python3 "$ROOT/test/fake-http.py" --port-file "$T/mx-port" --log "$T/mx-req.ndjson" \
		--script-json "$script" > /dev/null 2> "$T/mx-fake.err" 3>&- &
	MX_PID=$!
	for _ in $(seq 200); do [ -s "$T/mx-port" ] && break; sleep 0.05; done
	export BOT_MATRIX_HOMESERVER="http://127.0.0.1:$(cat "$T/mx-port")"
}
# carol says $2 (id $1) in the ring's Matrix room.
matrix_says() {
	jq -cn --arg id "$1" --arg b "$2" '{path: "/sync", status: 200, body: {next_batch: "b-\($id)",
		rooms: {join: {"!ring:example.org": {timeline: {limited: false, events: [{type: "m.room.message",
		  event_id: $id, sender: "@carol:example.org", origin_server_ts: 1700000000000,
		  content: {msgtype: "m.text", body: $b}}]}}}}}}' |
		curl -s -X POST --data-binary @- "$BOT_MATRIX_HOMESERVER/__fake/queue" > /dev/null
}
# The bodies the bot sent to the Matrix room (formatted_body where there is one).
matrix_sent() {
	jq -r 'select(.method == "PUT" and (.path | test("/rooms/!ring:example.org/send/m.room.message/|/rooms/%21ring%3Aexample.org/send/m.room.message/")))
	       | .json | .formatted_body // .body' "$T/mx-req.ndjson" 2>/dev/null
}

teardown() {
	[ -z "${PIPE_PID:-}" ] || { kill -TERM -- "-$PIPE_PID" 2>/dev/null || true
		for _ in $(seq 100); do kill -0 -- "-$PIPE_PID" 2>/dev/null || break; sleep 0.05; done; }
	for p in ${PEOPLE:-}; do kill "$p" 2>/dev/null || true; done
	[ -z "${MX_PID:-}" ] || { kill "$MX_PID" 2>/dev/null; wait "$MX_PID" 2>/dev/null || true; }
	for s in ${SERVERS:-}; do "$ROOT/test/helpers/ngircd.sh" stop "$s"; done
	if grep -l 'Sanitizer\|runtime error' "$T"/*.err 2>/dev/null; then cat "$T"/*.err; return 1; fi
	return 0
}

@test "bot-dispatch(1): one bot on two IRC networks and a Matrix room answers on each and bridges the three, each line once" {
	H="$ROOT/test/helpers"
	port_a=$("$H/ngircd.sh" start "$T/libera") && SERVERS="$T/libera"
	port_b=$("$H/ngircd.sh" start "$T/oftc") && SERVERS="$SERVERS $T/oftc"
	matrix_fake
	export XDG_STATE_HOME="$T/state" XDG_RUNTIME_DIR="$T/run"
	mkdir -p -m 700 "$XDG_RUNTIME_DIR"
	export BOT_MATRIX_TOKEN=syt_ring BOT_MATRIX_USER='@bot:example.org' BOT_MATRIX_SYNC_TIMEOUT=1
	cat > "$T/config" <<-CONF
	irc-nick = bot
	irc-channels = #botpipe
	[libera]
	irc-server = 127.0.0.1:$port_a
	[oftc]
	irc-server = 127.0.0.1:$port_b
	CONF
	chmod 600 "$T/config"
	export BOT_CONFIG="$T/config"
	example doc/bot-dispatch.1 'share/examples/ring.jq |' > "$T/pipeline.sh"
	grep -q 'bot-listen -b irc@libera -b irc@oftc -b matrix' "$T/pipeline.sh"
	mkdir -p "$T/w" && ln -s "$ROOT/share" "$T/w/share" && ln -s "$ROOT/share/examples/plugins" "$T/w/plugins"
	(cd "$T/w" && exec setsid sh "$T/pipeline.sh" > "$T/sent.out" 2> "$T/pipeline.err" 3>&-) &
	PIPE_PID=$!
	# bob on oftc waits for the bot, then for what comes from the others
	printf '%s\n' 'join #botpipe' 'expect (^:bot!\S+ JOIN|^:\S+ 353 .*[ :@]bot( |$)) 20' \
		'expect PRIVMSG #botpipe :<alice> hi from libera 20' 'say #botpipe hi from oftc' \
		'expect PRIVMSG #botpipe :<carol> hi from matrix 20' 'sleep 2' |
		python3 "$H/irc-client.py" --nick bob "$port_b" > "$T/bob.seen" 2> "$T/bob.err" &
	bob=$! PEOPLE=$bob
	for _ in $(seq 400); do grep -Eq '^:bot!\S+ JOIN|353 .*[ :@]bot( |$)' "$T/bob.seen" 2>/dev/null && break; sleep 0.05; done
	printf '%s\n' 'join #botpipe' 'expect (^:bot!\S+ JOIN|^:\S+ 353 .*[ :@]bot( |$)) 20' \
		'say #botpipe !echo hi from libera' 'expect PRIVMSG #botpipe :alice: hi from libera 20' \
		'say #botpipe hi from libera' 'expect PRIVMSG #botpipe :<bob> hi from oftc 20' \
		'expect PRIVMSG #botpipe :<carol> hi from matrix 20' 'sleep 2' |
		python3 "$H/irc-client.py" --nick alice "$port_a" > "$T/alice.seen" 2> "$T/alice.err" &
	alice=$! PEOPLE="$PEOPLE $alice"
	wait_for "$T/alice.seen" 'PRIVMSG #botpipe :<bob> hi from oftc' 30
	matrix_says '$m1' 'hi from matrix'
	wait "$alice" || { cat "$T/alice.seen" "$T/pipeline.err"; return 1; }
	wait "$bob" || { cat "$T/bob.seen" "$T/pipeline.err"; return 1; }
	# each line once in each other room, the command's answer only where
	# it was asked (the bot's own lines are never relayed)
	run grep -c ' PRIVMSG #botpipe :' "$T/bob.seen"
	assert_output 3   # <alice> !echo ..., <alice> hi, <carol> hi: not the answer
	run grep ' PRIVMSG #botpipe :' "$T/bob.seen"
	assert_line --partial ':<alice> !echo hi from libera'
	assert_line --partial ':<alice> hi from libera'
	assert_line --partial ':<carol> hi from matrix'
	run grep -c ' PRIVMSG #botpipe :' "$T/alice.seen"
	assert_output 3   # the answer, <bob>, <carol>
	run matrix_sent
	assert_output - <<-'EOF'
	<p><strong>alice</strong>: !echo hi from libera</p>
	<p><strong>alice</strong>: hi from libera</p>
	<p><strong>bob</strong>: hi from oftc</p>
	EOF
}
