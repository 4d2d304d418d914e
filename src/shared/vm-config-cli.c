/* SPDX-License-Identifier: Apache-2.0 */
#include <strings.h>

#include "errbuf.h"
#include "parse-util.h"
#include "vm-config-cli.h"
#include "vm-config.h"

/* How the value of a key is written into the JSON tree. */
typedef enum CliType {
        CLI_STRING,   /* as given */
        CLI_BOOL,     /* on|off, true|false, yes|no, 1|0 */
        CLI_U32,
        CLI_U64,
        CLI_SIZE,     /* 512M, 2G */
        CLI_U32_LIST, /* 3, [3,4], [3-5] */
        CLI_WORD,     /* one of words, written as its JSON name */
} CliType;

typedef struct CliWord {
        const char *word;
        const char *json;
} CliWord;

typedef struct CliKey {
        const char *key;      /* on the command line */
        const char *field;    /* in the JSON object; each '.' descends into an object, made as needed */
        CliType type;
        const CliWord *words; /* CLI_WORD: ends with { NULL } */
} CliKey;

/* The keys of an option: a NULL-terminated list of tables, each ending with { NULL }. */
typedef const CliKey *const CliKeys[];

static const CliKey cpus_keys[] = {
        { "boot", "boot_vcpus", CLI_U32 },
        { "max", "max_vcpus", CLI_U32 },
        { "max_phys_bits", "max_phys_bits", CLI_U32 },
        {},
};

static const CliKey memory_keys[] = {
        { "size", "size", CLI_SIZE },
        { "shared", "shared", CLI_BOOL },
        { "hugepages", "hugepages", CLI_BOOL },
        { "prefault", "prefault", CLI_BOOL },
        { "mergeable", "mergeable", CLI_BOOL },
        { "thp", "thp", CLI_BOOL },
        {},
};

/* What every PCI device option takes. */
static const CliKey pci_keys[] = {
        { "id", "id", CLI_STRING },
        { "iommu", "iommu", CLI_BOOL },
        { "pci_segment", "pci_segment", CLI_U32 },
        { "pci_device_id", "pci_device_id", CLI_U32 },
        {},
};

/* Token buckets, which chv does not implement: they become rate_limiter_config for the decoder to refuse. */
static const CliKey rate_limiter_keys[] = {
        { "bw_size", "rate_limiter_config.bandwidth.size", CLI_U64 },
        { "bw_one_time_burst", "rate_limiter_config.bandwidth.one_time_burst", CLI_U64 },
        { "bw_refill_time", "rate_limiter_config.bandwidth.refill_time", CLI_U64 },
        { "ops_size", "rate_limiter_config.ops.size", CLI_U64 },
        { "ops_one_time_burst", "rate_limiter_config.ops.one_time_burst", CLI_U64 },
        { "ops_refill_time", "rate_limiter_config.ops.refill_time", CLI_U64 },
        {},
};

static const CliWord image_types[] = {
        { "raw", "Raw" },   { "qcow2", "Qcow2" },   { "vhd", "FixedVhd" },
        { "vhdx", "Vhdx" }, { "vmdk", "FlatVmdk" }, {},
};

static const CliWord lock_granularities[] = { { "byte-range", "ByteRange" }, { "full", "Full" }, {} };

static const CliKey disk_own_keys[] = {
        { "path", "path", CLI_STRING },
        { "readonly", "readonly", CLI_BOOL },
        { "direct", "direct", CLI_BOOL },
        { "num_queues", "num_queues", CLI_U32 },
        { "queue_size", "queue_size", CLI_U32 },
        { "vhost_user", "vhost_user", CLI_BOOL },
        { "socket", "vhost_socket", CLI_STRING },
        { "serial", "serial", CLI_STRING },
        { "rate_limit_group", "rate_limit_group", CLI_STRING },
        { "queue_affinity", "queue_affinity", CLI_STRING },
        { "backing_files", "backing_files", CLI_BOOL },
        { "sparse", "sparse", CLI_BOOL },
        { "image_type", "image_type", CLI_WORD, image_types },
        { "lock_granularity", "lock_granularity", CLI_WORD, lock_granularities },
        { "_disable_io_uring", "disable_io_uring", CLI_BOOL },
        { "_disable_aio", "disable_aio", CLI_BOOL },
        {},
};

static const CliWord vhost_modes[] = { { "client", "Client" }, { "server", "Server" }, {} };

static const CliKey net_own_keys[] = {
        { "tap", "tap", CLI_STRING },
        { "ip", "ip", CLI_STRING },
        { "mask", "mask", CLI_STRING },
        { "mac", "mac", CLI_STRING },
        { "host_mac", "host_mac", CLI_STRING },
        { "mtu", "mtu", CLI_U32 },
        { "num_queues", "num_queues", CLI_U32 },
        { "queue_size", "queue_size", CLI_U32 },
        { "fd", "fds", CLI_U32_LIST },
        { "offload_tso", "offload_tso", CLI_BOOL },
        { "offload_ufo", "offload_ufo", CLI_BOOL },
        { "offload_csum", "offload_csum", CLI_BOOL },
        { "vhost_user", "vhost_user", CLI_BOOL },
        { "socket", "vhost_socket", CLI_STRING },
        { "vhost_mode", "vhost_mode", CLI_WORD, vhost_modes },
        {},
};

static const CliKey rng_own_keys[] = { { "src", "src", CLI_STRING }, {} };

static const CliKey serial_own_keys[] = { { "iommu", "iommu", CLI_BOOL }, {} };

static CliKeys cpus_tables = { cpus_keys, NULL };
static CliKeys memory_tables = { memory_keys, NULL };
static CliKeys disk_tables = { disk_own_keys, rate_limiter_keys, pci_keys, NULL };
static CliKeys net_tables = { net_own_keys, rate_limiter_keys, pci_keys, NULL };
static CliKeys rng_tables = { rng_own_keys, pci_keys, NULL };
static CliKeys serial_tables = { serial_own_keys, NULL };
static CliKeys console_tables = { pci_keys, NULL };

static const CliKey *cli_key_find(const CliKey *const *tables, const char *key)
{
        for (; *tables; tables++)
                for (const CliKey *k = *tables; k->key; k++)
                        if (streq(k->key, key))
                                return k;
        return NULL;
}

/* The member name of obj as an object, replacing whatever else is there. */
static cJSON *section(cJSON *obj, const char *name)
{
        cJSON *o = cJSON_GetObjectItemCaseSensitive(obj, name);
        if (o && cJSON_IsObject(o))
                return o;
        cJSON_DeleteItemFromObjectCaseSensitive(obj, name);
        return cJSON_AddObjectToObject(obj, name);
}

/* Sets the member at path ("a.b.c") of obj to item, which it takes. */
static int set_member(cJSON *obj, const char *path, cJSON *item)
{
        _cleanup_free_ char *copy = strdup(path);
        char *name = copy, *dot;

        if (!copy || !item)
                goto nomem;
        while ((dot = strchr(name, '.'))) {
                *dot = 0;
                obj = section(obj, name);
                if (!obj)
                        goto nomem;
                name = dot + 1;
        }
        cJSON_DeleteItemFromObjectCaseSensitive(obj, name);
        if (!cJSON_AddItemToObject(obj, name, item))
                goto nomem;
        return 0;
nomem:
        cJSON_Delete(item);
        return -ENOMEM;
}

static cJSON *u32_list_to_json(const uint32_t *v, size_t n)
{
        cJSON *a = cJSON_CreateArray();

        for (size_t i = 0; a && i < n; i++)
                if (!cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]))) {
                        cJSON_Delete(a);
                        return NULL;
                }
        return a;
}

/* Converts v as k says; on a value that does not parse, says which and why. */
static int cli_value_to_json(const char *option, const CliKey *k, const char *v, cJSON **ret, char *err,
                             size_t errlen)
{
        _cleanup_free_ uint32_t *list = NULL;
        const char *reason = NULL;
        size_t n;
        uint64_t u64;
        uint32_t u32;
        bool b;

        switch (k->type) {
        case CLI_STRING:
                *ret = cJSON_CreateString(v);
                break;
        case CLI_BOOL:
                if (parse_bool(v, &b) < 0)
                        reason = "is not on or off";
                else
                        *ret = cJSON_CreateBool(b);
                break;
        case CLI_U32:
                if (parse_u32(v, &u32) < 0)
                        reason = "is not a number";
                else
                        *ret = cJSON_CreateNumber(u32);
                break;
        case CLI_U64:
                if (parse_u64(v, &u64) < 0)
                        reason = "is not a number";
                else
                        *ret = cJSON_CreateNumber((double) u64);
                break;
        case CLI_SIZE:
                if (parse_size(v, &u64) < 0)
                        reason = "is not a size (e.g. 512M, 2G)";
                else
                        *ret = cJSON_CreateNumber((double) u64);
                break;
        case CLI_U32_LIST:
                if (parse_u32_list(v, &list, &n) == -ENOMEM)
                        return -ENOMEM;
                if (!list)
                        reason = "is not a list of numbers (e.g. [3,4])";
                else
                        *ret = u32_list_to_json(list, n);
                break;
        case CLI_WORD: {
                char words[128] = "";
                size_t o = 0;
                for (const CliWord *w = k->words; w->word; w++) {
                        if (strcasecmp(w->word, v) == 0) {
                                *ret = cJSON_CreateString(w->json);
                                return *ret ? 0 : -ENOMEM;
                        }
                        if (o < sizeof words)
                                o += (size_t) snprintf(words + o, sizeof words - o, "%s%s", o ? ", " : "",
                                                       w->word);
                }
                return errbuf_fail(-EINVAL, err, errlen, "--%s: %s=\"%s\" is not one of %s", option, k->key,
                                   v, words);
        }
        }
        if (reason)
                return errbuf_fail(-EINVAL, err, errlen, "--%s: %s=\"%s\" %s", option, k->key, v, reason);
        return *ret ? 0 : -ENOMEM;
}

static int parse_option_list(const char *option, const char *value, OptionList *ret, char *err,
                             size_t errlen)
{
        int r = option_list_parse(value, ret);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return errbuf_fail(-EINVAL, err, errlen,
                                   "--%s: cannot parse \"%s\": unbalanced brackets or quotes", option,
                                   value);
        return 0;
}

/*
 * Sets the members of obj from the pieces of l from start on, in order, so that a key given twice
 * takes its last value. Every piece is checked first: key=value with a key the option knows.
 */
static int pairs_to_json(const char *option, const char *value, const OptionList *l, size_t start,
                         const CliKey *const *tables, cJSON *obj, char *err, size_t errlen)
{
        int r;

        for (size_t i = start; i < l->n; i++) {
                if (!l->pairs[i].value)
                        return errbuf_fail(-EINVAL, err, errlen,
                                           "--%s: \"%s\" in \"%s\" is not of the form key=value", option,
                                           l->pairs[i].key, value);
                if (!cli_key_find(tables, l->pairs[i].key))
                        return errbuf_fail(-EINVAL, err, errlen, "--%s: unknown key \"%s\" in \"%s\"",
                                           option, l->pairs[i].key, value);
        }
        for (size_t i = start; i < l->n; i++) {
                const CliKey *k = cli_key_find(tables, l->pairs[i].key);
                cJSON *item = NULL;

                r = cli_value_to_json(option, k, l->pairs[i].value, &item, err, errlen);
                if (r < 0)
                        return r;
                r = set_member(obj, k->field, item);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The keys of value into the object name of root, merged with what an earlier option put there. */
static int option_to_section(const char *option, const char *value, const CliKey *const *tables, cJSON *root,
                             const char *name, char *err, size_t errlen)
{
        _cleanup_(option_list_done) OptionList l = {};
        cJSON *obj;
        int r;

        r = parse_option_list(option, value, &l, err, errlen);
        if (r < 0)
                return r;
        obj = section(root, name);
        if (!obj)
                return -ENOMEM;
        return pairs_to_json(option, value, &l, 0, tables, obj, err, errlen);
}

/* The keys of value as one more element of the array name of root: one device per option. */
static int option_to_element(const char *option, const char *value, const CliKey *const *tables, cJSON *root,
                             const char *name, char *err, size_t errlen)
{
        _cleanup_(option_list_done) OptionList l = {};
        cJSON *array, *obj;
        int r;

        r = parse_option_list(option, value, &l, err, errlen);
        if (r < 0)
                return r;
        obj = cJSON_CreateObject();
        if (!obj)
                return -ENOMEM;
        r = pairs_to_json(option, value, &l, 0, tables, obj, err, errlen);
        if (r < 0) {
                cJSON_Delete(obj);
                return r;
        }
        array = cJSON_GetObjectItemCaseSensitive(root, name);
        if (!cJSON_IsArray(array)) {
                cJSON_DeleteItemFromObjectCaseSensitive(root, name);
                array = cJSON_AddArrayToObject(root, name);
        }
        if (!array || !cJSON_AddItemToArray(array, obj)) {
                cJSON_Delete(obj);
                return -ENOMEM;
        }
        return 0;
}

int cli_cpus_to_json(const char *value, cJSON *root, char *err, size_t errlen)
{
        return option_to_section("cpus", value, cpus_tables, root, "cpus", err, errlen);
}

int cli_memory_to_json(const char *value, cJSON *root, char *err, size_t errlen)
{
        return option_to_section("memory", value, memory_tables, root, "memory", err, errlen);
}

int cli_disk_to_json(const char *value, cJSON *root, char *err, size_t errlen)
{
        return option_to_element("disk", value, disk_tables, root, "disks", err, errlen);
}

int cli_net_to_json(const char *value, cJSON *root, char *err, size_t errlen)
{
        return option_to_element("net", value, net_tables, root, "net", err, errlen);
}

int cli_rng_to_json(const char *value, cJSON *root, char *err, size_t errlen)
{
        return option_to_section("rng", value, rng_tables, root, "rng", err, errlen);
}

int cli_console_to_json(const char *option, const char *value, cJSON *root, char *err, size_t errlen)
{
        static const CliWord modes[] = { { "off", "Off" }, { "null", "Null" }, { "tty", "Tty" },
                                         { "pty", "Pty" } };
        _cleanup_(option_list_done) OptionList l = {};
        const char *mode = NULL;
        const OptionPair *p;
        cJSON *c;
        int r;

        r = parse_option_list(option, value, &l, err, errlen);
        if (r < 0)
                return r;
        if (l.n == 0)
                return errbuf_fail(-EINVAL, err, errlen,
                                   "--%s: needs one of off, null, tty, pty, file=PATH, socket=PATH", option);

        /* A later value replaces the earlier one entirely. */
        cJSON_DeleteItemFromObjectCaseSensitive(root, option);
        c = cJSON_AddObjectToObject(root, option);
        if (!c)
                return -ENOMEM;

        /* The first piece is the mode: off|null|tty|pty, or file=PATH / socket=PATH. */
        p = &l.pairs[0];
        if (!p->value) {
                for (size_t i = 0; i < ELEMENTSOF(modes); i++)
                        if (streq(modes[i].word, p->key))
                                mode = modes[i].json;
                if (!mode)
                        return errbuf_fail(
                                -EINVAL, err, errlen,
                                "--%s: \"%s\" is not one of off, null, tty, pty, file=PATH, socket=PATH",
                                option, p->key);
                r = set_member(c, "mode", cJSON_CreateString(mode));
        } else if (streq(p->key, "file") || streq(p->key, "socket")) {
                if (p->value[0] == 0)
                        return errbuf_fail(-EINVAL, err, errlen, "--%s: %s= needs a path", option, p->key);
                r = set_member(c, "mode", cJSON_CreateString(streq(p->key, "file") ? "File" : "Socket"));
                if (r >= 0)
                        r = set_member(c, p->key, cJSON_CreateString(p->value));
        } else
                return errbuf_fail(-EINVAL, err, errlen, "--%s: unknown key \"%s\" in \"%s\"", option,
                                   p->key, value);
        if (r < 0)
                return r;

        return pairs_to_json(option, value, &l, 1, streq(option, "console") ? console_tables : serial_tables,
                             c, err, errlen);
}

int cli_payload_to_json(const char *option, const char *value, cJSON *root, char *err, size_t errlen)
{
        cJSON *p = section(root, "payload");
        if (!p)
                return -ENOMEM;
        if (!streq(option, "cmdline") && value[0] == 0)
                return errbuf_fail(-EINVAL, err, errlen, "--%s: needs a path", option);
        return set_member(p, option, cJSON_CreateString(value));
}
