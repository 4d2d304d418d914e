/* SPDX-License-Identifier: Apache-2.0 */
#include "pci-internal.h"

void pci_allocator_init(PciAllocator *a, const char *name, uint64_t base, uint64_t size)
{
        uint64_t last;

        /* A window that wraps around the address space is cut at its top. */
        if (size > 0 && add_overflows_u64(base, size - 1, &last))
                size = UINT64_MAX - base + 1;
        *a = (PciAllocator) { .name = name, .base = base, .size = size };
}

void pci_allocator_done(PciAllocator *a)
{
        free(a->used);
        a->used = NULL;
        a->n_used = a->n_allocated = 0;
}

bool pci_allocator_contains(const PciAllocator *a, uint64_t addr, uint64_t size)
{
        if (a->size == 0 || size == 0 || size > a->size)
                return false;
        return addr >= a->base && addr - a->base <= a->size - size;
}

/* Rounds v up to a multiple of align (a power of 2); false when that overflows. */
static bool align_up_checked(uint64_t v, uint64_t align, uint64_t *ret)
{
        uint64_t t;

        if (add_overflows_u64(v, align - 1, &t))
                return false;
        *ret = t & ~(align - 1);
        return true;
}

int pci_allocator_alloc(PciAllocator *a, uint64_t size, uint64_t align, uint64_t *ret)
{
        uint64_t cursor;
        size_t i;

        if (size == 0 || !IS_POWER_OF_2(align))
                return -EINVAL;
        if (a->size == 0 || !align_up_checked(a->base, align, &cursor))
                return -ENOSPC;

        for (i = 0; i < a->n_used; i++) {
                const PciRange *u = a->used + i;
                uint64_t end, next;

                /* Does [cursor, cursor + size) fit before this used range? */
                if (cursor <= u->base && u->base - cursor >= size)
                        break;
                if (add_overflows_u64(u->base, u->size, &end) || !align_up_checked(end, align, &next))
                        return -ENOSPC;
                cursor = MAX(cursor, next);
        }
        if (!pci_allocator_contains(a, cursor, size))
                return -ENOSPC;

        if (a->n_used == a->n_allocated) {
                size_t n = a->n_allocated ? a->n_allocated * 2 : 8;
                PciRange *r = realloc(a->used, n * sizeof *r);
                if (!r)
                        return -ENOMEM;
                a->used = r;
                a->n_allocated = n;
        }
        memmove(a->used + i + 1, a->used + i, (a->n_used - i) * sizeof *a->used);
        a->used[i] = (PciRange) { .base = cursor, .size = size };
        a->n_used++;
        *ret = cursor;
        return 0;
}

int pci_allocator_free(PciAllocator *a, uint64_t base)
{
        for (size_t i = 0; i < a->n_used; i++)
                if (a->used[i].base == base) {
                        memmove(a->used + i, a->used + i + 1, (a->n_used - i - 1) * sizeof *a->used);
                        a->n_used--;
                        return 0;
                }
        return -ENOENT;
}
