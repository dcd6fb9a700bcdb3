# tray/tray.mk — brev-tray, the desktop notifier (issue 8). Called by the top
# Makefile's `make tray`. Unlike ./brev it is linked dynamically: libnotify,
# GLib/GTK and libayatana-appindicator ship no static libraries, and a tray
# icon only makes sense inside a desktop session that has them anyway.
#   tray/brev-tray         the program
#   tray/test_msgparse     unit test of the pure text helpers (run by t-60)
CC      ?= gcc
TRAY_PKGS := gtk+-3.0 libnotify ayatana-appindicator3-0.1 libsecret-1 libssl libcrypto
TRAY_CFLAGS := -O2 -g -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
               -MMD -MP $(shell pkg-config --cflags $(TRAY_PKGS))
TRAY_LIBS   := $(shell pkg-config --libs $(TRAY_PKGS)) -pthread
ifneq ($(shell pkg-config --exists $(TRAY_PKGS) && echo yes),yes)
$(error brev-tray needs the development packages of: $(TRAY_PKGS); run tools/deps.sh tray)
endif
SANITIZE ?=

ifeq ($(SANITIZE),)
TB  := build/tray
OUT := tray
else
# make -f tray/tray.mk SANITIZE=address,undefined: build-san/tray/brev-tray
# and build-san/tray/test_msgparse; run the e2e tests on it with
# TRAY_BIN=$PWD/build-san/tray/brev-tray.
TB  := build-san/tray
OUT := build-san/tray
TRAY_CFLAGS += -O1 -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
TRAY_LIBS   += -fsanitize=$(SANITIZE)
endif

ifeq ($(V),1)
Q :=
else
Q := @
endif

all: $(OUT)/brev-tray $(OUT)/test_msgparse

$(OUT)/brev-tray: $(TB)/brev-tray.o $(TB)/imapc.o $(TB)/msgparse.o
	@echo "  LD      $@"
	$(Q)$(CC) -o $@ $^ $(TRAY_LIBS)

$(OUT)/test_msgparse: $(TB)/test_msgparse.o $(TB)/msgparse.o
	@echo "  LD      $@"
	$(Q)$(CC) -o $@ $^ $(TRAY_LIBS)

$(TB)/%.o: tray/%.c
	@mkdir -p $(TB)
	@echo "  CC      $<"
	$(Q)$(CC) $(TRAY_CFLAGS) -c -o $@ $<

.PHONY: all
-include $(wildcard $(TB)/*.d)
