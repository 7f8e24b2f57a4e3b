/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * af_ktls: TLS and DTLS record sockets.
 *
 * An AF_KTLS socket wraps a connected TCP (TLS 1.2/1.3, SOCK_STREAM) or UDP (DTLS 1.2,
 * SOCK_DGRAM) socket on which userspace already completed the handshake. After bind() and the
 * key options below, the kernel frames, encrypts and decrypts records.
 *
 * See Documentation/af_ktls.md for the semantics and the errno of every call.
 */
#ifndef _UAPI_LINUX_KTLS_H
#define _UAPI_LINUX_KTLS_H

#include <linux/types.h>

/*
 * Address family. 12 was AF_DECnet, removed from Linux in 6.1. The module parameter `family`
 * can move it; applications that follow it read /sys/module/af_ktls/parameters/family.
 */
#define AF_KTLS 12
#define PF_KTLS AF_KTLS

/* setsockopt()/getsockopt() level. Only AF_KTLS sockets interpret it. */
#define SOL_KTLS 300

/* Protocol versions: the values on the wire. */
#define KTLS_VERSION_TLS_1_2  0x0303
#define KTLS_VERSION_TLS_1_3  0x0304
#define KTLS_VERSION_DTLS_1_2 0xfefd

/* Ciphers: the same numbers as mainline kernel TLS (<linux/tls.h>). */
#define KTLS_CIPHER_AES_GCM_128        51
#define KTLS_CIPHER_AES_GCM_256        52
#define KTLS_CIPHER_CHACHA20_POLY1305  54

/*
 * bind() address. All fields are fixed width; the structure has no holes.
 *
 * sa_family   AF_KTLS
 * sa_cipher   KTLS_CIPHER_*
 * sa_version  KTLS_VERSION_*; DTLS needs a SOCK_DGRAM socket bound to UDP, TLS a SOCK_STREAM
 *             socket bound to TCP
 * sa_reserved must be 0
 * sa_socket   file descriptor of the connected TCP or UDP socket
 */
struct sockaddr_ktls {
	__u16 sa_family;
	__u16 sa_cipher;
	__u16 sa_version;
	__u16 sa_reserved;
	__s32 sa_socket;
};

/* setsockopt()/getsockopt() option names at SOL_KTLS. */
#define KTLS_TX                 1  /* struct ktls_crypto_info_*: keys for sending */
#define KTLS_RX                 2  /* struct ktls_crypto_info_*: keys for receiving */
#define KTLS_TX_MAX_PAYLOAD_LEN 5  /* __u16: largest plaintext per record sent */
#define KTLS_DTLS_MTU           16 /* __u32: largest datagram sent (DTLS only) */
#define KTLS_RX_DECRYPT_AHEAD   17 /* int: 1 (default) opens arriving records before recv(), 0 not */
#define KTLS_UNATTACH           18 /* no value (optlen 0): give the bound socket back */

/* Control message types at SOL_KTLS. */
#define KTLS_SET_RECORD_TYPE 1 /* sendmsg(): __u8 content type of the record sent */
#define KTLS_GET_RECORD_TYPE 2 /* recvmsg(): __u8 content type of the record received */

/* TLS record content types. */
#define KTLS_RECORD_CHANGE_CIPHER_SPEC 20
#define KTLS_RECORD_ALERT              21
#define KTLS_RECORD_HANDSHAKE          22
#define KTLS_RECORD_APPLICATION_DATA   23

/* Common prefix of every crypto info structure: must match the bound version and cipher. */
struct ktls_crypto_info {
	__u16 version;
	__u16 cipher_type;
};

/*
 * Key material per direction, laid out like mainline's struct tls12_crypto_info_*.
 *
 * TLS 1.2 / DTLS 1.2 (AES-GCM): salt is the 4-byte implicit nonce from the key block; iv is the
 *   first explicit nonce to send (ignored for receiving, where it arrives in each record).
 * TLS 1.3: salt || iv is the 12-byte static IV (client/server_write_iv).
 * rec_seq: the next record sequence number, big endian. For DTLS it is epoch (2 bytes) followed by
 *   the 48-bit sequence number, exactly as in the DTLS record header.
 */
#define KTLS_AES_GCM_128_IV_SIZE      8
#define KTLS_AES_GCM_128_KEY_SIZE     16
#define KTLS_AES_GCM_128_SALT_SIZE    4
#define KTLS_AES_GCM_128_REC_SEQ_SIZE 8

struct ktls_crypto_info_aes_gcm_128 {
	struct ktls_crypto_info info;
	unsigned char iv[KTLS_AES_GCM_128_IV_SIZE];
	unsigned char key[KTLS_AES_GCM_128_KEY_SIZE];
	unsigned char salt[KTLS_AES_GCM_128_SALT_SIZE];
	unsigned char rec_seq[KTLS_AES_GCM_128_REC_SEQ_SIZE];
};

#define KTLS_AES_GCM_256_IV_SIZE      8
#define KTLS_AES_GCM_256_KEY_SIZE     32
#define KTLS_AES_GCM_256_SALT_SIZE    4
#define KTLS_AES_GCM_256_REC_SEQ_SIZE 8

struct ktls_crypto_info_aes_gcm_256 {
	struct ktls_crypto_info info;
	unsigned char iv[KTLS_AES_GCM_256_IV_SIZE];
	unsigned char key[KTLS_AES_GCM_256_KEY_SIZE];
	unsigned char salt[KTLS_AES_GCM_256_SALT_SIZE];
	unsigned char rec_seq[KTLS_AES_GCM_256_REC_SEQ_SIZE];
};

/* ChaCha20-Poly1305: iv is the full 12-byte static IV; there is no salt and no explicit nonce. */
#define KTLS_CHACHA20_POLY1305_IV_SIZE      12
#define KTLS_CHACHA20_POLY1305_KEY_SIZE     32
#define KTLS_CHACHA20_POLY1305_SALT_SIZE    0
#define KTLS_CHACHA20_POLY1305_REC_SEQ_SIZE 8

struct ktls_crypto_info_chacha20_poly1305 {
	struct ktls_crypto_info info;
	unsigned char iv[KTLS_CHACHA20_POLY1305_IV_SIZE];
	unsigned char key[KTLS_CHACHA20_POLY1305_KEY_SIZE];
	unsigned char rec_seq[KTLS_CHACHA20_POLY1305_REC_SEQ_SIZE];
};

#endif /* _UAPI_LINUX_KTLS_H */
