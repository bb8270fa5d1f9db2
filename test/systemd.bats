#!/usr/bin/env bats
# share/systemd: the units pass systemd-analyze verify with the paths an
# install gives them, and botpipe-run (their ExecStart) maps a failing
# stage to the service's exit status, so RestartPreventExitStatus works.
load helpers/common

setup() {
	W=$BATS_TEST_TMPDIR
	export RUNTIME_DIRECTORY="$W" XDG_RUNTIME_DIR="$W/run"
	mkdir -p -m 700 "$XDG_RUNTIME_DIR"
	RUN="$ROOT/share/systemd/botpipe-run"
}

# The units as make install writes them (@BINDIR@ and @LIBEXECDIR@ put in),
# each also as an instance, which is what systemd-analyze checks fully.
units() {
	for f in "$ROOT"/share/systemd/*@.*; do
		n=${f##*/}
		sed -e "s|@BINDIR@|$BOT_BUILD/bin|g" -e "s|@LIBEXECDIR@|$ROOT/share/systemd|g" "$f" > "$W/$n"
		cp "$W/$n" "$W/${n/@./@ops.}"
	done
}

@test "systemd-analyze verify: the bot, the flush service and its timer (skipped when systemd-analyze is missing)" {
	command -v systemd-analyze >/dev/null || skip "systemd-analyze is not installed"
	units
	run systemd-analyze verify --man=no "$W/botpipe@ops.service" "$W/botpipe-flush@ops.service" "$W/botpipe-flush@ops.timer"
	assert_success
	assert_output ""
	# the check can fail: a unit whose program is missing does
	sed -i 's|^ExecStart=.*|ExecStart=/nonexistent/botpipe-run|' "$W/botpipe@ops.service"
	run systemd-analyze verify --man=no "$W/botpipe@ops.service"
	assert_failure
}

@test "botpipe@.service restarts on failure, but not on usage, input, permission or configuration errors" {
	f="$ROOT/share/systemd/botpipe@.service"
	grep -qx 'Restart=on-failure' "$f"
	grep -qx 'RestartPreventExitStatus=64 65 77 78 243' "$f"
	for k in DynamicUser=yes ProtectSystem=strict NoNewPrivileges=yes 'StateDirectory=botpipe/%i botpipe/%i/outbox' 'RuntimeDirectory=botpipe-%i'; do
		grep -qxF "$k" "$f" || { echo "missing: $k"; return 1; }
	done
}

@test "botpipe-run: the console pipeline answers, and exits 0 when its input ends" {
	printf '!echo hi\n!hello\n' > "$W/in"
	BOT_TEXT_INPUT="$W/in" BOT_TEXT_OUTPUT="$W/out" BOT_PLUGINS="$PLUGINS" run bash "$RUN"
	assert_success
	run cat "$W/out"
	assert_line --partial "hi"
	assert_line --partial "Hello, you!"
}

@test "botpipe-run: a configuration error is the service's exit status (78)" {
	printf '[ops\n' > "$W/config"
	chmod 600 "$W/config"
	BOT_CONFIG="$W/config" run bash "$RUN"
	assert_equal "$status" 78
	assert_line --regexp "^botpipe-run: bot-(listen|dispatch|send) failed \(exit 78\)$"
}

@test "botpipe-run: a middle stage that fails stops the others and gives its status" {
	# bot-listen waits on a FIFO no one writes: it would run for ever
	mkfifo "$W/typed"
	exec 7<>"$W/typed"
	BOT_TEXT_INPUT="$W/typed" BOT_TEXT_OUTPUT="$W/out" BOT_ACL="$W/no-such-acl.json" \
		run timeout 20 bash "$RUN"
	exec 7>&-
	refute [ "$status" -eq 0 ]
	refute [ "$status" -eq 124 ]   # not the timeout: bot-listen was stopped
	assert_line --partial "botpipe-run: bot-dispatch failed"
	assert_line --regexp "no-such-acl.json"
}

@test "botpipe-run: a stage killed by a signal is 128 + its number" {
	mkfifo "$W/typed"
	exec 7<>"$W/typed"
	BOT_TEXT_INPUT="$W/typed" BOT_TEXT_OUTPUT="$W/out" bash "$RUN" 2>"$W/err" &
	pid=$!
	for _ in $(seq 100); do pgrep -x -P "$pid" bot-send >/dev/null && break; sleep 0.05; done
	pkill -KILL -x -P "$pid" bot-send
	rc=0
	wait "$pid" || rc=$?
	exec 7>&-
	assert_equal "$rc" 137
	run cat "$W/err"
	assert_line --partial "bot-send failed (exit 137)"
}

@test "botpipe-run: credentials are passed on as BOT_..._FILE" {
	mkdir -p "$W/creds"
	# a password the IRC backend refuses (a line break in it): it says so,
	# so the credential reached it as BOT_IRC_PASSWORD_FILE
	printf 'a\rb\n' > "$W/creds/botpipe_irc-password"
	printf 'x' > "$W/creds/botpipe_BAD NAME"
	CREDENTIALS_DIRECTORY="$W/creds" BOT_BACKEND=irc BOT_IRC_SERVER=127.0.0.1:9 \
		run timeout 20 bash "$RUN"
	assert_equal "$status" 78
	assert_line --partial "credential 'BAD NAME' is not a setting name; skipped"
	assert_line --partial "irc-password: must not hold a line break"
	rm "$W/creds/botpipe_irc-password"
	CREDENTIALS_DIRECTORY="$W/creds" BOT_BACKEND=irc BOT_IRC_SERVER=127.0.0.1:9 \
		BOT_TEXT_INPUT=/dev/null run timeout 3 bash "$RUN"
	refute_line --partial "irc-password"
}
