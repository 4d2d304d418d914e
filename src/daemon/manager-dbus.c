/* SPDX-License-Identifier: Apache-2.0 */
#include <systemd/sd-id128.h>

#include "bus-util.h"
#include "manager.h"
#include "vm.h"

/* What this chvd offers: Cloud Hypervisor's build features that chv has, and chvd's own. */
static const char *const features[] = {
        "kvm",
        "io_uring",
#if HAVE_SECCOMP
        "seccomp",
#endif
        "yaml",
        NULL,
};

static const char *const version = PACKAGE_VERSION;

static int find_vm_or_fail(Manager *m, const char *name, Vm **ret, sd_bus_error *error)
{
        char q[VM_NAME_MAX + 8];

        if (!vm_name_is_valid(name))
                return bus_error_invalid_name(error, name);
        *ret = manager_find_vm(m, name);
        if (!*ret) {
                quote_for_message(name, VM_NAME_MAX, q, sizeof q);
                return sd_bus_error_setf(error, CHV_ERROR_NOT_FOUND,
                                         "There is no VM named %s: see the VMs there are with chvctl list", q);
        }
        return 0;
}

/* CreateVM's options: "uuid" (s), "replace" (b). */
static int read_create_options(sd_bus_message *msg, const char **ret_uuid, bool *ret_replace, sd_bus_error *error)
{
        const char *key;
        int r;

        r = sd_bus_message_enter_container(msg, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(msg, 'e', "sv")) > 0) {
                r = sd_bus_message_read(msg, "s", &key);
                if (r < 0)
                        return r;
                if (streq(key, "uuid")) {
                        sd_id128_t id;
                        r = sd_bus_message_read(msg, "v", "s", ret_uuid);
                        if (r < 0)
                                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                         "Option uuid must be a string (s)");
                        if (sd_id128_from_string(*ret_uuid, &id) < 0)
                                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                         "Option uuid \"%s\" is not a UUID", *ret_uuid);
                } else if (streq(key, "replace")) {
                        int b;
                        r = sd_bus_message_read(msg, "v", "b", &b);
                        if (r < 0)
                                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                         "Option replace must be a boolean (b)");
                        *ret_replace = b;
                } else
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "Unknown option \"%s\": CreateVM knows uuid and replace", key);
                r = sd_bus_message_exit_container(msg);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(msg);
}

/* A VM of that name exists and CreateVM said replace: its new configuration, same UUID. */
static int replace_vm(sd_bus_message *msg, Vm *vm, const char *uuid, cJSON *config, sd_bus_error *error)
{
        int r;

        if (uuid && !streq(uuid, vm->uuid)) {
                cJSON_Delete(config);
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "VM %s has UUID %s: a replaced definition keeps it, leave out option uuid",
                                         vm->name, vm->uuid);
        }
        if (!vm_state_is_inactive(vm->state)) {
                cJSON_Delete(config);
                return sd_bus_error_setf(error, CHV_ERROR_INVALID_STATE,
                                         "VM %s is %s: shut it down before its definition is replaced", vm->name,
                                         vm_state_to_string(vm->state));
        }
        r = vm_replace_config(vm, config);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Cannot save the definition of VM %s in %s: %m", vm->name,
                                               vm->manager->config.state_dir);
        log_vm(vm, LOG_INFO, "Definition replaced.");
        return sd_bus_reply_method_return(msg, "o", vm->path);
}

static int method_create_vm(sd_bus_message *msg, void *userdata, sd_bus_error *error)
{
        _cleanup_(vm_freep) Vm *vm = NULL;
        const char *name, *text, *uuid = NULL;
        Manager *m = userdata;
        cJSON *config = NULL;
        bool replace = false;
        Vm *existing;
        char err[512];
        int r;

        r = sd_bus_message_read(msg, "ss", &name, &text);
        if (r < 0)
                return r;
        r = read_create_options(msg, &uuid, &replace, error);
        if (r < 0)
                return r;
        if (!vm_name_is_valid(name))
                return bus_error_invalid_name(error, name);
        r = bus_verify_polkit_async(m, msg, CHV_ACTION_MANAGE, name, "Creating a VM", error);
        if (r <= 0)
                return r < 0 ? r : 1;   /* 0: polkit is asked; the call comes again with its answer */
        existing = manager_find_vm(m, name);
        if (existing && !replace)
                return sd_bus_error_setf(error, CHV_ERROR_ALREADY_EXISTS,
                                         "A VM named %s exists already: choose another name, delete that VM first, "
                                         "or replace its definition (chvctl create --replace)",
                                         name);
        r = vm_config_check(text, strlen(text), &config, err, sizeof err);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return sd_bus_error_setf(error, CHV_ERROR_INVALID_CONFIG, "Invalid configuration for VM %s: %s", name,
                                         err);
        if (existing)
                return replace_vm(msg, existing, uuid, config, error);
        r = vm_new(m, name, uuid, config, &vm);
        if (r < 0)
                return r;
        r = vm_save(vm);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Cannot save the definition of VM %s in %s: %m", name,
                                               m->config.state_dir);
        manager_add_vm(m, vm);
        log_vm(vm, LOG_INFO, "Created, UUID %s.", vm->uuid);
        return sd_bus_reply_method_return(msg, "o", TAKE_PTR(vm)->path);
}

static int method_list_vms(sd_bus_message *msg, void *userdata, sd_bus_error *error)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Manager *m = userdata;
        int r;

        r = sd_bus_message_new_method_return(msg, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(ssso)");
        if (r < 0)
                return r;
        for (Vm *vm = m->vms; vm; vm = vm->next) {
                r = sd_bus_message_append(reply, "(ssso)", vm->name, vm->uuid, vm_state_to_string(vm->state),
                                          vm->path);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_get_vm(sd_bus_message *msg, void *userdata, sd_bus_error *error)
{
        const char *name;
        Vm *vm;
        int r;

        r = sd_bus_message_read(msg, "s", &name);
        if (r < 0)
                return r;
        r = find_vm_or_fail(userdata, name, &vm, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(msg, "o", vm->path);
}

static int method_ping(sd_bus_message *msg, void *userdata, sd_bus_error *error)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_message_new_method_return(msg, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_append(reply, "s", PACKAGE_VERSION);
        if (r < 0)
                return r;
        r = sd_bus_message_append_strv(reply, (char **) features);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Version", "s", NULL, (size_t) &version, SD_BUS_VTABLE_PROPERTY_CONST |
                                                                  SD_BUS_VTABLE_ABSOLUTE_OFFSET),
        SD_BUS_METHOD_WITH_ARGS("CreateVM", SD_BUS_ARGS("s", name, "s", config, "a{sv}", options),
                                SD_BUS_RESULT("o", vm), method_create_vm, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListVMs", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(ssso)", vms), method_list_vms,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetVM", SD_BUS_ARGS("s", name), SD_BUS_RESULT("o", vm), method_get_vm,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Ping", SD_BUS_NO_ARGS, SD_BUS_RESULT("s", version, "as", features), method_ping,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("VMAdded", SD_BUS_ARGS("s", name, "o", vm), 0),
        SD_BUS_SIGNAL_WITH_ARGS("VMRemoved", SD_BUS_ARGS("s", name, "o", vm), 0),
        SD_BUS_VTABLE_END,
};

int manager_send_vm_signal(Manager *m, Vm *vm, bool added)
{
        int r;

        if (!m->bus)
                return 0;
        /* ObjectManager's InterfacesAdded/Removed, then our own signal for clients that want only VMs. */
        r = added ? sd_bus_emit_object_added(m->bus, vm->path) : sd_bus_emit_object_removed(m->bus, vm->path);
        if (r < 0)
                log_vm_errno(vm, LOG_WARNING, r, "Cannot announce the VM's object, ignoring: %m");
        return sd_bus_emit_signal(m->bus, CHV_MANAGER_PATH, CHV_MANAGER_INTERFACE, added ? "VMAdded" : "VMRemoved",
                                  "so", vm->name, vm->path);
}
