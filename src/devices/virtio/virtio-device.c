/* SPDX-License-Identifier: Apache-2.0 */
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include "log.h"
#include "virtio-device.h"

#define WORKER_STOP_TAG UINTPTR_MAX
#define WORKER_PAUSE_TAG (UINTPTR_MAX - 1)

int virtio_device_init(VirtioDevice *d, const VirtioDeviceOps *ops, uint16_t type, const char *id,
                       const GuestMemory *mem, unsigned n_queues, uint16_t queue_size, uint64_t features,
                       uint32_t config_size)
{
        int r;

        *d = (VirtioDevice) {
                .ops = ops,
                .type = type,
                .mem = mem,
                .n_queues = n_queues,
                .config_size = config_size,
                .host_features = features | VIRTIO_FEATURE(VIRTIO_F_VERSION_1) |
                                 VIRTIO_FEATURE(VIRTIO_F_RING_EVENT_IDX) |
                                 VIRTIO_FEATURE(VIRTIO_F_RING_INDIRECT_DESC),
                .worker = { .epoll_fd = -EBADF, .stop_fd = -EBADF, .pause_fd = -EBADF },
        };
        if (n_queues == 0 || n_queues > 1024)
                return -EINVAL;
        d->id = strdup(id);
        d->queues = calloc(n_queues, sizeof *d->queues);
        d->queue_fds = calloc(n_queues, sizeof *d->queue_fds);
        if (!d->id || !d->queues || !d->queue_fds)
                return -ENOMEM;
        for (unsigned i = 0; i < n_queues; i++)
                d->queue_fds[i] = -EBADF;
        for (unsigned i = 0; i < n_queues; i++) {
                r = virtq_init(&d->queues[i], (uint16_t) i, queue_size, 0);
                if (r < 0)
                        return r;
                d->queue_fds[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
                if (d->queue_fds[i] < 0)
                        return negative_errno();
        }
        return 0;
}

void virtio_device_done(VirtioDevice *d)
{
        virtio_worker_stop(&d->worker);
        for (unsigned i = 0; d->queue_fds && i < d->n_queues; i++)
                safe_close(d->queue_fds[i]);
        free(d->queue_fds);
        free(d->queues);
        free(d->id);
        d->queue_fds = NULL;
        d->queues = NULL;
        d->id = NULL;
}

void virtio_device_free(VirtioDevice *d)
{
        if (d)
                d->ops->free(d);
}

void virtio_device_signal_queue(VirtioDevice *d, uint16_t q)
{
        if (!virtq_needs_notification(&d->queues[q], d->mem))
                return;
        d->transport->signal_queue(d->transport_ctx, q);
}

void virtio_device_fail(VirtioDevice *d, uint16_t q, int error, const char *what)
{
        if (!atomic_exchange(&d->broken, true)) {
                log_warning("virtio %s: queue %u: %s (%s); the device needs a reset by its driver", d->id, q,
                            what ?: "invalid request", strerror(error < 0 ? -error : error));
        }
        d->transport->needs_reset(d->transport_ctx);
}

void virtio_queue_begin(VirtioDevice *d, uint16_t q)
{
        (void) virtq_set_notification(&d->queues[q], d->mem, false);
}

int virtio_queue_next(VirtioDevice *d, uint16_t q, VirtqElem *elem)
{
        Virtqueue *vq = &d->queues[q];
        int r;

        for (;;) {
                r = virtq_pop(vq, d->mem, elem);
                if (r < 0) {
                        virtio_device_fail(d, q, r, virtq_broken_reason(vq));
                        return r;
                }
                if (r > 0)
                        return 1;
                (void) virtq_set_notification(vq, d->mem, true);
                if (!virtq_has_pending(vq, d->mem))
                        return 0;
                (void) virtq_set_notification(vq, d->mem, false);
        }
}

void virtio_queue_complete(VirtioDevice *d, uint16_t q, uint16_t head, uint32_t written)
{
        int r = virtq_push(&d->queues[q], d->mem, head, written);
        if (r < 0) {
                virtio_device_fail(d, q, r, "cannot return a used buffer");
                return;
        }
        virtio_device_signal_queue(d, q);
}

bool eventfd_consume(int fd)
{
        uint64_t v;
        return read(fd, &v, sizeof v) == sizeof v;
}

int virtio_worker_init(VirtioWorker *w, const char *name)
{
        struct epoll_event ev = { .events = EPOLLIN, .data.u64 = WORKER_STOP_TAG };
        struct epoll_event pev = { .events = EPOLLIN, .data.u64 = WORKER_PAUSE_TAG };

        *w = (VirtioWorker) { .epoll_fd = -EBADF, .stop_fd = -EBADF, .pause_fd = -EBADF };
        pthread_mutex_init(&w->pause_lock, NULL);
        pthread_cond_init(&w->pause_cond, NULL);
        snprintf(w->name, sizeof w->name, "%s", name);
        w->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        w->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        w->pause_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (w->epoll_fd < 0 || w->stop_fd < 0 || w->pause_fd < 0 ||
            epoll_ctl(w->epoll_fd, EPOLL_CTL_ADD, w->stop_fd, &ev) < 0 ||
            epoll_ctl(w->epoll_fd, EPOLL_CTL_ADD, w->pause_fd, &pev) < 0) {
                int r = negative_errno();
                virtio_worker_stop(w);
                return r;
        }
        return 0;
}

int virtio_worker_add(VirtioWorker *w, int fd, uint32_t events, VirtioWorkerHandler handler, void *userdata)
{
        VirtioWorkerSource *s;
        struct epoll_event ev = { .events = events };

        if (w->running)
                return -EBUSY;
        s = reallocarray(w->sources, w->n_sources + 1, sizeof *s);
        if (!s)
                return -ENOMEM;
        w->sources = s;
        w->sources[w->n_sources] = (VirtioWorkerSource) { .fd = fd, .handler = handler, .userdata = userdata };
        ev.data.u64 = w->n_sources;
        if (epoll_ctl(w->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0)
                return negative_errno();
        w->n_sources++;
        return 0;
}

int virtio_worker_modify(VirtioWorker *w, int fd, uint32_t events)
{
        for (size_t i = 0; i < w->n_sources; i++)
                if (w->sources[i].fd == fd) {
                        struct epoll_event ev = { .events = events, .data.u64 = i };
                        return epoll_ctl(w->epoll_fd, EPOLL_CTL_MOD, fd, &ev) < 0 ? negative_errno() : 0;
                }
        return -ENOENT;
}

/* In the worker: waits while a pause is asked for. */
static void virtio_worker_park(VirtioWorker *w)
{
        (void) eventfd_consume(w->pause_fd);
        pthread_mutex_lock(&w->pause_lock);
        w->paused = true;
        pthread_cond_broadcast(&w->pause_cond);
        while (w->pause_requested)
                pthread_cond_wait(&w->pause_cond, &w->pause_lock);
        w->paused = false;
        pthread_mutex_unlock(&w->pause_lock);
}

int (*virtio_worker_thread_init)(void);

static void *virtio_worker_thread(void *userdata)
{
        VirtioWorker *w = userdata;

        (void) pthread_setname_np(pthread_self(), w->name);
        log_set_thread_name(w->name);
        if (virtio_worker_thread_init) {
                int r = virtio_worker_thread_init();
                if (r < 0) {
                        log_error_errno(r, "%s: cannot set up the thread, the device stops: %m", w->name);
                        return NULL;
                }
        }
        for (;;) {
                struct epoll_event evs[16];
                int n = epoll_wait(w->epoll_fd, evs, ELEMENTSOF(evs), -1);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        log_error_errno(errno, "%s: epoll_wait failed, the device stops: %m", w->name);
                        return NULL;
                }
                for (int i = 0; i < n; i++) {
                        uint64_t tag = evs[i].data.u64;
                        if (tag == WORKER_STOP_TAG)
                                return NULL;
                        if (tag == WORKER_PAUSE_TAG) {
                                virtio_worker_park(w);
                                break;  /* the events seen before the pause may be stale: look again */
                        }
                        if (tag < w->n_sources)
                                w->sources[tag].handler(w->sources[tag].userdata, evs[i].events);
                }
        }
}

int virtio_worker_start(VirtioWorker *w)
{
        sigset_t all, old;
        int r;

        if (w->running)
                return -EBUSY;
        /* Signals are for the main thread. */
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        r = -pthread_create(&w->thread, NULL, virtio_worker_thread, w);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (r < 0)
                return r;
        w->running = true;
        return 0;
}

void virtio_worker_pause(VirtioWorker *w)
{
        if (!w->running)
                return;
        pthread_mutex_lock(&w->pause_lock);
        w->pause_requested = true;
        (void) !write(w->pause_fd, &(uint64_t) { 1 }, sizeof(uint64_t));
        while (!w->paused)
                pthread_cond_wait(&w->pause_cond, &w->pause_lock);
        pthread_mutex_unlock(&w->pause_lock);
}

void virtio_worker_resume(VirtioWorker *w)
{
        if (!w->running)
                return;
        pthread_mutex_lock(&w->pause_lock);
        w->pause_requested = false;
        pthread_cond_broadcast(&w->pause_cond);
        pthread_mutex_unlock(&w->pause_lock);
}

void virtio_worker_stop(VirtioWorker *w)
{
        if (w->running) {
                virtio_worker_resume(w);        /* a paused thread must see the stop */
                (void) !write(w->stop_fd, &(uint64_t) { 1 }, sizeof(uint64_t));
                (void) pthread_join(w->thread, NULL);
                w->running = false;
        }
        w->epoll_fd = safe_close(w->epoll_fd);
        w->stop_fd = safe_close(w->stop_fd);
        w->pause_fd = safe_close(w->pause_fd);
        free(w->sources);
        w->sources = NULL;
        w->n_sources = 0;
}
