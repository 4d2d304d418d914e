/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Start of the test guest: the PVH note, the 32-bit entry, the switch to long mode, the AP start-up
 * trampoline, exception stubs and the CPL3 entry and return paths.
 */
#include "guest.h"

#define MSR_EFER      0xc0000080
#define EFER_LME      0x100
#define CR4_PAE       0x20
/* PE | MP | ET | NE | WP | PG */
#define CR0_LONG_MODE 0x80010033

/* The note that tells the loader where to enter the image (XEN_ELFNOTE_PHYS32_ENTRY). */
        .section .note.Xen, "a", @note
        .balign 4
        .long 4                         /* name size, "Xen" with its NUL */
        .long 4                         /* descriptor size */
        .long 18                        /* XEN_ELFNOTE_PHYS32_ENTRY */
        .asciz "Xen"
        .long pvh_start32

/*
 * Loads CR3 with the boot page tables and turns on PAE, long mode and paging, then jumps to the 64-bit
 * label. Protected mode, flat segments; clobbers eax, ecx, edx.
 */
.macro ENTER_LONG_MODE target
        movl $CR4_PAE, %eax
        movl %eax, %cr4
        movl $boot_pml4, %eax
        movl %eax, %cr3
        movl $MSR_EFER, %ecx
        rdmsr
        orl $EFER_LME, %eax
        wrmsr
        movl $CR0_LONG_MODE, %eax
        movl %eax, %cr0
        ljmp $KERNEL_CS, $\target
.endm

        .section .text.boot, "ax", @progbits
        .code32
        .globl pvh_start32
pvh_start32:
        movb $MARK_ENTRY, %al
        outb %al, $DEBUG_PORT
        cli
        cld
        movl %ebx, boot_start_info
        lgdt boot_gdt_desc
        movl $KERNEL_DS, %eax
        movl %eax, %ds
        movl %eax, %es
        movl %eax, %ss
        movl %eax, %fs
        movl %eax, %gs
        ljmp $KERNEL_CS32, $1f
1:
        /* The loader zero-fills memory beyond the file, but the guest does not rely on that. */
        movl $__bss_start, %edi
        movl $__bss_end, %ecx
        subl %edi, %ecx
        shrl $2, %ecx
        xorl %eax, %eax
        rep stosl
        ENTER_LONG_MODE start64

/* Where an AP arrives from the trampoline, in protected mode with the boot GDT. */
ap_start32:
        movl $KERNEL_DS, %eax
        movl %eax, %ds
        movl %eax, %es
        movl %eax, %ss
        ENTER_LONG_MODE ap_start64

        .code64
start64:
        movl $KERNEL_DS, %eax
        movl %eax, %ds
        movl %eax, %es
        movl %eax, %ss
        xorl %eax, %eax
        movl %eax, %fs
        movl %eax, %gs
        movq $boot_stack_top, %rsp
        movl boot_start_info, %edi
        call guest_main
        jmp halt_loop

/* An AP in long mode: it counts itself and stops, without a stack and with interrupts off. */
ap_start64:
        lock incl ap_online_count
halt_loop:
        cli
        hlt
        jmp halt_loop

/*
 * Real-mode code copied to TRAMPOLINE_BASE; the SIPI starts an AP here with CS = TRAMPOLINE_BASE >> 4,
 * IP = 0. It only loads the boot GDT and enters protected mode in the image itself.
 */
        .section .rodata.trampoline, "a", @progbits
        .balign 16
        .globl ap_trampoline_start, ap_trampoline_end
        .code16
ap_trampoline_start:
        cli
        cld
        lgdtl %cs:(ap_trampoline_gdt_desc - ap_trampoline_start)
        movl %cr0, %eax
        orl $1, %eax
        movl %eax, %cr0
        ljmpl $KERNEL_CS32, $ap_start32
        .balign 8
ap_trampoline_gdt_desc:
        .word boot_gdt_end - boot_gdt - 1
        .long boot_gdt
ap_trampoline_end:
        .code64

/* Exception stubs: each pushes a zero error code if the CPU does not, then its vector. */
        .text
.macro TRAP_STUB vector
        .balign 16
trap_stub_\vector:
        /* #DF, #TS, #NP, #SS, #GP, #PF, #AC, #CP, #VC and #SX push an error code. */
        .set has_error, (\vector == 8) || (\vector >= 10 && \vector <= 14) || (\vector == 17)
        .set has_error, has_error || (\vector == 21) || (\vector == 29) || (\vector == 30)
.if has_error == 0
        pushq $0
.endif
        pushq $\vector
        jmp trap_common
.endm

.irp v, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
        TRAP_STUB \v
.endr
.irp v, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
        TRAP_STUB \v
.endr

trap_common:
        pushq %rax
        pushq %rbx
        pushq %rcx
        pushq %rdx
        pushq %rsi
        pushq %rdi
        pushq %rbp
        pushq %r8
        pushq %r9
        pushq %r10
        pushq %r11
        pushq %r12
        pushq %r13
        pushq %r14
        pushq %r15
        cld
        movq %rsp, %rdi
        andq $-16, %rsp
        call trap_handler
        jmp halt_loop

/*
 * enter_user(entry, stack): runs entry at CPL3 on stack, with IOPL 3 and interrupts off. Returns when
 * the CPL3 code executes int $USER_RETURN_VECTOR.
 */
        .globl enter_user
enter_user:
        pushq %rbx
        pushq %rbp
        pushq %r12
        pushq %r13
        pushq %r14
        pushq %r15
        movq %rsp, user_saved_rsp(%rip)
        pushq $(USER_DS | 3)
        pushq %rsi
        pushq $0x3002                   /* IOPL 3, IF clear */
        pushq $(USER_CS | 3)
        pushq %rdi
        iretq

/* The DPL 3 gate's handler: drops the interrupt frame and returns from enter_user(). */
        .globl user_return_stub
user_return_stub:
        movq user_saved_rsp(%rip), %rsp
        movl $KERNEL_DS, %eax
        movl %eax, %ss
        popq %r15
        popq %r14
        popq %r13
        popq %r12
        popq %rbp
        popq %rbx
        ret

        .section .rodata
        .balign 8
        .globl trap_stub_table
trap_stub_table:
.irp v, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
        .quad trap_stub_\v
.endr
.irp v, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
        .quad trap_stub_\v
.endr

        .data
        .balign 16
        .globl boot_gdt
boot_gdt:
        .quad 0
        .quad 0x00af9b000000ffff        /* KERNEL_CS: 64-bit code, DPL 0 */
        .quad 0x00cf93000000ffff        /* KERNEL_DS: data, DPL 0 */
        .quad 0x00cff3000000ffff        /* USER_DS: data, DPL 3 */
        .quad 0x00affb000000ffff        /* USER_CS: 64-bit code, DPL 3 */
        .quad 0x00cf9b000000ffff        /* KERNEL_CS32: 32-bit code, DPL 0 */
        .quad 0, 0                      /* TSS_SEL: set up by cpu_init() */
boot_gdt_end:
        .balign 8
boot_gdt_desc:
        .word boot_gdt_end - boot_gdt - 1
        .quad boot_gdt

boot_start_info:
        .long 0

        .balign 8
user_saved_rsp:
        .quad 0

/*
 * Identity map of the first 4 GiB with 2 MiB pages. The upper levels allow CPL3 access; the page
 * directory entries decide (only the user page gets PTE_USER, at run time). The top 32 MiB, where the
 * IOAPIC and the local APIC live, is mapped uncached.
 */
        .section .data.pagetables, "aw", @progbits
        .balign 4096
        .globl boot_pml4, boot_pdpt, boot_pd
boot_pml4:
        .quad boot_pdpt + (PTE_PRESENT | PTE_WRITE | PTE_USER)
        .fill 511, 8, 0
boot_pdpt:
        .quad boot_pd + 0x0000 + (PTE_PRESENT | PTE_WRITE | PTE_USER)
        .quad boot_pd + 0x1000 + (PTE_PRESENT | PTE_WRITE | PTE_USER)
        .quad boot_pd + 0x2000 + (PTE_PRESENT | PTE_WRITE | PTE_USER)
        .quad boot_pd + 0x3000 + (PTE_PRESENT | PTE_WRITE | PTE_USER)
        .fill 508, 8, 0
boot_pd:
        .set page, 0
.rept 2048
.if page >= 0xfe000000
        .quad page + (PTE_PRESENT | PTE_WRITE | PTE_LARGE | PTE_PWT | PTE_PCD)
.else
        .quad page + (PTE_PRESENT | PTE_WRITE | PTE_LARGE)
.endif
        .set page, page + 0x200000
.endr

        .bss
        .balign 4096
        .globl boot_pd_high
boot_pd_high:
        .skip 4096
        .balign 4
        .globl ap_online_count
ap_online_count:
        .skip 4

/* Stacks are not cleared at boot. */
        .section .stack, "aw", @nobits
        .balign 4096
        .skip 16384
boot_stack_top:
        .skip 8192
        .globl trap_stack_top
trap_stack_top:

        .section .note.GNU-stack, "", @progbits
