/* SPDX-License-Identifier: Apache-2.0 */
#include <inttypes.h>

#include "iobus.h"
#include "log.h"

void iobus_init(IoBus *bus, const char *name)
{
        *bus = (IoBus) { .name = name };
        pthread_rwlock_init(&bus->lock, NULL);
        pthread_mutex_init(&bus->seen_lock, NULL);
}

void iobus_done(IoBus *bus)
{
        free(bus->ranges);
        pthread_rwlock_destroy(&bus->lock);
        pthread_mutex_destroy(&bus->seen_lock);
        bus->ranges = NULL;
        bus->n = bus->allocated = 0;
}

/* Index of the first range whose end is above addr. */
static size_t iobus_lower_bound(const IoBus *bus, uint64_t addr)
{
        size_t lo = 0, hi = bus->n;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (bus->ranges[mid].base + bus->ranges[mid].len - 1 < addr)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

int iobus_register(IoBus *bus, uint64_t base, uint64_t len, const IoOps *ops, void *opaque, const char *name)
{
        uint64_t last;
        size_t i;
        int r = 0;

        if (len == 0 || add_overflows_u64(base, len - 1, &last))
                return -EINVAL;

        pthread_rwlock_wrlock(&bus->lock);
        i = iobus_lower_bound(bus, base);
        if (i < bus->n && bus->ranges[i].base <= last) {
                r = -EEXIST;
                goto out;
        }
        if (bus->n == bus->allocated) {
                size_t na = bus->allocated ? bus->allocated * 2 : 16;
                IoRange *nr = realloc(bus->ranges, na * sizeof *nr);
                if (!nr) {
                        r = -ENOMEM;
                        goto out;
                }
                bus->ranges = nr;
                bus->allocated = na;
        }
        memmove(bus->ranges + i + 1, bus->ranges + i, (bus->n - i) * sizeof *bus->ranges);
        bus->ranges[i] = (IoRange) { .base = base, .len = len, .ops = ops, .opaque = opaque, .name = name };
        bus->n++;
out:
        pthread_rwlock_unlock(&bus->lock);
        return r;
}

int iobus_unregister(IoBus *bus, uint64_t base)
{
        int r = -ENOENT;
        pthread_rwlock_wrlock(&bus->lock);
        size_t i = iobus_lower_bound(bus, base);
        if (i < bus->n && bus->ranges[i].base == base) {
                memmove(bus->ranges + i, bus->ranges + i + 1, (bus->n - i - 1) * sizeof *bus->ranges);
                bus->n--;
                r = 0;
        }
        pthread_rwlock_unlock(&bus->lock);
        return r;
}

static void iobus_report_unclaimed(IoBus *bus, uint64_t addr, uint32_t len, bool write)
{
        bool report = true;

        pthread_mutex_lock(&bus->seen_lock);
        bus->n_unclaimed++;
        for (unsigned i = 0; i < bus->n_seen && report; i++)
                if (bus->seen[i] == addr)
                        report = false;
        if (report) {
                if (bus->n_seen < ELEMENTSOF(bus->seen))
                        bus->seen[bus->n_seen++] = addr;
                else
                        report = false; /* Enough said: a guest probing everything is not news. */
        }
        pthread_mutex_unlock(&bus->seen_lock);
        if (report)
                log_info("Unclaimed %s %s of %" PRIu32 " bytes at 0x%" PRIx64 ", ignoring (reported once)",
                         bus->name, write ? "write" : "read", len, addr);
}

static bool iobus_access(IoBus *bus, uint64_t addr, uint8_t *data, uint32_t len, bool write)
{
        const IoRange *range = NULL;
        IoRange copy;

        pthread_rwlock_rdlock(&bus->lock);
        size_t i = iobus_lower_bound(bus, addr);
        if (i < bus->n && bus->ranges[i].base <= addr && len <= bus->ranges[i].len - (addr - bus->ranges[i].base)) {
                copy = bus->ranges[i];
                range = &copy;
        }
        pthread_rwlock_unlock(&bus->lock);

        if (!range) {
                iobus_report_unclaimed(bus, addr, len, write);
                if (!write)
                        memset(data, 0xff, len);
                return false;
        }
        if (write) {
                if (range->ops->write)
                        range->ops->write(range->opaque, addr - range->base, data, len);
        } else {
                if (range->ops->read)
                        range->ops->read(range->opaque, addr - range->base, data, len);
                else
                        memset(data, 0xff, len);
        }
        return true;
}

bool iobus_read(IoBus *bus, uint64_t addr, uint8_t *data, uint32_t len)
{
        return iobus_access(bus, addr, data, len, false);
}

bool iobus_write(IoBus *bus, uint64_t addr, const uint8_t *data, uint32_t len)
{
        return iobus_access(bus, addr, (uint8_t *) data, len, true);
}
