/* SPDX-License-Identifier: Apache-2.0 */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "api.h"
#include "log.h"
#include "server.h"

#define API_PREFIX "/api/v1"

static void request_unlink(Request *r)
{
        Server *s = r->server;

        if (r->prev)
                r->prev->next = r->next;
        else if (s->requests == r)
                s->requests = r->next;
        if (r->next)
                r->next->prev = r->prev;
        r->prev = r->next = NULL;
}

static Request *request_free(Request *r)
{
        if (!r)
                return NULL;
        request_unlink(r);
        sd_bus_slot_unref(r->slot);
        for (size_t i = 0; i < r->n_fds; i++)
                safe_close(r->fds[i]);
        free(r->fds);
        free(r->body);
        free(r->answer);
        free(r);
        return NULL;
}

void request_reply(Request *r, unsigned status, char *body)
{
        if (r->answered) {
                free(body);
                return;
        }
        r->slot = sd_bus_slot_unref(r->slot);
        log_debug("%s %s: %u", r->method, r->path, status);
        r->answered = true;
        r->status = status;
        r->answer = body;
        if (r->suspended) {
                r->suspended = false;
                MHD_resume_connection(r->connection);
                /* libmicrohttpd picks resumed connections up in its next run: make sure there is one. */
                (void) sd_event_source_set_enabled(r->server->mhd_kick, SD_EVENT_ONESHOT);
        }
}

void request_reply_errors(Request *r, unsigned status, const char *message, ...)
{
        cJSON *a = cJSON_CreateArray();
        char *body = NULL;
        va_list ap;

        va_start(ap, message);
        for (const char *m = message; a && m; m = va_arg(ap, const char *))
                if (!cJSON_AddItemToArray(a, cJSON_CreateString(m))) {
                        cJSON_Delete(a);
                        a = NULL;
                }
        va_end(ap);
        if (a)
                body = cJSON_PrintUnformatted(a);
        cJSON_Delete(a);
        if (!body)
                log_error("Out of memory building an error answer");
        request_reply(r, body ? status : MHD_HTTP_INTERNAL_SERVER_ERROR, body);
}

static Relay *server_relay_of(Server *s, struct MHD_Connection *c)
{
        const union MHD_ConnectionInfo *info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);

        if (!info || info->connect_fd < 0 || (size_t) info->connect_fd >= s->relays_size)
                return NULL;
        return s->relays[info->connect_fd];
}

/* Sends the answer: Cloud Hypervisor's Server header; Content-Type where there is content. */
static enum MHD_Result request_queue(Request *r)
{
        struct MHD_Response *resp;
        enum MHD_Result ret;
        size_t size = r->answer ? strlen(r->answer) : 0;

        resp = MHD_create_response_from_buffer(size, r->answer, MHD_RESPMEM_MUST_FREE);
        if (!resp)
                return MHD_NO;
        r->answer = NULL;
        (void) MHD_set_response_options(resp, MHD_RF_SEND_KEEP_ALIVE_HEADER, MHD_RO_END);
        if (MHD_add_response_header(resp, "Server", "Cloud Hypervisor API") != MHD_YES ||
            (r->status != MHD_HTTP_NO_CONTENT &&
             MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json") != MHD_YES) ||
            (r->close_after && MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close") != MHD_YES)) {
                MHD_destroy_response(resp);
                return MHD_NO;
        }
        ret = MHD_queue_response(r->connection, r->status, resp);
        MHD_destroy_response(resp);
        if (ret == MHD_YES && r->close_after) {
                /* chv-httpd ends once this answer has reached the client. */
                Relay *relay = server_relay_of(r->server, r->connection);
                if (relay)
                        relay->quit_after = true;
                else
                        (void) sd_event_exit(r->server->event, 0);
        }
        return ret;
}

/* The body has come; the descriptors sent with it are with the relay. */
static void request_dispatch(Request *r)
{
        Relay *relay = server_relay_of(r->server, r->connection);

        r->dispatched = true;
        if (relay && relay->n_fds > 0) {
                r->fds = calloc(relay->n_fds, sizeof(int));
                if (r->fds)
                        r->n_fds = relay_take_fds(relay, r->fds);
                else
                        return request_reply_errors(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "Internal Server Error",
                                                    NULL);
        }
        api_dispatch(r);
}

static int body_append(Request *r, const char *data, size_t size)
{
        size_t want;

        if (size > HTTP_BODY_MAX - r->body_size)
                return -E2BIG;
        want = r->body_size + size;
        if (want > r->body_alloc) {
                size_t n = MAX(want, MIN(r->body_alloc * 2, (size_t) HTTP_BODY_MAX));
                char *b = realloc(r->body, n);
                if (!b)
                        return -ENOMEM;
                r->body = b;
                r->body_alloc = n;
        }
        memcpy(r->body + r->body_size, data, size);
        r->body_size = want;
        return 0;
}

static void request_too_large(Request *r, uint64_t size, bool known)
{
        char m[160];

        if (known)
                snprintf(m, sizeof m, "Request payload with size %" PRIu64 " is larger than the limit of %d allowed "
                         "by server.", size, HTTP_BODY_MAX);
        else
                snprintf(m, sizeof m, "Request payload is larger than the limit of %d allowed by server.",
                         HTTP_BODY_MAX);
        r->body_too_large = true;
        request_reply_errors(r, MHD_HTTP_BAD_REQUEST, m, NULL);
}

static enum MHD_Result server_on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                         const char *version, const char *upload_data, size_t *upload_data_size,
                                         void **con_cls)
{
        Server *s = cls;
        Request *r = *con_cls;

        if (!r) {
                const char *path = startswith(url, API_PREFIX);
                const char *length;
                uint64_t n;
                char *end;

                r = calloc(1, sizeof *r);
                if (!r)
                        return MHD_NO;
                r->server = s;
                r->connection = c;
                r->method = method;
                r->path = url;
                r->endpoint = path ? endpoint_find(path) : NULL;
                r->next = s->requests;
                if (s->requests)
                        s->requests->prev = r;
                s->requests = r;
                *con_cls = r;

                /* A body announced beyond the limit is refused before it is read. */
                length = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
                if (length) {
                        errno = 0;
                        n = strtoull(length, &end, 10);
                        if (errno == 0 && *end == 0 && n > HTTP_BODY_MAX) {
                                request_too_large(r, n, true);
                                return request_queue(r);
                        }
                }
                return MHD_YES;
        }

        if (*upload_data_size > 0) {
                int k;

                if (r->answered) {
                        /* Refused already: what else comes is dropped. */
                        *upload_data_size = 0;
                        return MHD_YES;
                }
                k = body_append(r, upload_data, *upload_data_size);
                *upload_data_size = 0;
                if (k == -E2BIG) {
                        request_too_large(r, 0, false);
                        return request_queue(r);
                }
                if (k < 0)
                        return MHD_NO;
                return MHD_YES;
        }

        if (!r->dispatched)
                request_dispatch(r);
        if (r->answered)
                return request_queue(r);
        /* A D-Bus call is under way: its reply resumes the connection. */
        r->suspended = true;
        MHD_suspend_connection(c);
        return MHD_YES;
}

static void server_on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                                enum MHD_RequestTerminationCode toe)
{
        Request *r = *con_cls;

        if (r && toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
                log_debug("Request %s %s ended early (libmicrohttpd code %d)", r->method, r->path, (int) toe);
        *con_cls = request_free(r);
}

static void server_on_mhd_log(void *cls, const char *fmt, va_list ap)
{
        char buf[512];
        size_t n;

        vsnprintf(buf, sizeof buf, fmt, ap);
        n = strlen(buf);
        while (n > 0 && buf[n - 1] == '\n')
                buf[--n] = 0;
        log_debug("libmicrohttpd: %s", buf);
}

/*
 * Runs libmicrohttpd again when it asks to: at once (the deferred source) when it has work left, else
 * at its next connection timeout. The timer is moved only when that comes earlier than it is set for:
 * firing early costs one idle run, moving it on every request costs a system call each time.
 */
static void server_arm_timer(Server *s)
{
        MHD_UNSIGNED_LONG_LONG ms;
        uint64_t now, when, set;
        int enabled = 0, r;

        if (MHD_get_timeout(s->mhd, &ms) != MHD_YES) {
                (void) sd_event_source_set_enabled(s->mhd_timer, SD_EVENT_OFF);
                return;
        }
        if (ms == 0) {
                (void) sd_event_source_set_enabled(s->mhd_kick, SD_EVENT_ONESHOT);
                return;
        }
        r = sd_event_now(s->event, CLOCK_MONOTONIC, &now);
        if (r < 0)
                return (void) log_warning_errno(r, "Cannot read the clock, ignoring: %m");
        when = now + (uint64_t) ms * 1000;
        (void) sd_event_source_get_enabled(s->mhd_timer, &enabled);
        if (enabled != SD_EVENT_OFF && sd_event_source_get_time(s->mhd_timer, &set) >= 0 && set <= when)
                return;
        r = sd_event_source_set_time(s->mhd_timer, when);
        if (r >= 0)
                r = sd_event_source_set_enabled(s->mhd_timer, SD_EVENT_ONESHOT);
        if (r < 0)
                log_warning_errno(r, "Cannot arm libmicrohttpd's timer, ignoring: %m");
}

static void server_run_mhd(Server *s)
{
        if (MHD_run(s->mhd) != MHD_YES)
                log_debug("MHD_run() failed");
        server_arm_timer(s);
}

static int server_on_mhd_io(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
        server_run_mhd(userdata);
        return 0;
}

static int server_on_mhd_kick(sd_event_source *src, void *userdata)
{
        server_run_mhd(userdata);
        return 0;
}

static int server_on_mhd_timer(sd_event_source *src, uint64_t usec, void *userdata)
{
        server_run_mhd(userdata);
        return 0;
}

static void server_on_relay_done(Relay *relay, void *userdata)
{
        Server *s = userdata;
        bool quit = relay->quit_after;

        if ((size_t) relay->mhd_fd < s->relays_size && s->relays[relay->mhd_fd] == relay)
                s->relays[relay->mhd_fd] = NULL;
        s->n_relays--;
        relay_free(relay);
        if (quit) {
                log_info("vmm.shutdown answered, exiting");
                (void) sd_event_exit(s->event, 0);
        }
}

static int server_add_relay(Server *s, int client_fd)
{
        _cleanup_close_ int fd = client_fd;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        Relay *relay = NULL;
        int pair[2], r;

        if (s->n_relays >= HTTP_CONNECTIONS_MAX) {
                log_warning("%d connections are open already, closing a new one", HTTP_CONNECTIONS_MAX);
                return 0;
        }
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair) < 0)
                return log_warning_errno(errno, "Cannot make a socket pair for a new connection: %m");
        if ((size_t) pair[1] >= s->relays_size) {
                size_t n = MAX((size_t) pair[1] + 1, s->relays_size * 2);
                Relay **a = realloc(s->relays, n * sizeof(Relay *));
                if (!a) {
                        safe_close(pair[0]);
                        safe_close(pair[1]);
                        return log_warning_errno(ENOMEM, "Cannot take a new connection: %m");
                }
                memset(a + s->relays_size, 0, (n - s->relays_size) * sizeof(Relay *));
                s->relays = a;
                s->relays_size = n;
        }
        r = relay_new(s->event, TAKE_FD(fd), pair[0], pair[1], server_on_relay_done, s, &relay);
        if (r < 0) {
                safe_close(pair[1]);
                return log_warning_errno(r, "Cannot take a new connection: %m");
        }
        /* libmicrohttpd owns pair[1] from here on, and closes it even when this fails. */
        if (MHD_add_connection(s->mhd, pair[1], (const struct sockaddr *) &sa, sizeof(sa_family_t)) != MHD_YES) {
                relay_free(relay);
                return log_warning_errno(errno ?: EIO, "libmicrohttpd refused a new connection: %m");
        }
        s->relays[pair[1]] = relay;
        s->n_relays++;
        return 0;
}

static int server_on_listen(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
        Server *s = userdata;

        for (unsigned i = 0; i < 64; i++) {
                int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (c < 0) {
                        if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                                log_warning_errno(errno, "accept() failed, ignoring: %m");
                        break;
                }
                (void) server_add_relay(s, c);
        }
        server_run_mhd(s);
        return 0;
}

int server_new(sd_event *event, sd_bus *bus, int listen_fd, const char *vm_name, Server **ret)
{
        _cleanup_(server_freep) Server *s = NULL;
        const union MHD_DaemonInfo *info;
        int r;

        s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->listen_fd = -EBADF;
        s->event = sd_event_ref(event);
        s->bus = sd_bus_ref(bus);
        s->connection_timeout = 300;
        s->vm_name = strdup(vm_name);
        if (!s->vm_name)
                return -ENOMEM;
        r = sd_bus_path_encode("/org/cloudhypervisor/vm", vm_name, &s->vm_path);
        if (r < 0)
                return r;

        s->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_NO_LISTEN_SOCKET |
                                          MHD_USE_SUPPRESS_DATE_NO_CLOCK | MHD_USE_ERROR_LOG,
                                  0, NULL, NULL, server_on_request, s,
                                  MHD_OPTION_EXTERNAL_LOGGER, server_on_mhd_log, s,
                                  MHD_OPTION_NOTIFY_COMPLETED, server_on_completed, s,
                                  MHD_OPTION_CONNECTION_LIMIT, (unsigned) HTTP_CONNECTIONS_MAX + 8,
                                  MHD_OPTION_CONNECTION_TIMEOUT, s->connection_timeout,
                                  MHD_OPTION_END);
        if (!s->mhd)
                return -EIO;
        info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD);
        if (!info)
                return -EIO;
        r = sd_event_add_io(event, &s->mhd_source, info->epoll_fd, EPOLLIN, server_on_mhd_io, s);
        if (r < 0)
                return r;
        r = sd_event_add_time(event, &s->mhd_timer, CLOCK_MONOTONIC, 0, 0, server_on_mhd_timer, s);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(s->mhd_timer, SD_EVENT_OFF);
        r = sd_event_add_defer(event, &s->mhd_kick, server_on_mhd_kick, s);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(s->mhd_kick, SD_EVENT_OFF);
        r = sd_event_add_io(event, &s->listen_source, listen_fd, EPOLLIN, server_on_listen, s);
        if (r < 0)
                return r;
        s->listen_fd = listen_fd;
        *ret = TAKE_PTR(s);
        return 0;
}

Server *server_free(Server *s)
{
        if (!s)
                return NULL;
        s->listen_source = sd_event_source_disable_unref(s->listen_source);
        if (s->mhd) {
                bool resumed = false;

                /* libmicrohttpd cannot stop with connections waiting: answer them first. */
                for (Request *r = s->requests; r; r = r->next)
                        if (r->suspended) {
                                request_reply_errors(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "Internal Server Error",
                                                     "chv-httpd is stopping", NULL);
                                resumed = true;
                        }
                if (resumed)
                        (void) MHD_run(s->mhd);
                MHD_stop_daemon(s->mhd);
        }
        for (size_t i = 0; i < s->relays_size; i++)
                relay_free(s->relays[i]);
        free(s->relays);
        while (s->requests)
                request_free(s->requests);
        sd_event_source_disable_unref(s->mhd_source);
        sd_event_source_disable_unref(s->mhd_timer);
        sd_event_source_disable_unref(s->mhd_kick);
        safe_close(s->listen_fd);
        sd_bus_unref(s->bus);
        sd_event_unref(s->event);
        free(s->vm_name);
        free(s->vm_path);
        free(s);
        return NULL;
}
