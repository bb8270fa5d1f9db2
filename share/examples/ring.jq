# ring.jq: a bridge, as a bot-dispatch rule file (bot-dispatch -f): a
# channel on two IRC networks and a Matrix room, each message said in one
# copied to the two others, who said it kept ("<alice> hi" on IRC,
# "**alice**: hi" on Matrix).  The instances are bot-listen's -b names,
# the profiles of the config file; bot-send sends each copy on its own.
#
#   bot-listen -b irc@libera -b irc@oftc -b matrix |
#     bot-dispatch -d plugins -f share/examples/ring.jq | bot-send
#
# bridge(rooms; ["otherbridge"]) also leaves out another bridge's lines.
bridge([["irc@libera", "#botpipe"],
        ["irc@oftc", "#botpipe"],
        ["matrix", "!ring:example.org"]])
