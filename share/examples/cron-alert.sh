#!/bin/sh
# cron-alert.sh: run a check; when it fails, post what it printed to a room.
#
#   cron-alert.sh TO COMMAND [ARG...]
#
# Nothing is sent while COMMAND succeeds.  When it fails, its output (the
# last 40 lines, standard error included) goes to TO as a code block,
# through an outbox: a message that cannot be delivered now (the network
# is down, the server says 429) stays there, and the second crontab line
# sends it later.  Settings come from the config file as for any
# bot-send (BOT_PROFILE picks a profile).  cron runs jobs with a bare
# environment: name the profile and PATH in the crontab itself.
#
#   PATH=/usr/bin:/bin
#   BOT_PROFILE=ops
#   */5 * * * * /usr/share/botpipe/examples/cron-alert.sh '#ops' df-check /srv
#   */5 * * * * bot-send --flush "$HOME/.local/state/botpipe/outbox"
#
# Exit status: COMMAND's when it succeeds; else bot-send's: 0 delivered,
# 75 kept in the outbox for the flush, another code when it was refused.
set -u
[ $# -ge 2 ] || { echo "usage: cron-alert.sh TO COMMAND [ARG...]" >&2; exit 64; }
to=$1
shift
state=${XDG_STATE_HOME:-$HOME/.local/state}
export BOT_OUTBOX="${BOT_OUTBOX:-$state/botpipe/outbox}"
out=$(mktemp) || exit 75
trap 'rm -f "$out"' EXIT
"$@" > "$out" 2>&1
rc=$?
[ "$rc" -eq 0 ] && exit 0
{
	printf 'alert: %s failed (exit %d) on %s\n' "$*" "$rc" "$(uname -n)"
	tail -n 40 "$out"
} | bot-send --to "$to" --code
