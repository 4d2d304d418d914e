/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <cjson/cJSON.h>
#include <netinet/in.h>

#include "macro.h"

/*
 * The one configuration of a VM: Cloud Hypervisor's VmConfig schema, with its JSON field names. Every
 * surface (command line, JSON over D-Bus and REST, YAML files) is turned into a cJSON tree and decoded
 * and validated here, in one place.
 */

#define CHV_MAX_VCPUS 254u

/* Limits of the device options, Cloud Hypervisor's where it has one. */
#define CHV_DISK_MAX_QUEUES 64u
#define CHV_DISK_MIN_QUEUE_SIZE 4u     /* a block request needs more than two descriptors */
#define CHV_MAX_QUEUE_SIZE 32768u      /* the largest power of two a 16-bit queue size holds */
#define CHV_DISK_SERIAL_MAX 20u        /* VIRTIO_BLK_ID_BYTES */
#define CHV_NET_MIN_MTU 1280u          /* what virtio-net's MTU feature expects */
#define CHV_NET_MAX_QUEUE_PAIRS 1u     /* chv's virtio-net has one receive/transmit pair */
#define CHV_PCI_MAX_DEVICE_ID 31u      /* slot 0 of segment 0 is the host bridge */
#define CHV_DEFAULT_RNG_SOURCE "/dev/urandom"

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

/* The serial port and the virtio console. id and pci_device_id belong to the console only. */
typedef struct ConsoleConfig {
        ConsoleMode mode;
        char *file;
        char *socket;
        char *id;              /* console: given or "__console" when the device exists (mode not Off) */
        int32_t pci_device_id; /* console: -1 any slot, else 1..31, unique */
} ConsoleConfig;

/*
 * The device options. After vm_config_from_json() every device has an id, unique among all devices,
 * and every pci_device_id other than -1 is unique.
 */
typedef struct DiskConfig {
        char *path;            /* required */
        bool readonly;
        bool direct;           /* O_DIRECT */
        uint32_t num_queues;   /* CH default 1; 1..64 and at most boot_vcpus */
        uint32_t queue_size;   /* CH default 128; power of two, 4..32768 */
        char *serial;          /* NULL: none; at most 20 bytes (VIRTIO_BLK_ID_BYTES) */
        char *id;              /* given or assigned, unique among all devices */
        int32_t pci_device_id; /* -1: any slot; else 1..31, unique */
        uint16_t pci_segment;  /* only 0 supported */
} DiskConfig;

typedef struct NetConfig {
        char *tap;             /* NULL: chv-vmm creates one */
        uint8_t mac[6];        /* given, or a random locally administered unicast MAC */
        bool mac_set;
        uint8_t host_mac[6];
        bool host_mac_set;
        bool ip_set;           /* ip= and mask= given (both or neither, as CH demands); the tap gets
                                  this address only when chv-vmm creates it, as in CH */
        struct in_addr ip, mask;
        uint16_t mtu;          /* 0: not set; else 1280..65535 */
        uint32_t num_queues;   /* CH default 2 (one queue pair); even, 2..2*boot_vcpus, and at most
                                  2*CHV_NET_MAX_QUEUE_PAIRS */
        uint32_t queue_size;   /* CH default 256; power of two, 1..32768 */
        int *fds;              /* fd=[3,4]: taps passed in (each > 2, one per queue pair) */
        size_t n_fds;
        bool offload_tso, offload_ufo, offload_csum; /* CH default on; tso and ufo need csum */
        char *id;
        int32_t pci_device_id;
        uint16_t pci_segment;
} NetConfig;

/* virtio-rng is always there, as in Cloud Hypervisor. */
typedef struct RngConfig {
        char *src;             /* CH default /dev/urandom (set by vm_config_from_json()) */
        int32_t pci_device_id;
        char *id;              /* given or "__rng" */
} RngConfig;

typedef struct VmConfig {
        CpusConfig cpus;
        MemoryConfig memory;
        PayloadConfig payload;
        ConsoleConfig serial;
        ConsoleConfig console;
        DiskConfig *disks;
        size_t n_disks;
        NetConfig *net;
        size_t n_net;
        RngConfig rng;
} VmConfig;

/* Cloud Hypervisor's defaults: 1 vCPU, 512 MiB, serial null, console tty. */
void vm_config_init(VmConfig *c);
void vm_config_done(VmConfig *c);

/* Decodes and validates root. On failure returns -EINVAL and writes "field.path: reason" to err. */
int vm_config_from_json(const cJSON *root, VmConfig *ret, char *err, size_t errlen);
cJSON *vm_config_to_json(const VmConfig *c);

/*
 * Gives every device without an id the one Cloud Hypervisor would: "_disk<n>" and "_net<n>" from one
 * counter that starts at 0 and skips names already taken (disks first, then network devices),
 * "__rng" and "__console". Checks first that the ids given are unique and do not begin with "__",
 * and that no two devices ask for the same PCI slot. On failure returns -EINVAL and writes
 * "field.path: reason" to err, naming both devices of a clash. vm_config_from_json() calls it.
 */
int vm_config_assign_device_ids(VmConfig *c, char *err, size_t errlen);
