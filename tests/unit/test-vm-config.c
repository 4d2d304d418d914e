/* SPDX-License-Identifier: Apache-2.0 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <arpa/inet.h>

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

typedef struct ErrorCase {
        const char *json;
        const char *error;
} ErrorCase;

/* Each case's json, between head and tail, must fail with its error. */
static void decode_fails_between(const char *head, const ErrorCase *table, size_t n, const char *tail)
{
        for (size_t i = 0; i < n; i++) {
                char json[1024];
                snprintf(json, sizeof json, "%s%s%s", head, table[i].json, tail);
                decode_fails(json, table[i].error);
        }
}

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
        cr_assert(zero(ptr, c.disks));
        cr_assert(eq(sz, c.n_disks, 0));
        cr_assert(zero(ptr, c.net));
        cr_assert(eq(sz, c.n_net, 0));
        cr_assert(zero(ptr, c.rng.src), "the rng source is filled in by decoding");
        cr_assert(eq(i32, c.rng.pci_device_id, -1));
        cr_assert(eq(i32, c.console.pci_device_id, -1));
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
                { "{\"mode\":\"Pty\"}", CONSOLE_PTY },
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
        static const ErrorCase table[] = {
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
                { "{\"console\":{\"pci_device_id\":\"3\"}," KERNEL "}",
                  "console.pci_device_id: expected an integer, got a string" },
                { "{\"console\":{\"id\":3}," KERNEL "}", "console.id: expected a string, got a number" },
                { "{\"cpus\":4," KERNEL "}", "cpus: expected an object, got a number" },
                { "{\"memory\":[]," KERNEL "}", "memory: expected an object, got an array" },
                { "{\"payload\":\"/k\"}", "payload: expected an object, got a string" },
                { "{\"serial\":\"tty\"," KERNEL "}", "serial: expected an object, got a string" },
                { "{\"console\":true," KERNEL "}", "console: expected an object, got a boolean" },
        };

        decode_fails_between("", table, ELEMENTSOF(table), "");
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
        decode_fails("{\"balloon\":{\"size\":1048576}," KERNEL "}", "balloon: not supported by chv yet");
        decode_fails("{\"fs\":[]," KERNEL "}", "fs: not supported by chv yet");
        decode_fails("{\"serial\":{\"iommu\":true}," KERNEL "}", "serial.iommu: not supported by chv yet");
        decode_fails("{\"console\":{\"iommu\":\"no\"}," KERNEL "}",
                     "console.iommu: not supported by chv yet");
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

        decode_ok("{\"disks\":null,\"net\":null,\"rng\":null,\"balloon\":null,\"iommu\":false,"
                  "\"watchdog\":false,\"pvpanic\":false,"
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
        /* The serial port is no PCI device. */
        decode_fails("{\"serial\":{\"id\":\"s\"}," KERNEL "}", "serial.id: unknown field");
        decode_fails("{\"serial\":{\"pci_device_id\":3}," KERNEL "}", "serial.pci_device_id: unknown field");
        decode_fails("{\"console\":{\"pci_segment\":1}," KERNEL "}",
                     "console.pci_segment: segment 1 is not supported by chv yet (only 0)");
        decode_fails("{\"console\":{\"pci_device_id\":0}," KERNEL "}",
                     "console.pci_device_id: 0 is out of range (1..31)");
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

static void assert_disks_equal(const DiskConfig *a, const DiskConfig *b)
{
        cr_assert(streq_ptr(a->path, b->path));
        cr_assert(eq(int, a->readonly, b->readonly));
        cr_assert(eq(int, a->direct, b->direct));
        cr_assert(eq(u32, a->num_queues, b->num_queues));
        cr_assert(eq(u32, a->queue_size, b->queue_size));
        cr_assert(streq_ptr(a->serial, b->serial));
        cr_assert(eq(i32, a->pci_device_id, b->pci_device_id));
        cr_assert(eq(u16, a->pci_segment, b->pci_segment));
}

static void assert_nets_equal(const NetConfig *a, const NetConfig *b)
{
        cr_assert(streq_ptr(a->tap, b->tap));
        cr_assert(eq(int, a->host_mac_set, b->host_mac_set));
        if (a->host_mac_set)
                cr_assert(eq(int, memcmp(a->host_mac, b->host_mac, 6), 0));
        cr_assert(eq(int, a->ip_set, b->ip_set));
        if (a->ip_set) {
                cr_assert(eq(u32, a->ip.s_addr, b->ip.s_addr));
                cr_assert(eq(u32, a->mask.s_addr, b->mask.s_addr));
        }
        cr_assert(eq(u16, a->mtu, b->mtu));
        cr_assert(eq(u32, a->num_queues, b->num_queues));
        cr_assert(eq(u32, a->queue_size, b->queue_size));
        cr_assert(eq(sz, a->n_fds, b->n_fds));
        for (size_t i = 0; i < a->n_fds; i++)
                cr_assert(eq(int, a->fds[i], b->fds[i]));
        cr_assert(eq(int, a->offload_tso, b->offload_tso));
        cr_assert(eq(int, a->offload_ufo, b->offload_ufo));
        cr_assert(eq(int, a->offload_csum, b->offload_csum));
        cr_assert(eq(i32, a->pci_device_id, b->pci_device_id));
        cr_assert(eq(u16, a->pci_segment, b->pci_segment));
}

/* b is a decoded from a: equal where a says something, and completed where a leaves it open. */
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
        cr_assert(eq(i32, a->console.pci_device_id, b->console.pci_device_id));
        cr_assert(eq(sz, a->n_disks, b->n_disks));
        for (size_t i = 0; i < a->n_disks; i++)
                assert_disks_equal(&a->disks[i], &b->disks[i]);
        cr_assert(eq(sz, a->n_net, b->n_net));
        for (size_t i = 0; i < a->n_net; i++) {
                assert_nets_equal(&a->net[i], &b->net[i]);
                /* A MAC decoded was given; one chosen at random is kept. */
                cr_assert(eq(int, memcmp(a->net[i].mac, b->net[i].mac, 6), 0));
        }
        cr_assert(streq_ptr(a->rng.src ?: "/dev/urandom", b->rng.src));
        cr_assert(eq(i32, a->rng.pci_device_id, b->rng.pci_device_id));

        /* Ids given are kept; the others are filled in. */
        for (size_t i = 0; i < a->n_disks; i++)
                cr_assert(a->disks[i].id ? streq(a->disks[i].id, b->disks[i].id) : b->disks[i].id != NULL);
        for (size_t i = 0; i < a->n_net; i++)
                cr_assert(a->net[i].id ? streq(a->net[i].id, b->net[i].id) : b->net[i].id != NULL);
        cr_assert(streq_ptr(a->rng.id ?: "__rng", b->rng.id));
        if (a->console.id)
                cr_assert(streq(a->console.id, b->console.id));
}

static void decode_json(const cJSON *j, VmConfig *c)
{
        char err[256];
        int r = vm_config_from_json(j, c, err, sizeof err);

        cr_assert(eq(int, r, 0), "round trip failed: %s", err);
}

/*
 * a goes to JSON and back as b, which must say what a says (and fill in what a leaves open: ids, the
 * rng source); b then goes round exactly.
 */
static void round_trip(const VmConfig *a)
{
        _cleanup_json_ cJSON *j = vm_config_to_json(a), *j2 = NULL, *j3 = NULL;
        VmConfig b, b2;

        cr_assert(not(zero(ptr, j)));
        decode_json(j, &b);
        assert_configs_equal(a, &b);
        j2 = vm_config_to_json(&b);
        cr_assert(not(zero(ptr, j2)));
        decode_json(j2, &b2);
        assert_configs_equal(&b, &b2);
        j3 = vm_config_to_json(&b2);
        cr_assert(cJSON_Compare(j2, j3, true), "to_json(from_json(to_json(c))) differs from to_json(c)");
        vm_config_done(&b);
        vm_config_done(&b2);
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
        c.console.mode = CONSOLE_PTY;
        c.console.id = strdup("hvc");
        c.console.pci_device_id = 9;

        c.n_disks = 3;
        c.disks = calloc(c.n_disks, sizeof *c.disks);
        c.disks[0] = (DiskConfig) { .path = strdup("/img/root.raw"), .readonly = true, .direct = true,
                                    .num_queues = 3, .queue_size = 32768,
                                    .serial = strdup("01234567890123456789"), .id = strdup("root"),
                                    .pci_device_id = 31 };
        c.disks[1] = (DiskConfig) { .path = strdup("/img/data,1.raw"), .num_queues = 1, .queue_size = 4,
                                    .pci_device_id = -1 };
        c.disks[2] = (DiskConfig) { .path = strdup("/img/\"q\""), .num_queues = 2, .queue_size = 128,
                                    .id = strdup("_net0"), .pci_device_id = 1 };

        c.n_net = 2;
        c.net = calloc(c.n_net, sizeof *c.net);
        c.net[0] = (NetConfig) { .tap = strdup("chvtap0"), .mac = { 0x52, 0x54, 0, 1, 2, 3 },
                                 .mac_set = true,
                                 .host_mac = { 0xfe, 0, 0, 0, 0, 1 }, .host_mac_set = true, .ip_set = true,
                                 .mtu = 9000, .num_queues = 2, .queue_size = 1, .offload_tso = false,
                                 .offload_ufo = false, .offload_csum = false, .pci_device_id = 2 };
        inet_pton(AF_INET, "10.0.0.1", &c.net[0].ip);
        inet_pton(AF_INET, "255.255.252.0", &c.net[0].mask);
        c.net[1] = (NetConfig) { .mac = { 0x2e, 0xaa, 0xbb, 0xcc, 0xdd, 0xee }, .num_queues = 2,
                                 .queue_size = 256,
                                 .offload_tso = true, .offload_ufo = true, .offload_csum = true,
                                 .id = strdup("uplink"), .pci_device_id = -1 };
        c.net[1].n_fds = 1;
        c.net[1].fds = calloc(1, sizeof(int));
        c.net[1].fds[0] = 7;

        c.rng.src = strdup("/dev/hwrng");
        c.rng.id = strdup("entropy");
        c.rng.pci_device_id = 30;
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

/* Devices */

#define CPUS2 "\"cpus\":{\"boot_vcpus\":2},"

Test(vm_config, devices_absent)
{
        VmConfig c;

        decode_ok("{" KERNEL "}", &c);
        cr_assert(eq(sz, c.n_disks, 0));
        cr_assert(zero(ptr, c.disks));
        cr_assert(eq(sz, c.n_net, 0));
        cr_assert(zero(ptr, c.net));
        /* virtio-rng is always there, as in Cloud Hypervisor. */
        cr_assert(eq(str, c.rng.src, "/dev/urandom"));
        cr_assert(eq(str, c.rng.id, "__rng"));
        cr_assert(eq(i32, c.rng.pci_device_id, -1));
        cr_assert(eq(str, c.console.id, "__console"));
        cr_assert(zero(ptr, c.serial.id));
        vm_config_done(&c);

        decode_ok("{\"disks\":[],\"net\":[],\"console\":{\"mode\":\"Off\"}," KERNEL "}", &c);
        cr_assert(eq(sz, c.n_disks, 0));
        cr_assert(eq(sz, c.n_net, 0));
        cr_assert(zero(ptr, c.console.id), "no console device, no id");
        vm_config_done(&c);
}

Test(vm_config, disk_defaults)
{
        VmConfig c;

        decode_ok("{\"disks\":[{\"path\":\"/d.img\"}]," KERNEL "}", &c);
        cr_assert(eq(sz, c.n_disks, 1));
        cr_assert(eq(str, c.disks[0].path, "/d.img"));
        cr_assert(eq(int, c.disks[0].readonly, false));
        cr_assert(eq(int, c.disks[0].direct, false));
        cr_assert(eq(u32, c.disks[0].num_queues, 1));
        cr_assert(eq(u32, c.disks[0].queue_size, 128));
        cr_assert(zero(ptr, c.disks[0].serial));
        cr_assert(eq(str, c.disks[0].id, "_disk0"));
        cr_assert(eq(i32, c.disks[0].pci_device_id, -1));
        cr_assert(eq(u16, c.disks[0].pci_segment, 0));
        vm_config_done(&c);
}

Test(vm_config, disk_everything_given)
{
        VmConfig c;

        decode_ok("{" CPUS2 "\"disks\":[{\"path\":\"/a\",\"readonly\":true,\"direct\":true,\"num_queues\":2,"
                  "\"queue_size\":1024,\"serial\":\"01234567890123456789\",\"id\":\"root\","
                  "\"pci_segment\":0,"
                  "\"pci_device_id\":31,\"image_type\":\"Raw\",\"iommu\":false,\"vhost_user\":false,"
                  "\"vhost_socket\":null,\"rate_limiter_config\":null,\"rate_limit_group\":null,"
                  "\"queue_affinity\":null,\"backing_files\":false,\"sparse\":true,"
                  "\"lock_granularity\":\"ByteRange\",\"disable_io_uring\":false,"
                  "\"disable_aio\":false}]," KERNEL "}",
                  &c);
        cr_assert(eq(int, c.disks[0].readonly, true));
        cr_assert(eq(int, c.disks[0].direct, true));
        cr_assert(eq(u32, c.disks[0].num_queues, 2));
        cr_assert(eq(u32, c.disks[0].queue_size, 1024));
        cr_assert(eq(str, c.disks[0].serial, "01234567890123456789"));
        cr_assert(eq(str, c.disks[0].id, "root"));
        cr_assert(eq(i32, c.disks[0].pci_device_id, 31));
        vm_config_done(&c);
}

Test(vm_config, disk_readonly_direct_combinations)
{
        for (int i = 0; i < 4; i++) {
                char json[256];
                VmConfig c;

                snprintf(json, sizeof json,
                         "{\"disks\":[{\"path\":\"/a\",\"readonly\":%s,\"direct\":%s}]," KERNEL "}",
                         i & 1 ? "true" : "false", i & 2 ? "true" : "false");
                decode_ok(json, &c);
                cr_assert(eq(int, c.disks[0].readonly, !!(i & 1)));
                cr_assert(eq(int, c.disks[0].direct, !!(i & 2)));
                vm_config_done(&c);
        }
}

Test(vm_config, disk_image_type_unknown_is_raw_and_both_lock_granularities)
{
        VmConfig c;

        decode_ok("{\"disks\":[{\"path\":\"/a\",\"image_type\":\"Unknown\",\"lock_granularity\":\"Full\"},"
                  "{\"path\":\"/b\",\"image_type\":null,\"lock_granularity\":null}]," KERNEL "}",
                  &c);
        cr_assert(eq(sz, c.n_disks, 2));
        vm_config_done(&c);
}

Test(vm_config, disk_errors)
{
        static const ErrorCase table[] = {
                { "{}", "disks[0].path: a disk needs a path" },
                { "{\"path\":null}", "disks[0].path: a disk needs a path" },
                { "{\"path\":\"\"}", "disks[0].path: must not be empty" },
                { "{\"path\":7}", "disks[0].path: expected a string, got a number" },
                { "{\"path\":\"/a\",\"readonly\":\"on\"}",
                  "disks[0].readonly: expected a boolean, got a string" },
                { "{\"path\":\"/a\",\"queue_size\":0}",
                  "disks[0].queue_size: 0 is out of range (4..32768)" },
                { "{\"path\":\"/a\",\"queue_size\":2}",
                  "disks[0].queue_size: 2 is out of range (4..32768)" },
                { "{\"path\":\"/a\",\"queue_size\":100}", "disks[0].queue_size: 100 is not a power of two" },
                { "{\"path\":\"/a\",\"queue_size\":65536}",
                  "disks[0].queue_size: 65536 is out of range (4..32768)" },
                { "{\"path\":\"/a\",\"num_queues\":0}", "disks[0].num_queues: 0 is out of range (1..64)" },
                { "{\"path\":\"/a\",\"num_queues\":65}", "disks[0].num_queues: 65 is out of range (1..64)" },
                { "{\"path\":\"/a\",\"num_queues\":3}",
                  "disks[0].num_queues: 3 is more than boot_vcpus (2)" },
                { "{\"path\":\"/a\",\"serial\":\"012345678901234567890\"}",
                  "disks[0].serial: 21 bytes is longer than the 20 virtio-blk allows" },
                { "{\"path\":\"/a\",\"serial\":\"\"}", "disks[0].serial: must not be empty" },
                { "{\"path\":\"/a\",\"pci_segment\":1}",
                  "disks[0].pci_segment: segment 1 is not supported by chv yet (only 0)" },
                { "{\"path\":\"/a\",\"pci_segment\":65536}",
                  "disks[0].pci_segment: 65536 is out of range (0..65535)" },
                { "{\"path\":\"/a\",\"pci_device_id\":0}",
                  "disks[0].pci_device_id: 0 is out of range (1..31)" },
                { "{\"path\":\"/a\",\"pci_device_id\":32}",
                  "disks[0].pci_device_id: 32 is out of range (1..31)" },
                { "{\"path\":\"/a\",\"id\":\"\"}", "disks[0].id: must not be empty" },
                { "{\"path\":\"/a\",\"id\":\"__mine\"}",
                  "disks[0].id: \"__mine\": ids beginning with \"__\" are reserved for chv's own devices" },
                { "{\"path\":\"/a\",\"id\":\"__rng\"}",
                  "disks[0].id: \"__rng\": ids beginning with \"__\" are reserved for chv's own devices" },
                { "{\"path\":\"/a\",\"image_type\":\"Qcow2\"}",
                  "disks[0].image_type: Qcow2 is not supported by chv yet (only Raw)" },
                { "{\"path\":\"/a\",\"image_type\":\"FixedVhd\"}",
                  "disks[0].image_type: FixedVhd is not supported by chv yet (only Raw)" },
                { "{\"path\":\"/a\",\"image_type\":\"raw\"}",
                  "disks[0].image_type: \"raw\" is not one of "
                  "Raw, Unknown, Qcow2, FixedVhd, Vhdx, FlatVmdk" },
                { "{\"path\":\"/a\",\"image_type\":1}",
                  "disks[0].image_type: expected a string, got a number" },
                { "{\"path\":\"/a\",\"paht\":\"/b\"}", "disks[0].paht: unknown field" },
                { "{\"path\":\"/a\",\"socket\":\"/s\"}", "disks[0].socket: unknown field" },
                { "{\"path\":\"/a\",\"vhost_user\":true}", "disks[0].vhost_user: not supported by chv yet" },
                { "{\"path\":\"/a\",\"vhost_socket\":\"/s\"}",
                  "disks[0].vhost_socket: not supported by chv yet" },
                { "{\"path\":\"/a\",\"iommu\":true}", "disks[0].iommu: not supported by chv yet" },
                { "{\"path\":\"/a\",\"rate_limiter_config\":{\"bandwidth\":{\"size\":1,\"refill_time\":1}}}",
                  "disks[0].rate_limiter_config: not supported by chv yet" },
                { "{\"path\":\"/a\",\"rate_limit_group\":\"g\"}",
                  "disks[0].rate_limit_group: not supported by chv yet" },
                { "{\"path\":\"/a\",\"queue_affinity\":[]}",
                  "disks[0].queue_affinity: not supported by chv yet" },
                { "{\"path\":\"/a\",\"backing_files\":true}",
                  "disks[0].backing_files: not supported by chv yet" },
                { "{\"path\":\"/a\",\"sparse\":false}", "disks[0].sparse: not supported by chv yet" },
                { "{\"path\":\"/a\",\"lock_granularity\":\"byte-range\"}",
                  "disks[0].lock_granularity: \"byte-range\" is not one of ByteRange, Full" },
                { "{\"path\":\"/a\",\"lock_granularity\":false}",
                  "disks[0].lock_granularity: expected a string, got a boolean" },
                { "{\"path\":\"/a\",\"disable_io_uring\":true}",
                  "disks[0].disable_io_uring: not supported by chv yet" },
                { "{\"path\":\"/a\",\"disable_aio\":true}",
                  "disks[0].disable_aio: not supported by chv yet" },
                { "\"/a\"", "disks[0]: expected an object, got a string" },
        };

        decode_fails_between("{" CPUS2 "\"disks\":[", table, ELEMENTSOF(table), "]," KERNEL "}");
        decode_fails("{\"disks\":{\"path\":\"/a\"}," KERNEL "}", "disks: expected an array, got an object");
        decode_fails("{\"disks\":[{\"path\":\"/a\"},{\"path\":\"/b\",\"queue_size\":96}]," KERNEL "}",
                     "disks[1].queue_size: 96 is not a power of two");
        /* One vCPU by default. */
        decode_fails("{\"disks\":[{\"path\":\"/a\",\"num_queues\":2}]," KERNEL "}",
                     "disks[0].num_queues: 2 is more than boot_vcpus (1)");
}

static bool mac_is_random_local_unicast(const uint8_t mac[6])
{
        return mac[0] == 0x2e && (mac[0] & 1) == 0 && (mac[0] & 2) == 2;
}

Test(vm_config, net_defaults)
{
        VmConfig c;

        decode_ok("{\"net\":[{},{\"tap\":null,\"mac\":null}]," KERNEL "}", &c);
        cr_assert(eq(sz, c.n_net, 2));
        for (size_t i = 0; i < 2; i++) {
                const NetConfig *n = &c.net[i];
                cr_assert(zero(ptr, n->tap));
                cr_assert(eq(int, n->mac_set, false));
                cr_assert(mac_is_random_local_unicast(n->mac), "net[%zu].mac %02x:...", i, n->mac[0]);
                cr_assert(eq(int, n->host_mac_set, false));
                cr_assert(eq(int, n->ip_set, false));
                cr_assert(eq(u16, n->mtu, 0));
                cr_assert(eq(u32, n->num_queues, 2));
                cr_assert(eq(u32, n->queue_size, 256));
                cr_assert(eq(sz, n->n_fds, 0));
                cr_assert(zero(ptr, n->fds));
                cr_assert(eq(int, n->offload_tso, true));
                cr_assert(eq(int, n->offload_ufo, true));
                cr_assert(eq(int, n->offload_csum, true));
                cr_assert(eq(i32, n->pci_device_id, -1));
                cr_assert(eq(u16, n->pci_segment, 0));
        }
        cr_assert(eq(str, c.net[0].id, "_net0"));
        cr_assert(eq(str, c.net[1].id, "_net1"));
        /* 40 random bits each: equal only by a chance of one in 2^40. */
        cr_assert(ne(int, memcmp(c.net[0].mac, c.net[1].mac, 6), 0), "two random MACs are the same");
        vm_config_done(&c);
}

Test(vm_config, net_everything_given)
{
        VmConfig c;
        char ip[INET_ADDRSTRLEN], mask[INET_ADDRSTRLEN];

        decode_ok("{" CPUS2 "\"net\":[{\"tap\":\"chvtap0\",\"ip\":\"192.168.249.1\","
                  "\"mask\":\"255.255.255.0\","
                  "\"mac\":\"52:54:00:AB:cd:01\",\"host_mac\":\"fe:54:00:00:00:01\",\"mtu\":9000,"
                  "\"num_queues\":2,\"queue_size\":1024,\"offload_tso\":false,\"offload_ufo\":false,"
                  "\"offload_csum\":false,\"id\":\"eth0\",\"pci_segment\":0,\"pci_device_id\":4,"
                  "\"iommu\":false,"
                  "\"vhost_user\":false,\"vhost_socket\":null,\"vhost_mode\":\"Client\",\"fds\":null,"
                  "\"rate_limiter_config\":null}]," KERNEL "}",
                  &c);
        const NetConfig *n = &c.net[0];
        cr_assert(eq(str, n->tap, "chvtap0"));
        cr_assert(eq(int, n->ip_set, true));
        cr_assert(eq(str, (char *) inet_ntop(AF_INET, &n->ip, ip, sizeof ip), "192.168.249.1"));
        cr_assert(eq(str, (char *) inet_ntop(AF_INET, &n->mask, mask, sizeof mask), "255.255.255.0"));
        cr_assert(eq(int, n->mac_set, true));
        cr_assert(eq(int, memcmp(n->mac, (uint8_t[]) { 0x52, 0x54, 0x00, 0xab, 0xcd, 0x01 }, 6), 0));
        cr_assert(eq(int, n->host_mac_set, true));
        cr_assert(eq(int, memcmp(n->host_mac, (uint8_t[]) { 0xfe, 0x54, 0, 0, 0, 1 }, 6), 0));
        cr_assert(eq(u16, n->mtu, 9000));
        cr_assert(eq(u32, n->num_queues, 2));
        cr_assert(eq(u32, n->queue_size, 1024));
        cr_assert(eq(int, n->offload_tso, false));
        cr_assert(eq(int, n->offload_ufo, false));
        cr_assert(eq(int, n->offload_csum, false));
        cr_assert(eq(str, n->id, "eth0"));
        cr_assert(eq(i32, n->pci_device_id, 4));
        vm_config_done(&c);
}

Test(vm_config, net_fds)
{
        VmConfig c;

        decode_ok("{" CPUS2 "\"net\":[{\"fds\":[5],\"num_queues\":2,\"mtu\":1280,"
                  "\"host_mac\":\"fe:00:00:00:00:02\"},"
                  "{\"fds\":[4]}]," KERNEL "}",
                  &c);
        cr_assert(eq(int, c.net[0].host_mac_set, true));
        cr_assert(eq(sz, c.net[0].n_fds, 1));
        cr_assert(eq(int, c.net[0].fds[0], 5));
        cr_assert(eq(u16, c.net[0].mtu, 1280));
        cr_assert(eq(sz, c.net[1].n_fds, 1));
        cr_assert(eq(int, c.net[1].fds[0], 4));
        vm_config_done(&c);
}

Test(vm_config, net_offload_combinations)
{
        VmConfig c;

        /* Checksum offload alone, and everything off, are fine. */
        decode_ok("{\"net\":[{\"offload_tso\":false,\"offload_ufo\":false},"
                  "{\"offload_tso\":false,\"offload_ufo\":false,\"offload_csum\":false}]," KERNEL "}",
                  &c);
        cr_assert(eq(int, c.net[0].offload_csum, true));
        cr_assert(eq(int, c.net[1].offload_csum, false));
        vm_config_done(&c);
}

Test(vm_config, net_errors)
{
        static const ErrorCase table[] = {
                { "{\"mac\":\"52:54:00:12:34\"}",
                  "net[0].mac: \"52:54:00:12:34\" is not a MAC address (e.g. 52:54:00:12:34:56)" },
                { "{\"mac\":\"52-54-00-12-34-56\"}",
                  "net[0].mac: \"52-54-00-12-34-56\" is not a MAC address (e.g. 52:54:00:12:34:56)" },
                { "{\"mac\":\"\"}", "net[0].mac: must not be empty" },
                { "{\"mac\":525400123456}", "net[0].mac: expected a string, got a number" },
                { "{\"mac\":\"01:00:5e:00:00:01\"}",
                  "net[0].mac: 01:00:5e:00:00:01 is a multicast address, not one an interface can have" },
                { "{\"mac\":\"ff:ff:ff:ff:ff:ff\"}",
                  "net[0].mac: ff:ff:ff:ff:ff:ff is a multicast address, not one an interface can have" },
                { "{\"mac\":\"00:00:00:00:00:00\"}",
                  "net[0].mac: 00:00:00:00:00:00 is not an interface's address" },
                { "{\"host_mac\":\"33:33:00:00:00:01\"}",
                  "net[0].host_mac: 33:33:00:00:00:01 is a multicast address, "
                  "not one an interface can have" },
                { "{\"ip\":\"10.0.0.1\"}", "net[0].ip: given without a mask" },
                { "{\"mask\":\"255.0.0.0\"}", "net[0].mask: given without an ip" },
                { "{\"ip\":\"10.0.0.256\",\"mask\":\"255.0.0.0\"}",
                  "net[0].ip: \"10.0.0.256\" is not an IPv4 address" },
                { "{\"ip\":\"10.0.1\",\"mask\":\"255.0.0.0\"}",
                  "net[0].ip: \"10.0.1\" is not an IPv4 address" },
                { "{\"ip\":\"fe80::1\",\"mask\":\"ffff:ffff:ffff:ffff::\"}",
                  "net[0].ip: IPv6 (fe80::1) is not supported by chv yet" },
                { "{\"ip\":\"10.0.0.1\",\"mask\":\"255.0.255.0\"}",
                  "net[0].mask: 255.0.255.0 is not a netmask (ones, then zeros)" },
                { "{\"ip\":\"10.0.0.1\",\"mask\":\"24\"}", "net[0].mask: \"24\" is not an IPv4 address" },
                { "{\"mtu\":1279}", "net[0].mtu: 1279 is out of range (1280..65535)" },
                { "{\"mtu\":65536}", "net[0].mtu: 65536 is out of range (1280..65535)" },
                { "{\"num_queues\":0}",
                  "net[0].num_queues: 0 is fewer than 2 (one receive and one transmit queue)" },
                { "{\"num_queues\":1}",
                  "net[0].num_queues: 1 is fewer than 2 (one receive and one transmit queue)" },
                { "{\"num_queues\":3}",
                  "net[0].num_queues: 3 is odd: queues come in receive/transmit pairs" },
                { "{\"num_queues\":6}", "net[0].num_queues: 3 queue pairs are more than boot_vcpus (2)" },
                { "{\"num_queues\":4}",
                  "net[0].num_queues: 4: more than 1 queue pair is not supported by chv yet" },
                { "{\"fds\":[3,4],\"num_queues\":4}",
                  "net[0].num_queues: 4: more than 1 queue pair is not supported by chv yet" },
                { "{\"queue_size\":0}", "net[0].queue_size: 0 is out of range (1..32768)" },
                { "{\"queue_size\":384}", "net[0].queue_size: 384 is not a power of two" },
                { "{\"queue_size\":65536}", "net[0].queue_size: 65536 is out of range (1..32768)" },
                { "{\"fds\":[2]}", "net[0].fds[0]: 2 is standard input, output or error, not a tap" },
                { "{\"fds\":[3,0],\"num_queues\":4}",
                  "net[0].fds[1]: 0 is standard input, output or error, not a tap" },
                { "{\"fds\":[-1]}", "net[0].fds[0]: -1 is not a file descriptor number" },
                { "{\"fds\":[3.5]}", "net[0].fds[0]: 3.5 is not a file descriptor number" },
                { "{\"fds\":[4294967296]}", "net[0].fds[0]: 4.29497e+09 is not a file descriptor number" },
                { "{\"fds\":[\"3\"]}", "net[0].fds[0]: expected a file descriptor number, got a string" },
                { "{\"fds\":[3,3],\"num_queues\":4}", "net[0].fds[1]: 3 is listed twice" },
                { "{\"fds\":[]}", "net[0].fds: must list at least one file descriptor" },
                { "{\"fds\":3}", "net[0].fds: expected an array, got a number" },
                { "{\"fds\":[3,4]}", "net[0].num_queues: 2, but 2 fds serve 4 queues (one per pair)" },
                { "{\"fds\":[3],\"num_queues\":4}",
                  "net[0].num_queues: 4, but 1 fds serve 2 queues (one per pair)" },
                { "{\"fds\":[3],\"tap\":\"tap0\"}", "net[0].fds: a tap is given both by name and by fds" },
                { "{\"fds\":[3],\"ip\":\"10.0.0.1\",\"mask\":\"255.0.0.0\"}",
                  "net[0].ip: cannot be set on taps passed in by fds" },
                { "{\"offload_csum\":false}",
                  "net[0].offload_csum: off, but offload_tso and offload_ufo depend on it" },
                { "{\"offload_csum\":false,\"offload_tso\":false}",
                  "net[0].offload_csum: off, but offload_tso and offload_ufo depend on it" },
                { "{\"tap\":\"\"}", "net[0].tap: must not be empty" },
                { "{\"tap\":\"a/b\"}",
                  "net[0].tap: \"a/b\" is not an interface name (at most 15 bytes, no '/', ':' or spaces)" },
                { "{\"tap\":\"0123456789abcdef\"}",
                  "net[0].tap: \"0123456789abcdef\" is not an interface name "
                  "(at most 15 bytes, no '/', ':' or spaces)" },
                { "{\"tap\":\"..\"}",
                  "net[0].tap: \"..\" is not an interface name (at most 15 bytes, no '/', ':' or spaces)" },
                { "{\"pci_segment\":2}",
                  "net[0].pci_segment: segment 2 is not supported by chv yet (only 0)" },
                { "{\"pci_device_id\":-1}",
                  "net[0].pci_device_id: expected a non-negative integer, got -1" },
                { "{\"id\":\"__net\"}",
                  "net[0].id: \"__net\": ids beginning with \"__\" are reserved for chv's own devices" },
                { "{\"vhost_user\":true}", "net[0].vhost_user: not supported by chv yet" },
                { "{\"vhost_socket\":\"/run/vu\"}", "net[0].vhost_socket: not supported by chv yet" },
                { "{\"vhost_mode\":\"Server\"}", "net[0].vhost_mode: not supported by chv yet" },
                { "{\"iommu\":true}", "net[0].iommu: not supported by chv yet" },
                { "{\"rate_limiter_config\":{}}", "net[0].rate_limiter_config: not supported by chv yet" },
                { "{\"socket\":\"/s\"}", "net[0].socket: unknown field" },
                { "[]", "net[0]: expected an object, got an array" },
        };

        decode_fails_between("{" CPUS2 "\"net\":[", table, ELEMENTSOF(table), "]," KERNEL "}");
        decode_fails("{\"net\":\"tap0\"," KERNEL "}", "net: expected an array, got a string");
        decode_fails("{\"net\":[{\"fds\":[4]},{\"fds\":[5]},{\"fds\":[4]}]," KERNEL "}",
                     "net[2].fds[0]: 4 is already a tap of net[0]");
}

Test(vm_config, rng)
{
        VmConfig c;

        decode_ok("{\"rng\":{\"src\":\"/dev/hwrng\",\"id\":\"entropy\",\"pci_segment\":0,"
                  "\"pci_device_id\":7,"
                  "\"iommu\":false}," KERNEL "}",
                  &c);
        cr_assert(eq(str, c.rng.src, "/dev/hwrng"));
        cr_assert(eq(str, c.rng.id, "entropy"));
        cr_assert(eq(i32, c.rng.pci_device_id, 7));
        vm_config_done(&c);

        /* Its own reserved id, as a configuration chv wrote carries it. */
        decode_ok("{\"rng\":{\"id\":\"__rng\"}," KERNEL "}", &c);
        cr_assert(eq(str, c.rng.src, "/dev/urandom"));
        cr_assert(eq(str, c.rng.id, "__rng"));
        vm_config_done(&c);

        decode_fails("{\"rng\":{\"src\":\"\"}," KERNEL "}", "rng.src: must not be empty");
        decode_fails("{\"rng\":{\"src\":1}," KERNEL "}", "rng.src: expected a string, got a number");
        decode_fails("{\"rng\":{\"iommu\":true}," KERNEL "}", "rng.iommu: not supported by chv yet");
        decode_fails("{\"rng\":{\"source\":\"/dev/random\"}," KERNEL "}", "rng.source: unknown field");
        decode_fails("{\"rng\":{\"pci_segment\":1}," KERNEL "}",
                     "rng.pci_segment: segment 1 is not supported by chv yet (only 0)");
        decode_fails("{\"rng\":{\"id\":\"__console\"}," KERNEL "}",
                     "rng.id: \"__console\": ids beginning with \"__\" are reserved for chv's own devices");
        decode_fails("{\"rng\":[]," KERNEL "}", "rng: expected an object, got an array");
}

Test(vm_config, ids_counted_out_as_cloud_hypervisor_does)
{
        VmConfig c;

        /* One counter for all kinds, disks first. */
        decode_ok("{\"net\":[{},{}],\"disks\":[{\"path\":\"/a\"},{\"path\":\"/b\"}]," KERNEL "}", &c);
        cr_assert(eq(str, c.disks[0].id, "_disk0"));
        cr_assert(eq(str, c.disks[1].id, "_disk1"));
        cr_assert(eq(str, c.net[0].id, "_net2"));
        cr_assert(eq(str, c.net[1].id, "_net3"));
        cr_assert(eq(str, c.rng.id, "__rng"));
        cr_assert(eq(str, c.console.id, "__console"));
        vm_config_done(&c);

        /* Names given are skipped; given ids do not advance the counter. */
        decode_ok("{\"disks\":[{\"path\":\"/a\"},{\"path\":\"/b\",\"id\":\"_disk0\"},{\"path\":\"/c\"}],"
                  "\"net\":[{\"id\":\"_net3\"},{}]," KERNEL "}",
                  &c);
        cr_assert(eq(str, c.disks[0].id, "_disk1"));
        cr_assert(eq(str, c.disks[1].id, "_disk0"));
        cr_assert(eq(str, c.disks[2].id, "_disk2"));
        cr_assert(eq(str, c.net[0].id, "_net3"));
        cr_assert(eq(str, c.net[1].id, "_net4"));
        vm_config_done(&c);

        /* A name of the other kind is no clash. */
        decode_ok("{\"disks\":[{\"path\":\"/a\"}],"
                  "\"net\":[{\"id\":\"_disk0x\"},{\"id\":\"_net1\"},{}]," KERNEL "}", &c);
        cr_assert(eq(str, c.disks[0].id, "_disk0"));
        cr_assert(eq(str, c.net[2].id, "_net2"));
        vm_config_done(&c);
}

Test(vm_config, ids_are_unique)
{
        decode_fails("{\"disks\":[{\"path\":\"/a\",\"id\":\"d\"},{\"path\":\"/b\","
                     "\"id\":\"d\"}]," KERNEL "}",
                     "disks[1].id: \"d\" is already the id of disks[0]");
        decode_fails("{\"disks\":[{\"path\":\"/a\",\"id\":\"x\"}],\"net\":[{},{\"id\":\"x\"}]," KERNEL "}",
                     "net[1].id: \"x\" is already the id of disks[0]");
        decode_fails("{\"net\":[{\"id\":\"r\"}],\"rng\":{\"id\":\"r\"}," KERNEL "}",
                     "rng.id: \"r\" is already the id of net[0]");
        decode_fails("{\"rng\":{\"id\":\"c\"},\"console\":{\"id\":\"c\"}," KERNEL "}",
                     "console.id: \"c\" is already the id of rng");
        /* An id given to a disk that the counter would give another one is fine: it is skipped. */
        decode_fails("{\"disks\":[{\"path\":\"/a\",\"id\":\"_net1\"}],"
                     "\"net\":[{\"id\":\"_net1\"}]," KERNEL "}",
                     "net[0].id: \"_net1\" is already the id of disks[0]");
}

Test(vm_config, pci_slots_are_unique)
{
        VmConfig c;

        decode_fails("{\"disks\":[{\"path\":\"/a\",\"pci_device_id\":5}],"
                     "\"net\":[{\"pci_device_id\":5}]," KERNEL "}",
                     "net[0].pci_device_id: slot 5 is already taken by disks[0]");
        decode_fails("{\"disks\":[{\"path\":\"/a\",\"pci_device_id\":3},{\"path\":\"/b\","
                     "\"pci_device_id\":3}]," KERNEL "}",
                     "disks[1].pci_device_id: slot 3 is already taken by disks[0]");
        decode_fails("{\"rng\":{\"pci_device_id\":9},\"console\":{\"pci_device_id\":9}," KERNEL "}",
                     "console.pci_device_id: slot 9 is already taken by rng");
        /* A console that is off is no device, but what it asks for is still checked. */
        decode_fails("{\"rng\":{\"pci_device_id\":9},\"console\":{\"mode\":\"Off\",\"id\":\"hvc\","
                     "\"pci_device_id\":9}," KERNEL "}",
                     "console.pci_device_id: slot 9 is already taken by rng");

        decode_ok("{\"disks\":[{\"path\":\"/a\",\"pci_device_id\":3},{\"path\":\"/b\"},{\"path\":\"/c\"}],"
                  "\"net\":[{\"pci_device_id\":4},{}],\"rng\":{\"pci_device_id\":5}," KERNEL "}",
                  &c);
        cr_assert(eq(i32, c.disks[1].pci_device_id, -1), "any slot: the device code chooses");
        cr_assert(eq(i32, c.disks[2].pci_device_id, -1));
        vm_config_done(&c);
}

Test(vm_config, assign_device_ids_again_changes_nothing)
{
        VmConfig c;
        char err[128] = "untouched";

        decode_ok("{\"disks\":[{\"path\":\"/a\"},{\"path\":\"/b\",\"id\":\"b\"}],\"net\":[{}]," KERNEL "}",
                  &c);
        cr_assert(eq(int, vm_config_assign_device_ids(&c, err, sizeof err), 0));
        cr_assert(eq(str, err, ""));
        cr_assert(eq(str, c.disks[0].id, "_disk0"));
        cr_assert(eq(str, c.disks[1].id, "b"));
        cr_assert(eq(str, c.net[0].id, "_net1"));

        /* A device without an id gets the first free name; a clash is reported. */
        free(c.net[0].id);
        c.net[0].id = NULL;
        cr_assert(eq(int, vm_config_assign_device_ids(&c, err, sizeof err), 0));
        cr_assert(eq(str, c.net[0].id, "_net0"));
        free(c.disks[0].id);
        c.disks[0].id = strdup("b");
        cr_assert(eq(int, vm_config_assign_device_ids(&c, err, sizeof err), -EINVAL));
        cr_assert(eq(str, err, "disks[1].id: \"b\" is already the id of disks[0]"));
        vm_config_done(&c);
}

Test(vm_config, console_and_serial_pty_and_file)
{
        VmConfig c;

        decode_ok("{\"serial\":{\"mode\":\"Pty\"},\"console\":{\"mode\":\"Pty\",\"id\":\"hvc0\","
                  "\"pci_device_id\":12}," KERNEL "}",
                  &c);
        cr_assert(eq(int, c.serial.mode, CONSOLE_PTY));
        cr_assert(eq(int, c.console.mode, CONSOLE_PTY));
        cr_assert(eq(str, c.console.id, "hvc0"));
        cr_assert(eq(i32, c.console.pci_device_id, 12));
        vm_config_done(&c);

        decode_ok("{\"serial\":{\"mode\":\"File\",\"file\":\"/s\"},\"console\":{\"mode\":\"File\","
                  "\"file\":\"/c\"}," KERNEL "}",
                  &c);
        cr_assert(eq(str, c.serial.file, "/s"));
        cr_assert(eq(str, c.console.file, "/c"));
        vm_config_done(&c);
}

Test(vm_config, to_json_devices)
{
        _cleanup_json_ cJSON *j = NULL;
        const cJSON *o;
        VmConfig c;

        decode_ok("{\"disks\":[{\"path\":\"/a\"}],\"net\":[{\"mac\":\"52:54:00:0a:0B:0c\","
                  "\"ip\":\"10.1.2.3\","
                  "\"mask\":\"255.255.0.0\",\"mtu\":1500}]," KERNEL "}",
                  &c);
        j = vm_config_to_json(&c);
        cr_assert(not(zero(ptr, j)));
        o = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "disks"), 0);
        cr_assert(eq(str, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "path")), "/a"));
        cr_assert(eq(str, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "id")), "_disk0"));
        cr_assert(eq(str, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "image_type")), "Raw"));
        cr_assert(zero(ptr, cJSON_GetObjectItemCaseSensitive(o, "pci_device_id")), "any slot: no member");
        o = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "net"), 0);
        cr_assert(eq(str, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "mac")),
                     "52:54:00:0a:0b:0c"));
        cr_assert(eq(str, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "ip")), "10.1.2.3"));
        cr_assert(eq(str, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "mask")), "255.255.0.0"));
        cr_assert(eq(dbl, cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, "mtu")), 1500));
        cr_assert(zero(ptr, cJSON_GetObjectItemCaseSensitive(o, "host_mac")));
        cr_assert(zero(ptr, cJSON_GetObjectItemCaseSensitive(o, "fds")));
        o = cJSON_GetObjectItemCaseSensitive(j, "rng");
        cr_assert(eq(str, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "src")), "/dev/urandom"));
        vm_config_done(&c);
}

Test(vm_config, random_mac_survives_a_round_trip)
{
        _cleanup_json_ cJSON *j = NULL;
        VmConfig a, b;

        decode_ok("{\"net\":[{}]," KERNEL "}", &a);
        j = vm_config_to_json(&a);
        decode_json(j, &b);
        cr_assert(eq(int, memcmp(a.net[0].mac, b.net[0].mac, 6), 0), "the guest would see another MAC");
        cr_assert(eq(str, b.net[0].id, "_net0"));
        vm_config_done(&a);
        vm_config_done(&b);
}
