/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <linux/kvm.h>

#include "macro.h"

/* /dev/kvm, checked once for everything chv needs. */
typedef struct Kvm {
        int fd;
        int vcpu_mmap_size;
        int max_vcpus;
        bool tsc_deadline;
        struct kvm_cpuid2 *cpuid; /* KVM_GET_SUPPORTED_CPUID */
} Kvm;

/*
 * Opens path (normally /dev/kvm) and checks the API version and every capability chv relies on. On
 * failure ret_missing (when not NULL) names what is missing, e.g. "KVM_CAP_IRQFD".
 */
int kvm_open(const char *path, Kvm **ret, const char **ret_missing);
Kvm *kvm_free(Kvm *kvm);
DEFINE_TRIVIAL_CLEANUP_FUNC(Kvm *, kvm_free);

/* ioctl() returning -errno on failure, retrying EINTR where the ioctl is restartable. */
int kvm_ioctl(int fd, unsigned long req, void *arg);
