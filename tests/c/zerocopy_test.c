// SPDX-License-Identifier: GPL-2.0
/*
 * The zero-copy paths (issue 11; Documentation/af_ktls.md, "Sending" and "Receiving"): pages
 * that TCP holds by reference until the peer acknowledges them, while the peer does not read for
 * a while and then reads everything (on the debug kernel KASAN watches every page); a file that
 * changes after sendfile; splice out of and into DTLS sockets (TLS splice: tls_selftest.c).
 */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "kselftest_harness.h"

#include "ktls_test.h"

#define FILE_LEN (4 << 20)

struct pair {
	int tcp[2], a, b;
};

static void open_pair(struct __test_metadata *_metadata, uint16_t version, uint16_t cipher,
		      struct pair *p)
{
	struct ktls_keys k;

	ktls_inet_pair(SOCK_STREAM, p->tcp);
	p->a = ktls_bind(p->tcp[0], version, cipher);
	p->b = ktls_bind(p->tcp[1], version, cipher);
	ktls_keys_init(&k, version, cipher, 0, 0);
	ASSERT_EQ(ktls_set_keys(p->a, KTLS_TX, &k), 0);
	ASSERT_EQ(ktls_set_keys(p->b, KTLS_RX, &k), 0);
}

static void close_pair(struct pair *p)
{
	close(p->a);
	close(p->b);
	close(p->tcp[0]);
	close(p->tcp[1]);
}

/* A temporary file of `len` bytes of `ktls_pattern(seed)`. */
static int pattern_file(struct __test_metadata *_metadata, unsigned char *buf, size_t len,
			unsigned int seed)
{
	char name[] = "/tmp/zc-XXXXXX";
	int fd = mkstemp(name);

	EXPECT_GE(fd, 0);
	if (fd < 0)
		return -1;
	unlink(name);
	ktls_pattern(buf, len, seed);
	EXPECT_EQ(write(fd, buf, len), len);
	return fd;
}

struct reader {
	int fd;
	unsigned char *buf;
	size_t want, got;
	int delay_ms;
};

static void *read_all(void *arg)
{
	struct reader *r = arg;

	ktls_sleep_ms(r->delay_ms);
	while (r->got < r->want) {
		ssize_t n = recv(r->fd, r->buf + r->got, r->want - r->got, 0);

		if (n <= 0)
			break;
		r->got += n;
	}
	return NULL;
}

FIXTURE(zc)
{
	struct pair p;
};

FIXTURE_VARIANT(zc)
{
	uint16_t version, cipher;
};

FIXTURE_VARIANT_ADD(zc, tls12_aes_gcm)
{
	.version = KTLS_VERSION_TLS_1_2, .cipher = KTLS_CIPHER_AES_GCM_128,
};

FIXTURE_VARIANT_ADD(zc, tls13_chacha)
{
	.version = KTLS_VERSION_TLS_1_3, .cipher = KTLS_CIPHER_CHACHA20_POLY1305,
};

FIXTURE_SETUP(zc)
{
	open_pair(_metadata, variant->version, variant->cipher, &self->p);
}

FIXTURE_TEARDOWN(zc)
{
	close_pair(&self->p);
}

/*
 * The peer reads nothing for a second while 4 MiB go out by sendfile and 4 MiB by send: TCP
 * holds the records' pages (and the file's, until sealed) the whole time, the sender waits for
 * room, then the peer reads everything; every byte must be right.
 */
TEST_F(zc, peer_stalls_then_reads_everything)
{
	static unsigned char file[FILE_LEN], copied[FILE_LEN], got[2 * FILE_LEN];
	struct reader r = { .fd = self->p.b, .buf = got, .want = 2 * FILE_LEN, .delay_ms = 1000 };
	off_t off = 0;
	size_t sent = 0;
	pthread_t t;
	int fd = pattern_file(_metadata, file, FILE_LEN, 1);

	ASSERT_GE(fd, 0);
	ktls_pattern(copied, FILE_LEN, 2);
	ASSERT_EQ(pthread_create(&t, NULL, read_all, &r), 0);
	while (off < FILE_LEN) {
		ssize_t n = sendfile(self->p.a, fd, &off, FILE_LEN - off);

		ASSERT_GT(n, 0);
	}
	while (sent < FILE_LEN) {
		ssize_t n = send(self->p.a, copied + sent, FILE_LEN - sent, 0);

		ASSERT_GT(n, 0);
		sent += n;
	}
	pthread_join(t, NULL);
	EXPECT_EQ(r.got, 2 * FILE_LEN);
	EXPECT_EQ(memcmp(got, file, FILE_LEN), 0);
	EXPECT_EQ(memcmp(got + FILE_LEN, copied, FILE_LEN), 0);
	close(fd);
}

/*
 * What a file held when its records were sealed is what arrives: overwriting the file after
 * sendfile returned (the records are sealed by then, splice_eof seals the last) changes nothing,
 * even while the peer has not read them yet.
 */
TEST_F(zc, file_changed_after_sendfile)
{
	static unsigned char file[64 << 10], other[64 << 10], got[64 << 10];
	struct reader r = { .fd = self->p.b, .buf = got, .want = sizeof(got) };
	off_t off = 0;
	int fd = pattern_file(_metadata, file, sizeof(file), 3);

	ASSERT_GE(fd, 0);
	EXPECT_EQ(sendfile(self->p.a, fd, &off, sizeof(file)), sizeof(file));
	ktls_pattern(other, sizeof(other), 4);
	EXPECT_EQ(pwrite(fd, other, sizeof(other), 0), sizeof(other));
	read_all(&r);
	EXPECT_EQ(r.got, sizeof(got));
	EXPECT_EQ(memcmp(got, file, sizeof(file)), 0);
	close(fd);
}

/*
 * splice out of the AF_KTLS socket moves the opened record's pages into the pipe by reference:
 * a record that stays in the pipe while later records are opened (into other pages) keeps its
 * bytes.
 */
TEST_F(zc, spliced_pages_outlive_later_records)
{
	unsigned char a[3000], b[3000], got[3000];
	int pipefd[2];

	ASSERT_EQ(pipe(pipefd), 0);
	ktls_pattern(a, sizeof(a), 5);
	ktls_pattern(b, sizeof(b), 6);
	ASSERT_EQ(send(self->p.a, a, sizeof(a), 0), sizeof(a));
	EXPECT_EQ(splice(self->p.b, NULL, pipefd[1], NULL, sizeof(a), 0), sizeof(a));
	for (int i = 0; i < 20; i++) {
		ASSERT_EQ(send(self->p.a, b, sizeof(b), 0), sizeof(b));
		EXPECT_EQ(recv(self->p.b, got, sizeof(got), MSG_WAITALL), sizeof(got));
		EXPECT_EQ(memcmp(got, b, sizeof(b)), 0);
	}
	EXPECT_EQ(read(pipefd[0], got, sizeof(got)), sizeof(got));
	EXPECT_EQ(memcmp(got, a, sizeof(a)), 0);
	close(pipefd[0]);
	close(pipefd[1]);
}

/*
 * DTLS: splice into the AF_KTLS socket (one record, one datagram, per splice that fits) and
 * out of it (one record's data), the thesis's relay in both directions.
 */
TEST(dtls_splice_both_ways)
{
	unsigned char msg[1000], got[1200];
	struct ktls_keys k;
	int udp[2], a, b, in[2], out[2];

	ktls_inet_pair(SOCK_DGRAM, udp);
	a = ktls_bind(udp[0], KTLS_VERSION_DTLS_1_2, KTLS_CIPHER_AES_GCM_256);
	b = ktls_bind(udp[1], KTLS_VERSION_DTLS_1_2, KTLS_CIPHER_AES_GCM_256);
	ktls_keys_init(&k, KTLS_VERSION_DTLS_1_2, KTLS_CIPHER_AES_GCM_256, 0, 1ULL << 48);
	ASSERT_EQ(ktls_set_keys(a, KTLS_TX, &k), 0);
	ASSERT_EQ(ktls_set_keys(b, KTLS_RX, &k), 0);
	ASSERT_EQ(pipe(in), 0);
	ASSERT_EQ(pipe(out), 0);
	for (int i = 0; i < 5; i++) {
		ktls_pattern(msg, sizeof(msg), 10 + i);
		ASSERT_EQ(write(in[1], msg, sizeof(msg)), sizeof(msg));
		EXPECT_EQ(splice(in[0], NULL, a, NULL, sizeof(msg), 0), sizeof(msg));
		EXPECT_EQ(splice(b, NULL, out[1], NULL, sizeof(got), 0), sizeof(msg));
		EXPECT_EQ(read(out[0], got, sizeof(got)), sizeof(msg));
		EXPECT_EQ(memcmp(got, msg, sizeof(msg)), 0);
	}
	close(in[0]);
	close(in[1]);
	close(out[0]);
	close(out[1]);
	close(a);
	close(b);
	close(udp[0]);
	close(udp[1]);
}

TEST_HARNESS_MAIN
