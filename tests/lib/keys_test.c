// SPDX-License-Identifier: GPL-2.0
/*
 * libafktls without the kernel (runs on the build host): the keys and sequence numbers
 * afktls_openssl_keys() derives for one end of a real handshake must be exactly what GnuTLS,
 * at the other end, reports for the same direction through gnutls_record_get_state(), for
 * TLS 1.2, TLS 1.3 and DTLS 1.2 with every cipher and both roles, with and without session
 * tickets and records read before the handoff. Plus the refusals: buffered data, unsupported
 * suites, a KeyUpdate, a missing set-up call, a missing keylog callback.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "afktls.h"
#include "peers.h"

struct pair {
	int cfd, sfd;
	struct peer client, server;
};

/* Connects and handshakes an OpenSSL end and a GnuTLS end (`openssl_server` picks roles). */
static void pair_up(struct pair *pr, bool openssl_server, const struct peer_opts *ossl,
		    const struct peer_opts *gnu)
{
	bool dgram = ossl->proto == PROTO_DTLS12;

	assert_int_equal(connected_pair(dgram, &pr->cfd, &pr->sfd), 0);
	if (openssl_server) {
		assert_int_equal(peer_setup(&pr->server, LIB_OPENSSL, true, pr->sfd, ossl), 0);
		assert_int_equal(peer_setup(&pr->client, LIB_GNUTLS, false, pr->cfd, gnu), 0);
	} else {
		assert_int_equal(peer_setup(&pr->server, LIB_GNUTLS, true, pr->sfd, gnu), 0);
		assert_int_equal(peer_setup(&pr->client, LIB_OPENSSL, false, pr->cfd, ossl), 0);
	}
	if (handshake_pair(&pr->client, &pr->server) < 0)
		fail_msg("handshake: client: %s / server: %s", pr->client.error, pr->server.error);
}

static void pair_free(struct pair *pr)
{
	peer_free(&pr->client);
	peer_free(&pr->server);
	close(pr->cfd);
	close(pr->sfd);
}

static uint64_t be64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static uint64_t rec_seq(const union afktls_crypto_info *k)
{
	switch (k->info.cipher_type) {
	case KTLS_CIPHER_AES_GCM_128:
		return be64(k->aes_gcm_128.rec_seq);
	case KTLS_CIPHER_AES_GCM_256:
		return be64(k->aes_gcm_256.rec_seq);
	default:
		return be64(k->chacha20_poly1305.rec_seq);
	}
}

/*
 * What the sender's TX and the receiver's RX must share: version, cipher, key, salt and IV
 * (the TLS 1.2 AES-GCM `iv` is the sender's choice of explicit nonce, never compared) and,
 * when no records are in flight, the sequence number.
 */
static void same_direction(const union afktls_crypto_info *tx, const union afktls_crypto_info *rx,
			   uint64_t in_flight)
{
	bool tls13 = tx->info.version == KTLS_VERSION_TLS_1_3;

	assert_int_equal(tx->info.version, rx->info.version);
	assert_int_equal(tx->info.cipher_type, rx->info.cipher_type);
	switch (tx->info.cipher_type) {
	case KTLS_CIPHER_AES_GCM_128:
		assert_memory_equal(tx->aes_gcm_128.key, rx->aes_gcm_128.key, 16);
		assert_memory_equal(tx->aes_gcm_128.salt, rx->aes_gcm_128.salt, 4);
		if (tls13)
			assert_memory_equal(tx->aes_gcm_128.iv, rx->aes_gcm_128.iv, 8);
		else /* the first explicit nonce is the sequence number */
			assert_memory_equal(tx->aes_gcm_128.iv, tx->aes_gcm_128.rec_seq, 8);
		break;
	case KTLS_CIPHER_AES_GCM_256:
		assert_memory_equal(tx->aes_gcm_256.key, rx->aes_gcm_256.key, 32);
		assert_memory_equal(tx->aes_gcm_256.salt, rx->aes_gcm_256.salt, 4);
		if (tls13)
			assert_memory_equal(tx->aes_gcm_256.iv, rx->aes_gcm_256.iv, 8);
		else
			assert_memory_equal(tx->aes_gcm_256.iv, tx->aes_gcm_256.rec_seq, 8);
		break;
	case KTLS_CIPHER_CHACHA20_POLY1305:
		assert_memory_equal(tx->chacha20_poly1305.key, rx->chacha20_poly1305.key, 32);
		assert_memory_equal(tx->chacha20_poly1305.iv, rx->chacha20_poly1305.iv, 12);
		break;
	default:
		fail_msg("unexpected cipher %u", tx->info.cipher_type);
	}
	assert_int_equal(rec_seq(tx), rec_seq(rx) + in_flight);
}

struct matrix_case {
	char name[64];
	enum peer_proto proto;
	enum peer_cipher cipher;
	bool openssl_server;
};

static void openssl_matches_gnutls(void **state)
{
	const struct matrix_case *c = *state;
	struct peer_opts o = { .proto = c->proto, .cipher = c->cipher, .tickets = 0,
			       .afktls_init = true };
	struct afktls_keys ko, kg;
	struct pair pr;
	struct peer *ossl, *gnu;

	pair_up(&pr, c->openssl_server, &o, &o);
	ossl = c->openssl_server ? &pr.server : &pr.client;
	gnu = c->openssl_server ? &pr.client : &pr.server;
	if (afktls_openssl_keys(ossl->ssl, &ko) < 0)
		fail_msg("afktls_openssl_keys: %s", afktls_last_error());
	if (afktls_gnutls_keys(gnu->session, &kg) < 0)
		fail_msg("afktls_gnutls_keys: %s", afktls_last_error());
	print_message("      tx seq %#018llx rx seq %#018llx\n",
		      (unsigned long long)rec_seq(&ko.tx), (unsigned long long)rec_seq(&ko.rx));
	same_direction(&ko.tx, &kg.rx, 0);
	same_direction(&kg.tx, &ko.rx, 0);
	if (c->proto == PROTO_TLS12) {
		/* Finished was record 0 under the new keys on both sides. */
		assert_int_equal(rec_seq(&ko.tx), 1);
		assert_int_equal(rec_seq(&ko.rx), 1);
	} else if (c->proto == PROTO_TLS13) {
		assert_int_equal(rec_seq(&ko.tx), 0);
		assert_int_equal(rec_seq(&ko.rx), 0);
	} else {
		assert_int_equal(rec_seq(&ko.tx) >> 48, 1);
		assert_int_equal(rec_seq(&ko.rx) >> 48, 1);
	}
	afktls_wipe(&ko, sizeof(ko));
	afktls_wipe(&kg, sizeof(kg));
	pair_free(&pr);
}

/*
 * TLS 1.3 servers send session tickets after the handshake: the server's next send sequence
 * is the number of tickets, while the client, which has not read them, still expects 0.
 */
static void tls13_tickets_in_flight(void **state)
{
	struct peer_opts o = { .proto = PROTO_TLS13, .cipher = CIPHER_AES128, .tickets = 2,
			       .afktls_init = true };
	struct afktls_keys ko, kg;
	struct pair pr;

	(void)state;
	/* OpenSSL server sending 2 tickets, GnuTLS client. */
	pair_up(&pr, true, &o, &o);
	assert_int_equal(afktls_openssl_keys(pr.server.ssl, &ko), 0);
	assert_int_equal(afktls_gnutls_keys(pr.client.session, &kg), 0);
	assert_int_equal(rec_seq(&ko.tx), 2);
	assert_int_equal(rec_seq(&kg.rx), 0);
	same_direction(&ko.tx, &kg.rx, 2);
	same_direction(&kg.tx, &ko.rx, 0);
	pair_free(&pr);

	/* GnuTLS server with tickets on, OpenSSL client. */
	o.tickets = -1;
	pair_up(&pr, false, &o, &o);
	assert_int_equal(afktls_openssl_keys(pr.client.ssl, &ko), 0);
	assert_int_equal(afktls_gnutls_keys(pr.server.session, &kg), 0);
	print_message("      GnuTLS server sent %llu ticket record(s)\n",
		      (unsigned long long)rec_seq(&kg.tx));
	assert_true(rec_seq(&kg.tx) >= 1);
	assert_int_equal(rec_seq(&ko.rx), 0);
	same_direction(&kg.tx, &ko.rx, rec_seq(&kg.tx));
	afktls_wipe(&ko, sizeof(ko));
	afktls_wipe(&kg, sizeof(kg));
	pair_free(&pr);
}

/* Records OpenSSL read (tickets, then data) before the handoff count in its receive sequence. */
static void records_read_before_handoff(void **state)
{
	const enum peer_proto protos[] = { PROTO_TLS12, PROTO_TLS13, PROTO_DTLS12 };

	(void)state;
	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++) {
		struct peer_opts o = { .proto = protos[i], .cipher = CIPHER_AES256, .tickets = -1,
				       .afktls_init = true };
		struct afktls_keys ko, kg;
		unsigned char buf[16];
		struct pair pr;

		pair_up(&pr, false, &o, &o);
		/* The GnuTLS server sends two data records; OpenSSL reads both. */
		assert_int_equal(peer_write_all(&pr.server, "first", 5), 0);
		assert_int_equal(peer_write_all(&pr.server, "second", 6), 0);
		assert_int_equal(peer_read_all(&pr.client, buf, 5), 0);
		assert_int_equal(peer_read_all(&pr.client, buf, 6), 0);
		assert_int_equal(afktls_openssl_keys(pr.client.ssl, &ko), 0);
		assert_int_equal(afktls_gnutls_keys(pr.server.session, &kg), 0);
		same_direction(&kg.tx, &ko.rx, 0);
		same_direction(&ko.tx, &kg.rx, 0);
		pair_free(&pr);
	}
}

/* Resumed sessions (TLS 1.2 abbreviated handshake: the server's Finished comes first; TLS 1.3
 * with a PSK): an OpenSSL client resumes with a GnuTLS server. */
static void resumed_sessions(void **state)
{
	const enum peer_proto protos[] = { PROTO_TLS12, PROTO_TLS13 };

	(void)state;
	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++) {
		gnutls_datum_t ticket_key;
		struct peer_opts o = { .proto = protos[i], .cipher = CIPHER_AES128, .tickets = -1,
				       .afktls_init = true, .ticket_key = &ticket_key };
		struct afktls_keys ko, kg;
		SSL_SESSION *session;
		unsigned char buf[4];
		struct pair pr;

		assert_int_equal(gnutls_session_ticket_key_generate(&ticket_key), 0);
		/* First connection: the client reads the server's ticket (TLS 1.3: after the
		 * handshake, before the data). */
		pair_up(&pr, false, &o, &o);
		assert_int_equal(peer_write_all(&pr.server, "x", 1), 0);
		assert_int_equal(peer_read_all(&pr.client, buf, 1), 0);
		session = SSL_get1_session(pr.client.ssl);
		assert_non_null(session);
		/* OpenSSL keeps a session resumable only after a shutdown (afktls_from_openssl
		 * marks it so; this connection stays in userspace). */
		peer_close_notify(&pr.client);
		pair_free(&pr);

		assert_int_equal(connected_pair(false, &pr.cfd, &pr.sfd), 0);
		assert_int_equal(peer_setup(&pr.server, LIB_GNUTLS, true, pr.sfd, &o), 0);
		assert_int_equal(peer_setup(&pr.client, LIB_OPENSSL, false, pr.cfd, &o), 0);
		assert_int_equal(SSL_set_session(pr.client.ssl, session), 1);
		if (handshake_pair(&pr.client, &pr.server) < 0)
			fail_msg("resumption: %s / %s", pr.client.error, pr.server.error);
		assert_true(SSL_session_reused(pr.client.ssl));
		assert_int_equal(afktls_openssl_keys(pr.client.ssl, &ko), 0);
		assert_int_equal(afktls_gnutls_keys(pr.server.session, &kg), 0);
		print_message("      %s resumed: tx seq %llu, rx seq %llu\n", proto_names[protos[i]],
			      (unsigned long long)rec_seq(&ko.tx), (unsigned long long)rec_seq(&ko.rx));
		same_direction(&ko.tx, &kg.rx, 0);
		/* TLS 1.3: the server's new tickets are in flight, as after a full handshake. */
		same_direction(&kg.tx, &ko.rx, protos[i] == PROTO_TLS13 ? rec_seq(&kg.tx) : 0);
		SSL_SESSION_free(session);
		pair_free(&pr);
		gnutls_free(ticket_key.data);
	}
}

static void expect_failure(int ret, int err, const char *words)
{
	assert_int_equal(ret, -1);
	if (errno != err)
		fail_msg("errno %d (%s), expected %d; message: %s", errno, strerror(errno), err,
			 afktls_last_error());
	if (!strstr(afktls_last_error(), words))
		fail_msg("message \"%s\" lacks \"%s\"", afktls_last_error(), words);
	print_message("      %s: %s\n", strerror(err), afktls_last_error());
}

static void refuses_buffered_data(void **state)
{
	struct peer_opts o = { .proto = PROTO_TLS13, .cipher = CIPHER_AES128, .tickets = 0,
			       .afktls_init = true };
	struct afktls_keys k;
	unsigned char buf[64];
	struct pair pr;

	(void)state;
	/* Decrypted data not yet read by the application: SSL_pending. */
	pair_up(&pr, false, &o, &o);
	assert_int_equal(peer_write_all(&pr.server, "0123456789", 10), 0);
	assert_int_equal(peer_read(&pr.client, buf, 1), 1);
	expect_failure(afktls_openssl_keys(pr.client.ssl, &k), EBUSY, "9 bytes");
	assert_int_equal(peer_read_all(&pr.client, buf, 9), 0);
	assert_int_equal(afktls_openssl_keys(pr.client.ssl, &k), 0);
	pair_free(&pr);

	/* Records read ahead but not processed: SSL_has_pending. */
	pair_up(&pr, false, &o, &o);
	SSL_set_read_ahead(pr.client.ssl, 1);
	assert_int_equal(peer_write_all(&pr.server, "0123456789", 10), 0);
	assert_int_equal(peer_write_all(&pr.server, "abcdefghij", 10), 0);
	usleep(100 * 1000); /* both records in the socket before OpenSSL reads */
	assert_int_equal(peer_read_all(&pr.client, buf, 10), 0);
	expect_failure(afktls_openssl_keys(pr.client.ssl, &k), EBUSY, "SSL_has_pending");
	pair_free(&pr);

	/* GnuTLS with plaintext left over. */
	pair_up(&pr, true, &o, &o);
	assert_int_equal(peer_write_all(&pr.server, "0123456789", 10), 0);
	assert_int_equal(peer_read(&pr.client, buf, 1), 1);
	expect_failure(afktls_gnutls_keys(pr.client.session, &k), EBUSY, "9 bytes");
	pair_free(&pr);
}

static void refuses_unsupported_suites(void **state)
{
	struct peer_opts o = { .proto = PROTO_TLS12, .cipher = CIPHER_CBC, .tickets = 0,
			       .afktls_init = true };
	struct afktls_keys k;
	struct pair pr;

	(void)state;
	pair_up(&pr, true, &o, &o);
	expect_failure(afktls_openssl_keys(pr.server.ssl, &k), ENOTSUP, "AES-128-GCM");
	expect_failure(afktls_gnutls_keys(pr.client.session, &k), ENOTSUP, "AES-128-GCM");
	pair_free(&pr);

	o.proto = PROTO_TLS13;
	o.cipher = CIPHER_CCM;
	pair_up(&pr, false, &o, &o);
	expect_failure(afktls_openssl_keys(pr.client.ssl, &k), ENOTSUP, "CCM");
	expect_failure(afktls_gnutls_keys(pr.server.session, &k), ENOTSUP, "CCM");
	pair_free(&pr);
}

static void refuses_after_key_update(void **state)
{
	struct peer_opts o = { .proto = PROTO_TLS13, .cipher = CIPHER_CHACHA, .tickets = 0,
			       .afktls_init = true };
	struct afktls_keys k;
	unsigned char buf[8];
	struct pair pr;

	(void)state;
	pair_up(&pr, false, &o, &o);
	assert_int_equal(gnutls_session_key_update(pr.server.session, 0), 0);
	assert_int_equal(peer_write_all(&pr.server, "after", 5), 0);
	assert_int_equal(peer_read_all(&pr.client, buf, 5), 0);
	expect_failure(afktls_openssl_keys(pr.client.ssl, &k), ENOTSUP, "KeyUpdate");
	pair_free(&pr);
}

static void refuses_without_set_up(void **state)
{
	struct peer_opts o = { .proto = PROTO_TLS12, .cipher = CIPHER_AES128, .tickets = 0,
			       .afktls_init = false };
	struct afktls_keys k;
	struct pair pr;

	(void)state;
	/* afktls_openssl_init() never called. */
	pair_up(&pr, true, &o, &o);
	expect_failure(afktls_openssl_keys(pr.server.ssl, &k), EINVAL, "afktls_openssl_init");
	pair_free(&pr);

	/* Called, but the handshake has not run. */
	o.afktls_init = true;
	assert_int_equal(connected_pair(false, &pr.cfd, &pr.sfd), 0);
	assert_int_equal(peer_setup(&pr.client, LIB_OPENSSL, false, pr.cfd, &o), 0);
	expect_failure(afktls_openssl_keys(pr.client.ssl, &k), EINVAL, "not finished");
	peer_free(&pr.client);
	close(pr.cfd);
	close(pr.sfd);
}

static int own_keylog_lines;

static void own_keylog(const SSL *ssl, const char *line)
{
	(void)ssl, (void)line;
	own_keylog_lines++;
}

static void tls13_keylog_callback(void **state)
{
	struct peer_opts o = { .proto = PROTO_TLS13, .cipher = CIPHER_AES256, .tickets = 0,
			       .afktls_init = false };
	struct afktls_keys ko, kg;
	struct pair pr;

	(void)state;
	/* An application keylog callback installed first is still called. */
	assert_int_equal(connected_pair(false, &pr.cfd, &pr.sfd), 0);
	assert_int_equal(peer_setup(&pr.client, LIB_OPENSSL, false, pr.cfd, &o), 0);
	assert_int_equal(peer_setup(&pr.server, LIB_GNUTLS, true, pr.sfd, &o), 0);
	SSL_CTX_set_keylog_callback(pr.client.ctx, own_keylog);
	assert_int_equal(afktls_openssl_ctx_init(pr.client.ctx), 0);
	assert_int_equal(afktls_openssl_init(pr.client.ssl), 0);
	own_keylog_lines = 0;
	assert_int_equal(handshake_pair(&pr.client, &pr.server), 0);
	assert_true(own_keylog_lines >= 4);
	assert_int_equal(afktls_openssl_keys(pr.client.ssl, &ko), 0);
	assert_int_equal(afktls_gnutls_keys(pr.server.session, &kg), 0);
	same_direction(&ko.tx, &kg.rx, 0);
	same_direction(&kg.tx, &ko.rx, 0);
	pair_free(&pr);

	/* One installed after ours replaces it: the secrets never arrive, and we say so. */
	assert_int_equal(connected_pair(false, &pr.cfd, &pr.sfd), 0);
	assert_int_equal(peer_setup(&pr.client, LIB_OPENSSL, false, pr.cfd, &o), 0);
	assert_int_equal(peer_setup(&pr.server, LIB_GNUTLS, true, pr.sfd, &o), 0);
	assert_int_equal(afktls_openssl_init(pr.client.ssl), 0);
	SSL_CTX_set_keylog_callback(pr.client.ctx, own_keylog);
	assert_int_equal(handshake_pair(&pr.client, &pr.server), 0);
	expect_failure(afktls_openssl_keys(pr.client.ssl, &ko), EINVAL, "afktls_openssl_ctx_init");
	pair_free(&pr);
}

static void attach_argument_errors(void **state)
{
	struct afktls_keys k;

	(void)state;
	memset(&k, 0, sizeof(k));
	expect_failure(afktls_attach(0, NULL, 0), EINVAL, "no keys");
	k.tx.info.version = KTLS_VERSION_TLS_1_3;
	k.tx.info.cipher_type = KTLS_CIPHER_AES_GCM_128;
	expect_failure(afktls_attach(0, &k, 0x80), EINVAL, "flags");
	k.tx.info.version = 0x0302;
	expect_failure(afktls_attach(0, &k, 0), EINVAL, "version");
	k.tx.info.version = KTLS_VERSION_TLS_1_3;
	k.tx.info.cipher_type = 53;
	expect_failure(afktls_attach(0, &k, 0), EINVAL, "cipher");
	assert_int_equal(afktls_crypto_info_size(KTLS_CIPHER_AES_GCM_128), 40);
	assert_int_equal(afktls_crypto_info_size(KTLS_CIPHER_AES_GCM_256), 56);
	assert_int_equal(afktls_crypto_info_size(KTLS_CIPHER_CHACHA20_POLY1305), 56);
	assert_int_equal(afktls_crypto_info_size(53), 0);
	assert_true(afktls_family() > 0);
	/* Arguments the TLS-library calls refuse before touching anything. */
	expect_failure(afktls_openssl_keys(NULL, &k), EINVAL, "no SSL");
	expect_failure(afktls_gnutls_keys(NULL, &k), EINVAL, "no session");
	expect_failure(afktls_openssl_init(NULL), EINVAL, "no SSL");
}

int main(void)
{
	static struct matrix_case cases[3 * 3 * 2];
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(tls13_tickets_in_flight),
		cmocka_unit_test(records_read_before_handoff),
		cmocka_unit_test(resumed_sessions),
		cmocka_unit_test(refuses_buffered_data),
		cmocka_unit_test(refuses_unsupported_suites),
		cmocka_unit_test(refuses_after_key_update),
		cmocka_unit_test(refuses_without_set_up),
		cmocka_unit_test(tls13_keylog_callback),
		cmocka_unit_test(attach_argument_errors),
	};
	struct CMUnitTest tests[sizeof(cases) / sizeof(cases[0]) + sizeof(fixed) / sizeof(fixed[0])];
	size_t n = 0;

	for (int proto = PROTO_TLS12; proto <= PROTO_DTLS12; proto++) {
		for (int cipher = CIPHER_AES128; cipher <= CIPHER_CHACHA; cipher++) {
			for (int server = 0; server <= 1; server++) {
				struct matrix_case *c = &cases[n];

				c->proto = proto;
				c->cipher = cipher;
				c->openssl_server = server;
				snprintf(c->name, sizeof(c->name), "openssl_%s_%s_%s_matches_gnutls",
					 server ? "server" : "client", proto_names[proto],
					 cipher_names[cipher]);
				tests[n] = (struct CMUnitTest){ c->name, openssl_matches_gnutls,
								NULL, NULL, c };
				n++;
			}
		}
	}
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		tests[n++] = fixed[i];
	return _cmocka_run_group_tests("libafktls_keys", tests, n, NULL, NULL);
}
