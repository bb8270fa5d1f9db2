#!/usr/bin/env bats
# bot-dispatch against a real plugin folder: errbot's command handling,
# access control, built-ins, jq rules, and hostile input.
bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert

ROOT=${BOT_ROOT:-$(cd "$BATS_TEST_DIRNAME/.." && pwd)}

# A direct message from @bob (as bot-listen -b text writes it).
dm() {
	jq -cn --arg b "$1" --arg id "${2:-1}" '{type:"message",id:$id,backend:"text",
		from:{kind:"person",id:"@bob",person:"@bob",nick:"bob"},
		to:{kind:"person",id:"@bot",person:"@bot",nick:"bot"},body:$b,
		is_direct:true,is_group:false,is_threaded:false}'
}

# A message in #ops from bob as an occupant (aclattr as the text backend).
room() {
	jq -cn --arg b "$1" --arg id "${2:-1}" --arg who "${3:-bob}" '{type:"message",id:$id,
		backend:"text",
		from:{kind:"occupant",id:("#ops/"+$who),room:"#ops",nick:$who,person:("@"+$who),
		      aclattr:("@"+$who)},
		to:{kind:"room",id:"#ops"},body:$b,is_direct:false,is_group:true,is_threaded:false}'
}

bodies() { jq -r 'select(.type=="message") | .body'; }

setup_file() {
	P="$BATS_FILE_TMPDIR/plugins"
	mkdir -p "$P" "$BATS_FILE_TMPDIR/other" "$BATS_FILE_TMPDIR/outside"
	plugin() { cat > "$P/$1"; chmod +x "$P/$1"; }
	plugin args <<-'EOF'
	#!/bin/sh
	# help: Show each argument in brackets
	# usage: args [WORD...]
	for a in "$@"; do printf '[%s]' "$a"; done
	echo
	EOF
	plugin env <<-'EOF'
	#!/bin/sh
	# help: Show the environment
	env | sort
	EOF
	plugin stdin <<-'EOF'
	#!/bin/sh
	jq -r '"id=\(.id) body=\(.body)"'
	EOF
	plugin events <<-'EOF'
	#!/bin/sh
	echo '{"type":"message","body":"from fd 3"}' >&3
	echo '{"type":"reaction","action":"added","reaction_name":"ok","reacted_to":{"id":"x"}}' >&3
	echo 'not json' >&3
	echo stdout reply
	echo 'to the log' >&2
	EOF
	plugin forger <<-'EOF'
	#!/bin/sh
	echo '{"type":"error","code":"denied","message":"You are not allowed","event":{"id":"1"}}' >&3
	echo '{"type":"sent","id":"x","to":"#ops"}' >&3
	echo '{"type":"connection","state":"disconnected"}' >&3
	echo '{"type":"message","to":"#elsewhere","body":"aimed","plugin":"other"}' >&3
	EOF
	plugin eventstorm <<-'EOF'
	#!/bin/sh
	yes '{"type":"reaction","action":"added","reaction_name":"x","reacted_to":{"id":"1"}}' | head -n 100000 >&3
	echo done
	EOF
	plugin fail <<-'EOF'
	#!/bin/sh
	echo 'partial output'
	echo 'a secret stack trace' >&2
	exit 3
	EOF
	plugin sleep <<-'EOF'
	#!/bin/sh
	sleep "$1"
	echo "slept $1"
	EOF
	plugin forker <<-'EOF'
	#!/bin/sh
	# a child and a grandchild that ignore SIGTERM and outlive us
	trap '' TERM
	( trap '' TERM; sleep 300; echo late > "$1" ) &
	sleep 300
	EOF
	plugin spin <<-'EOF'
	#!/bin/sh
	while :; do :; done
	EOF
	plugin hog <<-'EOF'
	#!/usr/bin/python3
	x = bytearray(300 * 1024 * 1024)
	print("got 300 MB")
	EOF
	plugin big <<-'EOF'
	#!/bin/sh
	head -c 100000000 /dev/zero | tr '\0' x
	EOF
	plugin nostdin <<-'EOF'
	#!/bin/sh
	echo never read
	EOF
	plugin closeout <<-'EOF'
	#!/bin/sh
	exec >&-
	sleep 0.2
	EOF
	plugin deploy <<-'EOF'
	#!/bin/sh
	# help: Deploy
	echo "deploy: $*"
	EOF
	plugin deploy_status <<-'EOF'
	#!/bin/sh
	# help: Deployment status
	echo "deploy_status: $*"
	EOF
	plugin restart <<-'EOF'
	#!/bin/sh
	# help: Restart the service
	# admin-only: yes
	echo restarted
	EOF
	plugin secret <<-'EOF'
	#!/bin/sh
	# help: Not listed
	# hidden: yes
	echo hush
	EOF
	plugin echo <<-'EOF'
	#!/bin/sh
	echo "plugin echo: $*"
	EOF
	plugin .hidden <<-'EOF'
	#!/bin/sh
	echo "hidden ran"
	EOF
	printf '#!/bin/sh\necho "outside ran"\n' > "$BATS_FILE_TMPDIR/outside/evil"
	chmod +x "$BATS_FILE_TMPDIR/outside/evil"
	ln -s "$BATS_FILE_TMPDIR/outside/evil" "$P/evil"
	ln -s ../plugins/deploy "$P/alias"
	# a file that cannot run, in a folder of its own (bot-dispatch warns of it)
	mkdir -p "$BATS_FILE_TMPDIR/broken"
	printf '#!/bin/sh\necho no\n' > "$BATS_FILE_TMPDIR/broken/notexec"
	mkdir "$P/adir"
	# a command in C, built here
	cat > "$BATS_FILE_TMPDIR/cplug.c" <<-'EOF'
	#include <fcntl.h>
	#include <stdio.h>
	#include <stdlib.h>
	int main(int argc, char **argv)
	{
		char buf[65536];
		size_t n = fread(buf, 1, sizeof buf - 1, stdin);
		buf[n] = 0;
		printf("C %s argc=%d", getenv("BOT_COMMAND"), argc);
		for (int i = 1; i < argc; i++)
			printf(" <%s>", argv[i]);
		printf(" fds:");
		for (int fd = 0; fd < 1024; fd++)
			if (fcntl(fd, F_GETFD) != -1)
				printf(" %d", fd);
		printf(" stdin=%zu\n", n);
		return 0;
	}
	EOF
	cc -o "$P/cplug" "$BATS_FILE_TMPDIR/cplug.c"
	printf 'help: A command in C\nusage: cplug ARGS\n' > "$P/cplug.help"
	export P
}

disp() { bot-dispatch -d "$P" "$@"; }

teardown() {
	[ -z "${NOBODY_DIR:-}" ] || rm -rf "$NOBODY_DIR"
	[ -z "${PIPE_PID:-}" ] || kill -TERM -- "-$PIPE_PID" 2>/dev/null || true
	[ -z "${SRV:-}" ] || "$BATS_TEST_DIRNAME/helpers/ngircd.sh" stop "$SRV"
}

# --- finding commands -------------------------------------------------------

@test "!echo: the built-in says the arguments back; no arguments, no reply" {
	run -0 bash -c "{ $(declare -f dm); dm '!echo hello  world'; dm '!echo'; } | bot-dispatch | jq -c ."
	assert_output '{"type":"message","to":{"kind":"person","id":"@bob","person":"@bob","nick":"bob"},"from":{"kind":"person","id":"@bot","person":"@bot","nick":"bot"},"body":"hello  world","backend":"text","in_reply_to":"1","id":"1.reply"}'
}

@test "prefix: only prefixed text is a command; --prefix changes it" {
	run -0 bash -c "$(declare -f dm); { dm 'echo no'; dm '!echo yes'; dm '?echo q'; } | bot-dispatch | jq -r .body"
	assert_output "yes"
	run -0 bash -c "{ $(declare -f dm); dm '!echo no'; dm '?echo q'; } | bot-dispatch --prefix '?' | jq -r .body"
	assert_output "q"
}

@test "alternative prefixes: separators once each, longest wins, word boundary, case" {
	inputs() { { dm 'Err echo 1'; dm 'Err, echo 2'; dm 'Errbot: echo 3'; dm 'Err!echo 4';
	         dm 'Erroneous idea'; dm 'err echo 6'; dm 'Err:,echo 7'; }; }
	run -0 bash -c "$(declare -f dm inputs); inputs | bot-dispatch -a Err -a Errbot | jq -r .body"
	assert_output $'1\n2\n3\n4\n7'
	run -0 bash -c "$(declare -f dm inputs); inputs | bot-dispatch -a Err -a Errbot --alt-prefix-caseless | jq -r .body"
	assert_output $'1\n2\n3\n4\n6\n7'
}

@test "prefix optional in a direct chat, not in a room; not found there too" {
	run -0 bash -c "$(declare -f dm room); { dm 'echo dm'; room 'echo room'; dm 'hello there'; } |
		bot-dispatch --prefix-optional | jq -r .body"
	assert_output $'dm\nCommand "hello" / "hello there" not found.\n\nDid you mean "!help" ?'
}

@test "multi-word commands: the longest _-joined name wins, the _ form works" {
	run -0 bash -c "$(declare -f dm); { dm '!deploy status web'; dm '!deploy web'; dm '!deploy_status x';
		dm '!deploy  status  a   b'; } | bot-dispatch -j 1 -d '$P' | jq -r .body"
	assert_output $'deploy_status: web\ndeploy: web\ndeploy_status: x\ndeploy_status: a b'
}

@test "not found: errbot's text with sorted suggestions; silent with --suppress-not-found" {
	run -0 bash -c "$(declare -f dm); { dm '!hlep'; dm '!foo bar baz'; dm '!'; dm '!deploy_stat x'; } |
		bot-dispatch -j 1 -d '$P' | jq -c .body"
	assert_output - <<-'EOF'
	"Command \"hlep\" not found.\n\nDid you mean \"!help\" or \"!sleep\" ?"
	"Command \"foo\" / \"foo bar\" not found."
	"Command \"\" not found."
	"Command \"deploy_stat\" / \"deploy_stat x\" not found.\n\nDid you mean \"!deploy status\" or \"!deploy\" ?"
	EOF
	run -0 bash -c "$(declare -f dm); dm '!hlep' | bot-dispatch --suppress-not-found"
	assert_output ""
}

@test "room chatter is never a command and never gets not found" {
	run -0 bash -c "$(declare -f room); room 'hello all' | bot-dispatch"
	assert_output ""
}

@test "delayed (backlog) messages are never commands" {
	run -0 bash -c "$(declare -f dm); dm '!echo old' | jq -c '.delayed=true' | bot-dispatch"
	assert_output ""
}

# --- the plugin contract ----------------------------------------------------

@test "argv: POSIX quoting, no expansion; shell metacharacters printed literally" {
	run -0 bash -c "$(declare -f dm); { dm '!args a \"b c\" '\''d e'\'' f\\ g'; dm '!args \$(id) \`id\` \$HOME ~ *';
		dm '!args ; rm -rf / && echo pwned | cat'; dm '!args “smart quotes” —flag'; } |
		bot-dispatch -j 1 -d '$P' | jq -r .body"
	assert_output - <<-'EOF'
	[a][b c][d e][f g]
	[$(id)][`id`][$HOME][~][*]
	[;][rm][-rf][/][&&][echo][pwned][|][cat]
	[smart quotes][--flag]
	EOF
}

@test "an unterminated quote: errbot's parse error reply, nothing runs" {
	run -0 bash -c "$(declare -f dm); dm '!args \"open' | bot-dispatch -d '$P' | jq -c '[.type, .body // .code]'"
	assert_output $'["message","Sorry, I couldn\'t parse your arguments. No closing quotation"]\n["error","bad_arguments"]'
}

@test "the event on stdin, a clean environment with BOT_* variables, --env" {
	run -0 bash -c "$(declare -f room); room '!stdin' m7 | bot-dispatch -d '$P' | jq -r .body"
	assert_output "id=m7 body=!stdin"
	run -0 bash -c "$(declare -f room); room '!env  x  y ' m8 | SECRET_TOKEN=t0k FOO=bar bot-dispatch -d '$P' | jq -r .body"
	assert_line "BOT_COMMAND=env"
	assert_line "BOT_ARGS=x  y"
	assert_line "BOT_FROM=#ops/bob"
	assert_line "BOT_FROM_NICK=bob"
	assert_line "BOT_ROOM=#ops"
	assert_line "BOT_REPLY_TO=#ops"
	assert_line "BOT_MESSAGE_BACKEND=text"
	assert_line "BOT_MESSAGE_ID=m8"
	assert_line "BOT_IS_DIRECT=0"
	assert_line "BOT_COMMAND_PREFIX=!"
	assert_line "BOT_EVENTS_FD=3"
	refute_output --partial "t0k"
	refute_output --partial "FOO"
	run -0 bash -c "$(declare -f dm); dm '!env' | FOO=bar bot-dispatch -d '$P' --env FOO | jq -r .body"
	assert_line "FOO=bar"
	assert_line "BOT_IS_DIRECT=1"
	assert_line "BOT_REPLY_TO=@bob"
	run -0 bash -c "$(declare -f room); room '!env' | bot-dispatch -d '$P' --divert-to-private env | jq -r .body"
	assert_line "BOT_REPLY_TO=#ops/bob"
}

@test "no BOT_* variable a plugin gets is a setting of a botpipe program" {
	# every setting of every program, with every backend, as its variable
	settings=$(for prog in bot-listen bot-dispatch bot-send bot-card bot-room; do
		for b in "" "-b text" "-b irc" "-b webhook"; do
			"$prog" $b --help 2>/dev/null || true
		done
	done | grep -oE -- '--[a-z][a-z0-9-]*|BOT_[A-Z0-9_]+' | sed 's/^--//; s/^BOT_//' |
		tr 'a-z-' 'A-Z_' | sort -u)
	[ "$(echo "$settings" | wc -l)" -gt 50 ]
	echo "$settings" | grep -qx TO
	run -0 bash -c "$(declare -f dm room); { dm '!env' 1; room '!env' 2; } | bot-dispatch -j 1 -d '$P' |
		jq -r .body | grep -oE '^BOT_[A-Z0-9_]+' | sed 's/^BOT_//' | sort -u"
	assert_line "REPLY_TO"
	for v in $output; do
		if echo "$settings" | grep -qx "$v"; then echo "BOT_$v is a setting"; false; fi
	done
}

@test "bot-card without --to in a plugin answers whoever asked, in a direct chat and in a room" {
	mkdir -p "$BATS_TEST_TMPDIR/p"
	printf '#!/bin/sh\nbot-card --title Deploy done >&3\n' > "$BATS_TEST_TMPDIR/p/deployed"
	chmod +x "$BATS_TEST_TMPDIR/p/deployed"
	printf '!deployed\n!inroom\n!deployed\n' > "$BATS_TEST_TMPDIR/typed"
	BOT_SESSION=none bot-listen -b text --text-input "$BATS_TEST_TMPDIR/typed" --text-output /dev/null |
		bot-dispatch -j 1 -d "$BATS_TEST_TMPDIR/p" | tee "$BATS_TEST_TMPDIR/cards" |
		BOT_SESSION=none bot-send -b text --text-output "$BATS_TEST_TMPDIR/console" > "$BATS_TEST_TMPDIR/sent"
	run jq -c '[.type, .to.id, .mention.id, .in_reply_to != null, .title]' "$BATS_TEST_TMPDIR/cards"
	assert_output $'["card","@you",null,true,"Deploy"]\n["card","#room","#room/you",true,"Deploy"]'
	run jq -c '[.type, .to.id]' "$BATS_TEST_TMPDIR/sent"
	assert_output $'["sent","@you"]\n["sent","#room"]'
	run cat "$BATS_TEST_TMPDIR/console"
	assert_output --partial "Deploy"
	refute_output --partial "@bot"
}

@test "a command in C: argv, fds 0-3 only, the event on stdin, help from a sidecar" {
	run -0 bash -c "$(declare -f dm); dm '!cplug one \"two three\"' | bot-dispatch -d '$P' | jq -r .body"
	assert_output --regexp '^C cplug argc=3 <one> <two three> fds: 0 1 2 3 stdin=[0-9]+$'
	run -0 bash -c "$(declare -f dm); dm '!help cplug' | bot-dispatch -d '$P' | jq -r .body"
	assert_output $'- **!cplug** - A command in C\nusage: cplug ARGS'
}

@test "fd 3 events are forwarded, marked with their command, and aimed like a reply; stderr stays out of the chat" {
	run -0 --separate-stderr bash -c "$(declare -f room); room '!events' m1 | bot-dispatch -d '$P' | jq -c '[.type, .to.id, .body // .reaction_name // .code, .plugin, .mention.id, .in_reply_to]'"
	assert_line '["message","#ops","from fd 3","events","#ops/bob","m1"]'
	assert_line '["reaction",null,"ok","events",null,null]'
	assert_line '["error",null,"bad_input","events",null,null]'
	assert_line '["message","#ops","stdout reply",null,"#ops/bob","m1"]'
	refute_output --partial "to the log"
	[[ "$stderr" == *"to the log"* ]]
}

@test "fd 3 messages without a to get the reply's place: direct chat, thread, divert" {
	run -0 --separate-stderr bash -c "$(declare -f dm); dm '!events' m2 | bot-dispatch -d '$P' | jq -c 'select(.type==\"message\") | [.to.id, .from.id, .in_reply_to, .mention]'"
	assert_output $'["@bob","@bot","m2",null]\n["@bob","@bot","m2",null]'
	run -0 bash -c "$(declare -f room); room '!events' m3 | bot-dispatch -d '$P' --divert-to-thread events 2>/dev/null | jq -c 'select(.type==\"message\") | [.to.id, .parent.id]'"
	assert_output $'["#ops","m3"]\n["#ops","m3"]'
	run -0 bash -c "$(declare -f room); room '!events' m4 | bot-dispatch -d '$P' --divert-to-private events 2>/dev/null | jq -c 'select(.type==\"message\") | [.to.id, .mention]'"
	assert_output $'["#ops/bob",null]\n["#ops/bob",null]'
}

@test "fd 3: error, sent and connection events are refused; one with its own to passes, marked" {
	run -0 --separate-stderr bash -c "$(declare -f room); room '!forger' | bot-dispatch -d '$P' | jq -c '[.type, .to, .plugin]'"
	assert_output '["message","#elsewhere","forger"]'
	assert_equal "${#stderr_lines[@]}" 3
	assert_equal "${stderr_lines[0]}" 'bot-dispatch: error: forger: fd 3: a "error" event is bot-dispatch'"'"'s or bot-send'"'"'s to make; dropped'
	[[ "${stderr_lines[1]}" == *'a "sent" event'* ]]
	[[ "${stderr_lines[2]}" == *'a "connection" event'* ]]
}

@test "fd 3: past --max-events a command's events are dropped and counted in one line" {
	run -0 --separate-stderr bash -c "$(declare -f dm); dm '!eventstorm' | bot-dispatch -d '$P' --max-events 10 | jq -r .type | sort | uniq -c | awk '{print \$2, \$1}'"
	assert_output $'message 1\nreaction 10'
	assert_equal "$stderr" "bot-dispatch: error: eventstorm: 99990 events on fd 3 past --max-events 10 dropped"
	run -0 --separate-stderr bash -c "$(declare -f dm); dm '!eventstorm' | bot-dispatch -d '$P' | jq -r .type | grep -c reaction"
	assert_output 1000
}

@test "a failing command: errbot's error reply and an error event with the original" {
	run -0 --separate-stderr bash -c "$(declare -f dm); dm '!fail' m9 | bot-dispatch -d '$P' | jq -c '[.type, .body // .code, .event.id]'"
	assert_output $'["message","Computer says nooo. See logs for details:\\nfail: exited with status 3",null]\n["error","command_failed","m9"]'
	refute_output --partial "secret stack"
	refute_output --partial "partial output"
}

# --- names from chat --------------------------------------------------------

@test "only a plain file name of the plugin folder can run" {
	for name in '../../bin/sh' '.hidden' 'evil' 'adir' 'notexec' 'a/b' '/bin/sh' \
	            "$(printf 'args\001')" 'args.x' '-x' 'cplug.help'; do
		run -0 bash -c "$(declare -f dm); dm '!$name' | bot-dispatch -d '$P' -d '$BATS_FILE_TMPDIR/broken' 2>/dev/null | jq -r .body"
		[[ "$output" == "Command \""*"\" not found."* ]] || { echo "ran: $name: $output"; false; }
		refute_output --partial "ran"
	done
	run -0 bash -c "$(declare -f dm); jq -cn '{type:\"message\",from:\"@x\",to:{kind:\"person\",id:\"@bot\"},body:\"!args\u0000x\"}' | bot-dispatch -d '$P' | jq -r .body"
	refute_output --partial "["
	run -0 bash -c "$(declare -f dm); dm '!alias x' | bot-dispatch -d '$P' | jq -r .body"
	assert_output "deploy: x"
}

@test "a plugin file that cannot run is named once at start, with the fix" {
	B="$BATS_TEST_TMPDIR/b"
	mkdir -p "$B/sub"
	printf '#!/bin/sh\necho ok\n' > "$B/good"
	printf '#!/bin/sh\necho sh\n' > "$B/deploy.sh"
	printf '#!/bin/sh\necho no\n' > "$B/noexec"
	printf '#!/bin/sh\r\necho crlf\r\n' > "$B/crlf"
	printf 'echo no hash line\n' > "$B/nohash"
	printf '#!/usr/bin/nonesuch\necho\n' > "$B/nointerp"
	printf 'help: a sidecar\n' > "$B/good.help"
	printf 'x\n' > "$B/.dotfile"
	printf '# Our plugins\n' > "$B/README.md"
	chmod +x "$B/good" "$B/deploy.sh" "$B/crlf" "$B/nohash" "$B/nointerp"
	run -0 --separate-stderr bash -c "$(declare -f dm); { dm '!good' 1; dm '!noexec' 2; dm '!good' 3; } | bot-dispatch -j 1 -d '$B' | jq -r .body"
	assert_output $'ok\nCommand "noexec" not found.\nok'
	[ "${#stderr_lines[@]}" -eq 5 ] || { printf '%s\n' "${stderr_lines[@]}"; false; }
	assert_equal "$(printf '%s\n' "${stderr_lines[@]}" | sort)" "$(sort <<-EOF
	bot-dispatch: warning: $B/deploy.sh: a command's file name has no suffix (rename it deploy)
	bot-dispatch: warning: $B/noexec: not executable (chmod +x $B/noexec)
	bot-dispatch: warning: $B/crlf: CRLF line ends, so its interpreter's name ends in a carriage return (sed -i 's/\r$//' $B/crlf)
	bot-dispatch: warning: $B/nohash: no #! line, so it cannot be run (make its first line one such as #!/bin/sh)
	bot-dispatch: warning: $B/nointerp: its interpreter /usr/bin/nonesuch: No such file or directory
	EOF
	)"
}

@test "a plugin file that cannot run is named when the folder changes, and only the new one" {
	B="$BATS_TEST_TMPDIR/b"
	mkdir -p "$B"
	printf '#!/bin/sh\necho ok\n' > "$B/good"
	printf 'echo\n' > "$B/old"
	chmod +x "$B/good"
	{ dm '!good' 1; sleep 1.5; printf '#!/usr/bin/python3\n' > "$B/new.py"; dm '!good' 2; } |
		bot-dispatch -j 1 -d "$B" > "$BATS_TEST_TMPDIR/out" 2> "$BATS_TEST_TMPDIR/err"
	run cat "$BATS_TEST_TMPDIR/err"
	assert_output - <<-EOF
	bot-dispatch: warning: $B/old: not executable (chmod +x $B/old)
	bot-dispatch: warning: $B/new.py: a command's file name has no suffix (rename it new)
	EOF
	assert_equal "$(jq -r .body "$BATS_TEST_TMPDIR/out")" $'ok\nok'
}

@test "a plugin folder others can write is refused at start, with the fix (exit 78)" {
	B="$BATS_TEST_TMPDIR/w"
	mkdir -p "$B"
	chmod o+w "$B"
	run -78 bot-dispatch -d "$B" < /dev/null
	assert_output "bot-dispatch: error: --plugins $B: $B: others may write it (mode 757): refused; chmod go-w"
	chmod o-w,g+w "$B"
	run -78 bot-dispatch -d "$B" < /dev/null
	assert_output "bot-dispatch: error: --plugins $B: $B: others may write it (mode 775): refused; chmod go-w"
	# a folder above it that others can write, unless sticky (as /tmp)
	mkdir -p "$BATS_TEST_TMPDIR/open/plugins"
	chmod 777 "$BATS_TEST_TMPDIR/open"
	run -78 bot-dispatch -d "$BATS_TEST_TMPDIR/open/plugins" < /dev/null
	assert_output "bot-dispatch: error: --plugins $BATS_TEST_TMPDIR/open/plugins: $BATS_TEST_TMPDIR/open: others may write it (mode 777): refused; chmod go-w"
	chmod 1777 "$BATS_TEST_TMPDIR/open"
	run -0 bot-dispatch -d "$BATS_TEST_TMPDIR/open/plugins" < /dev/null
	assert_output ""
}

@test "a plugin file others can write, or another user's, is refused with one line" {
	B="$BATS_TEST_TMPDIR/f"
	mkdir -p "$B"
	printf '#!/bin/sh\necho ran\n' > "$B/gw"
	cp "$B/gw" "$B/ow"
	cp "$B/gw" "$B/theirs"
	cp "$B/gw" "$B/mine"
	chmod 775 "$B/gw"
	chmod 757 "$B/ow"
	chmod 755 "$B/theirs" "$B/mine"
	[ "$(id -u)" -eq 0 ] || skip "chown needs root"
	chown 65534 "$B/theirs"
	run -0 --separate-stderr bash -c "$(declare -f dm); { dm '!gw' 1; dm '!ow' 2; dm '!theirs' 3; dm '!gw' 4; dm '!mine' 5; } | bot-dispatch -j 1 -d '$B' | jq -r .body"
	assert_output $'Command "gw" not found.\nCommand "ow" not found.\nCommand "theirs" not found.\nCommand "gw" not found.\nran'
	assert_equal "$(printf '%s\n' "${stderr_lines[@]}" | sort)" "$(sort <<-EOF
	bot-dispatch: error: $B/gw: others may write it (mode 775): refused; chmod go-w
	bot-dispatch: error: $B/ow: others may write it (mode 757): refused; chmod go-w
	bot-dispatch: error: $B/theirs: owned by uid 65534, not by us (uid 0): refused
	EOF
	)"
	[ "${VALGRIND:-}" != 1 ] || skip "under VALGRIND=1 nobody cannot run the wrappers"
	# as that user, its own file and root's run (the bats folder is root's alone)
	NOBODY_DIR=$(mktemp -d /tmp/botpipe-nobody.XXXXXX)
	chmod 755 "$NOBODY_DIR"
	cp -p "$B/theirs" "$B/mine" "$NOBODY_DIR/"
	run -0 --separate-stderr bash -c "$(declare -f dm); { dm '!theirs' 1; dm '!mine' 2; } | HOME='$NOBODY_DIR' XDG_CONFIG_HOME='$NOBODY_DIR' setpriv --reuid=65534 --regid=65534 --clear-groups \"\$(command -v bot-dispatch)\" -j 1 -d '$NOBODY_DIR' | jq -r .body"
	assert_output $'ran\nran'
	assert_equal "$stderr" ""
}

# --- concurrency and limits -------------------------------------------------

@test "a slow command holds up neither other events nor others' replies" {
	run -0 bash -c "$(declare -f dm); { dm '!sleep 2' 1; dm '!echo quick' 2; dm '!sleep 0.1' 3; } |
		bot-dispatch -d '$P' | jq -r .body"
	assert_output $'quick\nslept 0.1\nslept 2'
}

@test "a full pool of slow commands holds up neither built-ins nor other events" {
	run -0 bash -c "$(declare -f dm room); { dm '!sleep 1' 1; dm '!sleep 1' 2; dm '!sleep 1' 3; dm '!echo quick' 4;
		room 'chatter' 5; dm '!nosuch' 6; } | bot-dispatch -j 2 --pass -d '$P' | jq -r .body"
	assert_output $'quick\nchatter\nCommand "nosuch" not found.\nslept 1\nslept 1\nslept 1'
}

@test "--jobs 1 keeps the order of the answers, built-ins included" {
	run -0 bash -c "$(declare -f dm); { dm '!sleep 0.3' 1; dm '!echo second' 2; dm '!nosuch' 3; dm '!sleep 0.1' 4; } |
		bot-dispatch -j 1 -d '$P' | jq -r .body"
	assert_output $'slept 0.3\nsecond\nCommand "nosuch" not found.\nslept 0.1'
}

@test "--timeout kills the whole process group, even children that ignore SIGTERM" {
	mark="$BATS_TEST_TMPDIR/late"
	start=$(date +%s)
	run -0 --separate-stderr bash -c "$(declare -f dm); dm '!forker $mark' | bot-dispatch -d '$P' --timeout 1 | jq -c '[.type, .body // .code]'"
	[ $(( $(date +%s) - start )) -le 5 ]
	assert_output $'["message","Computer says nooo. See logs for details:\\nforker: timed out"]\n["error","command_failed"]'
	! pgrep -f "sleep 300" >/dev/null
	[ ! -e "$mark" ]
}

@test "resource limits: CPU time and memory" {
	run -0 --separate-stderr bash -c "$(declare -f dm); dm '!spin' | bot-dispatch -d '$P' --limit-cpu 1 --timeout 20 | jq -r '.body // .code'"
	assert_output --regexp $'^Computer says nooo. See logs for details:\nspin: killed by signal (24|9)\ncommand_failed$'
	run -0 --separate-stderr bash -c "$(declare -f dm); dm '!hog' | bot-dispatch -d '$P' --limit-memory 100 | jq -r '.body // .code'"
	assert_output $'Computer says nooo. See logs for details:\nhog: exited with status 1\ncommand_failed'
	run -0 --separate-stderr bash -c "$(declare -f dm); dm '!hog' | bot-dispatch -d '$P' | jq -r '.body // .code'"
	assert_output "got 300 MB"
}

@test "a command writing 100 MB: the reply is cut at --max-output, memory stays bounded" {
	run -0 --separate-stderr bash -c "$(declare -f dm); dm '!big' | command time -f '%M' -o '$BATS_TEST_TMPDIR/rss' bot-dispatch -d '$P' --max-output 1000 | jq -r '.body | length'"
	assert_output "1000"
	[ "${VALGRIND:-}" = 1 ] || [ "$(cat "$BATS_TEST_TMPDIR/rss")" -lt 30000 ]   # kB (valgrind adds its own)
	[[ "$stderr" == *"big: output over"* ]]
}

@test "a command that never reads stdin, even a large event, and one that closes stdout early" {
	head -c 300000 /dev/zero | tr '\0' y > "$BATS_TEST_TMPDIR/big"
	{ jq -cn --rawfile x "$BATS_TEST_TMPDIR/big" '{type:"message",id:"1",from:"@bob",
		to:{kind:"person",id:"@bot"},body:"!nostdin",extras:{x:$x}}'; dm '!closeout' 2; dm '!echo after' 3; } \
		> "$BATS_TEST_TMPDIR/in"
	run -0 bash -c "bot-dispatch -j 1 -d '$P' --timeout 5 < '$BATS_TEST_TMPDIR/in' | jq -r '.body // .code'"
	assert_output $'never read\nafter'
}

@test "arguments past 64 KiB are refused before anything runs" {
	{ printf '!args '; head -c 300000 /dev/zero | tr '\0' y; } > "$BATS_TEST_TMPDIR/body"
	jq -cn --rawfile b "$BATS_TEST_TMPDIR/body" '{type:"message",id:"1",from:"@bob",
		to:{kind:"person",id:"@bot"},body:$b}' > "$BATS_TEST_TMPDIR/in"
	run -0 bash -c "bot-dispatch -d '$P' < '$BATS_TEST_TMPDIR/in' | jq -c '[.type, .body // .code]'"
	assert_output $'["message","Sorry, I couldn\'t parse your arguments. Too long: 300000 bytes, at most 65536."]\n["error","bad_arguments"]'
}

@test "a burst of 1,000 commands: every one answered, once" {
	jq -cn 'range(1; 1001) | {type: "message", id: tostring, from: {kind: "person", id: "@bob"},
		to: {kind: "person", id: "@bot"}, body: "!args \(.)"}' > "$BATS_TEST_TMPDIR/in"
	run -0 bash -c "bot-dispatch -d '$P' -j 50 < '$BATS_TEST_TMPDIR/in' | jq -r .body | sort -u | wc -l"
	assert_output "1000"
	run -0 bash -c "bot-dispatch -d '$P' -j 50 < '$BATS_TEST_TMPDIR/in' | jq -r .in_reply_to | sort -n | uniq | wc -l"
	assert_output "1000"
}

# --- replies ----------------------------------------------------------------

@test "replies go where build_reply sends them: room with mention, person, thread" {
	run -0 bash -c "$(declare -f room); room '!echo r' | bot-dispatch | jq -c '[.to.id, .mention.id]'"
	assert_output '["#ops","#ops/bob"]'
	run -0 bash -c "$(declare -f room); room '!echo r' | bot-dispatch --no-nick-prefix | jq -c '[.to.id, .mention]'"
	assert_output '["#ops",null]'
	run -0 bash -c "$(declare -f room); room '!echo t' | jq -c '.parent={id:\"p0\"}' | bot-dispatch | jq -c '[.to.id, .parent.id]'"
	assert_output '["#ops","p0"]'
}

@test "divert to private and to thread, by command name" {
	run -0 bash -c "$(declare -f room); { room '!echo a' 1; room '!whoami' 2; room '!nosuch' 3; } |
		bot-dispatch -j 1 --divert-to-private echo --divert-to-thread whoami | jq -c '[.to.id, .parent.id]'"
	assert_output $'["#ops/bob",null]\n["#ops","2"]\n["#ops",null]'
}

# --- built-ins --------------------------------------------------------------

@test "whoami: errbot's table" {
	run -0 bash -c "$(declare -f room); room '!whoami' | bot-dispatch --no-nick-prefix | jq -r .body"
	assert_output - <<-'EOF'
	| key      | value
	| -------- | --------
	| person   | `@bob`
	| nick     | `bob`
	| fullname | `None`
	| client   | `None`
	| email    | `None`

	`room` is #ops


	- string representation is '#ops/bob'
	- class is 'occupant'
	EOF
}

@test "history per person, !! and !N recall, dedup; history itself is not kept" {
	run -0 bash -c "$(declare -f dm room); { dm '!echo one'; dm '!echo two'; dm '!echo one'; room '!echo eve' 9 eve;
		dm '!history'; dm '!!'; dm '!2'; dm '!0'; dm '!9'; dm '!history'; } | bot-dispatch -j 1 | jq -r .body"
	assert_output - <<-'EOF'
	one
	two
	one
	eve
	 2:!echo two
	 1:!echo one
	one
	two
	one
	 2:!echo two
	 1:!echo one
	EOF
}

@test "history with --jobs 1 lists what came before it, not a command read while it waited" {
	run -0 bash -c "$(declare -f dm); { dm '!sleep 0.3' 1; dm '!history' 2; dm '!echo later' 3; } | bot-dispatch -j 1 -d '$P' | jq -r .body"
	assert_output $'slept 0.3\n 1:!sleep 0.3\nlater'
}

@test "history is answered privately, also to a question in a room" {
	run -0 bash -c "$(declare -f room); { room '!echo a --secret' 1; room '!history' 2; } | bot-dispatch -j 1 | jq -c '[.body, .to.id, .mention]'"
	assert_output $'["a --secret","#ops",{"kind":"occupant","id":"#ops/bob","room":"#ops","nick":"bob","person":"@bob","aclattr":"@bob"}]\n[" 1:!echo a --secret","#ops/bob",null]'
}

# An IRC message as bot-listen -b irc writes it: from nick!user@host.
irc_dm() {
	jq -cn --arg b "$1" --arg nick "$2" --arg uh "$3" '{type:"message",id:"1",backend:"irc",
		from:{kind:"person",id:("@"+$nick),person:("@"+$nick),nick:$nick,client:($nick+"!"+$uh),aclattr:($nick+"!"+$uh)},
		to:{kind:"person",id:"@bot",person:"@bot",nick:"bot"},body:$b,is_direct:true,is_group:false,is_threaded:false}'
}

@test "history is the user's, not the nick's: whoever takes a nick next neither reads nor replays it" {
	run -0 bash -c "$(declare -f irc_dm); { irc_dm '!echo deploy --token s3cr3t' alice alice@home.example;
		irc_dm '!history' alice mallory@evil.example; irc_dm '!!' alice mallory@evil.example;
		irc_dm '!echo back' alice2 alice@home.example; irc_dm '!history' alice2 alice@home.example; } | bot-dispatch -j 1 | jq -r .body"
	assert_output $'deploy --token s3cr3t\nback\n 2:!echo deploy --token s3cr3t\n 1:!echo back'
}

@test "IRC (a real ngircd): whoever takes a nick after its owner quits neither reads nor replays the owner's history" {
	command -v ngircd > /dev/null || command -v /usr/sbin/ngircd > /dev/null || skip "no ngircd"
	H="$BATS_TEST_DIRNAME/helpers"
	W="$BATS_TEST_TMPDIR"
	SRV="$W/ngircd"
	PORT=$("$H/ngircd.sh" start "$SRV")
	export XDG_RUNTIME_DIR="$W/run" BOT_IRC_SERVER="127.0.0.1:$PORT" BOT_IRC_NICK=histbot BOT_IRC_CHANNELS='#ops'
	mkdir -p -m 700 "$XDG_RUNTIME_DIR"
	setsid sh -c 'bot-listen -b irc | tee "$0/events" | bot-dispatch -j 1 2>"$0/dispatch.err" |
		bot-send -b irc > "$0/sent" 2> "$0/send.err"' "$W" 2> "$W/listen.err" 3>&- &
	PIPE_PID=$!
	for i in $(seq 200); do grep -q '"action":"joined"' "$W/events" 2>/dev/null && break; sleep 0.05; done
	python3 "$H/irc-client.py" --nick alice "$PORT" > "$W/alice" <<-EOF
		say histbot !echo deploy --token s3cr3t
		expect PRIVMSG alice :deploy --token s3cr3t
		quit
	EOF
	python3 "$H/irc-client.py" --nick mallory "$PORT" > "$W/mallory" <<-EOF || { cat "$W/mallory" "$W/events" "$W/dispatch.err" "$W/sent"; false; }
		raw NICK alice
		expect NICK :alice
		say histbot !history
		say histbot !!
		say histbot !echo mine
		expect PRIVMSG alice :mine
		say histbot !history
		expect PRIVMSG alice : ?1:!echo mine$
	EOF
	run grep -c "s3cr3t" "$W/mallory"
	assert_output 0
	run jq -r 'select(.type=="message") | [.from.client, .body] | join(" ")' "$W/events"
	assert_line "alice!~alice@127.0.0.1 !echo deploy --token s3cr3t"
	assert_line "alice!~mallory@127.0.0.1 !history"
}

@test "history: empty says nothing" {
	run -0 bash -c "$(declare -f dm); dm '!history' | bot-dispatch"
	assert_output ""
}

@test "uptime and status: errbot's wording" {
	run -0 bash -c "$(declare -f dm); { dm '!uptime'; dm '!status'; } | bot-dispatch -j 1 -d '$P' | jq -r .body"
	assert_line --regexp "^I've been up for [0-9]+ seconds \\(since [A-Z][a-z]+, [A-Z][a-z]{2} [0-9]{2} at [0-9]{2}:[0-9]{2}\\)\\.$"
	assert_line "## Yes I am alive..."
	assert_line "**A**{:color='green'} | plugins"
	assert_line --regexp "^Load [0-9.]+, [0-9.]+, [0-9.]+$"
}

@test "help: errbot's layout from plugin headers; help CMD; hidden; not defined" {
	run -0 bash -c "$(declare -f dm); dm '!help' | bot-dispatch -d '$P' | jq -r .body"
	assert_line "### All commands"
	assert_line "**builtin**"
	assert_line "**plugins**"
	assert_line "- **!deploy status** - Deployment status"
	assert_line "- **!args** - Show each argument in brackets"
	assert_line "- **!stdin** - (undocumented)"
	refute_output --partial "Not listed"
	refute_output --partial "plugin echo"
	run -0 bash -c "$(declare -f dm); dm '!help plugins' | bot-dispatch -d '$P' | jq -r .body"
	assert_line "- **!deploy** - Deploy"
	refute_output --partial "!secret"
	refute_output --partial "Not listed"
	run -0 bash -c "$(declare -f dm); { dm '!help args'; dm '!help beurk'; } | bot-dispatch -j 1 -d '$P' | jq -c .body"
	assert_output $'"- **!args** - Show each argument in brackets\\nusage: args [WORD...]\\n"\n"That command is not defined."'
}

@test "a plugin overrides a built-in only with --override" {
	run -0 bash -c "$(declare -f dm); dm '!echo x' | bot-dispatch -d '$P' | jq -r .body"
	assert_output "x"
	run -0 bash -c "$(declare -f dm); dm '!echo x' | bot-dispatch -d '$P' --override | jq -r .body"
	assert_output "plugin echo: x"
}

@test "several plugin folders: the first that has a name wins" {
	mkdir -p "$BATS_TEST_TMPDIR/first"
	printf '#!/bin/sh\necho first\n' > "$BATS_TEST_TMPDIR/first/deploy"
	chmod +x "$BATS_TEST_TMPDIR/first/deploy"
	run -0 bash -c "$(declare -f dm); { dm '!deploy'; dm '!args z'; } | bot-dispatch -j 1 -d '$BATS_TEST_TMPDIR/first' -d '$P' | jq -r .body"
	assert_output $'first\n[z]'
}

# --- access control ---------------------------------------------------------

acl() { printf '%s\n' "$1" > "$BATS_TEST_TMPDIR/acl.json"; }

@test "ACL: errbot's denial texts, a denied event, nothing runs, no history" {
	acl '{"ACCESS_CONTROLS": {"args": {"allowusers": ["@alice"]}, "plugins:deploy*": {"allowmuc": false},
	      "env": {"allowprivate": false}, "stdin": {"denyrooms": ["#o*"]},
	      "echo": {"denyargs": ["*--force*"]}}}'
	run -0 bash -c "$(declare -f dm room); { dm '!args x' 1; room '!deploy x' 2; dm '!env' 3; room '!stdin' 4;
		dm '!echo --force' 5; dm '!echo ok' 6; dm '!history' 7; } |
		bot-dispatch -j 1 -d '$P' --acl '$BATS_TEST_TMPDIR/acl.json' 2>/dev/null | jq -c '[.type, .body // .code, .to.id // .event.id]'"
	assert_output - <<-'EOF'
	["message","You're not allowed to access this command from this user","@bob"]
	["error","denied","1"]
	["message","You're not allowed to access this command from a chatroom","#ops"]
	["error","denied","2"]
	["message","You're not allowed to access this command via private message to me","@bob"]
	["error","denied","3"]
	["message","You're not allowed to access this command from this room","#ops"]
	["error","denied","4"]
	["message","You're not allowed to access this command using the provided arguments","@bob"]
	["error","denied","5"]
	["message","ok","@bob"]
	["message"," 1:!echo ok","@bob"]
	EOF
}

@test "ACL: admin-only commands need --admin, and a direct chat unless allowmuc" {
	run -0 bash -c "$(declare -f dm room); { dm '!restart' 1; room '!restart' 2 admin; dm '!restart' 3; } |
		bot-dispatch -j 1 -d '$P' --admin '@adm*' 2>/dev/null | jq -c '[.type, .body // .code]'"
	assert_output - <<-'EOF'
	["message","This command requires bot-admin privileges"]
	["error","denied"]
	["message","This command may only be issued through a direct message"]
	["error","denied"]
	["message","This command requires bot-admin privileges"]
	["error","denied"]
	EOF
	acl '{"ACCESS_CONTROLS": {"restart": {"allowmuc": true}}, "BOT_ADMINS": ["@admin"]}'
	run -0 bash -c "$(declare -f room); room '!restart' 2 admin | bot-dispatch -d '$P' --acl '$BATS_TEST_TMPDIR/acl.json' | jq -r .body"
	assert_output "restarted"
}

@test "ACL: --hide-restricted-access denies silently; --hide-restricted-commands trims help" {
	acl '{"ACCESS_CONTROLS_DEFAULT": {"allowusers": ["@alice"]}, "ACCESS_CONTROLS": {"help": {"allowusers": "*"}, "deploy*": {"allowusers": "*"}}}'
	run -0 bash -c "$(declare -f dm); dm '!args' | bot-dispatch -d '$P' --acl '$BATS_TEST_TMPDIR/acl.json' --hide-restricted-access 2>/dev/null | jq -c '[.type, .code]'"
	assert_output '["error","denied"]'
	run -0 bash -c "$(declare -f dm); dm '!help' | bot-dispatch -d '$P' --acl '$BATS_TEST_TMPDIR/acl.json' --hide-restricted-commands | jq -r .body"
	assert_line "- **!deploy** - Deploy"
	assert_line "- **!help** - Returns a help string listing available options."
	refute_output --partial "!args"
	refute_output --partial "!echo"
}

@test "ACL: a file with an error is one line naming file and line; exit 78" {
	acl $'{"ACCESS_CONTROLS": {\n "echo": {"allowusers": ["@a"]}\n "x": {}}}'
	run -78 bot-dispatch --acl "$BATS_TEST_TMPDIR/acl.json" < /dev/null
	assert_output "bot-dispatch: error: --acl: $BATS_TEST_TMPDIR/acl.json:3: Expected separator between values (column 4)"
	acl '{"ACCESS_CONTROLS": {"echo": {"allowmuc": null, "allowuser": ["@a"]}}}'
	run -78 bot-dispatch --acl "$BATS_TEST_TMPDIR/acl.json" < /dev/null
	assert_output --partial 'ACCESS_CONTROLS: "echo": allowuser: unknown setting'
	run -78 bot-dispatch --acl "$BATS_TEST_TMPDIR/missing.json" < /dev/null
	assert_output --partial "missing.json: No such file or directory"
}

# --- jq rules ---------------------------------------------------------------

@test "rules: -e and -f, bot.jq's reply and is_command, compiled once" {
	printf 'select(is_command("ping")) | reply("pong " + args)\n' > "$BATS_TEST_TMPDIR/r.jq"
	run -0 bash -c "$(declare -f dm room); { dm '!ping a b'; room 'hello'; room '!ping'; } |
		bot-dispatch -e 'select(.body == \"hello\") | reply(\"hi\")' -f '$BATS_TEST_TMPDIR/r.jq' | jq -c '[.to.id, .body]'"
	assert_output $'["@bob","pong a b"]\n["#ops","hi"]\n["#ops","pong "]'
}

@test "rules: import \"bot\" as bot works; a rule's output is any event" {
	run -0 bash -c "$(declare -f room); room 'nice' | bot-dispatch -e 'import \"bot\" as bot; select(.body==\"nice\") | bot::react(\"thumbsup\"), bot::reply_card({title:\"T\"})' | jq -c '[.type, .reaction_name // .title, .to.id]'"
	assert_output $'["reaction","thumbsup",null]\n["card","T","#ops"]'
}

@test "rules: a runtime error is one line naming the rule and the input line; the stream goes on" {
	run -0 --separate-stderr bash -c "{ echo '{\"type\":\"x\",\"n\":1}'; echo '{\"type\":\"x\",\"n\":\"a\"}'; echo '{\"type\":\"x\",\"n\":3}'; } |
		bot-dispatch -e '{type:\"y\", n:(.n + 1)}' | jq -c '[.type, .n // .code]'"
	assert_output $'["y",2]\n["error","rule_failed"]\n["y",4]'
	[ -z "$stderr" ]   # reported on stdout; stderr only with -v
}

@test "a refusal, a failed command and a rule error are error events; stderr names them only with -v" {
	d="$BATS_TEST_TMPDIR/p"; mkdir -p "$d"
	printf '#!/bin/sh\nexit 3\n' > "$d/fail"; chmod 755 "$d/fail"
	echo '{"ACCESS_CONTROLS":{"echo":{"allowusers":["@boss"]}}}' > "$BATS_TEST_TMPDIR/acl.json"
	{ dm '!fail' a; dm '!echo hi' b; echo '{"type":"x","n":"a"}'; } > "$BATS_TEST_TMPDIR/in"
	rule='select(.type=="x") | {type:"y", n:(.n + 1)}'
	run -0 --separate-stderr bot-dispatch -d "$d" --acl "$BATS_TEST_TMPDIR/acl.json" -e "$rule" < "$BATS_TEST_TMPDIR/in"
	[ -z "$stderr" ]
	assert_equal "$(printf '%s\n' "$output" | jq -r 'select(.type=="error") | .code' | sort | paste -sd,)" "command_failed,denied,rule_failed"
	run -0 --separate-stderr bot-dispatch -v -d "$d" --acl "$BATS_TEST_TMPDIR/acl.json" -e "$rule" < "$BATS_TEST_TMPDIR/in"
	[[ "$stderr" == *"fail: exited with status 3"* ]]
	[[ "$stderr" == *"echo: denied to @bob"* ]]
	[[ "$stderr" == *'rule -e #1: string ("a") and number (1) cannot be added'* ]]
}

@test "rules: a compile error stops the start with jq's message (exit 78)" {
	run -78 bot-dispatch -e '.x | $nope' < /dev/null
	assert_output --partial '-e #1: $nope is not defined'
}

@test "a rule that answers an unknown command takes it: no not-found reply" {
	run -0 bash -c "$(declare -f dm); dm '!ping' | bot-dispatch -e 'select(is_command(\"ping\")) | reply(\"pong\")' | jq -r .body"
	assert_output "pong"
}

@test "--pass: events no command or rule consumed go on unchanged" {
	run -0 bash -c "$(declare -f dm room); { room 'chatter' 1; dm '!echo x' 2; echo '{\"type\":\"presence\",\"identifier\":\"@a\",\"status\":\"away\"}'; } |
		bot-dispatch --pass | jq -c '[.type, .body // .status, .id]'"
	assert_output $'["message","chatter","1"]\n["message","x","2.reply"]\n["presence","away",null]'
	run -0 bash -c "$(declare -f room); room 'chatter' | bot-dispatch"
	assert_output ""
}

@test "the examples: share/examples/acl.json and rules.jq with the example plugins" {
	ex="$ROOT/share/examples"
	run -0 bash -c "$(declare -f dm room); { room '!roll 2d6' 1; dm '!roll 1d2' 2; room '!whereami' 3 guest1; dm '!status' 4;
		room 'hello all' 5; dm '!shout make noise' 6; room 'thanks!' 7; } |
		bot-dispatch -j 1 -d '$ex/plugins' --acl '$ex/acl.json' -f '$ex/rules.jq' 2>/dev/null |
		jq -r 'select(.type != \"error\") | .body // .reaction_name'"
	# rules answer at once, commands when done: no order between the two
	assert_line "You're not allowed to access this command from a chatroom"
	assert_line --regexp '^\*\*[12]\*\* \([12]\)$'
	assert_line "You're not allowed to access this command from this user"
	assert_line "You're not allowed to access this command via private message to me"
	assert_line "Hello, bob!"
	assert_line "MAKE NOISE"
	assert_line "thumbsup"
	[ "${#lines[@]}" -eq 7 ]
}

@test "--help lists every option; the man page documents each" {
	run -0 bot-dispatch --help
	for o in $(bot-dispatch --help | grep -o -- '--[a-z][a-z0-9-]*' | sort -u); do
		grep -q -- "${o#--}" "$ROOT/doc/bot-dispatch.1" || { echo "undocumented: $o"; false; }
	done
}
