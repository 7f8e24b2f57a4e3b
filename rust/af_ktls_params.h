/* SPDX-License-Identifier: GPL-2.0 */
/* The module parameters of af_ktls (rust/af_ktls_params.c). */
#ifndef AF_KTLS_PARAMS_H
#define AF_KTLS_PARAMS_H

#include <linux/types.h>

/* The `family` parameter: the address family to register. */
int af_ktls_param_family(void);

/* The `force_cryptd` parameter: wrap new transforms in cryptd() (asynchronous), for testing. */
bool af_ktls_param_force_cryptd(void);

#endif /* AF_KTLS_PARAMS_H */
