/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bus-call: one method call on the system bus for the daemon tests, with the reply as JSON.
 *
 *   bus-call [--dest NAME] [--timeout SEC] PATH INTERFACE METHOD [SIGNATURE [ARG...]]
 *
 * SIGNATURE is made of s, o, g, b, y, n, q, i, u, x, t, d, v and a{sv}; a v argument is a JSON string,
 * number (sent as t) or boolean, an a{sv} argument a JSON object of such members. On success prints the reply's values as a
 * JSON array and exits 0; on an error reply prints {"error": NAME, "message": TEXT} and exits 1; other
 * failures exit 2. An argument written "@/PATH" is the contents of the file PATH, for texts longer than
 * a command line holds. A file descriptor in the reply is printed as {"fd": N, "read": TEXT}, with whatever
 * could be read from it within 0.5 s (for a console: what the guest wrote). busctl prints no error names,
 * which the tests check, hence this tool.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdbool.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

/* One value of a basic D-Bus type, as sd_bus_message_append_basic() and _read_basic() take it. */
typedef union BasicValue {
        const char *s;
        uint8_t y;
        int b;
        int16_t n;
        uint16_t q;
        int32_t i;
        uint32_t u;
        int64_t x;
        uint64_t t;
        double d;
        int h;
} BasicValue;

static int append_variant(sd_bus_message *m, const cJSON *j)
{
        if (cJSON_IsString(j))
                return sd_bus_message_append(m, "v", "s", j->valuestring);
        if (cJSON_IsNumber(j))
                return sd_bus_message_append(m, "v", "t", (uint64_t) j->valuedouble);
        if (cJSON_IsBool(j))
                return sd_bus_message_append(m, "v", "b", cJSON_IsTrue(j));
        return -EINVAL;
}

static int append_json(sd_bus_message *m, const char *json, bool dict)
{
        cJSON *o = cJSON_Parse(json), *j;
        int r;

        if (!dict) {
                r = append_variant(m, o);
                cJSON_Delete(o);
                return r;
        }
        if (!cJSON_IsObject(o)) {
                cJSON_Delete(o);
                return -EINVAL;
        }
        r = sd_bus_message_open_container(m, 'a', "{sv}");
        cJSON_ArrayForEach(j, o) {
                if (r < 0)
                        break;
                r = sd_bus_message_open_container(m, 'e', "sv");
                if (r >= 0)
                        r = sd_bus_message_append(m, "s", j->string);
                if (r >= 0)
                        r = append_variant(m, j);
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        cJSON_Delete(o);
        return r;
}

static int append_basic(sd_bus_message *m, char type, const char *arg)
{
        BasicValue v;
        char *end;

        errno = 0;
        switch (type) {
        case 's':
        case 'o':
        case 'g':
                return sd_bus_message_append_basic(m, type, arg);
        case 'b':
                v.b = strcmp(arg, "true") == 0 || strcmp(arg, "1") == 0;
                return sd_bus_message_append_basic(m, type, &v.b);
        case 'd':
                v.d = strtod(arg, &end);
                break;
        case 'x':
        case 'i':
        case 'n':
                v.x = strtoll(arg, &end, 0);
                if (type == 'i')
                        v.i = (int32_t) v.x;
                else if (type == 'n')
                        v.n = (int16_t) v.x;
                break;
        default:
                v.t = strtoull(arg, &end, 0);
                if (type == 'u')
                        v.u = (uint32_t) v.t;
                else if (type == 'q')
                        v.q = (uint16_t) v.t;
                else if (type == 'y')
                        v.y = (uint8_t) v.t;
                break;
        }
        if (errno || *end)
                return -EINVAL;
        return sd_bus_message_append_basic(m, type, &v);
}

static char *read_fd(int fd)
{
        static char buf[65536];
        size_t n = 0;
        struct timespec start, now;

        clock_gettime(CLOCK_MONOTONIC, &start);
        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                long ms;

                clock_gettime(CLOCK_MONOTONIC, &now);
                ms = 500 - (now.tv_sec - start.tv_sec) * 1000 - (now.tv_nsec - start.tv_nsec) / 1000000;
                if (ms <= 0 || n >= sizeof buf - 1 || poll(&p, 1, (int) ms) <= 0)
                        break;
                ssize_t k = read(fd, buf + n, sizeof buf - 1 - n);
                if (k <= 0)
                        break;
                n += (size_t) k;
        }
        buf[n] = 0;
        return buf;
}

/* The reply's next complete value as JSON; NULL at the end of the container. */
static cJSON *read_value(sd_bus_message *m, int *ret)
{
        const char *contents;
        char type;
        cJSON *j;
        int r;

        r = sd_bus_message_peek_type(m, &type, &contents);
        if (r <= 0) {
                *ret = r;
                return NULL;
        }
        if (type == 'a' || type == 'r' || type == 'v' || type == 'e') {
                bool dict = type == 'a' && contents[0] == '{';
                r = sd_bus_message_enter_container(m, type, contents);
                if (r < 0) {
                        *ret = r;
                        return NULL;
                }
                j = type == 'v' ? NULL : dict ? cJSON_CreateObject() : cJSON_CreateArray();
                for (;;) {
                        cJSON *e = read_value(m, ret);
                        if (!e)
                                break;
                        if (type == 'v') {
                                j = e;
                                continue;
                        }
                        if (dict) {
                                /* a dict entry came back as a two-element array */
                                cJSON *k = cJSON_DetachItemFromArray(e, 0), *val = cJSON_DetachItemFromArray(e, 0);
                                char kb[32];
                                const char *key = cJSON_IsString(k) ? k->valuestring : (snprintf(kb, sizeof kb, "%g", k->valuedouble), kb);
                                cJSON_AddItemToObject(j, key, val);
                                cJSON_Delete(k);
                                cJSON_Delete(e);
                        } else
                                cJSON_AddItemToArray(j, e);
                }
                if (*ret < 0)
                        return NULL;
                *ret = sd_bus_message_exit_container(m);
                return j;
        }
        BasicValue v;
        r = sd_bus_message_read_basic(m, type, &v);
        if (r < 0) {
                *ret = r;
                return NULL;
        }
        *ret = 1;
        switch (type) {
        case 's':
        case 'o':
        case 'g':
                return cJSON_CreateString(v.s);
        case 'b':
                return cJSON_CreateBool(v.b);
        case 'y':
                return cJSON_CreateNumber(v.y);
        case 'n':
                return cJSON_CreateNumber(v.n);
        case 'q':
                return cJSON_CreateNumber(v.q);
        case 'i':
                return cJSON_CreateNumber(v.i);
        case 'u':
                return cJSON_CreateNumber(v.u);
        case 'x':
                return cJSON_CreateNumber((double) v.x);
        case 't':
                return cJSON_CreateNumber((double) v.t);
        case 'd':
                return cJSON_CreateNumber(v.d);
        case 'h':
                j = cJSON_CreateObject();
                cJSON_AddNumberToObject(j, "fd", v.h);
                cJSON_AddStringToObject(j, "read", read_fd(v.h));
                return j;
        default:
                return cJSON_CreateNull();
        }
}

/* "@/PATH": the file's contents (leaked: the process is short-lived). */
static const char *arg_value(const char *arg)
{
        static char *buf;
        FILE *f;
        long n;

        if (arg[0] != '@' || arg[1] != '/')
                return arg;
        f = fopen(arg + 1, "re");
        if (!f || fseek(f, 0, SEEK_END) < 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0)
                return NULL;
        buf = malloc((size_t) n + 1);
        if (!buf || fread(buf, 1, (size_t) n, f) != (size_t) n) {
                fclose(f);
                return NULL;
        }
        fclose(f);
        buf[n] = 0;
        return buf;
}

int main(int argc, char **argv)
{
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *m = NULL, *reply = NULL;
        const char *dest = "org.cloudhypervisor";
        uint64_t timeout = 0;
        sd_bus *bus = NULL;
        cJSON *out;
        int i = 1, r;

        for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
                if (strcmp(argv[i], "--dest") == 0)
                        dest = argv[i + 1];
                else if (strcmp(argv[i], "--timeout") == 0)
                        timeout = strtoull(argv[i + 1], NULL, 10) * 1000000u;
                else
                        break;
        }
        if (argc - i < 3) {
                fprintf(stderr, "usage: bus-call [--dest NAME] [--timeout SEC] PATH INTERFACE METHOD [SIGNATURE [ARG...]]\n");
                return 2;
        }
        r = sd_bus_open_system(&bus);
        if (r < 0) {
                fprintf(stderr, "bus-call: cannot connect to the system bus: %s\n", strerror(-r));
                return 2;
        }
        r = sd_bus_message_new_method_call(bus, &m, dest, argv[i], argv[i + 1], argv[i + 2]);
        if (r >= 0 && argc - i > 3) {
                const char *sig = argv[i + 3];
                int a = i + 4;
                for (const char *p = sig; r >= 0 && *p; p++) {
                        if (a >= argc || !arg_value(argv[a])) {
                                r = -EINVAL;
                                break;
                        }
                        argv[a] = (char *) arg_value(argv[a]);
                        if (strncmp(p, "a{sv}", 5) == 0) {
                                r = append_json(m, argv[a++], true);
                                p += 4;
                        } else if (*p == 'v')
                                r = append_json(m, argv[a++], false);
                        else
                                r = append_basic(m, *p, argv[a++]);
                }
                if (r >= 0 && a != argc)
                        r = -E2BIG;
        }
        if (r < 0) {
                fprintf(stderr, "bus-call: cannot build the call: %s\n", strerror(-r));
                return 2;
        }
        r = sd_bus_call(bus, m, timeout, &error, &reply);
        if (r < 0) {
                if (!sd_bus_error_is_set(&error)) {
                        fprintf(stderr, "bus-call: call failed: %s\n", strerror(-r));
                        return 2;
                }
                out = cJSON_CreateObject();
                cJSON_AddStringToObject(out, "error", error.name);
                cJSON_AddStringToObject(out, "message", error.message ?: "");
                printf("%s\n", cJSON_PrintUnformatted(out));
                return 1;
        }
        out = cJSON_CreateArray();
        for (;;) {
                cJSON *v = read_value(reply, &r);
                if (!v)
                        break;
                cJSON_AddItemToArray(out, v);
        }
        if (r < 0) {
                fprintf(stderr, "bus-call: cannot read the reply: %s\n", strerror(-r));
                return 2;
        }
        printf("%s\n", cJSON_PrintUnformatted(out));
        return 0;
}
