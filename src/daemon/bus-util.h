/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <systemd/sd-bus.h>

#include "macro.h"

/* The errors chvd's methods return, each with a message that says what to do. */
#define CHV_ERROR_NOT_FOUND "org.cloudhypervisor.Error.NotFound"
#define CHV_ERROR_ALREADY_EXISTS "org.cloudhypervisor.Error.AlreadyExists"
#define CHV_ERROR_INVALID_NAME "org.cloudhypervisor.Error.InvalidName"
#define CHV_ERROR_INVALID_CONFIG "org.cloudhypervisor.Error.InvalidConfig"
#define CHV_ERROR_INVALID_STATE "org.cloudhypervisor.Error.InvalidState"
#define CHV_ERROR_ACCESS_DENIED "org.cloudhypervisor.Error.AccessDenied"
#define CHV_ERROR_BOOT_FAILED "org.cloudhypervisor.Error.BootFailed"

/* InvalidName for name, quoted safely (at most 64 characters, unprintable ones as '?'). */
int bus_error_invalid_name(sd_bus_error *error, const char *name);

/* name, quoted safely for a message: at most max characters, unprintable ones as '?'. */
void quote_for_message(const char *name, size_t max, char *buf, size_t size);
