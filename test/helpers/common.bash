# Shared by the bats suites: libraries, and small helpers over events.
bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert

ROOT=${BOT_ROOT:-$(cd "$BATS_TEST_DIRNAME/.." && pwd)}
PLUGINS="$ROOT/share/examples/plugins"

# Wait until FILE has a line matching the extended regex, up to SECONDS
# (15); on time-out say so and show the file.
wait_for() {
	local file=$1 re=$2 secs=${3:-15} i=0
	until grep -Eq -- "$re" "$file" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt $((secs * 20)) ]; then
			echo "no line /$re/ in $file after $secs s:" >&2
			cat "$file" >&2 2>/dev/null
			return 1
		fi
		sleep 0.05
	done
}

# Stop a process group started with setsid (PGID, or nothing when empty):
# SIGTERM, then up to 5 s for it to end (its programs flush and commit).
stop_group() {
	[ -n "${1:-}" ] || return 0
	kill -TERM -- "-$1" 2>/dev/null || true
	local i=0
	while kill -0 -- "-$1" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.05
		i=$((i + 1))
	done
}

# Wait until FILE has N lines matching the extended regex.
wait_count() {
	local file=$1 re=$2 n=$3 secs=${4:-10} i=0
	until [ "$(grep -Ec -- "$re" "$file" 2>/dev/null)" -ge "$n" ]; do
		i=$((i + 1))
		if [ $i -gt $((secs * 20)) ]; then
			echo "fewer than $n lines /$re/ in $file after $secs s" >&2
			return 1
		fi
		sleep 0.05
	done
}

# A message event as bot-listen -b text writes it: direct, from @you.
dm() {
	jq -cn --arg b "$1" --arg id "${2:-1}" '{type:"message",id:$id,backend:"text",
		from:{kind:"person",id:"@you",person:"@you",nick:"you"},
		to:{kind:"person",id:"@bot",person:"@bot",nick:"bot"},body:$b,
		is_direct:true,is_group:false,is_threaded:false}'
}

# A message in #room from @you as an occupant.
room_msg() {
	jq -cn --arg b "$1" --arg id "${2:-1}" '{type:"message",id:$id,backend:"text",
		from:{kind:"occupant",id:"#room/you",room:"#room",nick:"you",person:"@you"},
		to:{kind:"room",id:"#room"},body:$b,is_direct:false,is_group:true,is_threaded:false}'
}

# Bodies of the message events on stdin, one a line.
bodies() { jq -r 'select(.type=="message") | .body'; }

# A real terminal (tmux) for what only a person at the keyboard does:
# screen_start CMD runs CMD on a 120x40 screen; screen_type LINE WANT types
# LINE and Enter, then waits for WANT; screen_wait WANT waits (5 s) until
# the screen shows WANT; screen_gone waits (5 s) until CMD has exited;
# screen_stop ends it (call it in teardown).
screen_start() {
	SCREEN="botpipe-$$-${BATS_TEST_NUMBER:-0}"
	tmux -L "$SCREEN" new-session -d -x 120 -y 40 "$1"
}
screen_wait() {
	for _ in $(seq 50); do
		tmux -L "$SCREEN" capture-pane -p | grep -qF -- "$1" && return 0
		sleep 0.1
	done
	tmux -L "$SCREEN" capture-pane -p >&2
	return 1
}
screen_type() {
	tmux -L "$SCREEN" send-keys "$1" Enter
	screen_wait "$2"
}
screen_gone() {
	for _ in $(seq 50); do
		tmux -L "$SCREEN" list-sessions >/dev/null 2>&1 || return 0
		sleep 0.1
	done
	return 1
}
screen_stop() { [ -z "${SCREEN:-}" ] || tmux -L "$SCREEN" kill-server 2>/dev/null || true; }

# A loopback HTTP receiver (test/fake-http.py) answering from the JSON
# script $1 (default: 200 to everything); sets RECEIVER_URL, and
# RECEIVER_LOG, one JSON line per request.  receiver_stop in teardown.
receiver_start() {
	local d=$BATS_TEST_TMPDIR/receiver
	mkdir -p "$d"
	RECEIVER_LOG=$d/requests.ndjson
	/usr/bin/python3 "$ROOT/test/fake-http.py" --port-file "$d/port" \
		--log "$RECEIVER_LOG" --script-json "${1:-[]}" > /dev/null 2> "$d/err" 3>&- &
	RECEIVER_PID=$!
	for _ in $(seq 100); do [ -s "$d/port" ] && break; sleep 0.05; done
	RECEIVER_URL="http://127.0.0.1:$(cat "$d/port")/hook"
}
receiver_stop() {
	[ -z "${RECEIVER_PID:-}" ] || { kill "$RECEIVER_PID" 2>/dev/null; wait "$RECEIVER_PID" 2>/dev/null; RECEIVER_PID=; }
	return 0
}
