/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

/*
 * chv-vmm's control socket: a SOCK_SEQPACKET unix socket (mode 0600), one JSON object per message.
 * Requests are {"op": NAME}; replies {"ok": true, ...} or {"ok": false, "error": "..."}. Every message
 * is untrusted: its size is bounded, its JSON checked, an unknown op refused; a client that goes away
 * at any point costs nothing. Served from the caller's epoll loop, in the thread that calls
 * control_server_dispatch().
 */

#define CONTROL_MESSAGE_MAX 4096
#define CONTROL_CLIENTS_MAX 4

/*
 * Carries out op (one of the names given to control_server_new()) and adds the reply's fields to
 * reply. A negative errno fails the request with the message in err.
 */
typedef int (*ControlHandler)(void *ctx, const char *op, cJSON *reply, char *err, size_t errlen);

typedef struct ControlServer ControlServer;

/*
 * Listens on path (a stale socket there is replaced) and adds the listening socket and its clients
 * to epoll_fd with data.u32 = tag + n, n from 0 to CONTROL_CLIENTS_MAX: the caller passes every event
 * whose data.u32 is in that range to control_server_dispatch(). ops: the op names handler knows,
 * NULL-terminated.
 */
int control_server_new(const char *path, int epoll_fd, uint32_t tag, const char *const *ops,
                       ControlHandler handler, void *ctx, ControlServer **ret);
/* Whether data.u32 of an epoll event belongs to the server. */
bool control_server_owns(const ControlServer *s, uint32_t data);
void control_server_dispatch(ControlServer *s, uint32_t data);
/* Closes every connection and removes the socket file. */
ControlServer *control_server_free(ControlServer *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(ControlServer *, control_server_free);

/*
 * One request, as the server handles it (exposed for tests): returns the reply, a JSON text the
 * caller frees.
 */
char *control_handle_request(const char *const *ops, ControlHandler handler, void *ctx, const void *msg,
                             size_t len);
