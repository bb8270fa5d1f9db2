# Shared by the suites that talk to a real ngircd (irc, bot-room, session):
# one server per file on a free loopback port, a session folder per test.
bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert

HELPERS="$BATS_TEST_DIRNAME/helpers"

setup_file() {
	export SRV="$BATS_FILE_TMPDIR/ngircd"
	export PORT
	PORT=$("$HELPERS/ngircd.sh" start "$SRV")
}

teardown_file() {
	"$HELPERS/ngircd.sh" stop "$SRV"
}

# The common part of each test's setup: its own session folder
# (botpipe-session(7)) and the server's address.
ngircd_test_setup() {
	W="$BATS_TEST_TMPDIR"
	export XDG_RUNTIME_DIR="$W/run"
	mkdir -p -m 700 "$XDG_RUNTIME_DIR"
	export BOT_IRC_SERVER="127.0.0.1:$PORT"
}
