/* SPDX-License-Identifier: Apache-2.0 */
#include "acpi.h"
#include "aml.h"
#include "legacy.h"
#include "serial.h"
#include "x86-layout.h"

#define ACPI_OEM_ID           "CHV   "
#define ACPI_CREATOR_ID       "CHV "
#define ACPI_OEM_REVISION     1
#define ACPI_CREATOR_REVISION 1

/* FADT: ACPI 6.5, and the offsets of the fields it sets */
#define FADT_REVISION                       6
#define FADT_MINOR_REVISION                 5
#define FADT_OFF_CENTURY                    108
#define FADT_OFF_IAPC_BOOT_ARCH             109
#define FADT_OFF_FLAGS                      112
#define FADT_OFF_RESET_REG                  116
#define FADT_OFF_RESET_VALUE                128
#define FADT_OFF_MINOR_VERSION              131
#define FADT_OFF_X_DSDT                     140
#define FADT_OFF_SLEEP_CONTROL              244
#define FADT_OFF_SLEEP_STATUS               256
#define FADT_OFF_HYPERVISOR_ID              268

#define FADT_IAPC_BOOT_ARCH_VGA_NOT_PRESENT (1u << 2)
/* The power button is a control method device (PWRB); there is no sleep button. */
#define FADT_PWR_BUTTON        (1u << 4)
#define FADT_SLP_BUTTON        (1u << 5)
#define FADT_RESET_REG_SUP     (1u << 10)
#define FADT_HW_REDUCED_ACPI   (1u << 20)
#define FADT_CMOS_CENTURY      0x32 /* the CMOS register the RTC keeps the century in */
#define FADT_HYPERVISOR_VENDOR "CHVCHV  "

/* Generic Address Structure */
#define GAS_SYSTEM_IO   1
#define GAS_ACCESS_BYTE 1

/* MADT: ACPI 6.3 and later, where Online Capable exists */
#define MADT_REVISION             5
#define MADT_PCAT_COMPAT          (1u << 0)
#define MADT_LOCAL_APIC           0
#define MADT_IO_APIC              1
#define MADT_LOCAL_APIC_NMI       4
#define MADT_LAPIC_ENABLED        (1u << 0)
#define MADT_LAPIC_ONLINE_CAPABLE (1u << 1)
#define MADT_ALL_PROCESSORS       0xff
#define MADT_LAPIC_SIZE           8
#define MADT_IO_APIC_SIZE         12
#define MADT_LAPIC_NMI_SIZE       6

#define XSDT_ENTRIES              3
#define MCFG_SIZE                 (ACPI_HEADER_SIZE + 8 + 16)
#define DSDT_REVISION             2 /* 64-bit integers */

/* _OSC of a PCI host bridge (PCI Firmware Specification 3.3, 4.5.1) */
#define PCI_HOST_BRIDGE_OSC_UUID  "33DB4D5B-1FF7-401C-9657-7441C03DD766"
#define OSC_UNRECOGNIZED_UUID     0x04
#define OSC_UNRECOGNIZED_REVISION 0x08

#define PCI_SLOTS                 32
#define PCI_INTX_GSIS             8

static void put16(uint8_t *p, uint16_t v)
{
        p[0] = (uint8_t) v;
        p[1] = (uint8_t) (v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
        put16(p, (uint16_t) v);
        put16(p + 2, (uint16_t) (v >> 16));
}

static void put64(uint8_t *p, uint64_t v)
{
        put32(p, (uint32_t) v);
        put32(p + 4, (uint32_t) (v >> 32));
}

uint8_t acpi_checksum(const void *p, size_t len)
{
        const uint8_t *b = p;
        uint8_t sum = 0;

        for (size_t i = 0; i < len; i++)
                sum = (uint8_t) (sum + b[i]);
        return (uint8_t) -sum;
}

/* The header of a system description table; the length and checksum are set by header_finish(). */
static void header_put(uint8_t *p, const char signature[static 4], uint8_t revision)
{
        char table_id[9];

        memcpy(p, signature, 4);
        p[8] = revision;
        memcpy(p + 10, ACPI_OEM_ID, 6);
        (void) snprintf(table_id, sizeof table_id, "CHV%.4s ", signature);
        memcpy(p + 16, table_id, 8);
        put32(p + 24, ACPI_OEM_REVISION);
        memcpy(p + 28, ACPI_CREATOR_ID, 4);
        put32(p + 32, ACPI_CREATOR_REVISION);
}

static void header_finish(uint8_t *p, size_t len)
{
        put32(p + 4, (uint32_t) len);
        p[9] = 0;
        p[9] = acpi_checksum(p, len);
}

static void gas_put_io_byte(uint8_t *p, uint16_t port)
{
        p[0] = GAS_SYSTEM_IO;
        p[1] = 8; /* register bit width */
        p[2] = 0; /* bit offset */
        p[3] = GAS_ACCESS_BYTE;
        put64(p + 4, port);
}

static size_t madt_size(unsigned max_vcpus)
{
        return ACPI_HEADER_SIZE + 8 + (size_t) max_vcpus * MADT_LAPIC_SIZE + MADT_IO_APIC_SIZE +
               MADT_LAPIC_NMI_SIZE;
}

static void madt_build(uint8_t *t, const AcpiConfig *c)
{
        uint8_t *p = t + ACPI_HEADER_SIZE;

        header_put(t, "APIC", MADT_REVISION);
        put32(p, X86_LAPIC_ADDR);
        /* KVM's in-kernel irqchip has the 8259 pair as well. */
        put32(p + 4, MADT_PCAT_COMPAT);
        p += 8;

        for (unsigned i = 0; i < c->max_vcpus; i++, p += MADT_LAPIC_SIZE) {
                p[0] = MADT_LOCAL_APIC;
                p[1] = MADT_LAPIC_SIZE;
                p[2] = (uint8_t) i; /* ACPI processor UID */
                p[3] = (uint8_t) i; /* APIC ID: the vCPU index, as CPUID says */
                put32(p + 4, i < c->boot_vcpus ? MADT_LAPIC_ENABLED : MADT_LAPIC_ONLINE_CAPABLE);
        }

        p[0] = MADT_IO_APIC;
        p[1] = MADT_IO_APIC_SIZE;
        p[2] = (uint8_t) c->max_vcpus; /* the I/O APIC ID, as in the MP table */
        p[3] = 0;
        put32(p + 4, X86_IOAPIC_ADDR);
        put32(p + 8, 0); /* GSI base */
        p += MADT_IO_APIC_SIZE;

        /* NMI on LINT1 of every local APIC, with the bus's polarity and trigger mode. */
        p[0] = MADT_LOCAL_APIC_NMI;
        p[1] = MADT_LAPIC_NMI_SIZE;
        p[2] = MADT_ALL_PROCESSORS;
        put16(p + 3, 0);
        p[5] = 1;
        p += MADT_LAPIC_NMI_SIZE;

        header_finish(t, (size_t) (p - t));
}

static void mcfg_build(uint8_t t[static MCFG_SIZE], const AcpiConfig *c)
{
        uint8_t *p = t + ACPI_HEADER_SIZE + 8; /* 8 reserved bytes */

        header_put(t, "MCFG", 1);
        put64(p, c->ecam_base);
        put16(p + 8, 0); /* PCI segment */
        p[10] = 0;       /* start bus */
        p[11] = c->ecam_end_bus;
        header_finish(t, MCFG_SIZE);
}

static void fadt_build(uint8_t t[static ACPI_FADT_SIZE], uint64_t dsdt)
{
        header_put(t, "FACP", FADT_REVISION);
        /* No FACS, no SCI, SMI, PM1 or GPE blocks: the platform is hardware-reduced. */
        t[FADT_OFF_CENTURY] = FADT_CMOS_CENTURY;
        put16(t + FADT_OFF_IAPC_BOOT_ARCH, FADT_IAPC_BOOT_ARCH_VGA_NOT_PRESENT);
        put32(t + FADT_OFF_FLAGS,
              FADT_HW_REDUCED_ACPI | FADT_RESET_REG_SUP | FADT_PWR_BUTTON | FADT_SLP_BUTTON);
        gas_put_io_byte(t + FADT_OFF_RESET_REG, ACPI_PM_SHUTDOWN_PORT);
        t[FADT_OFF_RESET_VALUE] = ACPI_PM_RESET_VALUE;
        t[FADT_OFF_MINOR_VERSION] = FADT_MINOR_REVISION;
        put64(t + FADT_OFF_X_DSDT, dsdt); /* and the 32-bit DSDT field stays 0 */
        gas_put_io_byte(t + FADT_OFF_SLEEP_CONTROL, ACPI_PM_SHUTDOWN_PORT);
        gas_put_io_byte(t + FADT_OFF_SLEEP_STATUS, ACPI_PM_SHUTDOWN_PORT);
        memcpy(t + FADT_OFF_HYPERVISOR_ID, FADT_HYPERVISOR_VENDOR, 8);
        header_finish(t, ACPI_FADT_SIZE);
}

/* DSDT */

static void dsdt_pci_host_bridge(AmlBuf *b, const AcpiConfig *c)
{
        (void) aml_device_begin(b, "PCI0");
        (void) aml_name_eisaid(b, "_HID", "PNP0A08");
        (void) aml_name_eisaid(b, "_CID", "PNP0A03");
        (void) aml_name_int(b, "_SEG", 0);
        (void) aml_name_int(b, "_BBN", 0);
        (void) aml_name_int(b, "_UID", 0);

        (void) aml_name_decl(b, "_CRS");
        (void) aml_resource_begin(b);
        (void) aml_res_word_bus_number(b, 0, c->ecam_end_bus);
        (void) aml_res_io(b, true, 0xcf8, 0xcf8, 1, 8); /* the configuration mechanism #1 ports */
        if (c->pio_size > 0)
                (void) aml_res_word_io(b, c->pio_base, (uint16_t) (c->pio_base + c->pio_size - 1));
        if (c->mmio32_size > 0)
                (void) aml_res_dword_memory(b, false, AML_MEM_NON_CACHEABLE | AML_MEM_READ_WRITE,
                                            (uint32_t) c->mmio32_base,
                                            (uint32_t) (c->mmio32_base + c->mmio32_size - 1));
        if (c->mmio64_size > 0)
                (void) aml_res_qword_memory(b, false, AML_MEM_CACHEABLE | AML_MEM_READ_WRITE, c->mmio64_base,
                                            c->mmio64_base + c->mmio64_size - 1);
        (void) aml_end(b);

        /*
         * Method (_OSC, 4) {
         *         CreateDWordField (Arg3, 0, CDW1)
         *         If (Arg0 == ToUUID (PCI_HOST_BRIDGE_OSC_UUID)) {
         *                 If (Arg1 != 1) { CDW1 |= OSC_UNRECOGNIZED_REVISION }
         *         } Else {
         *                 CDW1 |= OSC_UNRECOGNIZED_UUID
         *         }
         *         Return (Arg3)
         * }
         * The capabilities buffer comes back as it came: the OS gets control of whatever it asks for.
         */
        (void) aml_method_begin(b, "_OSC", 4, false);
        (void) aml_op(b, AML_OP_CREATE_DWORD_FIELD);
        (void) aml_arg(b, 3);
        (void) aml_int(b, 0);
        (void) aml_name(b, "CDW1");
        (void) aml_if_begin(b);
        (void) aml_op(b, AML_OP_LEQUAL);
        (void) aml_arg(b, 0);
        (void) aml_uuid(b, PCI_HOST_BRIDGE_OSC_UUID);
        (void) aml_if_begin(b);
        (void) aml_op(b, AML_OP_LNOT);
        (void) aml_op(b, AML_OP_LEQUAL);
        (void) aml_arg(b, 1);
        (void) aml_int(b, 1);
        (void) aml_op(b, AML_OP_OR);
        (void) aml_name(b, "CDW1");
        (void) aml_int(b, OSC_UNRECOGNIZED_REVISION);
        (void) aml_name(b, "CDW1");
        (void) aml_end(b);
        (void) aml_end(b);
        (void) aml_else_begin(b);
        (void) aml_op(b, AML_OP_OR);
        (void) aml_name(b, "CDW1");
        (void) aml_int(b, OSC_UNRECOGNIZED_UUID);
        (void) aml_name(b, "CDW1");
        (void) aml_end(b);
        (void) aml_op(b, AML_OP_RETURN);
        (void) aml_arg(b, 3);
        (void) aml_end(b);

        /* INTx of every slot to GSIs 16-23, rotated by the slot number like a bridge swizzles them. */
        (void) aml_name_decl(b, "_PRT");
        (void) aml_package_begin(b);
        for (unsigned slot = 0; slot < PCI_SLOTS; slot++)
                for (unsigned pin = 0; pin < 4; pin++) {
                        (void) aml_package_begin(b);
                        (void) aml_int(b, (uint64_t) slot << 16 | 0xffff); /* any function */
                        (void) aml_int(b, pin);
                        (void) aml_int(b, 0); /* no link device: the last element is a GSI */
                        (void) aml_int(b, ACPI_PCI_INTX_GSI_BASE + (slot + pin) % PCI_INTX_GSIS);
                        (void) aml_end(b);
                }
        (void) aml_end(b);
        (void) aml_end(b);
}

/* The motherboard resources: ECAM (which Linux only uses when it is reserved) and the GED register. */
static void dsdt_motherboard(AmlBuf *b, const AcpiConfig *c)
{
        (void) aml_device_begin(b, "MBRD");
        (void) aml_name_eisaid(b, "_HID", "PNP0C02");
        (void) aml_name_int(b, "_UID", 0);
        (void) aml_name_decl(b, "_CRS");
        (void) aml_resource_begin(b);
        (void) aml_res_qword_memory(b, true, AML_MEM_NON_CACHEABLE | AML_MEM_READ_WRITE, c->ecam_base,
                                    c->ecam_base + ((uint64_t) c->ecam_end_bus + 1) * MiB - 1);
        (void) aml_res_qword_memory(b, true, AML_MEM_NON_CACHEABLE | AML_MEM_READ_WRITE, c->ged_mmio_base,
                                    c->ged_mmio_base + ACPI_GED_MMIO_SIZE - 1);
        (void) aml_end(b);
        (void) aml_end(b);
}

static void dsdt_serial(AmlBuf *b)
{
        (void) aml_device_begin(b, "COM1");
        (void) aml_name_eisaid(b, "_HID", "PNP0501");
        (void) aml_name_int(b, "_UID", 0);
        (void) aml_name_string(b, "_DDN", "COM1");
        (void) aml_name_decl(b, "_CRS");
        (void) aml_resource_begin(b);
        (void) aml_res_io(b, true, SERIAL_COM1_BASE, SERIAL_COM1_BASE, 1, 8);
        (void) aml_res_interrupt(b, AML_IRQ_CONSUMER | AML_IRQ_EDGE, &(const uint32_t) { SERIAL_COM1_IRQ },
                                 1);
        (void) aml_end(b);
        (void) aml_end(b);
}

/*
 * The CMOS clock, so that Linux binds its driver through PNP with the interrupt the DSDT gives: none,
 * as chv's RTC raises none. Without this device, Linux registers the clock with ISA IRQ 8, which a
 * hardware-reduced guest has not mapped, and the driver fails to probe.
 */
static void dsdt_rtc(AmlBuf *b)
{
        (void) aml_device_begin(b, "RTC");
        (void) aml_name_eisaid(b, "_HID", "PNP0B00");
        (void) aml_name_int(b, "_UID", 0);
        (void) aml_name_decl(b, "_CRS");
        (void) aml_resource_begin(b);
        (void) aml_res_io(b, true, RTC_PORT, RTC_PORT, 1, RTC_PORT_LEN);
        (void) aml_end(b);
        (void) aml_end(b);
}

static void dsdt_power_button(AmlBuf *b)
{
        (void) aml_device_begin(b, "PWRB");
        (void) aml_name_eisaid(b, "_HID", "PNP0C0C");
        (void) aml_name_int(b, "_UID", 0);
        (void) aml_end(b);
}

static void dsdt_ged(AmlBuf *b, const AcpiConfig *c)
{
        (void) aml_device_begin(b, "GED_");
        (void) aml_name_string(b, "_HID", "ACPI0013");
        (void) aml_name_int(b, "_UID", 0);
        (void) aml_name_decl(b, "_CRS");
        (void) aml_resource_begin(b);
        (void) aml_res_interrupt(b, AML_IRQ_CONSUMER | AML_IRQ_EDGE, &c->ged_gsi, 1);
        (void) aml_end(b);

        (void) aml_operation_region(b, "GDST", AML_SPACE_SYSTEM_MEMORY, c->ged_mmio_base,
                                    ACPI_GED_MMIO_SIZE);
        (void) aml_field_begin(b, "GDST", AML_ACCESS_DWORD, false, AML_UPDATE_WRITE_AS_ZEROS);
        (void) aml_field_unit(b, "GDAT", 32);
        (void) aml_end(b);

        /*
         * Method (_EVT, 1, Serialized) {
         *         Local0 = GDAT
         *         If (Local0 & ACPI_GED_EVENT_POWER_BUTTON) { Notify (\_SB.PWRB, 0x80) }
         * }
         * The register is read once: a read clears what it returns.
         */
        (void) aml_method_begin(b, "_EVT", 1, true);
        (void) aml_op(b, AML_OP_STORE);
        (void) aml_name(b, "GDAT");
        (void) aml_local(b, 0);
        (void) aml_if_begin(b);
        (void) aml_op(b, AML_OP_AND);
        (void) aml_local(b, 0);
        (void) aml_int(b, ACPI_GED_EVENT_POWER_BUTTON);
        (void) aml_null_name(b);
        (void) aml_notify(b, "\\_SB.PWRB", 0x80);
        (void) aml_end(b);
        (void) aml_end(b);

        (void) aml_end(b);
}

/* The DSDT, header included; its checksum is set. */
static int dsdt_build(AmlBuf *b, const AcpiConfig *c)
{
        static const uint8_t header[ACPI_HEADER_SIZE] = {};
        int r;

        (void) aml_raw(b, header, sizeof header);
        (void) aml_scope_begin(b, "\\_SB");
        dsdt_pci_host_bridge(b, c);
        dsdt_motherboard(b, c);
        dsdt_serial(b);
        dsdt_rtc(b);
        dsdt_power_button(b);
        dsdt_ged(b, c);
        (void) aml_end(b);

        /* Sleep state S5, soft off: the SLP_TYP the shutdown register takes (bits 2-4 of its value). */
        (void) aml_name_decl(b, "\\_S5");
        (void) aml_package_begin(b);
        (void) aml_int(b, (ACPI_PM_SLEEP_S5 >> 2) & 0x7);
        (void) aml_int(b, 0);
        (void) aml_int(b, 0);
        (void) aml_int(b, 0);
        (void) aml_end(b);

        r = aml_buf_finish(b);
        if (r < 0)
                return r;
        if (b->len > UINT32_MAX)
                return -E2BIG;
        header_put(b->data, "DSDT", DSDT_REVISION);
        header_finish(b->data, b->len);
        return 0;
}

static int config_check(const AcpiConfig *c)
{
        uint64_t end;

        if (c->boot_vcpus == 0 || c->boot_vcpus > c->max_vcpus || c->max_vcpus > ACPI_MAX_VCPUS)
                return -EINVAL;
        if (c->ecam_base % MiB != 0 ||
            add_overflows_u64(c->ecam_base, ((uint64_t) c->ecam_end_bus + 1) * MiB - 1, &end))
                return -EINVAL;
        if (c->mmio32_size > 0 &&
            (add_overflows_u64(c->mmio32_base, c->mmio32_size, &end) || end > UINT64_C(0x100000000)))
                return -EINVAL;
        if (c->mmio64_size > 0 && add_overflows_u64(c->mmio64_base, c->mmio64_size - 1, &end))
                return -EINVAL;
        if (c->pio_size > 0 && (uint32_t) c->pio_base + c->pio_size > 0x10000)
                return -EINVAL;
        if (c->ged_mmio_base % ACPI_GED_MMIO_SIZE != 0 ||
            add_overflows_u64(c->ged_mmio_base, ACPI_GED_MMIO_SIZE - 1, &end))
                return -EINVAL;
        /* An ISA interrupt of its own: not the PIT's, not COM1's, not one of the PCI INTx GSIs. */
        if (c->ged_gsi == 0 || c->ged_gsi == SERIAL_COM1_IRQ || c->ged_gsi >= ACPI_PCI_INTX_GSI_BASE)
                return -EINVAL;
        return 0;
}

void acpi_config_default(AcpiConfig *c, unsigned boot_vcpus, unsigned max_vcpus)
{
        *c = (AcpiConfig) {
                .boot_vcpus = boot_vcpus,
                .max_vcpus = max_vcpus,
                .ecam_base = ACPI_ECAM_BASE,
                .ecam_end_bus = (uint8_t) (ACPI_ECAM_SIZE / MiB - 1),
                .mmio32_base = ACPI_MMIO32_BASE,
                .mmio32_size = ACPI_MMIO32_SIZE,
                .pio_base = ACPI_PIO_BASE,
                .pio_size = ACPI_PIO_SIZE,
                .ged_mmio_base = ACPI_GED_MMIO_BASE,
                .ged_gsi = ACPI_GED_GSI,
        };
}

/* Where the next table goes. */
static int place(uint64_t *cursor, uint64_t end, size_t len, uint64_t *ret)
{
        uint64_t at = ALIGN_UP(*cursor, UINT64_C(16)), next;

        if (at < *cursor || add_overflows_u64(at, len, &next) || next > end)
                return -E2BIG;
        *ret = at;
        *cursor = next;
        return 0;
}

int acpi_tables_write(GuestMemory *mem, uint64_t base, uint64_t size, const AcpiConfig *c,
                      uint64_t *ret_rsdp)
{
        _cleanup_(aml_buf_done) AmlBuf dsdt = AML_BUF_INIT;
        _cleanup_free_ uint8_t *madt = NULL;
        uint8_t rsdp[ACPI_RSDP_SIZE] = {}, xsdt[ACPI_HEADER_SIZE + 8 * XSDT_ENTRIES] = {},
                fadt[ACPI_FADT_SIZE] = {}, mcfg[MCFG_SIZE] = {};
        uint64_t end, cursor = base, rsdp_at, xsdt_at, fadt_at, madt_at, mcfg_at, dsdt_at;
        size_t madt_len;
        uint8_t *region;
        int r;

        if (base % 16 != 0 || size == 0 || add_overflows_u64(base, size, &end))
                return -EINVAL;
        r = config_check(c);
        if (r < 0)
                return r;

        r = dsdt_build(&dsdt, c);
        if (r < 0)
                return r;
        madt_len = madt_size(c->max_vcpus);
        madt = calloc(1, madt_len);
        if (!madt)
                return -ENOMEM;
        madt_build(madt, c);
        mcfg_build(mcfg, c);

        if ((r = place(&cursor, end, sizeof rsdp, &rsdp_at)) < 0 ||
            (r = place(&cursor, end, sizeof xsdt, &xsdt_at)) < 0 ||
            (r = place(&cursor, end, sizeof fadt, &fadt_at)) < 0 ||
            (r = place(&cursor, end, madt_len, &madt_at)) < 0 ||
            (r = place(&cursor, end, sizeof mcfg, &mcfg_at)) < 0 ||
            (r = place(&cursor, end, dsdt.len, &dsdt_at)) < 0)
                return r;

        fadt_build(fadt, dsdt_at);

        header_put(xsdt, "XSDT", 1);
        put64(xsdt + ACPI_HEADER_SIZE, fadt_at);
        put64(xsdt + ACPI_HEADER_SIZE + 8, madt_at);
        put64(xsdt + ACPI_HEADER_SIZE + 16, mcfg_at);
        header_finish(xsdt, sizeof xsdt);

        memcpy(rsdp, "RSD PTR ", 8);
        memcpy(rsdp + 9, ACPI_OEM_ID, 6);
        rsdp[15] = 2;           /* revision: ACPI 2.0 and later, with the XSDT */
        put32(rsdp + 16, 0);    /* no RSDT */
        put32(rsdp + 20, sizeof rsdp);
        put64(rsdp + 24, xsdt_at);
        rsdp[8] = acpi_checksum(rsdp, 20);
        rsdp[32] = acpi_checksum(rsdp, sizeof rsdp);

        /* Clear the whole span, padding included, then copy the tables in. */
        region = guest_memory_ptr(mem, base, cursor - base);
        if (!region)
                return -EFAULT;
        memset(region, 0, cursor - base);
        memcpy(region + (rsdp_at - base), rsdp, sizeof rsdp);
        memcpy(region + (xsdt_at - base), xsdt, sizeof xsdt);
        memcpy(region + (fadt_at - base), fadt, sizeof fadt);
        memcpy(region + (madt_at - base), madt, madt_len);
        memcpy(region + (mcfg_at - base), mcfg, sizeof mcfg);
        memcpy(region + (dsdt_at - base), dsdt.data, dsdt.len);

        *ret_rsdp = rsdp_at;
        return 0;
}
