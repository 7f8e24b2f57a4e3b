#!/usr/bin/env bash
# Measures the two AES-GCM forms af_ktls could use, gcm(aes) and rfc4106(gcm(aes)), in the test
# VM with the kernel's own harness (tcrypt mode 211: both, encrypt and decrypt, 128/192/256-bit
# keys, 16..8192-byte blocks, cycles per operation), and prints them side by side.
#
#   tools/aead-speed.sh [--icount]     --icount: deterministic instruction counting in QEMU
#
# The guest is emulated (TCG): compare the two columns, not the numbers with real hardware.
# Documentation/design.md records a run and the choice it supports.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
cd "$repo"
kbuild=$(KERNEL_FLAVOUR=base "$here/build-kernel.sh" 2>/dev/null | tail -1)
tcrypt=$kbuild/crypto/tcrypt.ko
[ -f "$tcrypt" ] || { echo "error: $tcrypt missing (CONFIG_CRYPTO_BENCHMARK=m in tools/kconfig/base.config)" >&2; exit 1; }
out=$repo/build/aead-speed
mkdir -p "$out"
# tcrypt runs its speed tests at load and then refuses to stay loaded (EAGAIN): insmod "fails".
"$here/vm-run" "$@" --timeout 600 -- bash -c \
    "insmod '$tcrypt' mode=211 sec=0 2>/dev/null; dmesg --notime > '$out/dmesg.log'"
python3 - "$out/dmesg.log" <<'PY'
import re, sys
results = {}  # (alg, direction, key bits, block bytes) -> cycles
alg = direction = None
drivers = {}
for line in open(sys.argv[1]):
    m = re.search(r"testing speed of (\S+) \((\S+)\) (encryption|decryption)", line)
    if m:
        alg, direction = m.group(1), m.group(3)
        drivers[alg] = m.group(2)
        continue
    m = re.search(r"\((\d+) bit key, (\d+) byte blocks\): 1 operation in (\d+) cycles", line)
    if m and alg:
        # rfc4106 keys carry the 4-byte salt: 160/224/288 bits are AES-128/192/256.
        bits = int(m.group(1)) - (32 if alg.startswith("rfc4106") else 0)
        results[(alg, direction, bits, int(m.group(2)))] = int(m.group(3))
gcm, rfc = "gcm(aes)", "rfc4106(gcm(aes))"
if not any(k[0] == gcm for k in results) or not any(k[0] == rfc for k in results):
    sys.exit("error: tcrypt printed no results for both algorithms (see the dmesg log)")
print(f"drivers: {gcm} = {drivers.get(gcm)}, {rfc} = {drivers.get(rfc)}")
print(f"{'direction':10} {'key':>4} {'bytes':>6} {'gcm(aes)':>10} {'rfc4106':>10} {'rfc4106/gcm':>12}")
for (a, direction, bits, size), cycles in sorted(results.items(), key=lambda kv: (kv[0][1], kv[0][2], kv[0][3])):
    if a != gcm:
        continue
    other = results.get((rfc, direction, bits, size))
    if other is None:
        continue
    print(f"{direction:10} {bits:>4} {size:>6} {cycles:>10} {other:>10} {other / cycles:>12.2f}")
PY
