/* SPDX-License-Identifier: Apache-2.0 */
#include <sys/socket.h>

#include "log.h"
#include "relay.h"

static size_t buffer_used(const RelayBuffer *b)
{
        return b->end - b->start;
}

static size_t buffer_room(RelayBuffer *b)
{
        if (b->start == b->end)
                b->start = b->end = 0;
        return sizeof b->data - b->end;
}

static void relay_close_fds(Relay *relay)
{
        for (size_t i = 0; i < relay->n_fds; i++)
                safe_close(relay->fds[i]);
        relay->n_fds = 0;
}

Relay *relay_free(Relay *relay)
{
        if (!relay)
                return NULL;
        sd_event_source_disable_unref(relay->client_source);
        sd_event_source_disable_unref(relay->inner_source);
        safe_close(relay->client_fd);
        safe_close(relay->inner_fd);
        relay_close_fds(relay);
        free(relay);
        return NULL;
}

size_t relay_take_fds(Relay *relay, int *ret)
{
        size_t n = relay->n_fds;

        memcpy(ret, relay->fds, n * sizeof(int));
        relay->n_fds = 0;
        return n;
}

/* Keeps the descriptors of an SCM_RIGHTS message; those beyond RELAY_FDS_MAX are closed. */
static void relay_keep_fds(Relay *relay, struct msghdr *mh)
{
        for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
                size_t n;
                int *fds;

                if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                        continue;
                fds = (int *) CMSG_DATA(c);
                n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t i = 0; i < n; i++) {
                        if (relay->n_fds < RELAY_FDS_MAX)
                                relay->fds[relay->n_fds++] = fds[i];
                        else {
                                log_warning("A client sent more than %d file descriptors, closing the rest",
                                            RELAY_FDS_MAX);
                                safe_close(fds[i]);
                        }
                }
        }
        if (mh->msg_flags & MSG_CTRUNC)
                log_warning("A client sent more file descriptors in one message than fit, the kernel closed some");
}

/* Returns > 0 when bytes were read, 0 at the end of input, -EAGAIN when none are there, < 0 on error. */
static int relay_read_client(Relay *relay)
{
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(int) * RELAY_FDS_MAX)];
        } control;
        RelayBuffer *b = &relay->to_inner;
        struct iovec iov = { .iov_base = b->data + b->end, .iov_len = buffer_room(b) };
        struct msghdr mh = {
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = &control,
                .msg_controllen = sizeof control,
        };
        ssize_t n;

        n = recvmsg(relay->client_fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? -EAGAIN : negative_errno();
        relay_keep_fds(relay, &mh);
        b->end += (size_t) n;
        return n > 0 ? 1 : 0;
}

static int relay_write(int fd, RelayBuffer *b)
{
        ssize_t n = send(fd, b->data + b->start, buffer_used(b), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : negative_errno();
        b->start += (size_t) n;
        return 0;
}

static int relay_read_inner(Relay *relay)
{
        RelayBuffer *b = &relay->to_client;
        ssize_t n = recv(relay->inner_fd, b->data + b->end, buffer_room(b), MSG_DONTWAIT);
        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? -EAGAIN : negative_errno();
        b->end += (size_t) n;
        return n > 0 ? 1 : 0;
}

static int relay_update_events(Relay *relay)
{
        uint32_t client = 0, inner = 0;
        int r;

        if (!relay->client_eof && buffer_room(&relay->to_inner) > 0)
                client |= EPOLLIN;
        if (buffer_used(&relay->to_client) > 0)
                client |= EPOLLOUT;
        if (!relay->inner_eof && buffer_room(&relay->to_client) > 0)
                inner |= EPOLLIN;
        if (buffer_used(&relay->to_inner) > 0)
                inner |= EPOLLOUT;

        /*
         * The client's source stays on with no events asked for too: epoll still says when the client
         * closed altogether (EPOLLHUP), while a client that only half-closed may still read the answer.
         */
        r = sd_event_source_set_io_events(relay->client_source, client);
        if (r >= 0)
                r = sd_event_source_set_io_events(relay->inner_source, inner);
        if (r >= 0)
                r = sd_event_source_set_enabled(relay->inner_source, inner ? SD_EVENT_ON : SD_EVENT_OFF);
        return r;
}

/*
 * Moves whatever can move, in both directions. Returns 1 while the relay goes on, 0 when it is over
 * (libmicrohttpd closed and all was passed on, or the client is gone), < 0 on error.
 */
static int relay_pump(Relay *relay)
{
        int r;

        for (;;) {
                bool progress = false;

                if (!relay->client_eof && buffer_room(&relay->to_inner) > 0) {
                        r = relay_read_client(relay);
                        if (r == 0) {
                                relay->client_eof = true;
                                progress = true;
                        } else if (r > 0)
                                progress = true;
                        else if (r != -EAGAIN)
                                return 0;        /* the client is gone (ECONNRESET and the like) */
                }
                if (buffer_used(&relay->to_inner) > 0) {
                        size_t before = buffer_used(&relay->to_inner);
                        r = relay_write(relay->inner_fd, &relay->to_inner);
                        if (r < 0)
                                return 0;        /* libmicrohttpd dropped the connection */
                        progress = progress || buffer_used(&relay->to_inner) != before;
                }
                if (relay->client_eof && !relay->inner_shut && buffer_used(&relay->to_inner) == 0) {
                        /* The client half-closed: libmicrohttpd sees the same, and may still answer. */
                        (void) shutdown(relay->inner_fd, SHUT_WR);
                        relay->inner_shut = true;
                }

                if (!relay->inner_eof && buffer_room(&relay->to_client) > 0) {
                        r = relay_read_inner(relay);
                        if (r == 0) {
                                relay->inner_eof = true;
                                progress = true;
                        } else if (r > 0)
                                progress = true;
                        else if (r != -EAGAIN)
                                return 0;
                }
                if (buffer_used(&relay->to_client) > 0) {
                        size_t before = buffer_used(&relay->to_client);
                        r = relay_write(relay->client_fd, &relay->to_client);
                        if (r < 0)
                                return 0;        /* the client is gone */
                        progress = progress || buffer_used(&relay->to_client) != before;
                }
                if (relay->inner_eof && buffer_used(&relay->to_client) == 0)
                        return 0;
                if (!progress)
                        break;
        }
        r = relay_update_events(relay);
        return r < 0 ? r : 1;
}

static int relay_on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        Relay *relay = userdata;
        int r;

        if (s == relay->client_source && (revents & (EPOLLHUP | EPOLLERR)) && relay->client_eof)
                r = 0;        /* the client closed its end altogether: nobody reads an answer */
        else
                r = relay_pump(relay);
        if (r < 0)
                log_warning_errno(r, "A client connection failed, closing it: %m");
        if (r <= 0 && relay->on_done)
                relay->on_done(relay, relay->userdata);        /* frees the relay */
        return 0;
}

int relay_new(sd_event *event, int client_fd, int inner_fd, int mhd_fd, void (*on_done)(Relay *, void *),
              void *userdata, Relay **ret)
{
        _cleanup_(relay_freep) Relay *relay = NULL;
        int r;

        relay = calloc(1, sizeof *relay);
        if (!relay) {
                safe_close(client_fd);
                safe_close(inner_fd);
                return -ENOMEM;
        }
        relay->client_fd = client_fd;
        relay->inner_fd = inner_fd;
        relay->mhd_fd = mhd_fd;
        relay->on_done = on_done;
        relay->userdata = userdata;

        r = sd_event_add_io(event, &relay->client_source, client_fd, EPOLLIN, relay_on_io, relay);
        if (r < 0)
                return r;
        r = sd_event_add_io(event, &relay->inner_source, inner_fd, EPOLLIN, relay_on_io, relay);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(relay);
        return 0;
}
