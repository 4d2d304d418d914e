/* SPDX-License-Identifier: Apache-2.0 */
/* Scenario acpi: the RSDP, every table's checksum, the FADT, the processors of the MADT and the MCFG. */
#include "acpi.h"
#include "devices.h"
#include "platform.h"

#define FADT_DSDT            40
#define FADT_FLAGS           112
#define FADT_X_DSDT          140
#define FADT_HW_REDUCED_ACPI (1u << 20)

#define MADT_LOCAL_APIC      0
#define MADT_IO_APIC         1
#define MADT_LOCAL_X2APIC    9
#define MADT_ENABLED         1u
#define MADT_ONLINE_CAPABLE  2u

static uint32_t get32(const void *table, size_t offset)
{
        uint32_t v;

        memcpy(&v, (const uint8_t *) table + offset, sizeof(v));
        return v;
}

static uint64_t get64(const void *table, size_t offset)
{
        uint64_t v;

        memcpy(&v, (const uint8_t *) table + offset, sizeof(v));
        return v;
}

static void print_table(const char *what, const struct acpi_header *h, bool ok)
{
        print("acpi: %s ", what);
        print_chars(h->signature, 4);
        print(" at %p length %u revision %u checksum %s\n", (const void *) h, h->length, h->revision,
              ok ? "ok" : "WRONG");
}

static const char *check_fadt(const struct acpi_header *fadt)
{
        const struct acpi_header *dsdt;
        uint64_t dsdt_pa = 0;
        uint32_t flags = 0;
        bool ok;

        if (fadt->length >= FADT_DSDT + 4)
                dsdt_pa = get32(fadt, FADT_DSDT);
        if (fadt->length >= FADT_X_DSDT + 8 && get64(fadt, FADT_X_DSDT) != 0)
                dsdt_pa = get64(fadt, FADT_X_DSDT);
        if (fadt->length >= FADT_FLAGS + 4)
                flags = get32(fadt, FADT_FLAGS);
        print("acpi: fadt hardware_reduced=%u dsdt=0x%lx\n", (flags & FADT_HW_REDUCED_ACPI) ? 1 : 0,
              dsdt_pa);

        if (dsdt_pa == 0 || dsdt_pa >= (UINT64_C(1) << 32))
                return "the FADT gives no usable DSDT address";
        dsdt = phys(dsdt_pa);
        if (memcmp(dsdt->signature, "DSDT", 4) != 0)
                return "the FADT's DSDT address does not hold a DSDT";
        ok = dsdt->length >= sizeof(*dsdt) && acpi_checksum_ok(dsdt, dsdt->length);
        print_table("table", dsdt, ok);
        return ok ? NULL : "DSDT checksum is wrong";
}

static const char *check_madt(const struct acpi_header *madt)
{
        const uint8_t *p = (const uint8_t *) madt + sizeof(*madt) + 8,
                      *end = (const uint8_t *) madt + madt->length;
        unsigned cpus = 0, enabled = 0, ioapics = 0;
        uint64_t expected;

        if (madt->length < sizeof(*madt) + 8)
                return "MADT is shorter than its fixed part";
        print("acpi: madt lapic=0x%x\n", get32(madt, sizeof(*madt)));
        print("acpi: madt apic_ids=");
        while (p + 2 <= end) {
                uint8_t type = p[0], len = p[1];
                uint32_t id, flags;

                if (len < 2 || len > end - p)
                        return "MADT entry with a bad length";
                if ((type == MADT_LOCAL_APIC && len >= 8) || (type == MADT_LOCAL_X2APIC && len >= 16)) {
                        id = type == MADT_LOCAL_APIC ? p[3] : get32(p, 4);
                        flags = get32(p, type == MADT_LOCAL_APIC ? 4 : 8);
                        cpus++;
                        if (flags & MADT_ENABLED)
                                print(enabled++ ? ",%u" : "%u", id);
                } else if (type == MADT_IO_APIC)
                        ioapics++;
                p += len;
        }
        print("\n");
        print("acpi: madt cpus=%u enabled=%u ioapics=%u\n", cpus, enabled, ioapics);
        if (enabled == 0)
                return "no enabled processor in the MADT";
        if (cmdline_number("cpus", &expected) && expected != enabled) {
                print("acpi: expected %lu enabled processors (cpus= on the command line)\n", expected);
                return "MADT enabled processors differ from cpus=";
        }
        return NULL;
}

const char *scenario_acpi(void)
{
        const struct acpi_header *fadt, *madt;
        struct acpi_mcfg_entry mcfg;
        unsigned bad = 0, n;
        const char *r;

        r = acpi_init(true);
        if (r)
                return r;

        n = acpi_table_count();
        for (unsigned i = 0; i < n; i++) {
                const struct acpi_header *h = acpi_table(i);
                bool ok;

                if (!h) {
                        print("acpi: entry %u points to an unusable address\n", i);
                        bad++;
                        continue;
                }
                ok = acpi_checksum_ok(h, h->length);
                print_table("table", h, ok);
                if (!ok)
                        bad++;
        }
        if (bad)
                return "a table has a wrong checksum or address";

        fadt = acpi_find("FACP");
        if (!fadt)
                return "no FADT";
        r = check_fadt(fadt);
        if (r)
                return r;

        madt = acpi_find("APIC");
        if (!madt)
                return "no MADT";
        r = check_madt(madt);
        if (r)
                return r;

        if (acpi_mcfg_bus0(&mcfg))
                print("acpi: mcfg base=0x%lx segment=%u buses=%u-%u\n", mcfg.base, mcfg.segment,
                      mcfg.start_bus, mcfg.end_bus);
        else
                print("acpi: no MCFG entry for segment 0 bus 0\n");
        print("acpi: all checksums ok\n");
        return NULL;
}
