/* SPDX-License-Identifier: Apache-2.0 */
/*
 * /init of the test guest (the initramfs's /init, or /sbin/init on a root image).
 *
 * Says hello on the console, reports the CPU count and memory size the guest
 * sees, then powers the machine off (or, with "chv_test_init.reboot" on the
 * kernel command line, reboots it). Linked statically: the guest holds no
 * libraries. The integration tests match the "chv-test-init:" lines.
 *
 * "chv_test_init.test=LIST" (comma-separated) adds checks of the devices the
 * kernel found, run in this order before powering off:
 *
 *   virtio        every virtio device has a driver bound
 *   root          the root file system's device and type; a file written and synced
 *   rng           the current hardware rng, and bytes read from /dev/hwrng
 *   console       a line written to /dev/hvc0
 *   net           the network interfaces, the MAC and IPv4 address of eth0
 *   power-button  wait for KEY_POWER on an input device (the ACPI power button)
 *   devices       virtio, root, rng, console and net
 *
 * Each check says what it found or what was wrong; "result=PASS" or
 * "result=FAIL ..." follows.
 */

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/input.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <time.h>

#include "src/shared/macro.h"

#define TAG "chv-test-init: "
#define CMDLINE_TEST_KEY "chv_test_init.test="

/* The file the root check writes. */
#define ROOT_FILE "/chv-test-init.txt"
#define HWRNG_BYTES 16
#define HWRNG_TIMEOUT_MS (60 * 1000)
#define POWER_BUTTON_TIMEOUT_MS (600 * 1000)
#define MAX_INPUT_DEVICES 16

static int console_fd = STDOUT_FILENO;
static char cmdline[4096];
/* Set once the root check wrote to the root file system: it is remounted read-only before power off. */
static bool root_written;

static int write_all(int fd, const void *data, size_t len)
{
        const char *p = data;

        while (len > 0) {
                ssize_t w = write(fd, p, len);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += w;
                len -= (size_t) w;
        }
        return 0;
}

static void say(const char *fmt, ...) _printf_(1, 2);

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
        (void) write_all(console_fd, buf, len);
}

/* Says @fmt, ": " and the description of the errno @err (of either sign). Returns -|err|. */
static int say_errno(int err, const char *fmt, ...) _printf_(2, 3);

static int say_errno(int err, const char *fmt, ...)
{
        char msg[192];
        va_list ap;

        err = abs(err);
        va_start(ap, fmt);
        (void) vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        say("%s: %s", msg, strerror(err));
        return -err;
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

/* The device checks need the kernel's device nodes; an initramfs boot does not mount devtmpfs itself. */
static void mount_devtmpfs(void)
{
        struct stat root, dev;

        if (stat("/", &root) < 0 || stat("/dev", &dev) < 0 || root.st_dev != dev.st_dev)
                return;
        if (mount("devtmpfs", "/dev", "devtmpfs", 0, NULL) < 0)
                (void) say_errno(errno, "mounting devtmpfs on /dev failed");
}

static long count_cpus(void)
{
        _cleanup_fclose_ FILE *f = fopen("/proc/cpuinfo", "re");
        char line[256];
        long n = 0;

        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, "processor", 9) == 0 &&
                    (line[9] == ' ' || line[9] == '\t' || line[9] == ':'))
                        n++;
        return n;
}

static long mem_total_kib(void)
{
        _cleanup_fclose_ FILE *f = fopen("/proc/meminfo", "re");
        char line[256];
        long kib = -1;

        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "MemTotal: %ld kB", &kib) == 1)
                        break;
        return kib;
}

static void read_cmdline(void)
{
        _cleanup_fclose_ FILE *f = fopen("/proc/cmdline", "re");

        if (!f || !fgets(cmdline, sizeof(cmdline), f))
                cmdline[0] = '\0';
        cmdline[strcspn(cmdline, "\n")] = '\0';
}

/*
 * The word of the kernel command line that starts with @prefix (a whole word when @prefix is one),
 * or NULL. The result points into the command line and ends at a blank or the end.
 */
static const char *cmdline_find(const char *prefix)
{
        size_t plen = strlen(prefix);

        for (const char *p = cmdline; (p = strstr(p, prefix)) != NULL; p += plen) {
                bool starts = p == cmdline || p[-1] == ' ';
                bool ends = prefix[plen - 1] == '=' || p[plen] == '\0' || p[plen] == ' ';

                if (starts && ends)
                        return p;
        }
        return NULL;
}

/* Reads the first line of @path into @buf without its newline. Returns 0 or a negative errno. */
static int read_line(const char *path, char *buf, size_t size)
{
        _cleanup_fclose_ FILE *f = fopen(path, "re");

        if (!f)
                return -errno;
        if (!fgets(buf, (int) size, f))
                return ferror(f) ? -EIO : -ENODATA;
        buf[strcspn(buf, "\n")] = '\0';
        return 0;
}

static int filter_visible(const struct dirent *de)
{
        return de->d_name[0] != '.';
}

static int filter_event_device(const struct dirent *de)
{
        return startswith(de->d_name, "event") != NULL;
}

static void free_dirents(struct dirent **list, int n)
{
        for (int i = 0; i < n; i++)
                free(list[i]);
        free(list);
}

static long now_ms(void)
{
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int check_virtio(void)
{
        struct dirent **devices;
        int n, r = 0;

        n = scandir("/sys/bus/virtio/devices", &devices, filter_visible, alphasort);
        if (n < 0)
                return say_errno(errno, "virtio: cannot list /sys/bus/virtio/devices");
        if (n == 0) {
                say("virtio: no virtio devices");
                r = -ENODEV;
        }
        for (int i = 0; i < n; i++) {
                const char *name = devices[i]->d_name;
                char path[PATH_MAX], id[32], driver[PATH_MAX];
                ssize_t len;

                snprintf(path, sizeof(path), "/sys/bus/virtio/devices/%s/device", name);
                if (read_line(path, id, sizeof(id)) < 0)
                        strcpy(id, "?");
                snprintf(path, sizeof(path), "/sys/bus/virtio/devices/%s/driver", name);
                len = readlink(path, driver, sizeof(driver) - 1);
                if (len < 0) {
                        say("virtio: no driver bound to %s (device id %s)", name, id);
                        r = -ENODEV;
                        continue;
                }
                driver[len] = '\0';
                say("virtio: %s bound to %s (device id %s)",
                    strrchr(driver, '/') ? strrchr(driver, '/') + 1 : driver, name, id);
        }
        free_dirents(devices, n);
        return r;
}

/* The name of the block device @dev ("vda"), from its uevent in sysfs. */
static int block_device_name(dev_t dev, char *buf, size_t size)
{
        char path[64], line[256];
        _cleanup_fclose_ FILE *f = NULL;

        snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/uevent", major(dev), minor(dev));
        f = fopen(path, "re");
        if (!f)
                return -errno;
        while (fgets(line, sizeof(line), f)) {
                const char *v = startswith(line, "DEVNAME=");

                if (v) {
                        snprintf(buf, size, "%.*s", (int) strcspn(v, "\n"), v);
                        return 0;
                }
        }
        return -ENOENT;
}

static int check_root(void)
{
        _cleanup_fclose_ FILE *f = fopen("/proc/mounts", "re");
        _cleanup_close_ int fd = -EBADF;
        char line[1024], source[256] = "", fstype[64] = "", options[512] = "", device[64], content[128];
        double uptime = 0;
        struct stat st;
        int r;

        if (!f)
                return say_errno(errno, "root: cannot open /proc/mounts");
        /* The last entry for "/" is the one in effect. */
        while (fgets(line, sizeof(line), f)) {
                char s[256], m[256], t[64], o[512];

                if (sscanf(line, "%255s %255s %63s %511s", s, m, t, o) == 4 && streq(m, "/")) {
                        strcpy(source, s);
                        strcpy(fstype, t);
                        strcpy(options, o);
                }
        }
        if (!fstype[0]) {
                say("root: /proc/mounts has no entry for /");
                return -ENOENT;
        }
        if (stat("/", &st) < 0)
                return say_errno(errno, "root: cannot stat /");
        r = block_device_name(st.st_dev, device, sizeof(device));
        if (r < 0)
                return say_errno(r, "root: / (%s, device %u:%u) is on no block device",
                                 fstype, major(st.st_dev), minor(st.st_dev));
        say("root: device=/dev/%s fstype=%s mode=%.2s source=%s", device, fstype, options, source);

        /* What goes into the file ties it to this boot: the test compares it with this line. */
        {
                _cleanup_fclose_ FILE *u = fopen("/proc/uptime", "re");

                if (!u || fscanf(u, "%lf", &uptime) != 1)
                        uptime = -1;
        }
        snprintf(content, sizeof(content), "chv-test-init wrote this at uptime %.2f\n", uptime);
        fd = open(ROOT_FILE, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return say_errno(errno, "root: cannot create %s", ROOT_FILE);
        root_written = true;
        r = write_all(fd, content, strlen(content));
        if (r < 0)
                return say_errno(r, "root: cannot write %s", ROOT_FILE);
        if (fsync(fd) < 0)
                return say_errno(errno, "root: fsync of %s failed", ROOT_FILE);
        sync();
        say("root: wrote \"%.*s\" to %s and synced", (int) strlen(content) - 1, content, ROOT_FILE);
        return 0;
}

static int check_rng(void)
{
        _cleanup_close_ int fd = -EBADF;
        uint8_t bytes[HWRNG_BYTES];
        char current[64], hex[2 * HWRNG_BYTES + 1];
        size_t got = 0;
        long deadline;
        bool zero = true;
        int r;

        r = read_line("/sys/class/misc/hw_random/rng_current", current, sizeof(current));
        if (r < 0)
                return say_errno(r, "rng: cannot read /sys/class/misc/hw_random/rng_current");
        say("rng: current=%s", current);
        if (!startswith(current, "virtio_rng")) {
                say("rng: the current rng is not virtio_rng");
                return -ENODEV;
        }

        /* Non-blocking: a device that never answers must not hang the boot (the blocking read only
         * gives way to fatal signals). */
        fd = open("/dev/hwrng", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
                return say_errno(errno, "rng: cannot open /dev/hwrng");
        deadline = now_ms() + HWRNG_TIMEOUT_MS;
        while (got < sizeof(bytes)) {
                ssize_t n = read(fd, bytes + got, sizeof(bytes) - got);

                if (n > 0) {
                        got += (size_t) n;
                        continue;
                }
                if (n == 0 || (errno != EAGAIN && errno != EINTR))
                        return say_errno(n == 0 ? EIO : errno,
                                         "rng: reading /dev/hwrng failed after %zu bytes", got);
                if (now_ms() > deadline) {
                        say("rng: /dev/hwrng gave %zu of %d bytes in %d s", got, HWRNG_BYTES,
                            HWRNG_TIMEOUT_MS / 1000);
                        return -ETIMEDOUT;
                }
                (void) poll(NULL, 0, 10);
        }
        for (size_t i = 0; i < sizeof(bytes); i++) {
                snprintf(hex + 2 * i, 3, "%02x", bytes[i]);
                zero = zero && bytes[i] == 0;
        }
        say("rng: read %d bytes from /dev/hwrng: %s", HWRNG_BYTES, hex);
        if (zero) {
                say("rng: the bytes from /dev/hwrng are all zero");
                return -EIO;
        }
        return 0;
}

static int check_console(void)
{
        static const char line[] = TAG "hello on /dev/hvc0\n";
        _cleanup_close_ int fd = -EBADF;
        int r;

        fd = open("/dev/hvc0", O_WRONLY | O_NOCTTY | O_CLOEXEC);
        if (fd < 0)
                return say_errno(errno, "console: cannot open /dev/hvc0");
        r = write_all(fd, line, sizeof(line) - 1);
        if (r < 0)
                return say_errno(r, "console: writing to /dev/hvc0 failed");
        if (tcdrain(fd) < 0)
                return say_errno(errno, "console: waiting for /dev/hvc0 to send failed");
        say("console: wrote %zu bytes to /dev/hvc0", sizeof(line) - 1);
        return 0;
}

/* Runs the interface ioctl @request on "eth0" into @ifr. */
static int eth0_ioctl(int sock, unsigned long request, struct ifreq *ifr)
{
        *ifr = (struct ifreq) { .ifr_name = "eth0" };
        return ioctl(sock, request, ifr) < 0 ? -errno : 0;
}

static int check_net(void)
{
        _cleanup_close_ int sock = -EBADF;
        struct dirent **ifaces;
        char names[256] = "", mac[18], addr[INET_ADDRSTRLEN];
        const uint8_t *hw;
        struct ifreq ifr;
        struct in_addr mask;
        int n, r;

        n = scandir("/sys/class/net", &ifaces, filter_visible, alphasort);
        if (n < 0)
                return say_errno(errno, "net: cannot list /sys/class/net");
        for (int i = 0; i < n; i++) {
                size_t used = strlen(names);

                const char *sep = i > 0 ? "," : "";

                /* A list too long for the line ends early; the test then fails on what is missing. */
                if (snprintf(names + used, sizeof(names) - used, "%s%s", sep, ifaces[i]->d_name) < 0)
                        break;
        }
        free_dirents(ifaces, n);
        say("net: interfaces=%s", names);

        sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (sock < 0)
                return say_errno(errno, "net: cannot open an IPv4 socket");
        r = eth0_ioctl(sock, SIOCGIFHWADDR, &ifr);
        if (r < 0)
                return say_errno(r, "net: cannot read the MAC address of eth0");
        hw = (const uint8_t *) ifr.ifr_hwaddr.sa_data;
        snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", hw[0], hw[1], hw[2], hw[3], hw[4],
                 hw[5]);

        r = eth0_ioctl(sock, SIOCGIFADDR, &ifr);
        if (r < 0)
                return say_errno(r, "net: eth0 mac=%s has no IPv4 address", mac);
        inet_ntop(AF_INET, &((const struct sockaddr_in *) &ifr.ifr_addr)->sin_addr, addr, sizeof(addr));

        r = eth0_ioctl(sock, SIOCGIFNETMASK, &ifr);
        if (r < 0)
                return say_errno(r, "net: cannot read the netmask of eth0");
        mask = ((const struct sockaddr_in *) &ifr.ifr_netmask)->sin_addr;
        say("net: eth0 mac=%s inet=%s/%d", mac, addr, __builtin_popcount(mask.s_addr));
        return 0;
}

/* Whether the input device @fd can send KEY_POWER. */
static bool has_power_key(int fd)
{
        uint8_t keys[KEY_MAX / 8 + 1] = {};

        if (ioctl(fd, EVIOCGBIT(EV_KEY, sizeof(keys)), keys) < 0)
                return false;
        return keys[KEY_POWER / 8] & (1u << (KEY_POWER % 8));
}

static int check_power_button(void)
{
        struct pollfd fds[MAX_INPUT_DEVICES];
        char paths[MAX_INPUT_DEVICES][sizeof("/dev/input/") + NAME_MAX];
        struct dirent **events;
        size_t nfds = 0;
        long deadline;
        int n, r = -ETIMEDOUT;

        n = scandir("/dev/input", &events, filter_event_device, alphasort);
        if (n < 0)
                return say_errno(errno, "power-button: cannot list /dev/input");
        for (int i = 0; i < n && nfds < ELEMENTSOF(fds); i++) {
                char name[128] = "?";
                int fd;

                snprintf(paths[nfds], sizeof(paths[nfds]), "/dev/input/%s", events[i]->d_name);
                fd = open(paths[nfds], O_RDONLY | O_NONBLOCK | O_CLOEXEC);
                if (fd < 0) {
                        (void) say_errno(errno, "power-button: cannot open %s", paths[nfds]);
                        continue;
                }
                (void) ioctl(fd, EVIOCGNAME(sizeof(name) - 1), name);
                if (!has_power_key(fd)) {
                        close(fd);
                        continue;
                }
                say("power-button: %s is \"%s\"", paths[nfds], name);
                fds[nfds++] = (struct pollfd) { .fd = fd, .events = POLLIN };
        }
        free_dirents(events, n);
        if (nfds == 0) {
                say("power-button: no input device sends KEY_POWER");
                return -ENODEV;
        }

        say("power-button: waiting for KEY_POWER");
        deadline = now_ms() + POWER_BUTTON_TIMEOUT_MS;
        while (r == -ETIMEDOUT) {
                long left = deadline - now_ms();

                if (left <= 0) {
                        say("power-button: no KEY_POWER in %d s", POWER_BUTTON_TIMEOUT_MS / 1000);
                        break;
                }
                if (poll(fds, nfds, (int) left) < 0) {
                        if (errno == EINTR)
                                continue;
                        r = say_errno(errno, "power-button: poll failed");
                        break;
                }
                for (size_t i = 0; i < nfds && r == -ETIMEDOUT; i++) {
                        struct input_event ev;

                        if (!(fds[i].revents & POLLIN))
                                continue;
                        while (read(fds[i].fd, &ev, sizeof(ev)) == (ssize_t) sizeof(ev))
                                if (ev.type == EV_KEY && ev.code == KEY_POWER && ev.value == 1) {
                                        say("power-button: KEY_POWER pressed on %s", paths[i]);
                                        r = 0;
                                        break;
                                }
                }
        }
        for (size_t i = 0; i < nfds; i++)
                close(fds[i].fd);
        return r;
}

typedef struct Check {
        const char *name;
        int (*run)(void);
        bool device; /* run by "devices" */
} Check;

/* In the order they run. */
static const Check checks[] = {
        { "virtio", check_virtio, true },
        { "root", check_root, true },
        { "rng", check_rng, true },
        { "console", check_console, true },
        { "net", check_net, true },
        { "power-button", check_power_button, false },
};

static bool word_is(const char *word, size_t len, const char *name)
{
        return strlen(name) == len && strncmp(word, name, len) == 0;
}

/* Whether the comma-separated @list (@len bytes) names @name. */
static bool list_has(const char *list, size_t len, const char *name)
{
        for (const char *p = list, *end = list + len; p < end;) {
                size_t wlen = MIN(strcspn(p, ","), (size_t) (end - p));

                if (word_is(p, wlen, name))
                        return true;
                p += wlen + 1;
        }
        return false;
}

static bool check_known(const char *word, size_t len)
{
        if (word_is(word, len, "devices"))
                return true;
        for (size_t i = 0; i < ELEMENTSOF(checks); i++)
                if (word_is(word, len, checks[i].name))
                        return true;
        return false;
}

/*
 * Runs the checks the comma-separated @list (@len bytes) names and says the result. Returns 0 when all
 * passed, -EINVAL when @list names no check, else the first failure.
 */
static int run_checks(const char *list, size_t len)
{
        bool devices = list_has(list, len, "devices");
        char failed[256] = "";
        int r = 0;

        /* A misspelt or empty name must not pass by running nothing. */
        if (len == 0) {
                say(CMDLINE_TEST_KEY " names no check");
                say("result=FAIL");
                return -EINVAL;
        }
        for (const char *p = list, *end = list + len; p < end;) {
                size_t wlen = MIN(strcspn(p, ","), (size_t) (end - p));

                if (!check_known(p, wlen)) {
                        say("unknown check \"%.*s\" in " CMDLINE_TEST_KEY "%.*s", (int) wlen, p,
                            (int) len, list);
                        say("result=FAIL");
                        return -EINVAL;
                }
                p += wlen + 1;
        }

        for (size_t i = 0; i < ELEMENTSOF(checks); i++) {
                int k;

                if (!(devices && checks[i].device) && !list_has(list, len, checks[i].name))
                        continue;
                k = checks[i].run();
                if (k < 0) {
                        size_t used = strlen(failed);

                        snprintf(failed + used, sizeof(failed) - used, " %s", checks[i].name);
                        if (r == 0)
                                r = k;
                }
        }
        if (r < 0)
                say("result=FAIL:%s", failed);
        else
                say("result=PASS");
        return r;
}

int main(void)
{
        const char *list;

        open_console();
        say("hello from /init");

        mkdir("/proc", 0555);
        if (mount("proc", "/proc", "proc", 0, NULL) != 0 && errno != EBUSY)
                (void) say_errno(errno, "mounting /proc failed");
        mkdir("/sys", 0555);
        if (mount("sysfs", "/sys", "sysfs", 0, NULL) != 0 && errno != EBUSY)
                (void) say_errno(errno, "mounting /sys failed");

        say("cpus=%ld mem_kib=%ld", count_cpus(), mem_total_kib());
        read_cmdline();

        list = cmdline_find(CMDLINE_TEST_KEY);
        if (list) {
                list += strlen(CMDLINE_TEST_KEY);
                mount_devtmpfs();
                (void) run_checks(list, strcspn(list, " "));
        }

        if (root_written) {
                /* Like a shutdown: ext4 checkpoints its journal, so the image is clean for the host. */
                sync();
                if (mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY, NULL) < 0)
                        (void) say_errno(errno, "root: remounting / read-only failed");
                else
                        say("root: remounted / read-only");
        }

        if (cmdline_find("chv_test_init.reboot")) {
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
        (void) say_errno(errno, "reboot failed");
        return 1;
}
