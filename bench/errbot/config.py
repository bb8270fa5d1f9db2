# errbot's configuration for make bench: the text backend, no extra
# plugins, WARNING logging, data in $BENCH_ERRBOT_DATA (bench/out/errbot).
import logging
import os

BACKEND = "Text"
BOT_DATA_DIR = os.environ.get("BENCH_ERRBOT_DATA", "/tmp/errbot-bench")
BOT_EXTRA_PLUGIN_DIR = None
BOT_LOG_FILE = os.path.join(BOT_DATA_DIR, "errbot.log")
BOT_LOG_LEVEL = logging.WARNING
BOT_ADMINS = ("@you",)
BOT_PREFIX = "!"
STORAGE = "Memory"
TEXT_DEMO_MODE = False
SUPPRESS_CMD_NOT_FOUND = False
