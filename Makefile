# Makefile: builds ukeygate's programs, libraries, tests and fuzz targets into build/.
#
#   make              programs and libraries (build/bin, build/lib)
#   make check        installs missing packages, builds, runs every test
#   make asan         every test again, built with AddressSanitizer + UBSan in build/asan
#   make fuzz         libFuzzer targets (clang) in build/fuzz
#   make format-check clang-format over every C file
#   make bench        benchmarks (not part of check)

BUILD ?= build
CC ?= cc
ifeq ($(origin CC),default)
CC := cc
endif

PG_INC := $(shell pg_config --includedir 2>/dev/null || echo /usr/include/postgresql)

WARN := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes \
	-Wmissing-prototypes -Wimplicit-fallthrough
HARDEN ?= -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIE
OPT ?= -O2 -g
UK_CFLAGS = -std=c11 $(OPT) $(WARN) $(HARDEN) -D_GNU_SOURCE -I. -I$(PG_INC) \
	-I/usr/include/p11-kit-1 -I/usr/include/PCSC \
	$(EXTRA_CFLAGS)
UK_LDFLAGS = -pie -Wl,-z,relro,-z,now $(EXTRA_LDFLAGS)
LIBS := -lssl -lcrypto -ljansson -lsqlite3 -lpq -lmicrohttpd -lcurl -lp11 \
	-lpcsclite -largon2 -lqrencode -lpng -ldl -lpthread -lm

# Sources. A program's entry files are named after it (certs/ukey_ca*.c);
# everything else in a folder is that folder's library.
COMMON_SRC := $(wildcard common/*.c)
CERTS_SRC := $(filter-out certs/ukey_ca%.c,$(wildcard certs/*.c))
CA_PROG_SRC := $(wildcard certs/ukey_ca*.c)
P11_SRC := $(filter-out pkcs11/ukey_sim%.c,$(wildcard pkcs11/*.c))
SIM_SRC := $(wildcard pkcs11/ukey_sim*.c)
AGENT_SRC := $(filter-out agent/ukey_agent%.c,$(wildcard agent/*.c))
AGENT_PROG_SRC := $(wildcard agent/ukey_agent*.c)
GW_SRC := $(filter-out gateway/ukey_gateway%.c,$(wildcard gateway/*.c))
GW_PROG_SRC := $(wildcard gateway/ukey_gateway*.c)
TOOLS_SRC := $(wildcard tests/tools/*.c)
TESTLIB_SRC := $(wildcard tests/lib/*.c)
UNIT_SRC := $(wildcard tests/unit/*/test_*.c)
CONF_SRC := $(wildcard tests/conformance/*.c)
BENCH_SRC := $(wildcard tests/bench/*.c)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

LIB_COMMON := $(BUILD)/lib/libukcommon.a
LIB_CERTS := $(BUILD)/lib/libukcerts.a
LIB_P11 := $(BUILD)/lib/libukp11.a
LIB_AGENT := $(BUILD)/lib/libukagent.a
LIB_GW := $(BUILD)/lib/libukgw.a
LIB_TEST := $(BUILD)/lib/libuktest.a
PROJECT_LIBS := $(if $(GW_SRC),$(LIB_GW)) $(LIB_AGENT) $(LIB_CERTS) $(LIB_P11) \
	$(LIB_COMMON)

PROGRAMS := $(BUILD)/bin/ukey-ca $(if $(SIM_SRC),$(BUILD)/lib/ukey-sim.so) \
	$(if $(AGENT_PROG_SRC),$(BUILD)/bin/ukey-agent) \
	$(if $(GW_PROG_SRC),$(BUILD)/bin/ukey-gateway)
UNIT_BIN := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRC))
CONF_BIN := $(patsubst tests/conformance/%.c,$(BUILD)/tests/conformance/%,$(CONF_SRC))
BENCH_BIN := $(patsubst tests/bench/%.c,$(BUILD)/tests/bench/%,$(BENCH_SRC))
REPLAY_BIN := $(patsubst tests/fuzz/%.c,$(BUILD)/tests/fuzz/%,$(FUZZ_SRC))
FUZZ_BIN := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))
TOOLS_BIN := $(patsubst tests/tools/%.c,$(BUILD)/tests/tools/%,$(TOOLS_SRC))
HALL_BIN := $(BUILD)/examples/hall
# The browser tests' Node packages (package-lock.json); npm ci writes the
# stamp last.
NODE_STAMP := node_modules/.package-lock.json

.PHONY: all check test-bins asan fuzz format format-check clean deps bench demo \
	node-modules

# Objects of tests, tools and fuzz targets are intermediate to make; keep
# them, so that an unchanged test is not compiled again.
.SECONDARY:

all: $(PROGRAMS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(UK_CFLAGS) -MMD -MP -c $< -o $@

$(LIB_COMMON): $(call obj,$(COMMON_SRC))
$(LIB_CERTS): $(call obj,$(CERTS_SRC))
$(LIB_P11): $(call obj,$(P11_SRC))
$(LIB_AGENT): $(call obj,$(AGENT_SRC))
$(LIB_GW): $(call obj,$(GW_SRC))
$(LIB_TEST): $(call obj,$(TESTLIB_SRC))
$(BUILD)/lib/%.a:
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

# ukey-sim is a PKCS#11 module loaded by programs we did not build (pkcs11-tool):
# position-independent, never sanitized (a sanitizer runtime must come first
# in the process that loads it), whatever OPT says.
SIM_CFLAGS = -std=c11 -O2 -g $(WARN) -fstack-protector-strong -D_FORTIFY_SOURCE=2 \
	-D_GNU_SOURCE -I. -I/usr/include/p11-kit-1 -fPIC -fvisibility=hidden
$(BUILD)/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(SIM_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/lib/ukey-sim.so: $(patsubst %.c,$(BUILD)/pic/%.o,$(SIM_SRC))
	@mkdir -p $(dir $@)
	$(CC) -shared -Wl,-z,relro,-z,now -Wl,--no-undefined -o $@ $^ -lcrypto -lpthread -ldl

$(BUILD)/bin/ukey-agent: $(call obj,$(AGENT_PROG_SRC)) $(PROJECT_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(UK_LDFLAGS) -o $@ $(call obj,$(AGENT_PROG_SRC)) $(PROJECT_LIBS) $(LIBS)

$(BUILD)/bin/ukey-gateway: $(call obj,$(GW_PROG_SRC)) $(PROJECT_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(UK_LDFLAGS) -o $@ $(call obj,$(GW_PROG_SRC)) $(PROJECT_LIBS) $(LIBS)

# Stand-ins for other parties (an upstream, a WeChat or SMS server): one
# C file each, linked like a test.
$(BUILD)/tests/tools/%: $(BUILD)/obj/tests/tools/%.o $(LIB_TEST) $(PROJECT_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(UK_LDFLAGS) -o $@ $< $(LIB_TEST) $(PROJECT_LIBS) $(LIBS)

# The demo business module (make demo, the browser tests).
$(HALL_BIN): $(BUILD)/obj/examples/hall/hall.o $(PROJECT_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(UK_LDFLAGS) -o $@ $< $(PROJECT_LIBS) $(LIBS)

$(BUILD)/bin/ukey-ca: $(call obj,$(CA_PROG_SRC)) $(PROJECT_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(UK_LDFLAGS) -o $@ $(call obj,$(CA_PROG_SRC)) $(PROJECT_LIBS) $(LIBS)

$(BUILD)/tests/unit/%: $(BUILD)/obj/tests/unit/%.o $(LIB_TEST) $(PROJECT_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(UK_LDFLAGS) -o $@ $< $(LIB_TEST) $(PROJECT_LIBS) $(LIBS) -lcmocka

$(BUILD)/tests/conformance/%: $(BUILD)/obj/tests/conformance/%.o $(LIB_TEST) $(PROJECT_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(UK_LDFLAGS) -o $@ $< $(LIB_TEST) $(PROJECT_LIBS) $(LIBS)

$(BUILD)/tests/bench/%: $(BUILD)/obj/tests/bench/%.o $(LIB_TEST) $(PROJECT_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(UK_LDFLAGS) -o $@ $< $(LIB_TEST) $(PROJECT_LIBS) $(LIBS)

# Fuzz targets double as corpus replayers: linked with a small main()
# that feeds every file of tests/fuzz/corpus/<target>/ through the target.
$(BUILD)/tests/fuzz/%: $(BUILD)/obj/tests/fuzz/%.o $(BUILD)/obj/tests/fuzz/replay/main.o $(PROJECT_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(UK_LDFLAGS) -o $@ $< $(BUILD)/obj/tests/fuzz/replay/main.o $(PROJECT_LIBS) $(LIBS)

test-bins: $(PROGRAMS) $(UNIT_BIN) $(CONF_BIN) $(REPLAY_BIN) $(BENCH_BIN) $(TOOLS_BIN) \
	$(HALL_BIN)

deps:
	@sh scripts/deps.sh

# playwright-core for tests/browser/ (it drives Debian's chromium; no
# browser download).
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

node-modules: $(NODE_STAMP)

check: deps
	$(MAKE) test-bins $(NODE_STAMP)
	@BUILD=$(BUILD) sh tests/run.sh

bench: test-bins
	@BUILD=$(BUILD) sh tests/bench/run.sh

asan: $(NODE_STAMP)
	$(MAKE) BUILD=build/asan OPT="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
		HARDEN="-fPIE" EXTRA_LDFLAGS="-fsanitize=address,undefined" test-bins
	@BUILD=build/asan sh tests/run.sh

fuzz:
	$(MAKE) BUILD=build/fuzz-obj CC=clang \
		OPT="-O1 -g -fsanitize=fuzzer-no-link,address,undefined" HARDEN="-fPIE" \
		$(addprefix build/fuzz-obj/lib/,libukcommon.a libukp11.a libukcerts.a libukagent.a \
		$(if $(GW_SRC),libukgw.a))
	@mkdir -p $(BUILD)/fuzz
	for f in $(FUZZ_SRC); do \
		n=$$(basename $$f .c); \
		clang -std=c11 -O1 -g -D_GNU_SOURCE -I. -I$(PG_INC) -fsanitize=fuzzer,address,undefined \
			-o $(BUILD)/fuzz/$$n $$f $(if $(GW_SRC),build/fuzz-obj/lib/libukgw.a) build/fuzz-obj/lib/libukagent.a build/fuzz-obj/lib/libukcerts.a build/fuzz-obj/lib/libukp11.a build/fuzz-obj/lib/libukcommon.a $(LIBS) || exit 1; \
	done
	@echo "fuzz targets in $(BUILD)/fuzz; run e.g. $(BUILD)/fuzz/fuzz_config tests/fuzz/corpus/fuzz_config"

demo:
	@sh scripts/deps.sh
	$(MAKE) all $(BUILD)/tests/tools/wechat-stub $(HALL_BIN)
	@UKEY_BUILD=$(abspath $(BUILD)) sh scripts/demo.sh

C_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]' -not -path './build/*')

format:
	clang-format -i $(C_FILES)

format-check:
	@bad=0; for f in $(C_FILES); do \
		clang-format --dry-run -Werror $$f >/dev/null 2>&1 || { echo "needs formatting: $$f"; bad=1; }; \
	done; exit $$bad

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj $(BUILD)/pic -name '*.d' 2>/dev/null)
