/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The C side of af_ktls: static-inline kernel helpers and `struct proto`, which the kernel's Rust
 * bindings do not offer. Input of the module's own bindgen run (see Kbuild); keep it thin, the
 * logic lives in Rust. Every function here is named ktls_shim_*.
 */
#ifndef AF_KTLS_SHIM_H
#define AF_KTLS_SHIM_H

#include <crypto/aead.h>
#include <linux/net.h>
#include <linux/poll.h>
#include <linux/sockptr.h>
#include <net/sock.h>

/* The `family` module parameter: the address family to register. */
int ktls_shim_family(void);

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

/* --- The bound TCP/UDP socket --------------------------------------------------------------- */

/*
 * Looks up the socket behind @fd and takes a reference on its file (sockfd_lookup). Returns NULL
 * and sets *@err (-EBADF, -ENOTSOCK) on failure. Drop the reference with ktls_shim_sock_put().
 */
struct socket *ktls_shim_sock_lookup(int fd, int *err);
void ktls_shim_sock_put(struct socket *sock);

/* The socket's protocol (IPPROTO_TCP, IPPROTO_UDP, ...), address family and connection state. */
int ktls_shim_sock_protocol(const struct socket *sock);
int ktls_shim_sock_family(const struct socket *sock);
bool ktls_shim_sock_is_connected(const struct socket *sock);

/* The bound socket's poll mask, registering @wait on its wait queue. */
__poll_t ktls_shim_sock_poll(struct socket *sock, struct poll_table_struct *wait);

/* The receive timeout of the AF_KTLS socket @sock (SO_RCVTIMEO), 0 when @nonblock. */
long ktls_shim_rcvtimeo(struct socket *sock, bool nonblock);

/*
 * Waits until the bound socket @sock is readable (data, error or end of stream) for at most
 * *@timeo jiffies, updating *@timeo. Returns 0 when readable, -EAGAIN on timeout, or the
 * errno of a pending signal.
 */
int ktls_shim_wait_readable(struct socket *sock, long *timeo);

/* Bytes queued for reading on the bound TCP socket @sock (tcp_inq). */
int ktls_shim_tcp_inq(struct socket *sock);

/* --- AEAD through the kernel crypto API ------------------------------------------------------ */

/*
 * Allocates the transform @alg_name (e.g. "gcm(aes)") with @key and a @tag_len-byte tag, and one
 * request for it, stored in *@req. Returns an ERR_PTR on failure.
 */
struct crypto_aead *ktls_shim_aead_alloc(const char *alg_name, const u8 *key, unsigned int key_len,
					 unsigned int tag_len, struct aead_request **req);

/* Frees a transform and its request; the crypto API wipes the key schedule. */
void ktls_shim_aead_free(struct crypto_aead *tfm, struct aead_request *req);

/*
 * Encrypts (@encrypt) or decrypts @data in place, waiting for the result. @aad and @data must be
 * in the kernel's linear mapping (kmalloc, not the stack). For encryption @data_len is the
 * plaintext length and @data must have room for the tag after it; for decryption @data_len
 * includes the tag. Returns 0, -EBADMSG when authentication fails, or another error.
 */
int ktls_shim_aead_crypt(struct aead_request *req, bool encrypt, u8 *iv, u8 *aad,
			 unsigned int aad_len, u8 *data, unsigned int data_len);

/* --- /proc/net/af_ktls ---------------------------------------------------------------------- */

/* Creates and removes /proc/net/af_ktls in the initial network namespace. */
int ktls_shim_proc_create(void);
void ktls_shim_proc_remove(void);

/* --- User memory ----------------------------------------------------------------------------- */

/*
 * Finds the control message @level/@type with a one-byte payload in @msg (kernel copy of the
 * control data, as sendmsg has it) and stores the byte in *@out. Returns 1 when found, 0 when
 * absent, -EINVAL for a malformed or unknown control message at @level.
 */
int ktls_shim_cmsg_record_type(struct msghdr *msg, int level, int type, u8 *out);

/* copy_from_sockptr(): 0 or -EFAULT. */
int ktls_shim_copy_from_sockptr(void *dst, sockptr_t src, size_t len);

#endif /* AF_KTLS_SHIM_H */
