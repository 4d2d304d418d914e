/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <sys/ioctl.h>

#include "kvm.h"

int kvm_ioctl(int fd, unsigned long req, void *arg)
{
        int r;
        do
                r = ioctl(fd, req, arg);
        while (r < 0 && errno == EINTR);
        return r < 0 ? negative_errno() : r;
}

static const struct {
        int cap;
        const char *name;
} required_caps[] = {
#define CAP(x) { x, #x }
        CAP(KVM_CAP_IRQCHIP),         CAP(KVM_CAP_USER_MEMORY),   CAP(KVM_CAP_SET_TSS_ADDR),
        CAP(KVM_CAP_SET_IDENTITY_MAP_ADDR), CAP(KVM_CAP_EXT_CPUID), CAP(KVM_CAP_PIT2),
        CAP(KVM_CAP_IOEVENTFD),       CAP(KVM_CAP_IRQFD),         CAP(KVM_CAP_IRQ_ROUTING),
        CAP(KVM_CAP_SIGNAL_MSI),      CAP(KVM_CAP_IMMEDIATE_EXIT), CAP(KVM_CAP_MP_STATE),
        CAP(KVM_CAP_ADJUST_CLOCK),    CAP(KVM_CAP_GET_TSC_KHZ),   CAP(KVM_CAP_NR_VCPUS),
#undef CAP
};

int kvm_open(const char *path, Kvm **ret, const char **ret_missing)
{
        _cleanup_(kvm_freep) Kvm *kvm = NULL;
        int r, nent = 256;

        kvm = calloc(1, sizeof *kvm);
        if (!kvm)
                return -ENOMEM;
        kvm->fd = open(path, O_RDWR | O_CLOEXEC);
        if (kvm->fd < 0)
                return negative_errno();

        r = ioctl(kvm->fd, KVM_GET_API_VERSION, 0);
        if (r != KVM_API_VERSION) {
                if (ret_missing)
                        *ret_missing = "KVM API version 12";
                return -ENOTSUP;
        }
        for (size_t i = 0; i < ELEMENTSOF(required_caps); i++)
                if (ioctl(kvm->fd, KVM_CHECK_EXTENSION, required_caps[i].cap) <= 0) {
                        if (ret_missing)
                                *ret_missing = required_caps[i].name;
                        return -ENOTSUP;
                }
        kvm->tsc_deadline = ioctl(kvm->fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0;
        r = ioctl(kvm->fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
        if (r <= 0)
                r = ioctl(kvm->fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
        kvm->max_vcpus = r > 0 ? r : 1;

        kvm->vcpu_mmap_size = ioctl(kvm->fd, KVM_GET_VCPU_MMAP_SIZE, 0);
        if (kvm->vcpu_mmap_size < (int) sizeof(struct kvm_run))
                return kvm->vcpu_mmap_size < 0 ? negative_errno() : -EIO;

        for (;;) {
                kvm->cpuid = calloc(1, sizeof(struct kvm_cpuid2) + (size_t) nent * sizeof(struct kvm_cpuid_entry2));
                if (!kvm->cpuid)
                        return -ENOMEM;
                kvm->cpuid->nent = (uint32_t) nent;
                if (ioctl(kvm->fd, KVM_GET_SUPPORTED_CPUID, kvm->cpuid) == 0)
                        break;
                if (errno != E2BIG || nent >= 4096)
                        return negative_errno();
                free(kvm->cpuid);
                kvm->cpuid = NULL;
                nent *= 2;
        }
        *ret = TAKE_PTR(kvm);
        return 0;
}

Kvm *kvm_free(Kvm *kvm)
{
        if (!kvm)
                return NULL;
        safe_close(kvm->fd);
        free(kvm->cpuid);
        free(kvm);
        return NULL;
}
