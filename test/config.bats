#!/usr/bin/env bats
# Settings: flags, then BOT_* variables, then the config file, then defaults.

load helpers/common

setup() {
	conf="$XDG_CONFIG_HOME/botpipe/config"
	mkdir -p "${conf%/*}"
}

teardown() { rm -f "$conf"; }

# Which prefix does bot-dispatch answer to?  Prints the echoed bodies.
try_prefixes() {
	{ dm '?echo file' 1; dm '%echo env' 2; dm '&echo flag' 3; dm '!echo default' 4; } |
		bot-dispatch -j 1 "$@" | bodies
}

@test "the built-in default applies when nothing is set" {
	run try_prefixes
	assert_output "default"
}

@test "the config file beats the default, the environment beats the file, a flag beats both" {
	echo 'prefix = ?' > "$conf"
	run try_prefixes
	assert_output "file"
	BOT_PREFIX=% run try_prefixes
	assert_output "env"
	BOT_PREFIX=% run try_prefixes --prefix '&'
	assert_output "flag"
}

@test "a [profile] section applies with --profile or BOT_PROFILE and wins over the top" {
	printf '# comment\nprefix ?\n\n[work]\nprefix = "%%"\n[home]\nprefix &\n' > "$conf"
	run try_prefixes
	assert_output "file"
	run try_prefixes --profile work
	assert_output "env"
	BOT_PROFILE=home run try_prefixes
	assert_output "flag"
}

@test "-c FILE reads another file; a missing one is a configuration error" {
	echo 'prefix = %' > "$BATS_TEST_TMPDIR/other"
	run try_prefixes -c "$BATS_TEST_TMPDIR/other"
	assert_output "env"
	run --separate-stderr bot-dispatch -c "$BATS_TEST_TMPDIR/nope" < /dev/null
	assert_equal "$status" 78
	assert_equal "$stderr" "bot-dispatch: error: $BATS_TEST_TMPDIR/nope: No such file or directory"
}

@test "a syntax error in the config file names file and line, and nothing starts" {
	printf 'prefix = ?\n[broken\n' > "$conf"
	run --separate-stderr bot-dispatch <<< "$(dm '!echo x')"
	assert_equal "$status" 78
	assert_equal "$stderr" "bot-dispatch: error: $conf:2: a section header is [NAME]"
	assert_equal "$output" ""
	printf 'jobs! = 3\n' > "$conf"
	run --separate-stderr bot-dispatch < /dev/null
	assert_equal "$status" 78
	assert_equal "$stderr" "bot-dispatch: error: $conf:1: 'jobs!' is not a setting name (letters, digits and -)"
}

@test "a bad value: usage error from a flag, configuration error from the environment or file" {
	run --separate-stderr bot-dispatch --jobs many < /dev/null
	assert_equal "$status" 64
	assert_equal "$stderr" "bot-dispatch: error: command line: --jobs: expected a whole number, got 'many'"
	BOT_JOBS=many run --separate-stderr bot-dispatch < /dev/null
	assert_equal "$status" 78
	assert_equal "$stderr" "bot-dispatch: error: BOT_JOBS: --jobs: expected a whole number, got 'many'"
	echo 'pass = maybe' > "$conf"
	run --separate-stderr bot-dispatch < /dev/null
	assert_equal "$status" 78
	assert_equal "$stderr" "bot-dispatch: error: $conf: --pass: expected true or false, got 'maybe'"
}

@test "unknown options and missing values are usage errors" {
	run --separate-stderr bot-dispatch --frobnicate
	assert_equal "$status" 64
	assert_equal "$stderr" "bot-dispatch: error: unknown option --frobnicate (see --help)"
	run --separate-stderr bot-dispatch -j
	assert_equal "$status" 64
	assert_equal "$stderr" "bot-dispatch: error: option -j needs N"
	run --separate-stderr bot-send --raw=yes
	assert_equal "$status" 64
	assert_equal "$stderr" "bot-send: error: option --raw takes no value"
}

@test "a list setting from the environment is comma-separated; flags repeat" {
	mkdir -p "$BATS_TEST_TMPDIR/a" "$BATS_TEST_TMPDIR/b"
	printf '#!/bin/sh\necho from-a\n' > "$BATS_TEST_TMPDIR/a/one"
	printf '#!/bin/sh\necho from-b\n' > "$BATS_TEST_TMPDIR/b/two"
	chmod +x "$BATS_TEST_TMPDIR"/a/one "$BATS_TEST_TMPDIR"/b/two
	BOT_PLUGINS="$BATS_TEST_TMPDIR/a,$BATS_TEST_TMPDIR/b" run bash -c "{ $(declare -f dm); dm '!one'; dm '!two'; } | bot-dispatch -j 1 | jq -r .body"
	assert_output $'from-a\nfrom-b'
	run bash -c "{ $(declare -f dm); dm '!one'; dm '!two'; } | bot-dispatch -j 1 -d $BATS_TEST_TMPDIR/a --plugins=$BATS_TEST_TMPDIR/b | jq -r .body"
	assert_output $'from-a\nfrom-b'
}

@test "an unknown backend is one line listing those that exist" {
	run --separate-stderr bot-listen -b nosuch
	assert_equal "$status" 78
	assert_regex "$stderr" "^bot-listen: error: unknown backend 'nosuch' \(backends: [a-z, ]*text[a-z, ]*\)$"
	run --separate-stderr bot-send -b ../../etc/passwd --to x y
	assert_equal "$status" 78
	assert_regex "$stderr" "^bot-send: error: unknown backend '../../etc/passwd' \(backends: "
}

@test "every program has --help and --version" {
	for p in bot-listen bot-dispatch bot-send; do
		run "$p" --help
		assert_success
		assert_line --index 0 --regexp "^usage: $p "
		run "$p" --version
		assert_success
		assert_output --regexp "^$p \(botpipe\) [0-9]+\.[0-9]+\.[0-9]+$"
	done
}

@test "an unknown key in the config file is a warning naming file, line and key, once; another program's or backend's key is not" {
	printf 'prefix = ?\nirc-servr = x\njobs = 2\nirc-server = h\nwebhook-url-file = /x\n[other]\njobz = 3\nirc-servr = y\n' > "$conf"
	run --separate-stderr try_prefixes
	assert_output "file"
	# irc-servr is left to the programs that use the irc backend
	assert_equal "$stderr" "bot-dispatch: warning: $conf:7: unknown key 'jobz'"
	# the program that uses the backend knows its keys, and says which is wrong
	[ -f "$BOT_BUILD/lib/botpipe/irc.so" ] || skip "the irc backend is not built"
	printf 'irc-servr = x\nirc-nick = b\ntitle = T\n' > "$conf"
	run --separate-stderr bot-card --to '#x' body
	assert_success
	assert_equal "$stderr" ""
	run --separate-stderr bot-send -b irc --irc-server 127.0.0.1:1 --retries 0 --to '#x' hi
	assert_equal "$status" 75
	assert_equal "${stderr_lines[0]}" "bot-send: warning: $conf:1: unknown key 'irc-servr'"
	run --separate-stderr bot-send -q -b irc --irc-server 127.0.0.1:1 --retries 0 --to '#x' hi
	[[ "$stderr" != *warning* ]]
}

@test "a config file that others can write, or in a folder they can, or not ours: refused, one line naming the fix" {
	echo 'prefix = ?' > "$conf"
	chmod 666 "$conf"
	run --separate-stderr bot-dispatch < /dev/null
	assert_equal "$status" 78
	assert_equal "$stderr" "bot-dispatch: error: $conf: others may write it (mode 666): refused; chmod go-w"
	chmod 620 "$conf"
	run --separate-stderr bot-dispatch < /dev/null
	assert_equal "$status" 78
	chmod 644 "$conf"
	chmod 777 "${conf%/*}"
	run --separate-stderr bot-dispatch < /dev/null
	assert_equal "$status" 78
	assert_equal "$stderr" "bot-dispatch: error: $conf: its folder ${conf%/*}: others may write it (mode 777): refused; chmod go-w"
	# a sticky folder (/tmp): no one else can replace our file there
	chmod 1777 "${conf%/*}"
	run try_prefixes
	assert_output "file"
	chmod 755 "${conf%/*}"
	chown 65534 "$conf"
	run --separate-stderr bot-dispatch < /dev/null
	assert_equal "$status" 78
	assert_equal "$stderr" "bot-dispatch: error: $conf: owned by uid 65534, not by us (uid 0): refused"
	chown "$(id -u)" "$conf"
	run try_prefixes
	assert_output "file"
}

@test "a config file of root's is read by another user; one of another user is not read by root (-c, BOT_CONFIG alike)" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to act as another user"
	# VALGRIND=1 puts wrappers in a folder only root may enter
	[ "${VALGRIND:-}" != 1 ] || skip "under VALGRIND=1 nobody cannot run the wrappers"
	dir=$(mktemp -d /tmp/botpipe-cfg.XXXXXX)
	chmod 755 "$dir"
	echo 'prefix = ?' > "$dir/config"
	chmod 644 "$dir/config"
	run --separate-stderr sh -c "$(declare -f dm); dm '?echo as nobody' | setpriv --reuid=65534 --regid=65534 --clear-groups \
		env HOME=$dir XDG_CONFIG_HOME=$dir '$(command -v bot-dispatch)' -c '$dir/config' | jq -r .body"
	assert_output "as nobody"
	chown 65534:65534 "$dir/config"
	BOT_CONFIG="$dir/config" run --separate-stderr bot-dispatch < /dev/null
	assert_equal "$status" 78
	assert_equal "$stderr" "bot-dispatch: error: $dir/config: owned by uid 65534, not by us (uid 0): refused"
	rm -rf "$dir"
}

@test "a secret in a config file that others can read is a warning; in a private one it is not" {
	printf 'webhook-url = http://127.0.0.1:1/hook\n' > "$conf"
	chmod 644 "$conf"
	run --separate-stderr bot-send -b webhook --retries 0 --to '#x' hi
	assert_equal "$status" 75
	assert_equal "${stderr_lines[0]}" "bot-send: warning: $conf:1: 'webhook-url' is a secret and others can read this file (mode 0644): chmod go-r $conf"
	chmod 600 "$conf"
	run --separate-stderr bot-send -b webhook --retries 0 --to '#x' hi
	assert_equal "$status" 75
	[[ "$stderr" != *warning* ]]
}
