/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <linux/virtio_net.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "errbuf.h"
#include "log.h"
#include "virtio-net.h"

#define NET_RX 0
#define NET_TX 1
#define NET_HDR_SIZE 12u /* struct virtio_net_hdr_v1: virtio 1.x always has num_buffers */
/* The largest frame a TAP with TSO hands over, with its header. */
#define NET_FRAME_MAX (NET_HDR_SIZE + 65550u)
#define NET_RX_CHAINS_MAX 64u

typedef struct VirtioNet {
        VirtioDevice dev;
        int tap;
        char ifname[IFNAMSIZ];
        uint8_t mac[6];
        uint16_t mtu;
        bool rx_watched;

        VirtqElem *elem;
        VirtqElem *rx_elems[NET_RX_CHAINS_MAX];
        uint8_t *frame; /* a received frame waiting for guest buffers */
        size_t frame_len;

        uint64_t rx_bytes, rx_frames, tx_bytes, tx_frames, rx_dropped, tx_dropped;
} VirtioNet;

static VirtioNet *to_net(VirtioDevice *d)
{
        return (VirtioNet *) d;
}

static void net_config_read(VirtioDevice *d, uint32_t offset, uint8_t *data, uint32_t len)
{
        VirtioNet *n = to_net(d);
        struct virtio_net_config c = {
                .status = htole16(VIRTIO_NET_S_LINK_UP),
                .max_virtqueue_pairs = htole16(1),
                .mtu = htole16(n->mtu),
        };

        memcpy(c.mac, n->mac, sizeof c.mac);
        if (offset + len <= sizeof c)
                memcpy(data, (uint8_t *) &c + offset, len);
}

static void net_count(uint64_t *counter, uint64_t v)
{
        __atomic_add_fetch(counter, v, __ATOMIC_RELAXED);
}

static void net_tx_event(void *userdata, uint32_t events)
{
        VirtioNet *n = userdata;
        VirtioDevice *d = &n->dev;
        bool pushed = false;

        (void) eventfd_consume(d->queue_fds[NET_TX]);
        if (atomic_load(&d->broken) || !d->queues[NET_TX].enabled)
                return;
        virtio_queue_begin(d, NET_TX);
        while (virtio_queue_next(d, NET_TX, n->elem) > 0) {
                VirtqElem *e = n->elem;
                ssize_t w;

                /* The header and the frame, as the guest laid them out; the TAP takes the same header. */
                if (e->out_bytes > NET_HDR_SIZE) {
                        do
                                w = writev(n->tap, e->out, (int) e->n_out);
                        while (w < 0 && errno == EINTR);
                        if (w == (ssize_t) e->out_bytes) {
                                net_count(&n->tx_bytes, e->out_bytes - NET_HDR_SIZE);
                                net_count(&n->tx_frames, 1);
                        } else
                                net_count(&n->tx_dropped, 1);
                } else
                        net_count(&n->tx_dropped, 1);
                if (virtq_push(&d->queues[NET_TX], d->mem, e->head, 0) < 0) {
                        virtio_device_fail(d, NET_TX, -EPROTO, "cannot return a used buffer");
                        return;
                }
                pushed = true;
        }
        if (pushed)
                virtio_device_signal_queue(d, NET_TX);
}

static void net_watch_rx(VirtioNet *n, bool on)
{
        if (n->rx_watched != on && virtio_worker_modify(&n->dev.worker, n->tap, on ? EPOLLIN : 0) >= 0)
                n->rx_watched = on;
}

/*
 * Puts the waiting frame into receive buffers: into one chain, or with merged receive buffers into as
 * many as it takes (num_buffers in the first header says how many). Returns false when the guest has
 * not given enough buffers yet; nothing is taken from the ring then.
 */
static bool net_deliver_frame(VirtioNet *n)
{
        VirtioDevice *d = &n->dev;
        Virtqueue *vq = &d->queues[NET_RX];
        bool merge = virtio_has_feature(d->features, VIRTIO_NET_F_MRG_RXBUF);
        VirtqUsedElem used[NET_RX_CHAINS_MAX];
        size_t done = 0;
        unsigned k = 0;
        uint16_t nbuf;

        while (done < n->frame_len) {
                VirtqElem *e = n->rx_elems[k];
                size_t w;
                int r;

                if (k == NET_RX_CHAINS_MAX || (k > 0 && !merge))
                        break;
                r = virtio_queue_next(d, NET_RX, e);
                if (r < 0)
                        return true; /* the device failed; drop the frame */
                if (r == 0) {
                        /* Not enough buffers: give back what was taken, try again when more come. */
                        (void) virtq_unpop(vq, k);
                        return false;
                }
                w = virtq_elem_write_in(e, 0, n->frame + done, n->frame_len - done);
                if (k == 0 && w < NET_HDR_SIZE) {
                        /* A buffer that cannot even hold the header. */
                        virtio_device_fail(d, NET_RX, -EINVAL, "receive buffer smaller than the header");
                        return true;
                }
                used[k++] = (VirtqUsedElem) { .id = e->head, .len = (uint32_t) w };
                done += w;
        }
        if (done < n->frame_len) {
                /* Larger than the buffers the guest may chain: dropped, the buffers go back empty. */
                net_count(&n->rx_dropped, 1);
                for (unsigned i = 0; i < k; i++)
                        used[i].len = 0;
        } else {
                nbuf = htole16((uint16_t) k);
                (void) virtq_elem_write_in(n->rx_elems[0], offsetof(struct virtio_net_hdr_v1, num_buffers),
                                           &nbuf, sizeof nbuf);
                net_count(&n->rx_bytes, n->frame_len - NET_HDR_SIZE);
                net_count(&n->rx_frames, 1);
        }
        for (unsigned i = 0; i < k; i++)
                used[i].id = htole32(used[i].id), used[i].len = htole32(used[i].len);
        if (k > 0 && virtq_push_batch(vq, d->mem, used, k) < 0)
                virtio_device_fail(d, NET_RX, -EPROTO, "cannot return used buffers");
        return true;
}

static void net_rx(VirtioNet *n)
{
        VirtioDevice *d = &n->dev;
        bool delivered = false;

        if (atomic_load(&d->broken) || !d->queues[NET_RX].enabled)
                return;
        virtio_queue_begin(d, NET_RX);
        for (;;) {
                if (n->frame_len == 0) {
                        ssize_t r = read(n->tap, n->frame, NET_FRAME_MAX);
                        if (r < 0 && errno == EINTR)
                                continue;
                        if (r <= (ssize_t) NET_HDR_SIZE)
                                break; /* EAGAIN: all read */
                        n->frame_len = (size_t) r;
                }
                if (!net_deliver_frame(n))
                        break;
                n->frame_len = 0;
                delivered = true;
                if (atomic_load(&d->broken))
                        break;
        }
        if (delivered)
                virtio_device_signal_queue(d, NET_RX);
        /* A frame waiting for buffers: read no more until the guest gives some. */
        net_watch_rx(n, n->frame_len == 0);
}

static void net_tap_event(void *userdata, uint32_t events)
{
        net_rx(userdata);
}

static void net_rx_queue_event(void *userdata, uint32_t events)
{
        VirtioNet *n = userdata;

        (void) eventfd_consume(n->dev.queue_fds[NET_RX]);
        net_rx(n);
}

static int net_activate(VirtioDevice *d)
{
        VirtioNet *n = to_net(d);
        unsigned offload = 0;
        char name[16];
        int r;

        /* What the TAP may hand us is what the guest takes. */
        if (virtio_has_feature(d->features, VIRTIO_NET_F_GUEST_CSUM)) {
                offload |= TUN_F_CSUM;
                if (virtio_has_feature(d->features, VIRTIO_NET_F_GUEST_TSO4))
                        offload |= TUN_F_TSO4;
                if (virtio_has_feature(d->features, VIRTIO_NET_F_GUEST_TSO6))
                        offload |= TUN_F_TSO6;
        }
        if (ioctl(n->tap, TUNSETOFFLOAD, offload) < 0)
                return negative_errno();

        snprintf(name, sizeof name, "net-%s", d->id);
        r = virtio_worker_init(&d->worker, name);
        if (r < 0)
                return r;
        if ((r = virtio_worker_add(&d->worker, d->queue_fds[NET_RX], EPOLLIN, net_rx_queue_event, n)) < 0 ||
            (r = virtio_worker_add(&d->worker, d->queue_fds[NET_TX], EPOLLIN, net_tx_event, n)) < 0 ||
            (r = virtio_worker_add(&d->worker, n->tap, EPOLLIN, net_tap_event, n)) < 0)
                return r;
        n->rx_watched = true;
        n->frame_len = 0;
        return virtio_worker_start(&d->worker);
}

static void net_reset(VirtioDevice *d)
{
        virtio_worker_stop(&d->worker);
        to_net(d)->frame_len = 0;
}

static void net_free(VirtioDevice *d)
{
        VirtioNet *n = to_net(d);

        virtio_device_done(d);
        virtq_elem_free(n->elem);
        for (unsigned i = 0; i < NET_RX_CHAINS_MAX; i++)
                virtq_elem_free(n->rx_elems[i]);
        free(n->frame);
        safe_close(n->tap);
        free(n);
}

static const VirtioDeviceOps net_ops = {
        .config_read = net_config_read,
        .activate = net_activate,
        .reset = net_reset,
        .free = net_free,
};

/* Host side of the TAP: address, MAC, MTU, up. */
static int tap_configure(VirtioNet *n, const VirtioNetParams *p, bool created, char *err, size_t errlen)
{
        _cleanup_close_ int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct ifreq ifr = {};

        if (s < 0)
                return errbuf_fail(negative_errno(), err, errlen, "net %s: socket: %m", p->id);
        snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", n->ifname);

        if (p->host_mac_set) {
                ifr.ifr_hwaddr.sa_family = 1; /* ARPHRD_ETHER */
                memcpy(ifr.ifr_hwaddr.sa_data, p->host_mac, 6);
                if (ioctl(s, SIOCSIFHWADDR, &ifr) < 0)
                        return errbuf_fail(negative_errno(), err, errlen, "net %s: cannot set the MAC of %s: %m",
                                           p->id, n->ifname);
        }
        if (p->mtu) {
                ifr.ifr_mtu = p->mtu;
                if (ioctl(s, SIOCSIFMTU, &ifr) < 0)
                        return errbuf_fail(negative_errno(), err, errlen, "net %s: cannot set the MTU of %s to %u: %m",
                                           p->id, n->ifname, p->mtu);
        }
        if (p->ip_set && created) {
                struct sockaddr_in *sin = (struct sockaddr_in *) &ifr.ifr_addr;

                *sin = (struct sockaddr_in) { .sin_family = AF_INET, .sin_addr = p->ip };
                if (ioctl(s, SIOCSIFADDR, &ifr) < 0)
                        return errbuf_fail(negative_errno(), err, errlen, "net %s: cannot give %s the address %s: %m",
                                           p->id, n->ifname, inet_ntoa(p->ip));
                *sin = (struct sockaddr_in) { .sin_family = AF_INET, .sin_addr = p->mask };
                if (ioctl(s, SIOCSIFNETMASK, &ifr) < 0)
                        return errbuf_fail(negative_errno(), err, errlen, "net %s: cannot set the netmask of %s: %m",
                                           p->id, n->ifname);
        }
        if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
                return errbuf_fail(negative_errno(), err, errlen, "net %s: cannot read the flags of %s: %m", p->id,
                                   n->ifname);
        ifr.ifr_flags |= IFF_UP;
        if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
                return errbuf_fail(negative_errno(), err, errlen, "net %s: cannot bring %s up: %m", p->id, n->ifname);
        return 0;
}

static int tap_open(VirtioNet *n, const VirtioNetParams *p, char *err, size_t errlen)
{
        struct ifreq ifr = {};
        int hdr = NET_HDR_SIZE, flags;
        bool created = false;

        if (p->fd >= 0) {
                n->tap = fcntl(p->fd, F_DUPFD_CLOEXEC, 3);
                if (n->tap < 0)
                        return errbuf_fail(negative_errno(), err, errlen, "net %s: fd %d: %m", p->id, p->fd);
                if (ioctl(n->tap, TUNGETIFF, &ifr) < 0)
                        return errbuf_fail(-EINVAL, err, errlen, "net %s: fd %d is not a TAP device", p->id, p->fd);
                if (!(ifr.ifr_flags & IFF_TAP) || !(ifr.ifr_flags & IFF_VNET_HDR))
                        return errbuf_fail(-EINVAL, err, errlen, "net %s: fd %d is not a TAP opened with IFF_VNET_HDR",
                                           p->id, p->fd);
        } else {
                n->tap = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
                if (n->tap < 0)
                        return errbuf_fail(negative_errno(), err, errlen, "net %s: cannot open /dev/net/tun: %m", p->id);
                ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
                snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", p->tap ?: "vmtap%d");
                if (p->tap) {
                        /* Whether it exists already decides whether the address is ours to set. */
                        _cleanup_close_ int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
                        struct ifreq q = {};
                        snprintf(q.ifr_name, sizeof q.ifr_name, "%s", p->tap);
                        created = s >= 0 && ioctl(s, SIOCGIFINDEX, &q) < 0 && errno == ENODEV;
                } else
                        created = true;
                if (ioctl(n->tap, TUNSETIFF, &ifr) < 0)
                        return errbuf_fail(negative_errno(), err, errlen, "net %s: cannot %s TAP %s: %m", p->id,
                                           created ? "create" : "attach to", p->tap ?: "vmtap%d");
        }
        snprintf(n->ifname, sizeof n->ifname, "%s", ifr.ifr_name);
        if (ioctl(n->tap, TUNSETVNETHDRSZ, &hdr) < 0)
                return errbuf_fail(negative_errno(), err, errlen, "net %s: cannot set the vnet header size of %s: %m",
                                   p->id, n->ifname);
        flags = fcntl(n->tap, F_GETFL);
        if (flags < 0 || fcntl(n->tap, F_SETFL, flags | O_NONBLOCK) < 0)
                return errbuf_fail(negative_errno(), err, errlen, "net %s: %s: %m", p->id, n->ifname);
        return tap_configure(n, p, created, err, errlen);
}

int virtio_net_new(const VirtioNetParams *p, const GuestMemory *mem, VirtioDevice **ret, char *err, size_t errlen)
{
        uint64_t features = VIRTIO_FEATURE(VIRTIO_NET_F_MAC) | VIRTIO_FEATURE(VIRTIO_NET_F_STATUS) |
                            VIRTIO_FEATURE(VIRTIO_NET_F_MRG_RXBUF);
        VirtioNet *n;
        int r;

        if (p->offload_csum) {
                features |= VIRTIO_FEATURE(VIRTIO_NET_F_CSUM) | VIRTIO_FEATURE(VIRTIO_NET_F_GUEST_CSUM);
                if (p->offload_tso)
                        features |= VIRTIO_FEATURE(VIRTIO_NET_F_HOST_TSO4) | VIRTIO_FEATURE(VIRTIO_NET_F_HOST_TSO6) |
                                    VIRTIO_FEATURE(VIRTIO_NET_F_GUEST_TSO4) | VIRTIO_FEATURE(VIRTIO_NET_F_GUEST_TSO6);
        }
        if (p->mtu)
                features |= VIRTIO_FEATURE(VIRTIO_NET_F_MTU);

        n = calloc(1, sizeof *n);
        if (!n)
                return -ENOMEM;
        n->tap = -EBADF;
        memcpy(n->mac, p->mac, sizeof n->mac);
        n->mtu = p->mtu;
        r = virtio_device_init(&n->dev, &net_ops, VIRTIO_ID_NET, p->id, mem, 2, p->queue_size, features,
                               sizeof(struct virtio_net_config));
        if (r >= 0)
                r = virtq_elem_new(VIRTQ_SEGMENTS_DEFAULT, &n->elem);
        for (unsigned i = 0; i < NET_RX_CHAINS_MAX && r >= 0; i++)
                r = virtq_elem_new(64, &n->rx_elems[i]);
        n->frame = malloc(NET_FRAME_MAX);
        if (r >= 0 && !n->frame)
                r = -ENOMEM;
        if (r < 0) {
                errbuf_fail(r, err, errlen, "net %s: %s", p->id, strerror(-r));
                goto fail;
        }
        r = tap_open(n, p, err, errlen);
        if (r < 0)
                goto fail;
        *ret = &n->dev;
        return 0;
fail:
        net_free(&n->dev);
        return r;
}

const char *virtio_net_tap_name(VirtioDevice *d)
{
        return to_net(d)->ifname;
}

void virtio_net_counters(VirtioDevice *d, VirtioNetCounters *ret)
{
        VirtioNet *n = to_net(d);

        *ret = (VirtioNetCounters) {
                .rx_bytes = __atomic_load_n(&n->rx_bytes, __ATOMIC_RELAXED),
                .rx_frames = __atomic_load_n(&n->rx_frames, __ATOMIC_RELAXED),
                .tx_bytes = __atomic_load_n(&n->tx_bytes, __ATOMIC_RELAXED),
                .tx_frames = __atomic_load_n(&n->tx_frames, __ATOMIC_RELAXED),
                .rx_dropped = __atomic_load_n(&n->rx_dropped, __ATOMIC_RELAXED),
                .tx_dropped = __atomic_load_n(&n->tx_dropped, __ATOMIC_RELAXED),
        };
}
