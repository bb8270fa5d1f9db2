# errbot's warn_admins: each command that failed and each rule that
# failed, told to every admin in a direct message.  Run it on what the
# bot's bot-dispatch writes, before bot-send:
#   bot-listen | bot-dispatch -d plugins |
#     bot-dispatch --pass -f share/examples/admin-alerts.jq | bot-send
# The admins: BOT_ADMINS_NOTIFICATIONS, ids separated by blanks.
select(.type == "error" and (.code == "command_failed" or .code == "rule_failed"))
| ($ENV.BOT_ADMINS_NOTIFICATIONS // "" | splits("[ \t]+") | select(. != "")) as $admin
| {type: "message", to: $admin, body: "\(.code): \(.message)"}
