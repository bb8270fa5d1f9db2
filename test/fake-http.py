#!/usr/bin/python3
"""fake-http.py: a loopback HTTP/1.1 receiver for botpipe's tests.

Listens on 127.0.0.1 (a free port unless --port is given), records every
request as one JSON line, and answers from a script.

    fake-http.py --port-file F --log REQUESTS.ndjson [--script FILE | --script-json JSON]
                 [--cert CERT --key KEY]

The port is printed on stdout (one line) and, with --port-file, written to
that file (atomically: the file appears complete or not at all).

Each request is logged before it is answered, so a request that is then
hung up on or reset is still in the log:
    {"n": 1, "t": 1700000000.123, "method": "POST", "path": "/hook",
     "headers": {"content-type": "application/json", ...},
     "body": "<the body as text>", "json": <the body parsed, or null>,
     "answer": <the script entry that answers it>}
Header names are lower-cased.  "t" is the time the request was read.  So
`jq 'select(.answer.status == 200)'` counts what was delivered: a client
may well send a request again after a reset (libcurl does so by itself
once when a reused connection dies before any answer).

The script is JSON: a list of responses, or {"responses": [...],
"default": {...}}.  Responses are consumed in order, the first one whose
"path" (a regular expression, optional) matches the request's path; when
none is left, "default" answers (200 with {"ok": true} unless set).
A response is an object:
    {"status": 200, "body": {...} | "text", "headers": {"Retry-After": "2"}}
    {"delay": 0.5, ...}   wait that long, then answer as above
    {"hang": 5}           read the request, say nothing for 5 s, close
    {"reset": true}       read the request, then reset the connection (RST)
    {"close": true}       read the request, then close without answering
    {"raw": "HTTP/1.1 200 OK\\r\\n..."}  these bytes as they are, then close
A JSON body is sent as application/json, a string as text/plain.
    {"keep": true, ...}   stays in the queue: it answers every request
                          its "path" matches (a fixed endpoint)
    {"count": true, ...}  "{n}" in the body's strings becomes how many
                          requests this fake answered so far, this one
                          included (a fresh id per answer)

More responses can be queued while it runs: POST a JSON list (or one
object) to /__fake/queue.  Such control requests are not logged.
Each logged request also has "body_b64", the body's exact bytes in base64.
Stops on SIGTERM or SIGINT.

Two more script keys, for APIs a client polls (both optional):
    "answers": [{"path": "REGEX", "status": 200, "body": ...}, ...]
        standing answers, never consumed: a request that no queued
        response matches gets the first one whose path matches (before
        "default").  A string "$n" anywhere in the body is replaced by
        an integer one higher for each standing answer given: fresh ids.
    "feed": {"path": "REGEX", "cursor": "offset", "id": "update_id",
             "timeout": "timeout", "limit": "limit", "max_wait": 30,
             "key": "result", "body": {"ok": true}, "items": [...]}
        a long-polled list of items: a request matching path (and no
        queued response) gets body with key set to the items whose
        field id is >= the request's cursor parameter (0 when absent),
        at most limit of them; when there is none it waits for one, up
        to the request's timeout parameter (seconds, at most max_wait),
        and answers an empty list.  Parameters are read from the query
        string, a JSON object body or a form body (multipart too).
        POST an item or a list of items to /__fake/feed to add them (a
        waiting request answers at once).  A restarted fake given the
        same items serves them again from the client's cursor, as a
        server that keeps unconfirmed items does.
        Two more feed keys: "after": true serves the items whose id is
        greater than the cursor (a cursor that names the last item
        read, not the next one; -1 when absent); "wait": the seconds to
        wait for an item when the request has no timeout parameter (a
        server that holds every poll open; at most max_wait).
    "dedup": ["REGEX", ...]   a request whose path matches one of them is
        known by what the match captured (group 1, else the whole match)
        and its method: the first such request is answered as usual;
        every later one with the same capture gets that answer's status,
        body and headers again, takes nothing from the queue, and is
        logged with "dedup": true.  So does a homeserver answer a
        repeated transaction id (Matrix's PUT .../send/TYPE/TXNID).  A
        first response that hangs, resets or closes still counts as done
        when it has a "status" or "body" (the server did it; the answer
        was lost); one that is not a 2xx is not kept (nothing was done).
    "hold": {"path": "REGEX", "seconds": 2, "default": RESPONSE}
        a long poll of queued responses: a request matching path when no
        response for it is queued waits up to that long for one to be
        queued (POST /__fake/queue), then gets the hold's default (the
        script's default when it has none).

With --ws it is a WebSocket server instead (Debian's python3-websockets),
scripted the same way.  The script is a list of connections, or
{"connections": [...], "default": {...}}; each connection, in the order
they come, is {"actions": [...]}, run in turn (when the list ends it
echoes every message until the client closes):
    {"send": "text"}                 a text message
    {"send": "text", "repeat": 40}   the same message that many times
    {"send_b64": "AAEC"}             a binary message
    {"fragments": ["a", "b", "c"]}   one text message in that many frames
    {"recv": 1}                      wait for that many messages
    {"echo": true}                   echo every message (until closed)
    {"sleep": 0.5}
    {"silence": true}                read nothing more (so no pong): silent
    {"close": 4000, "reason": "bye"} a close frame, then wait for the answer
    {"drop": true}                   drop the TCP connection, no close frame
    {"auto": [{"match": "RE", "send": "text"}, ...]}
                                     from now on, answer every message that
                                     matches RE (re.search) with that text
                                     (a heartbeat's ack, say) as soon as it
                                     is read, whatever the script is doing;
                                     rules add up
    {"expect": "RE"}                 wait for a message matching RE
    {"hold": true}                   read until the client closes, echoing
                                     nothing
The log has one line per event, "conn" numbering connections from 1:
    {"n": 1, "t": ..., "conn": 1, "event": "open", "path": "/socket?x=1",
     "headers": {...}}
    {"n": 2, ..., "event": "frame", "opcode": 1, "fin": true,
     "data": "<text, or the bytes as latin-1>", "data_b64": "..."}
for every frame received (pings, pongs and close frames too), and
{"event": "closed", "code": 1000, "reason": ""} at the end.

Messages on demand, while the script runs: a plain HTTP request (no
WebSocket upgrade) for
    /__fake/send?text=URL-ENCODED-TEXT[&conn=N]
sends that text as one message on connection N, or on the newest open
connection, at once and whatever its script is doing; it answers 200
{"sent": N} (the connection's number), or 404 when no such connection
is open (a caller waits for the client to connect by asking again).
Such control requests are not logged, take no connection number and no
script.
"""
import argparse
import asyncio
import base64
import http.server
import json
import os
import re
import signal
import socket
import ssl
import struct
import sys
import threading
import time
import urllib.parse


class Script:
    def __init__(self, spec):
        if isinstance(spec, list):
            spec = {"responses": spec}
        self.queue = list(spec.get("responses", []))
        self.default = spec.get("default", {"status": 200, "body": {"ok": True}})
        self.answers = list(spec.get("answers", []))
        self.feed = Feed(spec["feed"]) if spec.get("feed") else None
        self.dedup = [re.compile(p) for p in spec.get("dedup", [])]
        self.seen = {}
        self.hold = spec.get("hold")
        self.lock = threading.Condition()   # a lock; "hold" waits on it
        self.answered = 0
        self.standing = 0    # standing answers given, for "$n"

    def push(self, items):
        if isinstance(items, dict):
            items = [items]
        with self.lock:
            self.queue.extend(items)
            self.lock.notify_all()

    def take(self, path):
        """The first queued response for path (lock held), or None."""
        for i, r in enumerate(self.queue):
            pat = r.get("path")
            if pat is None or re.search(pat, path):
                return r if r.get("keep") else self.queue.pop(i)
        return None

    def next_for(self, path):
        with self.lock:
            self.answered += 1
            r = self.take(path)
            if r is None and self.hold and re.search(self.hold["path"], path):
                r = self.held(path)
            if r is not None:
                return fill_count(r, self.answered)
        return self.default

    def held(self, path):
        """A held long poll: wait for a response queued for path (lock held)."""
        end = time.time() + float(self.hold.get("seconds", 1))
        r = None
        while r is None and time.time() < end:
            self.lock.wait(max(0.0, end - time.time()))
            r = self.take(path)
        return r if r is not None else self.hold.get("default", self.default)

    def dedup_key(self, method, path):
        for pat in self.dedup:
            m = pat.search(path)
            if m:
                return (method, m.group(1) if m.groups() else m.group(0))
        return None

    def dedup_answer(self, method, path, answer):
        """A request known by its path's capture: (the first answer again,
        True), or (answer(), False) with that answer kept when it is a 2xx."""
        key = self.dedup_key(method, path)
        if key is None:
            return answer(), False
        with self.lock:
            if key in self.seen:
                return self.seen[key], True
        r = answer()
        if 200 <= int(r.get("status", 200)) < 300 and ("status" in r or "body" in r):
            kept = {k: r[k] for k in ("status", "body", "headers") if k in r}
            with self.lock:
                self.seen.setdefault(key, kept)
        return r, False

    def queued_for(self, path):
        """The first queued response for path, taken; None when none."""
        with self.lock:
            for i, r in enumerate(self.queue):
                pat = r.get("path")
                if pat is None or re.search(pat, path):
                    return self.queue.pop(i)
        return None

    def standing_answer(self, path):
        """The first standing answer for path with "$n" filled in, or None."""
        for r in self.answers:
            if re.search(r.get("path", ""), path):
                with self.lock:
                    self.standing += 1
                    n = self.standing
                return fill_counter(r, n)
        return None


def fill_counter(value, n):
    """value with every string "$n" replaced by the integer n."""
    if value == "$n":
        return n
    if isinstance(value, dict):
        return {k: fill_counter(v, n) for k, v in value.items()}
    if isinstance(value, list):
        return [fill_counter(v, n) for v in value]
    return value


def request_params(path, headers, body):
    """A request's parameters: its query string, then a JSON object body,
    a form body or a multipart body's text fields (last one wins)."""
    params = {k: v[-1] for k, v in urllib.parse.parse_qs(urllib.parse.urlsplit(path).query).items()}
    ctype = headers.get("Content-Type", "")
    if ctype.startswith("application/json"):
        try:
            obj = json.loads(body or b"null")
        except ValueError:
            obj = None
        if isinstance(obj, dict):
            params.update(obj)
    elif ctype.startswith("application/x-www-form-urlencoded"):
        params.update({k: v[-1] for k, v in urllib.parse.parse_qs(body.decode("utf-8", "replace")).items()})
    elif ctype.startswith("multipart/form-data"):
        params.update(multipart_fields(ctype, body))
    return params


def multipart_fields(ctype, body):
    """The fields of a multipart/form-data body: name -> text, and for a
    file part name -> {"filename", "type", "size", "b64"}."""
    m = re.search(r'boundary="?([^";]+)"?', ctype)
    if not m:
        return {}
    out = {}
    for part in body.split(b"--" + m.group(1).encode())[1:]:
        if part.startswith(b"--"):
            break
        head, _, data = part.partition(b"\r\n\r\n")
        data = data[:-2] if data.endswith(b"\r\n") else data
        head = head.decode("utf-8", "replace")
        name = re.search(r'name="([^"]*)"', head)
        if not name:
            continue
        fname = re.search(r'filename="([^"]*)"', head)
        if fname:
            ptype = re.search(r"(?i)content-type:\s*([^\r\n]+)", head)
            out[name.group(1)] = {"filename": fname.group(1), "size": len(data),
                                  "type": ptype.group(1).strip() if ptype else None,
                                  "b64": base64.b64encode(data).decode("ascii")}
        else:
            out[name.group(1)] = data.decode("utf-8", "replace")
    return out


class Feed:
    """A long-polled list of items (see "feed" in the docstring)."""

    def __init__(self, spec):
        self.spec = spec
        self.items = list(spec.get("items", []))
        self.cond = threading.Condition()

    def matches(self, path):
        return re.search(self.spec.get("path", ""), path) is not None

    def push(self, items):
        if isinstance(items, dict):
            items = [items]
        with self.cond:
            self.items.extend(items)
            self.cond.notify_all()

    def number(self, v, default):
        try:
            return float(v)
        except (TypeError, ValueError):
            return default

    def from_cursor(self, cursor, limit):
        idf = self.spec.get("id", "id")
        if self.spec.get("after"):
            due = [i for i in self.items if self.number(i.get(idf), 0) > cursor]
        else:
            due = [i for i in self.items if self.number(i.get(idf), 0) >= cursor]
        return due[:limit]

    def answer(self, params):
        cursor = self.number(params.get(self.spec.get("cursor", "cursor")),
                             -1 if self.spec.get("after") else 0)
        limit = int(self.number(params.get(self.spec.get("limit", "limit")), 100)) or 100
        wait = min(self.number(params.get(self.spec.get("timeout", "timeout")),
                               float(self.spec.get("wait", 0))),
                   float(self.spec.get("max_wait", 30)))
        until = time.time() + max(wait, 0)
        with self.cond:
            due = self.from_cursor(cursor, limit)
            while not due and time.time() < until:
                self.cond.wait(until - time.time())
                due = self.from_cursor(cursor, limit)
        body = dict(self.spec.get("body", {"ok": True}))
        body[self.spec.get("key", "items")] = due
        return {"status": 200, "body": body}


def fill_count(r, n):
    """A response with "count": every "{n}" in its body's strings is n."""
    if not r.get("count"):
        return r

    def fill(v):
        if isinstance(v, str):
            return v.replace("{n}", str(n))
        if isinstance(v, list):
            return [fill(x) for x in v]
        if isinstance(v, dict):
            return {k: fill(x) for k, x in v.items()}
        return v
    return {**r, "body": fill(r.get("body", ""))}


class Recorder:
    def __init__(self, path):
        self.path = path
        self.n = 0
        self.lock = threading.Lock()

    def record(self, entry):
        with self.lock:
            self.n += 1
            entry = {"n": self.n, **entry}
            if self.path:
                with open(self.path, "a", encoding="utf-8") as f:
                    f.write(json.dumps(entry, ensure_ascii=False) + "\n")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "fake-http/1"

    def log_message(self, fmt, *args):  # quiet: the log file is the record
        pass

    def setup(self):
        # TLS handshakes happen here, in the connection's own thread, so
        # that a client that never finishes one cannot stall the others.
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(10)
            self.request.do_handshake()
            self.request.settimeout(None)
        super().setup()

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def handle_any(self):
        t = time.time()
        body = self.read_body()
        if self.path.startswith("/__fake/queue"):
            self.server.script.push(json.loads(body or b"[]"))
            return self.answer({"status": 204})
        if self.path.startswith("/__fake/feed") and self.server.script.feed:
            self.server.script.feed.push(json.loads(body or b"[]"))
            return self.answer({"status": 204})
        text = body.decode("utf-8", errors="backslashreplace")
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = None
        r, repeated = self.server.script.dedup_answer(self.command, self.path,
                                                      lambda: self.scripted_answer(body))
        logged = dict(r)
        if not any(k in r for k in ("hang", "reset", "close", "raw")):
            logged.setdefault("status", 200)
        entry = {
            "t": t, "method": self.command, "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": text, "body_b64": base64.b64encode(body).decode("ascii"),
            "json": parsed, "answer": logged,
        }
        if repeated:
            entry["dedup"] = True
        self.server.recorder.record(entry)
        self.answer(r)

    def scripted_answer(self, body):
        """A queued response, else the feed or a standing answer, else the
        default (without "feed" and "answers": next_for, as always)."""
        script = self.server.script
        if not script.feed and not script.answers:
            return script.next_for(self.path)
        r = script.queued_for(self.path)
        if r is not None:
            return r
        if script.feed and script.feed.matches(self.path):
            return {"feed": request_params(self.path, self.headers, body)}
        r = script.standing_answer(self.path)
        return r if r is not None else script.default

    def answer(self, r):
        if r.get("feed") is not None:
            r = self.server.script.feed.answer(r["feed"])
        if r.get("delay"):
            time.sleep(float(r["delay"]))
        if r.get("hang") is not None:
            time.sleep(float(r["hang"]))
            self.close_connection = True
            return
        if r.get("reset"):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        if r.get("close"):
            self.close_connection = True
            return
        if r.get("raw") is not None:
            self.wfile.write(r["raw"].encode("utf-8"))
            self.wfile.flush()
            self.close_connection = True
            return
        status = int(r.get("status", 200))
        body = r.get("body", "")
        ctype = "text/plain; charset=utf-8"
        if not isinstance(body, str):
            body = json.dumps(body)
            ctype = "application/json"
        data = body.encode("utf-8")
        self.send_response(status)
        headers = {"Content-Type": ctype, **r.get("headers", {})}
        for k, v in headers.items():
            self.send_header(k, str(v))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = handle_any


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    tls = None

    def get_request(self):
        sock, addr = self.socket.accept()
        if self.tls:
            sock = self.tls.wrap_socket(sock, server_side=True,
                                        do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request, client_address):
        pass  # a client that went away (timeouts in tests) is not news


class WsScript:
    def __init__(self, spec):
        if isinstance(spec, list):
            spec = {"connections": spec}
        self.queue = list(spec.get("connections", []))
        self.default = spec.get("default", {"actions": [{"echo": True}]})

    def next(self):
        return self.queue.pop(0) if self.queue else self.default


def ws_frame_entry(frame):
    data = bytes(frame.data)
    return {"event": "frame", "opcode": int(frame.opcode), "fin": bool(frame.fin),
            "data": data.decode("utf-8") if int(frame.opcode) == 1 and frame.fin
            else data.decode("latin-1"),
            "data_b64": base64.b64encode(data).decode("ascii")}


async def ws_run(a, spec):
    import websockets
    import websockets.legacy.server as wsserver
    from websockets.frames import Opcode

    recorder = Recorder(a.log)
    script = WsScript(spec)
    counter = [0]
    live = {}   # connection number -> protocol, while it is open

    class Protocol(wsserver.WebSocketServerProtocol):
        async def process_request(self, path, headers):
            if urllib.parse.urlsplit(path).path == "/__fake/send":
                return await ws_send_on_demand(path, live)
            # A connection's number and script are fixed when it comes.
            counter[0] += 1
            self.conn_no = counter[0]
            self.script = script.next()
            return None

        async def read_frame(self, max_size):
            frame = await super().read_frame(max_size)
            recorder.record({"t": time.time(), "conn": self.conn_no, **ws_frame_entry(frame)})
            self.answer_auto(frame)
            return frame

        def answer_auto(self, frame):
            # The auto rules answer as a frame is read, whatever the
            # script is doing (a long send, a sleep): as a server would.
            if int(frame.opcode) != 1 or not frame.fin:
                return
            text = bytes(frame.data).decode("utf-8", errors="replace")
            for pattern, reply in self.auto:
                if re.search(pattern, text) and self.open:
                    # at once, not behind what the script is sending
                    self.write_frame_sync(True, Opcode.TEXT, reply.encode("utf-8"))

    async def take(ws):
        # One message (the auto rules answered it as it was read).
        msg = await ws.recv()
        return msg if isinstance(msg, str) else msg.decode("latin-1")

    async def act(ws, action):
        if "auto" in action:
            ws.auto.extend((r["match"], r["send"]) for r in action["auto"])
        elif "expect" in action:
            while not re.search(action["expect"], await take(ws)):
                pass
        elif action.get("hold"):
            while True:
                await take(ws)
        elif "send" in action:
            for _ in range(int(action.get("repeat", 1))):
                await ws.send(action["send"])
        elif "send_b64" in action:
            await ws.send(base64.b64decode(action["send_b64"]))
        elif "fragments" in action:
            await ws.send(list(action["fragments"]))
        elif "recv" in action:
            for _ in range(int(action["recv"])):
                await ws.recv()
        elif "sleep" in action:
            await asyncio.sleep(float(action["sleep"]))
        elif action.get("silence"):
            ws.transport.pause_reading()
            await asyncio.sleep(3600)
        elif "close" in action:
            await ws.close(int(action["close"]), action.get("reason", ""))
            return False
        elif action.get("drop"):
            ws.transport.abort()
            return False
        elif action.get("echo"):
            async for msg in ws:
                await ws.send(msg)
            return False
        return True

    async def handler(ws, path):
        try:
            for action in ws.script.get("actions", []):
                if not await act(ws, action):
                    break
            else:
                async for msg in ws:
                    await ws.send(msg)
        except websockets.ConnectionClosed:
            pass
        finally:
            try:
                await asyncio.wait_for(ws.wait_closed(), 5)
            except Exception:
                pass
            recorder.record({"t": time.time(), "conn": ws.conn_no, "event": "closed",
                             "code": ws.close_code, "reason": ws.close_reason or ""})

    def factory(*args, **kw):
        p = Protocol(*args, **kw)
        p.auto = []
        return p

    ctx = None
    if a.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.cert, a.key)

    async def log_open(ws, path):
        recorder.record({"t": time.time(), "conn": ws.conn_no, "event": "open", "path": path,
                         "headers": {k.lower(): v for k, v in ws.request_headers.raw_items()}})
        live[ws.conn_no] = ws
        try:
            await handler(ws, path)
        finally:
            live.pop(ws.conn_no, None)

    # Stop at once: a silenced connection would hold a graceful shutdown.
    stop = asyncio.get_running_loop().create_future()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: os._exit(0))
    async with websockets.serve(log_open, "127.0.0.1", a.port, create_protocol=factory,
                                ssl=ctx, ping_interval=None, max_size=None) as srv:
        port = srv.sockets[0].getsockname()[1]
        if a.port_file:
            write_port_file(a.port_file, port)
        print(port, flush=True)
        await stop


async def ws_send_on_demand(path, live):
    """GET /__fake/send?text=T[&conn=N] in --ws mode: T on connection N
    (else the newest open one); the HTTP answer as process_request gives it."""
    from http import HTTPStatus
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
    text = q.get("text", [""])[-1]
    want = q.get("conn", [None])[-1]
    open_ = {n: ws for n, ws in live.items() if ws.open}
    n = int(want) if want is not None else (max(open_) if open_ else None)
    headers = [("Content-Type", "application/json"), ("Connection", "close")]
    if n not in open_:
        return HTTPStatus.NOT_FOUND, headers, b'{"sent": null}\n'
    await open_[n].send(text)
    return HTTPStatus.OK, headers, json.dumps({"sent": n}).encode() + b"\n"


def write_port_file(path, port):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.rename(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--log")
    ap.add_argument("--script")
    ap.add_argument("--script-json")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--ws", action="store_true")
    a = ap.parse_args()

    spec = []
    if a.script:
        with open(a.script, encoding="utf-8") as f:
            spec = json.load(f)
    elif a.script_json:
        spec = json.loads(a.script_json)

    if a.ws:
        asyncio.run(ws_run(a, spec))
        return

    srv = Server(("127.0.0.1", a.port), Handler)
    srv.script = Script(spec)
    srv.recorder = Recorder(a.log)
    if a.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.cert, a.key)
        srv.tls = ctx
    port = srv.server_address[1]

    def stop(signum, frame):
        threading.Thread(target=srv.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    if a.port_file:
        write_port_file(a.port_file, port)
    print(port, flush=True)
    srv.serve_forever(poll_interval=0.1)
    srv.server_close()


if __name__ == "__main__":
    main()
