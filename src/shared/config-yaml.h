/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <cjson/cJSON.h>

#include "macro.h"

/*
 * The YAML surface of the configuration: one YAML document turned into the cJSON tree that
 * vm_config_from_json() decodes, so a YAML file is checked by the same code, with the same messages,
 * as JSON and the command line.
 *
 * Mappings become objects, sequences arrays. A plain scalar is resolved as YAML 1.2's core schema
 * does: null (~, null, empty), a boolean (true, false), an integer (decimal, 0x hex, 0o octal), a
 * floating-point number, otherwise a string; a quoted or block scalar is always a string. The tags
 * !!str, !!int, !!float, !!bool and !!null are honoured. Aliases, duplicate keys, keys that are not
 * scalars, more than one document and nesting deeper than 32 levels are refused.
 *
 * libyaml is loaded with dlopen() the first time YAML is parsed, so that programs which never read
 * YAML (chv-vmm given JSON or options) do not map it.
 *
 * On failure returns -EINVAL (-ENOMEM, -EOPNOTSUPP without libyaml) and writes "line L, column C:
 * reason" to err.
 */
int yaml_to_json(const char *text, size_t len, cJSON **ret, char *err, size_t errlen);
