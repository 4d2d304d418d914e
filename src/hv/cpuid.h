/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <linux/kvm.h>

#include "macro.h"

/*
 * The CPUID a vCPU sees: what KVM supports, with the topology of this VM (one package of max_vcpus
 * cores, one thread each), its APIC ID, the hypervisor bit and KVM's paravirtual leaves.
 */
struct kvm_cpuid2 *cpuid_for_vcpu(const struct kvm_cpuid2 *supported, unsigned vcpu_id, unsigned max_vcpus,
                                  bool tsc_deadline);
