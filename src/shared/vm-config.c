/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <sys/random.h>

#include "parse-util.h"
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
                .serial = { .mode = CONSOLE_NULL, .pci_device_id = -1 },
                .console = { .mode = CONSOLE_TTY, .pci_device_id = -1 },
                .rng = { .pci_device_id = -1 },
        };
}

static void console_config_done(ConsoleConfig *c)
{
        free(c->file);
        free(c->socket);
        free(c->id);
}

static void disk_config_done(DiskConfig *c)
{
        free(c->path);
        free(c->serial);
        free(c->id);
}

static void net_config_done(NetConfig *c)
{
        free(c->tap);
        free(c->fds);
        free(c->id);
}

void vm_config_done(VmConfig *c)
{
        free(c->payload.kernel);
        free(c->payload.cmdline);
        free(c->payload.initramfs);
        console_config_done(&c->serial);
        console_config_done(&c->console);
        for (size_t i = 0; i < c->n_disks; i++)
                disk_config_done(&c->disks[i]);
        free(c->disks);
        for (size_t i = 0; i < c->n_net; i++)
                net_config_done(&c->net[i]);
        free(c->net);
        free(c->rng.src);
        free(c->rng.id);
        vm_config_init(c);
}

/* Decoding context: the path of the field being decoded ("net[1].mac"), for error messages. */
typedef struct Decoder {
        char *err;
        size_t errlen;
        struct {
                const char *name;
                int index; /* an element of the array name, or -1 */
        } path[8];
        unsigned depth;
} Decoder;

_printf_(2, 3) static int decode_fail(Decoder *d, const char *fmt, ...)
{
        size_t o = 0;
        va_list ap;

        for (unsigned i = 0; i < MIN(d->depth, ELEMENTSOF(d->path)) && o < d->errlen; i++) {
                o += (size_t) snprintf(d->err + o, d->errlen - o, "%s%s", i ? "." : "", d->path[i].name);
                if (d->path[i].index >= 0 && o < d->errlen)
                        o += (size_t) snprintf(d->err + o, d->errlen - o, "[%d]", d->path[i].index);
        }
        if (o < d->errlen)
                o += (size_t) snprintf(d->err + o, d->errlen - o, "%s", d->depth ? ": " : "");
        if (o < d->errlen) {
                va_start(ap, fmt);
                vsnprintf(d->err + o, d->errlen - o, fmt, ap);
                va_end(ap);
        }
        return -EINVAL;
}

static void decoder_pop(Decoder *d)
{
        d->depth--;
}

static void decoder_push_index(Decoder *d, const char *name, int index)
{
        if (d->depth < ELEMENTSOF(d->path)) {
                d->path[d->depth].name = name;
                d->path[d->depth].index = index;
        }
        d->depth++;
}

static void decoder_push(Decoder *d, const char *name)
{
        decoder_push_index(d, name, -1);
}

/* Fails with the reason at the member name of the element parent[index] (parent NULL: here). */
_printf_(5, 0) static int decode_failv_at(Decoder *d, const char *parent, int index, const char *name,
                                          const char *fmt, va_list ap)
{
        unsigned depth = d->depth;
        char reason[256];
        int r;

        vsnprintf(reason, sizeof reason, fmt, ap);
        if (parent)
                decoder_push_index(d, parent, index);
        decoder_push(d, name);
        r = decode_fail(d, "%s", reason);
        d->depth = depth;
        return r;
}

/* Fails with the reason at the member name of the object being decoded. */
_printf_(3, 4) static int decode_fail_at(Decoder *d, const char *name, const char *fmt, ...)
{
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = decode_failv_at(d, NULL, -1, name, fmt, ap);
        va_end(ap);
        return r;
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

/* null, or the neutral value of an unsupported member: false unless the list names another. */
static bool json_is_neutral(const cJSON *m, const char *neutral)
{
        if (cJSON_IsNull(m))
                return true;
        if (!neutral)
                return cJSON_IsFalse(m);
        if (streq(neutral, "true"))
                return cJSON_IsTrue(m);
        return cJSON_IsString(m) && streq(m->valuestring, neutral);
}

/*
 * Rejects members not in known. Cloud Hypervisor's own names that chv does not implement yet are
 * listed in unsupported and get a message saying so, unless they carry their neutral value: null,
 * false, or the value after '=' in the list ("sparse=true").
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
                for (const char *const *k = unsupported; k && *k; k++) {
                        const char *neutral = strchr(*k, '=');
                        size_t len = neutral ? (size_t) (neutral - *k) : strlen(*k);
                        if (strncmp(*k, m->string, len) != 0 || m->string[len] != 0)
                                continue;
                        if (json_is_neutral(m, neutral ? neutral + 1 : NULL))
                                goto next;
                        return decode_fail_at(d, m->string, "not supported by chv yet");
                }
                return decode_fail_at(d, m->string, "unknown field");
        next:;
        }
        return 0;
}

/* Whether obj has the member name with a value other than null (which means "not given"). */
static bool json_present(const cJSON *obj, const char *name)
{
        const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, name);
        return j && !cJSON_IsNull(j);
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
                r = decode_fail(d, "%" PRIu64 " is out of range (%" PRIu64 "..%" PRIu64 ")", (uint64_t) v,
                                min, max);
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
        if (c->max_vcpus < c->boot_vcpus)
                return decode_fail_at(d, "max_vcpus", "%" PRIu32 " is less than boot_vcpus (%" PRIu32 ")",
                                      c->max_vcpus, c->boot_vcpus);
        return 0;
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
        if (c->size % (4 * KiB) != 0)
                return decode_fail_at(d, "size", "%" PRIu64 " is not a multiple of 4 KiB", c->size);
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
        if (c->cmdline && strlen(c->cmdline) >= 4096)
                return decode_fail_at(d, "cmdline",
                                      "%zu bytes is longer than the 4095 the boot protocol allows",
                                      strlen(c->cmdline));
        return 0;
}

/* The placement every PCI device option has: pci_segment (only 0) and pci_device_id (1..31). */
static int decode_pci_placement(Decoder *d, const cJSON *j, int32_t *pci_device_id)
{
        uint32_t v = 0;
        int r;

        r = decode_u32(d, j, "pci_segment", 0, UINT16_MAX, &v);
        if (r < 0)
                return r;
        if (v != 0)
                return decode_fail_at(d, "pci_segment",
                                      "segment %" PRIu32 " is not supported by chv yet (only 0)", v);
        if (!json_present(j, "pci_device_id"))
                return 0;
        r = decode_u32(d, j, "pci_device_id", 1, CHV_PCI_MAX_DEVICE_ID, &v);
        if (r < 0)
                return r;
        *pci_device_id = (int32_t) v;
        return 0;
}

static int decode_console_mode(Decoder *d, const cJSON *j, ConsoleConfig *c)
{
        const cJSON *mode = cJSON_GetObjectItemCaseSensitive(j, "mode");

        if (!mode)
                return 0;
        if (!cJSON_IsString(mode))
                return decode_fail_at(d, "mode", "expected a string, got %s", json_type_name(mode));
        c->mode = console_mode_from_string(mode->valuestring);
        if (c->mode < 0)
                return decode_fail_at(d, "mode", "\"%s\" is not one of Off, Null, Tty, Pty, File, Socket",
                                      mode->valuestring);
        return 0;
}

/* The serial port's and the virtio console's common part; only the console is a PCI device. */
static int decode_console_common(Decoder *d, const cJSON *j, ConsoleConfig *c, bool pci)
{
        static const char *const known_serial[] = { "mode", "file", "socket", NULL };
        static const char *const known_console[] = { "mode", "file", "socket", "id", "pci_segment",
                                                     "pci_device_id", NULL };
        static const char *const unsupported[] = { "iommu", NULL };
        int r;

        r = decode_check_members(d, j, pci ? known_console : known_serial, unsupported);
        if (r < 0)
                return r;
        if ((r = decode_console_mode(d, j, c)) < 0 ||
            (r = decode_string(d, j, "file", false, &c->file)) < 0 ||
            (r = decode_string(d, j, "socket", false, &c->socket)) < 0)
                return r;
        if (pci && ((r = decode_string(d, j, "id", false, &c->id)) < 0 ||
                    (r = decode_pci_placement(d, j, &c->pci_device_id)) < 0))
                return r;
        if (c->mode == CONSOLE_FILE && !c->file)
                return decode_fail(d, "mode File needs a file");
        if (c->mode == CONSOLE_SOCKET && !c->socket)
                return decode_fail(d, "mode Socket needs a socket");
        if (c->mode == CONSOLE_SOCKET)
                return decode_fail_at(d, "mode", "Socket is not supported by chv yet");
        return 0;
}

static int decode_serial(Decoder *d, const cJSON *j, void *userdata)
{
        return decode_console_common(d, j, userdata, false);
}

static int decode_console(Decoder *d, const cJSON *j, void *userdata)
{
        return decode_console_common(d, j, userdata, true);
}

static int decode_rng(Decoder *d, const cJSON *j, void *userdata)
{
        RngConfig *c = userdata;
        static const char *const known[] = { "src", "id", "pci_segment", "pci_device_id", NULL };
        static const char *const unsupported[] = { "iommu", NULL };
        int r;

        r = decode_check_members(d, j, known, unsupported);
        if (r < 0)
                return r;
        if ((r = decode_string(d, j, "src", false, &c->src)) < 0 ||
            (r = decode_string(d, j, "id", false, &c->id)) < 0 ||
            (r = decode_pci_placement(d, j, &c->pci_device_id)) < 0)
                return r;
        return 0;
}

/* A virtqueue size: a power of two from min to CHV_MAX_QUEUE_SIZE. */
static int decode_queue_size(Decoder *d, const cJSON *j, uint32_t min, uint32_t *ret)
{
        int r = decode_u32(d, j, "queue_size", min, CHV_MAX_QUEUE_SIZE, ret);
        if (r < 0)
                return r;
        if (!IS_POWER_OF_2(*ret))
                return decode_fail_at(d, "queue_size", "%" PRIu32 " is not a power of two", *ret);
        return 0;
}

/* A member that must be one of words (NULL-terminated); *ret is its index, or -1 when not given. */
static int decode_word(Decoder *d, const cJSON *j, const char *name, const char *const *words, int *ret)
{
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, name);
        char list[128] = "";
        size_t o = 0;

        *ret = -1;
        if (!m || cJSON_IsNull(m))
                return 0;
        if (!cJSON_IsString(m))
                return decode_fail_at(d, name, "expected a string, got %s", json_type_name(m));
        for (int i = 0; words[i]; i++) {
                if (streq(words[i], m->valuestring)) {
                        *ret = i;
                        return 0;
                }
                if (o < sizeof list)
                        o += (size_t) snprintf(list + o, sizeof list - o, "%s%s", i ? ", " : "", words[i]);
        }
        return decode_fail_at(d, name, "\"%s\" is not one of %s", m->valuestring, list);
}

/*
 * Cloud Hypervisor's image_type: only raw images here, and Unknown (probe the format) is taken as raw.
 * lock_granularity: chv locks the whole image (Full) whichever is asked for.
 */
static int decode_disk_format(Decoder *d, const cJSON *j)
{
        static const char *const image_types[] = { "Raw",  "Unknown",  "Qcow2", "FixedVhd",
                                                   "Vhdx", "FlatVmdk", NULL };
        static const char *const lock_granularities[] = { "ByteRange", "Full", NULL };
        int i, r;

        r = decode_word(d, j, "image_type", image_types, &i);
        if (r < 0)
                return r;
        if (i >= 2)
                return decode_fail_at(d, "image_type", "%s is not supported by chv yet (only Raw)",
                                      image_types[i]);
        return decode_word(d, j, "lock_granularity", lock_granularities, &i);
}

static int decode_disk(Decoder *d, const cJSON *j, const VmConfig *vm, void *target)
{
        static const char *const known[] = { "path",   "readonly", "direct",        "num_queues",
                                             "queue_size", "serial", "id",          "pci_segment",
                                             "pci_device_id", "image_type", "lock_granularity", NULL };
        static const char *const unsupported[] = {
                "iommu",           "vhost_user",  "vhost_socket",   "rate_limiter_config",
                "rate_limit_group", "queue_affinity", "backing_files", "sparse=true",
                "disable_io_uring", "disable_aio", NULL,
        };
        DiskConfig *c = target;
        int r;

        *c = (DiskConfig) { .num_queues = 1, .queue_size = 128, .pci_device_id = -1 };
        r = decode_check_members(d, j, known, unsupported);
        if (r < 0)
                return r;
        if ((r = decode_string(d, j, "path", false, &c->path)) < 0 ||
            (r = decode_bool(d, j, "readonly", &c->readonly)) < 0 ||
            (r = decode_bool(d, j, "direct", &c->direct)) < 0 ||
            (r = decode_u32(d, j, "num_queues", 1, CHV_DISK_MAX_QUEUES, &c->num_queues)) < 0 ||
            (r = decode_queue_size(d, j, CHV_DISK_MIN_QUEUE_SIZE, &c->queue_size)) < 0 ||
            (r = decode_string(d, j, "serial", false, &c->serial)) < 0 ||
            (r = decode_string(d, j, "id", false, &c->id)) < 0 ||
            (r = decode_pci_placement(d, j, &c->pci_device_id)) < 0 ||
            (r = decode_disk_format(d, j)) < 0)
                return r;
        if (!c->path)
                return decode_fail_at(d, "path", "a disk needs a path");
        if (c->num_queues > vm->cpus.boot_vcpus)
                return decode_fail_at(d, "num_queues", "%" PRIu32 " is more than boot_vcpus (%" PRIu32 ")",
                                      c->num_queues, vm->cpus.boot_vcpus);
        if (c->serial && strlen(c->serial) > CHV_DISK_SERIAL_MAX)
                return decode_fail_at(d, "serial", "%zu bytes is longer than the %u virtio-blk allows",
                                      strlen(c->serial), CHV_DISK_SERIAL_MAX);
        return 0;
}

/* An interface name as Linux takes it: 1 to 15 bytes, not "." or "..", no '/', ':' or white space. */
static bool ifname_is_valid(const char *s)
{
        if (strlen(s) >= 16 || streq(s, ".") || streq(s, ".."))
                return false;
        for (const char *c = s; *c; c++)
                if (*c == '/' || *c == ':' || isspace((unsigned char) *c))
                        return false;
        return true;
}

/* A MAC address an interface can have: not a group (multicast or broadcast) address, not zero. */
static int decode_mac(Decoder *d, const cJSON *j, const char *name, uint8_t ret[6], bool *ret_set)
{
        _cleanup_free_ char *s = NULL;
        uint8_t a[6];
        int r;

        r = decode_string(d, j, name, false, &s);
        if (r < 0 || !s)
                return r;
        if (parse_ether_addr(s, a) < 0)
                return decode_fail_at(d, name, "\"%s\" is not a MAC address (e.g. 52:54:00:12:34:56)", s);
        if (a[0] & 1)
                return decode_fail_at(d, name, "%s is a multicast address, not one an interface can have",
                                      s);
        if (!(a[0] | a[1] | a[2] | a[3] | a[4] | a[5]))
                return decode_fail_at(d, name, "%s is not an interface's address", s);
        memcpy(ret, a, sizeof a);
        *ret_set = true;
        return 0;
}

static int decode_ipv4(Decoder *d, const cJSON *j, const char *name, struct in_addr *ret, bool *ret_set)
{
        _cleanup_free_ char *s = NULL;
        struct in6_addr a6;
        int r;

        *ret_set = false;
        r = decode_string(d, j, name, false, &s);
        if (r < 0 || !s)
                return r;
        if (inet_pton(AF_INET, s, ret) == 1) {
                *ret_set = true;
                return 0;
        }
        if (inet_pton(AF_INET6, s, &a6) == 1)
                return decode_fail_at(d, name, "IPv6 (%s) is not supported by chv yet", s);
        return decode_fail_at(d, name, "\"%s\" is not an IPv4 address", s);
}

static int decode_fds(Decoder *d, const cJSON *j, NetConfig *c)
{
        const cJSON *fds = cJSON_GetObjectItemCaseSensitive(j, "fds"), *e;
        int n;

        if (!fds || cJSON_IsNull(fds))
                return 0;
        if (!cJSON_IsArray(fds))
                return decode_fail_at(d, "fds", "expected an array, got %s", json_type_name(fds));
        n = cJSON_GetArraySize(fds);
        if (n == 0)
                return decode_fail_at(d, "fds", "must list at least one file descriptor");
        c->fds = calloc((size_t) n, sizeof *c->fds);
        if (!c->fds)
                return -ENOMEM;
        cJSON_ArrayForEach(e, fds) {
                double v = cJSON_IsNumber(e) ? e->valuedouble : -1;
                int r = 0;

                decoder_push_index(d, "fds", (int) c->n_fds);
                if (!cJSON_IsNumber(e))
                        r = decode_fail(d, "expected a file descriptor number, got %s", json_type_name(e));
                else if (!(v >= 0 && v <= INT32_MAX) || v != (double) (int) v)
                        r = decode_fail(d, "%g is not a file descriptor number", v);
                else if (v <= 2)
                        r = decode_fail(d, "%d is standard input, output or error, not a tap", (int) v);
                for (size_t i = 0; r == 0 && i < c->n_fds; i++)
                        if (c->fds[i] == (int) v)
                                r = decode_fail(d, "%d is listed twice", (int) v);
                decoder_pop(d);
                if (r < 0)
                        return r;
                c->fds[c->n_fds++] = (int) v;
        }
        return 0;
}

static int decode_net(Decoder *d, const cJSON *j, const VmConfig *vm, void *target)
{
        static const char *const known[] = { "tap",          "ip",          "mask",         "mac",
                                             "host_mac",     "mtu",         "num_queues",   "queue_size",
                                             "fds",          "offload_tso", "offload_ufo",  "offload_csum",
                                             "id",           "pci_segment", "pci_device_id", NULL };
        static const char *const unsupported[] = { "iommu",           "vhost_user",          "vhost_socket",
                                                   "vhost_mode=Client", "rate_limiter_config", NULL };
        NetConfig *c = target;
        bool ip_set, mask_set;
        uint32_t mtu = 0;
        int r;

        *c = (NetConfig) { .num_queues = 2, .queue_size = 256, .pci_device_id = -1,
                           .offload_tso = true, .offload_ufo = true, .offload_csum = true };
        r = decode_check_members(d, j, known, unsupported);
        if (r < 0)
                return r;
        if ((r = decode_string(d, j, "tap", false, &c->tap)) < 0 ||
            (r = decode_ipv4(d, j, "ip", &c->ip, &ip_set)) < 0 ||
            (r = decode_ipv4(d, j, "mask", &c->mask, &mask_set)) < 0 ||
            (r = decode_mac(d, j, "mac", c->mac, &c->mac_set)) < 0 ||
            (r = decode_mac(d, j, "host_mac", c->host_mac, &c->host_mac_set)) < 0 ||
            (json_present(j, "mtu") &&
             (r = decode_u32(d, j, "mtu", CHV_NET_MIN_MTU, UINT16_MAX, &mtu)) < 0) ||
            (r = decode_u32(d, j, "num_queues", 0, UINT32_MAX, &c->num_queues)) < 0 ||
            (r = decode_queue_size(d, j, 1, &c->queue_size)) < 0 || (r = decode_fds(d, j, c)) < 0 ||
            (r = decode_bool(d, j, "offload_tso", &c->offload_tso)) < 0 ||
            (r = decode_bool(d, j, "offload_ufo", &c->offload_ufo)) < 0 ||
            (r = decode_bool(d, j, "offload_csum", &c->offload_csum)) < 0 ||
            (r = decode_string(d, j, "id", false, &c->id)) < 0 ||
            (r = decode_pci_placement(d, j, &c->pci_device_id)) < 0)
                return r;
        c->mtu = (uint16_t) mtu;

        if (c->tap && !ifname_is_valid(c->tap))
                return decode_fail_at(
                        d, "tap",
                        "\"%s\" is not an interface name (at most 15 bytes, no '/', ':' or spaces)", c->tap);
        if (ip_set && !mask_set)
                return decode_fail_at(d, "ip", "given without a mask");
        if (mask_set && !ip_set)
                return decode_fail_at(d, "mask", "given without an ip");
        c->ip_set = ip_set;
        if (ip_set) {
                uint32_t m = ntohl(c->mask.s_addr);
                char s[INET_ADDRSTRLEN] = "";
                if (m & (~m >> 1))
                        return decode_fail_at(d, "mask", "%s is not a netmask (ones, then zeros)",
                                              inet_ntop(AF_INET, &c->mask, s, sizeof s));
        }

        if (c->num_queues < 2)
                return decode_fail_at(d, "num_queues",
                                      "%" PRIu32 " is fewer than 2 (one receive and one transmit queue)",
                                      c->num_queues);
        if (c->num_queues % 2)
                return decode_fail_at(d, "num_queues",
                                      "%" PRIu32 " is odd: queues come in receive/transmit pairs",
                                      c->num_queues);
        if (c->num_queues / 2 > vm->cpus.boot_vcpus)
                return decode_fail_at(d, "num_queues",
                                      "%" PRIu32 " queue pairs are more than boot_vcpus (%" PRIu32 ")",
                                      c->num_queues / 2, vm->cpus.boot_vcpus);
        if (c->n_fds > 0) {
                if (c->n_fds * 2 != c->num_queues)
                        return decode_fail_at(d, "num_queues",
                                              "%" PRIu32 ", but %zu fds serve %zu queues (one per pair)",
                                              c->num_queues, c->n_fds, c->n_fds * 2);
                if (c->tap)
                        return decode_fail_at(d, "fds", "a tap is given both by name and by fds");
                /* As on a tap that exists already: its addresses are for its owner to set. */
                if (c->ip_set)
                        return decode_fail_at(d, "ip", "cannot be set on taps passed in by fds");
        }
        if (c->num_queues / 2 > CHV_NET_MAX_QUEUE_PAIRS)
                return decode_fail_at(d, "num_queues",
                                      "%" PRIu32 ": more than %u queue pair is not supported by chv yet",
                                      c->num_queues, CHV_NET_MAX_QUEUE_PAIRS);
        if (!c->offload_csum && (c->offload_tso || c->offload_ufo))
                return decode_fail_at(d, "offload_csum",
                                      "off, but offload_tso and offload_ufo depend on it");

        if (!c->mac_set) {
                /* As Cloud Hypervisor does: a locally administered unicast prefix, the rest random. */
                if (getrandom(c->mac, sizeof c->mac, 0) != (ssize_t) sizeof c->mac)
                        return negative_errno();
                c->mac[0] = 0x2e;
        }
        return 0;
}

/*
 * An array of device objects ("disks", "net"). *ret and *ret_n are set even on failure, to what needs
 * freeing.
 */
static int decode_device_array(Decoder *d, const cJSON *root, const char *name, size_t size,
                               int (*decode)(Decoder *d, const cJSON *j, const VmConfig *vm, void *target),
                               const VmConfig *vm, void **ret, size_t *ret_n)
{
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, name), *e;
        int r = 0;

        if (!a || cJSON_IsNull(a))
                return 0;
        if (!cJSON_IsArray(a))
                return decode_fail_at(d, name, "expected an array, got %s", json_type_name(a));
        if (cJSON_GetArraySize(a) == 0)
                return 0;
        *ret = calloc((size_t) cJSON_GetArraySize(a), size);
        if (!*ret)
                return -ENOMEM;
        cJSON_ArrayForEach(e, a) {
                decoder_push_index(d, name, (int) *ret_n);
                if (!cJSON_IsObject(e))
                        r = decode_fail(d, "expected an object, got %s", json_type_name(e));
                else
                        r = decode(d, e, vm, (uint8_t *) *ret + *ret_n * size);
                decoder_pop(d);
                /* Counted even when it failed, so that vm_config_done() frees what it holds. */
                (*ret_n)++;
                if (r < 0)
                        return r;
        }
        return 0;
}

/* A device as vm_config_assign_device_ids() sees it. */
typedef struct DeviceRef {
        const char *section;
        int index; /* in the array section, or -1 */
        char **id;
        int32_t pci_device_id;
        const char *prefix;   /* of the ids counted out ("_disk"), or NULL */
        const char *own_id;   /* the fixed id of a single device ("__rng"), or NULL */
} DeviceRef;

static const char *device_ref_name(const DeviceRef *r, char *buf, size_t len)
{
        if (r->index < 0)
                return r->section;
        snprintf(buf, len, "%s[%d]", r->section, r->index);
        return buf;
}

_printf_(4, 5) static int device_ref_fail(Decoder *d, const DeviceRef *ref, const char *field,
                                          const char *fmt, ...)
{
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = decode_failv_at(d, ref->section, ref->index, field, fmt, ap);
        va_end(ap);
        return r;
}

static bool device_id_taken(const DeviceRef *refs, size_t n, const char *id)
{
        for (size_t i = 0; i < n; i++)
                if (streq_ptr(*refs[i].id, id))
                        return true;
        return false;
}

static int assign_device_ids(Decoder *d, VmConfig *c)
{
        _cleanup_free_ DeviceRef *refs = calloc(c->n_disks + c->n_net + 2, sizeof *refs);
        size_t n = 0;
        unsigned counter = 0;

        if (!refs)
                return -ENOMEM;
        /* Cloud Hypervisor's order of creation: disks, network devices, rng, console. */
        for (size_t i = 0; i < c->n_disks; i++)
                refs[n++] = (DeviceRef) { "disks", (int) i, &c->disks[i].id, c->disks[i].pci_device_id,
                                          "_disk" };
        for (size_t i = 0; i < c->n_net; i++)
                refs[n++] = (DeviceRef) { "net", (int) i, &c->net[i].id, c->net[i].pci_device_id, "_net" };
        refs[n++] = (DeviceRef) { "rng", -1, &c->rng.id, c->rng.pci_device_id, NULL, "__rng" };
        if (c->console.mode != CONSOLE_OFF || c->console.id)
                refs[n++] = (DeviceRef) { "console", -1, &c->console.id, c->console.pci_device_id, NULL,
                                          "__console" };

        for (size_t i = 0; i < n; i++) {
                const char *id = *refs[i].id;
                char other[32];

                if (id && startswith(id, "__") && !streq_ptr(id, refs[i].own_id))
                        return device_ref_fail(
                                d, &refs[i], "id",
                                "\"%s\": ids beginning with \"__\" are reserved for chv's own devices", id);
                for (size_t k = 0; id && k < i; k++)
                        if (streq_ptr(*refs[k].id, id))
                                return device_ref_fail(d, &refs[i], "id", "\"%s\" is already the id of %s",
                                                       id, device_ref_name(&refs[k], other, sizeof other));
                for (size_t k = 0; refs[i].pci_device_id >= 0 && k < i; k++)
                        if (refs[k].pci_device_id == refs[i].pci_device_id)
                                return device_ref_fail(d, &refs[i], "pci_device_id",
                                                       "slot %" PRIi32 " is already taken by %s",
                                                       refs[i].pci_device_id,
                                                       device_ref_name(&refs[k], other, sizeof other));
        }

        for (size_t i = 0; i < n; i++) {
                char name[32];
                if (*refs[i].id)
                        continue;
                if (refs[i].own_id)
                        snprintf(name, sizeof name, "%s", refs[i].own_id);
                else
                        do
                                snprintf(name, sizeof name, "%s%u", refs[i].prefix, counter++);
                        while (device_id_taken(refs, n, name));
                *refs[i].id = strdup(name);
                if (!*refs[i].id)
                        return -ENOMEM;
        }
        return 0;
}

int vm_config_assign_device_ids(VmConfig *c, char *err, size_t errlen)
{
        Decoder d = { .err = err, .errlen = errlen };

        if (errlen)
                err[0] = 0;
        return assign_device_ids(&d, c);
}

/* A tap passed in serves one network device only. */
static int check_net_fds(Decoder *d, const VmConfig *c)
{
        for (size_t i = 0; i < c->n_net; i++)
                for (size_t f = 0; f < c->net[i].n_fds; f++)
                        for (size_t k = 0; k < i; k++)
                                for (size_t g = 0; g < c->net[k].n_fds; g++) {
                                        int r;
                                        if (c->net[k].fds[g] != c->net[i].fds[f])
                                                continue;
                                        decoder_push_index(d, "net", (int) i);
                                        decoder_push_index(d, "fds", (int) f);
                                        r = decode_fail(d, "%d is already a tap of net[%zu]",
                                                        c->net[i].fds[f], k);
                                        decoder_pop(d);
                                        decoder_pop(d);
                                        return r;
                                }
        return 0;
}

int vm_config_from_json(const cJSON *root, VmConfig *ret, char *err, size_t errlen)
{
        static const char *const known[] = { "cpus", "memory", "payload", "serial", "console",
                                             "disks", "net", "rng", NULL };
        static const char *const unsupported[] = {
                "rate_limit_groups", "balloon", "fs", "pmem", "debug_console", "devices", "user_devices",
                "vdpa", "vsock", "pvpanic", "iommu", "sgx_epc", "numa", "watchdog", "platform", "tpm",
                "preserved_fds", "landlock_enable", "landlock_rules", "net_fds", NULL,
        };
        Decoder d = { .err = err, .errlen = errlen };
        VmConfig c;
        const cJSON *j;
        void *items = NULL;
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
                { "serial", decode_serial, &c.serial },
                { "console", decode_console, &c.console },
                { "rng", decode_rng, &c.rng },
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
        /* After cpus: the queues of a device are checked against boot_vcpus. */
        r = decode_device_array(&d, root, "disks", sizeof(DiskConfig), decode_disk, &c, &items, &c.n_disks);
        c.disks = items;
        if (r < 0)
                goto fail;
        items = NULL;
        r = decode_device_array(&d, root, "net", sizeof(NetConfig), decode_net, &c, &items, &c.n_net);
        c.net = items;
        if (r < 0)
                goto fail;
        r = check_net_fds(&d, &c);
        if (r < 0)
                goto fail;
        if (!c.payload.kernel) {
                r = decode_fail(&d, "payload.kernel: a kernel is required");
                goto fail;
        }
        if (!c.rng.src) {
                c.rng.src = strdup(CHV_DEFAULT_RNG_SOURCE);
                if (!c.rng.src) {
                        r = -ENOMEM;
                        goto fail;
                }
        }
        r = assign_device_ids(&d, &c);
        if (r < 0)
                goto fail;
        *ret = c;
        return 0;
fail:
        vm_config_done(&c);
        return r;
}

static void add_pci_placement(cJSON *o, const char *id, int32_t pci_device_id, bool with_segment)
{
        if (id)
                cJSON_AddStringToObject(o, "id", id);
        if (with_segment)
                cJSON_AddNumberToObject(o, "pci_segment", 0);
        if (pci_device_id >= 0)
                cJSON_AddNumberToObject(o, "pci_device_id", pci_device_id);
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
        add_pci_placement(o, c->id, c->pci_device_id, false);
        return o;
}

static cJSON *disk_to_json(const DiskConfig *c)
{
        cJSON *o = cJSON_CreateObject();
        if (!o)
                return NULL;
        if (c->path)
                cJSON_AddStringToObject(o, "path", c->path);
        cJSON_AddBoolToObject(o, "readonly", c->readonly);
        cJSON_AddBoolToObject(o, "direct", c->direct);
        cJSON_AddNumberToObject(o, "num_queues", c->num_queues);
        cJSON_AddNumberToObject(o, "queue_size", c->queue_size);
        if (c->serial)
                cJSON_AddStringToObject(o, "serial", c->serial);
        cJSON_AddStringToObject(o, "image_type", "Raw");
        add_pci_placement(o, c->id, c->pci_device_id, true);
        return o;
}

static void add_mac(cJSON *o, const char *name, const uint8_t a[6])
{
        char s[18];

        snprintf(s, sizeof s, "%02x:%02x:%02x:%02x:%02x:%02x", a[0], a[1], a[2], a[3], a[4], a[5]);
        cJSON_AddStringToObject(o, name, s);
}

static void add_ipv4(cJSON *o, const char *name, struct in_addr a)
{
        char s[INET_ADDRSTRLEN];

        if (inet_ntop(AF_INET, &a, s, sizeof s))
                cJSON_AddStringToObject(o, name, s);
}

static cJSON *net_to_json(const NetConfig *c)
{
        static const uint8_t zero[6];
        cJSON *o = cJSON_CreateObject(), *fds;

        if (!o)
                return NULL;
        if (c->tap)
                cJSON_AddStringToObject(o, "tap", c->tap);
        if (c->ip_set) {
                add_ipv4(o, "ip", c->ip);
                add_ipv4(o, "mask", c->mask);
        }
        /* A MAC chosen at random is kept, as Cloud Hypervisor reports it: the guest sees it again. */
        if (c->mac_set || memcmp(c->mac, zero, sizeof zero) != 0)
                add_mac(o, "mac", c->mac);
        if (c->host_mac_set)
                add_mac(o, "host_mac", c->host_mac);
        if (c->mtu)
                cJSON_AddNumberToObject(o, "mtu", c->mtu);
        cJSON_AddNumberToObject(o, "num_queues", c->num_queues);
        cJSON_AddNumberToObject(o, "queue_size", c->queue_size);
        if (c->n_fds) {
                fds = cJSON_AddArrayToObject(o, "fds");
                for (size_t i = 0; fds && i < c->n_fds; i++)
                        cJSON_AddItemToArray(fds, cJSON_CreateNumber(c->fds[i]));
        }
        cJSON_AddBoolToObject(o, "offload_tso", c->offload_tso);
        cJSON_AddBoolToObject(o, "offload_ufo", c->offload_ufo);
        cJSON_AddBoolToObject(o, "offload_csum", c->offload_csum);
        add_pci_placement(o, c->id, c->pci_device_id, true);
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
        if (c->n_disks) {
                o = cJSON_AddArrayToObject(root, "disks");
                for (size_t i = 0; o && i < c->n_disks; i++)
                        cJSON_AddItemToArray(o, disk_to_json(&c->disks[i]));
        }
        if (c->n_net) {
                o = cJSON_AddArrayToObject(root, "net");
                for (size_t i = 0; o && i < c->n_net; i++)
                        cJSON_AddItemToArray(o, net_to_json(&c->net[i]));
        }
        o = cJSON_AddObjectToObject(root, "rng");
        if (c->rng.src)
                cJSON_AddStringToObject(o, "src", c->rng.src);
        add_pci_placement(o, c->rng.id, c->rng.pci_device_id, false);
        return root;
}
