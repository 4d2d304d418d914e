/* SPDX-License-Identifier: Apache-2.0 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <inttypes.h>

#include "guest-memory.h"
#include "loader.h"
#include "x86-boot.h"
#include "x86-layout.h"

static GuestMemory *mem;

static void setup(void)
{
        cr_assert(eq(int, guest_memory_new(512 * MiB, false, false, false, &mem), 0));
}

static void teardown(void)
{
        mem = guest_memory_free(mem);
}

TestSuite(x86_boot, .init = setup, .fini = teardown);

static uint8_t *gp(uint64_t gpa, uint64_t len)
{
        uint8_t *p = guest_memory_ptr(mem, gpa, len);
        cr_assert(not(zero(ptr, p)), "0x%llx+0x%llx is not guest memory", (unsigned long long) gpa,
                  (unsigned long long) len);
        return p;
}

static uint8_t rd8(uint64_t gpa)
{
        return *gp(gpa, 1);
}

static uint16_t rd16(uint64_t gpa)
{
        uint16_t v;
        memcpy(&v, gp(gpa, sizeof v), sizeof v);
        return v;
}

static uint32_t rd32(uint64_t gpa)
{
        uint32_t v;
        memcpy(&v, gp(gpa, sizeof v), sizeof v);
        return v;
}

static uint64_t rd64(uint64_t gpa)
{
        uint64_t v;
        memcpy(&v, gp(gpa, sizeof v), sizeof v);
        return v;
}

static uint8_t sum8(uint64_t gpa, size_t len)
{
        const uint8_t *p = gp(gpa, len);
        uint8_t s = 0;
        for (size_t i = 0; i < len; i++)
                s = (uint8_t) (s + p[i]);
        return s;
}

static KernelImage pvh_kernel(void)
{
        return (KernelImage) {
                .protocol = BOOT_PVH,
                .format = "ELF (PVH)",
                .entry = 0x1000000,
                .load_end = 0x1200000,
                .initrd_addr_max = UINT32_MAX,
                .cmdline_size = 4096,
        };
}

static KernelImage vmlinux_kernel(void)
{
        KernelImage k = pvh_kernel();
        k.protocol = BOOT_LINUX_64;
        k.format = "ELF vmlinux";
        return k;
}

/* The setup header byte at boot_params offset off. */
#define HDR(k, off) ((k).setup_header[(off) -BZIMAGE_SETUP_HEADER_START])

/* A bzImage's setup header (0x1f1..0x26c) as kernel_image_load() would keep it. */
static KernelImage bzimage_kernel(void)
{
        KernelImage k = {
                .protocol = BOOT_LINUX_64,
                .format = "bzImage",
                .entry = 0x100200,
                .load_end = 0x500000,
                .has_setup_header = true,
                .setup_header_len = 0x26c - 0x1f1,
                .initrd_addr_max = 0x7fffffff,
                .cmdline_size = 255,
        };

        for (size_t i = 0; i < k.setup_header_len; i++)
                k.setup_header[i] = (uint8_t) (0x11 + i);
        HDR(k, 0x1f1) = 4;
        memcpy(&HDR(k, 0x1fe), &(uint16_t) { 0xaa55 }, 2);
        memcpy(&HDR(k, 0x202), "HdrS", 4);
        memcpy(&HDR(k, 0x206), &(uint16_t) { 0x020f }, 2);
        HDR(k, 0x211) = 0x01; /* LOADED_HIGH */
        memcpy(&HDR(k, 0x236), &(uint16_t) { 0x0003 }, 2);
        memcpy(&HDR(k, 0x238), &(uint32_t) { 255 }, 4);
        memcpy(&HDR(k, 0x260), &(uint32_t) { 0x400000 }, 4);
        return k;
}

static void write_ok(const BootParams *b)
{
        char err[256] = "";
        int r = x86_boot_write_structures(mem, b, err, sizeof err);
        cr_assert(eq(int, r, 0), "x86_boot_write_structures: %d %s", r, err);
}

/* e820 */

Test(x86_boot, e820_512m)
{
        E820Entry e[X86_E820_MAX];
        unsigned n = x86_e820_build(mem, e);

        cr_assert(eq(uint, n, 5));
        cr_assert(eq(u64, e[0].addr, 0));
        cr_assert(eq(u64, e[0].size, 0x9fc00));
        cr_assert(eq(u32, e[0].type, X86_E820_RAM));
        cr_assert(eq(u64, e[1].addr, 0x9fc00));
        cr_assert(eq(u64, e[1].size, 0x400));
        cr_assert(eq(u32, e[1].type, X86_E820_RESERVED));
        /* ACPI tables from 0xe0000, then the MP table up to 1 MiB. */
        cr_assert(eq(u64, e[2].addr, 0xe0000));
        cr_assert(eq(u64, e[2].size, 0x20000));
        cr_assert(eq(u32, e[2].type, X86_E820_RESERVED));
        cr_assert(eq(u64, e[3].addr, 0x100000));
        cr_assert(eq(u64, e[3].size, 512 * MiB - 0x100000));
        cr_assert(eq(u32, e[3].type, X86_E820_RAM));
        /* ECAM is reserved, or Linux ignores MCFG. */
        cr_assert(eq(u64, e[4].addr, X86_PCI_ECAM_ADDR));
        cr_assert(eq(u64, e[4].size, X86_PCI_ECAM_SIZE));
        cr_assert(eq(u32, e[4].type, X86_E820_RESERVED));
}

static uint64_t e820_ram(const E820Entry *e, unsigned n)
{
        uint64_t ram = 0;
        for (unsigned i = 0; i < n; i++) {
                if (i > 0)
                        cr_assert(ge(u64, e[i].addr, e[i - 1].addr + e[i - 1].size), "entry %u overlaps", i);
                if (e[i].type == X86_E820_RAM)
                        ram += e[i].size;
        }
        return ram;
}

Test(x86_boot, e820_4g_has_a_region_above_4g)
{
        _cleanup_(guest_memory_freep) GuestMemory *big = NULL;
        E820Entry e[X86_E820_MAX];
        unsigned n;

        cr_assert(eq(int, guest_memory_new(4 * GiB, false, false, false, &big), 0));
        n = x86_e820_build(big, e);
        cr_assert(eq(uint, n, 6));
        cr_assert(eq(u64, e[3].addr, 0x100000));
        cr_assert(eq(u64, e[3].size, 3 * GiB - 0x100000));
        cr_assert(eq(u32, e[3].type, X86_E820_RAM));
        cr_assert(eq(u64, e[5].addr, 4 * GiB));
        cr_assert(eq(u64, e[5].size, 1 * GiB));
        cr_assert(eq(u32, e[5].type, X86_E820_RAM));
        /* All RAM but the 384 KiB hole below 1 MiB (EBDA, VGA and BIOS area). */
        cr_assert(eq(u64, e820_ram(e, n), 4 * GiB - (0x100000 - 0x9fc00)));
}

Test(x86_boot, e820_exactly_3g_has_no_high_region)
{
        _cleanup_(guest_memory_freep) GuestMemory *m = NULL;
        E820Entry e[X86_E820_MAX];
        unsigned n;

        cr_assert(eq(int, guest_memory_new(3 * GiB, false, false, false, &m), 0));
        n = x86_e820_build(m, e);
        cr_assert(eq(uint, n, 5));
        cr_assert(eq(u64, e[3].addr + e[3].size, 3 * GiB));
        cr_assert(eq(u64, e[4].addr, X86_PCI_ECAM_ADDR));
}

/* PVH */

static void assert_memmap_matches_e820(uint64_t gpa, unsigned n)
{
        E820Entry e[X86_E820_MAX];
        unsigned m = x86_e820_build(mem, e);

        cr_assert(eq(uint, n, m));
        for (unsigned i = 0; i < n; i++) {
                uint64_t p = gpa + 24 * i;
                cr_assert(eq(u64, rd64(p), e[i].addr), "memmap[%u].addr", i);
                cr_assert(eq(u64, rd64(p + 8), e[i].size), "memmap[%u].size", i);
                cr_assert(eq(u32, rd32(p + 16), e[i].type), "memmap[%u].type", i);
                cr_assert(eq(u32, rd32(p + 20), 0), "memmap[%u].reserved", i);
        }
}

Test(x86_boot, pvh_start_info)
{
        KernelImage k = pvh_kernel();
        BootParams b = { .kernel = &k, .cmdline = "console=ttyS0 quiet", .boot_vcpus = 1, .max_vcpus = 1 };
        uint64_t si = X86_PVH_INFO_ADDR;

        memset(gp(si, 56), 0xcc, 56);
        write_ok(&b);
        cr_assert(eq(u32, rd32(si + 0), 0x336ec578));
        cr_assert(eq(u32, rd32(si + 4), 1));
        cr_assert(eq(u32, rd32(si + 8), 0));  /* flags */
        cr_assert(eq(u32, rd32(si + 12), 0)); /* nr_modules */
        cr_assert(eq(u64, rd64(si + 16), 0)); /* modlist_paddr */
        cr_assert(eq(u64, rd64(si + 24), 0x20000));
        cr_assert(eq(u64, rd64(si + 32), 0)); /* rsdp_paddr: none given */
        cr_assert(eq(u64, rd64(si + 40), X86_PVH_MEMMAP_ADDR));
        cr_assert(eq(u32, rd32(si + 48), 5));
        cr_assert(eq(u32, rd32(si + 52), 0));
        assert_memmap_matches_e820(rd64(si + 40), rd32(si + 48));
        cr_assert(eq(str, (char *) gp(0x20000, 20), "console=ttyS0 quiet"));
}

Test(x86_boot, pvh_with_initramfs)
{
        KernelImage k = pvh_kernel();
        BootParams b = { .kernel = &k,
                         .cmdline = "",
                         .initramfs_addr = 0x1f000000,
                         .initramfs_size = 0x123456,
                         .boot_vcpus = 2,
                         .max_vcpus = 2 };
        uint64_t si = X86_PVH_INFO_ADDR, ml;

        memset(gp(X86_PVH_MODLIST_ADDR, 32), 0xcc, 32);
        write_ok(&b);
        cr_assert(eq(u32, rd32(si + 12), 1));
        ml = rd64(si + 16);
        cr_assert(eq(u64, ml, X86_PVH_MODLIST_ADDR));
        cr_assert(eq(u64, rd64(ml), 0x1f000000));
        cr_assert(eq(u64, rd64(ml + 8), 0x123456));
        cr_assert(eq(u64, rd64(ml + 16), 0)); /* cmdline_paddr */
        cr_assert(eq(u64, rd64(ml + 24), 0)); /* reserved */
        /* The module list does not overlap start_info or the memory map. */
        cr_assert(ge(u64, ml, si + 56));
        cr_assert(le(u64, ml + 32, rd64(si + 40)));
        cr_assert(eq(u8, rd8(0x20000), 0));
}

Test(x86_boot, rsdp_reaches_both_protocols)
{
        KernelImage k = pvh_kernel();
        BootParams b = { .kernel = &k, .cmdline = "", .boot_vcpus = 1, .max_vcpus = 1, .rsdp_addr = 0xe0000 };

        write_ok(&b);
        cr_assert(eq(u64, rd64(X86_PVH_INFO_ADDR + 32), 0xe0000));
        k.protocol = BOOT_LINUX_64;
        write_ok(&b);
        cr_assert(eq(u64, rd64(X86_ZERO_PAGE_ADDR + 0x70), 0xe0000)); /* boot_params.acpi_rsdp_addr */
}

Test(x86_boot, pvh_memmap_with_high_memory)
{
        KernelImage k = pvh_kernel();
        BootParams b = { .kernel = &k, .cmdline = "x", .boot_vcpus = 1, .max_vcpus = 1 };

        mem = guest_memory_free(mem);
        cr_assert(eq(int, guest_memory_new(6 * GiB, false, false, false, &mem), 0));
        write_ok(&b);
        cr_assert(eq(u32, rd32(X86_PVH_INFO_ADDR + 48), 6));
        assert_memmap_matches_e820(X86_PVH_MEMMAP_ADDR, 6);
        cr_assert(eq(u64, rd64(X86_PVH_MEMMAP_ADDR + 5 * 24), 4 * GiB));
        cr_assert(eq(u64, rd64(X86_PVH_MEMMAP_ADDR + 5 * 24 + 8), 3 * GiB));
}

/* Linux boot protocol */

static void assert_zero_page_e820(void)
{
        E820Entry e[X86_E820_MAX];
        unsigned n = x86_e820_build(mem, e);
        uint64_t zp = X86_ZERO_PAGE_ADDR;

        cr_assert(eq(u8, rd8(zp + 0x1e8), n));
        for (unsigned i = 0; i < n; i++) {
                uint64_t p = zp + 0x2d0 + 20 * i;
                cr_assert(eq(u64, rd64(p), e[i].addr), "e820[%u].addr", i);
                cr_assert(eq(u64, rd64(p + 8), e[i].size), "e820[%u].size", i);
                cr_assert(eq(u32, rd32(p + 16), e[i].type), "e820[%u].type", i);
        }
        /* Nothing after the last entry. */
        cr_assert(eq(u64, rd64(zp + 0x2d0 + 20 * n), 0));
}

Test(x86_boot, linux_vmlinux_boot_params)
{
        KernelImage k = vmlinux_kernel();
        BootParams b = { .kernel = &k, .cmdline = "console=ttyS0", .boot_vcpus = 1, .max_vcpus = 1 };
        uint64_t zp = X86_ZERO_PAGE_ADDR;

        memset(gp(zp, 4096), 0xcc, 4096);
        write_ok(&b);
        /* A minimal setup header of our own. */
        cr_assert(eq(u16, rd16(zp + 0x1fe), 0xaa55));
        cr_assert(eq(u32, rd32(zp + 0x202), 0x53726448));
        cr_assert(eq(u16, rd16(zp + 0x206), 0x020c));
        cr_assert(eq(u32, rd32(zp + 0x230), 0x1000000));
        cr_assert(eq(u8, rd8(zp + 0x210), 0xff));
        cr_assert(eq(u8, rd8(zp + 0x211) & 0x80, 0x80));
        cr_assert(eq(u16, rd16(zp + 0x224), 0xfe00));
        cr_assert(eq(u32, rd32(zp + 0x228), 0x20000));
        cr_assert(eq(u32, rd32(zp + 0xc8), 0));
        /* No initramfs. */
        cr_assert(eq(u32, rd32(zp + 0x218), 0));
        cr_assert(eq(u32, rd32(zp + 0x21c), 0));
        cr_assert(eq(u32, rd32(zp + 0xc0), 0));
        cr_assert(eq(u32, rd32(zp + 0xc4), 0));
        /* The rest of the page was cleared. */
        cr_assert(eq(u8, rd8(zp + 0x100), 0));
        cr_assert(eq(u8, rd8(zp + 0xfff), 0));
        cr_assert(eq(u8, rd8(zp + 0x1f1), 0));
        assert_zero_page_e820();
        cr_assert(eq(str, (char *) gp(0x20000, 14), "console=ttyS0"));
}

Test(x86_boot, linux_ramdisk_fields)
{
        KernelImage k = vmlinux_kernel();
        BootParams b = { .kernel = &k,
                         .cmdline = "",
                         .initramfs_addr = 0x1e000000,
                         .initramfs_size = 0x2345678,
                         .boot_vcpus = 1,
                         .max_vcpus = 1 };
        uint64_t zp = X86_ZERO_PAGE_ADDR;

        write_ok(&b);
        cr_assert(eq(u32, rd32(zp + 0x218), 0x1e000000));
        cr_assert(eq(u32, rd32(zp + 0x21c), 0x2345678));
        cr_assert(eq(u32, rd32(zp + 0xc0), 0));
        cr_assert(eq(u32, rd32(zp + 0xc4), 0));
}

Test(x86_boot, linux_ramdisk_fields_above_4g)
{
        KernelImage k = vmlinux_kernel();
        BootParams b = { .kernel = &k,
                         .initramfs_addr = UINT64_C(0x123456000),
                         .initramfs_size = UINT64_C(0x100000010),
                         .boot_vcpus = 1,
                         .max_vcpus = 1 };
        uint64_t zp = X86_ZERO_PAGE_ADDR;

        write_ok(&b);
        cr_assert(eq(u32, rd32(zp + 0x218), 0x23456000));
        cr_assert(eq(u32, rd32(zp + 0x21c), 0x10));
        cr_assert(eq(u32, rd32(zp + 0xc0), 0x1));
        cr_assert(eq(u32, rd32(zp + 0xc4), 0x1));
        /* NULL command line: an empty one. */
        cr_assert(eq(u8, rd8(0x20000), 0));
}

Test(x86_boot, linux_bzimage_setup_header_copied)
{
        KernelImage k = bzimage_kernel();
        BootParams b = { .kernel = &k, .cmdline = "root=/dev/vda", .boot_vcpus = 1, .max_vcpus = 1 };
        uint64_t zp = X86_ZERO_PAGE_ADDR;

        write_ok(&b);
        for (size_t off = 0x1f1; off < 0x26c; off++) {
                /* Fields the loader fills in. */
                if (off == 0x210 || off == 0x211 || (off >= 0x218 && off < 0x220) ||
                    (off >= 0x224 && off < 0x22c))
                        continue;
                cr_assert(eq(u8, rd8(zp + off), HDR(k, off)), "setup header byte 0x%zx", off);
        }
        /* Past the header's end, nothing from the image. */
        for (size_t off = 0x26c; off < 0x290; off++)
                cr_assert(eq(u8, rd8(zp + off), 0), "byte 0x%zx past the header", off);
        cr_assert(eq(u8, rd8(zp + 0x210), 0xff));
        cr_assert(eq(u8, rd8(zp + 0x211), 0x81)); /* LOADED_HIGH kept, CAN_USE_HEAP added */
        cr_assert(eq(u16, rd16(zp + 0x224), 0xfe00));
        cr_assert(eq(u32, rd32(zp + 0x228), 0x20000));
        cr_assert(eq(u32, rd32(zp + 0x260), 0x400000));
        cr_assert(eq(u16, rd16(zp + 0x206), 0x020f));
        assert_zero_page_e820();
}

/* Command line */

static char *cmdline_of(size_t len)
{
        char *s = malloc(len + 1);
        cr_assert(not(zero(ptr, s)));
        memset(s, 'c', len);
        s[len] = 0;
        return s;
}

Test(x86_boot, cmdline_too_long)
{
        _cleanup_free_ char *max = cmdline_of(4095), *too_long = cmdline_of(4096);
        KernelImage k = pvh_kernel();
        BootParams b = { .kernel = &k, .cmdline = too_long, .boot_vcpus = 1, .max_vcpus = 1 };
        char err[256] = "";

        cr_assert(eq(int, x86_boot_write_structures(mem, &b, err, sizeof err), -EINVAL));
        cr_assert(not(zero(ptr, strstr(err, "4096 bytes"))), "%s", err);
        cr_assert(eq(u8, rd8(0x20000), 0), "the command line was written anyway");

        b.cmdline = max;
        write_ok(&b);
        cr_assert(eq(sz, strnlen((char *) gp(0x20000, 4096), 4096), 4095));
}

Test(x86_boot, cmdline_limited_by_the_bzimage)
{
        _cleanup_free_ char *max = cmdline_of(255), *too_long = cmdline_of(256);
        KernelImage k = bzimage_kernel();
        BootParams b = { .kernel = &k, .cmdline = too_long, .boot_vcpus = 1, .max_vcpus = 1 };
        char err[256] = "";

        cr_assert(eq(int, x86_boot_write_structures(mem, &b, err, sizeof err), -EINVAL));
        cr_assert(not(zero(ptr, strstr(err, "255"))), "%s", err);
        b.cmdline = max;
        write_ok(&b);
        cr_assert(eq(sz, strlen((char *) gp(0x20000, 256)), 255));
}

/* Page tables and GDT */

Test(x86_boot, page_tables_identity_map_4g)
{
        KernelImage k = vmlinux_kernel();
        BootParams b = { .kernel = &k, .boot_vcpus = 1, .max_vcpus = 1 };

        memset(gp(X86_PML4_ADDR, 4096), 0xcc, 4096);
        memset(gp(X86_PDPT_ADDR, 4096), 0xcc, 4096);
        write_ok(&b);
        cr_assert(eq(u64, rd64(X86_PML4_ADDR), X86_PDPT_ADDR | 0x3));
        for (unsigned i = 1; i < 512; i++)
                cr_assert(eq(u64, rd64(X86_PML4_ADDR + 8 * i), 0), "PML4[%u]", i);
        for (unsigned i = 0; i < 4; i++)
                cr_assert(eq(u64, rd64(X86_PDPT_ADDR + 8 * i), (X86_PD_ADDR + 4096 * i) | 0x3), "PDPT[%u]",
                          i);
        for (unsigned i = 4; i < 512; i++)
                cr_assert(eq(u64, rd64(X86_PDPT_ADDR + 8 * i), 0), "PDPT[%u]", i);
        for (uint64_t i = 0; i < 2048; i++)
                cr_assert(eq(u64, rd64(X86_PD_ADDR + 8 * i), (i << 21) | 0x83), "PD entry %" PRIu64, i);
}

/* Walks the tables like the MMU: the physical address va maps to. */
static uint64_t translate(uint64_t va)
{
        uint64_t pml4e = rd64(X86_PML4_ADDR + 8 * ((va >> 39) & 511));
        uint64_t pdpte, pde;

        cr_assert(ne(u64, pml4e & 1, 0));
        pdpte = rd64((pml4e & ~UINT64_C(0xfff)) + 8 * ((va >> 30) & 511));
        cr_assert(ne(u64, pdpte & 1, 0));
        cr_assert(eq(u64, pdpte & 0x80, 0), "no 1 GiB pages expected");
        pde = rd64((pdpte & ~UINT64_C(0xfff)) + 8 * ((va >> 21) & 511));
        cr_assert(ne(u64, pde & 1, 0));
        cr_assert(ne(u64, pde & 0x80, 0), "2 MiB page");
        return (pde & ~UINT64_C(0x1fffff)) + (va & 0x1fffff);
}

Test(x86_boot, page_tables_walk)
{
        static const uint64_t addrs[] = { 0,          0x1000,     0x100200,   0x1000000,  0x3fffffff,
                                          0x40000000, 0xbfffffff, 0xc0000000, 0xfee00000, 0xffffffff };
        KernelImage k = pvh_kernel();
        BootParams b = { .kernel = &k, .boot_vcpus = 1, .max_vcpus = 1 };

        write_ok(&b);
        for (size_t i = 0; i < ELEMENTSOF(addrs); i++)
                cr_assert(eq(u64, translate(addrs[i]), addrs[i]));
}

Test(x86_boot, gdt)
{
        KernelImage k = vmlinux_kernel();
        BootParams b = { .kernel = &k, .boot_vcpus = 1, .max_vcpus = 1 };

        write_ok(&b);
        cr_assert(eq(u64, rd64(X86_GDT_ADDR), 0));
        cr_assert(eq(u64, rd64(X86_GDT_ADDR + 8), UINT64_C(0x00af9b000000ffff)));
        cr_assert(eq(u64, rd64(X86_GDT_ADDR + 16), UINT64_C(0x00cf93000000ffff)));
        cr_assert(eq(u64, rd64(X86_GDT_ADDR + 24), UINT64_C(0x008f8b000000ffff)));
        cr_assert(eq(u64, rd64(X86_IDT_ADDR), 0));

        /* PVH starts in 32-bit protected mode: a 32-bit code segment. */
        k = pvh_kernel();
        write_ok(&b);
        cr_assert(eq(u64, rd64(X86_GDT_ADDR + 8), UINT64_C(0x00cf9b000000ffff)));
}

/* The boot structures do not overlap each other. */
Test(x86_boot, layout)
{
        static const struct {
                uint64_t start, len;
                const char *name;
        } areas[] = {
                { X86_GDT_ADDR, 32, "gdt" },
                { X86_IDT_ADDR, 8, "idt" },
                { X86_PVH_INFO_ADDR, 56, "start_info" },
                { X86_PVH_MODLIST_ADDR, 32, "modlist" },
                { X86_ZERO_PAGE_ADDR, 4096, "zero page / memmap" },
                { X86_BOOT_STACK_ADDR - 0x800, 0x800, "stack" },
                { X86_PML4_ADDR, 4096, "pml4" },
                { X86_PDPT_ADDR, 4096, "pdpt" },
                { X86_PD_ADDR, 4 * 4096, "pd" },
                { X86_CMDLINE_ADDR, X86_CMDLINE_MAX, "cmdline" },
                { X86_EBDA_ADDR, 0x400, "ebda" },
                { X86_MPTABLE_ADDR, 0x10000, "mptable" },
        };

        for (size_t i = 0; i < ELEMENTSOF(areas); i++) {
                cr_assert(le(u64, areas[i].start + areas[i].len, X86_BIOS_END), "%s", areas[i].name);
                for (size_t j = i + 1; j < ELEMENTSOF(areas); j++)
                        cr_assert(areas[i].start + areas[i].len <= areas[j].start ||
                                          areas[j].start + areas[j].len <= areas[i].start,
                                  "%s overlaps %s", areas[i].name, areas[j].name);
        }
        /* The PVH memory map (24 bytes an entry) fits in its page. */
        cr_assert(le(u64, X86_PVH_MEMMAP_ADDR + 24 * X86_E820_MAX, X86_ZERO_PAGE_ADDR + 4096));
}

/* MP table */

typedef struct MpCounts {
        unsigned cpus, enabled, bsp, buses, ioapics, intsrc, lintsrc;
        uint8_t bsp_id, ioapic_id;
        bool isa_irq_seen[16];
} MpCounts;

static MpCounts check_mptable(unsigned boot, unsigned max)
{
        uint64_t fp = X86_MPTABLE_ADDR, mpc, p, end;
        MpCounts c = {};
        uint16_t len, count;

        cr_assert(eq(int, memcmp(gp(fp, 4), "_MP_", 4), 0));
        cr_assert(eq(u8, rd8(fp + 8), 1)); /* 16 bytes */
        cr_assert(eq(u8, rd8(fp + 9), 4));
        cr_assert(eq(u8, sum8(fp, 16), 0), "floating pointer checksum");
        cr_assert(eq(u8, rd8(fp + 11), 0), "feature byte 1: a configuration table is present");
        mpc = rd32(fp + 4);
        cr_assert(eq(u64, mpc, X86_MPTABLE_ADDR + 16));

        cr_assert(eq(int, memcmp(gp(mpc, 4), "PCMP", 4), 0));
        len = rd16(mpc + 4);
        count = rd16(mpc + 34);
        cr_assert(eq(u8, rd8(mpc + 6), 4));
        cr_assert(eq(u8, sum8(mpc, len), 0), "configuration table checksum");
        cr_assert(eq(u32, rd32(mpc + 36), X86_LAPIC_ADDR));
        cr_assert(eq(u16, rd16(mpc + 40), 0)); /* no extended table */
        cr_assert(eq(int, memcmp(gp(mpc + 8, 8), "CHV     ", 8), 0));

        p = mpc + 44;
        end = mpc + len;
        for (unsigned i = 0; i < count; i++) {
                uint8_t type = rd8(p);
                cr_assert(lt(u64, p, end), "entry %u is past the table's length", i);
                switch (type) {
                case 0: {
                        uint8_t flags = rd8(p + 3);
                        cr_assert(eq(u8, rd8(p + 1), c.cpus), "APIC IDs are 0..max-1 in order");
                        if (flags & 1)
                                c.enabled++;
                        if (flags & 2) {
                                c.bsp++;
                                c.bsp_id = rd8(p + 1);
                        }
                        cr_assert(eq(u8, flags & 1, c.cpus < boot ? 1 : 0), "CPU %u enabled flag", c.cpus);
                        c.cpus++;
                        p += 20;
                        break;
                }
                case 1:
                        cr_assert(eq(int, memcmp(gp(p + 2, 6), "ISA   ", 6), 0));
                        c.buses++;
                        p += 8;
                        break;
                case 2:
                        c.ioapics++;
                        c.ioapic_id = rd8(p + 1);
                        cr_assert(eq(u8, rd8(p + 3) & 1, 1), "IOAPIC usable");
                        cr_assert(eq(u32, rd32(p + 4), X86_IOAPIC_ADDR));
                        p += 8;
                        break;
                case 3: {
                        uint8_t irq = rd8(p + 5);
                        cr_assert(lt(u8, irq, 16));
                        cr_assert(eq(u8, rd8(p + 7), irq), "ISA IRQ n on IOAPIC pin n");
                        cr_assert(eq(u8, rd8(p + 6), c.ioapic_id), "destination is the IOAPIC");
                        cr_assert(eq(int, c.isa_irq_seen[irq], false), "IRQ %u twice", irq);
                        c.isa_irq_seen[irq] = true;
                        c.intsrc++;
                        p += 8;
                        break;
                }
                case 4:
                        c.lintsrc++;
                        p += 8;
                        break;
                default:
                        cr_fatal("unknown MP entry type %u", type);
                }
        }
        cr_assert(eq(u64, p, end), "table length does not match the entries");
        cr_assert(eq(uint, c.cpus, max));
        cr_assert(eq(uint, c.enabled, boot));
        cr_assert(eq(uint, c.bsp, 1));
        cr_assert(eq(u8, c.bsp_id, 0));
        cr_assert(eq(uint, c.buses, 1));
        cr_assert(eq(uint, c.ioapics, 1));
        cr_assert(eq(uint, c.intsrc, 16));
        cr_assert(eq(uint, c.lintsrc, 2));
        cr_assert(ge(u8, c.ioapic_id, max), "IOAPIC ID collides with a local APIC ID");
        return c;
}

Test(x86_boot, mptable_1_cpu)
{
        KernelImage k = pvh_kernel();
        BootParams b = { .kernel = &k, .boot_vcpus = 1, .max_vcpus = 1 };

        write_ok(&b);
        check_mptable(1, 1);
}

Test(x86_boot, mptable_2_of_4_cpus)
{
        KernelImage k = vmlinux_kernel();
        BootParams b = { .kernel = &k, .boot_vcpus = 2, .max_vcpus = 4 };

        write_ok(&b);
        check_mptable(2, 4);
}

Test(x86_boot, mptable_254_cpus)
{
        cr_assert(eq(int, mptable_write(mem, 200, 254), 0));
        check_mptable(200, 254);
        cr_assert(eq(int, mptable_write(mem, 254, 254), 0));
        check_mptable(254, 254);
}

Test(x86_boot, mptable_rejects_bad_counts)
{
        KernelImage k = pvh_kernel();
        BootParams b = { .kernel = &k, .boot_vcpus = 1, .max_vcpus = 255 };
        char err[256] = "";

        cr_assert(eq(int, mptable_write(mem, 0, 1), -EINVAL));
        cr_assert(eq(int, mptable_write(mem, 3, 2), -EINVAL));
        cr_assert(eq(int, mptable_write(mem, 1, 255), -EINVAL));
        cr_assert(eq(int, mptable_write(mem, 1, 0), -EINVAL));
        cr_assert(eq(int, x86_boot_write_structures(mem, &b, err, sizeof err), -EINVAL));
        cr_assert(eq(str, err, "cannot write the MP table for 255 vCPUs"));
}
