/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * The chv test guest: a freestanding x86-64 program entered through the PVH entry point. This header is
 * shared by the assembly and the C sources; everything below __ASSEMBLER__ is C only.
 */

/* GDT selectors, see boot.S. */
#define KERNEL_CS   0x08
#define KERNEL_DS   0x10
#define USER_DS     0x18
#define USER_CS     0x20
#define KERNEL_CS32 0x28
#define TSS_SEL     0x30

/* Debug port markers (byte writes to port 0x80). */
#define DEBUG_PORT     0x80
#define MARK_ENTRY     0x40
#define MARK_LONG_MODE 0x41
#define MARK_USER      0x60
#define MARK_POWER_OFF 0x5f

/* The only low-memory area the guest may use: the AP start-up trampoline lives here. */
#define TRAMPOLINE_BASE   0x10000
#define TRAMPOLINE_VECTOR (TRAMPOLINE_BASE >> 12)

/* The 2 MiB page that CPL3 code may touch: code and data from the image, a stack and a buffer. */
#define USER_BASE      0x400000
#define USER_STACK_TOP 0x500000
#define USER_BUF       0x500000
#define USER_BUF_SIZE  0x100000
#define USER_END       0x600000

/* Vector of the DPL 3 gate through which CPL3 code returns to CPL0. */
#define USER_RETURN_VECTOR 0x81

#define PTE_PRESENT        0x001
#define PTE_WRITE          0x002
#define PTE_USER           0x004
#define PTE_PWT            0x008
#define PTE_PCD            0x010
#define PTE_LARGE          0x080

#ifndef __ASSEMBLER__

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ELEMENTSOF(x)  (sizeof(x) / sizeof((x)[0]))
#define _packed_       __attribute__((packed))
#define _noreturn_     __attribute__((noreturn))
#define _printf_(a, b) __attribute__((format(printf, a, b)))

/* What the guest keeps of struct hvm_start_info: copied before anything else can overwrite it. */
#define CMDLINE_MAX 4096
#define MEMMAP_MAX  128

struct memmap_entry {
        uint64_t addr;
        uint64_t size;
        uint32_t type;
        uint32_t reserved;
};

struct boot_info {
        uint32_t start_info_paddr;
        bool start_info_valid;
        uint32_t version;
        uint64_t rsdp_paddr;
        char cmdline[CMDLINE_MAX];
        size_t cmdline_len;
        bool cmdline_truncated;
        bool have_memmap;
        struct memmap_entry memmap[MEMMAP_MAX];
        unsigned memmap_entries;
        unsigned memmap_entries_total;
};

extern struct boot_info boot_info;

/* Port I/O. */
static inline void outb(uint16_t port, uint8_t v)
{
        __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
        uint8_t v;
        __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
        return v;
}

static inline void debug_marker(uint8_t v)
{
        outb(DEBUG_PORT, v);
}

static inline void cpu_relax(void)
{
        __asm__ volatile("pause" : : : "memory");
}

static inline uint16_t read_cs(void)
{
        uint16_t cs;
        __asm__ volatile("mov %%cs, %0" : "=r"(cs));
        return cs;
}

static inline uint64_t read_cr2(void)
{
        uint64_t v;
        __asm__ volatile("mov %%cr2, %0" : "=r"(v));
        return v;
}

static inline uint64_t read_cr3(void)
{
        uint64_t v;
        __asm__ volatile("mov %%cr3, %0" : "=r"(v));
        return v;
}

static inline void write_cr3(uint64_t v)
{
        __asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory");
}

static inline uint64_t rdmsr(uint32_t msr)
{
        uint32_t lo, hi;
        __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
        return (uint64_t) hi << 32 | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
        __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t) v), "d"((uint32_t) (v >> 32)));
}

/*
 * A pointer to guest-physical memory below 4 GiB (identity mapped). The compiler must not see the
 * constant: GCC warns about dereferencing small constant addresses.
 */
static inline void *phys(uint64_t pa)
{
        __asm__("" : "+r"(pa));
        return (void *) (uintptr_t) pa;
}

/* A short delay that costs about the same everywhere: one port read, a VM exit under a hypervisor. */
static inline void io_delay(void)
{
        (void) inb(0x3fd);
}

/* lib.c */
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
bool str_eq_n(const char *a, size_t alen, const char *b);
bool str_prefix(const char *s, size_t len, const char *prefix);

/* console.c */
void serial_init(void);
void serial_putc(char c);
void serial_write(const char *s, size_t n);
_printf_(1, 0) void vprint(const char *fmt, va_list ap);
_printf_(1, 2) void print(const char *fmt, ...);

/* cpu.c */
#define GATE_INTERRUPT_DPL0 0x8e
#define GATE_INTERRUPT_DPL3 0xee

void cpu_init(void);
/* Points IDT entry vector at handler (an interrupt gate of the kernel code segment). */
void idt_set_gate(unsigned vector, uint64_t handler, uint8_t attr);
void map_phys_high(uint64_t pa);
_noreturn_ void power_off(void);
_noreturn_ void finish(const char *fail_reason);
_noreturn_ void halt_forever(void);
void cmos_write(uint8_t index, uint8_t v);
uint8_t cmos_read(uint8_t index);

/* boot.S */
extern uint64_t boot_gdt[];
extern uint64_t boot_pml4[512];
extern uint64_t boot_pdpt[512];
extern uint64_t boot_pd[2048];
extern uint64_t boot_pd_high[512];
extern volatile uint32_t ap_online_count;
extern const char ap_trampoline_start[], ap_trampoline_end[];
extern const uint64_t trap_stub_table[32];
extern char trap_stack_top[];
extern char __image_start[], __image_end[];
void user_return_stub(void);
void enter_user(void (*entry)(void), uint64_t stack);

/* Scenarios: each returns NULL on success or a short reason for result=FAIL. */
const char *scenario_serial(void);
const char *scenario_cmdline(void);
const char *scenario_memory(void);
const char *scenario_cpus(void);
const char *scenario_rtc(void);
const char *scenario_user(void);
const char *scenario_reset(void);
const char *scenario_triple(void);
const char *scenario_halt(void);
const char *scenario_power_button(void);
const char *scenario_exception(void);

/* user-mode.c: runs at CPL3, linked into the user page. */
struct user_report {
        uint32_t started;
        uint32_t cs;
        uint32_t checksum;
        uint32_t finished;
};

extern struct user_report user_report;
_noreturn_ void user_main(void);

/* The value user_main() computes over its buffer; tests and the CPL0 side both check it. */
#define USER_CHECKSUM_EXPECTED 0xf42d7eabu

#endif
