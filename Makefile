# brev — plain GNU make.
#   make                 static ./brev
#   make test            unit + end-to-end tests on ./brev and on ./brev-san (ASan+UBSan),
#                        then the fuzz targets; last line "N passed, N failed, N skipped"
#                        (CI=true: a skipped test fails the run)
#   make asan            = make SANITIZE=address,undefined test: the ./brev-san pass only
#   make run             install missing Debian packages, build, serve with defaults;
#                        ARGS='-d DIR -o KEY=VALUE ...' passes options to brev
#   make fuzz            libFuzzer targets (clang)
#   make tray            tray/brev-tray, the desktop notifier (dynamic: GTK, libnotify)
#   make fuzz-smoke      each fuzz target for FUZZ_SECONDS (60)
#   make bench           brev vs Postfix+Dovecot (root), bench/results/latest.md
#   make soak            the fault tests (t-9*) at full scale
#   make CROSS=aarch64-linux-gnu   static ./brev-aarch64-linux-gnu for a Pi (also arm-linux-gnueabihf)
#   make install / make deb        the binary, systemd unit, man pages; a Debian package
# V=1 shows full command lines.

CC       ?= gcc
SANITIZE ?=
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
            -I. -I/usr/include/bearssl -MMD -MP
LIBS      = -lldns -lssl -lcrypto -llmdb -lbearssl -lcrypt -lz -ljansson -lunistring -lm -pthread

ifeq ($(SANITIZE),)
B        := build
BREV     := brev
LDSTATIC := -static
else
B        := build-san
BREV     := brev-san
CFLAGS   += -O1 -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS  += -fsanitize=$(SANITIZE)
LDSTATIC :=
endif

# make CROSS=aarch64-linux-gnu (or arm-linux-gnueabihf): a static brev for
# a Raspberry Pi, ./brev-$(CROSS), built in build-$(CROSS) with Debian's
# cross compiler and the :arm64 / :armhf -dev packages (tools/deps.sh cross).
CROSS ?=
ifneq ($(CROSS),)
CC       := $(CROSS)-gcc
B        := build-$(CROSS)
BREV     := brev-$(CROSS)
endif

ifeq ($(V),1)
Q :=
else
Q := @
endif

SRCS := $(filter-out main.c,$(wildcard *.c))
OBJS := $(SRCS:%.c=$(B)/%.o) $(B)/http_assets_data.o

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(B)/tests/%)

all: $(BREV)

# The static link's known NSS warnings (libcrypto, ldns) are summed up in
# one line by tools/link-quiet.sh; any other linker message shows as usual.
# V=1 shows them all.
ifeq ($(V),1)
LINK_QUIET :=
else
LINK_QUIET := tools/link-quiet.sh
endif

$(BREV): $(B)/main.o $(OBJS)
	@echo "  LD      $@"
	$(Q)$(LINK_QUIET) $(CC) $(LDFLAGS) $(LDSTATIC) -o $@ $^ $(LIBS)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

# The web UI (web/, docs/web.md): npm ci from the lock file when it
# changed, then tsc checks the types (esbuild only strips them) and esbuild bundles web/src into web/dist/app.js when a source
# did (web/build.mjs prints the gzip size against the 200 KB budget). Not
# committed: a clean clone builds it.
WEB_SRCS := $(wildcard web/src/*) web/build.mjs web/package.json
web/node_modules/.stamp: web/package.json web/package-lock.json
	@echo "  NPM     ci (web/package-lock.json)"
	$(Q)cd web && npm ci --no-audit --no-fund --loglevel=error
	$(Q)touch $@

web/dist/app.js: web/node_modules/.stamp $(WEB_SRCS) web/tsconfig.json $(wildcard web/static/*)
	@echo "  TSC     web/src (type check)"
	$(Q)cd web && node_modules/.bin/tsc -p .
	@echo "  ESBUILD web/src -> web/dist/app.js"
	$(Q)cd web && node build.mjs dist

# The web assets (web/static/ and the bundle) compiled in, with their
# content hashes (tools/embed-assets.sh, http_assets.h).
$(B)/http_assets_data.c: tools/embed-assets.sh $(wildcard web/static/*) web/dist/app.js
	@mkdir -p $(B)
	@echo "  EMBED   web/static web/dist"
	$(Q)rm -rf $(B)/webroot && mkdir -p $(B)/webroot && cp web/static/* web/dist/app.js $(B)/webroot/
	$(Q)tools/embed-assets.sh $(B)/webroot $@

$(B)/http_assets_data.o: $(B)/http_assets_data.c
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

# Each unit test names the modules it links with on a line
#   /* deps: config log util */
# so hidden coupling between modules fails to link.
unit_deps = $(addprefix $(B)/,$(addsuffix .o,$(shell sed -n 's,^/\* *deps: *\(.*\) *\*/,\1,p' $(1))))

.SECONDEXPANSION:
$(B)/tests/%: tests/unit/%.c tests/unit/harness.h $$(call unit_deps,tests/unit/%.c)
	@mkdir -p $(dir $@)
	@echo "  TEST-LD $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(call unit_deps,$<) $(LIBS)

unit: $(UNIT_BINS)

# The whole suite runs on both builds: the release build (what users run)
# and the sanitizer build (where memory errors and undefined behaviour
# show). tests/run.sh runs them side by side (JOBS at a time) and fails a
# test on any sanitizer report. With SANITIZE set only that build is tested.
ifeq ($(SANITIZE),)
test:
	@tools/deps.sh test
	@$(MAKE) --no-print-directory $(BREV) unit tray
	@$(MAKE) --no-print-directory SANITIZE=address,undefined brev-san unit tray
	@PASSES="rel san" tests/run.sh
else
test:
	@tools/deps.sh test
	@$(MAKE) --no-print-directory $(BREV) unit tray
	@PASSES=san tests/run.sh
endif

asan:
	@$(MAKE) --no-print-directory SANITIZE=address,undefined test

# make run ARGS='-o listen.imap=127.0.0.1:1143': options for brev (global
# ones such as -d and -o), placed before `serve`. As root, brev serves only
# after dropping to an unprivileged user (the `user` key, else `brev`); with
# no `brev` user, `make run` names nobody.
RUN_USER = $(shell [ "$$(id -u)" = 0 ] && ! grep -q '^brev:' /etc/passwd && echo '-o user=nobody')
run:
	@tools/deps.sh install
	@$(MAKE) --no-print-directory $(BREV)
	./$(BREV) $(RUN_USER) $(ARGS) serve

FUZZ_SRCS := $(wildcard fuzz/fuzz_*.c)
fuzz:
	@$(MAKE) --no-print-directory -f fuzz/fuzz.mk

# Benchmarks against Postfix+Dovecot (root; installs them): bench/run.sh.
bench:
	@bench/run.sh

# The fault tests (tests/e2e/t-9*) at full scale.
soak:
	@$(MAKE) --no-print-directory $(BREV)
	@SOAK=1 JOBS=1 ONLY='^t-9' BREV=$(CURDIR)/$(BREV) tests/run.sh

# Every fuzz target for FUZZ_SECONDS each (default 60), one after another;
# `make test` runs the same smoke, two targets at a time.
fuzz-smoke:
	@$(MAKE) --no-print-directory -f fuzz/fuzz.mk smoke

tray:
	@$(MAKE) --no-print-directory -f tray/tray.mk

# make install [PREFIX=/usr] [DESTDIR=staging root]: the static binary, the
# systemd unit (dist/brev.service, which expects /usr/sbin/brev: use the
# default PREFIX with it), the man pages and the documentation.
# docs/install.md.
PREFIX ?= /usr
DESTDIR ?=
# brev(8) and brev.conf(5), made from README.md (tools/mkman.sh).
man: build/man/brev.8 build/man/brev.conf.5
build/man/brev.8 build/man/brev.conf.5 &: README.md tools/mkman.sh main.c
	@tools/mkman.sh build/man

INSTALL_STRIP ?=
install: $(BREV) man
	install -D -m 0755 $(INSTALL_STRIP) $(BREV) $(DESTDIR)$(PREFIX)/sbin/brev
	install -D -m 0644 build/man/brev.8 $(DESTDIR)$(PREFIX)/share/man/man8/brev.8
	install -D -m 0644 build/man/brev.conf.5 $(DESTDIR)$(PREFIX)/share/man/man5/brev.conf.5
	install -D -m 0644 dist/brev.service $(DESTDIR)$(PREFIX)/lib/systemd/system/brev.service
	install -D -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/brev/README.md
	install -d -m 0755 $(DESTDIR)$(PREFIX)/share/doc/brev/docs
	install -m 0644 docs/*.md $(DESTDIR)$(PREFIX)/share/doc/brev/docs/

# make deb: build/brev_VERSION_ARCH.deb with dpkg-deb from a make install
# into a staging root (binary stripped), and dist/deb's control file and
# maintainer scripts.
DEB_VERSION = $(shell sed -n 's/^\#define BREV_VERSION "\(.*\)"/\1/p' main.c)
DEB_ARCH = $(shell dpkg --print-architecture)
deb: $(BREV) man
	rm -rf build/deb && mkdir -p build/deb/root/DEBIAN
	$(MAKE) --no-print-directory install DESTDIR=$(CURDIR)/build/deb/root PREFIX=/usr INSTALL_STRIP=-s
	sed -e 's/@VERSION@/$(DEB_VERSION)/' -e 's/@ARCH@/$(DEB_ARCH)/' \
	    -e "s/@SIZE@/$$(du -sk build/deb/root/usr | cut -f1)/" dist/deb/control.in >build/deb/root/DEBIAN/control
	install -m 0755 dist/deb/postinst dist/deb/prerm dist/deb/postrm build/deb/root/DEBIAN/
	dpkg-deb --root-owner-group --build build/deb/root build/brev_$(DEB_VERSION)_$(DEB_ARCH).deb

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/sbin/brev $(DESTDIR)$(PREFIX)/lib/systemd/system/brev.service
	rm -f $(DESTDIR)$(PREFIX)/share/man/man8/brev.8 $(DESTDIR)$(PREFIX)/share/man/man5/brev.conf.5
	rm -rf $(DESTDIR)$(PREFIX)/share/doc/brev

clean:
	rm -rf build build-san build-fuzz brev brev-san web/dist web/node_modules tray/brev-tray tray/test_msgparse \
	       build-aarch64-linux-gnu build-arm-linux-gnueabihf brev-aarch64-linux-gnu brev-arm-linux-gnueabihf

format:
	clang-format -i *.c *.h tests/unit/*.c tests/unit/*.h

.PHONY: all unit test asan run fuzz tray clean format bench soak fuzz-smoke install uninstall man deb

-include $(wildcard $(B)/*.d $(B)/tests/*.d)
