// SPDX-License-Identifier: GPL-2.0
/*
 * The smallest complete AF_KTLS program: a TLS 1.3 AES-128-GCM connection over loopback TCP,
 * with fixed keys standing in for the ones a TLS library exports after its handshake.
 * Built and run in the test VM by `make check` (tests/vm/run.sh); Documentation/af_ktls.md
 * walks through it.
 *
 *   cc -I include/uapi -o tls13_loopback Documentation/examples/tls13_loopback.c
 *   insmod af_ktls.ko && ./tls13_loopback
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/ktls.h>

#define CHECK(expr) do { if ((expr) < 0) { perror(#expr); return 1; } } while (0)

/* Wraps the connected TCP socket `tcp` in an AF_KTLS socket with the given keys. */
static int ktls_wrap(int tcp, const struct ktls_crypto_info_aes_gcm_128 *tx,
		     const struct ktls_crypto_info_aes_gcm_128 *rx)
{
	struct sockaddr_ktls sa = {
		.sa_family = AF_KTLS,
		.sa_cipher = KTLS_CIPHER_AES_GCM_128,
		.sa_version = KTLS_VERSION_TLS_1_3,
		.sa_socket = tcp,
	};
	int s = socket(AF_KTLS, SOCK_STREAM, 0);

	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    setsockopt(s, SOL_KTLS, KTLS_TX, tx, sizeof(*tx)) < 0 ||
	    setsockopt(s, SOL_KTLS, KTLS_RX, rx, sizeof(*rx)) < 0) {
		perror("AF_KTLS setup");
		return -1;
	}
	return s;
}

int main(void)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(addr);
	int listener, client, server;

	CHECK(listener = socket(AF_INET, SOCK_STREAM, 0));
	CHECK(bind(listener, (struct sockaddr *)&addr, sizeof(addr)));
	CHECK(listen(listener, 1));
	CHECK(getsockname(listener, (struct sockaddr *)&addr, &len));
	CHECK(client = socket(AF_INET, SOCK_STREAM, 0));
	CHECK(connect(client, (struct sockaddr *)&addr, sizeof(addr)));
	CHECK(server = accept(listener, NULL, NULL));

	/* What the handshake would have produced: client and server write keys and IVs. For TLS
	 * 1.3, salt || iv is the 12-byte write IV. rec_seq is the next record's number: 0 here, as
	 * for a client right after a TLS 1.3 handshake; a server that sent session tickets starts
	 * after them (af_ktls.md, "Sequence numbers, per role"). */
	struct ktls_crypto_info_aes_gcm_128 c2s = {
		.info = { KTLS_VERSION_TLS_1_3, KTLS_CIPHER_AES_GCM_128 },
		.key = "client-write-key", .salt = "cIV.", .iv = "client-i",
	};
	struct ktls_crypto_info_aes_gcm_128 s2c = {
		.info = { KTLS_VERSION_TLS_1_3, KTLS_CIPHER_AES_GCM_128 },
		.key = "server-write-key", .salt = "sIV.", .iv = "server-i",
	};
	int c = ktls_wrap(client, &c2s, &s2c);
	int s = ktls_wrap(server, &s2c, &c2s);

	if (c < 0 || s < 0)
		return 1;

	char buf[64];
	const char *hello = "hello over AF_KTLS";

	CHECK(send(c, hello, strlen(hello), 0));
	ssize_t n = recv(s, buf, sizeof(buf), 0);

	CHECK(n);
	printf("server received %zd bytes: %.*s\n", n, (int)n, buf);
	CHECK(send(s, buf, (size_t)n, 0));
	n = recv(c, buf, sizeof(buf), 0);
	CHECK(n);
	printf("client received %zd bytes back\n", n);
	return memcmp(buf, hello, strlen(hello)) != 0;
}
