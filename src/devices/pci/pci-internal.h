/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <pthread.h>

#include "pci.h"

/* First-fit allocator of naturally aligned ranges inside one window. */
typedef struct PciRange {
        uint64_t base, size;
} PciRange;

typedef struct PciAllocator {
        const char *name;
        uint64_t base, size;
        PciRange *used; /* sorted by base */
        size_t n_used, n_allocated;
} PciAllocator;

void pci_allocator_init(PciAllocator *a, const char *name, uint64_t base, uint64_t size);
void pci_allocator_done(PciAllocator *a);
/* -ENOSPC when no aligned gap of size is left, -EINVAL for a zero size or an alignment not a power of 2. */
int pci_allocator_alloc(PciAllocator *a, uint64_t size, uint64_t align, uint64_t *ret);
int pci_allocator_free(PciAllocator *a, uint64_t base);
/* Whether [addr, addr + size) lies inside the window. */
bool pci_allocator_contains(const PciAllocator *a, uint64_t addr, uint64_t size);

typedef struct PciBar {
        PciDevice *dev;
        uint8_t index;
        PciBarType type; /* PCI_BAR_NONE for an unused slot and for the upper half of a 64-bit BAR */
        bool upper_half;
        bool prefetchable;
        uint64_t size;
        const IoOps *ops;
        void *opaque;
        char name[48];

        /* Guarded by the bus lock. */
        bool mapped;
        uint64_t mapped_addr;
        uint64_t prev_addr;     /* where it was mapped before the current update pass */
        bool map_error_logged;  /* reset once it maps again */
        PciAllocator *alloc_from;
        uint64_t alloc_addr;
} PciBar;

typedef struct MsixEntry {
        uint32_t addr_lo, addr_hi, data, ctrl;
} MsixEntry;

typedef struct Msix {
        uint16_t cap;
        uint16_t n_vectors;
        uint8_t table_bar, pba_bar;
        uint32_t table_offset, pba_offset;
        /*
         * Written with both the bus lock and the interrupt lock held, so either lock is enough to read
         * them; the pending bits are written under the interrupt lock alone and read under it.
         */
        MsixEntry *table;
        uint64_t *pba;
        bool enabled, function_masked, bus_master;
} Msix;

struct PciDevice {
        char *name;
        PciBus *bus; /* NULL when not on a bus */
        uint8_t slot;

        uint8_t config[PCI_CONFIG_SIZE];
        uint8_t config_initial[PCI_CONFIG_SIZE]; /* as added to the bus, for pci_bus_reset() */
        uint8_t wmask[PCI_CONFIG_SIZE];
        uint8_t w1cmask[PCI_CONFIG_SIZE];
        uint16_t last_cap, cap_end;

        PciBar bars[PCI_NUM_BARS];

        const PciDeviceCallbacks *cb;
        void *cb_ctx;
        const PciDeviceHooks *hooks;
        void *hooks_opaque;

        /* Interrupt state: MSI-X table and pending bits, INTx. */
        pthread_mutex_t irq_lock;
        Msix *msix;
        bool intx_level;    /* what the device says; read lock-free for the Status register */
        bool intx_asserted; /* what the line was last driven to */
        uint16_t command;   /* shadow of the Command register, read lock-free */
};

struct PciBus {
        pthread_mutex_t lock;
        IoBus *mmio, *pio;
        PciDevice *slots[PCI_NUM_SLOTS];
        PciDevice *host_bridge;
        PciAllocator io, mem32, mem64;
        const IoOps *cf8_passthrough_ops;
        void *cf8_passthrough_opaque;
        uint32_t config_address; /* CONFIG_ADDRESS latch, accessed atomically */
};

/* pci-device.c, with the bus lock held */
void pci_device_config_read_locked(PciDevice *dev, uint32_t offset, uint8_t *data, uint32_t len);
void pci_device_config_write_locked(PciDevice *dev, uint32_t offset, const uint8_t *data, uint32_t len);
uint64_t pci_bar_register_address(const PciDevice *dev, unsigned index);
void pci_bar_set_register_address(PciDevice *dev, unsigned index, uint64_t addr);
/* Brings the IoBus registrations of every BAR on the bus in line with config space. */
void pci_bus_update_mappings_locked(PciBus *bus);
void pci_device_unmap_bars_locked(PciDevice *dev, bool notify);
void pci_device_update_intx_locked(PciDevice *dev); /* interrupt lock held */

/* msix.c */
bool msix_contains(const PciDevice *dev, unsigned bar, uint64_t offset, uint32_t len);
void msix_bar_read(PciDevice *dev, unsigned bar, uint64_t offset, uint8_t *data, uint32_t len);
void msix_bar_write(PciDevice *dev, unsigned bar, uint64_t offset, const uint8_t *data, uint32_t len);
/* After a config write that may have changed MSI-X Enable, Function Mask or Bus Master Enable. */
void msix_config_changed_locked(PciDevice *dev);
void msix_free(Msix *m);
/* Every vector masked, nothing pending; the caller then runs msix_config_changed_locked(). */
void msix_reset_locked(PciDevice *dev);

static inline uint32_t pci_get_le(const uint8_t *p, uint32_t len)
{
        uint32_t v = 0;
        for (uint32_t i = 0; i < len; i++)
                v |= (uint32_t) p[i] << (8 * i);
        return v;
}

static inline void pci_put_le(uint8_t *p, uint32_t v, uint32_t len)
{
        for (uint32_t i = 0; i < len; i++)
                p[i] = (uint8_t) (v >> (8 * i));
}

static inline uint16_t pci_config_get16(const PciDevice *dev, uint32_t offset)
{
        return (uint16_t) pci_get_le(dev->config + offset, 2);
}

static inline uint32_t pci_config_get32(const PciDevice *dev, uint32_t offset)
{
        return pci_get_le(dev->config + offset, 4);
}

static inline void pci_config_put16(uint8_t *space, uint32_t offset, uint16_t v)
{
        pci_put_le(space + offset, v, 2);
}

static inline void pci_config_put32(uint8_t *space, uint32_t offset, uint32_t v)
{
        pci_put_le(space + offset, v, 4);
}
