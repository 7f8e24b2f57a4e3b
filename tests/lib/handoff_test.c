// SPDX-License-Identifier: GPL-2.0
/*
 * libafktls in the test VM: one end of a real handshake is handed to AF_KTLS with
 * afktls_from_openssl() or afktls_from_gnutls(), the other end stays in userspace with the
 * other TLS library, whose record layer checks every record the kernel sends and makes every
 * record the kernel receives. TLS 1.2, TLS 1.3 and DTLS 1.2, every cipher, both roles, servers
 * sending their default session tickets. Then afktls_recv() on non-data records, the errno
 * and message of a key structure that does not match the bind address, and transports
 * AF_KTLS refuses.
 *
 *   handoff_test              everything (af_ktls loaded with the default family)
 *   handoff_test --family N   af_ktls loaded with family=N: afktls_family() and a handoff
 *   handoff_test --no-module  af_ktls not loaded: the error says so
 */
#include <errno.h>
#include <pthread.h>
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

#define TLS_BYTES (64 * 1024)
#define DTLS_RECORDS 16
#define DTLS_RECORD 1000

struct side {
	int cfd, sfd;
	struct peer client, server;
	struct peer *ktls, *user; /* the end handed to AF_KTLS, the one staying in userspace */
	int s;                    /* the AF_KTLS socket */
};

static void connect_sides(struct side *sd, enum peer_lib ktls_lib, bool ktls_server,
			  const struct peer_opts *o)
{
	enum peer_lib user_lib = ktls_lib == LIB_OPENSSL ? LIB_GNUTLS : LIB_OPENSSL;

	assert_int_equal(connected_pair(o->proto == PROTO_DTLS12, &sd->cfd, &sd->sfd), 0);
	assert_int_equal(peer_setup(&sd->server, ktls_server ? ktls_lib : user_lib, true, sd->sfd,
				    o), 0);
	assert_int_equal(peer_setup(&sd->client, ktls_server ? user_lib : ktls_lib, false,
				    sd->cfd, o), 0);
	sd->ktls = ktls_server ? &sd->server : &sd->client;
	sd->user = ktls_server ? &sd->client : &sd->server;
	if (handshake_pair(&sd->client, &sd->server) < 0)
		fail_msg("handshake: client: %s / server: %s", sd->client.error, sd->server.error);
	sd->s = -1;
}

static void hand_over(struct side *sd)
{
	sd->s = sd->ktls->lib == LIB_OPENSSL ? afktls_from_openssl(sd->ktls->ssl, AFKTLS_CLOEXEC)
					      : afktls_from_gnutls(sd->ktls->session,
								   AFKTLS_CLOEXEC);
	if (sd->s < 0)
		fail_msg("handoff: %s (%s)", afktls_last_error(), strerror(errno));
}

static void side_free(struct side *sd)
{
	if (sd->s >= 0)
		close(sd->s);
	peer_free(&sd->client);
	peer_free(&sd->server);
	close(sd->cfd);
	close(sd->sfd);
}

/* ---- the matrix ------------------------------------------------------------------------- */

struct matrix_case {
	char name[80];
	enum peer_proto proto;
	enum peer_cipher cipher;
	enum peer_lib ktls_lib;
	bool ktls_server;
};

struct user_job {
	struct side *sd;
	bool dtls;
	bool tls12;
	char error[300];
};

static uint64_t be64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/*
 * The userspace end: checks what the kernel sent (and, for TLS 1.2 AES-GCM, that the kernel's
 * first explicit nonce is its sequence number 1 — not one the TLS library already used), answers,
 * closes with close_notify and expects the kernel's close_notify.
 */
static void *user_end(void *arg)
{
	struct user_job *job = arg;
	struct peer *p = job->sd->user;
	size_t total = job->dtls ? DTLS_RECORDS * DTLS_RECORD : TLS_BYTES;
	unsigned char *got = malloc(total), *want = malloc(total), probe[16];
	ssize_t n;

	if (!got || !want) {
		snprintf(job->error, sizeof(job->error), "out of memory");
		goto out;
	}
	if (job->tls12) {
		for (int i = 0; i < 500; i++) {
			n = recv(p->fd, probe, 13, MSG_PEEK | MSG_DONTWAIT);
			if (n == 13)
				break;
			usleep(10000);
		}
		if (n != 13 || probe[0] != 23 || be64(probe + 5) != 1) {
			snprintf(job->error, sizeof(job->error),
				 "first kernel record: type %u, explicit nonce %#llx (want 23, 1)",
				 probe[0], (unsigned long long)be64(probe + 5));
			goto out;
		}
	}
	fill_pattern(want, total, 1);
	if (job->dtls) {
		for (int i = 0; i < DTLS_RECORDS; i++) {
			n = peer_read(p, got + i * DTLS_RECORD, DTLS_RECORD);
			if (n != DTLS_RECORD) {
				snprintf(job->error, sizeof(job->error), "record %d: %zd bytes: %s", i,
					 n, p->error);
				goto out;
			}
		}
	} else if (peer_read_all(p, got, total) < 0) {
		snprintf(job->error, sizeof(job->error), "reading: %s", p->error);
		goto out;
	}
	if (memcmp(got, want, total) != 0) {
		snprintf(job->error, sizeof(job->error), "the kernel's data arrived changed");
		goto out;
	}
	fill_pattern(want, total, 2);
	if (peer_write_all(p, want, total) < 0) {
		snprintf(job->error, sizeof(job->error), "writing: %s", p->error);
		goto out;
	}
	peer_close_notify(p);
	n = peer_read(p, got, total);
	if (n != 0)
		snprintf(job->error, sizeof(job->error), "after close_notify: %zd (%s)", n,
			 p->error);
out:
	/* A failure here must not leave the kernel end waiting for data. */
	if (job->error[0])
		shutdown(p->fd, SHUT_RDWR);
	free(got);
	free(want);
	return NULL;
}

static void kernel_end_exchanges_data(void **state)
{
	const struct matrix_case *c = *state;
	struct peer_opts o = { .proto = c->proto, .cipher = c->cipher, .tickets = -1,
			       .afktls_init = true };
	bool dtls = c->proto == PROTO_DTLS12;
	size_t total = dtls ? DTLS_RECORDS * DTLS_RECORD : TLS_BYTES, have = 0;
	unsigned char *buf = malloc(total), *want = malloc(total);
	/* TLS 1.2 AES-GCM records carry an explicit nonce (ChaCha20-Poly1305 ones do not). */
	struct user_job job = { .dtls = dtls,
				.tls12 = c->proto == PROTO_TLS12 && c->cipher != CIPHER_CHACHA };
	struct side sd;
	pthread_t t;

	assert_non_null(buf);
	assert_non_null(want);
	connect_sides(&sd, c->ktls_lib, c->ktls_server, &o);
	hand_over(&sd);
	job.sd = &sd;
	assert_int_equal(pthread_create(&t, NULL, user_end, &job), 0);

	fill_pattern(want, total, 1);
	for (size_t off = 0; off < total;) {
		size_t chunk = dtls ? DTLS_RECORD : total - off;
		ssize_t n = send(sd.s, want + off, chunk, MSG_NOSIGNAL);

		if (n <= 0)
			fail_msg("send: %s", strerror(errno));
		off += (size_t)n;
	}
	fill_pattern(want, total, 2);
	while (have < total) {
		ssize_t n = afktls_recv(sd.s, buf + have, total - have, 0);

		if (n <= 0)
			fail_msg("afktls_recv after %zu bytes: %zd, %s (%s)", have, n,
				 strerror(errno), afktls_last_error());
		if (dtls && n != DTLS_RECORD)
			fail_msg("DTLS record of %zd bytes", n);
		have += (size_t)n;
	}
	assert_memory_equal(buf, want, total);
	/* The peer's close_notify ends the stream. */
	assert_int_equal(afktls_recv(sd.s, buf, total, 0), 0);
	assert_int_equal(afktls_close_notify(sd.s), 0);
	pthread_join(t, NULL);
	if (job.error[0])
		fail_msg("userspace %s end: %s", lib_names[sd.user->lib], job.error);
	free(buf);
	free(want);
	side_free(&sd);
}

/* ---- afktls_recv() and non-data records ------------------------------------------------- */

/*
 * A TLS 1.3 client handed over right after the handshake finds the server's tickets first:
 * plain recv() fails with EIO (the kernel's contract), afktls_recv() skips them, also when
 * peeking and with a buffer too small for a ticket.
 */
static void recv_skips_tickets(void **state)
{
	struct peer_opts o = { .proto = PROTO_TLS13, .cipher = CIPHER_AES128, .tickets = 2,
			       .afktls_init = true };
	unsigned char buf[64];
	struct side sd;

	(void)state;
	connect_sides(&sd, LIB_GNUTLS, false, &o); /* OpenSSL server, 2 tickets */
	hand_over(&sd);
	assert_int_equal(peer_write_all(sd.user, "hello", 5), 0);
	assert_int_equal(recv(sd.s, buf, sizeof(buf), MSG_DONTWAIT), -1);
	assert_int_equal(errno, EIO);
	assert_int_equal(afktls_recv(sd.s, buf, sizeof(buf), MSG_PEEK), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(afktls_recv(sd.s, buf, sizeof(buf), 0), 5);
	assert_memory_equal(buf, "hello", 5);
	side_free(&sd);

	/* One byte at a time: each ticket is read piece by piece and skipped whole. */
	connect_sides(&sd, LIB_OPENSSL, false, &o);
	hand_over(&sd);
	assert_int_equal(peer_write_all(sd.user, "ab", 2), 0);
	assert_int_equal(afktls_recv(sd.s, buf, 1, 0), 1);
	assert_int_equal(buf[0], 'a');
	assert_int_equal(afktls_recv(sd.s, buf, 1, 0), 1);
	assert_int_equal(buf[0], 'b');
	side_free(&sd);
}

static void expect_failure(ssize_t ret, int err, const char *words)
{
	assert_int_equal(ret, -1);
	if (errno != err)
		fail_msg("errno %d (%s), expected %d; message: %s", errno, strerror(errno), err,
			 afktls_last_error());
	if (!strstr(afktls_last_error(), words))
		fail_msg("message \"%s\" lacks \"%s\"", afktls_last_error(), words);
	print_message("      %s: %s\n", strerror(err), afktls_last_error());
}

static void recv_reports_alert_and_key_update(void **state)
{
	struct peer_opts o = { .proto = PROTO_TLS13, .cipher = CIPHER_CHACHA, .tickets = 0,
			       .afktls_init = true };
	unsigned char buf[64];
	struct side sd;

	(void)state;
	/* A fatal alert from a GnuTLS peer. */
	connect_sides(&sd, LIB_OPENSSL, true, &o);
	hand_over(&sd);
	assert_int_equal(gnutls_alert_send(sd.user->session, GNUTLS_AL_FATAL,
					   GNUTLS_A_INTERNAL_ERROR), 0);
	expect_failure(afktls_recv(sd.s, buf, sizeof(buf), 0), ECONNABORTED, "internal_error");
	side_free(&sd);

	/* A KeyUpdate from an OpenSSL peer. */
	connect_sides(&sd, LIB_GNUTLS, true, &o);
	hand_over(&sd);
	assert_int_equal(SSL_key_update(sd.user->ssl, SSL_KEY_UPDATE_NOT_REQUESTED), 1);
	assert_int_equal(peer_write_all(sd.user, "new keys", 8), 0);
	expect_failure(afktls_recv(sd.s, buf, sizeof(buf), 0), EKEYEXPIRED, "KeyUpdate");
	side_free(&sd);
}

/*
 * A TLS 1.2 session handed over stays resumable (afktls_from_openssl marks the SSL shut down;
 * OpenSSL drops the sessions of SSL objects freed without a shutdown), and the abbreviated
 * handshake, where the server's ChangeCipherSpec and Finished come first, hands over too.
 */
static void resumed_session_hands_over(void **state)
{
	gnutls_datum_t ticket_key;
	struct peer_opts o = { .proto = PROTO_TLS12, .cipher = CIPHER_AES256, .tickets = -1,
			       .afktls_init = true, .ticket_key = &ticket_key };
	SSL_SESSION *session = NULL;
	unsigned char buf[8];
	struct side sd;

	(void)state;
	assert_int_equal(gnutls_session_ticket_key_generate(&ticket_key), 0);
	for (int round = 0; round < 2; round++) {
		connect_sides(&sd, LIB_OPENSSL, false, &o);
		if (round == 1)
			assert_true(SSL_session_reused(sd.ktls->ssl));
		hand_over(&sd);
		assert_int_equal(send(sd.s, "resume", 6, 0), 6);
		assert_int_equal(peer_read_all(sd.user, buf, 6), 0);
		assert_int_equal(peer_write_all(sd.user, "again", 5), 0);
		assert_int_equal(afktls_recv(sd.s, buf, sizeof(buf), 0), 5);
		assert_memory_equal(buf, "again", 5);
		if (round == 0) {
			session = SSL_get1_session(sd.ktls->ssl);
			assert_non_null(session);
			side_free(&sd);
			/* The next connection offers the session. */
			o.resume = session;
		} else {
			side_free(&sd);
		}
	}
	SSL_SESSION_free(session);
	gnutls_free(ticket_key.data);
}

/* ---- afktls_attach() and the kernel's errors ---------------------------------------------- */

static void mismatched_keys_are_eproto(void **state)
{
	struct peer_opts o = { .proto = PROTO_TLS13, .cipher = CIPHER_AES128, .tickets = 0,
			       .afktls_init = true };
	struct afktls_keys keys, bad;
	struct side sd;

	(void)state;
	connect_sides(&sd, LIB_OPENSSL, false, &o);
	assert_int_equal(afktls_openssl_keys(sd.ktls->ssl, &keys), 0);

	bad = keys;
	bad.rx.info.version = KTLS_VERSION_TLS_1_2;
	expect_failure(afktls_attach(sd.cfd, &bad, 0), EPROTO, "EPROTO");
	assert_non_null(strstr(afktls_last_error(), "KTLS_RX"));
	bad = keys;
	bad.rx.info.cipher_type = KTLS_CIPHER_CHACHA20_POLY1305;
	expect_failure(afktls_attach(sd.cfd, &bad, 0), EPROTO, "version or cipher");

	/*
	 * The refused attempts left the connection as it was: it goes on in userspace, and a
	 * handoff after that (with the records exchanged meanwhile counted) still works.
	 */
	afktls_wipe(&keys, sizeof(keys));
	assert_int_equal(peer_write_all(sd.ktls, "ping", 4), 0);
	assert_int_equal(peer_read_all(sd.user, &bad, 4), 0);
	assert_int_equal(peer_write_all(sd.user, "pong", 4), 0);
	assert_int_equal(peer_read_all(sd.ktls, &bad, 4), 0);
	assert_int_equal(afktls_openssl_keys(sd.ktls->ssl, &keys), 0);
	sd.s = afktls_attach(sd.cfd, &keys, 0);
	assert_true(sd.s >= 0);
	afktls_wipe(&keys, sizeof(keys));
	assert_int_equal(peer_write_all(sd.user, "ok", 2), 0);
	assert_int_equal(afktls_recv(sd.s, &bad, sizeof(bad), 0), 2);
	assert_int_equal(send(sd.s, "back", 4, 0), 4);
	assert_int_equal(peer_read_all(sd.user, &bad, 4), 0);
	assert_memory_equal(&bad, "back", 4);
	side_free(&sd);
}

static void transports_refused(void **state)
{
	struct peer_opts o = { .proto = PROTO_TLS12, .cipher = CIPHER_AES256, .tickets = 0,
			       .afktls_init = true };
	struct afktls_keys keys;
	struct side sd;
	int udp[2], pipefd[2], unconnected = socket(AF_INET, SOCK_STREAM, 0);

	(void)state;
	connect_sides(&sd, LIB_OPENSSL, true, &o);
	assert_int_equal(afktls_openssl_keys(sd.ktls->ssl, &keys), 0);
	assert_true(unconnected >= 0);
	expect_failure(afktls_attach(unconnected, &keys, 0), ENOTCONN, "not connected");
	assert_int_equal(connected_pair(true, &udp[0], &udp[1]), 0);
	expect_failure(afktls_attach(udp[0], &keys, 0), EPROTOTYPE, "TCP");
	assert_int_equal(pipe(pipefd), 0);
	expect_failure(afktls_attach(pipefd[0], &keys, 0), ENOTSOCK, "not a socket");
	close(pipefd[0]);
	close(pipefd[1]);
	expect_failure(afktls_attach(-1, &keys, 0), EBADF, "not open");
	afktls_wipe(&keys, sizeof(keys));
	close(udp[0]);
	close(udp[1]);
	close(unconnected);
	side_free(&sd);
}

static void family_from_sysfs(void **state)
{
	(void)state;
	assert_int_equal(afktls_family(), AF_KTLS);
}

/* ---- modes for the VM suite's module parameter and unloaded runs ------------------------- */

static int expected_family;

static void follows_moved_family(void **state)
{
	struct peer_opts o = { .proto = PROTO_TLS13, .cipher = CIPHER_AES256, .tickets = -1,
			       .afktls_init = true };
	unsigned char buf[8];
	struct side sd;

	(void)state;
	assert_int_equal(afktls_family(), expected_family);
	connect_sides(&sd, LIB_OPENSSL, false, &o);
	hand_over(&sd);
	assert_int_equal(peer_write_all(sd.user, "moved", 5), 0);
	assert_int_equal(afktls_recv(sd.s, buf, sizeof(buf), 0), 5);
	side_free(&sd);
}

static void without_module(void **state)
{
	struct afktls_keys keys;
	int cfd, sfd;

	(void)state;
	memset(&keys, 0, sizeof(keys));
	keys.tx.info.version = keys.rx.info.version = KTLS_VERSION_TLS_1_3;
	keys.tx.info.cipher_type = keys.rx.info.cipher_type = KTLS_CIPHER_AES_GCM_128;
	assert_int_equal(connected_pair(false, &cfd, &sfd), 0);
	assert_int_equal(afktls_family(), AF_KTLS);
	expect_failure(afktls_attach(cfd, &keys, 0), EAFNOSUPPORT,
		       "is the af_ktls module loaded?");
	close(cfd);
	close(sfd);
}

int main(int argc, char **argv)
{
	static struct matrix_case cases[3 * 3 * 2 * 2];
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(recv_skips_tickets),
		cmocka_unit_test(recv_reports_alert_and_key_update),
		cmocka_unit_test(resumed_session_hands_over),
		cmocka_unit_test(mismatched_keys_are_eproto),
		cmocka_unit_test(transports_refused),
		cmocka_unit_test(family_from_sysfs),
	};
	struct CMUnitTest tests[sizeof(cases) / sizeof(cases[0]) + sizeof(fixed) / sizeof(fixed[0])];
	size_t n = 0;

	if (argc == 3 && strcmp(argv[1], "--family") == 0) {
		const struct CMUnitTest only[] = { cmocka_unit_test(follows_moved_family) };

		expected_family = atoi(argv[2]);
		return cmocka_run_group_tests_name("libafktls_moved_family", only, NULL, NULL);
	}
	if (argc == 2 && strcmp(argv[1], "--no-module") == 0) {
		const struct CMUnitTest only[] = { cmocka_unit_test(without_module) };

		return cmocka_run_group_tests_name("libafktls_without_module", only, NULL, NULL);
	}
	if (argc != 1) {
		fprintf(stderr, "usage: %s [--family N | --no-module]\n", argv[0]);
		return 2;
	}

	for (int proto = PROTO_TLS12; proto <= PROTO_DTLS12; proto++) {
		for (int cipher = CIPHER_AES128; cipher <= CIPHER_CHACHA; cipher++) {
			for (int lib = LIB_OPENSSL; lib <= LIB_GNUTLS; lib++) {
				for (int server = 0; server <= 1; server++) {
					struct matrix_case *c = &cases[n];

					*c = (struct matrix_case){ .proto = proto, .cipher = cipher,
								   .ktls_lib = lib,
								   .ktls_server = server };
					snprintf(c->name, sizeof(c->name), "%s_%s_%s_%s_vs_%s",
						 proto_names[proto], cipher_names[cipher],
						 lib_names[lib], server ? "server" : "client",
						 lib_names[!lib]);
					tests[n] = (struct CMUnitTest){ c->name,
									kernel_end_exchanges_data,
									NULL, NULL, c };
					n++;
				}
			}
		}
	}
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		tests[n++] = fixed[i];
	return _cmocka_run_group_tests("libafktls_handoff", tests, n, NULL, NULL);
}
