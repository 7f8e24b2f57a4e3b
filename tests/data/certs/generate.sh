#!/usr/bin/env bash
# Regenerates the test PKI used by ktls-tool and the interop tests (tests/interop/run.sh):
#   ca.pem / ca.key          self-signed test CA (clients trust ca.pem)
#   server.pem / server.key  RSA-2048 server certificate for localhost, 127.0.0.1 and ::1,
#                            signed by the CA (RSA so that ECDHE-RSA-* suites work with every peer)
# The files are committed so that openssl s_server/gnutls-serv and ktls-tool use the same ones;
# they protect nothing and must never be used outside tests. Valid for 20 years.
set -euo pipefail
cd "$(dirname "$0")"
days=7300
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days "$days" \
    -keyout ca.key -out ca.pem -subj "/CN=af_ktls test CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign

openssl req -newkey rsa:2048 -nodes -sha256 -keyout server.key -out "$tmp/server.csr" -subj "/CN=localhost"
cat > "$tmp/server.ext" <<'EXT'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1
EXT
openssl x509 -req -sha256 -days "$days" -in "$tmp/server.csr" -CA ca.pem -CAkey ca.key \
    -CAcreateserial -CAserial "$tmp/ca.srl" -extfile "$tmp/server.ext" -out server.pem
openssl verify -CAfile ca.pem server.pem
