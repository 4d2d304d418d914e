/* SPDX-License-Identifier: Apache-2.0 */
/*
 * daemon-stub: a worker for chvd --vmm that costs as little as a process can, so that a benchmark of
 * chvd's Boot measures chvd's side only. It says READY=1 on $NOTIFY_SOCKET at once (the kernel adds
 * the credentials chvd checks) and waits: SIGTERM ends it with chv-vmm's status for "stopped" (4),
 * SIGUSR2 with "powered off" (0). Its arguments (--config, --control-socket) are ignored.
 */
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void on_signal(int sig)
{
        _exit(sig == SIGTERM ? 4 : 0);
}

int main(int argc, char **argv)
{
        static const char ready[] = "READY=1";
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        const char *path = getenv("NOTIFY_SOCKET");
        sigset_t none;
        char go = 0;
        int fd;

        /* As chv-vmm: the go on --wait-fd first (chvd sends it once the scope is there). */
        for (int i = 1; i + 1 < argc; i++)
                if (strcmp(argv[i], "--wait-fd") == 0) {
                        if (read(atoi(argv[i + 1]), &go, 1) != 1 || go != 1)
                                return 1;
                        close(atoi(argv[i + 1]));
                }

        signal(SIGTERM, on_signal);
        signal(SIGUSR2, on_signal);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (path && strlen(path) < sizeof sa.sun_path) {
                strcpy(sa.sun_path, path);
                fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
                if (fd < 0 || sendto(fd, ready, sizeof ready - 1, 0, (struct sockaddr *) &sa,
                                     (socklen_t) (offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1)) < 0)
                        return 1;
                close(fd);
        }
        for (;;)
                pause();
}
