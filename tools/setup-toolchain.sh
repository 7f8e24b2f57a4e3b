#!/usr/bin/env bash
# Installs everything af_ktls needs to build its test kernel and module, idempotently.
#
# - system packages from the machine's own apt sources (never adds other suites to them);
# - Debian's linux-source-7.3 and rust-src from trixie-backports, downloaded through a *private*
#   apt configuration and unpacked with dpkg -x into the cache;
# - bindgen-cli from crates.io.
#
# Cache: ${AF_KTLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/af_ktls}. Prints each step.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
CACHE=${AF_KTLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/af_ktls}
mkdir -p "$CACHE"
# Progress goes to stderr so that functions can return values on stdout.
step() { printf '==> %s\n' "$*" >&2; }

SUDO=
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi

# --- 1. System packages -----------------------------------------------------------------------
PKGS=(clang-$LLVM_VERSION libclang-$LLVM_VERSION-dev lld-$LLVM_VERSION llvm-$LLVM_VERSION
      bc bison flex libelf-dev libssl-dev cpio kmod qemu-system-x86 busybox-static
      python3 rsync xz-utils dwarves pahole
      gnutls-bin openssl libcmocka-dev pkg-config iproute2 procps libgnutls28-dev curl)
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    step "apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq >&2
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    step "system packages: all present"
fi

# --- 2. rustc must match the rust-src we fetch ----------------------------------------------
have_rustc=$(rustc --version | awk '{print $2}')
if [ "$have_rustc" != "$RUSTC_VERSION" ]; then
    echo "error: rustc is $have_rustc but the kernel's Rust library source is pinned to" \
         "$RUST_SRC_VERSION (rustc $RUSTC_VERSION); install rustc $RUSTC_VERSION" >&2
    exit 1
fi
step "rustc $have_rustc matches rust-src $RUST_SRC_VERSION"

# --- 3. Private apt configuration for trixie-backports -------------------------------------
APTDIR=$CACHE/apt
download_deb() { # name version-or-empty -> path of the .deb in $CACHE/debs
    local name=$1 version=${2:-}
    mkdir -p "$CACHE/debs"
    local found
    found=$(ls "$CACHE/debs/${name}_"*.deb 2>/dev/null | head -1 || true)
    if [ -n "$version" ]; then
        local vfile=${version//:/%3a}
        found=$(ls "$CACHE/debs/${name}_${vfile}_"*.deb 2>/dev/null | head -1 || true)
    fi
    if [ -z "$found" ]; then
        if [ ! -f "$APTDIR/updated" ]; then
            step "private apt: update $DEBIAN_BACKPORTS_SUITE"
            mkdir -p "$APTDIR/lists/partial" "$APTDIR/cache/archives/partial" "$APTDIR/etc/preferences.d" \
                     "$APTDIR/status-dir"
            : > "$APTDIR/status-dir/status"
            cat > "$APTDIR/etc/sources.list" <<SRC
deb [signed-by=/usr/share/keyrings/debian-archive-trixie-automatic.gpg] $DEBIAN_MIRROR $DEBIAN_BACKPORTS_SUITE main
SRC
            cat > "$APTDIR/apt.conf" <<CONF
Dir::Etc::SourceList "$APTDIR/etc/sources.list";
Dir::Etc::SourceParts "/nonexistent";
Dir::Etc::Preferences "/nonexistent";
Dir::Etc::PreferencesParts "$APTDIR/etc/preferences.d";
Dir::State "$APTDIR";
Dir::State::Lists "$APTDIR/lists";
Dir::State::status "$APTDIR/status-dir/status";
Dir::Cache "$APTDIR/cache";
APT::Architecture "amd64";
APT::Architectures { "amd64"; };
Acquire::Languages "none";
Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled "false";
CONF
            APT_CONFIG="$APTDIR/apt.conf" apt-get update -qq >&2
            touch "$APTDIR/updated"
        fi
        step "private apt: download $name${version:+=$version}"
        (cd "$CACHE/debs" && APT_CONFIG="$APTDIR/apt.conf" apt-get download -qq "$name${version:+=$version}" >&2)
        found=$(ls "$CACHE/debs/${name}_"*.deb | head -1)
    fi
    printf '%s\n' "$found"
}

# --- 4. Kernel source ----------------------------------------------------------------------
SRCDIR=$CACHE/src
if [ ! -f "$SRCDIR/linux/Makefile" ]; then
    deb=$(download_deb "$LINUX_SOURCE_PKG")
    step "unpack $(basename "$deb")"
    rm -rf "$SRCDIR/linux-pkg" "$SRCDIR/linux"
    mkdir -p "$SRCDIR/linux-pkg"
    dpkg -x "$deb" "$SRCDIR/linux-pkg"
    tarball=$(ls "$SRCDIR"/linux-pkg/usr/src/linux-source-*.tar.* | head -1)
    step "extract $(basename "$tarball")"
    mkdir -p "$SRCDIR/linux.tmp"
    tar -xf "$tarball" -C "$SRCDIR/linux.tmp" --strip-components=1
    mv "$SRCDIR/linux.tmp" "$SRCDIR/linux"
    rm -rf "$SRCDIR/linux-pkg"
else
    step "kernel source: present ($(make -s -C "$SRCDIR/linux" kernelversion 2>/dev/null))"
fi

# --- 5. Rust library source ----------------------------------------------------------------
if ! grep -q "pub mod num" "$SRCDIR/rust-src/library/core/src/lib.rs" 2>/dev/null; then
    deb=$(download_deb rust-src "$RUST_SRC_VERSION")
    step "unpack $(basename "$deb")"
    rm -rf "$SRCDIR/rust-src.tmp"
    mkdir -p "$SRCDIR/rust-src.tmp"
    dpkg -x "$deb" "$SRCDIR/rust-src.tmp"
    # The package also ships cargo's test fixtures, which contain a dummy library/core.
    lib=$(ls -d "$SRCDIR"/rust-src.tmp/usr/src/rustc-*/library | head -1)
    rm -rf "$SRCDIR/rust-src"
    mkdir -p "$SRCDIR/rust-src"
    mv "$lib" "$SRCDIR/rust-src/library"
    rm -rf "$SRCDIR/rust-src.tmp"
else
    step "rust library source: present"
fi

# --- 6. bindgen ----------------------------------------------------------------------------
BINDGEN=$CACHE/bin/bindgen
if ! "$BINDGEN" --version 2>/dev/null | grep -q "$BINDGEN_VERSION"; then
    step "cargo install bindgen-cli $BINDGEN_VERSION"
    LIBCLANG_PATH=/usr/lib/llvm-$LLVM_VERSION/lib \
        cargo install --locked --quiet --root "$CACHE" --version "$BINDGEN_VERSION" bindgen-cli
else
    step "bindgen $BINDGEN_VERSION: present"
fi
step "toolchain ready in $CACHE"
