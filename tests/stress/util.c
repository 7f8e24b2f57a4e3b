// SPDX-License-Identifier: GPL-2.0
/*
 * ktls-stress: what the supervisor and both worker processes share: time, the PRNG, the
 * per-thread call brackets the watchdog reads, counters, findings, keys and socket pairs.
 */
#include "stress.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/ktls.h>

struct shared *sh;
struct options opt;

const struct op_info op_info[N_OPS] = {
#define X(id, name, weight, what) [OP_##id] = { name, weight, what },
	OP_LIST(X)
#undef X
};

const uint16_t versions[3] = { KTLS_VERSION_TLS_1_2, KTLS_VERSION_TLS_1_3, KTLS_VERSION_DTLS_1_2 };
const uint16_t ciphers[3] = { KTLS_CIPHER_AES_GCM_128, KTLS_CIPHER_AES_GCM_256,
			      KTLS_CIPHER_CHACHA20_POLY1305 };

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

size_t rnd_size(struct rng *r, size_t max)
{
	if (max == 0)
		return 0;
	switch (rnd_below(r, 4)) {
	case 0:
		return 1 + rnd_below(r, (uint32_t)(max < 16 ? max : 16));
	case 1:
		return 1 + rnd_below(r, (uint32_t)(max < 512 ? max : 512));
	case 2:
		return 1 + rnd_below(r, (uint32_t)(max < 20000 ? max : 20000));
	default:
		return 1 + (size_t)(rnd(r) % max);
	}
}

void rnd_bytes(struct rng *r, void *buf, size_t len)
{
	unsigned char *p = buf;

	while (len >= 8) {
		uint64_t v = rnd(r);

		memcpy(p, &v, 8);
		p += 8;
		len -= 8;
	}
	if (len) {
		uint64_t v = rnd(r);

		memcpy(p, &v, len);
	}
}

static __thread int my_index = -1;
bool in_fork_child;

int register_thread(const char *role)
{
	int t = atomic_fetch_add(&sh->n_threads, 1);

	if (t >= MAX_THREADS) {
		fprintf(stderr, "stress: too many threads\n");
		_exit(3);
	}
	struct thread_status *st = &sh->threads[t];

	snprintf(st->role, sizeof(st->role), "%s", role);
	atomic_store(&st->tid, (int)syscall(SYS_gettid));
	my_index = t;
	return t;
}

void thread_finished(int t)
{
	atomic_store(&sh->threads[t].finished, 1);
}

void call_begin(int t, enum op op, const char *call, int fd0, int fd1, long arg)
{
	struct thread_status *st = &sh->threads[t];

	st->call = call;
	st->op = (short)op;
	st->fd[0] = fd0;
	st->fd[1] = fd1;
	st->fd[2] = -1;
	st->arg = arg;
	atomic_store_explicit(&st->start_ns, (int64_t)now_ns(), memory_order_release);
}

void set_note(int t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sh->threads[t].note, sizeof(sh->threads[t].note), fmt, ap);
	va_end(ap);
}

static int bucket(int err)
{
	if (err >= 0 && err < ERR_OTHER)
		return err;
	if (err >= 512 && err < 512 + (N_ERR - ERR_INTERNAL0))
		return ERR_INTERNAL0 + err - 512;
	return ERR_OTHER;
}

void count(enum op op, int err)
{
	atomic_fetch_add_explicit(&sh->counts[op][bucket(err)], 1, memory_order_relaxed);
}

long call_end(int t, long ret)
{
	int err = ret < 0 ? errno : 0;
	struct thread_status *st = &sh->threads[t];
	uint32_t pos = atomic_fetch_add_explicit(&st->hist_pos, 1, memory_order_relaxed);
	struct hist_entry *h = &st->hist[pos % HISTORY];

	h->t_ns = now_ns();
	h->call = st->call;
	h->op = st->op;
	h->err = (short)err;
	h->fd[0] = st->fd[0];
	h->fd[1] = st->fd[1];
	h->fd[2] = st->fd[2];
	h->ret = ret;
	h->arg = st->arg;
	memcpy(h->note, st->note, sizeof(h->note));
	atomic_store_explicit(&st->start_ns, 0, memory_order_release);
	atomic_fetch_add_explicit(&st->ops, 1, memory_order_relaxed);
	count((enum op)st->op, err);
	if (err >= 512 && !in_fork_child) {
		/* Kernel-internal errnos (ERESTARTSYS, ENOTSUPP, ...) must never reach userspace. */
		int domain = 0;
		socklen_t len = sizeof(domain);

		if (getsockopt(st->fd[0], SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 &&
		    domain == ktls_family())
			finding("internal errno %d leaked to userspace: %s (op %s) on AF_KTLS fd %d, "
				"arg %ld (thread %s)", err, st->call, op_info[st->op].name, st->fd[0],
				st->arg, st->role);
	}
	errno = err;
	return ret;
}

void finding(const char *fmt, ...)
{
	char text[sizeof(sh->findings[0].text)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	/* The same finding again is counted, not repeated. */
	int known = atomic_load(&sh->n_findings);

	for (int i = 0; i < known && i < MAX_FINDINGS; i++) {
		if (strcmp(sh->findings[i].text, text) == 0) {
			atomic_fetch_add(&sh->findings[i].repeats, 1);
			return;
		}
	}
	int n = atomic_fetch_add(&sh->n_findings, 1);

	if (n < MAX_FINDINGS)
		memcpy(sh->findings[n].text, text, sizeof(text));
	fprintf(stderr, "stress: [%.1f s] FINDING: %s (seed 0x%llx)\n",
		(double)((int64_t)now_ns() - sh->t0_ns) / 1e9, text, (unsigned long long)sh->seed);
}

static void on_interrupt(int sig)
{
	(void)sig;
}

/*
 * Every blocking call of this thread is interrupted (EINTR, or a short count) within
 * period_ms: so a call that legitimately waits (recv with no data and no timeout, poll(-1),
 * a full pipe) always ends, and one that stays inside the kernel for the watchdog's 30 s is a
 * call that ignores signals.
 */
void start_interrupt_timer(int period_ms)
{
	struct sigaction sa = { .sa_handler = on_interrupt };
	struct sigevent sev = { .sigev_notify = SIGEV_THREAD_ID, .sigev_signo = SIGUSR1 };
	timer_t timer;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL); /* no SA_RESTART: calls return EINTR */
	sev._sigev_un._tid = (pid_t)syscall(SYS_gettid); /* sigev_notify_thread_id */
	if (timer_create(CLOCK_MONOTONIC, &sev, &timer) != 0) {
		perror("stress: timer_create");
		_exit(3);
	}
	struct itimerspec its = {
		.it_value = { period_ms / 1000, (period_ms % 1000) * 1000000L },
		.it_interval = { period_ms / 1000, (period_ms % 1000) * 1000000L },
	};
	timer_settime(timer, 0, &its, NULL);
}

void ignore_signals(void)
{
	signal(SIGPIPE, SIG_IGN);
	signal(SIGURG, SIG_IGN);
	signal(SIGIO, SIG_IGN);
	signal(SIGXFSZ, SIG_IGN);
}

const char *errname(int err)
{
	static __thread char buf[16];
	const char *name = err ? strerrorname_np(err) : "ok";

	if (name)
		return name;
	snprintf(buf, sizeof(buf), "E%d", err);
	return buf;
}

int ktls_family(void)
{
	int family = atomic_load(&sh->ktls_family);

	if (family)
		return family;
	family = AF_KTLS;
	FILE *f = fopen("/sys/module/af_ktls/parameters/family", "r");

	if (f) {
		if (fscanf(f, "%d", &family) != 1)
			family = AF_KTLS;
		fclose(f);
	}
	atomic_store(&sh->ktls_family, family);
	return family;
}

unsigned key_size(uint16_t cipher)
{
	switch (cipher) {
	case KTLS_CIPHER_AES_GCM_128:
		return sizeof(struct ktls_crypto_info_aes_gcm_128);
	case KTLS_CIPHER_AES_GCM_256:
		return sizeof(struct ktls_crypto_info_aes_gcm_256);
	default:
		return sizeof(struct ktls_crypto_info_chacha20_poly1305);
	}
}

unsigned fill_keys(unsigned char *buf, uint16_t version, uint16_t cipher, int direction,
		   uint64_t first_seq, uint64_t key_seed)
{
	unsigned char *iv, *key, *salt, *rec_seq;
	size_t iv_len, key_len, salt_len;
	uint64_t s = key_seed * 2 + (uint64_t)direction;
	struct rng r = { s };

	memset(buf, 0, 64);
	switch (cipher) {
	case KTLS_CIPHER_AES_GCM_256: {
		struct ktls_crypto_info_aes_gcm_256 *info = (void *)buf;

		iv = info->iv, key = info->key, salt = info->salt, rec_seq = info->rec_seq;
		iv_len = 8, key_len = 32, salt_len = 4;
		break;
	}
	case KTLS_CIPHER_CHACHA20_POLY1305: {
		struct ktls_crypto_info_chacha20_poly1305 *info = (void *)buf;

		iv = info->iv, key = info->key, salt = NULL, rec_seq = info->rec_seq;
		iv_len = 12, key_len = 32, salt_len = 0;
		break;
	}
	default: {
		struct ktls_crypto_info_aes_gcm_128 *info = (void *)buf;

		iv = info->iv, key = info->key, salt = info->salt, rec_seq = info->rec_seq;
		iv_len = 8, key_len = 16, salt_len = 4;
	}
	}
	((struct ktls_crypto_info *)buf)->version = version;
	((struct ktls_crypto_info *)buf)->cipher_type = cipher;
	rnd_bytes(&r, key, key_len);
	if (salt_len)
		rnd_bytes(&r, salt, salt_len);
	rnd_bytes(&r, iv, iv_len);
	for (int i = 0; i < 8; i++)
		rec_seq[7 - i] = (unsigned char)(first_seq >> (8 * i));
	return key_size(cipher);
}

/*
 * A connected pair on loopback: SOCK_STREAM through a listener (TCP, MPTCP, SCTP), SOCK_DGRAM
 * by connecting two bound sockets (UDP, UDP-Lite). v6: 0 IPv4, 1 IPv6, 2 IPv4-mapped IPv6.
 * Returns 0, or -1 with errno and nothing left open.
 */
int inet_pair(int type, int protocol, int v6, int fds[2])
{
	struct sockaddr_storage a = { 0 }, b = { 0 };
	socklen_t alen, blen;
	int family = v6 ? AF_INET6 : AF_INET;
	int err;

	if (v6) {
		struct sockaddr_in6 *s6 = (void *)&a;

		s6->sin6_family = AF_INET6;
		if (v6 == 2) {
			s6->sin6_addr.s6_addr[10] = 0xff;
			s6->sin6_addr.s6_addr[11] = 0xff;
			s6->sin6_addr.s6_addr[12] = 127;
			s6->sin6_addr.s6_addr[15] = 1;
		} else {
			s6->sin6_addr = in6addr_loopback;
		}
		alen = sizeof(struct sockaddr_in6);
	} else {
		struct sockaddr_in *s4 = (void *)&a;

		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		alen = sizeof(struct sockaddr_in);
	}
	b = a;
	blen = alen;
	fds[0] = fds[1] = -1;
	if (type == SOCK_STREAM || type == SOCK_SEQPACKET) {
		int listener = socket(family, type | SOCK_CLOEXEC, protocol);

		if (listener < 0)
			return -1;
		if (bind(listener, (void *)&a, alen) || listen(listener, 4) ||
		    getsockname(listener, (void *)&a, &alen))
			goto fail_listener;
		fds[0] = socket(family, type | SOCK_CLOEXEC, protocol);
		if (fds[0] < 0)
			goto fail_listener;
		if (connect(fds[0], (void *)&a, alen))
			goto fail_listener;
		do
			fds[1] = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
		while (fds[1] < 0 && errno == EINTR);
		if (fds[1] < 0)
			goto fail_listener;
		close(listener);
		return 0;
fail_listener:
		err = errno;
		close(listener);
		if (fds[0] >= 0)
			close(fds[0]);
		fds[0] = -1;
		errno = err;
		return -1;
	}
	fds[0] = socket(family, type | SOCK_CLOEXEC, protocol);
	fds[1] = socket(family, type | SOCK_CLOEXEC, protocol);
	if (fds[0] < 0 || fds[1] < 0)
		goto fail;
	if (bind(fds[0], (void *)&a, alen) || bind(fds[1], (void *)&b, blen) ||
	    getsockname(fds[0], (void *)&a, &alen) || getsockname(fds[1], (void *)&b, &blen) ||
	    connect(fds[0], (void *)&b, blen) || connect(fds[1], (void *)&a, alen))
		goto fail;
	return 0;
fail:
	err = errno;
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	fds[0] = fds[1] = -1;
	errno = err;
	return -1;
}
