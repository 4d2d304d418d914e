/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * The log_LEVEL() family, the same for every program of chv. The log backend that includes this
 * defines log_full_errno(level, error, fmt, ...) first: it logs at syslog level `level` (with %m
 * printing strerror(error)) and evaluates to -abs(error).
 */
#ifndef log_full_errno
#error "log-levels.h needs log_full_errno() from a log backend (log.h, daemon-log.h)"
#endif

#define log_full(level, ...) (void) log_full_errno(level, 0, __VA_ARGS__)

#define log_debug(...) log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_full(LOG_ERR, __VA_ARGS__)

#define log_debug_errno(e, ...) log_full_errno(LOG_DEBUG, e, __VA_ARGS__)
#define log_info_errno(e, ...) log_full_errno(LOG_INFO, e, __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, e, __VA_ARGS__)
#define log_error_errno(e, ...) log_full_errno(LOG_ERR, e, __VA_ARGS__)

#define log_oom() log_error_errno(ENOMEM, "Out of memory.")
