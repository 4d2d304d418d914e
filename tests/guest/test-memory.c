/* SPDX-License-Identifier: Apache-2.0 */
/* Scenario memory: the PVH memory map, and a write/read-back probe at both ends of RAM. */
#include "guest.h"

#define E820_RAM   1
#define PROBE_SIZE 4096
#define LOW_PROBE  0x100000

static bool in_ram(uint64_t addr, uint64_t size)
{
        for (unsigned i = 0; i < boot_info.memmap_entries; i++) {
                const struct memmap_entry *e = &boot_info.memmap[i];

                if (e->type == E820_RAM && addr >= e->addr && addr - e->addr <= e->size &&
                    size <= e->size - (addr - e->addr))
                        return true;
        }
        return false;
}

static bool overlaps_guest(uint64_t addr, uint64_t size)
{
        uint64_t start = (uintptr_t) __image_start;

        return addr < USER_END && addr + size > start;
}

/* Writes a pattern that depends on the address, reads it back, and restores what was there. */
static bool probe(uint64_t addr)
{
        volatile uint64_t *p;
        uint64_t saved[PROBE_SIZE / 8];
        bool ok = true;

        map_phys_high(addr);
        p = phys(addr);
        for (unsigned i = 0; i < ELEMENTSOF(saved); i++) {
                saved[i] = p[i];
                p[i] = (addr + i * 8) ^ UINT64_C(0x5a5aa5a5c3c33c3c);
        }
        for (unsigned i = 0; i < ELEMENTSOF(saved); i++)
                if (p[i] != ((addr + i * 8) ^ UINT64_C(0x5a5aa5a5c3c33c3c)))
                        ok = false;
        for (unsigned i = 0; i < ELEMENTSOF(saved); i++)
                p[i] = ~p[i];
        for (unsigned i = 0; i < ELEMENTSOF(saved); i++) {
                if (p[i] != ~((addr + i * 8) ^ UINT64_C(0x5a5aa5a5c3c33c3c)))
                        ok = false;
                p[i] = saved[i];
        }
        return ok;
}

const char *scenario_memory(void)
{
        uint64_t ram_bytes = 0, ram_top = 0, high;

        if (!boot_info.have_memmap) {
                print("memory: no memory map (start info version %u)\n", boot_info.version);
                return "no memory map";
        }
        for (unsigned i = 0; i < boot_info.memmap_entries; i++) {
                const struct memmap_entry *e = &boot_info.memmap[i];

                print("memory: map 0x%lx 0x%lx type %u\n", e->addr, e->addr + e->size, e->type);
                if (e->type != E820_RAM)
                        continue;
                ram_bytes += e->size;
                if (e->addr + e->size > ram_top)
                        ram_top = e->addr + e->size;
        }
        if (boot_info.memmap_entries < boot_info.memmap_entries_total)
                print("memory: %u more entries not shown\n",
                      boot_info.memmap_entries_total - boot_info.memmap_entries);
        print("memory: ram_bytes=%lu\n", ram_bytes);
        print("memory: ram_top=0x%lx\n", ram_top);

        if (!in_ram(LOW_PROBE, PROBE_SIZE))
                return "no RAM at 1 MiB";
        high = (ram_top & ~(uint64_t) (PROBE_SIZE - 1)) - PROBE_SIZE;
        if (ram_top < PROBE_SIZE || !in_ram(high, PROBE_SIZE))
                return "no RAM page below ram_top";
        if (overlaps_guest(high, PROBE_SIZE))
                return "too little RAM: the top page overlaps the guest";
        if (high >= (UINT64_C(1) << 39))
                return "ram_top above 512 GiB";

        if (!probe(LOW_PROBE)) {
                print("memory: probe failed at 0x%x\n", LOW_PROBE);
                return "probe at 1 MiB";
        }
        if (!probe(high)) {
                print("memory: probe failed at 0x%lx\n", high);
                return "probe below ram_top";
        }
        print("memory: probe ok\n");
        return NULL;
}
