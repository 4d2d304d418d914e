/* SPDX-License-Identifier: Apache-2.0 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "vm-config-cli.h"
#include "vm-config.h"

static cJSON *root;

static void setup(void)
{
        root = cJSON_CreateObject();
        cr_assert(not(zero(ptr, root)));
}

static void teardown(void)
{
        cJSON_Delete(root);
        root = NULL;
}

TestSuite(cli, .init = setup, .fini = teardown);

static const cJSON *member(const char *section, const char *name)
{
        return cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, section), name);
}

static double number(const char *section, const char *name)
{
        const cJSON *j = member(section, name);
        cr_assert(cJSON_IsNumber(j), "%s.%s is not a number", section, name);
        return j->valuedouble;
}

static bool boolean(const char *section, const char *name)
{
        const cJSON *j = member(section, name);
        cr_assert(cJSON_IsBool(j), "%s.%s is not a boolean", section, name);
        return cJSON_IsTrue(j);
}

static const char *string(const char *section, const char *name)
{
        const cJSON *j = member(section, name);
        cr_assert(cJSON_IsString(j), "%s.%s is not a string", section, name);
        return j->valuestring;
}

static void assert_error(int r, const char *err, const char *expected)
{
        cr_assert(eq(int, r, -EINVAL));
        cr_assert(eq(str, (char *) err, (char *) expected));
}

/* --cpus */

Test(cli, cpus_boot_and_max)
{
        char err[256] = "";

        cr_assert(eq(int, cli_cpus_to_json("boot=2,max=4", root, err, sizeof err), 0), "%s", err);
        cr_assert(eq(dbl, number("cpus", "boot_vcpus"), 2));
        cr_assert(eq(dbl, number("cpus", "max_vcpus"), 4));
        cr_assert(zero(ptr, (void *) member("cpus", "max_phys_bits")));
        cr_assert(zero(ptr, (void *) member("cpus", "boot")), "the option name must not leak into the JSON");
}

Test(cli, cpus_all_keys_and_hex)
{
        char err[256] = "";

        cr_assert(eq(int, cli_cpus_to_json("max_phys_bits=0x28,boot=1,max=8", root, err, sizeof err), 0));
        cr_assert(eq(dbl, number("cpus", "boot_vcpus"), 1));
        cr_assert(eq(dbl, number("cpus", "max_vcpus"), 8));
        cr_assert(eq(dbl, number("cpus", "max_phys_bits"), 40));
}

Test(cli, cpus_repeated_option_merges_and_last_wins)
{
        char err[256] = "";

        cr_assert(eq(int, cli_cpus_to_json("boot=2,boot=3", root, err, sizeof err), 0));
        cr_assert(eq(dbl, number("cpus", "boot_vcpus"), 3));
        cr_assert(eq(int, cli_cpus_to_json("max=6", root, err, sizeof err), 0));
        cr_assert(eq(dbl, number("cpus", "boot_vcpus"), 3));
        cr_assert(eq(dbl, number("cpus", "max_vcpus"), 6));
        cr_assert(eq(int, cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(root, "cpus")), 2));
}

Test(cli, cpus_replaces_a_non_object)
{
        char err[256] = "";

        cJSON_AddNumberToObject(root, "cpus", 3);
        cr_assert(eq(int, cli_cpus_to_json("boot=2", root, err, sizeof err), 0));
        cr_assert(eq(dbl, number("cpus", "boot_vcpus"), 2));
}

Test(cli, cpus_bad_numbers)
{
        char err[256];

        assert_error(cli_cpus_to_json("boot=two", root, err, sizeof err), err,
                     "--cpus: boot=\"two\" is not a number");
        assert_error(cli_cpus_to_json("max=-1", root, err, sizeof err), err,
                     "--cpus: max=\"-1\" is not a number");
        assert_error(cli_cpus_to_json("boot=", root, err, sizeof err), err,
                     "--cpus: boot=\"\" is not a number");
        assert_error(cli_cpus_to_json("boot=4294967296", root, err, sizeof err), err,
                     "--cpus: boot=\"4294967296\" is not a number");
        assert_error(cli_cpus_to_json("boot=1,max_phys_bits=4x", root, err, sizeof err), err,
                     "--cpus: max_phys_bits=\"4x\" is not a number");
}

Test(cli, cpus_unknown_keys_and_syntax)
{
        char err[256];

        assert_error(cli_cpus_to_json("boot=2,foo=1", root, err, sizeof err), err,
                     "--cpus: unknown key \"foo\" in \"boot=2,foo=1\"");
        assert_error(cli_cpus_to_json("boot_vcpus=2", root, err, sizeof err), err,
                     "--cpus: unknown key \"boot_vcpus\" in \"boot_vcpus=2\"");
        assert_error(cli_cpus_to_json("2", root, err, sizeof err), err,
                     "--cpus: \"2\" in \"2\" is not of the form key=value");
        assert_error(cli_cpus_to_json("boot=[2", root, err, sizeof err), err,
                     "--cpus: cannot parse \"boot=[2\": unbalanced brackets or quotes");
        assert_error(cli_cpus_to_json("boot=\"2", root, err, sizeof err), err,
                     "--cpus: cannot parse \"boot=\"2\": unbalanced brackets or quotes");
}

Test(cli, cpus_meaning_is_checked_by_the_decoder)
{
        char err[256] = "";
        VmConfig c;

        cr_assert(eq(int, cli_cpus_to_json("boot=0", root, err, sizeof err), 0));
        cr_assert(eq(int, cli_payload_to_json("kernel", "/k", root, err, sizeof err), 0));
        cr_assert(eq(int, vm_config_from_json(root, &c, err, sizeof err), -EINVAL));
        cr_assert(eq(str, err, "cpus.boot_vcpus: 0 is out of range (1..254)"));

        cr_assert(eq(int, cli_cpus_to_json("boot=4,max=2", root, err, sizeof err), 0));
        cr_assert(eq(int, vm_config_from_json(root, &c, err, sizeof err), -EINVAL));
        cr_assert(eq(str, err, "cpus.max_vcpus: 2 is less than boot_vcpus (4)"));
}

/* --memory */

Test(cli, memory_size_and_shared)
{
        char err[256] = "";

        cr_assert(eq(int, cli_memory_to_json("size=1G,shared=on", root, err, sizeof err), 0), "%s", err);
        cr_assert(eq(dbl, number("memory", "size"), (double) GiB));
        cr_assert(eq(int, boolean("memory", "shared"), true));
        cr_assert(zero(ptr, (void *) member("memory", "hugepages")));
}

Test(cli, memory_all_booleans)
{
        char err[256] = "";

        cr_assert(eq(int,
                     cli_memory_to_json("hugepages=yes,prefault=true,mergeable=1,thp=off,shared=no", root,
                                        err, sizeof err),
                     0),
                  "%s", err);
        cr_assert(eq(int, boolean("memory", "hugepages"), true));
        cr_assert(eq(int, boolean("memory", "prefault"), true));
        cr_assert(eq(int, boolean("memory", "mergeable"), true));
        cr_assert(eq(int, boolean("memory", "thp"), false));
        cr_assert(eq(int, boolean("memory", "shared"), false));
        cr_assert(zero(ptr, (void *) member("memory", "size")));
}

Test(cli, memory_sizes)
{
        static const struct {
                const char *value;
                double size;
        } table[] = {
                { "size=512M", 512.0 * MiB },  { "size=2048M", 2048.0 * MiB },
                { "size=16G", 16.0 * GiB },    { "size=1073741824", 1073741824.0 },
                { "size=1GiB", (double) GiB },
        };
        char err[256] = "";

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                cr_assert(eq(int, cli_memory_to_json(table[i].value, root, err, sizeof err), 0), "%s", err);
                cr_assert(eq(dbl, number("memory", "size"), table[i].size), "%s", table[i].value);
        }
}

Test(cli, memory_errors)
{
        char err[256];

        assert_error(cli_memory_to_json("size=1X", root, err, sizeof err), err,
                     "--memory: size=\"1X\" is not a size (e.g. 512M, 2G)");
        assert_error(cli_memory_to_json("size=", root, err, sizeof err), err,
                     "--memory: size=\"\" is not a size (e.g. 512M, 2G)");
        assert_error(cli_memory_to_json("size=99999999999999999999G", root, err, sizeof err), err,
                     "--memory: size=\"99999999999999999999G\" is not a size (e.g. 512M, 2G)");
        assert_error(cli_memory_to_json("size=1G,shared=maybe", root, err, sizeof err), err,
                     "--memory: shared=\"maybe\" is not on or off");
        assert_error(cli_memory_to_json("size=1G,huge=on", root, err, sizeof err), err,
                     "--memory: unknown key \"huge\" in \"size=1G,huge=on\"");
        assert_error(cli_memory_to_json("1G", root, err, sizeof err), err,
                     "--memory: \"1G\" in \"1G\" is not of the form key=value");
}

Test(cli, memory_size_checked_by_the_decoder)
{
        char err[256] = "";
        VmConfig c;

        cr_assert(eq(int, cli_payload_to_json("kernel", "/k", root, err, sizeof err), 0));
        cr_assert(eq(int, cli_memory_to_json("size=1M", root, err, sizeof err), 0));
        cr_assert(eq(int, vm_config_from_json(root, &c, err, sizeof err), -EINVAL));
        cr_assert(eq(str, err, "memory.size: 1048576 is out of range (67108864..70368744177664)"));

        cr_assert(eq(int, cli_memory_to_json("size=2G,shared=on", root, err, sizeof err), 0));
        cr_assert(eq(int, vm_config_from_json(root, &c, err, sizeof err), 0), "%s", err);
        cr_assert(eq(u64, c.memory.size, 2 * GiB));
        cr_assert(eq(int, c.memory.shared, true));
        vm_config_done(&c);
}

/* --serial / --console */

Test(cli, console_words)
{
        static const struct {
                const char *word;
                const char *mode;
        } table[] = { { "tty", "Tty" }, { "off", "Off" }, { "null", "Null" }, { "pty", "Pty" } };
        char err[256] = "";

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                cr_assert(eq(int, cli_console_to_json("serial", table[i].word, root, err, sizeof err), 0),
                          "%s", err);
                cr_assert(eq(str, (char *) string("serial", "mode"), (char *) table[i].mode));
                cr_assert(eq(int, cli_console_to_json("console", table[i].word, root, err, sizeof err), 0),
                          "%s", err);
                cr_assert(eq(str, (char *) string("console", "mode"), (char *) table[i].mode));
        }
}

Test(cli, console_file_and_socket)
{
        char err[256] = "";

        cr_assert(eq(int, cli_console_to_json("serial", "file=/x", root, err, sizeof err), 0), "%s", err);
        cr_assert(eq(str, (char *) string("serial", "mode"), "File"));
        cr_assert(eq(str, (char *) string("serial", "file"), "/x"));

        /* A later value replaces the earlier one entirely. */
        cr_assert(eq(int, cli_console_to_json("serial", "socket=/y", root, err, sizeof err), 0), "%s", err);
        cr_assert(eq(str, (char *) string("serial", "mode"), "Socket"));
        cr_assert(eq(str, (char *) string("serial", "socket"), "/y"));
        cr_assert(zero(ptr, (void *) member("serial", "file")));

        cr_assert(eq(int, cli_console_to_json("serial", "tty", root, err, sizeof err), 0), "%s", err);
        cr_assert(eq(str, (char *) string("serial", "mode"), "Tty"));
        cr_assert(zero(ptr, (void *) member("serial", "socket")));
}

Test(cli, console_quoted_path_with_comma)
{
        char err[256] = "";

        cr_assert(eq(int,
                     cli_console_to_json("console", "file=\"/tmp/a,b\",iommu=on", root, err, sizeof err), 0),
                  "%s", err);
        cr_assert(eq(str, (char *) string("console", "file"), "/tmp/a,b"));
        cr_assert(eq(int, boolean("console", "iommu"), true));
}

Test(cli, console_errors)
{
        char err[256];

        assert_error(cli_console_to_json("serial", "bogus", root, err, sizeof err), err,
                     "--serial: \"bogus\" is not one of off, null, tty, pty, file=PATH, socket=PATH");
        assert_error(cli_console_to_json("console", "Tty", root, err, sizeof err), err,
                     "--console: \"Tty\" is not one of off, null, tty, pty, file=PATH, socket=PATH");
        assert_error(cli_console_to_json("serial", "file=", root, err, sizeof err), err,
                     "--serial: file= needs a path");
        assert_error(cli_console_to_json("console", "socket=", root, err, sizeof err), err,
                     "--console: socket= needs a path");
        assert_error(cli_console_to_json("serial", "", root, err, sizeof err), err,
                     "--serial: cannot parse \"\"");
        assert_error(cli_console_to_json("serial", "file=[x", root, err, sizeof err), err,
                     "--serial: cannot parse \"file=[x\"");
        assert_error(cli_console_to_json("serial", "mode=tty", root, err, sizeof err), err,
                     "--serial: unknown key \"mode\" in \"mode=tty\"");
        assert_error(cli_console_to_json("serial", "tty,foo=1", root, err, sizeof err), err,
                     "--serial: unknown key \"foo\" in \"tty,foo=1\"");
        assert_error(cli_console_to_json("serial", "tty,iommu", root, err, sizeof err), err,
                     "--serial: unknown key \"iommu\" in \"tty,iommu\"");
        assert_error(cli_console_to_json("serial", "tty,iommu=perhaps", root, err, sizeof err), err,
                     "--serial: iommu=\"perhaps\" is not on or off");
        assert_error(cli_console_to_json("console", "tty,file=/x", root, err, sizeof err), err,
                     "--console: unknown key \"file\" in \"tty,file=/x\"");
}

Test(cli, console_end_to_end)
{
        char err[256] = "";
        VmConfig c;

        cr_assert(eq(int, cli_payload_to_json("kernel", "/k", root, err, sizeof err), 0));
        cr_assert(eq(int, cli_console_to_json("serial", "file=/var/log/s", root, err, sizeof err), 0));
        cr_assert(eq(int, cli_console_to_json("console", "off", root, err, sizeof err), 0));
        cr_assert(eq(int, vm_config_from_json(root, &c, err, sizeof err), 0), "%s", err);
        cr_assert(eq(int, c.serial.mode, CONSOLE_FILE));
        cr_assert(eq(str, c.serial.file, "/var/log/s"));
        cr_assert(eq(int, c.console.mode, CONSOLE_OFF));
        vm_config_done(&c);

        cr_assert(eq(int, cli_console_to_json("serial", "socket=/run/s", root, err, sizeof err), 0));
        cr_assert(eq(int, vm_config_from_json(root, &c, err, sizeof err), -EINVAL));
        cr_assert(eq(str, err, "serial.mode: Socket is not supported by chv yet"));
}

/* --kernel, --cmdline, --initramfs */

Test(cli, payload_strings)
{
        char err[256] = "";

        cr_assert(eq(int, cli_payload_to_json("kernel", "/boot/vmlinuz", root, err, sizeof err), 0));
        cr_assert(eq(int, cli_payload_to_json("cmdline", "console=ttyS0 a=b,c", root, err, sizeof err), 0));
        cr_assert(eq(int, cli_payload_to_json("initramfs", "/boot/initrd", root, err, sizeof err), 0));
        cr_assert(eq(str, (char *) string("payload", "kernel"), "/boot/vmlinuz"));
        /* The command line is passed as is: no option-list splitting. */
        cr_assert(eq(str, (char *) string("payload", "cmdline"), "console=ttyS0 a=b,c"));
        cr_assert(eq(str, (char *) string("payload", "initramfs"), "/boot/initrd"));

        cr_assert(eq(int, cli_payload_to_json("kernel", "/other", root, err, sizeof err), 0));
        cr_assert(eq(str, (char *) string("payload", "kernel"), "/other"));
        cr_assert(eq(int, cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(root, "payload")), 3));
}

Test(cli, payload_empty_values)
{
        char err[256] = "";

        cr_assert(eq(int, cli_payload_to_json("cmdline", "", root, err, sizeof err), 0));
        cr_assert(eq(str, (char *) string("payload", "cmdline"), ""));
        assert_error(cli_payload_to_json("kernel", "", root, err, sizeof err), err,
                     "--kernel: needs a path");
        assert_error(cli_payload_to_json("initramfs", "", root, err, sizeof err), err,
                     "--initramfs: needs a path");
}
