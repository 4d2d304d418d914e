/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "macro.h"

/* "512M", "2G", "1048576", "4K": binary units, as Cloud Hypervisor's --memory size=. */
int parse_size(const char *s, uint64_t *ret);
/* on/off, true/false, yes/no, 1/0. */
int parse_bool(const char *s, bool *ret);
/* Decimal or 0x hex, no sign, no trailing garbage. */
int parse_u64(const char *s, uint64_t *ret);
int parse_u32(const char *s, uint32_t *ret);
/* "52:54:00:12:34:56": six groups of two hex digits, as Cloud Hypervisor's mac= takes it. */
int parse_ether_addr(const char *s, uint8_t ret[6]);
/*
 * "[3,4]", "3" or "[3-5,8]": decimal numbers and ascending ranges, brackets optional, as Cloud
 * Hypervisor's fd= takes them. *ret is a new array of *ret_n elements.
 */
int parse_u32_list(const char *s, uint32_t **ret, size_t *ret_n);

/*
 * One "key=value,key=value" option string as Cloud Hypervisor's command line takes it. A comma inside
 * [brackets] or "quotes" does not split. A piece without '=' is stored with value NULL.
 */
typedef struct OptionPair {
        char *key;
        char *value;
} OptionPair;

typedef struct OptionList {
        OptionPair *pairs;
        size_t n;
} OptionList;

int option_list_parse(const char *s, OptionList *ret);
void option_list_done(OptionList *l);
/* The value of key, or NULL; *found says whether the key was given at all. */
const char *option_list_get(const OptionList *l, const char *key, bool *found);
/* Returns the first key not in the NULL-terminated list known, or NULL. */
const char *option_list_unknown_key(const OptionList *l, const char *const *known);
