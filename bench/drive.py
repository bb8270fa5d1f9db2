#!/usr/bin/python3
"""drive.py: time a chat bot from outside, for make bench.

    drive.py first [--runs N] [--env K=V]... --send LINE --expect TEXT
             [--repeat MS] [--kill] [--out-fd] -- CMD [ARG...] [--- CMD [ARG...]]...
        Start the commands (several are chained stdin to stdout, as a shell
        pipeline would, without a shell), write LINE to the first one, and
        stop the clock when TEXT shows in the chat output.  The chat output
        is the last command's stdout, or with --out-fd a pipe that every
        command gets, named by "@OUT@" in its arguments (as /dev/fd/N).  Then close
        the input, end the commands (SIGTERM when they do not leave within
        2 s, at once with --kill) and collect each one's peak RSS from wait4.  Prints one line per
        run: "ms rss_kb_sum rss_kb_max".

    drive.py rate --input FILE --count N --expect TEXT [--out-fd] -- CMD...
        Feed FILE (from a thread) and count output lines that contain TEXT;
        the clock runs from the first byte written to the N-th such line.
        With --ready LINE --ready-expect TEXT, LINE is sent first (every
        20 ms) until TEXT shows, and only then does FILE go and the clock run.
        Prints "seconds replies_per_second rss_kb_sum".

The clock is time.perf_counter(); a command that cannot start is reported
on stderr and the exit status is 1.
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time


def split_commands(argv):
    cmds, cur = [], []
    for a in argv:
        if a == "---":
            cmds.append(cur)
            cur = []
        else:
            cur.append(a)
    cmds.append(cur)
    return [c for c in cmds if c]


def start(cmds, env, out_fd, rssdir):
    """Start the chain, each command under /usr/bin/time (a small process
    to fork from: a child forked from Python would count Python's memory in
    its peak RSS).  Returns (procs, stdin pipe, chat output fd)."""
    procs = []
    rfd = wfd = None
    if out_fd:
        rfd, wfd = os.pipe()
    prev = subprocess.PIPE
    for i, c in enumerate(cmds):
        last = i == len(cmds) - 1
        if out_fd:
            c = [x.replace("@OUT@", "/dev/fd/%d" % wfd) for x in c]
        c = ["/usr/bin/time", "-f", "%M", "-o", os.path.join(rssdir, str(i))] + c
        p = subprocess.Popen(c, stdin=prev, env=env,
                             stdout=subprocess.DEVNULL if (last and out_fd) else subprocess.PIPE,
                             stderr=subprocess.DEVNULL,
                             pass_fds=(wfd,) if out_fd else ())
        if i > 0:
            procs[-1].stdout.close()
        procs.append(p)
        prev = p.stdout
    if out_fd:
        os.close(wfd)
        return procs, procs[0].stdin, rfd
    return procs, procs[0].stdin, procs[-1].stdout.fileno()


def terminate(p):
    """SIGTERM to the command that /usr/bin/time runs (time then reports)."""
    try:
        with open("/proc/%d/task/%d/children" % (p.pid, p.pid)) as f:
            kids = [int(x) for x in f.read().split()]
    except OSError:
        kids = []
    for k in kids:
        try:
            os.kill(k, signal.SIGTERM)
        except ProcessLookupError:
            pass


def reap(procs, rssdir):
    """Wait for the chain (SIGTERM after 2 s); the peak RSS list (KiB)."""
    deadline = time.monotonic() + 2
    for p in procs:
        while p.returncode is None:
            pid, status, _ = os.wait4(p.pid, os.WNOHANG)
            if pid:
                p.returncode = status
                break
            if time.monotonic() > deadline:
                terminate(p)
                deadline = time.monotonic() + 2
            time.sleep(0.002)
    rss = []
    for i in range(len(procs)):
        with open(os.path.join(rssdir, str(i))) as f:
            rss.append(int(f.read().split()[-1]))
    return rss


def wait_for(fd, text, count, on_line=None):
    """Read fd until count lines contained text; returns the time then."""
    buf = b""
    seen = 0
    needle = text.encode()
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            return None
        buf += chunk
        if b"\n" not in buf and count == 1 and needle in buf:
            return time.perf_counter()
        *lines, buf = buf.split(b"\n")
        for ln in lines:
            if needle in ln:
                seen += 1
                if seen >= count:
                    return time.perf_counter()
        if count == 1 and needle in buf:
            return time.perf_counter()


def drain(fd):
    """Read whatever is waiting on fd without blocking."""
    os.set_blocking(fd, False)
    try:
        while os.read(fd, 65536):
            pass
    except BlockingIOError:
        pass
    os.set_blocking(fd, True)


def env_with(pairs):
    env = dict(os.environ)
    for kv in pairs:
        k, _, v = kv.partition("=")
        env[k] = v
    return env


def send_until(stdin, line, every_ms, stop):
    """Write line once, or every every_ms until stop (for a bot that drops
    what it reads before its scripts are loaded, as Hubot's Shell does)."""
    data = (line + "\n").encode()
    while True:
        try:
            stdin.write(data)
            stdin.flush()
        except (BrokenPipeError, ValueError):
            return
        if not every_ms or stop.wait(every_ms / 1000):
            return


def first(a, cmds):
    env = env_with(a.env)
    for _ in range(a.runs):
        t0 = time.perf_counter()
        procs, stdin, outfd = start(cmds, env, a.out_fd, a.rssdir)
        stop = threading.Event()
        th = threading.Thread(target=send_until, args=(stdin, a.send, a.repeat, stop),
                              daemon=True)
        th.start()
        t1 = wait_for(outfd, a.expect, 1)
        stop.set()
        th.join()
        try:
            stdin.close()
        except BrokenPipeError:
            pass
        if a.out_fd:
            os.close(outfd)
        if a.kill:
            for p in procs:
                terminate(p)
        rss = reap(procs, a.rssdir)
        for p in procs:
            if p.stdout:
                p.stdout.close()
        if t1 is None:
            print("no reply", file=sys.stderr)
            return 1
        print("%.3f %d %d" % ((t1 - t0) * 1000, sum(rss), max(rss)), flush=True)
    return 0


def rate(a, cmds):
    env = env_with(a.env)
    procs, stdin, outfd = start(cmds, env, a.out_fd, a.rssdir)
    data = open(a.input, "rb").read()
    t0 = [0.0]
    if a.ready:
        # Wait until the bot answers at all, then start the clock.
        stop = threading.Event()
        th = threading.Thread(target=send_until, args=(stdin, a.ready, 20, stop),
                              daemon=True)
        th.start()
        ok = wait_for(outfd, a.ready_expect, 1)
        stop.set()
        th.join()
        if ok is None:
            print("no answer to %r" % a.ready, file=sys.stderr)
            return 1
        time.sleep(0.2)   # let answers to repeated probes drain
        drain(outfd)

    def feed():
        t0[0] = time.perf_counter()
        try:
            stdin.write(data)
            stdin.flush()
        except BrokenPipeError:
            pass

    th = threading.Thread(target=feed, daemon=True)
    th.start()
    t1 = wait_for(outfd, a.expect, a.count)
    th.join()
    try:
        stdin.close()
    except BrokenPipeError:
        pass
    rss = reap(procs, a.rssdir)
    if t1 is None:
        print("output ended before %d replies" % a.count, file=sys.stderr)
        return 1
    s = t1 - t0[0]
    print("%.3f %.0f %d" % (s, a.count / s, sum(rss)), flush=True)
    return 0


def main():
    argv = sys.argv[1:]
    rest = []
    if "--" in argv:
        i = argv.index("--")
        argv, rest = argv[:i], argv[i + 1:]
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=("first", "rate"))
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--env", action="append", default=[])
    ap.add_argument("--send", default="")
    ap.add_argument("--expect", required=True)
    ap.add_argument("--input")
    ap.add_argument("--count", type=int, default=1)
    ap.add_argument("--out-fd", action="store_true")
    ap.add_argument("--repeat", type=float, default=0,
                    help="send the line again every REPEAT ms until the reply")
    ap.add_argument("--ready", help="rate: a line to send (every 20 ms) until READY_EXPECT shows")
    ap.add_argument("--ready-expect")
    ap.add_argument("--kill", action="store_true",
                    help="end the commands once the reply is in (they do not leave at EOF)")
    a = ap.parse_args(argv)
    cmds = split_commands(rest)
    a.rssdir = tempfile.mkdtemp(prefix="drive.")
    if not cmds:
        ap.error("no command after --")
    try:
        return first(a, cmds) if a.mode == "first" else rate(a, cmds)
    except OSError as e:
        print("drive.py: %s: %s" % (" ".join(cmds[0]), e), file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(a.rssdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
