/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "device.h"
#include "iobus.h"

/* A 16550A UART. Output goes to a file descriptor (or nowhere), input is queued by the host side. */

#define SERIAL_COM1_BASE 0x3f8
#define SERIAL_COM1_IRQ 4
#define SERIAL_FIFO_SIZE 64

typedef struct Serial Serial;

int serial_new(int out_fd, const IrqLine *irq, Serial **ret);
Serial *serial_free(Serial *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(Serial *, serial_free);
extern const IoOps serial_io_ops;

/* Queues bytes typed by the host for the guest to read. Returns how many fitted in the FIFO. */
size_t serial_queue_input(Serial *s, const uint8_t *buf, size_t len);
void serial_reset(Serial *s);
