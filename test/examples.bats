#!/usr/bin/env bats
# Every example of README.md and of the man pages, run.  Each test takes
# its example from the page as a reader sees it (helpers/examples.py:
# every literal display of a page, every indented block of the README)
# with `example FILE 'KEY'`, the one example of FILE that contains KEY
# (`examples FILE 'KEY'`: every one that does), and runs it against the
# console, a real ngircd or a loopback receiver, asserting what the page
# says.  The first test fails when a page has an
# example that no call here names, so a new example needs a test.

load helpers/ngircd
load helpers/common

setup() {
	ngircd_test_setup
	export BOT_IRC_NICK="bot$BATS_TEST_NUMBER"
	BOT=$BOT_IRC_NICK
	export BOT_TEXT_OUTPUT="$W/console" BOT_TEXT_COLOR=never
	# The folder examples run in: plugins/ and share/ as the pages name them.
	mkdir -p "$W/w"
	cd "$W/w"
	ln -s "$ROOT/share/examples/plugins" plugins
	ln -s "$ROOT/share" share
	GROUPS_STARTED=() HUMANS=() TLS_SRV=
}

teardown() {
	for g in "${GROUPS_STARTED[@]}"; do
		kill -TERM -- "-$g" 2>/dev/null || true
	done
	for h in "${HUMANS[@]}"; do kill "$h" 2>/dev/null || true; done
	for g in "${GROUPS_STARTED[@]}"; do
		for _ in $(seq 100); do kill -0 -- "-$g" 2>/dev/null || break; sleep 0.05; done
	done
	[ -z "$TLS_SRV" ] || "$HELPERS/ngircd.sh" stop "$TLS_SRV"
	receiver_stop
	if grep -l 'Sanitizer\|runtime error' "$W"/*.err 2>/dev/null; then
		cat "$W"/*.err
		return 1
	fi
	return 0
}

# The example of FILE (a path from the top of the tree) that contains KEY;
# examples: every one that does, each ended by a NUL.
example() { python3 "$ROOT/test/helpers/examples.py" get "$ROOT/$1" "$2"; }
examples() { python3 "$ROOT/test/helpers/examples.py" all "$ROOT/$1" "$2"; }

# Run an example (shell text) in the background, in a process group of its
# own (stopped in teardown); its output in $W/bg.out, errors in $W/bg.err.
start_example() {
	setsid bash -c "$1" > "$W/bg.out" 2> "$W/bg.err" 3>&- &
	GROUPS_STARTED+=("$!")
}

# Stop the bot-listen of the example started last, so that what reads
# from it (a jq writing to a file, which buffers) finishes its output.
stop_listener() {
	local g=${GROUPS_STARTED[-1]} p
	for p in $(pgrep -g "$g" -f bot-listen); do
		[ "$p" = "$g" ] || kill "$p"
	done
	for _ in $(seq 100); do kill -0 -- "-$g" 2>/dev/null || break; sleep 0.05; done
}

# A person on IRC running SCRIPT (irc-client.py's commands) in the
# background as NICK; what they saw goes to $W/seen.NICK.
human_start() {
	python3 "$HELPERS/irc-client.py" --nick "$1" ${HUMAN_TLS:-} "$PORT" > "$W/seen.$1" 2> "$W/$1.err" <<< "$2" 3>&- &
	HUMANS+=("$!")
}

# The script lines that join #ops and wait until the bot is there too.
join_and_wait_bot() {
	printf '%s\n' "join ${2:-#ops}" "expect (^:${1}!\\S+ JOIN|^:\\S+ 353 .*[ :@+]${1}( |\$)) 15"
}

# The lines of the text on stdin with runs of blanks made one space.
squeeze() { tr -s ' \t' '  '; }

@test "every example of the README and the man pages is run by a test" {
	cd "$ROOT"
	# botpipe-tutorial(7)'s examples are run by test/unix-examples.bats,
	# bot-dispatch(1)'s bridge by test/relay.bats
	cat "$BATS_TEST_FILENAME" test/unix-examples.bats test/queue.bats test/multi.bats test/relay.bats > "$BATS_TEST_TMPDIR/claims.bats"
	run python3 test/helpers/examples.py check "$BATS_TEST_TMPDIR/claims.bats" README.md doc/*.1 doc/*.7
	assert_success
	assert_output ""
}

@test "every man page shows the Makefile's version" {
	version=$(sed -n 's/^VERSION *= *//p' "$ROOT/Makefile")
	for m in "$ROOT"/doc/*.1 "$ROOT"/doc/*.7; do
		run bash -c "mandoc -Tutf8 '$m' | tail -n 1"
		assert_output --regexp "^botpipe $version "
	done
}

@test "README: the make lines name targets the Makefile has" {
	lines="$(example README.md 'make demo')
$(example README.md 'make install PREFIX')"
	while read -r line; do
		cmd=${line%%#*}
		# shellcheck disable=SC2086
		run env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -n -C "$ROOT" ${cmd#make}
		assert_success
	done <<< "$lines"
}

@test "README: the pipeline answers !hello in a channel" {
	export BOT_IRC_CHANNELS='#ops'
	start_example "$(example README.md 'bot-listen -b irc | bot-dispatch -d plugins/ | bot-send -b irc')"
	run python3 "$HELPERS/irc-client.py" "$PORT" <<-EOF
		$(join_and_wait_bot "$BOT")
		say #ops !hello
		expect ^:$BOT!\S+ PRIVMSG #ops :human: Hello, human!$
		say #ops !echo hi
		expect ^:$BOT!\S+ PRIVMSG #ops :human: hi$
	EOF
	assert_success
}

@test "README: what you type at the console becomes that event" {
	doc=$(example README.md '{"type":"message","from"')
	real=$(echo '!echo hi' | bot-listen --text-input - | jq -c 'select(.type == "message")')
	run jq -n --argjson doc "$doc" --argjson real "$real" \
		'[$doc | paths(type != "object" and type != "array")] | map(. as $p | select(($doc | getpath($p)) != ($real | getpath($p))))'
	assert_output '[]'
}

@test "README and bot-dispatch(1): the shell command shown is share/examples/plugins/hello, and answers" {
	cd "$ROOT"
	ex=$(example README.md '$ cat share/examples/plugins/hello')
	cmd=${ex%%$'\n'*}
	run bash -c "${cmd#\$ }"
	assert_output "${ex#*$'\n'}"
	assert_equal "$(example doc/bot-dispatch.1 '# help: Greet whoever asks, by nick')" "$(cat share/examples/plugins/hello)"
	run bash -c "{ $(declare -f dm); dm '!hello'; dm '!hello bob' 2; dm '!help hello' 3; } | bot-dispatch -d share/examples/plugins | jq -r 'select(.type==\"message\") | .body'"
	assert_success
	assert_line 'Hello, you!'
	assert_line 'Hello, bob!'
	assert_output --partial 'Greet whoever asks, by nick'
}

@test "README and bot-send(1): a cron job's output reaches the channel as code" {
	printf 'all:\n\t@echo built ok\n\t@echo all tests passed\n' > Makefile
	human_start human "$(printf '%s\n' 'join #ops' 'sleep 30')"
	wait_for "$W/seen.human" ' 366 '
	for ex in "$(example README.md "make 2>&1 | tail -20 | bot-send -b irc --to '#ops' --code")" \
		"$(example doc/bot-send.1 "make 2>&1 | tail -20 | bot-send -b irc --to '#ops' --code")"; do
		run bash -c "$ex"
		assert_success
		assert_equal "$(jq -r .type <<< "$output")" sent
	done
	wait_for "$W/seen.human" "^:${BOT}_?!\\S+ PRIVMSG #ops :.*built ok"
	wait_for "$W/seen.human" "^:${BOT}_?!\\S+ PRIVMSG #ops :.*all tests passed"
}

@test "README and bot-send(1): a card posted with bot-card | bot-send --to shows as a card, not JSON" {
	human_start human "$(printf '%s\n' 'join #ops' 'sleep 30')"
	wait_for "$W/seen.human" ' 366 '
	for ex in "$(example README.md "bot-card --title Deploy --field env=prod done | bot-send -b irc --to '#ops'")" \
		"$(example doc/bot-send.1 "bot-card --title Deploy --field env=prod done | bot-send -b irc --to '#ops'")"; do
		run bash -c "$ex"
		assert_success
	done
	wait_for "$W/seen.human" "PRIVMSG #ops :.*Deploy"
	wait_for "$W/seen.human" "PRIVMSG #ops :.*env.*prod"
	run grep -c '"type"' "$W/seen.human"
	assert_output 0
	run grep -c "PRIVMSG #ops :.*Deploy" "$W/seen.human"
	assert_output 2
}

@test "bot-send(1): a command says it is working on it, then answers" {
	mkdir mine
	# a command's environment is a clean one: it says where the console is
	{ echo '#!/bin/sh'; echo "export BOT_TEXT_OUTPUT='$W/console'"
	  echo "$(example doc/bot-send.1 "bot-send 'working on it...'") > '$W/plugin-sent'"; echo 'echo done'; } > mine/slow
	chmod +x mine/slow
	run --separate-stderr bash -c "{ $(declare -f dm); dm '!slow'; } | bot-dispatch -d mine"
	assert_success
	assert_equal "$(bodies <<< "$output")" done
	run cat "$W/console"
	assert_output 'working on it...'
	assert_equal "$(jq -r .to.id "$W/plugin-sent")" @you
}

@test "README: bot-room sets a topic through the running bot" {
	export BOT_IRC_CHANNELS='#ops'
	start_example 'bot-listen -b irc'
	wait_for "$W/bg.out" '"action":"joined".*"#ops/'"$BOT"'"'
	human_start human "$(printf '%s\n' 'join #ops' 'sleep 30')"
	wait_for "$W/seen.human" ' 366 '
	run bash -c "$(example README.md "bot-room -b irc topic '#ops' 'release day'")"
	assert_success
	assert_output 'Topic for #ops set.'
	wait_for "$W/seen.human" "^:$BOT!\\S+ TOPIC #ops :release day"
}

@test "bot-card(1): a build result posted to a channel" {
	human_start human "$(printf '%s\n' 'join #ops' 'sleep 30')"
	wait_for "$W/seen.human" ' 366 '
	N=42 run bash -c "$(example doc/bot-card.1 "bot-card --to '#ops' --title \"Build \$N\"")"
	assert_success
	wait_for "$W/seen.human" "PRIVMSG #ops :.*Build 42"
	wait_for "$W/seen.human" "PRIVMSG #ops :.*branch.*main"
	wait_for "$W/seen.human" "PRIVMSG #ops :.*result.*failed"
	wait_for "$W/seen.human" "PRIVMSG #ops :.*see the log"
}

@test "bot-card(1): a card as IRC shows it, mIRC codes made visible" {
	run bash -c "$(example doc/bot-card.1 'bot-card --title Deploy --field env=prod --render irc | cat -v')"
	assert_success
	assert_output --partial '^BDeploy^B'
	assert_output --regexp 'env.*prod'
}

@test "bot-dispatch(1): an unknown command gets the not-found reply with suggestions" {
	run bash -c "{ $(declare -f dm); dm '!hlep'; } | bot-dispatch | jq -r 'select(.type==\"message\") | .body'"
	assert_success
	assert_output "$(example doc/bot-dispatch.1 'Command "hlep" not found.')"
}

@test "bot-dispatch(1): the console bot with the example commands" {
	printf '%s\n' '!hello' '!roll 3d1x' '!echo hi' > "$W/typed"
	BOT_TEXT_INPUT="$W/typed" run bash -c "$(example doc/bot-dispatch.1 'bot-listen | bot-dispatch -d share/examples/plugins | bot-send >/dev/null')"
	assert_success
	run cat "$W/console"
	assert_line 'Hello, you!'
	assert_line 'I roll dice written like 2d6, not 3d1x.'
	assert_line 'hi'
}

@test "bot-dispatch(1): a recorded session replays, the same every time" {
	printf '%s\n' '!hello' '!echo hi' '!uptime' '!status' '!roll 2x' > "$W/typed"
	ex=$(example doc/bot-dispatch.1 'bot-listen | tee session.ndjson')
	BOT_TEXT_INPUT="$W/typed" run -0 bash -c "$(sed -n 1,2p <<< "$ex")"
	grep -q 'Hello, you!' "$W/console"
	[ "$(jq -c 'select(.type=="message")' session.ndjson | wc -l)" = 5 ]
	bash -c "$(sed -n 3p <<< "$ex")" > "$W/r1"
	bash -c "$(sed -n 3p <<< "$ex")" > "$W/r2"
	cmp "$W/r1" "$W/r2"
	run -0 jq -r .body "$W/r1"
	assert_line 'Hello, you!'
	assert_line 'Load None'
}

@test "bot-dispatch(1), botpipe-plugins(7): the example plugins' transcripts pass" {
	run -0 bash -c "$(example doc/bot-dispatch.1 '--test share/examples/tests/*.chat')"
	assert_output ""
	ln -s "$ROOT/share/examples/tests" tests
	run -0 bash -c "$(example doc/botpipe-plugins.7 'bot-dispatch -d plugins --test tests/*.chat')"
	assert_output ""
	# the transcript shown is the start of the example's
	example doc/botpipe-plugins.7 '# hello greets whoever asks' > "$W/shown.chat"
	head -n "$(wc -l < "$W/shown.chat")" tests/hello.chat | diff - "$W/shown.chat"
	run -0 bot-dispatch -d plugins --test "$W/shown.chat"
}

@test "bot-listen(1): the console bot" {
	printf '%s\n' '!hello' '!inroom' '!hello' > "$W/typed"
	BOT_TEXT_INPUT="$W/typed" run bash -c "$(example doc/bot-listen.1 'bot-listen | bot-dispatch -d plugins | bot-send > /dev/null')"
	assert_success
	run cat "$W/console"
	assert_line 'Hello, you!'
	assert_line '@you Hello, you!'
}

@test "bot-dispatch(1): the example access controls and rules, on the console" {
	printf '%s\n' 'hello there' '!shout hi' '!whereami' '!inroom' '!roll 2d6' > "$W/typed"
	BOT_TEXT_INPUT="$W/typed" run bash -c "$(example doc/bot-dispatch.1 '--acl share/examples/acl.json -f share/examples/rules.jq')"
	assert_success
	run cat "$W/console"
	assert_line 'Hello, you!'
	assert_line 'HI'
	assert_line 'You asked in a direct chat.'
	assert_line "@you You're not allowed to access this command from a chatroom"
}

@test "bot-dispatch(1): the IRC bot with the example access controls, an alternative prefix and a rule" {
	# The access controls the page shows are share/examples/acl.json.
	assert_equal "$(example doc/bot-dispatch.1 '"ACCESS_CONTROLS_DEFAULT": {}')" "$(cat "$ROOT/share/examples/acl.json")"
	export BOT_IRC_CHANNELS='#ops'
	start_example "$(example doc/bot-dispatch.1 "--acl share/examples/acl.json --admin '*!*@admin.example'")"
	# "you" may say hello in #ops (you!*@127.0.0.1); alice, from here, may not.
	run python3 "$HELPERS/irc-client.py" --nick you "$PORT" <<-EOF
		$(join_and_wait_bot "$BOT")
		say #ops ping
		expect ^:$BOT!\S+ PRIVMSG #ops :you: pong$
		say #ops bot: echo hi there
		expect ^:$BOT!\S+ PRIVMSG #ops :you: hi there$
		say #ops !hello
		expect ^:$BOT!\S+ PRIVMSG #ops :you: Hello, you!$
		say #ops !echo --force
		expect ^:$BOT!\S+ PRIVMSG #ops :you: You're not allowed to access this command using the provided arguments$
	EOF
	assert_success
	run python3 "$HELPERS/irc-client.py" --nick alice "$PORT" <<-EOF
		join #ops
		say #ops !hello
		expect ^:$BOT!\S+ PRIVMSG #ops :alice: You're not allowed to access this command from this user$
	EOF
	assert_success
}

@test "bot-listen(1): watch a channel" {
	export BOT_IRC_CHANNELS='#ops'
	start_example "$(example doc/bot-listen.1 "bot-listen -b irc | jq -r 'select(.type==\"message\") | .body'")"
	run python3 "$HELPERS/irc-client.py" "$PORT" <<-EOF
		$(join_and_wait_bot "$BOT")
		say #ops release at noon
	EOF
	assert_success
	sleep 0.5
	stop_listener
	run cat "$W/bg.out"
	assert_line 'release at noon'
}

@test "bot-room(1): each answer as the page shows it, and the examples" {
	export BOT_IRC_CHANNELS='#ops'
	start_example 'bot-listen -b irc'
	wait_for "$W/bg.out" '"action":"joined".*"#ops/'"$BOT"'"'
	for who in alice bob; do
		human_start "$who" "$(printf '%s\n' 'expect INVITE 30' 'join #ops' 'sleep 60')"
		wait_for "$W/seen.$who" ' 001 '
	done
	run bot-room -b irc topic '#ops'
	assert_output "$(example doc/bot-room.1 'No topic is set for #ops.')"
	run bot-room -b irc topic '#ops' release at noon
	assert_output "$(example doc/bot-room.1 'Topic for #ops set.')"
	run bot-room -b irc topic '#ops'
	assert_output "$(example doc/bot-room.1 'Topic for #ops: release at noon.')"
	run bot-room -b irc invite '#ops' @alice @bob
	assert_output "$(example doc/bot-room.1 'Invited @alice, @bob into the room #ops.')"
	wait_for "$W/bg.out" '"action":"joined".*"#ops/alice"'
	wait_for "$W/bg.out" '"action":"joined".*"#ops/bob"'
	run bot-room -b irc --session none info '#ops'
	assert_output "$(example doc/bot-room.1 '#ops: exists, not joined, 3 users, topic: release at noon.')"
	run bot-room -b irc leave '#ops'
	assert_output "$(example doc/bot-room.1 'Left the room #ops.')"
	wait_for "$W/seen.alice" "^:$BOT!\\S+ PART #ops"
	# alice and bob are left in #ops
	run bash -c "$(example doc/bot-room.1 "bot-room -b irc occupants '#ops'")"
	assert_success
	# the same lines, in the order the server gives the nicks
	assert_equal "$(squeeze <<< "$output" | sed '$ s/\.$//' | sort)" \
		"$(example doc/bot-room.1 'Occupants in #ops:' | squeeze | sed '$ s/\.$//' | sort)"
	assert_equal "${output: -1}" .
	run bash -c "$(example doc/bot-room.1 "bot-room -b irc --json occupants '#ops' | jq -r '.occupants[].nick'")"
	assert_success
	assert_equal "$(sort <<< "$output")" $'alice\nbob'
	ex=$(example doc/bot-room.1 "bot-room -b irc --json info '#ops' | jq -e .exists >/dev/null")
	run bash -c "$ex"
	assert_success
	run bash -c "${ex//'#ops'/'#nothere'}"
	assert_failure
	run bot-room -b irc join '#ops'
	assert_output "$(example doc/bot-room.1 'Joined the room #ops.')"
}

@test "bot-room(1): a destroyed room, as a backend that can destroy answers it" {
	# No backend here destroys rooms (IRC cannot), so a session socket
	# answers as one would: bot-room's words for its answer are checked.
	sock=$XDG_RUNTIME_DIR/botpipe/fake.sock
	mkdir -p -m 700 "$XDG_RUNTIME_DIR/botpipe"
	python3 - "$sock" <<-'PY' &
		import json, socket, sys
		s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1)
		c, _ = s.accept(); f = c.makefile("rw")
		req = json.loads(f.readline())
		f.write(json.dumps({"type": "room", "action": req["action"], "room": {"kind": "room", "id": "#ops"}}) + "\n")
		f.flush(); c.close()
	PY
	HUMANS+=("$!")
	for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
	run bot-room -b irc --session "$sock" destroy '#ops'
	assert_success
	assert_output "$(example doc/bot-room.1 'Destroyed the room #ops.')"
}

@test "bot-send(1): a webhook with an outbox, flushed by cron" {
	receiver_start '{"default": {"status": 503}}'
	export HOME="$W/home"
	mkdir -p -m 700 "$HOME/.config/botpipe"
	(umask 077 && echo "$RECEIVER_URL" > "$HOME/.config/botpipe/hook-url")
	ex=$(example doc/bot-send.1 'export BOT_WEBHOOK_URL_FILE=~/.config/botpipe/hook-url')
	shell=$(grep -v '^[*0-9/,-]* [*0-9/,-]* [*0-9/,-]* [*0-9/,-]* [*0-9/,-]* ' <<< "$ex")
	cron=$(grep '^[*0-9/,-]* [*0-9/,-]* [*0-9/,-]* [*0-9/,-]* [*0-9/,-]* ' <<< "$ex" | cut -d' ' -f6-)
	# The receiver fails for now: the message waits in the outbox (75)
	# (no retries: BOT_RETRIES=0 is --retries 0).
	BOT_RETRIES=0 run --separate-stderr bash -c "$shell"
	assert_equal "$status" 75
	assert_equal "$(jq -r .code <<< "$output")" queued
	# Then the receiver is back, and cron's flush delivers it.
	python3 -c 'import sys, urllib.request; urllib.request.urlopen(urllib.request.Request(sys.argv[1], data=b"[{\"status\": 200}]", method="POST"))' \
		"${RECEIVER_URL%/hook}/__fake/queue"
	run --separate-stderr bash -c "export BOT_WEBHOOK_URL_FILE=~/.config/botpipe/hook-url; $cron"
	assert_success
	assert_equal "$(jq -r .type <<< "$output")" sent
	assert_equal "$(jq -r 'select(.answer.status == 200) | .json.text' "$RECEIVER_LOG")" 'backup done'
	run find "$HOME/.local/state/botpipe/outbox" -type f
	assert_output ""
}

@test "bot-send(1): count what happened" {
	{ dm 'one'; dm 'two' 2; echo '{"type":"message","to":"nobody","body":"x"}'; } |
		jq -c 'if .from then .to = .from else . end' > replies.ndjson
	run --separate-stderr bash -c "$(example doc/bot-send.1 'bot-send < replies.ndjson | jq -r .type | sort | uniq -c')"
	assert_success
	assert_equal "$(squeeze <<< "$output")" $' 1 error\n 2 sent'
}

@test "botpipe-backends(7): a bot in #ops over TLS answers !echo" {
	TLS_SRV="$W/tls"
	port=$("$HELPERS/ngircd.sh" start "$TLS_SRV" tls)
	export BOT_IRC_CAFILE="$TLS_SRV/cert.pem"
	ex=$(example doc/botpipe-backends.7 'export BOT_IRC_SERVER=irc.example.org:6697 BOT_IRC_TLS=1')
	start_example "${ex//irc.example.org:6697/127.0.0.1:$port}"
	run python3 "$HELPERS/irc-client.py" --tls --cafile "$BOT_IRC_CAFILE" "$port" <<-EOF
		$(join_and_wait_bot opsbot)
		say #ops !echo hi
		expect ^:opsbot!\S+ PRIVMSG #ops :human: hi$
	EOF
	assert_success
}

@test "botpipe-backends(7): a cron job reports to a channel" {
	mkdir -p bin
	printf '#!/bin/sh\necho "backup of /srv done"\necho "1 warning" >&2\n' > bin/backup.sh
	chmod +x bin/backup.sh
	human_start human "$(printf '%s\n' 'join #ops' 'sleep 30')"
	wait_for "$W/seen.human" ' 366 '
	PATH="$PWD/bin:$PATH" run bash -c "$(example doc/botpipe-backends.7 "backup.sh 2>&1 | bot-send -b irc --code --to '#ops'")"
	assert_success
	wait_for "$W/seen.human" "PRIVMSG #ops :.*backup of /srv done"
	wait_for "$W/seen.human" "PRIVMSG #ops :.*1 warning"
}

@test "botpipe-backends(7): watch who comes and goes" {
	export BOT_IRC_CHANNELS='#ops'
	start_example "$(example doc/botpipe-backends.7 "bot-listen -b irc | jq -r 'select(.type==\"room\") |")"
	run python3 "$HELPERS/irc-client.py" --nick alice "$PORT" <<-EOF
		$(join_and_wait_bot "$BOT")
		part #ops lunch
		sleep 0.5
	EOF
	assert_success
	stop_listener
	run cat "$W/bg.out"
	assert_line 'joined #ops alice'
	assert_line 'left #ops alice'
}

@test "botpipe-backends(7): a GitHub push to an IRC channel (webhooks in)" {
	export BOT_IRC_CHANNELS='#dev'
	hp=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	export BOT_HTTP_LISTEN="127.0.0.1:$hp"
	ln -s "$ROOT/share/examples/github/push.jq" push.jq
	human_start dev "join #dev
expect ^:$BOT\S* PRIVMSG #dev :octocat pushed 1 commit to octo-org/hello-world main: Fix the greeting 20"
	wait_for "$W/seen.dev" ' 366 ' 10
	start_example "$(example doc/botpipe-backends.7 'bot-listen -b http --http-route /github=@push.jq |')"
	for _ in $(seq 100); do curl -s -o /dev/null "http://$BOT_HTTP_LISTEN/" && break; sleep 0.05; done
	run curl -s -o /dev/null -w '%{http_code}' -H 'X-GitHub-Event: push' \
		--data-binary "@$ROOT/test/data/github-push.json" "http://$BOT_HTTP_LISTEN/github"
	assert_output 202
	wait "${HUMANS[-1]}"
}

# An example typed at a prompt: its command, from "$ " through the lines
# that continue it (a trailing \ or |), and what it shows, the rest.
prompt_command() { awk 'NR == 1 { sub(/^\$ /, "") } { print } !/[\\|]$/ { exit }' <<< "$1"; }
prompt_shows() { awk 'p { print } !/[\\|]$/ { p = 1 }' <<< "$1"; }

@test "botpipe-markup(7): a card as plain text" {
	ex=$(example doc/botpipe-markup.7 '$ bot-card --title "Build 42"')
	run bash -c "$(prompt_command "$ex")"
	assert_success
	assert_output "$(prompt_shows "$ex")"
}

@test "botpipe-markup(7): a table on the console" {
	ex=$(example doc/botpipe-markup.7 "\$ printf '| env | state |")
	run bash -c "$(prompt_command "$ex")"
	assert_success
	run cat "$W/console"
	assert_output "$(prompt_shows "$ex")"
}

@test "botpipe-markup(7): a mention before a list is a paragraph of its own" {
	ex=$(example doc/botpipe-markup.7 '!hello - Greet whoever asks, by nick')
	run bash -c "{ $(declare -f room_msg); room_msg '!help'; } | bot-dispatch -d plugins | bot-send"
	assert_success
	# the console shows the whole help; it starts as the page shows
	assert_equal "$(head -n 2 "$W/console")" "$(head -n 2 <<< "$ex")"
	grep -qxF -- "$(tail -n 1 <<< "$ex")" "$W/console"
}

@test "botpipe-markup(7): a template of one's own, one line per field" {
	example doc/botpipe-markup.7 '{{key}} = {{value}}' > mine.md
	run bot-card --template mine.md --render markdown --title Deploy --field env=prod --field region=eu
	assert_success
	assert_output $'**Deploy**\nenv = prod\nregion = eu'
}

@test "botpipe-markup(7): each template mistake gives the error shown" {
	# One template per error line of the page, in its order.
	templates=(
		$'{{title}}\n\n{{titel}}'
		$'{{#title}}\nno end'
		$'{{#title}}\n{{title}}\n{{summary}}\n{{/link}}'
		$'{{title}}\n{{/title}}'
		$'a\nb\nc\nd\n{{title'
		'{{key}}'
		'{{fields}}'
	)
	# (not "i": bats's run sets it)
	mapfile -t want <<< "$(example doc/botpipe-markup.7 'template:3: unknown name "titel"')"
	assert_equal "${#want[@]}" "${#templates[@]}"
	for t in "${!templates[@]}"; do
		printf '%s\n' "${templates[$t]}" > template
		run --separate-stderr bot-card --template template --render markdown --title T
		assert_failure
		case $stderr in
		"bot-card: error: "*"${want[$t]}") ;;
		*) fail "expected an error ending '${want[$t]}', got '$stderr'" ;;
		esac
	done
}

@test "botpipe-plugins(7): a file meant as a command that cannot run is named, with the fix" {
	ex=$(example doc/botpipe-plugins.7 "plugins/deploy.sh: a command's file name has no suffix")
	d=$W/srv/bot/plugins
	mkdir -p "$d"
	printf '#!/bin/sh\necho deployed\n' > "$d/deploy.sh"
	printf '#!/bin/sh\necho hi\n' > "$d/greet"
	chmod +x "$d/deploy.sh"
	run --separate-stderr bot-dispatch -d "$d" < /dev/null
	assert_success
	assert_equal "$(sort <<< "$stderr")" "$(sort <<< "${ex//\/srv\//$W/srv/}")"
}

@test "botpipe-plugins(7): a command others may write is refused, named once" {
	ex=$(example doc/botpipe-plugins.7 'others may write it (mode 775)')
	mkdir -p "$W/srv/bot/plugins"
	printf '#!/bin/sh\necho deployed\n' > "$W/srv/bot/plugins/deploy"
	chmod 775 "$W/srv/bot/plugins/deploy"
	run --separate-stderr bash -c "{ $(declare -f dm); dm '!deploy'; dm '!deploy' 2; } | bot-dispatch -d '$W/srv/bot/plugins'"
	assert_success
	assert_equal "$stderr" "${ex//\/srv\//$W/srv/}"
	refute_output --partial deployed
}

@test "botpipe-plugins(7): the shell command, the card on fd 3, the sidecar help" {
	mkdir mine
	example doc/botpipe-plugins.7 '# help: Greet someone, or whoever asks' > mine/greet
	example doc/botpipe-plugins.7 '# help: Show the build status' | sed "s|/var/run/build-status|$W/build-status|" > mine/build
	echo 'all green' > "$W/build-status"
	example doc/botpipe-plugins.7 'bot-card --title Deploy done >&3' > mine/deploy
	cp /bin/true mine/count
	example doc/botpipe-plugins.7 'help: Count the arguments' > mine/count.help
	chmod +x mine/greet mine/build mine/deploy
	run bash -c "{ $(declare -f dm room_msg); dm '!greet'; dm '!greet bob' 2; dm '!build' 3; dm '!help count' 4; room_msg '!deploy' 5; } | bot-dispatch -d mine"
	assert_success
	assert_equal "$(jq -r 'select(.type=="message" and .in_reply_to=="1") | .body' <<< "$output")" 'Hello, you!'
	assert_equal "$(jq -r 'select(.type=="message" and .in_reply_to=="2") | .body' <<< "$output")" 'Hello, bob!'
	assert_equal "$(jq -c 'select(.type=="card" and .title=="Build") | [.title, .body, .color]' <<< "$output")" '["Build","all green","green"]'
	# bot-card's card answers where a reply would go: the room
	assert_equal "$(jq -c 'select(.type=="card" and .title=="Deploy") | [.body, (.to.id // .to)]' <<< "$output")" '["done","#room"]'
	run jq -r 'select(.type=="message" and .in_reply_to=="4") | .body' <<< "$output"
	assert_output --partial 'Count the arguments'
	assert_output --partial '!count WORD...'
}

@test "botpipe-session(7): the occupants of a channel, asked by hand through the socket" {
	command -v socat >/dev/null || fail "socat is not installed, and botpipe-session(7) uses it"
	export BOT_IRC_CHANNELS='#ops'
	# The page's examples in order: a bot-listen started in the background
	# (or, when the page starts none, the default one), then the request.
	mapfile -d '' -t exs < <(examples doc/botpipe-session.7 '#ops')
	request=${exs[-1]}
	if [ "${#exs[@]}" -gt 1 ]; then
		for ex in "${exs[@]:0:${#exs[@]}-1}"; do start_example "$ex"; done
		wait_for "$W/w/events" '"action":"joined".*"#ops/'"$BOT"'"'
	else
		start_example 'bot-listen -b irc'
		wait_for "$W/bg.out" '"action":"joined".*"#ops/'"$BOT"'"'
	fi
	run --separate-stderr bash -c "$request"
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$(jq -r '.type, .action, .occupants[].nick' <<< "$output")" $'room\noccupants\n'"$BOT"
}

@test "botpipe(7): a bad line is one error line on stderr, naming where it is" {
	{ for n in $(seq 11); do dm "line $n" "$n"; done; printf '{"type":"message","body":"\xff"}\n'; dm 'line 13' 13; } > in
	run --separate-stderr bot-dispatch --pass < in
	assert_equal "$status" 65
	assert_equal "$stderr" "$(example doc/botpipe.7 'bot-dispatch: error: <stdin>:12: invalid UTF-8')"
	# the error event, and the stream went on
	assert_equal "$(jq -c 'select(.type == "error") | [.code, .line]' <<< "$output")" '["bad_input",12]'
	assert_equal "$(jq -r 'select(.type == "message") | .body' <<< "$output" | tail -n 1)" 'line 13'
}

@test "botpipe(7): the smallest bot, a jq filter between listener and sender" {
	export BOT_IRC_CHANNELS='#ops'
	start_example "$(example doc/botpipe.7 'jq -c --unbuffered')"
	run python3 "$HELPERS/irc-client.py" "$PORT" <<-EOF
		$(join_and_wait_bot "$BOT")
		say #ops ping
		expect ^:$BOT!\S+ PRIVMSG #ops :pong$
		say $BOT ping
		expect ^:$BOT!\S+ PRIVMSG human :pong$
	EOF
	assert_success
}

@test "botpipe-plugins(7): the examples of args, state, match, on and every are share/examples/hooks, and run" {
	cd "$ROOT"
	H=share/examples/hooks
	assert_equal "$(example doc/botpipe-plugins.7 '# help: Release a service')" "$(cat $H/plugins/release)"
	assert_equal "$(example doc/botpipe-plugins.7 '# help: Count the times anyone asked')" "$(cat $H/plugins/count)"
	assert_equal "$(example doc/botpipe-plugins.7 '# help: Link every ticket')" "$(cat $H/plugins/ticket)"
	assert_equal "$(example doc/botpipe-plugins.7 '# help: Welcome whoever comes online')" "$(cat $H/plugins/welcome)"
	assert_equal "$(example doc/botpipe-plugins.7 '# help: Say the time in #ops')" "$(cat $H/plugins/heartbeat)"
	assert_equal "$(example doc/botpipe-plugins.7 'motto = Keep counting.')" "$(cat "$H/plugins.conf")"
	run -0 bash -c "{ $(declare -f dm room_msg); dm '!release' 1; dm '!count' 2; room_msg 'fixed #7' 3; } | bot-dispatch -j 1 -d $H/plugins | jq -r 'select(.type == \"message\") | .body'"
	assert_output "$(example doc/botpipe-plugins.7 "I couldn't parse the arguments; the following")
you, you are number 1. Keep counting.
https://tracker.example.org/7"
	run -0 bash -c "jq -cn '{type: \"presence\", identifier: {kind: \"person\", id: \"@al\", nick: \"al\"}, status: \"online\"}' | bot-dispatch -d $H/plugins | jq -r '[.to, .body] | join(\" \")'"
	assert_output '#ops Welcome back, al!'
}

@test "botpipe-plugins(7): a flood of events against a callback is dropped and counted as the page shows" {
	shown=$(example doc/botpipe-plugins.7 'callbacks: 9754 events dropped')
	mkdir -m 700 mine
	printf '#!/bin/sh\n# on: presence\nsleep 0.05\n' > mine/watch
	chmod +x mine/watch
	jq -cn 'range(3000) | {type: "presence", identifier: {kind: "person", id: "@u\(.)"}, status: "online"}' > "$W/flood"
	run -0 --separate-stderr bot-dispatch -j 4 -d mine < "$W/flood"
	assert_equal "$(sed 's/[0-9][0-9]*/N/g' <<< "${stderr_lines[0]}")" "$(sed 's/[0-9][0-9]*/N/g' <<< "$shown")"
}

@test "botpipe-plugins(7): admin alerts: a failed command is told to the admins" {
	rm plugins
	mkdir -m 700 plugins
	printf '#!/bin/sh\nexit 5\n' > plugins/fail
	chmod +x plugins/fail
	printf '%s\n' '!fail' > "$W/typed"
	BOT_ADMINS_NOTIFICATIONS=@admin BOT_TEXT_INPUT="$W/typed" run -0 bash -c "$(example doc/botpipe-plugins.7 'share/examples/admin-alerts.jq | bot-send') > /dev/null"
	run cat "$W/console"
	assert_output --partial 'command_failed: fail: exited with status 5'
	assert_output --partial 'Computer says nooo. See logs for details:'
}
