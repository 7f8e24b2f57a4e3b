#!/usr/bin/env bash
# Checks tools/vm-run itself: it returns the guest command's exit status, both zero and non-zero,
# runs the command in the current directory with the repository writable, and kills a hung guest
# at the timeout with status 124.
set -u
cd "$(dirname "$0")/.."
fail=0
expect() { # DESCRIPTION WANTED GOT
    if [ "$2" = "$3" ]; then echo "ok: $1"; else echo "FAILED: $1: wanted $2, got $3"; fail=1; fi
}

tools/vm-run -- sh -c 'exit 7'; expect "exit status 7" 7 $?
marker=build/vm/selftest-marker
rm -f "$marker"
# Exit status 0, and the command ran in the same directory with the repository writable.
tools/vm-run -- sh -c "[ \"\$PWD\" = '$PWD' ] && uname -r > $marker"; expect "exit status 0 (cwd and write)" 0 $?
expect "guest kernel wrote the marker" "$(make -s -C "${AF_KTLS_CACHE:-$HOME/.cache/af_ktls}/src/linux" kernelversion)" "$(cat "$marker" 2>/dev/null)"
out=$(tools/vm-run --timeout 25 -- sh -c 'echo started; sleep 600' 2>/dev/null); rc=$?
expect "hung guest killed at the timeout" 124 "$rc"
expect "command had started" started "$out"
exit $fail
