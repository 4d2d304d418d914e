/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <pthread.h>
#include <time.h>

#include "log.h"

static int max_level = LOG_WARNING;
static const char *program = "chv";
static int log_fd = STDERR_FILENO;
static _Thread_local char thread_name[16];
static struct timespec start_ts;

__attribute__((constructor)) static void log_init_clock(void)
{
        clock_gettime(CLOCK_MONOTONIC, &start_ts);
}

void log_set_max_level(int level)
{
        max_level = level;
}

int log_get_max_level(void)
{
        return max_level;
}

void log_set_program(const char *name)
{
        program = name;
}

void log_set_thread_name(const char *name)
{
        snprintf(thread_name, sizeof thread_name, "%s", name);
}

int log_open_file(const char *path)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0640);
        if (fd < 0)
                return negative_errno();
        if (log_fd != STDERR_FILENO)
                safe_close(log_fd);
        log_fd = fd;
        return 0;
}

double log_uptime(void)
{
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        return (double) (now.tv_sec - start_ts.tv_sec) + (double) (now.tv_nsec - start_ts.tv_nsec) / 1e9;
}

static const char *level_name(int level)
{
        switch (level) {
        case LOG_EMERG:
        case LOG_ALERT:
        case LOG_CRIT:
        case LOG_ERR:
                return "ERROR";
        case LOG_WARNING:
                return "WARN";
        case LOG_NOTICE:
        case LOG_INFO:
                return "INFO";
        default:
                return "DEBUG";
        }
}

int log_internal(int level, int error, const char *file, int line, const char *fmt, ...)
{
        char msg[2048];
        char buf[2304];
        va_list ap;
        int n;

        error = abs(error);
        errno = error;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);

        if (max_level >= LOG_DEBUG)
                n = snprintf(buf, sizeof buf, "%s: %.6fs: <%s> %s:%s:%d -- %s\n", program, log_uptime(),
                             thread_name[0] ? thread_name : "main", level_name(level), file, line, msg);
        else if (log_fd == STDERR_FILENO && level <= LOG_ERR)
                n = snprintf(buf, sizeof buf, "%s: %s\n", program, msg);
        else
                n = snprintf(buf, sizeof buf, "%s: %.6fs: <%s> %s -- %s\n", program, log_uptime(),
                             thread_name[0] ? thread_name : "main", level_name(level), msg);
        if (n > (int) sizeof buf - 1)
                n = sizeof buf - 1;
        (void) !write(log_fd, buf, (size_t) n);
        return -error;
}
