#!/usr/bin/env bats
# bash and zsh completion ($B/completion/, generated from the programs'
# option tables by share/completion/gen.sh): every option --help shows,
# the backends, the config file's profiles, folders for plugin folders,
# bot-room's actions.
load helpers/common

setup() {
	W=$BATS_TEST_TMPDIR
	COMP="$BOT_BUILD/completion"
}

# complete WORD...: COMPREPLY, one a line, for the command line WORD...
# with the cursor on the last word (give "" for an empty one).
complete_line() {
	bash -c '
		source "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		_botpipe
		printf "%s\n" "${COMPREPLY[@]}"' _ "$COMP/botpipe.bash" "$@"
}

# The long and short options a --help lists (secrets have none).
help_options() {
	"$@" --help | sed -nE 's/^  (-([A-Za-z0-9]), |    )(--[a-z0-9-]+).*/\2 \3/p' |
		tr ' ' '\n' | sed -e '/^$/d' -e 's/^[A-Za-z0-9]$/-&/' | sort -u
}

@test "bash: every option each program's --help shows is offered, and nothing else" {
	for p in bot-listen bot-dispatch bot-send bot-card bot-room; do
		diff <(help_options "$p") <(complete_line "$p" - | sort -u) ||
			{ echo "$p: the completion and --help differ"; return 1; }
	done
}

@test "bash: a backend's options come with -b NAME, as its --help shows them" {
	diff <(help_options bot-send -b irc) <(complete_line bot-send -b irc - | sort -u)
	run complete_line bot-listen --backend=webhook --webhook-
	assert_line --partial -- "--webhook-template"
	run complete_line bot-listen --irc-
	assert_output ""
	# an instance, NAME@PROFILE, takes NAME's options
	run complete_line bot-listen -b text -b irc@libera --irc-ser
	assert_output -- "--irc-server"
}

@test "bash: -b offers the backends there are" {
	run complete_line bot-listen -b ""
	# every module built, and the console
	assert_output "$( { echo text; ls "$BOT_BUILD/lib/botpipe" | sed -n 's/\.so$//p'; } | sort)"
	run complete_line bot-send --backend w
	assert_output webhook
	run complete_line bot-send --backend=tex
	assert_output text
}

@test "bash: --profile offers the config file's profiles (-c FILE, BOT_CONFIG, or the default file)" {
	printf 'backend = text\n[ops]\nbackend = irc\n  [webhook]  \n[irc-local]\n' > "$W/config"
	run complete_line bot-send -c "$W/config" --profile ""
	assert_output "$(printf '%s\n' ops webhook irc-local)"
	BOT_CONFIG="$W/config" run complete_line bot-dispatch --profile i
	assert_output irc-local
	mkdir -p "$W/xdg/botpipe"
	printf '[home]\n' > "$W/xdg/botpipe/config"
	XDG_CONFIG_HOME="$W/xdg" run complete_line bot-room --profile ""
	assert_output home
}

@test "bash: plugin folders complete as folders, files as files" {
	mkdir -p "$W/plugins-a" "$W/plugins-b"
	touch "$W/plugins-file"
	cd "$W"
	run sh -c 'bash -c "$0" | sort' "$(declare -f complete_line); COMP=$COMP; complete_line bot-dispatch -d plugins-"
	assert_output "$(printf '%s\n' plugins-a plugins-b)"
	run complete_line bot-dispatch --acl plugins-f
	assert_output plugins-file
}

@test "bash: bot-room's first operand is an action, from its usage line" {
	run complete_line bot-room ""
	for a in info create join leave destroy invite topic occupants list; do assert_line "$a"; done
	run complete_line bot-room -b irc t
	assert_output topic
	# after the action: not actions any more
	cd "$W"
	touch "$W/a-file"
	run complete_line bot-room join ""
	assert_line a-file
	refute_line topic
}

@test "bash: the completion is registered for the five programs" {
	run bash -c 'source "$1"; complete -p bot-listen bot-dispatch bot-send bot-card bot-room' _ "$COMP/botpipe.bash"
	assert_success
	assert_line "complete -F _botpipe bot-send"
}

@test "zsh: the generated file parses and holds every option of every program" {
	command -v zsh >/dev/null || skip "zsh is not installed"
	zsh -n "$COMP/_botpipe"
	head -1 "$COMP/_botpipe" | grep -qx '#compdef bot-listen bot-dispatch bot-send bot-card bot-room'
	for p in bot-listen bot-dispatch bot-send bot-card bot-room; do
		for o in $(help_options "$p"); do
			grep -qF -- "'$o[" "$COMP/_botpipe" || grep -qF -- "'*$o[" "$COMP/_botpipe" ||
				{ echo "$p: $o is not in _botpipe"; return 1; }
		done
	done
}

@test "zsh: completing a real command line offers the options, the backends and the profiles" {
	command -v zsh >/dev/null || skip "zsh is not installed"
	printf '[ops]\n[deploy]\n' > "$W/config"
	# compinit with the generated file first on fpath; a zpty-free check:
	# _botpipe_profiles and _botpipe_backends called with words set, and
	# compadd recorded instead of shown
	run zsh -f -c '
		fpath=("$1" $fpath); autoload -U compinit; compinit -u -D
		source "$1/_botpipe" 2>/dev/null   # defines the tables and functions
		compadd() { while [[ $1 == -* ]]; do [[ $1 == -- ]] && { shift; break; }; shift; done; print -l -- "$@"; }
		words=(bot-send -c "$2" --profile ""); CURRENT=4
		_botpipe_profiles
		words=(bot-listen -b ""); CURRENT=3
		_botpipe_backends
		print -l -- $_botpipe_spec_bot_send | grep -c "^--"' _ "$COMP" "$W/config"
	assert_line ops
	assert_line deploy
	assert_line irc
	assert_line webhook
}

@test "zsh: a program with --backend gets the chosen backend's options, one without gets none" {
	command -v zsh >/dev/null || skip "zsh is not installed"
	# _arguments recorded: the specs _botpipe hands it
	specs() {
		zsh -f -c 'source "$1" 2>/dev/null; _arguments() { print -l -- "$@"; }
			service=$2; shift 2; words=("$@"); CURRENT=$#; _botpipe' _ "$COMP/_botpipe" "$@"
	}
	run specs bot-send bot-send ""
	assert_line --partial -- "--text-input["
	run specs bot-send bot-send -b irc ""
	assert_line --partial -- "--irc-server["
	refute_line --partial -- "--text-input["
	# an instance takes its backend's options
	run specs bot-listen bot-listen -b text -b irc@libera ""
	assert_line --partial -- "--irc-server["
	run specs bot-dispatch bot-dispatch ""
	refute_line --partial -- "--text-input["
	assert_line --partial -- "*--plugins["
	run specs bot-room bot-room ""
	assert_line "1:action:(info create join leave destroy invite topic occupants list)"
}
