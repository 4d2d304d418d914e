/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <signal.h>
#include <systemd/sd-daemon.h>

#include "file-util.h"
#include "manager.h"
#include "scope.h"

void manager_config_done(ManagerConfig *c)
{
        free(c->state_dir);
        free(c->runtime_dir);
        free(c->slice);
        free(c->vmm_path);
        *c = (ManagerConfig) {};
}

int manager_new(ManagerConfig *config, Manager **ret)
{
        _cleanup_(manager_freep) Manager *m = NULL;
        int r;

        m = calloc(1, sizeof *m);
        if (!m)
                return -ENOMEM;
        m->config = *config;
        *config = (ManagerConfig) {};

        r = sd_event_default(&m->event);
        if (r < 0)
                return r;
        /* SIGTERM and SIGINT end the loop; workers are watched through pidfds, which need SIGCHLD blocked. */
        r = sd_event_add_signal(m->event, NULL, SIGTERM, NULL, NULL);
        if (r < 0)
                return r;
        r = sd_event_add_signal(m->event, NULL, SIGINT, NULL, NULL);
        if (r < 0)
                return r;
        r = sd_event_set_watchdog(m->event, true);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(m);
        return 0;
}

Manager *manager_free(Manager *m)
{
        if (!m)
                return NULL;
        while (m->vms) {
                Vm *vm = m->vms;
                m->vms = vm->next;
                vm_free(vm);
        }
        polkit_queries_free(m);
        free(m->by_name);
        sd_bus_flush_close_unref(m->bus);
        sd_event_unref(m->event);
        manager_config_done(&m->config);
        free(m);
        return NULL;
}

/* FNV-1a: names are short, and chosen by root. */
static size_t name_hash(const char *name)
{
        uint64_t h = 0xcbf29ce484222325ULL;

        for (const unsigned char *p = (const unsigned char *) name; *p; p++)
                h = (h ^ *p) * 0x100000001b3ULL;
        return (size_t) h;
}

/* Every call on a VM object looks its VM up by name (vm_object_find()): a table, not a walk. */
Vm *manager_find_vm(Manager *m, const char *name)
{
        if (m->n_buckets == 0)
                return NULL;
        for (Vm *vm = m->by_name[name_hash(name) & (m->n_buckets - 1)]; vm; vm = vm->hash_next)
                if (streq(vm->name, name))
                        return vm;
        return NULL;
}

/* Twice the buckets when the VMs outnumber them. Without memory, the table stays as it is: only slower. */
static void by_name_grow(Manager *m)
{
        size_t n = m->n_buckets ? m->n_buckets * 2 : 64;
        Vm **t = calloc(n, sizeof *t);

        if (!t)
                return;
        for (Vm *vm = m->vms; vm; vm = vm->next) {
                size_t b = name_hash(vm->name) & (n - 1);
                vm->hash_next = t[b];
                t[b] = vm;
        }
        free(m->by_name);
        m->by_name = t;
        m->n_buckets = n;
}

void manager_add_vm(Manager *m, Vm *vm)
{
        vm->prev = m->vms_tail;
        vm->next = NULL;
        if (m->vms_tail)
                m->vms_tail->next = vm;
        else
                m->vms = vm;
        m->vms_tail = vm;
        m->n_vms++;
        if (m->n_vms > m->n_buckets)
                by_name_grow(m);        /* links vm in too */
        else {
                size_t b = name_hash(vm->name) & (m->n_buckets - 1);
                vm->hash_next = m->by_name[b];
                m->by_name[b] = vm;
        }
        (void) manager_send_vm_signal(m, vm, true);
}

void manager_remove_vm(Manager *m, Vm *vm)
{
        /* Announced while the object is still there, so that InterfacesRemoved can list its interfaces. */
        (void) manager_send_vm_signal(m, vm, false);
        if (vm->prev)
                vm->prev->next = vm->next;
        else
                m->vms = vm->next;
        if (vm->next)
                vm->next->prev = vm->prev;
        else
                m->vms_tail = vm->prev;
        if (m->n_buckets > 0)
                for (Vm **p = &m->by_name[name_hash(vm->name) & (m->n_buckets - 1)]; *p; p = &(*p)->hash_next)
                        if (*p == vm) {
                                *p = vm->hash_next;
                                break;
                        }
        vm->prev = vm->next = vm->hash_next = NULL;
        m->n_vms--;
}

int manager_definitions_dir(Manager *m, char **ret)
{
        _cleanup_free_ char *dir = NULL;
        int r;

        if (asprintf(&dir, "%s/vms", m->config.state_dir) < 0)
                return -ENOMEM;
        /* Made once, not at every save. */
        if (!m->definitions_dir_made) {
                r = mkdir_p(dir, 0700);
                if (r < 0)
                        return r;
                m->definitions_dir_made = true;
        }
        *ret = TAKE_PTR(dir);
        return 0;
}

static int compare_names(const struct dirent **a, const struct dirent **b)
{
        return strcmp((*a)->d_name, (*b)->d_name);
}

static int is_definition(const struct dirent *de)
{
        size_t n = strlen(de->d_name);
        return de->d_name[0] != '.' && n > 5 && streq(de->d_name + n - 5, ".json");
}

int manager_load(Manager *m)
{
        _cleanup_free_ char *dir = NULL;
        struct dirent **entries = NULL;
        int n, r;

        r = manager_definitions_dir(m, &dir);
        if (r < 0)
                return log_error_errno(r, "Cannot create the state directory %s/vms: %m", m->config.state_dir);
        n = scandir(dir, &entries, is_definition, compare_names);
        if (n < 0)
                return log_error_errno(errno, "Cannot read the state directory %s: %m", dir);
        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *path = NULL;
                Vm *vm;

                if (asprintf(&path, "%s/%s", dir, entries[i]->d_name) >= 0 && vm_load(m, path, &vm) >= 0) {
                        manager_add_vm(m, vm);
                        log_vm(vm, LOG_DEBUG, "Loaded from %s.", path);
                        (void) vm_reattach(vm);
                }
                free(entries[i]);
        }
        free(entries);
        log_info("%zu VM definition(s) loaded from %s.", m->n_vms, dir);
        return 0;
}

static int on_name_acquired(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
        Manager *m = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        uint32_t ret;
        int r;

        if (e) {
                log_error_errno(sd_bus_message_get_errno(reply), "Cannot own the name %s on the bus: %s", CHV_BUS_NAME,
                                e->message);
                return sd_event_exit(m->event, EXIT_FAILURE);
        }
        r = sd_bus_message_read(reply, "u", &ret);
        if (r < 0) {
                log_error_errno(r, "Cannot read the reply to RequestName: %m");
                return sd_event_exit(m->event, EXIT_FAILURE);
        }
        /* 1: ours now, 4: ours already; 3: someone else's (we do not queue). */
        if (ret != 1 && ret != 4) {
                log_error("The name %s belongs to another process on this bus: is another chvd running?",
                          CHV_BUS_NAME);
                return sd_event_exit(m->event, EXIT_FAILURE);
        }
        log_info("Serving %s with %zu VM(s).", CHV_BUS_NAME, m->n_vms);
        (void) sd_notifyf(false, "READY=1\nSTATUS=Serving %zu VM(s).", m->n_vms);
        return 0;
}

int manager_connect_bus(Manager *m)
{
        int r;

        r = sd_bus_open_system(&m->bus);
        if (r < 0)
                return log_error_errno(r, "Cannot connect to the system bus: %m");
        r = sd_bus_attach_event(m->bus, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_error_errno(r, "Cannot attach the bus to the event loop: %m");
        r = sd_bus_add_object_vtable(m->bus, NULL, CHV_MANAGER_PATH, CHV_MANAGER_INTERFACE, manager_vtable, m);
        if (r < 0)
                return log_error_errno(r, "Cannot export the manager object: %m");
        r = sd_bus_add_fallback_vtable(m->bus, NULL, VM_OBJECT_PREFIX, CHV_VM_INTERFACE, vm_vtable, vm_object_find,
                                       m);
        if (r < 0)
                return log_error_errno(r, "Cannot export the VM objects: %m");
        r = sd_bus_add_node_enumerator(m->bus, NULL, VM_OBJECT_PREFIX, vm_node_enumerator, m);
        if (r < 0)
                return log_error_errno(r, "Cannot add the VM enumerator: %m");
        r = sd_bus_add_object_manager(m->bus, NULL, CHV_MANAGER_PATH);
        if (r < 0)
                return log_error_errno(r, "Cannot add the object manager: %m");
        r = scope_watch_jobs(m);
        if (r < 0)
                return log_error_errno(r, "Cannot watch systemd's jobs: %m");
        r = sd_bus_request_name_async(m->bus, NULL, CHV_BUS_NAME, 0, on_name_acquired, m);
        if (r < 0)
                return log_error_errno(r, "Cannot request the name %s: %m", CHV_BUS_NAME);
        return 0;
}

int manager_run(Manager *m)
{
        int r;

        r = sd_event_loop(m->event);
        (void) sd_notify(false, "STOPPING=1\nSTATUS=Shutting down.");
        if (r < 0)
                return log_error_errno(r, "The event loop failed: %m");
        return r;
}
