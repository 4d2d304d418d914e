/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http-client: the measuring side of bench/run-http-bench. One VM's Info, asked COUNT times one after
 * the other (after WARMUP untimed ones), either as Cloud Hypervisor's GET /api/v1/vm.info from
 * chv-httpd on its unix socket (one keep-alive connection) or straight from chvd as VM1.Info over
 * D-Bus (sd-bus, one connection). Prints one JSON object: every latency in ns, and the wall time.
 *
 *   http-client http SOCKET COUNT WARMUP
 *   http-client dbus NAME COUNT WARMUP
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static int die(const char *what, int e)
{
        fprintf(stderr, "http-client: %s: %s\n", what, strerror(abs(e)));
        exit(1);
}

/* One GET vm.info on fd; returns the HTTP status. */
static int http_info(int fd)
{
        static const char req[] = "GET /api/v1/vm.info HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n\r\n";
        static char buf[256 * 1024];
        size_t have = 0, need = 0;
        char *end = NULL;
        int status = 0;

        if (write(fd, req, sizeof req - 1) != (ssize_t) sizeof req - 1)
                die("write", errno);
        for (;;) {
                ssize_t n = read(fd, buf + have, sizeof buf - 1 - have);
                if (n <= 0)
                        die("read", n < 0 ? errno : EPIPE);
                have += (size_t) n;
                buf[have] = 0;
                if (!end && (end = strstr(buf, "\r\n\r\n"))) {
                        const char *cl = strcasestr(buf, "\r\nContent-Length:");
                        status = atoi(buf + 9);
                        need = (size_t) (end + 4 - buf) + (cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0);
                }
                if (end && have >= need)
                        return status;
        }
}

static void print_latencies(const char *mode, uint64_t *lat, unsigned count, uint64_t wall)
{
        printf("{\"mode\": \"%s\", \"wall_ns\": %" PRIu64 ", \"latencies_ns\": [", mode, wall);
        for (unsigned i = 0; i < count; i++)
                printf("%s%" PRIu64, i ? ", " : "", lat[i]);
        printf("]}\n");
}

int main(int argc, char **argv)
{
        unsigned count, warmup;
        uint64_t *lat, t0 = 0;

        if (argc != 5) {
                fprintf(stderr, "usage: http-client http SOCKET COUNT WARMUP | dbus NAME COUNT WARMUP\n");
                return 2;
        }
        count = (unsigned) strtoul(argv[3], NULL, 10);
        warmup = (unsigned) strtoul(argv[4], NULL, 10);
        lat = calloc(count ? count : 1, sizeof *lat);
        if (!lat)
                die("calloc", ENOMEM);

        if (strcmp(argv[1], "http") == 0) {
                struct sockaddr_un sa = { .sun_family = AF_UNIX };
                int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

                if (fd < 0 || strlen(argv[2]) >= sizeof sa.sun_path)
                        die("socket", fd < 0 ? errno : ENAMETOOLONG);
                memcpy(sa.sun_path, argv[2], strlen(argv[2]));
                if (connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0)
                        die("connect", errno);
                for (unsigned i = 0; i < warmup; i++)
                        if (http_info(fd) != 200)
                                die("vm.info did not answer 200", EPROTO);
                t0 = now_ns();
                for (unsigned i = 0; i < count; i++) {
                        uint64_t t = now_ns();
                        if (http_info(fd) != 200)
                                die("vm.info did not answer 200", EPROTO);
                        lat[i] = now_ns() - t;
                }
                print_latencies("http", lat, count, now_ns() - t0);
                close(fd);
        } else if (strcmp(argv[1], "dbus") == 0) {
                sd_bus *bus = NULL;
                char *path = NULL;
                int r;

                r = sd_bus_open_system(&bus);
                if (r < 0)
                        die("sd_bus_open_system", r);
                r = sd_bus_path_encode("/org/cloudhypervisor/vm", argv[2], &path);
                if (r < 0)
                        die("sd_bus_path_encode", r);
                for (unsigned i = 0; i < warmup + count; i++) {
                        sd_bus_error e = SD_BUS_ERROR_NULL;
                        sd_bus_message *reply = NULL;
                        const char *info;
                        uint64_t t = now_ns();

                        if (i == warmup)
                                t0 = t;
                        r = sd_bus_call_method(bus, "org.cloudhypervisor", path, "org.cloudhypervisor.VM1", "Info", &e,
                                               &reply, "");
                        if (r < 0 || sd_bus_message_read(reply, "s", &info) < 0)
                                die(e.message ?: "Info", r);
                        if (i >= warmup)
                                lat[i - warmup] = now_ns() - t;
                        sd_bus_message_unref(reply);
                        sd_bus_error_free(&e);
                }
                print_latencies("dbus", lat, count, now_ns() - t0);
                free(path);
                sd_bus_unref(bus);
        } else {
                fprintf(stderr, "http-client: unknown mode \"%s\"\n", argv[1]);
                return 2;
        }
        free(lat);
        return 0;
}
