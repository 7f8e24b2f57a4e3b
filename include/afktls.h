/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * libafktls: hand a finished OpenSSL or GnuTLS handshake to an AF_KTLS socket in one call.
 *
 *   libafktls          the core: family number, socket + bind + keys, receiving and closing
 *   libafktls-openssl  afktls_from_openssl() and friends (links OpenSSL 3)
 *   libafktls-gnutls   afktls_from_gnutls() and friends (links GnuTLS >= 3.4)
 *
 * pkg-config names: afktls, afktls-openssl, afktls-gnutls. This header needs neither TLS
 * library's headers: the OpenSSL and GnuTLS types are declared by their structure tags, so
 * `SSL *` and `gnutls_session_t` pass as they are.
 *
 * Every function that fails returns -1 (NULL for none) and sets errno; afktls_last_error() then
 * says what went wrong in words. The errno values are listed per function and in
 * Documentation/libafktls.md.
 */
#ifndef AFKTLS_H
#define AFKTLS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <linux/ktls.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Flags of afktls_attach(), afktls_from_openssl() and afktls_from_gnutls(). */
#define AFKTLS_CLOEXEC  0x1u /* the new socket is close-on-exec (SOCK_CLOEXEC) */
#define AFKTLS_NONBLOCK 0x2u /* the new socket is non-blocking (SOCK_NONBLOCK) */

/* One direction's keys: the kernel's structure for the cipher, tagged by info.cipher_type. */
union afktls_crypto_info {
	struct ktls_crypto_info info;
	struct ktls_crypto_info_aes_gcm_128 aes_gcm_128;
	struct ktls_crypto_info_aes_gcm_256 aes_gcm_256;
	struct ktls_crypto_info_chacha20_poly1305 chacha20_poly1305;
};

/* Both directions, as this endpoint sees them: tx = what it sends, rx = what it receives. */
struct afktls_keys {
	union afktls_crypto_info tx;
	union afktls_crypto_info rx;
};

/* ---- core (libafktls) ------------------------------------------------------------------- */

/*
 * The address family number AF_KTLS has on this system: the loaded module's `family`
 * parameter (/sys/module/af_ktls/parameters/family), or AF_KTLS (12) when the module is not
 * loaded. Never fails.
 */
int afktls_family(void);

/* Size of the key structure for a KTLS_CIPHER_* number, or 0 for an unknown cipher. */
size_t afktls_crypto_info_size(unsigned int cipher);

/*
 * Creates an AF_KTLS socket (SOCK_STREAM for TLS, SOCK_DGRAM for DTLS, from keys->tx's
 * version), binds it to the connected TCP or UDP socket `transport_fd` and sets both
 * directions' keys. Returns the new socket, or -1 with errno:
 *   EINVAL        unknown flags, or a version/cipher in keys->tx that AF_KTLS does not know
 *   EAFNOSUPPORT  the af_ktls module is not loaded
 *   EPROTO        keys->rx is for another version or cipher than keys->tx
 *   and the errno of socket(), bind() or setsockopt() (Documentation/af_ktls.md), e.g.
 *   ENOTCONN (transport not connected), EPROTOTYPE (not TCP/UDP), EBADF, ENOTSOCK.
 * Does not wipe `keys`; the caller does (afktls_wipe).
 */
int afktls_attach(int transport_fd, const struct afktls_keys *keys, unsigned int flags);

/* Overwrites `len` bytes at `p` with zeros in a way the compiler does not remove. */
void afktls_wipe(void *p, size_t len);

/*
 * recv() for applications: returns application data only.
 *   > 0  bytes of application data
 *   0    the peer sent close_notify, or the stream ended between records
 *   -1   errno:
 *        ECONNABORTED  the peer sent a fatal alert (afktls_last_error() names it)
 *        EKEYEXPIRED   the peer sent a TLS 1.3 KeyUpdate: the kernel waits for the next
 *                      receive keys, which this library does not derive (yet)
 *        EPROTO        a record the connection cannot carry after the handshake
 *                      (renegotiation, post-handshake authentication, ChangeCipherSpec)
 *        and recvmsg()'s errno (EAGAIN, EBADMSG, ...).
 * Skipped silently: TLS 1.3 NewSessionTicket (a TLS 1.3 client usually finds the server's
 * tickets first after the handoff), HelloRequest, user_canceled alerts, and DTLS handshake
 * records (a peer retransmitting its last flight). `flags` as for recv() (MSG_DONTWAIT,
 * MSG_PEEK, MSG_WAITALL); with MSG_DONTWAIT it may return -1/EAGAIN after skipping a record.
 */
ssize_t afktls_recv(int fd, void *buf, size_t len, int flags);

/* Sends a close_notify alert on an AF_KTLS socket. 0, or -1 with send()'s errno. */
int afktls_close_notify(int fd);

/*
 * What the last failing afktls_* call of this thread failed on, in words (never NULL; "" if
 * none failed yet). Stays valid until the next afktls_* call in the same thread.
 */
const char *afktls_last_error(void);

/* ---- OpenSSL 3 (libafktls-openssl) ----------------------------------------------------- */

struct ssl_st;     /* SSL */
struct ssl_ctx_st; /* SSL_CTX */

/*
 * Call once per SSL_CTX, before handshakes: installs the keylog callback through which OpenSSL
 * hands over TLS 1.3 traffic secrets (a callback already installed is kept and still called).
 * Only needed for TLS 1.3, but harmless otherwise. 0, or -1 with EINVAL/ENOMEM.
 */
int afktls_openssl_ctx_init(struct ssl_ctx_st *ctx);

/*
 * Call once per SSL, before its handshake: starts counting records per direction (through
 * SSL_set_msg_callback, which replaces any message callback; an application with its own calls
 * afktls_openssl_msg_callback() from it) and, if its SSL_CTX lacks it, does
 * afktls_openssl_ctx_init() (do that yourself before sharing the SSL_CTX between threads).
 * 0, or -1 with EINVAL/ENOMEM.
 */
int afktls_openssl_init(struct ssl_st *ssl);

/* The callbacks afktls_openssl_*init() install, for applications that chain their own. */
void afktls_openssl_msg_callback(int write_p, int version, int content_type, const void *buf,
				 size_t len, struct ssl_st *ssl, void *arg);
void afktls_openssl_keylog_callback(const struct ssl_st *ssl, const char *line);

/*
 * Fills `keys` (this endpoint's point of view) from a finished OpenSSL handshake: TLS 1.2,
 * TLS 1.3 or DTLS 1.2 with AES-128-GCM, AES-256-GCM or ChaCha20-Poly1305. Returns 0, or -1:
 *   EINVAL   afktls_openssl_init() was not called before the handshake, the handshake is not
 *            finished, or (TLS 1.3) the traffic secrets never arrived (afktls_openssl_ctx_init)
 *   EBUSY    OpenSSL still holds received data or records (SSL_pending/SSL_has_pending): read
 *            them first; or OpenSSL's own kernel TLS is on
 *   ENOTSUP  a version or cipher suite AF_KTLS does not carry (TLS 1.1, CBC, CCM, ...), a
 *            KeyUpdate already happened, or DTLS renegotiated
 *   EIO      an OpenSSL call failed
 * On failure `keys` is zeroed. Wipe it after use (afktls_wipe).
 */
int afktls_openssl_keys(struct ssl_st *ssl, struct afktls_keys *keys);

/*
 * The one call: afktls_openssl_keys() + afktls_attach() on SSL_get_fd(ssl), keys wiped
 * afterwards. Returns the AF_KTLS socket, or -1 with the errno of either (EBADF: the SSL has
 * no file descriptor). Use the returned socket from now on, never SSL_read/SSL_write on `ssl`
 * again. The SSL is marked shut down (SSL_set_shutdown), so SSL_shutdown() sends nothing and
 * SSL_free() keeps its session resumable.
 */
int afktls_from_openssl(struct ssl_st *ssl, unsigned int flags);

/* ---- GnuTLS (libafktls-gnutls) --------------------------------------------------------- */

struct gnutls_session_int; /* gnutls_session_t is a pointer to it */

/*
 * Fills `keys` from a finished GnuTLS handshake (gnutls_record_get_state). 0, or -1:
 *   EBUSY    GnuTLS holds received plaintext (gnutls_record_check_pending) or corked data,
 *            or GnuTLS's own kernel TLS is on
 *   ENOTSUP  a version or cipher AF_KTLS does not carry
 *   EIO      a GnuTLS call failed (e.g. handshake not finished)
 * On failure `keys` is zeroed. Wipe it after use (afktls_wipe).
 */
int afktls_gnutls_keys(struct gnutls_session_int *session, struct afktls_keys *keys);

/*
 * The one call: afktls_gnutls_keys() + afktls_attach() on the session's transport descriptor
 * (gnutls_transport_get_int2; both directions must use the same one, else EBADF).
 * Use the returned socket from now on, never gnutls_record_send/recv/bye on `session` again;
 * gnutls_deinit(session) is fine.
 */
int afktls_from_gnutls(struct gnutls_session_int *session, unsigned int flags);

#ifdef __cplusplus
}
#endif

#endif /* AFKTLS_H */
