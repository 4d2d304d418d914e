/* SPDX-License-Identifier: Apache-2.0 */
/* Command-line options, bounded waits, the DMA arena and uncached mappings for the device scenarios. */
#include "platform.h"

#define E820_RAM         1
#define PAGE_2M          UINT64_C(0x200000)
#define PTE_ADDR_MASK    UINT64_C(0x000ffffffffff000)
#define PTE_TABLE        (PTE_PRESENT | PTE_WRITE | PTE_USER)
#define TABLE_POOL_PAGES 16
#define CHECKS_PER_CLOCK 64
#define CHECKS_PER_SEC   UINT64_C(100000000)

void print_chars(const char *s, size_t n)
{
        for (size_t i = 0; i < n; i++)
                serial_putc(s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?');
}

bool cmdline_value(const char *key, const char **ret, size_t *ret_len)
{
        const char *s = boot_info.cmdline;
        size_t n = boot_info.cmdline_len, klen = strlen(key);

        for (size_t i = 0; i < n;) {
                size_t start;

                while (i < n && s[i] == ' ')
                        i++;
                start = i;
                while (i < n && s[i] != ' ')
                        i++;
                if (i - start > klen && memcmp(s + start, key, klen) == 0 && s[start + klen] == '=') {
                        *ret = s + start + klen + 1;
                        *ret_len = i - start - klen - 1;
                        return true;
                }
        }
        return false;
}

bool parse_number(const char *s, size_t len, uint64_t *ret)
{
        unsigned base = 10;
        uint64_t v = 0;

        if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
                base = 16;
                s += 2;
                len -= 2;
        }
        if (len == 0)
                return false;
        for (size_t i = 0; i < len; i++) {
                char c = s[i];
                unsigned digit;

                if (c >= '0' && c <= '9')
                        digit = (unsigned) (c - '0');
                else if (base == 16 && c >= 'a' && c <= 'f')
                        digit = (unsigned) (c - 'a' + 10);
                else if (base == 16 && c >= 'A' && c <= 'F')
                        digit = (unsigned) (c - 'A' + 10);
                else
                        return false;
                if (v > (UINT64_MAX - digit) / base)
                        return false;
                v = v * base + digit;
        }
        *ret = v;
        return true;
}

bool cmdline_number(const char *key, uint64_t *ret)
{
        const char *v;
        size_t len;

        return cmdline_value(key, &v, &len) && parse_number(v, len, ret);
}

bool cmdline_is(const char *key, const char *word)
{
        const char *v;
        size_t len;

        return cmdline_value(key, &v, &len) && str_eq_n(v, len, word);
}

void deadline_start(struct deadline *d, unsigned seconds)
{
        *d = (struct deadline){
                .last_second = cmos_read(0),
                .limit = seconds,
                .max_checks = seconds * CHECKS_PER_SEC,
        };
}

bool deadline_passed(struct deadline *d)
{
        uint8_t now;

        if (d->seconds >= d->limit || ++d->checks >= d->max_checks)
                return true;
        if (d->checks % CHECKS_PER_CLOCK != 0)
                return false;
        now = cmos_read(0);
        if (now != d->last_second) {
                d->last_second = now;
                d->seconds++;
        }
        return d->seconds >= d->limit;
}

void sleep_seconds(unsigned seconds)
{
        struct deadline d;

        deadline_start(&d, seconds);
        while (!deadline_passed(&d))
                cpu_relax();
}

static uint64_t dma_next = DMA_BASE;

void dma_reset(void)
{
        dma_next = DMA_BASE;
}

void *dma_alloc(size_t size, size_t align)
{
        uint64_t start = (dma_next + align - 1) & ~(uint64_t) (align - 1);

        if (start > DMA_END || size > DMA_END - start)
                return NULL;
        dma_next = start + size;
        return memset(phys(start), 0, size);
}

bool dma_available(void)
{
        for (unsigned i = 0; i < boot_info.memmap_entries; i++) {
                const struct memmap_entry *e = &boot_info.memmap[i];

                if (e->type == E820_RAM && e->addr <= DMA_BASE && e->addr + e->size >= DMA_END)
                        return true;
        }
        return false;
}

void dma_set_user(bool user)
{
        for (uint64_t pa = DMA_BASE; pa < DMA_END; pa += PAGE_2M) {
                if (user)
                        boot_pd[pa >> 21] |= PTE_USER;
                else
                        boot_pd[pa >> 21] &= ~(uint64_t) PTE_USER;
        }
        write_cr3(read_cr3());
}

static uint64_t table_pool[TABLE_POOL_PAGES][512] __attribute__((aligned(4096)));
static unsigned table_pool_used;

/* The table an entry points to, made (empty) when the entry is not present. NULL when the pool is out. */
static uint64_t *table_get(uint64_t *entry)
{
        uint64_t *t;

        if (*entry & PTE_PRESENT)
                return phys(*entry & PTE_ADDR_MASK);
        if (table_pool_used == TABLE_POOL_PAGES)
                return NULL;
        t = table_pool[table_pool_used++];
        memset(t, 0, 4096);
        *entry = (uintptr_t) t | PTE_TABLE;
        return t;
}

bool mmio_map(uint64_t pa, uint64_t size, bool user)
{
        uint64_t flags = PTE_PRESENT | PTE_WRITE | PTE_LARGE | PTE_PWT | PTE_PCD | (user ? PTE_USER : 0);
        uint64_t end = pa + size;

        if (size == 0 || end < pa || end > (UINT64_C(1) << 48))
                return false;
        for (uint64_t a = pa & ~(PAGE_2M - 1); a < end; a += PAGE_2M) {
                uint64_t *pdpt, *pd;

                if (a < (UINT64_C(1) << 32)) {
                        boot_pd[a >> 21] = a | flags;
                        continue;
                }
                pdpt = table_get(&boot_pml4[(a >> 39) & 511]);
                if (!pdpt)
                        return false;
                /* A PDPT entry with a 1 GiB page would be another mapper's: replace it. */
                if (pdpt[(a >> 30) & 511] & PTE_LARGE)
                        pdpt[(a >> 30) & 511] = 0;
                pd = table_get(&pdpt[(a >> 30) & 511]);
                if (!pd)
                        return false;
                pd[(a >> 21) & 511] = a | flags;
        }
        write_cr3(read_cr3());
        return true;
}

void fill_pattern(void *buf, size_t len, uint32_t seed, uint64_t offset)
{
        uint64_t *w = buf;

        for (size_t i = 0; i < len / 8; i++)
                w[i] = pattern_word(seed, offset / 8 + i);
}

size_t check_pattern(const void *buf, size_t len, uint32_t seed, uint64_t offset)
{
        const uint64_t *w = buf;

        for (size_t i = 0; i < len / 8; i++)
                if (w[i] != pattern_word(seed, offset / 8 + i))
                        return i * 8;
        return len;
}
