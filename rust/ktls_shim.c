// SPDX-License-Identifier: GPL-2.0
/*
 * af_ktls C shim: see ktls_shim.h.
 */
#include <linux/file.h>
#include <linux/module.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <net/net_namespace.h>
#include <linux/scatterlist.h>
#include <linux/sched/signal.h>
#include <net/tcp.h>
#include <net/tcp_states.h>
#include "ktls_shim.h"
#include "../include/uapi/linux/ktls.h"

/*
 * The address family to register. A parameter of the C side because the Rust module! macro keeps
 * its parameters out of sysfs: applications read the number in use from
 * /sys/module/af_ktls/parameters/family.
 */
static int family = AF_KTLS;
module_param(family, int, 0444);
MODULE_PARM_DESC(family, "Address family to register (default 12, the removed AF_DECnet)");

int ktls_shim_family(void)
{
	return family;
}

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

struct socket *ktls_shim_sock_lookup(int fd, int *err)
{
	return sockfd_lookup(fd, err);
}

void ktls_shim_sock_put(struct socket *sock)
{
	sockfd_put(sock);
}

int ktls_shim_sock_protocol(const struct socket *sock)
{
	return sock->sk ? sock->sk->sk_protocol : -1;
}

int ktls_shim_sock_family(const struct socket *sock)
{
	return sock->sk ? sock->sk->sk_family : -1;
}

bool ktls_shim_sock_is_connected(const struct socket *sock)
{
	/* A connected UDP socket is in TCP_ESTABLISHED too (ip4_datagram_connect). */
	return sock->sk && READ_ONCE(sock->sk->sk_state) == TCP_ESTABLISHED;
}

__poll_t ktls_shim_sock_poll(struct socket *sock, struct poll_table_struct *wait)
{
	return sock->ops->poll(sock->file, sock, wait);
}

long ktls_shim_rcvtimeo(struct socket *sock, bool nonblock)
{
	return sock_rcvtimeo(sock->sk, nonblock);
}

/* The bound socket's own poll decides what "readable" means for TCP and UDP alike. */
static bool ktls_bound_readable(struct socket *sock)
{
	return sock->ops->poll(sock->file, sock, NULL) &
	       (EPOLLIN | EPOLLRDNORM | EPOLLERR | EPOLLHUP | EPOLLRDHUP);
}

int ktls_shim_wait_readable(struct socket *sock, long *timeo)
{
	DEFINE_WAIT_FUNC(wait, woken_wake_function);
	struct sock *sk = sock->sk;
	int err = 0;

	add_wait_queue(sk_sleep(sk), &wait);
	while (!ktls_bound_readable(sock)) {
		if (!*timeo) {
			err = -EAGAIN;
			break;
		}
		if (signal_pending(current)) {
			err = sock_intr_errno(*timeo);
			break;
		}
		*timeo = wait_woken(&wait, TASK_INTERRUPTIBLE, *timeo);
	}
	remove_wait_queue(sk_sleep(sk), &wait);
	return err;
}

int ktls_shim_tcp_inq(struct socket *sock)
{
	return tcp_inq(sock->sk);
}

struct crypto_aead *ktls_shim_aead_alloc(const char *alg_name, const u8 *key, unsigned int key_len,
					 unsigned int tag_len, struct aead_request **req)
{
	struct crypto_aead *tfm = crypto_alloc_aead(alg_name, 0, 0);
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

void ktls_shim_aead_free(struct crypto_aead *tfm, struct aead_request *req)
{
	aead_request_free(req);
	crypto_free_aead(tfm);
}

int ktls_shim_aead_crypt(struct aead_request *req, bool encrypt, u8 *iv, u8 *aad,
			 unsigned int aad_len, u8 *data, unsigned int data_len)
{
	struct crypto_aead *tfm = crypto_aead_reqtfm(req);
	unsigned int out_len = encrypt ? data_len + crypto_aead_authsize(tfm) : data_len;
	struct scatterlist sg[2];
	DECLARE_CRYPTO_WAIT(wait);
	int err;

	sg_init_table(sg, 2);
	sg_set_buf(&sg[0], aad, aad_len);
	sg_set_buf(&sg[1], data, out_len);
	aead_request_set_callback(req, CRYPTO_TFM_REQ_MAY_BACKLOG | CRYPTO_TFM_REQ_MAY_SLEEP,
				  crypto_req_done, &wait);
	aead_request_set_crypt(req, sg, sg, data_len, iv);
	aead_request_set_ad(req, aad_len);
	err = crypto_wait_req(encrypt ? crypto_aead_encrypt(req) : crypto_aead_decrypt(req), &wait);
	return err;
}

int ktls_shim_cmsg_record_type(struct msghdr *msg, int level, int type, u8 *out)
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

int ktls_shim_copy_from_sockptr(void *dst, sockptr_t src, size_t len)
{
	return copy_from_sockptr(dst, src, len) ? -EFAULT : 0;
}

/* Implemented in Rust (rust/stats.rs). */
int ktls_stats_count(void);
const char *ktls_stats_name(int index);
u64 ktls_stats_value(int index);

static int ktls_stats_show(struct seq_file *seq, void *v)
{
	int i;

	for (i = 0; i < ktls_stats_count(); i++)
		seq_printf(seq, "%-32s%llu\n", ktls_stats_name(i), ktls_stats_value(i));
	return 0;
}

int ktls_shim_proc_create(void)
{
	return proc_create_single("af_ktls", 0444, init_net.proc_net, ktls_stats_show) ? 0 : -ENOMEM;
}

void ktls_shim_proc_remove(void)
{
	remove_proc_entry("af_ktls", init_net.proc_net);
}
