/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>

#include "bus-util.h"
#include "manager.h"
#include "vm.h"

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

        r = bus_check_privileged(msg, "Deleting a VM", error);
        if (r < 0)
                return r;
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

const sd_bus_vtable vm_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Name", "s", NULL, offsetof(Vm, name), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("UUID", "s", NULL, offsetof(Vm, uuid), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("State", "s", property_get_state, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Config", "s", NULL, offsetof(Vm, config_json), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Unit", "s", property_get_unit, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("MainPID", "u", property_get_main_pid, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("Info", SD_BUS_NO_ARGS, SD_BUS_RESULT("s", info), bus_vm_method_info,
                                SD_BUS_VTABLE_UNPRIVILEGED),
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
