/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for the kernel image loaders: any byte string is offered to kernel_image_load() as a
 * kernel; when it loads, an initramfs is placed and the boot structures are written, as chv-vmm does.
 *
 * Guest memory is a 64 MiB anonymous mapping with an inaccessible page on either side, so that an access
 * just outside guest RAM faults even though guest memory is not tracked by AddressSanitizer. Besides
 * memory safety, the target checks what the loader promises: a negative errno from the documented set
 * with a reason on failure, and on success an image that lies within guest RAM.
 */
#include <sys/mman.h>

#include "guest-memory.h"
#include "loader.h"
#include "x86-boot.h"

#define FUZZ_MEM_SIZE (64 * MiB)
#define FUZZ_PAGE     4096u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define check(cond)                                                                                         \
        do {                                                                                                \
                if (!(cond)) {                                                                              \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);            \
                        abort();                                                                            \
                }                                                                                           \
        } while (0)

static GuestMemory *fuzz_memory(void)
{
        static GuestMemory mem;
        uint8_t *map;

        if (mem.host)
                return &mem;
        map = mmap(NULL, FUZZ_MEM_SIZE + 2 * FUZZ_PAGE, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        check(map != MAP_FAILED);
        check(mprotect(map + FUZZ_PAGE, FUZZ_MEM_SIZE, PROT_READ | PROT_WRITE) == 0);
        mem = (GuestMemory) {
                .fd = -EBADF,
                .host = map + FUZZ_PAGE,
                .size = FUZZ_MEM_SIZE,
                .n_regions = 1,
                .regions = { { .gpa = 0, .size = FUZZ_MEM_SIZE, .offset = 0 } },
        };
        return &mem;
}

/* A little input-derived variety for the parts that do not come from the image. */
static uint64_t input_hash(const uint8_t *data, size_t size)
{
        uint64_t h = UINT64_C(0xcbf29ce484222325);
        for (size_t i = 0; i < size; i += 1 + size / 64)
                h = (h ^ data[i]) * UINT64_C(0x100000001b3);
        return h ^ size;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        GuestMemory *mem = fuzz_memory();
        const uint64_t low_end = guest_memory_low_end(mem);
        uint64_t h = input_hash(data, size), initrd_size, initrd_addr = 0;
        char err[256], cmdline[600];
        KernelImage k;
        BootParams b;
        size_t cl;
        int r;

        memset(err, 0, sizeof err);
        r = kernel_image_load(mem, data, size, &k, err, sizeof err);
        if (r < 0) {
                check(r == -ENOEXEC || r == -EINVAL || r == -E2BIG);
                check(err[0] != 0);
                check(memchr(err, 0, sizeof err) != NULL);
                return 0;
        }

        check(k.protocol == BOOT_PVH || k.protocol == BOOT_LINUX_64);
        check(boot_protocol_to_string(k.protocol) != NULL);
        check(k.format != NULL);
        check(k.load_end > LOADER_HIGH_RAM_START && k.load_end <= low_end);
        check(k.setup_header_len <= sizeof k.setup_header);
        if (k.has_setup_header) {
                check(k.entry == LOADER_HIGH_RAM_START + 0x200);
                check(k.setup_header_len >= 0x202 - BZIMAGE_SETUP_HEADER_START);
        } else {
                check(k.entry >= LOADER_HIGH_RAM_START && k.entry < k.load_end);
                check(k.setup_header_len == 0);
        }
        if (k.protocol == BOOT_PVH)
                check(k.entry <= UINT32_MAX);

        /* An initramfs of an input-derived size, from nothing to all of RAM. */
        initrd_size = (h >> 8) % (FUZZ_MEM_SIZE + FUZZ_PAGE);
        if (h & 1)
                initrd_size &= 0xfffff;
        r = initramfs_place(mem, &k, initrd_size, &initrd_addr);
        if (r == 0) {
                check(initrd_size > 0);
                check(initrd_addr % FUZZ_PAGE == 0);
                check(initrd_addr >= ALIGN_UP(k.load_end, (uint64_t) FUZZ_PAGE));
                check(initrd_addr + initrd_size <= low_end);
                check(!k.initrd_addr_max || initrd_addr + initrd_size - 1 <= k.initrd_addr_max);
                check(guest_memory_ptr(mem, initrd_addr, initrd_size) != NULL);
        } else {
                check(r == -E2BIG);
                initrd_size = 0;
        }

        /* A command line made of the input's bytes, of an input-derived length. */
        cl = MIN(size, (size_t) ((h >> 32) % sizeof cmdline));
        for (size_t i = 0; i < cl; i++)
                cmdline[i] = (char) (data[i] ? data[i] : ' ');
        cmdline[cl] = 0;

        b = (BootParams) {
                .kernel = &k,
                .cmdline = cmdline,
                .initramfs_addr = initrd_addr,
                .initramfs_size = initrd_size,
                .boot_vcpus = 1 + (unsigned) ((h >> 16) % 8),
                .max_vcpus = 8,
        };
        memset(err, 0, sizeof err);
        r = x86_boot_write_structures(mem, &b, err, sizeof err);
        if (r < 0) {
                check(err[0] != 0);
                /* Only an over-long command line is the image's fault. */
                check(k.cmdline_size && cl > k.cmdline_size);
        }
        return 0;
}
