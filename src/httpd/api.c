/* SPDX-License-Identifier: Apache-2.0 */
#include <cjson/cJSON.h>
#include <inttypes.h>

#include "api.h"
#include "log.h"

/*
 * Cloud Hypervisor's endpoints on chvd. Each request becomes one or a few asynchronous calls on the
 * VM's object (or the manager's); the reply, or the error, becomes Cloud Hypervisor's answer:
 * 204, 200 with JSON, or an error whose body is the JSON array of messages from the outermost in,
 * ["Error from API", "The VM could not boot", "<why>"].
 */

#define BUS_NAME "org.cloudhypervisor"
#define MANAGER_PATH "/org/cloudhypervisor"
#define MANAGER_INTERFACE "org.cloudhypervisor.Manager1"
#define VM_INTERFACE "org.cloudhypervisor.VM1"

/* Boot, Reboot and Shutdown return once done: a boot under emulation takes long. */
#define LONG_CALL_USEC (UINT64_C(600) * 1000000)

#define HTTP_OK 200
#define HTTP_NO_CONTENT 204
#define HTTP_BAD_REQUEST 400
#define HTTP_NOT_FOUND 404
#define HTTP_INTERNAL_ERROR 500

static const char *const error_from_api = "Error from API";

DEFINE_TRIVIAL_CLEANUP_FUNC(cJSON *, cJSON_Delete);

static bool bus_error_is(const sd_bus_error *e, const char *name)
{
        return sd_bus_error_has_name(e, name);
}

/* No VM of this name: chvd's NotFound, or no object at the VM's path. */
static bool bus_error_no_vm(const sd_bus_error *e)
{
        return bus_error_is(e, "org.cloudhypervisor.Error.NotFound") ||
               bus_error_is(e, "org.freedesktop.DBus.Error.UnknownObject");
}

static bool bus_error_no_chvd(const sd_bus_error *e)
{
        return bus_error_is(e, "org.freedesktop.DBus.Error.ServiceUnknown") ||
               bus_error_is(e, "org.freedesktop.DBus.Error.NameHasNoOwner");
}

/* A failed call, in Cloud Hypervisor's words where it has them, with chvd's reason otherwise. */
static void reply_bus_error(Request *r, const sd_bus_error *e)
{
        const char *what = r->endpoint->what;
        char m[1024];

        if (bus_error_no_vm(e))
                return request_reply_errors(r, HTTP_NOT_FOUND, error_from_api, what, "VM is not created", NULL);
        if (bus_error_is(e, "org.cloudhypervisor.Error.AlreadyExists"))
                return request_reply_errors(r, HTTP_INTERNAL_ERROR, error_from_api, what, "VM is already created",
                                            NULL);
        if (bus_error_is(e, "org.cloudhypervisor.Error.InvalidConfig") ||
            bus_error_is(e, "org.cloudhypervisor.Error.InvalidName"))
                return request_reply_errors(r, HTTP_BAD_REQUEST, error_from_api, what, "Failed to validate config",
                                            e->message ?: e->name, NULL);
        if (bus_error_no_chvd(e))
                snprintf(m, sizeof m, "chvd is not running (no %s on the system bus): start it with "
                         "systemctl start chvd", BUS_NAME);
        else
                snprintf(m, sizeof m, "%s", e->message ?: e->name ?: "unknown D-Bus error");
        request_reply_errors(r, HTTP_INTERNAL_ERROR, error_from_api, what, m, NULL);
}

static void reply_internal_error(Request *r, int error, const char *doing)
{
        char m[256];

        snprintf(m, sizeof m, "%s: %s", doing, strerror(abs(error)));
        request_reply_errors(r, HTTP_INTERNAL_ERROR, error_from_api, r->endpoint->what, m, NULL);
}

/* A call of member on the VM's object or the manager's, for bus_send(). */
static int bus_new_call(Request *r, const char *path, const char *interface, const char *member,
                        sd_bus_message **ret)
{
        return sd_bus_message_new_method_call(r->server->bus, ret, BUS_NAME, path, interface, member);
}

/* Sends the call; handler gets the reply (timeout 0: sd-bus's default). */
static int bus_send(Request *r, sd_bus_message *call, uint64_t timeout, sd_bus_message_handler_t handler)
{
        r->slot = sd_bus_slot_unref(r->slot);
        return sd_bus_call_async(r->server->bus, &r->slot, call, handler, r, timeout);
}

/* A call without arguments; a failure to send it is the answer. */
static void call_simple(Request *r, const char *path, const char *interface, const char *member, uint64_t timeout,
                        sd_bus_message_handler_t handler)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL;
        int k;

        k = bus_new_call(r, path, interface, member, &call);
        if (k >= 0)
                k = bus_send(r, call, timeout, handler);
        if (k < 0)
                reply_internal_error(r, k, "Cannot call chvd");
}

static void vm_call(Request *r, const char *member, uint64_t timeout, sd_bus_message_handler_t handler)
{
        call_simple(r, r->server->vm_path, VM_INTERFACE, member, timeout, handler);
}

static uint64_t member_timeout(const char *member)
{
        return streq(member, "Boot") || streq(member, "Reboot") || streq(member, "Shutdown") ? LONG_CALL_USEC : 0;
}

/* Returns true (and answers) when the call failed. */
static bool reply_failed(Request *r, sd_bus_message *reply)
{
        if (!sd_bus_message_is_method_error(reply, NULL))
                return false;
        reply_bus_error(r, sd_bus_message_get_error(reply));
        return true;
}

static void reply_json(Request *r, cJSON *json)
{
        char *body = json ? cJSON_PrintUnformatted(json) : NULL;

        if (!body)
                return reply_internal_error(r, ENOMEM, "Cannot build the answer");
        request_reply(r, HTTP_OK, body);
}

/* vm.create, vm.boot, vm.shutdown, vm.reboot, vm.power-button, vm.pause, vm.resume: one call, 204. */
static int on_action_reply(sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        Request *r = userdata;

        if (!reply_failed(r, reply))
                request_reply(r, HTTP_NO_CONTENT, NULL);
        return 0;
}

static void start_action(Request *r)
{
        vm_call(r, r->endpoint->member, member_timeout(r->endpoint->member), on_action_reply);
}

/* vmm.ping: chvd's version and features, chv-httpd's PID (the process behind this socket). */
static int on_ping_reply(sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        _cleanup_(cJSON_Deletep) cJSON *o = NULL;
        Request *r = userdata;
        char **features = NULL;
        const char *version;
        cJSON *a;
        int k;

        if (reply_failed(r, reply))
                return 0;
        k = sd_bus_message_read(reply, "s", &version);
        if (k >= 0)
                k = sd_bus_message_read_strv(reply, &features);
        if (k < 0) {
                reply_internal_error(r, k, "Cannot read chvd's Ping reply");
                return 0;
        }
        o = cJSON_CreateObject();
        a = cJSON_AddArrayToObject(o, "features");
        for (char **f = features; a && f && *f; f++)
                if (!cJSON_AddItemToArray(a, cJSON_CreateString(*f)))
                        a = NULL;
        for (char **f = features; f && *f; f++)
                free(*f);
        free(features);
        if (!a || !cJSON_AddStringToObject(o, "build_version", "chv-httpd v" PACKAGE_VERSION) ||
            !cJSON_AddStringToObject(o, "version", version) || !cJSON_AddNumberToObject(o, "pid", getpid())) {
                reply_internal_error(r, ENOMEM, "Cannot build the answer");
                return 0;
        }
        reply_json(r, o);
        return 0;
}

static void start_ping(Request *r)
{
        call_simple(r, MANAGER_PATH, MANAGER_INTERFACE, "Ping", 0, on_ping_reply);
}

/* chvd's states as Cloud Hypervisor's VmState. */
static const char *state_to_ch(const char *state)
{
        static const struct {
                const char *chv, *ch;
        } map[] = {
                { "Created", "Created" },
                { "Starting", "Created" },     /* not running yet */
                { "Running", "Running" },
                { "Paused", "Paused" },
                { "Stopping", "Running" },     /* until it is gone */
                { "Shutdown", "Shutdown" },
                { "Failed", "Shutdown" },      /* not running; can be booted again */
        };

        for (size_t i = 0; i < ELEMENTSOF(map); i++)
                if (streq(state, map[i].chv))
                        return map[i].ch;
        return NULL;
}

/* The guest's memory when chvd does not say (the VM does not run): what the configuration gives it. */
static double config_memory_size(const cJSON *config)
{
        const cJSON *memory = cJSON_GetObjectItemCaseSensitive(config, "memory");
        const cJSON *size = cJSON_GetObjectItemCaseSensitive(memory, "size");
        const cJSON *zones = cJSON_GetObjectItemCaseSensitive(memory, "zones");
        const cJSON *z;
        double total = cJSON_IsNumber(size) ? size->valuedouble : 0;

        cJSON_ArrayForEach(z, zones) {
                const cJSON *zs = cJSON_GetObjectItemCaseSensitive(z, "size");
                if (cJSON_IsNumber(zs))
                        total += zs->valuedouble;
        }
        return total;
}

/*
 * Members set to null: Cloud Hypervisor writes absent optional fields so, but its own document (and
 * so the clients generated from it) wants them absent. Dropping them means the same to either.
 */
static void json_drop_nulls(cJSON *json)
{
        cJSON *c = json ? json->child : NULL;

        while (c) {
                cJSON *next = c->next;
                if (cJSON_IsNull(c) && cJSON_IsObject(json))
                        cJSON_Delete(cJSON_DetachItemViaPointer(json, c));
                else
                        json_drop_nulls(c);
                c = next;
        }
}

/* vm.info: chvd's Info in Cloud Hypervisor's VmInfo shape (config, state, memory_actual_size). */
static int on_info_reply(sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        _cleanup_(cJSON_Deletep) cJSON *info = NULL, *o = NULL;
        Request *r = userdata;
        const cJSON *state, *memory;
        const char *text, *ch_state;
        cJSON *config;
        int k;

        if (reply_failed(r, reply))
                return 0;
        k = sd_bus_message_read(reply, "s", &text);
        if (k < 0) {
                reply_internal_error(r, k, "Cannot read chvd's Info reply");
                return 0;
        }
        info = cJSON_Parse(text);
        state = cJSON_GetObjectItemCaseSensitive(info, "state");
        config = cJSON_DetachItemFromObjectCaseSensitive(info, "config");
        ch_state = cJSON_IsString(state) ? state_to_ch(state->valuestring) : NULL;
        if (!cJSON_IsObject(config) || !ch_state) {
                cJSON_Delete(config);
                request_reply_errors(r, HTTP_INTERNAL_ERROR, error_from_api, r->endpoint->what,
                                     "chvd's Info is not what chv-httpd understands (no config or an unknown state)",
                                     NULL);
                return 0;
        }
        memory = cJSON_GetObjectItemCaseSensitive(info, "memory_actual_size");
        json_drop_nulls(config);
        o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToObject(o, "config", config)) {
                cJSON_Delete(config);
                reply_internal_error(r, ENOMEM, "Cannot build the answer");
                return 0;
        }
        if (!cJSON_AddStringToObject(o, "state", ch_state) ||
            !cJSON_AddNumberToObject(o, "memory_actual_size",
                                     cJSON_IsNumber(memory) ? memory->valuedouble : config_memory_size(config))) {
                reply_internal_error(r, ENOMEM, "Cannot build the answer");
                return 0;
        }
        reply_json(r, o);
        return 0;
}

static void start_info(Request *r)
{
        vm_call(r, "Info", 0, on_info_reply);
}

/* vm.counters: chvd's Counters is Cloud Hypervisor's shape already. */
static int on_counters_reply(sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        _cleanup_(cJSON_Deletep) cJSON *counters = NULL;
        Request *r = userdata;
        const char *text;
        int k;

        if (reply_failed(r, reply))
                return 0;
        k = sd_bus_message_read(reply, "s", &text);
        if (k < 0) {
                reply_internal_error(r, k, "Cannot read chvd's Counters reply");
                return 0;
        }
        counters = cJSON_Parse(text);
        if (!cJSON_IsObject(counters)) {
                request_reply_errors(r, HTTP_INTERNAL_ERROR, error_from_api, r->endpoint->what,
                                     "chvd's Counters is not a JSON object", NULL);
                return 0;
        }
        reply_json(r, counters);
        return 0;
}

static void start_counters(Request *r)
{
        vm_call(r, "Counters", 0, on_counters_reply);
}

/* The body as JSON (an object); answers the request and returns NULL when it is not. */
static cJSON *request_body_json(Request *r)
{
        _cleanup_(cJSON_Deletep) cJSON *json = NULL;
        const char *end = NULL;
        char m[160];

        for (size_t i = 0; i < r->body_size; i++)
                if (r->body[i] == 0) {
                        snprintf(m, sizeof m, "a NUL byte at offset %zu", i);
                        request_reply_errors(r, HTTP_BAD_REQUEST, "Failed to deserialize JSON", m, NULL);
                        return NULL;
                }
        json = cJSON_ParseWithLengthOpts(r->body, r->body_size, &end, false);
        if (json && end)
                while (end < r->body + r->body_size && strchr(" \t\r\n", *end))
                        end++;
        if (!json || end != r->body + r->body_size) {
                size_t at = end && end >= r->body ? (size_t) (end - r->body) : 0;
                snprintf(m, sizeof m, "%s at offset %zu of %zu", json ? "trailing characters" : "not valid JSON",
                         at, r->body_size);
                request_reply_errors(r, HTTP_BAD_REQUEST, "Failed to deserialize JSON", m, NULL);
                return NULL;
        }
        if (!cJSON_IsObject(json)) {
                request_reply_errors(r, HTTP_BAD_REQUEST, "Failed to deserialize JSON",
                                     "invalid type: expected a JSON object", NULL);
                return NULL;
        }
        return TAKE_PTR(json);
}

/* D-Bus strings are UTF-8: so must the configuration be. */
static bool utf8_valid(const char *s, size_t n)
{
        size_t i = 0;

        while (i < n) {
                unsigned char c = (unsigned char) s[i];
                size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
                uint32_t cp;

                if (len == 0 || len > n - i || (len == 2 && c < 0xc2) || (len == 4 && c > 0xf4))
                        return false;
                cp = len == 1 ? c : c & (0x7f >> len);
                for (size_t k = 1; k < len; k++) {
                        if (((unsigned char) s[i + k] & 0xc0) != 0x80)
                                return false;
                        cp = (cp << 6) | ((unsigned char) s[i + k] & 0x3f);
                }
                if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (len == 4 && cp < 0x10000))
                        return false;
                i += len;
        }
        return true;
}

/*
 * vm.create: CreateVM(NAME, body). Like Cloud Hypervisor, descriptor numbers in net[].fds are dropped
 * (only descriptors sent with SCM_RIGHTS could be real, and vm.create takes none).
 */
static void start_create(Request *r)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL;
        _cleanup_(cJSON_Deletep) cJSON *config = NULL;
        _cleanup_free_ char *printed = NULL;
        const cJSON *net, *n;
        bool changed = false;
        int k;

        config = request_body_json(r);
        if (!config)
                return;
        if (!utf8_valid(r->body, r->body_size))
                return request_reply_errors(r, HTTP_BAD_REQUEST, "Failed to deserialize JSON",
                                            "the body is not valid UTF-8", NULL);
        net = cJSON_GetObjectItemCaseSensitive(config, "net");
        cJSON_ArrayForEach(n, net)
                if (cJSON_IsObject(n) && cJSON_GetObjectItemCaseSensitive(n, "fds")) {
                        log_warning("vm.create: net[].fds numbers in the body are ignored");
                        cJSON_DeleteItemFromObjectCaseSensitive((cJSON *) n, "fds");
                        changed = true;
                }
        if (changed) {
                printed = cJSON_PrintUnformatted(config);
                if (!printed)
                        return reply_internal_error(r, ENOMEM, "Cannot pass the configuration on");
        } else {
                printed = strndup(r->body, r->body_size);
                if (!printed)
                        return reply_internal_error(r, ENOMEM, "Cannot pass the configuration on");
        }

        k = bus_new_call(r, MANAGER_PATH, MANAGER_INTERFACE, "CreateVM", &call);
        if (k >= 0)
                k = sd_bus_message_append(call, "ssa{sv}", r->server->vm_name, printed, 0);
        if (k >= 0)
                k = bus_send(r, call, 0, on_action_reply);
        if (k < 0)
                reply_internal_error(r, k, "Cannot call chvd");
}

/*
 * vm.delete: Cloud Hypervisor shuts a running VM down first, and deleting a VM that is not there is
 * no error. Steps: Delete; if the VM runs, Shutdown, then Delete again.
 */
enum {
        DELETE_FIRST,
        DELETE_SHUTDOWN,
        DELETE_AGAIN,
};

static int on_delete_reply(sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        Request *r = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);

        if (!e) {
                if (r->step == DELETE_SHUTDOWN) {
                        r->step = DELETE_AGAIN;
                        vm_call(r, "Delete", 0, on_delete_reply);
                } else
                        request_reply(r, HTTP_NO_CONTENT, NULL);
                return 0;
        }
        if (bus_error_no_vm(e))
                request_reply(r, HTTP_NO_CONTENT, NULL);
        else if (r->step == DELETE_FIRST && bus_error_is(e, "org.cloudhypervisor.Error.InvalidState")) {
                r->step = DELETE_SHUTDOWN;
                vm_call(r, "Shutdown", LONG_CALL_USEC, on_delete_reply);
        } else
                reply_bus_error(r, e);
        return 0;
}

static void start_delete(Request *r)
{
        r->step = DELETE_FIRST;
        vm_call(r, "Delete", 0, on_delete_reply);
}

/*
 * vmm.shutdown: the VM is shut down if it runs, and chv-httpd ends once the answer is out, as a Cloud
 * Hypervisor process does. Its answer is 200 without a body, as Cloud Hypervisor's server gives it
 * (its OpenAPI document says 204).
 */
static int on_vmm_shutdown_reply(sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        Request *r = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);

        if (e && !bus_error_no_vm(e) && !bus_error_is(e, "org.cloudhypervisor.Error.InvalidState"))
                return reply_bus_error(r, e), 0;
        r->close_after = true;
        request_reply(r, HTTP_OK, NULL);
        return 0;
}

static void start_vmm_shutdown(Request *r)
{
        vm_call(r, "Shutdown", LONG_CALL_USEC, on_vmm_shutdown_reply);
}

/* What chvd cannot do yet: Cloud Hypervisor's error shape, saying so; never a pretended success. */
static void start_unavailable(Request *r)
{
        char m[512];
        int n;

        n = snprintf(m, sizeof m, "%s is not available in chv yet: chvd has no %s", r->path + strlen("/api/v1/"),
                     r->endpoint->missing);
        if (r->n_fds > 0 && n > 0 && (size_t) n < sizeof m)
                snprintf(m + n, sizeof m - (size_t) n, " (the %zu file descriptor%s sent with the request %s closed)",
                         r->n_fds, r->n_fds == 1 ? "" : "s", r->n_fds == 1 ? "was" : "were");
        if (r->endpoint->body == BODY_REQUIRED) {
                _cleanup_(cJSON_Deletep) cJSON *json = request_body_json(r);
                if (!json)
                        return;
        }
        request_reply_errors(r, HTTP_INTERNAL_ERROR, error_from_api, r->endpoint->what, m, NULL);
}

#define ACTION(p, w, m) { .path = p, .method = "PUT", .body = BODY_NONE, .what = w, .member = m, .start = start_action }
#define UNAVAILABLE(p, b, w, missing_, fds)                                                              \
        { .path = p, .method = "PUT", .body = b, .what = w, .missing = missing_, .takes_fds = fds,         \
          .start = start_unavailable }

static const Endpoint endpoints[] = {
        { .path = "/vmm.ping", .method = "GET", .body = BODY_IGNORED, .any_wrong_method_says_so = true,
          .what = "The VMM could not be pinged", .start = start_ping },
        { .path = "/vmm.shutdown", .method = "PUT", .body = BODY_IGNORED, .any_wrong_method_says_so = true,
          .what = "The VMM could not shutdown", .start = start_vmm_shutdown },
        { .path = "/vm.info", .method = "GET", .body = BODY_IGNORED, .any_wrong_method_says_so = true,
          .what = "The VM info is not available", .start = start_info },
        { .path = "/vm.counters", .method = "GET", .body = BODY_IGNORED, .what = "The VM info is not available",
          .start = start_counters },
        { .path = "/vm.create", .method = "PUT", .body = BODY_REQUIRED, .any_wrong_method_says_so = true,
          .what = "The VM could not be created", .start = start_create },
        { .path = "/vm.delete", .method = "PUT", .body = BODY_NONE, .what = "The VM could not be deleted",
          .start = start_delete },
        ACTION("/vm.boot", "The VM could not boot", "Boot"),
        ACTION("/vm.shutdown", "The VM could not shutdown", "Shutdown"),
        ACTION("/vm.reboot", "The VM could not reboot", "Reboot"),
        ACTION("/vm.power-button", "Error triggering power button", "PowerButton"),
        ACTION("/vm.pause", "The VM could not be paused", "Pause"),
        ACTION("/vm.resume", "The VM could not resume", "Resume"),
        UNAVAILABLE("/vm.nmi", BODY_NONE, "Error triggering NMI", "NMI injection", false),
        UNAVAILABLE("/vm.resize", BODY_REQUIRED, "The VM could not be resized", "resizing", false),
        UNAVAILABLE("/vm.resize-disk", BODY_REQUIRED, "The disk could not be resized", "disk resizing", false),
        UNAVAILABLE("/vm.resize-zone", BODY_REQUIRED, "The memory zone could not be resized", "memory zones", false),
        UNAVAILABLE("/vm.add-device", BODY_REQUIRED, "The device could not be added to the VM", "hotplug", true),
        UNAVAILABLE("/vm.add-user-device", BODY_REQUIRED, "The user device could not be added to the VM", "hotplug",
                    false),
        UNAVAILABLE("/vm.remove-device", BODY_REQUIRED, "The device could not be removed from the VM", "hotplug",
                    false),
        UNAVAILABLE("/vm.add-disk", BODY_REQUIRED, "The disk could not be added to the VM", "hotplug", false),
        UNAVAILABLE("/vm.add-fs", BODY_REQUIRED, "The fs could not be added to the VM", "hotplug", false),
        UNAVAILABLE("/vm.add-generic-vhost-user", BODY_REQUIRED,
                    "The generic vhost-user device could not be added to the VM", "hotplug", false),
        UNAVAILABLE("/vm.add-pmem", BODY_REQUIRED, "The pmem device could not be added to the VM", "hotplug", false),
        UNAVAILABLE("/vm.add-net", BODY_REQUIRED, "The network device could not be added to the VM", "hotplug",
                    true),
        UNAVAILABLE("/vm.add-vdpa", BODY_REQUIRED, "The vDPA device could not be added to the VM", "hotplug", false),
        UNAVAILABLE("/vm.add-vsock", BODY_REQUIRED, "The vsock device could not be added to the VM", "hotplug",
                    false),
        UNAVAILABLE("/vm.snapshot", BODY_REQUIRED, "The VM could not be snapshotted", "snapshots", false),
        UNAVAILABLE("/vm.coredump", BODY_REQUIRED, "The VM could not be coredumped", "guest core dumps", false),
        UNAVAILABLE("/vm.restore", BODY_REQUIRED, "The VM could not be restored", "restore from snapshots", true),
        UNAVAILABLE("/vm.receive-migration", BODY_REQUIRED, "Error receiving migration", "live migration", true),
        UNAVAILABLE("/vm.send-migration", BODY_REQUIRED, "Error dispatching the migration worker", "live migration",
                    false),
};

const Endpoint *endpoint_find(const char *path)
{
        for (size_t i = 0; i < ELEMENTSOF(endpoints); i++)
                if (streq(path, endpoints[i].path))
                        return &endpoints[i];
        return NULL;
}

void api_dispatch(Request *r)
{
        const Endpoint *e = r->endpoint;

        if (!e)
                return request_reply_errors(r, HTTP_NOT_FOUND, "Not Found", NULL);
        if (!streq(r->method, "GET") && !streq(r->method, "PUT") && !e->any_wrong_method_says_so)
                return request_reply(r, HTTP_BAD_REQUEST, NULL);
        if (!streq(r->method, e->method))
                return request_reply_errors(r, HTTP_BAD_REQUEST, "Bad Request", NULL);
        if (e->body == BODY_NONE && r->body_size > 0)
                return request_reply_errors(r, HTTP_BAD_REQUEST, "Bad Request", NULL);
        if (e->body == BODY_REQUIRED && r->body_size == 0) {
                /* vm.create says nothing more; the others say Bad Request. */
                if (e->start == start_create)
                        return request_reply(r, HTTP_BAD_REQUEST, NULL);
                return request_reply_errors(r, HTTP_BAD_REQUEST, "Bad Request", NULL);
        }
        if (r->n_fds > 0 && !e->takes_fds)
                log_debug("%s: closing the %zu file descriptors sent with it", r->path, r->n_fds);
        e->start(r);
}
