/* SPDX-License-Identifier: Apache-2.0 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "acpi.h"

#define MEM_SIZE (64 * MiB)

static uint64_t get_le(const uint8_t *p, unsigned size)
{
        uint64_t v = 0;

        for (unsigned i = 0; i < size; i++)
                v |= (uint64_t) p[i] << (8 * i);
        return v;
}

static uint8_t sum(const uint8_t *p, size_t len)
{
        uint8_t s = 0;

        for (size_t i = 0; i < len; i++)
                s = (uint8_t) (s + p[i]);
        return s;
}

typedef struct Tables {
        uint64_t rsdp_gpa;
        const uint8_t *rsdp, *xsdt, *fadt, *madt, *mcfg, *dsdt;
        uint64_t end; /* the first byte after the last table */
} Tables;

/* A table the guest finds at gpa: its signature, its checksum, inside [base, base+size). */
static const uint8_t *table_at(const GuestMemory *m, uint64_t gpa, const char *signature, uint64_t base,
                               uint64_t size, Tables *t)
{
        const uint8_t *h = guest_memory_ptr(m, gpa, ACPI_HEADER_SIZE), *p;
        uint32_t len;

        cr_assert(not(zero(ptr, (void *) h)), "%s at %#" PRIx64, signature, gpa);
        len = (uint32_t) get_le(h + 4, 4);
        cr_assert(ge(u32, len, ACPI_HEADER_SIZE));
        cr_assert(ge(u64, gpa, base));
        cr_assert(le(u64, gpa + len, base + size), "%s ends past the region", signature);
        p = guest_memory_ptr(m, gpa, len);
        cr_assert(eq(int, memcmp(p, signature, 4), 0), "expected %s at %#" PRIx64, signature, gpa);
        cr_assert(eq(u8, sum(p, len), 0), "%s checksum", signature);
        cr_assert(eq(int, memcmp(p + 10, "CHV   ", 6), 0), "%s OEM ID", signature);
        cr_assert(eq(int, memcmp(p + 16, "CHV", 3), 0), "%s OEM table ID", signature);
        cr_assert(eq(int, memcmp(p + 28, "CHV ", 4), 0), "%s creator ID", signature);
        t->end = MAX(t->end, gpa + len);
        return p;
}

/* Follows the pointers from the RSDP as a guest does, checking every table on the way. */
static void tables_find(const GuestMemory *m, uint64_t rsdp_gpa, uint64_t base, uint64_t size, Tables *t)
{
        uint32_t xsdt_len;

        *t = (Tables) { .rsdp_gpa = rsdp_gpa };
        t->rsdp = guest_memory_ptr(m, rsdp_gpa, ACPI_RSDP_SIZE);
        cr_assert(not(zero(ptr, (void *) t->rsdp)));
        cr_assert(eq(u64, rsdp_gpa % 16, 0));
        cr_assert(eq(int, memcmp(t->rsdp, "RSD PTR ", 8), 0));
        cr_assert(eq(u8, sum(t->rsdp, 20), 0), "RSDP checksum");
        cr_assert(eq(u8, sum(t->rsdp, ACPI_RSDP_SIZE), 0), "RSDP extended checksum");
        cr_assert(eq(u8, t->rsdp[15], 2));
        cr_assert(eq(u64, get_le(t->rsdp + 16, 4), 0)); /* no RSDT */
        cr_assert(eq(u64, get_le(t->rsdp + 20, 4), ACPI_RSDP_SIZE));
        t->end = rsdp_gpa + ACPI_RSDP_SIZE;

        t->xsdt = table_at(m, get_le(t->rsdp + 24, 8), "XSDT", base, size, t);
        xsdt_len = (uint32_t) get_le(t->xsdt + 4, 4);
        cr_assert(eq(u32, xsdt_len, ACPI_HEADER_SIZE + 3 * 8));
        t->fadt = table_at(m, get_le(t->xsdt + 36, 8), "FACP", base, size, t);
        t->madt = table_at(m, get_le(t->xsdt + 44, 8), "APIC", base, size, t);
        t->mcfg = table_at(m, get_le(t->xsdt + 52, 8), "MCFG", base, size, t);
        cr_assert(eq(u64, get_le(t->fadt + 40, 4), 0)); /* the 32-bit DSDT pointer: X_DSDT only */
        t->dsdt = table_at(m, get_le(t->fadt + 140, 8), "DSDT", base, size, t);
}

static GuestMemory *memory_new(void)
{
        GuestMemory *m = NULL;

        cr_assert(eq(int, guest_memory_new(MEM_SIZE, false, false, false, &m), 0));
        return m;
}

static void write_tables(GuestMemory *m, const AcpiConfig *c, Tables *t)
{
        uint64_t rsdp;

        cr_assert(eq(int, acpi_tables_write(m, ACPI_TABLES_BASE, ACPI_TABLES_SIZE, c, &rsdp), 0));
        cr_assert(eq(u64, rsdp, ACPI_TABLES_BASE));
        tables_find(m, rsdp, ACPI_TABLES_BASE, ACPI_TABLES_SIZE, t);
}

static bool contains(const uint8_t *p, size_t len, const void *needle, size_t n)
{
        return memmem(p, len, needle, n) != NULL;
}

Test(acpi, checksums_and_pointers_for_any_vcpu_count)
{
        static const unsigned counts[][2] = { { 1, 1 }, { 2, 4 }, { 1, 254 }, { 254, 254 }, { 100, 200 } };

        for (size_t i = 0; i < ELEMENTSOF(counts); i++) {
                _cleanup_(guest_memory_freep) GuestMemory *m = memory_new();
                AcpiConfig c;
                Tables t;

                acpi_config_default(&c, counts[i][0], counts[i][1]);
                write_tables(m, &c, &t);
                cr_assert(eq(u64, get_le(t.madt + 4, 4), 36 + 8 + 8 * (uint64_t) counts[i][1] + 12 + 6));
                cr_log_info("%u of %u vCPUs: %" PRIu64 " bytes from %#" PRIx64 " (MADT %" PRIu64
                            ", DSDT %" PRIu64 ")",
                            counts[i][0], counts[i][1], t.end - ACPI_TABLES_BASE, ACPI_TABLES_BASE,
                            get_le(t.madt + 4, 4), get_le(t.dsdt + 4, 4));
        }
}

Test(acpi, madt_processors_ioapic_and_nmi)
{
        _cleanup_(guest_memory_freep) GuestMemory *m = memory_new();
        unsigned enabled = 0, online_capable = 0, lapics = 0, ioapics = 0, nmis = 0;
        AcpiConfig c;
        Tables t;
        uint32_t len;

        acpi_config_default(&c, 2, 4);
        write_tables(m, &c, &t);
        len = (uint32_t) get_le(t.madt + 4, 4);
        cr_assert(eq(u8, t.madt[8], 5)); /* revision: Online Capable exists */
        cr_assert(eq(u64, get_le(t.madt + 36, 4), 0xfee00000));
        cr_assert(eq(u64, get_le(t.madt + 40, 4), 1)); /* PCAT_COMPAT */

        for (uint32_t off = 44; off < len;) {
                const uint8_t *e = t.madt + off;
                cr_assert(ge(u8, e[1], 2));
                switch (e[0]) {
                case 0: /* Processor Local APIC */
                        cr_assert(eq(u8, e[1], 8));
                        cr_assert(eq(u8, e[2], lapics)); /* UID */
                        cr_assert(eq(u8, e[3], lapics)); /* APIC ID */
                        if (lapics < 2)
                                cr_assert(eq(u64, get_le(e + 4, 4), 1));
                        else
                                cr_assert(eq(u64, get_le(e + 4, 4), 2));
                        enabled += e[4] & 1;
                        online_capable += (e[4] >> 1) & 1;
                        lapics++;
                        break;
                case 1: /* I/O APIC */
                        cr_assert(eq(u8, e[1], 12));
                        cr_assert(eq(u8, e[2], 4)); /* ID: max_vcpus */
                        cr_assert(eq(u64, get_le(e + 4, 4), 0xfec00000));
                        cr_assert(eq(u64, get_le(e + 8, 4), 0)); /* GSI base */
                        ioapics++;
                        break;
                case 4: /* Local APIC NMI */
                        cr_assert(eq(u8, e[1], 6));
                        cr_assert(eq(u8, e[2], 0xff)); /* all processors */
                        cr_assert(eq(u8, e[5], 1));    /* LINT1 */
                        nmis++;
                        break;
                default:
                        cr_fatal("unexpected MADT entry type %u", e[0]);
                }
                off += e[1];
                cr_assert(le(u32, off, len));
        }
        cr_assert(eq(uint, lapics, 4));
        cr_assert(eq(uint, enabled, 2));
        cr_assert(eq(uint, online_capable, 2));
        cr_assert(eq(uint, ioapics, 1));
        cr_assert(eq(uint, nmis, 1));
}

Test(acpi, fadt_is_hardware_reduced_with_the_shutdown_port)
{
        _cleanup_(guest_memory_freep) GuestMemory *m = memory_new();
        /* SystemIO, 8 bits, offset 0, byte access, port 0x600 */
        static const uint8_t gas[12] = { 1, 8, 0, 1, 0x00, 0x06 };
        uint32_t flags;
        AcpiConfig c;
        Tables t;

        acpi_config_default(&c, 1, 1);
        write_tables(m, &c, &t);
        cr_assert(eq(u64, get_le(t.fadt + 4, 4), 276));
        cr_assert(eq(u8, t.fadt[8], 6));
        cr_assert(eq(u8, t.fadt[131], 5));
        flags = (uint32_t) get_le(t.fadt + 112, 4);
        cr_assert(ne(u32, flags & (1u << 20), 0)); /* HW_REDUCED_ACPI */
        cr_assert(ne(u32, flags & (1u << 10), 0)); /* RESET_REG_SUP */
        cr_assert(eq(int, memcmp(t.fadt + 116, gas, sizeof gas), 0)); /* RESET_REG */
        cr_assert(eq(u8, t.fadt[128], 1));                            /* RESET_VALUE */
        cr_assert(eq(int, memcmp(t.fadt + 244, gas, sizeof gas), 0)); /* SLEEP_CONTROL_REG */
        cr_assert(eq(int, memcmp(t.fadt + 256, gas, sizeof gas), 0)); /* SLEEP_STATUS_REG */
        cr_assert(eq(int, memcmp(t.fadt + 268, "CHVCHV  ", 8), 0));
        /* No FACS, no SCI, no fixed hardware blocks. */
        cr_assert(eq(u64, get_le(t.fadt + 36, 4), 0));
        cr_assert(eq(u64, get_le(t.fadt + 132, 8), 0));
        cr_assert(eq(u64, get_le(t.fadt + 46, 2), 0));
        for (unsigned off = 56; off < 88; off++)
                cr_assert(eq(u8, t.fadt[off], 0));
        for (unsigned off = 148; off < 244; off++)
                cr_assert(eq(u8, t.fadt[off], 0));
}

Test(acpi, mcfg_describes_the_ecam)
{
        _cleanup_(guest_memory_freep) GuestMemory *m = memory_new();
        AcpiConfig c;
        Tables t;

        acpi_config_default(&c, 1, 2);
        c.ecam_base = 0xb0000000;
        c.ecam_end_bus = 15;
        c.mmio32_base = 0xc0000000;
        c.mmio32_size = 0x20000000;
        write_tables(m, &c, &t);
        cr_assert(eq(u64, get_le(t.mcfg + 4, 4), 60));
        cr_assert(eq(u64, get_le(t.mcfg + 44, 8), 0xb0000000));
        cr_assert(eq(u64, get_le(t.mcfg + 52, 2), 0));
        cr_assert(eq(u8, t.mcfg[54], 0));
        cr_assert(eq(u8, t.mcfg[55], 15));
        /* The bus range of the host bridge: WordBusNumber 0-15, length 16. */
        cr_assert(contains(t.dsdt, get_le(t.dsdt + 4, 4),
                           (const uint8_t[]) { 0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00,
                                               0x0f, 0x00, 0x00, 0x00, 0x10, 0x00 },
                           16));
        /* ECAM reserved as a motherboard resource: QWordMemory consumer 0xb0000000-0xb0ffffff. */
        cr_assert(contains(t.dsdt, get_le(t.dsdt + 4, 4),
                           (const uint8_t[]) { 0x00, 0x00, 0x00, 0xb0, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff,
                                               0xff, 0xb0, 0x00, 0x00, 0x00, 0x00 },
                           16));
}

Test(acpi, dsdt_has_the_devices)
{
        _cleanup_(guest_memory_freep) GuestMemory *m = memory_new();
        static const char *const names[] = { "_SB_", "PCI0", "MBRD", "COM1", "RTC_", "PWRB", "GED_",
                                             "_S5_", "_EVT", "_OSC", "_PRT", "GDAT", "ACPI0013" };
        AcpiConfig c;
        Tables t;
        size_t len;

        acpi_config_default(&c, 1, 1);
        c.ged_mmio_base = 0xfeb01000;
        c.ged_gsi = 9;
        write_tables(m, &c, &t);
        len = get_le(t.dsdt + 4, 4);
        cr_assert(eq(u8, t.dsdt[8], 2));
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                cr_assert(contains(t.dsdt, len, names[i], strlen(names[i])), "%s", names[i]);
        /* Name (\_S5, Package () { 5, 0, 0, 0 }) */
        cr_assert(contains(t.dsdt, len,
                           (const uint8_t[]) { 0x08, 0x5c, '_', 'S', '5', '_', 0x12, 0x07, 0x04, 0x0a, 0x05,
                                               0x00, 0x00, 0x00 },
                           14));
        /* OperationRegion (GDST, SystemMemory, 0xFEB01000, 4) */
        cr_assert(contains(t.dsdt, len,
                           (const uint8_t[]) { 0x5b, 0x80, 'G', 'D', 'S', 'T', 0x00, 0x0c, 0x00, 0x10, 0xb0,
                                               0xfe, 0x0a, 0x04 },
                           14));
        /* Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive) { 9 } and { 4 } for COM1 */
        cr_assert(contains(t.dsdt, len, (const uint8_t[]) { 0x89, 0x06, 0x00, 0x03, 0x01, 9, 0, 0, 0 }, 9));
        cr_assert(contains(t.dsdt, len, (const uint8_t[]) { 0x89, 0x06, 0x00, 0x03, 0x01, 4, 0, 0, 0 }, 9));
        /* IO (Decode16, 0x03F8, 0x03F8, 0x01, 0x08) */
        cr_assert(contains(t.dsdt, len,
                           (const uint8_t[]) { 0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08 }, 8));
        /* IO (Decode16, 0x0070, 0x0070, 0x01, 0x02), with no interrupt after it */
        cr_assert(contains(t.dsdt, len,
                           (const uint8_t[]) { 0x47, 0x01, 0x70, 0x00, 0x70, 0x00, 0x01, 0x02, 0x79, 0x00 },
                           10));
        /* Notify (\_SB.PWRB, 0x80) */
        cr_assert(contains(t.dsdt, len,
                           (const uint8_t[]) { 0x86, 0x5c, 0x2e, '_', 'S', 'B', '_', 'P', 'W', 'R', 'B',
                                               0x0a, 0x80 },
                           13));
}

Test(acpi, pci_windows_follow_the_configuration)
{
        _cleanup_(guest_memory_freep) GuestMemory *m = memory_new(), *m2 = memory_new();
        /* QWordMemory producer, cacheable: [0x1000000000, 0x1fffffffff] */
        static const uint8_t qword[] = { 0x8a, 0x2b, 0x00, 0x00, 0x0c, 0x03, 0, 0, 0, 0, 0, 0, 0, 0,
                                         0x00, 0x00, 0x00, 0x00, 0x10, 0, 0, 0,
                                         0xff, 0xff, 0xff, 0xff, 0x1f, 0, 0, 0 };
        /* WordIO producer, entire range: [0x1000, 0xffff] */
        static const uint8_t wordio[] = { 0x88, 0x0d, 0x00, 0x01, 0x0c, 0x03, 0x00, 0x00,
                                          0x00, 0x10, 0xff, 0xff, 0x00, 0x00, 0x00, 0xf0 };
        AcpiConfig c;
        Tables t, t2;

        acpi_config_default(&c, 1, 1);
        c.mmio64_base = 64 * GiB;
        c.mmio64_size = 64 * GiB;
        write_tables(m, &c, &t);
        cr_assert(contains(t.dsdt, get_le(t.dsdt + 4, 4), qword, sizeof qword));
        cr_assert(contains(t.dsdt, get_le(t.dsdt + 4, 4), wordio, sizeof wordio));

        c.mmio64_size = 0;
        c.pio_size = 0;
        write_tables(m2, &c, &t2);
        cr_assert(not(contains(t2.dsdt, get_le(t2.dsdt + 4, 4), qword, 6)));
        cr_assert(not(contains(t2.dsdt, get_le(t2.dsdt + 4, 4), wordio, 6)));
}

Test(acpi, region_too_small)
{
        _cleanup_(guest_memory_freep) GuestMemory *m = memory_new();
        uint64_t rsdp = 0, used;
        AcpiConfig c;
        Tables t;

        acpi_config_default(&c, 254, 254);
        write_tables(m, &c, &t);
        used = t.end - ACPI_TABLES_BASE;

        cr_assert(eq(int, acpi_tables_write(m, 0x200000, used, &c, &rsdp), 0));
        cr_assert(eq(u64, rsdp, 0x200000));
        cr_assert(eq(int, acpi_tables_write(m, 0x200000, used - 1, &c, &rsdp), -E2BIG));
        cr_assert(eq(int, acpi_tables_write(m, 0x200000, 0x100, &c, &rsdp), -E2BIG));
        cr_assert(eq(int, acpi_tables_write(m, 0x200000, ACPI_RSDP_SIZE, &c, &rsdp), -E2BIG));
}

Test(acpi, padding_is_cleared)
{
        _cleanup_(guest_memory_freep) GuestMemory *m = memory_new();
        uint8_t *region = guest_memory_ptr(m, ACPI_TABLES_BASE, ACPI_TABLES_SIZE);
        AcpiConfig c;
        Tables t;

        memset(region, 0xa5, ACPI_TABLES_SIZE);
        acpi_config_default(&c, 1, 1);
        write_tables(m, &c, &t);
        /* The RSDP is 36 bytes, the XSDT starts at the next 16-byte boundary. */
        for (unsigned i = ACPI_RSDP_SIZE; i < 48; i++)
                cr_assert(eq(u8, region[i], 0));
        cr_assert(eq(u64, get_le(t.rsdp + 24, 8), ACPI_TABLES_BASE + 48));
        /* Past the tables, the region is left alone. */
        cr_assert(eq(u8, region[t.end - ACPI_TABLES_BASE], 0xa5));
}

Test(acpi, invalid_configurations)
{
        _cleanup_(guest_memory_freep) GuestMemory *m = memory_new();
        uint64_t rsdp;
        AcpiConfig c;

        acpi_config_default(&c, 0, 1);
        cr_assert(eq(int, acpi_tables_write(m, ACPI_TABLES_BASE, ACPI_TABLES_SIZE, &c, &rsdp), -EINVAL));
        acpi_config_default(&c, 3, 2);
        cr_assert(eq(int, acpi_tables_write(m, ACPI_TABLES_BASE, ACPI_TABLES_SIZE, &c, &rsdp), -EINVAL));
        acpi_config_default(&c, 1, 255);
        cr_assert(eq(int, acpi_tables_write(m, ACPI_TABLES_BASE, ACPI_TABLES_SIZE, &c, &rsdp), -EINVAL));

        acpi_config_default(&c, 1, 1);
        cr_assert(eq(int, acpi_tables_write(m, ACPI_TABLES_BASE + 8, ACPI_TABLES_SIZE, &c, &rsdp), -EINVAL));
        cr_assert(eq(int, acpi_tables_write(m, ACPI_TABLES_BASE, 0, &c, &rsdp), -EINVAL));
        cr_assert(eq(int, acpi_tables_write(m, UINT64_MAX - 15, 32, &c, &rsdp), -EINVAL));

        c.ged_gsi = 4; /* COM1's */
        cr_assert(eq(int, acpi_tables_write(m, ACPI_TABLES_BASE, ACPI_TABLES_SIZE, &c, &rsdp), -EINVAL));
        c.ged_gsi = 16; /* a PCI INTx GSI */
        cr_assert(eq(int, acpi_tables_write(m, ACPI_TABLES_BASE, ACPI_TABLES_SIZE, &c, &rsdp), -EINVAL));

        acpi_config_default(&c, 1, 1);
        c.mmio32_base = 0xf0000000;
        c.mmio32_size = 0x20000000; /* past 4 GiB */
        cr_assert(eq(int, acpi_tables_write(m, ACPI_TABLES_BASE, ACPI_TABLES_SIZE, &c, &rsdp), -EINVAL));

        acpi_config_default(&c, 1, 1);
        c.pio_base = 0x1000;
        c.pio_size = 0xf001;
        cr_assert(eq(int, acpi_tables_write(m, ACPI_TABLES_BASE, ACPI_TABLES_SIZE, &c, &rsdp), -EINVAL));

        acpi_config_default(&c, 1, 1);
        c.ecam_base = 0xe8000800;
        cr_assert(eq(int, acpi_tables_write(m, ACPI_TABLES_BASE, ACPI_TABLES_SIZE, &c, &rsdp), -EINVAL));

        acpi_config_default(&c, 1, 1);
        c.mmio64_base = UINT64_MAX - GiB + 2;
        c.mmio64_size = GiB;
        cr_assert(eq(int, acpi_tables_write(m, ACPI_TABLES_BASE, ACPI_TABLES_SIZE, &c, &rsdp), -EINVAL));
}

Test(acpi, region_must_be_guest_ram)
{
        _cleanup_(guest_memory_freep) GuestMemory *m = memory_new();
        uint64_t rsdp;
        AcpiConfig c;

        acpi_config_default(&c, 1, 1);
        cr_assert(eq(int, acpi_tables_write(m, MEM_SIZE - 0x100, 0x10000, &c, &rsdp), -EFAULT));
        cr_assert(eq(int, acpi_tables_write(m, 0xc0000000, 0x10000, &c, &rsdp), -EFAULT));
}

Test(acpi, checksum_helper)
{
        uint8_t b[5] = { 1, 2, 3, 0, 250 };

        b[3] = acpi_checksum(b, sizeof b);
        cr_assert(eq(u8, sum(b, sizeof b), 0));
        cr_assert(eq(u8, acpi_checksum(b, 0), 0));
}
