/* SPDX-License-Identifier: Apache-2.0 */
/* Scenarios serial, cmdline, halt and exception. */
#include "guest.h"

#define COM1             0x3f8
#define UART_DLL         0
#define UART_DLM         1
#define UART_LCR         3
#define UART_SCR         7
#define LCR_DLAB         0x80

#define PATTERN_LINE_LEN 200

const char *scenario_serial(void)
{
        static const uint8_t scratch_values[] = { 0x00, 0xff, 0x5a, 0xa5, 0x3c };
        const char *prefix = "serial: pattern ";
        bool scratch_ok = true, divisor_ok;
        uint8_t lcr, dll, dlm;
        size_t n;

        print("serial: hello from the test guest\n");

        for (size_t i = 0; i < ELEMENTSOF(scratch_values); i++) {
                outb(COM1 + UART_SCR, scratch_values[i]);
                if (inb(COM1 + UART_SCR) != scratch_values[i])
                        scratch_ok = false;
        }
        if (!scratch_ok)
                return "scratch register";
        print("serial: scratch ok\n");

        /* Nothing may be printed while DLAB is set: THR and IER are the divisor latch then. */
        lcr = inb(COM1 + UART_LCR);
        outb(COM1 + UART_LCR, lcr | LCR_DLAB);
        outb(COM1 + UART_DLL, 0x0c);
        outb(COM1 + UART_DLM, 0x02);
        dll = inb(COM1 + UART_DLL);
        dlm = inb(COM1 + UART_DLM);
        outb(COM1 + UART_DLL, 0x01);
        outb(COM1 + UART_DLM, 0x00);
        outb(COM1 + UART_LCR, lcr & ~LCR_DLAB);
        divisor_ok = dll == 0x0c && dlm == 0x02 && (lcr & LCR_DLAB) == 0;
        if (!divisor_ok) {
                print("serial: divisor read back dll=0x%02x dlm=0x%02x lcr=0x%02x\n", dll, dlm, lcr);
                return "divisor latch";
        }
        print("serial: divisor ok\n");

        n = strlen(prefix);
        serial_write(prefix, n);
        for (size_t i = n; i < PATTERN_LINE_LEN; i++)
                serial_putc((char) ('a' + (i - n) % 26));
        serial_putc('\n');
        return NULL;
}

const char *scenario_cmdline(void)
{
        const char *s = boot_info.cmdline;
        size_t n = boot_info.cmdline_len;
        unsigned arg = 0;

        for (size_t i = 0; i < n;) {
                size_t start;

                while (i < n && s[i] == ' ')
                        i++;
                if (i >= n)
                        break;
                start = i;
                while (i < n && s[i] != ' ')
                        i++;
                print("cmdline: arg[%u]=", arg++);
                serial_write(s + start, i - start);
                serial_putc('\n');
        }
        print("cmdline: length=%zu\n", n);
        if (boot_info.cmdline_truncated)
                return "command line longer than the guest's buffer";
        return NULL;
}

const char *scenario_halt(void)
{
        print("halt: idle\n");
        halt_forever();
}

/* chv's ACPI Generic Event Device: a 32-bit event register that a read clears; bit 0 is the power button. */
#define GED_EVENT_REGISTER 0xfeb00000u
#define GED_EVENT_POWER_BUTTON 0x1u

const char *scenario_power_button(void)
{
        volatile uint32_t *reg = phys(GED_EVENT_REGISTER);

        print("power-button: waiting\n");
        /* Every read is an exit to the VMM, slow enough that this bound is minutes. */
        for (unsigned long i = 0; i < 1000000; i++) {
                uint32_t v = *reg;
                if (v & GED_EVENT_POWER_BUTTON) {
                        print("power-button: pressed, events=0x%x\n", v);
                        if (*reg != 0)
                                return "the event register was not cleared by reading it";
                        return NULL;
                }
                if (v)
                        return "unexpected event bits";
        }
        return "no power-button event";
}

const char *scenario_exception(void)
{
        print("exception: executing ud2 at cpl=%u\n", read_cs() & 3);
        __asm__ volatile("ud2");
        return "ud2 did not raise an exception";
}
