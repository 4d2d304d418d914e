/* SPDX-License-Identifier: Apache-2.0 */
/*
 * chv-vmm's seccomp filters, loaded for real: what each thread kind may do and what it may not, and what
 * each --seccomp mode makes of a call outside the filter. Every test runs in a process of its own
 * (criterion forks), so a filter never outlives its test.
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <linux/fs.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "seccomp-filter.h"

Test(seccomp, modes)
{
        cr_assert(eq(int, seccomp_mode_from_string("true"), SECCOMP_MODE_TRAP));
        cr_assert(eq(int, seccomp_mode_from_string("false"), SECCOMP_MODE_OFF));
        cr_assert(eq(int, seccomp_mode_from_string("log"), SECCOMP_MODE_LOG));
        cr_assert(eq(int, seccomp_mode_from_string("errno"), SECCOMP_MODE_ERRNO));
        cr_assert(eq(int, seccomp_mode_from_string("on"), SECCOMP_MODE_TRAP));
        cr_assert(lt(int, seccomp_mode_from_string("kill"), 0));
        cr_assert(lt(int, seccomp_mode_from_string(""), 0));
        cr_assert(lt(int, seccomp_mode_from_string(NULL), 0));
        cr_assert(eq(str, (char *) seccomp_mode_to_string(SECCOMP_MODE_ERRNO), "errno"));
}

/*
 * errno mode: a refused call fails with EPERM, so each thread kind can be probed call by call. The
 * probes run in a child under the filter (criterion's own reporting could not work there), which
 * sends back, for each call, 0 when the filter let it through (whatever the kernel said of it then)
 * or the errno of the refusal.
 */
#define MAX_PROBES 32
typedef void (*ProbeFn)(int *results, int fd);

static int refused(long r)
{
        return r < 0 && errno == EPERM ? EPERM : 0;
}

/* A new process, the way fork() makes one. */
static long clone_process(void)
{
        long r = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
        if (r == 0)
                _exit(0);
        return r;
}

static void probe(SeccompThread kind, ProbeFn fn, int *results)
{
        int p[2], fds[2], status;
        pid_t pid;

        cr_assert(eq(int, pipe(p), 0));
        cr_assert(eq(int, pipe(fds), 0));
        pid = fork();
        cr_assert(ge(int, pid, 0));
        if (pid == 0) {
                int r[MAX_PROBES];
                for (int i = 0; i < MAX_PROBES; i++)
                        r[i] = -1;
                if (seccomp_setup(SECCOMP_MODE_ERRNO) < 0 || seccomp_apply(kind) < 0)
                        _exit(3);
                fn(r, fds[1]);
                _exit(write(p[1], r, sizeof r) == sizeof r ? 0 : 4);
        }
        close(p[1]);
        cr_assert(eq(int, waitpid(pid, &status, 0), pid));
        cr_assert(eq(int, status, 0), "the probing child ended with status 0x%x", status);
        cr_assert(eq(long, read(p[0], results, MAX_PROBES * sizeof(int)), MAX_PROBES * (long) sizeof(int)));
        close(p[0]);
        close(fds[0]);
        close(fds[1]);
}

/* What a worker does (its fds, the disk, memory, time), then what it never does. */
static void device_probes(int *r, int fd)
{
        char c = 'x';
        void *m;

        r[0] = refused(write(fd, &c, 1));
        r[1] = refused(pwrite(fd, &c, 1, 0));
        r[2] = refused(fdatasync(fd));
        r[3] = refused(ioctl(fd, BLKDISCARD, NULL));
        r[4] = refused(prctl(PR_SET_NAME, "blk-x"));
        m = malloc(1 << 20);
        r[5] = m ? 0 : -2;
        free(m);
        r[10] = refused(socket(AF_UNIX, SOCK_STREAM, 0));
        r[11] = refused(open("/etc/hostname", O_RDONLY));
        r[12] = refused(ioctl(fd, KVM_CREATE_VM, 0));
        r[13] = refused(ioctl(fd, TUNSETIFF, NULL));
        r[14] = refused(prctl(PR_SET_DUMPABLE, 1));
        r[15] = refused(clone_process());
        r[16] = refused(execve("/bin/true", (char *[]) { NULL }, NULL));
        r[17] = refused(syscall(SYS_eventfd2, 0, 0));
}

Test(seccomp, device_thread)
{
        int r[MAX_PROBES];

        probe(SECCOMP_THREAD_DEVICE, device_probes, r);
        for (int i = 0; i <= 5; i++)
                cr_expect(eq(int, r[i], 0), "allowed probe %d was refused", i);
        for (int i = 10; i <= 17; i++)
                cr_expect(eq(int, r[i], EPERM), "refused probe %d went through", i);
}

static void *thread_main(void *arg)
{
        return arg;
}

/* KVM ioctls (on a pipe: the filter lets them through, the kernel says ENOTTY), starting devices (a
 * worker thread among them: clone3 is answered ENOSYS, glibc then uses clone); and what is not a
 * vCPU's business. */
static void vcpu_probes(int *r, int fd)
{
        static int arg;
        pthread_t t;
        void *ret = NULL;

        r[0] = refused(ioctl(fd, KVM_RUN, 0));
        r[1] = refused(ioctl(fd, KVM_IRQFD, NULL));
        r[2] = refused(ioctl(fd, KVM_SET_GSI_ROUTING, NULL));
        r[3] = refused(ioctl(fd, TUNSETOFFLOAD, 0));
        r[4] = refused(syscall(SYS_eventfd2, 0, 0));
        r[5] = refused(syscall(SYS_epoll_create1, 0));
        r[6] = pthread_create(&t, NULL, thread_main, &arg) == 0 && pthread_join(t, &ret) == 0 && ret == &arg ? 0 : -2;
        r[10] = refused(ioctl(fd, TUNSETIFF, NULL));
        r[11] = refused(ioctl(fd, TCSETS, NULL));
        r[12] = refused(socket(AF_INET, SOCK_DGRAM, 0));
        r[13] = refused(open("/etc/hostname", O_RDONLY));
        r[14] = refused(syscall(SYS_accept4, fd, NULL, NULL, 0));
        r[15] = refused(clone_process());
}

Test(seccomp, vcpu_thread)
{
        int r[MAX_PROBES];

        probe(SECCOMP_THREAD_VCPU, vcpu_probes, r);
        for (int i = 0; i <= 6; i++)
                cr_expect(eq(int, r[i], 0), "allowed probe %d was refused", i);
        for (int i = 10; i <= 15; i++)
                cr_expect(eq(int, r[i], EPERM), "refused probe %d went through", i);
}

/* The control socket, the terminal, a machine made anew; it opens nothing new, makes no sockets, runs
 * nothing. */
static void vmm_probes(int *r, int fd)
{
        int one = 0;
        socklen_t len = sizeof one;

        r[0] = refused(syscall(SYS_accept4, fd, NULL, NULL, 0));
        r[1] = refused(ioctl(fd, TCSETS, NULL));
        r[2] = refused(ioctl(fd, KVM_CREATE_VM, 0));
        r[3] = refused(unlink("/nonexistent/ctl"));
        r[4] = refused(getsockopt(fd, SOL_SOCKET, SO_TYPE, &one, &len));
        r[5] = refused(syscall(SYS_geteuid));
        r[10] = refused(open("/etc/hostname", O_RDONLY));
        r[11] = refused(socket(AF_INET, SOCK_STREAM, 0));
        r[12] = refused(ioctl(fd, TUNSETIFF, NULL));
        r[13] = refused(clone_process());
        r[14] = refused(execve("/bin/true", (char *[]) { NULL }, NULL));
}

Test(seccomp, vmm_thread)
{
        int r[MAX_PROBES];

        probe(SECCOMP_THREAD_VMM, vmm_probes, r);
        for (int i = 0; i <= 5; i++)
                cr_expect(eq(int, r[i], 0), "allowed probe %d was refused", i);
        for (int i = 10; i <= 14; i++)
                cr_expect(eq(int, r[i], EPERM), "refused probe %d went through", i);
}

/* The default, trap: the thread's call is named on standard error and chv-vmm ends with status 1. */
Test(seccomp, trap_names_the_call_and_exits, .exit_code = 1)
{
        cr_assert(eq(int, seccomp_setup(SECCOMP_MODE_TRAP), 0));
        cr_assert(eq(int, prctl(PR_SET_NAME, "vcpu7"), 0));
        cr_assert(eq(int, seccomp_apply(SECCOMP_THREAD_VCPU), 0));
        (void) socket(AF_INET, SOCK_DGRAM, 0);
        cr_fatal("socket() went through a trapping filter");
}

/* The same, with standard error read back: the message says which thread and which call. */
Test(seccomp, trap_message)
{
        int err[2], status;
        char buf[512] = "";
        pid_t pid;

        cr_assert(eq(int, pipe(err), 0));
        pid = fork();
        cr_assert(ge(int, pid, 0));
        if (pid == 0) {
                dup2(err[1], STDERR_FILENO);
                if (seccomp_setup(SECCOMP_MODE_TRAP) < 0 || prctl(PR_SET_NAME, "net-_net0") < 0 ||
                    seccomp_apply(SECCOMP_THREAD_DEVICE) < 0)
                        _exit(3);
                (void) syscall(SYS_socket, AF_INET, SOCK_DGRAM, 0);
                _exit(4);
        }
        close(err[1]);
        cr_assert(eq(int, waitpid(pid, &status, 0), pid));
        bool exited = WIFEXITED(status);
        cr_assert(exited, "status 0x%x", status);
        cr_assert(eq(int, WEXITSTATUS(status), 1));
        cr_assert(gt(long, read(err[0], buf, sizeof buf - 1), 0));
        cr_assert(eq(str, buf, "chv-vmm: seccomp: thread net-_net0 made system call 41, which its filter does not "
                               "allow; stopping (scmp_sys_resolver 41 names it)\n"));
}

/* false: no filter at all. */
Test(seccomp, off)
{
        cr_assert(eq(int, seccomp_setup(SECCOMP_MODE_OFF), 0));
        cr_assert(eq(int, seccomp_apply(SECCOMP_THREAD_DEVICE), 0));
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        cr_assert(ge(int, fd, 0));
        close(fd);
}
