// SPDX-License-Identifier: GPL-2.0
/*
 * Long-lived connections (issue 13; Documentation/af_ktls.md, "Long-lived connections"):
 * TLS 1.3 KeyUpdates many times in one transfer, both directions at once; what a rekey does to
 * an open record; shutdown in each direction; handing the connection back with KTLS_UNATTACH
 * and continuing the records in userspace. Mainline's own rekey and shutdown tests are in
 * tls_selftest.c; DTLS epoch changes in dtls_selftest.c.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "kselftest_harness.h"

#define KTLS_TEST_WITH_OPENSSL
#include "ktls_test.h"

#define TLS13 KTLS_VERSION_TLS_1_3
#define TLS12 KTLS_VERSION_TLS_1_2

static const unsigned char key_update[5] = { 24, 0, 0, 1, 0 };

static ssize_t send_type(int fd, unsigned char type, const void *data, size_t len, int flags)
{
	char cbuf[CMSG_SPACE(1)];
	struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);

	cmsg->cmsg_level = SOL_KTLS;
	cmsg->cmsg_type = KTLS_SET_RECORD_TYPE;
	cmsg->cmsg_len = CMSG_LEN(1);
	*CMSG_DATA(cmsg) = type;
	return sendmsg(fd, &msg, flags);
}

static ssize_t recv_type(int fd, unsigned char *type, void *data, size_t len, int flags)
{
	char cbuf[CMSG_SPACE(1)] = { 0 };
	struct iovec iov = { .iov_base = data, .iov_len = len };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	ssize_t n = recvmsg(fd, &msg, flags);
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);

	*type = n >= 0 && cmsg ? *CMSG_DATA(cmsg) : 0;
	return n;
}

/* One end of a TLS 1.3 connection: TCP socket and AF_KTLS socket, keys of generation 0. */
struct end {
	int tcp, s;
};

static void open_pair(struct __test_metadata *_metadata, uint16_t version, uint16_t cipher,
		      struct end *a, struct end *b)
{
	struct ktls_keys ab, ba;
	int tcp[2];

	ktls_inet_pair(SOCK_STREAM, tcp);
	a->tcp = tcp[0];
	b->tcp = tcp[1];
	a->s = ktls_bind(a->tcp, version, cipher);
	b->s = ktls_bind(b->tcp, version, cipher);
	/* Direction a->b uses even generations, b->a odd ones. */
	ktls_keys_init(&ab, version, cipher, 0, 0);
	ktls_keys_init(&ba, version, cipher, 1, 0);
	ASSERT_EQ(ktls_set_keys(a->s, KTLS_TX, &ab), 0);
	ASSERT_EQ(ktls_set_keys(b->s, KTLS_RX, &ab), 0);
	ASSERT_EQ(ktls_set_keys(b->s, KTLS_TX, &ba), 0);
	ASSERT_EQ(ktls_set_keys(a->s, KTLS_RX, &ba), 0);
}

static void close_end(struct end *e)
{
	if (e->s >= 0)
		close(e->s);
	close(e->tcp);
}

/*
 * One direction of a transfer with a KeyUpdate every `every` bytes: the sender sends data, then
 * the KeyUpdate, then sets its next TX keys (generation first_gen + 2k); the receiver reads until
 * the KeyUpdate and sets its next RX keys. Data is a pattern checked byte by byte.
 */
struct direction {
	int tx, rx;
	uint16_t cipher;
	unsigned int first_gen;
	size_t total, every;
	int updates_sent, updates_seen;
	const char *failure;
};

static void *send_side(void *arg)
{
	struct direction *d = arg;
	unsigned char buf[3000];
	struct ktls_keys next;
	size_t sent = 0, since = 0;
	unsigned int gen = d->first_gen;

	while (sent < d->total) {
		size_t len = d->total - sent < sizeof(buf) ? d->total - sent : sizeof(buf);

		for (size_t i = 0; i < len; i++)
			buf[i] = (unsigned char)((sent + i) * 7 + d->first_gen);
		if (send(d->tx, buf, len, 0) != (ssize_t)len) {
			d->failure = "send";
			return NULL;
		}
		sent += len;
		since += len;
		if (since >= d->every && sent < d->total) {
			since = 0;
			if (send_type(d->tx, KTLS_RECORD_HANDSHAKE, key_update, sizeof(key_update), 0) !=
			    sizeof(key_update)) {
				d->failure = "send KeyUpdate";
				return NULL;
			}
			gen += 2;
			ktls_keys_init(&next, TLS13, d->cipher, gen, 0);
			if (ktls_set_keys(d->tx, KTLS_TX, &next)) {
				d->failure = "KTLS_TX again";
				return NULL;
			}
			d->updates_sent++;
		}
	}
	return NULL;
}

static void *recv_side(void *arg)
{
	struct direction *d = arg;
	unsigned char buf[5000], type;
	struct ktls_keys next;
	size_t got = 0;
	unsigned int gen = d->first_gen;

	while (got < d->total) {
		ssize_t n = recv_type(d->rx, &type, buf, sizeof(buf), 0);

		if (n <= 0) {
			d->failure = "recv";
			return NULL;
		}
		if (type == KTLS_RECORD_HANDSHAKE) {
			if (n != sizeof(key_update) || memcmp(buf, key_update, n)) {
				d->failure = "not the KeyUpdate";
				return NULL;
			}
			/* Until the next keys are set, nothing more is readable. */
			if (recv(d->rx, buf, sizeof(buf), MSG_DONTWAIT) != -1 || errno != EKEYEXPIRED) {
				d->failure = "no EKEYEXPIRED after the KeyUpdate";
				return NULL;
			}
			gen += 2;
			ktls_keys_init(&next, TLS13, d->cipher, gen, 0);
			if (ktls_set_keys(d->rx, KTLS_RX, &next)) {
				d->failure = "KTLS_RX again";
				return NULL;
			}
			d->updates_seen++;
			continue;
		}
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] != (unsigned char)((got + i) * 7 + d->first_gen)) {
				d->failure = "data";
				return NULL;
			}
		}
		got += n;
	}
	return NULL;
}

FIXTURE(keyupdate)
{
	struct end a, b;
};

FIXTURE_VARIANT(keyupdate)
{
	uint16_t cipher;
	int ahead;
};

FIXTURE_VARIANT_ADD(keyupdate, aes_gcm_ahead)
{
	.cipher = KTLS_CIPHER_AES_GCM_128, .ahead = 1,
};

FIXTURE_VARIANT_ADD(keyupdate, aes_gcm_inline)
{
	.cipher = KTLS_CIPHER_AES_GCM_128, .ahead = 0,
};

FIXTURE_VARIANT_ADD(keyupdate, chacha_ahead)
{
	.cipher = KTLS_CIPHER_CHACHA20_POLY1305, .ahead = 1,
};

FIXTURE_SETUP(keyupdate)
{
	open_pair(_metadata, TLS13, variant->cipher, &self->a, &self->b);
	ASSERT_EQ(setsockopt(self->a.s, SOL_KTLS, KTLS_RX_DECRYPT_AHEAD, &variant->ahead,
			     sizeof(int)), 0);
	ASSERT_EQ(setsockopt(self->b.s, SOL_KTLS, KTLS_RX_DECRYPT_AHEAD, &variant->ahead,
			     sizeof(int)), 0);
}

FIXTURE_TEARDOWN(keyupdate)
{
	close_end(&self->a);
	close_end(&self->b);
}

/* 33 KeyUpdates each way in 200 KB each way, both directions at once, four threads. */
TEST_F(keyupdate, many_both_directions_at_once)
{
	struct direction ab = {
		.tx = self->a.s, .rx = self->b.s, .cipher = variant->cipher, .first_gen = 0,
		.total = 200000, .every = 6000,
	};
	struct direction ba = {
		.tx = self->b.s, .rx = self->a.s, .cipher = variant->cipher, .first_gen = 1,
		.total = 200000, .every = 6000,
	};
	pthread_t t[4];

	ASSERT_EQ(pthread_create(&t[0], NULL, send_side, &ab), 0);
	ASSERT_EQ(pthread_create(&t[1], NULL, recv_side, &ab), 0);
	ASSERT_EQ(pthread_create(&t[2], NULL, send_side, &ba), 0);
	ASSERT_EQ(pthread_create(&t[3], NULL, recv_side, &ba), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	if (ab.failure)
		TH_LOG("a->b: %s (%s)", ab.failure, strerror(errno));
	if (ba.failure)
		TH_LOG("b->a: %s (%s)", ba.failure, strerror(errno));
	EXPECT_EQ(ab.failure, NULL);
	EXPECT_EQ(ba.failure, NULL);
	EXPECT_EQ(ab.updates_sent, 33);
	EXPECT_EQ(ab.updates_seen, 33);
	EXPECT_EQ(ba.updates_sent, 33);
	EXPECT_EQ(ba.updates_seen, 33);
}

/*
 * A record left open with MSG_MORE is sealed with the old keys when KTLS_TX is set again, and
 * goes out without another call; the peer reads it with the old keys.
 */
TEST_F(keyupdate, open_record_is_sealed_with_the_old_keys)
{
	struct ktls_keys next;
	struct pollfd pfd = { .fd = self->b.s, .events = POLLIN };
	char buf[16];

	ASSERT_EQ(send(self->a.s, "old", 3, MSG_MORE), 3);
	ktls_keys_init(&next, TLS13, variant->cipher, 2, 0);
	ASSERT_EQ(ktls_set_keys(self->a.s, KTLS_TX, &next), 0);
	EXPECT_EQ(poll(&pfd, 1, 3000), 1);
	EXPECT_EQ(recv(self->b.s, buf, sizeof(buf), MSG_DONTWAIT), 3);
	EXPECT_EQ(memcmp(buf, "old", 3), 0);
}

/* New TLS 1.3 keys must start at sequence number 0; TLS 1.2 never rekeys. */
TEST_F(keyupdate, next_keys_start_at_zero)
{
	struct ktls_keys next;
	char buf[16];
	unsigned char type;

	ktls_keys_init(&next, TLS13, variant->cipher, 2, 5);
	EXPECT_EQ(ktls_set_keys(self->a.s, KTLS_TX, &next), -1);
	EXPECT_EQ(errno, EINVAL);
	ASSERT_EQ(send_type(self->a.s, KTLS_RECORD_HANDSHAKE, key_update, sizeof(key_update), 0),
		  sizeof(key_update));
	EXPECT_EQ(recv_type(self->b.s, &type, buf, sizeof(buf), 0), sizeof(key_update));
	EXPECT_EQ(ktls_set_keys(self->b.s, KTLS_RX, &next), -1);
	EXPECT_EQ(errno, EINVAL);
	ktls_keys_init(&next, TLS13, variant->cipher, 2, 0);
	EXPECT_EQ(ktls_set_keys(self->b.s, KTLS_RX, &next), 0);
}

/* shutdown(SHUT_WR): the peer reads everything, including records that waited for room. */
TEST(shutdown_wr_sends_pending_records_then_fin)
{
	static unsigned char buf[1 << 20], got[1 << 20];
	struct end a, b;
	size_t sent = 0, total = 0;
	int small = 4096;
	ssize_t n;

	open_pair(_metadata, TLS13, KTLS_CIPHER_AES_GCM_128, &a, &b);
	ASSERT_EQ(setsockopt(a.tcp, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
	ktls_pattern(buf, sizeof(buf), 3);
	/* Fill until the bound socket has no room and a record waits in AF_KTLS. */
	while ((n = send(a.s, buf + sent, 16384, MSG_DONTWAIT)) > 0)
		sent += n;
	EXPECT_EQ(errno, EAGAIN);
	EXPECT_EQ(shutdown(a.s, SHUT_WR), 0);
	EXPECT_EQ(send(a.s, "x", 1, MSG_NOSIGNAL), -1);
	EXPECT_EQ(errno, EPIPE);
	while ((n = recv(b.s, got + total, sizeof(got) - total, 0)) > 0)
		total += n;
	EXPECT_EQ(n, 0);
	EXPECT_EQ(total, sent);
	EXPECT_EQ(memcmp(got, buf, sent), 0);
	close_end(&a);
	close_end(&b);
}

static volatile sig_atomic_t sigpipes;

static void on_sigpipe(int sig)
{
	(void)sig;
	sigpipes++;
}

/* A send after SHUT_WR raises SIGPIPE without MSG_NOSIGNAL, as on TCP; DTLS too. */
TEST(send_after_shut_wr_is_epipe_and_sigpipe)
{
	struct sigaction sa = { .sa_handler = on_sigpipe }, old;
	int udp[2], s;
	struct end a, b;
	struct ktls_keys k;

	ASSERT_EQ(sigaction(SIGPIPE, &sa, &old), 0);
	open_pair(_metadata, TLS12, KTLS_CIPHER_AES_GCM_256, &a, &b);
	EXPECT_EQ(shutdown(a.s, SHUT_WR), 0);
	sigpipes = 0;
	EXPECT_EQ(send(a.s, "x", 1, 0), -1);
	EXPECT_EQ(errno, EPIPE);
	EXPECT_EQ(sigpipes, 1);
	EXPECT_EQ(recv(b.s, &k, 1, 0), 0);
	close_end(&a);
	close_end(&b);

	ktls_inet_pair(SOCK_DGRAM, udp);
	s = ktls_bind(udp[0], KTLS_VERSION_DTLS_1_2, KTLS_CIPHER_CHACHA20_POLY1305);
	ktls_keys_init(&k, KTLS_VERSION_DTLS_1_2, KTLS_CIPHER_CHACHA20_POLY1305, 0, 1ULL << 48);
	ASSERT_EQ(ktls_set_keys(s, KTLS_TX, &k), 0);
	EXPECT_EQ(shutdown(s, SHUT_WR), 0);
	EXPECT_EQ(send(s, "x", 1, MSG_NOSIGNAL), -1);
	EXPECT_EQ(errno, EPIPE);
	EXPECT_EQ(sigpipes, 1);
	close(s);
	close(udp[0]);
	close(udp[1]);
	sigaction(SIGPIPE, &old, NULL);
}

static void *blocked_recv(void *arg)
{
	int *fd = arg;
	char buf[8];

	return (void *)(long)recv(*fd, buf, sizeof(buf), 0);
}

/*
 * shutdown(SHUT_RD) from another thread ends a blocked recv (0); records already opened are
 * still returned first. Bad `how`: EINVAL; not bound: ENOTCONN.
 */
TEST(shutdown_rd_ends_a_blocked_recv)
{
	struct end a, b;
	pthread_t t;
	void *ret;
	char buf[8];
	int lone = socket(AF_KTLS, SOCK_STREAM, 0);

	ASSERT_GE(lone, 0);
	EXPECT_EQ(shutdown(lone, SHUT_WR), -1);
	EXPECT_EQ(errno, ENOTCONN);
	close(lone);

	open_pair(_metadata, TLS13, KTLS_CIPHER_AES_GCM_128, &a, &b);
	EXPECT_EQ(shutdown(b.s, 7), -1);
	EXPECT_EQ(errno, EINVAL);
	ASSERT_EQ(pthread_create(&t, NULL, blocked_recv, &b.s), 0);
	ktls_sleep_ms(300);
	EXPECT_EQ(shutdown(b.s, SHUT_RD), 0);
	pthread_join(t, &ret);
	EXPECT_EQ((long)ret, 0);
	EXPECT_EQ(recv(b.s, buf, sizeof(buf), MSG_DONTWAIT), 0);
	close_end(&a);
	close_end(&b);
}

/*
 * KTLS_UNATTACH: with nothing buffered, the AF_KTLS socket lets go of its TCP socket; getsockopt
 * gives the keys with the next record numbers (and the TLS 1.2 explicit nonce), and userspace
 * continues: a record sealed with them (OpenSSL) is read by the peer's AF_KTLS socket. The TCP
 * socket can be bound again. Data calls are ENOTCONN.
 */
TEST(unattach_and_continue_in_userspace)
{
	struct ktls_keys k;
	unsigned char record[128];
	socklen_t len = sizeof(k.info) + 64;
	struct end a, b;
	char buf[32];
	size_t rec_len;
	int again;

	open_pair(_metadata, TLS12, KTLS_CIPHER_AES_GCM_128, &a, &b);
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(send(a.s, "kernel", 6, 0), 6);
		ASSERT_EQ(recv(b.s, buf, sizeof(buf), 0), 6);
	}
	EXPECT_EQ(setsockopt(a.s, SOL_KTLS, KTLS_UNATTACH, &k, 1), -1);
	EXPECT_EQ(errno, EINVAL);
	ASSERT_EQ(setsockopt(a.s, SOL_KTLS, KTLS_UNATTACH, NULL, 0), 0);
	EXPECT_EQ(send(a.s, "x", 1, 0), -1);
	EXPECT_EQ(errno, ENOTCONN);
	EXPECT_EQ(setsockopt(a.s, SOL_KTLS, KTLS_UNATTACH, NULL, 0), -1);
	EXPECT_EQ(errno, ENOTCONN);

	memset(&k, 0, sizeof(k));
	ASSERT_EQ(getsockopt(a.s, SOL_KTLS, KTLS_TX, &k.info, &len), 0);
	k.len = len;
	EXPECT_EQ(ktls_get_be64(ktls_key_fields(&k).rec_seq), 3);
	/* Record 3, sealed in userspace (ktls_seal: OpenSSL, explicit nonce = record number). */
	rec_len = ktls_seal(&k, 3, KTLS_RECORD_APPLICATION_DATA, "userspace", 9, 0, record);
	ASSERT_EQ(send(a.tcp, record, rec_len, 0), rec_len);
	EXPECT_EQ(recv(b.s, buf, sizeof(buf), 0), 9);
	EXPECT_EQ(memcmp(buf, "userspace", 9), 0);

	/* The TCP socket is free: another AF_KTLS socket can bind it. */
	again = ktls_bind(a.tcp, TLS12, KTLS_CIPHER_AES_GCM_128);
	EXPECT_GE(again, 0);
	close(again);
	close_end(&a);
	close_end(&b);
}

/*
 * KTLS_UNATTACH refuses while something is buffered or a call is in progress (EBUSY), and then
 * changes nothing: an open MSG_MORE record, a record opened ahead and not read, a blocked recv.
 */
TEST(unattach_refuses_while_busy)
{
	struct pollfd pfd;
	struct end a, b;
	pthread_t t;
	void *ret;
	char buf[8];

	open_pair(_metadata, TLS13, KTLS_CIPHER_AES_GCM_128, &a, &b);
	ASSERT_EQ(send(a.s, "more", 4, MSG_MORE), 4);
	EXPECT_EQ(setsockopt(a.s, SOL_KTLS, KTLS_UNATTACH, NULL, 0), -1);
	EXPECT_EQ(errno, EBUSY);
	ASSERT_EQ(send(a.s, "!", 1, 0), 1);

	/* Decrypt-ahead opens the record on b: b is busy until it is read. */
	pfd = (struct pollfd){ .fd = b.s, .events = POLLIN };
	ASSERT_EQ(poll(&pfd, 1, 3000), 1);
	for (int i = 0, queued = 1; i < 300 && queued; i++) {
		ASSERT_EQ(ioctl(b.tcp, FIONREAD, &queued), 0);
		if (queued)
			ktls_sleep_ms(10);
	}
	EXPECT_EQ(setsockopt(b.s, SOL_KTLS, KTLS_UNATTACH, NULL, 0), -1);
	EXPECT_EQ(errno, EBUSY);
	EXPECT_EQ(recv(b.s, buf, sizeof(buf), 0), 5);
	EXPECT_EQ(memcmp(buf, "more!", 5), 0);

	ASSERT_EQ(pthread_create(&t, NULL, blocked_recv, &b.s), 0);
	ktls_sleep_ms(300);
	EXPECT_EQ(setsockopt(b.s, SOL_KTLS, KTLS_UNATTACH, NULL, 0), -1);
	EXPECT_EQ(errno, EBUSY);
	ASSERT_EQ(send(a.s, "end", 3, 0), 3);
	pthread_join(t, &ret);
	EXPECT_EQ((long)ret, 3);
	EXPECT_EQ(setsockopt(b.s, SOL_KTLS, KTLS_UNATTACH, NULL, 0), 0);
	EXPECT_EQ(setsockopt(a.s, SOL_KTLS, KTLS_UNATTACH, NULL, 0), 0);
	close_end(&a);
	close_end(&b);
}

TEST_HARNESS_MAIN
