/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

#include "daemon-log.h"

static int max_level = LOG_INFO;
static bool to_journal;

static const char *const log_target_table[_LOG_TARGET_MAX] = {
        [LOG_TARGET_AUTO] = "auto",
        [LOG_TARGET_JOURNAL] = "journal",
        [LOG_TARGET_CONSOLE] = "console",
};

LogTarget log_target_from_string(const char *s)
{
        for (int i = 0; s && i < _LOG_TARGET_MAX; i++)
                if (streq(log_target_table[i], s))
                        return (LogTarget) i;
        return _LOG_TARGET_INVALID;
}

/* Whether standard error is the stream systemd connected to the journal (JOURNAL_STREAM=dev:ino). */
static bool stderr_is_journal(void)
{
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
}

void daemon_log_setup(LogTarget target, int level)
{
        max_level = level;
        to_journal = target == LOG_TARGET_JOURNAL || (target == LOG_TARGET_AUTO && stderr_is_journal());
}

int daemon_log_max_level(void)
{
        return max_level;
}

static int log_to_journal(int level, int error, const char *vm_name, const char *vm_uuid,
                          const char *message_id, const char *file, int line, const char *func, const char *msg)
{
        _cleanup_free_ char *m = NULL, *name = NULL, *uuid = NULL;
        char f[7][512];
        struct iovec iov[10];
        size_t n = 0;

#define FIELD(...)                                                                                  \
        do {                                                                                        \
                int _n_ = snprintf(f[n], sizeof f[n], __VA_ARGS__);                                 \
                iov[n] = (struct iovec) { f[n], (size_t) MIN(_n_, (int) sizeof f[n] - 1) };        \
                n++;                                                                                \
        } while (0)

        FIELD("PRIORITY=%d", level);
        FIELD("SYSLOG_IDENTIFIER=chvd");
        FIELD("CODE_FILE=%s", file);
        FIELD("CODE_LINE=%d", line);
        FIELD("CODE_FUNC=%s", func);
        if (error)
                FIELD("ERRNO=%d", error);
        if (message_id)
                FIELD("MESSAGE_ID=%s", message_id);
#undef FIELD
        /* The message and the VM's name may be long: they go as they are. */
        if (asprintf(&m, "MESSAGE=%s", msg) < 0)
                return -ENOMEM;
        iov[n++] = (struct iovec) { m, strlen(m) };
        if (vm_name) {
                if (asprintf(&name, "VM_NAME=%s", vm_name) < 0)
                        return -ENOMEM;
                iov[n++] = (struct iovec) { name, strlen(name) };
        }
        if (vm_uuid) {
                if (asprintf(&uuid, "VM_UUID=%s", vm_uuid) < 0)
                        return -ENOMEM;
                iov[n++] = (struct iovec) { uuid, strlen(uuid) };
        }
        /* The function, not the macro: the location fields are set above, from the caller's. */
        return (sd_journal_sendv)(iov, (int) n);
}

int daemon_log_internal(int level, int error, const char *vm_name, const char *vm_uuid, const char *message_id,
                        const char *file, int line, const char *func, const char *fmt, ...)
{
        char msg[2048];
        va_list ap;

        error = abs(error);
        errno = error;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);

        if (to_journal && log_to_journal(level, error, vm_name, vm_uuid, message_id, file, line, func, msg) >= 0)
                return -error;
        if (vm_name)
                fprintf(stderr, "chvd: VM %s: %s\n", vm_name, msg);
        else
                fprintf(stderr, "chvd: %s\n", msg);
        return -error;
}
