#!/usr/bin/env bats
# bot-listen -b http: webhooks in (libmicrohttpd in bot-listen's loop).
# A real GitHub push payload shape (test/data/github-push.json) posted
# with curl, signed as GitHub signs it; the pipeline to a real ngircd; bad
# or missing signatures (401, nothing emitted); a 100 MB body (413, bounded
# memory); the answer only once the events are written downstream.

load helpers/ngircd
load helpers/hostile
load helpers/common

SECRET=It5-a-5ecret-0f-the-hook

setup() {
	ngircd_test_setup
	export XDG_STATE_HOME="$W/state"
	HP=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	export BOT_HTTP_SECRET=$SECRET
	PUSH="$BATS_TEST_DIRNAME/data/github-push.json"
	ROUTE="/github=@$BATS_TEST_DIRNAME/../share/examples/github/push.jq"
	lpid=
}

teardown() {
	# every bot-listen of this test (some run under time, or in a pipeline)
	pkill -f "http-listen 127.0.0.1:$HP" 2>/dev/null || true
	[ -z "$lpid" ] || wait "$lpid" 2>/dev/null || true
}

# listen ARGS...: bot-listen -b http on $HP, its events in $W/out.
listen() {
	bot-listen -b http --http-listen "127.0.0.1:$HP" "$@" > "$W/out" 2> "$W/err" &
	lpid=$!
	wait_for "$W/out" '"connected"' 5
}

# Wait until the server answers (any status), up to 5 s.
serving() {
	for _ in $(seq 100); do
		curl -s -o /dev/null "http://127.0.0.1:$HP/" && return 0
		sleep 0.05
	done
	return 1
}

# sign FILE: GitHub's X-Hub-Signature-256 header value for the body.
sign() { printf 'sha256=%s' "$(openssl dgst -sha256 -hmac "$SECRET" -r < "$1" | cut -d' ' -f1)"; }

# post FILE [HEADER...]: POST the file; prints the status code.
post() {
	local f=$1
	shift
	curl -s -o "$W/answer" -w '%{http_code}' --max-time 20 -H 'Content-Type: application/json' \
		-H 'X-GitHub-Event: push' "$@" --data-binary "@$f" "http://127.0.0.1:$HP/github"
}

@test "a signed GitHub push becomes one message event, answered 202" {
	listen --http-route "$ROUTE"
	run post "$PUSH" -H "X-Hub-Signature-256: $(sign "$PUSH")"
	assert_output 202
	run jq -c 'select(.type == "message") | [.backend, .to, .body]' "$W/out"
	assert_output '["http","#dev","octocat pushed 1 commit to octo-org/hello-world main: Fix the greeting https://github.com/octo-org/hello-world/compare/6113728f27ae...59b20b8d5c6f"]'
	# an event GitHub sends that the route does not turn into one: 204, nothing emitted
	run curl -s -o /dev/null -w '%{http_code}' -H 'X-GitHub-Event: ping' \
		-H "X-Hub-Signature-256: $(sign "$PUSH")" --data-binary "@$PUSH" "http://127.0.0.1:$HP/github"
	assert_output 204
	assert_equal "$(grep -c '"message"' "$W/out")" 1
}

@test "bot-listen -b http | bot-dispatch -e . | bot-send -b irc: the push reaches #dev on IRC" {
	human --nick dev "$PORT" > "$W/seen" <<-EOF &
	join #dev
	expect ^:pushbot\S* PRIVMSG #dev :octocat pushed 1 commit 20
	EOF
	hpid=$!
	wait_for "$W/seen" ' 366 ' 10
	bot-listen -b http --http-listen "127.0.0.1:$HP" --http-route "$ROUTE" 2> "$W/err" |
		bot-dispatch -e . | bot-send -b irc --irc-nick pushbot --irc-channels '#dev' > "$W/sent" 2>&1 &
	serving
	run post "$PUSH" -H "X-Hub-Signature-256: $(sign "$PUSH")"
	assert_output 202
	wait "$hpid"
	pkill -f "http-listen 127.0.0.1:$HP" || true
}

human() { python3 "$HELPERS/irc-client.py" "$@"; }

@test "a wrong or missing signature is 401 and emits nothing" {
	listen --http-route "$ROUTE"
	run post "$PUSH" -H 'X-Hub-Signature-256: sha256=0000000000000000000000000000000000000000000000000000000000000000'
	assert_output 401
	run post "$PUSH"
	assert_output 401
	# signed for another body
	printf '{"x":1}' > "$W/other"
	run post "$PUSH" -H "X-Hub-Signature-256: $(sign "$W/other")"
	assert_output 401
	run grep -c '"message"' "$W/out"
	assert_output 0
	# and the secret shows nowhere: not in events, not on stderr, not in ps
	run grep -rF "$SECRET" "$W/out" "$W/err"
	assert_failure
	run bash -c "ps -ww -o args= -p $lpid"
	refute_output --partial "$SECRET"
}

@test "a shared-secret header (GitLab's X-Gitlab-Token): right 202, wrong 401" {
	unset BOT_HTTP_SECRET
	export BOT_HTTP_TOKEN=gl-t0ken-value
	listen --http-route '/github={type:"message", to:"#ci", body:"hook"}' --http-token-header X-Gitlab-Token
	run post "$PUSH" -H 'X-Gitlab-Token: gl-t0ken-value'
	assert_output 202
	run post "$PUSH" -H 'X-Gitlab-Token: gl-t0ken-valuX'
	assert_output 401
	assert_equal "$(grep -c '"message"' "$W/out")" 1
}

@test "a 100 MB body is refused with 413 in bounded memory, declared or chunked" {
	with_rss bot-listen -b http --http-listen "127.0.0.1:$HP" --http-route "$ROUTE" > "$W/out" 2> "$W/err" &
	lpid=$!
	wait_for "$W/out" '"connected"' 5
	head -c 100000000 /dev/zero > "$W/big"
	run post "$W/big" -H "X-Hub-Signature-256: $(sign "$W/big")"
	assert_output 413
	run bash -c "head -c 100000000 /dev/zero | curl -s -o /dev/null -w '%{http_code}' -H 'Transfer-Encoding: chunked' --data-binary @- http://127.0.0.1:$HP/github"
	assert_output 413
	run grep -c '"message"' "$W/out"
	assert_output 0
	pkill -f "^bot-listen -b http --http-listen 127.0.0.1:$HP"   # not time, which reports
	wait "$lpid" || true
	lpid=
	# the default cap is 1 MiB: far below 100 MB (ASan's shadow memory
	# adds its own tens of MB, the same whatever the body)
	local cap=30000
	[ "${SANITIZE:-}" != 1 ] || cap=150000
	[ "$(peak_rss_kb)" -lt "$cap" ]
}

@test "the sender is answered only once its events are written downstream" {
	# a body larger than the pipe holds, so the event waits in bot-listen
	# until the reader starts; the 202 must come after that
	python3 -c 'import json; print(json.dumps({"pad": "x" * 300000}))' > "$W/pad"
	unset BOT_HTTP_SECRET
	bot-listen -b http --http-listen "127.0.0.1:$HP" --http-max-body 400000 \
		--http-route '/github={type:"message", to:"#dev", body:.body.pad}' 2> "$W/err" |
		{ sleep 2; date +%s.%N > "$W/reading"; cat > "$W/out"; } &
	serving
	run post "$W/pad"
	date +%s.%N > "$W/answered"
	assert_output 202
	# strictly after the reader began to read
	python3 -c "import sys; sys.exit(0 if float(open('$W/answered').read()) > float(open('$W/reading').read()) else 1)"
	pkill -f "http-listen 127.0.0.1:$HP" || true
	wait_for "$W/out" '"message"' 5
}

@test "settings that cannot work are one line each, exit 78" {
	run --separate-stderr bot-listen -b http --http-listen 127.0.0.1:$HP
	assert_equal "$status" 78
	assert_equal "$stderr" "bot-listen: error: http: no --http-route: say which paths become which events"
	run --separate-stderr bot-listen -b http --http-listen nowhere --http-route '/a=.'
	assert_equal "$status" 78
	assert_equal "$stderr" "bot-listen: error: http: --http-listen nowhere: expected ADDR:PORT"
	run --separate-stderr bot-listen -b http --http-listen 127.0.0.1:$HP --http-route '/a={'
	assert_equal "$status" 78
	[[ "$stderr" == "bot-listen: error: http: --http-route /a: "* ]]
}
