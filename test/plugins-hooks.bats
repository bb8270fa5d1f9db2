#!/usr/bin/env bats
# What errbot plugins do besides commands, for plugins in any language
# (botpipe-plugins(7)): state (bot-dispatch state, BOT_STATE_DIR, the
# folder's .conf), arguments (# args:), pattern commands (# match:),
# callbacks (# on:), pollers (# every:), !apropos, admin alerts; with the
# hostile cases: a key ../x, writers at once, a pattern that backtracks
# without end, a flood of presence events, a poller slower than its
# interval, a stop while a poller runs.

load helpers/common

HOOKS="$ROOT/share/examples/hooks/plugins"
T=$BATS_TEST_TMPDIR

setup() {
	export XDG_STATE_HOME="$T/state"
	mkdir -p "$T/p"
	chmod 700 "$T/p"
}

teardown() {
	for f in "$T"/pid*; do
		[ -s "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true
	done
	return 0
}

# plugin NAME: a command in $T/p from standard input.
plugin() { cat > "$T/p/$1"; chmod 755 "$T/p/$1"; }

# An example plugin copied into $T/p, with sed's edit $2 if given.
example_plugin() { sed -e "${2:-}" "$HOOKS/$1" > "$T/p/$1"; chmod 755 "$T/p/$1"; }

presence() {
	jq -cn --arg who "$1" --arg s "${2:-online}" \
		'{type:"presence",identifier:{kind:"person",id:("@"+$who),nick:$who},status:$s}'
}

# --- state ------------------------------------------------------------------

@test "state: a folder's commands keep values across runs in BOT_STATE_DIR (0700); FOLDER.conf's values are BOT_CONFIG_ variables" {
	run -0 bash -c "$(declare -f dm); { dm '!count' 1; dm '!count' 2; } | bot-dispatch -j 1 -d '$HOOKS' | jq -r .body"
	assert_output $'you, you are number 1. Keep counting.\nyou, you are number 2. Keep counting.'
	run -0 bash -c "$(declare -f dm); dm '!count' 3 | bot-dispatch -d '$HOOKS' | jq -r .body"
	assert_output 'you, you are number 3. Keep counting.'
	dir=$(echo "$XDG_STATE_HOME"/botpipe/plugin-plugins-*)
	[ -d "$dir" ]
	assert_equal "$(stat -c %a "$dir")" 700
	assert_equal "$(cat "$dir/asked")" 3
}

@test "state: two folders of the same name never share a state folder" {
	mkdir -p "$T/a/plugins" "$T/b/plugins"
	chmod 700 "$T/a" "$T/b" "$T/a/plugins" "$T/b/plugins"
	cp "$HOOKS/count" "$T/a/plugins/"
	cp "$HOOKS/count" "$T/b/plugins/"
	for d in a a b; do
		dm '!count' | bot-dispatch -d "$T/$d/plugins" | jq -r .body >> "$T/out"
	done
	assert_equal "$(cat "$T/out")" $'you, you are number 1. \nyou, you are number 2. \nyou, you are number 1. '
	assert_equal "$(ls -d "$XDG_STATE_HOME"/botpipe/plugin-plugins-* | wc -l)" 2
}

@test "state: a key named ../x (or .lock, or a/b) is refused with one line, and nothing is written" {
	plugin put <<-'EOF'
	#!/bin/sh
	bot-dispatch state set "$1" value; echo "set: $?"
	bot-dispatch state get "$1"; echo "get: $?"
	EOF
	for key in ../x .lock a/b ..; do
		run -0 --separate-stderr bash -c "$(declare -f dm); dm '!put $key' | bot-dispatch -d '$T/p' | jq -r .body"
		assert_output $'set: 65\nget: 65'
		assert_equal "${#stderr_lines[@]}" 2
		assert_equal "${stderr_lines[0]}" "bot-dispatch: error: state set $key: not a key (1 to 200 of letters, digits, . _ -, not starting with .)"
	done
	run find "$XDG_STATE_HOME" -name x -o -name b -o -type f -newer "$T/p/put" -name '*value*'
	assert_output ""
	# a good key works, and lists
	run -0 bash -c "$(declare -f dm); dm '!put ok.key-1' | bot-dispatch -d '$T/p' | jq -r .body"
	assert_output $'set: 0\nvalueget: 0'
}

@test "state: without a BOT_STATE_DIR (outside a plugin), one line and exit 78; usage errors exit 64" {
	run -78 --separate-stderr env -u BOT_STATE_DIR bot-dispatch state get k
	assert_equal "$stderr" "bot-dispatch: error: state: BOT_STATE_DIR is not set (bot-dispatch sets it for a plugin; bot-dispatch -v says why it could not)"
	run -64 --separate-stderr bot-dispatch state frob k
	assert_equal "$stderr" "bot-dispatch: error: usage: bot-dispatch state get KEY [DEFAULT] | set KEY [VALUE] | del KEY | incr KEY [N] | list"
	mkdir -m 777 "$T/open"
	run -78 --separate-stderr env BOT_STATE_DIR="$T/open" bot-dispatch state get k
	assert_equal "$stderr" "bot-dispatch: error: state: $T/open: others may write it (mode 777): refused; chmod go-w"
}

@test "state: 40 commands at once: 800 incr lose no update, and set leaves one whole value" {
	plugin bump <<-'EOF'
	#!/bin/sh
	for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
		bot-dispatch state incr hits > /dev/null || echo incr failed
	done
	# 200 kB of one digit: a torn write would mix two
	head -c 200000 /dev/zero | tr '\0' "$1" | bot-dispatch state set big || echo set failed
	bot-dispatch state del gone
	EOF
	run -0 bash -c "$(declare -f dm); for i in \$(seq 40); do dm \"!bump \$((i % 10))\" \$i; done | bot-dispatch -j 40 -d '$T/p'"
	assert_output ""
	dir=$(echo "$XDG_STATE_HOME"/botpipe/plugin-p-*)
	assert_equal "$(cat "$dir/hits")" 800
	assert_equal "$(wc -c < "$dir/big")" 200000
	assert_equal "$(tr -d "$(head -c 1 "$dir/big")" < "$dir/big" | wc -c)" 0
	# no temporary file left behind
	run ls -A "$dir"
	assert_output $'.lock\nbig\nhits'
}

@test "state: get KEY DEFAULT, del, list, and set from standard input" {
	plugin s <<-'EOF'
	#!/bin/sh
	bot-dispatch state get colour blue; echo
	printf 'red\nand more' | bot-dispatch state set colour
	bot-dispatch state get colour; echo
	bot-dispatch state set size 3
	bot-dispatch state list
	bot-dispatch state del colour
	bot-dispatch state get colour; echo "get: $?"
	EOF
	run -0 bash -c "$(declare -f dm); dm '!s' | bot-dispatch -d '$T/p' | jq -r .body"
	assert_output $'blue\nred\nand more\ncolour\nsize\nget: 1'
}

@test "state: a FOLDER.conf others may write is refused with one line; a bad line is named" {
	cp "$HOOKS/count" "$T/p/"
	printf 'motto = Open.\n' > "$T/p.conf"
	chmod 666 "$T/p.conf"
	run -0 --separate-stderr bash -c "$(declare -f dm); dm '!count' | bot-dispatch -d '$T/p' | jq -r .body"
	assert_output 'you, you are number 1. '
	assert_equal "$stderr" "bot-dispatch: error: $T/p.conf: others may write it (mode 666): refused; chmod go-w"
	chmod 600 "$T/p.conf"
	printf 'motto = Fine.\n9lives = no\n' > "$T/p.conf"
	run -0 --separate-stderr bash -c "$(declare -f dm); dm '!count' | bot-dispatch -d '$T/p' | jq -r .body"
	assert_output 'you, you are number 2. Fine.'
	assert_equal "$stderr" "bot-dispatch: warning: $T/p.conf:2: not NAME=value (NAME: a letter, then letters, digits, _ or -; at most 100)"
}

# --- arguments --------------------------------------------------------------

@test "args: the header is checked before the command runs, with errbot's reply and the usage" {
	example_plugin release
	printf '\necho ran >> %s/ran\n' "$T" >> "$T/p/release"
	run -0 bash -c "$(declare -f dm); { dm '!release' 1; dm '!release web --bogus' 2; dm '!release web prod extra' 3; dm '!release web --force=yes' 4; } | bot-dispatch -j 1 -d '$T/p' | jq -c '[.type, .body // .code]'"
	assert_output - <<-'EOF'
	["message","I couldn't parse the arguments; the following arguments are required: SERVICE"]
	["message","usage: release SERVICE [ENV=staging] [--force]"]
	["error","bad_arguments"]
	["message","I couldn't parse the arguments; unrecognized arguments: --bogus"]
	["message","usage: release SERVICE [ENV=staging] [--force]"]
	["error","bad_arguments"]
	["message","I couldn't parse the arguments; unrecognized arguments: extra"]
	["message","usage: release SERVICE [ENV=staging] [--force]"]
	["error","bad_arguments"]
	["message","I couldn't parse the arguments; argument --force: ignored explicit argument 'yes'"]
	["message","usage: release SERVICE [ENV=staging] [--force]"]
	["error","bad_arguments"]
	EOF
	[ ! -e "$T/ran" ]
}

@test "args: the parsed values in argv (defaults filled) and BOT_ARG_ variables" {
	plugin show <<-'EOF'
	#!/bin/sh
	# args: SERVICE [ENV=prod] [HOSTS...] [--force] [--tag=latest]
	printf '[%s]' "$@"; echo
	env | grep '^BOT_ARG_' | sort | tr '\n' ' '
	EOF
	run -0 bash -c "$(declare -f dm); { dm '!show web' 1; dm \"!show 'my app' --tag v2 test h1 h2 --force\" 2; dm '!show -- --web' 3; } | bot-dispatch -j 1 -d '$T/p' | jq -r .body"
	assert_output - <<-'EOF'
	[web][prod]
	BOT_ARG_ENV=prod BOT_ARG_FORCE=0 BOT_ARG_HOSTS= BOT_ARG_SERVICE=web BOT_ARG_TAG=latest 
	[my app][test][h1][h2]
	BOT_ARG_ENV=test BOT_ARG_FORCE=1 BOT_ARG_HOSTS=h1 h2 BOT_ARG_SERVICE=my app BOT_ARG_TAG=v2 
	[--web][prod]
	BOT_ARG_ENV=prod BOT_ARG_FORCE=0 BOT_ARG_HOSTS= BOT_ARG_SERVICE=--web BOT_ARG_TAG=latest 
	EOF
	run -0 bash -c "$(declare -f dm); dm '!release web' | bot-dispatch -d '$HOOKS' | jq -r .body"
	assert_output 'Would release web to staging (add --force).'
	run -0 bash -c "$(declare -f dm); dm '!release api prod --force' | bot-dispatch -d '$HOOKS' | jq -r .body"
	assert_output 'Released api to prod.'
	# without a "# usage:" line, !help shows the header as the usage
	run -0 bash -c "$(declare -f dm); dm '!help release' | bot-dispatch -d '$HOOKS' | jq -r .body"
	assert_output $'- **!release** - Release a service (only a dry run without --force)\nusage: !release SERVICE [ENV=staging] [--force]'
}

@test "args: a wrong header is the plugin's fault: errbot's error reply, the reason on the event" {
	plugin bad <<-'EOF'
	#!/bin/sh
	# args: [OPT] NEEDED
	echo ran
	EOF
	run -0 bash -c "$(declare -f dm); dm '!bad x' | bot-dispatch -d '$T/p' | jq -c '[.type, .body // .message]'"
	assert_output - <<-'EOF'
	["message","Computer says nooo. See logs for details:\nbad: args: NEEDED: a required argument after an optional one"]
	["error","bad: args: NEEDED: a required argument after an optional one"]
	EOF
}

# --- pattern commands -------------------------------------------------------

@test "match: a pattern command answers chatter (prefixed: no); matchall gives every match as argv; it is no command by name" {
	run -0 bash -c "$(declare -f room_msg); { room_msg 'see #12 and #345, not &#9' 1; room_msg 'nothing here' 2; room_msg '!ticket' 3; } | bot-dispatch -j 1 -d '$HOOKS' | jq -c '[.to.id, .body]'"
	assert_output - <<-'EOF'
	["#room","https://tracker.example.org/12\nhttps://tracker.example.org/345"]
	["#room","Command \"ticket\" not found."]
	EOF
}

@test "match: by default only an addressed message, errbot's re_botcmd; the groups are argv, the match BOT_MATCH" {
	plugin weather <<-'EOF'
	#!/bin/sh
	# match: ^weather (?:in|at) (\w+)(?: on (\w+))?
	printf '[%s]' "$@"; echo " $BOT_MATCH"
	EOF
	run -0 bash -c "$(declare -f room_msg); { room_msg 'weather in Paris' 1; room_msg '!weather in Paris' 2; room_msg '!weather at Oslo on Monday please' 3; room_msg '!forecast' 4; } | bot-dispatch -j 1 -d '$T/p' | jq -r .body"
	assert_output - <<-'EOF'
	[Paris][] weather in Paris
	[Oslo][Monday] weather at Oslo on Monday
	Command "forecast" not found.
	EOF
}

@test "match: a plain command wins over a pattern; several patterns that match all run" {
	plugin a_pat <<-'EOF'
	#!/bin/sh
	# match: deploy
	# prefixed: no
	echo a
	EOF
	plugin b_pat <<-'EOF'
	#!/bin/sh
	# match: (?i)DEPLOY
	# prefixed: no
	echo b
	EOF
	plugin deploy <<-'EOF'
	#!/bin/sh
	echo command
	EOF
	run -0 bash -c "$(declare -f dm); { dm '!deploy now' 1; dm 'please deploy' 2; } | bot-dispatch -j 1 -d '$T/p' | jq -r .body"
	assert_output $'command\na\nb'
}

@test "match: a pattern that backtracks without end is stopped by the match limit, named once, and the bot goes on" {
	plugin evil <<-'EOF'
	#!/bin/sh
	# match: ^(a+)+$
	# prefixed: no
	echo "matched ${#1}"
	EOF
	long=$(printf 'a%.0s' $(seq 60))
	run -0 --separate-stderr timeout 60 bash -c "$(declare -f dm); { dm '${long}!' 1; dm '${long}b' 2; dm 'aaa' 3; } | bot-dispatch -j 1 -d '$T/p' | jq -r .body"
	assert_output 'matched 3'
	assert_equal "$stderr" "bot-dispatch: warning: evil: match: a message took more than 100000 steps to match (the pattern backtracks too much): taken as no match"
}

@test "match: a header that is no pattern is named once and never runs" {
	plugin broken <<-'EOF'
	#!/bin/sh
	# match: (unclosed
	echo ran
	EOF
	run -0 --separate-stderr bash -c "$(declare -f dm); { dm 'x (unclosed' 1; dm 'y' 2; } | bot-dispatch -d '$T/p'"
	assert_output ""
	assert_equal "$stderr" "bot-dispatch: error: $T/p/broken: match: end pattern with unmatched parenthesis"
}

# --- callbacks --------------------------------------------------------------

@test "on: a presence callback's output goes to its # to:, the event on its stdin" {
	run -0 bash -c "$(declare -f presence); { presence alice online; presence bob away; } | bot-dispatch -d '$HOOKS'"
	assert_output '{"type":"message","to":"#ops","body":"Welcome back, alice!","plugin":"welcome"}'
}

@test "on: message runs for every message, commands too (after them), replying; mention only when the bot is named" {
	plugin seen <<-'EOF'
	#!/bin/sh
	# on: message
	jq -r '"seen: " + .body'
	EOF
	plugin named <<-'EOF'
	#!/bin/sh
	# on: mention
	echo "you called?"
	EOF
	run -0 bash -c "$(declare -f room_msg); { room_msg 'hello' 1; room_msg '!echo hi' 2; room_msg 'is Robo there' 3; room_msg 'Robotic arms' 4; } | bot-dispatch -j 1 -a Robo -d '$T/p' | jq -c '[.to.id, .body]'"
	assert_output - <<-'EOF'
	["#room","seen: hello"]
	["#room","hi"]
	["#room","seen: !echo hi"]
	["#room","you called?"]
	["#room","seen: is Robo there"]
	["#room","seen: Robotic arms"]
	EOF
}

@test "on: 10,000 presence events against a slow callback: at most --jobs run at once, the rest dropped and counted" {
	plugin watch <<-EOF
	#!/bin/sh
	# on: presence
	mkdir "$T/runs/\$\$"
	ls "$T/runs" | wc -l >> "$T/peaks"
	sleep 0.05
	rmdir "$T/runs/\$\$"
	echo run >> "$T/ran"
	EOF
	mkdir "$T/runs"
	jq -cn 'range(10000) | {type: "presence", status: "online",
		identifier: {kind: "person", id: "@u\(.)", nick: "u\(.)"}}' > "$T/flood"
	run -0 --separate-stderr bash -c "bot-dispatch -j 4 -d '$T/p' < '$T/flood'"
	assert_output ""
	ran=$(wc -l < "$T/ran")
	dropped=$(printf '%s\n' "${stderr_lines[@]}" | sed -n 's/^bot-dispatch: warning: callbacks: \([0-9]*\) events dropped: .*(--jobs 4)$/\1/p' | paste -sd+ | bc)
	# every event either ran or was counted as dropped
	assert_equal "$((ran + dropped))" 10000
	[ "$dropped" -gt 0 ]
	assert_equal "$(sort -n "$T/peaks" | tail -n 1 | awk '{print ($1 <= 4)}')" 1
	# nothing but the drop counts on the log
	run grep -vc 'events dropped' <<< "$stderr"
	assert_output 0
}

@test "on: a failing callback is logged and its error event written; no one is answered" {
	plugin sulk <<-'EOF'
	#!/bin/sh
	# on: presence
	exit 2
	EOF
	run -0 --separate-stderr bash -c "$(declare -f presence); presence alice | bot-dispatch -d '$T/p' | jq -c '[.type, .code, .message]'"
	assert_output '["error","command_failed","sulk: exited with status 2"]'
	assert_equal "$stderr" "bot-dispatch: error: sulk: exited with status 2"
}

# --- pollers ----------------------------------------------------------------

@test "every: a poller runs on its schedule and its output goes to its # to:" {
	example_plugin heartbeat 's/every: 1h/every: 1s/'
	run -0 bash -c "sleep 2.6 | bot-dispatch -d '$T/p' | jq -c '[.type, .to, .plugin, (.body | test(\"^It is [0-9]{2}:[0-9]{2} UTC[.]$\"))]'"
	assert_line --index 0 '["message","#ops","heartbeat",true]'
	assert_line --index 1 '["message","#ops","heartbeat",true]'
	[ "${#lines[@]}" -le 3 ]
}

@test "every: a poller slower than its interval never runs twice at once; its event says what it is" {
	plugin slow <<-EOF
	#!/bin/sh
	# every: 1s
	# to: @ops
	mkdir "$T/lock" || echo overlap >> "$T/overlaps"
	cat > "$T/event"
	sleep 2.2
	rmdir "$T/lock"
	echo done
	EOF
	run -0 bash -c "sleep 5.5 | bot-dispatch -d '$T/p' | jq -r .body"
	[ ! -e "$T/overlaps" ]
	# at 1 s, then at the first tick after it ended (4 s): never piled up
	assert_output $'done\ndone'
	run jq -c . "$T/event"
	assert_output '{"type":"timer","command":"slow","interval":1,"to":"@ops"}'
}

@test "every: a failing poller is logged each time and runs again on its schedule" {
	plugin flaky <<-'EOF'
	#!/bin/sh
	# every: 1s
	exit 3
	EOF
	run -0 --separate-stderr bash -c "sleep 2.6 | bot-dispatch -d '$T/p' | jq -c '[.type, .code, .event.type]'"
	assert_line --index 0 '["error","command_failed","timer"]'
	assert_line --index 1 '["error","command_failed","timer"]'
	assert_equal "${stderr_lines[0]}" "bot-dispatch: error: flaky: exited with status 3 (it runs again at its next time)"
	assert_equal "${stderr_lines[1]}" "bot-dispatch: error: flaky: exited with status 3 (it runs again at its next time)"
}

@test "every: bot-dispatch stops cleanly while a poller runs: the run is killed, nothing is left" {
	plugin long <<-EOF
	#!/bin/sh
	# every: 1s
	sleep 300 &
	echo \$! > "$T/pid.sleep"
	wait
	EOF
	mkfifo "$T/in"
	bot-dispatch -d "$T/p" < "$T/in" > "$T/out" 2> "$T/err" &
	echo $! > "$T/pid.dispatch"
	exec 7> "$T/in"
	wait_for "$T/pid.sleep" '[0-9]'
	kill -TERM "$(cat "$T/pid.dispatch")"
	wait "$(cat "$T/pid.dispatch")" || true
	exec 7>&-
	sleep_pid=$(cat "$T/pid.sleep")
	for _ in $(seq 50); do kill -0 "$sleep_pid" 2>/dev/null || break; sleep 0.1; done
	run kill -0 "$sleep_pid"
	assert_failure
	run cat "$T/out"
	assert_output ""
}

@test "every: a bad interval is named once and the plugin never runs" {
	plugin odd <<-'EOF'
	#!/bin/sh
	# every: soon
	echo ran
	EOF
	run -0 --separate-stderr bash -c "sleep 1.5 | bot-dispatch -d '$T/p'"
	assert_output ""
	assert_equal "$stderr" "bot-dispatch: error: $T/p/odd: every: soon is no interval (such as 30s, 5m, 1h, 1d; at least 1s)"
}

# --- apropos, admin alerts ----------------------------------------------------

@test "!apropos WORD lists the commands whose help has it, as errbot; no word: the usage" {
	run -0 bash -c "$(declare -f dm); { dm '!apropos RELEASE' 1; dm '!apropos' 2; dm '!apropos zebra' 3; dm '!apropos uptime' 4; } | bot-dispatch -j 1 -d '$HOOKS' | jq -c .body"
	assert_output - <<-'EOF'
	"Available commands:\n\t!release: Release a service (only a dry run without --force)"
	"Usage: !apropos search_term"
	"Available commands:"
	"Available commands:\n\t!uptime: Return the uptime of the bot"
	EOF
}

@test "admin alerts: share/examples/admin-alerts.jq tells the admins of a failed command and a failed rule" {
	plugin broken <<-'EOF'
	#!/bin/sh
	exit 4
	EOF
	export BOT_ADMINS_NOTIFICATIONS='@alice  @carol'
	run -0 bash -c "$(declare -f dm); { dm '!broken' 1; dm 'boom' 2; } | bot-dispatch -j 1 -d '$T/p' -e 'select(.body == \"boom\") | error(\"kaput\")' | bot-dispatch --pass -f '$ROOT/share/examples/admin-alerts.jq' | jq -c 'select(.to | type == \"string\") | [.to, .body]' | sort"
	assert_output - <<-'EOF'
	["@alice","command_failed: broken: exited with status 4"]
	["@alice","rule_failed: rule -e #1: kaput"]
	["@carol","command_failed: broken: exited with status 4"]
	["@carol","rule_failed: rule -e #1: kaput"]
	EOF
}

@test "state: under --test each run starts from no state, and leaves none" {
	cat > "$T/count.chat" <<-'EOF2'
	> !count
	< you, you are number 1. Keep counting.
	> !count
	< you, you are number 2. Keep counting.
	EOF2
	export TMPDIR="$T/tmp"
	mkdir -p "$TMPDIR"
	run -0 bot-dispatch -j 1 -d "$HOOKS" --test "$T/count.chat"
	run -0 bot-dispatch -j 1 -d "$HOOKS" --test "$T/count.chat"
	run ls -A "$TMPDIR"
	assert_output ""
	[ ! -e "$XDG_STATE_HOME/botpipe" ]
}

@test "access control: a pattern command and a message callback are checked as commands are" {
	plugin secret <<-'EOF2'
	#!/bin/sh
	# match: ^open (\w+)
	# admin-only: yes
	echo "opened $1"
	EOF2
	plugin spy <<-'EOF2'
	#!/bin/sh
	# on: message
	echo spied
	EOF2
	printf '{"ACCESS_CONTROLS": {"spy": {"denyusers": ["@you"]}}}\n' > "$T/acl.json"
	run -0 bash -c "$(declare -f dm); dm '!open vault' | bot-dispatch --acl '$T/acl.json' -d '$T/p' | jq -c '[.type, .body // .code]'"
	assert_output - <<-'EOF2'
	["message","This command requires bot-admin privileges"]
	["error","denied"]
	EOF2
	run -0 bash -c "$(declare -f dm); dm '!open vault' | bot-dispatch -j 1 --admin @you -d '$T/p' | jq -c '[.type, .body // .code]'"
	assert_output - <<-'EOF2'
	["message","opened vault"]
	["message","spied"]
	EOF2
}
