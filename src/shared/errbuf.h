/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdarg.h>

#include "macro.h"

/*
 * For functions that say why they failed in a caller's buffer rather than in a log line (the library
 * code under chv-vmm): formats the reason into err and returns r, so a failure path is one statement.
 */
_printf_(4, 5) static inline int errbuf_fail(int r, char *err, size_t errlen, const char *fmt, ...)
{
        va_list ap;

        if (err && errlen) {
                va_start(ap, fmt);
                vsnprintf(err, errlen, fmt, ap);
                va_end(ap);
        }
        return r;
}
