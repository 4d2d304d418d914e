/* SPDX-License-Identifier: Apache-2.0 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "vm-config.h"

static void cjson_deletep(cJSON **j)
{
        if (*j)
                cJSON_Delete(*j);
}
#define _cleanup_json_ _cleanup_(cjson_deletep)

/* Parses json (which must be valid JSON) and decodes it. */
static int decode(const char *json, VmConfig *c, char *err, size_t errlen)
{
        _cleanup_json_ cJSON *root = cJSON_Parse(json);

        cr_assert(not(zero(ptr, root)), "test JSON does not parse: %s", json);
        return vm_config_from_json(root, c, err, errlen);
}

static void decode_ok(const char *json, VmConfig *c)
{
        char err[256] = "untouched";
        int r = decode(json, c, err, sizeof err);

        cr_assert(eq(int, r, 0), "%s: unexpected error: %s", json, err);
        cr_assert(eq(str, err, ""), "no error text on success");
}

/* Decoding json must fail with exactly the message expected. */
static void decode_fails(const char *json, const char *expected)
{
        VmConfig c;
        char err[512] = "";
        int r;

        vm_config_init(&c);
        c.cpus.boot_vcpus = 77; /* must survive a failure */
        r = decode(json, &c, err, sizeof err);
        cr_assert(eq(int, r, -EINVAL), "%s: expected -EINVAL, got %d", json, r);
        cr_assert(eq(str, err, (char *) expected), "%s", json);
        cr_assert(eq(u32, c.cpus.boot_vcpus, 77), "%s: the output was touched on failure", json);
        vm_config_done(&c);
}

#define KERNEL "\"payload\":{\"kernel\":\"/boot/vmlinux\"}"

Test(vm_config, init_defaults)
{
        VmConfig c;

        vm_config_init(&c);
        cr_assert(eq(u32, c.cpus.boot_vcpus, 1));
        cr_assert(eq(u32, c.cpus.max_vcpus, 1));
        cr_assert(eq(u32, c.cpus.max_phys_bits, 46));
        cr_assert(eq(u64, c.memory.size, 512 * MiB));
        cr_assert(eq(int, c.memory.shared, false));
        cr_assert(eq(int, c.memory.hugepages, false));
        cr_assert(eq(int, c.memory.prefault, false));
        cr_assert(eq(int, c.memory.mergeable, false));
        cr_assert(eq(int, c.memory.thp, true));
        cr_assert(zero(ptr, c.payload.kernel));
        cr_assert(zero(ptr, c.payload.cmdline));
        cr_assert(zero(ptr, c.payload.initramfs));
        cr_assert(eq(int, c.serial.mode, CONSOLE_NULL));
        cr_assert(eq(int, c.console.mode, CONSOLE_TTY));
        cr_assert(zero(ptr, c.serial.file));
        cr_assert(zero(ptr, c.console.socket));
}

Test(vm_config, console_mode_strings)
{
        static const struct {
                ConsoleMode mode;
                const char *name;
        } table[] = {
                { CONSOLE_OFF, "Off" },   { CONSOLE_PTY, "Pty" },       { CONSOLE_TTY, "Tty" },
                { CONSOLE_FILE, "File" }, { CONSOLE_SOCKET, "Socket" }, { CONSOLE_NULL, "Null" },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                cr_assert(eq(str, (char *) console_mode_to_string(table[i].mode), (char *) table[i].name));
                cr_assert(eq(int, console_mode_from_string(table[i].name), table[i].mode));
        }
        cr_assert(eq(int, console_mode_from_string("tty"), _CONSOLE_MODE_INVALID));
        cr_assert(eq(int, console_mode_from_string(""), _CONSOLE_MODE_INVALID));
        cr_assert(eq(int, console_mode_from_string(NULL), _CONSOLE_MODE_INVALID));
        cr_assert(zero(ptr, (void *) console_mode_to_string(_CONSOLE_MODE_MAX)));
        cr_assert(zero(ptr, (void *) console_mode_to_string(_CONSOLE_MODE_INVALID)));
}

Test(vm_config, minimal_gets_defaults)
{
        VmConfig c;

        decode_ok("{" KERNEL "}", &c);
        cr_assert(eq(str, c.payload.kernel, "/boot/vmlinux"));
        cr_assert(zero(ptr, c.payload.cmdline));
        cr_assert(eq(u32, c.cpus.boot_vcpus, 1));
        cr_assert(eq(u32, c.cpus.max_vcpus, 1));
        cr_assert(eq(u32, c.cpus.max_phys_bits, 46));
        cr_assert(eq(u64, c.memory.size, 512 * MiB));
        cr_assert(eq(int, c.memory.thp, true));
        cr_assert(eq(int, c.serial.mode, CONSOLE_NULL));
        cr_assert(eq(int, c.console.mode, CONSOLE_TTY));
        vm_config_done(&c);
        /* done frees and returns to the defaults */
        cr_assert(zero(ptr, c.payload.kernel));
        cr_assert(eq(u64, c.memory.size, 512 * MiB));
}

Test(vm_config, full_valid)
{
        static const char json[] =
                "{"
                "  \"cpus\": { \"boot_vcpus\": 2, \"max_vcpus\": 8, \"max_phys_bits\": 40,"
                "            \"topology\": null, \"kvm_hyperv\": false, \"nested\": false },"
                "  \"memory\": { \"size\": 2147483648, \"shared\": true, \"hugepages\": false,"
                "              \"prefault\": true, \"mergeable\": true, \"thp\": false,"
                "              \"hotplug_size\": null, \"zones\": null },"
                "  \"payload\": { \"kernel\": \"/k/vmlinux\", \"cmdline\": \"console=ttyS0 quiet\","
                "               \"initramfs\": \"/k/initrd.img\", \"firmware\": null },"
                "  \"serial\": { \"mode\": \"File\", \"file\": \"/tmp/serial.log\", \"iommu\": false },"
                "  \"console\": { \"mode\": \"Off\", \"file\": null, \"socket\": null },"
                "  \"disks\": null, \"net\": null, \"rng\": null, \"iommu\": false, \"pvpanic\": false,"
                "  \"landlock_enable\": false"
                "}";
        VmConfig c;

        decode_ok(json, &c);
        cr_assert(eq(u32, c.cpus.boot_vcpus, 2));
        cr_assert(eq(u32, c.cpus.max_vcpus, 8));
        cr_assert(eq(u32, c.cpus.max_phys_bits, 40));
        cr_assert(eq(u64, c.memory.size, 2 * GiB));
        cr_assert(eq(int, c.memory.shared, true));
        cr_assert(eq(int, c.memory.hugepages, false));
        cr_assert(eq(int, c.memory.prefault, true));
        cr_assert(eq(int, c.memory.mergeable, true));
        cr_assert(eq(int, c.memory.thp, false));
        cr_assert(eq(str, c.payload.kernel, "/k/vmlinux"));
        cr_assert(eq(str, c.payload.cmdline, "console=ttyS0 quiet"));
        cr_assert(eq(str, c.payload.initramfs, "/k/initrd.img"));
        cr_assert(eq(int, c.serial.mode, CONSOLE_FILE));
        cr_assert(eq(str, c.serial.file, "/tmp/serial.log"));
        cr_assert(zero(ptr, c.serial.socket));
        cr_assert(eq(int, c.console.mode, CONSOLE_OFF));
        cr_assert(zero(ptr, c.console.file));
        vm_config_done(&c);
}

Test(vm_config, max_vcpus_defaults_to_boot_vcpus)
{
        VmConfig c;

        decode_ok("{\"cpus\":{\"boot_vcpus\":4}," KERNEL "}", &c);
        cr_assert(eq(u32, c.cpus.boot_vcpus, 4));
        cr_assert(eq(u32, c.cpus.max_vcpus, 4));
        vm_config_done(&c);

        decode_ok("{\"cpus\":{\"max_vcpus\":3}," KERNEL "}", &c);
        cr_assert(eq(u32, c.cpus.boot_vcpus, 1));
        cr_assert(eq(u32, c.cpus.max_vcpus, 3));
        vm_config_done(&c);
}

Test(vm_config, limits_accepted)
{
        VmConfig c;

        decode_ok("{\"cpus\":{\"boot_vcpus\":254,\"max_vcpus\":254,\"max_phys_bits\":52},"
                  "\"memory\":{\"size\":67108864}," KERNEL "}",
                  &c);
        cr_assert(eq(u32, c.cpus.boot_vcpus, CHV_MAX_VCPUS));
        cr_assert(eq(u32, c.cpus.max_phys_bits, 52));
        cr_assert(eq(u64, c.memory.size, 64 * MiB));
        vm_config_done(&c);

        decode_ok("{\"memory\":{\"size\":70368744177664},\"cpus\":{\"max_phys_bits\":32}," KERNEL "}", &c);
        cr_assert(eq(u64, c.memory.size, UINT64_C(1) << 46));
        vm_config_done(&c);
}

Test(vm_config, null_sections_are_defaults)
{
        VmConfig c;

        decode_ok("{\"cpus\":null,\"memory\":null,\"serial\":null,\"console\":null," KERNEL "}", &c);
        cr_assert(eq(u32, c.cpus.boot_vcpus, 1));
        cr_assert(eq(u64, c.memory.size, 512 * MiB));
        cr_assert(eq(int, c.serial.mode, CONSOLE_NULL));
        vm_config_done(&c);
}

Test(vm_config, console_modes)
{
        static const struct {
                const char *json;
                ConsoleMode mode;
        } table[] = {
                { "{\"mode\":\"Off\"}", CONSOLE_OFF },
                { "{\"mode\":\"Null\"}", CONSOLE_NULL },
                { "{\"mode\":\"Tty\"}", CONSOLE_TTY },
                { "{\"mode\":\"File\",\"file\":\"/x\"}", CONSOLE_FILE },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                char json[256];
                VmConfig c;

                snprintf(json, sizeof json, "{\"serial\":%s,\"console\":%s," KERNEL "}", table[i].json,
                         table[i].json);
                decode_ok(json, &c);
                cr_assert(eq(int, c.serial.mode, table[i].mode), "%s", json);
                cr_assert(eq(int, c.console.mode, table[i].mode), "%s", json);
                vm_config_done(&c);
        }
}

Test(vm_config, cpus_errors)
{
        decode_fails("{\"cpus\":{\"boot_vcpus\":0}," KERNEL "}",
                     "cpus.boot_vcpus: 0 is out of range (1..254)");
        decode_fails("{\"cpus\":{\"boot_vcpus\":255}," KERNEL "}",
                     "cpus.boot_vcpus: 255 is out of range (1..254)");
        decode_fails("{\"cpus\":{\"max_vcpus\":0}," KERNEL "}",
                     "cpus.max_vcpus: 0 is out of range (1..254)");
        decode_fails("{\"cpus\":{\"max_vcpus\":1000}," KERNEL "}",
                     "cpus.max_vcpus: 1000 is out of range (1..254)");
        decode_fails("{\"cpus\":{\"boot_vcpus\":4,\"max_vcpus\":2}," KERNEL "}",
                     "cpus.max_vcpus: 2 is less than boot_vcpus (4)");
        decode_fails("{\"cpus\":{\"max_phys_bits\":31}," KERNEL "}",
                     "cpus.max_phys_bits: 31 is out of range (32..52)");
        decode_fails("{\"cpus\":{\"max_phys_bits\":53}," KERNEL "}",
                     "cpus.max_phys_bits: 53 is out of range (32..52)");
}

Test(vm_config, wrong_types)
{
        static const struct {
                const char *json;
                const char *error;
        } table[] = {
                { "{\"cpus\":{\"boot_vcpus\":\"2\"}," KERNEL "}",
                  "cpus.boot_vcpus: expected an integer, got a string" },
                { "{\"cpus\":{\"boot_vcpus\":true}," KERNEL "}",
                  "cpus.boot_vcpus: expected an integer, got a boolean" },
                { "{\"cpus\":{\"max_vcpus\":null}," KERNEL "}",
                  "cpus.max_vcpus: expected an integer, got null" },
                { "{\"cpus\":{\"max_phys_bits\":[40]}," KERNEL "}",
                  "cpus.max_phys_bits: expected an integer, got an array" },
                { "{\"cpus\":{\"boot_vcpus\":1.5}," KERNEL "}",
                  "cpus.boot_vcpus: expected a non-negative integer, got 1.5" },
                { "{\"cpus\":{\"boot_vcpus\":-1}," KERNEL "}",
                  "cpus.boot_vcpus: expected a non-negative integer, got -1" },
                { "{\"memory\":{\"size\":\"1G\"}," KERNEL "}",
                  "memory.size: expected an integer, got a string" },
                { "{\"memory\":{\"size\":{}}," KERNEL "}",
                  "memory.size: expected an integer, got an object" },
                { "{\"memory\":{\"shared\":\"on\"}," KERNEL "}",
                  "memory.shared: expected a boolean, got a string" },
                { "{\"memory\":{\"hugepages\":1}," KERNEL "}",
                  "memory.hugepages: expected a boolean, got a number" },
                { "{\"memory\":{\"prefault\":null}," KERNEL "}",
                  "memory.prefault: expected a boolean, got null" },
                { "{\"memory\":{\"mergeable\":[]}," KERNEL "}",
                  "memory.mergeable: expected a boolean, got an array" },
                { "{\"memory\":{\"thp\":{}}," KERNEL "}", "memory.thp: expected a boolean, got an object" },
                { "{\"payload\":{\"kernel\":5}}", "payload.kernel: expected a string, got a number" },
                { "{\"payload\":{\"kernel\":\"/k\",\"cmdline\":false}}",
                  "payload.cmdline: expected a string, got a boolean" },
                { "{\"payload\":{\"kernel\":\"/k\",\"initramfs\":[]}}",
                  "payload.initramfs: expected a string, got an array" },
                { "{\"serial\":{\"mode\":1}," KERNEL "}", "serial.mode: expected a string, got a number" },
                { "{\"console\":{\"mode\":\"Tty\",\"file\":7}," KERNEL "}",
                  "console.file: expected a string, got a number" },
                { "{\"serial\":{\"mode\":\"Tty\",\"socket\":true}," KERNEL "}",
                  "serial.socket: expected a string, got a boolean" },
                { "{\"serial\":{\"iommu\":\"no\"}," KERNEL "}",
                  "serial.iommu: expected a boolean, got a string" },
                { "{\"cpus\":4," KERNEL "}", "cpus: expected an object, got a number" },
                { "{\"memory\":[]," KERNEL "}", "memory: expected an object, got an array" },
                { "{\"payload\":\"/k\"}", "payload: expected an object, got a string" },
                { "{\"serial\":\"tty\"," KERNEL "}", "serial: expected an object, got a string" },
                { "{\"console\":true," KERNEL "}", "console: expected an object, got a boolean" },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                decode_fails(table[i].json, table[i].error);
}

Test(vm_config, memory_errors)
{
        decode_fails("{\"memory\":{\"size\":67108865}," KERNEL "}",
                     "memory.size: 67108865 is not a multiple of 4 KiB");
        decode_fails("{\"memory\":{\"size\":536870913}," KERNEL "}",
                     "memory.size: 536870913 is not a multiple of 4 KiB");
        decode_fails("{\"memory\":{\"size\":1048576}," KERNEL "}",
                     "memory.size: 1048576 is out of range (67108864..70368744177664)");
        decode_fails("{\"memory\":{\"size\":0}," KERNEL "}",
                     "memory.size: 0 is out of range (67108864..70368744177664)");
        decode_fails("{\"memory\":{\"size\":67104768}," KERNEL "}",
                     "memory.size: 67104768 is out of range (67108864..70368744177664)");
        decode_fails("{\"memory\":{\"size\":140737488355328}," KERNEL "}",
                     "memory.size: 140737488355328 is out of range (67108864..70368744177664)");
}

Test(vm_config, huge_numbers)
{
        /* Beyond what a double holds exactly, and beyond 64 bits: rejected, never truncated. */
        decode_fails("{\"memory\":{\"size\":18014398509481984}," KERNEL "}",
                     "memory.size: expected a non-negative integer, got 1.80144e+16");
        decode_fails("{\"memory\":{\"size\":1e20}," KERNEL "}",
                     "memory.size: expected a non-negative integer, got 1e+20");
        decode_fails("{\"cpus\":{\"boot_vcpus\":1e300}," KERNEL "}",
                     "cpus.boot_vcpus: expected a non-negative integer, got 1e+300");
        decode_fails("{\"cpus\":{\"boot_vcpus\":4294967298}," KERNEL "}",
                     "cpus.boot_vcpus: 4294967298 is out of range (1..254)");
}

Test(vm_config, unknown_fields)
{
        decode_fails("{\"bogus\":1," KERNEL "}", "bogus: unknown field");
        decode_fails("{\"Cpus\":{}," KERNEL "}", "Cpus: unknown field");
        decode_fails("{\"cpus\":{\"boot\":2}," KERNEL "}", "cpus.boot: unknown field");
        decode_fails("{\"memory\":{\"sizes\":2}," KERNEL "}", "memory.sizes: unknown field");
        decode_fails("{\"payload\":{\"kernel\":\"/k\",\"kernal\":\"/k\"}}", "payload.kernal: unknown field");
        decode_fails("{\"serial\":{\"mode\":\"Tty\",\"path\":\"/x\"}," KERNEL "}",
                     "serial.path: unknown field");
        decode_fails("{\"console\":{\"x\":null}," KERNEL "}", "console.x: unknown field");
        /* null does not excuse an unknown name */
        decode_fails("{\"bogus\":null," KERNEL "}", "bogus: unknown field");
}

Test(vm_config, unsupported_fields)
{
        decode_fails("{\"disks\":[{\"path\":\"/d.img\"}]," KERNEL "}", "disks: not supported by chv yet");
        decode_fails("{\"net\":[]," KERNEL "}", "net: not supported by chv yet");
        decode_fails("{\"iommu\":true," KERNEL "}", "iommu: not supported by chv yet");
        decode_fails("{\"landlock_enable\":true," KERNEL "}", "landlock_enable: not supported by chv yet");
        decode_fails("{\"cpus\":{\"topology\":{\"threads_per_core\":2}}," KERNEL "}",
                     "cpus.topology: not supported by chv yet");
        decode_fails("{\"cpus\":{\"nested\":true}," KERNEL "}", "cpus.nested: not supported by chv yet");
        decode_fails("{\"memory\":{\"hotplug_size\":1073741824}," KERNEL "}",
                     "memory.hotplug_size: not supported by chv yet");
        decode_fails("{\"memory\":{\"zones\":[]}," KERNEL "}", "memory.zones: not supported by chv yet");
        decode_fails("{\"payload\":{\"kernel\":\"/k\",\"firmware\":\"/fw\"}}",
                     "payload.firmware: not supported by chv yet");
        decode_fails("{\"payload\":{\"kernel\":\"/k\",\"igvm\":\"/i\"}}",
                     "payload.igvm: not supported by chv yet");
}

Test(vm_config, unsupported_fields_with_neutral_values)
{
        VmConfig c;

        decode_ok("{\"disks\":null,\"net\":null,\"iommu\":false,\"watchdog\":false,\"pvpanic\":false,"
                  "\"cpus\":{\"kvm_hyperv\":false,\"affinity\":null},"
                  "\"memory\":{\"hugepage_size\":null,\"reserve\":false}," KERNEL "}",
                  &c);
        vm_config_done(&c);
}

Test(vm_config, payload_errors)
{
        decode_fails("{}", "payload.kernel: a kernel is required");
        decode_fails("{\"payload\":{}}", "payload.kernel: a kernel is required");
        decode_fails("{\"payload\":null}", "payload.kernel: a kernel is required");
        decode_fails("{\"payload\":{\"kernel\":null}}", "payload.kernel: a kernel is required");
        decode_fails("{\"payload\":{\"cmdline\":\"quiet\"}}", "payload.kernel: a kernel is required");
        decode_fails("{\"payload\":{\"kernel\":\"\"}}", "payload.kernel: must not be empty");
        decode_fails("{\"payload\":{\"kernel\":\"/k\",\"initramfs\":\"\"}}",
                     "payload.initramfs: must not be empty");
}

Test(vm_config, empty_cmdline_is_fine)
{
        VmConfig c;

        decode_ok("{\"payload\":{\"kernel\":\"/k\",\"cmdline\":\"\"}}", &c);
        cr_assert(eq(str, c.payload.cmdline, ""));
        vm_config_done(&c);
}

static char *json_with_cmdline(size_t len)
{
        static const char head[] = "{\"payload\":{\"kernel\":\"/k\",\"cmdline\":\"";
        static const char tail[] = "\"}}";
        char *s = malloc(sizeof head + len + sizeof tail);

        cr_assert(not(zero(ptr, s)));
        memcpy(s, head, sizeof head - 1);
        memset(s + sizeof head - 1, 'a', len);
        memcpy(s + sizeof head - 1 + len, tail, sizeof tail);
        return s;
}

Test(vm_config, cmdline_length)
{
        _cleanup_free_ char *ok = json_with_cmdline(4095), *too_long = json_with_cmdline(4096),
                            *much_too_long = json_with_cmdline(10000);
        VmConfig c;

        decode_ok(ok, &c);
        cr_assert(eq(sz, strlen(c.payload.cmdline), 4095));
        vm_config_done(&c);

        decode_fails(too_long,
                     "payload.cmdline: 4096 bytes is longer than the 4095 the boot protocol allows");
        decode_fails(much_too_long,
                     "payload.cmdline: 10000 bytes is longer than the 4095 the boot protocol allows");
}

Test(vm_config, console_errors)
{
        decode_fails("{\"serial\":{\"mode\":\"file\"}," KERNEL "}",
                     "serial.mode: \"file\" is not one of Off, Null, Tty, Pty, File, Socket");
        decode_fails("{\"console\":{\"mode\":\"\"}," KERNEL "}",
                     "console.mode: \"\" is not one of Off, Null, Tty, Pty, File, Socket");
        decode_fails("{\"serial\":{\"mode\":\"File\"}," KERNEL "}", "serial: mode File needs a file");
        decode_fails("{\"serial\":{\"mode\":\"File\",\"file\":null}," KERNEL "}",
                     "serial: mode File needs a file");
        decode_fails("{\"console\":{\"mode\":\"File\",\"file\":\"\"}," KERNEL "}",
                     "console.file: must not be empty");
        decode_fails("{\"console\":{\"mode\":\"Socket\"}," KERNEL "}",
                     "console: mode Socket needs a socket");
        decode_fails("{\"serial\":{\"mode\":\"Socket\",\"socket\":\"/run/s\"}," KERNEL "}",
                     "serial.mode: Socket is not supported by chv yet");
        decode_fails("{\"console\":{\"mode\":\"Pty\"}," KERNEL "}",
                     "console.mode: Pty is not supported by chv yet");
}

Test(vm_config, root_must_be_an_object)
{
        decode_fails("[]", "the configuration must be an object, got an array");
        decode_fails("42", "the configuration must be an object, got a number");
        decode_fails("null", "the configuration must be an object, got null");
}

Test(vm_config, error_buffer_small_or_absent)
{
        _cleanup_json_ cJSON *root = cJSON_Parse("{\"cpus\":{\"boot_vcpus\":0}," KERNEL "}");
        VmConfig c;
        char small[12];

        memset(small, 'x', sizeof small);
        cr_assert(eq(int, vm_config_from_json(root, &c, small, sizeof small), -EINVAL));
        cr_assert(eq(str, small, "cpus.boot_v"));
        cr_assert(eq(int, vm_config_from_json(root, &c, NULL, 0), -EINVAL));
        cr_assert(eq(int, vm_config_from_json(NULL, &c, NULL, 0), -EINVAL));
}

static void assert_configs_equal(const VmConfig *a, const VmConfig *b)
{
        cr_assert(eq(u32, a->cpus.boot_vcpus, b->cpus.boot_vcpus));
        cr_assert(eq(u32, a->cpus.max_vcpus, b->cpus.max_vcpus));
        cr_assert(eq(u32, a->cpus.max_phys_bits, b->cpus.max_phys_bits));
        cr_assert(eq(u64, a->memory.size, b->memory.size));
        cr_assert(eq(int, a->memory.shared, b->memory.shared));
        cr_assert(eq(int, a->memory.hugepages, b->memory.hugepages));
        cr_assert(eq(int, a->memory.prefault, b->memory.prefault));
        cr_assert(eq(int, a->memory.mergeable, b->memory.mergeable));
        cr_assert(eq(int, a->memory.thp, b->memory.thp));
        cr_assert(streq_ptr(a->payload.kernel, b->payload.kernel));
        cr_assert(streq_ptr(a->payload.cmdline, b->payload.cmdline));
        cr_assert(streq_ptr(a->payload.initramfs, b->payload.initramfs));
        cr_assert(eq(int, a->serial.mode, b->serial.mode));
        cr_assert(streq_ptr(a->serial.file, b->serial.file));
        cr_assert(streq_ptr(a->serial.socket, b->serial.socket));
        cr_assert(eq(int, a->console.mode, b->console.mode));
        cr_assert(streq_ptr(a->console.file, b->console.file));
        cr_assert(streq_ptr(a->console.socket, b->console.socket));
}

static void round_trip(const VmConfig *a)
{
        _cleanup_json_ cJSON *j = vm_config_to_json(a), *j2 = NULL;
        VmConfig b;
        char err[256];
        int r;

        cr_assert(not(zero(ptr, j)));
        r = vm_config_from_json(j, &b, err, sizeof err);
        cr_assert(eq(int, r, 0), "round trip failed: %s", err);
        assert_configs_equal(a, &b);
        j2 = vm_config_to_json(&b);
        cr_assert(cJSON_Compare(j, j2, true), "to_json(from_json(to_json(c))) differs from to_json(c)");
        vm_config_done(&b);
}

Test(vm_config, round_trip_defaults)
{
        VmConfig c;

        vm_config_init(&c);
        c.payload.kernel = strdup("/boot/vmlinuz");
        round_trip(&c);
        vm_config_done(&c);
}

Test(vm_config, round_trip_everything_set)
{
        VmConfig c;

        vm_config_init(&c);
        c.cpus = (CpusConfig) { .boot_vcpus = 3, .max_vcpus = 254, .max_phys_bits = 39 };
        c.memory = (MemoryConfig) { .size = 64 * GiB + 4 * KiB,
                                   .shared = true,
                                   .hugepages = true,
                                   .prefault = true,
                                   .mergeable = true,
                                   .thp = false };
        c.payload.kernel = strdup("/k/vmlinux");
        c.payload.cmdline = strdup("console=ttyS0 root=/dev/vda1 \"quoted\" \\ back");
        c.payload.initramfs = strdup("/k/initrd");
        c.serial.mode = CONSOLE_FILE;
        c.serial.file = strdup("/tmp/serial,with,commas");
        c.console.mode = CONSOLE_OFF;
        round_trip(&c);
        vm_config_done(&c);
}

Test(vm_config, to_json_shape)
{
        _cleanup_json_ cJSON *j = NULL;
        VmConfig c;
        const cJSON *o;

        vm_config_init(&c);
        c.payload.kernel = strdup("/k");
        c.memory.size = 3 * GiB;
        j = vm_config_to_json(&c);
        cr_assert(not(zero(ptr, j)));
        o = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "memory"), "size");
        cr_assert(cJSON_IsNumber(o));
        cr_assert(eq(dbl, o->valuedouble, (double) (3 * GiB)));
        o = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "serial"), "mode");
        cr_assert(eq(str, cJSON_GetStringValue(o), "Null"));
        o = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "console"), "mode");
        cr_assert(eq(str, cJSON_GetStringValue(o), "Tty"));
        o = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "payload"), "cmdline");
        cr_assert(zero(ptr, (void *) o));
        vm_config_done(&c);
}
