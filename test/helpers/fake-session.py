#!/usr/bin/env python3
"""A scripted session socket (botpipe-session(7)): answers every request
line with the next answer of its script, one JSON object a line, and
records the requests.  Usage: fake-session.py SOCKET ANSWERS RECORD"""
import json
import os
import socket
import sys

path, answers_file, record = sys.argv[1:4]
with open(answers_file) as f:
    answers = [line.rstrip("\n") for line in f if line.strip()]
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
os.chmod(path, 0o600)
srv.listen(4)
print("ready", flush=True)
n = 0
while True:
    conn, _ = srv.accept()
    buf = b""
    with conn, open(record, "a") as rec:
        while True:
            data = conn.recv(65536)
            if not data:
                break
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                rec.write(line.decode() + "\n")
                rec.flush()
                req = json.loads(line)
                answer = json.loads(answers[min(n, len(answers) - 1)])
                n += 1
                answer.setdefault("event", req)
                conn.sendall((json.dumps(answer) + "\n").encode())
