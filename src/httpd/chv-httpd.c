/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>

#include "log.h"
#include "parse-util.h"
#include "server.h"

#define VM_NAME_MAX 64

static void help(void)
{
        printf("chv-httpd — Cloud Hypervisor's REST API for one VM of chvd\n\n"
               "Usage: chv-httpd --vm NAME [--socket PATH] [OPTIONS]\n\n"
               "  --vm NAME            the VM this socket serves (vm.create creates it)\n"
               "  --socket PATH        listen on this unix socket; without it, on the one socket\n"
               "                       systemd passes (socket activation)\n"
               "  --log-level LEVEL    0..7 (default 6)\n"
               "  -v                   debug messages\n"
               "  -V, --version        print the version\n"
               "  -h, --help           this help\n\n"
               "chvd is reached on the system bus (DBUS_SYSTEM_BUS_ADDRESS where that is set).\n"
               "See chv-httpd(8).\n");
}

/* chvd's rule for VM names (docs/dbus-api.md). */
static bool vm_name_valid(const char *name)
{
        size_t n = strlen(name);

        if (n == 0 || n > VM_NAME_MAX)
                return false;
        if (!((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z') ||
              (name[0] >= '0' && name[0] <= '9')))
                return false;
        return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

typedef struct Args {
        const char *vm;
        const char *socket;
        int level;
} Args;

/* Returns 1 to run, 0 to exit successfully, negative on error. */
static int parse_args(int argc, char **argv, Args *a)
{
        enum {
                ARG_VM = 0x100,
                ARG_SOCKET,
                ARG_LOG_LEVEL,
        };
        static const struct option options[] = {
                { "vm", required_argument, NULL, ARG_VM },
                { "socket", required_argument, NULL, ARG_SOCKET },
                { "api-socket", required_argument, NULL, ARG_SOCKET },
                { "log-level", required_argument, NULL, ARG_LOG_LEVEL },
                { "version", no_argument, NULL, 'V' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        uint32_t u;
        int opt;

        opterr = 0;
        while ((opt = getopt_long(argc, argv, ":vVh", options, NULL)) >= 0) {
                switch (opt) {
                case ARG_VM:
                        if (!vm_name_valid(optarg))
                                return log_error_errno(EINVAL, "--vm: \"%s\" is not a VM name: use 1 to %d letters, "
                                                       "digits, '.', '_' or '-', beginning with a letter or digit",
                                                       optarg, VM_NAME_MAX);
                        a->vm = optarg;
                        break;
                case ARG_SOCKET:
                        if (strlen(optarg) >= sizeof(((struct sockaddr_un *) NULL)->sun_path))
                                return log_error_errno(EINVAL, "--socket: \"%s\" is longer than a socket path may be",
                                                       optarg);
                        a->socket = optarg;
                        break;
                case ARG_LOG_LEVEL:
                        if (parse_u32(optarg, &u) < 0 || u > LOG_DEBUG)
                                return log_error_errno(EINVAL, "--log-level needs 0..7, not \"%s\"", optarg);
                        a->level = (int) u;
                        break;
                case 'v':
                        a->level = LOG_DEBUG;
                        break;
                case 'V':
                        printf("chv-httpd v%s\n", PACKAGE_VERSION);
                        return 0;
                case 'h':
                        help();
                        return 0;
                case ':':
                        return log_error_errno(EINVAL, "option '%s' needs a value", argv[optind - 1]);
                default:
                        return log_error_errno(EINVAL, "unknown option '%s' (see --help)", argv[optind - 1]);
                }
        }
        if (optind < argc)
                return log_error_errno(EINVAL, "unexpected argument '%s' (see --help)", argv[optind]);
        if (!a->vm)
                return log_error_errno(EINVAL, "--vm NAME is required: the VM this socket serves");
        return 1;
}

/*
 * As Cloud Hypervisor does with --api-socket: hold PATH.lock, so that a socket in use is never taken
 * over; remove a stale socket; bind. The lock lives as long as the process.
 */
static int listen_on_path(const char *path, int *ret_lock)
{
        _cleanup_close_ int lock = -EBADF, fd = -EBADF;
        _cleanup_free_ char *lock_path = NULL;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

        if (asprintf(&lock_path, "%s.lock", path) < 0)
                return log_error_errno(ENOMEM, "Out of memory");
        lock = open(lock_path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
        if (lock < 0)
                return log_error_errno(errno, "Cannot open %s: %m", lock_path);
        if (fcntl(lock, F_OFD_SETLK, &fl) < 0) {
                if (errno == EAGAIN || errno == EACCES)
                        return log_error_errno(EBUSY, "%s is in use by another process (it holds %s)", path,
                                               lock_path);
                return log_error_errno(errno, "Cannot lock %s: %m", lock_path);
        }
        (void) unlink(path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return log_error_errno(errno, "Cannot make a socket: %m");
        memcpy(sa.sun_path, path, strlen(path));
        if (bind(fd, (struct sockaddr *) &sa, sizeof sa) < 0)
                return log_error_errno(errno, "Cannot bind to %s: %m", path);
        if (listen(fd, SOMAXCONN) < 0)
                return log_error_errno(errno, "Cannot listen on %s: %m", path);
        *ret_lock = TAKE_FD(lock);
        return TAKE_FD(fd);
}

/* The socket systemd passes (chv-httpd@.socket): exactly one listening unix stream socket. */
static int listen_activated(void)
{
        int n, fd, flags;

        n = sd_listen_fds(true);
        if (n < 0)
                return log_error_errno(n, "Cannot read the sockets systemd passed: %m");
        if (n == 0)
                return log_error_errno(EINVAL, "No --socket given and no socket passed by systemd (see --help)");
        if (n > 1)
                return log_error_errno(EINVAL, "systemd passed %d sockets; chv-httpd serves exactly one", n);
        fd = SD_LISTEN_FDS_START;
        if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0)
                return log_error_errno(EINVAL, "The socket systemd passed is not a listening unix stream socket");
        flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
                return log_error_errno(errno, "Cannot make the passed socket non-blocking: %m");
        return fd;
}

/* Each connection takes two descriptors (the client's and a pair): allow many. */
static void raise_fd_limit(void)
{
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max)
                return;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                log_debug("Cannot raise the descriptor limit, ignoring: %m");
}

int main(int argc, char **argv)
{
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(server_freep) Server *server = NULL;
        _cleanup_close_ int lock = -EBADF;
        Args args = { .level = LOG_INFO };
        int fd, r;
        sigset_t mask;

        log_set_program("chv-httpd");
        log_set_max_level(LOG_INFO);
        r = parse_args(argc, argv, &args);
        if (r <= 0)
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
        log_set_max_level(args.level);

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);
        raise_fd_limit();

        /* Sockets and files of ours are for this user only, as with Cloud Hypervisor. */
        umask(0077);
        fd = args.socket ? listen_on_path(args.socket, &lock) : listen_activated();
        if (fd < 0)
                return EXIT_FAILURE;

        r = sd_event_default(&event);
        if (r < 0) {
                safe_close(fd);
                return log_error_errno(r, "Cannot make an event loop: %m"), EXIT_FAILURE;
        }
        (void) sd_event_add_signal(event, NULL, SIGTERM, NULL, NULL);
        (void) sd_event_add_signal(event, NULL, SIGINT, NULL, NULL);

        r = sd_bus_open_system(&bus);
        if (r < 0) {
                safe_close(fd);
                return log_error_errno(r, "Cannot connect to the system bus: %m"), EXIT_FAILURE;
        }
        (void) sd_bus_set_exit_on_disconnect(bus, true);
        r = sd_bus_attach_event(bus, event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0) {
                safe_close(fd);
                return log_error_errno(r, "Cannot attach the bus to the event loop: %m"), EXIT_FAILURE;
        }

        r = server_new(event, bus, fd, args.vm, &server);
        if (r < 0) {
                safe_close(fd);
                return log_error_errno(r, "Cannot start the HTTP server: %m"), EXIT_FAILURE;
        }
        log_info("Serving Cloud Hypervisor's API for VM %s on %s", args.vm, args.socket ?: "the socket systemd passed");
        (void) sd_notify(false, "READY=1");

        r = sd_event_loop(event);
        (void) sd_notify(false, "STOPPING=1");
        if (r < 0)
                return log_error_errno(r, "The event loop failed: %m"), EXIT_FAILURE;
        return r == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
