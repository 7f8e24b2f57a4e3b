#!/usr/bin/env bash
# The guest half of `make bench` (tools/bench.sh): loads af_ktls and the ceiling module, runs
# ktls-bench with the given options (--out FILE ...) and records what the guest is.
# BENCH_MODULE in the environment loads that af_ktls.ko instead of the tree's.
set -u
repo=$(cd "$(dirname "$0")/.." && pwd)
out=
prev=
for a in "$@"; do [ "$prev" = --out ] && out=$a; prev=$a; done
insmod "${BENCH_MODULE:-$repo/af_ktls.ko}" || exit 1
insmod "$repo/tools/aead-bench/ktls_aead_bench.ko" || exit 1
info="$(nproc) CPUs, $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "guest: $info"
[ -n "$out" ] && echo "$info" > "$out.guest"
"$repo/target/release/ktls-bench" run "$@"
rc=$?
rmmod ktls_aead_bench
rmmod af_ktls
exit $rc
