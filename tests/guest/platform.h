/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * What the device scenarios share: command-line options, bounded waits, memory that devices may read
 * and write (DMA), uncached mappings of device registers anywhere below 256 TiB, and a full barrier.
 */

#include "guest.h"

/* Prints n characters, each one outside printable ASCII as '?'. */
void print_chars(const char *s, size_t n);

/* Command line: the value of the first KEY=VALUE word. */
bool cmdline_value(const char *key, const char **ret, size_t *ret_len);
/* A decimal or 0x-prefixed hexadecimal number; false when absent or not a number. */
bool cmdline_number(const char *key, uint64_t *ret);
/* Whether the value of KEY is exactly word. */
bool cmdline_is(const char *key, const char *word);
/* Parses a decimal or 0x-prefixed number of exactly len characters. */
bool parse_number(const char *s, size_t len, uint64_t *ret);

/*
 * A wait bounded by the RTC's seconds register (every ~64 checks) and by a number of checks, so that it
 * ends without an RTC too. The first tick may come at once: a wait of n seconds lasts n-1 to n seconds.
 */
struct deadline {
        uint8_t last_second;
        unsigned seconds, limit;
        uint64_t checks, max_checks;
};

void deadline_start(struct deadline *d, unsigned seconds);
/* Call in every round of a polling loop: true once the time is up. */
bool deadline_passed(struct deadline *d);
/* Waits about that many seconds. */
void sleep_seconds(unsigned seconds);

/*
 * DMA memory: a bump allocator over a fixed range of RAM above the image, zeroed on allocation. The
 * guest runs identity mapped, so these addresses are also the guest-physical addresses devices use.
 */
#define DMA_BASE 0x800000u
#define DMA_END  0x1000000u

void dma_reset(void);
/* align: a power of two. NULL when the arena is exhausted. */
void *dma_alloc(size_t size, size_t align);
/* Whether the RAM of the memory map covers the DMA range. */
bool dma_available(void);
/* Lets CPL3 code touch the DMA range (or takes that away again). */
void dma_set_user(bool user);

/*
 * Maps [pa, pa + size) uncached, with 2 MiB pages, below 256 TiB; user also lets CPL3 code touch it.
 * Below 4 GiB the identity map is reused; above it, page tables come from a small static pool. False
 * when the pool is exhausted.
 */
bool mmio_map(uint64_t pa, uint64_t size, bool user);

static inline void *mmio_ptr(uint64_t pa)
{
        __asm__("" : "+r"(pa));
        return (void *) (uintptr_t) pa;
}

/* A full barrier: a locked instruction (KVM's instruction emulator handles it, unlike mfence). */
static inline void barrier_full(void)
{
        __asm__ volatile("lock addl $0, (%%rsp)" : : : "memory", "cc");
}

static inline void barrier_compiler(void)
{
        __asm__ volatile("" : : : "memory");
}

static inline uint8_t mmio_read8(const volatile void *p)
{
        return *(const volatile uint8_t *) p;
}

static inline uint16_t mmio_read16(const volatile void *p)
{
        return *(const volatile uint16_t *) p;
}

static inline uint32_t mmio_read32(const volatile void *p)
{
        return *(const volatile uint32_t *) p;
}

static inline void mmio_write8(volatile void *p, uint8_t v)
{
        *(volatile uint8_t *) p = v;
}

static inline void mmio_write16(volatile void *p, uint16_t v)
{
        *(volatile uint16_t *) p = v;
}

static inline void mmio_write32(volatile void *p, uint32_t v)
{
        *(volatile uint32_t *) p = v;
}

static inline void outl(uint16_t port, uint32_t v)
{
        __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint32_t inl(uint16_t port)
{
        uint32_t v;
        __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
        return v;
}

static inline void outw(uint16_t port, uint16_t v)
{
        __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint16_t inw(uint16_t port)
{
        uint16_t v;
        __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
        return v;
}

/*
 * The data pattern the disk scenarios write and the host checks: 64-bit little-endian words, word k of
 * the disk (bytes 8k..8k+7) being pattern_word(seed, k). Offsets and lengths are multiples of 8.
 */
static inline uint64_t pattern_word(uint32_t seed, uint64_t k)
{
        uint64_t x = k * UINT64_C(0x9e3779b97f4a7c15) + seed;

        return x ^ (x >> 29);
}

void fill_pattern(void *buf, size_t len, uint32_t seed, uint64_t offset);
/* The offset in buf of the first word that differs from the pattern, or len. */
size_t check_pattern(const void *buf, size_t len, uint32_t seed, uint64_t offset);
