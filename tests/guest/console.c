/* SPDX-License-Identifier: Apache-2.0 */
/* Output on the 16550 UART at 0x3f8, polled, and a small printf. */
#include "guest.h"

#define COM1     0x3f8
#define UART_THR 0 /* transmit holding register (DLAB = 0) */
#define UART_IER 1
#define UART_DLL 0 /* divisor latch (DLAB = 1) */
#define UART_DLM 1
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5

#define LCR_8N1  0x03
#define LCR_DLAB 0x80
#define LSR_THRE 0x20

/*
 * Bounded so that a UART that never reports an empty THR cannot hang the guest: once a wait has timed
 * out, the guest stops waiting.
 */
#define THRE_POLL_MAX 10000

static bool thre_stuck;

void serial_init(void)
{
        outb(COM1 + UART_IER, 0x00);
        outb(COM1 + UART_LCR, LCR_DLAB);
        outb(COM1 + UART_DLL, 0x01); /* 115200 baud */
        outb(COM1 + UART_DLM, 0x00);
        outb(COM1 + UART_LCR, LCR_8N1);
        outb(COM1 + UART_FCR, 0x07); /* FIFOs on and cleared */
        outb(COM1 + UART_MCR, 0x03); /* DTR, RTS */
}

void serial_putc(char c)
{
        unsigned i;

        for (i = 0; i < THRE_POLL_MAX && !thre_stuck; i++)
                if (inb(COM1 + UART_LSR) & LSR_THRE)
                        break;
        if (i == THRE_POLL_MAX)
                thre_stuck = true;
        outb(COM1 + UART_THR, (uint8_t) c);
}

void serial_write(const char *s, size_t n)
{
        for (size_t i = 0; i < n; i++)
                serial_putc(s[i]);
}

static void put_padded(const char *s, size_t n, unsigned width, char pad)
{
        for (size_t i = n; i < width; i++)
                serial_putc(pad);
        serial_write(s, n);
}

static void put_number(uint64_t v, unsigned base, bool negative, unsigned width, char pad)
{
        char buf[24];
        size_t n = sizeof(buf);

        do {
                buf[--n] = "0123456789abcdef"[v % base];
                v /= base;
        } while (v);
        if (negative)
                buf[--n] = '-';
        put_padded(buf + n, sizeof(buf) - n, width, pad);
}

/* Supports %s %c %d %i %u %x %p and %%, with a field width, the 0 flag and the l, ll, z modifiers. */
void vprint(const char *fmt, va_list ap)
{
        for (const char *p = fmt; *p; p++) {
                unsigned width = 0, longs = 0;
                char pad = ' ';
                uint64_t u;
                int64_t d;

                if (*p != '%') {
                        serial_putc(*p);
                        continue;
                }
                p++;
                if (*p == '0') {
                        pad = '0';
                        p++;
                }
                while (*p >= '0' && *p <= '9')
                        width = width * 10 + (unsigned) (*p++ - '0');
                while (*p == 'l' || *p == 'z') {
                        longs = *p == 'z' ? 2 : longs + 1;
                        p++;
                }

                switch (*p) {
                case 's': {
                        const char *s = va_arg(ap, const char *);
                        if (!s)
                                s = "(null)";
                        put_padded(s, strlen(s), width, ' ');
                        break;
                }
                case 'c':
                        serial_putc((char) va_arg(ap, int));
                        break;
                case 'd':
                case 'i':
                        d = longs ? va_arg(ap, int64_t) : va_arg(ap, int);
                        put_number(d < 0 ? -(uint64_t) d : (uint64_t) d, 10, d < 0, width, pad);
                        break;
                case 'u':
                case 'x':
                        u = longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
                        put_number(u, *p == 'u' ? 10 : 16, false, width, pad);
                        break;
                case 'p':
                        serial_write("0x", 2);
                        put_number((uintptr_t) va_arg(ap, void *), 16, false, width, pad);
                        break;
                case '%':
                        serial_putc('%');
                        break;
                case '\0':
                        return;
                default:
                        serial_putc('%');
                        serial_putc(*p);
                        break;
                }
        }
}

void print(const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vprint(fmt, ap);
        va_end(ap);
}
