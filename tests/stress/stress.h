/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ktls-stress: a syscall stress tool for AF_KTLS sockets. See Documentation/testing.md.
 *
 * Process layout: the supervisor (main.c) forks a chaos process (chaos.c: threads applying
 * random operation sequences to AF_KTLS sockets and the sockets they are bound to) and a
 * traffic process (traffic.c: pairs of AF_KTLS sockets moving verified data). The three share
 * one anonymous MAP_SHARED region (struct shared): each thread's current system call (for the
 * watchdog), its last operations (for reports), the operation/errno counters and the findings.
 * The supervisor also reads the kernel log (/dev/kmsg) and stops the run on a splat.
 */
#ifndef KTLS_STRESS_H
#define KTLS_STRESS_H

#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MAX_CHAOS_THREADS 32
#define MAX_LANES 16
/* Chaos threads and their fork children, four threads per lane, the chaos main thread. */
#define MAX_THREADS (2 * MAX_CHAOS_THREADS + 4 * MAX_LANES + 2)
#define HISTORY 24
#define MAX_FINDINGS 64

/*
 * Operation kinds: the unit of counting and of --skip. Each entry: identifier, name, weight in
 * the chaos mix (0: not picked by the chaos scheduler), what it does.
 */
#define OP_LIST(X)                                                                              \
	X(SOCKET, "socket", 6, "plain sockets of every kind: TCP/UDP v4/v6, raw, MPTCP, SCTP, "    \
				"UDP-Lite, UNIX, packet, TCP with the tls ULP, pipes, files")              \
	X(KTLS_SOCKET, "ktls-socket", 3, "socket(AF_KTLS) with random type, protocol and flags")  \
	X(TLS_PAIR, "tls-pair", 5, "TCP pair with AF_KTLS bound and keyed on both ends")           \
	X(DTLS_PAIR, "dtls-pair", 4, "UDP pair with AF_KTLS bound and keyed on both ends")         \
	X(BIND, "bind", 6, "bind an AF_KTLS socket to any pool socket, closed or bogus fd")        \
	X(BIND_GARBAGE, "bind-garbage", 2, "bind with random address bytes, lengths, pointers")    \
	X(RAW_BIND, "raw-bind", 1, "bind AF_KTLS to a connected raw IPPROTO_TCP/UDP socket")       \
	X(SETSOCKOPT, "setsockopt", 6, "SOL_KTLS options: valid keys, random names/bytes/lengths") \
	X(GETSOCKOPT, "getsockopt", 3, "SOL_KTLS getsockopt with random names and lengths")        \
	X(SOCKOPT_OTHER, "sockopt-other", 5, "other levels on AF_KTLS and bound sockets: "         \
					     "timeouts, buffers, linger, tls ULP, peek offset")     \
	X(SEND, "send", 14, "send/sendto/sendmsg/write/writev: random flags, iovecs, sizes")       \
	X(RECV, "recv", 14, "recv/recvfrom/recvmsg/read/readv: random flags, iovecs, cmsg room")   \
	X(CMSG, "cmsg", 4, "sendmsg with KTLS_SET_RECORD_TYPE and malformed control messages")     \
	X(BAD_POINTER, "bad-pointer", 4, "unmapped, PROT_NONE, read-only, truncated-file and "     \
					 "kernel addresses given to data and option calls")        \
	X(SENDFILE, "sendfile", 3, "sendfile from a tmpfs file")                                   \
	X(SPLICE, "splice", 3, "splice pipe -> socket and socket -> pipe")                         \
	X(VMSPLICE, "vmsplice", 2, "vmsplice into a pipe, then splice to the socket")              \
	X(POLL, "poll", 5, "poll with and without timeouts")                                       \
	X(EPOLL, "epoll", 5, "epoll sets: level/edge/oneshot, add/mod/del, waits")                 \
	X(SHUTDOWN_KTLS, "shutdown-ktls", 2, "shutdown(AF_KTLS socket)")                           \
	X(SHUTDOWN_TCP, "shutdown-bound-tcp", 2, "shutdown of a TCP socket (bound or to be)")      \
	X(SHUTDOWN_UDP, "shutdown-bound-udp", 2, "shutdown of a UDP socket (bound or to be)")      \
	X(ERRQUEUE, "errqueue", 2, "IP_RECVERR + ICMP errors on UDP, SO_TIMESTAMPING TX "          \
				   "timestamps on TCP, MSG_ERRQUEUE reads")                        \
	X(DISCONNECT, "disconnect", 1, "connect(AF_UNSPEC) on a bound socket, then listen or "     \
				       "reconnect")                                                \
	X(CLOSE, "close", 6, "close any pool fd, also while other threads use it")                 \
	X(CLOSE_BUSY, "close-busy", 3, "close an fd another thread is blocked on")                 \
	X(PEER_RESET, "peer-reset", 2, "SO_LINGER {1,0} + close on the peer of a bound socket")    \
	X(PEER_GARBAGE, "peer-garbage", 4, "garbage, half records, bad headers from the peer")      \
	X(PEER_URGENT, "peer-urgent", 1, "urgent data (MSG_OOB) from the peer of a bound TCP socket") \
	X(REPLAY, "replay", 2, "records captured on a peer socket re-injected anywhere")           \
	X(SCM_RIGHTS, "scm-rights", 2, "fds passed over UNIX sockets, closed in the sender, "      \
				       "some left in flight")                                      \
	X(FORK, "fork", 1, "fork: the child uses inherited fds, then exits")                       \
	X(DUP, "dup", 2, "dup/dup3 of pool fds")                                                   \
	X(MISC, "misc", 2, "connect/listen/accept/getsockname/ioctl/mmap/fcntl on AF_KTLS")        \
	X(PROC, "proc", 1, "read /proc/net/af_ktls and the family parameter")                      \
	X(TRAFFIC_TLS, "traffic-tls", 0, "verified TLS 1.2/1.3 streams between AF_KTLS sockets")   \
	X(TRAFFIC_ULP, "traffic-ulp", 0, "verified TLS streams, AF_KTLS against mainline kTLS")    \
	X(TRAFFIC_DTLS, "traffic-dtls", 0, "verified DTLS 1.2 datagrams between AF_KTLS sockets")  \
	X(PEEK_WAITALL, "peek-waitall", 0, "verified TLS receives may combine MSG_PEEK with "       \
				      "MSG_WAITALL (across records)")                              \
	X(DTLS_BIG_MTU, "dtls-big-mtu", 0, "verified DTLS rounds may use KTLS_DTLS_MTU over 4 KiB "  \
				      "(else at most 4096)")                                       \
	X(INTERNAL, "internal", 0, "the tool's own set-up and teardown calls")

/*
 * The operation kinds that trigger kernel defects known and not fixed yet (--skip known, the
 * default of make stress and make check). Empty it as the fixes land; `ktls-stress --repro all`
 * shows the state of each defect.
 */
#define KNOWN_DEFECTS ""

enum op {
#define X(id, name, weight, what) OP_##id,
	OP_LIST(X)
#undef X
	N_OPS
};

struct op_info {
	const char *name;
	int weight;
	const char *what;
};
extern const struct op_info op_info[N_OPS];

/* Errno buckets: 0 success, 1..133 errno, then "other", then kernel-internal 512..530. */
#define ERR_OTHER 134
#define ERR_INTERNAL0 135
#define N_ERR (ERR_INTERNAL0 + 19)

struct hist_entry {
	uint64_t t_ns;
	const char *call; /* string literal: valid in every forked process */
	short op;
	short err;
	int fd[3];
	long ret;
	long arg; /* a size, flags or option name: what the call site found most telling */
	char note[96]; /* what the fds are, set by the operation */
};

struct thread_status {
	_Atomic int64_t start_ns; /* 0 when not inside a system call */
	_Atomic int tid;
	_Atomic int reported;
	_Atomic int finished;     /* the thread returned */
	char role[16];            /* "chaos 3", "lane 1 tx" */
	const char *call;
	short op;
	int fd[3];
	long arg;
	char note[96];            /* what the current operation works on */
	_Atomic uint64_t ops;     /* calls made */
	_Atomic uint32_t hist_pos;
	struct hist_entry hist[HISTORY];
};

struct finding {
	char text[512];
	_Atomic int repeats; /* the same text found again */
};

struct traffic_totals {
	_Atomic uint64_t rounds, bytes, datagrams, lost, truncated, peeked;
};

/* Configurations of the verified traffic: 2 TLS versions + DTLS, times 3 ciphers. */
#define N_CONFIGS 9

struct shared {
	_Atomic int stop;           /* set by the supervisor: finish and tear down */
	_Atomic int abort_run;      /* set on a finding that ends the run */
	uint64_t seed;
	int64_t t0_ns;
	struct thread_status threads[MAX_THREADS];
	_Atomic int n_threads;
	_Atomic uint64_t counts[N_OPS][N_ERR];
	_Atomic int n_findings;
	struct finding findings[MAX_FINDINGS];
	struct traffic_totals traffic[N_CONFIGS];
	_Atomic uint64_t ulp_rounds;
	_Atomic uint64_t fork_children;
	_Atomic int ktls_family;
};

struct options {
	uint64_t seed;
	int seconds;
	int chaos_threads;
	int lanes;
	int watchdog_s;
	int interrupt_ms;     /* period of the per-thread signal that interrupts blocking calls */
	bool skip[N_OPS];
	bool traffic_eintr;   /* also interrupt the traffic threads' calls */
	bool verbose;
	int max_round_kib;
	const char *repro;    /* --repro: run these scenarios instead */
	bool inject;          /* --inject-corruption: prove that the traffic check can fail */
};

extern struct shared *sh;
extern struct options opt;

/* util.c */
uint64_t now_ns(void);
uint64_t splitmix64(uint64_t *state);
struct rng {
	uint64_t s;
};
static inline uint64_t rnd(struct rng *r)
{
	return splitmix64(&r->s);
}
static inline uint32_t rnd_below(struct rng *r, uint32_t n)
{
	return n ? (uint32_t)(rnd(r) % n) : 0;
}
static inline bool chance(struct rng *r, int percent)
{
	return rnd_below(r, 100) < (uint32_t)percent;
}
/* A size skewed to small values but reaching max. */
size_t rnd_size(struct rng *r, size_t max);
void rnd_bytes(struct rng *r, void *buf, size_t len);

int register_thread(const char *role);
/* In a forked child: report nothing (stdio may be locked by a thread that is not there). */
extern bool in_fork_child;
void thread_finished(int t);
void call_begin(int t, enum op op, const char *call, int fd0, int fd1, long arg);
/* Describes what the next calls of thread t work on (kept in its history). */
void set_note(int t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Ends the call begun last: records ret/errno (errno as it is now), returns ret. */
long call_end(int t, long ret);
#define CALL(t, op, name, fd0, fd1, arg, expr)                                                  \
	({                                                                                      \
		call_begin((t), (op), (name), (fd0), (fd1), (long)(arg));                      \
		long __r = (long)(expr);                                                        \
		call_end((t), __r);                                                             \
	})
void count(enum op op, int err);
void finding(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void start_interrupt_timer(int period_ms);
void ignore_signals(void);
const char *errname(int err);
int ktls_family(void);

/* Keys for any version and cipher; returns the size of the structure. */
unsigned key_size(uint16_t cipher);
unsigned fill_keys(unsigned char *buf, uint16_t version, uint16_t cipher, int direction,
		   uint64_t first_seq, uint64_t key_seed);
/* A connected pair of TCP (v6: 1 = IPv6, 2 = v4-mapped IPv6) or UDP sockets on loopback. */
int inet_pair(int type, int protocol, int v6, int fds[2]);
extern const uint16_t versions[3], ciphers[3];

/* chaos.c / traffic.c: the bodies of the two worker processes; return an exit status. */
int chaos_main(void);
int traffic_main(void);
/* repro.c: the deterministic scenarios of --repro (a comma-separated list or "all"). */
int repro_main(const char *list);

#endif
