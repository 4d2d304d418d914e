/* SPDX-License-Identifier: Apache-2.0 */
/* The C entry point: copies the PVH start info, prints the start line and runs one scenario. */
#include "devices.h"
#include "guest.h"

#define HVM_START_MAGIC 0x336ec578

struct hvm_start_info {
        uint32_t magic;
        uint32_t version;
        uint32_t flags;
        uint32_t nr_modules;
        uint64_t modlist_paddr;
        uint64_t cmdline_paddr;
        uint64_t rsdp_paddr;
        /* version >= 1 */
        uint64_t memmap_paddr;
        uint32_t memmap_entries;
        uint32_t reserved;
};

struct scenario {
        const char *name;
        const char *(*run)(void);
};

static const struct scenario scenarios[] = {
        { "serial", scenario_serial },
        { "cmdline", scenario_cmdline },
        { "memory", scenario_memory },
        { "cpus", scenario_cpus },
        { "rtc", scenario_rtc },
        { "user", scenario_user },
        { "reset", scenario_reset },
        { "triple", scenario_triple },
        { "halt", scenario_halt },
        { "power-button", scenario_power_button },
        { "exception", scenario_exception },
        { "acpi", scenario_acpi },
        { "pci", scenario_pci },
        { "virtio-blk", scenario_virtio_blk },
        { "virtio-blk-flush", scenario_virtio_blk_flush },
        { "virtio-blk-bench", scenario_virtio_blk_bench },
        { "virtio-rng", scenario_virtio_rng },
        { "virtio-console", scenario_virtio_console },
        { "virtio-net", scenario_virtio_net },
        { "virtio-net-bench", scenario_virtio_net_bench },
        { "msix", scenario_msix },
        { "virtio-hostile", scenario_virtio_hostile },
};

struct boot_info boot_info;

void guest_main(uint32_t start_info_paddr);

static bool below_4g(uint64_t pa, uint64_t size)
{
        return pa < (UINT64_C(1) << 32) && size <= (UINT64_C(1) << 32) - pa;
}

/* Runs before anything else touches memory: the start info and the command line live in low memory. */
static void copy_start_info(uint32_t paddr)
{
        const struct hvm_start_info *si = phys(paddr);
        struct boot_info *b = &boot_info;

        b->start_info_paddr = paddr;
        if (paddr == 0 || si->magic != HVM_START_MAGIC)
                return;
        b->start_info_valid = true;
        b->version = si->version;
        b->rsdp_paddr = si->rsdp_paddr;

        if (si->cmdline_paddr != 0 && below_4g(si->cmdline_paddr, 1)) {
                const char *s = phys(si->cmdline_paddr);
                size_t max = CMDLINE_MAX - 1;

                if ((UINT64_C(1) << 32) - si->cmdline_paddr < max)
                        max = (size_t) ((UINT64_C(1) << 32) - si->cmdline_paddr);
                while (b->cmdline_len < max && s[b->cmdline_len])
                        b->cmdline_len++;
                b->cmdline_truncated = b->cmdline_len == CMDLINE_MAX - 1 && s[b->cmdline_len];
                memcpy(b->cmdline, s, b->cmdline_len);
        }

        if (si->version >= 1 && si->memmap_paddr != 0 &&
            below_4g(si->memmap_paddr, (uint64_t) si->memmap_entries * sizeof(struct memmap_entry))) {
                const struct memmap_entry *e = phys(si->memmap_paddr);

                b->have_memmap = true;
                b->memmap_entries_total = si->memmap_entries;
                b->memmap_entries = si->memmap_entries < MEMMAP_MAX ? si->memmap_entries : MEMMAP_MAX;
                memcpy(b->memmap, e, b->memmap_entries * sizeof(*e));
        }
}

/* The value of the first test=NAME argument, or "serial". */
static void scenario_name(const char **ret, size_t *ret_len)
{
        const char *s = boot_info.cmdline;
        size_t n = boot_info.cmdline_len;

        *ret = "serial";
        *ret_len = 6;
        for (size_t i = 0; i < n;) {
                size_t start, len;

                while (i < n && s[i] == ' ')
                        i++;
                start = i;
                while (i < n && s[i] != ' ')
                        i++;
                len = i - start;
                if (str_prefix(s + start, len, "test=")) {
                        *ret = s + start + 5;
                        *ret_len = len - 5;
                        return;
                }
        }
}

void guest_main(uint32_t start_info_paddr)
{
        const char *name;
        size_t name_len;

        serial_init();
        debug_marker(MARK_LONG_MODE);
        copy_start_info(start_info_paddr);
        print("chv-test-guest: start cmdline=\"%s\"\n", boot_info.cmdline);
        cpu_init();

        if (!boot_info.start_info_valid) {
                print("chv-test-guest: no PVH start info at 0x%x\n", start_info_paddr);
                finish("no start info");
        }

        scenario_name(&name, &name_len);
        for (size_t i = 0; i < ELEMENTSOF(scenarios); i++)
                if (str_eq_n(name, name_len, scenarios[i].name))
                        finish(scenarios[i].run());

        print("chv-test-guest: unknown scenario \"");
        serial_write(name, name_len);
        print("\"\n");
        finish("unknown scenario");
}
