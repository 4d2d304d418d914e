/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <cjson/cJSON.h>
#include <signal.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "macro.h"

typedef struct Vm Vm;
typedef struct ControlRequest ControlRequest;

/*
 * The end of a control request: reply is chv-vmm's answer ({"ok": true, ...}), or NULL with error, why
 * there is none (chv-vmm's own refusal, no answer in time, the worker went away). reply is the callee's
 * to keep or free. Called from the event loop, or from worker_free() (then error only).
 */
typedef void (*WorkerControlCallback)(Vm *vm, cJSON *reply, const char *error, void *userdata);

/*
 * The chv-vmm process of a running VM. chvd forks it, and the child waits on a pipe until its scope
 * exists (or chvd decides to go without one) before it execs chv-vmm --config RUNTIME/vms/NAME/config.json,
 * so that the guest's memory is accounted to the scope from the first page. Around it, in the runtime
 * directory and in chvd:
 *
 *   - a pidfd, watched by the event loop: the exit status says how the VM ended;
 *   - a notify socket (NOTIFY_SOCKET): chv-vmm sends READY=1 once the guest runs;
 *   - a pipe from its standard error: every line goes to chvd's log with the VM's fields, and the last
 *     error is kept as the reason should the VM fail;
 *   - the VM's terminal, a pty whose master is chv-vmm's standard input and output (where a serial port
 *     or console in mode Tty reads and writes); the worker holds the other end open as fd 3, so that
 *     the terminal never hangs up, whoever watches it, chvd included; OpenConsole opens it anew.
 *
 * The worker outlives chvd. worker.json in the runtime directory says which process it is (PID and
 * start time), its terminal and its scope, so that the next chvd finds it again (worker_reattach()),
 * watches it through a pidfd and can stop it; only its exit status and its log are lost on the way.
 */
typedef struct Worker {
        Vm *vm;
        pid_t pid;
        int pidfd;
        sd_event_source *child_source;  /* our child: its exit status comes with it */
        sd_event_source *pidfd_source;  /* found again after a restart: only that it ended */
        bool reattached;
        bool running;                   /* started and not seen to end: its directory stays */

        char *dir;                      /* RUNTIME/vms/NAME */
        int go_fd;                      /* one byte lets the child exec */

        int notify_fd;
        sd_event_source *notify_source;
        bool ready;

        int log_fd;
        sd_event_source *log_source;
        char log_buf[2048];
        size_t log_len;
        char *last_error;

        int pty_peer_fd;                /* the pty's other end, until the child holds it */
        char *pty_path;
        char *console_file;             /* a serial port or console in mode File: OpenConsole reads it */

        sd_bus_slot *scope_slot;        /* StartTransientUnit (or ResetFailedUnit) in flight */
        char *scope_job;                /* the job, until JobRemoved names it */
        bool scope_retried;

        sd_event_source *kill_timer;    /* SIGKILL when SIGTERM took too long */
        bool killed;

        ControlRequest *control_requests;       /* on the control socket, waiting for answers */
} Worker;

/*
 * Forks the worker of vm; it waits for worker_release(). On failure returns a negative errno and
 * writes the reason to err.
 */
int worker_new(Vm *vm, Worker **ret, char *err, size_t errlen);
/* Finds the worker of vm that an earlier chvd started, if it still runs: 1 found, 0 none. */
int worker_reattach(Vm *vm, Worker **ret);
/* Writes worker.json (again, once the scope is known). */
int worker_save_state(Worker *w, const char *unit);
/* Lets the child exec chv-vmm. */
int worker_release(Worker *w);
/* Sends sig through the pidfd. */
int worker_kill(Worker *w, int sig);
/*
 * Sends {"op": op} on the worker's control socket, on a connection of its own, and returns: the answer
 * goes to callback from the event loop (chv-vmm answers at once; after 10 s the request fails). Returns
 * a negative errno, with the reason in err, when the request could not be sent; callback is not called
 * then.
 */
int worker_control(Worker *w, const char *op, WorkerControlCallback callback, void *userdata, char *err,
                   size_t errlen);
/* SIGTERM now, SIGKILL after usec. */
int worker_stop(Worker *w, uint64_t usec);
/* A new file descriptor of the VM's terminal (read-write) or console file (read-only). -ENXIO: none. */
int worker_open_console(Worker *w);
/* Reads what is left of the worker's output and notifications (before it is judged). */
void worker_drain(Worker *w);
/* Closes everything, and removes the runtime directory unless the process still runs (it is left alone). */
Worker *worker_free(Worker *w);
DEFINE_TRIVIAL_CLEANUP_FUNC(Worker *, worker_free);

/* How the worker ended, in words: "the guest crashed: ...", "chv-vmm was killed by signal KILL"; si is
 * NULL for a worker found again after a restart, whose exit status nobody told chvd. */
char *worker_describe_exit(Worker *w, const siginfo_t *si);
