#!/usr/bin/env bats
# bot-dispatch's fences: argument globs see what the command gets, user and
# room globs compare as the network does, and a command's timeout or end
# kills all it started, also what left its process group.

load helpers/hostile

T=$BATS_TEST_TMPDIR

teardown() {
	# a test that failed may leave an escaped sleep behind: its pid only
	for f in "$T"/pid*; do
		[ -s "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true
	done
	for p in ${KILL_PIDS:-}; do kill -9 "$p" 2>/dev/null || true; done
}

# A plugin folder with one executable command NAME: interpreter line $2,
# body $3.
plugin_as() {
	local dir=$T/plugins
	mkdir -p "$dir"
	printf '%s\n' "$2" "$3" > "$dir/$1"
	chmod +x "$dir/$1"
	echo "$dir"
}

# 0 once process $1 is gone: no such process, not even a zombie (we are
# its reaper now).  Waits up to 5 s.
gone() {
	local i=0
	while [ -e "/proc/$1" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	if [ -e "/proc/$1" ]; then
		echo "process $1 is still there: $(ps -o pid=,stat=,args= -p "$1")" >&2
		return 1
	fi
}

# bot-dispatch "$@" in the background, its input a FIFO held open: sets
# DPID; write events with send_in, end the input with end_in.
start_dispatch() {
	mkfifo "$T/in"
	bot-dispatch "$@" < "$T/in" > "$T/out" 2> "$T/err" &
	DPID=$!
	KILL_PIDS="${KILL_PIDS:-} $DPID"
	exec 7> "$T/in"
}
send_in() { printf '%s\n' "$1" >&7; }
end_in() { exec 7>&-; wait "$DPID"; }

# Wait up to 10 s for an event matching the jq filter $1 in $T/out.
wait_event() {
	local i=0
	while ! jq -e "select($1)" "$T/out" > /dev/null 2>&1 && [ $i -lt 200 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	jq -e "select($1)" "$T/out" > /dev/null 2>&1
}

# A shell body that starts `sleep 300` in a session of its own (setsid
# -f: a new process group too, and its parent exits at once), its pid in
# $T/pid-escaped, and waits until it runs.
ESCAPE="setsid -f sh -c 'echo \$\$ > \"$T/pid-escaped.tmp\"; mv \"$T/pid-escaped.tmp\" \"$T/pid-escaped\"; exec sleep 300' < /dev/null
while [ ! -s '$T/pid-escaped' ]; do sleep 0.01; done"

# ---- the timeout and the end kill what left the group ----

@test "--timeout kills a descendant that left with setsid -f, and bot-dispatch reaps it" {
	dir=$(plugin_as hang '#!/bin/sh' "$ESCAPE
sleep 300")
	start_dispatch -d "$dir" --timeout 1
	send_in "$(dm_msg '!hang')"
	wait_file "$T/pid-escaped"
	escaped=$(cat "$T/pid-escaped")
	[ "$(ps -o sid= -p "$escaped")" -ne "$(ps -o sid= -p "$DPID")" ]   # it did escape
	wait_event '.type == "error" and .message == "hang: timed out"'
	gone "$escaped"
	# bot-dispatch still runs, and has no child left, zombie or not
	[ -e "/proc/$DPID" ]
	assert_equal "$(cat /proc/"$DPID"/task/*/children)" ""
	end_in
	assert_equal "$(cat "$T/err")" "bot-dispatch: error: hang: timed out"
}

@test "--timeout kills a Python child that called os.setpgid(0, 0)" {
	dir=$(plugin_as pyhang '#!/usr/bin/python3' "import os, time
pid = os.fork()
if pid == 0:
    os.setpgid(0, 0)
    with open('$T/pid-child.tmp', 'w') as f:
        f.write(str(os.getpid()))
    os.rename('$T/pid-child.tmp', '$T/pid-child')
    time.sleep(300)
    os._exit(0)
time.sleep(300)")
	start_dispatch -d "$dir" --timeout 1
	send_in "$(dm_msg '!pyhang')"
	wait_file "$T/pid-child"
	child=$(cat "$T/pid-child")
	[ "$(ps -o pgid= -p "$child")" -eq "$child" ]   # a group of its own
	wait_event '.type == "error" and .message == "pyhang: timed out"'
	gone "$child"
	end_in
}

@test "a command that ends leaves nothing behind: its escaped descendant is killed, the reply comes" {
	dir=$(plugin_as bg '#!/bin/sh' "$ESCAPE
echo started")
	dm_msg '!bg' | bot-dispatch -d "$dir" > "$T/out"
	assert_equal "$(bodies < "$T/out")" "started"
	gone "$(cat "$T/pid-escaped")"
}

@test "bot-dispatch stopped by SIGTERM kills a running command's escaped descendants before it exits" {
	dir=$(plugin_as hang '#!/bin/sh' "$ESCAPE
sleep 300")
	plugin_as pyhang '#!/usr/bin/python3' "import os, time
if os.fork() == 0:
    os.setpgid(0, 0)
    with open('$T/pid-child.tmp', 'w') as f:
        f.write(str(os.getpid()))
    os.rename('$T/pid-child.tmp', '$T/pid-child')
    time.sleep(300)
time.sleep(300)" > /dev/null
	start_dispatch -d "$dir" --timeout 600
	send_in "$(dm_msg '!hang' 1)"
	send_in "$(dm_msg '!pyhang' 2)"
	wait_file "$T/pid-escaped"
	wait_file "$T/pid-child"
	kill -TERM "$DPID"
	wait "$DPID"
	# bot-dispatch is gone, and so is everything its commands started
	[ ! -e "/proc/$DPID" ]
	gone "$(cat "$T/pid-escaped")"
	gone "$(cat "$T/pid-child")"
}

@test "adopted leftovers do not disturb the commands' exit statuses (--jobs 4)" {
	dir=$(plugin_as bg '#!/bin/sh' "$ESCAPE
echo started")
	plugin_as fail '#!/bin/sh' 'setsid -f sleep 0.1 < /dev/null; sleep 0.3; exit 3' > /dev/null
	plugin_as late '#!/bin/sh' 'sleep 0.5; echo late' > /dev/null
	{ dm_msg '!late' 1; dm_msg '!bg' 2; dm_msg '!fail' 3; dm_msg '!echo now' 4; } |
		bot-dispatch -d "$dir" --jobs 4 > "$T/out" 2> "$T/err"
	run jq -r 'select(.type=="message") | .body' "$T/out"
	assert_line "started"
	assert_line "late"
	assert_line "now"
	assert_line "Computer says nooo. See logs for details:"
	assert_line "fail: exited with status 3"
	assert_equal "$(jq -r 'select(.type=="error") | .message' "$T/out")" "fail: exited with status 3"
	gone "$(cat "$T/pid-escaped")"
}
