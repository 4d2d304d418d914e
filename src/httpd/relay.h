/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <systemd/sd-event.h>

#include "macro.h"

/*
 * libmicrohttpd reads its sockets with recv(), which drops the file descriptors a client sends with
 * SCM_RIGHTS (the kernel closes them). So chv-httpd accepts each client itself and puts a relay between
 * the client and libmicrohttpd: the relay reads the client's bytes with recvmsg(), keeps the
 * descriptors that come with them, and writes the bytes on to one end of a socket pair whose other
 * end libmicrohttpd serves. Answers flow back the same way.
 *
 * The kernel never joins bytes sent with descriptors to bytes sent after them in one read, so the
 * descriptors sent with a request are kept before libmicrohttpd can see the end of that request.
 */

/* At most this many received descriptors are kept per connection (SCM_MAX_FD); more are closed. */
#define RELAY_FDS_MAX 253
#define RELAY_BUFFER_SIZE (16 * 1024)

typedef struct Relay Relay;

typedef struct RelayBuffer {
        size_t start, end;
        char data[RELAY_BUFFER_SIZE];
} RelayBuffer;

struct Relay {
        sd_event_source *client_source;
        sd_event_source *inner_source;
        int client_fd;        /* the client's connection, accepted by chv-httpd */
        int inner_fd;         /* our end of the pair */
        int mhd_fd;           /* libmicrohttpd's end (owned by libmicrohttpd), to find the relay again */
        bool client_eof;      /* the client will send no more */
        bool inner_eof;       /* libmicrohttpd closed its end */
        bool inner_shut;      /* the client's end of input was passed on */
        bool quit_after;      /* end chv-httpd once this connection is over (vmm.shutdown) */
        size_t n_fds;
        int fds[RELAY_FDS_MAX];
        RelayBuffer to_inner, to_client;
        /* Called once when the relay is over and about to be freed. */
        void (*on_done)(Relay *relay, void *userdata);
        void *userdata;
};

/* Takes client_fd and inner_fd (closed on failure too). */
int relay_new(sd_event *event, int client_fd, int inner_fd, int mhd_fd, void (*on_done)(Relay *, void *),
              void *userdata, Relay **ret);
Relay *relay_free(Relay *relay);
DEFINE_TRIVIAL_CLEANUP_FUNC(Relay *, relay_free);

/* Hands the descriptors received so far to the caller (ret must hold RELAY_FDS_MAX); returns how many. */
size_t relay_take_fds(Relay *relay, int *ret);
