/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Test peers for libafktls: OpenSSL and GnuTLS endpoints in one process over loopback TCP or
 * UDP, so one side can be handed to AF_KTLS while the other stays a plain userspace TLS
 * library (whose own record layer then checks the kernel's records and our key derivation).
 */
#ifndef AFKTLS_TEST_PEERS_H
#define AFKTLS_TEST_PEERS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <gnutls/gnutls.h>
#include <openssl/ssl.h>

enum peer_lib { LIB_OPENSSL, LIB_GNUTLS };
enum peer_proto { PROTO_TLS12, PROTO_TLS13, PROTO_DTLS12 };
enum peer_cipher { CIPHER_AES128, CIPHER_AES256, CIPHER_CHACHA, CIPHER_CBC, CIPHER_CCM };

struct peer_opts {
	enum peer_proto proto;
	enum peer_cipher cipher;
	/* Server: TLS 1.3 session tickets to send; -1 = the library's default (OpenSSL: 2,
	 * GnuTLS: 1), 0 = none. */
	int tickets;
	/* OpenSSL: call afktls_openssl_init() before the handshake. */
	bool afktls_init;
	/* GnuTLS server: this session ticket key (shared between connections, for resumption)
	 * instead of a new one. */
	gnutls_datum_t *ticket_key;
	/* OpenSSL client: offer this session (SSL_set_session). */
	SSL_SESSION *resume;
};

struct peer {
	enum peer_lib lib;
	bool server;
	int fd;
	struct peer_opts opts;
	SSL_CTX *ctx;
	SSL *ssl;
	gnutls_session_t session;
	gnutls_certificate_credentials_t cred;
	gnutls_datum_t ticket_key;
	int result;      /* of the last threaded operation */
	char error[256]; /* why it failed */
};

extern const char *const proto_names[];
extern const char *const cipher_names[];
extern const char *const lib_names[];

/* Two connected sockets over 127.0.0.1: TCP (dgram false) or UDP. 0 or -1. */
int connected_pair(bool dgram, int *client, int *server);

/* Sets up `p` on `fd` (not yet handshaking). 0, or -1 with p->error set. */
int peer_setup(struct peer *p, enum peer_lib lib, bool server, int fd,
	       const struct peer_opts *opts);

/* Blocking handshake. 0, or -1 with p->error set. */
int peer_handshake(struct peer *p);

/* Runs `a`'s handshake here and `b`'s in a thread. 0 if both succeeded. */
int handshake_pair(struct peer *a, struct peer *b);

/* Userspace I/O through the library: all of buf, or -1. */
int peer_write_all(struct peer *p, const void *buf, size_t len);
/* One library read: > 0 bytes, 0 at close_notify, -1 on error. */
ssize_t peer_read(struct peer *p, void *buf, size_t len);
/* Reads exactly len bytes (TLS) or until len bytes arrived (DTLS). 0 or -1. */
int peer_read_all(struct peer *p, void *buf, size_t len);
/* Sends close_notify through the library. */
void peer_close_notify(struct peer *p);

/* Frees the library state (not the descriptor). */
void peer_free(struct peer *p);

/* Fills buf with a pattern that depends on `seed` and the offset. */
void fill_pattern(unsigned char *buf, size_t len, unsigned int seed);

#endif
