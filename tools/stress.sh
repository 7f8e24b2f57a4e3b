#!/usr/bin/env bash
# make stress: ktls-stress on the debug kernel (KASAN, lockdep, kmemleak, hung-task and
# soft-lockup detectors, debug objects). See Documentation/testing.md.
#
#   tools/stress.sh SECONDS [ktls-stress arguments...]
#
# Builds the module for the debug kernel and the tool, boots the debug kernel, loads the module,
# runs the tool for SECONDS, unloads the module (must succeed), scans kmemleak and checks the
# kernel log (tests/stress/vm.sh). Fails on any finding, splat, leak, rmmod failure or a hang
# (the VM's timeout). Logs: build/stress/.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
cd "$repo"
seconds=${1:-300}
shift || true
case $seconds in ''|*[!0-9]*) echo "usage: $0 SECONDS [ktls-stress arguments...]" >&2; exit 2 ;; esac
mkdir -p build/stress

echo "== building the module for the debug kernel and ktls-stress"
make -s KERNEL_FLAVOUR=debug AF_KTLS_TEST=1 module || exit 1
make -s -C tests/stress || exit 1

# The debug guest boots in about 20 s and runs the KUnit suites at insmod; kmemleak's scans of
# a 2 GiB guest under KASAN take a while too. A run that ends inside this margin is no hang.
timeout=$((seconds + 600))
echo "== ktls-stress for $seconds s on the debug kernel (VM timeout $timeout s)"
tools/vm-run --debug --timeout "$timeout" -- tests/stress/vm.sh -s "$seconds" "$@" 2>&1 |
    tee build/stress/vm.log
rc=${PIPESTATUS[0]}
cp build/vm/last-dmesg.log build/stress/last-dmesg.log 2>/dev/null || true
case $rc in
    0) echo "make stress: PASS" ;;
    124) echo "make stress: FAIL: the VM did not finish in $timeout s: a hang (build/vm/last-console.log)" ;;
    *) echo "make stress: FAIL (logs: build/stress/, guest kernel log: build/stress/last-dmesg.log)" ;;
esac
exit "$rc"
