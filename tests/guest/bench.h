/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * The benchmark loop for virtio-blk and virtio-net transmission, which runs at CPL3 (bench-user-mode.c,
 * linked into the user page like every file whose name ends in user-mode.c), the job the CPL0 side sets
 * up for it, and the CPL0 helpers around it (bench.c).
 */

#include "blk.h"

/* Debug port markers around the loop, written at CPL3. */
#define MARK_BENCH_START 0x61
#define MARK_BENCH_END   0x62

/* Seconds without a completion after which the loop gives up. */
#define BENCH_STALL_SECONDS 10

enum bench_mode {
        BENCH_RANDREAD,
        BENCH_RANDWRITE,
        BENCH_SEQREAD,
        BENCH_SEQWRITE,
        BENCH_TX, /* virtio-net: frames sent */
        _BENCH_MODE_MAX,
};

/*
 * Request slot i uses descs_per_slot descriptors from descs_per_slot * i on, set up once by the CPL0
 * side: for virtio-blk the header, bs bytes of data and the status byte; for virtio-net one buffer with
 * the header and the frame. The loop only rewrites virtio-blk headers and the available ring.
 */
struct bench_job {
        /* Set up at CPL0. */
        volatile struct virtq_avail *avail;
        volatile struct virtq_used *used;
        volatile uint16_t *notify;
        uint16_t queue_index, size;
        uint16_t avail_idx, last_used;
        struct virtio_blk_req *reqs;
        volatile uint8_t *statuses; /* virtio-blk only */
        enum bench_mode mode;
        uint32_t descs_per_slot;
        uint32_t qd, bs, count, sectors_per_io;
        uint64_t slots; /* bs-sized blocks on the disk */
        uint64_t seed;

        /* Results. */
        uint32_t submitted, completed, errors;
        uint64_t notifications;
        bool stalled;
};

extern struct bench_job bench_job;
_noreturn_ void bench_main(void);

/* bench.c, at CPL0. */
struct bench_options {
        enum bench_mode mode;
        uint64_t qd, bs, count;
};

const char *bench_mode_name(enum bench_mode mode);
/*
 * bench=MODE[,qd=N][,bs=N][,count=N] from the command line, MODE between first and last; qd 1, count
 * 10000 and bs default_bs unless given.
 */
const char *bench_parse(struct bench_options *o, enum bench_mode first, enum bench_mode last,
                        uint64_t default_bs);
/* Fills bench_job with the queue and the options; the caller adds what is particular to its device. */
void bench_job_init(struct virtq *vq, const struct bench_options *o, uint32_t descs_per_slot);
/* Runs bench_main() at CPL3 between the lines "<name>: start ..." and "<name>: end ...". */
const char *bench_run(struct virtio_dev *dev, const char *name);
