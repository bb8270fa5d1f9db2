#!/usr/bin/python3
"""hostile-ircd.py MODE PORTFILE: a loopback IRC server that attacks its
client, for test/irc-hostile.bats.  Writes its port to PORTFILE
(atomically), welcomes every client, then floods it as MODE says, as fast
as the client reads, until the client hangs up:

  names    353 (NAMES) lines for ever new channels, never a 366 to end
           one; every 20th line a PRIVMSG "tick N" to #ops from al
  privmsg  PRIVMSG lines to #ops from al, "flood N"
  err401   nothing until the client's first PRIVMSG; then 401 (no such
           nick) lines, and never a PONG
  ping     PING lines, and never a read of the PONGs: the client's
           writes block

Python standard library only; one thread per connection."""
import os
import socket
import sys
import threading

mode, portfile = sys.argv[1], sys.argv[2]
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(8)
with open(portfile + ".tmp", "w") as pf:
    pf.write(str(srv.getsockname()[1]))
os.rename(portfile + ".tmp", portfile)

NICKS = " ".join("n%d" % i for i in range(400))   # about 2 KB a line: both NAMES bounds


def lines_for(mode, nick, n):
    """The n-th block of flood lines, as bytes."""
    out = []
    for i in range(n * 200, n * 200 + 200):
        if mode == "names" and i % 20 == 0:
            out.append(":al!u@h PRIVMSG #ops :tick %d" % i)
        elif mode == "names":
            out.append(":srv 353 %s = #c%d :%s" % (nick, i, NICKS))
        elif mode == "ping":
            out.append("PING :p%d" % i)
        elif mode == "privmsg":
            out.append(":al!u@h PRIVMSG #ops :flood %d %s" % (i, "x" * 200))
        else:
            out.append(":srv 401 %s #nowhere%d :No such nick/channel" % (nick, i))
    return ("\r\n".join(out) + "\r\n").encode()


def flood(conn, nick):
    n = 0
    while True:
        conn.sendall(lines_for(mode, nick, n))
        n += 1


def serve(conn):
    f = conn.makefile("rb")
    nick = "bot"
    try:
        for raw in f:
            words = raw.decode("utf-8", "replace").rstrip("\r\n").split(" ")
            if words[0] == "NICK" and len(words) > 1:
                nick = words[1]
            elif words[0] == "USER":
                conn.sendall((":srv 001 %s :Welcome %s!u@h\r\n" % (nick, nick)).encode())
                if mode != "err401":
                    flood(conn, nick)
            elif words[0] == "PRIVMSG" and mode == "err401":
                flood(conn, nick)
            elif words[0] == "PING" and len(words) > 1:
                conn.sendall((":srv PONG srv %s\r\n" % words[1]).encode())
    except OSError:
        pass
    finally:
        conn.close()


while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
