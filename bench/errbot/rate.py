#!/usr/bin/python3
"""rate.py: errbot's built-in !echo replies per second, for make bench.

    /usr/bin/python3 bench/errbot/rate.py FILE N

Runs errbot's in-process test bot (errbot.backends.test.TestBot, the Test
backend) at WARNING logging, pushes the first N lines of FILE ("!echo ..."),
and pops the N replies.  The clock runs from the first push to the last pop.
Prints "seconds replies_per_second".
"""
import logging
import sys
import time

from errbot.backends.test import TestBot


def main():
    path, n = sys.argv[1], int(sys.argv[2])
    with open(path, encoding="utf-8") as f:
        lines = [next(f).rstrip("\n") for _ in range(n)]
    bot = TestBot(loglevel=logging.WARNING)
    bot.start()
    t0 = time.perf_counter()
    for ln in lines:
        bot.push_message(ln)
    for _ in range(n):
        bot.pop_message(timeout=60)
    s = time.perf_counter() - t0
    print("%.3f %.0f" % (s, n / s), flush=True)
    bot.stop()


if __name__ == "__main__":
    main()
