/* SPDX-License-Identifier: Apache-2.0 */
/* PCI configuration access through ECAM and 0xcf8/0xcfc, enumeration of bus 0, BARs and capabilities. */
#include "pci.h"
#include "acpi.h"
#include "platform.h"

#define CF8_ADDRESS   0xcf8
#define CF8_DATA      0xcfc
#define CF8_ENABLE    0x80000000u
#define ECAM_BUS_SIZE 0x100000u
#define CAP_LIST_MAX  48

static struct {
        bool done;
        const char *error;
        bool ecam, cf8;
        uint64_t ecam_base;
        enum pci_access access;
} pci;

static bool cf8_present(void)
{
        uint32_t saved = inl(CF8_ADDRESS), v;

        outl(CF8_ADDRESS, CF8_ENABLE);
        v = inl(CF8_ADDRESS);
        outl(CF8_ADDRESS, saved);
        return v == CF8_ENABLE;
}

static const char *pci_setup(bool verbose)
{
        struct acpi_mcfg_entry mcfg;

        if (!acpi_init(false) && acpi_mcfg_bus0(&mcfg)) {
                if (!mmio_map(mcfg.base, ECAM_BUS_SIZE, false))
                        return "cannot map ECAM";
                pci.ecam = true;
                pci.ecam_base = mcfg.base;
                if (verbose)
                        print("pci: ecam base=0x%lx from MCFG\n", mcfg.base);
        } else if (verbose)
                print("pci: no MCFG, no ECAM\n");
        pci.cf8 = cf8_present();
        if (verbose)
                print("pci: 0xcf8 mechanism %s\n", pci.cf8 ? "present" : "absent");
        if (!pci.ecam && !pci.cf8)
                return "neither ECAM nor the 0xcf8 mechanism";

        pci.access = pci.ecam ? PCI_ACCESS_ECAM : PCI_ACCESS_CF8;
        if (cmdline_is("pci", "cf8")) {
                if (!pci.cf8)
                        return "pci=cf8 but there is no 0xcf8 mechanism";
                pci.access = PCI_ACCESS_CF8;
        } else if (cmdline_is("pci", "ecam") && !pci.ecam)
                return "pci=ecam but there is no ECAM";
        if (verbose)
                print("pci: using %s\n", pci.access == PCI_ACCESS_ECAM ? "ecam" : "0xcf8");
        return NULL;
}

const char *pci_init(bool verbose)
{
        if (!pci.done) {
                pci.error = pci_setup(verbose);
                pci.done = true;
        }
        return pci.error;
}

bool pci_has(enum pci_access access)
{
        if (pci_init(false))
                return false;
        return access == PCI_ACCESS_ECAM ? pci.ecam : pci.cf8;
}

uint64_t pci_ecam_base(void)
{
        return pci_has(PCI_ACCESS_ECAM) ? pci.ecam_base : 0;
}

static volatile void *ecam_ptr(struct pci_fn f, uint16_t offset)
{
        return mmio_ptr(pci.ecam_base +
                        ((uint64_t) f.bus << 20 | (uint64_t) f.slot << 15 | (uint64_t) f.fn << 12 | offset));
}

static void cf8_select(struct pci_fn f, uint16_t offset)
{
        outl(CF8_ADDRESS, CF8_ENABLE | (uint32_t) f.bus << 16 | (uint32_t) f.slot << 11 |
                                  (uint32_t) f.fn << 8 | (offset & 0xfc));
}

uint32_t pci_read_via(enum pci_access access, struct pci_fn f, uint16_t offset, unsigned size)
{
        if (!pci_has(access))
                return UINT32_MAX;
        if (access == PCI_ACCESS_ECAM) {
                volatile void *p = ecam_ptr(f, offset);

                return size == 1 ? mmio_read8(p) : size == 2 ? mmio_read16(p) : mmio_read32(p);
        }
        if (offset >= 256)
                return UINT32_MAX;
        cf8_select(f, offset);
        if (size == 1)
                return inb(CF8_DATA + (offset & 3));
        if (size == 2)
                return inw(CF8_DATA + (offset & 2));
        return inl(CF8_DATA);
}

void pci_write_via(enum pci_access access, struct pci_fn f, uint16_t offset, unsigned size, uint32_t v)
{
        if (!pci_has(access))
                return;
        if (access == PCI_ACCESS_ECAM) {
                volatile void *p = ecam_ptr(f, offset);

                if (size == 1)
                        mmio_write8(p, (uint8_t) v);
                else if (size == 2)
                        mmio_write16(p, (uint16_t) v);
                else
                        mmio_write32(p, v);
                return;
        }
        if (offset >= 256)
                return;
        cf8_select(f, offset);
        if (size == 1)
                outb(CF8_DATA + (offset & 3), (uint8_t) v);
        else if (size == 2)
                outw(CF8_DATA + (offset & 2), (uint16_t) v);
        else
                outl(CF8_DATA, v);
}

uint32_t pci_read(struct pci_fn f, uint16_t offset, unsigned size)
{
        return pci_read_via(pci.access, f, offset, size);
}

void pci_write(struct pci_fn f, uint16_t offset, unsigned size, uint32_t v)
{
        pci_write_via(pci.access, f, offset, size, v);
}

static bool multifunction(unsigned slot)
{
        return pci_read((struct pci_fn){.slot = (uint8_t) slot}, PCI_HEADER_TYPE, 1) & 0x80;
}

bool pci_next(struct pci_fn *f, bool first)
{
        unsigned slot = first ? 0 : f->slot, fn = first ? 0 : f->fn + 1u;

        if (pci_init(false))
                return false;
        for (; slot < 32; slot++, fn = 0) {
                for (; fn < 8; fn++) {
                        struct pci_fn c = {.slot = (uint8_t) slot, .fn = (uint8_t) fn};

                        /* Functions 1-7 exist only when function 0 exists and says it has several. */
                        if (fn > 0 && !multifunction(slot))
                                break;
                        if (pci_read(c, PCI_VENDOR_ID, 2) != 0xffff) {
                                *f = c;
                                return true;
                        }
                        if (fn == 0)
                                break;
                }
        }
        return false;
}

bool pci_find(uint16_t vendor, uint16_t device, unsigned n, struct pci_fn *ret)
{
        struct pci_fn f;

        for (bool more = pci_next(&f, true); more; more = pci_next(&f, false)) {
                if (pci_read(f, PCI_VENDOR_ID, 2) == vendor && pci_read(f, PCI_DEVICE_ID, 2) == device &&
                    n-- == 0) {
                        *ret = f;
                        return true;
                }
        }
        return false;
}

/* Whether BAR index is the upper half of a 64-bit BAR: walks the BARs from 0 by their type bits. */
static bool bar_is_upper_half(struct pci_fn f, unsigned index)
{
        unsigned i = 0;

        while (i < index) {
                uint32_t v = pci_read(f, (uint16_t) (PCI_BAR0 + 4 * i), 4);

                i += !(v & 1) && (v & 0x6) == 0x4 ? 2 : 1;
        }
        return i > index;
}

bool pci_bar_probe(struct pci_fn f, unsigned index, struct pci_bar *ret)
{
        uint16_t off = (uint16_t) (PCI_BAR0 + 4 * index), command;
        uint32_t lo, hi = 0, mask_lo, mask_hi = UINT32_MAX;
        struct pci_bar bar = {};

        if (index >= PCI_NUM_BARS || bar_is_upper_half(f, index))
                return false;

        command = (uint16_t) pci_read(f, PCI_COMMAND, 2);
        pci_write(f, PCI_COMMAND, 2, command & ~(PCI_COMMAND_IO | PCI_COMMAND_MEMORY));
        lo = pci_read(f, off, 4);
        bar.io = lo & 1;
        bar.mem64 = !bar.io && (lo & 0x6) == 0x4 && index < PCI_NUM_BARS - 1;
        bar.prefetchable = !bar.io && (lo & 0x8);
        pci_write(f, off, 4, UINT32_MAX);
        mask_lo = pci_read(f, off, 4);
        pci_write(f, off, 4, lo);
        if (bar.mem64) {
                hi = pci_read(f, off + 4, 4);
                pci_write(f, off + 4, 4, UINT32_MAX);
                mask_hi = pci_read(f, off + 4, 4);
                pci_write(f, off + 4, 4, hi);
        }
        pci_write(f, PCI_COMMAND, 2, command);

        if (mask_lo == 0)
                return false;
        if (bar.io) {
                bar.addr = lo & ~UINT32_C(3);
                bar.size = (~(mask_lo & ~UINT32_C(3)) + 1) & 0xffff;
        } else {
                bar.addr = (lo & ~UINT32_C(0xf)) | (uint64_t) hi << 32;
                bar.size = ~((uint64_t) mask_hi << 32 | (mask_lo & ~UINT32_C(0xf))) + 1;
        }
        if (bar.size == 0)
                return false;
        *ret = bar;
        return true;
}

void pci_bar_move(struct pci_fn f, unsigned index, const struct pci_bar *bar, uint64_t addr)
{
        uint16_t off = (uint16_t) (PCI_BAR0 + 4 * index), command;

        command = (uint16_t) pci_read(f, PCI_COMMAND, 2);
        pci_write(f, PCI_COMMAND, 2, command & ~(PCI_COMMAND_IO | PCI_COMMAND_MEMORY));
        pci_write(f, off, 4, (uint32_t) addr | (bar->prefetchable ? 0x8 : 0) | (bar->mem64 ? 0x4 : 0));
        if (bar->mem64)
                pci_write(f, off + 4, 4, (uint32_t) (addr >> 32));
        pci_write(f, PCI_COMMAND, 2, command);
}

uint8_t pci_find_capability(struct pci_fn f, uint8_t id, uint8_t from)
{
        uint8_t pos;

        if (!(pci_read(f, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST))
                return 0;
        pos = (uint8_t) pci_read(f, from ? (uint16_t) (from + 1) : PCI_CAPABILITY_LIST, 1);
        for (unsigned i = 0; i < CAP_LIST_MAX && pos >= 0x40; i++) {
                pos &= 0xfc;
                if (pci_read(f, pos, 1) == id)
                        return pos;
                pos = (uint8_t) pci_read(f, (uint16_t) (pos + 1), 1);
        }
        return 0;
}

void pci_print_fn(struct pci_fn f)
{
        print("%02x:%02x.%x", f.bus, f.slot, f.fn);
}
