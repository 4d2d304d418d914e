/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <pthread.h>
#include <stdatomic.h>

#include "macro.h"

/*
 * MSI and MSI-X messages into the guest through KVM's GSI routing and irqfds.
 *
 * Each interrupt vector of a device gets an MsiRoute: a GSI of its own (from 24 up, after the IOAPIC's
 * pins) and an eventfd registered with KVM as an irqfd for that GSI. While the guest has given the
 * vector a message, the GSI routes to it, and raising the vector is one write(2) on the eventfd, from
 * any thread, without a trip through the vCPU threads.
 *
 * The routes outlive the KVM VM: chv-vmm creates a new VM on every reboot, and irq_router_attach()
 * registers the routing table and every irqfd with it again. Routes are allocated while the machine is
 * built (or hotplugged); their memory never moves, so a device keeps a pointer to its routes.
 */

#define IRQ_ROUTER_FIRST_GSI 24u /* GSIs 0-23 are the PIC and IOAPIC pins */
#define IRQ_ROUTER_MAX_GSI 4096u /* KVM_MAX_IRQ_ROUTES */

typedef struct MsiRoute {
        uint32_t gsi;
        int fd;
        /*
         * The message KVM routes the GSI to. Written under the router's lock; read without it by
         * irq_router_send(), as a sequence lock: seq is odd while the message and KVM's table change.
         */
        _Atomic uint32_t seq;
        _Atomic bool valid;
        _Atomic uint64_t addr;
        _Atomic uint32_t data;
} MsiRoute;

typedef struct IrqRouter {
        pthread_mutex_t lock;   /* serializes changes of the table; sending takes no lock */
        _Atomic int vm_fd;      /* -EBADF while no KVM VM is attached */
        MsiRoute **chunks;
        unsigned *chunk_sizes;
        size_t n_chunks;
        uint32_t next_gsi;
        _Atomic bool commit_failed;     /* KVM refused the table: every message goes by KVM_SIGNAL_MSI */
} IrqRouter;

void irq_router_init(IrqRouter *r);
void irq_router_done(IrqRouter *r);

/* n routes with consecutive GSIs, no message yet. -ENOSPC when the GSIs run out. */
int irq_router_alloc(IrqRouter *r, unsigned n, MsiRoute **ret);

/* Routes the vector to the message (valid), or takes its route away (!valid), and tells KVM. */
int irq_router_set(IrqRouter *r, MsiRoute *route, uint64_t addr, uint32_t data, bool valid);

/*
 * Sends the message: through the irqfd when the route carries exactly this message, otherwise (a route
 * update still on its way) directly with KVM_SIGNAL_MSI, so that no message is lost or misdirected.
 * Takes no lock: any thread, as often as the device needs.
 */
void irq_router_send(IrqRouter *r, MsiRoute *route, uint64_t addr, uint32_t data);

/* Registers the routing table and all irqfds with a new KVM VM; detach forgets it (the VM is gone). */
int irq_router_attach(IrqRouter *r, int vm_fd);
void irq_router_detach(IrqRouter *r);

/* KVM_IOEVENTFD on an MMIO address: KVM signals fd on a guest write there instead of exiting. */
int kvm_mmio_ioeventfd(int vm_fd, uint64_t addr, int fd, bool assign);
