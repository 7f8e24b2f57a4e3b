/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the C tests: loopback socket pairs, AF_KTLS sockets bound to them, key
 * material for every version and cipher, /proc/net/af_ktls counters, clocks and thread states,
 * and records sealed in userspace with OpenSSL (the peer's keys, any length, padding or content
 * type) so a test can hand the kernel exactly the record it wants to check.
 *
 * A failure in a helper is a failure of the test's set-up: KTLS_REQUIRE reports it and aborts
 * (the kselftest harness counts an abort as a failed test). A cmocka file may define
 * KTLS_REQUIRE before including this header.
 */
#ifndef KTLS_TEST_H
#define KTLS_TEST_H

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <linux/ktls.h>

#ifndef KTLS_REQUIRE
#define KTLS_REQUIRE(cond)                                                              \
	do {                                                                            \
		if (!(cond)) {                                                          \
			fprintf(stderr, "# %s:%d: set-up failed: %s (errno %d: %s)\n", \
				__FILE__, __LINE__, #cond, errno, strerror(errno));    \
			abort();                                                        \
		}                                                                       \
	} while (0)
#endif

/* A connected pair of TCP (SOCK_STREAM) or UDP (SOCK_DGRAM) sockets on loopback. */
static inline void ktls_inet_pair_family(int family, int type, int fds[2])
{
	struct sockaddr_storage a = { 0 }, b = { 0 };
	socklen_t len = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	socklen_t la = len, lb = len;

	if (family == AF_INET) {
		((struct sockaddr_in *)&a)->sin_family = AF_INET;
		((struct sockaddr_in *)&a)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	} else {
		((struct sockaddr_in6 *)&a)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)&a)->sin6_addr = in6addr_loopback;
	}
	b = a;
	if (type == SOCK_STREAM) {
		int listener = socket(family, SOCK_STREAM, 0);

		KTLS_REQUIRE(listener >= 0);
		KTLS_REQUIRE(bind(listener, (struct sockaddr *)&a, len) == 0);
		KTLS_REQUIRE(listen(listener, 1) == 0);
		KTLS_REQUIRE(getsockname(listener, (struct sockaddr *)&a, &la) == 0);
		fds[0] = socket(family, SOCK_STREAM, 0);
		KTLS_REQUIRE(fds[0] >= 0);
		KTLS_REQUIRE(connect(fds[0], (struct sockaddr *)&a, len) == 0);
		fds[1] = accept(listener, NULL, NULL);
		KTLS_REQUIRE(fds[1] >= 0);
		close(listener);
	} else {
		fds[0] = socket(family, SOCK_DGRAM, 0);
		fds[1] = socket(family, SOCK_DGRAM, 0);
		KTLS_REQUIRE(fds[0] >= 0 && fds[1] >= 0);
		KTLS_REQUIRE(bind(fds[0], (struct sockaddr *)&a, len) == 0);
		KTLS_REQUIRE(bind(fds[1], (struct sockaddr *)&b, len) == 0);
		KTLS_REQUIRE(getsockname(fds[0], (struct sockaddr *)&a, &la) == 0);
		KTLS_REQUIRE(getsockname(fds[1], (struct sockaddr *)&b, &lb) == 0);
		KTLS_REQUIRE(connect(fds[0], (struct sockaddr *)&b, lb) == 0);
		KTLS_REQUIRE(connect(fds[1], (struct sockaddr *)&a, la) == 0);
	}
}

static inline void ktls_inet_pair(int type, int fds[2])
{
	ktls_inet_pair_family(AF_INET, type, fds);
}

/* bind() of a new AF_KTLS socket to `fd`: returns -1 with errno on failure. */
static inline int ktls_try_bind(int type, int fd, uint16_t version, uint16_t cipher)
{
	struct sockaddr_ktls sa = {
		.sa_family = AF_KTLS, .sa_cipher = cipher, .sa_version = version, .sa_socket = fd,
	};
	int s = socket(AF_KTLS, type, 0);
	int err;

	KTLS_REQUIRE(s >= 0);
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return s;
	err = errno;
	close(s);
	errno = err;
	return -1;
}

/* A new AF_KTLS socket bound to `fd` (SOCK_DGRAM for DTLS, SOCK_STREAM for TLS). */
static inline int ktls_bind(int fd, uint16_t version, uint16_t cipher)
{
	int type = version == KTLS_VERSION_DTLS_1_2 ? SOCK_DGRAM : SOCK_STREAM;
	int s = ktls_try_bind(type, fd, version, cipher);

	KTLS_REQUIRE(s >= 0);
	return s;
}

/* Key material of one direction, for any cipher (the UAPI structures share a prefix). */
struct ktls_keys {
	union {
		struct ktls_crypto_info info;
		struct ktls_crypto_info_aes_gcm_128 aes128;
		struct ktls_crypto_info_aes_gcm_256 aes256;
		struct ktls_crypto_info_chacha20_poly1305 chacha;
	};
	socklen_t len;
};

/* Where the fields of a key structure are, and how long. */
struct ktls_key_fields {
	unsigned char *iv, *key, *salt, *rec_seq;
	size_t iv_len, key_len, salt_len;
};

static inline struct ktls_key_fields ktls_key_fields(struct ktls_keys *k)
{
	struct ktls_key_fields f = { 0 };

	switch (k->info.cipher_type) {
	case KTLS_CIPHER_AES_GCM_256:
		f = (struct ktls_key_fields){ k->aes256.iv, k->aes256.key, k->aes256.salt,
					      k->aes256.rec_seq, 8, 32, 4 };
		break;
	case KTLS_CIPHER_CHACHA20_POLY1305:
		f = (struct ktls_key_fields){ k->chacha.iv, k->chacha.key, NULL,
					      k->chacha.rec_seq, 12, 32, 0 };
		break;
	default:
		f = (struct ktls_key_fields){ k->aes128.iv, k->aes128.key, k->aes128.salt,
					      k->aes128.rec_seq, 8, 16, 4 };
	}
	return f;
}

static inline void ktls_put_be64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[7 - i] = (unsigned char)(v >> (8 * i));
}

static inline uint64_t ktls_get_be64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/*
 * Keys of one generation (as mainline's selftest: every key, salt and iv byte derives from
 * `generation`; different generations give different keys) with the given first record number
 * (DTLS: epoch << 48 | sequence).
 */
static inline void ktls_keys_init(struct ktls_keys *k, uint16_t version, uint16_t cipher,
				  unsigned char generation, uint64_t rec_seq)
{
	struct ktls_key_fields f;

	memset(k, 0, sizeof(*k));
	k->info.version = version;
	k->info.cipher_type = cipher;
	f = ktls_key_fields(k);
	for (size_t i = 0; i < f.key_len; i++)
		f.key[i] = (unsigned char)(generation * 0x35 + i);
	for (size_t i = 0; i < f.salt_len; i++)
		f.salt[i] = (unsigned char)(generation * 0x53 + 0xa0 + i);
	for (size_t i = 0; i < f.iv_len; i++)
		f.iv[i] = (unsigned char)(generation * 0x17 + 0x50 + i);
	ktls_put_be64(f.rec_seq, rec_seq);
	switch (cipher) {
	case KTLS_CIPHER_AES_GCM_256:
		k->len = sizeof(k->aes256);
		break;
	case KTLS_CIPHER_CHACHA20_POLY1305:
		k->len = sizeof(k->chacha);
		break;
	default:
		k->len = sizeof(k->aes128);
	}
}

/*
 * KTLS_DECRYPT_AHEAD=0 in the environment turns decrypt-ahead off on every socket whose receive
 * keys these helpers set (before the keys, so no record is ever opened ahead): the VM suite runs
 * some programs both ways.
 */
static inline int ktls_set_keys(int s, int direction, const struct ktls_keys *k)
{
	const char *ahead = getenv("KTLS_DECRYPT_AHEAD");

	if (direction == KTLS_RX && ahead && strcmp(ahead, "0") == 0 &&
	    setsockopt(s, SOL_KTLS, KTLS_RX_DECRYPT_AHEAD, &(int){ 0 }, sizeof(int)))
		return -1;
	return setsockopt(s, SOL_KTLS, direction, &k->info, k->len);
}

/* A counter of /proc/net/af_ktls. */
static inline unsigned long long ktls_counter(const char *name)
{
	FILE *f = fopen("/proc/net/af_ktls", "r");
	char key[64];
	unsigned long long value, found = 0;

	KTLS_REQUIRE(f != NULL);
	while (fscanf(f, "%63s %llu", key, &value) == 2)
		if (strcmp(key, name) == 0)
			found = value;
	fclose(f);
	return found;
}

static inline void ktls_pattern(unsigned char *buf, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (unsigned char)(i * 31 + seed + (i >> 8));
}

/* Milliseconds on the monotonic clock. */
static inline long long ktls_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void ktls_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* The scheduler state letter of a task ('R', 'S', 'D', ...), 0 if it is gone. */
static inline char ktls_task_state(pid_t pid, pid_t tid)
{
	char path[64], stat[512];
	FILE *f;
	size_t n;
	char *state;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid, (int)tid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	n = fread(stat, 1, sizeof(stat) - 1, f);
	fclose(f);
	stat[n] = '\0';
	/* "tid (comm) S ...": the state follows the command name. */
	state = strrchr(stat, ')');
	return state && state[1] == ' ' ? state[2] : 0;
}

/* CPU time (user + system) of a task in clock ticks, -1 if it is gone. */
static inline long long ktls_task_cpu_ticks(pid_t pid, pid_t tid)
{
	char path[64], stat[512];
	unsigned long long utime, stime;
	FILE *f;
	size_t n;
	char *p;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid, (int)tid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fread(stat, 1, sizeof(stat) - 1, f);
	fclose(f);
	stat[n] = '\0';
	p = strrchr(stat, ')');
	/* After the command: state (3), then fields 4..13, utime (14), stime (15). */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
			 &utime, &stime) != 2)
		return -1;
	return (long long)(utime + stime);
}

/*
 * Waits until the task sleeps ('S' interruptibly or 'D' uninterruptibly, e.g. on a mutex) for
 * at most `ms`; returns the state letter seen last.
 */
static inline char ktls_wait_task_sleeps(pid_t pid, pid_t tid, long ms)
{
	long long end = ktls_now_ms() + ms;
	char state;

	do {
		state = ktls_task_state(pid, tid);
		if (state == 'S' || state == 'D' || state == 0)
			return state;
		ktls_sleep_ms(1);
	} while (ktls_now_ms() < end);
	return state;
}

/* Reads what arrives on `fd` until it stays quiet for `idle_ms`; returns the byte count. */
static inline size_t ktls_read_until_quiet(int fd, unsigned char *buf, size_t max, int idle_ms)
{
	size_t got = 0;

	while (got < max) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, idle_ms) != 1)
			break;
		n = recv(fd, buf + got, max - got, MSG_DONTWAIT);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

#ifdef KTLS_TEST_WITH_OPENSSL
#include <openssl/evp.h>

/*
 * Seals one record as a peer holding `k` (the receiver's KTLS_RX keys) would send it, with
 * record number `number` (DTLS: epoch << 48 | sequence), outer content type `type` (TLS 1.3: the
 * inner type; the outer one is application_data), `len` bytes of plaintext and, for TLS 1.3,
 * `pad` zero bytes of padding. Writes header, explicit nonce, ciphertext and tag to `out`;
 * returns the record's length. Lengths over the protocol's limits are allowed on purpose.
 *
 * Explicit nonce (TLS 1.2 / DTLS 1.2 AES-GCM): the record number, as OpenSSL and GnuTLS send it.
 */
static inline size_t ktls_seal(struct ktls_keys *k, uint64_t number, uint8_t type,
			       const void *plain, size_t len, size_t pad, unsigned char *out)
{
	struct ktls_key_fields f = ktls_key_fields(k);
	uint16_t version = k->info.version;
	int dtls = version == KTLS_VERSION_DTLS_1_2, tls13 = version == KTLS_VERSION_TLS_1_3;
	int gcm = k->info.cipher_type != KTLS_CIPHER_CHACHA20_POLY1305;
	size_t header_len = dtls ? 13 : 5;
	size_t explicit_len = gcm && !tls13 ? 8 : 0;
	size_t inner_len = len + (tls13 ? 1 + pad : 0);
	size_t payload_len = explicit_len + inner_len + 16;
	unsigned char nonce[12], aad[13], seq[8], *body;
	const EVP_CIPHER *cipher;
	EVP_CIPHER_CTX *ctx;
	int outl, aad_len;

	ktls_put_be64(seq, number);
	/* Header. */
	out[0] = tls13 ? KTLS_RECORD_APPLICATION_DATA : type;
	out[1] = dtls ? 0xfe : 3;
	out[2] = dtls ? 0xfd : 3;
	if (dtls)
		memcpy(out + 3, seq, 8);
	out[header_len - 2] = (unsigned char)(payload_len >> 8);
	out[header_len - 1] = (unsigned char)payload_len;
	/* Nonce. */
	if (explicit_len) {
		memcpy(out + header_len, seq, 8);
		memcpy(nonce, f.salt, 4);
		memcpy(nonce + 4, seq, 8);
	} else {
		if (gcm) {
			memcpy(nonce, f.salt, 4);
			memcpy(nonce + 4, f.iv, 8);
		} else {
			memcpy(nonce, f.iv, 12);
		}
		for (int i = 0; i < 8; i++)
			nonce[4 + i] ^= seq[i];
	}
	/* AAD: TLS 1.3 the header; 1.2 and DTLS the record number, type, version, length. */
	if (tls13) {
		memcpy(aad, out, 5);
		aad_len = 5;
	} else {
		memcpy(aad, seq, 8);
		aad[8] = type;
		aad[9] = out[1];
		aad[10] = out[2];
		aad[11] = (unsigned char)(len >> 8);
		aad[12] = (unsigned char)len;
		aad_len = 13;
	}
	body = out + header_len + explicit_len;
	memcpy(body, plain, len);
	if (tls13) {
		body[len] = type;
		memset(body + len + 1, 0, pad);
	}
	switch (k->info.cipher_type) {
	case KTLS_CIPHER_AES_GCM_256:
		cipher = EVP_aes_256_gcm();
		break;
	case KTLS_CIPHER_CHACHA20_POLY1305:
		cipher = EVP_chacha20_poly1305();
		break;
	default:
		cipher = EVP_aes_128_gcm();
	}
	ctx = EVP_CIPHER_CTX_new();
	KTLS_REQUIRE(ctx != NULL);
	KTLS_REQUIRE(EVP_EncryptInit_ex(ctx, cipher, NULL, NULL, NULL) == 1);
	KTLS_REQUIRE(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL) == 1);
	KTLS_REQUIRE(EVP_EncryptInit_ex(ctx, NULL, NULL, f.key, nonce) == 1);
	KTLS_REQUIRE(EVP_EncryptUpdate(ctx, NULL, &outl, aad, aad_len) == 1);
	KTLS_REQUIRE(EVP_EncryptUpdate(ctx, body, &outl, body, (int)inner_len) == 1);
	KTLS_REQUIRE(EVP_EncryptFinal_ex(ctx, body + outl, &outl) == 1);
	KTLS_REQUIRE(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, body + inner_len) == 1);
	EVP_CIPHER_CTX_free(ctx);
	return header_len + payload_len;
}
#endif /* KTLS_TEST_WITH_OPENSSL */

#endif /* KTLS_TEST_H */
