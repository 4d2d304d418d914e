/* SPDX-License-Identifier: Apache-2.0 */
/*
 * /init of the test guest's initramfs.
 *
 * Says hello on the console, reports the CPU count and memory size the guest
 * sees, then powers the machine off (or, with "chv_test_init.reboot" on the
 * kernel command line, reboots it). Linked statically: the initramfs holds
 * no libraries. The integration tests match the "chv-test-init:" lines.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <unistd.h>

#define TAG "chv-test-init: "

static int console_fd = STDOUT_FILENO;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void say(const char *fmt, ...)
{
        char buf[256];
        size_t len = sizeof(TAG) - 1;
        size_t room = sizeof(buf) - len - 1; /* keep one byte for the newline */
        va_list ap;
        int n;

        memcpy(buf, TAG, len);
        va_start(ap, fmt);
        n = vsnprintf(buf + len, room, fmt, ap);
        va_end(ap);
        if (n < 0)
                return;
        len += (size_t) n < room ? (size_t) n : room - 1;
        buf[len++] = '\n';

        const char *p = buf;
        while (len > 0) {
                ssize_t w = write(console_fd, p, len);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        return;
                }
                p += w;
                len -= (size_t) w;
        }
}

static void open_console(void)
{
        int fd = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);

        if (fd < 0) {
                /* No node in the archive: try a devtmpfs of our own. */
                mkdir("/dev", 0755);
                if (mount("devtmpfs", "/dev", "devtmpfs", 0, NULL) == 0)
                        fd = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);
        }
        if (fd >= 0)
                console_fd = fd;
}

static long count_cpus(void)
{
        FILE *f = fopen("/proc/cpuinfo", "re");
        char line[256];
        long n = 0;

        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, "processor", 9) == 0 &&
                    (line[9] == ' ' || line[9] == '\t' || line[9] == ':'))
                        n++;
        fclose(f);
        return n;
}

static long mem_total_kib(void)
{
        FILE *f = fopen("/proc/meminfo", "re");
        char line[256];
        long kib = -1;

        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "MemTotal: %ld kB", &kib) == 1)
                        break;
        fclose(f);
        return kib;
}

/* Whether the kernel command line holds the word @word. */
static bool cmdline_has(const char *word)
{
        char line[4096];
        size_t wlen = strlen(word);
        bool found = false;
        FILE *f = fopen("/proc/cmdline", "re");

        if (!f)
                return false;
        if (fgets(line, sizeof(line), f)) {
                for (char *p = line; (p = strstr(p, word)) != NULL; p += wlen) {
                        bool starts = p == line || p[-1] == ' ';
                        bool ends = p[wlen] == '\0' || p[wlen] == ' ' || p[wlen] == '\n';

                        if (starts && ends) {
                                found = true;
                                break;
                        }
                }
        }
        fclose(f);
        return found;
}

int main(void)
{
        open_console();
        say("hello from /init");

        mkdir("/proc", 0555);
        if (mount("proc", "/proc", "proc", 0, NULL) != 0 && errno != EBUSY)
                say("mounting /proc failed: %s", strerror(errno));
        mkdir("/sys", 0555);
        if (mount("sysfs", "/sys", "sysfs", 0, NULL) != 0 && errno != EBUSY)
                say("mounting /sys failed: %s", strerror(errno));

        say("cpus=%ld mem_kib=%ld", count_cpus(), mem_total_kib());

        if (cmdline_has("chv_test_init.reboot")) {
                /* For VMMs without ACPI power off: with reboot=t this ends in a triple fault. */
                say("rebooting");
                sync();
                reboot(RB_AUTOBOOT);
        } else {
                say("powering off");
                sync();
                reboot(RB_POWER_OFF);
        }

        /* Returning from init makes the kernel panic, which panic=-1 turns into a reset. */
        say("reboot failed: %s", strerror(errno));
        return 1;
}
