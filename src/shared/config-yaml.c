/* SPDX-License-Identifier: Apache-2.0 */
#include <dlfcn.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <yaml.h>

#include "config-yaml.h"
#include "errbuf.h"

#define LIBYAML_SONAME "libyaml-0.so.2"
#define YAML_MAX_DEPTH 32u
#define YAML_MAX_KEYS 1024u /* per mapping; VmConfig's largest object has a few dozen */

/* The five libyaml calls the converter makes, resolved once with dlopen(). */
typedef struct YamlApi {
        int (*parser_initialize)(yaml_parser_t *parser);
        void (*parser_delete)(yaml_parser_t *parser);
        void (*parser_set_input_string)(yaml_parser_t *parser, const unsigned char *input, size_t size);
        int (*parser_parse)(yaml_parser_t *parser, yaml_event_t *event);
        void (*event_delete)(yaml_event_t *event);
} YamlApi;

static YamlApi yaml_api;
static char yaml_api_error[256];
static pthread_once_t yaml_api_once = PTHREAD_ONCE_INIT;

static void yaml_api_load(void)
{
        static const struct {
                const char *name;
                size_t offset;
        } symbols[] = {
                { "yaml_parser_initialize", offsetof(YamlApi, parser_initialize) },
                { "yaml_parser_delete", offsetof(YamlApi, parser_delete) },
                { "yaml_parser_set_input_string", offsetof(YamlApi, parser_set_input_string) },
                { "yaml_parser_parse", offsetof(YamlApi, parser_parse) },
                { "yaml_event_delete", offsetof(YamlApi, event_delete) },
        };
        YamlApi api;
        void *dl;

        dl = dlopen(LIBYAML_SONAME, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
        if (!dl) {
                snprintf(yaml_api_error, sizeof yaml_api_error, "reading YAML needs libyaml: %s", dlerror());
                return;
        }
        for (size_t i = 0; i < ELEMENTSOF(symbols); i++) {
                void *f = dlsym(dl, symbols[i].name);
                if (!f) {
                        snprintf(yaml_api_error, sizeof yaml_api_error, "%s lacks %s", LIBYAML_SONAME,
                                 symbols[i].name);
                        (void) dlclose(dl);
                        return;
                }
                memcpy((char *) &api + symbols[i].offset, &f, sizeof f);
        }
        yaml_api = api;
}

typedef struct Frame {
        cJSON *node;   /* an object or an array */
        char *key;     /* object: the key whose value comes next, NULL while a key is expected */
        unsigned n_keys;
} Frame;

typedef struct Converter {
        Frame stack[YAML_MAX_DEPTH];
        unsigned depth;
        cJSON *root;
        unsigned documents;
        char *err;
        size_t errlen;
} Converter;

_printf_(3, 4) static int fail_at(Converter *c, const yaml_mark_t *mark, const char *fmt, ...)
{
        char reason[256];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(reason, sizeof reason, fmt, ap);
        va_end(ap);
        return errbuf_fail(-EINVAL, c->err, c->errlen, "line %zu, column %zu: %s", mark->line + 1,
                           mark->column + 1, reason);
}

static Frame *top(Converter *c)
{
        return c->depth ? &c->stack[c->depth - 1] : NULL;
}

static bool expects_key(Converter *c)
{
        Frame *f = top(c);
        return f && cJSON_IsObject(f->node) && !f->key;
}

/* Hands node to its parent (or makes it the root); node is freed on failure. */
static int attach(Converter *c, cJSON *node)
{
        Frame *f = top(c);

        if (!f) {
                c->root = node;
                return 0;
        }
        if (cJSON_IsArray(f->node)) {
                if (!cJSON_AddItemToArray(f->node, node)) {
                        cJSON_Delete(node);
                        return -ENOMEM;
                }
                return 0;
        }
        if (!cJSON_AddItemToObject(f->node, f->key, node)) {
                cJSON_Delete(node);
                return -ENOMEM;
        }
        free(f->key);
        f->key = NULL;
        return 0;
}

static int take_key(Converter *c, const yaml_event_t *e)
{
        Frame *f = top(c);
        const char *key = (const char *) e->data.scalar.value;

        if (cJSON_GetObjectItemCaseSensitive(f->node, key))
                return fail_at(c, &e->start_mark, "duplicate key \"%s\"", key);
        if (++f->n_keys > YAML_MAX_KEYS)
                return fail_at(c, &e->start_mark, "more than %u keys in one mapping", YAML_MAX_KEYS);
        f->key = strdup(key);
        return f->key ? 0 : -ENOMEM;
}

static bool is_null(const char *s)
{
        return streq(s, "") || streq(s, "~") || streq(s, "null") || streq(s, "Null") || streq(s, "NULL");
}

/* 1 true, 0 false, -1 not a boolean. */
static int to_bool(const char *s)
{
        if (streq(s, "true") || streq(s, "True") || streq(s, "TRUE"))
                return 1;
        if (streq(s, "false") || streq(s, "False") || streq(s, "FALSE"))
                return 0;
        return -1;
}

static size_t digits(const char *s, const char *set)
{
        return strspn(s, set);
}

static bool is_decimal_integer(const char *s)
{
        if (*s == '+' || *s == '-')
                s++;
        return *s && s[digits(s, "0123456789")] == 0;
}

/* [-+]? ( . [0-9]+ | [0-9]+ ( . [0-9]* )? ) ( [eE] [-+]? [0-9]+ )? */
static bool is_float(const char *s)
{
        size_t n_int, n_frac = 0, n_exp;

        if (*s == '+' || *s == '-')
                s++;
        n_int = digits(s, "0123456789");
        s += n_int;
        if (*s == '.') {
                n_frac = digits(++s, "0123456789");
                s += n_frac;
        }
        if (n_int + n_frac == 0)
                return false;
        if (*s == 'e' || *s == 'E') {
                if (*++s == '+' || *s == '-')
                        s++;
                n_exp = digits(s, "0123456789");
                if (n_exp == 0)
                        return false;
                s += n_exp;
        }
        return *s == 0;
}

static bool is_special_float(const char *s)
{
        if (*s == '+' || *s == '-')
                s++;
        return streq(s, ".inf") || streq(s, ".Inf") || streq(s, ".INF") || streq(s, ".nan") ||
               streq(s, ".NaN") || streq(s, ".NAN");
}

/*
 * Returns 1 with the value when s is a number of the core schema (an integer only, if integer), 0 when
 * it is not, -ERANGE when it is one that JSON cannot hold (infinite, not a number, too large).
 */
static int to_number(const char *s, bool integer, double *ret)
{
        const char *hex = startswith(s, "0x"), *oct = startswith(s, "0o");
        char *end;

        if ((hex && *hex && hex[digits(hex, "0123456789abcdefABCDEF")] == 0) ||
            (oct && *oct && oct[digits(oct, "01234567")] == 0)) {
                unsigned long long v;
                errno = 0;
                v = strtoull(hex ?: oct, &end, hex ? 16 : 8);
                if (errno == ERANGE)
                        return -ERANGE;
                *ret = (double) v;
                return 1;
        }
        if (is_special_float(s))
                return integer ? 0 : -ERANGE;
        if (!(integer ? is_decimal_integer(s) : is_decimal_integer(s) || is_float(s)))
                return 0;
        *ret = strtod(s, &end);
        return isfinite(*ret) ? 1 : -ERANGE;
}

static int scalar_to_json(Converter *c, const yaml_event_t *e, cJSON **ret)
{
        const char *v = (const char *) e->data.scalar.value;
        const char *tag = (const char *) e->data.scalar.tag;
        bool plain = e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        double d;
        int r;

        /* The non-specific tag "!" and quoting both mean a string. */
        if ((tag && streq(tag, "!")) || (!tag && !plain))
                tag = YAML_STR_TAG;

        if (!tag) {
                if (is_null(v))
                        *ret = cJSON_CreateNull();
                else if ((r = to_bool(v)) >= 0)
                        *ret = cJSON_CreateBool(r);
                else if ((r = to_number(v, false, &d)) > 0)
                        *ret = cJSON_CreateNumber(d);
                else if (r < 0)
                        return fail_at(c, &e->start_mark, "%s is not a number JSON can hold", v);
                else
                        *ret = cJSON_CreateString(v);
        } else if (streq(tag, YAML_STR_TAG))
                *ret = cJSON_CreateString(v);
        else if (streq(tag, YAML_NULL_TAG)) {
                if (!is_null(v))
                        return fail_at(c, &e->start_mark, "\"%s\" is not null", v);
                *ret = cJSON_CreateNull();
        } else if (streq(tag, YAML_BOOL_TAG)) {
                if ((r = to_bool(v)) < 0)
                        return fail_at(c, &e->start_mark, "\"%s\" is not a boolean", v);
                *ret = cJSON_CreateBool(r);
        } else if (streq(tag, YAML_INT_TAG) || streq(tag, YAML_FLOAT_TAG)) {
                r = to_number(v, streq(tag, YAML_INT_TAG), &d);
                if (r == 0)
                        return fail_at(c, &e->start_mark, "\"%s\" is not %s", v,
                                       streq(tag, YAML_INT_TAG) ? "an integer" : "a number");
                if (r < 0)
                        return fail_at(c, &e->start_mark, "%s is not a number JSON can hold", v);
                *ret = cJSON_CreateNumber(d);
        } else
                return fail_at(c, &e->start_mark, "the tag %s is not supported", tag);
        return *ret ? 0 : -ENOMEM;
}

static int on_scalar(Converter *c, const yaml_event_t *e)
{
        cJSON *node = NULL;
        int r;

        if (memchr(e->data.scalar.value, 0, e->data.scalar.length))
                return fail_at(c, &e->start_mark, "a NUL character is not allowed");
        if (expects_key(c))
                return take_key(c, e);
        r = scalar_to_json(c, e, &node);
        if (r < 0)
                return r;
        return attach(c, node);
}

static int on_collection_start(Converter *c, const yaml_event_t *e, bool mapping)
{
        cJSON *node;
        int r;

        if (expects_key(c))
                return fail_at(c, &e->start_mark, "a key must be a scalar, not a %s",
                               mapping ? "mapping" : "sequence");
        if (c->depth >= YAML_MAX_DEPTH)
                return fail_at(c, &e->start_mark, "nested deeper than %u levels", YAML_MAX_DEPTH);
        node = mapping ? cJSON_CreateObject() : cJSON_CreateArray();
        if (!node)
                return -ENOMEM;
        r = attach(c, node);
        if (r < 0)
                return r;
        c->stack[c->depth++] = (Frame) { .node = node };
        return 0;
}

static void on_collection_end(Converter *c)
{
        Frame *f = top(c);

        free(f->key);
        c->depth--;
}

/* Returns 1 at the end of the stream, 0 to go on. */
static int on_event(Converter *c, const yaml_event_t *e)
{
        switch (e->type) {
        case YAML_DOCUMENT_START_EVENT:
                if (++c->documents > 1)
                        return fail_at(c, &e->start_mark, "only one document is allowed");
                return 0;
        case YAML_SCALAR_EVENT:
                return on_scalar(c, e);
        case YAML_SEQUENCE_START_EVENT:
                return on_collection_start(c, e, false);
        case YAML_MAPPING_START_EVENT:
                return on_collection_start(c, e, true);
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
                on_collection_end(c);
                return 0;
        case YAML_ALIAS_EVENT:
                return fail_at(c, &e->start_mark, "aliases (*%s) are not supported",
                               (const char *) e->data.alias.anchor);
        case YAML_STREAM_END_EVENT:
                return 1;
        default:
                return 0;
        }
}

/* libyaml's own error: where and what, with the construct it was reading. */
static int parser_fail(Converter *c, const yaml_parser_t *p, const char *text, size_t len)
{
        yaml_mark_t mark = p->problem_mark;

        if (p->error == YAML_MEMORY_ERROR)
                return -ENOMEM;
        if (p->error == YAML_READER_ERROR) {
                /* Reader errors (bad encoding) carry a byte offset, not a mark. */
                mark = (yaml_mark_t) { 0 };
                for (size_t i = 0; i < MIN(p->problem_offset, len); i++)
                        if (text[i] == '\n') {
                                mark.line++;
                                mark.column = 0;
                        } else
                                mark.column++;
        }
        if (p->context)
                return fail_at(c, &mark, "%s (%s at line %zu, column %zu)", strna(p->problem), p->context,
                               p->context_mark.line + 1, p->context_mark.column + 1);
        return fail_at(c, &mark, "%s", strna(p->problem));
}

int yaml_to_json(const char *text, size_t len, cJSON **ret, char *err, size_t errlen)
{
        Converter c = { .err = err, .errlen = errlen };
        yaml_parser_t parser;
        int r;

        if (errlen)
                err[0] = 0;
        (void) pthread_once(&yaml_api_once, yaml_api_load);
        if (!yaml_api.parser_parse)
                return errbuf_fail(-EOPNOTSUPP, err, errlen, "%s", yaml_api_error);
        if (!yaml_api.parser_initialize(&parser))
                return -ENOMEM;
        yaml_api.parser_set_input_string(&parser, (const unsigned char *) text, len);

        for (;;) {
                yaml_event_t e;

                if (!yaml_api.parser_parse(&parser, &e)) {
                        r = parser_fail(&c, &parser, text, len);
                        break;
                }
                r = on_event(&c, &e);
                yaml_api.event_delete(&e);
                if (r != 0)
                        break;
        }
        yaml_api.parser_delete(&parser);
        while (c.depth > 0)
                on_collection_end(&c);
        if (r >= 0 && c.documents == 0)
                r = errbuf_fail(-EINVAL, err, errlen, "line 1, column 1: the text holds no YAML document");
        if (r < 0) {
                cJSON_Delete(c.root);
                return r;
        }
        *ret = c.root;
        return 0;
}
