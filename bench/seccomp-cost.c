/* SPDX-License-Identifier: Apache-2.0 */
/*
 * seccomp-cost [ROUNDS] [CALLS]: what chv-vmm's seccomp filters add to the system calls on its hot
 * paths, natively (no KVM needed). For each call, alternating in every round: a process without a
 * filter, then one under each thread kind's filter that makes that call, CALLS calls each (default
 * 1000000), ROUNDS rounds (default 7). Prints the median nanoseconds per call and what the filter
 * adds, as one JSON object per line.
 *
 * The calls: ioctl(KVM_RUN) on a pipe (a vCPU's every exit; the pipe answers ENOTTY at once, so the
 * filter's share is not drowned), write(2) of 8 bytes to an eventfd (an interrupt or a queue kick: a
 * device worker's most frequent call), getppid(2) (the filter's cost for a call that comes last in
 * the filter's order).
 */
#include <errno.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "seccomp-filter.h"

typedef enum Call { CALL_KVM_RUN, CALL_EVENTFD_WRITE, CALL_GETPPID, _CALL_MAX } Call;
static const char *const call_names[] = { "ioctl(KVM_RUN)", "write(eventfd)", "getppid" };

static uint64_t now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

/* In a child: the filter of kind (-1: none), then calls of one kind; the nanoseconds per call back. */
static double measure(int kind, Call call, long calls)
{
        int p[2], status;
        double ns = -1;
        pid_t pid;

        if (pipe(p) < 0)
                return -1;
        pid = fork();
        if (pid == 0) {
                int fds[2], efd = eventfd(0, EFD_NONBLOCK);
                uint64_t one = 1, t0;
                double r;

                if (efd < 0 || pipe(fds) < 0)
                        _exit(2);
                if (kind >= 0 && (seccomp_setup(SECCOMP_MODE_ERRNO) < 0 || seccomp_apply((SeccompThread) kind) < 0))
                        _exit(3);
                t0 = now_ns();
                for (long i = 0; i < calls; i++)
                        switch (call) {
                        case CALL_KVM_RUN:
                                (void) ioctl(fds[0], KVM_RUN, 0);
                                break;
                        case CALL_EVENTFD_WRITE:
                                (void) !write(efd, &one, sizeof one);
                                if ((i & 0xffff) == 0xffff) /* keep the counter far from its maximum */
                                        (void) !read(efd, &one, sizeof one), one = 1;
                                break;
                        default:
                                (void) getppid();
                                break;
                        }
                r = (double) (now_ns() - t0) / (double) calls;
                _exit(write(p[1], &r, sizeof r) == sizeof r ? 0 : 4);
        }
        close(p[1]);
        if (pid > 0 && waitpid(pid, &status, 0) == pid && status == 0 && read(p[0], &ns, sizeof ns) != sizeof ns)
                ns = -1;
        close(p[0]);
        return ns;
}

static int compare(const void *a, const void *b)
{
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
        qsort(v, (size_t) n, sizeof *v, compare);
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
        /* Which thread kinds make which call: a vCPU runs KVM_RUN, everyone writes eventfds. */
        static const int kinds_of[_CALL_MAX][3] = {
                [CALL_KVM_RUN] = { SECCOMP_THREAD_VCPU, SECCOMP_THREAD_VMM, -1 },
                [CALL_EVENTFD_WRITE] = { SECCOMP_THREAD_DEVICE, SECCOMP_THREAD_VCPU, SECCOMP_THREAD_VMM },
                [CALL_GETPPID] = { SECCOMP_THREAD_DEVICE, -1, -1 },
        };
        static const char *const kind_names[] = { "vmm", "vcpu", "device" };
        int rounds = argc > 1 ? atoi(argv[1]) : 7;
        long calls = argc > 2 ? atol(argv[2]) : 1000000;

        if (rounds < 1 || rounds > 101 || calls < 1000) {
                fprintf(stderr, "usage: seccomp-cost [ROUNDS 1..101] [CALLS >= 1000]\n");
                return 2;
        }
        for (int c = 0; c < _CALL_MAX; c++)
                for (int k = 0; k < 3 && kinds_of[c][k] >= 0; k++) {
                        double none[101], filtered[101];
                        for (int r = 0; r < rounds; r++) {
                                /* Alternating which goes first. */
                                if (r % 2 == 0) {
                                        none[r] = measure(-1, (Call) c, calls);
                                        filtered[r] = measure(kinds_of[c][k], (Call) c, calls);
                                } else {
                                        filtered[r] = measure(kinds_of[c][k], (Call) c, calls);
                                        none[r] = measure(-1, (Call) c, calls);
                                }
                                if (none[r] < 0 || filtered[r] < 0) {
                                        fprintf(stderr, "seccomp-cost: a measuring child failed\n");
                                        return 1;
                                }
                        }
                        double mn = median(none, rounds), mf = median(filtered, rounds);
                        printf("{\"call\": \"%s\", \"filter\": \"%s\", \"rounds\": %d, \"calls\": %ld, "
                               "\"ns_without\": %.1f, \"ns_with\": %.1f, \"ns_added\": %.1f, \"ratio\": %.3f}\n",
                               call_names[c], kind_names[kinds_of[c][k]], rounds, calls, mn, mf, mf - mn, mf / mn);
                        fflush(stdout);
                }
        return 0;
}
