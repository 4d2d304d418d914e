/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <pthread.h>
#include <stdatomic.h>

#include "virtqueue.h"

/*
 * A virtio device model, independent of its transport.
 *
 * The transport (virtio-pci.c) owns the driver-facing registers: it negotiates features, configures and
 * enables the queues, and calls activate() once the driver sets DRIVER_OK and reset() when the driver
 * writes 0 to the status (or the machine resets). Between the two the device owns its queues and works
 * on them in its own thread (a VirtioWorker), never in a vCPU thread: a queue notification from the
 * guest is an eventfd (queue_fds[i], signalled by KVM through an ioeventfd or by the transport), the
 * device answers through virtio_device_signal_queue().
 *
 * A guest that breaks a queue's rules gets the device marked NEEDS_RESET (virtio_device_fail()): the
 * device stops taking requests from it until the driver resets it; nothing else is affected.
 */

typedef struct VirtioDevice VirtioDevice;

/* What a transport does for its device; all may be called from the device's worker thread. */
typedef struct VirtioTransportOps {
        /* Used buffers were added to queue q and the driver wants to hear of it. */
        void (*signal_queue)(void *ctx, uint16_t q);
        /* The device configuration changed. */
        void (*signal_config)(void *ctx);
        /* The device stopped: DEVICE_NEEDS_RESET for the driver, with a configuration interrupt. */
        void (*needs_reset)(void *ctx);
} VirtioTransportOps;

typedef struct VirtioDeviceOps {
        /* Device configuration space, offset from its start; called with the transport's lock held. */
        void (*config_read)(VirtioDevice *d, uint32_t offset, uint8_t *data, uint32_t len);
        void (*config_write)(VirtioDevice *d, uint32_t offset, const uint8_t *data, uint32_t len);
        /*
         * The driver set DRIVER_OK: d->features holds the negotiated features, the enabled queues are
         * ready. Start the worker. A negative errno marks the device NEEDS_RESET.
         */
        int (*activate)(VirtioDevice *d);
        /* Stop: after this returns no request is in flight and guest memory is no longer touched. */
        void (*reset)(VirtioDevice *d);
        void (*free)(VirtioDevice *d);
} VirtioDeviceOps;

/* An epoll loop in a thread of its own. */
typedef void (*VirtioWorkerHandler)(void *userdata, uint32_t events);

typedef struct VirtioWorkerSource {
        int fd;
        VirtioWorkerHandler handler;
        void *userdata;
} VirtioWorkerSource;

typedef struct VirtioWorker {
        int epoll_fd;
        int stop_fd;
        int pause_fd;            /* virtio_worker_pause() asks the thread to stop here */
        pthread_t thread;
        bool running;
        pthread_mutex_t pause_lock;
        pthread_cond_t pause_cond;
        bool pause_requested;    /* under pause_lock */
        bool paused;             /* under pause_lock: the thread waits for virtio_worker_resume() */
        VirtioWorkerSource *sources;
        size_t n_sources;
        char name[16];
} VirtioWorker;

struct VirtioDevice {
        const VirtioDeviceOps *ops;
        char *id;
        uint16_t type;           /* VIRTIO_ID_* */
        uint64_t host_features;  /* offered, VIRTIO_F_VERSION_1 always among them */
        uint64_t features;       /* negotiated, valid from activate() to reset() */
        uint32_t config_size;    /* bytes of device configuration */
        unsigned n_queues;
        Virtqueue *queues;
        int *queue_fds;          /* one eventfd per queue */
        const GuestMemory *mem;

        const VirtioTransportOps *transport;
        void *transport_ctx;

        VirtioWorker worker;
        /* Failed since the last reset: the device takes no more requests (virtio_device_fail()). */
        _Atomic bool broken;
};

/*
 * Fills in the common part. n_queues queues offering up to queue_size entries each; features are the
 * device-specific ones, VERSION_1, EVENT_IDX and INDIRECT_DESC are added here.
 */
int virtio_device_init(VirtioDevice *d, const VirtioDeviceOps *ops, uint16_t type, const char *id,
                       const GuestMemory *mem, unsigned n_queues, uint16_t queue_size, uint64_t features,
                       uint32_t config_size);
void virtio_device_done(VirtioDevice *d);
/* Calls ops->free (which calls virtio_device_done()). */
void virtio_device_free(VirtioDevice *d);

/* After pushing used elements onto queue q: interrupts the driver when it asked to be. */
void virtio_device_signal_queue(VirtioDevice *d, uint16_t q);
/* Reports a broken queue (or another guest error) once and asks the transport for NEEDS_RESET. */
void virtio_device_fail(VirtioDevice *d, uint16_t q, int error, const char *what);

/* Reads (and so clears) an eventfd; true when it had been signalled. */
bool eventfd_consume(int fd);

/* Run first by every worker thread (chv-vmm loads the device's seccomp filter there); a negative errno
 * stops the thread before it handles anything. */
extern int (*virtio_worker_thread_init)(void);

int virtio_worker_init(VirtioWorker *w, const char *name);
/* Before virtio_worker_start() only. */
int virtio_worker_add(VirtioWorker *w, int fd, uint32_t events, VirtioWorkerHandler handler, void *userdata);
int virtio_worker_start(VirtioWorker *w);
/* Changes the events watched on a source's fd; from the worker thread, or before the start. */
int virtio_worker_modify(VirtioWorker *w, int fd, uint32_t events);
/* Stops and joins the thread, closes the epoll instance; the sources' fds stay open. Idempotent. */
void virtio_worker_stop(VirtioWorker *w);
/*
 * While the VM is paused its devices are too: virtio_worker_pause() returns once the thread has finished
 * what it was doing and waits; it handles nothing (queue notifications, completions, frames from the
 * TAP) until virtio_worker_resume(). Nothing happens for a worker that does not run.
 */
void virtio_worker_pause(VirtioWorker *w);
void virtio_worker_resume(VirtioWorker *w);

/*
 * The queue loop, in the worker: virtio_queue_begin() turns the driver's notifications off, then
 * virtio_queue_next() hands out the available chains one by one. When the ring is empty it turns
 * notifications back on and looks once more, so that a chain the driver adds meanwhile is not left
 * behind. Returns 1 with an element, 0 when the ring is empty, a negative errno when the ring is broken
 * (the device has been failed; stop using the queue).
 */
void virtio_queue_begin(VirtioDevice *d, uint16_t q);
int virtio_queue_next(VirtioDevice *d, uint16_t q, VirtqElem *elem);
/* Pushes one element and signals the driver if it wants it. */
void virtio_queue_complete(VirtioDevice *d, uint16_t q, uint16_t head, uint32_t written);
