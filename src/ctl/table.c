/* SPDX-License-Identifier: Apache-2.0 */
#include "table.h"

Table *table_new(size_t n_columns, const char *const *header)
{
        Table *t = calloc(1, sizeof *t);

        if (!t)
                return NULL;
        t->n_columns = n_columns;
        if (table_add_row(t, header) < 0)
                return table_free(t);
        return t;
}

Table *table_free(Table *t)
{
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_cells; i++)
                free(t->cells[i]);
        free(t->cells);
        free(t);
        return NULL;
}

int table_add_row(Table *t, const char *const *row)
{
        char **cells = realloc(t->cells, (t->n_cells + t->n_columns) * sizeof *cells);

        if (!cells)
                return -ENOMEM;
        t->cells = cells;
        for (size_t i = 0; i < t->n_columns; i++) {
                cells[t->n_cells] = strdup(row[i] ?: "-");
                if (!cells[t->n_cells])
                        return -ENOMEM;
                t->n_cells++;
        }
        return 0;
}

size_t table_rows(const Table *t)
{
        return t->n_cells / t->n_columns - 1;
}

void table_print(const Table *t, FILE *f, bool header)
{
        size_t width[16] = {};

        for (size_t i = 0; i < t->n_cells; i++) {
                size_t c = i % t->n_columns, n = strlen(t->cells[i]);
                if (c < ELEMENTSOF(width) && n > width[c])
                        width[c] = n;
        }
        for (size_t i = header ? 0 : t->n_columns; i < t->n_cells; i++) {
                size_t c = i % t->n_columns;
                if (c == t->n_columns - 1)
                        fprintf(f, "%s\n", t->cells[i]);
                else
                        fprintf(f, "%-*s  ", (int) width[MIN(c, ELEMENTSOF(width) - 1)], t->cells[i]);
        }
}
