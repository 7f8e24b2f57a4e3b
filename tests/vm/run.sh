#!/usr/bin/env bash
# The af_ktls test suite inside the test VM (run by tools/check.sh through tools/vm-run):
# loads the module, parses its KUnit results, runs the C tests, unloads, and checks the kernel
# log for warnings, bugs and leaks. Prints one line per check and ends with "N passed, N failed".
#
#   tests/vm/run.sh [--no-interop] [--no-bench] [--kunit-only] [--stress SECONDS]
#     --no-interop  skips the OpenSSL/GnuTLS interop matrix
#     --no-bench    skips the smoke run of make bench's scenarios
#     --kunit-only  loads the module, parses KUnit, unloads and checks the log (make kunit-fail)
#     --stress S    runs ktls-stress for S seconds (tests/stress; the kinds of operation that
#                   trigger known defects are left out: --skip known)
set -u
interop=1 bench=1 kunit_only=0 stress=0
usage() { echo "usage: $0 [--no-interop] [--no-bench] [--kunit-only] [--stress SECONDS]" >&2; exit 2; }
while [ $# -gt 0 ]; do
    case $1 in
        --no-interop) interop=0 ;;
        --no-bench) bench=0 ;;
        --kunit-only) kunit_only=1 interop=0 bench=0 ;;
        --stress) [ $# -ge 2 ] || usage; stress=$2; shift ;;
        *) usage ;;
    esac
    shift
done
repo=$(cd "$(dirname "$0")/../.." && pwd)
cache=${AF_KTLS_CACHE:?AF_KTLS_CACHE must be set}
kunit_py=$cache/src/linux/tools/testing/kunit/kunit.py
out=$repo/build/vm/results
mkdir -p "$out"
passed=0 failed=0

# check NAME COMMAND...: runs COMMAND, logs its output to $out/NAME.log, counts one result.
# Durations are guest seconds (emulated, so only for comparing parts of one run).
check() {
    local name=$1 t0=$SECONDS; shift
    if "$@" >"$out/$name.log" 2>&1; then
        echo "PASS  $name ($((SECONDS - t0)) s)"; passed=$((passed + 1))
    else
        echo "FAIL  $name ($((SECONDS - t0)) s, log: build/vm/results/$name.log)"; sed 's/^/    | /' "$out/$name.log" | tail -n 40
        failed=$((failed + 1))
    fi
}

# count NAME PASSED FAILED START: adds the results of a harness that counts its own cases and
# started at $SECONDS = START.
count() {
    echo "      $1: $2 passed, $3 failed ($((SECONDS - $4)) s)"
    passed=$((passed + $2)); failed=$((failed + $3))
}

dmesg -C
kunit_start=$SECONDS
check insmod insmod "$repo/af_ktls.ko"
check family_registered grep -q "af_ktls: registered AF_KTLS as address family 12" <(dmesg)
check family_in_sysfs bash -c '[ "$(cat /sys/module/af_ktls/parameters/family)" = 12 ]'

# KUnit: the module's suites ran during insmod; kunit.py parses the KTAP in the log.
dmesg --notime > "$out/kunit-dmesg.log"
python3 "$kunit_py" parse < "$out/kunit-dmesg.log" > "$out/kunit.log" 2>&1
kunit_rc=$?
summary=$(sed 's/\x1b\[[0-9;]*m//g' "$out/kunit.log" | grep -E 'Testing complete\. Ran [0-9]+ tests' | tail -1)
kunit_pass=$(sed -nE 's/.*passed: ([0-9]+).*/\1/p' <<<"$summary"); kunit_pass=${kunit_pass:-0}
kunit_fail=$(sed -nE 's/.*failed: ([0-9]+).*/\1/p' <<<"$summary"); kunit_fail=${kunit_fail:-0}
if [ "$kunit_rc" != 0 ] || [ "$kunit_pass" = 0 ]; then
    sed 's/\x1b\[[0-9;]*m//g' "$out/kunit.log" | sed 's/^/    | /' | tail -n 40
    [ "$kunit_fail" = 0 ] && kunit_fail=1
fi
grep -E '^\s*(# Subtest:|ok|not ok)' "$out/kunit-dmesg.log" | sed 's/^/      /'
count kunit "$kunit_pass" "$kunit_fail" "$kunit_start"

# C tests through <linux/ktls.h> (cmocka).
run_cmocka() {
    local name=$1 t0=$SECONDS; shift
    "$@" > "$out/$name.log" 2>&1
    local rc=$? p f
    p=$(sed -nE 's/^\[  PASSED  \] ([0-9]+) test.*/\1/p' "$out/$name.log"); p=${p:-0}
    f=$(sed -nE 's/^\[  FAILED  \] ([0-9]+) test.*/\1/p' "$out/$name.log"); f=${f:-0}
    if [ "$rc" != 0 ] || [ "$p" = 0 ]; then
        sed 's/^/    | /' "$out/$name.log" | tail -n 40; [ "$f" = 0 ] && f=1
    fi
    count "$name" "$p" "$f" "$t0"
}

# C tests written with the kernel's kselftest harness: it ends with
# "# Totals: pass:N fail:N xfail:N xpass:N skip:N error:N". An expected failure (xfail) counts as
# passed, an unexpected pass (xpass) and an error as failed; skips are listed, not counted.
run_ksft() {
    local name=$1 t0=$SECONDS; shift
    "$@" > "$out/$name.log" 2>&1
    local rc=$? totals p f s
    totals=$(grep -E '^# Totals: ' "$out/$name.log" | tail -1)
    p=$(sed -nE 's/.* pass:([0-9]+) fail:([0-9]+) xfail:([0-9]+) xpass:([0-9]+) skip:([0-9]+) error:([0-9]+).*/\1 \3/p' <<<"$totals")
    f=$(sed -nE 's/.* pass:([0-9]+) fail:([0-9]+) xfail:([0-9]+) xpass:([0-9]+) skip:([0-9]+) error:([0-9]+).*/\2 \4 \6/p' <<<"$totals")
    s=$(sed -nE 's/.* skip:([0-9]+) .*/\1/p' <<<"$totals")
    p=$(( ${p// /+} + 0 )) f=$(( ${f// /+} + 0 )) s=${s:-0}
    grep -E '^not ok ' "$out/$name.log" | sed 's/^/    | /'
    if [ "$rc" != 0 ] || [ -z "$totals" ]; then
        [ -z "$totals" ] && tail -n 40 "$out/$name.log" | sed 's/^/    | /'
        [ "$f" = 0 ] && f=1
    fi
    [ "$s" != 0 ] && echo "      $name: $s skipped (the log says why)"
    count "$name" "$p" "$f" "$t0"
}

if [ "$kunit_only" = 0 ]; then
    run_cmocka c_socket "$repo/build/tests/c/socket_test"
    run_cmocka c_data "$repo/build/tests/c/data_test"
    # The debug kernel (the one with kmemleak) runs the ported selftest's TLS fixture for two of
    # its six variants: TLS 1.2 AES-128-GCM (explicit nonce) and TLS 1.3 ChaCha20-Poly1305. All
    # six take about ten minutes there; the other four add only key sizes and combinations.
    # (tls_err then runs for TLS 1.2 only.)
    tls_filter=()
    [ -e /sys/kernel/debug/kmemleak ] &&
        tls_filter=(-V 13_aes_gcm -V 12_chacha -V 12_aes_gcm_256 -V 13_aes_gcm_256)
    run_ksft c_tls_selftest "$repo/build/tests/c/tls_selftest" "${tls_filter[@]}"
    run_ksft c_dtls_selftest "$repo/build/tests/c/dtls_selftest"
    # The same with decrypt-ahead off (ktls_test.h reads KTLS_DECRYPT_AHEAD); the TLS selftest
    # only on the base kernel (about a minute), the debug kernel runs the DTLS one.
    if [ ! -e /sys/kernel/debug/kmemleak ]; then
        run_ksft c_tls_selftest_inline env KTLS_DECRYPT_AHEAD=0 "$repo/build/tests/c/tls_selftest"
    fi
    run_ksft c_dtls_selftest_inline env KTLS_DECRYPT_AHEAD=0 "$repo/build/tests/c/dtls_selftest"
    run_ksft c_ahead "$repo/build/tests/c/ahead_test"
    run_ksft c_longlived "$repo/build/tests/c/longlived_test"
    run_ksft c_zerocopy "$repo/build/tests/c/zerocopy_test"
    run_ksft c_reliability "$repo/build/tests/c/reliability_test"
    check doc_example_tls13_loopback "$repo/build/tests/c/tls13_loopback"
    check doc_example_rust_tls13_loopback "$repo/target/release/examples/tls13_loopback"
    # rustls in userspace on one end, AF_KTLS (af_ktls::from_rustls) on the other, both roles.
    check doc_example_rust_rustls_echo "$repo/target/release/examples/rustls_echo"
    check doc_example_rust_nondata_records "$repo/target/release/examples/nondata_records"
    # TLS 1.3 KeyUpdates both ways at once through AfKtlsStream, against rustls in userspace.
    check doc_example_rust_key_update "$repo/target/release/examples/key_update"
    # libafktls: OpenSSL and GnuTLS sessions handed over, against the other library in userspace.
    run_cmocka lib_handoff "$repo/build/tests/lib/handoff_test"
fi

# The stress tool's data check can fail: one wrong byte in its first round must be reported.
stress_detects_corruption() {
    local out rc
    out=$("$repo/build/tests/stress/ktls-stress" --seconds 30 --threads 0 --lanes 1 \
        --inject-corruption 2>&1)
    rc=$?
    printf '%s\n' "$out"
    [ "$rc" = 1 ] && grep -qE 'FINDING: lane 0 round 0 .*(stream corrupted|never sent)' <<<"$out"
}

# Random operation sequences on AF_KTLS sockets and the sockets they are bound to, beside
# verified traffic; a call stuck for 30 s, a data mismatch or a kernel splat fails it.
if [ "$kunit_only" = 0 ] && [ "$stress" -gt 0 ]; then
    check stress "$repo/build/tests/stress/ktls-stress" --seconds "$stress" --skip known
    check stress_detects_corruption stress_detects_corruption
    # What the tool passed over UNIX sockets and left in flight is released after its exit;
    # the module's reference count says when (rmmod below must then succeed at once).
    for _ in $(seq 40); do
        [ "$(cat /sys/module/af_ktls/refcnt 2>/dev/null)" = 0 ] && break
        sleep 0.25
    done
fi

# run_harness NAME COMMAND...: a script that prints PASS/FAIL/SKIP lines (details indented
# under them) and ends with "N passed, N failed"; its failures are shown, its counts added.
run_harness() {
    local name=$1 t0=$SECONDS; shift
    "$@" > "$out/$name.log" 2>&1
    local rc=$? p f
    p=$(sed -nE 's/^([0-9]+) passed, ([0-9]+) failed.*/\1/p' "$out/$name.log"); p=${p:-0}
    f=$(sed -nE 's/^([0-9]+) passed, ([0-9]+) failed.*/\2/p' "$out/$name.log"); f=${f:-0}
    awk '/^(FAIL|SKIP)/ { show = 1; print; next } /^    / { if (show) print; next } { show = 0 }' \
        "$out/$name.log" | sed 's/^/    | /'
    if [ "$rc" != 0 ] || [ "$p" = 0 ]; then
        tail -n 20 "$out/$name.log" | sed 's/^/    | /'; [ "$f" = 0 ] && f=1
    fi
    count "$name" "$p" "$f" "$t0"
}
if [ "$interop" = 1 ]; then
    # Real handshakes (rustls, OpenSSL) handed to AF_KTLS, against OpenSSL and GnuTLS peers; and
    # the same matrix through mainline kTLS, which shows the harness and peers work independently
    # of us.
    run_harness interop_af_ktls "$repo/tests/interop/run.sh" af_ktls
    run_harness interop_ulp "$repo/tests/interop/run.sh" ulp
    # TLS 1.3 KeyUpdates, many and both ways at once, against rustls, mainline kTLS, OpenSSL
    # and GnuTLS (about 50 guest seconds).
    run_harness interop_rekey "$repo/tests/interop/rekey.sh"
    # The documentation's OpenSSL and GnuTLS echo examples (libafktls) against gnutls-serv and
    # the other library's example in userspace.
    run_harness lib_examples "$repo/tests/lib/examples.sh"
    # The HTTPS file server (ktls-tool serve, sendfile on AF_KTLS) fetched by curl (TLS 1.3)
    # and openssl s_client (TLS 1.2): a 64 MiB file's SHA-256 must match.
    run_harness https_sendfile "$repo/tests/https/run.sh" 64
fi

# make bench's scenarios once each with tiny sizes (tools/ktls-bench run --smoke): every backend
# of every scenario must move correct data. A smoke of the benchmark, never a speed test.
run_bench_smoke() {
    local t0=$SECONDS p f
    if ! insmod "$repo/tools/aead-bench/ktls_aead_bench.ko" > "$out/bench_smoke.log" 2>&1; then
        sed 's/^/    | /' "$out/bench_smoke.log"; count bench_smoke 0 1 "$t0"; return
    fi
    "$repo/target/release/ktls-bench" run --smoke >> "$out/bench_smoke.log" 2>&1
    local rc=$?
    rmmod ktls_aead_bench
    p=$(sed -nE 's/^bench: ([0-9]+) passed, ([0-9]+) failed$/\1/p' "$out/bench_smoke.log"); p=${p:-0}
    f=$(sed -nE 's/^bench: ([0-9]+) passed, ([0-9]+) failed$/\2/p' "$out/bench_smoke.log"); f=${f:-0}
    grep -E '^FAIL|^    \|' "$out/bench_smoke.log" | sed 's/^/    | /'
    if [ "$rc" != 0 ] || [ "$p" = 0 ]; then
        tail -n 20 "$out/bench_smoke.log" | sed 's/^/    | /'; [ "$f" = 0 ] && f=1
    fi
    count bench_smoke "$p" "$f" "$t0"
}
[ "$bench" = 1 ] && run_bench_smoke

check rmmod rmmod af_ktls
if [ "$kunit_only" = 0 ]; then
    run_cmocka c_without_module "$repo/build/tests/c/socket_test" --no-module
    run_cmocka lib_without_module "$repo/build/tests/lib/handoff_test" --no-module
    check reload_cycles bash -c "for i in 1 2 3; do insmod '$repo/af_ktls.ko' && rmmod af_ktls || exit 1; done"
    # Unload right after sockets closed with decrypt-ahead work queued or running: a socket's
    # last reference may be its work item's for a moment (rmmod then says the module is in use,
    # as for any socket family), so rmmod gets a second.
    check rmmod_right_after_close bash -c "for i in 1 2 3; do insmod '$repo/af_ktls.ko' || exit 1
        '$repo/build/tests/c/ahead_test' -r ahead.tls13_chacha_ahead.close_while_records_arrive \
            -r ahead.dtls_aes_gcm_ahead.close_while_records_arrive > /dev/null || exit 1
        for try in 1 2 3 4 5 6 7 8 9 10; do rmmod af_ktls 2>/dev/null && break; sleep 0.1; done
        ! grep -q '^af_ktls ' /proc/modules || exit 1; done"
    # Every transform wrapped in cryptd(), an asynchronous implementation (force_cryptd): the
    # data path waits for it, and decrypt-ahead starts several TLS 1.2/DTLS 1.2 records at once
    # and completes them from the callback (KtlsRxAsyncRecords must count some).
    if insmod "$repo/af_ktls.ko" force_cryptd=1; then
        async_before=$(awk '$1 == "KtlsRxAsyncRecords" { print $2 }' /proc/net/af_ktls)
        run_cmocka c_data_cryptd "$repo/build/tests/c/data_test"
        run_ksft c_ahead_cryptd "$repo/build/tests/c/ahead_test"
        run_ksft c_dtls_selftest_cryptd "$repo/build/tests/c/dtls_selftest"
        run_ksft c_longlived_cryptd "$repo/build/tests/c/longlived_test"
        cryptd_variants=(-v 12_aes_gcm -v 13_chacha)
        [ -e /sys/kernel/debug/kmemleak ] && cryptd_variants=(-v 12_aes_gcm)
        run_ksft c_tls_selftest_cryptd "$repo/build/tests/c/tls_selftest" "${cryptd_variants[@]}"
        check async_records_counted bash -c "[ \"\$(awk '\$1 == \"KtlsRxAsyncRecords\" { print \$2 }' /proc/net/af_ktls)\" -gt '${async_before:-0}' ]"
        check rmmod_after_cryptd bash -c "for try in 1 2 3 4 5 6 7 8 9 10; do rmmod af_ktls 2>/dev/null && exit 0; sleep 0.1; done; exit 1"
    else
        check insmod_force_cryptd false
    fi
    check family_parameter_moves_the_family bash -c "insmod '$repo/af_ktls.ko' family=41 &&
        [ \"\$(cat /sys/module/af_ktls/parameters/family)\" = 41 ] && rmmod af_ktls"
    check lib_follows_moved_family bash -c "insmod '$repo/af_ktls.ko' family=41 || exit 1
        '$repo/build/tests/lib/handoff_test' --family 41; rc=\$?; rmmod af_ktls && exit \$rc"
    check family_parameter_rejects_out_of_range bash -c "! insmod '$repo/af_ktls.ko' family=46 && ! insmod '$repo/af_ktls.ko' family=0"
    check family_parameter_rejects_taken_number bash -c "! insmod '$repo/af_ktls.ko' family=2"
fi

if [ -w /sys/kernel/debug/kmemleak ]; then
    # Two scans: kmemleak reports an object only once it has stayed unreferenced for a scan.
    echo scan > /sys/kernel/debug/kmemleak; sleep 1; echo scan > /sys/kernel/debug/kmemleak
    check kmemleak_clean bash -c '! grep -q . /sys/kernel/debug/kmemleak || { cat /sys/kernel/debug/kmemleak; false; }'
fi

# The kernel log of the whole run must be free of warnings, bugs and leak reports.
dmesg > "$out/final-dmesg.log"
check kernel_log_clean bash -c "! grep -E 'WARNING:|BUG:|Oops|kmemleak:.*(leak|suspected)|refcount_t|KASAN|UBSAN|general protection|Kernel panic|Call Trace|blocked for more than|soft lockup|ODEBUG' '$out/final-dmesg.log'"

echo "vm: $passed passed, $failed failed"
[ "$failed" = 0 ]
