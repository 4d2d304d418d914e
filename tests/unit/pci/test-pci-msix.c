/* SPDX-License-Identifier: Apache-2.0 */
#include <pthread.h>

#include "pci-test.h"

#define SLOT 3
#define N_VECTORS 8
#define TABLE_OFFSET 0x2000
#define PBA_OFFSET 0x3000

static TestBus t;
static Recorder rec;
static PciDevice *dev;
static FakeDev fake = { .tag = 0x60 };
static uint16_t cap;
static uint64_t bar;

/* A device with one 16 KiB BAR: its own registers at 0, the MSI-X table at 0x2000, the PBA at 0x3000. */
static void setup(void)
{
        memset(&rec, 0, sizeof rec);
        fake = (FakeDev) { .tag = 0x60 };
        test_bus_init(&t);
        dev = test_device_new("msix", 0x1041);
        pci_device_set_callbacks(dev, &rec_callbacks, &rec);
        cr_assert(eq(int, pci_device_add_bar(dev, 0, PCI_BAR_MEM32, 16 * KiB, false, &fake_ops, &fake), 0));
        cr_assert(eq(int, msix_init(dev, N_VECTORS, 0, TABLE_OFFSET, 0, PBA_OFFSET, &cap), 0));
        cr_assert(eq(int, pci_bus_add_device(t.bus, dev, SLOT, NULL), 0));
        bar = pci_device_bar_address(dev, 0);
        cfg_write16(t.bus, SLOT, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
        rec.n = 0;
}

static void teardown(void)
{
        dev = pci_device_free(dev);
        test_bus_done(&t);
}

TestSuite(pci_msix, .init = setup, .fini = teardown);

static uint64_t entry(uint16_t v, unsigned field)
{
        return bar + TABLE_OFFSET + v * PCI_MSIX_ENTRY_SIZE + field;
}

static uint32_t table_read(uint16_t v, unsigned field)
{
        return io_read(&t.mmio, entry(v, field), 4, NULL);
}

static void table_write(uint16_t v, unsigned field, uint32_t value)
{
        cr_assert(io_write(&t.mmio, entry(v, field), 4, value));
}

/* Programs vector v with a message and unmasks it. */
static void program(uint16_t v, uint64_t addr, uint32_t data)
{
        table_write(v, PCI_MSIX_ENTRY_LOWER_ADDR, (uint32_t) addr);
        table_write(v, PCI_MSIX_ENTRY_UPPER_ADDR, (uint32_t) (addr >> 32));
        table_write(v, PCI_MSIX_ENTRY_DATA, data);
        table_write(v, PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
}

static uint16_t ctrl(void)
{
        return cfg_read16(t.bus, SLOT, cap + PCI_MSIX_FLAGS);
}

static void set_ctrl(uint16_t bits)
{
        cfg_write16(t.bus, SLOT, cap + PCI_MSIX_FLAGS, bits);
}

static uint64_t pba(void)
{
        return io_read64(&t.mmio, bar + PBA_OFFSET);
}

Test(pci_msix, capability)
{
        cr_assert(eq(u16, cap, 0x40));
        cr_assert(eq(u8, cfg_read8(t.bus, SLOT, PCI_CAPABILITY_LIST), cap));
        cr_assert(eq(u8, cfg_read8(t.bus, SLOT, cap), PCI_CAP_ID_MSIX));
        cr_assert(eq(u8, cfg_read8(t.bus, SLOT, cap + PCI_CAP_LIST_NEXT), 0));
        cr_assert(eq(u16, ctrl(), N_VECTORS - 1));
        cr_assert(eq(u32, cfg_read32(t.bus, SLOT, cap + PCI_MSIX_TABLE), TABLE_OFFSET | 0));
        cr_assert(eq(u32, cfg_read32(t.bus, SLOT, cap + PCI_MSIX_PBA), PBA_OFFSET | 0));
        cr_assert(eq(u16, msix_n_vectors(dev), N_VECTORS));

        /* Only Enable and Function Mask are writable. */
        set_ctrl(0xffff);
        cr_assert(eq(u16, ctrl(), PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL | (N_VECTORS - 1)));
        cr_assert(msix_is_enabled(dev));
        set_ctrl(0);
        cr_assert(eq(u16, ctrl(), N_VECTORS - 1));
        cr_assert(not(msix_is_enabled(dev)));
        /* The high byte alone, as Linux writes it. */
        cfg_write8(t.bus, SLOT, cap + PCI_MSIX_FLAGS + 1, PCI_MSIX_FLAGS_ENABLE >> 8);
        cr_assert(msix_is_enabled(dev));
        cfg_write32(t.bus, SLOT, cap + PCI_MSIX_TABLE, 0xffffffff);
        cfg_write32(t.bus, SLOT, cap + PCI_MSIX_PBA, 0);
        cr_assert(eq(u32, cfg_read32(t.bus, SLOT, cap + PCI_MSIX_TABLE), TABLE_OFFSET));
        cr_assert(eq(u32, cfg_read32(t.bus, SLOT, cap + PCI_MSIX_PBA), PBA_OFFSET));
}

Test(pci_msix, table_reset_state)
{
        for (uint16_t v = 0; v < N_VECTORS; v++) {
                cr_assert(eq(u32, table_read(v, PCI_MSIX_ENTRY_LOWER_ADDR), 0));
                cr_assert(eq(u32, table_read(v, PCI_MSIX_ENTRY_UPPER_ADDR), 0));
                cr_assert(eq(u32, table_read(v, PCI_MSIX_ENTRY_DATA), 0));
                cr_assert(eq(u32, table_read(v, PCI_MSIX_ENTRY_VECTOR_CTRL), PCI_MSIX_ENTRY_CTRL_MASKBIT));
        }
        cr_assert(eq(u64, pba(), 0));
}

Test(pci_msix, table_writes_and_reads)
{
        uint64_t q;

        table_write(2, PCI_MSIX_ENTRY_LOWER_ADDR, 0xfee01003); /* bits 1:0 are read-only 0 */
        table_write(2, PCI_MSIX_ENTRY_UPPER_ADDR, 0x12345678);
        table_write(2, PCI_MSIX_ENTRY_DATA, 0xabcd0041);
        table_write(2, PCI_MSIX_ENTRY_VECTOR_CTRL, 0xfffffffe); /* reserved bits read 0 */
        cr_assert(eq(u32, table_read(2, PCI_MSIX_ENTRY_LOWER_ADDR), 0xfee01000));
        cr_assert(eq(u32, table_read(2, PCI_MSIX_ENTRY_UPPER_ADDR), 0x12345678));
        cr_assert(eq(u32, table_read(2, PCI_MSIX_ENTRY_DATA), 0xabcd0041));
        cr_assert(eq(u32, table_read(2, PCI_MSIX_ENTRY_VECTOR_CTRL), 0));
        /* 8-byte accesses: address as one qword, data and control as another. */
        q = io_read64(&t.mmio, entry(2, 0));
        cr_assert(eq(u64, q, 0x12345678fee01000));
        q = io_read64(&t.mmio, entry(2, 8));
        cr_assert(eq(u64, q, 0x00000000abcd0041));
        cr_assert(io_write(&t.mmio, entry(5, 0), 8, 0x00000001fee00004));
        cr_assert(io_write(&t.mmio, entry(5, 8), 8, 0x0000000100000033));
        cr_assert(eq(u64, io_read64(&t.mmio, entry(5, 0)), 0x00000001fee00004));
        cr_assert(eq(u64, io_read64(&t.mmio, entry(5, 8)), 0x0000000100000033));
        /* Other entries are untouched, and the device's handler never saw any of this. */
        cr_assert(eq(u32, table_read(4, PCI_MSIX_ENTRY_DATA), 0));
        cr_assert(eq(u32, table_read(6, PCI_MSIX_ENTRY_VECTOR_CTRL), 1));
        cr_assert(eq(uint, fake.reads + fake.writes, 0));

        /* The rest of the BAR is the device's. */
        cr_assert(eq(u32, io_read(&t.mmio, bar + 4, 1, NULL), 0x64));
        cr_assert(io_write(&t.mmio, bar + TABLE_OFFSET - 4, 4, 7));
        cr_assert(io_write(&t.mmio, bar + PBA_OFFSET + 8, 4, 7));
        cr_assert(eq(uint, fake.reads, 1));
        cr_assert(eq(uint, fake.writes, 2));
        cr_assert(eq(u64, fake.last_offset, PBA_OFFSET + 8));
}

Test(pci_msix, bad_table_accesses_are_ignored)
{
        uint8_t b[16];

        program(1, 0xfee00000, 0x41);
        memset(b, 0xaa, sizeof b);
        /* Byte, word, misaligned dword, misaligned qword: ignored, read as 0. */
        cr_assert(io_write(&t.mmio, entry(1, PCI_MSIX_ENTRY_DATA), 1, 0x99));
        cr_assert(io_write(&t.mmio, entry(1, PCI_MSIX_ENTRY_DATA), 2, 0x9999));
        cr_assert(io_write(&t.mmio, entry(1, PCI_MSIX_ENTRY_DATA + 2), 4, 0x99999999));
        cr_assert(io_write(&t.mmio, entry(1, 4), 8, UINT64_MAX));
        cr_assert(io_write(&t.mmio, entry(1, 0), 3, 0x999999));
        cr_assert(eq(u32, table_read(1, PCI_MSIX_ENTRY_DATA), 0x41));
        cr_assert(eq(u32, table_read(1, PCI_MSIX_ENTRY_LOWER_ADDR), 0xfee00000));
        cr_assert(eq(u32, table_read(1, PCI_MSIX_ENTRY_VECTOR_CTRL), 0));
        cr_assert(eq(u32, io_read(&t.mmio, entry(1, PCI_MSIX_ENTRY_DATA), 1, NULL), 0));
        cr_assert(eq(u32, io_read(&t.mmio, entry(1, PCI_MSIX_ENTRY_DATA), 2, NULL), 0));
        cr_assert(eq(u32, io_read(&t.mmio, entry(1, PCI_MSIX_ENTRY_DATA + 1), 4, NULL), 0));
        cr_assert(eq(u64, io_read64(&t.mmio, entry(1, 4)), 0));
        cr_assert(iobus_read(&t.mmio, entry(1, 0), b, 16));
        for (unsigned i = 0; i < 16; i++)
                cr_assert(eq(u8, b[i], 0));
        cr_assert(iobus_write(&t.mmio, entry(1, 0), b, 16));
        cr_assert(eq(u32, table_read(1, PCI_MSIX_ENTRY_DATA), 0x41));
        /* An access straddling the end of the device's registers and the table goes to neither. */
        cr_assert(eq(u64, io_read64(&t.mmio, bar + TABLE_OFFSET - 4), 0));
        cr_assert(eq(uint, fake.reads + fake.writes, 0));
        /* Accesses to the last entry and past the table. */
        table_write(N_VECTORS - 1, PCI_MSIX_ENTRY_DATA, 0x77);
        cr_assert(eq(u32, table_read(N_VECTORS - 1, PCI_MSIX_ENTRY_DATA), 0x77));
        cr_assert(io_write(&t.mmio, entry(N_VECTORS, 0), 4, 1));
        cr_assert(eq(uint, fake.writes, 1));
        cr_assert(eq(uint, rec_count(&rec, 'd'), 0));
}

Test(pci_msix, entry_changes_are_reported)
{
        const CallRecord *c;

        table_write(3, PCI_MSIX_ENTRY_LOWER_ADDR, 0xfee02000);
        cr_assert(eq(uint, rec_count(&rec, 'v'), 1));
        c = rec_last(&rec, 'v');
        cr_assert(eq(u16, c->vector, 3));
        cr_assert(eq(u64, c->addr, 0xfee02000));
        cr_assert(c->flag); /* MSI-X is off: masked */
        /* Writing the same value again is not a change. */
        table_write(3, PCI_MSIX_ENTRY_LOWER_ADDR, 0xfee02000);
        cr_assert(eq(uint, rec_count(&rec, 'v'), 1));
        table_write(3, PCI_MSIX_ENTRY_DATA, 0x55);
        table_write(3, PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
        cr_assert(eq(uint, rec_count(&rec, 'v'), 3));
        c = rec_last(&rec, 'v');
        cr_assert(eq(u32, c->data, 0x55));
        cr_assert(c->flag);

        set_ctrl(PCI_MSIX_FLAGS_ENABLE);
        cr_assert(eq(uint, rec_count(&rec, 'v'), 3 + N_VECTORS));
        for (unsigned i = 3; i < 3 + N_VECTORS; i++) {
                c = &rec.calls[i];
                cr_assert(eq(u16, c->vector, i - 3));
                cr_assert(eq(int, c->flag, c->vector != 3));
        }
        table_write(3, PCI_MSIX_ENTRY_VECTOR_CTRL, 1);
        c = rec_last(&rec, 'v');
        cr_assert(eq(u16, c->vector, 3));
        cr_assert(c->flag);
        table_write(3, PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
        cr_assert(not(rec_last(&rec, 'v')->flag));
        cr_assert(eq(uint, rec_count(&rec, 'v'), 5 + N_VECTORS));

        /* Function mask: every vector, masked; then every vector again. */
        set_ctrl(PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
        cr_assert(eq(uint, rec_count(&rec, 'v'), 5 + 2 * N_VECTORS));
        for (unsigned i = rec.n - N_VECTORS; i < rec.n; i++)
                cr_assert(rec.calls[i].flag);
        set_ctrl(PCI_MSIX_FLAGS_ENABLE);
        cr_assert(eq(uint, rec_count(&rec, 'v'), 5 + 3 * N_VECTORS));
        cr_assert(not(rec.calls[rec.n - N_VECTORS + 3].flag));
        /* Rewriting the same control value reports nothing. */
        set_ctrl(PCI_MSIX_FLAGS_ENABLE);
        cr_assert(eq(uint, rec_count(&rec, 'v'), 5 + 3 * N_VECTORS));
        set_ctrl(0);
        cr_assert(eq(uint, rec_count(&rec, 'v'), 5 + 4 * N_VECTORS));
        cr_assert(rec.calls[rec.n - N_VECTORS + 3].flag);
        cr_assert(eq(uint, rec_count(&rec, 'd'), 0));
}

Test(pci_msix, notify_delivers_when_unmasked)
{
        const CallRecord *c;
        uint64_t addr;
        uint32_t data;
        bool masked;

        cr_assert(eq(int, msix_notify(dev, 0), MSIX_NOTIFY_DISABLED));
        cr_assert(eq(u64, pba(), 0));
        program(0, 0xfee00000, 0x4021);
        set_ctrl(PCI_MSIX_FLAGS_ENABLE);
        cr_assert(eq(int, msix_vector_get(dev, 0, &addr, &data, &masked), 0));
        cr_assert(eq(u64, addr, 0xfee00000));
        cr_assert(eq(u32, data, 0x4021));
        cr_assert(not(masked));

        cr_assert(eq(int, msix_notify(dev, 0), MSIX_NOTIFY_DELIVERED));
        cr_assert(eq(uint, rec_count(&rec, 'd'), 1));
        c = rec_last(&rec, 'd');
        cr_assert(eq(u16, c->vector, 0));
        cr_assert(eq(u64, c->addr, 0xfee00000));
        cr_assert(eq(u32, c->data, 0x4021));
        cr_assert(eq(u64, pba(), 0));

        /* A vector still masked: pending, visible in the PBA, sent on unmask. */
        table_write(6, PCI_MSIX_ENTRY_LOWER_ADDR, 0xfee01000);
        table_write(6, PCI_MSIX_ENTRY_DATA, 0x4022);
        cr_assert(eq(int, msix_notify(dev, 6), MSIX_NOTIFY_PENDING));
        cr_assert(eq(int, msix_notify(dev, 6), MSIX_NOTIFY_PENDING));
        cr_assert(eq(uint, rec_count(&rec, 'd'), 1));
        cr_assert(eq(u64, pba(), 1u << 6));
        cr_assert(eq(u32, io_read(&t.mmio, bar + PBA_OFFSET, 4, NULL), 1u << 6));
        cr_assert(msix_vector_pending(dev, 6));
        cr_assert(eq(int, msix_vector_get(dev, 6, NULL, NULL, &masked), 0));
        cr_assert(masked);
        table_write(6, PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
        cr_assert(eq(uint, rec_count(&rec, 'd'), 2));
        c = rec_last(&rec, 'd');
        cr_assert(eq(u16, c->vector, 6));
        cr_assert(eq(u64, c->addr, 0xfee01000));
        cr_assert(eq(u32, c->data, 0x4022));
        cr_assert(eq(u64, pba(), 0));
        cr_assert(not(msix_vector_pending(dev, 6)));
        /* The route update comes before the delivery. */
        cr_assert(eq(int, rec.calls[rec.n - 2].kind, 'v'));
        cr_assert(not(rec.calls[rec.n - 2].flag));

        /* Masking again, then unmasking without a notification in between sends nothing. */
        table_write(6, PCI_MSIX_ENTRY_VECTOR_CTRL, 1);
        table_write(6, PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
        cr_assert(eq(uint, rec_count(&rec, 'd'), 2));
}

Test(pci_msix, function_mask_holds_messages_back)
{
        program(1, 0xfee00000, 0x31);
        program(2, 0xfee00000, 0x32);
        set_ctrl(PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
        cr_assert(eq(int, msix_notify(dev, 1), MSIX_NOTIFY_PENDING));
        cr_assert(eq(int, msix_notify(dev, 7), MSIX_NOTIFY_PENDING)); /* masked twice over */
        cr_assert(eq(u64, pba(), (1u << 1) | (1u << 7)));
        cr_assert(eq(uint, rec_count(&rec, 'd'), 0));

        set_ctrl(PCI_MSIX_FLAGS_ENABLE);
        /* Vector 1 goes out; vector 7's own mask bit still holds it. */
        cr_assert(eq(uint, rec_count(&rec, 'd'), 1));
        cr_assert(eq(u32, rec_last(&rec, 'd')->data, 0x31));
        cr_assert(eq(u64, pba(), 1u << 7));
        /* Unmasking vector 7 in the table sends it. */
        table_write(7, PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
        cr_assert(eq(uint, rec_count(&rec, 'd'), 2));
        cr_assert(eq(u64, pba(), 0));
}

Test(pci_msix, enable_transitions)
{
        program(4, 0xfee00000, 0x44);
        set_ctrl(PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
        cr_assert(eq(int, msix_notify(dev, 4), MSIX_NOTIFY_PENDING));
        /* Disabling keeps the pending bit and sends nothing... */
        set_ctrl(0);
        cr_assert(eq(uint, rec_count(&rec, 'd'), 0));
        cr_assert(msix_vector_pending(dev, 4));
        cr_assert(eq(int, msix_notify(dev, 4), MSIX_NOTIFY_DISABLED));
        /* ... and enabling unmasked sends it. */
        set_ctrl(PCI_MSIX_FLAGS_ENABLE);
        cr_assert(eq(uint, rec_count(&rec, 'd'), 1));
        cr_assert(eq(u32, rec_last(&rec, 'd')->data, 0x44));
        cr_assert(not(msix_vector_pending(dev, 4)));
        /* Every transition reported every vector (after three entry changes: the high address stayed 0). */
        cr_assert(eq(uint, rec_count(&rec, 'v'), 3 + 3 * N_VECTORS));
}

Test(pci_msix, bus_master_gates_messages)
{
        unsigned v_before;

        program(2, 0xfee00000, 0x22);
        set_ctrl(PCI_MSIX_FLAGS_ENABLE);
        v_before = rec_count(&rec, 'v');
        cfg_write16(t.bus, SLOT, PCI_COMMAND, PCI_COMMAND_MEMORY);
        /* Only the vector that could deliver changed state. */
        cr_assert(eq(uint, rec_count(&rec, 'v'), v_before + 1));
        cr_assert(eq(u16, rec_last(&rec, 'v')->vector, 2));
        cr_assert(rec_last(&rec, 'v')->flag);
        cr_assert(eq(int, msix_notify(dev, 2), MSIX_NOTIFY_PENDING));
        cfg_write16(t.bus, SLOT, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
        cr_assert(eq(uint, rec_count(&rec, 'v'), v_before + 2));
        cr_assert(not(rec_last(&rec, 'v')->flag));
        cr_assert(eq(uint, rec_count(&rec, 'd'), 1));
        cr_assert(eq(u32, rec_last(&rec, 'd')->data, 0x22));
}

Test(pci_msix, msix_enable_silences_intx)
{
        pci_device_set_intx(dev, true);
        cr_assert(eq(uint, rec_count(&rec, 'i'), 1));
        cr_assert(rec_last(&rec, 'i')->flag);
        set_ctrl(PCI_MSIX_FLAGS_ENABLE);
        cr_assert(eq(uint, rec_count(&rec, 'i'), 2));
        cr_assert(not(rec_last(&rec, 'i')->flag));
        set_ctrl(0);
        cr_assert(eq(uint, rec_count(&rec, 'i'), 3));
        cr_assert(rec_last(&rec, 'i')->flag);
}

Test(pci_msix, pba_is_read_only)
{
        table_write(0, PCI_MSIX_ENTRY_VECTOR_CTRL, 1);
        set_ctrl(PCI_MSIX_FLAGS_ENABLE);
        cr_assert(eq(int, msix_notify(dev, 0), MSIX_NOTIFY_PENDING));
        cr_assert(io_write(&t.mmio, bar + PBA_OFFSET, 8, 0));
        cr_assert(io_write(&t.mmio, bar + PBA_OFFSET, 4, 0xff));
        cr_assert(eq(u64, pba(), 1));
        cr_assert(eq(u32, io_read(&t.mmio, bar + PBA_OFFSET + 4, 4, NULL), 0));
        cr_assert(eq(u32, io_read(&t.mmio, bar + PBA_OFFSET, 2, NULL), 0));
        cr_assert(eq(uint, fake.writes, 0));
}

Test(pci_msix, bad_vectors)
{
        PciDevice *plain = test_device_new("plain", 1);

        cr_assert(eq(int, msix_notify(dev, N_VECTORS), -EINVAL));
        cr_assert(eq(int, msix_notify(dev, UINT16_MAX), -EINVAL));
        cr_assert(eq(int, msix_notify(plain, 0), -EINVAL));
        cr_assert(eq(int, msix_notify(NULL, 0), -EINVAL));
        cr_assert(eq(int, msix_vector_get(dev, N_VECTORS, NULL, NULL, NULL), -EINVAL));
        cr_assert(not(msix_vector_pending(dev, N_VECTORS)));
        cr_assert(not(msix_is_enabled(plain)));
        cr_assert(eq(u16, msix_n_vectors(plain), 0));
        pci_device_free(plain);
}

Test(pci_msix, table_follows_the_bar)
{
        uint64_t new = TEST_MEM32_BASE + 0x400000;
        bool claimed;

        program(1, 0xfee00000, 0x11);
        cfg_write32(t.bus, SLOT, PCI_BASE_ADDRESS_0, (uint32_t) new);
        (void) io_read(&t.mmio, entry(1, PCI_MSIX_ENTRY_DATA), 4, &claimed);
        cr_assert(not(claimed));
        bar = new;
        cr_assert(eq(u32, table_read(1, PCI_MSIX_ENTRY_DATA), 0x11));
}

Test(pci_msix, init_validation)
{
        PciDevice *d = test_device_new("v", 1);

        cr_assert(eq(int, pci_device_add_bar(d, 0, PCI_BAR_MEM32, 4096, false, NULL, NULL), 0));
        cr_assert(eq(int, pci_device_add_bar(d, 1, PCI_BAR_IO, 256, false, NULL, NULL), 0));
        cr_assert(eq(int, pci_device_add_bar(d, 2, PCI_BAR_MEM64, 64 * KiB, false, NULL, NULL), 0));

        cr_assert(eq(int, msix_init(d, 0, 0, 0, 0, 0x800, NULL), -EINVAL));
        cr_assert(eq(int, msix_init(d, MSIX_MAX_VECTORS + 1, 2, 0, 2, 0x8000, NULL), -EINVAL));
        cr_assert(eq(int, msix_init(d, 4, 1, 0, 0, 0x800, NULL), -EINVAL));      /* I/O BAR */
        cr_assert(eq(int, msix_init(d, 4, 3, 0, 0, 0x800, NULL), -EINVAL));      /* upper half */
        cr_assert(eq(int, msix_init(d, 4, 4, 0, 0, 0x800, NULL), -EINVAL));      /* no BAR */
        cr_assert(eq(int, msix_init(d, 4, 6, 0, 0, 0x800, NULL), -EINVAL));      /* no such index */
        cr_assert(eq(int, msix_init(d, 4, 0, 4, 0, 0x800, NULL), -EINVAL));      /* misaligned */
        cr_assert(eq(int, msix_init(d, 4, 0, 0, 0, 0x804, NULL), -EINVAL));
        cr_assert(eq(int, msix_init(d, 4, 0, 0xfc8, 0, 0x800, NULL), -EINVAL));  /* past the end */
        cr_assert(eq(int, msix_init(d, 4, 0, 0, 0, 0x1000, NULL), -EINVAL));
        cr_assert(eq(int, msix_init(d, 4, 0, 0, 0, 0x38, NULL), -EINVAL));      /* overlap */
        cr_assert(eq(int, msix_init(d, 4, 0, 0x100, 0, 0x138, NULL), -EINVAL));
        cr_assert(eq(int, msix_init(d, 4, 0, 0xffffff00, 0, 0, NULL), -EINVAL));
        cr_assert(eq(int, msix_init(NULL, 4, 0, 0, 0, 0x800, NULL), -EINVAL));
        /* The largest table, with the PBA in another BAR. */
        cr_assert(eq(int, msix_init(d, MSIX_MAX_VECTORS, 2, 0, 0, 0, NULL), 0));
        cr_assert(eq(int, msix_init(d, 4, 0, 0, 0, 0x40, NULL), -EEXIST));
        cr_assert(eq(u16, msix_n_vectors(d), MSIX_MAX_VECTORS));
        pci_device_free(d);
}

/* MSI-X in BARs of its own, no device handlers, and a PBA over more than one qword. */
Test(pci_msix, dedicated_bars_and_large_pba)
{
        PciDevice *d = test_device_new("big", 1);
        uint64_t tbar, pbar;
        uint16_t c;

        pci_device_set_callbacks(d, &rec_callbacks, &rec);
        cr_assert(eq(int, pci_device_add_bar(d, 1, PCI_BAR_MEM32, 4096, false, NULL, NULL), 0));
        cr_assert(eq(int, pci_device_add_bar(d, 2, PCI_BAR_MEM64, 4096, true, NULL, NULL), 0));
        cr_assert(eq(int, msix_init(d, 100, 2, 0, 1, 0x10, &c), 0));
        cr_assert(eq(int, pci_bus_add_device(t.bus, d, 7, NULL), 0));
        cfg_write16(t.bus, 7, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
        cr_assert(eq(u16, cfg_read16(t.bus, 7, c + PCI_MSIX_FLAGS), 99));
        cr_assert(eq(u32, cfg_read32(t.bus, 7, c + PCI_MSIX_TABLE), 2));
        cr_assert(eq(u32, cfg_read32(t.bus, 7, c + PCI_MSIX_PBA), 0x10 | 1));
        tbar = pci_device_bar_address(d, 2);
        pbar = pci_device_bar_address(d, 1);

        cfg_write16(t.bus, 7, c + PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE);
        cr_assert(eq(int, msix_notify(d, 99), MSIX_NOTIFY_PENDING));
        cr_assert(eq(int, msix_notify(d, 64), MSIX_NOTIFY_PENDING));
        cr_assert(eq(int, msix_notify(d, 3), MSIX_NOTIFY_PENDING));
        cr_assert(eq(u64, io_read64(&t.mmio, pbar + 0x10), 1u << 3));
        cr_assert(eq(u64, io_read64(&t.mmio, pbar + 0x18), (UINT64_C(1) << 35) | 1));
        cr_assert(eq(u32, io_read(&t.mmio, pbar + 0x1c, 4, NULL), 1u << 3));
        /* Outside the PBA but inside its BAR: nothing there. */
        cr_assert(eq(u64, io_read64(&t.mmio, pbar + 0x20), 0));

        cr_assert(io_write(&t.mmio, tbar + 99 * 16 + 8, 8, 0x0000000000000099));
        cr_assert(eq(uint, rec_count(&rec, 'd'), 1));
        cr_assert(eq(u32, rec_last(&rec, 'd')->data, 0x99));
        cr_assert(eq(u64, io_read64(&t.mmio, pbar + 0x18), 1));
        pci_device_free(d);
}

/* Several threads raise vectors while another masks and unmasks them: nothing is lost or crashes. */
typedef struct Stress {
        PciDevice *dev;
        unsigned delivered, errors;
} Stress;

static Stress stress;

static void stress_deliver(void *ctx, uint16_t vector, uint64_t addr, uint32_t data)
{
        __atomic_add_fetch(&stress.delivered, 1, __ATOMIC_RELAXED);
}

static const PciDeviceCallbacks stress_callbacks = { .deliver = stress_deliver };

static void *stress_notifier(void *arg)
{
        uint16_t v = (uint16_t) (uintptr_t) arg;
        for (unsigned i = 0; i < 20000; i++)
                if (msix_notify(stress.dev, v) < 0)
                        __atomic_add_fetch(&stress.errors, 1, __ATOMIC_RELAXED);
        return NULL;
}

Test(pci_msix, concurrent_notify_and_masking)
{
        pthread_t th[4];

        stress = (Stress) { .dev = dev };
        pci_device_set_callbacks(dev, &stress_callbacks, NULL);
        for (uint16_t v = 0; v < 4; v++)
                program(v, 0xfee00000, v);
        set_ctrl(PCI_MSIX_FLAGS_ENABLE);

        for (uintptr_t i = 0; i < ELEMENTSOF(th); i++)
                cr_assert(eq(int, pthread_create(&th[i], NULL, stress_notifier, (void *) i), 0));
        for (unsigned i = 0; i < 2000; i++) {
                table_write((uint16_t) (i % 4), PCI_MSIX_ENTRY_VECTOR_CTRL, 1);
                set_ctrl(PCI_MSIX_FLAGS_ENABLE | (i & 1 ? PCI_MSIX_FLAGS_MASKALL : 0));
                (void) pba();
                table_write((uint16_t) (i % 4), PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
        }
        for (unsigned i = 0; i < ELEMENTSOF(th); i++)
                pthread_join(th[i], NULL);

        /* Once everything is unmasked, nothing stays pending. */
        set_ctrl(PCI_MSIX_FLAGS_ENABLE);
        cr_assert(eq(u64, pba(), 0));
        cr_assert(gt(uint, stress.delivered, 0));
        cr_assert(eq(uint, stress.errors, 0));
        pci_device_set_callbacks(dev, &rec_callbacks, &rec);
}

Test(pci_msix, bus_reset_returns_to_power_on_state)
{
        uint64_t moved = bar + 64 * KiB;

        program(2, 0xfee00000, 0x42);
        set_ctrl(PCI_MSIX_FLAGS_ENABLE);
        cr_assert(eq(int, msix_notify(dev, 3), MSIX_NOTIFY_PENDING));
        cfg_write32(t.bus, SLOT, PCI_BASE_ADDRESS_0, (uint32_t) moved);
        cr_assert(eq(u64, pci_device_bar_address(dev, 0), moved));
        rec.n = 0;

        pci_bus_reset(t.bus);

        /* Decoding off, the BAR back where the bus first put it, MSI-X disabled and masked. */
        cr_assert(eq(u16, pci_device_command(dev), 0));
        cr_assert(eq(u16, cfg_read16(t.bus, SLOT, PCI_COMMAND), 0));
        cr_assert(eq(u64, pci_device_bar_address(dev, 0), bar));
        cr_assert(not(pci_device_bar_mapped(dev, 0, NULL)));
        cr_assert(eq(uint, rec_count(&rec, 'b'), 1));
        cr_assert(not(rec_last(&rec, 'b')->flag));
        cr_assert(not(msix_is_enabled(dev)));
        cr_assert(eq(u16, ctrl(), N_VECTORS - 1));
        cr_assert(not(msix_vector_pending(dev, 3)));
        cr_assert(eq(uint, rec_count(&rec, 'v'), N_VECTORS));
        cr_assert(eq(int, msix_notify(dev, 2), MSIX_NOTIFY_DISABLED));
        /* The host bridge keeps its identity. */
        cr_assert(eq(u16, cfg_read16(t.bus, 0, PCI_VENDOR_ID), PCI_HOST_BRIDGE_VENDOR_ID));

        /* And the guest can bring the device up again. */
        cfg_write16(t.bus, SLOT, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
        cr_assert(pci_device_bar_mapped(dev, 0, NULL));
        cr_assert(eq(u32, table_read(2, PCI_MSIX_ENTRY_VECTOR_CTRL), PCI_MSIX_ENTRY_CTRL_MASKBIT));
        cr_assert(eq(u32, table_read(2, PCI_MSIX_ENTRY_DATA), 0));
}
