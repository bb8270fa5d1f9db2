#!/usr/bin/python3
"""irc-rtt.py: time a bot's !echo over IRC, for make bench.

    irc-rtt.py PORT CHANNEL BOTNICK [--n N] [--burst M] [--oper NAME:PASS]

Joins CHANNEL on 127.0.0.1:PORT as "human", optionally becomes an IRC
operator and sets its own +F (ngircd: relaxed flood control), sends
"!echo warm" until the bot answers (60 s at most), then N sequential
"!echo rttK" round trips and a burst of M "!echo bK" sent at once.  An
answer is a PRIVMSG to CHANNEL from BOTNICK (or BOTNICK_) whose text, with
IRC formatting codes and a "human: " mention removed, is the word sent.
Prints "rtt n=N p50=.. p99=.. ms" and "burst M in S s (R/s)".
"""
import argparse
import re
import socket
import statistics
import sys
import time

FORMATTING = re.compile(r"\x03(\d{1,2}(,\d{1,2})?)?|[\x02\x0f\x16\x1d\x1f]")


class Person:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.buf = b""
        self.send("NICK human")
        self.send("USER human 0 * :bench person")
        self.wait(lambda ln: re.match(r"^:\S+ 001 ", ln), 20)

    def send(self, line):
        self.sock.sendall(line.encode() + b"\r\n")

    def lines(self, deadline):
        while True:
            while b"\n" in self.buf:
                raw, self.buf = self.buf.split(b"\n", 1)
                ln = raw.rstrip(b"\r").decode("utf-8", "replace")
                if ln.startswith("PING "):
                    self.send("PONG " + ln[5:])
                    continue
                yield ln
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return
            if not chunk:
                return
            self.buf += chunk

    def wait(self, pred, seconds):
        for ln in self.lines(time.monotonic() + seconds):
            if pred(ln):
                return ln
        return None


def answer(chan, bot):
    pat = re.compile(r"^:(%s_?)!\S+ PRIVMSG %s :(.*)$" % (re.escape(bot), re.escape(chan)))

    def text(ln):
        m = pat.match(ln)
        if not m:
            return None
        t = FORMATTING.sub("", m.group(2)).strip()
        return t[len("human: "):] if t.startswith("human: ") else t
    return text


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("channel")
    ap.add_argument("bot")
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--burst", type=int, default=60)
    ap.add_argument("--oper")
    a = ap.parse_args()
    p = Person(a.port)
    p.send("JOIN " + a.channel)
    p.wait(lambda ln: " JOIN " in ln and ln.startswith(":human!"), 20)
    if a.oper:
        name, _, pw = a.oper.partition(":")
        p.send("OPER %s %s" % (name, pw))
        p.wait(lambda ln: " 381 " in ln, 10)
        p.send("MODE human +F")
    got = answer(a.channel, a.bot)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        p.send("PRIVMSG %s :!echo warm" % a.channel)
        if p.wait(lambda ln: got(ln) == "warm", 2):
            break
    else:
        print("irc-rtt: no answer from %s" % a.bot, file=sys.stderr)
        return 1
    time.sleep(1)   # answers to repeated warm-ups drain
    p.wait(lambda ln: False, 0.5)
    rtts = []
    for k in range(a.n):
        t0 = time.perf_counter()
        p.send("PRIVMSG %s :!echo rtt%d" % (a.channel, k))
        if not p.wait(lambda ln: got(ln) == "rtt%d" % k, 30):
            print("irc-rtt: no answer to rtt%d" % k, file=sys.stderr)
            return 1
        rtts.append((time.perf_counter() - t0) * 1000)
    rtts.sort()
    p99 = rtts[min(len(rtts) - 1, int(round(0.99 * (len(rtts) - 1))))]
    print("rtt n=%d p50=%.2f p99=%.2f ms" % (a.n, statistics.median(rtts), p99), flush=True)
    t0 = time.perf_counter()
    for k in range(a.burst):
        p.send("PRIVMSG %s :!echo b%d" % (a.channel, k))
    want = {"b%d" % k for k in range(a.burst)}
    for ln in p.lines(time.monotonic() + 300):
        want.discard(got(ln))
        if not want:
            break
    if want:
        print("irc-rtt: %d of the burst unanswered" % len(want), file=sys.stderr)
        return 1
    s = time.perf_counter() - t0
    print("burst %d in %.2f s (%.1f/s)" % (a.burst, s, a.burst / s), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
