#!/usr/bin/env bash
# The documentation's OpenSSL and GnuTLS examples (Documentation/examples/{openssl,gnutls}_echo.c)
# with their data through AF_KTLS, against peers that keep theirs in a userspace TLS library:
#
#   openssl-client  openssl_echo client (AF_KTLS)  -> gnutls-serv --echo (sends TLS 1.3 tickets)
#   openssl-server  openssl_echo server (AF_KTLS)  <- gnutls_echo client --userspace
#   gnutls-client   gnutls_echo client (AF_KTLS)   -> openssl_echo server --userspace (2 tickets)
#   gnutls-server   gnutls_echo server (AF_KTLS)   <- openssl_echo client --userspace
#
# for TLS 1.2, TLS 1.3 and DTLS 1.2; the cipher rotates so that every protocol meets all three
# ciphers and every set-up meets all three. The client checks that every byte comes back; the
# server must end cleanly (close_notify). Needs af_ktls loaded. Built by make -C tests/lib.
#
# Prints one line per case and ends with "N passed, N failed"; exits non-zero if any failed.
# Environment: EXAMPLES_TLS_BYTES (default 262144), EXAMPLES_DTLS_BYTES (default 65536),
# EXAMPLES_PORT (first port, default 25430).
set -u
repo=$(cd "$(dirname "$0")/../.." && pwd)
bin=$repo/build/tests/lib
certs=$repo/tests/data/certs
for program in "$bin/openssl_echo" "$bin/gnutls_echo"; do
    [ -x "$program" ] || { echo "missing $program: make -C tests/lib" >&2; exit 2; }
done
command -v gnutls-serv >/dev/null || { echo "missing gnutls-serv" >&2; exit 2; }
tls_bytes=${EXAMPLES_TLS_BYTES:-262144}
dtls_bytes=${EXAMPLES_DTLS_BYTES:-65536}
port=${EXAMPLES_PORT:-25430}
. "$repo/tests/interop/harness.sh"   # wait_listen
work=$(mktemp -d)
passed=0 failed=0
server_pid=

cleanup() {
    [ -n "$server_pid" ] && kill -- "-$server_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

# The cipher in each library's words: openssl_name PROTO CIPHER, gnutls_name CIPHER.
openssl_name() {
    case "$1/$2" in
        tls13/aes128gcm) echo TLS_AES_128_GCM_SHA256 ;;
        tls13/aes256gcm) echo TLS_AES_256_GCM_SHA384 ;;
        tls13/chacha20) echo TLS_CHACHA20_POLY1305_SHA256 ;;
        */aes128gcm) echo ECDHE-RSA-AES128-GCM-SHA256 ;;
        */aes256gcm) echo ECDHE-RSA-AES256-GCM-SHA384 ;;
        */chacha20) echo ECDHE-RSA-CHACHA20-POLY1305 ;;
    esac
}
gnutls_name() {
    case "$1" in aes128gcm) echo AES-128-GCM ;; aes256gcm) echo AES-256-GCM ;; chacha20) echo CHACHA20-POLY1305 ;; esac
}

run_case() { # PROTO CIPHER SETUP
    local proto=$1 cipher=$2 setup=$3 name="$3-$1-$2" transport=tcp bytes=$tls_bytes
    local vflag gprio server client status server_status=0 t0=$SECONDS
    port=$((port + 1))
    case "$proto" in
        tls12) vflag=--tls1.2 gprio=+VERS-TLS1.2 ;;
        tls13) vflag=--tls1.3 gprio=+VERS-TLS1.3 ;;
        dtls12) vflag=--dtls gprio=+VERS-DTLS1.2 transport=udp bytes=$dtls_bytes ;;
    esac
    local ossl=(--cipher "$(openssl_name "$proto" "$cipher")" "$vflag")
    local gnu=(--cipher "$(gnutls_name "$cipher")" "$vflag")
    case "$setup" in
        openssl-client)
            local udp=(); [ "$transport" = udp ] && udp=(--udp)
            server=(gnutls-serv "${udp[@]}" --echo -p "$port" --x509certfile "$certs/server.pem"
                    --x509keyfile "$certs/server.key"
                    --priority "NORMAL:-VERS-ALL:$gprio:-CIPHER-ALL:+$(gnutls_name "$cipher")")
            client=("$bin/openssl_echo" client 127.0.0.1 "$port" "$certs/ca.pem" "${ossl[@]}") ;;
        openssl-server)
            server=("$bin/openssl_echo" server "$port" "$certs/server.pem" "$certs/server.key" --once "${ossl[@]}")
            client=("$bin/gnutls_echo" client 127.0.0.1 "$port" "$certs/ca.pem" --userspace "${gnu[@]}") ;;
        gnutls-client)
            server=("$bin/openssl_echo" server "$port" "$certs/server.pem" "$certs/server.key" --once --userspace "${ossl[@]}")
            client=("$bin/gnutls_echo" client localhost "$port" "$certs/ca.pem" "${gnu[@]}") ;;
        gnutls-server)
            server=("$bin/gnutls_echo" server "$port" "$certs/server.pem" "$certs/server.key" --once "${gnu[@]}")
            client=("$bin/openssl_echo" client localhost "$port" "$certs/ca.pem" --userspace "${ossl[@]}") ;;
    esac
    setsid "${server[@]}" >"$work/$name.server.log" 2>&1 &
    server_pid=$!
    if ! wait_listen "$transport" "$port"; then
        echo "FAIL  $name: the server did not start"; failed=$((failed + 1))
        sed 's/^/    server: /' "$work/$name.server.log"
        kill -- "-$server_pid" 2>/dev/null; server_pid=; return
    fi
    timeout 60 "${client[@]}" --bytes "$bytes" >"$work/$name.client.log" 2>&1
    status=$?
    if [ "$setup" = openssl-client ]; then
        kill -- "-$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null
    else
        # --once servers end by themselves after the client's close_notify.
        for ((i = 0; i < 100; i++)); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$server_pid" 2>/dev/null; then
            server_status=timeout; kill -- "-$server_pid" 2>/dev/null
        fi
        wait "$server_pid" 2>/dev/null
        local waited=$?
        [ "$server_status" = timeout ] || server_status=$waited
    fi
    server_pid=
    # The example under test must have moved its data through AF_KTLS.
    local ktls_log=$work/$name.client.log
    case "$setup" in *-server) ktls_log=$work/$name.server.log ;; esac
    if [ "$status" = 0 ] && [ "$server_status" = 0 ] &&
        grep -q "$bytes bytes sent and echoed intact" "$work/$name.client.log" &&
        grep -q "data through AF_KTLS" "$ktls_log"; then
        echo "PASS  $name ($((SECONDS - t0)) s)"; passed=$((passed + 1))
    else
        echo "FAIL  $name: client exit $status, server exit $server_status ($((SECONDS - t0)) s)"
        failed=$((failed + 1))
        sed 's/^/    client: /' "$work/$name.client.log" | tail -n 5
        sed 's/^/    server: /' "$work/$name.server.log" | tail -n 12
    fi
}

ciphers=(aes128gcm aes256gcm chacha20)
setups=(openssl-client openssl-server gnutls-client gnutls-server)
p=0
for proto in tls12 tls13 dtls12; do
    for i in "${!setups[@]}"; do
        run_case "$proto" "${ciphers[$(((i + p) % 3))]}" "${setups[$i]}"
    done
    p=$((p + 1))
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
