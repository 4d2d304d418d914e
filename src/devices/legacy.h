/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "device.h"
#include "iobus.h"

/* i8042: only what a PC guest uses to reset the machine (command 0xfe on port 0x64). */
#define I8042_DATA_PORT 0x60
#define I8042_COMMAND_PORT 0x64
#define I8042_CMD_RESET 0xfe
extern const IoOps i8042_io_ops; /* opaque: a VmControl */

/* The shutdown register the FADT points at (as in Cloud Hypervisor): S5 powers off, 1 resets. */
#define ACPI_PM_SHUTDOWN_PORT 0x600
#define ACPI_PM_SHUTDOWN_LEN 8
#define ACPI_PM_SLEEP_S5 ((5u << 2) | (1u << 5))
#define ACPI_PM_RESET_VALUE 0x1
extern const IoOps acpi_pm_io_ops; /* opaque: a VmControl */

/* Port 0x80: the guest's boot progress codes, logged with the time since the VMM started. */
#define DEBUG_PORT 0x80
typedef struct DebugPort {
        void (*on_code)(void *ctx, uint8_t code, double seconds);
        void *ctx;
} DebugPort;
extern const IoOps debug_port_io_ops; /* opaque: a DebugPort */
const char *debug_port_range_name(uint8_t code);

/* The CMOS real-time clock and its NVRAM, at 0x70/0x71. */
#define RTC_PORT 0x70
#define RTC_PORT_LEN 2
typedef struct Rtc Rtc;
int rtc_new(Rtc **ret);
Rtc *rtc_free(Rtc *rtc);
DEFINE_TRIVIAL_CLEANUP_FUNC(Rtc *, rtc_free);
/* What a guest reset does to the RTC: the clock and NVRAM survive, the index and flags do not. */
void rtc_reset(Rtc *rtc);
extern const IoOps rtc_io_ops;
/* For tests: a clock source other than the host's CLOCK_REALTIME. */
void rtc_set_clock(Rtc *rtc, int64_t (*now)(void));

/*
 * The ACPI Generic Event Device: one 32-bit register of pending events. A read returns the pending
 * bits and clears them (the guest's _EVT handles what it read); ged_notify() sets bits and pulses the
 * GED's interrupt line.
 */
typedef struct Ged {
        _Atomic uint32_t pending;
        IrqLine irq;
} Ged;
extern const IoOps ged_io_ops; /* opaque: a Ged */
void ged_notify(Ged *ged, uint32_t events);
