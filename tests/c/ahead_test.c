// SPDX-License-Identifier: GPL-2.0
/*
 * Decrypt-ahead (KTLS_RX_DECRYPT_AHEAD, Documentation/af_ktls.md "Receiving"): records are
 * opened by a work item as they arrive, before recv() asks. Every test runs with it on and off
 * (variants *_ahead and *_inline) for TLS 1.2 AES-GCM, TLS 1.3 ChaCha20-Poly1305 and DTLS 1.2
 * AES-GCM, and asserts the same results both ways; where the two differ observably (whether the
 * bytes left the bound socket, the KtlsRxAheadRecords counter) the test checks that too, so a
 * decrypt-ahead that never runs fails here.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "kselftest_harness.h"

#include "ktls_test.h"

/* How long the work item gets to open what arrived (emulated debug kernel included). */
#define SETTLE_MS 3000

FIXTURE(ahead)
{
	int a, b, raw[2];
	int type;
	bool dtls;
};

FIXTURE_VARIANT(ahead)
{
	uint16_t version;
	uint16_t cipher;
	int ahead;
};

FIXTURE_VARIANT_ADD(ahead, tls12_aes_gcm_ahead)
{
	.version = KTLS_VERSION_TLS_1_2, .cipher = KTLS_CIPHER_AES_GCM_128, .ahead = 1,
};

FIXTURE_VARIANT_ADD(ahead, tls12_aes_gcm_inline)
{
	.version = KTLS_VERSION_TLS_1_2, .cipher = KTLS_CIPHER_AES_GCM_128, .ahead = 0,
};

FIXTURE_VARIANT_ADD(ahead, tls13_chacha_ahead)
{
	.version = KTLS_VERSION_TLS_1_3, .cipher = KTLS_CIPHER_CHACHA20_POLY1305, .ahead = 1,
};

FIXTURE_VARIANT_ADD(ahead, tls13_chacha_inline)
{
	.version = KTLS_VERSION_TLS_1_3, .cipher = KTLS_CIPHER_CHACHA20_POLY1305, .ahead = 0,
};

FIXTURE_VARIANT_ADD(ahead, dtls_aes_gcm_ahead)
{
	.version = KTLS_VERSION_DTLS_1_2, .cipher = KTLS_CIPHER_AES_GCM_128, .ahead = 1,
};

FIXTURE_VARIANT_ADD(ahead, dtls_aes_gcm_inline)
{
	.version = KTLS_VERSION_DTLS_1_2, .cipher = KTLS_CIPHER_AES_GCM_128, .ahead = 0,
};

static void ahead_open(struct __test_metadata *_metadata, FIXTURE_DATA(ahead) *self,
		       const FIXTURE_VARIANT(ahead) *variant)
{
	uint64_t first = variant->version == KTLS_VERSION_DTLS_1_2 ? 1ULL << 48 : 0;
	struct ktls_keys keys;
	int len = sizeof(int), ahead = -1;

	self->dtls = variant->version == KTLS_VERSION_DTLS_1_2;
	self->type = self->dtls ? SOCK_DGRAM : SOCK_STREAM;
	ktls_inet_pair(self->type, self->raw);
	self->a = ktls_bind(self->raw[0], variant->version, variant->cipher);
	self->b = ktls_bind(self->raw[1], variant->version, variant->cipher);
	ktls_keys_init(&keys, variant->version, variant->cipher, 0, first);
	ASSERT_EQ(ktls_set_keys(self->a, KTLS_TX, &keys), 0);
	/* Set before the keys, so that no record is opened ahead in the _inline variants. */
	ASSERT_EQ(setsockopt(self->b, SOL_KTLS, KTLS_RX_DECRYPT_AHEAD, &variant->ahead,
			     sizeof(int)), 0);
	ASSERT_EQ(getsockopt(self->b, SOL_KTLS, KTLS_RX_DECRYPT_AHEAD, &ahead, (socklen_t *)&len),
		  0);
	ASSERT_EQ(len, sizeof(int));
	ASSERT_EQ(ahead, variant->ahead);
	/* setsockopt(KTLS_RX) ignores KTLS_DECRYPT_AHEAD here: ktls_set_keys() would read it. */
	ASSERT_EQ(setsockopt(self->b, SOL_KTLS, KTLS_RX, &keys.info, keys.len), 0);
}

static void ahead_close(FIXTURE_DATA(ahead) *self)
{
	close(self->a);
	close(self->b);
	close(self->raw[0]);
	close(self->raw[1]);
}

FIXTURE_SETUP(ahead)
{
	ahead_open(_metadata, self, variant);
}

FIXTURE_TEARDOWN(ahead)
{
	ahead_close(self);
}

/* Bytes (TCP) or the next datagram's size (UDP) queued on the receiving bound socket. */
static int raw_queued(FIXTURE_DATA(ahead) *self)
{
	int queued = -1;

	if (ioctl(self->raw[1], FIONREAD, &queued))
		return -1;
	return queued;
}

/*
 * Waits until the receiving bound socket's queue stops changing: empty, or the same for 300 ms
 * (SETTLE_MS at most). Returns what it holds then.
 */
static int settle(FIXTURE_DATA(ahead) *self)
{
	long long start = ktls_now_ms(), stable_since = start;
	int last = raw_queued(self);

	while (last != 0 && ktls_now_ms() - stable_since < 300 &&
	       ktls_now_ms() - start < SETTLE_MS) {
		int now;

		ktls_sleep_ms(10);
		now = raw_queued(self);
		if (now != last)
			stable_since = ktls_now_ms();
		last = now;
	}
	return last;
}

static void fill(unsigned char *buf, size_t len, unsigned int seed)
{
	ktls_pattern(buf, len, seed);
}

/* Each record's bytes arrive intact and in order; with decrypt-ahead they left the socket. */
TEST_F(ahead, records_are_opened_ahead)
{
	unsigned long long before = ktls_counter("KtlsRxAheadRecords");
	unsigned char sent[3][1000], got[1000];

	for (int i = 0; i < 3; i++) {
		fill(sent[i], sizeof(sent[i]), i);
		ASSERT_EQ(send(self->a, sent[i], sizeof(sent[i]), 0), sizeof(sent[i]));
	}
	if (variant->ahead) {
		EXPECT_EQ(settle(self), 0);
		EXPECT_GE(ktls_counter("KtlsRxAheadRecords") - before, 3);
	} else {
		EXPECT_GT(settle(self), 0);
		EXPECT_EQ(ktls_counter("KtlsRxAheadRecords"), before);
	}
	for (int i = 0; i < 3; i++) {
		EXPECT_EQ(recv(self->b, got, sizeof(got), MSG_WAITALL), sizeof(got));
		EXPECT_EQ(memcmp(got, sent[i], sizeof(got)), 0);
	}
	EXPECT_EQ(recv(self->b, got, sizeof(got), MSG_DONTWAIT), -1);
	EXPECT_EQ(errno, EAGAIN);
}

/* At most four records are opened before a reader takes some; the rest wait on the socket. */
TEST_F(ahead, ahead_is_bounded)
{
	unsigned char sent[8][500], got[500];

	for (int i = 0; i < 8; i++) {
		fill(sent[i], sizeof(sent[i]), 10 + i);
		ASSERT_EQ(send(self->a, sent[i], sizeof(sent[i]), 0), sizeof(sent[i]));
	}
	EXPECT_GT(settle(self), 0);
	for (int i = 0; i < 8; i++) {
		EXPECT_EQ(recv(self->b, got, sizeof(got), MSG_WAITALL), sizeof(got));
		EXPECT_EQ(memcmp(got, sent[i], sizeof(got)), 0);
	}
}

/*
 * A stream of records of random sizes, read in random amounts while more arrive: every byte once,
 * in order (DTLS: every datagram whole, in order, on this loopback pair).
 */
TEST_F(ahead, order_with_interleaved_reads)
{
	static unsigned char sent[200 * 4096], got[200 * 4096];
	size_t total = 0, received = 0, max = self->dtls ? 1200 : 4096;
	unsigned int seed = 12345;

	fill(sent, sizeof(sent), 99);
	for (int i = 0; i < 200; i++) {
		size_t len = 1 + rand_r(&seed) % max;

		ASSERT_EQ(send(self->a, sent + total, len, 0), len);
		total += len;
		if (self->dtls) {
			/* Keep the UDP receive buffer from dropping any: read every second one. */
			while (i % 2 == 1 && received < total) {
				ssize_t n = recv(self->b, got + received, max, 0);

				ASSERT_GT(n, 0);
				received += n;
			}
		} else if (rand_r(&seed) % 3 == 0) {
			size_t want = 1 + rand_r(&seed) % (total - received);
			ssize_t n = recv(self->b, got + received, want, 0);

			ASSERT_GT(n, 0);
			received += n;
		}
	}
	while (received < total) {
		ssize_t n = recv(self->b, got + received, total - received, 0);

		ASSERT_GT(n, 0);
		received += n;
	}
	EXPECT_EQ(received, total);
	EXPECT_EQ(memcmp(got, sent, total), 0);
}

static ssize_t send_type(int fd, unsigned char type, const void *data, size_t len)
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
	return sendmsg(fd, &msg, 0);
}

static ssize_t recv_type(int fd, unsigned char *type, void *data, size_t len)
{
	char cbuf[CMSG_SPACE(1)] = { 0 };
	struct iovec iov = { .iov_base = data, .iov_len = len };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	ssize_t n = recvmsg(fd, &msg, 0);
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);

	*type = n >= 0 && cmsg ? *CMSG_DATA(cmsg) : 0;
	return n;
}

/*
 * Decrypt-ahead stops at a control record: what follows one (new keys, after a KeyUpdate) is the
 * application's to decide, so the next record stays on the socket until the control record is
 * read. The control record still needs a cmsg (EIO without one), and stays queued meanwhile.
 */
TEST_F(ahead, control_record_stops_ahead)
{
	unsigned char alert[2] = { 1, 0 }, buf[64], type;

	ASSERT_EQ(send(self->a, "one", 3, 0), 3);
	ASSERT_EQ(send_type(self->a, KTLS_RECORD_ALERT, alert, sizeof(alert)), sizeof(alert));
	ASSERT_EQ(send(self->a, "two", 3, 0), 3);
	EXPECT_GT(settle(self), 0);

	EXPECT_EQ(recv(self->b, buf, sizeof(buf), 0), 3);
	EXPECT_EQ(memcmp(buf, "one", 3), 0);
	EXPECT_EQ(recv(self->b, buf, sizeof(buf), 0), -1);
	EXPECT_EQ(errno, EIO);
	EXPECT_EQ(recv_type(self->b, &type, buf, sizeof(buf)), 2);
	EXPECT_EQ(type, KTLS_RECORD_ALERT);
	EXPECT_EQ(memcmp(buf, alert, 2), 0);
	EXPECT_EQ(recv_type(self->b, &type, buf, sizeof(buf)), 3);
	EXPECT_EQ(type, KTLS_RECORD_APPLICATION_DATA);
	EXPECT_EQ(memcmp(buf, "two", 3), 0);
}

/*
 * TLS: a record that fails authentication breaks the stream, but the records before it are
 * delivered first, then the error, sticky, with POLLERR. Decrypt-ahead meets the error early.
 */
TEST_F(ahead, error_comes_after_the_records_before_it)
{
	unsigned char sent[2][700], got[2000], forged[5 + 8 + 32 + 16];
	struct pollfd pfd = { .fd = self->b, .events = POLLIN };

	if (self->dtls)
		SKIP(return, "DTLS drops forged records (dtls_selftest)");
	for (int i = 0; i < 2; i++) {
		fill(sent[i], sizeof(sent[i]), 20 + i);
		ASSERT_EQ(send(self->a, sent[i], sizeof(sent[i]), 0), sizeof(sent[i]));
	}
	/* A well-framed application-data record whose body is noise, written under AF_KTLS. */
	fill(forged, sizeof(forged), 7);
	forged[0] = KTLS_RECORD_APPLICATION_DATA;
	forged[1] = 3;
	forged[2] = 3;
	forged[3] = 0;
	forged[4] = sizeof(forged) - 5;
	ASSERT_EQ(send(self->raw[0], forged, sizeof(forged), 0), sizeof(forged));
	/*
	 * Ahead, the good records are taken; the forged one stays where it failed, or, with an
	 * asynchronous transform (the VM suite's force_cryptd run), is taken too, in flight.
	 */
	if (variant->ahead) {
		int left = settle(self);

		EXPECT_TRUE(left == sizeof(forged) || left == 0);
	} else {
		EXPECT_GT(settle(self), sizeof(forged));
	}

	EXPECT_EQ(poll(&pfd, 1, 0), 1);
	EXPECT_TRUE(pfd.revents & POLLIN);
	EXPECT_EQ(recv(self->b, got, sizeof(got), 0), 1400);
	EXPECT_EQ(memcmp(got, sent[0], 700), 0);
	EXPECT_EQ(memcmp(got + 700, sent[1], 700), 0);
	EXPECT_EQ(recv(self->b, got, sizeof(got), 0), -1);
	EXPECT_EQ(errno, EBADMSG);
	EXPECT_EQ(poll(&pfd, 1, 0), 1);
	EXPECT_TRUE(pfd.revents & POLLERR);
	EXPECT_EQ(recv(self->b, got, sizeof(got), MSG_DONTWAIT), -1);
	EXPECT_EQ(errno, EBADMSG);
}

/*
 * poll and edge-triggered epoll see a record as soon as it is whole, opened or not; a reader
 * that takes one record and leaves the next leaves POLLIN set and raises a new edge; once all
 * is read, POLLIN clears.
 */
TEST_F(ahead, poll_sees_records_opened_ahead)
{
	struct pollfd pfd = { .fd = self->b, .events = POLLIN };
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET }, out[4];
	unsigned char buf[100];
	int ep = epoll_create1(0);

	ASSERT_GE(ep, 0);
	ev.data.fd = self->b;
	ASSERT_EQ(epoll_ctl(ep, EPOLL_CTL_ADD, self->b, &ev), 0);
	EXPECT_EQ(epoll_wait(ep, out, 4, 0), 0);

	fill(buf, sizeof(buf), 30);
	ASSERT_EQ(send(self->a, buf, sizeof(buf), 0), sizeof(buf));
	EXPECT_EQ(epoll_wait(ep, out, 4, SETTLE_MS), 1);
	ASSERT_EQ(send(self->a, buf, sizeof(buf), 0), sizeof(buf));
	settle(self);
	EXPECT_EQ(poll(&pfd, 1, 0), 1);
	while (epoll_wait(ep, out, 4, 0) > 0)
		;

	/* Exactly one record's room: the second stays queued. */
	EXPECT_EQ(recv(self->b, buf, sizeof(buf), 0), sizeof(buf));
	EXPECT_EQ(poll(&pfd, 1, 0), 1);
	EXPECT_TRUE(pfd.revents & POLLIN);
	EXPECT_EQ(epoll_wait(ep, out, 4, 0), 1);
	EXPECT_EQ(recv(self->b, buf, sizeof(buf), 0), sizeof(buf));
	EXPECT_EQ(poll(&pfd, 1, 0), 0);
	close(ep);
}

/* MSG_PEEK sees records opened ahead, and across records (TLS); they are then read again. */
TEST_F(ahead, peek_across_records)
{
	unsigned char buf[16];

	ASSERT_EQ(send(self->a, "aaa", 3, 0), 3);
	ASSERT_EQ(send(self->a, "bbb", 3, 0), 3);
	ASSERT_EQ(send(self->a, "ccc", 3, 0), 3);
	settle(self);
	if (self->dtls) {
		EXPECT_EQ(recv(self->b, buf, sizeof(buf), MSG_PEEK), 3);
		EXPECT_EQ(memcmp(buf, "aaa", 3), 0);
	} else {
		EXPECT_EQ(recv(self->b, buf, 9, MSG_PEEK | MSG_WAITALL), 9);
		EXPECT_EQ(memcmp(buf, "aaabbbccc", 9), 0);
		EXPECT_EQ(recv(self->b, buf, 5, MSG_PEEK), 5);
		EXPECT_EQ(memcmp(buf, "aaabb", 5), 0);
	}
	EXPECT_EQ(recv(self->b, buf, 3, 0), 3);
	EXPECT_EQ(memcmp(buf, "aaa", 3), 0);
	EXPECT_EQ(recv(self->b, buf, 3, 0), 3);
	EXPECT_EQ(memcmp(buf, "bbb", 3), 0);
	EXPECT_EQ(recv(self->b, buf, 3, 0), 3);
	EXPECT_EQ(memcmp(buf, "ccc", 3), 0);
}

/* Turning decrypt-ahead off or on while records arrive changes neither order nor content. */
TEST_F(ahead, toggled_while_records_arrive)
{
	static unsigned char sent[64 * 1000], got[64 * 1000];
	size_t received = 0;

	fill(sent, sizeof(sent), 40);
	for (int i = 0; i < 64; i++) {
		int on = (i + variant->ahead) % 2;

		ASSERT_EQ(setsockopt(self->b, SOL_KTLS, KTLS_RX_DECRYPT_AHEAD, &on, sizeof(on)), 0);
		ASSERT_EQ(send(self->a, sent + i * 1000, 1000, 0), 1000);
		if (i % 4 == 3) {
			while (received < (size_t)(i + 1) * 1000) {
				ssize_t n = recv(self->b, got + received, 1000, 0);

				ASSERT_GT(n, 0);
				received += n;
			}
		}
	}
	EXPECT_EQ(received, sizeof(sent));
	EXPECT_EQ(memcmp(got, sent, sizeof(sent)), 0);
}

/*
 * Closing the AF_KTLS socket while records arrive and the work item may be queued or running,
 * many times: no crash, no leak (the VM suite checks the kernel log and kmemleak), and the bound
 * socket works normally for userspace afterwards.
 */
TEST_F(ahead, close_while_records_arrive)
{
	unsigned char buf[2000];

	for (int i = 0; i < 50; i++) {
		ahead_close(self);
		ahead_open(_metadata, self, variant);
		fill(buf, sizeof(buf), i);
		for (int r = 0; r < 3; r++)
			ASSERT_EQ(send(self->a, buf, 300 + 100 * r, 0), 300 + 100 * r);
		if (i % 2)
			ktls_sleep_ms(1);
		close(self->b);
		self->b = -1;
		/* The bound socket is the application's again: plain data goes through it. */
		ASSERT_EQ(send(self->raw[1], "plain", 5, 0), 5);
		if (self->dtls) {
			/* raw[0] is still bound to the sender, which does not read: peek at it. */
			EXPECT_GT(recv(self->raw[0], buf, sizeof(buf), MSG_PEEK), 0);
		} else {
			struct pollfd pfd = { .fd = self->raw[0], .events = POLLIN };

			EXPECT_EQ(poll(&pfd, 1, SETTLE_MS), 1);
			EXPECT_EQ(recv(self->raw[0], buf, sizeof(buf), 0), 5);
			EXPECT_EQ(memcmp(buf, "plain", 5), 0);
		}
	}
}

/* The option: an int, 0 or 1, read back; before bind too. */
TEST(option_values)
{
	int s = socket(AF_KTLS, SOCK_STREAM, 0), value = -1;
	socklen_t len = sizeof(value);

	ASSERT_GE(s, 0);
	EXPECT_EQ(getsockopt(s, SOL_KTLS, KTLS_RX_DECRYPT_AHEAD, &value, &len), 0);
	EXPECT_EQ(value, 1);
	EXPECT_EQ(setsockopt(s, SOL_KTLS, KTLS_RX_DECRYPT_AHEAD, &(int){ 0 }, sizeof(int)), 0);
	EXPECT_EQ(getsockopt(s, SOL_KTLS, KTLS_RX_DECRYPT_AHEAD, &value, &len), 0);
	EXPECT_EQ(value, 0);
	EXPECT_EQ(setsockopt(s, SOL_KTLS, KTLS_RX_DECRYPT_AHEAD, &(int){ 2 }, sizeof(int)), -1);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_EQ(setsockopt(s, SOL_KTLS, KTLS_RX_DECRYPT_AHEAD, &(int){ -1 }, sizeof(int)), -1);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_EQ(setsockopt(s, SOL_KTLS, KTLS_RX_DECRYPT_AHEAD, &(short){ 1 }, sizeof(short)), -1);
	EXPECT_EQ(errno, EINVAL);
	len = 2;
	EXPECT_EQ(getsockopt(s, SOL_KTLS, KTLS_RX_DECRYPT_AHEAD, &value, &len), -1);
	EXPECT_EQ(errno, EINVAL);
	close(s);
}

TEST_HARNESS_MAIN
