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
#include "vm-config.h"
#include "vm.h"

static const char *const vm_state_table[_VM_STATE_MAX] = {
        [VM_CREATED] = "Created",   [VM_STARTING] = "Starting", [VM_RUNNING] = "Running",
        [VM_STOPPING] = "Stopping", [VM_SHUTDOWN] = "Shutdown", [VM_FAILED] = "Failed",
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
        if ((vm->state == VM_RUNNING || vm->state == VM_STOPPING) &&
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
