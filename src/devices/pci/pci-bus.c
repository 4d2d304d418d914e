/* SPDX-License-Identifier: Apache-2.0 */
#include <inttypes.h>

#include "log.h"
#include "pci-internal.h"

/* CONFIG_ADDRESS: enable, bus, device, function, register; bits 30:24 and 1:0 read as 0. */
#define PCI_CONFIG_ADDRESS_MASK 0x80fffffcu

int pci_bus_new(const PciBusConfig *config, PciBus **ret)
{
        _cleanup_(pci_bus_freep) PciBus *bus = NULL;
        PciDevice *hb;
        PciDeviceInfo info;
        int r;

        if (!config || !config->mmio || !config->pio || !ret)
                return -EINVAL;

        bus = calloc(1, sizeof *bus);
        if (!bus)
                return -ENOMEM;
        pthread_mutex_init(&bus->lock, NULL);
        bus->mmio = config->mmio;
        bus->pio = config->pio;
        pci_allocator_init(&bus->io, "io", config->io.base, config->io.size);
        pci_allocator_init(&bus->mem32, "mem32", config->mem32.base, config->mem32.size);
        pci_allocator_init(&bus->mem64, "mem64", config->mem64.base, config->mem64.size);
        bus->cf8_passthrough_ops = config->cf8_passthrough_ops;
        bus->cf8_passthrough_opaque = config->cf8_passthrough_opaque;

        info = (PciDeviceInfo) {
                .vendor_id = config->host_bridge_vendor_id ?: PCI_HOST_BRIDGE_VENDOR_ID,
                .device_id = config->host_bridge_device_id ?: PCI_HOST_BRIDGE_DEVICE_ID,
                .class_code = PCI_CLASS_CODE_HOST_BRIDGE,
        };
        r = pci_device_new("host-bridge", &info, &hb);
        if (r < 0)
                return r;
        memcpy(hb->config_initial, hb->config, sizeof hb->config);
        hb->bus = bus;
        hb->slot = 0;
        bus->slots[0] = hb;
        bus->host_bridge = hb;

        *ret = TAKE_PTR(bus);
        return 0;
}

static void pci_bus_release_addresses_locked(PciDevice *dev)
{
        for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
                PciBar *bar = &dev->bars[i];
                if (!bar->alloc_from)
                        continue;
                (void) pci_allocator_free(bar->alloc_from, bar->alloc_addr);
                bar->alloc_from = NULL;
        }
}

static void pci_bus_detach_locked(PciBus *bus, PciDevice *dev, bool notify)
{
        pci_device_unmap_bars_locked(dev, notify);
        pci_bus_release_addresses_locked(dev);
        bus->slots[dev->slot] = NULL;
        __atomic_store_n(&dev->bus, NULL, __ATOMIC_RELEASE);
}

PciBus *pci_bus_free(PciBus *bus)
{
        if (!bus)
                return NULL;

        pthread_mutex_lock(&bus->lock);
        for (unsigned s = 0; s < PCI_NUM_SLOTS; s++)
                if (bus->slots[s])
                        pci_bus_detach_locked(bus, bus->slots[s], false);
        pthread_mutex_unlock(&bus->lock);

        pci_device_free(bus->host_bridge);
        pci_allocator_done(&bus->io);
        pci_allocator_done(&bus->mem32);
        pci_allocator_done(&bus->mem64);
        pthread_mutex_destroy(&bus->lock);
        free(bus);
        return NULL;
}

/* Gives every BAR of dev an address, largest first so that alignment wastes little. */
static int pci_bus_assign_bars_locked(PciBus *bus, PciDevice *dev)
{
        bool done[PCI_NUM_BARS] = {};

        for (;;) {
                PciAllocator *order[2] = {};
                PciBar *bar = NULL;
                int r = -ENOSPC;

                for (unsigned i = 0; i < PCI_NUM_BARS; i++)
                        if (dev->bars[i].type != PCI_BAR_NONE && !done[i] &&
                            (!bar || dev->bars[i].size > bar->size))
                                bar = &dev->bars[i];
                if (!bar)
                        return 0;
                done[bar->index] = true;

                switch (bar->type) {
                case PCI_BAR_IO:
                        order[0] = &bus->io;
                        break;
                case PCI_BAR_MEM32:
                        order[0] = &bus->mem32;
                        break;
                default:
                        order[0] = &bus->mem64;
                        order[1] = &bus->mem32;
                        break;
                }
                for (unsigned k = 0; k < ELEMENTSOF(order) && order[k] && r == -ENOSPC; k++) {
                        r = pci_allocator_alloc(order[k], bar->size, bar->size, &bar->alloc_addr);
                        if (r >= 0)
                                bar->alloc_from = order[k];
                }
                if (r < 0) {
                        log_debug("PCI %s: no room for BAR %u (0x%" PRIx64 " bytes) in the %s window",
                                  dev->name, bar->index, bar->size, order[0]->name);
                        pci_bus_release_addresses_locked(dev);
                        for (unsigned i = 0; i < PCI_NUM_BARS; i++)
                                if (dev->bars[i].type != PCI_BAR_NONE)
                                        pci_bar_set_register_address(dev, i, 0);
                        return r;
                }
                pci_bar_set_register_address(dev, bar->index, bar->alloc_addr);
        }
}

int pci_bus_add_device(PciBus *bus, PciDevice *dev, int slot, unsigned *ret_slot)
{
        int r = 0;

        if (!bus || !dev || slot == 0 || slot >= PCI_NUM_SLOTS)
                return -EINVAL;

        pthread_mutex_lock(&bus->lock);
        if (dev->bus) {
                r = -EBUSY;
                goto out;
        }
        if (slot < 0) {
                for (slot = 1; slot < PCI_NUM_SLOTS && bus->slots[slot]; slot++)
                        ;
                if (slot == PCI_NUM_SLOTS) {
                        r = -ENOSPC;
                        goto out;
                }
        } else if (bus->slots[slot]) {
                r = -EEXIST;
                goto out;
        }

        r = pci_bus_assign_bars_locked(bus, dev);
        if (r < 0)
                goto out;

        dev->slot = (uint8_t) slot;
        memcpy(dev->config_initial, dev->config, sizeof dev->config);
        __atomic_store_n(&dev->bus, bus, __ATOMIC_RELEASE);
        bus->slots[slot] = dev;
        __atomic_store_n(&dev->command, pci_config_get16(dev, PCI_COMMAND), __ATOMIC_RELEASE);
        pci_bus_update_mappings_locked(bus);
        if (ret_slot)
                *ret_slot = (unsigned) slot;
out:
        pthread_mutex_unlock(&bus->lock);
        return r;
}

void pci_bus_reset(PciBus *bus)
{
        pthread_mutex_lock(&bus->lock);
        for (unsigned slot = 0; slot < PCI_NUM_SLOTS; slot++) {
                PciDevice *dev = bus->slots[slot];

                if (!dev)
                        continue;
                memcpy(dev->config, dev->config_initial, sizeof dev->config);
                __atomic_store_n(&dev->command, pci_config_get16(dev, PCI_COMMAND), __ATOMIC_RELEASE);
                pthread_mutex_lock(&dev->irq_lock);
                dev->intx_level = false;
                pci_device_update_intx_locked(dev);
                pthread_mutex_unlock(&dev->irq_lock);
                if (dev->msix) {
                        msix_reset_locked(dev);
                        msix_config_changed_locked(dev);
                }
        }
        pci_bus_update_mappings_locked(bus);
        pthread_mutex_unlock(&bus->lock);
}

int pci_bus_remove_device(PciBus *bus, PciDevice *dev)
{
        int r = 0;

        if (!bus || !dev)
                return -EINVAL;

        pthread_mutex_lock(&bus->lock);
        if (dev->bus != bus)
                r = -ENOENT;
        else if (dev == bus->host_bridge)
                r = -EPERM;
        else {
                pci_bus_detach_locked(bus, dev, true);
                /* Something that could not be mapped because of this device may fit now. */
                pci_bus_update_mappings_locked(bus);
        }
        pthread_mutex_unlock(&bus->lock);
        return r;
}

PciDevice *pci_bus_get_device(PciBus *bus, unsigned slot)
{
        PciDevice *dev;

        if (!bus || slot >= PCI_NUM_SLOTS)
                return NULL;
        pthread_mutex_lock(&bus->lock);
        dev = bus->slots[slot];
        pthread_mutex_unlock(&bus->lock);
        return dev;
}

PciDevice *pci_bus_host_bridge(PciBus *bus)
{
        return bus->host_bridge;
}

/* Config accesses */

/* 1, 2 or 4 bytes inside one dword of the 4 KiB space: what the byte enables of one request cover. */
static bool pci_config_access_ok(uint32_t offset, uint32_t len)
{
        if (len != 1 && len != 2 && len != 4)
                return false;
        return offset < PCI_CONFIG_SIZE && (offset & 3) + len <= 4;
}

static PciDevice *pci_bus_lookup_locked(PciBus *bus, uint32_t busnum, uint32_t devnum, uint32_t fn)
{
        /* Only bus 0, and only function 0 of each device: the header type says single-function. */
        if (busnum != 0 || fn != 0 || devnum >= PCI_NUM_SLOTS)
                return NULL;
        return bus->slots[devnum];
}

void pci_bus_config_read(PciBus *bus, uint32_t busnum, uint32_t devnum, uint32_t fn, uint32_t offset,
                         uint8_t *data, uint32_t len)
{
        PciDevice *dev;

        if (!data || len == 0)
                return;
        memset(data, 0xff, len);
        if (!bus || !pci_config_access_ok(offset, len))
                return;

        pthread_mutex_lock(&bus->lock);
        dev = pci_bus_lookup_locked(bus, busnum, devnum, fn);
        if (dev)
                pci_device_config_read_locked(dev, offset, data, len);
        pthread_mutex_unlock(&bus->lock);
}

void pci_bus_config_write(PciBus *bus, uint32_t busnum, uint32_t devnum, uint32_t fn, uint32_t offset,
                          const uint8_t *data, uint32_t len)
{
        PciDevice *dev;

        if (!bus || !data || !pci_config_access_ok(offset, len))
                return;

        pthread_mutex_lock(&bus->lock);
        dev = pci_bus_lookup_locked(bus, busnum, devnum, fn);
        if (dev)
                pci_device_config_write_locked(dev, offset, data, len);
        pthread_mutex_unlock(&bus->lock);
}

/* ECAM */

static void pci_ecam_decode(uint64_t offset, uint32_t *busnum, uint32_t *devnum, uint32_t *fn, uint32_t *reg)
{
        *busnum = (uint32_t) (offset >> 20) & 0xff;
        *devnum = (uint32_t) (offset >> 15) & 0x1f;
        *fn = (uint32_t) (offset >> 12) & 0x7;
        *reg = (uint32_t) offset & 0xfff;
}

static void pci_ecam_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len)
{
        uint32_t busnum, devnum, fn, reg;

        if (offset >= PCI_ECAM_SIZE) {
                memset(data, 0xff, len);
                return;
        }
        pci_ecam_decode(offset, &busnum, &devnum, &fn, &reg);
        pci_bus_config_read(opaque, busnum, devnum, fn, reg, data, len);
}

static void pci_ecam_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
        uint32_t busnum, devnum, fn, reg;

        if (offset >= PCI_ECAM_SIZE)
                return;
        pci_ecam_decode(offset, &busnum, &devnum, &fn, &reg);
        pci_bus_config_write(opaque, busnum, devnum, fn, reg, data, len);
}

const IoOps pci_ecam_ops = {
        .read = pci_ecam_read,
        .write = pci_ecam_write,
};

/* 0xCF8/0xCFC (PCI 3.0 section 3.2.2.3.2, configuration mechanism #1) */

/* The config access CONFIG_DATA at port 0xcfc + byte, len bytes, stands for; false when there is none. */
static bool pci_cf8_target(PciBus *bus, uint64_t byte, uint32_t len, uint32_t *busnum, uint32_t *devnum,
                           uint32_t *fn, uint32_t *reg)
{
        uint32_t addr = __atomic_load_n(&bus->config_address, __ATOMIC_ACQUIRE);

        if (!(addr & PCI_CONFIG_ADDRESS_ENABLE) || byte >= 4 || len > 4 - byte)
                return false;
        *busnum = (addr >> 16) & 0xff;
        *devnum = (addr >> 11) & 0x1f;
        *fn = (addr >> 8) & 0x7;
        *reg = (addr & 0xfc) + (uint32_t) byte;
        return true;
}

static void pci_cf8_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len)
{
        PciBus *bus = opaque;
        uint32_t busnum, devnum, fn, reg;

        if (len == 0)
                return;
        if (offset < 4) {
                if (offset == 0 && len == 4)
                        pci_put_le(data, __atomic_load_n(&bus->config_address, __ATOMIC_ACQUIRE), 4);
                else if (len <= 4 - offset && bus->cf8_passthrough_ops && bus->cf8_passthrough_ops->read)
                        bus->cf8_passthrough_ops->read(bus->cf8_passthrough_opaque, offset, data, len);
                else
                        memset(data, 0xff, len);
                return;
        }
        if (!pci_cf8_target(bus, offset - 4, len, &busnum, &devnum, &fn, &reg)) {
                memset(data, 0xff, len);
                return;
        }
        pci_bus_config_read(bus, busnum, devnum, fn, reg, data, len);
}

static void pci_cf8_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
        PciBus *bus = opaque;
        uint32_t busnum, devnum, fn, reg;

        if (len == 0)
                return;
        if (offset < 4) {
                if (offset == 0 && len == 4)
                        __atomic_store_n(&bus->config_address, pci_get_le(data, 4) & PCI_CONFIG_ADDRESS_MASK,
                                         __ATOMIC_RELEASE);
                else if (len <= 4 - offset && bus->cf8_passthrough_ops && bus->cf8_passthrough_ops->write)
                        bus->cf8_passthrough_ops->write(bus->cf8_passthrough_opaque, offset, data, len);
                return;
        }
        if (pci_cf8_target(bus, offset - 4, len, &busnum, &devnum, &fn, &reg))
                pci_bus_config_write(bus, busnum, devnum, fn, reg, data, len);
}

const IoOps pci_cf8_ops = {
        .read = pci_cf8_read,
        .write = pci_cf8_write,
};
