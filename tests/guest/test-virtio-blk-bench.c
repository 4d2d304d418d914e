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

static const char *const mode_names[] = {
        [BENCH_RANDREAD] = "randread",
        [BENCH_RANDWRITE] = "randwrite",
        [BENCH_SEQREAD] = "seqread",
        [BENCH_SEQWRITE] = "seqwrite",
};

struct bench_options {
        enum bench_mode mode;
        uint64_t qd, bs, count;
};

/* bench=MODE,qd=N,bs=N,count=N; qd 1, bs 4096 and count 10000 unless given. */
static const char *parse_options(struct bench_options *o)
{
        const char *v, *end;
        size_t len;
        bool mode = false;

        *o = (struct bench_options) { .qd = 1, .bs = 4096, .count = 10000 };
        if (!cmdline_value("bench", &v, &len))
                return "no bench= on the command line";
        for (end = v + len; v < end;) {
                const char *item = v, *eq;
                size_t n;

                while (v < end && *v != ',')
                        v++;
                n = (size_t) (v - item);
                if (v < end)
                        v++;
                for (eq = item; eq < item + n && *eq != '='; eq++)
                        ;
                if (eq == item + n) {
                        for (unsigned m = 0; m < ELEMENTSOF(mode_names); m++)
                                if (str_eq_n(item, n, mode_names[m])) {
                                        o->mode = (enum bench_mode) m;
                                        mode = true;
                                }
                        if (!mode)
                                return "bench=: the mode is not one of randread, randwrite, seqread, seqwrite";
                        continue;
                }
                if (!parse_number(eq + 1, (size_t) (item + n - eq - 1),
                                  str_prefix(item, n, "qd=")      ? &o->qd
                                  : str_prefix(item, n, "bs=")    ? &o->bs
                                  : str_prefix(item, n, "count=") ? &o->count
                                                                  : NULL))
                        return "bench=: a value is not a number, or the key is not qd, bs or count";
        }
        if (!mode)
                return "bench=: no mode (randread, randwrite, seqread or seqwrite)";
        return NULL;
}

static const char *check_options(const struct bench_options *o)
{
        if (o->bs == 0 || o->bs % SECTOR_SIZE != 0 || o->bs > (1u << 20))
                return "bench=: bs must be a multiple of 512 up to 1 MiB";
        if (o->qd == 0 || o->qd * 3 > blk.dev.vqs[0].size)
                return "bench=: qd must be at least 1 and at most a third of the queue size";
        if (o->qd * o->bs > BENCH_BUFFER_BYTES)
                return "bench=: qd * bs is more than the 6 MiB of buffers";
        if (o->count == 0 || o->count > UINT32_MAX)
                return "bench=: count must be between 1 and 2^32-1";
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

        *j = (struct bench_job) {
                .avail = vq->avail,
                .used = vq->used,
                .notify = vq->notify,
                .queue_index = vq->index,
                .size = vq->size,
                .avail_idx = vq->avail_idx,
                .last_used = vq->last_used,
                .reqs = dma_alloc(o->qd * sizeof(struct virtio_blk_req), 16),
                .statuses = dma_alloc(o->qd, 16),
                .mode = o->mode,
                .qd = (uint32_t) o->qd,
                .count = (uint32_t) o->count,
                .sectors_per_io = (uint32_t) (o->bs / SECTOR_SIZE),
                .slots = blk.capacity / (o->bs / SECTOR_SIZE),
                .seed = BENCH_SEED,
        };
        if (!bufs || !j->reqs || !j->statuses)
                return "the DMA arena is exhausted";
        for (uint32_t i = 0; i < j->qd; i++) {
                uint16_t d = (uint16_t) (3 * i);

                vq->desc[d] = (struct virtq_desc) { (uintptr_t) &j->reqs[i], sizeof(struct virtio_blk_req),
                                                    VIRTQ_DESC_F_NEXT, (uint16_t) (d + 1) };
                vq->desc[d + 1] = (struct virtq_desc) { (uintptr_t) bufs + i * o->bs, (uint32_t) o->bs,
                                                        (uint16_t) ((write ? 0 : VIRTQ_DESC_F_WRITE) |
                                                                    VIRTQ_DESC_F_NEXT),
                                                        (uint16_t) (d + 2) };
                vq->desc[d + 2] = (struct virtq_desc) { (uintptr_t) &j->statuses[i], 1, VIRTQ_DESC_F_WRITE, 0 };
        }
        return NULL;
}

/* Lets CPL3 reach the user page, the DMA arena and the notification BAR, and runs the loop. */
static void run_at_cpl3(void)
{
        uint64_t *pde = &boot_pd[USER_BASE >> 21];
        const struct pci_bar *bar = &blk.dev.bars[blk.dev.notify_bar];

        *pde |= PTE_USER;
        dma_set_user(true);
        (void) mmio_map(bar->addr, bar->size, true);

        enter_user(bench_main, USER_STACK_TOP - 8);

        (void) mmio_map(bar->addr, bar->size, false);
        dma_set_user(false);
        *pde &= ~(uint64_t) PTE_USER;
        write_cr3(read_cr3());
}

const char *scenario_virtio_blk_bench(void)
{
        struct bench_options o;
        const char *r;

        r = parse_options(&o);
        if (r)
                return r;
        dma_reset();
        r = blk_start(&blk, 0);
        if (r)
                return r;
        if ((r = check_options(&o)) || (r = setup_job(&o)))
                return r;

        print("virtio-blk-bench: start mode=%s qd=%lu bs=%lu count=%lu capacity=%lu\n", mode_names[o.mode], o.qd,
              o.bs, o.count, blk.capacity);
        run_at_cpl3();
        print("virtio-blk-bench: end completed=%u errors=%u notifications=%lu%s\n", bench_job.completed,
              bench_job.errors, bench_job.notifications, bench_job.stalled ? " stalled" : "");
        if (bench_job.stalled)
                return "the device stopped completing requests";
        if (bench_job.errors)
                return "some requests failed";
        if (bench_job.completed != bench_job.count)
                return "fewer requests completed than asked for";
        return virtio_reset(&blk.dev);
}
