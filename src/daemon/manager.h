/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "polkit.h"
#include "vm.h"

#define CHV_BUS_NAME "org.cloudhypervisor"
#define CHV_MANAGER_PATH "/org/cloudhypervisor"
#define CHV_MANAGER_INTERFACE "org.cloudhypervisor.Manager1"
#define CHV_VM_INTERFACE "org.cloudhypervisor.VM1"

typedef struct ManagerConfig {
        char *state_dir;        /* definitions in STATE_DIR/vms/NAME.json */
        char *runtime_dir;      /* workers in RUNTIME_DIR/vms/NAME/ */
        char *slice;            /* where the VMs' scopes go */
        char *vmm_path;         /* chv-vmm */
        bool require_scope;     /* refuse to boot where no systemd manager makes a scope */
        uint64_t stop_timeout_usec;
} ManagerConfig;

void manager_config_done(ManagerConfig *c);

typedef struct Manager {
        ManagerConfig config;
        sd_event *event;
        sd_bus *bus;
        Vm *vms, *vms_tail;     /* a list, in the order of creation */
        size_t n_vms;
        Vm **by_name;           /* a hash table of the same VMs, chained through Vm.hash_next */
        size_t n_buckets;
        bool definitions_dir_made;
        bool told_no_scope;     /* "no systemd manager on the bus" is said once */
        PolkitQuery *polkit_queries;    /* calls waiting for polkit's answer, or answered */
} Manager;

int manager_new(ManagerConfig *config, Manager **ret);  /* takes config */
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);

/* Reads every definition in the state directory; a bad one is logged and skipped. */
int manager_load(Manager *m);
/* Connects to the system bus, exports the objects, asks for the name; READY=1 follows with it. */
int manager_connect_bus(Manager *m);
int manager_run(Manager *m);

Vm *manager_find_vm(Manager *m, const char *name);
void manager_add_vm(Manager *m, Vm *vm);
void manager_remove_vm(Manager *m, Vm *vm);

/* STATE_DIR/vms (made on demand, 0700). */
int manager_definitions_dir(Manager *m, char **ret);

/* manager-dbus.c */
extern const sd_bus_vtable manager_vtable[];
int manager_send_vm_signal(Manager *m, Vm *vm, bool added);

/* vm-dbus.c */
extern const sd_bus_vtable vm_vtable[];
int vm_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                   sd_bus_error *error);
/* Cloud Hypervisor's event-monitor events: source "vm", event "booted", properties a JSON object or NULL. */
int vm_send_event(Vm *vm, const char *source, const char *event, const char *properties_json);
/* Answers the pending Boot or Reboot (failure NULL: it runs), or Shutdown. */
void vm_finish_boot(Vm *vm, const char *failure);
void vm_finish_stop(Vm *vm);
/* Emits PropertiesChanged for the NULL-terminated list of properties. */
int vm_send_changed(Vm *vm, const char *property, ...) __attribute__((sentinel));
int vm_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error);
