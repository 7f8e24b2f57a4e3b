#!/usr/bin/env bash
# make demo: boots the test kernel, loads af_ktls, runs real TLS 1.3 and DTLS 1.2 handshakes with
# ktls-tool, moves DEMO_SIZE (default 64 MiB) each way through AF_KTLS, userspace and mainline
# kTLS, checks the hashes and prints a table. Sets up whatever a fresh machine lacks.
set -euo pipefail
cd "$(dirname "$0")/.."
make -s module >/dev/null
cargo build --release --locked -q -p ktls-tool
exec tools/vm-run --timeout 3000 -- env DEMO_SIZE="${DEMO_SIZE:-64M}" tools/demo-guest.sh
