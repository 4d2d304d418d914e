/* SPDX-License-Identifier: Apache-2.0 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <fcntl.h>

#include "serial.h"

enum {
        RBR_THR = 0,
        IER = 1,
        IIR_FCR = 2,
        LCR = 3,
        MCR = 4,
        LSR = 5,
        MSR = 6,
        SCR = 7,
};

/* The interrupt line as the interrupt controller sees it. */
typedef struct IrqRecord {
        bool level;
        unsigned raises, lowers;
        uint32_t gsi;
} IrqRecord;

static void irq_record(void *ctx, uint32_t gsi, bool level)
{
        IrqRecord *r = ctx;
        r->gsi = gsi;
        r->level = level;
        if (level)
                r->raises++;
        else
                r->lowers++;
}

static IrqRecord irq;
static Serial *s;
static int pipe_fds[2] = { -EBADF, -EBADF };

static void setup(void)
{
        IrqLine line = { .set = irq_record, .ctx = &irq, .gsi = SERIAL_COM1_IRQ };

        memset(&irq, 0, sizeof irq);
        cr_assert(eq(int, pipe2(pipe_fds, O_NONBLOCK | O_CLOEXEC), 0));
        cr_assert(eq(int, serial_new(pipe_fds[1], &line, &s), 0));
}

static void teardown(void)
{
        s = serial_free(s);
        safe_close(pipe_fds[0]);
        safe_close(pipe_fds[1]);
}

TestSuite(serial, .init = setup, .fini = teardown);

static void out(uint64_t reg, uint8_t v)
{
        serial_io_ops.write(s, reg, &v, 1);
}

static uint8_t in(uint64_t reg)
{
        uint8_t v = 0xaa;
        serial_io_ops.read(s, reg, &v, 1);
        return v;
}

/* What reached the host side so far. */
static size_t host_output(char *buf, size_t size)
{
        ssize_t n = read(pipe_fds[0], buf, size - 1);
        if (n < 0) {
                cr_assert(eq(int, errno, EAGAIN));
                n = 0;
        }
        buf[n] = 0;
        return (size_t) n;
}

Test(serial, thr_output_reaches_the_host)
{
        char buf[64];

        for (const char *c = "Linux version 6.x\r\n"; *c; c++)
                out(RBR_THR, (uint8_t) *c);
        cr_assert(eq(sz, host_output(buf, sizeof buf), 19));
        cr_assert(eq(str, buf, "Linux version 6.x\r\n"));
        /* Binary bytes go through unchanged. */
        out(RBR_THR, 0x00);
        out(RBR_THR, 0xff);
        cr_assert(eq(sz, host_output(buf, sizeof buf), 2));
        cr_assert(eq(u8, (uint8_t) buf[0], 0x00));
        cr_assert(eq(u8, (uint8_t) buf[1], 0xff));
}

Test(serial, lsr_transmitter_always_empty)
{
        cr_assert(eq(u8, in(LSR), 0x60)); /* THRE | TEMT, no data */
        out(RBR_THR, 'x');
        cr_assert(eq(u8, in(LSR), 0x60));
        /* LSR is read-only. */
        out(LSR, 0x00);
        cr_assert(eq(u8, in(LSR), 0x60));
}

Test(serial, scratch_register)
{
        cr_assert(eq(u8, in(SCR), 0));
        out(SCR, 0x5a);
        cr_assert(eq(u8, in(SCR), 0x5a));
        out(SCR, 0xa5);
        cr_assert(eq(u8, in(SCR), 0xa5));
}

Test(serial, divisor_latch)
{
        char buf[8];

        out(LCR, 0x80);
        cr_assert(eq(u8, in(RBR_THR), 0x0c), "9600 baud after reset");
        cr_assert(eq(u8, in(IER), 0x00));
        out(RBR_THR, 0x01); /* 115200 baud */
        out(IER, 0x00);
        cr_assert(eq(u8, in(RBR_THR), 0x01));
        cr_assert(eq(u8, in(IER), 0x00));
        out(IER, 0x12);
        cr_assert(eq(u8, in(IER), 0x12));
        cr_assert(eq(u8, in(LCR), 0x80));
        /* Nothing was transmitted and no interrupt enabled by the divisor writes. */
        cr_assert(eq(sz, host_output(buf, sizeof buf), 0));
        out(LCR, 0x03); /* 8N1, DLAB off */
        cr_assert(eq(u8, in(IER), 0x00));
        cr_assert(eq(uint, irq.raises, 0));
        out(RBR_THR, 'k');
        cr_assert(eq(sz, host_output(buf, sizeof buf), 1));
        cr_assert(eq(str, buf, "k"));
        /* The divisor survives DLAB going off and on. */
        out(LCR, 0x83);
        cr_assert(eq(u8, in(RBR_THR), 0x01));
        cr_assert(eq(u8, in(IER), 0x12));
}

Test(serial, register_masks)
{
        out(IER, 0xff);
        cr_assert(eq(u8, in(IER), 0x0f));
        out(IER, 0);
        out(MCR, 0xff);
        cr_assert(eq(u8, in(MCR), 0x1f));
        out(LCR, 0x1b);
        cr_assert(eq(u8, in(LCR), 0x1b));
}

Test(serial, reset_values)
{
        cr_assert(eq(u8, in(IER), 0));
        cr_assert(eq(u8, in(IIR_FCR), 0x01));
        cr_assert(eq(u8, in(LCR), 0));
        cr_assert(eq(u8, in(MCR), 0x08));
        cr_assert(eq(u8, in(LSR), 0x60));
        cr_assert(eq(u8, in(MSR), 0xb0)); /* DCD, DSR, CTS */
        cr_assert(eq(u8, in(SCR), 0));
        cr_assert(eq(int, irq.level, false));
}

Test(serial, loopback_echoes_thr_to_rbr)
{
        char buf[8];

        out(MCR, 0x10);
        out(RBR_THR, 'A');
        out(RBR_THR, 'B');
        cr_assert(eq(sz, host_output(buf, sizeof buf), 0), "loopback data must not reach the host");
        cr_assert(eq(u8, in(LSR) &0x01, 0x01));
        cr_assert(eq(u8, in(RBR_THR), 'A'));
        cr_assert(eq(u8, in(RBR_THR), 'B'));
        cr_assert(eq(u8, in(LSR) &0x01, 0));
        out(MCR, 0x08);
        out(RBR_THR, 'C');
        cr_assert(eq(sz, host_output(buf, sizeof buf), 1));
        cr_assert(eq(u8, in(LSR) &0x01, 0));
}

Test(serial, loopback_maps_mcr_to_msr)
{
        static const struct {
                uint8_t mcr, msr;
        } table[] = {
                { 0x10, 0x00 }, { 0x11, 0x20 }, /* DTR -> DSR */
                { 0x12, 0x10 },                 /* RTS -> CTS */
                { 0x14, 0x40 },                 /* OUT1 -> RI */
                { 0x18, 0x80 },                 /* OUT2 -> DCD */
                { 0x1a, 0x90 },                 /* what Linux's 8250 probe writes and expects */
                { 0x1f, 0xf0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                out(MCR, table[i].mcr);
                cr_assert(eq(u8, in(MSR) &0xf0, table[i].msr), "MCR 0x%02x", table[i].mcr);
        }
        /* Out of loopback the modem lines are back. */
        out(MCR, 0x00);
        cr_assert(eq(u8, in(MSR), 0xb0));
}

Test(serial, linux_8250_probe_sequence)
{
        /* autoconfig(): scratch test, IER test, loopback test. */
        out(IER, 0);
        cr_assert(eq(u8, in(IER) &0x0f, 0));
        out(IER, 0x0f);
        cr_assert(eq(u8, in(IER) &0x0f, 0x0f));
        out(IER, 0);
        uint8_t save_mcr = in(MCR);
        out(MCR, 0x10 | 0x0a);
        cr_assert(eq(u8, in(MSR) &0xf0, 0x90));
        out(MCR, save_mcr);
        /* FIFO detection: FCR enable shows in IIR's top bits. */
        out(IIR_FCR, 0x01);
        cr_assert(eq(u8, in(IIR_FCR) &0xc0, 0xc0));
        out(IIR_FCR, 0x00);
        cr_assert(eq(u8, in(IIR_FCR) &0xc0, 0x00));
}

Test(serial, thr_empty_interrupt)
{
        cr_assert(eq(u8, in(IIR_FCR), 0x01));
        out(IER, 0x02); /* THRI: raised at once, THR is empty */
        cr_assert(eq(int, irq.level, true));
        cr_assert(eq(uint, irq.raises, 1));
        cr_assert(eq(u32, irq.gsi, SERIAL_COM1_IRQ));
        /* LSR does not acknowledge it. */
        cr_assert(eq(u8, in(LSR), 0x60));
        cr_assert(eq(int, irq.level, true));
        /* Reading IIR reports and acknowledges it. */
        cr_assert(eq(u8, in(IIR_FCR), 0x02));
        cr_assert(eq(int, irq.level, false));
        cr_assert(eq(u8, in(IIR_FCR), 0x01));
        /* Each byte sent is a new THR-empty edge. */
        out(RBR_THR, 'x');
        cr_assert(eq(int, irq.level, true));
        cr_assert(ge(uint, irq.raises, 2));
        cr_assert(eq(u8, in(IIR_FCR), 0x02));
        cr_assert(eq(int, irq.level, false));
        /* Disabling THRI drops the line without acknowledging. */
        out(RBR_THR, 'y');
        cr_assert(eq(int, irq.level, true));
        out(IER, 0x00);
        cr_assert(eq(int, irq.level, false));
        cr_assert(eq(u8, in(IIR_FCR), 0x01));
        /* Enabling it again while THR is empty raises it again. */
        out(IER, 0x02);
        cr_assert(eq(int, irq.level, true));
}

Test(serial, thr_interrupt_with_fifo_enabled)
{
        out(IIR_FCR, 0x07);
        out(IER, 0x02);
        cr_assert(eq(u8, in(IIR_FCR), 0xc2));
        cr_assert(eq(u8, in(IIR_FCR), 0xc1));
        cr_assert(eq(int, irq.level, false));
}

Test(serial, receive_interrupt)
{
        static const uint8_t typed[] = "ab";

        out(IER, 0x01); /* RDI */
        cr_assert(eq(int, irq.level, false));
        cr_assert(eq(sz, serial_queue_input(s, typed, 2), 2));
        cr_assert(eq(int, irq.level, true));
        cr_assert(eq(u8, in(IIR_FCR), 0x04));
        cr_assert(eq(u8, in(LSR), 0x61));
        /* Reading IIR does not acknowledge received data; reading it does. */
        cr_assert(eq(int, irq.level, true));
        cr_assert(eq(u8, in(RBR_THR), 'a'));
        cr_assert(eq(int, irq.level, true));
        cr_assert(eq(u8, in(RBR_THR), 'b'));
        cr_assert(eq(int, irq.level, false));
        cr_assert(eq(u8, in(IIR_FCR), 0x01));
        cr_assert(eq(u8, in(LSR), 0x60));
        /* Empty: reads 0 and stays quiet. */
        cr_assert(eq(u8, in(RBR_THR), 0));
        cr_assert(eq(int, irq.level, false));
}

Test(serial, received_data_without_rdi)
{
        cr_assert(eq(sz, serial_queue_input(s, (const uint8_t *) "z", 1), 1));
        cr_assert(eq(int, irq.level, false));
        cr_assert(eq(u8, in(IIR_FCR), 0x01));
        cr_assert(eq(u8, in(LSR) &0x01, 0x01));
        /* Enabling RDI with data waiting raises the line. */
        out(IER, 0x01);
        cr_assert(eq(int, irq.level, true));
        cr_assert(eq(u8, in(RBR_THR), 'z'));
        cr_assert(eq(int, irq.level, false));
}

Test(serial, rx_has_priority_over_thr)
{
        out(IER, 0x03);
        serial_queue_input(s, (const uint8_t *) "q", 1);
        cr_assert(eq(u8, in(IIR_FCR), 0x04));
        cr_assert(eq(u8, in(IIR_FCR), 0x04),
                  "reading IIR while RX is pending must not lose the THR interrupt");
        cr_assert(eq(u8, in(RBR_THR), 'q'));
        cr_assert(eq(u8, in(IIR_FCR), 0x02));
        cr_assert(eq(u8, in(IIR_FCR), 0x01));
        cr_assert(eq(int, irq.level, false));
}

Test(serial, fifo_full)
{
        uint8_t buf[100];

        for (size_t i = 0; i < sizeof buf; i++)
                buf[i] = (uint8_t) i;
        cr_assert(eq(sz, serial_queue_input(s, buf, sizeof buf), SERIAL_FIFO_SIZE));
        cr_assert(eq(sz, serial_queue_input(s, buf, 1), 0));
        /* Half read, half free again. */
        for (unsigned i = 0; i < 32; i++)
                cr_assert(eq(u8, in(RBR_THR), (uint8_t) i));
        cr_assert(eq(sz, serial_queue_input(s, buf + 64, 36), 32));
        for (unsigned i = 32; i < 96; i++)
                cr_assert(eq(u8, in(RBR_THR), (uint8_t) i), "byte %u (wrapped FIFO)", i);
        cr_assert(eq(u8, in(LSR) &0x01, 0));
        cr_assert(eq(sz, serial_queue_input(s, buf, 0), 0));
}

Test(serial, loopback_overrun_drops_bytes)
{
        out(MCR, 0x10);
        for (unsigned i = 0; i < SERIAL_FIFO_SIZE + 5; i++)
                out(RBR_THR, (uint8_t) i);
        for (unsigned i = 0; i < SERIAL_FIFO_SIZE; i++)
                cr_assert(eq(u8, in(RBR_THR), (uint8_t) i));
        cr_assert(eq(u8, in(LSR) &0x01, 0));
}

Test(serial, fcr_clears_rx)
{
        out(IER, 0x01);
        serial_queue_input(s, (const uint8_t *) "abc", 3);
        cr_assert(eq(int, irq.level, true));
        out(IIR_FCR, 0x03);
        cr_assert(eq(u8, in(LSR) &0x01, 0));
        cr_assert(eq(int, irq.level, false));
        cr_assert(eq(u8, in(IIR_FCR), 0xc1));
}

Test(serial, reset)
{
        out(IER, 0x03);
        out(LCR, 0x9b);
        out(RBR_THR, 0x01);
        out(SCR, 0x77);
        out(MCR, 0x1f);
        out(IIR_FCR, 0x01);
        serial_queue_input(s, (const uint8_t *) "xyz", 3);
        cr_assert(eq(int, irq.level, true));

        serial_reset(s);
        cr_assert(eq(int, irq.level, false));
        cr_assert(ge(uint, irq.lowers, 1));
        cr_assert(eq(u8, in(IER), 0));
        cr_assert(eq(u8, in(LCR), 0));
        cr_assert(eq(u8, in(MCR), 0x08));
        cr_assert(eq(u8, in(SCR), 0));
        cr_assert(eq(u8, in(LSR), 0x60));
        cr_assert(eq(u8, in(IIR_FCR), 0x01));
        cr_assert(eq(u8, in(MSR), 0xb0));
        out(LCR, 0x80);
        cr_assert(eq(u8, in(RBR_THR), 0x0c));
        cr_assert(eq(u8, in(IER), 0x00));
}

Test(serial, wrong_access_sizes_are_ignored)
{
        uint8_t data[4] = { 'x', 'y', 'z', 'w' };
        char buf[8];

        serial_io_ops.write(s, SCR, data, 2);
        cr_assert(eq(u8, in(SCR), 0));
        serial_io_ops.write(s, RBR_THR, data, 4);
        cr_assert(eq(sz, host_output(buf, sizeof buf), 0));
        memset(data, 0xee, sizeof data);
        serial_io_ops.read(s, LSR, data, 2);
        cr_assert(eq(u8, data[0], 0));
        cr_assert(eq(u8, data[1], 0));
}

Test(serial, no_output_fd)
{
        IrqLine line = { 0 };
        Serial *quiet = NULL;
        uint8_t v = 'x';

        cr_assert(eq(int, serial_new(-1, &line, &quiet), 0));
        serial_io_ops.write(quiet, IER, &(uint8_t) { 0x02 }, 1); /* no irq callback: nothing happens */
        serial_io_ops.write(quiet, RBR_THR, &v, 1);
        serial_io_ops.read(quiet, IIR_FCR, &v, 1);
        cr_assert(eq(u8, v, 0x02));
        serial_free(quiet);
        cr_assert(zero(ptr, serial_free(NULL)));
}

Test(serial, output_to_a_full_pipe_does_not_block)
{
        char buf[128];

        /* Fill the (non-blocking) pipe; the UART drops what does not fit instead of hanging the vCPU. */
        cr_assert(ge(int, fcntl(pipe_fds[1], F_SETPIPE_SZ, 4096), 4096));
        for (unsigned i = 0; i < 70000; i++)
                out(RBR_THR, 'F');
        cr_assert(ge(sz, host_output(buf, sizeof buf), 1));
        cr_assert(eq(u8, in(LSR), 0x60));
}
