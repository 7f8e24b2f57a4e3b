#!/usr/bin/env bash
# make bench: af_ktls against mainline kernel TLS, userspace TLS and plain sockets, measured in
# the test VM (Documentation/benchmarks.md).
#
#   make bench [BENCH=scenario[,scenario]] [SMP=2|1]
#
# Builds the module (not a test build: no KUnit), the ceiling module tools/aead-bench and
# ktls-bench, then boots the VM once per QEMU mode and runs every backend of the chosen
# scenarios in that one boot, interleaved and repeated:
#   icount  -icount shift=0: guest time is the instruction count of both vCPUs, which take turns
#           on one host thread; near deterministic. The primary figures. SMP CPUs (default 2).
#           The kernel copies with rep movsb, which icount counts once per byte.
#   icount-noerms  the same with -cpu max,-erms: the kernel copies with rep movsq (once per
#           8 bytes). Copies weigh more than on hardware in the first, less in the second.
#   tcg     TCG without icount, wall clock: the secondary figures, weighted by what each
#           instruction costs to emulate (OpenSSL's vector AES-GCM code is slow to emulate).
#           TCG_SMP CPUs (default 1: with two, every wake-up of the other vCPU goes through the
#           shared host's scheduler and the figures measure that) and TCG_SCALE times the data
#           (default 0.25: emulation is slower in wall-clock time).
#   tcg-noerms  the same with -cpu max,-erms. TCG emulates rep movsb one byte per iteration, so
#           under plain tcg a copy costs far more wall-clock time than on hardware.
# Writes build/bench/results.json (with commit, kernel and QEMU mode), build/bench/report.txt
# (the tables) and build/bench/<scenario>.svg (primary) and <scenario>-<mode>.svg.
#
# Environment: BENCH (scenarios, default all), SMP, TCG_SMP, BENCH_MODES (default
# "icount icount-noerms tcg"),
# BENCH_REPS (default 3), BENCH_SCALE (multiplies every measurement's amount of data, default 1),
# TCG_SCALE, BENCH_ARGS (more ktls-bench run options, e.g. --check full), BENCH_MODULE (an
# af_ktls.ko built elsewhere, e.g. from an older commit for a before/after comparison; it must
# be built for the base kernel and lie inside the repository, which the guest sees).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
cd "$repo"
scenarios=${BENCH:-}
smp=${SMP:-2}
tcg_smp=${TCG_SMP:-1}
modes=${BENCH_MODES:-icount icount-noerms tcg}
reps=${BENCH_REPS:-3}
scale=${BENCH_SCALE:-1}
tcg_scale=${TCG_SCALE:-$(python3 -c "print($scale * 0.25)")}
out=build/bench
mkdir -p "$out"
# Only this run's files: a partial run must not leave older charts looking current.
rm -f "$out"/*.svg "$out"/raw-*.jsonl "$out"/raw-*.jsonl.guest "$out"/results.json "$out"/report.txt

echo "==> building af_ktls.ko (no KUnit), tools/aead-bench and ktls-bench" >&2
kbuild=$(KERNEL_FLAVOUR=base "$here/build-kernel.sh" 2>/dev/null | tail -1)
if [ -z "${BENCH_MODULE:-}" ]; then
    make -s KERNEL_FLAVOUR=base module >/dev/null
fi
make -s KERNEL_FLAVOUR=base aead-bench >/dev/null
cargo build --release --locked -q -p ktls-bench

args=(--reps "$reps")
if [ -n "$scenarios" ]; then
    for s in ${scenarios//,/ }; do args+=(--scenario "$s"); done
fi
# shellcheck disable=SC2206
args+=(${BENCH_ARGS:-})

runs=()
status=0
describe=()
for mode in $modes; do
    cpu_model=max
    case $mode in
        icount) cpus=$smp s=$scale vmopt=(--icount) ;;
        icount-noerms) cpus=$smp s=$scale vmopt=(--icount) cpu_model=max,-erms ;;
        tcg) cpus=$tcg_smp s=$tcg_scale vmopt=() ;;
        tcg-noerms) cpus=$tcg_smp s=$tcg_scale vmopt=() cpu_model=max,-erms ;;
        *) echo "bench: unknown mode $mode (icount, icount-noerms, tcg or tcg-noerms)" >&2; exit 2 ;;
    esac
    vmopt+=(--smp "$cpus" --timeout 3600)
    name=$mode-${cpus}cpu
    raw=$out/raw-$name.jsonl
    rm -f "$raw" "$raw.guest"
    echo "==> $mode: $cpus guest CPU(s), scale $s, scenarios: ${scenarios:-all}" >&2
    start=$(date +%s)
    # A failed measurement (wrong data, a stall) fails the run but not the others: the results
    # are still collected, with the failure in them.
    rc=0
    AF_KTLS_VM_CPU=$cpu_model "$here/vm-run" "${vmopt[@]}" -- \
        env BENCH_MODULE="${BENCH_MODULE:-}" "$here/bench-guest.sh" \
        --out "$raw" "${args[@]}" --scale "$s" || rc=$?
    if [ "$rc" != 0 ]; then
        echo "bench: the $mode run failed (exit $rc; guest log build/vm/last-dmesg.log)" >&2
        status=1
    fi
    if [ ! -s "$raw" ]; then
        echo "bench: the $mode run produced no measurements" >&2
        exit 1
    fi
    echo "==> $mode run took $(( $(date +%s) - start )) s of host time" >&2
    runs+=(--run "$name=$raw")
    describe+=("$name: $(cat "$raw.guest" 2>/dev/null), -cpu $cpu_model, scale $s")
done

commit=$(git rev-parse HEAD)
git diff --quiet HEAD -- 2>/dev/null || commit="$commit (with uncommitted changes)"
target/release/ktls-bench collect --out "$out/results.json" "${runs[@]}" \
    --meta "commit=$commit" \
    --meta "date=$(date -u +%Y-%m-%dT%H:%MZ)" \
    --meta "kernel=$(cat "$kbuild/include/config/kernel.release")" \
    --meta "qemu=$(qemu-system-x86_64 --version | head -1)" \
    --meta "runs=$(IFS=';'; echo "${describe[*]}") (the first is primary)" \
    --meta "reps=$reps" \
    --meta "host_cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs"
target/release/ktls-bench report "$out/results.json" | tee "$out/report.txt"
if [ "$status" != 0 ]; then
    echo "bench: some measurements failed (FAILED in the tables above)" >&2
fi
exit "$status"
