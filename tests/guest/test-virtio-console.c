/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Scenario virtio-console: a line written to port 0 must appear on the VMM's console output; with
 * console-input=TEXT, input starting with TEXT must arrive from the host, and is written back.
 */
#include "devices.h"

#define CONSOLE_RX       0
#define CONSOLE_TX       1
#define RX_BUFFERS       4
#define RX_BUFFER_BYTES  128
#define INPUT_SECONDS    60
#define CONSOLE_GREETING "chv-test-guest: hello through virtio-console\n"

static struct virtio_dev con;

static const char *console_write(const char *text, size_t len)
{
        uint8_t *buf = dma_alloc(len, 16);
        struct virtq_buf b = {buf, (uint32_t) len, false};

        if (!buf)
                return "the DMA arena is exhausted";
        memcpy(buf, text, len);
        return virtq_request(&con.vqs[CONSOLE_TX], &b, 1, NULL);
}

/* Collects input until a newline, the buffer is full or the time is up. */
static const char *console_read(char *line, size_t max, size_t *ret_len)
{
        struct virtq *rx = &con.vqs[CONSOLE_RX];
        size_t n = 0;
        struct deadline d;

        deadline_start(&d, INPUT_SECONDS);
        while (n < max && (n == 0 || line[n - 1] != '\n')) {
                uint16_t head;
                uint32_t len;
                struct virtq_buf b;

                if (!virtq_get(rx, &head, &len)) {
                        if (deadline_passed(&d))
                                break;
                        cpu_relax();
                        continue;
                }
                if (len > RX_BUFFER_BYTES)
                        return "the device wrote more than the receive buffer holds";
                b = (struct virtq_buf){(void *) (uintptr_t) rx->desc[head].addr, RX_BUFFER_BYTES, true};
                for (uint32_t i = 0; i < len && n < max; i++)
                        line[n++] = ((const char *) b.addr)[i];
                /* The buffer goes back for more input. */
                if (virtq_add(rx, &b, 1) < 0)
                        return "no descriptor to give a receive buffer back";
                virtq_kick(rx);
        }
        *ret_len = n;
        return NULL;
}

const char *scenario_virtio_console(void)
{
        static const char echo[] = "chv-test-guest: received ";
        const char *expected, *r;
        char line[RX_BUFFER_BYTES];
        size_t expected_len, n;

        dma_reset();
        r = virtio_attach(&con, VIRTIO_ID_CONSOLE, 0);
        if (r)
                return r;
        r = virtio_start(&con, 0, 2);
        if (r)
                return r;
        print("virtio-console: ");
        pci_print_fn(con.pci);
        print(" features=0x%lx queues=%u\n", con.features, con.num_queues);

        /* Receive buffers first, so that no input has to wait for them. */
        for (unsigned i = 0; i < RX_BUFFERS; i++) {
                struct virtq_buf b = {dma_alloc(RX_BUFFER_BYTES, 16), RX_BUFFER_BYTES, true};

                if (!b.addr)
                        return "the DMA arena is exhausted";
                if (virtq_add(&con.vqs[CONSOLE_RX], &b, 1) < 0)
                        return "no descriptor for a receive buffer";
        }
        virtq_kick(&con.vqs[CONSOLE_RX]);

        r = console_write(CONSOLE_GREETING, strlen(CONSOLE_GREETING));
        if (r)
                return r;
        print("virtio-console: sent %zu bytes\n", strlen(CONSOLE_GREETING));

        if (!cmdline_value("console-input", &expected, &expected_len))
                return virtio_reset(&con);
        print("virtio-console: waiting for input\n");
        r = console_read(line, sizeof(line), &n);
        if (r)
                return r;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
                n--;
        print("virtio-console: received \"");
        print_chars(line, n);
        print("\"\n");
        if (n < expected_len || memcmp(line, expected, expected_len) != 0)
                return "the console input is not what console-input= says";

        if ((r = console_write(echo, strlen(echo))) || (r = console_write(line, n)) ||
            (r = console_write("\n", 1)))
                return r;
        print("virtio-console: echoed the input\n");
        return virtio_reset(&con);
}
