/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <sys/types.h>

#include "macro.h"

/* Creates path and its missing parents; the last with mode. Existing directories are fine. */
int mkdir_p(const char *path, mode_t mode);

/* Writes text to path through a temporary file that is synced and renamed: all or nothing. */
int write_file_atomic(const char *path, const char *text, mode_t mode);

/* Removes path and everything below it; a missing path is fine. Does not cross into other mounts. */
int rm_rf(const char *path);
