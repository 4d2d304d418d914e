/* SPDX-License-Identifier: Apache-2.0 */

#include "errbuf.h"
#include "parse-util.h"
#include "vm-config-cli.h"
#include "vm-config.h"


static cJSON *section(cJSON *root, const char *name)
{
        cJSON *o = cJSON_GetObjectItemCaseSensitive(root, name);
        if (o && cJSON_IsObject(o))
                return o;
        cJSON_DeleteItemFromObjectCaseSensitive(root, name);
        return cJSON_AddObjectToObject(root, name);
}

static int set_number(cJSON *obj, const char *name, double v)
{
        cJSON_DeleteItemFromObjectCaseSensitive(obj, name);
        return cJSON_AddNumberToObject(obj, name, v) ? 0 : -ENOMEM;
}

static int set_bool(cJSON *obj, const char *name, bool v)
{
        cJSON_DeleteItemFromObjectCaseSensitive(obj, name);
        return cJSON_AddBoolToObject(obj, name, v) ? 0 : -ENOMEM;
}

static int set_string(cJSON *obj, const char *name, const char *v)
{
        cJSON_DeleteItemFromObjectCaseSensitive(obj, name);
        return cJSON_AddStringToObject(obj, name, v) ? 0 : -ENOMEM;
}

static int parse_options(const char *option, const char *value, const char *const *known, OptionList *ret,
                         char *err, size_t errlen)
{
        const char *bad;
        int r;

        r = option_list_parse(value, ret);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return errbuf_fail(-EINVAL, err, errlen, "--%s: cannot parse \"%s\": unbalanced brackets or quotes", option,
                                value);
        for (size_t i = 0; i < ret->n; i++)
                if (!ret->pairs[i].value) {
                        r = errbuf_fail(-EINVAL, err, errlen, "--%s: \"%s\" in \"%s\" is not of the form key=value", option,
                                     ret->pairs[i].key, value);
                        option_list_done(ret);
                        return r;
                }
        bad = option_list_unknown_key(ret, known);
        if (bad) {
                r = errbuf_fail(-EINVAL, err, errlen, "--%s: unknown key \"%s\" in \"%s\"", option, bad, value);
                option_list_done(ret);
                return r;
        }
        return 0;
}

int cli_cpus_to_json(const char *value, cJSON *root, char *err, size_t errlen)
{
        static const char *const known[] = { "boot", "max", "max_phys_bits", NULL };
        static const struct {
                const char *key;
                const char *field;
        } map[] = { { "boot", "boot_vcpus" }, { "max", "max_vcpus" }, { "max_phys_bits", "max_phys_bits" } };
        _cleanup_(option_list_done) OptionList l = {};
        cJSON *cpus;
        int r;

        r = parse_options("cpus", value, known, &l, err, errlen);
        if (r < 0)
                return r;
        cpus = section(root, "cpus");
        if (!cpus)
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(map); i++) {
                const char *v = option_list_get(&l, map[i].key, NULL);
                uint32_t n;
                if (!v)
                        continue;
                if (parse_u32(v, &n) < 0)
                        return errbuf_fail(-EINVAL, err, errlen, "--cpus: %s=\"%s\" is not a number", map[i].key, v);
                r = set_number(cpus, map[i].field, n);
                if (r < 0)
                        return r;
        }
        return 0;
}

int cli_memory_to_json(const char *value, cJSON *root, char *err, size_t errlen)
{
        static const char *const known[] = { "size", "shared", "hugepages", "prefault", "mergeable", "thp",
                                             NULL };
        _cleanup_(option_list_done) OptionList l = {};
        cJSON *mem;
        const char *v;
        int r;

        r = parse_options("memory", value, known, &l, err, errlen);
        if (r < 0)
                return r;
        mem = section(root, "memory");
        if (!mem)
                return -ENOMEM;
        v = option_list_get(&l, "size", NULL);
        if (v) {
                uint64_t size;
                if (parse_size(v, &size) < 0)
                        return errbuf_fail(-EINVAL, err, errlen, "--memory: size=\"%s\" is not a size (e.g. 512M, 2G)", v);
                r = set_number(mem, "size", (double) size);
                if (r < 0)
                        return r;
        }
        for (const char *const *k = known + 1; *k; k++) {
                bool b;
                v = option_list_get(&l, *k, NULL);
                if (!v)
                        continue;
                if (parse_bool(v, &b) < 0)
                        return errbuf_fail(-EINVAL, err, errlen, "--memory: %s=\"%s\" is not on or off", *k, v);
                r = set_bool(mem, *k, b);
                if (r < 0)
                        return r;
        }
        return 0;
}

int cli_console_to_json(const char *option, const char *value, cJSON *root, char *err, size_t errlen)
{
        static const struct {
                const char *word;
                const char *mode;
        } words[] = { { "off", "Off" }, { "null", "Null" }, { "tty", "Tty" }, { "pty", "Pty" } };
        _cleanup_(option_list_done) OptionList l = {};
        cJSON *c;
        int r;

        c = section(root, option);
        if (!c)
                return -ENOMEM;
        cJSON_DeleteItemFromObjectCaseSensitive(c, "file");
        cJSON_DeleteItemFromObjectCaseSensitive(c, "socket");

        r = option_list_parse(value, &l);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || l.n == 0)
                return errbuf_fail(-EINVAL, err, errlen, "--%s: cannot parse \"%s\"", option, value);

        /* The first piece is the mode: off|null|tty|pty, or file=PATH / socket=PATH. */
        const OptionPair *p = &l.pairs[0];
        if (!p->value) {
                const char *mode = NULL;
                for (size_t i = 0; i < ELEMENTSOF(words); i++)
                        if (streq(words[i].word, p->key))
                                mode = words[i].mode;
                if (!mode)
                        return errbuf_fail(-EINVAL, err, errlen,
                                        "--%s: \"%s\" is not one of off, null, tty, pty, file=PATH, socket=PATH",
                                        option, p->key);
                r = set_string(c, "mode", mode);
        } else if (streq(p->key, "file") || streq(p->key, "socket")) {
                if (p->value[0] == 0)
                        return errbuf_fail(-EINVAL, err, errlen, "--%s: %s= needs a path", option, p->key);
                r = set_string(c, "mode", streq(p->key, "file") ? "File" : "Socket");
                if (r >= 0)
                        r = set_string(c, p->key, p->value);
        } else
                return errbuf_fail(-EINVAL, err, errlen, "--%s: unknown key \"%s\" in \"%s\"", option, p->key, value);
        if (r < 0)
                return r;

        for (size_t i = 1; i < l.n; i++) {
                bool b;
                if (!streq(l.pairs[i].key, "iommu") || !l.pairs[i].value)
                        return errbuf_fail(-EINVAL, err, errlen, "--%s: unknown key \"%s\" in \"%s\"", option, l.pairs[i].key,
                                        value);
                if (parse_bool(l.pairs[i].value, &b) < 0)
                        return errbuf_fail(-EINVAL, err, errlen, "--%s: iommu=\"%s\" is not on or off", option,
                                        l.pairs[i].value);
                r = set_bool(c, "iommu", b);
                if (r < 0)
                        return r;
        }
        return 0;
}

int cli_payload_to_json(const char *option, const char *value, cJSON *root, char *err, size_t errlen)
{
        cJSON *p = section(root, "payload");
        if (!p)
                return -ENOMEM;
        if (!streq(option, "cmdline") && value[0] == 0)
                return errbuf_fail(-EINVAL, err, errlen, "--%s: needs a path", option);
        return set_string(p, option, value);
}
