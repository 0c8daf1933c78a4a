# GEM — Group Encrypted Multicast.  `make` builds, `make test` installs missing
# Debian packages, builds and runs every test.  V=1 shows the commands.

CLANG_BPF ?= clang-19
BPFTOOL   ?= bpftool
CC        ?= gcc
B         := build

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

WARN      := -Wall -Wextra -Werror
CFLAGS    ?= -O2 -g
ifeq ($(SAN),1)
CFLAGS    += -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
endif
CFLAGS    += $(WARN) -MMD -MP -D_GNU_SOURCE -I. -Ibpf -Ilib -I$(B) \
	     -I/usr/include/p11-kit-1
LDLIBS    := -lbpf -lelf -lz -lcrypto -lsodium -linih -lmnl
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_x86 $(WARN) \
	      -Wno-unused-function -I. -Ibpf

.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: all deps test demo bench bench-scale fuzz check clean test-pristine demo-pristine

all:

# ---- BPF objects and skeletons ------------------------------------------------
BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(B)/%.bpf.o,$(BPF_SRCS))
BPF_SKELS := $(patsubst bpf/%.bpf.c,$(B)/%.skel.h,$(BPF_SRCS))

$(B)/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h bench/*.h) vmlinux.h | $(B)
	$(call msg,BPF,$@)
	$(Q)$(CLANG_BPF) $(BPF_CFLAGS) -c $< -o $@

$(B)/%.skel.h: $(B)/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@

$(B):
	$(Q)mkdir -p $(B)

# ---- user-space library (lib/) ------------------------------------------------
# gemd/*.c but its main() (gemd/gemd.c) go into the library too, so the
# control plane's pieces can be unit-tested.
# gemd's objects live in $(B)/gemd-obj/: $(B)/gemd is the daemon itself.
GEMD_SRCS := $(filter-out gemd/gemd.c,$(wildcard gemd/*.c))
LIB_SRCS := $(wildcard lib/*.c keys/*.c)
LIB_OBJS := $(patsubst %.c,$(B)/%.o,$(LIB_SRCS)) \
	    $(patsubst gemd/%.c,$(B)/gemd-obj/%.o,$(GEMD_SRCS))
LIBGEM   := $(B)/libgem.a

$(B)/%.o: %.c | $(BPF_SKELS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(B)/gemd-obj/%.o: gemd/%.c | $(BPF_SKELS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(LIBGEM): $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

# ---- tests ----------------------------------------------------------------------
# Each selftests/test_*.c is one criterion binary linked with libgem.
TEST_SRCS := $(wildcard selftests/test_*.c)
TEST_BINS := $(patsubst selftests/%.c,$(B)/selftests/%,$(TEST_SRCS))

$(B)/selftests/%: $(B)/selftests/%.o $(LIBGEM)
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS) -lcriterion

# ---- tools -------------------------------------------------------------------
GEMCTL_OBJS := $(patsubst %.c,$(B)/%.o,$(wildcard ctl/*.c))
$(B)/gemctl: $(GEMCTL_OBJS) $(LIBGEM)
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

GEMLOAD_OBJS := $(patsubst %.c,$(B)/%.o,$(wildcard loader/*.c))
$(B)/gem-load: $(GEMLOAD_OBJS) $(LIBGEM)
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

# Benchmarks: each bench/*.c is one program linked with libgem.
BENCH_BINS := $(patsubst bench/%.c,$(B)/bench/%,$(wildcard bench/*.c))
$(B)/bench/%: $(B)/bench/%.o $(LIBGEM)
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(B)/gemd: $(B)/gemd-obj/gemd.o $(LIBGEM)
	$(call msg,LD,$@)
	$(Q)if [ -d $@ ]; then rm -rf $@; fi	# objects of an older layout
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

TOOLS := $(B)/gemctl $(B)/gem-load $(BENCH_BINS) $(if $(wildcard gemd/gemd.c),$(B)/gemd)

# Shell selftests (selftests/*.sh) run after the criterion binaries.
SCRIPT_TESTS := $(sort $(wildcard selftests/*.sh))
SCRIPT_TESTS := $(filter-out selftests/run.sh selftests/lib.sh selftests/cp_lib.sh,$(SCRIPT_TESTS))

all: $(BPF_SKELS) $(LIBGEM) $(TOOLS) $(TEST_BINS)

deps:
	$(Q)./scripts/deps.sh

test: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)./selftests/run.sh $(TEST_BINS) $(SCRIPT_TESTS)

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)./demo/demo.sh

check:
	$(Q)./scripts/deps.sh check
	$(Q)$(MAKE) --no-print-directory all
	$(Q)./scripts/check.sh

bench:
	$(Q)./scripts/deps.sh bench
	$(Q)$(MAKE) --no-print-directory all
	$(Q)./bench/run.sh

# Control-plane scale (docs/SCALE.md): SCALE_N="10 25 50 100" by default.
bench-scale: all
	$(Q)./bench/scale.sh $(SCALE_N)

# The README's commands in a fresh minimal Debian 12 root holding only the base
# system and `git archive HEAD` (commit first): proves scripts/deps.sh names
# everything.  scripts/pristine.sh --help for options.
test-pristine:
	$(Q)./scripts/pristine.sh test

demo-pristine:
	$(Q)./scripts/pristine.sh demo

# ---- fuzzing (clang-19 libFuzzer + ASan + UBSan) ------------------------------------
# The library sources are compiled again with the sanitizers; each fuzz/*.c
# is one target.  `make fuzz FUZZ_SECONDS=N` runs each for N seconds.
FUZZ_CFLAGS := -g -O1 -fno-omit-frame-pointer -D_GNU_SOURCE -I. -Ibpf -Ilib -I$(B) \
	       -I/usr/include/p11-kit-1 -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_OBJS := $(patsubst %.c,$(B)/fuzz/obj/%.o,$(LIB_SRCS) $(GEMD_SRCS))
FUZZ_BINS := $(patsubst fuzz/%.c,$(B)/fuzz/%,$(wildcard fuzz/fuzz_*.c))

$(B)/fuzz/obj/%.o: %.c | $(BPF_SKELS)
	$(call msg,FUZZCC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CLANG_BPF) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(B)/fuzz/%: fuzz/%.c $(FUZZ_OBJS)
	$(call msg,FUZZLD,$@)
	$(Q)$(CLANG_BPF) $(FUZZ_CFLAGS) -fsanitize=fuzzer $^ -o $@ $(LDLIBS)

FUZZ_SECONDS ?= 10
fuzz: deps
	$(Q)$(MAKE) --no-print-directory $(FUZZ_BINS)
	$(Q)FUZZ_SECONDS=$(FUZZ_SECONDS) ./fuzz/run.sh

clean:
	$(Q)rm -rf $(B) build-san

-include $(shell find $(B) -name '*.d' 2>/dev/null)
