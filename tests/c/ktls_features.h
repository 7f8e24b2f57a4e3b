/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Features of AF_KTLS that the tests are written for but that do not exist yet. Each one is a
 * single switch: the tests that need it report SKIP with the reason below while it is 0. Flip
 * it to 1 when the feature lands (or build with -DKTLS_HAVE_...=1 to try a work in progress):
 * the tests then run and assert the mainline-like behaviour described in their comments.
 */
#ifndef KTLS_FEATURES_H
#define KTLS_FEATURES_H

/*
 * proto_ops.splice_read of its own (issue 11). Without it, splice() out of an AF_KTLS socket
 * would work through the kernel's copy_splice_read() fallback for data, but a control record
 * would give EIO where mainline gives EINVAL: the tests of that name this switch.
 */
#ifndef KTLS_HAVE_SPLICE_READ
#define KTLS_HAVE_SPLICE_READ 1
#endif
#define KTLS_SPLICE_READ_MISSING "needs splice_read, issue 11"

/* TLS 1.3 KeyUpdate: KTLS_TX/KTLS_RX set again with the next keys. Issue 13. */
#ifndef KTLS_HAVE_REKEY
#define KTLS_HAVE_REKEY 1
#endif
#define KTLS_REKEY_MISSING "needs TLS 1.3 rekeying, issue 13"

/* shutdown() on the AF_KTLS socket (before issue 13: EOPNOTSUPP). */
#ifndef KTLS_HAVE_SHUTDOWN
#define KTLS_HAVE_SHUTDOWN 1
#endif
#define KTLS_SHUTDOWN_MISSING "needs shutdown() on AF_KTLS sockets, issue 13"

#endif /* KTLS_FEATURES_H */
