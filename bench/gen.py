#!/usr/bin/python3
"""gen.py: write the benchmark's inputs into a folder (bench/out/ by default).

    gen.py [--out DIR] [--events N] [--commands N]

Files (all deterministic, the same bytes on every run):
  events.ndjson   N message events as bot-listen writes them: room chatter
                  and direct messages, none a command (the pass-through load)
  echo.ndjson     N "!echo ..." commands as events (built-in replies)
  echo.txt        the same N commands as plain lines (errbot, Hubot)
  plugin.ndjson   N "!say ..." commands for the shell plugin bench/plugins/say
  plugin.args     the argument text of each, one a line (the sh -c loop)
"""
import argparse
import json
import os
import random

WORDS = ("deploy build ok failed the a of to ship it release staging prod "
         "why is this red again coffee later lunch meeting tomorrow merged "
         "café naïve 日本語 ✓ 🚀 \"quoted\" back\\slash tab\there").split(" ")
PEOPLE = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"]
ROOMS = ["#ops", "#dev", "#random", "#builds"]


def sentence(rng, lo=3, hi=14):
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(lo, hi)))


def person(nick):
    return {"kind": "person", "id": "@" + nick, "person": "@" + nick, "nick": nick}


def message(rng, n, body, direct=None):
    nick = rng.choice(PEOPLE)
    if direct is None:
        direct = rng.random() < 0.2
    if direct:
        frm, to = person(nick), person("bot")
    else:
        room = rng.choice(ROOMS)
        frm = {"kind": "occupant", "id": room + "/" + nick, "room": room,
               "nick": nick, "person": "@" + nick}
        to = {"kind": "room", "id": room}
    return {"type": "message", "from": frm, "to": to, "body": body,
            "id": str(n), "ts": 1795600000 + n // 10, "backend": "text",
            "is_direct": direct, "is_group": not direct, "is_threaded": False}


def dump(ev):
    return json.dumps(ev, ensure_ascii=False, separators=(",", ":")) + "\n"


def write(path, lines):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.writelines(lines)
    os.replace(tmp, path)


def chatter(n):
    rng = random.Random(8)
    for i in range(1, n + 1):
        body = sentence(rng)
        if body.startswith("!"):
            body = " " + body
        yield dump(message(rng, i, body))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__) or ".", "out"))
    ap.add_argument("--events", type=int, default=1000000)
    ap.add_argument("--commands", type=int, default=100000)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    write(os.path.join(a.out, "events.ndjson"), chatter(a.events))
    rng = random.Random(9)
    texts = ["hello %d %s" % (i, sentence(rng, 1, 6)) for i in range(1, a.commands + 1)]
    write(os.path.join(a.out, "echo.ndjson"),
          (dump(message(rng, i, "!echo " + t, direct=True)) for i, t in enumerate(texts, 1)))
    write(os.path.join(a.out, "echo.txt"), ("!echo %s\n" % t for t in texts))
    write(os.path.join(a.out, "plugin.ndjson"),
          (dump(message(rng, i, "!say " + t, direct=True)) for i, t in enumerate(texts, 1)))
    write(os.path.join(a.out, "plugin.args"), (t + "\n" for t in texts))


if __name__ == "__main__":
    main()
