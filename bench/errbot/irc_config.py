# errbot's configuration for make bench's IRC figure: its IRC backend on the
# loopback ngircd at $BENCH_IRC_PORT, in #bench, with no rate limit of its
# own (IRC_*_RATE 0), WARNING logging, data in $BENCH_ERRBOT_DATA.
import logging
import os

BACKEND = "IRC"
BOT_IDENTITY = {
    "nickname": "errbench",
    "server": "127.0.0.1",
    "port": int(os.environ.get("BENCH_IRC_PORT", "6667")),
}
CHATROOM_PRESENCE = ("#bench",)
CHATROOM_FN = "errbench"
IRC_CHANNEL_RATE = 0
IRC_PRIVATE_RATE = 0
BOT_DATA_DIR = os.environ.get("BENCH_ERRBOT_DATA", "/tmp/errbot-bench")
BOT_EXTRA_PLUGIN_DIR = None
BOT_LOG_FILE = os.path.join(BOT_DATA_DIR, "errbot.log")
BOT_LOG_LEVEL = logging.WARNING
BOT_ADMINS = ("human!*@*",)
BOT_PREFIX = "!"
STORAGE = "Memory"
