/* SPDX-License-Identifier: Apache-2.0 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <inttypes.h>
#include <pthread.h>
#include <sys/mman.h>
#include <time.h>

#include "fake-driver.h"
#include "guarded-memory.h"
#include "log.h"
#include "virtqueue.h"

/* Guest physical layout the fake driver uses: rings for any queue size, buffers, indirect tables. */
#define MEM_SIZE   (16 * MiB)
#define DESC_GPA   UINT64_C(0x100000)
#define AVAIL_GPA  UINT64_C(0x200000)
#define USED_GPA   UINT64_C(0x300000)
#define BUF_GPA    UINT64_C(0x400000)
#define TABLE_GPA  UINT64_C(0x800000)
#define TABLE2_GPA UINT64_C(0x900000)

/* More than 3 GiB: RAM below the 32-bit hole and 16 MiB above 4 GiB. */
#define BIG_MEM_SIZE (GUEST_MEM_32BIT_HOLE_START + 16 * MiB)

#define F_INDIRECT   VIRTIO_FEATURE(VIRTIO_F_RING_INDIRECT_DESC)
#define F_EVENT_IDX  VIRTIO_FEATURE(VIRTIO_F_RING_EVENT_IDX)

static GuestMemory *mem;
static bool mem_guarded;
static Virtqueue vq;
static FakeDriver drv;
static VirtqElem *elem;

static void teardown(void)
{
        elem = virtq_elem_free(elem);
        if (mem_guarded)
                guarded_memory_free(mem);
        else
                guest_memory_free(mem);
        mem = NULL;
}

static void configure(uint16_t size, uint64_t features, uint64_t desc, uint64_t avail, uint64_t used)
{
        const char *reason = NULL;
        int r;

        cr_assert(eq(int, virtq_set_size(&vq, size), 0));
        cr_assert(eq(int, virtq_set_addresses(&vq, desc, avail, used), 0));
        cr_assert(eq(int, virtq_set_features(&vq, features | VIRTIO_FEATURE(VIRTIO_F_VERSION_1)), 0));
        r = virtq_enable(&vq, mem, &reason);
        cr_assert(eq(int, r, 0), "virtq_enable: %s", strna(reason));
        cr_assert(zero(ptr, (void *) reason));
        drv = (FakeDriver) { .mem = mem, .size = size, .desc = desc, .avail = avail, .used = used };
}

/* A queue of the given size on fresh guest memory of mem_size bytes, rings at the usual places. */
static void start_with(uint64_t mem_size, uint16_t size, uint64_t features, unsigned max_segments)
{
        if (!mem)
                cr_assert(eq(int, guest_memory_new(mem_size, false, false, false, &mem), 0));
        cr_assert(eq(int, virtq_init(&vq, 3, VIRTQ_SIZE_MAX, max_segments), 0));
        configure(size, features, DESC_GPA, AVAIL_GPA, USED_GPA);
        if (!elem)
                cr_assert(eq(int, virtq_elem_new(VIRTQ_SEGMENTS_DEFAULT, &elem), 0));
}

static void start(uint16_t size, uint64_t features)
{
        start_with(MEM_SIZE, size, features, 0);
}

/* Guest memory with guard pages: 1 MiB at 0 and 1 MiB at 4 GiB. */
static void start_guarded(uint16_t size, uint64_t features)
{
        mem = guarded_memory_new(1 * MiB, 1 * MiB);
        cr_assert(not(zero(ptr, mem)));
        mem_guarded = true;
        cr_assert(eq(int, virtq_init(&vq, 0, VIRTQ_SIZE_MAX, 0), 0));
        configure(size, features, 0x10000, 0x20000, 0x30000);
        cr_assert(eq(int, virtq_elem_new(VIRTQ_SEGMENTS_DEFAULT, &elem), 0));
}

static uint8_t *host(uint64_t gpa)
{
        uint8_t *p = guest_memory_ptr(mem, gpa, 1);
        cr_assert(not(zero(ptr, p)));
        return p;
}

/* Sets both sides' indices to idx, as if that many chains had gone through the queue. */
static void fast_forward(uint16_t idx)
{
        vq.last_avail_idx = vq.avail_idx_shadow = vq.used_idx = idx;
        fake_set_avail_idx(&drv, idx);
}

static void pop_ok(void)
{
        cr_assert(eq(int, virtq_pop(&vq, mem, elem), 1), "broken: %s", strna(virtq_broken_reason(&vq)));
}

static void assert_iov(const struct iovec *iov, uint64_t gpa, uint32_t len)
{
        cr_assert(eq(ptr, iov->iov_base, guest_memory_ptr(mem, gpa, len)));
        cr_assert(eq(sz, iov->iov_len, (size_t) len));
}

/*
 * What guest memory looks like, cheaply: which pages are resident, and a copy of those. A page the device
 * reads or writes for the first time becomes resident, and a resident page it writes changes, so
 * comparing two snapshots shows any access outside what the driver had set up.
 */
#define PAGE 4096u

typedef struct Snapshot {
        uint64_t len;
        uint8_t *resident;
        uint8_t *copy;
} Snapshot;

static void snapshot_free(Snapshot *s)
{
        free(s->resident);
        free(s->copy);
}

static void snapshot_take(Snapshot *s)
{
        s->len = MIN((uint64_t) MEM_SIZE, guest_memory_low_end(mem));
        s->resident = malloc(s->len / PAGE);
        s->copy = malloc(s->len);
        cr_assert(s->resident && s->copy);
        cr_assert(eq(int, mincore(mem->host, s->len, s->resident), 0));
        for (uint64_t i = 0; i < s->len / PAGE; i++)
                if (s->resident[i] & 1)
                        memcpy(s->copy + i * PAGE, mem->host + i * PAGE, PAGE);
}

static void snapshot_compare(const Snapshot *s)
{
        _cleanup_free_ uint8_t *resident = malloc(s->len / PAGE);

        cr_assert(not(zero(ptr, resident)));
        cr_assert(eq(int, mincore(mem->host, s->len, resident), 0));
        for (uint64_t i = 0; i < s->len / PAGE; i++) {
                if (!(s->resident[i] & 1))
                        cr_assert(not(resident[i] & 1), "guest page %#" PRIx64 " accessed", i * PAGE);
                else
                        cr_assert(eq(int, memcmp(s->copy + i * PAGE, mem->host + i * PAGE, PAGE), 0),
                                  "guest page %#" PRIx64 " changed", i * PAGE);
        }
}

/*
 * The next pop must fail with error and break the queue without writing to guest memory, and everything
 * after must fail fast the same way.
 */
static void expect_broken(int error)
{
        _cleanup_(snapshot_free) Snapshot snap = {};
        uint16_t last = vq.last_avail_idx;

        snapshot_take(&snap);

        cr_assert(eq(int, virtq_pop(&vq, mem, elem), error), "broken: %s", strna(virtq_broken_reason(&vq)));
        cr_assert(virtq_is_broken(&vq));
        cr_assert(not(zero(ptr, (void *) virtq_broken_reason(&vq))));
        cr_assert(eq(u16, vq.last_avail_idx, last));

        cr_assert(eq(int, virtq_pop(&vq, mem, elem), error));
        cr_assert(eq(int, virtq_push(&vq, mem, 0, 0), error));
        cr_assert(eq(int, virtq_push_batch(&vq, mem, NULL, 0), error));
        cr_assert(eq(int, virtq_set_notification(&vq, mem, true), error));
        cr_assert(not(virtq_needs_notification(&vq, mem)));
        cr_assert(not(virtq_has_pending(&vq, mem)));
        snapshot_compare(&snap);
}

/* ---- Configuration ---- */

TestSuite(virtq_config, .fini = teardown, .timeout = 60);

Test(virtq_config, init)
{
        cr_assert(eq(int, virtq_init(&vq, 0, 0, 0), -EINVAL));
        cr_assert(eq(int, virtq_init(&vq, 0, 3, 0), -EINVAL));
        cr_assert(eq(int, virtq_init(&vq, 0, 65535, 0), -EINVAL));
        cr_assert(eq(int, virtq_init(&vq, 0, 256, VIRTQ_SEGMENTS_LIMIT + 1), -EINVAL));
        cr_assert(eq(int, virtq_init(&vq, 7, 256, 0), 0));
        cr_assert(eq(u16, vq.index, 7));
        cr_assert(eq(u16, vq.size, 256));
        cr_assert(eq(uint, vq.max_segments, VIRTQ_SEGMENTS_DEFAULT));
        cr_assert(not(vq.enabled));
        cr_assert(not(virtq_is_broken(&vq)));
        cr_assert(zero(ptr, (void *) virtq_broken_reason(&vq)));
        cr_assert(eq(int, virtq_init(&vq, 0, 32768, 16), 0));
        cr_assert(eq(uint, vq.max_segments, 16));
        cr_assert(eq(int, virtq_init(&vq, 0, 1, 0), 0));
}

Test(virtq_config, elem_new)
{
        VirtqElem *e = (VirtqElem *) 0x1;

        cr_assert(eq(int, virtq_elem_new(0, &e), -EINVAL));
        cr_assert(eq(int, virtq_elem_new(VIRTQ_SEGMENTS_LIMIT + 1, &e), -EINVAL));
        cr_assert(eq(ptr, e, (void *) 0x1));
        cr_assert(eq(int, virtq_elem_new(3, &e), 0));
        cr_assert(eq(uint, e->capacity, 3));
        cr_assert(zero(ptr, virtq_elem_free(e)));
        cr_assert(zero(ptr, virtq_elem_free(NULL)));
}

struct enable_case {
        uint16_t size;
        uint64_t desc, avail, used;
        int error;
};

static void check_enable_fails(const struct enable_case *c)
{
        const char *reason = NULL;

        cr_assert(eq(int, virtq_init(&vq, 1, 256, 0), 0));
        cr_assert(eq(int, virtq_set_size(&vq, c->size), 0));
        cr_assert(eq(int, virtq_set_addresses(&vq, c->desc, c->avail, c->used), 0));
        cr_assert(eq(int, virtq_enable(&vq, mem, &reason), c->error),
                  "size %u desc %#" PRIx64 " avail %#" PRIx64 " used %#" PRIx64, c->size, c->desc, c->avail,
                  c->used);
        cr_assert(not(zero(ptr, (void *) reason)));
        cr_assert(not(vq.enabled));
        cr_assert(not(virtq_is_broken(&vq)));
        cr_assert(eq(int, virtq_pop(&vq, mem, elem), 0));
}

Test(virtq_config, enable_rejects_bad_sizes)
{
        static const uint16_t sizes[] = { 0, 3, 6, 100, 255, 257, 384, 512, 1024, 32768, 65535 };

        cr_assert(eq(int, guest_memory_new(MEM_SIZE, false, false, false, &mem), 0));
        cr_assert(eq(int, virtq_elem_new(4, &elem), 0));
        for (size_t i = 0; i < ELEMENTSOF(sizes); i++)
                check_enable_fails(&(struct enable_case) {
                        sizes[i], DESC_GPA, AVAIL_GPA, USED_GPA, -EINVAL,
                });
}

Test(virtq_config, enable_rejects_misaligned_rings)
{
        static const struct enable_case cases[] = {
                { 8, DESC_GPA + 8, AVAIL_GPA, USED_GPA, -EINVAL },
                { 8, DESC_GPA + 1, AVAIL_GPA, USED_GPA, -EINVAL },
                { 8, DESC_GPA, AVAIL_GPA + 1, USED_GPA, -EINVAL },
                { 8, DESC_GPA, AVAIL_GPA, USED_GPA + 2, -EINVAL },
                { 8, DESC_GPA, AVAIL_GPA, USED_GPA + 1, -EINVAL },
        };

        cr_assert(eq(int, guest_memory_new(MEM_SIZE, false, false, false, &mem), 0));
        cr_assert(eq(int, virtq_elem_new(4, &elem), 0));
        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                check_enable_fails(&cases[i]);
}

Test(virtq_config, enable_rejects_rings_outside_ram)
{
        static const struct enable_case cases[] = {
                /* Past the end, straddling the end, wrapping around. */
                { 8, MEM_SIZE, AVAIL_GPA, USED_GPA, -EFAULT },
                { 8, MEM_SIZE - 64, AVAIL_GPA, USED_GPA, -EFAULT },
                { 8, UINT64_MAX - 15, AVAIL_GPA, USED_GPA, -EFAULT },
                { 8, DESC_GPA, MEM_SIZE - 2, USED_GPA, -EFAULT },
                { 8, DESC_GPA, MEM_SIZE - 20, USED_GPA, -EFAULT },
                { 8, DESC_GPA, UINT64_MAX - 1, USED_GPA, -EFAULT },
                { 8, DESC_GPA, AVAIL_GPA, MEM_SIZE - 68, -EFAULT },
                { 8, DESC_GPA, AVAIL_GPA, UINT64_MAX - 3, -EFAULT },
                { 8, DESC_GPA, AVAIL_GPA, GUEST_MEM_HIGH_START, -EFAULT },
        };

        cr_assert(eq(int, guest_memory_new(MEM_SIZE, false, false, false, &mem), 0));
        cr_assert(eq(int, virtq_elem_new(4, &elem), 0));
        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                check_enable_fails(&cases[i]);
}

Test(virtq_config, rings_exactly_at_the_end_of_ram)
{
        /* The available ring of a size 8 queue is 22 bytes and ends on the last byte of RAM. */
        cr_assert(eq(int, guest_memory_new(MEM_SIZE, false, false, false, &mem), 0));
        cr_assert(eq(int, virtq_init(&vq, 0, 8, 0), 0));
        configure(8, 0, MEM_SIZE - 256, MEM_SIZE - 22, MEM_SIZE - 104);
        cr_assert(eq(int, virtq_elem_new(4, &elem), 0));
        fake_desc(&drv, 7, BUF_GPA, 16, 0, 0);
        fake_kick(&drv, 7);
        pop_ok();
        cr_assert(eq(int, virtq_push(&vq, mem, elem->head, 0), 0));
        cr_assert(eq(u16, fake_used_idx(&drv), 1));
}

Test(virtq_config, rings_around_the_32bit_hole)
{
        static const struct enable_case cases[] = {
                { 256, GUEST_MEM_32BIT_HOLE_START - 2048, AVAIL_GPA, USED_GPA, -EFAULT },
                { 256, GUEST_MEM_32BIT_HOLE_START, AVAIL_GPA, USED_GPA, -EFAULT },
                { 256, GUEST_MEM_HIGH_START - 16, AVAIL_GPA, USED_GPA, -EFAULT },
                { 256, DESC_GPA, AVAIL_GPA, GUEST_MEM_HIGH_START + 16 * MiB - 1024, -EFAULT },
        };

        cr_assert(eq(int, guest_memory_new(BIG_MEM_SIZE, false, false, false, &mem), 0));
        cr_assert(eq(int, virtq_elem_new(4, &elem), 0));
        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                check_enable_fails(&cases[i]);

        /* Just below the hole and in high memory is fine. */
        cr_assert(eq(int, virtq_init(&vq, 0, 256, 0), 0));
        configure(256, 0, GUEST_MEM_32BIT_HOLE_START - 4096, GUEST_MEM_HIGH_START,
                  GUEST_MEM_HIGH_START + 4096);
        fake_desc(&drv, 0, GUEST_MEM_HIGH_START + 8192, 512, VIRTQ_DESC_F_WRITE, 0);
        fake_kick(&drv, 0);
        pop_ok();
        assert_iov(&elem->in[0], GUEST_MEM_HIGH_START + 8192, 512);
        cr_assert(eq(int, virtq_push(&vq, mem, 0, 512), 0));
        cr_assert(eq(u16, fake_used_idx(&drv), 1));
}

Test(virtq_config, size_larger_than_the_maximum)
{
        const char *reason = NULL;

        cr_assert(eq(int, guest_memory_new(MEM_SIZE, false, false, false, &mem), 0));
        cr_assert(eq(int, virtq_init(&vq, 0, 128, 0), 0));
        cr_assert(eq(int, virtq_set_size(&vq, 256), 0));
        cr_assert(eq(int, virtq_set_addresses(&vq, DESC_GPA, AVAIL_GPA, USED_GPA), 0));
        cr_assert(eq(int, virtq_enable(&vq, mem, &reason), -EINVAL));
        cr_assert(not(zero(ptr, (void *) reason)));
        cr_assert(eq(int, virtq_set_size(&vq, 128), 0));
        cr_assert(eq(int, virtq_enable(&vq, mem, NULL), 0));
}

Test(virtq_config, busy_while_enabled)
{
        const char *reason = NULL;

        start(8, 0);
        cr_assert(eq(int, virtq_set_size(&vq, 4), -EBUSY));
        cr_assert(eq(int, virtq_set_addresses(&vq, 0, 0, 0), -EBUSY));
        cr_assert(eq(int, virtq_set_features(&vq, F_INDIRECT), -EBUSY));
        cr_assert(eq(int, virtq_enable(&vq, mem, &reason), -EBUSY));
        cr_assert(not(zero(ptr, (void *) reason)));
        cr_assert(eq(u16, vq.size, 8));
        cr_assert(not(vq.indirect));

        virtq_reset(&vq);
        cr_assert(not(vq.enabled));
        cr_assert(eq(u16, vq.size, VIRTQ_SIZE_MAX));
        cr_assert(eq(u64, vq.desc_addr, 0));
        cr_assert(eq(int, virtq_set_size(&vq, 4), 0));
}

Test(virtq_config, disabled_queue)
{
        cr_assert(eq(int, guest_memory_new(MEM_SIZE, false, false, false, &mem), 0));
        cr_assert(eq(int, virtq_elem_new(4, &elem), 0));
        cr_assert(eq(int, virtq_init(&vq, 0, 8, 0), 0));
        cr_assert(eq(int, virtq_pop(&vq, mem, elem), 0));
        cr_assert(eq(int, virtq_push(&vq, mem, 0, 0), -ENODEV));
        cr_assert(eq(int, virtq_set_notification(&vq, mem, true), -ENODEV));
        cr_assert(not(virtq_needs_notification(&vq, mem)));
        cr_assert(not(virtq_has_pending(&vq, mem)));
        cr_assert(not(virtq_is_broken(&vq)));
}

Test(virtq_config, features)
{
        cr_assert(eq(int, virtq_init(&vq, 0, 8, 0), 0));
        cr_assert(eq(int, virtq_set_features(&vq, F_INDIRECT | F_EVENT_IDX), 0));
        cr_assert(vq.indirect);
        cr_assert(vq.event_idx);
        cr_assert(eq(int, virtq_set_features(&vq, VIRTIO_FEATURE(VIRTIO_F_VERSION_1)), 0));
        cr_assert(not(vq.indirect));
        cr_assert(not(vq.event_idx));
        cr_assert(virtio_has_feature(F_INDIRECT, VIRTIO_F_RING_INDIRECT_DESC));
        cr_assert(not(virtio_has_feature(F_INDIRECT, 64)));
}

/* ---- Taking and returning chains ---- */

TestSuite(virtq_pop, .fini = teardown, .timeout = 60);

Test(virtq_pop, empty)
{
        start(8, 0);
        cr_assert(eq(int, virtq_pop(&vq, mem, elem), 0));
        cr_assert(not(virtq_has_pending(&vq, mem)));
        cr_assert(not(virtq_is_broken(&vq)));
}

Test(virtq_pop, one_readable_descriptor)
{
        start(8, 0);
        fake_desc(&drv, 5, BUF_GPA, 100, 0, 0);
        fake_kick(&drv, 5);
        cr_assert(virtq_has_pending(&vq, mem));
        pop_ok();
        cr_assert(eq(u16, elem->head, 5));
        cr_assert(eq(uint, elem->n_out, 1));
        cr_assert(eq(uint, elem->n_in, 0));
        cr_assert(eq(u32, elem->out_bytes, 100));
        cr_assert(eq(u32, elem->in_bytes, 0));
        cr_assert(eq(ptr, elem->out, elem->iov));
        assert_iov(&elem->out[0], BUF_GPA, 100);
        cr_assert(eq(int, virtq_pop(&vq, mem, elem), 0));
        cr_assert(not(virtq_has_pending(&vq, mem)));
}

Test(virtq_pop, mixed_chain)
{
        static const FakeSeg segs[] = {
                { BUF_GPA, 16, false },
                { BUF_GPA + 0x1000, 4096, false },
                { BUF_GPA + 0x3000, 512, true },
                { BUF_GPA + 0x5000, 1, true },
        };

        start(8, 0);
        /* Wraps around the end of the table: descriptors 6, 7, 0, 1. */
        fake_chain(&drv, 6, segs, ELEMENTSOF(segs));
        fake_kick(&drv, 6);
        pop_ok();
        cr_assert(eq(u16, elem->head, 6));
        cr_assert(eq(uint, elem->n_out, 2));
        cr_assert(eq(uint, elem->n_in, 2));
        cr_assert(eq(u32, elem->out_bytes, 16 + 4096));
        cr_assert(eq(u32, elem->in_bytes, 513));
        cr_assert(eq(ptr, elem->in, elem->iov + 2));
        for (size_t i = 0; i < ELEMENTSOF(segs); i++)
                assert_iov(&elem->iov[i], segs[i].addr, segs[i].len);
}

Test(virtq_pop, writable_only)
{
        static const FakeSeg segs[] = { { BUF_GPA, 64, true }, { BUF_GPA + 64, 64, true } };

        start(4, 0);
        fake_chain(&drv, 2, segs, 2);
        fake_kick(&drv, 2);
        pop_ok();
        cr_assert(eq(uint, elem->n_out, 0));
        cr_assert(eq(uint, elem->n_in, 2));
        cr_assert(eq(u32, elem->in_bytes, 128));
        cr_assert(eq(ptr, elem->in, elem->iov));
}

Test(virtq_pop, unknown_flags_are_ignored)
{
        start(4, 0);
        fake_desc(&drv, 0, BUF_GPA, 8, 0xfff8 | VIRTQ_DESC_F_NEXT, 1);
        fake_desc(&drv, 1, BUF_GPA, 8, 0xfff8 | VIRTQ_DESC_F_WRITE, 0);
        fake_kick(&drv, 0);
        pop_ok();
        cr_assert(eq(uint, elem->n_out, 1));
        cr_assert(eq(uint, elem->n_in, 1));
}

Test(virtq_pop, chain_as_long_as_the_queue)
{
        FakeSeg segs[16];

        start(16, 0);
        for (size_t i = 0; i < ELEMENTSOF(segs); i++)
                segs[i] = (FakeSeg) { BUF_GPA + i * 0x100, 0x100, i >= 8 };
        fake_chain(&drv, 3, segs, ELEMENTSOF(segs));
        fake_kick(&drv, 3);
        pop_ok();
        cr_assert(eq(uint, elem->n_out, 8));
        cr_assert(eq(uint, elem->n_in, 8));
}

Test(virtq_pop, several_then_push_out_of_order)
{
        uint32_t id, len;

        start(8, 0);
        for (uint16_t i = 0; i < 3; i++) {
                fake_desc(&drv, i, BUF_GPA + i * 0x1000, 0x1000, VIRTQ_DESC_F_WRITE, 0);
                fake_kick(&drv, i);
        }
        for (uint16_t i = 0; i < 3; i++) {
                pop_ok();
                cr_assert(eq(u16, elem->head, i));
        }
        cr_assert(eq(int, virtq_push(&vq, mem, 2, 20), 0));
        cr_assert(eq(int, virtq_push(&vq, mem, 0, 0), 0));
        cr_assert(eq(u16, fake_used_idx(&drv), 2));
        fake_used_elem(&drv, 0, &id, &len);
        cr_assert(eq(u32, id, 2));
        cr_assert(eq(u32, len, 20));
        fake_used_elem(&drv, 1, &id, &len);
        cr_assert(eq(u32, id, 0));
        cr_assert(eq(u32, len, 0));
        cr_assert(eq(int, virtq_push(&vq, mem, 1, 4096), 0));
        cr_assert(eq(u16, fake_used_idx(&drv), 3));
        cr_assert(eq(u16, vq.used_idx, 3));
}

Test(virtq_pop, push_writes_only_the_used_ring)
{
        _cleanup_(snapshot_free) Snapshot snap = {};
        uint64_t used_bytes = virtq_used_ring_bytes(8);
        uint32_t id, len;

        start(8, 0);
        memset(host(USED_GPA - 64), 0xa5, 64);
        memset(host(USED_GPA + used_bytes), 0x5a, 64);
        fake_desc(&drv, 7, BUF_GPA, 32, VIRTQ_DESC_F_WRITE, 0);
        fake_kick(&drv, 7);
        pop_ok();
        snapshot_take(&snap);
        cr_assert(eq(int, virtq_push(&vq, mem, 7, 32), 0));
        cr_assert(eq(u16, fake_used_idx(&drv), 1));
        fake_used_elem(&drv, 0, &id, &len);
        cr_assert(eq(u32, id, 7));
        cr_assert(eq(u32, len, 32));
        /* Apart from the used index (bytes 2..3) and the first used element (bytes 4..11), nothing. */
        memcpy(snap.copy + USED_GPA + 2, mem->host + USED_GPA + 2, 10);
        snapshot_compare(&snap);
}

Test(virtq_pop, push_batch)
{
        VirtqUsedElem used[4];
        uint32_t id, len;

        start(4, 0);
        for (uint16_t i = 0; i < 4; i++) {
                fake_desc(&drv, i, BUF_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
                fake_kick(&drv, i);
                pop_ok();
                used[i] = (VirtqUsedElem) { .id = 3 - i, .len = 100 + i };
        }
        cr_assert(eq(int, virtq_push_batch(&vq, mem, used, 4), 0));
        cr_assert(eq(u16, fake_used_idx(&drv), 4));
        for (uint16_t i = 0; i < 4; i++) {
                fake_used_elem(&drv, i, &id, &len);
                cr_assert(eq(u32, id, 3u - i));
                cr_assert(eq(u32, len, 100u + i));
        }
        cr_assert(eq(int, virtq_push_batch(&vq, mem, used, 0), 0));
        cr_assert(eq(u16, fake_used_idx(&drv), 4));
}

Test(virtq_pop, push_errors_are_device_bugs)
{
        VirtqUsedElem used[2] = { { .id = 0, .len = 1 }, { .id = 4, .len = 1 } };

        start(4, 0);
        /* Nothing in flight. */
        cr_assert(eq(int, virtq_push(&vq, mem, 0, 0), -EINVAL));
        fake_desc(&drv, 0, BUF_GPA, 8, 0, 0);
        fake_kick(&drv, 0);
        fake_kick(&drv, 0);
        pop_ok();
        pop_ok();
        cr_assert(eq(int, virtq_push(&vq, mem, 4, 0), -EINVAL));
        cr_assert(eq(int, virtq_push(&vq, mem, UINT16_MAX, 0), -EINVAL));
        /* A batch with one bad head writes nothing. */
        cr_assert(eq(int, virtq_push_batch(&vq, mem, used, 2), -EINVAL));
        cr_assert(eq(u16, fake_used_idx(&drv), 0));
        cr_assert(eq(u16, vq.used_idx, 0));
        used[1].id = 0;
        cr_assert(eq(int, virtq_push_batch(&vq, mem, used, 2), 0));
        cr_assert(eq(int, virtq_push(&vq, mem, 0, 0), -EINVAL));
        cr_assert(not(virtq_is_broken(&vq)));
        cr_assert(eq(u16, fake_used_idx(&drv), 2));
}

Test(virtq_pop, indices_wrap_around)
{
        uint32_t id, len;

        start(4, 0);
        fake_desc(&drv, 1, BUF_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
        fake_desc(&drv, 2, BUF_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
        for (unsigned i = 0; i < 70000; i++) {
                uint16_t h = 1 + i % 2;

                fake_kick(&drv, h);
                pop_ok();
                cr_assert(eq(u16, elem->head, h));
                cr_assert(eq(int, virtq_push(&vq, mem, h, i), 0));
        }
        cr_assert(eq(u16, fake_used_idx(&drv), (uint16_t) 70000));
        fake_used_elem(&drv, (uint16_t) (70000 - 1), &id, &len);
        cr_assert(eq(u32, id, 2));
        cr_assert(eq(u32, len, 69999));
        cr_assert(eq(int, virtq_pop(&vq, mem, elem), 0));
}

Test(virtq_pop, largest_queue)
{
        start(VIRTQ_SIZE_MAX, 0);
        fast_forward(VIRTQ_SIZE_MAX - 1);
        fake_desc(&drv, VIRTQ_SIZE_MAX - 1, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 0);
        fake_desc(&drv, 0, BUF_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
        fake_kick(&drv, VIRTQ_SIZE_MAX - 1);
        pop_ok();
        cr_assert(eq(u16, elem->head, VIRTQ_SIZE_MAX - 1));
        cr_assert(eq(int, virtq_push(&vq, mem, elem->head, 8), 0));
        cr_assert(eq(u16, fake_used_idx(&drv), VIRTQ_SIZE_MAX));
}

Test(virtq_pop, in_flight_up_to_the_queue_size)
{
        start(4, 0);
        fake_desc(&drv, 0, BUF_GPA, 8, 0, 0);
        for (unsigned i = 0; i < 4; i++)
                fake_kick(&drv, 0);
        for (unsigned i = 0; i < 4; i++)
                pop_ok();
        cr_assert(eq(int, virtq_pop(&vq, mem, elem), 0));
        cr_assert(eq(int, virtq_push(&vq, mem, 0, 0), 0));
        fake_kick(&drv, 0);
        pop_ok();
}

Test(virtq_pop, segment_limit)
{
        FakeSeg segs[5];

        start_with(MEM_SIZE, 8, 0, 4);
        for (size_t i = 0; i < ELEMENTSOF(segs); i++)
                segs[i] = (FakeSeg) { BUF_GPA, 8, false };
        fake_chain(&drv, 0, segs, 4);
        fake_kick(&drv, 0);
        pop_ok();
        cr_assert(eq(uint, elem->n_out, 4));
        fake_chain(&drv, 0, segs, 5);
        fake_kick(&drv, 0);
        expect_broken(-E2BIG);
}

Test(virtq_pop, element_capacity_limits_too)
{
        static const FakeSeg segs[] = { { BUF_GPA, 8, false }, { BUF_GPA, 8, false }, { BUF_GPA, 8, true } };

        cr_assert(eq(int, virtq_elem_new(2, &elem), 0));
        start(8, 0);
        fake_chain(&drv, 0, segs, 2);
        fake_kick(&drv, 0);
        pop_ok();
        fake_chain(&drv, 0, segs, 3);
        fake_kick(&drv, 0);
        expect_broken(-E2BIG);
}

Test(virtq_pop, total_bytes_up_to_4g)
{
        /* Segments may overlap: 256 descriptors of all 16 MiB of RAM describe 4 GiB. */
        start(8, F_INDIRECT);
        for (uint32_t i = 0; i < 256; i++)
                fake_desc_at(&drv, TABLE_GPA, i, 0, i < 255 ? MEM_SIZE : MEM_SIZE - 1,
                             i < 255 ? VIRTQ_DESC_F_NEXT : 0, (uint16_t) (i + 1));
        fake_desc(&drv, 0, TABLE_GPA, 256 * 16, VIRTQ_DESC_F_INDIRECT, 0);
        fake_kick(&drv, 0);
        pop_ok();
        cr_assert(eq(uint, elem->n_out, 256));
        cr_assert(eq(u32, elem->out_bytes, UINT32_MAX));
        cr_assert(eq(int, virtq_push(&vq, mem, 0, 0), 0));

        fake_desc_at(&drv, TABLE_GPA, 255, 0, MEM_SIZE, 0, 0);
        fake_kick(&drv, 0);
        expect_broken(-EMSGSIZE);
}

Test(virtq_pop, elem_copy_helpers)
{
        static const FakeSeg segs[] = {
                { BUF_GPA, 3, false },
                { BUF_GPA + 0x100, 5, false },
                { BUF_GPA + 0x200, 2, true },
                { BUF_GPA + 0x300, 6, true },
        };
        uint8_t buf[16];

        start(8, 0);
        memcpy(host(BUF_GPA), "abc", 3);
        memcpy(host(BUF_GPA + 0x100), "defgh", 5);
        fake_chain(&drv, 0, segs, ELEMENTSOF(segs));
        fake_kick(&drv, 0);
        pop_ok();

        cr_assert(eq(sz, virtq_elem_read_out(elem, 0, buf, sizeof buf), (size_t) 8));
        cr_assert(eq(int, memcmp(buf, "abcdefgh", 8), 0));
        cr_assert(eq(sz, virtq_elem_read_out(elem, 2, buf, 4), (size_t) 4));
        cr_assert(eq(int, memcmp(buf, "cdef", 4), 0));
        cr_assert(eq(sz, virtq_elem_read_out(elem, 8, buf, 4), (size_t) 0));
        cr_assert(eq(sz, virtq_elem_read_out(elem, 100, buf, 4), (size_t) 0));

        cr_assert(eq(sz, virtq_elem_write_in(elem, 1, "0123456789", 10), (size_t) 7));
        cr_assert(eq(int, memcmp(host(BUF_GPA + 0x200), "\0" "0", 2), 0));
        cr_assert(eq(int, memcmp(host(BUF_GPA + 0x300), "123456", 6), 0));
        cr_assert(eq(u8, *host(BUF_GPA + 0x306), 0));
}

/* ---- Indirect descriptors ---- */

TestSuite(virtq_indirect, .fini = teardown, .timeout = 60);

Test(virtq_indirect, table)
{
        static const FakeSeg segs[] = {
                { BUF_GPA, 16, false },
                { BUF_GPA + 0x100, 32, true },
                { BUF_GPA + 0x200, 64, true },
        };

        start(4, F_INDIRECT);
        fake_chain_at(&drv, TABLE_GPA, 4, 0, segs, 3);
        /* The device ignores WRITE on the indirect descriptor itself. */
        fake_desc(&drv, 2, TABLE_GPA, 4 * 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_WRITE, 0);
        fake_kick(&drv, 2);
        pop_ok();
        cr_assert(eq(u16, elem->head, 2));
        cr_assert(eq(uint, elem->n_out, 1));
        cr_assert(eq(uint, elem->n_in, 2));
        cr_assert(eq(u32, elem->in_bytes, 96));
        for (size_t i = 0; i < ELEMENTSOF(segs); i++)
                assert_iov(&elem->iov[i], segs[i].addr, segs[i].len);
        cr_assert(eq(int, virtq_push(&vq, mem, 2, 96), 0));
}

Test(virtq_indirect, table_larger_than_the_queue)
{
        FakeSeg segs[64];

        start(4, F_INDIRECT);
        for (size_t i = 0; i < ELEMENTSOF(segs); i++)
                segs[i] = (FakeSeg) { BUF_GPA + i * 16, 16, i >= 32 };
        fake_chain_at(&drv, TABLE_GPA, 64, 0, segs, 64);
        fake_desc(&drv, 0, TABLE_GPA, 64 * 16, VIRTQ_DESC_F_INDIRECT, 0);
        fake_kick(&drv, 0);
        pop_ok();
        cr_assert(eq(uint, elem->n_out, 32));
        cr_assert(eq(uint, elem->n_in, 32));
}

Test(virtq_indirect, after_direct_descriptors)
{
        static const FakeSeg segs[] = { { BUF_GPA + 0x100, 32, false }, { BUF_GPA + 0x200, 64, true } };

        start(4, F_INDIRECT);
        fake_chain_at(&drv, TABLE_GPA, 2, 0, segs, 2);
        fake_desc(&drv, 3, BUF_GPA, 16, VIRTQ_DESC_F_NEXT, 1);
        fake_desc(&drv, 1, TABLE_GPA, 2 * 16, VIRTQ_DESC_F_INDIRECT, 0);
        fake_kick(&drv, 3);
        pop_ok();
        cr_assert(eq(uint, elem->n_out, 2));
        cr_assert(eq(uint, elem->n_in, 1));
        assert_iov(&elem->out[0], BUF_GPA, 16);
        assert_iov(&elem->out[1], BUF_GPA + 0x100, 32);
        assert_iov(&elem->in[0], BUF_GPA + 0x200, 64);
}

Test(virtq_indirect, unaligned_table)
{
        static const FakeSeg segs[] = { { BUF_GPA, 16, false }, { BUF_GPA + 0x100, 32, true } };

        start(4, F_INDIRECT);
        fake_chain_at(&drv, TABLE_GPA + 3, 2, 0, segs, 2);
        fake_desc(&drv, 0, TABLE_GPA + 3, 32, VIRTQ_DESC_F_INDIRECT, 0);
        fake_kick(&drv, 0);
        pop_ok();
        assert_iov(&elem->out[0], BUF_GPA, 16);
        assert_iov(&elem->in[0], BUF_GPA + 0x100, 32);
}

Test(virtq_indirect, not_negotiated)
{
        start(4, 0);
        fake_desc_at(&drv, TABLE_GPA, 0, BUF_GPA, 16, 0, 0);
        fake_desc(&drv, 0, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT, 0);
        fake_kick(&drv, 0);
        expect_broken(-EINVAL);
}

Test(virtq_indirect, inside_indirect)
{
        start(4, F_INDIRECT);
        fake_desc_at(&drv, TABLE2_GPA, 0, BUF_GPA, 16, 0, 0);
        fake_desc_at(&drv, TABLE_GPA, 0, TABLE2_GPA, 16, VIRTQ_DESC_F_INDIRECT, 0);
        fake_desc(&drv, 0, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT, 0);
        fake_kick(&drv, 0);
        expect_broken(-EINVAL);
}

Test(virtq_indirect, pointing_at_itself)
{
        start(4, F_INDIRECT);
        fake_desc_at(&drv, TABLE_GPA, 0, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT, 0);
        fake_desc(&drv, 0, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT, 0);
        fake_kick(&drv, 0);
        expect_broken(-EINVAL);
}

Test(virtq_indirect, with_next)
{
        start(4, F_INDIRECT);
        fake_desc_at(&drv, TABLE_GPA, 0, BUF_GPA, 16, 0, 0);
        fake_desc(&drv, 0, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
        fake_desc(&drv, 1, BUF_GPA, 16, 0, 0);
        fake_kick(&drv, 0);
        expect_broken(-EINVAL);
}

Test(virtq_indirect, length_zero)
{
        start(4, F_INDIRECT);
        fake_desc(&drv, 0, TABLE_GPA, 0, VIRTQ_DESC_F_INDIRECT, 0);
        fake_kick(&drv, 0);
        expect_broken(-EINVAL);
}

Test(virtq_indirect, length_not_a_multiple_of_16)
{
        start(4, F_INDIRECT);
        fake_desc_at(&drv, TABLE_GPA, 0, BUF_GPA, 16, 0, 0);
        fake_desc(&drv, 0, TABLE_GPA, 24, VIRTQ_DESC_F_INDIRECT, 0);
        fake_kick(&drv, 0);
        expect_broken(-EINVAL);
}

Test(virtq_indirect, length_wraps)
{
        start(4, F_INDIRECT);
        fake_desc(&drv, 0, TABLE_GPA, UINT32_MAX - 15, VIRTQ_DESC_F_INDIRECT, 0);
        fake_kick(&drv, 0);
        expect_broken(-EFAULT);
}

Test(virtq_indirect, table_outside_ram)
{
        start(4, F_INDIRECT);
        fake_desc(&drv, 0, MEM_SIZE - 16, 32, VIRTQ_DESC_F_INDIRECT, 0);
        fake_kick(&drv, 0);
        expect_broken(-EFAULT);
}

Test(virtq_indirect, table_address_wraps)
{
        start(4, F_INDIRECT);
        fake_desc(&drv, 0, UINT64_MAX - 15, 32, VIRTQ_DESC_F_INDIRECT, 0);
        fake_kick(&drv, 0);
        expect_broken(-EFAULT);
}

Test(virtq_indirect, loop)
{
        start(4, F_INDIRECT);
        fake_desc_at(&drv, TABLE_GPA, 0, BUF_GPA, 16, VIRTQ_DESC_F_NEXT, 1);
        fake_desc_at(&drv, TABLE_GPA, 1, BUF_GPA, 16, VIRTQ_DESC_F_NEXT, 0);
        fake_desc(&drv, 0, TABLE_GPA, 2 * 16, VIRTQ_DESC_F_INDIRECT, 0);
        fake_kick(&drv, 0);
        expect_broken(-ELOOP);
}

Test(virtq_indirect, next_beyond_the_table)
{
        /* 2 is a valid queue index but not a valid index in a 2-entry table. */
        start(8, F_INDIRECT);
        fake_desc_at(&drv, TABLE_GPA, 0, BUF_GPA, 16, VIRTQ_DESC_F_NEXT, 2);
        fake_desc_at(&drv, TABLE_GPA, 1, BUF_GPA, 16, 0, 0);
        fake_desc_at(&drv, TABLE_GPA, 2, BUF_GPA, 16, 0, 0);
        fake_desc(&drv, 0, TABLE_GPA, 2 * 16, VIRTQ_DESC_F_INDIRECT, 0);
        fake_kick(&drv, 0);
        expect_broken(-EINVAL);
}

Test(virtq_indirect, readable_after_writable)
{
        static const FakeSeg segs[] = { { BUF_GPA, 16, true }, { BUF_GPA, 16, false } };

        start(4, F_INDIRECT);
        fake_chain_at(&drv, TABLE_GPA, 2, 0, segs, 2);
        fake_desc(&drv, 0, TABLE_GPA, 2 * 16, VIRTQ_DESC_F_INDIRECT, 0);
        fake_kick(&drv, 0);
        expect_broken(-EINVAL);
}

Test(virtq_indirect, readable_table_after_writable_descriptor)
{
        start(4, F_INDIRECT);
        fake_desc_at(&drv, TABLE_GPA, 0, BUF_GPA, 16, 0, 0);
        fake_desc(&drv, 0, BUF_GPA, 16, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
        fake_desc(&drv, 1, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT, 0);
        fake_kick(&drv, 0);
        expect_broken(-EINVAL);
}

Test(virtq_indirect, zero_length_segment)
{
        start(4, F_INDIRECT);
        fake_desc_at(&drv, TABLE_GPA, 0, BUF_GPA, 0, 0, 0);
        fake_desc(&drv, 0, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT, 0);
        fake_kick(&drv, 0);
        expect_broken(-EINVAL);
}

/* ---- A driver breaking the rules ---- */

TestSuite(virtq_hostile, .fini = teardown, .timeout = 60);

Test(virtq_hostile, two_descriptor_loop)
{
        start(8, 0);
        fake_desc(&drv, 0, BUF_GPA, 16, VIRTQ_DESC_F_NEXT, 1);
        fake_desc(&drv, 1, BUF_GPA, 16, VIRTQ_DESC_F_NEXT, 0);
        fake_kick(&drv, 0);
        expect_broken(-ELOOP);
}

Test(virtq_hostile, self_loop)
{
        start(8, 0);
        fake_desc(&drv, 3, BUF_GPA, 16, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 3);
        fake_kick(&drv, 3);
        expect_broken(-ELOOP);
}

Test(virtq_hostile, loop_in_the_largest_queue)
{
        /* Enough segments allowed that the loop, not the segment limit, stops the walk. */
        cr_assert(eq(int, virtq_elem_new(VIRTQ_SEGMENTS_LIMIT, &elem), 0));
        start_with(MEM_SIZE, VIRTQ_SIZE_MAX, 0, VIRTQ_SEGMENTS_LIMIT);
        fake_desc(&drv, VIRTQ_SIZE_MAX - 1, BUF_GPA, 16, VIRTQ_DESC_F_NEXT, 0);
        for (uint32_t i = 0; i < VIRTQ_SIZE_MAX - 1; i++)
                fake_desc(&drv, (uint16_t) i, BUF_GPA, 16, VIRTQ_DESC_F_NEXT, (uint16_t) (i + 1));
        fake_kick(&drv, VIRTQ_SIZE_MAX - 1);
        expect_broken(-ELOOP);
}

Test(virtq_hostile, next_out_of_range)
{
        start(8, 0);
        fake_desc(&drv, 0, BUF_GPA, 16, VIRTQ_DESC_F_NEXT, 8);
        fake_kick(&drv, 0);
        expect_broken(-EINVAL);
}

Test(virtq_hostile, next_far_out_of_range)
{
        start(8, 0);
        fake_desc(&drv, 0, BUF_GPA, 16, VIRTQ_DESC_F_NEXT, UINT16_MAX);
        fake_kick(&drv, 0);
        expect_broken(-EINVAL);
}

Test(virtq_hostile, head_out_of_range)
{
        start(8, 0);
        fake_kick(&drv, 8);
        expect_broken(-EINVAL);
}

Test(virtq_hostile, head_far_out_of_range)
{
        start(8, 0);
        fake_kick(&drv, UINT16_MAX);
        expect_broken(-EINVAL);
}

Test(virtq_hostile, avail_idx_jumps_past_the_queue_size)
{
        start(8, 0);
        fake_desc(&drv, 0, BUF_GPA, 16, 0, 0);
        fake_set_avail_idx(&drv, 9);
        expect_broken(-EPROTO);
}

Test(virtq_hostile, avail_idx_by_exactly_the_queue_size)
{
        start(8, 0);
        fake_desc(&drv, 0, BUF_GPA, 16, 0, 0);
        fake_set_avail_idx(&drv, 8);
        for (unsigned i = 0; i < 8; i++)
                pop_ok();
        cr_assert(eq(int, virtq_pop(&vq, mem, elem), 0));
}

Test(virtq_hostile, avail_idx_goes_back)
{
        start(8, 0);
        fake_desc(&drv, 0, BUF_GPA, 16, 0, 0);
        fake_kick(&drv, 0);
        pop_ok();
        fake_set_avail_idx(&drv, 0);
        expect_broken(-EPROTO);
}

Test(virtq_hostile, avail_idx_jumps_across_the_wrap)
{
        start(8, 0);
        fast_forward(65530);
        fake_set_avail_idx(&drv, 3); /* 9 entries ahead, modulo 2^16 */
        expect_broken(-EPROTO);
}

Test(virtq_hostile, more_chains_in_flight_than_the_queue_size)
{
        start(4, 0);
        fake_desc(&drv, 0, BUF_GPA, 16, 0, 0);
        for (unsigned i = 0; i < 4; i++)
                fake_kick(&drv, 0);
        for (unsigned i = 0; i < 4; i++)
                pop_ok();
        /* The device still holds all four; the driver offers a fifth. */
        fake_kick(&drv, 0);
        expect_broken(-EPROTO);
}

Test(virtq_hostile, buffer_past_the_end_of_ram)
{
        start(8, 0);
        fake_desc(&drv, 0, MEM_SIZE, 1, 0, 0);
        fake_kick(&drv, 0);
        expect_broken(-EFAULT);
}

Test(virtq_hostile, buffer_straddles_the_end_of_ram)
{
        start(8, 0);
        fake_desc(&drv, 0, BUF_GPA, 16, VIRTQ_DESC_F_NEXT, 1);
        fake_desc(&drv, 1, MEM_SIZE - 8, 16, VIRTQ_DESC_F_WRITE, 0);
        fake_kick(&drv, 0);
        expect_broken(-EFAULT);
}

Test(virtq_hostile, buffer_address_plus_length_wraps)
{
        start(8, 0);
        fake_desc(&drv, 0, UINT64_MAX - 3, 16, 0, 0);
        fake_kick(&drv, 0);
        expect_broken(-EFAULT);
}

Test(virtq_hostile, buffer_far_away)
{
        start(8, 0);
        fake_desc(&drv, 0, UINT64_C(1) << 63, 4096, VIRTQ_DESC_F_WRITE, 0);
        fake_kick(&drv, 0);
        expect_broken(-EFAULT);
}

Test(virtq_hostile, buffer_of_4g)
{
        start(8, 0);
        fake_desc(&drv, 0, BUF_GPA, UINT32_MAX, 0, 0);
        fake_kick(&drv, 0);
        expect_broken(-EFAULT);
}

Test(virtq_hostile, zero_length_descriptor)
{
        start(8, 0);
        fake_desc(&drv, 0, BUF_GPA, 16, VIRTQ_DESC_F_NEXT, 1);
        fake_desc(&drv, 1, BUF_GPA, 0, VIRTQ_DESC_F_WRITE, 0);
        fake_kick(&drv, 0);
        expect_broken(-EINVAL);
}

Test(virtq_hostile, readable_after_writable)
{
        static const FakeSeg segs[] = {
                { BUF_GPA, 16, false },
                { BUF_GPA + 16, 16, true },
                { BUF_GPA + 32, 16, false },
        };

        start(8, 0);
        fake_chain(&drv, 0, segs, ELEMENTSOF(segs));
        fake_kick(&drv, 0);
        expect_broken(-EINVAL);
}

Test(virtq_hostile, pop_after_broken_and_reset)
{
        start(8, F_EVENT_IDX);
        fake_kick(&drv, 9);
        expect_broken(-EINVAL);
        cr_assert(eq(int, virtq_pop(&vq, mem, elem), -EINVAL));

        virtq_reset(&vq);
        cr_assert(not(virtq_is_broken(&vq)));
        cr_assert(zero(ptr, (void *) virtq_broken_reason(&vq)));
        cr_assert(not(vq.enabled));
        cr_assert(eq(u16, vq.last_avail_idx, 0));
        cr_assert(eq(u16, vq.used_idx, 0));
        cr_assert(eq(int, virtq_pop(&vq, mem, elem), 0));

        /* The driver starts over with zeroed rings. */
        memset(host(AVAIL_GPA), 0, virtq_avail_ring_bytes(8));
        memset(host(USED_GPA), 0, virtq_used_ring_bytes(8));
        configure(8, F_EVENT_IDX, DESC_GPA, AVAIL_GPA, USED_GPA);
        fake_desc(&drv, 2, BUF_GPA, 16, VIRTQ_DESC_F_WRITE, 0);
        fake_kick(&drv, 2);
        pop_ok();
        cr_assert(eq(u16, elem->head, 2));
        cr_assert(eq(int, virtq_push(&vq, mem, 2, 16), 0));
        cr_assert(virtq_needs_notification(&vq, mem));
        cr_assert(eq(u16, fake_used_idx(&drv), 1));
}

Test(virtq_hostile, logged_once_at_debug_level)
{
        char path[] = "/tmp/test-virtqueue-log.XXXXXX";
        _cleanup_close_ int fd = mkstemp(path);
        char buf[4096] = {};
        unsigned lines = 0;
        ssize_t n;

        cr_assert(ge(int, fd, 0));
        cr_assert(eq(int, log_open_file(path), 0));
        (void) unlink(path);
        log_set_max_level(LOG_DEBUG);
        start(8, 0);
        fake_kick(&drv, 8);
        for (unsigned i = 0; i < 1000; i++) {
                cr_assert(eq(int, virtq_pop(&vq, mem, elem), -EINVAL));
                cr_assert(eq(int, virtq_push(&vq, mem, 0, 0), -EINVAL));
        }
        cr_assert(streq(virtq_broken_reason(&vq), "head index out of range"));

        n = pread(fd, buf, sizeof buf - 1, 0);
        cr_assert(gt(i64, (int64_t) n, 0));
        for (const char *p = buf; (p = strstr(p, "virtqueue 3: ")); p++)
                lines++;
        cr_assert(eq(uint, lines, 1), "%s", buf);
        cr_assert(not(zero(ptr, strstr(buf, "head index out of range"))));
        cr_assert(not(zero(ptr, strstr(buf, "DEBUG"))));
}

/* ---- Around the 32-bit hole: more than 3 GiB of RAM, MAP_NORESERVE so it costs nothing ---- */

TestSuite(virtq_hole, .fini = teardown, .timeout = 60);

Test(virtq_hole, buffers_on_either_side)
{
        start_with(BIG_MEM_SIZE, 8, 0, 0);
        fake_desc(&drv, 0, GUEST_MEM_32BIT_HOLE_START - 16, 16, VIRTQ_DESC_F_NEXT, 1);
        fake_desc(&drv, 1, GUEST_MEM_HIGH_START, 4096, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
        fake_desc(&drv, 2, GUEST_MEM_HIGH_START + 16 * MiB - 16, 16, VIRTQ_DESC_F_WRITE, 0);
        fake_kick(&drv, 0);
        pop_ok();
        assert_iov(&elem->out[0], GUEST_MEM_32BIT_HOLE_START - 16, 16);
        cr_assert(eq(ptr, elem->in[0].iov_base, mem->host + GUEST_MEM_32BIT_HOLE_START));
        cr_assert(eq(ptr, elem->in[1].iov_base, mem->host + BIG_MEM_SIZE - 16));
}

Test(virtq_hole, straddles_the_start_of_the_hole)
{
        start_with(BIG_MEM_SIZE, 8, 0, 0);
        fake_desc(&drv, 0, GUEST_MEM_32BIT_HOLE_START - 8, 16, 0, 0);
        fake_kick(&drv, 0);
        expect_broken(-EFAULT);
}

Test(virtq_hole, inside_the_hole)
{
        start_with(BIG_MEM_SIZE, 8, 0, 0);
        fake_desc(&drv, 0, GUEST_MEM_32BIT_HOLE_START + 0x10000000, 16, 0, 0);
        fake_kick(&drv, 0);
        expect_broken(-EFAULT);
}

Test(virtq_hole, straddles_the_end_of_the_hole)
{
        start_with(BIG_MEM_SIZE, 8, 0, 0);
        fake_desc(&drv, 0, GUEST_MEM_HIGH_START - 8, 16, VIRTQ_DESC_F_WRITE, 0);
        fake_kick(&drv, 0);
        expect_broken(-EFAULT);
}

Test(virtq_hole, across_the_whole_hole)
{
        start_with(BIG_MEM_SIZE, 8, 0, 0);
        fake_desc(&drv, 0, GUEST_MEM_32BIT_HOLE_START - 8,
                  (uint32_t) (GUEST_MEM_HIGH_START - GUEST_MEM_32BIT_HOLE_START + 16), 0, 0);
        fake_kick(&drv, 0);
        expect_broken(-EFAULT);
}

Test(virtq_hole, straddles_the_end_of_high_ram)
{
        start_with(BIG_MEM_SIZE, 8, 0, 0);
        fake_desc(&drv, 0, GUEST_MEM_HIGH_START + 16 * MiB - 8, 16, VIRTQ_DESC_F_WRITE, 0);
        fake_kick(&drv, 0);
        expect_broken(-EFAULT);
}

Test(virtq_hole, indirect_table_straddles_the_hole)
{
        start_with(BIG_MEM_SIZE, 8, F_INDIRECT, 0);
        fake_desc(&drv, 0, GUEST_MEM_32BIT_HOLE_START - 16, 32, VIRTQ_DESC_F_INDIRECT, 0);
        fake_kick(&drv, 0);
        expect_broken(-EFAULT);
}

/* ---- Guest memory with guard pages: an access just outside RAM would fault ---- */

TestSuite(virtq_guarded, .fini = teardown, .timeout = 60);

Test(virtq_guarded, last_bytes_of_each_region)
{
        start_guarded(8, F_INDIRECT);
        /* An indirect table in the last 32 bytes of low RAM, a buffer in the last byte of high RAM. */
        fake_desc_at(&drv, 1 * MiB - 32, 0, 1 * MiB - 1, 1, VIRTQ_DESC_F_NEXT, 1);
        fake_desc_at(&drv, 1 * MiB - 32, 1, GUEST_MEM_HIGH_START + 1 * MiB - 1, 1, VIRTQ_DESC_F_WRITE, 0);
        fake_desc(&drv, 0, 1 * MiB - 32, 32, VIRTQ_DESC_F_INDIRECT, 0);
        fake_kick(&drv, 0);
        pop_ok();
        cr_assert(eq(uint, elem->n_out, 1));
        cr_assert(eq(uint, elem->n_in, 1));
        *(uint8_t *) elem->in[0].iov_base = 1;
        cr_assert(eq(u8, *(uint8_t *) elem->out[0].iov_base, 0));
}

Test(virtq_guarded, indirect_table_one_byte_too_long)
{
        start_guarded(8, F_INDIRECT);
        fake_desc(&drv, 0, 1 * MiB - 31, 32, VIRTQ_DESC_F_INDIRECT, 0);
        fake_kick(&drv, 0);
        expect_broken(-EFAULT);
}

Test(virtq_guarded, indirect_table_in_the_gap)
{
        start_guarded(8, F_INDIRECT);
        fake_desc(&drv, 0, 1 * MiB, 16, VIRTQ_DESC_F_INDIRECT, 0);
        fake_kick(&drv, 0);
        expect_broken(-EFAULT);
}

Test(virtq_guarded, buffer_into_the_gap)
{
        start_guarded(8, 0);
        fake_desc(&drv, 0, GUEST_MEM_HIGH_START + 1 * MiB - 4096, 4097, VIRTQ_DESC_F_WRITE, 0);
        fake_kick(&drv, 0);
        expect_broken(-EFAULT);
}

Test(virtq_guarded, rings_at_the_end_of_high_ram)
{
        const uint64_t end = GUEST_MEM_HIGH_START + 1 * MiB;

        mem = guarded_memory_new(1 * MiB, 1 * MiB);
        cr_assert(not(zero(ptr, mem)));
        mem_guarded = true;
        cr_assert(eq(int, virtq_elem_new(4, &elem), 0));
        cr_assert(eq(int, virtq_init(&vq, 0, 256, 0), 0));
        configure(256, F_EVENT_IDX, end - 16 * 256, end - 8192 - virtq_avail_ring_bytes(256),
                  ALIGN_DOWN(end - virtq_used_ring_bytes(256), 4));
        check_enable_fails(&(struct enable_case) { 256, end - 16 * 256 + 16, 0x20000, 0x30000, -EFAULT });
        check_enable_fails(&(struct enable_case) { 256, 0x10000, end - virtq_avail_ring_bytes(256) + 2,
                                                   0x30000, -EFAULT });
        check_enable_fails(&(struct enable_case) { 256, 0x10000, 0x20000,
                                                   ALIGN_DOWN(end - virtq_used_ring_bytes(256), 4) + 4,
                                                   -EFAULT });
}

/* ---- Notifications ---- */

TestSuite(virtq_notify, .fini = teardown, .timeout = 60);

static void round_trip(unsigned n)
{
        for (unsigned i = 0; i < n; i++) {
                fake_kick(&drv, 0);
                pop_ok();
                cr_assert(eq(int, virtq_push(&vq, mem, 0, 0), 0));
        }
}

Test(virtq_notify, no_interrupt_flag)
{
        start(8, 0);
        fake_desc(&drv, 0, BUF_GPA, 16, 0, 0);
        round_trip(1);
        cr_assert(virtq_needs_notification(&vq, mem));
        fake_set_avail_flags(&drv, VIRTQ_AVAIL_F_NO_INTERRUPT);
        round_trip(1);
        cr_assert(not(virtq_needs_notification(&vq, mem)));
        fake_set_avail_flags(&drv, 0);
        cr_assert(virtq_needs_notification(&vq, mem));
}

Test(virtq_notify, event_idx_ignores_the_flag)
{
        start(8, F_EVENT_IDX);
        fake_desc(&drv, 0, BUF_GPA, 16, 0, 0);
        fake_set_avail_flags(&drv, VIRTQ_AVAIL_F_NO_INTERRUPT);
        fake_set_used_event(&drv, 0);
        round_trip(1);
        cr_assert(virtq_needs_notification(&vq, mem));
}

Test(virtq_notify, event_idx_rule)
{
        start(8, F_EVENT_IDX);
        fake_desc(&drv, 0, BUF_GPA, 16, 0, 0);
        fake_set_used_event(&drv, 100);
        /* The first decision after enabling always notifies. */
        round_trip(1);
        cr_assert(virtq_needs_notification(&vq, mem));
        round_trip(1);
        cr_assert(not(virtq_needs_notification(&vq, mem)));

        /* used_event 2: notify once used entry 2 is written, that is when used->idx passes 2. */
        fake_set_used_event(&drv, 2);
        round_trip(1); /* used idx 3: entry 2 written */
        cr_assert(virtq_needs_notification(&vq, mem));
        round_trip(1);
        cr_assert(not(virtq_needs_notification(&vq, mem)));
        /* Nothing pushed since the last decision. */
        cr_assert(not(virtq_needs_notification(&vq, mem)));

        fake_set_used_event(&drv, 5);
        round_trip(1); /* used idx 5: entry 5 not yet written */
        cr_assert(not(virtq_needs_notification(&vq, mem)));
        round_trip(3); /* used idx 8: entries 5..7 in one go */
        cr_assert(virtq_needs_notification(&vq, mem));

        /* An event already passed does not notify again. */
        round_trip(1);
        cr_assert(not(virtq_needs_notification(&vq, mem)));
}

Test(virtq_notify, event_idx_wraparound)
{
        start(8, F_EVENT_IDX);
        fake_desc(&drv, 0, BUF_GPA, 16, 0, 0);
        fast_forward(65533);
        round_trip(1); /* used idx 65534 */
        cr_assert(virtq_needs_notification(&vq, mem));

        fake_set_used_event(&drv, 0);
        round_trip(1); /* 65535 */
        cr_assert(not(virtq_needs_notification(&vq, mem)));
        round_trip(1); /* 0 */
        cr_assert(not(virtq_needs_notification(&vq, mem)));
        round_trip(1); /* 1: entry 0 written */
        cr_assert(virtq_needs_notification(&vq, mem));

        fast_forward(65534);
        vq.signalled_used = 65534;
        fake_set_used_event(&drv, 65535);
        round_trip(3); /* 65534 -> 1, across used_event and the wrap */
        cr_assert(virtq_needs_notification(&vq, mem));

        fast_forward(65535);
        vq.signalled_used = 65535;
        fake_set_used_event(&drv, 65534);
        round_trip(3); /* 65535 -> 2: 65534 is behind */
        cr_assert(not(virtq_needs_notification(&vq, mem)));
}

Test(virtq_notify, event_idx_after_65536_pushes)
{
        start(8, F_EVENT_IDX);
        fake_desc(&drv, 0, BUF_GPA, 16, 0, 0);
        fake_set_used_event(&drv, 40000);
        round_trip(1);
        cr_assert(virtq_needs_notification(&vq, mem));
        /* The index comes back where it was: only the count tells that used_event was passed. */
        round_trip(65536);
        cr_assert(virtq_needs_notification(&vq, mem));
        round_trip(1);
        cr_assert(not(virtq_needs_notification(&vq, mem)));
}

Test(virtq_notify, need_event)
{
        cr_assert(virtq_need_event(0, 1, 0));
        cr_assert(not(virtq_need_event(1, 1, 0)));
        cr_assert(virtq_need_event(0xffff, 0, 0xffff));
        cr_assert(virtq_need_event(0xfffe, 3, 0xfff0));
        cr_assert(not(virtq_need_event(3, 3, 0xfff0)));
        cr_assert(not(virtq_need_event(5, 5, 5)));
}

Test(virtq_notify, device_suppression_flags)
{
        start(8, 0);
        cr_assert(eq(int, virtq_set_notification(&vq, mem, false), 0));
        cr_assert(eq(u16, fake_used_flags(&drv), VIRTQ_USED_F_NO_NOTIFY));
        cr_assert(eq(int, virtq_set_notification(&vq, mem, true), 0));
        cr_assert(eq(u16, fake_used_flags(&drv), 0));
        cr_assert(eq(u16, fake_avail_event(&drv), 0));
}

Test(virtq_notify, device_suppression_avail_event)
{
        start(8, F_EVENT_IDX);
        fake_desc(&drv, 0, BUF_GPA, 16, 0, 0);
        round_trip(3);
        cr_assert(eq(int, virtq_set_notification(&vq, mem, true), 0));
        cr_assert(eq(u16, fake_avail_event(&drv), 3));
        round_trip(2);
        cr_assert(eq(int, virtq_set_notification(&vq, mem, false), 0));
        cr_assert(eq(u16, fake_avail_event(&drv), 3));
        cr_assert(eq(u16, fake_used_flags(&drv), 0));
        cr_assert(eq(int, virtq_set_notification(&vq, mem, true), 0));
        cr_assert(eq(u16, fake_avail_event(&drv), 5));

        /* The next entry the device will take, whatever it still has in flight. */
        fake_kick(&drv, 0);
        fake_kick(&drv, 0);
        pop_ok();
        pop_ok();
        cr_assert(eq(int, virtq_set_notification(&vq, mem, true), 0));
        cr_assert(eq(u16, fake_avail_event(&drv), 7));
        cr_assert(eq(u16, vq.used_idx, 5));
}

Test(virtq_notify, has_pending_after_enabling)
{
        start(8, F_EVENT_IDX);
        fake_desc(&drv, 0, BUF_GPA, 16, 0, 0);
        cr_assert(eq(int, virtq_set_notification(&vq, mem, false), 0));
        fake_kick(&drv, 0);
        fake_kick(&drv, 0);
        pop_ok();
        /* One taken, one still in the shadow. */
        cr_assert(virtq_has_pending(&vq, mem));
        pop_ok();
        cr_assert(not(virtq_has_pending(&vq, mem)));
        cr_assert(eq(int, virtq_set_notification(&vq, mem, true), 0));
        /* The driver adds a chain right after the device re-enabled notifications. */
        fake_kick(&drv, 0);
        cr_assert(virtq_has_pending(&vq, mem));
        pop_ok();
        cr_assert(not(virtq_has_pending(&vq, mem)));
}

/* ---- A driver rewriting descriptors and rings while the device pops ---- */

typedef struct Scribbler {
        FakeDriver drv;
        bool stop;
        uint64_t seed;
} Scribbler;

static uint64_t next_random(uint64_t *s)
{
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        return *s;
}

static void *scribble(void *arg)
{
        Scribbler *s = arg;
        uint16_t *desc = fake_ptr(&s->drv, s->drv.desc, 8 * 16);
        uint16_t *avail = fake_ptr(&s->drv, s->drv.avail, virtq_avail_ring_bytes(8));
        uint16_t *table = fake_ptr(&s->drv, TABLE_GPA, 4 * 16);

        while (!__atomic_load_n(&s->stop, __ATOMIC_RELAXED)) {
                uint64_t r = next_random(&s->seed);
                uint16_t v = (uint16_t) (r >> 32);
                uint16_t *w;

                switch (r % 4) {
                case 0:
                        w = &desc[(r >> 8) % (8 * 8)];
                        break;
                case 1:
                        w = &avail[(r >> 8) % 11];
                        break;
                case 2:
                        w = &table[(r >> 8) % (4 * 8)];
                        break;
                default:
                        /* Mostly small, plausible values: lengths, flags and indices. */
                        w = &desc[(r >> 8) % (8 * 8)];
                        v &= 0xf;
                        break;
                }
                __atomic_store_n(w, v, __ATOMIC_RELAXED);
        }
        return NULL;
}

Test(virtq_hostile, concurrent_rewrites)
{
        Scribbler s = { .seed = 0x9e3779b97f4a7c15 };
        struct timespec t0, t;
        unsigned taken = 0, broken = 0;
        pthread_t thread;

        start(8, F_INDIRECT | F_EVENT_IDX);
        s.drv = drv;
        for (uint16_t i = 0; i < 8; i++)
                fake_desc(&drv, i, BUF_GPA + i * 0x1000, 0x1000, i % 2 ? VIRTQ_DESC_F_WRITE : 0, 0);
        cr_assert(eq(int, pthread_create(&thread, NULL, scribble, &s), 0));
        clock_gettime(CLOCK_MONOTONIC, &t0);
        do {
                int r = virtq_pop(&vq, mem, elem);

                if (r > 0) {
                        taken++;
                        cr_assert(le(uint, elem->n_out + elem->n_in, elem->capacity));
                        for (unsigned i = 0; i < elem->n_out + elem->n_in; i++) {
                                uintptr_t b = (uintptr_t) elem->iov[i].iov_base, h = (uintptr_t) mem->host;

                                cr_assert(ge(u64, b, h));
                                cr_assert(le(u64, b - h + elem->iov[i].iov_len, MEM_SIZE));
                        }
                        cr_assert(eq(int, virtq_push(&vq, mem, elem->head, elem->in_bytes), 0));
                        (void) virtq_needs_notification(&vq, mem);
                } else if (r < 0) {
                        broken++;
                        virtq_reset(&vq);
                        configure(8, F_INDIRECT | F_EVENT_IDX, DESC_GPA, AVAIL_GPA, USED_GPA);
                }
                clock_gettime(CLOCK_MONOTONIC, &t);
        } while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < 300000000L);
        __atomic_store_n(&s.stop, true, __ATOMIC_RELAXED);
        cr_assert(eq(int, pthread_join(thread, NULL), 0));
        cr_log_info("concurrent rewrites: %u elements taken, %u times broken", taken, broken);
}
