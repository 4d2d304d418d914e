/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdio.h>

#include "macro.h"

/* A table for people: columns as wide as their widest cell, a header unless asked not to. */
typedef struct Table {
        size_t n_columns;
        char **cells;           /* row by row; the first row is the header */
        size_t n_cells;
} Table;

Table *table_new(size_t n_columns, const char *const *header);
Table *table_free(Table *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(Table *, table_free);

/* Adds one row of n_columns strings (NULL prints as "-"). */
int table_add_row(Table *t, const char *const *row);
size_t table_rows(const Table *t);      /* without the header */
void table_print(const Table *t, FILE *f, bool header);
