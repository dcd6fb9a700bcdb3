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
TB := build/tray

ifeq ($(V),1)
Q :=
else
Q := @
endif

all: tray/brev-tray tray/test_msgparse

tray/brev-tray: $(TB)/brev-tray.o $(TB)/imapc.o $(TB)/msgparse.o
	@echo "  LD      $@"
	$(Q)$(CC) -o $@ $^ $(TRAY_LIBS)

tray/test_msgparse: $(TB)/test_msgparse.o $(TB)/msgparse.o
	@echo "  LD      $@"
	$(Q)$(CC) -o $@ $^ $(shell pkg-config --libs glib-2.0)

$(TB)/%.o: tray/%.c tray/tray.h
	@mkdir -p $(TB)
	@echo "  CC      $<"
	$(Q)$(CC) $(TRAY_CFLAGS) -c -o $@ $<

.PHONY: all
-include $(wildcard $(TB)/*.d)
