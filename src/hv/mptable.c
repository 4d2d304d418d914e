/* SPDX-License-Identifier: Apache-2.0 */
#include "x86-boot.h"
#include "x86-layout.h"

/* Intel MultiProcessor Specification 1.4: the floating pointer and the configuration table. */

#define MP_PROCESSOR 0
#define MP_BUS 1
#define MP_IOAPIC 2
#define MP_INTSRC 3
#define MP_LINTSRC 4

#define MP_IRQ_INT 0
#define MP_IRQ_NMI 1
#define MP_IRQ_EXTINT 3

#define MP_APIC_VERSION 0x14
#define MP_IOAPIC_VERSION 0x11
#define MP_ISA_IRQS 16

static uint8_t checksum(const uint8_t *p, size_t len)
{
        uint8_t sum = 0;
        for (size_t i = 0; i < len; i++)
                sum = (uint8_t) (sum + p[i]);
        return (uint8_t) -sum;
}

static size_t mptable_size(unsigned max_vcpus)
{
        return 16 + 44 + 20 * (size_t) max_vcpus + 8 + 8 + 8 * MP_ISA_IRQS + 8 * 2;
}

int mptable_write(GuestMemory *mem, unsigned boot_vcpus, unsigned max_vcpus)
{
        const uint8_t ioapic_id = (uint8_t) max_vcpus;
        size_t size = mptable_size(max_vcpus);
        uint8_t *base, *mpc, *p;
        uint16_t entries = 0;

        if (boot_vcpus == 0 || boot_vcpus > max_vcpus || max_vcpus > 254 ||
            size > X86_BIOS_END - X86_MPTABLE_ADDR)
                return -EINVAL;
        base = guest_memory_ptr(mem, X86_MPTABLE_ADDR, size);
        if (!base)
                return -EFAULT;
        memset(base, 0, size);

        /* Floating pointer, pointing at the table right behind it. */
        memcpy(base, "_MP_", 4);
        memcpy(base + 4, &(uint32_t) { X86_MPTABLE_ADDR + 16 }, 4);
        base[8] = 1; /* length in 16-byte units */
        base[9] = 4; /* spec revision 1.4 */
        base[10] = checksum(base, 16);

        mpc = base + 16;
        p = mpc + 44;
        for (unsigned i = 0; i < max_vcpus; i++, p += 20, entries++) {
                p[0] = MP_PROCESSOR;
                p[1] = (uint8_t) i;
                p[2] = MP_APIC_VERSION;
                p[3] = (uint8_t) ((i < boot_vcpus ? 1 : 0) | (i == 0 ? 2 : 0));
                memcpy(p + 4, &(uint32_t) { 0x600 }, 4);      /* family 6 */
                memcpy(p + 8, &(uint32_t) { 0x201 }, 4);      /* FPU, APIC */
        }
        p[0] = MP_BUS;
        p[1] = 0;
        memcpy(p + 2, "ISA   ", 6);
        p += 8, entries++;

        p[0] = MP_IOAPIC;
        p[1] = ioapic_id;
        p[2] = MP_IOAPIC_VERSION;
        p[3] = 1; /* usable */
        memcpy(p + 4, &(uint32_t) { X86_IOAPIC_ADDR }, 4);
        p += 8, entries++;

        /* ISA IRQ n is IOAPIC pin n, as in KVM's default GSI routing. */
        for (unsigned irq = 0; irq < MP_ISA_IRQS; irq++, p += 8, entries++) {
                p[0] = MP_INTSRC;
                p[1] = MP_IRQ_INT;
                p[4] = 0;
                p[5] = (uint8_t) irq;
                p[6] = ioapic_id;
                p[7] = (uint8_t) irq;
        }
        /* LINT0 is ExtINT (the PIC), LINT1 is NMI, on every local APIC. */
        for (unsigned lint = 0; lint < 2; lint++, p += 8, entries++) {
                p[0] = MP_LINTSRC;
                p[1] = lint == 0 ? MP_IRQ_EXTINT : MP_IRQ_NMI;
                p[4] = 0;
                p[5] = 0;
                p[6] = 0xff;
                p[7] = (uint8_t) lint;
        }

        memcpy(mpc, "PCMP", 4);
        memcpy(mpc + 4, &(uint16_t) { (uint16_t) (p - mpc) }, 2);
        mpc[6] = 4;
        memcpy(mpc + 8, "CHV     ", 8);
        memcpy(mpc + 16, "000000000000", 12);
        memcpy(mpc + 34, &entries, 2);
        memcpy(mpc + 36, &(uint32_t) { X86_LAPIC_ADDR }, 4);
        mpc[7] = checksum(mpc, (size_t) (p - mpc));
        return 0;
}
