# trustfix - GNU Makefile.
#
#   make                 build ./trustfix
#   make check           install missing packages, build, run every test
#   make asan            the whole suite under AddressSanitizer + UBSan
#   make demo            build a demo appliance and remediate it
#   make fuzz            run the fuzz targets for a bounded time
#   make bench           run the benchmarks (ratios against peers)
#   make bundles         build the IdenTrust remediation bundle (development signer)
#   make install PREFIX=/usr/local DESTDIR=
#   make format-check    check the formatting with clang-format

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DATADIR ?= $(PREFIX)/share/trustfix

CC ?= cc
BUILD ?= build
PKGS := openssl libcurl libarchive libgit2 jansson inih

ifeq ($(filter deps demo check asan clean format format-check,$(MAKECMDGOALS)),)
PKG_OK := $(shell pkg-config --exists $(PKGS) && echo yes)
ifneq ($(PKG_OK),yes)
$(error missing development packages ($(PKGS)): run scripts/install-deps)
endif
endif

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
INIH_VERSION := $(shell pkg-config --modversion inih 2>/dev/null)

CFLAGS ?= -O2 -g
HARDEN_CFLAGS ?= -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fstack-clash-protection \
	-fcf-protection -fPIE
HARDEN_LDFLAGS ?= -pie -Wl,-z,relro,-z,now -Wl,-z,noexecstack
WARN := -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wmissing-prototypes \
	-Wstrict-prototypes -Wvla
ALL_CFLAGS = -std=c11 $(WARN) $(HARDEN_CFLAGS) $(CFLAGS) $(PKG_CFLAGS) \
	-D_GNU_SOURCE -DTF_INIH_VERSION='"$(INIH_VERSION)"' -MMD -MP
ALL_LDFLAGS = $(HARDEN_LDFLAGS) $(LDFLAGS)
LIBS := $(PKG_LIBS) -lpthread

LIB_SRC := $(wildcard core/*.c truststore/*.c renew/*.c bundles/*.c hooks/*.c audit/*.c txn/*.c) $(filter-out cli/main.c,$(wildcard cli/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/default_policy.o
LIB := $(BUILD)/libtrustfix.a
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TOOL_SRC := $(wildcard tests/tools/*.c)
TOOL_BIN := $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tools/%)
CLI_TESTS := $(sort $(wildcard tests/cli/t*.sh)) tests/crash/crashtest.sh
TRUSTFIX_BIN ?= trustfix

.PHONY: all deps check check-run crashtest asan demo fuzz bench bundles install format format-check clean
.DEFAULT_GOAL := all

all: $(TRUSTFIX_BIN)

$(TRUSTFIX_BIN): $(BUILD)/cli/main.o $(LIB)
	$(CC) $(ALL_LDFLAGS) $(CFLAGS) -o $@ $^ $(LIBS)

$(LIB): $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/gen/default_policy.c: truststore/default-policy.json scripts/embed
	@mkdir -p $(dir $@)
	scripts/embed $< tf_default_policy > $@

$(BUILD)/gen/default_policy.o: $(BUILD)/gen/default_policy.c
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -I. -o $@ $< $(LIB) $(LIBS) -lcmocka

$(BUILD)/tools/%: tests/tools/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -I. -o $@ $< $(LIB) $(LIBS)

deps:
	@scripts/install-deps -q

# The test suite: unit tests (cmocka, TAP) and the real binary (shell, TAP),
# one summary from prove.
check: deps
	@$(MAKE) --no-print-directory check-run

check-run: $(TRUSTFIX_BIN) $(UNIT_BIN) $(TOOL_BIN)
	CMOCKA_MESSAGE_OUTPUT=TAP TRUSTFIX=$(abspath $(TRUSTFIX_BIN)) \
	TF_TOOLS=$(abspath $(BUILD)/tools) TF_SRC=$(CURDIR) \
	prove --source Executable -j2 $(UNIT_BIN:%=./%) $(CLI_TESTS:%=./%)

# Kill trustfix at every write step and check the stores and the audit log.
crashtest: $(TRUSTFIX_BIN)
	TRUSTFIX=$(abspath $(TRUSTFIX_BIN)) TF_SRC=$(CURDIR) tests/crash/crashtest.sh

ASAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan TRUSTFIX_BIN=build-asan/trustfix \
		CFLAGS="$(ASAN_FLAGS)" HARDEN_CFLAGS=-fPIE LDFLAGS="$(ASAN_FLAGS)" \
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 check-run

demo: deps
	@$(MAKE) --no-print-directory all $(BUILD)/tools/est-server
	@TF_TOOLS=$(abspath $(BUILD)/tools) scripts/demo $(abspath $(TRUSTFIX_BIN))

FUZZ_TARGETS := $(patsubst fuzz/%.c,build-fuzz/%,$(wildcard fuzz/fuzz_*.c))
FUZZ_SECONDS ?= 60
FUZZ_FLAGS := -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer

# Relinked on every run (the library incrementally rebuilt first), so that a
# change to the library is never fuzzed with a stale binary.
build-fuzz/%: fuzz/%.c FORCE
	@$(MAKE) --no-print-directory BUILD=build-fuzz CC=clang CFLAGS="$(FUZZ_FLAGS)" \
		HARDEN_CFLAGS=-fPIE build-fuzz/libtrustfix.a
	clang $(FUZZ_FLAGS) -fsanitize=fuzzer -std=c11 -D_GNU_SOURCE $(PKG_CFLAGS) -I. -o $@ $< \
		build-fuzz/libtrustfix.a $(LIBS)

FORCE:

# Every target runs; a crash in any fails the run (logs in build-fuzz/<target>.log).
fuzz: $(FUZZ_TARGETS)
	@failed=; for t in $(FUZZ_TARGETS); do \
		n=$$(basename $$t); mkdir -p build-fuzz/corpus/$$n; \
		echo "fuzz: $$n for $(FUZZ_SECONDS)s"; \
		$$t -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -artifact_prefix=build-fuzz/ \
			build-fuzz/corpus/$$n fuzz/corpus/$$n >build-fuzz/$$n.log 2>&1 || failed="$$failed $$n"; \
		tail -n 3 build-fuzz/$$n.log; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: failed:$$failed (see build-fuzz/*.log)"; exit 1; fi

bench: $(TRUSTFIX_BIN) $(TOOL_BIN)
	for b in bench/inspect bench/audit bench/est; do TRUSTFIX=$(abspath $(TRUSTFIX_BIN)) TF_TOOLS=$(abspath $(BUILD)/tools) $$b || exit 1; done

# The real remediation bundle, signed by a development signer generated once
# into $(BUILD)/bundles/dev-signer/ (never committed); its certificate is
# $(BUILD)/bundles/dev-signers.pem.
bundles: $(TRUSTFIX_BIN)
	bundles/identrust-commercial-root-ca-1/build.sh $(abspath $(TRUSTFIX_BIN)) $(BUILD)/bundles

install: $(TRUSTFIX_BIN)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(DATADIR)
	install -m 0755 $(TRUSTFIX_BIN) $(DESTDIR)$(BINDIR)/trustfix
	install -m 0644 docs/trustfix.1 $(DESTDIR)$(MANDIR)/man1/trustfix.1
	install -m 0644 truststore/default-policy.json $(DESTDIR)$(DATADIR)/default-policy.json
	install -d $(DESTDIR)$(DATADIR)/examples
	install -m 0755 hooks/examples/restart-systemd-unit hooks/examples/sighup-pidfile \
		hooks/examples/restart-service $(DESTDIR)$(DATADIR)/examples/

FORMAT_SRC = $(wildcard */*.c */*.h tests/*/*.c)

format:
	clang-format -i $(FORMAT_SRC)

format-check:
	clang-format --dry-run --Werror $(FORMAT_SRC)

clean:
	rm -rf build build-asan build-fuzz trustfix

-include $(LIB_OBJ:.o=.d) $(BUILD)/cli/main.d $(TOOL_BIN:=.d)
