// SPDX-License-Identifier: GPL-2.0
/*
 * AF_KTLS data path through <linux/ktls.h>, as a C application uses it: bind and key errors,
 * loopback TCP and UDP transfers between two AF_KTLS sockets with matching fixed keys, and TLS
 * records checked against mainline kernel TLS (the "tls" TCP ULP) as an independent peer.
 */
#define _GNU_SOURCE /* gettid() */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/ktls.h>
#include <linux/tls.h>

/* The helpers shared with the other C tests; a failed set-up step fails the cmocka test. */
#define KTLS_REQUIRE(cond) assert_true(cond)
#include "ktls_test.h"

#ifndef SOL_TLS
#define SOL_TLS 282
#endif
#ifndef TCP_ULP
#define TCP_ULP 31
#endif

/* Fixed key material: direction 0 and 1 get different keys. */
static void fill_keys(struct ktls_crypto_info_aes_gcm_128 *info, uint16_t version, int direction,
		      uint64_t first_seq)
{
	memset(info, 0, sizeof(*info));
	info->info.version = version;
	info->info.cipher_type = KTLS_CIPHER_AES_GCM_128;
	for (int i = 0; i < 16; i++)
		info->key[i] = (unsigned char)(0x10 * direction + i);
	for (int i = 0; i < 4; i++)
		info->salt[i] = (unsigned char)(0xa0 + direction + i);
	for (int i = 0; i < 8; i++)
		info->iv[i] = (unsigned char)(0x50 + direction + i);
	for (int i = 0; i < 8; i++)
		info->rec_seq[7 - i] = (unsigned char)(first_seq >> (8 * i));
}

static void set_keys(int s, uint16_t version, int tx_direction)
{
	struct ktls_crypto_info_aes_gcm_128 tx, rx;

	/* DTLS: epoch 1, sequence 0. */
	uint64_t first = version == KTLS_VERSION_DTLS_1_2 ? (1ULL << 48) : 0;

	fill_keys(&tx, version, tx_direction, first);
	fill_keys(&rx, version, !tx_direction, first);
	assert_int_equal(setsockopt(s, SOL_KTLS, KTLS_TX, &tx, sizeof(tx)), 0);
	assert_int_equal(setsockopt(s, SOL_KTLS, KTLS_RX, &rx, sizeof(rx)), 0);
}

/* Sends `len` bytes from a to b and checks them, reading in chunks. */
static void transfer(int a, int b, size_t len, size_t chunk, unsigned seed, int datagram)
{
	unsigned char *out = malloc(len), *in = malloc(len);
	size_t sent = 0, got = 0;

	ktls_pattern(out, len, seed);
	while (sent < len) {
		size_t n = len - sent < chunk ? len - sent : chunk;
		ssize_t r = send(a, out + sent, n, 0);

		assert_true(r > 0);
		sent += (size_t)r;
		/* Datagrams: read each right away, so the UDP receive queue never overflows. */
		while (datagram && got < sent) {
			ssize_t g = recv(b, in + got, len - got, 0);

			assert_true(g > 0);
			got += (size_t)g;
		}
	}
	while (got < len) {
		ssize_t r = recv(b, in + got, len - got, 0);

		assert_true(r > 0);
		got += (size_t)r;
	}
	assert_memory_equal(out, in, len);
	free(out);
	free(in);
}

static void tls12_loopback_both_ways(void **state)
{
	(void)state;
	int tcp[2];

	ktls_inet_pair(SOCK_STREAM, tcp);
	int a = ktls_bind(tcp[0], KTLS_VERSION_TLS_1_2, KTLS_CIPHER_AES_GCM_128);
	int b = ktls_bind(tcp[1], KTLS_VERSION_TLS_1_2, KTLS_CIPHER_AES_GCM_128);

	set_keys(a, KTLS_VERSION_TLS_1_2, 0);
	set_keys(b, KTLS_VERSION_TLS_1_2, 1);
	transfer(a, b, 100000, 7000, 1, 0);
	transfer(b, a, 100000, 16384, 2, 0);
	transfer(a, b, 1, 1, 3, 0);
	close(a);
	close(b);
	close(tcp[0]);
	close(tcp[1]);
}

static void tls13_loopback_both_ways(void **state)
{
	(void)state;
	int tcp[2];

	ktls_inet_pair(SOCK_STREAM, tcp);
	int a = ktls_bind(tcp[0], KTLS_VERSION_TLS_1_3, KTLS_CIPHER_AES_GCM_128);
	int b = ktls_bind(tcp[1], KTLS_VERSION_TLS_1_3, KTLS_CIPHER_AES_GCM_128);

	set_keys(a, KTLS_VERSION_TLS_1_3, 0);
	set_keys(b, KTLS_VERSION_TLS_1_3, 1);
	transfer(a, b, 70000, 5000, 4, 0);
	transfer(b, a, 70000, 20000, 5, 0);
	close(a);
	close(b);
	close(tcp[0]);
	close(tcp[1]);
}

static void dtls12_loopback_both_ways(void **state)
{
	(void)state;
	int udp[2];

	ktls_inet_pair(SOCK_DGRAM, udp);
	int a = ktls_bind(udp[0], KTLS_VERSION_DTLS_1_2, KTLS_CIPHER_AES_GCM_128);
	int b = ktls_bind(udp[1], KTLS_VERSION_DTLS_1_2, KTLS_CIPHER_AES_GCM_128);

	set_keys(a, KTLS_VERSION_DTLS_1_2, 0);
	set_keys(b, KTLS_VERSION_DTLS_1_2, 1);
	transfer(a, b, 50000, 1000, 6, 1);
	transfer(b, a, 50000, 1300, 7, 1);
	close(a);
	close(b);
	close(udp[0]);
	close(udp[1]);
}

/* mainline's struct for the same keys: the layouts are the same by design. */
static void ulp_keys(int fd, uint16_t version, int tx_direction)
{
	struct ktls_crypto_info_aes_gcm_128 tx, rx;

	_Static_assert(sizeof(tx) == sizeof(struct tls12_crypto_info_aes_gcm_128), "same layout");
	fill_keys(&tx, version, tx_direction, 0);
	fill_keys(&rx, version, !tx_direction, 0);
	assert_int_equal(setsockopt(fd, SOL_TCP, TCP_ULP, "tls", sizeof("tls")), 0);
	assert_int_equal(setsockopt(fd, SOL_TLS, TLS_TX, &tx, sizeof(tx)), 0);
	assert_int_equal(setsockopt(fd, SOL_TLS, TLS_RX, &rx, sizeof(rx)), 0);
}

static void against_mainline_ktls(uint16_t version)
{
	int tcp[2];

	ktls_inet_pair(SOCK_STREAM, tcp);
	int a = ktls_bind(tcp[0], version, KTLS_CIPHER_AES_GCM_128);

	set_keys(a, version, 0);
	ulp_keys(tcp[1], version, 1);
	transfer(a, tcp[1], 200000, 9000, 8, 0);
	transfer(tcp[1], a, 200000, 30000, 9, 0);
	close(a);
	close(tcp[0]);
	close(tcp[1]);
}

static void tls12_records_interoperate_with_mainline_ktls(void **state)
{
	(void)state;
	against_mainline_ktls(KTLS_VERSION_TLS_1_2);
}

static void tls13_records_interoperate_with_mainline_ktls(void **state)
{
	(void)state;
	against_mainline_ktls(KTLS_VERSION_TLS_1_3);
}

static void bind_errors(void **state)
{
	(void)state;
	int tcp[2], udp[2];
	int unconnected = socket(AF_INET, SOCK_STREAM, 0);
	int pipefd[2];

	ktls_inet_pair(SOCK_STREAM, tcp);
	ktls_inet_pair(SOCK_DGRAM, udp);
	assert_int_equal(pipe(pipefd), 0);

	struct {
		int type;
		struct sockaddr_ktls sa;
		socklen_t len;
		int err;
	} cases[] = {
		{ SOCK_STREAM, { AF_KTLS, KTLS_CIPHER_AES_GCM_128, KTLS_VERSION_TLS_1_2, 0, 9999 }, 12, EBADF },
		{ SOCK_STREAM, { AF_KTLS, KTLS_CIPHER_AES_GCM_128, KTLS_VERSION_TLS_1_2, 0, pipefd[0] }, 12, ENOTSOCK },
		{ SOCK_STREAM, { AF_KTLS, KTLS_CIPHER_AES_GCM_128, KTLS_VERSION_TLS_1_2, 0, udp[0] }, 12, EPROTOTYPE },
		{ SOCK_DGRAM, { AF_KTLS, KTLS_CIPHER_AES_GCM_128, KTLS_VERSION_DTLS_1_2, 0, tcp[0] }, 12, EPROTOTYPE },
		{ SOCK_STREAM, { AF_KTLS, KTLS_CIPHER_AES_GCM_128, KTLS_VERSION_TLS_1_2, 0, unconnected }, 12, ENOTCONN },
		{ SOCK_STREAM, { AF_KTLS, 50, KTLS_VERSION_TLS_1_2, 0, tcp[0] }, 12, EINVAL },
		{ SOCK_STREAM, { AF_KTLS, KTLS_CIPHER_AES_GCM_128, 0x0302, 0, tcp[0] }, 12, EINVAL },
		{ SOCK_STREAM, { AF_KTLS, KTLS_CIPHER_AES_GCM_128, KTLS_VERSION_DTLS_1_2, 0, tcp[0] }, 12, EINVAL },
		{ SOCK_DGRAM, { AF_KTLS, KTLS_CIPHER_AES_GCM_128, KTLS_VERSION_TLS_1_2, 0, udp[0] }, 12, EINVAL },
		{ SOCK_STREAM, { AF_KTLS, KTLS_CIPHER_AES_GCM_128, KTLS_VERSION_TLS_1_2, 1, tcp[0] }, 12, EINVAL },
		{ SOCK_STREAM, { AF_KTLS, KTLS_CIPHER_AES_GCM_128, KTLS_VERSION_TLS_1_2, 0, tcp[0] }, 11, EINVAL },
		{ SOCK_STREAM, { AF_INET, KTLS_CIPHER_AES_GCM_128, KTLS_VERSION_TLS_1_2, 0, tcp[0] }, 12, EAFNOSUPPORT },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int s = socket(AF_KTLS, cases[i].type, 0);

		errno = 0;
		assert_int_equal(bind(s, (struct sockaddr *)&cases[i].sa, cases[i].len), -1);
		if (errno != cases[i].err)
			fail_msg("case %zu: errno %d, wanted %d", i, errno, cases[i].err);
		close(s);
	}
	/* Bound once: a second bind fails. */
	int s = ktls_bind(tcp[0], KTLS_VERSION_TLS_1_2, KTLS_CIPHER_AES_GCM_128);
	struct sockaddr_ktls again = { AF_KTLS, KTLS_CIPHER_AES_GCM_128, KTLS_VERSION_TLS_1_2, 0, tcp[0] };

	errno = 0;
	assert_int_equal(bind(s, (struct sockaddr *)&again, sizeof(again)), -1);
	assert_int_equal(errno, EISCONN);
	close(s);
	close(unconnected);
	close(pipefd[0]);
	close(pipefd[1]);
	close(tcp[0]);
	close(tcp[1]);
	close(udp[0]);
	close(udp[1]);
}

static void option_errors_and_readback(void **state)
{
	(void)state;
	int tcp[2];
	struct ktls_crypto_info_aes_gcm_128 info, back;
	socklen_t len;
	char byte = 0;

	ktls_inet_pair(SOCK_STREAM, tcp);
	fill_keys(&info, KTLS_VERSION_TLS_1_2, 0, 5);

	int unbound = socket(AF_KTLS, SOCK_STREAM, 0);

	errno = 0;
	assert_int_equal(setsockopt(unbound, SOL_KTLS, KTLS_TX, &info, sizeof(info)), -1);
	assert_int_equal(errno, ENOTCONN);
	errno = 0;
	assert_int_equal(send(unbound, "x", 1, 0), -1);
	assert_int_equal(errno, ENOTCONN);
	close(unbound);

	int s = ktls_bind(tcp[0], KTLS_VERSION_TLS_1_2, KTLS_CIPHER_AES_GCM_128);

	/* Data before keys. */
	errno = 0;
	assert_int_equal(send(s, "x", 1, 0), -1);
	assert_int_equal(errno, ENOKEY);
	errno = 0;
	assert_int_equal(recv(s, &byte, 1, MSG_DONTWAIT), -1);
	assert_int_equal(errno, ENOKEY);
	/* Keys not set: getsockopt gives EBUSY, as mainline. */
	len = sizeof(back);
	errno = 0;
	assert_int_equal(getsockopt(s, SOL_KTLS, KTLS_TX, &back, &len), -1);
	assert_int_equal(errno, EBUSY);
	/* Exact optlen or EINVAL. */
	errno = 0;
	assert_int_equal(setsockopt(s, SOL_KTLS, KTLS_TX, &info, sizeof(info) - 1), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(setsockopt(s, SOL_KTLS, KTLS_TX, &info, sizeof(info) + 1), -1);
	assert_int_equal(errno, EINVAL);
	/* Version or cipher other than bound: EPROTO, told apart from a wrong length. */
	info.info.version = KTLS_VERSION_TLS_1_3;
	errno = 0;
	assert_int_equal(setsockopt(s, SOL_KTLS, KTLS_TX, &info, sizeof(info)), -1);
	assert_int_equal(errno, EPROTO);
	info.info.version = KTLS_VERSION_TLS_1_2;
	info.info.cipher_type = KTLS_CIPHER_AES_GCM_256;
	errno = 0;
	assert_int_equal(setsockopt(s, SOL_KTLS, KTLS_RX, &info, sizeof(info)), -1);
	assert_int_equal(errno, EPROTO);
	info.info.cipher_type = KTLS_CIPHER_AES_GCM_128;
	/* Unknown option and level. */
	errno = 0;
	assert_int_equal(setsockopt(s, SOL_KTLS, 99, &info, sizeof(info)), -1);
	assert_int_equal(errno, ENOPROTOOPT);
	errno = 0;
	assert_int_equal(setsockopt(s, SOL_KTLS + 1, KTLS_TX, &info, sizeof(info)), -1);
	assert_int_equal(errno, ENOPROTOOPT);
	/* Set, read back, short buffer, set twice. */
	assert_int_equal(setsockopt(s, SOL_KTLS, KTLS_TX, &info, sizeof(info)), 0);
	len = sizeof(back);
	memset(&back, 0, sizeof(back));
	assert_int_equal(getsockopt(s, SOL_KTLS, KTLS_TX, &back, &len), 0);
	assert_int_equal(len, sizeof(back));
	assert_memory_equal(&back, &info, sizeof(info));
	len = sizeof(back) - 1;
	errno = 0;
	assert_int_equal(getsockopt(s, SOL_KTLS, KTLS_TX, &back, &len), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(setsockopt(s, SOL_KTLS, KTLS_TX, &info, sizeof(info)), -1);
	assert_int_equal(errno, EBUSY);
	/* Payload limit: range and read-back. */
	uint16_t max = 63;

	errno = 0;
	assert_int_equal(setsockopt(s, SOL_KTLS, KTLS_TX_MAX_PAYLOAD_LEN, &max, sizeof(max)), -1);
	assert_int_equal(errno, EINVAL);
	max = 1000;
	assert_int_equal(setsockopt(s, SOL_KTLS, KTLS_TX_MAX_PAYLOAD_LEN, &max, sizeof(max)), 0);
	max = 0;
	len = sizeof(max);
	assert_int_equal(getsockopt(s, SOL_KTLS, KTLS_TX_MAX_PAYLOAD_LEN, &max, &len), 0);
	assert_int_equal(max, 1000);
	/* MTU is a DTLS option. */
	uint32_t mtu = 1200;

	errno = 0;
	assert_int_equal(setsockopt(s, SOL_KTLS, KTLS_DTLS_MTU, &mtu, sizeof(mtu)), -1);
	assert_int_equal(errno, ENOPROTOOPT);
	close(s);
	close(tcp[0]);
	close(tcp[1]);
}

static void corrupted_record_gives_ebadmsg_and_stays_failed(void **state)
{
	(void)state;
	int tcp[2];
	char buf[64];

	ktls_inet_pair(SOCK_STREAM, tcp);
	int b = ktls_bind(tcp[1], KTLS_VERSION_TLS_1_2, KTLS_CIPHER_AES_GCM_128);

	set_keys(b, KTLS_VERSION_TLS_1_2, 1);
	/* A well-formed header with a payload that cannot authenticate. */
	unsigned char record[5 + 8 + 10 + 16] = { 23, 3, 3, 0, 8 + 10 + 16 };

	assert_int_equal(send(tcp[0], record, sizeof(record), 0), (ssize_t)sizeof(record));
	errno = 0;
	assert_int_equal(recv(b, buf, sizeof(buf), 0), -1);
	assert_int_equal(errno, EBADMSG);
	errno = 0;
	assert_int_equal(recv(b, buf, sizeof(buf), MSG_DONTWAIT), -1);
	assert_int_equal(errno, EBADMSG);
	close(b);
	close(tcp[0]);
	close(tcp[1]);
}

static void control_record_needs_cmsg_and_stays_queued(void **state)
{
	(void)state;
	int tcp[2];
	char buf[64];
	unsigned char alert[2] = { 1, 0 }; /* warning, close_notify */
	char cbuf[CMSG_SPACE(1)];

	ktls_inet_pair(SOCK_STREAM, tcp);
	int a = ktls_bind(tcp[0], KTLS_VERSION_TLS_1_3, KTLS_CIPHER_AES_GCM_128);
	int b = ktls_bind(tcp[1], KTLS_VERSION_TLS_1_3, KTLS_CIPHER_AES_GCM_128);

	set_keys(a, KTLS_VERSION_TLS_1_3, 0);
	set_keys(b, KTLS_VERSION_TLS_1_3, 1);
	assert_int_equal(send(a, "data", 4, 0), 4);

	/* Send an alert record with KTLS_SET_RECORD_TYPE. */
	struct iovec iov = { alert, sizeof(alert) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			      .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);

	cmsg->cmsg_level = SOL_KTLS;
	cmsg->cmsg_type = KTLS_SET_RECORD_TYPE;
	cmsg->cmsg_len = CMSG_LEN(1);
	*CMSG_DATA(cmsg) = KTLS_RECORD_ALERT;
	assert_int_equal(sendmsg(a, &msg, 0), 2);
	/* With MSG_MORE: EINVAL. */
	errno = 0;
	assert_int_equal(sendmsg(a, &msg, MSG_MORE), -1);
	assert_int_equal(errno, EINVAL);

	/* The data record first, never merged with the alert. */
	assert_int_equal(recv(b, buf, sizeof(buf), 0), 4);
	/* Without room for the type: EIO, and the record stays. */
	errno = 0;
	assert_int_equal(recv(b, buf, sizeof(buf), 0), -1);
	assert_int_equal(errno, EIO);
	/* With a cmsg buffer: the alert and its type. */
	struct iovec riov = { buf, sizeof(buf) };
	struct msghdr rmsg = { .msg_iov = &riov, .msg_iovlen = 1, .msg_control = cbuf,
			       .msg_controllen = sizeof(cbuf) };

	memset(cbuf, 0, sizeof(cbuf));
	assert_int_equal(recvmsg(b, &rmsg, 0), 2);
	cmsg = CMSG_FIRSTHDR(&rmsg);
	assert_non_null(cmsg);
	assert_int_equal(cmsg->cmsg_level, SOL_KTLS);
	assert_int_equal(cmsg->cmsg_type, KTLS_GET_RECORD_TYPE);
	assert_int_equal(*CMSG_DATA(cmsg), KTLS_RECORD_ALERT);
	assert_memory_equal(buf, alert, 2);
	close(a);
	close(b);
	close(tcp[0]);
	close(tcp[1]);
}

static void msg_more_holds_the_record_open(void **state)
{
	(void)state;
	int tcp[2];
	char buf[64];
	struct pollfd pfd;

	ktls_inet_pair(SOCK_STREAM, tcp);
	int a = ktls_bind(tcp[0], KTLS_VERSION_TLS_1_2, KTLS_CIPHER_AES_GCM_128);
	int b = ktls_bind(tcp[1], KTLS_VERSION_TLS_1_2, KTLS_CIPHER_AES_GCM_128);

	set_keys(a, KTLS_VERSION_TLS_1_2, 0);
	set_keys(b, KTLS_VERSION_TLS_1_2, 1);
	assert_int_equal(send(a, "hello ", 6, MSG_MORE), 6);
	/* Nothing on the wire yet. */
	pfd = (struct pollfd){ .fd = tcp[1], .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, 100), 0);
	assert_int_equal(send(a, "world", 5, 0), 5);
	assert_int_equal(recv(b, buf, 11, MSG_WAITALL), 11);
	assert_memory_equal(buf, "hello world", 11);
	/* Nonblocking receive with nothing there. */
	errno = 0;
	assert_int_equal(recv(b, buf, sizeof(buf), MSG_DONTWAIT), -1);
	assert_int_equal(errno, EAGAIN);
	/* Peek leaves the data. */
	assert_int_equal(send(a, "peek", 4, 0), 4);
	assert_int_equal(recv(b, buf, sizeof(buf), MSG_PEEK), 4);
	assert_int_equal(recv(b, buf, sizeof(buf), 0), 4);
	assert_memory_equal(buf, "peek", 4);
	close(a);
	close(b);
	close(tcp[0]);
	close(tcp[1]);
}

/*
 * DTLS: a sender's datagrams are captured on the raw UDP socket, then replayed, forged and
 * re-epoched into a receiver. Only authentic, new records are delivered; the others are dropped
 * silently and counted, and a forged record does not move the window.
 */
static void dtls12_drops_replayed_forged_and_foreign_records(void **state)
{
	(void)state;
	int udp[2];
	unsigned char wire[200][128];
	ssize_t wire_len[200];
	char buf[128];

	ktls_inet_pair(SOCK_DGRAM, udp);
	int a = ktls_bind(udp[0], KTLS_VERSION_DTLS_1_2, KTLS_CIPHER_AES_GCM_128);

	set_keys(a, KTLS_VERSION_DTLS_1_2, 0);
	/* Capture 200 records as the peer's raw UDP socket sees them. */
	for (int i = 0; i < 200; i++) {
		snprintf(buf, sizeof(buf), "record %03d", i);
		assert_int_equal(send(a, buf, 10, 0), 10);
		wire_len[i] = recv(udp[1], wire[i], sizeof(wire[i]), 0);
		/* 13-byte header, 8-byte explicit nonce, 10 bytes, 16-byte tag. */
		assert_int_equal(wire_len[i], 13 + 8 + 10 + 16);
		assert_int_equal(wire[i][0], KTLS_RECORD_APPLICATION_DATA);
		assert_int_equal(wire[i][3], 0);
		assert_int_equal(wire[i][4], 1); /* epoch 1 */
	}
	int b = ktls_bind(udp[1], KTLS_VERSION_DTLS_1_2, KTLS_CIPHER_AES_GCM_128);

	set_keys(b, KTLS_VERSION_DTLS_1_2, 1);
	unsigned long long replayed = ktls_counter("KtlsRxReplayed");
	unsigned long long forged = ktls_counter("KtlsRxDecryptErrors");
	unsigned long long foreign = ktls_counter("KtlsRxOtherEpoch");
	unsigned long long malformed = ktls_counter("KtlsRxMalformed");

	/* Inject with the raw socket: udp[0] is still connected to udp[1]. */
#define INJECT(bytes, len) assert_int_equal(send(udp[0], (bytes), (len), 0), (ssize_t)(len))
#define EXPECT(i)                                                                  \
	do {                                                                       \
		char want[16];                                                     \
		snprintf(want, sizeof(want), "record %03d", (i));                 \
		assert_int_equal(recv(b, buf, sizeof(buf), MSG_DONTWAIT), 10);     \
		assert_memory_equal(buf, want, 10);                                \
	} while (0)
#define EXPECT_NOTHING()                                                           \
	do {                                                                       \
		errno = 0;                                                         \
		assert_int_equal(recv(b, buf, sizeof(buf), MSG_DONTWAIT), -1);     \
		assert_int_equal(errno, EAGAIN);                                   \
	} while (0)

	/* Sequence number 0 on a fresh window. */
	INJECT(wire[0], wire_len[0]);
	EXPECT(0);
	/* An exact duplicate. */
	INJECT(wire[0], wire_len[0]);
	EXPECT_NOTHING();
	/* Reordering within the window. */
	INJECT(wire[5], wire_len[5]);
	INJECT(wire[3], wire_len[3]);
	EXPECT(5);
	EXPECT(3);
	/* A forged record 4 (flipped tag byte) is dropped and does not move the window... */
	unsigned char forged_rec[128];

	memcpy(forged_rec, wire[4], wire_len[4]);
	forged_rec[wire_len[4] - 1] ^= 1;
	INJECT(forged_rec, wire_len[4]);
	EXPECT_NOTHING();
	/* ...so the authentic record 4 is still accepted. */
	INJECT(wire[4], wire_len[4]);
	EXPECT(4);
	/* A record from another epoch. */
	unsigned char other_epoch[128];

	memcpy(other_epoch, wire[6], wire_len[6]);
	other_epoch[4] = 2;
	INJECT(other_epoch, wire_len[6]);
	EXPECT_NOTHING();
	/* Garbage: too short for a header. */
	INJECT("junk", 4);
	EXPECT_NOTHING();
	/* A jump of more than 64, then a record that is now too old. */
	INJECT(wire[150], wire_len[150]);
	EXPECT(150);
	INJECT(wire[6], wire_len[6]);
	EXPECT_NOTHING();
	/* An epoch-0 plaintext change_cipher_spec (a retransmission) before a record: only the
	 * former is dropped. */
	unsigned char ccs_then_record[256] = { 20, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 5, 0, 1, 1 };

	memcpy(ccs_then_record + 14, wire[153], wire_len[153]);
	INJECT(ccs_then_record, 14 + wire_len[153]);
	EXPECT(153);
	/* Two records in one datagram are both delivered, one per recv. */
	unsigned char two[256];

	memcpy(two, wire[151], wire_len[151]);
	memcpy(two + wire_len[151], wire[152], wire_len[152]);
	INJECT(two, wire_len[151] + wire_len[152]);
	EXPECT(151);
	EXPECT(152);

	assert_int_equal(ktls_counter("KtlsRxReplayed") - replayed, 2);
	assert_int_equal(ktls_counter("KtlsRxDecryptErrors") - forged, 1);
	assert_int_equal(ktls_counter("KtlsRxOtherEpoch") - foreign, 2);
	assert_int_equal(ktls_counter("KtlsRxMalformed") - malformed, 1);
#undef INJECT
#undef EXPECT
#undef EXPECT_NOTHING
	close(a);
	close(b);
	close(udp[0]);
	close(udp[1]);
}

/* DTLS: records fit the MTU, one per datagram; a short read truncates like UDP. */
static void dtls12_records_fit_the_mtu(void **state)
{
	(void)state;
	int udp[2];
	uint32_t mtu = 500;
	unsigned char out[2000], raw[2000];
	char small[10];

	ktls_inet_pair(SOCK_DGRAM, udp);
	int a = ktls_bind(udp[0], KTLS_VERSION_DTLS_1_2, KTLS_CIPHER_AES_GCM_128);

	set_keys(a, KTLS_VERSION_DTLS_1_2, 0);
	assert_int_equal(setsockopt(a, SOL_KTLS, KTLS_DTLS_MTU, &mtu, sizeof(mtu)), 0);
	mtu = 100;
	errno = 0;
	assert_int_equal(setsockopt(a, SOL_KTLS, KTLS_DTLS_MTU, &mtu, sizeof(mtu)), -1);
	assert_int_equal(errno, EINVAL);
	ktls_pattern(out, sizeof(out), 10);
	assert_int_equal(send(a, out, 1200, 0), 1200);
	/* 1200 bytes in records of 500 - 37 = 463: three datagrams of at most 500 bytes. */
	assert_int_equal(recv(udp[1], raw, sizeof(raw), 0), 500);
	assert_int_equal(recv(udp[1], raw, sizeof(raw), 0), 500);
	assert_int_equal(recv(udp[1], raw, sizeof(raw), 0), 1200 - 2 * 463 + 37);

	int b = ktls_bind(udp[1], KTLS_VERSION_DTLS_1_2, KTLS_CIPHER_AES_GCM_128);
	struct ktls_crypto_info_aes_gcm_128 rx;

	/* b receives a's records from sequence 3 on. */
	fill_keys(&rx, KTLS_VERSION_DTLS_1_2, 0, (1ULL << 48) | 3);
	assert_int_equal(setsockopt(b, SOL_KTLS, KTLS_RX, &rx, sizeof(rx)), 0);
	assert_int_equal(send(a, out, 400, 0), 400);
	struct iovec iov = { small, sizeof(small) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	assert_int_equal(recvmsg(b, &msg, 0), (ssize_t)sizeof(small));
	assert_true(msg.msg_flags & MSG_TRUNC);
	assert_memory_equal(small, out, sizeof(small));
	close(a);
	close(b);
	close(udp[0]);
	close(udp[1]);
}

/* TLS: POLLIN only once the whole record is there; a waiting poller is woken by its end. */
static void poll_reports_only_whole_records(void **state)
{
	(void)state;
	int tcp[2];
	unsigned char record[64];
	char buf[16];
	struct pollfd pfd;

	ktls_inet_pair(SOCK_STREAM, tcp);
	int a = ktls_bind(tcp[0], KTLS_VERSION_TLS_1_2, KTLS_CIPHER_AES_GCM_128);

	set_keys(a, KTLS_VERSION_TLS_1_2, 0);
	assert_int_equal(send(a, "hello", 5, 0), 5);
	/* Capture the record before b exists: 5 header + 8 nonce + 5 data + 16 tag. */
	assert_int_equal(recv(tcp[1], record, sizeof(record), MSG_WAITALL | MSG_DONTWAIT), 34);

	int b = ktls_bind(tcp[1], KTLS_VERSION_TLS_1_2, KTLS_CIPHER_AES_GCM_128);

	set_keys(b, KTLS_VERSION_TLS_1_2, 1);
	pfd = (struct pollfd){ .fd = b, .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, 0), 0);
	/* Part of the header, then part of the body: still nothing to read. */
	assert_int_equal(send(tcp[0], record, 3, 0), 3);
	assert_int_equal(poll(&pfd, 1, 100), 0);
	assert_int_equal(send(tcp[0], record + 3, 20, 0), 20);
	assert_int_equal(poll(&pfd, 1, 100), 0);
	errno = 0;
	assert_int_equal(recv(b, buf, sizeof(buf), MSG_DONTWAIT), -1);
	assert_int_equal(errno, EAGAIN);
	/* The rest arrives while a poller waits. */
	pid_t child = fork();

	if (child == 0) {
		usleep(200 * 1000);
		_exit(send(tcp[0], record + 23, 34 - 23, 0) == 34 - 23 ? 0 : 1);
	}
	assert_int_equal(poll(&pfd, 1, 10000), 1);
	assert_true(pfd.revents & POLLIN);
	assert_int_equal(recv(b, buf, sizeof(buf), 0), 5);
	assert_memory_equal(buf, "hello", 5);
	int status;

	assert_int_equal(waitpid(child, &status, 0), child);
	assert_int_equal(status, 0);
	close(a);
	close(b);
	close(tcp[0]);
	close(tcp[1]);
}

/* SO_RCVTIMEO of the AF_KTLS socket itself bounds a blocking receive. */
static void so_rcvtimeo_gives_eagain(void **state)
{
	(void)state;
	int tcp[2];
	char buf[16];
	struct timeval tv = { .tv_sec = 0, .tv_usec = 200 * 1000 };
	struct timespec t0, t1;

	ktls_inet_pair(SOCK_STREAM, tcp);
	int b = ktls_bind(tcp[1], KTLS_VERSION_TLS_1_2, KTLS_CIPHER_AES_GCM_128);

	set_keys(b, KTLS_VERSION_TLS_1_2, 1);
	assert_int_equal(setsockopt(b, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	errno = 0;
	assert_int_equal(recv(b, buf, sizeof(buf), 0), -1);
	assert_int_equal(errno, EAGAIN);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* It waited (not an immediate EAGAIN); no upper bound: emulated time is unreliable. */
	assert_true((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 >= 150);
	close(b);
	close(tcp[0]);
	close(tcp[1]);
}

/*
 * Every cipher, both TLS versions, against mainline kTLS on the other end of the TCP
 * connection (so the records are checked by an independent implementation), and DTLS 1.2
 * between two AF_KTLS sockets.
 */
static void every_cipher_and_version(void **state)
{
	(void)state;
	const uint16_t ciphers[] = { KTLS_CIPHER_AES_GCM_128, KTLS_CIPHER_AES_GCM_256,
				     KTLS_CIPHER_CHACHA20_POLY1305 };
	const uint16_t versions[] = { KTLS_VERSION_TLS_1_2, KTLS_VERSION_TLS_1_3,
				      KTLS_VERSION_DTLS_1_2 };
	struct ktls_keys tx, rx;

	for (size_t c = 0; c < 3; c++) {
		for (size_t v = 0; v < 3; v++) {
			uint16_t version = versions[v], cipher = ciphers[c];
			int dtls = version == KTLS_VERSION_DTLS_1_2;
			int type = dtls ? SOCK_DGRAM : SOCK_STREAM;
			uint64_t first = dtls ? 1ULL << 48 : 0;
			int pair[2];

			ktls_inet_pair(type, pair);
			int a = ktls_bind(pair[0], version, cipher);

			ktls_keys_init(&tx, version, cipher, 0, first);
			ktls_keys_init(&rx, version, cipher, 1, first);
			assert_int_equal(ktls_set_keys(a, KTLS_TX, &tx), 0);
			assert_int_equal(ktls_set_keys(a, KTLS_RX, &rx), 0);
			int b;

			if (dtls) {
				b = ktls_bind(pair[1], version, cipher);
				assert_int_equal(ktls_set_keys(b, KTLS_TX, &rx), 0);
				assert_int_equal(ktls_set_keys(b, KTLS_RX, &tx), 0);
			} else {
				b = pair[1];
				assert_int_equal(setsockopt(b, SOL_TCP, TCP_ULP, "tls", sizeof("tls")), 0);
				assert_int_equal(setsockopt(b, SOL_TLS, TLS_TX, &rx.info, rx.len), 0);
				assert_int_equal(setsockopt(b, SOL_TLS, TLS_RX, &tx.info, tx.len), 0);
			}
			transfer(a, b, 40000, dtls ? 1200 : 9000, (unsigned)(c * 3 + v), dtls);
			transfer(b, a, 40000, dtls ? 1000 : 17000, (unsigned)(c * 3 + v + 50), dtls);
			if (dtls)
				close(b);
			close(a);
			close(pair[0]);
			close(pair[1]);
		}
	}
}

/* Sequence numbers never wrap: the last one is used once, then sending fails (EBADMSG). */
static void sequence_exhaustion_is_an_error(void **state)
{
	(void)state;
	int tcp[2];
	struct ktls_crypto_info_aes_gcm_128 tx;

	ktls_inet_pair(SOCK_STREAM, tcp);
	int a = ktls_bind(tcp[0], KTLS_VERSION_TLS_1_2, KTLS_CIPHER_AES_GCM_128);

	fill_keys(&tx, KTLS_VERSION_TLS_1_2, 0, UINT64_MAX);
	assert_int_equal(setsockopt(a, SOL_KTLS, KTLS_TX, &tx, sizeof(tx)), 0);
	assert_int_equal(send(a, "last", 4, 0), 4);
	errno = 0;
	assert_int_equal(send(a, "wrap", 4, 0), -1);
	assert_int_equal(errno, EBADMSG);
	close(a);
	close(tcp[0]);
	close(tcp[1]);
}

struct blocked_reader {
	int fd;
	volatile pid_t tid;
	ssize_t got;
	char buf[16];
};

static void *read_blocking(void *arg)
{
	struct blocked_reader *reader = arg;

	reader->tid = gettid();
	reader->got = recv(reader->fd, reader->buf, sizeof(reader->buf), 0);
	return NULL;
}

/* Starts a reader thread and returns once it sleeps (in recv), not after a guessed delay. */
static void start_blocked_reader(struct blocked_reader *reader, pthread_t *thread)
{
	char path[64], stat[256];

	reader->tid = 0;
	assert_int_equal(pthread_create(thread, NULL, read_blocking, reader), 0);
	for (int tries = 0; tries < 10000; tries++) {
		if (reader->tid != 0) {
			snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)reader->tid);
			FILE *f = fopen(path, "r");

			assert_non_null(f);
			size_t n = fread(stat, 1, sizeof(stat) - 1, f);

			fclose(f);
			stat[n] = '\0';
			/* "tid (comm) S ...": the state follows the command name. */
			char *state = strrchr(stat, ')');

			if (state && state[1] == ' ' && state[2] == 'S')
				return;
		}
		usleep(1000);
	}
	fail_msg("the reader thread never blocked");
}

/*
 * Close during use: the application's TCP fd may be closed after bind (AF_KTLS holds its own
 * reference); closing the AF_KTLS fd while another thread is blocked in recv on it neither
 * crashes nor loses that thread's data; the peer closing ends a blocked recv with 0.
 */
static void close_during_use(void **state)
{
	(void)state;
	int tcp[2];
	pthread_t thread;
	struct blocked_reader reader = { 0 };

	ktls_inet_pair(SOCK_STREAM, tcp);
	int a = ktls_bind(tcp[0], KTLS_VERSION_TLS_1_3, KTLS_CIPHER_AES_GCM_128);
	int b = ktls_bind(tcp[1], KTLS_VERSION_TLS_1_3, KTLS_CIPHER_AES_GCM_128);

	set_keys(a, KTLS_VERSION_TLS_1_3, 0);
	set_keys(b, KTLS_VERSION_TLS_1_3, 1);
	/* The TCP fds are no longer needed by the application. */
	close(tcp[0]);
	close(tcp[1]);
	transfer(a, b, 5000, 1000, 11, 0);

	reader.fd = b;
	start_blocked_reader(&reader, &thread);
	close(b); /* the blocked recv keeps the file alive */
	assert_int_equal(send(a, "still there", 11, 0), 11);
	assert_int_equal(pthread_join(thread, NULL), 0);
	assert_int_equal(reader.got, 11);
	assert_memory_equal(reader.buf, "still there", 11);

	/* A peer that goes away ends a blocked recv with 0 (end of stream). */
	int pair[2];

	ktls_inet_pair(SOCK_STREAM, pair);
	int c = ktls_bind(pair[0], KTLS_VERSION_TLS_1_2, KTLS_CIPHER_AES_GCM_128);

	set_keys(c, KTLS_VERSION_TLS_1_2, 0);
	reader.fd = c;
	reader.got = -2;
	start_blocked_reader(&reader, &thread);
	close(pair[1]);
	assert_int_equal(pthread_join(thread, NULL), 0);
	assert_int_equal(reader.got, 0);
	close(c);
	close(pair[0]);
	close(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bind_errors),
		cmocka_unit_test(option_errors_and_readback),
		cmocka_unit_test(tls12_loopback_both_ways),
		cmocka_unit_test(tls13_loopback_both_ways),
		cmocka_unit_test(dtls12_loopback_both_ways),
		cmocka_unit_test(tls12_records_interoperate_with_mainline_ktls),
		cmocka_unit_test(tls13_records_interoperate_with_mainline_ktls),
		cmocka_unit_test(corrupted_record_gives_ebadmsg_and_stays_failed),
		cmocka_unit_test(control_record_needs_cmsg_and_stays_queued),
		cmocka_unit_test(msg_more_holds_the_record_open),
		cmocka_unit_test(dtls12_drops_replayed_forged_and_foreign_records),
		cmocka_unit_test(dtls12_records_fit_the_mtu),
		cmocka_unit_test(poll_reports_only_whole_records),
		cmocka_unit_test(so_rcvtimeo_gives_eagain),
		cmocka_unit_test(every_cipher_and_version),
		cmocka_unit_test(sequence_exhaustion_is_an_error),
		cmocka_unit_test(close_during_use),
	};

	return cmocka_run_group_tests_name("af_ktls_data", tests, NULL, NULL);
}
