#!/usr/bin/env bats
# The session socket: bot-send and bot-room act through a running
# bot-listen's one IRC connection (botpipe-session(7)).
load helpers/ngircd
load helpers/common

setup() {
	ngircd_test_setup
	export BOT_IRC_NICK="ses$BATS_TEST_NUMBER" BOT_IRC_CHANNELS='#ses'
	BOT="$BOT_IRC_NICK"
	PIPE_PID= HUMAN_PID= CLIENT_PID=
}

teardown() {
	[ -z "$HUMAN_PID" ] || kill "$HUMAN_PID" 2>/dev/null || true
	[ -z "$CLIENT_PID" ] || kill "$CLIENT_PID" 2>/dev/null || true
	[ -z "$PIPE_PID" ] || kill -TERM -- "-$PIPE_PID" 2>/dev/null || true
	return 0
}

# The bot, with its session socket, whose path is left in SOCK (in
# SOCK_DIR, default $XDG_RUNTIME_DIR/botpipe).
start_bot() {
	setsid sh -c 'bot-listen -b irc | tee "$0/events" | bot-dispatch 2>"$0/dispatch.err" |
		bot-send -b irc >"$0/sent" 2>"$0/send.err"' "$W" 2>"$W/listen.err" 3>&- &
	PIPE_PID=$!
	wait_for "$W/events" '"action":"joined".*"id":"#ses/'"$BOT"'"'
	local i=0 dir=${SOCK_DIR:-$XDG_RUNTIME_DIR/botpipe}
	until SOCK=$(ls "$dir"/irc-*.sock 2>/dev/null) && [ -S "$SOCK" ]; do
		i=$((i + 1))
		[ $i -lt 40 ] || { echo "no session socket in $dir" >&2; return 1; }
		sleep 0.05
	done
}

@test "the socket is private, and gone when bot-listen stops" {
	start_bot
	run stat -c '%a %F' "$SOCK"
	assert_output '600 socket'
	run stat -c '%a' "${SOCK%/*}"
	assert_output '700'
	kill -TERM -- "-$PIPE_PID"
	PIPE_PID=
	local i=0
	while [ -e "$SOCK" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	[ ! -e "$SOCK" ]
}

@test "bot-send and the pipeline answer as the bot itself, on its one connection" {
	start_bot
	python3 "$HELPERS/irc-client.py" "$PORT" > "$W/seen" <<-EOF &
		join #ses
		say #ses !echo hello
		expect ^:$BOT!\S+ PRIVMSG #ses :human: hello$
		expect ^:$BOT!\S+ PRIVMSG #ses :from cron$
	EOF
	HUMAN_PID=$!
	wait_for "$W/seen" "PRIVMSG #ses :human: hello"
	run bot-send -b irc --to '#ses' 'from cron'
	assert_success
	wait "$HUMAN_PID"
	HUMAN_PID=
	# one connection for the bot: the server never saw ${BOT}_
	run grep -c "${BOT}_" "$W/seen"
	assert_output 0
}

@test "bot-room acts as the bot: it is in the channel, so it may set the topic" {
	start_bot
	run bot-room -b irc topic '#ses' set through the session
	assert_success
	assert_output 'Topic for #ses set.'
	run bot-room -b irc topic '#ses'
	assert_output 'Topic for #ses: set through the session.'
	run bot-room -b irc --json occupants '#ses'
	assert_success
	run jq -c '[.occupants[].nick]' <<< "$output"
	assert_output "[\"$BOT\"]"
	wait_for "$W/events" '"action":"topic".*"topic":"set through the session"'
	run bot-room -b irc leave '#ses'
	assert_output 'Left the room #ses.'
	# the bot was alone: an IRC channel ends with its last occupant
	run bot-room -b irc leave '#ses'
	assert_failure 80
	assert_output --partial 'room_does_not_exist'
}

@test "a sender for another nick or another server is not served by this bot's session: it connects itself" {
	start_bot
	python3 "$HELPERS/irc-client.py" "$PORT" > "$W/seen" <<-EOF &
		join #ses
		expect ^:other$BATS_TEST_NUMBER!\S+ PRIVMSG #ses :as another$
		expect ^:$BOT!\S+ PRIVMSG #ses :same bot$
	EOF
	HUMAN_PID=$!
	wait_for "$W/seen" "JOIN :?#ses"
	# the socket's name tells the connection apart: bot-room and bot-send
	# for another nick look for another socket, and find none
	run bot-send -b irc --irc-nick "other$BATS_TEST_NUMBER" --to '#ses' 'as another'
	assert_success
	wait_for "$W/events" '"body":"as another"'
	# nobody listens on port 1: through the session this would have "worked"
	run --separate-stderr bot-send -b irc --irc-server 127.0.0.1:1 --retries 0 --to '#ses' 'elsewhere'
	assert_failure 75
	assert_regex "$stderr" 'Connection refused'
	# the bot's own settings still find it, and it speaks as itself
	run bot-send -b irc --to '#ses' 'same bot'
	assert_success
	wait "$HUMAN_PID"
	HUMAN_PID=
	run grep -c "elsewhere\|${BOT}_" "$W/seen"
	assert_output 0
}

@test "without XDG_RUNTIME_DIR (cron): bot-listen and bot-send meet in a private per-user folder" {
	[ ! -d "/run/user/$(id -u)" ] || skip "/run/user/$(id -u) exists: the fallback is that folder"
	unset XDG_RUNTIME_DIR
	export TMPDIR="$W/tmp"
	mkdir -p "$TMPDIR"
	SOCK_DIR="$TMPDIR/botpipe-$(id -u)"
	start_bot
	run stat -c '%a %U' "$SOCK_DIR"
	assert_output "700 $(id -un)"
	python3 "$HELPERS/irc-client.py" "$PORT" > "$W/seen" <<-EOF &
		join #ses
		expect ^:$BOT!\S+ PRIVMSG #ses :from cron$
	EOF
	HUMAN_PID=$!
	wait_for "$W/seen" "JOIN :?#ses"
	run env -u XDG_RUNTIME_DIR bot-send -b irc --to '#ses' 'from cron'
	assert_success
	wait "$HUMAN_PID"
	HUMAN_PID=
	run grep -c "${BOT}_" "$W/seen"
	assert_output 0
}

@test "a fallback folder that others can enter is refused, said once, and bot-listen goes on without a session" {
	[ ! -d "/run/user/$(id -u)" ] || skip "/run/user/$(id -u) exists: the fallback is that folder"
	unset XDG_RUNTIME_DIR
	export TMPDIR="$W/tmp"
	mkdir -p -m 755 "$TMPDIR/botpipe-$(id -u)"
	timeout 3 bot-listen -b irc > "$W/events" 2> "$W/listen.err" || true
	run cat "$W/listen.err"
	assert_output "bot-listen: error: session: $TMPDIR/botpipe-$(id -u): not a private folder of ours (it must be owned by us, mode 0700)"
	grep -q '"state":"connected"' "$W/events"
	run ls "$TMPDIR/botpipe-$(id -u)"
	assert_output ""
}

@test "a session client that stops reading its answers is dropped; bot-listen goes on reading the network" {
	start_bot
	# many requests, never a read: the answers fill the socket, then wait
	python3 - "$SOCK" > "$W/client" <<-'PY' &
	import socket, sys, time
	s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
	s.settimeout(2)
	try:
	    s.sendall(b'{"type":"nope"}\n' * 100000)
	except socket.timeout:
	    pass   # bot-listen reads no more requests while answers wait
	print("sent", flush=True)
	time.sleep(8)
	s.settimeout(5); n = 0
	try:
	    while True:
	        b = s.recv(65536)
	        if not b: break
	        n += len(b)
	except socket.timeout:
	    print("still served", flush=True); sys.exit(0)
	except ConnectionResetError:
	    pass
	print("dropped after", n, "bytes", flush=True)
	PY
	CLIENT_PID=$!
	wait_for "$W/client" '^sent'
	python3 "$HELPERS/irc-client.py" "$PORT" > "$W/seen" <<-EOF
		join #ses
		say #ses while one client sleeps
	EOF
	# the network is read meanwhile
	wait_for "$W/events" '"body":"while one client sleeps"' 4
	wait_for "$W/client" '^(dropped|still)' 20
	run cat "$W/client"
	assert_line --regexp '^dropped after [0-9]+ bytes$'
	# and the session still serves the others
	run bot-room -b irc --json occupants '#ses'
	assert_success
}

# The .Bd -literal blocks of botpipe-session(7)'s EXAMPLES, one a line
# (escapes undone), NUL-separated.
page_examples() {
	awk '/^\.Sh EXAMPLES/ { on = 1; next } /^\.Sh/ { on = 0 }
		on && /^\.Bd -literal/ { lit = 1; block = ""; next }
		on && /^\.Ed/ { lit = 0; printf "%s%c", block, 0; next }
		on && lit { gsub(/\\e/, "\\"); block = block $0 "\n" }' "$BATS_TEST_DIRNAME/../doc/botpipe-session.7"
}

@test "botpipe-session(7)'s socat example prints the answer, as the page has it" {
	command -v socat > /dev/null || skip "socat is not installed"
	mapfile -d '' blocks < <(page_examples)
	assert_equal "${#blocks[@]}" 2
	cd "$W"
	setsid bash -c "${blocks[0]} wait" 3>&- &
	PIPE_PID=$!
	wait_for "$W/events" '"action":"joined".*"id":"#ops/'"$BOT"'"'
	run bash -c "${blocks[1]}"
	assert_success
	run jq -c '[.type, .action, .room.id, [.occupants[].nick]]' <<< "$output"
	assert_output "[\"room\",\"occupants\",\"#ops\",[\"$BOT\"]]"
}
