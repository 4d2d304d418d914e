/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>

#include "bus-util.h"
#include "manager.h"
#include "vm.h"
#include "worker.h"

static int property_get_state(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        Vm *vm = userdata;
        return sd_bus_message_append(reply, "s", vm_state_to_string(vm->state));
}

static int property_get_unit(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        Vm *vm = userdata;
        return sd_bus_message_append(reply, "s", vm->unit ?: "");
}

static int property_get_main_pid(sd_bus *bus, const char *path, const char *interface, const char *property,
                                 sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        Vm *vm = userdata;
        return sd_bus_message_append(reply, "u", (uint32_t) MAX(vm->main_pid, 0));
}

int vm_send_changed(Vm *vm, const char *property, ...)
{
        const char *names[8];
        size_t n = 0;
        va_list ap;

        if (!vm->manager->bus)
                return 0;
        va_start(ap, property);
        for (const char *p = property; p && n < ELEMENTSOF(names) - 1; p = va_arg(ap, const char *))
                names[n++] = p;
        va_end(ap);
        names[n] = NULL;
        return sd_bus_emit_properties_changed_strv(vm->manager->bus, vm->path, CHV_VM_INTERFACE, (char **) names);
}

int vm_send_event(Vm *vm, const char *source, const char *event, const char *properties_json)
{
        if (!vm->manager->bus)
                return 0;
        return sd_bus_emit_signal(vm->manager->bus, vm->path, CHV_VM_INTERFACE, "Event", "sss", source, event,
                                  properties_json ?: "{}");
}

/* InvalidState, saying what the VM is doing and what to do instead. */
static int vm_error_state(Vm *vm, sd_bus_error *error, const char *what_to_do)
{
        return sd_bus_error_setf(error, CHV_ERROR_INVALID_STATE, "VM %s is %s: %s", vm->name,
                                 vm_state_to_string(vm->state), what_to_do);
}

static int bus_vm_method_info(sd_bus_message *msg, void *userdata, sd_bus_error *error)
{
        _cleanup_free_ char *info = NULL;
        Vm *vm = userdata;

        info = vm_info_json(vm);
        if (!info)
                return -ENOMEM;
        return sd_bus_reply_method_return(msg, "s", info);
}

static int bus_vm_method_delete(sd_bus_message *msg, void *userdata, sd_bus_error *error)
{
        Vm *vm = userdata;
        Manager *m = vm->manager;
        int r;

        r = bus_verify_polkit_async(m, msg, CHV_ACTION_MANAGE, vm->name, "Deleting a VM", error);
        if (r <= 0)
                return r < 0 ? r : 1;
        if (!vm_state_is_inactive(vm->state))
                return vm_error_state(vm, error, "shut it down first, then delete it");
        r = vm_remove_definition(vm);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Cannot remove the definition of VM %s: %m", vm->name);
        (void) vm_send_event(vm, "vm", "deleted", NULL);
        log_vm(vm, LOG_INFO, "Deleted.");
        manager_remove_vm(m, vm);
        vm_free(vm);
        return sd_bus_reply_method_return(msg, NULL);
}

void vm_finish_boot(Vm *vm, const char *failure)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = TAKE_PTR(vm->boot_call);
        int r;

        if (!call)
                return;
        if (failure)
                r = sd_bus_reply_method_errorf(call, CHV_ERROR_BOOT_FAILED, "VM %s did not boot: %s", vm->name,
                                               failure);
        else
                r = sd_bus_reply_method_return(call, NULL);
        if (r < 0)
                log_vm_errno(vm, LOG_WARNING, r, "Cannot answer %s, ignoring: %m", sd_bus_message_get_member(call));
}

void vm_finish_stop(Vm *vm)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = TAKE_PTR(vm->stop_call);
        int r;

        if (!call)
                return;
        r = sd_bus_reply_method_return(call, NULL);
        if (r < 0)
                log_vm_errno(vm, LOG_WARNING, r, "Cannot answer Shutdown, ignoring: %m");
}

/* The methods that act on a running guest want it Running; anything else gets a word on what to do. */
static int vm_check_running(Vm *vm, bool paused_too, sd_bus_error *error)
{
        switch (vm->state) {
        case VM_RUNNING:
                return 0;
        case VM_PAUSED:
                return paused_too ? 0 : vm_error_state(vm, error, "it is paused; resume it first");
        case VM_STARTING:
                return vm_error_state(vm, error, "wait until it runs");
        case VM_STOPPING:
                return vm_error_state(vm, error, "it is shutting down; boot it again once it is Shutdown");
        default:
                return vm_error_state(vm, error, "boot it first");
        }
}

static int bus_vm_method_boot(sd_bus_message *msg, void *userdata, sd_bus_error *error)
{
        Vm *vm = userdata;
        char err[512];
        int r;

        r = bus_verify_polkit_async(vm->manager, msg, CHV_ACTION_CONTROL, vm->name, "Booting a VM", error);
        if (r <= 0)
                return r < 0 ? r : 1;
        if (vm->state == VM_STARTING)
                return vm_error_state(vm, error, "it is booting already");
        if (!vm_state_is_inactive(vm->state))
                return vm_error_state(vm, error, "it runs already; shut it down first to boot it afresh");
        r = vm_boot(vm, err, sizeof err);
        if (r < 0)
                return sd_bus_error_setf(error, CHV_ERROR_BOOT_FAILED, "VM %s did not boot: %s", vm->name, err);
        vm->boot_call = sd_bus_message_ref(msg);
        return 1;
}

/*
 * Shutdown, Reboot and PowerButton: root or polkit, a Running VM, then the action; the reply goes now, or,
 * with deferred, when the action is done.
 */
static int bus_vm_act_on_running(sd_bus_message *msg, Vm *vm, sd_bus_error *error, const char *what,
                                 int (*action)(Vm *vm), sd_bus_message **deferred)
{
        int r;

        r = bus_verify_polkit_async(vm->manager, msg, CHV_ACTION_CONTROL, vm->name, what, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        /* A paused VM can be shut down or rebooted (chv-vmm stops it on SIGTERM), not woken otherwise. */
        r = vm_check_running(vm, action != vm_power_button, error);
        if (r < 0)
                return r;
        r = action(vm);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "%s (VM %s) failed: %m", what, vm->name);
        if (!deferred)
                return sd_bus_reply_method_return(msg, NULL);
        *deferred = sd_bus_message_ref(msg);
        return 1;
}

static int bus_vm_method_shutdown(sd_bus_message *msg, void *userdata, sd_bus_error *error)
{
        Vm *vm = userdata;
        return bus_vm_act_on_running(msg, vm, error, "Shutting down a VM", vm_shutdown, &vm->stop_call);
}

static int bus_vm_method_reboot(sd_bus_message *msg, void *userdata, sd_bus_error *error)
{
        Vm *vm = userdata;
        return bus_vm_act_on_running(msg, vm, error, "Rebooting a VM", vm_reboot, &vm->boot_call);
}

static int bus_vm_method_power_button(sd_bus_message *msg, void *userdata, sd_bus_error *error)
{
        return bus_vm_act_on_running(msg, userdata, error, "Pressing the power button of a VM", vm_power_button,
                                     NULL);
}

/* Pause and Resume: root or polkit, the VM Running (Pause) or Paused (Resume); answered once chv-vmm has. */
static int bus_vm_pause_or_resume(sd_bus_message *msg, Vm *vm, sd_bus_error *error, bool pause)
{
        char err[512];
        int r;

        r = bus_verify_polkit_async(vm->manager, msg, CHV_ACTION_CONTROL, vm->name,
                                    pause ? "Pausing a VM" : "Resuming a VM", error);
        if (r <= 0)
                return r < 0 ? r : 1;
        if (vm->control_busy)
                r = vm_error_state(vm, error, "it is being paused or resumed; wait until that is done");
        else if (vm->state == VM_PAUSED)
                r = pause ? vm_error_state(vm, error, "it is paused already; resume it first") : 0;
        else if (vm->state == VM_RUNNING && !pause)
                r = vm_error_state(vm, error, "it is not paused; there is nothing to resume");
        else
                r = vm_check_running(vm, false, error);
        if (r < 0)
                return r;
        r = vm_pause_or_resume(vm, msg, err, sizeof err);
        if (r < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_FAILED, "%s VM %s failed: %s", pause ? "Pausing" : "Resuming",
                                         vm->name, err);
        return 1;
}

static int bus_vm_method_pause(sd_bus_message *msg, void *userdata, sd_bus_error *error)
{
        return bus_vm_pause_or_resume(msg, userdata, error, true);
}

static int bus_vm_method_resume(sd_bus_message *msg, void *userdata, sd_bus_error *error)
{
        return bus_vm_pause_or_resume(msg, userdata, error, false);
}

static int bus_vm_method_counters(sd_bus_message *msg, void *userdata, sd_bus_error *error)
{
        Vm *vm = userdata;
        char err[512];
        int r;

        r = vm_check_running(vm, true, error);
        if (r < 0)
                return r;
        r = vm_counters(vm, msg, err, sizeof err);
        if (r < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_FAILED, "Reading the counters of VM %s failed: %s",
                                         vm->name, err);
        return 1;
}

static int bus_vm_method_open_console(sd_bus_message *msg, void *userdata, sd_bus_error *error)
{
        _cleanup_close_ int fd = -EBADF;
        Vm *vm = userdata;
        int r;

        /* The console is the guest's input too: not for everyone. */
        r = bus_verify_polkit_async(vm->manager, msg, CHV_ACTION_CONSOLE, vm->name, "Opening the console of a VM",
                                    error);
        if (r <= 0)
                return r < 0 ? r : 1;
        if (vm->state != VM_STARTING && vm->state != VM_RUNNING && vm->state != VM_PAUSED)
                return vm_error_state(vm, error, "boot it first");
        fd = worker_open_console(vm->worker);
        if (fd == -ENXIO)
                return sd_bus_error_setf(error, CHV_ERROR_INVALID_CONFIG,
                                         "VM %s has no console: its serial port and console are Off or Null; "
                                         "give serial (or console) the mode Tty or File",
                                         vm->name);
        if (fd < 0)
                return sd_bus_error_set_errnof(error, fd, "Cannot open the console of VM %s: %m", vm->name);
        return sd_bus_reply_method_return(msg, "h", fd);
}

const sd_bus_vtable vm_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Name", "s", NULL, offsetof(Vm, name), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("UUID", "s", NULL, offsetof(Vm, uuid), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("State", "s", property_get_state, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Config", "s", NULL, offsetof(Vm, config_json), SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Unit", "s", property_get_unit, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("MainPID", "u", property_get_main_pid, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("Boot", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, bus_vm_method_boot,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Shutdown", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, bus_vm_method_shutdown,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Reboot", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, bus_vm_method_reboot,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("PowerButton", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, bus_vm_method_power_button,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Pause", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, bus_vm_method_pause,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Resume", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, bus_vm_method_resume,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Counters", SD_BUS_NO_ARGS, SD_BUS_RESULT("s", counters), bus_vm_method_counters,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Info", SD_BUS_NO_ARGS, SD_BUS_RESULT("s", info), bus_vm_method_info,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("OpenConsole", SD_BUS_NO_ARGS, SD_BUS_RESULT("h", console),
                                bus_vm_method_open_console, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Delete", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, bus_vm_method_delete,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("Event", SD_BUS_ARGS("s", source, "s", event, "s", properties), 0),
        SD_BUS_VTABLE_END,
};

int vm_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                   sd_bus_error *error)
{
        _cleanup_free_ char *name = NULL;
        Manager *m = userdata;
        Vm *vm;
        int r;

        r = sd_bus_path_decode(path, VM_OBJECT_PREFIX, &name);
        if (r <= 0)
                return r;
        vm = manager_find_vm(m, name);
        if (!vm)
                return 0;
        *found = vm;
        return 1;
}

int vm_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error)
{
        Manager *m = userdata;
        char **l;
        size_t i = 0;

        l = calloc(m->n_vms + 1, sizeof *l);
        if (!l)
                return -ENOMEM;
        for (Vm *vm = m->vms; vm; vm = vm->next) {
                l[i] = strdup(vm->path);
                if (!l[i]) {
                        while (i > 0)
                                free(l[--i]);
                        free(l);
                        return -ENOMEM;
                }
                i++;
        }
        *nodes = l;
        return 0;
}
