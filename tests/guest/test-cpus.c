/* SPDX-License-Identifier: Apache-2.0 */
/* Scenario cpus: count the processors in the MP table and start the others with INIT-SIPI-SIPI. */
#include "guest.h"

#define MAX_CPUS            256

#define LAPIC_BASE          0xfee00000
#define LAPIC_ID            0x020
#define LAPIC_SVR           0x0f0
#define LAPIC_ICR_LOW       0x300
#define LAPIC_ICR_HIGH      0x310
#define ICR_DELIVERY_STATUS (1u << 12)
#define ICR_LEVEL_ASSERT    (1u << 14)
#define ICR_INIT            0x500
#define ICR_STARTUP         0x600

#define MSR_APIC_BASE       0x1b
#define APIC_BASE_ENABLE    (1u << 11)
#define APIC_BASE_X2APIC    (1u << 10)

/*
 * Counted delays, in port reads (see io_delay()). A port read costs from a fraction of a microsecond
 * (emulators) to tens of microseconds (nested virtualization), so the wait for the APs is also cut
 * short by the RTC's seconds register, where there is an RTC. No PIT, no TSC.
 */
#define DELAY_AFTER_INIT     1000
#define DELAY_AFTER_SIPI     100
#define WAIT_FOR_APS         50000000u
#define WAIT_FOR_APS_SECONDS 10
#define ICR_IDLE_POLL_MAX    100000

struct mp_floating {
        char signature[4];
        uint32_t config_paddr;
        uint8_t length;
        uint8_t revision;
        uint8_t checksum;
        uint8_t features[5];
} _packed_;

struct mp_config {
        char signature[4];
        uint16_t length;
        uint8_t revision;
        uint8_t checksum;
        char oem[8];
        char product[12];
        uint32_t oem_table;
        uint16_t oem_table_size;
        uint16_t entry_count;
        uint32_t lapic_paddr;
        uint16_t ext_length;
        uint8_t ext_checksum;
        uint8_t reserved;
} _packed_;

struct mp_processor {
        uint8_t type;
        uint8_t apic_id;
        uint8_t apic_version;
        uint8_t flags;
        uint32_t signature;
        uint32_t features;
        uint32_t reserved[2];
} _packed_;

static uint8_t checksum(const void *p, size_t n)
{
        const uint8_t *b = p;
        uint8_t sum = 0;

        for (size_t i = 0; i < n; i++)
                sum = (uint8_t) (sum + b[i]);
        return sum;
}

static const struct mp_floating *mp_scan(uint32_t start, uint32_t len)
{
        for (uint32_t a = start; a + sizeof(struct mp_floating) <= start + len; a += 16) {
                const struct mp_floating *f = phys(a);

                if (memcmp(f->signature, "_MP_", 4) != 0)
                        continue;
                if (f->length == 0 || checksum(f, f->length * 16u) != 0) {
                        print("cpus: bad MP floating pointer checksum at 0x%x\n", a);
                        continue;
                }
                return f;
        }
        return NULL;
}

static const struct mp_floating *mp_find(void)
{
        uint32_t ebda = (uint32_t) *(volatile uint16_t *) phys(0x40e) << 4;
        const struct mp_floating *f = NULL;

        if (ebda >= 0x80000 && ebda < 0xa0000)
                f = mp_scan(ebda, 1024);
        if (!f)
                f = mp_scan(0x9fc00, 0x400);
        if (!f)
                f = mp_scan(0xf0000, 0x10000);
        return f;
}

static uint32_t lapic_read(uint32_t reg)
{
        return *(volatile uint32_t *) phys(LAPIC_BASE + reg);
}

static void lapic_write(uint32_t reg, uint32_t v)
{
        *(volatile uint32_t *) phys(LAPIC_BASE + reg) = v;
}

static void delay(unsigned n)
{
        for (unsigned i = 0; i < n; i++)
                io_delay();
}

static void wait_for_aps(unsigned aps)
{
        uint8_t last = cmos_read(0), now;
        unsigned seconds = 0;

        for (uint32_t i = 0; i < WAIT_FOR_APS && ap_online_count < aps; i++) {
                io_delay();
                if (i % 256 != 255)
                        continue;
                now = cmos_read(0);
                if (now != last) {
                        last = now;
                        if (++seconds > WAIT_FOR_APS_SECONDS)
                                break;
                }
        }
}

static bool send_ipi(uint8_t apic_id, uint32_t icr)
{
        unsigned i;

        lapic_write(LAPIC_ICR_HIGH, (uint32_t) apic_id << 24);
        lapic_write(LAPIC_ICR_LOW, icr);
        for (i = 0; i < ICR_IDLE_POLL_MAX; i++)
                if (!(lapic_read(LAPIC_ICR_LOW) & ICR_DELIVERY_STATUS))
                        return true;
        return false;
}

const char *scenario_cpus(void)
{
        static uint8_t apic_ids[MAX_CPUS];
        const struct mp_floating *f;
        const struct mp_config *c;
        const uint8_t *p, *end;
        unsigned count = 0, online, aps = 0;
        uint8_t bsp_id;
        uint64_t apic_base;

        f = mp_find();
        if (!f)
                return "no MP floating pointer structure";
        if (f->features[0] != 0) {
                print("cpus: MP default configuration %u is not supported\n", f->features[0]);
                return "MP default configuration";
        }
        if (f->config_paddr == 0)
                return "no MP configuration table";
        c = phys(f->config_paddr);
        if (memcmp(c->signature, "PCMP", 4) != 0)
                return "bad MP configuration table signature";
        if (c->length < sizeof(*c) || checksum(c, c->length) != 0)
                return "bad MP configuration table checksum";
        print("cpus: MP floating pointer at %p, configuration table at 0x%x, length %u\n", (const void *) f,
              f->config_paddr, c->length);

        /* The entries fill the base table; its entry count is not relied on (not every firmware sets it). */
        p = (const uint8_t *) (c + 1);
        end = (const uint8_t *) c + c->length;
        while (p < end) {
                size_t size = *p == 0 ? sizeof(struct mp_processor) : 8;

                if (*p > 4) {
                        print("cpus: unknown MP table entry type %u\n", *p);
                        return "unknown MP table entry";
                }
                if ((size_t) (end - p) < size)
                        return "truncated MP configuration table";
                if (*p == 0) {
                        const struct mp_processor *cpu = (const void *) p;

                        if (!(cpu->flags & 1))
                                print("cpus: processor entry for APIC ID %u is disabled\n", cpu->apic_id);
                        else if (count < MAX_CPUS)
                                apic_ids[count++] = cpu->apic_id;
                }
                p += size;
        }

        print("cpus: mptable=%u\n", count);
        print("cpus: apic_ids=");
        for (unsigned i = 0; i < count; i++)
                print(i ? ",%u" : "%u", apic_ids[i]);
        print("\n");
        if (count == 0)
                return "no enabled processor in the MP table";

        apic_base = rdmsr(MSR_APIC_BASE);
        if (apic_base & APIC_BASE_X2APIC)
                return "the local APIC is in x2APIC mode";
        if ((apic_base & ~UINT64_C(0xfff)) != LAPIC_BASE) {
                print("cpus: local APIC base 0x%lx\n", apic_base & ~UINT64_C(0xfff));
                return "local APIC is not at 0xfee00000";
        }
        if (!(apic_base & APIC_BASE_ENABLE))
                wrmsr(MSR_APIC_BASE, apic_base | APIC_BASE_ENABLE);
        lapic_write(LAPIC_SVR, 0x1ff); /* software enable, spurious vector 0xff */
        bsp_id = (uint8_t) (lapic_read(LAPIC_ID) >> 24);

        memcpy(phys(TRAMPOLINE_BASE), ap_trampoline_start,
               (size_t) (ap_trampoline_end - ap_trampoline_start));

        /* INIT to every AP, then two SIPIs to each; an AP that already runs ignores the second. */
        for (unsigned i = 0; i < count; i++) {
                if (apic_ids[i] == bsp_id)
                        continue;
                aps++;
                if (!send_ipi(apic_ids[i], ICR_INIT | ICR_LEVEL_ASSERT))
                        return "INIT IPI not delivered";
        }
        if (aps > 0)
                delay(DELAY_AFTER_INIT);
        for (unsigned round = 0; round < 2 && aps > 0; round++) {
                for (unsigned i = 0; i < count; i++) {
                        if (apic_ids[i] == bsp_id)
                                continue;
                        if (!send_ipi(apic_ids[i], ICR_STARTUP | TRAMPOLINE_VECTOR))
                                return "SIPI not delivered";
                }
                delay(DELAY_AFTER_SIPI);
        }

        wait_for_aps(aps);
        online = 1 + ap_online_count;
        if (online < 1 + aps)
                print("cpus: timeout waiting for %u of %u APs\n", 1 + aps - online, aps);
        print("cpus: online=%u\n", online);
        if (aps + 1 != count) {
                print("cpus: the BSP (APIC ID %u) is not among the enabled processors\n", bsp_id);
                return "BSP not in the MP table";
        }
        if (online != count)
                return "online CPUs differ from the MP table";
        return NULL;
}
