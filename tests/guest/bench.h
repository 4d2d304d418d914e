/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * The virtio-blk benchmark loop, which runs at CPL3 (bench-user-mode.c, linked into the user page like
 * every file whose name ends in user-mode.c), and the job the CPL0 side sets up for it.
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
};

/*
 * Request slot i uses descriptors 3i (header), 3i+1 (bs bytes of data) and 3i+2 (status), set up once
 * by the CPL0 side; the loop only rewrites headers and the available ring.
 */
struct bench_job {
        /* Set up at CPL0. */
        volatile struct virtq_avail *avail;
        volatile struct virtq_used *used;
        volatile uint16_t *notify;
        uint16_t queue_index, size;
        uint16_t avail_idx, last_used;
        struct virtio_blk_req *reqs;
        volatile uint8_t *statuses;
        enum bench_mode mode;
        uint32_t qd, count, sectors_per_io;
        uint64_t slots; /* bs-sized blocks on the disk */
        uint64_t seed;

        /* Results. */
        uint32_t submitted, completed, errors;
        uint64_t notifications;
        bool stalled;
};

extern struct bench_job bench_job;
_noreturn_ void bench_main(void);
