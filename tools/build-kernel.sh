#!/usr/bin/env bash
# Builds the af_ktls test kernel (tinyconfig + tools/kconfig/*.config) into the cache.
#
#   KERNEL_FLAVOUR=base|debug   (default base; debug adds tools/kconfig/debug.config and is built
#                               with clang, LLVM=-19, because KASAN with Rust needs it)
#
# Rebuilds only when the pinned versions, a config fragment or this script change. Prints the build
# directory on stdout as its last line; progress goes to stderr.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/versions.env"
CACHE=${AF_KTLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/af_ktls}
FLAVOUR=${KERNEL_FLAVOUR:-base}
step() { printf '==> %s\n' "$*" >&2; }

fragments=("$here/kconfig/base.config")
llvm=()
case $FLAVOUR in
    base) ;;
    debug) fragments+=("$here/kconfig/debug.config") llvm=(LLVM=-"$LLVM_VERSION") ;;
    *) echo "error: KERNEL_FLAVOUR must be base or debug, not '$FLAVOUR'" >&2; exit 2 ;;
esac

"$here/setup-toolchain.sh" >&2
SRC=$CACHE/src/linux
OUT=$CACHE/build/kernel-$FLAVOUR
key=$(cat "$here/versions.env" "${fragments[@]}" "$0" | sha256sum | cut -c1-16)

if [ -f "$OUT/.af_ktls-stamp" ] && [ "$(cat "$OUT/.af_ktls-stamp")" = "$key" ] && [ -f "$OUT/arch/x86/boot/bzImage" ]; then
    step "kernel ($FLAVOUR) up to date: $OUT"
    echo "$OUT"
    exit 0
fi

export RUST_LIB_SRC=$CACHE/src/rust-src/library
export LIBCLANG_PATH=/usr/lib/llvm-$LLVM_VERSION/lib
MAKEARGS=(-C "$SRC" O="$OUT" BINDGEN="$CACHE/bin/bindgen" HOSTRUSTC=rustc RUSTC=rustc "${llvm[@]}" -s)

mkdir -p "$OUT"
rm -f "$OUT/.af_ktls-stamp"
step "kernel ($FLAVOUR): configure in $OUT"
make "${MAKEARGS[@]}" tinyconfig >&2
make "${MAKEARGS[@]}" rustavailable >&2
KCONFIG_CONFIG="$OUT/.config" "$SRC/scripts/kconfig/merge_config.sh" -m -O "$OUT" \
    "$OUT/.config" "${fragments[@]}" >/dev/null
make "${MAKEARGS[@]}" olddefconfig >&2

# merge_config only warns when Kconfig drops a requested option (for example RUST when the
# toolchain check fails); a silently different kernel is worse than a failed build.
bad=0
for f in "${fragments[@]}"; do
    while IFS= read -r line; do
        case $line in
            CONFIG_*=n) opt=${line%%=*}
                grep -qx "$opt=[ym]" "$OUT/.config" && { echo "error: $opt is set, wanted n" >&2; bad=1; } ;;
            CONFIG_*=*) grep -qxF "$line" "$OUT/.config" || { echo "error: $line did not stick" >&2; bad=1; } ;;
        esac
    done < "$f"
done
[ $bad = 0 ] || exit 1

step "kernel ($FLAVOUR): build with $(nproc) jobs"
start=$(date +%s)
make "${MAKEARGS[@]}" -j"$(nproc)" >&2
step "kernel ($FLAVOUR): built in $(( $(date +%s) - start )) s"
echo "$key" > "$OUT/.af_ktls-stamp"
echo "$OUT"
