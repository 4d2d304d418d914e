/* SPDX-License-Identifier: Apache-2.0 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "parse-util.h"

/* parse_size */

static uint64_t size_ok(const char *s)
{
        uint64_t v = UINT64_C(0xdeadbeef);
        int r = parse_size(s, &v);
        cr_assert(eq(int, r, 0), "parse_size(\"%s\") failed with %d", s, r);
        return v;
}

static void size_fails(const char *s, int expected)
{
        uint64_t v = UINT64_C(0x1234);
        int r = parse_size(s, &v);
        cr_assert(eq(int, r, expected), "parse_size(\"%s\") returned %d, expected %d", s, r, expected);
        cr_assert(eq(u64, v, 0x1234), "parse_size(\"%s\") wrote the result on failure", s);
}

Test(parse_size, binary_units)
{
        cr_assert(eq(u64, size_ok("512M"), 512 * MiB));
        cr_assert(eq(u64, size_ok("2G"), 2 * GiB));
        cr_assert(eq(u64, size_ok("4K"), 4 * KiB));
        cr_assert(eq(u64, size_ok("1T"), UINT64_C(1) << 40));
        cr_assert(eq(u64, size_ok("16T"), UINT64_C(16) << 40));
}

Test(parse_size, lower_case_and_long_suffixes)
{
        cr_assert(eq(u64, size_ok("512m"), 512 * MiB));
        cr_assert(eq(u64, size_ok("1g"), GiB));
        cr_assert(eq(u64, size_ok("1MiB"), MiB));
        cr_assert(eq(u64, size_ok("1MB"), MiB));
        cr_assert(eq(u64, size_ok("3GiB"), 3 * GiB));
        cr_assert(eq(u64, size_ok("8Ki"), 8 * KiB));
}

Test(parse_size, plain_bytes)
{
        cr_assert(eq(u64, size_ok("1048576"), MiB));
        cr_assert(eq(u64, size_ok("0"), 0));
        cr_assert(eq(u64, size_ok("4097"), 4097));
        cr_assert(eq(u64, size_ok("18446744073709551615"), UINT64_MAX));
}

Test(parse_size, overflow)
{
        size_fails("99999999999999999999G", -ERANGE);
        size_fails("99999999999999999999", -ERANGE);
        size_fails("18446744073709551616", -ERANGE);
        /* 2^24 TiB is 2^64 bytes. */
        size_fails("16777216T", -ERANGE);
        cr_assert(eq(u64, size_ok("16777215T"), UINT64_C(16777215) << 40));
        size_fails("17179869184G", -ERANGE);
}

Test(parse_size, garbage)
{
        size_fails("12X", -EINVAL);
        size_fails("", -EINVAL);
        size_fails("-1", -EINVAL);
        size_fails("+1", -EINVAL);
        size_fails(" 1M", -EINVAL);
        size_fails("1 M", -EINVAL);
        size_fails("M", -EINVAL);
        size_fails("1MM", -EINVAL);
        size_fails("1MiBx", -EINVAL);
        size_fails("1Bi", -EINVAL);
        size_fails("0x10", -EINVAL);
        size_fails("1.5G", -EINVAL);
        size_fails(NULL, -EINVAL);
}

/* parse_bool */

Test(parse_bool, words)
{
        static const char *const yes[] = { "on", "true", "yes", "1" };
        static const char *const no[] = { "off", "false", "no", "0" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                bool b = false;
                cr_assert(eq(int, parse_bool(yes[i], &b), 0), "%s", yes[i]);
                cr_assert(b, "%s must be true", yes[i]);
        }
        for (size_t i = 0; i < ELEMENTSOF(no); i++) {
                bool b = true;
                cr_assert(eq(int, parse_bool(no[i], &b), 0), "%s", no[i]);
                cr_assert(eq(int, b, false), "%s must be false", no[i]);
        }
}

Test(parse_bool, invalid)
{
        static const char *const bad[] = { "", "2", "ON ", " on", "onn", "y", "n", "enable", "-1", "truee" };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                bool b = true;
                cr_assert(eq(int, parse_bool(bad[i], &b), -EINVAL), "\"%s\" must be rejected", bad[i]);
                cr_assert(b, "\"%s\" changed the result", bad[i]);
        }
        cr_assert(eq(int, parse_bool(NULL, &(bool) { false }), -EINVAL));
}

/* parse_u64 / parse_u32 */

Test(parse_u64, decimal_and_hex)
{
        uint64_t v;

        cr_assert(eq(int, parse_u64("0", &v), 0));
        cr_assert(eq(u64, v, 0));
        cr_assert(eq(int, parse_u64("42", &v), 0));
        cr_assert(eq(u64, v, 42));
        cr_assert(eq(int, parse_u64("0x2a", &v), 0));
        cr_assert(eq(u64, v, 42));
        cr_assert(eq(int, parse_u64("0XFF", &v), 0));
        cr_assert(eq(u64, v, 255));
        cr_assert(eq(int, parse_u64("18446744073709551615", &v), 0));
        cr_assert(eq(u64, v, UINT64_MAX));
        cr_assert(eq(int, parse_u64("0xffffffffffffffff", &v), 0));
        cr_assert(eq(u64, v, UINT64_MAX));
        /* Leading zeros are decimal, not octal. */
        cr_assert(eq(int, parse_u64("010", &v), 0));
        cr_assert(eq(u64, v, 10));
}

Test(parse_u64, overflow)
{
        uint64_t v = 7;

        cr_assert(eq(int, parse_u64("18446744073709551616", &v), -ERANGE));
        cr_assert(eq(int, parse_u64("0x10000000000000000", &v), -ERANGE));
        cr_assert(eq(int, parse_u64("99999999999999999999999", &v), -ERANGE));
        cr_assert(eq(u64, v, 7));
}

Test(parse_u64, garbage)
{
        static const char *const bad[] = { "",    "-1",   "+1",   " 1",  "1 ",  "1a",  "0x",
                                           "0xg", "0x-1", "0x 1", "x10", "1e3", "12X", "0b1" };
        uint64_t v = 7;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                cr_assert(eq(int, parse_u64(bad[i], &v), -EINVAL), "\"%s\" must be rejected", bad[i]);
        cr_assert(eq(int, parse_u64(NULL, &v), -EINVAL));
        cr_assert(eq(u64, v, 7));
}

Test(parse_u32, range)
{
        uint32_t v = 7;

        cr_assert(eq(int, parse_u32("4294967295", &v), 0));
        cr_assert(eq(u32, v, UINT32_MAX));
        cr_assert(eq(int, parse_u32("0xffffffff", &v), 0));
        cr_assert(eq(u32, v, UINT32_MAX));
        cr_assert(eq(int, parse_u32("12", &v), 0));
        cr_assert(eq(u32, v, 12));
        v = 7;
        cr_assert(eq(int, parse_u32("4294967296", &v), -ERANGE));
        cr_assert(eq(int, parse_u32("0x100000000", &v), -ERANGE));
        cr_assert(eq(int, parse_u32("18446744073709551616", &v), -ERANGE));
        cr_assert(eq(int, parse_u32("-1", &v), -EINVAL));
        cr_assert(eq(int, parse_u32("1k", &v), -EINVAL));
        cr_assert(eq(u32, v, 7));
}

/* parse_ether_addr */

Test(parse_ether_addr, valid)
{
        uint8_t a[6];

        cr_assert(eq(int, parse_ether_addr("52:54:00:12:34:56", a), 0));
        cr_assert(eq(u8, a[0], 0x52));
        cr_assert(eq(u8, a[1], 0x54));
        cr_assert(eq(u8, a[2], 0x00));
        cr_assert(eq(u8, a[5], 0x56));
        cr_assert(eq(int, parse_ether_addr("FE:ff:Aa:0b:c0:9D", a), 0));
        cr_assert(eq(u8, a[0], 0xfe));
        cr_assert(eq(u8, a[2], 0xaa));
        cr_assert(eq(u8, a[5], 0x9d));
}

Test(parse_ether_addr, invalid)
{
        static const char *const bad[] = {
                "",                   "52:54:00:12:34",       "52:54:00:12:34:56:78", "52:54:00:12:34:5",
                "2:54:00:12:34:56",   "52-54-00-12-34-56",    "525400123456",         "52:54:00:12:34:56:",
                "52:54:00:12:34:5g",  " 52:54:00:12:34:56",   "52:54:00:12:34:56 ",   "52::54:00:12:34:56",
                "052:54:00:12:34:56", "52:54:00:12:34:0x56",
        };
        uint8_t a[6] = { 1, 2, 3, 4, 5, 6 };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                cr_assert(eq(int, parse_ether_addr(bad[i], a), -EINVAL), "\"%s\" must be rejected", bad[i]);
        cr_assert(eq(int, parse_ether_addr(NULL, a), -EINVAL));
        cr_assert(eq(u8, a[0], 1), "the output was written on failure");
        cr_assert(eq(u8, a[5], 6), "the output was written on failure");
}

/* parse_u32_list */

static void u32_list_is(const char *s, const uint32_t *expected, size_t n)
{
        _cleanup_free_ uint32_t *v = NULL;
        size_t got = 99;
        int r = parse_u32_list(s, &v, &got);

        cr_assert(eq(int, r, 0), "parse_u32_list(\"%s\") failed with %d", s, r);
        cr_assert(eq(sz, got, n), "parse_u32_list(\"%s\")", s);
        for (size_t i = 0; i < n; i++)
                cr_assert(eq(u32, v[i], expected[i]), "parse_u32_list(\"%s\")[%zu]", s, i);
}

Test(parse_u32_list, lists_and_ranges)
{
        u32_list_is("3", (uint32_t[]) { 3 }, 1);
        u32_list_is("[3]", (uint32_t[]) { 3 }, 1);
        u32_list_is("[3,4]", (uint32_t[]) { 3, 4 }, 2);
        u32_list_is("3,4", (uint32_t[]) { 3, 4 }, 2);
        u32_list_is("[3-5,8]", (uint32_t[]) { 3, 4, 5, 8 }, 4);
        u32_list_is("[10,7]", (uint32_t[]) { 10, 7 }, 2);
        u32_list_is("[4294967294-4294967295]", (uint32_t[]) { 4294967294u, 4294967295u }, 2);
}

Test(parse_u32_list, invalid)
{
        static const struct {
                const char *s;
                int r;
        } bad[] = {
                { "", -EINVAL },         { "[]", -EINVAL },         { "[3,]", -EINVAL },
                { "[,3]", -EINVAL },     { "[3,,4]", -EINVAL },     { "three", -EINVAL },
                { "[3", -EINVAL },       { "3]", -EINVAL },         { "[-1]", -EINVAL },
                { "[5-3]", -EINVAL },    { "[3-3]", -EINVAL },      { "[3-]", -EINVAL },
                { "[3-4-5]", -EINVAL },  { "[ 3]", -EINVAL },       { "[[3]]", -EINVAL },
                { "[4294967296]", -ERANGE }, { "[0-4294967295]", -E2BIG }, { "[0-1023,2000]", -E2BIG },
        };
        uint32_t *v = (uint32_t *) 0x1;
        size_t n = 42;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                cr_assert(eq(int, parse_u32_list(bad[i].s, &v, &n), bad[i].r), "\"%s\"", bad[i].s);
        cr_assert(eq(int, parse_u32_list(NULL, &v, &n), -EINVAL));
        cr_assert(eq(ptr, v, (uint32_t *) 0x1), "the output was written on failure");
        cr_assert(eq(sz, n, 42), "the output was written on failure");
}

Test(parse_u32_list, longest_list)
{
        _cleanup_free_ uint32_t *v = NULL;
        size_t n = 0;

        cr_assert(eq(int, parse_u32_list("[0-1022,5000]", &v, &n), 0));
        cr_assert(eq(sz, n, 1024));
        cr_assert(eq(u32, v[1022], 1022));
        cr_assert(eq(u32, v[1023], 5000));
}

/* option lists */

static void list_assert_pair(const OptionList *l, size_t i, const char *key, const char *value)
{
        cr_assert(lt(sz, i, l->n), "pair %zu missing", i);
        cr_assert(eq(str, l->pairs[i].key, (char *) key));
        if (value)
                cr_assert(eq(str, l->pairs[i].value, (char *) value), "value of %s", key);
        else
                cr_assert(zero(ptr, l->pairs[i].value), "%s must have no value", key);
}

Test(option_list, simple)
{
        _cleanup_(option_list_done) OptionList l = {};

        cr_assert(eq(int, option_list_parse("boot=2,max=4", &l), 0));
        cr_assert(eq(sz, l.n, 2));
        list_assert_pair(&l, 0, "boot", "2");
        list_assert_pair(&l, 1, "max", "4");
}

Test(option_list, empty_string_and_empty_values)
{
        _cleanup_(option_list_done) OptionList l = {}, m = {};

        cr_assert(eq(int, option_list_parse("", &l), 0));
        cr_assert(eq(sz, l.n, 0));

        cr_assert(eq(int, option_list_parse("file=,a==b", &m), 0));
        cr_assert(eq(sz, m.n, 2));
        list_assert_pair(&m, 0, "file", "");
        /* Only the first '=' separates. */
        list_assert_pair(&m, 1, "a", "=b");
}

Test(option_list, commas_inside_brackets_and_quotes)
{
        _cleanup_(option_list_done) OptionList l = {};

        cr_assert(eq(int, option_list_parse("affinity=[0@[1,2],1@[3,4]],path=\"/tmp/a,b\",x=1", &l), 0));
        cr_assert(eq(sz, l.n, 3));
        list_assert_pair(&l, 0, "affinity", "[0@[1,2],1@[3,4]]");
        /* One level of surrounding quotes is stripped. */
        list_assert_pair(&l, 1, "path", "/tmp/a,b");
        list_assert_pair(&l, 2, "x", "1");
}

Test(option_list, brackets_inside_quotes_do_not_count)
{
        _cleanup_(option_list_done) OptionList l = {};

        cr_assert(eq(int, option_list_parse("p=\"[a,b\",q=2", &l), 0));
        cr_assert(eq(sz, l.n, 2));
        list_assert_pair(&l, 0, "p", "[a,b");
        list_assert_pair(&l, 1, "q", "2");
}

Test(option_list, bare_words)
{
        _cleanup_(option_list_done) OptionList l = {};

        cr_assert(eq(int, option_list_parse("tty,iommu=on,readonly", &l), 0));
        cr_assert(eq(sz, l.n, 3));
        list_assert_pair(&l, 0, "tty", NULL);
        list_assert_pair(&l, 1, "iommu", "on");
        list_assert_pair(&l, 2, "readonly", NULL);
}

Test(option_list, empty_pieces_are_skipped)
{
        _cleanup_(option_list_done) OptionList l = {};

        cr_assert(eq(int, option_list_parse(",a=1,,b=2,", &l), 0));
        cr_assert(eq(sz, l.n, 2));
        list_assert_pair(&l, 0, "a", "1");
        list_assert_pair(&l, 1, "b", "2");
}

Test(option_list, only_commas)
{
        _cleanup_(option_list_done) OptionList l = {};

        cr_assert(eq(int, option_list_parse(",,,", &l), 0));
        cr_assert(eq(sz, l.n, 0));
}

Test(option_list, unbalanced)
{
        static const char *const bad[] = { "a=[1,2",    "a=1]",   "a=]1[",      "a=\"x",
                                           "a=\"x,b=2", "a=[[1]", "a=[1]],b=2", "\"" };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                OptionList l = { .pairs = (OptionPair *) 0x1, .n = 77 };
                int r = option_list_parse(bad[i], &l);
                cr_assert(lt(int, r, 0), "\"%s\" must be rejected", bad[i]);
                cr_assert(eq(sz, l.n, 77), "\"%s\": the output was touched on failure", bad[i]);
        }
}

Test(option_list, empty_key)
{
        OptionList l = {};

        cr_assert(eq(int, option_list_parse("=1", &l), -EINVAL));
        cr_assert(eq(int, option_list_parse("a=1,=2", &l), -EINVAL));
        cr_assert(eq(sz, l.n, 0));
}

Test(option_list, last_duplicate_wins)
{
        _cleanup_(option_list_done) OptionList l = {};
        bool found = false;

        cr_assert(eq(int, option_list_parse("size=1G,shared=on,size=2G", &l), 0));
        cr_assert(eq(str, (char *) option_list_get(&l, "size", &found), "2G"));
        cr_assert(found);
        cr_assert(eq(str, (char *) option_list_get(&l, "shared", NULL), "on"));
}

Test(option_list, get_missing_and_bare)
{
        _cleanup_(option_list_done) OptionList l = {};
        bool found = true;

        cr_assert(eq(int, option_list_parse("tty,a=1", &l), 0));
        cr_assert(zero(ptr, (void *) option_list_get(&l, "b", &found)));
        cr_assert(eq(int, found, false));
        /* A bare word is found, with no value. */
        found = false;
        cr_assert(zero(ptr, (void *) option_list_get(&l, "tty", &found)));
        cr_assert(found);
        /* Keys are case-sensitive. */
        cr_assert(zero(ptr, (void *) option_list_get(&l, "A", &found)));
        cr_assert(eq(int, found, false));
}

Test(option_list, unknown_key)
{
        static const char *const known[] = { "boot", "max", NULL };
        _cleanup_(option_list_done) OptionList l = {}, m = {}, e = {};

        cr_assert(eq(int, option_list_parse("boot=1,max=2,boot=3", &l), 0));
        cr_assert(zero(ptr, (void *) option_list_unknown_key(&l, known)));

        cr_assert(eq(int, option_list_parse("boot=1,bogus=2,other=3", &m), 0));
        cr_assert(eq(str, (char *) option_list_unknown_key(&m, known), "bogus"));

        cr_assert(eq(int, option_list_parse("", &e), 0));
        cr_assert(zero(ptr, (void *) option_list_unknown_key(&e, known)));
}

Test(option_list, done_resets)
{
        OptionList l = {};

        cr_assert(eq(int, option_list_parse("a=1,b", &l), 0));
        option_list_done(&l);
        cr_assert(eq(sz, l.n, 0));
        cr_assert(zero(ptr, l.pairs));
        /* Twice is harmless. */
        option_list_done(&l);
}
