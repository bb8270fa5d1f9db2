#!/usr/bin/env bats
# libbothttp from the outside: the driver in build/test/test-ws (ws and get
# modes) against test/fake-http.py, over TLS and plain: a wss:// echo with
# the certificate checked, a refused certificate, a long poll that ends at
# once on SIGTERM, a server's close code, and the fake's own contract.

bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert

DRIVER=${BOT_BUILD:-$BATS_TEST_DIRNAME/../build}/test/test-ws

setup_file() {
	# A self-signed certificate for localhost, made once for the file.
	openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
		-addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
		-keyout "$BATS_FILE_TMPDIR/key.pem" -out "$BATS_FILE_TMPDIR/cert.pem" >/dev/null 2>&1
}

setup() {
	d=$BATS_TEST_TMPDIR
	fake_pid=
	[ -x "$DRIVER" ] || skip "no $DRIVER (make build/test/test-ws)"
}

teardown() {
	if [ -n "$fake_pid" ]; then
		kill "$fake_pid" 2>/dev/null || true
		wait "$fake_pid" 2>/dev/null || true
	fi
}

# start_fake SCRIPT_JSON [ARGS...]: the fake on a free port, $port set.
start_fake() {
	script=$1
	shift
	rm -f "$d/port"
	/usr/bin/python3 "$BATS_TEST_DIRNAME/fake-http.py" --port-file "$d/port" \
		--log "$d/log.ndjson" --script-json "$script" "$@" >/dev/null 2>"$d/fake.err" 3>&- &
	fake_pid=$!
	for _ in $(seq 100); do [ -s "$d/port" ] && break; sleep 0.05; done
	port=$(cat "$d/port")
}

@test "wss://: TLS checked against the given CA, an echo, our close answered" {
	start_fake '[{"actions":[{"recv":1},{"send":"quit"},{"echo":true}]}]' --ws \
		--cert "$BATS_FILE_TMPDIR/cert.pem" --key "$BATS_FILE_TMPDIR/key.pem"
	run -0 "$DRIVER" ws "wss://localhost:$port/gateway?v=10" "$BATS_FILE_TMPDIR/cert.pem" 'héllo "x"'
	assert_line --index 0 "open"
	assert_line --index 1 "text: quit"
	assert_line --index 2 "close 1000 bye"
	run jq -c 'select(.event=="frame" and .opcode==1) | .data' "$d/log.ndjson"
	assert_output '"héllo \"x\""'
	run jq -r 'select(.event=="open") | .path' "$d/log.ndjson"
	assert_output "/gateway?v=10"
	# our close frame: 1000 and "bye", byte for byte
	run jq -r 'select(.event=="frame" and .opcode==8) | .data_b64' "$d/log.ndjson"
	assert_output "$(printf '\003\350bye' | base64)"
}

@test "wss://: a certificate nobody vouches for is refused, permanently" {
	start_fake '[]' --ws --cert "$BATS_FILE_TMPDIR/cert.pem" --key "$BATS_FILE_TMPDIR/key.pem"
	run -1 "$DRIVER" ws "wss://localhost:$port/secretpath" ""
	assert_output --partial "error: https://localhost:$port/"
	refute_output --partial "secretpath"
	refute_line "open"
}

@test "ws://: the server's close code and reason are reported" {
	start_fake '[{"actions":[{"send":"hi"},{"close":4014,"reason":"Disallowed intent(s)."}]}]' --ws
	run -0 "$DRIVER" ws "ws://127.0.0.1:$port/" ""
	assert_line --index 1 "text: hi"
	assert_line --index 2 "close 4014 Disallowed intent(s)."
}

@test "a long poll ends at once on SIGTERM, cancelled" {
	start_fake '[{"path":"^/getUpdates","hang":20}]'
	"$DRIVER" get "http://127.0.0.1:$port/getUpdates?timeout=50" 60000 > "$d/out" 2>&1 &
	pid=$!
	for _ in $(seq 100); do [ -s "$d/log.ndjson" ] && break; sleep 0.05; done
	kill -TERM "$pid"
	# the server would answer in 20 s; 5 s is plenty for "at once"
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
	run kill -0 "$pid"
	assert_failure
	run wait "$pid"
	assert_equal "$status" 2
	run cat "$d/out"
	assert_output --partial "failed: cancelled"
}

@test "get: a body and its status, through the async API" {
	start_fake '[{"status":201,"body":{"id":"7"}}]'
	run -0 "$DRIVER" get "http://127.0.0.1:$port/x" 5000
	assert_output '201 {"id":"7"}'
}

@test "fake-http.py: logs each body's exact bytes in body_b64" {
	start_fake '[]'
	printf 'a\000b\377' > "$d/bin"
	curl -s --data-binary @"$d/bin" "http://127.0.0.1:$port/up" > /dev/null
	run jq -r .body_b64 "$d/log.ndjson"
	assert_output "$(base64 < "$d/bin")"
}
