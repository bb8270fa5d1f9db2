# A real nats-server (Debian's) with JetStream for the bot-queue suite: one
# per test, on a free loopback port, its store in the test's folder.
#
#   nats_start [CONF]  write $NATS_DIR/nats.conf (CONF lines added), start
#                      the server, wait until it is ready; sets NATS_URL
#   nats_stop          stop it (SIGTERM: it writes its store), wait for it
#   nats_restart       stop it, start it again on the same port and store
#
# The server runs as a background job; its log is $NATS_DIR/nats.log.
NATS_SERVER=$(command -v nats-server || echo /usr/sbin/nats-server)

nats_free_port() {
	python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

nats_start() {
	NATS_DIR=${NATS_DIR:-$BATS_TEST_TMPDIR/nats}
	mkdir -p "$NATS_DIR/store"
	NATS_PORT=${NATS_PORT:-$(nats_free_port)}
	{
		echo "listen: 127.0.0.1:$NATS_PORT"
		echo "jetstream { store_dir: \"$NATS_DIR/store\" }"
		[ -z "${1:-}" ] || printf '%s\n' "$1"
	} > "$NATS_DIR/nats.conf"
	nats_run
	export NATS_URL="nats://127.0.0.1:$NATS_PORT"
}

nats_run() {
	: > "$NATS_DIR/nats.log"
	"$NATS_SERVER" -c "$NATS_DIR/nats.conf" >> "$NATS_DIR/nats.log" 2>&1 3>&- &
	NATS_PID=$!
	wait_for "$NATS_DIR/nats.log" 'Server is ready' 20
}

nats_stop() {
	[ -n "${NATS_PID:-}" ] || return 0
	kill -TERM "$NATS_PID" 2>/dev/null || true
	for _ in $(seq 100); do kill -0 "$NATS_PID" 2>/dev/null || break; sleep 0.05; done
	kill -KILL "$NATS_PID" 2>/dev/null || true
	wait "$NATS_PID" 2>/dev/null || true
	NATS_PID=
}

nats_restart() {
	nats_stop
	nats_run
}

# nats_raw_pub SUBJECT FILE: publish FILE's bytes as they are (a core NATS
# PUB, which the subject's stream stores), as a foreign client could.
nats_raw_pub() {
	python3 - "$NATS_PORT" "$1" "$2" <<'PY'
import socket, sys
port, subject, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
data = open(path, "rb").read()
s = socket.create_connection(("127.0.0.1", port))
f = s.makefile("rb")
f.readline()   # INFO
s.sendall(b'CONNECT {"verbose":false}\r\nPUB ' + subject.encode() + b" %d\r\n" % len(data) + data + b"\r\nPING\r\n")
line = f.readline()
sys.exit(0 if line.startswith(b"PONG") else 1)
PY
}

# nats_cert: a self-signed certificate for 127.0.0.1 in $NATS_DIR
# (cert.pem, key.pem), and the config lines that make the server speak
# TLS only, in NATS_TLS_CONF.
nats_cert() {
	NATS_DIR=${NATS_DIR:-$BATS_TEST_TMPDIR/nats}
	mkdir -p "$NATS_DIR"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=localhost" \
		-addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
		-keyout "$NATS_DIR/key.pem" -out "$NATS_DIR/cert.pem" > /dev/null 2>&1
	NATS_TLS_CONF="tls { cert_file: \"$NATS_DIR/cert.pem\", key_file: \"$NATS_DIR/key.pem\" }"
}
