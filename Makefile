# l1b — build, test, install.  See README.md.
#
#   make                 build every program into $(BUILD)/
#   make check           C unit tests, the layout check, the bats CLI tests
#   make unit-tests      build the unit-test runner, $(BUILD)/unit-tests
#   make check-legacy    i686 build, tests under qemu-i386 as old CPUs
#   make check-nosimd-i686   SIMD=0 i686 build, unit tests under qemu-i386
#   make check-cross     a cross build with clang (CROSS=aarch64-linux-gnu,
#                        the default), unit tests under qemu-user
#   make check-aarch64   the same, spelt out
#   make check-arm       aarch64 and armv7 builds, unit tests under qemu at
#                        every ARM kernel level (scalar, neon, dotprod)
#   make check-golden    the golden files (tests/golden/) natively, on i686
#                        and on aarch64 under qemu
#   make check-bigendian s390x and 32-bit PowerPC builds, unit, round-trip,
#                        golden-file and cross-endian tests under qemu
#   make install         PREFIX=/usr/local DESTDIR=: programs, man pages,
#                        bash and zsh completions, and for C programs
#                        libl1b.a, the headers (include/l1b/) and l1b.pc
#   make install-strip   the same with the programs stripped
#                        (tests/cli/install.bats installs into a temporary
#                        PREFIX and builds l1b(7)'s C example with pkg-config)
#   make SIMD=0          no SIMD code at all (plain C kernels only)
#   make MPI=1           l1b-train trains with the ranks mpirun starts (into
#                        build-mpi/); make check-mpi tests it (see the end)
#
# CC, CFLAGS, LDFLAGS and BUILD may be overridden on the command line.
#
# The kernel sources follow the target architecture ($(CC) -dumpmachine):
# on x86, 32 or 64-bit, on ARM (aarch64; armv7 hard-float) and on 32-bit
# PowerPC (AltiVec), one file per SIMD level, each built with that level's
# instruction set and no more;
# on any other target the plain C kernels only. The core builds
# everywhere. Another architecture's kernels are a KERNELS_<arch> list, the
# KERNELS_DEFS_<arch> macro that lib/kernels.c and lib/cpu.c test, and a
# SIMD_FLAGS line per file, next to the x86 and ARM ones below.

CC      ?= cc
CFLAGS  ?= -O3 -g
LDFLAGS ?=
# make MPI=1 builds into a directory of its own, so the two builds never mix
MPI     ?= 0
ifeq ($(MPI),1)
BUILD   ?= build-mpi
endif
BUILD   ?= build
PREFIX  ?= /usr/local
BINDIR   = $(PREFIX)/bin
MANDIR   = $(PREFIX)/share/man
LIBDIR   = $(PREFIX)/lib
INCLUDEDIR = $(PREFIX)/include
PKGCONFIGDIR = $(LIBDIR)/pkgconfig
BASHCOMPDIR = $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR  = $(PREFIX)/share/zsh/site-functions
# The version is defined once, in lib/util.h (L1B_VERSION).
VERSION := $(shell sed -n 's/^\#define L1B_VERSION "\(.*\)"/\1/p' lib/util.h)
INSTALL ?= install
STRIP   ?= strip

SIMD    ?= 1

# The target's architecture family, from the compiler's target triple: x86
# (i386..i686, x86_64, amd64; also with -m32), aarch64, arm (any 32-bit
# arm), else the triple's first field (powerpc, riscv64, ...).
TARGET_MACHINE := $(shell $(CC) -dumpmachine 2>/dev/null)
TRIPLES_x86     = x86_64-% amd64-% i386-% i486-% i586-% i686-%
TRIPLES_aarch64 = aarch64-% aarch64_be-% arm64-%
TRIPLES_arm     = arm%
KERNEL_ARCH := $(firstword $(foreach a,x86 aarch64 arm,$(if $(filter $(TRIPLES_$(a)),$(TARGET_MACHINE)),$(a))) \
                           $(firstword $(subst -, ,$(TARGET_MACHINE))))

WARN     = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
ALL_CFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L -D_FILE_OFFSET_BITS=64 -fno-math-errno $(WARN) -Ilib $(CFLAGS)
LIBS     = -lm -lpthread

PROGRAMS = l1b-tokenize l1b-train l1b-sample l1b-bench l1b-ckpt

OBJ      = $(BUILD)/obj

# SIMD kernels by architecture: KERNELS_<arch> are its sources, built only
# for that architecture; KERNELS_DEFS_<arch> tells lib/kernels.c and
# lib/cpu.c they are there. Each file gets its own level's instruction set
# (SIMD_FLAGS) and no more; the rest of the code is built for the baseline.
KERNELS_x86      = lib/kernels_sse.c lib/kernels_mmx.c lib/kernels_sse2.c lib/kernels_ssse3.c \
                   lib/kernels_avx2.c lib/kernels_avx512.c
KERNELS_DEFS_x86 = -DL1B_KERNELS_X86
$(OBJ)/lib/kernels_sse.o:    SIMD_FLAGS = -msse
$(OBJ)/lib/kernels_mmx.o:    SIMD_FLAGS = -msse
$(OBJ)/lib/kernels_sse2.o:   SIMD_FLAGS = -msse2
$(OBJ)/lib/kernels_ssse3.o:  SIMD_FLAGS = -mssse3
$(OBJ)/lib/kernels_avx2.o:   SIMD_FLAGS = -mavx2 -mfma
$(OBJ)/lib/kernels_avx512.o: SIMD_FLAGS = -mavx2 -mfma -mavx512f -mavx512bw -mavx512vl -mavx512vnni
# 64-bit ARM: NEON is part of the base instruction set, so its file needs
# no flags; the dot products are ARMv8.2's. The ARM kernels are written
# for little-endian ARM (as good as all of it); big-endian gets plain C.
ARM_BE               = $(filter aarch64_be-% armeb-% armbe-%,$(TARGET_MACHINE))
KERNELS_aarch64      = $(if $(ARM_BE),,lib/kernels_neon.c lib/kernels_dotprod.c)
KERNELS_DEFS_aarch64 = $(if $(ARM_BE),,-DL1B_KERNELS_NEON -DL1B_KERNELS_DOTPROD)
$(OBJ)/lib/kernels_dotprod.o: SIMD_FLAGS = -march=armv8.2-a+dotprod
# 32-bit ARM, hard-float (arm-linux-gnueabihf): NEON is optional on ARMv7,
# so only its file is built for it and the rest stays VFP; the NEON
# kernels run where the OS reports NEON. Soft-float targets: plain C.
ARM_HF               = $(if $(ARM_BE),,$(filter %hf,$(TARGET_MACHINE)))
KERNELS_arm          = $(if $(ARM_HF),lib/kernels_neon.c)
KERNELS_DEFS_arm     = $(if $(ARM_HF),-DL1B_KERNELS_NEON)
NEON_FLAGS_arm       = -mfpu=neon -mfloat-abi=hard
$(OBJ)/lib/kernels_neon.o:    SIMD_FLAGS = $(NEON_FLAGS_$(KERNEL_ARCH))
# 32-bit PowerPC (big-endian, powerpc-linux-gnu): AltiVec is optional (the
# G4 and G5 have it, the G3 not), so only its file is built for it; its
# kernels run where the OS reports AltiVec. 64-bit PowerPC: plain C.
KERNELS_powerpc      = lib/kernels_altivec.c
KERNELS_DEFS_powerpc = -DL1B_KERNELS_ALTIVEC
$(OBJ)/lib/kernels_altivec.o: SIMD_FLAGS = -maltivec -mabi=altivec

# The core: every lib/*.c but the SIMD kernels of any architecture (every
# lib/kernels_*.c but the plain C ones), which come from the list above.
LIB_SRC  = $(filter-out lib/kernels_%.c,$(wildcard lib/*.c)) lib/kernels_scalar.c
ifneq ($(SIMD),0)
SIMD_SRC = $(KERNELS_$(KERNEL_ARCH))
ALL_CFLAGS += $(KERNELS_DEFS_$(KERNEL_ARCH))
endif

LIB_OBJ  = $(patsubst lib/%.c,$(OBJ)/lib/%.o,$(LIB_SRC) $(SIMD_SRC))
LIBA     = $(BUILD)/libl1b.a
# What several programs show a person (messages, progress, reports): the
# program side, which may print; lib/ never does.
CMD_SRC  = $(wildcard cmd/common/*.c)
CMD_OBJ  = $(patsubst cmd/common/%.c,$(OBJ)/cmd/common/%.o,$(CMD_SRC))
CMDA     = $(BUILD)/libl1b-cmd.a
BINS     = $(addprefix $(BUILD)/,$(PROGRAMS))
UNIT_SRC = $(wildcard tests/unit/*.c)
UNIT_BIN = $(BUILD)/unit-tests

.PHONY: all check unit unit-tests layout cli check-legacy check-nosimd-i686 check-cross check-aarch64 check-arm install uninstall clean
.SECONDARY:
all: $(BINS)

$(OBJ)/lib/%.o: lib/%.c lib/*.h | $(OBJ)/lib
	$(CC) $(ALL_CFLAGS) $(SIMD_FLAGS) -c $< -o $@

$(OBJ)/cmd/%.o: cmd/%.c lib/*.h cmd/common/*.h | $(OBJ)/cmd $(OBJ)/cmd/common
	$(CC) $(ALL_CFLAGS) -Icmd/common -c $< -o $@

$(OBJ)/tests/%.o: tests/unit/%.c tests/unit/*.h lib/*.h cmd/common/*.h | $(OBJ)/tests
	$(CC) $(ALL_CFLAGS) -Itests/unit -Icmd/common -c $< -o $@

$(LIBA): $(LIB_OBJ)
	rm -f $@
	$(AR) rcs $@ $(LIB_OBJ)

$(CMDA): $(CMD_OBJ)
	rm -f $@
	$(AR) rcs $@ $(CMD_OBJ)

$(BUILD)/l1b-%: $(OBJ)/cmd/l1b-%.o $(CMDA) $(LIBA)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) $< $(CMDA) $(LIBA) $(LIBS) -o $@

$(UNIT_BIN): $(patsubst tests/unit/%.c,$(OBJ)/tests/%.o,$(UNIT_SRC)) $(CMDA) $(LIBA)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) $^ $(LIBS) -o $@

$(OBJ)/lib $(OBJ)/cmd $(OBJ)/cmd/common $(OBJ)/tests:
	mkdir -p $@

check: unit layout cli

unit: $(UNIT_BIN)
	$(UNIT_BIN)

# The layout rule (README.md): no core object prints, exits or reads the
# environment, judged by the symbols it uses.
layout: $(LIB_OBJ)
	@sh tests/layout/quiet-core.sh $(LIB_OBJ)

unit-tests: $(UNIT_BIN)

cli: $(BINS)
	L1B_BIN=$(abspath $(BUILD)) bats tests/cli

# wrappers DIR 'COMMAND' BUILDDIR: DIR/l1b-* run BUILDDIR's programs through
# COMMAND (a qemu command line), for the bats tests' L1B_BIN
WRAPPERS = wrappers() { mkdir -p $$1; for p in $(PROGRAMS); do \
             printf '\#!/bin/sh\nexec %s %s/%s "$$@"\n' "$$2" "$$3" $$p > $$1/$$p; chmod +x $$1/$$p; done; }

# Old CPUs: an i686 build (no SSE in the baseline code), unit tests and the
# CLI round trips under qemu-i386 as a Pentium II (no SIMD), Pentium III
# (SSE), Core Duo (SSE2/SSE3) and Core 2 Duo (SSSE3). Each CPU is a target
# of its own (check-legacy-pentium3, ...): make -j2 runs two at a time.
LEGACY_BUILD  = $(BUILD)-i686
LEGACY_CPUS   = pentium2 pentium3 coreduo core2duo
LEGACY_CHECKS = $(LEGACY_CPUS:%=check-legacy-%)
QEMU         ?= qemu-i386
.PHONY: check-legacy legacy-build $(LEGACY_CHECKS)
check-legacy: $(LEGACY_CHECKS)

legacy-build:
	$(MAKE) BUILD=$(LEGACY_BUILD) CC="$(CC) -m32 -march=i686" all $(LEGACY_BUILD)/unit-tests

$(LEGACY_CHECKS): check-legacy-%: legacy-build
	@echo "== $*"
	L1B_EXPECT_CPU=$* $(QEMU) -cpu $* $(LEGACY_BUILD)/unit-tests
	@set -e; $(WRAPPERS); b=$(abspath $(LEGACY_BUILD)); \
	wrappers $$b/wrap-$* "$(QEMU) -cpu $*" $$b; \
	L1B_BIN=$$b/wrap-$* L1B_EXPECT_CPU=$* bats tests/cli/roundtrip.bats

# The plain C build on the oldest CPU: SIMD=0 for i686 (no SIMD code at
# all), its unit tests under qemu-i386 as a Pentium II.
PLAIN_I686_BUILD = $(BUILD)-i686-plain
check-nosimd-i686:
	$(MAKE) BUILD=$(PLAIN_I686_BUILD) SIMD=0 CC="$(CC) -m32 -march=i686" all unit-tests
	L1B_EXPECT_CPU=pentium2 $(QEMU) -cpu pentium2 $(PLAIN_I686_BUILD)/unit-tests

# Another architecture: the default build for it, cross-compiled with clang
# and lld, and its unit tests under qemu-user with the target's C library
# from /usr/<triple>. On Debian: clang lld qemu-user libc6-dev-<arch>-cross
# libgcc-12-dev-<arch>-cross (clang finds the target's C library through
# the latter). CROSS_CC, CROSS_LDFLAGS and CROSS_QEMU may be set, e.g.
# CROSS_CC=aarch64-linux-gnu-gcc CROSS_LDFLAGS= for a gcc cross compiler;
# 32-bit powerpc needs GNU ld (binutils-powerpc-linux-gnu), and clang to be
# shown the C library: CROSS_LDFLAGS="-B/usr/powerpc-linux-gnu/lib
# -L/usr/powerpc-linux-gnu/lib".
CROSS         = aarch64-linux-gnu
CROSS_ARCH    = $(firstword $(subst -, ,$(CROSS)))
CROSS_BUILD   = $(BUILD)-$(CROSS_ARCH)
CROSS_CC      = clang --target=$(CROSS)
CROSS_LDFLAGS = -fuse-ld=lld
CROSS_QEMU    = qemu-$(patsubst powerpc%,ppc%,$(CROSS_ARCH)) -L /usr/$(CROSS)
check-cross:
	$(MAKE) BUILD=$(CROSS_BUILD) CC="$(CROSS_CC)" LDFLAGS="$(CROSS_LDFLAGS) $(LDFLAGS)" all unit-tests
	$(CROSS_QEMU) $(CROSS_BUILD)/unit-tests

check-aarch64:
	$(MAKE) check-cross CROSS=aarch64-linux-gnu

# ARM at every kernel level, under qemu-user: the aarch64 build's unit
# tests as a Cortex-A53 (NEON, no dot products) at scalar and neon and as
# qemu's max CPU (dot products) at scalar, neon and dotprod; the armv7
# hard-float build's as a Cortex-A7 (NEON) at scalar and neon and as a
# Cortex-R5F (VFP, no NEON: plain C). Each run checks the level detected
# (L1B_EXPECT_CPU) and the one tested (L1B_SIMD); each run is a target of
# its own (check-arm64-max-dotprod, ...): make -j2 runs two at a time.
# Debian: clang lld
# qemu-user libc6-dev-arm64-cross libgcc-12-dev-arm64-cross
# libc6-dev-armhf-cross libgcc-12-dev-armhf-cross.
ARM64_BUILD = $(BUILD)-aarch64
ARMV7_BUILD = $(BUILD)-armv7
ARM64_CC    = clang --target=aarch64-linux-gnu
ARMV7_CC    = clang --target=arm-linux-gnueabihf -march=armv7-a
ARM_LDFLAGS = -fuse-ld=lld
ARM64_RUNS  = cortex-a53-scalar cortex-a53-neon max-scalar max-neon max-dotprod
ARMV7_RUNS  = cortex-a7-scalar cortex-a7-neon cortex-r5f-scalar
ARM_CHECKS  = $(ARM64_RUNS:%=check-arm64-%) $(ARMV7_RUNS:%=check-armv7-%)
.PHONY: check-arm arm64-build armv7-build $(ARM_CHECKS)
check-arm: $(ARM_CHECKS)

arm64-build:
	$(MAKE) BUILD=$(ARM64_BUILD) CC="$(ARM64_CC)" LDFLAGS="$(ARM_LDFLAGS) $(LDFLAGS)" all unit-tests
armv7-build:
	$(MAKE) BUILD=$(ARMV7_BUILD) CC="$(ARMV7_CC)" LDFLAGS="$(ARM_LDFLAGS) $(LDFLAGS)" all unit-tests

# check-arm64-CPU-LEVEL, check-armv7-CPU-LEVEL: one run (the CPU's name may
# hold dashes, the level does not)
ARM_RUN = cpu=$${run%-*}; lv=$${run\#\#*-}; \
	  echo "== $$arch, qemu -cpu $$cpu, L1B_SIMD=$$lv"; \
	  L1B_EXPECT_CPU=$$cpu L1B_SIMD=$$lv qemu-$$arch -L /usr/$$libc -cpu $$cpu $$b/unit-tests
$(ARM64_RUNS:%=check-arm64-%): check-arm64-%: arm64-build
	@run=$* arch=aarch64 libc=aarch64-linux-gnu b=$(ARM64_BUILD); $(ARM_RUN)
$(ARMV7_RUNS:%=check-armv7-%): check-armv7-%: armv7-build
	@run=$* arch=arm libc=arm-linux-gnueabihf b=$(ARMV7_BUILD); $(ARM_RUN)

# ---- golden files and big-endian hosts (tests/golden/) ----------------------
#   make check-golden     the golden files an x86 build wrote
#                         (tests/golden/make-golden.sh) read the same by the
#                         native programs, the i686 build under qemu-i386
#                         as a Core 2 Duo (x87 plain C, SSE, SSE2, SSSE3) and
#                         the aarch64 build under qemu-aarch64 as max (plain
#                         C, NEON, dot products); golden.bats runs its greedy
#                         checks at every level the CPU has. One alone: make
#                         check-golden-native (-i686, -aarch64)
#   make check-bigendian  s390x (64-bit) and 32-bit PowerPC as a G4, under
#                         qemu-user: the unit tests (PowerPC: on the G4 at
#                         scalar and altivec, on a G3 at scalar),
#                         tests/cli/roundtrip.bats,
#                         golden.bats, and crossendian.bats (files written
#                         there read natively and the reverse); one target
#                         alone: make check-bigendian-s390x (or -powerpc)
# Each is a few independent runs under qemu: make -j2 runs two at a time
# (CI: make -j2 check-golden check-bigendian, about 3 minutes on 2 cores).
# Builds use clang --target with GNU ld from binutils-<triple> (lld has no
# s390x; 32-bit powerpc needs GNU ld and clang shown its C library).
# qemu 7.2 rejects, on every 32-bit PowerPC model, the POWER9 forms of mffs
# that glibc's libm runs on any PowerPC (sin, cos, rounding modes; older
# CPUs execute them as mffs): the PowerPC programs run with
# tests/golden/qemu-ppc-mffs.c preloaded, which does what a G4 does.
# Debian: clang lld qemu-user gcc-multilib libc6-dev-arm64-cross
# libgcc-12-dev-arm64-cross (check-golden); clang qemu-user
# libc6-dev-s390x-cross libgcc-12-dev-s390x-cross binutils-s390x-linux-gnu
# libc6-dev-powerpc-cross libgcc-12-dev-powerpc-cross
# binutils-powerpc-linux-gnu (check-bigendian).
.PHONY: check-golden check-golden-native check-golden-i686 check-golden-aarch64 check-bigendian \
        check-bigendian-s390x check-bigendian-powerpc bigendian-clean
GOLDEN_TESTS       = tests/golden/golden.bats
GOLDEN_I686_BUILD  = $(BUILD)-i686
GOLDEN_I686_CPU    = core2duo
GOLDEN_ARM64_BUILD = $(BUILD)-aarch64
GOLDEN_ARM64_CC    = clang --target=aarch64-linux-gnu
GOLDEN_ARM64_CPU   = max
BE_TARGETS         = s390x powerpc
BE_CC_s390x        = clang --target=s390x-linux-gnu
BE_LDFLAGS_s390x   =
BE_QEMU_s390x      = qemu-s390x -L /usr/s390x-linux-gnu
BE_CC_powerpc      = clang --target=powerpc-linux-gnu -msecure-plt
BE_LDFLAGS_powerpc = -B/usr/powerpc-linux-gnu/lib -L/usr/powerpc-linux-gnu/lib
BE_QEMU_ppc        = qemu-ppc -L /usr/powerpc-linux-gnu -E LD_PRELOAD=$(abspath $(BUILD)-powerpc)/qemu-ppc-mffs.so
BE_QEMU_powerpc    = $(BE_QEMU_ppc) -cpu g4
# the unit tests at each kernel level, as check-arm runs them (CPU-LEVEL:
# L1B_EXPECT_CPU=CPU L1B_SIMD=LEVEL under qemu -cpu CPU): the G4 at plain
# C and AltiVec, the G3 (no AltiVec) at plain C; s390x once, as it is
BE_UNIT_RUNS_powerpc = g4-scalar g4-altivec g3-scalar
BE_UNIT_RUN = cpu=$${run%-*}; lv=$${run\#\#*-}; \
	      echo "== $*: unit tests, qemu -cpu $$cpu, L1B_SIMD=$$lv"; \
	      L1B_EXPECT_CPU=$$cpu L1B_SIMD=$$lv $(BE_QEMU_ppc) -cpu $$cpu $$b/unit-tests
check-golden: check-golden-native check-golden-i686 check-golden-aarch64

check-golden-native: $(BINS)
	@echo "== golden files: native"
	L1B_BIN=$(abspath $(BUILD)) bats $(GOLDEN_TESTS)

check-golden-i686: $(BINS)
	$(MAKE) BUILD=$(GOLDEN_I686_BUILD) CC="$(CC) -m32 -march=i686" all
	@set -e; $(WRAPPERS); b=$(abspath $(GOLDEN_I686_BUILD)); \
	wrappers $$b/wrap-golden "qemu-i386 -cpu $(GOLDEN_I686_CPU)" $$b; \
	echo "== golden files: i686, qemu-i386 -cpu $(GOLDEN_I686_CPU)"; \
	L1B_BIN=$$b/wrap-golden bats $(GOLDEN_TESTS)

check-golden-aarch64: $(BINS)
	$(MAKE) BUILD=$(GOLDEN_ARM64_BUILD) CC="$(GOLDEN_ARM64_CC)" LDFLAGS="-fuse-ld=lld $(LDFLAGS)" all
	@set -e; $(WRAPPERS); b=$(abspath $(GOLDEN_ARM64_BUILD)); \
	wrappers $$b/wrap-golden "qemu-aarch64 -L /usr/aarch64-linux-gnu -cpu $(GOLDEN_ARM64_CPU)" $$b; \
	echo "== golden files: aarch64, qemu-aarch64 -cpu $(GOLDEN_ARM64_CPU)"; \
	L1B_BIN=$$b/wrap-golden bats $(GOLDEN_TESTS)

check-bigendian: $(BE_TARGETS:%=check-bigendian-%)

$(BE_TARGETS:%=check-bigendian-%): check-bigendian-%: $(BINS)
	$(MAKE) BUILD=$(BUILD)-$* CC="$(BE_CC_$*)" LDFLAGS="$(BE_LDFLAGS_$*) $(LDFLAGS)" all unit-tests
	$(if $(filter powerpc,$*),$(BE_CC_powerpc) $(BE_LDFLAGS_powerpc) -O2 -shared -fPIC \
	    -o $(BUILD)-powerpc/qemu-ppc-mffs.so tests/golden/qemu-ppc-mffs.c)
	@set -e; $(WRAPPERS); \
	b=$(abspath $(BUILD)-$*); wrappers $$b/wrap "$(BE_QEMU_$*)" $$b; \
	$(if $(BE_UNIT_RUNS_$*),for run in $(BE_UNIT_RUNS_$*); do $(BE_UNIT_RUN); done, \
	  echo "== $*: unit tests ($(BE_QEMU_$*))"; $(BE_QEMU_$*) $$b/unit-tests); \
	echo "== $*: round trips, golden files, files to and from $(BUILD)/"; \
	L1B_BIN=$$b/wrap L1B_NATIVE_BIN=$(abspath $(BUILD)) \
	  bats tests/cli/roundtrip.bats $(GOLDEN_TESTS) tests/golden/crossendian.bats

bigendian-clean:
	rm -rf $(BE_TARGETS:%=$(BUILD)-%)
clean: bigendian-clean

# Installed for C programs: the core's library and headers (the headers
# include each other as "x.h", so they stay together in include/l1b/) and a
# pkg-config file. The API is not yet stable (README.md, "Using the library
# from C").
install: $(BINS) $(LIBA)
	mkdir -p $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man7 \
	    $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR)/l1b $(DESTDIR)$(PKGCONFIGDIR) \
	    $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR)
	for p in $(PROGRAMS); do $(INSTALL) -m 755 $(INSTALL_STRIP) $(BUILD)/$$p $(DESTDIR)$(BINDIR)/$$p; done
	for m in man/*.1; do $(INSTALL) -m 644 $$m $(DESTDIR)$(MANDIR)/man1/; done
	for m in man/*.5; do $(INSTALL) -m 644 $$m $(DESTDIR)$(MANDIR)/man5/; done
	for m in man/*.7; do $(INSTALL) -m 644 $$m $(DESTDIR)$(MANDIR)/man7/; done
	for p in $(PROGRAMS); do $(INSTALL) -m 644 completions/l1b.bash $(DESTDIR)$(BASHCOMPDIR)/$$p; done
	$(INSTALL) -m 644 completions/_l1b $(DESTDIR)$(ZSHCOMPDIR)/_l1b
	$(INSTALL) -m 644 $(LIBA) $(DESTDIR)$(LIBDIR)/libl1b.a
	for h in lib/*.h; do $(INSTALL) -m 644 $$h $(DESTDIR)$(INCLUDEDIR)/l1b/; done
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	    -e 's|@VERSION@|$(VERSION)|' -e 's|@LIBS@|$(LIBS)|' l1b.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/l1b.pc
	chmod 644 $(DESTDIR)$(PKGCONFIGDIR)/l1b.pc

# strip the programs while installing (install -s, with $(STRIP))
install-strip:
	$(MAKE) install INSTALL_STRIP="-s --strip-program=$(STRIP)"

uninstall:
	for p in $(PROGRAMS); do rm -f $(DESTDIR)$(BINDIR)/$$p $(DESTDIR)$(BASHCOMPDIR)/$$p; done
	for m in man/*.1; do rm -f $(DESTDIR)$(MANDIR)/man1/$${m#man/}; done
	for m in man/*.5; do rm -f $(DESTDIR)$(MANDIR)/man5/$${m#man/}; done
	for m in man/*.7; do rm -f $(DESTDIR)$(MANDIR)/man7/$${m#man/}; done
	rm -f $(DESTDIR)$(ZSHCOMPDIR)/_l1b $(DESTDIR)$(LIBDIR)/libl1b.a $(DESTDIR)$(PKGCONFIGDIR)/l1b.pc
	rm -rf $(DESTDIR)$(INCLUDEDIR)/l1b

.PHONY: install-strip

clean:
	rm -rf $(BUILD) $(LEGACY_BUILD) $(PLAIN_I686_BUILD) $(CROSS_BUILD) $(ARM64_BUILD) $(ARMV7_BUILD)

# The demo: everything from text the project ships (its man pages and
# README), printing what each step does. About a minute on a 2-core PC.
DEMO_DIR = $(BUILD)/demo
.PHONY: demo
demo: $(BINS)
	@mkdir -p $(DEMO_DIR)
	@echo "== 1. corpus: the project's README and man pages (roff requests stripped)"
	{ cat README.md; sed -e '/^\./d' -e 's/\\f[BIRP]//g' -e 's/\\(.[a-z]//g' -e 's/\\-/-/g' -e 's/\\//g' $(wildcard man/*); } > $(DEMO_DIR)/corpus.txt
	@echo "== 2. learn a 512-token BPE vocabulary and encode the corpus"
	$(BUILD)/l1b-tokenize --bpe --vocab 512 -v -o $(DEMO_DIR)/corpus.tok $(DEMO_DIR)/corpus.txt
	@echo "== 3. the round trip is byte-exact"
	$(BUILD)/l1b-tokenize --decode $(DEMO_DIR)/corpus.tok | cmp - $(DEMO_DIR)/corpus.txt && echo "identical"
	@echo "== 4. train a ternary model: 2000 steps or 75 seconds, whichever comes first (validation: the last 10%)"
	@echo "   (about 20 passes over the corpus, enough to overfit: best.l1b keeps the lowest validation loss;"
	@echo "   a greedy sample after every 2nd evaluation)"
	$(BUILD)/l1b-train -o $(DEMO_DIR)/model.l1b --keep-best $(DEMO_DIR)/best.l1b --dim 96 --layers 3 --heads 4 \
	    --ctx 64 --batch 12 --steps 2000 --eval-every 250 --eval-batches 10 --time 75s \
	    --sample-every 2 --sample-prompt "The model" -v $(DEMO_DIR)/corpus.tok
	@echo "== 5. sample the best checkpoint: continue a prompt (the prompt printed too; the speed on the line after the text)"
	$(BUILD)/l1b-ckpt info $(DEMO_DIR)/best.l1b | grep -E '^(training|last metrics)'
	$(BUILD)/l1b-sample -m $(DEMO_DIR)/best.l1b -i "The model" --echo -n 200 -s 1 -T 0.7 -k 40 -v 2> $(DEMO_DIR)/sample.err; \
	    status=$$?; echo; cat $(DEMO_DIR)/sample.err; exit $$status
	@echo "== 6. score: bits per byte on the README versus on random text"
	$(BUILD)/l1b-sample -m $(DEMO_DIR)/best.l1b --score README.md
	head -c 2000 /dev/urandom | $(BUILD)/l1b-sample -m $(DEMO_DIR)/best.l1b --score

# Whole-program answer to "what does SIMD buy": plain C build against the
# normal one on the same training and decoding workload (a few minutes).
.PHONY: bench
bench:
	sh tests/bench/simd-vs-plain.sh $(BENCH_ARGS)

# ---- fuzzing (tests/fuzz/; docs/RELIABILITY.md, "Fuzzing") ------------------
#   make fuzz          every fuzz target with clang, libFuzzer, ASan and UBSan
#                      (the library built the same way) into $(FUZZ_BUILD)/
#   make fuzz-run      each target replays its seeds, then fuzzes for
#                      FUZZ_SECONDS (default 30); fails on any crash
#   make fuzz-replay   the plain drivers (default CC, no libFuzzer) replay
#                      the seeds (and the corpus fuzz-run grew, if any)
# Seeds: tests/fuzz/make-seeds.sh with the normal build's programs, into
# $(FUZZ_SEEDS). New inputs go to $(FUZZ_BUILD)/corpus/TARGET, crashes to
# $(FUZZ_BUILD)/crash-TARGET-*, logs to $(FUZZ_BUILD)/fuzz-TARGET.log.
# Debian: clang libclang-rt-14-dev.
FUZZ_TARGETS  = tokstream ckpt packed tokenizer textscan bpe parse
FUZZ_BUILD    = $(BUILD)-fuzz
FUZZ_SEEDS    = $(FUZZ_BUILD)/seeds
FUZZ_CC       = clang
FUZZ_CFLAGS   = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_SECONDS ?= 30
FUZZ_OPTIONS  = -timeout=30 -print_final_stats=1
FUZZ_ENV      = UBSAN_OPTIONS=print_stacktrace=1
FUZZ_FLAGS    = -std=c11 -D_POSIX_C_SOURCE=200809L -D_FILE_OFFSET_BITS=64 $(WARN) -Ilib -Icmd/common
FUZZ_DEPS     = tests/fuzz/common.c tests/fuzz/common.h lib/*.h cmd/common/*.h
FUZZ_BINS     = $(addprefix $(FUZZ_BUILD)/fuzz-,$(FUZZ_TARGETS))
REPLAY_BINS   = $(addprefix $(BUILD)/fuzz/replay-,$(FUZZ_TARGETS))

.PHONY: fuzz fuzz-bins fuzz-run fuzz-replay fuzz-seeds fuzz-clean $(FUZZ_TARGETS:%=fuzz-run-%)
fuzz:
	$(MAKE) BUILD=$(FUZZ_BUILD) CC="$(FUZZ_CC)" CFLAGS="$(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link" LDFLAGS= \
	    $(FUZZ_BUILD)/libl1b.a $(FUZZ_BUILD)/libl1b-cmd.a
	$(MAKE) fuzz-bins

fuzz-bins: $(FUZZ_BINS)

$(FUZZ_BUILD)/fuzz-%: tests/fuzz/%.c $(FUZZ_DEPS) $(FUZZ_BUILD)/libl1b.a $(FUZZ_BUILD)/libl1b-cmd.a
	$(FUZZ_CC) $(FUZZ_FLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer $< tests/fuzz/common.c \
	    $(FUZZ_BUILD)/libl1b-cmd.a $(FUZZ_BUILD)/libl1b.a $(LIBS) -o $@

$(BUILD)/fuzz/replay-%: tests/fuzz/%.c tests/fuzz/driver.c $(FUZZ_DEPS) $(CMDA) $(LIBA)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Icmd/common $(LDFLAGS) $< tests/fuzz/common.c tests/fuzz/driver.c \
	    $(CMDA) $(LIBA) $(LIBS) -o $@

# the textscan target compiles in l1b-tokenize's --ids parser
$(FUZZ_BUILD)/fuzz-textscan $(BUILD)/fuzz/replay-textscan: cmd/l1b-tokenize.c

fuzz-seeds: $(FUZZ_SEEDS)/.stamp
$(FUZZ_SEEDS)/.stamp: tests/fuzz/make-seeds.sh $(BINS)
	sh tests/fuzz/make-seeds.sh $(BUILD) $(FUZZ_SEEDS)
	touch $@

# fuzz-run-TARGET: one target; make -j2 fuzz-run runs two at a time
fuzz-run: $(FUZZ_TARGETS:%=fuzz-run-%)
$(FUZZ_TARGETS:%=fuzz-run-%): fuzz-run-%: fuzz $(FUZZ_SEEDS)/.stamp
	@set -e; t=$*; \
	echo "== fuzz-$$t: replay the seeds, then $(FUZZ_SECONDS)s of fuzzing"; \
	mkdir -p $(FUZZ_BUILD)/corpus/$$t; \
	$(FUZZ_ENV) $(FUZZ_BUILD)/fuzz-$$t -runs=0 -artifact_prefix=$(FUZZ_BUILD)/crash-$$t- $(FUZZ_SEEDS)/$$t \
	  > $(FUZZ_BUILD)/fuzz-$$t.log 2>&1 \
	  || { tail -n 60 $(FUZZ_BUILD)/fuzz-$$t.log; exit 1; }; \
	$(FUZZ_ENV) $(FUZZ_BUILD)/fuzz-$$t -max_total_time=$(FUZZ_SECONDS) $(FUZZ_OPTIONS) \
	  -artifact_prefix=$(FUZZ_BUILD)/crash-$$t- $(FUZZ_BUILD)/corpus/$$t $(FUZZ_SEEDS)/$$t \
	  >> $(FUZZ_BUILD)/fuzz-$$t.log 2>&1 || { tail -n 60 $(FUZZ_BUILD)/fuzz-$$t.log; exit 1; }; \
	grep -E '^#[0-9]+.*(cov|ft):' $(FUZZ_BUILD)/fuzz-$$t.log | tail -n 1; \
	grep -E '^(stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)|Done)' $(FUZZ_BUILD)/fuzz-$$t.log

fuzz-replay: $(REPLAY_BINS) $(FUZZ_SEEDS)/.stamp
	@set -e; for t in $(FUZZ_TARGETS); do \
	  printf '%-10s ' $$t; \
	  $(BUILD)/fuzz/replay-$$t $(FUZZ_SEEDS)/$$t $$(ls -d $(FUZZ_BUILD)/corpus/$$t 2>/dev/null); \
	done

fuzz-clean:
	rm -rf $(FUZZ_BUILD) $(BUILD)/fuzz
clean: fuzz-clean

# ---- sanitizers and valgrind ------------------------------------------------
#   make check-asan       every program and the unit tests built with
#                         AddressSanitizer (leaks included) and UBSan into
#                         $(ASAN_BUILD)/ (gcc or clang, -O1); the unit tests at
#                         the top SIMD level and in plain C, then every bats
#                         test, run on them. The first error aborts its
#                         program (exit 134). ASan's reports also go to
#                         $(ASAN_LOGS)/PART/ and fail the part even where a test
#                         ignores an exit status; UBSan's go to stderr only
#                         (gcc's runtime does not honour log_path for them).
#   make check-valgrind   valgrind memcheck (any error or leak fails) on the
#                         normal build's unit tests, in plain C and at the top
#                         level valgrind can run. Valgrind 3.19 (Debian 12)
#                         has no AVX-512: its CPUID hides it, so on an AVX-512
#                         CPU the detection picks avx2 under valgrind (and
#                         L1B_SIMD=avx512 falls back to avx2 with a warning);
#                         the AVX-512 kernels are checked by check-asan.
# Debian: valgrind.
ASAN_BUILD  = $(BUILD)-asan
ASAN_FLAGS  = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
ASAN_LOGS   = $(abspath $(ASAN_BUILD))/sanitizer-logs
ASAN_OPTS   = detect_leaks=1:abort_on_error=1
ASAN_UBSAN  = UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:abort_on_error=1
VALGRIND    = valgrind -q --error-exitcode=1 --leak-check=full

# The parts, each a target of its own (make -j2 runs two at a time), each
# with its own directory of sanitizer logs: check-asan-unit (top level),
# check-asan-unit-scalar, check-asan-FILE for each tests/cli/FILE.bats;
# check-valgrind-scalar, check-valgrind-top.
ASAN_BATS   = $(patsubst tests/cli/%.bats,%,$(wildcard tests/cli/*.bats))
ASAN_CHECKS = check-asan-unit check-asan-unit-scalar $(ASAN_BATS:%=check-asan-%)
.PHONY: check-asan asan-build $(ASAN_CHECKS) check-valgrind check-valgrind-scalar check-valgrind-top asan-clean
check-asan: $(ASAN_CHECKS)

asan-build:
	$(MAKE) BUILD=$(ASAN_BUILD) CFLAGS="-O1 -g $(ASAN_FLAGS)" LDFLAGS="$(ASAN_FLAGS) $(LDFLAGS)" all unit-tests
	rm -rf $(ASAN_LOGS)

# ASAN_RUN NAME COMMAND...: COMMAND with the sanitizers' logs in
# $(ASAN_LOGS)/NAME/, failing if it fails or left a report there
ASAN_RUN = asan_run() { name=$$1; shift; logs=$(ASAN_LOGS)/$$name; mkdir -p $$logs; \
	     status=0; env ASAN_OPTIONS=$(ASAN_OPTS):log_path=$$logs/asan $(ASAN_UBSAN) "$$@" || status=1; \
	     if [ -n "$$(ls -A $$logs)" ]; then cat $$logs/*; \
	       echo "check-asan-$$name: sanitizer reports above, in $$logs/"; status=1; fi; \
	     return $$status; }
check-asan-unit: asan-build
	@$(ASAN_RUN); echo "== unit tests, top level"; asan_run unit $(ASAN_BUILD)/unit-tests
check-asan-unit-scalar: asan-build
	@$(ASAN_RUN); echo "== unit tests, plain C"; asan_run unit-scalar env L1B_SIMD=scalar $(ASAN_BUILD)/unit-tests
$(ASAN_BATS:%=check-asan-%): check-asan-%: asan-build
	@$(ASAN_RUN); echo "== tests/cli/$*.bats"; \
	asan_run $* env L1B_BIN=$(abspath $(ASAN_BUILD)) bats tests/cli/$*.bats

check-valgrind: check-valgrind-scalar check-valgrind-top
check-valgrind-scalar: $(UNIT_BIN)
	L1B_SIMD=scalar $(VALGRIND) $(UNIT_BIN)
check-valgrind-top: $(UNIT_BIN)
	$(VALGRIND) $(UNIT_BIN)

asan-clean:
	rm -rf $(ASAN_BUILD)
clean: asan-clean

# ---- MPI (README.md, "Training on several machines"; l1b-train(1), MPI) -----
#   make MPI=1       l1b-train that trains one model with the processes
#                    (ranks) mpirun starts, into build-mpi/ (or BUILD=):
#                    lib/dist.c, the exchange between processes, is compiled
#                    a second time with L1B_MPI by $(MPICC) and linked into
#                    l1b-train alone, ahead of the library's single-process
#                    stand-in; the other programs, and the default build,
#                    have no MPI symbol. Started without mpirun it is the
#                    plain l1b-train.
#   make check-mpi   the default build and the MPI build, then the tests in
#                    tests/mpi/ with mpirun --oversubscribe (under a minute)
# Debian: openmpi-bin libopenmpi-dev.
MPICC     ?= mpicc
MPI_BUILD  = $(BUILD)-mpi
ifeq ($(MPI),1)
$(OBJ)/lib/dist-mpi.o: lib/dist.c lib/*.h | $(OBJ)/lib
	$(MPICC) $(ALL_CFLAGS) -DL1B_MPI -c $< -o $@

$(BUILD)/l1b-train: $(OBJ)/cmd/l1b-train.o $(OBJ)/lib/dist-mpi.o $(CMDA) $(LIBA)
	$(MPICC) $(ALL_CFLAGS) $(LDFLAGS) $^ $(LIBS) -o $@
endif

.PHONY: check-mpi mpi-clean
check-mpi: $(BINS)
	$(MAKE) MPI=1 BUILD=$(MPI_BUILD) all
	@sh tests/layout/quiet-core.sh $(MPI_BUILD)/obj/lib/dist-mpi.o
	L1B_BIN=$(abspath $(MPI_BUILD)) L1B_PLAIN_BIN=$(abspath $(BUILD)) bats tests/mpi

mpi-clean:
	rm -rf $(MPI_BUILD)
clean: mpi-clean
