#!/usr/bin/env bats
# The IRC backend against a real ngircd on loopback; a small client
# (helpers/irc-client.py) plays the person.
load helpers/ngircd
load helpers/common

setup() {
	ngircd_test_setup
	# a nick per test, so tests never see each other's bot
	export BOT_IRC_NICK="bot$BATS_TEST_NUMBER" BOT_IRC_CHANNELS='#ops'
	BOT="$BOT_IRC_NICK"
	PIPE_PID= HUMAN_PID= FAKE_PID= MORE_SRV=
}

teardown() {
	[ -z "${MORE_SRV:-}" ] || "$HELPERS/ngircd.sh" stop "$MORE_SRV"
	[ -z "${HUMAN_PID:-}" ] || kill "$HUMAN_PID" 2>/dev/null || true
	[ -z "${FAKE_PID:-}" ] || kill "$FAKE_PID" 2>/dev/null || true
	stop_group "$PIPE_PID"
	# a sanitizer's report from the IRC ends of the bot fails the test
	if grep -l 'Sanitizer\|runtime error' "$W"/listen.err "$W"/send.err 2>/dev/null; then
		cat "$W"/listen.err "$W"/send.err
		return 1
	fi
	return 0
}

# The person: a script on stdin, what they saw on stdout.
human() { python3 "$HELPERS/irc-client.py" "$@"; }

# The whole bot: listen | dispatch | send, in a process group of its own;
# settings for both ends in the environment.
start_bot() {
	setsid sh -c 'bot-listen -b irc | tee "$0/events" | bot-dispatch -j 4 2>"$0/dispatch.err" |
		bot-send -b irc >"$0/sent" 2>"$0/send.err"' "$W" 2>"$W/listen.err" 3>&- &
	PIPE_PID=$!
	wait_for "$W/events" '"action":"joined".*"id":"'"${BOT_IRC_CHANNELS:-#ops}/$BOT"'"'
}

@test "a command in a channel and in private gets errbot's answers" {
	start_bot
	run human "$PORT" <<-EOF
		join #ops
		say #ops !echo hi there
		expect ^:${BOT}_?!\S+ PRIVMSG #ops :human: hi there$
		say $BOT !echo in private
		expect ^:${BOT}_?!\S+ PRIVMSG human :in private$
		say #ops just chatting
		absent PRIVMSG #ops 1
	EOF
	assert_success
	run jq -c 'select(.type=="message") | [.body, .is_group, .is_direct, .from.id, .from.client]' "$W/events"
	assert_line '["!echo hi there",true,false,"#ops/human","human!~human@127.0.0.1"]'
	assert_line '["!echo in private",false,true,"@human","human!~human@127.0.0.1"]'
	run jq -c 'select(.type=="sent") | .to.id' "$W/sent"
	assert_line '"#ops"'
	assert_line '"@human"'
}

@test "joins, parts, topics, actions, notices and quits become events" {
	start_bot
	run human "$PORT" <<-EOF
		join #ops
		topic #ops release at noon
		act #ops waves
		notice #ops heads up
		part #ops lunch
		sleep 0.5
	EOF
	assert_success
	wait_for "$W/events" '"action":"left"'
	run jq -c 'select(.type=="room" and .occupant.nick=="human") | [.action, .room.id, .topic, .message]' "$W/events"
	assert_line '["joined","#ops",null,null]'
	assert_line '["topic","#ops","release at noon",null]'
	assert_line '["left","#ops",null,"lunch"]'
	run jq -c 'select(.type=="message") | [.body, .extras]' "$W/events"
	assert_line '["waves",{"action":true}]'
	assert_line '["heads up",{"notice":true}]'
	run jq -c 'select(.type=="room" and .action=="occupants") | [.room.id, [.occupants[].nick]]' "$W/events"
	assert_line "[\"#ops\",[\"$BOT\"]]"
}

@test "bot-send --to delivers, joining a +n channel, and QUITs (the cron case)" {
	human "$PORT" > "$W/seen" <<-EOF &
		join #cron
		raw MODE #cron +n
		expect MODE #cron \+n
		expect ^:\S+ PRIVMSG #cron :backup done$ 15
		expect ^:\S+ PRIVMSG #cron :second line$ 5
		expect ^:\S+ QUIT : 15
	EOF
	HUMAN_PID=$!
	wait_for "$W/seen" 'MODE #cron \+n'
	run bot-send -b irc --to '#cron' "backup done
second line"
	assert_success
	assert_output --regexp '^\{"type":"sent","id":"[^"]+","to":\{"kind":"room","id":"#cron"\}\}$'
	wait "$HUMAN_PID" || { cat "$W/seen"; false; }
	HUMAN_PID=
	run cat "$W/seen"
	assert_line --regexp "^:$BOT!~botpipe@127.0.0.1 JOIN :#cron$"
	assert_line --regexp "^:$BOT!~botpipe@127.0.0.1 PRIVMSG #cron :backup done$"
}

@test "CR, LF and NUL in a body never reach the wire as a command" {
	human "$PORT" > "$W/seen" <<-EOF &
		join #ops
		expect PRIVMSG #ops :hi$ 15
		expect PRIVMSG #ops :QUIT :pwned$ 5
		expect PRIVMSG #ops :JOIN #evil$ 5
		expect PRIVMSG #ops :\S*ACTION x\S*$ 5
	EOF
	HUMAN_PID=$!
	wait_for "$W/seen" 'JOIN :#ops'
	run bot-send -b irc --to '#ops' $'hi\r\nQUIT :pwned\nJOIN #evil\r\n\x01ACTION x\x01'
	assert_success
	# NUL cannot travel in argv; in JSON it can
	printf '%s\n' '{"type":"message","to":"#ops","body":"nul\u0000\r\nPRIVMSG #ops :smuggled"}' |
		bot-send -b irc --raw > "$W/nul.out"
	wait "$HUMAN_PID" || { cat "$W/seen"; false; }
	HUMAN_PID=
	run cat "$W/seen"
	refute_line --partial $'\x01'
	refute_line --regexp '^:\S+ QUIT :pwned'
	refute_line --regexp '^:\S+ JOIN :?#evil'
	refute_line --regexp 'smuggled'
	run jq -c '[.type, .to.id]' "$W/nul.out"
	assert_output '["sent","#ops"]'
	run bot-send -b irc --to $'#ops\r\nQUIT' hi
	assert_failure 65
	assert_output --partial '"code":"bad_input"'
}

@test "a 100-line reply arrives whole and in order, paced by the token bucket" {
	local srv2="$W/fast" port2
	mkdir -p "$srv2"
	printf '[Limits]\n\tMaxPenaltyTime = 0\n' > "$srv2/extra.conf"
	port2=$("$HELPERS/ngircd.sh" start "$srv2")
	MORE_SRV=$srv2
	seq 1 100 | sed 's/^/line /' > "$W/reply"
	{
		echo "join #flood"
		for i in $(seq 1 100); do echo "expect PRIVMSG #flood :line $i\$ 30"; done
	} | human "$port2" > "$W/seen" &
	HUMAN_PID=$!
	wait_for "$W/seen" 'JOIN :#flood'
	start=$(date +%s%N)
	run bot-send -b irc --irc-server "127.0.0.1:$port2" --irc-rate 40 --irc-burst 5 --raw --to '#flood' < "$W/reply"
	end=$(date +%s%N)
	assert_success
	wait "$HUMAN_PID" || { cat "$W/seen"; false; }
	status=$?
	HUMAN_PID=
	[ "$status" -eq 0 ]
	# 95 lines past the burst at 40 a second: at least 2.3 s
	[ $(( (end - start) / 1000000 )) -ge 2300 ]
	run grep -c 'PRIVMSG #flood :line' "$W/seen"
	assert_output 100
}

@test "killing the server: the bot reconnects with backoff and answers again" {
	start_bot
	run human "$PORT" <<-EOF
		join #ops
		say #ops !echo before
		expect ^:${BOT}_?!\S+ PRIVMSG #ops :human: before$
	EOF
	assert_success
	"$HELPERS/ngircd.sh" kill "$SRV"
	wait_for "$W/events" '"state":"disconnected"'
	run jq -c 'select(.type=="connection" and .state=="disconnected") | [.attempt, .retry_in, (.reason|length > 0)]' "$W/events"
	assert_line '[1,1,true]'
	"$HELPERS/ngircd.sh" restart "$SRV"
	wait_count "$W/events" '"action":"joined".*"id":"#ops/'"$BOT"'"' 2 20
	run jq -c 'select(.type=="connection") | [.state, .attempt]' "$W/events"
	assert_line '["connected",0]'
	assert_line '["connecting",1]'
	run human "$PORT" <<-EOF
		join #ops
		say #ops !echo after
		expect ^:${BOT}_?!\S+ PRIVMSG #ops :human: after$ 20
	EOF
	assert_success
}

@test "bot-send retries while the server is down, and delivers when it is back" {
	"$HELPERS/ngircd.sh" kill "$SRV"
	bot-send -b irc --to '#late' 'kept while down' > "$W/sent" 2> "$W/send.err" 3>&- &
	local sender=$!
	sleep 1.3
	"$HELPERS/ngircd.sh" restart "$SRV"
	wait "$sender"
	run jq -c '[.type, .to.id]' "$W/sent"
	assert_output '["sent","#late"]'
	# retries are silent unless -v: cron mails nothing
	run cat "$W/send.err"
	assert_output ''
}

@test "a nick in use gets an underscore" {
	start_bot
	human "$PORT" > "$W/seen" <<-EOF &
		join #ops
		expect ^:${BOT}_!\S+ PRIVMSG #ops :from the second$ 15
	EOF
	HUMAN_PID=$!
	wait_for "$W/seen" 'JOIN :#ops'
	# on a connection of its own, not through bot-listen's session
	XDG_RUNTIME_DIR=/nonexistent run bot-send -b irc --to '#ops' 'from the second'
	assert_success
	wait "$HUMAN_PID" || { cat "$W/seen"; false; }
	HUMAN_PID=
}

@test "TLS: the certificate is checked, --irc-cafile trusts a self-signed one" {
	local tsrv="$W/tls" tport
	tport=$("$HELPERS/ngircd.sh" start "$tsrv" tls)
	MORE_SRV=$tsrv
	run bot-send -b irc --irc-server "localhost:$tport" --irc-tls --to '#sec' x
	assert_failure 69
	assert_output --partial 'certificate'
	BOT_IRC_SERVER="localhost:$tport" BOT_IRC_TLS=1 BOT_IRC_CAFILE="$tsrv/cert.pem" \
		BOT_IRC_CHANNELS='#sec' start_bot
	human --tls --cafile "$tsrv/cert.pem" "$tport" > "$W/seen" <<-EOF &
		join #sec
		say #sec !echo secure
		expect PRIVMSG #sec :human: secure$ 15
		expect PRIVMSG #sec :over tls$ 15
	EOF
	HUMAN_PID=$!
	wait_for "$W/events" '"body":"!echo secure"'
	run bot-send -b irc --irc-server "localhost:$tport" --irc-tls --irc-cafile "$tsrv/cert.pem" --to '#sec' 'over tls'
	assert_success
	wait "$HUMAN_PID" || { cat "$W/seen"; false; }
	status=$?
	HUMAN_PID=
	[ "$status" -eq 0 ]
}

@test "bad settings are configuration errors" {
	run bot-send -b irc --irc-nick '9bad' --to '#ops' x
	assert_failure 78
	assert_output --partial 'irc-nick'
	run bot-send -b irc --irc-server 'host:99999' --to '#ops' x
	assert_failure 78
	run bot-send -b irc --irc-rate fast --to '#ops' x
	assert_failure 78
	BOT_IRC_REALNAME=$'x\r\nQUIT' run bot-send -b irc --to '#ops' x
	assert_failure 78
}

# ngircd offers no SASL: a scripted server records what the bot says.
start_fake() {
	python3 "$HELPERS/irc-fake.py" "$W/fake.log" "$@" > "$W/fake.port" 3>&- &
	FAKE_PID=$!
	wait_for "$W/fake.port" '^[0-9]+$'
	FAKE_PORT=$(cat "$W/fake.port")
}

@test "SASL PLAIN and the server password: exactly what the server receives" {
	start_fake --sasl 'bot:s3cret pw'
	BOT_IRC_SASL_PASSWORD='s3cret pw' run bot-send -b irc --irc-server "127.0.0.1:$FAKE_PORT" \
		--irc-nick bot --irc-sasl-user bot --to '#ops' hi
	assert_success
	refute_output --partial 's3cret'
	echo 'serverpw' > "$W/pass"
	BOT_IRC_PASSWORD_FILE="$W/pass" run bot-send -b irc --irc-server "127.0.0.1:$FAKE_PORT" \
		--irc-nick bot --to '#ops' hi
	assert_success
	BOT_IRC_SASL_PASSWORD='wrong' run bot-send -b irc --irc-server "127.0.0.1:$FAKE_PORT" \
		--irc-nick bot --irc-sasl-user bot --to '#ops' hi
	assert_failure 77
	assert_output --partial '"code":"denied"'
	refute_output --partial 'wrong'
	kill "$FAKE_PID"
	run cat "$W/fake.log"
	assert_output "CAP REQ :sasl
NICK bot
USER botpipe 0 * :botpipe bot
AUTHENTICATE PLAIN
AUTHENTICATE Ym90AGJvdABzM2NyZXQgcHc=
CAP END
PRIVMSG #ops :hi
PING :bp1
QUIT :botpipe
PASS :serverpw
NICK bot
USER botpipe 0 * :botpipe bot
PRIVMSG #ops :hi
PING :bp1
QUIT :botpipe
CAP REQ :sasl
NICK bot
USER botpipe 0 * :botpipe bot
AUTHENTICATE PLAIN
AUTHENTICATE Ym90AGJvdAB3cm9uZw=="
}

@test "a server without SASL is refused when SASL was asked for" {
	start_fake --no-sasl
	BOT_IRC_SASL_PASSWORD=pw run bot-send -b irc --irc-server "127.0.0.1:$FAKE_PORT" \
		--irc-sasl-user bot --to '#ops' hi
	assert_failure 77
	assert_output --partial 'does not offer SASL'
	kill "$FAKE_PID"
}

@test "a presence change through the session marks the bot away on the server, and back" {
	start_bot
	printf '%s\n' '{"type":"presence","status":"away","message":"at lunch"}' > "$W/away"
	run bot-send -b irc --raw < "$W/away"
	assert_success
	run human "$PORT" <<-EOF
		raw WHOIS $BOT
		expect ^:\S+ 301 human $BOT :at lunch$
	EOF
	assert_success
	run bot-send -b irc --raw <<< '{"type":"presence","status":"online"}'
	assert_success
	run human "$PORT" <<-EOF
		raw WHOIS $BOT
		expect ^:\S+ 318 human $BOT
	EOF
	assert_success
	refute_output --partial ' 301 '
}
