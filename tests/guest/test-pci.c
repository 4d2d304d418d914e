/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Scenario pci: every function of bus 0 through ECAM and through 0xcf8 (they must agree), BAR sizing,
 * and a virtio device's BAR moved elsewhere and used there.
 */
#include "devices.h"
#include "virtio.h"

#define IOAPIC_BASE UINT64_C(0xfec00000)

static const char *print_bars(struct pci_fn f)
{
        for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
                struct pci_bar b;

                if (!pci_bar_probe(f, i, &b))
                        continue;
                print("pci: ");
                pci_print_fn(f);
                print(" bar %u %s addr=0x%lx size=0x%lx%s\n", i,
                      b.io      ? "io"
                      : b.mem64 ? "mem64"
                                : "mem32",
                      b.addr, b.size, b.prefetchable ? " prefetchable" : "");
                if (b.size & (b.size - 1))
                        return "a BAR size is not a power of two";
                if (b.addr & (b.size - 1))
                        return "a BAR address is not aligned to its size";
        }
        return NULL;
}

/* Both mechanisms must show the same 256 bytes. */
static const char *compare_mechanisms(struct pci_fn f)
{
        for (uint16_t off = 0; off < 256; off += 4) {
                uint32_t e = pci_read_via(PCI_ACCESS_ECAM, f, off, 4),
                         c = pci_read_via(PCI_ACCESS_CF8, f, off, 4);

                if (e != c) {
                        print("pci: ");
                        pci_print_fn(f);
                        print(" offset 0x%x: ecam 0x%08x, 0xcf8 0x%08x\n", off, e, c);
                        return "ECAM and 0xcf8 disagree";
                }
        }
        print("pci: ");
        pci_print_fn(f);
        print(" ecam and 0xcf8 agree\n");
        return NULL;
}

/* A write through one mechanism is seen through the other: Interrupt Line, restored afterwards. */
static const char *cross_write(struct pci_fn f)
{
        uint8_t saved = (uint8_t) pci_read(f, PCI_INTERRUPT_LINE, 1), e, c;

        pci_write_via(PCI_ACCESS_CF8, f, PCI_INTERRUPT_LINE, 1, 0x5a);
        e = (uint8_t) pci_read_via(PCI_ACCESS_ECAM, f, PCI_INTERRUPT_LINE, 1);
        pci_write_via(PCI_ACCESS_ECAM, f, PCI_INTERRUPT_LINE, 1, 0xa5);
        c = (uint8_t) pci_read_via(PCI_ACCESS_CF8, f, PCI_INTERRUPT_LINE, 1);
        pci_write(f, PCI_INTERRUPT_LINE, 1, saved);
        print("pci: ");
        pci_print_fn(f);
        print(" interrupt line written through 0xcf8 reads 0x%02x through ecam, written through ecam reads "
              "0x%02x "
              "through 0xcf8\n",
              e, c);
        if (e != 0x5a || c != 0xa5)
                return "a configuration write through one mechanism is not seen through the other";
        return NULL;
}

static uint64_t align_up(uint64_t v, uint64_t align)
{
        return (v + align - 1) & ~(align - 1);
}

static uint64_t ram_top(void)
{
        uint64_t top = 0;

        for (unsigned i = 0; i < boot_info.memmap_entries; i++)
                if (boot_info.memmap[i].type == 1 &&
                    boot_info.memmap[i].addr + boot_info.memmap[i].size > top)
                        top = boot_info.memmap[i].addr + boot_info.memmap[i].size;
        return top;
}

/* The lowest start and highest end of the memory BARs on bus 0 on one side of 4 GiB. */
static void bar_span(bool high, uint64_t *ret_start, uint64_t *ret_end)
{
        uint64_t start = UINT64_MAX, end = 0;
        struct pci_fn f;

        for (bool more = pci_next(&f, true); more; more = pci_next(&f, false))
                for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
                        struct pci_bar b;

                        if (!pci_bar_probe(f, i, &b) || b.io || b.addr == 0 ||
                            (b.addr >= (UINT64_C(1) << 32)) != high)
                                continue;
                        if (b.addr < start)
                                start = b.addr;
                        if (b.addr + b.size > end)
                                end = b.addr + b.size;
                }
        *ret_start = start;
        *ret_end = end;
}

/*
 * A free address for the BAR. A 64-bit BAR goes above 4 GiB, above RAM (from the first GiB boundary,
 * where a 64-bit window starts) and above every BAR there. A 32-bit BAR goes just above or just below
 * the other 32-bit BARs, keeping clear of RAM, ECAM and the I/O APIC.
 */
static bool pick_free_address(const struct pci_bar *bar, uint64_t *ret)
{
        uint64_t start, end, floor = ram_top(), ceiling = IOAPIC_BASE, ecam = pci_ecam_base(), target;

        if (bar->mem64) {
                bar_span(true, &start, &end);
                target = align_up(floor, UINT64_C(1) << 30);
                if (target < (UINT64_C(1) << 32))
                        target = UINT64_C(1) << 32;
                if (end > target)
                        target = end;
                *ret = align_up(target, bar->size);
                return true;
        }

        bar_span(false, &start, &end);
        if (floor > (UINT64_C(1) << 32))
                floor = 0;
        /* ECAM is out of bounds on whichever side of the BARs it lies. */
        if (ecam && ecam < (UINT64_C(1) << 32)) {
                if (ecam >= end && ecam < ceiling)
                        ceiling = ecam;
                else if (ecam < start && ecam + 0x10000000 > floor)
                        floor = ecam + 0x10000000;
        }
        target = align_up(end, bar->size);
        if (target + bar->size <= ceiling) {
                *ret = target;
                return true;
        }
        target = (start - bar->size) & ~(bar->size - 1);
        if (start >= bar->size && target >= floor) {
                *ret = target;
                return true;
        }
        return false;
}

static const char *move_bar(void)
{
        static struct virtio_dev dev;
        struct virtq_buf buf;
        volatile uint8_t *old_common;
        uint16_t num_queues, old_reads;
        uint64_t features, target, old;
        struct pci_fn f;
        struct pci_bar *bar;
        const char *r;
        uint8_t *bytes;

        if (!pci_find(VIRTIO_PCI_VENDOR, VIRTIO_PCI_DEVICE(VIRTIO_ID_RNG), 0, &f) &&
            !pci_find(VIRTIO_PCI_VENDOR, VIRTIO_PCI_DEVICE(VIRTIO_ID_BLOCK), 0, &f)) {
                print("pci: no virtio-rng or virtio-blk device, no BAR moved\n");
                return NULL;
        }
        r = virtio_open(&dev, f);
        if (r)
                return r;
        num_queues = virtio_common_read16(&dev, VIRTIO_COMMON_NUMQ);
        features = virtio_device_features(&dev);
        bar = &dev.bars[dev.common_bar];
        old = bar->addr;
        old_common = dev.common;
        if (!pick_free_address(bar, &target))
                return "no free address to move the BAR to";

        pci_bar_move(f, dev.common_bar, bar, target);
        r = virtio_remap(&dev);
        if (r)
                return r;
        print("pci: moved ");
        pci_print_fn(f);
        print(" bar %u from 0x%lx to 0x%lx\n", dev.common_bar, old, bar->addr);
        if (bar->addr != target)
                return "the BAR does not read back the address written";

        old_reads = mmio_read16(old_common + VIRTIO_COMMON_NUMQ);
        print("pci: num_queues=%u at the new address, 0x%x at the old one\n",
              virtio_common_read16(&dev, VIRTIO_COMMON_NUMQ), old_reads);
        if (virtio_common_read16(&dev, VIRTIO_COMMON_NUMQ) != num_queues ||
            virtio_device_features(&dev) != features)
                return "the device's registers differ at the new address";
        if (old_reads == num_queues)
                return "the device still answers at the old address";

        dma_reset();
        r = virtio_start(&dev, 0, 1);
        if (r)
                return r;
        if (dev.type == VIRTIO_ID_RNG) {
                uint32_t len;

                bytes = dma_alloc(16, 16);
                buf = (struct virtq_buf){bytes, 16, true};
                r = virtq_request(&dev.vqs[0], &buf, 1, &len);
                if (r)
                        return r;
                print("pci: virtio-rng at the new address returned %u bytes\n", len);
                if (len == 0 || len > 16)
                        return "virtio-rng returned a bad length at the new address";
        }
        print("pci: device works at the new address\n");
        return virtio_reset(&dev);
}

const char *scenario_pci(void)
{
        bool both;
        unsigned n = 0, crossed = 0;
        struct pci_fn f;
        const char *r;

        r = pci_init(true);
        if (r)
                return r;
        both = pci_has(PCI_ACCESS_ECAM) && pci_has(PCI_ACCESS_CF8);
        for (bool more = pci_next(&f, true); more; more = pci_next(&f, false)) {
                n++;
                print("pci: ");
                pci_print_fn(f);
                print(" %04x:%04x class 0x%06x header 0x%02x\n", pci_read(f, PCI_VENDOR_ID, 2),
                      pci_read(f, PCI_DEVICE_ID, 2), pci_read(f, PCI_CLASS_REVISION, 4) >> 8,
                      pci_read(f, PCI_HEADER_TYPE, 1));
                r = print_bars(f);
                if (r)
                        return r;
                if (!both)
                        continue;
                r = compare_mechanisms(f);
                if (r)
                        return r;
                /* Once, on a function other than the host bridge. */
                if (f.slot != 0 && crossed++ == 0) {
                        r = cross_write(f);
                        if (r)
                                return r;
                }
        }
        print("pci: functions=%u\n", n);
        if (n == 0)
                return "no PCI function on bus 0";
        return move_bar();
}
