/* SPDX-License-Identifier: Apache-2.0 */
#include <inttypes.h>

#include "errbuf.h"
#include "irq-router.h"
#include "log.h"
#include "virtio-blk.h"
#include "virtio-console.h"
#include "virtio-net.h"
#include "virtio-pci.h"
#include "virtio-rng.h"
#include "vm.h"

/*
 * The VM's virtio devices on its PCI bus: each one a device model behind a virtio-pci transport, with
 * one MSI route (GSI + irqfd) per MSI-X vector and one ioeventfd per queue.
 */

struct VmDevice {
        Vm *vm;
        VirtioDevice *dev;
        VirtioPci *pci;
        MsiRoute *routes;
        unsigned slot;
};

static void vm_device_deliver(void *ctx, uint16_t vector, uint64_t addr, uint32_t data)
{
        VmDevice *vd = ctx;
        irq_router_send(&vd->vm->irqs, &vd->routes[vector], addr, data);
}

static void vm_device_vector_changed(void *ctx, uint16_t vector, uint64_t addr, uint32_t data, bool masked)
{
        VmDevice *vd = ctx;
        (void) irq_router_set(&vd->vm->irqs, &vd->routes[vector], addr, data, !masked);
}

static int vm_device_ioeventfd(void *ctx, uint64_t addr, int fd, bool assign)
{
        VmDevice *vd = ctx;
        return kvm_mmio_ioeventfd(vd->vm->fd, addr, fd, assign);
}

/* Takes dev. */
static int vm_add_virtio(Vm *vm, VirtioDevice *dev, int32_t pci_device_id, char *err, size_t errlen)
{
        VmDevice *vd, **a;
        VirtioPciHost host = {
                .deliver = vm_device_deliver,
                .vector_changed = vm_device_vector_changed,
                .ioeventfd = vm_device_ioeventfd,
        };
        int r;

        a = reallocarray(vm->devices, vm->n_devices + 1, sizeof *a);
        if (!a) {
                virtio_device_free(dev);
                return -ENOMEM;
        }
        vm->devices = a;
        vd = calloc(1, sizeof *vd);
        if (!vd) {
                virtio_device_free(dev);
                return -ENOMEM;
        }
        vd->vm = vm;
        vd->dev = dev;
        vm->devices[vm->n_devices++] = vd;

        host.ctx = vd;
        r = virtio_pci_new(dev, &host, &vd->pci);
        if (r < 0)
                return errbuf_fail(r, err, errlen, "%s: cannot create its PCI function: %s", dev->id, strerror(-r));
        r = irq_router_alloc(&vm->irqs, virtio_pci_n_vectors(vd->pci), &vd->routes);
        if (r < 0)
                return errbuf_fail(r, err, errlen, "%s: no interrupt routes left: %s", dev->id, strerror(-r));
        r = pci_bus_add_device(vm->pci, virtio_pci_pci_device(vd->pci), pci_device_id >= 0 ? pci_device_id : -1,
                               &vd->slot);
        if (r == -EEXIST)
                return errbuf_fail(r, err, errlen, "%s: PCI slot %" PRIi32 " is taken", dev->id, pci_device_id);
        if (r < 0)
                return errbuf_fail(r, err, errlen, "%s: cannot add it to the PCI bus: %s", dev->id,
                                   r == -ENOSPC ? "no slot or no address space left" : strerror(-r));
        log_debug("%s: virtio device type %u in PCI slot %u", dev->id, dev->type, vd->slot);
        return 0;
}

int vm_create_devices(Vm *vm, char *err, size_t errlen)
{
        const VmConfig *c = vm->config;
        VirtioDevice *dev;
        int r;

        /* Devices asking for a slot go first, so that the others cannot take it. */
        for (int pass = 0; pass < 2; pass++) {
                for (size_t i = 0; i < c->n_disks; i++) {
                        const DiskConfig *disk = &c->disks[i];
                        VirtioBlkParams p = {
                                .id = disk->id,
                                .path = disk->path,
                                .readonly = disk->readonly,
                                .direct = disk->direct,
                                .num_queues = disk->num_queues,
                                .queue_size = (uint16_t) disk->queue_size,
                                .serial = disk->serial,
                                .no_io_uring = getenv("CHV_DISABLE_IO_URING") != NULL,
                        };

                        if ((disk->pci_device_id >= 0) != (pass == 0))
                                continue;
                        r = virtio_blk_new(&p, vm->mem, &dev, err, errlen);
                        if (r < 0)
                                return r;
                        log_debug("disk %s: \"%s\", %s I/O", disk->id, disk->path, virtio_blk_engine(dev));
                        r = vm_add_virtio(vm, dev, disk->pci_device_id, err, errlen);
                        if (r < 0)
                                return r;
                }
                for (size_t i = 0; i < c->n_net; i++) {
                        const NetConfig *net = &c->net[i];
                        VirtioNetParams p = {
                                .id = net->id,
                                .tap = net->tap,
                                .fd = net->n_fds > 0 ? net->fds[0] : -1,
                                .host_mac_set = net->host_mac_set,
                                .ip_set = net->ip_set,
                                .ip = net->ip,
                                .mask = net->mask,
                                .mtu = net->mtu,
                                .queue_size = (uint16_t) net->queue_size,
                                .offload_csum = net->offload_csum,
                                .offload_tso = net->offload_tso,
                        };

                        if ((net->pci_device_id >= 0) != (pass == 0))
                                continue;
                        memcpy(p.mac, net->mac, sizeof p.mac);
                        memcpy(p.host_mac, net->host_mac, sizeof p.host_mac);
                        r = virtio_net_new(&p, vm->mem, &dev, err, errlen);
                        if (r < 0)
                                return r;
                        log_info("net %s: TAP %s", net->id, virtio_net_tap_name(dev));
                        r = vm_add_virtio(vm, dev, net->pci_device_id, err, errlen);
                        if (r < 0)
                                return r;
                }
                if (c->console.mode != CONSOLE_OFF && (c->console.pci_device_id >= 0) == (pass == 0)) {
                        r = virtio_console_new(c->console.id, vm->host.console_in_fd,
                                               vm->host.console_out_fd, vm->mem, &dev);
                        if (r < 0)
                                return errbuf_fail(r, err, errlen, "console: %s", strerror(-r));
                        r = vm_add_virtio(vm, dev, c->console.pci_device_id, err, errlen);
                        if (r < 0)
                                return r;
                }
                if ((c->rng.pci_device_id >= 0) == (pass == 0)) {
                        r = virtio_rng_new(c->rng.id, c->rng.src, vm->mem, &dev, err,
                                           errlen);
                        if (r < 0)
                                return r;
                        r = vm_add_virtio(vm, dev, c->rng.pci_device_id, err, errlen);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

void vm_pause_devices(Vm *vm)
{
        for (size_t i = 0; i < vm->n_devices; i++)
                virtio_worker_pause(&vm->devices[i]->dev->worker);
}

void vm_resume_devices(Vm *vm)
{
        for (size_t i = 0; i < vm->n_devices; i++)
                virtio_worker_resume(&vm->devices[i]->dev->worker);
}

void vm_reset_devices(Vm *vm)
{
        for (size_t i = 0; i < vm->n_devices; i++)
                if (vm->devices[i]->pci)
                        virtio_pci_reset(vm->devices[i]->pci);
        pci_bus_reset(vm->pci);
}

void vm_free_devices(Vm *vm)
{
        for (size_t i = 0; i < vm->n_devices; i++) {
                VmDevice *vd = vm->devices[i];

                /* The transport stops the device and takes its function off the bus. */
                virtio_pci_free(vd->pci);
                virtio_device_free(vd->dev);
                free(vd);
        }
        free(vm->devices);
        vm->devices = NULL;
        vm->n_devices = 0;
}

static bool add_counter(cJSON *o, const char *name, uint64_t v)
{
        return cJSON_AddNumberToObject(o, name, (double) v) != NULL;
}

cJSON *vm_counters(Vm *vm)
{
        cJSON *all = cJSON_CreateObject();

        if (!all)
                return NULL;
        for (size_t i = 0; i < vm->n_devices; i++) {
                VirtioDevice *d = vm->devices[i]->dev;
                cJSON *c;
                bool ok;

                if (d->type != VIRTIO_ID_BLOCK && d->type != VIRTIO_ID_NET)
                        continue;
                c = cJSON_AddObjectToObject(all, d->id);
                if (!c)
                        goto fail;
                if (d->type == VIRTIO_ID_BLOCK) {
                        VirtioBlkCounters b;
                        virtio_blk_counters(d, &b);
                        ok = add_counter(c, "read_bytes", b.read_bytes) && add_counter(c, "write_bytes", b.write_bytes) &&
                             add_counter(c, "read_ops", b.read_ops) && add_counter(c, "write_ops", b.write_ops);
                } else {
                        VirtioNetCounters n;
                        virtio_net_counters(d, &n);
                        ok = add_counter(c, "rx_bytes", n.rx_bytes) && add_counter(c, "rx_frames", n.rx_frames) &&
                             add_counter(c, "tx_bytes", n.tx_bytes) && add_counter(c, "tx_frames", n.tx_frames);
                }
                if (!ok)
                        goto fail;
        }
        return all;
fail:
        cJSON_Delete(all);
        return NULL;
}
