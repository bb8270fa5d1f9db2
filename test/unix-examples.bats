#!/usr/bin/env bats
# share/examples: each example script run as its comment says, against the
# real programs (and a real ngircd for the bridge, a loopback receiver for
# the webhook).
load helpers/common

EX="$ROOT/share/examples"

setup() {
	W=$BATS_TEST_TMPDIR
	export XDG_RUNTIME_DIR="$W/run" XDG_STATE_HOME="$W/state"
	mkdir -p -m 700 "$XDG_RUNTIME_DIR"
	fake_pid= pids=
}

teardown() {
	[ -z "$fake_pid" ] || { kill "$fake_pid" 2>/dev/null; wait "$fake_pid" 2>/dev/null; } || true
	for p in $pids; do kill -TERM -- "-$p" 2>/dev/null || true; done
	[ -z "${SRV_A:-}" ] || "$BATS_TEST_DIRNAME/helpers/ngircd.sh" stop "$SRV_A"
	[ -z "${SRV_B:-}" ] || "$BATS_TEST_DIRNAME/helpers/ngircd.sh" stop "$SRV_B"
	return 0
}

# The loopback HTTP receiver, answering from a script; BOT_WEBHOOK_URL at it.
start_fake() {
	/usr/bin/python3 "$BATS_TEST_DIRNAME/fake-http.py" --port-file "$W/port" \
		--log "$W/req.ndjson" --script-json "$1" >/dev/null 2>"$W/fake.err" 3>&- &
	fake_pid=$!
	for _ in $(seq 100); do [ -s "$W/port" ] && break; sleep 0.05; done
	export BOT_BACKEND=webhook BOT_WEBHOOK_URL="http://127.0.0.1:$(cat "$W/port")/hook"
}
delivered() { jq -r 'select(.answer.status == 200) | .json.text' "$W/req.ndjson"; }

@test "cron-alert.sh: quiet while the check passes; its output kept in the outbox while the hook fails, sent by the flush" {
	start_fake '[{"status":503},{"status":503},{"status":503},{"status":503},{"status":503}]'
	export BOT_RETRIES=0
	run "$EX/cron-alert.sh" '#ops' true
	assert_success
	[ ! -s "$W/req.ndjson" ]
	run "$EX/cron-alert.sh" '#ops' sh -c 'echo "/srv is 97% full"; exit 2'
	assert_equal "$status" 75
	outbox="$XDG_STATE_HOME/botpipe/outbox"
	[ -n "$(ls "$outbox/new" "$outbox/cur" 2>/dev/null)" ]
	# the crontab's second line, once the receiver answers again
	kill "$fake_pid"; wait "$fake_pid" 2>/dev/null || true; fake_pid=
	rm -f "$W/port" "$W/req.ndjson"
	start_fake '[]'
	run bot-send --flush "$outbox"
	assert_success
	run delivered
	assert_output --partial "alert: sh -c"
	assert_output --partial "failed (exit 2)"
	assert_output --partial "/srv is 97% full"
}

@test "cron-alert.sh: usage" {
	run "$EX/cron-alert.sh" '#ops'
	assert_equal "$status" 64
	assert_output --partial "usage: cron-alert.sh TO COMMAND"
}

# A message in #ops from NICK (as the text backend writes an occupant).
ops_msg() {
	jq -cn --arg b "$1" --arg who "$2" --arg id "${3:-1}" '{type:"message",id:$id,backend:"text",
		from:{kind:"occupant",id:"#ops/\($who)",room:"#ops",nick:$who,person:"@\($who)",aclattr:"@\($who)"},
		to:{kind:"room",id:"#ops"},body:$b,is_direct:false,is_group:true,is_threaded:false}'
}

@test "deploy: alice deploys in #ops, bob is refused, a bad version is caught by the command" {
	export DEPLOY_LOG="$W/deploys"
	{
		ops_msg '!deploy staging v1.2.3' alice 1
		ops_msg '!deploy production v1.2.3' bob 2
		ops_msg '!deploy staging $(reboot)' alice 3
	} | bot-dispatch -d "$EX/deploy/plugins" --acl "$EX/deploy/acl.json" --env DEPLOY_LOG > "$W/out" 2>"$W/err"
	# answers come as they are ready: a refusal before a command's output
	reply_to() { jq -r --arg id "$1" 'select(.type=="message" and .in_reply_to==$id) | .body' "$W/out"; }
	assert_equal "$(reply_to 1)" "Deploying **v1.2.3** to **staging** for alice."
	run reply_to 2
	assert_output --partial "not allowed"
	assert_equal "$(reply_to 3)" "A version looks like v1.2.3."
	run jq -r 'select(.type=="error") | .code' "$W/out"
	assert_output denied
	run cut -d' ' -f2- "$W/deploys"
	assert_output "#ops/alice staging v1.2.3"
}

@test "deploy: not in a direct chat, even for alice" {
	jq -cn '{type:"message",id:"1",backend:"text",from:{kind:"person",id:"@alice",nick:"alice",aclattr:"@alice"},
		to:{kind:"person",id:"@bot"},body:"!deploy staging",is_direct:true,is_group:false}' |
		bot-dispatch -d "$EX/deploy/plugins" --acl "$EX/deploy/acl.json" > "$W/out" 2>/dev/null
	run bodies < "$W/out"
	refute_output --partial "Deploying"
}

@test "jq-bot.jq: the same answers from plain jq and from bot-dispatch -f, with no plugin" {
	{ dm '!ping'; dm '!rot13 Hello, World'; dm '!count a b  c'; room_msg 'Good morning all'; dm 'just talk'; } > "$W/in"
	jq -c --unbuffered -L "$ROOT/share" -f "$EX/jq-bot.jq" < "$W/in" > "$W/jq.out"
	run bodies < "$W/jq.out"
	assert_output "pong
Uryyb, Jbeyq
3 words
Good morning, you!"
	bot-dispatch -f "$EX/jq-bot.jq" < "$W/in" > "$W/d.out"
	run bodies < "$W/d.out"
	assert_output "pong
Uryyb, Jbeyq
3 words
Good morning, you!"
	# in the room, to the room
	run jq -r 'select(.body | startswith("Good")) | .to.id' "$W/d.out"
	assert_output "#room"
}

@test "ci-card.sh: a red card with the counts for a failed run, the log passed through" {
	printf 'ok 1 a\nnot ok 2 b\n1 passed, 1 failed\n' > "$W/log"
	CI_COMMIT=abc123 CI_JOB_URL=https://ci.example.org/42 BOT_BACKEND=text BOT_TEXT_OUTPUT="$W/chat" \
		run "$EX/ci-card.sh" '#ops' build < "$W/log"
	assert_equal "$status" 1
	assert_output "$(cat "$W/log")"
	run cat "$W/chat"
	assert_output --partial "build: failed"
	assert_output --partial "passed: 1"
	assert_output --partial "failed: 1"
	assert_output --partial "commit: abc123"
	# the card itself, as bot-card makes it
	printf '3 passed, 0 failed\n' | CI_COMMIT=abc123 BOT_BACKEND=text BOT_TEXT_OUTPUT="$W/chat2" "$EX/ci-card.sh" '#ops'
	run cat "$W/chat2"
	assert_output --partial "tests: passed"
}

@test "digest.sh: a channel log through jq and grep: counts, top speakers, alert lines, last hours only" {
	now=$(date +%s)
	{
		for m in 'alice|web is down' 'bob|looking' 'alice|fixed it' 'carol|the error was DNS'; do
			jq -cn --arg who "${m%%|*}" --arg b "${m#*|}" --argjson ts "$now" \
				'{type:"message",from:{kind:"occupant",id:"#ops/\($who)",nick:$who},to:{kind:"room",id:"#ops"},body:$b,ts:$ts}'
		done
		echo 'not an event'
		jq -cn '{type:"message",from:{nick:"old"},to:{kind:"room",id:"#ops"},body:"old failure",ts:5}'
		jq -cn --argjson ts "$now" '{type:"message",from:{nick:"zed"},to:"#other",body:"error elsewhere",ts:$ts}'
		jq -cn --argjson ts "$now" '{type:"presence",identifier:"@alice",status:"away"}'
	} > "$W/ops.ndjson"
	run "$EX/digest.sh" '#ops' < "$W/ops.ndjson"
	assert_success
	assert_line --index 0 "**#ops, the last 24 hours:** 4 messages from 3 people."
	assert_line --index 2 "- alice (2)"
	assert_line "- **alice**: web is down"
	assert_line "- **carol**: the error was DNS"
	refute_output --partial "old"
	refute_output --partial "zed"
	# and to the chat, as the crontab line has it
	"$EX/digest.sh" '#ops' < "$W/ops.ndjson" | bot-send -b text --text-output "$W/chat" --to '#ops' > /dev/null
	grep -q "4 messages from 3 people" "$W/chat"
	# a quiet day sends nothing
	run "$EX/digest.sh" '#quiet' < "$W/ops.ndjson"
	assert_success
	assert_output ""
}

@test "bridge.sh: two IRC networks, one line each way, who said what kept, nothing echoed back" {
	H="$BATS_TEST_DIRNAME/helpers"
	SRV_A="$W/srv-a" SRV_B="$W/srv-b"
	port_a=$("$H/ngircd.sh" start "$SRV_A")
	port_b=$("$H/ngircd.sh" start "$SRV_B")
	cat > "$W/config" <<CONF
backend = irc
irc-nick = bridge
[left]
irc-server = 127.0.0.1:$port_a
irc-channels = #a
[right]
irc-server = 127.0.0.1:$port_b
irc-channels = #b
CONF
	chmod 600 "$W/config"
	export BOT_CONFIG="$W/config"
	setsid "$EX/bridge.sh" left '#a' right '#b' bridge 2>"$W/bridge.err" &
	pids=$!
	# the people: bob on one network, alice on the other; alice speaks
	# only once the bridge is in both channels and bob is in his
	printf 'join #b\nexpect (bridge!.* JOIN|353 .*bridge) 20\nexpect <alice> hi from a 20\nsay #b hi from b\nsleep 2\n' |
		python3 "$H/irc-client.py" --nick bob "$port_b" > "$W/bob.out" &
	b=$!
	for _ in $(seq 400); do grep -Eq 'bridge!.* JOIN|353 .*bridge' "$W/bob.out" 2>/dev/null && break; sleep 0.05; done
	printf 'join #a\nexpect (bridge!.* JOIN|353 .*bridge) 20\nsay #a hi from a\nexpect <bob> hi from b 20\nsleep 1\n' |
		python3 "$H/irc-client.py" --nick alice "$port_a" > "$W/alice.out" &
	a=$!
	wait "$a" || { cat "$W/alice.out" "$W/bridge.err"; return 1; }
	wait "$b" || { cat "$W/bob.out" "$W/bridge.err"; return 1; }
	grep -q ':bridge!.* PRIVMSG #b :<alice> hi from a' "$W/bob.out"
	grep -q ':bridge!.* PRIVMSG #a :<bob> hi from b' "$W/alice.out"
	# the relayed line is not relayed back
	run grep -c 'PRIVMSG' "$W/alice.out"
	assert_output 1
	run grep -c 'PRIVMSG #b' "$W/bob.out"
	assert_output 1
}

# The example config with its absolute paths moved under $W (the secrets,
# the outbox) and the plugin and ACL paths at this tree's share/.
example_config() {
	mkdir -p "$W/secrets"
	sed -e "s|/etc/botpipe/|$W/|g" -e "s|/var/lib/botpipe/|$W/state/|g" \
		-e "s|/usr/share/botpipe/|$ROOT/share/|g" "$EX/config" > "$W/config"
	chmod 600 "$W/config"
}

@test "config: every program loads every profile of the example without a word on stderr" {
	example_config
	for profile in text irc irc-local webhook; do
		for prog in bot-listen bot-dispatch bot-send bot-card bot-room; do
			run --separate-stderr "$prog" -c "$W/config" --profile "$profile" --help
			assert_success
			[ -z "$stderr" ] || { echo "$prog --profile $profile: $stderr"; return 1; }
		done
		run bot-send -c "$W/config" --profile "$profile" --help
		assert_line "Backend ${profile%-local}:"
	done
}

@test "config: the settings in effect: plugins, ACL and prefix for bot-dispatch, the console's names" {
	example_config
	{ dm 'help' 1; room_msg '!roll 2d6' 2; room_msg '!hello' 3; } |
		bot-dispatch -c "$W/config" --profile text > "$W/out" 2>/dev/null
	# prefix-optional: "help" in a direct chat is a command; plugins listed
	run jq -r 'select(.in_reply_to=="1") | .body' "$W/out"
	assert_output --partial "roll"
	assert_output --partial "whereami"
	# the ACL: roll is not for rooms
	run jq -r 'select(.in_reply_to=="2") | .body' "$W/out"
	assert_output --partial "not allowed"
	run jq -r 'select(.in_reply_to=="3") | .body' "$W/out"
	assert_output --partial "Hello"
	bot-send -c "$W/config" --profile text --text-output "$W/chat" --to '#room' 'hello there' > "$W/sent"
	run jq -r .type "$W/sent"
	assert_output sent
	grep -q 'hello there' "$W/chat"
}

@test "config: the webhook profile reads its URL from the secret file, posts its template, keeps its outbox" {
	example_config
	start_fake '[{"status":503}]'
	unset BOT_BACKEND
	printf '%s\n' "$BOT_WEBHOOK_URL" > "$W/secrets/webhook-url"
	chmod 600 "$W/secrets/webhook-url"
	unset BOT_WEBHOOK_URL
	run bot-send -c "$W/config" --profile webhook --retries 0 --to '#ops' 'disk full'
	assert_equal "$status" 75
	[ -d "$W/state/webhook/outbox" ]
	run bot-send -c "$W/config" --profile webhook --flush "$W/state/webhook/outbox"
	assert_success
	run jq -c 'select(.answer.status == 200) | .json' "$W/req.ndjson"
	assert_output '{"text":"disk full","channel":"#ops"}'
}

@test "config: the IRC profile's nick and channels, against a real ngircd" {
	H="$BATS_TEST_DIRNAME/helpers"
	SRV_A="$W/srv-a"
	port=$("$H/ngircd.sh" start "$SRV_A")
	example_config
	# only the server is moved to this machine's ngircd; the rest is the file's
	export BOT_IRC_SERVER="127.0.0.1:$port"
	setsid bot-listen -c "$W/config" --profile irc-local > "$W/events" 2>"$W/err" &
	pids=$!
	printf 'join #test\nexpect (botpipe!.* JOIN|353 .*botpipe) 20\nsay #test ping\nsleep 0.5\n' |
		python3 "$H/irc-client.py" --nick alice "$port" > "$W/alice.out"
	for _ in $(seq 100); do grep -q '"body":"ping"' "$W/events" && break; sleep 0.1; done
	run jq -r 'select(.type=="message") | "\(.to.id) \(.from.nick) \(.body)"' "$W/events"
	assert_output "#test alice ping"
}

# ---- botpipe-tutorial(7): each literal block run as the page has it ----

# The one example of FILE (from the top of the tree) that holds KEY, as
# test/examples.bats reads it (helpers/examples.py, which renders the page
# with mandoc) when that is here, else the page's literal block itself.
example() {
	if [ -f "$ROOT/test/helpers/examples.py" ]; then
		python3 "$ROOT/test/helpers/examples.py" get "$ROOT/$1" "$2"
	else
		local text
		text=$(awk -v key="$2" '/^\.Bd -literal/ { b = ""; on = 1; next }
			/^\.Ed/ { if (on && index(b, key)) { printf "%s", b; n++ } on = 0; next }
			on { b = b $0 "\n" } END { exit n != 1 }' "$ROOT/$1") || return 1
		printf '%s\n' "$text" | sed 's/\\e/\\/g'
	fi
}

# The installed paths of the page, at this tree.
here() { sed -e "s|/usr/share/botpipe/|$ROOT/share/|g" -e "s|/home/you|$HOME|g"; }

tutorial_setup() {
	export HOME="$W/home" XDG_CONFIG_HOME="$W/home/.config"
	mkdir -p "$HOME/.config/botpipe"
	chmod 700 "$HOME" "$HOME/.config" "$HOME/.config/botpipe"
}

@test "tutorial: each key the tests below use names exactly one example of the page" {
	# (the tests take the examples inside \$(...), where a missing one
	# would pass unseen; the call is spelled through variables here so
	# that test/examples.bats does not read this test's lines as claims)
	page=doc/botpipe-tutorial.7 call="example doc/botpipe-tutorial.7"
	keys=$(grep -o "$call '[^']*'" "$BATS_TEST_FILENAME" | sed "s|^$call '||; s|'\$||" | sort -u)
	[ -n "$keys" ]
	while IFS= read -r k; do
		example "$page" "$k" > /dev/null || { echo "$page: not one block with key: $k"; return 1; }
	done <<< "$keys"
	example "$page" "bot-send --profile webhook --to '#ops' 'deploy done'" > /dev/null
	run ! example "$page" 'no such example'
}

@test "tutorial: the console quick start, and a plugin of one's own" {
	tutorial_setup
	printf '!echo hi there\n!roll 2d6\n' > "$W/typed"
	BOT_TEXT_INPUT="$W/typed" BOT_TEXT_OUTPUT="$W/chat" sh -c "$(example doc/botpipe-tutorial.7 'bot-listen -b text |' | here)" > /dev/null
	grep -q 'hi there' "$W/chat"
	grep -Eq '\*?\*?[0-9]+' "$W/chat"
	sh -c "$(example doc/botpipe-tutorial.7 'mkdir -p ~/plugins')"
	[ -x "$HOME/plugins/hi" ]
	printf '!hi\n' > "$W/typed"
	bot-listen -b text --text-input "$W/typed" --text-output "$W/chat2" |
		bot-dispatch -d ~/plugins | bot-send -b text --text-output "$W/chat2" > /dev/null
	grep -q 'Hello, you!' "$W/chat2"
}

@test "tutorial: the IRC quick start against a real ngircd: !hi, 'mybot: hi', a private !hi, and !whoami's nick!user@host" {
	tutorial_setup
	H="$BATS_TEST_DIRNAME/helpers"
	SRV_A="$W/srv-a"
	port=$("$H/ngircd.sh" start "$SRV_A")
	example doc/botpipe-tutorial.7 '[irc]' > "$HOME/.config/botpipe/config"
	chmod 600 "$HOME/.config/botpipe/config"
	sh -c "$(example doc/botpipe-tutorial.7 'mkdir -p ~/plugins')"
	# this machine's server instead of irc.example.org, without TLS: the
	# environment wins over the file; the rest is the page's
	export BOT_IRC_SERVER="127.0.0.1:$port" BOT_IRC_TLS=false
	setsid sh -c "$(example doc/botpipe-tutorial.7 'bot-listen --profile irc |')" > /dev/null 2>"$W/bot.err" &
	pids=$!
	printf '%s\n' 'join #mychannel' 'expect (mybot!.* JOIN|353 .*mybot) 20' \
		'say #mychannel !hi' 'expect PRIVMSG #mychannel :.*Hello, alice!' \
		'say #mychannel mybot: hi' 'expect PRIVMSG #mychannel :.*Hello, alice!.*' \
		'say mybot !hi' 'expect PRIVMSG alice :Hello, alice!' \
		'say mybot !whoami' 'expect alice!~?alice@127.0.0.1' |
		python3 "$H/irc-client.py" --nick alice "$port" > "$W/alice.out" ||
		{ cat "$W/alice.out" "$W/bot.err"; return 1; }
	run grep -c ':mybot!.* PRIVMSG .*Hello, alice!' "$W/alice.out"
	assert_output 3
}

@test "tutorial: the webhook quick start posts 'deploy done' with the URL from its file" {
	tutorial_setup
	start_fake '[]'
	unset BOT_BACKEND
	url=$BOT_WEBHOOK_URL
	unset BOT_WEBHOOK_URL
	sh -c "$(example doc/botpipe-tutorial.7 'umask 077' | here | sed "s|https://chat.example.org/hooks/T0KEN|$url|")"
	run stat -c %a "$HOME/.config/botpipe/hook-url"
	assert_output 600
	example doc/botpipe-tutorial.7 '[webhook]' | here > "$HOME/.config/botpipe/config"
	chmod 600 "$HOME/.config/botpipe/config"
	run sh -c "$(example doc/botpipe-tutorial.7 "bot-send --profile webhook --to '#ops' 'deploy done'")"
	assert_success
	run delivered
	assert_output "deploy done"
}

@test "tutorial: the crontab's lines: a failed send waits in the outbox, the flush line sends it" {
	tutorial_setup
	start_fake '[{"status":503},{"status":503},{"status":503},{"status":503},{"status":503},{"status":503}]'
	unset BOT_BACKEND
	printf '%s\n' "$BOT_WEBHOOK_URL" > "$HOME/.config/botpipe/hook-url"
	chmod 600 "$HOME/.config/botpipe/hook-url"
	unset BOT_WEBHOOK_URL
	example doc/botpipe-tutorial.7 '[webhook]' | here > "$HOME/.config/botpipe/config"
	chmod 600 "$HOME/.config/botpipe/config"
	example doc/botpipe-tutorial.7 'PATH=/usr/local/bin:/usr/bin:/bin' | here > "$W/crontab"
	# cron's way: the NAME=VALUE lines are the environment, and each job
	# runs through sh from HOME ("backup-home" is the user's own program)
	backup_home() { echo "3 files backed up"; }
	envs=$(grep -E '^[A-Z_]+=' "$W/crontab")
	job() { grep -E '^[0-9*]' "$W/crontab" | sed -n "${1}p" | cut -d' ' -f6-; }
	mkdir -p "$W/bin"
	printf '#!/bin/sh\necho "3 files backed up"\n' > "$W/bin/backup-home"
	chmod +x "$W/bin/backup-home"
	run env -i HOME="$HOME" $envs PATH="$W/bin:$BOT_BUILD/bin:/usr/bin:/bin" BOT_RETRIES=0 sh -c "$(job 1)"
	assert_equal "$status" 75
	run delivered
	assert_output ""
	kill "$fake_pid"; wait "$fake_pid" 2>/dev/null || true; fake_pid=
	rm -f "$W/port" "$W/req.ndjson"
	start_fake '[]'
	printf '%s\n' "$BOT_WEBHOOK_URL" > "$HOME/.config/botpipe/hook-url"
	run env -i HOME="$HOME" $envs PATH="$BOT_BUILD/bin:/usr/bin:/bin" sh -c "$(job 2)"
	assert_success
	run delivered
	assert_output --partial "3 files backed up"
}

@test "tutorial: the service block names the units' folders and credentials as the units have them" {
	f="$ROOT/share/systemd/botpipe@.service"
	example doc/botpipe-tutorial.7 'install -d -m 0700 /etc/botpipe/credentials/irc' > "$W/block"
	grep -q 'install -d -m 0700 /etc/botpipe/credentials/irc' "$W/block"
	grep -qx 'LoadCredential=botpipe:/etc/botpipe/credentials/%i' "$f"
	grep -qx 'Environment=BOT_CONFIG=/etc/botpipe/config BOT_PROFILE=%i' "$f"
	grep -q 'systemctl enable --now botpipe-flush@irc.timer' "$W/block"
	[ -f "$ROOT/share/systemd/botpipe-flush@.timer" ]
}

@test "bot.jq relay: a room's message keeps its sender; direct chats, backlog and the named nicks are not relayed" {
	{
		room_msg 'hello all'
		room_msg 'old news' | jq -c '.delayed = true'
		dm 'just to the bot'
		room_msg 'from the other bridge' | jq -c '.from.nick = "bridge"'
	} | jq -c -L "$ROOT/share" 'include "bot"; relay("#b"; ["bridge"])' > "$W/out"
	run jq -c '{to, body}' "$W/out"
	assert_output '{"to":"#b","body":"<you> hello all"}'
	# relay(to): no nick left out
	room_msg 'x' | jq -c '.from.nick = "bridge"' | jq -c -L "$ROOT/share" 'include "bot"; relay("#b")' > "$W/out2"
	run jq -r .body "$W/out2"
	assert_output "<bridge> x"
}
