/* SPDX-License-Identifier: Apache-2.0 */
#include <inttypes.h>

#include "pci-internal.h"
#include "pci-test.h"

static TestBus t;
static Recorder rec;

static void setup(void)
{
        memset(&rec, 0, sizeof rec);
        test_bus_init(&t);
}

static void teardown(void)
{
        test_bus_done(&t);
}

TestSuite(pci_bar, .init = setup, .fini = teardown);

static uint32_t size_bar(unsigned slot, unsigned bar)
{
        uint32_t reg = PCI_BASE_ADDRESS_0 + 4 * bar, saved = cfg_read32(t.bus, slot, reg), mask;

        cfg_write32(t.bus, slot, reg, 0xffffffff);
        mask = cfg_read32(t.bus, slot, reg);
        cfg_write32(t.bus, slot, reg, saved);
        cr_assert(eq(u32, cfg_read32(t.bus, slot, reg), saved));
        return mask;
}

Test(pci_bar, sizing_read_back)
{
        PciDevice *dev = test_device_new("sizing", 0x1042);

        cr_assert(eq(int, pci_device_add_bar(dev, 0, PCI_BAR_IO, 32, false, NULL, NULL), 0));
        cr_assert(eq(int, pci_device_add_bar(dev, 1, PCI_BAR_MEM32, 4096, false, NULL, NULL), 0));
        cr_assert(eq(int, pci_device_add_bar(dev, 2, PCI_BAR_MEM32, 1 * MiB, true, NULL, NULL), 0));
        cr_assert(eq(int, pci_device_add_bar(dev, 3, PCI_BAR_MEM64, 16 * KiB, false, NULL, NULL), 0));
        cr_assert(eq(int, pci_bus_add_device(t.bus, dev, 1, NULL), 0));

        cr_assert(eq(u32, size_bar(1, 0), 0xffffffe1));
        cr_assert(eq(u32, size_bar(1, 1), 0xfffff000));
        cr_assert(eq(u32, size_bar(1, 2), 0xfff00008));
        cr_assert(eq(u32, size_bar(1, 3), 0xffffc004));
        cr_assert(eq(u32, size_bar(1, 4), 0xffffffff)); /* upper half of a 64-bit BAR below 4 GiB */
        cr_assert(eq(u32, size_bar(1, 5), 0));          /* not implemented */

        /* The flag bits read back whatever is written. */
        cfg_write32(t.bus, 1, PCI_BASE_ADDRESS_0, 0);
        cr_assert(eq(u32, cfg_read32(t.bus, 1, PCI_BASE_ADDRESS_0), PCI_BASE_ADDRESS_SPACE_IO));
        cfg_write32(t.bus, 1, PCI_BASE_ADDRESS_3, 0);
        cr_assert(eq(u32, cfg_read32(t.bus, 1, PCI_BASE_ADDRESS_3), PCI_BASE_ADDRESS_MEM_TYPE_64));
        /* Byte-wise sizing gives the same answer. */
        for (uint32_t b = 0; b < 4; b++)
                cfg_write8(t.bus, 1, PCI_BASE_ADDRESS_1 + b, 0xff);
        cr_assert(eq(u32, cfg_read32(t.bus, 1, PCI_BASE_ADDRESS_1), 0xfffff000));
        pci_device_free(dev);
}

Test(pci_bar, sizing_large_64bit_prefetchable)
{
        PciDevice *dev = test_device_new("big", 0x1042);

        cr_assert(eq(int, pci_device_add_bar(dev, 0, PCI_BAR_MEM64, 8 * GiB, true, NULL, NULL), 0));
        cr_assert(eq(int, pci_device_add_bar(dev, 2, PCI_BAR_MEM64, 4 * GiB, false, NULL, NULL), 0));
        cr_assert(eq(int, pci_bus_add_device(t.bus, dev, 2, NULL), 0));

        cr_assert(eq(u32, size_bar(2, 0), 0x0000000c));
        cr_assert(eq(u32, size_bar(2, 1), 0xfffffffe));
        cr_assert(eq(u32, size_bar(2, 2), 0x00000004));
        cr_assert(eq(u32, size_bar(2, 3), 0xffffffff));
        /* Full 64-bit sizing as a guest does it: both halves at once. */
        cfg_write32(t.bus, 2, PCI_BASE_ADDRESS_0, 0xffffffff);
        cfg_write32(t.bus, 2, PCI_BASE_ADDRESS_1, 0xffffffff);
        cr_assert(eq(u64, (uint64_t) cfg_read32(t.bus, 2, PCI_BASE_ADDRESS_1) << 32 |
                                  (cfg_read32(t.bus, 2, PCI_BASE_ADDRESS_0) & ~0xfu),
                     ~(8 * GiB - 1)));
        pci_device_free(dev);
}

Test(pci_bar, initial_addresses_are_in_the_windows_and_aligned)
{
        PciDevice *dev = test_device_new("alloc", 0x1042);
        uint64_t a;

        cr_assert(eq(int, pci_device_add_bar(dev, 0, PCI_BAR_IO, 256, false, NULL, NULL), 0));
        cr_assert(eq(int, pci_device_add_bar(dev, 1, PCI_BAR_MEM32, 64 * KiB, false, NULL, NULL), 0));
        cr_assert(eq(int, pci_device_add_bar(dev, 2, PCI_BAR_MEM64, 1 * GiB, true, NULL, NULL), 0));
        cr_assert(eq(int, pci_device_add_bar(dev, 4, PCI_BAR_MEM32, 16, false, NULL, NULL), 0));
        cr_assert(eq(int, pci_bus_add_device(t.bus, dev, -1, NULL), 0));

        a = pci_device_bar_address(dev, 0);
        cr_assert(ge(u64, a, TEST_IO_BASE));
        cr_assert(lt(u64, a, TEST_IO_BASE + TEST_IO_SIZE));
        cr_assert(zero(u64, a % 256));
        a = pci_device_bar_address(dev, 1);
        cr_assert(ge(u64, a, TEST_MEM32_BASE));
        cr_assert(zero(u64, a % (64 * KiB)));
        a = pci_device_bar_address(dev, 2);
        cr_assert(ge(u64, a, TEST_MEM64_BASE));
        cr_assert(zero(u64, a % GiB));
        cr_assert(eq(u32, cfg_read32(t.bus, 1, PCI_BASE_ADDRESS_3), (uint32_t) (a >> 32)));
        a = pci_device_bar_address(dev, 4);
        cr_assert(ge(u64, a, TEST_MEM32_BASE));
        cr_assert(zero(u64, a % 16));
        cr_assert(ne(u64, a, pci_device_bar_address(dev, 1)));
        cr_assert(eq(u64, pci_device_bar_address(dev, 5), PCI_BAR_UNMAPPED));
        cr_assert(eq(u64, pci_device_bar_address(dev, 3), PCI_BAR_UNMAPPED)); /* upper half */
        cr_assert(eq(u64, pci_device_bar_address(dev, 6), PCI_BAR_UNMAPPED));
        /* Decoding is off, as after reset: nothing is mapped yet. */
        cr_assert(eq(u16, cfg_read16(t.bus, 1, PCI_COMMAND), 0));
        cr_assert(not(pci_device_bar_mapped(dev, 1, &a)));
        cr_assert(eq(uint, rec.n, 0));
        pci_device_free(dev);
}

Test(pci_bar, many_devices_get_disjoint_aligned_addresses)
{
        static const uint64_t sizes[] = { 16, 4 * KiB, 64 * KiB, 32, 1 * MiB, 8 * KiB, 128, 2 * MiB };
        PciDevice *devs[ELEMENTSOF(sizes)];
        uint64_t addr[ELEMENTSOF(sizes)];

        for (unsigned i = 0; i < ELEMENTSOF(sizes); i++) {
                devs[i] = test_device_new("d", 0x1042);
                cr_assert(eq(int, pci_device_add_bar(devs[i], 0, PCI_BAR_MEM32, sizes[i], false, NULL, NULL),
                             0));
                cr_assert(eq(int, pci_bus_add_device(t.bus, devs[i], -1, NULL), 0));
                addr[i] = pci_device_bar_address(devs[i], 0);
                cr_assert(zero(u64, addr[i] % sizes[i]), "BAR of 0x%" PRIx64 " at 0x%" PRIx64, sizes[i],
                          addr[i]);
                cr_assert(ge(u64, addr[i], TEST_MEM32_BASE));
                cr_assert(le(u64, addr[i] + sizes[i], (uint64_t) TEST_MEM32_BASE + TEST_MEM32_SIZE));
        }
        for (unsigned i = 0; i < ELEMENTSOF(sizes); i++)
                for (unsigned j = i + 1; j < ELEMENTSOF(sizes); j++)
                        cr_assert(addr[i] + sizes[i] <= addr[j] || addr[j] + sizes[j] <= addr[i]);
        for (unsigned i = 0; i < ELEMENTSOF(sizes); i++)
                pci_device_free(devs[i]);
}

static void init_small_windows(void)
{
        test_bus_done(&t);
        test_bus_init_windows(&t, (PciWindow) { 0x1000, 0x100 }, (PciWindow) { 0xe0000000, 64 * KiB },
                              (PciWindow) { 0, 0 });
}

Test(pci_bar, window_exhaustion)
{
        PciDevice *a = test_device_new("a", 1), *b = test_device_new("b", 2), *c = test_device_new("c", 3);
        PciDevice *io = test_device_new("io", 4), *small = test_device_new("small", 5);

        init_small_windows();
        cr_assert(eq(int, pci_device_add_bar(a, 0, PCI_BAR_MEM32, 32 * KiB, false, NULL, NULL), 0));
        cr_assert(eq(int, pci_device_add_bar(b, 0, PCI_BAR_MEM32, 16 * KiB, false, NULL, NULL), 0));
        cr_assert(eq(int, pci_device_add_bar(b, 1, PCI_BAR_MEM32, 16 * KiB, false, NULL, NULL), 0));
        cr_assert(eq(int, pci_device_add_bar(c, 0, PCI_BAR_MEM32, 4 * KiB, false, NULL, NULL), 0));
        cr_assert(eq(int, pci_device_add_bar(c, 1, PCI_BAR_MEM32, 4 * KiB, false, NULL, NULL), 0));
        cr_assert(eq(int, pci_device_add_bar(io, 0, PCI_BAR_IO, 0x200, false, NULL, NULL), 0));
        cr_assert(eq(int, pci_device_add_bar(small, 0, PCI_BAR_MEM32, 16, false, NULL, NULL), 0));

        cr_assert(eq(int, pci_bus_add_device(t.bus, a, 1, NULL), 0));
        cr_assert(eq(int, pci_bus_add_device(t.bus, b, 2, NULL), 0));
        /* The window is full: c fails as a whole, keeps no address and no slot. */
        cr_assert(eq(int, pci_bus_add_device(t.bus, c, 3, NULL), -ENOSPC));
        cr_assert(eq(int, pci_device_slot(c), -ENODEV));
        cr_assert(eq(u32, cfg_read32(t.bus, 3, PCI_VENDOR_ID), 0xffffffff));
        cr_assert(eq(u64, pci_device_bar_address(c, 0), 0));
        /* A 512-byte I/O BAR does not fit a 256-port window. */
        cr_assert(eq(int, pci_bus_add_device(t.bus, io, 4, NULL), -ENOSPC));
        /* A 64-bit BAR with no 64-bit window falls back to the 32-bit one, which is full. */
        pci_device_free(small);
        small = test_device_new("small64", 6);
        cr_assert(eq(int, pci_device_add_bar(small, 0, PCI_BAR_MEM64, 16, false, NULL, NULL), 0));
        cr_assert(eq(int, pci_bus_add_device(t.bus, small, 5, NULL), -ENOSPC));

        /* Removing b gives its space back. */
        cr_assert(eq(int, pci_bus_remove_device(t.bus, b), 0));
        cr_assert(eq(int, pci_bus_remove_device(t.bus, b), -ENOENT));
        cr_assert(eq(int, pci_bus_add_device(t.bus, c, 3, NULL), 0));
        cr_assert(eq(int, pci_bus_add_device(t.bus, small, 5, NULL), 0));
        cr_assert(ge(u64, pci_device_bar_address(small, 0), 0xe0000000));
        cr_assert(lt(u64, pci_device_bar_address(small, 0), 0xe0010000));

        pci_device_free(a);
        pci_device_free(b);
        pci_device_free(c);
        pci_device_free(io);
        pci_device_free(small);
}

Test(pci_bar, add_bar_validation)
{
        PciDevice *dev = test_device_new("v", 1);

        cr_assert(eq(int, pci_device_add_bar(dev, 6, PCI_BAR_MEM32, 4096, false, NULL, NULL), -EINVAL));
        cr_assert(eq(int, pci_device_add_bar(dev, 5, PCI_BAR_MEM64, 4096, false, NULL, NULL), -EINVAL));
        cr_assert(eq(int, pci_device_add_bar(dev, 0, PCI_BAR_MEM32, 4095, false, NULL, NULL), -EINVAL));
        cr_assert(eq(int, pci_device_add_bar(dev, 0, PCI_BAR_MEM32, 8, false, NULL, NULL), -EINVAL));
        cr_assert(eq(int, pci_device_add_bar(dev, 0, PCI_BAR_MEM32, 4 * GiB, false, NULL, NULL), -EINVAL));
        cr_assert(eq(int, pci_device_add_bar(dev, 0, PCI_BAR_MEM32, 0, false, NULL, NULL), -EINVAL));
        cr_assert(eq(int, pci_device_add_bar(dev, 0, PCI_BAR_IO, 2, false, NULL, NULL), -EINVAL));
        cr_assert(eq(int, pci_device_add_bar(dev, 0, PCI_BAR_IO, 128 * KiB, false, NULL, NULL), -EINVAL));
        cr_assert(eq(int, pci_device_add_bar(dev, 0, PCI_BAR_IO, 16, true, NULL, NULL), -EINVAL));
        cr_assert(eq(int, pci_device_add_bar(dev, 0, PCI_BAR_NONE, 16, false, NULL, NULL), -EINVAL));
        cr_assert(eq(int, pci_device_add_bar(dev, 0, (PciBarType) 42, 16, false, NULL, NULL), -EINVAL));
        cr_assert(eq(int, pci_device_add_bar(dev, 0, PCI_BAR_MEM64, UINT64_MAX, false, NULL, NULL),
                     -EINVAL));
        cr_assert(eq(int, pci_device_add_bar(NULL, 0, PCI_BAR_MEM32, 4096, false, NULL, NULL), -EINVAL));

        cr_assert(eq(int, pci_device_add_bar(dev, 1, PCI_BAR_MEM64, 4096, false, NULL, NULL), 0));
        cr_assert(eq(int, pci_device_add_bar(dev, 1, PCI_BAR_MEM32, 4096, false, NULL, NULL), -EEXIST));
        cr_assert(eq(int, pci_device_add_bar(dev, 2, PCI_BAR_MEM32, 4096, false, NULL, NULL), -EEXIST));
        cr_assert(eq(int, pci_device_add_bar(dev, 0, PCI_BAR_MEM64, 4096, false, NULL, NULL), -EEXIST));
        cr_assert(eq(int, pci_device_add_bar(dev, 0, PCI_BAR_MEM32, 4096, false, NULL, NULL), 0));
        cr_assert(eq(int, pci_device_add_bar(dev, 3, PCI_BAR_MEM64, UINT64_C(1) << 63, true, NULL, NULL),
                     0));
        pci_device_free(dev);
}

/* A device with one memory and one I/O BAR, both handled by a FakeDev. */
typedef struct TwoBars {
        PciDevice *dev;
        FakeDev mem, io;
        unsigned slot;
} TwoBars;

static void two_bars_add(TwoBars *d, uint8_t tag, int slot)
{
        d->mem.tag = tag;
        d->io.tag = (uint8_t) (tag + 0x80);
        d->dev = test_device_new("two", 0x1042);
        pci_device_set_callbacks(d->dev, &rec_callbacks, &rec);
        cr_assert(eq(int, pci_device_add_bar(d->dev, 0, PCI_BAR_MEM32, 4096, false, &fake_ops, &d->mem), 0));
        cr_assert(eq(int, pci_device_add_bar(d->dev, 2, PCI_BAR_IO, 16, false, &fake_ops, &d->io), 0));
        cr_assert(eq(int, pci_bus_add_device(t.bus, d->dev, slot, &d->slot), 0));
}

Test(pci_bar, decode_enable_maps_and_disable_unmaps)
{
        TwoBars d = {};
        uint64_t mem, io, got = 0;
        bool claimed;

        two_bars_add(&d, 0x10, -1);
        mem = pci_device_bar_address(d.dev, 0);
        io = pci_device_bar_address(d.dev, 2);

        (void) io_read(&t.mmio, mem, 4, &claimed);
        cr_assert(not(claimed));
        (void) io_read(&t.pio, io, 1, &claimed);
        cr_assert(not(claimed));

        /* Memory decode maps the memory BAR only. */
        cfg_write16(t.bus, d.slot, PCI_COMMAND, PCI_COMMAND_MEMORY);
        cr_assert(eq(u32, io_read(&t.mmio, mem + 8, 4, &claimed), 0x1b1a1918));
        cr_assert(claimed);
        cr_assert(eq(uint, d.mem.reads, 1));
        cr_assert(eq(u64, d.mem.last_offset, 8));
        (void) io_read(&t.pio, io, 1, &claimed);
        cr_assert(not(claimed));
        cr_assert(pci_device_bar_mapped(d.dev, 0, &got));
        cr_assert(eq(u64, got, mem));
        cr_assert(eq(uint, rec_count(&rec, 'b'), 1));
        cr_assert(eq(uint, rec_last(&rec, 'b')->bar, 0));
        cr_assert(eq(u64, rec_last(&rec, 'b')->old_addr, PCI_BAR_UNMAPPED));
        cr_assert(eq(u64, rec_last(&rec, 'b')->addr, mem));
        cr_assert(rec_last(&rec, 'b')->flag);

        /* I/O decode too. */
        cfg_write16(t.bus, d.slot, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_IO);
        cr_assert(eq(u32, io_read(&t.pio, io + 3, 1, &claimed), 0x93));
        cr_assert(claimed);
        cr_assert(io_write(&t.pio, io + 2, 2, 0xbeef));
        cr_assert(eq(uint, d.io.writes, 1));
        cr_assert(eq(u64, d.io.last_offset, 2));
        cr_assert(eq(u64, d.io.last_value, 0xbeef));
        cr_assert(eq(uint, rec_count(&rec, 'b'), 2));
        cr_assert(eq(uint, rec_last(&rec, 'b')->bar, 2));

        /* Rewriting the same command changes nothing. */
        cfg_write16(t.bus, d.slot, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_IO);
        cr_assert(eq(uint, rec_count(&rec, 'b'), 2));

        /* Disabling memory decode unmaps the memory BAR. */
        cfg_write16(t.bus, d.slot, PCI_COMMAND, PCI_COMMAND_IO);
        (void) io_read(&t.mmio, mem, 4, &claimed);
        cr_assert(not(claimed));
        cr_assert(eq(uint, d.mem.reads, 1));
        cr_assert(not(pci_device_bar_mapped(d.dev, 0, NULL)));
        cr_assert(eq(uint, rec_count(&rec, 'b'), 3));
        cr_assert(eq(u64, rec_last(&rec, 'b')->old_addr, mem));
        cr_assert(eq(u64, rec_last(&rec, 'b')->addr, PCI_BAR_UNMAPPED));
        cr_assert(not(rec_last(&rec, 'b')->flag));
        cfg_write16(t.bus, d.slot, PCI_COMMAND, 0);
        (void) io_read(&t.pio, io, 1, &claimed);
        cr_assert(not(claimed));
        cr_assert(eq(uint, rec_count(&rec, 'b'), 4));
        pci_device_free(d.dev);
}

Test(pci_bar, relocation_moves_the_registration)
{
        TwoBars d = {};
        uint64_t old, new = TEST_MEM32_BASE + 0x100000, got;
        bool claimed;

        two_bars_add(&d, 0x20, 5);
        old = pci_device_bar_address(d.dev, 0);
        cfg_write16(t.bus, 5, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_IO);
        cr_assert(eq(uint, rec_count(&rec, 'b'), 2));

        cfg_write32(t.bus, 5, PCI_BASE_ADDRESS_0, (uint32_t) new);
        cr_assert(eq(u32, cfg_read32(t.bus, 5, PCI_BASE_ADDRESS_0), (uint32_t) new));
        (void) io_read(&t.mmio, old, 4, &claimed);
        cr_assert(not(claimed));
        cr_assert(eq(uint, d.mem.reads, 0));
        cr_assert(io_write(&t.mmio, new + 0x10, 4, 0xcafe));
        cr_assert(eq(uint, d.mem.writes, 1));
        cr_assert(eq(u64, d.mem.last_offset, 0x10));
        (void) io_read(&t.mmio, new + 0xffc, 4, &claimed);
        cr_assert(claimed);
        (void) io_read(&t.mmio, new + 0x1000, 4, &claimed);
        cr_assert(not(claimed));
        cr_assert(pci_device_bar_mapped(d.dev, 0, &got));
        cr_assert(eq(u64, got, new));
        cr_assert(eq(uint, rec_count(&rec, 'b'), 3));
        cr_assert(eq(u64, rec_last(&rec, 'b')->old_addr, old));
        cr_assert(eq(u64, rec_last(&rec, 'b')->addr, new));
        cr_assert(rec_last(&rec, 'b')->flag);

        /* The I/O BAR, with a 16-bit write to its low half. */
        cfg_write16(t.bus, 5, PCI_BASE_ADDRESS_2, TEST_IO_BASE + 0x800);
        cr_assert(eq(u32, cfg_read32(t.bus, 5, PCI_BASE_ADDRESS_2), (TEST_IO_BASE + 0x800) | 1));
        cr_assert(eq(u32, io_read(&t.pio, TEST_IO_BASE + 0x801, 1, &claimed), 0xa1));
        cr_assert(claimed);
        cr_assert(eq(uint, rec_count(&rec, 'b'), 4));

        /* Out of every window: unmapped, and the callback says so. */
        cfg_write32(t.bus, 5, PCI_BASE_ADDRESS_0, 0x10000000);
        (void) io_read(&t.mmio, 0x10000000, 4, &claimed);
        cr_assert(not(claimed));
        cr_assert(not(pci_device_bar_mapped(d.dev, 0, NULL)));
        cr_assert(eq(uint, rec_count(&rec, 'b'), 5));
        cr_assert(not(rec_last(&rec, 'b')->flag));
        cr_assert(eq(u64, rec_last(&rec, 'b')->old_addr, new));
        /* Address 0 never decodes. */
        cfg_write32(t.bus, 5, PCI_BASE_ADDRESS_0, 0);
        cr_assert(not(pci_device_bar_mapped(d.dev, 0, NULL)));
        cr_assert(eq(uint, rec_count(&rec, 'b'), 5));
        /* Back in the window. */
        cfg_write32(t.bus, 5, PCI_BASE_ADDRESS_0, (uint32_t) old);
        cr_assert(pci_device_bar_mapped(d.dev, 0, &got));
        cr_assert(eq(u64, got, old));
        cr_assert(eq(uint, rec_count(&rec, 'b'), 6));
        pci_device_free(d.dev);
}

Test(pci_bar, sizing_with_decode_on_unmaps_then_restores)
{
        TwoBars d = {};
        uint64_t addr, got;

        two_bars_add(&d, 0x30, -1);
        addr = pci_device_bar_address(d.dev, 0);
        cfg_write16(t.bus, d.slot, PCI_COMMAND, PCI_COMMAND_MEMORY);
        cr_assert(eq(u32, size_bar(d.slot, 0), 0xfffff000));
        cr_assert(pci_device_bar_mapped(d.dev, 0, &got));
        cr_assert(eq(u64, got, addr));
        /* Unmapped while it held the all-ones pattern (outside the windows), mapped again after. */
        cr_assert(eq(uint, rec_count(&rec, 'b'), 3));
        pci_device_free(d.dev);
}

Test(pci_bar, relocation_of_a_64bit_bar)
{
        PciDevice *dev = test_device_new("m64", 0x1042);
        FakeDev f = { .tag = 0x40 };
        uint64_t addr, got, target = TEST_MEM64_BASE + 16 * GiB + 64 * KiB;
        bool claimed;

        pci_device_set_callbacks(dev, &rec_callbacks, &rec);
        cr_assert(eq(int, pci_device_add_bar(dev, 2, PCI_BAR_MEM64, 64 * KiB, true, &fake_ops, &f), 0));
        cr_assert(eq(int, pci_bus_add_device(t.bus, dev, 7, NULL), 0));
        addr = pci_device_bar_address(dev, 2);
        cr_assert(ge(u64, addr, TEST_MEM64_BASE));
        cfg_write16(t.bus, 7, PCI_COMMAND, PCI_COMMAND_MEMORY);
        cr_assert(pci_device_bar_mapped(dev, 2, &got));
        cr_assert(eq(u64, got, addr));

        /* Low dword first, then high, as guests do. */
        cfg_write32(t.bus, 7, PCI_BASE_ADDRESS_2, (uint32_t) target);
        cfg_write32(t.bus, 7, PCI_BASE_ADDRESS_3, (uint32_t) (target >> 32));
        cr_assert(pci_device_bar_mapped(dev, 2, &got));
        cr_assert(eq(u64, got, target));
        cr_assert(eq(u32, io_read(&t.mmio, target + 4, 1, &claimed), 0x44));
        cr_assert(claimed);
        (void) io_read(&t.mmio, addr, 4, &claimed);
        cr_assert(not(claimed));
        cr_assert(eq(u64, rec_last(&rec, 'b')->addr, target));

        /* Into the 32-bit window: a 64-bit BAR may live below 4 GiB. */
        cfg_write32(t.bus, 7, PCI_BASE_ADDRESS_3, 0);
        cfg_write32(t.bus, 7, PCI_BASE_ADDRESS_2, TEST_MEM32_BASE + 0x200000);
        cr_assert(pci_device_bar_mapped(dev, 2, &got));
        cr_assert(eq(u64, got, TEST_MEM32_BASE + 0x200000));
        cr_assert(eq(u32, cfg_read32(t.bus, 7, PCI_BASE_ADDRESS_2), (TEST_MEM32_BASE + 0x200000) | 0xc));
        pci_device_free(dev);
}

Test(pci_bar, overlapping_relocation_stays_unmapped)
{
        TwoBars a = {}, b = {};
        uint64_t a_addr, b_addr, got;
        bool claimed;

        two_bars_add(&a, 0x10, 1);
        two_bars_add(&b, 0x50, 2);
        a_addr = pci_device_bar_address(a.dev, 0);
        b_addr = pci_device_bar_address(b.dev, 0);
        cfg_write16(t.bus, 1, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_IO);
        cfg_write16(t.bus, 2, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_IO);

        /* a onto b: a is left unmapped, b keeps working, and repeating it does not crash or spam. */
        for (unsigned i = 0; i < 3; i++) {
                cfg_write32(t.bus, 1, PCI_BASE_ADDRESS_0, (uint32_t) b_addr);
                cr_assert(not(pci_device_bar_mapped(a.dev, 0, NULL)));
                cr_assert(eq(u32, io_read(&t.mmio, b_addr, 1, &claimed), 0x50));
                cr_assert(claimed);
        }
        (void) io_read(&t.mmio, a_addr, 4, &claimed);
        cr_assert(not(claimed));
        cr_assert(eq(uint, a.mem.reads, 0));

        /* Partly overlapping I/O BARs: same outcome. */
        cfg_write32(t.bus, 2, PCI_BASE_ADDRESS_2, TEST_IO_BASE + 0x400);
        cfg_write32(t.bus, 1, PCI_BASE_ADDRESS_2, TEST_IO_BASE + 0x400);
        cr_assert(not(pci_device_bar_mapped(a.dev, 2, NULL)));
        cr_assert(pci_device_bar_mapped(b.dev, 2, NULL));

        /* b moves to where a was: a, still wanting b's old place, gets it now. */
        cfg_write32(t.bus, 2, PCI_BASE_ADDRESS_0, (uint32_t) a_addr);
        cr_assert(pci_device_bar_mapped(b.dev, 0, &got));
        cr_assert(eq(u64, got, a_addr));
        cr_assert(pci_device_bar_mapped(a.dev, 0, &got));
        cr_assert(eq(u64, got, b_addr));
        cr_assert(eq(u32, io_read(&t.mmio, b_addr, 1, NULL), 0x10));
        cr_assert(eq(u32, io_read(&t.mmio, a_addr, 1, NULL), 0x50));

        /* Removing b lets a's I/O BAR map. */
        cr_assert(eq(int, pci_bus_remove_device(t.bus, b.dev), 0));
        cr_assert(pci_device_bar_mapped(a.dev, 2, &got));
        cr_assert(eq(u64, got, TEST_IO_BASE + 0x400));
        (void) io_read(&t.mmio, a_addr, 4, &claimed);
        cr_assert(not(claimed));
        pci_device_free(a.dev);
        pci_device_free(b.dev);
}

Test(pci_bar, conflict_with_a_foreign_region)
{
        TwoBars d = {};
        FakeDev other = { .tag = 0x99 };
        uint64_t addr;

        two_bars_add(&d, 0x10, 3);
        addr = pci_device_bar_address(d.dev, 0);
        cr_assert(eq(int, iobus_register(&t.mmio, addr + 0x800, 4, &fake_ops, &other, "other"), 0));
        cfg_write16(t.bus, 3, PCI_COMMAND, PCI_COMMAND_MEMORY);
        cr_assert(not(pci_device_bar_mapped(d.dev, 0, NULL)));
        cr_assert(eq(u32, io_read(&t.mmio, addr + 0x800, 1, NULL), 0x99));
        cr_assert(eq(uint, rec_count(&rec, 'b'), 0));
        cr_assert(eq(int, iobus_unregister(&t.mmio, addr + 0x800), 0));
        pci_device_free(d.dev);
}

Test(pci_bar, bar_without_handlers)
{
        PciDevice *dev = test_device_new("empty", 0x1042);
        uint64_t addr;
        bool claimed;

        cr_assert(eq(int, pci_device_add_bar(dev, 0, PCI_BAR_MEM32, 4096, false, NULL, NULL), 0));
        cr_assert(eq(int, pci_bus_add_device(t.bus, dev, 4, NULL), 0));
        addr = pci_device_bar_address(dev, 0);
        cfg_write16(t.bus, 4, PCI_COMMAND, PCI_COMMAND_MEMORY);
        cr_assert(eq(u32, io_read(&t.mmio, addr, 4, &claimed), 0));
        cr_assert(claimed);
        cr_assert(io_write(&t.mmio, addr, 4, 0x12345678));
        pci_device_free(dev);
}

Test(pci_bar, removal_and_free_unmap)
{
        TwoBars d = {};
        uint64_t mem;
        bool claimed;

        two_bars_add(&d, 0x10, 9);
        mem = pci_device_bar_address(d.dev, 0);
        cfg_write16(t.bus, 9, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_IO);
        cr_assert(eq(int, pci_bus_remove_device(t.bus, d.dev), 0));
        cr_assert(eq(uint, rec_count(&rec, 'b'), 4));
        cr_assert(not(rec_last(&rec, 'b')->flag));
        (void) io_read(&t.mmio, mem, 4, &claimed);
        cr_assert(not(claimed));
        cr_assert(eq(u32, cfg_read32(t.bus, 9, 0), 0xffffffff));
        cr_assert(eq(ptr, pci_bus_get_device(t.bus, 9), NULL));

        /* Back on the bus, then freed while still on it. */
        cr_assert(eq(int, pci_bus_add_device(t.bus, d.dev, 9, NULL), 0));
        cfg_write16(t.bus, 9, PCI_COMMAND, PCI_COMMAND_MEMORY);
        mem = pci_device_bar_address(d.dev, 0);
        cr_assert(pci_device_bar_mapped(d.dev, 0, NULL));
        pci_device_free(d.dev);
        (void) io_read(&t.mmio, mem, 4, &claimed);
        cr_assert(not(claimed));
        cr_assert(eq(ptr, pci_bus_get_device(t.bus, 9), NULL));
}

Test(pci_bar, freeing_the_bus_unregisters_everything)
{
        TwoBars d = {};

        two_bars_add(&d, 0x10, 9);
        cfg_write16(t.bus, 9, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_IO);
        cr_assert(eq(sz, t.mmio.n, 1));
        cr_assert(eq(sz, t.pio.n, 1));
        t.bus = pci_bus_free(t.bus);
        cr_assert(eq(sz, t.mmio.n, 0));
        cr_assert(eq(sz, t.pio.n, 0));
        cr_assert(eq(int, pci_device_slot(d.dev), -ENODEV));
        pci_device_free(d.dev);
}

Test(pci_bar, slot_assignment)
{
        PciDevice *devs[PCI_NUM_SLOTS] = {};
        PciDevice *extra = test_device_new("extra", 1);
        unsigned slot = 0;

        for (unsigned i = 0; i < PCI_NUM_SLOTS; i++)
                devs[i] = test_device_new("d", (uint16_t) i);

        cr_assert(eq(int, pci_bus_add_device(t.bus, devs[0], 0, NULL), -EINVAL));
        cr_assert(eq(int, pci_bus_add_device(t.bus, devs[0], 32, NULL), -EINVAL));
        cr_assert(eq(int, pci_bus_add_device(t.bus, devs[0], INT32_MAX, NULL), -EINVAL));
        cr_assert(eq(int, pci_bus_add_device(t.bus, NULL, 3, NULL), -EINVAL));
        cr_assert(eq(int, pci_bus_add_device(NULL, devs[0], 3, NULL), -EINVAL));

        cr_assert(eq(int, pci_bus_add_device(t.bus, devs[0], 3, &slot), 0));
        cr_assert(eq(uint, slot, 3));
        cr_assert(eq(int, pci_device_slot(devs[0]), 3));
        cr_assert(eq(int, pci_bus_add_device(t.bus, devs[1], 3, NULL), -EEXIST));
        cr_assert(eq(int, pci_device_slot(devs[1]), -ENODEV));
        /* First free: 1, 2, then 4 (3 is taken). */
        cr_assert(eq(int, pci_bus_add_device(t.bus, devs[1], -1, &slot), 0));
        cr_assert(eq(uint, slot, 1));
        cr_assert(eq(int, pci_bus_add_device(t.bus, devs[2], -1, &slot), 0));
        cr_assert(eq(uint, slot, 2));
        cr_assert(eq(int, pci_bus_add_device(t.bus, devs[3], -1, &slot), 0));
        cr_assert(eq(uint, slot, 4));
        cr_assert(eq(u16, cfg_read16(t.bus, 4, PCI_DEVICE_ID), 3));
        cr_assert(eq(ptr, pci_bus_get_device(t.bus, 4), devs[3]));
        cr_assert(eq(ptr, pci_bus_get_device(t.bus, 5), NULL));
        cr_assert(eq(ptr, pci_bus_get_device(t.bus, 99), NULL));

        for (unsigned i = 4; i < PCI_NUM_SLOTS - 1; i++)
                cr_assert(eq(int, pci_bus_add_device(t.bus, devs[i], -1, NULL), 0));
        cr_assert(eq(int, pci_bus_add_device(t.bus, extra, -1, NULL), -ENOSPC));
        cr_assert(eq(u16, cfg_read16(t.bus, 31, PCI_DEVICE_ID), PCI_NUM_SLOTS - 2));

        /* A freed slot is found again. */
        cr_assert(eq(int, pci_bus_remove_device(t.bus, devs[5]), 0));
        cr_assert(eq(int, pci_bus_add_device(t.bus, extra, -1, &slot), 0));
        cr_assert(eq(uint, slot, 6));

        pci_device_free(extra);
        for (unsigned i = 0; i < PCI_NUM_SLOTS; i++)
                pci_device_free(devs[i]);
}

/* The allocator on its own */

Test(pci_bar, allocator)
{
        PciAllocator a;
        uint64_t x, y, z;

        pci_allocator_init(&a, "test", 0x1000, 0x10000);
        cr_assert(eq(int, pci_allocator_alloc(&a, 0x1000, 0x1000, &x), 0));
        cr_assert(eq(u64, x, 0x1000));
        cr_assert(eq(int, pci_allocator_alloc(&a, 0x4000, 0x4000, &y), 0));
        cr_assert(eq(u64, y, 0x4000));
        /* The gap at 0x2000-0x3fff is used by what fits it. */
        cr_assert(eq(int, pci_allocator_alloc(&a, 0x2000, 0x2000, &z), 0));
        cr_assert(eq(u64, z, 0x2000));
        cr_assert(eq(int, pci_allocator_alloc(&a, 0x8000, 0x8000, &z), 0));
        cr_assert(eq(u64, z, 0x8000));
        cr_assert(eq(int, pci_allocator_alloc(&a, 0x8000, 0x8000, &z), -ENOSPC));
        cr_assert(eq(int, pci_allocator_alloc(&a, 0x1000, 0x1000, &z), 0));
        cr_assert(eq(u64, z, 0x10000));
        cr_assert(eq(int, pci_allocator_alloc(&a, 16, 16, &z), -ENOSPC));
        cr_assert(eq(int, pci_allocator_alloc(&a, 0, 16, &z), -EINVAL));
        cr_assert(eq(int, pci_allocator_alloc(&a, 16, 3, &z), -EINVAL));
        cr_assert(eq(int, pci_allocator_free(&a, 0x4000), 0));
        cr_assert(eq(int, pci_allocator_free(&a, 0x4000), -ENOENT));
        cr_assert(eq(int, pci_allocator_alloc(&a, 0x4000, 0x4000, &z), 0));
        cr_assert(eq(u64, z, 0x4000));
        pci_allocator_done(&a);

        /* Windows at the very top of the address space, huge alignments: no overflow. */
        pci_allocator_init(&a, "top", UINT64_MAX - 0xffff, 0x10000);
        cr_assert(eq(int, pci_allocator_alloc(&a, 0x8000, 0x8000, &x), 0));
        cr_assert(eq(u64, x, UINT64_MAX - 0xffff));
        cr_assert(eq(int, pci_allocator_alloc(&a, 0x8000, 0x8000, &x), 0));
        cr_assert(eq(u64, x, UINT64_MAX - 0x7fff));
        cr_assert(eq(int, pci_allocator_alloc(&a, 16, 16, &x), -ENOSPC));
        cr_assert(eq(int, pci_allocator_alloc(&a, 16, UINT64_C(1) << 63, &x), -ENOSPC));
        pci_allocator_done(&a);
        pci_allocator_init(&a, "wrap", UINT64_MAX - 0xfff, 0x100000);
        cr_assert(eq(u64, a.size, 0x1000));
        cr_assert(not(pci_allocator_contains(&a, UINT64_MAX, 2)));
        cr_assert(pci_allocator_contains(&a, UINT64_MAX, 1));
        pci_allocator_done(&a);
        pci_allocator_init(&a, "empty", 0x1000, 0);
        cr_assert(eq(int, pci_allocator_alloc(&a, 16, 16, &x), -ENOSPC));
        cr_assert(not(pci_allocator_contains(&a, 0x1000, 1)));
        pci_allocator_done(&a);
}
