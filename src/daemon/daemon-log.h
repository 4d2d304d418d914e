/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <syslog.h>

#include "macro.h"

/*
 * chvd's log: structured journal entries when standard error is the journal (JOURNAL_STREAM) or when
 * asked, one line on standard error otherwise. Entries about a VM carry VM_NAME= and VM_UUID=, and
 * lifecycle events a MESSAGE_ID= (the CHV_MESSAGE_* below), so that `journalctl VM_NAME=web` shows
 * one VM's story.
 */

typedef enum LogTarget {
        LOG_TARGET_AUTO,
        LOG_TARGET_JOURNAL,
        LOG_TARGET_CONSOLE,
        _LOG_TARGET_MAX,
        _LOG_TARGET_INVALID = -EINVAL,
} LogTarget;

LogTarget log_target_from_string(const char *s);
/* Maximum level and where to: AUTO picks the journal when standard error is connected to it. */
void daemon_log_setup(LogTarget target, int max_level);
int daemon_log_max_level(void);

/* Lifecycle events of a VM, for journalctl MESSAGE_ID=. */
#define CHV_MESSAGE_VM_STARTED "9d1f4b0e6c2a4e6f8b3a7c5d2e1f0a93"
#define CHV_MESSAGE_VM_STOPPED "4e2a8c1b7d3f4a5e9c6b0d8f1a2e3c74"
#define CHV_MESSAGE_VM_FAILED "b7c3e9a1f5d24c8e8a6f3b1d9e7c2a05"

/* Returns -abs(error) (0 when error is 0). vm_name and vm_uuid may be NULL; message_id too. */
int daemon_log_internal(int level, int error, const char *vm_name, const char *vm_uuid, const char *message_id,
                        const char *file, int line, const char *func, const char *fmt, ...) _printf_(9, 10);

#define log_vm_full_errno(name, uuid, mid, level, error, ...)                                                \
        ({                                                                                                \
                int _l_ = (level), _e_ = (error);                                                         \
                daemon_log_max_level() >= _l_                                                             \
                        ? daemon_log_internal(_l_, _e_, name, uuid, mid, __FILE__, __LINE__, __func__,    \
                                              __VA_ARGS__)                                                \
                        : -abs(_e_);                                                                      \
        })

#define log_full_errno(level, error, ...) log_vm_full_errno(NULL, NULL, NULL, level, error, __VA_ARGS__)
#include "log-levels.h"
