# errbot's configuration for make bench's XMPP figure: its XMPP backend
# (slixmpp) as bot@localhost on the loopback prosody at $BENCH_XMPP_PORT,
# trusting the test certificate $BENCH_XMPP_CAFILE, in the MUC room
# $BENCH_XMPP_ROOM as "bot"; WARNING logging, data in $BENCH_ERRBOT_DATA.
import logging
import os

BACKEND = "XMPP"
BOT_IDENTITY = {
    "username": "bot@localhost",
    "password": open(os.environ["BENCH_XMPP_PASSFILE"]).read().strip(),
    "server": ("127.0.0.1", int(os.environ.get("BENCH_XMPP_PORT", "5222"))),
}
XMPP_CA_CERT_FILE = os.environ.get("BENCH_XMPP_CAFILE")
XMPP_USE_IPV6 = False
CHATROOM_PRESENCE = (os.environ.get("BENCH_XMPP_ROOM", "bench@conference.localhost"),)
CHATROOM_FN = "bot"
BOT_DATA_DIR = os.environ.get("BENCH_ERRBOT_DATA", "/tmp/errbot-bench")
BOT_EXTRA_PLUGIN_DIR = None
BOT_LOG_FILE = os.path.join(BOT_DATA_DIR, "errbot.log")
BOT_LOG_LEVEL = logging.WARNING
BOT_ADMINS = ("human@localhost",)
BOT_PREFIX = "!"
STORAGE = "Memory"
