/* test-irc: the IRC backend's parsers, table-driven: protocol lines,
 * identifiers, outbound line cutting, inbound text, bounded reading; and
 * its ABI 2 life against a server played by the test over loopback:
 * registration, up at 001, a 464, jobs answered at their PONG, the lazy
 * connection of bot-send, reading while the reader lags. */
#include <netinet/in.h>
#include <sys/socket.h>

#include "../../backends/irc.c"
#include "unit.h"

/* ---- irc_parse: line -> "tags|prefix|command|p1|p2..." ---- */
static const struct { const char *line, *want; } parse_cases[] = {
	{ "PING :irc.test", "-|-|PING|irc.test" },
	{ ":nick!user@host PRIVMSG #chan :hello world", "-|nick!user@host|PRIVMSG|#chan|hello world" },
	{ ":srv 001 bot :Welcome bot!u@h", "-|srv|001|bot|Welcome bot!u@h" },
	{ "@time=2024;msgid=x :n!u@h PRIVMSG bot :hi", "time=2024;msgid=x|n!u@h|PRIVMSG|bot|hi" },
	{ ":n!u@h JOIN #c", "-|n!u@h|JOIN|#c" },
	{ ":n!u@h JOIN :#c", "-|n!u@h|JOIN|#c" },
	{ "  :n!u@h   PART   #c   :bye  now ", "-|n!u@h|PART|#c|bye  now " },
	{ ":srv 353 bot = #c :@op +v nick", "-|srv|353|bot|=|#c|@op +v nick" },
	{ "PRIVMSG #c :", "-|-|PRIVMSG|#c|" },
	{ "PRIVMSG #c ::colon", "-|-|PRIVMSG|#c|:colon" },
	{ "CMD a b c d e f g h i j k l m n o p q", "-|-|CMD|a|b|c|d|e|f|g|h|i|j|k|l|m|n|o p q" },
	{ "QUIT", "-|-|QUIT" },
	{ ":prefixonly", NULL },
	{ "", NULL },
	{ "@tagsonly", NULL },
	{ "   ", NULL },
};

static void test_parse(void)
{
	for (size_t i = 0; i < sizeof parse_cases / sizeof *parse_cases; i++) {
		char line[600], got[1200], what[700];
		struct irc_msg m;
		snprintf(line, sizeof line, "%s", parse_cases[i].line);
		char shown[600];
		bot_oneline(shown, sizeof shown, parse_cases[i].line, strlen(parse_cases[i].line));
		snprintf(what, sizeof what, "parse \"%s\"", shown);
		if (irc_parse(line, &m) < 0) {
			CHECK_STR(NULL, parse_cases[i].want, what);
			continue;
		}
		int o = snprintf(got, sizeof got, "%s|%s|%s", m.tags ? m.tags : "-",
		                 m.prefix ? m.prefix : "-", m.command);
		for (int k = 0; k < m.nparams; k++)
			o += snprintf(got + o, sizeof got - (size_t)o, "|%s", m.params[k]);
		CHECK_STR(got, parse_cases[i].want, what);
	}
}

static void test_mask(void)
{
	static const struct { const char *in, *want; } cases[] = {
		{ "nick!user@host", "nick user host" },
		{ "irc.test", "irc.test - -" },
		{ "nick@host", "nick - host" },
		{ "nick!user", "nick user -" },
		{ "a!b!c@d@e", "a b!c d@e" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char buf[100], got[120];
		const char *n, *u, *h;
		snprintf(buf, sizeof buf, "%s", cases[i].in);
		irc_split_mask(buf, &n, &u, &h);
		snprintf(got, sizeof got, "%s %s %s", n, *u ? u : "-", *h ? h : "-");
		CHECK_STR(got, cases[i].want, cases[i].in);
	}
}

/* ---- build_identifier: text -> "kind id nick room client" or "error" ---- */
static const struct { const char *in, *want; } ident_cases[] = {
	{ "@alice", "person @alice alice - -" },
	{ "alice", "person @alice alice - -" },
	{ "alice!~al@host.example", "person @alice alice - alice!~al@host.example" },
	{ "@alice!u@h", "person @alice alice - alice!u@h" },
	{ "[bot]^_", "person @[bot]^_ [bot]^_ - -" },
	{ "#ops", "room #ops - - -" },
	{ "&local", "room &local - - -" },
	{ "#ops/alice", "occupant #ops/alice alice #ops -" },
	{ "#a/b/alice", "error" },
	{ "#", "error" },
	{ "#a b", "error" },
	{ "#a,#b", "error" },
	{ "#ops/", "error" },
	{ "#ops/9x", "error" },
	{ "@", "error" },
	{ "", "error" },
	{ "9lives", "error" },
	{ "al ice", "error" },
	{ "alice\r\nQUIT", "error" },
	{ "#ops\r\nQUIT", "error" },
	{ "alice!u", "error" },
	{ "alice!u@", "error" },
	{ "alice!u x@h", "error" },
	{ "@#ops", "error" },
};

static void test_identifiers(void)
{
	for (size_t i = 0; i < sizeof ident_cases / sizeof *ident_cases; i++) {
		jv id = irc_parse_identifier(ident_cases[i].in);
		char got[400], what[200];
		char shown[120];
		bot_oneline(shown, sizeof shown, ident_cases[i].in, strlen(ident_cases[i].in));
		snprintf(what, sizeof what, "identifier \"%s\"", shown);
		if (!jv_is_valid(id))
			snprintf(got, sizeof got, "error");
		else
			snprintf(got, sizeof got, "%s %s %s %s %s", bot_ident_kind(id), bot_ident_id(id),
			         bot_str(id, "nick") ? bot_str(id, "nick") : "-",
			         bot_str(id, "room") ? bot_str(id, "room") : "-",
			         bot_str(id, "client") ? bot_str(id, "client") : "-");
		CHECK_STR(got, ident_cases[i].want, what);
		jv_free(id);
	}
	/* what build_identifier gives, target_of reads back */
	const char *round[] = { "@alice", "#ops", "#ops/alice", "alice!u@h" };
	const char *want[] = { "alice", "#ops", "alice", "alice" };
	for (size_t i = 0; i < 4; i++) {
		char buf[256] = "";
		jv id = irc_parse_identifier(round[i]);
		jv ok = target_of(id, buf, sizeof buf);
		CHECK_STR(buf, want[i], round[i]);
		jv_free(ok);
		jv_free(id);
	}
}

/* ---- outbound: text -> PRIVMSG lines ---- */
static char *joined_lines(jv lines)
{
	static char buf[8192];
	size_t o = 0;
	buf[0] = 0;
	jv_array_foreach(lines, i, l) {
		o += (size_t)snprintf(buf + o, sizeof buf - o, "%s[%s]", i ? "," : "", jv_string_value(l));
		jv_free(l);
	}
	jv_free(lines);
	return buf;
}

static void test_lines(void)
{
	CHECK_STR(joined_lines(message_lines("PRIVMSG", "#c", "hi", 400, 0)), "[PRIVMSG #c :hi]", "one line");
	CHECK_STR(joined_lines(message_lines("PRIVMSG", "#c", "hi\r\nQUIT :x", 400, 0)),
	          "[PRIVMSG #c :hi],[PRIVMSG #c :QUIT :x]", "CR LF cannot start a command");
	CHECK_STR(joined_lines(message_lines("PRIVMSG", "#c", "a\rb\n\n\nc\n", 400, 0)),
	          "[PRIVMSG #c :ab],[PRIVMSG #c :c]", "lone CR dropped, empty lines skipped");
	CHECK_STR(joined_lines(message_lines("PRIVMSG", "#c", "", 400, 0)), "", "nothing to say");
	CHECK_STR(joined_lines(message_lines("PRIVMSG", "#c", "\001VERSION\001", 400, 0)),
	          "[PRIVMSG #c :*VERSION*]", "no CTCP injection");
	CHECK_STR(joined_lines(message_lines("PRIVMSG", "#c", "waves", 400, 1)),
	          "[PRIVMSG #c :\001ACTION waves\001]", "action");
	CHECK_STR(joined_lines(message_lines("NOTICE", "bob", "n", 400, 0)), "[NOTICE bob :n]", "notice");
	CHECK_STR(joined_lines(message_lines("PRIVMSG", "#c", "abcdefghij", 4, 0)),
	          "[PRIVMSG #c :abcd],[PRIVMSG #c :efgh],[PRIVMSG #c :ij]", "cut at the limit");
	/* é is two bytes: never cut inside it */
	CHECK_STR(joined_lines(message_lines("PRIVMSG", "#c", "a\xc3\xa9\xc3\xa9", 2, 0)),
	          "[PRIVMSG #c :a],[PRIVMSG #c :\xc3\xa9],[PRIVMSG #c :\xc3\xa9]", "UTF-8 kept whole");

	/* every line fits in 512 bytes, whatever the body */
	char big[3000];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = 0;
	struct irc c = { .nick_cfg = "botpipe", .user = "botpipe" };
	size_t limit = body_limit(&c, "#ops");
	CHECK(limit == 512 - 16 - 9 - 8 - 63 - 4, "limit before connecting: NICKLEN + ~user + 63-byte host");
	jv lines = message_lines("PRIVMSG", "#ops", big, limit, 0);
	int ok = 1;
	jv_array_foreach(lines, i, l) {
		size_t wire = 1 + 9 + 1 + 8 + 1 + 63 + 1 + (size_t)jv_string_length_bytes(jv_copy(l)) + 2;
		ok &= wire <= 512;
		jv_free(l);
		(void)i;
	}
	jv_free(lines);
	CHECK(ok, "relayed lines stay within 512 bytes");
	snprintf(c.nick, sizeof c.nick, "bot");
	snprintf(c.mask_user, sizeof c.mask_user, "~bp");
	snprintf(c.mask_host, sizeof c.mask_host, "127.0.0.1");
	c.registered = 1;
	CHECK(body_limit(&c, "#ops") == 512 - 2 - strlen(":bot!~bp@127.0.0.1 PRIVMSG #ops :"),
	      "limit once the server told us our mask");
}

/* ---- inbound text ---- */
static void test_clean(void)
{
	static const struct { const char *in, *want; } cases[] = {
		{ "plain", "plain" },
		{ "\x02" "bold\x0f and \x1fund\x1f", "bold and und" },
		{ "\x03" "04red\x03 \x03" "4,12both\x03 \x03" "99,1x", "red both x" },
		{ "\x03" ",x", ",x" },
		{ "tab\tkept\x07", "tab\tkept" },
		{ "caf\xe9", "caf\xc3\xa9" },
		{ "caf\xc3\xa9", "caf\xc3\xa9" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		jv t = irc_clean_text(cases[i].in, strlen(cases[i].in));
		CHECK_STR(jv_string_value(t), cases[i].want, "clean text");
		jv_free(t);
	}
}

/* ---- reading: events from lines, bounded buffer ---- */
static jv seen;
static int ups;
static void collect(struct bot_host *h, jv ev, jv mark)
{
	(void)h;
	jv_free(mark);
	seen = jv_array_append(seen, ev);
}
static void count_up(struct bot_host *h)
{
	(void)h;
	ups++;
}
static struct bot_host host = { .size = sizeof host, .emit = collect, .up = count_up };

static struct irc *fresh(void)
{
	struct irc *c = calloc(1, sizeof *c);
	irc_state_init(c);
	snprintf(c->host, sizeof c->host, "127.0.0.1");
	snprintf(c->nick_cfg, sizeof c->nick_cfg, "bot");
	snprintf(c->user, sizeof c->user, "botpipe");
	snprintf(c->realname, sizeof c->realname, "botpipe bot");
	snprintf(c->nick, sizeof c->nick, "bot");
	c->bucket = bot_rate_new(c->burst, c->rate);
	return c;
}

static void feed(struct irc *c, const char *bytes, size_t n)
{
	while (n) {
		size_t k = sizeof c->in - c->in_len;
		if (k > n)
			k = n;
		memcpy(c->in + c->in_len, bytes, k);
		c->in_len += k;
		take_lines(c);
		bytes += k;
		n -= k;
	}
}

static const char *event_summary(int i)
{
	static char buf[600];
	jv ev = jv_array_get(jv_copy(seen), i);
	jv from = bot_get(ev, "from"), to = bot_get(ev, "to"), occ = bot_get(ev, "occupant");
	jv ident = bot_get(ev, "identifier"), room = bot_get(ev, "room");
	snprintf(buf, sizeof buf, "%s %s %s %s %s",
	         bot_str(ev, "type") ? bot_str(ev, "type") : "-",
	         bot_str(ev, "action") ? bot_str(ev, "action") : bot_str(ev, "status") ? bot_str(ev, "status") : "-",
	         bot_ident_id(from) ? bot_ident_id(from) : bot_ident_id(occ) ? bot_ident_id(occ)
	         : bot_ident_id(ident) ? bot_ident_id(ident) : "-",
	         bot_ident_id(to) ? bot_ident_id(to) : bot_ident_id(room) ? bot_ident_id(room) : "-",
	         bot_str(ev, "body") ? bot_str(ev, "body") : bot_str(ev, "topic") ? bot_str(ev, "topic") : "-");
	jv_free(from);
	jv_free(to);
	jv_free(occ);
	jv_free(ident);
	jv_free(room);
	jv_free(ev);
	return buf;
}

static void test_events(void)
{
	static const struct { const char *line, *want; } cases[] = {
		{ ":al!u@h PRIVMSG #ops :!echo hi", "message - #ops/al #ops !echo hi" },
		{ ":al!u@h PRIVMSG bot :private", "message - @al @bot private" },
		{ ":al!u@h PRIVMSG BOT :case", "message - @al @bot case" },
		{ ":al!u@h NOTICE #ops :note", "message - #ops/al #ops note" },
		{ ":al!u@h PRIVMSG #ops :\001ACTION waves\001", "message - #ops/al #ops waves" },
		{ ":al!u@h JOIN #ops", "room joined #ops/al #ops -" },
		{ ":al!u@h PART #ops :bye", "room left #ops/al #ops -" },
		{ ":op!u@h KICK #ops al :out", "room left #ops/al #ops -" },
		{ ":al!u@h TOPIC #ops :new topic", "room topic #ops/al #ops new topic" },
		{ ":al!u@h QUIT :gone", "presence offline @al - -" },
		{ ":al!u@h NICK alice", "presence online @alice - -" },
		{ ":al!u@h INVITE bot #secret", "room invite @al #secret -" },
		{ ":srv 332 bot #ops :the topic", "room topic - #ops the topic" },
		{ ":srv 353 bot = #ops :@bot +al", NULL },
		{ ":srv 366 bot #ops :End", "room occupants - #ops -" },
		/* ignored: server notices, other CTCP, messages for someone else, junk */
		{ ":irc.test NOTICE bot :server notice", NULL },
		{ "NOTICE * :*** Looking up your hostname", NULL },
		{ ":al!u@h PRIVMSG #ops :\001VERSION\001", NULL },
		{ ":al!u@h PRIVMSG other :not for us", NULL },
		{ ":al!u@h PRIVMSG", NULL },
		{ ":al!u@h JOIN", NULL },
		{ ":al!u@h JOIN bad\001chan", NULL },
		{ ":9bad!u@h PRIVMSG #ops :x", NULL },
		{ "\001\002\003", NULL },
	};
	struct irc *c = fresh();
	c->bh = &host;
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		seen = jv_array();
		char line[600], what[600];
		bot_oneline(what, sizeof what, cases[i].line, strlen(cases[i].line));
		snprintf(line, sizeof line, "%s\r\n", cases[i].line);
		feed(c, line, strlen(line));
		int n = jv_array_length(jv_copy(seen));
		if (!cases[i].want)
			CHECK(n == 0, what);
		else {
			CHECK(n == 1, what);
			CHECK_STR(n ? event_summary(0) : "", cases[i].want, what);
		}
		jv_free(seen);
	}
	/* the extras of an action and a notice */
	seen = jv_array();
	const char *two = ":al!u@h PRIVMSG #ops :\001ACTION waves\001\r\n:al!u@h NOTICE bot :n\r\n";
	feed(c, two, strlen(two));
	jv a = jv_array_get(jv_copy(seen), 0), b = jv_array_get(jv_copy(seen), 1);
	jv ea = bot_get(a, "extras"), eb = bot_get(b, "extras");
	CHECK(bot_true(ea, "action") && !bot_true(ea, "notice"), "ACTION sets extras.action");
	CHECK(bot_true(eb, "notice"), "NOTICE sets extras.notice");
	jv occ = bot_get(a, "from");
	CHECK_STR(bot_str(occ, "client"), "al!u@h", "the sender's mask is its client");
	jv_free(occ);
	jv_free(ea);
	jv_free(eb);
	jv_free(a);
	jv_free(b);
	jv_free(seen);

	/* our nick changes with NICK; our own JOIN marks the channel joined */
	seen = jv_array();
	const char *mine = ":bot!~bp@127.0.0.1 JOIN :#mine\r\n:bot!~bp@127.0.0.1 NICK :bot2\r\n";
	feed(c, mine, strlen(mine));
	CHECK(is_joined(c, "#MINE"), "our JOIN marks the channel joined (case-folded)");
	CHECK_STR(c->nick, "bot2", "NICK follows our new nick");
	CHECK_STR(c->mask_host, "127.0.0.1", "our host learnt from our JOIN");
	jv_free(seen);

	/* an overlong line is dropped whole, the next one still read */
	seen = jv_array();
	size_t big = 100000;
	char *junk = malloc(big);
	memset(junk, 'A', big);
	feed(c, ":al!u@h PRIVMSG #ops :", 22);
	feed(c, junk, big);
	feed(c, "\r\n:al!u@h PRIVMSG #ops :after\r\n", 31);
	CHECK(jv_array_length(jv_copy(seen)) == 1, "overlong line dropped");
	CHECK_STR(event_summary(0), "message - #ops/al #ops after", "the line after it is read");
	CHECK(c->in_len == 0, "the buffer is empty after");
	free(junk);
	jv_free(seen);
	c->bh = NULL;
	irc_close(c);
}

static void test_identity(void)
{
	struct irc *c = fresh();
	static const struct { const char *nick; int self; } cases[] = {
		{ "bot", 1 }, { "BOT", 1 }, { "bot_", 1 }, { "bot__", 1 }, { "bot_x", 0 },
		{ "bo", 0 }, { "botty", 0 }, { "alice", 0 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		jv msg = JV_OBJECT(jv_string("from"), irc_occupant("#ops", cases[i].nick, "u", "h"));
		CHECK(irc_is_from_self(c, msg) == cases[i].self, cases[i].nick);
		jv_free(msg);
	}
	jv m = irc_mention(c, irc_parse_identifier("#ops/alice"), jv_string("hi"));
	CHECK_STR(jv_string_value(m), "alice: hi", "mention: nick: body");
	jv_free(m);
	m = irc_mention(c, irc_parse_identifier("@alice"), jv_string("# Title"));
	CHECK_STR(jv_string_value(m), "alice:\n\n# Title", "mention: a body that starts with a block starts after it");
	jv_free(m);
	irc_close(c);
}

static void test_base64(void)
{
	static const struct { const char *in, *want; } cases[] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" }, { "foobar", "Zm9vYmFy" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char out[32];
		base64((const unsigned char *)cases[i].in, strlen(cases[i].in), out);
		CHECK_STR(out, cases[i].want, "base64");
	}
	char out[64];
	base64((const unsigned char *)"jilles\0jilles\0sesame", 20, out);
	CHECK_STR(out, "amlsbGVzAGppbGxlcwBzZXNhbWU=", "SASL PLAIN payload");
}

static void test_server_setting(void)
{
	static const struct { const char *in; int tls; const char *want; } cases[] = {
		{ "irc.example", 0, "irc.example 6667" },
		{ "irc.example", 1, "irc.example 6697" },
		{ "irc.example:7000", 0, "irc.example 7000" },
		{ "[::1]:6667", 0, "::1 6667" },
		{ "::1", 0, "::1 6667" },
		{ "host:0", 0, "error" },
		{ "host:x", 0, "error" },
		{ ":6667", 0, "error" },
		{ "[::1", 0, "error" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct irc c = { .tls = cases[i].tls };
		jv err = jv_invalid();
		char got[300];
		if (parse_server(&c, cases[i].in, &err) < 0)
			snprintf(got, sizeof got, "error");
		else
			snprintf(got, sizeof got, "%s %d", c.host, c.port);
		jv_free(err);
		CHECK_STR(got, cases[i].want, cases[i].in);
	}
}

/* ---- bounds: what a hostile server can make the backend hold ---- */

static void feedf(struct irc *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void feedf(struct irc *c, const char *fmt, ...)
{
	char line[IRC_IN_MAX];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line - 2, fmt, ap);
	va_end(ap);
	memcpy(line + n, "\r\n", 2);
	feed(c, line, (size_t)n + 2);
}

static void test_names_bounds(void)
{
	struct irc *c = fresh();
	c->bh = &host;
	seen = jv_array();
	for (int i = 0; i < 3 * IRC_NAMES_CHANNELS_MAX; i++)
		feedf(c, ":srv 353 bot = #c%d :al bo", i);
	CHECK(c->names_channels == IRC_NAMES_CHANNELS_MAX, "NAMES pending for at most IRC_NAMES_CHANNELS_MAX channels");
	CHECK(jv_object_length(jv_copy(c->names)) == IRC_NAMES_CHANNELS_MAX, "...and no more are held");
	CHECK(c->dropped > 0 || c->note_ms, "the drops are noted");
	feedf(c, ":srv 366 bot #c0 :End");
	CHECK(jv_array_length(jv_copy(seen)) == 1, "a 366 still ends a held reply");
	jv ev = jv_array_get(jv_copy(seen), 0), occ = bot_get(ev, "occupants");
	CHECK(jv_array_length(jv_copy(occ)) == 2, "...with its nicks");
	jv_free(occ);
	jv_free(ev);
	CHECK(c->names_channels == IRC_NAMES_CHANNELS_MAX - 1 && c->names_held == 2 * (IRC_NAMES_CHANNELS_MAX - 1),
	      "...and frees its place");
	/* one channel, endless nicks: IRC_NAMES_MAX in all */
	char nicks[4000];
	size_t o = 0;
	for (int i = 0; o + 8 < sizeof nicks; i++)
		o += (size_t)snprintf(nicks + o, sizeof nicks - o, "n%d ", i);
	for (int i = 0; i < 200; i++)
		feedf(c, ":srv 353 bot = #c1 :%s", nicks);
	CHECK(c->names_held == IRC_NAMES_MAX, "nicks held in all stop at IRC_NAMES_MAX");
	jv_free(seen);
	c->bh = NULL;
	irc_close(c);
}

static void test_roundtrip_bounds(void)
{
	struct irc *c = fresh();
	struct job *j = job_new(JOB_ROOM, jv_null());
	j->written = 1;   /* a line of it went out: it collects */
	c->jobs = c->jobs_tail = j;
	for (int i = 0; i < 50000; i++)
		feedf(c, ":srv 401 bot #nowhere%d :No such \x02nick\x02", i);
	CHECK(j->rt_code == 401, "the first error numeric decides");
	CHECK_STR(j->rt_text, "#nowhere0: No such nick", "...with its target and cleaned text");
	/* a LIST longer than the budget: kept up to it */
	for (int i = 0; i < 40000; i++)
		feedf(c, ":srv 322 bot #c%d 3 :%0200d", i, i);
	int kept = jv_array_length(jv_copy(j->rt[RT_LIST]));
	CHECK(kept > 1000 && kept < 40000, "LIST answers are kept within IRC_RT_COST_MAX");
	CHECK(j->rt_cost <= IRC_RT_COST_MAX, "...whose cost stays under it");
	c->jobs = c->jobs_tail = NULL;
	feedf(c, ":srv 322 bot #late 3 :x");
	CHECK(jv_array_length(jv_copy(j->rt[RT_LIST])) == kept, "nothing is kept without a job collecting");
	job_free(j);
	irc_close(c);
}

/* ---- the connection's life, against a server played here ---- */

/* A listening socket on loopback; its port in *port. */
static int listen_any(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof a;
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 4) < 0 ||
	    getsockname(l, (struct sockaddr *)&a, &al) < 0)
		abort();
	*port = ntohs(a.sin_port);
	return l;
}

/* The server's end of the connection the backend is making. */
static int accept_server(int l)
{
	int srv = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	close(l);
	if (srv < 0)
		abort();
	return srv;
}

/* The program's loop for ms: prepare, poll, dispatch.  The first
 * dispatch that fails ends it: its rc, *err its failure. */
static int turns(struct irc *c, int ms, jv *err)
{
	struct bot_poll p = BOT_POLL_INIT;
	long long until = bot_now_ms() + ms;
	int rc = 0;
	while (rc == 0 && bot_now_ms() < until) {
		bot_poll_reset(&p);
		irc_prepare(c, &p);
		bot_poll_deadline(&p, bot_now_ms() + 10);
		bot_poll_wait(&p);
		rc = irc_dispatch(c, &p, err);
	}
	bot_poll_free(&p);
	return rc;
}

/* What the server received since the last call. */
static const char *server_got(int srv)
{
	static char buf[1 << 16];
	size_t n = 0;
	ssize_t r;
	while (n < sizeof buf - 1 && (r = read(srv, buf + n, sizeof buf - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = 0;
	return buf;
}

static void server_says(int srv, const char *text)
{
	size_t n = strlen(text);
	while (n) {
		ssize_t w = write(srv, text, n);
		if (w < 0) {
			struct pollfd pf = { .fd = srv, .events = POLLOUT };
			poll(&pf, 1, 100);
			continue;
		}
		text += w;
		n -= (size_t)w;
	}
}

/* done: each result in order; a failure as {"failed": its object}. */
static jv results;
static void on_done(void *ctx, jv result)
{
	(void)ctx;
	if (!jv_is_valid(result))
		result = JV_OBJECT(jv_string("failed"), jv_invalid_get_msg(result));
	results = jv_array_append(results, result);
}

static const char *result_summary(int i)
{
	static char buf[300];
	jv r = jv_array_get(jv_copy(results), i), f = bot_get(r, "failed");
	if (jv_get_kind(f) == JV_KIND_OBJECT)
		snprintf(buf, sizeof buf, "failed %s %s", bot_str(f, "code"),
		         bot_true(f, "temporary") ? "temporary" : "permanent");
	else
		snprintf(buf, sizeof buf, "id %s", jv_get_kind(r) == JV_KIND_INVALID ? "none" :
		         bot_str(r, "id") ? "string" : "null");
	jv_free(f);
	jv_free(r);
	return buf;
}

static int submit_text(struct irc *c, const char *to, const char *text)
{
	struct bot_part part = {
		.size = sizeof part,
		.event = JV_OBJECT(jv_string("type"), jv_string("message"), jv_string("to"), jv_string(to)),
		.type = "message",
		.text = text,
	};
	jv err = jv_invalid();
	int rc = irc_submit(c, &part, on_done, NULL, &err);
	jv_free(part.event);
	jv_free(err);
	return rc;
}

/* A backend in bot-listen's place, connected and registered. */
static struct irc *listening(int *srv)
{
	struct irc *c = fresh();
	c->bh = &host;
	int l = listen_any(&c->port);
	jv err = jv_invalid();
	ups = 0;
	if (irc_start(c, &err) < 0)
		abort();
	*srv = accept_server(l);
	turns(c, 100, &err);
	jv_free(err);
	return c;
}

static void test_life(void)
{
	int srv;
	jv err = jv_invalid();
	seen = jv_array();
	results = jv_array();
	struct irc *c = listening(&srv);
	bot_rate_free(c->bucket);   /* lines enough for the whole test at once */
	c->bucket = bot_rate_new(100, 100);
	CHECK_STR(server_got(srv), "NICK bot\r\nUSER botpipe 0 * :botpipe bot\r\n", "start connects and registers");
	server_says(srv, ":srv NOTICE * :*** Looking up your hostname\r\n:srv 002 bot :Your host\r\n");
	turns(c, 50, &err);
	CHECK(ups == 0 && c->state == ST_REGISTERING, "the TCP connect and other lines are not up yet");
	CHECK(submit_text(c, "#ops", "early") < 0, "bot-listen's connection takes no job before it is up");
	server_says(srv, ":srv 001 bot :Welcome bot!~bp@127.0.0.1\r\n");
	turns(c, 50, &err);
	CHECK(ups == 1 && c->state == ST_UP, "up at 001, once");

	/* a message to a +n channel not joined: 404, JOIN, the lines again */
	CHECK(submit_text(c, "#ops", "hello") == 0, "a message part is accepted");
	turns(c, 50, &err);
	CHECK_STR(server_got(srv), "PRIVMSG #ops :hello\r\nPING :bp1\r\n", "its lines go out, then its PING");
	CHECK(jv_array_length(jv_copy(results)) == 0, "...and it is not answered before the PONG");
	server_says(srv, ":srv 404 bot #ops :Cannot send to channel\r\n:srv PONG srv :bp1\r\n");
	turns(c, 50, &err);
	CHECK_STR(server_got(srv), "JOIN #ops\r\nPING :bp2\r\n", "a 404 from a channel not joined: JOIN");
	server_says(srv, ":bot!~bp@127.0.0.1 JOIN #ops\r\n:srv PONG srv :bp2\r\n");
	turns(c, 50, &err);
	CHECK_STR(server_got(srv), "PRIVMSG #ops :hello\r\nPING :bp3\r\n", "...then the lines again");
	server_says(srv, ":srv PONG srv :bp3\r\n");
	turns(c, 50, &err);
	CHECK(jv_array_length(jv_copy(results)) == 1, "answered once");
	CHECK_STR(result_summary(0), "id string", "...with an id");

	/* two jobs at once: both go out, each gets its own answer */
	CHECK(submit_text(c, "@nobody", "x") == 0 && submit_text(c, "#ops", "y") == 0, "two parts accepted");
	turns(c, 50, &err);
	CHECK_STR(server_got(srv), "PRIVMSG nobody :x\r\nPING :bp4\r\nPRIVMSG #ops :y\r\nPING :bp5\r\n",
	          "the second goes out without waiting for the first's answer");
	server_says(srv, ":srv 401 bot nobody :No such nick\r\n:srv PONG srv :bp4\r\n:srv PONG srv :bp5\r\n");
	turns(c, 50, &err);
	CHECK_STR(result_summary(1), "failed send_failed permanent", "the 401 is the first's");
	CHECK_STR(result_summary(2), "id string", "...not the second's");

	/* the bot's presence: AWAY, answered {"id": null} */
	const char *presence[] = {
		"{\"type\":\"presence\",\"status\":\"away\",\"message\":\"at lunch\"}",
		"{\"type\":\"presence\",\"status\":\"online\",\"identifier\":\"@bot\"}",
		"{\"type\":\"presence\",\"status\":\"away\",\"identifier\":\"@alice\"}",
		"{\"type\":\"presence\",\"status\":\"away\",\"message\":\"x\\r\\nQUIT\"}",
	};
	int accepted[4];
	for (int i = 0; i < 4; i++) {
		struct bot_part part = { .size = sizeof part, .event = jv_parse(presence[i]), .type = "presence" };
		accepted[i] = irc_submit(c, &part, on_done, NULL, &err) == 0;
		jv_free(part.event);
		jv_free(err);
		err = jv_invalid();
	}
	CHECK(accepted[0] && accepted[1], "presence of the bot is accepted (no identifier, or its own)");
	CHECK(!accepted[2], "...someone else's is not");
	CHECK(!accepted[3], "...nor a message with a line break");
	turns(c, 50, &err);
	CHECK_STR(server_got(srv), "AWAY :at lunch\r\nPING :bp6\r\nAWAY\r\nPING :bp7\r\n", "AWAY with the message, AWAY for online");
	server_says(srv, ":srv 306 bot :You have been marked as being away\r\n:srv PONG srv :bp6\r\n"
	                 ":srv 305 bot :You are no longer marked as being away\r\n:srv PONG srv :bp7\r\n");
	turns(c, 50, &err);
	CHECK_STR(result_summary(3), "id null", "answered {\"id\": null}");
	CHECK_STR(result_summary(4), "id null", "...both");

	/* keep-alive: server PINGs answered at once */
	server_says(srv, "PING :keep\r\n");
	turns(c, 50, &err);
	CHECK_STR(server_got(srv), "PONG :keep\r\n", "a PING is answered");

	/* stop: QUIT, and what waits fails for now */
	CHECK(submit_text(c, "#ops", "late") == 0, "a part accepted");
	irc_stop(c);
	CHECK_STR(result_summary(5), "failed connection_lost temporary", "stop fails what waits, for now");
	CHECK(strstr(server_got(srv), "QUIT :botpipe\r\n") != NULL, "stop QUITs");
	CHECK(c->state == ST_IDLE && c->fd < 0, "...and closes");
	close(srv);
	jv_free(err);
	jv_free(results);
	jv_free(seen);
	c->bh = NULL;
	irc_close(c);
}

static void test_denied(void)
{
	int srv;
	jv err = jv_invalid();
	seen = jv_array();
	struct irc *c = listening(&srv);
	server_says(srv, ":srv 464 bot :Password incorrect\r\nERROR :Closing link\r\n");
	close(srv);
	int rc = turns(c, 200, &err);
	char code[64], why[300];
	CHECK(rc == -1, "a 464 ends the connection");
	CHECK_STR(bot_fail_code_of(err, code, sizeof code), "denied", "...as denied");
	CHECK(!bot_fail_temporary(err), "...for good (bot-listen exits 77)");
	CHECK_STR(bot_fail_message(err, why, sizeof why), "the server refused the password: Password incorrect",
	          "...saying why (the 464, not the ERROR after it)");
	CHECK(ups == 0, "never up");
	jv_free(err);
	jv_free(seen);
	c->bh = NULL;
	irc_close(c);
}

static int lag_now;
static int lag(struct bot_host *h)
{
	(void)h;
	return lag_now;
}

static void test_lagging(void)
{
	int srv;
	jv err = jv_invalid();
	seen = jv_array();
	struct irc *c = listening(&srv);
	c->bh->lagging = lag;
	server_says(srv, ":srv 001 bot :Welcome\r\n");
	turns(c, 50, &err);
	server_got(srv);
	lag_now = 1;
	/* a lagging reader: PINGs behind a little chat are still answered */
	char line[100];
	for (int i = 0; i < 2000; i++) {
		snprintf(line, sizeof line, ":al!u@h PRIVMSG #ops :chat %d\r\n", i);
		server_says(srv, line);
	}
	server_says(srv, "PING :behind-chat\r\n");
	/* in slices, until answered: a sanitized build on a busy machine is slow */
	int ponged = 0;
	for (int slice = 0; slice < 100 && !ponged; slice++) {
		turns(c, 100, &err);
		ponged = strstr(server_got(srv), "PONG :behind-chat\r\n") != NULL;
	}
	CHECK(ponged, "while the reader lags, PINGs are answered");
	/* past IRC_LAG_READ_MAX it reads no more */
	int before = jv_array_length(jv_copy(seen));
	char big[1000];
	memset(big, 'x', sizeof big);
	snprintf(big + 900, 100, "\r\n");
	memcpy(big, ":al!u@h PRIVMSG #ops :", 22);
	for (size_t sent = 0; sent < 2 * IRC_LAG_READ_MAX; sent += strlen(big))
		server_says(srv, big);
	server_says(srv, "PING :past-the-bound\r\n");
	/* until reading has paused: no new event over a whole slice */
	int grown = 0, last = before;
	for (int slice = 0; slice < 100; slice++) {
		turns(c, 100, &err);
		int now = jv_array_length(jv_copy(seen));
		if (now == last && grown)
			break;
		grown |= now > last;
		last = now;
	}
	int during = jv_array_length(jv_copy(seen)) - before;
	CHECK(during > 0 && (size_t)during * 900 <= IRC_LAG_READ_MAX + IRC_TURN_BYTES,
	      "...up to IRC_LAG_READ_MAX, then reading pauses");
	CHECK(strstr(server_got(srv), "PONG :past-the-bound") == NULL, "...the PING after waits");
	lag_now = 0;
	turns(c, 500, &err);
	CHECK(strstr(server_got(srv), "PONG :past-the-bound\r\n") != NULL, "once the reader catches up, it is read");
	close(srv);
	jv_free(err);
	jv_free(seen);
	c->bh->lagging = NULL;
	c->bh = NULL;
	irc_close(c);
}

/* bot-send's life: a lazy connection for the first submit, QUIT at idle. */
static void test_lazy(void)
{
	struct irc *c = fresh();
	c->bh = &host;
	jv err = jv_invalid();
	seen = jv_array();
	results = jv_array();
	ups = 0;
	int l = listen_any(&c->port);
	CHECK(irc_idle(c) == 1, "idle with nothing sent: done at once");
	CHECK(submit_text(c, "#ops", "from cron") == 0, "a submit connects lazily");
	int srv = accept_server(l);
	turns(c, 50, &err);
	CHECK_STR(server_got(srv), "NICK bot\r\nUSER botpipe 0 * :botpipe bot\r\n", "registration first");
	server_says(srv, ":srv 001 bot :Welcome\r\n");
	turns(c, 50, &err);
	CHECK(ups == 0, "a lazy connection is not bot-listen's: no up");
	CHECK_STR(server_got(srv), "PRIVMSG #ops :from cron\r\nPING :bp1\r\n", "then the part that waited");
	CHECK(irc_idle(c) == 0, "idle: not before the answer");
	server_says(srv, ":srv PONG srv :bp1\r\n");
	turns(c, 50, &err);
	CHECK_STR(result_summary(0), "id string", "answered");
	CHECK(irc_idle(c) == 0, "idle: QUIT, then wait for the server's close");
	turns(c, 50, &err);
	CHECK_STR(server_got(srv), "QUIT :botpipe\r\n", "the QUIT went out");
	close(srv);
	turns(c, 50, &err);
	CHECK(irc_idle(c) == 1, "the server closed: idle is done");
	jv_free(err);
	jv_free(results);
	jv_free(seen);
	c->bh = NULL;
	irc_close(c);
}

static void test_turns(void)
{
	struct irc *c = fresh();
	c->bh = &host;
	int port, l = listen_any(&port);
	jv err = jv_invalid();
	c->port = port;
	c->listening = 1;
	begin_connect(c, &err);
	int srv = accept_server(l);
	turns(c, 50, &err);
	server_says(srv, ":srv 001 bot :Welcome\r\n");
	turns(c, 50, &err);
	server_got(srv);
	int sent = 0;
	size_t bytes = 0, cap = 4 * IRC_TURN_BYTES;
	char *lines = malloc(cap);
	while (bytes < 3 * IRC_TURN_BYTES)
		bytes += (size_t)snprintf(lines + bytes, cap - bytes, ":al!u@h PRIVMSG #ops :line %d\r\n", sent++);
	lines[bytes] = 0;
	server_says(srv, lines);
	free(lines);
	usleep(100000);
	seen = jv_array();
	pump(c);
	CHECK(!c->dead && c->more, "a turn stops with input left");
	int first = jv_array_length(jv_copy(seen));
	CHECK(first > 0 && first < sent, "...having handled part of it");
	struct bot_poll p = BOT_POLL_INIT;
	irc_prepare(c, &p);
	CHECK(p.deadline >= 0 && p.deadline <= bot_now_ms(), "...and asks to be called again at once");
	bot_poll_free(&p);
	int rounds = 1;
	while (c->more && rounds < 100) {
		pump(c);
		rounds++;
	}
	CHECK(!c->more && rounds >= 3, "the rest comes in further turns");
	CHECK(jv_array_length(jv_copy(seen)) == sent, "...every line once");
	jv_free(err);
	jv_free(seen);
	close(srv);
	c->bh = NULL;
	irc_close(c);
}

/* IRC_QUEUE_MAX lines through the bucket: every one once, in order (the
 * queue is O(1) a line; the jv array it replaced was quadratic). */
static void test_queue_order(void)
{
	int srv;
	jv err = jv_invalid();
	seen = jv_array();
	struct irc *c = listening(&srv);
	server_says(srv, ":srv 001 bot :Welcome\r\n");
	turns(c, 50, &err);
	server_got(srv);
	int n = IRC_QUEUE_MAX;
	for (int i = 0; i < n; i++)
		queue_push(c, jv_string_fmt("PRIVMSG #ops :%d", i), NULL, 0);
	CHECK(c->q_lines == n, "queued");
	size_t got = 0, cap = (size_t)n * 32;
	char *all = malloc(cap);
	for (int round = 0; round < 10000 && (c->q_head || out_pending(c)); round++) {
		bot_rate_free(c->bucket);   /* the test hands out the tokens */
		c->bucket = bot_rate_new(1000, 0.001);
		queue_feed(c);
		out_flush(c);
		ssize_t r;
		while ((r = read(srv, all + got, cap - got)) > 0)
			got += (size_t)r;
	}
	CHECK(c->q_lines == 0 && !c->q_head, "the queue drains");
	int next = 0, in_order = 1;
	for (char *p = all; p < all + got; next++) {
		char want[64];
		int k = snprintf(want, sizeof want, "PRIVMSG #ops :%d\r\n", next);
		if ((size_t)(all + got - p) < (size_t)k || memcmp(p, want, (size_t)k)) {
			in_order = 0;
			break;
		}
		p += k;
	}
	CHECK(in_order && next == n, "every line once, in order");
	free(all);
	jv_free(err);
	jv_free(seen);
	close(srv);
	c->bh = NULL;
	irc_close(c);
}

int main(void)
{
	test_parse();
	test_mask();
	test_identifiers();
	test_lines();
	test_clean();
	test_events();
	test_identity();
	test_base64();
	test_server_setting();
	test_names_bounds();
	test_roundtrip_bounds();
	test_life();
	test_denied();
	test_lagging();
	test_lazy();
	test_turns();
	test_queue_order();
	return unit_done();
}
