#!/usr/bin/env bats
# bot-dispatch's fences: argument globs see what the command gets, user and
# room globs compare as the network does, and a command's timeout or end
# kills all it started, also what left its process group.

load helpers/hostile
load helpers/ngircd

ROOT=${BOT_ROOT:-$(cd "$BATS_TEST_DIRNAME/.." && pwd)}
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

# The Nth literal block (1 = the first) of doc/bot-dispatch.1 after the
# first line that matches the extended regex $1, as a reader sees it.
man_block() {
	awk -v re="$1" -v n="$2" '
		!found && $0 ~ re { found = 1; next }
		found && /^\.Bd -literal/ { k++; if (k == n) { on = 1; next } }
		on && /^\.Ed/ { exit }
		on { gsub(/\\e/, "\\"); print }
	' "$ROOT/doc/bot-dispatch.1"
}

# ---- the man page's examples ----

@test "bot-dispatch(1): the ACL example is share/examples/acl.json" {
	man_block '^\.Ss Access control' 1 > "$T/acl.json"
	[ -s "$T/acl.json" ]
	diff -u "$ROOT/share/examples/acl.json" "$T/acl.json"
}

@test "bot-dispatch(1): the text example with the example ACL does what the page says" {
	man_block '^\.Sh EXAMPLES' 3 > "$T/example.sh"
	grep -q -- '--acl share/examples/acl.json' "$T/example.sh"
	cat > "$T/typed" <<-'EOF'
	!hello
	!echo --"force"
	!echo —force
	!echo -\-force
	!echo '--'force
	!echo fine
	!status
	!inroom
	!roll 2d6
	!hello
	!status
	!asuser guest1
	!whereami
	!asuser alice
	!hello
	!asuser mallory
	!hello
	EOF
	cd "$ROOT"
	BOT_TEXT_INPUT=$T/typed BOT_TEXT_OUTPUT=$T/chat BOT_TEXT_COLOR=never \
		sh "$T/example.sh" > /dev/null 2> "$T/err"
	assert_equal "$(cat "$T/err")" ""
	run cat "$T/chat"
	assert_line "Hello, you!"
	[ "$(grep -c "^You're not allowed to access this command using the provided arguments$" "$T/chat")" -eq 4 ]
	assert_line "fine"
	assert_line "You're not allowed to access this command via private message to me"
	assert_line "@you You're not allowed to access this command from a chatroom"
	assert_line "@you Hello, you!"
	assert_line "@you"             # a reply that starts with a heading: the mention on its own line
	assert_line "Yes I am alive..."
	assert_line "@guest1 You're not allowed to access this command from this user"
	assert_line "@alice Hello, alice!"
	assert_line "@mallory You're not allowed to access this command from this user"
}

# Run a person on the test ngircd as nick $1, the script on stdin, after
# waiting for the bot in #ops; what they saw goes to $T/seen-$1.
irc_person() {
	local nick=$1
	{ printf 'join #ops\nexpect ^:bot!\\S+ JOIN|^:\\S+ 353 .*[ :@]bot( |$) 20\n'; cat; } |
		python3 "$HELPERS/irc-client.py" --nick "$nick" "$PORT" > "$T/seen-$nick" ||
		{ cat "$T/seen-$nick" >&2; return 1; }
}

@test "bot-dispatch(1): the IRC example with the example ACL does what the page says, on a real ngircd" {
	ngircd_test_setup
	man_block '^\.Sh EXAMPLES' 2 > "$T/example.sh"
	grep -q -- '--acl share/examples/acl.json' "$T/example.sh"
	cd "$ROOT"
	BOT_IRC_NICK=bot BOT_IRC_CHANNELS='#ops' setsid sh "$T/example.sh" > /dev/null 2> "$T/err" 3>&- &
	KILL_PIDS="${KILL_PIDS:-} -$!"
	# the nick compares without case: YOU is you, from this machine
	irc_person YOU <<-'EOF'
	say #ops !hello
	expect ^:bot!\S+ PRIVMSG #ops :YOU: Hello, YOU!$
	say #ops !echo --"force"
	expect ^:bot!\S+ PRIVMSG #ops :YOU: You're not allowed to access this command using the provided arguments$
	say #ops !echo —force
	expect ^:bot!\S+ PRIVMSG #ops :YOU: You're not allowed to access this command using the provided arguments$
	say #ops !roll 2d6
	expect ^:bot!\S+ PRIVMSG #ops :YOU: You're not allowed to access this command from a chatroom$
	say #ops bot: echo hi
	expect ^:bot!\S+ PRIVMSG #ops :YOU: hi$
	say #ops ping
	expect ^:bot!\S+ PRIVMSG #ops :YOU: pong$
	say bot !status
	expect ^:bot!\S+ PRIVMSG YOU :You're not allowed to access this command via private message to me$
	EOF
	irc_person Guest7 <<-'EOF'
	say #ops !whereami
	expect ^:bot!\S+ PRIVMSG #ops :Guest7: You're not allowed to access this command from this user$
	EOF
	# alice is allowed from *.example.org only
	irc_person alice <<-'EOF'
	say #ops !hello
	expect ^:bot!\S+ PRIVMSG #ops :alice: You're not allowed to access this command from this user$
	EOF
	kill -TERM -- "-${KILL_PIDS##*-}"
}

@test "bot, !echo hi is not a command: the prefix after a blank is not stripped; bot,!echo hi is" {
	for body in 'bot, !echo hi' 'bot,!echo hi' 'bot: echo hi'; do
		room_msg "$body"
	done | bot-dispatch -j 1 -a bot > "$T/out"
	run bodies < "$T/out"
	assert_output "$(printf '%s\n' 'Command "!echo" / "!echo hi" not found.' '' 'Did you mean "!echo" ?' hi hi)"
}

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
	# bot-dispatch still runs, and soon has no child left, zombie or not
	[ -e "/proc/$DPID" ]
	i=0
	while [ -n "$(cat /proc/"$DPID"/task/*/children)" ] && [ $i -lt 100 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	assert_equal "$(cat /proc/"$DPID"/task/*/children)" ""
	end_in
	assert_equal "$(cat "$T/err")" ""   # reported on stdout; stderr only with -v
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

# ---- ACL entries that name a backend instance ----

# A message in room $2 on instance $1 (null: no backend) from the user
# $3 (its aclattr), body $4.
said_in() {
	jq -cn --arg net "$1" --arg room "$2" --arg u "$3" --arg b "$4" \
		'{type:"message",id:"1",from:{kind:"occupant",id:"\($room)/x",room:$room,nick:"x",person:$u,aclattr:$u},
		  to:{kind:"room",id:$room},body:$b} + (if $net == "null" then {} else {backend:$net} end)'
}
# The same as a direct message to the bot.
said_to_bot() {
	jq -cn --arg net "$1" --arg u "$2" --arg b "$3" \
		'{type:"message",id:"1",backend:$net,from:{kind:"person",id:$u,person:$u,aclattr:$u},
		  to:{kind:"person",id:"@bot",person:"@bot"},body:$b}'
}

# bot-dispatch --acl $T/acl.json (written from $1) over the events on
# stdin; the message bodies on stdout, one a line; stderr in $T/err.
acl_answers() {
	printf '%s\n' "$1" > "$T/acl.json"
	shift
	bot-dispatch --acl "$T/acl.json" "$@" > "$T/out" 2> "$T/err"
	jq -r 'select(.type == "message") | .body' "$T/out"
}

ROOM_DENIED="You're not allowed to access this command from this room"
USER_DENIED="You're not allowed to access this command from this user"

@test "acl: allowrooms matrix:!abc:example.org and irc@libera:#ops take only those instances' rooms, the id's own ':' kept" {
	run acl_answers '{"ACCESS_CONTROLS": {"echo": {"allowrooms": ["matrix:!abc:example.org", "irc@libera:#ops"]}}}' < <(
		said_in matrix '!abc:example.org' '@a:example.org' '!echo matrix'
		said_in xmpp '!abc:example.org' 'a@example.org' '!echo same id, other network'
		said_in irc@libera '#OPS' 'a!u@h' '!echo libera, with its case mapping'
		said_in irc@oftc '#ops' 'a!u@h' '!echo oftc'
		said_in irc '#ops' 'a!u@h' '!echo the default irc profile'
		said_in null '#ops' 'a!u@h' '!echo no backend'
	)
	assert_output - <<-EOF
	matrix
	$ROOM_DENIED
	libera, with its case mapping
	$ROOM_DENIED
	$ROOM_DENIED
	$ROOM_DENIED
	EOF
	[ ! -s "$T/err" ]
}

@test "acl: irc: names every irc instance; an entry without a qualifier, Matrix ids included, takes every network" {
	run acl_answers '{"ACCESS_CONTROLS": {"echo": {"allowusers": ["irc:alice!*@*", "@bob:example.org"]}}}' < <(
		said_in irc@oftc '#ops' 'alice!u@h' '!echo alice on oftc'
		said_in irc@libera '#ops' 'ALICE!u@h' '!echo ALICE on libera'
		said_in irc '#ops' 'alice!u@h' '!echo alice on irc'
		said_in slack '#C1' 'alice!u@h' '!echo alice on slack'
		said_in matrix '!r:example.org' '@bob:example.org' '!echo bob on matrix'
		said_in text '#room' '@bob:example.org' '!echo bob on the console'
	)
	assert_output - <<-EOF
	alice on oftc
	ALICE on libera
	alice on irc
	$USER_DENIED
	bob on matrix
	bob on the console
	EOF
}

@test "acl: denyusers slack:U123 refuses U123 on Slack only" {
	run acl_answers '{"ACCESS_CONTROLS": {"echo": {"denyusers": ["slack:U123", "slack@work:U9"]}}}' < <(
		said_in slack '#C1' 'U123' '!echo slack'
		said_in slack@work '#C1' 'U123' '!echo slack at work'
		said_in mattermost '#town' 'U123' '!echo mattermost'
		said_in slack@work '#C1' 'U9' '!echo U9 at work'
		said_in slack '#C1' 'U9' '!echo U9 on the default slack'
	)
	assert_output - <<-EOF
	$USER_DENIED
	$USER_DENIED
	mattermost
	$USER_DENIED
	U9 on the default slack
	EOF
}

@test "acl: what is not BACKEND:ID is an id: unknown backends (said on the log), XMPP and Matrix forms, globs" {
	acl='{"ACCESS_CONTROLS": {"echo": {"denyusers": ["nosuch:U9", "bob@home:x", "!*:evil.example", "*:spam*"]},
	                         "uptime": {"allowrooms": ["xmpp:room@conference.example.org/al:ice"]}}}'
	run acl_answers "$acl" < <(
		said_in slack '#C1' 'nosuch:U9' '!echo an id that looks qualified'
		said_in xmpp 'r@c.example' 'bob@home:x' '!echo bob at home'
		said_in matrix '!r:example.org' '!x:evil.example' '!echo a Matrix glob'
		said_in irc '#ops' 'a:spammer' '!echo a leading glob'
		said_in irc '#ops' 'U9' '!echo U9'
		said_in xmpp 'room@conference.example.org/al:ice' 'a@example.org' '!uptime'
		said_in irc 'room@conference.example.org/al:ice' 'a!u@h' '!uptime'
	)
	assert_line -n 0 "$USER_DENIED"
	assert_line -n 1 "$USER_DENIED"
	assert_line -n 2 "$USER_DENIED"
	assert_line -n 3 "$USER_DENIED"
	assert_line -n 4 "U9"
	assert_line -n 5 --regexp "^I've been up for "
	assert_line -n 6 "$ROOM_DENIED"
	# the qualifier-like entries whose backend does not exist, once each
	run cat "$T/err"
	assert_output - <<-EOF
	bot-dispatch: warning: $T/acl.json: ACCESS_CONTROLS: "echo": denyusers: "nosuch:U9": no backend nosuch here, so it is matched as an id, on every network
	bot-dispatch: warning: $T/acl.json: ACCESS_CONTROLS: "echo": denyusers: "bob@home:x": no backend bob here, so it is matched as an id, on every network
	EOF
}

@test "acl: help hidden by an instance's rule, shown where it allows; admins named per instance" {
	acl='{"ACCESS_CONTROLS": {"uptime": {"allowrooms": ["matrix:!abc:example.org"]}},
	      "BOT_ADMINS": ["irc@libera:root!*@*"]}'
	dir=$(plugin_as reboot '#!/bin/sh' '# admin-only: yes
echo rebooting')
	run acl_answers "$acl" -d "$dir" --hide-restricted-commands --admin 'matrix:@ops:example.org' < <(
		said_in matrix '!abc:example.org' '@a:example.org' '!help'
		said_in xmpp '!abc:example.org' 'a@example.org' '!help'
		said_to_bot irc@libera 'root!u@h' '!reboot'
		said_to_bot irc@oftc 'root!u@h' '!reboot'
		said_to_bot matrix '@ops:example.org' '!reboot'
		said_to_bot slack '@ops:example.org' '!reboot'
	)
	# the two helps, then the four answers
	run jq -rs '[.[] | select(.type == "message") | .body]
	            | (.[0:2][] | if test("\\*\\*!uptime\\*\\*") then "uptime shown" else "uptime hidden" end),
	              .[2:][]' "$T/out"
	assert_output - <<-'EOF'
	uptime shown
	uptime hidden
	rebooting
	This command requires bot-admin privileges
	rebooting
	This command requires bot-admin privileges
	EOF
}
