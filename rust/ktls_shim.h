/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The C side of af_ktls: static-inline kernel helpers and `struct proto`, which the kernel's Rust
 * bindings do not offer. Input of the module's own bindgen run (see Kbuild); keep it thin, the
 * logic lives in Rust. Every function here is named ktls_shim_*.
 */
#ifndef AF_KTLS_SHIM_H
#define AF_KTLS_SHIM_H

#include <linux/net.h>
#include <net/sock.h>

/* Registers and unregisters af_ktls's `struct proto` (the allocator of its `struct sock`). */
int ktls_shim_proto_register(void);
void ktls_shim_proto_unregister(void);

/*
 * Allocates the `struct sock` of a new AF_KTLS socket for @family, attaches it to @sock and
 * stores @ctx (owned by Rust) in it. Returns NULL when out of memory.
 */
struct sock *ktls_shim_sk_alloc(struct net *net, struct socket *sock, int family, int kern,
				void *ctx);

/* The Rust context stored by ktls_shim_sk_alloc(). */
void *ktls_shim_sk_ctx(struct sock *sk);

/*
 * Detaches @sock's `struct sock` (whose context the caller already freed) and drops the socket's
 * reference to it.
 */
void ktls_shim_sk_release(struct socket *sock);

#endif /* AF_KTLS_SHIM_H */
