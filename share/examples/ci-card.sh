#!/bin/sh
# ci-card.sh: a card from a test run's summary, to a room.
#
#   make check 2>&1 | ci-card.sh TO [NAME]
#
# Reads the run's output on standard input, passes it through to standard
# output (so the log stays whole), and from its last "N passed, N failed"
# line makes a card: green when nothing failed, red otherwise, with the
# counts, the commit and a link to the job as fields.  CI_JOB_URL and
# CI_COMMIT (or git's HEAD) fill the link and the commit when set.  The
# card goes to bot-send's backend and settings (flags in BOT_*, or the
# config file's profile in BOT_PROFILE); the exit status is the run's
# verdict: 0 when nothing failed, 1 when something did or no summary
# line was found.
set -u
[ $# -ge 1 ] || { echo "usage: ci-card.sh TO [NAME]" >&2; exit 64; }
to=$1 name=${2:-tests}
log=$(mktemp) || exit 75
trap 'rm -f "$log"' EXIT
tee "$log"
summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
if [ -z "$summary" ]; then
	passed=0 failed=? color=red verdict="no summary"
else
	passed=${summary%% passed*}
	failed=${summary#*passed, }
	failed=${failed%% failed*}
	if [ "$failed" -eq 0 ]; then color=green verdict=passed; else color=red verdict=failed; fi
fi
commit=${CI_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}
set -- --title "$name: $verdict" --color "$color" --to "$to" \
	--field "passed=$passed" --field "failed=$failed" --field "commit=$commit"
[ -n "${CI_JOB_URL:-}" ] && set -- "$@" --link "$CI_JOB_URL"
bot-card "$@" | bot-send > /dev/null || exit 1
[ "$verdict" = passed ]
