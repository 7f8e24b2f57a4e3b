// SPDX-License-Identifier: GPL-2.0
/* Test peers for libafktls: see peers.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>

#include "afktls.h"
#include "peers.h"

#ifndef CERTS_DIR
#error "CERTS_DIR must name tests/data/certs"
#endif

const char *const proto_names[] = { "tls12", "tls13", "dtls12" };
const char *const cipher_names[] = { "aes128gcm", "aes256gcm", "chacha20", "cbc", "ccm" };
const char *const lib_names[] = { "openssl", "gnutls" };

static int __attribute__((format(printf, 2, 3))) fail(struct peer *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->error, sizeof(p->error), fmt, ap);
	va_end(ap);
	return -1;
}

static const char *openssl_error(void)
{
	static __thread char buf[200];
	unsigned long e = ERR_get_error();

	if (!e)
		return "no OpenSSL error queued";
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return buf;
}

/* No test waits forever: blocking calls on these sockets give up after 20 s. */
static void time_limit(int fd)
{
	struct timeval tv = { .tv_sec = 20 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

int connected_pair(bool dgram, int *client, int *server)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in b = a;
	socklen_t len = sizeof(a);
	int type = dgram ? SOCK_DGRAM : SOCK_STREAM;
	int l = socket(AF_INET, type, 0), c = socket(AF_INET, type, 0);

	if (l < 0 || c < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(l, (struct sockaddr *)&a, &len) < 0)
		goto err;
	if (dgram) {
		len = sizeof(b);
		if (bind(c, (struct sockaddr *)&b, sizeof(b)) < 0 ||
		    getsockname(c, (struct sockaddr *)&b, &len) < 0 ||
		    connect(c, (struct sockaddr *)&a, sizeof(a)) < 0 ||
		    connect(l, (struct sockaddr *)&b, sizeof(b)) < 0)
			goto err;
		time_limit(c);
		time_limit(l);
		*client = c;
		*server = l;
		return 0;
	}
	if (listen(l, 1) < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)) < 0)
		goto err;
	*server = accept(l, NULL, NULL);
	if (*server < 0)
		goto err;
	close(l);
	time_limit(c);
	time_limit(*server);
	*client = c;
	return 0;
err:
	perror("connected_pair");
	if (l >= 0)
		close(l);
	if (c >= 0)
		close(c);
	return -1;
}

/* ---- OpenSSL ----------------------------------------------------------------------------- */

static const char *openssl_suite(enum peer_proto proto, enum peer_cipher cipher)
{
	static const char *const tls13[] = {
		"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
		NULL, "TLS_AES_128_CCM_SHA256",
	};
	static const char *const tls12[] = {
		"ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384",
		"ECDHE-RSA-CHACHA20-POLY1305", "ECDHE-RSA-AES128-SHA256", NULL,
	};

	return proto == PROTO_TLS13 ? tls13[cipher] : tls12[cipher];
}

static int openssl_setup(struct peer *p)
{
	bool dtls = p->opts.proto == PROTO_DTLS12;
	const SSL_METHOD *method = dtls ? (p->server ? DTLS_server_method() : DTLS_client_method())
				       : (p->server ? TLS_server_method() : TLS_client_method());
	int version = p->opts.proto == PROTO_TLS12   ? TLS1_2_VERSION
		      : p->opts.proto == PROTO_TLS13 ? TLS1_3_VERSION
						     : DTLS1_2_VERSION;
	const char *suite = openssl_suite(p->opts.proto, p->opts.cipher);

	p->ctx = SSL_CTX_new(method);
	if (!p->ctx || !suite)
		return fail(p, "SSL_CTX_new or suite: %s", openssl_error());
	SSL_CTX_set_min_proto_version(p->ctx, version);
	SSL_CTX_set_max_proto_version(p->ctx, version);
	if (p->opts.proto == PROTO_TLS13 ? !SSL_CTX_set_ciphersuites(p->ctx, suite)
					 : !SSL_CTX_set_cipher_list(p->ctx, suite))
		return fail(p, "cipher suite: %s", openssl_error());
	if (p->server) {
		if (SSL_CTX_use_certificate_chain_file(p->ctx, CERTS_DIR "/server.pem") != 1 ||
		    SSL_CTX_use_PrivateKey_file(p->ctx, CERTS_DIR "/server.key",
						SSL_FILETYPE_PEM) != 1)
			return fail(p, "certificate: %s", openssl_error());
		if (p->opts.tickets >= 0)
			SSL_CTX_set_num_tickets(p->ctx, (size_t)p->opts.tickets);
	} else {
		if (SSL_CTX_load_verify_locations(p->ctx, CERTS_DIR "/ca.pem", NULL) != 1)
			return fail(p, "CA: %s", openssl_error());
		SSL_CTX_set_verify(p->ctx, SSL_VERIFY_PEER, NULL);
	}
	p->ssl = SSL_new(p->ctx);
	if (!p->ssl)
		return fail(p, "SSL_new: %s", openssl_error());
	if (!p->server)
		SSL_set1_host(p->ssl, "localhost");
	if (!p->server && p->opts.resume && SSL_set_session(p->ssl, p->opts.resume) != 1)
		return fail(p, "SSL_set_session: %s", openssl_error());
	if (dtls) {
		BIO *bio = BIO_new_dgram(p->fd, BIO_NOCLOSE);
		struct sockaddr_storage peer;
		socklen_t len = sizeof(peer);

		if (!bio || getpeername(p->fd, (struct sockaddr *)&peer, &len) < 0)
			return fail(p, "dgram BIO: %s", openssl_error());
		BIO_ctrl(bio, BIO_CTRL_DGRAM_SET_CONNECTED, 0, &peer);
		SSL_set_bio(p->ssl, bio, bio);
	} else if (SSL_set_fd(p->ssl, p->fd) != 1) {
		return fail(p, "SSL_set_fd: %s", openssl_error());
	}
	if (p->opts.afktls_init && afktls_openssl_init(p->ssl) < 0)
		return fail(p, "afktls_openssl_init: %s", afktls_last_error());
	return 0;
}

/* ---- GnuTLS ------------------------------------------------------------------------------ */

static int gnutls_fail(struct peer *p, const char *what, int ret)
{
	return fail(p, "%s: %s", what, gnutls_strerror(ret));
}

static int gnutls_setup(struct peer *p)
{
	static const char *const versions[] = { "+VERS-TLS1.2", "+VERS-TLS1.3", "+VERS-DTLS1.2" };
	static const char *const ciphers[] = {
		"+AES-128-GCM", "+AES-256-GCM", "+CHACHA20-POLY1305", "+AES-128-CBC", "+AES-128-CCM",
	};
	unsigned int flags = p->server ? GNUTLS_SERVER : GNUTLS_CLIENT;
	char priority[200];
	int ret;

	if (p->opts.proto == PROTO_DTLS12)
		flags |= GNUTLS_DATAGRAM;
	if (p->server && p->opts.tickets == 0)
		flags |= GNUTLS_NO_TICKETS;
	ret = gnutls_certificate_allocate_credentials(&p->cred);
	if (ret < 0)
		return gnutls_fail(p, "credentials", ret);
	if (p->server)
		ret = gnutls_certificate_set_x509_key_file(p->cred, CERTS_DIR "/server.pem",
							   CERTS_DIR "/server.key",
							   GNUTLS_X509_FMT_PEM);
	else
		ret = gnutls_certificate_set_x509_trust_file(p->cred, CERTS_DIR "/ca.pem",
							     GNUTLS_X509_FMT_PEM);
	if (ret < 0)
		return gnutls_fail(p, "certificate", ret);
	ret = gnutls_init(&p->session, flags);
	if (ret < 0)
		return gnutls_fail(p, "gnutls_init", ret);
	snprintf(priority, sizeof(priority), "NORMAL:-VERS-ALL:%s:-CIPHER-ALL:%s%s",
		 versions[p->opts.proto], ciphers[p->opts.cipher],
		 p->opts.cipher == CIPHER_CBC ? ":+SHA256:+SHA1" : "");
	ret = gnutls_priority_set_direct(p->session, priority, NULL);
	if (ret < 0)
		return gnutls_fail(p, priority, ret);
	ret = gnutls_credentials_set(p->session, GNUTLS_CRD_CERTIFICATE, p->cred);
	if (ret < 0)
		return gnutls_fail(p, "gnutls_credentials_set", ret);
	if (p->server && p->opts.tickets != 0) {
		ret = p->opts.ticket_key ? 0 : gnutls_session_ticket_key_generate(&p->ticket_key);
		if (ret >= 0)
			ret = gnutls_session_ticket_enable_server(p->session, p->opts.ticket_key ?
									      p->opts.ticket_key :
									      &p->ticket_key);
		if (ret < 0)
			return gnutls_fail(p, "session tickets", ret);
	}
	if (!p->server)
		gnutls_session_set_verify_cert(p->session, "localhost", 0);
	gnutls_transport_set_int(p->session, p->fd);
	gnutls_handshake_set_timeout(p->session, 20000);
	return 0;
}

/* ---- both -------------------------------------------------------------------------------- */

int peer_setup(struct peer *p, enum peer_lib lib, bool server, int fd,
	       const struct peer_opts *opts)
{
	memset(p, 0, sizeof(*p));
	p->lib = lib;
	p->server = server;
	p->fd = fd;
	p->opts = *opts;
	return lib == LIB_OPENSSL ? openssl_setup(p) : gnutls_setup(p);
}

int peer_handshake(struct peer *p)
{
	if (p->lib == LIB_OPENSSL) {
		int ret = p->server ? SSL_accept(p->ssl) : SSL_connect(p->ssl);

		if (ret != 1)
			return fail(p, "OpenSSL handshake error %d: %s", SSL_get_error(p->ssl, ret),
				    openssl_error());
		return 0;
	}
	for (;;) {
		int ret = gnutls_handshake(p->session);

		if (ret == 0)
			return 0;
		if (gnutls_error_is_fatal(ret))
			return gnutls_fail(p, "gnutls_handshake", ret);
	}
}

static void *handshake_thread(void *arg)
{
	struct peer *p = arg;

	p->result = peer_handshake(p);
	return NULL;
}

int handshake_pair(struct peer *a, struct peer *b)
{
	pthread_t t;
	int ra;

	if (pthread_create(&t, NULL, handshake_thread, b) != 0)
		return -1;
	ra = peer_handshake(a);
	if (ra < 0) {
		/* Unblock the other side. */
		shutdown(a->fd, SHUT_RDWR);
	}
	pthread_join(t, NULL);
	return ra < 0 || b->result < 0 ? -1 : 0;
}

int peer_write_all(struct peer *p, const void *buf, size_t len)
{
	const unsigned char *c = buf;
	size_t chunk = p->opts.proto == PROTO_DTLS12 ? 1000 : 16384;

	while (len > 0) {
		size_t n = len < chunk ? len : chunk;
		ssize_t w;

		if (p->lib == LIB_OPENSSL) {
			int r = SSL_write(p->ssl, c, (int)n);

			w = r > 0 ? r : -1;
		} else {
			do
				w = gnutls_record_send(p->session, c, n);
			while (w == GNUTLS_E_AGAIN || w == GNUTLS_E_INTERRUPTED);
		}
		if (w <= 0)
			return fail(p, "%s write failed", lib_names[p->lib]);
		c += w;
		len -= (size_t)w;
	}
	return 0;
}

ssize_t peer_read(struct peer *p, void *buf, size_t len)
{
	if (p->lib == LIB_OPENSSL) {
		int r = SSL_read(p->ssl, buf, (int)len);

		if (r > 0)
			return r;
		if (SSL_get_error(p->ssl, r) == SSL_ERROR_ZERO_RETURN)
			return 0;
		fail(p, "SSL_read: %s", openssl_error());
		return -1;
	}
	for (;;) {
		ssize_t r = gnutls_record_recv(p->session, buf, len);

		if (r >= 0)
			return r;
		if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
			continue;
		gnutls_fail(p, "gnutls_record_recv", (int)r);
		return -1;
	}
}

int peer_read_all(struct peer *p, void *buf, size_t len)
{
	unsigned char *c = buf;

	while (len > 0) {
		ssize_t n = peer_read(p, c, len);

		if (n <= 0)
			return n == 0 ? fail(p, "%s", "closed early") : -1;
		c += n;
		len -= (size_t)n;
	}
	return 0;
}

void peer_close_notify(struct peer *p)
{
	if (p->lib == LIB_OPENSSL)
		SSL_shutdown(p->ssl);
	else
		gnutls_bye(p->session, GNUTLS_SHUT_WR);
}

void peer_free(struct peer *p)
{
	if (p->ssl)
		SSL_free(p->ssl);
	if (p->ctx)
		SSL_CTX_free(p->ctx);
	if (p->session)
		gnutls_deinit(p->session);
	if (p->cred)
		gnutls_certificate_free_credentials(p->cred);
	if (p->ticket_key.data)
		gnutls_free(p->ticket_key.data);
	memset(p, 0, sizeof(*p));
	p->fd = -1;
}

void fill_pattern(unsigned char *buf, size_t len, unsigned int seed)
{
	uint32_t x = seed * 2654435761u + 1;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[i] = (unsigned char)x;
	}
}
