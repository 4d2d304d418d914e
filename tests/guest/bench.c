/* SPDX-License-Identifier: Apache-2.0 */
/* The CPL0 side of the benchmark scenarios: options, the job for the CPL3 loop, running it, the verdict. */
#include "bench.h"

static const char *const mode_names[_BENCH_MODE_MAX] = {
        [BENCH_RANDREAD] = "randread",
        [BENCH_RANDWRITE] = "randwrite",
        [BENCH_SEQREAD] = "seqread",
        [BENCH_SEQWRITE] = "seqwrite",
        [BENCH_TX] = "tx",
};

const char *bench_mode_name(enum bench_mode mode)
{
        return mode < _BENCH_MODE_MAX ? mode_names[mode] : "unknown";
}

static bool parse_mode(const char *s, size_t n, enum bench_mode first, enum bench_mode last,
                       enum bench_mode *ret)
{
        for (unsigned m = first; m <= last; m++)
                if (str_eq_n(s, n, mode_names[m])) {
                        *ret = (enum bench_mode) m;
                        return true;
                }
        return false;
}

const char *bench_parse(struct bench_options *o, enum bench_mode first, enum bench_mode last,
                        uint64_t default_bs)
{
        const char *v, *end;
        size_t len;
        bool mode = false;

        *o = (struct bench_options){.qd = 1, .bs = default_bs, .count = 10000};
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
                        if (!parse_mode(item, n, first, last, &o->mode))
                                return "bench=: unknown mode (see README.md for each scenario's modes)";
                        mode = true;
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
                return "bench=: no mode";
        if (o->count == 0 || o->count > UINT32_MAX)
                return "bench=: count must be between 1 and 2^32-1";
        return NULL;
}

void bench_job_init(struct virtq *vq, const struct bench_options *o, uint32_t descs_per_slot)
{
        bench_job = (struct bench_job){
                .avail = vq->avail,
                .used = vq->used,
                .notify = vq->notify,
                .queue_index = vq->index,
                .size = vq->size,
                .avail_idx = vq->avail_idx,
                .last_used = vq->last_used,
                .mode = o->mode,
                .descs_per_slot = descs_per_slot,
                .qd = (uint32_t) o->qd,
                .bs = (uint32_t) o->bs,
                .count = (uint32_t) o->count,
        };
}

/* Lets CPL3 reach the user page, the DMA arena and the notification BAR while the loop runs. */
static void run_at_cpl3(struct virtio_dev *dev)
{
        uint64_t *pde = &boot_pd[USER_BASE >> 21];
        const struct pci_bar *bar = &dev->bars[dev->notify_bar];

        *pde |= PTE_USER;
        dma_set_user(true);
        (void) mmio_map(bar->addr, bar->size, true);

        enter_user(bench_main, USER_STACK_TOP - 8);

        (void) mmio_map(bar->addr, bar->size, false);
        dma_set_user(false);
        *pde &= ~(uint64_t) PTE_USER;
        write_cr3(read_cr3());
}

const char *bench_run(struct virtio_dev *dev, const char *name)
{
        const struct bench_job *j = &bench_job;

        print("%s: start mode=%s qd=%u bs=%u count=%u\n", name, bench_mode_name(j->mode), j->qd, j->bs,
              j->count);
        run_at_cpl3(dev);
        print("%s: end completed=%u errors=%u notifications=%lu%s\n", name, j->completed, j->errors,
              j->notifications, j->stalled ? " stalled" : "");
        if (j->stalled)
                return "the device stopped completing requests";
        if (j->errors)
                return "some requests failed";
        if (j->completed != j->count)
                return "fewer requests completed than asked for";
        return virtio_reset(dev);
}
