/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "macro.h"

/*
 * Guest RAM: one memfd, mapped once in the VMM, so it can later be shared with other processes,
 * snapshotted and migrated. Below 4 GiB the RAM stops at the 32-bit device hole; the rest sits above
 * 4 GiB. Every device reaches guest memory through guest_memory_ptr(), which checks bounds.
 */

#define GUEST_MEM_32BIT_HOLE_START UINT64_C(0xc0000000)
#define GUEST_MEM_HIGH_START UINT64_C(0x100000000)

typedef struct GuestRegion {
        uint64_t gpa;
        uint64_t size;
        uint64_t offset; /* into the memfd and the host mapping */
} GuestRegion;

typedef struct GuestMemory {
        int fd;
        uint8_t *host;
        uint64_t size;
        unsigned n_regions;
        GuestRegion regions[2];
} GuestMemory;

int guest_memory_new(uint64_t size, bool shared, bool hugepages, bool prefault, GuestMemory **ret);
GuestMemory *guest_memory_free(GuestMemory *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(GuestMemory *, guest_memory_free);

/* Kernel same-page merging and transparent huge pages for the whole of guest RAM (best effort). */
void guest_memory_advise(GuestMemory *m, bool mergeable, bool thp);

/* Host pointer for [gpa, gpa+len) when the whole range is RAM inside one region, else NULL. */
void *guest_memory_ptr(const GuestMemory *m, uint64_t gpa, uint64_t len);
int guest_memory_write(const GuestMemory *m, uint64_t gpa, const void *buf, uint64_t len);
int guest_memory_read(const GuestMemory *m, uint64_t gpa, void *buf, uint64_t len);
/* End of the RAM below the 32-bit hole. */
uint64_t guest_memory_low_end(const GuestMemory *m);
/* Total size of the host's physical memory plus swap, for sanity checks on the requested size. */
int host_memory_limit(uint64_t *ret);
