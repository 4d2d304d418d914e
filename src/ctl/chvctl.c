/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <sys/stat.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>

#include "config-file.h"
#include "console.h"
#include "table.h"
#include "vm-config-cli.h"

#define BUS_NAME "org.cloudhypervisor"
#define MANAGER_PATH "/org/cloudhypervisor"
#define MANAGER_INTERFACE "org.cloudhypervisor.Manager1"
#define VM_INTERFACE "org.cloudhypervisor.VM1"
#define VM_PREFIX "/org/cloudhypervisor/vm"

/* Exit statuses scripts can tell apart (chvctl(1)). */
enum {
        EXIT_FAILED = 1,
        EXIT_USAGE = 2,
        EXIT_NOT_FOUND = 3,
        EXIT_INVALID_STATE = 4,
        EXIT_ACCESS_DENIED = 5,
        EXIT_INVALID = 6,        /* a name or configuration chvd does not take */
        EXIT_EXISTS = 7,
        EXIT_NO_DAEMON = 8,
};

/* Long calls (a boot under emulation, a stop that waits for the stop timeout) get this long. */
#define LONG_CALL_USEC (UINT64_C(600) * 1000000)

static bool arg_json;
static bool arg_legend = true;

static int usage_error(const char *fmt, ...) _printf_(1, 2);
static int usage_error(const char *fmt, ...)
{
        va_list ap;

        fputs("chvctl: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputs(" (see chvctl --help)\n", stderr);
        return -EXIT_USAGE;
}

static int fail(int status, const char *fmt, ...) _printf_(2, 3);
static int fail(int status, const char *fmt, ...)
{
        va_list ap;

        fputs("chvctl: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        return -status;
}

/* A failed call, in words and as an exit status; with --json, as a JSON object on standard error. */
static int bus_fail(const sd_bus_error *e, int r)
{
        static const struct {
                const char *name;
                int status;
        } map[] = {
                { "org.cloudhypervisor.Error.NotFound", EXIT_NOT_FOUND },
                { "org.freedesktop.DBus.Error.UnknownObject", EXIT_NOT_FOUND },
                { "org.cloudhypervisor.Error.InvalidState", EXIT_INVALID_STATE },
                { "org.cloudhypervisor.Error.AccessDenied", EXIT_ACCESS_DENIED },
                { "org.freedesktop.DBus.Error.AccessDenied", EXIT_ACCESS_DENIED },
                { "org.cloudhypervisor.Error.InvalidName", EXIT_INVALID },
                { "org.cloudhypervisor.Error.InvalidConfig", EXIT_INVALID },
                { "org.cloudhypervisor.Error.AlreadyExists", EXIT_EXISTS },
                { "org.freedesktop.DBus.Error.ServiceUnknown", EXIT_NO_DAEMON },
                { "org.freedesktop.DBus.Error.NameHasNoOwner", EXIT_NO_DAEMON },
        };
        const char *name = sd_bus_error_is_set(e) ? e->name : NULL;
        char message[1024];
        int status = EXIT_FAILED;

        for (size_t i = 0; name && i < ELEMENTSOF(map); i++)
                if (streq(name, map[i].name))
                        status = map[i].status;
        if (status == EXIT_NO_DAEMON)
                snprintf(message, sizeof message, "chvd is not running (no %s on the system bus): start it with "
                                                  "systemctl start chvd", BUS_NAME);
        else if (name && streq(name, "org.freedesktop.DBus.Error.AccessDenied"))
                snprintf(message, sizeof message, "Access denied: this needs root (%s)", e->message ?: name);
        else if (name)
                snprintf(message, sizeof message, "%s", e->message ?: name);
        else
                snprintf(message, sizeof message, "%s", strerror(abs(r)));
        if (arg_json) {
                cJSON *o = cJSON_CreateObject();
                _cleanup_free_ char *s = NULL;
                cJSON_AddStringToObject(o, "error", name ?: "");
                cJSON_AddStringToObject(o, "message", message);
                s = cJSON_PrintUnformatted(o);
                cJSON_Delete(o);
                fprintf(stderr, "%s\n", s ?: message);
        } else
                fprintf(stderr, "chvctl: %s\n", message);
        return -status;
}

static int bus_connect(sd_bus **ret)
{
        int r = sd_bus_open_system(ret);
        if (r < 0)
                return fail(EXIT_NO_DAEMON, "cannot connect to the system bus: %s", strerror(-r));
        return 0;
}

/* The object of the VM called name (GetVM, so that chvd checks the name). */
static int vm_path(sd_bus *bus, const char *name, char **ret)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        const char *path;
        int r;

        r = sd_bus_call_method(bus, BUS_NAME, MANAGER_PATH, MANAGER_INTERFACE, "GetVM", &e, &reply, "s", name);
        if (r < 0)
                return bus_fail(&e, r);
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return bus_fail(NULL, r);
        *ret = strdup(path);
        return *ret ? 0 : fail(EXIT_FAILED, "out of memory");
}

/* Calls method on the VM; the reply, if wanted, in *ret. */
static int vm_call(sd_bus *bus, const char *name, const char *method, uint64_t timeout, sd_bus_message **ret)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *path = NULL;
        int r;

        r = vm_path(bus, name, &path);
        if (r < 0)
                return r;
        r = sd_bus_message_new_method_call(bus, &m, BUS_NAME, path, VM_INTERFACE, method);
        if (r < 0)
                return bus_fail(NULL, r);
        r = sd_bus_call(bus, m, timeout, &e, &reply);
        if (r < 0)
                return bus_fail(&e, r);
        if (ret)
                *ret = TAKE_PTR(reply);
        return 0;
}

static void print_json(cJSON *j)
{
        _cleanup_free_ char *s = cJSON_Print(j);
        if (s)
                printf("%s\n", s);
}

static int verb_list(sd_bus *bus, int argc, char **argv)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(table_freep) Table *t = table_new(3, (const char *const[]) { "NAME", "STATE", "UUID" });
        cJSON *list = cJSON_CreateArray();
        const char *name, *uuid, *state, *path;
        int r;

        if (!t || !list) {
                cJSON_Delete(list);
                return fail(EXIT_FAILED, "out of memory");
        }
        r = sd_bus_call_method(bus, BUS_NAME, MANAGER_PATH, MANAGER_INTERFACE, "ListVMs", &e, &reply, NULL);
        if (r < 0) {
                cJSON_Delete(list);
                return bus_fail(&e, r);
        }
        r = sd_bus_message_enter_container(reply, 'a', "(ssso)");
        while (r >= 0 && (r = sd_bus_message_read(reply, "(ssso)", &name, &uuid, &state, &path)) > 0) {
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "name", name);
                cJSON_AddStringToObject(o, "uuid", uuid);
                cJSON_AddStringToObject(o, "state", state);
                cJSON_AddStringToObject(o, "path", path);
                cJSON_AddItemToArray(list, o);
                (void) table_add_row(t, (const char *const[]) { name, state, uuid });
        }
        if (r < 0) {
                cJSON_Delete(list);
                return bus_fail(NULL, r);
        }
        if (arg_json)
                print_json(list);
        else {
                table_print(t, stdout, arg_legend);
                if (arg_legend)
                        printf("\n%zu VM%s listed.\n", table_rows(t), table_rows(t) == 1 ? "" : "s");
        }
        cJSON_Delete(list);
        return 0;
}

/* chvd is elsewhere: a relative path becomes BASE/path, BASE being where chvctl runs for its options and
 * the directory of the file for a configuration file (as a build file names its sources). */
static int absolutize(cJSON *obj, const char *member, const char *base)
{
        cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, member);
        _cleanup_free_ char *abs = NULL, *real = NULL;

        if (!cJSON_IsString(j) || j->valuestring[0] == '/' || j->valuestring[0] == 0)
                return 0;
        if (asprintf(&abs, "%s/%s", base, j->valuestring) < 0)
                return -ENOMEM;
        /* Without the ../ and symlinks where the file is there; chvd says so where it is not. */
        real = realpath(abs, NULL);
        return cJSON_SetValuestring(j, real ?: abs) ? 0 : -ENOMEM;
}

static int absolutize_paths(cJSON *root, const char *base)
{
        cJSON *payload = cJSON_GetObjectItemCaseSensitive(root, "payload"), *d;
        int r = 0;

        r = r ?: absolutize(payload, "kernel", base);
        r = r ?: absolutize(payload, "initramfs", base);
        r = r ?: absolutize(cJSON_GetObjectItemCaseSensitive(root, "serial"), "file", base);
        r = r ?: absolutize(cJSON_GetObjectItemCaseSensitive(root, "console"), "file", base);
        r = r ?: absolutize(cJSON_GetObjectItemCaseSensitive(root, "rng"), "src", base);
        cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(root, "disks"))
                r = r ?: absolutize(d, "path", base);
        return r;
}

/* The directory relative paths are taken from: FILE's own, or the working directory. */
static char *path_base(const char *file)
{
        _cleanup_free_ char *abs = NULL;
        char *slash;

        if (!file)
                return getcwd(NULL, 0);
        abs = realpath(file, NULL);
        if (!abs)
                return NULL;
        slash = strrchr(abs, '/');
        if (slash == abs)
                slash[1] = 0;
        else
                *slash = 0;
        return TAKE_PTR(abs);
}

/* create NAME FILE | create NAME --kernel ... (Cloud Hypervisor's options) */
static int verb_create(sd_bus *bus, int argc, char **argv)
{
        enum { OPT_KERNEL = 0x100, OPT_INITRAMFS, OPT_CMDLINE, OPT_CPUS, OPT_MEMORY, OPT_SERIAL, OPT_CONSOLE,
               OPT_DISK, OPT_NET, OPT_RNG, OPT_UUID, OPT_REPLACE };
        static const struct option options[] = {
                { "kernel", required_argument, NULL, OPT_KERNEL },
                { "initramfs", required_argument, NULL, OPT_INITRAMFS },
                { "cmdline", required_argument, NULL, OPT_CMDLINE },
                { "cpus", required_argument, NULL, OPT_CPUS },
                { "memory", required_argument, NULL, OPT_MEMORY },
                { "serial", required_argument, NULL, OPT_SERIAL },
                { "console", required_argument, NULL, OPT_CONSOLE },
                { "disk", required_argument, NULL, OPT_DISK },
                { "net", required_argument, NULL, OPT_NET },
                { "rng", required_argument, NULL, OPT_RNG },
                { "uuid", required_argument, NULL, OPT_UUID },
                { "replace", no_argument, NULL, OPT_REPLACE },
                {},
        };
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *text = NULL, *base = NULL;
        const char *name, *file = NULL, *uuid = NULL, *path;
        cJSON *tree = cJSON_CreateObject();
        bool options_given = false, replace = false;
        char err[1024];
        int c, r = 0;

        if (!tree)
                return fail(EXIT_FAILED, "out of memory");
        optind = 0;
        /* Options and operands in any order: create NAME --kernel K and create --kernel K NAME alike. */
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
                options_given |= c != OPT_UUID && c != OPT_REPLACE;
                switch (c) {
                case OPT_KERNEL:
                case OPT_INITRAMFS:
                case OPT_CMDLINE:
                        r = cli_payload_to_json(c == OPT_KERNEL ? "kernel" : c == OPT_INITRAMFS ? "initramfs" : "cmdline",
                                                optarg, tree, err, sizeof err);
                        break;
                case OPT_CPUS:
                        r = cli_cpus_to_json(optarg, tree, err, sizeof err);
                        break;
                case OPT_MEMORY:
                        r = cli_memory_to_json(optarg, tree, err, sizeof err);
                        break;
                case OPT_SERIAL:
                case OPT_CONSOLE:
                        r = cli_console_to_json(c == OPT_SERIAL ? "serial" : "console", optarg, tree, err, sizeof err);
                        break;
                case OPT_DISK:
                        r = cli_disk_to_json(optarg, tree, err, sizeof err);
                        break;
                case OPT_NET:
                        r = cli_net_to_json(optarg, tree, err, sizeof err);
                        break;
                case OPT_RNG:
                        r = cli_rng_to_json(optarg, tree, err, sizeof err);
                        break;
                case OPT_UUID:
                        uuid = optarg;
                        break;
                case OPT_REPLACE:
                        replace = true;
                        break;
                default:
                        cJSON_Delete(tree);
                        return usage_error("create: unknown option or missing value '%s'", argv[optind - 1]);
                }
                if (r < 0) {
                        cJSON_Delete(tree);
                        return r == -ENOMEM ? fail(EXIT_FAILED, "out of memory") : fail(EXIT_INVALID, "%s", err);
                }
        }
        if (optind >= argc) {
                cJSON_Delete(tree);
                return usage_error("create needs a name");
        }
        name = argv[optind++];
        if (optind < argc)
                file = argv[optind++];
        if (optind < argc || (file && options_given) || (!file && !options_given)) {
                cJSON_Delete(tree);
                return usage_error("create takes a name and either a file (YAML or JSON) or Cloud Hypervisor's "
                                   "options (--kernel ...), not both");
        }
        if (file) {
                cJSON_Delete(tree);
                tree = NULL;
                r = config_tree_load(file, &tree, err, sizeof err);
                if (r < 0)
                        return r == -ENOMEM ? fail(EXIT_FAILED, "out of memory") : fail(EXIT_INVALID, "%s", err);
        }
        base = path_base(file);
        if (!base) {
                cJSON_Delete(tree);
                return fail(EXIT_FAILED, "cannot resolve the directory of %s: %m", file ?: ".");
        }
        if (absolutize_paths(tree, base) < 0) {
                cJSON_Delete(tree);
                return fail(EXIT_FAILED, "out of memory");
        }
        text = cJSON_PrintUnformatted(tree);
        cJSON_Delete(tree);
        if (!text)
                return fail(EXIT_FAILED, "out of memory");

        r = sd_bus_message_new_method_call(bus, &m, BUS_NAME, MANAGER_PATH, MANAGER_INTERFACE, "CreateVM");
        if (r >= 0)
                r = sd_bus_message_append(m, "ss", name, text);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0 && uuid)
                r = sd_bus_message_append(m, "{sv}", "uuid", "s", uuid);
        if (r >= 0 && replace)
                r = sd_bus_message_append(m, "{sv}", "replace", "b", 1);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r < 0)
                return bus_fail(NULL, r);
        r = sd_bus_call(bus, m, 0, &e, &reply);
        if (r < 0)
                return bus_fail(&e, r);
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return bus_fail(NULL, r);
        if (arg_json) {
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "name", name);
                cJSON_AddStringToObject(o, "path", path);
                print_json(o);
                cJSON_Delete(o);
        }
        return 0;
}

/* shutdown, reboot, power-button, pause, resume, delete: NAME..., each in turn; the first failure ends it. */
static int verb_simple(sd_bus *bus, int argc, char **argv)
{
        static const struct {
                const char *verb;
                const char *method;
        } methods[] = {
                { "shutdown", "Shutdown" }, { "reboot", "Reboot" },
                { "power-button", "PowerButton" }, { "delete", "Delete" }, { "pause", "Pause" },
                { "resume", "Resume" },
        };
        const char *method = NULL;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(methods); i++)
                if (streq(argv[0], methods[i].verb))
                        method = methods[i].method;
        if (argc < 2)
                return usage_error("%s needs the name of a VM", argv[0]);
        for (int i = 1; i < argc; i++) {
                r = vm_call(bus, argv[i], method, LONG_CALL_USEC, NULL);
                if (r < 0)
                        return r;
        }
        return 0;
}

static const char *json_string(const cJSON *o, const char *name)
{
        const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, name);
        return cJSON_IsString(j) ? j->valuestring : NULL;
}

static double json_number(const cJSON *o, const char *name)
{
        const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, name);
        return cJSON_IsNumber(j) ? j->valuedouble : 0;
}

static bool json_true(const cJSON *o, const char *name)
{
        return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, name));
}

static int on_vm_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
        *(bool *) userdata = true;
        return 0;
}

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
        stop_requested = 1;
}

/*
 * Until the VM ends: 0 Shutdown, EXIT_FAILED Failed. A chvd that restarts meanwhile is waited for.
 * SIGTERM or SIGINT shut the VM down (as stopping the service does) and go on waiting.
 */
static int wait_vm_ended(sd_bus *bus, const char *name, const char *path)
{
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        struct sigaction sa = { .sa_handler = on_stop_signal }; /* no SA_RESTART: the wait ends with EINTR */
        bool changed = true, said_gone = false;
        int r;

        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);

        r = sd_bus_match_signal(bus, &slot, BUS_NAME, path, "org.freedesktop.DBus.Properties", "PropertiesChanged",
                                on_vm_changed, &changed);
        if (r < 0)
                return bus_fail(NULL, r);
        for (;;) {
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
                _cleanup_free_ char *state = NULL;

                if (stop_requested) {
                        stop_requested = 0;
                        fprintf(stderr, "chvctl: shutting down VM %s\n", name);
                        /* Shutdown returns once the VM is gone; a VM that is stopping already is waited for. */
                        r = vm_call(bus, name, "Shutdown", LONG_CALL_USEC, NULL);
                        if (r < 0 && r != -EXIT_INVALID_STATE)
                                return r;
                        changed = true;
                }
                if (changed) {
                        changed = false;
                        r = sd_bus_get_property_string(bus, BUS_NAME, path, VM_INTERFACE, "State", &e, &state);
                        if (r < 0 && !sd_bus_error_has_names(&e, "org.freedesktop.DBus.Error.ServiceUnknown",
                                                             "org.freedesktop.DBus.Error.NameHasNoOwner",
                                                             "org.freedesktop.DBus.Error.NoReply"))
                                return bus_fail(&e, r);
                        if (r < 0) {
                                if (!said_gone)
                                        fprintf(stderr, "chvctl: chvd went away; waiting for it to come back\n");
                                said_gone = true;
                                changed = true; /* ask again after the wait below */
                        } else if (streq(state, "Shutdown") || streq(state, "Created"))
                                return 0;
                        else if (streq(state, "Failed")) {
                                _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
                                const char *text = NULL;
                                cJSON *j = NULL;
                                if (vm_call(bus, name, "Info", 0, &reply) >= 0 &&
                                    sd_bus_message_read(reply, "s", &text) >= 0)
                                        j = cJSON_Parse(text);
                                fail(EXIT_FAILED, "VM %s failed: %s", name,
                                     strna(json_string(j, "failure")));
                                cJSON_Delete(j);
                                return -EXIT_FAILED;
                        } else
                                said_gone = false;
                }
                r = sd_bus_process(bus, NULL);
                if (r < 0)
                        return fail(EXIT_FAILED, "the bus connection failed: %s", strerror(-r));
                if (r > 0)
                        continue;
                /* Signals say when; the timeout is there for a chvd that restarted without a word. */
                r = sd_bus_wait(bus, 5 * 1000000ULL);
                if (r < 0 && r != -EINTR)
                        return fail(EXIT_FAILED, "the bus connection failed: %s", strerror(-r));
                if (r == 0)
                        changed = true;
        }
}

/* boot [--wait] NAME...: with --wait (one VM), then stays until the VM ends, telling systemd (Type=notify)
 * that it runs: what chv-vm@.service runs. */
static int verb_boot(sd_bus *bus, int argc, char **argv)
{
        static const struct option options[] = {
                { "wait", no_argument, NULL, 'w' },
                {},
        };
        _cleanup_free_ char *path = NULL;
        bool wait = false;
        int c, r;

        optind = 0;
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
                if (c != 'w')
                        return usage_error("boot: unknown option '%s'", argv[optind - 1]);
                wait = true;
        }
        if (optind >= argc)
                return usage_error("boot needs the name of a VM");
        if (wait && argc - optind != 1)
                return usage_error("boot --wait takes the name of one VM");
        for (int i = optind; i < argc; i++) {
                r = vm_call(bus, argv[i], "Boot", LONG_CALL_USEC, NULL);
                if (r < 0)
                        return r;
        }
        if (!wait)
                return 0;
        r = vm_path(bus, argv[optind], &path);
        if (r < 0)
                return r;
        (void) sd_notifyf(false, "READY=1\nSTATUS=VM %s runs", argv[optind]);
        r = wait_vm_ended(bus, argv[optind], path);
        (void) sd_notifyf(false, "STOPPING=1\nSTATUS=VM %s has ended", argv[optind]);
        return r;
}

static void print_info(const cJSON *info)
{
        const cJSON *config = cJSON_GetObjectItemCaseSensitive(info, "config");
        const cJSON *payload = cJSON_GetObjectItemCaseSensitive(config, "payload");
        const cJSON *cpus = cJSON_GetObjectItemCaseSensitive(config, "cpus");
        const cJSON *memory = cJSON_GetObjectItemCaseSensitive(config, "memory");
        const cJSON *d;
        const char *s;

        printf("        Name: %s\n", strna(json_string(info, "name")));
        printf("        UUID: %s\n", strna(json_string(info, "uuid")));
        printf("       State: %s\n", strna(json_string(info, "state")));
        if ((s = json_string(info, "failure")))
                printf("     Failure: %s\n", s);
        if ((s = json_string(info, "unit")))
                printf("        Unit: %s\n", s);
        if (json_number(info, "main_pid") > 0)
                printf("    Main PID: %.0f\n", json_number(info, "main_pid"));
        printf("      Kernel: %s\n", strna(json_string(payload, "kernel")));
        if ((s = json_string(payload, "initramfs")))
                printf("   Initramfs: %s\n", s);
        if ((s = json_string(payload, "cmdline")))
                printf("     Cmdline: %s\n", s);
        printf("        CPUs: %.0f (at most %.0f)\n", json_number(cpus, "boot_vcpus"), json_number(cpus, "max_vcpus"));
        printf("      Memory: %.0f MiB%s\n", json_number(memory, "size") / (1024 * 1024),
               json_true(memory, "shared") ? ", shared" : "");
        cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(config, "disks"))
                printf("        Disk: %s (%s)%s\n", strna(json_string(d, "path")), strna(json_string(d, "id")),
                       json_true(d, "readonly") ? ", read-only" : "");
        cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(config, "net"))
                printf("         Net: %s (%s), MAC %s\n", json_string(d, "tap") ?: "new tap",
                       strna(json_string(d, "id")), strna(json_string(d, "mac")));
        printf("      Serial: %s\n", strna(json_string(cJSON_GetObjectItemCaseSensitive(config, "serial"), "mode")));
        printf("     Console: %s\n", strna(json_string(cJSON_GetObjectItemCaseSensitive(config, "console"), "mode")));
}

/* Calls a VM's method that returns a JSON object as "s": Info, Counters. */
static int vm_call_json(sd_bus *bus, const char *name, const char *method, cJSON **ret)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *text;
        int r;

        r = vm_call(bus, name, method, 0, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "s", &text);
        if (r < 0)
                return bus_fail(NULL, r);
        *ret = cJSON_Parse(text);
        if (!cJSON_IsObject(*ret)) {
                cJSON_Delete(*ret);
                return fail(EXIT_FAILED, "chvd sent %s that is not a JSON object", method);
        }
        return 0;
}

static int verb_info(sd_bus *bus, int argc, char **argv)
{
        cJSON *info;
        int r;

        if (argc != 2)
                return usage_error("info needs the name of one VM");
        r = vm_call_json(bus, argv[1], "Info", &info);
        if (r < 0)
                return r;
        if (arg_json)
                print_json(info);
        else
                print_info(info);
        cJSON_Delete(info);
        return 0;
}

/* counters NAME: Cloud Hypervisor's vm.counters; "DEVICE COUNTER VALUE" lines, or the JSON. */
static int verb_counters(sd_bus *bus, int argc, char **argv)
{
        cJSON *counters, *d, *c;
        int r;

        if (argc != 2)
                return usage_error("counters needs the name of one VM");
        r = vm_call_json(bus, argv[1], "Counters", &counters);
        if (r < 0)
                return r;
        if (arg_json)
                print_json(counters);
        else
                cJSON_ArrayForEach(d, counters)
                        cJSON_ArrayForEach(c, d)
                                if (cJSON_IsNumber(c))
                                        printf("%s %s %.0f\n", d->string, c->string, c->valuedouble);
        cJSON_Delete(counters);
        return 0;
}

static int verb_ping(sd_bus *bus, int argc, char **argv)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        cJSON *o = cJSON_CreateObject(), *features = cJSON_AddArrayToObject(o, "features");
        const char *version, *f;
        int r;

        r = sd_bus_call_method(bus, BUS_NAME, MANAGER_PATH, MANAGER_INTERFACE, "Ping", &e, &reply, NULL);
        if (r < 0) {
                cJSON_Delete(o);
                return bus_fail(&e, r);
        }
        r = sd_bus_message_read(reply, "s", &version);
        if (r >= 0)
                r = sd_bus_message_enter_container(reply, 'a', "s");
        while (r >= 0 && (r = sd_bus_message_read(reply, "s", &f)) > 0)
                cJSON_AddItemToArray(features, cJSON_CreateString(f));
        if (r < 0) {
                cJSON_Delete(o);
                return bus_fail(NULL, r);
        }
        cJSON_AddStringToObject(o, "version", version);
        if (arg_json)
                print_json(o);
        else {
                printf("chvd %s, features:", version);
                cJSON_ArrayForEach(features, cJSON_GetObjectItemCaseSensitive(o, "features"))
                        printf(" %s", features->valuestring);
                printf("\n");
        }
        cJSON_Delete(o);
        return 0;
}

typedef struct ConsoleState {
        sd_bus *bus;
        const char *path;
} ConsoleState;

static bool console_vm_runs(void *userdata)
{
        ConsoleState *c = userdata;
        _cleanup_free_ char *state = NULL;

        if (sd_bus_get_property_string(c->bus, BUS_NAME, c->path, VM_INTERFACE, "State", NULL, &state) < 0)
                return false;
        return streq(state, "Running") || streq(state, "Starting") || streq(state, "Paused");
}

static int verb_console(sd_bus *bus, int argc, char **argv)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ char *path = NULL;
        bool tty = isatty(STDIN_FILENO);
        int fd, flags, r;

        if (argc != 2)
                return usage_error("console needs the name of one VM");
        r = vm_path(bus, argv[1], &path);
        if (r < 0)
                return r;
        r = vm_call(bus, argv[1], "OpenConsole", 0, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "h", &fd);
        if (r < 0)
                return bus_fail(NULL, r);
        flags = fcntl(fd, F_GETFL);
        if (tty)
                fprintf(stderr, "Connected to the console of VM %s%s. Press Ctrl-] to leave.\r\n", argv[1],
                        (flags & O_ACCMODE) == O_RDONLY ? " (a file, read-only)" : "");
        r = console_relay(fd, (flags & O_ACCMODE) == O_RDONLY, console_vm_runs, &(ConsoleState) { bus, path });
        if (tty)
                fprintf(stderr, "\r\nLeft the console of VM %s.\n", argv[1]);
        return r < 0 ? fail(EXIT_FAILED, "the console failed: %s", strerror(-r)) : 0;
}

static volatile sig_atomic_t events_stop;

static void on_events_signal(int sig)
{
        events_stop = 1;
}

static int on_event(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
        _cleanup_free_ char *name = NULL;
        const char *source, *event, *properties;

        if (sd_bus_message_read(m, "sss", &source, &event, &properties) < 0 ||
            sd_bus_path_decode(sd_bus_message_get_path(m), VM_PREFIX, &name) <= 0)
                return 0;
        if (arg_json) {
                cJSON *o = cJSON_CreateObject();
                _cleanup_free_ char *s = NULL;
                cJSON_AddStringToObject(o, "vm", name);
                cJSON_AddStringToObject(o, "source", source);
                cJSON_AddStringToObject(o, "event", event);
                cJSON_AddItemToObject(o, "properties", cJSON_Parse(properties) ?: cJSON_CreateNull());
                s = cJSON_PrintUnformatted(o);
                cJSON_Delete(o);
                printf("%s\n", s);
        } else
                printf("%-20s %s %s%s%s\n", name, source, event, streq(properties, "{}") ? "" : " ",
                       streq(properties, "{}") ? "" : properties);
        fflush(stdout);
        return 0;
}

static int verb_events(sd_bus *bus, int argc, char **argv)
{
        _cleanup_free_ char *path = NULL, *rule = NULL;
        struct sigaction sa = { .sa_handler = on_events_signal };
        int r;

        if (argc > 2)
                return usage_error("events takes at most the name of one VM");
        if (argc == 2) {
                r = vm_path(bus, argv[1], &path);
                if (r < 0)
                        return r;
        }
        if (asprintf(&rule, "type='signal',sender='%s',interface='%s',member='Event'%s%s%s", BUS_NAME, VM_INTERFACE,
                     path ? ",path='" : "", path ?: "", path ? "'" : "") < 0)
                return fail(EXIT_FAILED, "out of memory");
        r = sd_bus_add_match(bus, NULL, rule, on_event, NULL);
        if (r < 0)
                return fail(EXIT_FAILED, "cannot watch the events: %s", strerror(-r));
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        while (!events_stop) {
                r = sd_bus_process(bus, NULL);
                if (r < 0)
                        return fail(EXIT_NO_DAEMON, "lost the bus: %s", strerror(-r));
                if (r > 0)
                        continue;
                r = sd_bus_wait(bus, UINT64_MAX);
                if (r < 0 && r != -EINTR)
                        return fail(EXIT_NO_DAEMON, "lost the bus: %s", strerror(-r));
        }
        return 0;
}

static void help(void)
{
        printf("chvctl — control the virtual machines of chvd\n\n"
               "Usage: chvctl [OPTIONS] COMMAND ...\n\n"
               "Commands:\n"
               "  list                         the VMs and their states\n"
               "  create NAME FILE             define a VM from a YAML or JSON VmConfig (chv.yaml(5));\n"
               "                               --replace: a new definition for a VM that is not running\n"
               "  create NAME --kernel K ...   define a VM with Cloud Hypervisor's options\n"
               "                               (--cpus, --memory, --disk, --net, --serial, --console, ...;\n"
               "                               --uuid UUID)\n"
               "  boot NAME...                 start VMs; returns once they run\n"
               "  boot --wait NAME             start a VM, then wait until it ends (0: shut down, 1: failed)\n"
               "  shutdown NAME...             stop VMs\n"
               "  reboot NAME...               stop and start VMs again\n"
               "  power-button NAME...         press the ACPI power button\n"
               "  pause NAME...                stop the vCPUs of running VMs\n"
               "  resume NAME...               let paused VMs run again\n"
               "  counters NAME                a VM's I/O counters per device\n"
               "  delete NAME...               remove VMs that do not run\n"
               "  info NAME                    what a VM is and does\n"
               "  console NAME                 attach to a VM's console (Ctrl-] leaves)\n"
               "  events [NAME]                print the VMs' events as they come\n"
               "  ping                         chvd's version and features\n\n"
               "Options:\n"
               "  --json                       JSON output, for scripts\n"
               "  --no-legend                  no table header and footer\n"
               "  -V, --version                print the version\n"
               "  -h, --help                   this help\n\n"
               "Exit status: 0 done, 1 failed, 2 wrong usage, 3 no such VM, 4 the VM's state does not\n"
               "allow it, 5 access denied, 6 invalid name or configuration, 7 the name exists, 8 chvd\n"
               "is not running. See chvctl(1).\n");
}

int main(int argc, char **argv)
{
        static const struct {
                const char *verb;
                int (*run)(sd_bus *bus, int argc, char **argv);
        } verbs[] = {
                { "list", verb_list },        { "create", verb_create },   { "boot", verb_boot },
                { "shutdown", verb_simple },  { "reboot", verb_simple },   { "power-button", verb_simple },
                { "delete", verb_simple },    { "info", verb_info },       { "pause", verb_simple },
                { "resume", verb_simple },    { "counters", verb_counters },       { "console", verb_console },
                { "events", verb_events },    { "ping", verb_ping },
        };
        static const struct option options[] = {
                { "version", no_argument, NULL, 'V' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int c, r, n = 1;

        /* --json and --no-legend may come anywhere; the command's own options follow the command. */
        for (int i = 1; i < argc; i++)
                if (streq(argv[i], "--json"))
                        arg_json = true;
                else if (streq(argv[i], "--no-legend"))
                        arg_legend = false;
                else
                        argv[n++] = argv[i];
        argv[n] = NULL;
        argc = n;
        opterr = 0;
        while ((c = getopt_long(argc, argv, "+Vh", options, NULL)) >= 0)
                switch (c) {
                case 'V':
                        printf("chvctl v%s\n", PACKAGE_VERSION);
                        return 0;
                case 'h':
                        help();
                        return 0;
                default:
                        return -usage_error("unknown option '%s'", argv[optind - 1]);
                }
        if (optind >= argc)
                return -usage_error("a command is needed");
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
                if (!streq(argv[optind], verbs[i].verb))
                        continue;
                r = bus_connect(&bus);
                if (r < 0)
                        return -r;
                r = verbs[i].run(bus, argc - optind, argv + optind);
                return r < 0 ? -r : 0;
        }
        return -usage_error("unknown command '%s'", argv[optind]);
}
