// SPDX-License-Identifier: GPL-2.0
/*
 * af_ktls C shim: see ktls_shim.h.
 */
#include <linux/module.h>
#include "ktls_shim.h"

/* An AF_KTLS `struct sock`: the generic socket plus the pointer to its Rust state. */
struct ktls_sock {
	struct sock sk;
	void *ctx;
};

static struct proto ktls_proto = {
	.name = "AF_KTLS",
	.owner = THIS_MODULE,
	.obj_size = sizeof(struct ktls_sock),
};

int ktls_shim_proto_register(void)
{
	return proto_register(&ktls_proto, 1);
}

void ktls_shim_proto_unregister(void)
{
	proto_unregister(&ktls_proto);
}

struct sock *ktls_shim_sk_alloc(struct net *net, struct socket *sock, int family, int kern,
				void *ctx)
{
	struct sock *sk = sk_alloc(net, family, GFP_KERNEL, &ktls_proto, kern);

	if (!sk)
		return NULL;
	sock_init_data(sock, sk);
	container_of(sk, struct ktls_sock, sk)->ctx = ctx;
	return sk;
}

void *ktls_shim_sk_ctx(struct sock *sk)
{
	return container_of(sk, struct ktls_sock, sk)->ctx;
}

void ktls_shim_sk_release(struct socket *sock)
{
	struct sock *sk = sock->sk;

	container_of(sk, struct ktls_sock, sk)->ctx = NULL;
	sock_orphan(sk);
	sock->sk = NULL;
	sock_put(sk);
}
