// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * A TLS/DTLS echo server and client on OpenSSL whose data goes through AF_KTLS: OpenSSL does
 * the handshake, libafktls hands the connection to the kernel, and from then on the data moves
 * with plain send() and recv() (afktls_recv). The lines marked AF_KTLS are all it takes.
 *
 *   openssl_echo server PORT CERT KEY [options]    echoes what each client sends
 *   openssl_echo client HOST PORT CAFILE [options] sends --bytes, checks that they come back
 *
 *   --tls1.2 | --tls1.3 | --dtls   protocol (default: TLS 1.2 or 1.3, whichever is agreed)
 *   --cipher LIST                  OpenSSL cipher list (TLS 1.2, DTLS) or TLS 1.3 ciphersuites
 *   --bytes N                      client: bytes to send (default 1048576), rounded up to
 *                                  whole lines of 63 letters and a newline, so that line-based
 *                                  echo servers (gnutls-serv --echo) send them back too
 *   --once                         server: exit after one connection
 *   --userspace                    keep the data in OpenSSL (SSL_read/SSL_write), to compare
 *
 *   cc -o openssl_echo openssl_echo.c $(pkg-config --cflags --libs afktls-openssl)
 *
 * make check runs it in the test VM against gnutls-serv and the GnuTLS example
 * (tests/lib/examples.sh). Documentation/libafktls.md walks through it.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <afktls.h>

struct conn {
	SSL *ssl;
	int s; /* the AF_KTLS socket, or -1 in --userspace mode */
};

static int version, once, userspace, dtls;
static const char *cipher;
static size_t bytes = 1 << 20;

static void die(const char *what)
{
	fprintf(stderr, "openssl_echo: %s\n", what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

/* Data in and out: the kernel after the handoff, OpenSSL in --userspace mode. */
static ssize_t conn_send(struct conn *c, const void *buf, size_t len)
{
	if (c->s >= 0)
		return send(c->s, buf, len, MSG_NOSIGNAL);      /* AF_KTLS */
	int n = SSL_write(c->ssl, buf, (int)len);
	return n > 0 ? n : -1;
}

static ssize_t conn_recv(struct conn *c, void *buf, size_t len)
{
	if (c->s >= 0)
		return afktls_recv(c->s, buf, len, 0);          /* AF_KTLS: data only, 0 at close */
	int n = SSL_read(c->ssl, buf, (int)len);
	return n > 0 ? n : SSL_get_error(c->ssl, n) == SSL_ERROR_ZERO_RETURN ? 0 : -1;
}

static int send_all(struct conn *c, const unsigned char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = conn_send(c, buf, len);

		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static SSL_CTX *make_ctx(bool server)
{
	SSL_CTX *ctx = SSL_CTX_new(dtls ? (server ? DTLS_server_method() : DTLS_client_method())
					: (server ? TLS_server_method() : TLS_client_method()));

	if (!ctx)
		die("SSL_CTX_new");
	SSL_CTX_set_min_proto_version(ctx, dtls ? DTLS1_2_VERSION : TLS1_2_VERSION);
	if (version)
		SSL_CTX_set_max_proto_version(ctx, version);
	if (cipher && (strncmp(cipher, "TLS_", 4) == 0 ? !SSL_CTX_set_ciphersuites(ctx, cipher)
						       : !SSL_CTX_set_cipher_list(ctx, cipher)))
		die("no such cipher");
	if (!userspace && afktls_openssl_ctx_init(ctx) < 0)   /* AF_KTLS: TLS 1.3 secrets */
		die(afktls_last_error());
	return ctx;
}

/* Wraps the connected socket `fd` in an SSL and runs the handshake. */
static SSL *handshake(SSL_CTX *ctx, int fd, bool server, const char *host)
{
	SSL *ssl = SSL_new(ctx);

	if (!ssl)
		die("SSL_new");
	if (dtls) {
		BIO *bio = BIO_new_dgram(fd, BIO_NOCLOSE);
		struct sockaddr_storage peer;
		socklen_t len = sizeof(peer);

		getpeername(fd, (struct sockaddr *)&peer, &len);
		BIO_ctrl(bio, BIO_CTRL_DGRAM_SET_CONNECTED, 0, &peer);
		SSL_set_bio(ssl, bio, bio);
	} else {
		SSL_set_fd(ssl, fd);
	}
	if (host) {
		unsigned char ip[16];

		if (inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1)
			X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host);
		else if (!SSL_set1_host(ssl, host) || !SSL_set_tlsext_host_name(ssl, host))
			die("host name");
	}
	if (!userspace && afktls_openssl_init(ssl) < 0)       /* AF_KTLS: count records */
		die(afktls_last_error());
	if ((server ? SSL_accept(ssl) : SSL_connect(ssl)) != 1)
		die("handshake failed");
	return ssl;
}

/* After the handshake: hand the connection to the kernel (or not, in --userspace mode). */
static struct conn start(SSL *ssl)
{
	struct conn c = { .ssl = ssl, .s = -1 };

	if (!userspace) {
		c.s = afktls_from_openssl(ssl, AFKTLS_CLOEXEC); /* AF_KTLS: the handoff */
		if (c.s < 0)
			die(afktls_last_error());
	}
	fprintf(stderr, "openssl_echo: %s %s, data through %s\n", SSL_get_version(ssl),
		SSL_get_cipher_name(ssl), userspace ? "OpenSSL" : "AF_KTLS");
	return c;
}

static void finish(struct conn *c)
{
	if (c->s >= 0) {
		afktls_close_notify(c->s);                      /* AF_KTLS */
		close(c->s);
	} else {
		SSL_shutdown(c->ssl);
	}
	SSL_free(c->ssl);
}

static int serve(SSL_CTX *ctx, int fd)
{
	unsigned char buf[16384];
	struct conn c = start(handshake(ctx, fd, true, NULL));
	ssize_t n;
	long total = 0;

	while ((n = conn_recv(&c, buf, sizeof(buf))) > 0) {
		if (send_all(&c, buf, (size_t)n) < 0)
			break;
		total += n;
	}
	if (n < 0)
		fprintf(stderr, "openssl_echo: receive failed: %s\n",
			c.s >= 0 ? afktls_last_error() : "OpenSSL error");
	fprintf(stderr, "openssl_echo: echoed %ld bytes\n", total);
	finish(&c);
	return n < 0;
}

static int server(const char *port, const char *cert, const char *key)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(atoi(port)) };
	SSL_CTX *ctx = make_ctx(true);
	int one = 1, l = socket(AF_INET, dtls ? SOCK_DGRAM : SOCK_STREAM, 0), failed = 0;

	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
		die("certificate or key");
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l, (struct sockaddr *)&addr, sizeof(addr)) < 0 || (!dtls && listen(l, 16) < 0))
		die("bind/listen");
	do {
		int fd;

		if (dtls) {
			/* One client: connect the UDP socket to whoever sent the first datagram. */
			struct sockaddr_storage peer;
			socklen_t len = sizeof(peer);
			char b;

			if (recvfrom(l, &b, 1, MSG_PEEK, (struct sockaddr *)&peer, &len) < 0 ||
			    connect(l, (struct sockaddr *)&peer, len) < 0)
				die("DTLS accept");
			fd = l;
		} else if ((fd = accept(l, NULL, NULL)) < 0) {
			die("accept");
		}
		failed |= serve(ctx, fd);
		if (fd != l)
			close(fd);
	} while (!once && !dtls);
	SSL_CTX_free(ctx);
	return failed;
}

static int client(const char *host, const char *port, const char *cafile)
{
	struct addrinfo hints = { .ai_socktype = dtls ? SOCK_DGRAM : SOCK_STREAM }, *ai;
	unsigned char out[16384], in[16384];
	size_t chunk = dtls ? 1024 : sizeof(out);
	SSL_CTX *ctx = make_ctx(false);
	struct conn c;
	int fd;

	if (SSL_CTX_load_verify_locations(ctx, cafile, NULL) != 1)
		die("CA file");
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (getaddrinfo(host, port, &hints, &ai) != 0)
		die("unknown host");
	fd = socket(ai->ai_family, ai->ai_socktype, 0);
	if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0)
		die("connect");
	freeaddrinfo(ai);
	c = start(handshake(ctx, fd, false, host));

	for (size_t off = 0; off < bytes; off += chunk) {
		size_t len = bytes - off < chunk ? bytes - off : chunk, got = 0;

		for (size_t i = 0; i < len; i++) /* lines of 63 letters: see --bytes */
			out[i] = (off + i) % 64 == 63 ? '\n' : 'A' + (off + i) * 7 / 64 % 26;
		if (send_all(&c, out, len) < 0)
			die(c.s >= 0 ? afktls_last_error() : "send failed");
		while (got < len) {
			ssize_t n = conn_recv(&c, in + got, len - got);

			if (n <= 0)
				die(c.s >= 0 && n < 0 ? afktls_last_error() : "echo ended early");
			got += (size_t)n;
		}
		if (memcmp(in, out, len) != 0)
			die("the echo differs from what was sent");
	}
	printf("openssl_echo: %zu bytes sent and echoed intact\n", bytes);
	finish(&c);
	close(fd);
	SSL_CTX_free(ctx);
	return 0;
}

int main(int argc, char **argv)
{
	char *pos[4];
	int npos = 0;

	signal(SIGPIPE, SIG_IGN);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--tls1.2") == 0)
			version = TLS1_2_VERSION;
		else if (strcmp(argv[i], "--tls1.3") == 0)
			version = TLS1_3_VERSION;
		else if (strcmp(argv[i], "--dtls") == 0)
			dtls = 1;
		else if (strcmp(argv[i], "--cipher") == 0 && i + 1 < argc)
			cipher = argv[++i];
		else if (strcmp(argv[i], "--bytes") == 0 && i + 1 < argc)
			bytes = (strtoul(argv[++i], NULL, 0) + 63) / 64 * 64;
		else if (strcmp(argv[i], "--once") == 0)
			once = 1;
		else if (strcmp(argv[i], "--userspace") == 0)
			userspace = 1;
		else if (npos < 4)
			pos[npos++] = argv[i];
		else
			npos = 5;
	}
	if (npos == 4 && strcmp(pos[0], "server") == 0)
		return server(pos[1], pos[2], pos[3]);
	if (npos == 4 && strcmp(pos[0], "client") == 0)
		return client(pos[1], pos[2], pos[3]);
	fprintf(stderr, "usage: openssl_echo server PORT CERT KEY [options]\n"
			"       openssl_echo client HOST PORT CAFILE [options]\n"
			"options: --tls1.2 --tls1.3 --dtls --cipher LIST --bytes N --once "
			"--userspace\n");
	return 2;
}
