#!/usr/bin/python3
"""irc-fake.py: a scripted IRC server for what ngircd cannot do (SASL).

    irc-fake.py LOG [--sasl USER:PASS] [--no-sasl]

Listens on a free loopback port, prints it, and serves connections one
after the other until killed, writing every line it receives to LOG
(one line each, as received, without CRLF).  It offers SASL PLAIN and
accepts only USER:PASS (--no-sasl: it refuses the capability), welcomes
the client after CAP END (or at once without CAP), answers PING, and
closes on QUIT.  Python standard library only.
"""
import base64
import socket
import sys


def serve(conn, log, creds, sasl):
    buf = b""
    capping = registered = False
    nick = "*"
    got_user = False

    def send(line):
        conn.sendall(line.encode() + b"\r\n")

    def welcome():
        send(":fake 001 %s :Welcome %s!u@fake.host" % (nick, nick))

    while True:
        data = conn.recv(4096)
        if not data:
            return
        buf += data
        while b"\n" in buf:
            raw, buf = buf.split(b"\n", 1)
            line = raw.rstrip(b"\r").decode("utf-8", "replace")
            log.write(line + "\n")
            log.flush()
            words = line.split(" ")
            cmd = words[0]
            if cmd == "CAP" and words[1:3] == ["REQ", ":sasl"]:
                capping = True
                send(":fake CAP * %s :sasl" % ("ACK" if sasl else "NAK"))
            elif cmd == "AUTHENTICATE" and words[1] == "PLAIN":
                send("AUTHENTICATE +")
            elif cmd == "AUTHENTICATE":
                u, p = creds.split(":", 1)
                want = base64.b64encode(("%s\0%s\0%s" % (u, u, p)).encode()).decode()
                if words[1] == want:
                    send(":fake 900 %s %s!u@fake.host %s :You are now logged in" % (nick, nick, u))
                    send(":fake 903 %s :SASL authentication successful" % nick)
                else:
                    send(":fake 904 %s :SASL authentication failed" % nick)
            elif cmd == "CAP" and words[1] == "END":
                capping = False
                if got_user and not registered:
                    registered = True
                    welcome()
            elif cmd == "NICK":
                nick = words[1]
            elif cmd == "USER":
                got_user = True
                if not capping and not registered:
                    registered = True
                    welcome()
            elif cmd == "PING":
                send(":fake PONG fake %s" % words[1])
            elif cmd == "QUIT":
                send("ERROR :Closing link")
                return


def main():
    log = open(sys.argv[1], "a")
    creds, sasl = "bot:secret", True
    args = sys.argv[2:]
    while args:
        a = args.pop(0)
        if a == "--sasl":
            creds = args.pop(0)
        elif a == "--no-sasl":
            sasl = False
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(5)
    print(srv.getsockname()[1], flush=True)
    while True:
        conn, _ = srv.accept()
        try:
            serve(conn, log, creds, sasl)
        except (ConnectionError, IndexError):
            pass
        conn.close()


if __name__ == "__main__":
    main()
