/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * The driver side of a split virtqueue, as tests need it: it lays rings and descriptors out in guest
 * memory and reads back what the device returned. It writes whatever it is told, hostile values
 * included; every address it touches itself must be inside guest RAM.
 */

#include <endian.h>

#include "guest-memory.h"
#include "virtqueue.h"

typedef struct FakeDriver {
        const GuestMemory *mem;
        uint16_t size;
        uint64_t desc, avail, used;
        uint16_t avail_idx; /* what the driver last published in avail->idx */
} FakeDriver;

typedef struct FakeSeg {
        uint64_t addr;
        uint32_t len;
        bool write;
} FakeSeg;

static inline void *fake_ptr(const FakeDriver *d, uint64_t gpa, uint64_t len)
{
        void *p = guest_memory_ptr(d->mem, gpa, len);
        if (!p)
                abort();
        return p;
}

static inline void fake_put16(const FakeDriver *d, uint64_t gpa, uint16_t v)
{
        __atomic_store_n((uint16_t *) fake_ptr(d, gpa, 2), htole16(v), __ATOMIC_RELEASE);
}

static inline uint16_t fake_get16(const FakeDriver *d, uint64_t gpa)
{
        return le16toh(__atomic_load_n((uint16_t *) fake_ptr(d, gpa, 2), __ATOMIC_ACQUIRE));
}

static inline uint32_t fake_get32(const FakeDriver *d, uint64_t gpa)
{
        return le32toh(__atomic_load_n((uint32_t *) fake_ptr(d, gpa, 4), __ATOMIC_ACQUIRE));
}

/* Descriptor i of the table at gpa table. */
static inline void fake_desc_at(const FakeDriver *d, uint64_t table, uint32_t i, uint64_t addr, uint32_t len,
                                uint16_t flags, uint16_t next)
{
        VirtqDesc desc = {
                .addr = htole64(addr),
                .len = htole32(len),
                .flags = htole16(flags),
                .next = htole16(next),
        };
        memcpy(fake_ptr(d, table + UINT64_C(16) * i, sizeof desc), &desc, sizeof desc);
}

static inline void fake_desc(const FakeDriver *d, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
                             uint16_t next)
{
        fake_desc_at(d, d->desc, i, addr, len, flags, next);
}

/* segs as descriptors first, first + 1, ... (modulo table_len) of a table, linked with NEXT. */
static inline void fake_chain_at(const FakeDriver *d, uint64_t table, uint32_t table_len, uint32_t first,
                                 const FakeSeg *segs, unsigned n)
{
        for (unsigned i = 0; i < n; i++) {
                bool last = i + 1 == n;
                uint32_t idx = (first + i) % table_len, next = last ? 0 : (first + i + 1) % table_len;
                uint16_t flags = (segs[i].write ? VIRTQ_DESC_F_WRITE : 0) | (last ? 0 : VIRTQ_DESC_F_NEXT);

                fake_desc_at(d, table, idx, segs[i].addr, segs[i].len, flags, (uint16_t) next);
        }
}

static inline void fake_chain(const FakeDriver *d, uint16_t first, const FakeSeg *segs, unsigned n)
{
        fake_chain_at(d, d->desc, d->size, first, segs, n);
}

static inline void fake_set_avail_idx(FakeDriver *d, uint16_t idx)
{
        d->avail_idx = idx;
        fake_put16(d, d->avail + 2, idx);
}

/* Puts head in the next available ring entry, without publishing it. */
static inline void fake_avail_entry(const FakeDriver *d, uint16_t slot, uint16_t head)
{
        fake_put16(d, d->avail + 4 + UINT64_C(2) * (slot % d->size), head);
}

/* Makes the chain at head available. */
static inline void fake_kick(FakeDriver *d, uint16_t head)
{
        fake_avail_entry(d, d->avail_idx, head);
        fake_set_avail_idx(d, (uint16_t) (d->avail_idx + 1));
}

static inline void fake_set_avail_flags(const FakeDriver *d, uint16_t flags)
{
        fake_put16(d, d->avail, flags);
}

static inline void fake_set_used_event(const FakeDriver *d, uint16_t v)
{
        fake_put16(d, d->avail + 4 + UINT64_C(2) * d->size, v);
}

static inline uint16_t fake_used_flags(const FakeDriver *d)
{
        return fake_get16(d, d->used);
}

static inline uint16_t fake_used_idx(const FakeDriver *d)
{
        return fake_get16(d, d->used + 2);
}

static inline void fake_used_elem(const FakeDriver *d, uint16_t slot, uint32_t *id, uint32_t *len)
{
        uint64_t e = d->used + 4 + UINT64_C(8) * (slot % d->size);

        *id = fake_get32(d, e);
        *len = fake_get32(d, e + 4);
}

static inline uint16_t fake_avail_event(const FakeDriver *d)
{
        return fake_get16(d, d->used + 4 + UINT64_C(8) * d->size);
}
