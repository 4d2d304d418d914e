/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <cjson/cJSON.h>
#include <signal.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

#include "daemon-log.h"
#include "macro.h"

typedef struct Manager Manager;
typedef struct Worker Worker;

/*
 * What a VM is doing. Cloud Hypervisor's states (Created, Running, Shutdown) plus the ones a VM with
 * its own process has: Starting (worker started, not yet running the guest), Stopping (asked to
 * stop, not yet gone) and Failed (the worker ended in an error or the guest crashed; Info says why).
 */
typedef enum VmState {
        VM_CREATED,
        VM_STARTING,
        VM_RUNNING,
        VM_STOPPING,
        VM_SHUTDOWN,
        VM_FAILED,
        VM_PAUSED,              /* the worker runs, its vCPUs are stopped */
        _VM_STATE_MAX,
        _VM_STATE_INVALID = -EINVAL,
} VmState;

const char *vm_state_to_string(VmState s);
VmState vm_state_from_string(const char *s);

/* The guest is not running and nothing is under way: the VM may be booted or deleted. */
static inline bool vm_state_is_inactive(VmState s)
{
        return s == VM_CREATED || s == VM_SHUTDOWN || s == VM_FAILED;
}

#define VM_NAME_MAX 64u
#define VM_OBJECT_PREFIX "/org/cloudhypervisor/vm"

typedef struct Vm {
        Manager *manager;
        struct Vm *prev, *next;
        struct Vm *hash_next;   /* in the manager's table by name */

        char *name;
        char *uuid;             /* 8-4-4-4-12, lower case */
        char *path;             /* the D-Bus object */
        cJSON *config;          /* the VmConfig as decoded and completed (ids, MACs): what the worker gets */
        char *config_json;      /* the same, printed: the Config property */
        uint64_t memory_size;

        VmState state;
        char *failure;          /* why the VM is Failed */
        char *unit;             /* the scope the worker runs in, if any */
        pid_t main_pid;         /* the worker */

        Worker *worker;         /* while Starting, Running, Stopping */
        sd_bus_message *boot_call;      /* Boot or Reboot, answered once the guest runs */
        sd_bus_message *stop_call;      /* Shutdown, answered once the worker is gone */
        bool stopping;          /* the worker was asked to stop for good */
        bool rebooting;         /* ... to start again */
        bool control_busy;      /* a Pause or Resume waits for chv-vmm's answer */
        char *abort_reason;     /* why chvd gave up a boot it had begun */
} Vm;

/*
 * A name is 1 to 64 letters, digits, '.', '_' and '-', beginning with a letter or a digit: it is
 * used as it is in the state file, the runtime directory and the unit chv-vm-NAME.scope.
 */
bool vm_name_is_valid(const char *name);

/*
 * Decodes config text (JSON or YAML) with vm_config_from_json() and checks what chvd asks more than
 * chv-vmm: absolute paths, no file descriptor numbers. Returns the completed configuration. On failure
 * returns -EINVAL (or -ENOMEM) and writes "field.path: reason" to err.
 */
int vm_config_check(const char *text, size_t len, cJSON **ret, char *err, size_t errlen);

/* Takes config. uuid NULL: a random one. */
int vm_new(Manager *m, const char *name, const char *uuid, cJSON *config, Vm **ret);
Vm *vm_free(Vm *vm);
DEFINE_TRIVIAL_CLEANUP_FUNC(Vm *, vm_free);

/* The definition in the state directory: written atomically, read back at start. */
int vm_save(Vm *vm);
int vm_remove_definition(Vm *vm);
/* Takes config, the new definition of a VM that does not run; the UUID stays. On failure, the old stays. */
int vm_replace_config(Vm *vm, cJSON *config);
int vm_load(Manager *m, const char *path, Vm **ret);

/* Changes the state and tells the bus (PropertiesChanged). */
void vm_set_state(Vm *vm, VmState state);

/*
 * The lifecycle. The bus methods check the state first; these do the work. vm_boot() starts a worker
 * (Starting) and returns; the guest runs (Running) when the worker says READY=1. On failure they return
 * a negative errno with the reason in err, and the VM is Failed.
 */
int vm_boot(Vm *vm, char *err, size_t errlen);
int vm_shutdown(Vm *vm);        /* SIGTERM, then SIGKILL after the stop timeout: Stopping, then Shutdown */
int vm_reboot(Vm *vm);          /* a new worker once the old one is gone */
int vm_power_button(Vm *vm);    /* SIGUSR2: the guest decides */
/*
 * Through the worker's control socket, without waiting: call (Pause or Resume) takes the VM from Running
 * to Paused and back, and is answered once chv-vmm has; Counters is answered with Cloud Hypervisor's
 * vm.counters as JSON text. A negative errno, with the reason in err, when chv-vmm could not be asked.
 */
int vm_pause_or_resume(Vm *vm, sd_bus_message *call, char *err, size_t errlen);
int vm_counters(Vm *vm, sd_bus_message *call, char *err, size_t errlen);

/* Before the bus: takes up the worker an earlier chvd left running. 1 found, 0 none. */
int vm_reattach(Vm *vm);

/* What the worker and its scope report. */
void vm_on_worker_ready(Vm *vm);
void vm_on_worker_exit(Vm *vm, const siginfo_t *si);  /* si NULL: a worker found again, status unknown */
void vm_on_scope_done(Vm *vm, const char *unit, const sd_bus_error *error);

/* Cloud Hypervisor's VmInfo: config, state, memory_actual_size, and chv's name, uuid, failure, unit. */
char *vm_info_json(Vm *vm);

#define log_vm_full_errno_id(vm, mid, level, error, ...) \
        log_vm_full_errno((vm)->name, (vm)->uuid, mid, level, error, __VA_ARGS__)
#define log_vm_errno(vm, level, error, ...) log_vm_full_errno_id(vm, NULL, level, error, __VA_ARGS__)
#define log_vm(vm, level, ...) (void) log_vm_errno(vm, level, 0, __VA_ARGS__)
