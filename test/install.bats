#!/usr/bin/env bats
# make install into a temporary prefix: the installed programs, modules,
# demo and man pages work without the build tree; make uninstall removes
# exactly what install added.  The tests run in order, on one install.

load helpers/common

# make, as a user runs it: not as a child of make check (its flags and
# jobserver are not ours), same build tree and sanitizer setting.
run_make() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$ROOT" B="$BOT_BUILD" SANITIZE="${SANITIZE:-}" "$@"
}

setup_file() {
	export PREFIX="$BATS_FILE_TMPDIR/prefix"
	run_make install PREFIX="$PREFIX" > "$BATS_FILE_TMPDIR/install.log" 2>&1
	# What is in the prefix before the install: nothing (it did not exist).
	export VERSION
	VERSION=$(sed -n 's/^VERSION *= *//p' "$ROOT/Makefile")
}

setup() {
	# Nothing of the build tree on PATH: only the install is used.
	export PATH=/usr/bin:/bin
	export XDG_STATE_HOME="$BATS_TEST_TMPDIR/state" XDG_RUNTIME_DIR="$BATS_TEST_TMPDIR/run"
	mkdir -p -m 700 "$XDG_RUNTIME_DIR"
	unset B
	cd "$BATS_TEST_TMPDIR"
}

teardown() {
	screen_stop
	receiver_stop
}

@test "make install puts the programs, modules, share files and man pages under PREFIX" {
	for p in bot-card bot-dispatch bot-listen bot-room bot-send; do
		assert [ -x "$PREFIX/bin/$p" ]
		run "$PREFIX/bin/$p" --version
		assert_success
		assert_output --partial "$VERSION"
	done
	assert [ -f "$PREFIX/lib/libbot.so.0" ]
	assert [ -f "$PREFIX/lib/botpipe/irc.so" ]
	assert [ -f "$PREFIX/share/botpipe/bot.jq" ]
	assert [ -x "$PREFIX/share/botpipe/examples/plugins/hello" ]
	run mandoc -Tutf8 "$PREFIX/share/man/man1/bot-send.1"
	assert_success
	assert_output --partial "botpipe $VERSION"
	run mandoc -Tutf8 "$PREFIX/share/man/man7/botpipe-backends.7"
	assert_success
}

@test "the installed demo answers !echo, !hello and !whereami, from the install alone" {
	command -v tmux >/dev/null || skip "tmux is not installed"
	screen_start "env -u B PATH=/usr/bin:/bin sh '$PREFIX/share/botpipe/demo.sh'"
	screen_type '!echo hi there' 'hi there'
	screen_type '!hello' 'Hello, you!'
	screen_type '!whereami' 'You asked in a direct chat.'
	tmux -L "$SCREEN" send-keys C-d
	screen_gone
	run jq -r .type "$XDG_STATE_HOME/botpipe/demo-events.log"
	assert_output $'sent\nsent\nsent'
}

@test "a one-shot send from the installed files: the console, and a webhook module" {
	run --separate-stderr "$PREFIX/bin/bot-send" --text-output "$BATS_TEST_TMPDIR/chat" --text-color never --to @you 'backup done'
	assert_success
	assert_equal "$(jq -r .type <<< "$output")" sent
	run grep -c 'backup done' "$BATS_TEST_TMPDIR/chat"
	assert_output 1
	receiver_start
	BOT_WEBHOOK_URL=$RECEIVER_URL run --separate-stderr "$PREFIX/bin/bot-send" -b webhook --to '#ops' 'deploy done'
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$(jq -r .type <<< "$output")" sent
	assert_equal "$(jq -r .json.text "$RECEIVER_LOG")" 'deploy done'
}

@test "the installed bot-dispatch finds bot.jq in the install" {
	run --separate-stderr "$PREFIX/bin/bot-dispatch" -e 'select(.body == "ping") | reply("pong")' <<< "$(dm ping)"
	assert_success
	assert_equal "$(bodies <<< "$output")" pong
}

@test "make uninstall removes everything install added" {
	run_make uninstall PREFIX="$PREFIX"
	# Left: only empty folders (bin, lib, share/man/man1, ...), none of botpipe's.
	run find "$PREFIX" ! -type d
	assert_output ""
	run find "$PREFIX" -name '*botpipe*'
	assert_output ""
}

@test "install and uninstall with DESTDIR stage under it and leave nothing" {
	d=$BATS_TEST_TMPDIR/stage
	run_make install DESTDIR="$d" PREFIX=/usr
	assert [ -x "$d/usr/bin/bot-send" ]
	assert [ -f "$d/usr/share/man/man7/botpipe.7" ]
	run_make uninstall DESTDIR="$d" PREFIX=/usr
	run find "$d" ! -type d
	assert_output ""
}
