/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>

#include "config-file.h"
#include "control.h"
#include "log.h"
#include "parse-util.h"
#include "seccomp-filter.h"
#include "vm-config-cli.h"
#include "virtio-device.h"
#include "vm.h"

/* How the VM ended, as the exit status of chv-vmm. */
enum {
        EXIT_GUEST_POWEROFF = 0,
        EXIT_VMM_ERROR = 1,
        EXIT_GUEST_CRASH = 2,
        EXIT_GUEST_RESET = 3,
        EXIT_STOPPED = 4,
};

typedef struct Args {
        cJSON *tree;
        const char *config_file;   /* --config: the whole configuration, no options that make one */
        const char *config_option; /* the first option that makes part of one */
        int verbosity;
        const char *log_file;
        const char *kvm_path;
        const char *control_socket;
        bool no_reboot;
        SeccompMode seccomp;
        int wait_fd;
} Args;

static void help(void)
{
        printf("chv-vmm — run one virtual machine on KVM\n\n"
               "Usage: chv-vmm --kernel PATH [OPTIONS]\n"
               "       chv-vmm --config FILE [OPTIONS]\n\n"
               "  --config FILE             the whole VmConfig as JSON or YAML (.json, .yaml)\n"
               "  --kernel PATH             ELF (PVH or vmlinux) or bzImage to boot\n"
               "  --initramfs PATH          initramfs to load with the kernel\n"
               "  --cmdline STRING          kernel command line\n"
               "  --cpus boot=N[,max=M]     vCPUs at boot and at most (default boot=1)\n"
               "  --memory size=SIZE        guest RAM, e.g. 512M, 2G (default 512M)\n"
               "  --serial MODE             16550 at 0x3f8: off|null|tty|pty|file=PATH (default null)\n"
               "  --console MODE            virtio console: off|null|tty|pty|file=PATH (default tty)\n"
               "  --disk path=PATH[,...]    a virtio-blk disk (repeat for more)\n"
               "  --net [tap=NAME][,...]    a virtio-net device on a tap (repeat for more)\n"
               "  --rng [src=PATH]          virtio-rng source (default src=/dev/urandom)\n"
               "  --no-reboot               exit when the guest resets instead of rebooting it\n"
               "  --kvm-device PATH         KVM device (default /dev/kvm)\n"
               "  --control-socket PATH     serve control requests (pause, resume, counters, ...) there\n"
               "  --wait-fd FD              wait for one byte on FD before anything else (chvd: the scope is there)\n"
               "  --seccomp true|false|log|errno\n"
               "                            what a system call outside a thread's filter does: stop chv-vmm\n"
               "                            (default), go through logged, fail with EPERM; false: no filters\n"
               "  --log-file PATH           write the log there instead of to standard error\n"
               "  -v                        more log output (repeat for more)\n"
               "  -V, --version             print the version\n"
               "  -h, --help                this help\n\n"
               "SIGUSR2 presses the ACPI power button; SIGTERM, SIGINT and SIGHUP stop the VM.\n"
               "With NOTIFY_SOCKET set, READY=1 goes there once the guest runs (sd_notify(3)).\n"
               "Exit status: 0 guest powered off, 1 error, 2 guest crashed, 3 guest reset with\n"
               "--no-reboot, 4 stopped by a signal.\n");
}

/* --config FILE replaces the tree the options would have built; mixing the two is refused. */
static int parse_config_file(Args *a)
{
        char err[512];
        cJSON *tree;
        int r;

        if (a->config_option)
                return log_error_errno(EINVAL, "option '--%s' cannot be combined with --config: put it in \"%s\"",
                                       a->config_option, a->config_file);
        r = config_tree_load(a->config_file, &tree, err, sizeof err);
        if (r == -ENOMEM)
                return log_error_errno(r, "Out of memory");
        if (r < 0)
                return log_error_errno(r, "%s", err);
        cJSON_Delete(a->tree);
        a->tree = tree;
        return 1;
}

static int parse_args(int argc, char **argv, Args *a)
{
        enum {
                ARG_KERNEL = 0x100, /* ARG_KERNEL..ARG_RNG: the options that make the configuration */
                ARG_INITRAMFS,
                ARG_CMDLINE,
                ARG_CPUS,
                ARG_MEMORY,
                ARG_SERIAL,
                ARG_CONSOLE,
                ARG_DISK,
                ARG_NET,
                ARG_RNG,
                ARG_CONFIG,
                ARG_NO_REBOOT,
                ARG_KVM_DEVICE,
                ARG_LOG_FILE,
                ARG_CONTROL_SOCKET,
                ARG_SECCOMP,
                ARG_WAIT_FD,
        };
        static const struct option options[] = {
                { "kernel", required_argument, NULL, ARG_KERNEL },
                { "config", required_argument, NULL, ARG_CONFIG },
                { "initramfs", required_argument, NULL, ARG_INITRAMFS },
                { "cmdline", required_argument, NULL, ARG_CMDLINE },
                { "cpus", required_argument, NULL, ARG_CPUS },
                { "memory", required_argument, NULL, ARG_MEMORY },
                { "serial", required_argument, NULL, ARG_SERIAL },
                { "console", required_argument, NULL, ARG_CONSOLE },
                { "disk", required_argument, NULL, ARG_DISK },
                { "net", required_argument, NULL, ARG_NET },
                { "rng", required_argument, NULL, ARG_RNG },
                { "no-reboot", no_argument, NULL, ARG_NO_REBOOT },
                { "kvm-device", required_argument, NULL, ARG_KVM_DEVICE },
                { "log-file", required_argument, NULL, ARG_LOG_FILE },
                { "control-socket", required_argument, NULL, ARG_CONTROL_SOCKET },
                { "seccomp", required_argument, NULL, ARG_SECCOMP },
                { "wait-fd", required_argument, NULL, ARG_WAIT_FD },
                { "version", no_argument, NULL, 'V' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        char err[512];
        int c, r = 0;

        a->tree = cJSON_CreateObject();
        if (!a->tree)
                return log_error_errno(ENOMEM, "Out of memory");
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":vVh", options, NULL)) >= 0) {
                for (const struct option *o = options; c >= ARG_KERNEL && c <= ARG_RNG && !a->config_option && o->name; o++)
                        if (o->val == c)
                                a->config_option = o->name;
                switch (c) {
                case ARG_CONFIG:
                        a->config_file = optarg;
                        break;
                case ARG_KERNEL:
                        r = cli_payload_to_json("kernel", optarg, a->tree, err, sizeof err);
                        break;
                case ARG_INITRAMFS:
                        r = cli_payload_to_json("initramfs", optarg, a->tree, err, sizeof err);
                        break;
                case ARG_CMDLINE:
                        r = cli_payload_to_json("cmdline", optarg, a->tree, err, sizeof err);
                        break;
                case ARG_CPUS:
                        r = cli_cpus_to_json(optarg, a->tree, err, sizeof err);
                        break;
                case ARG_MEMORY:
                        r = cli_memory_to_json(optarg, a->tree, err, sizeof err);
                        break;
                case ARG_SERIAL:
                        r = cli_console_to_json("serial", optarg, a->tree, err, sizeof err);
                        break;
                case ARG_CONSOLE:
                        r = cli_console_to_json("console", optarg, a->tree, err, sizeof err);
                        break;
                case ARG_DISK:
                        r = cli_disk_to_json(optarg, a->tree, err, sizeof err);
                        break;
                case ARG_NET:
                        r = cli_net_to_json(optarg, a->tree, err, sizeof err);
                        break;
                case ARG_RNG:
                        r = cli_rng_to_json(optarg, a->tree, err, sizeof err);
                        break;
                case ARG_NO_REBOOT:
                        a->no_reboot = true;
                        break;
                case ARG_KVM_DEVICE:
                        a->kvm_path = optarg;
                        break;
                case ARG_LOG_FILE:
                        a->log_file = optarg;
                        break;
                case ARG_CONTROL_SOCKET:
                        a->control_socket = optarg;
                        break;
                case ARG_WAIT_FD: {
                        uint64_t fd;
                        if (parse_u64(optarg, &fd) < 0 || fd < 3 || fd > INT_MAX)
                                return log_error_errno(EINVAL, "--wait-fd: \"%s\" is not a file descriptor number "
                                                       "above 2", optarg);
                        a->wait_fd = (int) fd;
                        break;
                }
                case ARG_SECCOMP:
                        a->seccomp = seccomp_mode_from_string(optarg);
                        if (a->seccomp < 0) {
                                log_error("--seccomp: \"%s\" is none of true, false, log, errno", optarg);
                                return -EINVAL;
                        }
                        if (a->seccomp != SECCOMP_MODE_OFF && !HAVE_SECCOMP) {
                                log_error("--seccomp %s: this chv-vmm was built without seccomp filters", optarg);
                                return -EOPNOTSUPP;
                        }
                        break;
                case 'v':
                        a->verbosity++;
                        break;
                case 'V':
                        printf("chv-vmm v%s\n", PACKAGE_VERSION);
                        return 0;
                case 'h':
                        help();
                        return 0;
                case ':':
                        return log_error_errno(EINVAL, "option '%s' needs a value", argv[optind - 1]);
                case '?':
                        if (optopt)
                                return log_error_errno(EINVAL, "unknown option '-%c' (see --help)", optopt);
                        return log_error_errno(EINVAL, "unknown option '%s' (see --help)", argv[optind - 1]);
                default:
                        return log_error_errno(EINVAL, "unexpected option");
                }
                if (r == -ENOMEM)
                        return log_error_errno(r, "Out of memory");
                if (r < 0)
                        return log_error_errno(r, "%s", err);
        }
        if (optind < argc)
                return log_error_errno(EINVAL, "unexpected argument '%s' (see --help)", argv[optind]);
        if (a->config_file)
                return parse_config_file(a);
        return 1;
}

typedef struct Payload {
        uint8_t *kernel;
        size_t kernel_size;
        int initramfs_fd;
        uint64_t initramfs_size;
} Payload;

static void payload_done(Payload *p)
{
        if (p->kernel)
                (void) munmap(p->kernel, p->kernel_size);
        p->initramfs_fd = safe_close(p->initramfs_fd);
}

static int open_regular(const char *what, const char *path, int *ret_fd, uint64_t *ret_size)
{
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return log_error_errno(errno, "cannot open %s \"%s\": %m", what, path);
        if (fstat(fd, &st) < 0)
                return log_error_errno(errno, "cannot stat %s \"%s\": %m", what, path);
        if (S_ISDIR(st.st_mode))
                return log_error_errno(EISDIR, "%s \"%s\" is a directory", what, path);
        if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
                return log_error_errno(EINVAL, "%s \"%s\" is not a regular file", what, path);
        if (st.st_size <= 0)
                return log_error_errno(EINVAL, "%s \"%s\" is empty", what, path);
        *ret_fd = TAKE_FD(fd);
        *ret_size = (uint64_t) st.st_size;
        return 0;
}

static int payload_open(const VmConfig *c, Payload *p)
{
        _cleanup_close_ int fd = -EBADF;
        uint64_t size;
        int r;

        r = open_regular("kernel", c->payload.kernel, &fd, &size);
        if (r < 0)
                return r;
        if (size >= c->memory.size)
                return log_error_errno(E2BIG, "kernel \"%s\" (%" PRIu64 " bytes) is larger than guest memory",
                                       c->payload.kernel, size);
        p->kernel = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p->kernel == MAP_FAILED) {
                p->kernel = NULL;
                return log_error_errno(errno, "cannot map kernel \"%s\": %m", c->payload.kernel);
        }
        p->kernel_size = size;

        if (c->payload.initramfs) {
                r = open_regular("initramfs", c->payload.initramfs, &p->initramfs_fd, &p->initramfs_size);
                if (r < 0)
                        return r;
                if (p->initramfs_size >= c->memory.size)
                        return log_error_errno(E2BIG, "initramfs \"%s\" (%" PRIu64 " bytes) is larger than guest memory",
                                               c->payload.initramfs, p->initramfs_size);
        }
        return 0;
}

/* Where a serial port or the virtio console reads and writes on the host. */
typedef struct ConsoleFds {
        int in, out;
        int pty_peer;  /* the pty's other end, held open so that the pty never hangs up */
        bool created;  /* the output file did not exist before: a failed start removes it */
        bool stdin;    /* reads standard input */
} ConsoleFds;

#define CONSOLE_FDS_NONE { .in = -EBADF, .out = -EBADF, .pty_peer = -EBADF }

static void console_fds_done(ConsoleFds *f)
{
        if (f->in != f->out)
                safe_close(f->in);
        safe_close(f->out);
        safe_close(f->pty_peer);
        *f = (ConsoleFds) CONSOLE_FDS_NONE;
}

static int open_pty(const char *what, ConsoleFds *f)
{
        struct termios t;
        const char *name;

        f->out = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
        if (f->out < 0 || grantpt(f->out) < 0 || unlockpt(f->out) < 0 || !(name = ptsname(f->out)))
                return log_error_errno(errno, "cannot create a pty for the %s: %m", what);
        f->in = f->out;
        f->pty_peer = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (f->pty_peer < 0)
                return log_error_errno(errno, "cannot open %s: %m", name);
        /* Raw, as a serial line is: no echo, no line editing, no newline translation. */
        if (tcgetattr(f->pty_peer, &t) == 0) {
                cfmakeraw(&t);
                (void) tcsetattr(f->pty_peer, TCSANOW, &t);
        }
        log_notice("The %s is on pty %s", what, name);
        return 0;
}

static int open_console(const ConsoleConfig *c, const char *what, ConsoleFds *f)
{
        switch (c->mode) {
        case CONSOLE_TTY:
                f->out = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
                if (f->out < 0)
                        return log_error_errno(errno, "cannot use standard output for the %s: %m", what);
                f->stdin = true;
                return 0;
        case CONSOLE_FILE:
                f->out = open(c->file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0640);
                f->created = f->out >= 0;
                if (f->out < 0 && errno == EEXIST)
                        f->out = open(c->file, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOCTTY);
                if (f->out < 0)
                        return log_error_errno(errno, "cannot open %s file \"%s\": %m", what, c->file);
                return 0;
        case CONSOLE_PTY:
                return open_pty(what, f);
        default:
                return 0;
        }
}

/*
 * sd_notify(3)'s protocol, which is all chv-vmm needs of it: "READY=1" on the datagram socket that
 * NOTIFY_SOCKET names, once the guest runs. chvd waits for it to answer Boot; a Type=notify unit would
 * too. Without NOTIFY_SOCKET nothing happens.
 */
static void notify_ready(void)
{
        static const char ready[] = "READY=1";
        const char *path = getenv("NOTIFY_SOCKET");
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -EBADF;
        size_t len;

        if (!path || (path[0] != '/' && path[0] != '@') || (len = strlen(path)) >= sizeof sa.sun_path)
                return;
        memcpy(sa.sun_path, path, len);
        if (sa.sun_path[0] == '@')
                sa.sun_path[0] = 0; /* the abstract namespace */
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || sendto(fd, ready, sizeof ready - 1, MSG_NOSIGNAL, (struct sockaddr *) &sa,
                             (socklen_t) (offsetof(struct sockaddr_un, sun_path) + len)) < 0)
                log_debug("Cannot notify %s: %m", path);
}

/*
 * The main thread's loop: plain epoll over three descriptors (the VM's request eventfd, a signalfd, the
 * serial input), which keeps chv-vmm free of any event library and small.
 */
typedef enum LoopSource {
        SOURCE_VM,
        SOURCE_SIGNAL,
        SOURCE_STDIN,
        SOURCE_CONTROL, /* SOURCE_CONTROL + n: the control socket and its clients */
} LoopSource;

typedef struct Runner {
        Vm *vm;
        Kvm *kvm;
        bool no_reboot;
        int exit_status;
        int epoll_fd;
        int serial_in_fd;
        bool stdin_raw;
        struct termios stdin_saved;
} Runner;

/* Returns 1 when the VM is over (run->exit_status says how), 0 to go on. */
static int on_vm_event(Runner *run)
{
        Vm *vm = run->vm;
        char err[512];
        VmRequest req = vm_take_request(vm);
        int r;

        switch (req) {
        case VM_REQUEST_NONE:
                return 0;
        case VM_REQUEST_SHUTDOWN:
                log_info("Guest powered off");
                run->exit_status = EXIT_GUEST_POWEROFF;
                break;
        case VM_REQUEST_RESET:
                if (run->no_reboot) {
                        log_info("Guest reset the machine; exiting as asked (--no-reboot)");
                        run->exit_status = EXIT_GUEST_RESET;
                        break;
                }
                log_info("Guest reset the machine; rebooting");
                vm_stop(vm);
                r = vm_start(vm, run->kvm, err, sizeof err);
                if (r < 0) {
                        log_error_errno(r, "cannot reboot the VM: %s", err);
                        run->exit_status = EXIT_VMM_ERROR;
                        break;
                }
                return 0;
        case VM_REQUEST_CRASH:
                log_error("guest crashed: %s", vm->crash_reason[0] ? vm->crash_reason : "unknown reason");
                run->exit_status = EXIT_GUEST_CRASH;
                break;
        case VM_REQUEST_STOP:
                log_info("Stopping the VM");
                run->exit_status = EXIT_STOPPED;
                break;
        default:
                run->exit_status = EXIT_VMM_ERROR;
                break;
        }
        vm_stop(vm);
        return 1;
}

static void on_signal(Runner *run, int fd)
{
        struct signalfd_siginfo si;

        while (read(fd, &si, sizeof si) == (ssize_t) sizeof si) {
                if (si.ssi_signo == SIGUSR2) {
                        log_info("Pressing the power button");
                        vm_power_button(run->vm);
                        continue;
                }
                log_info("Received %s", strsignal((int) si.ssi_signo));
                vm_request(run->vm, VM_REQUEST_STOP);
        }
}

static void on_stdin(Runner *run)
{
        uint8_t buf[SERIAL_FIFO_SIZE];
        ssize_t n;

        n = read(run->serial_in_fd, buf, sizeof buf);
        if (n <= 0) {
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        return;
                /* End of input: the guest keeps running without it. */
                (void) epoll_ctl(run->epoll_fd, EPOLL_CTL_DEL, run->serial_in_fd, NULL);
                return;
        }
        if (serial_queue_input(run->vm->serial, buf, (size_t) n) < (size_t) n)
                log_debug("Serial receive FIFO full, dropped input");
}

static void stdin_make_raw(Runner *run)
{
        struct termios t;
        if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &run->stdin_saved) < 0)
                return;
        t = run->stdin_saved;
        cfmakeraw(&t);
        t.c_oflag = run->stdin_saved.c_oflag; /* keep output post-processing for the log lines */
        if (tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0)
                run->stdin_raw = true;
}

static void stdin_restore(Runner *run)
{
        if (run->stdin_raw)
                (void) tcsetattr(STDIN_FILENO, TCSANOW, &run->stdin_saved);
}

static int epoll_watch(int epoll_fd, int fd, LoopSource source)
{
        struct epoll_event ev = { .events = EPOLLIN, .data.u32 = source };
        return epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0 ? negative_errno() : 0;
}

static const char *const control_ops[] = {
        "pause", "resume", "counters", "info", "power-button", "shutdown", NULL,
};

static int on_control(void *ctx, const char *op, cJSON *reply, char *err, size_t errlen)
{
        Runner *run = ctx;
        Vm *vm = run->vm;
        int r;

        if (strcmp(op, "pause") == 0) {
                r = vm_pause(vm, err, errlen);
                if (r >= 0)
                        log_info("VM paused");
                return r;
        }
        if (strcmp(op, "resume") == 0) {
                r = vm_resume(vm, err, errlen);
                if (r >= 0)
                        log_info("VM resumed");
                return r;
        }
        if (strcmp(op, "counters") == 0) {
                cJSON *c = vm_counters(vm);
                if (!c || !cJSON_AddItemToObject(reply, "counters", c)) {
                        cJSON_Delete(c);
                        return -ENOMEM;
                }
                return 0;
        }
        if (strcmp(op, "info") == 0) {
                cJSON *vcpus = cJSON_AddArrayToObject(reply, "vcpus");
                if (!cJSON_AddStringToObject(reply, "state", vm_state(vm)) ||
                    !cJSON_AddNumberToObject(reply, "boots", (double) vm->boots) || !vcpus)
                        return -ENOMEM;
                for (unsigned i = 0; i < vm->n_vcpus; i++) {
                        cJSON *v = cJSON_CreateObject();
                        if (!v || !cJSON_AddItemToArray(vcpus, v)) {
                                cJSON_Delete(v);
                                return -ENOMEM;
                        }
                        if (!cJSON_AddNumberToObject(v, "id", i) ||
                            !cJSON_AddBoolToObject(v, "parked", atomic_load(&vm->vcpus[i].parked)))
                                return -ENOMEM;
                }
                return 0;
        }
        if (strcmp(op, "power-button") == 0) {
                log_info("Pressing the power button");
                vm_power_button(vm);
                return 0;
        }
        /* shutdown: as SIGTERM */
        log_info("Shutdown requested on the control socket");
        vm_request(vm, VM_REQUEST_STOP);
        return 0;
}

static int run_vm(Vm *vm, Kvm *kvm, bool no_reboot, int serial_in_fd, bool raw_stdin, const char *control_socket,
                  bool *ret_started)
{
        _cleanup_close_ int epoll_fd = -EBADF, signal_fd = -EBADF;
        _cleanup_(control_server_freep) ControlServer *control = NULL;
        Runner run = {
                .vm = vm,
                .kvm = kvm,
                .no_reboot = no_reboot,
                .exit_status = EXIT_VMM_ERROR,
                .serial_in_fd = serial_in_fd,
        };
        char err[512];
        sigset_t mask;
        int r;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGUSR2);
        pthread_sigmask(SIG_BLOCK, &mask, NULL);
        signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        epoll_fd = run.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        if (signal_fd < 0 || epoll_fd < 0)
                return log_error_errno(errno, "cannot set up the event loop: %m");
        if ((r = epoll_watch(epoll_fd, signal_fd, SOURCE_SIGNAL)) < 0 ||
            (r = epoll_watch(epoll_fd, vm->event_fd, SOURCE_VM)) < 0)
                return log_error_errno(r, "cannot set up the event loop: %m");
        if (serial_in_fd >= 0 && vm->serial) {
                int flags = fcntl(serial_in_fd, F_GETFL);
                /* Only input that epoll can watch (a tty, pty, pipe or socket); regular files are skipped. */
                if (flags >= 0 && fcntl(serial_in_fd, F_SETFL, flags | O_NONBLOCK) >= 0)
                        (void) epoll_watch(epoll_fd, serial_in_fd, SOURCE_STDIN);
        }
        if (control_socket) {
                r = control_server_new(control_socket, epoll_fd, SOURCE_CONTROL, control_ops, on_control, &run,
                                       &control);
                if (r < 0)
                        return log_error_errno(r, "cannot listen on control socket \"%s\": %s", control_socket,
                                               strerror(-r));
        }
        if (raw_stdin)
                stdin_make_raw(&run);

        r = vm_start(vm, kvm, err, sizeof err);
        if (r < 0) {
                stdin_restore(&run);
                return log_error_errno(r, "%s", err);
        }
        *ret_started = true;
        notify_ready();
        /* The vCPU threads run with theirs; the main thread takes its own for the rest of its life. */
        r = seccomp_apply(SECCOMP_THREAD_VMM);
        if (r < 0) {
                stdin_restore(&run);
                vm_stop(vm);
                return log_error_errno(r, "cannot load the seccomp filter of the main thread: %m");
        }
        log_info("Booting %s through the %s entry at 0x%" PRIx64 " with %" PRIu32 " vCPU(s) and %" PRIu64 " MiB",
                 vm->kernel.format, boot_protocol_to_string(vm->kernel.protocol), vm->kernel.entry,
                 vm->config->cpus.boot_vcpus, vm->config->memory.size / MiB);

        for (bool done = false; !done;) {
                struct epoll_event evs[4];
                int n = epoll_wait(epoll_fd, evs, ELEMENTSOF(evs), -1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = log_error_errno(errno, "event loop failed: %m");
                        break;
                }
                for (int i = 0; i < n && !done; i++)
                        switch (evs[i].data.u32) {
                        case SOURCE_VM:
                                done = on_vm_event(&run) > 0;
                                break;
                        case SOURCE_SIGNAL:
                                on_signal(&run, signal_fd);
                                break;
                        case SOURCE_STDIN:
                                on_stdin(&run);
                                break;
                        default:
                                if (control_server_owns(control, evs[i].data.u32))
                                        control_server_dispatch(control, evs[i].data.u32);
                                break;
                        }
        }
        stdin_restore(&run);
        vm_stop(vm);
        return r < 0 ? r : run.exit_status;
}

/*
 * --wait-fd: one byte on fd lets chv-vmm go on; chvd sends it once the VM's scope exists, so that guest
 * memory is the scope's from its first page. End of file: whoever started chv-vmm gave up.
 */
static int wait_for_go(int fd)
{
        char c = 0;
        ssize_t n;

        while ((n = read(fd, &c, 1)) < 0 && errno == EINTR)
                ;
        if (n < 0)
                return log_error_errno(errno, "--wait-fd %d: cannot read: %m", fd);
        (void) close(fd);
        if (n == 0 || c != 1)
                return log_error_errno(ECANCELED, "--wait-fd %d: closed before the go: the VM is not started", fd);
        return 0;
}

static int device_thread_init(void)
{
        return seccomp_apply(SECCOMP_THREAD_DEVICE);
}

int main(int argc, char **argv)
{
        _cleanup_(kvm_freep) Kvm *kvm = NULL;
        _cleanup_(vm_freep) Vm *vm = NULL;
        ConsoleFds serial = CONSOLE_FDS_NONE, console = CONSOLE_FDS_NONE;
        Args args = { .kvm_path = "/dev/kvm", .seccomp = SECCOMP_MODE_DEFAULT, .wait_fd = -1 };
        Payload payload = { .initramfs_fd = -EBADF };
        VmConfig config;
        const char *missing = NULL;
        uint64_t host_mem;
        char err[512];
        bool started = false;
        int r, status = EXIT_VMM_ERROR;

        vm_config_init(&config);
        log_set_program("chv-vmm");
        log_set_thread_name("vmm");

        r = parse_args(argc, argv, &args);
        if (r <= 0) {
                status = r == 0 ? EXIT_SUCCESS : EXIT_VMM_ERROR;
                goto out;
        }
        log_set_max_level(args.verbosity >= 2 ? LOG_DEBUG : args.verbosity == 1 ? LOG_INFO : LOG_NOTICE);
        if (args.log_file) {
                r = log_open_file(args.log_file);
                if (r < 0) {
                        log_error_errno(r, "cannot open log file \"%s\": %m", args.log_file);
                        goto out;
                }
        }

        /* A VMM whose writes to a log reader that went away must not die of it. */
        (void) signal(SIGPIPE, SIG_IGN);
        if (args.wait_fd >= 0) {
                r = wait_for_go(args.wait_fd);
                if (r < 0)
                        goto out;
        }

        r = vm_config_from_json(args.tree, &config, err, sizeof err);
        if (r < 0) {
                log_error_errno(r, "invalid configuration: %s", err);
                goto out;
        }
        if (host_memory_limit(&host_mem) >= 0 && config.memory.size > host_mem) {
                log_error("memory: size=%" PRIu64 "M is more than this host has (%" PRIu64 "M of RAM and swap)",
                          config.memory.size / MiB, host_mem / MiB);
                goto out;
        }

        r = payload_open(&config, &payload);
        if (r < 0)
                goto out;
        r = open_console(&config.serial, "serial port", &serial);
        if (r < 0)
                goto out;
        r = open_console(&config.console, "console", &console);
        if (r < 0)
                goto out;
        if (console.stdin) {
                /* The worker of the virtio console reads standard input. */
                console.in = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3);
                if (console.in < 0) {
                        log_error_errno(errno, "cannot use standard input for the console: %m");
                        goto out;
                }
        }

        VmHost host = {
                .kernel = payload.kernel,
                .kernel_size = payload.kernel_size,
                .initramfs_fd = payload.initramfs_fd,
                .initramfs_size = payload.initramfs_size,
                .serial_out_fd = serial.out,
                .console_in_fd = console.in,
                .console_out_fd = console.out,
        };
        r = vm_new(&config, &host, &vm, err, sizeof err);
        if (r < 0) {
                if (r == -ENOMEM && !err[0])
                        log_error("out of memory");
                else
                        log_error_errno(r, "%s", err);
                goto out;
        }

        /* Before the first thread: no_new_privs and the SIGSYS handler, for every thread to come. */
        r = seccomp_setup(args.seccomp);
        if (r < 0) {
                log_error_errno(r, "cannot set up seccomp (--seccomp %s): %m", seccomp_mode_to_string(args.seccomp));
                goto out;
        }
        virtio_worker_thread_init = device_thread_init;

        r = kvm_open(args.kvm_path, &kvm, &missing);
        if (r < 0) {
                if (missing)
                        log_error("%s: KVM lacks %s, which chv needs", args.kvm_path, missing);
                else
                        log_error_errno(r, "cannot open %s: %m", args.kvm_path);
                goto out;
        }

        status = run_vm(vm, kvm, args.no_reboot, serial.stdin ? STDIN_FILENO : serial.in,
                        serial.stdin || console.stdin, args.control_socket, &started);
        if (status < 0)
                status = EXIT_VMM_ERROR;
out:
        /* A VM that never started leaves nothing behind. */
        if (!started && serial.created)
                (void) unlink(config.serial.file);
        if (!started && console.created)
                (void) unlink(config.console.file);
        vm = vm_free(vm);
        console_fds_done(&serial);
        console_fds_done(&console);
        payload_done(&payload);
        vm_config_done(&config);
        cJSON_Delete(args.tree);
        return status;
}
