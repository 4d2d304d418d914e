/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <sys/uio.h>

#include "guest-memory.h"
#include "virtio.h"

/*
 * The device side of one split virtqueue (virtio 1.x, modern interface only).
 *
 * Everything in the rings comes from the guest and is treated as hostile: the guest may write any value,
 * and may change guest memory while the device reads it. Every word of a ring or a descriptor is read
 * once into a local before it is checked and used; the available index is read with acquire ordering
 * before the ring entries and descriptors it covers, and the used index is published with release
 * ordering after the used entries. A guest that breaks the rules gets a negative errno and a broken
 * queue: nothing more is taken from or written to it until virtq_reset(). The transport then reports
 * VIRTIO_STATUS_NEEDS_RESET to the driver.
 *
 * No transport, no KVM, no eventfd here: the transport fills in the configuration the driver writes,
 * enables the queue, and a device thread pops, processes and pushes. A Virtqueue is not locked; one
 * thread at a time uses it (the transport's configuration writes happen while the queue is disabled or
 * the device is stopped).
 *
 * Lifetime of host pointers: the iovecs in a VirtqElem, and the ring pointers cached at virtq_enable(),
 * point into the guest memory mapping. That mapping stays in place for as long as the VM exists (guest
 * RAM is never unmapped or moved while vCPUs or device threads run), so an element may be kept and
 * completed later, from another thread, as long as the queue is not reset meanwhile. What the buffers
 * contain is guest-controlled and may change at any time: a device copies a request header out of the
 * element once (virtq_elem_read_out()) before it checks it.
 *
 * The mem argument of every call is the guest memory the queue was enabled with.
 */

/* Descriptor flags. */
#define VIRTQ_DESC_F_NEXT     UINT16_C(1)
#define VIRTQ_DESC_F_WRITE    UINT16_C(2)
#define VIRTQ_DESC_F_INDIRECT UINT16_C(4)

/* avail->flags: the driver asks for no used buffer notifications (ignored with EVENT_IDX). */
#define VIRTQ_AVAIL_F_NO_INTERRUPT UINT16_C(1)
/* used->flags: the device asks for no available buffer notifications (ignored with EVENT_IDX). */
#define VIRTQ_USED_F_NO_NOTIFY UINT16_C(1)

#define VIRTQ_SIZE_MAX         UINT16_C(32768)
/* Segments one element may have unless virtq_init() is told otherwise (the kernel's IOV_MAX). */
#define VIRTQ_SEGMENTS_DEFAULT 1024u
/* The most segments an element or a queue may be configured for. */
#define VIRTQ_SEGMENTS_LIMIT (1u << 20)
/* Bytes one chain may describe, readable and writable together: a used length is 32 bits. */
#define VIRTQ_CHAIN_BYTES_MAX UINT64_C(0xffffffff)

#define VIRTQ_DESC_ALIGN      16
#define VIRTQ_AVAIL_ALIGN     2
#define VIRTQ_USED_ALIGN      4

/* Layout in guest memory, all fields little-endian. */
typedef struct VirtqDesc {
        uint64_t addr;
        uint32_t len;
        uint16_t flags;
        uint16_t next;
} VirtqDesc;

typedef struct VirtqUsedElem {
        uint32_t id;  /* head index of the chain */
        uint32_t len; /* bytes the device wrote into the chain's writable segments */
} VirtqUsedElem;

_Static_assert(sizeof(VirtqDesc) == 16, "descriptor layout");
_Static_assert(sizeof(VirtqUsedElem) == 8, "used element layout");

/* Ring sizes in bytes for a queue of the given size, including used_event and avail_event. */
static inline uint64_t virtq_desc_table_bytes(unsigned size)
{
        return UINT64_C(16) * size;
}

static inline uint64_t virtq_avail_ring_bytes(unsigned size)
{
        return UINT64_C(6) + UINT64_C(2) * size;
}

static inline uint64_t virtq_used_ring_bytes(unsigned size)
{
        return UINT64_C(6) + UINT64_C(8) * size;
}

/*
 * The EVENT_IDX rule: having moved an index from old to new, notify when event lies in [old, new),
 * computed modulo 2^16.
 */
static inline bool virtq_need_event(uint16_t event, uint16_t new_idx, uint16_t old_idx)
{
        return (uint16_t) (new_idx - event - 1) < (uint16_t) (new_idx - old_idx);
}

typedef struct Virtqueue {
        /* Fixed by virtq_init(). */
        uint16_t index; /* the queue's number in its device, for log messages */
        uint16_t max_size;
        unsigned max_segments;

        /* What the driver configured; written by the transport while the queue is disabled. */
        uint16_t size;
        uint64_t desc_addr, avail_addr, used_addr;
        bool event_idx; /* VIRTIO_F_RING_EVENT_IDX negotiated */
        bool indirect;  /* VIRTIO_F_RING_INDIRECT_DESC negotiated */

        bool enabled;
        bool broken;
        int broken_error;
        const char *broken_reason;

        uint16_t last_avail_idx;   /* next available ring entry the device takes */
        uint16_t avail_idx_shadow; /* avail->idx as last read and validated */
        uint16_t used_idx;         /* next used ring entry; what used->idx says */
        uint16_t signalled_used;   /* used_idx when virtq_needs_notification() last ran */
        bool signalled_used_valid;
        uint32_t used_since_signal; /* entries pushed since then, counted up to past 65535 */

        /* Host addresses of the rings, set by virtq_enable(). */
        const uint8_t *desc;
        uint16_t *avail; /* flags, idx, ring[size], used_event */
        uint8_t *used;   /* flags, idx, ring[size] of VirtqUsedElem, avail_event */
} Virtqueue;

/*
 * One chain taken from the available ring. iov[0..n_out) are the device-readable segments, in chain
 * order, and iov[n_out..n_out+n_in) the device-writable ones; out and in point at the two parts.
 */
typedef struct VirtqElem {
        uint16_t head;
        unsigned n_out, n_in;
        uint32_t out_bytes, in_bytes;
        struct iovec *out, *in;
        unsigned capacity;
        struct iovec iov[];
} VirtqElem;

/* An element that can hold up to capacity (1..VIRTQ_SEGMENTS_LIMIT) segments; pops into it are limited
 * to that many. */
int virtq_elem_new(unsigned capacity, VirtqElem **ret);
VirtqElem *virtq_elem_free(VirtqElem *elem);
DEFINE_TRIVIAL_CLEANUP_FUNC(VirtqElem *, virtq_elem_free);

/*
 * Copy out of the readable segments, or into the writable segments, starting at byte offset of that part
 * of the element. Returns the number of bytes copied, short when the segments end first.
 */
size_t virtq_elem_read_out(const VirtqElem *elem, size_t offset, void *buf, size_t len);
size_t virtq_elem_write_in(const VirtqElem *elem, size_t offset, const void *buf, size_t len);

/*
 * max_size: the largest size the device offers (a power of two, at most 32768); the queue starts with
 * this size. max_segments: the most segments one chain may have (0: VIRTQ_SEGMENTS_DEFAULT, at most
 * VIRTQ_SEGMENTS_LIMIT).
 */
int virtq_init(Virtqueue *vq, uint16_t index, uint16_t max_size, unsigned max_segments);

/* Back to the state after virtq_init(): disabled, size max_size, addresses 0, indices 0, not broken. */
void virtq_reset(Virtqueue *vq);

/*
 * Configuration, only while the queue is disabled (-EBUSY otherwise). The size is not checked here: the
 * driver may write any value, and virtq_enable() rejects a bad one. virtq_set_features() takes the
 * negotiated device features and keeps what concerns the ring.
 */
int virtq_set_size(Virtqueue *vq, uint16_t size);
int virtq_set_addresses(Virtqueue *vq, uint64_t desc, uint64_t avail, uint64_t used);
int virtq_set_features(Virtqueue *vq, uint64_t features);

/*
 * Checks the configuration and enables the queue: size a power of two no larger than max_size, the
 * descriptor table 16-byte, the available ring 2-byte and the used ring 4-byte aligned, each entirely
 * inside guest RAM (in one region). Errors: -EBUSY (already enabled), -EINVAL (size or alignment),
 * -EFAULT (a ring outside guest RAM). The reason, a static string, goes to *ret_reason when not NULL.
 * A failed enable leaves the queue disabled and not broken.
 */
int virtq_enable(Virtqueue *vq, const GuestMemory *mem, const char **ret_reason);

/*
 * Takes the next available chain into elem. Returns 1 when an element was taken, 0 when the ring is
 * empty (or the queue is not enabled), and a negative errno when the guest put something invalid in the
 * ring; the queue is then broken, and every later call fails with the same errno until virtq_reset().
 *
 *   -EPROTO     avail->idx moved by more than the queue size, or more chains are in flight than the
 *               queue has descriptors
 *   -EINVAL     head or next index out of range, zero-length descriptor, readable segment after a
 *               writable one, INDIRECT not negotiated, with NEXT, inside an indirect table, or with a
 *               length that is zero or not a multiple of 16
 *   -ELOOP      a chain longer than the queue size (or than its indirect table): a loop
 *   -EFAULT     a buffer or an indirect table not entirely inside guest RAM (in one region)
 *   -E2BIG      more segments than the queue's max_segments or the element's capacity
 *   -EMSGSIZE   more than VIRTQ_CHAIN_BYTES_MAX bytes in the chain
 *
 * Zero-length descriptors are rejected: drivers do not produce them, and refusing them keeps every
 * segment a real range of guest RAM. On failure elem's contents are undefined and nothing was consumed.
 * Every element taken must eventually be pushed (with length 0 when nothing was written).
 */
int virtq_pop(Virtqueue *vq, const GuestMemory *mem, VirtqElem *elem);

/*
 * Puts the last n elements taken back in the available ring, unused, as if they had not been popped (a
 * device that needs several chains at once and finds too few). -EINVAL when fewer are in flight.
 */
int virtq_unpop(Virtqueue *vq, unsigned n);

/*
 * Returns chains to the driver: writes used elements and then publishes the used index (release). The
 * heads must come from elements taken by virtq_pop(), in any order. -EINVAL when a head is out of range or
 * more elements are pushed than are in flight (nothing is written then), -ENODEV when the queue is not
 * enabled, the broken errno when it is broken.
 */
int virtq_push(Virtqueue *vq, const GuestMemory *mem, uint16_t head, uint32_t written_len);
int virtq_push_batch(Virtqueue *vq, const GuestMemory *mem, const VirtqUsedElem *elems, unsigned n);

/*
 * After pushing: whether the driver wants a used buffer notification. With EVENT_IDX, whether used_event
 * lies in the entries pushed since the previous call; without, whether avail->flags lacks NO_INTERRUPT.
 * False when the queue is disabled or broken.
 */
bool virtq_needs_notification(Virtqueue *vq, const GuestMemory *mem);

/*
 * Available buffer notifications from the driver: off while the device is busy draining the ring, on
 * before it sleeps. With EVENT_IDX, enabling writes avail_event (the next entry the device will take) and
 * disabling writes nothing; without, used->flags gets or loses NO_NOTIFY. After enabling, call
 * virtq_has_pending(): a chain made available just before the driver saw the change sends no
 * notification. Enabling includes the full barrier that makes this re-check sound.
 */
int virtq_set_notification(Virtqueue *vq, const GuestMemory *mem, bool enable);

/* Whether avail->idx has moved past what the device took (read with acquire ordering). */
bool virtq_has_pending(Virtqueue *vq, const GuestMemory *mem);

static inline bool virtq_is_broken(const Virtqueue *vq)
{
        return vq->broken;
}

/* Why the queue broke, or NULL. */
static inline const char *virtq_broken_reason(const Virtqueue *vq)
{
        return vq->broken ? vq->broken_reason : NULL;
}
