/* SPDX-License-Identifier: Apache-2.0 */
#include "cpuid.h"

#define CPUID_1_ECX_TSC_DEADLINE (1u << 24)
#define CPUID_1_ECX_HYPERVISOR (1u << 31)
#define CPUID_1_EDX_HTT (1u << 28)
#define CPUID_80000001_ECX_TOPOEXT (1u << 22)
#define CPUID_80000001_ECX_CMP_LEGACY (1u << 1)

static unsigned bits_for(unsigned n)
{
        unsigned b = 0;
        while ((1u << b) < n)
                b++;
        return b;
}

struct kvm_cpuid2 *cpuid_for_vcpu(const struct kvm_cpuid2 *supported, unsigned vcpu_id, unsigned max_vcpus,
                                  bool tsc_deadline)
{
        size_t size = sizeof(struct kvm_cpuid2) + supported->nent * sizeof(struct kvm_cpuid_entry2);
        struct kvm_cpuid2 *c = malloc(size);
        unsigned core_bits = bits_for(max_vcpus);

        if (!c)
                return NULL;
        memcpy(c, supported, size);

        for (uint32_t i = 0; i < c->nent; i++) {
                struct kvm_cpuid_entry2 *e = &c->entries[i];
                switch (e->function) {
                case 0x1:
                        e->ebx = (e->ebx & 0x0000ffffu) | (vcpu_id << 24) | ((max_vcpus & 0xff) << 16);
                        e->ecx |= CPUID_1_ECX_HYPERVISOR;
                        if (tsc_deadline)
                                e->ecx |= CPUID_1_ECX_TSC_DEADLINE;
                        if (max_vcpus > 1)
                                e->edx |= CPUID_1_EDX_HTT;
                        else
                                e->edx &= ~CPUID_1_EDX_HTT;
                        break;
                case 0x4:
                        /* Cache leaves: cores per package in EAX[31:26], sharing in EAX[25:14]. */
                        e->eax &= 0x3ffu;
                        e->eax |= MIN(max_vcpus - 1, 63u) << 26;
                        if (((e->eax >> 5) & 7) == 3)
                                e->eax |= MIN(max_vcpus - 1, 0xfffu) << 14;
                        break;
                case 0xb:
                case 0x1f:
                        /* Extended topology: level 0 threads (1 per core), level 1 cores. */
                        e->edx = vcpu_id;
                        if (e->index == 0) {
                                e->eax = 0;
                                e->ebx = 1;
                                e->ecx = 1u << 8;
                        } else if (e->index == 1) {
                                e->eax = core_bits;
                                e->ebx = max_vcpus;
                                e->ecx = (2u << 8) | 1;
                        } else {
                                e->eax = e->ebx = 0;
                                e->ecx = e->index;
                        }
                        break;
                case 0x6:
                        /* No power management for the guest to fiddle with. */
                        e->ecx &= ~(1u << 3);
                        break;
                case 0x80000001:
                        /* Without TOPOEXT, AMD guests take the topology from the leaves above. */
                        e->ecx &= ~(CPUID_80000001_ECX_TOPOEXT | CPUID_80000001_ECX_CMP_LEGACY);
                        break;
                case 0x80000008:
                        e->ecx = (e->ecx & ~0xf0ffu) | (core_bits << 12) | ((max_vcpus - 1) & 0xff);
                        break;
                default:
                        break;
                }
        }
        return c;
}
