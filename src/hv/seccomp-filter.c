/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "seccomp-filter.h"

static SeccompMode seccomp_mode = SECCOMP_MODE_OFF;

static const char *const mode_names[_SECCOMP_MODE_MAX] = {
        [SECCOMP_MODE_OFF] = "false",
        [SECCOMP_MODE_TRAP] = "true",
        [SECCOMP_MODE_LOG] = "log",
        [SECCOMP_MODE_ERRNO] = "errno",
};

SeccompMode seccomp_mode_from_string(const char *s)
{
        for (int i = 0; i < _SECCOMP_MODE_MAX; i++)
                if (s && strcmp(s, mode_names[i]) == 0)
                        return (SeccompMode) i;
        /* Cloud Hypervisor's parser takes these too. */
        if (s && (strcmp(s, "on") == 0 || strcmp(s, "yes") == 0))
                return SECCOMP_MODE_TRAP;
        if (s && (strcmp(s, "off") == 0 || strcmp(s, "no") == 0))
                return SECCOMP_MODE_OFF;
        return _SECCOMP_MODE_INVALID;
}

const char *seccomp_mode_to_string(SeccompMode m)
{
        return m >= 0 && m < _SECCOMP_MODE_MAX ? mode_names[m] : NULL;
}

/* Async-signal-safe decimal. */
static size_t put_uint(char *buf, unsigned long v)
{
        char tmp[24];
        size_t n = 0, k = 0;

        do
                tmp[n++] = (char) ('0' + v % 10);
        while ((v /= 10) > 0);
        while (n > 0)
                buf[k++] = tmp[--n];
        return k;
}

static size_t put_str(char *buf, const char *s)
{
        size_t n = strlen(s);
        memcpy(buf, s, n);
        return n;
}

/*
 * A call the thread's filter does not allow: says which, from which thread, and ends chv-vmm with
 * status 1 (an error of chv-vmm, as chvd reads it). Only async-signal-safe calls here: the thread may
 * have been anywhere, in malloc too.
 */
static void on_sigsys(int sig, siginfo_t *si, void *ctx)
{
        char buf[256], name[17] = "";
        size_t n = 0;

        (void) prctl(PR_GET_NAME, name);
        n += put_str(buf + n, "chv-vmm: seccomp: thread ");
        n += put_str(buf + n, name[0] ? name : "?");
        n += put_str(buf + n, " made system call ");
        n += put_uint(buf + n, (unsigned long) si->si_syscall);
        n += put_str(buf + n, ", which its filter does not allow; stopping (scmp_sys_resolver ");
        n += put_uint(buf + n, (unsigned long) si->si_syscall);
        n += put_str(buf + n, " names it)\n");
        (void) !write(STDERR_FILENO, buf, n);
        _exit(1);
}

int seccomp_setup(SeccompMode mode)
{
        struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };

        seccomp_mode = mode;
        if (mode == SECCOMP_MODE_OFF)
                return 0;
        if (!HAVE_SECCOMP)
                return -EOPNOTSUPP;
        /* Time zone data is read now, not by the first vCPU that reads the clock. */
        tzset();
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return -errno;
        if (mode == SECCOMP_MODE_TRAP && sigaction(SIGSYS, &sa, NULL) < 0)
                return -errno;
        return 0;
}

#if HAVE_SECCOMP
int seccomp_apply(SeccompThread kind)
{
        static const struct {
                const struct sock_filter *insns;
                const size_t *len;
        } filters[_SECCOMP_THREAD_MAX] = {
                [SECCOMP_THREAD_VMM] = { chv_seccomp_vmm, &chv_seccomp_vmm_len },
                [SECCOMP_THREAD_VCPU] = { chv_seccomp_vcpu, &chv_seccomp_vcpu_len },
                [SECCOMP_THREAD_DEVICE] = { chv_seccomp_device, &chv_seccomp_device_len },
        };
        struct sock_filter insns[512];
        struct sock_fprog prog;
        size_t n;
        sigset_t sys;

        if (seccomp_mode == SECCOMP_MODE_OFF)
                return 0;
        n = *filters[kind].len;
        if (n > ELEMENTSOF(insns))
                return -E2BIG;
        memcpy(insns, filters[kind].insns, n * sizeof insns[0]);
        /* The filters say trap; the mode says what that is. */
        for (size_t i = 0; i < n; i++)
                if (insns[i].code == (BPF_RET | BPF_K) && insns[i].k == SECCOMP_RET_TRAP)
                        insns[i].k = seccomp_mode == SECCOMP_MODE_LOG     ? SECCOMP_RET_LOG
                                     : seccomp_mode == SECCOMP_MODE_ERRNO ? SECCOMP_RET_ERRNO | EPERM
                                                                          : SECCOMP_RET_TRAP;
        prog = (struct sock_fprog) { .len = (unsigned short) n, .filter = insns };
        /* A thread that blocks SIGSYS would die of it without a word. */
        sigemptyset(&sys);
        sigaddset(&sys, SIGSYS);
        pthread_sigmask(SIG_UNBLOCK, &sys, NULL);
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
                return -errno;
        return 0;
}
#else
int seccomp_apply(SeccompThread kind)
{
        return seccomp_mode == SECCOMP_MODE_OFF ? 0 : -EOPNOTSUPP;
}
#endif
