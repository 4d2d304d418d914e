/* SPDX-License-Identifier: Apache-2.0 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "legacy.h"

/* A VmControl that records what the devices ask for. */
typedef struct Requests {
        unsigned n;
        VmRequest last;
} Requests;

static void record_request(void *ctx, VmRequest r)
{
        Requests *q = ctx;
        q->n++;
        q->last = r;
}

static void pio_write(const IoOps *ops, void *opaque, uint64_t offset, uint8_t v)
{
        ops->write(opaque, offset, &v, 1);
}

static uint8_t pio_read(const IoOps *ops, void *opaque, uint64_t offset)
{
        uint8_t v = 0xaa;
        ops->read(opaque, offset, &v, 1);
        return v;
}

Test(legacy, vm_request_strings)
{
        cr_assert(eq(str, (char *) vm_request_to_string(VM_REQUEST_NONE), "none"));
        cr_assert(eq(str, (char *) vm_request_to_string(VM_REQUEST_SHUTDOWN), "shutdown"));
        cr_assert(eq(str, (char *) vm_request_to_string(VM_REQUEST_RESET), "reset"));
        cr_assert(eq(str, (char *) vm_request_to_string(VM_REQUEST_CRASH), "crash"));
        cr_assert(eq(str, (char *) vm_request_to_string(VM_REQUEST_STOP), "stop"));
        cr_assert(zero(ptr, (void *) vm_request_to_string(_VM_REQUEST_MAX)));
        cr_assert(zero(ptr, (void *) vm_request_to_string(_VM_REQUEST_INVALID)));
}

/* i8042 */

Test(legacy, i8042_reset_command)
{
        Requests q = {};
        VmControl c = { .request = record_request, .ctx = &q };

        pio_write(&i8042_io_ops, &c, I8042_COMMAND_PORT - I8042_DATA_PORT, I8042_CMD_RESET);
        cr_assert(eq(uint, q.n, 1));
        cr_assert(eq(int, q.last, VM_REQUEST_RESET));
}

Test(legacy, i8042_other_writes_do_nothing)
{
        Requests q = {};
        VmControl c = { .request = record_request, .ctx = &q };
        uint8_t two[2] = { I8042_CMD_RESET, I8042_CMD_RESET };

        /* 0xfe on the data port is a keyboard byte, not a command. */
        pio_write(&i8042_io_ops, &c, 0, I8042_CMD_RESET);
        /* Other commands on the command port. */
        pio_write(&i8042_io_ops, &c, 4, 0xd1);
        pio_write(&i8042_io_ops, &c, 4, 0xff);
        pio_write(&i8042_io_ops, &c, 4, 0xaa);
        /* The ports in between. */
        for (uint64_t off = 1; off < 4; off++)
                pio_write(&i8042_io_ops, &c, off, I8042_CMD_RESET);
        /* A 2-byte write. */
        i8042_io_ops.write(&c, 4, two, 2);
        cr_assert(eq(uint, q.n, 0));
}

Test(legacy, i8042_reads_idle)
{
        VmControl c = {};
        uint8_t v[2] = { 0xaa, 0xaa };

        /* No keyboard: status says the input buffer is empty (bit 1 clear) so the guest can send a command.
         */
        cr_assert(eq(u8, pio_read(&i8042_io_ops, &c, 4) & 0x02, 0));
        cr_assert(eq(u8, pio_read(&i8042_io_ops, &c, 0), 0));
        i8042_io_ops.read(&c, 4, v, 2);
        cr_assert(eq(u8, v[1], 0));
}

Test(legacy, i8042_without_a_handler)
{
        VmControl c = {};

        pio_write(&i8042_io_ops, &c, 4, I8042_CMD_RESET);
}

/* ACPI shutdown port */

Test(legacy, acpi_s5_powers_off)
{
        Requests q = {};
        VmControl c = { .request = record_request, .ctx = &q };

        cr_assert(eq(uint, ACPI_PM_SLEEP_S5, 0x34));
        pio_write(&acpi_pm_io_ops, &c, 0, 0x34);
        cr_assert(eq(uint, q.n, 1));
        cr_assert(eq(int, q.last, VM_REQUEST_SHUTDOWN));
}

Test(legacy, acpi_reset_value)
{
        Requests q = {};
        VmControl c = { .request = record_request, .ctx = &q };

        pio_write(&acpi_pm_io_ops, &c, 0, ACPI_PM_RESET_VALUE);
        cr_assert(eq(uint, q.n, 1));
        cr_assert(eq(int, q.last, VM_REQUEST_RESET));
}

Test(legacy, acpi_other_values_do_nothing)
{
        static const uint8_t values[] = { 0x00, 0x02, 0x14, 0x20, 0x30, 0x35, 0x3c, 0x74, 0xff };
        Requests q = {};
        VmControl c = { .request = record_request, .ctx = &q };
        uint8_t two[2] = { 0x34, 0x00 };

        for (size_t i = 0; i < ELEMENTSOF(values); i++)
                pio_write(&acpi_pm_io_ops, &c, 0, values[i]);
        /* The right value at another offset of the block, or as a wider write. */
        for (uint64_t off = 1; off < ACPI_PM_SHUTDOWN_LEN; off++) {
                pio_write(&acpi_pm_io_ops, &c, off, 0x34);
                pio_write(&acpi_pm_io_ops, &c, off, 0x01);
        }
        acpi_pm_io_ops.write(&c, 0, two, 2);
        cr_assert(eq(uint, q.n, 0));
        cr_assert(eq(u8, pio_read(&acpi_pm_io_ops, &c, 0), 0));
}

/* Debug port */

typedef struct Codes {
        unsigned n;
        uint8_t last;
        double seconds;
} Codes;

static void record_code(void *ctx, uint8_t code, double seconds)
{
        Codes *c = ctx;
        c->n++;
        c->last = code;
        c->seconds = seconds;
}

Test(legacy, debug_port_reports_codes)
{
        Codes codes = { .seconds = -1 };
        DebugPort d = { .on_code = record_code, .ctx = &codes };
        uint8_t two[2] = { 1, 2 };

        pio_write(&debug_port_io_ops, &d, 0, 0x41);
        cr_assert(eq(uint, codes.n, 1));
        cr_assert(eq(u8, codes.last, 0x41));
        cr_assert(ge(dbl, codes.seconds, 0.0));
        pio_write(&debug_port_io_ops, &d, 0, 0x00);
        pio_write(&debug_port_io_ops, &d, 0, 0xff);
        cr_assert(eq(uint, codes.n, 3));
        cr_assert(eq(u8, codes.last, 0xff));
        /* Only byte writes are codes. */
        debug_port_io_ops.write(&d, 0, two, 2);
        cr_assert(eq(uint, codes.n, 3));
}

Test(legacy, debug_port_without_a_listener)
{
        DebugPort d = {};

        pio_write(&debug_port_io_ops, &d, 0, 0x20);
        pio_write(&debug_port_io_ops, NULL, 0, 0x20);
        cr_assert(zero(ptr, (void *) debug_port_io_ops.read));
}

Test(legacy, debug_port_range_names)
{
        static const struct {
                uint8_t code;
                const char *name;
        } table[] = {
                { 0x00, "Firmware" }, { 0x1f, "Firmware" }, { 0x20, "Bootloader" }, { 0x3f, "Bootloader" },
                { 0x40, "Kernel" },   { 0x5f, "Kernel" },   { 0x60, "Userspace" },  { 0x7f, "Userspace" },
                { 0x80, "Unknown" },  { 0xff, "Unknown" },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                cr_assert(eq(str, (char *) debug_port_range_name(table[i].code), (char *) table[i].name),
                          "0x%02x", table[i].code);
}

/* CMOS RTC */

#define T_2026_12_01_18_20_05 INT64_C(1796149205) /* a Tuesday */
#define T_2026_01_31_12_00_00 INT64_C(1769860800)
#define T_2026_03_31_23_59_59 INT64_C(1775001599)

static int64_t fake_now;

static int64_t fake_clock(void)
{
        return fake_now;
}

static Rtc *rtc;

static void rtc_setup(void)
{
        cr_assert(eq(int, rtc_new(&rtc), 0));
        fake_now = T_2026_12_01_18_20_05;
        rtc_set_clock(rtc, fake_clock);
}

static void rtc_teardown(void)
{
        rtc = rtc_free(rtc);
}

TestSuite(rtc, .init = rtc_setup, .fini = rtc_teardown);

static uint8_t cmos_read(uint8_t index)
{
        pio_write(&rtc_io_ops, rtc, 0, index);
        return pio_read(&rtc_io_ops, rtc, 1);
}

static void cmos_write(uint8_t index, uint8_t v)
{
        pio_write(&rtc_io_ops, rtc, 0, index);
        pio_write(&rtc_io_ops, rtc, 1, v);
}

typedef struct RtcTime {
        uint8_t sec, min, hour, wday, mday, mon, year, century;
} RtcTime;

static RtcTime rtc_time(void)
{
        return (RtcTime) {
                .sec = cmos_read(0x00),
                .min = cmos_read(0x02),
                .hour = cmos_read(0x04),
                .wday = cmos_read(0x06),
                .mday = cmos_read(0x07),
                .mon = cmos_read(0x08),
                .year = cmos_read(0x09),
                .century = cmos_read(0x32),
        };
}

static void assert_time(RtcTime t, uint8_t century, uint8_t year, uint8_t mon, uint8_t mday, uint8_t hour,
                        uint8_t min, uint8_t sec)
{
        cr_assert(eq(u8, t.century, century), "century");
        cr_assert(eq(u8, t.year, year), "year");
        cr_assert(eq(u8, t.mon, mon), "month");
        cr_assert(eq(u8, t.mday, mday), "day of month");
        cr_assert(eq(u8, t.hour, hour), "hours");
        cr_assert(eq(u8, t.min, min), "minutes");
        cr_assert(eq(u8, t.sec, sec), "seconds");
}

Test(rtc, defaults)
{
        cr_assert(eq(u8, cmos_read(0x0a) & 0x7f, 0x26));
        cr_assert(eq(u8, cmos_read(0x0b), 0x02)); /* 24-hour, BCD */
        cr_assert(eq(u8, cmos_read(0x0c), 0x00));
        cr_assert(eq(u8, cmos_read(0x0d), 0x80)); /* valid RAM and time */
}

Test(rtc, bcd_time)
{
        RtcTime t = rtc_time();

        assert_time(t, 0x20, 0x26, 0x12, 0x01, 0x18, 0x20, 0x05);
        cr_assert(eq(u8, t.wday, 3), "Tuesday is day 3 (Sunday is 1)");
}

Test(rtc, binary_time)
{
        cmos_write(0x0b, 0x02 | 0x04);
        assert_time(rtc_time(), 20, 26, 12, 1, 18, 20, 5);
        cr_assert(eq(u8, cmos_read(0x06), 3));
}

Test(rtc, twelve_hour_mode)
{
        cmos_write(0x0b, 0x00); /* 12-hour BCD */
        cr_assert(eq(u8, cmos_read(0x04), 0x86), "18:20 is 6 PM");
        cmos_write(0x0b, 0x04); /* 12-hour binary */
        cr_assert(eq(u8, cmos_read(0x04), 0x86));

        fake_now = T_2026_12_01_18_20_05 - 18 * 3600; /* 00:20:05 */
        cmos_write(0x0b, 0x00);
        cr_assert(eq(u8, cmos_read(0x04), 0x12), "00:20 is 12 AM");
        fake_now = T_2026_12_01_18_20_05 - 6 * 3600; /* 12:20:05 */
        cr_assert(eq(u8, cmos_read(0x04), 0x92), "12:20 is 12 PM");
        fake_now = T_2026_12_01_18_20_05 - 7 * 3600; /* 11:20:05 */
        cr_assert(eq(u8, cmos_read(0x04), 0x11), "11 AM");
        fake_now = T_2026_12_01_18_20_05 + 5 * 3600; /* 23:20:05 */
        cr_assert(eq(u8, cmos_read(0x04), 0x91), "11 PM");
}

Test(rtc, clock_runs)
{
        fake_now += 65;
        assert_time(rtc_time(), 0x20, 0x26, 0x12, 0x01, 0x18, 0x21, 0x10);
        /* Across midnight, a month and a year. */
        fake_now = T_2026_12_01_18_20_05 + 30 * 86400 + 5 * 3600 + 39 * 60 + 55; /* 2027-01-01 00:00:00 */
        assert_time(rtc_time(), 0x20, 0x27, 0x01, 0x01, 0x00, 0x00, 0x00);
}

Test(rtc, century)
{
        fake_now = INT64_C(4102444800) - 1; /* 2099-12-31 23:59:59 */
        assert_time(rtc_time(), 0x20, 0x99, 0x12, 0x31, 0x23, 0x59, 0x59);
        fake_now++;
        assert_time(rtc_time(), 0x21, 0x00, 0x01, 0x01, 0x00, 0x00, 0x00);
}

Test(rtc, nvram_persists_across_reset)
{
        for (unsigned i = 0x0e; i < 0x80; i++)
                if (i != 0x32)
                        cmos_write((uint8_t) i, (uint8_t) (i ^ 0xa5));
        rtc_reset(rtc);
        for (unsigned i = 0x0e; i < 0x80; i++)
                if (i != 0x32)
                        cr_assert(eq(u8, cmos_read((uint8_t) i), (uint8_t) (i ^ 0xa5)), "NVRAM byte 0x%02x",
                                  i);
        /* And the clock is still right. */
        assert_time(rtc_time(), 0x20, 0x26, 0x12, 0x01, 0x18, 0x20, 0x05);
}

Test(rtc, reset_clears_index_and_flags)
{
        cmos_write(0x0b, 0x80 | 0x04 | 0x02); /* SET, binary, 24h */
        pio_write(&rtc_io_ops, rtc, 0, 0x3f);
        rtc_reset(rtc);
        cr_assert(eq(u8, pio_read(&rtc_io_ops, rtc, 0), 0), "index back to 0");
        cr_assert(eq(u8, cmos_read(0x0b), 0x06), "SET cleared, the data mode kept");
        cr_assert(eq(u8, cmos_read(0x0c), 0));
}

Test(rtc, register_c_and_d_are_read_only)
{
        cmos_write(0x0c, 0xff);
        cr_assert(eq(u8, cmos_read(0x0c), 0));
        /* Read-to-clear: two reads in a row read the same (nothing is pending). */
        cr_assert(eq(u8, cmos_read(0x0c), 0));
        cmos_write(0x0d, 0x00);
        cr_assert(eq(u8, cmos_read(0x0d), 0x80));
        cmos_write(0x0d, 0xff);
        cr_assert(eq(u8, cmos_read(0x0d), 0x80));
}

Test(rtc, register_a_uip_is_read_only)
{
        cmos_write(0x0a, 0xa6);
        cr_assert(eq(u8, cmos_read(0x0a) & 0x7f, 0x26));
        cmos_write(0x0a, 0x20);
        cr_assert(eq(u8, cmos_read(0x0a) & 0x7f, 0x20));
}

Test(rtc, index_port_masks_the_nmi_bit)
{
        pio_write(&rtc_io_ops, rtc, 0, 0x80 | 0x0d);
        cr_assert(eq(u8, pio_read(&rtc_io_ops, rtc, 0), 0x0d));
        cr_assert(eq(u8, pio_read(&rtc_io_ops, rtc, 1), 0x80));
        pio_write(&rtc_io_ops, rtc, 0, 0x80 | 0x00);
        cr_assert(eq(u8, pio_read(&rtc_io_ops, rtc, 1), 0x05));
        cmos_write(0x80 | 0x40, 0x77);
        cr_assert(eq(u8, cmos_read(0x40), 0x77));
}

Test(rtc, wrong_access_sizes_are_ignored)
{
        uint8_t two[2] = { 0x40, 0x40 };

        cmos_write(0x40, 0x11);
        pio_write(&rtc_io_ops, rtc, 0, 0x40);
        rtc_io_ops.write(rtc, 1, two, 2);
        cr_assert(eq(u8, cmos_read(0x40), 0x11));
        two[0] = two[1] = 0xee;
        rtc_io_ops.read(rtc, 1, two, 2);
        cr_assert(eq(u8, two[0], 0));
        cr_assert(eq(u8, two[1], 0));
}

Test(rtc, writing_the_time_moves_the_clock)
{
        cmos_write(0x04, 0x10); /* 10:20:05 */
        assert_time(rtc_time(), 0x20, 0x26, 0x12, 0x01, 0x10, 0x20, 0x05);
        cmos_write(0x02, 0x45);
        cmos_write(0x00, 0x30);
        assert_time(rtc_time(), 0x20, 0x26, 0x12, 0x01, 0x10, 0x45, 0x30);
        /* The new time keeps running with the host's clock. */
        fake_now += 90;
        assert_time(rtc_time(), 0x20, 0x26, 0x12, 0x01, 0x10, 0x47, 0x00);
        /* Date fields. */
        cmos_write(0x09, 0x30);
        cr_assert(eq(u8, cmos_read(0x09), 0x30));
        cr_assert(eq(u8, cmos_read(0x32), 0x20));
        cmos_write(0x07, 0x15);
        cmos_write(0x08, 0x06);
        assert_time(rtc_time(), 0x20, 0x30, 0x06, 0x15, 0x10, 0x47, 0x00);
        cmos_write(0x32, 0x21);
        assert_time(rtc_time(), 0x21, 0x30, 0x06, 0x15, 0x10, 0x47, 0x00);
        /* NVRAM was not involved. */
        cr_assert(eq(u8, cmos_read(0x40), 0));
}

Test(rtc, writing_the_time_in_binary_and_12_hour_modes)
{
        cmos_write(0x0b, 0x04 | 0x02); /* binary, 24h */
        cmos_write(0x04, 7);
        cmos_write(0x02, 59);
        cr_assert(eq(u8, cmos_read(0x04), 7));
        cr_assert(eq(u8, cmos_read(0x02), 59));
        cmos_write(0x0b, 0x00);        /* BCD, 12h */
        cmos_write(0x04, 0x80 | 0x07); /* 7 PM */
        cmos_write(0x0b, 0x02);
        cr_assert(eq(u8, cmos_read(0x04), 0x19));
        cmos_write(0x0b, 0x00);
        cmos_write(0x04, 0x12); /* 12 AM */
        cmos_write(0x0b, 0x02);
        cr_assert(eq(u8, cmos_read(0x04), 0x00));
        cmos_write(0x0b, 0x00);
        cmos_write(0x04, 0x92); /* 12 PM */
        cmos_write(0x0b, 0x02);
        cr_assert(eq(u8, cmos_read(0x04), 0x12));
}

Test(rtc, out_of_range_writes_are_clamped)
{
        cmos_write(0x00, 0x99); /* 99 seconds */
        cr_assert(eq(u8, cmos_read(0x00), 0x59));
        cmos_write(0x04, 0x25);
        cr_assert(eq(u8, cmos_read(0x04), 0x23));
        cmos_write(0x08, 0x00);
        cr_assert(eq(u8, cmos_read(0x08), 0x01));
}

/* Sets the clock the way Linux's mc146818_set_time() does: SET, then year to seconds, then SET off. */
static void linux_set_time(uint8_t year, uint8_t mon, uint8_t mday, uint8_t hour, uint8_t min, uint8_t sec)
{
        uint8_t b = cmos_read(0x0b);

        cmos_write(0x0b, b | 0x80);
        cmos_write(0x09, year);
        cmos_write(0x08, mon);
        cmos_write(0x07, mday);
        cmos_write(0x04, hour);
        cmos_write(0x02, min);
        cmos_write(0x00, sec);
        cmos_write(0x0b, b & 0x7f);
}

Test(rtc, set_time_like_linux)
{
        linux_set_time(0x27, 0x07, 0x04, 0x09, 0x08, 0x07);
        assert_time(rtc_time(), 0x20, 0x27, 0x07, 0x04, 0x09, 0x08, 0x07);
}

/*
 * Setting a date whose day does not exist in the month the clock is in while the fields are written one
 * at a time: on the 31st of January, setting 15 February goes through "31 February". The clock must not
 * normalise the half-written date (a real MC146818 does not update while SET is on).
 */
Test(rtc, set_time_from_the_end_of_a_long_month)
{
        fake_now = T_2026_01_31_12_00_00;
        linux_set_time(0x26, 0x02, 0x15, 0x10, 0x20, 0x30);
        assert_time(rtc_time(), 0x20, 0x26, 0x02, 0x15, 0x10, 0x20, 0x30);
}

Test(rtc, set_time_from_the_31st_to_a_30_day_month)
{
        fake_now = T_2026_03_31_23_59_59;
        linux_set_time(0x26, 0x04, 0x10, 0x08, 0x00, 0x00);
        assert_time(rtc_time(), 0x20, 0x26, 0x04, 0x10, 0x08, 0x00, 0x00);
}
