#!/usr/bin/env bats
# One bot on several networks at once (botpipe-config(5), INSTANCES): two
# real ngircd servers as the instances irc@libera and irc@oftc, and the
# Telegram and Zulip fakes, in one bot-listen | bot-dispatch | bot-send.
bats_require_minimum_version 1.5.0
load helpers/common
load helpers/telegram-fake
load helpers/zulip-fake

HELPERS="$BATS_TEST_DIRNAME/helpers"

setup_file() {
	export SRV1="$BATS_FILE_TMPDIR/libera" SRV2="$BATS_FILE_TMPDIR/oftc"
	export P1 P2
	P1=$("$HELPERS/ngircd.sh" start "$SRV1")
	P2=$("$HELPERS/ngircd.sh" start "$SRV2")
}

teardown_file() {
	"$HELPERS/ngircd.sh" stop "$SRV1"
	"$HELPERS/ngircd.sh" stop "$SRV2"
}

setup() {
	W=$BATS_TEST_TMPDIR
	export XDG_RUNTIME_DIR=$W/run XDG_STATE_HOME=$W/state XDG_CONFIG_HOME=$W/conf
	mkdir -p -m 700 "$XDG_RUNTIME_DIR" "$XDG_CONFIG_HOME" "$XDG_CONFIG_HOME/botpipe"
	# the two IRC instances differ by their profile's section; what they
	# share comes from the environment
	printf '[libera]\nirc-server = 127.0.0.1:%s\n[oftc]\nirc-server = 127.0.0.1:%s\n' "$P1" "$P2" \
		> "$XDG_CONFIG_HOME/botpipe/config"
	chmod 600 "$XDG_CONFIG_HOME/botpipe/config"
	export BOT_IRC_NICK="multi$BATS_TEST_NUMBER" BOT_IRC_CHANNELS='#ops'
	BOT=$BOT_IRC_NICK
	PIPE_PID= TG_PID= ZL_PID= KILLED=
}

teardown() {
	stop_group "$PIPE_PID"
	tg_stop
	zl_stop
	# a server this test killed comes back for the next
	[ -z "${KILLED:-}" ] || "$HELPERS/ngircd.sh" restart "$SRV1" >/dev/null 2>&1 3>&- || true
	if grep -l 'Sanitizer\|runtime error' "$W"/*.err 2>/dev/null; then
		cat "$W"/*.err
		return 1
	fi
}

human() { python3 "$HELPERS/irc-client.py" "$@"; }

INSTANCES="-b irc@libera -b irc@oftc -b telegram -b zulip"

# The whole bot over every instance, in a process group of its own.
start_bot() {
	setsid sh -c 'bot-listen $1 | tee "$0/events" | bot-dispatch 2>"$0/dispatch.err" |
		bot-send $1 >"$0/sent" 2>"$0/send.err"' "$W" "$INSTANCES" 2>"$W/listen.err" 3>&- &
	PIPE_PID=$!
	wait_for "$W/events" '"action":"joined".*"id":"#ops/'"$BOT"'".*"backend":"irc@libera"|"backend":"irc@libera".*"action":"joined".*"id":"#ops/'"$BOT"'"'
	wait_for "$W/events" '"action":"joined".*"id":"#ops/'"$BOT"'".*"backend":"irc@oftc"|"backend":"irc@oftc".*"action":"joined".*"id":"#ops/'"$BOT"'"'
}

# The JSON bodies the Zulip fake was posted, as forms.
zl_posted() { zl_calls POST '^/api/v1/messages$' | python3 -c 'import sys, json, urllib.parse
for l in sys.stdin:
    print(json.dumps(dict(urllib.parse.parse_qsl(l.rstrip("\n"), keep_blank_values=True)), ensure_ascii=False))'; }

@test "a command from each of four instances is answered on its own network" {
	tg_start "[$(tg_update 1 "$TG_CHAT" '!echo from telegram')]"
	zl_start "[$(zl_msg 0 101 '!echo from zulip')]"
	start_bot
	run human --nick alice "$P1" <<-EOF
		join #ops
		say #ops !echo from libera
		expect ^:$BOT!\S+ PRIVMSG #ops :alice: from libera$
	EOF
	assert_success
	run human --nick bob "$P2" <<-EOF
		join #ops
		say #ops !echo from oftc
		expect ^:$BOT!\S+ PRIVMSG #ops :bob: from oftc$
	EOF
	assert_success
	wait_for "$W/sent" '"type":"sent".*"id":"'"$TG_CHAT"':|"chat_id"'
	run tg_calls sendMessage
	assert_output '{"chat_id":'"$TG_CHAT"',"text":"@al: from telegram","parse_mode":"HTML"}'
	wait_for "$ZL_LOG" '"/api/v1/messages"'
	run zl_posted
	assert_output '{"type": "stream", "to": "ops", "topic": "deploys", "content": "@**Al Ops|9** from zulip"}'
	# every event says which instance it came from; no reply went astray
	run jq -r 'select(.type=="message") | [.backend, .body] | @tsv' "$W/events"
	assert_line "$(printf 'irc@libera\t!echo from libera')"
	assert_line "$(printf 'irc@oftc\t!echo from oftc')"
	assert_line "$(printf 'telegram\t!echo from telegram')"
	assert_line "$(printf 'zulip\t!echo from zulip')"
	run jq -r 'select(.type=="connection" and .state=="connected") | .backend' "$W/events"
	assert_line irc@libera
	assert_line irc@oftc
	assert_line telegram
	assert_line zulip
	run jq -r 'select(.type=="error") | .message' "$W/sent"
	assert_output ""
}

@test "killing one network's server leaves the others answering, and it comes back" {
	tg_start
	zl_start
	start_bot
	KILLED=1
	"$HELPERS/ngircd.sh" kill "$SRV1"
	wait_for "$W/events" '"type":"connection","state":"disconnected".*"backend":"irc@libera"'
	run human --nick bob "$P2" <<-EOF
		join #ops
		say #ops !echo still here
		expect ^:$BOT!\S+ PRIVMSG #ops :bob: still here$
	EOF
	assert_success
	tg_push "$(tg_update 1 "$TG_CHAT" '!echo tg still here')"
	wait_for "$TG_LOG" 'tg still here'
	"$HELPERS/ngircd.sh" restart "$SRV1" >/dev/null 3>&-
	KILLED=
	wait_count "$W/events" '"type":"connection","state":"connected".*"backend":"irc@libera"' 2 40
	run jq -r 'select(.type=="connection" and .state=="connected") | .backend' "$W/events"
	[ "$(grep -c '^irc@libera$' <<< "$output")" -ge 2 ]
	# the others never dropped
	[ "$(grep -c '^irc@oftc$' <<< "$output")" -eq 1 ]
	[ "$(grep -c '^telegram$' <<< "$output")" -eq 1 ]
	run human --nick alice "$P1" <<-EOF
		join #ops
		say #ops !echo back again
		expect ^:$BOT!\S+ PRIVMSG #ops :alice: back again$ 20
	EOF
	assert_success
}

@test "an instance that fails for good (a bad token) ends alone; the others go on" {
	tg_start '[]' '[{"path":"/getMe$","status":401,"body":{"ok":false,"error_code":401,"description":"Unauthorized"}}]'
	zl_start
	start_bot
	wait_for "$W/listen.err" 'telegram: .*Unauthorized'
	run human --nick alice "$P1" <<-EOF
		join #ops
		say #ops !echo alone
		expect ^:$BOT!\S+ PRIVMSG #ops :alice: alone$
	EOF
	assert_success
	assert_equal "$(tg_calls getMe | wc -l)" 1
	# stopped, bot-listen says the first failure's code
	kill -TERM -- "-$PIPE_PID"
	run jq -r 'select(.type=="connection" and .backend=="telegram") | .state' "$W/events"
	assert_line disconnected
	[[ $(cat "$W/listen.err") != *AAHs3cr3t* ]]
}

@test "bot-send without -b opens the instance each event names; with several -b, one not given is an error" {
	tg_start
	zl_start
	human --nick carol "$P1" > "$W/carol.out" 3>&- <<-EOF &
		join #ops
		expect ^:\S+ PRIVMSG #ops :to libera$ 20
	EOF
	local hpid=$!
	wait_for "$SRV1/ngircd.log" 'carol' 10 || sleep 1
	run --separate-stderr bot-send <<-EOF
		{"type":"message","backend":"telegram","to":"$TG_CHAT","body":"to **tg**"}
		{"type":"message","backend":"zulip","to":"ops/deploys","body":"to zl"}
		{"type":"message","backend":"irc@libera","to":"#ops","body":"to libera"}
	EOF
	assert_success
	assert_equal "$(grep -c '^{"type":"sent"' <<< "$output")" 3
	wait "$hpid"
	run tg_calls sendMessage
	assert_output '{"chat_id":'"$TG_CHAT"',"text":"to <b>tg</b>","parse_mode":"HTML"}'
	run zl_posted
	assert_output '{"type": "stream", "to": "ops", "topic": "deploys", "content": "to zl"}'
	run --separate-stderr bot-send -b telegram -b zulip <<-EOF
		{"type":"message","backend":"irc@oftc","to":"#ops","body":"nowhere"}
		{"type":"message","to":"$TG_CHAT","body":"the first"}
	EOF
	assert_failure 64
	assert_line --index 0 --regexp '^\{"type":"error","code":"unknown_instance","message":"backend irc@oftc: not one of this bot-send.s -b".*"event":\{"type":"message","backend":"irc@oftc"'
	assert_line --index 1 --regexp '^\{"type":"sent"'
	assert_equal "$stderr" "bot-send: error: unknown_instance: backend irc@oftc: not one of this bot-send's -b"
	run tg_calls sendMessage
	assert_line --index 1 '{"chat_id":'"$TG_CHAT"',"text":"the first","parse_mode":"HTML"}'
}

@test "a network that waits out a rate limit holds up the delivery of only its own events; the answers keep the input's order" {
	# Telegram says: wait 3 s, once; Zulip answers at once
	tg_start '[]' '[{"path":"/sendMessage$","status":429,"body":{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 3","parameters":{"retry_after":3}}}]'
	zl_start
	run --separate-stderr bot-send -b telegram -b zulip --session none <<-EOF
		{"type":"message","backend":"telegram","to":"$TG_CHAT","body":"t1"}
		{"type":"message","backend":"telegram","to":"$TG_CHAT","body":"t2"}
		{"type":"message","backend":"zulip","to":"ops/deploys","body":"z1"}
		{"type":"connection","state":"connected","backend":"zulip"}
		{"type":"message","backend":"zulip","to":"ops/deploys","body":"z2"}
	EOF
	assert_success
	# one answer each, in the input's order, each naming its instance; the
	# report passed on in its place
	run jq -r '[.type, .backend] | join(" ")' <<< "$output"
	assert_output "$(printf '%s\n' 'sent telegram' 'sent telegram' 'sent zulip' 'connection zulip' 'sent zulip')"
	# both of Zulip's went out while Telegram waited: before its second try
	zl_t=$(jq -s '[.[] | select(.path == "/api/v1/messages" and .method == "POST") | .t] | max' "$ZL_LOG")
	tg_t=$(jq -s --arg m "/bot$TG_TOKEN/sendMessage" '[.[] | select(.path == $m) | .t] | .[1]' "$TG_LOG")
	assert_equal "$(jq -n "$zl_t < $tg_t")" true
	run tg_calls sendMessage
	assert_output "$(printf '%s\n' '{"chat_id":'"$TG_CHAT"',"text":"t1","parse_mode":"HTML"}' \
		'{"chat_id":'"$TG_CHAT"',"text":"t1","parse_mode":"HTML"}' '{"chat_id":'"$TG_CHAT"',"text":"t2","parse_mode":"HTML"}')"
}

@test "an instance's sender that dies is answered for: its event comes back as send_failed with the original, the others go on" {
	# Telegram holds the first message for 30 s; meanwhile its sender is killed
	tg_start '[]' '[{"path":"/sendMessage$","delay":30,"body":{"ok":true,"result":{"message_id":9,"date":1700000000,"chat":{"id":1,"type":"private"},"text":"x"}}}]'
	zl_start
	mkfifo "$W/in"
	bot-send -b telegram -b zulip --session none < "$W/in" > "$W/out" 2> "$W/send.err" 3>&- &
	local pid=$! worker
	exec 5> "$W/in"
	echo '{"type":"message","backend":"telegram","to":"'"$TG_CHAT"'","body":"held"}' >&5
	for _ in $(seq 200); do [ "$(tg_calls sendMessage | wc -l)" -ge 1 ] && break; sleep 0.05; done
	worker=$(pgrep -P "$pid")   # the one started so far: Telegram's
	[ -n "$worker" ]
	kill -9 "$worker"
	echo '{"type":"message","backend":"zulip","to":"ops/deploys","body":"z1"}' >&5
	exec 5>&-
	local status=0
	wait "$pid" || status=$?
	assert_equal "$status" 75
	run jq -c '[.type, .code // .backend, .event.body]' "$W/out"
	assert_output "$(printf '%s\n' '["error","send_failed","held"]' '["sent","zulip",null]')"
	run cat "$W/send.err"
	assert_output "bot-send: error: send_failed: telegram: its sender ended (exit 137) before it answered"
	run zl_calls POST '^/api/v1/messages$'
	assert_output --partial 'content=z1'
}

@test "an instance's profile must exist, and a profile is a safe name" {
	run --separate-stderr bot-listen -b irc@nowhere
	assert_failure 78
	assert_equal "$stderr" "bot-listen: error: -b irc@nowhere: $XDG_CONFIG_HOME/botpipe/config has no [nowhere] section"
	run --separate-stderr bot-send -b 'irc@../x' --to '#ops' hi
	assert_failure 64
	assert_equal "$stderr" "bot-send: error: -b irc@../x: an instance is NAME or NAME@PROFILE (a profile is letters, digits, '.', '_' and '-')"
	run --separate-stderr bot-listen -b irc@libera -b irc@libera
	assert_failure 64
	assert_equal "$stderr" "bot-listen: error: -b irc@libera: named twice"
	run --separate-stderr bot-listen -b irc@libera -b irc@oftc --session "$W/one.sock"
	assert_failure 64
	[[ $stderr == *"one socket for 2 instances"* ]]
}

example() { python3 "$ROOT/test/helpers/examples.py" get "$ROOT/$1" "$2"; }

@test "bot-listen(1): the SEVERAL NETWORKS example, its servers on loopback" {
	tg_start "[$(tg_update 1 "$TG_CHAT" '!echo from the example')]"
	# the page's config file, the real servers made the test's
	example doc/bot-listen.1 'irc-nick = opsbot' |
		sed -e "s/^irc-server = irc.libera.chat:6697\$/irc-server = 127.0.0.1:$P1/" \
		    -e "s/^irc-server = irc.oftc.net:6697\$/irc-server = 127.0.0.1:$P2/" \
		> "$XDG_CONFIG_HOME/botpipe/config"
	grep -q "127.0.0.1:$P1" "$XDG_CONFIG_HOME/botpipe/config"
	grep -q "127.0.0.1:$P2" "$XDG_CONFIG_HOME/botpipe/config"
	unset BOT_IRC_NICK BOT_IRC_CHANNELS
	ln -s "$ROOT/share/examples/plugins" "$W/plugins"
	cd "$W"
	setsid bash -c "$(example doc/bot-listen.1 'bot-listen -b irc@libera -b irc@oftc -b telegram |')" \
		> "$W/sent" 2> "$W/example.err" 3>&- &
	PIPE_PID=$!
	run human --nick alice "$P2" <<-EOF
		join #ops
		expect (^:opsbot!\S+ JOIN|^:\S+ 353 .*[ :@+]opsbot( |\$)) 15
		say #ops !echo on oftc
		expect ^:opsbot!\S+ PRIVMSG #ops :alice: on oftc$
	EOF
	assert_success
	wait_for "$TG_LOG" 'from the example'
	run tg_calls sendMessage
	assert_output '{"chat_id":'"$TG_CHAT"',"text":"@al: from the example","parse_mode":"HTML"}'
}

@test "what a command makes on fd 3 goes to the network it was asked on, as its reply does" {
	mkdir -p "$W/plugins"
	cat > "$W/plugins/notify" <<-'SH'
	#!/bin/sh
	echo '{"type":"message","to":"#deploys","body":"on fd 3"}' >&3
	echo '{"type":"message","backend":"telegram","to":"-100","body":"elsewhere"}' >&3
	echo "on stdout"
	SH
	chmod 755 "$W/plugins/notify"
	room_msg '!notify' | jq -c '.backend = "irc@oftc"' > "$W/in"
	bot-dispatch -d "$W/plugins" < "$W/in" > "$W/out"
	run jq -r 'select(.type=="message") | [.backend, (.to | .id? // .), .body] | @tsv' "$W/out"
	assert_success
	assert_line "$(printf 'irc@oftc\t#deploys\ton fd 3')"
	assert_line "$(printf 'telegram\t-100\telsewhere')"
	assert_line "$(printf 'irc@oftc\t#room\ton stdout')"
}

@test "a bridge's edit edits the copy in place, and a reaction lands on the same message on the other network" {
	tg_start
	zl_start
	local ring='[["zulip","ops/deploys"],["telegram","'"$TG_CHAT"'"]]'
	zulip_room='{"kind":"room","id":"ops/deploys","stream":"ops","topic":"deploys"}'
	{
		jq -cn --argjson to "$zulip_room" '{type:"message",id:"101",backend:"zulip",to:$to,body:"deploy at 5",
			from:{kind:"occupant",id:"al@zulip.test",nick:"Al"},is_group:true}'
		jq -cn --argjson to "$zulip_room" '{type:"message",id:"102",backend:"zulip",to:$to,body:"deploy at 6",
			replaces:"101",from:{kind:"occupant",id:"al@zulip.test",nick:"Al"},is_group:true}'
		# on Telegram someone reacts to the copy; on Zulip to the message
		# (each as bot-listen gives it: Telegram's with its emoji, Zulip's
		# with the emoji of its emoji_code; this one as a rule would write it)
		jq -cn '{type:"reaction",backend:"telegram",action:"added",reaction_name:"👍",emoji:"👍",
			reactor:{kind:"person",id:"111"},reacted_to:{id:"'"$TG_CHAT"':1"}}'
		jq -cn '{type:"reaction",backend:"zulip",action:"added",reaction_name:"tada",
			reactor:{kind:"person",id:"bo@zulip.test"},reacted_to:{id:"101"}}'
	} > "$W/in"
	bot-dispatch -e "bridge($ring)" < "$W/in" | bot-send -b zulip -b telegram > "$W/sent" 2> "$W/send.err"
	run jq -r '.type' "$W/sent"
	assert_output "$(printf 'sent\nsent\nsent\nsent')"
	run tg_calls sendMessage
	assert_output '{"chat_id":'"$TG_CHAT"',"text":"<b>Al</b>: deploy at 5","parse_mode":"HTML"}'
	run tg_calls editMessageText
	assert_output '{"chat_id":'"$TG_CHAT"',"text":"<b>Al</b>: deploy at 6 (edited)","parse_mode":"HTML","message_id":1}'
	# on the copy of message 101, and on 101 itself, each named as its
	# network names it: Zulip's tada is Telegram's 🎉, Telegram's 👍 Zulip's +1
	tg_calls setMessageReaction > "$W/reactions"
	run jq -c '[.message_id, .reaction[0].emoji]' "$W/reactions"
	assert_output '[1,"🎉"]'
	run zl_calls POST '^/api/v1/messages/101/reactions$'
	assert_output "emoji_name=%2B1"
	# a reaction to a message no copy is known of goes nowhere, quietly
	jq -cn '{type:"reaction",backend:"zulip",action:"added",reaction_name:"tada",
		reactor:{kind:"person",id:"bo@zulip.test"},reacted_to:{id:"999"}}' |
		bot-dispatch -e "bridge($ring)" | bot-send -b zulip -b telegram > "$W/sent2"
	run jq -r '[.type, .code] | @tsv' "$W/sent2"
	assert_output "$(printf 'error\tunsupported')"
	assert_equal "$(tg_calls setMessageReaction | wc -l)" 1
}
