/* SPDX-License-Identifier: Apache-2.0 */
#include <inttypes.h>
#include <stdarg.h>

#include "vm-config.h"

static const char *const console_mode_table[_CONSOLE_MODE_MAX] = {
        [CONSOLE_OFF] = "Off",       [CONSOLE_PTY] = "Pty",       [CONSOLE_TTY] = "Tty",
        [CONSOLE_FILE] = "File",     [CONSOLE_SOCKET] = "Socket", [CONSOLE_NULL] = "Null",
};

const char *console_mode_to_string(ConsoleMode m)
{
        if (m < 0 || m >= _CONSOLE_MODE_MAX)
                return NULL;
        return console_mode_table[m];
}

ConsoleMode console_mode_from_string(const char *s)
{
        if (!s)
                return _CONSOLE_MODE_INVALID;
        for (int i = 0; i < _CONSOLE_MODE_MAX; i++)
                if (streq(console_mode_table[i], s))
                        return (ConsoleMode) i;
        return _CONSOLE_MODE_INVALID;
}

void vm_config_init(VmConfig *c)
{
        *c = (VmConfig) {
                .cpus = { .boot_vcpus = 1, .max_vcpus = 1, .max_phys_bits = 46 },
                .memory = { .size = 512 * MiB, .thp = true },
                .serial = { .mode = CONSOLE_NULL },
                .console = { .mode = CONSOLE_TTY },
        };
}

static void console_config_done(ConsoleConfig *c)
{
        free(c->file);
        free(c->socket);
        c->file = c->socket = NULL;
}

void vm_config_done(VmConfig *c)
{
        free(c->payload.kernel);
        free(c->payload.cmdline);
        free(c->payload.initramfs);
        console_config_done(&c->serial);
        console_config_done(&c->console);
        vm_config_init(c);
}

/* Decoding context: the path of the field being decoded, for error messages. */
typedef struct Decoder {
        char *err;
        size_t errlen;
        const char *path[8];
        unsigned depth;
} Decoder;

_printf_(2, 3) static int decode_fail(Decoder *d, const char *fmt, ...)
{
        size_t o = 0;
        va_list ap;

        for (unsigned i = 0; i < d->depth && o < d->errlen; i++)
                o += (size_t) snprintf(d->err + o, d->errlen - o, "%s%s", i ? "." : "", d->path[i]);
        if (o < d->errlen)
                o += (size_t) snprintf(d->err + o, d->errlen - o, "%s", d->depth ? ": " : "");
        if (o < d->errlen) {
                va_start(ap, fmt);
                vsnprintf(d->err + o, d->errlen - o, fmt, ap);
                va_end(ap);
        }
        return -EINVAL;
}

static void decoder_push(Decoder *d, const char *name)
{
        if (d->depth < ELEMENTSOF(d->path))
                d->path[d->depth] = name;
        d->depth++;
}

static void decoder_pop(Decoder *d)
{
        d->depth--;
}

static const char *json_type_name(const cJSON *j)
{
        if (cJSON_IsNull(j))
                return "null";
        if (cJSON_IsBool(j))
                return "a boolean";
        if (cJSON_IsNumber(j))
                return "a number";
        if (cJSON_IsString(j))
                return "a string";
        if (cJSON_IsArray(j))
                return "an array";
        if (cJSON_IsObject(j))
                return "an object";
        return "invalid";
}

/*
 * Rejects members not in known (Cloud Hypervisor's own names that chv does not implement yet are
 * listed in unsupported and get a message saying so, unless they carry their neutral value).
 */
static int decode_check_members(Decoder *d, const cJSON *obj, const char *const *known,
                                const char *const *unsupported)
{
        const cJSON *m;

        cJSON_ArrayForEach(m, obj) {
                bool ok = false;
                for (const char *const *k = known; *k && !ok; k++)
                        ok = streq(*k, m->string);
                if (ok)
                        continue;
                for (const char *const *k = unsupported; k && *k; k++)
                        if (streq(*k, m->string)) {
                                if (cJSON_IsNull(m) || cJSON_IsFalse(m))
                                        goto next;
                                decoder_push(d, m->string);
                                return decode_fail(d, "not supported by chv yet");
                        }
                decoder_push(d, m->string);
                return decode_fail(d, "unknown field");
        next:;
        }
        return 0;
}

static int decode_u64(Decoder *d, const cJSON *obj, const char *name, uint64_t min, uint64_t max,
                      uint64_t *ret)
{
        const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, name);
        double v;
        int r = 0;

        if (!j)
                return 0;
        decoder_push(d, name);
        if (!cJSON_IsNumber(j)) {
                r = decode_fail(d, "expected an integer, got %s", json_type_name(j));
                goto out;
        }
        v = j->valuedouble;
        /* Doubles hold integers exactly up to 2^53; that covers every size chv accepts. The range is
         * checked before the conversion, which is undefined for values out of range. */
        if (!(v >= 0 && v <= 9007199254740992.0) || v != (double) (uint64_t) v) {
                r = decode_fail(d, "expected a non-negative integer, got %g", v);
                goto out;
        }
        if ((uint64_t) v < min || (uint64_t) v > max) {
                r = decode_fail(d, "%" PRIu64 " is out of range (%" PRIu64 "..%" PRIu64 ")", (uint64_t) v, min,
                                max);
                goto out;
        }
        *ret = (uint64_t) v;
out:
        decoder_pop(d);
        return r;
}

static int decode_u32(Decoder *d, const cJSON *obj, const char *name, uint32_t min, uint32_t max,
                      uint32_t *ret)
{
        uint64_t v = *ret;
        int r = decode_u64(d, obj, name, min, max, &v);
        if (r < 0)
                return r;
        *ret = (uint32_t) v;
        return 0;
}

static int decode_bool(Decoder *d, const cJSON *obj, const char *name, bool *ret)
{
        const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, name);
        int r = 0;

        if (!j)
                return 0;
        decoder_push(d, name);
        if (!cJSON_IsBool(j))
                r = decode_fail(d, "expected a boolean, got %s", json_type_name(j));
        else
                *ret = cJSON_IsTrue(j);
        decoder_pop(d);
        return r;
}

static int decode_string(Decoder *d, const cJSON *obj, const char *name, bool allow_empty, char **ret)
{
        const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, name);
        int r = 0;

        if (!j || cJSON_IsNull(j))
                return 0;
        decoder_push(d, name);
        if (!cJSON_IsString(j))
                r = decode_fail(d, "expected a string, got %s", json_type_name(j));
        else if (!allow_empty && j->valuestring[0] == 0)
                r = decode_fail(d, "must not be empty");
        else {
                char *s = strdup(j->valuestring);
                if (!s)
                        r = -ENOMEM;
                else {
                        free(*ret);
                        *ret = s;
                }
        }
        decoder_pop(d);
        return r;
}

static const cJSON *decode_object(Decoder *d, const cJSON *parent, const char *name, int *r)
{
        const cJSON *j = cJSON_GetObjectItemCaseSensitive(parent, name);

        *r = 0;
        if (!j || cJSON_IsNull(j))
                return NULL;
        if (!cJSON_IsObject(j)) {
                decoder_push(d, name);
                *r = decode_fail(d, "expected an object, got %s", json_type_name(j));
                decoder_pop(d);
                return NULL;
        }
        return j;
}

static int decode_cpus(Decoder *d, const cJSON *j, void *userdata)
{
        CpusConfig *c = userdata;
        static const char *const known[] = { "boot_vcpus", "max_vcpus", "max_phys_bits", NULL };
        static const char *const unsupported[] = { "topology", "kvm_hyperv", "affinity", "features",
                                                   "nested", "core_scheduling", NULL };
        bool have_max = cJSON_GetObjectItemCaseSensitive(j, "max_vcpus") != NULL;
        int r;

        r = decode_check_members(d, j, known, unsupported);
        if (r < 0)
                return r;
        r = decode_u32(d, j, "boot_vcpus", 1, CHV_MAX_VCPUS, &c->boot_vcpus);
        if (r < 0)
                return r;
        if (!have_max)
                c->max_vcpus = c->boot_vcpus;
        r = decode_u32(d, j, "max_vcpus", 1, CHV_MAX_VCPUS, &c->max_vcpus);
        if (r < 0)
                return r;
        r = decode_u32(d, j, "max_phys_bits", 32, 52, &c->max_phys_bits);
        if (r < 0)
                return r;
        if (c->max_vcpus < c->boot_vcpus) {
                decoder_push(d, "max_vcpus");
                r = decode_fail(d, "%" PRIu32 " is less than boot_vcpus (%" PRIu32 ")", c->max_vcpus,
                                c->boot_vcpus);
                decoder_pop(d);
        }
        return r;
}

static int decode_memory(Decoder *d, const cJSON *j, void *userdata)
{
        MemoryConfig *c = userdata;
        static const char *const known[] = { "size", "shared", "hugepages", "prefault", "mergeable", "thp",
                                             NULL };
        static const char *const unsupported[] = { "hotplug_method", "hotplug_size", "hotplugged_size",
                                                   "hugepage_size", "zones", "reserve", NULL };
        int r;

        r = decode_check_members(d, j, known, unsupported);
        if (r < 0)
                return r;
        /* At least 64 MiB: the boot structures, the kernel and a useful guest need it. */
        r = decode_u64(d, j, "size", 64 * MiB, UINT64_C(1) << 46, &c->size);
        if (r < 0)
                return r;
        if (c->size % (4 * KiB) != 0) {
                decoder_push(d, "size");
                r = decode_fail(d, "%" PRIu64 " is not a multiple of 4 KiB", c->size);
                decoder_pop(d);
                return r;
        }
        if ((r = decode_bool(d, j, "shared", &c->shared)) < 0 ||
            (r = decode_bool(d, j, "hugepages", &c->hugepages)) < 0 ||
            (r = decode_bool(d, j, "prefault", &c->prefault)) < 0 ||
            (r = decode_bool(d, j, "mergeable", &c->mergeable)) < 0 ||
            (r = decode_bool(d, j, "thp", &c->thp)) < 0)
                return r;
        return 0;
}

static int decode_payload(Decoder *d, const cJSON *j, void *userdata)
{
        PayloadConfig *c = userdata;
        static const char *const known[] = { "kernel", "cmdline", "initramfs", NULL };
        static const char *const unsupported[] = { "firmware", "igvm", "host_data", NULL };
        int r;

        r = decode_check_members(d, j, known, unsupported);
        if (r < 0)
                return r;
        if ((r = decode_string(d, j, "kernel", false, &c->kernel)) < 0 ||
            (r = decode_string(d, j, "cmdline", true, &c->cmdline)) < 0 ||
            (r = decode_string(d, j, "initramfs", false, &c->initramfs)) < 0)
                return r;
        /* The boot protocols give the command line one 4 KiB page, NUL included. */
        if (c->cmdline && strlen(c->cmdline) >= 4096) {
                decoder_push(d, "cmdline");
                r = decode_fail(d, "%zu bytes is longer than the 4095 the boot protocol allows",
                                strlen(c->cmdline));
                decoder_pop(d);
        }
        return r;
}

static int decode_console(Decoder *d, const cJSON *j, void *userdata)
{
        ConsoleConfig *c = userdata;
        static const char *const known[] = { "mode", "file", "socket", "iommu", NULL };
        static const char *const unsupported[] = { NULL };
        const cJSON *mode;
        int r;

        r = decode_check_members(d, j, known, unsupported);
        if (r < 0)
                return r;
        mode = cJSON_GetObjectItemCaseSensitive(j, "mode");
        if (mode) {
                decoder_push(d, "mode");
                if (!cJSON_IsString(mode))
                        r = decode_fail(d, "expected a string, got %s", json_type_name(mode));
                else if ((c->mode = console_mode_from_string(mode->valuestring)) < 0)
                        r = decode_fail(d, "\"%s\" is not one of Off, Null, Tty, Pty, File, Socket",
                                        mode->valuestring);
                decoder_pop(d);
                if (r < 0)
                        return r;
        }
        if ((r = decode_string(d, j, "file", false, &c->file)) < 0 ||
            (r = decode_string(d, j, "socket", false, &c->socket)) < 0)
                return r;
        if ((r = decode_bool(d, j, "iommu", &(bool) { false })) < 0)
                return r;
        if (c->mode == CONSOLE_FILE && !c->file)
                return decode_fail(d, "mode File needs a file");
        if (c->mode == CONSOLE_SOCKET && !c->socket)
                return decode_fail(d, "mode Socket needs a socket");
        if (c->mode == CONSOLE_SOCKET || c->mode == CONSOLE_PTY) {
                decoder_push(d, "mode");
                r = decode_fail(d, "%s is not supported by chv yet", console_mode_to_string(c->mode));
                decoder_pop(d);
        }
        return r;
}

int vm_config_from_json(const cJSON *root, VmConfig *ret, char *err, size_t errlen)
{
        static const char *const known[] = { "cpus", "memory", "payload", "serial", "console", NULL };
        static const char *const unsupported[] = {
                "rate_limit_groups", "disks", "net", "rng", "balloon", "fs", "pmem", "debug_console",
                "devices", "user_devices", "vdpa", "vsock", "pvpanic", "iommu", "sgx_epc", "numa",
                "watchdog", "platform", "tpm", "preserved_fds", "landlock_enable", "landlock_rules",
                "net_fds", NULL,
        };
        Decoder d = { .err = err, .errlen = errlen };
        VmConfig c;
        const cJSON *j;
        int r;

        vm_config_init(&c);
        if (errlen)
                err[0] = 0;
        if (!cJSON_IsObject(root)) {
                r = decode_fail(&d, "the configuration must be an object, got %s", json_type_name(root));
                goto fail;
        }
        r = decode_check_members(&d, root, known, unsupported);
        if (r < 0)
                goto fail;

        struct {
                const char *name;
                int (*decode)(Decoder *d, const cJSON *j, void *userdata);
                void *target;
        } sections[] = {
                { "cpus", decode_cpus, &c.cpus },
                { "memory", decode_memory, &c.memory },
                { "payload", decode_payload, &c.payload },
                { "serial", decode_console, &c.serial },
                { "console", decode_console, &c.console },
        };
        for (size_t i = 0; i < ELEMENTSOF(sections); i++) {
                j = decode_object(&d, root, sections[i].name, &r);
                if (r < 0)
                        goto fail;
                if (!j)
                        continue;
                decoder_push(&d, sections[i].name);
                r = sections[i].decode(&d, j, sections[i].target);
                decoder_pop(&d);
                if (r < 0)
                        goto fail;
        }
        if (!c.payload.kernel) {
                r = decode_fail(&d, "payload.kernel: a kernel is required");
                goto fail;
        }
        *ret = c;
        return 0;
fail:
        vm_config_done(&c);
        return r;
}

static cJSON *console_to_json(const ConsoleConfig *c)
{
        cJSON *o = cJSON_CreateObject();
        if (!o)
                return NULL;
        cJSON_AddStringToObject(o, "mode", console_mode_to_string(c->mode));
        if (c->file)
                cJSON_AddStringToObject(o, "file", c->file);
        else
                cJSON_AddNullToObject(o, "file");
        if (c->socket)
                cJSON_AddStringToObject(o, "socket", c->socket);
        cJSON_AddFalseToObject(o, "iommu");
        return o;
}

cJSON *vm_config_to_json(const VmConfig *c)
{
        cJSON *root = cJSON_CreateObject(), *o;

        if (!root)
                return NULL;
        o = cJSON_AddObjectToObject(root, "cpus");
        cJSON_AddNumberToObject(o, "boot_vcpus", c->cpus.boot_vcpus);
        cJSON_AddNumberToObject(o, "max_vcpus", c->cpus.max_vcpus);
        cJSON_AddNumberToObject(o, "max_phys_bits", c->cpus.max_phys_bits);
        o = cJSON_AddObjectToObject(root, "memory");
        cJSON_AddNumberToObject(o, "size", (double) c->memory.size);
        cJSON_AddBoolToObject(o, "shared", c->memory.shared);
        cJSON_AddBoolToObject(o, "hugepages", c->memory.hugepages);
        cJSON_AddBoolToObject(o, "prefault", c->memory.prefault);
        cJSON_AddBoolToObject(o, "mergeable", c->memory.mergeable);
        cJSON_AddBoolToObject(o, "thp", c->memory.thp);
        o = cJSON_AddObjectToObject(root, "payload");
        if (c->payload.kernel)
                cJSON_AddStringToObject(o, "kernel", c->payload.kernel);
        if (c->payload.cmdline)
                cJSON_AddStringToObject(o, "cmdline", c->payload.cmdline);
        if (c->payload.initramfs)
                cJSON_AddStringToObject(o, "initramfs", c->payload.initramfs);
        cJSON_AddItemToObject(root, "serial", console_to_json(&c->serial));
        cJSON_AddItemToObject(root, "console", console_to_json(&c->console));
        return root;
}
