/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Scenario virtio-blk-bench: bench=MODE,qd=N,bs=N,count=N with MODE one of randread, randwrite, seqread,
 * seqwrite. Sets up the requests at CPL0, runs the loop at CPL3 (bench-user-mode.c) between the lines
 * "virtio-blk-bench: start" and "virtio-blk-bench: end", which host-side scripts time.
 */
#include "bench.h"
#include "devices.h"

#define BENCH_BUFFER_BYTES (6u << 20)
#define BENCH_SEED         UINT64_C(0x2545f4914f6cdd1d)

static struct blk blk;

static const char *check_options(const struct bench_options *o)
{
        if (o->bs == 0 || o->bs % SECTOR_SIZE != 0 || o->bs > (1u << 20))
                return "bench=: bs must be a multiple of 512 up to 1 MiB";
        if (o->qd == 0 || o->qd * 3 > blk.dev.vqs[0].size)
                return "bench=: qd must be at least 1 and at most a third of the queue size";
        if (o->qd * o->bs > BENCH_BUFFER_BYTES)
                return "bench=: qd * bs is more than the 6 MiB of buffers";
        if (blk.capacity < o->bs / SECTOR_SIZE)
                return "the disk is smaller than one block of bs bytes";
        if ((o->mode == BENCH_RANDWRITE || o->mode == BENCH_SEQWRITE) && blk.read_only)
                return "a write benchmark on a read-only disk";
        return NULL;
}

/* The descriptors of every slot, fixed for the whole run. */
static const char *setup_job(const struct bench_options *o)
{
        struct bench_job *j = &bench_job;
        struct virtq *vq = &blk.dev.vqs[0];
        bool write = o->mode == BENCH_RANDWRITE || o->mode == BENCH_SEQWRITE;
        uint8_t *bufs = dma_alloc(o->qd * o->bs, 4096);

        bench_job_init(vq, o, 3);
        j->reqs = dma_alloc(o->qd * sizeof(struct virtio_blk_req), 16);
        j->statuses = dma_alloc(o->qd, 16);
        j->sectors_per_io = (uint32_t) (o->bs / SECTOR_SIZE);
        j->slots = blk.capacity / (o->bs / SECTOR_SIZE);
        j->seed = BENCH_SEED;
        if (!bufs || !j->reqs || !j->statuses)
                return "the DMA arena is exhausted";
        for (uint32_t i = 0; i < j->qd; i++) {
                uint16_t d = (uint16_t) (3 * i);

                vq->desc[d] = (struct virtq_desc){(uintptr_t) &j->reqs[i], sizeof(struct virtio_blk_req),
                                                  VIRTQ_DESC_F_NEXT, (uint16_t) (d + 1)};
                vq->desc[d + 1] = (struct virtq_desc){
                        (uintptr_t) bufs + i * o->bs, (uint32_t) o->bs,
                        (uint16_t) ((write ? 0 : VIRTQ_DESC_F_WRITE) | VIRTQ_DESC_F_NEXT),
                        (uint16_t) (d + 2)};
                vq->desc[d + 2] = (struct virtq_desc){(uintptr_t) &j->statuses[i], 1, VIRTQ_DESC_F_WRITE, 0};
        }
        return NULL;
}

const char *scenario_virtio_blk_bench(void)
{
        struct bench_options o;
        const char *r;

        r = bench_parse(&o, BENCH_RANDREAD, BENCH_SEQWRITE, 4096);
        if (r)
                return r;
        dma_reset();
        r = blk_start(&blk, 0);
        if (r)
                return r;
        if ((r = check_options(&o)) || (r = setup_job(&o)))
                return r;
        print("virtio-blk-bench: capacity=%lu sectors\n", blk.capacity);
        return bench_run(&blk.dev, "virtio-blk-bench");
}
