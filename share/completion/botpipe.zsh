
# ---- the completion function (share/completion/botpipe.zsh) ----

# The backends there are: the program's own list, else the build's.
_botpipe_backends() {
	local out
	out=$(${words[1]} -b _ --help 2>&1 >/dev/null)
	out=${${(M)out%%\(backends: *}#\(backends: }
	out=${out%\)}
	compadd -- ${(s:, :)out}
}

# The [profile] sections of the config file.
_botpipe_profiles() {
	local f=${BOT_CONFIG:-${XDG_CONFIG_HOME:-$HOME/.config}/botpipe/config} i
	for ((i = 2; i < CURRENT; i++)); do
		case ${words[i]} in
		-c | --config) f=${words[i+1]} ;;
		--config=*) f=${words[i]#*=} ;;
		esac
	done
	[[ -r $f ]] || return 1
	compadd -- ${(f)"$(sed -n 's/^[[:space:]]*\[\([^]]*\)\][[:space:]]*$/\1/p' $f)"}
}

_botpipe() {
	local backend=${BOT_BACKEND:-text} i
	local -a specs
	for ((i = 2; i < CURRENT; i++)); do
		case ${words[i]} in
		-b | --backend) backend=${words[i+1]} ;;
		--backend=*) backend=${words[i]#*=} ;;
		esac
	done
	backend=${backend%%@*}   # an instance: NAME@PROFILE takes NAME's options
	local prog=${service//-/_} be=${backend//[^a-z0-9]/_}
	specs=(${(P)${:-_botpipe_spec_$prog}})
	# only a program with --backend (repeatable: *--backend) takes a backend's options
	if (( ${specs[(I)(\*|)--backend\[*]} )); then
		specs+=(${(P)${:-_botpipe_spec_backend_$be}})
	fi
	if [[ $service == bot-room ]]; then
		specs+=("1:action:(${_botpipe_actions[*]})" '*:argument:_files')
	else
		specs+=('*:argument:_files')
	fi
	_arguments -s -S $specs
}

_botpipe "$@"
