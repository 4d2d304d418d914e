/* SPDX-License-Identifier: Apache-2.0 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "cpuid.h"

#define LEAF1_EBX  0xaa105678u /* logical count 0x10 and APIC ID 0xaa from the host, brand/CLFLUSH below */
#define LEAF1_ECX  0x7ed8320bu /* no hypervisor bit, no TSC deadline */
#define LEAF1_EDX  0x0fabfbffu /* HTT (bit 28) clear */
#define LEAF4_JUNK 0xfffffc00u /* host topology in EAX[31:10], to be replaced */
#define EXT1_ECX   0x00c001f3u /* TOPOEXT (bit 22) and CMP_LEGACY (bit 1) set */
#define EXT8_ECX   0x0003f0ffu

/* A synthetic KVM_GET_SUPPORTED_CPUID table. */
static struct kvm_cpuid2 *supported(void)
{
        static const struct kvm_cpuid_entry2 entries[] = {
                { .function = 0x0, .eax = 0x1f, .ebx = 0x756e6547, .ecx = 0x6c65746e, .edx = 0x49656e69 },
                { .function = 0x1, .eax = 0x000906ea, .ebx = LEAF1_EBX, .ecx = LEAF1_ECX, .edx = LEAF1_EDX },
                /* Deterministic cache parameters: L1d, L1i, L2, L3 (type in EAX[4:0], level in EAX[7:5]). */
                { .function = 0x4,
                  .index = 0,
                  .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
                  .eax = LEAF4_JUNK | 0x121,
                  .ebx = 0x01c0003f,
                  .ecx = 0x3f,
                  .edx = 0 },
                { .function = 0x4,
                  .index = 1,
                  .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
                  .eax = LEAF4_JUNK | 0x122,
                  .ebx = 0x01c0003f,
                  .ecx = 0x3f,
                  .edx = 0 },
                { .function = 0x4,
                  .index = 2,
                  .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
                  .eax = LEAF4_JUNK | 0x143,
                  .ebx = 0x03c0003f,
                  .ecx = 0x3ff,
                  .edx = 0 },
                { .function = 0x4,
                  .index = 3,
                  .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
                  .eax = LEAF4_JUNK | 0x163,
                  .ebx = 0x02c0003f,
                  .ecx = 0x2fff,
                  .edx = 6 },
                { .function = 0x6, .eax = 0x4, .ecx = 0x9 },
                { .function = 0xb,
                  .index = 0,
                  .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
                  .eax = 1,
                  .ebx = 2,
                  .ecx = 0x100,
                  .edx = 0x55 },
                { .function = 0xb,
                  .index = 1,
                  .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
                  .eax = 5,
                  .ebx = 16,
                  .ecx = 0x201,
                  .edx = 0x55 },
                { .function = 0xb,
                  .index = 2,
                  .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
                  .eax = 9,
                  .ebx = 9,
                  .ecx = 0x502,
                  .edx = 0x55 },
                { .function = 0x1f,
                  .index = 0,
                  .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
                  .eax = 1,
                  .ebx = 2,
                  .ecx = 0x100,
                  .edx = 0x55 },
                { .function = 0x1f,
                  .index = 1,
                  .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
                  .eax = 5,
                  .ebx = 16,
                  .ecx = 0x201,
                  .edx = 0x55 },
                { .function = 0x40000000,
                  .eax = 0x40000001,
                  .ebx = 0x4b4d564b,
                  .ecx = 0x564b4d56,
                  .edx = 0x4d },
                { .function = 0x80000001, .ecx = EXT1_ECX, .edx = 0x2c100800 },
                { .function = 0x80000008, .eax = 0x3030, .ebx = 0x1234, .ecx = EXT8_ECX },
        };
        struct kvm_cpuid2 *c = calloc(1, sizeof *c + sizeof entries);

        cr_assert(not(zero(ptr, c)));
        c->nent = ELEMENTSOF(entries);
        memcpy(c->entries, entries, sizeof entries);
        return c;
}

static const struct kvm_cpuid_entry2 *find(const struct kvm_cpuid2 *c, uint32_t function, uint32_t index)
{
        for (uint32_t i = 0; i < c->nent; i++)
                if (c->entries[i].function == function && c->entries[i].index == index)
                        return &c->entries[i];
        cr_fatal("leaf 0x%x.%u missing", function, index);
        return NULL;
}

static struct kvm_cpuid2 *for_vcpu(const struct kvm_cpuid2 *s, unsigned id, unsigned max, bool tsc_deadline)
{
        struct kvm_cpuid2 *c = cpuid_for_vcpu(s, id, max, tsc_deadline);
        cr_assert(not(zero(ptr, c)));
        cr_assert(ne(ptr, c, (void *) s));
        cr_assert(eq(u32, c->nent, s->nent));
        return c;
}

Test(cpuid, leaf1_apic_id_count_and_flags)
{
        _cleanup_free_ struct kvm_cpuid2 *s = supported();
        _cleanup_free_ struct kvm_cpuid2 *c = for_vcpu(s, 3, 4, true);
        const struct kvm_cpuid_entry2 *e = find(c, 0x1, 0);

        cr_assert(eq(u32, e->ebx >> 24, 3), "APIC ID");
        cr_assert(eq(u32, (e->ebx >> 16) & 0xff, 4), "logical processor count");
        cr_assert(eq(u32, e->ebx & 0xffff, LEAF1_EBX & 0xffff), "brand index and CLFLUSH size kept");
        cr_assert(eq(u32, e->ecx & (1u << 31), 1u << 31), "hypervisor bit");
        cr_assert(eq(u32, e->ecx & (1u << 24), 1u << 24), "TSC deadline");
        cr_assert(eq(u32, e->ecx & ~((1u << 31) | (1u << 24)), LEAF1_ECX), "other feature bits kept");
        cr_assert(eq(u32, e->edx, LEAF1_EDX | (1u << 28)), "HTT set for more than one vCPU");
        cr_assert(eq(u32, e->eax, 0x000906ea));
}

Test(cpuid, leaf1_single_vcpu)
{
        _cleanup_free_ struct kvm_cpuid2 *s = supported();
        _cleanup_free_ struct kvm_cpuid2 *c = NULL;
        const struct kvm_cpuid_entry2 *e;

        /* Even when the host says HTT, one vCPU has none. */
        s->entries[1].edx |= 1u << 28;
        c = for_vcpu(s, 0, 1, false);
        e = find(c, 0x1, 0);
        cr_assert(eq(u32, e->ebx >> 24, 0));
        cr_assert(eq(u32, (e->ebx >> 16) & 0xff, 1));
        cr_assert(eq(u32, e->edx & (1u << 28), 0), "HTT");
        cr_assert(eq(u32, e->ecx & (1u << 24), 0), "no TSC deadline unless asked");
        cr_assert(eq(u32, e->ecx & (1u << 31), 1u << 31));
}

Test(cpuid, leaf1_apic_ids_per_vcpu)
{
        _cleanup_free_ struct kvm_cpuid2 *s = supported();

        for (unsigned id = 0; id < 254; id += 23) {
                _cleanup_free_ struct kvm_cpuid2 *c = for_vcpu(s, id, 254, false);
                cr_assert(eq(u32, find(c, 0x1, 0)->ebx >> 24, id));
                cr_assert(eq(u32, (find(c, 0x1, 0)->ebx >> 16) & 0xff, 254));
                cr_assert(eq(u32, find(c, 0xb, 0)->edx, id), "x2APIC ID");
                cr_assert(eq(u32, find(c, 0xb, 1)->edx, id));
        }
}

Test(cpuid, leaf_0xb_topology)
{
        _cleanup_free_ struct kvm_cpuid2 *s = supported();
        _cleanup_free_ struct kvm_cpuid2 *c = for_vcpu(s, 2, 6, false);
        const struct kvm_cpuid_entry2 *smt = find(c, 0xb, 0), *core = find(c, 0xb, 1),
                                      *end = find(c, 0xb, 2);

        /* Level 0: SMT, one thread per core, no shift. */
        cr_assert(eq(u32, smt->eax, 0));
        cr_assert(eq(u32, smt->ebx, 1));
        cr_assert(eq(u32, smt->ecx, 0x100));
        cr_assert(eq(u32, smt->edx, 2));
        /* Level 1: cores, 6 of them, 3 bits of APIC ID. */
        cr_assert(eq(u32, core->eax, 3));
        cr_assert(eq(u32, core->ebx, 6));
        cr_assert(eq(u32, core->ecx, 0x201));
        cr_assert(eq(u32, core->edx, 2));
        /* Level 2: invalid, the end of the list. */
        cr_assert(eq(u32, end->eax, 0));
        cr_assert(eq(u32, end->ebx, 0));
        cr_assert(eq(u32, (end->ecx >> 8) & 0xff, 0), "level type invalid");
        cr_assert(eq(u32, end->ecx & 0xff, 2), "level number");
        cr_assert(eq(u32, end->edx, 2));
        cr_assert(eq(u32, end->flags, KVM_CPUID_FLAG_SIGNIFCANT_INDEX));
}

Test(cpuid, leaf_0x1f_follows_0xb)
{
        _cleanup_free_ struct kvm_cpuid2 *s = supported();
        _cleanup_free_ struct kvm_cpuid2 *c = for_vcpu(s, 5, 8, false);

        for (uint32_t i = 0; i < 2; i++) {
                const struct kvm_cpuid_entry2 *a = find(c, 0xb, i), *b = find(c, 0x1f, i);
                cr_assert(eq(u32, a->eax, b->eax));
                cr_assert(eq(u32, a->ebx, b->ebx));
                cr_assert(eq(u32, a->ecx, b->ecx));
                cr_assert(eq(u32, a->edx, b->edx));
        }
        cr_assert(eq(u32, find(c, 0x1f, 1)->eax, 3));
        cr_assert(eq(u32, find(c, 0x1f, 1)->ebx, 8));
}

static unsigned core_bits(unsigned n)
{
        unsigned b = 0;
        while ((1u << b) < n)
                b++;
        return b;
}

Test(cpuid, apic_id_shift_for_various_counts)
{
        static const unsigned counts[] = { 1, 2, 3, 4, 5, 8, 9, 64, 65, 128, 200, 254 };
        _cleanup_free_ struct kvm_cpuid2 *s = supported();

        for (size_t i = 0; i < ELEMENTSOF(counts); i++) {
                _cleanup_free_ struct kvm_cpuid2 *c = for_vcpu(s, 0, counts[i], false);
                unsigned bits = find(c, 0xb, 1)->eax;
                cr_assert(eq(uint, bits, core_bits(counts[i])), "%u vCPUs", counts[i]);
                /* Every APIC ID below max fits in the core field. */
                cr_assert(le(u64, (uint64_t) counts[i] - 1, (UINT64_C(1) << bits) - 1));
                cr_assert(eq(u32, find(c, 0xb, 1)->ebx, counts[i]));
                cr_assert(eq(u32, (find(c, 0x80000008, 0)->ecx >> 12) & 0xf, bits), "%u vCPUs", counts[i]);
                cr_assert(eq(u32, find(c, 0x80000008, 0)->ecx & 0xff, counts[i] - 1));
        }
}

Test(cpuid, leaf4_cache_topology)
{
        _cleanup_free_ struct kvm_cpuid2 *s = supported();
        _cleanup_free_ struct kvm_cpuid2 *c = for_vcpu(s, 1, 4, false);

        for (uint32_t i = 0; i < 4; i++) {
                const struct kvm_cpuid_entry2 *e = find(c, 0x4, i), *o = find(s, 0x4, i);
                unsigned level = (e->eax >> 5) & 7;

                cr_assert(eq(u32, e->eax & 0x3ff, o->eax & 0x3ff), "cache type and level kept");
                cr_assert(eq(u32, e->eax >> 26, 3), "cores per package - 1");
                cr_assert(eq(u32, (e->eax >> 14) & 0xfff, level == 3 ? 3 : 0),
                          "threads sharing the level %u cache - 1", level);
                cr_assert(eq(u32, e->ebx, o->ebx));
                cr_assert(eq(u32, e->ecx, o->ecx));
                cr_assert(eq(u32, e->edx, o->edx));
        }
}

Test(cpuid, leaf4_more_than_64_vcpus)
{
        static const unsigned counts[] = { 64, 65, 100, 128, 254 };
        _cleanup_free_ struct kvm_cpuid2 *s = supported();

        for (size_t i = 0; i < ELEMENTSOF(counts); i++) {
                _cleanup_free_ struct kvm_cpuid2 *c = for_vcpu(s, 0, counts[i], false);
                const struct kvm_cpuid_entry2 *l1 = find(c, 0x4, 0), *l3 = find(c, 0x4, 3);

                /* EAX[31:26] has 6 bits: the count must saturate at 64, never wrap to a small number. */
                cr_assert(eq(u32, l1->eax >> 26, 63), "cores per package for %u vCPUs", counts[i]);
                cr_assert(eq(u32, (l3->eax >> 14) & 0xfff, counts[i] - 1), "L3 sharing for %u vCPUs",
                          counts[i]);
        }
}

Test(cpuid, other_leaves)
{
        _cleanup_free_ struct kvm_cpuid2 *s = supported();
        _cleanup_free_ struct kvm_cpuid2 *c = for_vcpu(s, 0, 2, false);
        const struct kvm_cpuid_entry2 *ext1 = find(c, 0x80000001, 0), *ext8 = find(c, 0x80000008, 0);

        cr_assert(eq(u32, find(c, 0x6, 0)->ecx, 0x9 & ~0x8u), "no energy-performance bias");
        cr_assert(eq(u32, find(c, 0x6, 0)->eax, 0x4));
        cr_assert(eq(u32, ext1->ecx, EXT1_ECX & ~((1u << 22) | (1u << 1))),
                  "TOPOEXT and CMP_LEGACY cleared");
        cr_assert(eq(u32, ext1->edx, 0x2c100800));
        cr_assert(eq(u32, ext8->eax, 0x3030), "address sizes kept");
        cr_assert(eq(u32, ext8->ebx, 0x1234));
        cr_assert(eq(u32, ext8->ecx, (EXT8_ECX & ~0xf0ffu) | (1u << 12) | 1));
        /* Leaves chv does not touch are copied. */
        cr_assert(eq(int, memcmp(find(c, 0x0, 0), find(s, 0x0, 0), sizeof(struct kvm_cpuid_entry2)), 0));
        cr_assert(eq(int,
                     memcmp(find(c, 0x40000000, 0), find(s, 0x40000000, 0), sizeof(struct kvm_cpuid_entry2)),
                     0));
}

Test(cpuid, supported_table_is_not_modified)
{
        _cleanup_free_ struct kvm_cpuid2 *s = supported(), *orig = supported();
        _cleanup_free_ struct kvm_cpuid2 *c = for_vcpu(s, 7, 16, true);

        cr_assert(eq(int, memcmp(s, orig, sizeof *s + s->nent * sizeof s->entries[0]), 0));
        for (uint32_t i = 0; i < c->nent; i++) {
                cr_assert(eq(u32, c->entries[i].function, s->entries[i].function));
                cr_assert(eq(u32, c->entries[i].index, s->entries[i].index));
                cr_assert(eq(u32, c->entries[i].flags, s->entries[i].flags));
        }
}

Test(cpuid, empty_table)
{
        struct kvm_cpuid2 empty = { .nent = 0 };
        _cleanup_free_ struct kvm_cpuid2 *c = cpuid_for_vcpu(&empty, 0, 1, false);

        cr_assert(not(zero(ptr, c)));
        cr_assert(eq(u32, c->nent, 0));
}
