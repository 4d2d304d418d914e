/* SPDX-License-Identifier: Apache-2.0 */
/*
 * seccomp-gen OUTPUT.c: compiles chv-vmm's seccomp filters, one per thread kind, into classic BPF with
 * libseccomp, at build time, and writes them as C arrays. chv-vmm then loads a filter with one
 * seccomp(2) call: it neither links libseccomp nor spends instructions compiling rules at start.
 *
 * The filters nest: a thread keeps the filter of the thread that made it and adds its own. The main
 * thread ("vmm") makes the vCPU threads (on a reboot, after it loaded its own filter), a vCPU thread
 * makes the device workers (when the guest's driver starts a device). So a device worker may do only
 * what its filter and the vCPU's allow, and a vCPU only what the vmm filter allows too: every list
 * below holds the lists after it.
 *
 * Every rule that is not met ends in SECCOMP_RET_TRAP here; chv-vmm turns that into what --seccomp
 * asks (trap, log, errno) when it loads the filter.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sched.h>
#include <unistd.h>

typedef struct Rule {
        const char *name;
        /* ioctl: the requests allowed, 0-terminated; NULL with kvm_ioctls: every KVM ioctl (type 0xAE). */
        const unsigned long *ioctls;
        bool kvm_ioctls;
        /* prctl: the options allowed (0-terminated) */
        const int *prctls;
        /* clone: threads only (CLONE_THREAD set), no new processes */
        bool threads_only;
        /* not allowed, but answered ENOSYS, so that glibc takes another way (clone3: to clone) */
        bool enosys;
} Rule;

static const int prctl_names[] = { PR_SET_NAME, PR_GET_NAME, 0 };

/* What every thread does: memory, locks, its own signals, time, reading and writing what it holds. */
#define COMMON_RULES                                                                                  \
        { "read" }, { "readv" }, { "write" }, { "writev" }, { "close" }, { "lseek" }, { "fstat" },    \
        { "newfstatat" }, { "fcntl" }, { "futex" }, { "brk" }, { "mmap" }, { "munmap" },              \
        { "mprotect" }, { "mremap" }, { "madvise" }, { "rt_sigprocmask" }, { "rt_sigreturn" },        \
        { "sigaltstack" }, { "restart_syscall" }, { "clock_gettime" }, { "clock_nanosleep" },        \
        { "nanosleep" }, { "gettid" }, { "getpid" }, { "tgkill" }, { "sched_yield" },                \
        { "getrandom" }, { "rseq" }, { "set_robust_list" }, { "exit" }, { "exit_group" },             \
        { "epoll_wait" }, { "epoll_pwait" }, { "epoll_ctl" }, { "io_uring_enter" },                   \
        { "prctl", .prctls = prctl_names }

/* The disk's I/O without io_uring, and its flushes and holes. */
#define DISK_RULES                                                                                    \
        { "pread64" }, { "pwrite64" }, { "preadv" }, { "pwritev" }, { "preadv2" }, { "pwritev2" },   \
        { "fdatasync" }, { "fsync" }, { "fallocate" }

/* Starting a device: its worker thread, eventfds, epoll and io_uring instances, its filter. */
#define DEVICE_START_RULES                                                                            \
        { "clone", .threads_only = true }, { "clone3", .enosys = true }, { "eventfd2" },             \
        { "epoll_create1" }, { "io_uring_setup" }, { "io_uring_register" }, { "dup" }, { "dup3" },    \
        { "seccomp" }

/* A device worker: the queues' eventfds and epoll, the disk (io_uring or plain calls), the TAP. */
static const unsigned long device_ioctls[] = { BLKDISCARD, BLKZEROOUT, FIONBIO, 0 };
static const Rule device_rules[] = {
        COMMON_RULES,
        DISK_RULES,
        { "ioctl", .ioctls = device_ioctls },
        {},
};

/*
 * A vCPU: KVM_RUN and what its exits do: the platform devices and the virtio transport, whose writes
 * start devices (a worker thread, its eventfds, epoll and io_uring instance, the TAP's offloads) and
 * route interrupts. Plus what its device workers do.
 */
static const unsigned long vcpu_ioctls[] = { TUNSETOFFLOAD, TUNSETVNETHDRSZ, BLKDISCARD, BLKZEROOUT, FIONBIO, 0 };
static const Rule vcpu_rules[] = {
        COMMON_RULES,
        DISK_RULES,
        DEVICE_START_RULES,
        { "ioctl", .ioctls = vcpu_ioctls, .kvm_ioctls = true },
        {},
};

/*
 * The main thread: its event loop (signals, the control socket, chvd's notifications), the machine
 * made anew on a reboot (a KVM VM, vCPUs and their threads), the terminal given back at exit. Plus
 * everything its vCPU threads do.
 */
static const unsigned long vmm_ioctls[] = { TUNSETOFFLOAD, TUNSETVNETHDRSZ, BLKDISCARD, BLKZEROOUT, FIONBIO,
                                            TCGETS, TCSETS, TCSETSW, TCSETSF, TIOCGWINSZ, 0 };
static const Rule vmm_rules[] = {
        COMMON_RULES,
        DISK_RULES,
        DEVICE_START_RULES,
        { "ioctl", .ioctls = vmm_ioctls, .kvm_ioctls = true },
        { "rt_sigaction" }, { "accept4" }, { "recvmsg" }, { "recvfrom" }, { "sendmsg" }, { "sendto" },
        { "getsockopt" }, { "getuid" }, { "geteuid" }, { "getgid" }, { "getegid" },
        { "shutdown" }, { "unlink" }, { "unlinkat" },
        {},
};

static const struct {
        const char *name;
        const Rule *rules;
} kinds[] = {
        { "vmm", vmm_rules },
        { "vcpu", vcpu_rules },
        { "device", device_rules },
};

static int add_rule(scmp_filter_ctx ctx, const Rule *r)
{
        int nr = seccomp_syscall_resolve_name(r->name);
        int e;

        if (nr == __NR_SCMP_ERROR) {
                fprintf(stderr, "seccomp-gen: unknown system call %s\n", r->name);
                return -EINVAL;
        }
        if (r->ioctls || r->kvm_ioctls) {
                /* A vCPU calls ioctl(KVM_RUN) at every exit: ioctl is looked at first, KVM's type first. */
                e = seccomp_syscall_priority(ctx, nr, 255);
                if (e < 0)
                        return e;
                if (r->kvm_ioctls) {
                        e = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
                                             SCMP_A1(SCMP_CMP_MASKED_EQ, 0xff00UL, (unsigned long) KVMIO << 8));
                        if (e < 0)
                                return e;
                }
                for (const unsigned long *req = r->ioctls; req && *req; req++) {
                        /* The request is an unsigned int to the kernel: compare the low 32 bits only. */
                        e = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
                                             SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffUL, *req & 0xffffffffUL));
                        if (e < 0)
                                return e;
                }
                return 0;
        }
        if (r->enosys)
                return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0);
        if (r->threads_only)
                /* clone3 passes its flags in memory, out of a filter's reach: hence ENOSYS for it. */
                return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
                                        SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
        if (r->prctls) {
                for (const int *o = r->prctls; *o; o++) {
                        e = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t) *o));
                        if (e < 0)
                                return e;
                }
                return 0;
        }
        return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
}

static int emit(FILE *out, const char *kind, const Rule *rules)
{
        scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
        struct sock_filter insn;
        FILE *bpf;
        int e = 0;

        if (!ctx)
                return -ENOMEM;
        for (const Rule *r = rules; r->name && e >= 0; r++)
                e = add_rule(ctx, r);
        if (e >= 0)
                e = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
        /* libseccomp writes the program to a file descriptor: an anonymous temporary file. */
        bpf = tmpfile();
        if (!bpf) {
                seccomp_release(ctx);
                return -errno;
        }
        if (e >= 0)
                e = seccomp_export_bpf(ctx, fileno(bpf));
        seccomp_release(ctx);
        if (e < 0) {
                fclose(bpf);
                return e;
        }
        rewind(bpf);
        fprintf(out, "\nconst struct sock_filter chv_seccomp_%s[] = {\n", kind);
        while (fread(&insn, sizeof insn, 1, bpf) == 1)
                fprintf(out, "        { 0x%04x, %u, %u, 0x%08x },\n", insn.code, insn.jt, insn.jf, insn.k);
        fprintf(out, "};\nconst size_t chv_seccomp_%s_len = sizeof chv_seccomp_%s / sizeof chv_seccomp_%s[0];\n",
                kind, kind, kind);
        fclose(bpf);
        return 0;
}

int main(int argc, char **argv)
{
        FILE *out;

        if (argc != 2) {
                fprintf(stderr, "usage: seccomp-gen OUTPUT.c\n");
                return 2;
        }
        out = fopen(argv[1], "w");
        if (!out) {
                perror(argv[1]);
                return 1;
        }
        fprintf(out, "/* Made by seccomp-gen from src/hv/seccomp-gen.c at build time: do not edit. */\n"
                     "#include \"seccomp-filter.h\"\n");
        for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
                int e = emit(out, kinds[i].name, kinds[i].rules);
                if (e < 0) {
                        fprintf(stderr, "seccomp-gen: the %s filter: %s\n", kinds[i].name, strerror(-e));
                        fclose(out);
                        unlink(argv[1]);
                        return 1;
                }
        }
        if (fclose(out) != 0) {
                perror(argv[1]);
                return 1;
        }
        return 0;
}
