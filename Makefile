# botpipe: one non-recursive Makefile.  See README.md.
VERSION   = 0.1.0
PREFIX   ?= /usr/local
BINDIR   ?= $(PREFIX)/bin
LIBDIR   ?= $(PREFIX)/lib
DATADIR  ?= $(PREFIX)/share
MANDIR   ?= $(DATADIR)/man
DESTDIR  ?=
# systemd's units (Debian's packages: /lib/systemd/system), and where
# botpipe-run, the units' pipeline runner, lives.
SYSTEMDUNITDIR ?= $(LIBDIR)/systemd/system
LIBEXECDIR     ?= $(LIBDIR)/botpipe

CC       ?= cc
CFLAGS   ?= -O2 -g
LDFLAGS  ?=

# The build tree: a SANITIZE=1 build lives apart, so plain and sanitized
# objects never mix (an ASan backend cannot load into a plain program).
ifeq ($(SANITIZE),1)
B        ?= build-san
SANFLAGS  = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
else
B        ?= build
SANFLAGS  =
endif

override CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-format-truncation -fPIC -Ilib \
                    -DBOT_VERSION='"$(VERSION)"' -DBOT_LIBDIR='"$(LIBDIR)/botpipe"' \
                    -DBOT_DATADIR='"$(DATADIR)/botpipe"' $(SANFLAGS)
override LDFLAGS += $(SANFLAGS)

# libbot: the model, the codec, rendering, config, the registry, the poll
# loop (lib/*.c).  The HTTP layer, lib/http/ (see doc/HACKING.md), is a
# library of its own, libbothttp, so that only the backends that speak HTTP
# pay for libcurl and OpenSSL at start-up (wslay, like cmark for libbot, is
# opened on first use: lib/libload.c).
HTTP_DIR  = lib/http
HTTP_SRC  = $(HTTP_DIR)/http.c $(HTTP_DIR)/multi.c $(HTTP_DIR)/ratelimit.c \
            $(HTTP_DIR)/http_stream.c $(HTTP_DIR)/ws.c
LIB_SRC   = $(wildcard lib/*.c)
LIB_OBJ   = $(LIB_SRC:%.c=$(B)/obj/%.o)
# The dispatch engine (commands, rules, ACLs, jobs): bot-dispatch's alone,
# a static archive linked into it and into the tests of it.
DISPATCH_DIR = lib/dispatch
DISPATCH_SRC = $(wildcard $(DISPATCH_DIR)/*.c)
DISPATCH_OBJ = $(DISPATCH_SRC:%.c=$(B)/obj/%.o)
DISPATCH_LIB = $(B)/lib/libbotdispatch.a
HTTP_OBJ  = $(HTTP_SRC:%.c=$(B)/obj/%.o)
LIB_LIBS  = -ljq -lonig -lm
HTTP_LIBS = -lcurl -lcrypto
HEADERS   = $(wildcard lib/*.h $(HTTP_DIR)/*.h $(DISPATCH_DIR)/*.h lib/queue/*.h)

CMDS      = $(patsubst cmd/%.c,%,$(wildcard cmd/bot-*.c))
BINS      = $(CMDS:%=$(B)/bin/%)
# text is embedded in every program; every other backend is a module.
BACKENDS  = $(filter-out text,$(patsubst backends/%.c,%,$(wildcard backends/*.c)))
MODULES   = $(BACKENDS:%=$(B)/lib/botpipe/%.so)
UNITS     = $(patsubst test/unit/%.c,$(B)/test/%,$(wildcard test/unit/test-*.c))
MANS      = $(wildcard doc/*.1 doc/*.7)
UNITFILES = $(wildcard share/systemd/*.service share/systemd/*.timer)
# bash and zsh completion, generated from the programs' option tables
# (their --help) and the backends built.
COMPLETION = $(B)/completion/botpipe.bash $(B)/completion/_botpipe

# Extra libraries per backend module: BACKEND_LIBS_<name>.
HTTP_BACKEND = -L$(B)/lib -lbothttp -Wl,-rpath,'$$ORIGIN/..'
BACKEND_LIBS_webhook  = $(HTTP_BACKEND)
BACKEND_LIBS_telegram = $(HTTP_BACKEND)
BACKEND_LIBS_slack    = $(HTTP_BACKEND)
BACKEND_LIBS_matrix   = $(HTTP_BACKEND)
BACKEND_LIBS_zulip    = $(HTTP_BACKEND)
BACKEND_LIBS_mattermost = $(HTTP_BACKEND)
BACKEND_LIBS_discord  = $(HTTP_BACKEND)
BACKEND_LIBS_xmpp     = -lstrophe
BACKEND_LIBS_http     = -lmicrohttpd -lcrypto

RPATH = -Wl,-rpath,'$$ORIGIN/../lib'

# What includes lib/http/http.h: libbothttp itself, the backends that link
# it, and the unit tests of it (which link it too).
HTTP_BACKENDS = webhook telegram slack matrix zulip mattermost discord
HTTP_USERS = $(HTTP_OBJ) $(HTTP_BACKENDS:%=$(B)/obj/backends/%.o)
$(HTTP_USERS): override CFLAGS += -I$(HTTP_DIR)
HTTP_UNITS = $(B)/test/test-http $(B)/test/test-ws
$(HTTP_UNITS): override CFLAGS += -I$(HTTP_DIR)
$(HTTP_UNITS): UNIT_LIBS = -lbothttp -lcurl
$(HTTP_UNITS): $(B)/lib/libbothttp.so

# What includes lib/dispatch/dispatch.h: the engine, bot-dispatch, and
# the unit tests of the engine.
DISPATCH_UNITS = $(patsubst %,$(B)/test/test-%,acl args argv command help history rules)
DISPATCH_USERS = $(DISPATCH_OBJ) $(B)/obj/cmd/bot-dispatch.o
$(DISPATCH_USERS) $(DISPATCH_UNITS): override CFLAGS += -I$(DISPATCH_DIR)
$(DISPATCH_UNITS): UNIT_ARCHIVES = $(DISPATCH_LIB) -lonig
$(DISPATCH_UNITS) $(B)/bin/bot-dispatch: $(DISPATCH_LIB)
$(B)/bin/bot-dispatch: CMD_ARCHIVES = $(DISPATCH_LIB) -lonig

# bot-queue's engine (NATS JetStream): a static archive linked into
# bot-queue alone, the only program that links libnats.
QUEUE_DIR = lib/queue
QUEUE_SRC = $(wildcard $(QUEUE_DIR)/*.c)
QUEUE_OBJ = $(QUEUE_SRC:%.c=$(B)/obj/%.o)
QUEUE_LIB = $(B)/lib/libbotqueue.a
$(QUEUE_OBJ) $(B)/obj/cmd/bot-queue.o: override CFLAGS += -I$(QUEUE_DIR)
$(B)/bin/bot-queue: $(QUEUE_LIB)
$(B)/bin/bot-queue: CMD_ARCHIVES = $(QUEUE_LIB) -lnats -lpthread

.DEFAULT_GOAL := all

# Quiet by default; V=1 shows the commands.
ifeq ($(V),1)
Q =
else
Q = @
endif

all: $(BINS) $(MODULES) $(COMPLETION)

$(B)/obj/%.o: %.c $(HEADERS) Makefile
	@mkdir -p $(@D)
	@[ "$(V)" = 1 ] || echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

$(B)/lib/libbot.so.0: $(LIB_OBJ)
	@mkdir -p $(@D)
	@[ "$(V)" = 1 ] || echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -shared -Wl,-soname,libbot.so.0 -Wl,-z,defs -o $@ $(LIB_OBJ) $(LIB_LIBS)
$(B)/lib/libbot.so: $(B)/lib/libbot.so.0
	$(Q)ln -sf libbot.so.0 $@

$(DISPATCH_LIB): $(DISPATCH_OBJ)
	@mkdir -p $(@D)
	@[ "$(V)" = 1 ] || echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $(DISPATCH_OBJ)

$(QUEUE_LIB): $(QUEUE_OBJ)
	@mkdir -p $(@D)
	@[ "$(V)" = 1 ] || echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $(QUEUE_OBJ)

$(B)/lib/libbothttp.so.0: $(HTTP_OBJ) $(B)/lib/libbot.so
	@mkdir -p $(@D)
	@[ "$(V)" = 1 ] || echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -shared -Wl,-soname,libbothttp.so.0 -Wl,-z,defs -o $@ $(HTTP_OBJ) -L$(B)/lib -lbot $(HTTP_LIBS) -ljq
$(B)/lib/libbothttp.so: $(B)/lib/libbothttp.so.0
	$(Q)ln -sf libbothttp.so.0 $@

$(B)/bin/%: $(B)/obj/cmd/%.o $(B)/obj/backends/text.o $(B)/lib/libbot.so
	@mkdir -p $(@D)
	@[ "$(V)" = 1 ] || echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(B)/obj/backends/text.o $(CMD_ARCHIVES) -L$(B)/lib -lbot -ljq $(RPATH)

$(B)/lib/botpipe/%.so: $(B)/obj/backends/%.o $(B)/lib/libbot.so $(B)/lib/libbothttp.so
	@mkdir -p $(@D)
	@[ "$(V)" = 1 ] || echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -shared -Wl,-z,defs -o $@ $< -L$(B)/lib -lbot -ljq $(BACKEND_LIBS_$*) -Wl,-rpath,'$$ORIGIN/..'

$(B)/test/%: test/unit/%.c $(wildcard test/unit/*.h) $(HEADERS) $(B)/obj/backends/text.o $(B)/lib/libbot.so
	@mkdir -p $(@D)
	@[ "$(V)" = 1 ] || echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -Itest/unit -o $@ $< $(B)/obj/backends/text.o $(UNIT_ARCHIVES) -L$(B)/lib $(UNIT_LIBS) -lbot -ljq -lcmark-gfm-extensions -lcmark-gfm -Wl,-rpath,'$$ORIGIN/../lib'

# Test backends, test/backends/*.c: modules the suites load with
# BOT_BACKEND_PATH=$(B)/test/backends (doc/HACKING.md); never installed.
TEST_MODULES = $(patsubst test/backends/%.c,$(B)/test/backends/%.so,$(wildcard test/backends/*.c))
$(B)/test/backends/%.so: $(B)/obj/test/backends/%.o $(B)/lib/libbot.so
	@mkdir -p $(@D)
	@[ "$(V)" = 1 ] || echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -shared -Wl,-z,defs -o $@ $< -L$(B)/lib -lbot -ljq -Wl,-rpath,'$$ORIGIN/../../lib'
$(B)/obj/test/backends/bare.o: test/backends/scripted.c

$(B)/completion/botpipe.bash: share/completion/gen.sh share/completion/botpipe.bash $(BINS) $(MODULES)
	@mkdir -p $(@D)
	@[ "$(V)" = 1 ] || echo "  GEN     $@"
	$(Q)sh share/completion/gen.sh bash $(B) > $@.tmp && mv $@.tmp $@
$(B)/completion/_botpipe: share/completion/gen.sh share/completion/botpipe.zsh $(BINS) $(MODULES)
	@mkdir -p $(@D)
	@[ "$(V)" = 1 ] || echo "  GEN     $@"
	$(Q)sh share/completion/gen.sh zsh $(B) > $@.tmp && mv $@.tmp $@

# Debian packages every target needs; installed only when missing.
deps:
	@sh test/deps.sh

check: deps all $(UNITS) $(TEST_MODULES)
	@B=$(B) SANITIZE=$(SANITIZE) VALGRIND=$(VALGRIND) sh test/run.sh $(TESTS)

demo: deps all
	@B=$(B) sh share/demo.sh

bench: deps all
	@B=$(B) sh bench/run.sh

FUZZ_SECONDS ?= 60
fuzz: deps
	@B=$(B) FUZZ_SECONDS=$(FUZZ_SECONDS) sh test/fuzz/run.sh

# What install puts where; uninstall removes exactly these, then the
# folders of botpipe's own that are left empty.
# share/ but its completion and systemd folders, which install elsewhere
# (generated, or with their paths put in)
SHARE     = $(shell find share -type f ! -path 'share/completion/*' ! -path 'share/systemd/*')
INSTALLED = $(CMDS:%=$(BINDIR)/%) $(LIBDIR)/libbot.so.0 $(LIBDIR)/libbothttp.so.0 \
            $(BACKENDS:%=$(LIBDIR)/botpipe/%.so) $(SHARE:share/%=$(DATADIR)/botpipe/%) \
            $(foreach m,$(MANS),$(MANDIR)/man$(subst .,,$(suffix $(m)))/$(notdir $(m))) \
            $(UNITFILES:share/systemd/%=$(SYSTEMDUNITDIR)/%) $(LIBEXECDIR)/botpipe-run \
            $(CMDS:%=$(DATADIR)/bash-completion/completions/%) $(DATADIR)/zsh/vendor-completions/_botpipe

install: all
	mkdir -p $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/botpipe $(DESTDIR)$(DATADIR)/botpipe \
	         $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man7
	cp $(BINS) $(DESTDIR)$(BINDIR)/
	cp $(B)/lib/libbot.so.0 $(B)/lib/libbothttp.so.0 $(DESTDIR)$(LIBDIR)/
	cp $(MODULES) $(DESTDIR)$(LIBDIR)/botpipe/
	cp -R share/. $(DESTDIR)$(DATADIR)/botpipe/
	rm -rf $(DESTDIR)$(DATADIR)/botpipe/completion $(DESTDIR)$(DATADIR)/botpipe/systemd
	for m in $(MANS); do s=$${m##*.}; cp $$m $(DESTDIR)$(MANDIR)/man$$s/; done
	mkdir -p $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(LIBEXECDIR)
	for u in $(UNITFILES); do sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@LIBEXECDIR@|$(LIBEXECDIR)|g' \
		$$u > $(DESTDIR)$(SYSTEMDUNITDIR)/$${u##*/}; done
	cp share/systemd/botpipe-run $(DESTDIR)$(LIBEXECDIR)/
	mkdir -p $(DESTDIR)$(DATADIR)/bash-completion/completions $(DESTDIR)$(DATADIR)/zsh/vendor-completions
	for p in $(CMDS); do cp $(B)/completion/botpipe.bash $(DESTDIR)$(DATADIR)/bash-completion/completions/$$p; done
	cp $(B)/completion/_botpipe $(DESTDIR)$(DATADIR)/zsh/vendor-completions/

uninstall:
	rm -f $(INSTALLED:%=$(DESTDIR)%)
	for d in $(DESTDIR)$(DATADIR)/botpipe $(DESTDIR)$(LIBDIR)/botpipe; do \
		[ ! -d $$d ] || find $$d -depth -type d -empty -delete; done

clean:
	rm -rf build build-san

.PHONY: all deps check demo bench fuzz install uninstall clean
.SECONDARY:
