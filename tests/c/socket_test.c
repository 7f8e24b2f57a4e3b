// SPDX-License-Identifier: GPL-2.0
/*
 * AF_KTLS socket lifecycle, as a C application sees it through <linux/ktls.h> only.
 *
 *   socket_test              the module is loaded: sockets, errnos, module pinning
 *   socket_test --no-module  the module is not loaded: socket() fails with EAFNOSUPPORT
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/ktls.h>

/* The ABI promise: fixed-width fields, family first, no holes. */
_Static_assert(sizeof(struct sockaddr_ktls) == 12, "sockaddr_ktls size");
_Static_assert(offsetof(struct sockaddr_ktls, sa_family) == 0, "sa_family first");
_Static_assert(offsetof(struct sockaddr_ktls, sa_cipher) == 2, "sa_cipher");
_Static_assert(offsetof(struct sockaddr_ktls, sa_version) == 4, "sa_version");
_Static_assert(offsetof(struct sockaddr_ktls, sa_socket) == 8, "sa_socket");
_Static_assert(sizeof(struct ktls_crypto_info_aes_gcm_128) == 40, "same as tls12_crypto_info_aes_gcm_128");
_Static_assert(sizeof(struct ktls_crypto_info_aes_gcm_256) == 56, "same as tls12_crypto_info_aes_gcm_256");
_Static_assert(sizeof(struct ktls_crypto_info_chacha20_poly1305) == 56, "same as tls12_crypto_info_chacha20_poly1305");

/* Reads /sys/module/af_ktls/refcnt: every open AF_KTLS socket pins the module. */
static long module_refcnt(void)
{
	FILE *f = fopen("/sys/module/af_ktls/refcnt", "r");
	long n = -1;

	assert_non_null(f);
	assert_int_equal(fscanf(f, "%ld", &n), 1);
	fclose(f);
	return n;
}

static void stream_and_datagram_sockets_open(void **state)
{
	(void)state;
	int types[] = { SOCK_STREAM, SOCK_DGRAM, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK };

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		int fd = socket(AF_KTLS, types[i], 0);

		assert_true(fd >= 0);
		assert_int_equal(close(fd), 0);
	}
}

static void other_types_give_esocktnosupport(void **state)
{
	(void)state;
	int types[] = { SOCK_RAW, SOCK_SEQPACKET, SOCK_RDM };

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		errno = 0;
		assert_int_equal(socket(AF_KTLS, types[i], 0), -1);
		assert_int_equal(errno, ESOCKTNOSUPPORT);
	}
}

static void nonzero_protocol_gives_eprotonosupport(void **state)
{
	(void)state;
	int protocols[] = { 6, 17, 1 };

	for (size_t i = 0; i < sizeof(protocols) / sizeof(protocols[0]); i++) {
		errno = 0;
		assert_int_equal(socket(AF_KTLS, SOCK_STREAM, protocols[i]), -1);
		assert_int_equal(errno, EPROTONOSUPPORT);
	}
}

static void unsupported_operations_give_eopnotsupp(void **state)
{
	(void)state;
	int fd = socket(AF_KTLS, SOCK_STREAM, 0);
	struct sockaddr_ktls sa = { .sa_family = AF_KTLS };
	int pair[2];

	assert_true(fd >= 0);
	errno = 0;
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), -1);
	assert_int_equal(errno, EOPNOTSUPP);
	errno = 0;
	assert_int_equal(listen(fd, 1), -1);
	assert_int_equal(errno, EOPNOTSUPP);
	errno = 0;
	assert_int_equal(accept(fd, NULL, NULL), -1);
	assert_int_equal(errno, EOPNOTSUPP);
	errno = 0;
	assert_int_equal(socketpair(AF_KTLS, SOCK_STREAM, 0, pair), -1);
	assert_int_equal(errno, EOPNOTSUPP);
	close(fd);
}

static void close_releases_every_socket(void **state)
{
	(void)state;
	/* Below the default RLIMIT_NOFILE of 1024. */
	enum { N = 1000 };
	long before = module_refcnt();
	static int fds[N];

	for (int i = 0; i < N; i++) {
		fds[i] = socket(AF_KTLS, i % 2 ? SOCK_DGRAM : SOCK_STREAM, 0);
		assert_true(fds[i] >= 0);
	}
	assert_true(module_refcnt() > before);
	for (int i = 0; i < N; i++)
		assert_int_equal(close(fds[i]), 0);
	assert_int_equal(module_refcnt(), before);
}

static void rmmod_refused_while_socket_open(void **state)
{
	(void)state;
	int fd = socket(AF_KTLS, SOCK_DGRAM, 0);

	assert_true(fd >= 0);
	/* What rmmod does: a non-blocking delete_module, refused while the module is in use. */
	errno = 0;
	assert_int_equal(syscall(SYS_delete_module, "af_ktls", O_NONBLOCK), -1);
	assert_int_equal(errno, EWOULDBLOCK);
	assert_int_equal(close(fd), 0);
	assert_true(access("/sys/module/af_ktls", F_OK) == 0);
}

static void without_module_socket_gives_eafnosupport(void **state)
{
	(void)state;
	assert_int_not_equal(access("/sys/module/af_ktls", F_OK), 0);
	errno = 0;
	assert_int_equal(socket(AF_KTLS, SOCK_STREAM, 0), -1);
	assert_int_equal(errno, EAFNOSUPPORT);
	errno = 0;
	assert_int_equal(socket(AF_KTLS, SOCK_DGRAM, 0), -1);
	assert_int_equal(errno, EAFNOSUPPORT);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest loaded[] = {
		cmocka_unit_test(stream_and_datagram_sockets_open),
		cmocka_unit_test(other_types_give_esocktnosupport),
		cmocka_unit_test(nonzero_protocol_gives_eprotonosupport),
		cmocka_unit_test(unsupported_operations_give_eopnotsupp),
		cmocka_unit_test(close_releases_every_socket),
		cmocka_unit_test(rmmod_refused_while_socket_open),
	};
	const struct CMUnitTest unloaded[] = {
		cmocka_unit_test(without_module_socket_gives_eafnosupport),
	};

	if (argc > 1 && strcmp(argv[1], "--no-module") == 0)
		return cmocka_run_group_tests_name("af_ktls_without_module", unloaded, NULL, NULL);
	return cmocka_run_group_tests_name("af_ktls_socket", loaded, NULL, NULL);
}
