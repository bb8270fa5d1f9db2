#!/usr/bin/python3
"""fake-ircd.py MODE PORTFILE LOG: a loopback IRC server for the secrets
tests.  Writes its port to PORTFILE (atomically) and every line it reads to
LOG.  MODE: ok (welcome, answer PING and JOIN), badpass (464 after USER),
echopass (464 quoting the PASS it was sent, in the reason and in ERROR),
sasl (CAP ACK, then 904 for any AUTHENTICATE), close (hang up after the
first line), nowelcome (reads, never sends 001: registered never),
lagping (welcome, then LAGPING_CHAT PRIVMSGs to #ops at once, then
"PING :kN" every 0.2 s, N = 1..LAGPING_PINGS: the log shows the PONGs)."""
import os
import socket
import sys
import threading
import time

mode, portfile, log = sys.argv[1], sys.argv[2], sys.argv[3]
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0)); srv.listen(8)
with open(portfile + ".tmp", "w") as pf:
    pf.write(str(srv.getsockname()[1]))
os.rename(portfile + ".tmp", portfile)
def lagping(send):
    chat = int(os.environ.get("LAGPING_CHAT", "30000"))
    burst = b"".join(b":al!u@h PRIVMSG #ops :x\r\n" for _ in range(1000))
    for _ in range(chat // 1000):
        send.raw(burst)
    for n in range(1, int(os.environ.get("LAGPING_PINGS", "10")) + 1):
        send("PING :k%d" % n)
        time.sleep(0.2)
def serve(conn):
    f = conn.makefile("rb")
    nick = "bot"
    password = ""
    lock = threading.Lock()
    def put(b):
        with lock: conn.sendall(b)
    def send(s): put(s.encode() + b"\r\n")
    send.raw = put
    try:
        for raw in f:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            with open(log, "a") as L: L.write(line + "\n")
            cmd = line.split(" ")[0]
            arg = line.split(" ", 1)[1] if " " in line else ""
            if mode == "close": conn.close(); return
            if cmd == "CAP" and arg.startswith("LS"): send(":fake CAP * LS :sasl")
            elif cmd == "CAP" and arg.startswith("REQ"): send(":fake CAP * ACK :sasl")
            elif cmd == "AUTHENTICATE" and arg == "PLAIN": send("AUTHENTICATE +")
            elif cmd == "AUTHENTICATE": send(":fake 904 %s :SASL authentication failed" % nick)
            elif cmd == "NICK": nick = arg
            elif cmd == "PASS": password = arg.lstrip(":")
            elif cmd == "USER":
                if mode == "badpass": send(":fake 464 %s :Password incorrect" % nick); send("ERROR :Closing link"); conn.close(); return
                if mode == "echopass":
                    send(":fake NOTICE * :*** you sent %s" % password)
                    send(":fake 464 %s :Password incorrect: you sent %s" % (nick, password))
                    send("ERROR :Closing link (bad password %s)" % password); conn.close(); return
                if mode in ("sasl", "nowelcome"): continue
                send(":fake 001 %s :Welcome" % nick)
                if mode == "lagping":
                    threading.Thread(target=lagping, args=(send,), daemon=True).start()
            elif cmd == "PING": send(":fake PONG fake %s" % arg)
            elif cmd == "JOIN": send(":%s!u@h JOIN %s" % (nick, arg))
            elif cmd == "QUIT": conn.close(); return
    except OSError:
        pass
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
