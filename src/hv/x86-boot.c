/* SPDX-License-Identifier: Apache-2.0 */
#include <inttypes.h>
#include <linux/kvm.h>

#include "errbuf.h"
#include "kvm.h"
#include "x86-boot.h"
#include "x86-layout.h"

#define PVH_START_MAGIC 0x336ec578u

#define CR0_PE (1u << 0)
#define CR0_ET (1u << 4)
#define CR0_PG (1u << 31)
#define CR4_PAE (1u << 5)
#define EFER_LME (1u << 8)
#define EFER_LMA (1u << 10)

#define PTE_P (1u << 0)
#define PTE_RW (1u << 1)
#define PTE_PS (1u << 7)

/* boot_params offsets, Documentation/arch/x86/zero-page.rst */
#define BP_ACPI_RSDP_ADDR 0x070
#define BP_EXT_RAMDISK_IMAGE 0x0c0
#define BP_EXT_RAMDISK_SIZE 0x0c4
#define BP_EXT_CMD_LINE_PTR 0x0c8
#define BP_E820_ENTRIES 0x1e8
#define BP_BOOT_FLAG 0x1fe
#define BP_HEADER 0x202
#define BP_VERSION 0x206
#define BP_TYPE_OF_LOADER 0x210
#define BP_LOADFLAGS 0x211
#define BP_RAMDISK_IMAGE 0x218
#define BP_RAMDISK_SIZE 0x21c
#define BP_HEAP_END_PTR 0x224
#define BP_CMD_LINE_PTR 0x228
#define BP_KERNEL_ALIGNMENT 0x230
#define BP_E820_TABLE 0x2d0
#define LOADFLAG_CAN_USE_HEAP 0x80


static void put16(uint8_t *p, uint16_t v)
{
        memcpy(p, &v, sizeof v);
}

static void put32(uint8_t *p, uint32_t v)
{
        memcpy(p, &v, sizeof v);
}

static void put64(uint8_t *p, uint64_t v)
{
        memcpy(p, &v, sizeof v);
}

unsigned x86_e820_build(const GuestMemory *mem, E820Entry e[static X86_E820_MAX])
{
        unsigned n = 0;

        e[n++] = (E820Entry) { 0, X86_EBDA_ADDR, X86_E820_RAM };
        e[n++] = (E820Entry) { X86_EBDA_ADDR, 0xa0000 - X86_EBDA_ADDR, X86_E820_RESERVED };
        e[n++] = (E820Entry) { X86_ACPI_ADDR, X86_BIOS_END - X86_ACPI_ADDR, X86_E820_RESERVED };
        e[n++] = (E820Entry) { X86_BIOS_END, guest_memory_low_end(mem) - X86_BIOS_END, X86_E820_RAM };
        /* ECAM must be reserved in the memory map, or Linux will not trust the MCFG table. */
        e[n++] = (E820Entry) { X86_PCI_ECAM_ADDR, X86_PCI_ECAM_SIZE, X86_E820_RESERVED };
        for (unsigned i = 1; i < mem->n_regions; i++)
                e[n++] = (E820Entry) { mem->regions[i].gpa, mem->regions[i].size, X86_E820_RAM };
        return n;
}

static int write_page_tables(GuestMemory *mem)
{
        uint8_t *pml4 = guest_memory_ptr(mem, X86_PML4_ADDR, 4096);
        uint8_t *pdpt = guest_memory_ptr(mem, X86_PDPT_ADDR, 4096);
        uint8_t *pd = guest_memory_ptr(mem, X86_PD_ADDR, 4 * 4096);

        if (!pml4 || !pdpt || !pd)
                return -EFAULT;
        memset(pml4, 0, 4096);
        memset(pdpt, 0, 4096);
        put64(pml4, X86_PDPT_ADDR | PTE_P | PTE_RW);
        for (unsigned i = 0; i < 4; i++)
                put64(pdpt + 8 * i, (X86_PD_ADDR + 4096 * i) | PTE_P | PTE_RW);
        for (uint64_t i = 0; i < 4 * 512; i++)
                put64(pd + 8 * i, (i << 21) | PTE_P | PTE_RW | PTE_PS);
        return 0;
}

static uint64_t gdt_entry(uint16_t flags, uint32_t base, uint32_t limit)
{
        return ((uint64_t) (base & 0xff000000u) << 32) | ((uint64_t) (flags & 0xf0ffu) << 40) |
               ((uint64_t) (limit & 0x000f0000u) << 32) | ((uint64_t) (base & 0x00ffffffu) << 16) |
               (uint64_t) (limit & 0x0000ffffu);
}

/* GDT: null, code (64-bit for Linux, 32-bit for PVH), data, TSS. */
static uint64_t gdt_code(BootProtocol p)
{
        return gdt_entry(p == BOOT_PVH ? 0xc09b : 0xa09b, 0, 0xfffff);
}
#define GDT_DATA gdt_entry(0xc093, 0, 0xfffff)
#define GDT_TSS gdt_entry(0x808b, 0, 0xfffff)

static int write_gdt(GuestMemory *mem, BootProtocol p)
{
        uint64_t gdt[4] = { 0, gdt_code(p), GDT_DATA, GDT_TSS };
        uint64_t idt = 0;
        int r = guest_memory_write(mem, X86_GDT_ADDR, gdt, sizeof gdt);
        if (r < 0)
                return r;
        return guest_memory_write(mem, X86_IDT_ADDR, &idt, sizeof idt);
}

static int write_linux_zero_page(GuestMemory *mem, const BootParams *b, const E820Entry *e, unsigned n)
{
        uint8_t *zp = guest_memory_ptr(mem, X86_ZERO_PAGE_ADDR, 4096);
        const KernelImage *k = b->kernel;

        if (!zp)
                return -EFAULT;
        memset(zp, 0, 4096);
        if (k->has_setup_header)
                memcpy(zp + BZIMAGE_SETUP_HEADER_START, k->setup_header, k->setup_header_len);
        else {
                put16(zp + BP_BOOT_FLAG, 0xaa55);
                put32(zp + BP_HEADER, 0x53726448u);
                put16(zp + BP_VERSION, 0x020c);
                put32(zp + BP_KERNEL_ALIGNMENT, 0x1000000);
        }
        zp[BP_TYPE_OF_LOADER] = 0xff;
        put64(zp + BP_ACPI_RSDP_ADDR, b->rsdp_addr);
        zp[BP_LOADFLAGS] |= LOADFLAG_CAN_USE_HEAP;
        put16(zp + BP_HEAP_END_PTR, 0xfe00);
        put32(zp + BP_CMD_LINE_PTR, X86_CMDLINE_ADDR);
        put32(zp + BP_EXT_CMD_LINE_PTR, 0);
        if (b->initramfs_size) {
                put32(zp + BP_RAMDISK_IMAGE, (uint32_t) b->initramfs_addr);
                put32(zp + BP_RAMDISK_SIZE, (uint32_t) b->initramfs_size);
                put32(zp + BP_EXT_RAMDISK_IMAGE, (uint32_t) (b->initramfs_addr >> 32));
                put32(zp + BP_EXT_RAMDISK_SIZE, (uint32_t) (b->initramfs_size >> 32));
        }
        zp[BP_E820_ENTRIES] = (uint8_t) n;
        for (unsigned i = 0; i < n; i++) {
                uint8_t *p = zp + BP_E820_TABLE + 20 * i;
                put64(p, e[i].addr);
                put64(p + 8, e[i].size);
                put32(p + 16, e[i].type);
        }
        return 0;
}

static int write_pvh_start_info(GuestMemory *mem, const BootParams *b, const E820Entry *e, unsigned n)
{
        uint8_t *si = guest_memory_ptr(mem, X86_PVH_INFO_ADDR, 56);
        uint8_t *ml = guest_memory_ptr(mem, X86_PVH_MODLIST_ADDR, 32);
        uint8_t *mm = guest_memory_ptr(mem, X86_PVH_MEMMAP_ADDR, 24 * (uint64_t) n);

        if (!si || !ml || !mm)
                return -EFAULT;
        memset(si, 0, 56);
        put32(si + 0, PVH_START_MAGIC);
        put32(si + 4, 1); /* version: has the memory map */
        put64(si + 24, X86_CMDLINE_ADDR);
        put64(si + 32, b->rsdp_addr);
        put64(si + 40, X86_PVH_MEMMAP_ADDR);
        put32(si + 48, n);
        if (b->initramfs_size) {
                put32(si + 12, 1);
                put64(si + 16, X86_PVH_MODLIST_ADDR);
                memset(ml, 0, 32);
                put64(ml, b->initramfs_addr);
                put64(ml + 8, b->initramfs_size);
        }
        for (unsigned i = 0; i < n; i++) {
                uint8_t *p = mm + 24 * i;
                put64(p, e[i].addr);
                put64(p + 8, e[i].size);
                put32(p + 16, e[i].type);
                put32(p + 20, 0);
        }
        return 0;
}

int x86_boot_write_structures(GuestMemory *mem, const BootParams *b, char *err, size_t errlen)
{
        const char *cmdline = b->cmdline ?: "";
        size_t cl = strlen(cmdline);
        E820Entry e820[X86_E820_MAX];
        unsigned n;
        int r;

        if (cl >= X86_CMDLINE_MAX || (b->kernel->cmdline_size && cl > b->kernel->cmdline_size))
                return errbuf_fail(-EINVAL, err, errlen, "kernel command line of %zu bytes is longer than the %u the kernel accepts",
                            cl, MIN(X86_CMDLINE_MAX - 1, b->kernel->cmdline_size ?: X86_CMDLINE_MAX - 1));
        r = guest_memory_write(mem, X86_CMDLINE_ADDR, cmdline, cl + 1);
        if (r < 0)
                return errbuf_fail(-EINVAL, err, errlen, "cannot write the command line to guest memory");

        n = x86_e820_build(mem, e820);
        r = b->kernel->protocol == BOOT_PVH ? write_pvh_start_info(mem, b, e820, n)
                                            : write_linux_zero_page(mem, b, e820, n);
        if (r < 0)
                return errbuf_fail(-EINVAL, err, errlen, "cannot write the boot information to guest memory");
        if (write_page_tables(mem) < 0 || write_gdt(mem, b->kernel->protocol) < 0)
                return errbuf_fail(-EINVAL, err, errlen, "cannot write the page tables to guest memory");
        r = mptable_write(mem, b->boot_vcpus, b->max_vcpus);
        if (r < 0)
                return errbuf_fail(-EINVAL, err, errlen, "cannot write the MP table for %u vCPUs", b->max_vcpus);
        return 0;
}

static struct kvm_segment segment_from_gdt(uint64_t entry, uint16_t selector)
{
        return (struct kvm_segment) {
                .base = (uint32_t) (((entry >> 16) & 0xffffff) | (((entry >> 56) & 0xff) << 24)),
                .limit = (uint32_t) ((entry & 0xffff) | (((entry >> 48) & 0xf) << 16)),
                .selector = selector,
                .type = (uint8_t) ((entry >> 40) & 0xf),
                .present = (uint8_t) ((entry >> 47) & 1),
                .dpl = (uint8_t) ((entry >> 45) & 3),
                .db = (uint8_t) ((entry >> 54) & 1),
                .s = (uint8_t) ((entry >> 44) & 1),
                .l = (uint8_t) ((entry >> 53) & 1),
                .g = (uint8_t) ((entry >> 55) & 1),
                .avl = (uint8_t) ((entry >> 52) & 1),
                .unusable = !((entry >> 47) & 1),
        };
}

int x86_boot_setup_bsp(int vcpu_fd, const KernelImage *k)
{
        struct kvm_sregs sregs;
        struct kvm_regs regs = { .rflags = 2 };
        struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };
        struct kvm_segment code, data, tss;
        int r;

        r = kvm_ioctl(vcpu_fd, KVM_GET_SREGS, &sregs);
        if (r < 0)
                return r;
        code = segment_from_gdt(gdt_code(k->protocol), 0x08);
        data = segment_from_gdt(GDT_DATA, 0x10);
        tss = segment_from_gdt(GDT_TSS, 0x18);
        /* Limits are in bytes for KVM, with granularity already applied. */
        code.limit = data.limit = tss.limit = 0xffffffff;
        sregs.cs = code;
        sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
        sregs.tr = tss;
        sregs.gdt.base = X86_GDT_ADDR;
        sregs.gdt.limit = 4 * 8 - 1;
        sregs.idt.base = X86_IDT_ADDR;
        sregs.idt.limit = 7;

        if (k->protocol == BOOT_PVH) {
                sregs.cr0 = CR0_PE | CR0_ET;
                sregs.cr4 = 0;
                sregs.efer = 0;
                regs.rip = k->entry;
                regs.rbx = X86_PVH_INFO_ADDR;
        } else {
                sregs.cr0 = CR0_PE | CR0_ET | CR0_PG;
                sregs.cr3 = X86_PML4_ADDR;
                sregs.cr4 = CR4_PAE;
                sregs.efer = EFER_LME | EFER_LMA;
                regs.rip = k->entry;
                regs.rsi = X86_ZERO_PAGE_ADDR;
                regs.rsp = regs.rbp = X86_BOOT_STACK_ADDR;
        }
        r = kvm_ioctl(vcpu_fd, KVM_SET_SREGS, &sregs);
        if (r < 0)
                return r;
        r = kvm_ioctl(vcpu_fd, KVM_SET_REGS, &regs);
        if (r < 0)
                return r;
        return kvm_ioctl(vcpu_fd, KVM_SET_FPU, &fpu);
}
