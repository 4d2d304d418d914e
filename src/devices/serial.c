/* SPDX-License-Identifier: Apache-2.0 */
#include <pthread.h>

#include "serial.h"

enum {
        UART_RBR_THR = 0,
        UART_IER = 1,
        UART_IIR_FCR = 2,
        UART_LCR = 3,
        UART_MCR = 4,
        UART_LSR = 5,
        UART_MSR = 6,
        UART_SCR = 7,
};

#define IER_RDI 0x01
#define IER_THRI 0x02
#define IER_MASK 0x0f
#define IIR_NO_INT 0x01
#define IIR_THRI 0x02
#define IIR_RDI 0x04
#define IIR_FIFO_ENABLED 0xc0
#define FCR_FIFO_ENABLE 0x01
#define FCR_CLEAR_RX 0x02
#define LCR_DLAB 0x80
#define MCR_LOOP 0x10
#define MCR_MASK 0x1f
#define LSR_DR 0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_DCD 0x80
#define MSR_DELTA_MASK 0x0f

struct Serial {
        pthread_mutex_t lock;
        int out_fd;
        IrqLine irq;
        bool irq_level;

        uint8_t ier, lcr, mcr, msr, scr, fcr;
        uint8_t dll, dlm;
        bool thr_interrupt; /* THR empty, not yet acknowledged by reading IIR or writing THR */

        uint8_t rx[SERIAL_FIFO_SIZE];
        unsigned rx_head, rx_count;
};

void serial_reset(Serial *s)
{
        pthread_mutex_lock(&s->lock);
        s->ier = s->lcr = s->scr = s->fcr = 0;
        s->mcr = 0x08; /* OUT2 */
        s->msr = MSR_DCD | MSR_DSR | MSR_CTS;
        s->dll = 0x0c; /* 9600 baud */
        s->dlm = 0;
        s->thr_interrupt = false;
        s->rx_head = s->rx_count = 0;
        if (s->irq_level) {
                s->irq_level = false;
                irq_line_set(&s->irq, false);
        }
        pthread_mutex_unlock(&s->lock);
}

int serial_new(int out_fd, const IrqLine *irq, Serial **ret)
{
        Serial *s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        pthread_mutex_init(&s->lock, NULL);
        s->out_fd = out_fd;
        s->irq = *irq;
        serial_reset(s);
        *ret = s;
        return 0;
}

Serial *serial_free(Serial *s)
{
        if (!s)
                return NULL;
        pthread_mutex_destroy(&s->lock);
        free(s);
        return NULL;
}

static uint8_t serial_iir(const Serial *s)
{
        uint8_t fifo = (s->fcr & FCR_FIFO_ENABLE) ? IIR_FIFO_ENABLED : 0;
        if ((s->ier & IER_RDI) && s->rx_count)
                return fifo | IIR_RDI;
        if ((s->ier & IER_THRI) && s->thr_interrupt)
                return fifo | IIR_THRI;
        return fifo | IIR_NO_INT;
}

/* Called with the lock held after every state change: the line follows "an interrupt is pending". */
static void serial_update_irq(Serial *s)
{
        bool level = !(serial_iir(s) & IIR_NO_INT);
        if (level != s->irq_level) {
                s->irq_level = level;
                irq_line_set(&s->irq, level);
        }
}

static void serial_rx_push(Serial *s, uint8_t c)
{
        if (s->rx_count == SERIAL_FIFO_SIZE)
                return; /* overrun: the byte is lost, as on hardware */
        s->rx[(s->rx_head + s->rx_count) % SERIAL_FIFO_SIZE] = c;
        s->rx_count++;
}

static uint8_t serial_rx_pop(Serial *s)
{
        uint8_t c;
        if (s->rx_count == 0)
                return 0;
        c = s->rx[s->rx_head];
        s->rx_head = (s->rx_head + 1) % SERIAL_FIFO_SIZE;
        s->rx_count--;
        return c;
}

static void serial_transmit(Serial *s, uint8_t c)
{
        if (s->mcr & MCR_LOOP) {
                serial_rx_push(s, c);
                return;
        }
        if (s->out_fd < 0)
                return;
        for (;;) {
                ssize_t n = write(s->out_fd, &c, 1);
                if (n == 1 || (n < 0 && errno != EINTR))
                        break; /* a console that went away must not stop the guest */
        }
}

static void serial_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
        Serial *s = opaque;
        uint8_t v = data[0];

        if (len != 1)
                return;
        pthread_mutex_lock(&s->lock);
        switch (offset) {
        case UART_RBR_THR:
                if (s->lcr & LCR_DLAB)
                        s->dll = v;
                else {
                        s->thr_interrupt = false;
                        serial_update_irq(s);
                        serial_transmit(s, v);
                        /* Sent at once: THR is empty again, which is a new interrupt edge. */
                        s->thr_interrupt = true;
                }
                break;
        case UART_IER:
                if (s->lcr & LCR_DLAB)
                        s->dlm = v;
                else {
                        /* Enabling the THR interrupt while THR is empty raises it right away. */
                        if (!(s->ier & IER_THRI) && (v & IER_THRI))
                                s->thr_interrupt = true;
                        s->ier = v & IER_MASK;
                }
                break;
        case UART_IIR_FCR:
                s->fcr = v & 0xc9;
                if (v & FCR_CLEAR_RX)
                        s->rx_head = s->rx_count = 0;
                break;
        case UART_LCR:
                s->lcr = v;
                break;
        case UART_MCR:
                s->mcr = v & MCR_MASK;
                break;
        case UART_SCR:
                s->scr = v;
                break;
        default: /* LSR and MSR are read-only */
                break;
        }
        serial_update_irq(s);
        pthread_mutex_unlock(&s->lock);
}

static void serial_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len)
{
        Serial *s = opaque;
        uint8_t v = 0;

        memset(data, 0, len);
        if (len != 1)
                return;
        pthread_mutex_lock(&s->lock);
        switch (offset) {
        case UART_RBR_THR:
                v = (s->lcr & LCR_DLAB) ? s->dll : serial_rx_pop(s);
                break;
        case UART_IER:
                v = (s->lcr & LCR_DLAB) ? s->dlm : s->ier;
                break;
        case UART_IIR_FCR:
                v = serial_iir(s);
                /* Reading IIR acknowledges a THR-empty interrupt. */
                if ((v & 0x0f) == IIR_THRI)
                        s->thr_interrupt = false;
                break;
        case UART_LCR:
                v = s->lcr;
                break;
        case UART_MCR:
                v = s->mcr;
                break;
        case UART_LSR:
                v = LSR_THRE | LSR_TEMT | (s->rx_count ? LSR_DR : 0);
                break;
        case UART_MSR:
                if (s->mcr & MCR_LOOP) {
                        /* Loopback: the modem outputs come back as inputs (DTR->DSR, RTS->CTS, OUT1->RI,
                         * OUT2->DCD). Linux's probe checks exactly this. */
                        v = (uint8_t) (((s->mcr & 0x01) << 5) | ((s->mcr & 0x02) << 3) | ((s->mcr & 0x04) << 4) |
                                       ((s->mcr & 0x08) << 4));
                } else
                        v = s->msr;
                s->msr &= (uint8_t) ~MSR_DELTA_MASK;
                break;
        case UART_SCR:
                v = s->scr;
                break;
        default:
                break;
        }
        serial_update_irq(s);
        pthread_mutex_unlock(&s->lock);
        data[0] = v;
}

const IoOps serial_io_ops = {
        .read = serial_read,
        .write = serial_write,
};

size_t serial_queue_input(Serial *s, const uint8_t *buf, size_t len)
{
        size_t n;
        pthread_mutex_lock(&s->lock);
        n = MIN(len, (size_t) (SERIAL_FIFO_SIZE - s->rx_count));
        for (size_t i = 0; i < n; i++)
                serial_rx_push(s, buf[i]);
        serial_update_irq(s);
        pthread_mutex_unlock(&s->lock);
        return n;
}
