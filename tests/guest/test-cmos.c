/* SPDX-License-Identifier: Apache-2.0 */
/* Scenarios that use the CMOS: rtc, and reset and triple, which keep a boot counter in NVRAM. */
#include "guest.h"

#define RTC_SECONDS   0x00
#define RTC_MINUTES   0x02
#define RTC_HOURS     0x04
#define RTC_DAY       0x07
#define RTC_MONTH     0x08
#define RTC_YEAR      0x09
#define RTC_REG_A     0x0a
#define RTC_REG_B     0x0b
#define RTC_CENTURY   0x32

#define REG_A_UIP     0x80
#define REG_B_24H     0x02
#define REG_B_BINARY  0x04
#define HOUR_PM       0x80

#define NVRAM_RESET   0x5a
#define NVRAM_TRIPLE  0x5b

#define I8042_COMMAND 0x64
#define I8042_RESET   0xfe

/* About 100 ms or more of port reads: a reset that worked never comes back from it. */
#define RESET_WAIT   100000
#define UIP_POLL_MAX 100000

struct rtc_time {
        uint8_t sec, min, hour, day, month, year, century;
};

static bool rtc_wait_update(void)
{
        for (unsigned i = 0; i < UIP_POLL_MAX; i++)
                if (!(cmos_read(RTC_REG_A) & REG_A_UIP))
                        return true;
        return false;
}

static void rtc_read_raw(struct rtc_time *t)
{
        t->sec = cmos_read(RTC_SECONDS);
        t->min = cmos_read(RTC_MINUTES);
        t->hour = cmos_read(RTC_HOURS);
        t->day = cmos_read(RTC_DAY);
        t->month = cmos_read(RTC_MONTH);
        t->year = cmos_read(RTC_YEAR);
        t->century = cmos_read(RTC_CENTURY);
}

static uint8_t from_bcd(uint8_t v)
{
        return (uint8_t) ((v >> 4) * 10 + (v & 0xf));
}

const char *scenario_rtc(void)
{
        struct rtc_time t, again;
        unsigned year, hour;
        bool pm, stable = false;
        uint8_t regb;

        /* Read until two reads agree, so that no field is taken across an update. */
        for (unsigned tries = 0; tries < 10 && !stable; tries++) {
                if (!rtc_wait_update())
                        return "RTC update in progress never ended";
                rtc_read_raw(&t);
                if (!rtc_wait_update())
                        return "RTC update in progress never ended";
                rtc_read_raw(&again);
                stable = memcmp(&t, &again, sizeof(t)) == 0;
        }
        if (!stable)
                return "RTC time never read the same twice";
        regb = cmos_read(RTC_REG_B);

        pm = !(regb & REG_B_24H) && (t.hour & HOUR_PM);
        t.hour &= (uint8_t) ~HOUR_PM;
        if (!(regb & REG_B_BINARY)) {
                t.sec = from_bcd(t.sec);
                t.min = from_bcd(t.min);
                t.hour = from_bcd(t.hour);
                t.day = from_bcd(t.day);
                t.month = from_bcd(t.month);
                t.year = from_bcd(t.year);
                t.century = from_bcd(t.century);
        }
        hour = t.hour;
        if (!(regb & REG_B_24H)) {
                /* 12-hour clock: 12 AM is 0 h, 12 PM is 12 h. */
                if (hour == 12)
                        hour = 0;
                if (pm)
                        hour += 12;
        }
        year = (t.century ? t.century : 20) * 100u + t.year;

        print("rtc: %04u-%02u-%02uT%02u:%02u:%02u\n", year, t.month, t.day, hour, t.min, t.sec);
        print("rtc: regb=0x%02x\n", regb);
        if (t.sec > 59 || t.min > 59 || hour > 23 || t.day < 1 || t.day > 31 || t.month < 1 ||
            t.month > 12 || t.year > 99)
                return "RTC time out of range";
        return NULL;
}

static void wait_after_reset(void)
{
        for (unsigned i = 0; i < RESET_WAIT; i++)
                io_delay();
}

const char *scenario_reset(void)
{
        uint8_t boots = cmos_read(NVRAM_RESET);

        if (boots == 1) {
                print("reset: second boot after reset\n");
                cmos_write(NVRAM_RESET, 0);
                return NULL;
        }
        if (boots != 0) {
                print("reset: unexpected boot counter %u\n", boots);
                cmos_write(NVRAM_RESET, 0);
                return "unexpected boot counter";
        }
        cmos_write(NVRAM_RESET, 1);
        if (cmos_read(NVRAM_RESET) != 1)
                return "CMOS NVRAM did not keep the boot counter";
        print("reset: first boot, pulsing the i8042 reset line\n");
        outb(I8042_COMMAND, I8042_RESET);
        wait_after_reset();
        cmos_write(NVRAM_RESET, 0);
        return "still running after the i8042 reset";
}

const char *scenario_triple(void)
{
        static const struct {
                uint16_t limit;
                uint64_t base;
        } _packed_ empty_idt = { 0, 0 };
        uint8_t boots = cmos_read(NVRAM_TRIPLE);

        if (boots == 1) {
                print("triple: second boot after triple fault\n");
                cmos_write(NVRAM_TRIPLE, 0);
                return NULL;
        }
        if (boots != 0) {
                print("triple: unexpected boot counter %u\n", boots);
                cmos_write(NVRAM_TRIPLE, 0);
                return "unexpected boot counter";
        }
        cmos_write(NVRAM_TRIPLE, 1);
        if (cmos_read(NVRAM_TRIPLE) != 1)
                return "CMOS NVRAM did not keep the boot counter";
        print("triple: first boot, causing a triple fault\n");
        __asm__ volatile("lidt %0; ud2" : : "m"(empty_idt));
        cmos_write(NVRAM_TRIPLE, 0);
        return "still running after a triple fault";
}
