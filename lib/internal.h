/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * Shared between libafktls and the per-TLS-library parts. The afktls__ functions are exported
 * by libafktls for libafktls-openssl and libafktls-gnutls only; they are not API.
 */
#ifndef AFKTLS_INTERNAL_H
#define AFKTLS_INTERNAL_H

#include "afktls.h"

#define AFKTLS_API __attribute__((visibility("default")))

/* Sets errno to `err` and this thread's afktls_last_error() message; returns -1. */
AFKTLS_API int afktls__fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Clears this thread's message (a call that succeeds leaves "" behind). */
AFKTLS_API void afktls__clear_error(void);

/* Writes the big-endian 64-bit `v` to `out`. */
static inline void afktls__put_be64(unsigned char *out, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		out[i] = (unsigned char)v;
		v >>= 8;
	}
}

/*
 * Fills one direction of `keys` from a key and a write IV as TLS libraries name them:
 *   version, cipher  KTLS_VERSION_*, KTLS_CIPHER_*
 *   key              16 or 32 bytes
 *   iv, iv_len       TLS 1.3 and ChaCha20-Poly1305: the 12-byte write IV; TLS/DTLS 1.2
 *                    AES-GCM: the 4-byte implicit part (salt), any further bytes ignored
 *   rec_seq          the next record's sequence number (DTLS: epoch << 48 | seq)
 *   explicit_nonce   TLS/DTLS 1.2 AES-GCM sending: the first explicit nonce (iv field)
 * Returns 0, or -1 with EINVAL if a length does not fit the cipher.
 */
AFKTLS_API int afktls__set_direction(union afktls_crypto_info *out, unsigned int version,
				     unsigned int cipher, const unsigned char *key, size_t key_len,
				     const unsigned char *iv, size_t iv_len, uint64_t rec_seq,
				     uint64_t explicit_nonce);

#endif /* AFKTLS_INTERNAL_H */
