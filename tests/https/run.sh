#!/usr/bin/env bash
# The HTTPS file server as the proof of zero-copy sendfile (run inside the test VM, module
# loaded): `ktls-tool serve` hands each connection to AF_KTLS and sends the file with sendfile;
# real clients fetch a 64 MiB file over TLS 1.3 (curl) and TLS 1.2 (openssl s_client) and the
# SHA-256 of what they got must match. Prints "N passed, N failed".
#
#   tests/https/run.sh [SIZE_MIB]   (default 64)
set -u
repo=$(cd "$(dirname "$0")/../.." && pwd)
tool=$repo/target/release/ktls-tool
certs=$repo/tests/data/certs
size_mib=${1:-64}
www=$(mktemp -d)
passed=0 failed=0
trap 'rm -rf "$www"; kill $(jobs -p) 2>/dev/null' EXIT

result() { # NAME OK DETAIL
    if [ "$2" = 1 ]; then echo "PASS  $1"; passed=$((passed + 1))
    else echo "FAIL  $1: $3"; failed=$((failed + 1)); fi
}

head -c $((size_mib * 1024 * 1024)) /dev/urandom > "$www/big.bin"
want=$(sha256sum < "$www/big.bin" | cut -d' ' -f1)
echo hello > "$www/small.txt"

# wait_port PORT: until something listens on 127.0.0.1:PORT (/proc/net/tcp, state 0A).
wait_port() {
    local hex i
    hex=$(printf '%04X' "$1")
    for i in $(seq 100); do
        grep -q ":$hex 00000000:0000 0A" /proc/net/tcp && return 0
        sleep 0.1
    done
    return 1
}

serve() { # PORT TLS COUNT CIPHER
    "$tool" serve --dir "$www" --listen "127.0.0.1:$1" --tls "$2" --count "$3" --cipher "$4" \
        --cert "$certs/server.pem" --key "$certs/server.key" 2> "$www/serve-$1.log" &
    wait_port "$1"
}

# curl, TLS 1.3: the 64 MiB file, a small one, and a missing one (404).
serve 8443 1.3 3 aes128gcm
got=$(curl -sS --cacert "$certs/ca.pem" --tlsv1.3 "https://localhost:8443/big.bin" | sha256sum | cut -d' ' -f1)
result curl_tls13_sendfile_${size_mib}mib "$([ "$got" = "$want" ] && echo 1)" "sha256 $got, want $want; $(cat "$www/serve-8443.log")"
small=$(curl -sS --cacert "$certs/ca.pem" "https://localhost:8443/small.txt")
result curl_small_file "$([ "$small" = hello ] && echo 1)" "got '$small'"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$certs/ca.pem" "https://localhost:8443/nothing")
result curl_missing_file_404 "$([ "$code" = 404 ] && echo 1)" "got $code"
wait

# openssl s_client, TLS 1.2 (AES-256-GCM): the body after the response head.
serve 8444 1.2 1 aes256gcm
got=$(printf 'GET /big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n' |
    openssl s_client -quiet -ign_eof -tls1_2 -connect 127.0.0.1:8444 -servername localhost \
        -CAfile "$certs/ca.pem" 2>/dev/null |
    python3 -c 'import sys, hashlib
data = sys.stdin.buffer.read()
head, sep, body = data.partition(b"\r\n\r\n")
print(hashlib.sha256(body).hexdigest() if sep else "no-head")')
result openssl_s_client_tls12_sendfile_${size_mib}mib "$([ "$got" = "$want" ] && echo 1)" "sha256 $got, want $want; $(cat "$www/serve-8444.log")"
wait

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
