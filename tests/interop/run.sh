#!/usr/bin/env bash
# Interop matrix: ktls-tool against independent TLS implementations (OpenSSL and GnuTLS command
# line tools) on 127.0.0.1, with the data moved by BACKEND after ktls-tool's handshake.
#
#   tests/interop/run.sh [BACKEND]      BACKEND = userspace (default) | af_ktls | ulp
#
# Cases, for TLS 1.2, TLS 1.3 and DTLS 1.2, each with AES-128-GCM, AES-256-GCM and
# ChaCha20-Poly1305:
#   client-gnutls   ktls-tool client  -> gnutls-serv --echo      (our data must come back unchanged)
#   client-openssl  ktls-tool client  -> openssl s_server        (its stdin is the server pattern,
#                                                                 its stdout must be our pattern)
#   server-gnutls   gnutls-cli        -> ktls-tool server        (stdin: client pattern; stdout must
#   server-openssl  openssl s_client  -> ktls-tool server         be the server pattern)
# ktls-tool checks what it received by SHA-256 itself; this script checks what the peer received.
# The `ulp` backend has no DTLS: those cases are skipped (counted neither way).
#
# Prints one line per case and ends with "N passed, N failed"; exits non-zero if any failed.
# Environment: KTLS_TOOL (binary; default target/release/ktls-tool, built if missing),
# INTEROP_SIZE (TLS bytes each way, default 256K), INTEROP_DTLS_SIZE (default 64K),
# INTEROP_PORT (first port, default 24430), INTEROP_KEEP=1 keeps the work directory,
# INTEROP_CIPHERS (default "aes128gcm aes256gcm chacha20") and INTEROP_PROTOCOLS (default
# "tls12 tls13 dtls12") narrow the matrix.
set -u
backend=${1:-userspace}
case "$backend" in userspace|af_ktls|ulp) ;; *) echo "usage: $0 [userspace|af_ktls|ulp]" >&2; exit 2 ;; esac

repo=$(cd "$(dirname "$0")/../.." && pwd)
certs=$repo/tests/data/certs
tool=${KTLS_TOOL:-$repo/target/release/ktls-tool}
if [ ! -x "$tool" ]; then
    # The test VM has no cargo: tools/check.sh builds the binary on the host first.
    command -v cargo >/dev/null || { echo "missing $tool: build it with 'cargo build --release -p ktls-tool' on the host" >&2; exit 2; }
    (cd "$repo" && cargo build --release -q -p ktls-tool) || { echo "cannot build ktls-tool" >&2; exit 2; }
fi
for program in openssl gnutls-serv gnutls-cli setsid; do
    command -v "$program" >/dev/null || { echo "missing $program" >&2; exit 2; }
done

tls_size=${INTEROP_SIZE:-256K}
dtls_size=${INTEROP_DTLS_SIZE:-64K}
port=${INTEROP_PORT:-24430}
. "$repo/tests/interop/harness.sh"
harness_init "${INTEROP_KEEP:-0}"
skipped=0

result() { # NAME OK DETAIL
    if [ "$2" = ok ]; then
        echo "PASS  $1"; passed=$((passed + 1))
    else
        echo "FAIL  $1: $3"; failed=$((failed + 1))
        local log
        for log in "$work/$1".tool.log "$work/$1".peer.log "$work/$1".gnutls-cli.log; do
            [ -f "$log" ] && tail -n 6 "$log" | sed "s#^#    $(basename "$log" .log): #"
        done
    fi
}

# Names for each protocol and cipher in the three tools' languages.
openssl_args() { # PROTO CIPHER
    case "$1/$2" in
        tls12/aes128gcm) echo "-tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256" ;;
        tls12/aes256gcm) echo "-tls1_2 -cipher ECDHE-RSA-AES256-GCM-SHA384" ;;
        tls13/aes128gcm) echo "-tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256" ;;
        tls13/aes256gcm) echo "-tls1_3 -ciphersuites TLS_AES_256_GCM_SHA384" ;;
        dtls12/aes128gcm) echo "-dtls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256" ;;
        dtls12/aes256gcm) echo "-dtls1_2 -cipher ECDHE-RSA-AES256-GCM-SHA384" ;;
        tls12/chacha20) echo "-tls1_2 -cipher ECDHE-RSA-CHACHA20-POLY1305" ;;
        tls13/chacha20) echo "-tls1_3 -ciphersuites TLS_CHACHA20_POLY1305_SHA256" ;;
        dtls12/chacha20) echo "-dtls1_2 -cipher ECDHE-RSA-CHACHA20-POLY1305" ;;
    esac
}
gnutls_priority() { # PROTO CIPHER
    local version cipher
    case "$1" in tls12) version=+VERS-TLS1.2 ;; tls13) version=+VERS-TLS1.3 ;; dtls12) version=+VERS-DTLS1.2 ;; esac
    case "$2" in
        aes128gcm) cipher=+AES-128-GCM ;; aes256gcm) cipher=+AES-256-GCM ;; chacha20) cipher=+CHACHA20-POLY1305 ;;
    esac
    echo "NORMAL:-VERS-ALL:$version:-CIPHER-ALL:$cipher"
}
tool_args() { # PROTO CIPHER
    case "$1" in tls12) echo "--tls 1.2 --cipher $2" ;; tls13) echo "--tls 1.3 --cipher $2" ;; dtls12) echo "--dtls --cipher $2" ;; esac
}

run_case() { # PROTO CIPHER SETUP
    local proto=$1 cipher=$2 setup=$3 name="$1-$2-$3" size transport=tcp udp_flag="" tool_pid peer_pid
    port=$((port + 1))
    size=$tls_size
    # gnutls-cli sends each read of its stdin as one DTLS record and refuses records above its MTU
    # (default ~1200); loopback carries 64 KiB datagrams, so raise it (gnutls-serv echoes records
    # as they came, so it needs the same).
    if [ "$proto" = dtls12 ]; then size=$dtls_size transport=udp udp_flag="--udp --mtu 16384"; fi
    if [ "$proto" = dtls12 ] && [ "$backend" = ulp ]; then
        echo "SKIP  $name: mainline kernel TLS has no DTLS"; skipped=$((skipped + 1)); return
    fi
    local common="$(tool_args "$proto" "$cipher") --backend $backend --peer-generic --size $size --timeout 15 -v"
    local client_pattern=$work/client-$size.pattern server_pattern=$work/server-$size.pattern
    # The peers' stdin stays open (sleep) so that they do not close before our side has finished.
    local feed_server="{ cat '$server_pattern'; sleep 30; }"
    local feed_client="{ cat '$client_pattern'; sleep 30; }"
    local ossl; ossl=$(openssl_args "$proto" "$cipher")
    local prio; prio=$(gnutls_priority "$proto" "$cipher")

    case "$setup" in
        client-gnutls)
            start "$name.peer" "exec gnutls-serv $udp_flag --echo -p $port --x509certfile '$certs/server.pem' --x509keyfile '$certs/server.key' --priority '$prio'"
            peer_pid=$last_pid
            wait_listen "$transport" "$port" || { result "$name" fail "gnutls-serv did not start"; stop "$peer_pid"; return; }
            "$tool" client --connect "127.0.0.1:$port" $common --expect echo >"$work/$name.tool.log" 2>&1
            local status=$?
            stop "$peer_pid"
            if [ $status = 0 ]; then result "$name" ok; else result "$name" fail "ktls-tool exit $status"; fi
            ;;
        client-openssl)
            start "$name.peer" "$feed_server | openssl s_server -4 -quiet -naccept 1 -accept $port -cert '$certs/server.pem' -key '$certs/server.key' $ossl >'$work/peer.out'"
            peer_pid=$last_pid
            wait_listen "$transport" "$port" || { result "$name" fail "openssl s_server did not start"; stop "$peer_pid"; return; }
            "$tool" client --connect "127.0.0.1:$port" $common >"$work/$name.tool.log" 2>&1
            local status=$?
            sleep 0.2
            stop "$peer_pid"
            if [ $status != 0 ]; then result "$name" fail "ktls-tool exit $status"
            elif ! cmp -s "$work/peer.out" "$client_pattern"; then result "$name" fail "s_server received $(stat -c %s "$work/peer.out") bytes, not our pattern"
            else result "$name" ok; fi
            ;;
        server-gnutls|server-openssl)
            start "$name.tool" "exec '$tool' server --listen 127.0.0.1:$port $common"
            tool_pid=$last_pid
            wait_listen "$transport" "$port" || { result "$name" fail "ktls-tool server did not start"; stop "$tool_pid"; return; }
            if [ "$setup" = server-gnutls ]; then
                start "$name.peer" "$feed_client | gnutls-cli $udp_flag -p $port --x509cafile '$certs/ca.pem' --priority '$prio' --logfile='$work/$name.gnutls-cli.log' localhost >'$work/peer.out'"
            else
                start "$name.peer" "$feed_client | openssl s_client -quiet -connect 127.0.0.1:$port -servername localhost -CAfile '$certs/ca.pem' -verify_return_error $ossl >'$work/peer.out'"
            fi
            peer_pid=$last_pid
            local status=timeout
            if wait_exit "$tool_pid" 30; then status=$exit_status; fi
            sleep 0.3
            stop "$peer_pid"; stop "$tool_pid"
            if [ "$status" != 0 ]; then result "$name" fail "ktls-tool exit $status"
            elif ! cmp -s "$work/peer.out" "$server_pattern"; then result "$name" fail "peer received $(stat -c %s "$work/peer.out") bytes, not the server pattern"
            else result "$name" ok; fi
            ;;
    esac
}

echo "interop: backend $backend, ktls-tool $tool"
# The patterns each side sends (ktls-tool checks what it receives against the same generator).
for size in "$tls_size" "$dtls_size"; do
    for role in client server; do
        "$tool" pattern --role "$role" --size "$(bytes "$size")" >"$work/$role-$size.pattern" ||
            { echo "ktls-tool pattern failed" >&2; exit 2; }
    done
done
for proto in ${INTEROP_PROTOCOLS:-tls12 tls13 dtls12}; do
    for cipher in ${INTEROP_CIPHERS:-aes128gcm aes256gcm chacha20}; do
        for setup in client-gnutls client-openssl server-gnutls server-openssl; do
            run_case "$proto" "$cipher" "$setup"
        done
    done
done
echo "$passed passed, $failed failed${skipped:+, $skipped skipped}"
[ "$failed" = 0 ]
