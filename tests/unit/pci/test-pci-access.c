/* SPDX-License-Identifier: Apache-2.0 */
#include <pthread.h>

#include "pci-test.h"

#define ECAM_BASE UINT64_C(0xe0000000)

static TestBus t;
static PciDevice *dev;

static void setup(void)
{
        test_bus_init(&t);
        cr_assert(eq(int, iobus_register(&t.mmio, ECAM_BASE, PCI_ECAM_SIZE, &pci_ecam_ops, t.bus, "ecam"),
                     0));
        cr_assert(eq(int, iobus_register(&t.pio, PCI_CF8_PORT, PCI_CF8_LEN, &pci_cf8_ops, t.bus, "cf8"), 0));
        dev = test_device_new("dev", 0x1042);
        cr_assert(eq(int, pci_bus_add_device(t.bus, dev, 3, NULL), 0));
}

static void teardown(void)
{
        dev = pci_device_free(dev);
        (void) iobus_unregister(&t.mmio, ECAM_BASE);
        (void) iobus_unregister(&t.pio, PCI_CF8_PORT);
        test_bus_done(&t);
}

TestSuite(pci_access, .init = setup, .fini = teardown);

static uint64_t ecam(uint32_t busnum, uint32_t devnum, uint32_t fn, uint32_t reg)
{
        return ECAM_BASE + ((uint64_t) busnum << 20 | devnum << 15 | fn << 12 | reg);
}

static uint32_t ecam_read(uint32_t busnum, uint32_t devnum, uint32_t fn, uint32_t reg, uint32_t len)
{
        bool claimed;
        uint32_t v = io_read(&t.mmio, ecam(busnum, devnum, fn, reg), len, &claimed);
        cr_assert(claimed);
        return v;
}

static void ecam_write(uint32_t busnum, uint32_t devnum, uint32_t fn, uint32_t reg, uint32_t len, uint32_t v)
{
        cr_assert(io_write(&t.mmio, ecam(busnum, devnum, fn, reg), len, v));
}

static uint32_t config_address(uint32_t busnum, uint32_t devnum, uint32_t fn, uint32_t reg)
{
        return PCI_CONFIG_ADDRESS_ENABLE | busnum << 16 | devnum << 11 | fn << 8 | (reg & 0xfc);
}

/* What a guest does with mechanism #1: address at 0xcf8, then data at 0xcfc + (reg & 3). */
static uint32_t cf8_read(uint32_t busnum, uint32_t devnum, uint32_t fn, uint32_t reg, uint32_t len)
{
        cr_assert(io_write(&t.pio, 0xcf8, 4, config_address(busnum, devnum, fn, reg)));
        return io_read(&t.pio, 0xcfc + (reg & 3), len, NULL);
}

static void cf8_write(uint32_t busnum, uint32_t devnum, uint32_t fn, uint32_t reg, uint32_t len, uint32_t v)
{
        cr_assert(io_write(&t.pio, 0xcf8, 4, config_address(busnum, devnum, fn, reg)));
        cr_assert(io_write(&t.pio, 0xcfc + (reg & 3), len, v));
}

Test(pci_access, ecam_reads)
{
        cr_assert(eq(u32, ecam_read(0, 0, 0, PCI_VENDOR_ID, 4),
                     (uint32_t) PCI_HOST_BRIDGE_DEVICE_ID << 16 | PCI_HOST_BRIDGE_VENDOR_ID));
        cr_assert(eq(u32, ecam_read(0, 3, 0, PCI_VENDOR_ID, 4), 0x10421af4));
        cr_assert(eq(u32, ecam_read(0, 3, 0, PCI_DEVICE_ID, 2), 0x1042));
        cr_assert(eq(u32, ecam_read(0, 3, 0, PCI_CLASS_DEVICE + 1, 1), 0x01));
        cr_assert(eq(u32, ecam_read(0, 3, 0, PCI_INTERRUPT_PIN, 1), 1));
        cr_assert(eq(u32, ecam_read(0, 4, 0, PCI_VENDOR_ID, 4), 0xffffffff));
        cr_assert(eq(u32, ecam_read(0, 31, 0, PCI_VENDOR_ID, 2), 0xffff));
        cr_assert(eq(u32, ecam_read(0, 3, 1, PCI_VENDOR_ID, 4), 0xffffffff));
        cr_assert(eq(u32, ecam_read(0, 3, 7, PCI_VENDOR_ID, 4), 0xffffffff));
        cr_assert(eq(u32, ecam_read(1, 3, 0, PCI_VENDOR_ID, 4), 0xffffffff));
        cr_assert(eq(u32, ecam_read(255, 31, 7, 0xffc, 4), 0xffffffff));
        /* The extended space is reachable through ECAM only. */
        cr_assert(eq(u32, ecam_read(0, 3, 0, 0x100, 4), 0));
        cr_assert(eq(u32, ecam_read(0, 3, 0, 0xfff, 1), 0));
}

Test(pci_access, ecam_and_cf8_see_the_same_space)
{
        ecam_write(0, 3, 0, PCI_INTERRUPT_LINE, 1, 0x0b);
        cr_assert(eq(u32, cf8_read(0, 3, 0, PCI_INTERRUPT_LINE, 1), 0x0b));
        cf8_write(0, 3, 0, PCI_INTERRUPT_LINE, 1, 0x0a);
        cr_assert(eq(u32, ecam_read(0, 3, 0, PCI_INTERRUPT_LINE, 1), 0x0a));
        ecam_write(0, 3, 0, PCI_COMMAND, 2, PCI_COMMAND_MASTER);
        cr_assert(eq(u32, cf8_read(0, 3, 0, PCI_COMMAND, 2), PCI_COMMAND_MASTER));
        cr_assert(pci_device_bus_master(dev));
        /* Writes to bus 1 or function 1 land nowhere. */
        ecam_write(1, 3, 0, PCI_INTERRUPT_LINE, 1, 0x33);
        ecam_write(0, 3, 2, PCI_INTERRUPT_LINE, 1, 0x33);
        cf8_write(1, 3, 0, PCI_INTERRUPT_LINE, 1, 0x33);
        cf8_write(0, 3, 5, PCI_INTERRUPT_LINE, 1, 0x33);
        cr_assert(eq(u32, cf8_read(0, 3, 0, PCI_INTERRUPT_LINE, 1), 0x0a));
}

Test(pci_access, ecam_hostile_accesses)
{
        uint8_t b[16];

        /* 8-byte and crossing accesses: all ones, no effect. */
        cr_assert(eq(u64, io_read64(&t.mmio, ecam(0, 3, 0, 0)), UINT64_MAX));
        cr_assert(io_write(&t.mmio, ecam(0, 3, 0, PCI_INTERRUPT_LINE - 4), 8, UINT64_MAX));
        cr_assert(eq(u32, ecam_read(0, 3, 0, PCI_INTERRUPT_LINE, 1), 5));
        cr_assert(eq(u32, ecam_read(0, 3, 0, PCI_INTERRUPT_LINE + 2, 4), 0xffffffff));
        cr_assert(eq(u32, ecam_read(0, 3, 0, 0xffe, 4), 0xffffffff));
        cr_assert(iobus_read(&t.mmio, ecam(0, 3, 0, 0), b, 16));
        for (unsigned i = 0; i < 16; i++)
                cr_assert(eq(u8, b[i], 0xff));
        cr_assert(iobus_write(&t.mmio, ecam(0, 3, 0, 0), b, 16));
        cr_assert(iobus_write(&t.mmio, ecam(0, 3, 0, 0), b, 3));
        /* The last byte of the region. */
        cr_assert(eq(u32, ecam_read(255, 31, 7, 0xfff, 1), 0xff));
        /* Called directly with offsets past the region. */
        memset(b, 0, sizeof b);
        pci_ecam_ops.read(t.bus, PCI_ECAM_SIZE, b, 4);
        cr_assert(eq(u32, le32(b), 0xffffffff));
        pci_ecam_ops.read(t.bus, UINT64_MAX - 1, b, 2);
        pci_ecam_ops.write(t.bus, PCI_ECAM_SIZE + (3 << 15) + PCI_INTERRUPT_LINE, b, 1);
        pci_ecam_ops.write(t.bus, UINT64_MAX, b, 1);
        cr_assert(eq(u32, ecam_read(0, 3, 0, PCI_INTERRUPT_LINE, 1), 5));
}

Test(pci_access, config_address_register)
{
        cr_assert(eq(u32, io_read(&t.pio, 0xcf8, 4, NULL), 0));
        cr_assert(io_write(&t.pio, 0xcf8, 4, 0x80001818));
        cr_assert(eq(u32, io_read(&t.pio, 0xcf8, 4, NULL), 0x80001818));
        /* Reserved bits 30:24 and bits 1:0 read as 0. */
        cr_assert(io_write(&t.pio, 0xcf8, 4, 0xffffffff));
        cr_assert(eq(u32, io_read(&t.pio, 0xcf8, 4, NULL), 0x80fffffc));
        cr_assert(io_write(&t.pio, 0xcf8, 4, 0));
        cr_assert(eq(u32, io_read(&t.pio, 0xcf8, 4, NULL), 0));
}

Test(pci_access, enable_bit)
{
        /* Without bit 31, CONFIG_DATA is not a config access. */
        cr_assert(io_write(&t.pio, 0xcf8, 4, config_address(0, 3, 0, 0) & ~PCI_CONFIG_ADDRESS_ENABLE));
        cr_assert(eq(u32, io_read(&t.pio, 0xcfc, 4, NULL), 0xffffffff));
        cr_assert(eq(u32, io_read(&t.pio, 0xcfe, 2, NULL), 0xffff));
        cr_assert(io_write(&t.pio, 0xcf8, 4,
                           config_address(0, 3, 0, PCI_INTERRUPT_LINE) & ~PCI_CONFIG_ADDRESS_ENABLE));
        cr_assert(io_write(&t.pio, 0xcfc, 1, 0x44));
        cr_assert(eq(u32, cf8_read(0, 3, 0, PCI_INTERRUPT_LINE, 1), 5));
        cr_assert(eq(u32, cf8_read(0, 3, 0, PCI_VENDOR_ID, 4), 0x10421af4));
}

Test(pci_access, partial_data_accesses)
{
        /* Point at the dword holding Interrupt Line (0x3c), Pin (0x3d), Min_Gnt, Max_Lat. */
        cr_assert(io_write(&t.pio, 0xcf8, 4, config_address(0, 3, 0, PCI_INTERRUPT_LINE)));
        cr_assert(eq(u32, io_read(&t.pio, 0xcfc, 4, NULL), 0x00000105));
        cr_assert(eq(u32, io_read(&t.pio, 0xcfc, 1, NULL), 0x05));
        cr_assert(eq(u32, io_read(&t.pio, 0xcfd, 1, NULL), 0x01));
        cr_assert(eq(u32, io_read(&t.pio, 0xcfe, 1, NULL), 0x00));
        cr_assert(eq(u32, io_read(&t.pio, 0xcfc, 2, NULL), 0x0105));
        cr_assert(eq(u32, io_read(&t.pio, 0xcfe, 2, NULL), 0x0000));
        cr_assert(eq(u32, io_read(&t.pio, 0xcfd, 2, NULL), 0x0001));
        /* Accesses that run past 0xcff are not config accesses (the IoBus would not even pass them on). */
        static const struct {
                uint64_t offset;
                uint32_t len;
        } past[] = { { 5, 4 }, { 6, 4 }, { 7, 2 }, { 7, 4 }, { 8, 1 }, { 4, 8 }, { UINT64_MAX, 1 } };
        for (unsigned i = 0; i < ELEMENTSOF(past); i++) {
                uint8_t b[8] = {};
                pci_cf8_ops.read(t.bus, past[i].offset, b, past[i].len);
                for (uint32_t k = 0; k < past[i].len; k++)
                        cr_assert(eq(u8, b[k], 0xff));
                pci_cf8_ops.write(t.bus, past[i].offset, (const uint8_t[8]) {}, past[i].len);
        }
        pci_cf8_ops.read(t.bus, 4, NULL, 0);
        pci_cf8_ops.write(t.bus, 0, NULL, 0);
        cr_assert(eq(u32, io_read(&t.pio, 0xcfc, 4, NULL), 0x00000105));

        /* Word at 0xcfe reaches bytes 2-3 of the dword: the device id through the header's first dword. */
        cr_assert(io_write(&t.pio, 0xcf8, 4, config_address(0, 3, 0, 0)));
        cr_assert(eq(u32, io_read(&t.pio, 0xcfe, 2, NULL), 0x1042));
        cr_assert(eq(u32, io_read(&t.pio, 0xcfd, 1, NULL), 0x1a));
        cr_assert(eq(u32, io_read(&t.pio, 0xcff, 1, NULL), 0x10));

        /* Byte write at 0xcfc to the Interrupt Line; the read-only Pin next to it ignores 0xcfd. */
        cr_assert(io_write(&t.pio, 0xcf8, 4, config_address(0, 3, 0, PCI_INTERRUPT_LINE)));
        cr_assert(io_write(&t.pio, 0xcfc, 1, 0x0e));
        cr_assert(io_write(&t.pio, 0xcfd, 1, 0x04));
        cr_assert(eq(u32, io_read(&t.pio, 0xcfc, 4, NULL), 0x0000010e));
        /* Word write at 0xcfe to the upper half of Command/Status: Status is W1C only. */
        cr_assert(io_write(&t.pio, 0xcf8, 4, config_address(0, 3, 0, PCI_COMMAND)));
        cr_assert(io_write(&t.pio, 0xcfc, 2, PCI_COMMAND_MASTER));
        cr_assert(io_write(&t.pio, 0xcfe, 2, 0xffff));
        cr_assert(eq(u32, io_read(&t.pio, 0xcfc, 4, NULL), PCI_COMMAND_MASTER));
        cr_assert(io_write(&t.pio, 0xcfd, 1, PCI_COMMAND_INTX_DISABLE >> 8));
        cr_assert(eq(u32, io_read(&t.pio, 0xcfc, 2, NULL), PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE));
}

Test(pci_access, non_dword_config_address_accesses_are_plain_io)
{
        cr_assert(io_write(&t.pio, 0xcf8, 4, config_address(0, 3, 0, 0)));
        /* Byte and word accesses to 0xcf8-0xcfb leave CONFIG_ADDRESS alone. */
        cr_assert(io_write(&t.pio, 0xcfb, 1, 0x01));
        cr_assert(io_write(&t.pio, 0xcf9, 1, 0x06));
        cr_assert(io_write(&t.pio, 0xcf8, 2, 0));
        cr_assert(io_write(&t.pio, 0xcfa, 2, 0));
        cr_assert(io_write(&t.pio, 0xcf9, 4, 0)); /* crosses into CONFIG_DATA: nothing */
        cr_assert(eq(u32, io_read(&t.pio, 0xcf8, 4, NULL), config_address(0, 3, 0, 0)));
        cr_assert(eq(u32, io_read(&t.pio, 0xcf8, 1, NULL), 0xff));
        cr_assert(eq(u32, io_read(&t.pio, 0xcfa, 2, NULL), 0xffff));
        cr_assert(eq(u32, io_read(&t.pio, 0xcf9, 4, NULL), 0xffffffff));
        cr_assert(eq(u32, io_read(&t.pio, 0xcfc, 4, NULL), 0x10421af4));
}

/* A reset control register at 0xcf9, handed byte accesses by the bus. */
typedef struct ResetControl {
        unsigned writes, reads;
        uint64_t last_offset;
        uint8_t value;
} ResetControl;

static void rc_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len)
{
        ResetControl *rc = opaque;
        rc->reads++;
        rc->last_offset = offset;
        memset(data, 0, len);
        if (offset == 1)
                data[0] = rc->value;
}

static void rc_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
        ResetControl *rc = opaque;
        rc->writes++;
        rc->last_offset = offset;
        if (offset == 1 && len == 1)
                rc->value = data[0];
}

static const IoOps rc_ops = { .read = rc_read, .write = rc_write };

Test(pci_access, config_address_passthrough)
{
        ResetControl rc = {};
        IoBus mmio, pio;
        PciBus *bus;
        PciBusConfig config = { .mmio = &mmio, .pio = &pio, .cf8_passthrough_ops = &rc_ops,
                                .cf8_passthrough_opaque = &rc };

        iobus_init(&mmio, "mmio");
        iobus_init(&pio, "pio");
        cr_assert(eq(int, pci_bus_new(&config, &bus), 0));
        cr_assert(eq(int, iobus_register(&pio, PCI_CF8_PORT, PCI_CF8_LEN, &pci_cf8_ops, bus, "pci-cf8"), 0));

        cr_assert(io_write(&pio, 0xcf8, 4, PCI_CONFIG_ADDRESS_ENABLE));
        cr_assert(io_write(&pio, 0xcf9, 1, 0x06));
        cr_assert(eq(uint, rc.writes, 1));
        cr_assert(eq(u64, rc.last_offset, 1));
        cr_assert(eq(u8, rc.value, 0x06));
        cr_assert(eq(u32, io_read(&pio, 0xcf9, 1, NULL), 0x06));
        cr_assert(eq(uint, rc.reads, 1));
        cr_assert(eq(u32, io_read(&pio, 0xcfa, 2, NULL), 0));
        cr_assert(eq(u64, rc.last_offset, 2));
        /* Dword accesses at 0xcf8 stay CONFIG_ADDRESS; crossing accesses go nowhere. */
        cr_assert(eq(u32, io_read(&pio, 0xcf8, 4, NULL), PCI_CONFIG_ADDRESS_ENABLE));
        cr_assert(io_write(&pio, 0xcfa, 4, 0));
        cr_assert(eq(uint, rc.reads + rc.writes, 3));
        cr_assert(eq(u32, io_read(&pio, 0xcfc, 2, NULL), PCI_HOST_BRIDGE_VENDOR_ID));

        (void) iobus_unregister(&pio, PCI_CF8_PORT);
        pci_bus_free(bus);
        iobus_done(&mmio);
        iobus_done(&pio);
}

/* The probe Linux runs before trusting mechanism #1 (pci_check_type1). */
Test(pci_access, linux_type1_probe)
{
        uint32_t saved;

        cr_assert(io_write(&t.pio, 0xcfb, 1, 0x01));
        saved = io_read(&t.pio, 0xcf8, 4, NULL);
        cr_assert(io_write(&t.pio, 0xcf8, 4, 0x80000000));
        cr_assert(eq(u32, io_read(&t.pio, 0xcf8, 4, NULL), 0x80000000));
        cr_assert(io_write(&t.pio, 0xcf8, 4, saved));
        /* ... and the sanity check that follows: a host bridge in slot 0. */
        cr_assert(eq(u32, cf8_read(0, 0, 0, PCI_CLASS_DEVICE, 2), 0x0600));
}

Test(pci_access, bus_scan)
{
        PciDevice *more[3];
        unsigned slots[3] = { 7, 8, 31 }, found = 0;

        for (unsigned i = 0; i < 3; i++) {
                more[i] = test_device_new("more", (uint16_t) (0x2000 + i));
                cr_assert(eq(int, pci_bus_add_device(t.bus, more[i], (int) slots[i], NULL), 0));
        }
        for (uint32_t d = 0; d < 32; d++)
                for (uint32_t fn = 0; fn < 8; fn++) {
                        uint32_t id = cf8_read(0, d, fn, PCI_VENDOR_ID, 4);
                        if (id == 0xffffffff)
                                continue;
                        cr_assert(eq(u32, fn, 0));
                        cr_assert(eq(u32, ecam_read(0, d, fn, PCI_VENDOR_ID, 4), id));
                        found++;
                }
        cr_assert(eq(uint, found, 5)); /* host bridge, dev, and the three above */
        cr_assert(eq(u32, cf8_read(0, 31, 0, PCI_DEVICE_ID, 2), 0x2002));
        for (unsigned i = 0; i < 3; i++)
                pci_device_free(more[i]);
}

/* vCPU threads doing config accesses and BAR accesses while one of them moves the BAR around. */
typedef struct Shared {
        uint64_t bar_a, bar_b;
        unsigned bad;
} Shared;

static Shared shared;
static FakeDev shared_fake = { .tag = 0x70 };

static void *config_reader(void *arg)
{
        uint32_t slot = (uint32_t) (uintptr_t) arg;

        for (unsigned i = 0; i < 20000; i++) {
                uint8_t b[4], v;

                pci_bus_config_read(t.bus, 0, slot, 0, PCI_VENDOR_ID, b, 4);
                if (le32(b) != 0x10421af4)
                        __atomic_add_fetch(&shared.bad, 1, __ATOMIC_RELAXED);
                v = (uint8_t) i;
                pci_bus_config_write(t.bus, 0, slot, 0, PCI_CACHE_LINE_SIZE, &v, 1);
                /* Whichever address the BAR is at, an access there either hits it or nothing. */
                (void) iobus_read(&t.mmio, i & 1 ? shared.bar_a : shared.bar_b, b, 4);
                (void) pci_device_bar_mapped(dev, 0, NULL);
        }
        return NULL;
}

Test(pci_access, concurrent_accesses)
{
        PciDevice *other = test_device_new("other", 0x1042);
        pthread_t th[3];

        cr_assert(eq(int, pci_bus_remove_device(t.bus, dev), 0));
        dev = pci_device_free(dev);
        dev = test_device_new("moving", 0x1042);
        cr_assert(eq(int, pci_device_add_bar(dev, 0, PCI_BAR_MEM32, 4096, false, &fake_ops, &shared_fake),
                     0));
        cr_assert(eq(int, pci_bus_add_device(t.bus, dev, 3, NULL), 0));
        cr_assert(eq(int, pci_bus_add_device(t.bus, other, 4, NULL), 0));
        shared = (Shared) { .bar_a = pci_device_bar_address(dev, 0), .bar_b = TEST_MEM32_BASE + 0x100000 };
        ecam_write(0, 3, 0, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);

        cr_assert(eq(int, pthread_create(&th[0], NULL, config_reader, (void *) (uintptr_t) 3), 0));
        cr_assert(eq(int, pthread_create(&th[1], NULL, config_reader, (void *) (uintptr_t) 4), 0));
        cr_assert(eq(int, pthread_create(&th[2], NULL, config_reader, (void *) (uintptr_t) 3), 0));
        for (unsigned i = 0; i < 5000; i++) {
                uint8_t b[4];
                put_le32(b, (uint32_t) (i & 1 ? shared.bar_b : shared.bar_a));
                pci_bus_config_write(t.bus, 0, 3, 0, PCI_BASE_ADDRESS_0, b, 4);
                if (i % 7 == 0) {
                        b[0] = i & 2 ? 0 : PCI_COMMAND_MEMORY;
                        b[1] = 0;
                        pci_bus_config_write(t.bus, 0, 3, 0, PCI_COMMAND, b, 2);
                }
        }
        for (unsigned i = 0; i < ELEMENTSOF(th); i++)
                pthread_join(th[i], NULL);
        cr_assert(eq(uint, shared.bad, 0));
        pci_device_free(other);
}
