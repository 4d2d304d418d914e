/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Scenarios for the firmware tables, PCI and virtio devices: each returns NULL or a reason for FAIL. */

const char *scenario_acpi(void);
const char *scenario_pci(void);
const char *scenario_virtio_blk(void);
const char *scenario_virtio_blk_flush(void);
