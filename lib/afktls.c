// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * libafktls core: the family number, socket + bind + keys, receiving application data and
 * closing. No TLS library here; libafktls-openssl and libafktls-gnutls build on it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

#define FAMILY_PARAMETER "/sys/module/af_ktls/parameters/family"

static __thread char last_error[256];

AFKTLS_API const char *afktls_last_error(void)
{
	return last_error;
}

AFKTLS_API void afktls__clear_error(void)
{
	last_error[0] = '\0';
}

AFKTLS_API int afktls__fail(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	errno = err;
	return -1;
}

AFKTLS_API void afktls_wipe(void *p, size_t len)
{
	if (p)
		explicit_bzero(p, len);
}

AFKTLS_API int afktls_family(void)
{
	FILE *f = fopen(FAMILY_PARAMETER, "re");
	int family = AF_KTLS;

	if (f) {
		int value;

		/* The module accepts 1..NPROTO-1; anything else means the file is not what we think. */
		if (fscanf(f, "%d", &value) == 1 && value > 0 && value < 256)
			family = value;
		fclose(f);
	}
	return family;
}

AFKTLS_API size_t afktls_crypto_info_size(unsigned int cipher)
{
	switch (cipher) {
	case KTLS_CIPHER_AES_GCM_128:
		return sizeof(struct ktls_crypto_info_aes_gcm_128);
	case KTLS_CIPHER_AES_GCM_256:
		return sizeof(struct ktls_crypto_info_aes_gcm_256);
	case KTLS_CIPHER_CHACHA20_POLY1305:
		return sizeof(struct ktls_crypto_info_chacha20_poly1305);
	default:
		return 0;
	}
}

/* A message for an errno of setsockopt(SOL_KTLS, KTLS_TX/KTLS_RX). */
static int key_error(const char *option, int err)
{
	switch (err) {
	case EPROTO:
		return afktls__fail(err, "setsockopt(%s): the key structure's version or cipher "
				    "differs from the bind address's (EPROTO): both directions "
				    "must have the version and cipher the socket was bound with",
				    option);
	case EINVAL:
		return afktls__fail(err, "setsockopt(%s): the kernel refused the key structure "
				    "(EINVAL: wrong size or a value out of range)", option);
	case ENOENT:
		return afktls__fail(err, "setsockopt(%s): the kernel crypto API lacks the cipher "
				    "(ENOENT): gcm(aes) or rfc7539(chacha20,poly1305)", option);
	case EBUSY:
		return afktls__fail(err, "setsockopt(%s): keys already set (EBUSY)", option);
	default:
		return afktls__fail(err, "setsockopt(%s): %s", option, strerror(err));
	}
}

static int bind_error(int family, int err)
{
	switch (err) {
	case EAFNOSUPPORT:
		return afktls__fail(err, "bind: the address family %d is not AF_KTLS's "
				    "(EAFNOSUPPORT)", family);
	case EBADF:
		return afktls__fail(err, "bind: the transport descriptor is not open (EBADF)");
	case ENOTSOCK:
		return afktls__fail(err, "bind: the transport descriptor is not a socket "
				    "(ENOTSOCK)");
	case EPROTOTYPE:
		return afktls__fail(err, "bind: the transport is not a TCP (TLS) or UDP (DTLS) "
				    "socket over IPv4/IPv6 (EPROTOTYPE)");
	case ENOTCONN:
		return afktls__fail(err, "bind: the transport socket is not connected (ENOTCONN)");
	case EINVAL:
		return afktls__fail(err, "bind: the kernel refused the address (EINVAL: unknown "
				    "version or cipher)");
	default:
		return afktls__fail(err, "bind: %s", strerror(err));
	}
}

AFKTLS_API int afktls_attach(int transport_fd, const struct afktls_keys *keys,
			     unsigned int flags)
{
	struct sockaddr_ktls sa;
	int family = afktls_family();
	int type, s, err;
	size_t len;

	afktls__clear_error();
	if (!keys)
		return afktls__fail(EINVAL, "afktls_attach: no keys");
	if (flags & ~(AFKTLS_CLOEXEC | AFKTLS_NONBLOCK))
		return afktls__fail(EINVAL, "afktls_attach: unknown flags %#x", flags);
	switch (keys->tx.info.version) {
	case KTLS_VERSION_TLS_1_2:
	case KTLS_VERSION_TLS_1_3:
		type = SOCK_STREAM;
		break;
	case KTLS_VERSION_DTLS_1_2:
		type = SOCK_DGRAM;
		break;
	default:
		return afktls__fail(EINVAL, "afktls_attach: unknown version %#x",
				    keys->tx.info.version);
	}
	/*
	 * Both directions are set with the size of the bound cipher's structure, so a receive key
	 * structure for another cipher is reported as what it is (EPROTO), not as a size (EINVAL).
	 */
	len = afktls_crypto_info_size(keys->tx.info.cipher_type);
	if (!len)
		return afktls__fail(EINVAL, "afktls_attach: unknown cipher %u",
				    keys->tx.info.cipher_type);
	if (flags & AFKTLS_CLOEXEC)
		type |= SOCK_CLOEXEC;
	if (flags & AFKTLS_NONBLOCK)
		type |= SOCK_NONBLOCK;

	s = socket(family, type, 0);
	if (s < 0) {
		if (errno == EAFNOSUPPORT)
			return afktls__fail(errno, "socket: address family %d is not registered "
					    "(EAFNOSUPPORT): is the af_ktls module loaded?", family);
		return afktls__fail(errno, "socket(AF_KTLS): %s", strerror(errno));
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_family = (__u16)family;
	sa.sa_cipher = keys->tx.info.cipher_type;
	sa.sa_version = keys->tx.info.version;
	sa.sa_socket = transport_fd;
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = errno;
		close(s);
		return bind_error(family, err);
	}
	if (setsockopt(s, SOL_KTLS, KTLS_TX, &keys->tx, (socklen_t)len) < 0) {
		err = errno;
		close(s);
		return key_error("KTLS_TX", err);
	}
	if (setsockopt(s, SOL_KTLS, KTLS_RX, &keys->rx, (socklen_t)len) < 0) {
		err = errno;
		close(s);
		return key_error("KTLS_RX", err);
	}
	return s;
}

AFKTLS_API int afktls__set_direction(union afktls_crypto_info *out, unsigned int version,
				     unsigned int cipher, const unsigned char *key, size_t key_len,
				     const unsigned char *iv, size_t iv_len, uint64_t rec_seq,
				     uint64_t explicit_nonce)
{
	bool tls13 = version == KTLS_VERSION_TLS_1_3;

	memset(out, 0, sizeof(*out));
	out->info.version = (__u16)version;
	out->info.cipher_type = (__u16)cipher;
	switch (cipher) {
	case KTLS_CIPHER_AES_GCM_128: {
		struct ktls_crypto_info_aes_gcm_128 *k = &out->aes_gcm_128;

		if (key_len != sizeof(k->key) || iv_len < (tls13 ? 12 : 4))
			break;
		memcpy(k->key, key, sizeof(k->key));
		memcpy(k->salt, iv, sizeof(k->salt));
		if (tls13)
			memcpy(k->iv, iv + 4, sizeof(k->iv));
		else
			afktls__put_be64(k->iv, explicit_nonce);
		afktls__put_be64(k->rec_seq, rec_seq);
		return 0;
	}
	case KTLS_CIPHER_AES_GCM_256: {
		struct ktls_crypto_info_aes_gcm_256 *k = &out->aes_gcm_256;

		if (key_len != sizeof(k->key) || iv_len < (tls13 ? 12 : 4))
			break;
		memcpy(k->key, key, sizeof(k->key));
		memcpy(k->salt, iv, sizeof(k->salt));
		if (tls13)
			memcpy(k->iv, iv + 4, sizeof(k->iv));
		else
			afktls__put_be64(k->iv, explicit_nonce);
		afktls__put_be64(k->rec_seq, rec_seq);
		return 0;
	}
	case KTLS_CIPHER_CHACHA20_POLY1305: {
		struct ktls_crypto_info_chacha20_poly1305 *k = &out->chacha20_poly1305;

		if (key_len != sizeof(k->key) || iv_len != sizeof(k->iv))
			break;
		memcpy(k->key, key, sizeof(k->key));
		memcpy(k->iv, iv, sizeof(k->iv));
		afktls__put_be64(k->rec_seq, rec_seq);
		return 0;
	}
	default:
		break;
	}
	afktls_wipe(out, sizeof(*out));
	return afktls__fail(EINVAL, "key of %zu bytes and IV of %zu bytes do not fit cipher %u",
			    key_len, iv_len, cipher);
}

/* ---- receiving --------------------------------------------------------------------------- */

#define TLS_ALERT_CLOSE_NOTIFY  0
#define TLS_ALERT_USER_CANCELED 90
#define TLS_HS_HELLO_REQUEST      0
#define TLS_HS_NEW_SESSION_TICKET 4
#define TLS_HS_KEY_UPDATE         24
#define TLS_HS_HEADER_LEN         4

/* recvmsg() with room for KTLS_GET_RECORD_TYPE; *type is the record's content type. */
static ssize_t recv_typed(int fd, void *buf, size_t len, int flags, unsigned char *type)
{
	union {
		char buf[CMSG_SPACE(sizeof(unsigned char))];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control.buf,
		.msg_controllen = sizeof(control.buf),
	};
	struct cmsghdr *cmsg;
	ssize_t n = recvmsg(fd, &msg, flags);

	if (n < 0)
		return n;
	*type = KTLS_RECORD_APPLICATION_DATA;
	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
		if (cmsg->cmsg_level == SOL_KTLS && cmsg->cmsg_type == KTLS_GET_RECORD_TYPE &&
		    cmsg->cmsg_len >= CMSG_LEN(sizeof(unsigned char)))
			*type = *CMSG_DATA(cmsg);
	}
	return n;
}

/*
 * The rest of a record of type `type` whose first bytes were read already: `need` more bytes
 * into `dst` (NULL: discarded). TLS only: the kernel hands out a partly read record piece by
 * piece. Blocks even for MSG_DONTWAIT callers: the rest of a record is already decrypted (a
 * handshake message split across records, which would need the next one, is not seen in
 * practice).
 */
static int read_more(int fd, unsigned char type, unsigned char *dst, size_t need)
{
	unsigned char scratch[512];

	while (need > 0) {
		unsigned char *to = dst ? dst : scratch;
		size_t want = dst ? need : (need < sizeof(scratch) ? need : sizeof(scratch));
		unsigned char got_type;
		ssize_t n = recv_typed(fd, to, want, 0, &got_type);

		if (n < 0)
			return afktls__fail(errno, "recvmsg: %s", strerror(errno));
		if (n == 0)
			return afktls__fail(EPROTO, "the stream ended inside a record of type %u",
					    type);
		if (got_type != type)
			return afktls__fail(EPROTO, "a record of type %u interrupted one of type "
					    "%u", got_type, type);
		if (dst)
			dst += n;
		need -= (size_t)n;
	}
	afktls_wipe(scratch, sizeof(scratch));
	return 0;
}

/*
 * Handshake messages after the handoff (TLS): `have` bytes at `p` were read, the record may
 * hold more. Returns 0 if every message is one to skip, else -1 with errno.
 */
static int skip_handshake(int fd, const unsigned char *p, size_t have)
{
	do {
		unsigned char hdr[TLS_HS_HEADER_LEN];
		size_t from_p = have < sizeof(hdr) ? have : sizeof(hdr);
		size_t body, skip;

		memcpy(hdr, p, from_p);
		p += from_p;
		have -= from_p;
		if (from_p < sizeof(hdr) &&
		    read_more(fd, KTLS_RECORD_HANDSHAKE, hdr + from_p, sizeof(hdr) - from_p) < 0)
			return -1;
		switch (hdr[0]) {
		case TLS_HS_NEW_SESSION_TICKET:
		case TLS_HS_HELLO_REQUEST:
			break;
		case TLS_HS_KEY_UPDATE:
			return afktls__fail(EKEYEXPIRED, "the peer sent a TLS 1.3 KeyUpdate: "
					    "AF_KTLS cannot take new keys yet, so the connection "
					    "cannot go on");
		default:
			return afktls__fail(EPROTO, "the peer sent handshake message type %u after "
					    "the handoff (renegotiation or post-handshake "
					    "authentication are not possible on AF_KTLS)", hdr[0]);
		}
		body = (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
		skip = body < have ? body : have;
		p += skip;
		have -= skip;
		if (skip < body && read_more(fd, KTLS_RECORD_HANDSHAKE, NULL, body - skip) < 0)
			return -1;
	} while (have > 0);
	return 0;
}

static const char *alert_name(unsigned int description)
{
	switch (description) {
	case 10: return "unexpected_message";
	case 20: return "bad_record_mac";
	case 22: return "record_overflow";
	case 40: return "handshake_failure";
	case 42: return "bad_certificate";
	case 47: return "illegal_parameter";
	case 50: return "decode_error";
	case 51: return "decrypt_error";
	case 70: return "protocol_version";
	case 80: return "internal_error";
	case 100: return "no_renegotiation";
	default: return "alert";
	}
}

AFKTLS_API ssize_t afktls_recv(int fd, void *buf, size_t len, int flags)
{
	int type_opt = 0;
	socklen_t optlen = sizeof(type_opt);
	bool stream = true;

	afktls__clear_error();
	for (;;) {
		unsigned char type, alert[2];
		ssize_t n = recv_typed(fd, buf, len, flags, &type);

		if (n < 0)
			return afktls__fail(errno, "recvmsg: %s", strerror(errno));
		if (type == KTLS_RECORD_APPLICATION_DATA)
			return n;
		/* Not data: it is consumed here, so a peek becomes a read. */
		if (flags & MSG_PEEK) {
			n = recv_typed(fd, buf, len, flags & ~MSG_PEEK, &type);
			if (n < 0)
				return afktls__fail(errno, "recvmsg: %s", strerror(errno));
		}
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type_opt, &optlen) == 0)
			stream = type_opt == SOCK_STREAM;

		switch (type) {
		case KTLS_RECORD_ALERT:
			if ((size_t)n >= sizeof(alert)) {
				memcpy(alert, buf, sizeof(alert));
			} else if (stream) {
				memcpy(alert, buf, (size_t)n);
				if (read_more(fd, type, alert + n, sizeof(alert) - (size_t)n) < 0)
					return -1;
			} else {
				return afktls__fail(EPROTO, "the peer sent a malformed alert");
			}
			if (alert[1] == TLS_ALERT_CLOSE_NOTIFY)
				return 0;
			if (alert[1] == TLS_ALERT_USER_CANCELED)
				continue;
			return afktls__fail(ECONNABORTED, "the peer sent the alert %s (%u, level %u)",
					    alert_name(alert[1]), alert[1], alert[0]);
		case KTLS_RECORD_HANDSHAKE:
			/*
			 * DTLS 1.2 has no post-handshake messages but a peer may retransmit its
			 * Finished if it missed ours; nothing can answer it any more.
			 */
			if (!stream)
				continue;
			if (skip_handshake(fd, buf, (size_t)n) < 0)
				return -1;
			continue;
		case KTLS_RECORD_CHANGE_CIPHER_SPEC:
			return afktls__fail(EPROTO, "the peer sent ChangeCipherSpec after the "
					    "handoff (renegotiation is not possible on AF_KTLS)");
		default:
			return afktls__fail(EPROTO, "a record of unknown content type %u", type);
		}
	}
}

AFKTLS_API int afktls_close_notify(int fd)
{
	static const unsigned char close_notify[2] = { 1, TLS_ALERT_CLOSE_NOTIFY };
	union {
		char buf[CMSG_SPACE(sizeof(unsigned char))];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = (void *)close_notify, .iov_len = sizeof(close_notify) };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control.buf,
		.msg_controllen = sizeof(control.buf),
	};
	struct cmsghdr *cmsg;

	afktls__clear_error();
	memset(&control, 0, sizeof(control));
	cmsg = CMSG_FIRSTHDR(&msg);
	cmsg->cmsg_level = SOL_KTLS;
	cmsg->cmsg_type = KTLS_SET_RECORD_TYPE;
	cmsg->cmsg_len = CMSG_LEN(sizeof(unsigned char));
	*CMSG_DATA(cmsg) = KTLS_RECORD_ALERT;
	if (sendmsg(fd, &msg, MSG_NOSIGNAL) < 0)
		return afktls__fail(errno, "sending close_notify: %s", strerror(errno));
	return 0;
}
