#!/bin/sh
# Fuzz every parser: build each test/fuzz/fuzz-NAME.c with clang's
# libFuzzer, ASan and UBSan, then
#   sh test/fuzz/run.sh [NAME...]            run each FUZZ_SECONDS (make fuzz)
#   sh test/fuzz/run.sh --regress [NAME...]  replay every corpus file once (TAP)
#   sh test/fuzz/run.sh --have-tools         exit 0 when clang and libFuzzer work
# NAME is the part after "fuzz-".  Seeds and crash regressions live in
# test/fuzz/corpus/NAME/, a dictionary in test/fuzz/NAME.dict.  What a run
# finds goes to $B/fuzz/corpus/NAME/ (kept between runs), crashes to
# $B/fuzz/crash/; FUZZ_MERGE=1 merges the new finds into the seed corpus.
# Targets link every lib/*.c, lib/dispatch/*.c and backends/text.c; every other
# backend is compiled in as bot_backend_NAME (with -DFUZZ_NAME defined for
# the targets) and the HTTP layer with libcurl, taken only when referenced.
set -eu
B=${B:-build}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
CLANG=${CLANG:-clang}
top=$(pwd)
out="$top/$B/fuzz"
mode=run
case "${1:-}" in
--regress) mode=regress; shift ;;
--have-tools) mode=tools; shift ;;
esac

have_tools() {
	command -v "$CLANG" >/dev/null 2>&1 || return 1
	t=$(mktemp -d)
	printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' > "$t/t.c"
	"$CLANG" -fsanitize=fuzzer,address,undefined -o "$t/t" "$t/t.c" >/dev/null 2>&1
	rc=$?
	rm -rf "$t"
	return $rc
}
if [ "$mode" = tools ]; then
	have_tools
	exit
fi
if ! have_tools; then
	echo "fuzz: clang with libFuzzer is missing (Debian: clang, libfuzzer-14-dev)" >&2
	exit 69
fi

SAN="-fsanitize=address,undefined -fno-sanitize-recover=all"
CFLAGS="-g -O1 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror
 -fno-omit-frame-pointer -Ilib -Ilib/http -Ilib/dispatch -DBOT_VERSION=\"fuzz\" -DBOT_LIBDIR=\"/nonexistent\"
 -DBOT_DATADIR=\"$top/share\""
LIBS="-ljq -lonig -lcmark-gfm-extensions -lcmark-gfm -lcurl -lcrypto -lwslay -lstrophe -lm"

# Compile src into obj unless obj is newer than src and every header.
compile() {
	src=$1 obj=$2
	shift 2
	if [ -f "$obj" ] && [ -z "$(find "$src" lib -newer "$obj" -name '*.[ch]' 2>/dev/null | head -1)" ]; then
		return 0
	fi
	mkdir -p "$(dirname "$obj")"
	# shellcheck disable=SC2086
	"$CLANG" $CFLAGS $SAN -fsanitize=fuzzer-no-link "$@" -c -o "$obj" "$src"
}

build_libs() {
	rm -f "$out/libbot.a" "$out/libhttp.a" "$out/backends.a"
	objs="" http="" be=""
	for src in lib/*.c lib/dispatch/*.c lib/http/*.c; do
		o="$out/obj/${src%.c}.o"
		compile "$src" "$o"
		case "$src" in
		lib/http/*) http="$http $o" ;;
		*) objs="$objs $o" ;;
		esac
	done
	compile backends/text.c "$out/obj/backends/text.o"
	objs="$objs $out/obj/backends/text.o"
	BACKEND_DEFS=""
	for src in backends/*.c; do
		n=${src#backends/}
		n=${n%.c}
		[ "$n" = text ] && continue
		compile "$src" "$out/obj/backends/$n.o" "-Dbot_backend=bot_backend_$n"
		be="$be $out/obj/backends/$n.o"
		BACKEND_DEFS="$BACKEND_DEFS -DFUZZ_$(echo "$n" | tr 'a-z-' 'A-Z_')"
	done
	# shellcheck disable=SC2086
	ar rcs "$out/libbot.a" $objs
	# shellcheck disable=SC2086
	[ -z "$http" ] || ar rcs "$out/libhttp.a" $http
	# shellcheck disable=SC2086
	[ -z "$be" ] || ar rcs "$out/backends.a" $be
}

# Binaries live in $B/fuzz/bin so that the registry's "build tree beside
# the program" ($B/fuzz/lib/botpipe) holds no uninstrumented module.
build_target() {
	name=$1
	compile "test/fuzz/fuzz-$name.c" "$out/obj/fuzz-$name.o" $BACKEND_DEFS
	archives=""
	for a in backends.a libhttp.a libbot.a; do
		[ -f "$out/$a" ] && archives="$archives $out/$a"
	done
	mkdir -p "$out/bin"
	# shellcheck disable=SC2086
	"$CLANG" $SAN -fsanitize=fuzzer -o "$out/bin/fuzz-$name" "$out/obj/fuzz-$name.o" \
		-Wl,--start-group $archives -Wl,--end-group $LIBS
}

corpus_dir() {
	for d in "test/fuzz/corpus/$1" "test/fuzz/corpus/fuzz-$1"; do
		[ -d "$d" ] && { echo "$d"; return; }
	done
	echo "test/fuzz/corpus/$1"
}

dict_opt() {
	for d in "test/fuzz/$1.dict" "test/fuzz/fuzz-$1.dict"; do
		[ -f "$d" ] && { echo "-dict=$d"; return; }
	done
}

if [ $# -gt 0 ]; then
	names="$*"
else
	names=$(for f in test/fuzz/fuzz-*.c; do n=${f#test/fuzz/fuzz-}; echo "${n%.c}"; done)
fi

build_libs
for n in $names; do
	build_target "$n"
done

export ASAN_OPTIONS="${ASAN_OPTIONS:-}:fast_unwind_on_malloc=0:detect_leaks=1"
export LSAN_OPTIONS="suppressions=$top/test/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

if [ "$mode" = regress ]; then
	i=0 failed=0
	for n in $names; do
		i=$((i + 1))
		c=$(corpus_dir "$n")
		count=$(find "$c" -type f 2>/dev/null | wc -l)
		if [ "$count" -eq 0 ]; then
			echo "ok $i - fuzz-$n: no corpus # SKIP"
			continue
		fi
		# -runs=0 executes every corpus file once and nothing more
		if "$out/bin/fuzz-$n" -runs=0 -close_fd_mask=3 -artifact_prefix="$out/regress-" \
			"$c" > "$out/$n.regress.log" 2>&1; then
			echo "ok $i - fuzz-$n replays its corpus ($count inputs)"
			continue
		fi
		echo "not ok $i - fuzz-$n replays its corpus ($count inputs)"
		failed=1
		# name each input that fails (the first five), with the report's key lines
		shown=0
		for f in "$c"/*; do
			[ "$shown" -lt 5 ] || { echo "# ... (more; see $out/$n.regress.log)"; break; }
			if ! "$out/bin/fuzz-$n" -artifact_prefix="$out/regress-" "$f" > "$out/$n.one.log" 2>&1; then
				shown=$((shown + 1))
				echo "# $f:"
				grep -E 'FAILED PROMISE|ERROR|SUMMARY|runtime error| in .*(/lib|backends|test/fuzz)/' "$out/$n.one.log" |
					head -8 | sed 's/^ */#   /'
			fi
		done
	done
	echo "1..$i"
	exit $failed
fi

# Fuzz each target in turn; a crash stops that target, not the others.
status=0
for n in $names; do
	c=$(corpus_dir "$n")
	mkdir -p "$out/corpus/$n" "$out/crash" "$c"
	echo "fuzz-$n: $FUZZ_SECONDS s, corpus $c" >&2
	# shellcheck disable=SC2046
	if ! "$out/bin/fuzz-$n" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
		-close_fd_mask=3 -print_final_stats=1 $(dict_opt "$n") \
		-artifact_prefix="$out/crash/$n-" "$out/corpus/$n" "$c" 2> "$out/$n.log"; then
		status=1
		echo "fuzz-$n: FAILED, see $out/$n.log; the input is in $out/crash/" >&2
		grep -E 'ERROR|SUMMARY|runtime error' "$out/$n.log" | head -5 >&2
	fi
	grep -E '^stat::number_of_executed_units|^Done' "$out/$n.log" | sed "s/^/fuzz-$n: /" >&2
	if [ "${FUZZ_MERGE:-}" = 1 ]; then
		"$out/bin/fuzz-$n" -merge=1 -close_fd_mask=3 "$c" "$out/corpus/$n" >/dev/null 2>&1 || true
	fi
done
exit $status
