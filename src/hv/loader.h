/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "guest-memory.h"
#include "macro.h"

/*
 * Kernel images for x86-64 direct boot: an ELF with a PVH note (XEN_ELFNOTE_PHYS32_ENTRY) boots through
 * the PVH entry; an ELF vmlinux without one, and a bzImage, boot through Linux's 64-bit boot protocol.
 * The image is untrusted: every offset and size in it is checked before use.
 */

#define LOADER_HIGH_RAM_START UINT64_C(0x100000)
#define BZIMAGE_SETUP_HEADER_START 0x1f1
#define BZIMAGE_SETUP_HEADER_END 0x290

typedef enum BootProtocol {
        BOOT_PVH,
        BOOT_LINUX_64,
        _BOOT_PROTOCOL_MAX,
        _BOOT_PROTOCOL_INVALID = -EINVAL,
} BootProtocol;

const char *boot_protocol_to_string(BootProtocol p);

typedef struct KernelImage {
        BootProtocol protocol;
        const char *format; /* "ELF (PVH)", "ELF vmlinux", "bzImage" */
        uint64_t entry;     /* PVH: 32-bit physical entry; Linux: 64-bit entry */
        uint64_t load_end;  /* first byte above everything loaded (or reserved by init_size) */
        /* bzImage only: the setup header as found in the image, for boot_params. */
        bool has_setup_header;
        uint8_t setup_header[BZIMAGE_SETUP_HEADER_END - BZIMAGE_SETUP_HEADER_START];
        size_t setup_header_len;
        uint32_t initrd_addr_max;
        uint32_t cmdline_size;
} KernelImage;

/*
 * Loads img into guest memory. On failure returns a negative errno (-ENOEXEC: not a format chv knows,
 * -EINVAL: corrupt, -E2BIG: does not fit) and writes the reason to err.
 */
int kernel_image_load(GuestMemory *mem, const uint8_t *img, size_t len, KernelImage *ret, char *err,
                      size_t errlen);

/*
 * Picks the guest-physical address for an initramfs of size bytes: as high as possible below max_addr
 * and the end of low RAM, page aligned, above the kernel. -E2BIG when it does not fit.
 */
int initramfs_place(const GuestMemory *mem, const KernelImage *k, uint64_t size, uint64_t *ret_addr);
