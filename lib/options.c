/* options.c: the option table of each program.  They live together so
 * that every program knows every setting a config file shared by all five
 * may hold: a key that none of them (nor any backend) has is a typo, and
 * config.c says so.  The tables drive getopt, BOT_* variables, config keys
 * and --help (config.c). */
#include "bot.h"

/* bot-listen */
const struct bot_option bot_listen_options[] = {
	{ "backend", 'b', BOT_OPT_LIST, "NAME[@PROFILE]", "text", "the chat network: a backend, and a profile of the config file (several allowed)" },
	{ "session", 0, BOT_OPT_STR, "PATH", NULL, "the session socket (botpipe-session(7); none: no session)" },
	BOT_OPTIONS_END
};

/* bot-dispatch */
const struct bot_option bot_dispatch_options[] = {
	{ "plugins", 'd', BOT_OPT_LIST, "DIR", NULL, "a folder of commands (several allowed; the first that has a name wins)" },
	{ "prefix", 'p', BOT_OPT_STR, "TEXT", "!", "the command prefix" },
	{ "alt-prefix", 'a', BOT_OPT_LIST, "TEXT", NULL, "another prefix, such as the bot's name (several allowed)" },
	{ "alt-prefix-separators", 0, BOT_OPT_STR, "CHARS", ":,;", "characters stripped after an alternative prefix, each once, in order" },
	{ "alt-prefix-caseless", 0, BOT_OPT_FLAG, NULL, NULL, "match alternative prefixes without regard to case" },
	{ "prefix-optional", 0, BOT_OPT_FLAG, NULL, NULL, "in a direct chat, every message is a command" },
	{ "suppress-not-found", 0, BOT_OPT_FLAG, NULL, NULL, "say nothing when a command does not exist" },
	{ "override", 0, BOT_OPT_FLAG, NULL, NULL, "let a plugin replace a built-in command of the same name" },
	{ "acl", 0, BOT_OPT_STR, "FILE", NULL, "access controls (errbot's ACCESS_CONTROLS) from a JSON file" },
	{ "admin", 0, BOT_OPT_LIST, "GLOB", NULL, "a bot admin, matched on the sender's aclattr (several allowed)" },
	{ "hide-restricted-commands", 0, BOT_OPT_FLAG, NULL, NULL, "leave out of help what the asker may not run" },
	{ "hide-restricted-access", 0, BOT_OPT_FLAG, NULL, NULL, "deny without a reply (the error event stays)" },
	{ "divert-to-private", 0, BOT_OPT_LIST, "NAME", NULL, "answer this command privately (several allowed)" },
	{ "divert-to-thread", 0, BOT_OPT_LIST, "NAME", NULL, "answer this command in a thread (several allowed)" },
	{ "rule", 'e', BOT_OPT_LIST, "FILTER", NULL, "a jq program run on every event; each output is an event (several allowed)" },
	{ "rules-file", 'f', BOT_OPT_LIST, "FILE", NULL, "a jq program from a file (several allowed)" },
	{ "jq-library", 0, BOT_OPT_STR, "DIR", NULL, "where bot.jq lives (default: beside the program)" },
	{ "jobs", 'j', BOT_OPT_INT, "N", "10", "run at most N commands at once" },
	{ "timeout", 't', BOT_OPT_INT, "SECONDS", "60", "kill a command (its whole process group) after SECONDS" },
	{ "max-output", 0, BOT_OPT_INT, "BYTES", "1048576", "keep at most BYTES of a command's output" },
	{ "max-events", 0, BOT_OPT_INT, "N", "1000", "forward at most N events a command writes on fd 3" },
	{ "max-line", 0, BOT_OPT_INT, "BYTES", "16777216", "refuse input lines longer than BYTES" },
	{ "limit-cpu", 0, BOT_OPT_INT, "SECONDS", "0", "a command's CPU time limit (0: none)" },
	{ "limit-memory", 0, BOT_OPT_INT, "MB", "0", "a command's address space limit (0: none)" },
	{ "limit-processes", 0, BOT_OPT_INT, "N", "0", "a command's process limit (0: none)" },
	{ "env", 0, BOT_OPT_LIST, "NAME", NULL, "pass this environment variable on to commands (several allowed)" },
	{ "nick-prefix", 0, BOT_OPT_FLAG, NULL, "true", "mention the sender in replies to a room (--no-nick-prefix: not)" },
	{ "pass", 0, BOT_OPT_FLAG, NULL, NULL, "pass on events that no command or rule consumed" },
	{ "replay", 0, BOT_OPT_FLAG, NULL, NULL, "the same output for the same input: recorded time, outputs in input order" },
	{ "clock", 0, BOT_OPT_INT, "SECONDS", NULL, "with --replay: the time until an event has a ts (default 0)" },
	{ "done", 0, BOT_OPT_FLAG, NULL, NULL, "after each input's last output, write {\"type\":\"done\",\"ref\":ID}" },
	{ "test", 0, BOT_OPT_FLAG, NULL, NULL, "run the transcripts named as operands (botpipe-plugins(7)); a mismatch is a diff" },
	{ "update", 0, BOT_OPT_FLAG, NULL, NULL, "with --test: rewrite each transcript's expected lines with what happened" },
	BOT_OPTIONS_END
};

/* bot-send */
const struct bot_option bot_send_options[] = {
	{ "backend", 'b', BOT_OPT_LIST, "NAME[@PROFILE]", "text", "the chat network: a backend, and a profile of the config file (several allowed)" },
	{ "session", 0, BOT_OPT_STR, "PATH", NULL, "the session socket (botpipe-session(7); none: no session)" },
	{ "to", 'T', BOT_OPT_STR, "ID", NULL, "send to ID: the arguments as text, or standard input (text, or event lines)" },
	{ "code", 0, BOT_OPT_FLAG, NULL, NULL, "with --to: send the text as a code block" },
	{ "raw", 0, BOT_OPT_FLAG, NULL, NULL, "send bodies as they are, without rendering markdown" },
	{ "markup", 0, BOT_OPT_STR, "NAME", NULL, "render into this markup instead of the backend's" },
	{ "max-line", 0, BOT_OPT_INT, "BYTES", "16777216", "refuse input lines longer than BYTES" },
	{ "retries", 0, BOT_OPT_INT, "N", "4", "try a failed part again up to N times (429, 5xx, dropped connections)" },
	{ "give-up-after", 0, BOT_OPT_STR, "SECONDS", "120", "stop retrying a message after SECONDS (0: no limit)" },
	{ "timeout", 0, BOT_OPT_STR, "SECONDS", "30", "give up on one request after SECONDS" },
	{ "outbox", 0, BOT_OPT_STR, "DIR", NULL, "store each message in DIR (made 0700 when missing) before sending; keep it there when it cannot be sent now" },
	{ "flush", 0, BOT_OPT_STR, "DIR", NULL, "send what waits in the outbox DIR (which must exist), oldest first, and exit" },
	{ "files-from", 0, BOT_OPT_LIST, "DIR", NULL, "send the files of stream events only from under DIR (may be given several times; none: no file is sent)" },
	BOT_OPTIONS_END
};

/* bot-card */
const struct bot_option bot_card_options[] = {
	{ "title", 't', BOT_OPT_STR, "TEXT", NULL, "the card's title" },
	{ "summary", 's', BOT_OPT_STR, "TEXT", NULL, "a line above the title" },
	{ "link", 'l', BOT_OPT_STR, "URL", NULL, "where the title links to" },
	{ "image", 0, BOT_OPT_STR, "URL", NULL, "a picture" },
	{ "thumbnail", 0, BOT_OPT_STR, "URL", NULL, "a small picture" },
	{ "color", 0, BOT_OPT_STR, "COLOR", NULL, "red, green, yellow, blue, white, cyan, black or #RRGGBB" },
	{ "text-color", 0, BOT_OPT_STR, "COLOR", NULL, "the text colour (default: white on black or blue, else black)" },
	{ "field", 'f', BOT_OPT_LIST, "KEY=VALUE", NULL, "a field; several keep their order" },
	{ "to", 'T', BOT_OPT_STR, "ID", NULL, "where bot-send delivers the card" },
	{ "render", 'r', BOT_OPT_STR, "HOW", NULL, "print the card rendered: markdown, a markup (text, ansi, irc, ...) or a backend's name" },
	{ "template", 0, BOT_OPT_STR, "FILE", NULL, "with --render: the card template (default: share/templates/card.md)" },
	BOT_OPTIONS_END
};

/* bot-room */
const struct bot_option bot_room_options[] = {
	{ "backend", 'b', BOT_OPT_LIST, "NAME[@PROFILE]", "text", "the chat network: a backend, and a profile of the config file (several allowed)" },
	{ "json", 'j', BOT_OPT_FLAG, NULL, NULL, "print the answer (or the error) as an event" },
	{ "session", 0, BOT_OPT_STR, "PATH", NULL, "a running bot-listen's session socket (none: act on a connection of its own)" },
	BOT_OPTIONS_END
};

/* bot-queue */
const struct bot_option bot_queue_options[] = {
	{ "nats-url", 0, BOT_OPT_STR, "URL", NULL, "the NATS server, or several comma-separated (default: $NATS_URL, else nats://127.0.0.1:4222); no credentials in it" },
	{ "nats-user", 0, BOT_OPT_STR, "NAME", NULL, "the user name; its password comes from BOT_NATS_PASSWORD or BOT_NATS_PASSWORD_FILE" },
	{ "nats-password", 0, BOT_OPT_SECRET, NULL, NULL, "the user's password" },
	{ "nats-token", 0, BOT_OPT_SECRET, NULL, NULL, "an authentication token" },
	{ "nats-ca", 0, BOT_OPT_STR, "FILE", NULL, "TLS: trust the certificates in FILE (implies --tls)" },
	{ "tls", 0, BOT_OPT_FLAG, NULL, NULL, "require TLS" },
	{ "subject", 's', BOT_OPT_STR, "SUBJECT", NULL, "the subject to publish into or take from (publish, work: botpipe.in; subscribe: botpipe.out)" },
	{ "stream", 0, BOT_OPT_STR, "NAME", NULL, "the stream of --subject (default: the subject with _ for .)" },
	{ "reply-subject", 0, BOT_OPT_STR, "SUBJECT", "botpipe.out", "work: where the command's outputs go" },
	{ "dead-letter", 0, BOT_OPT_STR, "SUBJECT", "botpipe.dead", "work: where an input delivered more than --max-deliveries times goes" },
	{ "durable", 0, BOT_OPT_STR, "NAME", "botpipe", "the consumer every worker (or subscriber) shares" },
	{ "answered-by", 0, BOT_OPT_STR, "HOW", "done", "work: how CMD says it is finished with an input: done (bot-dispatch --done) or sent (bot-send)" },
	{ "ack-wait", 0, BOT_OPT_INT, "SECONDS", "30", "give an unacknowledged input to another worker after SECONDS" },
	{ "max-deliveries", 0, BOT_OPT_INT, "N", "5", "work: after N deliveries an input goes to the dead letters" },
	{ "in-flight", 0, BOT_OPT_INT, "N", "10", "work: hand CMD at most N inputs at once" },
	{ "duplicate-window", 0, BOT_OPT_INT, "SECONDS", "120", "a stream made here drops a message id seen in the last SECONDS" },
	{ "max-line", 0, BOT_OPT_INT, "BYTES", "16777216", "refuse input lines longer than BYTES" },
	BOT_OPTIONS_END
};

const struct bot_option *const bot_program_options[] = {
	bot_listen_options,
	bot_dispatch_options,
	bot_send_options,
	bot_card_options,
	bot_room_options,
	bot_queue_options,
	NULL
};
