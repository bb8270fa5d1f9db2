#!/bin/sh
# The console bot.  Type at the prompt; replies appear here.
#   make demo                          from the build tree (B=build)
#   sh PREFIX/share/botpipe/demo.sh    from an install
# bot-send's "sent" events go to a log file, out of the chat's way.
here=$(cd "$(dirname "$0")" && pwd)
plugins=$here/examples/plugins
if [ -n "${B:-}" ]; then
	bin=$B/bin
	log=$B/demo-events.log
else
	# An install: this file is PREFIX/share/botpipe/demo.sh, the programs
	# are in PREFIX/bin, or else wherever PATH has them.
	bin=$here/../../bin
	[ -x "$bin/bot-listen" ] || bin=$(dirname "$(command -v bot-listen || echo .)")
	log=${XDG_STATE_HOME:-$HOME/.local/state}/botpipe/demo-events.log
	mkdir -p "$(dirname "$log")" || exit 73
fi
for p in bot-listen bot-dispatch bot-send; do
	if [ ! -x "$bin/$p" ]; then
		echo "demo.sh: $p not found (in $bin); run make, or make install" >&2
		exit 69
	fi
done
cat <<MSG
botpipe console demo: you are @you, talking to @bot.
Try: !help   !echo hi   !hello   !roll 2d6   !whereami
     !inroom (talk in #room)   !inperson (back to a direct chat)   !asuser bob
Ctrl-D quits.  bot-send's events go to $log.

MSG
"$bin/bot-listen" -b text |
	"$bin/bot-dispatch" -d "$plugins" |
	"$bin/bot-send" -b text > "$log"
