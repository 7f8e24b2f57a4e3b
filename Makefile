# af_ktls — entry points. See README.md.
#
#   make               build af_ktls.ko against KDIR (default: the test kernel, built on demand)
#   make check         everything CI runs: userspace lint/tests, module, KUnit + tests in QEMU
#   make kernel        build the test kernel (KERNEL_FLAVOUR=base|debug) into the cache
#   make kunit-fail    prove the harness fails: check with one deliberately failing KUnit case
#   make fuzz          fuzz the record layer (FUZZ_SECONDS per target, default 300)
#   make demo          real handshakes, 64 MiB each way through af_ktls / userspace / ulp, a table
#   make lib           libafktls (C: OpenSSL/GnuTLS session -> AF_KTLS) into build/lib, with
#                      pkg-config files; make -C lib install PREFIX=... installs it
#   make stress        ktls-stress on the debug kernel (STRESS_SECONDS, default 300; STRESS_ARGS)
#   make bench         af_ktls against mainline kTLS, userspace and plain sockets in the test VM
#                      (BENCH=scenario[,scenario], SMP=1|2; see Documentation/benchmarks.md)
#
# Kbuild reads ./Kbuild, not this file.

SHELL := bash
include tools/versions.env

AF_KTLS_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/af_ktls
export AF_KTLS_CACHE
KERNEL_FLAVOUR ?= base
DEFAULT_KDIR := $(AF_KTLS_CACHE)/build/kernel-$(KERNEL_FLAVOUR)
KDIR ?= $(DEFAULT_KDIR)
BINDGEN ?= $(if $(wildcard $(AF_KTLS_CACHE)/bin/bindgen),$(AF_KTLS_CACHE)/bin/bindgen,bindgen)
export LIBCLANG_PATH ?= /usr/lib/llvm-$(LLVM_VERSION)/lib

# A clang-built kernel (the debug flavour: KASAN with Rust needs clang) needs the module built
# with the same compiler.
KDIR_LLVM = $(if $(shell grep -sx CONFIG_CC_IS_CLANG=y $(KDIR)/.config),LLVM=-$(LLVM_VERSION))
KBUILD_MAKE = $(MAKE) -C $(KDIR) M=$(CURDIR) BINDGEN=$(BINDGEN) $(KDIR_LLVM)

.PHONY: all module kernel check kunit-fail clippy-module clean demo bench aead-bench fuzz lib stress

all: module

kernel:
	KERNEL_FLAVOUR=$(KERNEL_FLAVOUR) tools/build-kernel.sh >/dev/null

# Only the default KDIR is ours to build; any other Rust-enabled >= 7.3 tree is used as it is.
module: $(if $(filter $(DEFAULT_KDIR),$(KDIR)),kernel)
	$(KBUILD_MAKE) modules

clippy-module: $(if $(filter $(DEFAULT_KDIR),$(KDIR)),kernel)
	$(KBUILD_MAKE) CLIPPY=1 AF_KTLS_TEST=1 modules

check:
	tools/check.sh

lib:
	$(MAKE) -C lib

kunit-fail:
	AF_KTLS_KUNIT_FAIL=1 tools/check.sh --vm-only

FUZZ_SECONDS ?= 300
fuzz:
	tools/fuzz-smoke.sh $(FUZZ_SECONDS)

clean:
	-$(KBUILD_MAKE) clean
	-$(MAKE) -C $(KDIR) M=$(CURDIR)/tools/aead-bench $(KDIR_LLVM) clean
	rm -rf build rust/helpers_generated.rs rust/ktls_uapi_generated.rs

demo:
	tools/demo.sh

# STRESS_ARGS go to ktls-stress (e.g. --seed 0x1234, --threads 8); "--skip known" leaves out the
# operation kinds that trigger known, unfixed kernel defects (KNOWN_DEFECTS in
# tests/stress/stress.h). STRESS_ARGS= runs everything.
STRESS_SECONDS ?= 300
STRESS_ARGS ?= --skip known
stress:
	tools/stress.sh $(STRESS_SECONDS) $(STRESS_ARGS)

bench:
	BENCH="$(BENCH)" SMP="$(SMP)" TCG_SMP="$(TCG_SMP)" BENCH_MODES="$(BENCH_MODES)" \
	BENCH_REPS="$(BENCH_REPS)" BENCH_SCALE="$(BENCH_SCALE)" TCG_SCALE="$(TCG_SCALE)" \
	BENCH_ARGS="$(BENCH_ARGS)" tools/bench.sh

# The benchmark's in-kernel AEAD ceiling (tools/aead-bench): a module of its own, built against
# the same kernel, never installed or loaded with af_ktls.
aead-bench: $(if $(filter $(DEFAULT_KDIR),$(KDIR)),kernel)
	$(MAKE) -C $(KDIR) M=$(CURDIR)/tools/aead-bench $(KDIR_LLVM) modules
