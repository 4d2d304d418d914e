/* SPDX-License-Identifier: Apache-2.0 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <sys/stat.h>

#include "bus-util.h"
#include "file-util.h"
#include "manager.h"
#include "vm.h"

Test(chvd_vm, state_table)
{
        for (int i = 0; i < _VM_STATE_MAX; i++) {
                const char *s = vm_state_to_string((VmState) i);
                cr_assert(not(zero(ptr, (void *) s)), "state %d has no name", i);
                cr_assert(eq(int, vm_state_from_string(s), i));
        }
        cr_assert(zero(ptr, (void *) vm_state_to_string(_VM_STATE_MAX)));
        cr_assert(zero(ptr, (void *) vm_state_to_string(_VM_STATE_INVALID)));
        cr_assert(eq(int, vm_state_from_string("running"), _VM_STATE_INVALID));
        cr_assert(eq(int, vm_state_from_string(NULL), _VM_STATE_INVALID));
        cr_assert(vm_state_is_inactive(VM_CREATED) && vm_state_is_inactive(VM_SHUTDOWN) &&
                  vm_state_is_inactive(VM_FAILED));
        cr_assert(not(vm_state_is_inactive(VM_STARTING) || vm_state_is_inactive(VM_RUNNING) ||
                      vm_state_is_inactive(VM_STOPPING)));
}

Test(chvd_vm, names)
{
        static const char *const good[] = { "a", "web", "db-1", "x.example.com", "A_b-C.9", "0",
                                            "0123456789012345678901234567890123456789012345678901234567890123" };
        static const char *const bad[] = {
                "",  "-a",    ".a",   "_a",  "a/b", "a b", "..", "a\n", "caf\xc3\xa9", "a:b", "a@b", "a\\b",
                "01234567890123456789012345678901234567890123456789012345678901234",
        };

        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                cr_assert(vm_name_is_valid(good[i]), "\"%s\" should be valid", good[i]);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                cr_assert(not(vm_name_is_valid(bad[i])), "\"%s\" should be invalid", bad[i]);
        cr_assert(not(vm_name_is_valid(NULL)));
}

Test(chvd_vm, quote_for_message)
{
        char buf[80];

        quote_for_message("web", 64, buf, sizeof buf);
        cr_assert(eq(str, buf, "web"));
        quote_for_message("a\nb\x01\xc3\xa9", 64, buf, sizeof buf);
        cr_assert(eq(str, buf, "a?b???"));
        quote_for_message("abcdefghij", 4, buf, sizeof buf);
        cr_assert(eq(str, buf, "abcd..."));
        quote_for_message("abcdefghij", 64, buf, 6);
        cr_assert(eq(str, buf, "a..."));
}

static void config_fails(const char *text, const char *expected)
{
        char err[512] = "";
        cJSON *c = NULL;

        cr_assert(eq(int, vm_config_check(text, strlen(text), &c, err, sizeof err), -EINVAL), "%s", text);
        cr_assert(eq(str, err, (char *) expected));
        cr_assert(zero(ptr, c));
}

Test(chvd_vm, config_rules)
{
        _cleanup_free_ char *printed = NULL;
        char err[512] = "";
        cJSON *c = NULL;
        const char *text = "payload: {kernel: /boot/vmlinux}\nnet: [{tap: vmtap0}]\n";

        cr_assert(eq(int, vm_config_check(text, strlen(text), &c, err, sizeof err), 0), "%s", err);
        /* Completed: defaults, ids and a MAC, which stays the same from boot to boot. */
        printed = cJSON_PrintUnformatted(c);
        cr_assert(not(zero(ptr, strstr(printed, "\"id\":\"_net0\""))), "%s", printed);
        cr_assert(not(zero(ptr, strstr(printed, "\"mac\":"))), "%s", printed);
        cr_assert(not(zero(ptr, strstr(printed, "\"size\":536870912"))), "%s", printed);
        cJSON_Delete(c);

        config_fails("{\"payload\": {\"kernel\": \"boot/vmlinux\"}}",
                     "payload.kernel: \"boot/vmlinux\" is a relative path; chvd needs an absolute one");
        config_fails("{\"payload\": {\"kernel\": \"/k\", \"initramfs\": \"i\"}}",
                     "payload.initramfs: \"i\" is a relative path; chvd needs an absolute one");
        config_fails("{\"payload\": {\"kernel\": \"/k\"}, \"disks\": [{\"path\": \"/a\"}, {\"path\": \"b\"}]}",
                     "disks[1].path: \"b\" is a relative path; chvd needs an absolute one");
        config_fails("{\"payload\": {\"kernel\": \"/k\"}, \"console\": {\"mode\": \"File\", \"file\": \"c\"}}",
                     "console.file: \"c\" is a relative path; chvd needs an absolute one");
        config_fails("{\"payload\": {\"kernel\": \"/k\"}, \"rng\": {\"src\": \"random\"}}",
                     "rng.src: \"random\" is a relative path; chvd needs an absolute one");
        config_fails("{\"payload\": {\"kernel\": \"/k\"}, \"net\": [{}, {\"fds\": [5]}]}",
                     "net[1].fds: file descriptors cannot travel in a configuration; name the tap with tap= instead");
        config_fails("{\"payload\": {}}", "payload.kernel: a kernel is required");
        config_fails("x: [", "line 2, column 1: did not find expected node content (while parsing a flow node at "
                             "line 2, column 1)");
}

Test(chvd_files, write_atomic_mkdir_rm_rf)
{
        char dir[] = "/tmp/chvd-unit.XXXXXX", path[256], text[64] = "";
        struct stat st;
        FILE *f;

        cr_assert(not(zero(ptr, mkdtemp(dir))));
        snprintf(path, sizeof path, "%s/a/b/c", dir);
        cr_assert(eq(int, mkdir_p(path, 0700), 0));
        cr_assert(eq(int, mkdir_p(path, 0700), 0), "an existing directory is fine");
        cr_assert(eq(int, stat(path, &st), 0));
        cr_assert(eq(int, st.st_mode & 07777, 0700));
        snprintf(path, sizeof path, "%s/a/b/c/f.json", dir);
        cr_assert(eq(int, write_file_atomic(path, "one", 0600), 0));
        cr_assert(eq(int, write_file_atomic(path, "two", 0600), 0));
        f = fopen(path, "r");
        cr_assert(not(zero(ptr, f)));
        cr_assert(not(zero(ptr, fgets(text, sizeof text, f))));
        fclose(f);
        cr_assert(eq(str, text, "two"));
        cr_assert(eq(int, stat(path, &st), 0));
        cr_assert(eq(int, st.st_mode & 07777, 0600));
        strcat(path, ".tmp");
        cr_assert(eq(int, stat(path, &st), -1), "the temporary file is gone");
        cr_assert(eq(int, mkdir_p(path, 0700), 0));
        snprintf(path, sizeof path, "%s/a/b/c/f.json", dir);
        cr_assert(eq(int, mkdir_p(path, 0700), -ENOTDIR));
        cr_assert(eq(int, rm_rf(dir), 0));
        cr_assert(eq(int, stat(dir, &st), -1));
        cr_assert(eq(int, rm_rf(dir), 0), "a missing path is fine");
}

/* The VMs by name, as the list and the table keep them: 300 added (the table grows past 64 and 256
 * buckets), every third removed, each one found or not, the order of creation kept. */
Test(chvd_manager, vms_by_name)
{
        Manager m = {};
        Vm *vms[300];
        char name[16];

        for (int i = 0; i < 300; i++) {
                cJSON *config = cJSON_Parse("{\"payload\": {\"kernel\": \"/k\"}}");
                snprintf(name, sizeof name, "vm-%d", i);
                cr_assert(eq(int, vm_new(&m, name, NULL, config, &vms[i]), 0));
                manager_add_vm(&m, vms[i]);
        }
        cr_assert(eq(sz, m.n_vms, 300));
        cr_assert(ge(sz, m.n_buckets, 300));
        for (int i = 0; i < 300; i += 3) {
                manager_remove_vm(&m, vms[i]);
                vm_free(vms[i]);
                vms[i] = NULL;
        }
        cr_assert(eq(sz, m.n_vms, 200));
        for (int i = 0; i < 300; i++) {
                snprintf(name, sizeof name, "vm-%d", i);
                cr_assert(eq(ptr, manager_find_vm(&m, name), vms[i]), "%s", name);
        }
        cr_assert(eq(ptr, manager_find_vm(&m, "vm-300"), NULL));
        int n = 0, last = -1;
        for (Vm *vm = m.vms; vm; vm = vm->next, n++) {
                int k = atoi(vm->name + 3);
                cr_assert(gt(int, k, last), "the list is out of order at %s", vm->name);
                last = k;
        }
        cr_assert(eq(int, n, 200));
        cr_assert(eq(ptr, m.vms_tail, vms[299]));
        for (int i = 0; i < 300; i++)
                if (vms[i]) {
                        manager_remove_vm(&m, vms[i]);
                        vm_free(vms[i]);
                }
        cr_assert(eq(ptr, m.vms, NULL));
        cr_assert(eq(ptr, m.vms_tail, NULL));
        free(m.by_name);
}
