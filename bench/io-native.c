/* SPDX-License-Identifier: Apache-2.0 */
/*
 * io-native: the host's own limit for the I/O benchmark. Reads or writes a file through io_uring with
 * a fixed number of requests in flight, as a VMM's disk backend would, and prints one JSON line:
 * operations, bytes, wall time and the process's CPU time (io_uring's worker threads included).
 *
 *     io-native --file PATH [--mode randread|randwrite|seqread|seqwrite] [--bs BYTES] [--qd N]
 *               [--count N] [--wait N] [--direct] [--seed N]
 *
 * --wait N: wait for N completions per io_uring_enter (default 1, as fio's iodepth_batch_complete_min);
 * more trades latency for fewer system calls and wake-ups.
 *
 * Built by bench/run-io-bench: cc -O2 -o io-native io-native.c -luring
 */
#define _GNU_SOURCE /* O_DIRECT */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BUFFER_ALIGN 4096
#define BS_MAX       (64u << 20)
#define QD_MAX       4096u
#define MIN(a, b)    ((a) < (b) ? (a) : (b))

typedef struct Job {
        const char *path;
        const char *mode;
        bool random;
        bool write;
        bool direct;
        unsigned bs;
        unsigned qd;
        unsigned wait; /* completions to wait for per io_uring_enter */
        uint64_t count;
        uint64_t blocks;   /* of bs bytes in the file */
        uint64_t next_seq; /* the next block of a sequential run */
        uint64_t rng;      /* xorshift64 state */
} Job;

static uint64_t now_ns(clockid_t clock)
{
        struct timespec ts;

        (void) clock_gettime(clock, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static uint64_t timeval_ns(struct timeval tv)
{
        return (uint64_t) tv.tv_sec * 1000000000u + (uint64_t) tv.tv_usec * 1000u;
}

static uint64_t job_next_offset(Job *j)
{
        uint64_t block;

        if (j->random) {
                j->rng ^= j->rng << 13;
                j->rng ^= j->rng >> 7;
                j->rng ^= j->rng << 17;
                block = j->rng % j->blocks;
        } else {
                block = j->next_seq;
                j->next_seq = (j->next_seq + 1) % j->blocks;
        }
        return block * j->bs;
}

static void job_queue(Job *j, struct io_uring *ring, int fd, void *buf, unsigned slot)
{
        struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
        uint64_t offset = job_next_offset(j);

        /* The ring has qd entries and at most qd requests are ever queued or in flight. */
        if (j->write)
                io_uring_prep_write(sqe, fd, buf, j->bs, offset);
        else
                io_uring_prep_read(sqe, fd, buf, j->bs, offset);
        io_uring_sqe_set_data64(sqe, slot);
}

/* Runs the job with qd requests in flight until count have completed. 0, or a negative errno. */
static int job_run(Job *j, int fd, uint8_t *buffers)
{
        struct io_uring ring;
        uint64_t queued = 0, done = 0;
        int r;

        r = io_uring_queue_init(j->qd, &ring, 0);
        if (r < 0)
                return r;
        while (queued < j->count && queued < j->qd) {
                job_queue(j, &ring, fd, buffers + queued * j->bs, (unsigned) queued);
                queued++;
        }
        while (done < j->count) {
                struct io_uring_cqe *cqe;
                unsigned head, n = 0;

                r = io_uring_submit_and_wait(&ring, (unsigned) MIN(j->wait, j->count - done));
                if (r == -EINTR)
                        continue;
                if (r < 0)
                        break;
                r = 0;
                io_uring_for_each_cqe(&ring, head, cqe) {
                        unsigned slot = (unsigned) io_uring_cqe_get_data64(cqe);

                        n++;
                        if (cqe->res != (int) j->bs) {
                                r = cqe->res < 0 ? cqe->res : -EIO;
                                break;
                        }
                        done++;
                        if (queued < j->count) {
                                job_queue(j, &ring, fd, buffers + (size_t) slot * j->bs, slot);
                                queued++;
                        }
                }
                io_uring_cq_advance(&ring, n);
                if (r < 0)
                        break;
        }
        io_uring_queue_exit(&ring);
        return r;
}

static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *ret)
{
        char *end;
        unsigned long long v;

        errno = 0;
        v = strtoull(s, &end, 0);
        if (errno || end == s || *end || v < min || v > max)
                return -EINVAL;
        *ret = v;
        return 0;
}

static void usage(FILE *f)
{
        fputs("usage: io-native --file PATH [--mode randread|randwrite|seqread|seqwrite] [--bs BYTES]\n"
              "                 [--qd N] [--count N] [--wait N] [--direct] [--seed N]\n",
              f);
}

int main(int argc, char **argv)
{
        static const struct option options[] = {
                { "file", required_argument, NULL, 'f' },  { "mode", required_argument, NULL, 'm' },
                { "bs", required_argument, NULL, 'b' },    { "qd", required_argument, NULL, 'q' },
                { "count", required_argument, NULL, 'n' }, { "direct", no_argument, NULL, 'd' },
                { "seed", required_argument, NULL, 's' },  { "wait", required_argument, NULL, 'w' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        Job j = { .mode = "randread", .random = true, .bs = 4096, .qd = 32, .wait = 1, .count = 100000, .rng = 1 };
        struct rusage ru0, ru1;
        struct stat st;
        uint64_t v, t0, t1;
        uint8_t *buffers;
        int c, fd, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 'f':
                        j.path = optarg;
                        break;
                case 'm':
                        if (strcmp(optarg, "randread") && strcmp(optarg, "randwrite") && strcmp(optarg, "seqread") &&
                            strcmp(optarg, "seqwrite")) {
                                fprintf(stderr, "io-native: unknown mode \"%s\"\n", optarg);
                                return 2;
                        }
                        j.mode = optarg;
                        j.random = optarg[0] == 'r';
                        j.write = strstr(optarg, "write") != NULL;
                        break;
                case 'b':
                case 'q':
                case 'n':
                case 's':
                case 'w':
                        if (parse_u64(optarg, 1, c == 'b' ? BS_MAX : c == 'q' || c == 'w' ? QD_MAX : UINT64_MAX, &v) < 0) {
                                fprintf(stderr, "io-native: bad number \"%s\"\n", optarg);
                                return 2;
                        }
                        if (c == 'b')
                                j.bs = (unsigned) v;
                        else if (c == 'q')
                                j.qd = (unsigned) v;
                        else if (c == 'w')
                                j.wait = (unsigned) v;
                        else if (c == 'n')
                                j.count = v;
                        else
                                j.rng = v;
                        break;
                case 'd':
                        j.direct = true;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (!j.path || optind != argc || j.wait > j.qd) {
                usage(stderr);
                return 2;
        }

        fd = open(j.path, (j.write ? O_RDWR : O_RDONLY) | O_CLOEXEC | (j.direct ? O_DIRECT : 0));
        if (fd < 0 || fstat(fd, &st) < 0) {
                fprintf(stderr, "io-native: %s: %s\n", j.path, strerror(errno));
                return 1;
        }
        j.blocks = (uint64_t) st.st_size / j.bs;
        if (j.blocks == 0) {
                fprintf(stderr, "io-native: %s is smaller than one block of %u bytes\n", j.path, j.bs);
                return 1;
        }
        if (posix_memalign((void **) &buffers, BUFFER_ALIGN, (size_t) j.qd * j.bs) != 0) {
                fputs("io-native: out of memory\n", stderr);
                return 1;
        }
        memset(buffers, 0x5a, (size_t) j.qd * j.bs);

        (void) getrusage(RUSAGE_SELF, &ru0);
        t0 = now_ns(CLOCK_MONOTONIC);
        r = job_run(&j, fd, buffers);
        t1 = now_ns(CLOCK_MONOTONIC);
        (void) getrusage(RUSAGE_SELF, &ru1);
        if (r < 0) {
                fprintf(stderr, "io-native: %s on %s: %s\n", j.mode, j.path, strerror(-r));
                return 1;
        }

        printf("{\"mode\": \"%s\", \"bs\": %u, \"qd\": %u, \"wait\": %u, \"direct\": %s, \"ops\": %" PRIu64
               ", \"bytes\": %" PRIu64 ", \"file_bytes\": %" PRIu64 ", \"wall_ns\": %" PRIu64
               ", \"user_ns\": %" PRIu64 ", \"sys_ns\": %" PRIu64 "}\n",
               j.mode, j.bs, j.qd, j.wait, j.direct ? "true" : "false", j.count, j.count * j.bs, (uint64_t) st.st_size,
               t1 - t0, timeval_ns(ru1.ru_utime) - timeval_ns(ru0.ru_utime),
               timeval_ns(ru1.ru_stime) - timeval_ns(ru0.ru_stime));
        free(buffers);
        close(fd);
        return 0;
}
