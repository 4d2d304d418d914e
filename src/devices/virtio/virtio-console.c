/* SPDX-License-Identifier: Apache-2.0 */
#include <linux/virtio_console.h>
#include <stddef.h>
#include <sys/epoll.h>

#include "log.h"
#include "virtio-console.h"

#define CONSOLE_QUEUE_SIZE 256
#define CONSOLE_RX 0
#define CONSOLE_TX 1
#define CONSOLE_INPUT_BUFFER 4096

typedef struct VirtioConsole {
        VirtioDevice dev;
        int in_fd, out_fd;
        bool input_watched; /* in_fd is in the worker's epoll set with EPOLLIN */
        bool input_closed;
        bool output_failed;
        bool output_dropped;
        VirtqElem *elem;
        uint8_t pending[CONSOLE_INPUT_BUFFER]; /* input read but not yet in a guest buffer */
        size_t pending_start, pending_len;
} VirtioConsole;

static void console_config_read(VirtioDevice *d, uint32_t offset, uint8_t *data, uint32_t len)
{
        struct virtio_console_config c = { .max_nr_ports = htole32(1) };

        if (offset + len <= sizeof c)
                memcpy(data, (uint8_t *) &c + offset, len);
}

/* How long output may wait for a reader that does not read (a pty nobody has open, a full pipe). */
#define CONSOLE_OUTPUT_PATIENCE_MS 100

static void console_output(VirtioConsole *c, const struct iovec *iov, unsigned n)
{
        for (unsigned i = 0; i < n && c->out_fd >= 0 && !c->output_failed; i++) {
                const uint8_t *p = iov[i].iov_base;
                size_t left = iov[i].iov_len;
                unsigned waited = 0;

                while (left > 0) {
                        ssize_t w = write(c->out_fd, p, left);
                        if (w < 0 && errno == EINTR)
                                continue;
                        if (w < 0 && errno == EAGAIN) {
                                /* The guest waits a little for the reader; then the output is dropped,
                                 * so that a reset never waits for it. */
                                if (c->output_dropped || waited++ >= CONSOLE_OUTPUT_PATIENCE_MS) {
                                        if (!c->output_dropped)
                                                log_info("virtio %s: nobody reads the console output; dropping it while that lasts",
                                                         c->dev.id);
                                        c->output_dropped = true;
                                        return;
                                }
                                (void) usleep(1000);
                                continue;
                        }
                        if (w <= 0) {
                                log_warning("virtio %s: cannot write console output: %m; output is dropped from now on",
                                            c->dev.id);
                                c->output_failed = true;
                                break;
                        }
                        c->output_dropped = false;
                        p += w;
                        left -= (size_t) w;
                }
        }
}

/* Emergency write: one character through the configuration space. */
static void console_config_write(VirtioDevice *d, uint32_t offset, const uint8_t *data, uint32_t len)
{
        VirtioConsole *c = (VirtioConsole *) d;
        struct iovec iov = { .iov_base = (void *) data, .iov_len = 1 };

        if (offset == offsetof(struct virtio_console_config, emerg_wr) && len >= 1)
                console_output(c, &iov, 1);
}

static void console_tx_event(void *userdata, uint32_t events)
{
        VirtioConsole *c = userdata;
        VirtioDevice *d = &c->dev;
        bool pushed = false;

        (void) eventfd_consume(d->queue_fds[CONSOLE_TX]);
        if (atomic_load(&d->broken) || !d->queues[CONSOLE_TX].enabled)
                return;
        virtio_queue_begin(d, CONSOLE_TX);
        while (virtio_queue_next(d, CONSOLE_TX, c->elem) > 0) {
                console_output(c, c->elem->out, c->elem->n_out);
                if (virtq_push(&d->queues[CONSOLE_TX], d->mem, c->elem->head, 0) < 0) {
                        virtio_device_fail(d, CONSOLE_TX, -EPROTO, "cannot return a used buffer");
                        return;
                }
                pushed = true;
        }
        if (pushed)
                virtio_device_signal_queue(d, CONSOLE_TX);
}

static void console_watch_input(VirtioConsole *c, bool on)
{
        if (c->in_fd < 0 || c->input_closed || c->input_watched == on)
                return;
        if (virtio_worker_modify(&c->dev.worker, c->in_fd, on ? EPOLLIN : 0) >= 0)
                c->input_watched = on;
}

/* Moves pending input into the receive queue's buffers. */
static void console_deliver(VirtioConsole *c)
{
        VirtioDevice *d = &c->dev;
        bool pushed = false;

        if (atomic_load(&d->broken) || !d->queues[CONSOLE_RX].enabled)
                return;
        virtio_queue_begin(d, CONSOLE_RX);
        while (c->pending_len > 0) {
                size_t n;

                if (virtio_queue_next(d, CONSOLE_RX, c->elem) <= 0)
                        break;
                n = virtq_elem_write_in(c->elem, 0, c->pending + c->pending_start, c->pending_len);
                c->pending_start += n;
                c->pending_len -= n;
                if (virtq_push(&d->queues[CONSOLE_RX], d->mem, c->elem->head, (uint32_t) n) < 0) {
                        virtio_device_fail(d, CONSOLE_RX, -EPROTO, "cannot return a used buffer");
                        return;
                }
                pushed = true;
        }
        if (pushed)
                virtio_device_signal_queue(d, CONSOLE_RX);
        /* Read more only once everything read so far is with the guest. */
        console_watch_input(c, c->pending_len == 0);
}

static void console_input_event(void *userdata, uint32_t events)
{
        VirtioConsole *c = userdata;
        ssize_t n;

        if (c->pending_len == 0) {
                n = read(c->in_fd, c->pending, sizeof c->pending);
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        return;
                if (n <= 0) {
                        /* End of input (or a pty nobody holds): the guest goes on without it. */
                        console_watch_input(c, false);
                        c->input_closed = true;
                        return;
                }
                c->pending_start = 0;
                c->pending_len = (size_t) n;
        }
        console_deliver(c);
}

static void console_rx_event(void *userdata, uint32_t events)
{
        VirtioConsole *c = userdata;

        (void) eventfd_consume(c->dev.queue_fds[CONSOLE_RX]);
        console_deliver(c);
}

static int console_activate(VirtioDevice *d)
{
        VirtioConsole *c = (VirtioConsole *) d;
        char name[16];
        int r;

        snprintf(name, sizeof name, "con-%s", d->id);
        r = virtio_worker_init(&d->worker, name);
        if (r < 0)
                return r;
        if ((r = virtio_worker_add(&d->worker, d->queue_fds[CONSOLE_RX], EPOLLIN, console_rx_event, c)) < 0 ||
            (r = virtio_worker_add(&d->worker, d->queue_fds[CONSOLE_TX], EPOLLIN, console_tx_event, c)) < 0)
                return r;
        c->input_watched = false;
        if (c->in_fd >= 0 && !c->input_closed) {
                r = virtio_worker_add(&d->worker, c->in_fd, c->pending_len == 0 ? EPOLLIN : 0,
                                      console_input_event, c);
                if (r < 0)
                        return r;
                c->input_watched = c->pending_len == 0;
        }
        return virtio_worker_start(&d->worker);
}

static void console_reset(VirtioDevice *d)
{
        virtio_worker_stop(&d->worker);
}

static void console_free(VirtioDevice *d)
{
        VirtioConsole *c = (VirtioConsole *) d;

        virtio_device_done(d);
        virtq_elem_free(c->elem);
        free(c);
}

static const VirtioDeviceOps console_ops = {
        .config_read = console_config_read,
        .config_write = console_config_write,
        .activate = console_activate,
        .reset = console_reset,
        .free = console_free,
};

int virtio_console_new(const char *id, int in_fd, int out_fd, const GuestMemory *mem, VirtioDevice **ret)
{
        VirtioConsole *c;
        int r;

        c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        c->in_fd = in_fd;
        c->out_fd = out_fd;
        r = virtio_device_init(&c->dev, &console_ops, VIRTIO_ID_CONSOLE, id, mem, 2, CONSOLE_QUEUE_SIZE,
                               VIRTIO_FEATURE(VIRTIO_CONSOLE_F_EMERG_WRITE),
                               sizeof(struct virtio_console_config));
        if (r >= 0)
                r = virtq_elem_new(VIRTQ_SEGMENTS_DEFAULT, &c->elem);
        if (r < 0) {
                console_free(&c->dev);
                return r;
        }
        *ret = &c->dev;
        return 0;
}
