/* SPDX-License-Identifier: Apache-2.0 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "guest-memory.h"

Test(guest_memory, small_has_one_region)
{
        _cleanup_(guest_memory_freep) GuestMemory *m = NULL;

        cr_assert(eq(int, guest_memory_new(64 * MiB, false, false, false, &m), 0));
        cr_assert(eq(uint, m->n_regions, 1));
        cr_assert(eq(u64, m->size, 64 * MiB));
        cr_assert(eq(u64, m->regions[0].gpa, 0));
        cr_assert(eq(u64, m->regions[0].size, 64 * MiB));
        cr_assert(eq(u64, m->regions[0].offset, 0));
        cr_assert(eq(u64, guest_memory_low_end(m), 64 * MiB));
        cr_assert(ge(int, m->fd, 0));
        cr_assert(not(zero(ptr, m->host)));
}

Test(guest_memory, memfd_is_the_backing)
{
        _cleanup_(guest_memory_freep) GuestMemory *m = NULL;
        struct stat st;
        uint8_t b = 0;

        cr_assert(eq(int, guest_memory_new(64 * MiB, true, false, false, &m), 0));
        cr_assert(eq(int, fstat(m->fd, &st), 0));
        cr_assert(eq(i64, (int64_t) st.st_size, (int64_t) (64 * MiB)));
        cr_assert(ne(int, fcntl(m->fd, F_GETFD) & FD_CLOEXEC, 0));
        /* A write through the mapping is visible through the fd: the mapping is shared. */
        cr_assert(eq(int, guest_memory_write(m, 0x123456, &(uint8_t) { 0x5a }, 1), 0));
        cr_assert(eq(i64, (int64_t) pread(m->fd, &b, 1, 0x123456), 1));
        cr_assert(eq(u8, b, 0x5a));
}

Test(guest_memory, exactly_3g_has_one_region)
{
        _cleanup_(guest_memory_freep) GuestMemory *m = NULL;

        cr_assert(eq(int, guest_memory_new(3 * GiB, false, false, false, &m), 0));
        cr_assert(eq(uint, m->n_regions, 1));
        cr_assert(eq(u64, guest_memory_low_end(m), 3 * GiB));
        cr_assert(zero(ptr, guest_memory_ptr(m, 3 * GiB, 1)));
        cr_assert(zero(ptr, guest_memory_ptr(m, 4 * GiB, 1)));
}

Test(guest_memory, above_3g_splits_around_the_hole)
{
        _cleanup_(guest_memory_freep) GuestMemory *m = NULL;
        uint64_t size = 3 * GiB + 4 * KiB;

        cr_assert(eq(int, guest_memory_new(size, false, false, false, &m), 0));
        cr_assert(eq(uint, m->n_regions, 2));
        cr_assert(eq(u64, m->regions[0].gpa, 0));
        cr_assert(eq(u64, m->regions[0].size, 3 * GiB));
        cr_assert(eq(u64, m->regions[1].gpa, 4 * GiB));
        cr_assert(eq(u64, m->regions[1].size, 4 * KiB));
        cr_assert(eq(u64, m->regions[1].offset, 3 * GiB));
        cr_assert(eq(u64, guest_memory_low_end(m), 3 * GiB));
        cr_assert(eq(u64, GUEST_MEM_32BIT_HOLE_START, 3 * GiB));
        cr_assert(eq(u64, GUEST_MEM_HIGH_START, 4 * GiB));
}

Test(guest_memory, bad_sizes)
{
        GuestMemory *m = (GuestMemory *) 0x1;

        cr_assert(eq(int, guest_memory_new(0, false, false, false, &m), -EINVAL));
        cr_assert(eq(int, guest_memory_new(4095, false, false, false, &m), -EINVAL));
        cr_assert(eq(int, guest_memory_new(64 * MiB + 1, false, false, false, &m), -EINVAL));
        cr_assert(eq(ptr, m, (void *) 0x1));
}

Test(guest_memory, free_null)
{
        cr_assert(zero(ptr, guest_memory_free(NULL)));
}

Test(guest_memory, ptr_bounds_low)
{
        _cleanup_(guest_memory_freep) GuestMemory *m = NULL;
        const uint64_t size = 64 * MiB;

        cr_assert(eq(int, guest_memory_new(size, false, false, false, &m), 0));
        cr_assert(eq(ptr, guest_memory_ptr(m, 0, size), m->host));
        cr_assert(eq(ptr, guest_memory_ptr(m, 0x1000, 16), m->host + 0x1000));
        /* The last byte is fine, one past is not. */
        cr_assert(eq(ptr, guest_memory_ptr(m, size - 1, 1), m->host + size - 1));
        cr_assert(zero(ptr, guest_memory_ptr(m, size - 1, 2)));
        cr_assert(zero(ptr, guest_memory_ptr(m, size, 1)));
        cr_assert(zero(ptr, guest_memory_ptr(m, 0, size + 1)));
        /* Wrapping lengths and addresses. */
        cr_assert(zero(ptr, guest_memory_ptr(m, 0x1000, UINT64_MAX)));
        cr_assert(zero(ptr, guest_memory_ptr(m, 0x1000, UINT64_MAX - 0xfff)));
        cr_assert(zero(ptr, guest_memory_ptr(m, 0x1000, UINT64_MAX - 0xffe)));
        cr_assert(zero(ptr, guest_memory_ptr(m, UINT64_MAX, 1)));
        cr_assert(zero(ptr, guest_memory_ptr(m, UINT64_MAX, UINT64_MAX)));
        cr_assert(zero(ptr, guest_memory_ptr(m, UINT64_MAX - 0xfff, 0x2000)));
}

Test(guest_memory, ptr_bounds_around_the_hole)
{
        _cleanup_(guest_memory_freep) GuestMemory *m = NULL;
        const uint64_t high = 64 * MiB;

        cr_assert(eq(int, guest_memory_new(3 * GiB + high, false, false, false, &m), 0));
        /* Last byte below the hole. */
        cr_assert(eq(ptr, guest_memory_ptr(m, 3 * GiB - 1, 1), m->host + 3 * GiB - 1));
        /* Spanning into the hole, or across it. */
        cr_assert(zero(ptr, guest_memory_ptr(m, 3 * GiB - 1, 2)));
        cr_assert(zero(ptr, guest_memory_ptr(m, 3 * GiB - 4096, 1 * GiB + 8192)));
        /* In the hole. */
        cr_assert(zero(ptr, guest_memory_ptr(m, 3 * GiB, 1)));
        cr_assert(zero(ptr, guest_memory_ptr(m, 0xfee00000, 4)));
        cr_assert(zero(ptr, guest_memory_ptr(m, 4 * GiB - 1, 1)));
        cr_assert(zero(ptr, guest_memory_ptr(m, 4 * GiB - 1, 2)));
        /* Above 4 GiB: the memfd continues where the low region stopped. */
        cr_assert(eq(ptr, guest_memory_ptr(m, 4 * GiB, 1), m->host + 3 * GiB));
        cr_assert(eq(ptr, guest_memory_ptr(m, 4 * GiB, high), m->host + 3 * GiB));
        cr_assert(eq(ptr, guest_memory_ptr(m, 4 * GiB + high - 1, 1), m->host + 3 * GiB + high - 1));
        cr_assert(zero(ptr, guest_memory_ptr(m, 4 * GiB, high + 1)));
        cr_assert(zero(ptr, guest_memory_ptr(m, 4 * GiB + high, 1)));
        cr_assert(zero(ptr, guest_memory_ptr(m, 4 * GiB + 0x1000, UINT64_MAX)));
        cr_assert(zero(ptr, guest_memory_ptr(m, 4 * GiB + 0x1000, UINT64_MAX - 0xfff)));
        cr_assert(zero(ptr, guest_memory_ptr(m, 3 * GiB + high, 1)), "memfd offset is not an address");
}

Test(guest_memory, read_write)
{
        _cleanup_(guest_memory_freep) GuestMemory *m = NULL;
        static const char msg[] = "hello, guest";
        char buf[sizeof msg] = "";
        uint8_t edge[4] = { 1, 2, 3, 4 }, back[4] = { 0 };

        cr_assert(eq(int, guest_memory_new(64 * MiB, false, false, false, &m), 0));
        cr_assert(eq(int, guest_memory_write(m, 0x20000, msg, sizeof msg), 0));
        cr_assert(eq(str, (char *) m->host + 0x20000, (char *) msg));
        cr_assert(eq(int, guest_memory_read(m, 0x20000, buf, sizeof buf), 0));
        cr_assert(eq(str, buf, (char *) msg));

        cr_assert(eq(int, guest_memory_write(m, 64 * MiB - 4, edge, 4), 0));
        cr_assert(eq(int, guest_memory_read(m, 64 * MiB - 4, back, 4), 0));
        cr_assert(eq(int, memcmp(edge, back, 4), 0));

        /* Out of bounds: -EFAULT and nothing copied. */
        memset(back, 0xee, sizeof back);
        cr_assert(eq(int, guest_memory_write(m, 64 * MiB - 3, edge, 4), -EFAULT));
        cr_assert(eq(int, guest_memory_read(m, 64 * MiB - 3, back, 4), -EFAULT));
        cr_assert(eq(u8, back[0], 0xee));
        cr_assert(eq(u8, m->host[64 * MiB - 3], 2), "a failed write changed memory");
        cr_assert(eq(int, guest_memory_write(m, UINT64_MAX, edge, 2), -EFAULT));
        cr_assert(eq(int, guest_memory_read(m, 64 * MiB, back, 1), -EFAULT));
}

Test(guest_memory, read_write_high_region)
{
        _cleanup_(guest_memory_freep) GuestMemory *m = NULL;
        uint32_t v = 0xfeedface, back = 0;

        cr_assert(eq(int, guest_memory_new(3 * GiB + 8 * KiB, false, false, false, &m), 0));
        cr_assert(eq(int, guest_memory_write(m, 4 * GiB + 0x1ffc, &v, sizeof v), 0));
        cr_assert(eq(int, guest_memory_read(m, 4 * GiB + 0x1ffc, &back, sizeof back), 0));
        cr_assert(eq(u32, back, v));
        cr_assert(eq(int, memcmp(m->host + 3 * GiB + 0x1ffc, &v, sizeof v), 0));
        cr_assert(eq(int, guest_memory_write(m, 4 * GiB + 0x1ffd, &v, sizeof v), -EFAULT));
        cr_assert(eq(int, guest_memory_write(m, 3 * GiB - 2, &v, sizeof v), -EFAULT));
}

Test(guest_memory, host_memory_limit)
{
        uint64_t limit = 0;

        cr_assert(eq(int, host_memory_limit(&limit), 0));
        cr_assert(gt(u64, limit, 16 * MiB));
}
