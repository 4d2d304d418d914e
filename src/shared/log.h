/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdarg.h>
#include <syslog.h>

#include "macro.h"

/* Levels are syslog's. chv-vmm maps -v to LOG_INFO, -vv to LOG_DEBUG. */
void log_set_max_level(int level);
int log_get_max_level(void);
void log_set_program(const char *name);
int log_open_file(const char *path);
void log_set_thread_name(const char *name);

/* Writes one line and returns -abs(error) (or 0 when error is 0). %m prints strerror(error). */
int log_internal(int level, int error, const char *file, int line, const char *fmt, ...) _printf_(5, 6);

#define log_full_errno(level, error, ...)                                               \
        ({                                                                              \
                int _l_ = (level), _e_ = (error);                                       \
                (log_get_max_level() >= _l_) ? log_internal(_l_, _e_, __FILE__, __LINE__, __VA_ARGS__) \
                                             : -abs(_e_);                               \
        })
#include "log-levels.h"

/* Seconds since the process started (CLOCK_MONOTONIC based), for log lines and boot markers. */
double log_uptime(void);
