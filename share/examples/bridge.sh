#!/bin/sh
# bridge.sh: a room on one network and a room on another, relayed both
# ways, one pipeline each way, keeping who said what ("<alice> hi").
#
#   bridge.sh PROFILE_A ROOM_A PROFILE_B ROOM_B [NICK...]
#
# PROFILE_A and PROFILE_B are config file profiles, one per network (the
# backend, the server, the bot's nick, the channels it joins: see
# config in this folder).  NICKs are never relayed: name the bridge's own
# nicks when they differ between the networks or another bridge runs
# there.  Each bot-send acts through its bot-listen's session socket, so
# the bridge is one connection per network and answers as itself.
#
# The two lines are the whole bridge; this script only starts both and
# stops both (on INT or TERM).
set -u
[ $# -ge 4 ] || { echo "usage: bridge.sh PROFILE_A ROOM_A PROFILE_B ROOM_B [NICK...]" >&2; exit 64; }
a=$1 room_a=$2 b=$3 room_b=$4
shift 4
share=${BOTPIPE_SHARE:-$(cd "$(dirname "$0")/.." && pwd)}
trap 'trap - INT TERM; kill 0' INT TERM

bot-listen --profile "$a" | jq -c --unbuffered -L "$share" --arg to "$room_b" 'include "bot"; relay($to; $ARGS.positional)' --args "$@" | bot-send --raw --profile "$b" > /dev/null &
bot-listen --profile "$b" | jq -c --unbuffered -L "$share" --arg to "$room_a" 'include "bot"; relay($to; $ARGS.positional)' --args "$@" | bot-send --raw --profile "$a" > /dev/null &

wait
