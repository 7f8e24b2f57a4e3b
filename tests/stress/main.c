// SPDX-License-Identifier: GPL-2.0
/*
 * ktls-stress: the supervisor. Parses the options, forks the chaos and traffic processes,
 * watches every thread's current system call (a call inside the kernel for --watchdog seconds
 * is a finding, reported with the thread's last calls and its kernel stack), reads the kernel
 * log for splats, and prints what was done and found.
 *
 * Exit status: 0 nothing found; 1 findings (data mismatch, kernel splat, leaked errno); 2 a call
 * stuck in the kernel (the process may not be able to exit: the caller has to end the VM);
 * 3 the tool itself failed (bad usage, no AF_KTLS, a crashed worker).
 */
#include "stress.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *const splat_patterns[] = {
	"WARNING:", "BUG:", "Oops", "KASAN", "UBSAN", "refcount_t", "general protection",
	"Kernel panic", "Call Trace", "blocked for more than", "soft lockup", "ODEBUG",
};

static char cmdline[512];
static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ktls-stress [options]\n"
		"  -s, --seconds N        run for N seconds (default 60)\n"
		"      --seed S           seed of every random choice (default: from the clock; printed)\n"
		"  -t, --threads N        chaos threads (default 4, at most %d)\n"
		"  -l, --lanes N          verified-traffic lanes, four threads each (default 2, at most %d)\n"
		"      --skip A,B,...     leave out these operation kinds (see --list); 'known' stands\n"
		"                         for the kinds that trigger known defects: %s\n"
		"      --only A,B,...     run only these chaos operation kinds (and the traffic)\n"
		"      --watchdog S       a call inside the kernel this long is a hang (default 30)\n"
		"      --interrupt-ms N   every chaos thread's blocking calls are interrupted by a\n"
		"                         signal this often (default 250)\n"
		"      --no-traffic-interrupts  do not interrupt the traffic threads' calls\n"
		"      --max-round-kib N  largest TLS stream per traffic round (default 256)\n"
		"      --list             list the operation kinds and exit\n"
		"      --inject-corruption  the first traffic round sends one wrong byte: the run must\n"
		"                         fail (shows that the data check works)\n"
		"      --repro LIST|all   run the deterministic scenarios of the defects found so far\n"
		"                         (each in its own process), instead of the stress run\n",
		MAX_CHAOS_THREADS, MAX_LANES, KNOWN_DEFECTS[0] ? KNOWN_DEFECTS : "none today");
}

static int op_by_name(const char *name)
{
	for (int op = 0; op < N_OPS; op++)
		if (strcmp(op_info[op].name, name) == 0)
			return op;
	return -1;
}

static int parse_list(char *list, bool *out)
{
	char *save = NULL;

	for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (strcmp(tok, "known") == 0) {
			char known[] = KNOWN_DEFECTS;

			if (known[0] && parse_list(known, out))
				return -1;
			continue;
		}
		if (strcmp(tok, "traffic") == 0) {
			out[OP_TRAFFIC_TLS] = out[OP_TRAFFIC_ULP] = out[OP_TRAFFIC_DTLS] = true;
			continue;
		}
		int op = op_by_name(tok);

		if (op < 0) {
			fprintf(stderr, "ktls-stress: unknown operation kind '%s' (see --list)\n", tok);
			return -1;
		}
		out[op] = true;
	}
	return 0;
}

static int parse_options(int argc, char **argv)
{
	static const struct option longs[] = {
		{ "seconds", required_argument, NULL, 's' },
		{ "seed", required_argument, NULL, 'S' },
		{ "threads", required_argument, NULL, 't' },
		{ "lanes", required_argument, NULL, 'l' },
		{ "skip", required_argument, NULL, 'k' },
		{ "only", required_argument, NULL, 'o' },
		{ "watchdog", required_argument, NULL, 'w' },
		{ "interrupt-ms", required_argument, NULL, 'i' },
		{ "no-traffic-interrupts", no_argument, NULL, 'n' },
		{ "max-round-kib", required_argument, NULL, 'm' },
		{ "list", no_argument, NULL, 'L' },
		{ "repro", required_argument, NULL, 'R' },
		{ "inject-corruption", no_argument, NULL, 'I' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	bool seeded = false, only[N_OPS] = { false }, have_only = false;
	char skip_arg[256] = "", only_arg[256] = "";
	int c;

	opt.seconds = 60;
	opt.chaos_threads = 4;
	opt.lanes = 2;
	opt.watchdog_s = 30;
	opt.interrupt_ms = 250;
	opt.traffic_eintr = true;
	opt.max_round_kib = 256;
	while ((c = getopt_long(argc, argv, "s:t:l:h", longs, NULL)) != -1) {
		switch (c) {
		case 's': opt.seconds = atoi(optarg); break;
		case 'S': opt.seed = strtoull(optarg, NULL, 0); seeded = true; break;
		case 't': opt.chaos_threads = atoi(optarg); break;
		case 'l': opt.lanes = atoi(optarg); break;
		case 'k': {
			/* Kept expanded, so that the repeat line still means this after the list changes. */
			char copy[256], *save = NULL;

			snprintf(copy, sizeof(copy), "%s", optarg);
			for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
				const char *add = strcmp(tok, "known") == 0 ? KNOWN_DEFECTS : tok;

				if (add[0])
					snprintf(skip_arg + strlen(skip_arg), sizeof(skip_arg) - strlen(skip_arg),
						 "%s%s", skip_arg[0] ? "," : "", add);
			}
			if (parse_list(optarg, opt.skip))
				return -1;
			break;
		}
		case 'o':
			snprintf(only_arg + strlen(only_arg), sizeof(only_arg) - strlen(only_arg), "%s%s",
				 only_arg[0] ? "," : "", optarg);
			if (parse_list(optarg, only))
				return -1;
			have_only = true;
			break;
		case 'w': opt.watchdog_s = atoi(optarg); break;
		case 'i': opt.interrupt_ms = atoi(optarg); break;
		case 'n': opt.traffic_eintr = false; break;
		case 'm': opt.max_round_kib = atoi(optarg); break;
		case 'L':
			for (int op = 0; op < N_OPS; op++)
				printf("%-20s %s\n", op_info[op].name, op_info[op].what);
			exit(0);
		case 'R': opt.repro = optarg; break;
		case 'I': opt.inject = true; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -1;
		}
	}
	if (optind != argc || opt.seconds < 0 || opt.chaos_threads < 0 ||
	    opt.chaos_threads > MAX_CHAOS_THREADS || opt.lanes < 0 || opt.lanes > MAX_LANES ||
	    opt.watchdog_s < 1 || opt.interrupt_ms < 1 || opt.max_round_kib < 1) {
		usage(stderr);
		return -1;
	}
	if (have_only)
		for (int op = 0; op < N_OPS; op++)
			if (op_info[op].weight > 0 && !only[op])
				opt.skip[op] = true;
	if (opt.skip[OP_TRAFFIC_TLS] && opt.skip[OP_TRAFFIC_ULP] && opt.skip[OP_TRAFFIC_DTLS])
		opt.lanes = 0;
	if (!seeded) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		uint64_t s = (uint64_t)ts.tv_sec * 1000000007ull ^ (uint64_t)ts.tv_nsec ^
			     ((uint64_t)getpid() << 32);

		opt.seed = splitmix64(&s);
	}
	/* The command line that repeats this run. */
	int n = snprintf(cmdline, sizeof(cmdline), "ktls-stress --seed 0x%llx -s %d -t %d -l %d",
			 (unsigned long long)opt.seed, opt.seconds, opt.chaos_threads, opt.lanes);
	if (skip_arg[0])
		n += snprintf(cmdline + n, sizeof(cmdline) - (size_t)n, " --skip %s", skip_arg);
	if (only_arg[0])
		n += snprintf(cmdline + n, sizeof(cmdline) - (size_t)n, " --only %s", only_arg);
	if (opt.interrupt_ms != 250)
		n += snprintf(cmdline + n, sizeof(cmdline) - (size_t)n, " --interrupt-ms %d", opt.interrupt_ms);
	if (!opt.traffic_eintr)
		n += snprintf(cmdline + n, sizeof(cmdline) - (size_t)n, " --no-traffic-interrupts");
	if (opt.inject)
		n += snprintf(cmdline + n, sizeof(cmdline) - (size_t)n, " --inject-corruption");
	if (opt.max_round_kib != 256)
		snprintf(cmdline + n, sizeof(cmdline) - (size_t)n, " --max-round-kib %d", opt.max_round_kib);
	return 0;
}

static double secs(uint64_t ns)
{
	return (double)ns / 1e9;
}

static double run_time(void)
{
	return secs(now_ns() - (uint64_t)sh->t0_ns);
}

static void print_history(const struct thread_status *st, int max)
{
	uint32_t pos = atomic_load(&st->hist_pos);
	uint64_t now = now_ns();
	int n = pos < HISTORY ? (int)pos : HISTORY;

	if (n > max)
		n = max;
	for (int i = n; i > 0; i--) {
		const struct hist_entry *h = &st->hist[(pos - (uint32_t)i) % HISTORY];

		fprintf(stderr, "      [-%7.3f s] %-28s fds %d,%d arg %ld -> %ld %s  (%s)\n",
			secs(now - h->t_ns), h->call ? h->call : "?", h->fd[0], h->fd[1], h->arg,
			h->ret, h->ret < 0 ? errname(h->err) : "", h->note);
	}
}

static void print_file(const char *label, const char *path)
{
	char buf[4096];
	FILE *f = fopen(path, "r");

	if (!f)
		return;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);

	fclose(f);
	buf[n] = '\0';
	fprintf(stderr, "    %s:\n", label);
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
		fprintf(stderr, "      %s\n", line);
}

/* What every thread is doing right now, and what it did last. */
static void dump_threads(int history)
{
	int n = atomic_load(&sh->n_threads);
	uint64_t now = now_ns();

	for (int t = 0; t < n && t < MAX_THREADS; t++) {
		const struct thread_status *st = &sh->threads[t];
		int64_t start = atomic_load(&st->start_ns);

		if (atomic_load(&st->finished))
			fprintf(stderr, "    %-12s tid %d: finished (%llu calls)\n", st->role, st->tid,
				(unsigned long long)atomic_load(&st->ops));
		else if (start)
			fprintf(stderr, "    %-12s tid %d: in %s (%s) fds %d,%d arg %ld for %.1f s  (%s)\n",
				st->role, st->tid, st->call, op_info[st->op].name, st->fd[0], st->fd[1],
				st->arg, now > (uint64_t)start ? secs(now - (uint64_t)start) : 0.0, st->note);
		else
			fprintf(stderr, "    %-12s tid %d: between calls (%llu calls)\n", st->role, st->tid,
				(unsigned long long)atomic_load(&st->ops));
		if (history)
			print_history(st, history);
	}
}

static void report_stuck(int t, uint64_t elapsed_ns)
{
	struct thread_status *st = &sh->threads[t];
	char path[96], text[256];

	snprintf(text, sizeof(text), "%s (op %s) on fds %d,%d (arg %ld) has been inside the kernel "
		 "for %.0f s, thread %s tid %d: %s", st->call, op_info[st->op].name, st->fd[0],
		 st->fd[1], st->arg, secs(elapsed_ns), st->role, st->tid, st->note);
	finding("STUCK: %s", text);
	fprintf(stderr, "stress: the stuck thread, newest call last:\n");
	print_history(st, HISTORY);
	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", st->tid, st->tid);
	{
		char buf[512];
		FILE *f = fopen(path, "r");

		if (f) {
			size_t n = fread(buf, 1, sizeof(buf) - 1, f);

			buf[n] = '\0';
			fclose(f);
			char *state = strrchr(buf, ')');

			fprintf(stderr, "    scheduler state: %c (R: running/spinning, S: sleeping, D: "
				"uninterruptible)\n", state && state[1] ? state[2] : '?');
		}
	}
	snprintf(path, sizeof(path), "/proc/%d/task/%d/wchan", st->tid, st->tid);
	print_file("wchan", path);
	snprintf(path, sizeof(path), "/proc/%d/task/%d/stack", st->tid, st->tid);
	print_file("kernel stack", path);
	fprintf(stderr, "stress: all threads:\n");
	dump_threads(0);
}

/* --- the kernel log ------------------------------------------------------------------------ */

static int kmsg_fd = -1;
static uint64_t splat_ns;

static void kmsg_open(void)
{
	kmsg_fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (kmsg_fd >= 0)
		lseek(kmsg_fd, 0, SEEK_END);
}

/* Reads what the kernel logged since the last call; returns true on a new splat. */
static bool kmsg_poll(void)
{
	char rec[8192];
	bool found = false;

	if (kmsg_fd < 0)
		return false;
	for (;;) {
		ssize_t n = read(kmsg_fd, rec, sizeof(rec) - 1);

		if (n < 0 && errno == EPIPE)
			continue; /* overwritten records: go on with the next */
		if (n <= 0)
			break;
		rec[n] = '\0';
		char *msg = strchr(rec, ';');

		if (!msg)
			continue;
		msg++;
		char *end = strchr(msg, '\n');

		if (end)
			*end = '\0';
		if (splat_ns) {
			fprintf(stderr, "    kernel: %s\n", msg);
			continue;
		}
		for (size_t i = 0; i < sizeof(splat_patterns) / sizeof(splat_patterns[0]); i++) {
			if (strstr(msg, splat_patterns[i]) ||
			    (strstr(msg, "kmemleak:") && (strstr(msg, "leak") || strstr(msg, "suspected")))) {
				finding("kernel log: %s", msg);
				fprintf(stderr, "stress: what each thread was doing (newest call last):\n");
				dump_threads(8);
				fprintf(stderr, "stress: the kernel log from there:\n    kernel: %s\n", msg);
				splat_ns = now_ns();
				found = true;
				break;
			}
		}
	}
	return found;
}

/* --- the report ---------------------------------------------------------------------------- */

static const char *bucket_name(int b)
{
	static char buf[16];

	if (b == ERR_OTHER)
		return "other";
	if (b >= ERR_INTERNAL0) {
		snprintf(buf, sizeof(buf), "E%d", 512 + b - ERR_INTERNAL0);
		return buf;
	}
	return errname(b);
}

static void print_counts(double elapsed)
{
	uint64_t total = 0;

	printf("%-20s %10s %9s  %s\n", "operation kind", "calls", "ok", "errors by errno");
	for (int op = 0; op < N_OPS; op++) {
		uint64_t calls = 0;

		for (int b = 0; b < N_ERR; b++)
			calls += atomic_load(&sh->counts[op][b]);
		if (calls == 0) {
			if (opt.skip[op])
				printf("%-20s %10s\n", op_info[op].name, "skipped");
			continue;
		}
		total += calls;
		printf("%-20s %10llu %9llu ", op_info[op].name, (unsigned long long)calls,
		       (unsigned long long)atomic_load(&sh->counts[op][0]));
		/* Errnos, most frequent first. */
		bool done[N_ERR] = { false };

		done[0] = true;
		for (;;) {
			int best = -1;
			uint64_t best_n = 0;

			for (int b = 1; b < N_ERR; b++) {
				uint64_t v = atomic_load(&sh->counts[op][b]);

				if (!done[b] && v > best_n)
					best = b, best_n = v;
			}
			if (best < 0)
				break;
			done[best] = true;
			printf(" %s %llu", bucket_name(best), (unsigned long long)best_n);
		}
		printf("\n");
	}
	printf("%-20s %10llu calls in %.1f s: %.0f per second\n", "all", (unsigned long long)total,
	       elapsed, elapsed > 0 ? (double)total / elapsed : 0.0);
}

static void print_traffic(void)
{
	static const char *const names[N_CONFIGS] = {
		"TLS1.2 aes128gcm", "TLS1.2 aes256gcm", "TLS1.2 chacha20poly1305",
		"TLS1.3 aes128gcm", "TLS1.3 aes256gcm", "TLS1.3 chacha20poly1305",
		"DTLS1.2 aes128gcm", "DTLS1.2 aes256gcm", "DTLS1.2 chacha20poly1305",
	};

	if (opt.lanes == 0)
		return;
	printf("verified traffic (both directions of each pair; rounds that ended clean):\n");
	for (int i = 0; i < N_CONFIGS; i++) {
		struct traffic_totals *tt = &sh->traffic[i];

		printf("  %-24s rounds %4llu  %9.2f MiB verified", names[i],
		       (unsigned long long)atomic_load(&tt->rounds),
		       (double)atomic_load(&tt->bytes) / (1024.0 * 1024.0));
		if (i >= 6)
			printf("  %llu datagrams, %llu lost, %llu truncated reads",
			       (unsigned long long)atomic_load(&tt->datagrams),
			       (unsigned long long)atomic_load(&tt->lost),
			       (unsigned long long)atomic_load(&tt->truncated));
		else
			printf("  %llu peeks", (unsigned long long)atomic_load(&tt->peeked));
		printf("\n");
	}
	printf("  rounds against mainline kTLS (the tls ULP) on one end: %llu\n",
	       (unsigned long long)atomic_load(&sh->ulp_rounds));
}

/*
 * After the workers exit, AF_KTLS files can still be in flight in garbage cycles of UNIX
 * sockets (the chaos sends UNIX sockets over themselves). Every UNIX socket release schedules
 * the collector, but not while a collection is running, so the last garbage may wait for some
 * later release. Releasing UNIX sockets here until the module's count drops leaves the kernel
 * as it was before the run (so rmmod can follow at once).
 */
static void settle_module(void)
{
	uint64_t t0 = now_ns();
	long refs = -1;

	for (int i = 0; i < 200; i++) {
		FILE *f = fopen("/sys/module/af_ktls/refcnt", "r");
		int pair[2];

		if (!f || fscanf(f, "%ld", &refs) != 1)
			refs = -1;
		if (f)
			fclose(f);
		if (refs <= 0)
			break;
		if (socketpair(AF_UNIX, SOCK_DGRAM, 0, pair) == 0) {
			close(pair[0]);
			close(pair[1]);
		}
		usleep(50 * 1000);
	}
	if (refs > 0)
		finding("the module still has %ld references %.1f s after every fd of the run was closed",
			refs, secs(now_ns() - t0));
	else if (refs == 0)
		printf("stress: module references back to 0 after %.1f s\n", secs(now_ns() - t0));
}

/* --- the run ------------------------------------------------------------------------------- */

static pid_t spawn(int (*body)(void))
{
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();

	if (pid == 0)
		_exit(body());
	if (pid < 0) {
		perror("ktls-stress: fork");
		exit(3);
	}
	return pid;
}

int main(int argc, char **argv)
{
	pid_t children[2] = { 0, 0 };
	const char *child_name[2] = { "chaos", "traffic" };
	int exit_code = 0;
	bool stuck = false, tool_error = false;

	if (parse_options(argc, argv))
		return 3;
	setvbuf(stdout, NULL, _IOLBF, 0);
	setvbuf(stderr, NULL, _IOLBF, 0);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		perror("ktls-stress: mmap");
		return 3;
	}
	sh->seed = opt.seed;
	sh->t0_ns = (int64_t)now_ns();
	int probe = socket(ktls_family(), SOCK_STREAM, 0);

	if (probe < 0) {
		fprintf(stderr, "ktls-stress: socket(AF_KTLS = %d): %s: is af_ktls.ko loaded?\n",
			ktls_family(), strerror(errno));
		return 3;
	}
	close(probe);
	if (opt.repro)
		return repro_main(opt.repro);
	printf("stress: seed 0x%llx, %d s, %d chaos threads, %d traffic lanes, watchdog %d s\n",
	       (unsigned long long)opt.seed, opt.seconds, opt.chaos_threads, opt.lanes, opt.watchdog_s);
	printf("stress: repeat with: %s\n", cmdline);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	kmsg_open();
	if (opt.chaos_threads > 0)
		children[0] = spawn(chaos_main);
	if (opt.lanes > 0)
		children[1] = spawn(traffic_main);

	uint64_t end_ns = (uint64_t)sh->t0_ns + (uint64_t)opt.seconds * 1000000000ull;
	uint64_t stop_ns = 0, last_tick = now_ns();

	for (;;) {
		uint64_t now = now_ns();

		if (!stop_ns && (now >= end_ns || interrupted || atomic_load(&sh->abort_run) ||
				 (splat_ns && now - splat_ns > 3000000000ull))) {
			atomic_store(&sh->stop, 1);
			stop_ns = now;
			printf("stress: [%.1f s] stopping%s\n", run_time(),
			       atomic_load(&sh->abort_run) ? " (a lane failed)" :
			       splat_ns ? " (kernel splat)" : interrupted ? " (interrupted)" : "");
		}
		kmsg_poll();
		/* The watchdog. */
		int n = atomic_load(&sh->n_threads);

		for (int t = 0; t < n && t < MAX_THREADS; t++) {
			int64_t start = atomic_load(&sh->threads[t].start_ns);

			if (start && now > (uint64_t)start &&
			    now - (uint64_t)start > (uint64_t)opt.watchdog_s * 1000000000ull &&
			    !atomic_exchange(&sh->threads[t].reported, 1)) {
				report_stuck(t, now - (uint64_t)start);
				stuck = true;
			}
		}
		if (stuck)
			break;
		/* The workers. */
		bool running = false;

		for (int i = 0; i < 2; i++) {
			int status;

			if (children[i] <= 0)
				continue;
			pid_t got = waitpid(children[i], &status, WNOHANG);

			if (got == 0) {
				running = true;
				continue;
			}
			children[i] = 0;
			if (WIFSIGNALED(status) || WEXITSTATUS(status) != 0) {
				fprintf(stderr, "stress: the %s process %s %d: a defect of the tool\n",
					child_name[i], WIFSIGNALED(status) ? "died of signal" : "exited with",
					WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
				tool_error = true;
				atomic_store(&sh->abort_run, 1);
			}
		}
		if (!running && (stop_ns || (!children[0] && !children[1])))
			break;
		if (stop_ns && now - stop_ns > (uint64_t)(opt.watchdog_s + 60) * 1000000000ull) {
			fprintf(stderr, "stress: the%s%s process did not finish %d s after the stop\n",
				children[0] > 0 ? " chaos" : "", children[1] > 0 ? " traffic" : "",
				opt.watchdog_s + 60);
			dump_threads(HISTORY);
			stuck = true;
			break;
		}
		if (now - last_tick >= 30000000000ull && !stop_ns) {
			uint64_t calls = 0;

			for (int t = 0; t < n && t < MAX_THREADS; t++)
				calls += atomic_load(&sh->threads[t].ops);
			printf("stress: [%.0f s] %llu calls, %d findings\n", run_time(),
			       (unsigned long long)calls, atomic_load(&sh->n_findings));
			last_tick = now;
		}
		usleep(200 * 1000);
	}
	double elapsed = secs((stop_ns ? stop_ns : now_ns()) - (uint64_t)sh->t0_ns);

	if (stuck) {
		/* A call that ignores signals may ignore SIGKILL too: do not wait for it. */
		for (int i = 0; i < 2; i++)
			if (children[i] > 0)
				kill(children[i], SIGKILL);
		usleep(500 * 1000);
		for (int i = 0; i < 2; i++)
			if (children[i] > 0 && waitpid(children[i], NULL, WNOHANG) == 0)
				fprintf(stderr, "stress: the %s process (pid %d) survived SIGKILL: left behind\n",
					child_name[i], (int)children[i]);
	}
	if (!stuck)
		settle_module();
	kmsg_poll();
	print_counts(elapsed);
	print_traffic();
	printf("fork children: %llu\n", (unsigned long long)atomic_load(&sh->fork_children));
	int nf = atomic_load(&sh->n_findings);

	printf("findings: %d\n", nf);
	for (int i = 0; i < nf && i < MAX_FINDINGS; i++) {
		int again = atomic_load(&sh->findings[i].repeats);

		printf("  %d. %s", i + 1, sh->findings[i].text);
		if (again)
			printf(" (and %d times more)", again);
		printf("\n");
	}
	if (nf > MAX_FINDINGS)
		printf("  ... and %d more\n", nf - MAX_FINDINGS);
	if (stuck)
		exit_code = 2;
	else if (tool_error)
		exit_code = 3;
	else if (nf > 0)
		exit_code = 1;
	printf("stress: %s (seed 0x%llx; repeat with: %s)\n",
	       exit_code == 0 ? "PASS" : exit_code == 2 ? "FAIL: a call is stuck in the kernel" :
	       exit_code == 3 ? "FAIL: the tool itself failed" : "FAIL: findings",
	       (unsigned long long)opt.seed, cmdline);
	fflush(stdout);
	if (stuck)
		_exit(exit_code); /* no atexit work: a worker may be unkillable */
	return exit_code;
}
