/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Cost of the virtqueue hot path: a fake driver keeps a 256-entry queue full of prepared chains and the
 * device side pops and pushes them, one million elements per case. The driver's share is one ring
 * entry per element and one index store per batch, so the figure is essentially virtq_pop() +
 * virtq_push() (+ virtq_needs_notification() where named).
 *
 *   bench-virtqueue [ELEMENTS]
 */
#include <time.h>

#include "fake-driver.h"
#include "virtqueue.h"

#define QSIZE     256
#define DESC_GPA  UINT64_C(0x100000)
#define AVAIL_GPA UINT64_C(0x200000)
#define USED_GPA  UINT64_C(0x300000)
#define BUF_GPA   UINT64_C(0x400000)
#define TABLE_GPA UINT64_C(0x800000)

typedef enum Shape {
        SHAPE_ONE,      /* one writable descriptor */
        SHAPE_THREE,    /* readable header, readable data, writable status: a block request */
        SHAPE_INDIRECT, /* the same three in an indirect table */
} Shape;

static double now_ns(void)
{
        struct timespec t;

        clock_gettime(CLOCK_MONOTONIC, &t);
        return (double) t.tv_sec * 1e9 + (double) t.tv_nsec;
}

static void die(const char *what, int r)
{
        fprintf(stderr, "%s: %s\n", what, strerror(r < 0 ? -r : r));
        exit(EXIT_FAILURE);
}

/* Lays out chains and returns how many there are; heads[] gets their head indices. */
static unsigned prepare(const FakeDriver *d, Shape shape, uint16_t *heads)
{
        const FakeSeg request[] = {
                { BUF_GPA, 16, false },
                { BUF_GPA + 0x1000, 4096, false },
                { BUF_GPA + 0x2000, 1, true },
        };
        unsigned n = 0;

        switch (shape) {
        case SHAPE_ONE:
                for (unsigned i = 0; i < QSIZE; i++) {
                        fake_desc(d, (uint16_t) i, BUF_GPA + i * 0x1000, 1500, VIRTQ_DESC_F_WRITE, 0);
                        heads[n++] = (uint16_t) i;
                }
                break;
        case SHAPE_THREE:
                for (unsigned i = 0; i + 3 <= QSIZE; i += 3) {
                        fake_chain(d, (uint16_t) i, request, 3);
                        heads[n++] = (uint16_t) i;
                }
                break;
        case SHAPE_INDIRECT:
                for (unsigned i = 0; i < QSIZE; i++) {
                        uint64_t table = TABLE_GPA + i * 64;

                        fake_chain_at(d, table, 3, 0, request, 3);
                        fake_desc(d, (uint16_t) i, table, 3 * 16, VIRTQ_DESC_F_INDIRECT, 0);
                        heads[n++] = (uint16_t) i;
                }
                break;
        }
        return n;
}

static double run(GuestMemory *mem, Shape shape, bool notify, bool batch, unsigned long total)
{
        _cleanup_(virtq_elem_freep) VirtqElem *elem = NULL;
        FakeDriver d = { .mem = mem, .size = QSIZE, .desc = DESC_GPA, .avail = AVAIL_GPA, .used = USED_GPA };
        uint64_t features = VIRTIO_FEATURE(VIRTIO_F_VERSION_1) |
                            VIRTIO_FEATURE(VIRTIO_F_RING_INDIRECT_DESC) |
                            VIRTIO_FEATURE(VIRTIO_F_RING_EVENT_IDX);
        VirtqUsedElem used[QSIZE];
        uint16_t heads[QSIZE];
        unsigned long done = 0;
        unsigned n_chains;
        Virtqueue vq;
        double t0, t1;
        int r;

        memset(mem->host, 0, 16 * MiB);
        r = virtq_elem_new(VIRTQ_SEGMENTS_DEFAULT, &elem);
        if (r < 0)
                die("virtq_elem_new", r);
        r = virtq_init(&vq, 0, QSIZE, 0);
        if (r >= 0)
                r = virtq_set_addresses(&vq, DESC_GPA, AVAIL_GPA, USED_GPA);
        if (r >= 0)
                r = virtq_set_features(&vq, features);
        if (r >= 0)
                r = virtq_enable(&vq, mem, NULL);
        if (r < 0)
                die("virtqueue setup", r);
        n_chains = prepare(&d, shape, heads);
        fake_set_used_event(&d, 0);

        t0 = now_ns();
        while (done < total) {
                unsigned n = 0;

                /* The driver offers every chain it has. */
                for (unsigned i = 0; i < n_chains; i++)
                        fake_avail_entry(&d, (uint16_t) (d.avail_idx + i), heads[i]);
                fake_set_avail_idx(&d, (uint16_t) (d.avail_idx + n_chains));

                while ((r = virtq_pop(&vq, mem, elem)) > 0) {
                        if (batch)
                                used[n++] = (VirtqUsedElem) { .id = elem->head, .len = elem->in_bytes };
                        else {
                                r = virtq_push(&vq, mem, elem->head, elem->in_bytes);
                                if (r < 0)
                                        die("virtq_push", r);
                                if (notify)
                                        (void) virtq_needs_notification(&vq, mem);
                        }
                        done++;
                }
                if (r < 0)
                        die("virtq_pop", r);
                if (batch) {
                        r = virtq_push_batch(&vq, mem, used, n);
                        if (r < 0)
                                die("virtq_push_batch", r);
                        if (notify)
                                (void) virtq_needs_notification(&vq, mem);
                }
        }
        t1 = now_ns();
        return (t1 - t0) / (double) done;
}

int main(int argc, char *argv[])
{
        _cleanup_(guest_memory_freep) GuestMemory *mem = NULL;
        unsigned long total = argc > 1 ? strtoul(argv[1], NULL, 0) : 1000000;
        static const struct {
                const char *name;
                Shape shape;
                bool notify, batch;
        } cases[] = {
                { "1 descriptor, pop + push", SHAPE_ONE, false, false },
                { "1 descriptor, pop + push + needs_notification", SHAPE_ONE, true, false },
                { "1 descriptor, pop + batched push", SHAPE_ONE, false, true },
                { "3 descriptors, pop + push", SHAPE_THREE, false, false },
                { "3 descriptors, pop + push + needs_notification", SHAPE_THREE, true, false },
                { "3 descriptors indirect, pop + push", SHAPE_INDIRECT, false, false },
        };
        int r;

        r = guest_memory_new(16 * MiB, false, false, true, &mem);
        if (r < 0)
                die("guest_memory_new", r);
        if (total == 0)
                total = 1;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                double best = 1e300;

                /* One warm-up run, then the best of three. */
                (void) run(mem, cases[i].shape, cases[i].notify, cases[i].batch, total / 10 + 1);
                for (unsigned k = 0; k < 3; k++)
                        best = MIN(best, run(mem, cases[i].shape, cases[i].notify, cases[i].batch, total));
                printf("%-50s %7.1f ns/element\n", cases[i].name, best);
        }
        return EXIT_SUCCESS;
}
