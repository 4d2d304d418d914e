/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <microhttpd.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "macro.h"
#include "relay.h"

/* Cloud Hypervisor's limit on request bodies (HTTP_PAYLOAD_MAX_SIZE). */
#define HTTP_BODY_MAX (4 * 1024 * 1024)
/* Connections served at once; more are closed as they come. */
#define HTTP_CONNECTIONS_MAX 1000

typedef struct Server Server;
typedef struct Request Request;
typedef struct Endpoint Endpoint;

struct Server {
        sd_event *event;
        sd_bus *bus;
        struct MHD_Daemon *mhd;
        sd_event_source *listen_source;
        sd_event_source *mhd_source;
        sd_event_source *mhd_timer;
        sd_event_source *mhd_kick;        /* one more run of libmicrohttpd, after a resume */
        int listen_fd;
        char *vm_name;
        char *vm_path;
        /* The relays, by libmicrohttpd's end of their pair. */
        Relay **relays;
        size_t relays_size;
        size_t n_relays;
        Request *requests;        /* those not yet completed */
        unsigned connection_timeout;
};

/* One HTTP request, from its headers until libmicrohttpd is done with it. */
struct Request {
        Server *server;
        struct MHD_Connection *connection;
        Request *prev, *next;
        const Endpoint *endpoint;        /* NULL: no such path */
        const char *path;
        const char *method;
        char *body;
        size_t body_size;
        size_t body_alloc;
        bool body_too_large;
        int *fds;                        /* sent with the request (SCM_RIGHTS) */
        size_t n_fds;
        bool dispatched;
        bool suspended;
        bool answered;
        bool close_after;                /* Connection: close, and chv-httpd ends (vmm.shutdown) */
        unsigned status;
        char *answer;                    /* JSON, or NULL for no body */
        sd_bus_slot *slot;               /* the D-Bus call under way */
        unsigned step;                   /* for endpoints that make several calls */
};

int server_new(sd_event *event, sd_bus *bus, int listen_fd, const char *vm_name, Server **ret);
Server *server_free(Server *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(Server *, server_free);

/*
 * The answer to a request: status and a JSON body (taken; NULL for none). May be called from a D-Bus
 * reply, after libmicrohttpd was told to wait, or right away.
 */
void request_reply(Request *r, unsigned status, char *body);
/* An error in Cloud Hypervisor's shape: a JSON array of the messages, outermost first (NULL-terminated). */
void request_reply_errors(Request *r, unsigned status, const char *message, ...)
        __attribute__((sentinel));
