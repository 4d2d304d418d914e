/* SPDX-License-Identifier: Apache-2.0 */
#include <elf.h>
#include <inttypes.h>

#include "errbuf.h"
#include "loader.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define BZIMAGE_MAGIC 0x53726448u /* "HdrS" */
#define XLF_KERNEL_64 (1u << 0)
#define ELF_MAX_PHDRS 64

static const char *const boot_protocol_table[_BOOT_PROTOCOL_MAX] = {
        [BOOT_PVH] = "pvh",
        [BOOT_LINUX_64] = "linux-64",
};

const char *boot_protocol_to_string(BootProtocol p)
{
        if (p < 0 || p >= _BOOT_PROTOCOL_MAX)
                return NULL;
        return boot_protocol_table[p];
}


static uint16_t le16(const uint8_t *p)
{
        return (uint16_t) (p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
        return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
        return le32(p) | (uint64_t) le32(p + 4) << 32;
}

/* [off, off+size) inside [0, len)? */
static bool in_file(size_t len, uint64_t off, uint64_t size)
{
        return off <= len && size <= len - off;
}

/* Looks for the PVH entry note in one PT_NOTE segment. Returns 1 when found. */
static int elf_find_pvh_note(const uint8_t *img, size_t len, const Elf64_Phdr *ph, uint64_t *ret_entry,
                             char *err, size_t errlen)
{
        uint64_t off = ph->p_offset, end;

        if (!in_file(len, ph->p_offset, ph->p_filesz))
                return errbuf_fail(-EINVAL, err, errlen, "ELF note segment lies outside the file");
        end = ph->p_offset + ph->p_filesz;
        while (end - off >= sizeof(Elf64_Nhdr)) {
                Elf64_Nhdr nh;
                uint64_t name_off, desc_off, next;

                memcpy(&nh, img + off, sizeof nh);
                name_off = off + sizeof nh;
                desc_off = name_off + ALIGN_UP((uint64_t) nh.n_namesz, 4);
                next = desc_off + ALIGN_UP((uint64_t) nh.n_descsz, 4);
                if (next > end || desc_off > end)
                        return errbuf_fail(-EINVAL, err, errlen, "ELF note runs past its segment");
                if (nh.n_type == XEN_ELFNOTE_PHYS32_ENTRY && nh.n_namesz == 4 &&
                    memcmp(img + name_off, "Xen", 4) == 0) {
                        if (nh.n_descsz == 4)
                                *ret_entry = le32(img + desc_off);
                        else if (nh.n_descsz == 8)
                                *ret_entry = le32(img + desc_off) | (uint64_t) le32(img + desc_off + 4) << 32;
                        else
                                return errbuf_fail(-EINVAL, err, errlen, "PVH entry note has a %" PRIu32 "-byte value",
                                            nh.n_descsz);
                        return 1;
                }
                off = next;
        }
        return 0;
}

static int load_elf(GuestMemory *mem, const uint8_t *img, size_t len, KernelImage *k, char *err, size_t errlen)
{
        const uint64_t low_end = guest_memory_low_end(mem);
        Elf64_Ehdr eh;
        uint64_t pvh_entry = 0, load_end = 0, entry;
        bool pvh = false, loaded = false;
        int r;

        if (len < sizeof eh)
                return errbuf_fail(-EINVAL, err, errlen, "ELF header is truncated");
        memcpy(&eh, img, sizeof eh);
        if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB)
                return errbuf_fail(-EINVAL, err, errlen, "not a 64-bit little-endian ELF");
        if (eh.e_machine != EM_X86_64)
                return errbuf_fail(-EINVAL, err, errlen, "ELF machine %u is not x86-64", eh.e_machine);
        if (eh.e_type != ET_EXEC)
                return errbuf_fail(-EINVAL, err, errlen, "ELF type %u is not an executable", eh.e_type);
        if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 || eh.e_phnum > ELF_MAX_PHDRS)
                return errbuf_fail(-EINVAL, err, errlen, "ELF program header table is malformed (%u entries of %u bytes)",
                            eh.e_phnum, eh.e_phentsize);
        if (!in_file(len, eh.e_phoff, (uint64_t) eh.e_phnum * sizeof(Elf64_Phdr)))
                return errbuf_fail(-EINVAL, err, errlen, "ELF program header table lies outside the file");

        /* First pass: validate everything and find the PVH note, so nothing is written for a bad image. */
        for (unsigned i = 0; i < eh.e_phnum; i++) {
                Elf64_Phdr ph;
                memcpy(&ph, img + eh.e_phoff + (uint64_t) i * sizeof ph, sizeof ph);
                if (ph.p_type == PT_NOTE && !pvh) {
                        r = elf_find_pvh_note(img, len, &ph, &pvh_entry, err, errlen);
                        if (r < 0)
                                return r;
                        pvh = r > 0;
                }
                if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
                        continue;
                if (!in_file(len, ph.p_offset, ph.p_filesz))
                        return errbuf_fail(-EINVAL, err, errlen, "ELF segment %u lies outside the file", i);
                if (ph.p_filesz > ph.p_memsz)
                        return errbuf_fail(-EINVAL, err, errlen, "ELF segment %u is larger in the file than in memory", i);
                if (ph.p_paddr < LOADER_HIGH_RAM_START)
                        return errbuf_fail(-EINVAL, err, errlen,
                                    "ELF segment %u at 0x%" PRIx64 " is below 1 MiB, where the boot structures live",
                                    i, ph.p_paddr);
                if (ph.p_paddr >= low_end || ph.p_memsz > low_end - ph.p_paddr)
                        return errbuf_fail(-E2BIG, err, errlen,
                                    "ELF segment %u (0x%" PRIx64 "+0x%" PRIx64 ") does not fit in guest memory below 0x%" PRIx64,
                                    i, ph.p_paddr, ph.p_memsz, low_end);
                load_end = MAX(load_end, ph.p_paddr + ph.p_memsz);
                loaded = true;
        }
        if (!loaded)
                return errbuf_fail(-EINVAL, err, errlen, "ELF has no loadable segment");
        entry = pvh ? pvh_entry : eh.e_entry;
        if (entry < LOADER_HIGH_RAM_START || entry >= load_end)
                return errbuf_fail(-EINVAL, err, errlen, "entry point 0x%" PRIx64 " is outside the loaded image", entry);
        if (pvh && entry > UINT32_MAX)
                return errbuf_fail(-EINVAL, err, errlen, "PVH entry point 0x%" PRIx64 " is above 4 GiB", entry);

        for (unsigned i = 0; i < eh.e_phnum; i++) {
                Elf64_Phdr ph;
                uint8_t *dst;
                memcpy(&ph, img + eh.e_phoff + (uint64_t) i * sizeof ph, sizeof ph);
                if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
                        continue;
                dst = guest_memory_ptr(mem, ph.p_paddr, ph.p_memsz);
                if (!dst)
                        return errbuf_fail(-E2BIG, err, errlen, "ELF segment %u does not fit in guest memory", i);
                memcpy(dst, img + ph.p_offset, ph.p_filesz);
                memset(dst + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
        }

        *k = (KernelImage) {
                .protocol = pvh ? BOOT_PVH : BOOT_LINUX_64,
                .format = pvh ? "ELF (PVH)" : "ELF vmlinux",
                .entry = entry,
                .load_end = load_end,
                .initrd_addr_max = UINT32_MAX,
                .cmdline_size = 4096,
        };
        return 0;
}

static int load_bzimage(GuestMemory *mem, const uint8_t *img, size_t len, KernelImage *k, char *err,
                        size_t errlen)
{
        const uint64_t low_end = guest_memory_low_end(mem);
        uint64_t setup_size, pm_size, load_end, pref_address, runtime_start;
        uint32_t init_size, alignment;
        uint16_t version, xloadflags;
        unsigned setup_sects;
        size_t hdr_end;
        uint8_t *dst;

        if (len < BZIMAGE_SETUP_HEADER_END)
                return errbuf_fail(-EINVAL, err, errlen, "bzImage is truncated (%zu bytes)", len);
        version = le16(img + 0x206);
        if (version < 0x020c)
                return errbuf_fail(-EINVAL, err, errlen, "bzImage boot protocol %u.%02u is older than 2.12 (no 64-bit entry)",
                            version >> 8, version & 0xff);
        xloadflags = le16(img + 0x236);
        if (!(xloadflags & XLF_KERNEL_64))
                return errbuf_fail(-EINVAL, err, errlen, "bzImage has no 64-bit entry point (XLF_KERNEL_64 unset)");
        setup_sects = img[0x1f1] ? img[0x1f1] : 4;
        setup_size = (uint64_t) (setup_sects + 1) * 512;
        if (setup_size >= len)
                return errbuf_fail(-EINVAL, err, errlen, "bzImage setup (%u sectors) is larger than the file", setup_sects);
        pm_size = len - setup_size;
        init_size = le32(img + 0x260);
        /*
         * The kernel decompresses itself to its runtime start and needs init_size bytes from there: for a
         * relocatable kernel the load address or pref_address, whichever is higher, aligned up to
         * kernel_alignment; otherwise pref_address itself.
         */
        pref_address = le64(img + 0x258);
        alignment = le32(img + 0x230);
        if (img[0x234]) {
                runtime_start = MAX((uint64_t) LOADER_HIGH_RAM_START, pref_address);
                if (alignment && IS_POWER_OF_2(alignment))
                        runtime_start = ALIGN_UP(runtime_start, (uint64_t) alignment);
        } else
                runtime_start = pref_address ? pref_address : LOADER_HIGH_RAM_START;
        if (runtime_start >= low_end || init_size > low_end - runtime_start)
                return errbuf_fail(-E2BIG, err, errlen,
                            "bzImage needs 0x%" PRIx32 " bytes from 0x%" PRIx64 ", more than guest memory below 0x%" PRIx64,
                            init_size, runtime_start, low_end);
        load_end = MAX(LOADER_HIGH_RAM_START + pm_size, runtime_start + init_size);
        if (load_end > low_end)
                return errbuf_fail(-E2BIG, err, errlen,
                            "bzImage needs 0x%" PRIx64 " bytes from 1 MiB, more than guest memory below 0x%" PRIx64,
                            load_end - LOADER_HIGH_RAM_START, low_end);

        dst = guest_memory_ptr(mem, LOADER_HIGH_RAM_START, pm_size);
        if (!dst)
                return errbuf_fail(-E2BIG, err, errlen, "bzImage does not fit in guest memory");
        memcpy(dst, img + setup_size, pm_size);

        *k = (KernelImage) {
                .protocol = BOOT_LINUX_64,
                .format = "bzImage",
                .entry = LOADER_HIGH_RAM_START + 0x200,
                .load_end = load_end,
                .has_setup_header = true,
                .initrd_addr_max = le32(img + 0x22c),
                .cmdline_size = le32(img + 0x238),
        };
        /* The header's length is given by the jump at 0x200: its end is 0x202 plus the offset byte. */
        hdr_end = MIN((size_t) 0x202 + img[0x201], (size_t) BZIMAGE_SETUP_HEADER_END);
        k->setup_header_len = hdr_end - BZIMAGE_SETUP_HEADER_START;
        memcpy(k->setup_header, img + BZIMAGE_SETUP_HEADER_START, k->setup_header_len);
        return 0;
}

int kernel_image_load(GuestMemory *mem, const uint8_t *img, size_t len, KernelImage *ret, char *err, size_t errlen)
{
        if (errlen)
                err[0] = 0;
        if (len >= SELFMAG && memcmp(img, ELFMAG, SELFMAG) == 0)
                return load_elf(mem, img, len, ret, err, errlen);
        if (len >= 0x206 && le32(img + 0x202) == BZIMAGE_MAGIC && le16(img + 0x1fe) == 0xaa55)
                return load_bzimage(mem, img, len, ret, err, errlen);
        return errbuf_fail(-ENOEXEC, err, errlen, "neither an ELF kernel nor a bzImage");
}

int initramfs_place(const GuestMemory *mem, const KernelImage *k, uint64_t size, uint64_t *ret_addr)
{
        uint64_t top = guest_memory_low_end(mem), addr;

        if (k->initrd_addr_max && (uint64_t) k->initrd_addr_max + 1 < top)
                top = (uint64_t) k->initrd_addr_max + 1;
        if (size == 0 || size > top)
                return -E2BIG;
        addr = ALIGN_DOWN(top - size, 4 * KiB);
        if (addr < ALIGN_UP(k->load_end, 4 * KiB))
                return -E2BIG;
        *ret_addr = addr;
        return 0;
}
