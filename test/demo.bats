#!/usr/bin/env bats
# make demo: the console bot, driven through a real terminal (tmux).

load helpers/common

setup() {
	command -v tmux >/dev/null || skip "tmux is not installed"
	cd "$ROOT"
	screen_start "B=$BOT_BUILD sh share/demo.sh"
}

teardown() {
	screen_stop
}

@test "the console demo answers !echo hi, !help and the example plugins" {
	screen_type '!echo hi there' 'hi there'
	screen_type '!help' '!hello'
	screen_type '!hello' 'Hello, you!'
	screen_type '!inroom' 'Joined Room #room.'
	screen_type '!hello' '@you Hello, you!'
	screen_wait '[@you ➡ #room] >>>'
}

@test "the console demo quits on Ctrl-D" {
	screen_type '!echo bye' 'bye'
	tmux -L "$SCREEN" send-keys C-d
	screen_gone
	run jq -r .type "$BOT_BUILD/demo-events.log"
	assert_output "sent"
}
