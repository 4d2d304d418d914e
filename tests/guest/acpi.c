/* SPDX-License-Identifier: Apache-2.0 */
/* The RSDP, the root table (XSDT, or RSDT for revision 0) and lookup of the tables it lists. */
#include "acpi.h"
#include "platform.h"

#define RSDP_V1_LENGTH 20
#define RSDP_V2_LENGTH 36
#define ROOT_MAX       64

struct acpi_rsdp {
        char signature[8];
        uint8_t checksum;
        char oem_id[6];
        uint8_t revision;
        uint32_t rsdt_address;
        /* revision >= 2 */
        uint32_t length;
        uint64_t xsdt_address;
        uint8_t extended_checksum;
        uint8_t reserved[3];
} _packed_;

static struct {
        bool done;
        const char *error;
        uint64_t tables[ROOT_MAX];
        unsigned count;
} acpi;

bool acpi_checksum_ok(const void *table, size_t len)
{
        const uint8_t *b = table;
        uint8_t sum = 0;

        for (size_t i = 0; i < len; i++)
                sum = (uint8_t) (sum + b[i]);
        return sum == 0;
}

/* Tables must lie below 4 GiB, in the guest's identity map. */
static const struct acpi_header *table_at(uint64_t pa)
{
        const struct acpi_header *h;

        if (pa == 0 || pa >= (UINT64_C(1) << 32) - sizeof(*h))
                return NULL;
        h = phys(pa);
        if (h->length < sizeof(*h) || h->length > (UINT64_C(1) << 32) - pa)
                return NULL;
        return h;
}

static const struct acpi_rsdp *rsdp_scan(void)
{
        for (uint32_t a = 0xe0000; a < 0x100000; a += 16) {
                const struct acpi_rsdp *r = phys(a);

                if (memcmp(r->signature, "RSD PTR ", 8) == 0 && acpi_checksum_ok(r, RSDP_V1_LENGTH))
                        return r;
        }
        return NULL;
}

static const char *root_init(bool verbose)
{
        const struct acpi_rsdp *rsdp;
        const struct acpi_header *root;
        uint64_t root_pa;
        size_t entry_size;
        const char *from = "start_info";

        if (boot_info.rsdp_paddr != 0 && boot_info.rsdp_paddr < (UINT64_C(1) << 32) - RSDP_V2_LENGTH)
                rsdp = phys(boot_info.rsdp_paddr);
        else {
                rsdp = rsdp_scan();
                from = "scan of 0xe0000-0xfffff";
        }
        if (!rsdp)
                return "no RSDP in the start info nor in 0xe0000-0xfffff";
        if (verbose) {
                print("acpi: rsdp at %p from %s revision %u oem \"", (const void *) rsdp, from,
                      rsdp->revision);
                print_chars(rsdp->oem_id, sizeof(rsdp->oem_id));
                print("\"\n");
        }
        if (memcmp(rsdp->signature, "RSD PTR ", 8) != 0)
                return "RSDP signature is not \"RSD PTR \"";
        if (!acpi_checksum_ok(rsdp, RSDP_V1_LENGTH))
                return "RSDP checksum (first 20 bytes) is wrong";
        if (rsdp->revision >= 2) {
                if (rsdp->length < RSDP_V2_LENGTH || !acpi_checksum_ok(rsdp, rsdp->length))
                        return "RSDP extended checksum is wrong";
                if (verbose)
                        print("acpi: rsdp checksum ok, extended checksum ok\n");
                root_pa = rsdp->xsdt_address;
                entry_size = 8;
        } else {
                if (verbose)
                        print("acpi: rsdp checksum ok\n");
                root_pa = rsdp->rsdt_address;
                entry_size = 4;
        }

        root = table_at(root_pa);
        if (!root)
                return entry_size == 8 ? "XSDT address is unusable" : "RSDT address is unusable";
        if (memcmp(root->signature, entry_size == 8 ? "XSDT" : "RSDT", 4) != 0)
                return "root table signature is neither XSDT nor RSDT as the RSDP revision says";
        if (!acpi_checksum_ok(root, root->length))
                return "root table checksum is wrong";
        acpi.count = (unsigned) ((root->length - sizeof(*root)) / entry_size);
        if (verbose) {
                print("acpi: ");
                print_chars(root->signature, 4);
                print(" at 0x%lx length %u entries=%u checksum ok\n", root_pa, root->length, acpi.count);
        }
        if (acpi.count > ROOT_MAX)
                return "root table lists more tables than the guest handles";
        for (unsigned i = 0; i < acpi.count; i++) {
                const uint8_t *e = (const uint8_t *) (root + 1) + i * entry_size;
                uint64_t pa = 0;

                memcpy(&pa, e, entry_size);
                acpi.tables[i] = pa;
        }
        return NULL;
}

const char *acpi_init(bool verbose)
{
        if (!acpi.done) {
                acpi.error = root_init(verbose);
                acpi.done = true;
        }
        return acpi.error;
}

unsigned acpi_table_count(void)
{
        return acpi_init(false) ? 0 : acpi.count;
}

const struct acpi_header *acpi_table(unsigned n)
{
        if (n >= acpi_table_count())
                return NULL;
        return table_at(acpi.tables[n]);
}

const struct acpi_header *acpi_find(const char signature[4])
{
        for (unsigned i = 0; i < acpi_table_count(); i++) {
                const struct acpi_header *h = acpi_table(i);

                if (h && memcmp(h->signature, signature, 4) == 0 && acpi_checksum_ok(h, h->length))
                        return h;
        }
        return NULL;
}

bool acpi_mcfg_bus0(struct acpi_mcfg_entry *ret)
{
        const struct acpi_header *mcfg = acpi_find("MCFG");
        const struct acpi_mcfg_entry *e;
        size_t n;

        if (!mcfg || mcfg->length < sizeof(*mcfg) + 8)
                return false;
        e = (const void *) ((const uint8_t *) (mcfg + 1) + 8);
        n = (mcfg->length - sizeof(*mcfg) - 8) / sizeof(*e);
        for (size_t i = 0; i < n; i++) {
                if (e[i].segment == 0 && e[i].start_bus == 0) {
                        *ret = e[i];
                        return true;
                }
        }
        return false;
}
