/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Scenario virtio-net: the first NIC sends an Ethernet frame of the local experimental type 0x88b5, and
 * a frame of that type must arrive on some NIC: a reply from the host, or, with two NICs on one
 * network, the frame sent.
 */
#include "devices.h"

#define NET_RX               0
#define NET_TX               1
#define VIRTIO_NET_F_MAC     5
#define VIRTIO_NET_F_STATUS  16
#define VIRTIO_NET_S_LINK_UP 1
#define NET_CONFIG_MAC       0
#define NET_CONFIG_STATUS    6
/* struct virtio_net_hdr with VERSION_1: num_buffers is always there. */
#define NET_HDR_BYTES        12
#define ETH_HLEN             14
#define ETH_ZLEN             60
#define ETHERTYPE_TEST       0x88b5
#define NICS_MAX             2
#define RX_BUFFERS           8
#define RX_BUFFER_BYTES      2048
#define RECEIVE_SECONDS      30
#define PAYLOAD_PREFIX       "chv-test"

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
        r = virtio_start(&nic->dev, VIRTIO_FEATURE(VIRTIO_NET_F_MAC) | VIRTIO_FEATURE(VIRTIO_NET_F_STATUS), 2);
        if (r)
                return r;
        for (unsigned i = 0; i < 6; i++)
                nic->mac[i] = virtio_has(&nic->dev, VIRTIO_NET_F_MAC)
                                      ? (uint8_t) virtio_config_read(&nic->dev, NET_CONFIG_MAC + i, 1)
                                      : (uint8_t) (i == 0 ? 0x02 : i == 5 ? n : 0);
        print("virtio-net: nic %u ", n);
        pci_print_fn(nic->dev.pci);
        print(" mac=");
        print_mac(nic->mac);
        print(" features=0x%lx\n", nic->dev.features);
        if (virtio_has(&nic->dev, VIRTIO_NET_F_STATUS))
                print("virtio-net: nic %u link %s\n", n,
                      virtio_config_read(&nic->dev, NET_CONFIG_STATUS, 2) & VIRTIO_NET_S_LINK_UP ? "up" : "down");

        for (unsigned i = 0; i < RX_BUFFERS; i++) {
                struct virtq_buf b = { dma_alloc(RX_BUFFER_BYTES, 16), RX_BUFFER_BYTES, true };

                if (!b.addr)
                        return "the DMA arena is exhausted";
                if (virtq_add(&nic->dev.vqs[NET_RX], &b, 1) < 0)
                        return "no descriptor for a receive buffer";
        }
        virtq_kick(&nic->dev.vqs[NET_RX]);
        return NULL;
}

/* A broadcast frame of type 0x88b5 saying where it comes from: header and frame in two segments. */
static const char *send_ping(struct nic *nic)
{
        static const char text[] = PAYLOAD_PREFIX "-guest ping from ";
        uint8_t *hdr = dma_alloc(NET_HDR_BYTES, 16), *frame = dma_alloc(ETH_ZLEN, 16), *p;
        struct virtq_buf b[2] = { { hdr, NET_HDR_BYTES, false }, { frame, ETH_ZLEN, false } };

        if (!hdr || !frame)
                return "the DMA arena is exhausted";
        memset(frame, 0xff, 6);
        memcpy(frame + 6, nic->mac, 6);
        frame[12] = ETHERTYPE_TEST >> 8;
        frame[13] = ETHERTYPE_TEST & 0xff;
        p = frame + ETH_HLEN;
        memcpy(p, text, strlen(text));
        p += strlen(text);
        for (unsigned i = 0; i < 6; i++) {
                *p++ = (uint8_t) "0123456789abcdef"[nic->mac[i] >> 4];
                *p++ = (uint8_t) "0123456789abcdef"[nic->mac[i] & 0xf];
                if (i < 5)
                        *p++ = ':';
        }
        return virtq_request(&nic->dev.vqs[NET_TX], b, 2, NULL);
}

/* Whether the frame in a receive buffer is a test frame; prints it if it is. */
static bool test_frame(unsigned n, const uint8_t *buf, uint32_t len)
{
        const uint8_t *frame = buf + NET_HDR_BYTES, *payload = frame + ETH_HLEN;
        size_t plen = 0, max;

        if (len < NET_HDR_BYTES + ETH_HLEN || frame[12] != ETHERTYPE_TEST >> 8 || frame[13] != (ETHERTYPE_TEST & 0xff))
                return false;
        max = len - NET_HDR_BYTES - ETH_HLEN;
        while (plen < max && payload[plen])
                plen++;
        print("virtio-net: nic %u received %u bytes from ", n, len - NET_HDR_BYTES);
        print_mac(frame + 6);
        print(" \"");
        print_chars((const char *) payload, plen);
        print("\"\n");
        return plen >= strlen(PAYLOAD_PREFIX) && memcmp(payload, PAYLOAD_PREFIX, strlen(PAYLOAD_PREFIX)) == 0;
}

/* Polls every NIC's receive queue until a test frame arrives; other frames are counted and dropped. */
static const char *receive(unsigned count)
{
        unsigned others = 0;
        struct deadline d;

        deadline_start(&d, RECEIVE_SECONDS);
        while (!deadline_passed(&d)) {
                for (unsigned n = 0; n < count; n++) {
                        struct virtq *rx = &nics[n].dev.vqs[NET_RX];
                        struct virtq_buf b;
                        uint16_t head;
                        uint32_t len;
                        bool found;

                        if (!virtq_get(rx, &head, &len))
                                continue;
                        if (len > RX_BUFFER_BYTES)
                                return "the device wrote more than the receive buffer holds";
                        b = (struct virtq_buf) { (void *) (uintptr_t) rx->desc[head].addr, RX_BUFFER_BYTES, true };
                        found = test_frame(n, b.addr, len);
                        if (found)
                                return NULL;
                        others++;
                        if (virtq_add(rx, &b, 1) < 0)
                                return "no descriptor to give a receive buffer back";
                        virtq_kick(rx);
                }
                cpu_relax();
        }
        print("virtio-net: no test frame in %u seconds (%u other frames)\n", RECEIVE_SECONDS, others);
        return "no test frame arrived";
}

const char *scenario_virtio_net(void)
{
        unsigned count = 0;
        struct pci_fn f;
        const char *r;

        dma_reset();
        r = pci_init(false);
        if (r)
                return r;
        while (count < NICS_MAX && pci_find(VIRTIO_PCI_VENDOR, VIRTIO_PCI_DEVICE(VIRTIO_ID_NET), count, &f)) {
                r = nic_start(&nics[count], count);
                if (r)
                        return r;
                count++;
        }
        if (count == 0)
                return "no virtio-net device";
        r = send_ping(&nics[0]);
        if (r)
                return r;
        print("virtio-net: nic 0 sent %u bytes\n", ETH_ZLEN);
        r = receive(count);
        if (r)
                return r;
        for (unsigned n = 0; n < count; n++) {
                r = virtio_reset(&nics[n].dev);
                if (r)
                        return r;
        }
        return NULL;
}
