/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "guest-memory.h"
#include "loader.h"

typedef struct E820Entry {
        uint64_t addr;
        uint64_t size;
        uint32_t type;
} E820Entry;

#define X86_E820_MAX 8

/* The guest's memory map, as e820 and as the PVH memmap. Returns the number of entries. */
unsigned x86_e820_build(const GuestMemory *mem, E820Entry entries[static X86_E820_MAX]);

typedef struct BootParams {
        const KernelImage *kernel;
        const char *cmdline;
        uint64_t initramfs_addr;
        uint64_t initramfs_size;
        unsigned boot_vcpus;
        unsigned max_vcpus;
        uint64_t rsdp_addr; /* 0: no ACPI */
} BootParams;

/*
 * Writes the command line, the memory map, boot_params (Linux) or hvm_start_info (PVH), the page tables,
 * the GDT and the MP table into guest memory.
 */
int x86_boot_write_structures(GuestMemory *mem, const BootParams *b, char *err, size_t errlen);
/* Registers of the boot vCPU for the kernel's entry point. */
int x86_boot_setup_bsp(int vcpu_fd, const KernelImage *k);

/* The MP table (processors, ISA bus, IOAPIC and its interrupt assignments). */
int mptable_write(GuestMemory *mem, unsigned boot_vcpus, unsigned max_vcpus);
