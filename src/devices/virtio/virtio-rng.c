/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <sys/epoll.h>

#include "errbuf.h"
#include "virtio-rng.h"

#define RNG_QUEUE_SIZE 256
/* Bytes given for one request at most: the driver asks again for more. */
#define RNG_REQUEST_MAX (64 * 1024)

typedef struct VirtioRng {
        VirtioDevice dev;
        int fd;
        VirtqElem *elem;
} VirtioRng;

static void rng_queue_event(void *userdata, uint32_t events)
{
        VirtioRng *rng = userdata;
        VirtioDevice *d = &rng->dev;
        bool pushed = false;

        (void) eventfd_consume(d->queue_fds[0]);
        if (atomic_load(&d->broken))
                return;
        virtio_queue_begin(d, 0);
        while (virtio_queue_next(d, 0, rng->elem) > 0) {
                VirtqElem *e = rng->elem;
                uint32_t want = MIN(e->in_bytes, (uint32_t) RNG_REQUEST_MAX), done = 0;

                /* Straight into the guest's buffers, segment by segment. */
                for (unsigned i = 0; i < e->n_in && done < want; i++) {
                        size_t len = MIN(e->in[i].iov_len, (size_t) (want - done));
                        ssize_t n = read(rng->fd, e->in[i].iov_base, len);

                        if (n <= 0)
                                break;
                        done += (uint32_t) n;
                        if ((size_t) n < len)
                                break;
                }
                if (virtq_push(&d->queues[0], d->mem, e->head, done) < 0) {
                        virtio_device_fail(d, 0, -EPROTO, "cannot return a used buffer");
                        break;
                }
                pushed = true;
        }
        if (pushed)
                virtio_device_signal_queue(d, 0);
}

static int rng_activate(VirtioDevice *d)
{
        VirtioRng *rng = (VirtioRng *) d;
        char name[16];
        int r;

        snprintf(name, sizeof name, "rng-%s", d->id);
        r = virtio_worker_init(&d->worker, name);
        if (r < 0)
                return r;
        r = virtio_worker_add(&d->worker, d->queue_fds[0], EPOLLIN, rng_queue_event, rng);
        if (r < 0)
                return r;
        return virtio_worker_start(&d->worker);
}

static void rng_reset(VirtioDevice *d)
{
        virtio_worker_stop(&d->worker);
}

static void rng_free(VirtioDevice *d)
{
        VirtioRng *rng = (VirtioRng *) d;

        virtio_device_done(d);
        virtq_elem_free(rng->elem);
        safe_close(rng->fd);
        free(rng);
}

static const VirtioDeviceOps rng_ops = {
        .activate = rng_activate,
        .reset = rng_reset,
        .free = rng_free,
};

int virtio_rng_new(const char *id, const char *src, const GuestMemory *mem, VirtioDevice **ret, char *err,
                   size_t errlen)
{
        VirtioRng *rng;
        int r;

        rng = calloc(1, sizeof *rng);
        if (!rng)
                return -ENOMEM;
        rng->fd = -EBADF;
        r = virtio_device_init(&rng->dev, &rng_ops, VIRTIO_ID_RNG, id, mem, 1, RNG_QUEUE_SIZE, 0, 0);
        if (r >= 0)
                r = virtq_elem_new(VIRTQ_SEGMENTS_DEFAULT, &rng->elem);
        if (r < 0) {
                errbuf_fail(r, err, errlen, "rng: %s", strerror(-r));
                goto fail;
        }
        rng->fd = open(src, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        if (rng->fd < 0) {
                r = errbuf_fail(negative_errno(), err, errlen, "rng: cannot open \"%s\": %m", src);
                goto fail;
        }
        *ret = &rng->dev;
        return 0;
fail:
        rng_free(&rng->dev);
        return r;
}
