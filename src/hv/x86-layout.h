/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Where the x86 boot structures live in guest memory (below 1 MiB; the guest's image starts at 1 MiB). */
#define X86_GDT_ADDR 0x500
#define X86_IDT_ADDR 0x520
#define X86_PVH_INFO_ADDR 0x6000
#define X86_PVH_MODLIST_ADDR 0x6040
#define X86_PVH_MEMMAP_ADDR 0x7000
#define X86_ZERO_PAGE_ADDR 0x7000
#define X86_BOOT_STACK_ADDR 0x8ff0
#define X86_PML4_ADDR 0x9000
#define X86_PDPT_ADDR 0xa000
#define X86_PD_ADDR 0xb000 /* four pages: identity map of the first 4 GiB with 2 MiB pages */
#define X86_CMDLINE_ADDR 0x20000
#define X86_CMDLINE_MAX 4096
#define X86_EBDA_ADDR 0x9fc00
#define X86_ACPI_ADDR 0xe0000 /* ACPI tables, up to the MP table */
#define X86_MPTABLE_ADDR 0xf0000
#define X86_BIOS_END 0x100000

#define X86_PCI_ECAM_ADDR 0xe8000000u /* 256 MiB: buses 0-255 of segment 0 */
#define X86_PCI_ECAM_SIZE 0x10000000u
#define X86_IOAPIC_ADDR 0xfec00000u
#define X86_LAPIC_ADDR 0xfee00000u

/* KVM's private pages for the TSS and the identity map of real mode, just under the IOAPIC. */
#define X86_KVM_IDENTITY_MAP_ADDR 0xfeffc000u
#define X86_KVM_TSS_ADDR 0xfeffd000u

#define X86_E820_RAM 1
#define X86_E820_RESERVED 2
