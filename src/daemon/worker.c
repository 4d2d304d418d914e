/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>

#include "config-file.h"
#include "errbuf.h"
#include "file-util.h"
#include "manager.h"
#include "vm.h"
#include "worker.h"

/* chv-vmm's exit statuses (see chv-vmm(1)). */
enum {
        VMM_EXIT_POWEROFF = 0,
        VMM_EXIT_ERROR = 1,
        VMM_EXIT_CRASH = 2,
        VMM_EXIT_RESET = 3,
        VMM_EXIT_STOPPED = 4,
};

static int pidfd_open(pid_t pid)
{
        return (int) syscall(SYS_pidfd_open, pid, 0);
}

static int pidfd_send_signal(int pidfd, int sig)
{
        return (int) syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

/*
 * One line of chv-vmm's standard error. Errors come as "chv-vmm: TEXT"; everything else as
 * "chv-vmm: 1.234567s: <thread> LEVEL -- TEXT" (log.c). The last error is what a failure reports.
 */
static void worker_log_line(Worker *w, char *line)
{
        const char *text = startswith(line, "chv-vmm: ") ?: line;
        const char *dash = strstr(text, " -- ");
        int level = LOG_INFO;
        char *copy;

        if (!*text)
                return;
        if (dash && strchr(text, '<') && strchr(text, '<') < dash) {
                if (strstr(text, "> ERROR -- "))
                        level = LOG_ERR;
                else if (strstr(text, "> WARN -- "))
                        level = LOG_WARNING;
                else if (strstr(text, "> DEBUG -- "))
                        level = LOG_DEBUG;
                text = dash + 4;
        } else if (text != line)
                level = LOG_ERR; /* the short form is used for errors only */
        log_vm_full_errno_id(w->vm, NULL, level, 0, "chv-vmm: %s", text);
        if (level <= LOG_ERR && (copy = strdup(text))) {
                free(w->last_error);
                w->last_error = copy;
        }
}

/* Reads what there is; returns 0 at the end of the stream. */
static int worker_read_log(Worker *w)
{
        for (;;) {
                ssize_t n = read(w->log_fd, w->log_buf + w->log_len, sizeof w->log_buf - 1 - w->log_len);
                char *nl;

                if (n < 0)
                        return errno == EAGAIN || errno == EINTR ? 1 : -errno;
                if (n == 0) {
                        if (w->log_len > 0) {
                                w->log_buf[w->log_len] = 0;
                                worker_log_line(w, w->log_buf);
                                w->log_len = 0;
                        }
                        return 0;
                }
                w->log_len += (size_t) n;
                w->log_buf[w->log_len] = 0;
                char *start = w->log_buf;
                while ((nl = strchr(start, '\n'))) {
                        *nl = 0;
                        worker_log_line(w, start);
                        start = nl + 1;
                }
                w->log_len -= (size_t) (start - w->log_buf);
                memmove(w->log_buf, start, w->log_len);
                /* A line longer than the buffer is logged in pieces. */
                if (w->log_len == sizeof w->log_buf - 1) {
                        w->log_buf[w->log_len] = 0;
                        worker_log_line(w, w->log_buf);
                        w->log_len = 0;
                }
        }
}

static int on_log(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        Worker *w = userdata;

        if (worker_read_log(w) <= 0)
                w->log_source = sd_event_source_disable_unref(w->log_source);
        return 0;
}

/* Datagrams on the notify socket: READY=1 from the worker itself, nothing else counts. */
static void worker_read_notify(Worker *w)
{
        for (;;) {
                char buf[1024], control[CMSG_SPACE(sizeof(struct ucred))];
                struct iovec iov = { buf, sizeof buf - 1 };
                struct msghdr mh = {
                        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control,
                };
                struct ucred *cred = NULL;
                ssize_t n;

                char *save = NULL;

                n = recvmsg(w->notify_fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
                if (n < 0)
                        return;
                for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
                        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS)
                                cred = (struct ucred *) CMSG_DATA(c);
                if (!cred || cred->pid != w->pid) {
                        log_vm(w->vm, LOG_WARNING, "Ignoring a notification from process %d, not the VM's",
                               cred ? cred->pid : 0);
                        continue;
                }
                buf[n] = 0;
                for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
                        if (streq(line, "READY=1") && !w->ready) {
                                w->ready = true;
                                vm_on_worker_ready(w->vm);
                        }
        }
}

static int on_notify(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        worker_read_notify(userdata);
        return 0;
}

static int on_worker_exit(sd_event_source *s, const siginfo_t *si, void *userdata)
{
        Worker *w = userdata;

        /* The last words and a READY=1 sent just before the end come first. */
        worker_drain(w);
        w->running = false;
        vm_on_worker_exit(w->vm, si);
        return 0;
}

void worker_drain(Worker *w)
{
        if (w->log_fd >= 0)
                (void) worker_read_log(w);
        if (w->notify_fd >= 0)
                worker_read_notify(w);
}

char *worker_describe_exit(Worker *w, const siginfo_t *si)
{
        const char *e = w->last_error;
        char *s = NULL;
        int r;

        if (!si)
                r = asprintf(&s, "chv-vmm ended; its exit status is unknown to this chvd, which started while it "
                                 "ran");
        else if (si->si_code == CLD_EXITED)
                switch (si->si_status) {
                case VMM_EXIT_POWEROFF:
                        r = asprintf(&s, "the guest powered off");
                        break;
                case VMM_EXIT_RESET:
                        r = asprintf(&s, "the guest reset the machine");
                        break;
                case VMM_EXIT_STOPPED:
                        r = asprintf(&s, "chv-vmm stopped the VM");
                        break;
                case VMM_EXIT_CRASH:
                        r = e ? asprintf(&s, "%s", e) : asprintf(&s, "the guest crashed");
                        break;
                default:
                        r = e ? asprintf(&s, "%s", e) : asprintf(&s, "chv-vmm exited with status %d", si->si_status);
                        break;
                }
        else
                r = asprintf(&s, "chv-vmm was killed by signal %s%s%s", sigabbrev_np(si->si_status) ?: "?",
                             si->si_code == CLD_DUMPED ? " and dumped core" : "",
                             w->killed ? ", as it did not stop in time" : "");
        return r < 0 ? NULL : s;
}

static int on_kill_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        Worker *w = userdata;

        log_vm(w->vm, LOG_WARNING, "chv-vmm did not stop in time, killing it.");
        w->killed = true;
        (void) worker_kill(w, SIGKILL);
        return 0;
}

int worker_kill(Worker *w, int sig)
{
        if (w->pidfd < 0)
                return -ESRCH;
        return pidfd_send_signal(w->pidfd, sig) < 0 ? -errno : 0;
}

/*
 * One request on the worker's control socket (chv-vmm(1)), on a connection of its own: nothing to
 * restore when chvd restarts. chv-vmm answers from its main loop at once; the timeout covers a worker
 * that hangs, whose requests then fail. chvd waits for no answer: other calls go on meanwhile.
 */
#define WORKER_CONTROL_TIMEOUT_USEC (10 * 1000000ULL)
#define WORKER_CONTROL_REPLY_MAX 65536

struct ControlRequest {
        ControlRequest *next;
        Worker *worker;
        int fd;
        sd_event_source *io, *timer;
        WorkerControlCallback callback;
        void *userdata;
};

static void control_request_unlink(ControlRequest *c)
{
        for (ControlRequest **p = &c->worker->control_requests; *p; p = &(*p)->next)
                if (*p == c) {
                        *p = c->next;
                        break;
                }
}

/* Calls back (once) and frees the request. */
static void control_request_finish(ControlRequest *c, cJSON *reply, const char *error)
{
        WorkerControlCallback cb = c->callback;
        void *userdata = c->userdata;
        Vm *vm = c->worker->vm;

        control_request_unlink(c);
        sd_event_source_disable_unref(c->io);
        sd_event_source_disable_unref(c->timer);
        safe_close(c->fd);
        free(c);
        cb(vm, reply, error, userdata);
}

static int on_control_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
        control_request_finish(userdata, NULL, "no answer from chv-vmm within 10 s");
        return 0;
}

static int on_control_reply(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        ControlRequest *c = userdata;
        _cleanup_free_ char *buf = malloc(WORKER_CONTROL_REPLY_MAX + 1);
        char error[512];
        cJSON *reply, *ok, *e;
        ssize_t n;

        if (!buf) {
                control_request_finish(c, NULL, "out of memory");
                return 0;
        }
        n = recv(fd, buf, WORKER_CONTROL_REPLY_MAX, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
        if (n <= 0) {
                snprintf(error, sizeof error, "no answer from chv-vmm: %s",
                         n < 0 ? strerror(errno) : "it closed the connection");
                control_request_finish(c, NULL, error);
                return 0;
        }
        buf[n] = 0;
        reply = cJSON_Parse(buf);
        ok = cJSON_GetObjectItemCaseSensitive(reply, "ok");
        if (!cJSON_IsBool(ok)) {
                cJSON_Delete(reply);
                control_request_finish(c, NULL, "chv-vmm gave no valid answer");
        } else if (cJSON_IsFalse(ok)) {
                e = cJSON_GetObjectItemCaseSensitive(reply, "error");
                snprintf(error, sizeof error, "%s", cJSON_IsString(e) ? e->valuestring : "chv-vmm refused");
                cJSON_Delete(reply);
                control_request_finish(c, NULL, error);
        } else
                control_request_finish(c, reply, NULL);
        return 0;
}

int worker_control(Worker *w, const char *op, WorkerControlCallback callback, void *userdata, char *err,
                   size_t errlen)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_free_ char *req = NULL;
        _cleanup_close_ int fd = -EBADF;
        sd_event *event = w->vm->manager->event;
        ControlRequest *c;
        int r;

        if ((size_t) snprintf(sa.sun_path, sizeof sa.sun_path, "%s/ctl", w->dir) >= sizeof sa.sun_path)
                return errbuf_fail(-ENAMETOOLONG, err, errlen, "the control socket's path is too long");
        if (asprintf(&req, "{\"op\":\"%s\"}", op) < 0)
                return -ENOMEM;
        fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return errbuf_fail(negative_errno(), err, errlen, "cannot make a socket: %m");
        /* A unix socket connects or fails at once; a full backlog (EAGAIN) is a worker that does not keep up. */
        if (connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0)
                return errbuf_fail(negative_errno(), err, errlen, "cannot reach chv-vmm on %s: %m", sa.sun_path);
        if (send(fd, req, strlen(req), MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
                return errbuf_fail(negative_errno(), err, errlen, "cannot send to chv-vmm: %m");

        c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        *c = (ControlRequest) { .worker = w, .fd = TAKE_FD(fd), .callback = callback, .userdata = userdata };
        r = sd_event_add_io(event, &c->io, c->fd, EPOLLIN, on_control_reply, c);
        if (r >= 0)
                r = sd_event_add_time_relative(event, &c->timer, CLOCK_MONOTONIC, WORKER_CONTROL_TIMEOUT_USEC, 0,
                                               on_control_timeout, c);
        if (r < 0) {
                sd_event_source_disable_unref(c->io);
                safe_close(c->fd);
                free(c);
                return errbuf_fail(r, err, errlen, "cannot wait for chv-vmm's answer: %s", strerror(-r));
        }
        c->next = w->control_requests;
        w->control_requests = c;
        return 0;
}

int worker_stop(Worker *w, uint64_t usec)
{
        int r;

        r = worker_kill(w, SIGTERM);
        if (r < 0)
                return r;
        if (w->kill_timer)
                return 0;
        return sd_event_add_time_relative(w->vm->manager->event, &w->kill_timer, CLOCK_MONOTONIC, usec, 0,
                                          on_kill_timer, w);
}

int worker_release(Worker *w)
{
        static const char go = 1;
        int r = 0;

        if (w->go_fd < 0)
                return 0;
        if (write(w->go_fd, &go, 1) != 1)
                r = -errno;
        w->go_fd = safe_close(w->go_fd);
        return r;
}

int worker_open_console(Worker *w)
{
        int fd;

        if (w->pty_path)
                fd = open(w->pty_path, O_RDWR | O_NOCTTY | O_CLOEXEC);
        else if (w->console_file)
                fd = open(w->console_file, O_RDONLY | O_NOCTTY | O_CLOEXEC);
        else
                return -ENXIO;
        return fd < 0 ? -errno : fd;
}

Worker *worker_free(Worker *w)
{
        if (!w)
                return NULL;
        while (w->control_requests)
                control_request_finish(w->control_requests, NULL, "the VM's chv-vmm went away");
        sd_bus_slot_unref(w->scope_slot);
        free(w->scope_job);
        sd_event_source_disable_unref(w->kill_timer);
        sd_event_source_disable_unref(w->child_source);
        sd_event_source_disable_unref(w->pidfd_source);
        safe_close(w->pidfd);
        sd_event_source_disable_unref(w->notify_source);
        sd_event_source_disable_unref(w->log_source);
        safe_close(w->go_fd); /* a child still waiting for it exits */
        safe_close(w->notify_fd);
        safe_close(w->log_fd);
        safe_close(w->pty_peer_fd);
        if (w->dir && !w->running)
                (void) rm_rf(w->dir);
        free(w->dir);
        free(w->last_error);
        free(w->pty_path);
        free(w->console_file);
        free(w);
        return NULL;
}

/* The VM's terminal: a raw pty. Returns the master, for the child; keeps the other end. */
static int worker_open_pty(Worker *w, char *err, size_t errlen)
{
        _cleanup_close_ int master = -EBADF;
        char name[64];
        struct termios t;

        master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
        if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 || ptsname_r(master, name, sizeof name) != 0)
                return errbuf_fail(negative_errno(), err, errlen, "cannot create a pty: %m");
        w->pty_peer_fd = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
        if (w->pty_peer_fd < 0)
                return errbuf_fail(negative_errno(), err, errlen, "cannot open %s: %m", name);
        if (tcgetattr(w->pty_peer_fd, &t) == 0) {
                cfmakeraw(&t);
                (void) tcsetattr(w->pty_peer_fd, TCSANOW, &t);
        }
        w->pty_path = strdup(name);
        if (!w->pty_path)
                return -ENOMEM;
        return TAKE_FD(master);
}

static int worker_open_notify(Worker *w, char **ret_path, char *err, size_t errlen)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_free_ char *path = NULL;
        int one = 1;

        if (asprintf(&path, "%s/notify", w->dir) < 0)
                return -ENOMEM;
        if (strlen(path) >= sizeof sa.sun_path)
                return errbuf_fail(-ENAMETOOLONG, err, errlen, "the notify socket path %s is too long", path);
        strcpy(sa.sun_path, path);
        w->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (w->notify_fd < 0 || bind(w->notify_fd, (struct sockaddr *) &sa, sizeof sa) < 0 ||
            setsockopt(w->notify_fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0)
                return errbuf_fail(negative_errno(), err, errlen, "cannot make the notify socket %s: %m", path);
        *ret_path = TAKE_PTR(path);
        return 0;
}

/* What the worker is given: the VM's configuration with Pty modes turned into the VM's terminal. */
static int worker_write_config(Worker *w, bool *ret_terminal, char **ret_path, char *err, size_t errlen)
{
        _cleanup_free_ char *path = NULL, *text = NULL;
        cJSON *config = cJSON_Duplicate(w->vm->config, true);
        bool terminal = false;
        int r;

        if (!config)
                return -ENOMEM;
        for (const char *const *section = (const char *const[]) { "serial", "console", NULL }; *section; section++) {
                cJSON *c = cJSON_GetObjectItemCaseSensitive(config, *section);
                cJSON *mode = cJSON_GetObjectItemCaseSensitive(c, "mode");
                cJSON *file = cJSON_GetObjectItemCaseSensitive(c, "file");

                if (!cJSON_IsString(mode))
                        continue;
                if (streq(mode->valuestring, "Pty") || streq(mode->valuestring, "Tty")) {
                        terminal = true;
                        cJSON_SetValuestring(mode, "Tty");
                } else if (streq(mode->valuestring, "File") && cJSON_IsString(file) && !w->console_file) {
                        w->console_file = strdup(file->valuestring);
                        if (!w->console_file) {
                                cJSON_Delete(config);
                                return -ENOMEM;
                        }
                }
        }
        text = cJSON_Print(config);
        cJSON_Delete(config);
        if (!text || asprintf(&path, "%s/config.json", w->dir) < 0)
                return -ENOMEM;
        r = write_file_atomic(path, text, 0600);
        if (r < 0)
                return errbuf_fail(r, err, errlen, "cannot write %s: %m", path);
        *ret_terminal = terminal;
        *ret_path = TAKE_PTR(path);
        return 0;
}

/*
 * Starts chv-vmm at once (posix_spawn: no copy of chvd's memory, no child lingering between fork and
 * exec) with 0 and 1 the terminal (or /dev/null), 2 the log pipe, 3 the terminal's other end (kept, so
 * that the pty never hangs up) and 4 the pipe chv-vmm waits on (--wait-fd 4) until its scope exists.
 * All signals at their defaults and unblocked, but SIGPIPE: ignored, so that a chvd that goes away does
 * not take the VM along through its log pipe. A session of its own.
 */
static int worker_spawn_fds(const int fds[5], char **argv, char **envp, pid_t *ret);

static int worker_spawn(int io_fd, int log_fd, int peer_fd, int go_fd, char **argv, char **envp, pid_t *ret)
{
        const int sources[5] = { io_fd, io_fd, log_fd, peer_fd, go_fd };
        int fds[5] = { -EBADF, -EBADF, -EBADF, -EBADF, -EBADF }, r = 0;

        /* Fresh numbers above 4 first, so that putting one in place never overwrites another. */
        for (int i = 0; i < 5 && r == 0; i++) {
                fds[i] = fcntl(sources[i], F_DUPFD_CLOEXEC, 5);
                if (fds[i] < 0)
                        r = -errno;
        }
        if (r == 0)
                r = worker_spawn_fds(fds, argv, envp, ret);
        for (int i = 0; i < 5; i++)
                safe_close(fds[i]);
        return r;
}

static int worker_spawn_fds(const int fds[5], char **argv, char **envp, pid_t *ret)
{
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        sigset_t none, defaults;
        int r;

        sigemptyset(&none);
        sigfillset(&defaults);
        sigdelset(&defaults, SIGPIPE);
        r = posix_spawn_file_actions_init(&fa);
        if (r != 0)
                return -r;
        r = posix_spawnattr_init(&attr);
        if (r != 0) {
                posix_spawn_file_actions_destroy(&fa);
                return -r;
        }
        for (int i = 0; i < 5 && r == 0; i++)
                r = posix_spawn_file_actions_adddup2(&fa, fds[i], i);
        if (r == 0)
                r = posix_spawn_file_actions_addclosefrom_np(&fa, 5);
        if (r == 0)
                r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSID);
        if (r == 0)
                r = posix_spawnattr_setsigmask(&attr, &none);
        if (r == 0)
                r = posix_spawnattr_setsigdefault(&attr, &defaults);
        if (r == 0)
                r = posix_spawn(ret, argv[0], &fa, &attr, argv, envp);
        posix_spawnattr_destroy(&attr);
        posix_spawn_file_actions_destroy(&fa);
        return -r;
}

/*
 * The start time of a process (clock ticks since boot), which tells it from a later one with its PID.
 * -ESRCH for a process that has ended (a zombie nobody reaped).
 */
static int process_start_time(pid_t pid, uint64_t *ret)
{
        _cleanup_fclose_ FILE *f = NULL;
        char path[64], buf[1024], *p;
        unsigned long long t;
        size_t n;

        snprintf(path, sizeof path, "/proc/%d/stat", pid);
        f = fopen(path, "re");
        if (!f)
                return -errno;
        n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = 0;
        p = strrchr(buf, ')');
        /* After "pid (comm)": state is field 3, starttime field 22. */
        if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
                         &t) != 1)
                return -EIO;
        if (p[2] == 'Z' || p[2] == 'X')
                return -ESRCH;
        *ret = t;
        return 0;
}

int worker_save_state(Worker *w, const char *unit)
{
        _cleanup_free_ char *path = NULL, *text = NULL;
        cJSON *o = cJSON_CreateObject();
        uint64_t start = 0;
        int r;

        if (!o)
                return -ENOMEM;
        (void) process_start_time(w->pid, &start);
        cJSON_AddNumberToObject(o, "pid", w->pid);
        cJSON_AddNumberToObject(o, "start_time", (double) start);
        if (w->pty_path)
                cJSON_AddStringToObject(o, "pty", w->pty_path);
        if (w->console_file)
                cJSON_AddStringToObject(o, "console_file", w->console_file);
        if (unit)
                cJSON_AddStringToObject(o, "unit", unit);
        text = cJSON_Print(o);
        cJSON_Delete(o);
        if (!text || asprintf(&path, "%s/worker.json", w->dir) < 0)
                return -ENOMEM;
        r = write_file_atomic(path, text, 0600);
        if (r < 0)
                log_vm_errno(w->vm, LOG_WARNING, r, "Cannot write %s, a restarted chvd will not find the VM: %m",
                             path);
        return r;
}

static int on_pidfd(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        Worker *w = userdata;

        /* Not our child: that it ended is all there is to know. */
        w->running = false;
        vm_on_worker_exit(w->vm, NULL);
        return 0;
}

static char *json_strdup(const cJSON *o, const char *name)
{
        const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, name);
        return cJSON_IsString(j) ? strdup(j->valuestring) : NULL;
}

int worker_reattach(Vm *vm, Worker **ret)
{
        _cleanup_(worker_freep) Worker *w = NULL;
        _cleanup_free_ char *path = NULL, *dir = NULL;
        Manager *m = vm->manager;
        const cJSON *pid, *start;
        uint64_t now_start;
        cJSON *state = NULL;
        char err[256];
        int r;

        if (asprintf(&dir, "%s/vms/%s", m->config.runtime_dir, vm->name) < 0 ||
            asprintf(&path, "%s/worker.json", dir) < 0)
                return -ENOMEM;
        r = config_tree_load(path, &state, err, sizeof err);
        if (r < 0) {
                if (r != -ENOENT)
                        log_vm(vm, LOG_WARNING, "Ignoring %s", err);
                (void) rm_rf(dir); /* whatever is there belongs to a worker that is gone */
                return 0;
        }
        pid = cJSON_GetObjectItemCaseSensitive(state, "pid");
        start = cJSON_GetObjectItemCaseSensitive(state, "start_time");
        if (!cJSON_IsNumber(pid) || pid->valuedouble < 1 || !cJSON_IsNumber(start) ||
            process_start_time((pid_t) pid->valuedouble, &now_start) < 0 || (double) now_start != start->valuedouble) {
                cJSON_Delete(state);
                log_vm(vm, LOG_INFO, "The chv-vmm of an earlier chvd is gone.");
                (void) rm_rf(dir);
                return 0;
        }
        w = calloc(1, sizeof *w);
        if (!w) {
                cJSON_Delete(state);
                return -ENOMEM;
        }
        *w = (Worker) { .vm = vm, .pid = (pid_t) pid->valuedouble, .pidfd = -EBADF, .go_fd = -EBADF,
                        .notify_fd = -EBADF, .log_fd = -EBADF, .pty_peer_fd = -EBADF, .ready = true,
                        .reattached = true, .running = true, .dir = TAKE_PTR(dir) };
        w->pty_path = json_strdup(state, "pty");
        w->console_file = json_strdup(state, "console_file");
        free(vm->unit);
        vm->unit = json_strdup(state, "unit");
        cJSON_Delete(state);

        w->pidfd = pidfd_open(w->pid);
        if (w->pidfd < 0)
                return log_vm_errno(vm, LOG_WARNING, errno, "Cannot watch chv-vmm (PID %d) again: %m", w->pid);
        r = sd_event_add_io(m->event, &w->pidfd_source, w->pidfd, EPOLLIN, on_pidfd, w);
        if (r < 0)
                return log_vm_errno(vm, LOG_WARNING, r, "Cannot watch chv-vmm (PID %d) again: %m", w->pid);
        *ret = TAKE_PTR(w);
        return 1;
}

int worker_new(Vm *vm, Worker **ret, char *err, size_t errlen)
{
        _cleanup_(worker_freep) Worker *w = NULL;
        _cleanup_free_ char *config_path = NULL, *notify_path = NULL, *notify_env = NULL, *ctl_path = NULL;
        _cleanup_close_ int io_fd = -EBADF, go_r = -EBADF, log_w = -EBADF;
        Manager *m = vm->manager;
        int go[2], logp[2], r;
        bool terminal = false;
        pid_t pid;

        w = calloc(1, sizeof *w);
        if (!w)
                return -ENOMEM;
        *w = (Worker) { .vm = vm, .pidfd = -EBADF, .go_fd = -EBADF, .notify_fd = -EBADF, .log_fd = -EBADF,
                        .pty_peer_fd = -EBADF };
        if (asprintf(&w->dir, "%s/vms/%s", m->config.runtime_dir, vm->name) < 0)
                return -ENOMEM;
        /* Whatever an earlier worker left there is stale: it is not running (the VM is not). */
        (void) rm_rf(w->dir);
        r = mkdir_p(w->dir, 0700);
        if (r < 0)
                return errbuf_fail(r, err, errlen, "cannot create %s: %m", w->dir);

        r = worker_write_config(w, &terminal, &config_path, err, errlen);
        if (r < 0)
                return r;
        r = worker_open_notify(w, &notify_path, err, errlen);
        if (r < 0)
                return r;
        io_fd = terminal ? worker_open_pty(w, err, errlen) : open("/dev/null", O_RDWR | O_CLOEXEC | O_NOCTTY);
        if (io_fd < 0)
                return terminal ? io_fd : errbuf_fail(negative_errno(), err, errlen, "cannot open /dev/null: %m");
        if (pipe2(go, O_CLOEXEC) < 0)
                return errbuf_fail(negative_errno(), err, errlen, "cannot make a pipe: %m");
        go_r = go[0];
        w->go_fd = go[1];
        if (pipe2(logp, O_CLOEXEC) < 0)
                return errbuf_fail(negative_errno(), err, errlen, "cannot make a pipe: %m");
        w->log_fd = logp[0];
        log_w = logp[1];
        if (fcntl(w->log_fd, F_SETFL, O_NONBLOCK) < 0)
                return -errno;
        if (asprintf(&notify_env, "NOTIFY_SOCKET=%s", notify_path) < 0 || asprintf(&ctl_path, "%s/ctl", w->dir) < 0)
                return -ENOMEM;

        char *argv[] = { m->config.vmm_path, (char *) "--config", config_path, (char *) "--control-socket", ctl_path,
                         (char *) "--wait-fd", (char *) "4", NULL };
        char *envp[] = { notify_env, (char *) "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                         (char *) "LANG=C.UTF-8", NULL };

        r = worker_spawn(io_fd, log_w, w->pty_peer_fd >= 0 ? w->pty_peer_fd : io_fd, go_r, argv, envp, &pid);
        if (r < 0)
                return errbuf_fail(r, err, errlen, "cannot execute %s: %s", m->config.vmm_path, strerror(-r));
        w->pid = pid;
        w->pty_peer_fd = safe_close(w->pty_peer_fd); /* the child holds it now */

        w->pidfd = pidfd_open(pid);
        if (w->pidfd < 0) {
                r = errbuf_fail(negative_errno(), err, errlen, "cannot open a pidfd for process %d: %m", pid);
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                return r;
        }
        r = sd_event_add_child_pidfd(m->event, &w->child_source, w->pidfd, WEXITED, on_worker_exit, w);
        if (r < 0) {
                (void) pidfd_send_signal(w->pidfd, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                return errbuf_fail(r, err, errlen, "cannot watch process %d: %m", pid);
        }
        /* The exit is handled after whatever the worker wrote just before. */
        (void) sd_event_source_set_priority(w->child_source, SD_EVENT_PRIORITY_NORMAL + 10);

        r = sd_event_add_io(m->event, &w->log_source, w->log_fd, EPOLLIN, on_log, w);
        if (r >= 0)
                r = sd_event_add_io(m->event, &w->notify_source, w->notify_fd, EPOLLIN, on_notify, w);
        if (r < 0) {
                (void) worker_kill(w, SIGKILL);
                return errbuf_fail(r, err, errlen, "cannot watch the worker: %m");
        }
        (void) worker_save_state(w, NULL);
        w->running = true;
        *ret = TAKE_PTR(w);
        return 0;
}
