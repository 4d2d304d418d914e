/* SPDX-License-Identifier: Apache-2.0 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"

/* The control socket with a handler that knows two ops, driven by hand through its epoll fd. */

static const char *const ops[] = { "pause", "info", NULL };
static unsigned calls;

static int handler(void *ctx, const char *op, cJSON *reply, char *err, size_t errlen)
{
        calls++;
        if (strcmp(op, "pause") == 0) {
                snprintf(err, errlen, "the VM is paused already: resume it first");
                return -EBUSY;
        }
        cJSON_AddStringToObject(reply, "state", "Running");
        return 0;
}

static char dir[64], path[128];
static int epfd = -1;
static ControlServer *server;

static void setup(void)
{
        strcpy(dir, "/tmp/chv-control-XXXXXX");
        cr_assert_not_null(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/ctl", dir);
        epfd = epoll_create1(EPOLL_CLOEXEC);
        cr_assert_geq(epfd, 0);
        calls = 0;
        cr_assert_eq(control_server_new(path, epfd, 100, ops, handler, NULL, &server), 0);
}

static void teardown(void)
{
        server = control_server_free(server);
        cr_assert_eq(access(path, F_OK), -1, "the socket file is removed");
        close(epfd);
        rmdir(dir);
}

/* Runs the server until nothing is left to do. */
static void pump(void)
{
        struct epoll_event evs[8];
        int n;

        while ((n = epoll_wait(epfd, evs, 8, 20)) > 0)
                for (int i = 0; i < n; i++) {
                        cr_assert(control_server_owns(server, evs[i].data.u32));
                        control_server_dispatch(server, evs[i].data.u32);
                }
}

static int client(void)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

        cr_assert_geq(fd, 0);
        strcpy(sa.sun_path, path);
        cr_assert_eq(connect(fd, (struct sockaddr *) &sa, sizeof sa), 0);
        pump();
        return fd;
}

/* Sends len bytes, returns the reply (or "" when the server hung up). */
static char *ask(int fd, const void *msg, size_t len)
{
        static char buf[CONTROL_MESSAGE_MAX + 1];
        ssize_t n;

        cr_assert_eq(send(fd, msg, len, MSG_NOSIGNAL), (ssize_t) len);
        pump();
        n = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);
        buf[n > 0 ? n : 0] = 0;
        return buf;
}

static char *ask_str(int fd, const char *msg)
{
        return ask(fd, msg, strlen(msg));
}

TestSuite(control, .init = setup, .fini = teardown);

Test(control, socket_mode_0600)
{
        struct stat st;
        cr_assert_eq(stat(path, &st), 0);
        cr_assert(S_ISSOCK(st.st_mode));
        cr_assert_eq(st.st_mode & 0777, 0600);
}

Test(control, ops_answered)
{
        int fd = client();
        cr_assert_str_eq(ask_str(fd, "{\"op\":\"info\"}"), "{\"ok\":true,\"state\":\"Running\"}");
        cr_assert_str_eq(ask_str(fd, " {\"op\": \"pause\"}\n"),
                         "{\"ok\":false,\"error\":\"the VM is paused already: resume it first\"}");
        cr_assert_eq(calls, 2);
        close(fd);
}

Test(control, hostile_messages_refused)
{
        static const struct {
                const char *msg, *error;
        } cases[] = {
                { "{\"op\":\"reboot\"}", "unknown op \"reboot\": the ops are pause, info" },
                { "{\"op\":\"\"}", "unknown op \"\": the ops are pause, info" },
                { "{", "request is not valid JSON" },
                { "{\"op\":\"info\"} {}", "request is not valid JSON" },
                { "[\"info\"]", "a request is a JSON object, {\"op\": NAME}" },
                { "\"info\"", "a request is a JSON object, {\"op\": NAME}" },
                { "{}", "\"op\" is missing or not a string" },
                { "{\"op\":1}", "\"op\" is missing or not a string" },
                { "{\"op\":null}", "\"op\" is missing or not a string" },
                { "{\"op\":\"info\",\"x\":1}", "unknown field \"x\": a request has only \"op\"" },
                { "{\"op\":\"info\",\"op\":\"pause\"}", "\"op\" is given more than once" },
        };
        int fd = client();
        char want[512];

        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                cJSON *w = cJSON_CreateString(cases[i].error);
                char *ws = cJSON_PrintUnformatted(w);
                snprintf(want, sizeof want, "{\"ok\":false,\"error\":%s}", ws);
                cr_assert_str_eq(ask_str(fd, cases[i].msg), want, "%s", cases[i].msg);
                free(ws);
                cJSON_Delete(w);
        }
        /* A NUL inside the message, and a message that is only a NUL. */
        cr_assert_str_eq(ask(fd, "{\"op\":\"info\"}\0", 14),
                         "{\"ok\":false,\"error\":\"a request is one JSON object, without NUL bytes\"}");
        cr_assert_str_eq(ask(fd, "", 1),
                         "{\"ok\":false,\"error\":\"a request is one JSON object, without NUL bytes\"}");
        cr_assert_eq(calls, 0, "the handler saw none of them");
        /* The connection still works. */
        cr_assert_str_eq(ask_str(fd, "{\"op\":\"info\"}"), "{\"ok\":true,\"state\":\"Running\"}");
        close(fd);
}

Test(control, deep_nesting_refused)
{
        char msg[CONTROL_MESSAGE_MAX];
        int fd = client();

        memset(msg, '[', sizeof msg);
        cr_assert_str_eq(ask(fd, msg, sizeof msg), "{\"ok\":false,\"error\":\"request is not valid JSON\"}");
        close(fd);
}

Test(control, oversized_message_refused)
{
        size_t len = CONTROL_MESSAGE_MAX * 4;
        char *msg = malloc(len);
        int fd = client();

        memset(msg, ' ', len);
        memcpy(msg, "{\"op\":\"info\"}", 13);
        cr_assert_str_eq(ask(fd, msg, len),
                         "{\"ok\":false,\"error\":\"request too large: at most 4096 bytes, no file descriptors\"}");
        cr_assert_eq(calls, 0);
        free(msg);
        close(fd);
}

Test(control, file_descriptors_refused)
{
        char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
        struct iovec iov = { .iov_base = (void *) "{\"op\":\"info\"}", .iov_len = 13 };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        int fd = client(), n;
        char buf[256];

        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof fd);
        cr_assert_eq(sendmsg(fd, &mh, MSG_NOSIGNAL), 13);
        pump();
        n = (int) recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);
        cr_assert_gt(n, 0);
        buf[n] = 0;
        cr_assert_str_eq(buf, "{\"ok\":false,\"error\":\"request too large: at most 4096 bytes, no file descriptors\"}");
        close(fd);
}

Test(control, client_limit_and_hangups)
{
        int fds[CONTROL_CLIENTS_MAX], extra, n;
        char buf[256];

        for (int i = 0; i < CONTROL_CLIENTS_MAX; i++)
                fds[i] = client();
        extra = client();
        n = (int) recv(extra, buf, sizeof buf - 1, MSG_DONTWAIT);
        cr_assert_gt(n, 0);
        buf[n] = 0;
        cr_assert_str_eq(buf, "{\"ok\":false,\"error\":\"too many clients: at most 4 at a time\"}");
        cr_assert_eq(recv(extra, buf, sizeof buf, 0), 0, "and hung up");
        close(extra);

        /* A client that sends and goes away before the reply; one that never sends. */
        cr_assert_eq(send(fds[0], "{\"op\":\"info\"}", 13, MSG_NOSIGNAL), 13);
        close(fds[0]);
        close(fds[1]);
        pump();
        /* Their places are free again. */
        fds[0] = client();
        fds[1] = client();
        cr_assert_str_eq(ask_str(fds[1], "{\"op\":\"info\"}"), "{\"ok\":true,\"state\":\"Running\"}");
        for (int i = 0; i < CONTROL_CLIENTS_MAX; i++)
                close(fds[i]);
        pump();
}

Test(control, stale_socket_replaced)
{
        ControlServer *again = NULL;
        int ep = epoll_create1(EPOLL_CLOEXEC);

        /* A second server on the same path (an earlier chv-vmm's socket left behind). */
        cr_assert_eq(control_server_new(path, ep, 0, ops, handler, NULL, &again), 0);
        control_server_free(again);
        close(ep);
        server = control_server_free(server);
        /* teardown checks the file is gone */
}
