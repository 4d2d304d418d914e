/* SPDX-License-Identifier: Apache-2.0 */
/* virtio-blk: start a device, read its configuration, make requests. */
#include "blk.h"

#define BLK_CONFIG_CAPACITY 0
#define BLK_CONFIG_SEG_MAX  12
#define BLK_SEGMENTS_MAX    16

const char *blk_restart(struct blk *b)
{
        const char *r;

        r = virtio_start(&b->dev, BLK_FEATURES, 1);
        if (r)
                return r;
        b->capacity = virtio_config_read(&b->dev, BLK_CONFIG_CAPACITY, 8);
        b->seg_max = virtio_has(&b->dev, VIRTIO_BLK_F_SEG_MAX)
                             ? (uint32_t) virtio_config_read(&b->dev, BLK_CONFIG_SEG_MAX, 4)
                             : BLK_SEGMENTS_MAX;
        if (b->seg_max == 0 || b->seg_max > BLK_SEGMENTS_MAX)
                b->seg_max = BLK_SEGMENTS_MAX;
        b->read_only = virtio_has(&b->dev, VIRTIO_BLK_F_RO);
        return NULL;
}

const char *blk_start(struct blk *b, unsigned n)
{
        const char *r;

        r = virtio_attach(&b->dev, VIRTIO_ID_BLOCK, n);
        if (r)
                return r;
        b->req = dma_alloc(sizeof(*b->req), 16);
        b->status = dma_alloc(1, 1);
        if (!b->req || !b->status)
                return "the DMA arena is exhausted";
        return blk_restart(b);
}

const char *blk_request(struct blk *b, uint32_t type, uint64_t sector, const struct virtq_buf *data,
                        unsigned n, uint8_t *ret_status)
{
        struct virtq_buf bufs[BLK_SEGMENTS_MAX + 2];
        const char *r;

        if (n > BLK_SEGMENTS_MAX)
                return "too many segments for the test driver";
        *b->req = (struct virtio_blk_req){.type = type, .sector = sector};
        *b->status = BLK_STATUS_UNSET;
        bufs[0] = (struct virtq_buf){b->req, sizeof(*b->req), false};
        for (unsigned i = 0; i < n; i++)
                bufs[1 + i] = data[i];
        bufs[1 + n] = (struct virtq_buf){b->status, 1, true};
        r = virtq_request(&b->dev.vqs[0], bufs, n + 2, NULL);
        if (r)
                return r;
        *ret_status = *(volatile uint8_t *) b->status;
        return NULL;
}

const char *blk_status_name(uint8_t status)
{
        switch (status) {
        case VIRTIO_BLK_S_OK:
                return "OK";
        case VIRTIO_BLK_S_IOERR:
                return "IOERR";
        case VIRTIO_BLK_S_UNSUPP:
                return "UNSUPP";
        case BLK_STATUS_UNSET:
                return "not written";
        default:
                return "unknown";
        }
}
