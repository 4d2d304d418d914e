/* SPDX-License-Identifier: Apache-2.0 */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "legacy.h"
#include "log.h"

static const char *const vm_request_table[_VM_REQUEST_MAX] = {
        [VM_REQUEST_NONE] = "none",   [VM_REQUEST_SHUTDOWN] = "shutdown", [VM_REQUEST_RESET] = "reset",
        [VM_REQUEST_CRASH] = "crash", [VM_REQUEST_STOP] = "stop",
};

const char *vm_request_to_string(VmRequest r)
{
        if (r < 0 || r >= _VM_REQUEST_MAX)
                return NULL;
        return vm_request_table[r];
}

/* i8042 */

static void i8042_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len)
{
        /* No keyboard: the output buffer is empty and the controller is ready for commands. */
        memset(data, 0, len);
}

static void i8042_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
        const VmControl *c = opaque;
        if (offset == I8042_COMMAND_PORT - I8042_DATA_PORT && len == 1 && data[0] == I8042_CMD_RESET) {
                log_info("Guest pulsed the reset line through the i8042");
                vm_control_request(c, VM_REQUEST_RESET);
        }
}

const IoOps i8042_io_ops = {
        .read = i8042_read,
        .write = i8042_write,
};

/* ACPI shutdown register */

static void acpi_pm_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len)
{
        memset(data, 0, len);
}

static void acpi_pm_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
        const VmControl *c = opaque;
        if (offset != 0 || len != 1)
                return;
        if (data[0] == ACPI_PM_SLEEP_S5) {
                log_info("Guest requested power-off (S5)");
                vm_control_request(c, VM_REQUEST_SHUTDOWN);
        } else if (data[0] == ACPI_PM_RESET_VALUE) {
                log_info("Guest requested a reset through the ACPI reset register");
                vm_control_request(c, VM_REQUEST_RESET);
        }
}

const IoOps acpi_pm_io_ops = {
        .read = acpi_pm_read,
        .write = acpi_pm_write,
};

/* Debug port */

const char *debug_port_range_name(uint8_t code)
{
        if (code < 0x20)
                return "Firmware";
        if (code < 0x40)
                return "Bootloader";
        if (code < 0x60)
                return "Kernel";
        if (code < 0x80)
                return "Userspace";
        return "Unknown";
}

static void debug_port_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
        const DebugPort *d = opaque;
        double t = log_uptime();

        if (len != 1)
                return;
        log_info("[Debug I/O port: %s code 0x%02x] %.6f seconds", debug_port_range_name(data[0]), data[0], t);
        if (d && d->on_code)
                d->on_code(d->ctx, data[0], t);
}

const IoOps debug_port_io_ops = {
        .write = debug_port_write,
};

/* CMOS RTC (MC146818) */

enum {
        RTC_SECONDS = 0x00,
        RTC_MINUTES = 0x02,
        RTC_HOURS = 0x04,
        RTC_DAY_OF_WEEK = 0x06,
        RTC_DAY_OF_MONTH = 0x07,
        RTC_MONTH = 0x08,
        RTC_YEAR = 0x09,
        RTC_REG_A = 0x0a,
        RTC_REG_B = 0x0b,
        RTC_REG_C = 0x0c,
        RTC_REG_D = 0x0d,
        RTC_CENTURY = 0x32,
        RTC_CMOS_SIZE = 0x80,
};

#define REG_A_UIP 0x80
#define REG_B_SET 0x80
#define REG_B_DM_BINARY 0x04
#define REG_B_24H 0x02
#define REG_D_VRT 0x80

struct Rtc {
        pthread_mutex_t lock;
        uint8_t index;
        uint8_t cmos[RTC_CMOS_SIZE];
        int64_t offset; /* guest time minus host time, seconds */
        int64_t (*now)(void);
};

static int64_t rtc_host_now(void)
{
        return (int64_t) time(NULL);
}

int rtc_new(Rtc **ret)
{
        Rtc *rtc = calloc(1, sizeof *rtc);
        if (!rtc)
                return -ENOMEM;
        pthread_mutex_init(&rtc->lock, NULL);
        rtc->now = rtc_host_now;
        rtc->cmos[RTC_REG_A] = 0x26; /* 32.768 kHz base, 1.024 kHz rate */
        rtc->cmos[RTC_REG_B] = REG_B_24H;
        rtc->cmos[RTC_REG_D] = REG_D_VRT;
        *ret = rtc;
        return 0;
}

Rtc *rtc_free(Rtc *rtc)
{
        if (!rtc)
                return NULL;
        pthread_mutex_destroy(&rtc->lock);
        free(rtc);
        return NULL;
}

void rtc_reset(Rtc *rtc)
{
        pthread_mutex_lock(&rtc->lock);
        rtc->index = 0;
        rtc->cmos[RTC_REG_B] &= (uint8_t) ~REG_B_SET;
        rtc->cmos[RTC_REG_C] = 0;
        pthread_mutex_unlock(&rtc->lock);
}

void rtc_set_clock(Rtc *rtc, int64_t (*now)(void))
{
        rtc->now = now ?: rtc_host_now;
}

static uint8_t to_bcd(unsigned v)
{
        return (uint8_t) (((v / 10) << 4) | (v % 10));
}

static unsigned from_bcd(uint8_t v)
{
        return (v >> 4) * 10 + (v & 0xf);
}

static bool rtc_is_time_register(uint8_t index)
{
        return index <= RTC_YEAR || index == RTC_CENTURY;
}

static uint8_t rtc_encode(const Rtc *rtc, unsigned v)
{
        return (rtc->cmos[RTC_REG_B] & REG_B_DM_BINARY) ? (uint8_t) v : to_bcd(v);
}

static unsigned rtc_decode(const Rtc *rtc, uint8_t v)
{
        return (rtc->cmos[RTC_REG_B] & REG_B_DM_BINARY) ? v : from_bcd(v);
}

static uint8_t rtc_read_time(const Rtc *rtc, uint8_t index)
{
        time_t t = (time_t) (rtc->now() + rtc->offset);
        struct tm tm;

        gmtime_r(&t, &tm);
        switch (index) {
        case RTC_SECONDS:
                return rtc_encode(rtc, (unsigned) tm.tm_sec);
        case RTC_MINUTES:
                return rtc_encode(rtc, (unsigned) tm.tm_min);
        case RTC_HOURS:
                if (rtc->cmos[RTC_REG_B] & REG_B_24H)
                        return rtc_encode(rtc, (unsigned) tm.tm_hour);
                else {
                        unsigned h = (unsigned) tm.tm_hour % 12;
                        return (uint8_t) (rtc_encode(rtc, h ? h : 12) | (tm.tm_hour >= 12 ? 0x80 : 0));
                }
        case RTC_DAY_OF_WEEK:
                return rtc_encode(rtc, (unsigned) tm.tm_wday + 1);
        case RTC_DAY_OF_MONTH:
                return rtc_encode(rtc, (unsigned) tm.tm_mday);
        case RTC_MONTH:
                return rtc_encode(rtc, (unsigned) tm.tm_mon + 1);
        case RTC_YEAR:
                return rtc_encode(rtc, (unsigned) (tm.tm_year + 1900) % 100);
        case RTC_CENTURY:
                return rtc_encode(rtc, (unsigned) (tm.tm_year + 1900) / 100);
        default:
                return 0;
        }
}

/* The guest sets the clock: keep the difference to the host's clock. */
static void rtc_write_time(Rtc *rtc, uint8_t index, uint8_t v)
{
        time_t t = (time_t) (rtc->now() + rtc->offset);
        unsigned val;
        struct tm tm;
        time_t nt;

        gmtime_r(&t, &tm);
        if (index == RTC_HOURS && !(rtc->cmos[RTC_REG_B] & REG_B_24H)) {
                val = rtc_decode(rtc, v & 0x7f) % 12 + ((v & 0x80) ? 12 : 0);
        } else
                val = rtc_decode(rtc, v);
        switch (index) {
        case RTC_SECONDS:
                tm.tm_sec = (int) MIN(val, 59u);
                break;
        case RTC_MINUTES:
                tm.tm_min = (int) MIN(val, 59u);
                break;
        case RTC_HOURS:
                tm.tm_hour = (int) MIN(val, 23u);
                break;
        case RTC_DAY_OF_MONTH:
                tm.tm_mday = (int) MAX(1u, MIN(val, 31u));
                break;
        case RTC_MONTH:
                tm.tm_mon = (int) MAX(1u, MIN(val, 12u)) - 1;
                break;
        case RTC_YEAR:
                tm.tm_year = (tm.tm_year + 1900) / 100 * 100 + (int) (val % 100) - 1900;
                break;
        case RTC_CENTURY:
                tm.tm_year = (int) val * 100 + (tm.tm_year + 1900) % 100 - 1900;
                break;
        default:
                return; /* day of week follows from the date */
        }
        nt = timegm(&tm);
        if (nt != (time_t) -1)
                rtc->offset = (int64_t) nt - rtc->now();
}

static const uint8_t rtc_time_registers[] = {
        RTC_SECONDS, RTC_MINUTES, RTC_HOURS, RTC_DAY_OF_WEEK, RTC_DAY_OF_MONTH, RTC_MONTH, RTC_YEAR, RTC_CENTURY,
};

/*
 * SET on: the current time is latched into the registers and the clock holds. SET off: the registers,
 * whatever the guest wrote into them meanwhile, become the new time all at once.
 */
static void rtc_write_reg_b(Rtc *rtc, uint8_t v)
{
        bool was_set = rtc->cmos[RTC_REG_B] & REG_B_SET, set = v & REG_B_SET;

        if (!was_set && set) {
                for (size_t i = 0; i < ELEMENTSOF(rtc_time_registers); i++)
                        rtc->cmos[rtc_time_registers[i]] = rtc_read_time(rtc, rtc_time_registers[i]);
                rtc->cmos[RTC_REG_B] = v;
                return;
        }
        if (was_set && !set) {
                struct tm tm = {};
                unsigned hour;
                time_t t;

                /* Decode the held registers in the mode they were written in. */
                hour = rtc_decode(rtc, rtc->cmos[RTC_HOURS] & 0x7f);
                if (!(rtc->cmos[RTC_REG_B] & REG_B_24H))
                        hour = hour % 12 + ((rtc->cmos[RTC_HOURS] & 0x80) ? 12 : 0);
                tm.tm_sec = (int) MIN(rtc_decode(rtc, rtc->cmos[RTC_SECONDS]), 59u);
                tm.tm_min = (int) MIN(rtc_decode(rtc, rtc->cmos[RTC_MINUTES]), 59u);
                tm.tm_hour = (int) MIN(hour, 23u);
                tm.tm_mday = (int) MAX(1u, MIN(rtc_decode(rtc, rtc->cmos[RTC_DAY_OF_MONTH]), 31u));
                tm.tm_mon = (int) MAX(1u, MIN(rtc_decode(rtc, rtc->cmos[RTC_MONTH]), 12u)) - 1;
                tm.tm_year = (int) (rtc_decode(rtc, rtc->cmos[RTC_CENTURY]) * 100 +
                                    rtc_decode(rtc, rtc->cmos[RTC_YEAR]) % 100) - 1900;
                t = timegm(&tm);
                if (t != (time_t) -1)
                        rtc->offset = (int64_t) t - rtc->now();
        }
        rtc->cmos[RTC_REG_B] = v;
}

static bool rtc_update_in_progress(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        /* The MC146818 flags the last 244 us before the seconds roll over. */
        return ts.tv_nsec >= 1000000000L - 244000L;
}

static void rtc_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len)
{
        Rtc *rtc = opaque;
        uint8_t v = 0;

        memset(data, 0, len);
        if (len != 1)
                return;
        pthread_mutex_lock(&rtc->lock);
        if (offset == 0)
                v = rtc->index;
        else if (rtc_is_time_register(rtc->index))
                v = (rtc->cmos[RTC_REG_B] & REG_B_SET) ? rtc->cmos[rtc->index] : rtc_read_time(rtc, rtc->index);
        else if (rtc->index == RTC_REG_A)
                v = (uint8_t) ((rtc->cmos[RTC_REG_A] & ~REG_A_UIP) | (rtc_update_in_progress() ? REG_A_UIP : 0));
        else if (rtc->index == RTC_REG_C) {
                v = rtc->cmos[RTC_REG_C];
                rtc->cmos[RTC_REG_C] = 0; /* read to clear */
        } else
                v = rtc->cmos[rtc->index];
        pthread_mutex_unlock(&rtc->lock);
        data[0] = v;
}

static void rtc_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
        Rtc *rtc = opaque;

        if (len != 1)
                return;
        pthread_mutex_lock(&rtc->lock);
        if (offset == 0)
                rtc->index = data[0] & 0x7f; /* bit 7 masks NMIs */
        else if (rtc_is_time_register(rtc->index)) {
                /* With SET on, the clock is held: writes collect in the registers until SET goes off. */
                if (rtc->cmos[RTC_REG_B] & REG_B_SET)
                        rtc->cmos[rtc->index] = data[0];
                else
                        rtc_write_time(rtc, rtc->index, data[0]);
        } else if (rtc->index == RTC_REG_A)
                rtc->cmos[RTC_REG_A] = data[0] & (uint8_t) ~REG_A_UIP;
        else if (rtc->index == RTC_REG_B)
                rtc_write_reg_b(rtc, data[0]);
        else if (rtc->index == RTC_REG_C || rtc->index == RTC_REG_D)
                ; /* read-only */
        else
                rtc->cmos[rtc->index] = data[0];
        pthread_mutex_unlock(&rtc->lock);
}

const IoOps rtc_io_ops = {
        .read = rtc_read,
        .write = rtc_write,
};

/* Generic Event Device */

static void ged_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len)
{
        Ged *ged = opaque;
        uint32_t v = 0;

        if (offset == 0 && len == 4)
                v = atomic_exchange(&ged->pending, 0);
        memset(data, 0, len);
        memcpy(data, &v, MIN(len, (uint32_t) sizeof v));
}

const IoOps ged_io_ops = {
        .read = ged_read,
};

void ged_notify(Ged *ged, uint32_t events)
{
        atomic_fetch_or(&ged->pending, events);
        /* The interrupt is edge-triggered: a pulse per notification. */
        irq_line_set(&ged->irq, true);
        irq_line_set(&ged->irq, false);
}
