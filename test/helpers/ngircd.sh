#!/bin/sh
# ngircd.sh: run a real ngircd (Debian's) on a free loopback port, for tests.
#
#   ngircd.sh start DIR [tls]   write DIR/ngircd.conf, start the server, wait
#                               until it listens, print the port
#   ngircd.sh restart DIR       start it again on the same port and config
#   ngircd.sh stop DIR          stop it (SIGTERM, then SIGKILL)
#   ngircd.sh kill DIR          kill it at once (SIGKILL), as a crash would
#
# With "tls", DIR also gets a self-signed certificate (DIR/cert.pem, for
# the client's CA file) and the server speaks TLS only.  The server runs
# in the foreground of a background job; its log is DIR/ngircd.log.
set -eu

die() { echo "ngircd.sh: $*" >&2; exit 1; }

free_port() {
	python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# 0 once something accepts connections on 127.0.0.1:$1
listening() {
	python3 -c 'import socket, sys
s = socket.socket(); s.settimeout(0.2)
sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)' "$1"
}

make_cert() {
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=localhost" \
		-addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
		-keyout "$1/key.pem" -out "$1/cert.pem" >/dev/null 2>&1 \
		|| die "openssl could not make a certificate"
}

write_conf() {
	dir=$1 port=$2 tls=$3
	plain_ports=$port
	[ "$tls" = tls ] && plain_ports=
	cat > "$dir/ngircd.conf" <<CONF
[Global]
	Name = irc.test
	Info = botpipe test server
	AdminInfo1 = botpipe
	AdminInfo2 = loopback
	AdminEMail = nobody@localhost
	Listen = 127.0.0.1
	Ports = $plain_ports
	MotdPhrase = "botpipe test"
[Limits]
	MaxConnectionsIP = 0
	MaxJoins = 0
	PingTimeout = 120
	PongTimeout = 20
[Options]
	DNS = no
	Ident = no
	PAM = no
	AllowedChannelTypes = #&+
CONF
	if [ "$tls" = tls ]; then
		cat >> "$dir/ngircd.conf" <<CONF
[SSL]
	CertFile = $dir/cert.pem
	KeyFile = $dir/key.pem
	Ports = $port
CONF
	fi
	# Extra settings a test wants (appended as they are).
	[ -f "$dir/extra.conf" ] && cat "$dir/extra.conf" >> "$dir/ngircd.conf"
	return 0
}

launch() {
	dir=$1 port=$(cat "$1/port")
	ngircd -n -f "$dir/ngircd.conf" >>"$dir/ngircd.log" 2>&1 &
	echo $! > "$dir/server.pid"
	i=0
	until listening "$port"; do
		i=$((i + 1))
		kill -0 "$(cat "$dir/server.pid")" 2>/dev/null || die "ngircd exited: $(tail -n 3 "$dir/ngircd.log")"
		[ $i -lt 100 ] || die "ngircd does not listen on $port"
		sleep 0.05
	done
	echo "$port"
}

stop() {
	dir=$1 sig=$2
	[ -f "$dir/server.pid" ] || return 0
	pid=$(cat "$dir/server.pid")
	rm -f "$dir/server.pid"
	kill -"$sig" "$pid" 2>/dev/null || return 0
	i=0
	while kill -0 "$pid" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 50 ] || { kill -KILL "$pid" 2>/dev/null; break; }
		sleep 0.05
	done
	return 0
}

[ $# -ge 2 ] || die "usage: ngircd.sh start|restart|stop|kill DIR [tls]"
cmd=$1 dir=$2 tls=${3:-}
mkdir -p "$dir"
case $cmd in
start)
	port=$(free_port)
	echo "$port" > "$dir/port"
	[ "$tls" = tls ] && make_cert "$dir"
	write_conf "$dir" "$port" "$tls"
	launch "$dir" ;;
restart)
	launch "$dir" ;;
stop)
	stop "$dir" TERM ;;
kill)
	stop "$dir" KILL ;;
*)
	die "unknown command $cmd" ;;
esac
