/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <systemd/sd-bus.h>

typedef struct Manager Manager;
typedef struct PolkitQuery PolkitQuery;

/* The polkit actions of dbus/org.cloudhypervisor.policy. */
#define CHV_ACTION_MANAGE "org.cloudhypervisor.manage-vms"      /* CreateVM, Delete */
#define CHV_ACTION_CONTROL "org.cloudhypervisor.control-vms"    /* Boot, Shutdown, Reboot, PowerButton, Pause, Resume */
#define CHV_ACTION_CONSOLE "org.cloudhypervisor.open-console"   /* OpenConsole */

/*
 * May the caller of msg do action (on VM vm_name, which polkit rules see as the detail "vm")? Root
 * may. Anyone else, whom the bus policy let through, is up to polkit, asked without blocking: then
 * this returns 0 and the method handler returns 1 at once; msg is dispatched again once polkit has
 * answered, and this call then returns the answer. Returns 1 when the caller may, or sets
 * AccessDenied (what says what was refused) and returns its negative errno.
 */
int bus_verify_polkit_async(Manager *m, sd_bus_message *msg, const char *action, const char *vm_name,
                            const char *what, sd_bus_error *error);

/* Frees every query, answered or not (chvd is going away). */
void polkit_queries_free(Manager *m);
