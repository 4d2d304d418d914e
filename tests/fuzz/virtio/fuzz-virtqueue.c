/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for the split virtqueue: the input is a small header choosing the queue size, the
 * negotiated ring features, the segment limit and where the rings are, followed by the raw contents of
 * guest memory. The device side then pops, writes into the writable segments, pushes and decides about
 * notifications until the ring is empty or the queue breaks.
 *
 * Guest memory is two 64 KiB regions, at 0 and at 4 GiB, each surrounded by inaccessible pages, so that
 * any access outside guest RAM faults even without AddressSanitizer. Besides memory safety the target
 * checks what virtq_pop() promises: every segment lies inside one region, the totals add up, the limits
 * hold, a failure is one of the documented errnos with a reason, and a broken queue stays broken until
 * it is reset.
 *
 * Header (16 bytes):
 *   0      queue size: 1 << (b % 16), or with bit 7 set the 16-bit value in bytes 1..2
 *   3      bit 0: INDIRECT_DESC, bit 1: EVENT_IDX, bits 2..7: segment limit - 1
 *   4..9   16-bit offsets of the descriptor table, available ring and used ring
 *   10     bits 0..2: that ring is in the high region (4 GiB + offset)
 *   11     device behaviour: bit 0 push in batches, bit 1 toggle notifications, bit 2 fill the
 *          writable segments (their first 256 bytes) rather than touch their ends, bit 3 report fewer
 *          bytes written than the segments hold
 *   12     the driver side: bits 0..1 chains it adds (moves avail->idx by) before each pop; bit 2 the
 *          device holds elements and pushes them only when 64 are pending or the ring is empty
 *   13     reserved
 *   14..15 where the indices start, as if that many chains had gone through the queue already;
 *          avail->idx in memory counts from there
 * Then up to 64 KiB for the low region and up to 64 KiB for the high region.
 */
#include <endian.h>

#include "guarded-memory.h"
#include "virtqueue.h"

#define REGION_SIZE (64 * KiB)
#define HEADER_SIZE 16
#define MAX_ROUNDS  512

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define check(cond)                                                                                         \
        do {                                                                                                \
                if (!(cond)) {                                                                              \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);            \
                        abort();                                                                            \
                }                                                                                           \
        } while (0)

static GuestMemory *fuzz_memory(void)
{
        static GuestMemory *mem;

        if (!mem) {
                mem = guarded_memory_new(REGION_SIZE, REGION_SIZE);
                check(mem);
        }
        return mem;
}

static uint16_t get16(const uint8_t *p)
{
        return (uint16_t) (p[0] | p[1] << 8);
}

/* What a driver does to make n more chains available (whatever the ring entries say). */
static void driver_move_avail(const Virtqueue *vq, uint16_t n)
{
        uint16_t *idx = vq->avail + 1;

        __atomic_store_n(idx, htole16((uint16_t) (le16toh(*idx) + n)), __ATOMIC_RELEASE);
}

static bool inside_one_region(const GuestMemory *mem, const void *base, size_t len)
{
        uintptr_t b = (uintptr_t) base;

        for (unsigned i = 0; i < mem->n_regions; i++) {
                uintptr_t start = (uintptr_t) mem->host + mem->regions[i].offset;
                uint64_t rsize = mem->regions[i].size;

                if (b >= start && b - start <= rsize && len <= rsize - (b - start))
                        return true;
        }
        return false;
}

static void check_elem(const Virtqueue *vq, const GuestMemory *mem, const VirtqElem *elem)
{
        uint64_t out = 0, in = 0;

        check(elem->head < vq->size);
        check(elem->n_out + elem->n_in >= 1);
        check(elem->n_out + elem->n_in <= MIN(elem->capacity, vq->max_segments));
        check(elem->out == elem->iov);
        check(elem->in == elem->iov + elem->n_out);
        for (unsigned i = 0; i < elem->n_out + elem->n_in; i++) {
                check(elem->iov[i].iov_len > 0);
                check(inside_one_region(mem, elem->iov[i].iov_base, elem->iov[i].iov_len));
                if (i < elem->n_out)
                        out += elem->iov[i].iov_len;
                else
                        in += elem->iov[i].iov_len;
        }
        check(out == elem->out_bytes);
        check(in == elem->in_bytes);
        check(out + in <= VIRTQ_CHAIN_BYTES_MAX);
}

/* Reads every readable segment's ends and writes into the writable ones, as a device would. */
static uint32_t use_elem(const VirtqElem *elem, bool write_all)
{
        volatile uint8_t sink = 0;
        uint8_t header[24];
        size_t n;

        n = virtq_elem_read_out(elem, 0, header, sizeof header);
        check(n == MIN(sizeof header, (size_t) elem->out_bytes));
        n = virtq_elem_write_in(elem, elem->in_bytes / 2, header, n);
        check(n <= elem->in_bytes - elem->in_bytes / 2);

        for (unsigned i = 0; i < elem->n_out; i++) {
                const uint8_t *p = elem->out[i].iov_base;
                sink ^= p[0] ^ p[elem->out[i].iov_len - 1];
        }
        for (unsigned i = 0; i < elem->n_in; i++) {
                uint8_t *p = elem->in[i].iov_base;
                if (write_all)
                        memset(p, 0xa5, MIN(elem->in[i].iov_len, (size_t) 256));
                else
                        p[0] = p[elem->in[i].iov_len - 1] = 0x5a;
        }
        (void) sink;
        return elem->in_bytes;
}

static bool documented_error(int r)
{
        return r == -EPROTO || r == -EINVAL || r == -ELOOP || r == -EFAULT || r == -E2BIG || r == -EMSGSIZE;
}

static void check_broken(Virtqueue *vq, const GuestMemory *mem, VirtqElem *elem, int r)
{
        check(documented_error(r));
        check(virtq_is_broken(vq));
        check(virtq_broken_reason(vq));
        check(virtq_pop(vq, mem, elem) == r);
        check(virtq_push(vq, mem, 0, 0) == r);
        check(virtq_set_notification(vq, mem, true) == r);
        check(!virtq_needs_notification(vq, mem));
        check(!virtq_has_pending(vq, mem));
        virtq_reset(vq);
        check(!virtq_is_broken(vq));
        check(!vq->enabled);
        check(virtq_pop(vq, mem, elem) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static VirtqElem *elem;
        GuestMemory *mem = fuzz_memory();
        const uint8_t *h = data;
        VirtqUsedElem pending[64];
        unsigned n_pending = 0, segments;
        uint16_t start, advance;
        bool hold;
        uint64_t features = VIRTIO_FEATURE(VIRTIO_F_VERSION_1);
        uint64_t gpa[3];
        uint16_t qsize;
        size_t rest, low, high;
        Virtqueue vq;
        int r;

        if (size < HEADER_SIZE)
                return 0;
        if (!elem)
                check(virtq_elem_new(64, &elem) == 0);

        /* Guest memory: the rest of the input, then zeroes. */
        rest = size - HEADER_SIZE;
        low = MIN(rest, (size_t) REGION_SIZE);
        high = MIN(rest - low, (size_t) REGION_SIZE);
        memcpy(mem->host, data + HEADER_SIZE, low);
        memset(mem->host + low, 0, REGION_SIZE - low);
        memcpy(mem->host + mem->regions[1].offset, data + HEADER_SIZE + low, high);
        memset(mem->host + mem->regions[1].offset + high, 0, REGION_SIZE - high);

        qsize = (h[0] & 0x80) ? get16(h + 1) : (uint16_t) (1u << (h[0] % 16));
        if (h[3] & 1)
                features |= VIRTIO_FEATURE(VIRTIO_F_RING_INDIRECT_DESC);
        if (h[3] & 2)
                features |= VIRTIO_FEATURE(VIRTIO_F_RING_EVENT_IDX);
        segments = 1 + (h[3] >> 2);
        for (unsigned i = 0; i < 3; i++)
                gpa[i] = get16(h + 4 + 2 * i) + ((h[10] >> i) & 1 ? GUEST_MEM_HIGH_START : 0);

        check(virtq_init(&vq, 0, VIRTQ_SIZE_MAX, segments) == 0);
        check(virtq_set_size(&vq, qsize) == 0);
        check(virtq_set_addresses(&vq, gpa[0], gpa[1], gpa[2]) == 0);
        check(virtq_set_features(&vq, features) == 0);
        {
                const char *reason = NULL;

                r = virtq_enable(&vq, mem, &reason);
                if (r < 0) {
                        check(r == -EINVAL || r == -EFAULT);
                        check(reason);
                        check(!vq.enabled && !virtq_is_broken(&vq));
                        check(virtq_pop(&vq, mem, elem) == 0);
                        return 0;
                }
                check(!reason);
        }

        advance = h[12] & 3;
        hold = h[12] & 4;
        start = get16(h + 14);
        if (start != 0) {
                vq.last_avail_idx = vq.avail_idx_shadow = vq.used_idx = start;
                driver_move_avail(&vq, start);
        }

        /* Without overlapping rings, at most the queue size of chains are available; with them, what the
         * device writes may make more available, so the rounds are bounded. */
        for (unsigned round = 0; round < MAX_ROUNDS; round++) {
                uint32_t written;

                if (h[11] & 2)
                        (void) virtq_set_notification(&vq, mem, round % 2);
                if (advance)
                        driver_move_avail(&vq, advance);
                r = virtq_pop(&vq, mem, elem);
                if (r < 0) {
                        check_broken(&vq, mem, elem, r);
                        return 0;
                }
                if (r == 0) {
                        if (n_pending > 0) {
                                check(virtq_push_batch(&vq, mem, pending, n_pending) == 0);
                                n_pending = 0;
                        }
                        check(virtq_set_notification(&vq, mem, true) == 0);
                        /* Only a used ring overlapping avail->idx can have moved it. */
                        if (!virtq_has_pending(&vq, mem))
                                break;
                        continue;
                }
                check_elem(&vq, mem, elem);
                written = use_elem(elem, h[11] & 4);
                if (h[11] & 8)
                        written /= 2;
                if ((h[11] & 1) || hold) {
                        pending[n_pending++] = (VirtqUsedElem) { .id = elem->head, .len = written };
                        if (n_pending == ELEMENTSOF(pending) || (!hold && round % 3 == 0)) {
                                check(virtq_push_batch(&vq, mem, pending, n_pending) == 0);
                                n_pending = 0;
                        }
                } else
                        check(virtq_push(&vq, mem, elem->head, written) == 0);
                (void) virtq_needs_notification(&vq, mem);
        }
        if (n_pending > 0)
                check(virtq_push_batch(&vq, mem, pending, n_pending) == 0);
        (void) virtq_needs_notification(&vq, mem);
        check((uint16_t) (vq.last_avail_idx - vq.used_idx) == 0);
        return 0;
}
