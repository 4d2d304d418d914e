/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "log.h"

struct ControlServer {
        char *path;
        int listen_fd;
        int epoll_fd;
        uint32_t tag;
        int clients[CONTROL_CLIENTS_MAX];
        const char *const *ops;
        ControlHandler handler;
        void *ctx;
};

static char *reply_error(const char *fmt, ...) _printf_(1, 2);
static char *reply_error(const char *fmt, ...)
{
        char msg[512];
        va_list ap;
        cJSON *o;
        char *s;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        o = cJSON_CreateObject();
        if (!o || !cJSON_AddBoolToObject(o, "ok", false) || !cJSON_AddStringToObject(o, "error", msg)) {
                cJSON_Delete(o);
                return NULL;
        }
        s = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        return s;
}

static bool op_known(const char *const *ops, const char *op)
{
        for (; *ops; ops++)
                if (strcmp(*ops, op) == 0)
                        return true;
        return false;
}

char *control_handle_request(const char *const *ops, ControlHandler handler, void *ctx, const void *msg,
                             size_t len)
{
        _cleanup_free_ char *text = NULL, *names = NULL;
        cJSON *req = NULL, *reply = NULL, *op;
        char err[512] = "";
        char *s = NULL;
        int r;

        if (len > CONTROL_MESSAGE_MAX)
                return reply_error("request too large: at most %d bytes", CONTROL_MESSAGE_MAX);
        if (len == 0 || memchr(msg, 0, len))
                return reply_error("a request is one JSON object, without NUL bytes");
        text = strndup(msg, len);
        if (!text)
                return NULL;
        req = cJSON_ParseWithOpts(text, NULL, true);
        if (!req) {
                s = reply_error("request is not valid JSON");
                goto out;
        }
        if (!cJSON_IsObject(req)) {
                s = reply_error("a request is a JSON object, {\"op\": NAME}");
                goto out;
        }
        for (cJSON *f = req->child; f; f = f->next)
                if (!f->string || strcmp(f->string, "op") != 0) {
                        s = reply_error("unknown field \"%.64s\": a request has only \"op\"",
                                        f->string ? f->string : "");
                        goto out;
                }
        if (req->child && req->child->next) {
                s = reply_error("\"op\" is given more than once");
                goto out;
        }
        op = cJSON_GetObjectItemCaseSensitive(req, "op");
        if (!cJSON_IsString(op) || !op->valuestring) {
                s = reply_error("\"op\" is missing or not a string");
                goto out;
        }
        if (!op_known(ops, op->valuestring)) {
                size_t n = 0;
                for (const char *const *o = ops; *o; o++)
                        n += strlen(*o) + 2;
                names = calloc(1, n + 1);
                if (!names)
                        goto out;
                for (const char *const *o = ops; *o; o++) {
                        if (o != ops)
                                strcat(names, ", ");
                        strcat(names, *o);
                }
                s = reply_error("unknown op \"%.64s\": the ops are %s", op->valuestring, names);
                goto out;
        }
        reply = cJSON_CreateObject();
        if (!reply || !cJSON_AddBoolToObject(reply, "ok", true))
                goto out;
        r = handler(ctx, op->valuestring, reply, err, sizeof err);
        if (r < 0) {
                s = reply_error("%s", err[0] ? err : strerror(-r));
                goto out;
        }
        s = cJSON_PrintUnformatted(reply);
out:
        cJSON_Delete(req);
        cJSON_Delete(reply);
        return s;
}

static int epoll_add(ControlServer *s, int fd, uint32_t n)
{
        struct epoll_event ev = { .events = EPOLLIN, .data.u32 = s->tag + n };
        return epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0 ? negative_errno() : 0;
}

int control_server_new(const char *path, int epoll_fd, uint32_t tag, const char *const *ops,
                       ControlHandler handler, void *ctx, ControlServer **ret)
{
        _cleanup_(control_server_freep) ControlServer *s = NULL;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        size_t len = strlen(path);
        struct stat st;
        mode_t old;
        int r;

        if (len == 0 || len >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, len);
        s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->listen_fd = -EBADF;
        for (unsigned i = 0; i < CONTROL_CLIENTS_MAX; i++)
                s->clients[i] = -EBADF;
        s->epoll_fd = epoll_fd;
        s->tag = tag;
        s->ops = ops;
        s->handler = handler;
        s->ctx = ctx;

        s->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (s->listen_fd < 0)
                return negative_errno();
        /* A socket left by an earlier chv-vmm is replaced; anything else at path is not touched. */
        if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
                (void) unlink(path);
        old = umask(0077);
        r = bind(s->listen_fd, (struct sockaddr *) &sa, sizeof sa);
        umask(old);
        if (r < 0)
                return negative_errno();
        s->path = strdup(path);
        if (!s->path)
                return -ENOMEM;
        if (chmod(path, 0600) < 0 || listen(s->listen_fd, CONTROL_CLIENTS_MAX) < 0)
                return negative_errno();
        r = epoll_add(s, s->listen_fd, 0);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

bool control_server_owns(const ControlServer *s, uint32_t data)
{
        return s && data >= s->tag && data - s->tag <= CONTROL_CLIENTS_MAX;
}

static void client_close(ControlServer *s, unsigned i)
{
        (void) epoll_ctl(s->epoll_fd, EPOLL_CTL_DEL, s->clients[i], NULL);
        s->clients[i] = safe_close(s->clients[i]);
}

static void send_reply(int fd, const char *reply)
{
        if (reply)
                (void) send(fd, reply, strlen(reply), MSG_NOSIGNAL | MSG_DONTWAIT);
}

static void on_accept(ControlServer *s)
{
        _cleanup_close_ int fd = -EBADF;
        struct ucred cred;
        socklen_t len = sizeof cred;

        fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0)
                return;
        /* The socket's mode keeps others out already; a peer of another user is refused all the same. */
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
            (cred.uid != geteuid() && cred.uid != 0)) {
                _cleanup_free_ char *e = reply_error("permission denied");
                send_reply(fd, e);
                return;
        }
        for (unsigned i = 0; i < CONTROL_CLIENTS_MAX; i++)
                if (s->clients[i] < 0) {
                        if (epoll_add(s, fd, i + 1) < 0)
                                return;
                        s->clients[i] = TAKE_FD(fd);
                        return;
                }
        _cleanup_free_ char *e = reply_error("too many clients: at most %d at a time", CONTROL_CLIENTS_MAX);
        send_reply(fd, e);
}

static void on_client(ControlServer *s, unsigned i)
{
        char buf[CONTROL_MESSAGE_MAX + 1];
        struct iovec iov = { .iov_base = buf, .iov_len = sizeof buf };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
        _cleanup_free_ char *reply = NULL;
        ssize_t n;

        n = recvmsg(s->clients[i], &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
        if (n <= 0) {
                client_close(s, i); /* gone, or broken */
                return;
        }
        if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
                reply = reply_error("request too large: at most %d bytes, no file descriptors", CONTROL_MESSAGE_MAX);
        else
                reply = control_handle_request(s->ops, s->handler, s->ctx, buf, (size_t) n);
        if (!reply)
                reply = reply_error("out of memory");
        if (!reply || send(s->clients[i], reply, strlen(reply), MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
                client_close(s, i); /* a client that does not read its replies is dropped */
}

void control_server_dispatch(ControlServer *s, uint32_t data)
{
        uint32_t n = data - s->tag;
        if (n == 0)
                on_accept(s);
        else if (n <= CONTROL_CLIENTS_MAX && s->clients[n - 1] >= 0)
                on_client(s, n - 1);
}

ControlServer *control_server_free(ControlServer *s)
{
        if (!s)
                return NULL;
        for (unsigned i = 0; i < CONTROL_CLIENTS_MAX; i++)
                if (s->clients[i] >= 0)
                        client_close(s, i);
        if (s->listen_fd >= 0) {
                (void) epoll_ctl(s->epoll_fd, EPOLL_CTL_DEL, s->listen_fd, NULL);
                safe_close(s->listen_fd);
        }
        if (s->path)
                (void) unlink(s->path);
        free(s->path);
        free(s);
        return NULL;
}
