// SPDX-License-Identifier: GPL-2.0
/*
 * ktls-stress, the chaos process: threads applying random operation sequences to a shared pool
 * of file descriptors — AF_KTLS sockets, the sockets they are (or could be) bound to, and every
 * other kind of fd a caller could hand them.
 *
 * File descriptor discipline (so that the tool never hits its own fds by accident): an fd number
 * is used only while its pool slot is held (slot users > 0), or it is private to the thread, or
 * it is a bogus number at or above FD_LIMIT (RLIMIT_NOFILE is lowered to FD_LIMIT, so the kernel
 * never hands those out). Closing a slot that other threads hold does not free its number: the
 * fd is replaced by /dev/null with dup2 (which releases the old file exactly as close does) and
 * the last holder closes it. A thread blocked on the old file keeps it alive, as with close.
 */
#include "stress.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/if_packet.h>
#include <linux/net_tstamp.h>
#include <linux/sockios.h>
#include <linux/tls.h>
#include <linux/udp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/ktls.h>

#ifndef SOL_TLS
#define SOL_TLS 282
#endif
#ifndef TCP_ULP
#define TCP_ULP 31
#endif
#ifndef IPPROTO_UDPLITE
#define IPPROTO_UDPLITE 136
#endif
#ifndef SO_TIMESTAMPING_NEW
#define SO_TIMESTAMPING_NEW 65
#endif
#ifndef MSG_ZEROCOPY
#define MSG_ZEROCOPY 0x4000000
#endif

#define NSLOTS 96
#define FD_LIMIT 2048 /* RLIMIT_NOFILE: numbers from here on are never allocated */
#define DATA_FILE_SIZE (1 << 20)
#define BUF_SIZE (256 * 1024)
#define MAX_CAPTURES 8

enum kind {
	K_EMPTY,
	K_KTLS_STREAM,
	K_KTLS_DGRAM,
	K_TCP,
	K_UDP,
	K_TCP_ULP,
	K_TCP_LISTEN,
	K_TCP_UNCONN,
	K_UDP_UNCONN,
	K_RAW_TCP,
	K_RAW_UDP,
	K_MPTCP,
	K_SCTP,
	K_UDPLITE,
	K_UNIX_STREAM,
	K_UNIX_DGRAM,
	K_PACKET,
	K_PIPE,
	K_FILE,
	K_EPOLL,
	K_DEAD,
	N_KINDS
};

static const char *const kind_name[N_KINDS] = {
	"empty", "ktls-stream", "ktls-dgram", "tcp", "udp", "tcp+ulp", "tcp-listen", "tcp-unconn",
	"udp-unconn", "raw-tcp", "raw-udp", "mptcp", "sctp", "udplite", "unix-stream",
	"unix-dgram", "packet", "pipe", "file", "epoll", "closed",
};

#define KB(k) (1ull << (k))
#define M_KTLS (KB(K_KTLS_STREAM) | KB(K_KTLS_DGRAM))
#define M_TCP (KB(K_TCP) | KB(K_TCP_ULP))
#define M_RAW (KB(K_RAW_TCP) | KB(K_RAW_UDP))
#define M_ANY (((1ull << N_KINDS) - 1) & ~KB(K_EMPTY))
#define M_SOCK (M_ANY & ~(KB(K_PIPE) | KB(K_FILE) | KB(K_EPOLL) | KB(K_DEAD)))

/* What the tool knows about an fd. Copied out with the reference; updated under the lock. */
struct meta {
	int kind;
	int family;       /* AF_INET / AF_INET6 for inet sockets */
	int peer;         /* slot of the other end of a connection, -1 */
	uint32_t peer_gen;
	int bound;        /* AF_KTLS: slot of the socket it was bound to, -1 */
	uint32_t bound_gen;
	int role;         /* 0/1: which end of the pair, i.e. the direction of its sending keys */
	uint64_t key_seed; /* the pair's keys (both ends agree) */
	uint16_t version, cipher;
};

struct slot {
	pthread_mutex_t lock;
	_Atomic int kind; /* a hint for picking; m.kind under the lock is the truth */
	_Atomic int users;
	int fd;
	uint32_t gen;
	bool dead; /* closed while in use: fd is a /dev/null placeholder until the last user */
	struct meta m;
};

struct ref {
	int idx;
	uint32_t gen;
	int fd;
	struct meta m;
};

struct ctx {
	int t;
	int index;
	struct rng rng;
	unsigned char *sbuf, *rbuf;
	unsigned char *edge; /* a writable page followed by a PROT_NONE page */
	int pipe[2];
	int unix_pair[2];
	int data_fd;
	unsigned char cap[MAX_CAPTURES][2048];
	size_t cap_len[MAX_CAPTURES];
	pid_t child;  /* the fork child, at most one at a time */
	int child_t;  /* its status slot: the watchdog sees its calls too */
};

static struct slot pool[NSLOTS];
static int placeholder_fd = -1;
static char data_path[64], trunc_path[64];
static unsigned char *none_pages, *ro_page, *trunc_page;
static _Atomic int live_slots;
static bool udplite_available;

static bool skipped(enum op op)
{
	return opt.skip[op];
}

/* --- the pool ------------------------------------------------------------------------------ */

static void empty_meta(struct meta *m)
{
	memset(m, 0, sizeof(*m));
	m->kind = K_EMPTY;
	m->peer = m->bound = -1;
}

static void clear_slot(struct slot *s)
{
	s->fd = -1;
	s->dead = false;
	s->gen++;
	empty_meta(&s->m);
	atomic_store(&s->kind, K_EMPTY);
	atomic_fetch_sub(&live_slots, 1);
}

static void close_fd(struct ctx *c, enum op op, int fd)
{
	CALL(c->t, op, "close", fd, -1, 0, close(fd));
}

static bool acquire(int idx, struct ref *r)
{
	struct slot *s = &pool[idx];
	bool ok = false;

	pthread_mutex_lock(&s->lock);
	if (s->m.kind != K_EMPTY && s->fd >= 0) {
		atomic_fetch_add(&s->users, 1);
		r->idx = idx;
		r->gen = s->gen;
		r->fd = s->fd;
		r->m = s->m;
		if (s->dead)
			r->m.kind = K_DEAD;
		ok = true;
	}
	pthread_mutex_unlock(&s->lock);
	return ok;
}

static void release(struct ctx *c, struct ref *r)
{
	struct slot *s;
	int fd = -1;

	if (r->idx < 0)
		return;
	s = &pool[r->idx];
	pthread_mutex_lock(&s->lock);
	if (atomic_fetch_sub(&s->users, 1) == 1 && s->dead && s->gen == r->gen) {
		fd = s->fd;
		clear_slot(s);
	}
	pthread_mutex_unlock(&s->lock);
	if (fd >= 0)
		close_fd(c, OP_CLOSE, fd);
	r->idx = -1;
}

/*
 * The AF_KTLS slots created last: a third of the picks of AF_KTLS sockets go there, so that
 * threads meet on the same sockets (same-socket concurrency is where locking bugs live).
 */
#define HOT 6
static _Atomic int hot[HOT] = { -1, -1, -1, -1, -1, -1 };
static _Atomic unsigned hot_pos;

static void make_hot(int idx)
{
	atomic_store(&hot[atomic_fetch_add(&hot_pos, 1) % HOT], idx);
}

/* Picks a random slot whose kind is in mask and holds it. */
static bool pick(struct ctx *c, uint64_t mask, struct ref *r)
{
	int start = (int)rnd_below(&c->rng, NSLOTS);
	int h = atomic_load(&hot[rnd_below(&c->rng, HOT)]);

	r->idx = -1;
	if ((mask & M_KTLS) && chance(&c->rng, 33) && h >= 0 && acquire(h, r)) {
		if (mask & KB(r->m.kind))
			return true;
		release(c, r);
	}
	for (int i = 0; i < NSLOTS; i++) {
		int idx = (start + i) % NSLOTS;

		if (!(mask & KB(atomic_load(&pool[idx].kind))))
			continue;
		if (!acquire(idx, r))
			continue;
		if (mask & KB(r->m.kind))
			return true;
		release(c, r);
	}
	return false;
}

/* Holds slot idx if it still is generation gen (and not closed). */
static bool resolve(struct ctx *c, int idx, uint32_t gen, struct ref *r)
{
	r->idx = -1;
	if (idx < 0 || idx >= NSLOTS || !acquire(idx, r))
		return false;
	if (r->gen == gen && r->m.kind != K_DEAD)
		return true;
	release(c, r);
	return false;
}

/* Puts fd into a free slot; closes it when the pool is full. Returns the slot or -1. */
static int insert(struct ctx *c, int fd, const struct meta *m)
{
	int start = (int)rnd_below(&c->rng, NSLOTS);

	if (fd < 0)
		return -1;
	for (int i = 0; i < NSLOTS; i++) {
		int idx = (start + i) % NSLOTS;
		struct slot *s = &pool[idx];

		if (atomic_load(&s->kind) != K_EMPTY)
			continue;
		pthread_mutex_lock(&s->lock);
		if (s->m.kind == K_EMPTY && s->fd < 0 && atomic_load(&s->users) == 0) {
			s->fd = fd;
			s->m = *m;
			s->gen++;
			s->dead = false;
			atomic_store(&s->kind, m->kind);
			atomic_fetch_add(&live_slots, 1);
			pthread_mutex_unlock(&s->lock);
			if (m->kind == K_KTLS_STREAM || m->kind == K_KTLS_DGRAM)
				make_hot(idx);
			return idx;
		}
		pthread_mutex_unlock(&s->lock);
	}
	close_fd(c, OP_INTERNAL, fd);
	return -1;
}

static void link_peers(int a, int b)
{
	if (a < 0 || b < 0)
		return;
	pthread_mutex_lock(&pool[a].lock);
	uint32_t gen_a = pool[a].gen;

	pthread_mutex_unlock(&pool[a].lock);
	pthread_mutex_lock(&pool[b].lock);
	uint32_t gen_b = pool[b].gen;

	pool[b].m.peer = a;
	pool[b].m.peer_gen = gen_a;
	pthread_mutex_unlock(&pool[b].lock);
	pthread_mutex_lock(&pool[a].lock);
	pool[a].m.peer = b;
	pool[a].m.peer_gen = gen_b;
	pthread_mutex_unlock(&pool[a].lock);
}

/* Updates the metadata of a held slot if it is still the same generation. */
static void update_meta(const struct ref *r, const struct meta *m)
{
	struct slot *s = &pool[r->idx];

	pthread_mutex_lock(&s->lock);
	if (s->gen == r->gen && !s->dead) {
		s->m = *m;
		atomic_store(&s->kind, m->kind);
	}
	pthread_mutex_unlock(&s->lock);
}

/*
 * close() of a held slot. If nobody else holds it, the number is closed for real; otherwise
 * it is replaced by the placeholder (the old file is released as by close, and blocked callers
 * keep their reference) and the last holder closes it.
 */
static void close_ref(struct ctx *c, enum op op, struct ref *r)
{
	struct slot *s = &pool[r->idx];
	int fd = -1;
	bool swap = false;

	pthread_mutex_lock(&s->lock);
	if (s->gen == r->gen && !s->dead) {
		if (atomic_load(&s->users) == 1) {
			fd = s->fd;
			atomic_store(&s->users, 0);
			clear_slot(s);
		} else {
			s->dead = true;
			atomic_store(&s->kind, K_DEAD);
			swap = true;
		}
	}
	pthread_mutex_unlock(&s->lock);
	if (fd >= 0) {
		close_fd(c, op, fd);
		r->idx = -1;
		return;
	}
	if (swap)
		CALL(c->t, op, "close(dup2)", r->fd, placeholder_fd, 0,
		     dup2(placeholder_fd, r->fd));
	release(c, r);
}

static void note_ref(struct ctx *c, const char *what, const struct ref *r)
{
	if (r->m.kind == K_KTLS_STREAM || r->m.kind == K_KTLS_DGRAM)
		set_note(c->t, "%s fd %d %s v%04x c%u bound-slot %d", what, r->fd,
			 kind_name[r->m.kind], r->m.version, r->m.cipher, r->m.bound);
	else
		set_note(c->t, "%s fd %d %s slot %d", what, r->fd, kind_name[r->m.kind], r->idx);
}

/* A bogus fd: negative, or a number the kernel never hands out here. */
static int bogus_fd(struct ctx *c)
{
	switch (rnd_below(&c->rng, 5)) {
	case 0:
		return -1;
	case 1:
		return INT_MAX;
	case 2:
		return INT_MIN;
	case 3:
		return placeholder_fd;
	default:
		return FD_LIMIT + (int)rnd_below(&c->rng, 1000);
	}
}

static bool is_ktls(const struct ref *r)
{
	return r->m.kind == K_KTLS_STREAM || r->m.kind == K_KTLS_DGRAM;
}

/* Picks an AF_KTLS socket most of the time, any fd otherwise. */
static bool pick_target(struct ctx *c, int ktls_percent, struct ref *r)
{
	if (chance(&c->rng, ktls_percent) && pick(c, M_KTLS, r))
		return true;
	return pick(c, M_ANY, r);
}

/* --- keys ---------------------------------------------------------------------------------- */

static uint64_t first_seq(const struct meta *m)
{
	if (m->version == KTLS_VERSION_DTLS_1_2)
		return ((1 + m->key_seed % 3) << 48) | ((m->key_seed >> 8) & 0xff);
	if (m->key_seed % 23 == 0)
		return UINT64_MAX - ((m->key_seed >> 3) & 3); /* sequence exhaustion soon */
	return (m->key_seed >> 16) & 0xffff;
}

/* The keys of a held AF_KTLS socket's direction (tx: its role), as its peer expects them. */
static unsigned pair_keys(unsigned char *buf, const struct meta *m, bool tx)
{
	int direction = tx ? m->role : !m->role;

	return fill_keys(buf, m->version, m->cipher, direction, first_seq(m), m->key_seed);
}

static long set_keys(struct ctx *c, enum op op, const struct ref *r, bool tx)
{
	unsigned char keys[64];
	unsigned size = pair_keys(keys, &r->m, tx);

	return CALL(c->t, op, tx ? "setsockopt(KTLS_TX)" : "setsockopt(KTLS_RX)", r->fd, -1, size,
		    setsockopt(r->fd, SOL_KTLS, tx ? KTLS_TX : KTLS_RX, keys, size));
}

/* --- creating fds -------------------------------------------------------------------------- */

static void make_meta(struct meta *m, int kind, int family)
{
	empty_meta(m);
	m->kind = kind;
	m->family = family;
}

/* Inserts a connected pair with shared key material; returns the two slots. */
static void insert_pair(struct ctx *c, int fds[2], int kind0, int kind1, int family, int slots[2])
{
	struct meta m;
	uint64_t seed = rnd(&c->rng);

	for (int i = 0; i < 2; i++) {
		make_meta(&m, i ? kind1 : kind0, family);
		m.role = i;
		m.key_seed = seed;
		slots[i] = insert(c, fds[i], &m);
	}
	link_peers(slots[0], slots[1]);
}

static int family_of(int v6)
{
	return v6 ? AF_INET6 : AF_INET;
}

static int ktls_socket(struct ctx *c, enum op op, int type)
{
	return (int)CALL(c->t, op, "socket(AF_KTLS)", -1, -1, type,
			 socket(ktls_family(), type | SOCK_CLOEXEC, 0));
}

static int ktls_bind(struct ctx *c, enum op op, int s, int fd, uint16_t version, uint16_t cipher)
{
	struct sockaddr_ktls sa = {
		.sa_family = (uint16_t)ktls_family(), .sa_cipher = cipher, .sa_version = version,
		.sa_socket = fd,
	};

	return (int)CALL(c->t, op, "bind", s, fd, version,
			 bind(s, (struct sockaddr *)&sa, sizeof(sa)));
}

/* Evicts a few slots when the pool is nearly full, so creation keeps working. */
static void make_room(struct ctx *c)
{
	struct ref r;

	for (int i = 0; i < 4 && atomic_load(&live_slots) > NSLOTS * 3 / 4; i++)
		if (pick(c, M_ANY, &r))
			close_ref(c, OP_CLOSE, &r);
}

static void op_socket(struct ctx *c)
{
	const enum op op = OP_SOCKET;
	int fds[2], slots[2], fd;
	int v6 = (int)rnd_below(&c->rng, 3);
	struct meta m;

	make_room(c);
	switch (rnd_below(&c->rng, 21)) {
	case 0: case 1: case 2:
		if (CALL(c->t, op, "inet_pair(tcp)", -1, -1, v6, inet_pair(SOCK_STREAM, 0, v6, fds)) == 0)
			insert_pair(c, fds, K_TCP, K_TCP, family_of(v6), slots);
		break;
	case 3: case 4:
		if (CALL(c->t, op, "inet_pair(udp)", -1, -1, v6, inet_pair(SOCK_DGRAM, 0, v6, fds)) == 0)
			insert_pair(c, fds, K_UDP, K_UDP, family_of(v6), slots);
		break;
	case 5: {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

		fd = (int)CALL(c->t, op, "socket(tcp)", -1, -1, 0, socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
		if (fd < 0)
			break;
		CALL(c->t, op, "bind(tcp)", fd, -1, 0, bind(fd, (void *)&a, sizeof(a)));
		CALL(c->t, op, "listen", fd, -1, 0, listen(fd, 8));
		make_meta(&m, K_TCP_LISTEN, AF_INET);
		insert(c, fd, &m);
		break;
	}
	case 6:
		fd = (int)CALL(c->t, op, "socket(tcp)", -1, -1, v6,
			       socket(family_of(v6), SOCK_STREAM | SOCK_CLOEXEC, 0));
		make_meta(&m, K_TCP_UNCONN, family_of(v6));
		insert(c, fd, &m);
		break;
	case 7:
		fd = (int)CALL(c->t, op, "socket(udp)", -1, -1, v6,
			       socket(family_of(v6), SOCK_DGRAM | SOCK_CLOEXEC, 0));
		make_meta(&m, K_UDP_UNCONN, family_of(v6));
		insert(c, fd, &m);
		break;
	case 8: case 9: {
		/* A raw socket "connected" to loopback is in TCP_ESTABLISHED like a UDP socket. */
		int proto = rnd_below(&c->rng, 2) ? IPPROTO_TCP : IPPROTO_UDP;
		int family = family_of(v6 == 1);
		struct sockaddr_storage a = { 0 };
		socklen_t alen;

		fd = (int)CALL(c->t, op, "socket(raw)", -1, -1, proto,
			       socket(family, SOCK_RAW | SOCK_CLOEXEC, proto));
		if (fd < 0)
			break;
		if (family == AF_INET6) {
			struct sockaddr_in6 *s6 = (void *)&a;

			s6->sin6_family = AF_INET6;
			s6->sin6_addr = in6addr_loopback;
			alen = sizeof(*s6);
		} else {
			struct sockaddr_in *s4 = (void *)&a;

			s4->sin_family = AF_INET;
			s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			alen = sizeof(*s4);
		}
		CALL(c->t, op, "connect(raw)", fd, -1, proto, connect(fd, (void *)&a, alen));
		/* Small receive buffer: raw sockets see every loopback segment of their protocol. */
		int small = 4096;

		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
		make_meta(&m, proto == IPPROTO_TCP ? K_RAW_TCP : K_RAW_UDP, family);
		insert(c, fd, &m);
		break;
	}
	case 10:
		if (CALL(c->t, op, "inet_pair(mptcp)", -1, -1, v6,
			 inet_pair(SOCK_STREAM, IPPROTO_MPTCP, v6 == 1, fds)) == 0)
			insert_pair(c, fds, K_MPTCP, K_MPTCP, family_of(v6 == 1), slots);
		break;
	case 11:
		if (CALL(c->t, op, "inet_pair(sctp)", -1, -1, v6,
			 inet_pair(SOCK_STREAM, IPPROTO_SCTP, v6 == 1, fds)) == 0)
			insert_pair(c, fds, K_SCTP, K_SCTP, family_of(v6 == 1), slots);
		break;
	case 12:
		if (!udplite_available)
			break;
		if (CALL(c->t, op, "inet_pair(udplite)", -1, -1, v6,
			 inet_pair(SOCK_DGRAM, IPPROTO_UDPLITE, v6 == 1, fds)) == 0)
			insert_pair(c, fds, K_UDPLITE, K_UDPLITE, family_of(v6 == 1), slots);
		break;
	case 13: {
		/* A TCP pair whose second end has mainline kTLS (the "tls" ULP), keyed or not. */
		if (CALL(c->t, op, "inet_pair(tcp)", -1, -1, v6, inet_pair(SOCK_STREAM, 0, v6, fds)))
			break;
		insert_pair(c, fds, K_TCP, K_TCP_ULP, family_of(v6), slots);
		struct ref r;

		if (slots[1] < 0 || !acquire(slots[1], &r))
			break;
		CALL(c->t, op, "setsockopt(TCP_ULP)", r.fd, -1, 0,
		     setsockopt(r.fd, IPPROTO_TCP, TCP_ULP, "tls", sizeof("tls")));
		if (chance(&c->rng, 70)) {
			struct meta km = r.m;
			unsigned char keys[64];

			km.version = versions[rnd_below(&c->rng, 2)];
			km.cipher = ciphers[rnd_below(&c->rng, 3)];
			for (int tx = 0; tx < 2; tx++) {
				unsigned size = pair_keys(keys, &km, tx);

				CALL(c->t, op, "setsockopt(SOL_TLS)", r.fd, -1, tx,
				     setsockopt(r.fd, SOL_TLS, tx ? TLS_TX : TLS_RX, keys, size));
			}
			/* The AF_KTLS end binding the other socket uses these. */
			struct ref o;

			if (acquire(slots[0], &o)) {
				struct meta om = o.m;

				om.version = km.version;
				om.cipher = km.cipher;
				update_meta(&o, &om);
				release(c, &o);
			}
			update_meta(&r, &km);
		}
		release(c, &r);
		break;
	}
	case 14:
		if (CALL(c->t, op, "socketpair(unix stream)", -1, -1, 0,
			 socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds)) == 0)
			insert_pair(c, fds, K_UNIX_STREAM, K_UNIX_STREAM, AF_UNIX, slots);
		break;
	case 15:
		if (CALL(c->t, op, "socketpair(unix dgram)", -1, -1, 0,
			 socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, fds)) == 0)
			insert_pair(c, fds, K_UNIX_DGRAM, K_UNIX_DGRAM, AF_UNIX, slots);
		break;
	case 16:
		/* Protocol 0: receives nothing, so it costs nothing. */
		fd = (int)CALL(c->t, op, "socket(packet)", -1, -1, 0,
			       socket(AF_PACKET, (rnd_below(&c->rng, 2) ? SOCK_DGRAM : SOCK_RAW) | SOCK_CLOEXEC, 0));
		make_meta(&m, K_PACKET, AF_PACKET);
		insert(c, fd, &m);
		break;
	case 17:
		if (CALL(c->t, op, "pipe2", -1, -1, 0, pipe2(fds, O_CLOEXEC)) == 0) {
			make_meta(&m, K_PIPE, 0);
			insert(c, fds[0], &m);
			insert(c, fds[1], &m);
		}
		break;
	case 18:
		switch (rnd_below(&c->rng, 4)) {
		case 0:
			fd = (int)CALL(c->t, op, "open(tmpfs)", -1, -1, 0, open(data_path, O_RDWR | O_CLOEXEC));
			break;
		case 1:
			fd = (int)CALL(c->t, op, "open(/dev/null)", -1, -1, 0, open("/dev/null", O_RDWR | O_CLOEXEC));
			break;
		case 2:
			fd = (int)CALL(c->t, op, "eventfd", -1, -1, 0, eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
			break;
		default:
			fd = (int)CALL(c->t, op, "memfd_create", -1, -1, 0, memfd_create("stress", MFD_CLOEXEC));
		}
		make_meta(&m, K_FILE, 0);
		insert(c, fd, &m);
		break;
	case 19:
		fd = (int)CALL(c->t, op, "epoll_create1", -1, -1, 0, epoll_create1(EPOLL_CLOEXEC));
		make_meta(&m, K_EPOLL, 0);
		insert(c, fd, &m);
		break;
	default: {
		/* A TCP socket whose peer closed (CLOSE_WAIT) or a UDP socket whose peer is gone. */
		int type = rnd_below(&c->rng, 2) ? SOCK_STREAM : SOCK_DGRAM;

		if (CALL(c->t, op, "inet_pair", -1, -1, v6, inet_pair(type, 0, v6, fds)))
			break;
		close_fd(c, op, fds[1]);
		make_meta(&m, type == SOCK_STREAM ? K_TCP : K_UDP, family_of(v6));
		m.key_seed = rnd(&c->rng);
		insert(c, fds[0], &m);
	}
	}
}

static void op_ktls_socket(struct ctx *c)
{
	static const int odd_types[] = { SOCK_SEQPACKET, SOCK_RAW, SOCK_RDM, 0, 11, SOCK_PACKET };
	int type = rnd_below(&c->rng, 2) ? SOCK_STREAM : SOCK_DGRAM;
	int protocol = 0, flags = SOCK_CLOEXEC;
	struct meta m;

	make_room(c);
	if (chance(&c->rng, 10))
		type = odd_types[rnd_below(&c->rng, 6)];
	if (chance(&c->rng, 10))
		protocol = (int[]){ IPPROTO_TCP, IPPROTO_UDP, 1, (int)rnd(&c->rng) }[rnd_below(&c->rng, 4)];
	if (chance(&c->rng, 20))
		flags |= SOCK_NONBLOCK;
	int fd = (int)CALL(c->t, OP_KTLS_SOCKET, "socket(AF_KTLS)", -1, -1, type,
			   socket(ktls_family(), type | flags, protocol));

	if (fd < 0)
		return;
	make_meta(&m, type == SOCK_STREAM ? K_KTLS_STREAM : K_KTLS_DGRAM, 0);
	insert(c, fd, &m);
}

/* A pair of connected sockets with AF_KTLS bound and keyed on both ends (or mainline on one). */
static void op_pair(struct ctx *c, bool dtls)
{
	const enum op op = dtls ? OP_DTLS_PAIR : OP_TLS_PAIR;
	int type = dtls ? SOCK_DGRAM : SOCK_STREAM;
	int v6 = (int)rnd_below(&c->rng, 3);
	int fds[2], ks[2] = { -1, -1 };
	bool ulp = !dtls && chance(&c->rng, 20);
	bool close_inner = chance(&c->rng, 25);
	struct meta m[2];

	make_room(c);
	if (CALL(c->t, op, "inet_pair", -1, -1, v6, inet_pair(type, 0, v6, fds)))
		return;
	uint64_t seed = rnd(&c->rng);
	uint16_t version = dtls ? KTLS_VERSION_DTLS_1_2 : versions[rnd_below(&c->rng, 2)];
	uint16_t cipher = ciphers[rnd_below(&c->rng, 3)];

	set_note(c->t, "pair tcp/udp fds %d,%d v%04x c%u", fds[0], fds[1], version, cipher);
	for (int i = 0; i < 2; i++) {
		make_meta(&m[i], dtls ? K_UDP : K_TCP, family_of(v6));
		m[i].role = i;
		m[i].key_seed = seed;
		m[i].version = version;
		m[i].cipher = cipher;
	}
	for (int i = 0; i < 2; i++) {
		if (i == 1 && ulp) {
			unsigned char keys[64];

			CALL(c->t, op, "setsockopt(TCP_ULP)", fds[1], -1, 0,
			     setsockopt(fds[1], IPPROTO_TCP, TCP_ULP, "tls", sizeof("tls")));
			for (int tx = 0; tx < 2; tx++) {
				unsigned size = pair_keys(keys, &m[1], tx);

				CALL(c->t, op, "setsockopt(SOL_TLS)", fds[1], -1, tx,
				     setsockopt(fds[1], SOL_TLS, tx ? TLS_TX : TLS_RX, keys, size));
			}
			m[1].kind = K_TCP_ULP;
			continue;
		}
		ks[i] = ktls_socket(c, op, type);
		if (ks[i] < 0) {
			finding("socket(AF_KTLS, %d): %s", type, errname(errno));
			continue;
		}
		/* Fresh sockets only this thread knows: a valid set-up must work. */
		if (ktls_bind(c, op, ks[i], fds[i], version, cipher) != 0) {
			finding("bind to a fresh connected %s socket: %s", dtls ? "UDP" : "TCP",
				errname(errno));
		} else {
			struct ref tmp = { .fd = ks[i], .m = m[i] };
			uint16_t payload = (uint16_t)(64 + rnd_below(&c->rng, 16384 - 64 + 1));
			uint32_t mtu = 128 + rnd_below(&c->rng, 9000);

			if (chance(&c->rng, 20))
				CALL(c->t, op, "setsockopt(MAX_PAYLOAD)", ks[i], -1, payload,
				     setsockopt(ks[i], SOL_KTLS, KTLS_TX_MAX_PAYLOAD_LEN, &payload, sizeof(payload)));
			if (dtls && chance(&c->rng, 30))
				CALL(c->t, op, "setsockopt(DTLS_MTU)", ks[i], -1, mtu,
				     setsockopt(ks[i], SOL_KTLS, KTLS_DTLS_MTU, &mtu, sizeof(mtu)));
			for (int tx = 0; tx < 2; tx++)
				if (set_keys(c, op, &tmp, tx))
					finding("valid %s keys (v%04x c%u) on a fresh socket: %s",
						tx ? "KTLS_TX" : "KTLS_RX", version, cipher, errname(errno));
		}
	}
	/* Some data on the way, so that receivers find records. */
	if (ks[0] >= 0)
		CALL(c->t, op, "send", ks[0], -1, 0,
		     send(ks[0], c->sbuf, rnd_size(&c->rng, 4000), MSG_DONTWAIT | MSG_NOSIGNAL));
	int inner[2] = { -1, -1 };

	for (int i = 0; i < 2; i++) {
		if (close_inner && ks[i] >= 0) {
			/* The application's fd is not needed after bind: AF_KTLS holds the socket. */
			close_fd(c, op, fds[i]);
		} else {
			inner[i] = insert(c, fds[i], &m[i]);
		}
	}
	link_peers(inner[0], inner[1]);
	for (int i = 0; i < 2; i++) {
		struct meta km = m[i];

		if (ks[i] < 0)
			continue;
		km.kind = dtls ? K_KTLS_DGRAM : K_KTLS_STREAM;
		km.bound = inner[i];
		km.bound_gen = inner[i] >= 0 ? pool[inner[i]].gen : 0;
		km.peer = -1;
		insert(c, ks[i], &km);
	}
}

/* --- bind ---------------------------------------------------------------------------------- */

static uint16_t pick_version(struct ctx *c, int kind)
{
	if (chance(&c->rng, 85)) {
		if (kind == K_KTLS_DGRAM)
			return KTLS_VERSION_DTLS_1_2;
		return versions[rnd_below(&c->rng, 2)];
	}
	return (uint16_t[]){ KTLS_VERSION_TLS_1_2, KTLS_VERSION_TLS_1_3, KTLS_VERSION_DTLS_1_2,
			     0x0302, 0xfeff, 0, (uint16_t)rnd(&c->rng) }[rnd_below(&c->rng, 7)];
}

static uint16_t pick_cipher(struct ctx *c)
{
	if (chance(&c->rng, 90))
		return ciphers[rnd_below(&c->rng, 3)];
	return (uint16_t[]){ 0, 50, 53, 55, (uint16_t)rnd(&c->rng) }[rnd_below(&c->rng, 5)];
}

/* Kinds bind may hand to AF_KTLS: everything but raw sockets while raw-bind is skipped. */
static uint64_t bindable_mask(void)
{
	return skipped(OP_RAW_BIND) ? (M_ANY & ~M_RAW) : M_ANY;
}

static void op_bind(struct ctx *c)
{
	const enum op op = OP_BIND;
	struct ref k, target = { .idx = -1 };
	int fd;

	if (!pick(c, chance(&c->rng, 95) ? M_KTLS : M_ANY, &k))
		return;
	uint32_t choice = rnd_below(&c->rng, 100);

	if (choice < 60) {
		uint64_t mask = k.m.kind == K_KTLS_DGRAM ? KB(K_UDP) : M_TCP;

		if (!pick(c, mask, &target) && !pick(c, bindable_mask(), &target))
			goto out;
		fd = target.fd;
	} else if (choice < 80) {
		if (!pick(c, bindable_mask(), &target))
			goto out;
		fd = target.fd;
	} else if (choice < 85) {
		fd = k.fd;
	} else {
		fd = bogus_fd(c);
	}
	uint16_t version = pick_version(c, k.m.kind), cipher = pick_cipher(c);
	unsigned char addr[256];
	struct sockaddr_ktls sa = {
		.sa_family = (uint16_t)ktls_family(), .sa_cipher = cipher, .sa_version = version,
		.sa_socket = fd,
	};
	socklen_t len = sizeof(sa);

	if (chance(&c->rng, 5))
		sa.sa_reserved = (uint16_t)rnd(&c->rng);
	if (chance(&c->rng, 3))
		sa.sa_family = (uint16_t)rnd_below(&c->rng, 50);
	if (chance(&c->rng, 10))
		len = (socklen_t[]){ 0, 2, 11, 13, 16, 128, rnd_below(&c->rng, 200) }[rnd_below(&c->rng, 7)];
	rnd_bytes(&c->rng, addr, sizeof(addr));
	memcpy(addr, &sa, sizeof(sa));
	if (target.idx >= 0)
		set_note(c->t, "bind ktls fd %d (%s) to fd %d (%s) v%04x c%u len %u", k.fd,
			 kind_name[k.m.kind], fd, kind_name[target.m.kind], version, cipher, len);
	else
		set_note(c->t, "bind ktls fd %d (%s) to fd %d v%04x c%u len %u", k.fd,
			 kind_name[k.m.kind], fd, version, cipher, len);
	if (CALL(c->t, op, "bind", k.fd, fd, version, bind(k.fd, (void *)addr, len)) == 0 &&
	    target.idx >= 0) {
		struct meta m = k.m;

		m.version = version;
		m.cipher = cipher;
		m.bound = target.idx;
		m.bound_gen = target.gen;
		m.role = target.m.role;
		m.key_seed = target.m.key_seed;
		if (target.m.kind == K_TCP_ULP && target.m.version) {
			/* Talking to a mainline end whose keys were chosen at its creation. */
			m.version = target.m.version;
			m.cipher = target.m.cipher;
		}
		update_meta(&k, &m);
		if (chance(&c->rng, 60)) {
			struct ref keyed = k;

			keyed.m = m;
			set_keys(c, op, &keyed, true);
			set_keys(c, op, &keyed, false);
		}
	}
out:
	release(c, &target);
	release(c, &k);
}

static void op_bind_garbage(struct ctx *c)
{
	struct ref k, target = { .idx = -1 };
	unsigned char addr[512];
	int len;

	if (!pick_target(c, 90, &k))
		return;
	rnd_bytes(&c->rng, addr, sizeof(addr));
	if (chance(&c->rng, 70)) {
		struct sockaddr_ktls *sa = (void *)addr;
		int fd = bogus_fd(c);

		sa->sa_family = (uint16_t)ktls_family();
		if (chance(&c->rng, 60) && pick(c, bindable_mask(), &target))
			fd = target.fd;
		memcpy(&sa->sa_socket, &fd, sizeof(fd));
	}
	len = (int[]){ 12, 0, 1, 11, 13, 28, 110, 128, 129, 200, 512, -1 }[rnd_below(&c->rng, 12)];
	set_note(c->t, "bind garbage to fd %d (%s) len %d", k.fd, kind_name[k.m.kind], len);
	CALL(c->t, OP_BIND_GARBAGE, "bind", k.fd, -1, len,
	     bind(k.fd, (void *)addr, (socklen_t)len));
	release(c, &target);
	release(c, &k);
}

/* AF_KTLS bound to a raw IPPROTO_TCP/UDP socket: must be refused (EPROTOTYPE). */
static void op_raw_bind(struct ctx *c)
{
	const enum op op = OP_RAW_BIND;
	int proto = rnd_below(&c->rng, 2) ? IPPROTO_TCP : IPPROTO_UDP;
	int v6 = (int)rnd_below(&c->rng, 2);
	struct sockaddr_storage a = { 0 };
	socklen_t alen;
	struct meta m;

	make_room(c);
	int raw = (int)CALL(c->t, op, "socket(raw)", -1, -1, proto,
			    socket(family_of(v6), SOCK_RAW | SOCK_CLOEXEC, proto));

	if (raw < 0)
		return;
	if (v6) {
		struct sockaddr_in6 *s6 = (void *)&a;

		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_loopback;
		alen = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (void *)&a;

		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		alen = sizeof(*s4);
	}
	CALL(c->t, op, "connect(raw)", raw, -1, proto, connect(raw, (void *)&a, alen));
	int small = 4096;

	setsockopt(raw, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	int type = proto == IPPROTO_TCP ? SOCK_STREAM : SOCK_DGRAM;

	if (chance(&c->rng, 20))
		type = type == SOCK_STREAM ? SOCK_DGRAM : SOCK_STREAM;
	int k = ktls_socket(c, op, type);
	uint16_t version = type == SOCK_STREAM ? versions[rnd_below(&c->rng, 2)] : KTLS_VERSION_DTLS_1_2;
	uint16_t cipher = ciphers[rnd_below(&c->rng, 3)];

	set_note(c->t, "raw ip%s proto %d fd %d, ktls fd %d", v6 ? "v6" : "v4", proto, raw, k);
	if (k >= 0 && ktls_bind(c, op, k, raw, version, cipher) == 0) {
		/* Both sockets are this thread's alone: nothing else can explain a success. */
		finding("bind accepted a raw IPPROTO_%s socket (ip%s) for %s (expected EPROTOTYPE)",
			proto == IPPROTO_TCP ? "TCP" : "UDP", v6 ? "v6" : "v4",
			type == SOCK_STREAM ? "SOCK_STREAM" : "SOCK_DGRAM");
		/* Use it as a bound socket would be used. */
		struct ref tmp = { .fd = k };
		char buf[256];
		struct pollfd pfd = { .fd = k, .events = POLLIN | POLLOUT };

		make_meta(&tmp.m, type == SOCK_STREAM ? K_KTLS_STREAM : K_KTLS_DGRAM, 0);
		tmp.m.version = version;
		tmp.m.cipher = cipher;
		tmp.m.key_seed = rnd(&c->rng);
		set_keys(c, op, &tmp, true);
		set_keys(c, op, &tmp, false);
		CALL(c->t, op, "poll", k, -1, 0, poll(&pfd, 1, 0));
		CALL(c->t, op, "recv", k, -1, 0, recv(k, buf, sizeof(buf), MSG_DONTWAIT));
		CALL(c->t, op, "send", k, -1, 0, send(k, buf, 20, MSG_DONTWAIT | MSG_NOSIGNAL));
	}
	make_meta(&m, proto == IPPROTO_TCP ? K_RAW_TCP : K_RAW_UDP, family_of(v6));
	insert(c, raw, &m);
	if (k >= 0) {
		make_meta(&m, type == SOCK_STREAM ? K_KTLS_STREAM : K_KTLS_DGRAM, 0);
		insert(c, k, &m);
	}
}

/* --- options ------------------------------------------------------------------------------- */

static void op_setsockopt(struct ctx *c)
{
	struct ref r;
	unsigned char val[256];
	int name, len;
	uint32_t choice = rnd_below(&c->rng, 100);

	if (!pick_target(c, 90, &r))
		return;
	rnd_bytes(&c->rng, val, sizeof(val));
	if (choice < 60) {
		bool tx = choice < 30;
		uint32_t how = rnd_below(&c->rng, 100);

		name = tx ? KTLS_TX : KTLS_RX;
		if (how < 65 && is_ktls(&r)) {
			len = (int)pair_keys(val, &r.m, tx);
		} else if (how < 75) {
			struct meta m = r.m;

			m.version = versions[rnd_below(&c->rng, 3)];
			m.cipher = ciphers[rnd_below(&c->rng, 3)];
			len = (int)pair_keys(val, &m, tx);
		} else if (how < 85) {
			len = (int)key_size(ciphers[rnd_below(&c->rng, 3)]);
		} else {
			len = (int)rnd_below(&c->rng, 90);
		}
	} else if (choice < 70) {
		uint16_t v = (uint16_t[]){ 63, 64, 1000, 16384, 16385, 0,
					   (uint16_t)rnd(&c->rng) }[rnd_below(&c->rng, 7)];

		name = KTLS_TX_MAX_PAYLOAD_LEN;
		memcpy(val, &v, 2);
		len = chance(&c->rng, 90) ? 2 : (int)rnd_below(&c->rng, 9);
	} else if (choice < 80) {
		uint32_t v = (uint32_t[]){ 127, 128, 200, 1400, 65507, 65508, 0,
					   (uint32_t)rnd(&c->rng) }[rnd_below(&c->rng, 8)];

		name = KTLS_DTLS_MTU;
		memcpy(val, &v, 4);
		len = chance(&c->rng, 90) ? 4 : (int)rnd_below(&c->rng, 9);
	} else {
		name = chance(&c->rng, 80) ? (int)rnd_below(&c->rng, 20) : (int)rnd(&c->rng);
		len = (int)rnd_below(&c->rng, 90);
	}
	if (chance(&c->rng, 3))
		len = (int[]){ -1, 65536, INT_MAX }[rnd_below(&c->rng, 3)];
	note_ref(c, "setsockopt SOL_KTLS", &r);
	/* Lengths past the buffer only get read (and refused): never written. */
	CALL(c->t, OP_SETSOCKOPT, "setsockopt(SOL_KTLS)", r.fd, -1, name,
	     setsockopt(r.fd, SOL_KTLS, name, val, (socklen_t)len));
	release(c, &r);
}

static void op_getsockopt(struct ctx *c)
{
	struct ref r;
	unsigned char val[128];
	int name = (int[]){ KTLS_TX, KTLS_RX, KTLS_TX_MAX_PAYLOAD_LEN, KTLS_DTLS_MTU, 0, 3,
			    (int)rnd(&c->rng) }[rnd_below(&c->rng, 7)];
	socklen_t len = (socklen_t[]){ 0, 1, 2, 3, 4, 39, 40, 56, 64, 128, (socklen_t)-1 }
		[rnd_below(&c->rng, 11)];

	if (!pick_target(c, 90, &r))
		return;
	if (len > sizeof(val) && len != (socklen_t)-1)
		len = sizeof(val);
	note_ref(c, "getsockopt SOL_KTLS", &r);
	CALL(c->t, OP_GETSOCKOPT, "getsockopt(SOL_KTLS)", r.fd, -1, name,
	     getsockopt(r.fd, SOL_KTLS, name, val, &len));
	release(c, &r);
}

/* Options that put something on a socket's error queue: left out with --skip errqueue. */
static bool errqueue_option(int level, int name)
{
	return (level == SOL_SOCKET && (name == SO_TIMESTAMPING_OLD || name == SO_TIMESTAMPING_NEW ||
					name == SO_ZEROCOPY)) ||
	       (level == IPPROTO_IP && name == IP_RECVERR) ||
	       (level == IPPROTO_IPV6 && name == IPV6_RECVERR);
}

static void op_sockopt_other(struct ctx *c)
{
	struct ref r;
	unsigned char val[128];
	int level = SOL_SOCKET, name = 0, len = sizeof(int), ival = 0;
	uint32_t which = rnd_below(&c->rng, 100);

	if (which < 40) {
		if (!pick(c, M_KTLS, &r) && !pick(c, M_ANY, &r))
			return;
	} else if (which < 80) {
		if (!pick(c, M_TCP | KB(K_UDP), &r) && !pick(c, M_ANY, &r))
			return;
	} else if (!pick(c, M_ANY, &r)) {
		return;
	}
	rnd_bytes(&c->rng, val, sizeof(val));
	switch (rnd_below(&c->rng, 20)) {
	case 0: case 1: {
		/* Timeouts, including 0 (wait forever) and invalid ones. */
		struct timeval tv = (struct timeval[]){
			{ 0, 0 }, { 0, 1000 }, { 0, 50000 }, { 0, 200000 }, { 1, 0 }, { -1, 0 },
			{ 0, 2000000 } }[rnd_below(&c->rng, 7)];

		name = rnd_below(&c->rng, 2) ? SO_RCVTIMEO : SO_SNDTIMEO;
		memcpy(val, &tv, sizeof(tv));
		len = sizeof(tv);
		break;
	}
	case 2:
		name = (int[]){ SO_RCVBUF, SO_SNDBUF, SO_RCVBUFFORCE, SO_SNDBUFFORCE }[rnd_below(&c->rng, 4)];
		ival = (int[]){ 0, 1, 256, 2048, 4096, 1 << 20, INT_MAX }[rnd_below(&c->rng, 7)];
		break;
	case 3: {
		struct linger l = (struct linger[]){ { 1, 0 }, { 1, 1 }, { 0, 0 }, { 1, 100 } }
			[rnd_below(&c->rng, 4)];

		name = SO_LINGER;
		memcpy(val, &l, sizeof(l));
		len = sizeof(l);
		break;
	}
	case 4:
		name = (int[]){ SO_KEEPALIVE, SO_OOBINLINE, SO_REUSEADDR, SO_PRIORITY, SO_MARK,
				SO_TIMESTAMP, SO_TIMESTAMPNS, SO_RXQ_OVFL, SO_PASSCRED,
				SO_BUSY_POLL }[rnd_below(&c->rng, 10)];
		ival = (int[]){ 0, 1, 7, 1000 }[rnd_below(&c->rng, 4)];
		break;
	case 5:
		name = SO_RCVLOWAT;
		ival = (int[]){ 0, 1, 2, 100, 1 << 20, INT_MAX }[rnd_below(&c->rng, 6)];
		break;
	case 6:
		name = SO_PEEK_OFF;
		ival = (int[]){ -1, 0, 1, 5, 1000 }[rnd_below(&c->rng, 5)];
		break;
	case 7:
		level = IPPROTO_TCP;
		name = (int[]){ TCP_NODELAY, TCP_CORK, TCP_MAXSEG, TCP_QUICKACK, TCP_USER_TIMEOUT,
				TCP_NOTSENT_LOWAT, TCP_INQ, TCP_WINDOW_CLAMP, TCP_KEEPIDLE,
				TCP_DEFER_ACCEPT }[rnd_below(&c->rng, 10)];
		ival = (int[]){ 0, 1, 88, 536, 1000, 65535 }[rnd_below(&c->rng, 6)];
		break;
	case 8:
		level = IPPROTO_TCP;
		name = TCP_ULP;
		len = (int)(sizeof("tls"));
		/* Only "tls", which is built in: any other name makes the kernel run modprobe. */
		memcpy(val, "tls", 4);
		break;
	case 9: {
		/* Mainline kTLS keys on whatever this is (only works after TCP_ULP "tls"). */
		struct meta m = r.m;

		m.version = versions[rnd_below(&c->rng, 2)];
		m.cipher = ciphers[rnd_below(&c->rng, 3)];
		level = SOL_TLS;
		name = rnd_below(&c->rng, 2) ? TLS_TX : TLS_RX;
		len = (int)pair_keys(val, &m, name == TLS_TX);
		break;
	}
	case 10:
		level = IPPROTO_TCP;
		if (chance(&c->rng, 20)) {
			/* Repair mode: sends queue without transmitting, receives fail. */
			name = TCP_REPAIR;
			ival = (int[]){ 1, 0, -1 }[rnd_below(&c->rng, 3)];
		} else {
			name = TCP_REPAIR_QUEUE;
			ival = (int)rnd_below(&c->rng, 3);
		}
		break;
	case 11:
		level = IPPROTO_IP;
		name = (int[]){ IP_TOS, IP_TTL, IP_MTU_DISCOVER, IP_RECVTOS, IP_PKTINFO, IP_RECVERR,
				IP_FREEBIND }[rnd_below(&c->rng, 7)];
		ival = (int)rnd_below(&c->rng, 6);
		break;
	case 12:
		level = IPPROTO_IPV6;
		name = (int[]){ IPV6_RECVERR, IPV6_V6ONLY, IPV6_MTU_DISCOVER, IPV6_TCLASS,
				IPV6_ADDRFORM }[rnd_below(&c->rng, 5)];
		ival = name == IPV6_ADDRFORM ? AF_INET : (int)rnd_below(&c->rng, 4);
		break;
	case 13:
		level = IPPROTO_UDP;
		name = (int[]){ UDP_CORK, UDP_SEGMENT, UDP_GRO, 100 /* UDP_ENCAP */ }[rnd_below(&c->rng, 4)];
		ival = (int[]){ 0, 1, 8, 100, 1400 }[rnd_below(&c->rng, 5)];
		break;
	case 14:
		name = SO_TIMESTAMPING_OLD;
		ival = SOF_TIMESTAMPING_TX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE |
		       (chance(&c->rng, 50) ? SOF_TIMESTAMPING_OPT_ID | SOF_TIMESTAMPING_OPT_TSONLY : 0);
		break;
	default:
		/* Anything at any level. */
		level = (int[]){ SOL_SOCKET, IPPROTO_IP, IPPROTO_IPV6, IPPROTO_TCP, IPPROTO_UDP,
				 SOL_KTLS, SOL_TLS, (int)rnd_below(&c->rng, 400) }[rnd_below(&c->rng, 8)];
		name = (int)rnd_below(&c->rng, 80);
		len = (int)rnd_below(&c->rng, 64);
		break;
	}
	if (skipped(OP_ERRQUEUE) && errqueue_option(level, name))
		name = SO_KEEPALIVE, level = SOL_SOCKET;
	/*
	 * Names that make the kernel load modules (TCP_CONGESTION, TCP_ULP with a random name):
	 * modprobe is slow under emulation and waits where signals cannot end it.
	 */
	if (level == IPPROTO_TCP && (name == TCP_CONGESTION || name == TCP_ULP) &&
	    memcmp(val, "tls", 4) != 0)
		name = TCP_NODELAY;
	if (len == sizeof(int) && ival)
		memcpy(val, &ival, sizeof(ival));
	note_ref(c, "sockopt", &r);
	if (chance(&c->rng, 30)) {
		socklen_t glen = (socklen_t)(chance(&c->rng, 80) ? 64 : rnd_below(&c->rng, 8));

		CALL(c->t, OP_SOCKOPT_OTHER, "getsockopt", r.fd, level, name,
		     getsockopt(r.fd, level, name, val, &glen));
	} else {
		CALL(c->t, OP_SOCKOPT_OTHER, "setsockopt", r.fd, level, name,
		     setsockopt(r.fd, level, name, val, (socklen_t)len));
	}
	release(c, &r);
}

/* --- data ---------------------------------------------------------------------------------- */

static int send_flags(struct ctx *c)
{
	static const int invalid[] = { MSG_OOB, MSG_DONTROUTE, MSG_CONFIRM, 0x10 /* MSG_PROBE */,
				       MSG_FASTOPEN, MSG_TRUNC, MSG_PEEK, MSG_WAITALL, MSG_ERRQUEUE,
				       MSG_CMSG_CLOEXEC, MSG_BATCH, MSG_ZEROCOPY };
	uint32_t how = rnd_below(&c->rng, 100);
	int flags = 0;

	if (how < 90) {
		if (chance(&c->rng, 25))
			flags |= MSG_MORE;
		if (chance(&c->rng, 55))
			flags |= MSG_DONTWAIT;
		if (chance(&c->rng, 50))
			flags |= MSG_NOSIGNAL;
		if (chance(&c->rng, 10))
			flags |= MSG_EOR;
		if (how >= 75)
			flags |= invalid[rnd_below(&c->rng, 12)];
	} else {
		flags = (int)rnd(&c->rng);
	}
	if (skipped(OP_ERRQUEUE))
		flags &= ~MSG_ZEROCOPY;
	return flags;
}

static int recv_flags(struct ctx *c)
{
	static const int invalid[] = { MSG_OOB, MSG_ERRQUEUE, MSG_CMSG_CLOEXEC, MSG_MORE, MSG_EOR,
				       MSG_NOSIGNAL, MSG_CONFIRM, MSG_WAITFORONE };
	uint32_t how = rnd_below(&c->rng, 100);
	int flags = 0;

	if (how < 90) {
		if (chance(&c->rng, 20))
			flags |= MSG_PEEK;
		if (chance(&c->rng, 60))
			flags |= MSG_DONTWAIT;
		if (chance(&c->rng, 15))
			flags |= MSG_WAITALL;
		if (chance(&c->rng, 10))
			flags |= MSG_TRUNC;
		if (how >= 80)
			flags |= invalid[rnd_below(&c->rng, 8)];
	} else {
		flags = (int)rnd(&c->rng);
	}
	return flags;
}

/* Random iovecs over buf: some empty, all within len bytes of it. */
static int make_iov(struct ctx *c, struct iovec *iov, int max, unsigned char *buf, size_t len)
{
	int n = (int)rnd_below(&c->rng, (uint32_t)max + 1);
	size_t off = 0;

	for (int i = 0; i < n; i++) {
		size_t l = chance(&c->rng, 10) ? 0 : rnd_size(&c->rng, len / (size_t)(n ? n : 1) + 1);

		if (off + l > len)
			l = len - off;
		iov[i].iov_base = buf + off;
		iov[i].iov_len = l;
		off += l;
	}
	return n;
}

static void op_send(struct ctx *c)
{
	struct ref r;
	struct iovec iov[16];
	size_t len = rnd_size(&c->rng, 128 * 1024);
	int flags = send_flags(c);

	if (!pick_target(c, 80, &r))
		return;
	note_ref(c, "send", &r);
	switch (rnd_below(&c->rng, 6)) {
	case 0:
		CALL(c->t, OP_SEND, "send", r.fd, -1, len, send(r.fd, c->sbuf, len, flags));
		break;
	case 1: {
		struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9),
					  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t tolen = chance(&c->rng, 70) ? sizeof(to) : (socklen_t)rnd_below(&c->rng, 40);

		CALL(c->t, OP_SEND, "sendto", r.fd, -1, len,
		     sendto(r.fd, c->sbuf, len, flags, (void *)&to, tolen));
		break;
	}
	case 2: {
		struct msghdr msg = { .msg_iov = iov };

		msg.msg_iovlen = (size_t)make_iov(c, iov, 16, c->sbuf, len);
		if (chance(&c->rng, 3))
			msg.msg_iovlen = (size_t[]){ 1024, 1025, SIZE_MAX }[rnd_below(&c->rng, 3)];
		if (msg.msg_iovlen > 16)
			msg.msg_iov = (struct iovec *)c->rbuf; /* whatever is there: garbage iovecs */
		CALL(c->t, OP_SEND, "sendmsg", r.fd, -1, flags, sendmsg(r.fd, &msg, flags));
		break;
	}
	case 3:
		CALL(c->t, OP_SEND, "write", r.fd, -1, len, write(r.fd, c->sbuf, len));
		break;
	case 4: {
		int n = make_iov(c, iov, 16, c->sbuf, len);

		CALL(c->t, OP_SEND, "writev", r.fd, -1, n, writev(r.fd, iov, n));
		break;
	}
	default: {
		struct mmsghdr mm[4];
		unsigned vlen = 1 + rnd_below(&c->rng, 4);

		memset(mm, 0, sizeof(mm));
		for (unsigned i = 0; i < vlen; i++) {
			mm[i].msg_hdr.msg_iov = &iov[i * 4];
			mm[i].msg_hdr.msg_iovlen = (size_t)make_iov(c, &iov[i * 4], 4, c->sbuf, len);
		}
		CALL(c->t, OP_SEND, "sendmmsg", r.fd, -1, vlen, sendmmsg(r.fd, mm, vlen, flags));
	}
	}
	release(c, &r);
}

static void op_recv(struct ctx *c)
{
	struct ref r;
	struct iovec iov[16];
	size_t len = chance(&c->rng, 5) ? 0 : rnd_size(&c->rng, 128 * 1024);
	int flags = recv_flags(c);
	unsigned char cbuf[256];

	if (!pick_target(c, 80, &r))
		return;
	note_ref(c, "recv", &r);
	switch (rnd_below(&c->rng, 6)) {
	case 0:
		CALL(c->t, OP_RECV, "recv", r.fd, -1, flags, recv(r.fd, c->rbuf, len, flags));
		break;
	case 1: {
		struct sockaddr_storage from;
		socklen_t fromlen = chance(&c->rng, 80) ? sizeof(from) : (socklen_t)rnd_below(&c->rng, 8);

		CALL(c->t, OP_RECV, "recvfrom", r.fd, -1, flags,
		     recvfrom(r.fd, c->rbuf, len, flags, (void *)&from, &fromlen));
		break;
	}
	case 2: {
		struct msghdr msg = { .msg_iov = iov };

		msg.msg_iovlen = (size_t)make_iov(c, iov, 16, c->rbuf, len);
		if (chance(&c->rng, 70)) {
			msg.msg_control = cbuf;
			msg.msg_controllen = (size_t[]){ CMSG_SPACE(1), CMSG_LEN(0), CMSG_LEN(1), 1, 4,
							 sizeof(cbuf) }[rnd_below(&c->rng, 6)];
		}
		CALL(c->t, OP_RECV, "recvmsg", r.fd, -1, flags, recvmsg(r.fd, &msg, flags));
		break;
	}
	case 3:
		CALL(c->t, OP_RECV, "read", r.fd, -1, len, read(r.fd, c->rbuf, len));
		break;
	case 4: {
		int n = make_iov(c, iov, 16, c->rbuf, len);

		CALL(c->t, OP_RECV, "readv", r.fd, -1, n, readv(r.fd, iov, n));
		break;
	}
	default: {
		struct mmsghdr mm[4];
		unsigned vlen = 1 + rnd_below(&c->rng, 4);

		memset(mm, 0, sizeof(mm));
		for (unsigned i = 0; i < vlen; i++) {
			mm[i].msg_hdr.msg_iov = &iov[i * 4];
			mm[i].msg_hdr.msg_iovlen = (size_t)make_iov(c, &iov[i * 4], 4,
								    c->rbuf + i * (BUF_SIZE / 4),
								    len < BUF_SIZE / 4 ? len : BUF_SIZE / 4);
		}
		/*
		 * Never blocking: recvmmsg stores an error that ends a batch in sk_err, and an
		 * interrupted wait's ERESTARTSYS would come back to the next call on the socket as
		 * errno 512 (mainline's do_recvmmsg, not AF_KTLS).
		 */
		CALL(c->t, OP_RECV, "recvmmsg", r.fd, -1, flags,
		     recvmmsg(r.fd, mm, vlen, (flags & ~MSG_WAITFORONE) | MSG_DONTWAIT, NULL));
	}
	}
	release(c, &r);
}

static void op_cmsg(struct ctx *c)
{
	struct ref r;
	unsigned char cbuf[512];
	size_t controllen = 0;
	struct iovec iov = { c->sbuf, rnd_below(&c->rng, 300) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf };
	int flags = send_flags(c) & ~MSG_ZEROCOPY;

	if (!pick_target(c, 90, &r))
		return;
	memset(cbuf, 0, sizeof(cbuf));
	int n = 1 + (int)rnd_below(&c->rng, 3);

	for (int i = 0; i < n; i++) {
		struct cmsghdr *cm = (void *)(cbuf + controllen);
		size_t data = 1;

		cm->cmsg_level = SOL_KTLS;
		cm->cmsg_type = KTLS_SET_RECORD_TYPE;
		switch (rnd_below(&c->rng, 8)) {
		case 0: case 1: case 2:
			break; /* valid */
		case 3:
			data = (size_t[]){ 0, 2, 8, 100 }[rnd_below(&c->rng, 4)];
			break;
		case 4:
			cm->cmsg_type = (int)rnd_below(&c->rng, 5);
			break;
		case 5: {
			/* SCM_RIGHTS to a non-UNIX socket. */
			int fd = r.fd;

			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			data = sizeof(int);
			memcpy(CMSG_DATA(cm), &fd, sizeof(fd));
			break;
		}
		case 6:
			cm->cmsg_level = (int)rnd_below(&c->rng, 400);
			data = rnd_below(&c->rng, 16);
			break;
		default:
			/* A length beyond the buffer. */
			data = 400 + rnd_below(&c->rng, 1000);
			break;
		}
		unsigned char type = (unsigned char[]){ KTLS_RECORD_CHANGE_CIPHER_SPEC,
							KTLS_RECORD_ALERT, KTLS_RECORD_HANDSHAKE,
							KTLS_RECORD_APPLICATION_DATA, 0, 24,
							(unsigned char)rnd(&c->rng) }[rnd_below(&c->rng, 7)];

		if (cm->cmsg_level == SOL_KTLS && data >= 1 && data < 64)
			*CMSG_DATA(cm) = type;
		cm->cmsg_len = CMSG_LEN(data);
		size_t space = CMSG_SPACE(data < 64 ? data : 0);

		if (controllen + space + CMSG_SPACE(64) > sizeof(cbuf))
			break;
		controllen += space;
	}
	msg.msg_controllen = controllen;
	if (chance(&c->rng, 10))
		msg.msg_controllen = rnd_below(&c->rng, (uint32_t)sizeof(cbuf) + 1);
	note_ref(c, "sendmsg+cmsg", &r);
	CALL(c->t, OP_CMSG, "sendmsg(cmsg)", r.fd, -1, flags, sendmsg(r.fd, &msg, flags));
	release(c, &r);
}

/* An address the kernel cannot copy through as the caller means it. */
static void *bad_pointer(struct ctx *c, bool for_write, size_t *len)
{
	switch (rnd_below(&c->rng, 8)) {
	case 0:
		return NULL;
	case 1:
		return (void *)0x1000; /* below mmap_min_addr: never mapped */
	case 2:
		return (void *)0xffffffff81000000ul; /* kernel */
	case 3:
		return (void *)0x0000800000000000ul; /* just past user space */
	case 4:
		return none_pages + rnd_below(&c->rng, 4096);
	case 5:
		/* Writes fail; reads work. */
		return for_write ? ro_page + rnd_below(&c->rng, 4096) : none_pages;
	case 6:
		return trunc_page + rnd_below(&c->rng, 4096); /* SIGBUS to a user access */
	default: {
		/* Straddles the end of a writable page: the first bytes work, then it faults. */
		size_t head = 1 + rnd_below(&c->rng, 64);

		if (*len <= head)
			*len = head + 1 + rnd_below(&c->rng, 8192);
		return c->edge + 4096 - head;
	}
	}
}

/* A bad address whose bytes cannot be read either: for arrays the kernel follows (iovecs). */
static void *unreadable_pointer(struct ctx *c)
{
	return (void *[]){ NULL, (void *)0x1000, (void *)0xffffffff81000000ul,
			   (void *)0x0000800000000000ul, none_pages + 8, trunc_page }[rnd_below(&c->rng, 6)];
}

static void op_bad_pointer(struct ctx *c)
{
	const enum op op = OP_BAD_POINTER;
	struct ref r;
	size_t len = rnd_size(&c->rng, 70000);
	int flags = MSG_DONTWAIT | MSG_NOSIGNAL;

	if (!pick_target(c, 90, &r))
		return;
	note_ref(c, "bad pointer", &r);
	switch (rnd_below(&c->rng, 10)) {
	case 0: {
		void *p = bad_pointer(c, false, &len);

		CALL(c->t, op, "send", r.fd, -1, (long)p, send(r.fd, p, len, flags));
		break;
	}
	case 1: {
		void *p = bad_pointer(c, true, &len);

		flags = recv_flags(c) | (chance(&c->rng, 80) ? MSG_DONTWAIT : 0);
		CALL(c->t, op, "recv", r.fd, -1, (long)p, recv(r.fd, p, len, flags));
		break;
	}
	case 2: {
		struct iovec iov[3] = { { c->sbuf, 10 }, { NULL, len }, { c->sbuf, 5 } };
		struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 3 };
		uint32_t what = rnd_below(&c->rng, 4);

		iov[1].iov_base = bad_pointer(c, false, &iov[1].iov_len);
		if (what == 1)
			msg.msg_iov = unreadable_pointer(c);
		if (what == 2) {
			msg.msg_control = bad_pointer(c, false, &len);
			msg.msg_controllen = CMSG_SPACE(1);
		}
		if (what == 3) {
			msg.msg_name = bad_pointer(c, false, &len);
			msg.msg_namelen = sizeof(struct sockaddr_in);
		}
		CALL(c->t, op, "sendmsg", r.fd, -1, what, sendmsg(r.fd, &msg, flags | send_flags(c)));
		break;
	}
	case 3: {
		struct iovec iov[2] = { { c->rbuf, 7 }, { NULL, len } };
		struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };
		uint32_t what = rnd_below(&c->rng, 3);

		iov[1].iov_base = bad_pointer(c, true, &iov[1].iov_len);
		if (what == 1) {
			msg.msg_control = bad_pointer(c, true, &len);
			msg.msg_controllen = CMSG_SPACE(1);
		}
		if (what == 2) {
			msg.msg_name = bad_pointer(c, true, &len);
			msg.msg_namelen = 64;
		}
		CALL(c->t, op, "recvmsg", r.fd, -1, what,
		     recvmsg(r.fd, &msg, recv_flags(c) | MSG_DONTWAIT));
		break;
	}
	case 4: {
		void *p = bad_pointer(c, false, &len);
		int name = rnd_below(&c->rng, 2) ? KTLS_TX : KTLS_RX;
		socklen_t size = key_size(ciphers[rnd_below(&c->rng, 3)]);

		CALL(c->t, op, "setsockopt(SOL_KTLS)", r.fd, -1, name,
		     setsockopt(r.fd, SOL_KTLS, name, p, size));
		break;
	}
	case 5: {
		socklen_t glen = 64;
		void *p = bad_pointer(c, true, &len);
		int name = (int[]){ KTLS_TX, KTLS_RX, KTLS_TX_MAX_PAYLOAD_LEN }[rnd_below(&c->rng, 3)];

		if (rnd_below(&c->rng, 2))
			CALL(c->t, op, "getsockopt(optval)", r.fd, -1, name,
			     getsockopt(r.fd, SOL_KTLS, name, p, &glen));
		else
			CALL(c->t, op, "getsockopt(optlen)", r.fd, -1, name,
			     getsockopt(r.fd, SOL_KTLS, name, c->rbuf, p));
		break;
	}
	case 6: {
		void *p = bad_pointer(c, false, &len);

		CALL(c->t, op, "bind", r.fd, -1, (long)p, bind(r.fd, p, sizeof(struct sockaddr_ktls)));
		break;
	}
	case 7: {
		void *p = unreadable_pointer(c);

		if (rnd_below(&c->rng, 2))
			CALL(c->t, op, "writev", r.fd, -1, (long)p, writev(r.fd, p, 2));
		else
			CALL(c->t, op, "readv", r.fd, -1, (long)p, readv(r.fd, p, 2));
		break;
	}
	case 8: {
		void *p = bad_pointer(c, true, &len);

		CALL(c->t, op, "sendfile", r.fd, c->data_fd, (long)p,
		     sendfile(r.fd, c->data_fd, p, len));
		break;
	}
	default: {
		/* Plaintext from a read-only mapping is fine; from a truncated file it is not. */
		void *p = rnd_below(&c->rng, 2) ? (void *)ro_page : (void *)trunc_page;

		CALL(c->t, op, "send", r.fd, -1, (long)p, send(r.fd, p, 4096, flags));
	}
	}
	release(c, &r);
}

static void fill_pipe(struct ctx *c, enum op op, size_t len)
{
	CALL(c->t, op, "write(pipe)", c->pipe[1], -1, len, write(c->pipe[1], c->sbuf, len));
}

static void drain_pipe(struct ctx *c, enum op op)
{
	CALL(c->t, op, "read(pipe)", c->pipe[0], -1, 0, read(c->pipe[0], c->rbuf, BUF_SIZE));
}

static void op_sendfile(struct ctx *c)
{
	struct ref r;
	off_t off = (off_t)rnd_below(&c->rng, DATA_FILE_SIZE);
	size_t len = rnd_size(&c->rng, 300000);

	if (!pick_target(c, 85, &r))
		return;
	note_ref(c, "sendfile", &r);
	if (chance(&c->rng, 10))
		/* Out of the socket: needs splice_read. */
		CALL(c->t, OP_SENDFILE, "sendfile(from socket)", c->pipe[1], r.fd, len,
		     sendfile(c->pipe[1], r.fd, NULL, len));
	else
		CALL(c->t, OP_SENDFILE, "sendfile", r.fd, c->data_fd, len,
		     sendfile(r.fd, c->data_fd, chance(&c->rng, 80) ? &off : NULL, len));
	release(c, &r);
}

static void op_splice(struct ctx *c)
{
	struct ref r;
	size_t len = rnd_size(&c->rng, 70000);
	unsigned flags = (chance(&c->rng, 30) ? SPLICE_F_MORE : 0) |
			 (chance(&c->rng, 50) ? SPLICE_F_NONBLOCK : 0);

	if (!pick_target(c, 85, &r))
		return;
	note_ref(c, "splice", &r);
	if (chance(&c->rng, 65)) {
		fill_pipe(c, OP_SPLICE, rnd_size(&c->rng, 65536));
		CALL(c->t, OP_SPLICE, "splice(pipe->sock)", c->pipe[0], r.fd, len,
		     splice(c->pipe[0], NULL, r.fd, NULL, len, flags));
	} else {
		CALL(c->t, OP_SPLICE, "splice(sock->pipe)", r.fd, c->pipe[1], len,
		     splice(r.fd, NULL, c->pipe[1], NULL, len, flags));
	}
	if (chance(&c->rng, 40))
		drain_pipe(c, OP_SPLICE);
	release(c, &r);
}

static void op_vmsplice(struct ctx *c)
{
	struct ref r;
	struct iovec iov[4];
	size_t len = rnd_size(&c->rng, 65536);
	int n = 1 + make_iov(c, iov, 3, c->sbuf, len);

	iov[n - 1].iov_base = c->sbuf + 1000;
	iov[n - 1].iov_len = rnd_size(&c->rng, 8000);
	if (chance(&c->rng, 10)) {
		size_t bad = 100;

		iov[0].iov_base = bad_pointer(c, false, &bad);
		iov[0].iov_len = bad;
	}
	if (!pick_target(c, 85, &r))
		return;
	note_ref(c, "vmsplice", &r);
	CALL(c->t, OP_VMSPLICE, "vmsplice", c->pipe[1], -1, n,
	     vmsplice(c->pipe[1], iov, (unsigned long)n, chance(&c->rng, 20) ? SPLICE_F_GIFT : 0));
	CALL(c->t, OP_VMSPLICE, "splice(pipe->sock)", c->pipe[0], r.fd, len,
	     splice(c->pipe[0], NULL, r.fd, NULL, 1 + rnd_size(&c->rng, 70000),
		    chance(&c->rng, 50) ? SPLICE_F_NONBLOCK : 0));
	if (chance(&c->rng, 40))
		drain_pipe(c, OP_VMSPLICE);
	release(c, &r);
}

/* --- readiness ----------------------------------------------------------------------------- */

static short poll_events(struct ctx *c)
{
	if (chance(&c->rng, 80))
		return (short)((chance(&c->rng, 80) ? POLLIN : 0) | (chance(&c->rng, 40) ? POLLOUT : 0) |
			       (chance(&c->rng, 20) ? POLLPRI : 0) | (chance(&c->rng, 20) ? POLLRDHUP : 0));
	return (short)rnd(&c->rng);
}

static int poll_timeout(struct ctx *c)
{
	uint32_t how = rnd_below(&c->rng, 100);

	if (how < 40)
		return 0;
	if (how < 85)
		return 1 + (int)rnd_below(&c->rng, 30);
	return -1; /* until data or the interrupt */
}

static void op_poll(struct ctx *c)
{
	struct ref refs[6];
	struct pollfd pfd[6];
	int n = 1 + (int)rnd_below(&c->rng, 6);

	for (int i = 0; i < n; i++) {
		refs[i].idx = -1;
		if (chance(&c->rng, 10) || !pick_target(c, 70, &refs[i]))
			pfd[i].fd = bogus_fd(c);
		else
			pfd[i].fd = refs[i].fd;
		pfd[i].events = poll_events(c);
	}
	if (refs[0].idx >= 0)
		note_ref(c, "poll", &refs[0]);
	if (chance(&c->rng, 15)) {
		fd_set rd, wr, ex;
		struct timeval tv = { 0, (suseconds_t)rnd_below(&c->rng, 20000) };
		int maxfd = -1;

		FD_ZERO(&rd);
		FD_ZERO(&wr);
		FD_ZERO(&ex);
		for (int i = 0; i < n; i++) {
			if (pfd[i].fd < 0 || pfd[i].fd >= FD_SETSIZE || refs[i].idx < 0)
				continue;
			FD_SET(pfd[i].fd, &rd);
			if (pfd[i].events & POLLOUT)
				FD_SET(pfd[i].fd, &wr);
			FD_SET(pfd[i].fd, &ex);
			maxfd = pfd[i].fd > maxfd ? pfd[i].fd : maxfd;
		}
		CALL(c->t, OP_POLL, "select", pfd[0].fd, -1, n, select(maxfd + 1, &rd, &wr, &ex, &tv));
	} else {
		int timeout = poll_timeout(c);

		CALL(c->t, OP_POLL, "poll", pfd[0].fd, n > 1 ? pfd[1].fd : -1, timeout,
		     poll(pfd, (nfds_t)n, timeout));
	}
	for (int i = 0; i < n; i++)
		release(c, &refs[i]);
}

static void op_epoll(struct ctx *c)
{
	struct ref ep, r;
	struct epoll_event ev, evs[16];

	if (!pick(c, KB(K_EPOLL), &ep)) {
		struct meta m;
		int fd = (int)CALL(c->t, OP_EPOLL, "epoll_create1", -1, -1, 0,
				   epoll_create1(EPOLL_CLOEXEC));

		make_meta(&m, K_EPOLL, 0);
		insert(c, fd, &m);
		return;
	}
	uint32_t what = rnd_below(&c->rng, 10);

	if (what < 6) {
		int ctl = (int[]){ EPOLL_CTL_ADD, EPOLL_CTL_ADD, EPOLL_CTL_MOD, EPOLL_CTL_DEL }
			[rnd_below(&c->rng, 4)];

		if (!pick_target(c, 70, &r)) {
			release(c, &ep);
			return;
		}
		ev.events = (uint32_t)poll_events(c) & 0xffff;
		if (chance(&c->rng, 40))
			ev.events |= EPOLLET;
		if (chance(&c->rng, 15))
			ev.events |= EPOLLONESHOT;
		else if (ctl == EPOLL_CTL_ADD && chance(&c->rng, 10))
			ev.events |= EPOLLEXCLUSIVE;
		ev.data.u64 = (uint64_t)r.fd;
		note_ref(c, "epoll_ctl", &r);
		CALL(c->t, OP_EPOLL, "epoll_ctl", ep.fd, r.fd, ctl, epoll_ctl(ep.fd, ctl, r.fd, &ev));
		release(c, &r);
	} else {
		int max = 1 + (int)rnd_below(&c->rng, 16);
		int timeout = poll_timeout(c);
		size_t len = sizeof(evs);
		struct epoll_event *p = chance(&c->rng, 5) ? bad_pointer(c, true, &len) : evs;

		set_note(c->t, "epoll_wait fd %d", ep.fd);
		CALL(c->t, OP_EPOLL, "epoll_wait", ep.fd, -1, timeout, epoll_wait(ep.fd, p, max, timeout));
	}
	release(c, &ep);
}

/* --- shutdown, error queues, connections --------------------------------------------------- */

static void op_shutdown(struct ctx *c, enum op op)
{
	struct ref r;
	uint64_t mask = op == OP_SHUTDOWN_KTLS ? M_KTLS :
			op == OP_SHUTDOWN_TCP ? (M_TCP | KB(K_MPTCP) | KB(K_SCTP) | KB(K_TCP_LISTEN) |
						 KB(K_TCP_UNCONN)) :
						(KB(K_UDP) | KB(K_UDP_UNCONN) | KB(K_UDPLITE));
	int how = chance(&c->rng, 90) ? (int)rnd_below(&c->rng, 3) : (int)rnd(&c->rng);

	if (!pick(c, mask, &r))
		return;
	note_ref(c, "shutdown", &r);
	CALL(c->t, op, "shutdown", r.fd, -1, how, shutdown(r.fd, how));
	release(c, &r);
}

static void op_errqueue(struct ctx *c)
{
	const enum op op = OP_ERRQUEUE;
	struct ref r;
	int one = 1;

	switch (rnd_below(&c->rng, 4)) {
	case 0: {
		/* ICMP port unreachable queued with IP_RECVERR. */
		if (!pick(c, KB(K_UDP), &r))
			return;
		note_ref(c, "recverr+icmp", &r);
		if (r.m.family == AF_INET6) {
			struct sockaddr_in6 to = { .sin6_family = AF_INET6, .sin6_port = htons(9),
						   .sin6_addr = IN6ADDR_LOOPBACK_INIT };

			CALL(c->t, op, "setsockopt(IPV6_RECVERR)", r.fd, -1, 1,
			     setsockopt(r.fd, IPPROTO_IPV6, IPV6_RECVERR, &one, sizeof(one)));
			CALL(c->t, op, "sendto(closed port)", r.fd, -1, 9,
			     sendto(r.fd, c->sbuf, 20, MSG_DONTWAIT, (void *)&to, sizeof(to)));
		} else {
			struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9),
						  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

			CALL(c->t, op, "setsockopt(IP_RECVERR)", r.fd, -1, 1,
			     setsockopt(r.fd, IPPROTO_IP, IP_RECVERR, &one, sizeof(one)));
			CALL(c->t, op, "sendto(closed port)", r.fd, -1, 9,
			     sendto(r.fd, c->sbuf, 20, MSG_DONTWAIT, (void *)&to, sizeof(to)));
		}
		break;
	}
	case 1: {
		/* TX timestamps: every later send on this TCP socket queues one. */
		int flags = SOF_TIMESTAMPING_TX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE |
			    SOF_TIMESTAMPING_OPT_ID | SOF_TIMESTAMPING_OPT_TSONLY;

		if (!pick(c, M_TCP, &r))
			return;
		note_ref(c, "tx timestamps", &r);
		CALL(c->t, op, "setsockopt(SO_TIMESTAMPING)", r.fd, -1, flags,
		     setsockopt(r.fd, SOL_SOCKET, SO_TIMESTAMPING_OLD, &flags, sizeof(flags)));
		if (chance(&c->rng, 30))
			CALL(c->t, op, "send", r.fd, -1, 1, send(r.fd, c->sbuf, 1, MSG_DONTWAIT | MSG_NOSIGNAL));
		break;
	}
	case 2: {
		unsigned char cbuf[512];
		struct iovec iov = { c->rbuf, 2048 };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
				      .msg_controllen = sizeof(cbuf) };

		if (!pick(c, M_TCP | KB(K_UDP) | M_KTLS, &r))
			return;
		note_ref(c, "MSG_ERRQUEUE", &r);
		CALL(c->t, op, "recvmsg(MSG_ERRQUEUE)", r.fd, -1, 0,
		     recvmsg(r.fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT));
		break;
	}
	default:
		/* Zero-copy completions also arrive on the error queue. */
		if (!pick(c, M_TCP, &r))
			return;
		note_ref(c, "zerocopy", &r);
		CALL(c->t, op, "setsockopt(SO_ZEROCOPY)", r.fd, -1, 1,
		     setsockopt(r.fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one)));
		CALL(c->t, op, "send(MSG_ZEROCOPY)", r.fd, -1, 1,
		     send(r.fd, c->sbuf, 100, MSG_ZEROCOPY | MSG_DONTWAIT | MSG_NOSIGNAL));
	}
	release(c, &r);
}

static void op_disconnect(struct ctx *c)
{
	struct ref r;
	struct sockaddr sa = { .sa_family = AF_UNSPEC };

	if (!pick(c, M_TCP | KB(K_UDP), &r))
		return;
	note_ref(c, "disconnect", &r);
	CALL(c->t, OP_DISCONNECT, "connect(AF_UNSPEC)", r.fd, -1, 0, connect(r.fd, &sa, sizeof(sa)));
	if (r.m.kind != K_UDP && chance(&c->rng, 40))
		CALL(c->t, OP_DISCONNECT, "listen", r.fd, -1, 0, listen(r.fd, 2));
	if (r.m.kind == K_UDP && chance(&c->rng, 40)) {
		struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9),
					  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

		CALL(c->t, OP_DISCONNECT, "connect", r.fd, -1, 9, connect(r.fd, (void *)&to, sizeof(to)));
	}
	release(c, &r);
}

static void op_close(struct ctx *c, bool busy)
{
	struct ref r;

	if (busy) {
		/* Someone is inside a call on it right now (most likely blocked). */
		int start = (int)rnd_below(&c->rng, NSLOTS);

		for (int i = 0; i < NSLOTS; i++) {
			int idx = (start + i) % NSLOTS;

			if (atomic_load(&pool[idx].users) > 0 && atomic_load(&pool[idx].kind) != K_DEAD &&
			    acquire(idx, &r)) {
				note_ref(c, "close busy", &r);
				close_ref(c, OP_CLOSE_BUSY, &r);
				return;
			}
		}
		return;
	}
	if (!pick(c, M_ANY, &r))
		return;
	note_ref(c, "close", &r);
	close_ref(c, OP_CLOSE, &r);
}

/* The other end of the connection an AF_KTLS socket is bound to (or of any pair). */
static bool pick_peer(struct ctx *c, uint64_t peer_mask, struct ref *peer)
{
	struct ref k, b;

	if (pick(c, M_KTLS, &k)) {
		bool ok = resolve(c, k.m.bound, k.m.bound_gen, &b);

		release(c, &k);
		if (ok) {
			ok = resolve(c, b.m.peer, b.m.peer_gen, peer) && (peer_mask & KB(peer->m.kind));
			release(c, &b);
			if (ok)
				return true;
			release(c, peer);
		}
	}
	return pick(c, peer_mask, peer);
}

static void op_peer_reset(struct ctx *c)
{
	struct ref p;
	struct linger l = { 1, 0 };

	if (!pick_peer(c, M_TCP, &p))
		return;
	note_ref(c, "peer reset", &p);
	CALL(c->t, OP_PEER_RESET, "setsockopt(SO_LINGER)", p.fd, -1, 0,
	     setsockopt(p.fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)));
	if (chance(&c->rng, 30)) {
		/* A reset without closing: disconnect. */
		struct sockaddr sa = { .sa_family = AF_UNSPEC };

		CALL(c->t, OP_PEER_RESET, "connect(AF_UNSPEC)", p.fd, -1, 0, connect(p.fd, &sa, sizeof(sa)));
		release(c, &p);
	} else {
		close_ref(c, OP_PEER_RESET, &p);
	}
}

static size_t tls_header(unsigned char *b, unsigned char type, uint16_t version, size_t len)
{
	b[0] = type;
	b[1] = (unsigned char)(version >> 8);
	b[2] = (unsigned char)version;
	b[3] = (unsigned char)(len >> 8);
	b[4] = (unsigned char)len;
	return 5;
}

static size_t dtls_header(struct ctx *c, unsigned char *b, unsigned char type, size_t len)
{
	b[0] = type;
	b[1] = 0xfe;
	b[2] = 0xfd;
	b[3] = 0;
	b[4] = (unsigned char)rnd_below(&c->rng, 4); /* epoch 0..3 */
	rnd_bytes(&c->rng, b + 5, 6);
	if (chance(&c->rng, 50))
		memset(b + 5, 0, 4); /* a small sequence number, inside the window */
	b[11] = (unsigned char)(len >> 8);
	b[12] = (unsigned char)len;
	return 13;
}

static void op_peer_garbage(struct ctx *c)
{
	const enum op op = OP_PEER_GARBAGE;
	struct ref p;
	unsigned char *b = c->rbuf + BUF_SIZE / 2;
	size_t n = 0;
	int flags = MSG_DONTWAIT | MSG_NOSIGNAL;

	if (!pick_peer(c, M_TCP | KB(K_UDP), &p))
		return;
	note_ref(c, "peer garbage", &p);
	rnd_bytes(&c->rng, b, 70000);
	if (p.m.kind == K_UDP) {
		switch (rnd_below(&c->rng, 7)) {
		case 0:
			n = rnd_below(&c->rng, 1500);
			break;
		case 1: {
			size_t body = rnd_below(&c->rng, 300);
			size_t claimed = chance(&c->rng, 70) ? body : rnd_below(&c->rng, 65536);

			n = dtls_header(c, b, KTLS_RECORD_APPLICATION_DATA, claimed) + body;
			break;
		}
		case 2: {
			size_t first = dtls_header(c, b, KTLS_RECORD_APPLICATION_DATA, 40) + 40;

			n = first + dtls_header(c, b + first, (unsigned char)rnd(&c->rng), 30) + 30;
			break;
		}
		case 3: {
			static const unsigned char ccs[] = { 20, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 9, 0, 1, 1 };

			memcpy(b, ccs, sizeof(ccs));
			n = sizeof(ccs);
			break;
		}
		case 4:
			n = 0;
			break;
		case 5:
			n = 65507;
			break;
		default: {
			/* One GSO send, split into datagrams of 100 bytes. */
			char cbuf[CMSG_SPACE(sizeof(uint16_t))];
			struct iovec iov = { b, 1000 };
			struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
					      .msg_controllen = sizeof(cbuf) };
			struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
			uint16_t seg = 100;

			cm->cmsg_level = IPPROTO_UDP; /* SOL_UDP */
			cm->cmsg_type = UDP_SEGMENT;
			cm->cmsg_len = CMSG_LEN(sizeof(seg));
			memcpy(CMSG_DATA(cm), &seg, sizeof(seg));
			for (int i = 0; i < 10; i++)
				dtls_header(c, b + 100 * i, KTLS_RECORD_APPLICATION_DATA, 87);
			CALL(c->t, op, "sendmsg(UDP_SEGMENT)", p.fd, -1, 1000, sendmsg(p.fd, &msg, flags));
			release(c, &p);
			return;
		}
		}
	} else {
		uint16_t version = chance(&c->rng, 90) ? 0x0303 : (uint16_t)rnd(&c->rng);

		switch (rnd_below(&c->rng, 8)) {
		case 0:
			n = 1 + rnd_below(&c->rng, 3000);
			break;
		case 1:
			n = tls_header(b, KTLS_RECORD_APPLICATION_DATA, version, rnd_below(&c->rng, 20000));
			break;
		case 2: {
			/* Half a record: the rest never comes (or comes from a later call). */
			size_t len = 17 + rnd_below(&c->rng, 16384 + 256 - 17);

			n = tls_header(b, KTLS_RECORD_APPLICATION_DATA, version, len) + len / 2;
			break;
		}
		case 3: {
			size_t len = 17 + rnd_below(&c->rng, 2000);

			n = tls_header(b, KTLS_RECORD_APPLICATION_DATA, version, len) + len;
			break;
		}
		case 4:
			n = tls_header(b, KTLS_RECORD_APPLICATION_DATA, version,
				       16384 + 256 + 1 + rnd_below(&c->rng, 40000));
			break;
		case 5:
			n = tls_header(b, KTLS_RECORD_APPLICATION_DATA,
				       (uint16_t[]){ 0x0301, 0xfefd, 0x0304, 0 }[rnd_below(&c->rng, 4)], 40) + 40;
			break;
		case 6:
			n = tls_header(b, (unsigned char[]){ 0, 20, 21, 22, 24, 255 }[rnd_below(&c->rng, 6)],
				       version, 30) + 30;
			break;
		default:
			n = 1 + rnd_below(&c->rng, 4); /* part of a header */
			break;
		}
	}
	CALL(c->t, op, "send", p.fd, -1, n, send(p.fd, b, n, flags));
	release(c, &p);
}

/* Urgent data: its byte leaves the stream (unless SO_OOBINLINE) and marks a place in it. */
static void op_peer_urgent(struct ctx *c)
{
	struct ref p;
	size_t n = 1 + (chance(&c->rng, 50) ? rnd_below(&c->rng, 40) : 0);

	if (!pick_peer(c, M_TCP, &p))
		return;
	note_ref(c, "peer urgent", &p);
	CALL(c->t, OP_PEER_URGENT, "send(MSG_OOB)", p.fd, -1, n,
	     send(p.fd, c->sbuf, n, MSG_OOB | MSG_DONTWAIT | MSG_NOSIGNAL));
	release(c, &p);
}

static void op_replay(struct ctx *c)
{
	struct ref r;
	int slot = (int)rnd_below(&c->rng, MAX_CAPTURES);

	if (chance(&c->rng, 50) || c->cap_len[slot] == 0) {
		if (!pick_peer(c, M_TCP | KB(K_UDP), &r))
			return;
		note_ref(c, "capture", &r);
		long got = CALL(c->t, OP_REPLAY, "recv(capture)", r.fd, -1, 0,
				recv(r.fd, c->cap[slot], sizeof(c->cap[slot]), MSG_DONTWAIT));

		c->cap_len[slot] = got > 0 ? (size_t)got : 0;
	} else {
		unsigned char buf[2048];
		size_t n = c->cap_len[slot];

		memcpy(buf, c->cap[slot], n);
		if (chance(&c->rng, 30))
			buf[rnd_below(&c->rng, (uint32_t)n)] ^= (unsigned char)(1 + rnd_below(&c->rng, 255));
		if (!pick(c, M_TCP | KB(K_UDP), &r))
			return;
		note_ref(c, "replay", &r);
		CALL(c->t, OP_REPLAY, "send(replay)", r.fd, -1, n,
		     send(r.fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL));
	}
	release(c, &r);
}

/* --- passing, forking, duplicating --------------------------------------------------------- */

/* The kind of an fd received over a UNIX socket. */
static int classify(int fd, int *family)
{
	int domain = 0, type = 0, protocol = 0;
	socklen_t len = sizeof(int);
	struct stat st;

	*family = 0;
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0) {
		if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode))
			return K_PIPE;
		return K_FILE;
	}
	len = sizeof(int);
	getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len);
	len = sizeof(int);
	getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &len);
	*family = domain;
	if (domain == ktls_family())
		return type == SOCK_DGRAM ? K_KTLS_DGRAM : K_KTLS_STREAM;
	if (domain == AF_UNIX)
		return type == SOCK_STREAM ? K_UNIX_STREAM : K_UNIX_DGRAM;
	if (domain == AF_PACKET)
		return K_PACKET;
	if (type == SOCK_RAW)
		return protocol == IPPROTO_TCP ? K_RAW_TCP : K_RAW_UDP;
	if (protocol == IPPROTO_MPTCP)
		return K_MPTCP;
	if (protocol == IPPROTO_SCTP)
		return K_SCTP;
	if (protocol == IPPROTO_UDPLITE)
		return K_UDPLITE;
	if (protocol == IPPROTO_UDP)
		return K_UDP;
	return K_TCP;
}

static void op_scm_rights(struct ctx *c)
{
	const enum op op = OP_SCM_RIGHTS;
	struct ref refs[4];
	int fds[6], n = 0;
	char cbuf[CMSG_SPACE(sizeof(fds))];

	if (c->unix_pair[0] < 0 || chance(&c->rng, 5)) {
		/* Closing the pair releases what is still in flight (maybe through the GC). */
		if (c->unix_pair[0] >= 0) {
			close_fd(c, op, c->unix_pair[0]);
			close_fd(c, op, c->unix_pair[1]);
		}
		int type = (int[]){ SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET }[rnd_below(&c->rng, 3)];

		if (CALL(c->t, op, "socketpair", -1, -1, type,
			 socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, c->unix_pair))) {
			c->unix_pair[0] = c->unix_pair[1] = -1;
			return;
		}
	}
	int want = 1 + (int)rnd_below(&c->rng, 4);

	for (int i = 0; i < want; i++)
		if (pick_target(c, 60, &refs[n]))
			fds[n] = refs[n].fd, n++;
	int total = n;

	if (chance(&c->rng, 10))
		fds[total++] = c->unix_pair[rnd_below(&c->rng, 2)]; /* a cycle for the GC */
	if (total == 0)
		return;
	struct iovec iov = { c->sbuf, 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			      .msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)total) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)total);
	memcpy(CMSG_DATA(cm), fds, sizeof(int) * (size_t)total);
	set_note(c->t, "scm_rights %d fds, first %d", total, fds[0]);
	CALL(c->t, op, "sendmsg(SCM_RIGHTS)", c->unix_pair[0], fds[0], total,
	     sendmsg(c->unix_pair[0], &msg, MSG_DONTWAIT | MSG_NOSIGNAL));
	for (int i = 0; i < n; i++) {
		if (chance(&c->rng, 40))
			close_ref(c, op, &refs[i]); /* closed in the sender while in flight */
		else
			release(c, &refs[i]);
	}
	if (chance(&c->rng, 30))
		return; /* left in flight */
	char rbuf[CMSG_SPACE(sizeof(int) * 16)];
	struct msghdr rmsg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = rbuf,
			       .msg_controllen = sizeof(rbuf) };

	iov.iov_base = c->rbuf;
	iov.iov_len = 1;
	if (CALL(c->t, op, "recvmsg(SCM_RIGHTS)", c->unix_pair[1], -1, 0,
		 recvmsg(c->unix_pair[1], &rmsg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC)) < 0)
		return;
	for (cm = CMSG_FIRSTHDR(&rmsg); cm; cm = CMSG_NXTHDR(&rmsg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		int got = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		int in[16];

		memcpy(in, CMSG_DATA(cm), sizeof(int) * (size_t)(got < 16 ? got : 16));
		for (int i = 0; i < got && i < 16; i++) {
			struct meta m;
			int family = 0;
			int kind = classify(in[i], &family);

			make_meta(&m, kind, family);
			insert(c, in[i], &m);
		}
	}
}

static void reap_child(struct ctx *c, bool wait)
{
	pid_t got;

	if (c->child <= 0)
		return;
	do {
		if (wait)
			got = (pid_t)CALL(c->t, OP_FORK, "waitpid", -1, -1, c->child,
					  waitpid(c->child, NULL, 0));
		else
			got = waitpid(c->child, NULL, WNOHANG);
	} while (wait && got < 0 && errno == EINTR);
	if (got == c->child || (got < 0 && errno == ECHILD)) {
		c->child = 0;
		/* Killed by its alarm in the middle of a call: that call is over. */
		atomic_store(&sh->threads[c->child_t].start_ns, 0);
	}
}

static void op_fork(struct ctx *c)
{
	struct ref refs[3];
	int fds[3], n = 0;

	reap_child(c, false);
	if (c->child)
		return;
	for (int i = 0; i < 3; i++)
		if (pick_target(c, 70, &refs[n]))
			fds[n] = refs[n].fd, n++;
	if (n == 0)
		return;
	set_note(c->t, "fork with fds %d %d %d", fds[0], n > 1 ? fds[1] : -1, n > 2 ? fds[2] : -1);
	pid_t pid = (pid_t)CALL(c->t, OP_FORK, "fork", fds[0], -1, n, fork());

	if (pid == 0) {
		/*
		 * Only system calls from here on (other threads may have held locks at fork), each
		 * bracketed in this thread's child slot so that the watchdog sees a stuck one.
		 */
		struct rng r = c->rng;
		struct pollfd pfd;
		int t = c->child_t;

		in_fork_child = true;
		atomic_store(&sh->threads[t].tid, (int)getpid());
		alarm(3);
		for (int i = 0; i < 8; i++) {
			int fd = fds[rnd_below(&r, (uint32_t)n)];

			switch (rnd_below(&r, 7)) {
			case 0:
				CALL(t, OP_FORK, "child send", fd, -1, 0,
				     send(fd, c->sbuf, rnd_size(&r, 20000), MSG_DONTWAIT | MSG_NOSIGNAL));
				break;
			case 1:
				CALL(t, OP_FORK, "child recv", fd, -1, 0,
				     recv(fd, c->rbuf, rnd_size(&r, 20000), MSG_DONTWAIT));
				break;
			case 2:
				pfd.fd = fd;
				pfd.events = POLLIN | POLLOUT;
				CALL(t, OP_FORK, "child poll", fd, -1, 10, poll(&pfd, 1, 10));
				break;
			case 3:
				CALL(t, OP_FORK, "child close", fd, -1, 0, close(fd));
				break;
			case 4:
				/* May block until the alarm ends the child. */
				CALL(t, OP_FORK, "child recv(blocking)", fd, -1, 0, recv(fd, c->rbuf, 100, 0));
				break;
			case 5:
				if (!skipped(OP_SHUTDOWN_TCP) && !skipped(OP_SHUTDOWN_UDP))
					CALL(t, OP_FORK, "child shutdown", fd, -1, 0, shutdown(fd, SHUT_RDWR));
				break;
			default: {
				unsigned char keys[64];
				unsigned size = fill_keys(keys, KTLS_VERSION_TLS_1_3, KTLS_CIPHER_AES_GCM_128, 0, 0, 1);

				CALL(t, OP_FORK, "child setsockopt", fd, -1, 0,
				     setsockopt(fd, SOL_KTLS, KTLS_TX, keys, size));
			}
			}
		}
		_exit(0);
	}
	if (pid > 0) {
		c->child = pid;
		atomic_fetch_add(&sh->fork_children, 1);
	}
	for (int i = 0; i < n; i++)
		release(c, &refs[i]);
}

static void op_dup(struct ctx *c)
{
	struct ref r;

	if (!pick_target(c, 60, &r))
		return;
	note_ref(c, "dup", &r);
	int fd = (int)CALL(c->t, OP_DUP, "fcntl(F_DUPFD_CLOEXEC)", r.fd, -1, 0,
			   fcntl(r.fd, F_DUPFD_CLOEXEC, 3));
	struct meta m = r.m;

	m.peer = -1;
	if (fd >= 0 && r.m.kind != K_DEAD)
		insert(c, fd, &m);
	else if (fd >= 0)
		close_fd(c, OP_DUP, fd);
	release(c, &r);
}

static void op_misc(struct ctx *c)
{
	const enum op op = OP_MISC;
	struct ref r;
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);
	int val = 0;

	if (!pick_target(c, 90, &r))
		return;
	note_ref(c, "misc", &r);
	rnd_bytes(&c->rng, &sa, sizeof(sa));
	switch (rnd_below(&c->rng, 11)) {
	case 0:
		CALL(c->t, op, "connect", r.fd, -1, 0, connect(r.fd, (void *)&sa, (socklen_t)rnd_below(&c->rng, 64)));
		break;
	case 1:
		CALL(c->t, op, "listen", r.fd, -1, 0, listen(r.fd, 5));
		break;
	case 2:
		CALL(c->t, op, "accept4", r.fd, -1, 0, accept4(r.fd, NULL, NULL, SOCK_NONBLOCK));
		break;
	case 3:
		CALL(c->t, op, "getsockname", r.fd, -1, 0, getsockname(r.fd, (void *)&sa, &len));
		break;
	case 4:
		CALL(c->t, op, "getpeername", r.fd, -1, 0, getpeername(r.fd, (void *)&sa, &len));
		break;
	case 5: {
		/* Only socket ioctls: the device ones (SIOCSIF*) could take loopback down. */
		unsigned long cmd = (unsigned long[]){ FIONREAD, SIOCOUTQ, SIOCOUTQNSD, SIOCATMARK,
						       FIONBIO, 0xAB00 | rnd_below(&c->rng, 256) }
			[rnd_below(&c->rng, 6)];

		CALL(c->t, op, "ioctl", r.fd, -1, (long)cmd, ioctl(r.fd, cmd, &val));
		break;
	}
	case 6: {
		void *p = (void *)CALL(c->t, op, "mmap", r.fd, -1, 0,
				       mmap(NULL, 4096, PROT_READ, MAP_SHARED, r.fd, 0));

		if (p != MAP_FAILED)
			munmap(p, 4096);
		break;
	}
	case 7: {
		long fl = CALL(c->t, op, "fcntl(F_GETFL)", r.fd, -1, 0, fcntl(r.fd, F_GETFL));

		if (fl >= 0)
			CALL(c->t, op, "fcntl(F_SETFL)", r.fd, -1, fl ^ O_NONBLOCK,
			     fcntl(r.fd, F_SETFL, (int)(fl ^ O_NONBLOCK)));
		break;
	}
	case 8: {
		int pair[2];

		if (CALL(c->t, op, "socketpair(AF_KTLS)", -1, -1, 0,
			 socketpair(ktls_family(), SOCK_STREAM, 0, pair)) == 0) {
			close(pair[0]);
			close(pair[1]);
		}
		break;
	}
	case 9: {
		char path[64];

		snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", r.fd);
		int fd = (int)CALL(c->t, op, "open(fdinfo)", r.fd, -1, 0, open(path, O_RDONLY | O_CLOEXEC));

		if (fd >= 0) {
			CALL(c->t, op, "read(fdinfo)", fd, -1, 0, read(fd, c->rbuf, 4096));
			close(fd);
		}
		break;
	}
	default: {
		socklen_t vlen = sizeof(val);
		int name = (int[]){ SO_ERROR, SO_TYPE, SO_PROTOCOL, SO_DOMAIN, SO_ACCEPTCONN,
				    SO_RCVBUF }[rnd_below(&c->rng, 6)];

		CALL(c->t, op, "getsockopt(SOL_SOCKET)", r.fd, -1, name,
		     getsockopt(r.fd, SOL_SOCKET, name, &val, &vlen));
	}
	}
	release(c, &r);
}

static void op_proc(struct ctx *c)
{
	static const char *const files[] = { "/proc/net/af_ktls", "/sys/module/af_ktls/parameters/family",
					     "/proc/net/protocols", "/proc/net/sockstat",
					     "/proc/net/sockstat6" };
	const char *path = files[rnd_below(&c->rng, 5)];

	set_note(c->t, "read %s", path);
	int fd = (int)CALL(c->t, OP_PROC, "open", -1, -1, 0, open(path, O_RDONLY | O_CLOEXEC));

	if (fd < 0)
		return;
	while (CALL(c->t, OP_PROC, "read", fd, -1, 0, read(fd, c->rbuf, 4096)) > 0)
		;
	close(fd);
}

/* --- the threads --------------------------------------------------------------------------- */

static void run_op(struct ctx *c, enum op op)
{
	switch (op) {
	case OP_SOCKET: op_socket(c); break;
	case OP_KTLS_SOCKET: op_ktls_socket(c); break;
	case OP_TLS_PAIR: op_pair(c, false); break;
	case OP_DTLS_PAIR: op_pair(c, true); break;
	case OP_BIND: op_bind(c); break;
	case OP_BIND_GARBAGE: op_bind_garbage(c); break;
	case OP_RAW_BIND: op_raw_bind(c); break;
	case OP_SETSOCKOPT: op_setsockopt(c); break;
	case OP_GETSOCKOPT: op_getsockopt(c); break;
	case OP_SOCKOPT_OTHER: op_sockopt_other(c); break;
	case OP_SEND: op_send(c); break;
	case OP_RECV: op_recv(c); break;
	case OP_CMSG: op_cmsg(c); break;
	case OP_BAD_POINTER: op_bad_pointer(c); break;
	case OP_SENDFILE: op_sendfile(c); break;
	case OP_SPLICE: op_splice(c); break;
	case OP_VMSPLICE: op_vmsplice(c); break;
	case OP_POLL: op_poll(c); break;
	case OP_EPOLL: op_epoll(c); break;
	case OP_SHUTDOWN_KTLS: case OP_SHUTDOWN_TCP: case OP_SHUTDOWN_UDP: op_shutdown(c, op); break;
	case OP_ERRQUEUE: op_errqueue(c); break;
	case OP_DISCONNECT: op_disconnect(c); break;
	case OP_CLOSE: op_close(c, false); break;
	case OP_CLOSE_BUSY: op_close(c, true); break;
	case OP_PEER_RESET: op_peer_reset(c); break;
	case OP_PEER_GARBAGE: op_peer_garbage(c); break;
	case OP_PEER_URGENT: op_peer_urgent(c); break;
	case OP_REPLAY: op_replay(c); break;
	case OP_SCM_RIGHTS: op_scm_rights(c); break;
	case OP_FORK: op_fork(c); break;
	case OP_DUP: op_dup(c); break;
	case OP_MISC: op_misc(c); break;
	case OP_PROC: op_proc(c); break;
	default: break;
	}
}

static int total_weight;

static enum op choose_op(struct ctx *c)
{
	/* Keep the pool stocked with AF_KTLS pairs: that is where the interesting states are. */
	if (atomic_load(&live_slots) < 12) {
		if (!skipped(OP_TLS_PAIR) && chance(&c->rng, 50))
			return OP_TLS_PAIR;
		if (!skipped(OP_DTLS_PAIR) && chance(&c->rng, 50))
			return OP_DTLS_PAIR;
	}
	int w = (int)rnd_below(&c->rng, (uint32_t)total_weight);

	for (int op = 0; op < N_OPS; op++) {
		if (skipped((enum op)op))
			continue;
		w -= op_info[op].weight;
		if (w < 0)
			return (enum op)op;
	}
	return OP_PROC;
}

static void *chaos_thread(void *arg)
{
	struct ctx *c = arg;
	char role[16];

	snprintf(role, sizeof(role), "chaos %d", c->index);
	c->t = register_thread(role);
	snprintf(role, sizeof(role), "chaos %d child", c->index);
	c->child_t = register_thread(role); /* takes over the tid of this thread until a fork */
	atomic_store(&sh->threads[c->child_t].tid, 0);
	start_interrupt_timer(opt.interrupt_ms);
	while (!atomic_load(&sh->stop)) {
		enum op op = choose_op(c);

		set_note(c->t, "%s", op_info[op].name);
		run_op(c, op);
		if ((atomic_load(&sh->threads[c->t].ops) & 63) == 0)
			reap_child(c, false);
	}
	reap_child(c, true);
	thread_finished(c->child_t);
	thread_finished(c->t);
	return NULL;
}

static void *map_pages(size_t len, int prot)
{
	void *p = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("stress: mmap");
		_exit(3);
	}
	return p;
}

static int setup(void)
{
	struct rng r = { sh->seed ^ 0xc4a05c4a05ull };
	unsigned char *data = map_pages(DATA_FILE_SIZE, PROT_READ | PROT_WRITE);
	struct rlimit rl = { FD_LIMIT, FD_LIMIT };

	if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
		perror("stress: setrlimit");
		return -1;
	}
	placeholder_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";

	snprintf(data_path, sizeof(data_path), "%s/ktls-stress-%d", tmp, (int)getpid());
	snprintf(trunc_path, sizeof(trunc_path), "%s/ktls-stress-trunc-%d", tmp, (int)getpid());
	int fd = open(data_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	rnd_bytes(&r, data, DATA_FILE_SIZE);
	if (fd < 0 || write(fd, data, DATA_FILE_SIZE) != DATA_FILE_SIZE) {
		perror("stress: data file");
		return -1;
	}
	close(fd);
	munmap(data, DATA_FILE_SIZE);
	none_pages = map_pages(3 * 4096, PROT_NONE);
	ro_page = map_pages(4096, PROT_READ);
	fd = open(trunc_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, 2 * 4096) != 0) {
		perror("stress: trunc file");
		return -1;
	}
	trunc_page = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (trunc_page == MAP_FAILED || ftruncate(fd, 0) != 0) {
		perror("stress: trunc mapping");
		return -1;
	}
	close(fd);
	unlink(trunc_path);
	for (int i = 0; i < NSLOTS; i++) {
		pthread_mutex_init(&pool[i].lock, NULL);
		pool[i].fd = -1;
		empty_meta(&pool[i].m);
	}
	/* Once: a protocol the kernel lacks would make every socket() call run modprobe. */
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDPLITE);
	udplite_available = fd >= 0;
	if (fd >= 0)
		close(fd);
	for (int op = 0; op < N_OPS; op++)
		if (!skipped((enum op)op))
			total_weight += op_info[op].weight;
	return total_weight > 0 ? 0 : -1;
}

int chaos_main(void)
{
	pthread_t threads[MAX_CHAOS_THREADS];
	struct ctx *ctx[MAX_CHAOS_THREADS];

	ignore_signals();
	if (setup() != 0)
		return 3;
	for (int i = 0; i < opt.chaos_threads; i++) {
		struct ctx *c = calloc(1, sizeof(*c));

		c->index = i;
		c->rng.s = sh->seed ^ (0x9e3779b97f4a7c15ull * (uint64_t)(i + 1));
		c->sbuf = map_pages(BUF_SIZE, PROT_READ | PROT_WRITE);
		c->rbuf = map_pages(BUF_SIZE, PROT_READ | PROT_WRITE);
		c->edge = map_pages(2 * 4096, PROT_READ | PROT_WRITE);
		mprotect(c->edge + 4096, 4096, PROT_NONE);
		rnd_bytes(&c->rng, c->sbuf, BUF_SIZE);
		if (pipe2(c->pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
			perror("stress: pipe");
			return 3;
		}
		c->unix_pair[0] = c->unix_pair[1] = -1;
		c->data_fd = open(data_path, O_RDONLY | O_CLOEXEC);
		ctx[i] = c;
		pthread_create(&threads[i], NULL, chaos_thread, c);
	}
	for (int i = 0; i < opt.chaos_threads; i++)
		pthread_join(threads[i], NULL);
	/* Close everything: the module must then unload. */
	int t = register_thread("chaos main");

	for (int i = 0; i < NSLOTS; i++)
		if (pool[i].fd >= 0)
			CALL(t, OP_INTERNAL, "close", pool[i].fd, -1, 0, close(pool[i].fd));
	for (int i = 0; i < opt.chaos_threads; i++) {
		struct ctx *c = ctx[i];

		/* What is still in flight comes back and is closed, rather than left to the GC. */
		while (c->unix_pair[1] >= 0) {
			char rbuf[CMSG_SPACE(sizeof(int) * 16)], byte;
			struct iovec iov = { &byte, 1 };
			struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = rbuf,
					      .msg_controllen = sizeof(rbuf) };

			if (CALL(t, OP_INTERNAL, "recvmsg(drain)", c->unix_pair[1], -1, 0,
				 recvmsg(c->unix_pair[1], &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC)) <= 0)
				break;
			for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
				if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
					continue;
				int got = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));

				for (int f = 0; f < got && f < 16; f++) {
					int fd;

					memcpy(&fd, CMSG_DATA(cm) + sizeof(int) * (size_t)f, sizeof(fd));
					CALL(t, OP_INTERNAL, "close", fd, -1, 0, close(fd));
				}
			}
		}
		for (int j = 0; j < 2; j++) {
			if (c->unix_pair[j] >= 0)
				CALL(t, OP_INTERNAL, "close", c->unix_pair[j], -1, 0, close(c->unix_pair[j]));
			CALL(t, OP_INTERNAL, "close", c->pipe[j], -1, 0, close(c->pipe[j]));
		}
		close(c->data_fd);
	}
	unlink(data_path);
	thread_finished(t);
	return 0;
}
