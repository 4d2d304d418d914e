/* SPDX-License-Identifier: Apache-2.0 */
#include <endian.h>

#include "log.h"
#include "virtqueue.h"

/*
 * Guest memory words are read and written with __atomic builtins: a relaxed atomic access is one load or
 * store the compiler may neither split, repeat nor merge, so a value the guest changes concurrently is
 * seen once, whole. Ring words are naturally aligned (the alignment checks in virtq_enable() and a host
 * mapping that is page aligned per region ensure it).
 */

static inline uint16_t load_le16(const uint16_t *p)
{
        return le16toh(__atomic_load_n(p, __ATOMIC_RELAXED));
}

static inline void store_le16(uint16_t *p, uint16_t v)
{
        __atomic_store_n(p, htole16(v), __ATOMIC_RELAXED);
}

static inline uint16_t *avail_idx_word(const Virtqueue *vq)
{
        return vq->avail + 1;
}

static inline uint16_t *avail_ring_word(const Virtqueue *vq, uint16_t i)
{
        return vq->avail + 2 + (i & (vq->size - 1));
}

static inline uint16_t *used_event_word(const Virtqueue *vq)
{
        return vq->avail + 2 + vq->size;
}

static inline uint16_t *used_flags_word(const Virtqueue *vq)
{
        return (uint16_t *) vq->used;
}

static inline uint16_t *used_idx_word(const Virtqueue *vq)
{
        return (uint16_t *) vq->used + 1;
}

static inline uint32_t *used_ring_word(const Virtqueue *vq, uint16_t i)
{
        return (uint32_t *) (vq->used + 4) + 2 * (i & (vq->size - 1));
}

static inline uint16_t *avail_event_word(const Virtqueue *vq)
{
        return (uint16_t *) (vq->used + 4 + 8 * (size_t) vq->size);
}

/* One descriptor, each byte read once. Indirect tables need no alignment, so an unaligned one is read
 * byte by byte. */
static inline void desc_read(const uint8_t *p, VirtqDesc *ret)
{
        uint64_t w;

        if (_likely_(((uintptr_t) p & 7) == 0)) {
                ret->addr = le64toh(__atomic_load_n((const uint64_t *) p, __ATOMIC_RELAXED));
                w = le64toh(__atomic_load_n((const uint64_t *) (p + 8), __ATOMIC_RELAXED));
        } else {
                const volatile uint8_t *v = p;
                uint8_t b[16];

                for (size_t i = 0; i < sizeof b; i++)
                        b[i] = v[i];
                memcpy(&ret->addr, b, 8);
                memcpy(&w, b + 8, 8);
                ret->addr = le64toh(ret->addr);
                w = le64toh(w);
        }
        ret->len = (uint32_t) w;
        ret->flags = (uint16_t) (w >> 32);
        ret->next = (uint16_t) (w >> 48);
}

static int virtq_break(Virtqueue *vq, int error, const char *reason)
{
        vq->broken = true;
        vq->broken_error = error;
        vq->broken_reason = reason;
        log_debug("virtqueue %u: %s; the queue is stopped until the device is reset", vq->index, reason);
        return error;
}

int virtq_elem_new(unsigned capacity, VirtqElem **ret)
{
        VirtqElem *e;

        if (capacity == 0 || capacity > VIRTQ_SEGMENTS_LIMIT)
                return -EINVAL;
        e = calloc(1, sizeof *e + capacity * sizeof(struct iovec));
        if (!e)
                return -ENOMEM;
        e->capacity = capacity;
        e->out = e->in = e->iov;
        *ret = e;
        return 0;
}

VirtqElem *virtq_elem_free(VirtqElem *elem)
{
        free(elem);
        return NULL;
}

static size_t iov_copy(const struct iovec *iov, unsigned n, size_t offset, void *buf, size_t len,
                       bool to_iov)
{
        size_t done = 0;

        for (unsigned i = 0; i < n && done < len; i++) {
                size_t l;

                if (offset >= iov[i].iov_len) {
                        offset -= iov[i].iov_len;
                        continue;
                }
                l = MIN(iov[i].iov_len - offset, len - done);
                if (to_iov)
                        memcpy((uint8_t *) iov[i].iov_base + offset, (uint8_t *) buf + done, l);
                else
                        memcpy((uint8_t *) buf + done, (const uint8_t *) iov[i].iov_base + offset, l);
                done += l;
                offset = 0;
        }
        return done;
}

size_t virtq_elem_read_out(const VirtqElem *elem, size_t offset, void *buf, size_t len)
{
        return iov_copy(elem->out, elem->n_out, offset, buf, len, false);
}

size_t virtq_elem_write_in(const VirtqElem *elem, size_t offset, const void *buf, size_t len)
{
        return iov_copy(elem->in, elem->n_in, offset, (void *) buf, len, true);
}

int virtq_init(Virtqueue *vq, uint16_t index, uint16_t max_size, unsigned max_segments)
{
        if (!IS_POWER_OF_2(max_size) || max_size > VIRTQ_SIZE_MAX || max_segments > VIRTQ_SEGMENTS_LIMIT)
                return -EINVAL;
        *vq = (Virtqueue) {
                .index = index,
                .max_size = max_size,
                .max_segments = max_segments ?: VIRTQ_SEGMENTS_DEFAULT,
        };
        virtq_reset(vq);
        return 0;
}

void virtq_reset(Virtqueue *vq)
{
        *vq = (Virtqueue) {
                .index = vq->index,
                .max_size = vq->max_size,
                .max_segments = vq->max_segments,
                .size = vq->max_size,
        };
}

int virtq_set_size(Virtqueue *vq, uint16_t size)
{
        if (vq->enabled)
                return -EBUSY;
        vq->size = size;
        return 0;
}

int virtq_set_addresses(Virtqueue *vq, uint64_t desc, uint64_t avail, uint64_t used)
{
        if (vq->enabled)
                return -EBUSY;
        vq->desc_addr = desc;
        vq->avail_addr = avail;
        vq->used_addr = used;
        return 0;
}

int virtq_set_features(Virtqueue *vq, uint64_t features)
{
        if (vq->enabled)
                return -EBUSY;
        vq->event_idx = virtio_has_feature(features, VIRTIO_F_RING_EVENT_IDX);
        vq->indirect = virtio_has_feature(features, VIRTIO_F_RING_INDIRECT_DESC);
        return 0;
}

static int virtq_check_config(const Virtqueue *vq, const GuestMemory *mem, const char **reason)
{
        if (vq->enabled) {
                *reason = "queue is already enabled";
                return -EBUSY;
        }
        if (!IS_POWER_OF_2(vq->size)) {
                *reason = "queue size is not a power of two";
                return -EINVAL;
        }
        if (vq->size > vq->max_size) {
                *reason = "queue size is larger than the device's maximum";
                return -EINVAL;
        }
        if (vq->desc_addr % VIRTQ_DESC_ALIGN != 0) {
                *reason = "descriptor table is not 16-byte aligned";
                return -EINVAL;
        }
        if (vq->avail_addr % VIRTQ_AVAIL_ALIGN != 0) {
                *reason = "available ring is not 2-byte aligned";
                return -EINVAL;
        }
        if (vq->used_addr % VIRTQ_USED_ALIGN != 0) {
                *reason = "used ring is not 4-byte aligned";
                return -EINVAL;
        }
        if (!guest_memory_ptr(mem, vq->desc_addr, virtq_desc_table_bytes(vq->size))) {
                *reason = "descriptor table is not inside guest RAM";
                return -EFAULT;
        }
        if (!guest_memory_ptr(mem, vq->avail_addr, virtq_avail_ring_bytes(vq->size))) {
                *reason = "available ring is not inside guest RAM";
                return -EFAULT;
        }
        if (!guest_memory_ptr(mem, vq->used_addr, virtq_used_ring_bytes(vq->size))) {
                *reason = "used ring is not inside guest RAM";
                return -EFAULT;
        }
        return 0;
}

int virtq_enable(Virtqueue *vq, const GuestMemory *mem, const char **ret_reason)
{
        const char *reason = NULL;
        int r;

        r = virtq_check_config(vq, mem, &reason);
        if (ret_reason)
                *ret_reason = reason;
        if (r < 0) {
                log_debug("virtqueue %u: not enabled: %s", vq->index, reason);
                return r;
        }
        vq->desc = guest_memory_ptr(mem, vq->desc_addr, virtq_desc_table_bytes(vq->size));
        vq->avail = guest_memory_ptr(mem, vq->avail_addr, virtq_avail_ring_bytes(vq->size));
        vq->used = guest_memory_ptr(mem, vq->used_addr, virtq_used_ring_bytes(vq->size));
        vq->enabled = true;
        return 0;
}

/* Reads and validates avail->idx. Returns the number of entries the driver made available, or the
 * broken errno. */
static int virtq_refresh_avail(Virtqueue *vq)
{
        uint16_t idx, n;

        /* Acquire: the ring entries and descriptors the driver wrote before moving the index are read
         * after it. */
        idx = le16toh(__atomic_load_n(avail_idx_word(vq), __ATOMIC_ACQUIRE));
        n = (uint16_t) (idx - vq->last_avail_idx);
        if (n > vq->size)
                return virtq_break(vq, -EPROTO, "available index moved by more than the queue size");
        vq->avail_idx_shadow = idx;
        return n;
}

int virtq_pop(Virtqueue *vq, const GuestMemory *mem, VirtqElem *elem)
{
        const uint8_t *table;
        uint32_t table_len, idx, count = 0;
        unsigned n = 0, n_out = 0, cap;
        uint64_t total = 0, out_bytes = 0;
        bool in_indirect = false;
        uint16_t head;
        int r;

        if (_unlikely_(vq->broken))
                return vq->broken_error;
        if (_unlikely_(!vq->enabled))
                return 0;

        if (vq->last_avail_idx == vq->avail_idx_shadow) {
                r = virtq_refresh_avail(vq);
                if (r <= 0)
                        return r;
        }

        /* Each chain holds at least one descriptor of the table until it is returned: more in flight
         * than the queue has descriptors means the driver reuses descriptors the device still owns. */
        if ((uint16_t) (vq->last_avail_idx - vq->used_idx) >= vq->size)
                return virtq_break(vq, -EPROTO, "more chains in flight than the queue size");

        head = load_le16(avail_ring_word(vq, vq->last_avail_idx));
        if (head >= vq->size)
                return virtq_break(vq, -EINVAL, "head index out of range");

        cap = MIN(elem->capacity, vq->max_segments);
        table = vq->desc;
        table_len = vq->size;
        idx = head;

        for (;;) {
                VirtqDesc d;
                void *p;

                /* Every descriptor of a chain is distinct, so a chain cannot be longer than its table:
                 * this bounds the walk whatever the next fields say. */
                if (++count > table_len)
                        return virtq_break(vq, -ELOOP,
                                           in_indirect ? "indirect chain longer than its table (loop)"
                                                       : "descriptor chain longer than the queue (loop)");

                desc_read(table + (size_t) idx * sizeof(VirtqDesc), &d);

                if (d.flags & VIRTQ_DESC_F_INDIRECT) {
                        if (!vq->indirect)
                                return virtq_break(vq, -EINVAL, "indirect descriptor, not negotiated");
                        if (in_indirect)
                                return virtq_break(vq, -EINVAL, "indirect descriptor in an indirect table");
                        if (d.flags & VIRTQ_DESC_F_NEXT)
                                return virtq_break(vq, -EINVAL, "indirect descriptor with NEXT");
                        if (d.len == 0 || d.len % sizeof(VirtqDesc) != 0)
                                return virtq_break(vq, -EINVAL,
                                                   "indirect table length zero or not a multiple of 16");
                        table = guest_memory_ptr(mem, d.addr, d.len);
                        if (!table)
                                return virtq_break(vq, -EFAULT, "indirect table not inside guest RAM");
                        table_len = d.len / sizeof(VirtqDesc);
                        idx = 0;
                        count = 0;
                        in_indirect = true;
                        continue;
                }

                if (d.len == 0)
                        return virtq_break(vq, -EINVAL, "zero-length descriptor");
                if (!(d.flags & VIRTQ_DESC_F_WRITE) && n != n_out)
                        return virtq_break(vq, -EINVAL, "readable descriptor after a writable one");
                if (n >= cap)
                        return virtq_break(vq, -E2BIG, "too many segments in one chain");
                total += d.len;
                if (total > VIRTQ_CHAIN_BYTES_MAX)
                        return virtq_break(vq, -EMSGSIZE, "chain describes more than 4 GiB");
                p = guest_memory_ptr(mem, d.addr, d.len);
                if (!p)
                        return virtq_break(vq, -EFAULT, "buffer not inside guest RAM");

                elem->iov[n++] = (struct iovec) { .iov_base = p, .iov_len = d.len };
                if (!(d.flags & VIRTQ_DESC_F_WRITE)) {
                        n_out++;
                        out_bytes += d.len;
                }

                if (!(d.flags & VIRTQ_DESC_F_NEXT))
                        break;
                if (d.next >= table_len)
                        return virtq_break(vq, -EINVAL, "next index out of range");
                idx = d.next;
        }

        elem->head = head;
        elem->n_out = n_out;
        elem->n_in = n - n_out;
        elem->out_bytes = (uint32_t) out_bytes;
        elem->in_bytes = (uint32_t) (total - out_bytes);
        elem->out = elem->iov;
        elem->in = elem->iov + n_out;
        vq->last_avail_idx++;
        return 1;
}

int virtq_push_batch(Virtqueue *vq, const GuestMemory *mem, const VirtqUsedElem *elems, unsigned n)
{
        if (_unlikely_(vq->broken))
                return vq->broken_error;
        if (_unlikely_(!vq->enabled))
                return -ENODEV;
        if (n > (uint16_t) (vq->last_avail_idx - vq->used_idx))
                return -EINVAL;
        for (unsigned i = 0; i < n; i++)
                if (elems[i].id >= vq->size)
                        return -EINVAL;

        for (unsigned i = 0; i < n; i++) {
                uint32_t *w = used_ring_word(vq, (uint16_t) (vq->used_idx + i));

                __atomic_store_n(&w[0], htole32(elems[i].id), __ATOMIC_RELAXED);
                __atomic_store_n(&w[1], htole32(elems[i].len), __ATOMIC_RELAXED);
        }
        vq->used_idx = (uint16_t) (vq->used_idx + n);
        /* Release: the used entries, and whatever the device wrote into the buffers, are visible before
         * the index that hands them over. */
        __atomic_store_n(used_idx_word(vq), htole16(vq->used_idx), __ATOMIC_RELEASE);
        if (vq->used_since_signal <= UINT16_MAX)
                vq->used_since_signal += n;
        return 0;
}

int virtq_push(Virtqueue *vq, const GuestMemory *mem, uint16_t head, uint32_t written_len)
{
        return virtq_push_batch(vq, mem, &(VirtqUsedElem) { .id = head, .len = written_len }, 1);
}

bool virtq_needs_notification(Virtqueue *vq, const GuestMemory *mem)
{
        uint16_t old, event;
        bool valid;

        if (vq->broken || !vq->enabled)
                return false;

        /* The used index store must be visible before used_event or the flags are read: otherwise the
         * driver may decide to wait for an interrupt after the device decided not to send one. */
        __atomic_thread_fence(__ATOMIC_SEQ_CST);

        if (!vq->event_idx)
                return !(load_le16(vq->avail) & VIRTQ_AVAIL_F_NO_INTERRUPT);

        old = vq->signalled_used;
        /* 16-bit indices cannot tell whether used_event was passed over after 65536 pushes or more. */
        valid = vq->signalled_used_valid && vq->used_since_signal <= UINT16_MAX;
        event = load_le16(used_event_word(vq));
        vq->signalled_used = vq->used_idx;
        vq->signalled_used_valid = true;
        vq->used_since_signal = 0;
        return !valid || virtq_need_event(event, vq->used_idx, old);
}

int virtq_set_notification(Virtqueue *vq, const GuestMemory *mem, bool enable)
{
        if (vq->broken)
                return vq->broken_error;
        if (!vq->enabled)
                return -ENODEV;

        if (vq->event_idx) {
                if (enable)
                        store_le16(avail_event_word(vq), vq->last_avail_idx);
        } else
                store_le16(used_flags_word(vq), enable ? 0 : VIRTQ_USED_F_NO_NOTIFY);

        /* The store must be visible before the caller reads avail->idx again (virtq_has_pending()). */
        if (enable)
                __atomic_thread_fence(__ATOMIC_SEQ_CST);
        return 0;
}

bool virtq_has_pending(Virtqueue *vq, const GuestMemory *mem)
{
        if (vq->broken || !vq->enabled)
                return false;
        if (vq->last_avail_idx != vq->avail_idx_shadow)
                return true;
        return le16toh(__atomic_load_n(avail_idx_word(vq), __ATOMIC_ACQUIRE)) != vq->last_avail_idx;
}

int virtq_unpop(Virtqueue *vq, unsigned n)
{
        if (n > (uint16_t) (vq->last_avail_idx - vq->used_idx))
                return -EINVAL;
        vq->last_avail_idx = (uint16_t) (vq->last_avail_idx - n);
        return 0;
}
