/* SPDX-License-Identifier: Apache-2.0 */
#include <inttypes.h>
#include <linux/kvm.h>
#include <sys/eventfd.h>

#include "irq-router.h"
#include "kvm.h"
#include "log.h"

#define IOAPIC_PINS 24u
#define PIC_PINS 16u

void irq_router_init(IrqRouter *r)
{
        *r = (IrqRouter) { .vm_fd = -EBADF, .next_gsi = IRQ_ROUTER_FIRST_GSI };
        pthread_mutex_init(&r->lock, NULL);
}

void irq_router_done(IrqRouter *r)
{
        for (size_t c = 0; c < r->n_chunks; c++) {
                for (unsigned i = 0; i < r->chunk_sizes[c]; i++)
                        safe_close(r->chunks[c][i].fd);
                free(r->chunks[c]);
        }
        free(r->chunks);
        free(r->chunk_sizes);
        pthread_mutex_destroy(&r->lock);
}

int irq_router_alloc(IrqRouter *r, unsigned n, MsiRoute **ret)
{
        _cleanup_free_ MsiRoute *routes = NULL;
        MsiRoute **chunks;
        unsigned *sizes;
        int ret_r = 0;

        if (n == 0)
                return -EINVAL;
        routes = calloc(n, sizeof *routes);
        if (!routes)
                return -ENOMEM;

        pthread_mutex_lock(&r->lock);
        if (r->next_gsi + n > IRQ_ROUTER_MAX_GSI) {
                ret_r = -ENOSPC;
                goto out;
        }
        chunks = reallocarray(r->chunks, r->n_chunks + 1, sizeof *chunks);
        if (!chunks) {
                ret_r = -ENOMEM;
                goto out;
        }
        r->chunks = chunks;
        sizes = reallocarray(r->chunk_sizes, r->n_chunks + 1, sizeof *sizes);
        if (!sizes) {
                ret_r = -ENOMEM;
                goto out;
        }
        r->chunk_sizes = sizes;
        for (unsigned i = 0; i < n; i++) {
                routes[i] = (MsiRoute) { .gsi = r->next_gsi + i, .fd = -EBADF };
                routes[i].fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
                if (routes[i].fd < 0) {
                        ret_r = negative_errno();
                        for (unsigned k = 0; k < i; k++)
                                safe_close(routes[k].fd);
                        goto out;
                }
        }
        r->next_gsi += n;
        r->chunks[r->n_chunks] = routes;
        r->chunk_sizes[r->n_chunks] = n;
        r->n_chunks++;
        *ret = TAKE_PTR(routes);
out:
        pthread_mutex_unlock(&r->lock);
        return ret_r;
}

/* The whole table: KVM's default irqchip routes (which KVM_SET_GSI_ROUTING replaces) and every MSI. */
static int irq_router_commit_locked(IrqRouter *r)
{
        _cleanup_free_ struct kvm_irq_routing *t = NULL;
        size_t n = IOAPIC_PINS + PIC_PINS;
        int k;

        if (r->vm_fd < 0)
                return 0;
        for (size_t c = 0; c < r->n_chunks; c++)
                n += r->chunk_sizes[c];
        t = calloc(1, sizeof *t + n * sizeof t->entries[0]);
        if (!t)
                return -ENOMEM;

        k = 0;
        for (uint32_t pin = 0; pin < IOAPIC_PINS; pin++) {
                t->entries[k++] = (struct kvm_irq_routing_entry) {
                        .gsi = pin,
                        .type = KVM_IRQ_ROUTING_IRQCHIP,
                        .u.irqchip = { .irqchip = KVM_IRQCHIP_IOAPIC, .pin = pin },
                };
                if (pin < PIC_PINS)
                        t->entries[k++] = (struct kvm_irq_routing_entry) {
                                .gsi = pin,
                                .type = KVM_IRQ_ROUTING_IRQCHIP,
                                .u.irqchip = {
                                        .irqchip = pin < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE,
                                        .pin = pin % 8,
                                },
                        };
        }
        for (size_t c = 0; c < r->n_chunks; c++)
                for (unsigned i = 0; i < r->chunk_sizes[c]; i++) {
                        const MsiRoute *m = &r->chunks[c][i];
                        if (!m->valid)
                                continue;
                        t->entries[k++] = (struct kvm_irq_routing_entry) {
                                .gsi = m->gsi,
                                .type = KVM_IRQ_ROUTING_MSI,
                                .u.msi = {
                                        .address_lo = (uint32_t) m->addr,
                                        .address_hi = (uint32_t) (m->addr >> 32),
                                        .data = m->data,
                                },
                        };
                }
        t->nr = (uint32_t) k;
        return kvm_ioctl(r->vm_fd, KVM_SET_GSI_ROUTING, t);
}

/* Under the lock: the route's new message, and KVM's table with it, while readers see an odd seq. */
static int route_update_locked(IrqRouter *r, MsiRoute *route, uint64_t addr, uint32_t data, bool valid)
{
        uint32_t seq = atomic_load_explicit(&route->seq, memory_order_relaxed);
        int ret;

        atomic_store_explicit(&route->seq, seq + 1, memory_order_relaxed);
        atomic_thread_fence(memory_order_release);
        atomic_store_explicit(&route->valid, valid, memory_order_relaxed);
        atomic_store_explicit(&route->addr, valid ? addr : 0, memory_order_relaxed);
        atomic_store_explicit(&route->data, valid ? data : 0, memory_order_relaxed);
        ret = irq_router_commit_locked(r);
        atomic_store_explicit(&route->seq, seq + 2, memory_order_release);
        return ret;
}

int irq_router_set(IrqRouter *r, MsiRoute *route, uint64_t addr, uint32_t data, bool valid)
{
        int ret = 0;

        pthread_mutex_lock(&r->lock);
        if (atomic_load(&route->valid) != valid ||
            (valid && (atomic_load(&route->addr) != addr || atomic_load(&route->data) != data))) {
                ret = route_update_locked(r, route, addr, data, valid);
                if (ret < 0 && !atomic_exchange(&r->commit_failed, true))
                        log_error_errno(ret, "KVM_SET_GSI_ROUTING failed, MSI goes through KVM_SIGNAL_MSI: %m");
        }
        pthread_mutex_unlock(&r->lock);
        return ret;
}

/* Does KVM route the GSI to exactly this message now? No while a change is under way. */
static bool route_carries(const MsiRoute *route, uint64_t addr, uint32_t data)
{
        uint32_t seq = atomic_load_explicit(&route->seq, memory_order_acquire);
        bool valid;
        uint64_t a;
        uint32_t d;

        if (seq & 1)
                return false;
        valid = atomic_load_explicit(&route->valid, memory_order_relaxed);
        a = atomic_load_explicit(&route->addr, memory_order_relaxed);
        d = atomic_load_explicit(&route->data, memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&route->seq, memory_order_relaxed) != seq)
                return false;
        return valid && a == addr && d == data;
}

void irq_router_send(IrqRouter *r, MsiRoute *route, uint64_t addr, uint32_t data)
{
        struct kvm_msi msi;
        int vm_fd;

        if (route_carries(route, addr, data) && !atomic_load_explicit(&r->commit_failed, memory_order_relaxed)) {
                (void) !write(route->fd, &(uint64_t) { 1 }, sizeof(uint64_t));
                return;
        }
        vm_fd = atomic_load(&r->vm_fd);
        if (vm_fd < 0)
                return;
        msi = (struct kvm_msi) {
                .address_lo = (uint32_t) addr,
                .address_hi = (uint32_t) (addr >> 32),
                .data = data,
        };
        (void) kvm_ioctl(vm_fd, KVM_SIGNAL_MSI, &msi);
}

int irq_router_attach(IrqRouter *r, int vm_fd)
{
        int ret;

        pthread_mutex_lock(&r->lock);
        atomic_store(&r->vm_fd, vm_fd);
        atomic_store(&r->commit_failed, false);
        ret = irq_router_commit_locked(r);
        for (size_t c = 0; c < r->n_chunks && ret >= 0; c++)
                for (unsigned i = 0; i < r->chunk_sizes[c] && ret >= 0; i++) {
                        MsiRoute *m = &r->chunks[c][i];
                        struct kvm_irqfd irqfd = { .fd = (uint32_t) m->fd, .gsi = m->gsi };
                        uint64_t stale;

                        /* A signal raised for the previous VM must not reach this one. */
                        (void) !read(m->fd, &stale, sizeof stale);
                        ret = kvm_ioctl(vm_fd, KVM_IRQFD, &irqfd);
                }
        if (ret < 0)
                atomic_store(&r->vm_fd, -EBADF);
        pthread_mutex_unlock(&r->lock);
        return ret;
}

void irq_router_detach(IrqRouter *r)
{
        pthread_mutex_lock(&r->lock);
        atomic_store(&r->vm_fd, -EBADF);
        pthread_mutex_unlock(&r->lock);
}

int kvm_mmio_ioeventfd(int vm_fd, uint64_t addr, int fd, bool assign)
{
        /* Length 0 matches a write of any width, and lets KVM take its fastest path. */
        struct kvm_ioeventfd ev = {
                .addr = addr,
                .len = 0,
                .fd = fd,
                .flags = assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN,
        };

        if (vm_fd < 0)
                return 0;
        return kvm_ioctl(vm_fd, KVM_IOEVENTFD, &ev);
}
