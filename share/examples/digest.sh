#!/bin/sh
# digest.sh: a daily digest of a channel, from a log of its events.
#
#   bot-listen -b irc >> ~/irc/ops.ndjson          # the log: one event a line
#   digest.sh ROOM [HOURS] < ~/irc/ops.ndjson | bot-send -b irc --to ROOM
#
# The log is what bot-listen writes, so grep and jq read it as they are:
# this picks ROOM's messages of the last HOURS (24 by default), and
# writes a markdown digest: how many messages from how many people, who
# said most, and the lines that mention an alert word (DIGEST_WORDS, a
# grep -E pattern, default "down|error|fail").  Nothing said: no output,
# so cron sends nothing.  In a crontab, with the bot's profile:
#
#   0 8 * * * digest.sh '#ops' < ~/irc/ops.ndjson | bot-send --to '#ops'
set -u
[ $# -ge 1 ] || { echo "usage: digest.sh ROOM [HOURS]" >&2; exit 64; }
room=$1 hours=${2:-24}
case $hours in '' | *[!0-9]*) echo "digest.sh: HOURS is a whole number, not '$hours'" >&2; exit 64 ;; esac
words=${DIGEST_WORDS:-down|error|fail}
since=$(( $(date +%s) - hours * 3600 ))
tmp=$(mktemp) || exit 75
trap 'rm -f "$tmp" "$tmp.hits"' EXIT
# One line "NICK<TAB>TEXT" per message; lines that are not events are skipped.
jq -R -r --arg room "$room" --argjson since "$since" '
	fromjson? // empty | objects
	| select(.type == "message" and (.to | (.id? // .)) == $room
	       and (.ts // 0) >= $since and (.body | type) == "string")
	| [(.from.nick // .from.id // "?"), (.body | gsub("[\\r\\n\\t]"; " "))]
	| @tsv' > "$tmp"
n=$(wc -l < "$tmp")
[ "$n" -gt 0 ] || exit 0
people=$(cut -f1 "$tmp" | sort -u | wc -l)
printf '**%s, the last %s hours:** %d messages from %d people.\n\n' "$room" "$hours" "$n" "$people"
printf 'Most said:\n'
cut -f1 "$tmp" | sort | uniq -c | sort -k1,1nr -k2 | head -n 5 |
	while read -r count nick; do printf -- '- %s (%s)\n' "$nick" "$count"; done
# the pattern is matched in the text, after the tab, not in the nick
if grep -Ei -- "	.*($words)" "$tmp" > "$tmp.hits"; then
	printf '\nMentions of `%s`:\n' "$words"
	head -n 10 "$tmp.hits" | while IFS="	" read -r nick text; do printf -- '- **%s**: %s\n' "$nick" "$text"; done
fi
