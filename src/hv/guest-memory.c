/* SPDX-License-Identifier: Apache-2.0 */
#include <inttypes.h>
#include <sys/mman.h>
#include <sys/sysinfo.h>

#include "guest-memory.h"

int host_memory_limit(uint64_t *ret)
{
        struct sysinfo si;

        if (sysinfo(&si) < 0)
                return negative_errno();
        *ret = ((uint64_t) si.totalram + (uint64_t) si.totalswap) * si.mem_unit;
        return *ret ? 0 : -ENODATA;
}

int guest_memory_new(uint64_t size, bool shared, bool hugepages, bool prefault, GuestMemory **ret)
{
        _cleanup_(guest_memory_freep) GuestMemory *m = NULL;
        unsigned flags = MFD_CLOEXEC | (hugepages ? MFD_HUGETLB : 0);
        int mmap_flags = MAP_SHARED | MAP_NORESERVE | (prefault ? MAP_POPULATE : 0);

        if (size == 0 || size % (4 * KiB))
                return -EINVAL;

        m = calloc(1, sizeof *m);
        if (!m)
                return -ENOMEM;
        m->fd = -EBADF;
        m->size = size;

        /* A memfd whatever "shared" says: the mapping is shared with the memfd either way, and a memfd
         * is what snapshot and migration work on. "shared" only matters to vhost-user backends. */
        (void) shared;
        m->fd = memfd_create("chv-guest-ram", flags);
        if (m->fd < 0)
                return negative_errno();
        if (ftruncate(m->fd, (off_t) size) < 0)
                return negative_errno();
        m->host = mmap(NULL, size, PROT_READ | PROT_WRITE, mmap_flags, m->fd, 0);
        if (m->host == MAP_FAILED) {
                m->host = NULL;
                return negative_errno();
        }
        /* Guest memory never goes into a core dump of the VMM. */
        (void) madvise(m->host, size, MADV_DONTDUMP);

        m->regions[0] = (GuestRegion) { .gpa = 0, .size = MIN(size, GUEST_MEM_32BIT_HOLE_START), .offset = 0 };
        m->n_regions = 1;
        if (size > GUEST_MEM_32BIT_HOLE_START) {
                m->regions[1] = (GuestRegion) {
                        .gpa = GUEST_MEM_HIGH_START,
                        .size = size - GUEST_MEM_32BIT_HOLE_START,
                        .offset = GUEST_MEM_32BIT_HOLE_START,
                };
                m->n_regions = 2;
        }
        *ret = TAKE_PTR(m);
        return 0;
}

void guest_memory_advise(GuestMemory *m, bool mergeable, bool thp)
{
        /* Both are hints: a kernel without KSM or THP says EINVAL, and the guest runs all the same. */
        if (mergeable)
                (void) madvise(m->host, m->size, MADV_MERGEABLE);
        (void) madvise(m->host, m->size, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
}

GuestMemory *guest_memory_free(GuestMemory *m)
{
        if (!m)
                return NULL;
        if (m->host)
                (void) munmap(m->host, m->size);
        safe_close(m->fd);
        free(m);
        return NULL;
}

void *guest_memory_ptr(const GuestMemory *m, uint64_t gpa, uint64_t len)
{
        for (unsigned i = 0; i < m->n_regions; i++) {
                const GuestRegion *r = &m->regions[i];
                if (gpa < r->gpa || gpa - r->gpa >= r->size)
                        continue;
                if (len > r->size - (gpa - r->gpa))
                        return NULL;
                return m->host + r->offset + (gpa - r->gpa);
        }
        return NULL;
}

int guest_memory_write(const GuestMemory *m, uint64_t gpa, const void *buf, uint64_t len)
{
        void *p = guest_memory_ptr(m, gpa, len);
        if (!p)
                return -EFAULT;
        memcpy(p, buf, len);
        return 0;
}

int guest_memory_read(const GuestMemory *m, uint64_t gpa, void *buf, uint64_t len)
{
        const void *p = guest_memory_ptr(m, gpa, len);
        if (!p)
                return -EFAULT;
        memcpy(buf, p, len);
        return 0;
}

uint64_t guest_memory_low_end(const GuestMemory *m)
{
        return m->regions[0].gpa + m->regions[0].size;
}
