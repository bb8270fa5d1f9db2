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
