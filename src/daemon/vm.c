/* SPDX-License-Identifier: Apache-2.0 */
#include <assert.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-id128.h>

#include "config-file.h"
#include "errbuf.h"
#include "file-util.h"
#include "manager.h"
#include "scope.h"
#include "vm-config.h"
#include "vm.h"
#include "worker.h"

static const char *const vm_state_table[_VM_STATE_MAX] = {
        [VM_CREATED] = "Created",   [VM_STARTING] = "Starting", [VM_RUNNING] = "Running",
        [VM_STOPPING] = "Stopping", [VM_SHUTDOWN] = "Shutdown", [VM_FAILED] = "Failed",
        [VM_PAUSED] = "Paused",
};

const char *vm_state_to_string(VmState s)
{
        if (s < 0 || s >= _VM_STATE_MAX)
                return NULL;
        return vm_state_table[s];
}

VmState vm_state_from_string(const char *s)
{
        for (int i = 0; s && i < _VM_STATE_MAX; i++)
                if (streq(vm_state_table[i], s))
                        return (VmState) i;
        return _VM_STATE_INVALID;
}

static bool is_alnum(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool vm_name_is_valid(const char *name)
{
        size_t n;

        if (!name || !is_alnum(name[0]))
                return false;
        for (n = 0; name[n]; n++)
                if (n >= VM_NAME_MAX || !(is_alnum(name[n]) || strchr("._-", name[n])))
                        return false;
        return true;
}

/* chvd runs VMs from its own working directory, "/", for whoever asked: a relative path means nothing. */
static int check_absolute(const char *field, const char *path, char *err, size_t errlen)
{
        if (path && path[0] != '/')
                return errbuf_fail(-EINVAL, err, errlen, "%s: \"%s\" is a relative path; chvd needs an absolute one",
                                   field, path);
        return 0;
}

static int check_daemon_rules(const VmConfig *c, char *err, size_t errlen)
{
        char field[64];
        int r;

        if ((r = check_absolute("payload.kernel", c->payload.kernel, err, errlen)) < 0 ||
            (r = check_absolute("payload.initramfs", c->payload.initramfs, err, errlen)) < 0 ||
            (r = check_absolute("serial.file", c->serial.file, err, errlen)) < 0 ||
            (r = check_absolute("console.file", c->console.file, err, errlen)) < 0 ||
            (r = check_absolute("rng.src", c->rng.src, err, errlen)) < 0)
                return r;
        for (size_t i = 0; i < c->n_disks; i++) {
                snprintf(field, sizeof field, "disks[%zu].path", i);
                r = check_absolute(field, c->disks[i].path, err, errlen);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < c->n_net; i++)
                if (c->net[i].n_fds > 0)
                        return errbuf_fail(-EINVAL, err, errlen,
                                           "net[%zu].fds: file descriptors cannot travel in a configuration; "
                                           "name the tap with tap= instead",
                                           i);
        return 0;
}

/* Decodes tree, applies chvd's rules and returns the completed configuration as a new tree. */
static int config_check_tree(const cJSON *tree, cJSON **ret, char *err, size_t errlen)
{
        VmConfig c;
        cJSON *out;
        int r;

        r = vm_config_from_json(tree, &c, err, errlen);
        if (r < 0)
                return r;
        r = check_daemon_rules(&c, err, errlen);
        if (r < 0) {
                vm_config_done(&c);
                return r;
        }
        out = vm_config_to_json(&c);
        vm_config_done(&c);
        if (!out)
                return -ENOMEM;
        *ret = out;
        return 0;
}

int vm_config_check(const char *text, size_t len, cJSON **ret, char *err, size_t errlen)
{
        cJSON *tree = NULL;
        int r;

        r = config_tree_parse(text, len, CONFIG_FORMAT_AUTO, &tree, err, errlen);
        if (r < 0)
                return r;
        r = config_check_tree(tree, ret, err, errlen);
        cJSON_Delete(tree);
        return r;
}

/* The memory size of a completed configuration, which vm_config_to_json() always writes. */
static uint64_t config_memory_size(const cJSON *config)
{
        const cJSON *size = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(config, "memory"),
                                                             "size");
        return cJSON_IsNumber(size) ? (uint64_t) size->valuedouble : 0;
}

int vm_new(Manager *m, const char *name, const char *uuid, cJSON *config, Vm **ret)
{
        _cleanup_(vm_freep) Vm *vm = NULL;
        char s[SD_ID128_UUID_STRING_MAX];
        sd_id128_t id;
        int r;

        assert(vm_name_is_valid(name));
        vm = calloc(1, sizeof *vm);
        if (!vm) {
                cJSON_Delete(config);
                return -ENOMEM;
        }
        vm->manager = m;
        vm->config = config;
        vm->state = VM_CREATED;
        if (uuid) {
                r = sd_id128_from_string(uuid, &id);
                if (r < 0)
                        return r;
        } else {
                r = sd_id128_randomize(&id);
                if (r < 0)
                        return r;
        }
        vm->name = strdup(name);
        vm->uuid = strdup(sd_id128_to_uuid_string(id, s));
        vm->config_json = cJSON_PrintUnformatted(config);
        if (!vm->name || !vm->uuid || !vm->config_json)
                return -ENOMEM;
        r = sd_bus_path_encode(VM_OBJECT_PREFIX, name, &vm->path);
        if (r < 0)
                return r;
        vm->memory_size = config_memory_size(config);
        *ret = TAKE_PTR(vm);
        return 0;
}

Vm *vm_free(Vm *vm)
{
        if (!vm)
                return NULL;
        /* A running worker is left to run: a chvd that restarts must not take the VMs down. */
        worker_free(vm->worker);
        sd_bus_message_unref(vm->boot_call);
        sd_bus_message_unref(vm->stop_call);
        free(vm->abort_reason);
        free(vm->name);
        free(vm->uuid);
        free(vm->path);
        cJSON_Delete(vm->config);
        free(vm->config_json);
        free(vm->failure);
        free(vm->unit);
        free(vm);
        return NULL;
}

static int vm_definition_path(Vm *vm, char **ret)
{
        _cleanup_free_ char *dir = NULL;
        int r;

        r = manager_definitions_dir(vm->manager, &dir);
        if (r < 0)
                return r;
        return asprintf(ret, "%s/%s.json", dir, vm->name) < 0 ? -ENOMEM : 0;
}

int vm_save(Vm *vm)
{
        _cleanup_free_ char *path = NULL, *text = NULL;
        cJSON *root;
        int r;

        r = vm_definition_path(vm, &path);
        if (r < 0)
                return r;
        root = cJSON_CreateObject();
        if (!root)
                return -ENOMEM;
        if (!cJSON_AddStringToObject(root, "name", vm->name) || !cJSON_AddStringToObject(root, "uuid", vm->uuid) ||
            !cJSON_AddItemReferenceToObject(root, "config", vm->config)) {
                cJSON_Delete(root);
                return -ENOMEM;
        }
        text = cJSON_Print(root);
        cJSON_Delete(root);
        if (!text)
                return -ENOMEM;
        return write_file_atomic(path, text, 0600);
}

int vm_replace_config(Vm *vm, cJSON *config)
{
        cJSON *old_config = vm->config;
        char *json, *old_json = vm->config_json;
        uint64_t old_size = vm->memory_size;
        int r;

        assert(vm_state_is_inactive(vm->state));
        json = cJSON_PrintUnformatted(config);
        if (!json) {
                cJSON_Delete(config);
                return -ENOMEM;
        }
        vm->config = config;
        vm->config_json = json;
        vm->memory_size = config_memory_size(config);
        r = vm_save(vm);
        if (r < 0) {
                /* The old definition stays, on disk and here. */
                vm->config = old_config;
                vm->config_json = old_json;
                vm->memory_size = old_size;
                cJSON_Delete(config);
                free(json);
                return r;
        }
        cJSON_Delete(old_config);
        free(old_json);
        (void) vm_send_changed(vm, "Config", NULL);
        return 0;
}

int vm_remove_definition(Vm *vm)
{
        _cleanup_free_ char *path = NULL;
        int r;

        r = vm_definition_path(vm, &path);
        if (r < 0)
                return r;
        if (unlink(path) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

int vm_load(Manager *m, const char *path, Vm **ret)
{
        _cleanup_free_ char *base = NULL;
        const cJSON *name, *uuid;
        cJSON *tree = NULL, *config = NULL;
        char err[512];
        const char *slash = strrchr(path, '/');
        int r;

        r = config_tree_load(path, &tree, err, sizeof err);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0)
                return log_error_errno(r, "Ignoring the VM definition %s", err);
        base = strdup(slash ? slash + 1 : path);
        if (!base) {
                r = log_oom();
                goto out;
        }
        if (strlen(base) > 5)
                base[strlen(base) - 5] = 0; /* ".json" */
        name = cJSON_GetObjectItemCaseSensitive(tree, "name");
        uuid = cJSON_GetObjectItemCaseSensitive(tree, "uuid");
        if (!cJSON_IsString(name) || !vm_name_is_valid(name->valuestring) || !streq(name->valuestring, base) ||
            !cJSON_IsString(uuid)) {
                r = log_error_errno(EINVAL, "Ignoring the VM definition %s: its name or UUID is missing or does "
                                            "not match the file's name", path);
                goto out;
        }
        r = config_check_tree(cJSON_GetObjectItemCaseSensitive(tree, "config"), &config, err, sizeof err);
        if (r == -ENOMEM) {
                r = log_oom();
                goto out;
        }
        if (r < 0) {
                r = log_error_errno(r, "Ignoring the VM definition %s: %s", path, err);
                goto out;
        }
        r = vm_new(m, name->valuestring, uuid->valuestring, config, ret);
        if (r < 0)
                log_error_errno(r, "Ignoring the VM definition %s: %m", path);
out:
        cJSON_Delete(tree);
        return r;
}

void vm_set_state(Vm *vm, VmState state)
{
        if (vm->state == state)
                return;
        log_vm(vm, LOG_DEBUG, "State %s -> %s", vm_state_to_string(vm->state), vm_state_to_string(state));
        vm->state = state;
        (void) vm_send_changed(vm, "State", NULL);
}

char *vm_info_json(Vm *vm)
{
        cJSON *info = cJSON_CreateObject();
        char *text = NULL;

        if (!info)
                return NULL;
        if (!cJSON_AddItemReferenceToObject(info, "config", vm->config) ||
            !cJSON_AddStringToObject(info, "state", vm_state_to_string(vm->state)) ||
            !cJSON_AddStringToObject(info, "name", vm->name) || !cJSON_AddStringToObject(info, "uuid", vm->uuid))
                goto out;
        if ((vm->state == VM_RUNNING || vm->state == VM_PAUSED || vm->state == VM_STOPPING) &&
            !cJSON_AddNumberToObject(info, "memory_actual_size", (double) vm->memory_size))
                goto out;
        if (vm->unit && !cJSON_AddStringToObject(info, "unit", vm->unit))
                goto out;
        if (vm->main_pid > 0 && !cJSON_AddNumberToObject(info, "main_pid", vm->main_pid))
                goto out;
        if (vm->failure && !cJSON_AddStringToObject(info, "failure", vm->failure))
                goto out;
        text = cJSON_PrintUnformatted(info);
out:
        cJSON_Delete(info);
        return text;
}

static void vm_set_failure(Vm *vm, const char *why)
{
        char *s = why ? strdup(why) : NULL;

        free(vm->failure);
        vm->failure = s;
}

static void vm_set_worker_gone(Vm *vm)
{
        vm->worker = worker_free(vm->worker);
        vm->main_pid = 0;
        free(vm->unit);
        vm->unit = NULL;
        (void) vm_send_changed(vm, "MainPID", "Unit", NULL);
}

/* The VM ended in an error: Failed, with the reason in Info and in the journal. */
static void vm_fail(Vm *vm, const char *why)
{
        vm_set_failure(vm, why);
        log_vm_full_errno_id(vm, CHV_MESSAGE_VM_FAILED, LOG_ERR, 0, "Failed: %s", why);
        vm_set_state(vm, VM_FAILED);
}

int vm_boot(Vm *vm, char *err, size_t errlen)
{
        int r;

        assert(!vm->worker);
        r = worker_new(vm, &vm->worker, err, errlen);
        if (r < 0) {
                if (r == -ENOMEM)
                        snprintf(err, errlen, "out of memory");
                vm_fail(vm, err);
                return r;
        }
        vm->main_pid = vm->worker->pid;
        vm_set_failure(vm, NULL);
        (void) vm_send_changed(vm, "MainPID", NULL);
        vm_set_state(vm, VM_STARTING);
        if (!vm->rebooting)
                (void) vm_send_event(vm, "vm", "booting", NULL);
        log_vm(vm, LOG_INFO, "Starting chv-vmm (PID %d).", vm->main_pid);

        r = scope_start(vm);
        if (r < 0)
                scope_fail_errno(vm, r, "cannot ask for the scope");
        return 0;
}

/* Gives up a boot under way: the worker, still waiting, exits, and its exit reports why. */
static void vm_abort_boot(Vm *vm, const char *why)
{
        free(vm->abort_reason);
        vm->abort_reason = strdup(why);
        vm->worker->go_fd = safe_close(vm->worker->go_fd);
        (void) worker_kill(vm->worker, SIGKILL);
}

void vm_on_scope_done(Vm *vm, const char *unit, const sd_bus_error *error)
{
        Manager *m = vm->manager;
        char why[512];
        int r;

        if (!vm->worker)
                return;
        if (error && scope_error_means_no_manager(error)) {
                if (!m->told_no_scope)
                        log_notice("No systemd manager on the bus (%s): VMs run without a scope of their own, in "
                                   "chvd's cgroup%s.",
                                   error->message, m->config.require_scope ? "; --require-scope refuses that" : "");
                m->told_no_scope = true;
                if (m->config.require_scope) {
                        vm_abort_boot(vm, "no systemd manager on the bus makes its scope, and chvd was started with "
                                          "--require-scope: start chvd under systemd, or without --require-scope");
                        return;
                }
        } else if (error) {
                _cleanup_free_ char *name = NULL;
                (void) scope_unit_name(vm->name, &name);
                snprintf(why, sizeof why, "cannot start %s: %s", strna(name), error->message);
                vm_abort_boot(vm, why);
                return;
        } else {
                free(vm->unit);
                vm->unit = strdup(unit);
                (void) vm_send_changed(vm, "Unit", NULL);
                (void) worker_save_state(vm->worker, unit);
                log_vm(vm, LOG_DEBUG, "In %s.", unit);
        }
        r = worker_release(vm->worker);
        if (r < 0) {
                snprintf(why, sizeof why, "cannot let the worker start: %s", strerror(-r));
                vm_abort_boot(vm, why);
        }
}

void vm_on_worker_ready(Vm *vm)
{
        bool rebooted = vm->rebooting;

        vm->rebooting = false;
        vm_set_state(vm, VM_RUNNING);
        log_vm_full_errno_id(vm, CHV_MESSAGE_VM_STARTED, LOG_INFO, 0, "Running%s (chv-vmm PID %d%s%s).",
                             rebooted ? " again" : "", vm->main_pid, vm->unit ? ", " : "", vm->unit ?: "");
        (void) vm_send_event(vm, "vm", rebooted ? "rebooted" : "booted", NULL);
        vm_finish_boot(vm, NULL);
}

void vm_on_worker_exit(Vm *vm, const siginfo_t *si)
{
        _cleanup_free_ char *why = NULL;
        bool ready = vm->worker->ready;
        /* A worker whose status is unknown is taken to have ended as it should: no reason says otherwise. */
        bool clean = !si ||
                     (si->si_code == CLD_EXITED && (si->si_status == 0 || si->si_status == 3 || si->si_status == 4));
        char err[512];

        why = vm->abort_reason ? TAKE_PTR(vm->abort_reason) : worker_describe_exit(vm->worker, si);
        if (!why)
                why = strdup("out of memory");
        vm_set_worker_gone(vm);

        if (!ready) {
                /* The guest never ran: the Boot (or Reboot) that waits for it fails. */
                vm->rebooting = false;
                vm_fail(vm, strna(why));
                vm_finish_boot(vm, why);
                return;
        }
        if (vm->rebooting) {
                log_vm(vm, LOG_INFO, "Stopped to reboot: %s.", strna(why));
                if (vm_boot(vm, err, sizeof err) < 0) {
                        vm->rebooting = false;
                        vm_finish_boot(vm, err);
                }
                return;
        }
        if (vm->stopping || clean) {
                vm->stopping = false;
                log_vm_full_errno_id(vm, CHV_MESSAGE_VM_STOPPED, LOG_INFO, 0, "Shut down: %s.", strna(why));
                vm_set_state(vm, VM_SHUTDOWN);
                (void) vm_send_event(vm, "vm", "shutdown", NULL);
                vm_finish_stop(vm);
                return;
        }
        vm_fail(vm, strna(why));
}

int vm_shutdown(Vm *vm)
{
        int r;

        r = worker_stop(vm->worker, vm->manager->config.stop_timeout_usec);
        if (r < 0)
                return r;
        vm->stopping = true;
        vm_set_state(vm, VM_STOPPING);
        return 0;
}

int vm_reboot(Vm *vm)
{
        int r;

        r = worker_stop(vm->worker, vm->manager->config.stop_timeout_usec);
        if (r < 0)
                return r;
        vm->rebooting = true;
        vm_set_state(vm, VM_STOPPING);
        (void) vm_send_event(vm, "vm", "rebooting", NULL);
        return 0;
}

int vm_power_button(Vm *vm)
{
        log_vm(vm, LOG_INFO, "Pressing the power button.");
        return worker_kill(vm->worker, SIGUSR2);
}

/* Pause and Resume: the event before, the request, and once chv-vmm answered the state, the event after and
 * the reply. */
static void on_pause_or_resume_done(Vm *vm, cJSON *reply, const char *error, void *userdata)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = userdata;
        bool pause = streq(sd_bus_message_get_member(call), "Pause");

        vm->control_busy = false;
        cJSON_Delete(reply);
        if (error) {
                log_vm(vm, LOG_WARNING, "%s failed: %s", pause ? "Pausing" : "Resuming", error);
                (void) sd_bus_reply_method_errorf(call, SD_BUS_ERROR_FAILED, "%s VM %s failed: %s",
                                                  pause ? "Pausing" : "Resuming", vm->name, error);
                return;
        }
        vm_set_state(vm, pause ? VM_PAUSED : VM_RUNNING);
        log_vm(vm, LOG_INFO, pause ? "Paused." : "Resumed.");
        (void) vm_send_event(vm, "vm", pause ? "paused" : "resumed", NULL);
        (void) sd_bus_reply_method_return(call, NULL);
}

int vm_pause_or_resume(Vm *vm, sd_bus_message *call, char *err, size_t errlen)
{
        bool pause = streq(sd_bus_message_get_member(call), "Pause");
        int r;

        (void) vm_send_event(vm, "vm", pause ? "pausing" : "resuming", NULL);
        r = worker_control(vm->worker, pause ? "pause" : "resume", on_pause_or_resume_done, call, err, errlen);
        if (r < 0)
                return r;
        sd_bus_message_ref(call);
        vm->control_busy = true;
        return 0;
}

static void on_counters_done(Vm *vm, cJSON *reply, const char *error, void *userdata)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = userdata;
        cJSON *c = cJSON_GetObjectItemCaseSensitive(reply, "counters");
        _cleanup_free_ char *text = cJSON_IsObject(c) ? cJSON_PrintUnformatted(c) : NULL;

        cJSON_Delete(reply);
        if (!text && !error)
                error = cJSON_IsObject(c) ? "out of memory" : "chv-vmm gave no counters";
        if (error)
                (void) sd_bus_reply_method_errorf(call, SD_BUS_ERROR_FAILED, "Reading the counters of VM %s failed: %s",
                                                  vm->name, error);
        else
                (void) sd_bus_reply_method_return(call, "s", text);
}

int vm_counters(Vm *vm, sd_bus_message *call, char *err, size_t errlen)
{
        int r = worker_control(vm->worker, "counters", on_counters_done, call, err, errlen);
        if (r >= 0)
                sd_bus_message_ref(call);
        return r;
}

/* A worker found again may have been paused before chvd restarted: it stays so, and says so. */
static void on_reattach_info(Vm *vm, cJSON *reply, const char *error, void *userdata)
{
        cJSON *s = cJSON_GetObjectItemCaseSensitive(reply, "state");

        if (error)
                log_vm(vm, LOG_DEBUG, "Cannot ask chv-vmm for its state: %s", error);
        else if (cJSON_IsString(s) && streq(s->valuestring, "Paused") && vm->state == VM_RUNNING) {
                vm_set_state(vm, VM_PAUSED);
                log_vm(vm, LOG_INFO, "It is paused.");
        }
        cJSON_Delete(reply);
}

int vm_reattach(Vm *vm)
{
        int r;

        r = worker_reattach(vm, &vm->worker);
        if (r <= 0)
                return r;
        vm->main_pid = vm->worker->pid;
        vm->state = VM_RUNNING;
        {
                char err[256];
                if (worker_control(vm->worker, "info", on_reattach_info, NULL, err, sizeof err) < 0)
                        log_vm(vm, LOG_DEBUG, "Cannot ask chv-vmm for its state: %s", err);
        }
        log_vm(vm, LOG_INFO, "Found its chv-vmm (PID %d%s%s) still running, watching it again.", vm->main_pid,
               vm->unit ? ", " : "", vm->unit ?: "");
        return 1;
}
