/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fake-systemd: org.freedesktop.systemd1 on a private bus, as much of it as chvd uses, to test chvd's
 * side of transient scopes without a real systemd (tests/integration/daemon/test-lifecycle.py):
 * StartTransientUnit answers with a job and, 0.3 s later, emits JobRemoved; ResetFailedUnit and
 * Subscribe answer. Each call is written to the file FAKE_SYSTEMD_LOG as one JSON line, with what the
 * PIDs it was given run at that moment (/proc/PID/exe) — the worker must still be waiting, not yet
 * chv-vmm. FAKE_SYSTEMD_MODE: done (default), failed (the job ends in "failed"), exists-once (the first
 * StartTransientUnit is refused with UnitExists), refuse (refused with AccessDenied).
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>
#include <unistd.h>

static const char *mode = "done";
static FILE *log_file;
static unsigned job_id;
static bool refused_once;

typedef struct Job {
        sd_bus *bus;
        unsigned id;
        char path[64];
        char unit[256];
} Job;

static void log_call(cJSON *entry)
{
        char *s = cJSON_PrintUnformatted(entry);
        fprintf(log_file, "%s\n", s);
        fflush(log_file);
        free(s);
        cJSON_Delete(entry);
}

static int on_job_done(sd_event_source *s, uint64_t usec, void *userdata)
{
        Job *j = userdata;
        const char *result = strcmp(mode, "failed") == 0 ? "failed" : "done";

        sd_bus_emit_signal(j->bus, "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager", "JobRemoved",
                           "uoss", j->id, j->path, j->unit, result);
        free(j);
        sd_event_source_unref(s);
        return 0;
}

/* Reads a(sv): strings and the au of PIDs into the log entry. */
static int read_properties(sd_bus_message *m, cJSON *props)
{
        int r;

        r = sd_bus_message_enter_container(m, 'a', "(sv)");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'r', "sv")) > 0) {
                const char *name, *contents;
                char type;

                r = sd_bus_message_read(m, "s", &name);
                if (r < 0)
                        return r;
                r = sd_bus_message_peek_type(m, &type, &contents);
                if (r < 0)
                        return r;
                if (strcmp(contents, "s") == 0) {
                        const char *v;
                        r = sd_bus_message_read(m, "v", "s", &v);
                        cJSON_AddStringToObject(props, name, v);
                } else if (strcmp(contents, "au") == 0) {
                        cJSON *a = cJSON_AddArrayToObject(props, name), *exes = cJSON_CreateArray();
                        cJSON *fd4s = cJSON_CreateArray();
                        uint32_t pid;
                        char link[64], exe[PATH_MAX];
                        ssize_t n;

                        r = sd_bus_message_enter_container(m, 'v', "au");
                        if (r >= 0)
                                r = sd_bus_message_enter_container(m, 'a', "u");
                        while (r >= 0 && (r = sd_bus_message_read(m, "u", &pid)) > 0) {
                                cJSON_AddItemToArray(a, cJSON_CreateNumber(pid));
                                snprintf(link, sizeof link, "/proc/%u/exe", pid);
                                n = readlink(link, exe, sizeof exe - 1);
                                exe[n > 0 ? n : 0] = 0;
                                cJSON_AddItemToArray(exes, cJSON_CreateString(exe));
                                /* chv-vmm waits on fd 4 (--wait-fd) until chvd says the scope is there. */
                                snprintf(link, sizeof link, "/proc/%u/fd/4", pid);
                                n = readlink(link, exe, sizeof exe - 1);
                                exe[n > 0 ? n : 0] = 0;
                                cJSON_AddItemToArray(fd4s, cJSON_CreateString(exe));
                        }
                        cJSON_AddItemToObject(props, "_exes", exes);
                        cJSON_AddItemToObject(props, "_fd4", fd4s);
                        if (r >= 0)
                                r = sd_bus_message_exit_container(m);
                        if (r >= 0)
                                r = sd_bus_message_exit_container(m);
                } else
                        r = sd_bus_message_skip(m, "v");
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

static int method_start_transient_unit(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        cJSON *entry = cJSON_CreateObject(), *props = cJSON_CreateObject();
        const char *unit, *job_mode;
        Job *j;
        int r;

        r = sd_bus_message_read(m, "ss", &unit, &job_mode);
        if (r >= 0)
                r = read_properties(m, props);
        cJSON_AddStringToObject(entry, "method", "StartTransientUnit");
        cJSON_AddStringToObject(entry, "unit", r >= 0 ? unit : "");
        cJSON_AddStringToObject(entry, "mode", r >= 0 ? job_mode : "");
        cJSON_AddItemToObject(entry, "properties", props);
        log_call(entry);
        if (r < 0)
                return r;
        if (strcmp(mode, "refuse") == 0)
                return sd_bus_error_set(error, SD_BUS_ERROR_ACCESS_DENIED, "Scopes are not for you today.");
        if (strcmp(mode, "exists-once") == 0 && !refused_once) {
                refused_once = true;
                return sd_bus_error_setf(error, "org.freedesktop.systemd1.UnitExists", "Unit %s already exists.",
                                         unit);
        }
        j = calloc(1, sizeof *j);
        j->bus = sd_bus_message_get_bus(m);
        j->id = ++job_id;
        snprintf(j->path, sizeof j->path, "/org/freedesktop/systemd1/job/%u", j->id);
        snprintf(j->unit, sizeof j->unit, "%s", unit);
        r = sd_bus_reply_method_return(m, "o", j->path);
        if (r < 0)
                return r;
        return sd_event_add_time_relative(sd_bus_get_event(j->bus), NULL, CLOCK_MONOTONIC, 300000, 0, on_job_done, j);
}

static int method_reset_failed_unit(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        cJSON *entry = cJSON_CreateObject();
        const char *unit;
        int r;

        r = sd_bus_message_read(m, "s", &unit);
        if (r < 0)
                return r;
        cJSON_AddStringToObject(entry, "method", "ResetFailedUnit");
        cJSON_AddStringToObject(entry, "unit", unit);
        log_call(entry);
        return sd_bus_reply_method_return(m, NULL);
}

static int method_subscribe(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        cJSON *entry = cJSON_CreateObject();

        cJSON_AddStringToObject(entry, "method", "Subscribe");
        log_call(entry);
        return sd_bus_reply_method_return(m, NULL);
}

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("StartTransientUnit", "ssa(sv)a(sa(sv))", "o", method_start_transient_unit,
                      SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("ResetFailedUnit", "s", "", method_reset_failed_unit, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("Subscribe", "", "", method_subscribe, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL("JobRemoved", "uoss", 0),
        SD_BUS_VTABLE_END,
};

int main(void)
{
        sd_event *e = NULL;
        sd_bus *bus = NULL;
        const char *path = getenv("FAKE_SYSTEMD_LOG");
        int r;

        if (getenv("FAKE_SYSTEMD_MODE"))
                mode = getenv("FAKE_SYSTEMD_MODE");
        log_file = path ? fopen(path, "a") : stderr;
        if (!log_file)
                return 2;
        if ((r = sd_event_default(&e)) < 0 || (r = sd_bus_open_system(&bus)) < 0 ||
            (r = sd_bus_attach_event(bus, e, 0)) < 0 ||
            (r = sd_bus_add_object_vtable(bus, NULL, "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager",
                                          manager_vtable, NULL)) < 0 ||
            (r = sd_bus_request_name(bus, "org.freedesktop.systemd1", 0)) < 0) {
                fprintf(stderr, "fake-systemd: %s\n", strerror(-r));
                return 2;
        }
        fprintf(stderr, "fake-systemd: ready\n");
        return sd_event_loop(e) < 0 ? 2 : 0;
}
