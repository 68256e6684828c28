# viaduct - a stateless SIP forwarder.
#
#   make              release binaries in build/ (-O2, jemalloc); needs the build packages only
#   make test         every test, built with ASan+UBSan and libc malloc, also the scalar parser
#   make parser-alone parser/, its tests, fuzz target and benchmark built with nothing else
#   make container-test  the image (deploy/container/) built and run under podman
#   make demo         viaduct in front of 4 emulated registrars under load (bench/demo.sh)
#   make fuzz         libFuzzer on the parser and on the whole proxy (FUZZ_SECONDS=60 each)
#   make bench        benchmarks: parser, proxy, viaduct vs Kamailio vs null relay (bench/run.sh);
#                     results under build/bench/
#   make bench-flood  legitimate clients under a one-source flood and a source spray
#                     (bench/flood.sh): build/bench/flood.txt; fails below 99% success
#   make format / format-check / clean
#
# One variant per build directory: BUILD selects it, MODE=release|san picks the flags.

CC       ?= cc
BUILD    ?= build
MODE     ?= release
EXTRA_CFLAGS ?=

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -g $(WARN) -I. $(EXTRA_CFLAGS)
ifeq ($(MODE),san)
  CFLAGS  := $(CFLAGS_BASE) -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
  LDFLAGS := -fsanitize=address,undefined
  MALLOC_LIBS :=
else
  # Functions start on a cache line: where the linker happens to place the
  # parser's hot functions moved bench-parse by 10-13% (same code, two link
  # orders); aligned to 64 bytes, every layout measured runs at the fast end.
  CFLAGS  := $(CFLAGS_BASE) -O2 -falign-functions=64
  LDFLAGS :=
  MALLOC_LIBS := -ljemalloc
endif

PARSER_SRC := $(sort $(wildcard parser/*.c))
PARSER_OBJ := $(PARSER_SRC:%.c=$(BUILD)/obj/%.o)
PARSER_LIB := $(BUILD)/libsipparse.a

NET_SRC  := $(sort $(wildcard net/*.c))
NET_OBJ  := $(NET_SRC:%.c=$(BUILD)/obj/%.o)
NET_LIB  := $(BUILD)/libnet.a

CORE_SRC := $(sort $(filter-out core/main.c,$(wildcard core/*.c)))
CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/obj/%.o)

TOOLS    := $(BUILD)/viaduct $(BUILD)/viaduct-parse $(BUILD)/viaduct-bench
TESTS    := $(patsubst test/%.c,$(BUILD)/test/%,$(wildcard test/test_*.c))
BENCHES  := $(BUILD)/bench-parse $(BUILD)/bench-px $(BUILD)/bench-rt

.PHONY: all build-deps deps tools tests check parser-alone test container-test demo fuzz fuzz-smoke bench bench-flood format format-check clean

# Packages: a plain make checks for the build's own (compiler and libraries; installed when
# root, named when not); test, demo, bench and fuzz also install the test tools first.
all: build-deps
	@$(MAKE) --no-print-directory tools

build-deps:
	@sh test/deps.sh --build

deps:
	@sh test/deps.sh

tools: $(TOOLS) $(BENCHES) $(NET_LIB)

# Objects depend on the flags they were built with, so a change of CFLAGS
# (or CC) rebuilds them instead of linking stale code.
$(BUILD)/.cflags: FORCE
	@mkdir -p $(BUILD)
	@echo '$(CC) $(CFLAGS)' | cmp -s - $@ || echo '$(CC) $(CFLAGS)' > $@

FORCE:

$(BUILD)/obj/%.o: %.c $(BUILD)/.cflags
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(PARSER_LIB): $(PARSER_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(NET_LIB): $(NET_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/viaduct-parse: $(BUILD)/obj/parser/tools/viaduct_parse.o $(PARSER_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(MALLOC_LIBS)

$(BUILD)/bench-parse: $(BUILD)/obj/bench/bench_parse.o $(PARSER_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(MALLOC_LIBS)

# One cmocka binary per module; each links the parser library only (later
# modules add their own rule with an explicit object list).
$(BUILD)/test/test_sip_%: $(BUILD)/obj/test/test_sip_%.o $(BUILD)/obj/test/guard.o \
		$(BUILD)/obj/test/sip_check.o $(PARSER_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka

# net/: sockets on loopback, both engines (io_uring tests run in a thread).
$(BUILD)/test/test_net: $(BUILD)/obj/test/test_net.o $(NET_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka -luring

$(BUILD)/test/test_net_engines: $(BUILD)/obj/test/test_net_engines.o $(NET_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -pthread -o $@ $^ -lcmocka -luring

# TCP connections on the io_uring engine (stream.c), a line protocol over loopback.
$(BUILD)/test/test_net_stream: $(BUILD)/obj/test/test_net_stream.o $(NET_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -pthread -o $@ $^ -lcmocka -luring

# core/ joins parser/ and net/: the proxy, workers and the binary.
$(BUILD)/viaduct: $(BUILD)/obj/core/main.o $(CORE_OBJ) $(NET_LIB) $(PARSER_LIB)
	$(CC) $(LDFLAGS) -pthread -o $@ $^ -luring -lxxhash -lsodium -lyaml -lmicrohttpd -lcares $(MALLOC_LIBS)

$(BUILD)/bench-px: $(BUILD)/obj/bench/bench_px.o $(CORE_OBJ) $(NET_LIB) $(PARSER_LIB)
	$(CC) $(LDFLAGS) -pthread -o $@ $^ -luring -lxxhash -lsodium -lyaml -lmicrohttpd -lcares $(MALLOC_LIBS)

$(BUILD)/test/test_px: $(BUILD)/obj/test/test_px.o $(CORE_OBJ) $(NET_LIB) $(PARSER_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -pthread -o $@ $^ -lcmocka -luring -lxxhash -lsodium -lyaml -lmicrohttpd -lcares

# The datagram builder alone.
$(BUILD)/test/test_px_out: $(BUILD)/obj/test/test_px_out.o $(BUILD)/obj/core/px_out.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka

# The running process: real threads and sockets on loopback, no flags or files.
$(BUILD)/test/test_server: $(BUILD)/obj/test/test_server.o $(CORE_OBJ) $(NET_LIB) $(PARSER_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -pthread -o $@ $^ -lcmocka -luring -lxxhash -lsodium -lyaml -lmicrohttpd -lcares

# The configuration layers: libyaml reads the file, net/ checks addresses.
$(BUILD)/test/test_cfg: $(BUILD)/obj/test/test_cfg.o $(BUILD)/obj/core/cfg.o \
		$(BUILD)/obj/core/cfg_value.o $(BUILD)/obj/core/cfg_print.o \
		$(BUILD)/obj/core/cfg_yaml.o $(BUILD)/obj/core/cfg_scan.o $(BUILD)/obj/core/cfg_env.o \
		$(NET_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka -lyaml

# What the table prints: --check of test/data/, the README's table, --help.
$(BUILD)/test/test_cfg_print: $(BUILD)/obj/test/test_cfg_print.o $(BUILD)/obj/core/cfg.o \
		$(BUILD)/obj/core/cfg_value.o $(BUILD)/obj/core/cfg_print.o \
		$(BUILD)/obj/core/cfg_yaml.o $(BUILD)/obj/core/cfg_scan.o $(BUILD)/obj/core/cfg_env.o \
		$(NET_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka -lyaml

# DNS discovery's pure half (record sets, SRV answers, refresh times, expansion), the
# hostname cache (a writer thread against readers) and the resolver's bookkeeping of names.
$(BUILD)/test/test_dns: $(BUILD)/obj/test/test_dns.o $(BUILD)/obj/core/dns.o \
		$(BUILD)/obj/core/dns_cache.o $(BUILD)/obj/core/dns_res.o \
		$(BUILD)/obj/core/dns_route.o $(BUILD)/obj/core/log.o $(NET_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -pthread -o $@ $^ -lcmocka -lsodium -lcares

# The log alone: it writes to a pipe the test reads.
$(BUILD)/test/test_log: $(BUILD)/obj/test/test_log.o $(BUILD)/obj/core/log.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -pthread -o $@ $^ -lcmocka

# The routing table alone; test_rt counts allocations by wrapping the allocator.
$(BUILD)/test/test_rt: $(BUILD)/obj/test/test_rt.o $(BUILD)/obj/core/rt.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc -o $@ $^ -lcmocka -lxxhash

# The per-source bucket table alone; counts allocations as test_rt does.
$(BUILD)/test/test_guard: $(BUILD)/obj/test/test_guard.o $(BUILD)/obj/core/guard.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -Wl,--wrap=malloc -o $@ $^ -lcmocka -lxxhash

$(BUILD)/bench-rt: $(BUILD)/obj/bench/bench_rt.o $(BUILD)/obj/core/rt.o
	$(CC) $(LDFLAGS) -o $@ $^ -lxxhash $(MALLOC_LIBS)

# viaduct-bench: the harness (bench/vb_*.c) on net/ and the parser; its
# tests link only the modules they test (the recipe is the pattern rule's).
VB_OBJ   := $(patsubst %.c,$(BUILD)/obj/%.o,$(sort $(wildcard bench/vb_*.c)))
$(BUILD)/viaduct-bench: $(VB_OBJ) $(NET_LIB) $(PARSER_LIB)
	$(CC) $(LDFLAGS) -pthread -o $@ $^ -luring -lxxhash -lm $(MALLOC_LIBS)

$(BUILD)/test/test_vb_%:
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka -lxxhash -lm
$(BUILD)/test/test_vb_hist: $(BUILD)/obj/test/test_vb_hist.o $(BUILD)/obj/bench/vb_hist.o
$(BUILD)/test/test_vb_match: $(BUILD)/obj/test/test_vb_match.o $(BUILD)/obj/bench/vb_match.o
$(BUILD)/test/test_vb_aff: $(BUILD)/obj/test/test_vb_aff.o $(BUILD)/obj/bench/vb_aff.o
$(BUILD)/test/test_vb_emu: $(BUILD)/obj/test/test_vb_emu.o $(addprefix $(BUILD)/obj/bench/, \
    vb_emu.o vb_sip.o vb_aff.o vb_match.o) $(PARSER_LIB)

tests: $(TESTS) $(TOOLS)

# Runs every unit test binary of this variant.
check: tests
	@sh test/run_unit.sh $(BUILD)/test

# parser/ with its tests, fuzz target and benchmark, compiled and linked in a tree that holds
# nothing else (STYLE G2): an include of core/ or net/ fails here.
parser-alone:
	@CC='$(CC)' WARN='$(WARN)' sh test/parser_alone.sh $(BUILD)/parser-alone

# Every test: unit tests under ASan+UBSan (gcc, whose parser takes its AVX2
# fast pass where the CPU has AVX2; gcc with the scalar parser; clang with the
# SSE2 fast pass, -DSIP_NO_AVX2), the inspector over the corpora, a bounded fuzz run, and the real binary in
# a private network namespace (test/integ/run.sh), then the container image under podman in
# one (test/container/run.sh); CONTAINER=no leaves that out, and says so.
CONTAINER ?= yes
test: deps
	@$(MAKE) --no-print-directory parser-alone
	@$(MAKE) --no-print-directory -j2 BUILD=build/san MODE=san tests
	@$(MAKE) --no-print-directory BUILD=build/san MODE=san check
	@$(MAKE) --no-print-directory -j2 BUILD=build/san-scalar MODE=san EXTRA_CFLAGS=-DSIP_SCALAR tests
	@$(MAKE) --no-print-directory BUILD=build/san-scalar MODE=san EXTRA_CFLAGS=-DSIP_SCALAR check
	@$(MAKE) --no-print-directory -j2 CC=clang BUILD=build/san-clang MODE=san EXTRA_CFLAGS=-DSIP_NO_AVX2 tests
	@$(MAKE) --no-print-directory CC=clang BUILD=build/san-clang MODE=san EXTRA_CFLAGS=-DSIP_NO_AVX2 check
	@sh test/corpus.sh build/san/viaduct-parse
	@$(MAKE) --no-print-directory fuzz-smoke
	@sh test/integ/run.sh build/san
ifeq ($(CONTAINER),no)
	@echo "container test: excluded (CONTAINER=no)"
else
	@sh test/container/run.sh
endif

container-test: deps
	@sh test/container/run.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@sh bench/demo.sh $(BUILD)

# ---- fuzzing (clang) ----
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -I. -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
build/fuzz/fuzz_sip_parse: test/fuzz/fuzz_sip_parse.c test/sip_msg_diff.h $(PARSER_SRC) parser/*.h
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ test/fuzz/fuzz_sip_parse.c $(PARSER_SRC)

# The whole proxy (test/fuzz/fuzz_px.c): core/, net/ and parser/ built for libFuzzer.
FUZZ_PX_PREFIXES := 000100 000300 020000 020100 020200 030200 010800 000500 040100 040200
build/fuzz/fuzz_px: test/fuzz/fuzz_px.c $(CORE_SRC) $(NET_SRC) $(PARSER_SRC) core/*.h net/*.h parser/*.h
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -pthread -o $@ test/fuzz/fuzz_px.c $(CORE_SRC) $(NET_SRC) $(PARSER_SRC) \
		-luring -lxxhash -lsodium -lyaml -lmicrohttpd -lcares

fuzz: deps
	@$(MAKE) --no-print-directory build/fuzz/fuzz_sip_parse build/fuzz/fuzz_px
	@sh test/fuzz/run.sh build/fuzz/fuzz_sip_parse $(FUZZ_SECONDS)
	@sh test/fuzz/run.sh build/fuzz/fuzz_px $(FUZZ_SECONDS) "$(FUZZ_PX_PREFIXES)"

# A bounded smoke run for make test: 20 s, seeded with the corpora.
fuzz-smoke: build/fuzz/fuzz_sip_parse build/fuzz/fuzz_px
	@sh test/fuzz/run.sh build/fuzz/fuzz_sip_parse 20
	@sh test/fuzz/run.sh build/fuzz/fuzz_px 20 "$(FUZZ_PX_PREFIXES)"

bench: deps
	@$(MAKE) --no-print-directory all
	@sh bench/run.sh $(BUILD)

bench-flood: deps
	@$(MAKE) --no-print-directory tools
	@sh bench/flood.sh $(BUILD)

FORMAT_SRC = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	clang-format -i $(FORMAT_SRC)
format-check:
	clang-format --dry-run --Werror $(FORMAT_SRC)

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
