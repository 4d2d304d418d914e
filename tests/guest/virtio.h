/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * A polling driver for virtio 1.x PCI devices (the modern interface only): capabilities, status and
 * feature negotiation, split virtqueues, notifications through the notify capability, device
 * configuration read under the configuration generation.
 */

#include "pci.h"
#include "platform.h"

#define VIRTIO_PCI_VENDOR         0x1af4
#define VIRTIO_PCI_DEVICE(type)   (0x1040 + (type))

#define VIRTIO_ID_NET             1
#define VIRTIO_ID_BLOCK           2
#define VIRTIO_ID_CONSOLE         3
#define VIRTIO_ID_RNG             4

#define VIRTIO_STATUS_ACKNOWLEDGE 0x01
#define VIRTIO_STATUS_DRIVER      0x02
#define VIRTIO_STATUS_DRIVER_OK   0x04
#define VIRTIO_STATUS_FEATURES_OK 0x08
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED      0x80

#define VIRTIO_F_INDIRECT_DESC    28
#define VIRTIO_F_EVENT_IDX        29
#define VIRTIO_F_VERSION_1        32
#define VIRTIO_F_ACCESS_PLATFORM  33
#define VIRTIO_F_RING_PACKED      34
#define VIRTIO_FEATURE(bit)       (UINT64_C(1) << (bit))

/* The common configuration structure (virtio_pci_common_cfg). */
#define VIRTIO_COMMON_DFSELECT      0x00
#define VIRTIO_COMMON_DF            0x04
#define VIRTIO_COMMON_GFSELECT      0x08
#define VIRTIO_COMMON_GF            0x0c
#define VIRTIO_COMMON_MSIX          0x10
#define VIRTIO_COMMON_NUMQ          0x12
#define VIRTIO_COMMON_STATUS        0x14
#define VIRTIO_COMMON_CFGGENERATION 0x15
#define VIRTIO_COMMON_Q_SELECT      0x16
#define VIRTIO_COMMON_Q_SIZE        0x18
#define VIRTIO_COMMON_Q_MSIX        0x1a
#define VIRTIO_COMMON_Q_ENABLE      0x1c
#define VIRTIO_COMMON_Q_NOFF        0x1e
#define VIRTIO_COMMON_Q_DESC        0x20
#define VIRTIO_COMMON_Q_AVAIL       0x28
#define VIRTIO_COMMON_Q_USED        0x30
#define VIRTIO_COMMON_LEN           0x38

#define VIRTIO_MSI_NO_VECTOR        0xffff

#define VIRTQ_DESC_F_NEXT           1
#define VIRTQ_DESC_F_WRITE          2
#define VIRTQ_DESC_F_INDIRECT       4
#define VIRTQ_USED_F_NO_NOTIFY      1
#define VIRTQ_AVAIL_F_NO_INTERRUPT  1

/* The largest queue this driver sets up, and how many queues of a device it handles. */
#define VIRTQ_SIZE_MAX    256
#define VIRTIO_QUEUES_MAX 4

struct virtq_desc {
        uint64_t addr;
        uint32_t len;
        uint16_t flags;
        uint16_t next;
};

struct virtq_avail {
        uint16_t flags;
        uint16_t idx;
        uint16_t ring[];
};

struct virtq_used_elem {
        uint32_t id;
        uint32_t len;
};

struct virtq_used {
        uint16_t flags;
        uint16_t idx;
        struct virtq_used_elem ring[];
};

struct virtio_dev;

struct virtq {
        struct virtio_dev *dev;
        uint16_t index, size;
        bool ready;
        volatile struct virtq_desc *desc;
        volatile struct virtq_avail *avail;
        volatile struct virtq_used *used;
        volatile uint16_t *notify;
        uint16_t free_head, num_free;
        uint16_t avail_idx, last_used;
        uint16_t next_free[VIRTQ_SIZE_MAX];
        uint16_t chain_len[VIRTQ_SIZE_MAX];
};

struct virtio_dev {
        struct pci_fn pci;
        uint16_t type;
        unsigned common_bar;
        struct pci_bar bars[PCI_NUM_BARS];
        bool bar_used[PCI_NUM_BARS];
        uint32_t common_offset, notify_offset, isr_offset, device_offset;
        uint32_t notify_len, device_len;
        unsigned notify_bar, isr_bar, device_bar;
        volatile uint8_t *common, *notify, *isr, *device;
        uint32_t notify_multiplier;
        uint64_t offered, features;
        uint16_t num_queues;
        struct virtq vqs[VIRTIO_QUEUES_MAX];
};

/* A segment of a request: device-readable, or device-writable when write is set. */
struct virtq_buf {
        void *addr;
        uint32_t len;
        bool write;
};

/*
 * Finds the nth (from 0) virtio device of this type on bus 0, reads its capabilities and maps its
 * BARs (at the addresses they have; memory decoding and bus mastering on). Returns NULL or why not.
 */
const char *virtio_attach(struct virtio_dev *dev, uint16_t type, unsigned n);
/* The same for a known function. */
const char *virtio_open(struct virtio_dev *dev, struct pci_fn f);
/* Recomputes the register pointers after a BAR moved (the BAR's address is read back). */
const char *virtio_remap(struct virtio_dev *dev);

uint8_t virtio_get_status(struct virtio_dev *dev);
void virtio_set_status(struct virtio_dev *dev, uint8_t status);
/* Writes 0 to device_status and waits (bounded) until it reads 0. */
const char *virtio_reset(struct virtio_dev *dev);
uint64_t virtio_device_features(struct virtio_dev *dev);
void virtio_write_features(struct virtio_dev *dev, uint64_t features);
/*
 * Reset, ACKNOWLEDGE, DRIVER, features (what the device offers of wanted, plus VERSION_1, which it
 * must offer), FEATURES_OK, which must stick. dev->features holds the result.
 */
const char *virtio_negotiate(struct virtio_dev *dev, uint64_t wanted);
static inline bool virtio_has(const struct virtio_dev *dev, unsigned bit)
{
        return dev->features & VIRTIO_FEATURE(bit);
}

/* Common configuration registers. */
uint16_t virtio_common_read16(struct virtio_dev *dev, uint32_t offset);
void virtio_common_write16(struct virtio_dev *dev, uint32_t offset, uint16_t v);
void virtio_common_write64(struct virtio_dev *dev, uint32_t offset, uint64_t v);

/*
 * Sets queue index up with at most size entries (rounded down to a power of two, at most what the
 * device offers and VIRTQ_SIZE_MAX): rings from the DMA arena, addresses, no MSI-X vector, enable.
 */
const char *virtq_setup(struct virtio_dev *dev, uint16_t index, uint16_t size);
/* virtio_negotiate(), then queues 0..n_queues-1 with their largest size, then DRIVER_OK. */
const char *virtio_start(struct virtio_dev *dev, uint64_t wanted, unsigned n_queues);

/* Device configuration, read until the configuration generation is the same before and after. */
uint64_t virtio_config_read(struct virtio_dev *dev, uint32_t offset, unsigned size);
void virtio_config_write(struct virtio_dev *dev, uint32_t offset, unsigned size, uint32_t v);

/* Puts a chain of n buffers in the available ring. Returns the head, or -1 without enough descriptors. */
int virtq_add(struct virtq *vq, const struct virtq_buf *bufs, unsigned n);
/* Makes a chain already in the descriptor table available: ring entry, then the index. */
void virtq_publish(struct virtq *vq, uint16_t head);
/* Notifies the device unless it said it does not need it (VIRTQ_USED_F_NO_NOTIFY). */
void virtq_kick(struct virtq *vq);
/* Notifies the device unconditionally. */
void virtq_notify(struct virtq *vq);
/* Takes the next used element, if any, and frees its chain. */
bool virtq_get(struct virtq *vq, uint16_t *ret_head, uint32_t *ret_len);
/* Waits (bounded) for the next used element. NULL or why not. */
const char *virtq_wait(struct virtq *vq, unsigned seconds, uint16_t *ret_head, uint32_t *ret_len);
/* virtq_add(), virtq_kick(), virtq_wait(): one request, the used length to *ret_len (may be NULL). */
const char *virtq_request(struct virtq *vq, const struct virtq_buf *bufs, unsigned n, uint32_t *ret_len);
