// SPDX-License-Identifier: GPL-2.0
/*
 * DTLS 1.2 counterparts of mainline's kTLS selftest (which has no DTLS): the record layer over
 * a connected UDP pair, for every cipher.
 *
 * fixture dtls:      both ends bound, keys set both ways (epoch 1, sequence 0); the ordinary
 *                    calls (one record per datagram, per recv), as tls_selftest.c does for TLS.
 * fixture dtls_wire: only the sender is bound at first. Its datagrams are captured on the
 *                    receiver's plain UDP socket, then the receiver binds and the test replays,
 *                    drops, reorders, duplicates, truncates or re-frames them into it through
 *                    the sender's UDP socket. Drops are counted in /proc/net/af_ktls.
 *
 * data_test.c covers the first of these with AES-128-GCM (replay, forgery, foreign epoch,
 * garbage, window jump, two records per datagram, MTU); this file checks them for every cipher
 * and adds loss, the window's edges, truncation and authentic records of other epochs.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <sys/socket.h>
#include <sys/uio.h>

#include "kselftest_harness.h"

#define KTLS_TEST_WITH_OPENSSL
#include "ktls_test.h"

#define DTLS KTLS_VERSION_DTLS_1_2
#define EPOCH1 (1ULL << 48)
#define DTLS_HDR_LEN 13

FIXTURE(dtls)
{
	int a, b, udp[2];
	uint16_t cipher;
};

FIXTURE_VARIANT(dtls)
{
	uint16_t cipher;
};

FIXTURE_VARIANT_ADD(dtls, aes_gcm)
{
	.cipher = KTLS_CIPHER_AES_GCM_128,
};

FIXTURE_VARIANT_ADD(dtls, aes_gcm_256)
{
	.cipher = KTLS_CIPHER_AES_GCM_256,
};

FIXTURE_VARIANT_ADD(dtls, chacha)
{
	.cipher = KTLS_CIPHER_CHACHA20_POLY1305,
};

FIXTURE_SETUP(dtls)
{
	struct ktls_keys k0, k1;

	self->cipher = variant->cipher;
	ktls_inet_pair(SOCK_DGRAM, self->udp);
	self->a = ktls_bind(self->udp[0], DTLS, variant->cipher);
	self->b = ktls_bind(self->udp[1], DTLS, variant->cipher);
	ktls_keys_init(&k0, DTLS, variant->cipher, 0, EPOCH1);
	ktls_keys_init(&k1, DTLS, variant->cipher, 1, EPOCH1);
	ASSERT_EQ(ktls_set_keys(self->a, KTLS_TX, &k0), 0);
	ASSERT_EQ(ktls_set_keys(self->b, KTLS_RX, &k0), 0);
	ASSERT_EQ(ktls_set_keys(self->b, KTLS_TX, &k1), 0);
	ASSERT_EQ(ktls_set_keys(self->a, KTLS_RX, &k1), 0);
}

FIXTURE_TEARDOWN(dtls)
{
	close(self->a);
	close(self->b);
	close(self->udp[0]);
	close(self->udp[1]);
}

static int send_type(int fd, unsigned char type, const void *data, size_t len, int flags)
{
	char cbuf[CMSG_SPACE(1)];
	struct iovec iov = { (void *)data, len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			      .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);

	cmsg->cmsg_level = SOL_KTLS;
	cmsg->cmsg_type = KTLS_SET_RECORD_TYPE;
	cmsg->cmsg_len = CMSG_LEN(1);
	*CMSG_DATA(cmsg) = type;
	return sendmsg(fd, &msg, flags);
}

/* recvmsg with room for the record type; *type is 0 when no cmsg came back. */
static ssize_t recv_type(int fd, unsigned char *type, void *data, size_t len, int flags,
			 int *msg_flags)
{
	char cbuf[CMSG_SPACE(1)];
	struct iovec iov = { data, len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			      .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cmsg;
	ssize_t n;

	memset(cbuf, 0, sizeof(cbuf));
	*type = 0;
	n = recvmsg(fd, &msg, flags);
	if (n < 0)
		return n;
	cmsg = CMSG_FIRSTHDR(&msg);
	if (cmsg && cmsg->cmsg_level == SOL_KTLS && cmsg->cmsg_type == KTLS_GET_RECORD_TYPE)
		*type = *CMSG_DATA(cmsg);
	if (msg_flags)
		*msg_flags = msg.msg_flags;
	return n;
}

/* Each send is one record in one datagram; each recv returns one record, never two. */
TEST_F(dtls, one_record_per_recv)
{
	char buf[64];

	EXPECT_EQ(send(self->a, "first", 5, 0), 5);
	EXPECT_EQ(send(self->a, "second", 6, 0), 6);
	EXPECT_EQ(recv(self->b, buf, sizeof(buf), 0), 5);
	EXPECT_EQ(memcmp(buf, "first", 5), 0);
	EXPECT_EQ(recv(self->b, buf, sizeof(buf), MSG_WAITALL), 6);
	EXPECT_EQ(memcmp(buf, "second", 6), 0);
	EXPECT_EQ(recv(self->b, buf, sizeof(buf), MSG_DONTWAIT), -1);
	EXPECT_EQ(errno, EAGAIN);
}

TEST_F(dtls, bidir)
{
	char buf[16];

	EXPECT_EQ(send(self->a, "a to b", 6, 0), 6);
	EXPECT_EQ(send(self->b, "b to a", 6, 0), 6);
	EXPECT_EQ(recv(self->b, buf, sizeof(buf), 0), 6);
	EXPECT_EQ(memcmp(buf, "a to b", 6), 0);
	EXPECT_EQ(recv(self->a, buf, sizeof(buf), 0), 6);
	EXPECT_EQ(memcmp(buf, "b to a", 6), 0);
}

/* The largest record (2^14 bytes) fits one datagram once the MTU allows it. */
TEST_F(dtls, recv_max)
{
	static unsigned char out[16384], in[16384 + 100];
	uint32_t mtu = 65507;

	ktls_pattern(out, sizeof(out), 1);
	ASSERT_EQ(setsockopt(self->a, SOL_KTLS, KTLS_DTLS_MTU, &mtu, sizeof(mtu)), 0);
	EXPECT_EQ(send(self->a, out, sizeof(out), 0), sizeof(out));
	EXPECT_EQ(recv(self->b, in, sizeof(in), 0), sizeof(out));
	EXPECT_EQ(memcmp(in, out, sizeof(out)), 0);
}

/* An iovec array is gathered into one record. */
TEST_F(dtls, sendmsg_fragmented)
{
	struct iovec vec[16];
	struct msghdr msg = { .msg_iov = vec, .msg_iovlen = 16 };
	char buf[16 * 13 + 1];

	for (int i = 0; i < 16; i++)
		vec[i] = (struct iovec){ "test_sendmsg", 13 };
	EXPECT_EQ(sendmsg(self->a, &msg, 0), 16 * 13);
	EXPECT_EQ(recv(self->b, buf, sizeof(buf), 0), 16 * 13);
	for (int i = 0; i < 16; i++)
		EXPECT_EQ(memcmp(buf + 13 * i, "test_sendmsg", 13), 0);
}

/* A short buffer truncates the record as UDP truncates a datagram: the rest is gone. */
TEST_F(dtls, recv_truncates)
{
	unsigned char out[300], in[300];
	int flags = 0;
	unsigned char type;

	ktls_pattern(out, sizeof(out), 2);
	EXPECT_EQ(send(self->a, out, sizeof(out), 0), sizeof(out));
	EXPECT_EQ(send(self->a, "next", 4, 0), 4);
	EXPECT_EQ(recv_type(self->b, &type, in, 100, 0, &flags), 100);
	EXPECT_TRUE(flags & MSG_TRUNC);
	EXPECT_EQ(memcmp(in, out, 100), 0);
	EXPECT_EQ(recv_type(self->b, &type, in, sizeof(in), 0, &flags), 4);
	EXPECT_FALSE(flags & MSG_TRUNC);
	EXPECT_EQ(memcmp(in, "next", 4), 0);
}

TEST_F(dtls, recv_peek)
{
	char buf[32];

	EXPECT_EQ(send(self->a, "peek at me", 10, 0), 10);
	EXPECT_EQ(recv(self->b, buf, sizeof(buf), MSG_PEEK), 10);
	EXPECT_EQ(memcmp(buf, "peek at me", 10), 0);
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(recv(self->b, buf, sizeof(buf), MSG_PEEK), 10);
	EXPECT_EQ(recv(self->b, buf, sizeof(buf), 0), 10);
	EXPECT_EQ(memcmp(buf, "peek at me", 10), 0);
	EXPECT_EQ(recv(self->b, buf, sizeof(buf), MSG_DONTWAIT), -1);
	EXPECT_EQ(errno, EAGAIN);
}

/* An alert is returned alone with its type; without room for the type it is EIO and stays. */
TEST_F(dtls, control_msg)
{
	unsigned char alert[2] = { 1, 0 }, type;
	char buf[16];

	EXPECT_EQ(send(self->a, "data", 4, 0), 4);
	EXPECT_EQ(send_type(self->a, KTLS_RECORD_ALERT, alert, sizeof(alert), 0), 2);
	EXPECT_EQ(send_type(self->a, KTLS_RECORD_ALERT, alert, sizeof(alert), MSG_MORE), -1);
	EXPECT_EQ(errno, EINVAL);

	EXPECT_EQ(recv_type(self->b, &type, buf, sizeof(buf), 0, NULL), 4);
	EXPECT_EQ(type, KTLS_RECORD_APPLICATION_DATA);
	EXPECT_EQ(recv(self->b, buf, sizeof(buf), 0), -1);
	EXPECT_EQ(errno, EIO);
	EXPECT_EQ(recv_type(self->b, &type, buf, sizeof(buf), MSG_PEEK, NULL), 2);
	EXPECT_EQ(type, KTLS_RECORD_ALERT);
	EXPECT_EQ(recv_type(self->b, &type, buf, sizeof(buf), 0, NULL), 2);
	EXPECT_EQ(type, KTLS_RECORD_ALERT);
	EXPECT_EQ(memcmp(buf, alert, 2), 0);
}

TEST_F(dtls, pollin)
{
	struct pollfd pfd = { .fd = self->b, .events = POLLIN };
	char buf[16];

	EXPECT_EQ(poll(&pfd, 1, 0), 0);
	EXPECT_EQ(send(self->a, "poll", 4, 0), 4);
	EXPECT_EQ(poll(&pfd, 1, 1000), 1);
	EXPECT_TRUE(pfd.revents & POLLIN);
	EXPECT_EQ(recv(self->b, buf, sizeof(buf), 0), 4);
	EXPECT_EQ(poll(&pfd, 1, 20), 0);
}

TEST_F(dtls, timeo)
{
	struct timeval tv = { .tv_usec = 100 * 1000 };
	long long t0;
	char buf[16];

	ASSERT_EQ(setsockopt(self->b, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	t0 = ktls_now_ms();
	EXPECT_EQ(recv(self->b, buf, sizeof(buf), 0), -1);
	EXPECT_EQ(errno, EAGAIN);
	EXPECT_GE(ktls_now_ms() - t0, 80);
}

/* Records never exceed the MTU; the payload limit shrinks them further. */
TEST_F(dtls, mtu_and_payload_limit)
{
	static unsigned char out[5000], raw[70000];
	const uint32_t mtus[] = { 128, 200, 577, 1400, 9000, 65507 };
	uint16_t max_payload = 1000;

	/* Stop b reading: this test looks at the datagrams on its UDP socket. */
	close(self->b);
	self->b = -1;
	ktls_pattern(out, sizeof(out), 3);
	for (size_t m = 0; m < ARRAY_SIZE(mtus); m++) {
		uint32_t mtu = mtus[m];
		size_t got = 0;

		ASSERT_EQ(setsockopt(self->a, SOL_KTLS, KTLS_DTLS_MTU, &mtu, sizeof(mtu)), 0);
		EXPECT_EQ(send(self->a, out, sizeof(out), 0), sizeof(out));
		while (got < sizeof(out)) {
			ssize_t n = recv(self->udp[1], raw, sizeof(raw), MSG_DONTWAIT);

			ASSERT_GT(n, DTLS_HDR_LEN);
			EXPECT_LE(n, mtu);
			/* One record per datagram: its length field covers the rest. */
			EXPECT_EQ((raw[11] << 8 | raw[12]) + DTLS_HDR_LEN, n);
			got += n - DTLS_HDR_LEN - 16 -
			       (self->cipher == KTLS_CIPHER_CHACHA20_POLY1305 ? 0 : 8);
		}
		EXPECT_EQ(got, sizeof(out));
	}
	ASSERT_EQ(setsockopt(self->a, SOL_KTLS, KTLS_TX_MAX_PAYLOAD_LEN, &max_payload,
			     sizeof(max_payload)), 0);
	EXPECT_EQ(send(self->a, out, sizeof(out), 0), sizeof(out));
	for (int i = 0; i < 5; i++) {
		ssize_t n = recv(self->udp[1], raw, sizeof(raw), MSG_DONTWAIT);
		size_t overhead = DTLS_HDR_LEN + 16 +
				  (self->cipher == KTLS_CIPHER_CHACHA20_POLY1305 ? 0 : 8);

		EXPECT_EQ(n, 1000 + overhead);
	}
	EXPECT_EQ(recv(self->udp[1], raw, sizeof(raw), MSG_DONTWAIT), -1);
}

/* The sender bound, the receiver's UDP socket capturing. */
FIXTURE(dtls_wire)
{
	int a, b, udp[2];
	struct ktls_keys keys;
	unsigned char wire[80][96];
	ssize_t wire_len[80];
};

FIXTURE_VARIANT(dtls_wire)
{
	uint16_t cipher;
};

FIXTURE_VARIANT_ADD(dtls_wire, aes_gcm)
{
	.cipher = KTLS_CIPHER_AES_GCM_128,
};

FIXTURE_VARIANT_ADD(dtls_wire, aes_gcm_256)
{
	.cipher = KTLS_CIPHER_AES_GCM_256,
};

FIXTURE_VARIANT_ADD(dtls_wire, chacha)
{
	.cipher = KTLS_CIPHER_CHACHA20_POLY1305,
};

/* Captures 80 records "record 000".."record 079" as the receiver's UDP socket sees them. */
FIXTURE_SETUP(dtls_wire)
{
	char text[16];

	ktls_inet_pair(SOCK_DGRAM, self->udp);
	self->a = ktls_bind(self->udp[0], DTLS, variant->cipher);
	self->b = -1;
	ktls_keys_init(&self->keys, DTLS, variant->cipher, 0, EPOCH1);
	ASSERT_EQ(ktls_set_keys(self->a, KTLS_TX, &self->keys), 0);
	for (int i = 0; i < 80; i++) {
		snprintf(text, sizeof(text), "record %03d", i);
		ASSERT_EQ(send(self->a, text, 10, 0), 10);
		self->wire_len[i] = recv(self->udp[1], self->wire[i], sizeof(self->wire[i]), 0);
		ASSERT_GT(self->wire_len[i], DTLS_HDR_LEN + 10);
		ASSERT_EQ(self->wire[i][0], KTLS_RECORD_APPLICATION_DATA);
		ASSERT_EQ(ktls_get_be64(self->wire[i] + 3), EPOCH1 | (uint64_t)i);
	}
}

FIXTURE_TEARDOWN(dtls_wire)
{
	close(self->a);
	if (self->b >= 0)
		close(self->b);
	close(self->udp[0]);
	close(self->udp[1]);
}

/* Binds the receiver with the sender's keys, receiving from record `first` on. */
static void bind_receiver(struct __test_metadata *_metadata, FIXTURE_DATA(dtls_wire) *self,
			  uint64_t first)
{
	struct ktls_keys rx = self->keys;

	ktls_put_be64(ktls_key_fields(&rx).rec_seq, first);
	self->b = ktls_bind(self->udp[1], DTLS, rx.info.cipher_type);
	ASSERT_EQ(ktls_set_keys(self->b, KTLS_RX, &rx), 0);
}

static void inject(struct __test_metadata *_metadata, FIXTURE_DATA(dtls_wire) *self,
		   const void *bytes, size_t len)
{
	ASSERT_EQ(send(self->udp[0], bytes, len, 0), len);
}

/* Expects record `i` as the next thing to read (nothing but it). */
static void expect_record(struct __test_metadata *_metadata, FIXTURE_DATA(dtls_wire) *self,
			  int i)
{
	char want[16], buf[64];

	snprintf(want, sizeof(want), "record %03d", i);
	EXPECT_EQ(recv(self->b, buf, sizeof(buf), MSG_DONTWAIT), 10);
	EXPECT_EQ(memcmp(buf, want, 10), 0);
}

static void expect_nothing(struct __test_metadata *_metadata, FIXTURE_DATA(dtls_wire) *self)
{
	char buf[64];

	EXPECT_EQ(recv(self->b, buf, sizeof(buf), MSG_DONTWAIT), -1);
	EXPECT_EQ(errno, EAGAIN);
}

#define INJECT(i) inject(_metadata, self, self->wire[i], self->wire_len[i])
#define EXPECT_RECORD(i) expect_record(_metadata, self, i)
#define EXPECT_NOTHING() expect_nothing(_metadata, self)

/* A fresh window accepts sequence number 0; a window after 4 refuses 0..4 and takes 5. */
TEST_F(dtls_wire, sequence_zero_on_a_fresh_window)
{
	unsigned long long replayed;
	struct ktls_keys rx = self->keys;
	int c, pair[2];

	bind_receiver(_metadata, self, EPOCH1);
	INJECT(0);
	EXPECT_RECORD(0);

	/* The same datagrams into a receiver whose keys start at sequence 5. */
	ktls_inet_pair(SOCK_DGRAM, pair);
	ktls_put_be64(ktls_key_fields(&rx).rec_seq, EPOCH1 | 5);
	c = ktls_bind(pair[1], DTLS, rx.info.cipher_type);
	ASSERT_EQ(ktls_set_keys(c, KTLS_RX, &rx), 0);
	replayed = ktls_counter("KtlsRxReplayed");
	for (int i = 0; i <= 5; i++)
		ASSERT_EQ(send(pair[0], self->wire[i], self->wire_len[i], 0), self->wire_len[i]);
	{
		char buf[64];

		EXPECT_EQ(recv(c, buf, sizeof(buf), MSG_DONTWAIT), 10);
		EXPECT_EQ(memcmp(buf, "record 005", 10), 0);
		EXPECT_EQ(recv(c, buf, sizeof(buf), MSG_DONTWAIT), -1);
		EXPECT_EQ(errno, EAGAIN);
	}
	EXPECT_EQ(ktls_counter("KtlsRxReplayed") - replayed, 5);
	close(c);
	close(pair[0]);
	close(pair[1]);
}

/* Lost datagrams leave no gap the later ones wait for. */
TEST_F(dtls_wire, loss)
{
	bind_receiver(_metadata, self, EPOCH1);
	for (int i = 0; i < 12; i++)
		if (i != 3 && i != 7 && i != 8)
			INJECT(i);
	for (int i = 0; i < 12; i++)
		if (i != 3 && i != 7 && i != 8)
			EXPECT_RECORD(i);
	EXPECT_NOTHING();
	/* A lost record that turns up late, within the window, is still new. */
	INJECT(7);
	EXPECT_RECORD(7);
}

/*
 * Reordering: after record 69 the window holds 6..69 (64 numbers); every one of 68..6 arriving
 * late, backwards, is delivered; 5 is older than the window and dropped (KtlsRxReplayed).
 */
TEST_F(dtls_wire, reordering_within_the_window)
{
	unsigned long long replayed;

	bind_receiver(_metadata, self, EPOCH1);
	replayed = ktls_counter("KtlsRxReplayed");
	INJECT(69);
	EXPECT_RECORD(69);
	for (int i = 68; i >= 6; i--) {
		INJECT(i);
		EXPECT_RECORD(i);
	}
	INJECT(5);
	EXPECT_NOTHING();
	EXPECT_EQ(ktls_counter("KtlsRxReplayed") - replayed, 1);
	/* Everything in the window is now marked: all of it replays. */
	INJECT(6);
	INJECT(69);
	EXPECT_NOTHING();
	EXPECT_EQ(ktls_counter("KtlsRxReplayed") - replayed, 3);
}

/* Every duplicate is dropped and counted; the original is delivered once. */
TEST_F(dtls_wire, duplicates)
{
	unsigned long long replayed;

	bind_receiver(_metadata, self, EPOCH1);
	replayed = ktls_counter("KtlsRxReplayed");
	for (int i = 0; i < 5; i++) {
		INJECT(i);
		INJECT(i);
	}
	for (int i = 0; i < 5; i++)
		EXPECT_RECORD(i);
	EXPECT_NOTHING();
	INJECT(2);
	EXPECT_NOTHING();
	EXPECT_EQ(ktls_counter("KtlsRxReplayed") - replayed, 6);
}

/*
 * Records of other epochs are dropped and counted even when they authenticate: sealed here with
 * the same keys under epochs 0 and 2 (an epoch-0 plaintext retransmission, a record after a
 * renegotiation the socket was not told of). The window is not touched.
 */
TEST_F(dtls_wire, other_epochs)
{
	unsigned long long other = ktls_counter("KtlsRxOtherEpoch");
	unsigned char record[128];
	size_t len;

	bind_receiver(_metadata, self, EPOCH1);
	len = ktls_seal(&self->keys, 0ULL << 48 | 10, KTLS_RECORD_APPLICATION_DATA, "epoch zero", 10, 0,
			record);
	inject(_metadata, self, record, len);
	len = ktls_seal(&self->keys, 2ULL << 48 | 10, KTLS_RECORD_APPLICATION_DATA, "epoch two!", 10, 0,
			record);
	inject(_metadata, self, record, len);
	EXPECT_NOTHING();
	EXPECT_EQ(ktls_counter("KtlsRxOtherEpoch") - other, 2);
	/* The same sequence number in the right epoch is new. */
	INJECT(10);
	EXPECT_RECORD(10);
	/* The userspace sealer and the kernel agree: an epoch-1 record sealed here is read. */
	len = ktls_seal(&self->keys, EPOCH1 | 11, KTLS_RECORD_APPLICATION_DATA, "record 011", 10, 0,
			record);
	EXPECT_EQ(len, self->wire_len[11]);
	inject(_metadata, self, record, len);
	EXPECT_RECORD(11);
}

/* A datagram cut short (inside the tag, inside the header) is dropped; later ones arrive. */
TEST_F(dtls_wire, truncated_datagram)
{
	unsigned long long malformed;

	bind_receiver(_metadata, self, EPOCH1);
	malformed = ktls_counter("KtlsRxMalformed");
	inject(_metadata, self, self->wire[0], self->wire_len[0] - 1);
	inject(_metadata, self, self->wire[1], DTLS_HDR_LEN - 2);
	inject(_metadata, self, self->wire[2], DTLS_HDR_LEN);
	EXPECT_NOTHING();
	EXPECT_EQ(ktls_counter("KtlsRxMalformed") - malformed, 3);
	/* The window did not move: the whole records are still new. */
	INJECT(0);
	INJECT(1);
	INJECT(2);
	EXPECT_RECORD(0);
	EXPECT_RECORD(1);
	EXPECT_RECORD(2);
}

/*
 * Several records in one datagram: each recv returns one. When the last one is cut short, the
 * ones before it still arrive and only it is dropped.
 */
TEST_F(dtls_wire, several_records_per_datagram)
{
	unsigned char datagram[96 * 4];
	unsigned long long malformed;
	size_t len = 0;

	bind_receiver(_metadata, self, EPOCH1);
	for (int i = 0; i < 4; i++) {
		memcpy(datagram + len, self->wire[i], self->wire_len[i]);
		len += self->wire_len[i];
	}
	inject(_metadata, self, datagram, len);
	for (int i = 0; i < 4; i++)
		EXPECT_RECORD(i);
	EXPECT_NOTHING();

	malformed = ktls_counter("KtlsRxMalformed");
	len = 0;
	for (int i = 4; i < 7; i++) {
		memcpy(datagram + len, self->wire[i], self->wire_len[i]);
		len += self->wire_len[i];
	}
	inject(_metadata, self, datagram, len - 5);
	EXPECT_RECORD(4);
	EXPECT_RECORD(5);
	EXPECT_NOTHING();
	EXPECT_EQ(ktls_counter("KtlsRxMalformed") - malformed, 1);
}

/*
 * DTLS epoch change (Documentation/af_ktls.md, "Long-lived connections"): the sender moves to
 * epoch 2, and datagrams are reordered around the receiver's switch. Before it, epoch-2 records
 * are dropped (their keys are not there yet); after it, epoch-1 records are; within epoch 2 the
 * fresh replay window takes reordering and refuses a duplicate. A key structure for any epoch
 * but the next is EINVAL, both ways.
 */
TEST_F(dtls_wire, epoch_change_with_reordering)
{
	unsigned char next[4][96];
	ssize_t next_len[4];
	struct ktls_keys k2, k3;
	unsigned long long other, replayed;
	char text[16];

	ktls_keys_init(&k2, DTLS, variant->cipher, 1, 2ULL << 48);
	ktls_keys_init(&k3, DTLS, variant->cipher, 2, 3ULL << 48);
	EXPECT_EQ(ktls_set_keys(self->a, KTLS_TX, &k3), -1);
	EXPECT_EQ(errno, EINVAL);
	ASSERT_EQ(ktls_set_keys(self->a, KTLS_TX, &k2), 0);
	for (int i = 0; i < 4; i++) {
		snprintf(text, sizeof(text), "record %03d", 100 + i);
		ASSERT_EQ(send(self->a, text, 10, 0), 10);
		next_len[i] = recv(self->udp[1], next[i], sizeof(next[i]), 0);
		ASSERT_GT(next_len[i], DTLS_HDR_LEN + 10);
		ASSERT_EQ(ktls_get_be64(next[i] + 3), (2ULL << 48) | (uint64_t)i);
	}

	bind_receiver(_metadata, self, EPOCH1);
	other = ktls_counter("KtlsRxOtherEpoch");
	replayed = ktls_counter("KtlsRxReplayed");
	INJECT(0);
	inject(_metadata, self, next[0], next_len[0]);
	INJECT(1);
	EXPECT_RECORD(0);
	EXPECT_RECORD(1);
	EXPECT_NOTHING();
	EXPECT_EQ(ktls_counter("KtlsRxOtherEpoch"), other + 1);

	EXPECT_EQ(ktls_set_keys(self->b, KTLS_RX, &k3), -1);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_EQ(ktls_set_keys(self->b, KTLS_RX, &self->keys), -1);
	EXPECT_EQ(errno, EINVAL);
	ASSERT_EQ(ktls_set_keys(self->b, KTLS_RX, &k2), 0);

	INJECT(2);
	inject(_metadata, self, next[1], next_len[1]);
	inject(_metadata, self, next[0], next_len[0]);
	inject(_metadata, self, next[1], next_len[1]);
	inject(_metadata, self, next[3], next_len[3]);
	EXPECT_RECORD(101);
	EXPECT_RECORD(100);
	EXPECT_RECORD(103);
	EXPECT_NOTHING();
	EXPECT_EQ(ktls_counter("KtlsRxOtherEpoch"), other + 2);
	EXPECT_EQ(ktls_counter("KtlsRxReplayed"), replayed + 1);
}

TEST_HARNESS_MAIN
