/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Scenario msix: a virtio-rng (or else virtio-blk) completion raises MSI-X vector 0 of the device, which
 * the local APIC delivers to an IDT handler that counts it. Then with the vector masked: no interrupt,
 * the pending bit set, and the interrupt on unmask.
 */
#include "blk.h"
#include "devices.h"

#define IRQ_VECTOR         0x50
#define LAPIC_BASE         0xfee00000u
#define LAPIC_ID           0x020
#define LAPIC_SVR          0x0f0
#define MSR_APIC_BASE      0x1b
#define APIC_BASE_ENABLE   (1u << 11)
#define APIC_BASE_X2APIC   (1u << 10)
#define PIC1_DATA          0x21
#define PIC2_DATA          0xa1

#define MSIX_CONTROL       2
#define MSIX_TABLE         4
#define MSIX_PBA           8
#define MSIX_ENABLE        0x8000
#define MSIX_FUNCTION_MASK 0x4000
#define MSIX_ENTRY_SIZE    16
#define MSIX_ENTRY_ADDR_LO 0
#define MSIX_ENTRY_ADDR_HI 4
#define MSIX_ENTRY_DATA    8
#define MSIX_ENTRY_CONTROL 12
#define MSIX_ENTRY_MASKED  1
#define IRQ_SECONDS        5
/* How long no interrupt must come while the vector is masked. */
#define QUIET_SECONDS 2

volatile uint32_t msix_irq_count;
void msix_irq_stub(void);

/* Counts the interrupt and signals the end of it to the local APIC (EOI register at 0xb0). */
__asm__(".text\n"
        ".globl msix_irq_stub\n"
        "msix_irq_stub:\n"
        "        pushq %rax\n"
        "        lock incl msix_irq_count(%rip)\n"
        "        movabsq $0xfee000b0, %rax\n"
        "        movl $0, (%rax)\n"
        "        popq %rax\n"
        "        iretq\n");

static struct virtio_dev dev;

static const char *lapic_enable(uint8_t *ret_id)
{
        uint64_t base = rdmsr(MSR_APIC_BASE);

        if (base & APIC_BASE_X2APIC)
                return "the local APIC is in x2APIC mode";
        if ((base & ~UINT64_C(0xfff)) != LAPIC_BASE)
                return "the local APIC is not at 0xfee00000";
        wrmsr(MSR_APIC_BASE, base | APIC_BASE_ENABLE);
        mmio_write32(mmio_ptr(LAPIC_BASE + LAPIC_SVR), 0x1ff);
        *ret_id = (uint8_t) (mmio_read32(mmio_ptr(LAPIC_BASE + LAPIC_ID)) >> 24);
        /* The legacy PIC's vectors would collide with exceptions: mask all its lines. */
        outb(PIC1_DATA, 0xff);
        outb(PIC2_DATA, 0xff);
        return NULL;
}

/* Maps the BAR holding a region of the MSI-X capability (table or PBA) and returns where it is. */
static volatile uint8_t *msix_region(uint32_t bir_offset)
{
        struct pci_bar b;
        unsigned bar = bir_offset & 7;

        if (!pci_bar_probe(dev.pci, bar, &b) || b.io || b.addr == 0 || !mmio_map(b.addr, b.size, false))
                return NULL;
        return mmio_ptr(b.addr + (bir_offset & ~UINT32_C(7)));
}

/* Waits, with interrupts on, until the count reaches want. */
static bool wait_irq(uint32_t want, unsigned seconds)
{
        struct deadline d;
        bool ok = false;

        deadline_start(&d, seconds);
        __asm__ volatile("sti");
        while (!deadline_passed(&d))
                if (msix_irq_count >= want) {
                        ok = true;
                        break;
                }
        __asm__ volatile("cli");
        return ok;
}

/* One request whose completion raises the queue's vector: 16 random bytes, or sector 0. */
static const char *start_request(struct virtq *vq, uint8_t *buf)
{
        struct virtio_blk_req *req = (void *) (buf + 512);
        struct virtq_buf b[3] = {
                {req, sizeof(*req), false},
                {buf, 512, true},
                {buf + 1024, 1, true},
        };

        *req = (struct virtio_blk_req){.type = VIRTIO_BLK_T_IN};
        if (dev.type == VIRTIO_ID_RNG ? virtq_add(vq, &b[1], 1) < 0 : virtq_add(vq, b, 3) < 0)
                return "no free descriptors";
        virtq_kick(vq);
        return NULL;
}

static const char *wait_used(struct virtq *vq)
{
        uint16_t head;
        uint32_t len;

        return virtq_wait(vq, 10, &head, &len);
}

const char *scenario_msix(void)
{
        volatile uint8_t *table, *pba, *entry;
        uint16_t control, table_size;
        struct virtq *vq = &dev.vqs[0];
        uint32_t table_bir, pba_bir;
        uint8_t apic_id, cap, *buf;
        const char *r;

        dma_reset();
        r = virtio_attach(&dev, VIRTIO_ID_RNG, 0);
        if (r) {
                print("msix: no virtio-rng, using virtio-blk\n");
                r = virtio_attach(&dev, VIRTIO_ID_BLOCK, 0);
        }
        if (r)
                return r;
        cap = pci_find_capability(dev.pci, PCI_CAP_ID_MSIX, 0);
        if (!cap)
                return "the virtio device has no MSI-X capability";
        control = (uint16_t) pci_read(dev.pci, cap + MSIX_CONTROL, 2);
        table_size = (uint16_t) ((control & 0x7ff) + 1);
        table_bir = pci_read(dev.pci, cap + MSIX_TABLE, 4);
        pba_bir = pci_read(dev.pci, cap + MSIX_PBA, 4);
        print("msix: ");
        pci_print_fn(dev.pci);
        print(" vectors=%u table=bar %u+0x%x pba=bar %u+0x%x\n", table_size, table_bir & 7, table_bir & ~7u,
              pba_bir & 7, pba_bir & ~7u);
        table = msix_region(table_bir);
        pba = msix_region(pba_bir);
        if (!table || !pba)
                return "the MSI-X table or PBA is in a BAR without an address";

        r = lapic_enable(&apic_id);
        if (r)
                return r;
        idt_set_gate(IRQ_VECTOR, (uintptr_t) msix_irq_stub, GATE_INTERRUPT_DPL0);

        /* Vector 0 to this CPU, fixed delivery, edge; enabled in the capability before the device uses it.
         */
        entry = table;
        mmio_write32(entry + MSIX_ENTRY_CONTROL, MSIX_ENTRY_MASKED);
        mmio_write32(entry + MSIX_ENTRY_ADDR_LO, LAPIC_BASE | (uint32_t) apic_id << 12);
        mmio_write32(entry + MSIX_ENTRY_ADDR_HI, 0);
        mmio_write32(entry + MSIX_ENTRY_DATA, IRQ_VECTOR);
        mmio_write32(entry + MSIX_ENTRY_CONTROL, 0);
        pci_write(dev.pci, cap + MSIX_CONTROL, 2, (control | MSIX_ENABLE) & ~MSIX_FUNCTION_MASK);

        r = virtio_negotiate(&dev, 0);
        if (r)
                return r;
        r = virtq_setup(&dev, 0, 16);
        if (r)
                return r;
        virtio_common_write16(&dev, VIRTIO_COMMON_Q_SELECT, 0);
        virtio_common_write16(&dev, VIRTIO_COMMON_Q_MSIX, 0);
        if (virtio_common_read16(&dev, VIRTIO_COMMON_Q_MSIX) != 0)
                return "the device did not take MSI-X vector 0 for queue 0";
        virtio_set_status(&dev, virtio_get_status(&dev) | VIRTIO_STATUS_DRIVER_OK);

        buf = dma_alloc(2048, 16);
        if (!buf)
                return "the DMA arena is exhausted";
        if ((r = start_request(vq, buf)))
                return r;
        if (!wait_irq(1, IRQ_SECONDS)) {
                print("msix: no interrupt in %u seconds, count=%u\n", IRQ_SECONDS, msix_irq_count);
                return "the completion raised no MSI-X interrupt";
        }
        if ((r = wait_used(vq)))
                return r;
        print("msix: vector 0x%x delivered on completion, count=%u\n", IRQ_VECTOR, msix_irq_count);

        /* Masked: the completion sets the pending bit instead; unmasking delivers it. */
        mmio_write32(entry + MSIX_ENTRY_CONTROL, MSIX_ENTRY_MASKED);
        if ((r = start_request(vq, buf)) || (r = wait_used(vq)))
                return r;
        if (wait_irq(2, QUIET_SECONDS))
                return "an interrupt arrived while its MSI-X vector was masked";
        /* The table and the PBA take only aligned dword and qword accesses. */
        if (!(mmio_read32(pba) & 1))
                return "a masked completion did not set the pending bit";
        print("msix: masked completion set the pending bit, no interrupt\n");
        mmio_write32(entry + MSIX_ENTRY_CONTROL, 0);
        if (!wait_irq(2, IRQ_SECONDS))
                return "unmasking a pending vector delivered no interrupt";
        if (mmio_read32(pba) & 1)
                return "the pending bit stayed set after delivery";
        print("msix: delivered on unmask, count=%u\n", msix_irq_count);

        pci_write(dev.pci, cap + MSIX_CONTROL, 2, control & ~MSIX_ENABLE);
        return virtio_reset(&dev);
}
