/* SPDX-License-Identifier: Apache-2.0 */
#include <inttypes.h>

#include "log.h"
#include "pci-internal.h"

/* Status bits the guest clears by writing 1 (the error bits of PCI 3.0 section 6.2.3). */
#define PCI_STATUS_W1C_BITS                                                                          \
        (PCI_STATUS_PARITY | PCI_STATUS_SIG_TARGET_ABORT | PCI_STATUS_REC_TARGET_ABORT |             \
         PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_SIG_SYSTEM_ERROR | PCI_STATUS_DETECTED_PARITY)

/* Command bits a device has whatever its BARs: the rest is hardwired to 0 (or added with a BAR). */
#define PCI_COMMAND_BASE_BITS                                                                        \
        (PCI_COMMAND_MASTER | PCI_COMMAND_PARITY | PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE)

static bool ranges_overlap(uint32_t a, uint32_t alen, uint32_t b, uint32_t blen)
{
        return a < b + blen && b < a + alen;
}

int pci_device_new(const char *name, const PciDeviceInfo *info, PciDevice **ret)
{
        _cleanup_(pci_device_freep) PciDevice *dev = NULL;

        if (!name || !info || !ret || info->interrupt_pin > 4)
                return -EINVAL;

        dev = calloc(1, sizeof *dev);
        if (!dev)
                return -ENOMEM;
        pthread_mutex_init(&dev->irq_lock, NULL);
        dev->name = strdup(name);
        if (!dev->name)
                return -ENOMEM;

        pci_config_put16(dev->config, PCI_VENDOR_ID, info->vendor_id);
        pci_config_put16(dev->config, PCI_DEVICE_ID, info->device_id);
        pci_config_put32(dev->config, PCI_CLASS_REVISION,
                         (info->class_code & 0xffffffu) << 8 | info->revision);
        dev->config[PCI_HEADER_TYPE] = PCI_HEADER_TYPE_NORMAL;
        pci_config_put16(dev->config, PCI_SUBSYSTEM_VENDOR_ID, info->subsystem_vendor_id);
        pci_config_put16(dev->config, PCI_SUBSYSTEM_ID, info->subsystem_id);
        dev->config[PCI_INTERRUPT_PIN] = info->interrupt_pin;
        dev->config[PCI_INTERRUPT_LINE] = info->interrupt_line;

        pci_config_put16(dev->wmask, PCI_COMMAND, PCI_COMMAND_BASE_BITS);
        pci_config_put16(dev->w1cmask, PCI_STATUS, PCI_STATUS_W1C_BITS);
        dev->wmask[PCI_CACHE_LINE_SIZE] = 0xff;
        dev->wmask[PCI_INTERRUPT_LINE] = 0xff;

        dev->cap_end = PCI_STD_HEADER_SIZEOF;
        for (unsigned i = 0; i < PCI_NUM_BARS; i++)
                dev->bars[i] = (PciBar) {
                        .dev = dev,
                        .index = (uint8_t) i,
                        .mapped_addr = PCI_BAR_UNMAPPED,
                };

        *ret = TAKE_PTR(dev);
        return 0;
}

PciDevice *pci_device_free(PciDevice *dev)
{
        if (!dev)
                return NULL;
        if (dev->bus)
                (void) pci_bus_remove_device(dev->bus, dev);
        msix_free(dev->msix);
        pthread_mutex_destroy(&dev->irq_lock);
        free(dev->name);
        free(dev);
        return NULL;
}

static bool pci_bar_slot_in_use(const PciDevice *dev, unsigned index)
{
        return dev->bars[index].type != PCI_BAR_NONE || dev->bars[index].upper_half;
}

int pci_device_add_bar(PciDevice *dev, unsigned index, PciBarType type, uint64_t size, bool prefetchable,
                       const IoOps *ops, void *opaque)
{
        uint64_t min, max, mask;
        uint32_t flags, reg;
        PciBar *bar;

        if (!dev || index >= PCI_NUM_BARS)
                return -EINVAL;
        if (dev->bus)
                return -EBUSY;

        switch (type) {
        case PCI_BAR_IO:
                if (prefetchable)
                        return -EINVAL;
                min = 4;
                max = 64 * KiB;
                flags = PCI_BASE_ADDRESS_SPACE_IO;
                break;
        case PCI_BAR_MEM32:
                min = 16;
                max = 2 * GiB;
                flags = PCI_BASE_ADDRESS_SPACE_MEMORY | PCI_BASE_ADDRESS_MEM_TYPE_32;
                break;
        case PCI_BAR_MEM64:
                if (index + 1 >= PCI_NUM_BARS)
                        return -EINVAL;
                min = 16;
                max = UINT64_C(1) << 63;
                flags = PCI_BASE_ADDRESS_SPACE_MEMORY | PCI_BASE_ADDRESS_MEM_TYPE_64;
                break;
        default:
                return -EINVAL;
        }
        if (prefetchable)
                flags |= PCI_BASE_ADDRESS_MEM_PREFETCH;
        if (!IS_POWER_OF_2(size) || size < min || size > max)
                return -EINVAL;
        if (pci_bar_slot_in_use(dev, index) ||
            (type == PCI_BAR_MEM64 && pci_bar_slot_in_use(dev, index + 1)))
                return -EEXIST;

        /* The address bits above the size are writable; sizing with all ones reads back ~(size - 1). */
        reg = PCI_BASE_ADDRESS_0 + 4 * index;
        mask = ~(size - 1);
        pci_config_put32(dev->config, reg, flags);
        pci_config_put32(dev->wmask, reg,
                         (uint32_t) mask & (type == PCI_BAR_IO ? ~UINT32_C(0x3) : ~UINT32_C(0xf)));
        if (type == PCI_BAR_MEM64) {
                pci_config_put32(dev->config, reg + 4, 0);
                pci_config_put32(dev->wmask, reg + 4, (uint32_t) (mask >> 32));
                dev->bars[index + 1].upper_half = true;
        }
        /* Only a device with an I/O (memory) BAR has a writable I/O (Memory) Space bit. */
        pci_config_put16(dev->wmask, PCI_COMMAND,
                         (uint16_t) (pci_get_le(dev->wmask + PCI_COMMAND, 2) |
                                     (type == PCI_BAR_IO ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY)));

        bar = &dev->bars[index];
        bar->type = type;
        bar->prefetchable = prefetchable;
        bar->size = size;
        bar->ops = ops;
        bar->opaque = opaque;
        (void) snprintf(bar->name, sizeof bar->name, "%s/bar%u", dev->name, index);
        return 0;
}

int pci_device_add_capability(PciDevice *dev, uint8_t id, const void *data, size_t len, uint16_t *ret_offset)
{
        uint32_t off;

        if (!dev || len < 2)
                return -EINVAL;
        if (dev->bus)
                return -EBUSY;

        off = ALIGN_UP((uint32_t) dev->cap_end, 4u);
        if (len > PCI_CFG_SPACE_SIZE || off + len > PCI_CFG_SPACE_SIZE)
                return -ENOSPC;

        if (data)
                memcpy(dev->config + off, data, len);
        else
                memset(dev->config + off, 0, len);
        dev->config[off] = id;
        dev->config[off + 1] = 0;
        memset(dev->wmask + off, 0, len);
        memset(dev->w1cmask + off, 0, len);

        if (dev->last_cap)
                dev->config[dev->last_cap + 1] = (uint8_t) off;
        else
                dev->config[PCI_CAPABILITY_LIST] = (uint8_t) off;
        pci_config_put16(dev->config, PCI_STATUS, pci_config_get16(dev, PCI_STATUS) | PCI_STATUS_CAP_LIST);
        dev->last_cap = (uint16_t) off;
        dev->cap_end = (uint16_t) (off + len);

        if (ret_offset)
                *ret_offset = (uint16_t) off;
        return 0;
}

int pci_device_add_vendor_capability(PciDevice *dev, const void *data, size_t len, uint16_t *ret_offset)
{
        uint16_t off;
        int r;

        if (len < 3 || len > UINT8_MAX)
                return -EINVAL;
        r = pci_device_add_capability(dev, PCI_CAP_ID_VNDR, data, len, &off);
        if (r < 0)
                return r;
        dev->config[off + PCI_CAP_FLAGS] = (uint8_t) len;
        if (ret_offset)
                *ret_offset = off;
        return 0;
}

int pci_device_set_wmask(PciDevice *dev, uint32_t offset, const uint8_t *mask, size_t len)
{
        if (!dev || !mask || offset > PCI_CONFIG_SIZE || len > PCI_CONFIG_SIZE - offset)
                return -EINVAL;
        if (dev->bus)
                return -EBUSY;
        memcpy(dev->wmask + offset, mask, len);
        return 0;
}

void pci_device_set_callbacks(PciDevice *dev, const PciDeviceCallbacks *cb, void *ctx)
{
        dev->cb = cb;
        dev->cb_ctx = ctx;
}

void pci_device_set_hooks(PciDevice *dev, const PciDeviceHooks *hooks, void *opaque)
{
        dev->hooks = hooks;
        dev->hooks_opaque = opaque;
}

int pci_device_config_get(const PciDevice *dev, uint32_t offset, void *data, size_t len)
{
        if (!dev || !data || offset > PCI_CONFIG_SIZE || len > PCI_CONFIG_SIZE - offset)
                return -EINVAL;
        memcpy(data, dev->config + offset, len);
        return 0;
}

int pci_device_config_set(PciDevice *dev, uint32_t offset, const void *data, size_t len)
{
        if (!dev || !data || offset > PCI_CONFIG_SIZE || len > PCI_CONFIG_SIZE - offset)
                return -EINVAL;
        memcpy(dev->config + offset, data, len);
        if (ranges_overlap(offset, (uint32_t) len, PCI_COMMAND, 2))
                __atomic_store_n(&dev->command, pci_config_get16(dev, PCI_COMMAND), __ATOMIC_RELEASE);
        return 0;
}

const char *pci_device_name(const PciDevice *dev)
{
        return dev->name;
}

int pci_device_slot(const PciDevice *dev)
{
        return dev->bus ? dev->slot : -ENODEV;
}

uint16_t pci_device_command(const PciDevice *dev)
{
        return __atomic_load_n(&dev->command, __ATOMIC_ACQUIRE);
}

uint64_t pci_bar_register_address(const PciDevice *dev, unsigned index)
{
        uint32_t reg = PCI_BASE_ADDRESS_0 + 4 * index;
        uint32_t lo = pci_config_get32(dev, reg);

        switch (dev->bars[index].type) {
        case PCI_BAR_IO:
                return lo & ~UINT32_C(0x3);
        case PCI_BAR_MEM32:
                return lo & ~UINT32_C(0xf);
        case PCI_BAR_MEM64:
                return (lo & ~UINT32_C(0xf)) | (uint64_t) pci_config_get32(dev, reg + 4) << 32;
        default:
                return PCI_BAR_UNMAPPED;
        }
}

void pci_bar_set_register_address(PciDevice *dev, unsigned index, uint64_t addr)
{
        const PciBar *bar = &dev->bars[index];
        uint32_t reg = PCI_BASE_ADDRESS_0 + 4 * index;
        uint32_t flag_bits = bar->type == PCI_BAR_IO ? 0x3 : 0xf;
        uint32_t lo = pci_config_get32(dev, reg);

        pci_config_put32(dev->config, reg, (lo & flag_bits) | ((uint32_t) addr & ~flag_bits));
        if (bar->type == PCI_BAR_MEM64)
                pci_config_put32(dev->config, reg + 4, (uint32_t) (addr >> 32));
}

uint64_t pci_device_bar_address(PciDevice *dev, unsigned bar)
{
        PciBus *bus;
        uint64_t addr;

        if (!dev || bar >= PCI_NUM_BARS)
                return PCI_BAR_UNMAPPED;
        bus = dev->bus;
        if (bus)
                pthread_mutex_lock(&bus->lock);
        addr = pci_bar_register_address(dev, bar);
        if (bus)
                pthread_mutex_unlock(&bus->lock);
        return addr;
}

bool pci_device_bar_mapped(PciDevice *dev, unsigned bar, uint64_t *ret_addr)
{
        PciBus *bus;
        bool mapped;
        uint64_t addr;

        if (!dev || bar >= PCI_NUM_BARS)
                return false;
        bus = dev->bus;
        if (!bus)
                return false;
        pthread_mutex_lock(&bus->lock);
        mapped = dev->bars[bar].mapped;
        addr = dev->bars[bar].mapped_addr;
        pthread_mutex_unlock(&bus->lock);
        if (mapped && ret_addr)
                *ret_addr = addr;
        return mapped;
}

/* Config space, as the guest sees it (bus lock held) */

void pci_device_config_read_locked(PciDevice *dev, uint32_t offset, uint8_t *data, uint32_t len)
{
        memcpy(data, dev->config + offset, len);

        /* Interrupt Status follows the device's INTx level, which changes without the bus lock. */
        if (ranges_overlap(offset, len, PCI_STATUS, 1)) {
                if (__atomic_load_n(&dev->intx_level, __ATOMIC_ACQUIRE))
                        data[PCI_STATUS - offset] |= PCI_STATUS_INTERRUPT;
                else
                        data[PCI_STATUS - offset] &= (uint8_t) ~PCI_STATUS_INTERRUPT;
        }

        if (dev->hooks && dev->hooks->config_read)
                dev->hooks->config_read(dev->hooks_opaque, dev, offset, data, len);
}

void pci_device_config_write_locked(PciDevice *dev, uint32_t offset, const uint8_t *data, uint32_t len)
{
        bool command;

        for (uint32_t i = 0; i < len; i++) {
                uint32_t o = offset + i;
                uint8_t v = (uint8_t) ((dev->config[o] & ~dev->wmask[o]) | (data[i] & dev->wmask[o]));
                dev->config[o] = (uint8_t) (v & ~(data[i] & dev->w1cmask[o]));
        }

        command = ranges_overlap(offset, len, PCI_COMMAND, 2);
        if (command) {
                __atomic_store_n(&dev->command, pci_config_get16(dev, PCI_COMMAND), __ATOMIC_RELEASE);
                pthread_mutex_lock(&dev->irq_lock);
                pci_device_update_intx_locked(dev);
                pthread_mutex_unlock(&dev->irq_lock);
        }

        if (dev->bus && (command || ranges_overlap(offset, len, PCI_BASE_ADDRESS_0, 4 * PCI_NUM_BARS)))
                pci_bus_update_mappings_locked(dev->bus);

        if (dev->msix && (command || ranges_overlap(offset, len, dev->msix->cap + PCI_MSIX_FLAGS, 2)))
                msix_config_changed_locked(dev);

        if (dev->hooks && dev->hooks->config_write)
                dev->hooks->config_write(dev->hooks_opaque, dev, offset, data, len);
}

void pci_device_set_status(PciDevice *dev, uint16_t bits)
{
        PciBus *bus = dev->bus;

        if (bus)
                pthread_mutex_lock(&bus->lock);
        pci_config_put16(dev->config, PCI_STATUS, pci_config_get16(dev, PCI_STATUS) | bits);
        if (bus)
                pthread_mutex_unlock(&bus->lock);
}

/* INTx */

void pci_device_update_intx_locked(PciDevice *dev)
{
        uint16_t cmd = __atomic_load_n(&dev->command, __ATOMIC_ACQUIRE);
        bool level = dev->intx_level && !(cmd & PCI_COMMAND_INTX_DISABLE) &&
                     !(dev->msix && dev->msix->enabled);

        if (level == dev->intx_asserted)
                return;
        dev->intx_asserted = level;
        if (dev->cb && dev->cb->intx)
                dev->cb->intx(dev->cb_ctx, level);
}

void pci_device_set_intx(PciDevice *dev, bool level)
{
        if (!dev || dev->config[PCI_INTERRUPT_PIN] == 0)
                return;
        pthread_mutex_lock(&dev->irq_lock);
        __atomic_store_n(&dev->intx_level, level, __ATOMIC_RELEASE);
        pci_device_update_intx_locked(dev);
        pthread_mutex_unlock(&dev->irq_lock);
}

/* BARs on the IoBuses */

static void pci_bar_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len)
{
        PciBar *bar = opaque;

        if (msix_contains(bar->dev, bar->index, offset, len))
                msix_bar_read(bar->dev, bar->index, offset, data, len);
        else if (bar->ops && bar->ops->read)
                bar->ops->read(bar->opaque, offset, data, len);
        else
                memset(data, 0, len);
}

static void pci_bar_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
        PciBar *bar = opaque;

        if (msix_contains(bar->dev, bar->index, offset, len))
                msix_bar_write(bar->dev, bar->index, offset, data, len);
        else if (bar->ops && bar->ops->write)
                bar->ops->write(bar->opaque, offset, data, len);
}

static const IoOps pci_bar_ops = {
        .read = pci_bar_read,
        .write = pci_bar_write,
};

/* Where the BAR should be registered now, if anywhere: decoding on and an address inside a window. */
static bool pci_bar_wanted(const PciBus *bus, const PciDevice *dev, const PciBar *bar, uint64_t *ret_addr)
{
        uint16_t cmd = pci_config_get16(dev, PCI_COMMAND);
        uint64_t addr = pci_bar_register_address(dev, bar->index);
        bool ok;

        switch (bar->type) {
        case PCI_BAR_IO:
                ok = (cmd & PCI_COMMAND_IO) && pci_allocator_contains(&bus->io, addr, bar->size);
                break;
        case PCI_BAR_MEM32:
        case PCI_BAR_MEM64:
                ok = (cmd & PCI_COMMAND_MEMORY) && (pci_allocator_contains(&bus->mem32, addr, bar->size) ||
                                                    pci_allocator_contains(&bus->mem64, addr, bar->size));
                break;
        default:
                return false;
        }
        if (!ok || addr == 0)
                return false;
        *ret_addr = addr;
        return true;
}

static IoBus *pci_bar_iobus(const PciBus *bus, const PciBar *bar)
{
        return bar->type == PCI_BAR_IO ? bus->pio : bus->mmio;
}

static void pci_bar_notify(PciDevice *dev, PciBar *bar)
{
        uint64_t now = bar->mapped ? bar->mapped_addr : PCI_BAR_UNMAPPED;

        if (now != bar->prev_addr && dev->cb && dev->cb->bar_moved)
                dev->cb->bar_moved(dev->cb_ctx, bar->index, bar->prev_addr, now, bar->mapped);
}

static void pci_bar_unmap(PciBus *bus, PciBar *bar)
{
        if (!bar->mapped)
                return;
        (void) iobus_unregister(pci_bar_iobus(bus, bar), bar->mapped_addr);
        bar->mapped = false;
        bar->mapped_addr = PCI_BAR_UNMAPPED;
}

void pci_bus_update_mappings_locked(PciBus *bus)
{
        uint64_t addr;

        /*
         * First take down every BAR that moved or stopped decoding, then map what should be mapped: two
         * BARs that trade places both end up mapped, and a BAR that could not be mapped because another
         * one was in the way gets mapped once that one moves.
         */
        for (unsigned s = 0; s < PCI_NUM_SLOTS; s++) {
                PciDevice *dev = bus->slots[s];
                if (!dev)
                        continue;
                for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
                        PciBar *bar = &dev->bars[i];
                        if (bar->type == PCI_BAR_NONE)
                                continue;
                        bar->prev_addr = bar->mapped ? bar->mapped_addr : PCI_BAR_UNMAPPED;
                        if (bar->mapped &&
                            (!pci_bar_wanted(bus, dev, bar, &addr) || addr != bar->mapped_addr))
                                pci_bar_unmap(bus, bar);
                }
        }

        for (unsigned s = 0; s < PCI_NUM_SLOTS; s++) {
                PciDevice *dev = bus->slots[s];
                if (!dev)
                        continue;
                for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
                        PciBar *bar = &dev->bars[i];
                        int r;

                        if (bar->type == PCI_BAR_NONE)
                                continue;
                        if (!bar->mapped && pci_bar_wanted(bus, dev, bar, &addr)) {
                                r = iobus_register(pci_bar_iobus(bus, bar), addr, bar->size, &pci_bar_ops,
                                                   bar, bar->name);
                                if (r >= 0) {
                                        bar->mapped = true;
                                        bar->mapped_addr = addr;
                                        bar->map_error_logged = false;
                                } else if (!bar->map_error_logged) {
                                        bar->map_error_logged = true;
                                        (void) log_debug_errno(r,
                                                               "PCI %s: cannot map BAR %u at 0x%" PRIx64
                                                               " (0x%" PRIx64 " bytes) on the %s bus, "
                                                               "leaving it unmapped: %m",
                                                               dev->name, i, addr, bar->size,
                                                               pci_bar_iobus(bus, bar)->name);
                                }
                        }
                        pci_bar_notify(dev, bar);
                }
        }
}

void pci_device_unmap_bars_locked(PciDevice *dev, bool notify)
{
        for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
                PciBar *bar = &dev->bars[i];
                if (bar->type == PCI_BAR_NONE)
                        continue;
                bar->prev_addr = bar->mapped ? bar->mapped_addr : PCI_BAR_UNMAPPED;
                pci_bar_unmap(dev->bus, bar);
                if (notify)
                        pci_bar_notify(dev, bar);
        }
}
