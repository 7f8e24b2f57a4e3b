// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * libafktls-gnutls: a GnuTLS session whose handshake finished, handed to AF_KTLS.
 *
 * gnutls_record_get_state() gives, per direction, the key, the write IV (TLS/DTLS 1.2 AES-GCM:
 * the 4-byte implicit part; TLS 1.3 and ChaCha20-Poly1305: the 12-byte IV) and the next record
 * sequence number (DTLS: epoch || sequence number), which is all AF_KTLS needs.
 */
#include <errno.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/socket.h>

#include "internal.h"

static int direction(gnutls_session_t session, int read, unsigned int version,
		     unsigned int cipher, union afktls_crypto_info *out)
{
	gnutls_datum_t mac_key, iv, key;
	unsigned char seq[8];
	uint64_t rec_seq = 0;
	int ret = gnutls_record_get_state(session, read, &mac_key, &iv, &key, seq);

	if (ret < 0)
		return afktls__fail(EIO, "gnutls_record_get_state(%s): %s", read ? "read" : "write",
				    gnutls_strerror(ret));
	for (int i = 0; i < 8; i++)
		rec_seq = rec_seq << 8 | seq[i];
	/*
	 * Sending with TLS/DTLS 1.2 AES-GCM, the first explicit nonce is the next sequence number:
	 * GnuTLS's own explicit nonces are its sequence numbers, so the kernel's continue them.
	 */
	return afktls__set_direction(out, version, cipher, key.data, key.size, iv.data, iv.size,
				     rec_seq, read ? 0 : rec_seq);
}

AFKTLS_API int afktls_gnutls_keys(gnutls_session_t session, struct afktls_keys *keys)
{
	unsigned int version, cipher;
	size_t pending;

	afktls__clear_error();
	if (!keys)
		return afktls__fail(EINVAL, "afktls_gnutls_keys: no key structure");
	memset(keys, 0, sizeof(*keys));
	if (!session)
		return afktls__fail(EINVAL, "afktls_gnutls_keys: no session");

	pending = gnutls_record_check_pending(session);
	if (pending > 0)
		return afktls__fail(EBUSY, "GnuTLS holds %zu bytes of received data: read them "
				    "with gnutls_record_recv() before the handoff", pending);
	pending = gnutls_record_check_corked(session);
	if (pending > 0)
		return afktls__fail(EBUSY, "GnuTLS holds %zu bytes of corked data: "
				    "gnutls_record_uncork() them before the handoff", pending);
	if (gnutls_transport_is_ktls_enabled(session) != 0)
		return afktls__fail(EBUSY, "GnuTLS already handed this session to kernel TLS");

	switch (gnutls_protocol_get_version(session)) {
	case GNUTLS_TLS1_2:
		version = KTLS_VERSION_TLS_1_2;
		break;
	case GNUTLS_TLS1_3:
		version = KTLS_VERSION_TLS_1_3;
		break;
	case GNUTLS_DTLS1_2:
		version = KTLS_VERSION_DTLS_1_2;
		break;
	default:
		return afktls__fail(ENOTSUP, "%s: AF_KTLS carries TLS 1.2, TLS 1.3 and DTLS 1.2 "
				    "only", gnutls_protocol_get_name(
					    gnutls_protocol_get_version(session)) ?: "unknown");
	}
	switch (gnutls_cipher_get(session)) {
	case GNUTLS_CIPHER_AES_128_GCM:
		cipher = KTLS_CIPHER_AES_GCM_128;
		break;
	case GNUTLS_CIPHER_AES_256_GCM:
		cipher = KTLS_CIPHER_AES_GCM_256;
		break;
	case GNUTLS_CIPHER_CHACHA20_POLY1305:
		cipher = KTLS_CIPHER_CHACHA20_POLY1305;
		break;
	default:
		return afktls__fail(ENOTSUP, "cipher %s: AF_KTLS carries AES-128-GCM, AES-256-GCM "
				    "and ChaCha20-Poly1305 only",
				    gnutls_cipher_get_name(gnutls_cipher_get(session)) ?: "unknown");
	}
	if (direction(session, 0, version, cipher, &keys->tx) < 0 ||
	    direction(session, 1, version, cipher, &keys->rx) < 0) {
		afktls_wipe(keys, sizeof(*keys));
		return -1;
	}
	return 0;
}

AFKTLS_API int afktls_from_gnutls(gnutls_session_t session, unsigned int flags)
{
	struct afktls_keys keys;
	int recv_fd = -1, send_fd = -1, s;

	if (afktls_gnutls_keys(session, &keys) < 0)
		return -1;
	gnutls_transport_get_int2(session, &recv_fd, &send_fd);
	if (recv_fd < 0 || recv_fd != send_fd) {
		afktls_wipe(&keys, sizeof(keys));
		return afktls__fail(EBADF, "the session has no socket descriptor, or receives and "
				    "sends through different ones (gnutls_transport_get_int2)");
	}
	s = afktls_attach(recv_fd, &keys, flags);
	afktls_wipe(&keys, sizeof(keys));
	return s;
}
