/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "pci.h"

/* The windows the tests' buses have. */
#define TEST_IO_BASE 0xc000u
#define TEST_IO_SIZE 0x4000u
#define TEST_MEM32_BASE 0xc0000000u
#define TEST_MEM32_SIZE (256 * MiB)
#define TEST_MEM64_BASE (64 * GiB)
#define TEST_MEM64_SIZE (64 * GiB)

typedef struct TestBus {
        IoBus mmio, pio;
        PciBus *bus;
} TestBus;

static inline void test_bus_init_windows(TestBus *t, PciWindow io, PciWindow mem32, PciWindow mem64)
{
        PciBusConfig config = { .mmio = &t->mmio, .pio = &t->pio, .io = io, .mem32 = mem32, .mem64 = mem64 };

        iobus_init(&t->mmio, "mmio");
        iobus_init(&t->pio, "pio");
        cr_assert(eq(int, pci_bus_new(&config, &t->bus), 0));
}

static inline void test_bus_init(TestBus *t)
{
        test_bus_init_windows(t, (PciWindow) { TEST_IO_BASE, TEST_IO_SIZE },
                              (PciWindow) { TEST_MEM32_BASE, TEST_MEM32_SIZE },
                              (PciWindow) { TEST_MEM64_BASE, TEST_MEM64_SIZE });
}

static inline void test_bus_done(TestBus *t)
{
        t->bus = pci_bus_free(t->bus);
        iobus_done(&t->mmio);
        iobus_done(&t->pio);
}

static inline uint32_t le32(const uint8_t *b)
{
        return (uint32_t) b[0] | (uint32_t) b[1] << 8 | (uint32_t) b[2] << 16 | (uint32_t) b[3] << 24;
}

static inline void put_le32(uint8_t *b, uint32_t v)
{
        for (unsigned i = 0; i < 4; i++)
                b[i] = (uint8_t) (v >> (8 * i));
}

static inline uint32_t cfg_read(PciBus *bus, unsigned slot, uint32_t offset, uint32_t len)
{
        uint8_t b[4] = { 0 };
        uint32_t v = 0;

        pci_bus_config_read(bus, 0, slot, 0, offset, b, len);
        for (uint32_t i = 0; i < len; i++)
                v |= (uint32_t) b[i] << (8 * i);
        return v;
}

static inline void cfg_write(PciBus *bus, unsigned slot, uint32_t offset, uint32_t len, uint32_t v)
{
        uint8_t b[4];

        for (uint32_t i = 0; i < len; i++)
                b[i] = (uint8_t) (v >> (8 * i));
        pci_bus_config_write(bus, 0, slot, 0, offset, b, len);
}

#define cfg_read8(bus, slot, off) ((uint8_t) cfg_read(bus, slot, off, 1))
#define cfg_read16(bus, slot, off) ((uint16_t) cfg_read(bus, slot, off, 2))
#define cfg_read32(bus, slot, off) cfg_read(bus, slot, off, 4)
#define cfg_write8(bus, slot, off, v) cfg_write(bus, slot, off, 1, v)
#define cfg_write16(bus, slot, off, v) cfg_write(bus, slot, off, 2, v)
#define cfg_write32(bus, slot, off, v) cfg_write(bus, slot, off, 4, v)

static inline uint32_t io_read(IoBus *bus, uint64_t addr, uint32_t len, bool *claimed)
{
        uint8_t b[8] = { 0 };
        uint32_t v = 0;
        bool c = iobus_read(bus, addr, b, len);

        if (claimed)
                *claimed = c;
        for (uint32_t i = 0; i < MIN(len, 4u); i++)
                v |= (uint32_t) b[i] << (8 * i);
        return v;
}

static inline uint64_t io_read64(IoBus *bus, uint64_t addr)
{
        uint8_t b[8] = { 0 };
        uint64_t v = 0;

        (void) iobus_read(bus, addr, b, 8);
        for (unsigned i = 0; i < 8; i++)
                v |= (uint64_t) b[i] << (8 * i);
        return v;
}

static inline bool io_write(IoBus *bus, uint64_t addr, uint32_t len, uint64_t v)
{
        uint8_t b[8];

        for (uint32_t i = 0; i < len && i < 8; i++)
                b[i] = (uint8_t) (v >> (8 * i));
        return iobus_write(bus, addr, b, len);
}

/* A device model that records accesses to its BARs. */
typedef struct FakeDev {
        unsigned reads, writes;
        uint64_t last_offset;
        uint32_t last_len;
        uint64_t last_value;
        uint8_t tag;
} FakeDev;

static inline void fake_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len)
{
        FakeDev *f = opaque;
        f->reads++;
        f->last_offset = offset;
        f->last_len = len;
        for (uint32_t i = 0; i < len; i++)
                data[i] = (uint8_t) (f->tag + offset + i);
}

static inline void fake_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
        FakeDev *f = opaque;
        f->writes++;
        f->last_offset = offset;
        f->last_len = len;
        f->last_value = 0;
        for (uint32_t i = 0; i < len && i < 8; i++)
                f->last_value |= (uint64_t) data[i] << (8 * i);
}

static const IoOps fake_ops _unused_ = { .read = fake_read, .write = fake_write };

/* An integrator that records what the library tells it. */
typedef struct CallRecord {
        char kind; /* 'd'eliver, 'v'ector_changed, 'b'ar_moved, 'i'ntx */
        uint16_t vector;
        unsigned bar;
        uint64_t addr, old_addr;
        uint32_t data;
        bool flag; /* masked, mapped or level */
} CallRecord;

typedef struct Recorder {
        CallRecord calls[8192];
        unsigned n;
} Recorder;

static inline void rec_push(Recorder *r, CallRecord c)
{
        if (r->n < ELEMENTSOF(r->calls))
                r->calls[r->n] = c;
        r->n++;
}

static inline void rec_deliver(void *ctx, uint16_t vector, uint64_t addr, uint32_t data)
{
        rec_push(ctx, (CallRecord) { .kind = 'd', .vector = vector, .addr = addr, .data = data });
}

static inline void rec_vector_changed(void *ctx, uint16_t vector, uint64_t addr, uint32_t data, bool masked)
{
        rec_push(ctx, (CallRecord) {
                .kind = 'v', .vector = vector, .addr = addr, .data = data, .flag = masked });
}

static inline void rec_bar_moved(void *ctx, unsigned bar, uint64_t old_addr, uint64_t new_addr, bool mapped)
{
        rec_push(ctx, (CallRecord) {
                .kind = 'b', .bar = bar, .old_addr = old_addr, .addr = new_addr, .flag = mapped });
}

static inline void rec_intx(void *ctx, bool level)
{
        rec_push(ctx, (CallRecord) { .kind = 'i', .flag = level });
}

static const PciDeviceCallbacks rec_callbacks _unused_ = {
        .deliver = rec_deliver,
        .vector_changed = rec_vector_changed,
        .bar_moved = rec_bar_moved,
        .intx = rec_intx,
};

static inline unsigned rec_count(const Recorder *r, char kind)
{
        unsigned n = 0;
        for (unsigned i = 0; i < MIN(r->n, (unsigned) ELEMENTSOF(r->calls)); i++)
                n += r->calls[i].kind == kind;
        return n;
}

/* The last call of a kind, or NULL. */
static inline const CallRecord *rec_last(const Recorder *r, char kind)
{
        for (unsigned i = MIN(r->n, (unsigned) ELEMENTSOF(r->calls)); i > 0; i--)
                if (r->calls[i - 1].kind == kind)
                        return &r->calls[i - 1];
        return NULL;
}

static inline PciDevice *test_device_new(const char *name, uint16_t device_id)
{
        PciDeviceInfo info = {
                .vendor_id = 0x1af4,
                .device_id = device_id,
                .subsystem_vendor_id = 0x1af4,
                .subsystem_id = 0x0042,
                .class_code = 0x018000,
                .revision = 1,
                .interrupt_pin = 1,
                .interrupt_line = 5,
        };
        PciDevice *dev = NULL;

        cr_assert(eq(int, pci_device_new(name, &info, &dev), 0));
        return dev;
}
