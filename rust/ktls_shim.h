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
#include <linux/wait.h>
#include <net/sock.h>

/* The `family` module parameter: the address family to register. */
int ktls_shim_family(void);

/*
 * Learns the proto_ops and struct proto the kernel gives a fresh TCP and UDP socket of each inet
 * family, from sockets it creates and releases at once. ktls_shim_bound_claim() compares the
 * sockets userspace binds with them. Returns 0 or the errno of sock_create_kern().
 */
int ktls_shim_learn_inet_ops(void);

/* Registers and unregisters af_ktls's `struct proto` (the allocator of its `struct sock`). */
int ktls_shim_proto_register(void);
void ktls_shim_proto_unregister(void);

/*
 * Allocates the `struct sock` of a new AF_KTLS socket for @family and attaches it to @sock.
 * Its context is NULL until ktls_shim_sk_set_ctx(). Returns NULL when out of memory.
 */
struct sock *ktls_shim_sk_alloc(struct net *net, struct socket *sock, int family, int kern);

/* The Rust context of an AF_KTLS `struct sock`; setting it passes ownership to the sock. */
void ktls_shim_sk_set_ctx(struct sock *sk, void *ctx);
void *ktls_shim_sk_ctx(struct sock *sk);

/* Takes the context back (leaving NULL), for release. */
void *ktls_shim_sk_take_ctx(struct sock *sk);

/* sock_hold() and sock_put(). */
void ktls_shim_sk_hold(struct sock *sk);
void ktls_shim_sk_put(struct sock *sk);

/*
 * Detaches @sock's `struct sock` (whose context the caller took back) from the socket, orphans it
 * and drops the socket's reference to it.
 */
void ktls_shim_sk_release(struct socket *sock);

/*
 * Wakes the tasks waiting on the AF_KTLS socket of @sk (poll, epoll) with the poll @mask. Does
 * nothing once the socket is orphaned (released).
 */
void ktls_shim_sk_wake(struct sock *sk, __poll_t mask);

/* sock_poll_wait(): registers @wait on the AF_KTLS socket's own wait queue. */
void ktls_shim_sock_poll_wait(struct file *file, struct socket *sock,
			      struct poll_table_struct *wait);

/* The AF_KTLS socket's SO_RCVTIMEO / SO_SNDTIMEO in jiffies, 0 when @nonblock. */
long ktls_shim_rcvtimeo(struct socket *sock, bool nonblock);
long ktls_shim_sndtimeo(struct socket *sock, bool nonblock);

/* --- The bound TCP/UDP socket --------------------------------------------------------------- */

/*
 * Looks up the socket behind @fd and takes a reference on its file (sockfd_lookup). Returns NULL
 * and sets *@err (-EBADF, -ENOTSOCK) on failure. Drop the reference with ktls_shim_sock_put().
 */
struct socket *ktls_shim_sock_lookup(int fd, int *err);
void ktls_shim_sock_put(struct socket *sock);

/*
 * Checks that @sock is a socket AF_KTLS can carry records on and claims it: a TCP (@stream) or
 * UDP socket of AF_INET/AF_INET6 with the kernel's own TCP/UDP operations (so its `struct sock`
 * really is a tcp_sock or udp_sock), connected, with nothing else attached. The claim marks
 * sk_user_data, as sockmap, KCM and encapsulating sockets do, so none of them (nor a second
 * AF_KTLS socket) can take it while AF_KTLS holds it. Returns 0, -EPROTOTYPE (another kind of
 * socket), -ENOTCONN (not connected), -EEXIST (AF_KTLS or a TCP upper layer protocol such as
 * mainline kTLS is attached) or -EBUSY (another kernel user holds it).
 */
int ktls_shim_bound_claim(struct socket *sock, bool stream);

/* Undoes ktls_shim_bound_claim(). */
void ktls_shim_bound_unclaim(struct socket *sock);

/*
 * Adds @entry to the bound socket's wait queue, where @func is called (in atomic context, under
 * the queue's lock) with the poll mask of every wake-up: data, room, errors, state changes. The
 * entry must be removed with ktls_shim_bound_unwatch() before its memory goes away.
 */
void ktls_shim_bound_watch(struct socket *sock, struct wait_queue_entry *entry,
			   wait_queue_func_t func);
void ktls_shim_bound_unwatch(struct socket *sock, struct wait_queue_entry *entry);

/* The poll mask of the wake-up an entry's func was called with (its `key`). */
__poll_t ktls_shim_wake_key_mask(void *key);

/* The bound socket's poll mask, registering @wait on its wait queue. */
__poll_t ktls_shim_sock_poll(struct socket *sock, struct poll_table_struct *wait);

/*
 * Waits on the bound socket @sock, for at most *@timeo jiffies (updated), until a reader
 * (@for_write false) or a writer could make progress: data, the end of input or an error, resp.
 * room, the end of output or an error. Error-queue entries (IP_RECVERR, timestamps) do not count.
 * With @sleep_first it sleeps until the next wake-up before looking (the caller found the socket
 * ready and still could not progress), so it never spins. Returns 0, -EAGAIN when the time ran
 * out, or the errno of a pending signal (-ERESTARTSYS without a timeout, else -EINTR).
 */
int ktls_shim_bound_wait(struct socket *sock, long *timeo, bool for_write, bool sleep_first);

/* Whether an error (sk_err) waits on the bound socket, for the next call to return. */
bool ktls_shim_bound_error_pending(struct socket *sock);

/* Whether the bound socket's input ended (shutdown(SHUT_RD), FIN received, reset). */
bool ktls_shim_bound_input_ended(struct socket *sock);

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

/* --- The module's workqueue and /proc/net/af_ktls ------------------------------------------- */

/*
 * The workqueue af_ktls's work items run on. Destroying it waits for every queued item, so no
 * item outlives the module.
 */
struct workqueue_struct *ktls_shim_wq_alloc(void);
void ktls_shim_wq_destroy(struct workqueue_struct *wq);

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
