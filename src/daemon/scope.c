/* SPDX-License-Identifier: Apache-2.0 */
#include "manager.h"
#include "scope.h"
#include "vm.h"
#include "worker.h"

#define SYSTEMD_BUS_NAME "org.freedesktop.systemd1"
#define SYSTEMD_PATH "/org/freedesktop/systemd1"
#define SYSTEMD_MANAGER "org.freedesktop.systemd1.Manager"

bool scope_error_means_no_manager(const sd_bus_error *e)
{
        return sd_bus_error_has_names(e, SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER);
}

int scope_unit_name(const char *vm_name, char **ret)
{
        return asprintf(ret, "chv-vm-%s.scope", vm_name) < 0 ? -ENOMEM : 0;
}

static int scope_call(Vm *vm);

void scope_fail_errno(Vm *vm, int error, const char *what)
{
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;

        sd_bus_error_set_errnof(&e, error, "%s: %s", what, strerror(abs(error)));
        vm_on_scope_done(vm, NULL, &e);
}

static int on_reset_failed(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
        Vm *vm = userdata;
        Worker *w = vm->worker;
        int r;

        w->scope_slot = sd_bus_slot_unref(w->scope_slot);
        /* Whatever ResetFailedUnit says, the second StartTransientUnit gives the verdict. */
        r = scope_call(vm);
        if (r < 0)
                scope_fail_errno(vm, r, "cannot ask for the scope");
        return 0;
}

static int on_scope_started(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
        _cleanup_free_ char *unit = NULL;
        Vm *vm = userdata;
        Worker *w = vm->worker;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        const char *job;
        int r;

        w->scope_slot = sd_bus_slot_unref(w->scope_slot);
        if (e && sd_bus_error_has_name(e, "org.freedesktop.systemd1.UnitExists") && !w->scope_retried) {
                /* A failed scope of an earlier boot is still there: reset it and try once more. */
                w->scope_retried = true;
                r = scope_unit_name(vm->name, &unit);
                if (r >= 0)
                        r = sd_bus_call_method_async(vm->manager->bus, &w->scope_slot, SYSTEMD_BUS_NAME, SYSTEMD_PATH,
                                                     SYSTEMD_MANAGER, "ResetFailedUnit", on_reset_failed, vm, "s",
                                                     unit);
                if (r >= 0)
                        return 0;
        }
        if (e) {
                vm_on_scope_done(vm, NULL, e);
                return 0;
        }
        r = sd_bus_message_read(reply, "o", &job);
        if (r < 0 || !(w->scope_job = strdup(job)))
                scope_fail_errno(vm, r < 0 ? r : -ENOMEM, "cannot read the job of the scope");
        return 0;
}

static int scope_call(Vm *vm)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_free_ char *unit = NULL, *description = NULL;
        Manager *manager = vm->manager;
        Worker *w = vm->worker;
        int r;

        r = scope_unit_name(vm->name, &unit);
        if (r < 0)
                return r;
        if (asprintf(&description, "chv VM %s", vm->name) < 0)
                return -ENOMEM;
        r = sd_bus_message_new_method_call(manager->bus, &m, SYSTEMD_BUS_NAME, SYSTEMD_PATH, SYSTEMD_MANAGER,
                                           "StartTransientUnit");
        if (r < 0)
                return r;
        /* Where there is no systemd, say so at once rather than have the bus try to start one. */
        r = sd_bus_message_set_auto_start(m, false);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "ss", unit, "fail");
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(m, 'a', "(sv)");
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "(sv)(sv)(sv)(sv)", "Description", "s", description, "Slice", "s",
                                  manager->config.slice, "CollectMode", "s", "inactive-or-failed", "PIDs", "au", 1,
                                  (uint32_t) w->pid);
        if (r < 0)
                return r;
        r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "a(sa(sv))", 0);
        if (r < 0)
                return r;
        return sd_bus_call_async(manager->bus, &w->scope_slot, m, on_scope_started, vm, 0);
}

int scope_start(Vm *vm)
{
        return scope_call(vm);
}

static int scope_on_job_removed(sd_bus_message *msg, void *userdata, sd_bus_error *ret_error)
{
        const char *job, *unit, *result;
        Manager *m = userdata;
        uint32_t id;
        int r;

        r = sd_bus_message_read(msg, "uoss", &id, &job, &unit, &result);
        if (r < 0) {
                log_debug_errno(r, "Ignoring a JobRemoved signal that does not parse: %m");
                return 0;
        }
        for (Vm *vm = m->vms; vm; vm = vm->next) {
                Worker *w = vm->worker;

                if (!w || !w->scope_job || !streq(w->scope_job, job))
                        continue;
                free(w->scope_job);
                w->scope_job = NULL;
                if (streq(result, "done"))
                        vm_on_scope_done(vm, unit, NULL);
                else {
                        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
                        sd_bus_error_setf(&e, SD_BUS_ERROR_FAILED, "the job that starts %s ended in \"%s\"", unit,
                                          result);
                        vm_on_scope_done(vm, NULL, &e);
                }
                break;
        }
        return 0;
}

int scope_watch_jobs(Manager *m)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL;
        int r;

        r = sd_bus_match_signal_async(m->bus, NULL, SYSTEMD_BUS_NAME, SYSTEMD_PATH, SYSTEMD_MANAGER, "JobRemoved",
                                      scope_on_job_removed, NULL, m);
        if (r < 0)
                return r;
        /* Subscribe for the signals; without systemd on the bus this fails, and that is fine. */
        r = sd_bus_message_new_method_call(m->bus, &call, SYSTEMD_BUS_NAME, SYSTEMD_PATH, SYSTEMD_MANAGER, "Subscribe");
        if (r < 0)
                return r;
        r = sd_bus_message_set_auto_start(call, false);
        if (r < 0)
                return r;
        return sd_bus_call_async(m->bus, NULL, call, NULL, NULL, 0);
}
