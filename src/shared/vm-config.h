/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <cjson/cJSON.h>

#include "macro.h"

/*
 * The one configuration of a VM: Cloud Hypervisor's VmConfig schema, with its JSON field names. Every
 * surface (command line, JSON over D-Bus and REST, YAML files) is turned into a cJSON tree and decoded
 * and validated here, in one place.
 */

#define CHV_MAX_VCPUS 254u

typedef enum ConsoleMode {
        CONSOLE_OFF,
        CONSOLE_PTY,
        CONSOLE_TTY,
        CONSOLE_FILE,
        CONSOLE_SOCKET,
        CONSOLE_NULL,
        _CONSOLE_MODE_MAX,
        _CONSOLE_MODE_INVALID = -EINVAL,
} ConsoleMode;

const char *console_mode_to_string(ConsoleMode m);
ConsoleMode console_mode_from_string(const char *s);

typedef struct CpusConfig {
        uint32_t boot_vcpus;
        uint32_t max_vcpus;
        uint32_t max_phys_bits;
} CpusConfig;

typedef struct MemoryConfig {
        uint64_t size;
        bool shared;
        bool hugepages;
        bool prefault;
        bool mergeable;
        bool thp;
} MemoryConfig;

typedef struct PayloadConfig {
        char *kernel;
        char *cmdline;
        char *initramfs;
} PayloadConfig;

typedef struct ConsoleConfig {
        ConsoleMode mode;
        char *file;
        char *socket;
} ConsoleConfig;

typedef struct VmConfig {
        CpusConfig cpus;
        MemoryConfig memory;
        PayloadConfig payload;
        ConsoleConfig serial;
        ConsoleConfig console;
} VmConfig;

/* Cloud Hypervisor's defaults: 1 vCPU, 512 MiB, serial null, console tty. */
void vm_config_init(VmConfig *c);
void vm_config_done(VmConfig *c);

/* Decodes and validates root. On failure returns -EINVAL and writes "field.path: reason" to err. */
int vm_config_from_json(const cJSON *root, VmConfig *ret, char *err, size_t errlen);
cJSON *vm_config_to_json(const VmConfig *c);
