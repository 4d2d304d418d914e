/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * Constants common to every virtio 1.x device, whatever its transport: reserved feature bits, device
 * status bits and device type ids. Only the modern interface exists in chv: a driver that does not accept
 * VIRTIO_F_VERSION_1 is refused.
 */

#include "macro.h"

/* Device status, as the driver writes it during initialisation. */
#define VIRTIO_STATUS_ACKNOWLEDGE UINT8_C(0x01)
#define VIRTIO_STATUS_DRIVER      UINT8_C(0x02)
#define VIRTIO_STATUS_DRIVER_OK   UINT8_C(0x04)
#define VIRTIO_STATUS_FEATURES_OK UINT8_C(0x08)
#define VIRTIO_STATUS_NEEDS_RESET UINT8_C(0x40) /* set by the device: it stopped and needs a reset */
#define VIRTIO_STATUS_FAILED      UINT8_C(0x80)

/* Feature bits outside the device-specific range 0..23, as bit numbers. */
#define VIRTIO_F_RING_INDIRECT_DESC 28
#define VIRTIO_F_RING_EVENT_IDX     29
#define VIRTIO_F_VERSION_1          32
#define VIRTIO_F_ACCESS_PLATFORM    33
#define VIRTIO_F_RING_PACKED        34
#define VIRTIO_F_IN_ORDER           35
#define VIRTIO_F_ORDER_PLATFORM     36
#define VIRTIO_F_SR_IOV             37
#define VIRTIO_F_NOTIFICATION_DATA  38

#define VIRTIO_FEATURE(bit)         (UINT64_C(1) << (bit))

static inline bool virtio_has_feature(uint64_t features, unsigned bit)
{
        return bit < 64 && (features & VIRTIO_FEATURE(bit)) != 0;
}

/* Device types. */
#define VIRTIO_ID_NET     1
#define VIRTIO_ID_BLOCK   2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG     4
#define VIRTIO_ID_BALLOON 5
#define VIRTIO_ID_SCSI    8
#define VIRTIO_ID_9P      9
#define VIRTIO_ID_GPU     16
#define VIRTIO_ID_INPUT   18
#define VIRTIO_ID_VSOCK   19
#define VIRTIO_ID_CRYPTO  20
#define VIRTIO_ID_IOMMU   23
#define VIRTIO_ID_MEM     24
#define VIRTIO_ID_SOUND   25
#define VIRTIO_ID_FS      26
#define VIRTIO_ID_PMEM    27
