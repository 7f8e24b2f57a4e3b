// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * libafktls-openssl: an OpenSSL 3 connection whose handshake finished, handed to AF_KTLS.
 *
 * OpenSSL 3.0 has no getter for record sequence numbers or TLS 1.3 traffic keys, so:
 * - records are counted per direction from the start, through the message callback
 *   (SSL3_RT_HEADER for every record header read or written, SSL3_RT_HANDSHAKE for every
 *   handshake message): TLS 1.2 records after the last ChangeCipherSpec, TLS 1.3 records after
 *   the Finished message, DTLS the epoch and sequence numbers in the record headers;
 * - TLS 1.3 traffic secrets come through the keylog callback (CLIENT_TRAFFIC_SECRET_0,
 *   SERVER_TRAFFIC_SECRET_0), keys and IVs from them with HKDF-Expand-Label;
 * - TLS 1.2 and DTLS 1.2 keys come from the key block: the PRF over the master secret with
 *   "key expansion" and server_random || client_random (RFC 5246 section 6.3).
 * All of it lives in the SSL's ex_data and is wiped when the SSL is freed.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/ssl.h>

#include "internal.h"

#define READ 0
#define WRITE 1
#define CLIENT 0
#define SERVER 1

/* What one direction's records said so far. */
struct direction_log {
	uint64_t records;             /* record headers seen */
	uint64_t records_at_ccs;      /* `records` right after the last ChangeCipherSpec */
	uint64_t records_at_finished; /* `records` when the (first) Finished message passed */
	bool ccs_seen;
	bool finished_seen;
	/* DTLS: the highest epoch seen and the highest sequence number within it. */
	bool dtls_seen;
	uint16_t epoch;
	uint64_t highest_seq;
};

/* Per SSL, in its ex_data. */
struct conn_state {
	struct direction_log dir[2];       /* [READ], [WRITE] */
	bool key_update;                   /* a KeyUpdate passed after the handshake */
	unsigned char secret[2][EVP_MAX_MD_SIZE]; /* TLS 1.3 [CLIENT], [SERVER] traffic secret 0 */
	size_t secret_len[2];
};

/* Per SSL_CTX, in its ex_data: the keylog callback that was there before ours. */
struct ctx_state {
	SSL_CTX_keylog_cb_func previous;
};

static pthread_once_t index_once = PTHREAD_ONCE_INIT;
static int ssl_index = -1;
static int ctx_index = -1;

static void free_conn_state(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
			    void *argp)
{
	(void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
	if (ptr)
		OPENSSL_clear_free(ptr, sizeof(struct conn_state));
}

static void free_ctx_state(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
			   void *argp)
{
	(void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
	OPENSSL_free(ptr);
}

/* SSL_dup() and SSL_CTX copies must not share (and later double-free) the state. */
static int dup_nothing(CRYPTO_EX_DATA *to, const CRYPTO_EX_DATA *from, void **from_d, int idx,
		       long argl, void *argp)
{
	(void)to, (void)from, (void)idx, (void)argl, (void)argp;
	*from_d = NULL;
	return 1;
}

static void make_indexes(void)
{
	ssl_index = SSL_get_ex_new_index(0, NULL, NULL, dup_nothing, free_conn_state);
	ctx_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, dup_nothing, free_ctx_state);
}

static bool indexes_ready(void)
{
	return pthread_once(&index_once, make_indexes) == 0 && ssl_index >= 0 && ctx_index >= 0;
}

static struct conn_state *conn_state(const SSL *ssl)
{
	if (!ssl || !indexes_ready())
		return NULL;
	return SSL_get_ex_data(ssl, ssl_index);
}

/* ---- the callbacks ----------------------------------------------------------------------- */

AFKTLS_API void afktls_openssl_msg_callback(int write_p, int version, int content_type,
					    const void *buf, size_t len, SSL *ssl, void *arg)
{
	struct conn_state *st = conn_state(ssl);
	const unsigned char *p = buf;
	struct direction_log *d;

	(void)version, (void)arg;
	if (!st || !p || len == 0)
		return;
	d = &st->dir[write_p ? WRITE : READ];
	switch (content_type) {
	case SSL3_RT_HEADER:
		d->records++;
		if (p[0] == SSL3_RT_CHANGE_CIPHER_SPEC) {
			d->ccs_seen = true;
			d->records_at_ccs = d->records;
		}
		if (len >= DTLS1_RT_HEADER_LENGTH && SSL_is_dtls(ssl)) {
			uint16_t epoch = (uint16_t)(p[3] << 8 | p[4]);
			uint64_t seq = 0;

			for (int i = 5; i < 11; i++)
				seq = seq << 8 | p[i];
			if (!d->dtls_seen || epoch > d->epoch) {
				d->dtls_seen = true;
				d->epoch = epoch;
				d->highest_seq = seq;
			} else if (epoch == d->epoch && seq > d->highest_seq) {
				d->highest_seq = seq;
			}
		}
		break;
	case SSL3_RT_HANDSHAKE:
		if (p[0] == SSL3_MT_FINISHED && !d->finished_seen) {
			d->finished_seen = true;
			d->records_at_finished = d->records;
		} else if (p[0] == SSL3_MT_KEY_UPDATE && d->finished_seen) {
			st->key_update = true;
		}
		break;
	default:
		break;
	}
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Parses up to `max` bytes of hex ending at a space or the end; returns the count or -1. */
static long parse_hex(const char **text, unsigned char *out, size_t max)
{
	const char *s = *text;
	size_t n = 0;

	while (*s && *s != ' ') {
		int hi = hex_value(s[0]), lo = s[1] ? hex_value(s[1]) : -1;

		if (hi < 0 || lo < 0 || n == max)
			return -1;
		out[n++] = (unsigned char)(hi << 4 | lo);
		s += 2;
	}
	*text = s;
	return (long)n;
}

AFKTLS_API void afktls_openssl_keylog_callback(const SSL *ssl, const char *line)
{
	static const char *const labels[2] = {
		[CLIENT] = "CLIENT_TRAFFIC_SECRET_0 ",
		[SERVER] = "SERVER_TRAFFIC_SECRET_0 ",
	};
	struct conn_state *st = conn_state(ssl);
	struct ctx_state *cs;

	for (int who = CLIENT; st && line && who <= SERVER; who++) {
		unsigned char random[SSL3_RANDOM_SIZE], ours[SSL3_RANDOM_SIZE];
		unsigned char secret[EVP_MAX_MD_SIZE];
		const char *s = line;
		long n;

		if (strncmp(s, labels[who], strlen(labels[who])) != 0)
			continue;
		s += strlen(labels[who]);
		/* The line names the connection by its client random: it must be this one. */
		if (parse_hex(&s, random, sizeof(random)) != SSL3_RANDOM_SIZE || *s != ' ' ||
		    SSL_get_client_random(ssl, ours, sizeof(ours)) != sizeof(ours) ||
		    memcmp(random, ours, sizeof(ours)) != 0)
			break;
		s++;
		n = parse_hex(&s, secret, sizeof(secret));
		if (n > 0) {
			memcpy(st->secret[who], secret, (size_t)n);
			st->secret_len[who] = (size_t)n;
		}
		OPENSSL_cleanse(secret, sizeof(secret));
	}

	cs = indexes_ready() ? SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ctx_index) : NULL;
	if (cs && cs->previous)
		cs->previous(ssl, line);
}

/* ---- set-up ------------------------------------------------------------------------------ */

AFKTLS_API int afktls_openssl_ctx_init(SSL_CTX *ctx)
{
	SSL_CTX_keylog_cb_func current;
	struct ctx_state *cs;

	afktls__clear_error();
	if (!ctx)
		return afktls__fail(EINVAL, "afktls_openssl_ctx_init: no SSL_CTX");
	if (!indexes_ready())
		return afktls__fail(ENOMEM, "OpenSSL ex_data indexes unavailable");
	current = SSL_CTX_get_keylog_callback(ctx);
	if (current == afktls_openssl_keylog_callback)
		return 0;
	cs = SSL_CTX_get_ex_data(ctx, ctx_index);
	if (!cs) {
		cs = OPENSSL_zalloc(sizeof(*cs));
		if (!cs || !SSL_CTX_set_ex_data(ctx, ctx_index, cs)) {
			OPENSSL_free(cs);
			return afktls__fail(ENOMEM, "afktls_openssl_ctx_init: out of memory");
		}
	}
	cs->previous = current;
	SSL_CTX_set_keylog_callback(ctx, afktls_openssl_keylog_callback);
	return 0;
}

AFKTLS_API int afktls_openssl_init(SSL *ssl)
{
	struct conn_state *st;

	afktls__clear_error();
	if (!ssl)
		return afktls__fail(EINVAL, "afktls_openssl_init: no SSL");
	if (!indexes_ready())
		return afktls__fail(ENOMEM, "OpenSSL ex_data indexes unavailable");
	st = SSL_get_ex_data(ssl, ssl_index);
	if (st) {
		OPENSSL_cleanse(st, sizeof(*st));
	} else {
		st = OPENSSL_zalloc(sizeof(*st));
		if (!st || !SSL_set_ex_data(ssl, ssl_index, st)) {
			OPENSSL_free(st);
			return afktls__fail(ENOMEM, "afktls_openssl_init: out of memory");
		}
	}
	SSL_set_msg_callback(ssl, afktls_openssl_msg_callback);
	if (SSL_CTX_get_keylog_callback(SSL_get_SSL_CTX(ssl)) != afktls_openssl_keylog_callback)
		return afktls_openssl_ctx_init(SSL_get_SSL_CTX(ssl));
	return 0;
}

/* ---- key derivation ---------------------------------------------------------------------- */

static int kdf(const char *name, unsigned char *out, size_t out_len, OSSL_PARAM *params)
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, name, NULL);
	EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	int ok = kctx && EVP_KDF_derive(kctx, out, out_len, params) > 0;

	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	if (!ok)
		return afktls__fail(EIO, "OpenSSL's %s key derivation failed", name);
	return 0;
}

/* HKDF-Expand-Label(secret, label, "", out_len) (RFC 8446 section 7.1). */
static int hkdf_expand_label(const EVP_MD *md, const unsigned char *secret, size_t secret_len,
			     const char *label, unsigned char *out, size_t out_len)
{
	unsigned char info[2 + 1 + 255 + 1];
	size_t label_len = strlen("tls13 ") + strlen(label), n = 0;
	int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
	OSSL_PARAM params[5];

	info[n++] = (unsigned char)(out_len >> 8);
	info[n++] = (unsigned char)out_len;
	info[n++] = (unsigned char)label_len;
	memcpy(info + n, "tls13 ", 6);
	memcpy(info + n + 6, label, strlen(label));
	n += label_len;
	info[n++] = 0; /* empty context */

	params[0] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
						     (char *)EVP_MD_get0_name(md), 0);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)secret,
						      secret_len);
	params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, n);
	params[4] = OSSL_PARAM_construct_end();
	return kdf(OSSL_KDF_NAME_HKDF, out, out_len, params);
}

/* The TLS 1.2 key block: PRF(master, "key expansion", server_random || client_random). */
static int tls12_key_block(SSL *ssl, const EVP_MD *md, unsigned char *out, size_t out_len)
{
	static const char label[] = "key expansion";
	unsigned char master[SSL_MAX_MASTER_KEY_LENGTH];
	unsigned char seed[sizeof(label) - 1 + 2 * SSL3_RANDOM_SIZE];
	SSL_SESSION *session = SSL_get_session(ssl);
	size_t master_len = session ? SSL_SESSION_get_master_key(session, master, sizeof(master))
				    : 0;
	OSSL_PARAM params[4];
	int ret;

	memcpy(seed, label, sizeof(label) - 1);
	if (master_len == 0 ||
	    SSL_get_server_random(ssl, seed + sizeof(label) - 1, SSL3_RANDOM_SIZE) !=
		    SSL3_RANDOM_SIZE ||
	    SSL_get_client_random(ssl, seed + sizeof(label) - 1 + SSL3_RANDOM_SIZE,
				  SSL3_RANDOM_SIZE) != SSL3_RANDOM_SIZE) {
		OPENSSL_cleanse(master, sizeof(master));
		return afktls__fail(EIO, "OpenSSL has no master secret or hello randoms for "
				    "this connection");
	}
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
						     (char *)EVP_MD_get0_name(md), 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET, master, master_len);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, seed, sizeof(seed));
	params[3] = OSSL_PARAM_construct_end();
	ret = kdf(OSSL_KDF_NAME_TLS1_PRF, out, out_len, params);
	OPENSSL_cleanse(master, sizeof(master));
	return ret;
}

/* Next sequence numbers per direction ([READ], [WRITE]), DTLS ones with the epoch on top. */
static int sequence_numbers(const struct conn_state *st, unsigned int version, uint64_t seq[2])
{
	for (int dir = READ; dir <= WRITE; dir++) {
		const struct direction_log *d = &st->dir[dir];
		const char *what = dir == WRITE ? "sent" : "received";

		switch (version) {
		case KTLS_VERSION_TLS_1_2:
			if (!d->ccs_seen)
				return afktls__fail(EINVAL, "no ChangeCipherSpec %s: was "
						    "afktls_openssl_init() called before the "
						    "handshake?", what);
			seq[dir] = d->records - d->records_at_ccs;
			break;
		case KTLS_VERSION_TLS_1_3:
			if (!d->finished_seen)
				return afktls__fail(EINVAL, "no Finished message %s: was "
						    "afktls_openssl_init() called before the "
						    "handshake?", what);
			seq[dir] = d->records - d->records_at_finished;
			break;
		default: /* DTLS 1.2 */
			if (!d->dtls_seen || d->epoch == 0)
				return afktls__fail(EINVAL, "no protected DTLS record %s: was "
						    "afktls_openssl_init() called before the "
						    "handshake?", what);
			if (d->highest_seq + 1 >= (uint64_t)1 << 48)
				return afktls__fail(ENOTSUP, "DTLS sequence numbers used up");
			seq[dir] = (uint64_t)d->epoch << 48 | (d->highest_seq + 1);
			break;
		}
	}
	if (version == KTLS_VERSION_DTLS_1_2 && st->dir[READ].epoch != st->dir[WRITE].epoch)
		return afktls__fail(ENOTSUP, "DTLS epochs differ per direction (%u sent, %u "
				    "received): renegotiation in progress?",
				    st->dir[WRITE].epoch, st->dir[READ].epoch);
	if (version == KTLS_VERSION_DTLS_1_2 && st->dir[WRITE].epoch != 1)
		return afktls__fail(ENOTSUP, "DTLS epoch %u: only the first handshake's keys "
				    "(epoch 1) can be handed over", st->dir[WRITE].epoch);
	return 0;
}

static bool buffered(SSL *ssl)
{
	int pending = SSL_pending(ssl);

	if (pending > 0) {
		afktls__fail(EBUSY, "OpenSSL holds %d bytes of received application data: read "
			     "them with SSL_read() before the handoff", pending);
		return true;
	}
	if (SSL_has_pending(ssl)) {
		afktls__fail(EBUSY, "OpenSSL holds received bytes it has not processed yet "
			     "(SSL_has_pending): read them with SSL_read() before the handoff, and "
			     "leave read-ahead off");
		return true;
	}
#ifndef OPENSSL_NO_KTLS
	if (BIO_get_ktls_send(SSL_get_wbio(ssl)) || BIO_get_ktls_recv(SSL_get_rbio(ssl))) {
		afktls__fail(EBUSY, "OpenSSL already handed this connection to kernel TLS "
			     "(SSL_OP_ENABLE_KTLS)");
		return true;
	}
#endif
	return false;
}

AFKTLS_API int afktls_openssl_keys(SSL *ssl, struct afktls_keys *keys)
{
	const struct conn_state *st;
	const SSL_CIPHER *suite;
	const EVP_MD *md;
	unsigned int version, cipher;
	size_t key_len, iv_len, md_len;
	uint64_t seq[2];
	unsigned char block[2 * (32 + 12)]; /* the largest key block: ChaCha20-Poly1305 */
	unsigned char tls13[2][32 + 12];     /* TLS 1.3 [CLIENT], [SERVER]: key || iv */
	const unsigned char *write_key[2], *write_iv[2];
	int server, ret = -1;

	afktls__clear_error();
	if (!keys)
		return afktls__fail(EINVAL, "afktls_openssl_keys: no key structure");
	memset(keys, 0, sizeof(*keys));
	if (!ssl)
		return afktls__fail(EINVAL, "afktls_openssl_keys: no SSL");
	st = conn_state(ssl);
	if (!st)
		return afktls__fail(EINVAL, "afktls_openssl_init(ssl) was not called before the "
				    "handshake");
	if (!SSL_is_init_finished(ssl))
		return afktls__fail(EINVAL, "the handshake is not finished");
	if (buffered(ssl))
		return -1;

	switch (SSL_version(ssl)) {
	case TLS1_2_VERSION:
		version = KTLS_VERSION_TLS_1_2;
		break;
	case TLS1_3_VERSION:
		version = KTLS_VERSION_TLS_1_3;
		break;
	case DTLS1_2_VERSION:
		version = KTLS_VERSION_DTLS_1_2;
		break;
	default:
		return afktls__fail(ENOTSUP, "%s: AF_KTLS carries TLS 1.2, TLS 1.3 and DTLS 1.2 "
				    "only", SSL_get_version(ssl));
	}
	suite = SSL_get_current_cipher(ssl);
	switch (suite ? SSL_CIPHER_get_cipher_nid(suite) : NID_undef) {
	case NID_aes_128_gcm:
		cipher = KTLS_CIPHER_AES_GCM_128;
		key_len = 16;
		break;
	case NID_aes_256_gcm:
		cipher = KTLS_CIPHER_AES_GCM_256;
		key_len = 32;
		break;
	case NID_chacha20_poly1305:
		cipher = KTLS_CIPHER_CHACHA20_POLY1305;
		key_len = 32;
		break;
	default:
		return afktls__fail(ENOTSUP, "cipher suite %s: AF_KTLS carries AES-128-GCM, "
				    "AES-256-GCM and ChaCha20-Poly1305 only",
				    suite ? SSL_CIPHER_get_name(suite) : "(none)");
	}
	if (st->key_update)
		return afktls__fail(ENOTSUP, "a TLS 1.3 KeyUpdate happened before the handoff: "
				    "AF_KTLS takes the first application traffic keys only");
	md = SSL_CIPHER_get_handshake_digest(suite);
	md_len = md ? (size_t)EVP_MD_get_size(md) : 0;
	if (!md || md_len == 0 || md_len > EVP_MAX_MD_SIZE)
		return afktls__fail(EIO, "no hash for cipher suite %s", SSL_CIPHER_get_name(suite));
	if (sequence_numbers(st, version, seq) < 0)
		return -1;

	server = SSL_is_server(ssl);
	if (version == KTLS_VERSION_TLS_1_3) {
		iv_len = 12;
		if (st->secret_len[CLIENT] != md_len || st->secret_len[SERVER] != md_len) {
			return afktls__fail(EINVAL, "OpenSSL did not hand over the TLS 1.3 traffic "
					    "secrets: call afktls_openssl_ctx_init() on the SSL_CTX "
					    "(after any SSL_CTX_set_keylog_callback of your own) "
					    "before the handshake");
		}
		for (int who = CLIENT; who <= SERVER; who++) {
			if (hkdf_expand_label(md, st->secret[who], md_len, "key", tls13[who],
					      key_len) < 0 ||
			    hkdf_expand_label(md, st->secret[who], md_len, "iv",
					      tls13[who] + key_len, iv_len) < 0)
				goto out;
			write_key[who] = tls13[who];
			write_iv[who] = tls13[who] + key_len;
		}
	} else {
		/* mac keys (none for AEAD), client key, server key, client IV, server IV */
		iv_len = cipher == KTLS_CIPHER_CHACHA20_POLY1305 ? 12 : 4;
		if (tls12_key_block(ssl, md, block, 2 * (key_len + iv_len)) < 0)
			goto out;
		write_key[CLIENT] = block;
		write_key[SERVER] = block + key_len;
		write_iv[CLIENT] = block + 2 * key_len;
		write_iv[SERVER] = block + 2 * key_len + iv_len;
	}

	/*
	 * TLS 1.2 AES-GCM sending: the first explicit nonce is the next sequence number (with
	 * DTLS's epoch), so the kernel's nonces are the record numbers from here on. OpenSSL's
	 * own explicit nonces started at a random 64-bit value, so they are not in the way.
	 */
	if (afktls__set_direction(&keys->tx, version, cipher, write_key[server], key_len,
				  write_iv[server], iv_len, seq[WRITE], seq[WRITE]) < 0 ||
	    afktls__set_direction(&keys->rx, version, cipher, write_key[!server], key_len,
				  write_iv[!server], iv_len, seq[READ], 0) < 0)
		goto out;
	ret = 0;
out:
	OPENSSL_cleanse(block, sizeof(block));
	OPENSSL_cleanse(tls13, sizeof(tls13));
	if (ret < 0)
		afktls_wipe(keys, sizeof(*keys));
	return ret;
}

AFKTLS_API int afktls_from_openssl(SSL *ssl, unsigned int flags)
{
	struct afktls_keys keys;
	int fd, s;

	if (afktls_openssl_keys(ssl, &keys) < 0)
		return -1;
	fd = SSL_get_rfd(ssl);
	if (fd < 0 || fd != SSL_get_wfd(ssl)) {
		afktls_wipe(&keys, sizeof(keys));
		return afktls__fail(EBADF, "the SSL has no socket descriptor, or reads and writes "
				    "through different ones (SSL_get_rfd/SSL_get_wfd)");
	}
	s = afktls_attach(fd, &keys, flags);
	afktls_wipe(&keys, sizeof(keys));
	if (s >= 0) {
		/* Handed over: the TLS 1.3 secrets are of no more use here. */
		struct conn_state *st = conn_state(ssl);

		OPENSSL_cleanse(st->secret, sizeof(st->secret));
		/*
		 * OpenSSL's record state is stale now: marked shut down, SSL_shutdown() sends
		 * nothing with old sequence numbers, and SSL_free() keeps the session resumable
		 * (it drops the sessions of connections freed without a shutdown).
		 */
		SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
	}
	return s;
}
