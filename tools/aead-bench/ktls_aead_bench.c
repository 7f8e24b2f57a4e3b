// SPDX-License-Identifier: GPL-2.0
/*
 * ktls_aead_bench: how fast the kernel's AEAD transforms seal and open TLS records, without
 * sockets. The ceiling of `make bench` (tools/ktls-bench, scenario "ceiling").
 *
 * It uses the transforms af_ktls uses ("gcm(aes)", "rfc7539(chacha20,poly1305)") the way
 * af_ktls's rust/helpers.c (raead_crypt) does: one transform and one request allocated up
 * front, a two-entry scatterlist (the AAD in its own small buffer, then the record body),
 * encryption in place with the tag appended, a fresh nonce per record. Opening decrypts out of
 * place (the same two-entry shape on both sides) so that one sealed record can be opened again
 * and again and must authenticate every time.
 *
 * Interface: /proc/ktls_aead_bench (root only). Write one line
 *	"<alg> <key bytes> <aad bytes> <record bytes> <records> <seal|open>"
 * which runs the measurement in the writer's context and fails with the crypto API's error if
 * any record fails; then read "ns=<elapsed> records=<n> bytes=<n>". ktime_get_ns() times the
 * loop (instruction counts under QEMU -icount).
 */
#include <crypto/aead.h>
#include <linux/crypto.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/proc_fs.h>
#include <linux/sched.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#define BENCH_NAME "ktls_aead_bench"
#define MAX_RECORD (16384 + 256)
#define MAX_AAD 13
#define TAG_LEN 16
#define NONCE_LEN 12

static DEFINE_MUTEX(bench_lock);
static char bench_result[128];

struct bench_run {
	char alg[64];
	unsigned int key_len, aad_len, size, records;
	bool seal;
};

static int bench_crypt(struct aead_request *req, bool seal, u8 *iv, u8 *aad,
		       unsigned int aad_len, u8 *src, u8 *dst, unsigned int size)
{
	struct scatterlist sg_src[2], sg_dst[2];
	unsigned int in_len = seal ? size : size + TAG_LEN;
	unsigned int out_len = seal ? size + TAG_LEN : size;
	DECLARE_CRYPTO_WAIT(wait);

	sg_init_table(sg_src, 2);
	sg_set_buf(&sg_src[0], aad, aad_len);
	sg_set_buf(&sg_src[1], src, seal ? out_len : in_len);
	if (dst != src) {
		sg_init_table(sg_dst, 2);
		sg_set_buf(&sg_dst[0], aad, aad_len);
		sg_set_buf(&sg_dst[1], dst, out_len);
	}
	aead_request_set_callback(req, CRYPTO_TFM_REQ_MAY_BACKLOG | CRYPTO_TFM_REQ_MAY_SLEEP,
				  crypto_req_done, &wait);
	aead_request_set_crypt(req, sg_src, dst != src ? sg_dst : sg_src, in_len, iv);
	aead_request_set_ad(req, aad_len);
	return crypto_wait_req(seal ? crypto_aead_encrypt(req) : crypto_aead_decrypt(req), &wait);
}

static int bench_run(const struct bench_run *run)
{
	struct crypto_aead *tfm;
	struct aead_request *req = NULL;
	u8 *key = NULL, *aad = NULL, *iv = NULL, *buf = NULL, *out = NULL;
	u64 start, elapsed;
	unsigned int i;
	int err;

	if (run->key_len > 32 || run->aad_len > MAX_AAD || run->size > MAX_RECORD ||
	    !run->records)
		return -EINVAL;
	tfm = crypto_alloc_aead(run->alg, 0, 0);
	if (IS_ERR(tfm))
		return PTR_ERR(tfm);
	err = -ENOMEM;
	key = kmalloc(32, GFP_KERNEL);
	aad = kmalloc(MAX_AAD, GFP_KERNEL);
	iv = kmalloc(NONCE_LEN, GFP_KERNEL);
	buf = kmalloc(MAX_RECORD + TAG_LEN, GFP_KERNEL);
	out = kmalloc(MAX_RECORD + TAG_LEN, GFP_KERNEL);
	req = aead_request_alloc(tfm, GFP_KERNEL);
	if (!key || !aad || !iv || !buf || !out || !req)
		goto out;
	memset(key, 0x5a, 32);
	memset(aad, 0x17, MAX_AAD);
	memset(iv, 0, NONCE_LEN);
	memset(buf, 0xa5, MAX_RECORD + TAG_LEN);
	err = crypto_aead_setkey(tfm, key, run->key_len);
	if (!err)
		err = crypto_aead_setauthsize(tfm, TAG_LEN);
	if (err)
		goto out;

	if (!run->seal) {
		/* One sealed record, opened again and again out of place. */
		err = bench_crypt(req, true, iv, aad, run->aad_len, buf, buf, run->size);
		if (err)
			goto out;
	}
	start = ktime_get_ns();
	for (i = 0; i < run->records; i++) {
		if (run->seal) {
			/* A fresh nonce per record, as a sender makes them. */
			iv[NONCE_LEN - 1] = (u8)i;
			iv[NONCE_LEN - 2] = (u8)(i >> 8);
			err = bench_crypt(req, true, iv, aad, run->aad_len, buf, buf, run->size);
		} else {
			err = bench_crypt(req, false, iv, aad, run->aad_len, buf, out, run->size);
		}
		if (err)
			goto out;
		cond_resched();
	}
	elapsed = ktime_get_ns() - start;
	snprintf(bench_result, sizeof(bench_result), "ns=%llu records=%u bytes=%llu\n",
		 elapsed, run->records, (u64)run->records * run->size);
out:
	aead_request_free(req);
	kfree_sensitive(key);
	kfree(aad);
	kfree(iv);
	kfree(buf);
	kfree(out);
	crypto_free_aead(tfm);
	return err;
}

static ssize_t bench_write(struct file *file, const char __user *ubuf, size_t len, loff_t *pos)
{
	struct bench_run run = {};
	char line[128], dir[8];
	int err;

	if (len >= sizeof(line))
		return -EINVAL;
	if (copy_from_user(line, ubuf, len))
		return -EFAULT;
	line[len] = '\0';
	if (sscanf(line, "%63s %u %u %u %u %7s", run.alg, &run.key_len, &run.aad_len, &run.size,
		   &run.records, dir) != 6)
		return -EINVAL;
	if (!strcmp(dir, "seal"))
		run.seal = true;
	else if (strcmp(dir, "open"))
		return -EINVAL;
	mutex_lock(&bench_lock);
	bench_result[0] = '\0';
	err = bench_run(&run);
	mutex_unlock(&bench_lock);
	return err ? err : len;
}

static ssize_t bench_read(struct file *file, char __user *ubuf, size_t len, loff_t *pos)
{
	ssize_t ret;

	mutex_lock(&bench_lock);
	ret = simple_read_from_buffer(ubuf, len, pos, bench_result, strlen(bench_result));
	mutex_unlock(&bench_lock);
	return ret;
}

static const struct proc_ops bench_ops = {
	.proc_read = bench_read,
	.proc_write = bench_write,
	.proc_lseek = default_llseek,
};

static int __init bench_init(void)
{
	return proc_create(BENCH_NAME, 0600, NULL, &bench_ops) ? 0 : -ENOMEM;
}

static void __exit bench_exit(void)
{
	remove_proc_entry(BENCH_NAME, NULL);
}

module_init(bench_init);
module_exit(bench_exit);
MODULE_DESCRIPTION("Raw AEAD record throughput: the ceiling of af_ktls's make bench");
MODULE_LICENSE("GPL");
