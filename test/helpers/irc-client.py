#!/usr/bin/python3
"""irc-client.py: a person on IRC, for tests.  Python standard library only.

    irc-client.py [--tls] [--cafile FILE] [--nick NICK] PORT < SCRIPT

Connects to 127.0.0.1:PORT, registers as NICK, then runs SCRIPT, one
command a line (blank lines and lines starting with "# " are skipped):

    join #chan              JOIN, and wait for the server's echo of it
    part #chan [reason]     PART
    say TARGET TEXT         PRIVMSG TARGET :TEXT (TEXT may hold \\r \\n \\x01
                            escapes, sent as those bytes)
    notice TARGET TEXT      NOTICE
    act TARGET TEXT         CTCP ACTION
    topic #chan TEXT        TOPIC
    raw LINE                any line
    expect REGEX [SECONDS]  wait until a received line matches (default 10 s);
                            exit 1 when none does
    absent REGEX SECONDS    fail when a line matching REGEX arrives within
    sleep SECONDS
    rtt N TARGET BOT        N times: say "!echo rttK" to TARGET, wait for the
                            answer from BOT; prints "rtt p50=.. p99=.. ms"
    burst N TARGET BOT      say "!echo bK" N times at once, wait for all N
                            answers in order; prints "burst N in S s (R/s)"
    quit [reason]           QUIT (also done at the end of the script)

Every line received is printed on stdout as it came (without CRLF), after
answering PINGs, so a test can assert on what the person saw.
"""
import re
import socket
import ssl
import sys
import time


class Client:
    def __init__(self, port, nick, tls, cafile):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        if tls:
            ctx = ssl.create_default_context(cafile=cafile)
            sock = ctx.wrap_socket(sock, server_hostname="localhost")
        self.sock = sock
        self.nick = nick
        self.buf = b""
        self.send("NICK " + nick)
        self.send("USER %s 0 * :test person" % nick)
        self.expect(r"^:\S+ 001 ", 10)

    def send(self, line):
        data = line.encode("utf-8", "surrogateescape") if isinstance(line, str) else line
        self.sock.sendall(data + b"\r\n")

    def lines(self, deadline):
        """Yield received lines until the deadline."""
        while True:
            while b"\n" in self.buf:
                raw, self.buf = self.buf.split(b"\n", 1)
                line = raw.rstrip(b"\r").decode("utf-8", "replace")
                if line.startswith("PING "):
                    self.send("PONG " + line[5:])
                print(line, flush=True)
                yield line
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except (socket.timeout, TimeoutError):
                return
            if not data:
                return
            self.buf += data

    def expect(self, regex, seconds):
        pat = re.compile(regex)
        for line in self.lines(time.monotonic() + seconds):
            if pat.search(line):
                return line
        sys.stderr.write("irc-client: no line matched /%s/ within %s s\n" % (regex, seconds))
        sys.exit(1)

    def absent(self, regex, seconds):
        pat = re.compile(regex)
        for line in self.lines(time.monotonic() + seconds):
            if pat.search(line):
                sys.stderr.write("irc-client: unexpected line %r\n" % line)
                sys.exit(1)

    def answer_re(self, target, bot, text):
        where = re.escape(target) if target.startswith(("#", "&")) else re.escape(self.nick)
        prefix = "" if where == re.escape(self.nick) else "(%s: )?" % re.escape(self.nick)
        return r"^:%s!\S+ PRIVMSG %s :%s%s$" % (re.escape(bot), where, prefix, re.escape(text))

    def rtt(self, n, target, bot):
        times = []
        for k in range(n):
            t0 = time.monotonic()
            self.send("PRIVMSG %s :!echo rtt%d" % (target, k))
            self.expect(self.answer_re(target, bot, "rtt%d" % k), 10)
            times.append((time.monotonic() - t0) * 1000)
        times.sort()
        p50 = times[len(times) // 2]
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
        print("rtt n=%d p50=%.2f p99=%.2f ms" % (n, p50, p99), flush=True)

    def burst(self, n, target, bot):
        t0 = time.monotonic()
        self.sock.sendall(b"".join(b"PRIVMSG %s :!echo b%d\r\n" % (target.encode(), k)
                                   for k in range(n)))
        for k in range(n):
            self.expect(self.answer_re(target, bot, "b%d" % k), 120)
        s = time.monotonic() - t0
        print("burst %d in %.2f s (%.1f/s)" % (n, s, n / s), flush=True)


def unescape(text):
    return text.encode("utf-8").decode("unicode_escape").encode("latin-1")


def run(c, line):
    word, _, rest = line.partition(" ")
    if word == "join":
        c.send("JOIN " + rest)
        c.expect(r"^:%s!\S+ JOIN :?%s$" % (re.escape(c.nick), re.escape(rest)), 10)
    elif word == "part":
        chan, _, why = rest.partition(" ")
        c.send("PART %s :%s" % (chan, why) if why else "PART " + chan)
    elif word in ("say", "notice", "act"):
        target, _, text = rest.partition(" ")
        body = unescape(text)
        if word == "act":
            body = b"\x01ACTION " + body + b"\x01"
        cmd = b"NOTICE " if word == "notice" else b"PRIVMSG "
        c.send(cmd + target.encode() + b" :" + body)
    elif word == "topic":
        chan, _, text = rest.partition(" ")
        c.send("TOPIC %s :%s" % (chan, text))
    elif word == "raw":
        c.send(unescape(rest))
    elif word == "expect":
        m = re.match(r"(.*?)(?: (\d+(?:\.\d+)?))?$", rest)
        c.expect(m.group(1), float(m.group(2) or 10))
    elif word == "absent":
        regex, _, secs = rest.rpartition(" ")
        c.absent(regex, float(secs))
    elif word == "sleep":
        for _ in c.lines(time.monotonic() + float(rest)):
            pass
    elif word == "rtt":
        n, target, bot = rest.split()
        c.rtt(int(n), target, bot)
    elif word == "burst":
        n, target, bot = rest.split()
        c.burst(int(n), target, bot)
    elif word == "quit":
        c.send("QUIT :" + (rest or "bye"))
        for _ in c.lines(time.monotonic() + 2):
            pass
        return False
    else:
        sys.exit("irc-client: unknown command %r" % word)
    return True


def main():
    args = sys.argv[1:]
    tls, cafile, nick = False, None, "human"
    while args and args[0].startswith("--"):
        opt = args.pop(0)
        if opt == "--tls":
            tls = True
        elif opt == "--cafile":
            cafile = args.pop(0)
        elif opt == "--nick":
            nick = args.pop(0)
        else:
            sys.exit("irc-client: unknown option " + opt)
    if len(args) != 1:
        sys.exit(__doc__)
    c = Client(int(args[0]), nick, tls, cafile)
    for line in sys.stdin:
        line = line.rstrip("\n")
        if not line.strip() or line.startswith("# "):
            continue
        if not run(c, line):
            return
    run(c, "quit")


if __name__ == "__main__":
    main()
