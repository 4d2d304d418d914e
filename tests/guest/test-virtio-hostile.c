/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Scenario virtio-hostile: the driver breaks the rules of the virtio specification on a virtio-blk
 * device (hostile=CASE, or all). The device must not hang: the guest reads its reaction (NEEDS_RESET,
 * a queue that does not enable, FEATURES_OK cleared), resets it, starts it again and makes a good
 * request, and a virtio-rng device must work before, during and after.
 *
 * hostile-accept=CASE:REACTION[,...] accepts a reaction the specification does not ask for (for
 * devices known to behave otherwise), so that the rest of the case still runs.
 */
#include "blk.h"
#include "devices.h"

#define REACTION_SECONDS 3
/* An address no RAM and no device of a small guest has: 16 TiB. */
#define NOWHERE      (UINT64_C(1) << 44)
#define LONG_CHAIN   2048
#define GOOD_SECTOR  2
#define HOSTILE_SEED 0x4057113eu

struct hostile_case {
        const char *name;
        const char *what;
        /* Does the wrong thing; ret_reaction gets a reaction when the case already saw one. */
        const char *(*run)(const char **ret_reaction);
        /* What the specification allows as the device's answer. */
        const char *allowed[2];
};

static struct blk blk;
static struct virtio_dev rng;
static uint8_t *data;

static struct virtq *blk_vq(void)
{
        return &blk.dev.vqs[0];
}

static void put_desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
        blk_vq()->desc[i] = (struct virtq_desc){.addr = addr, .len = len, .flags = flags, .next = next};
}

/* A read of sector 0 in descriptors 0-2, except what the case changes afterwards. */
static void put_read_request(void)
{
        *blk.req = (struct virtio_blk_req){.type = VIRTIO_BLK_T_IN};
        *blk.status = BLK_STATUS_UNSET;
        put_desc(0, (uintptr_t) blk.req, sizeof(*blk.req), VIRTQ_DESC_F_NEXT, 1);
        put_desc(1, (uintptr_t) data, SECTOR_SIZE, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2);
        put_desc(2, (uintptr_t) blk.status, 1, VIRTQ_DESC_F_WRITE, 0);
}

static void submit(uint16_t head)
{
        virtq_publish(blk_vq(), head);
        barrier_full();
        virtq_notify(blk_vq());
}

/* Starts the device again with more features than the scenario's usual ones. */
static const char *restart_with(uint64_t extra)
{
        const char *r;

        r = virtio_start(&blk.dev, BLK_FEATURES | extra, 1);
        if (r)
                return r;
        if ((extra & ~blk.dev.features) != 0)
                print("virtio-hostile: the device does not offer features 0x%lx\n",
                      extra & ~blk.dev.features);
        return NULL;
}

static const char *case_desc_loop(const char **ret_reaction)
{
        put_read_request();
        put_desc(2, (uintptr_t) data + SECTOR_SIZE, SECTOR_SIZE, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
        submit(0);
        return NULL;
}

static const char *case_desc_addr(const char **ret_reaction)
{
        put_read_request();
        put_desc(1, NOWHERE, SECTOR_SIZE, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2);
        submit(0);
        return NULL;
}

static const char *case_next_range(const char **ret_reaction)
{
        put_read_request();
        put_desc(1, (uintptr_t) data, SECTOR_SIZE, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT,
                 (uint16_t) (blk_vq()->size + 5));
        submit(0);
        return NULL;
}

/* An indirect table of three good descriptors whose length says two and a half. */
static const char *case_indirect_len(const char **ret_reaction)
{
        struct virtq_desc *table = (void *) (data + 4096);
        const char *r;

        r = restart_with(VIRTIO_FEATURE(VIRTIO_F_INDIRECT_DESC));
        if (r)
                return r;
        put_read_request();
        memcpy(table, (const void *) blk_vq()->desc, 3 * sizeof(*table));
        put_desc(0, (uintptr_t) table, 3 * sizeof(*table) - 8, VIRTQ_DESC_F_INDIRECT, 0);
        submit(0);
        return NULL;
}

/* An indirect table of 2048 well-formed descriptors: longer than the queue, more segments than 1024. */
static const char *case_long_chain(const char **ret_reaction)
{
        struct virtq_desc *table = dma_alloc(LONG_CHAIN * sizeof(struct virtq_desc), 16);
        const char *r;

        if (!table)
                return "the DMA arena is exhausted";
        r = restart_with(VIRTIO_FEATURE(VIRTIO_F_INDIRECT_DESC));
        if (r)
                return r;
        *blk.req = (struct virtio_blk_req){.type = VIRTIO_BLK_T_IN};
        *blk.status = BLK_STATUS_UNSET;
        table[0] = (struct virtq_desc){(uintptr_t) blk.req, sizeof(*blk.req), VIRTQ_DESC_F_NEXT, 1};
        for (uint16_t i = 1; i < LONG_CHAIN - 1; i++)
                table[i] = (struct virtq_desc){(uintptr_t) data, SECTOR_SIZE,
                                               VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, (uint16_t) (i + 1)};
        table[LONG_CHAIN - 1] = (struct virtq_desc){(uintptr_t) blk.status, 1, VIRTQ_DESC_F_WRITE, 0};
        put_desc(0, (uintptr_t) table, LONG_CHAIN * sizeof(*table), VIRTQ_DESC_F_INDIRECT, 0);
        submit(0);
        return NULL;
}

static const char *case_zero_len(const char **ret_reaction)
{
        put_read_request();
        put_desc(1, (uintptr_t) data, 0, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2);
        submit(0);
        return NULL;
}

/* The available index moves by one more than the queue has entries. */
static const char *case_avail_jump(const char **ret_reaction)
{
        struct virtq *vq = blk_vq();

        put_read_request();
        for (uint16_t i = 0; i < vq->size; i++)
                vq->avail->ring[i] = 0;
        vq->avail_idx = (uint16_t) (vq->avail_idx + vq->size + 1);
        barrier_compiler();
        vq->avail->idx = vq->avail_idx;
        barrier_full();
        virtq_notify(vq);
        return NULL;
}

/* Queue configuration by hand, after a fresh negotiation: size and ring addresses, then enable. */
static const char *configure_queue(uint16_t size, uint64_t desc, uint64_t avail, uint64_t used,
                                   const char **ret_reaction)
{
        uint64_t notify_off;
        const char *r;

        r = virtio_negotiate(&blk.dev, BLK_FEATURES);
        if (r)
                return r;
        virtio_common_write16(&blk.dev, VIRTIO_COMMON_Q_SELECT, 0);
        virtio_common_write16(&blk.dev, VIRTIO_COMMON_Q_SIZE, size);
        virtio_common_write64(&blk.dev, VIRTIO_COMMON_Q_DESC, desc);
        virtio_common_write64(&blk.dev, VIRTIO_COMMON_Q_AVAIL, avail);
        virtio_common_write64(&blk.dev, VIRTIO_COMMON_Q_USED, used);
        virtio_common_write16(&blk.dev, VIRTIO_COMMON_Q_ENABLE, 1);
        if (virtio_common_read16(&blk.dev, VIRTIO_COMMON_Q_ENABLE) != 1) {
                print("virtio-hostile: queue_enable reads 0 after enabling\n");
                *ret_reaction = "queue-refused";
                return NULL;
        }
        print("virtio-hostile: queue_enable reads 1 after enabling\n");
        if (virtio_get_status(&blk.dev) & VIRTIO_STATUS_NEEDS_RESET)
                return NULL;
        virtio_set_status(&blk.dev, virtio_get_status(&blk.dev) | VIRTIO_STATUS_DRIVER_OK);
        if (virtio_get_status(&blk.dev) & VIRTIO_STATUS_NEEDS_RESET)
                return NULL;
        /* Accepted: a notification must not hang anything either. */
        notify_off =
                (uint64_t) virtio_common_read16(&blk.dev, VIRTIO_COMMON_Q_NOFF) * blk.dev.notify_multiplier;
        if (notify_off + 2 <= blk.dev.notify_len)
                mmio_write16(blk.dev.notify + notify_off, 0);
        sleep_seconds(2);
        print("virtio-hostile: device_status 0x%02x after a notification\n", virtio_get_status(&blk.dev));
        if (!(virtio_get_status(&blk.dev) & VIRTIO_STATUS_NEEDS_RESET))
                *ret_reaction = "accepted";
        return NULL;
}

static const char *case_queue_size(const char **ret_reaction)
{
        uint16_t max, size;
        uint8_t *rings = dma_alloc(3 * 4096 + 16 * VIRTQ_SIZE_MAX, 4096);

        if (!rings)
                return "the DMA arena is exhausted";
        virtio_common_write16(&blk.dev, VIRTIO_COMMON_Q_SELECT, 0);
        max = virtio_common_read16(&blk.dev, VIRTIO_COMMON_Q_SIZE);
        if (max < 4)
                return "the queue is too small to make its size odd";
        size = (uint16_t) ((max > VIRTQ_SIZE_MAX ? VIRTQ_SIZE_MAX : max) - 1);
        print("virtio-hostile: queue_size %u (the device offers %u)\n", size, max);
        return configure_queue(size, (uintptr_t) rings, (uintptr_t) rings + 16 * VIRTQ_SIZE_MAX,
                               (uintptr_t) rings + 16 * VIRTQ_SIZE_MAX + 4096, ret_reaction);
}

static const char *case_rings_outside(const char **ret_reaction)
{
        return configure_queue(16, NOWHERE, NOWHERE + 0x1000, NOWHERE + 0x2000, ret_reaction);
}

/* A good request made available and notified before DRIVER_OK: the device must not take it yet. */
static const char *case_notify_early(const char **ret_reaction)
{
        struct virtq *vq = blk_vq();
        const char *r, *early;
        uint16_t head;
        uint32_t len;

        r = virtio_negotiate(&blk.dev, BLK_FEATURES);
        if (r)
                return r;
        r = virtq_setup(&blk.dev, 0, VIRTQ_SIZE_MAX);
        if (r)
                return r;
        put_read_request();
        submit(0);
        sleep_seconds(REACTION_SECONDS);
        if (virtio_get_status(&blk.dev) & VIRTIO_STATUS_NEEDS_RESET)
                return NULL;
        if (vq->used->idx != 0) {
                *ret_reaction = "completed";
                return NULL;
        }
        early = "ignored";
        print("virtio-hostile: nothing used before DRIVER_OK\n");
        virtio_set_status(&blk.dev, virtio_get_status(&blk.dev) | VIRTIO_STATUS_DRIVER_OK);
        virtq_notify(vq);
        r = virtq_wait(vq, 10, &head, &len);
        if (r)
                return "the request made before DRIVER_OK did not complete after DRIVER_OK";
        print("virtio-hostile: after DRIVER_OK the early request -> %s\n", blk_status_name(*blk.status));
        *ret_reaction = early;
        return NULL;
}

/* Features without VERSION_1, then with a bit the device does not offer: FEATURES_OK must not stick. */
static const char *refuse_features(uint64_t features, const char **ret_reaction)
{
        const char *r;

        r = virtio_reset(&blk.dev);
        if (r)
                return r;
        virtio_set_status(&blk.dev, VIRTIO_STATUS_ACKNOWLEDGE);
        virtio_set_status(&blk.dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
        virtio_write_features(&blk.dev, features);
        virtio_set_status(&blk.dev,
                          VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
        print("virtio-hostile: features 0x%lx, device_status 0x%02x\n", features,
              virtio_get_status(&blk.dev));
        *ret_reaction =
                virtio_get_status(&blk.dev) & VIRTIO_STATUS_FEATURES_OK ? "accepted" : "features-refused";
        return NULL;
}

static const char *case_no_version_1(const char **ret_reaction)
{
        return refuse_features(virtio_device_features(&blk.dev) & ~VIRTIO_FEATURE(VIRTIO_F_VERSION_1),
                               ret_reaction);
}

static const char *case_unknown_features(const char **ret_reaction)
{
        uint64_t offered = virtio_device_features(&blk.dev);
        unsigned bit = 23;

        /* The highest device-specific bit the device does not offer. */
        while (bit > 0 && (offered & VIRTIO_FEATURE(bit)))
                bit--;
        return refuse_features(VIRTIO_FEATURE(VIRTIO_F_VERSION_1) | VIRTIO_FEATURE(bit), ret_reaction);
}

static const struct hostile_case cases[] = {
        {"desc-loop", "a descriptor chain that loops", case_desc_loop, {"needs-reset"}},
        {"desc-addr", "a descriptor pointing outside RAM", case_desc_addr, {"needs-reset"}},
        {"next-range", "a next index beyond the queue", case_next_range, {"needs-reset"}},
        {"indirect-len",
         "an indirect table whose length is not a multiple of 16",
         case_indirect_len,
         {"needs-reset"}},
        {"long-chain", "a chain of 2048 descriptors", case_long_chain, {"needs-reset"}},
        {"zero-len", "a zero-length descriptor", case_zero_len, {"needs-reset"}},
        {"avail-jump",
         "the available index moved by more than the queue size",
         case_avail_jump,
         {"needs-reset"}},
        {"queue-size",
         "a queue size that is not a power of two",
         case_queue_size,
         {"queue-refused", "needs-reset"}},
        {"rings-outside", "rings outside RAM", case_rings_outside, {"queue-refused", "needs-reset"}},
        {"notify-early", "a notification before DRIVER_OK", case_notify_early, {"ignored", "needs-reset"}},
        {"no-version-1", "features without VIRTIO_F_VERSION_1", case_no_version_1, {"features-refused"}},
        {"unknown-features",
         "a feature the device does not offer",
         case_unknown_features,
         {"features-refused"}},
};

/* Waits for NEEDS_RESET or a used element (a completed chain), or lets the time pass. */
static const char *observe(void)
{
        struct virtq *vq = blk_vq();
        struct deadline d;

        deadline_start(&d, REACTION_SECONDS);
        while (!deadline_passed(&d)) {
                if (virtio_get_status(&blk.dev) & VIRTIO_STATUS_NEEDS_RESET)
                        return "needs-reset";
                if (vq->ready && vq->used->idx != vq->last_used) {
                        print("virtio-hostile: the device used the chain: len=%u status=%s\n",
                              vq->used->ring[vq->last_used % vq->size].len, blk_status_name(*blk.status));
                        return "completed";
                }
        }
        return "ignored";
}

/* Whether hostile-accept= names this case with this reaction. */
static bool accepted_by_cmdline(const char *name, const char *reaction)
{
        const char *v, *end;
        size_t len, nlen = strlen(name), rlen = strlen(reaction);

        if (!cmdline_value("hostile-accept", &v, &len))
                return false;
        for (end = v + len; v < end;) {
                const char *item = v;

                while (v < end && *v != ',')
                        v++;
                if ((size_t) (v - item) == nlen + 1 + rlen && memcmp(item, name, nlen) == 0 &&
                    item[nlen] == ':' && memcmp(item + nlen + 1, reaction, rlen) == 0)
                        return true;
                if (v < end)
                        v++;
        }
        return false;
}

/* A good write and read back, proving the device works again. */
static const char *good_request(const char *when)
{
        struct virtq_buf b = {data, SECTOR_SIZE, false};
        uint8_t status;
        const char *r;

        fill_pattern(data, SECTOR_SIZE, HOSTILE_SEED, GOOD_SECTOR * SECTOR_SIZE);
        r = blk_request(&blk, VIRTIO_BLK_T_OUT, GOOD_SECTOR, &b, 1, &status);
        if (r)
                return r;
        if (status == VIRTIO_BLK_S_OK) {
                memset(data, 0, SECTOR_SIZE);
                b.write = true;
                r = blk_request(&blk, VIRTIO_BLK_T_IN, GOOD_SECTOR, &b, 1, &status);
                if (r)
                        return r;
        }
        print("virtio-hostile: good request %s -> %s\n", when, blk_status_name(status));
        if (status != VIRTIO_BLK_S_OK)
                return "a good request failed";
        if (check_pattern(data, SECTOR_SIZE, HOSTILE_SEED, GOOD_SECTOR * SECTOR_SIZE) != SECTOR_SIZE)
                return "a good request read back other data";
        return NULL;
}

static const char *run_case(const struct hostile_case *c)
{
        const char *reaction = NULL, *r;
        bool ok = false;

        print("virtio-hostile: %s: %s\n", c->name, c->what);
        r = c->run(&reaction);
        if (r)
                return r;
        if (!reaction)
                reaction = observe();
        print("virtio-hostile: %s: reaction=%s device_status=0x%02x\n", c->name, reaction,
              virtio_get_status(&blk.dev));
        for (unsigned i = 0; i < ELEMENTSOF(c->allowed); i++)
                if (c->allowed[i] && strlen(c->allowed[i]) == strlen(reaction) &&
                    memcmp(c->allowed[i], reaction, strlen(reaction)) == 0)
                        ok = true;
        if (!ok && accepted_by_cmdline(c->name, reaction)) {
                print("virtio-hostile: %s: reaction %s accepted by hostile-accept=\n", c->name, reaction);
                ok = true;
        }
        if (!ok)
                return "the device's reaction is not what the specification asks for";

        r = rng_check(&rng, "before the reset");
        if (r)
                return r;
        r = virtio_reset(&blk.dev);
        if (r)
                return r;
        print("virtio-hostile: %s: reset, device_status 0x%02x\n", c->name, virtio_get_status(&blk.dev));
        r = blk_restart(&blk);
        if (r)
                return r;
        r = good_request("after the reset");
        if (r)
                return r;
        return rng_check(&rng, "after the reset");
}

const char *scenario_virtio_hostile(void)
{
        const char *name, *r;
        size_t len;
        bool all, found = false;

        if (!cmdline_value("hostile", &name, &len)) {
                print("virtio-hostile: hostile=CASE or hostile=all, CASE one of");
                for (unsigned i = 0; i < ELEMENTSOF(cases); i++)
                        print(" %s", cases[i].name);
                print("\n");
                return "no hostile= case on the command line";
        }
        all = str_eq_n(name, len, "all");

        dma_reset();
        if ((r = blk_start(&blk, 0)) || (r = rng_start(&rng)))
                return r;
        data = dma_alloc(64 * 1024, 4096);
        if (!data)
                return "the DMA arena is exhausted";
        if ((r = rng_check(&rng, "before")) || (r = good_request("before")))
                return r;

        for (unsigned i = 0; i < ELEMENTSOF(cases); i++) {
                if (!all && !str_eq_n(name, len, cases[i].name))
                        continue;
                found = true;
                r = run_case(&cases[i]);
                if (r)
                        return r;
        }
        if (!found)
                return "unknown hostile= case";
        if ((r = virtio_reset(&blk.dev)) || (r = virtio_reset(&rng)))
                return r;
        return NULL;
}
