#!/usr/bin/env bash
# Regenerates the DTLS 1.2 AES-128-GCM known-answer vector in this directory from a real
# OpenSSL session on 127.0.0.1 (see README.md). Needs openssl (3.x) and python3 with the
# `cryptography` package. Overwrites the *.hex files, keylog.txt and datagrams.txt.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec python3 "$here/make_vector.py" "$here"
