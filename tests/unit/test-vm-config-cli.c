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
                     "--serial: needs one of off, null, tty, pty, file=PATH, socket=PATH");
        assert_error(cli_console_to_json("serial", ",", root, err, sizeof err), err,
                     "--serial: needs one of off, null, tty, pty, file=PATH, socket=PATH");
        assert_error(cli_console_to_json("serial", "file=[x", root, err, sizeof err), err,
                     "--serial: cannot parse \"file=[x\": unbalanced brackets or quotes");
        assert_error(cli_console_to_json("serial", "mode=tty", root, err, sizeof err), err,
                     "--serial: unknown key \"mode\" in \"mode=tty\"");
        assert_error(cli_console_to_json("serial", "tty,foo=1", root, err, sizeof err), err,
                     "--serial: unknown key \"foo\" in \"tty,foo=1\"");
        assert_error(cli_console_to_json("serial", "tty,iommu", root, err, sizeof err), err,
                     "--serial: \"iommu\" in \"tty,iommu\" is not of the form key=value");
        assert_error(cli_console_to_json("serial", "tty,pty", root, err, sizeof err), err,
                     "--serial: \"pty\" in \"tty,pty\" is not of the form key=value");
        /* The serial port is no PCI device. */
        assert_error(cli_console_to_json("serial", "tty,id=s", root, err, sizeof err), err,
                     "--serial: unknown key \"id\" in \"tty,id=s\"");
        assert_error(cli_console_to_json("console", "tty,pci_device_id=x", root, err, sizeof err), err,
                     "--console: pci_device_id=\"x\" is not a number");
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

Test(cli, console_pci_keys)
{
        char err[256] = "";
        VmConfig c;
        int r;

        cr_assert(eq(int, cli_payload_to_json("kernel", "/k", root, err, sizeof err), 0));
        r = cli_console_to_json("console", "pty,id=hvc0,pci_segment=0,pci_device_id=0x1f", root, err,
                                sizeof err);
        cr_assert(eq(int, r, 0), "%s", err);
        cr_assert(eq(str, (char *) string("console", "mode"), "Pty"));
        cr_assert(eq(str, (char *) string("console", "id"), "hvc0"));
        cr_assert(eq(dbl, number("console", "pci_device_id"), 31));
        cr_assert(eq(int, cli_console_to_json("serial", "pty", root, err, sizeof err), 0), "%s", err);
        cr_assert(eq(int, vm_config_from_json(root, &c, err, sizeof err), 0), "%s", err);
        cr_assert(eq(int, c.serial.mode, CONSOLE_PTY));
        cr_assert(eq(int, c.console.mode, CONSOLE_PTY));
        cr_assert(eq(str, c.console.id, "hvc0"));
        cr_assert(eq(i32, c.console.pci_device_id, 31));
        vm_config_done(&c);

        /* A later --console forgets what the earlier one said. */
        cr_assert(eq(int, cli_console_to_json("console", "off", root, err, sizeof err), 0), "%s", err);
        cr_assert(zero(ptr, (void *) member("console", "id")));
        cr_assert(zero(ptr, (void *) member("console", "pci_device_id")));
}

/* --disk, --net, --rng */

static const cJSON *element(const char *array, int i, const char *name)
{
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, array);
        cr_assert(cJSON_IsArray(a), "%s is not an array", array);
        return cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(a, i), name);
}

Test(cli, disk_each_option_adds_one)
{
        char err[256] = "";
        const cJSON *j;
        int r;

        cr_assert(eq(int, cli_disk_to_json("path=/a.img,readonly=on", root, err, sizeof err), 0), "%s", err);
        r = cli_disk_to_json("path=\"/b,c.img\",direct=on,num_queues=2,queue_size=256,serial=SN1,"
                             "id=data,pci_segment=0,pci_device_id=5,image_type=raw",
                             root, err, sizeof err);
        cr_assert(eq(int, r, 0), "%s", err);
        cr_assert(eq(int, cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(root, "disks")), 2));
        cr_assert(eq(str, cJSON_GetStringValue(element("disks", 0, "path")), "/a.img"));
        cr_assert(cJSON_IsTrue(element("disks", 0, "readonly")));
        cr_assert(zero(ptr, (void *) element("disks", 0, "direct")), "only what was given");
        cr_assert(eq(str, cJSON_GetStringValue(element("disks", 1, "path")), "/b,c.img"));
        cr_assert(cJSON_IsTrue(element("disks", 1, "direct")));
        cr_assert(eq(dbl, cJSON_GetNumberValue(element("disks", 1, "num_queues")), 2));
        cr_assert(eq(dbl, cJSON_GetNumberValue(element("disks", 1, "queue_size")), 256));
        cr_assert(eq(str, cJSON_GetStringValue(element("disks", 1, "serial")), "SN1"));
        cr_assert(eq(str, cJSON_GetStringValue(element("disks", 1, "id")), "data"));
        cr_assert(eq(dbl, cJSON_GetNumberValue(element("disks", 1, "pci_device_id")), 5));
        cr_assert(eq(str, cJSON_GetStringValue(element("disks", 1, "image_type")), "Raw"));

        /* A failed option adds nothing. */
        cr_assert(eq(int, cli_disk_to_json("path=/c,readonly=maybe", root, err, sizeof err), -EINVAL));
        cr_assert(eq(int, cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(root, "disks")), 2));
        /* An empty value is a disk without a path, for the decoder to refuse. */
        cr_assert(eq(int, cli_disk_to_json("", root, err, sizeof err), 0), "%s", err);
        j = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "disks"), 2);
        cr_assert(eq(int, cJSON_GetArraySize(j), 0));
}

Test(cli, disk_names_of_cloud_hypervisor)
{
        static const char value[] = "path=/a,socket=/run/vu,vhost_user=on,iommu=off,_disable_io_uring=on,"
                                    "_disable_aio=off,image_type=QCOW2,lock_granularity=byte-range,"
                                    "sparse=off,backing_files=on,rate_limit_group=g,queue_affinity=[0@[1]]";
        char err[256] = "";

        cr_assert(eq(int, cli_disk_to_json(value, root, err, sizeof err), 0), "%s", err);
        cr_assert(eq(str, cJSON_GetStringValue(element("disks", 0, "vhost_socket")), "/run/vu"));
        cr_assert(zero(ptr, (void *) element("disks", 0, "socket")));
        cr_assert(cJSON_IsTrue(element("disks", 0, "vhost_user")));
        cr_assert(cJSON_IsFalse(element("disks", 0, "iommu")));
        cr_assert(cJSON_IsTrue(element("disks", 0, "disable_io_uring")));
        cr_assert(cJSON_IsFalse(element("disks", 0, "disable_aio")));
        cr_assert(eq(str, cJSON_GetStringValue(element("disks", 0, "image_type")), "Qcow2"));
        cr_assert(eq(str, cJSON_GetStringValue(element("disks", 0, "lock_granularity")), "ByteRange"));
        cr_assert(cJSON_IsFalse(element("disks", 0, "sparse")));
        cr_assert(cJSON_IsTrue(element("disks", 0, "backing_files")));
        cr_assert(eq(str, cJSON_GetStringValue(element("disks", 0, "rate_limit_group")), "g"));
        cr_assert(eq(str, cJSON_GetStringValue(element("disks", 0, "queue_affinity")), "[0@[1]]"));
}

Test(cli, disk_rate_limiter_keys)
{
        static const char value[] = "path=/a,bw_size=1000,bw_one_time_burst=5,bw_refill_time=100,"
                                    "ops_size=10,ops_one_time_burst=2,ops_refill_time=50";
        char err[256] = "";
        const cJSON *rl, *bw, *ops;

        cr_assert(eq(int, cli_disk_to_json(value, root, err, sizeof err), 0), "%s", err);
        rl = element("disks", 0, "rate_limiter_config");
        bw = cJSON_GetObjectItemCaseSensitive(rl, "bandwidth");
        ops = cJSON_GetObjectItemCaseSensitive(rl, "ops");
        cr_assert(eq(dbl, cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(bw, "size")), 1000));
        cr_assert(eq(dbl, cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(bw, "one_time_burst")), 5));
        cr_assert(eq(dbl, cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(bw, "refill_time")), 100));
        cr_assert(eq(dbl, cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(ops, "size")), 10));
        cr_assert(eq(dbl, cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(ops, "one_time_burst")), 2));
        cr_assert(eq(dbl, cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(ops, "refill_time")), 50));
}

Test(cli, disk_errors)
{
        char err[256];

        assert_error(cli_disk_to_json("path=/a,readonly=maybe", root, err, sizeof err), err,
                     "--disk: readonly=\"maybe\" is not on or off");
        assert_error(cli_disk_to_json("path=/a,num_queues=many", root, err, sizeof err), err,
                     "--disk: num_queues=\"many\" is not a number");
        assert_error(cli_disk_to_json("path=/a,queue_size=-1", root, err, sizeof err), err,
                     "--disk: queue_size=\"-1\" is not a number");
        assert_error(cli_disk_to_json("path=/a,pci_device_id=4294967296", root, err, sizeof err), err,
                     "--disk: pci_device_id=\"4294967296\" is not a number");
        assert_error(cli_disk_to_json("path=/a,bw_size=1k", root, err, sizeof err), err,
                     "--disk: bw_size=\"1k\" is not a number");
        assert_error(cli_disk_to_json("path=/a,image_type=qcow3", root, err, sizeof err), err,
                     "--disk: image_type=\"qcow3\" is not one of raw, qcow2, vhd, vhdx, vmdk");
        assert_error(cli_disk_to_json("path=/a,lock_granularity=all", root, err, sizeof err), err,
                     "--disk: lock_granularity=\"all\" is not one of byte-range, full");
        assert_error(cli_disk_to_json("path=/a,size=1G", root, err, sizeof err), err,
                     "--disk: unknown key \"size\" in \"path=/a,size=1G\"");
        assert_error(cli_disk_to_json("path=/a,fd=[3]", root, err, sizeof err), err,
                     "--disk: unknown key \"fd\" in \"path=/a,fd=[3]\"");
        assert_error(cli_disk_to_json("/a.img", root, err, sizeof err), err,
                     "--disk: \"/a.img\" in \"/a.img\" is not of the form key=value");
        assert_error(cli_disk_to_json("path=\"/a", root, err, sizeof err), err,
                     "--disk: cannot parse \"path=\"/a\": unbalanced brackets or quotes");
        cr_assert(zero(ptr, cJSON_GetObjectItemCaseSensitive(root, "disks")), "failed options add nothing");
}

Test(cli, net_keys)
{
        static const char value[] = "tap=tap0,mac=52:54:00:12:34:56,ip=192.168.249.1,mask=255.255.255.0,"
                                    "host_mac=fe:00:00:00:00:01,mtu=1500,num_queues=2,queue_size=512,"
                                    "offload_tso=off,offload_ufo=off,offload_csum=on,id=eth0,"
                                    "pci_device_id=3";
        char err[256] = "";
        const cJSON *fds;
        int r;

        cr_assert(eq(int, cli_net_to_json(value, root, err, sizeof err), 0), "%s", err);
        cr_assert(eq(str, cJSON_GetStringValue(element("net", 0, "tap")), "tap0"));
        cr_assert(eq(str, cJSON_GetStringValue(element("net", 0, "mac")), "52:54:00:12:34:56"));
        cr_assert(eq(str, cJSON_GetStringValue(element("net", 0, "ip")), "192.168.249.1"));
        cr_assert(eq(str, cJSON_GetStringValue(element("net", 0, "mask")), "255.255.255.0"));
        cr_assert(eq(str, cJSON_GetStringValue(element("net", 0, "host_mac")), "fe:00:00:00:00:01"));
        cr_assert(eq(dbl, cJSON_GetNumberValue(element("net", 0, "mtu")), 1500));
        cr_assert(eq(dbl, cJSON_GetNumberValue(element("net", 0, "num_queues")), 2));
        cr_assert(eq(dbl, cJSON_GetNumberValue(element("net", 0, "queue_size")), 512));
        cr_assert(cJSON_IsFalse(element("net", 0, "offload_tso")));
        cr_assert(cJSON_IsFalse(element("net", 0, "offload_ufo")));
        cr_assert(cJSON_IsTrue(element("net", 0, "offload_csum")));
        cr_assert(eq(str, cJSON_GetStringValue(element("net", 0, "id")), "eth0"));

        r = cli_net_to_json("fd=[3-5,9],num_queues=8,vhost_mode=Server", root, err, sizeof err);
        cr_assert(eq(int, r, 0), "%s", err);
        fds = element("net", 1, "fds");
        cr_assert(eq(int, cJSON_GetArraySize(fds), 4));
        cr_assert(eq(dbl, cJSON_GetNumberValue(cJSON_GetArrayItem(fds, 0)), 3));
        cr_assert(eq(dbl, cJSON_GetNumberValue(cJSON_GetArrayItem(fds, 2)), 5));
        cr_assert(eq(dbl, cJSON_GetNumberValue(cJSON_GetArrayItem(fds, 3)), 9));
        cr_assert(eq(str, cJSON_GetStringValue(element("net", 1, "vhost_mode")), "Server"));
        cr_assert(zero(ptr, (void *) element("net", 1, "fd")));

        cr_assert(eq(int, cli_net_to_json("fd=7", root, err, sizeof err), 0), "%s", err);
        cr_assert(eq(int, cJSON_GetArraySize(element("net", 2, "fds")), 1));
}

Test(cli, net_errors)
{
        char err[256];

        assert_error(cli_net_to_json("fd=three", root, err, sizeof err), err,
                     "--net: fd=\"three\" is not a list of numbers (e.g. [3,4])");
        assert_error(cli_net_to_json("fd=[3,x]", root, err, sizeof err), err,
                     "--net: fd=\"[3,x]\" is not a list of numbers (e.g. [3,4])");
        assert_error(cli_net_to_json("fd=[-1]", root, err, sizeof err), err,
                     "--net: fd=\"[-1]\" is not a list of numbers (e.g. [3,4])");
        assert_error(cli_net_to_json("mtu=big", root, err, sizeof err), err,
                     "--net: mtu=\"big\" is not a number");
        assert_error(cli_net_to_json("offload_csum=maybe", root, err, sizeof err), err,
                     "--net: offload_csum=\"maybe\" is not on or off");
        assert_error(cli_net_to_json("vhost_mode=both", root, err, sizeof err), err,
                     "--net: vhost_mode=\"both\" is not one of client, server");
        assert_error(cli_net_to_json("tap=tap0,path=/x", root, err, sizeof err), err,
                     "--net: unknown key \"path\" in \"tap=tap0,path=/x\"");
        assert_error(cli_net_to_json("fds=[3]", root, err, sizeof err), err,
                     "--net: unknown key \"fds\" in \"fds=[3]\"");
        assert_error(cli_net_to_json("tap", root, err, sizeof err), err,
                     "--net: \"tap\" in \"tap\" is not of the form key=value");
}

Test(cli, rng_merges)
{
        char err[256] = "";

        cr_assert(eq(int, cli_rng_to_json("src=/dev/hwrng", root, err, sizeof err), 0), "%s", err);
        cr_assert(eq(int, cli_rng_to_json("pci_device_id=6,iommu=off", root, err, sizeof err), 0), "%s",
                  err);
        cr_assert(eq(str, (char *) string("rng", "src"), "/dev/hwrng"));
        cr_assert(eq(dbl, number("rng", "pci_device_id"), 6));
        cr_assert(eq(int, boolean("rng", "iommu"), false));
        assert_error(cli_rng_to_json("source=/dev/random", root, err, sizeof err), err,
                     "--rng: unknown key \"source\" in \"source=/dev/random\"");
        assert_error(cli_rng_to_json("src=/dev/random,iommu=yes please", root, err, sizeof err), err,
                     "--rng: iommu=\"yes please\" is not on or off");
}

static int decode_root(VmConfig *c, char *err, size_t errlen)
{
        cr_assert(eq(int, cli_payload_to_json("kernel", "/k", root, err, errlen), 0));
        return vm_config_from_json(root, c, err, errlen);
}

Test(cli, devices_end_to_end)
{
        char err[256] = "";
        VmConfig c;
        int r;

        cr_assert(eq(int, cli_cpus_to_json("boot=2", root, err, sizeof err), 0));
        cr_assert(eq(int, cli_disk_to_json("path=/a.img,readonly=on", root, err, sizeof err), 0));
        cr_assert(eq(int, cli_disk_to_json("path=/b.img,num_queues=2,id=data", root, err, sizeof err), 0));
        r = cli_net_to_json("tap=tap0,mac=52:54:00:12:34:56,ip=10.0.0.1,mask=255.255.255.0", root, err,
                            sizeof err);
        cr_assert(eq(int, r, 0), "%s", err);
        cr_assert(eq(int, cli_net_to_json("fd=[3],num_queues=2", root, err, sizeof err), 0));
        cr_assert(eq(int, cli_rng_to_json("src=/dev/hwrng", root, err, sizeof err), 0));
        cr_assert(eq(int, decode_root(&c, err, sizeof err), 0), "%s", err);
        cr_assert(eq(sz, c.n_disks, 2));
        cr_assert(eq(str, c.disks[0].path, "/a.img"));
        cr_assert(eq(int, c.disks[0].readonly, true));
        cr_assert(eq(str, c.disks[0].id, "_disk0"));
        cr_assert(eq(str, c.disks[1].id, "data"));
        cr_assert(eq(u32, c.disks[1].num_queues, 2));
        cr_assert(eq(sz, c.n_net, 2));
        cr_assert(eq(str, c.net[0].tap, "tap0"));
        cr_assert(eq(int, c.net[0].mac_set, true));
        cr_assert(eq(int, c.net[0].ip_set, true));
        cr_assert(eq(str, c.net[0].id, "_net1"));
        cr_assert(eq(sz, c.net[1].n_fds, 1));
        cr_assert(eq(int, c.net[1].fds[0], 3));
        cr_assert(eq(str, c.net[1].id, "_net2"));
        cr_assert(eq(str, c.rng.src, "/dev/hwrng"));
        vm_config_done(&c);
}

Test(cli, devices_checked_by_the_decoder)
{
        static const struct {
                int (*to_json)(const char *value, cJSON *root, char *err, size_t errlen);
                const char *value;
                const char *error;
        } table[] = {
                { cli_disk_to_json, "readonly=on", "disks[0].path: a disk needs a path" },
                { cli_disk_to_json, "path=/a,queue_size=100",
                  "disks[0].queue_size: 100 is not a power of two" },
                { cli_disk_to_json, "path=/a,num_queues=0",
                  "disks[0].num_queues: 0 is out of range (1..64)" },
                { cli_disk_to_json, "path=/a,vhost_user=on",
                  "disks[0].vhost_user: not supported by chv yet" },
                { cli_disk_to_json, "path=/a,bw_size=1000,bw_refill_time=10",
                  "disks[0].rate_limiter_config: not supported by chv yet" },
                { cli_disk_to_json, "path=/a,image_type=qcow2",
                  "disks[0].image_type: Qcow2 is not supported by chv yet (only Raw)" },
                { cli_disk_to_json, "path=/a,iommu=on", "disks[0].iommu: not supported by chv yet" },
                { cli_disk_to_json, "path=/a,pci_segment=1",
                  "disks[0].pci_segment: segment 1 is not supported by chv yet (only 0)" },
                { cli_net_to_json, "mac=01:02:03:04:05:06",
                  "net[0].mac: 01:02:03:04:05:06 is a multicast address, not one an interface can have" },
                { cli_net_to_json, "ip=10.0.0.1", "net[0].ip: given without a mask" },
                { cli_net_to_json, "num_queues=3",
                  "net[0].num_queues: 3 is odd: queues come in receive/transmit pairs" },
                { cli_net_to_json, "num_queues=4",
                  "net[0].num_queues: 2 queue pairs are more than boot_vcpus (1)" },
                { cli_net_to_json, "fd=[3,4]",
                  "net[0].num_queues: 2, but 2 fds serve 4 queues (one per pair)" },
                { cli_net_to_json, "fd=2",
                  "net[0].fds[0]: 2 is standard input, output or error, not a tap" },
                { cli_rng_to_json, "src=", "rng.src: must not be empty" },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                char err[256] = "";
                VmConfig c;

                cJSON_DeleteItemFromObjectCaseSensitive(root, "disks");
                cJSON_DeleteItemFromObjectCaseSensitive(root, "net");
                cJSON_DeleteItemFromObjectCaseSensitive(root, "rng");
                cr_assert(eq(int, table[i].to_json(table[i].value, root, err, sizeof err), 0), "%s: %s",
                          table[i].value, err);
                cr_assert(eq(int, decode_root(&c, err, sizeof err), -EINVAL), "%s", table[i].value);
                cr_assert(eq(str, err, (char *) table[i].error), "%s", table[i].value);
        }
}

Test(cli, duplicate_ids_name_both_disks)
{
        char err[256] = "";
        VmConfig c;

        cr_assert(eq(int, cli_disk_to_json("path=/a,id=d", root, err, sizeof err), 0));
        cr_assert(eq(int, cli_disk_to_json("path=/b,id=d", root, err, sizeof err), 0));
        cr_assert(eq(int, decode_root(&c, err, sizeof err), -EINVAL));
        cr_assert(eq(str, err, "disks[1].id: \"d\" is already the id of disks[0]"));
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
