#!/usr/bin/env bash
# TLS 1.3 KeyUpdate after the handoff: ktls-tool with its data through AF_KTLS changes keys many
# times during a transfer, both directions at once, against peers that change theirs too. Every
# case checks the data by SHA-256 on both ends, and that the peer's KeyUpdates arrived
# (ktls-tool --expect-key-updates: the kernel backends count the KeyUpdates they install).
#
#   tests/interop/rekey.sh            (in the test VM, af_ktls loaded)
#
# Cases (the cipher rotates):
#   rustls-{server,client}  ktls-tool af_ktls <-> ktls-tool userspace (rustls refresh_traffic_keys)
#   ulp-{server,client}     ktls-tool af_ktls <-> ktls-tool ulp (mainline kTLS, TLS_TX/TLS_RX again)
#   client-openssl          ktls-tool client  -> openssl s_server, which answers our KeyUpdates
#   server-openssl          openssl s_client  -> ktls-tool server: s_client's `K` command (its stdin
#                           gets "K" lines between the data, paced by `ktls-tool pattern --command`)
#   client-gnutls           ktls-tool client  -> gnutls-serv --echo, which answers our KeyUpdates
#   server-gnutls           gnutls-cli --inline-commands -> ktls-tool server: its `^rekey^` command
# Both sides of the rustls and ulp cases send a KeyUpdate with update_requested every
# REKEY_EVERY bytes of REKEY_SIZE; OpenSSL's and ours every REKEY_LIB_EVERY of REKEY_LIB_SIZE.
# GnuTLS (3.7) fails a connection on more than 8 KeyUpdates received within a second
# ("reached maximum number of key updates per 1000 milliseconds"), so its cases change keys every
# REKEY_GNUTLS_EVERY bytes (3 times each way by default). With REKEY_CONTROL=1 (the default) the
# OpenSSL and GnuTLS cases also run with the ulp backend, which shows the peers and the harness
# work independently of AF_KTLS.
#
# Prints one line per case and ends with "N passed, N failed"; exits non-zero if any failed.
# Environment: KTLS_TOOL (default target/release/ktls-tool), REKEY_PORT (first port, 24530),
# REKEY_SIZE (1M), REKEY_EVERY (16K), REKEY_LIB_SIZE (256K), REKEY_LIB_EVERY (32K),
# REKEY_GNUTLS_EVERY (64K), REKEY_CONTROL (1), REKEY_KEEP=1 keeps the work directory.
set -u
repo=$(cd "$(dirname "$0")/../.." && pwd)
certs=$repo/tests/data/certs
tool=${KTLS_TOOL:-$repo/target/release/ktls-tool}
[ -x "$tool" ] || { echo "missing $tool: build it with 'cargo build --release -p ktls-tool' on the host" >&2; exit 2; }
for program in openssl gnutls-serv gnutls-cli setsid; do
    command -v "$program" >/dev/null || { echo "missing $program" >&2; exit 2; }
done

size=${REKEY_SIZE:-1M}
every=${REKEY_EVERY:-16K}
lib_size=${REKEY_LIB_SIZE:-256K}
lib_every=${REKEY_LIB_EVERY:-32K}
gnutls_every=${REKEY_GNUTLS_EVERY:-64K}
port=${REKEY_PORT:-24530}
. "$repo/tests/interop/harness.sh"
harness_init "${REKEY_KEEP:-0}"

# updates SIZE EVERY: how many KeyUpdates a side starts (one before the data at each multiple of
# EVERY below SIZE).
updates() { echo $(( ($(bytes "$1") - 1) / $(bytes "$2") )); }

# result NAME ok|fail DETAIL: one line; a failure shows the ends of the case's logs. A pass shows
# what ktls-tool counted.
result() {
    local log
    if [ "$2" = ok ]; then
        echo "PASS  $1"; passed=$((passed + 1))
        for log in "$work/$1".*.log; do
            grep -h 'KeyUpdates' "$log" 2>/dev/null | sed -E 's/.*: sent [0-9]+ B.*sha256 /    /'
        done
    else
        echo "FAIL  $1: $3"; failed=$((failed + 1))
        for log in "$work/$1".*.log; do
            [ -f "$log" ] && tail -n 6 "$log" | sed "s#^#    $(basename "$log" .log): #"
        done
    fi
}

cipher_of() { # INDEX -> a cipher, rotating
    local ciphers=(aes128gcm aes256gcm chacha20)
    echo "${ciphers[$(($1 % 3))]}"
}
openssl_suite() {
    case "$1" in
        aes128gcm) echo TLS_AES_128_GCM_SHA256 ;; aes256gcm) echo TLS_AES_256_GCM_SHA384 ;;
        chacha20) echo TLS_CHACHA20_POLY1305_SHA256 ;;
    esac
}
gnutls_priority() {
    local cipher
    case "$1" in
        aes128gcm) cipher=+AES-128-GCM ;; aes256gcm) cipher=+AES-256-GCM ;; chacha20) cipher=+CHACHA20-POLY1305 ;;
    esac
    echo "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:$cipher"
}

# pair NAME SERVER_ARGS CLIENT_ARGS: two ktls-tools; both must succeed (data, expectations).
pair() {
    local name=$1 server_args=$2 client_args=$3 server_pid status
    port=$((port + 1))
    start "$name.server" "exec '$tool' server --listen 127.0.0.1:$port --tls 1.3 --timeout 20 $server_args"
    server_pid=$last_pid
    wait_listen tcp "$port" || { result "$name" fail "ktls-tool server did not start"; stop "$server_pid"; return; }
    "$tool" client --connect "127.0.0.1:$port" --tls 1.3 --timeout 20 $client_args >"$work/$name.client.log" 2>&1
    status=$?
    local server_status=timeout
    if wait_exit "$server_pid" 30; then server_status=$exit_status; fi
    stop "$server_pid"
    if [ "$status" != 0 ]; then result "$name" fail "client exit $status"
    elif [ "$server_status" != 0 ]; then result "$name" fail "server exit $server_status"
    else result "$name" ok; fi
}

# library CASE BACKEND INDEX: ktls-tool (BACKEND) against an OpenSSL or GnuTLS command line tool.
library() {
    local setup=$1 backend=$2 cipher name status peer_pid tool_pid n
    cipher=$(cipher_of "$3")
    name="$setup-$backend-$cipher"
    port=$((port + 1))
    local common="--tls 1.3 --cipher $cipher --backend $backend --peer-generic --timeout 20 -v"
    local server_pattern=$work/server.pattern client_pattern=$work/client.pattern
    case "$setup" in
        client-openssl)
            # s_server answers a KeyUpdate that asks for one before its next write; requests that
            # arrive together get one answer (6 of 7 in a typical run), so half must be answered.
            n=$(( ($(updates "$lib_size" "$lib_every") + 1) / 2 ))
            start "$name.peer" "{ cat '$server_pattern'; sleep 30; } | exec openssl s_server -4 -quiet -naccept 1 -accept $port -cert '$certs/server.pem' -key '$certs/server.key' -tls1_3 -ciphersuites $(openssl_suite "$cipher") >'$work/peer.out'"
            peer_pid=$last_pid
            wait_listen tcp "$port" || { result "$name" fail "openssl s_server did not start"; stop "$peer_pid"; return; }
            "$tool" client --connect "127.0.0.1:$port" $common --size "$lib_size" \
                --key-update-every "$lib_every" --expect-key-updates "$n" >"$work/$name.tool.log" 2>&1
            status=$?
            sleep 0.2
            stop "$peer_pid"
            if [ $status != 0 ]; then result "$name" fail "ktls-tool exit $status"
            elif ! cmp -s "$work/peer.out" "$client_pattern"; then result "$name" fail "s_server received $(stat -c %s "$work/peer.out") bytes, not our pattern"
            else result "$name" ok; fi
            ;;
        client-gnutls)
            n=$(updates "$lib_size" "$gnutls_every")
            start "$name.peer" "exec gnutls-serv --echo -p $port --x509certfile '$certs/server.pem' --x509keyfile '$certs/server.key' --priority '$(gnutls_priority "$cipher")'"
            peer_pid=$last_pid
            wait_listen tcp "$port" || { result "$name" fail "gnutls-serv did not start"; stop "$peer_pid"; return; }
            # gnutls-serv answers each of our KeyUpdates at once.
            "$tool" client --connect "127.0.0.1:$port" $common --size "$lib_size" --expect echo \
                --key-update-every "$gnutls_every" --expect-key-updates "$n" >"$work/$name.tool.log" 2>&1
            status=$?
            stop "$peer_pid"
            if [ $status = 0 ]; then result "$name" ok; else result "$name" fail "ktls-tool exit $status"; fi
            ;;
        server-openssl|server-gnutls)
            local peer_every=$lib_every command=K
            if [ "$setup" = server-gnutls ]; then peer_every=$gnutls_every command='^rekey^'; fi
            n=$(updates "$lib_size" "$peer_every")
            start "$name.tool" "exec '$tool' server --listen 127.0.0.1:$port $common --size $lib_size --key-update-every $peer_every --expect-key-updates $n"
            tool_pid=$last_pid
            wait_listen tcp "$port" || { result "$name" fail "ktls-tool server did not start"; stop "$tool_pid"; return; }
            # The peer's stdin: the client pattern with a KeyUpdate command every PEER_EVERY bytes,
            # each write read alone (paced), then open until the end.
            local feed="{ '$tool' pattern --role client --size $lib_size --command '$command' --command-every $peer_every 2>'$work/$name.feed.log'; sleep 30; }"
            if [ "$setup" = server-gnutls ]; then
                start "$name.peer" "$feed | exec gnutls-cli --inline-commands -p $port --x509cafile '$certs/ca.pem' --priority '$(gnutls_priority "$cipher")' --logfile='$work/$name.gnutls-cli.log' localhost >'$work/peer.out'"
            else
                # -brief, not -quiet: -quiet turns the commands off; -brief keeps stdout to data.
                start "$name.peer" "$feed | exec openssl s_client -brief -connect 127.0.0.1:$port -servername localhost -CAfile '$certs/ca.pem' -verify_return_error -tls1_3 -ciphersuites $(openssl_suite "$cipher") >'$work/peer.out'"
            fi
            peer_pid=$last_pid
            status=timeout
            if wait_exit "$tool_pid" 40; then status=$exit_status; fi
            sleep 0.3
            stop "$peer_pid"; stop "$tool_pid"
            if [ "$status" != 0 ]; then result "$name" fail "ktls-tool exit $status"
            elif ! grep -q "^ktls-tool pattern: $n commands written" "$work/$name.feed.log"; then result "$name" fail "the peer's stdin did not get $n commands"
            elif ! cmp -s "$work/peer.out" "$server_pattern"; then result "$name" fail "peer received $(stat -c %s "$work/peer.out") bytes, not the server pattern"
            else result "$name" ok; fi
            ;;
    esac
}

echo "rekey: ktls-tool $tool"
"$tool" pattern --role server --size "$(bytes "$lib_size")" >"$work/server.pattern" &&
    "$tool" pattern --role client --size "$(bytes "$lib_size")" >"$work/client.pattern" ||
    { echo "ktls-tool pattern failed" >&2; exit 2; }

n=$(updates "$size" "$every")
both="--size $size --key-update-every $every --expect-key-updates $n"
pair "rustls-server-af_ktls-aes128gcm" "--cipher aes128gcm --backend af_ktls $both" \
    "--cipher aes128gcm --backend userspace --size $size --key-update-every $every"
pair "rustls-client-af_ktls-chacha20" "--cipher chacha20 --backend userspace --size $size --key-update-every $every" \
    "--cipher chacha20 --backend af_ktls $both"
pair "ulp-server-af_ktls-aes256gcm" "--cipher aes256gcm --backend af_ktls $both" "--cipher aes256gcm --backend ulp $both"
pair "ulp-client-af_ktls-aes128gcm" "--cipher aes128gcm --backend ulp $both" "--cipher aes128gcm --backend af_ktls $both"

backends=af_ktls
[ "${REKEY_CONTROL:-1}" = 1 ] && backends="af_ktls ulp"
i=0
for backend in $backends; do
    for setup in client-openssl server-openssl client-gnutls server-gnutls; do
        library "$setup" "$backend" "$i"
        i=$((i + 1))
    done
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
