#!/usr/bin/env bash
# make stress, inside the test VM (tools/stress.sh boots it): loads the module, runs ktls-stress
# with the given arguments, unloads the module, scans for leaks and checks the kernel log. Prints
# one PASS/FAIL line per check and ends with "stress: N passed, N failed".
#
#   tests/stress/vm.sh [ktls-stress arguments...]
set -u
repo=$(cd "$(dirname "$0")/../.." && pwd)
out=$repo/build/stress
mkdir -p "$out"
passed=0 failed=0

# check NAME COMMAND...: as tests/vm/run.sh: output to $out/NAME.log, one result.
check() {
    local name=$1 t0=$SECONDS; shift
    if "$@" >"$out/$name.log" 2>&1; then
        echo "PASS  $name ($((SECONDS - t0)) s)"; passed=$((passed + 1))
    else
        echo "FAIL  $name ($((SECONDS - t0)) s, log: build/stress/$name.log)"
        sed 's/^/    | /' "$out/$name.log" | tail -n 40
        failed=$((failed + 1))
    fi
}

# What the tool passed over UNIX sockets and left in flight is released after its exit; the
# module's reference count says when. rmmod must then succeed at once.
settle() {
    local t0=$SECONDS
    for _ in $(seq 40); do
        [ "$(cat /sys/module/af_ktls/refcnt 2>/dev/null)" = 0 ] && break
        sleep 0.25
    done
    echo "module references after the run: $(cat /sys/module/af_ktls/refcnt) ($((SECONDS - t0)) s)"
    [ "$(cat /sys/module/af_ktls/refcnt)" = 0 ] && return
    # Who still holds AF_KTLS sockets: the per-protocol socket counts, and processes with fds.
    grep -E '^(protocol|AF_KTLS|UNIX|TCP |UDP )' /proc/net/protocols | cut -c1-40
    cat /proc/net/sockstat
    for p in /proc/[0-9]*; do
        n=$(ls -l "$p/fd" 2>/dev/null | grep -c socket)
        [ "$n" -gt 0 ] && echo "pid ${p#/proc/} ($(cat "$p/comm")): $n sockets, state $(awk '{print $3}' "$p/stat")"
    done
    sleep 30
    echo "module references 30 s later: $(cat /sys/module/af_ktls/refcnt)"
}

dmesg -C
check insmod insmod "$repo/af_ktls.ko"
t0=$SECONDS
"$repo/build/tests/stress/ktls-stress" "$@" 2>&1 | tee "$out/ktls-stress.log"
rc=${PIPESTATUS[0]}
if [ "$rc" = 0 ]; then
    echo "PASS  ktls-stress ($((SECONDS - t0)) s)"; passed=$((passed + 1))
else
    echo "FAIL  ktls-stress (exit $rc, $((SECONDS - t0)) s, log: build/stress/ktls-stress.log)"
    failed=$((failed + 1))
fi
settle
check rmmod rmmod af_ktls
if [ -w /sys/kernel/debug/kmemleak ]; then
    # Two scans: kmemleak reports an object only once it has stayed unreferenced for a scan.
    echo scan > /sys/kernel/debug/kmemleak; sleep 1; echo scan > /sys/kernel/debug/kmemleak
    check kmemleak_clean bash -c '! grep -q . /sys/kernel/debug/kmemleak || { cat /sys/kernel/debug/kmemleak; false; }'
fi
dmesg > "$out/dmesg.log"
check kernel_log_clean bash -c "! grep -E 'WARNING:|BUG:|Oops|kmemleak:.*(leak|suspected)|refcount_t|KASAN|UBSAN|general protection|Kernel panic|Call Trace|blocked for more than|soft lockup|ODEBUG' '$out/dmesg.log'"
echo "stress: $passed passed, $failed failed"
[ "$failed" = 0 ]
