#!/usr/bin/env bats
# bot-room: the seed's Room, against a real ngircd on loopback.
load helpers/ngircd

setup() {
	ngircd_test_setup
	export BOT_IRC_NICK="room$BATS_TEST_NUMBER"
	HUMAN_PID=
}

teardown() {
	[ -z "$HUMAN_PID" ] || kill "$HUMAN_PID" 2>/dev/null || true
	return 0
}

# A person who joins CHAN, sets its topic and stays until killed.
person_in() {
	python3 "$HELPERS/irc-client.py" --nick "$2" "$PORT" > "$W/seen.$2" <<-EOF &
		join $1
		topic $1 release at noon
		expect TOPIC $1
		sleep 60
	EOF
	HUMAN_PID=$!
	local i=0
	until grep -q "TOPIC $1" "$W/seen.$2" 2>/dev/null; do
		i=$((i + 1)); [ $i -lt 200 ] || return 1; sleep 0.05
	done
}

@test "occupants, info and list describe a channel" {
	person_in '#team' alice
	run bot-room -b irc occupants '#team'
	assert_success
	assert_output $'Occupants in #team:\n\t@alice.'
	run bot-room -b irc --json occupants '#team'
	assert_success
	run jq -c '[.type, .action, .room.id, [.occupants[].id]]' <<< "$output"
	assert_output '["room","occupants","#team",["#team/alice"]]'
	run bot-room -b irc info '#team'
	assert_success
	assert_output '#team: exists, not joined, 1 users, topic: release at noon.'
	run bot-room -b irc list
	assert_success
	assert_line '#team'
	run bot-room -b irc info '#nowhere'
	assert_success
	assert_output '#nowhere: does not exist, not joined.'
}

@test "join creates the channel, and the person sees the bot come" {
	person_in '#join' bob
	run bot-room -b irc join '#join'
	assert_success
	assert_output 'Joined the room #join.'
	run grep -E "^:$BOT_IRC_NICK!\\S+ JOIN :#join$" "$W/seen.bob"
	assert_success
	run bot-room -b irc join '#brand-new'
	assert_success
	assert_output 'Joined the room #brand-new.'
}

@test "errbot's room errors have their own codes and exit statuses" {
	person_in '#guarded' carol
	run bot-room -b irc topic '#guarded'
	assert_failure 79
	assert_output --partial 'room_not_joined'
	run bot-room -b irc invite '#guarded' @carol
	assert_failure 79
	run bot-room -b irc leave '#guarded'
	assert_failure 79
	run bot-room -b irc occupants '#ghost'
	assert_failure 80
	assert_output --partial 'room_does_not_exist'
	run --separate-stderr bot-room -b irc --json occupants '#ghost'
	assert_failure 80
	run jq -c '[.type, .code, .event.action, .event.room.id]' <<< "$output"
	assert_output '["error","room_does_not_exist","occupants","#ghost"]'
	run bot-room -b irc destroy '#guarded'
	assert_failure 69
	assert_output --partial 'IRC back-end does not support destroying rooms.'
}

@test "usage: a missing action, room or person, and a backend without rooms" {
	run bot-room -b irc
	assert_failure 64
	run bot-room -b irc frobnicate '#x'
	assert_failure 64
	assert_output --partial "unknown action 'frobnicate'"
	run bot-room -b irc occupants
	assert_failure 64
	assert_output --partial 'Please supply a room to list the occupants of.'
	run bot-room -b irc invite '#x'
	assert_failure 64
	assert_output --partial 'Please tell me which person(s) to invite into which room.'
	run bot-room -b irc occupants $'#x\r\nQUIT'
	assert_failure 65
	run bot-room -b text list
	assert_failure 69
	assert_output --partial 'has no rooms'
}
