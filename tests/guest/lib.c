/* SPDX-License-Identifier: Apache-2.0 */
/* The few C library functions the compiler may call, and string helpers. */
#include "guest.h"

void *memcpy(void *dst, const void *src, size_t n)
{
        uint8_t *d = dst;
        const uint8_t *s = src;

        while (n--)
                *d++ = *s++;
        return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
        uint8_t *d = dst;
        const uint8_t *s = src;

        if (d < s)
                while (n--)
                        *d++ = *s++;
        else
                while (n--)
                        d[n] = s[n];
        return dst;
}

void *memset(void *dst, int c, size_t n)
{
        uint8_t *d = dst;

        while (n--)
                *d++ = (uint8_t) c;
        return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
        const uint8_t *x = a, *y = b;

        for (size_t i = 0; i < n; i++)
                if (x[i] != y[i])
                        return x[i] < y[i] ? -1 : 1;
        return 0;
}

size_t strlen(const char *s)
{
        size_t n = 0;

        while (s[n])
                n++;
        return n;
}

/* Whether the len bytes at a are exactly the NUL-terminated b. */
bool str_eq_n(const char *a, size_t alen, const char *b)
{
        return strlen(b) == alen && memcmp(a, b, alen) == 0;
}

bool str_prefix(const char *s, size_t len, const char *prefix)
{
        size_t n = strlen(prefix);

        return len >= n && memcmp(s, prefix, n) == 0;
}
