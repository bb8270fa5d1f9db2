# The Telegram Bot API as test/fake-http.py plays it, from the documented
# shapes (core.telegram.org/bots/api): {"ok":true,"result":...} answers,
# getUpdates long polling over a feed of updates (offset confirms, as the
# real server does), getFile and the file download, and every send method
# answering a Message with a fresh message_id.  Load after helpers/common.
#
#   tg_start [UPDATES_JSON [QUEUED_JSON]]  the fake on a free port (or $TG_PORT)
#   tg_stop                                 end it
#   tg_push UPDATE_JSON...                  more updates, while it runs
#   tg_calls METHOD                         the JSON bodies METHOD was called with
#   tg_update ID CHAT TEXT [FROM [EXTRA]]   an update with a text message

TG_TOKEN=123456:AAHs3cr3tT0kenValue-xyz
TG_CHAT=-1001234567890

tg_script() {
	jq -cn --argjson items "${1:-[]}" --argjson queued "${2:-[]}" --arg chat "$TG_CHAT" '
	def msg: {ok: true, result: {message_id: "$n", date: 1700000000,
	          chat: {id: ($chat | tonumber), type: "supergroup", title: "Ops"}, text: "sent"}};
	{responses: $queued,
	 feed: {path: "/getUpdates$", cursor: "offset", id: "update_id", timeout: "timeout",
	        limit: "limit", max_wait: 30, key: "result", body: {ok: true}, items: $items},
	 answers: [
	  {path: "/getMe$", body: {ok: true, result: {id: 4242, is_bot: true, first_name: "Botpipe",
	                                              username: "botpipe_bot"}}},
	  {path: "/(sendMessage|editMessageText|sendDocument|sendPhoto)$", body: msg},
	  {path: "/getFile$", body: {ok: true, result: {file_id: "F1", file_unique_id: "U1",
	                                                file_size: 11, file_path: "documents/file_7.pdf"}}},
	  {path: "/file/bot[^/]+/documents/file_7.pdf$", body: "%PDF-1 fake"},
	  {path: "/getChat$", body: {ok: true, result: {id: ($chat | tonumber), type: "supergroup",
	                                                title: "Ops", description: "the ops room"}}},
	  {path: "/getChatMember$", body: {ok: true, result: {status: "administrator",
	                                                      user: {id: 4242, is_bot: true, first_name: "Botpipe"}}}},
	  {path: "/getChatAdministrators$", body: {ok: true, result: [
	      {status: "creator", user: {id: 111, is_bot: false, first_name: "Al", username: "al"}}]}}
	 ],
	 default: {status: 200, body: {ok: true, result: true}}}'
}

tg_start() {
	local d=$BATS_TEST_TMPDIR
	rm -f "$d/tg.port"
	/usr/bin/python3 "$ROOT/test/fake-http.py" --port "${TG_PORT:-0}" --port-file "$d/tg.port" \
		--log "$d/tg.ndjson" --script-json "$(tg_script "${1:-[]}" "${2:-[]}")" \
		>/dev/null 2>>"$d/tg.err" 3>&- &
	TG_PID=$!
	for _ in $(seq 100); do [ -s "$d/tg.port" ] && break; sleep 0.05; done
	TG_PORT=$(cat "$d/tg.port")
	TG_LOG=$d/tg.ndjson
	export BOT_TELEGRAM_TOKEN=$TG_TOKEN BOT_TELEGRAM_API="http://127.0.0.1:$TG_PORT"
}

tg_stop() {
	if [ -n "${TG_PID:-}" ]; then
		kill "$TG_PID" 2>/dev/null || true
		wait "$TG_PID" 2>/dev/null || true
		TG_PID=
	fi
}

tg_push() {
	local u
	for u in "$@"; do
		curl -s -o /dev/null -X POST --data-binary "$u" "http://127.0.0.1:$TG_PORT/__fake/feed"
	done
}

tg_calls() {
	[ -f "$TG_LOG" ] || return 0
	jq -c --arg m "/bot$TG_TOKEN/$1" 'select(.path == $m) | .json' "$TG_LOG"
}

# tg_update ID CHAT TEXT [FROM_JSON [EXTRA_MESSAGE_FIELDS_JSON]]
tg_update() {
	jq -cn --argjson id "$1" --argjson chat "$2" --arg text "$3" \
		--argjson from "${4:-{\"id\":111,\"is_bot\":false,\"first_name\":\"Al\",\"username\":\"al\"}}" \
		--argjson extra "${5:-{\}}" '
	{update_id: $id, message: ({message_id: ($id + 50), from: $from, date: (now | floor),
	  chat: (if $chat > 0 then {id: $chat, type: "private", first_name: "Al"}
	         else {id: $chat, type: "supergroup", title: "Ops"} end),
	  text: $text} + $extra)}'
}
