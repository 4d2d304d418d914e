/* SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <inttypes.h>

#include "parse-util.h"

int parse_u64(const char *s, uint64_t *ret)
{
        unsigned long long v;
        char *end;
        int base = 10;

        if (!s || !*s || !isdigit((unsigned char) *s))
                return -EINVAL;
        if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
                base = 16;
                s += 2;
                if (!isxdigit((unsigned char) *s))
                        return -EINVAL;
        }
        errno = 0;
        v = strtoull(s, &end, base);
        if (errno == ERANGE)
                return -ERANGE;
        if (*end)
                return -EINVAL;
        *ret = v;
        return 0;
}

int parse_u32(const char *s, uint32_t *ret)
{
        uint64_t v;
        int r = parse_u64(s, &v);
        if (r < 0)
                return r;
        if (v > UINT32_MAX)
                return -ERANGE;
        *ret = (uint32_t) v;
        return 0;
}

int parse_size(const char *s, uint64_t *ret)
{
        static const struct {
                char suffix;
                unsigned shift;
        } units[] = { { 'K', 10 }, { 'M', 20 }, { 'G', 30 }, { 'T', 40 } };
        unsigned long long v;
        unsigned shift = 0;
        char *end;

        if (!s || !isdigit((unsigned char) *s))
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno == ERANGE)
                return -ERANGE;
        if (*end) {
                bool ok = false;
                for (size_t i = 0; i < ELEMENTSOF(units); i++)
                        if (toupper((unsigned char) *end) == units[i].suffix) {
                                shift = units[i].shift;
                                ok = true;
                        }
                if (!ok)
                        return -EINVAL;
                end++;
                /* Accept "M", "MB", "MiB". */
                if (*end == 'i')
                        end++;
                if (*end == 'B')
                        end++;
                if (*end)
                        return -EINVAL;
        }
        if (shift && v > (UINT64_MAX >> shift))
                return -ERANGE;
        *ret = (uint64_t) v << shift;
        return 0;
}

int parse_bool(const char *s, bool *ret)
{
        static const char *const yes[] = { "on", "true", "yes", "1" };
        static const char *const no[] = { "off", "false", "no", "0" };

        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (streq(s, yes[i])) {
                        *ret = true;
                        return 0;
                }
                if (streq(s, no[i])) {
                        *ret = false;
                        return 0;
                }
        }
        return -EINVAL;
}

void option_list_done(OptionList *l)
{
        for (size_t i = 0; i < l->n; i++) {
                free(l->pairs[i].key);
                free(l->pairs[i].value);
        }
        free(l->pairs);
        *l = (OptionList) {};
}

static int option_list_add(OptionList *l, const char *piece, size_t len)
{
        const char *eq = memchr(piece, '=', len);
        OptionPair *p;

        if (len == 0)
                return 0; /* Tolerate "a=1,,b=2" and a trailing comma. */

        p = realloc(l->pairs, (l->n + 1) * sizeof *p);
        if (!p)
                return -ENOMEM;
        l->pairs = p;
        p = &l->pairs[l->n];
        if (eq) {
                p->key = strndup(piece, (size_t) (eq - piece));
                p->value = strndup(eq + 1, len - (size_t) (eq - piece) - 1);
                if (!p->key || !p->value) {
                        free(p->key);
                        free(p->value);
                        return -ENOMEM;
                }
                /* Strip one level of surrounding quotes: path="a,b". */
                size_t vl = strlen(p->value);
                if (vl >= 2 && p->value[0] == '"' && p->value[vl - 1] == '"') {
                        memmove(p->value, p->value + 1, vl - 2);
                        p->value[vl - 2] = 0;
                }
        } else {
                p->key = strndup(piece, len);
                p->value = NULL;
                if (!p->key)
                        return -ENOMEM;
        }
        if (p->key[0] == 0) {
                free(p->key);
                free(p->value);
                return -EINVAL;
        }
        l->n++;
        return 0;
}

int option_list_parse(const char *s, OptionList *ret)
{
        OptionList l = {};
        const char *start = s;
        int depth = 0;
        bool quoted = false;
        int r;

        for (const char *c = s;; c++) {
                if (*c == 0 || (*c == ',' && depth == 0 && !quoted)) {
                        r = option_list_add(&l, start, (size_t) (c - start));
                        if (r < 0) {
                                option_list_done(&l);
                                return r;
                        }
                        if (*c == 0)
                                break;
                        start = c + 1;
                } else if (*c == '"')
                        quoted = !quoted;
                else if (*c == '[' && !quoted)
                        depth++;
                else if (*c == ']' && !quoted) {
                        if (--depth < 0)
                                break;
                }
        }
        if (depth != 0 || quoted) {
                option_list_done(&l);
                return -EBADMSG;
        }
        *ret = l;
        return 0;
}

const char *option_list_get(const OptionList *l, const char *key, bool *found)
{
        const char *v = NULL;
        bool f = false;

        /* The last occurrence wins, as on most command lines. */
        for (size_t i = 0; i < l->n; i++)
                if (streq(l->pairs[i].key, key)) {
                        v = l->pairs[i].value;
                        f = true;
                }
        if (found)
                *found = f;
        return v;
}

const char *option_list_unknown_key(const OptionList *l, const char *const *known)
{
        for (size_t i = 0; i < l->n; i++) {
                bool ok = false;
                for (const char *const *k = known; *k; k++)
                        if (streq(*k, l->pairs[i].key))
                                ok = true;
                if (!ok)
                        return l->pairs[i].key;
        }
        return NULL;
}

static int unhexchar(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        return tolower((unsigned char) c) - 'a' + 10;
}

int parse_ether_addr(const char *s, uint8_t ret[6])
{
        uint8_t a[6];

        if (!s)
                return -EINVAL;
        /* Each test stops at the first NUL, so a short string is never read past its end. */
        for (size_t i = 0; i < ELEMENTSOF(a); i++) {
                const char *g = s + i * 3;
                if (!isxdigit((unsigned char) g[0]) || !isxdigit((unsigned char) g[1]) ||
                    g[2] != (i + 1 < ELEMENTSOF(a) ? ':' : '\0'))
                        return -EINVAL;
                a[i] = (uint8_t) (unhexchar(g[0]) << 4 | unhexchar(g[1]));
        }
        memcpy(ret, a, sizeof a);
        return 0;
}

/* More numbers than any list of descriptors or CPUs needs; bounds what "0-4294967295" allocates. */
#define U32_LIST_MAX 1024u

int parse_u32_list(const char *s, uint32_t **ret, size_t *ret_n)
{
        _cleanup_free_ char *copy = NULL;
        _cleanup_free_ uint32_t *v = NULL;
        size_t n = 0, len;
        char *p;
        int r;

        if (!s)
                return -EINVAL;
        len = strlen(s);
        if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
                s++;
                len -= 2;
        }
        copy = strndup(s, len);
        if (!copy)
                return -ENOMEM;
        v = malloc(U32_LIST_MAX * sizeof *v);
        if (!v)
                return -ENOMEM;

        for (p = copy;;) {
                char *comma = strchr(p, ','), *dash;
                uint32_t lo, hi;

                if (comma)
                        *comma = 0;
                dash = strchr(p, '-');
                if (dash)
                        *dash = 0;
                r = parse_u32(p, &lo);
                if (r < 0)
                        return r;
                hi = lo;
                if (dash) {
                        r = parse_u32(dash + 1, &hi);
                        if (r < 0)
                                return r;
                        if (hi <= lo)
                                return -EINVAL;
                }
                if (hi - lo >= U32_LIST_MAX - n)
                        return -E2BIG;
                for (uint64_t x = lo; x <= hi; x++)
                        v[n++] = (uint32_t) x;
                if (!comma)
                        break;
                p = comma + 1;
        }
        uint32_t *shrunk = realloc(v, n * sizeof *v);
        if (shrunk)
                v = shrunk;
        *ret = TAKE_PTR(v);
        *ret_n = n;
        return 0;
}
