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
LDLIBS    := -lbpf -lelf -lz -lcrypto -lsodium -linih -lmnl -ljson-c
# -mcpu=v3: 32-bit ALU ops and jumps (clang-19 defaults to v1); the 32-bit
# ciphers (ChaCha20, SHA-256) gain most (docs/PERFORMANCE.md).  Kernel 5.1+.
BPF_MCPU  ?= v3
BPF_CFLAGS := -g -O2 -target bpf -mcpu=$(BPF_MCPU) -D__TARGET_ARCH_x86 $(WARN) \
	      -Wno-unused-function -I. -Ibpf

.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: all deps test demo bench bench-scale fuzz check clean test-pristine demo-pristine
.PHONY: progs man install uninstall deb deb-pristine FORCE

all:

# ---- BPF objects and skeletons ------------------------------------------------
BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(B)/%.bpf.o,$(BPF_SRCS))
BPF_SKELS := $(patsubst bpf/%.bpf.c,$(B)/%.skel.h,$(BPF_SRCS))

$(B)/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h bench/*.h) vmlinux.h | $(B)
	$(call msg,BPF,$@)
	$(Q)$(CLANG_BPF) $(BPF_CFLAGS) -c $< -o $@

# the test build of the data plane includes gem.bpf.c itself
$(B)/gem_test_nokf.bpf.o: bpf/gem.bpf.c

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

# ---- version (gem-load/gemctl/gemd --version, the pinned gem_stamp) -----------
# git describe at build time (scripts/version.sh; VERSION in a git archive),
# and a fingerprint of the map layout: bpf/gem_common.h without comments.
# $(B)/gem_build.h is rewritten only when one of them changes.
GEM_BUILD_VERSION := $(shell ./scripts/version.sh)
GEM_BUILD_LAYOUT := $(shell gcc -fpreprocessed -dD -E -P bpf/gem_common.h 2>/dev/null | \
		      tr -s ' \t\n' ' ' | sha256sum | cut -c1-8)
$(B)/gem_build.h: FORCE | $(B)
	$(Q)printf '#define GEM_BUILD_VERSION "%s"\n#define GEM_BUILD_LAYOUT 0x%sU\n' \
		'$(GEM_BUILD_VERSION)' '$(GEM_BUILD_LAYOUT)' >$@.tmp
	$(Q)if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi
$(B)/lib/gem_version.o $(B)/fuzz/obj/lib/gem_version.o: $(B)/gem_build.h
FORCE:

# ---- tests ----------------------------------------------------------------------
# Each selftests/test_*.c is one criterion binary linked with libgem.
TEST_SRCS := $(wildcard selftests/test_*.c)
TEST_BINS := $(patsubst selftests/%.c,$(B)/selftests/%,$(TEST_SRCS))

$(B)/selftests/%: $(B)/selftests/%.o $(LIBGEM)
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS) -lcriterion

# A test intruder: gemd claiming the node id in $$GEM_FORGE_NODE_ID
# (selftests/forge_id.c, test_cp_ident.sh).
FORGE_BIN := $(B)/selftests/gemd-forge-id
$(FORGE_BIN): $(B)/gemd-obj/gemd.o $(B)/selftests/forge_id.o $(LIBGEM)
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) -Wl,--wrap=gem_keys_node_id -Wl,--wrap=gem_keys_node_sign $^ -o $@ $(LDLIBS)

# Static multicast routes for test and demo networks on kernels without
# multicast routing, where smcrouted cannot work (selftests/mfwd.c).
MFWD_BIN := $(B)/selftests/gem-mfwd
$(MFWD_BIN): $(B)/selftests/mfwd.o $(LIBGEM)
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

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

all: $(BPF_SKELS) $(LIBGEM) $(TOOLS) $(TEST_BINS) $(FORGE_BIN) $(MFWD_BIN)

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

# ---- install, man pages, Debian package -----------------------------------------
# `make install` (PREFIX, DESTDIR): the three tools in sbin (the BPF object is
# inside gem-load: bpftool's skeleton embeds it), man pages (man/*.scd, built
# with scdoc), bash completion, gemd.service pointing at the installed gemd,
# the example configuration and the docs.  Configuration stays in /etc/gem.
PREFIX         ?= /usr/local
SBINDIR        ?= $(PREFIX)/sbin
MANDIR         ?= $(PREFIX)/share/man
DOCDIR         ?= $(PREFIX)/share/doc/gem
BASHCOMPDIR    ?= $(PREFIX)/share/bash-completion/completions
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
# gem-mfwd (selftests/mfwd.c): static multicast routes for test and demo
# networks where the kernel has no multicast routing; not on PATH
LIBEXECDIR     ?= $(PREFIX)/lib/gem
SYSCONFDIR     ?= /etc
SCDOC          ?= scdoc

PROGS := $(B)/gem-load $(B)/gemctl $(B)/gemd
MAN_SRCS := $(wildcard man/*.scd)
MANS := $(patsubst man/%.scd,$(B)/man/%,$(MAN_SRCS))
COMPLETIONS := $(wildcard completion/*)
DOCS := README.md $(wildcard docs/*.md)

progs: $(PROGS) $(MFWD_BIN)
man: $(MANS)

$(B)/man/%: man/%.scd
	$(call msg,SCDOC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(SCDOC) <$< >$@

# the paths in gemd.service and in the man pages (@DOCDIR@) are set here, at
# install time: one build serves any PREFIX
install: $(PROGS) $(MFWD_BIN) $(MANS)
	$(call msg,INSTALL,$(DESTDIR)$(PREFIX))
	$(Q)install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(DOCDIR) $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(SYSTEMDUNITDIR) \
		$(DESTDIR)$(SYSCONFDIR)/gem
	$(Q)install -m 0755 $(PROGS) $(DESTDIR)$(SBINDIR)/
	$(Q)install -m 0755 $(MFWD_BIN) $(DESTDIR)$(LIBEXECDIR)/
	$(Q)for m in $(MANS); do sed 's|@DOCDIR@|$(DOCDIR)|g' $$m \
		>$(DESTDIR)$(MANDIR)/man$${m##*.}/$${m##*/} && \
		chmod 0644 $(DESTDIR)$(MANDIR)/man$${m##*.}/$${m##*/}; done
	$(Q)install -m 0644 $(COMPLETIONS) $(DESTDIR)$(BASHCOMPDIR)/
	$(Q)sed -e 's|/usr/sbin/gemd|$(SBINDIR)/gemd|g' -e 's|/etc/gem/|$(SYSCONFDIR)/gem/|g' \
		-e 's|file:///usr/share/doc/gem/|file://$(DOCDIR)/|g' gemd/gemd.service \
		>$(DESTDIR)$(SYSTEMDUNITDIR)/gemd.service
	$(Q)chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/gemd.service
	$(Q)install -m 0644 gemd/gemd.conf.example $(DOCS) $(DESTDIR)$(DOCDIR)/

uninstall:
	$(call msg,RM,$(DESTDIR)$(PREFIX))
	$(Q)rm -f $(addprefix $(DESTDIR)$(SBINDIR)/,$(notdir $(PROGS))) \
		$(foreach m,$(MANS),$(DESTDIR)$(MANDIR)/man$(subst .,,$(suffix $(m)))/$(notdir $(m))) \
		$(addprefix $(DESTDIR)$(BASHCOMPDIR)/,$(notdir $(COMPLETIONS))) \
		$(DESTDIR)$(SYSTEMDUNITDIR)/gemd.service $(DESTDIR)$(LIBEXECDIR)/gem-mfwd \
		$(addprefix $(DESTDIR)$(DOCDIR)/,gemd.conf.example $(notdir $(DOCS)))
	$(Q)rmdir $(DESTDIR)$(DOCDIR) $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(SYSCONFDIR)/gem \
		2>/dev/null || true

# The Debian package (debian/; scripts/deps.sh deb installs the tools): built
# in build-deb/, the .deb and its .changes moved from .. into $(B)/deb/.
deb:
	$(Q)./scripts/deps.sh deb
	$(Q)dpkg-buildpackage -us -uc -b
	$(Q)mkdir -p $(B)/deb
	$(Q)src=$$(dpkg-parsechangelog -S Source) ver=$$(dpkg-parsechangelog -S Version); \
		mv ../$${src}_$${ver}_*.changes ../$${src}_$${ver}_*.buildinfo \
		   ../gem-multicast*_$${ver}_*.deb $(B)/deb/ && ls $(B)/deb

# The package built in one fresh Debian 12 root (only its Build-Depends),
# installed in another, and the static-keying e2e run against what it
# installed (scripts/pristine.sh deb-e2e).
deb-pristine:
	$(Q)./scripts/pristine.sh deb-e2e

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
