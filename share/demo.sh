#!/bin/sh
# make demo: the console bot.  Type at the prompt; replies appear here.
# bot-send's "sent" events go to a log file, out of the chat's way.
B=${B:-build}
log="$B/demo-events.log"
cat <<MSG
botpipe console demo: you are @you, talking to @bot.
Try: !help   !echo hi   !hello   !roll 2d6   !whereami
     !inroom (talk in #room)   !inperson (back to a direct chat)   !asuser bob
Ctrl-D quits.  bot-send's events go to $log.

MSG
"$B/bin/bot-listen" -b text |
	"$B/bin/bot-dispatch" -d share/examples/plugins |
	"$B/bin/bot-send" -b text > "$log"
