#!/usr/bin/env bats
# What people and errbot write, as each network shows it, through the real
# programs: tables, errbot's colour marks, the mention before a block, the
# console's defence against control sequences, and IRC against a real
# ngircd (botpipe-markup(7)).
load helpers/common
load helpers/ngircd

setup() {
	ngircd_test_setup
	export BOT_SESSION=none
	C="$W/console"
	PIPE_PID= HUMAN_PID=
}

teardown() {
	[ -z "${HUMAN_PID:-}" ] || kill "$HUMAN_PID" 2>/dev/null || true
	stop_group "$PIPE_PID"
}

# bot-send -b text to the console file, its events thrown away.
console() { bot-send -b text --text-output "$C" "$@" > /dev/null; }

@test "a table is drawn with box drawing on the console, aligned as its delimiter row says" {
	console --to @you $'| name | n |\n|:--|--:|\n| alice | 3 |\n| 名前 | 12 |'
	run cat "$C"
	assert_output - <<-'EOF'
	┏━━━━━━━┳━━━━┓
	┃ name  ┃  n ┃
	┡━━━━━━━╇━━━━┩
	│ alice │  3 │
	│ 名前  │ 12 │
	└───────┴────┘
	EOF
}

@test "strikethrough, bare URLs and task lists are markdown too" {
	console --to @you $'~~old~~ new, see www.example.org\n\n- [x] done\n- [ ] todo'
	console --to @you --text-color always '~~old~~ new'
	run cat "$C"
	assert_output $'old new, see www.example.org\n\n\xe2\x80\xa2 [x] done\n\xe2\x80\xa2 [ ] todo\n\e[9mold\e[29m new\e[0m'
}

@test "!help in a room: the mention stands on its own line, the list stays a list" {
	room_msg '!help hello' | bot-dispatch -d "$PLUGINS" | console
	run head -n 3 "$C"
	assert_output $'@you\n\n\xe2\x80\xa2 !hello - Greet whoever asks, by nick'
}

@test "a code block after the mention keeps both fences; a heading stays a heading" {
	jq -cn '{type:"message",to:"#room",body:"```\ncode line\n```",
		mention:{kind:"occupant",id:"#room/alice",room:"#room",nick:"alice"}},
		{type:"message",to:"#room",body:"# Title",mention:"#room/bob"}' |
		bot-send -b text --markup markdown --text-output "$C" > /dev/null
	run cat "$C"
	assert_output $'@alice\n\n```\ncode line\n```\n@bob\n\n# Title'
}

@test "an occupant without a person field is mentioned as @nick, and !whoami shows @bob for #ops/bob" {
	jq -cn '{type:"message",to:"#ops",body:"hi",
		mention:{kind:"occupant",id:"#ops/alice",room:"#ops",nick:"alice"}}' | console
	run cat "$C"
	assert_output '@alice hi'
	run -0 bash -c "$(declare -f dm); dm '!whoami #ops/bob' | bot-dispatch | jq -r .body"
	assert_line '| person   | `@bob`'
	assert_line '| nick     | `bob`'
}

@test "!whoami in a room: the mention, then the table drawn, no raw pipes" {
	room_msg '!whoami' | bot-dispatch | console
	run head -n 6 "$C"
	assert_output - <<-'EOF'
	@you

	┏━━━━━━━━━━┳━━━━━━━┓
	┃ key      ┃ value ┃
	┡━━━━━━━━━━╇━━━━━━━┩
	│ person   │ @you  │
	EOF
	run cat "$C"
	refute_output --partial '|'
}

@test "!status: errbot's marks are colour on an ANSI console and never shown raw" {
	dm '!status' | bot-dispatch | console --text-color always
	dm '!status' | bot-dispatch | console --text-color never
	run cat "$C"
	refute_output --partial '{:'
	assert_line $'\xe2\x94\x82 \e[32mA\e[39m      \xe2\x94\x82 builtin \xe2\x94\x82'
	assert_line '│ A      │ builtin │'
	assert_output --partial $'\e[31m\e[1mB\e[22m\e[39m = Blacklisted'
}

@test "--raw: no CSI, OSC or other control sequence reaches the console" {
	printf 'a\033]0;owned\007b \033[2J c \302\233 d\033[31m red\tok\n' | console --raw --to @you
	printf '**b** \033[2J\n' | console --to @you --text-color always
	run cat "$C"
	assert_line --index 0 $'a^[]0;owned^Gb ^[[2J c M-^[ d^[[31m red\tok'
	assert_line --index 1 $'\e[1mb\e[22m \xef\xbf\xbd[2J\e[0m'
	run -1 bash -c "LC_ALL=C grep -c \$'\\033\\]\\|\\033\\[2J\\|\\302\\233' '$C'"
	assert_output 0
}

@test "IRC: the mention alone on its line, then the table in aligned columns" {
	export BOT_IRC_NICK="bot$BATS_TEST_NUMBER" BOT_IRC_CHANNELS='#ops'
	BOT=$BOT_IRC_NICK
	setsid sh -c 'bot-listen -b irc | tee "$0/events" | bot-dispatch -j 2 2>"$0/dispatch.err" |
		bot-send -b irc >"$0/sent" 2>"$0/send.err"' "$W" 2>"$W/listen.err" 3>&- &
	PIPE_PID=$!
	for _ in $(seq 200); do
		grep -q '"action":"joined".*"id":"#ops/'"$BOT"'"' "$W/events" 2>/dev/null && break
		sleep 0.05
	done
	run python3 "$HELPERS/irc-client.py" "$PORT" <<-EOF
		join #ops
		say #ops !whoami
		expect ^:${BOT}_?!\S+ PRIVMSG #ops :human:$
		expect ^:${BOT}_?!\S+ PRIVMSG #ops :\x02key\x02 +\x02value\x02$
		expect ^:${BOT}_?!\S+ PRIVMSG #ops :-+  -+$
		expect ^:${BOT}_?!\S+ PRIVMSG #ops :person +@human$
		absent PRIVMSG #ops :.*\| 1
	EOF
	assert_success
}

@test "botpipe-markup(7) examples: a table on the console" {
	printf '| env | state |\n|---|--:|\n| prod | up |\n' | console --to @you
	run cat "$C"
	assert_output - <<-'EOF'
	┏━━━━━━┳━━━━━━━┓
	┃ env  ┃ state ┃
	┡━━━━━━╇━━━━━━━┩
	│ prod │    up │
	└──────┴───────┘
	EOF
}
