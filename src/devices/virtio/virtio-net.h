/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <netinet/in.h>

#include "virtio-device.h"

/*
 * virtio-net on a TAP device: one queue pair, the virtio-net header passed through to the TAP (vnet
 * header), checksum and TSO offloads negotiated with the guest and set on the TAP, merged receive
 * buffers. Transmitted frames go from the guest's buffers to the TAP with one writev; received frames
 * are read once and scattered into the guest's buffers.
 */

typedef struct VirtioNetParams {
        const char *id;
        const char *tap;       /* interface name; NULL: the kernel names a new one "vmtap%d" */
        int fd;                /* a TAP passed in, or -1 */
        uint8_t mac[6];        /* the guest's */
        bool host_mac_set;
        uint8_t host_mac[6];
        bool ip_set;           /* give the host side this address (a created TAP only) */
        struct in_addr ip, mask;
        uint16_t mtu;          /* 0: leave the TAP's */
        uint16_t queue_size;
        bool offload_csum, offload_tso;
} VirtioNetParams;

/* Opens or creates the TAP and sets it up. Errors go to err, naming the device and the TAP. */
int virtio_net_new(const VirtioNetParams *p, const GuestMemory *mem, VirtioDevice **ret, char *err, size_t errlen);

/* The TAP's name. */
const char *virtio_net_tap_name(VirtioDevice *d);

typedef struct VirtioNetCounters {
        uint64_t rx_bytes, rx_frames, tx_bytes, tx_frames, rx_dropped, tx_dropped;
} VirtioNetCounters;
void virtio_net_counters(VirtioDevice *d, VirtioNetCounters *ret);
