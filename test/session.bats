#!/usr/bin/env bats
# The session socket: bot-send and bot-room act through a running
# bot-listen's one IRC connection (botpipe-session(7)).
load helpers/ngircd

setup() {
	ngircd_test_setup
	export BOT_IRC_NICK="ses$BATS_TEST_NUMBER" BOT_IRC_CHANNELS='#ses'
	BOT="$BOT_IRC_NICK"
	SOCK="$XDG_RUNTIME_DIR/botpipe/irc.sock"
	PIPE_PID= HUMAN_PID=
}

teardown() {
	[ -z "$HUMAN_PID" ] || kill "$HUMAN_PID" 2>/dev/null || true
	[ -z "$PIPE_PID" ] || kill -TERM -- "-$PIPE_PID" 2>/dev/null || true
	return 0
}

wait_for() {
	local file=$1 re=$2 secs=${3:-10} i=0
	until grep -Eq -- "$re" "$file" 2>/dev/null; do
		i=$((i + 1))
		[ $i -le $((secs * 20)) ] || { echo "no /$re/ in $file" >&2; return 1; }
		sleep 0.05
	done
}

# The bot, with its session socket; skip when bot-listen holds none.
start_bot() {
	setsid sh -c 'bot-listen -b irc | tee "$0/events" | bot-dispatch 2>"$0/dispatch.err" |
		bot-send -b irc >"$0/sent" 2>"$0/send.err"' "$W" 2>"$W/listen.err" 3>&- &
	PIPE_PID=$!
	wait_for "$W/events" '"action":"joined".*"id":"#ses/'"$BOT"'"'
	local i=0
	until [ -S "$SOCK" ]; do
		i=$((i + 1))
		[ $i -lt 40 ] || skip "bot-listen holds no session socket"
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
