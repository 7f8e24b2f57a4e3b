// SPDX-License-Identifier: GPL-2.0
/*
 * ktls-stress, the traffic process: lanes of verified data. Each lane is a connected pair with
 * an AF_KTLS socket on each end (or mainline kTLS on one end of a TLS pair) and four threads:
 * a sender and a receiver for each direction, so both directions of each socket are busy at
 * once. Every round picks the next configuration (TLS 1.2, TLS 1.3, DTLS 1.2 times the three
 * ciphers), IPv4/IPv6, keys, payload limits and timeouts from the seed, and the senders move
 * seeded pseudo-random data with random call sizes, methods (send, sendmsg, write, writev,
 * sendfile, splice, vmsplice) and flags (MSG_MORE, MSG_DONTWAIT + poll, MSG_EOR).
 *
 * What the receivers check: TLS delivers exactly the stream that was sent (MSG_PEEK and
 * MSG_WAITALL included), then the end of stream; the record type cmsg says application data;
 * DTLS delivers only datagrams that were sent, each whole (or truncated with MSG_TRUNC), never
 * twice; nothing waits for data that was sent long ago (a lost wakeup). Any difference is a
 * finding. DTLS datagrams may be lost (UDP): losses are counted, not failed.
 */
#include "stress.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/ktls.h>

#ifndef SOL_TLS
#define SOL_TLS 282
#endif
#ifndef TCP_ULP
#define TCP_ULP 31
#endif

#define DTLS_HDR 12 /* our header inside each DTLS record: tag, sequence, length, check */
#define MAX_MSGS 600

struct dir {
	int tx_fd, rx_fd;
	int tx_tcp, rx_tcp; /* the connected sockets under each end */
	bool tx_ktls, rx_ktls;
	uint64_t seed;
	size_t total;      /* TLS: bytes planned */
	_Atomic size_t final_total;
	uint32_t n_msgs;   /* DTLS: records planned */
	size_t payload;    /* DTLS: plaintext bytes per record */
	_Atomic uint32_t sent_msgs;
	_Atomic uint32_t rx_seen;
	_Atomic int tx_done;
	_Atomic uint64_t tx_done_ns;
	unsigned char *data; /* TLS: the stream */
	int file_fd;         /* TLS: the same stream in a tmpfs file, for sendfile */
	char file_path[64];
};

struct lane {
	int index;
	pthread_barrier_t start, end;
	struct rng rng;
	uint64_t round;
	int config;
	uint16_t version, cipher;
	bool dtls, ulp;
	int ulp_side;
	int tcp[2], ktls[2];
	struct dir dir[2];
	_Atomic int failed;
	_Atomic int quit;
	enum op op;
	char what[96];
};

struct worker {
	struct lane *lane;
	int d;     /* direction */
	bool tx;
	int t;
	struct rng rng;
	unsigned char *buf;
	int pipe[2];
};

static size_t max_round;
static int perm[N_CONFIGS];

static uint64_t mix(uint64_t seed, uint64_t block)
{
	uint64_t s = seed ^ (block * 0xd1b54a32d192ed03ull);

	return splitmix64(&s);
}

/* The stream of seed: byte pos of it is a fixed function of (seed, pos). */
static void gen_bytes(uint64_t seed, uint64_t pos, unsigned char *out, size_t len)
{
	for (size_t i = 0; i < len; i++, pos++)
		out[i] = (unsigned char)(mix(seed, pos >> 3) >> (8 * (pos & 7)));
}

static bool stopping(struct lane *l)
{
	return atomic_load(&sh->stop) || atomic_load(&l->failed);
}

static void lane_finding(struct lane *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void lane_finding(struct lane *l, const char *fmt, ...)
{
	char text[384];
	va_list ap;

	if (atomic_exchange(&l->failed, 1))
		return; /* the first one only: the rest follow from it */
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	finding("lane %d round %llu (%s): %s", l->index, (unsigned long long)l->round, l->what, text);
	/* Reset the connections so that every thread of the lane ends its round. */
	if (!l->dtls) {
		struct sockaddr sa = { .sa_family = AF_UNSPEC };

		for (int i = 0; i < 2; i++)
			if (l->tcp[i] >= 0)
				connect(l->tcp[i], &sa, sizeof(sa));
	}
}

static const char *version_name(uint16_t v)
{
	return v == KTLS_VERSION_TLS_1_2 ? "TLS1.2" : v == KTLS_VERSION_TLS_1_3 ? "TLS1.3" : "DTLS1.2";
}

static const char *cipher_name(uint16_t c)
{
	return c == KTLS_CIPHER_AES_GCM_128 ? "aes128gcm" : c == KTLS_CIPHER_AES_GCM_256 ? "aes256gcm" :
									 "chacha20poly1305";
}

/* --- set-up -------------------------------------------------------------------------------- */

static int lane_setup(struct lane *l, int t)
{
	struct rng *r = &l->rng;
	int type;
	int v6 = (int)rnd_below(r, 3);
	uint64_t key_seed = rnd(r);
	uint64_t first = 0;
	uint32_t mtu = 1400;
	uint16_t max_payload = 16384;

	l->config = perm[(l->round + (uint64_t)l->index * 3) % N_CONFIGS];
	l->version = versions[l->config / 3];
	l->cipher = ciphers[l->config % 3];
	l->dtls = l->version == KTLS_VERSION_DTLS_1_2;
	l->ulp = !l->dtls && chance(r, 33);
	l->ulp_side = (int)rnd_below(r, 2);
	l->op = l->dtls ? OP_TRAFFIC_DTLS : l->ulp ? OP_TRAFFIC_ULP : OP_TRAFFIC_TLS;
	type = l->dtls ? SOCK_DGRAM : SOCK_STREAM;
	first = l->dtls ? ((1 + rnd_below(r, 0xfffe)) * (1ull << 48)) | (rnd(r) & 0x3fffffff) :
			  (rnd(r) & 0xffffffff);
	snprintf(l->what, sizeof(l->what), "%s %s%s ip%s", version_name(l->version),
		 cipher_name(l->cipher), l->ulp ? (l->ulp_side ? " ulp-b" : " ulp-a") : "",
		 v6 == 0 ? "v4" : v6 == 1 ? "v6" : "v4-mapped");
	set_note(t, "lane %d setup %s", l->index, l->what);
	l->tcp[0] = l->tcp[1] = l->ktls[0] = l->ktls[1] = -1;
	int tries = 0;

	/* The thread's interrupt signal may end a connect: EINTR is not a finding. */
	while (CALL(t, l->op, "inet_pair", -1, -1, v6, inet_pair(type, 0, v6, l->tcp)) && errno == EINTR &&
	       ++tries < 20)
		;
	if (l->tcp[0] < 0) {
		finding("lane %d: no loopback pair: %s", l->index, errname(errno));
		return -1;
	}
	if (!l->dtls && chance(r, 25))
		max_payload = (uint16_t)(64 + rnd_below(r, 16384 - 64));
	if (l->dtls && chance(r, 30))
		mtu = opt.skip[OP_DTLS_BIG_MTU] ? 200 + rnd_below(r, 3897) : 200 + rnd_below(r, 8800);
	bool set_payload = max_payload != 16384 || (l->dtls && chance(r, 20));

	if (l->dtls && set_payload && max_payload == 16384)
		max_payload = (uint16_t)(64 + rnd_below(r, 2000));
	for (int side = 0; side < 2; side++) {
		unsigned char keys[64];
		struct timeval snd = { 2, 0 };
		struct timeval rcv = (struct timeval[]){ { 0, 50000 }, { 0, 200000 }, { 2, 0 } }
			[rnd_below(r, 3)];

		CALL(t, l->op, "setsockopt(SO_SNDTIMEO)", l->tcp[side], -1, 0,
		     setsockopt(l->tcp[side], SOL_SOCKET, SO_SNDTIMEO, &snd, sizeof(snd)));
		if (l->ulp && side == l->ulp_side) {
			if (CALL(t, l->op, "setsockopt(TCP_ULP)", l->tcp[side], -1, 0,
				 setsockopt(l->tcp[side], IPPROTO_TCP, TCP_ULP, "tls", sizeof("tls")))) {
				finding("lane %d: TCP_ULP tls: %s", l->index, errname(errno));
				return -1;
			}
			for (int tx = 0; tx < 2; tx++) {
				unsigned size = fill_keys(keys, l->version, l->cipher, tx ? side : !side,
							  first, key_seed);

				if (CALL(t, l->op, "setsockopt(SOL_TLS)", l->tcp[side], -1, tx,
					 setsockopt(l->tcp[side], SOL_TLS, tx ? TLS_TX : TLS_RX, keys, size))) {
					finding("lane %d: mainline keys: %s", l->index, errname(errno));
					return -1;
				}
			}
			CALL(t, l->op, "setsockopt(SO_RCVTIMEO)", l->tcp[side], -1, 0,
			     setsockopt(l->tcp[side], SOL_SOCKET, SO_RCVTIMEO, &rcv, sizeof(rcv)));
			continue;
		}
		int s = (int)CALL(t, l->op, "socket(AF_KTLS)", -1, -1, type,
				  socket(ktls_family(), type | SOCK_CLOEXEC, 0));
		struct sockaddr_ktls sa = {
			.sa_family = (uint16_t)ktls_family(), .sa_cipher = l->cipher,
			.sa_version = l->version, .sa_socket = l->tcp[side],
		};

		l->ktls[side] = s;
		if (s < 0 || CALL(t, l->op, "bind", s, l->tcp[side], 0,
				  bind(s, (struct sockaddr *)&sa, sizeof(sa)))) {
			finding("lane %d: AF_KTLS socket/bind (%s): %s", l->index, l->what, errname(errno));
			return -1;
		}
		if (set_payload &&
		    CALL(t, l->op, "setsockopt(KTLS_TX_MAX_PAYLOAD_LEN)", s, -1, max_payload,
			 setsockopt(s, SOL_KTLS, KTLS_TX_MAX_PAYLOAD_LEN, &max_payload, sizeof(max_payload)))) {
			finding("lane %d: KTLS_TX_MAX_PAYLOAD_LEN %u: %s", l->index, max_payload, errname(errno));
			return -1;
		}
		if (l->dtls && mtu != 1400 &&
		    CALL(t, l->op, "setsockopt(KTLS_DTLS_MTU)", s, -1, mtu,
			 setsockopt(s, SOL_KTLS, KTLS_DTLS_MTU, &mtu, sizeof(mtu)))) {
			finding("lane %d: KTLS_DTLS_MTU %u: %s", l->index, mtu, errname(errno));
			return -1;
		}
		for (int tx = 0; tx < 2; tx++) {
			unsigned size = fill_keys(keys, l->version, l->cipher, tx ? side : !side, first,
						  key_seed);

			if (CALL(t, l->op, tx ? "setsockopt(KTLS_TX)" : "setsockopt(KTLS_RX)", s, -1, size,
				 setsockopt(s, SOL_KTLS, tx ? KTLS_TX : KTLS_RX, keys, size))) {
				finding("lane %d: keys (%s): %s", l->index, l->what, errname(errno));
				return -1;
			}
		}
		CALL(t, l->op, "setsockopt(SO_RCVTIMEO)", s, -1, 0,
		     setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &rcv, sizeof(rcv)));
	}
	/* DTLS: what one record carries, so that each of our messages is one datagram. */
	size_t overhead = 13 + (l->cipher == KTLS_CIPHER_CHACHA20_POLY1305 ? 0 : 8) + 16;
	size_t payload = mtu - overhead;

	if (set_payload && max_payload < payload)
		payload = max_payload;
	for (int d = 0; d < 2; d++) {
		struct dir *dir = &l->dir[d];
		int from = d, to = !d;

		dir->tx_tcp = l->tcp[from];
		dir->rx_tcp = l->tcp[to];
		dir->tx_fd = l->ktls[from] >= 0 ? l->ktls[from] : l->tcp[from];
		dir->rx_fd = l->ktls[to] >= 0 ? l->ktls[to] : l->tcp[to];
		dir->tx_ktls = l->ktls[from] >= 0;
		dir->rx_ktls = l->ktls[to] >= 0;
		dir->seed = rnd(r);
		dir->payload = payload;
		dir->total = rnd_size(r, max_round);
		dir->n_msgs = 1 + rnd_below(r, MAX_MSGS);
		atomic_store(&dir->final_total, dir->total);
		atomic_store(&dir->sent_msgs, 0);
		atomic_store(&dir->rx_seen, 0);
		atomic_store(&dir->tx_done, 0);
		atomic_store(&dir->tx_done_ns, 0);
		if (!l->dtls) {
			gen_bytes(dir->seed, 0, dir->data, dir->total);
			if (pwrite(dir->file_fd, dir->data, dir->total, 0) != (ssize_t)dir->total) {
				finding("lane %d: writing the sendfile source: %s", l->index, errname(errno));
				return -1;
			}
		}
	}
	return 0;
}

static void lane_teardown(struct lane *l, int t)
{
	for (int i = 0; i < 2; i++) {
		if (l->ktls[i] >= 0)
			CALL(t, l->op, "close", l->ktls[i], -1, 0, close(l->ktls[i]));
		if (l->tcp[i] >= 0)
			CALL(t, l->op, "close", l->tcp[i], -1, 0, close(l->tcp[i]));
		l->ktls[i] = l->tcp[i] = -1;
	}
}

/* --- sending ------------------------------------------------------------------------------- */

/* Waits up to ms for fd to become ready for events; counts as the lane's call. */
static int wait_ready(struct worker *w, int fd, short events, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = events };

	return (int)CALL(w->t, w->lane->op, "poll", fd, -1, ms, poll(&pfd, 1, ms));
}

static int split_iov(struct worker *w, struct iovec *iov, int max, unsigned char *p, size_t n)
{
	int parts = 1 + (int)rnd_below(&w->rng, (uint32_t)max);
	size_t off = 0;

	for (int i = 0; i < parts; i++) {
		size_t l = i == parts - 1 ? n - off : rnd_below(&w->rng, (uint32_t)(n - off + 1));

		iov[i].iov_base = p + off;
		iov[i].iov_len = l;
		off += l;
	}
	return parts;
}

/* Moves n bytes through the worker's pipe into fd (splice, or vmsplice then splice). */
static long tx_through_pipe(struct worker *w, int fd, unsigned char *p, size_t n, bool vm, int flags)
{
	struct lane *l = w->lane;
	size_t in = 0, out = 0;

	while (in < n) {
		long r;

		if (vm) {
			struct iovec iov = { p + in, n - in };

			r = CALL(w->t, l->op, "vmsplice", w->pipe[1], -1, n - in,
				 vmsplice(w->pipe[1], &iov, 1, 0));
		} else {
			r = CALL(w->t, l->op, "write(pipe)", w->pipe[1], -1, n - in,
				 write(w->pipe[1], p + in, n - in));
		}
		if (r > 0)
			in += (size_t)r;
		else if (r < 0 && errno != EINTR)
			return -1;
	}
	/* Everything in the pipe must reach the socket before any other method is used. */
	while (out < n) {
		long r = CALL(w->t, l->op, "splice", w->pipe[0], fd, n - out,
			      splice(w->pipe[0], NULL, fd, NULL, n - out,
				     (flags & MSG_MORE) ? SPLICE_F_MORE : 0));

		if (r > 0) {
			out += (size_t)r;
		} else if (r < 0 && (errno == EINTR || errno == EAGAIN)) {
			continue;
		} else {
			int err = r == 0 ? EPIPE : errno;

			if (!stopping(l))
				lane_finding(l, "splice into %s: %s with %zu of %zu bytes in the pipe",
					     l->dir[w->d].tx_ktls ? "AF_KTLS" : "mainline", errname(err),
					     n - out, n);
			/* Empty the pipe (its read end does not block) for the next round. */
			while (read(w->pipe[0], w->buf, 65536) > 0)
				;
			errno = err;
			return -1;
		}
	}
	return (long)n;
}

static void tx_stream(struct worker *w)
{
	struct lane *l = w->lane;
	struct dir *d = &l->dir[w->d];
	struct rng *r = &w->rng;
	size_t off = 0, total = d->total;
	uint64_t last_progress = now_ns();

	set_note(w->t, "lane %d dir %d tx fd %d %s", l->index, w->d, d->tx_fd, l->what);
	while (off < total) {
		if (stopping(l)) {
			if (atomic_load(&l->failed))
				break;
			total = off + 1 <= d->total ? off + 1 : d->total; /* end with one last byte */
		}
		size_t n = rnd_size(r, 70000);
		size_t left = total - off;
		bool final = n >= left;

		if (final)
			n = left;
		int flags = MSG_NOSIGNAL;
		uint32_t method = final ? rnd_below(r, 3) : rnd_below(r, 10);

		if (!final) {
			if (chance(r, 25))
				flags |= MSG_MORE;
			else if (chance(r, 5))
				flags |= MSG_EOR;
			if (chance(r, 30) && method < 4)
				flags |= MSG_DONTWAIT;
		}
		unsigned char *p = d->data + off;
		struct iovec iov[8];
		long got;

		if (opt.inject && l->index == 0 && w->d == 0 && l->round == 0 && off == 0) {
			/* --inject-corruption: the receiver must notice this byte. */
			memcpy(w->buf, p, n < 65536 ? n : 65536);
			w->buf[0] ^= 0x20;
			p = w->buf;
			n = n < 65536 ? n : 65536;
			method = 0;
		}
		switch (method) {
		case 0:
			got = CALL(w->t, l->op, "send", d->tx_fd, -1, n, send(d->tx_fd, p, n, flags));
			break;
		case 1: {
			struct msghdr msg = { .msg_iov = iov };

			msg.msg_iovlen = (size_t)split_iov(w, iov, 8, p, n);
			got = CALL(w->t, l->op, "sendmsg", d->tx_fd, -1, n, sendmsg(d->tx_fd, &msg, flags));
			break;
		}
		case 2:
			got = CALL(w->t, l->op, "write", d->tx_fd, -1, n, write(d->tx_fd, p, n));
			break;
		case 3: {
			int cnt = split_iov(w, iov, 8, p, n);

			got = CALL(w->t, l->op, "writev", d->tx_fd, -1, n, writev(d->tx_fd, iov, cnt));
			break;
		}
		case 4: case 5: {
			off_t o = (off_t)off;

			got = CALL(w->t, l->op, "sendfile", d->tx_fd, d->file_fd, n,
				   sendfile(d->tx_fd, d->file_fd, &o, n));
			break;
		}
		case 6: case 7:
			got = tx_through_pipe(w, d->tx_fd, p, n < 65536 ? n : 65536, false, flags);
			break;
		default:
			got = tx_through_pipe(w, d->tx_fd, p, n < 60000 ? n : 60000, true, flags);
			break;
		}
		if (got > 0) {
			off += (size_t)got;
			last_progress = now_ns();
			continue;
		}
		if (got == 0 && n > 0) {
			lane_finding(l, "send of %zu bytes returned 0 at offset %zu", n, off);
			break;
		}
		if (got < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (flags & MSG_DONTWAIT)
				wait_ready(w, d->tx_fd, POLLOUT, 1000);
			if (now_ns() - last_progress > 60ull * 1000000000ull) {
				lane_finding(l, "sender made no progress for 60 s at offset %zu of %zu", off, total);
				break;
			}
			continue;
		}
		if (got < 0 && !stopping(l))
			lane_finding(l, "send (method %u, %zu bytes at offset %zu, flags 0x%x): %s",
				     method, n, off, flags, errname(errno));
		break;
	}
	/* AF_KTLS keeps a record the TCP socket did not take for the next call: make one. */
	while (d->tx_ktls && !atomic_load(&l->failed)) {
		long got = CALL(w->t, l->op, "send(flush)", d->tx_fd, -1, 0, send(d->tx_fd, d->data, 0, 0));

		if (got == 0)
			break;
		if (got < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		lane_finding(l, "final zero-length send: %s", got < 0 ? errname(errno) : "returned data");
		break;
	}
	atomic_store(&d->final_total, off);
	atomic_store(&d->tx_done_ns, now_ns());
	atomic_store(&d->tx_done, 1);
	if (!atomic_load(&l->failed))
		CALL(w->t, l->op, "shutdown(SHUT_WR)", d->tx_tcp, -1, 0, shutdown(d->tx_tcp, SHUT_WR));
}

/* Our header in front of each DTLS record's payload. */
static uint32_t tag_of(struct lane *l, int d)
{
	return (uint32_t)(l->index << 24) ^ (uint32_t)(l->round << 1) ^ (uint32_t)d;
}

static void build_record(struct lane *l, int d, uint32_t seq, unsigned char *p, size_t len)
{
	struct dir *dir = &l->dir[d];
	uint32_t tag = tag_of(l, d), l32 = (uint32_t)len;

	memcpy(p, &tag, 4);
	memcpy(p + 4, &seq, 4);
	memcpy(p + 8, &l32, 4);
	gen_bytes(dir->seed, (uint64_t)seq << 17, p + DTLS_HDR, len - DTLS_HDR);
}

static void tx_datagrams(struct worker *w)
{
	struct lane *l = w->lane;
	struct dir *d = &l->dir[w->d];
	struct rng *r = &w->rng;
	uint32_t seq = 0;
	size_t P = d->payload;
	uint64_t last_progress = now_ns();

	set_note(w->t, "lane %d dir %d tx fd %d %s payload %zu", l->index, w->d, d->tx_fd, l->what, P);
	while (seq < d->n_msgs && !stopping(l)) {
		/*
		 * One record per send: a send that fits one must arrive as one datagram. (Where a
		 * longer send is cut into records is the module's choice: the chaos threads make
		 * those, unverified.)
		 */
		uint32_t k = 1;
		size_t len = 0;

		if (seq + k > d->n_msgs)
			k = d->n_msgs - seq;
		for (uint32_t j = 0; j < k; j++) {
			size_t rl = j < k - 1 ? P : DTLS_HDR + rnd_below(r, (uint32_t)(P - DTLS_HDR + 1));

			build_record(l, w->d, seq + j, w->buf + len, rl);
			len += rl;
		}
		if (opt.inject && l->index == 0 && w->d == 0 && l->round == 0 && seq == 0)
			w->buf[0] ^= 0x20; /* --inject-corruption: its tag is wrong now */
		/* Pacing: keep what the receiver has not read within its buffer. */
		for (int i = 0; i < 250 && (seq - atomic_load(&d->rx_seen)) * (P + 600) > 96 * 1024; i++)
			usleep(2000);
		int flags = MSG_NOSIGNAL | (chance(r, 30) ? MSG_DONTWAIT : 0);
		struct iovec iov[8];
		long got;

		switch (rnd_below(r, 4)) {
		case 0:
			got = CALL(w->t, l->op, "send", d->tx_fd, -1, len, send(d->tx_fd, w->buf, len, flags));
			break;
		case 1: {
			struct msghdr msg = { .msg_iov = iov };

			msg.msg_iovlen = (size_t)split_iov(w, iov, 8, w->buf, len);
			got = CALL(w->t, l->op, "sendmsg", d->tx_fd, -1, len, sendmsg(d->tx_fd, &msg, flags));
			break;
		}
		case 2:
			got = CALL(w->t, l->op, "write", d->tx_fd, -1, len, write(d->tx_fd, w->buf, len));
			break;
		default: {
			int cnt = split_iov(w, iov, 8, w->buf, len);

			got = CALL(w->t, l->op, "writev", d->tx_fd, -1, len, writev(d->tx_fd, iov, cnt));
		}
		}
		if (got == (long)len) {
			seq += k;
			last_progress = now_ns();
		} else if (got > 0) {
			/* Taken in whole records only: each is a datagram. */
			if ((size_t)got % P != 0) {
				lane_finding(l, "DTLS send of %zu bytes (%u records of %zu) took %ld: not a "
					     "record boundary", len, k, P, got);
				break;
			}
			seq += (uint32_t)((size_t)got / P);
			last_progress = now_ns();
		} else if (got < 0 && (errno == EAGAIN || errno == EINTR || errno == ENOBUFS)) {
			if (flags & MSG_DONTWAIT)
				wait_ready(w, d->tx_fd, POLLOUT, 200);
			if (now_ns() - last_progress > 60ull * 1000000000ull) {
				lane_finding(l, "DTLS sender made no progress for 60 s at record %u", seq);
				break;
			}
		} else {
			if (!stopping(l))
				lane_finding(l, "DTLS send of %zu bytes (%u records) at record %u: %s", len, k,
					     seq, got < 0 ? errname(errno) : "0");
			break;
		}
	}
	while (!atomic_load(&l->failed)) {
		long got = CALL(w->t, l->op, "send(flush)", d->tx_fd, -1, 0, send(d->tx_fd, w->buf, 0, 0));

		if (got == 0)
			break;
		if (got < 0 && (errno == EAGAIN || errno == EINTR || errno == ENOBUFS))
			continue;
		lane_finding(l, "final zero-length DTLS send: %s", got < 0 ? errname(errno) : "returned data");
		break;
	}
	atomic_store(&d->sent_msgs, seq);
	atomic_store(&d->tx_done_ns, now_ns());
	atomic_store(&d->tx_done, 1);
}

/* --- receiving ----------------------------------------------------------------------------- */

/* Checks the record type cmsg of a receive that returned data. */
static void check_cmsg(struct worker *w, struct msghdr *msg)
{
	struct lane *l = w->lane;
	struct dir *d = &l->dir[w->d];
	struct cmsghdr *cm = CMSG_FIRSTHDR(msg);

	if (!d->rx_ktls) {
		/* Mainline reports the type at SOL_TLS. */
		if (cm && cm->cmsg_level == SOL_TLS && *CMSG_DATA(cm) != KTLS_RECORD_APPLICATION_DATA)
			lane_finding(l, "mainline receive reported record type %u", *CMSG_DATA(cm));
		return;
	}
	if (!cm || cm->cmsg_level != SOL_KTLS || cm->cmsg_type != KTLS_GET_RECORD_TYPE ||
	    cm->cmsg_len != CMSG_LEN(1) || (msg->msg_flags & MSG_CTRUNC))
		lane_finding(l, "recvmsg with room for a cmsg returned data without "
			     "SOL_KTLS/KTLS_GET_RECORD_TYPE (cmsg %p, flags 0x%x)", (void *)cm,
			     msg->msg_flags);
	else if (*CMSG_DATA(cm) != KTLS_RECORD_APPLICATION_DATA)
		lane_finding(l, "record type %u for application data", *CMSG_DATA(cm));
}

/*
 * Receives once into buf (at most n bytes) with a random method; returns what the call
 * returned. *flags_out gets msg_flags, or -1 when the method does not report them.
 */
static long rx_call(struct worker *w, int fd, unsigned char *buf, size_t n, int flags, int *flags_out)
{
	struct lane *l = w->lane;
	struct iovec iov[8];
	unsigned char cbuf[CMSG_SPACE(8)];
	long got;

	*flags_out = -1;
	switch (rnd_below(&w->rng, 6)) {
	case 0:
		return CALL(w->t, l->op, "recv", fd, -1, n, recv(fd, buf, n, flags));
	case 1: case 2: {
		struct msghdr msg = { .msg_iov = iov };
		bool cm = chance(&w->rng, 70);

		msg.msg_iovlen = (size_t)split_iov(w, iov, 8, buf, n);
		if (cm) {
			msg.msg_control = cbuf;
			msg.msg_controllen = chance(&w->rng, 50) ? CMSG_SPACE(1) : sizeof(cbuf);
		}
		got = CALL(w->t, l->op, "recvmsg", fd, -1, n, recvmsg(fd, &msg, flags));
		*flags_out = msg.msg_flags;
		if (got > 0 && cm)
			check_cmsg(w, &msg);
		return got;
	}
	case 3:
		if (flags & ~MSG_WAITALL)
			return CALL(w->t, l->op, "recv", fd, -1, n, recv(fd, buf, n, flags));
		return CALL(w->t, l->op, "read", fd, -1, n, read(fd, buf, n));
	case 4: {
		int cnt = split_iov(w, iov, 8, buf, n);

		if (flags & ~MSG_WAITALL)
			return CALL(w->t, l->op, "recv", fd, -1, n, recv(fd, buf, n, flags));
		return CALL(w->t, l->op, "readv", fd, -1, n, readv(fd, iov, cnt));
	}
	default: {
		struct sockaddr_storage from;
		socklen_t fromlen = sizeof(from);

		return CALL(w->t, l->op, "recvfrom", fd, -1, n,
			    recvfrom(fd, buf, n, flags, (void *)&from, &fromlen));
	}
	}
}

/* Waits for the rx fd with poll or epoll (level or edge triggered); returns > 0 when ready. */
static int rx_wait(struct worker *w, int epfd, bool use_epoll, int ms)
{
	struct lane *l = w->lane;
	struct dir *d = &l->dir[w->d];

	if (use_epoll) {
		struct epoll_event ev;

		return (int)CALL(w->t, l->op, "epoll_wait", epfd, d->rx_fd, ms, epoll_wait(epfd, &ev, 1, ms));
	}
	return wait_ready(w, d->rx_fd, POLLIN, ms);
}

/*
 * After a wait that timed out: if the sender finished well before the wait began, everything
 * it sent was already queued, so a receive finding data now means the wait missed it.
 */
static void check_missed_wakeup(struct worker *w, uint64_t wait_start, bool use_epoll, bool edge)
{
	struct lane *l = w->lane;
	struct dir *d = &l->dir[w->d];
	uint64_t done = atomic_load(&d->tx_done_ns);
	int fl;

	if (!done || wait_start < done + 300ull * 1000000ull || edge)
		return;
	long got = rx_call(w, d->rx_fd, w->buf, 1, MSG_DONTWAIT | MSG_PEEK, &fl);

	if (got > 0)
		lane_finding(l, "%s on fd %d waited 1 s and saw nothing, yet a receive then returned "
			     "data (the sender finished %.1f s before the wait)",
			     use_epoll ? "epoll_wait" : "poll", d->rx_fd,
			     (double)(wait_start - done) / 1e9);
}

static void rx_stream(struct worker *w)
{
	struct lane *l = w->lane;
	struct dir *d = &l->dir[w->d];
	struct rng *r = &w->rng;
	size_t off = 0;
	uint64_t last_progress = now_ns();
	bool use_epoll = chance(r, 50), edge = use_epoll && chance(r, 50);
	int epfd = -1;
	struct traffic_totals *tt = &sh->traffic[l->config];

	set_note(w->t, "lane %d dir %d rx fd %d %s%s", l->index, w->d, d->rx_fd, l->what,
		 use_epoll ? (edge ? " epoll-et" : " epoll") : " poll");
	if (use_epoll) {
		struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | (edge ? EPOLLET : 0) };

		epfd = (int)CALL(w->t, l->op, "epoll_create1", -1, -1, 0, epoll_create1(EPOLL_CLOEXEC));
		CALL(w->t, l->op, "epoll_ctl", epfd, d->rx_fd, 0, epoll_ctl(epfd, EPOLL_CTL_ADD, d->rx_fd, &ev));
	}
	for (;;) {
		size_t target = atomic_load(&d->final_total);
		bool done = atomic_load(&d->tx_done);

		if (atomic_load(&l->failed))
			break;
		if (done && off >= target)
			break;
		size_t n = rnd_size(r, 70000);
		int flags = 0, fl;
		bool peek = chance(r, 10);

		if (peek)
			flags |= MSG_PEEK;
		if ((!peek || !opt.skip[OP_PEEK_WAITALL]) && chance(r, peek ? 40 : 15))
			flags |= MSG_WAITALL; /* with MSG_PEEK: data of several records at once */
		if (chance(r, 35) || edge)
			flags |= MSG_DONTWAIT;
		long got = rx_call(w, d->rx_fd, w->buf, n, flags, &fl);

		if (got > 0) {
			if (off + (size_t)got > d->total) {
				lane_finding(l, "received %ld bytes at offset %zu: past the %zu sent", got, off, target);
				break;
			}
			if (memcmp(w->buf, d->data + off, (size_t)got) != 0) {
				size_t i = 0;

				while (w->buf[i] == d->data[off + i])
					i++;
				lane_finding(l, "stream corrupted at byte %zu (call of %ld bytes at offset %zu, "
					     "flags 0x%x): got 0x%02x, sent 0x%02x", off + i, got, off, flags,
					     w->buf[i], d->data[off + i]);
				break;
			}
			if (peek) {
				atomic_fetch_add(&tt->peeked, 1);
			} else {
				off += (size_t)got;
				atomic_fetch_add(&tt->bytes, (uint64_t)got);
			}
			last_progress = now_ns();
			continue;
		}
		if (got == 0) {
			if (n == 0)
				continue;
			done = atomic_load(&d->tx_done);
			target = atomic_load(&d->final_total);
			if (!done || off < target)
				lane_finding(l, "end of stream after %zu of %zu bytes", off, target);
			break;
		}
		int err = errno;

		if (err != EAGAIN && err != EINTR) {
			if (!stopping(l))
				lane_finding(l, "receive at offset %zu (%zu bytes, flags 0x%x): %s", off, n,
					     flags, errname(err));
			break;
		}
		if (flags & MSG_DONTWAIT) {
			uint64_t t0 = now_ns();

			if (rx_wait(w, epfd, use_epoll, 1000) == 0)
				check_missed_wakeup(w, t0, use_epoll, edge);
		}
		if (atomic_load(&d->tx_done) && now_ns() - last_progress > 20ull * 1000000000ull) {
			lane_finding(l, "stream stalled at %zu of %zu bytes: the sender finished, nothing "
				     "arrived for 20 s", off, atomic_load(&d->final_total));
			break;
		}
	}
	/* Then the end of the stream (the sender shut its TCP socket down for writing). */
	while (!atomic_load(&l->failed)) {
		int fl;
		long got = rx_call(w, d->rx_fd, w->buf, 100, 0, &fl);

		if (got == 0)
			break;
		if (got > 0) {
			lane_finding(l, "%ld bytes after the end of the stream", got);
			break;
		}
		if (errno != EAGAIN && errno != EINTR) {
			lane_finding(l, "at the end of the stream: %s instead of 0", errname(errno));
			break;
		}
		if (now_ns() - last_progress > 20ull * 1000000000ull) {
			lane_finding(l, "no end of stream 20 s after the sender's shutdown");
			break;
		}
	}
	if (epfd >= 0)
		close(epfd);
}

static void rx_datagrams(struct worker *w)
{
	struct lane *l = w->lane;
	struct dir *d = &l->dir[w->d];
	struct rng *r = &w->rng;
	struct traffic_totals *tt = &sh->traffic[l->config];
	unsigned char seen[MAX_MSGS] = { 0 };
	unsigned char *want = w->buf + 80000;
	uint32_t received = 0;
	uint64_t last_progress = now_ns();
	size_t P = d->payload;
	bool use_epoll = chance(r, 40);
	int epfd = -1;

	set_note(w->t, "lane %d dir %d rx fd %d %s payload %zu", l->index, w->d, d->rx_fd, l->what, P);
	if (use_epoll) {
		struct epoll_event ev = { .events = EPOLLIN };

		epfd = (int)CALL(w->t, l->op, "epoll_create1", -1, -1, 0, epoll_create1(EPOLL_CLOEXEC));
		CALL(w->t, l->op, "epoll_ctl", epfd, d->rx_fd, 0, epoll_ctl(epfd, EPOLL_CTL_ADD, d->rx_fd, &ev));
	}
	while (received < d->n_msgs && !atomic_load(&l->failed)) {
		bool done = atomic_load(&d->tx_done);

		if (done && (received >= atomic_load(&d->sent_msgs) ||
			     now_ns() - last_progress > 1500ull * 1000000ull))
			break;
		bool small = chance(r, 15);
		size_t room = small ? DTLS_HDR + rnd_below(r, (uint32_t)(P - DTLS_HDR)) :
				      P + 1 + rnd_below(r, 200);
		int flags = chance(r, 40) ? MSG_DONTWAIT : 0, fl;
		long got = rx_call(w, d->rx_fd, w->buf, room, flags, &fl);

		if (got < 0) {
			int err = errno;

			if (err != EAGAIN && err != EINTR) {
				if (!stopping(l))
					lane_finding(l, "DTLS receive: %s", errname(err));
				break;
			}
			if (flags & MSG_DONTWAIT)
				rx_wait(w, epfd, use_epoll, 200);
			continue;
		}
		if (got == 0) {
			lane_finding(l, "DTLS receive returned 0 (an empty record was never sent)");
			break;
		}
		uint32_t tag, seq, len;

		if ((size_t)got < DTLS_HDR) {
			lane_finding(l, "DTLS record of %ld bytes: shorter than any sent", got);
			break;
		}
		memcpy(&tag, w->buf, 4);
		memcpy(&seq, w->buf + 4, 4);
		memcpy(&len, w->buf + 8, 4);
		if (tag != tag_of(l, w->d) || seq >= d->n_msgs || len < DTLS_HDR || len > P) {
			lane_finding(l, "DTLS datagram that was never sent: tag 0x%x seq %u len %u (%ld "
				     "bytes received)", tag, seq, len, got);
			break;
		}
		if (seen[seq]) {
			lane_finding(l, "DTLS record %u delivered twice", seq);
			break;
		}
		size_t expect = len <= room ? len : room;

		if ((size_t)got != expect) {
			lane_finding(l, "DTLS send %u of %u bytes (one record fits %zu) arrived as a datagram "
				     "of %ld bytes (read with room for %zu)", seq, len, P, got, room);
			break;
		}
		if (len > room && fl != -1 && !(fl & MSG_TRUNC)) {
			lane_finding(l, "DTLS record %u truncated to %zu without MSG_TRUNC", seq, room);
			break;
		}
		build_record(l, w->d, seq, want, len);
		if (memcmp(w->buf, want, (size_t)got) != 0) {
			size_t i = 0;

			while (w->buf[i] == want[i])
				i++;
			lane_finding(l, "DTLS record %u corrupted at byte %zu of %u", seq, i, len);
			break;
		}
		if (len > room)
			atomic_fetch_add(&tt->truncated, 1);
		seen[seq] = 1;
		received++;
		atomic_fetch_add(&d->rx_seen, 1);
		atomic_fetch_add(&tt->datagrams, 1);
		atomic_fetch_add(&tt->bytes, (uint64_t)got);
		last_progress = now_ns();
	}
	if (!atomic_load(&l->failed)) {
		uint32_t sent = atomic_load(&d->sent_msgs);

		if (sent > received)
			atomic_fetch_add(&tt->lost, sent - received);
		if (sent >= 50 && received == 0)
			lane_finding(l, "DTLS: none of %u records arrived", sent);
	}
	if (epfd >= 0)
		close(epfd);
}

/* --- the lanes ----------------------------------------------------------------------------- */

static void *lane_thread(void *arg)
{
	struct worker *w = arg;
	struct lane *l = w->lane;
	bool leader = w->d == 0 && w->tx;
	char role[16];

	snprintf(role, sizeof(role), "lane %d %c%s", l->index, w->d ? 'b' : 'a', w->tx ? "tx" : "rx");
	w->t = register_thread(role);
	if (opt.traffic_eintr)
		start_interrupt_timer(opt.interrupt_ms * 3);
	for (;;) {
		/* Only the leader decides, and only here: everyone meets at the start barrier. */
		if (leader && !atomic_load(&l->quit)) {
			if (atomic_load(&sh->stop) || lane_setup(l, w->t) != 0)
				atomic_store(&l->quit, 1);
		}
		pthread_barrier_wait(&l->start);
		if (atomic_load(&l->quit))
			break;
		if (w->tx)
			(l->dtls ? tx_datagrams : tx_stream)(w);
		else
			(l->dtls ? rx_datagrams : rx_stream)(w);
		pthread_barrier_wait(&l->end);
		if (leader) {
			if (!atomic_load(&l->failed))
				atomic_fetch_add(&sh->traffic[l->config].rounds, 1);
			if (l->ulp)
				atomic_fetch_add(&sh->ulp_rounds, 1);
			lane_teardown(l, w->t);
			l->round++;
			if (atomic_load(&l->failed)) {
				atomic_store(&sh->abort_run, 1);
				atomic_store(&l->quit, 1);
			}
		}
	}
	if (leader)
		lane_teardown(l, w->t);
	thread_finished(w->t);
	return NULL;
}

int traffic_main(void)
{
	struct rng r = { sh->seed ^ 0x7a11c7a11cull };
	pthread_t threads[MAX_LANES * 4];
	int n = 0;

	ignore_signals();
	max_round = (size_t)opt.max_round_kib * 1024;
	for (int i = 0; i < N_CONFIGS; i++)
		perm[i] = i;
	for (int i = N_CONFIGS - 1; i > 0; i--) {
		int j = (int)rnd_below(&r, (uint32_t)i + 1), tmp = perm[i];

		perm[i] = perm[j];
		perm[j] = tmp;
	}
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";

	for (int i = 0; i < opt.lanes; i++) {
		struct lane *l = calloc(1, sizeof(*l));

		l->index = i;
		l->rng.s = sh->seed ^ (0x51ed270b27ull * (uint64_t)(i + 1));
		l->tcp[0] = l->tcp[1] = l->ktls[0] = l->ktls[1] = -1;
		pthread_barrier_init(&l->start, NULL, 4);
		pthread_barrier_init(&l->end, NULL, 4);
		for (int d = 0; d < 2; d++) {
			struct dir *dir = &l->dir[d];

			dir->data = mmap(NULL, max_round + 1, PROT_READ | PROT_WRITE,
					 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			snprintf(dir->file_path, sizeof(dir->file_path), "%s/ktls-stress-lane-%d-%d-%d",
				 tmp, (int)getpid(), i, d);
			dir->file_fd = open(dir->file_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
			if (dir->data == MAP_FAILED || dir->file_fd < 0) {
				perror("stress: lane buffers");
				return 3;
			}
			unlink(dir->file_path);
		}
		for (int d = 0; d < 2; d++) {
			for (int tx = 1; tx >= 0; tx--) {
				struct worker *w = calloc(1, sizeof(*w));

				w->lane = l;
				w->d = d;
				w->tx = tx;
				w->rng.s = l->rng.s ^ (uint64_t)(d * 2 + tx + 1) * 0x2545f4914f6cdd1dull;
				w->buf = mmap(NULL, 256 * 1024, PROT_READ | PROT_WRITE,
					      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
				if (w->buf == MAP_FAILED || pipe2(w->pipe, O_CLOEXEC) != 0 ||
				    fcntl(w->pipe[0], F_SETFL, O_NONBLOCK) != 0) {
					perror("stress: worker buffers");
					return 3;
				}
				pthread_create(&threads[n++], NULL, lane_thread, w);
			}
		}
	}
	for (int i = 0; i < n; i++)
		pthread_join(threads[i], NULL);
	return 0;
}
