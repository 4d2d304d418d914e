/* SPDX-License-Identifier: Apache-2.0 */
/* IDT, TSS, exception reporting, power-off, CMOS access and mappings above 4 GiB. */
#include "guest.h"

#define TSS_AVAILABLE       0x89

#define ACPI_SLEEP_PORT     0x600
#define ACPI_SLEEP_S5       0x34 /* SLP_TYP 5, SLP_EN */
#define DEBUG_EXIT_PORT     0xf4

#define CMOS_INDEX          0x70
#define CMOS_DATA           0x71

struct idt_entry {
        uint16_t offset_low;
        uint16_t selector;
        uint8_t ist;
        uint8_t attr;
        uint16_t offset_mid;
        uint32_t offset_high;
        uint32_t reserved;
} _packed_;

struct tss {
        uint32_t reserved0;
        uint64_t rsp[3];
        uint64_t reserved1;
        uint64_t ist[7];
        uint64_t reserved2;
        uint16_t reserved3;
        uint16_t iomap_base;
} _packed_;

struct table_desc {
        uint16_t limit;
        uint64_t base;
} _packed_;

/* The frame trap_common builds: general registers, then vector, error code and the CPU's frame. */
struct trap_frame {
        uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
        uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
        uint64_t vector, error;
        uint64_t rip, cs, rflags, rsp, ss;
};

static struct idt_entry idt[256] __attribute__((aligned(16)));
static struct tss tss __attribute__((aligned(16)));

void trap_handler(struct trap_frame *f);

void idt_set_gate(unsigned vector, uint64_t handler, uint8_t attr)
{
        idt[vector] = (struct idt_entry) {
                .offset_low = (uint16_t) handler,
                .selector = KERNEL_CS,
                .attr = attr,
                .offset_mid = (uint16_t) (handler >> 16),
                .offset_high = (uint32_t) (handler >> 32),
        };
}

void cpu_init(void)
{
        struct table_desc idtr = { .limit = sizeof(idt) - 1, .base = (uintptr_t) idt };
        uint64_t base = (uintptr_t) &tss, limit = sizeof(tss) - 1;

        for (unsigned v = 0; v < ELEMENTSOF(trap_stub_table); v++)
                idt_set_gate(v, trap_stub_table[v], GATE_INTERRUPT_DPL0);
        idt_set_gate(USER_RETURN_VECTOR, (uintptr_t) user_return_stub, GATE_INTERRUPT_DPL3);
        __asm__ volatile("lidt %0" : : "m"(idtr));

        /* No I/O permission bitmap: port access at CPL3 is governed by IOPL alone. */
        tss.rsp[0] = (uintptr_t) trap_stack_top;
        tss.iomap_base = sizeof(tss);
        boot_gdt[TSS_SEL / 8] = (limit & 0xffff) | (base & 0xffffff) << 16 | (uint64_t) TSS_AVAILABLE << 40 |
                                ((limit >> 16) & 0xf) << 48 | ((base >> 24) & 0xff) << 56;
        boot_gdt[TSS_SEL / 8 + 1] = base >> 32;
        __asm__ volatile("ltr %w0" : : "r"(TSS_SEL));
}

/* Makes the 2 MiB page holding pa accessible; one at a time above 4 GiB, below 512 GiB. */
void map_phys_high(uint64_t pa)
{
        unsigned pdpt_index = (unsigned) (pa >> 30);

        if (pa < (UINT64_C(1) << 32) || pa >= (UINT64_C(1) << 39))
                return;
        for (unsigned i = 4; i < 512; i++)
                boot_pdpt[i] = 0;
        memset(boot_pd_high, 0, sizeof(boot_pd_high));
        boot_pd_high[(pa >> 21) & 511] = (pa & ~UINT64_C(0x1fffff)) | PTE_PRESENT | PTE_WRITE | PTE_LARGE;
        boot_pdpt[pdpt_index] = (uintptr_t) boot_pd_high | PTE_PRESENT | PTE_WRITE;
        write_cr3(read_cr3());
}

void halt_forever(void)
{
        for (;;)
                __asm__ volatile("cli; hlt");
}

void power_off(void)
{
        debug_marker(MARK_POWER_OFF);
        outb(ACPI_SLEEP_PORT, ACPI_SLEEP_S5);
        outb(DEBUG_EXIT_PORT, 0);
        halt_forever();
}

void finish(const char *fail_reason)
{
        if (fail_reason)
                print("chv-test-guest: result=FAIL %s\n", fail_reason);
        else
                print("chv-test-guest: result=PASS\n");
        power_off();
}

void trap_handler(struct trap_frame *f)
{
        static bool in_trap;
        static const char *const names[] = {
                [0] = "exception 0 (#DE)",   [1] = "exception 1 (#DB)",   [2] = "exception 2 (NMI)",
                [3] = "exception 3 (#BP)",   [4] = "exception 4 (#OF)",   [5] = "exception 5 (#BR)",
                [6] = "exception 6 (#UD)",   [7] = "exception 7 (#NM)",   [8] = "exception 8 (#DF)",
                [10] = "exception 10 (#TS)", [11] = "exception 11 (#NP)", [12] = "exception 12 (#SS)",
                [13] = "exception 13 (#GP)", [14] = "exception 14 (#PF)", [16] = "exception 16 (#MF)",
                [17] = "exception 17 (#AC)", [18] = "exception 18 (#MC)",
        };

        if (in_trap)
                power_off();
        in_trap = true;

        print("chv-test-guest: exception %lu error=0x%lx rip=0x%lx", f->vector, f->error, f->rip);
        print(" cs=0x%lx rsp=0x%lx", f->cs, f->rsp);
        if (f->vector == 14)
                print(" cr2=0x%lx", read_cr2());
        print("\n");
        finish(f->vector < ELEMENTSOF(names) && names[f->vector] ? names[f->vector] : "exception");
}

/* CMOS: index port 0x70 (bit 7 left clear: NMIs stay enabled), data port 0x71. */
uint8_t cmos_read(uint8_t index)
{
        outb(CMOS_INDEX, index & 0x7f);
        return inb(CMOS_DATA);
}

void cmos_write(uint8_t index, uint8_t v)
{
        outb(CMOS_INDEX, index & 0x7f);
        outb(CMOS_DATA, v);
}
