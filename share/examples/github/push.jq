# A GitHub push webhook (X-GitHub-Event: push) as one message to #dev:
#   bot-listen -b http --http-route /github=@push.jq | bot-dispatch -e . | bot-send -b irc
# Other events (ping, issues, ...) make no event: the sender gets 204.
select(.headers["x-github-event"] == "push")
| .body as $p
| ($p.commits | length) as $n
| {type: "message", to: "#dev",
   body: "\($p.pusher.name) pushed \($n) commit\(if $n == 1 then "" else "s" end) to \($p.repository.full_name) \($p.ref | sub("^refs/heads/"; "")): \($p.head_commit.message | split("\n")[0]) \($p.compare)"}
