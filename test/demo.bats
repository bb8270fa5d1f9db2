#!/usr/bin/env bats
# make demo: the console bot, driven through a real terminal (tmux).

load helpers/common

setup() {
	command -v tmux >/dev/null || skip "tmux is not installed"
	sock="botpipe-demo-$$"
	cd "$ROOT"
	tmux -L "$sock" new-session -d -x 120 -y 40 "B=$BOT_BUILD sh share/demo.sh"
}

teardown() {
	tmux -L "$sock" kill-server 2>/dev/null || true
}

# Wait until the screen shows want (or 5 s pass).
wait_for() {
	for _ in $(seq 50); do
		tmux -L "$sock" capture-pane -p | grep -qF -- "$1" && return 0
		sleep 0.1
	done
	tmux -L "$sock" capture-pane -p >&2
	return 1
}

# Type a line, then wait until the screen shows want.
type_and_wait() {
	tmux -L "$sock" send-keys "$1" Enter
	wait_for "$2"
}

@test "the console demo answers !echo hi, !help and the example plugins" {
	type_and_wait '!echo hi there' 'hi there'
	type_and_wait '!help' '!hello'
	type_and_wait '!hello' 'Hello, you!'
	type_and_wait '!inroom' 'Joined Room #room.'
	type_and_wait '!hello' '@you Hello, you!'
	wait_for '[@you ➡ #room] >>>'
}

@test "the console demo quits on Ctrl-D" {
	type_and_wait '!echo bye' 'bye'
	tmux -L "$sock" send-keys C-d
	for _ in $(seq 50); do
		tmux -L "$sock" list-sessions >/dev/null 2>&1 || break
		sleep 0.1
	done
	run tmux -L "$sock" list-sessions
	assert_failure
	run jq -r .type "$BOT_BUILD/demo-events.log"
	assert_output "sent"
}
