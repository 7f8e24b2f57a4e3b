// SPDX-License-Identifier: GPL-2.0
/*
 * ktls-stress --repro: the defects the stress runs found, each as a short deterministic
 * scenario in a process of its own. A scenario prints "ok" or "DEFECT: ..."; one that does
 * not finish within REPRO_DEADLINE seconds is reported with its threads' scheduler states and
 * kernel stacks and left behind (a call that ignores signals may ignore SIGKILL too).
 *
 * Expected behaviour is mainline's: a receive that cannot complete returns EAGAIN when its
 * SO_RCVTIMEO expires; MSG_DONTWAIT calls and poll(timeout 0) never sleep; a second reader or
 * writer waits interruptibly (net/tls: tls_rx_reader_acquire).
 */
#include "stress.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/net_tstamp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/ktls.h>

#define REPRO_DEADLINE 15

static int out_fd = -1; /* the scenario's result line goes to the parent through a pipe */

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void say(const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);

	va_end(ap);
	if (n > (int)sizeof(line) - 1)
		n = (int)sizeof(line) - 1;
	if (write(out_fd, line, (size_t)n) < 0)
		_exit(3);
}

static double since(uint64_t t0)
{
	return (double)(now_ns() - t0) / 1e9;
}

/* An AF_KTLS pair over loopback TCP (TLS 1.3) or UDP (DTLS 1.2), AES-128-GCM, keyed. */
static int pair(bool dtls, int inner[2], int k[2])
{
	int type = dtls ? SOCK_DGRAM : SOCK_STREAM;
	uint16_t version = dtls ? KTLS_VERSION_DTLS_1_2 : KTLS_VERSION_TLS_1_3;
	uint64_t first = dtls ? 1ull << 48 : 0;

	if (inet_pair(type, 0, 0, inner))
		return -1;
	for (int i = 0; i < 2; i++) {
		struct sockaddr_ktls sa = {
			.sa_family = (uint16_t)ktls_family(), .sa_cipher = KTLS_CIPHER_AES_GCM_128,
			.sa_version = version, .sa_socket = inner[i],
		};
		unsigned char keys[64];

		k[i] = socket(ktls_family(), type, 0);
		if (k[i] < 0 || bind(k[i], (struct sockaddr *)&sa, sizeof(sa)))
			return -1;
		for (int tx = 0; tx < 2; tx++) {
			unsigned size = fill_keys(keys, version, KTLS_CIPHER_AES_GCM_128, tx ? i : !i, first, 7);

			if (setsockopt(k[i], SOL_KTLS, tx ? KTLS_TX : KTLS_RX, keys, size))
				return -1;
		}
	}
	return 0;
}

static void set_timeout(int fd, int name, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	setsockopt(fd, SOL_SOCKET, name, &tv, sizeof(tv));
}

/* A blocking recv with SO_RCVTIMEO 1 s must return (EAGAIN or an error) within a few seconds. */
static void timed_recv(int fd, const char *what)
{
	char buf[256];

	set_timeout(fd, SO_RCVTIMEO, 1000);
	uint64_t t0 = now_ns();
	ssize_t r = recv(fd, buf, sizeof(buf), 0);
	int err = errno;

	if (since(t0) > 5)
		say("DEFECT: %s: recv with SO_RCVTIMEO 1 s returned only after %.1f s (%zd %s)", what,
		    since(t0), r, r < 0 ? errname(err) : "");
	else
		say("ok: %s: recv returned %zd %s after %.1f s", what, r, r < 0 ? errname(err) : "",
		    since(t0));
}

static int raw_bind(void)
{
	int defects = 0;

	for (int v6 = 0; v6 < 2; v6++) {
		for (int p = 0; p < 2; p++) {
			int proto = p ? IPPROTO_UDP : IPPROTO_TCP;
			int raw = socket(v6 ? AF_INET6 : AF_INET, SOCK_RAW, proto);
			struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
			struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

			if (raw < 0 || (v6 ? connect(raw, (void *)&a6, sizeof(a6)) :
					     connect(raw, (void *)&a4, sizeof(a4)))) {
				say("raw socket: %s; ", errname(errno));
				return 3;
			}
			int type = p ? SOCK_DGRAM : SOCK_STREAM;
			int k = socket(ktls_family(), type, 0);
			struct sockaddr_ktls sa = {
				.sa_family = (uint16_t)ktls_family(), .sa_cipher = KTLS_CIPHER_AES_GCM_128,
				.sa_version = p ? KTLS_VERSION_DTLS_1_2 : KTLS_VERSION_TLS_1_2, .sa_socket = raw,
			};

			if (bind(k, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
				/* poll reads TCP state (tcp_inq) from the raw socket: KASAN on the debug kernel. */
				struct pollfd pfd = { .fd = k, .events = POLLIN };
				unsigned char keys[64];
				unsigned size = fill_keys(keys, sa.sa_version, sa.sa_cipher, 0, 0, 1);

				setsockopt(k, SOL_KTLS, KTLS_RX, keys, size);
				poll(&pfd, 1, 0);
				say("DEFECT: bind accepted a raw IPPROTO_%s socket (ip%s); ", p ? "UDP" : "TCP",
				    v6 ? "v6" : "v4");
				defects++;
			} else if (errno != EPROTOTYPE) {
				say("DEFECT: bind to a raw IPPROTO_%s socket: %s, expected EPROTOTYPE; ",
				    p ? "UDP" : "TCP", errname(errno));
				defects++;
			}
			close(k);
			close(raw);
		}
	}
	if (!defects)
		say("ok: bind refuses raw IPPROTO_TCP/UDP sockets (v4, v6) with EPROTOTYPE");
	return defects ? 1 : 0;
}

static int shutdown_bound_udp(void)
{
	int udp[2], k[2];

	if (pair(true, udp, k))
		return say("set-up failed: %s", errname(errno)), 3;
	shutdown(udp[1], SHUT_RD);
	timed_recv(k[1], "shutdown(SHUT_RD) on the bound UDP socket, then recv on AF_KTLS");
	return 0;
}

static int udp_recverr(void)
{
	int udp[2], k[2], one = 1;

	if (pair(true, udp, k))
		return say("set-up failed: %s", errname(errno)), 3;
	/* The peer goes away: what b sends draws ICMP port unreachable, queued by IP_RECVERR. */
	close(k[0]);
	close(udp[0]);
	setsockopt(udp[1], IPPROTO_IP, IP_RECVERR, &one, sizeof(one));
	send(k[1], "x", 1, 0);
	send(k[1], "y", 1, 0);
	usleep(100 * 1000);
	timed_recv(k[1], "ICMP error queued with IP_RECVERR on the bound UDP socket, then recv");
	return 0;
}

static int tcp_tx_timestamps(void)
{
	int tcp[2], k[2];
	int flags = SOF_TIMESTAMPING_TX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE | SOF_TIMESTAMPING_OPT_TSONLY;

	if (pair(false, tcp, k))
		return say("set-up failed: %s", errname(errno)), 3;
	setsockopt(tcp[1], SOL_SOCKET, SO_TIMESTAMPING_OLD, &flags, sizeof(flags));
	send(k[1], "x", 1, 0); /* queues a TX timestamp on tcp[1]'s error queue */
	usleep(100 * 1000);
	timed_recv(k[1], "TX timestamp queued on the bound TCP socket's error queue, then recv");
	return 0;
}

struct blocker {
	int fd;
	bool send;
	volatile int started;
};

static void *block_in_call(void *arg)
{
	struct blocker *b = arg;
	static char buf[16384];

	b->started = 1;
	if (b->send) {
		/* Until the TCP buffers are full, then blocked until SO_SNDTIMEO, for about 5 s. */
		uint64_t t0 = now_ns();

		while (since(t0) < 5 && send(b->fd, buf, sizeof(buf), 0) > 0)
			;
	} else {
		recv(b->fd, buf, sizeof(buf), 0); /* nothing comes: blocked until SO_RCVTIMEO */
	}
	return NULL;
}

/* Starts a thread blocked in recv (or send) on fd for about hold_ms. */
static void start_blocker(pthread_t *th, struct blocker *b, int fd, bool send_side)
{
	b->fd = fd;
	b->send = send_side;
	b->started = 0;
	pthread_create(th, NULL, block_in_call, b);
	while (!b->started)
		usleep(1000);
	usleep(1000 * 1000); /* let it block */
}

static int dontwait_recv_blocks(void)
{
	int tcp[2], k[2];
	pthread_t th;
	struct blocker b;
	char buf[16];

	if (pair(false, tcp, k))
		return say("set-up failed: %s", errname(errno)), 3;
	set_timeout(k[1], SO_RCVTIMEO, 6000);
	start_blocker(&th, &b, k[1], false);
	uint64_t t0 = now_ns();
	ssize_t r = recv(k[1], buf, sizeof(buf), MSG_DONTWAIT);
	int err = errno;
	double took = since(t0);

	if (took > 2)
		say("DEFECT: recv(MSG_DONTWAIT) waited %.1f s for another thread's blocking recv on the "
		    "same socket (%zd %s); mainline returns EAGAIN at once", took, r, r < 0 ? errname(err) : "");
	else
		say("ok: recv(MSG_DONTWAIT) beside a blocked reader returned %zd %s in %.2f s", r,
		    r < 0 ? errname(err) : "", took);
	pthread_join(th, NULL);
	return 0;
}

/* A sender blocked on a full TCP socket, with small buffers so that it fills at once. */
static int blocked_sender(int tcp[2], int k[2], pthread_t *th, struct blocker *b)
{
	int small = 4096;

	if (pair(false, tcp, k))
		return -1;
	setsockopt(tcp[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(tcp[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	/* Ends the block: the AF_KTLS socket's timeout (and the bound one's, for older modules). */
	set_timeout(k[0], SO_SNDTIMEO, 6000);
	set_timeout(tcp[0], SO_SNDTIMEO, 6000);
	start_blocker(th, b, k[0], true);
	return 0;
}

static int dontwait_send_blocks(void)
{
	int tcp[2], k[2];
	pthread_t th;
	struct blocker b;

	if (blocked_sender(tcp, k, &th, &b))
		return say("set-up failed: %s", errname(errno)), 3;
	uint64_t t0 = now_ns();
	ssize_t r = send(k[0], "x", 1, MSG_DONTWAIT);
	int err = errno;
	double took = since(t0);

	if (took > 2)
		say("DEFECT: send(MSG_DONTWAIT) waited %.1f s for another thread's blocked send on the "
		    "same socket (%zd %s)", took, r, r < 0 ? errname(err) : "");
	else
		say("ok: send(MSG_DONTWAIT) beside a blocked sender returned %zd %s in %.2f s", r,
		    r < 0 ? errname(err) : "", took);
	pthread_join(th, NULL);
	return 0;
}

static void *set_payload(void *arg)
{
	int fd = *(int *)arg;
	uint16_t v = 1000;

	setsockopt(fd, SOL_KTLS, KTLS_TX_MAX_PAYLOAD_LEN, &v, sizeof(v));
	return NULL;
}

static int poll_blocks(void)
{
	int tcp[2], k[2];
	pthread_t th, th2;
	struct blocker b;

	if (blocked_sender(tcp, k, &th, &b))
		return say("set-up failed: %s", errname(errno)), 3;
	/* setsockopt holds the socket's option lock while it waits for the sender's lock... */
	pthread_create(&th2, NULL, set_payload, &k[0]);
	usleep(300 * 1000);
	/* ...and poll wants the option lock. */
	struct pollfd pfd = { .fd = k[0], .events = POLLIN | POLLOUT };
	uint64_t t0 = now_ns();
	int r = poll(&pfd, 1, 0);
	double took = since(t0);

	if (took > 2)
		say("DEFECT: poll(timeout 0) took %.1f s: it waited for a setsockopt that waited for a "
		    "blocked send (returned %d)", took, r);
	else
		say("ok: poll(timeout 0) beside a blocked send and setsockopt returned %d in %.2f s", r, took);
	pthread_join(th, NULL);
	pthread_join(th2, NULL);
	return 0;
}

static void on_usr1(int sig)
{
	(void)sig;
}

struct urgent_receiver {
	int fd;
	volatile pid_t tid;
	volatile int done;
};

static void *urgent_receive(void *arg)
{
	struct urgent_receiver *u = arg;
	char buf[128];

	u->tid = (pid_t)syscall(SYS_gettid);
	recv(u->fd, buf, sizeof(buf), 0); /* EINTR, EBADMSG or EAGAIN: anything but a loop */
	u->done = 1;
	return NULL;
}

static char task_state(pid_t tid)
{
	char path[64], buf[512];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	f = fopen(path, "r");
	if (!f)
		return '?';
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);

	fclose(f);
	buf[n] = '\0';
	char *st = strrchr(buf, ')');

	return st && st[1] ? st[2] : '?';
}

/*
 * The peer sends a TLS record header, then one urgent byte
 * (MSG_OOB makes the last byte of a send urgent), then more data, and signals the receiver,
 * which sleeps in recv. Both run on one CPU, so the receiver wakes only after all of it. It
 * reads the header, stops at the urgent mark, and reads again: tcp_recvmsg returns EAGAIN at
 * the mark while a signal is pending (net/ipv4/tcp.c, "Are we at urgent data?"), although
 * tcp_poll says readable. A receive that checks signals only while the socket is not readable
 * loops there, and the pending signal never gets delivered.
 */
static int tcp_urgent_signal(void)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	cpu_set_t one;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	CPU_ZERO(&one);
	CPU_SET(0, &one);
	sched_setaffinity(0, sizeof(one), &one);
	for (int i = 0; i < 5; i++) {
		int tcp[2], k[2];
		pthread_t th;
		struct urgent_receiver u = { 0 };
		unsigned char head_urgent[6] = { 0x17, 0x03, 0x03, 0x00, 0x40, 'U' };
		char rest[200];

		if (pair(false, tcp, k))
			return say("set-up failed: %s", errname(errno)), 3;
		set_timeout(k[1], SO_RCVTIMEO, 3000);
		u.fd = k[1];
		pthread_create(&th, NULL, urgent_receive, &u);
		for (int w = 0; w < 5000 && (!u.tid || task_state(u.tid) != 'S'); w++)
			usleep(1000);
		memset(rest, 'z', sizeof(rest));
		send(tcp[0], head_urgent, sizeof(head_urgent), MSG_OOB);
		send(tcp[0], rest, sizeof(rest), 0);
		syscall(SYS_tgkill, getpid(), u.tid, SIGUSR1);
		pthread_join(th, NULL);
		for (int j = 0; j < 2; j++) {
			close(k[j]);
			close(tcp[j]);
		}
	}
	say("ok: 5 receives at the peer's urgent byte with a signal pending returned");
	return 0;
}

/*
 * DTLS keeps message boundaries: a send that fits one record (KTLS_DTLS_MTU minus the record's
 * overhead) must arrive as one datagram, as OpenSSL's SSL_write makes one record of it.
 */
static int dtls_send_that_fits_is_one_datagram(void)
{
	int udp[2], k[2];
	uint32_t mtu = 9000;
	static unsigned char out[9000], in[9000];
	struct rng r = { 42 };

	if (pair(true, udp, k) || setsockopt(k[0], SOL_KTLS, KTLS_DTLS_MTU, &mtu, sizeof(mtu)))
		return say("set-up failed: %s", errname(errno)), 3;
	memset(out, 'm', sizeof(out));
	/* Sizes of one to mtu - 37 (AES-GCM's overhead) bytes, in a seeded order. */
	for (int i = 0; i < 300; i++) {
		size_t len = 1 + rnd_below(&r, mtu - 37);

		if (send(k[0], out, len, 0) != (ssize_t)len)
			return say("send %d: %s", i, errname(errno)), 3;
		ssize_t got = recv(k[1], in, sizeof(in), 0);

		if (got != (ssize_t)len) {
			say("DEFECT: send %d of %zu bytes (KTLS_DTLS_MTU %u: records of up to %u bytes) "
			    "arrived as a datagram of %zd bytes", i, len, mtu, mtu - 37, got);
			return 1;
		}
	}
	say("ok: 300 sends of 1 to %u bytes with KTLS_DTLS_MTU %u arrived whole", mtu - 37, mtu);
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(void);
	const char *what;
} scenarios[] = {
	{ "raw-bind", raw_bind, "bind to a connected raw IPPROTO_TCP/UDP socket must be EPROTOTYPE" },
	{ "dontwait-recv-blocks", dontwait_recv_blocks, "recv(MSG_DONTWAIT) while another thread is blocked in recv" },
	{ "dontwait-send-blocks", dontwait_send_blocks, "send(MSG_DONTWAIT) while another thread is blocked in send" },
	{ "poll-blocks", poll_blocks, "poll(timeout 0) while send and setsockopt are blocked" },
	{ "dtls-big-mtu", dtls_send_that_fits_is_one_datagram, "a DTLS send that fits the MTU is one datagram" },
	/* Last: each of these leaves a process spinning in the kernel when the defect is there. */
	{ "shutdown-bound-udp", shutdown_bound_udp, "recv after shutdown(SHUT_RD) of the bound UDP socket" },
	{ "udp-recverr", udp_recverr, "recv with an ICMP error queued by IP_RECVERR on the bound UDP socket" },
	{ "tcp-tx-timestamps", tcp_tx_timestamps, "recv with TX timestamps on the bound TCP socket's error queue" },
	{ "tcp-urgent-signal", tcp_urgent_signal, "recv at the peer's urgent byte with a signal pending" },
};

#define N_SCENARIOS (sizeof(scenarios) / sizeof(scenarios[0]))

static void print_task_states(pid_t pid)
{
	char path[64];
	DIR *d;
	struct dirent *e;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return;
	while ((e = readdir(d))) {
		char file[320], buf[4096];

		if (e->d_name[0] == '.')
			continue;
		snprintf(file, sizeof(file), "/proc/%d/task/%s/stat", (int)pid, e->d_name);
		FILE *f = fopen(file, "r");

		if (!f)
			continue;
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);

		fclose(f);
		buf[n] = '\0';
		char *st = strrchr(buf, ')');

		printf("      thread %s: state %c", e->d_name, st && st[1] ? st[2] : '?');
		snprintf(file, sizeof(file), "/proc/%d/task/%s/stack", (int)pid, e->d_name);
		f = fopen(file, "r");
		if (f) {
			n = fread(buf, 1, sizeof(buf) - 1, f);
			fclose(f);
			buf[n] = '\0';
			printf(", kernel stack:\n");
			for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
				printf("        %s\n", line);
		} else {
			printf("\n");
		}
	}
	closedir(d);
}

int repro_main(const char *list)
{
	int defects = 0, ran = 0;

	ignore_signals();
	if (!sh) {
		sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (sh == MAP_FAILED)
			return 3;
	}
	for (size_t i = 0; i < N_SCENARIOS; i++) {
		char want[256];
		bool selected = strcmp(list, "all") == 0;

		snprintf(want, sizeof(want), ",%s,", list);
		char name[64];

		snprintf(name, sizeof(name), ",%s,", scenarios[i].name);
		if (strstr(want, name))
			selected = true;
		if (!selected)
			continue;
		ran++;
		int p[2];

		/* The parent never blocks on it: a stuck scenario keeps its end open. */
		if (pipe2(p, O_NONBLOCK))
			return 3;
		printf("repro %s (%s):\n", scenarios[i].name, scenarios[i].what);
		fflush(stdout);
		pid_t pid = fork();

		if (pid == 0) {
			close(p[0]);
			out_fd = p[1];
			_exit(scenarios[i].fn());
		}
		close(p[1]);
		uint64_t t0 = now_ns();
		int status = 0;
		bool done = false;

		while (since(t0) < REPRO_DEADLINE) {
			if (waitpid(pid, &status, WNOHANG) == pid) {
				done = true;
				break;
			}
			usleep(100 * 1000);
		}
		char line[1024];
		ssize_t n = read(p[0], line, sizeof(line) - 1);

		line[n > 0 ? n : 0] = '\0';
		close(p[0]);
		if (!done) {
			printf("    DEFECT: still inside the kernel after %d s%s%s\n", REPRO_DEADLINE,
			       line[0] ? "; it said: " : "", line);
			print_task_states(pid);
			kill(pid, SIGKILL);
			usleep(300 * 1000);
			if (waitpid(pid, NULL, WNOHANG) != pid)
				printf("    (the process survived SIGKILL and is left behind)\n");
			defects++;
			continue;
		}
		printf("    %s\n", line[0] ? line : "(no result)");
		if (strstr(line, "DEFECT") || (WIFEXITED(status) && WEXITSTATUS(status) != 0) ||
		    WIFSIGNALED(status))
			defects++;
	}
	if (!ran) {
		fprintf(stderr, "ktls-stress: no scenario named '%s'; scenarios:", list);
		for (size_t i = 0; i < N_SCENARIOS; i++)
			fprintf(stderr, " %s", scenarios[i].name);
		fprintf(stderr, "\n");
		return 3;
	}
	printf("repro: %d of %d scenarios show a defect\n", defects, ran);
	return defects ? 1 : 0;
}
