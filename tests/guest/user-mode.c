/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Code that runs at CPL3. The linker script puts everything from this file (code, strings, data) in the
 * user page, so nothing here may call into the rest of the guest: only the static inline helpers of
 * guest.h, which are compiled into this file.
 */
#include "guest.h"

#define COM1     0x3f8
#define LSR_THRE 0x20

struct user_report user_report;

static void user_putc(char c)
{
        for (unsigned i = 0; i < 10000; i++)
                if (inb(COM1 + 5) & LSR_THRE)
                        break;
        outb(COM1, (uint8_t) c);
}

static void user_puts(const char *s)
{
        while (*s)
                user_putc(*s++);
}

static void user_puthex(uint32_t v, unsigned digits)
{
        while (digits--)
                user_putc("0123456789abcdef"[(v >> (digits * 4)) & 0xf]);
}

/* Fills the buffer from a xorshift generator, then folds it into a checksum. */
static uint32_t user_checksum(void)
{
        volatile uint32_t *buf = (volatile uint32_t *) (uintptr_t) USER_BUF;
        uint32_t x = 0x2545f491, sum = 0;

        for (uint32_t i = 0; i < USER_BUF_SIZE / 4; i++) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                buf[i] = x;
        }
        for (uint32_t i = 0; i < USER_BUF_SIZE / 4; i++)
                sum = ((sum << 5) | (sum >> 27)) ^ (buf[i] + i);
        return sum;
}

void user_main(void)
{
        uint32_t cs;

        debug_marker(MARK_USER);
        user_report.started = 1;

        cs = read_cs();
        user_report.cs = cs;
        user_puts("user: cpl=");
        user_putc((char) ('0' + (cs & 3)));
        user_putc('\n');

        user_report.checksum = user_checksum();
        user_puts("user: checksum=0x");
        user_puthex(user_report.checksum, 8);
        user_putc('\n');
        user_report.finished = 1;

        __asm__ volatile("int %0" : : "i"(USER_RETURN_VECTOR) : "memory");
        for (;;)
                ;
}
