/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "virtio-device.h"

/*
 * virtio-console with one port (hvc0 in a Linux guest): what the guest writes goes to out_fd (-1:
 * discarded), what arrives on in_fd (-1: nothing) goes to the guest. Neither fd is owned.
 */
int virtio_console_new(const char *id, int in_fd, int out_fd, const GuestMemory *mem, VirtioDevice **ret);
