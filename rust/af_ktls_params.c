// SPDX-License-Identifier: GPL-2.0
/*
 * The module parameters of af_ktls. In C because the Rust module! macro keeps its parameters out
 * of sysfs, and applications read the family number in use from
 * /sys/module/af_ktls/parameters/family.
 */
#include <linux/module.h>
#include "af_ktls_params.h"
#include "../include/uapi/linux/ktls.h"

static int family = AF_KTLS;
module_param(family, int, 0444);
MODULE_PARM_DESC(family, "Address family to register (default 12, the removed AF_DECnet)");

int af_ktls_param_family(void)
{
	return family;
}

static bool force_cryptd;
module_param(force_cryptd, bool, 0644);
MODULE_PARM_DESC(force_cryptd,
		 "Wrap the AEAD transforms of keys set from now on in cryptd(), an asynchronous "
		 "implementation (for testing; default off)");

bool af_ktls_param_force_cryptd(void)
{
	return READ_ONCE(force_cryptd);
}
