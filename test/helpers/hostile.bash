# Helpers for the hostile-input, fault and secret suites.
bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert

# One message event line: a group message from #ops/alice, or a direct one.
room_msg() { jq -cn --arg b "$1" --arg id "${2:-1}" \
	'{type:"message",id:$id,backend:"text",from:{kind:"occupant",id:"#ops/alice",room:"#ops",nick:"alice",person:"@alice"},to:{kind:"room",id:"#ops"},body:$b}'; }
dm_msg() { jq -cn --arg b "$1" --arg id "${2:-1}" \
	'{type:"message",id:$id,backend:"text",from:{kind:"person",id:"@alice",person:"@alice",nick:"alice"},to:{kind:"person",id:"@bot",person:"@bot",nick:"bot"},body:$b,is_direct:true}'; }

# A message line whose body is N bytes of "a", written to stdout fast.
big_line() {
	printf '{"type":"message","to":"#ops","body":"'
	head -c "$1" /dev/zero | tr '\0' a
	printf '"}\n'
}

# Run a command, recording its peak RSS in KiB into $BATS_TEST_TMPDIR/rss.
with_rss() { /usr/bin/time -f %M -o "$BATS_TEST_TMPDIR/rss" "$@"; }
peak_rss_kb() { tail -n 1 "$BATS_TEST_TMPDIR/rss"; }

# A plugin folder with one executable command NAME whose body is the rest.
plugin() {
	local dir=$BATS_TEST_TMPDIR/plugins
	mkdir -p "$dir"
	printf '%s\n' "#!/bin/sh" "$2" > "$dir/$1"
	chmod +x "$dir/$1"
	echo "$dir"
}

# The bodies of the message events on stdin, one a line.
bodies() { jq -r 'select(.type=="message") | .body'; }

# 0 when every line of the file is a JSON object (no torn line).
all_json_lines() { jq -e -c . "$1" > /dev/null 2>&1; }

# Wait up to $2 seconds (default 5) for file $1 to exist and be non-empty.
wait_file() {
	local i=0 n=$(( ${2:-5} * 20 ))
	while [ ! -s "$1" ] && [ $i -lt $n ]; do sleep 0.05; i=$((i + 1)); done
	[ -s "$1" ]
}

# Start test/fake-http.py with a script; sets FAKE_PID, FAKE_PORT, FAKE_LOG.
fake_http() {
	FAKE_LOG=$BATS_TEST_TMPDIR/requests.ndjson
	/usr/bin/python3 "$BOT_ROOT/test/fake-http.py" --port-file "$BATS_TEST_TMPDIR/port" \
		--log "$FAKE_LOG" --script-json "$1" > /dev/null 3>&- &
	FAKE_PID=$!
	wait_file "$BATS_TEST_TMPDIR/port"
	FAKE_PORT=$(cat "$BATS_TEST_TMPDIR/port")
}
stop_fake() { [ -z "${FAKE_PID:-}" ] || { kill "$FAKE_PID" 2>/dev/null; wait "$FAKE_PID" 2>/dev/null; FAKE_PID=; }; }

# Fails when the Perl regex $1 matches anywhere in file $2 (bats ignores a
# bare "! cmd", so use this).
no_match() {
	if grep -q -a -P -- "$1" "$2"; then
		echo "unexpected match for $1 in $2:" >&2
		grep -a -n -P -- "$1" "$2" | head -3 | cat -A >&2
		return 1
	fi
}

# Fails when the last with_rss run peaked at or above $1 KiB.  Sanitizers
# and valgrind change memory use (ASan's quarantine alone is 256 MB), so
# under SANITIZE=1 or VALGRIND=1 the bound is not checked.
assert_rss_below() {
	if [ "${SANITIZE:-}" = 1 ] || [ "${VALGRIND:-}" = 1 ]; then
		return 0
	fi
	local kb
	kb=$(peak_rss_kb)
	if [ "$kb" -ge "$1" ]; then
		echo "peak RSS $kb KiB, expected under $1 KiB" >&2
		return 1
	fi
}
