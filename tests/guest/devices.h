/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Scenarios for the firmware tables, PCI and virtio devices: each returns NULL or a reason for FAIL. */

#include "virtio.h"

const char *scenario_acpi(void);
const char *scenario_pci(void);
const char *scenario_virtio_blk(void);
const char *scenario_virtio_blk_flush(void);
const char *scenario_virtio_blk_bench(void);
const char *scenario_virtio_rng(void);
const char *scenario_virtio_console(void);
const char *scenario_virtio_net(void);
const char *scenario_virtio_net_bench(void);
const char *scenario_msix(void);
const char *scenario_virtio_hostile(void);

/* virtio-rng, for other scenarios: start the first device, and check it gives varying bytes. */
const char *rng_start(struct virtio_dev *rng);
const char *rng_check(struct virtio_dev *rng, const char *when);
