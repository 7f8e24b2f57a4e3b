#!/usr/bin/env bash
# Runs every cargo-fuzz target of the record layer (tools/ktls-record/fuzz) for a bounded time.
#
#   tools/fuzz-smoke.sh [SECONDS]     default 20 seconds per target
#
# Installs cargo-fuzz on first use. Works on stable rustc: RUSTC_BOOTSTRAP=1 lets cargo-fuzz
# pass its nightly-only flags (sanitizer coverage). The corpus grows in build/fuzz/corpus/ across
# runs; the seeds in the fuzz directory are read, never written. Exits non-zero on a crash, and
# libFuzzer leaves the crashing input in tools/ktls-record/fuzz/artifacts/TARGET/.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
seconds=${1:-20}
CARGO_FUZZ_VERSION=0.13.2

case $seconds in
    '' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac

if ! cargo fuzz --version 2>/dev/null | grep -qF "$CARGO_FUZZ_VERSION"; then
    echo "==> installing cargo-fuzz $CARGO_FUZZ_VERSION" >&2
    cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION" >&2
fi

export RUSTC_BOOTSTRAP=1
cd "$repo/tools/ktls-record/fuzz"
targets=$(cargo fuzz list)
start=$(date +%s)
# No sanitizer: the record layer is safe Rust, so AddressSanitizer would only slow it down;
# the panics it looks for are overflow checks, debug assertions and failed asserts.
fuzz_flags=(--sanitizer none --debug-assertions)
echo "==> building fuzz targets" >&2
cargo fuzz build "${fuzz_flags[@]}" >&2
for target in $targets; do
    corpus=$repo/build/fuzz/corpus/$target
    mkdir -p "$corpus"
    echo "==> fuzzing $target for $seconds s" >&2
    log=$repo/build/fuzz/$target.log
    status=0
    cargo fuzz run "${fuzz_flags[@]}" "$target" "$corpus" "seeds/$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        >"$log" 2>&1 || status=$?
    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|Done [0-9]+ runs)' "$log" >&2 || true
    if [ "$status" != 0 ]; then
        tail -n 40 "$log" >&2
        echo "FAIL  fuzz $target (log: build/fuzz/$target.log; crash input in tools/ktls-record/fuzz/artifacts/$target/)" >&2
        exit 1
    fi
done
echo "fuzz smoke: $(wc -w <<<"$targets") targets, $seconds s each, $(( $(date +%s) - start )) s in all" >&2
