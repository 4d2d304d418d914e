/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <cjson/cJSON.h>

#include "macro.h"

/*
 * A VmConfig as text, JSON or YAML, turned into the tree vm_config_from_json() decodes. Syntax errors
 * name the line and column; meaning is checked by the decoder.
 */

/* No VmConfig comes near this; it bounds what a file or a bus call can make chv parse. */
#define CONFIG_TEXT_MAX (4 * MiB)

typedef enum ConfigFormat {
        CONFIG_FORMAT_AUTO,    /* JSON when the first character that is not blank is '{', else YAML */
        CONFIG_FORMAT_JSON,
        CONFIG_FORMAT_YAML,
        _CONFIG_FORMAT_MAX,
        _CONFIG_FORMAT_INVALID = -EINVAL,
} ConfigFormat;

/* "json" or "yaml" (NULL for AUTO). */
const char *config_format_to_string(ConfigFormat f);

/*
 * Parses text (len bytes, not necessarily NUL-terminated). JSON objects with a key given twice are
 * refused, as in YAML. On failure returns -EINVAL (or -ENOMEM, -EOPNOTSUPP) and writes
 * "line L, column C: reason" (or "reason") to err.
 */
int config_tree_parse(const char *text, size_t len, ConfigFormat format, cJSON **ret, char *err, size_t errlen);

/* The format a file name asks for: .json, .yaml or .yml; AUTO for anything else. */
ConfigFormat config_format_from_path(const char *path);

/* Reads path (at most CONFIG_TEXT_MAX bytes) and parses it; err starts with path. */
int config_tree_load(const char *path, cJSON **ret, char *err, size_t errlen);
