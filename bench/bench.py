#!/usr/bin/python3
"""bench.py: make bench's figures, botpipe beside its peers, in one run.

    B=build bench/bench.py [--quick] [--only NAME,...] [--markdown FILE]

Called by bench/run.sh (which makes the inputs and installs the peers).
Every figure is the median of several runs with the min-max range, and the
ratio to its peer.  Nothing here passes or fails: figures are printed, and
a peer that cannot run here is reported with the reason.
"""
import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
B = os.path.join(ROOT, os.environ.get("B", "build"))
BIN = os.path.join(B, "bin")
OUT = os.path.join(HERE, "out")
PY = "/usr/bin/python3"
DRIVE = [PY, os.path.join(HERE, "drive.py")]
HUBOT = os.path.join(OUT, "hubot", "node_modules", ".bin", "hubot")
ROWS = []          # (figure, botpipe, peer, ratio)
NOTES = []


def bot(name):
    return os.path.join(BIN, name)


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


# ---- measuring ----

def timed(cmd, stdin=None, env=None, cwd=None):
    """Run cmd under /usr/bin/time; (wall s, cpu s, peak RSS KiB)."""
    with tempfile.NamedTemporaryFile("r", prefix="bench-time.") as tf:
        inp = open(stdin, "rb") if stdin else subprocess.DEVNULL
        t0 = time.perf_counter()
        p = subprocess.run(["/usr/bin/time", "-f", "%U %S %M", "-o", tf.name] + cmd,
                           stdin=inp, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, env=env, cwd=cwd)
        wall = time.perf_counter() - t0
        if stdin:
            inp.close()
        fields = tf.read().split()
    if p.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (os.path.basename(cmd[0]), p.returncode,
                                                p.stderr.decode(errors="replace").strip()[-300:]))
    u, s, m = fields[-3:]
    return wall, float(u) + float(s), int(m)


def runs(fn, n):
    return [fn() for _ in range(n)]


def med(xs):
    return statistics.median(xs)


def spread(xs, fmt):
    """ "median (min-max)" """
    return "%s (%s-%s)" % (fmt(med(xs)), fmt(min(xs)), fmt(max(xs)))


def k(x):
    if x >= 1000000 and x % 1000000 == 0:
        return "%d M" % (x // 1000000)
    if x >= 1000 and x % 1000 == 0:
        return "%d k" % (x // 1000)
    return "%.1f k" % (x / 1000) if x >= 1000 else "%.0f" % x


def ms(x):
    return "%.1f ms" % (x * 1000) if x < 10 else "%.0f ms" % (x * 1000)


def mb(kib):
    return "%.1f MB" % (kib / 1024)


def ratio(a, b, better_high=True):
    if not a or not b:
        return ""
    r = a / b
    return "%.2f×" % r


def row(figure, botpipe, peer, rat=""):
    ROWS.append((figure, botpipe, peer, rat))
    print("  %-58s | %-34s | %-40s | %s" % (figure, botpipe, peer, rat), flush=True)


def hyper(cmds, runs_, shell=False, input_file=None):
    """hyperfine: per command the list of run times (s)."""
    with tempfile.NamedTemporaryFile("r", suffix=".json") as tf:
        args = ["hyperfine", "--style", "none", "--export-json", tf.name, "-r", str(runs_),
                "--warmup", "2"]
        if not shell:
            args.append("-N")
        subprocess.run(args + cmds, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       check=True)
        data = json.load(open(tf.name))
    return [r["times"] for r in data["results"]]


def rss_runs(cmd, n, stdin=None):
    return [timed(cmd, stdin=stdin)[2] for _ in range(n)]


def drive(args, cwd=None, env=None, timeout=600):
    p = subprocess.run(DRIVE + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       cwd=cwd, env=env, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError(p.stderr.decode(errors="replace").strip()[-300:] or "drive.py failed")
    return [ln.split() for ln in p.stdout.decode().splitlines() if ln.strip()]


def lines_in(path):
    with open(path, "rb") as f:
        return sum(1 for _ in f)


def head(src, n, dst):
    with open(src, "rb") as f, open(dst, "wb") as o:
        for i, ln in enumerate(f):
            if i >= n:
                break
            o.write(ln)
    return dst


# ---- figures ----

def fig_pass(a):
    ev = os.path.join(OUT, "events.ndjson")
    n = lines_in(ev)
    r = 2 if a.quick else 3
    d = runs(lambda: timed([bot("bot-dispatch"), "--pass"], stdin=ev), r)
    j = runs(lambda: timed(["jq", "-c", "."], stdin=ev), r)
    dr = [n / w for w, _, _ in d]
    jr = [n / w for w, _, _ in j]
    dc = [n / c for _, c, _ in d]
    jc = [n / c for _, c, _ in j]
    row("events/s, bot-dispatch --pass, %s non-command events" % k(n),
        spread(dr, k), "jq -c . " + spread(jr, k), ratio(med(dr), med(jr)))
    row("  same, per CPU second (user+sys; less noisy)", spread(dc, k), "jq -c . " + spread(jc, k),
        ratio(med(dc), med(jc)))
    a.pass_rss = [m for _, _, m in d]
    a.jq_rss = [m for _, _, m in j]
    a.events_n = n


def fig_rule(a):
    h = subprocess.run([bot("bot-dispatch"), "--help"], stdout=subprocess.PIPE).stdout.decode()
    if not re.search(r"^\s*-e,", h, re.M):
        row("events/s, bot-dispatch with one jq rule", "not yet: bot-dispatch has no -e",
            "jq -c RULE (not run)")
        return
    ev = os.path.join(OUT, "events.ndjson")
    n = lines_in(ev)
    rule = 'select(.type == "message" and (.body | test("deploy"))) | {type: "message", to: .to, body: ("seen: " + .body)}'
    r = 2 if a.quick else 3
    try:
        d = runs(lambda: timed([bot("bot-dispatch"), "-e", rule], stdin=ev), r)
    except RuntimeError as e:
        row("events/s, bot-dispatch -e RULE", "failed: %s" % e, "")
        return
    j = runs(lambda: timed(["jq", "-c", rule], stdin=ev), r)
    dr = [n / w for w, _, _ in d]
    jr = [n / w for w, _, _ in j]
    dc = [n / c for _, c, _ in d]
    jc = [n / c for _, c, _ in j]
    row("events/s, bot-dispatch -e RULE, %s events" % k(n), spread(dr, k),
        "jq -c RULE " + spread(jr, k), ratio(med(dr), med(jr)))
    row("  same, per CPU second", spread(dc, k), "jq -c RULE " + spread(jc, k), ratio(med(dc), med(jc)))


def fig_echo(a):
    echo = os.path.join(OUT, "echo.ndjson")
    n = lines_in(echo)
    r = 2 if a.quick else 3
    d = runs(lambda: timed([bot("bot-dispatch")], stdin=echo), r)
    dr = [n / w for w, _, _ in d]
    dc = [n / c for _, c, _ in d]
    row("!echo replies/s, bot-dispatch built-in, %s commands" % k(n), spread(dr, k), "", "")
    row("  same, per CPU second", spread(dc, k), "", "")
    # errbot: its in-process test bot (no I/O at all), fewer commands: slow.
    ne = 5000 if a.quick else 20000
    try:
        e = [float(x) for x in (subprocess.run(
            [PY, os.path.join(HERE, "errbot", "rate.py"), os.path.join(OUT, "echo.txt"), str(ne)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300, check=True)
            .stdout.decode().split()[1] for _ in range(r))]
        row("  errbot 6.1.7, Test backend in-process, WARNING, %s commands" % k(ne), "",
            "errbot " + spread(e, k), ratio(med(dr), med(e)))
    except Exception as ex:   # noqa: BLE001 - any failure is reported
        row("  errbot, Test backend", "", "cannot run: %s" % str(ex)[-120:])
    # Hubot: in-process (robot.receive, no I/O), then its Shell adapter
    # over a pipe, one "echo ..." a line.
    nh = 5000 if a.quick else 20000
    if not os.path.exists(HUBOT):
        row("  Hubot", "", "cannot run: npm install of hubot failed (see bench/run.sh)")
        return
    inp = os.path.join(OUT, "hubot-echo.txt")
    with open(os.path.join(OUT, "echo.txt")) as f, open(inp, "w") as o:
        for ln in f:
            o.write(ln[1:])
    env = hubot_env()
    env["HUBOT_MODULE"] = os.path.join(OUT, "hubot", "node_modules", "hubot", "index.mjs")
    try:
        hi = [float(subprocess.run(["node", os.path.join(HERE, "hubot", "rate.mjs"), inp, str(n)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                   timeout=300, check=True).stdout.decode().split()[1])
              for _ in range(r)]
        row("  Hubot 14 in-process (robot.receive, no I/O), %s commands" % k(n), "",
            "Hubot " + spread(hi, k), ratio(med(dr), med(hi)))
    except Exception as ex:   # noqa: BLE001
        row("  Hubot in-process", "", "cannot run: %s" % str(ex)[-120:])
    try:
        h = [float(x[0][1]) for x in (drive(
            ["rate", "--ready", "echo warm", "--ready-expect", "warm", "--input", inp,
             "--count", str(nh), "--expect", "\x1b[1mhello", "--", HUBOT, "-a", "Shell", "-d",
             "-r", os.path.join(HERE, "hubot")], cwd=hubot_dir(), env=hubot_env())
            for _ in range(r))]
        row("  Hubot 14, Shell adapter over a pipe, %s commands" % k(nh), "",
            "Hubot " + spread(h, k), ratio(med(dr), med(h)))
    except Exception as ex:   # noqa: BLE001
        row("  Hubot, Shell adapter", "", "cannot run: %s" % str(ex)[-120:])


def hubot_dir():
    d = os.path.join(OUT, "hubot-run")
    for sub in ("", "scripts", "src/scripts", "configuration"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    open(os.path.join(d, ".hubot_history"), "a").close()
    return d


def hubot_env():
    env = dict(os.environ)
    env["HUBOT_LOG_LEVEL"] = "error"
    return env


def no_session():
    """bot-send delivers through bot-listen's session when there is one
    (botpipe-session(7)): here bot-listen's text output is /dev/null and
    the reply is read from bot-send's, so both go without one."""
    h = subprocess.run([bot("bot-send"), "--help"], stdout=subprocess.PIPE).stdout.decode()
    return ["--session", "none"] if "--session" in h else []


def fig_first(a):
    r = 5 if a.quick else 10
    ns = no_session()
    pipeline = [bot("bot-listen"), "-b", "text", "--text-output", "/dev/null"] + ns + ["---",
                bot("bot-dispatch"), "---",
                bot("bot-send"), "-b", "text", "--text-output", "@OUT@"] + ns
    p = drive(["first", "--runs", str(r), "--send", "!echo ready", "--expect", "ready",
               "--out-fd", "--"] + pipeline)
    floor = drive(["first", "--runs", str(r), "--send", "ready", "--expect", "ready", "--",
                   "cat"])
    pt = [float(x[0]) / 1000 for x in p]
    prss = [int(x[1]) for x in p]
    pmax = [int(x[2]) for x in p]
    ft = [float(x[0]) / 1000 for x in floor]
    a.first = med(pt)
    row("launch -> first !echo reply, bot-listen|bot-dispatch|bot-send (text)",
        spread(pt, ms), "harness floor (cat) " + spread(ft, ms), "")
    row("  peak RSS, the three together (largest one)", "%s (%s)" % (mb(med(prss)), mb(med(pmax))),
        "", "")
    # the same pipeline until it exits, by hyperfine (no Python in the clock)
    one = os.path.join(OUT, "one-echo.txt")
    with open(one, "w") as f:
        f.write("!echo ready\n")
    sh = ("%s -b text --text-input %s --text-output /dev/null %s | %s | %s -b text --text-output /dev/null %s >/dev/null"
          % (bot("bot-listen"), one, " ".join(ns), bot("bot-dispatch"), bot("bot-send"), " ".join(ns)))
    try:
        t, f = hyper(["sh -c " + shq(sh), "sh -c " + shq("true | true | true")], 10 if a.quick else 20)
        row("  same pipeline, start to exit (hyperfine, via sh -c)", spread(t, ms),
            "sh -c 'true | true | true' " + spread(f, ms), "")
    except subprocess.CalledProcessError as ex:
        row("  same pipeline, start to exit", "failed: %s" % ex, "")
    re_ = 3 if a.quick else 5
    env = dict(os.environ)
    env["BENCH_ERRBOT_DATA"] = os.path.join(OUT, "errbot")
    os.makedirs(env["BENCH_ERRBOT_DATA"], exist_ok=True)
    try:
        e = drive(["first", "--runs", str(re_), "--kill", "--send", "!echo ready", "--expect",
                   "ready", "--", "/usr/bin/errbot", "-c", os.path.join(HERE, "errbot", "config.py")],
                  env=env)
        et = [float(x[0]) / 1000 for x in e]
        er = [int(x[1]) for x in e]
        row("  errbot 6.1.7 text backend", "", "%s, %s" % (spread(et, ms), mb(med(er))),
            "%.0f× sooner" % (med(et) / med(pt)))
    except Exception as ex:   # noqa: BLE001
        row("  errbot text backend", "", "cannot run: %s" % str(ex)[-120:])
    if not os.path.exists(HUBOT):
        row("  Hubot Shell adapter", "", "cannot run: npm install of hubot failed")
        return
    try:
        h = drive(["first", "--runs", str(re_), "--kill", "--repeat", "5", "--send", "echo ready",
                   "--expect", "ready", "--", HUBOT, "-a", "Shell", "-d", "-r",
                   os.path.join(HERE, "hubot")], cwd=hubot_dir(), env=hubot_env())
        ht = [float(x[0]) / 1000 for x in h]
        hr = [int(x[1]) for x in h]
        row("  Hubot 14 Shell adapter (line re-sent every 5 ms until scripts load)", "",
            "%s, %s" % (spread(ht, ms), mb(med(hr))), "%.0f× sooner" % (med(ht) / med(pt)))
    except Exception as ex:   # noqa: BLE001
        row("  Hubot Shell adapter", "", "cannot run: %s" % str(ex)[-120:])


def fig_plugin(a):
    n = 300 if a.quick else 1000
    src = head(os.path.join(OUT, "plugin.ndjson"), n, os.path.join(OUT, "plugin-%d.ndjson" % n))
    args = head(os.path.join(OUT, "plugin.args"), n, os.path.join(OUT, "plugin-%d.args" % n))
    plugins = os.path.join(HERE, "plugins")
    r = 2 if a.quick else 3
    res, cpu = {}, {}
    for jobs in (1, 4):
        t = runs(lambda: timed([bot("bot-dispatch"), "-d", plugins, "--jobs", str(jobs)], stdin=src), r)
        res[jobs] = [n / w for w, _, _ in t]
        cpu[jobs] = [n / c for _, c, _ in t]
    loop = "while IFS= read -r a; do %s/say \"$a\"; done" % plugins
    s = runs(lambda: timed(["sh", "-c", loop], stdin=args), r)
    sr = [n / w for w, _, _ in s]
    sc = [n / c for _, c, _ in s]
    row("shell-plugin replies/s, --jobs 1, %d commands" % n, spread(res[1], k),
        "sh -c loop " + spread(sr, k), ratio(med(res[1]), med(sr)))
    row("shell-plugin replies/s, --jobs 4", spread(res[4], k), "", ratio(med(res[4]), med(sr)))
    row("  --jobs 1 per CPU second (parent and children)", spread(cpu[1], k),
        "sh -c loop " + spread(sc, k), ratio(med(cpu[1]), med(sc)))


def one_shot_rows(label, cmds, a, n=20):
    """The wall time (hyperfine, n runs) and peak RSS of cmds["bot-send"]
    beside cmds["curl"] making the same request: two rows."""
    times = dict(zip(cmds, hyper([" ".join(shq(x) for x in c) for c in cmds.values()], n)))
    rss = {nm: rss_runs(c, 10 if a.quick else 20) for nm, c in cmds.items()}
    bt, br = times["bot-send"], rss["bot-send"]
    row(label, spread(bt, ms), "curl " + spread(times["curl"], ms), ratio(med(bt), med(times["curl"])))
    row("  peak RSS", spread(br, mb), "curl " + spread(rss["curl"], mb), ratio(med(br), med(rss["curl"])))


def fake_http(script=None):
    d = tempfile.mkdtemp(prefix="bench-http.")
    pf = os.path.join(d, "port")
    extra = ["--script-json", json.dumps(script)] if script is not None else []
    p = subprocess.Popen([PY, os.path.join(ROOT, "test", "fake-http.py"), "--port-file", pf,
                          "--log", os.path.join(d, "log")] + extra, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    for _ in range(500):
        if os.path.exists(pf):
            break
        time.sleep(0.01)
    return p, d, int(open(pf).read().strip())


def fig_send(a):
    if not os.path.exists(os.path.join(B, "lib", "botpipe", "webhook.so")):
        row("one-shot bot-send -b webhook", "not built", "")
        return
    srv, d, port = fake_http()
    try:
        url = "http://127.0.0.1:%d/hook" % port
        os.environ["BOT_WEBHOOK_URL"] = url
        text = "build 1234 passed"
        body = json.dumps({"text": text})
        cmds = {
            "bot-send": [bot("bot-send"), "-b", "webhook", "--to", "#ops", text],
            "curl": ["curl", "-sS", "-o", "/dev/null", "-H", "content-type: application/json",
                     "--data-binary", body, url],
            "apprise": ["apprise", "-b", text, "json://127.0.0.1:%d/hook" % port],
        }
        have = {n: shutil.which(c[0]) for n, c in cmds.items()}
        names = [n for n in cmds if have[n]]
        n = 20
        times = dict(zip(names, hyper([" ".join(shq(x) for x in cmds[nm]) for nm in names], n)))
        rss = {nm: rss_runs(cmds[nm], 10 if a.quick else 20) for nm in names}
        bt, br = times["bot-send"], rss["bot-send"]
        row("one-shot bot-send -b webhook to loopback: wall (%d runs)" % n, spread(bt, ms),
            "curl " + spread(times["curl"], ms), ratio(med(bt), med(times["curl"])))
        row("  peak RSS", spread(br, mb), "curl " + spread(rss["curl"], mb),
            ratio(med(br), med(rss["curl"])))
        if "apprise" in names:
            row("  apprise 1.2 (json://) wall, peak RSS", "",
                "%s, %s" % (spread(times["apprise"], ms), mb(med(rss["apprise"]))),
                "%.0f× faster" % (med(times["apprise"]) / med(bt)))
        else:
            row("  apprise", "", "cannot run: not installed (Debian package apprise)")
    finally:
        os.environ.pop("BOT_WEBHOOK_URL", None)
        srv.send_signal(signal.SIGTERM)
        srv.wait()
        shutil.rmtree(d, ignore_errors=True)

def fig_zulip(a):
    """One-shot bot-send -b zulip against the loopback fake, beside curl
    making the same form POST with the same HTTP Basic credentials; then the
    !echo round trip through the fake's event queue."""
    import urllib.request
    if not os.path.exists(os.path.join(B, "lib", "botpipe", "zulip.so")):
        row("one-shot bot-send -b zulip", "not built", "")
        return
    srv, d, port = fake_http()
    site = "http://127.0.0.1:%d" % port
    env = {"BOT_ZULIP_SITE": site, "BOT_ZULIP_EMAIL": "bench-bot@zulip.test",
           "BOT_ZULIP_API_KEY": "benchKey0123456789"}
    try:
        os.environ.update(env)
        text = "build 1234 passed"
        form = "type=stream&to=ops&topic=ci&content=" + text.replace(" ", "%20")
        cmds = {
            "bot-send": [bot("bot-send"), "-b", "zulip", "--to", "ops/ci", text],
            "curl": ["curl", "-sS", "-o", "/dev/null", "-u",
                     env["BOT_ZULIP_EMAIL"] + ":" + env["BOT_ZULIP_API_KEY"],
                     "--data-binary", form, site + "/api/v1/messages"],
        }
        one_shot_rows("one-shot bot-send -b zulip to loopback: wall (20 runs)", cmds, a)
    finally:
        srv.send_signal(signal.SIGTERM)
        srv.wait()
    # !echo round trip: a message event pushed into the fake's event queue
    # until the reply's POST /messages is in its log
    log = os.path.join(d, "rtt.log")
    pf = os.path.join(d, "rtt.port")
    script = {"feed": {"path": "^/api/v1/events[?]", "cursor": "last_event_id", "id": "id",
                       "after": True, "wait": 5, "max_wait": 10, "key": "events",
                       "body": {"result": "success", "msg": ""}, "items": []},
              "answers": [{"path": "^/api/v1/register$", "body": {
                  "result": "success", "queue_id": "q1", "last_event_id": -1, "max_message_id": 1}},
                  {"path": "^/api/v1/users/me$", "body": {"result": "success", "user_id": 99}}],
              "default": {"status": 200, "body": {"result": "success", "id": 1}}}
    srv = subprocess.Popen([PY, os.path.join(ROOT, "test", "fake-http.py"), "--port-file", pf,
                            "--log", log, "--script-json", json.dumps(script)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pipe = None
    try:
        for _ in range(500):
            if os.path.exists(pf):
                break
            time.sleep(0.01)
        port = int(open(pf).read().strip())
        os.environ.update(env)
        os.environ["BOT_ZULIP_SITE"] = "http://127.0.0.1:%d" % port
        os.environ["XDG_STATE_HOME"] = os.path.join(d, "state")
        pipe = subprocess.Popen("%s -b zulip --session none | %s | %s -b zulip >/dev/null" % (
            bot("bot-listen"), bot("bot-dispatch"), bot("bot-send")), shell=True,
            start_new_session=True, stderr=subprocess.DEVNULL)

        def replies():
            try:
                with open(log) as f:
                    return sum(1 for l in f if '"path": "/api/v1/messages"' in l)
            except OSError:
                return 0

        def polls():
            try:
                with open(log) as f:
                    return sum(1 for l in f if "/api/v1/events?" in l)
            except OSError:
                return 0
        for _ in range(1000):
            if polls():
                break
            time.sleep(0.01)
        n = 20 if a.quick else 100
        rtts = []
        for i in range(n):
            ev = {"type": "message", "id": i, "message": {
                "id": 100 + i, "sender_id": 9, "sender_email": "al@zulip.test",
                "sender_full_name": "Al", "type": "private", "content": "!echo %d" % i,
                "display_recipient": [{"id": 9, "email": "al@zulip.test", "full_name": "Al"}]}}
            t0 = time.time()
            urllib.request.urlopen(urllib.request.Request(
                "http://127.0.0.1:%d/__fake/feed" % port, data=json.dumps(ev).encode()), timeout=10)
            while replies() < i + 1 and time.time() - t0 < 10:
                time.sleep(0.0005)
            rtts.append(time.time() - t0)
        rtts.sort()
        row("zulip !echo round trip through the fake: p50 / p99 (%d)" % n,
            "%.2f ms / %.2f ms" % (rtts[len(rtts) // 2] * 1000, rtts[min(len(rtts) - 1, int(len(rtts) * 0.99))] * 1000), "")
    finally:
        if pipe:
            os.killpg(pipe.pid, signal.SIGTERM)
            pipe.wait()
        os.environ.pop("XDG_STATE_HOME", None)
        for k_ in env:
            os.environ.pop(k_, None)
        srv.send_signal(signal.SIGTERM)
        srv.wait()
        shutil.rmtree(d, ignore_errors=True)


def ws_fake(d, name, script, port=0):
    """test/fake-http.py --ws with that script (on that port, else a free
    one), its log d/NAME.log: (process, port)."""
    return http_fake(d, name, script, port, ["--ws"])


def http_fake(d, name, script, port=0, extra=()):
    """test/fake-http.py with that script (and options), its log d/NAME.log
    and port file d/NAME.port: (process, port) once it listens."""
    pf = os.path.join(d, name + ".port")
    p = subprocess.Popen([PY, os.path.join(ROOT, "test", "fake-http.py")] + list(extra) +
                         ["--port", str(port), "--port-file", pf,
                          "--log", os.path.join(d, name + ".log"), "--script-json", json.dumps(script)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(500):
        if os.path.exists(pf):
            break
        time.sleep(0.01)
    return p, int(open(pf).read().strip())


def ws_send(port, text):
    """One message on the WebSocket fake's newest connection (/__fake/send);
    False when none is open yet."""
    url = "http://127.0.0.1:%d/__fake/send?%s" % (port, urllib.parse.urlencode({"text": text}))
    try:
        urllib.request.urlopen(url, timeout=5).read()
        return True
    except urllib.error.HTTPError:
        return False


def ws_rtt(ws_port, reply_log, event_of, is_reply, n):
    """!echo through bot-listen | bot-dispatch | bot-send against a
    WebSocket network's fakes: event_of(i) is the i-th event's text, sent
    on the socket at t0 (/__fake/send); the round trip ends at the "t" the
    HTTP fake logged for the request is_reply(request, i) names.  (ms)"""
    out = []
    for i in range(n):
        t0 = time.time()
        if not ws_send(ws_port, event_of(i)):
            raise RuntimeError("the bot has no socket open")
        for _ in range(20000):
            with open(reply_log, encoding="utf-8") as f:
                hit = [r for r in map(json.loads, f) if is_reply(r, i)]
            if hit:
                break
            time.sleep(0.0005)
        else:
            raise RuntimeError("no reply to !echo rtt%d" % i)
        out.append((hit[0]["t"] - t0) * 1000)
        time.sleep(0.02)
    return sorted(out)


def rtt_row(fig, r):
    p99 = r[min(len(r) - 1, int(len(r) * 0.99))]
    row("%s: p50 / p99 (%d, load %.1f)" % (fig, len(r), os.getloadavg()[0]),
        "%.2f ms / %.2f ms" % (statistics.median(r), p99), "")


def pipeline_rtt(backend, listen_args, env, d, wait_up, measure):
    """bot-listen -b BACKEND | bot-dispatch | bot-send -b BACKEND under env
    (state and runtime folders in d); measure() once wait_up() says the bot
    is connected."""
    env = dict(env, XDG_RUNTIME_DIR=os.path.join(d, "run"), XDG_STATE_HOME=os.path.join(d, "state"))
    for k_ in ("XDG_RUNTIME_DIR", "XDG_STATE_HOME"):
        os.makedirs(env[k_], mode=0o700, exist_ok=True)
    pipe = "%s -b %s --session none %s | %s | %s -b %s --session none >/dev/null" % (
        bot("bot-listen"), backend, " ".join(shq(x) for x in listen_args), bot("bot-dispatch"),
        bot("bot-send"), backend)

    def run():
        for _ in range(1000):
            if wait_up():
                break
            time.sleep(0.01)
        else:
            raise RuntimeError("the bot did not connect")
        return measure()
    return bot_under(["sh", "-c", pipe], env, d, run)


def logged(path, pred):
    """Whether a fake's log (one JSON object a line) has a line pred accepts."""
    try:
        with open(path, encoding="utf-8") as f:
            return any(pred(json.loads(ln)) for ln in f)
    except FileNotFoundError:
        return False


def fig_slack(a):
    """One-shot bot-send -b slack (chat.postMessage with the bot token)
    against the Web API fake, beside curl making the same request."""
    if not os.path.exists(os.path.join(B, "lib", "botpipe", "slack.so")):
        row("one-shot bot-send -b slack", "not built", "")
        return
    wd = tempfile.mkdtemp(prefix="bench-slack-ws.")
    hello = {"send": json.dumps({"type": "hello", "num_connections": 1})}
    ws, ws_port = ws_fake(wd, "ws", {"connections": [], "default": {"actions": [hello, {"hold": True}]}})
    srv, d, port = fake_http({"responses": [
        {"path": "chat.postMessage", "keep": True, "count": True,
         "body": {"ok": True, "channel": "C0123", "ts": "1700000001.{n}"}},
        {"path": "/auth.test$", "keep": True, "body": {"ok": True, "user_id": "UBOT", "bot_id": "BBOT",
                                                      "team_id": "T1"}},
        {"path": "/apps.connections.open$", "keep": True,
         "body": {"ok": True, "url": "ws://127.0.0.1:%d/link/?ticket=bench" % ws_port}}]})
    token = "xoxb-bench"
    env = {"BOT_SLACK_API": "http://127.0.0.1:%d/api" % port, "BOT_SLACK_BOT_TOKEN": token}
    try:
        os.environ.update(env)
        text = "build 1234 passed"
        body = json.dumps({"channel": "C0123", "text": text})
        cmds = {
            "bot-send": [bot("bot-send"), "-b", "slack", "--session", "none", "--to", "#C0123", text],
            "curl": ["curl", "-sS", "-o", "/dev/null", "-H", "content-type: application/json",
                     "-H", "authorization: Bearer " + token, "--data-binary", body,
                     env["BOT_SLACK_API"] + "/chat.postMessage"],
        }
        one_shot_rows("one-shot bot-send -b slack to the loopback Web API: wall (20 runs)", cmds, a)

        def envelope(i):
            ev = {"type": "message", "channel": "C0123", "channel_type": "channel", "user": "U0456",
                  "text": "!echo rtt%d" % i, "ts": "1700000000.%06d" % i, "event_ts": "1700000000.%06d" % i}
            return json.dumps({"envelope_id": "env-%d" % i, "type": "events_api", "retry_attempt": 0,
                               "accepts_response_payload": False,
                               "payload": {"type": "event_callback", "team_id": "T1", "event_id": "Ev%d" % i,
                                           "event_time": 1700000000, "event": ev}})
        api_log, ws_log = os.path.join(d, "log"), os.path.join(wd, "ws.log")
        n = 20 if a.quick else 50
        r = pipeline_rtt("slack", [], dict(os.environ, BOT_SLACK_APP_TOKEN="xapp-1-bench"), wd,
                         lambda: logged(ws_log, lambda e: e.get("event") == "open"),
                         lambda: ws_rtt(ws_port, api_log, envelope, lambda q, i: q["path"].endswith(
                             "/chat.postMessage") and re.search(r"\brtt%d\b" % i, q["body"]), n))
        rtt_row("Slack !echo round trip, Socket Mode fake to chat.postMessage", r)
    finally:
        for v in env:
            os.environ.pop(v, None)
        for p_ in (srv, ws):
            p_.send_signal(signal.SIGTERM)
            p_.wait()
        shutil.rmtree(d, ignore_errors=True)
        shutil.rmtree(wd, ignore_errors=True)


def matrix_fake(d):
    """test/fake-http.py as a homeserver (its log d/matrix.log): /sync held
    1 s for a queued batch."""
    script = {"hold": {"path": "/sync", "seconds": 1, "default": {"body": {"next_batch": "idle"}}},
              "default": {"status": 200, "body": {"event_id": "$bench"}}}
    return http_fake(d, "matrix", script)


def matrix_rtt(port, d, n):
    """!echo through bot-listen | bot-dispatch | bot-send -b matrix: from
    queueing the sync batch to the reply's PUT reaching the fake (ms)."""
    base = "http://127.0.0.1:%d" % port
    log = os.path.join(d, "matrix.log")
    out = []
    for i in range(n):
        ev = {"type": "m.room.message", "event_id": "$q%d" % i, "sender": "@alice:hs",
              "content": {"msgtype": "m.text", "body": "!echo rtt%d" % i}}
        batch = [{"path": "/sync", "body": {"next_batch": "n%d" % i,
                  "rooms": {"join": {"!bench:hs": {"timeline": {"events": [ev]}}}}}}]
        want = "rtt%d" % i
        t0 = time.monotonic()
        subprocess.run(["curl", "-s", "-X", "POST", "--data-binary", json.dumps(batch),
                        base + "/__fake/queue"], stdout=subprocess.DEVNULL, check=True)
        while True:
            with open(log, encoding="utf-8") as f:
                if any(want in ln and '"PUT"' in ln for ln in f):
                    break
            if time.monotonic() - t0 > 10:
                raise RuntimeError("no reply to !echo %s" % want)
            time.sleep(0.001)
        out.append((time.monotonic() - t0) * 1000)
    return out


def fig_matrix(a):
    """One-shot bot-send -b matrix beside curl making the same PUT, and the
    !echo round trip through the fake homeserver."""
    if not os.path.exists(os.path.join(B, "lib", "botpipe", "matrix.so")):
        row("one-shot bot-send -b matrix", "not built", "")
        return
    d = tempfile.mkdtemp(prefix="bench-matrix.")
    srv, port = matrix_fake(d)
    env_keys = {"BOT_MATRIX_HOMESERVER": "http://127.0.0.1:%d" % port,
                "BOT_MATRIX_TOKEN": "bench-token", "BOT_MATRIX_USER": "@bot:hs",
                "XDG_STATE_HOME": os.path.join(d, "state")}
    os.environ.update(env_keys)
    try:
        text = "build 1234 passed"
        body = json.dumps({"msgtype": "m.text", "body": text, "format": "org.matrix.custom.html",
                           "formatted_body": "<p>%s</p>" % text, "m.mentions": {}})
        url = "http://127.0.0.1:%d/_matrix/client/v3/rooms/%%21ops%%3Ahs/send/m.room.message/t1" % port
        cmds = {
            "bot-send": [bot("bot-send"), "-b", "matrix", "--to", "!ops:hs", text],
            "curl": ["curl", "-sS", "-o", "/dev/null", "-X", "PUT", "-H", "authorization: Bearer bench-token",
                     "-H", "content-type: application/json", "--data-binary", body, url],
        }
        one_shot_rows("one-shot bot-send -b matrix to loopback: wall (20 runs)", cmds, a)
        env = dict(os.environ)
        cmd = ["sh", "-c", "%s -b matrix | %s | %s -b matrix >/dev/null" %
               (bot("bot-listen"), bot("bot-dispatch"), bot("bot-send"))]
        time.sleep(0.2)
        nr = 20 if a.quick else 50

        def measure():
            for _ in range(300):   # connected: the first long poll came
                with open(os.path.join(d, "matrix.log"), encoding="utf-8") as f:
                    if "since=" in f.read():
                        break
                time.sleep(0.02)
            return matrix_rtt(port, d, nr)
        r = sorted(bot_under(cmd, env, d, measure))
        p99 = r[min(len(r) - 1, int(len(r) * 0.99))]
        row("Matrix !echo round trip through the fake homeserver: p50 / p99 (%d)" % nr,
            "%.2f ms / %.2f ms" % (statistics.median(r), p99), "")
    except (RuntimeError, subprocess.SubprocessError) as e:
        row("matrix", "cannot run: %s" % e, "")
    finally:
        for k_ in env_keys:
            os.environ.pop(k_, None)
        srv.send_signal(signal.SIGTERM)
        srv.wait()
        shutil.rmtree(d, ignore_errors=True)


def shq(s):
    return "'" + s.replace("'", "'\\''") + "'" if re.search(r"[^\w@%+=:,./-]", s) else s


def irc_rtt(port, nick, a):
    """bench/irc-rtt.py against nick; (p50, p99, burst n, burst rate) or an error text."""
    nb = 30 if a.quick else 60
    c = subprocess.run([PY, os.path.join(HERE, "irc-rtt.py"), port, "#bench", nick,
                        "--oper", "bench:benchpw", "--n", "50", "--burst", str(nb)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=400)
    out = c.stdout.decode()
    m = re.search(r"^rtt n=\d+ p50=([\d.]+) p99=([\d.]+) ms", out, re.M)
    bm = re.search(r"^burst (\d+) in [\d.]+ s \(([\d.]+)/s\)", out, re.M)
    if not m or not bm:
        return c.stderr.decode().strip()[-150:] or "no answer"
    return float(m.group(1)), float(m.group(2)), int(bm.group(1)), float(bm.group(2))


def with_ngircd(fn):
    """Run fn(port) with a fresh ngircd on loopback (test/helpers/ngircd.sh)
    that has an operator block: the person may relax its own flood control."""
    d = tempfile.mkdtemp(prefix="bench-irc.")
    helpers = os.path.join(ROOT, "test", "helpers")
    with open(os.path.join(d, "extra.conf"), "w") as f:
        f.write("[Operator]\n\tName = bench\n\tPassword = benchpw\n")
    port = subprocess.run(["sh", os.path.join(helpers, "ngircd.sh"), "start", d],
                          stdout=subprocess.PIPE, check=True).stdout.decode().strip()
    try:
        return fn(port, d)
    finally:
        subprocess.run(["sh", os.path.join(helpers, "ngircd.sh"), "stop", d])
        shutil.rmtree(d, ignore_errors=True)


def bot_under(cmd, env, d, fn):
    p = subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                         stderr=open(os.path.join(d, "bot.err"), "w"))
    try:
        return fn()
    finally:
        os.killpg(p.pid, signal.SIGTERM)
        p.wait()


def fig_irc(a):
    """bot-listen -b irc | bot-dispatch | bot-send -b irc, and errbot's IRC
    backend, each against a fresh ngircd on loopback, driven by
    bench/irc-rtt.py (a person in #bench): 50 sequential !echo round trips,
    then a burst."""
    if not os.path.exists(os.path.join(B, "lib", "botpipe", "irc.so")):
        row("IRC round trip through ngircd, !echo p50/p99", "not yet: no irc backend on main", "")
        return
    if not shutil.which("ngircd"):
        row("IRC round trip through ngircd", "not run: ngircd is not installed", "")
        return

    def ours(port, d):
        env = dict(os.environ, BOT_IRC_SERVER="127.0.0.1:" + port, BOT_IRC_NICK="benchbot",
                   BOT_IRC_CHANNELS="#bench", BOT_IRC_RATE="1000", BOT_IRC_BURST="1000",
                   XDG_RUNTIME_DIR=os.path.join(d, "run"))
        os.makedirs(env["XDG_RUNTIME_DIR"])
        pipe = "%s -b irc | %s | %s -b irc >/dev/null" % (bot("bot-listen"), bot("bot-dispatch"),
                                                        bot("bot-send"))
        return bot_under(["sh", "-c", pipe], env, d, lambda: irc_rtt(port, "benchbot", a))

    def errbots(port, d):
        env = dict(os.environ, BENCH_IRC_PORT=port, BENCH_ERRBOT_DATA=os.path.join(d, "errbot"))
        os.makedirs(env["BENCH_ERRBOT_DATA"])
        # Not /usr/bin/errbot: its __requires__ makes pkg_resources (imported
        # by python3-irc) refuse errbot's deepmerge>=0.1.0 (Debian 12 has 0.0.5).
        cmd = [PY, "-c", "import sys; from errbot.cli import main; sys.argv[0] = 'errbot'; sys.exit(main())",
               "-c", os.path.join(HERE, "errbot", "irc_config.py")]
        return bot_under(cmd, env, d, lambda: irc_rtt(port, "errbench", a))

    b = with_ngircd(ours)
    e = with_ngircd(errbots) if os.path.exists("/usr/bin/errbot") else "errbot is not installed"
    fig = "IRC !echo round trip through ngircd 26: p50 / p99 (50)"
    if isinstance(b, str):
        row(fig, "failed: " + b, "")
        return
    peer = ("errbot %.2f ms / %.2f ms" % (e[0], e[1])) if not isinstance(e, str) else "errbot: " + e
    row(fig, "%.2f ms / %.2f ms" % (b[0], b[1]), peer,
        ratio(e[0], b[0]) + " sooner" if not isinstance(e, str) else "")
    row("  IRC burst of %d !echo: replies/s (ngircd paces each client)" % b[2], "%.1f" % b[3],
        ("errbot %.1f" % e[3]) if not isinstance(e, str) else "", ratio(b[3], e[3]) if not isinstance(e, str) else "")


def tg_fake(d):
    """test/fake-http.py as the Telegram Bot API (the shapes of
    test/helpers/telegram-fake.bash): getUpdates over a feed, sendMessage
    answering a Message.  (process, port)."""
    chat = -1001234567890
    script = {
        "feed": {"path": "/getUpdates$", "cursor": "offset", "id": "update_id", "timeout": "timeout",
                 "limit": "limit", "max_wait": 30, "key": "result", "body": {"ok": True}},
        "answers": [
            {"path": "/getMe$", "body": {"ok": True, "result": {"id": 4242, "is_bot": True,
                                                                "first_name": "Bench", "username": "bench_bot"}}},
            {"path": "/sendMessage$", "body": {"ok": True, "result": {
                "message_id": "$n", "date": 1700000000, "chat": {"id": chat, "type": "supergroup"}}}}],
    }
    return http_fake(d, "telegram", script)


def tg_rtt(port, log, n):
    """n sequential !echo round trips through a running bot: the update
    pushed into the feed, the sendMessage the fake then reads (its own
    clock, "t").  Milliseconds, sorted."""
    import urllib.request
    seen, out = 0, []
    for i in range(n):
        upd = {"update_id": i + 1, "message": {
            "message_id": 100 + i, "date": int(time.time()), "text": "!echo ping %d" % i,
            "from": {"id": 111, "is_bot": False, "first_name": "Al", "username": "al"},
            "chat": {"id": -1001234567890, "type": "supergroup", "title": "Bench"}}}
        t0 = time.time()
        urllib.request.urlopen("http://127.0.0.1:%d/__fake/feed" % port, json.dumps(upd).encode()).read()
        for _ in range(10000):
            sends = [json.loads(ln) for ln in open(log) if "/sendMessage" in ln]
            if len(sends) > seen:
                break
            time.sleep(0.0005)
        else:
            raise RuntimeError("no reply to update %d" % (i + 1))
        seen = len(sends)
        out.append((sends[-1]["t"] - t0) * 1000)
    return sorted(out)


def fig_telegram(a):
    """bot-send -b telegram one-shot against the loopback Bot API beside
    curl making the same sendMessage; the !echo round trip through
    bot-listen | bot-dispatch | bot-send against it."""
    if not os.path.exists(os.path.join(B, "lib", "botpipe", "telegram.so")):
        row("one-shot bot-send -b telegram", "not built", "")
        return
    d = tempfile.mkdtemp(prefix="bench-tg.")
    srv, port = tg_fake(d)
    token = "123456:AAbenchToken"
    env_keep = {k: os.environ.get(k) for k in ("BOT_TELEGRAM_TOKEN", "BOT_TELEGRAM_API", "XDG_STATE_HOME")}
    try:
        os.environ.update(BOT_TELEGRAM_TOKEN=token, BOT_TELEGRAM_API="http://127.0.0.1:%d" % port,
                          XDG_STATE_HOME=os.path.join(d, "state"))
        text = "build 1234 passed"
        url = "http://127.0.0.1:%d/bot%s/sendMessage" % (port, token)
        body = json.dumps({"chat_id": -1001234567890, "text": text, "parse_mode": "HTML"})
        cmds = {"bot-send": [bot("bot-send"), "-b", "telegram", "--to", "-1001234567890", text],
                "curl": ["curl", "-sS", "-o", "/dev/null", "-H", "content-type: application/json",
                         "--data-binary", body, url]}
        one_shot_rows("one-shot bot-send -b telegram to loopback: wall (20 runs)", cmds, a)
        log_path = os.path.join(d, "telegram.log")
        open(log_path, "w").close()
        pipe = "%s -b telegram --telegram-poll-timeout 20 --session none | %s | %s -b telegram >/dev/null" % (
            bot("bot-listen"), bot("bot-dispatch"), bot("bot-send"))
        env = dict(os.environ, XDG_RUNTIME_DIR=os.path.join(d, "run"))
        os.makedirs(env["XDG_RUNTIME_DIR"])

        def measure():
            for _ in range(500):   # connected: its first long poll is in
                if any("/getUpdates" in ln for ln in open(log_path)):
                    break
                time.sleep(0.01)
            return tg_rtt(port, log_path, 20 if a.quick else 50)
        r = bot_under(["sh", "-c", pipe], env, d, measure)
        p99 = r[min(len(r) - 1, int(len(r) * 0.99))]
        row("Telegram !echo round trip through the fake: p50 / p99 (%d)" % len(r),
            "%.2f ms / %.2f ms" % (statistics.median(r), p99), "")
    finally:
        for k_, v in env_keep.items():
            if v is None:
                os.environ.pop(k_, None)
            else:
                os.environ[k_] = v
        srv.send_signal(signal.SIGTERM)
        srv.wait()
        shutil.rmtree(d, ignore_errors=True)


def fig_startup(a):
    """Each program started by sh -c "exec PROG < input" under hyperfine -N,
    so every row carries the same sh start (shown by the /bin/true row)."""
    one_ev = os.path.join(OUT, "one-event.ndjson")
    head(os.path.join(OUT, "events.ndjson"), 1, one_ev)
    one_in = os.path.join(OUT, "one-echo.txt")
    with open(one_in, "w") as f:
        f.write("!echo ready\n")
    progs = [
        ("bot-listen -b text (one line typed)",
         "%s -b text --text-input %s --text-output /dev/null >/dev/null" % (bot("bot-listen"), one_in)),
        ("bot-dispatch (one event)", "%s < %s >/dev/null" % (bot("bot-dispatch"), one_ev)),
        ("bot-send -b text (one event)",
         "%s -b text --text-output /dev/null < %s >/dev/null" % (bot("bot-send"), one_ev)),
        ("bot-card (one card)", "%s --title t body >/dev/null" % bot("bot-card")),
        ("floor: /bin/true", "/bin/true < %s" % one_ev),
        ("floor: jq -n 1", "jq -n 1 >/dev/null"),
    ]
    r = 10 if a.quick else 30
    times = hyper([" ".join(["sh", "-c", shq("exec " + c)]) for _, c in progs], r)
    for (name, cmd), t in zip(progs, times):
        rs = [timed(["sh", "-c", "exec " + cmd])[2] for _ in range(5)]
        label = ("  " + name) if name.startswith("floor") else "start-up to first event and exit: " + name
        row(label, "%s, %s" % (spread(t, ms), mb(med(rs))), "", "")


def fig_growth(a):
    ev = os.path.join(OUT, "events.ndjson")
    n = getattr(a, "events_n", None) or lines_in(ev)
    small = head(ev, 10000, os.path.join(OUT, "events-10k.ndjson"))
    s = timed([bot("bot-dispatch"), "--pass"], stdin=small)[2]
    big = med(a.pass_rss) if getattr(a, "pass_rss", None) else timed([bot("bot-dispatch"), "--pass"], stdin=ev)[2]
    row("RSS after %s events: bot-dispatch --pass" % k(n), "%s (10 k events: %s)" % (mb(big), mb(s)),
        "jq -c . %s" % mb(med(a.jq_rss)) if getattr(a, "jq_rss", None) else "", "")
    s = timed([bot("bot-send"), "-b", "text", "--text-output", "/dev/null"], stdin=small)[2]
    nb = 200000 if a.quick else n
    bigf = head(ev, nb, os.path.join(OUT, "events-send.ndjson")) if nb != n else ev
    b = timed([bot("bot-send"), "-b", "text", "--text-output", "/dev/null"], stdin=bigf)[2]
    row("RSS after %s events: bot-send -b text" % k(nb), "%s (10 k events: %s)" % (mb(b), mb(s)), "", "")
    typed = os.path.join(OUT, "typed.txt")
    if not os.path.exists(typed) or os.path.getmtime(typed) < os.path.getmtime(ev):
        with open(ev, encoding="utf-8") as f, open(typed, "w", encoding="utf-8") as o:
            for ln in f:
                o.write(json.loads(ln)["body"].replace("\t", " ") + "\n")
    typed_small = head(typed, 10000, os.path.join(OUT, "typed-10k.txt"))
    s = timed([bot("bot-listen"), "-b", "text", "--text-input", typed_small, "--text-output", "/dev/null"])[2]
    typed_big = head(typed, nb, os.path.join(OUT, "typed-big.txt")) if nb != n else typed
    b = timed([bot("bot-listen"), "-b", "text", "--text-input", typed_big, "--text-output", "/dev/null"])[2]
    row("RSS after %s lines: bot-listen -b text" % k(nb), "%s (10 k lines: %s)" % (mb(b), mb(s)), "", "")


# ---- bot-queue: the pipeline through NATS JetStream ----

def queue_event(i, body):
    return json.dumps({"type": "message", "id": "b%d" % i, "backend": "text", "body": body,
                       "from": {"kind": "person", "id": "@you", "person": "@you", "nick": "you"},
                       "to": {"kind": "person", "id": "@bot", "person": "@bot", "nick": "bot"},
                       "is_direct": True, "is_group": False, "is_threaded": False}) + "\n"


class Nats:
    """A nats-server with JetStream on a free loopback port, in a temp dir."""
    def __enter__(self):
        import socket
        self.dir = tempfile.mkdtemp(prefix="bench-nats.")
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        conf = os.path.join(self.dir, "nats.conf")
        with open(conf, "w") as f:
            f.write('listen: 127.0.0.1:%d\njetstream { store_dir: "%s/store" }\n' % (self.port, self.dir))
        exe = shutil.which("nats-server") or "/usr/sbin/nats-server"
        self.log = open(os.path.join(self.dir, "log"), "w+")
        self.p = subprocess.Popen([exe, "-c", conf], stdout=self.log, stderr=self.log)
        for _ in range(200):
            self.log.seek(0)
            if "Server is ready" in self.log.read():
                break
            time.sleep(0.05)
        self.env = dict(os.environ, NATS_URL="nats://127.0.0.1:%d" % self.port, BOT_SESSION="none")
        return self

    def __exit__(self, *exc):
        self.p.terminate()
        self.p.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def queue_rate(n, workers, plugins):
    """Commands per second with WORKERS workers: from their start to the
    n-th reply at the subscriber."""
    with Nats() as ns:
        data = "".join(queue_event(i, "!burn %d" % i) for i in range(n)).encode()
        subprocess.run([bot("bot-queue"), "publish"], input=data, env=ns.env, check=True,
                       stdout=subprocess.DEVNULL)
        sub = subprocess.Popen([bot("bot-queue"), "subscribe"], env=ns.env, stdout=subprocess.PIPE)
        t0 = time.perf_counter()
        ws = [subprocess.Popen([bot("bot-queue"), "work", "--", bot("bot-dispatch"), "--done",
                                "-d", plugins, "--jobs", "4"], env=ns.env,
                               stdout=subprocess.DEVNULL) for _ in range(workers)]
        got = 0
        for line in sub.stdout:
            if b'"in_reply_to"' in line:
                got += 1
                if got == n:
                    break
        wall = time.perf_counter() - t0
        for p in ws + [sub]:
            p.terminate()
        for p in ws + [sub]:
            p.wait()
    return n / wall


def latencies(n, write, read_reply):
    """Send n !echo events one at a time, 20 ms apart; the seconds each
    took until its reply was read."""
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        write(queue_event(i, "!echo %d" % i).encode())
        read_reply()
        out.append(time.perf_counter() - t0)
        time.sleep(0.02)
    return sorted(out)


def pct(xs, q):
    return xs[min(len(xs) - 1, int(len(xs) * q))]


def queue_latency(n):
    def reader(stream):
        def read_reply():
            for line in stream:
                if b'"in_reply_to"' in line:
                    return
        return read_reply
    plain = subprocess.Popen([bot("bot-dispatch")], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    def write_plain(b):
        plain.stdin.write(b)
        plain.stdin.flush()
    direct = latencies(n, write_plain, reader(plain.stdout))
    plain.stdin.close()
    plain.wait()
    with Nats() as ns:
        pub = subprocess.Popen([bot("bot-queue"), "publish"], env=ns.env, stdin=subprocess.PIPE,
                               stdout=subprocess.DEVNULL)
        w = subprocess.Popen([bot("bot-queue"), "work", "--", bot("bot-dispatch"), "--done"],
                             env=ns.env, stdout=subprocess.DEVNULL)
        sub = subprocess.Popen([bot("bot-queue"), "subscribe"], env=ns.env, stdout=subprocess.PIPE)
        def write_pub(b):
            pub.stdin.write(b)
            pub.stdin.flush()
        engine = latencies(n, write_pub, reader(sub.stdout))
        pub.stdin.close()
        for p in (pub, w, sub):
            p.terminate()
            p.wait()
    return direct, engine


def fig_queue(a):
    if not shutil.which("nats-server") and not os.path.exists("/usr/sbin/nats-server"):
        row("bot-queue", "", "cannot run: no nats-server (apt-get install nats-server)")
        return
    n = 100 if a.quick else 400
    plugins = os.path.join(HERE, "plugins")
    r = 1 if a.quick else 3
    src = os.path.join(OUT, "queue-%d.ndjson" % n)
    with open(src, "w") as f:
        f.write("".join(queue_event(i, "!burn %d" % i) for i in range(n)))
    t = runs(lambda: timed([bot("bot-dispatch"), "-d", plugins, "--jobs", "4"], stdin=src), r)
    plain = [n / w for w, _, _ in t]
    for workers in (1, 2, 4):
        rates = runs(lambda: queue_rate(n, workers, plugins), r)
        row("queue commands/s, %d worker%s, 10 ms-CPU plugin, %d" % (workers, "" if workers == 1 else "s", n),
            spread(rates, k), "bot-dispatch --jobs 4 " + spread(plain, k), ratio(med(rates), med(plain)))
    direct, engine = queue_latency(50 if a.quick else 300)
    row("  queue latency per !echo, p50 / p99 (added)",
        "%s / %s (+%s / +%s)" % (ms(pct(engine, 0.5)), ms(pct(engine, 0.99)),
                                 ms(pct(engine, 0.5) - pct(direct, 0.5)),
                                 ms(pct(engine, 0.99) - pct(direct, 0.99))),
        "bot-dispatch pipe %s / %s" % (ms(pct(direct, 0.5)), ms(pct(direct, 0.99))))


def fig_mattermost(a):
    """One-shot bot-send -b mattermost (POST /api/v4/posts with the Bearer
    token) against the loopback fake, beside curl making the same request."""
    if not os.path.exists(os.path.join(B, "lib", "botpipe", "mattermost.so")):
        row("one-shot bot-send -b mattermost", "not built", "")
        return
    srv, d, port = fake_http({"responses": [{"path": "/api/v4/users/me$", "keep": True,
                                             "body": {"id": "botuser0000000000000000000", "username": "bot"}}],
                              "default": {"status": 201, "body": {"id": "post0000000000000000000000"}}})
    wd = tempfile.mkdtemp(prefix="bench-mm-ws.")
    ws, ws_port = ws_fake(wd, "ws", {"connections": [], "default": {"actions": [
        {"recv": 1}, {"send": json.dumps({"status": "OK", "seq_reply": 1})},
        {"send": json.dumps({"event": "hello", "data": {"server_version": "9.0"}, "broadcast": {}, "seq": 0})},
        {"hold": True}]}})
    token = "mm-bench-token"
    chan = "opschannel0000000000000000"
    env = {"BOT_MATTERMOST_URL": "http://127.0.0.1:%d" % port, "BOT_MATTERMOST_TOKEN": token}
    try:
        os.environ.update(env)
        text = "build 1234 passed"
        body = json.dumps({"channel_id": chan, "message": text})
        cmds = {
            "bot-send": [bot("bot-send"), "-b", "mattermost", "--session", "none", "--to", chan, text],
            "curl": ["curl", "-sS", "-o", "/dev/null", "-H", "content-type: application/json",
                     "-H", "authorization: Bearer " + token, "--data-binary", body,
                     env["BOT_MATTERMOST_URL"] + "/api/v4/posts"],
        }
        one_shot_rows("one-shot bot-send -b mattermost to the loopback API: wall (20 runs)", cmds, a)

        def posted(i):   # seq 1, 2, ... after hello's 0: no gap
            post = {"id": "rtt%023d" % i, "create_at": 1700000000000 + i, "update_at": 0, "edit_at": 0,
                    "user_id": "aliceuser00000000000000000", "channel_id": chan, "root_id": "",
                    "message": "!echo rtt%d" % i, "type": "", "props": {}}
            return json.dumps({"event": "posted", "seq": i + 1, "broadcast": {"channel_id": chan},
                               "data": {"channel_name": "ops", "channel_type": "O", "sender_name": "@alice",
                                        "post": json.dumps(post)}})
        api_log, ws_log = os.path.join(d, "log"), os.path.join(wd, "ws.log")
        n = 20 if a.quick else 50
        r = pipeline_rtt("mattermost", ["--mattermost-ws-url", "ws://127.0.0.1:%d/api/v4/websocket" % ws_port],
                         dict(os.environ), wd,
                         lambda: logged(ws_log, lambda e: "authentication_challenge" in e.get("data", "")),
                         lambda: ws_rtt(ws_port, api_log, posted, lambda q, i: q["path"] == "/api/v4/posts"
                                        and re.search(r"\brtt%d\b" % i, q["body"]), n))
        rtt_row("Mattermost !echo round trip, v4 WebSocket fake to POST /posts", r)
    finally:
        for v in env:
            os.environ.pop(v, None)
        for p_ in (srv, ws):
            p_.send_signal(signal.SIGTERM)
            p_.wait()
        shutil.rmtree(d, ignore_errors=True)
        shutil.rmtree(wd, ignore_errors=True)


def fig_discord(a):
    """One-shot bot-send -b discord (POST /channels/ID/messages with its
    nonce) against the REST fake, beside curl making the same request."""
    if not os.path.exists(os.path.join(B, "lib", "botpipe", "discord.so")):
        row("one-shot bot-send -b discord", "not built", "")
        return
    srv, d, port = fake_http({"responses": [], "default": {"status": 200,
                                                            "body": {"id": "900", "channel_id": "100"}}})
    wd = tempfile.mkdtemp(prefix="bench-dc-ws.")
    gw_port = int(subprocess.run([PY, "-c", "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); "
                                  "print(s.getsockname()[1])"], stdout=subprocess.PIPE).stdout)
    ready = {"op": 0, "t": "READY", "s": 1, "d": {"v": 10, "session_id": "bench", "resume_gateway_url":
                                                   "ws://127.0.0.1:%d" % gw_port,
                                                   "user": {"id": "999", "username": "botpipe", "bot": True}}}
    ws, ws_port = ws_fake(wd, "ws", {"connections": [], "default": {"actions": [
        {"auto": [{"match": '^\\{"op":1,', "send": '{"op":11}'}]},
        {"send": json.dumps({"op": 10, "d": {"heartbeat_interval": 45000}})},
        {"expect": '^\\{"op":2,'}, {"send": json.dumps(ready)}, {"hold": True}]}}, gw_port)
    env = {"BOT_DISCORD_TOKEN": "bench-token", "BOT_DISCORD_API": "http://127.0.0.1:%d/api/v10" % port}
    try:
        os.environ.update(env)
        text = "build 1234 passed"
        url = env["BOT_DISCORD_API"] + "/channels/100/messages"
        body = json.dumps({"nonce": "h0123456789abcdef", "enforce_nonce": True,
                           "allowed_mentions": {"parse": [], "users": []}, "content": text})
        cmds = {
            "bot-send": [bot("bot-send"), "-b", "discord", "--session", "none", "--to", "#100", text],
            "curl": ["curl", "-sS", "-o", "/dev/null", "-H", "content-type: application/json",
                     "-H", "Authorization: Bot bench-token", "--data-binary", body, url],
        }
        n = 20
        names = list(cmds)
        times = dict(zip(names, hyper([" ".join(shq(x) for x in cmds[nm]) for nm in names], n)))
        rss = {nm: rss_runs(cmds[nm], 10 if a.quick else 20) for nm in names}
        bt, br = times["bot-send"], rss["bot-send"]
        row("one-shot bot-send -b discord to loopback: wall (%d runs)" % n, spread(bt, ms),
            "curl " + spread(times["curl"], ms), ratio(med(bt), med(times["curl"])))
        row("  peak RSS", spread(br, mb), "curl " + spread(rss["curl"], mb),
            ratio(med(br), med(rss["curl"])))

        def message(i):   # sequence 2, 3, ... after READY's 1
            return json.dumps({"op": 0, "t": "MESSAGE_CREATE", "s": i + 2, "d": {
                "id": str(1000 + i), "channel_id": "100", "guild_id": "50", "content": "!echo rtt%d" % i,
                "author": {"id": "200", "username": "alice", "global_name": "Alice"},
                "timestamp": "2026-12-01T12:00:00.000000+00:00"}})
        api_log, ws_log = os.path.join(d, "log"), os.path.join(wd, "ws.log")
        nr = 20 if a.quick else 50
        r = pipeline_rtt("discord", [], dict(os.environ, BOT_DISCORD_GATEWAY="ws://127.0.0.1:%d" % gw_port), wd,
                         lambda: logged(ws_log, lambda e: e.get("data", "").startswith('{"op":2,')),
                         lambda: ws_rtt(ws_port, api_log, message, lambda q, i: q["path"].endswith(
                             "/channels/100/messages") and re.search(r"\brtt%d\b" % i, q["body"]), nr))
        rtt_row("Discord !echo round trip, gateway fake to POST /messages", r)
    finally:
        for k_ in env:
            os.environ.pop(k_, None)
        for p_ in (srv, ws):
            p_.send_signal(signal.SIGTERM)
            p_.wait()
        shutil.rmtree(d, ignore_errors=True)
        shutil.rmtree(wd, ignore_errors=True)


def fig_xmpp(a):
    """bot-listen -b xmpp | bot-dispatch | bot-send -b xmpp against a fresh
    prosody on loopback (test/helpers/prosody.sh), timed by a person in a
    MUC room played by slixmpp (test/helpers/xmpp-human.py): sequential
    !echo round trips as the person sees them; beside it errbot's XMPP
    backend (slixmpp too) as the same account, in the same room, on the
    same prosody."""
    if not os.path.exists(os.path.join(B, "lib", "botpipe", "xmpp.so")):
        row("XMPP !echo round trip through prosody", "not run: no xmpp backend built", "")
        return
    if not shutil.which("prosody"):
        row("XMPP !echo round trip through prosody", "not run: prosody is not installed", "")
        return
    helpers = os.path.join(ROOT, "test", "helpers")
    n = 10 if a.quick else 50
    d = tempfile.mkdtemp(prefix="bench-xmpp.")
    srv = os.path.join(d, "prosody")
    fig = "XMPP !echo round trip through prosody 0.12 (MUC): p50 / p99 (%d)" % n
    room = "bench@conference.localhost"

    def person(port, muc=True):
        if muc:
            script = "join %s human\nexpect ^presence %s/bot type=available 30\nrtt %d groupchat %s %s/bot\n" % (
                room, room, n, room, room)
        else:   # a direct chat, once the bot has had time to connect
            script = "sleep 8\nrtt %d chat bot@localhost bot@localhost\n" % n
        out = subprocess.run([PY, os.path.join(helpers, "xmpp-human.py"), port, os.path.join(srv, "cert.pem"),
                              "human@localhost", os.path.join(srv, "human.pass")], input=script,
                             capture_output=True, text=True, timeout=300).stdout
        m = re.search(r"rtt p50=([\d.]+) p99=([\d.]+) ms", out)
        return "%s ms / %s ms" % (m.group(1), m.group(2)) if m else "failed: no round trips measured"

    def under(cmd, env, port, muc=True):
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            return person(port, muc)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    try:
        port = subprocess.run(["sh", os.path.join(helpers, "prosody.sh"), "start", srv], check=True,
                              capture_output=True, text=True).stdout.strip()
        env = dict(os.environ, BOT_XMPP_JID="bot@localhost", BOT_XMPP_SERVER="127.0.0.1:" + port,
                   BOT_XMPP_CAFILE=os.path.join(srv, "cert.pem"),
                   BOT_XMPP_PASSWORD_FILE=os.path.join(srv, "bot.pass"), BOT_XMPP_ROOMS=room,
                   XDG_RUNTIME_DIR=os.path.join(d, "run"), XDG_STATE_HOME=os.path.join(d, "state"))
        os.makedirs(env["XDG_RUNTIME_DIR"], mode=0o700)
        pipe = "%s -b xmpp | %s | %s -b xmpp >/dev/null" % (bot("bot-listen"), bot("bot-dispatch"),
                                                         bot("bot-send"))
        ours = under(["sh", "-c", pipe], env, port)
        ours_direct = under(["sh", "-c", pipe], env, port, muc=False)
        eenv = dict(os.environ, BENCH_XMPP_PORT=port, BENCH_XMPP_CAFILE=os.path.join(srv, "cert.pem"),
                    BENCH_XMPP_PASSFILE=os.path.join(srv, "bot.pass"), BENCH_XMPP_ROOM=room,
                    BENCH_ERRBOT_DATA=os.path.join(d, "errbot"))
        os.makedirs(eenv["BENCH_ERRBOT_DATA"])
        # not /usr/bin/errbot: see fig_irc
        cmd = [PY, "-c", "import sys; from errbot.cli import main; sys.argv[0] = 'errbot'; sys.exit(main())",
               "-c", os.path.join(HERE, "errbot", "xmpp_config.py")]
        theirs = under(cmd, eenv, port, muc=False)
        # errbot 6.1.7 calls slixmpp's join_muc(wait=True), which Debian 12's
        # slixmpp 1.8 no longer has: it never joins a room here
        row(fig, ours, "errbot: cannot join a MUC with slixmpp 1.8", "")
        if theirs.startswith("failed"):
            theirs = "no answer (its room join raised TypeError at connect; a direct message came back type=error)"
        row("  same, a direct chat: p50 / p99 (%d)" % n, ours_direct, "errbot " + theirs, "")
    except (subprocess.SubprocessError, OSError) as e:
        row(fig, "failed: %s" % e, "")
    finally:
        subprocess.run(["sh", os.path.join(helpers, "prosody.sh"), "stop", srv], capture_output=True)
        shutil.rmtree(d, ignore_errors=True)


def fig_route(a):
    """The cost per event of routing (issue 22): bot-send delivering N
    messages to one text instance, beside the same N spread by their
    backend field over two instances (-b text@a -b text@b, each from its
    profile, each delivered to by a worker process of its own), per CPU
    second, the workers' included."""
    n = 20000 if a.quick else 100000
    d = tempfile.mkdtemp(prefix="bench-route.")
    try:
        conf = os.path.join(d, "botpipe")
        os.makedirs(conf, mode=0o700)
        with open(os.path.join(conf, "config"), "w") as f:
            f.write("text-output = /dev/null\n[a]\ntext-output = /dev/null\n[b]\ntext-output = /dev/null\n")
        os.chmod(os.path.join(conf, "config"), 0o600)
        one, two = os.path.join(d, "one.ndjson"), os.path.join(d, "two.ndjson")
        with open(one, "w") as f1, open(two, "w") as f2:
            for i in range(n):
                m = {"type": "message", "to": "@you", "body": "line %d" % i}
                f1.write(json.dumps(dict(m, backend="text")) + "\n")
                f2.write(json.dumps(dict(m, backend="text@" + "ab"[i % 2])) + "\n")
        env = dict(os.environ, XDG_CONFIG_HOME=d, XDG_STATE_HOME=d)
        r = 2 if a.quick else 3
        base = [bot("bot-send"), "--session", "none", "--raw"]
        s1 = runs(lambda: timed(base + ["-b", "text"], stdin=one, env=env), r)
        s2 = runs(lambda: timed(base + ["-b", "text@a", "-b", "text@b"], stdin=two, env=env), r)
    except (RuntimeError, OSError) as e:
        row("bot-send, routing by backend", "failed: %s" % e, "")
        return
    finally:
        shutil.rmtree(d, ignore_errors=True)
    c1 = [c / n * 1e6 for _, c, _ in s1]
    c2 = [c / n * 1e6 for _, c, _ in s2]
    us = lambda x: "%.2f µs" % x
    row("bot-send, CPU per event, %s events over 2 instances" % k(n), spread(c2, us),
        "one instance " + spread(c1, us), "+%.2f µs" % (med(c2) - med(c1)))



# One figure a line, so that each backend adds its own.
FIGURES = [
    ("pass", fig_pass),
    ("rule", fig_rule),
    ("echo", fig_echo),
    ("first", fig_first),
    ("plugin", fig_plugin),
    ("send", fig_send),
    ("slack", fig_slack),
    ("zulip", fig_zulip),
    ("mattermost", fig_mattermost),
    ("discord", fig_discord),
    ("matrix", fig_matrix),
    ("irc", fig_irc),
    ("telegram", fig_telegram),
    ("xmpp", fig_xmpp),
    ("startup", fig_startup),
    ("growth", fig_growth),
    ("queue", fig_queue),
    ("route", fig_route),
]


def markdown(path):
    with open(path, "w") as f:
        f.write("| figure | botpipe | beside | ratio |\n|---|---|---|---|\n")
        for fig, b_, p, r in ROWS:
            fig = fig.replace("|", "\\|")
            if fig.startswith("  "):
                fig = "&nbsp;&nbsp;" + fig.strip()
            f.write("| %s | %s | %s | %s |\n" % (fig, b_.replace("|", "\\|"), p.replace("|", "\\|"), r))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer runs and events (a smoke test)")
    ap.add_argument("--only", help="comma-separated figures: " + ",".join(n for n, _ in FIGURES))
    ap.add_argument("--markdown", help="also write the table as markdown to FILE")
    a = ap.parse_args()
    only = set(a.only.split(",")) if a.only else None
    t0 = time.time()
    print("make bench: %s, %d cores, load %.1f; medians of several runs (min-max)" % (
        time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), os.cpu_count(), os.getloadavg()[0]))
    print("  %-58s | %-34s | %-40s | %s" % ("figure", "botpipe", "beside", "ratio"))
    for name, fn in FIGURES:
        if only and name not in only:
            continue
        try:
            fn(a)
        except Exception as ex:   # noqa: BLE001 - a figure that breaks is reported, not fatal
            row(name, "failed: %s" % str(ex)[-200:], "")
    for n in NOTES:
        print("note: " + n)
    print("(%.0f s; load average at the end %.1f)" % (time.time() - t0, os.getloadavg()[0]))
    if a.markdown:
        markdown(a.markdown)


if __name__ == "__main__":
    main()
