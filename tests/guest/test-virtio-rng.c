/* SPDX-License-Identifier: Apache-2.0 */
/* Scenario virtio-rng: random bytes arrive, and they are not all the same. */
#include "devices.h"

#define RNG_REQUESTS 4
#define RNG_BYTES    64

const char *rng_start(struct virtio_dev *rng)
{
        const char *r;

        r = virtio_attach(rng, VIRTIO_ID_RNG, 0);
        if (r)
                return r;
        return virtio_start(rng, 0, 1);
}

/* Asks for len bytes; the device gives 1..len. */
static const char *rng_fetch(struct virtio_dev *rng, uint8_t *buf, uint32_t len, uint32_t *ret_got)
{
        struct virtq_buf b = {buf, len, true};
        const char *r;

        memset(buf, 0, len);
        r = virtq_request(&rng->vqs[0], &b, 1, ret_got);
        if (r)
                return r;
        if (*ret_got == 0 || *ret_got > len) {
                print("virtio-rng: %u bytes for a buffer of %u\n", *ret_got, len);
                return "virtio-rng returned a bad length";
        }
        return NULL;
}

static bool all_same(const uint8_t *b, uint32_t n)
{
        for (uint32_t i = 1; i < n; i++)
                if (b[i] != b[0])
                        return false;
        return true;
}

const char *rng_check(struct virtio_dev *rng, const char *when)
{
        uint8_t *buf = dma_alloc(RNG_BYTES, 16);
        uint32_t got;
        const char *r;

        if (!buf)
                return "the DMA arena is exhausted";
        r = rng_fetch(rng, buf, RNG_BYTES, &got);
        if (r)
                return r;
        print("virtio-rng: %s: %u bytes\n", when, got);
        if (got >= 8 && all_same(buf, got))
                return "virtio-rng returned constant bytes";
        return NULL;
}

const char *scenario_virtio_rng(void)
{
        static struct virtio_dev rng;
        uint8_t *bufs[RNG_REQUESTS];
        uint32_t got[RNG_REQUESTS];
        bool differ = false;
        const char *r;

        dma_reset();
        r = rng_start(&rng);
        if (r)
                return r;
        print("virtio-rng: ");
        pci_print_fn(rng.pci);
        print(" features=0x%lx\n", rng.features);
        for (unsigned i = 0; i < RNG_REQUESTS; i++) {
                bufs[i] = dma_alloc(RNG_BYTES, 16);
                if (!bufs[i])
                        return "the DMA arena is exhausted";
                r = rng_fetch(&rng, bufs[i], RNG_BYTES, &got[i]);
                if (r)
                        return r;
                print("virtio-rng: request %u returned %u bytes\n", i, got[i]);
                if (got[i] >= 8 && all_same(bufs[i], got[i]))
                        return "virtio-rng returned constant bytes";
                if (i > 0 && (got[i] != got[0] || memcmp(bufs[i], bufs[0], got[0]) != 0))
                        differ = true;
        }
        if (!differ)
                return "every virtio-rng request returned the same bytes";
        print("virtio-rng: bytes vary\n");
        return virtio_reset(&rng);
}
