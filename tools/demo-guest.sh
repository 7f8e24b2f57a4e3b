#!/usr/bin/env bash
# The guest half of `make demo` (see tools/demo.sh): real handshakes with ktls-tool, then the same
# transfer moved by af_ktls, userspace and mainline kTLS (ulp), with a table of what it measured.
set -u
repo=$(cd "$(dirname "$0")/.." && pwd)
tool=$repo/target/release/ktls-tool
size=${DEMO_SIZE:-64M}
work=$(mktemp -d)
insmod "$repo/af_ktls.ko" || exit 1

counter() { awk -v name="$1" '$1 == name { print $2 }' /proc/net/af_ktls; }

# run NAME PORT PROTOCOL-OPTIONS... -- BACKEND: one server/client pair; JSON in $work/NAME.*.json.
run() {
    local name=$1 port=$2 backend=$3; shift 3
    "$tool" server --listen "127.0.0.1:$port" "$@" --backend "$backend" --size "$size" \
        --json > "$work/$name.server.json" 2> "$work/$name.server.log" &
    local server=$!
    sleep 1
    "$tool" client --connect "127.0.0.1:$port" "$@" --backend "$backend" --size "$size" \
        --json > "$work/$name.client.json" 2> "$work/$name.client.log"
    local client_rc=$?
    wait "$server"
    local server_rc=$?
    if [ "$client_rc" != 0 ] || [ "$server_rc" != 0 ]; then
        echo "demo: $name failed (client $client_rc, server $server_rc)" >&2
        tail -n 5 "$work/$name.client.log" "$work/$name.server.log" >&2
        return 1
    fi
}

field() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); v=d.get(sys.argv[2]); print('-' if v is None else v)" "$1" "$2"; }

rows=()
status=0
# Large datagrams on loopback: the MTU limits DTLS records, not the link.
dtls=(--dtls --mtu 16384)
for protocol in tls13 dtls12; do
    for backend in af_ktls userspace ulp; do
        [ "$protocol" = dtls12 ] && [ "$backend" = ulp ] && continue
        case $protocol in tls13) opts=(--tls 1.3) label="TLS 1.3" ;; dtls12) opts=("${dtls[@]}") label="DTLS 1.2" ;; esac
        name=$protocol-$backend
        tx0=$(counter KtlsTxRecords); rx0=$(counter KtlsRxRecords)
        port=$((25000 + ${#rows[@]}))
        if ! run "$name" "$port" "$backend" "${opts[@]}" --cipher aes128gcm; then
            status=1; continue
        fi
        json=$work/$name.client.json
        ok_c=$(field "$json" hash_ok); ok_s=$(field "$work/$name.server.json" hash_ok)
        [ "$ok_c" = True ] && [ "$ok_s" = True ] || status=1
        if [ "$backend" = af_ktls ]; then
            # Both ends are AF_KTLS sockets: the module's counters hold both directions.
            records="$(( $(counter KtlsTxRecords) - tx0 )) tx / $(( $(counter KtlsRxRecords) - rx0 )) rx (both ends)"
        else
            records="$(field "$json" records_sent) tx / $(field "$json" records_received) rx (client)"
        fi
        rows+=("$(printf '%-9s %-10s %10s %10s  %-34s %9s %6s' "$label" "$backend" \
            "$(field "$json" bytes_sent)" "$(field "$json" bytes_received)" "$records" \
            "$(printf '%.1f' "$(field "$json" throughput_mib_s)")" "$ok_c/$ok_s")")
    done
done

echo
echo "af_ktls demo: AES-128-GCM, $size each way, real handshakes (rustls for TLS, OpenSSL for DTLS)"
echo "Measured in a QEMU/TCG guest: emulated CPU, so only the ratios between rows mean anything."
echo
printf '%-9s %-10s %10s %10s  %-34s %9s %6s\n' protocol backend "sent B" "recv B" records "MiB/s" "sha256"
printf '%s\n' "${rows[@]}"
echo
echo "(MiB/s: the client's bytes sent plus received over its transfer time; sha256 client/server.)"
rm -rf "$work"
exit $status
