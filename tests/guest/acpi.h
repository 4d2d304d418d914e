/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* ACPI tables: the RSDP from the PVH start info, the XSDT (or RSDT) and the tables they list. */

#include "guest.h"

struct acpi_header {
        char signature[4];
        uint32_t length;
        uint8_t revision;
        uint8_t checksum;
        char oem_id[6];
        char oem_table_id[8];
        uint32_t oem_revision;
        uint32_t creator_id;
        uint32_t creator_revision;
} _packed_;

struct acpi_mcfg_entry {
        uint64_t base;
        uint16_t segment;
        uint8_t start_bus;
        uint8_t end_bus;
        uint32_t reserved;
} _packed_;

/*
 * Finds and checks the RSDP and the root table, once. Returns NULL or why the tables cannot be used.
 * verbose prints what was found on the way (lines starting with "acpi: ").
 */
const char *acpi_init(bool verbose);
/* Number of tables the root table lists, and the nth of them (NULL when its address is unusable). */
unsigned acpi_table_count(void);
const struct acpi_header *acpi_table(unsigned n);
/* The first listed table with this signature whose checksum is right, or NULL. */
const struct acpi_header *acpi_find(const char signature[4]);
/* Whether the bytes of the table sum to zero. */
bool acpi_checksum_ok(const void *table, size_t len);
/* The MCFG entry for segment 0 that covers bus 0, from the MCFG table. */
bool acpi_mcfg_bus0(struct acpi_mcfg_entry *ret);
