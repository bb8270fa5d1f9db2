# Shared by the bats suites: libraries, and small helpers over events.
bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert

ROOT=${BOT_ROOT:-$(cd "$BATS_TEST_DIRNAME/.." && pwd)}
PLUGINS="$ROOT/share/examples/plugins"

# A message event as bot-listen -b text writes it: direct, from @you.
dm() {
	jq -cn --arg b "$1" --arg id "${2:-1}" '{type:"message",id:$id,backend:"text",
		from:{kind:"person",id:"@you",person:"@you",nick:"you"},
		to:{kind:"person",id:"@bot",person:"@bot",nick:"bot"},body:$b,
		is_direct:true,is_group:false,is_threaded:false}'
}

# A message in #room from @you as an occupant.
room_msg() {
	jq -cn --arg b "$1" --arg id "${2:-1}" '{type:"message",id:$id,backend:"text",
		from:{kind:"occupant",id:"#room/you",room:"#room",nick:"you",person:"@you"},
		to:{kind:"room",id:"#room"},body:$b,is_direct:false,is_group:true,is_threaded:false}'
}

# Bodies of the message events on stdin, one a line.
bodies() { jq -r 'select(.type=="message") | .body'; }
