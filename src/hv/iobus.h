/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <pthread.h>

#include "macro.h"

/*
 * One dispatch table for port I/O and one for MMIO: sorted, non-overlapping ranges that devices
 * register into, looked up by binary search from the vCPU threads. An access nobody claims is logged
 * once per address and ignored (reads return all ones), as on a real bus.
 */

typedef struct IoOps {
        void (*read)(void *opaque, uint64_t offset, uint8_t *data, uint32_t len);
        void (*write)(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len);
} IoOps;

typedef struct IoRange {
        uint64_t base;
        uint64_t len;
        const IoOps *ops;
        void *opaque;
        const char *name;
} IoRange;

typedef struct IoBus {
        const char *name; /* "pio" or "mmio", for log lines */
        pthread_rwlock_t lock;
        IoRange *ranges;
        size_t n, allocated;
        /* Addresses already reported as unclaimed (a small set: reporting is best effort). */
        pthread_mutex_t seen_lock;
        uint64_t seen[64];
        unsigned n_seen;
        uint64_t n_unclaimed;
} IoBus;

void iobus_init(IoBus *bus, const char *name);
void iobus_done(IoBus *bus);
/* -EEXIST when the range overlaps a registered one, -EINVAL for an empty or wrapping range. */
int iobus_register(IoBus *bus, uint64_t base, uint64_t len, const IoOps *ops, void *opaque,
                   const char *name) _must_check_;
int iobus_unregister(IoBus *bus, uint64_t base);
/* Returns true when a device claimed the access. */
bool iobus_read(IoBus *bus, uint64_t addr, uint8_t *data, uint32_t len);
bool iobus_write(IoBus *bus, uint64_t addr, const uint8_t *data, uint32_t len);
