/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "virtio-device.h"

/* virtio-rng: entropy for the guest, read from a host file (Cloud Hypervisor's default /dev/urandom). */
int virtio_rng_new(const char *id, const char *src, const GuestMemory *mem, VirtioDevice **ret, char *err,
                   size_t errlen);
