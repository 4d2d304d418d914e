/* SPDX-License-Identifier: Apache-2.0 */
#include <inttypes.h>
#include <linux/virtio_pci.h>
#include <stddef.h>

#include "log.h"
#include "virtio-pci.h"

#define VIRTIO_PCI_ISR_QUEUE 0x1

static bool in_region(uint64_t offset, uint32_t len, uint32_t base, uint32_t size)
{
        return offset >= base && offset - base <= size && len <= size - (offset - base);
}

struct VirtioPci {
        VirtioDevice *dev;
        PciDevice *pci;
        VirtioPciHost host;
        uint16_t n_vectors;

        pthread_mutex_t lock;
        /* Guarded by lock. */
        uint32_t device_feature_select, driver_feature_select;
        uint64_t driver_features;
        uint8_t status;
        bool features_refused; /* FEATURES_OK was refused: it stays clear until a reset */
        bool active;           /* the device was activated and not reset since */
        uint8_t config_generation;
        uint16_t queue_select;
        bool reported_late_queue_config;

        /* Read by the worker without the lock. */
        _Atomic uint16_t msix_config;
        _Atomic uint16_t *queue_vector;
        _Atomic uint8_t isr;
        _Atomic bool needs_reset;

        uint16_t pci_cfg_cap; /* offset of the VIRTIO_PCI_CAP_PCI_CFG capability */

        /* Where the notify addresses are registered as ioeventfds; under the PCI bus lock. */
        uint64_t ioeventfd_base;
        bool ioeventfds;
};

static const struct {
        uint16_t type;
        uint32_t class_code;
} virtio_pci_classes[] = {
        { VIRTIO_ID_NET, 0x020000 },     /* network controller, Ethernet */
        { VIRTIO_ID_BLOCK, 0x018000 },   /* mass storage, other */
        { VIRTIO_ID_CONSOLE, 0x078000 }, /* communication, other */
};

static uint32_t virtio_pci_class(uint16_t type)
{
        for (size_t i = 0; i < ELEMENTSOF(virtio_pci_classes); i++)
                if (virtio_pci_classes[i].type == type)
                        return virtio_pci_classes[i].class_code;
        return 0xff0000; /* unassigned class */
}

/* Transport operations for the device's worker. */

static void virtio_pci_signal_queue(void *ctx, uint16_t q)
{
        VirtioPci *t = ctx;
        uint16_t v = atomic_load(&t->queue_vector[q]);

        atomic_fetch_or(&t->isr, VIRTIO_PCI_ISR_QUEUE);
        if (v != VIRTIO_MSI_NO_VECTOR)
                (void) msix_notify(t->pci, v);
}

static void virtio_pci_signal_config(void *ctx)
{
        VirtioPci *t = ctx;
        uint16_t v = atomic_load(&t->msix_config);

        atomic_fetch_or(&t->isr, VIRTIO_PCI_ISR_CONFIG);
        if (v != VIRTIO_MSI_NO_VECTOR)
                (void) msix_notify(t->pci, v);
}

static void virtio_pci_needs_reset(void *ctx)
{
        VirtioPci *t = ctx;

        if (!atomic_exchange(&t->needs_reset, true))
                virtio_pci_signal_config(t);
}

static const VirtioTransportOps virtio_pci_transport_ops = {
        .signal_queue = virtio_pci_signal_queue,
        .signal_config = virtio_pci_signal_config,
        .needs_reset = virtio_pci_needs_reset,
};

/* Reset, with the lock held: the device stops first, then the registers go back to their initial values. */
static void virtio_pci_reset_locked(VirtioPci *t)
{
        VirtioDevice *d = t->dev;

        if (t->active)
                d->ops->reset(d);
        t->active = false;
        for (unsigned i = 0; i < d->n_queues; i++) {
                virtq_reset(&d->queues[i]);
                atomic_store(&t->queue_vector[i], VIRTIO_MSI_NO_VECTOR);
                (void) eventfd_consume(d->queue_fds[i]);
        }
        d->features = 0;
        atomic_store(&d->broken, false);
        t->device_feature_select = t->driver_feature_select = 0;
        t->driver_features = 0;
        t->status = 0;
        t->features_refused = false;
        t->queue_select = 0;
        t->reported_late_queue_config = false;
        atomic_store(&t->msix_config, VIRTIO_MSI_NO_VECTOR);
        atomic_store(&t->isr, 0);
        atomic_store(&t->needs_reset, false);
}

static uint8_t virtio_pci_status_locked(VirtioPci *t)
{
        return t->status | (atomic_load(&t->needs_reset) ? VIRTIO_STATUS_NEEDS_RESET : 0);
}

static Virtqueue *virtio_pci_selected_queue(VirtioPci *t)
{
        return t->queue_select < t->dev->n_queues ? &t->dev->queues[t->queue_select] : NULL;
}

/* The common configuration structure as the driver would read it now. */
static void virtio_pci_common_image(VirtioPci *t, struct virtio_pci_common_cfg *c)
{
        VirtioDevice *d = t->dev;
        Virtqueue *vq = virtio_pci_selected_queue(t);
        uint64_t host = d->host_features;

        *c = (struct virtio_pci_common_cfg) {
                .device_feature_select = htole32(t->device_feature_select),
                .device_feature = htole32(t->device_feature_select == 0 ? (uint32_t) host :
                                          t->device_feature_select == 1 ? (uint32_t) (host >> 32) : 0),
                .guest_feature_select = htole32(t->driver_feature_select),
                .guest_feature = htole32(t->driver_feature_select == 0 ? (uint32_t) t->driver_features :
                                         t->driver_feature_select == 1 ? (uint32_t) (t->driver_features >> 32) : 0),
                .msix_config = htole16(atomic_load(&t->msix_config)),
                .num_queues = htole16((uint16_t) d->n_queues),
                .device_status = virtio_pci_status_locked(t),
                .config_generation = t->config_generation,
                .queue_select = htole16(t->queue_select),
        };
        if (!vq)
                return;
        c->queue_size = htole16(vq->size);
        c->queue_msix_vector = htole16(atomic_load(&t->queue_vector[t->queue_select]));
        c->queue_enable = htole16(vq->enabled ? 1 : 0);
        c->queue_notify_off = htole16(t->queue_select);
        c->queue_desc_lo = htole32((uint32_t) vq->desc_addr);
        c->queue_desc_hi = htole32((uint32_t) (vq->desc_addr >> 32));
        c->queue_avail_lo = htole32((uint32_t) vq->avail_addr);
        c->queue_avail_hi = htole32((uint32_t) (vq->avail_addr >> 32));
        c->queue_used_lo = htole32((uint32_t) vq->used_addr);
        c->queue_used_hi = htole32((uint32_t) (vq->used_addr >> 32));
}

static void virtio_pci_write_status(VirtioPci *t, uint8_t value)
{
        VirtioDevice *d = t->dev;
        uint8_t old = t->status;
        int r;

        if (value == 0) {
                virtio_pci_reset_locked(t);
                return;
        }
        /* The device's own bit is not the driver's to set; bits are never cleared except by a reset. */
        value = (uint8_t) ((value & ~VIRTIO_STATUS_NEEDS_RESET) | old);

        if ((value & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK)) {
                uint64_t unknown = t->driver_features & ~d->host_features;

                if (t->features_refused || unknown ||
                    !virtio_has_feature(t->driver_features, VIRTIO_F_VERSION_1)) {
                        if (!t->features_refused)
                                log_info("virtio %s: driver features 0x%" PRIx64 " refused (%s)", d->id,
                                         t->driver_features,
                                         unknown ? "features the device does not offer" : "no VIRTIO_F_VERSION_1");
                        t->features_refused = true;
                        value &= (uint8_t) ~VIRTIO_STATUS_FEATURES_OK;
                } else {
                        d->features = t->driver_features;
                        for (unsigned i = 0; i < d->n_queues; i++)
                                (void) virtq_set_features(&d->queues[i], d->features);
                }
        }

        if ((value & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK)) {
                if (!(value & VIRTIO_STATUS_FEATURES_OK)) {
                        log_info("virtio %s: DRIVER_OK without FEATURES_OK", d->id);
                        virtio_pci_needs_reset(t);
                } else if (!atomic_load(&t->needs_reset)) {
                        r = d->ops->activate(d);
                        if (r < 0) {
                                log_warning("virtio %s: cannot start the device: %s", d->id, strerror(-r));
                                d->ops->reset(d);
                                virtio_pci_needs_reset(t);
                        } else
                                t->active = true;
                }
        }
        t->status = value;
}

/* Queue configuration is only taken before DRIVER_OK (no VIRTIO_F_RING_RESET). */
static Virtqueue *virtio_pci_queue_for_config(VirtioPci *t)
{
        Virtqueue *vq = virtio_pci_selected_queue(t);

        if (!vq)
                return NULL;
        if (t->status & VIRTIO_STATUS_DRIVER_OK) {
                if (!t->reported_late_queue_config) {
                        t->reported_late_queue_config = true;
                        log_info("virtio %s: queue %u configured after DRIVER_OK; ignored", t->dev->id,
                                 t->queue_select);
                }
                return NULL;
        }
        return vq;
}

static void virtio_pci_queue_enable(VirtioPci *t, Virtqueue *vq)
{
        const char *why = NULL;
        int r;

        if (vq->enabled)
                return;
        r = virtq_enable(vq, t->dev->mem, &why);
        if (r < 0) {
                log_info("virtio %s: queue %u cannot be enabled: %s", t->dev->id, vq->index, why ?: strerror(-r));
                virtio_pci_needs_reset(t);
        }
}

static void virtio_pci_common_write(VirtioPci *t, uint32_t offset, const uint8_t *data, uint32_t len)
{
        struct virtio_pci_common_cfg c;
        uint8_t *raw = (uint8_t *) &c;
        Virtqueue *vq;

        virtio_pci_common_image(t, &c);
        memcpy(raw + offset, data, len);

#define TOUCHED(field) \
        (offset < offsetof(struct virtio_pci_common_cfg, field) + sizeof c.field && \
         offsetof(struct virtio_pci_common_cfg, field) < offset + len)

        if (TOUCHED(device_feature_select))
                t->device_feature_select = le32toh(c.device_feature_select);
        if (TOUCHED(guest_feature_select))
                t->driver_feature_select = le32toh(c.guest_feature_select);
        if (TOUCHED(guest_feature) && !(t->status & VIRTIO_STATUS_FEATURES_OK) && t->driver_feature_select < 2) {
                unsigned shift = 32 * t->driver_feature_select;
                t->driver_features = (t->driver_features & ~(UINT64_C(0xffffffff) << shift)) |
                                     (uint64_t) le32toh(c.guest_feature) << shift;
        }
        if (TOUCHED(msix_config)) {
                uint16_t v = le16toh(c.msix_config);
                atomic_store(&t->msix_config, v < t->n_vectors ? v : VIRTIO_MSI_NO_VECTOR);
        }
        if (TOUCHED(queue_select))
                t->queue_select = le16toh(c.queue_select);
        if (TOUCHED(queue_msix_vector) && virtio_pci_selected_queue(t)) {
                uint16_t v = le16toh(c.queue_msix_vector);
                atomic_store(&t->queue_vector[t->queue_select], v < t->n_vectors ? v : VIRTIO_MSI_NO_VECTOR);
        }
        if (TOUCHED(queue_size) && (vq = virtio_pci_queue_for_config(t)))
                (void) virtq_set_size(vq, le16toh(c.queue_size));
        if ((TOUCHED(queue_desc_lo) || TOUCHED(queue_desc_hi) || TOUCHED(queue_avail_lo) ||
             TOUCHED(queue_avail_hi) || TOUCHED(queue_used_lo) || TOUCHED(queue_used_hi)) &&
            (vq = virtio_pci_queue_for_config(t)))
                (void) virtq_set_addresses(vq,
                                           (uint64_t) le32toh(c.queue_desc_hi) << 32 | le32toh(c.queue_desc_lo),
                                           (uint64_t) le32toh(c.queue_avail_hi) << 32 | le32toh(c.queue_avail_lo),
                                           (uint64_t) le32toh(c.queue_used_hi) << 32 | le32toh(c.queue_used_lo));
        if (TOUCHED(queue_enable) && le16toh(c.queue_enable) == 1 && (vq = virtio_pci_queue_for_config(t)))
                virtio_pci_queue_enable(t, vq);
        /* Last, so that a wide write that also sets queue fields sees them first. */
        if (TOUCHED(device_status))
                virtio_pci_write_status(t, c.device_status);
#undef TOUCHED
}

static void virtio_pci_bar_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len)
{
        VirtioPci *t = opaque;

        memset(data, 0, len);
        if (in_region(offset, len, VIRTIO_PCI_COMMON_OFFSET, VIRTIO_PCI_COMMON_SIZE)) {
                struct virtio_pci_common_cfg c;

                pthread_mutex_lock(&t->lock);
                virtio_pci_common_image(t, &c);
                pthread_mutex_unlock(&t->lock);
                memcpy(data, (uint8_t *) &c + (offset - VIRTIO_PCI_COMMON_OFFSET), len);
        } else if (offset == VIRTIO_PCI_ISR_OFFSET) {
                /* Reading the ISR acknowledges it. */
                data[0] = atomic_exchange(&t->isr, 0);
        } else if (in_region(offset, len, VIRTIO_PCI_DEVICE_OFFSET, VIRTIO_PCI_DEVICE_SIZE)) {
                uint32_t off = (uint32_t) (offset - VIRTIO_PCI_DEVICE_OFFSET);

                pthread_mutex_lock(&t->lock);
                if (off + len <= t->dev->config_size && t->dev->ops->config_read)
                        t->dev->ops->config_read(t->dev, off, data, len);
                pthread_mutex_unlock(&t->lock);
        }
}

static void virtio_pci_bar_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
        VirtioPci *t = opaque;
        VirtioDevice *d = t->dev;

        if (in_region(offset, 1, VIRTIO_PCI_NOTIFY_OFFSET, VIRTIO_PCI_NOTIFY_SIZE)) {
                /* The slow path of a queue notification, when KVM does not signal the eventfd itself. */
                uint64_t q = (offset - VIRTIO_PCI_NOTIFY_OFFSET) / VIRTIO_PCI_NOTIFY_MULTIPLIER;
                if (q < d->n_queues)
                        (void) !write(d->queue_fds[q], &(uint64_t) { 1 }, sizeof(uint64_t));
                return;
        }
        pthread_mutex_lock(&t->lock);
        if (in_region(offset, len, VIRTIO_PCI_COMMON_OFFSET, VIRTIO_PCI_COMMON_SIZE))
                virtio_pci_common_write(t, (uint32_t) (offset - VIRTIO_PCI_COMMON_OFFSET), data, len);
        else if (in_region(offset, len, VIRTIO_PCI_DEVICE_OFFSET, VIRTIO_PCI_DEVICE_SIZE)) {
                uint32_t off = (uint32_t) (offset - VIRTIO_PCI_DEVICE_OFFSET);
                if (off + len <= d->config_size && d->ops->config_write)
                        d->ops->config_write(d, off, data, len);
        }
        pthread_mutex_unlock(&t->lock);
}

static const IoOps virtio_pci_bar_ops = {
        .read = virtio_pci_bar_read,
        .write = virtio_pci_bar_write,
};

/* PCI callbacks: MSI-X goes to the machine; a BAR move moves the ioeventfds. Bus lock held. */

static void virtio_pci_deliver(void *ctx, uint16_t vector, uint64_t addr, uint32_t data)
{
        VirtioPci *t = ctx;
        if (t->host.deliver)
                t->host.deliver(t->host.ctx, vector, addr, data);
}

static void virtio_pci_vector_changed(void *ctx, uint16_t vector, uint64_t addr, uint32_t data, bool masked)
{
        VirtioPci *t = ctx;
        if (t->host.vector_changed)
                t->host.vector_changed(t->host.ctx, vector, addr, data, masked);
}

static void virtio_pci_ioeventfds(VirtioPci *t, uint64_t base, bool assign)
{
        VirtioDevice *d = t->dev;

        if (!t->host.ioeventfd)
                return;
        for (unsigned q = 0; q < d->n_queues; q++) {
                uint64_t addr = base + VIRTIO_PCI_NOTIFY_OFFSET + (uint64_t) q * VIRTIO_PCI_NOTIFY_MULTIPLIER;
                int r = t->host.ioeventfd(t->host.ctx, addr, d->queue_fds[q], assign);
                if (r < 0 && assign)
                        log_debug("virtio %s: no ioeventfd for queue %u at 0x%" PRIx64 " (%s); notifications exit to chv-vmm",
                                  d->id, q, addr, strerror(-r));
        }
}

static void virtio_pci_bar_moved(void *ctx, unsigned bar, uint64_t old_addr, uint64_t new_addr, bool mapped)
{
        VirtioPci *t = ctx;

        if (bar != VIRTIO_PCI_BAR)
                return;
        if (t->ioeventfds) {
                virtio_pci_ioeventfds(t, t->ioeventfd_base, false);
                t->ioeventfds = false;
        }
        if (mapped) {
                virtio_pci_ioeventfds(t, new_addr, true);
                t->ioeventfd_base = new_addr;
                t->ioeventfds = true;
        }
}

static const PciDeviceCallbacks virtio_pci_callbacks = {
        .deliver = virtio_pci_deliver,
        .vector_changed = virtio_pci_vector_changed,
        .bar_moved = virtio_pci_bar_moved,
};

/*
 * VIRTIO_PCI_CAP_PCI_CFG: a window into the BAR through config space. The driver writes bar, offset and
 * length into the capability, then reads or writes pci_cfg_data, which becomes an access of length
 * bytes at offset in the BAR. Runs under the PCI bus lock, which BAR accesses do not take.
 */
static bool virtio_pci_cfg_window(VirtioPci *t, PciDevice *dev, uint32_t offset, uint32_t len, uint64_t *ret_off,
                                  uint32_t *ret_len)
{
        uint32_t data = t->pci_cfg_cap + offsetof(struct virtio_pci_cfg_cap, pci_cfg_data);
        struct virtio_pci_cap cap;

        if (!t->pci_cfg_cap || offset < data || offset + len > data + 4)
                return false;
        if (pci_device_config_get(dev, t->pci_cfg_cap, &cap, sizeof cap) < 0)
                return false;
        *ret_off = le32toh(cap.offset);
        *ret_len = le32toh(cap.length);
        /* Only aligned 1, 2 or 4 byte accesses to BAR 0, as the specification allows. */
        return cap.bar == VIRTIO_PCI_BAR && (*ret_len == 1 || *ret_len == 2 || *ret_len == 4) &&
               *ret_off % *ret_len == 0 && *ret_off + *ret_len <= VIRTIO_PCI_BAR_SIZE;
}

static void virtio_pci_config_read_hook(void *opaque, PciDevice *dev, uint32_t offset, uint8_t *data, uint32_t len)
{
        VirtioPci *t = opaque;
        uint32_t base = t->pci_cfg_cap + offsetof(struct virtio_pci_cfg_cap, pci_cfg_data);
        uint8_t buf[4] = {};
        uint64_t off;
        uint32_t l;

        if (!virtio_pci_cfg_window(t, dev, offset, len, &off, &l))
                return;
        if (off < VIRTIO_PCI_PBA_OFFSET)
                virtio_pci_bar_read(t, off, buf, l);
        memcpy(data, buf + (offset - base), len);
}

static void virtio_pci_config_write_hook(void *opaque, PciDevice *dev, uint32_t offset, const uint8_t *data,
                                         uint32_t len)
{
        VirtioPci *t = opaque;
        uint32_t base = t->pci_cfg_cap + offsetof(struct virtio_pci_cfg_cap, pci_cfg_data);
        uint8_t buf[4] = {};
        uint64_t off;
        uint32_t l;

        if (!virtio_pci_cfg_window(t, dev, offset, len, &off, &l) || offset != base || len < l)
                return;
        memcpy(buf, data, l);
        /* The MSI-X table is not reachable this way: its writes take the bus lock, held here. */
        if (off < VIRTIO_PCI_PBA_OFFSET)
                virtio_pci_bar_write(t, off, buf, l);
}

static const PciDeviceHooks virtio_pci_hooks = {
        .config_read = virtio_pci_config_read_hook,
        .config_write = virtio_pci_config_write_hook,
};

static int virtio_pci_add_pci_cfg_cap(VirtioPci *t)
{
        struct virtio_pci_cfg_cap c = {
                .cap = { .cap_len = sizeof c, .cfg_type = VIRTIO_PCI_CAP_PCI_CFG },
        };
        uint8_t wmask[sizeof c] = {};
        uint16_t off;
        int r;

        r = pci_device_add_vendor_capability(t->pci, &c, sizeof c, &off);
        if (r < 0)
                return r;
        /* bar, offset, length and the data window are the driver's to write. */
        wmask[offsetof(struct virtio_pci_cap, bar)] = 0xff;
        memset(wmask + offsetof(struct virtio_pci_cap, offset), 0xff, 8);
        memset(wmask + offsetof(struct virtio_pci_cfg_cap, pci_cfg_data), 0xff, 4);
        r = pci_device_set_wmask(t->pci, off, wmask, sizeof wmask);
        if (r < 0)
                return r;
        t->pci_cfg_cap = off;
        pci_device_set_hooks(t->pci, &virtio_pci_hooks, t);
        return 0;
}

static int virtio_pci_add_cap(PciDevice *pci, uint8_t cfg_type, uint32_t offset, uint32_t length, bool notify)
{
        struct virtio_pci_notify_cap c = {
                .cap = {
                        .cfg_type = cfg_type,
                        .bar = VIRTIO_PCI_BAR,
                        .offset = htole32(offset),
                        .length = htole32(length),
                },
                .notify_off_multiplier = htole32(VIRTIO_PCI_NOTIFY_MULTIPLIER),
        };
        size_t len = notify ? sizeof c : sizeof c.cap;

        c.cap.cap_len = (uint8_t) len;
        return pci_device_add_vendor_capability(pci, &c, len, NULL);
}

int virtio_pci_new(VirtioDevice *dev, const VirtioPciHost *host, VirtioPci **ret)
{
        _cleanup_(virtio_pci_freep) VirtioPci *t = NULL;
        PciDeviceInfo info = {
                .vendor_id = VIRTIO_PCI_VENDOR_ID,
                .device_id = (uint16_t) (VIRTIO_PCI_DEVICE_ID_BASE + dev->type),
                .subsystem_vendor_id = VIRTIO_PCI_VENDOR_ID,
                .subsystem_id = VIRTIO_PCI_SUBSYSTEM_ID,
                .class_code = virtio_pci_class(dev->type),
                .revision = 1, /* modern only */
        };
        int r;

        if (dev->n_queues == 0 || dev->n_queues > VIRTIO_PCI_MAX_QUEUES ||
            dev->config_size > VIRTIO_PCI_DEVICE_SIZE)
                return -EINVAL;

        t = calloc(1, sizeof *t);
        if (!t)
                return -ENOMEM;
        pthread_mutex_init(&t->lock, NULL);
        t->dev = dev;
        t->host = *host;
        t->n_vectors = (uint16_t) (dev->n_queues + 1);
        t->queue_vector = calloc(dev->n_queues, sizeof *t->queue_vector);
        if (!t->queue_vector)
                return -ENOMEM;

        r = pci_device_new(dev->id, &info, &t->pci);
        if (r < 0)
                return r;
        r = pci_device_add_bar(t->pci, VIRTIO_PCI_BAR, PCI_BAR_MEM64, VIRTIO_PCI_BAR_SIZE, false,
                               &virtio_pci_bar_ops, t);
        if (r < 0)
                return r;
        r = msix_init(t->pci, t->n_vectors, VIRTIO_PCI_BAR, VIRTIO_PCI_TABLE_OFFSET, VIRTIO_PCI_BAR,
                      VIRTIO_PCI_PBA_OFFSET, NULL);
        if (r < 0)
                return r;
        if ((r = virtio_pci_add_cap(t->pci, VIRTIO_PCI_CAP_COMMON_CFG, VIRTIO_PCI_COMMON_OFFSET,
                                    VIRTIO_PCI_COMMON_SIZE, false)) < 0 ||
            (r = virtio_pci_add_cap(t->pci, VIRTIO_PCI_CAP_ISR_CFG, VIRTIO_PCI_ISR_OFFSET,
                                    VIRTIO_PCI_ISR_SIZE, false)) < 0 ||
            (r = virtio_pci_add_cap(t->pci, VIRTIO_PCI_CAP_DEVICE_CFG, VIRTIO_PCI_DEVICE_OFFSET,
                                    MAX(dev->config_size, 1u), false)) < 0 ||
            (r = virtio_pci_add_cap(t->pci, VIRTIO_PCI_CAP_NOTIFY_CFG, VIRTIO_PCI_NOTIFY_OFFSET,
                                    dev->n_queues * VIRTIO_PCI_NOTIFY_MULTIPLIER, true)) < 0 ||
            (r = virtio_pci_add_pci_cfg_cap(t)) < 0)
                return r;
        pci_device_set_callbacks(t->pci, &virtio_pci_callbacks, t);

        dev->transport = &virtio_pci_transport_ops;
        dev->transport_ctx = t;
        virtio_pci_reset_locked(t);
        *ret = TAKE_PTR(t);
        return 0;
}

VirtioPci *virtio_pci_free(VirtioPci *t)
{
        if (!t)
                return NULL;
        pthread_mutex_lock(&t->lock);
        if (t->dev && t->queue_vector)
                virtio_pci_reset_locked(t);
        pthread_mutex_unlock(&t->lock);
        pci_device_free(t->pci);
        free(t->queue_vector);
        pthread_mutex_destroy(&t->lock);
        free(t);
        return NULL;
}

PciDevice *virtio_pci_pci_device(VirtioPci *t)
{
        return t->pci;
}

VirtioDevice *virtio_pci_virtio_device(VirtioPci *t)
{
        return t->dev;
}

uint16_t virtio_pci_n_vectors(const VirtioPci *t)
{
        return t->n_vectors;
}

void virtio_pci_reset(VirtioPci *t)
{
        pthread_mutex_lock(&t->lock);
        virtio_pci_reset_locked(t);
        pthread_mutex_unlock(&t->lock);
}

uint8_t virtio_pci_status(VirtioPci *t)
{
        uint8_t s;

        pthread_mutex_lock(&t->lock);
        s = virtio_pci_status_locked(t);
        pthread_mutex_unlock(&t->lock);
        return s;
}
