/* SPDX-License-Identifier: Apache-2.0 */
#include "pci-test.h"

static TestBus t;

static void setup(void)
{
        test_bus_init(&t);
}

static void teardown(void)
{
        test_bus_done(&t);
}

TestSuite(pci_config, .init = setup, .fini = teardown);

static PciDevice *add_device(int slot)
{
        PciDevice *dev = test_device_new("dev", 0x1042);
        cr_assert(eq(int, pci_bus_add_device(t.bus, dev, slot, NULL), 0));
        return dev;
}

Test(pci_config, absent_devices_read_all_ones)
{
        for (unsigned slot = 1; slot < PCI_NUM_SLOTS; slot++) {
                cr_assert(eq(u32, cfg_read32(t.bus, slot, PCI_VENDOR_ID), 0xffffffff));
                cr_assert(eq(u16, cfg_read16(t.bus, slot, PCI_DEVICE_ID), 0xffff));
                cr_assert(eq(u8, cfg_read8(t.bus, slot, PCI_HEADER_TYPE), 0xff));
        }
        /* Writes to nobody go nowhere. */
        cfg_write32(t.bus, 7, PCI_COMMAND, 0xffffffff);
        cr_assert(eq(u32, cfg_read32(t.bus, 7, PCI_COMMAND), 0xffffffff));
}

Test(pci_config, other_buses_and_functions_read_all_ones)
{
        PciDevice *dev = add_device(3);
        uint8_t b[4];

        for (uint32_t fn = 1; fn < 8; fn++) {
                pci_bus_config_read(t.bus, 0, 3, fn, 0, b, 4);
                cr_assert(eq(u32, b[0] & b[1] & b[2] & b[3], 0xff));
        }
        for (uint32_t busnum = 1; busnum < 256; busnum += 17) {
                pci_bus_config_read(t.bus, busnum, 0, 0, 0, b, 4);
                cr_assert(eq(u32, b[0] & b[1] & b[2] & b[3], 0xff));
                pci_bus_config_read(t.bus, busnum, 3, 0, 0, b, 4);
                cr_assert(eq(u32, b[0] & b[1] & b[2] & b[3], 0xff));
        }
        /* ... and writes there do not reach function 0 of bus 0. */
        pci_bus_config_write(t.bus, 1, 3, 0, PCI_INTERRUPT_LINE, (const uint8_t[]) { 0x77 }, 1);
        pci_bus_config_write(t.bus, 0, 3, 1, PCI_INTERRUPT_LINE, (const uint8_t[]) { 0x77 }, 1);
        cr_assert(eq(u8, cfg_read8(t.bus, 3, PCI_INTERRUPT_LINE), 5));
        pci_device_free(dev);
}

Test(pci_config, host_bridge)
{
        PciDevice *hb = pci_bus_host_bridge(t.bus);

        cr_assert(eq(ptr, pci_bus_get_device(t.bus, 0), hb));
        cr_assert(eq(int, pci_device_slot(hb), 0));
        cr_assert(eq(u16, cfg_read16(t.bus, 0, PCI_VENDOR_ID), PCI_HOST_BRIDGE_VENDOR_ID));
        cr_assert(eq(u16, cfg_read16(t.bus, 0, PCI_DEVICE_ID), PCI_HOST_BRIDGE_DEVICE_ID));
        cr_assert(eq(u32, cfg_read32(t.bus, 0, PCI_CLASS_REVISION), 0x06000000));
        cr_assert(eq(u8, cfg_read8(t.bus, 0, PCI_HEADER_TYPE), 0));
        for (unsigned i = 0; i < PCI_NUM_BARS; i++)
                cr_assert(eq(u32, cfg_read32(t.bus, 0, PCI_BASE_ADDRESS_0 + 4 * i), 0));
        /* No BARs: the decode bits are hardwired to 0. */
        cfg_write16(t.bus, 0, PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
        cr_assert(eq(u16, cfg_read16(t.bus, 0, PCI_COMMAND), 0));
        cr_assert(eq(int, pci_bus_remove_device(t.bus, hb), -EPERM));
}

Test(pci_config, host_bridge_ids_configurable)
{
        IoBus mmio, pio;
        PciBus *bus;
        PciBusConfig config = { .mmio = &mmio, .pio = &pio, .host_bridge_vendor_id = 0x8086,
                                .host_bridge_device_id = 0x0d57 };

        iobus_init(&mmio, "mmio");
        iobus_init(&pio, "pio");
        cr_assert(eq(int, pci_bus_new(&config, &bus), 0));
        cr_assert(eq(u32, cfg_read32(bus, 0, PCI_VENDOR_ID), 0x0d578086));
        pci_bus_free(bus);
        iobus_done(&mmio);
        iobus_done(&pio);
        cr_assert(eq(int, pci_bus_new(NULL, &bus), -EINVAL));
}

Test(pci_config, header_fields)
{
        PciDevice *dev = add_device(4);

        cr_assert(eq(u16, cfg_read16(t.bus, 4, PCI_VENDOR_ID), 0x1af4));
        cr_assert(eq(u16, cfg_read16(t.bus, 4, PCI_DEVICE_ID), 0x1042));
        cr_assert(eq(u32, cfg_read32(t.bus, 4, PCI_VENDOR_ID), 0x10421af4));
        cr_assert(eq(u8, cfg_read8(t.bus, 4, PCI_REVISION_ID), 1));
        cr_assert(eq(u8, cfg_read8(t.bus, 4, PCI_CLASS_PROG), 0x00));
        cr_assert(eq(u16, cfg_read16(t.bus, 4, PCI_CLASS_DEVICE), 0x0180));
        cr_assert(eq(u32, cfg_read32(t.bus, 4, PCI_CLASS_REVISION), 0x01800001));
        cr_assert(eq(u8, cfg_read8(t.bus, 4, PCI_HEADER_TYPE), PCI_HEADER_TYPE_NORMAL));
        cr_assert(eq(u16, cfg_read16(t.bus, 4, PCI_SUBSYSTEM_VENDOR_ID), 0x1af4));
        cr_assert(eq(u16, cfg_read16(t.bus, 4, PCI_SUBSYSTEM_ID), 0x0042));
        cr_assert(eq(u8, cfg_read8(t.bus, 4, PCI_INTERRUPT_PIN), 1));
        cr_assert(eq(u8, cfg_read8(t.bus, 4, PCI_INTERRUPT_LINE), 5));
        cr_assert(eq(u16, cfg_read16(t.bus, 4, PCI_COMMAND), 0));
        cr_assert(eq(u16, cfg_read16(t.bus, 4, PCI_STATUS), 0));
        cr_assert(eq(u8, cfg_read8(t.bus, 4, PCI_CAPABILITY_LIST), 0));
        cr_assert(eq(u32, cfg_read32(t.bus, 4, PCI_ROM_ADDRESS), 0));
        /* Byte and word reads agree with dword reads at every offset of the header. */
        for (uint32_t off = 0; off < 64; off += 4) {
                uint32_t d = cfg_read32(t.bus, 4, off);
                uint32_t halves = cfg_read16(t.bus, 4, off) | (uint32_t) cfg_read16(t.bus, 4, off + 2) << 16;
                cr_assert(eq(u32, halves, d));
                for (uint32_t b = 0; b < 4; b++)
                        cr_assert(eq(u8, cfg_read8(t.bus, 4, off + b), (uint8_t) (d >> (8 * b))));
        }
        /* The extended space exists and reads 0 (no extended capabilities). */
        cr_assert(eq(u32, cfg_read32(t.bus, 4, 0x100), 0));
        cr_assert(eq(u32, cfg_read32(t.bus, 4, 0xffc), 0));
        pci_device_free(dev);
}

Test(pci_config, read_only_fields_stay_read_only)
{
        PciDevice *dev = add_device(2);
        uint8_t before[256], after[256];

        for (uint32_t off = 0; off < 256; off++)
                before[off] = cfg_read8(t.bus, 2, off);
        /* Hammer every byte with all ones, then all zeroes, in every access size. */
        for (uint32_t len = 1; len <= 4; len *= 2)
                for (uint32_t off = 0; off < 256; off += len) {
                        if (off >= PCI_COMMAND && off < PCI_COMMAND + 4)
                                continue; /* the command and status registers are checked below */
                        cfg_write(t.bus, 2, off, len, 0xffffffff);
                        cfg_write(t.bus, 2, off, len, 0);
                }
        for (uint32_t off = 0; off < 256; off++)
                after[off] = cfg_read8(t.bus, 2, off);
        for (uint32_t off = 0; off < 256; off++) {
                if (off == PCI_INTERRUPT_LINE || off == PCI_CACHE_LINE_SIZE)
                        continue; /* read-write scratch registers */
                cr_assert(eq(u8, after[off], before[off]), "byte 0x%x changed", off);
        }
        cr_assert(eq(u8, after[PCI_INTERRUPT_LINE], 0));

        cfg_write8(t.bus, 2, PCI_INTERRUPT_LINE, 11);
        cr_assert(eq(u8, cfg_read8(t.bus, 2, PCI_INTERRUPT_LINE), 11));
        cfg_write8(t.bus, 2, PCI_CACHE_LINE_SIZE, 0x10);
        cr_assert(eq(u8, cfg_read8(t.bus, 2, PCI_CACHE_LINE_SIZE), 0x10));
        /* Latency timer is hardwired (PCIe), as are the ids, the pin and the header type. */
        cfg_write32(t.bus, 2, PCI_CACHE_LINE_SIZE, 0xffffffff);
        cr_assert(eq(u32, cfg_read32(t.bus, 2, PCI_CACHE_LINE_SIZE), 0x000000ff));
        cfg_write32(t.bus, 2, PCI_VENDOR_ID, 0);
        cr_assert(eq(u32, cfg_read32(t.bus, 2, PCI_VENDOR_ID), 0x10421af4));
        pci_device_free(dev);
}

Test(pci_config, command_register_writable_bits)
{
        PciDevice *mem_only = test_device_new("mem", 0x1041), *both = test_device_new("both", 0x1042);

        cr_assert(eq(int, pci_device_add_bar(mem_only, 0, PCI_BAR_MEM32, 4096, false, NULL, NULL), 0));
        cr_assert(eq(int, pci_device_add_bar(both, 0, PCI_BAR_IO, 32, false, NULL, NULL), 0));
        cr_assert(eq(int, pci_device_add_bar(both, 1, PCI_BAR_MEM32, 4096, false, NULL, NULL), 0));
        cr_assert(eq(int, pci_bus_add_device(t.bus, mem_only, 1, NULL), 0));
        cr_assert(eq(int, pci_bus_add_device(t.bus, both, 2, NULL), 0));

        cfg_write16(t.bus, 1, PCI_COMMAND, 0xffff);
        cr_assert(eq(u16, cfg_read16(t.bus, 1, PCI_COMMAND),
                     PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_PARITY | PCI_COMMAND_SERR |
                             PCI_COMMAND_INTX_DISABLE));
        cfg_write16(t.bus, 2, PCI_COMMAND, 0xffff);
        cr_assert(eq(u16, cfg_read16(t.bus, 2, PCI_COMMAND),
                     PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_PARITY |
                             PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE));
        cr_assert(eq(u16, pci_device_command(both), cfg_read16(t.bus, 2, PCI_COMMAND)));
        cr_assert(pci_device_bus_master(both));
        /* A byte write to the high half leaves the low half alone. */
        cfg_write8(t.bus, 2, PCI_COMMAND + 1, 0);
        cr_assert(eq(u16, cfg_read16(t.bus, 2, PCI_COMMAND),
                     PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_PARITY));
        cfg_write16(t.bus, 2, PCI_COMMAND, 0);
        cr_assert(not(pci_device_bus_master(both)));
        pci_device_free(mem_only);
        pci_device_free(both);
}

Test(pci_config, status_write_one_to_clear)
{
        PciDevice *dev = add_device(6);
        uint16_t errors = PCI_STATUS_PARITY | PCI_STATUS_SIG_TARGET_ABORT | PCI_STATUS_REC_TARGET_ABORT |
                          PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_SIG_SYSTEM_ERROR |
                          PCI_STATUS_DETECTED_PARITY;

        pci_device_set_status(dev, errors);
        cr_assert(eq(u16, cfg_read16(t.bus, 6, PCI_STATUS), errors));
        /* Writing 0 changes nothing; writing 1 clears exactly that bit. */
        cfg_write16(t.bus, 6, PCI_STATUS, 0);
        cr_assert(eq(u16, cfg_read16(t.bus, 6, PCI_STATUS), errors));
        cfg_write16(t.bus, 6, PCI_STATUS, PCI_STATUS_REC_MASTER_ABORT);
        cr_assert(eq(u16, cfg_read16(t.bus, 6, PCI_STATUS), errors & ~PCI_STATUS_REC_MASTER_ABORT));
        /* A dword write to Command with Status bits set clears them too (the usual read-modify-write). */
        cfg_write32(t.bus, 6, PCI_COMMAND, (uint32_t) PCI_STATUS_PARITY << 16);
        cr_assert(eq(u16, cfg_read16(t.bus, 6, PCI_STATUS),
                     errors & ~(PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_PARITY)));
        /* Read-only status bits cannot be set or cleared by the guest. */
        cfg_write16(t.bus, 6, PCI_STATUS, 0xffff);
        cr_assert(eq(u16, cfg_read16(t.bus, 6, PCI_STATUS), 0));
        pci_device_free(dev);
}

Test(pci_config, interrupt_status_bit_follows_intx)
{
        PciDevice *dev = add_device(5);

        cr_assert(eq(u16, cfg_read16(t.bus, 5, PCI_STATUS) & PCI_STATUS_INTERRUPT, 0));
        pci_device_set_intx(dev, true);
        cr_assert(eq(u16, cfg_read16(t.bus, 5, PCI_STATUS) & PCI_STATUS_INTERRUPT, PCI_STATUS_INTERRUPT));
        cr_assert(eq(u8, cfg_read8(t.bus, 5, PCI_STATUS) & PCI_STATUS_INTERRUPT, PCI_STATUS_INTERRUPT));
        /* The guest cannot clear it; INTx Disable does not hide it either. */
        cfg_write16(t.bus, 5, PCI_STATUS, 0xffff);
        cfg_write16(t.bus, 5, PCI_COMMAND, PCI_COMMAND_INTX_DISABLE);
        cr_assert(eq(u16, cfg_read16(t.bus, 5, PCI_STATUS) & PCI_STATUS_INTERRUPT, PCI_STATUS_INTERRUPT));
        pci_device_set_intx(dev, false);
        cr_assert(eq(u16, cfg_read16(t.bus, 5, PCI_STATUS) & PCI_STATUS_INTERRUPT, 0));
        pci_device_free(dev);
}

Test(pci_config, intx_disable_gates_the_line)
{
        static Recorder rec;
        PciDevice *dev = test_device_new("intx", 0x1042);

        pci_device_set_callbacks(dev, &rec_callbacks, &rec);
        cr_assert(eq(int, pci_bus_add_device(t.bus, dev, 9, NULL), 0));

        pci_device_set_intx(dev, true);
        cr_assert(eq(uint, rec_count(&rec, 'i'), 1));
        cr_assert(rec_last(&rec, 'i')->flag);
        pci_device_set_intx(dev, true); /* no change, no call */
        cr_assert(eq(uint, rec_count(&rec, 'i'), 1));

        cfg_write16(t.bus, 9, PCI_COMMAND, PCI_COMMAND_INTX_DISABLE);
        cr_assert(eq(uint, rec_count(&rec, 'i'), 2));
        cr_assert(not(rec_last(&rec, 'i')->flag));
        pci_device_set_intx(dev, false);
        pci_device_set_intx(dev, true);
        cr_assert(eq(uint, rec_count(&rec, 'i'), 2));
        cfg_write16(t.bus, 9, PCI_COMMAND, 0);
        cr_assert(eq(uint, rec_count(&rec, 'i'), 3));
        cr_assert(rec_last(&rec, 'i')->flag);
        pci_device_set_intx(dev, false);
        cr_assert(eq(uint, rec_count(&rec, 'i'), 4));
        cr_assert(not(rec_last(&rec, 'i')->flag));
        pci_device_free(dev);
}

Test(pci_config, no_interrupt_pin_no_intx)
{
        static Recorder rec;
        PciDeviceInfo info = { .vendor_id = 0x1af4, .device_id = 0x1044 };
        PciDevice *dev;

        cr_assert(eq(int, pci_device_new("nopin", &info, &dev), 0));
        pci_device_set_callbacks(dev, &rec_callbacks, &rec);
        cr_assert(eq(int, pci_bus_add_device(t.bus, dev, -1, NULL), 0));
        pci_device_set_intx(dev, true);
        cr_assert(eq(uint, rec.n, 0));
        cr_assert(eq(u16, cfg_read16(t.bus, 1, PCI_STATUS), 0));
        pci_device_free(dev);

        info.interrupt_pin = 5;
        cr_assert(eq(int, pci_device_new("badpin", &info, &dev), -EINVAL));
}

/* Follows the capability list from 0x34 the way a guest does; returns the number of entries. */
static unsigned walk_capabilities(unsigned slot, uint8_t *ids, uint8_t *offsets, unsigned max)
{
        unsigned n = 0;
        uint8_t off;

        if (!(cfg_read16(t.bus, slot, PCI_STATUS) & PCI_STATUS_CAP_LIST))
                return 0;
        off = cfg_read8(t.bus, slot, PCI_CAPABILITY_LIST) & ~3;
        while (off && n < max) {
                cr_assert(ge(u8, off, 0x40));
                cr_assert(eq(u8, off & 3, 0));
                ids[n] = cfg_read8(t.bus, slot, off);
                offsets[n] = off;
                n++;
                off = cfg_read8(t.bus, slot, off + PCI_CAP_LIST_NEXT) & ~3;
        }
        return n;
}

Test(pci_config, capability_list_walk)
{
        PciDevice *dev = test_device_new("caps", 0x1042);
        uint8_t vendor[] = { 0xaa, 0xbb, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13 };
        uint8_t pm[8] = { 0, 0, 0x03, 0x00, 0x08, 0x00, 0, 0 };
        uint8_t ids[16], offsets[16];
        uint16_t o1, o2, o3, o4;

        cr_assert(eq(int, pci_device_add_vendor_capability(dev, vendor, sizeof vendor, &o1), 0));
        cr_assert(eq(int, pci_device_add_capability(dev, PCI_CAP_ID_PM, pm, sizeof pm, &o2), 0));
        /* An odd length: the next one still starts on a dword boundary. */
        cr_assert(eq(int, pci_device_add_vendor_capability(dev, vendor, 5, &o3), 0));
        cr_assert(eq(int, pci_device_add_capability(dev, PCI_CAP_ID_VNDR, NULL, 3, &o4), 0));
        cr_assert(eq(u16, o1, 0x40));
        cr_assert(eq(u16, o2, 0x50));
        cr_assert(eq(u16, o3, 0x58));
        cr_assert(eq(u16, o4, 0x60));
        cr_assert(eq(int, pci_bus_add_device(t.bus, dev, 12, NULL), 0));

        cr_assert(eq(u16, cfg_read16(t.bus, 12, PCI_STATUS) & PCI_STATUS_CAP_LIST, PCI_STATUS_CAP_LIST));
        cr_assert(eq(uint, walk_capabilities(12, ids, offsets, 16), 4));
        cr_assert(eq(u8, ids[0], PCI_CAP_ID_VNDR));
        cr_assert(eq(u8, ids[1], PCI_CAP_ID_PM));
        cr_assert(eq(u8, ids[2], PCI_CAP_ID_VNDR));
        cr_assert(eq(u8, ids[3], PCI_CAP_ID_VNDR));
        cr_assert(eq(u8, offsets[0], 0x40));
        cr_assert(eq(u8, offsets[3], 0x60));

        /* The vendor capability's length byte and body. */
        cr_assert(eq(u8, cfg_read8(t.bus, 12, o1 + 2), sizeof vendor));
        cr_assert(eq(u8, cfg_read8(t.bus, 12, o1 + 3), 1));
        cr_assert(eq(u32, cfg_read32(t.bus, 12, o1 + 12), 0x0d0c0b0a));
        cr_assert(eq(u8, cfg_read8(t.bus, 12, o3 + 2), 5));
        cr_assert(eq(u16, cfg_read16(t.bus, 12, o2 + 2), 0x0003));

        /* The list is read-only: the guest cannot unlink or rewrite it. */
        cfg_write8(t.bus, 12, PCI_CAPABILITY_LIST, 0);
        cfg_write32(t.bus, 12, o1, 0);
        cfg_write32(t.bus, 12, o1 + 4, 0xffffffff);
        cr_assert(eq(uint, walk_capabilities(12, ids, offsets, 16), 4));
        cr_assert(eq(u32, cfg_read32(t.bus, 12, o1 + 4), 0x05040302));
        pci_device_free(dev);
}

Test(pci_config, capability_space_runs_out)
{
        PciDevice *dev = test_device_new("full", 0x1042);
        unsigned n = 0;
        uint16_t off;
        int r;

        while ((r = pci_device_add_vendor_capability(dev, NULL, 16, &off)) == 0)
                n++;
        cr_assert(eq(int, r, -ENOSPC));
        cr_assert(eq(uint, n, (256 - 0x40) / 16));
        cr_assert(eq(int, pci_device_add_capability(dev, PCI_CAP_ID_VNDR, NULL, 1, &off), -EINVAL));
        cr_assert(eq(int, pci_device_add_capability(dev, PCI_CAP_ID_VNDR, NULL, SIZE_MAX, &off), -ENOSPC));
        cr_assert(eq(int, pci_device_add_vendor_capability(dev, NULL, 256, &off), -EINVAL));
        cr_assert(eq(int, pci_device_add_vendor_capability(dev, NULL, 2, &off), -EINVAL));
        pci_device_free(dev);
}

Test(pci_config, setup_refused_once_on_a_bus)
{
        PciDevice *dev = add_device(8);
        uint8_t m = 0xff;

        cr_assert(eq(int, pci_device_add_capability(dev, PCI_CAP_ID_VNDR, NULL, 4, NULL), -EBUSY));
        cr_assert(eq(int, pci_device_add_bar(dev, 0, PCI_BAR_MEM32, 4096, false, NULL, NULL), -EBUSY));
        cr_assert(eq(int, pci_device_set_wmask(dev, 0x40, &m, 1), -EBUSY));
        cr_assert(eq(int, msix_init(dev, 1, 0, 0, 0, 0x800, NULL), -EBUSY));
        cr_assert(eq(int, pci_bus_add_device(t.bus, dev, 9, NULL), -EBUSY));
        pci_device_free(dev);
}

Test(pci_config, device_writable_capability_bytes)
{
        PciDevice *dev = test_device_new("wmask", 0x1042);
        uint8_t body[20] = {};
        uint8_t mask[4] = { 0xff, 0xff, 0x0f, 0x00 };
        uint16_t off;

        cr_assert(eq(int, pci_device_add_vendor_capability(dev, body, sizeof body, &off), 0));
        cr_assert(eq(int, pci_device_set_wmask(dev, off + 8, mask, sizeof mask), 0));
        cr_assert(eq(int, pci_device_set_wmask(dev, 4095, mask, 2), -EINVAL));
        cr_assert(eq(int, pci_device_set_wmask(dev, 4097, mask, 0), -EINVAL));
        cr_assert(eq(int, pci_bus_add_device(t.bus, dev, 10, NULL), 0));

        cfg_write32(t.bus, 10, off + 8, 0xffffffff);
        cr_assert(eq(u32, cfg_read32(t.bus, 10, off + 8), 0x000fffff));
        cfg_write32(t.bus, 10, off + 4, 0xffffffff);
        cr_assert(eq(u32, cfg_read32(t.bus, 10, off + 4), 0));
        pci_device_free(dev);
}

/* Hooks: a window register at 0x48 whose reads come from the device and whose writes it sees. */
typedef struct HookState {
        unsigned reads, writes;
        uint32_t last_write_offset, last_write_len;
        uint32_t seen_value;
} HookState;

static void hook_read(void *opaque, PciDevice *dev, uint32_t offset, uint8_t *data, uint32_t len)
{
        HookState *h = opaque;
        h->reads++;
        if (offset == 0x48 && len == 4)
                put_le32(data, 0xfeedf00d);
}

static void hook_write(void *opaque, PciDevice *dev, uint32_t offset, const uint8_t *data, uint32_t len)
{
        HookState *h = opaque;
        uint8_t b[4];

        h->writes++;
        h->last_write_offset = offset;
        h->last_write_len = len;
        /* The write has been applied through the masks by now; raw access works from a hook. */
        cr_assert(eq(int, pci_device_config_get(dev, 0x44, b, 4), 0));
        h->seen_value = le32(b);
        cr_assert(eq(int, pci_device_config_set(dev, 0x4c, b, 4), 0));
}

static const PciDeviceHooks hooks = { .config_read = hook_read, .config_write = hook_write };

Test(pci_config, device_hooks)
{
        PciDevice *dev = test_device_new("hooks", 0x1042);
        HookState h = {};
        uint8_t mask[4] = { 0xff, 0xff, 0xff, 0xff };
        uint16_t off;

        cr_assert(eq(int, pci_device_add_vendor_capability(dev, NULL, 16, &off), 0));
        cr_assert(eq(int, pci_device_set_wmask(dev, 0x44, mask, 4), 0));
        pci_device_set_hooks(dev, &hooks, &h);
        cr_assert(eq(int, pci_bus_add_device(t.bus, dev, 11, NULL), 0));

        cr_assert(eq(u32, cfg_read32(t.bus, 11, 0x48), 0xfeedf00d));
        cr_assert(eq(u32, cfg_read32(t.bus, 11, 0x44), 0));
        cr_assert(eq(uint, h.reads, 2));
        cfg_write32(t.bus, 11, 0x44, 0x12345678);
        cr_assert(eq(uint, h.writes, 1));
        cr_assert(eq(u32, h.last_write_offset, 0x44));
        cr_assert(eq(u32, h.seen_value, 0x12345678));
        cr_assert(eq(u32, cfg_read32(t.bus, 11, 0x4c), 0x12345678));
        /* Accesses that are refused never reach the hooks. */
        cfg_write32(t.bus, 11, 0x46, 0);
        pci_bus_config_write(t.bus, 0, 11, 1, 0x44, (const uint8_t[]) { 1, 2, 3, 4 }, 4);
        cr_assert(eq(uint, h.writes, 1));
        pci_device_free(dev);
}

Test(pci_config, raw_accessors_bounds)
{
        PciDevice *dev = test_device_new("raw", 0x1042);
        uint8_t b[8] = {};
        uint16_t cmd = PCI_COMMAND_MASTER;

        cr_assert(eq(int, pci_device_config_get(dev, 4092, b, 4), 0));
        cr_assert(eq(int, pci_device_config_get(dev, 4093, b, 4), -EINVAL));
        cr_assert(eq(int, pci_device_config_get(dev, UINT32_MAX, b, 1), -EINVAL));
        cr_assert(eq(int, pci_device_config_set(dev, 4096, b, 0), 0));
        cr_assert(eq(int, pci_device_config_set(dev, 4090, b, SIZE_MAX), -EINVAL));
        cr_assert(eq(int, pci_device_config_set(dev, PCI_COMMAND, &cmd, 2), 0));
        cr_assert(pci_device_bus_master(dev));
        cr_assert(eq(str, (char *) pci_device_name(dev), "raw"));
        cr_assert(eq(int, pci_device_slot(dev), -ENODEV));
        pci_device_free(dev);
}

Test(pci_config, hostile_accesses)
{
        PciDevice *dev = add_device(3);
        uint8_t b[16];

        /* Crossing a dword, odd sizes, too large, past the end: all ones, and writes are dropped. */
        static const struct {
                uint32_t offset, len;
        } bad[] = {
                { 0x3e, 4 }, { 0x3f, 2 }, { 0x3d, 4 }, { 0x3c, 3 }, { 0x3c, 8 }, { 0x3c, 16 }, { 0x1000, 1 },
                { 0xffe, 4 }, { 0xfff, 2 }, { UINT32_MAX, 1 }, { UINT32_MAX - 1, 4 }, { 0x3c, 0 },
        };
        for (unsigned i = 0; i < ELEMENTSOF(bad); i++) {
                memset(b, 0, sizeof b);
                pci_bus_config_read(t.bus, 0, 3, 0, bad[i].offset, b, bad[i].len);
                for (uint32_t k = 0; k < bad[i].len; k++)
                        cr_assert(eq(u8, b[k], 0xff));
                pci_bus_config_write(t.bus, 0, 3, 0, bad[i].offset, (const uint8_t[16]) { 0x42 },
                                     bad[i].len);
        }
        cr_assert(eq(u8, cfg_read8(t.bus, 3, PCI_INTERRUPT_LINE), 5));

        /* Out-of-range device and function numbers. */
        pci_bus_config_read(t.bus, 0, 32, 0, 0, b, 4);
        cr_assert(eq(u32, le32(b), 0xffffffff));
        pci_bus_config_read(t.bus, 0, UINT32_MAX, UINT32_MAX, 0, b, 4);
        cr_assert(eq(u32, le32(b), 0xffffffff));
        pci_bus_config_write(t.bus, UINT32_MAX, 3, 0, PCI_INTERRUPT_LINE, b, 1);
        pci_bus_config_read(NULL, 0, 3, 0, 0, b, 4);
        cr_assert(eq(u32, le32(b), 0xffffffff));
        pci_bus_config_write(NULL, 0, 3, 0, 0, b, 4);
        pci_bus_config_read(t.bus, 0, 3, 0, 0, NULL, 4);
        pci_bus_config_write(t.bus, 0, 3, 0, 0, NULL, 4);

        /* Misaligned but inside one dword: served like the byte enables of one request. */
        cr_assert(eq(u32, cfg_read(t.bus, 3, PCI_VENDOR_ID + 1, 2), 0x421a));
        cr_assert(eq(u8, cfg_read8(t.bus, 3, PCI_INTERRUPT_LINE), 5));
        pci_device_free(dev);
}
