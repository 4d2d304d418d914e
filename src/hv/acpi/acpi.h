/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "guest-memory.h"

/*
 * The ACPI tables of an x86-64 VM with a hardware-reduced ACPI platform (ACPI 6.5): RSDP, XSDT, FADT,
 * MADT, MCFG and a DSDT describing the PCI host bridge and its ECAM, the 16550 on COM1, the CMOS
 * clock, the Generic Event Device, the power button and the S5 sleep state.
 *
 * The platform the tables describe:
 * - Power-off and reset go through the I/O port ACPI_PM_SHUTDOWN_PORT (src/devices/legacy.h): the FADT
 *   names it as SLEEP_CONTROL_REG, SLEEP_STATUS_REG and RESET_REG. The guest writes 0x34 (SLP_TYP 5,
 *   SLP_EN) to power off, 1 to reset.
 * - One I/O APIC at 0xfec00000 with ID max_vcpus and GSI base 0, pin n being GSI n: KVM's default
 *   routing. There are no Interrupt Source Overrides: a hardware-reduced guest has no 8259 of its
 *   own to be compatible with, and COM1 and the GED describe their interrupts with extended interrupt
 *   descriptors (edge, active high), which Linux takes as they are.
 * - PCI INTx, for a device model that raises it: device d, pin p (INTA = 0) is GSI
 *   ACPI_PCI_INTX_GSI_BASE + (d + p) % 8, level-triggered, active low (_PRT under \_SB.PCI0).
 * - The Generic Event Device: a 32-bit register at ged_mmio_base. When an event is pending the device
 *   sets its bit in the register and pulses (edge) ged_gsi; the guest's _EVT reads the register once
 *   and must find the bits it has not seen yet, so a read returns the pending bits and clears them.
 *   ACPI_GED_EVENT_POWER_BUTTON makes the guest notify \_SB.PWRB (0x80, the power button was pressed).
 */

/* Where the tables go by default: the BIOS area that Linux scans for the RSDP, below the MP table. */
#define ACPI_TABLES_BASE UINT64_C(0xe0000)
#define ACPI_TABLES_SIZE UINT64_C(0x10000)

/* The default PCI layout: ECAM for buses 0-255 right after the 32-bit MMIO window. */
#define ACPI_ECAM_BASE              UINT64_C(0xe8000000)
#define ACPI_ECAM_SIZE              (256 * MiB)
#define ACPI_MMIO32_BASE            UINT64_C(0xc0000000)
#define ACPI_MMIO32_SIZE            (ACPI_ECAM_BASE - ACPI_MMIO32_BASE)
#define ACPI_PIO_BASE               0x1000
#define ACPI_PIO_SIZE               0xf000

#define ACPI_GED_MMIO_BASE          UINT64_C(0xfeb00000)
#define ACPI_GED_MMIO_SIZE          4
#define ACPI_GED_GSI                5
#define ACPI_GED_EVENT_POWER_BUTTON (UINT32_C(1) << 0)

#define ACPI_PCI_INTX_GSI_BASE      16
#define ACPI_IOAPIC_PINS            24
/* xAPIC IDs are 8 bits, 255 is the broadcast ID, and the I/O APIC takes the ID after the vCPUs. */
#define ACPI_MAX_VCPUS 254

typedef struct AcpiConfig {
        unsigned boot_vcpus; /* enabled at boot: APIC IDs 0 .. boot_vcpus-1 */
        unsigned max_vcpus;  /* the others are online capable, for hotplug */
        uint64_t ecam_base;  /* 1 MiB per bus, buses 0 .. ecam_end_bus */
        uint8_t ecam_end_bus;
        uint64_t mmio32_base, mmio32_size; /* must end at or below 4 GiB; size 0: none */
        uint64_t mmio64_base, mmio64_size; /* size 0: none */
        uint16_t pio_base, pio_size;       /* PCI I/O window; size 0: none */
        uint64_t ged_mmio_base;
        uint32_t ged_gsi;
} AcpiConfig;

/* The defaults above, with no 64-bit MMIO window. */
void acpi_config_default(AcpiConfig *c, unsigned boot_vcpus, unsigned max_vcpus);

/*
 * Writes the tables into [base, base+size) of guest memory, which must be RAM, with base 16-byte
 * aligned (the RSDP goes first). Returns the address of the RSDP in ret_rsdp. Errors: -EINVAL for a
 * configuration that does not make sense, -E2BIG when the tables do not fit, -EFAULT when the region
 * is not guest RAM, -ENOMEM.
 */
int acpi_tables_write(GuestMemory *mem, uint64_t base, uint64_t size, const AcpiConfig *c,
                      uint64_t *ret_rsdp);

/* The byte that makes the sum of [p, p+len) zero, with that byte counted as zero. */
uint8_t acpi_checksum(const void *p, size_t len);

/* Sizes, for callers that want to know: the MADT grows by 8 bytes per possible vCPU. */
#define ACPI_RSDP_SIZE   36
#define ACPI_HEADER_SIZE 36
#define ACPI_FADT_SIZE   276
