// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * A TLS/DTLS echo server and client on GnuTLS whose data goes through AF_KTLS: GnuTLS does the
 * handshake, libafktls hands the session to the kernel (gnutls_record_get_state gives it keys
 * and sequence numbers), and from then on the data moves with plain send() and recv()
 * (afktls_recv). The lines marked AF_KTLS are all it takes. The server sends TLS 1.3 session
 * tickets, as servers that offer resumption do.
 *
 *   gnutls_echo server PORT CERT KEY [options]    echoes what each client sends
 *   gnutls_echo client HOST PORT CAFILE [options] sends --bytes, checks that they come back
 *
 *   --tls1.2 | --tls1.3 | --dtls   protocol (default: TLS 1.2 or 1.3, whichever is agreed)
 *   --cipher NAME                  one GnuTLS cipher: AES-128-GCM, AES-256-GCM, CHACHA20-POLY1305
 *   --bytes N                      client: bytes to send (default 1048576), rounded up to
 *                                  whole lines of 63 letters and a newline, so that line-based
 *                                  echo servers (gnutls-serv --echo) send them back too
 *   --once                         server: exit after one connection
 *   --userspace                    keep the data in GnuTLS (gnutls_record_*), to compare
 *
 *   cc -o gnutls_echo gnutls_echo.c $(pkg-config --cflags --libs afktls-gnutls)
 *
 * make check runs it in the test VM against the OpenSSL example in userspace
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

#include <gnutls/gnutls.h>

#include <afktls.h>

struct conn {
	gnutls_session_t session;
	int s; /* the AF_KTLS socket, or -1 in --userspace mode */
};

static const char *version = "", *cipher;
static int once, userspace, dtls;
static size_t bytes = 1 << 20;
static gnutls_certificate_credentials_t cred;
static gnutls_datum_t ticket_key;

static void die(const char *what, int gnutls_error)
{
	fprintf(stderr, "gnutls_echo: %s%s%s\n", what, gnutls_error ? ": " : "",
		gnutls_error ? gnutls_strerror(gnutls_error) : "");
	exit(1);
}

/* Data in and out: the kernel after the handoff, GnuTLS in --userspace mode. */
static ssize_t conn_send(struct conn *c, const void *buf, size_t len)
{
	if (c->s >= 0)
		return send(c->s, buf, len, MSG_NOSIGNAL);      /* AF_KTLS */
	ssize_t n;
	do
		n = gnutls_record_send(c->session, buf, len);
	while (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED);
	return n > 0 ? n : -1;
}

static ssize_t conn_recv(struct conn *c, void *buf, size_t len)
{
	if (c->s >= 0)
		return afktls_recv(c->s, buf, len, 0);          /* AF_KTLS: data only, 0 at close */
	ssize_t n;
	do /* GNUTLS_E_AGAIN also after a session ticket */
		n = gnutls_record_recv(c->session, buf, len);
	while (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED);
	return n >= 0 ? n : -1;
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

/* A session on the connected socket `fd`, through the handshake, then (unless --userspace)
 * handed to the kernel. */
static struct conn start(int fd, bool server, const char *host)
{
	struct conn c = { .s = -1 };
	char priority[160];
	int ret;

	ret = gnutls_init(&c.session, (server ? GNUTLS_SERVER : GNUTLS_CLIENT) |
					      (dtls ? GNUTLS_DATAGRAM : 0));
	if (ret < 0)
		die("gnutls_init", ret);
	snprintf(priority, sizeof(priority), "NORMAL%s%s%s", version, cipher ? ":-CIPHER-ALL:+" : "",
		 cipher ? cipher : "");
	ret = gnutls_priority_set_direct(c.session, priority, NULL);
	if (ret >= 0)
		ret = gnutls_credentials_set(c.session, GNUTLS_CRD_CERTIFICATE, cred);
	if (ret >= 0 && server)
		ret = gnutls_session_ticket_enable_server(c.session, &ticket_key);
	if (ret < 0)
		die("session set-up", ret);
	if (host) {
		unsigned char ip[16];

		if (inet_pton(AF_INET, host, ip) != 1 && inet_pton(AF_INET6, host, ip) != 1)
			gnutls_server_name_set(c.session, GNUTLS_NAME_DNS, host, strlen(host));
		gnutls_session_set_verify_cert(c.session, host, 0);
	}
	gnutls_transport_set_int(c.session, fd);
	gnutls_handshake_set_timeout(c.session, GNUTLS_DEFAULT_HANDSHAKE_TIMEOUT);
	do
		ret = gnutls_handshake(c.session);
	while (ret < 0 && !gnutls_error_is_fatal(ret));
	if (ret < 0)
		die("handshake failed", ret);

	if (!userspace) {
		c.s = afktls_from_gnutls(c.session, AFKTLS_CLOEXEC); /* AF_KTLS: the handoff */
		if (c.s < 0)
			die(afktls_last_error(), 0);
	}
	char *desc = gnutls_session_get_desc(c.session);
	fprintf(stderr, "gnutls_echo: %s, data through %s\n", desc,
		userspace ? "GnuTLS" : "AF_KTLS");
	gnutls_free(desc);
	return c;
}

static void finish(struct conn *c)
{
	if (c->s >= 0) {
		afktls_close_notify(c->s);                      /* AF_KTLS */
		close(c->s);
	} else {
		gnutls_bye(c->session, GNUTLS_SHUT_WR);
	}
	gnutls_deinit(c->session);
}

static int serve(int fd)
{
	unsigned char buf[16384];
	struct conn c = start(fd, true, NULL);
	ssize_t n;
	long total = 0;

	while ((n = conn_recv(&c, buf, sizeof(buf))) > 0) {
		if (send_all(&c, buf, (size_t)n) < 0)
			break;
		total += n;
	}
	if (n < 0)
		fprintf(stderr, "gnutls_echo: receive failed: %s\n",
			c.s >= 0 ? afktls_last_error() : "GnuTLS error");
	fprintf(stderr, "gnutls_echo: echoed %ld bytes\n", total);
	finish(&c);
	return n < 0;
}

static int server(const char *port, const char *cert, const char *key)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(atoi(port)) };
	int one = 1, l = socket(AF_INET, dtls ? SOCK_DGRAM : SOCK_STREAM, 0), failed = 0, ret;

	ret = gnutls_certificate_set_x509_key_file(cred, cert, key, GNUTLS_X509_FMT_PEM);
	if (ret >= 0)
		ret = gnutls_session_ticket_key_generate(&ticket_key);
	if (ret < 0)
		die("certificate or key", ret);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l, (struct sockaddr *)&addr, sizeof(addr)) < 0 || (!dtls && listen(l, 16) < 0))
		die("bind/listen", 0);
	do {
		int fd;

		if (dtls) {
			/* One client: connect the UDP socket to whoever sent the first datagram. */
			struct sockaddr_storage peer;
			socklen_t len = sizeof(peer);
			char b;

			if (recvfrom(l, &b, 1, MSG_PEEK, (struct sockaddr *)&peer, &len) < 0 ||
			    connect(l, (struct sockaddr *)&peer, len) < 0)
				die("DTLS accept", 0);
			fd = l;
		} else if ((fd = accept(l, NULL, NULL)) < 0) {
			die("accept", 0);
		}
		failed |= serve(fd);
		if (fd != l)
			close(fd);
	} while (!once && !dtls);
	gnutls_free(ticket_key.data);
	return failed;
}

static int client(const char *host, const char *port, const char *cafile)
{
	struct addrinfo hints = { .ai_socktype = dtls ? SOCK_DGRAM : SOCK_STREAM }, *ai;
	unsigned char out[16384], in[16384];
	size_t chunk = dtls ? 1024 : sizeof(out);
	struct conn c;
	int fd, ret;

	ret = gnutls_certificate_set_x509_trust_file(cred, cafile, GNUTLS_X509_FMT_PEM);
	if (ret <= 0)
		die("CA file", ret);
	if (getaddrinfo(host, port, &hints, &ai) != 0)
		die("unknown host", 0);
	fd = socket(ai->ai_family, ai->ai_socktype, 0);
	if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0)
		die("connect", 0);
	freeaddrinfo(ai);
	c = start(fd, false, host);

	for (size_t off = 0; off < bytes; off += chunk) {
		size_t len = bytes - off < chunk ? bytes - off : chunk, got = 0;

		for (size_t i = 0; i < len; i++) /* lines of 63 letters: see --bytes */
			out[i] = (off + i) % 64 == 63 ? '\n' : 'A' + (off + i) * 7 / 64 % 26;
		if (send_all(&c, out, len) < 0)
			die(c.s >= 0 ? afktls_last_error() : "send failed", 0);
		while (got < len) {
			ssize_t n = conn_recv(&c, in + got, len - got);

			if (n <= 0)
				die(c.s >= 0 && n < 0 ? afktls_last_error() : "echo ended early", 0);
			got += (size_t)n;
		}
		if (memcmp(in, out, len) != 0)
			die("the echo differs from what was sent", 0);
	}
	printf("gnutls_echo: %zu bytes sent and echoed intact\n", bytes);
	finish(&c);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	char *pos[4];
	int npos = 0, ret;

	signal(SIGPIPE, SIG_IGN);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--tls1.2") == 0)
			version = ":-VERS-ALL:+VERS-TLS1.2";
		else if (strcmp(argv[i], "--tls1.3") == 0)
			version = ":-VERS-ALL:+VERS-TLS1.3";
		else if (strcmp(argv[i], "--dtls") == 0)
			dtls = 1, version = ":-VERS-ALL:+VERS-DTLS1.2";
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
	ret = gnutls_certificate_allocate_credentials(&cred);
	if (ret < 0)
		die("credentials", ret);
	if (npos == 4 && strcmp(pos[0], "server") == 0)
		return server(pos[1], pos[2], pos[3]);
	if (npos == 4 && strcmp(pos[0], "client") == 0)
		return client(pos[1], pos[2], pos[3]);
	fprintf(stderr, "usage: gnutls_echo server PORT CERT KEY [options]\n"
			"       gnutls_echo client HOST PORT CAFILE [options]\n"
			"options: --tls1.2 --tls1.3 --dtls --cipher NAME --bytes N --once "
			"--userspace\n");
	return 2;
}
