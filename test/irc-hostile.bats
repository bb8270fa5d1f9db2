#!/usr/bin/env bats
# The IRC backend against a hostile server (helpers/hostile-ircd.py):
# whatever it sends, and however fast, bot-listen and bot-send stay within
# their memory bounds, keep serving, and stop when told.  The bounds are
# in doc/SECURITY.md ("IRC").
load helpers/hostile

setup() {
	W=$BATS_TEST_TMPDIR
	export BOT_SESSION=none
	HPID= TIME_PID=
}

teardown() {
	if [ -n "$TIME_PID" ] && kill -0 "$TIME_PID" 2>/dev/null; then
		local pid
		pid=$(measured_pid "$TIME_PID")
		[ -z "$pid" ] || kill -KILL "$pid" 2>/dev/null || true
		wait "$TIME_PID" 2>/dev/null || true
	fi
	exec 8<&- 2>/dev/null || true
	[ -z "$HPID" ] || { kill "$HPID" 2>/dev/null; wait "$HPID" 2>/dev/null || true; }
}

# Start the hostile server in MODE; sets HPID and HPORT.
start_hostile() {
	/usr/bin/python3 "$BATS_TEST_DIRNAME/helpers/hostile-ircd.py" "$1" "$W/port" 3>&- &
	HPID=$!
	wait_file "$W/port"
	HPORT=$(cat "$W/port")
}

# The pid of the program that with_rss started in the background as $1
# (a subshell, then /usr/bin/time, then the program: under VALGRIND=1 a
# wrapper that execs valgrind).
measured_pid() {
	local pid=$1 i
	for i in 1 2 3; do
		local parent=$pid
		pid=$(cut -d ' ' -f 1 "/proc/$pid/task/$pid/children" 2>/dev/null)
		[ -n "$pid" ] || return 0
		[ "$(cat "/proc/$parent/comm" 2>/dev/null)" != time ] || { echo "$pid"; return 0; }
	done
}

# CPU time process $1 used so far, in clock ticks (user + system).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# Wait up to $2 seconds for process $1 to use under 10 ticks of CPU in
# a second; fails if it never does.
went_idle() {
	local i t1 t2
	for i in $(seq "$2"); do
		t1=$(cpu_ticks "$1")
		sleep 1
		t2=$(cpu_ticks "$1")
		if [ $((t2 - t1)) -lt 10 ]; then
			return 0
		fi
	done
	echo "still busy after $2 s: $((t2 - t1)) ticks in the last second" >&2
	return 1
}

# Wait up to $2 seconds for process $1 to end; fails if it is still there.
gone_within() {
	local i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt $(( $2 * 10 )) ]; do sleep 0.1; i=$((i + 1)); done
	! kill -0 "$1" 2>/dev/null
}

@test "353 for ever new channels and never 366: bounded memory, messages still come" {
	start_hostile names
	# 6 s of it; timeout's 124 says bot-listen was still serving at the end
	with_rss timeout -k 2 -s TERM 6 bot-listen -b irc --irc-server "127.0.0.1:$HPORT" --irc-nick bot \
		> "$W/out" 2> "$W/err" || echo $? > "$W/rc"
	assert_equal "$(cat "$W/rc")" 124
	# the PRIVMSGs among the 353s are still events, to the end
	jq -r 'select(.type=="message") | .body' "$W/out" > "$W/ticks"
	[ "$(grep -c '^tick ' "$W/ticks")" -ge 100 ]
	# the drops are noted, once, not once a line
	run grep -c 'NAMES.*dropped' "$W/err"
	assert_output 1
	assert_rss_below 32768
}

@test "a PRIVMSG flood while stdout's reader never reads: bounded memory, SIGTERM ends bot-listen" {
	start_hostile privmsg
	mkfifo "$W/fifo"
	exec 8<> "$W/fifo"   # the reader: holds the pipe open, never reads
	with_rss bot-listen -b irc --irc-server "127.0.0.1:$HPORT" --irc-nick bot \
		> "$W/fifo" 2> "$W/err" 8<&- &
	TIME_PID=$!
	sleep 1
	local pid
	pid=$(measured_pid "$TIME_PID")
	[ -n "$pid" ]
	# once 8 MiB of events wait (under 1 s here, 10 s under ASan) it
	# waits for the reader: a second with under 10 of its 100 ticks of
	# CPU comes (a spin takes them all, and never has one).  Not under
	# valgrind: it checks every byte of every write tried, so filling
	# the 8 MiB takes it minutes of CPU.
	if [ "${VALGRIND:-}" = 1 ]; then
		sleep 5
	else
		went_idle "$pid" 30
	fi
	sleep 1
	kill -TERM "$pid"
	# it gives the reader 2 s to take what is queued, then ends
	gone_within "$TIME_PID" 5
	local rc=0
	wait "$TIME_PID" || rc=$?
	TIME_PID=
	assert_equal "$rc" 74
	run cat "$W/err"
	assert_output --regexp 'stdout: the reader left [0-9]+ bytes of events untaken 2 s after the stop: dropped'
	assert_rss_below 32768
}

@test "bot-send --retries 0 to a server flooding 401: ends at its --timeout, bounded memory" {
	start_hostile err401
	run -75 with_rss timeout 30 bot-send -b irc --irc-server "127.0.0.1:$HPORT" --irc-nick bot \
		--retries 0 --timeout 3 --to '#ops' hi
	assert_output --partial '"code":"connection_lost"'
	assert_output --partial 'no answer from the server in 3 s'
	assert_rss_below 32768
}

@test "a PING flood that never reads our PONGs: SIGTERM still ends bot-listen" {
	start_hostile ping
	with_rss bot-listen -b irc --irc-server "127.0.0.1:$HPORT" --irc-nick bot \
		> "$W/out" 2> "$W/err" &
	TIME_PID=$!
	sleep 3
	local pid rc=0
	pid=$(measured_pid "$TIME_PID")
	[ -n "$pid" ]
	kill -TERM "$pid"
	# a write that waits for the server (up to 30 s) gives way to the stop
	gone_within "$TIME_PID" 3
	wait "$TIME_PID" || rc=$?
	TIME_PID=
	assert_equal "$rc" 0
	assert_rss_below 32768
}
