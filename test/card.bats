#!/usr/bin/env bats
# bot-card: card events from flags, and --render through the template.

load helpers/common

@test "a card event carries every flag, fields in order, errbot's text colour" {
	run bot-card --to '#ops' --title Deploy --summary 'All good' --link https://ci.example/1 \
		--image https://ci.example/i.png --thumbnail https://ci.example/t.png --color blue \
		--field env=prod --field 'note=a = b' --field zz=1 'It *worked*'
	assert_success
	run jq -c . <<< "$output"
	assert_output '{"type":"card","to":"#ops","body":"It *worked*","title":"Deploy","summary":"All good","link":"https://ci.example/1","image":"https://ci.example/i.png","thumbnail":"https://ci.example/t.png","color":"blue","text_color":"white","fields":[["env","prod"],["note","a = b"],["zz","1"]]}'
	run bash -c 'bot-card --color red | jq -r .text_color'
	assert_output black
}

@test "the body comes from standard input when no argument gives it" {
	run bash -c 'printf "line 1\nline 2\n\n" | bot-card --title T | jq -c .body'
	assert_output '"line 1\nline 2"'
}

@test "a field without = is a usage error naming it" {
	run --separate-stderr bot-card --field env --title T
	assert_equal "$status" 64
	assert_equal "$stderr" "bot-card: error: --field env: expected KEY=VALUE"
}

@test "--render markdown goes through the default template" {
	run bot-card --title Deploy --summary 'All good' --link https://ci.example/1 --field env=prod --render markdown 'It *worked*'
	assert_success
	assert_output $'## [Deploy](https://ci.example/1)\n\n**All good**\n\nIt *worked*\n\n- **env**: prod'
}

@test "--render text, irc, or a backend's name renders into that markup" {
	run bot-card --title Deploy --field env=prod --render text body
	assert_output $'Deploy\n\nbody\n\n• env: prod'
	run bash -c 'bot-card --title Deploy --render irc body | od -An -c | tr -s " " | head -1'
	assert_output --partial '002 D e p l o y 002'
	run bot-card --title Deploy --render webhook body
	assert_success
	assert_output --partial 'Deploy'
	run --separate-stderr bot-card --title T --render nosuch
	assert_equal "$status" 64
	assert_equal "$stderr" "bot-card: error: --render nosuch: not a markup (text, ansi, markdown, irc, html, ...) nor a backend"
}

@test "a card field cannot inject markup into the template" {
	printf '{{title}}!\n' > "$BATS_TEST_TMPDIR/t.md"
	run bot-card --title 'a*b* [x](javascript:alert(1))' --render markdown --template "$BATS_TEST_TMPDIR/t.md"
	assert_output 'a\*b\* \[x\]\(javascript:alert\(1\)\)!'
}

@test "a template with a syntax error names file and line" {
	printf 'ok\n{{#title}}x\n' > "$BATS_TEST_TMPDIR/t.md"
	run --separate-stderr bot-card --title x --render markdown --template "$BATS_TEST_TMPDIR/t.md"
	assert_equal "$status" 65
	assert_equal "$stderr" "bot-card: error: $BATS_TEST_TMPDIR/t.md: template:2: {{#title}} is never closed"
	run --separate-stderr bot-card --render markdown --template "$BATS_TEST_TMPDIR/missing"
	assert_equal "$status" 78
}

@test "bot-card | bot-send shows the card on the console" {
	bot-card --to @you --title Deploy --field env=prod done |
		bot-send --text-output "$BATS_TEST_TMPDIR/console" > "$BATS_TEST_TMPDIR/events"
	run cat "$BATS_TEST_TMPDIR/console"
	assert_output $'Deploy\n\ndone\n\n• env: prod'
	run jq -r .type "$BATS_TEST_TMPDIR/events"
	assert_output sent
}

@test "botpipe-markup(7) examples: a card as plain text, a card body's table drawn" {
	run bot-card --title "Build 42" --link https://ci.example/42 --field branch=main --render text
	assert_output $'Build 42 (https://ci.example/42)\n\n\xe2\x80\xa2 branch: main'
	run bot-card --title T --render irc $'| k | v |\n|---|---|\n| a | 1 |'
	assert_output $'\x02T\x02\n\x02k\x02  \x02v\x02\n-  -\na  1'
}
