/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "macro.h"

/* What a device may ask of the machine it sits in. Devices do not know KVM. */

typedef struct IrqLine {
        void (*set)(void *ctx, uint32_t gsi, bool level);
        void *ctx;
        uint32_t gsi;
} IrqLine;

static inline void irq_line_set(const IrqLine *l, bool level)
{
        if (l->set)
                l->set(l->ctx, l->gsi, level);
}

typedef enum VmRequest {
        VM_REQUEST_NONE,
        VM_REQUEST_SHUTDOWN, /* the guest powered off */
        VM_REQUEST_RESET,    /* the guest reset the machine */
        VM_REQUEST_CRASH,    /* a vCPU stopped in a state it cannot leave */
        VM_REQUEST_STOP,     /* the host asked the VM to stop */
        _VM_REQUEST_MAX,
        _VM_REQUEST_INVALID = -EINVAL,
} VmRequest;

const char *vm_request_to_string(VmRequest r);

typedef struct VmControl {
        void (*request)(void *ctx, VmRequest r);
        void *ctx;
} VmControl;

static inline void vm_control_request(const VmControl *c, VmRequest r)
{
        if (c->request)
                c->request(c->ctx, r);
}
