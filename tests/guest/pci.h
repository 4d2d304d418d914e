/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * PCI configuration space of segment 0, bus 0: through ECAM at the address of the MCFG table, and
 * through the 0xcf8/0xcfc mechanism. BAR sizing, moving and capability lists.
 */

#include "guest.h"

#define PCI_VENDOR_ID            0x00
#define PCI_DEVICE_ID            0x02
#define PCI_COMMAND              0x04
#define PCI_STATUS               0x06
#define PCI_CLASS_REVISION       0x08
#define PCI_HEADER_TYPE          0x0e
#define PCI_BAR0                 0x10
#define PCI_SUBSYSTEM_ID         0x2e
#define PCI_CAPABILITY_LIST      0x34
#define PCI_INTERRUPT_LINE       0x3c

#define PCI_COMMAND_IO           0x1
#define PCI_COMMAND_MEMORY       0x2
#define PCI_COMMAND_MASTER       0x4
#define PCI_COMMAND_INTX_DISABLE 0x400
#define PCI_STATUS_CAP_LIST      0x10

#define PCI_CAP_ID_MSIX          0x11
#define PCI_CAP_ID_VNDR          0x09

#define PCI_NUM_BARS             6

enum pci_access {
        PCI_ACCESS_ECAM,
        PCI_ACCESS_CF8,
};

struct pci_fn {
        uint8_t bus, slot, fn;
};

struct pci_bar {
        uint64_t addr, size;
        bool io, mem64, prefetchable;
};

/*
 * Finds ECAM through the MCFG table and checks for the 0xcf8 mechanism; configuration accesses then use
 * ECAM when there is one (or what pci=ecam|cf8 on the command line says). Returns NULL or why neither
 * works. verbose prints what was found.
 */
const char *pci_init(bool verbose);
bool pci_has(enum pci_access access);
uint64_t pci_ecam_base(void);

/* size: 1, 2 or 4; offset aligned to it. */
uint32_t pci_read_via(enum pci_access access, struct pci_fn f, uint16_t offset, unsigned size);
void pci_write_via(enum pci_access access, struct pci_fn f, uint16_t offset, unsigned size, uint32_t v);
uint32_t pci_read(struct pci_fn f, uint16_t offset, unsigned size);
void pci_write(struct pci_fn f, uint16_t offset, unsigned size, uint32_t v);

/* Iterates over the functions on bus 0: start with *f zeroed and first true. */
bool pci_next(struct pci_fn *f, bool first);
/* The nth (from 0) function with this vendor and device id. */
bool pci_find(uint16_t vendor, uint16_t device, unsigned n, struct pci_fn *ret);

/*
 * Sizes BAR index (writes all ones, reads back, restores, with decoding off meanwhile). False when the
 * BAR is not implemented (or is the upper half of a 64-bit BAR).
 */
bool pci_bar_probe(struct pci_fn f, unsigned index, struct pci_bar *ret);
/* Writes a new address into a memory BAR, with memory decoding off meanwhile. */
void pci_bar_move(struct pci_fn f, unsigned index, const struct pci_bar *bar, uint64_t addr);
/* Offset of the first capability with this id at or after the one at from (0: the start); 0 if none. */
uint8_t pci_find_capability(struct pci_fn f, uint8_t id, uint8_t from);

void pci_print_fn(struct pci_fn f);
