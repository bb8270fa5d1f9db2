
# ---- the completion function (share/completion/botpipe.bash) ----

# The backends there are: the program's own list ("unknown backend ...
# (backends: a, b)"), which also finds a third party's; else the build's.
_botpipe_backends() {
	local list
	list=$("$1" -b _ --help 2>&1 >/dev/null | sed -n 's/.*(backends: \(.*\))$/\1/p')
	list=${list//,/}
	printf '%s\n' "${list:-$_botpipe_backends_built}"
}

# The [profile] sections of the config file the command line would read.
_botpipe_profiles() {
	local f=$1
	if [ -z "$f" ]; then
		if [ -n "${XDG_CONFIG_HOME:-}" ]; then f=$XDG_CONFIG_HOME/botpipe/config
		else f=$HOME/.config/botpipe/config; fi
	fi
	[ -r "$f" ] && sed -n 's/^[[:space:]]*\[\([^]]*\)\][[:space:]]*$/\1/p' "$f"
}

_botpipe() {
	local prog=${COMP_WORDS[0]##*/} cur=${COMP_WORDS[COMP_CWORD]} prev=
	local backend=${BOT_BACKEND:-} config=${BOT_CONFIG:-} w meta i operands=0
	COMPREPLY=()
	[ "$COMP_CWORD" -gt 0 ] && prev=${COMP_WORDS[COMP_CWORD-1]}
	# what the words before this one chose: backend, config file, operands
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		case $w in
		-b | --backend) backend=${COMP_WORDS[i+1]:-}; ((i++)); continue ;;
		--backend=*) backend=${w#*=}; continue ;;
		-c | --config) config=${COMP_WORDS[i+1]:-}; ((i++)); continue ;;
		--config=*) config=${w#*=}; continue ;;
		--*=*) continue ;;
		-*)
			meta=${_botpipe_meta[$prog:$w]:-${_botpipe_meta[backend:${backend%%@*}:$w]:-}}
			[ -n "$meta" ] && ((i++))
			continue ;;
		esac
		operands=$((operands + 1))
	done
	backend=${backend:-text}
	backend=${backend%%@*}   # an instance: NAME@PROFILE takes NAME's options
	# only a program with --backend takes a backend's options
	[[ " ${_botpipe_words[$prog]:-} " == *" --backend "* ]] || backend=none
	# --name=VALUE: complete the value
	if [[ $cur == --*=* ]]; then
		prev=${cur%%=*}
		cur=${cur#*=}
	elif [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "${_botpipe_words[$prog]:-} ${_botpipe_words[backend:$backend]:-}" -- "$cur"))
		return 0
	fi
	meta=${_botpipe_meta[$prog:$prev]:-${_botpipe_meta[backend:$backend:$prev]:-}}
	if [ -n "$meta" ]; then
		case $prev in
		-b | --backend) COMPREPLY=($(compgen -W "$(_botpipe_backends "${COMP_WORDS[0]}")" -- "$cur")) ;;
		--profile) COMPREPLY=($(compgen -W "$(_botpipe_profiles "$config")" -- "$cur")) ;;
		*)
			case $meta in
			DIR) COMPREPLY=($(compgen -d -- "$cur")) ;;
			FILE | PATH) COMPREPLY=($(compgen -f -- "$cur")) ;;
			esac ;;
		esac
		return 0
	fi
	if [ "$prog" = bot-room ] && [ "$operands" -eq 0 ]; then
		COMPREPLY=($(compgen -W "$_botpipe_actions" -- "$cur"))
		return 0
	fi
	COMPREPLY=($(compgen -f -- "$cur"))
}
complete -F _botpipe bot-listen bot-dispatch bot-send bot-card bot-room
