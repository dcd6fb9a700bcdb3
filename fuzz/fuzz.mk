# fuzz/fuzz.mk — libFuzzer builds, run from the top directory by `make fuzz`
# (as $(MAKE) -f fuzz/fuzz.mk).
#
#   make -f fuzz/fuzz.mk                 build every fuzz/fuzz_<name>.c into build-fuzz/fuzz_<name>
#   make -f fuzz/fuzz.mk smoke           run each for FUZZ_SECONDS (default 60)
#   make -f fuzz/fuzz.mk smoke FUZZ=sasl only the targets whose name matches (grep -E)
#   make -f fuzz/fuzz.mk build-fuzz/fuzz_base64
#
# Each target names the top-level modules it links with on a line
#   /* deps: sasl util log */
# (as the unit tests do). Those modules are compiled into build-fuzz/ with
# the same sanitizers and -fsanitize=fuzzer-no-link, so libFuzzer sees their
# coverage; only the target itself gets -fsanitize=fuzzer (and main()).
# New fuzz/fuzz_*.c files are picked up by the wildcard, nothing to add here.
#
# smoke seeds from fuzz/corpus/<name>/ (read only), with the dictionary
# fuzz/<name>.dict when there is one, and writes what it finds
# to build-fuzz/corpus/<name>/, so the tracked seed corpus stays small.
# Crashes land in build-fuzz/crash-<name>-*. A dictionary fuzz/<name>.dict,
# when there is one, is passed with -dict=.

CC           := clang
B            := build-fuzz
FUZZ_SECONDS ?= 60
FUZZ         ?= .
SAN          := -fsanitize=address,undefined -fno-sanitize-recover=undefined
BASEFLAGS    := -g -O1 -std=c11 -D_GNU_SOURCE -I. -I/usr/include/bearssl
OBJFLAGS     := $(BASEFLAGS) $(SAN) -fsanitize=fuzzer-no-link -MMD -MP
BINFLAGS     := $(BASEFLAGS) -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
LIBS         := -lldns -lssl -lcrypto -llmdb -lbearssl -lcrypt -lz -ljansson -lunistring -lm -pthread

ifeq ($(V),1)
Q :=
else
Q := @
endif

SRCS  := $(wildcard fuzz/fuzz_*.c)
NAMES := $(SRCS:fuzz/fuzz_%.c=%)
BINS  := $(NAMES:%=$(B)/fuzz_%)

fuzz_deps = $(addprefix $(B)/,$(addsuffix .o,$(shell sed -n 's,^/\* *deps: *\(.*\) *\*/,\1,p' $(1))))

all: $(BINS)

# Keep the module objects between runs (they are only prerequisites).
.SECONDARY:

$(B)/%.o: %.c
	@mkdir -p $(B)
	@echo "  FUZZ-CC $<"
	$(Q)$(CC) $(OBJFLAGS) -c -o $@ $<

.SECONDEXPANSION:
$(B)/fuzz_%: fuzz/fuzz_%.c $$(call fuzz_deps,fuzz/fuzz_%.c)
	@mkdir -p $(B)
	@echo "  FUZZ-LD $@"
	$(Q)$(CC) $(BINFLAGS) -o $@ $< $(call fuzz_deps,$<) $(LIBS)

# Run each target for FUZZ_SECONDS; stop at the first one that finds a crash.
smoke: $(BINS)
	@set -e; for n in $(NAMES); do \
		echo "$$n" | grep -Eq '$(FUZZ)' || continue; \
		mkdir -p $(B)/corpus/$$n fuzz/corpus/$$n; \
		echo "  FUZZ    $$n for $(FUZZ_SECONDS)s"; \
		dict=; [ -f fuzz/$$n.dict ] && dict=-dict=fuzz/$$n.dict; \
		$(B)/fuzz_$$n -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $$dict \
			-artifact_prefix=$(B)/crash-$$n- \
			$(B)/corpus/$$n fuzz/corpus/$$n 2>$(B)/fuzz_$$n.log || \
			{ tail -40 $(B)/fuzz_$$n.log; exit 1; }; \
		grep -E '^(#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units)' \
			$(B)/fuzz_$$n.log | tr '\n' ' '; echo; \
	done

clean:
	rm -rf $(B)

.PHONY: all smoke clean

-include $(wildcard $(B)/*.d)
