/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "server.h"

/* How an endpoint treats the request body. */
typedef enum BodyRule {
        BODY_IGNORED,     /* a body is read and dropped */
        BODY_NONE,        /* a body is an error (Bad Request) */
        BODY_REQUIRED,    /* a JSON object, required */
} BodyRule;

/* One of Cloud Hypervisor's endpoints under /api/v1. */
struct Endpoint {
        const char *path;        /* "/vm.boot" */
        const char *method;      /* "GET" or "PUT" */
        BodyRule body;
        /*
         * Cloud Hypervisor answers a method other than GET and PUT with an empty Bad Request, except on
         * vm.create, vm.info, vmm.ping and vmm.shutdown, which say ["Bad Request"] for any wrong method.
         */
        bool any_wrong_method_says_so;
        bool takes_fds;          /* Cloud Hypervisor reads descriptors sent with it (SCM_RIGHTS) */
        const char *what;        /* what failed, the second message of an error: "The VM could not boot" */
        const char *member;      /* the VM1 method it calls, if it is that simple */
        const char *missing;     /* not in chv yet: what chvd lacks for it */
        void (*start)(Request *r);
};

/* The endpoint of a path below /api/v1, or NULL. */
const Endpoint *endpoint_find(const char *path);

/* The request is complete (headers, body, descriptors): check it against its endpoint and start it. */
void api_dispatch(Request *r);
