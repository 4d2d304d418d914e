/* SPDX-License-Identifier: Apache-2.0 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "config-file.h"
#include "config-yaml.h"
#include "vm-config.h"

#ifndef CONFIG_FILES_DIR
#error "CONFIG_FILES_DIR must name tests/unit/config-files"
#endif

static void cjson_deletep(cJSON **j)
{
        if (*j)
                cJSON_Delete(*j);
}
#define _cleanup_json_ _cleanup_(cjson_deletep)

static cJSON *yaml_ok(const char *yaml)
{
        char err[512] = "untouched";
        cJSON *tree = NULL;
        int r = yaml_to_json(yaml, strlen(yaml), &tree, err, sizeof err);

        cr_assert(eq(int, r, 0), "%s: unexpected error: %s", yaml, err);
        cr_assert(eq(str, err, ""), "no error text on success");
        cr_assert(not(zero(ptr, tree)));
        return tree;
}

static void yaml_fails(const char *yaml, const char *expected)
{
        char err[512] = "";
        cJSON *tree = NULL;
        int r = yaml_to_json(yaml, strlen(yaml), &tree, err, sizeof err);

        cr_assert(eq(int, r, -EINVAL), "%s: expected -EINVAL, got %d (%s)", yaml, r, err);
        cr_assert(eq(str, err, (char *) expected), "%s", yaml);
        cr_assert(zero(ptr, tree), "the output was touched on failure");
}

/* The YAML must give exactly the tree the JSON text describes. */
static void yaml_is(const char *yaml, const char *json)
{
        _cleanup_json_ cJSON *got = yaml_ok(yaml), *want = cJSON_Parse(json);
        _cleanup_free_ char *printed = NULL;

        cr_assert(not(zero(ptr, want)), "test JSON does not parse: %s", json);
        printed = cJSON_PrintUnformatted(got);
        cr_assert(cJSON_Compare(got, want, true), "%s: got %s, expected %s", yaml, printed, json);
}

Test(yaml, plain_scalars_follow_the_core_schema)
{
        yaml_is("a: ~\nb: null\nc: NULL\nd:\n", "{\"a\":null,\"b\":null,\"c\":null,\"d\":null}");
        yaml_is("a: true\nb: False\nc: TRUE\n", "{\"a\":true,\"b\":false,\"c\":true}");
        yaml_is("a: 42\nb: -7\nc: +3\nd: 0x1F\ne: 0o17\nf: 0755\n",
                "{\"a\":42,\"b\":-7,\"c\":3,\"d\":31,\"e\":15,\"f\":755}");
        yaml_is("a: 1.5\nb: .5\nc: 2e3\nd: -1.25E-2\ne: 1.\n",
                "{\"a\":1.5,\"b\":0.5,\"c\":2000,\"d\":-0.0125,\"e\":1}");
        /* YAML 1.1's other booleans and anything else that is not a number stay strings. */
        yaml_is("a: yes\nb: off\nc: Off\nd: 512M\ne: 0x\nf: 1e\ng: 0b101\nh: 1_000\n",
                "{\"a\":\"yes\",\"b\":\"off\",\"c\":\"Off\",\"d\":\"512M\",\"e\":\"0x\",\"f\":\"1e\","
                "\"g\":\"0b101\",\"h\":\"1_000\"}");
        yaml_is("kernel: /boot/vmlinux\ncmdline: console=ttyS0 quiet\n",
                "{\"kernel\":\"/boot/vmlinux\",\"cmdline\":\"console=ttyS0 quiet\"}");
}

Test(yaml, quoted_and_block_scalars_are_strings)
{
        yaml_is("a: \"42\"\nb: 'true'\nc: \"\"\nd: '~'\n", "{\"a\":\"42\",\"b\":\"true\",\"c\":\"\",\"d\":\"~\"}");
        yaml_is("a: |\n  line one\n  line two\nb: >\n  folded\n  text\n",
                "{\"a\":\"line one\\nline two\\n\",\"b\":\"folded text\\n\"}");
        yaml_is("a: \"tab\\there \\u00e9\"\n", "{\"a\":\"tab\\there \\u00e9\"}");
}

Test(yaml, tags)
{
        yaml_is("a: !!str 42\nb: !!int \"7\"\nc: !!float 3\nd: !!bool \"true\"\ne: !!null ''\nf: ! 12\n",
                "{\"a\":\"42\",\"b\":7,\"c\":3,\"d\":true,\"e\":null,\"f\":\"12\"}");
        yaml_fails("a: !!int 1.5\n", "line 1, column 4: \"1.5\" is not an integer");
        yaml_fails("a: !!bool yes\n", "line 1, column 4: \"yes\" is not a boolean");
        yaml_fails("a: !!null 0\n", "line 1, column 4: \"0\" is not null");
        yaml_fails("a: !!float x\n", "line 1, column 4: \"x\" is not a number");
        yaml_fails("a: !vm thing\n", "line 1, column 4: the tag !vm is not supported");
}

Test(yaml, collections_block_and_flow)
{
        yaml_is("disks:\n  - path: /a\n    readonly: true\n  - {path: /b, num_queues: 1}\nempty: []\nnone: {}\n",
                "{\"disks\":[{\"path\":\"/a\",\"readonly\":true},{\"path\":\"/b\",\"num_queues\":1}],"
                "\"empty\":[],\"none\":{}}");
        yaml_is("- 1\n- [2, [3]]\n- x: {y: z}\n", "[1,[2,[3]],{\"x\":{\"y\":\"z\"}}]");
        yaml_is("---\na: 1\n...\n", "{\"a\":1}");
        /* An anchor without an alias is harmless. */
        yaml_is("a: &x 1\n", "{\"a\":1}");
        /* JSON is YAML. */
        yaml_is("{\"a\": [1, \"b\", null, false]}", "{\"a\":[1,\"b\",null,false]}");
}

Test(yaml, numbers_json_cannot_hold)
{
        yaml_fails("a: .inf\n", "line 1, column 4: .inf is not a number JSON can hold");
        yaml_fails("a: -.Inf\n", "line 1, column 4: -.Inf is not a number JSON can hold");
        yaml_fails("a: .nan\n", "line 1, column 4: .nan is not a number JSON can hold");
        yaml_fails("a: 0x10000000000000000\n", "line 1, column 4: 0x10000000000000000 is not a number JSON can hold");
        yaml_fails("a: 1e400\n", "line 1, column 4: 1e400 is not a number JSON can hold");
}

Test(yaml, refused_constructs_name_their_line)
{
        yaml_fails("cpus:\n  boot_vcpus: 1\n  boot_vcpus: 2\n", "line 3, column 3: duplicate key \"boot_vcpus\"");
        yaml_fails("a: &x 1\nb: *x\n", "line 2, column 4: aliases (*x) are not supported");
        yaml_fails("? [a, b]\n: c\n", "line 1, column 3: a key must be a scalar, not a sequence");
        yaml_fails("? {a: b}\n: c\n", "line 1, column 3: a key must be a scalar, not a mapping");
        yaml_fails("a: 1\n---\nb: 2\n", "line 2, column 1: only one document is allowed");
        yaml_fails("a: \"x\\0y\"\n", "line 1, column 4: a NUL character is not allowed");
        yaml_fails("", "line 1, column 1: the text holds no YAML document");
        yaml_fails("# only a comment\n", "line 1, column 1: the text holds no YAML document");
}

Test(yaml, syntax_errors_name_their_line)
{
        yaml_fails("payload:\n  kernel: /boot/vmlinux\ncpus:\n  boot_vcpus: 2\n  - 3\n",
                   "line 5, column 3: did not find expected key (while parsing a block mapping at line 4, "
                   "column 3)");
        yaml_fails("a: b: c\n", "line 1, column 5: mapping values are not allowed in this context");
        yaml_fails("a:\n\tb: 1\n",
                   "line 2, column 1: found character that cannot start any token (while scanning for the "
                   "next token at line 2, column 1)");
        yaml_fails("a: [1, 2\n",
                   "line 2, column 1: did not find expected ',' or ']' (while parsing a flow sequence at "
                   "line 1, column 4)");
        yaml_fails("a: \"\xff\"\n", "line 1, column 5: invalid leading UTF-8 octet");
}

Test(yaml, depth_is_bounded)
{
        char deep[256] = "", ok[256] = "";

        for (int i = 0; i < 33; i++)
                strcat(deep, "[");
        for (int i = 0; i < 32; i++)
                strcat(ok, "[");
        for (int i = 0; i < 32; i++)
                strcat(ok, "]");
        yaml_fails(deep, "line 1, column 33: nested deeper than 32 levels");
        cJSON_Delete(yaml_ok(ok));
}

Test(yaml, keys_per_mapping_are_bounded)
{
        size_t size = 1100 * 16, o = 0;
        _cleanup_free_ char *text = malloc(size);
        char err[256] = "";
        cJSON *tree = NULL;

        cr_assert(not(zero(ptr, text)));
        for (int i = 0; i < 1025; i++)
                o += (size_t) snprintf(text + o, size - o, "k%d: %d\n", i, i);
        cr_assert(eq(int, yaml_to_json(text, o, &tree, err, sizeof err), -EINVAL));
        cr_assert(eq(str, err, "line 1025, column 1: more than 1024 keys in one mapping"));
}

/* config_tree_parse(): JSON and YAML, chosen or detected. */

static void parse_fails(const char *text, ConfigFormat format, const char *expected)
{
        char err[512] = "";
        cJSON *tree = NULL;
        int r = config_tree_parse(text, strlen(text), format, &tree, err, sizeof err);

        cr_assert(eq(int, r, -EINVAL), "%s: expected -EINVAL, got %d (%s)", text, r, err);
        cr_assert(eq(str, err, (char *) expected), "%s", text);
        cr_assert(zero(ptr, tree));
}

static cJSON *parse_ok(const char *text, size_t len, ConfigFormat format)
{
        char err[512] = "";
        cJSON *tree = NULL;

        cr_assert(eq(int, config_tree_parse(text, len, format, &tree, err, sizeof err), 0), "%s", err);
        return tree;
}

Test(config_text, formats)
{
        _cleanup_json_ cJSON *a = parse_ok("  \n{\"a\": 1}", 11, CONFIG_FORMAT_AUTO);
        _cleanup_json_ cJSON *b = parse_ok("a: 1\n", 5, CONFIG_FORMAT_AUTO);
        _cleanup_json_ cJSON *c = parse_ok("{\"a\": 1}", 8, CONFIG_FORMAT_JSON);
        _cleanup_json_ cJSON *d = parse_ok("{a: 1}", 6, CONFIG_FORMAT_YAML);
        /* The length is what counts, not a NUL after it. */
        _cleanup_json_ cJSON *e = parse_ok("{\"a\": 1}garbage", 8, CONFIG_FORMAT_JSON);

        cr_assert(cJSON_Compare(a, b, true) && cJSON_Compare(b, c, true) && cJSON_Compare(c, d, true) &&
                  cJSON_Compare(d, e, true));
        cr_assert(eq(str, (char *) config_format_to_string(CONFIG_FORMAT_YAML), "yaml"));
        cr_assert(eq(str, (char *) config_format_to_string(CONFIG_FORMAT_JSON), "json"));
        cr_assert(zero(ptr, (void *) config_format_to_string(CONFIG_FORMAT_AUTO)));
        cr_assert(zero(ptr, (void *) config_format_to_string(_CONFIG_FORMAT_MAX)));
        cr_assert(eq(int, config_format_from_path("a/vm.yaml"), CONFIG_FORMAT_YAML));
        cr_assert(eq(int, config_format_from_path("vm.yml"), CONFIG_FORMAT_YAML));
        cr_assert(eq(int, config_format_from_path("/etc/chv/vm.json"), CONFIG_FORMAT_JSON));
        cr_assert(eq(int, config_format_from_path("vm.conf"), CONFIG_FORMAT_AUTO));
        cr_assert(eq(int, config_format_from_path("dir.json/vm"), CONFIG_FORMAT_AUTO));
        cr_assert(eq(int, config_format_from_path("yaml"), CONFIG_FORMAT_AUTO));
}

Test(config_text, json_errors_name_their_line)
{
        parse_fails("{\n  \"cpus\": {\"boot_vcpus\": 2,}\n}\n", CONFIG_FORMAT_AUTO,
                    "line 2, column 29: not valid JSON");
        parse_fails("{\"a\": 1} x", CONFIG_FORMAT_JSON, "line 1, column 10: not valid JSON");
        parse_fails("{\"a\": [1,\n", CONFIG_FORMAT_JSON, "line 2, column 1: not valid JSON");
        parse_fails("", CONFIG_FORMAT_JSON, "line 1, column 1: not valid JSON");
        parse_fails("{\"cpus\": {\"boot_vcpus\": 1, \"max_vcpus\": 2, \"boot_vcpus\": 3}}", CONFIG_FORMAT_JSON,
                    "duplicate key \"boot_vcpus\"");
        parse_fails("[{\"a\": 1, \"a\": 1}]", CONFIG_FORMAT_JSON, "duplicate key \"a\"");
        parse_fails("[{\"a\": 1, \"a\": 1}]", CONFIG_FORMAT_AUTO, "line 1, column 11: duplicate key \"a\"");
}

Test(config_text, nul_and_size)
{
        char err[256] = "";
        cJSON *tree = NULL;
        _cleanup_free_ char *big = calloc(1, CONFIG_TEXT_MAX + 1);

        cr_assert(eq(int, config_tree_parse("a: 1\nb: \0\n", 10, CONFIG_FORMAT_AUTO, &tree, err, sizeof err),
                     -EINVAL));
        cr_assert(eq(str, err, "line 2, column 4: a NUL character is not allowed"));
        cr_assert(eq(int, config_tree_parse("{\"a\":1}\0", 8, CONFIG_FORMAT_JSON, &tree, err, sizeof err),
                     -EINVAL));
        cr_assert(eq(str, err, "line 1, column 8: a NUL character is not allowed"));
        cr_assert(not(zero(ptr, big)));
        memset(big, ' ', CONFIG_TEXT_MAX + 1);
        cr_assert(eq(int, config_tree_parse(big, CONFIG_TEXT_MAX + 1, CONFIG_FORMAT_AUTO, &tree, err, sizeof err),
                     -EINVAL));
        cr_assert(eq(str, err, "4194305 bytes is more than the 4194304 a configuration may have"));
        cr_assert(zero(ptr, tree));
}

/* Files, and the same VM in YAML and in JSON. */

static void decode_file(const char *name, VmConfig *c)
{
        _cleanup_json_ cJSON *tree = NULL;
        char err[512] = "", path[512];

        snprintf(path, sizeof path, "%s/%s", CONFIG_FILES_DIR, name);
        cr_assert(eq(int, config_tree_load(path, &tree, err, sizeof err), 0), "%s", err);
        cr_assert(eq(int, vm_config_from_json(tree, c, err, sizeof err), 0), "%s: %s", name, err);
}

Test(config_file, yaml_and_json_decode_alike)
{
        _cleanup_json_ cJSON *a = NULL, *b = NULL;
        VmConfig y, j;

        decode_file("vm.yaml", &y);
        decode_file("vm.json", &j);
        cr_assert(eq(u32, y.cpus.boot_vcpus, 2));
        cr_assert(eq(u32, y.cpus.max_vcpus, 4));
        cr_assert(eq(u64, y.memory.size, GiB));
        cr_assert(eq(int, y.memory.shared, true));
        cr_assert(eq(str, y.payload.cmdline, "console=ttyS0 root=/dev/vda"));
        cr_assert(eq(int, y.serial.mode, CONSOLE_TTY));
        cr_assert(eq(int, y.console.mode, CONSOLE_OFF));
        cr_assert(eq(sz, y.n_disks, 2));
        cr_assert(eq(str, y.disks[0].serial, "root"));
        cr_assert(eq(int, y.disks[1].readonly, true));
        cr_assert(eq(sz, y.n_net, 1));
        cr_assert(eq(u16, y.net[0].mtu, 1500));
        a = vm_config_to_json(&y);
        b = vm_config_to_json(&j);
        cr_assert(cJSON_Compare(a, b, true), "the YAML and the JSON file decode differently");
        vm_config_done(&y);
        vm_config_done(&j);
}

static void load_fails(const char *path, int error, const char *expected)
{
        char err[512] = "";
        cJSON *tree = NULL;
        int r = config_tree_load(path, &tree, err, sizeof err);

        cr_assert(eq(int, r, error), "%s: expected %d, got %d (%s)", path, error, r, err);
        cr_assert(eq(str, err, (char *) expected));
        cr_assert(zero(ptr, tree));
}

Test(config_file, errors_name_the_file)
{
        load_fails(CONFIG_FILES_DIR "/bad-syntax.yaml", -EINVAL,
                   CONFIG_FILES_DIR "/bad-syntax.yaml: line 5, column 3: did not find expected key (while "
                                    "parsing a block mapping at line 4, column 3)");
        load_fails(CONFIG_FILES_DIR "/bad-syntax.json", -EINVAL,
                   CONFIG_FILES_DIR "/bad-syntax.json: line 3, column 29: not valid JSON");
        load_fails(CONFIG_FILES_DIR "/missing.yaml", -ENOENT,
                   CONFIG_FILES_DIR "/missing.yaml: No such file or directory");
        load_fails(CONFIG_FILES_DIR, -EISDIR, CONFIG_FILES_DIR ": is a directory");
        load_fails("/dev/null", -EINVAL, "/dev/null: not a regular file");
}

Test(config_file, values_are_checked_by_the_decoder)
{
        _cleanup_json_ cJSON *tree = NULL;
        char err[512] = "";
        VmConfig c;

        cr_assert(eq(int, config_tree_load(CONFIG_FILES_DIR "/bad-value.yaml", &tree, err, sizeof err), 0));
        vm_config_init(&c);
        cr_assert(eq(int, vm_config_from_json(tree, &c, err, sizeof err), -EINVAL));
        cr_assert(eq(str, err, "memory.size: expected an integer, got a string"));
}
