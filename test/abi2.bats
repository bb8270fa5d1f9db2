#!/usr/bin/env bats
# Backend interface 2 (lib/backend.h) against the real bot-listen, bot-send
# and bot-room, through the scripted test backend (test/backends/scripted.c):
# it does what its script says and logs every call the programs made, so
# each test states what a backend did and checks what the programs made of
# it, on their output and in that log.
load helpers/common

setup() {
	W=$BATS_TEST_TMPDIR
	export BOT_BACKEND_PATH="$BOT_BUILD/test/backends"
	export XDG_STATE_HOME="$W/state" XDG_RUNTIME_DIR="$W/run"
	mkdir -p -m 700 "$XDG_STATE_HOME" "$XDG_RUNTIME_DIR"
	SCRIPT=$W/script LOG=$W/log.ndjson
	L=(-b scripted --scripted-script "$SCRIPT" --scripted-log "$LOG")
	: > "$SCRIPT"
	LISTEN_PID= READER_PID=
}

teardown() {
	[ -z "$READER_PID" ] || kill -CONT "$READER_PID" 2>/dev/null || true
	[ -z "$READER_PID" ] || kill "$READER_PID" 2>/dev/null || true
	[ -z "$LISTEN_PID" ] || kill -9 "$LISTEN_PID" 2>/dev/null || true
	return 0
}

# Stop the bot-listen started in the background: SIGTERM, and it exits 0
# (with SANITIZE=1: no leak, no error).
stop_listen() {
	kill "$LISTEN_PID"
	local rc=0
	wait "$LISTEN_PID" || rc=$?
	LISTEN_PID=
	[ "$rc" -eq 0 ] || { echo "bot-listen exited $rc:" >&2; cat "$W/err" >&2; return 1; }
}

# An "emit" line: a message ID with BODY from FROM (@alice) to #ops.
emit_msg() {
	jq -rn --arg id "$1" --arg b "$2" --arg f "${3:-@alice}" \
		'"emit " + ({type:"message",id:$id,body:$b,
		 from:{kind:"person",id:$f,nick:$f[1:]},to:{kind:"room",id:"#ops"}} | tojson)'
}

# The log's entries of one kind, each through the jq filter $2 (.).
logged() { jq -c --arg w "$1" "select(.what == \$w) | ${2:-.}" "$LOG"; }

# Wait until the log has N (1) entries of kind $1 matching the jq
# condition $3 (true), up to 20 s.
wait_logged() {
	local i=0
	until [ "$(jq -c --arg w "$1" "select(.what == \$w and (${3:-true}))" "$LOG" 2>/dev/null | wc -l)" -ge "${2:-1}" ]; do
		i=$((i + 1))
		[ $i -lt 400 ] || { echo "fewer than ${2:-1} '$1' entries ($3) in the log:" >&2; cat "$LOG" >&2; return 1; }
		sleep 0.05
	done
}

# The connection events of bot-listen's output ($1, a file or -), as
# "state" words.
states() { jq -r 'select(.type == "connection") | .state' "${1:--}" | paste -sd' '; }

@test "a backend that cannot open says why in one line: bot-listen exits 78" {
	printf 'up\nexplode now\n' > "$SCRIPT"
	run --separate-stderr timeout 20 bot-listen "${L[@]}" --session none
	assert_equal "$status" 78
	assert_equal "$stderr" "bot-listen: error: scripted: --scripted-script $SCRIPT: line 2: unknown action: explode now"
}

@test "several fds and a timer: events through a pipe, heartbeats through a socketpair, sleeps that end" {
	{
		echo 'heartbeat 100'
		echo 'up'
		emit_msg a1 one
		echo 'sleep 600'
		emit_msg a2 two
		echo 'end'
	} > "$SCRIPT"
	run --separate-stderr timeout 20 bot-listen "${L[@]}" --session none
	assert_equal "$status" 0
	assert_equal "$(echo "$output" | bodies | paste -sd' ')" "one two"
	assert_equal "$(echo "$output" | states)" "connecting connected"
	# the heartbeat went ping (POLLOUT), answer and pong (POLLIN) on two
	# more fds while the script's timer ran
	first=$(logged emit 'select(.id == "a1") | .ms')
	second=$(logged emit 'select(.id == "a2") | .ms')
	[ "$(logged heartbeat "select(.ms > $first and .ms < $second)" | wc -l)" -ge 2 ]
	[ $((second - first)) -ge 600 ]
}

@test "a permanent failure after connect ends bot-listen with its code: one connection, one disconnected event" {
	for c in denied:77 bad_config:78 unavailable:69; do
		rm -f "$LOG"
		printf 'up\nfail permanent %s\n' "${c%:*}" > "$SCRIPT"
		run --separate-stderr timeout 20 bot-listen "${L[@]}" --session none
		assert_equal "$status" "${c#*:}"
		assert_equal "$(echo "$output" | states)" "connecting connected disconnected"
		assert_equal "$(echo "$output" | jq -c 'select(.state == "disconnected") | .retry_in')" null
		assert_equal "$(logged start | wc -l)" 1
	done
}

@test "a temporary failure with retry_after: the next connecting comes no sooner than retry_after" {
	printf 'up\nfail temporary unavailable 6\nup\nend\n' > "$SCRIPT"
	run --separate-stderr timeout 30 bot-listen "${L[@]}" --session none
	assert_equal "$status" 0
	assert_equal "$(echo "$output" | states)" "connecting connected disconnected connecting connected"
	assert_equal "$(echo "$output" | jq 'select(.state == "disconnected") | .retry_in >= 6' | head -1)" true
	assert_equal "$(logged start | wc -l)" 2
	failed=$(logged fail .ms)
	again=$(logged start 'select(.n == 2) | .ms')
	[ $((again - failed)) -ge 6000 ]
}

@test "a failure before up (a 401 on the first poll) ends bot-listen too: connecting, disconnected, 77" {
	printf 'fail permanent unauthorized\n' > "$SCRIPT"
	run --separate-stderr timeout 20 bot-listen "${L[@]}" --session none
	assert_equal "$status" 77
	assert_equal "$(echo "$output" | states)" "connecting disconnected"
	assert_equal "$(logged start | wc -l)" 1
}

@test "errbot's backoff grows until the connection is really up, and only up resets it" {
	printf 'fail temporary unavailable\nfail temporary unavailable\nup\nfail temporary unavailable\nup\nend\n' > "$SCRIPT"
	run --separate-stderr timeout 30 bot-listen "${L[@]}" --session none
	assert_equal "$status" 0
	assert_equal "$(echo "$output" | states)" \
		"connecting disconnected connecting disconnected connecting connected disconnected connecting connected"
	# 1 s, then 1.75 s and more (errbot's 1.75 times, plus up to 3 s), then 1 s again after up
	assert_equal "$(echo "$output" | jq -c 'select(.state == "disconnected") | .retry_in' | jq -sc '[.[0], .[1] >= 1.75, .[2]]')" \
		'[1,true,1]'
}

@test "reconnect_now reconnects without the backoff" {
	printf 'up\nfail temporary reconnect_now\nup\nend\n' > "$SCRIPT"
	run --separate-stderr timeout 20 bot-listen "${L[@]}" --session none
	assert_equal "$status" 0
	assert_equal "$(echo "$output" | jq -c 'select(.state == "disconnected") | .retry_in' | head -1)" 0
	assert_equal "$(logged start | wc -l)" 2
}

@test "a mark is committed once its event is written, and a restart does not read it again" {
	{ echo up; emit_msg c1 once; echo 'sleep 300'; echo end; } > "$SCRIPT"
	run --separate-stderr timeout 20 bot-listen "${L[@]}" --session none
	assert_equal "$status" 0
	assert_equal "$(echo "$output" | bodies)" once
	assert_equal "$(logged commit .mark)" 2
	rm "$LOG"
	run --separate-stderr timeout 20 bot-listen "${L[@]}" --session none
	assert_equal "$status" 0
	assert_equal "$(echo "$output" | bodies)" ""
	assert_equal "$(logged start .committed)" 2
	assert_equal "$(logged skip .line)" 2
}

@test "kill -9 between emit and write: the mark is not committed, and a restart reads the event again" {
	{ echo 'heartbeat 50'; echo up; echo 'filler 2 100000'; emit_msg k1 'after the filler'; echo 'sleep 60000'; } > "$SCRIPT"
	mkfifo "$W/fifo"
	bot-listen "${L[@]}" --session none > "$W/fifo" 2> "$W/err" &
	LISTEN_PID=$!
	exec 5< "$W/fifo"      # the reader, who never reads: the pipe fills
	wait_logged emit 1 '.id == "k1"'
	at=$(logged emit 'select(.id == "k1") | .ms')
	wait_logged heartbeat 3 ".ms > $at"   # the loop went round, and did not commit
	kill -9 "$LISTEN_PID"
	wait "$LISTEN_PID" || true
	LISTEN_PID=
	exec 5<&-
	assert_equal "$(logged commit 'select(.mark == 4)')" ""
	rm "$LOG"
	printf 'up\nfiller 2 100000\n%s\nsleep 300\nend\n' "$(emit_msg k1 'after the filler')" > "$SCRIPT"
	run --separate-stderr timeout 20 bot-listen "${L[@]}" --session none
	assert_equal "$status" 0
	assert_equal "$(echo "$output" | jq -r 'select(.id == "k1") | .body')" "after the filler"
	assert_equal "$(logged commit 'select(.mark == 3) | .mark')" 3
}

@test "while the reader is stopped, heartbeats go on; nothing is lost when it reads again" {
	{ echo 'heartbeat 100'; echo up; echo 'filler 12 1000000'; emit_msg last 'the last one'; echo 'sleep 60000'; } > "$SCRIPT"
	mkfifo "$W/fifo"
	# a reader that opens the pipe, then stops until told to go on
	sh -c 'exec < "$1"; kill -STOP $$; exec cat > "$2"' sh "$W/fifo" "$W/out" &
	READER_PID=$!
	bot-listen "${L[@]}" --session none > "$W/fifo" 2> "$W/err" &
	LISTEN_PID=$!
	wait_logged heartbeat 3 '.lagging'
	kill -CONT "$READER_PID"
	wait_for "$W/out" '"id":"last"' 30
	wait_logged heartbeat 1 '.lagging | not'
	stop_listen
	wait "$READER_PID" || true
	READER_PID=
	assert_equal "$(jq -r 'select(.type == "message") | .id' "$W/out" | paste -sd' ')" \
		"filler-0 filler-1 filler-2 filler-3 filler-4 filler-5 filler-6 filler-7 filler-8 filler-9 filler-10 filler-11 last"
}

@test "the bot's own messages and reactions are dropped; others pass" {
	{
		echo up
		emit_msg s1 mine @bot
		emit_msg s2 theirs @alice
		echo 'emit {"type":"reaction","id":"s3","action":"added","reaction_name":"thumbsup","reactor":{"kind":"person","id":"@bot"},"reacted_to":{"id":"s2"}}'
		echo 'emit {"type":"reaction","id":"s4","action":"added","reaction_name":"tada","reactor":{"kind":"person","id":"@alice"},"reacted_to":{"id":"s2"}}'
		echo 'sleep 200'
		echo end
	} > "$SCRIPT"
	run --separate-stderr timeout 20 bot-listen "${L[@]}" --session none
	assert_equal "$status" 0
	assert_equal "$(echo "$output" | jq -r 'select(.type == "message" or .type == "reaction") | .id' | paste -sd' ')" "s2 s4"
}

@test "a long message goes in parts with keys ID.INDEX, the same across retries; sent has every part's id" {
	printf 'size-limit 30\nfail-submits 2 1\n' > "$SCRIPT"
	body='one two three four five six seven eight nine ten eleven twelve'
	run --separate-stderr timeout 30 bot-send "${L[@]}" --session none --retries 3 <<< \
		"$(jq -cn --arg b "$body" '{type:"message",id:"job-7",to:"#ops",body:$b}')"
	assert_equal "$status" 0
	keys=$(logged submit .key | jq -r . | paste -sd' ')
	n=$(logged submit 'select(.result.id) | .key' | wc -l)
	[ "$n" -ge 2 ]
	# the two failed tries and the good one of part 0 have one key
	assert_equal "${keys%% job-7.1*}" "job-7.0 job-7.0 job-7.0"
	assert_equal "$(logged submit 'select(.result.id) | .key' | jq -r . | paste -sd' ')" \
		"$(seq 0 $((n - 1)) | sed 's/^/job-7./' | paste -sd' ')"
	assert_equal "$(logged submit 'select(.result.id) | .count' | sort -u)" "$n"
	# the parts together are the message
	assert_equal "$(logged submit 'select(.result.id) | .plain' | jq -r . | paste -sd' ')" "$body"
	assert_equal "$(echo "$output" | jq -c 'select(.type == "sent") | .ids')" \
		"$(logged submit 'select(.result.id) | .result.id' | jq -sc .)"
	# the retry waited for the failure's retry_after (1 s)
	t1=$(logged submit 'select(.n == 1) | .ms')
	t2=$(logged submit 'select(.n == 2) | .ms')
	[ $((t2 - t1)) -ge 1000 ]
}

@test "a 429's retry_after holds back the next message too: the rate limiter is fed by failures" {
	printf 'fail-submits 1 2\n' > "$SCRIPT"
	run --separate-stderr timeout 30 bot-send "${L[@]}" --session none --retries 0 <<< \
		"$(printf '%s\n' '{"type":"message","id":"a","to":"#ops","body":"one"}' '{"type":"message","id":"b","to":"#ops","body":"two"}')"
	assert_equal "$status" 75
	assert_equal "$(echo "$output" | jq -c '[.type, .code // .ref]' | paste -sd' ')" '["error","rate_limited"] ["sent","b"]'
	t1=$(logged submit 'select(.key == "a.0") | .ms')
	t2=$(logged submit 'select(.key == "b.0") | .ms')
	[ $((t2 - t1)) -ge 2000 ]
}

@test "an event without an id keeps one key across its retries" {
	printf 'fail-submits 1 1\n' > "$SCRIPT"
	run --separate-stderr timeout 30 bot-send "${L[@]}" --session none --retries 2 <<< '{"type":"message","to":"#ops","body":"no id"}'
	assert_equal "$status" 0
	assert_equal "$(logged submit .key | sort -u | wc -l)" 1
	assert_equal "$(logged submit .key | wc -l)" 2
	[[ "$(logged submit .key | head -1)" == '"h'* ]]
}

@test "--outbox keeps a message that fails for now; --flush sends it with the same keys" {
	# part 0 goes, part 1 fails for now: the message waits in the outbox
	printf 'size-limit 30\nfail-submits 100 1 1\n' > "$SCRIPT"
	ev=$(jq -cn '{type:"message",id:"ob-1",to:"#ops",body:"one two three four five six seven eight nine ten"}')
	run --separate-stderr timeout 30 bot-send "${L[@]}" --session none --retries 0 --outbox "$W/outbox" <<< "$ev"
	assert_equal "$status" 75
	assert_equal "$(echo "$output" | jq -r .code)" queued
	assert_equal "$(logged submit '[.key, .result.code]' | paste -sd' ')" '["ob-1.0",null] ["ob-1.1","rate_limited"]'
	[ -n "$(find "$W/outbox" -type f)" ]
	rm "$LOG"
	echo 'size-limit 30' > "$SCRIPT"
	run --separate-stderr timeout 30 bot-send "${L[@]}" --session none --flush "$W/outbox"
	assert_success
	assert_equal "$(echo "$output" | jq -r .type)" sent
	# every part again, each under the key it had (a network that honours
	# keys drops the second part 0)
	assert_equal "$(logged submit .key | jq -r . | paste -sd' ')" "ob-1.0 ob-1.1 ob-1.2"
	run find "$W/outbox" -type f
	assert_output ""
}

@test "an edit: the part carries the id it replaces, the text in the markup and as plain text" {
	run --separate-stderr bot-send "${L[@]}" --session none <<< \
		'{"type":"message","id":"e1","to":"#ops","body":"fixed **typo**","replaces":"sc-41"}'
	assert_success
	assert_equal "$(logged submit '[.type, .replaces, .text, .plain, .index, .count, .key]')" \
		'["message","sc-41","<p>fixed <strong>typo</strong></p>","fixed typo",0,1,"e1.0"]'
	assert_equal "$(echo "$output" | jq -c 'select(.type == "sent") | [.id, .ref]')" '["sc-41","e1"]'
}

@test "a reply's mention comes from the backend's mention, in the markup markup_for names" {
	run --separate-stderr bot-send "${L[@]}" --session none <<< \
		'{"type":"message","id":"m1","to":"#ops","body":"on **it**","mention":{"kind":"person","id":"@alice","nick":"alice"}}'
	assert_success
	assert_equal "$(logged submit '[.text, .plain]')" '["<p>@alice on <strong>it</strong></p>","@alice on it"]'
	rm "$LOG"
	echo 'markup markdown' > "$SCRIPT"
	run --separate-stderr bot-send "${L[@]}" --session none <<< '{"type":"message","id":"m2","to":"#ops","body":"on **it**"}'
	assert_success
	assert_equal "$(logged submit .text)" '"on **it**"'
}

@test "a card goes natively; one the network refuses goes again as the card template" {
	card=$(bot-card --title Build --field status=green --to '#ops')
	run --separate-stderr bot-send "${L[@]}" --session none <<< "$card"
	assert_success
	assert_equal "$(logged submit '[.type, .text, .plain, .index, .count]')" '["card",null,null,0,1]'
	rm "$LOG"
	echo refuse-cards > "$SCRIPT"
	run --separate-stderr bot-send "${L[@]}" --session none <<< "$card"
	assert_success
	assert_equal "$(echo "$output" | jq -r .type)" sent
	assert_equal "$(logged submit '[.text, .result.code]' | head -1)" '[null,"unsupported"]'
	assert_equal "$(logged submit '.plain' | tail -1 | jq -r .)" "$(printf 'Build\nstatus: green')"
}

@test "a reaction, a presence change and a delete reach the backend as themselves" {
	{
		echo '{"type":"reaction","id":"r1","to":"#ops","action":"added","reaction_name":"thumbsup","reacted_to":{"id":"sc-5","to":"#ops"}}'
		echo '{"type":"presence","id":"p1","status":"away","message":"at lunch"}'
		echo '{"type":"delete","id":"d1","to":"#ops","deletes":"sc-9"}'
	} > "$W/in"
	run --separate-stderr bot-send "${L[@]}" --session none < "$W/in"
	assert_success
	assert_equal "$(logged submit '[.type, .text, .event.reaction_name, .event.action, .event.reacted_to.id]' | head -1)" \
		'["reaction",null,"thumbsup","added","sc-5"]'
	assert_equal "$(logged submit 'select(.type == "presence") | [.event.status, .event.message, .result]')" \
		'["away","at lunch",{"id":null}]'
	assert_equal "$(logged submit 'select(.type == "delete") | [.event.deletes, .result.id]')" '["sc-9","sc-9"]'
	# one answer each, none an error
	assert_equal "$(echo "$output" | jq -r 'select(.type == "error") | .code')" ""
	assert_equal "$(echo "$output" | wc -l)" 3
}

@test "a stream upload: bot-send hands the backend the file by its path" {
	printf 'the report\n' > "$W/report.txt"
	run --separate-stderr bot-send "${L[@]}" --session none --files-from "$W" <<< \
		"$(jq -cn --arg p "$W/report.txt" '{type:"stream",id:"f1",to:"#ops",path:$p,name:"report.txt"}')"
	assert_success
	assert_equal "$(logged submit '[.type, .size, .content, .text]')" '["stream",11,"the report\n",null]'
	assert_equal "$(echo "$output" | jq -r 'select(.type == "sent") | .ref')" f1
}

@test "a stream download: the file lands in the spool under a name we make, never the network's" {
	printf 'up\nfile 1000 ../../evil name.pdf\nsleep 300\nend\n' > "$SCRIPT"
	run --separate-stderr timeout 20 bot-listen "${L[@]}" --session none
	assert_equal "$status" 0
	assert_equal "$(echo "$output" | jq -r 'select(.type == "stream") | .status' | paste -sd' ')" "transfering success"
	path=$(echo "$output" | jq -r 'select(.status == "success") | .path')
	assert_equal "$(echo "$output" | jq -r 'select(.status == "success") | [.name, .size, .transfered] | @tsv')" \
		"$(printf '../../evil name.pdf\t1000\t1000')"
	[[ "${path##*/}" =~ ^[0-9]+-[0-9]+-[0-9]+\.pdf$ ]]
	[[ "$path" == "$XDG_STATE_HOME"/* ]]
	assert_equal "$(stat -c '%s %a' "$path")" "1000 600"
	assert_equal "$(stat -c '%a' "${path%/*}")" 700
	assert_equal "$(find "$W" -name 'evil*')" ""
}

@test "an identifier look-up that fails for now is tried again and then succeeds" {
	printf 'fail-idents 2\n' > "$SCRIPT"
	run --separate-stderr timeout 30 bot-send "${L[@]}" --session none --retries 3 --to '#ops' hello
	assert_success
	assert_equal "$(logged ident '[.text, .ok]' | paste -sd' ')" '["#ops",false] ["#ops",false] ["#ops",true]'
	assert_equal "$(logged submit '[.to, .text]')" '["#ops","<p>hello</p>"]'
}

@test "an identifier the backend cannot read is bad input, asked once" {
	run --separate-stderr timeout 30 bot-send "${L[@]}" --session none --retries 3 --to 'ops' hello
	assert_equal "$status" 65
	assert_equal "$(logged ident .text)" '"ops"'
	assert_equal "$(logged submit)" ""
}

@test "rooms through submit: bot-room's answer, and a room that does not exist" {
	run --separate-stderr bot-room "${L[@]}" --session none --json topic '#ops'
	assert_success
	assert_equal "$(echo "$output" | jq -c '[.type, .action, .room.id, .topic]')" '["room","topic","#ops","the scripted topic"]'
	assert_equal "$(logged submit '[.type, .event.action]')" '["room","topic"]'
	run --separate-stderr bot-room "${L[@]}" --session none info '#missing'
	assert_equal "$status" 80
}

@test "a 429 through the session keeps temporary and retry_after: bot-send exits 75, not 69" {
	printf 'fail-submits 100 7\nup\nsleep 600000\n' > "$SCRIPT"
	bot-listen "${L[@]}" --session "$W/s.sock" > "$W/events" 2> "$W/err" &
	LISTEN_PID=$!
	wait_for "$W/events" '"connected"'
	for _ in $(seq 100); do [ -S "$W/s.sock" ] && break; sleep 0.05; done
	run --separate-stderr timeout 30 bot-send -b scripted --session "$W/s.sock" --retries 0 --to '#ops' hi
	assert_equal "$status" 75
	assert_equal "$(echo "$output" | jq -c '[.type, .code, .temporary, .retry_after, .status]')" '["error","rate_limited",true,7,429]'
	# delivered by bot-listen's connection, not one of bot-send's own
	assert_equal "$(logged submit '[.listening, .text]')" '[1,"<p>hi</p>"]'
	stop_listen
}

@test "the session answers while bot-listen connects; bot-send then delivers on its own connection" {
	printf 'sleep 600000\nup\n' > "$SCRIPT"
	bot-listen "${L[@]}" --session "$W/s.sock" > "$W/events" 2> "$W/err" &
	LISTEN_PID=$!
	wait_for "$W/events" '"connecting"'
	for _ in $(seq 100); do [ -S "$W/s.sock" ] && break; sleep 0.05; done
	# the session's answer to a request it cannot serve yet: temporary
	run --separate-stderr timeout 60 bot-room -b scripted --session "$W/s.sock" --json topic '#ops'
	assert_equal "$status" 75
	assert_equal "$(echo "$output" | jq -c '[.type, .temporary]')" '["error",true]'
	assert_equal "$(logged submit)" ""
	run --separate-stderr timeout 60 bot-send "${L[@]}" --session "$W/s.sock" --to '#ops' hi
	assert_success
	assert_equal "$(logged submit '[.listening, .text]')" '[0,"<p>hi</p>"]'
	assert_equal "$(logged quit | wc -l)" 1
	stop_listen
}

@test "a send through the session is a queued job: the loop's heartbeats go on while it is delivered" {
	printf 'heartbeat 100\nsubmit-delay 1500\nup\nsleep 600000\n' > "$SCRIPT"
	bot-listen "${L[@]}" --session "$W/s.sock" > "$W/events" 2> "$W/err" &
	LISTEN_PID=$!
	wait_for "$W/events" '"connected"'
	for _ in $(seq 100); do [ -S "$W/s.sock" ] && break; sleep 0.05; done
	run --separate-stderr timeout 30 bot-send -b scripted --session "$W/s.sock" --to '#ops' hi
	assert_success
	assert_equal "$(echo "$output" | jq -r .type)" sent
	assert_equal "$(logged submit .listening)" 1
	at=$(logged submit .ms)
	[ "$(logged heartbeat "select(.ms > $at and .ms < $at + 1500)" | wc -l)" -ge 3 ]
	stop_listen
}

@test "what the backend cannot do is answered unsupported, with the request; only the message reaches it" {
	printf 'x\n' > "$W/f.txt"
	{
		echo '{"type":"reaction","id":"r1","to":"#ops","action":"added","reaction_name":"tada","reacted_to":{"id":"m0"}}'
		echo '{"type":"presence","id":"p1","status":"away"}'
		jq -cn --arg p "$W/f.txt" '{type:"stream",id:"f1",to:"#ops",path:$p}'
		echo '{"type":"delete","id":"d1","to":"#ops","deletes":"m0"}'
		echo '{"type":"message","id":"e1","to":"#ops","body":"fixed","replaces":"m0"}'
		echo '{"type":"message","id":"m1","to":"#ops","body":"plain"}'
	} > "$W/in"
	run --separate-stderr bot-send -b bare --bare-log "$LOG" --session none --files-from "$W" < "$W/in"
	assert_success
	assert_equal "$(echo "$output" | jq -r '[.type, .code // "-", .event.id // .ref] | join(" ")' | paste -sd,)" \
		"error unsupported r1,error unsupported p1,error unsupported f1,error unsupported d1,error unsupported e1,sent - m1"
	assert_equal "$(logged submit .event.id)" '"m1"'
}

@test "a 429 through the session is tried again after its retry_after, with the same key, on bot-listen's connection" {
	printf 'fail-submits 1 1\nup\nsleep 600000\n' > "$SCRIPT"
	bot-listen "${L[@]}" --session "$W/s.sock" > "$W/events" 2> "$W/err" &
	LISTEN_PID=$!
	wait_for "$W/events" '"connected"'
	for _ in $(seq 100); do [ -S "$W/s.sock" ] && break; sleep 0.05; done
	run --separate-stderr timeout 30 bot-send -b scripted --session "$W/s.sock" --retries 2 <<< '{"type":"message","id":"s-1","to":"#ops","body":"again"}'
	assert_success
	assert_equal "$(echo "$output" | jq -c '[.type, .ref]')" '["sent","s-1"]'
	assert_equal "$(logged submit '[.listening, .key]' | paste -sd' ')" '[1,"s-1.0"] [1,"s-1.0"]'
	t1=$(logged submit 'select(.n == 1) | .ms')
	t2=$(logged submit 'select(.n == 2) | .ms')
	[ $((t2 - t1)) -ge 1000 ]
	stop_listen
}

@test "while bot-listen backs off after a failure, the session answers at once with a temporary failure" {
	printf 'up\nfail temporary unavailable 60\n' > "$SCRIPT"
	bot-listen "${L[@]}" --session "$W/s.sock" > "$W/events" 2> "$W/err" &
	LISTEN_PID=$!
	wait_for "$W/events" '"disconnected"'
	for _ in $(seq 100); do [ -S "$W/s.sock" ] && break; sleep 0.05; done
	run --separate-stderr timeout 30 bot-room -b scripted --session "$W/s.sock" --json topic '#ops'
	assert_equal "$status" 75
	assert_equal "$(echo "$output" | jq -c '[.type, .temporary]')" '["error",true]'
	stop_listen
}
