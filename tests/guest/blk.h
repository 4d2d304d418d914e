/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* virtio-blk requests over the polling driver. */

#include "virtio.h"

#define VIRTIO_BLK_F_SIZE_MAX     1
#define VIRTIO_BLK_F_SEG_MAX      2
#define VIRTIO_BLK_F_RO           5
#define VIRTIO_BLK_F_BLK_SIZE     6
#define VIRTIO_BLK_F_FLUSH        9
#define VIRTIO_BLK_F_DISCARD      13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

#define VIRTIO_BLK_T_IN           0
#define VIRTIO_BLK_T_OUT          1
#define VIRTIO_BLK_T_FLUSH        4
#define VIRTIO_BLK_T_GET_ID       8
#define VIRTIO_BLK_T_DISCARD      11
#define VIRTIO_BLK_T_WRITE_ZEROES 13

#define VIRTIO_BLK_S_OK           0
#define VIRTIO_BLK_S_IOERR        1
#define VIRTIO_BLK_S_UNSUPP       2

#define VIRTIO_BLK_ID_BYTES       20
#define SECTOR_SIZE               512

/* The status byte before the device writes it: a device that never writes it shows this. */
#define BLK_STATUS_UNSET 0xff

struct virtio_blk_req {
        uint32_t type;
        uint32_t reserved;
        uint64_t sector;
};

struct virtio_blk_discard_write_zeroes {
        uint64_t sector;
        uint32_t num_sectors;
        uint32_t flags;
};

struct blk {
        struct virtio_dev dev;
        uint64_t capacity;
        uint32_t seg_max;
        bool read_only;
        struct virtio_blk_req *req;
        uint8_t *status;
};

/* The features this driver knows how to use. */
#define BLK_FEATURES                                                                                        \
        (VIRTIO_FEATURE(VIRTIO_BLK_F_SIZE_MAX) | VIRTIO_FEATURE(VIRTIO_BLK_F_SEG_MAX) |                     \
         VIRTIO_FEATURE(VIRTIO_BLK_F_RO) | VIRTIO_FEATURE(VIRTIO_BLK_F_BLK_SIZE) |                          \
         VIRTIO_FEATURE(VIRTIO_BLK_F_FLUSH) | VIRTIO_FEATURE(VIRTIO_BLK_F_DISCARD) |                        \
         VIRTIO_FEATURE(VIRTIO_BLK_F_WRITE_ZEROES))

/*
 * Starts the nth virtio-blk device: features, queue 0 (rings from the DMA arena), DRIVER_OK, the
 * configuration read. NULL or why not.
 */
const char *blk_start(struct blk *b, unsigned n);
/* After a reset of the device: starts it again, keeping the arena. */
const char *blk_restart(struct blk *b);
/*
 * One request: the header, the n data segments, the status byte. The device's status goes to
 * *ret_status (BLK_STATUS_UNSET if it wrote none). NULL, or why the request did not complete.
 */
const char *blk_request(struct blk *b, uint32_t type, uint64_t sector, const struct virtq_buf *data,
                        unsigned n, uint8_t *ret_status);
const char *blk_status_name(uint8_t status);
