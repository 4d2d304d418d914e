/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * Guest memory for tests whose regions are surrounded by inaccessible pages, so that any access just
 * outside guest RAM faults at once. Memory from guest_memory_new() cannot have such guards (one memfd,
 * one mapping), so this is an anonymous mapping described by a hand-made GuestMemory: region 0 at gpa 0,
 * region 1 (optional) at GUEST_MEM_HIGH_START, with a guard page before, between and after them.
 */

#include <sys/mman.h>

#include "guest-memory.h"

#define GUARD_PAGE UINT64_C(4096)

static inline uint64_t guarded_memory_span(uint64_t low, uint64_t high)
{
        return low + high + (high ? 3 : 2) * GUARD_PAGE;
}

static inline GuestMemory *guarded_memory_new(uint64_t low, uint64_t high)
{
        GuestMemory *m;
        uint8_t *map;

        if (low == 0 || low % GUARD_PAGE || high % GUARD_PAGE || low > GUEST_MEM_32BIT_HOLE_START)
                return NULL;
        m = calloc(1, sizeof *m);
        if (!m)
                return NULL;
        map = mmap(NULL, guarded_memory_span(low, high), PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (map == MAP_FAILED) {
                free(m);
                return NULL;
        }
        if (mprotect(map + GUARD_PAGE, low, PROT_READ | PROT_WRITE) < 0 ||
            (high && mprotect(map + 2 * GUARD_PAGE + low, high, PROT_READ | PROT_WRITE) < 0)) {
                (void) munmap(map, guarded_memory_span(low, high));
                free(m);
                return NULL;
        }
        *m = (GuestMemory) {
                .fd = -EBADF,
                .host = map + GUARD_PAGE,
                .size = low + high,
                .n_regions = high ? 2 : 1,
                .regions = {
                        { .gpa = 0, .size = low, .offset = 0 },
                        { .gpa = GUEST_MEM_HIGH_START, .size = high, .offset = low + GUARD_PAGE },
                },
        };
        return m;
}

static inline void guarded_memory_free(GuestMemory *m)
{
        if (!m)
                return;
        (void) munmap(m->host - GUARD_PAGE,
                      guarded_memory_span(m->regions[0].size, m->n_regions > 1 ? m->regions[1].size : 0));
        free(m);
}
