/* SPDX-License-Identifier: Apache-2.0 */
/* The virtio 1.x PCI transport from the driver's side, and split virtqueues, polled. */
#include "virtio.h"

#define VIRTIO_PCI_CAP_COMMON 1
#define VIRTIO_PCI_CAP_NOTIFY 2
#define VIRTIO_PCI_CAP_ISR    3
#define VIRTIO_PCI_CAP_DEVICE 4

#define CAP_CFG_TYPE          3
#define CAP_BAR               4
#define CAP_OFFSET            8
#define CAP_LENGTH            12
#define CAP_NOTIFY_MULTIPLIER 16

#define RESET_SECONDS         3
#define GENERATION_TRIES      100

struct cap_region {
        bool found;
        unsigned bar;
        uint32_t offset, length;
};

/* The first capability of each type, as the specification asks drivers to use. */
static const char *read_caps(struct virtio_dev *dev, struct cap_region regions[5])
{
        struct pci_fn f = dev->pci;

        for (uint8_t pos = pci_find_capability(f, PCI_CAP_ID_VNDR, 0); pos;
             pos = pci_find_capability(f, PCI_CAP_ID_VNDR, pos)) {
                uint8_t type = (uint8_t) pci_read(f, pos + CAP_CFG_TYPE, 1);
                struct cap_region *r;

                if (type < VIRTIO_PCI_CAP_COMMON || type > VIRTIO_PCI_CAP_DEVICE || regions[type].found)
                        continue;
                r = &regions[type];
                r->found = true;
                r->bar = pci_read(f, pos + CAP_BAR, 1);
                r->offset = pci_read(f, pos + CAP_OFFSET, 4);
                r->length = pci_read(f, pos + CAP_LENGTH, 4);
                if (type == VIRTIO_PCI_CAP_NOTIFY)
                        dev->notify_multiplier = pci_read(f, pos + CAP_NOTIFY_MULTIPLIER, 4);
                if (r->bar >= PCI_NUM_BARS) {
                        print("virtio: capability of type %u names BAR %u\n", type, r->bar);
                        return "a virtio capability names a BAR that does not exist";
                }
        }
        if (!regions[VIRTIO_PCI_CAP_COMMON].found)
                return "no common configuration capability";
        if (!regions[VIRTIO_PCI_CAP_NOTIFY].found)
                return "no notification capability";
        if (!regions[VIRTIO_PCI_CAP_ISR].found)
                return "no ISR capability";
        if (regions[VIRTIO_PCI_CAP_COMMON].length < VIRTIO_COMMON_LEN)
                return "the common configuration structure is too short";
        return NULL;
}

/* Sizes and maps the BARs the capabilities use; they must be memory BARs with addresses. */
static const char *map_bars(struct virtio_dev *dev)
{
        for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
                struct pci_bar *b = &dev->bars[i];

                if (!dev->bar_used[i])
                        continue;
                if (!pci_bar_probe(dev->pci, i, b)) {
                        print("virtio: BAR %u is not implemented\n", i);
                        return "a virtio capability points into a BAR that is not implemented";
                }
                if (b->io) {
                        print("virtio: BAR %u is an I/O BAR\n", i);
                        return "a virtio structure is in an I/O BAR (not supported by this driver)";
                }
                if (b->addr == 0) {
                        print("virtio: BAR %u has no address\n", i);
                        return "a BAR of the virtio device has no address";
                }
                if (!mmio_map(b->addr, b->size, false))
                        return "cannot map a BAR";
        }
        return NULL;
}

static volatile uint8_t *region_ptr(struct virtio_dev *dev, unsigned bar, uint32_t offset)
{
        return mmio_ptr(dev->bars[bar].addr + offset);
}

static const char *check_region(struct virtio_dev *dev, const struct cap_region *r, const char *what)
{
        if ((uint64_t) r->offset + r->length > dev->bars[r->bar].size) {
                print("virtio: %s structure 0x%x+0x%x lies outside BAR %u (size 0x%lx)\n", what, r->offset,
                      r->length, r->bar, dev->bars[r->bar].size);
                return "a virtio structure lies outside its BAR";
        }
        return NULL;
}

const char *virtio_remap(struct virtio_dev *dev)
{
        const char *r;

        r = map_bars(dev);
        if (r)
                return r;
        dev->common = region_ptr(dev, dev->common_bar, dev->common_offset);
        dev->notify = region_ptr(dev, dev->notify_bar, dev->notify_offset);
        dev->isr = region_ptr(dev, dev->isr_bar, dev->isr_offset);
        dev->device = dev->device_len ? region_ptr(dev, dev->device_bar, dev->device_offset) : NULL;
        for (unsigned i = 0; i < VIRTIO_QUEUES_MAX; i++)
                dev->vqs[i].ready = false;
        return NULL;
}

const char *virtio_open(struct virtio_dev *dev, struct pci_fn f)
{
        struct cap_region regions[5] = {};
        const char *r;
        uint16_t command;

        *dev = (struct virtio_dev){
                .pci = f,
                .type = (uint16_t) (pci_read(f, PCI_DEVICE_ID, 2) - VIRTIO_PCI_DEVICE(0)),
        };
        r = read_caps(dev, regions);
        if (r)
                return r;
        for (unsigned t = VIRTIO_PCI_CAP_COMMON; t <= VIRTIO_PCI_CAP_DEVICE; t++)
                if (regions[t].found)
                        dev->bar_used[regions[t].bar] = true;
        r = map_bars(dev);
        if (r)
                return r;
        if ((r = check_region(dev, &regions[VIRTIO_PCI_CAP_COMMON], "common configuration")) ||
            (r = check_region(dev, &regions[VIRTIO_PCI_CAP_NOTIFY], "notification")) ||
            (r = check_region(dev, &regions[VIRTIO_PCI_CAP_ISR], "ISR")) ||
            (regions[VIRTIO_PCI_CAP_DEVICE].found &&
             (r = check_region(dev, &regions[VIRTIO_PCI_CAP_DEVICE], "device configuration"))))
                return r;

        dev->common_bar = regions[VIRTIO_PCI_CAP_COMMON].bar;
        dev->common_offset = regions[VIRTIO_PCI_CAP_COMMON].offset;
        dev->notify_bar = regions[VIRTIO_PCI_CAP_NOTIFY].bar;
        dev->notify_offset = regions[VIRTIO_PCI_CAP_NOTIFY].offset;
        dev->notify_len = regions[VIRTIO_PCI_CAP_NOTIFY].length;
        dev->isr_bar = regions[VIRTIO_PCI_CAP_ISR].bar;
        dev->isr_offset = regions[VIRTIO_PCI_CAP_ISR].offset;
        if (regions[VIRTIO_PCI_CAP_DEVICE].found) {
                dev->device_bar = regions[VIRTIO_PCI_CAP_DEVICE].bar;
                dev->device_offset = regions[VIRTIO_PCI_CAP_DEVICE].offset;
                dev->device_len = regions[VIRTIO_PCI_CAP_DEVICE].length;
        }
        r = virtio_remap(dev);
        if (r)
                return r;

        command = (uint16_t) pci_read(f, PCI_COMMAND, 2);
        pci_write(f, PCI_COMMAND, 2, command | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
        return NULL;
}

const char *virtio_attach(struct virtio_dev *dev, uint16_t type, unsigned n)
{
        struct pci_fn f;
        const char *r;

        r = pci_init(false);
        if (r)
                return r;
        if (!pci_find(VIRTIO_PCI_VENDOR, VIRTIO_PCI_DEVICE(type), n, &f)) {
                print("virtio: no virtio device of type %u (number %u) on bus 0\n", type, n);
                return "virtio device not found";
        }
        return virtio_open(dev, f);
}

uint16_t virtio_common_read16(struct virtio_dev *dev, uint32_t offset)
{
        return mmio_read16(dev->common + offset);
}

void virtio_common_write16(struct virtio_dev *dev, uint32_t offset, uint16_t v)
{
        mmio_write16(dev->common + offset, v);
}

/* 64-bit fields are written as two 32-bit halves, low first, as the specification allows. */
void virtio_common_write64(struct virtio_dev *dev, uint32_t offset, uint64_t v)
{
        mmio_write32(dev->common + offset, (uint32_t) v);
        mmio_write32(dev->common + offset + 4, (uint32_t) (v >> 32));
}

uint8_t virtio_get_status(struct virtio_dev *dev)
{
        return mmio_read8(dev->common + VIRTIO_COMMON_STATUS);
}

void virtio_set_status(struct virtio_dev *dev, uint8_t status)
{
        mmio_write8(dev->common + VIRTIO_COMMON_STATUS, status);
}

const char *virtio_reset(struct virtio_dev *dev)
{
        struct deadline d;

        virtio_set_status(dev, 0);
        deadline_start(&d, RESET_SECONDS);
        while (virtio_get_status(dev) != 0)
                if (deadline_passed(&d))
                        return "device_status does not read 0 after a reset";
        for (unsigned i = 0; i < VIRTIO_QUEUES_MAX; i++)
                dev->vqs[i].ready = false;
        return NULL;
}

uint64_t virtio_device_features(struct virtio_dev *dev)
{
        uint32_t lo, hi;

        mmio_write32(dev->common + VIRTIO_COMMON_DFSELECT, 0);
        lo = mmio_read32(dev->common + VIRTIO_COMMON_DF);
        mmio_write32(dev->common + VIRTIO_COMMON_DFSELECT, 1);
        hi = mmio_read32(dev->common + VIRTIO_COMMON_DF);
        return (uint64_t) hi << 32 | lo;
}

void virtio_write_features(struct virtio_dev *dev, uint64_t features)
{
        mmio_write32(dev->common + VIRTIO_COMMON_GFSELECT, 0);
        mmio_write32(dev->common + VIRTIO_COMMON_GF, (uint32_t) features);
        mmio_write32(dev->common + VIRTIO_COMMON_GFSELECT, 1);
        mmio_write32(dev->common + VIRTIO_COMMON_GF, (uint32_t) (features >> 32));
}

const char *virtio_negotiate(struct virtio_dev *dev, uint64_t wanted)
{
        const uint8_t ack = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;
        const char *r;

        r = virtio_reset(dev);
        if (r)
                return r;
        virtio_set_status(dev, VIRTIO_STATUS_ACKNOWLEDGE);
        virtio_set_status(dev, ack);
        dev->offered = virtio_device_features(dev);
        if (!(dev->offered & VIRTIO_FEATURE(VIRTIO_F_VERSION_1)))
                return "the device does not offer VIRTIO_F_VERSION_1";
        /* No IOMMU here: guest-physical addresses are what the device sees either way. */
        wanted |= VIRTIO_FEATURE(VIRTIO_F_VERSION_1) | VIRTIO_FEATURE(VIRTIO_F_ACCESS_PLATFORM);
        dev->features = dev->offered & wanted;
        virtio_write_features(dev, dev->features);
        virtio_set_status(dev, ack | VIRTIO_STATUS_FEATURES_OK);
        if (!(virtio_get_status(dev) & VIRTIO_STATUS_FEATURES_OK)) {
                print("virtio: device refused features 0x%lx (offered 0x%lx)\n", dev->features,
                      dev->offered);
                return "the device cleared FEATURES_OK";
        }
        dev->num_queues = virtio_common_read16(dev, VIRTIO_COMMON_NUMQ);
        return NULL;
}

const char *virtq_setup(struct virtio_dev *dev, uint16_t index, uint16_t size)
{
        struct virtq *vq;
        uint16_t max, n, notify_off;
        uint64_t notify_at;

        if (index >= VIRTIO_QUEUES_MAX)
                return "queue index beyond what the test driver handles";
        if (index >= dev->num_queues) {
                print("virtio: queue %u requested, the device has %u\n", index, dev->num_queues);
                return "the device has fewer queues than the driver needs";
        }
        virtio_common_write16(dev, VIRTIO_COMMON_Q_SELECT, index);
        max = virtio_common_read16(dev, VIRTIO_COMMON_Q_SIZE);
        if (max == 0) {
                print("virtio: queue %u has queue_size 0\n", index);
                return "a queue the driver needs is not available";
        }
        n = size < max ? size : max;
        if (n > VIRTQ_SIZE_MAX)
                n = VIRTQ_SIZE_MAX;
        while (n & (n - 1))
                n &= (uint16_t) (n - 1);

        vq = &dev->vqs[index];
        *vq = (struct virtq){.dev = dev, .index = index, .size = n, .num_free = n};
        vq->desc = dma_alloc(sizeof(struct virtq_desc) * n, 16);
        vq->avail = dma_alloc(6 + 2u * n, 2);
        vq->used = dma_alloc(6 + 8u * n, 4);
        if (!vq->desc || !vq->avail || !vq->used)
                return "the DMA arena is exhausted";
        for (uint16_t i = 0; i < n; i++)
                vq->next_free[i] = (uint16_t) (i + 1);

        virtio_common_write16(dev, VIRTIO_COMMON_Q_SIZE, n);
        virtio_common_write64(dev, VIRTIO_COMMON_Q_DESC, (uintptr_t) vq->desc);
        virtio_common_write64(dev, VIRTIO_COMMON_Q_AVAIL, (uintptr_t) vq->avail);
        virtio_common_write64(dev, VIRTIO_COMMON_Q_USED, (uintptr_t) vq->used);
        virtio_common_write16(dev, VIRTIO_COMMON_Q_MSIX, VIRTIO_MSI_NO_VECTOR);
        notify_off = virtio_common_read16(dev, VIRTIO_COMMON_Q_NOFF);
        notify_at = (uint64_t) notify_off * dev->notify_multiplier;
        if (notify_at + 2 > dev->notify_len) {
                print("virtio: queue %u notify offset 0x%lx, notify structure length 0x%x\n", index,
                      notify_at, dev->notify_len);
                return "a queue's notification address lies outside the notify structure";
        }
        vq->notify = (volatile uint16_t *) (dev->notify + notify_at);
        virtio_common_write16(dev, VIRTIO_COMMON_Q_ENABLE, 1);
        if (virtio_common_read16(dev, VIRTIO_COMMON_Q_ENABLE) != 1) {
                print("virtio: queue %u reads queue_enable=0 after enabling it\n", index);
                return "the device refused to enable a queue";
        }
        vq->ready = true;
        return NULL;
}

const char *virtio_start(struct virtio_dev *dev, uint64_t wanted, unsigned n_queues)
{
        const char *r;

        r = virtio_negotiate(dev, wanted);
        if (r)
                return r;
        for (unsigned i = 0; i < n_queues; i++) {
                r = virtq_setup(dev, (uint16_t) i, VIRTQ_SIZE_MAX);
                if (r)
                        return r;
        }
        virtio_set_status(dev, virtio_get_status(dev) | VIRTIO_STATUS_DRIVER_OK);
        if (virtio_get_status(dev) & VIRTIO_STATUS_NEEDS_RESET)
                return "the device needs a reset right after DRIVER_OK";
        return NULL;
}

static uint64_t config_read_once(volatile uint8_t *p, unsigned size)
{
        switch (size) {
        case 1:
                return mmio_read8(p);
        case 2:
                return mmio_read16(p);
        case 4:
                return mmio_read32(p);
        default:
                return mmio_read32(p) | (uint64_t) mmio_read32(p + 4) << 32;
        }
}

uint64_t virtio_config_read(struct virtio_dev *dev, uint32_t offset, unsigned size)
{
        uint64_t v = UINT64_MAX;

        if (!dev->device || offset + size > dev->device_len)
                return v;
        for (unsigned i = 0; i < GENERATION_TRIES; i++) {
                uint8_t generation = mmio_read8(dev->common + VIRTIO_COMMON_CFGGENERATION);

                v = config_read_once(dev->device + offset, size);
                if (mmio_read8(dev->common + VIRTIO_COMMON_CFGGENERATION) == generation)
                        break;
        }
        return v;
}

void virtio_config_write(struct virtio_dev *dev, uint32_t offset, unsigned size, uint32_t v)
{
        if (!dev->device || offset + size > dev->device_len)
                return;
        if (size == 1)
                mmio_write8(dev->device + offset, (uint8_t) v);
        else if (size == 2)
                mmio_write16(dev->device + offset, (uint16_t) v);
        else
                mmio_write32(dev->device + offset, v);
}

void virtq_publish(struct virtq *vq, uint16_t head)
{
        vq->avail->ring[vq->avail_idx % vq->size] = head;
        /* x86 keeps stores in order; the compiler must too. */
        barrier_compiler();
        vq->avail->idx = ++vq->avail_idx;
}

int virtq_add(struct virtq *vq, const struct virtq_buf *bufs, unsigned n)
{
        uint16_t head = vq->free_head, d = head;

        if (n == 0 || n > vq->num_free)
                return -1;
        for (unsigned i = 0; i < n; i++) {
                bool last = i == n - 1;

                vq->desc[d] = (struct virtq_desc){
                        .addr = (uintptr_t) bufs[i].addr,
                        .len = bufs[i].len,
                        .flags = (uint16_t) ((bufs[i].write ? VIRTQ_DESC_F_WRITE : 0) |
                                             (last ? 0 : VIRTQ_DESC_F_NEXT)),
                        .next = last ? 0 : vq->next_free[d],
                };
                if (!last)
                        d = vq->next_free[d];
        }
        vq->free_head = vq->next_free[d];
        vq->num_free = (uint16_t) (vq->num_free - n);
        vq->chain_len[head] = (uint16_t) n;
        virtq_publish(vq, head);
        return head;
}

void virtq_notify(struct virtq *vq)
{
        mmio_write16(vq->notify, vq->index);
}

void virtq_kick(struct virtq *vq)
{
        /* The index store must be visible before the device's flags are read. */
        barrier_full();
        if (!(vq->used->flags & VIRTQ_USED_F_NO_NOTIFY))
                virtq_notify(vq);
}

bool virtq_get(struct virtq *vq, uint16_t *ret_head, uint32_t *ret_len)
{
        struct virtq_used_elem e;
        uint16_t d, n;

        if (vq->used->idx == vq->last_used)
                return false;
        barrier_compiler();
        e.id = vq->used->ring[vq->last_used % vq->size].id;
        e.len = vq->used->ring[vq->last_used % vq->size].len;
        vq->last_used++;
        *ret_head = (uint16_t) e.id;
        *ret_len = e.len;
        if (e.id >= vq->size || vq->chain_len[e.id] == 0) {
                print("virtio: queue %u: the device returned head %u, which is not in flight\n", vq->index,
                      e.id);
                return true;
        }
        n = vq->chain_len[e.id];
        vq->chain_len[e.id] = 0;
        d = (uint16_t) e.id;
        for (uint16_t i = 1; i < n; i++)
                d = vq->next_free[d];
        vq->next_free[d] = vq->free_head;
        vq->free_head = (uint16_t) e.id;
        vq->num_free = (uint16_t) (vq->num_free + n);
        return true;
}

const char *virtq_wait(struct virtq *vq, unsigned seconds, uint16_t *ret_head, uint32_t *ret_len)
{
        struct deadline d;

        deadline_start(&d, seconds);
        while (!virtq_get(vq, ret_head, ret_len)) {
                if (deadline_passed(&d))
                        return "no used buffer from the device in time";
                cpu_relax();
        }
        return NULL;
}

const char *virtq_request(struct virtq *vq, const struct virtq_buf *bufs, unsigned n, uint32_t *ret_len)
{
        uint16_t head;
        uint32_t len;
        const char *r;
        int h;

        h = virtq_add(vq, bufs, n);
        if (h < 0)
                return "no free descriptors";
        virtq_kick(vq);
        r = virtq_wait(vq, 10, &head, &len);
        if (r)
                return r;
        if (head != h) {
                print("virtio: queue %u: used head %u, expected %d\n", vq->index, head, h);
                return "the device completed a request that was not made";
        }
        if (ret_len)
                *ret_len = len;
        return NULL;
}
