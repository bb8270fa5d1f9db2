#!/usr/bin/env bats
# The XMPP backend against a real prosody on loopback (a generated config,
# a MUC component, a self-signed certificate, two accounts made with
# prosodyctl, everything in a temp folder); Debian's slixmpp plays the
# person (helpers/xmpp-human.py).
load helpers/common

HELPERS="$BATS_TEST_DIRNAME/helpers"

setup_file() {
	export SRV="$BATS_FILE_TMPDIR/prosody"
	export PORT
	PORT=$("$HELPERS/prosody.sh" start "$SRV")
	# libstrophe reads OpenSSL's default CA file (the system's bundle) at
	# every connect besides --xmpp-cafile: under SANITIZE=1's slow
	# unwinding that took 8 s a connect, against 15 s waits (the flake of
	# the sanitized runs).  The default is a CA of one certificate that
	# signed nothing here, so --xmpp-cafile is still what makes prosody's
	# certificate trusted.
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=nobody" \
		-keyout "$BATS_FILE_TMPDIR/other.key" -out "$BATS_FILE_TMPDIR/other.pem" >/dev/null 2>&1
	export SSL_CERT_FILE="$BATS_FILE_TMPDIR/other.pem"
}

teardown_file() {
	"$HELPERS/prosody.sh" stop "$SRV"
}

setup() {
	W="$BATS_TEST_TMPDIR"
	export XDG_RUNTIME_DIR="$W/run" XDG_STATE_HOME="$W/state"
	mkdir -p -m 700 "$XDG_RUNTIME_DIR"
	export BOT_XMPP_JID=bot@localhost BOT_XMPP_SERVER="127.0.0.1:$PORT"
	export BOT_XMPP_CAFILE="$SRV/cert.pem" BOT_XMPP_PASSWORD_FILE="$SRV/bot.pass"
	# a room per test, so tests never see each other's rooms
	ROOM="ops$BATS_TEST_NUMBER@conference.localhost"
	export BOT_XMPP_ROOMS="$ROOM"
	PIPE_PID=
}

teardown() {
	stop_group "$PIPE_PID"
	# a server stopped by a test is started again for the next
	[ -f "$SRV/server.pid" ] || "$HELPERS/prosody.sh" restart "$SRV" >/dev/null
	if grep -l 'Sanitizer\|runtime error' "$W"/*.err 2>/dev/null; then
		cat "$W"/*.err
		return 1
	fi
	return 0
}

# The person: a script on stdin, what they saw on stdout.
human() { /usr/bin/python3 "$HELPERS/xmpp-human.py" "$PORT" "$SRV/cert.pem" human@localhost "$SRV/human.pass"; }

# The whole bot: listen | dispatch | send, in a process group of its own.
start_bot() {
	setsid sh -c 'bot-listen -b xmpp "$@" | tee "$0/events" | bot-dispatch -j 4 2>"$0/dispatch.err" |
		bot-send -b xmpp >"$0/sent" 2>"$0/send.err"' "$W" "$@" 2>"$W/listen.err" 3>&- &
	PIPE_PID=$!
	wait_for "$W/events" '"action":"joined".*"id":"'"$ROOM/bot"'"'
	wait_for "$W/events" '"action":"topic".*"id":"'"$ROOM"'"'
}

@test "!echo in a direct chat and in a room is answered, with errbot's prefix in the room" {
	start_bot
	run human <<-EOF
		join $ROOM human
		room $ROOM !echo hi room
		expect ^message groupchat $ROOM/bot id=\S+ body="@human hi room"$
		say bot@localhost !echo hi direct
		expect ^message chat bot@localhost/\S+ id=\S+ body="hi direct"$
		room $ROOM just chatting
		absent ^message groupchat $ROOM/bot 1
	EOF
	assert_success
	run jq -c 'select(.type=="message") | [.body, .is_group, .is_direct, .from.id, .from.person]' "$W/events"
	assert_line "[\"!echo hi room\",true,false,\"$ROOM/human\",\"human@localhost\"]"
	assert_line '["!echo hi direct",false,true,"human@localhost","human@localhost"]'
	# the bot's own messages, echoed by the room, are not events
	run grep -c "\"id\":\"$ROOM/bot\".*\"type\":\"message\"\|\"type\":\"message\".*\"from\":{[^}]*\"id\":\"$ROOM/bot\"" "$W/events"
	assert_output 0
	run jq -c 'select(.type=="sent") | .to.id' "$W/sent"
	assert_line "\"$ROOM\""
	assert_line '"human@localhost"'
}

@test "history at join is marked delayed and not answered" {
	other="old$BATS_TEST_NUMBER@conference.localhost"
	# the person talks in a room before the bot is there, and stays
	human >"$W/human.out" 2>"$W/human.err" 3>&- <<-EOF &
		join $other human
		room $other !echo from the past
		expect ^presence $other/bot type=available 20
		sleep 1
	EOF
	local hpid=$!
	wait_for "$W/human.out" "body=\"!echo from the past\""
	ROOM=$other BOT_XMPP_ROOMS=$other start_bot
	wait "$hpid"
	run jq -c 'select(.type=="message") | [.body, .delayed]' "$W/events"
	assert_output '["!echo from the past",true]'
	run jq -c 'select(.type=="sent")' "$W/sent"
	assert_output ''
	run grep -c '"@human from the past"' "$W/human.out"
	assert_output 0
}

@test "presence changes of the person are events" {
	start_bot
	run human <<-EOF
		accept
		subscribe bot@localhost
		expect ^presence bot@localhost type=subscribed
		show away gone fishing
		sleep 0.5
		show dnd
		sleep 0.5
		show
		sleep 0.5
	EOF
	assert_success
	wait_for "$W/events" '"type":"presence".*"status":"offline"'
	run jq -c 'select(.type=="presence" and .identifier.kind=="person") | [.identifier.id, .status, .message]' "$W/events"
	assert_line '["human@localhost","away","gone fishing"]'
	assert_line '["human@localhost","dnd",null]'
	assert_line '["human@localhost","online",null]'
	assert_line '["human@localhost","offline",null]'
}

@test "a correction, a reaction and a reply arrive as events, and go out" {
	start_bot
	run human <<-EOF
		say bot@localhost first try
		correct chat bot@localhost m-first second try
		react chat bot@localhost m-first 👍 🎉
		react chat bot@localhost m-first 🎉
		reply chat bot@localhost m-first an answer
		sleep 0.5
	EOF
	assert_success
	run jq -c 'select(.type=="message") | [.body, .replaces, .parent.id]' "$W/events"
	assert_line '["second try","m-first",null]'
	assert_line '["an answer",null,"m-first"]'
	run jq -c 'select(.type=="reaction") | [.action, .reaction_name, .emoji, .reacted_to.id, .reactor.id]' "$W/events"
	assert_output $'["added","👍","👍","m-first","human@localhost"]\n["added","🎉","🎉","m-first","human@localhost"]\n["removed","👍","👍","m-first","human@localhost"]'
	# and the other way: the bot corrects its message and reacts to the person's
	id=$(bot-send -b xmpp --to human@localhost 'a typo' | jq -r .id)
	[ -n "$id" ]
	run sh -c 'jq -cn --arg id "$1" "{type:\"message\",to:\"human@localhost\",body:\"no typo\",replaces:\$id}" | bot-send -b xmpp' _ "$id"
	assert_success
	run sh -c 'jq -cn "{type:\"reaction\",to:\"human@localhost\",action:\"added\",reaction_name:\":eyes:\",reacted_to:{id:\"m-first\"}}" | bot-send -b xmpp'
	assert_success
	run human <<-EOF
		say bot@localhost !echo ping
		expect ^message chat bot@localhost/\S+ .*body="ping"$
	EOF
	assert_success
	# the offline store gave the person what came while away, in order
	run grep -E '^message chat bot@localhost' <<< "$output"
	assert_line --index 0 --regexp "id=$id body=\"a typo\"$"
	assert_line --index 1 --regexp "replace=$id body=\"no typo\"$"
	assert_line --index 2 --regexp 'reactions=m-first:👀$'
}

@test "a long reply is split at 10000 characters, in order" {
	start_bot
	long=$(python3 -c 'print(" ".join("w%05d" % i for i in range(4000)))')
	human >"$W/human.out" 2>"$W/human.err" 3>&- <<-EOF &
		say bot@localhost !echo ready
		expect body="ready"$
		expect body="[^"]*w03999"$ 20
	EOF
	local hpid=$!
	wait_for "$W/human.out" 'body="ready"'
	run bot-send -b xmpp --to human@localhost "$long"
	assert_success
	wait "$hpid"
	run python3 -c 'import json, re, sys
bodies = [json.loads(m.group(1)) for m in re.finditer(r"^message chat bot@localhost\S* id=\S+ body=(\".*\")$", open(sys.argv[2]).read(), re.M)]
parts = bodies[1:]
print(len(parts), max(len(p) for p in parts) <= 10000, " ".join(parts).split() == sys.argv[1].split())' "$long" "$W/human.out"
	assert_output '3 True True'
}

@test "bot-room: create, join, topic, occupants, invite, info, list, leave, destroy" {
	start_bot
	new="new$BATS_TEST_NUMBER@conference.localhost"
	run bot-room -b xmpp info "$new"
	assert_success
	assert_output "$new: does not exist, not joined."
	run bot-room -b xmpp create "$new"
	assert_success
	assert_output "Created the room $new."
	# configured and unlocked: the person gets in at once
	run human <<-EOF
		join $new human
	EOF
	assert_success
	run bot-room -b xmpp topic "$new" 'release at noon'
	assert_success
	run bot-room -b xmpp topic "$new"
	assert_success
	assert_output --partial 'release at noon'
	run bot-room -b xmpp --json occupants "$ROOM"
	assert_success
	run jq -c '[.action, [.occupants[].id]]' <<< "$output"
	assert_output "[\"occupants\",[\"$ROOM/bot\"]]"
	run bot-room -b xmpp info "$new"
	assert_success
	assert_output --partial "$new: exists, joined"
	run bot-room -b xmpp list
	assert_success
	assert_line --partial "$new"
	run bot-room -b xmpp invite "$ROOM" human@localhost
	assert_success
	run bot-room -b xmpp leave "$new"
	assert_success
	wait_for "$W/events" '"action":"left".*"id":"'"$new/bot"'"'
	run bot-room -b xmpp join "$new"
	assert_success
	assert_output "Joined the room $new."
	run bot-room -b xmpp destroy "$new"
	assert_success
	run bot-room -b xmpp info "$new"
	assert_success
	assert_output "$new: does not exist, not joined."
}

@test "room errors: room_not_joined (79) and room_does_not_exist (80)" {
	start_bot
	away="away$BATS_TEST_NUMBER@conference.localhost"
	run bot-room -b xmpp topic "$away"
	assert_failure 79
	assert_output --partial 'room_not_joined'
	run bot-room -b xmpp occupants "$away"
	assert_failure 79
	run bot-room -b xmpp leave "$away"
	assert_failure 79
	run bot-room -b xmpp invite "$away" human@localhost
	assert_failure 79
	run --separate-stderr bot-room -b xmpp --json destroy "$away"
	assert_failure 80
	run jq -c '[.type, .code, .event.action, .event.room.id]' <<< "$output"
	assert_output "[\"error\",\"room_does_not_exist\",\"destroy\",\"$away\"]"
	run bot-room -b xmpp occupants 'not a room'
	assert_failure 65
	# where the server lets no one but its admins make rooms, joining one
	# that does not exist is RoomDoesNotExistError, not a room made
	run --separate-stderr bot-room -b xmpp --xmpp-muc-service closed.localhost --json join "shut$BATS_TEST_NUMBER@closed.localhost"
	assert_failure 80
	run jq -r '.code' <<< "$output"
	assert_output room_does_not_exist
}

@test "an invitation from the person is a room event" {
	start_bot
	run human <<-EOF
		join inv$BATS_TEST_NUMBER@conference.localhost human
		invite inv$BATS_TEST_NUMBER@conference.localhost bot@localhost
		sleep 0.5
	EOF
	assert_success
	wait_for "$W/events" '"action":"invite"'
	run jq -c 'select(.action=="invite") | [.room.id, .occupant.id]' "$W/events"
	assert_output "[\"inv$BATS_TEST_NUMBER@conference.localhost\",\"inv$BATS_TEST_NUMBER@conference.localhost/human\"]"
}

@test "restarting prosody loses nothing: the bot reconnects, rejoins its room and answers" {
	start_bot
	run human <<-EOF
		join $ROOM human
		room $ROOM !echo before
		expect body="@human before"$
	EOF
	assert_success
	"$HELPERS/prosody.sh" stop "$SRV"
	wait_for "$W/events" '"state":"disconnected"'
	# a reply submitted while the server is down waits and goes later
	bot-send -b xmpp --to human@localhost 'while you were away' >"$W/down.out" 2>"$W/down.err" 3>&- &
	local send_pid=$!
	sleep 1
	"$HELPERS/prosody.sh" restart "$SRV" >/dev/null
	wait_for "$W/events" '"state":"connecting","attempt":1' 30
	local i=0
	until [ "$(grep -c '"action":"topic".*"id":"'"$ROOM"'"' "$W/events")" -ge 2 ]; do
		i=$((i + 1)); [ $i -lt 600 ] || { cat "$W/events"; return 1; }; sleep 0.05
	done
	wait "$send_pid"
	run human <<-EOF
		join $ROOM human
		room $ROOM !echo after
		expect body="@human after"$ 20
	EOF
	assert_success
	assert_line --regexp '^message chat bot@localhost\S* id=\S+ body="while you were away"$'
	run grep -c '"action":"joined".*"id":"'"$ROOM/bot"'"' "$W/events"
	assert_output 2
}

@test "a kick is followed by a rejoin" {
	start_bot --xmpp-rejoin-delay 1
	# the person owns a room, the bot joins it, the person kicks it
	own="own$BATS_TEST_NUMBER@conference.localhost"
	human >"$W/human.out" 2>"$W/human.err" 3>&- <<-EOF &
		join $own human
		expect ^presence $own/bot type=available 15
		kick $own bot
		expect ^presence $own/bot type=unavailable .*codes=.*307
		expect ^presence $own/bot type=available 10
	EOF
	local hpid=$!
	wait_for "$W/human.out" "^presence $own/human .*codes=.*110"
	run bot-room -b xmpp join "$own"
	assert_success
	wait "$hpid"
	run jq -c 'select(.type=="room" and .occupant.id=="'"$own/bot"'") | [.action, .extras.kicked]' "$W/events"
	assert_output $'["joined",null]\n["left",true]\n["joined",null]'
}

@test "a wrong password exits 77 at once, and the password is in no output or ps" {
	pw=$(cat "$SRV/bot.pass")
	export BOT_XMPP_PASSWORD=wrong-$pw
	unset BOT_XMPP_PASSWORD_FILE
	run --separate-stderr timeout 20 bot-listen -b xmpp -v -v
	assert_failure 77
	[[ "$stderr" == *"refused the login of bot@localhost"* ]]
	[[ "$output$stderr" != *"$pw"* ]]
	run grep -c '"state":"connecting"' <<< "$output"
	assert_output 1
	# the right one, given in the environment, shows in no ps line or log
	export BOT_XMPP_PASSWORD=$pw
	bot-listen -b xmpp -v -v >"$W/events" 2>"$W/listen.err" 3>&- &
	local pid=$!
	wait_for "$W/events" '"action":"topic"'
	run ps -eo args
	refute_output --partial "$pw"
	kill -TERM "$pid"
	wait "$pid" || true
	run grep -c -- "$pw" "$W/events" "$W/listen.err"
	refute_output --partial ':1'
	# nor in base64, as a PLAIN exchange would carry it
	run grep -c -- "$(printf '\0bot\0%s' "$pw" | base64 -w0)" "$W/listen.err"
	assert_output 0
}

@test "an untrusted certificate is refused" {
	# trusting another CA than the one that made prosody's certificate (a
	# CA of one certificate: under SANITIZE=1's slow unwinding, reading
	# the system's whole bundle took 19 s, against the 20 s time-out)
	export BOT_XMPP_CAFILE="$SSL_CERT_FILE"
	run --separate-stderr timeout 20 bot-send -b xmpp --retries 0 --to human@localhost hi
	assert_failure 75
	[[ "$stderr" == *"no XMPP session"* ]]
}

@test "the bot's own presence reaches a person subscribed to it" {
	start_bot
	human >"$W/human.out" 2>"$W/human.err" 3>&- <<-EOF &
		accept
		subscribe bot@localhost
		expect ^presence bot@localhost/\S+ type=available show= 15
		expect ^presence bot@localhost/\S+ type=available show=away status="out for lunch"$ 15
	EOF
	local hpid=$!
	# subscribed (now, or by an earlier test): the bot's presence comes
	wait_for "$W/human.out" '^presence bot@localhost/\S+ type=available show= '
	sleep 0.5
	run sh -c 'echo "{\"type\":\"presence\",\"status\":\"away\",\"message\":\"out for lunch\"}" | bot-send -b xmpp'
	assert_success
	wait "$hpid"
}

@test "a one-shot bot-send joins its room to say something there, and leaves" {
	human >"$W/human.out" 2>"$W/human.err" 3>&- <<-EOF &
		join $ROOM human
		expect ^message groupchat $ROOM/bot id=\S+ body="backup done"$ 20
		expect ^presence $ROOM/bot type=unavailable 10
	EOF
	local hpid=$!
	wait_for "$W/human.out" "^presence $ROOM/human .*codes=.*110"
	run bot-send -b xmpp --to "$ROOM" 'backup done'
	assert_success
	wait "$hpid"
	# a room it is not configured for is not joined behind the user's back
	run bot-send -b xmpp --retries 0 --to "elsewhere$BATS_TEST_NUMBER@conference.localhost" 'hi'
	assert_failure 79
}

# A stream event for bot-send: FILE to TO (bot-send --files-from its folder).
stream_to() { jq -cn --arg to "$1" --arg p "$2" '{type:"stream",to:$to,path:$p,name:"report.bin",stream_type:"application/octet-stream"}'; }

@test "a file from the bot goes up by HTTP File Upload and reaches the person as a link to the same bytes" {
	mkdir -m 700 "$W/out"
	head -c 300000 /dev/urandom >"$W/out/report.bin"
	chmod 600 "$W/out/report.bin"
	human >"$W/human.out" 2>"$W/human.err" 3>&- <<-EOF &
		join $ROOM human
		expect ^message chat bot@localhost/\S+ id=\S+ oob=https://localhost:\d+/\S+/report.bin body="https://\S+/report.bin"$ 20
		fetch $W/direct.bin
		expect ^message groupchat $ROOM/bot id=\S+ oob=https://\S+/report.bin body= 20
		fetch $W/room.bin
	EOF
	local hpid=$!
	wait_for "$W/human.out" "^presence $ROOM/human .*codes=.*110"
	run --separate-stderr sh -c 'stream_to() { jq -cn --arg to "$1" --arg p "$2" "{type:\"stream\",to:\$to,path:\$p,name:\"report.bin\"}"; }
		{ stream_to human@localhost "$1"; stream_to "$2" "$1"; } | bot-send -b xmpp --files-from "$3"' _ "$W/out/report.bin" "$ROOM" "$W/out"
	assert_success
	wait "$hpid"
	cmp "$W/out/report.bin" "$W/direct.bin"
	cmp "$W/out/report.bin" "$W/room.bin"
	# done with the id of the message that carried the link
	id=$(jq -r 'select(.type=="sent") | .id' <<< "$output" | head -n 1)
	grep -q "^message chat bot@localhost/[^ ]* id=$id oob=" "$W/human.out"
	run jq -r 'select(.type=="sent") | .to.id' <<< "$output"
	assert_output $'human@localhost\n'"$ROOM"
}

@test "a file from the person is fetched into the bot's spool: the same bytes, a stream event after the message" {
	start_bot
	# libcurl is loaded with the first file, not before
	listen_pid=$(pgrep -P "$PIPE_PID" -x bot-listen)
	[ -n "$listen_pid" ]
	run grep -c libcurl "/proc/$listen_pid/maps"
	assert_output 0
	head -c 200000 /dev/urandom >"$W/photo.jpg"
	run human <<-EOF
		upload chat bot@localhost $W/photo.jpg
	EOF
	assert_success
	url=$(sed -n 's/^uploaded //p' <<< "$output")
	[[ "$url" == https://localhost:*/photo.jpg ]]
	wait_for "$W/events" '"type":"stream"'
	run jq -c 'select(.type=="message" or .type=="stream") | [.type, .body // .status, .from.id // .identifier.id]' "$W/events"
	assert_output "$(printf '["message","%s","human@localhost"]\n["stream","success","human@localhost"]' "$url")"
	run jq -r 'select(.type=="stream") | [.name, .size, .transfered, .stream_type, .parent.id == null] | @tsv' "$W/events"
	assert_output $'photo.jpg\t200000\t200000\timage/jpeg\tfalse'
	path=$(jq -r 'select(.type=="stream") | .path' "$W/events")
	[[ "$path" == "$XDG_STATE_HOME"/*/spool/*.jpg ]]
	cmp "$W/photo.jpg" "$path"
	run jq -r 'select(.type=="message") | .extras.url' "$W/events"
	assert_output "$url"
	grep -q libcurl "/proc/$listen_pid/maps"
}

@test "a file over the service's max-file-size is refused at once, naming the limit" {
	mkdir -m 700 "$W/out"
	head -c 1100000 /dev/zero >"$W/out/big.bin"
	chmod 600 "$W/out/big.bin"
	run --separate-stderr timeout 20 sh -c 'jq -cn --arg p "$1" "{type:\"stream\",to:\"human@localhost\",path:\$p}" |
		bot-send -b xmpp --files-from "$2"' _ "$W/out/big.bin" "$W/out"
	assert_failure 65
	[[ "$stderr" == *"big.bin is 1100000 bytes, over the 1048576 bytes upload.localhost takes"* ]]
	run jq -r '[.code, .temporary] | @tsv' <<< "$output"
	assert_output $'bad_input\tfalse'
}

@test "an inbound file over --xmpp-download-max, or a link that is not https, is not kept: a stream error" {
	start_bot --xmpp-download-max 1000
	head -c 5000 /dev/urandom >"$W/big.txt"
	run human <<-EOF
		upload chat bot@localhost $W/big.txt
		oob chat bot@localhost http://127.0.0.1:9/plain.txt
	EOF
	assert_success
	wait_for "$W/events" '"type":"stream".*"status":"error".*plain.txt|plain.txt.*"status":"error"'
	wait_for "$W/events" '"type":"stream".*big.txt.*"status":"error"|big.txt.*"status":"error"'
	run jq -r 'select(.type=="stream") | [.name, .status, .message, .path] | @tsv' "$W/events"
	assert_line --regexp $'^big.txt\terror\t.*larger than 1000 bytes\t$'
	assert_line --regexp $'^plain.txt\terror\tnot an https link: not fetched\t$'
	# nothing is left behind in the spool, not even a part
	run find "$XDG_STATE_HOME" -path '*spool*' -type f
	assert_output ''
}

# Last: it spends the bot's daily upload quota (4 MiB, prosody.sh).
@test "a slot refused for the daily quota (error type wait) is a temporary failure" {
	mkdir -m 700 "$W/out"
	head -c 1000000 /dev/zero >"$W/out/part.bin"
	chmod 600 "$W/out/part.bin"
	local i=0 ok=0
	while [ $i -lt 6 ]; do
		i=$((i + 1))
		run --separate-stderr timeout 20 sh -c 'jq -cn --arg p "$1" "{type:\"stream\",to:\"human@localhost\",path:\$p}" |
			bot-send -b xmpp --retries 0 --files-from "$2"' _ "$W/out/part.bin" "$W/out"
		[ "$status" -eq 0 ] || break
		ok=$((ok + 1))
	done
	[ "$ok" -ge 1 ]
	assert_failure 75
	[[ "$stderr" == *"upload slot: resource-constraint: Daily quota reached"* ]]
	run jq -r '[.code, .temporary] | @tsv' <<< "$output"
	assert_output $'send_failed\ttrue'
}
