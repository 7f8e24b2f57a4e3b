/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C helpers of the module's Rust layers: the static-inline kernel functions they need and the few
 * objects (struct proto, struct sock's context) that the kernel's Rust bindings cannot express.
 * Input of the module's own bindgen run (see Kbuild), which also declares the exported kernel
 * functions allowlisted there that kernel::bindings lacks. Nothing here knows AF_KTLS; each
 * section belongs to one Rust file:
 *
 *   rnet_*   rust/net/ (socket families, socks, connected inet sockets, wait entries, splice)
 *   rpage_*  rust/pages.rs (page references, page fragments, pinned user pages)
 *   raead_*, rsg_*  rust/crypto.rs (AEAD requests, scatterlists)
 *   rwq_*    rust/queue.rs (an owned workqueue)
 *   rproc_*  rust/proc.rs (single-show /proc/net files)
 */
#ifndef RUST_HELPERS_H
#define RUST_HELPERS_H

#include <crypto/aead.h>
#include <linux/net.h>
#include <linux/pipe_fs_i.h>
#include <linux/poll.h>
#include <linux/scatterlist.h>
#include <linux/skbuff.h>
#include <linux/uio.h>
#include <linux/seq_file.h>
#include <linux/sockptr.h>
#include <linux/splice.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <net/sock.h>

/* --- Socket families (rust/net/family.rs) ---------------------------------------------------- */

/*
 * Allocates and registers a `struct proto` named @name, owned by @owner, whose socks carry a
 * context pointer (rnet_sk_ctx()). Returns NULL (out of memory) or an ERR_PTR of
 * proto_register().
 */
struct proto *rnet_proto_register(const char *name, struct module *owner);

/* Unregisters and frees a proto of rnet_proto_register(); its last sock is gone. */
void rnet_proto_unregister(struct proto *proto);

/*
 * Allocates a `struct sock` of @proto for @family and attaches it to @sock (sock_init_data).
 * Its context is NULL. Returns NULL when out of memory.
 */
struct sock *rnet_sk_alloc(struct net *net, struct socket *sock, int family, int kern,
			   struct proto *proto);

/* The context of a sock of an rnet_proto_register() proto; setting passes ownership to it. */
void rnet_sk_set_ctx(struct sock *sk, void *ctx);
void *rnet_sk_ctx(struct sock *sk);

/* Takes the context back (leaving NULL). */
void *rnet_sk_take_ctx(struct sock *sk);

/* Detaches @sock's sock, orphans it and drops the socket's reference (release and failed create). */
void rnet_sk_release(struct socket *sock);

/* --- Socks (rust/net/sock.rs, rust/net/socket.rs) ------------------------------------------- */

/* sock_hold(), sock_put(). */
void rnet_sock_hold(struct sock *sk);
void rnet_sock_put(struct sock *sk);

/* Wakes @sk's pollers with @mask (as sock_def_readable does); nothing once it is orphaned. */
void rnet_sk_wake(struct sock *sk, __poll_t mask);

/* sock_poll_wait(): registers @wait on @sock's own wait queue. */
void rnet_sock_poll_wait(struct file *file, struct socket *sock, struct poll_table_struct *wait);

/* @sock's SO_RCVTIMEO / SO_SNDTIMEO in jiffies, 0 when @nonblock. */
long rnet_sock_rcvtimeo(struct socket *sock, bool nonblock);
long rnet_sock_sndtimeo(struct socket *sock, bool nonblock);

/*
 * Finds the control message @level/@type with a one-byte payload in @msg (kernel copy of the
 * control data, as sendmsg has it) and stores the byte in *@out. Returns 1 when found, 0 when
 * absent, -EINVAL for a malformed control message or one of another type at @level.
 */
int rnet_cmsg_find_u8(struct msghdr *msg, int level, int type, u8 *out);

/* copy_from_sockptr(): 0 or -EFAULT. */
int rnet_copy_from_sockptr(void *dst, sockptr_t src, size_t len);

/* --- Connected inet sockets (rust/net/inet.rs) ----------------------------------------------- */

/*
 * Learns the proto_ops and struct proto the kernel gives a fresh TCP and UDP socket of each inet
 * family, from sockets made and released at once (not all of them are exported to modules).
 * Returns 0 or the errno of sock_create_kern().
 */
int rnet_inet_learn_ops(void);

/*
 * Checks that @sock is a connected TCP (@stream) or UDP socket of AF_INET/AF_INET6 with the
 * kernel's own operations (so its sock really is a tcp_sock or udp_sock) and nothing attached,
 * and marks its sk_user_data with @marker (8-byte aligned) as its users' convention is. Returns 0,
 * -EPROTOTYPE (another kind of socket), -ENOTCONN, -EEXIST (@marker or a TCP upper layer protocol
 * is there already) or -EBUSY (another kernel user holds it).
 */
int rnet_inet_claim(struct socket *sock, bool stream, void *marker);

/* Clears sk_user_data if it is still @marker. */
void rnet_inet_unclaim(struct socket *sock, void *marker);

/* Adds @entry, with @func as its wake function, to @sock's wait queue; removes it. */
void rnet_sock_add_wait(struct socket *sock, struct wait_queue_entry *entry,
			wait_queue_func_t func);
void rnet_sock_remove_wait(struct socket *sock, struct wait_queue_entry *entry);

/*
 * Waits on @sock, for at most *@timeo jiffies (updated), until a reader (@for_write false) or a
 * writer could make progress: data, the end of input or sk_err, resp. room, the end of output or
 * sk_err. Error-queue entries (IP_RECVERR, timestamps) do not count. With @sleep_first it sleeps
 * until the next wake-up before looking. Returns 0, -EAGAIN when the time ran out, or the errno
 * of a pending signal (-ERESTARTSYS without a timeout, else -EINTR).
 */
int rnet_inet_wait(struct socket *sock, long *timeo, bool for_write, bool sleep_first);

/* Whether sk_err is set; whether the input ended (shutdown(SHUT_RD), FIN, reset). */
bool rnet_sock_error_pending(struct socket *sock);
bool rnet_sock_input_ended(struct socket *sock);

/* sk_rcvbuf. */
int rnet_sock_rcvbuf(struct socket *sock);

/* Sends SIGPIPE to the current task, as a stream socket does for a write after shutdown. */
void rnet_raise_sigpipe(void);

/* tcp_inq() of a TCP socket. */
int rnet_tcp_inq(struct socket *sock);

/* lock_sock() and release_sock(): the caller then owns the socket's receive queue. */
void rnet_sock_lock(struct socket *sock);
void rnet_sock_unlock(struct socket *sock);

/*
 * TCP, socket locked: maps the @len queued bytes that start @offset bytes after the next byte
 * to read into @sg (at most @nents entries, not marked as the end). Returns the entries used,
 * -EAGAIN if fewer bytes are queued, -EMSGSIZE if more entries are needed.
 */
int rnet_tcp_queue_sg(struct socket *sock, u32 offset, u32 len, struct scatterlist *sg,
		      unsigned int nents);

/* TCP, socket locked: copies @len queued bytes from @offset into @to; 0 or -EAGAIN. */
int rnet_tcp_queue_copy(struct socket *sock, u32 offset, void *to, u32 len);

/* TCP, socket locked: consumes the next @len queued bytes (tcp_read_done). */
void rnet_tcp_consume(struct socket *sock, u32 len);

/*
 * TCP: whether the receive side is stalled, so that queued data must be read out for more to
 * come: memory pressure, or a receive window down to one segment (mainline kTLS's test for
 * leaving zero-copy parsing, tcp_epollin_ready(sk, INT_MAX)).
 */
bool rnet_tcp_rcv_stalled(struct socket *sock);

/*
 * UDP: the next datagram, without waiting, its checksum verified (bad ones are dropped as
 * udp_recvmsg drops them), its payload at offset 0 and @*len bytes long. NULL with @*err
 * (-EAGAIN when none is queued). Release it with rnet_udp_consume().
 */
struct sk_buff *rnet_udp_recv(struct socket *sock, unsigned int *len, int *err);
void rnet_udp_consume(struct socket *sock, struct sk_buff *skb);

/* Maps @len bytes of @skb from @offset into @sg, as rnet_tcp_queue_sg() does. */
int rnet_skb_sg(struct sk_buff *skb, u32 offset, u32 len, struct scatterlist *sg,
		unsigned int nents);

/*
 * Held socket buffers: clones that keep the bytes of socket buffers valid after the socket
 * consumed them (the data is shared, not copied), for operations that outlive the socket lock.
 */
void rnet_hold_init(struct sk_buff_head *hold);
void rnet_hold_release(struct sk_buff_head *hold);

/*
 * As rnet_tcp_queue_sg() (TCP, socket locked) and rnet_skb_sg(), mapping clones of the socket
 * buffers, which join @hold. Returns the entries used or an error (nothing held then).
 */
int rnet_tcp_queue_sg_held(struct socket *sock, u32 offset, u32 len, struct scatterlist *sg,
			   unsigned int nents, struct sk_buff_head *hold);
int rnet_skb_sg_held(struct sk_buff *skb, u32 offset, u32 len, struct scatterlist *sg,
		     unsigned int nents, struct sk_buff_head *hold);

/*
 * Puts @len bytes of @page at @offset in @pipe as one buffer holding a new reference to the page
 * (nosteal_pipe_buf_ops). Returns @len, -EAGAIN when the pipe is full, or -EPIPE (and SIGPIPE)
 * when it has no reader.
 */
ssize_t rnet_pipe_add_page(struct pipe_inode_info *pipe, struct page *page, unsigned int offset,
			   unsigned int len);

/* --- Pages (rust/pages.rs) ----------------------------------------------------------------- */

/* get_page(), put_page(), page_address(). */
void rpage_get(struct page *page);
void rpage_put(struct page *page);
void *rpage_address(struct page *page);

/* iov_iter_extract_will_pin(): whether extracted pages are pinned (user memory). */
bool rpage_iter_will_pin(const struct iov_iter *iter);

/* --- Scatterlists and AEAD (rust/crypto.rs) -------------------------------------------------- */

/* sg_set_page(), sg_set_buf(), sg_mark_end(). */
void rsg_set_page(struct scatterlist *sg, struct page *page, unsigned int len,
		  unsigned int offset);
void rsg_set_buf(struct scatterlist *sg, const void *buf, unsigned int len);
void rsg_mark_end(struct scatterlist *sg);
void rsg_init_prefix(struct scatterlist *sgl, unsigned int n, unsigned int len);

/*
 * Encrypts or decrypts @src into @dst (which may be @src): @assoclen bytes of AAD then
 * @cryptlen bytes (for decryption, the tag included), waiting for the result. Returns 0,
 * -EBADMSG when authentication fails, or another error.
 */
int raead_crypt_sg(struct aead_request *req, bool encrypt, u8 *iv, struct scatterlist *src,
		   struct scatterlist *dst, unsigned int assoclen, unsigned int cryptlen);


/*
 * Allocates the transform @alg_name (e.g. "gcm(aes)") with @key and a @tag_len-byte tag, and one
 * request for it, stored in *@req. With @cryptd, the synchronous implementation of @alg_name
 * wrapped in cryptd(), which makes it asynchronous (for testing). Returns an ERR_PTR on failure.
 */
struct crypto_aead *raead_alloc(const char *alg_name, const u8 *key, unsigned int key_len,
				unsigned int tag_len, bool cryptd, struct aead_request **req);

/* Frees a transform (the crypto API wipes the key schedule), resp. a request. */
void raead_tfm_free(struct crypto_aead *tfm);

/* Whether @tfm is an asynchronous implementation (CRYPTO_ALG_ASYNC). */
bool raead_is_async(struct crypto_aead *tfm);

/* Another request for @tfm (operations in flight at once each need their own), or NULL. */
struct aead_request *raead_request_alloc(struct crypto_aead *tfm);
void raead_request_free(struct aead_request *req);

/*
 * Starts decrypting (or encrypting) as raead_crypt_sg() does, without waiting: returns 0 when
 * the operation completed at once, -EINPROGRESS when @done(@data, err) will be called with its
 * result (from any context; it may first be called with -EINPROGRESS, when a backlogged request
 * starts, which is no result), or an error.
 */
int raead_start(struct aead_request *req, bool encrypt, u8 *iv, struct scatterlist *src,
		struct scatterlist *dst, unsigned int assoclen, unsigned int cryptlen,
		void (*done)(void *data, int err), void *data);

/* --- Workqueue (rust/queue.rs) -------------------------------------------------------------- */

/* alloc_workqueue(@name, WQ_PERCPU, 0): work runs on the CPU it is queued on. */
struct workqueue_struct *rwq_alloc(const char *name);

/* The next online CPU after @cpu, wrapping around: @cpu itself when it is the only one. */
unsigned int rwq_cpu_after(unsigned int cpu);

/* --- /proc/net (rust/proc.rs) --------------------------------------------------------------- */

/* Creates /proc/net/@name in the initial network namespace, shown by @show. 0 or -ENOMEM. */
int rproc_net_create_single(const char *name, int (*show)(struct seq_file *, void *));

/* Removes /proc/net/@name. */
void rproc_net_remove(const char *name);

#endif /* RUST_HELPERS_H */
