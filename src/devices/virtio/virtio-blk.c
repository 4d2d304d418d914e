/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <linux/virtio_blk.h>
#include <liburing.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "errbuf.h"
#include "log.h"
#include "virtio-blk.h"

#define SECTOR_SHIFT 9
#define SECTOR_SIZE (1u << SECTOR_SHIFT)
/* Segments of data one request may have (seg_max), and so of a whole chain: header and status more. */
#define BLK_SEG_MAX 126u
#define BLK_CHAIN_SEGMENTS (BLK_SEG_MAX + 2u)
#define BLK_HEADER_SIZE 16u
/* One range per DISCARD / WRITE_ZEROES request, up to 2 GiB. */
#define BLK_MAX_RANGE_SECTORS (UINT32_C(1) << 22)
#define BLK_RING_ENTRIES_MAX 4096u

typedef struct BlkHeader {
        uint32_t type;
        uint32_t ioprio;
        uint64_t sector;
} BlkHeader;

typedef struct BlkRange {
        uint64_t sector;
        uint32_t num_sectors;
        uint32_t flags;
} BlkRange;

typedef struct BlkRequest {
        struct BlkRequest *next_free;
        VirtqElem *elem;
        uint16_t q;
        uint32_t type;
        uint8_t *status;
        uint64_t offset, len;
        unsigned n_iov;
        struct iovec iov[BLK_CHAIN_SEGMENTS];
} BlkRequest;

typedef struct BlkQueueRef {
        struct VirtioBlk *blk;
        uint16_t q;
} BlkQueueRef;

typedef struct VirtioBlk {
        VirtioDevice dev;
        int fd;
        bool block_device;
        bool readonly;
        uint64_t capacity; /* sectors */
        char serial[VIRTIO_BLK_ID_BYTES];
        size_t serial_len;

        bool uring;
        struct io_uring ring;
        int ring_fd; /* eventfd the ring signals completions on */
        unsigned inflight, queued;

        BlkRequest *free_requests;
        BlkQueueRef *refs;
        bool *dirty; /* queues that got used elements in this round */

        uint64_t read_bytes, write_bytes, read_ops, write_ops;
} VirtioBlk;

static VirtioBlk *to_blk(VirtioDevice *d)
{
        return (VirtioBlk *) d;
}

static void blk_config_read(VirtioDevice *d, uint32_t offset, uint8_t *data, uint32_t len)
{
        VirtioBlk *b = to_blk(d);
        struct virtio_blk_config c = {
                .capacity = htole64(b->capacity),
                .seg_max = htole32(BLK_SEG_MAX),
                .blk_size = htole32(SECTOR_SIZE),
                .min_io_size = htole16(1),
                .num_queues = htole16((uint16_t) d->n_queues),
                .max_discard_sectors = htole32(BLK_MAX_RANGE_SECTORS),
                .max_discard_seg = htole32(1),
                .discard_sector_alignment = htole32(1),
                .max_write_zeroes_sectors = htole32(BLK_MAX_RANGE_SECTORS),
                .max_write_zeroes_seg = htole32(1),
                .write_zeroes_may_unmap = 1,
        };

        if (offset + len <= sizeof c)
                memcpy(data, (uint8_t *) &c + offset, len);
}

static BlkRequest *blk_request_get(VirtioBlk *b)
{
        BlkRequest *req = b->free_requests;

        if (req) {
                b->free_requests = req->next_free;
                return req;
        }
        req = calloc(1, sizeof *req);
        if (!req)
                return NULL;
        if (virtq_elem_new(BLK_CHAIN_SEGMENTS, &req->elem) < 0) {
                free(req);
                return NULL;
        }
        return req;
}

static void blk_request_put(VirtioBlk *b, BlkRequest *req)
{
        req->next_free = b->free_requests;
        b->free_requests = req;
}

static void blk_requests_free(VirtioBlk *b)
{
        while (b->free_requests) {
                BlkRequest *req = b->free_requests;
                b->free_requests = req->next_free;
                virtq_elem_free(req->elem);
                free(req);
        }
}

/* Copies the part [skip, skip + len) of iov[0..n) into out as iovecs; returns their number, or -E2BIG. */
static int iov_slice(const struct iovec *iov, unsigned n, uint64_t skip, uint64_t len, struct iovec *out,
                     unsigned max)
{
        unsigned k = 0;

        for (unsigned i = 0; i < n && len > 0; i++) {
                uint64_t l = iov[i].iov_len;
                if (skip >= l) {
                        skip -= l;
                        continue;
                }
                if (k == max)
                        return -E2BIG;
                l = MIN(l - skip, len);
                out[k++] = (struct iovec) { .iov_base = (uint8_t *) iov[i].iov_base + skip, .iov_len = l };
                len -= l;
                skip = 0;
        }
        return (int) k;
}

static void blk_finish(VirtioBlk *b, BlkRequest *req, uint8_t status, uint32_t data_written)
{
        *req->status = status;
        if (virtq_push(&b->dev.queues[req->q], b->dev.mem, req->elem->head, data_written + 1) < 0)
                virtio_device_fail(&b->dev, req->q, -EPROTO, "cannot return a used buffer");
        b->dirty[req->q] = true;
        blk_request_put(b, req);
}

static void blk_count(VirtioBlk *b, uint32_t type, uint64_t bytes)
{
        if (type == VIRTIO_BLK_T_IN) {
                __atomic_add_fetch(&b->read_bytes, bytes, __ATOMIC_RELAXED);
                __atomic_add_fetch(&b->read_ops, 1, __ATOMIC_RELAXED);
        } else if (type == VIRTIO_BLK_T_OUT) {
                __atomic_add_fetch(&b->write_bytes, bytes, __ATOMIC_RELAXED);
                __atomic_add_fetch(&b->write_ops, 1, __ATOMIC_RELAXED);
        }
}

/* The result of a read, write or flush: bytes transferred or a negative errno. */
static void blk_complete_io(VirtioBlk *b, BlkRequest *req, int64_t res)
{
        bool ok = req->type == VIRTIO_BLK_T_FLUSH ? res == 0 : res == (int64_t) req->len;

        if (ok)
                blk_count(b, req->type, req->len);
        else if (res < 0)
                log_debug("virtio %s: %s at 0x%" PRIx64 " failed: %s", b->dev.id,
                          req->type == VIRTIO_BLK_T_IN ? "read" : req->type == VIRTIO_BLK_T_OUT ? "write" : "flush",
                          req->offset, strerror((int) -res));
        blk_finish(b, req, ok ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR,
                   ok && req->type == VIRTIO_BLK_T_IN ? (uint32_t) req->len : 0);
}

static int64_t blk_sync_rw(VirtioBlk *b, BlkRequest *req)
{
        struct iovec *iov = req->iov;
        unsigned n = req->n_iov;
        uint64_t done = 0;

        if (req->type == VIRTIO_BLK_T_FLUSH)
                return fdatasync(b->fd) < 0 ? negative_errno() : 0;
        while (done < req->len) {
                ssize_t r = req->type == VIRTIO_BLK_T_IN ?
                        preadv(b->fd, iov, (int) n, (off_t) (req->offset + done)) :
                        pwritev(b->fd, iov, (int) n, (off_t) (req->offset + done));
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return negative_errno();
                if (r == 0)
                        break;
                done += (uint64_t) r;
                /* A short transfer: go on from where it stopped. */
                while (n > 0 && (size_t) r >= iov->iov_len) {
                        r -= (ssize_t) iov->iov_len;
                        iov++;
                        n--;
                }
                if (n > 0) {
                        iov->iov_base = (uint8_t *) iov->iov_base + r;
                        iov->iov_len -= (size_t) r;
                }
        }
        return (int64_t) done;
}

static void blk_reap(VirtioBlk *b);

/*
 * Hands every queued SQE to the kernel. io_uring_enter() may take fewer than asked (or none, with EAGAIN
 * or EBUSY while completions are waiting to be reaped): whatever stays in the ring must not wait for the
 * next request, which may never come while the guest waits for these.
 */
static void blk_submit_all(VirtioBlk *b)
{
        for (unsigned tries = 0; io_uring_sq_ready(&b->ring) > 0 && tries < 1000; tries++) {
                int r = io_uring_submit(&b->ring);
                if (r == -EAGAIN || r == -EBUSY)
                        blk_reap(b);
                else if (r < 0 && r != -EINTR) {
                        log_warning("virtio %s: io_uring submission failed: %s", b->dev.id, strerror(-r));
                        break;
                }
        }
        b->queued = 0;
}

static void blk_submit_io(VirtioBlk *b, BlkRequest *req)
{
        struct io_uring_sqe *sqe;

        if (!b->uring) {
                blk_complete_io(b, req, blk_sync_rw(b, req));
                return;
        }
        sqe = io_uring_get_sqe(&b->ring);
        if (!sqe) {
                blk_submit_all(b);
                sqe = io_uring_get_sqe(&b->ring);
        }
        if (!sqe) {
                blk_complete_io(b, req, blk_sync_rw(b, req));
                return;
        }
        switch (req->type) {
        case VIRTIO_BLK_T_IN:
                io_uring_prep_readv(sqe, b->fd, req->iov, req->n_iov, req->offset);
                break;
        case VIRTIO_BLK_T_OUT:
                io_uring_prep_writev(sqe, b->fd, req->iov, req->n_iov, req->offset);
                break;
        default:
                io_uring_prep_fsync(sqe, b->fd, IORING_FSYNC_DATASYNC);
                break;
        }
        io_uring_sqe_set_data(sqe, req);
        b->inflight++;
        b->queued++;
}

/* Writes zeroes over [offset, offset + len): for files whose file system cannot zero a range. */
static int blk_write_zeroes(int fd, uint64_t offset, uint64_t len)
{
        static const uint8_t zeroes[64 * 1024] __attribute__((aligned(4096)));

        while (len > 0) {
                ssize_t n = pwrite(fd, zeroes, (size_t) MIN(len, (uint64_t) sizeof zeroes), (off_t) offset);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return n < 0 ? negative_errno() : -EIO;
                offset += (uint64_t) n;
                len -= (uint64_t) n;
        }
        return 0;
}

static bool errno_unsupported(int e)
{
        return e == EOPNOTSUPP || e == ENOSYS || e == EINVAL;
}

static int blk_range_op(VirtioBlk *b, uint32_t type, const BlkRange *r)
{
        uint64_t range[2] = { r->sector << SECTOR_SHIFT, (uint64_t) r->num_sectors << SECTOR_SHIFT };
        bool unmap = r->flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;

        if (range[1] == 0)
                return 0;
        if (b->block_device) {
                if (ioctl(b->fd, type == VIRTIO_BLK_T_DISCARD ? BLKDISCARD : BLKZEROOUT, range) == 0)
                        return 0;
                if (type == VIRTIO_BLK_T_DISCARD && errno_unsupported(errno))
                        return 0; /* discarding is advice */
                return negative_errno();
        }
        if (type == VIRTIO_BLK_T_DISCARD) {
                if (fallocate(b->fd, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE, (off_t) range[0], (off_t) range[1]) == 0 ||
                    errno_unsupported(errno))
                        return 0;
                return negative_errno();
        }
        /* Write zeroes: a hole where the guest allows it, else zeroed blocks, else written zeroes (tmpfs
         * cannot zero a range, 9p neither). */
        if (unmap &&
            fallocate(b->fd, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE, (off_t) range[0], (off_t) range[1]) == 0)
                return 0;
        if (fallocate(b->fd, FALLOC_FL_KEEP_SIZE | FALLOC_FL_ZERO_RANGE, (off_t) range[0], (off_t) range[1]) == 0)
                return 0;
        if (!errno_unsupported(errno))
                return negative_errno();
        return blk_write_zeroes(b->fd, range[0], range[1]);
}

static bool blk_range_ok(const VirtioBlk *b, uint64_t sector, uint64_t sectors)
{
        return sector <= b->capacity && sectors <= b->capacity - sector;
}

/* One chain from queue q. Returns a negative errno when the chain is malformed enough to fail the device. */
static int blk_handle(VirtioBlk *b, BlkRequest *req)
{
        VirtqElem *e = req->elem;
        const struct iovec *last;
        BlkHeader h;
        BlkRange range;
        int n;

        if (e->in_bytes < 1 || virtq_elem_read_out(e, 0, &h, sizeof h) != sizeof h)
                return -EBADMSG;
        last = &e->in[e->n_in - 1];
        req->status = (uint8_t *) last->iov_base + last->iov_len - 1;
        req->type = le32toh(h.type);
        req->offset = le64toh(h.sector);

        switch (req->type) {
        case VIRTIO_BLK_T_IN:
        case VIRTIO_BLK_T_OUT:
                if (req->type == VIRTIO_BLK_T_IN) {
                        req->len = e->in_bytes - 1u;
                        n = iov_slice(e->in, e->n_in, 0, req->len, req->iov, BLK_CHAIN_SEGMENTS);
                } else {
                        req->len = e->out_bytes - BLK_HEADER_SIZE;
                        n = iov_slice(e->out, e->n_out, BLK_HEADER_SIZE, req->len, req->iov, BLK_CHAIN_SEGMENTS);
                }
                if (n < 0 || (req->len & (SECTOR_SIZE - 1)) ||
                    !blk_range_ok(b, req->offset, req->len >> SECTOR_SHIFT) ||
                    (req->type == VIRTIO_BLK_T_OUT && b->readonly)) {
                        blk_finish(b, req, VIRTIO_BLK_S_IOERR, 0);
                        return 0;
                }
                if (req->len == 0) {
                        blk_finish(b, req, VIRTIO_BLK_S_OK, 0);
                        return 0;
                }
                req->n_iov = (unsigned) n;
                req->offset <<= SECTOR_SHIFT;
                blk_submit_io(b, req);
                return 0;
        case VIRTIO_BLK_T_FLUSH:
                if (b->readonly) {
                        blk_finish(b, req, VIRTIO_BLK_S_OK, 0);
                        return 0;
                }
                req->len = 0;
                req->n_iov = 0;
                blk_submit_io(b, req);
                return 0;
        case VIRTIO_BLK_T_GET_ID: {
                size_t l = MIN(b->serial_len, (size_t) e->in_bytes - 1u);
                size_t w = virtq_elem_write_in(e, 0, b->serial, l);
                /* Fewer than 20 bytes end with a NUL, as the driver expects. */
                if (l < VIRTIO_BLK_ID_BYTES && e->in_bytes - 1u > l)
                        w += virtq_elem_write_in(e, l, "", 1);
                blk_finish(b, req, VIRTIO_BLK_S_OK, (uint32_t) w);
                return 0;
        }
        case VIRTIO_BLK_T_DISCARD:
        case VIRTIO_BLK_T_WRITE_ZEROES: {
                uint8_t s = VIRTIO_BLK_S_OK;
                uint32_t allowed = req->type == VIRTIO_BLK_T_DISCARD ? 0 : VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;

                if (e->out_bytes != BLK_HEADER_SIZE + sizeof range ||
                    virtq_elem_read_out(e, BLK_HEADER_SIZE, &range, sizeof range) != sizeof range) {
                        blk_finish(b, req, VIRTIO_BLK_S_UNSUPP, 0);
                        return 0;
                }
                range.sector = le64toh(range.sector);
                range.num_sectors = le32toh(range.num_sectors);
                range.flags = le32toh(range.flags);
                if (range.flags & ~allowed)
                        s = VIRTIO_BLK_S_UNSUPP;
                else if (b->readonly || range.num_sectors > BLK_MAX_RANGE_SECTORS ||
                         !blk_range_ok(b, range.sector, range.num_sectors) ||
                         blk_range_op(b, req->type, &range) < 0)
                        s = VIRTIO_BLK_S_IOERR;
                blk_finish(b, req, s, 0);
                return 0;
        }
        default:
                blk_finish(b, req, VIRTIO_BLK_S_UNSUPP, 0);
                return 0;
        }
}

static void blk_signal_dirty(VirtioBlk *b)
{
        for (unsigned q = 0; q < b->dev.n_queues; q++)
                if (b->dirty[q]) {
                        b->dirty[q] = false;
                        virtio_device_signal_queue(&b->dev, (uint16_t) q);
                }
}

static void blk_reap(VirtioBlk *b)
{
        struct io_uring_cqe *cqe;
        unsigned head, n = 0;

        io_uring_for_each_cqe(&b->ring, head, cqe) {
                BlkRequest *req = io_uring_cqe_get_data(cqe);
                if (req) {
                        blk_complete_io(b, req, cqe->res);
                        b->inflight--;
                }
                n++;
        }
        io_uring_cq_advance(&b->ring, n);
}

static void blk_process_queue(VirtioBlk *b, uint16_t q)
{
        VirtioDevice *d = &b->dev;

        if (atomic_load(&d->broken) || !d->queues[q].enabled)
                return;
        virtio_queue_begin(d, q);
        for (;;) {
                BlkRequest *req = blk_request_get(b);
                int r;

                if (!req) {
                        virtio_device_fail(d, q, -ENOMEM, "out of memory");
                        break;
                }
                r = virtio_queue_next(d, q, req->elem);
                if (r <= 0) {
                        blk_request_put(b, req);
                        break;
                }
                req->q = q;
                r = blk_handle(b, req);
                if (r < 0) {
                        /* No room for a status: give the chain back empty, and stop taking requests. */
                        (void) virtq_push(&d->queues[q], d->mem, req->elem->head, 0);
                        b->dirty[q] = true;
                        blk_request_put(b, req);
                        virtio_device_fail(d, q, r, "request without a header or a status byte");
                        break;
                }
        }
        if (b->uring && b->queued > 0)
                blk_submit_all(b);
}

static void blk_queue_event(void *userdata, uint32_t events)
{
        BlkQueueRef *ref = userdata;
        VirtioBlk *b = ref->blk;

        (void) eventfd_consume(b->dev.queue_fds[ref->q]);
        blk_process_queue(b, ref->q);
        if (b->uring)
                blk_reap(b);
        blk_signal_dirty(b);
}

static void blk_ring_event(void *userdata, uint32_t events)
{
        VirtioBlk *b = userdata;

        (void) eventfd_consume(b->ring_fd);
        blk_reap(b);
        blk_signal_dirty(b);
}

static int blk_activate(VirtioDevice *d)
{
        VirtioBlk *b = to_blk(d);
        char name[16];
        int r;

        snprintf(name, sizeof name, "blk-%s", d->id);
        r = virtio_worker_init(&d->worker, name);
        if (r < 0)
                return r;
        for (unsigned q = 0; q < d->n_queues; q++) {
                if (!d->queues[q].enabled)
                        continue;
                r = virtio_worker_add(&d->worker, d->queue_fds[q], EPOLLIN, blk_queue_event, &b->refs[q]);
                if (r < 0)
                        return r;
        }
        if (b->uring) {
                r = virtio_worker_add(&d->worker, b->ring_fd, EPOLLIN, blk_ring_event, b);
                if (r < 0)
                        return r;
        }
        return virtio_worker_start(&d->worker);
}

static void blk_reset(VirtioDevice *d)
{
        VirtioBlk *b = to_blk(d);

        virtio_worker_stop(&d->worker);
        /* Requests in flight still write guest memory: wait for them, and drop their results. */
        while (b->uring && b->inflight > 0) {
                struct io_uring_cqe *cqe;

                if (b->queued > 0)
                        blk_submit_all(b);
                if (io_uring_wait_cqe(&b->ring, &cqe) < 0)
                        break;
                if (io_uring_cqe_get_data(cqe)) {
                        blk_request_put(b, io_uring_cqe_get_data(cqe));
                        b->inflight--;
                }
                io_uring_cqe_seen(&b->ring, cqe);
        }
        (void) eventfd_consume(b->ring_fd);
        memset(b->dirty, 0, d->n_queues * sizeof *b->dirty);
        blk_requests_free(b);
}

static void blk_free(VirtioDevice *d)
{
        VirtioBlk *b = to_blk(d);

        virtio_device_done(d);
        blk_requests_free(b);
        if (b->uring)
                io_uring_queue_exit(&b->ring);
        safe_close(b->ring_fd);
        safe_close(b->fd);
        free(b->refs);
        free(b->dirty);
        free(b);
}

static const VirtioDeviceOps blk_ops = {
        .config_read = blk_config_read,
        .activate = blk_activate,
        .reset = blk_reset,
        .free = blk_free,
};

static int blk_open(VirtioBlk *b, const VirtioBlkParams *p, char *err, size_t errlen)
{
        struct flock lock = { .l_type = p->readonly ? F_RDLCK : F_WRLCK, .l_whence = SEEK_SET };
        struct stat st;
        uint64_t size;

        b->fd = open(p->path, (p->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | (p->direct ? O_DIRECT : 0));
        if (b->fd < 0)
                return errbuf_fail(negative_errno(), err, errlen, "disk %s: cannot open \"%s\": %m", p->id, p->path);
        if (fstat(b->fd, &st) < 0)
                return errbuf_fail(negative_errno(), err, errlen, "disk %s: cannot stat \"%s\": %m", p->id, p->path);
        if (S_ISBLK(st.st_mode)) {
                b->block_device = true;
                if (ioctl(b->fd, BLKGETSIZE64, &size) < 0)
                        return errbuf_fail(negative_errno(), err, errlen, "disk %s: cannot get the size of \"%s\": %m",
                                           p->id, p->path);
        } else if (S_ISREG(st.st_mode))
                size = (uint64_t) st.st_size;
        else
                return errbuf_fail(-EINVAL, err, errlen, "disk %s: \"%s\" is neither a regular file nor a block device",
                                   p->id, p->path);
        if (size < SECTOR_SIZE)
                return errbuf_fail(-EINVAL, err, errlen, "disk %s: \"%s\" is smaller than one 512-byte sector",
                                   p->id, p->path);
        if (size % SECTOR_SIZE)
                log_warning("disk %s: \"%s\" is not a multiple of 512 bytes; the last %" PRIu64 " bytes are not visible",
                            p->id, p->path, size % SECTOR_SIZE);
        b->capacity = size >> SECTOR_SHIFT;

        /* An OFD lock on the whole image, held as long as the fd is open. */
        if (fcntl(b->fd, F_OFD_SETLK, &lock) < 0) {
                if (errno == EAGAIN || errno == EACCES)
                        return errbuf_fail(-EBUSY, err, errlen,
                                           "disk %s: \"%s\" is in use by another process (it holds a %s lock on it)",
                                           p->id, p->path, p->readonly ? "write" : "read or write");
                return errbuf_fail(negative_errno(), err, errlen, "disk %s: cannot lock \"%s\": %m", p->id, p->path);
        }
        return 0;
}

static void blk_setup_uring(VirtioBlk *b, unsigned entries)
{
        int r;

        r = io_uring_queue_init(entries, &b->ring, 0);
        if (r < 0) {
                log_info("disk %s: io_uring unavailable (%s), using synchronous I/O", b->dev.id, strerror(-r));
                return;
        }
        r = io_uring_register_eventfd(&b->ring, b->ring_fd);
        if (r < 0) {
                log_info("disk %s: cannot register an eventfd with io_uring (%s), using synchronous I/O",
                         b->dev.id, strerror(-r));
                io_uring_queue_exit(&b->ring);
                return;
        }
        b->uring = true;
}

int virtio_blk_new(const VirtioBlkParams *p, const GuestMemory *mem, VirtioDevice **ret, char *err, size_t errlen)
{
        uint64_t features = VIRTIO_FEATURE(VIRTIO_BLK_F_SEG_MAX) | VIRTIO_FEATURE(VIRTIO_BLK_F_BLK_SIZE) |
                            VIRTIO_FEATURE(VIRTIO_BLK_F_FLUSH) | VIRTIO_FEATURE(VIRTIO_BLK_F_TOPOLOGY) |
                            VIRTIO_FEATURE(VIRTIO_BLK_F_DISCARD) | VIRTIO_FEATURE(VIRTIO_BLK_F_WRITE_ZEROES);
        VirtioBlk *b;
        unsigned entries;
        int r;

        b = calloc(1, sizeof *b);
        if (!b)
                return -ENOMEM;
        b->fd = b->ring_fd = -EBADF;
        if (p->readonly)
                features |= VIRTIO_FEATURE(VIRTIO_BLK_F_RO);
        if (p->num_queues > 1)
                features |= VIRTIO_FEATURE(VIRTIO_BLK_F_MQ);
        r = virtio_device_init(&b->dev, &blk_ops, VIRTIO_ID_BLOCK, p->id, mem, p->num_queues, p->queue_size,
                               features, sizeof(struct virtio_blk_config));
        if (r < 0) {
                errbuf_fail(r, err, errlen, "disk %s: %s", p->id, strerror(-r));
                goto fail;
        }
        b->readonly = p->readonly;
        b->refs = calloc(p->num_queues, sizeof *b->refs);
        b->dirty = calloc(p->num_queues, sizeof *b->dirty);
        b->ring_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (!b->refs || !b->dirty || b->ring_fd < 0) {
                r = b->ring_fd < 0 ? negative_errno() : -ENOMEM;
                goto fail;
        }
        for (unsigned q = 0; q < p->num_queues; q++)
                b->refs[q] = (BlkQueueRef) { .blk = b, .q = (uint16_t) q };
        if (p->serial) {
                b->serial_len = MIN(strlen(p->serial), sizeof b->serial);
                memcpy(b->serial, p->serial, b->serial_len);
        }
        r = blk_open(b, p, err, errlen);
        if (r < 0)
                goto fail;

        if (!p->no_io_uring) {
                entries = 1;
                while (entries < p->num_queues * (unsigned) p->queue_size && entries < BLK_RING_ENTRIES_MAX)
                        entries <<= 1;
                blk_setup_uring(b, entries);
        }
        *ret = &b->dev;
        return 0;
fail:
        blk_free(&b->dev);
        return r;
}

const char *virtio_blk_engine(VirtioDevice *d)
{
        return to_blk(d)->uring ? "io_uring" : "synchronous";
}

void virtio_blk_counters(VirtioDevice *d, VirtioBlkCounters *ret)
{
        VirtioBlk *b = to_blk(d);

        *ret = (VirtioBlkCounters) {
                .read_bytes = __atomic_load_n(&b->read_bytes, __ATOMIC_RELAXED),
                .write_bytes = __atomic_load_n(&b->write_bytes, __ATOMIC_RELAXED),
                .read_ops = __atomic_load_n(&b->read_ops, __ATOMIC_RELAXED),
                .write_ops = __atomic_load_n(&b->write_ops, __ATOMIC_RELAXED),
        };
}
