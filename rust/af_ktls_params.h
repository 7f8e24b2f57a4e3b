/* SPDX-License-Identifier: GPL-2.0 */
/* The module parameters of af_ktls (rust/af_ktls_params.c). */
#ifndef AF_KTLS_PARAMS_H
#define AF_KTLS_PARAMS_H

/* The `family` parameter: the address family to register. */
int af_ktls_param_family(void);

#endif /* AF_KTLS_PARAMS_H */
