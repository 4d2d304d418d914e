/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "pci.h"
#include "virtio-device.h"

/*
 * The virtio-pci modern transport (virtio 1.x, no legacy interface): a PCI function 1af4:(1040 + type)
 * with one 64-bit memory BAR holding the common configuration, the ISR, the device configuration, the
 * queue notification addresses and the MSI-X table and PBA, each announced by a vendor capability.
 *
 * Guest accesses arrive on vCPU threads and are serialised by the transport's lock. The device's worker
 * reaches the transport only through VirtioTransportOps, which take no lock of the transport's: a reset
 * (which joins the worker) can run with the lock held.
 */

/* BAR 0 layout. */
#define VIRTIO_PCI_BAR               0
#define VIRTIO_PCI_BAR_SIZE          0x10000u
#define VIRTIO_PCI_COMMON_OFFSET     0x0000u
#define VIRTIO_PCI_COMMON_SIZE       0x0038u
#define VIRTIO_PCI_ISR_OFFSET        0x1000u
#define VIRTIO_PCI_ISR_SIZE          0x0001u
#define VIRTIO_PCI_DEVICE_OFFSET     0x2000u
#define VIRTIO_PCI_DEVICE_SIZE       0x1000u
#define VIRTIO_PCI_NOTIFY_OFFSET     0x3000u
#define VIRTIO_PCI_NOTIFY_MULTIPLIER 4u
#define VIRTIO_PCI_NOTIFY_SIZE       0x1000u /* 1024 queues */
#define VIRTIO_PCI_PBA_OFFSET        0x4000u
#define VIRTIO_PCI_TABLE_OFFSET      0x8000u
#define VIRTIO_PCI_MAX_QUEUES        1024u

#define VIRTIO_PCI_VENDOR_ID         0x1af4
#define VIRTIO_PCI_DEVICE_ID_BASE    0x1040
#define VIRTIO_PCI_SUBSYSTEM_ID      0x1100

typedef struct VirtioPci VirtioPci;

/* What the machine does for the transport. */
typedef struct VirtioPciHost {
        /* MSI-X, as PciDeviceCallbacks.deliver and .vector_changed. */
        void (*deliver)(void *ctx, uint16_t vector, uint64_t addr, uint32_t data);
        void (*vector_changed)(void *ctx, uint16_t vector, uint64_t addr, uint32_t data, bool masked);
        /* Make guest writes to addr signal fd without a VM exit (assign), or stop doing so. */
        int (*ioeventfd)(void *ctx, uint64_t addr, int fd, bool assign);
        void *ctx;
} VirtioPciHost;

/* Wraps dev (not owned) in a PCI function, ready for pci_bus_add_device(). */
int virtio_pci_new(VirtioDevice *dev, const VirtioPciHost *host, VirtioPci **ret);
VirtioPci *virtio_pci_free(VirtioPci *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(VirtioPci *, virtio_pci_free);

PciDevice *virtio_pci_pci_device(VirtioPci *t);
VirtioDevice *virtio_pci_virtio_device(VirtioPci *t);
/* MSI-X vectors the function has: one per queue and one for configuration changes. */
uint16_t virtio_pci_n_vectors(const VirtioPci *t);

/* A machine reset: the device stops and the transport returns to its power-on state. */
void virtio_pci_reset(VirtioPci *t);

/* The device status as the driver reads it. */
uint8_t virtio_pci_status(VirtioPci *t);
