/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <cjson/cJSON.h>

#include "macro.h"

/*
 * Cloud Hypervisor's command-line option values ("boot=2,max=4", "size=512M", "file=/tmp/x") turned
 * into the members of the VmConfig JSON tree, so that the command line is decoded by the same code as
 * every other surface. Syntax errors are reported here, naming the option and the value; meaning
 * (ranges, consistency) is checked by vm_config_from_json().
 */
int cli_cpus_to_json(const char *value, cJSON *root, char *err, size_t errlen);
int cli_memory_to_json(const char *value, cJSON *root, char *err, size_t errlen);
/* --disk and --net add one device each time they are given; --rng merges, as --cpus does. */
int cli_disk_to_json(const char *value, cJSON *root, char *err, size_t errlen);
int cli_net_to_json(const char *value, cJSON *root, char *err, size_t errlen);
int cli_rng_to_json(const char *value, cJSON *root, char *err, size_t errlen);
/* option is "serial" or "console"; a later value replaces the earlier one entirely. */
int cli_console_to_json(const char *option, const char *value, cJSON *root, char *err, size_t errlen);
/* option is "kernel", "cmdline" or "initramfs". */
int cli_payload_to_json(const char *option, const char *value, cJSON *root, char *err, size_t errlen);
