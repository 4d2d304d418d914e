/* SPDX-License-Identifier: Apache-2.0 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "iobus.h"

/* A fake device that records its last access and answers reads with its id and the offset. */
typedef struct Dev {
        uint8_t id;
        unsigned reads, writes;
        uint64_t last_offset;
        uint32_t last_len;
        uint8_t last_data[8];
} Dev;

static void dev_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len)
{
        Dev *d = opaque;
        d->reads++;
        d->last_offset = offset;
        d->last_len = len;
        for (uint32_t i = 0; i < len; i++)
                data[i] = (uint8_t) (d->id + offset + i);
}

static void dev_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
        Dev *d = opaque;
        d->writes++;
        d->last_offset = offset;
        d->last_len = len;
        memcpy(d->last_data, data, MIN(len, (uint32_t) sizeof d->last_data));
}

static const IoOps dev_ops = { .read = dev_read, .write = dev_write };
static const IoOps write_only_ops = { .write = dev_write };
static const IoOps read_only_ops = { .read = dev_read };

static IoBus bus;

static void setup(void)
{
        iobus_init(&bus, "test");
}

static void teardown(void)
{
        iobus_done(&bus);
}

TestSuite(iobus, .init = setup, .fini = teardown);

Test(iobus, register_and_dispatch)
{
        Dev d = { .id = 0x10 };
        uint8_t data[4] = { 0 };

        cr_assert(eq(int, iobus_register(&bus, 0x3f8, 8, &dev_ops, &d, "serial"), 0));
        cr_assert(eq(int, iobus_read(&bus, 0x3f8, data, 1), true));
        cr_assert(eq(u8, data[0], 0x10));
        cr_assert(eq(u64, d.last_offset, 0));
        cr_assert(eq(int, iobus_read(&bus, 0x3fd, data, 1), true));
        cr_assert(eq(u8, data[0], 0x15));
        cr_assert(eq(u64, d.last_offset, 5));
        cr_assert(eq(u32, d.last_len, 1));

        cr_assert(eq(int, iobus_write(&bus, 0x3fb, (const uint8_t[]){ 0x83 }, 1), true));
        cr_assert(eq(uint, d.writes, 1));
        cr_assert(eq(u64, d.last_offset, 3));
        cr_assert(eq(u8, d.last_data[0], 0x83));

        /* The last byte of the range, and a multi-byte access that ends on it. */
        cr_assert(eq(int, iobus_read(&bus, 0x3ff, data, 1), true));
        cr_assert(eq(int, iobus_read(&bus, 0x3fc, data, 4), true));
        cr_assert(eq(u64, d.last_offset, 4));
        cr_assert(eq(u32, d.last_len, 4));
        cr_assert(eq(uint, d.reads, 4));
}

Test(iobus, unclaimed_reads_return_ones)
{
        Dev d = { .id = 1 };
        uint8_t data[8];

        memset(data, 0, sizeof data);
        cr_assert(eq(int, iobus_read(&bus, 0x80, data, 4), false));
        for (unsigned i = 0; i < 4; i++)
                cr_assert(eq(u8, data[i], 0xff));
        cr_assert(eq(u8, data[4], 0), "more than len bytes were filled");

        cr_assert(eq(int, iobus_register(&bus, 0x100, 0x10, &dev_ops, &d, "dev"), 0));
        memset(data, 0, sizeof data);
        cr_assert(eq(int, iobus_read(&bus, 0xff, data, 1), false));
        cr_assert(eq(u8, data[0], 0xff));
        cr_assert(eq(int, iobus_read(&bus, 0x110, data, 2), false));
        cr_assert(eq(u16, (uint16_t) (data[0] | data[1] << 8), 0xffff));
        cr_assert(eq(int, iobus_write(&bus, 0x110, data, 1), false));
        cr_assert(eq(uint, d.reads + d.writes, 0));
        cr_assert(eq(u64, bus.n_unclaimed, 4));
}

Test(iobus, unclaimed_reporting_is_bounded)
{
        uint8_t data[1];

        for (uint64_t a = 0; a < 200; a++)
                iobus_read(&bus, 0x1000 + a, data, 1);
        for (uint64_t a = 0; a < 200; a++)
                iobus_write(&bus, 0x1000 + a, data, 1);
        cr_assert(eq(u64, bus.n_unclaimed, 400));
        cr_assert(le(uint, bus.n_seen, (unsigned) ELEMENTSOF(bus.seen)));
}

Test(iobus, straddling_a_range_end_is_not_claimed)
{
        Dev d = { .id = 1 };
        uint8_t data[4] = { 0 };

        cr_assert(eq(int, iobus_register(&bus, 0x60, 5, &dev_ops, &d, "i8042"), 0));
        cr_assert(eq(int, iobus_read(&bus, 0x63, data, 4), false));
        cr_assert(eq(int, iobus_read(&bus, 0x64, data, 2), false));
        cr_assert(eq(int, iobus_write(&bus, 0x64, data, 4), false));
        /* Starting below the range and running into it. */
        cr_assert(eq(int, iobus_read(&bus, 0x5f, data, 2), false));
        cr_assert(eq(uint, d.reads + d.writes, 0));
        cr_assert(eq(int, iobus_read(&bus, 0x61, data, 4), true));
}

Test(iobus, straddling_two_adjacent_ranges_is_not_claimed)
{
        Dev a = { .id = 0x10 }, b = { .id = 0x20 };
        uint8_t data[4];

        cr_assert(eq(int, iobus_register(&bus, 0x70, 2, &dev_ops, &a, "a"), 0));
        cr_assert(eq(int, iobus_register(&bus, 0x72, 2, &dev_ops, &b, "b"), 0));
        cr_assert(eq(int, iobus_read(&bus, 0x71, data, 2), false));
        cr_assert(eq(uint, a.reads + b.reads, 0));
        cr_assert(eq(int, iobus_read(&bus, 0x72, data, 1), true));
        cr_assert(eq(u8, data[0], 0x20));
        cr_assert(eq(int, iobus_read(&bus, 0x71, data, 1), true));
        cr_assert(eq(u8, data[0], 0x11));
}

Test(iobus, overlap_is_rejected)
{
        Dev d = { .id = 1 };

        cr_assert(eq(int, iobus_register(&bus, 0x100, 0x10, &dev_ops, &d, "a"), 0));
        cr_assert(eq(int, iobus_register(&bus, 0x100, 0x10, &dev_ops, &d, "same"), -EEXIST));
        cr_assert(eq(int, iobus_register(&bus, 0x10f, 1, &dev_ops, &d, "last byte"), -EEXIST));
        cr_assert(eq(int, iobus_register(&bus, 0xf0, 0x11, &dev_ops, &d, "first byte"), -EEXIST));
        cr_assert(eq(int, iobus_register(&bus, 0x104, 2, &dev_ops, &d, "inside"), -EEXIST));
        cr_assert(eq(int, iobus_register(&bus, 0x80, 0x100, &dev_ops, &d, "around"), -EEXIST));
        cr_assert(eq(int, iobus_register(&bus, 0, UINT64_MAX, &dev_ops, &d, "everything"), -EEXIST));
        /* Adjacent on either side is fine. */
        cr_assert(eq(int, iobus_register(&bus, 0xf0, 0x10, &dev_ops, &d, "below"), 0));
        cr_assert(eq(int, iobus_register(&bus, 0x110, 0x10, &dev_ops, &d, "above"), 0));
        cr_assert(eq(sz, bus.n, 3));
}

Test(iobus, bad_ranges)
{
        Dev d = { .id = 1 };

        cr_assert(eq(int, iobus_register(&bus, 0x100, 0, &dev_ops, &d, "empty"), -EINVAL));
        cr_assert(eq(int, iobus_register(&bus, UINT64_MAX, 2, &dev_ops, &d, "wraps"), -EINVAL));
        cr_assert(eq(int, iobus_register(&bus, 2, UINT64_MAX, &dev_ops, &d, "wraps"), -EINVAL));
        cr_assert(eq(int, iobus_register(&bus, UINT64_MAX - 0xf, 0x11, &dev_ops, &d, "wraps"), -EINVAL));
        cr_assert(eq(sz, bus.n, 0));
        /* Up to the very last address is not a wrap. */
        cr_assert(eq(int, iobus_register(&bus, UINT64_MAX, 1, &dev_ops, &d, "last"), 0));
        cr_assert(eq(int, iobus_register(&bus, UINT64_MAX - 0xff, 0x100, &dev_ops, &d, "top"), -EEXIST));
        cr_assert(eq(int, iobus_read(&bus, UINT64_MAX, (uint8_t[1]){ 0 }, 1), true));
}

Test(iobus, whole_address_space)
{
        Dev d = { .id = 1 };
        uint8_t data[8];

        cr_assert(eq(int, iobus_register(&bus, 0, UINT64_MAX, &dev_ops, &d, "almost all"), 0));
        cr_assert(eq(int, iobus_read(&bus, 0, data, 8), true));
        cr_assert(eq(int, iobus_read(&bus, UINT64_MAX - 8, data, 8), true));
        cr_assert(eq(int, iobus_read(&bus, UINT64_MAX - 7, data, 8), false));
        cr_assert(eq(int, iobus_read(&bus, UINT64_MAX, data, 1), false));
}

Test(iobus, unregister)
{
        Dev a = { .id = 0x10 }, b = { .id = 0x20 };
        uint8_t data[1];

        cr_assert(eq(int, iobus_register(&bus, 0x100, 8, &dev_ops, &a, "a"), 0));
        cr_assert(eq(int, iobus_register(&bus, 0x200, 8, &dev_ops, &b, "b"), 0));
        /* Only the base of a range unregisters it. */
        cr_assert(eq(int, iobus_unregister(&bus, 0x104), -ENOENT));
        cr_assert(eq(int, iobus_unregister(&bus, 0x300), -ENOENT));
        cr_assert(eq(int, iobus_unregister(&bus, 0x100), 0));
        cr_assert(eq(int, iobus_unregister(&bus, 0x100), -ENOENT));
        cr_assert(eq(int, iobus_read(&bus, 0x100, data, 1), false));
        cr_assert(eq(int, iobus_read(&bus, 0x200, data, 1), true));
        cr_assert(eq(u8, data[0], 0x20));
        /* The space is free again. */
        cr_assert(eq(int, iobus_register(&bus, 0x100, 0x100, &dev_ops, &b, "bigger"), 0));
        cr_assert(eq(int, iobus_read(&bus, 0x1ff, data, 1), true));
        cr_assert(eq(u8, data[0], (uint8_t) (0x20 + 0xff)));
}

Test(iobus, missing_callbacks)
{
        Dev d = { .id = 7 };
        uint8_t data[2] = { 0, 0 };

        cr_assert(eq(int, iobus_register(&bus, 0x80, 1, &write_only_ops, &d, "debug"), 0));
        cr_assert(eq(int, iobus_register(&bus, 0x90, 1, &read_only_ops, &d, "ro"), 0));
        /* Claimed, but there is nothing to read: all ones. */
        cr_assert(eq(int, iobus_read(&bus, 0x80, data, 1), true));
        cr_assert(eq(u8, data[0], 0xff));
        cr_assert(eq(int, iobus_write(&bus, 0x90, data, 1), true));
        cr_assert(eq(uint, d.writes, 0));
}

/* xorshift64: deterministic shuffles. */
static uint64_t rnd(uint64_t *s)
{
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        return *s;
}

Test(iobus, many_ranges_in_random_order)
{
        enum { N = 500 };
        static Dev devs[N];
        unsigned order[N];
        uint64_t seed = 0x9e3779b97f4a7c15;
        uint8_t data[2];

        for (unsigned i = 0; i < N; i++) {
                order[i] = i;
                devs[i] = (Dev) { .id = (uint8_t) i };
        }
        for (unsigned i = N - 1; i > 0; i--) {
                unsigned j = (unsigned) (rnd(&seed) % (i + 1)), t = order[i];
                order[i] = order[j];
                order[j] = t;
        }
        /* Range i is [0x1000 + 16 i, +1 + i % 16): gaps of varying size between them. */
        for (unsigned k = 0; k < N; k++) {
                unsigned i = order[k];
                cr_assert(eq(int, iobus_register(&bus, 0x1000 + 16 * i, 1 + i % 16, &dev_ops, &devs[i], "r"),
                             0));
        }
        cr_assert(eq(sz, bus.n, N));
        for (size_t i = 1; i < bus.n; i++)
                cr_assert(lt(u64, bus.ranges[i - 1].base + bus.ranges[i - 1].len - 1, bus.ranges[i].base),
                          "ranges not sorted at %zu", i);

        for (unsigned i = 0; i < N; i++) {
                uint64_t base = 0x1000 + 16 * i, len = 1 + i % 16;
                cr_assert(eq(int, iobus_read(&bus, base, data, 1), true), "range %u", i);
                cr_assert(eq(u8, data[0], (uint8_t) i));
                cr_assert(eq(int, iobus_read(&bus, base + len - 1, data, 1), true), "range %u end", i);
                cr_assert(eq(u8, data[0], (uint8_t) (i + len - 1)));
                cr_assert(eq(ptr, bus.ranges[i].opaque, &devs[i]));
                if (len < 16)
                        cr_assert(eq(int, iobus_read(&bus, base + len, data, 1), false), "gap after %u", i);
                cr_assert(eq(int, iobus_read(&bus, base + len - 1, data, 2), false), "straddle at %u", i);
        }

        /* Remove every other range in another order; the rest still resolve. */
        for (unsigned k = 0; k < N; k++)
                if (order[k] % 2)
                        cr_assert(eq(int, iobus_unregister(&bus, 0x1000 + 16 * order[k]), 0));
        cr_assert(eq(sz, bus.n, N / 2));
        for (unsigned i = 0; i < N; i++) {
                bool claimed = iobus_read(&bus, 0x1000 + 16 * i, data, 1);
                cr_assert(eq(int, claimed, i % 2 == 0), "range %u", i);
        }
}

Test(iobus, init_done_reuse)
{
        Dev d = { .id = 3 };

        cr_assert(eq(int, iobus_register(&bus, 0x10, 1, &dev_ops, &d, "x"), 0));
        iobus_done(&bus);
        cr_assert(eq(sz, bus.n, 0));
        cr_assert(zero(ptr, bus.ranges));
        iobus_init(&bus, "again");
        cr_assert(eq(int, iobus_register(&bus, 0x10, 1, &dev_ops, &d, "x"), 0));
}
