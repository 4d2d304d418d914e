/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Scenarios virtio-blk and virtio-blk-flush: identity, capacity, patterns written and read back at both
 * ends of the disk, multi-segment requests, the refusals a disk must make, flush, discard and write
 * zeroes; and data that must be on the host's disk once a flush has completed.
 */
#include "blk.h"
#include "devices.h"

/* The seed of every pattern these scenarios write (see check-disk.py). */
#define BLK_SEED      0x5eed0001u
#define MIN_SECTORS   64
#define MULTI_SECTOR  16
#define ZEROES_SECTOR 32
#define FLUSH_SECTORS 256
#define FLUSH_CHUNK   64

static struct blk blk;

static const char *check_status(const char *what, uint8_t got, uint8_t want)
{
        print("virtio-blk: %s -> %s\n", what, blk_status_name(got));
        if (got != want) {
                print("virtio-blk: %s should end with %s\n", what, blk_status_name(want));
                return "a virtio-blk request ended with the wrong status";
        }
        return NULL;
}

/* One request, which must end with status want; what names it in the line printed (none when NULL). */
static const char *request(const char *what, uint32_t type, uint64_t sector, const struct virtq_buf *segs,
                           unsigned n, uint8_t want)
{
        const char *r;
        uint8_t status;

        r = blk_request(&blk, type, sector, segs, n, &status);
        if (r)
                return r;
        if (!what)
                return status == want ? NULL : check_status("request", status, want);
        return check_status(what, status, want);
}

/* A request with one data segment (none when len is 0). */
static const char *simple(const char *what, uint32_t type, uint64_t sector, void *data, uint32_t len,
                          uint8_t want)
{
        struct virtq_buf b = {data, len, type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID};

        return request(what, type, sector, &b, len ? 1 : 0, want);
}

static const char *check_data(const uint8_t *data, size_t len, uint32_t seed, uint64_t sector)
{
        size_t at = check_pattern(data, len, seed, sector * SECTOR_SIZE);

        if (at == len)
                return NULL;
        print("virtio-blk: data differs from the pattern at sector %lu byte %zu\n",
              sector + at / SECTOR_SIZE, at % SECTOR_SIZE);
        return "data read back differs from what was written";
}

/* Reads len bytes from sector into buf, cleared first; they must hold the pattern of seed. */
static const char *read_and_check(uint8_t *buf, uint64_t sector, uint32_t len, uint32_t seed)
{
        const char *r;

        memset(buf, 0, len);
        r = simple(NULL, VIRTIO_BLK_T_IN, sector, buf, len, VIRTIO_BLK_S_OK);
        if (r)
                return r;
        return check_data(buf, len, seed, sector);
}

static const char *write_and_read(uint8_t *buf, uint64_t sector, unsigned sectors)
{
        uint32_t len = sectors * SECTOR_SIZE;
        const char *r;

        fill_pattern(buf, len, BLK_SEED, sector * SECTOR_SIZE);
        r = simple(NULL, VIRTIO_BLK_T_OUT, sector, buf, len, VIRTIO_BLK_S_OK);
        if (r)
                return r;
        r = read_and_check(buf, sector, len, BLK_SEED);
        if (r)
                return r;
        print("virtio-blk: sectors %lu-%lu written and read back\n", sector, sector + sectors - 1);
        return NULL;
}

static const char *print_serial(uint8_t *buf)
{
        size_t n = 0;
        const char *r;

        memset(buf, 0, VIRTIO_BLK_ID_BYTES);
        r = simple(NULL, VIRTIO_BLK_T_GET_ID, 0, buf, VIRTIO_BLK_ID_BYTES, VIRTIO_BLK_S_OK);
        if (r)
                return r;
        while (n < VIRTIO_BLK_ID_BYTES && buf[n])
                n++;
        print("virtio-blk: serial=\"");
        print_chars((const char *) buf, n);
        print("\"\n");
        return NULL;
}

/*
 * A write of segments of 512, 1024 and 2560 bytes (fewer when seg_max says so), read back in one
 * segment; then a read in four 1 KiB segments placed in memory in reverse order.
 */
static const char *multi_segment(uint8_t *buf)
{
        static const uint32_t sizes[] = {512, 1024, 2560};
        struct virtq_buf seg[4];
        unsigned n = blk.seg_max < ELEMENTSOF(sizes) ? blk.seg_max : ELEMENTSOF(sizes);
        uint32_t total = 0;
        const char *r;

        for (unsigned i = 0; i < n; i++) {
                /* Apart from each other, so that the device cannot treat them as one. */
                seg[i] = (struct virtq_buf){buf + 8192 * (i + 1), sizes[i], false};
                fill_pattern(seg[i].addr, sizes[i], BLK_SEED, MULTI_SECTOR * SECTOR_SIZE + total);
                total += sizes[i];
        }
        r = request("multi-segment write", VIRTIO_BLK_T_OUT, MULTI_SECTOR, seg, n, VIRTIO_BLK_S_OK);
        if (r)
                return r;
        r = read_and_check(buf, MULTI_SECTOR, total, BLK_SEED);
        if (r)
                return r;
        print("virtio-blk: multi-segment write of %u segments read back\n", n);

        n = blk.seg_max < 4 ? blk.seg_max : 4;
        for (unsigned i = 0; i < n; i++) {
                seg[i] = (struct virtq_buf){buf + 8192 * (4 - i), 1024, true};
                memset(seg[i].addr, 0, 1024);
        }
        r = request("multi-segment read", VIRTIO_BLK_T_IN, MULTI_SECTOR, seg, n, VIRTIO_BLK_S_OK);
        if (r)
                return r;
        for (unsigned i = 0; i < n; i++) {
                r = check_data(seg[i].addr, 1024, BLK_SEED, MULTI_SECTOR + 2 * i);
                if (r)
                        return r;
        }
        print("virtio-blk: multi-segment read of %u segments ok\n", n);
        return NULL;
}

static const char *out_of_range(uint8_t *buf)
{
        const char *r;

        r = simple("read at the sector after the last", VIRTIO_BLK_T_IN, blk.capacity, buf, SECTOR_SIZE,
                   VIRTIO_BLK_S_IOERR);
        if (r)
                return r;
        r = simple("read across the end", VIRTIO_BLK_T_IN, blk.capacity - 1, buf, 2 * SECTOR_SIZE,
                   VIRTIO_BLK_S_IOERR);
        if (r)
                return r;
        return simple("read at sector 2^63", VIRTIO_BLK_T_IN, UINT64_C(1) << 63, buf, SECTOR_SIZE,
                      VIRTIO_BLK_S_IOERR);
}

static const char *discard_and_zeroes(uint8_t *buf)
{
        struct virtio_blk_discard_write_zeroes *range = (void *) (buf + 4096);
        const char *r;

        if (!virtio_has(&blk.dev, VIRTIO_BLK_F_DISCARD))
                print("virtio-blk: discard not offered\n");
        else {
                *range = (struct virtio_blk_discard_write_zeroes){.sector = ZEROES_SECTOR, .num_sectors = 8};
                r = simple("discard", VIRTIO_BLK_T_DISCARD, 0, range, sizeof(*range), VIRTIO_BLK_S_OK);
                if (r)
                        return r;
        }

        if (!virtio_has(&blk.dev, VIRTIO_BLK_F_WRITE_ZEROES)) {
                print("virtio-blk: write-zeroes not offered\n");
                return NULL;
        }
        r = write_and_read(buf, ZEROES_SECTOR, 8);
        if (r)
                return r;
        *range = (struct virtio_blk_discard_write_zeroes){.sector = ZEROES_SECTOR, .num_sectors = 8};
        r = simple("write-zeroes", VIRTIO_BLK_T_WRITE_ZEROES, 0, range, sizeof(*range), VIRTIO_BLK_S_OK);
        if (r)
                return r;
        memset(buf, 0xee, 8 * SECTOR_SIZE);
        r = simple(NULL, VIRTIO_BLK_T_IN, ZEROES_SECTOR, buf, 8 * SECTOR_SIZE, VIRTIO_BLK_S_OK);
        if (r)
                return r;
        for (unsigned i = 0; i < 8 * SECTOR_SIZE; i++)
                if (buf[i] != 0) {
                        print("virtio-blk: byte %u after write-zeroes is 0x%02x\n", i, buf[i]);
                        return "write-zeroes left data behind";
                }
        print("virtio-blk: write-zeroes range reads back zeroes\n");
        return NULL;
}

/* With expect-seed=N the host filled the disk with pattern N: the first and last sectors must show it. */
static const char *check_host_pattern(uint8_t *buf)
{
        uint64_t seed, sectors[2] = {0, blk.capacity - 1};
        const char *r;

        if (!cmdline_number("expect-seed", &seed))
                return NULL;
        for (unsigned i = 0; i < ELEMENTSOF(sectors); i++) {
                r = read_and_check(buf, sectors[i], SECTOR_SIZE, (uint32_t) seed);
                if (r)
                        return r;
        }
        print("virtio-blk: first and last sectors hold the host pattern 0x%lx\n", seed);
        return NULL;
}

static const char *read_only_checks(uint8_t *buf)
{
        uint8_t *before = buf + 4096;
        const char *r;

        r = simple(NULL, VIRTIO_BLK_T_IN, 0, before, SECTOR_SIZE, VIRTIO_BLK_S_OK);
        if (r)
                return r;
        fill_pattern(buf, SECTOR_SIZE, BLK_SEED, 0);
        r = simple("write on a read-only disk", VIRTIO_BLK_T_OUT, 0, buf, SECTOR_SIZE, VIRTIO_BLK_S_IOERR);
        if (r)
                return r;
        r = simple(NULL, VIRTIO_BLK_T_IN, 0, buf, SECTOR_SIZE, VIRTIO_BLK_S_OK);
        if (r)
                return r;
        if (memcmp(buf, before, SECTOR_SIZE) != 0)
                return "a refused write changed the read-only disk";
        print("virtio-blk: read-only disk unchanged\n");
        return NULL;
}

static const char *blk_begin(uint8_t **ret_buf)
{
        const char *r;

        dma_reset();
        r = blk_start(&blk, 0);
        if (r)
                return r;
        print("virtio-blk: ");
        pci_print_fn(blk.dev.pci);
        print(" features=0x%lx of 0x%lx\n", blk.dev.features, blk.dev.offered);
        print("virtio-blk: capacity=%lu sectors seg_max=%u read-only=%u\n", blk.capacity, blk.seg_max,
              blk.read_only ? 1 : 0);
        if (blk.capacity < MIN_SECTORS || blk.capacity >= (UINT64_C(1) << 62))
                return "the disk's capacity is out of the scenario's range (64 sectors at least)";
        *ret_buf = dma_alloc(64 * 1024, 4096);
        if (!*ret_buf)
                return "the DMA arena is exhausted";
        return NULL;
}

const char *scenario_virtio_blk(void)
{
        uint64_t sectors[4];
        uint8_t *buf;
        const char *r;

        r = blk_begin(&buf);
        if (r)
                return r;
        if ((r = print_serial(buf)) || (r = check_host_pattern(buf)))
                return r;
        if (blk.read_only)
                return read_only_checks(buf);

        sectors[0] = 0;
        sectors[1] = 1;
        sectors[2] = blk.capacity / 2;
        sectors[3] = blk.capacity - 1;
        for (unsigned i = 0; i < ELEMENTSOF(sectors); i++) {
                r = write_and_read(buf, sectors[i], 1);
                if (r)
                        return r;
        }
        if ((r = write_and_read(buf, blk.capacity - 8, 8)) || (r = multi_segment(buf)) ||
            (r = out_of_range(buf)) ||
            (r = simple("request of unknown type 0xff", 0xff, 0, buf, SECTOR_SIZE, VIRTIO_BLK_S_UNSUPP)))
                return r;
        if (!virtio_has(&blk.dev, VIRTIO_BLK_F_FLUSH))
                print("virtio-blk: flush not offered\n");
        else if ((r = simple("flush", VIRTIO_BLK_T_FLUSH, 0, NULL, 0, VIRTIO_BLK_S_OK)))
                return r;
        if ((r = discard_and_zeroes(buf)))
                return r;
        return virtio_reset(&blk.dev);
}

/*
 * Writes FLUSH_SECTORS sectors of pattern from sector 0, flushes, says "flush: done" once the flush
 * completed with OK, and halts: the host kills the VMM then and checks its file.
 */
const char *scenario_virtio_blk_flush(void)
{
        uint8_t *buf;
        const char *r;

        r = blk_begin(&buf);
        if (r)
                return r;
        if (blk.read_only)
                return "the disk is read-only";
        if (!virtio_has(&blk.dev, VIRTIO_BLK_F_FLUSH))
                return "the device does not offer VIRTIO_BLK_F_FLUSH";
        if (blk.capacity < FLUSH_SECTORS)
                return "the disk is smaller than the 256 sectors the scenario writes";
        for (uint64_t s = 0; s < FLUSH_SECTORS; s += FLUSH_CHUNK) {
                fill_pattern(buf, FLUSH_CHUNK * SECTOR_SIZE, BLK_SEED, s * SECTOR_SIZE);
                r = simple(NULL, VIRTIO_BLK_T_OUT, s, buf, FLUSH_CHUNK * SECTOR_SIZE, VIRTIO_BLK_S_OK);
                if (r)
                        return r;
        }
        print("virtio-blk-flush: wrote sectors 0-%u with seed 0x%x\n", FLUSH_SECTORS - 1, BLK_SEED);
        r = simple("flush", VIRTIO_BLK_T_FLUSH, 0, NULL, 0, VIRTIO_BLK_S_OK);
        if (r)
                return r;
        print("flush: done\n");
        halt_forever();
}
