#!/usr/bin/env bash
# make bench: af_ktls against mainline kernel TLS, userspace TLS and plain sockets, measured in
# the test VM (Documentation/benchmarks.md).
#
#   make bench [BENCH=scenario[,scenario]] [SMP=2|1]
#
# Builds the module (not a test build: no KUnit), the ceiling module tools/aead-bench and
# ktls-bench, then boots the VM once per QEMU mode and runs every backend of the chosen
# scenarios in that one boot, interleaved and repeated:
#   icount  -icount shift=0: guest time is the instruction count, deterministic (the primary
#           figures; the two vCPUs take turns on one host thread)
#   tcg     multi-threaded TCG, wall clock (the secondary figures; noisy on a shared host)
# Writes build/bench/results.json (with commit, kernel and QEMU mode), build/bench/report.txt
# (the tables) and build/bench/<scenario>.svg (icount) and <scenario>-tcg.svg.
#
# Environment: BENCH (scenarios, default all), SMP (guest CPUs, default 2; 1 shows the total cost
# of both ends on one CPU), BENCH_MODES (default "icount tcg"), BENCH_REPS (default 3),
# BENCH_SCALE (multiplies every measurement's amount of data, default 1), BENCH_ARGS (more
# ktls-bench run options).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
cd "$repo"
scenarios=${BENCH:-}
smp=${SMP:-2}
modes=${BENCH_MODES:-icount tcg}
reps=${BENCH_REPS:-3}
scale=${BENCH_SCALE:-1}
out=build/bench
mkdir -p "$out"

echo "==> building af_ktls.ko (no KUnit), tools/aead-bench and ktls-bench" >&2
kbuild=$(KERNEL_FLAVOUR=base "$here/build-kernel.sh" 2>/dev/null | tail -1)
make -s KERNEL_FLAVOUR=base module >/dev/null
make -s KERNEL_FLAVOUR=base aead-bench >/dev/null
cargo build --release --locked -q -p ktls-bench

args=(--reps "$reps" --scale "$scale")
if [ -n "$scenarios" ]; then
    for s in ${scenarios//,/ }; do args+=(--scenario "$s"); done
fi
# shellcheck disable=SC2206
args+=(${BENCH_ARGS:-})

runs=()
status=0
for mode in $modes; do
    vmopt=(--smp "$smp" --timeout 3600)
    case $mode in
        icount) vmopt+=(--icount) ;;
        tcg) ;;
        *) echo "bench: unknown mode $mode (icount or tcg)" >&2; exit 2 ;;
    esac
    raw=$out/raw-$mode.jsonl
    rm -f "$raw" "$raw.guest"
    echo "==> $mode: ${smp} guest CPU(s), scenarios: ${scenarios:-all}" >&2
    start=$(date +%s)
    # A failed measurement (wrong data, a stall) fails the run but not the others: the results
    # are still collected, with the failure in them.
    rc=0
    "$here/vm-run" "${vmopt[@]}" -- "$here/bench-guest.sh" --out "$raw" "${args[@]}" || rc=$?
    if [ "$rc" != 0 ]; then
        echo "bench: the $mode run failed (exit $rc; guest log build/vm/last-dmesg.log)" >&2
        status=1
    fi
    if [ ! -s "$raw" ]; then
        echo "bench: the $mode run produced no measurements" >&2
        exit 1
    fi
    echo "==> $mode run took $(( $(date +%s) - start )) s of host time" >&2
    runs+=(--run "$mode=$raw")
done

commit=$(git rev-parse HEAD)
git diff --quiet HEAD -- 2>/dev/null || commit="$commit (with uncommitted changes)"
guest=$(cat "$out/raw-${modes%% *}.jsonl.guest" 2>/dev/null || true)
target/release/ktls-bench collect --out "$out/results.json" "${runs[@]}" \
    --meta "commit=$commit" \
    --meta "date=$(date -u +%Y-%m-%dT%H:%MZ)" \
    --meta "kernel=$(cat "$kbuild/include/config/kernel.release")" \
    --meta "qemu=$(qemu-system-x86_64 --version | head -1)" \
    --meta "modes=$modes (the first is primary)" \
    --meta "guest=$guest" \
    --meta "smp=$smp" \
    --meta "reps=$reps" \
    --meta "scale=$scale" \
    --meta "host_cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs"
target/release/ktls-bench report "$out/results.json" | tee "$out/report.txt"
if [ "$status" != 0 ]; then
    echo "bench: some measurements failed (FAILED in the tables above)" >&2
fi
exit "$status"
