// SPDX-License-Identifier: GPL-2.0
/*
 * C helpers of the module's Rust layers: see helpers.h.
 */
#include <linux/file.h>
#include <linux/module.h>
#include <linux/pipe_fs_i.h>
#include <linux/proc_fs.h>
#include <linux/scatterlist.h>
#include <linux/sched/signal.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/splice.h>
#include <linux/udp.h>
#include <net/udp.h>
#include <linux/workqueue.h>
#include <net/net_namespace.h>
#include <net/tcp.h>
#include <net/tcp_states.h>
#include "helpers.h"

/* --- Socket families ------------------------------------------------------------------------ */

/* A sock of an rnet_proto_register() proto: the generic sock plus its Rust context. */
struct rnet_sock {
	struct sock sk;
	void *ctx;
};

struct proto *rnet_proto_register(const char *name, struct module *owner)
{
	struct proto *proto = kzalloc(sizeof(*proto), GFP_KERNEL);
	int err;

	if (!proto)
		return NULL;
	strscpy(proto->name, name, sizeof(proto->name));
	proto->owner = owner;
	proto->obj_size = sizeof(struct rnet_sock);
	err = proto_register(proto, 1);
	if (err) {
		kfree(proto);
		return ERR_PTR(err);
	}
	return proto;
}

void rnet_proto_unregister(struct proto *proto)
{
	proto_unregister(proto);
	kfree(proto);
}

struct sock *rnet_sk_alloc(struct net *net, struct socket *sock, int family, int kern,
			   struct proto *proto)
{
	struct sock *sk = sk_alloc(net, family, GFP_KERNEL, proto, kern);

	if (!sk)
		return NULL;
	sock_init_data(sock, sk);
	container_of(sk, struct rnet_sock, sk)->ctx = NULL;
	return sk;
}

void rnet_sk_set_ctx(struct sock *sk, void *ctx)
{
	container_of(sk, struct rnet_sock, sk)->ctx = ctx;
}

void *rnet_sk_ctx(struct sock *sk)
{
	return container_of(sk, struct rnet_sock, sk)->ctx;
}

void *rnet_sk_take_ctx(struct sock *sk)
{
	return xchg(&container_of(sk, struct rnet_sock, sk)->ctx, NULL);
}

void rnet_sk_release(struct socket *sock)
{
	struct sock *sk = sock->sk;

	sock_orphan(sk);
	sock->sk = NULL;
	sock_put(sk);
}

/* --- Socks ---------------------------------------------------------------------------------- */

void rnet_sock_hold(struct sock *sk)
{
	sock_hold(sk);
}

void rnet_sock_put(struct sock *sk)
{
	sock_put(sk);
}

void rnet_sk_wake(struct sock *sk, __poll_t mask)
{
	struct socket_wq *wq;

	rcu_read_lock();
	wq = rcu_dereference(sk->sk_wq);
	if (skwq_has_sleeper(wq))
		wake_up_interruptible_poll(&wq->wait, mask);
	rcu_read_unlock();
}

void rnet_sock_poll_wait(struct file *file, struct socket *sock, struct poll_table_struct *wait)
{
	sock_poll_wait(file, sock, wait);
}

long rnet_sock_rcvtimeo(struct socket *sock, bool nonblock)
{
	return sock_rcvtimeo(sock->sk, nonblock);
}

long rnet_sock_sndtimeo(struct socket *sock, bool nonblock)
{
	return sock_sndtimeo(sock->sk, nonblock);
}

int rnet_cmsg_find_u8(struct msghdr *msg, int level, int type, u8 *out)
{
	struct cmsghdr *cmsg;
	int found = 0;

	if (!msg->msg_controllen)
		return 0;
	for_each_cmsghdr(cmsg, msg) {
		if (!CMSG_OK(msg, cmsg))
			return -EINVAL;
		if (cmsg->cmsg_level != level)
			continue;
		if (cmsg->cmsg_type != type || cmsg->cmsg_len != CMSG_LEN(sizeof(*out)))
			return -EINVAL;
		*out = *(u8 *)CMSG_DATA(cmsg);
		found = 1;
	}
	return found;
}

int rnet_copy_from_sockptr(void *dst, sockptr_t src, size_t len)
{
	return copy_from_sockptr(dst, src, len) ? -EFAULT : 0;
}

/* --- Connected inet sockets ----------------------------------------------------------------- */

/*
 * The proto_ops and struct proto of a fresh TCP and UDP socket, per inet family:
 * [0] AF_INET, [1] AF_INET6; [0] TCP, [1] UDP. Not every one is exported to modules
 * (inet6_dgram_ops, udpv6_prot are not), so they are learnt from sockets made for the purpose.
 */
struct rnet_inet_ops {
	const struct proto_ops *ops;
	const struct proto *prot;
};

static struct rnet_inet_ops rnet_inet_ops[2][2];

int rnet_inet_learn_ops(void)
{
	static const int families[2] = { AF_INET, AF_INET6 };
	int f, udp;

	for (f = 0; f < 2; f++) {
		for (udp = 0; udp < 2; udp++) {
			struct socket *sock;
			int err = sock_create_kern(&init_net, families[f],
						   udp ? SOCK_DGRAM : SOCK_STREAM,
						   udp ? IPPROTO_UDP : IPPROTO_TCP, &sock);

			/* IPv6 may be disabled at boot: then no socket of it can be bound. */
			if (err == -EAFNOSUPPORT && families[f] == AF_INET6)
				continue;
			if (err)
				return err;
			rnet_inet_ops[f][udp].ops = sock->ops;
			rnet_inet_ops[f][udp].prot = READ_ONCE(sock->sk->sk_prot);
			sock_release(sock);
		}
	}
	return 0;
}

static void *rnet_user_data(struct sock *sk)
{
	uintptr_t data = (uintptr_t)rcu_dereference_protected(__sk_user_data(sk),
				lockdep_is_held(&sk->sk_callback_lock));

	return (void *)(data & SK_USER_DATA_PTRMASK);
}

int rnet_inet_claim(struct socket *sock, bool stream, void *marker)
{
	struct sock *sk = sock->sk;
	const struct rnet_inet_ops *want;
	int err = 0;

	if (!sk)
		return -EPROTOTYPE;
	lock_sock(sk);
	/* Every struct sock has these; the kind decides what the rest of it is. */
	if ((sk->sk_family != AF_INET && sk->sk_family != AF_INET6) ||
	    sk->sk_type != (stream ? SOCK_STREAM : SOCK_DGRAM) ||
	    sk->sk_protocol != (stream ? IPPROTO_TCP : IPPROTO_UDP)) {
		err = -EPROTOTYPE;
		goto out;
	}
	/* An inet TCP socket, so inet_connection_sock fields are there to read. */
	if (stream && inet_csk_has_ulp(sk)) {
		err = -EEXIST;
		goto out;
	}
	want = &rnet_inet_ops[sk->sk_family == AF_INET6][!stream];
	if (READ_ONCE(sock->ops) != want->ops || READ_ONCE(sk->sk_prot) != want->prot) {
		/* Numbers of TCP/UDP but other operations: sockmap or another layer has it. */
		err = -EBUSY;
		goto out;
	}
	if (READ_ONCE(sk->sk_state) != TCP_ESTABLISHED) {
		err = -ENOTCONN;
		goto out;
	}
	if (!stream && READ_ONCE(udp_sk(sk)->encap_type)) {
		err = -EBUSY;
		goto out;
	}
	write_lock_bh(&sk->sk_callback_lock);
	if (!rnet_user_data(sk))
		__rcu_assign_sk_user_data_with_flags(sk, marker, SK_USER_DATA_NOCOPY);
	else if (rnet_user_data(sk) == marker)
		err = -EEXIST;
	else
		err = -EBUSY;
	write_unlock_bh(&sk->sk_callback_lock);
out:
	release_sock(sk);
	return err;
}

void rnet_inet_unclaim(struct socket *sock, void *marker)
{
	struct sock *sk = sock->sk;

	write_lock_bh(&sk->sk_callback_lock);
	if (rnet_user_data(sk) == marker)
		rcu_assign_sk_user_data(sk, NULL);
	write_unlock_bh(&sk->sk_callback_lock);
}

void rnet_sock_add_wait(struct socket *sock, struct wait_queue_entry *entry,
			wait_queue_func_t func)
{
	init_waitqueue_func_entry(entry, func);
	add_wait_queue(sk_sleep(sock->sk), entry);
}

void rnet_sock_remove_wait(struct socket *sock, struct wait_queue_entry *entry)
{
	remove_wait_queue(sk_sleep(sock->sk), entry);
}

/*
 * Whether a reader or writer of @sock could progress. The socket's own poll decides for data and
 * room; errors count through sk_err only, never through EPOLLERR, which the error queue
 * (IP_RECVERR, timestamps) raises without anything for recvmsg to return.
 */
static bool rnet_inet_ready(struct socket *sock, bool for_write)
{
	struct sock *sk = sock->sk;
	__poll_t mask;

	if (READ_ONCE(sk->sk_err))
		return true;
	mask = sock->ops->poll(sock->file, sock, NULL);
	if (for_write)
		return (mask & (EPOLLOUT | EPOLLWRNORM | EPOLLHUP)) ||
		       (READ_ONCE(sk->sk_shutdown) & SEND_SHUTDOWN);
	return mask & (EPOLLIN | EPOLLRDNORM | EPOLLRDHUP | EPOLLHUP);
}

int rnet_inet_wait(struct socket *sock, long *timeo, bool for_write, bool sleep_first)
{
	DEFINE_WAIT_FUNC(wait, woken_wake_function);
	struct sock *sk = sock->sk;
	int err = 0;

	add_wait_queue(sk_sleep(sk), &wait);
	for (;;) {
		if (signal_pending(current)) {
			err = sock_intr_errno(*timeo);
			break;
		}
		if (!sleep_first && rnet_inet_ready(sock, for_write))
			break;
		if (!*timeo) {
			err = -EAGAIN;
			break;
		}
		sleep_first = false;
		*timeo = wait_woken(&wait, TASK_INTERRUPTIBLE, *timeo);
	}
	remove_wait_queue(sk_sleep(sk), &wait);
	return err;
}

bool rnet_sock_error_pending(struct socket *sock)
{
	return READ_ONCE(sock->sk->sk_err);
}

bool rnet_sock_input_ended(struct socket *sock)
{
	return READ_ONCE(sock->sk->sk_shutdown) & RCV_SHUTDOWN;
}

void rnet_raise_sigpipe(void)
{
	send_sig(SIGPIPE, current, 0);
}

int rnet_sock_rcvbuf(struct socket *sock)
{
	return READ_ONCE(sock->sk->sk_rcvbuf);
}

int rnet_tcp_inq(struct socket *sock)
{
	return tcp_inq(sock->sk);
}

void rnet_sock_lock(struct socket *sock)
{
	lock_sock(sock->sk);
}

void rnet_sock_unlock(struct socket *sock)
{
	release_sock(sock->sk);
}

/*
 * The number of scatterlist entries that map @len bytes of @skb from @offset, or -EMSGSIZE if
 * the frag lists nest too deep. The same count as net/tls/tls_sw.c's __skb_nsg().
 */
static int rnet_skb_nsg(struct sk_buff *skb, int offset, int len, unsigned int depth)
{
	int start = skb_headlen(skb);
	int i, chunk = start - offset;
	struct sk_buff *frag_iter;
	int elt = 0;

	if (unlikely(depth >= 24))
		return -EMSGSIZE;
	if (chunk > 0) {
		if (chunk > len)
			chunk = len;
		elt++;
		len -= chunk;
		if (len == 0)
			return elt;
		offset += chunk;
	}
	for (i = 0; i < skb_shinfo(skb)->nr_frags; i++) {
		int end = start + skb_frag_size(&skb_shinfo(skb)->frags[i]);

		chunk = end - offset;
		if (chunk > 0) {
			if (chunk > len)
				chunk = len;
			elt++;
			len -= chunk;
			if (len == 0)
				return elt;
			offset += chunk;
		}
		start = end;
	}
	skb_walk_frags(skb, frag_iter) {
		int end = start + frag_iter->len, ret;

		chunk = end - offset;
		if (chunk > 0) {
			if (chunk > len)
				chunk = len;
			ret = rnet_skb_nsg(frag_iter, offset - start, chunk, depth + 1);
			if (ret < 0)
				return ret;
			elt += ret;
			len -= chunk;
			if (len == 0)
				return elt;
			offset += chunk;
		}
		start = end;
	}
	return len ? -EINVAL : elt;
}

int rnet_skb_sg(struct sk_buff *skb, u32 offset, u32 len, struct scatterlist *sg,
		unsigned int nents)
{
	int need;

	if (offset > skb->len || len > skb->len - offset)
		return -EINVAL;
	need = rnet_skb_nsg(skb, offset, len, 0);
	if (need < 0)
		return need;
	if (need > nents)
		return -EMSGSIZE;
	return skb_to_sgvec_nomark(skb, sg, offset, len);
}

/*
 * Calls @fn for each piece of the @len bytes of the TCP receive queue that start @offset bytes
 * after the next byte to read. The socket is locked, so the queue does not change.
 */
static int rnet_tcp_walk(struct sock *sk, u32 offset, u32 len,
			 int (*fn)(struct sk_buff *skb, u32 off, u32 len, void *arg), void *arg)
{
	u32 seq = READ_ONCE(tcp_sk(sk)->copied_seq) + offset;
	struct sk_buff *skb;

	skb_queue_walk(&sk->sk_receive_queue, skb) {
		u32 start = TCP_SKB_CB(skb)->seq, off, chunk;
		int err;

		if (!len)
			break;
		/* As tcp_recv_skb(): a SYN takes a sequence number, not a byte. */
		if (TCP_SKB_CB(skb)->tcp_flags & TCPHDR_SYN)
			start++;
		if (before(seq, start))
			return -EINVAL;
		off = seq - start;
		if (off >= skb->len)
			continue;
		chunk = min_t(u32, len, skb->len - off);
		err = fn(skb, off, chunk, arg);
		if (err)
			return err;
		seq += chunk;
		len -= chunk;
	}
	return len ? -EAGAIN : 0;
}

struct rnet_sg_fill {
	struct scatterlist *sg;
	unsigned int nents;
	unsigned int used;
};

static int rnet_tcp_sg_piece(struct sk_buff *skb, u32 off, u32 len, void *arg)
{
	struct rnet_sg_fill *fill = arg;
	int n = rnet_skb_sg(skb, off, len, fill->sg + fill->used, fill->nents - fill->used);

	if (n < 0)
		return n;
	fill->used += n;
	return 0;
}

int rnet_tcp_queue_sg(struct socket *sock, u32 offset, u32 len, struct scatterlist *sg,
		      unsigned int nents)
{
	struct rnet_sg_fill fill = { .sg = sg, .nents = nents };
	int err = rnet_tcp_walk(sock->sk, offset, len, rnet_tcp_sg_piece, &fill);

	return err ? err : fill.used;
}

static int rnet_tcp_copy_piece(struct sk_buff *skb, u32 off, u32 len, void *arg)
{
	u8 **to = arg;
	int err = skb_copy_bits(skb, off, *to, len);

	*to += len;
	return err;
}

int rnet_tcp_queue_copy(struct socket *sock, u32 offset, void *to, u32 len)
{
	return rnet_tcp_walk(sock->sk, offset, len, rnet_tcp_copy_piece, &to);
}

struct rnet_sg_held {
	struct rnet_sg_fill fill;
	struct sk_buff_head *hold;
};

void rnet_hold_init(struct sk_buff_head *hold)
{
	__skb_queue_head_init(hold);
}

void rnet_hold_release(struct sk_buff_head *hold)
{
	__skb_queue_purge(hold);
}

int rnet_skb_sg_held(struct sk_buff *skb, u32 offset, u32 len, struct scatterlist *sg,
		     unsigned int nents, struct sk_buff_head *hold)
{
	struct sk_buff *clone;
	int n;

	/* The clone shares the data (and frags) and keeps it alive on its own. */
	clone = skb_clone(skb, GFP_KERNEL);
	if (!clone)
		return -ENOMEM;
	n = rnet_skb_sg(clone, offset, len, sg, nents);
	if (n < 0) {
		kfree_skb(clone);
		return n;
	}
	__skb_queue_tail(hold, clone);
	return n;
}

static int rnet_tcp_sg_held_piece(struct sk_buff *skb, u32 off, u32 len, void *arg)
{
	struct rnet_sg_held *held = arg;
	struct rnet_sg_fill *fill = &held->fill;
	int n = rnet_skb_sg_held(skb, off, len, fill->sg + fill->used, fill->nents - fill->used,
				 held->hold);

	if (n < 0)
		return n;
	fill->used += n;
	return 0;
}

int rnet_tcp_queue_sg_held(struct socket *sock, u32 offset, u32 len, struct scatterlist *sg,
			   unsigned int nents, struct sk_buff_head *hold)
{
	struct rnet_sg_held held = { .fill = { .sg = sg, .nents = nents }, .hold = hold };
	int err = rnet_tcp_walk(sock->sk, offset, len, rnet_tcp_sg_held_piece, &held);

	if (err) {
		__skb_queue_purge(hold);
		return err;
	}
	return held.fill.used;
}

void rnet_tcp_consume(struct socket *sock, u32 len)
{
	tcp_read_done(sock->sk, len);
}

bool rnet_tcp_rcv_stalled(struct socket *sock)
{
	return tcp_epollin_ready(sock->sk, INT_MAX);
}

struct sk_buff *rnet_udp_recv(struct socket *sock, unsigned int *len, int *err)
{
	struct sock *sk = sock->sk;
	struct sk_buff *skb;

	for (;;) {
		int off = 0;

		skb = __skb_recv_udp(sk, MSG_DONTWAIT, &off, err);
		if (!skb)
			return NULL;
		if (udp_skb_csum_unnecessary(skb) || !__udp_lib_checksum_complete(skb))
			break;
		/* A bad checksum: dropped and counted, as udp_recvmsg() does. */
		atomic_inc(&sk->sk_drops);
		kfree_skb(skb);
	}
	*len = udp_skb_len(skb);
	return skb;
}

void rnet_udp_consume(struct socket *sock, struct sk_buff *skb)
{
	/* Its receive memory was released when it left the queue (__skb_recv_udp). */
	consume_skb(skb);
}

ssize_t rnet_pipe_add_page(struct pipe_inode_info *pipe, struct page *page, unsigned int offset,
			   unsigned int len)
{
	struct pipe_buffer buf = {
		.page = page,
		.offset = offset,
		.len = len,
		.ops = &nosteal_pipe_buf_ops,
	};

	get_page(page);
	return add_to_pipe(pipe, &buf);
}

/* --- Pages --------------------------------------------------------------------------------- */

void rpage_get(struct page *page)
{
	get_page(page);
}

void rpage_put(struct page *page)
{
	put_page(page);
}

void *rpage_address(struct page *page)
{
	return page_address(page);
}

bool rpage_iter_will_pin(const struct iov_iter *iter)
{
	return iov_iter_extract_will_pin(iter);
}

/* --- Scatterlists and AEAD -------------------------------------------------------------------- */

void rsg_set_page(struct scatterlist *sg, struct page *page, unsigned int len,
		  unsigned int offset)
{
	sg_set_page(sg, page, len, offset);
}

void rsg_set_buf(struct scatterlist *sg, const void *buf, unsigned int len)
{
	sg_set_buf(sg, buf, len);
}

void rsg_mark_end(struct scatterlist *sg)
{
	sg_mark_end(sg);
}

/*
 * Re-initialises the first @n of the @len entries of a table whose other entries are still as
 * sg_init_table() left them: as sg_init_table(sgl, @len) would, without clearing the rest.
 */
void rsg_init_prefix(struct scatterlist *sgl, unsigned int n, unsigned int len)
{
	if (!n || n > len)
		return;
	sg_init_table(sgl, n);
	if (n < len)
		sg_unmark_end(&sgl[n - 1]);
}

int raead_crypt_sg(struct aead_request *req, bool encrypt, u8 *iv, struct scatterlist *src,
		   struct scatterlist *dst, unsigned int assoclen, unsigned int cryptlen)
{
	DECLARE_CRYPTO_WAIT(wait);

	aead_request_set_callback(req, CRYPTO_TFM_REQ_MAY_BACKLOG | CRYPTO_TFM_REQ_MAY_SLEEP,
				  crypto_req_done, &wait);
	aead_request_set_crypt(req, src, dst, cryptlen, iv);
	aead_request_set_ad(req, assoclen);
	return crypto_wait_req(encrypt ? crypto_aead_encrypt(req) : crypto_aead_decrypt(req),
			       &wait);
}


/*
 * cryptd() around the implementation @alg_name resolves to, by its driver name: instantiating
 * it by the generic name races with the probe by driver name and fails with -EEXIST.
 */
static struct crypto_aead *raead_alloc_cryptd(const char *alg_name)
{
	struct crypto_aead *tfm = crypto_alloc_aead(alg_name, 0, CRYPTO_ALG_ASYNC);
	char name[CRYPTO_MAX_ALG_NAME];
	int len;

	if (IS_ERR(tfm))
		return tfm;
	len = snprintf(name, sizeof(name), "cryptd(%s)", crypto_aead_driver_name(tfm));
	crypto_free_aead(tfm);
	if (len >= sizeof(name))
		return ERR_PTR(-ENAMETOOLONG);
	return crypto_alloc_aead(name, 0, 0);
}

struct crypto_aead *raead_alloc(const char *alg_name, const u8 *key, unsigned int key_len,
				unsigned int tag_len, bool cryptd, struct aead_request **req)
{
	struct crypto_aead *tfm = cryptd ? raead_alloc_cryptd(alg_name) :
					   crypto_alloc_aead(alg_name, 0, 0);
	int err;

	if (IS_ERR(tfm))
		return tfm;
	err = crypto_aead_setkey(tfm, key, key_len);
	if (!err)
		err = crypto_aead_setauthsize(tfm, tag_len);
	if (!err) {
		*req = aead_request_alloc(tfm, GFP_KERNEL);
		if (!*req)
			err = -ENOMEM;
	}
	if (err) {
		crypto_free_aead(tfm);
		return ERR_PTR(err);
	}
	return tfm;
}

void raead_tfm_free(struct crypto_aead *tfm)
{
	crypto_free_aead(tfm);
}

bool raead_is_async(struct crypto_aead *tfm)
{
	return crypto_aead_tfm(tfm)->__crt_alg->cra_flags & CRYPTO_ALG_ASYNC;
}

struct aead_request *raead_request_alloc(struct crypto_aead *tfm)
{
	return aead_request_alloc(tfm, GFP_KERNEL);
}

void raead_request_free(struct aead_request *req)
{
	aead_request_free(req);
}

int raead_start(struct aead_request *req, bool encrypt, u8 *iv, struct scatterlist *src,
		struct scatterlist *dst, unsigned int assoclen, unsigned int cryptlen,
		void (*done)(void *data, int err), void *data)
{
	int err;

	aead_request_set_callback(req, CRYPTO_TFM_REQ_MAY_BACKLOG | CRYPTO_TFM_REQ_MAY_SLEEP,
				  done, data);
	aead_request_set_crypt(req, src, dst, cryptlen, iv);
	aead_request_set_ad(req, assoclen);
	err = encrypt ? crypto_aead_encrypt(req) : crypto_aead_decrypt(req);
	/* A backlogged request completes through @done as well. */
	return err == -EBUSY ? -EINPROGRESS : err;
}

/* --- Workqueue ------------------------------------------------------------------------------ */

/*
 * Per-CPU: a work item runs on the CPU that queued it, which for decrypt-ahead is the CPU that
 * received the data (on loopback, the sender's), not the reader's, where it would compete with
 * the application. Measured with make bench's `ahead` scenario (2 vCPUs, wall clock), four runs
 * each: decrypt-ahead at 0.87-1.03x of decrypt-ahead off per-CPU, 0.73-0.85x unbound.
 */
struct workqueue_struct *rwq_alloc(const char *name)
{
	return alloc_workqueue("%s", WQ_PERCPU, 0, name);
}

unsigned int rwq_cpu_after(unsigned int cpu)
{
	return cpumask_next_wrap(cpu, cpu_online_mask);
}

/* --- /proc/net ------------------------------------------------------------------------------ */

int rproc_net_create_single(const char *name, int (*show)(struct seq_file *, void *))
{
	return proc_create_single(name, 0444, init_net.proc_net, show) ? 0 : -ENOMEM;
}

void rproc_net_remove(const char *name)
{
	remove_proc_entry(name, init_net.proc_net);
}
