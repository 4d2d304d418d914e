/* SPDX-License-Identifier: Apache-2.0 */
/*
 * daemon-client: the measuring side of bench/daemon.py. It talks to chvd over D-Bus (sd-bus) and to
 * QEMU over QMP, and times what it does with CLOCK_MONOTONIC. Every mode prints one JSON object.
 *
 *   daemon-client ping
 *   daemon-client create PREFIX COUNT CONFIG_JSON
 *       defines PREFIX0 .. PREFIX<COUNT-1> (at most 16 calls in flight): wall time per call
 *   daemon-client fleet-chv PREFIX COUNT DIR CONFIG_JSON
 *       sends COUNT CreateVM calls at once, a Boot as soon as each VM exists, and watches DIR (inotify)
 *       for the first byte of each VM's serial file DIR/PREFIXi.serial ("@SERIAL@" in CONFIG_JSON is
 *       replaced by that path): per VM, the time of the CreateVM reply, of the Boot reply (chv-vmm's
 *       READY=1: the guest's first instruction) and of the first guest output, from the first call
 *   daemon-client fleet-qemu PREFIX COUNT DIR ARGV...
 *       starts COUNT processes from ARGV at once ("@SERIAL@" and "@QMP@" replaced by DIR/PREFIXi.serial
 *       and DIR/PREFIXi.qmp) and times the first byte of each serial file the same way
 *   daemon-client boot PREFIX COUNT
 *       Boot of PREFIX0 .. PREFIX<COUNT-1>, all at once: the time of each reply
 *   daemon-client stop-chv PREFIX COUNT
 *       Shutdown, then Delete, of every VM of a fleet, all at once
 *   daemon-client info NAME COUNT WARMUP
 *       COUNT calls of VM1.Info, one after the other, after WARMUP untimed ones: every latency (ns)
 *   daemon-client qmp SOCKET COUNT WARMUP
 *       the same with QMP's query-status on a running QEMU
 *
 * The processes of a QEMU fleet are left running (their PIDs are printed), as are chvd's VMs.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>
#include <time.h>
#include <unistd.h>

#define BUS_NAME "org.cloudhypervisor"
#define MANAGER_PATH "/org/cloudhypervisor"
#define MANAGER_IFACE "org.cloudhypervisor.Manager1"
#define VM_IFACE "org.cloudhypervisor.VM1"
#define VM_PREFIX "/org/cloudhypervisor/vm"
#define FLEET_TIMEOUT_SEC 600

extern char **environ;

static int64_t now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static _Noreturn void die(const char *what, int err)
{
        fprintf(stderr, "daemon-client: %s: %s\n", what, strerror(err < 0 ? -err : err));
        exit(1);
}

/* The process's CPU time (every thread, exited ones too), ns; -1 when it is gone. */
static int64_t process_cpu_ns(pid_t pid)
{
        struct timespec ts;
        clockid_t clk;

        if (pid <= 0 || clock_getcpuclockid(pid, &clk) != 0 || clock_gettime(clk, &ts) != 0)
                return -1;
        return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A copy of s with every "@KEY@" replaced by value. */
static char *replace(const char *s, const char *key, const char *value)
{
        size_t kl = strlen(key), vl = strlen(value), n = 0;
        const char *p;
        char *out, *o;

        for (p = s; (p = strstr(p, key)); p += kl)
                n++;
        out = malloc(strlen(s) + n * vl + 1);
        if (!out)
                die("malloc", ENOMEM);
        for (o = out; (p = strstr(s, key)); s = p + kl) {
                memcpy(o, s, (size_t) (p - s));
                o += p - s;
                memcpy(o, value, vl);
                o += vl;
        }
        strcpy(o, s);
        return out;
}

static void print_json_string(const char *s)
{
        putchar('"');
        for (; *s; s++) {
                if (*s == '"' || *s == '\\')
                        printf("\\%c", *s);
                else if ((unsigned char) *s < 0x20)
                        printf("\\u%04x", *s);
                else
                        putchar(*s);
        }
        putchar('"');
}

static sd_bus *open_bus(void)
{
        sd_bus *bus = NULL;
        int r = sd_bus_open_system(&bus);
        if (r < 0)
                die("cannot connect to the system bus", r);
        /* A fleet of VMs booting in an emulated KVM host can take longer than sd-bus's default 25 s. */
        r = sd_bus_set_method_call_timeout(bus, FLEET_TIMEOUT_SEC * 1000000ull);
        if (r < 0)
                die("sd_bus_set_method_call_timeout", r);
        return bus;
}

static char *vm_path(const char *name)
{
        char *path = NULL;
        int r = sd_bus_path_encode(VM_PREFIX, name, &path);
        if (r < 0)
                die("sd_bus_path_encode", r);
        return path;
}

/* One VM (or QEMU process) of a fleet. */
typedef struct Member {
        struct Fleet *fleet;
        unsigned index;
        char name[80];
        char serial[PATH_MAX];
        char *path;
        pid_t pid;
        int64_t t_created, t_booted, t_output;
        char *error;
} Member;

typedef struct Fleet {
        sd_event *event;
        pid_t watch[4];         /* WATCH_PIDS: processes whose CPU time is taken at the start and the end */
        int64_t watch_cpu0[4], watch_cpu1[4];
        unsigned n_watch;
        sd_bus *bus;
        Member *members;
        unsigned count, outputs, replies, failures;
        bool want_boot;
        int64_t t0;
        const char *dir;
} Fleet;

static void fleet_check_done(Fleet *f)
{
        if (f->outputs + f->failures >= f->count && (!f->want_boot || f->replies + f->failures >= f->count))
                sd_event_exit(f->event, 0);
}

static void member_fail(Member *m, const sd_bus_error *e, int r)
{
        if (m->error)
                return;
        if (asprintf(&m->error, "%s", e && e->message ? e->message : strerror(r < 0 ? -r : r)) < 0)
                m->error = NULL;
        m->fleet->failures++;
        fleet_check_done(m->fleet);
}

static int on_boot_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
        Member *m = userdata;
        int64_t t = now_ns();

        if (sd_bus_message_is_method_error(reply, NULL)) {
                member_fail(m, sd_bus_message_get_error(reply), -EIO);
                return 0;
        }
        m->t_booted = t - m->fleet->t0;
        m->fleet->replies++;
        fleet_check_done(m->fleet);
        return 0;
}

static int on_create_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
        Member *m = userdata;
        int64_t t = now_ns();
        const char *path;
        int r;

        if (sd_bus_message_is_method_error(reply, NULL)) {
                member_fail(m, sd_bus_message_get_error(reply), -EIO);
                return 0;
        }
        m->t_created = t - m->fleet->t0;
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0 || !(m->path = strdup(path))) {
                member_fail(m, NULL, r < 0 ? r : -ENOMEM);
                return 0;
        }
        r = sd_bus_call_method_async(m->fleet->bus, NULL, BUS_NAME, m->path, VM_IFACE, "Boot", on_boot_reply, m, "");
        if (r < 0)
                member_fail(m, NULL, r);
        return 0;
}

/* The serial files: a member's output starts with the first write that leaves its file non-empty. */
static int on_inotify(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        Fleet *f = userdata;
        char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));

        for (;;) {
                ssize_t n = read(fd, buf, sizeof buf);
                int64_t t = now_ns();

                if (n <= 0)
                        return 0;
                for (char *p = buf; p < buf + n;) {
                        struct inotify_event *ev = (struct inotify_event *) p;
                        p += sizeof *ev + ev->len;
                        if (!ev->len)
                                continue;
                        for (unsigned i = 0; i < f->count; i++) {
                                Member *m = &f->members[i];
                                struct stat st;
                                const char *base = strrchr(m->serial, '/') + 1;

                                if (m->t_output || strcmp(base, ev->name) != 0)
                                        continue;
                                if (stat(m->serial, &st) == 0 && st.st_size > 0) {
                                        m->t_output = t - f->t0;
                                        f->outputs++;
                                        fleet_check_done(f);
                                }
                                break;
                        }
                }
        }
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
        Fleet *f = userdata;
        fprintf(stderr, "daemon-client: fleet timed out: %u of %u outputs, %u boot replies\n", f->outputs, f->count,
                f->replies);
        sd_event_exit(f->event, 1);
        return 0;
}

static void fleet_init(Fleet *f, const char *prefix, unsigned count, const char *dir, const char *ext)
{
        int r;

        *f = (Fleet) { .count = count, .dir = dir };
        f->members = calloc(count, sizeof *f->members);
        if (!f->members)
                die("calloc", ENOMEM);
        for (unsigned i = 0; i < count; i++) {
                Member *m = &f->members[i];
                m->fleet = f;
                m->index = i;
                snprintf(m->name, sizeof m->name, "%s%u", prefix, i);
                snprintf(m->serial, sizeof m->serial, "%s/%s.%s", dir, m->name, ext);
        }
        r = sd_event_new(&f->event);
        if (r < 0)
                die("sd_event_new", r);
        for (const char *w = getenv("WATCH_PIDS"); w && *w && f->n_watch < 4;) {
                char *end;
                f->watch[f->n_watch++] = (pid_t) strtol(w, &end, 10);
                w = *end ? end + 1 : end;
        }
}

static void fleet_sample_watched(Fleet *f, int64_t *cpu)
{
        for (unsigned i = 0; i < f->n_watch; i++)
                cpu[i] = process_cpu_ns(f->watch[i]);
}

static int fleet_watch(Fleet *f)
{
        int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC), r;

        if (fd < 0 || inotify_add_watch(fd, f->dir, IN_MODIFY) < 0)
                die("inotify", errno);
        r = sd_event_add_io(f->event, NULL, fd, EPOLLIN, on_inotify, f);
        if (r < 0)
                die("sd_event_add_io", r);
        r = sd_event_add_time_relative(f->event, NULL, CLOCK_MONOTONIC, FLEET_TIMEOUT_SEC * 1000000ull, 0, on_timeout,
                                       f);
        if (r < 0)
                die("sd_event_add_time", r);
        return fd;
}

static void fleet_print(Fleet *f, int64_t t_done, int status)
{
        printf("{\"status\":%d,\"count\":%u,\"failures\":%u,\"done_ns\":%" PRId64 ",\"members\":[", status, f->count,
               f->failures, t_done);
        for (unsigned i = 0; i < f->count; i++) {
                Member *m = &f->members[i];
                printf("%s{\"name\":\"%s\",\"pid\":%d,\"created_ns\":%" PRId64 ",\"booted_ns\":%" PRId64
                       ",\"output_ns\":%" PRId64 ",\"cpu_ns\":%" PRId64,
                       i ? "," : "", m->name, (int) m->pid, m->t_created, m->t_booted, m->t_output,
                       process_cpu_ns(m->pid));
                if (m->error) {
                        printf(",\"error\":");
                        print_json_string(m->error);
                }
                putchar('}');
        }
        printf("],\"watched\":[");
        for (unsigned i = 0; i < f->n_watch; i++)
                printf("%s{\"pid\":%d,\"cpu_ns\":%" PRId64 "}", i ? "," : "", (int) f->watch[i],
                       f->watch_cpu1[i] - f->watch_cpu0[i]);
        printf("]}\n");
}

/*
 * The MainPID of each booted VM: asked once the fleet is up, outside the timed part, on a connection of
 * its own (the event loop's end closed the first).
 */
static void fleet_chv_pids(Fleet *f)
{
        sd_bus *bus = open_bus();

        for (unsigned i = 0; i < f->count; i++) {
                Member *m = &f->members[i];
                sd_bus_error e = SD_BUS_ERROR_NULL;
                uint32_t pid = 0;

                if (!m->path || m->error)
                        continue;
                int r = sd_bus_get_property_trivial(bus, BUS_NAME, m->path, VM_IFACE, "MainPID", &e, 'u', &pid);
                if (r >= 0)
                        m->pid = (pid_t) pid;
                else
                        fprintf(stderr, "daemon-client: MainPID of %s: %s\n", m->name, e.message ?: strerror(-r));
                sd_bus_error_free(&e);
        }
        sd_bus_flush_close_unref(bus);
}

static int cmd_fleet_chv(const char *prefix, unsigned count, const char *dir, const char *config)
{
        Fleet f;
        int64_t t_done;
        int r, status = 0;

        fleet_init(&f, prefix, count, dir, "serial");
        f.want_boot = true;
        f.bus = open_bus();
        r = sd_bus_attach_event(f.bus, f.event, 0);
        if (r < 0)
                die("sd_bus_attach_event", r);
        fleet_watch(&f);
        /* Everything that is not a call is made before the clock starts. */
        char **configs = calloc(count, sizeof *configs);
        if (!configs)
                die("calloc", ENOMEM);
        for (unsigned i = 0; i < count; i++)
                configs[i] = replace(config, "@SERIAL@", f.members[i].serial);

        fleet_sample_watched(&f, f.watch_cpu0);
        f.t0 = now_ns();
        for (unsigned i = 0; i < count; i++) {
                Member *m = &f.members[i];
                r = sd_bus_call_method_async(f.bus, NULL, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "CreateVM",
                                             on_create_reply, m, "ssa{sv}", m->name, configs[i], 0);
                if (r < 0)
                        member_fail(m, NULL, r);
        }
        r = sd_event_loop(f.event);
        t_done = now_ns() - f.t0;
        fleet_sample_watched(&f, f.watch_cpu1);
        if (r != 0)
                status = 1;
        fleet_chv_pids(&f);
        fleet_print(&f, t_done, status || f.failures ? 1 : 0);
        return status || f.failures ? 1 : 0;
}

static int cmd_fleet_qemu(const char *prefix, unsigned count, const char *dir, int argc, char **argv)
{
        posix_spawn_file_actions_t fa;
        Fleet f;
        int64_t t_done;
        int r, status = 0;

        fleet_init(&f, prefix, count, dir, "serial");
        fleet_watch(&f);
        char ***argvs = calloc(count, sizeof *argvs);
        if (!argvs)
                die("calloc", ENOMEM);
        for (unsigned i = 0; i < count; i++) {
                char qmp[PATH_MAX];
                snprintf(qmp, sizeof qmp, "%s/%s.qmp", dir, f.members[i].name);
                argvs[i] = calloc((size_t) argc + 1, sizeof **argvs);
                if (!argvs[i])
                        die("calloc", ENOMEM);
                for (int a = 0; a < argc; a++) {
                        char *s = replace(argv[a], "@SERIAL@", f.members[i].serial);
                        argvs[i][a] = replace(s, "@QMP@", qmp);
                        free(s);
                }
        }
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);

        fleet_sample_watched(&f, f.watch_cpu0);
        f.t0 = now_ns();
        for (unsigned i = 0; i < count; i++) {
                Member *m = &f.members[i];
                r = posix_spawn(&m->pid, argvs[i][0], &fa, NULL, argvs[i], environ);
                if (r != 0)
                        member_fail(m, NULL, r);
        }
        r = sd_event_loop(f.event);
        t_done = now_ns() - f.t0;
        fleet_sample_watched(&f, f.watch_cpu1);
        if (r != 0)
                status = 1;
        fleet_print(&f, t_done, status || f.failures ? 1 : 0);
        return status || f.failures ? 1 : 0;
}

/* Boot of VMs that exist, all at once: the time of each reply. */
static int cmd_boot(const char *prefix, unsigned count)
{
        Fleet f;
        int64_t t_done;
        int r;

        fleet_init(&f, prefix, count, "", "serial");
        f.want_boot = true;
        f.outputs = count; /* no serial output is waited for */
        f.bus = open_bus();
        r = sd_bus_attach_event(f.bus, f.event, 0);
        if (r < 0)
                die("sd_bus_attach_event", r);
        fleet_sample_watched(&f, f.watch_cpu0);
        f.t0 = now_ns();
        for (unsigned i = 0; i < count; i++) {
                Member *m = &f.members[i];
                m->path = vm_path(m->name);
                r = sd_bus_call_method_async(f.bus, NULL, BUS_NAME, m->path, VM_IFACE, "Boot", on_boot_reply, m, "");
                if (r < 0)
                        member_fail(m, NULL, r);
        }
        r = sd_event_loop(f.event);
        t_done = now_ns() - f.t0;
        fleet_sample_watched(&f, f.watch_cpu1);
        fleet_chv_pids(&f);
        fleet_print(&f, t_done, r != 0 || f.failures ? 1 : 0);
        return r != 0 || f.failures ? 1 : 0;
}

/* Shutdown (which returns once the worker is gone), then Delete, for every VM at once. */
static unsigned stop_pending;

static int on_delete_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
        if (sd_bus_message_is_method_error(reply, NULL))
                fprintf(stderr, "daemon-client: Delete: %s\n", sd_bus_message_get_error(reply)->message);
        if (--stop_pending == 0)
                sd_event_exit(sd_bus_get_event(sd_bus_message_get_bus(reply)), 0);
        return 0;
}

static int on_shutdown_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        const char *path = userdata;

        /* A VM that is not running (its boot failed) can be deleted as it is. */
        if (e && !sd_bus_error_has_name(e, "org.cloudhypervisor.Error.InvalidState"))
                fprintf(stderr, "daemon-client: Shutdown: %s\n", e->message);
        if (sd_bus_call_method_async(sd_bus_message_get_bus(reply), NULL, BUS_NAME, path, VM_IFACE, "Delete",
                                     on_delete_reply, NULL, "") < 0 &&
            --stop_pending == 0)
                sd_event_exit(sd_bus_get_event(sd_bus_message_get_bus(reply)), 0);
        return 0;
}

static int cmd_stop_chv(const char *prefix, unsigned count)
{
        sd_event *event = NULL;
        sd_bus *bus = open_bus();
        int64_t t0 = now_ns();
        int r;

        r = sd_event_new(&event);
        if (r >= 0)
                r = sd_bus_attach_event(bus, event, 0);
        if (r < 0)
                die("sd-event", r);
        for (unsigned i = 0; i < count; i++) {
                char name[80];
                snprintf(name, sizeof name, "%s%u", prefix, i);
                char *path = vm_path(name);
                if (sd_bus_call_method_async(bus, NULL, BUS_NAME, path, VM_IFACE, "Shutdown", on_shutdown_reply, path,
                                             "") >= 0)
                        stop_pending++;
        }
        if (stop_pending)
                r = sd_event_loop(event);
        printf("{\"status\":%d,\"wall_ns\":%" PRId64 "}\n", r < 0 ? 1 : 0, now_ns() - t0);
        return r < 0 ? 1 : 0;
}

/* CreateVM of COUNT VMs, at most WINDOW calls in flight. */
static unsigned create_next, create_done, create_count, create_failed;
static const char *create_prefix, *create_config;
static int64_t *create_lat, *create_sent;

static int create_send(sd_bus *bus);

static int on_create_one(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
        unsigned i = (unsigned) (uintptr_t) userdata;

        create_lat[i] = now_ns() - create_sent[i];
        if (sd_bus_message_is_method_error(reply, NULL)) {
                if (create_failed++ == 0)
                        fprintf(stderr, "daemon-client: CreateVM: %s\n", sd_bus_message_get_error(reply)->message);
        }
        create_done++;
        if (create_done == create_count)
                sd_event_exit(sd_bus_get_event(sd_bus_message_get_bus(reply)), 0);
        else
                (void) create_send(sd_bus_message_get_bus(reply));
        return 0;
}

static int create_send(sd_bus *bus)
{
        char name[80];
        unsigned i;
        int r;

        if (create_next >= create_count)
                return 0;
        i = create_next++;
        snprintf(name, sizeof name, "%s%u", create_prefix, i);
        char *config = replace(create_config, "@NAME@", name);
        create_sent[i] = now_ns();
        r = sd_bus_call_method_async(bus, NULL, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "CreateVM", on_create_one,
                                     (void *) (uintptr_t) i, "ssa{sv}", name, config, 0);
        free(config);
        if (r < 0)
                die("CreateVM", r);
        return 0;
}

static int cmd_create(const char *prefix, unsigned count, const char *config)
{
        sd_event *event = NULL;
        sd_bus *bus = open_bus();
        int64_t t0;
        int r;

        create_prefix = prefix;
        create_config = config;
        create_count = count;
        create_lat = calloc(count, sizeof *create_lat);
        create_sent = calloc(count, sizeof *create_sent);
        if (!create_lat || !create_sent)
                die("calloc", ENOMEM);
        r = sd_event_new(&event);
        if (r >= 0)
                r = sd_bus_attach_event(bus, event, 0);
        if (r < 0)
                die("sd-event", r);
        t0 = now_ns();
        for (unsigned i = 0; i < 16; i++)
                create_send(bus);
        if (count)
                r = sd_event_loop(event);
        printf("{\"status\":%d,\"failures\":%u,\"wall_ns\":%" PRId64 ",\"latency_ns\":[", r < 0 || create_failed,
               create_failed, now_ns() - t0);
        for (unsigned i = 0; i < count; i++)
                printf("%s%" PRId64, i ? "," : "", create_lat[i]);
        printf("]}\n");
        return r < 0 || create_failed ? 1 : 0;
}

static void print_latencies(const int64_t *lat, unsigned count, size_t reply_bytes)
{
        printf("{\"status\":0,\"reply_bytes\":%zu,\"latency_ns\":[", reply_bytes);
        for (unsigned i = 0; i < count; i++)
                printf("%s%" PRId64, i ? "," : "", lat[i]);
        printf("]}\n");
}

static int cmd_info(const char *name, unsigned count, unsigned warmup)
{
        sd_bus *bus = open_bus();
        char *path = vm_path(name);
        int64_t *lat = calloc(count ? count : 1, sizeof *lat);
        size_t bytes = 0;

        if (!lat)
                die("calloc", ENOMEM);
        for (unsigned i = 0; i < warmup + count; i++) {
                sd_bus_error e = SD_BUS_ERROR_NULL;
                sd_bus_message *reply = NULL;
                const char *info;
                int64_t t = now_ns();
                int r = sd_bus_call_method(bus, BUS_NAME, path, VM_IFACE, "Info", &e, &reply, "");
                int64_t dt = now_ns() - t;

                if (r < 0) {
                        fprintf(stderr, "daemon-client: Info: %s\n", e.message ?: strerror(-r));
                        return 1;
                }
                if (sd_bus_message_read(reply, "s", &info) >= 0)
                        bytes = strlen(info);
                sd_bus_message_unref(reply);
                if (i >= warmup)
                        lat[i - warmup] = dt;
        }
        print_latencies(lat, count, bytes);
        return 0;
}

/* One line of QMP that is not an event. */
static ssize_t qmp_read_reply(int fd, char *buf, size_t size)
{
        size_t len = 0;

        for (;;) {
                ssize_t n = read(fd, buf + len, size - 1 - len);
                char *nl;

                if (n <= 0)
                        return -1;
                len += (size_t) n;
                buf[len] = 0;
                while ((nl = strchr(buf, '\n'))) {
                        size_t line = (size_t) (nl - buf) + 1;
                        bool event = strncmp(buf, "{\"event\"", 8) == 0;
                        if (!event)
                                return (ssize_t) line;
                        memmove(buf, buf + line, len - line + 1);
                        len -= line;
                }
                if (len >= size - 1)
                        return -1;
        }
}

static int cmd_qmp(const char *socket_path, unsigned count, unsigned warmup)
{
        static const char caps[] = "{\"execute\":\"qmp_capabilities\"}\n";
        static const char query[] = "{\"execute\":\"query-status\"}\n";
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int64_t *lat = calloc(count ? count : 1, sizeof *lat);
        char buf[8192];
        ssize_t n = 0;
        int fd;

        if (!lat)
                die("calloc", ENOMEM);
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", socket_path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0)
                die(socket_path, errno);
        if (qmp_read_reply(fd, buf, sizeof buf) < 0 || write(fd, caps, sizeof caps - 1) < 0 ||
            qmp_read_reply(fd, buf, sizeof buf) < 0)
                die("QMP greeting", EPROTO);
        for (unsigned i = 0; i < warmup + count; i++) {
                int64_t t = now_ns();
                if (write(fd, query, sizeof query - 1) != (ssize_t) sizeof query - 1 ||
                    (n = qmp_read_reply(fd, buf, sizeof buf)) < 0)
                        die("QMP query-status", EPROTO);
                int64_t dt = now_ns() - t;
                if (!strstr(buf, "\"return\""))
                        die("QMP query-status gave no return", EPROTO);
                if (i >= warmup)
                        lat[i - warmup] = dt;
        }
        print_latencies(lat, count, (size_t) n);
        close(fd);
        return 0;
}

static int cmd_ping(void)
{
        sd_bus *bus = open_bus();
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        int r = sd_bus_call_method(bus, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "Ping", &e, &reply, "");

        if (r < 0) {
                fprintf(stderr, "daemon-client: Ping: %s\n", e.message ?: strerror(-r));
                return 1;
        }
        printf("{\"status\":0}\n");
        return 0;
}

static unsigned parse_count(const char *s)
{
        char *end;
        unsigned long v = strtoul(s, &end, 10);
        if (!*s || *end || v > 100000) {
                fprintf(stderr, "daemon-client: bad number %s\n", s);
                exit(2);
        }
        return (unsigned) v;
}

static _Noreturn void usage(void)
{
        fprintf(stderr, "usage: daemon-client ping | create PREFIX COUNT CONFIG | boot PREFIX COUNT | fleet-chv PREFIX COUNT DIR CONFIG |\n"
                        "       fleet-qemu PREFIX COUNT DIR ARGV... | stop-chv PREFIX COUNT | info NAME COUNT WARMUP |\n"
                        "       qmp SOCKET COUNT WARMUP\n");
        exit(2);
}

int main(int argc, char **argv)
{
        const char *cmd = argc > 1 ? argv[1] : "";

        signal(SIGPIPE, SIG_IGN);
        setvbuf(stdout, NULL, _IOFBF, 1 << 16);
        if (!strcmp(cmd, "ping") && argc == 2)
                return cmd_ping();
        if (!strcmp(cmd, "create") && argc == 5)
                return cmd_create(argv[2], parse_count(argv[3]), argv[4]);
        if (!strcmp(cmd, "fleet-chv") && argc == 6)
                return cmd_fleet_chv(argv[2], parse_count(argv[3]), argv[4], argv[5]);
        if (!strcmp(cmd, "fleet-qemu") && argc > 5)
                return cmd_fleet_qemu(argv[2], parse_count(argv[3]), argv[4], argc - 5, argv + 5);
        if (!strcmp(cmd, "boot") && argc == 4)
                return cmd_boot(argv[2], parse_count(argv[3]));
        if (!strcmp(cmd, "stop-chv") && argc == 4)
                return cmd_stop_chv(argv[2], parse_count(argv[3]));
        if (!strcmp(cmd, "info") && argc == 5)
                return cmd_info(argv[2], parse_count(argv[3]), parse_count(argv[4]));
        if (!strcmp(cmd, "qmp") && argc == 5)
                return cmd_qmp(argv[2], parse_count(argv[3]), parse_count(argv[4]));
        usage();
}
