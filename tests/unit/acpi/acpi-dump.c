/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Writes the ACPI tables for BOOT of MAX vCPUs into guest memory and saves each table, found from the
 * RSDP as a guest would find it, to DIR/<signature>.dat, for iasl to disassemble.
 *
 *         acpi-dump BOOT MAX DIR
 */
#include <stdio.h>

#include "acpi.h"

static int save(const char *dir, const char *name, const void *p, size_t len)
{
        _cleanup_fclose_ FILE *f = NULL;
        char path[4096];

        (void) snprintf(path, sizeof path, "%s/%s.dat", dir, name);
        f = fopen(path, "we");
        if (!f || fwrite(p, 1, len, f) != len) {
                fprintf(stderr, "cannot write %s\n", path);
                return -EIO;
        }
        return 0;
}

static uint64_t get_le(const uint8_t *p, unsigned size)
{
        uint64_t v = 0;

        for (unsigned i = 0; i < size; i++)
                v |= (uint64_t) p[i] << (8 * i);
        return v;
}

/* Saves the table at gpa under the lower-case form of its signature; returns it. */
static const uint8_t *save_table(const GuestMemory *mem, const char *dir, uint64_t gpa)
{
        const uint8_t *h = guest_memory_ptr(mem, gpa, ACPI_HEADER_SIZE), *t;
        char name[5];
        uint32_t len;

        if (!h)
                return NULL;
        len = (uint32_t) get_le(h + 4, 4);
        t = guest_memory_ptr(mem, gpa, len);
        if (!t)
                return NULL;
        for (unsigned i = 0; i < 4; i++)
                name[i] = (char) (h[i] >= 'A' && h[i] <= 'Z' ? h[i] - 'A' + 'a' : h[i]);
        name[4] = '\0';
        return save(dir, name, t, len) < 0 ? NULL : t;
}

int main(int argc, char **argv)
{
        _cleanup_(guest_memory_freep) GuestMemory *mem = NULL;
        const uint8_t *rsdp, *xsdt, *fadt, *dsdt;
        uint64_t rsdp_gpa;
        AcpiConfig c;
        int r;

        if (argc != 4) {
                fprintf(stderr, "usage: %s BOOT MAX DIR\n", argv[0]);
                return 2;
        }
        acpi_config_default(&c, (unsigned) atoi(argv[1]), (unsigned) atoi(argv[2]));
        c.mmio64_base = 64 * GiB;
        c.mmio64_size = 64 * GiB;

        r = guest_memory_new(64 * MiB, false, false, false, &mem);
        if (r < 0) {
                fprintf(stderr, "guest memory: %s\n", strerror(-r));
                return 1;
        }
        r = acpi_tables_write(mem, ACPI_TABLES_BASE, ACPI_TABLES_SIZE, &c, &rsdp_gpa);
        if (r < 0) {
                fprintf(stderr, "acpi_tables_write: %s\n", strerror(-r));
                return 1;
        }

        rsdp = guest_memory_ptr(mem, rsdp_gpa, ACPI_RSDP_SIZE);
        if (!rsdp || save(argv[3], "rsdp", rsdp, ACPI_RSDP_SIZE) < 0)
                return 1;
        xsdt = save_table(mem, argv[3], get_le(rsdp + 24, 8));
        if (!xsdt)
                return 1;
        fadt = NULL;
        for (uint32_t off = ACPI_HEADER_SIZE; off < (uint32_t) get_le(xsdt + 4, 4); off += 8) {
                const uint8_t *t = save_table(mem, argv[3], get_le(xsdt + off, 8));
                if (!t)
                        return 1;
                if (memcmp(t, "FACP", 4) == 0)
                        fadt = t;
        }
        if (!fadt)
                return 1;
        dsdt = save_table(mem, argv[3], get_le(fadt + 140, 8));
        return dsdt ? 0 : 1;
}
