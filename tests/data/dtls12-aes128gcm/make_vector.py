#!/usr/bin/env python3
"""Records one DTLS 1.2 session between openssl s_client and s_server and extracts a vector.

The client's datagrams go through a UDP relay on 127.0.0.1 that logs every datagram. After the
session, the TLS 1.2 key block is derived from the master secret in OpenSSL's key log, the first
epoch-1 application_data record of each direction is decrypted as a self-check, and the records,
keys and plaintexts are written as hex files. Usage: make_vector.py OUTPUT_DIR
"""

import hashlib
import hmac
import os
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

CIPHER = "ECDHE-RSA-AES128-GCM-SHA256"
CLIENT_MESSAGE = b"af_ktls DTLS 1.2 known answer\n"
SERVER_MESSAGE = b"af_ktls DTLS 1.2 known answer, server side\n"
KEY_LEN = 16
SALT_LEN = 4


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Relay(threading.Thread):
    """Forwards datagrams between one client and the server and logs them in order."""

    def __init__(self, server_port):
        super().__init__(daemon=True)
        self.front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.front.bind(("127.0.0.1", 0))
        self.back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.back.connect(("127.0.0.1", server_port))
        self.port = self.front.getsockname()[1]
        self.client = None
        self.log = []  # (direction, bytes), direction "c2s" or "s2c"
        self.stop = False

    def run(self):
        while not self.stop:
            ready, _, _ = select.select([self.front, self.back], [], [], 0.1)
            for sock in ready:
                if sock is self.front:
                    data, self.client = self.front.recvfrom(65535)
                    self.log.append(("c2s", data))
                    self.back.send(data)
                else:
                    try:
                        data = self.back.recv(65535)
                    except ConnectionRefusedError:
                        continue
                    self.log.append(("s2c", data))
                    if self.client is not None:
                        self.front.sendto(data, self.client)


def p_sha256(secret, seed, length):
    out, a = b"", seed
    while len(out) < length:
        a = hmac.new(secret, a, hashlib.sha256).digest()
        out += hmac.new(secret, a + seed, hashlib.sha256).digest()
    return out[:length]


def prf(secret, label, seed, length):
    """TLS 1.2 PRF with SHA-256 (RFC 5246 section 5)."""
    return p_sha256(secret, label + seed, length)


def dtls_records(datagram):
    """Splits a datagram into (content_type, epoch, seq, payload, raw_record)."""
    records, off = [], 0
    while off + 13 <= len(datagram):
        ctype = datagram[off]
        version = datagram[off + 1 : off + 3]
        epoch = int.from_bytes(datagram[off + 3 : off + 5], "big")
        seq = int.from_bytes(datagram[off + 5 : off + 11], "big")
        length = int.from_bytes(datagram[off + 11 : off + 13], "big")
        # HelloVerifyRequest may carry 0xfeff (DTLS 1.0), RFC 6347 section 4.2.1.
        assert version in (b"\xfe\xfd", b"\xfe\xff"), f"unexpected record version {version.hex()}"
        raw = datagram[off : off + 13 + length]
        assert len(raw) == 13 + length, "truncated record"
        records.append((ctype, epoch, seq, raw[13:], raw))
        off += 13 + length
    return records


def server_random(log):
    """The random of the ServerHello (DTLS handshake type 2, epoch 0)."""
    for direction, datagram in log:
        if direction != "s2c":
            continue
        for ctype, epoch, _seq, payload, _raw in dtls_records(datagram):
            # Handshake header: type(1) length(3) message_seq(2) fragment_offset(3) fragment_length(3).
            if ctype == 22 and epoch == 0 and payload[0] == 2:
                body = payload[12:]
                return body[2:34]
    raise SystemExit("no ServerHello in the capture")


def main():
    out = sys.argv[1]
    work = tempfile.mkdtemp(prefix="dtls-vector-")
    cert, key, keylog = (os.path.join(work, n) for n in ("cert.pem", "key.pem", "keylog.txt"))
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
         "-days", "1", "-subj", "/CN=localhost"],
        check=True, capture_output=True)

    server_port = free_udp_port()
    relay = Relay(server_port)
    relay.start()
    server = subprocess.Popen(
        ["openssl", "s_server", "-4", "-dtls1_2", "-accept", f"127.0.0.1:{server_port}",
         "-cert", cert, "-key", key, "-cipher", CIPHER, "-keylogfile", keylog,
         "-naccept", "1", "-no_ticket", "-quiet"],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    client = subprocess.Popen(
        ["openssl", "s_client", "-4", "-dtls1_2", "-connect", f"127.0.0.1:{relay.port}",
         "-cipher", CIPHER, "-ign_eof", "-quiet"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.5)
        client.stdin.write(CLIENT_MESSAGE)
        client.stdin.flush()
        time.sleep(1.0)
        server.stdin.write(SERVER_MESSAGE)
        server.stdin.flush()
        time.sleep(1.0)
    finally:
        client.kill()
        server.kill()
        client.wait()
        server.wait()
        relay.stop = True
        relay.join()

    with open(keylog) as f:
        lines = [l.split() for l in f if l.startswith("CLIENT_RANDOM ")]
    if len(lines) != 1:
        raise SystemExit(f"expected one CLIENT_RANDOM line in the key log, got {len(lines)}")
    client_random = bytes.fromhex(lines[0][1])
    master_secret = bytes.fromhex(lines[0][2])
    srv_random = server_random(relay.log)

    # RFC 5246 section 6.3: server_random first. AES-GCM has no MAC key (RFC 5288).
    block = prf(master_secret, b"key expansion", srv_random + client_random, 2 * (KEY_LEN + SALT_LEN))
    keys = {
        "c2s": (block[0:KEY_LEN], block[2 * KEY_LEN : 2 * KEY_LEN + SALT_LEN]),
        "s2c": (block[KEY_LEN : 2 * KEY_LEN], block[2 * KEY_LEN + SALT_LEN :]),
    }

    found = {}
    for direction, datagram in relay.log:
        for ctype, epoch, seq, payload, raw in dtls_records(datagram):
            if ctype != 23 or epoch != 1 or direction in found:
                continue
            write_key, salt = keys[direction]
            explicit, sealed = payload[:8], payload[8:]
            nonce = salt + explicit
            aad = raw[3:11] + bytes([ctype]) + b"\xfe\xfd" + (len(sealed) - 16).to_bytes(2, "big")
            plaintext = AESGCM(write_key).decrypt(nonce, sealed, aad)
            found[direction] = (raw, write_key, salt, plaintext)
    if set(found) != {"c2s", "s2c"}:
        raise SystemExit(f"application data records found for {sorted(found)} only")
    if found["c2s"][3] != CLIENT_MESSAGE:
        raise SystemExit("the client's record does not decrypt to the message sent")
    if found["s2c"][3] != SERVER_MESSAGE:
        raise SystemExit("the server's record does not decrypt to the message sent")

    def write(name, data):
        with open(os.path.join(out, name), "w") as f:
            f.write(data.hex() + "\n")

    for direction, prefix in (("c2s", "client"), ("s2c", "server")):
        raw, write_key, salt, plaintext = found[direction]
        write(f"{prefix}-record.hex", raw)
        write(f"{prefix}-write-key.hex", write_key)
        write(f"{prefix}-write-salt.hex", salt)
        write(f"{prefix}-plaintext.hex", plaintext)
    with open(os.path.join(out, "keylog.txt"), "w") as f:
        f.write(f"CLIENT_RANDOM {client_random.hex()} {master_secret.hex()}\n")
    write("server-random.hex", srv_random)
    with open(os.path.join(out, "datagrams.txt"), "w") as f:
        f.write("# direction hex, in the order the relay saw them\n")
        for direction, datagram in relay.log:
            f.write(f"{direction} {datagram.hex()}\n")
    for direction, prefix in (("c2s", "client"), ("s2c", "server")):
        raw = found[direction][0]
        print(f"{prefix}: epoch {int.from_bytes(raw[3:5], 'big')} seq {int.from_bytes(raw[5:11], 'big')} "
              f"length {len(raw) - 13}: {found[direction][3]!r}")


if __name__ == "__main__":
    main()
