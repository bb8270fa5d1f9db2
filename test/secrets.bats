#!/usr/bin/env bats
# Secrets never leak, and plugins are fenced in.  A known token goes into
# bot-send -b webhook every way it can; then every output stream, the error
# events, --help, --version and /proc/<pid>/cmdline are searched for it.

load helpers/hostile

TOK=T0K3Nsecr3txyzzy42

teardown() {
	stop_fake
	for p in ${KILL_PIDS:-}; do kill -9 "$p" 2>/dev/null || true; done
	[ -z "${NOBODY_DIR:-}" ] || rm -rf "$NOBODY_DIR"
}

# Run bot-send -b webhook "$@" with a message on stdin, appending stdout
# and stderr to $BATS_TEST_TMPDIR/all; the exit status to .../codes.
webhook_try() {
	local rc=0
	echo '{"type":"message","to":"#ops","body":"hello"}' |
		bot-send -b webhook "$@" >> "$BATS_TEST_TMPDIR/all" 2>&1 || rc=$?
	echo "$rc" >> "$BATS_TEST_TMPDIR/codes"
}

# Fails, showing where, when the token is anywhere in file $1.
no_token() {
	if grep -a -n "$TOK" "$1"; then
		echo "the token leaked into $1" >&2
		return 1
	fi
}

@test "a token in BOT_WEBHOOK_URL never shows, however bot-send fails" {
	fake_http '{"responses": [{"status": 500, "body": {"error": "broken"}}, {"status": 401, "body": "unauthorized"},
		{"reset": true}, {"close": true}, {"raw": "garbage\r\n\r\n"}, {"status": 404, "body": "Not Found"},
		{"status": 429, "headers": {"Retry-After": "1"}, "body": "slow down"}, {"status": 200, "body": "not json"}],
		"default": {"status": 503}}'
	for url in "http://127.0.0.1:$FAKE_PORT/hooks/$TOK" "http://bot:$TOK@127.0.0.1:$FAKE_PORT/hooks" \
	           "http://127.0.0.1:$FAKE_PORT/hooks?token=$TOK&x=1" "http://127.0.0.1:$FAKE_PORT/hooks#$TOK"; do
		for verbosity in -q "" -v; do
			BOT_WEBHOOK_URL=$url webhook_try $verbosity --retries 1
		done
	done
	# nobody listens; a bad scheme; a bad template; a bad auth header; a bad line
	BOT_WEBHOOK_URL="http://127.0.0.1:1/hooks/$TOK" webhook_try -v
	BOT_WEBHOOK_URL="ftp://127.0.0.1/hooks/$TOK" webhook_try -v
	BOT_WEBHOOK_URL="http://127.0.0.1:1/$TOK" webhook_try -v --webhook-template '{text: .text'
	BOT_WEBHOOK_URL="http://127.0.0.1:1/x" BOT_WEBHOOK_AUTH_HEADER="Authorization Bearer $TOK" webhook_try -v
	BOT_WEBHOOK_URL="http://127.0.0.1:1/x" BOT_WEBHOOK_AUTH_HEADER=$'Authorization: Bearer '"$TOK"$'\r\nX: y' webhook_try -v
	BOT_WEBHOOK_URL="http://127.0.0.1:$FAKE_PORT/hooks/$TOK" bot-send -v -b webhook <<< "{\"type\":\"message\",\"to\":\"#ops\",\"body\":7}" >> "$BATS_TEST_TMPDIR/all" 2>&1 || true
	BOT_WEBHOOK_URL="http://127.0.0.1:$FAKE_PORT/hooks/$TOK" bot-send -v -b webhook <<< "not json" >> "$BATS_TEST_TMPDIR/all" 2>&1 || true
	no_token "$BATS_TEST_TMPDIR/all"
	# every failure above did fail (all but the one 200), and said so on
	# stderr and in an error event
	run grep -c -v '^0$' "$BATS_TEST_TMPDIR/codes"
	assert_output 16
	grep -q '"code":"denied"' "$BATS_TEST_TMPDIR/all"
	grep -q '"code":"send_failed"' "$BATS_TEST_TMPDIR/all"
	grep -q 'the webhook URL must start with http:// or https://' "$BATS_TEST_TMPDIR/all"
	# the fake saw the token: it was really used
	grep -q "$TOK" "$FAKE_LOG"
}

@test "a server that echoes the token back in its answer: the error event and stderr still hide it" {
	fake_http "{\"responses\": [{\"status\": 404, \"body\": \"Cannot POST /hooks/$TOK\"},
		{\"status\": 500, \"body\": {\"error\": \"no hook $TOK\"}}]}"
	BOT_WEBHOOK_URL="http://127.0.0.1:$FAKE_PORT/hooks/$TOK" webhook_try
	BOT_WEBHOOK_URL="http://127.0.0.1:$FAKE_PORT/hooks/$TOK" webhook_try -v
	grep -q 'HTTP 404' "$BATS_TEST_TMPDIR/all"
	no_token "$BATS_TEST_TMPDIR/all"
}

@test "a token from BOT_WEBHOOK_URL_FILE: used, and never shown" {
	fake_http '{"responses": [{"status": 200, "body": {"id": "m1"}}, {"status": 500, "body": "no"}]}'
	printf 'http://127.0.0.1:%s/hooks/%s\n' "$FAKE_PORT" "$TOK" > "$BATS_TEST_TMPDIR/url"
	chmod 600 "$BATS_TEST_TMPDIR/url"
	BOT_WEBHOOK_URL_FILE=$BATS_TEST_TMPDIR/url webhook_try -v --retries 0
	BOT_WEBHOOK_URL_FILE=$BATS_TEST_TMPDIR/url webhook_try -v --retries 0
	BOT_WEBHOOK_URL_FILE=$BATS_TEST_TMPDIR/nonexistent webhook_try -v --retries 0
	assert_equal "$(cat "$BATS_TEST_TMPDIR/codes" | tr '\n' ' ')" "0 75 78 "
	grep -q '"type":"sent","id":"m1"' "$BATS_TEST_TMPDIR/all"
	assert_equal "$(jq -r .path "$FAKE_LOG" | head -n 1)" "/hooks/$TOK"
	no_token "$BATS_TEST_TMPDIR/all"
}

@test "--help and --version never show the token" {
	BOT_WEBHOOK_URL="http://x/$TOK" BOT_WEBHOOK_AUTH_HEADER="Authorization: $TOK" bot-send -b webhook --help > "$BATS_TEST_TMPDIR/all" 2>&1
	BOT_WEBHOOK_URL="http://x/$TOK" bot-send -b webhook --version >> "$BATS_TEST_TMPDIR/all" 2>&1
	grep -q 'BOT_WEBHOOK_URL\[_FILE\]' "$BATS_TEST_TMPDIR/all"
	no_token "$BATS_TEST_TMPDIR/all"
}

@test "a secret on the command line is refused with one line that does not repeat it" {
	for args in "--webhook-url http://x/$TOK" "--webhook-url=http://x/$TOK" "--webhook-auth-header Authorization:$TOK"; do
		# shellcheck disable=SC2086
		run --separate-stderr bot-send -b webhook --to '#ops' $args hello
		assert_equal "$status" 64
		assert_equal "$output" ""
		assert_equal "$(echo "$stderr" | wc -l)" 1
		assert_regex "$stderr" '^bot-send: error: --webhook-(url|auth-header) is a secret and is never read from the command line: set BOT_WEBHOOK_[A-Z_]+ or BOT_WEBHOOK_[A-Z_]+_FILE$'
		[[ "$stderr" != *"$TOK"* ]]
	done
}

@test "while a request is in flight the token is in neither /proc/PID/cmdline nor, with _FILE, /proc/PID/environ" {
	fake_http '{"responses": [{"hang": 10}]}'
	printf 'http://127.0.0.1:%s/hooks/%s' "$FAKE_PORT" "$TOK" > "$BATS_TEST_TMPDIR/url"
	echo '{"type":"message","to":"#ops","body":"hello"}' > "$BATS_TEST_TMPDIR/in"
	BOT_WEBHOOK_URL_FILE=$BATS_TEST_TMPDIR/url bot-send -b webhook < "$BATS_TEST_TMPDIR/in" > /dev/null 2>&1 &
	pid=$!
	KILL_PIDS=$pid
	wait_file "$FAKE_LOG"
	tr '\0' '\n' < "/proc/$pid/cmdline" > "$BATS_TEST_TMPDIR/cmdline"
	tr '\0' '\n' < "/proc/$pid/environ" > "$BATS_TEST_TMPDIR/environ"
	grep -q '^bot-send$\|/bot-send$' "$BATS_TEST_TMPDIR/cmdline"
	grep -q '^BOT_WEBHOOK_URL_FILE=' "$BATS_TEST_TMPDIR/environ"
	no_token "$BATS_TEST_TMPDIR/cmdline"
	no_token "$BATS_TEST_TMPDIR/environ"
	# and ps, which anyone on the machine can run
	ps -ww -o args= -p "$pid" > "$BATS_TEST_TMPDIR/ps"
	no_token "$BATS_TEST_TMPDIR/ps"
}

# ---- plugins ----

msg_for() { dm_msg "!$1"; }

@test "a plugin cannot read bot-dispatch's secrets: its environment is the documented clean one" {
	dir=$(plugin env 'env')
	msg_for env | BOT_WEBHOOK_URL="http://x/$TOK" SECRET_TOKEN=$TOK BOT_TELEGRAM_TOKEN=$TOK \
		bot-dispatch -d "$dir" > "$BATS_TEST_TMPDIR/out"
	jq -r .body "$BATS_TEST_TMPDIR/out" > "$BATS_TEST_TMPDIR/env"
	no_token "$BATS_TEST_TMPDIR/env"
	run sh -c "sed 's/=.*//' '$BATS_TEST_TMPDIR/env' | grep -v '^PWD$' | sort | tr '\n' ' '"
	assert_output "BOT_ARGS BOT_COMMAND BOT_COMMAND_PREFIX BOT_EVENTS_FD BOT_FROM BOT_FROM_NICK BOT_IS_DIRECT BOT_MESSAGE_BACKEND BOT_MESSAGE_ID BOT_REPLY_TO BOT_STATE_DIR HOME LANG PATH XDG_CONFIG_HOME XDG_RUNTIME_DIR XDG_STATE_HOME "
}

@test "--env passes only what it names, and never a BOT_* secret" {
	dir=$(plugin env 'env')
	msg_for env | SAFE_VAR=ok OTHER_VAR=no BOT_WEBHOOK_URL="http://x/$TOK" \
		bot-dispatch -d "$dir" --env SAFE_VAR --env BOT_WEBHOOK_URL > "$BATS_TEST_TMPDIR/out"
	jq -r .body "$BATS_TEST_TMPDIR/out" > "$BATS_TEST_TMPDIR/env"
	no_token "$BATS_TEST_TMPDIR/env"
	grep -qx 'SAFE_VAR=ok' "$BATS_TEST_TMPDIR/env"
	no_match '^OTHER_VAR=' "$BATS_TEST_TMPDIR/env"
}

@test "a plugin inherits no file descriptor beyond 0-3" {
	dir=$(plugin fds 'exec ls -l /proc/self/fd')
	# bot-dispatch itself holds extra fds (5, 7) that must not pass on
	msg_for fds | bot-dispatch -d "$dir" 5< /dev/null 7> "$BATS_TEST_TMPDIR/x" > "$BATS_TEST_TMPDIR/out"
	run sh -c "jq -r .body '$BATS_TEST_TMPDIR/out' | awk 'NR > 1 { print \$9 }' | tr '\n' ' '"
	# 4 is ls's own handle on /proc/self/fd: the lowest free number
	assert_output "0 1 2 3 4 "
	jq -r .body "$BATS_TEST_TMPDIR/out" | grep -q ' 4 -> /proc/.*/fd$'
}

@test "--limit-cpu kills a plugin that spins, by signal, with an error event" {
	dir=$(plugin spin 'while :; do :; done')
	start=$(date +%s)
	msg_for spin | bot-dispatch -d "$dir" --limit-cpu 1 --timeout 60 > "$BATS_TEST_TMPDIR/out" 2> "$BATS_TEST_TMPDIR/err"
	[ $(( $(date +%s) - start )) -lt 30 ]
	run jq -r 'select(.type=="error") | .code + " " + .message' "$BATS_TEST_TMPDIR/out"
	assert_output --regexp '^command_failed spin: killed by signal (9|24)$'
}

@test "--limit-memory stops a plugin that allocates past it; without it the same plugin works" {
	dir=$(plugin eat 'exec python3 -c "b = bytearray(300 * 1024 * 1024); print(len(b))"')
	msg_for eat | bot-dispatch -d "$dir" --limit-memory 100 > "$BATS_TEST_TMPDIR/out" 2>/dev/null
	run jq -r 'select(.type=="error") | .message' "$BATS_TEST_TMPDIR/out"
	assert_output "eat: exited with status 1"
	msg_for eat | bot-dispatch -d "$dir" > "$BATS_TEST_TMPDIR/out" 2>/dev/null
	assert_equal "$(jq -r .body "$BATS_TEST_TMPDIR/out")" 314572800
}

# An unprivileged run: RLIMIT_NPROC and /proc permissions do not bind root,
# so as root bot-dispatch runs as nobody, from a folder nobody can read.
# Sets NOBODY_DIR (the plugin folder) and AS (the command prefix).
nobody_setup() {
	NOBODY_DIR=$(mktemp -d /tmp/botpipe-nobody.XXXXXX)
	chmod 755 "$NOBODY_DIR"
	AS=""
	if [ "$(id -u)" -eq 0 ]; then
		# VALGRIND=1 puts wrappers in a folder only root may enter
		[ "${VALGRIND:-}" != 1 ] || skip "under VALGRIND=1 nobody cannot run the wrappers"
		AS="setpriv --reuid=65534 --regid=65534 --clear-groups"
	fi
}
nobody_plugin() {
	printf '%s\n' '#!/bin/sh' "$2" > "$NOBODY_DIR/$1"
	chmod 755 "$NOBODY_DIR/$1"
}
dispatch_as_nobody() {
	HOME=$NOBODY_DIR XDG_CONFIG_HOME=$NOBODY_DIR $AS "$(command -v bot-dispatch)" -d "$NOBODY_DIR" "$@"
}

@test "--limit-processes stops a plugin that forks past it (RLIMIT_NPROC, as an unprivileged user)" {
	nobody_setup
	nobody_plugin forks 'n=0
for i in 1 2 3 4 5 6 7 8 9 10; do sleep 2 & n=$((n + 1)); done 2>/dev/null
echo started $n'
	msg_for forks | dispatch_as_nobody --limit-processes 3 > "$BATS_TEST_TMPDIR/out" 2>/dev/null
	run jq -r 'select(.type=="error") | .message' "$BATS_TEST_TMPDIR/out"
	assert_output --regexp '^forks: exited with status [0-9]+$'
	msg_for forks | dispatch_as_nobody > "$BATS_TEST_TMPDIR/out" 2>/dev/null
	assert_equal "$(jq -r .body "$BATS_TEST_TMPDIR/out")" "started 10"
}

@test "a plugin cannot read bot-dispatch's environment through /proc/PPID/environ, nor ptrace it" {
	nobody_setup
	nobody_plugin peek 'if tr "\0" "\n" < /proc/$PPID/environ; then :; else echo unreadable; fi
grep -q "^TracerPid" /proc/$PPID/status && echo status-ok'
	msg_for peek | BOT_WEBHOOK_URL="http://x/$TOK" dispatch_as_nobody > "$BATS_TEST_TMPDIR/out" 2>/dev/null
	jq -r .body "$BATS_TEST_TMPDIR/out" > "$BATS_TEST_TMPDIR/body"
	no_token "$BATS_TEST_TMPDIR/body"
	assert_equal "$(cat "$BATS_TEST_TMPDIR/body")" $'unreadable\nstatus-ok'
}

@test "on timeout the plugin's whole process group is killed, children included" {
	dir=$(plugin hang "sleep 300 &
echo \$! > '$BATS_TEST_TMPDIR/child'
sleep 300")
	start=$(date +%s)
	msg_for hang | bot-dispatch -d "$dir" --timeout 1 > "$BATS_TEST_TMPDIR/out" 2> "$BATS_TEST_TMPDIR/err"
	[ $(( $(date +%s) - start )) -lt 10 ]
	assert_equal "$(jq -r 'select(.type=="error") | .message' "$BATS_TEST_TMPDIR/out")" "hang: timed out"
	assert_equal "$(cat "$BATS_TEST_TMPDIR/err")" ""   # reported on stdout; stderr only with -v
	child=$(cat "$BATS_TEST_TMPDIR/child")
	# gone: no such process, or a zombie that whoever adopted it has not
	# reaped yet (in a container pid 1 may never reap)
	sleep 0.2
	state=$(ps -o stat= -p "$child" || true)
	[ -z "$state" ] || [ "${state#Z}" != "$state" ]
}

# ---- IRC: the server password and the SASL password ----

# Start test/helpers/fake-ircd.py in MODE; sets IRC_PID, IRC_PORT, IRC_LOG.
fake_ircd() {
	IRC_LOG=$BATS_TEST_TMPDIR/irc-$1.log
	rm -f "$BATS_TEST_TMPDIR/irc.port"
	/usr/bin/python3 "$BATS_TEST_DIRNAME/helpers/fake-ircd.py" "$1" "$BATS_TEST_TMPDIR/irc.port" "$IRC_LOG" 3>&- &
	IRC_PID=$!
	KILL_PIDS="${KILL_PIDS:-} $IRC_PID"
	wait_file "$BATS_TEST_TMPDIR/irc.port"
	IRC_PORT=$(cat "$BATS_TEST_TMPDIR/irc.port")
}

@test "IRC passwords (PASS and SASL) never show, however bot-send -b irc fails" {
	[ -f "$BOT_BUILD/lib/botpipe/irc.so" ] || skip "the irc backend is not built"
	export BOT_IRC_PASSWORD=$TOK
	sasl_blob=$(printf 'bot\0bot\0%s' "$TOK" | base64)
	for mode in ok badpass sasl close; do
		fake_ircd "$mode"
		sasl="" sasl_pass=""
		[ "$mode" = sasl ] && sasl="--irc-sasl-user bot" sasl_pass=$TOK
		for verbosity in "" -v; do
			# shellcheck disable=SC2086
			BOT_IRC_SASL_PASSWORD=$sasl_pass bot-send -b irc --irc-server "127.0.0.1:$IRC_PORT" --retries 1 \
				$sasl $verbosity --to '#ops' hello >> "$BATS_TEST_TMPDIR/all" 2>&1 || echo $? >> "$BATS_TEST_TMPDIR/codes"
		done
		kill "$IRC_PID"
	done
	# nobody listening
	bot-send -v -b irc --irc-server 127.0.0.1:1 --retries 0 --to '#ops' hello >> "$BATS_TEST_TMPDIR/all" 2>&1 || echo $? >> "$BATS_TEST_TMPDIR/codes"
	no_token "$BATS_TEST_TMPDIR/all"
	no_match "$sasl_blob" "$BATS_TEST_TMPDIR/all"
	# ok sent twice; the six others failed: denied (77) or temporary (75)
	# (a 464 followed at once by ERROR and a close is not always seen as a
	# denial: the ERROR can win)
	assert_equal "$(grep -c -E '^(75|77)$' "$BATS_TEST_TMPDIR/codes")" 7
	assert_equal "$(grep -c '"type":"sent"' "$BATS_TEST_TMPDIR/all")" 2
	# the password was really sent, each way
	grep -qx "PASS :$TOK" "$BATS_TEST_TMPDIR/irc-ok.log"
	grep -qx "AUTHENTICATE $sasl_blob" "$BATS_TEST_TMPDIR/irc-sasl.log"
}

@test "a plugin that ignores SIGTERM is killed a second after its timeout, with its group" {
	dir=$(plugin stubborn "trap '' TERM
sleep 300 &
echo \$! > '$BATS_TEST_TMPDIR/child'
while :; do sleep 1; done")
	start=$(date +%s)
	msg_for stubborn | bot-dispatch -d "$dir" --timeout 1 > "$BATS_TEST_TMPDIR/out" 2>/dev/null
	[ $(( $(date +%s) - start )) -lt 6 ]
	assert_equal "$(jq -r 'select(.type=="error") | .message' "$BATS_TEST_TMPDIR/out")" "stubborn: timed out"
	sleep 0.2
	state=$(ps -o stat= -p "$(cat "$BATS_TEST_TMPDIR/child")" || true)
	[ -z "$state" ] || [ "${state#Z}" != "$state" ]
}

# ---- a server that quotes the secret back ----

@test "an IRC server quoting the password (464 :you sent ..., ERROR): masked in bot-listen's events and log, and bot-send's" {
	[ -f "$BOT_BUILD/lib/botpipe/irc.so" ] || skip "the irc backend is not built"
	fake_ircd echopass
	export BOT_IRC_PASSWORD=$TOK
	# a refused password ends bot-listen (77)
	timeout 4 bot-listen -v -b irc --irc-server "127.0.0.1:$IRC_PORT" > "$BATS_TEST_TMPDIR/events" 2> "$BATS_TEST_TMPDIR/listen.err" || true
	bot-send -v -b irc --irc-server "127.0.0.1:$IRC_PORT" --retries 0 --to '#ops' hello > "$BATS_TEST_TMPDIR/sent" 2> "$BATS_TEST_TMPDIR/send.err" || true
	# the server was sent the password, and quoted it back
	grep -qx "PASS :$TOK" "$IRC_LOG"
	for f in events listen.err sent send.err; do no_token "$BATS_TEST_TMPDIR/$f"; done
	# which of 464 and ERROR is seen first varies; both quote the password
	said='(the server refused the password: Password incorrect: you sent|the server closed the link: Closing link \(bad password) \*\*\*'
	run jq -r 'select(.state == "disconnected") | .reason' "$BATS_TEST_TMPDIR/events"
	assert_line --regexp "^$said\\)?$"
	run jq -r '.code + ": " + .message' "$BATS_TEST_TMPDIR/sent"
	assert_output --regexp "^[a-z_]+: $said\\)?$"
	grep -Eq "$said\\)?(; reconnecting.*)?$" "$BATS_TEST_TMPDIR/listen.err"
	grep -Eqx "bot-send: error: [a-z_]+: $said\\)?" "$BATS_TEST_TMPDIR/send.err"
}

@test "an HTTP 401 quoting the URL's userinfo or the auth header's token: masked in stderr, error events and -v" {
	fake_http "{\"responses\": [{\"status\": 401, \"body\": \"user bot:$TOK is not allowed\"},
		{\"status\": 401, \"body\": {\"error\": \"bad password $TOK\"}},
		{\"status\": 401, \"body\": \"Authorization: Bearer $TOK is not valid\"},
		{\"status\": 403, \"body\": {\"message\": \"token $TOK revoked\"}}]}"
	BOT_WEBHOOK_URL="http://bot:$TOK@127.0.0.1:$FAKE_PORT/hooks" webhook_try --retries 0
	BOT_WEBHOOK_URL="http://bot:$TOK@127.0.0.1:$FAKE_PORT/hooks" webhook_try -v --retries 0
	BOT_WEBHOOK_URL="http://127.0.0.1:$FAKE_PORT/hooks" BOT_WEBHOOK_AUTH_HEADER="Authorization: Bearer $TOK" webhook_try --retries 0
	BOT_WEBHOOK_URL="http://127.0.0.1:$FAKE_PORT/hooks" BOT_WEBHOOK_AUTH_HEADER="Authorization: Bearer $TOK" webhook_try -v --retries 0
	no_token "$BATS_TEST_TMPDIR/all"
	# each was refused, and said so with the server's words, the token masked
	assert_equal "$(grep -c '^77$' "$BATS_TEST_TMPDIR/codes")" 4
	run sh -c "grep '^{' '$BATS_TEST_TMPDIR/all' | jq -r 'select(.type == \"error\") | .message | sub(\"^[^ ]* \"; \"\")' | uniq"
	assert_output $'HTTP 401: user *** is not allowed\nHTTP 401: bad password ***\nHTTP 401: *** is not valid\nHTTP 403: token *** revoked'
	# the fake got the credentials: they were really used
	jq -e -s --arg t "$TOK" 'map(.headers.authorization // "") | any(contains($t))' "$FAKE_LOG" > /dev/null
}

@test "a server's text cut in the middle of the token shows none of it" {
	pad=$(printf '%0190d' 0)
	fake_http "{\"responses\": [{\"status\": 401, \"body\": \"$pad$TOK and more\"}]}"
	BOT_WEBHOOK_URL="http://127.0.0.1:$FAKE_PORT/hooks" BOT_WEBHOOK_AUTH_HEADER="Authorization: Bearer $TOK" webhook_try --retries 0
	# the message was cut inside the token
	grep -q "$pad" "$BATS_TEST_TMPDIR/all"
	no_match "${TOK:0:4}" "$BATS_TEST_TMPDIR/all"
	grep -q "$pad\*\*\*\.\.\." "$BATS_TEST_TMPDIR/all"
}
