/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The virtio-pci transport with the block and rng devices, driven the way a guest driver drives them:
 * config space through the PCI bus, registers through MMIO on the IoBus, rings in guest memory. No KVM:
 * queue notifications take the transport's slow path (no ioeventfd), MSI-X messages are recorded.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <sys/socket.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_pci.h>
#include <poll.h>
#include <stddef.h>
#include <time.h>

#include "../pci/pci-test.h"
#include "fake-driver.h"
#include "virtio-blk.h"
#include "virtio-console.h"
#include "virtio-net.h"
#include "virtio-pci.h"
#include "virtio-rng.h"

#define MEM_SIZE (64 * MiB)
#define RING_DESC 0x10000u
#define RING_AVAIL 0x20000u
#define RING_USED 0x30000u
#define RING1_DESC 0x40000u
#define RING1_AVAIL 0x50000u
#define RING1_USED 0x60000u
#define BUF 0x100000u
#define QSIZE 16
#define DISK_SECTORS 2048u
#define MSI_ADDR 0xfee00000u

typedef struct Setup {
        TestBus t;
        GuestMemory *mem;
        VirtioDevice *dev;
        VirtioPci *vp;
        unsigned slot;
        uint64_t bar;
        uint32_t common, isr, device, notify, notify_mult;
        FakeDriver drv, drv1; /* queues 0 and 1 */
        uint16_t next_desc, next_desc1;
        char path[64];
        _Atomic unsigned delivered;
        _Atomic uint16_t last_vector;
} Setup;

static Setup s;

static void rec_deliver_cb(void *ctx, uint16_t vector, uint64_t addr, uint32_t data)
{
        atomic_store(&s.last_vector, vector);
        atomic_fetch_add(&s.delivered, 1);
}

static const VirtioPciHost host = { .deliver = rec_deliver_cb };

static void make_disk_in(const char *dir)
{
        int fd;

        snprintf(s.path, sizeof s.path, "%s/chv-test-disk.XXXXXX", dir);
        fd = mkstemp(s.path);
        cr_assert(fd >= 0);
        cr_assert(eq(int, ftruncate(fd, DISK_SECTORS * 512), 0));
        close(fd);
}

static void make_disk(bool unused)
{
        make_disk_in("/tmp");
}

static void plug(VirtioDevice *dev)
{
        uint8_t cap;

        s.dev = dev;
        cr_assert(eq(int, virtio_pci_new(dev, &host, &s.vp), 0));
        cr_assert(eq(int, pci_bus_add_device(s.t.bus, virtio_pci_pci_device(s.vp), -1, &s.slot), 0));
        cfg_write16(s.t.bus, s.slot, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
        s.bar = pci_device_bar_address(virtio_pci_pci_device(s.vp), VIRTIO_PCI_BAR);

        /* Find the structures the way a driver does: through the vendor capabilities. */
        for (cap = cfg_read8(s.t.bus, s.slot, PCI_CAPABILITY_LIST); cap; cap = cfg_read8(s.t.bus, s.slot, cap + 1)) {
                uint8_t type;
                uint32_t off;

                if (cfg_read8(s.t.bus, s.slot, cap) != PCI_CAP_ID_VNDR)
                        continue;
                type = cfg_read8(s.t.bus, s.slot, cap + VIRTIO_PCI_CAP_CFG_TYPE);
                cr_assert(eq(u8, cfg_read8(s.t.bus, s.slot, cap + VIRTIO_PCI_CAP_BAR), 0));
                off = cfg_read32(s.t.bus, s.slot, cap + VIRTIO_PCI_CAP_OFFSET);
                switch (type) {
                case VIRTIO_PCI_CAP_COMMON_CFG: s.common = off; break;
                case VIRTIO_PCI_CAP_ISR_CFG: s.isr = off; break;
                case VIRTIO_PCI_CAP_DEVICE_CFG: s.device = off; break;
                case VIRTIO_PCI_CAP_NOTIFY_CFG:
                        s.notify = off;
                        s.notify_mult = cfg_read32(s.t.bus, s.slot, cap + 16);
                        break;
                }
        }
        cr_assert(s.isr != 0 && s.device != 0 && s.notify != 0 && s.notify_mult != 0);
}

static void setup(void)
{
        memset(&s, 0, sizeof s);
        test_bus_init(&s.t);
        cr_assert(eq(int, guest_memory_new(MEM_SIZE, false, false, false, &s.mem), 0));
        s.drv = (FakeDriver) { .mem = s.mem, .size = QSIZE, .desc = RING_DESC, .avail = RING_AVAIL, .used = RING_USED };
        s.drv1 = (FakeDriver) { .mem = s.mem, .size = QSIZE, .desc = RING1_DESC, .avail = RING1_AVAIL, .used = RING1_USED };
}

static void teardown(void)
{
        s.vp = virtio_pci_free(s.vp);
        virtio_device_free(s.dev);
        test_bus_done(&s.t);
        guest_memory_free(s.mem);
        if (s.path[0])
                unlink(s.path);
}

static uint32_t common_read(uint32_t field, uint32_t len)
{
        return io_read(&s.t.mmio, s.bar + s.common + field, len, NULL);
}

static void common_write(uint32_t field, uint32_t len, uint64_t v)
{
        cr_assert(io_write(&s.t.mmio, s.bar + s.common + field, len, v));
}

#define COMMON(f) offsetof(struct virtio_pci_common_cfg, f)

static uint8_t status(void)
{
        return (uint8_t) common_read(COMMON(device_status), 1);
}

/* Steps 1-6 of the initialisation, with the features given, and queue 0 at the rings above. */
static uint8_t driver_init(uint64_t features, uint16_t qsize)
{
        common_write(COMMON(device_status), 1, 0);
        cr_assert(eq(u8, status(), 0));
        common_write(COMMON(device_status), 1, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
        common_write(COMMON(guest_feature_select), 4, 0);
        common_write(COMMON(guest_feature), 4, (uint32_t) features);
        common_write(COMMON(guest_feature_select), 4, 1);
        common_write(COMMON(guest_feature), 4, (uint32_t) (features >> 32));
        common_write(COMMON(device_status), 1, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
        if (!(status() & VIRTIO_STATUS_FEATURES_OK))
                return status();

        memset(guest_memory_ptr(s.mem, RING_DESC, 0x60000), 0, 0x60000);
        s.drv.avail_idx = s.drv1.avail_idx = 0;
        s.next_desc = s.next_desc1 = 0;
        for (uint16_t q = 0; q < MIN(common_read(COMMON(num_queues), 2), 2u); q++) {
                const FakeDriver *f = q == 0 ? &s.drv : &s.drv1;

                common_write(COMMON(queue_select), 2, q);
                common_write(COMMON(queue_size), 2, qsize);
                common_write(COMMON(queue_msix_vector), 2, q + 1);
                common_write(COMMON(queue_desc_lo), 4, (uint32_t) f->desc);
                common_write(COMMON(queue_desc_hi), 4, 0);
                common_write(COMMON(queue_avail_lo), 4, (uint32_t) f->avail);
                common_write(COMMON(queue_avail_hi), 4, 0);
                common_write(COMMON(queue_used_lo), 4, (uint32_t) f->used);
                common_write(COMMON(queue_used_hi), 4, 0);
                common_write(COMMON(queue_enable), 2, 1);
        }
        common_write(COMMON(device_status), 1,
                     VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
        return status();
}

static void msix_setup(void)
{
        PciDevice *pd = virtio_pci_pci_device(s.vp);
        uint16_t cap = 0;

        for (uint8_t c = cfg_read8(s.t.bus, s.slot, PCI_CAPABILITY_LIST); c; c = cfg_read8(s.t.bus, s.slot, c + 1))
                if (cfg_read8(s.t.bus, s.slot, c) == PCI_CAP_ID_MSIX)
                        cap = c;
        cr_assert(cap != 0);
        cr_assert(eq(u16, msix_n_vectors(pd), 2));
        for (unsigned v = 0; v < 2; v++) {
                uint64_t e = s.bar + VIRTIO_PCI_TABLE_OFFSET + v * 16;
                io_write(&s.t.mmio, e, 4, MSI_ADDR);
                io_write(&s.t.mmio, e + 8, 4, 0x40 + v);
                io_write(&s.t.mmio, e + 12, 4, 0);
        }
        cfg_write16(s.t.bus, s.slot, cap + PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE);
}

static const uint64_t base_features = VIRTIO_FEATURE(VIRTIO_F_VERSION_1);

/* Makes a chain of segs available and notifies; returns its head. */
static uint16_t submit(const FakeSeg *segs, unsigned n)
{
        uint16_t head = s.next_desc;

        fake_chain(&s.drv, head, segs, n);
        s.next_desc = (uint16_t) ((s.next_desc + n) % QSIZE);
        fake_kick(&s.drv, head);
        io_write(&s.t.mmio, s.bar + s.notify + 0 * s.notify_mult, 2, 0);
        return head;
}

/* The same on queue 1. */
static void submit1(const FakeSeg *segs, unsigned n)
{
        uint16_t head = s.next_desc1;

        fake_chain(&s.drv1, head, segs, n);
        s.next_desc1 = (uint16_t) ((s.next_desc1 + n) % QSIZE);
        fake_kick(&s.drv1, head);
        io_write(&s.t.mmio, s.bar + s.notify + 1 * s.notify_mult, 2, 1);
}

/* Waits (up to 5 s) until the used index reaches idx or passes it. */
static bool wait_used_on(const FakeDriver *f, uint16_t idx)
{
        for (int i = 0; i < 5000; i++) {
                if ((uint16_t) (fake_used_idx(f) - idx) < 0x8000)
                        return true;
                nanosleep(&(struct timespec) { .tv_nsec = 1000000 }, NULL);
        }
        return false;
}

/* The same on queue 0. */
static bool wait_used(uint16_t idx)
{
        return wait_used_on(&s.drv, idx);
}

static bool wait_status_bit(uint8_t bit)
{
        for (int i = 0; i < 5000; i++) {
                if (status() & bit)
                        return true;
                nanosleep(&(struct timespec) { .tv_nsec = 1000000 }, NULL);
        }
        return false;
}

typedef struct BlkHdr {
        uint32_t type, ioprio;
        uint64_t sector;
} BlkHdr;

/* One block request: header at BUF, data at BUF + 0x1000, status at BUF + 0x100. Returns the status. */
static uint8_t blk_request(uint32_t type, uint64_t sector, uint32_t len, bool data_in)
{
        BlkHdr h = { .type = htole32(type), .sector = htole64(sector) };
        uint8_t *st = guest_memory_ptr(s.mem, BUF + 0x100, 1);
        FakeSeg segs[3];
        unsigned n = 0;
        uint16_t want = (uint16_t) (fake_used_idx(&s.drv) + 1);

        memcpy(guest_memory_ptr(s.mem, BUF, sizeof h), &h, sizeof h);
        *st = 0xee;
        segs[n++] = (FakeSeg) { BUF, sizeof h, false };
        if (len)
                segs[n++] = (FakeSeg) { BUF + 0x1000, len, data_in };
        segs[n++] = (FakeSeg) { BUF + 0x100, 1, true };
        submit(segs, n);
        cr_assert(wait_used(want), "the device did not answer");
        return *st;
}

TestSuite(virtio_pci, .init = setup, .fini = teardown);

static void plug_blk(bool readonly, bool no_uring, const char *serial)
{
        VirtioBlkParams p = {
                .id = "disk0", .path = s.path, .readonly = readonly, .num_queues = 1, .queue_size = 128,
                .serial = serial, .no_io_uring = no_uring,
        };
        VirtioDevice *d;
        char err[256] = "";

        make_disk(false);
        cr_assert(eq(int, virtio_blk_new(&p, s.mem, &d, err, sizeof err), 0), "%s", err);
        plug(d);
}

Test(virtio_pci, identity_and_capabilities)
{
        plug_blk(false, false, NULL);
        cr_assert(eq(u16, cfg_read16(s.t.bus, s.slot, PCI_VENDOR_ID), 0x1af4));
        cr_assert(eq(u16, cfg_read16(s.t.bus, s.slot, PCI_DEVICE_ID), 0x1042));
        cr_assert(eq(u8, cfg_read8(s.t.bus, s.slot, PCI_REVISION_ID), 1));
        cr_assert(eq(u32, s.common, VIRTIO_PCI_COMMON_OFFSET));
        cr_assert(eq(u32, s.notify_mult, VIRTIO_PCI_NOTIFY_MULTIPLIER));
        cr_assert(eq(u32, common_read(COMMON(num_queues), 2), 1));
        /* Features: VERSION_1 in the upper half, FLUSH in the lower. */
        common_write(COMMON(device_feature_select), 4, 1);
        cr_assert(ne(u32, common_read(COMMON(device_feature), 4) & 1, 0));
        common_write(COMMON(device_feature_select), 4, 0);
        cr_assert(ne(u32, common_read(COMMON(device_feature), 4) & (1u << VIRTIO_BLK_F_FLUSH), 0));
        cr_assert(eq(u64, io_read64(&s.t.mmio, s.bar + s.device), DISK_SECTORS));
}

Test(virtio_pci, features_without_version_1_are_refused)
{
        plug_blk(false, false, NULL);
        cr_assert(eq(int, driver_init(0, QSIZE) & VIRTIO_STATUS_FEATURES_OK, 0));
        /* Features the device does not offer are refused too. */
        cr_assert(eq(int, driver_init(base_features | VIRTIO_FEATURE(50), QSIZE) & VIRTIO_STATUS_FEATURES_OK, 0));
        cr_assert(ne(u32, driver_init(base_features, QSIZE) & VIRTIO_STATUS_DRIVER_OK, 0));
}

static void blk_read_write(bool no_uring)
{
        uint8_t *data = guest_memory_ptr(s.mem, BUF + 0x1000, 4096);
        uint8_t file[1024];
        int fd;

        plug_blk(false, no_uring, "serial-123");
        msix_setup();
        cr_assert(eq(u8, driver_init(base_features | VIRTIO_FEATURE(VIRTIO_BLK_F_FLUSH), QSIZE) & 0x4f,
                     0x0f));

        for (unsigned i = 0; i < 1024; i++)
                data[i] = (uint8_t) (i * 7 + 3);
        cr_assert(eq(u8, blk_request(VIRTIO_BLK_T_OUT, 5, 1024, false), VIRTIO_BLK_S_OK));
        cr_assert(eq(u8, blk_request(VIRTIO_BLK_T_FLUSH, 0, 0, false), VIRTIO_BLK_S_OK));
        fd = open(s.path, O_RDONLY);
        cr_assert(eq(sz, pread(fd, file, sizeof file, 5 * 512), (ssize_t) sizeof file));
        close(fd);
        cr_assert(eq(int, memcmp(file, data, sizeof file), 0));

        memset(data, 0, 4096);
        cr_assert(eq(u8, blk_request(VIRTIO_BLK_T_IN, 5, 1024, true), VIRTIO_BLK_S_OK));
        cr_assert(eq(int, memcmp(file, data, sizeof file), 0));
        /* The last sector can be read, the one after it cannot. */
        cr_assert(eq(u8, blk_request(VIRTIO_BLK_T_IN, DISK_SECTORS - 1, 512, true), VIRTIO_BLK_S_OK));
        cr_assert(eq(u8, blk_request(VIRTIO_BLK_T_IN, DISK_SECTORS - 1, 1024, true), VIRTIO_BLK_S_IOERR));
        cr_assert(eq(u8, blk_request(VIRTIO_BLK_T_IN, UINT64_MAX, 512, true), VIRTIO_BLK_S_IOERR));
        /* Not a whole number of sectors. */
        cr_assert(eq(u8, blk_request(VIRTIO_BLK_T_IN, 0, 100, true), VIRTIO_BLK_S_IOERR));
        cr_assert(eq(u8, blk_request(VIRTIO_BLK_T_GET_ID, 0, 20, true), VIRTIO_BLK_S_OK));
        cr_assert(eq(int, memcmp(data, "serial-123", 11), 0));
        cr_assert(eq(u8, blk_request(0x77, 0, 0, false), VIRTIO_BLK_S_UNSUPP));
        cr_assert(eq(u8, blk_request(VIRTIO_BLK_T_WRITE_ZEROES, 0, 0, false), VIRTIO_BLK_S_UNSUPP));

        /* Interrupts came through MSI-X vector 1, the queue's. */
        cr_assert(gt(uint, atomic_load(&s.delivered), 0));
        cr_assert(eq(u16, atomic_load(&s.last_vector), 1));
        cr_assert(eq(int, status() & VIRTIO_STATUS_NEEDS_RESET, 0));
}

Test(virtio_pci, blk_io_uring)
{
        blk_read_write(false);
        cr_assert(eq(str, (char *) virtio_blk_engine(s.dev), "io_uring"), "io_uring unavailable here?");
}

Test(virtio_pci, blk_synchronous)
{
        blk_read_write(true);
        cr_assert(eq(str, (char *) virtio_blk_engine(s.dev), "synchronous"));
}

Test(virtio_pci, blk_readonly_refuses_writes)
{
        VirtioBlkParams p = { .id = "ro", .num_queues = 1, .queue_size = 128, .readonly = true };
        VirtioDevice *d;
        char err[256];

        make_disk(false);
        p.path = s.path;
        cr_assert(eq(int, virtio_blk_new(&p, s.mem, &d, err, sizeof err), 0), "%s", err);
        plug(d);
        common_write(COMMON(device_feature_select), 4, 0);
        cr_assert(ne(u32, common_read(COMMON(device_feature), 4) & (1u << VIRTIO_BLK_F_RO), 0));
        driver_init(base_features | VIRTIO_FEATURE(VIRTIO_BLK_F_RO), QSIZE);
        cr_assert(eq(u8, blk_request(VIRTIO_BLK_T_OUT, 0, 512, false), VIRTIO_BLK_S_IOERR));
        cr_assert(eq(u8, blk_request(VIRTIO_BLK_T_IN, 0, 512, true), VIRTIO_BLK_S_OK));
}

Test(virtio_pci, image_lock)
{
        VirtioBlkParams p = { .id = "second", .num_queues = 1, .queue_size = 128 };
        VirtioDevice *d;
        char err[256] = "";

        plug_blk(false, false, NULL);
        p.path = s.path;
        cr_assert(eq(int, virtio_blk_new(&p, s.mem, &d, err, sizeof err), -EBUSY));
        cr_assert(not(eq(ptr, strstr(err, "in use by another process"), NULL)), "%s", err);
        p.readonly = true;
        cr_assert(eq(int, virtio_blk_new(&p, s.mem, &d, err, sizeof err), -EBUSY));
}

Test(virtio_pci, descriptor_loop_needs_reset_then_recovers)
{
        plug_blk(false, false, NULL);
        cr_assert(ne(u32, driver_init(base_features, QSIZE) & VIRTIO_STATUS_DRIVER_OK, 0));
        /* Two descriptors pointing at each other. */
        fake_desc(&s.drv, 0, BUF, 16, VIRTQ_DESC_F_NEXT, 1);
        fake_desc(&s.drv, 1, BUF + 0x100, 1, VIRTQ_DESC_F_NEXT, 0);
        fake_kick(&s.drv, 0);
        io_write(&s.t.mmio, s.bar + s.notify, 2, 0);
        cr_assert(wait_status_bit(VIRTIO_STATUS_NEEDS_RESET));

        /* A reset and a new initialisation make the device work again. */
        cr_assert(eq(u8, driver_init(base_features, QSIZE) & VIRTIO_STATUS_NEEDS_RESET, 0));
        cr_assert(eq(u8, blk_request(VIRTIO_BLK_T_IN, 0, 512, true), VIRTIO_BLK_S_OK));
}

Test(virtio_pci, buffer_outside_ram_needs_reset)
{
        FakeSeg segs[] = { { BUF, 16, false }, { MEM_SIZE + 0x1000, 512, true }, { BUF + 0x100, 1, true } };

        plug_blk(false, false, NULL);
        driver_init(base_features, QSIZE);
        submit(segs, 3);
        cr_assert(wait_status_bit(VIRTIO_STATUS_NEEDS_RESET));
}

Test(virtio_pci, bad_queue_size_needs_reset)
{
        plug_blk(false, false, NULL);
        cr_assert(ne(u32, driver_init(base_features, 12) & VIRTIO_STATUS_NEEDS_RESET, 0));
        cr_assert(not(common_read(COMMON(queue_enable), 2)));
}

Test(virtio_pci, notify_before_driver_ok_is_served_after)
{
        plug_blk(false, false, NULL);
        common_write(COMMON(device_status), 1, 0);
        io_write(&s.t.mmio, s.bar + s.notify, 2, 0);
        cr_assert(ne(u32, driver_init(base_features, QSIZE) & VIRTIO_STATUS_DRIVER_OK, 0));
        cr_assert(eq(u8, blk_request(VIRTIO_BLK_T_IN, 0, 512, true), VIRTIO_BLK_S_OK));
}

Test(virtio_pci, rng_gives_bytes)
{
        VirtioDevice *d;
        char err[256];
        uint8_t *buf = guest_memory_ptr(s.mem, BUF, 256);
        FakeSeg seg = { BUF, 256, true };
        uint32_t id, len;
        unsigned zeros = 0;

        cr_assert(eq(int, virtio_rng_new("__rng", "/dev/urandom", s.mem, &d, err, sizeof err), 0), "%s", err);
        plug(d);
        cr_assert(eq(u16, cfg_read16(s.t.bus, s.slot, PCI_DEVICE_ID), 0x1044));
        cr_assert(ne(u32, driver_init(base_features, QSIZE) & VIRTIO_STATUS_DRIVER_OK, 0));
        memset(buf, 0, 256);
        submit(&seg, 1);
        cr_assert(wait_used(1));
        fake_used_elem(&s.drv, 0, &id, &len);
        cr_assert(eq(u32, len, 256));
        for (unsigned i = 0; i < 256; i++)
                zeros += buf[i] == 0;
        cr_assert(lt(uint, zeros, 16));
}

/* A paused device takes no request, however it is kicked, and serves it once resumed. */
Test(virtio_pci, paused_worker_waits)
{
        VirtioDevice *d;
        char err[256];
        FakeSeg seg = { BUF, 64, true };

        cr_assert(eq(int, virtio_rng_new("__rng", "/dev/urandom", s.mem, &d, err, sizeof err), 0), "%s", err);
        plug(d);
        cr_assert(ne(u32, driver_init(base_features, QSIZE) & VIRTIO_STATUS_DRIVER_OK, 0));
        virtio_worker_pause(&d->worker);
        virtio_worker_pause(&d->worker);        /* twice: still one pause */
        submit(&seg, 1);
        nanosleep(&(struct timespec) { .tv_nsec = 200000000 }, NULL);
        cr_assert(eq(u16, fake_used_idx(&s.drv), 0), "a paused device served a request");
        virtio_worker_resume(&d->worker);
        cr_assert(wait_used(1));
        /* Paused again, then taken down (as at exit): the stop does not hang. */
        virtio_worker_pause(&d->worker);
}

Test(virtio_pci, rng_source_missing)
{
        VirtioDevice *d;
        char err[256] = "";

        cr_assert(lt(int, virtio_rng_new("__rng", "/nonexistent/rng", s.mem, &d, err, sizeof err), 0));
        cr_assert(eq(str, err, "rng: cannot open \"/nonexistent/rng\": No such file or directory"));
}

Test(virtio_pci, console_output_and_input)
{
        int out[2], in[2];
        VirtioDevice *d;
        char got[64] = "";
        uint32_t id, len;

        cr_assert(eq(int, pipe2(out, O_CLOEXEC | O_NONBLOCK), 0));
        cr_assert(eq(int, pipe2(in, O_CLOEXEC | O_NONBLOCK), 0));
        cr_assert(eq(int, virtio_console_new("__console", in[0], out[1], s.mem, &d), 0));
        plug(d);
        cr_assert(eq(u16, cfg_read16(s.t.bus, s.slot, PCI_DEVICE_ID), 0x1043));
        cr_assert(eq(u32, common_read(COMMON(num_queues), 2), 2));
        /* driver_init() sets up queue 0, the receive queue. */
        cr_assert(ne(u32, driver_init(base_features, QSIZE) & VIRTIO_STATUS_DRIVER_OK, 0));

        /* Input: the host writes, the guest's receive buffer gets it. */
        FakeSeg rx = { BUF + 0x1000, 64, true };
        cr_assert(eq(sz, write(in[1], "abc", 3), 3));
        submit(&rx, 1);
        cr_assert(wait_used(1));
        fake_used_elem(&s.drv, 0, &id, &len);
        cr_assert(eq(u32, len, 3));
        cr_assert(eq(int, memcmp(guest_memory_ptr(s.mem, BUF + 0x1000, 3), "abc", 3), 0));

        /* Output, through the emergency write register. */
        io_write(&s.t.mmio, s.bar + s.device + 8, 4, 'Z');
        for (int i = 0; i < 100 && read(out[0], got, sizeof got) <= 0; i++)
                nanosleep(&(struct timespec) { .tv_nsec = 1000000 }, NULL);
        cr_assert(eq(chr, got[0], 'Z'));
        close(out[0]);
        close(out[1]);
        close(in[0]);
        close(in[1]);
}

Test(virtio_pci, pci_cfg_capability_window)
{
        uint8_t cap = 0;

        plug_blk(false, false, NULL);
        for (uint8_t c = cfg_read8(s.t.bus, s.slot, PCI_CAPABILITY_LIST); c; c = cfg_read8(s.t.bus, s.slot, c + 1))
                if (cfg_read8(s.t.bus, s.slot, c) == PCI_CAP_ID_VNDR &&
                    cfg_read8(s.t.bus, s.slot, c + VIRTIO_PCI_CAP_CFG_TYPE) == VIRTIO_PCI_CAP_PCI_CFG)
                        cap = c;
        cr_assert(ne(u8, cap, 0));

        /* Read num_queues (2 bytes at 0x12 of the common structure) through the window. */
        cfg_write8(s.t.bus, s.slot, cap + VIRTIO_PCI_CAP_BAR, 0);
        cfg_write32(s.t.bus, s.slot, cap + VIRTIO_PCI_CAP_OFFSET, s.common + COMMON(num_queues));
        cfg_write32(s.t.bus, s.slot, cap + VIRTIO_PCI_CAP_LENGTH, 2);
        cr_assert(eq(u16, cfg_read16(s.t.bus, s.slot, cap + 16), 1));

        /* Write the status through it: ACKNOWLEDGE shows in the common structure. */
        cfg_write32(s.t.bus, s.slot, cap + VIRTIO_PCI_CAP_OFFSET, s.common + COMMON(device_status));
        cfg_write32(s.t.bus, s.slot, cap + VIRTIO_PCI_CAP_LENGTH, 1);
        cfg_write8(s.t.bus, s.slot, cap + 16, VIRTIO_STATUS_ACKNOWLEDGE);
        cr_assert(eq(u8, status(), VIRTIO_STATUS_ACKNOWLEDGE));

        /* A misaligned or oversized window does nothing. */
        cfg_write32(s.t.bus, s.slot, cap + VIRTIO_PCI_CAP_LENGTH, 3);
        cfg_write8(s.t.bus, s.slot, cap + 16, 0);
        cr_assert(eq(u8, status(), VIRTIO_STATUS_ACKNOWLEDGE));
}

/* virtio-net on a real TAP: a frame from the guest comes out of the TAP, one sent into it reaches the
 * guest's receive buffer. Needs /dev/net/tun and CAP_NET_ADMIN/CAP_NET_RAW. */
Test(virtio_pci, net_frames_both_ways)
{
        VirtioNetParams p = {
                .id = "_net0", .fd = -1, .mac = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 }, .queue_size = 256,
        };
        uint8_t frame[60] = {}, got[2048];
        struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
        VirtioDevice *d;
        char err[256] = "";
        uint32_t id, len;
        int sock, r;

        r = virtio_net_new(&p, s.mem, &d, err, sizeof err);
        if (r == -EPERM || r == -EACCES || r == -ENOENT || r == -ENODEV)
                cr_skip_test("no TAP devices here (%s)", err);
        cr_assert(eq(int, r, 0), "%s", err);
        plug(d);
        cr_assert(eq(u16, cfg_read16(s.t.bus, s.slot, PCI_DEVICE_ID), 0x1041));
        /* The MAC in the device configuration. */
        cr_assert(eq(u8, (uint8_t) io_read(&s.t.mmio, s.bar + s.device + 5, 1, NULL), 0x56));

        sock = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
        if (sock < 0)
                cr_skip_test("no raw sockets here: %s", strerror(errno));
        sll.sll_ifindex = (int) if_nametoindex(virtio_net_tap_name(d));
        cr_assert(gt(int, sll.sll_ifindex, 0));
        cr_assert(eq(int, bind(sock, (struct sockaddr *) &sll, sizeof sll), 0));
        cr_assert(ne(u32, driver_init(base_features | VIRTIO_FEATURE(VIRTIO_NET_F_MAC) |
                                      VIRTIO_FEATURE(VIRTIO_NET_F_MRG_RXBUF), QSIZE) & VIRTIO_STATUS_DRIVER_OK, 0));

        /* Guest to host: a 12-byte virtio-net header, then the frame, on the transmit queue. */
        memset(frame, 0xff, 6);                     /* broadcast */
        memcpy(frame + 6, p.mac, 6);
        frame[12] = 0x88, frame[13] = 0xb5;         /* local experimental EtherType */
        memcpy(frame + 14, "chv-net-test-tx", 15);
        memset(guest_memory_ptr(s.mem, BUF, 12), 0, 12);
        memcpy(guest_memory_ptr(s.mem, BUF + 12, sizeof frame), frame, sizeof frame);
        FakeSeg tx = { BUF, 12 + sizeof frame, false };
        submit1(&tx, 1);
        cr_assert(wait_used_on(&s.drv1, 1));
        for (;;) {
                ssize_t n = recv(sock, got, sizeof got, 0);
                cr_assert(gt(sz, n, 0));
                if (n >= 29 && got[12] == 0x88 && got[13] == 0xb5) {
                        cr_assert(eq(int, memcmp(got + 14, "chv-net-test-tx", 15), 0));
                        break;
                }
        }

        /* Host to guest: a frame written to the TAP's link lands in a receive buffer after a header. The
         * host's own IPv6 chatter on the new link may come first: look through what arrives. */
        memcpy(frame, p.mac, 6);
        memcpy(frame + 14, "chv-net-test-rx", 15);
        bool found = false;
        uint16_t seen = 0;
        for (unsigned i = 0; i < QSIZE - 1; i++) {
                FakeSeg rx = { BUF + 0x10000 + i * 0x1000, 2048, true };
                submit(&rx, 1);
        }
        cr_assert(eq(sz, send(sock, frame, sizeof frame, 0), (ssize_t) sizeof frame));
        while (!found && seen < QSIZE - 1) {
                cr_assert(wait_used((uint16_t) (seen + 1)), "the frame sent into the TAP did not reach the guest");
                fake_used_elem(&s.drv, seen++, &id, &len);
                uint64_t b = BUF + 0x10000 + (uint64_t) id * 0x1000;
                if (len == 12 + sizeof frame &&
                    memcmp(guest_memory_ptr(s.mem, b + 12 + 14, 15), "chv-net-test-rx", 15) == 0) {
                        /* num_buffers: one buffer held it. */
                        cr_assert(eq(u8, *(uint8_t *) guest_memory_ptr(s.mem, b + 10, 1), 1));
                        found = true;
                }
        }
        cr_assert(found, "the frame sent into the TAP did not reach the guest");

        VirtioNetCounters c;
        virtio_net_counters(d, &c);
        cr_assert(eq(u64, c.tx_frames, 1));
        cr_assert(ge(u64, c.rx_frames, 1));
        close(sock);
}

/* WRITE_ZEROES and DISCARD on a file system that cannot zero a range (tmpfs): zeroes are written. */
Test(virtio_pci, blk_write_zeroes_everywhere)
{
        const char *dirs[] = { "/tmp", "/dev/shm" };
        struct { uint64_t sector; uint32_t num, flags; } range;
        uint8_t *data = guest_memory_ptr(s.mem, BUF + 0x1000, 4096);
        uint8_t file[4096];
        char err[256] = "";
        VirtioDevice *d;
        int fd;

        for (size_t k = 0; k < ELEMENTSOF(dirs); k++) {
                VirtioBlkParams p = { .id = "wz", .num_queues = 1, .queue_size = 128 };

                if (access(dirs[k], W_OK) < 0)
                        continue;
                make_disk_in(dirs[k]);
                p.path = s.path;
                fd = open(s.path, O_WRONLY);
                memset(file, 0xaa, sizeof file);
                cr_assert(eq(sz, pwrite(fd, file, sizeof file, 8 * 512), (ssize_t) sizeof file));
                close(fd);
                cr_assert(eq(int, virtio_blk_new(&p, s.mem, &d, err, sizeof err), 0), "%s", err);
                plug(d);
                driver_init(base_features | VIRTIO_FEATURE(VIRTIO_BLK_F_WRITE_ZEROES) |
                            VIRTIO_FEATURE(VIRTIO_BLK_F_DISCARD), QSIZE);
                /* Sectors 9 and 10 zeroed, 8 and 11 left alone; then sector 12 discarded. */
                range.sector = htole64(9), range.num = htole32(2), range.flags = 0;
                memcpy(data, &range, sizeof range);
                cr_assert(eq(u8, blk_request(VIRTIO_BLK_T_WRITE_ZEROES, 0, 16, false), VIRTIO_BLK_S_OK), "in %s", dirs[k]);
                range.sector = htole64(12), range.num = htole32(1);
                memcpy(data, &range, sizeof range);
                cr_assert(eq(u8, blk_request(VIRTIO_BLK_T_DISCARD, 0, 16, false), VIRTIO_BLK_S_OK), "in %s", dirs[k]);
                /* Ranges past the end are refused. */
                range.sector = htole64(DISK_SECTORS - 1), range.num = htole32(2);
                memcpy(data, &range, sizeof range);
                cr_assert(eq(u8, blk_request(VIRTIO_BLK_T_WRITE_ZEROES, 0, 16, false), VIRTIO_BLK_S_IOERR));

                fd = open(s.path, O_RDONLY);
                cr_assert(eq(sz, pread(fd, file, sizeof file, 8 * 512), (ssize_t) sizeof file));
                close(fd);
                for (unsigned i = 0; i < 512; i++) {
                        cr_assert(eq(u8, file[i], 0xaa));
                        cr_assert(eq(u8, file[512 + i], 0), "in %s", dirs[k]);
                        cr_assert(eq(u8, file[1024 + i], 0), "in %s", dirs[k]);
                        cr_assert(eq(u8, file[1536 + i], 0xaa));
                }
                s.vp = virtio_pci_free(s.vp);
                virtio_device_free(s.dev);
                s.dev = NULL;
                unlink(s.path);
                s.path[0] = 0;
        }
}
