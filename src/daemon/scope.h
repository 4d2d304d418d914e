/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <systemd/sd-bus.h>

#include "macro.h"

typedef struct Manager Manager;
typedef struct Vm Vm;

/*
 * The transient scope chv-vm-NAME.scope that holds a VM's worker: StartTransientUnit with its PID
 * under the configured slice, the job awaited through JobRemoved (one match for all VMs), and a failed
 * scope of an earlier boot reset once (ResetFailedUnit). The outcome goes to vm_on_scope_done().
 */
int scope_start(Vm *vm);
int scope_unit_name(const char *vm_name, char **ret);
/* Reports a failure to ask for the scope (error a negative errno) as the scope's outcome. */
void scope_fail_errno(Vm *vm, int error, const char *what);
/* The error says there is no systemd manager on the bus at all. */
bool scope_error_means_no_manager(const sd_bus_error *e);
/* Installs the JobRemoved match and subscribes to systemd's signals (where there is a systemd). */
int scope_watch_jobs(Manager *m);
