/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "virtio-device.h"

/*
 * virtio-blk on a raw image: a regular file or a block device. Requests run on io_uring from the
 * device's worker thread, or with plain preadv/pwritev there where io_uring is not available. FLUSH is
 * fdatasync(2): a write the guest has seen flushed is on stable storage. The image is locked (an OFD
 * lock over the whole file: shared for a read-only disk, exclusive otherwise) so that two VMs cannot
 * write one image.
 */

typedef struct VirtioBlkParams {
        const char *id;
        const char *path;
        bool readonly;
        bool direct;        /* O_DIRECT */
        bool no_io_uring;   /* synchronous I/O even where io_uring works */
        unsigned num_queues;
        uint16_t queue_size;
        const char *serial; /* NULL: none */
} VirtioBlkParams;

/* Opens and locks the image. Errors are written to err, naming the disk. */
int virtio_blk_new(const VirtioBlkParams *p, const GuestMemory *mem, VirtioDevice **ret, char *err, size_t errlen);

/* Which I/O engine the device uses: "io_uring" or "synchronous". */
const char *virtio_blk_engine(VirtioDevice *d);

/* Counters, as Cloud Hypervisor's vm.counters reports them for a disk. */
typedef struct VirtioBlkCounters {
        uint64_t read_bytes, write_bytes, read_ops, write_ops;
} VirtioBlkCounters;
void virtio_blk_counters(VirtioDevice *d, VirtioBlkCounters *ret);
