#!/usr/bin/env bash
# make check: the whole test suite, as CI runs it (.ci/run).
#
#   tools/check.sh            host checks, module build, then the VM suite on each flavour
#   tools/check.sh --vm-only  module build and the VM suite only
#
# AF_KTLS_CHECK_FLAVOURS (default "base debug") picks the kernels the VM suite runs on;
# AF_KTLS_CHECK_INTEROP=0 leaves out the interop matrix; AF_KTLS_CHECK_STRESS (default 60) is
# how many seconds ktls-stress runs on the debug kernel (0: not at all); AF_KTLS_KUNIT_FAIL=1 (make kunit-fail)
# builds the module with one failing KUnit case and runs only the KUnit part of the VM suite;
# AF_KTLS_CHECK_LOGS (default build/check) is where each step's log goes.
# Ends with a plain "N passed, N failed" line; exits non-zero on any failure.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
cd "$repo"
vm_only=0
[ "${1:-}" = --vm-only ] && vm_only=1
flavours=${AF_KTLS_CHECK_FLAVOURS:-base debug}
logs=$(realpath -m "${AF_KTLS_CHECK_LOGS:-$repo/build/check}")
mkdir -p "$logs"
passed=0 failed=0
start=$(date +%s)

# step NAME COMMAND...: one host-side check; its output goes to build/check/NAME.log.
step() {
    local name=$1; shift
    local t0=$(date +%s)
    if "$@" >"$logs/$name.log" 2>&1; then
        echo "PASS  $name ($(( $(date +%s) - t0 )) s)"; passed=$((passed + 1))
    else
        echo "FAIL  $name ($(( $(date +%s) - t0 )) s, log: ${logs#"$repo"/}/$name.log)"
        tail -n 60 "$logs/$name.log" | sed 's/^/    | /'
        failed=$((failed + 1))
    fi
}

# no_warnings COMMAND...: runs COMMAND and fails if it printed a compiler warning.
no_warnings() {
    local out rc
    out=$("$@" 2>&1); rc=$?
    printf '%s\n' "$out"
    [ "$rc" = 0 ] || return "$rc"
    ! grep -qiE '(^|[^a-z_])warning[:\[]' <<<"$out"
}

echo "== toolchain and kernels"
step toolchain tools/setup-toolchain.sh
for f in $flavours; do
    step "kernel_$f" env KERNEL_FLAVOUR="$f" tools/build-kernel.sh
done

if [ "$vm_only" = 0 ] && [ -f Cargo.toml ]; then
    echo "== userspace crates"
    step cargo_fmt cargo fmt --all --check
    # The module's own Rust (rustfmt follows its `mod` declarations from the crate root).
    step module_rustfmt rustfmt --edition 2021 --check rust/af_ktls.rs
    step cargo_clippy no_warnings cargo clippy --workspace --all-targets --locked -- -D warnings
    step cargo_test cargo test --workspace --locked
    # The record layer's fuzz targets, briefly (make fuzz runs them longer).
    step fuzz_smoke tools/fuzz-smoke.sh 10
fi

if [ "$vm_only" = 0 ]; then
    echo "== the harness itself"
    step vm_run_selftest tests/vm-run-selftest.sh
    # A deliberately failing KUnit case must fail the VM suite (make kunit-fail).
    # It must fail for that case and nothing else: exactly one failure, reported as not ok.
    step kunit_failure_is_detected bash -c \
        'out=$(AF_KTLS_KUNIT_FAIL=1 AF_KTLS_CHECK_FLAVOURS=base \
             AF_KTLS_CHECK_LOGS=build/check/kunit-fail tools/check.sh --vm-only 2>&1)
         rc=$?; printf "%s\n" "$out"
         [ $rc != 0 ] && grep -q "not ok [0-9]* deliberately_failing_case" <<<"$out" &&
             grep -qE "^[0-9]+ passed, 1 failed$" <<<"$out"'
fi

echo "== module"
step module_build no_warnings make -s KERNEL_FLAVOUR=base AF_KTLS_TEST=1 module
if [ "$vm_only" = 0 ]; then
    step module_clippy no_warnings make -s KERNEL_FLAVOUR=base clippy-module
fi
step c_tests_build make -s -C tests/c
# libafktls (lib/): static and shared libraries, pkg-config files, its tests and the OpenSSL/
# GnuTLS examples (tests/lib); keys_test needs no kernel: OpenSSL-derived keys against GnuTLS's.
step lib_build make -s lib
step lib_tests_build make -s -C tests/lib
if [ "$vm_only" = 0 ]; then
    step lib_keys_test build/tests/lib/keys_test
fi
step stress_build make -s -C tests/stress
# ktls-tool drives the interop tests in the VM (which has no cargo); the example is the
# documented Rust program. Naming an --example makes cargo build only the named targets, so the
# binary is named too, and the step checks that all exist.
step ktls_tool_build bash -c 'cargo build --release --locked -q -p ktls-tool -p af-ktls \
        --bin ktls-tool --example tls13_loopback --example rustls_echo --example nondata_records \
        --example key_update &&
    test -x target/release/ktls-tool && test -x target/release/examples/tls13_loopback &&
    test -x target/release/examples/rustls_echo && test -x target/release/examples/nondata_records &&
    test -x target/release/examples/key_update'
# make bench's smoke in the VM suite (base kernel): ktls-bench and the ceiling module.
step bench_build bash -c 'cargo build --release --locked -q -p ktls-bench &&
    make -s KERNEL_FLAVOUR=base aead-bench && test -f tools/aead-bench/ktls_aead_bench.ko'


for f in $flavours; do
    echo "== VM suite on the $f kernel"
    opt=(); [ "$f" = debug ] && opt=(--debug)
    # The module must be built against the very kernel it is loaded into (lockdep changes
    # struct layouts), so each flavour rebuilds it in the tree.
    if [ "$f" != base ]; then
        step "module_build_$f" no_warnings make -s KERNEL_FLAVOUR="$f" AF_KTLS_TEST=1 module
    fi
    vmlog=$logs/vm-$f.log
    # The interop matrix (about four minutes of emulated handshakes) runs on the base kernel;
    # the debug kernel runs everything else under lockdep, kmemleak and slub debugging.
    suite=(tests/vm/run.sh)
    if [ "$f" = debug ] || [ "${AF_KTLS_CHECK_INTEROP:-1}" = 0 ]; then suite+=(--no-interop); fi
    # The benchmark's smoke runs on the base kernel (its ceiling module is built for that one).
    [ "$f" = debug ] && suite+=(--no-bench)
    [ "${AF_KTLS_KUNIT_FAIL:-0}" = 1 ] && suite+=(--kunit-only)
    # The stress tool on the debug kernel, where KASAN, lockdep and the hung-task detector see it.
    if [ "$f" = debug ] && [ "${AF_KTLS_CHECK_STRESS:-60}" -gt 0 ]; then
        suite+=(--stress "${AF_KTLS_CHECK_STRESS:-60}")
    fi
    tools/vm-run "${opt[@]}" --timeout 1200 -- "${suite[@]}" 2>&1 | tee "$vmlog"
    line=$(grep -E '^vm: [0-9]+ passed, [0-9]+ failed' "$vmlog" | tail -1)
    if [ -z "$line" ]; then
        echo "FAIL  vm_suite_$f: no summary from the guest (see $vmlog, build/vm/last-console.log)"
        failed=$((failed + 1))
    else
        p=$(sed -E 's/^vm: ([0-9]+) passed.*/\1/' <<<"$line")
        q=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
        passed=$((passed + p)); failed=$((failed + q))
    fi
    cp build/vm/last-dmesg.log "$logs/vm-$f-dmesg.log" 2>/dev/null || true
done

echo "== done in $(( $(date +%s) - start )) s"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
