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

@test "relay: the bot's own copies, backlog, notices, bots, listed nicks, direct chats and reactions are not relayed" {
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
