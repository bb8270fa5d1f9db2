#!/bin/sh
# Run every test of botpipe: C unit tests, man page lint, bats suites.
# Ends with one line "N passed, N failed".  TESTS=test/foo.bats narrows it.
B=${B:-build}
top=$(pwd)

# Every tool the suite needs, checked before anything runs: a missing one
# stops here with one line naming it and its Debian package, not with
# exit 127 deep inside a test.  want TOOL PACKAGE [PATH]: TOOL on PATH (or
# the file PATH).
missing="" packages=""
want() {
	if [ -n "${3:-}" ]; then [ -e "$3" ] && return 0; else command -v "$1" >/dev/null 2>&1 && return 0; fi
	missing="$missing ${3:-$1}"
	case " $packages " in *" $2 "*) ;; *) packages="$packages $2" ;; esac
}
# ngircd lives in /usr/sbin, which is not on every user's PATH.
case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH="$PATH:/usr/sbin" ;; esac
bats_lib=${BATS_LIB_PATH:-/usr/lib/bats}
want bats bats
for l in bats-support bats-assert bats-file; do want "$l" "$l" "$bats_lib/$l/load.bash"; done
want jq jq
want mandoc mandoc
want /usr/bin/time time /usr/bin/time
want python3 python3 /usr/bin/python3
want ngircd ngircd
want tmux tmux
want openssl openssl
want socat socat
want curl curl
want setpriv util-linux
want setsid util-linux
want pgrep procps
want timeout coreutils
[ "${VALGRIND:-}" = 1 ] && want valgrind valgrind
# LeakSanitizer names frames with llvm-symbolizer; without it the
# suppressions in test/lsan.supp (by function name) match nothing.  The
# fuzz corpora replay under ASan whenever clang is here.
symbolizer=""
if [ "${SANITIZE:-}" = 1 ] || command -v clang >/dev/null 2>&1; then
	for s in "$(command -v llvm-symbolizer 2>/dev/null)" /usr/bin/llvm-symbolizer-14 /usr/lib/llvm-14/bin/llvm-symbolizer; do
		[ -n "$s" ] && [ -x "$s" ] && { symbolizer=$s; break; }
	done
	[ -n "$symbolizer" ] || want llvm-symbolizer llvm-14
fi
if [ -n "$missing" ]; then
	echo "test/run.sh: missing:$missing; run 'sh test/deps.sh' (or apt-get install$packages)" >&2
	exit 69
fi
# Tests of hostile local users run programs as nobody (setpriv): as root,
# that user must be able to run a program at all (a root folder of mode
# 0700, as some chroots have, stops it from loading libc).
if [ "$(id -u)" -eq 0 ] && ! setpriv --reuid=nobody --regid=nogroup --clear-groups /bin/true 2>/dev/null; then
	echo "test/run.sh: the user nobody cannot run /bin/true here (mode of /: $(stat -c %a /)); the tests of other local users need it" >&2
	exit 69
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

# Tests never read the user's settings or write into their state.
for v in $(env | sed -n 's/^\(BOT_[A-Z0-9_]*\)=.*/\1/p'); do unset "$v"; done
export XDG_CONFIG_HOME="$tmp/config" XDG_STATE_HOME="$tmp/state" XDG_RUNTIME_DIR="$tmp/run"
mkdir -p "$XDG_CONFIG_HOME" "$XDG_STATE_HOME" "$XDG_RUNTIME_DIR"
export BOT_ROOT="$top" BOT_BUILD="$top/$B" LC_ALL=C.UTF-8
export PATH="$top/$B/bin:$PATH"
sym=${symbolizer:+:external_symbolizer_path=$symbolizer}
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=99:fast_unwind_on_malloc=0$sym"
export LSAN_OPTIONS="suppressions=$top/test/lsan.supp:print_suppressions=0$sym"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=99$sym"

# VALGRIND=1: every program runs under valgrind; an error fails its test.
if [ "${VALGRIND:-}" = 1 ]; then
	mkdir -p "$tmp/vg"
	for p in "$top/$B"/bin/*; do
		n=${p##*/}
		cat > "$tmp/vg/$n" <<VG
#!/bin/sh
exec valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --suppressions=$top/test/valgrind.supp "$p" "\$@"
VG
		chmod +x "$tmp/vg/$n"
	done
	export PATH="$tmp/vg:$PATH"
fi

pass=0 fail=0
# Tally one TAP stream from a file; print what failed.
tally() {
	p=$(grep -c '^ok ' "$1")
	f=$(grep -c '^not ok ' "$1")
	# a run that failed without naming a failed test (a crash) counts once
	if [ "$2" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	pass=$((pass + p))
	fail=$((fail + f))
	if [ "$f" -gt 0 ]; then
		echo "--- $3"
		grep -v '^ok ' "$1" | head -80
	fi
}

if [ -z "${TESTS:-}" ]; then
	for t in "$top/$B"/test/test-*; do
		[ -x "$t" ] || continue
		"$t" > "$tmp/out" 2>&1
		tally "$tmp/out" $? "${t##*/}"
	done
	# Man pages: lint, and every option --help shows is documented.
	{
		n=0
		for m in doc/*.1 doc/*.7; do
			n=$((n + 1))
			if out=$(mandoc -Tlint -W warning "$m" 2>&1) && [ -z "$out" ]; then
				echo "ok $n - mandoc -Tlint $m"
			else
				echo "not ok $n - mandoc -Tlint $m"; echo "$out" | sed 's/^/# /'
			fi
		done
		for p in "$top/$B"/bin/bot-*; do
			prog=${p##*/}
			n=$((n + 1))
			missing=""
			for o in $("$p" --help | grep -o -- '--[a-z][a-z0-9-]*' | sort -u); do
				grep -q -- "$(printf '%s' "$o" | sed 's/^--//')" "doc/$prog.1" 2>/dev/null || missing="$missing $o"
			done
			if [ -f "doc/$prog.1" ] && [ -z "$missing" ]; then
				echo "ok $n - doc/$prog.1 documents every option of $prog --help"
			else
				echo "not ok $n - doc/$prog.1 lacks:$missing"
			fi
		done
	} > "$tmp/out" 2>&1
	tally "$tmp/out" 0 "man pages"
fi

bats_files=${TESTS:-$(ls test/*.bats 2>/dev/null)}
if [ -n "$bats_files" ]; then
	# shellcheck disable=SC2086
	bats --tap $bats_files > "$tmp/out" 2>&1
	tally "$tmp/out" $? "bats"
fi
# Fuzz corpora: every seed and every input that once crashed a target is
# replayed once, when clang and libFuzzer are here (test/fuzz/run.sh).
if [ -z "${TESTS:-}" ] && sh test/fuzz/run.sh --have-tools; then
	B=$B sh test/fuzz/run.sh --regress > "$tmp/out" 2>&1
	tally "$tmp/out" $? "fuzz corpora"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
