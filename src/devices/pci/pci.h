/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <linux/pci_regs.h>

#include "iobus.h"
#include "macro.h"

/*
 * PCI segment 0, bus 0: a host bridge in slot 0 and up to 31 single-function devices, each with a 4 KiB
 * configuration space, up to six BARs mapped on the VMM's IoBuses while the guest lets them decode, a
 * capability list and optionally MSI-X. Config space is reached through ECAM (pci_ecam_ops) and the
 * 0xCF8/0xCFC mechanism (pci_cf8_ops); both end up in pci_bus_config_read() / pci_bus_config_write().
 *
 * Nothing here talks to KVM: interrupts and BAR moves are reported to the integrator through the
 * callbacks of PciDeviceCallbacks.
 *
 * Locking
 *
 * Two kinds of lock, always taken in this order:
 *   1. the bus lock (one mutex per PciBus): config space of every device on the bus, BAR mappings, slots,
 *      the address allocators, and writes to MSI-X tables;
 *   2. the interrupt lock of each device: its MSI-X table, pending bits and INTx state.
 * A device's own BAR handlers (its IoOps) run with no lock of this library held.
 *
 * Callbacks and hooks run under these locks as follows, and must not call anything that takes a lock
 * they run under:
 *   - bar_moved, vector_changed: bus lock held (so they arrive in order), interrupt lock not held.
 *   - deliver: no lock held when it comes from msix_notify(); bus lock held when a guest write unmasks a
 *     vector whose pending bit was set.
 *   - intx: the device's interrupt lock held (so level changes arrive in order).
 *   - PciDeviceHooks (config_read, config_write): bus lock held.
 * So from bar_moved, vector_changed, deliver and the hooks, do not make config accesses
 * (pci_bus_config_*, the ECAM/CF8 ops), do not touch a BAR through the IoBus, and do not call the
 * functions marked "takes the bus lock" below. msix_notify(), msix_vector_get(), msix_is_enabled(),
 * pci_device_set_intx(), pci_device_command() and the raw pci_device_config_get()/set() are fine there
 * (the last two only from hooks). From intx, call nothing of this library for the same device.
 */

#define PCI_NUM_SLOTS 32
#define PCI_NUM_BARS 6
#define PCI_CONFIG_SIZE PCI_CFG_SPACE_EXP_SIZE

/* ECAM: bus << 20 | device << 15 | function << 12 | register, for buses 0-255. */
#define PCI_ECAM_SIZE (256 * MiB)
/* CONFIG_ADDRESS at 0xcf8, CONFIG_DATA at 0xcfc. */
#define PCI_CF8_PORT 0xcf8
#define PCI_CF8_LEN 8
#define PCI_CONFIG_ADDRESS_ENABLE 0x80000000u

/*
 * The host bridge in slot 0: Red Hat's 1b36:0008, listed as "PCIe host bridge" among the virtual device
 * ids Red Hat publishes (QEMU's docs/specs/pci-ids), a generic virtual host bridge that guests bind no
 * driver to. The alternative, 8086:0d57, sits under Intel's vendor id and is the id Cloud Hypervisor's
 * OVMF build looks for to recognise Cloud Hypervisor and assume its platform layout; chv should not
 * claim to be either. PciBusConfig can override both ids.
 */
#define PCI_HOST_BRIDGE_VENDOR_ID 0x1b36
#define PCI_HOST_BRIDGE_DEVICE_ID 0x0008
#define PCI_CLASS_CODE_HOST_BRIDGE 0x060000u

/* bar_moved()'s address when a BAR is not mapped. */
#define PCI_BAR_UNMAPPED UINT64_MAX

#define MSIX_MAX_VECTORS 2048

typedef struct PciBus PciBus;
typedef struct PciDevice PciDevice;

typedef enum PciBarType {
        PCI_BAR_NONE,
        PCI_BAR_IO,
        PCI_BAR_MEM32,
        PCI_BAR_MEM64, /* takes two BAR slots: index and index + 1 */
} PciBarType;

typedef struct PciDeviceInfo {
        uint16_t vendor_id, device_id;
        uint16_t subsystem_vendor_id, subsystem_id;
        uint32_t class_code; /* base class << 16 | sub-class << 8 | programming interface */
        uint8_t revision;
        uint8_t interrupt_pin; /* 0: no INTx, 1-4: INTA#-INTD# */
        uint8_t interrupt_line; /* initial value of the (guest-writable) Interrupt Line register */
} PciDeviceInfo;

/* What the integrator (the code that owns the VM) learns from a device. Every member is optional. */
typedef struct PciDeviceCallbacks {
        /* Send this MSI: the vector fired while MSI-X was enabled and the vector unmasked. */
        void (*deliver)(void *ctx, uint16_t vector, uint64_t addr, uint32_t data);
        /*
         * The table entry of vector, or whether it may deliver, changed. masked is true when a message
         * for it would not be sent now: MSI-X disabled, function mask set, Bus Master Enable clear, or
         * the entry's mask bit set. Called for every vector when MSI-X Enable or Function Mask change.
         */
        void (*vector_changed)(void *ctx, uint16_t vector, uint64_t addr, uint32_t data, bool masked);
        /*
         * BAR bar is now registered on its IoBus at new_addr (mapped true), or no longer registered
         * anywhere (mapped false, new_addr PCI_BAR_UNMAPPED). old_addr is where it was registered before,
         * or PCI_BAR_UNMAPPED.
         */
        void (*bar_moved)(void *ctx, unsigned bar, uint64_t old_addr, uint64_t new_addr, bool mapped);
        /* Drive the INTx line of the device (already gated by INTx Disable and MSI-X Enable). */
        void (*intx)(void *ctx, bool level);
} PciDeviceCallbacks;

/* What a device model may do on guest config accesses. Both optional; both run under the bus lock. */
typedef struct PciDeviceHooks {
        /* After data was filled from config space: may replace it. */
        void (*config_read)(void *opaque, PciDevice *dev, uint32_t offset, uint8_t *data, uint32_t len);
        /* After the write went through the write masks. */
        void (*config_write)(void *opaque, PciDevice *dev, uint32_t offset, const uint8_t *data,
                             uint32_t len);
} PciDeviceHooks;

/* Devices */

int pci_device_new(const char *name, const PciDeviceInfo *info, PciDevice **ret);
/* Removes the device from its bus first if it is on one (takes the bus lock). Returns NULL. */
PciDevice *pci_device_free(PciDevice *dev);
DEFINE_TRIVIAL_CLEANUP_FUNC(PciDevice *, pci_device_free);

/*
 * The following set the device up and must be called before it is added to a bus (-EBUSY after).
 *
 * A BAR of a power-of-two size: I/O from 4 bytes to 64 KiB, memory from 16 bytes to 2 GiB (32-bit) or
 * 2^63 (64-bit, which also takes slot index + 1). ops/opaque handle accesses with the offset inside the
 * BAR; both may be NULL (a BAR holding only an MSI-X table, say). -EINVAL for a bad index, size or
 * combination, -EEXIST when the slot is taken.
 */
int pci_device_add_bar(PciDevice *dev, unsigned index, PciBarType type, uint64_t size, bool prefetchable,
                       const IoOps *ops, void *opaque);
/*
 * Appends a capability to the list (from 0x34), at the next dword-aligned offset from 0x40. data holds
 * the whole capability, len bytes including the two header bytes, which are overwritten with id and the
 * next pointer; data may be NULL for an all-zero body. The bytes are read-only to the guest until
 * pci_device_set_wmask() says otherwise. -ENOSPC when it does not fit below 0x100.
 */
int pci_device_add_capability(PciDevice *dev, uint8_t id, const void *data, size_t len,
                              uint16_t *ret_offset);
/* A vendor-specific capability (id 0x09): as above, and byte 2 is set to len. 3 <= len <= 255. */
int pci_device_add_vendor_capability(PciDevice *dev, const void *data, size_t len, uint16_t *ret_offset);
/* Which bits of config bytes [offset, offset + len) the guest may write. */
int pci_device_set_wmask(PciDevice *dev, uint32_t offset, const uint8_t *mask, size_t len);
/* Not checked, but the same rule: set these before the device is added to a bus. */
void pci_device_set_callbacks(PciDevice *dev, const PciDeviceCallbacks *cb, void *ctx);
void pci_device_set_hooks(PciDevice *dev, const PciDeviceHooks *hooks, void *opaque);

/*
 * Raw config space access for the device model, bypassing the write masks and taking no lock: before
 * the device is on a bus, or from its hooks. -EINVAL when the range is outside config space.
 */
int pci_device_config_get(const PciDevice *dev, uint32_t offset, void *data, size_t len);
int pci_device_config_set(PciDevice *dev, uint32_t offset, const void *data, size_t len);

const char *pci_device_name(const PciDevice *dev);
/* The slot on bus 0, or -ENODEV when not on a bus. */
int pci_device_slot(const PciDevice *dev);
/* The Command register as the guest last wrote it. Lock-free. */
uint16_t pci_device_command(const PciDevice *dev);
static inline bool pci_device_bus_master(const PciDevice *dev)
{
        return pci_device_command(dev) & PCI_COMMAND_MASTER;
}
/* The address in the BAR register (takes the bus lock); PCI_BAR_UNMAPPED when not implemented. */
uint64_t pci_device_bar_address(PciDevice *dev, unsigned bar);
/* Whether the BAR is registered on its IoBus, and where (takes the bus lock). */
bool pci_device_bar_mapped(PciDevice *dev, unsigned bar, uint64_t *ret_addr);
/* Sets the device's INTx level; the line follows it unless INTx Disable or MSI-X Enable is set. */
void pci_device_set_intx(PciDevice *dev, bool level);
/* Sets Status bits the device reports (errors, write-1-to-clear for the guest). Takes the bus lock. */
void pci_device_set_status(PciDevice *dev, uint16_t bits);

/* MSI-X */

/*
 * Adds the MSI-X capability with n_vectors (1-2048) vectors, the table at table_offset in BAR
 * table_bar and the pending bit array at pba_offset in BAR pba_bar; both offsets 8-byte aligned, both
 * regions inside their (memory) BARs, not overlapping. The library handles guest accesses to both
 * regions; the device's IoOps see the rest of the BAR. Before the device is added to a bus.
 */
int msix_init(PciDevice *dev, uint16_t n_vectors, unsigned table_bar, uint32_t table_offset,
              unsigned pba_bar, uint32_t pba_offset, uint16_t *ret_cap_offset);
/* Bytes the table and the PBA take in their BARs. */
static inline uint32_t msix_table_size(uint16_t n_vectors)
{
        return (uint32_t) n_vectors * PCI_MSIX_ENTRY_SIZE;
}
static inline uint32_t msix_pba_size(uint16_t n_vectors)
{
        return ((uint32_t) n_vectors + 63) / 64 * 8;
}

typedef enum MsixNotifyResult {
        MSIX_NOTIFY_DELIVERED, /* deliver() was called */
        MSIX_NOTIFY_PENDING,   /* masked: the pending bit is set, delivery follows the unmask */
        MSIX_NOTIFY_DISABLED,  /* MSI-X is not enabled: nothing sent (use INTx if the device has it) */
} MsixNotifyResult;

/* The device raises vector. Returns a MsixNotifyResult, or -EINVAL (no MSI-X, vector out of range). */
int msix_notify(PciDevice *dev, uint16_t vector);
/* The table entry of vector and whether it is masked in the sense of vector_changed(). */
int msix_vector_get(PciDevice *dev, uint16_t vector, uint64_t *ret_addr, uint32_t *ret_data,
                    bool *ret_masked);
bool msix_vector_pending(PciDevice *dev, uint16_t vector);
bool msix_is_enabled(PciDevice *dev);
uint16_t msix_n_vectors(const PciDevice *dev);

/* The bus */

typedef struct PciWindow {
        uint64_t base, size; /* size 0: no such window */
} PciWindow;

typedef struct PciBusConfig {
        IoBus *mmio, *pio;
        /*
         * Where BARs get their initial addresses, and where the guest may put them: a BAR is mapped only
         * when it lies entirely inside a window of its kind (I/O; memory: either memory window, below
         * 4 GiB for a 32-bit BAR). 64-bit BARs go to mem64 first, then mem32.
         */
        PciWindow io, mem32, mem64;
        /* Host bridge ids; 0 for PCI_HOST_BRIDGE_VENDOR_ID / PCI_HOST_BRIDGE_DEVICE_ID. */
        uint16_t host_bridge_vendor_id, host_bridge_device_id;
        /*
         * Byte and word accesses to 0xcf8-0xcfb are not CONFIG_ADDRESS accesses but ordinary I/O (the
         * reset control register at 0xcf9 on PC chipsets, for instance). They go here, with the offset
         * from 0xcf8, when set; otherwise reads return all ones and writes are dropped.
         */
        const IoOps *cf8_passthrough_ops;
        void *cf8_passthrough_opaque;
} PciBusConfig;

int pci_bus_new(const PciBusConfig *config, PciBus **ret);
/* Devices still on the bus are detached (BARs unregistered, no callbacks) but not freed. Returns NULL. */
PciBus *pci_bus_free(PciBus *bus);
DEFINE_TRIVIAL_CLEANUP_FUNC(PciBus *, pci_bus_free);

/*
 * Puts dev in slot (1-31), or the first free slot when slot is negative, and gives each BAR an address
 * from the windows, naturally aligned (what firmware would do; decoding stays off until the guest
 * enables it). The bus does not take ownership. -EINVAL for slot 0 or >= 32, -EEXIST when taken,
 * -EBUSY when dev is on a bus already, -ENOSPC when no slot or no address is left. Takes the bus lock.
 */
int pci_bus_add_device(PciBus *bus, PciDevice *dev, int slot, unsigned *ret_slot);
/*
 * A platform reset: every device's config space goes back to what it was when the device was added
 * (Command cleared, so every BAR is unmapped with bar_moved called, BARs at their first addresses), its
 * MSI-X table back to all masked with nothing pending (vector_changed called), INTx deasserted. Device
 * models reset their own state. Takes the bus lock.
 */
void pci_bus_reset(PciBus *bus);
/* Unmaps its BARs (bar_moved called) and frees its addresses. Takes the bus lock. */
int pci_bus_remove_device(PciBus *bus, PciDevice *dev);
/* Takes the bus lock. */
PciDevice *pci_bus_get_device(PciBus *bus, unsigned slot);
PciDevice *pci_bus_host_bridge(PciBus *bus);

/*
 * Configuration access of len bytes (1, 2 or 4) at offset, staying within one dword (so any naturally
 * aligned access). Absent devices, bus != 0, function != 0 and malformed accesses read all ones and
 * ignore writes; data always gets len bytes on reads. Takes the bus lock.
 */
void pci_bus_config_read(PciBus *bus, uint32_t busnum, uint32_t devnum, uint32_t fn, uint32_t offset,
                         uint8_t *data, uint32_t len);
void pci_bus_config_write(PciBus *bus, uint32_t busnum, uint32_t devnum, uint32_t fn, uint32_t offset,
                          const uint8_t *data, uint32_t len);

/* Register these with the PciBus as opaque: PCI_ECAM_SIZE bytes of MMIO, PCI_CF8_LEN ports at 0xcf8. */
extern const IoOps pci_ecam_ops;
extern const IoOps pci_cf8_ops;
