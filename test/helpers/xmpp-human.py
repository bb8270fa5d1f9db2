#!/usr/bin/python3
"""xmpp-human.py: a person on XMPP, for tests, played by Debian's slixmpp.

    xmpp-human.py PORT CAFILE JID PASSFILE < SCRIPT

Logs in as JID (password in PASSFILE) on 127.0.0.1:PORT with STARTTLS,
trusting CAFILE, sends its presence, then runs SCRIPT, one command a line
(blank lines and lines starting with "# " are skipped):

    join ROOM NICK          join a MUC room, wait for our own presence in it
                            (a room it makes is unlocked at once)
    leave ROOM NICK         leave it
    say JID TEXT            a chat message (TEXT may hold \\n)
    room ROOM TEXT          a groupchat message
    correct TYPE JID ID TEXT   a correction (XEP-0308) of message ID
    react TYPE JID ID [EMOJI...]   our reactions (XEP-0444) on message ID
    reply TYPE JID ID TEXT  a reply (XEP-0461) to message ID
    oob TYPE JID URL        a link (XEP-0066) with the URL as body
    upload TYPE JID FILE    FILE through our server's HTTP File Upload
                            (slixmpp's XEP-0363), then its link as oob
                            sends it; prints "uploaded URL"
    fetch FILE              GET the oob URL of the line the last expect
                            matched into FILE; prints "fetched N bytes"
    show [SHOW [STATUS]]    our presence: away, dnd, xa, chat, or online
    direct JID [SHOW]       a directed presence to JID
    subscribe JID           ask for JID's presence
    invite ROOM JID         invite JID into ROOM (mediated, XEP-0045 7.8.2)
    kick ROOM NICK          as a moderator, kick NICK out of ROOM
    accept                  accept every subscription request from now on
    expect REGEX [SECONDS]  wait until a received line matches (default 10 s);
                            exit 1 when none does
    absent REGEX SECONDS    exit 1 when a line matching REGEX arrives within
    sleep SECONDS
    rtt N TYPE JID BOT      N times: "!echo rttK" to JID, wait for BOT's
                            answer; prints "rtt p50=.. p99=.. ms"
    TYPE is chat or groupchat.

Every stanza received is printed on stdout as one line:

    message TYPE FROM id=ID [replace=ID] [reply=ID] [reactions=ID:A,B]
            [oob=URL] [subject=JSON] body=JSON
    presence FROM type=TYPE show=SHOW status=JSON [codes=110,201]
"""
import asyncio
import json
import logging
import os
import re
import socket
import ssl
import sys
import time
import urllib.request

from slixmpp import ClientXMPP
from slixmpp.xmlstream import ET

NS_CORRECT = "urn:xmpp:message-correct:0"
NS_REACTIONS = "urn:xmpp:reactions:0"
NS_REPLY = "urn:xmpp:reply:0"
NS_OOB = "jabber:x:oob"
NS_MUC = "http://jabber.org/protocol/muc"
NS_MUC_USER = "http://jabber.org/protocol/muc#user"


def find(xml, name, ns):
    return xml.find("{%s}%s" % (ns, name))


class Human(ClientXMPP):
    def __init__(self, jid, password, script):
        super().__init__(jid, password)
        self.script = script
        self.lines = []
        self.waiter = asyncio.Event()
        self.accepting = False
        self.failed = False
        self.matched = ""
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("failed_auth", self.on_failed_auth)
        self.register_handler_raw()

    def register_handler_raw(self):
        from slixmpp.xmlstream.handler import Callback
        from slixmpp.xmlstream.matcher import MatchXPath
        self.register_handler(Callback("msg", MatchXPath("{jabber:client}message"), self.on_message))
        self.register_handler(Callback("pres", MatchXPath("{jabber:client}presence"), self.on_presence))

    def on_failed_auth(self, _):
        print("human: login failed", file=sys.stderr)
        self.failed = True
        self.disconnect()

    def saw(self, line):
        print(line, flush=True)
        self.lines.append(line)
        self.waiter.set()

    def on_message(self, msg):
        xml = msg.xml
        parts = ["message", xml.get("type", "normal"), xml.get("from", ""), "id=%s" % xml.get("id", "")]
        rep = find(xml, "replace", NS_CORRECT)
        if rep is not None:
            parts.append("replace=%s" % rep.get("id"))
        rp = find(xml, "reply", NS_REPLY)
        if rp is not None:
            parts.append("reply=%s" % rp.get("id"))
        rs = find(xml, "reactions", NS_REACTIONS)
        if rs is not None:
            names = [r.text or "" for r in rs.findall("{%s}reaction" % NS_REACTIONS)]
            parts.append("reactions=%s:%s" % (rs.get("id"), ",".join(names)))
        oob = find(xml, "x", NS_OOB)
        if oob is not None:
            parts.append("oob=%s" % (oob.findtext("{%s}url" % NS_OOB) or ""))
        subj = xml.find("{jabber:client}subject")
        if subj is not None:
            parts.append("subject=%s" % json.dumps(subj.text or "", ensure_ascii=False))
        body = xml.find("{jabber:client}body")
        if body is not None:
            parts.append("body=%s" % json.dumps(body.text or "", ensure_ascii=False))
        self.saw(" ".join(parts))

    def on_presence(self, pres):
        xml = pres.xml
        ptype = xml.get("type", "available")
        if ptype == "subscribe" and self.accepting:
            self.send_presence(pto=xml.get("from"), ptype="subscribed")
        show = xml.findtext("{jabber:client}show") or ""
        status = xml.findtext("{jabber:client}status") or ""
        parts = ["presence", xml.get("from", ""), "type=%s" % ptype, "show=%s" % show,
                 "status=%s" % json.dumps(status, ensure_ascii=False)]
        x = find(xml, "x", NS_MUC_USER)
        if x is not None:
            codes = [s.get("code") for s in x.findall("{%s}status" % NS_MUC_USER)]
            if codes:
                parts.append("codes=%s" % ",".join(codes))
            if "201" in codes and "110" in codes:
                # a room we made: unlock it at once (an instant room)
                iq = self.make_iq_set(ito=xml.get("from").split("/")[0])
                q = ET.Element("{http://jabber.org/protocol/muc#owner}query")
                ET.SubElement(q, "{jabber:x:data}x").set("type", "submit")
                iq.append(q)
                iq.send()
        self.saw(" ".join(parts))

    async def expect(self, regex, secs, start=0):
        """The index of the first line from start matching regex, or -1."""
        pat = re.compile(regex)
        end = time.monotonic() + secs
        i = start
        while True:
            while i < len(self.lines):
                if pat.search(self.lines[i]):
                    return i
                i += 1
            left = end - time.monotonic()
            if left <= 0:
                return -1
            self.waiter.clear()
            try:
                await asyncio.wait_for(self.waiter.wait(), left)
            except asyncio.TimeoutError:
                pass

    async def find_upload(self):
        """The service among our server's disco#items that offers XEP-0363."""
        disco = self["xep_0030"]
        items = await disco.get_items(jid=self.boundjid.domain, timeout=10)
        for jid, _node, _name in items["disco_items"]["items"]:
            info = await disco.get_info(jid=jid, timeout=10)
            if "urn:xmpp:http:upload:0" in info["disco_info"]["features"]:
                return jid
        raise RuntimeError("no upload service")

    def send_oob(self, mtype, to, url):
        m = self.message(mtype, to, url)
        e = ET.Element("{%s}x" % NS_OOB)
        ET.SubElement(e, "{%s}url" % NS_OOB).text = url
        m.append(e)
        m.send()

    def get(self, url):
        """The bytes at url, the server's certificate checked against CAFILE."""
        ctx = ssl.create_default_context(cafile=self.cafile)
        with urllib.request.urlopen(url, context=ctx, timeout=10) as r:
            return r.read()

    def message(self, mtype, to, body=None):
        m = self.make_message(mto=to, mbody=body, mtype=mtype)
        return m

    async def on_start(self, _):
        self.send_presence()
        await self.get_roster()
        code = 0
        try:
            code = await self.run_script()
        except Exception as e:  # a broken script line: say so, fail
            print("human: %s" % e, file=sys.stderr)
            code = 2
        self.code = code
        self.disconnect()

    async def run_script(self):
        mark = 0
        for raw in self.script:
            line = raw.rstrip("\n")
            if not line.strip() or line.startswith("# "):
                continue
            cmd, _, rest = line.strip().partition(" ")
            args = rest.split(" ")
            if cmd == "join":
                room, nick = args[0], args[1]
                p = self.make_presence(pto="%s/%s" % (room, nick))
                p.append(ET.Element("{%s}x" % NS_MUC))
                p.send()
                if await self.expect(r"^presence %s/%s .*codes=.*110" % (re.escape(room), re.escape(nick)), 10, mark) < 0:
                    print("human: could not join %s" % room, file=sys.stderr)
                    return 1
            elif cmd == "leave":
                self.send_presence(pto="%s/%s" % (args[0], args[1]), ptype="unavailable")
            elif cmd in ("say", "room"):
                to, text = args[0], rest.partition(" ")[2].replace("\\n", "\n")
                self.message("chat" if cmd == "say" else "groupchat", to, text).send()
            elif cmd == "correct":
                mtype, to, mid = args[0], args[1], args[2]
                m = self.message(mtype, to, " ".join(args[3:]))
                e = ET.Element("{%s}replace" % NS_CORRECT)
                e.set("id", mid)
                m.append(e)
                m.send()
            elif cmd == "react":
                mtype, to, mid = args[0], args[1], args[2]
                m = self.message(mtype, to)
                e = ET.Element("{%s}reactions" % NS_REACTIONS)
                e.set("id", mid)
                for r in args[3:]:
                    ch = ET.SubElement(e, "{%s}reaction" % NS_REACTIONS)
                    ch.text = r
                m.append(e)
                m.send()
            elif cmd == "reply":
                mtype, to, mid = args[0], args[1], args[2]
                m = self.message(mtype, to, " ".join(args[3:]))
                e = ET.Element("{%s}reply" % NS_REPLY)
                e.set("id", mid)
                m.append(e)
                m.send()
            elif cmd == "oob":
                self.send_oob(args[0], args[1], args[2])
            elif cmd == "upload":
                mtype, to, path = args[0], args[1], args[2]
                up = self["xep_0363"]
                if up.upload_service is None:
                    # slixmpp 1.8's own look-up (get_info_from_domain)
                    # fails on Python 3.11: the same disco steps by hand
                    up.upload_service = await self.find_upload()
                url = await up.upload_file(path, timeout=10)
                print("uploaded %s" % url, flush=True)
                self.send_oob(mtype, to, url)
            elif cmd == "fetch":
                m = re.search(r" oob=(\S+)", self.matched)
                if not m:
                    print("human: no oob URL in the line matched", file=sys.stderr)
                    return 1
                data = await asyncio.get_event_loop().run_in_executor(None, self.get, m.group(1))
                with open(args[0], "wb") as f:
                    f.write(data)
                print("fetched %d bytes" % len(data), flush=True)
            elif cmd == "show":
                show = args[0] if args and args[0] else ""
                status = " ".join(args[1:]) or None
                if show in ("", "online"):
                    self.send_presence(pstatus=status)
                else:
                    self.send_presence(pshow=show, pstatus=status)
            elif cmd == "direct":
                self.send_presence(pto=args[0], pshow=args[1] if len(args) > 1 else None)
            elif cmd == "subscribe":
                self.send_presence(pto=args[0], ptype="subscribe")
            elif cmd == "invite":
                m = self.make_message(mto=args[0])
                x = ET.Element("{%s}x" % NS_MUC_USER)
                ET.SubElement(x, "{%s}invite" % NS_MUC_USER).set("to", args[1])
                m.append(x)
                m.send()
            elif cmd == "kick":
                iq = self.make_iq_set(ito=args[0])
                q = ET.Element("{http://jabber.org/protocol/muc#admin}query")
                item = ET.SubElement(q, "{http://jabber.org/protocol/muc#admin}item")
                item.set("nick", args[1])
                item.set("role", "none")
                iq.append(q)
                await iq.send()
            elif cmd == "accept":
                self.accepting = True
            elif cmd == "expect":
                regex, secs = rest, 10.0
                m = re.match(r"^(.*) (\d+(?:\.\d+)?)$", rest)
                if m:
                    regex, secs = m.group(1), float(m.group(2))
                i = await self.expect(regex, secs, mark)
                if i < 0:
                    print("human: nothing matched /%s/ in %g s" % (regex, secs), file=sys.stderr)
                    return 1
                self.matched = self.lines[i]
                mark = i + 1
            elif cmd == "absent":
                m = re.match(r"^(.*) (\d+(?:\.\d+)?)$", rest)
                if await self.expect(m.group(1), float(m.group(2)), mark) >= 0:
                    print("human: /%s/ arrived" % m.group(1), file=sys.stderr)
                    return 1
            elif cmd == "sleep":
                await asyncio.sleep(float(args[0]))
            elif cmd == "rtt":
                n, mtype, to, bot = int(args[0]), args[1], args[2], args[3]
                times = []
                for k in range(n):
                    t0 = time.monotonic()
                    self.message(mtype, to, "!echo rtt%d" % k).send()
                    if await self.expect(r"^message %s %s\S* .*body=\"(@\S+ )?rtt%d\"" % (mtype, re.escape(bot), k), 20, mark) < 0:
                        print("human: no answer to rtt%d" % k, file=sys.stderr)
                        return 1
                    mark = len(self.lines)
                    times.append((time.monotonic() - t0) * 1000)
                times.sort()
                p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
                print("rtt p50=%.1f p99=%.1f ms" % (times[len(times) // 2], p99), flush=True)
            else:
                print("human: unknown command %s" % cmd, file=sys.stderr)
                return 2
        return 0


def localhost_is_loopback():
    """"localhost" as 127.0.0.1 without /etc/hosts, which a fresh Debian
    root may lack: the upload service's URLs name localhost (the test
    certificate's name), and every server here is on loopback."""
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        return real("127.0.0.1" if host == "localhost" else host, *args, **kwargs)
    socket.getaddrinfo = getaddrinfo


def main():
    port, cafile, jid, passfile = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    localhost_is_loopback()
    logging.basicConfig(level=logging.ERROR)
    password = open(passfile).read().strip()
    script = sys.stdin.readlines()
    # slixmpp's upload (aiohttp) trusts the system's store: make it CAFILE
    os.environ["SSL_CERT_FILE"] = cafile
    h = Human(jid, password, script)
    h.code = 1
    h.cafile = cafile
    h.ssl_context = ssl.create_default_context(cafile=cafile)
    h.register_plugin("xep_0199")
    h.register_plugin("xep_0363")
    h.connect(("127.0.0.1", port))
    loop = asyncio.get_event_loop()
    loop.run_until_complete(h.disconnected)
    sys.exit(1 if h.failed else h.code)


if __name__ == "__main__":
    main()
