/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <linux/filter.h>
#include <stddef.h>

/*
 * chv-vmm's seccomp filters: one per thread kind, made at build time (seccomp-gen.c), each listing
 * the system calls that kind of thread makes (with the ioctl requests and prctl options it uses).
 * Anything else ends as --seccomp says:
 *
 *   true   (the default) the thread gets SIGSYS; chv-vmm says which call of which thread it was, and
 *          exits with status 1
 *   log    the call is logged by the kernel (audit) and goes through
 *   errno  the call fails with EPERM
 *   false  no filter
 */
typedef enum SeccompMode {
        SECCOMP_MODE_OFF,
        SECCOMP_MODE_TRAP,
        SECCOMP_MODE_LOG,
        SECCOMP_MODE_ERRNO,
        _SECCOMP_MODE_MAX,
        _SECCOMP_MODE_INVALID = -22,
} SeccompMode;

typedef enum SeccompThread {
        SECCOMP_THREAD_VMM,
        SECCOMP_THREAD_VCPU,
        SECCOMP_THREAD_DEVICE,
        _SECCOMP_THREAD_MAX,
} SeccompThread;

/* What chv-vmm does without --seccomp: trap where chv was built with its filters. */
#define SECCOMP_MODE_DEFAULT (HAVE_SECCOMP ? SECCOMP_MODE_TRAP : SECCOMP_MODE_OFF)

SeccompMode seccomp_mode_from_string(const char *s);
const char *seccomp_mode_to_string(SeccompMode m);

/*
 * Before the first thread: remembers the mode, sets no_new_privs (which every thread inherits), and,
 * for trap, installs the SIGSYS handler. Returns a negative errno where the kernel refuses.
 */
int seccomp_setup(SeccompMode mode);
/* The filter of kind on the calling thread (nothing with mode false). A negative errno on failure. */
int seccomp_apply(SeccompThread kind);

/* The compiled filters (seccomp-filters.c, generated). */
extern const struct sock_filter chv_seccomp_vmm[], chv_seccomp_vcpu[], chv_seccomp_device[];
extern const size_t chv_seccomp_vmm_len, chv_seccomp_vcpu_len, chv_seccomp_device_len;
