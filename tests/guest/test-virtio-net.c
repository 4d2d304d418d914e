/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Scenario virtio-net: the first NIC sends an Ethernet frame of the local experimental type 0x88b5, and
 * a frame of that type must arrive on some NIC: a reply from the host, or, with two NICs on one
 * network, the frame sent.
 */
#include "bench.h"
#include "devices.h"

#define NET_RX               0
#define NET_TX               1
#define VIRTIO_NET_F_MAC     5
#define VIRTIO_NET_F_STATUS  16
#define VIRTIO_NET_S_LINK_UP 1
#define NET_CONFIG_MAC       0
#define NET_CONFIG_STATUS    6
/* struct virtio_net_hdr with VERSION_1: num_buffers is always there. */
#define NET_HDR_BYTES   12
#define ETH_HLEN        14
#define ETH_ZLEN        60
#define ETHERTYPE_TEST  0x88b5
#define NICS_MAX        2
#define RX_BUFFERS      8
#define RX_BUFFER_BYTES 2048
/* The frame is sent again every PING_SECONDS until an answer comes, at most PINGS times. */
#define PING_SECONDS       2
#define PINGS              15
#define PAYLOAD_PREFIX     "chv-test"
#define ETH_FRAME_MAX      1514
#define BENCH_BUFFER_BYTES (6u << 20)
/* Frames of other types that are shown before they are only counted. */
#define OTHERS_SHOWN 4

struct nic {
        struct virtio_dev dev;
        uint8_t mac[6];
};

static struct nic nics[NICS_MAX];

static void print_mac(const uint8_t *mac)
{
        for (unsigned i = 0; i < 6; i++)
                print(i ? ":%02x" : "%02x", mac[i]);
}

static const char *nic_start(struct nic *nic, unsigned n)
{
        const char *r;

        r = virtio_attach(&nic->dev, VIRTIO_ID_NET, n);
        if (r)
                return r;
        r = virtio_start(&nic->dev, VIRTIO_FEATURE(VIRTIO_NET_F_MAC) | VIRTIO_FEATURE(VIRTIO_NET_F_STATUS),
                         2);
        if (r)
                return r;
        for (unsigned i = 0; i < 6; i++)
                nic->mac[i] = virtio_has(&nic->dev, VIRTIO_NET_F_MAC)
                                      ? (uint8_t) virtio_config_read(&nic->dev, NET_CONFIG_MAC + i, 1)
                                      : (uint8_t) (i == 0   ? 0x02
                                                   : i == 5 ? n
                                                            : 0);
        print("virtio-net: nic %u ", n);
        pci_print_fn(nic->dev.pci);
        print(" mac=");
        print_mac(nic->mac);
        print(" features=0x%lx\n", nic->dev.features);
        if (virtio_has(&nic->dev, VIRTIO_NET_F_STATUS))
                print("virtio-net: nic %u link %s\n", n,
                      virtio_config_read(&nic->dev, NET_CONFIG_STATUS, 2) & VIRTIO_NET_S_LINK_UP ? "up"
                                                                                                 : "down");

        for (unsigned i = 0; i < RX_BUFFERS; i++) {
                struct virtq_buf b = {dma_alloc(RX_BUFFER_BYTES, 16), RX_BUFFER_BYTES, true};

                if (!b.addr)
                        return "the DMA arena is exhausted";
                if (virtq_add(&nic->dev.vqs[NET_RX], &b, 1) < 0)
                        return "no descriptor for a receive buffer";
        }
        virtq_kick(&nic->dev.vqs[NET_RX]);
        return NULL;
}

/* A broadcast frame of type 0x88b5 from the NIC, ETH_ZLEN bytes or more: the payload is text, then zeroes.
 */
static void put_frame(const struct nic *nic, uint8_t *frame, size_t len, const char *text)
{
        memset(frame, 0, len);
        memset(frame, 0xff, 6);
        memcpy(frame + 6, nic->mac, 6);
        frame[12] = ETHERTYPE_TEST >> 8;
        frame[13] = ETHERTYPE_TEST & 0xff;
        memcpy(frame + ETH_HLEN, text, strlen(text));
}

/* The frame saying where it comes from, behind the header: two segments. */
static const char *make_ping(struct nic *nic, struct virtq_buf ret_bufs[2])
{
        static const char text[] = PAYLOAD_PREFIX "-guest ping from ";
        uint8_t *hdr = dma_alloc(NET_HDR_BYTES, 16), *frame = dma_alloc(ETH_ZLEN, 16), *p;

        if (!hdr || !frame)
                return "the DMA arena is exhausted";
        put_frame(nic, frame, ETH_ZLEN, text);
        p = frame + ETH_HLEN + strlen(text);
        for (unsigned i = 0; i < 6; i++) {
                *p++ = (uint8_t) "0123456789abcdef"[nic->mac[i] >> 4];
                *p++ = (uint8_t) "0123456789abcdef"[nic->mac[i] & 0xf];
                if (i < 5)
                        *p++ = ':';
        }
        ret_bufs[0] = (struct virtq_buf){hdr, NET_HDR_BYTES, false};
        ret_bufs[1] = (struct virtq_buf){frame, ETH_ZLEN, false};
        return NULL;
}

/* Whether the frame in a receive buffer is a test frame; prints it if it is. */
static bool test_frame(unsigned n, const uint8_t *buf, uint32_t len)
{
        const uint8_t *frame = buf + NET_HDR_BYTES, *payload = frame + ETH_HLEN;
        size_t plen = 0, max;

        if (len < NET_HDR_BYTES + ETH_HLEN || frame[12] != ETHERTYPE_TEST >> 8 ||
            frame[13] != (ETHERTYPE_TEST & 0xff))
                return false;
        max = len - NET_HDR_BYTES - ETH_HLEN;
        while (plen < max && payload[plen])
                plen++;
        print("virtio-net: nic %u received %u bytes from ", n, len - NET_HDR_BYTES);
        print_mac(frame + 6);
        print(" \"");
        print_chars((const char *) payload, plen);
        print("\"\n");
        return plen >= strlen(PAYLOAD_PREFIX) &&
               memcmp(payload, PAYLOAD_PREFIX, strlen(PAYLOAD_PREFIX)) == 0;
}

/*
 * Polls every NIC's receive queue for up to seconds: 1 when a test frame arrived, 0 when none did, -1
 * with a reason in *ret_reason when the device misbehaved. Other frames are counted and dropped.
 */
static int receive(unsigned count, unsigned seconds, unsigned *others, const char **ret_reason)
{
        struct deadline d;

        deadline_start(&d, seconds);
        while (!deadline_passed(&d)) {
                for (unsigned n = 0; n < count; n++) {
                        struct virtq *rx = &nics[n].dev.vqs[NET_RX];
                        struct virtq_buf b;
                        uint16_t head;
                        uint32_t len;

                        if (!virtq_get(rx, &head, &len))
                                continue;
                        if (len > RX_BUFFER_BYTES) {
                                *ret_reason = "the device wrote more than the receive buffer holds";
                                return -1;
                        }
                        b = (struct virtq_buf){(void *) (uintptr_t) rx->desc[head].addr, RX_BUFFER_BYTES,
                                               true};
                        if (test_frame(n, b.addr, len))
                                return 1;
                        if ((*others)++ < OTHERS_SHOWN && len >= NET_HDR_BYTES + ETH_HLEN)
                                print("virtio-net: nic %u dropped %u bytes of type 0x%02x%02x\n", n,
                                      len - NET_HDR_BYTES, ((const uint8_t *) b.addr)[NET_HDR_BYTES + 12],
                                      ((const uint8_t *) b.addr)[NET_HDR_BYTES + 13]);
                        if (virtq_add(rx, &b, 1) < 0) {
                                *ret_reason = "no descriptor to give a receive buffer back";
                                return -1;
                        }
                        virtq_kick(rx);
                }
                cpu_relax();
        }
        return 0;
}

const char *scenario_virtio_net(void)
{
        struct virtq_buf ping[2];
        unsigned count = 0, others = 0;
        int got = 0;
        struct pci_fn f;
        const char *r;

        dma_reset();
        r = pci_init(false);
        if (r)
                return r;
        while (count < NICS_MAX &&
               pci_find(VIRTIO_PCI_VENDOR, VIRTIO_PCI_DEVICE(VIRTIO_ID_NET), count, &f)) {
                r = nic_start(&nics[count], count);
                if (r)
                        return r;
                count++;
        }
        if (count == 0)
                return "no virtio-net device";
        r = make_ping(&nics[0], ping);
        if (r)
                return r;
        /* Sent again until something answers: the other side may not listen yet. */
        for (unsigned i = 0; i < PINGS && got == 0; i++) {
                r = virtq_request(&nics[0].dev.vqs[NET_TX], ping, 2, NULL);
                if (r)
                        return r;
                if (i == 0)
                        print("virtio-net: nic 0 sent %u bytes\n", ETH_ZLEN);
                got = receive(count, PING_SECONDS, &others, &r);
                if (got < 0)
                        return r;
        }
        if (got == 0) {
                print("virtio-net: no test frame after %u frames sent (%u other frames)\n", PINGS, others);
                return "no test frame arrived";
        }
        for (unsigned n = 0; n < count; n++) {
                r = virtio_reset(&nics[n].dev);
                if (r)
                        return r;
        }
        return NULL;
}

/*
 * Scenario virtio-net-bench: bench=tx,qd=N,bs=N,count=N sends count broadcast frames of bs bytes
 * (60..1514, without the header) from the first NIC, qd at a time, from the CPL3 loop.
 */
const char *scenario_virtio_net_bench(void)
{
        struct bench_options o;
        struct virtq *tx;
        uint32_t slot_bytes;
        uint8_t *bufs;
        const char *r;

        r = bench_parse(&o, BENCH_TX, BENCH_TX, ETH_ZLEN);
        if (r)
                return r;
        dma_reset();
        r = nic_start(&nics[0], 0);
        if (r)
                return r;
        tx = &nics[0].dev.vqs[NET_TX];
        if (o.bs < ETH_ZLEN || o.bs > ETH_FRAME_MAX)
                return "bench=: bs must be a frame size from 60 to 1514";
        if (o.qd == 0 || o.qd > tx->size)
                return "bench=: qd must be at least 1 and at most the queue size";
        slot_bytes = (uint32_t) ((NET_HDR_BYTES + o.bs + 63) & ~UINT64_C(63));
        if (o.qd * slot_bytes > BENCH_BUFFER_BYTES)
                return "bench=: qd frames are more than the 6 MiB of buffers";
        bufs = dma_alloc(o.qd * slot_bytes, 4096);
        if (!bufs)
                return "the DMA arena is exhausted";

        bench_job_init(tx, &o, 1);
        for (uint32_t i = 0; i < o.qd; i++) {
                uint8_t *b = bufs + i * slot_bytes;

                memset(b, 0, NET_HDR_BYTES);
                put_frame(&nics[0], b + NET_HDR_BYTES, o.bs, PAYLOAD_PREFIX "-guest bench");
                tx->desc[i] = (struct virtq_desc){(uintptr_t) b, (uint32_t) (NET_HDR_BYTES + o.bs), 0, 0};
        }
        return bench_run(&nics[0].dev, "virtio-net-bench");
}
