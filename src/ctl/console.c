/* SPDX-License-Identifier: Apache-2.0 */
#include <poll.h>
#include <signal.h>
#include <termios.h>
#include <time.h>

#include "console.h"

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
        interrupted = 1;
}

static int write_all(int fd, const char *buf, size_t n)
{
        while (n > 0) {
                ssize_t k = write(fd, buf, n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0 && errno == EAGAIN) {
                        struct pollfd p = { .fd = fd, .events = POLLOUT };
                        (void) poll(&p, 1, 1000);
                        continue;
                }
                if (k < 0)
                        return -errno;
                buf += k;
                n -= (size_t) k;
        }
        return 0;
}

static uint64_t now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

int console_relay(int fd, bool read_only, bool (*still_running)(void *userdata), void *userdata)
{
        struct sigaction sa = { .sa_handler = on_signal }, old_int, old_term;
        struct termios saved, raw;
        bool tty = isatty(STDIN_FILENO) && !read_only, input = !read_only;
        uint64_t checked = now_ms();
        char buf[4096];
        int r = 0;

        sigaction(SIGINT, &sa, &old_int);
        sigaction(SIGTERM, &sa, &old_term);
        if (tty && tcgetattr(STDIN_FILENO, &saved) == 0) {
                raw = saved;
                cfmakeraw(&raw);
                (void) tcsetattr(STDIN_FILENO, TCSANOW, &raw);
        } else
                tty = false;

        while (!interrupted) {
                struct pollfd p[2] = {
                        { .fd = fd, .events = POLLIN },
                        { .fd = input ? STDIN_FILENO : -1, .events = POLLIN },
                };
                ssize_t n;

                if (poll(p, 2, 1000) < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        break;
                }
                if (p[0].revents) {
                        n = read(fd, buf, sizeof buf);
                        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                                continue;
                        if (n > 0) {
                                r = write_all(STDOUT_FILENO, buf, (size_t) n);
                                if (r < 0)
                                        break;
                                continue;
                        }
                        /* A terminal hangs up (EIO) when the VM's chv-vmm goes; a file just ends for now. */
                        if (!read_only)
                                break;
                        if (now_ms() - checked >= 1000) {
                                checked = now_ms();
                                if (!still_running(userdata))
                                        break;
                        }
                        (void) poll(NULL, 0, 200);
                }
                if (p[1].revents) {
                        n = read(STDIN_FILENO, buf, sizeof buf);
                        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                                continue;
                        if (n <= 0) {
                                input = false; /* the end of our input is not the end of the console */
                                continue;
                        }
                        if (tty && memchr(buf, CONSOLE_ESCAPE, (size_t) n))
                                break;
                        r = write_all(fd, buf, (size_t) n);
                        if (r < 0)
                                break;
                }
        }
        if (tty)
                (void) tcsetattr(STDIN_FILENO, TCSANOW, &saved);
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        return r;
}
