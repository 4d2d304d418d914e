/* SPDX-License-Identifier: Apache-2.0 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <elf.h>
#include <inttypes.h>
#include <sys/mman.h>

#include "guest-memory.h"
#include "loader.h"

/*
 * Kernel images are built in memory here. Guest memory is an anonymous mapping with an inaccessible page
 * on either side, so that a write (or read) outside guest RAM kills the test instead of going unnoticed,
 * and none of its pages is resident before a load, so that "nothing was written" can be checked.
 */

#define MEM_SIZE                 (64 * MiB)
#define PAGE                     4096u
#define IMG_MAX                  (16 * 1024)
#define KERNEL_PADDR             UINT64_C(0x1000000)
#define SEG_OFF                  0x1000u
#define SEG_FILESZ               0x800u
#define SEG_MEMSZ                0x2000u
#define NOTE_OFF                 0x200u
#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define BZ_SETUP_SECTS           4u
#define BZ_SETUP_SIZE            ((BZ_SETUP_SECTS + 1) * 512u)
#define BZ_PAYLOAD               0x1000u
#define BZ_HDR_JUMP              0x6a /* header ends at 0x202 + 0x6a = 0x26c */

static GuestMemory *mem;
static uint8_t *mapping;

static struct {
        _Alignas(8) uint8_t data[IMG_MAX];
        size_t len;
} img;

static void setup(void)
{
        mapping = mmap(NULL, MEM_SIZE + 2 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
                       0);
        cr_assert(ne(ptr, mapping, MAP_FAILED));
        cr_assert(eq(int, mprotect(mapping + PAGE, MEM_SIZE, PROT_READ | PROT_WRITE), 0));
        mem = calloc(1, sizeof *mem);
        cr_assert(not(zero(ptr, mem)));
        *mem = (GuestMemory) {
                .fd = -EBADF,
                .host = mapping + PAGE,
                .size = MEM_SIZE,
                .n_regions = 1,
                .regions = { { .gpa = 0, .size = MEM_SIZE, .offset = 0 } },
        };
        memset(&img, 0, sizeof img);
}

static void teardown(void)
{
        free(mem);
        munmap(mapping, MEM_SIZE + 2 * PAGE);
}

TestSuite(loader, .init = setup, .fini = teardown);

/* Image bytes are never zero, so any copy of them into guest memory shows. */
static uint8_t pattern(size_t pos)
{
        return (uint8_t) (1 + pos % 251);
}

static void fill(size_t off, size_t len)
{
        cr_assert(le(sz, off + len, (size_t) IMG_MAX));
        for (size_t i = 0; i < len; i++)
                img.data[off + i] = pattern(off + i);
        img.len = MAX(img.len, off + len);
}

static void put16(size_t off, uint16_t v)
{
        memcpy(img.data + off, &v, sizeof v);
}

static void put32(size_t off, uint32_t v)
{
        memcpy(img.data + off, &v, sizeof v);
}

static void put64(size_t off, uint64_t v)
{
        memcpy(img.data + off, &v, sizeof v);
}

/*
 * No page of guest memory outside [start, end) was touched. The loader does not read guest memory, so a
 * resident page is one it wrote (the mapping is private and anonymous: untouched pages are not resident).
 * Call it before the test itself reads guest memory.
 */
static void assert_untouched_outside(uint64_t start, uint64_t end)
{
        static unsigned char vec[MEM_SIZE / PAGE];

        cr_assert(eq(int, mincore(mem->host, MEM_SIZE, vec), 0));
        for (size_t i = 0; i < ELEMENTSOF(vec); i++) {
                uint64_t page = i * PAGE;
                if ((vec[i] & 1) && (page + PAGE <= start || page >= end))
                        cr_fatal("guest memory page at 0x%" PRIx64 " was written", page);
        }
}

static void assert_memory_untouched(void)
{
        assert_untouched_outside(0, 0);
}

/* ELF */

static Elf64_Ehdr *ehdr(void)
{
        return (Elf64_Ehdr *) img.data;
}

static void elf_begin(uint64_t entry)
{
        Elf64_Ehdr *eh = ehdr();

        memset(&img, 0, sizeof img);
        memcpy(eh->e_ident, ELFMAG, SELFMAG);
        eh->e_ident[EI_CLASS] = ELFCLASS64;
        eh->e_ident[EI_DATA] = ELFDATA2LSB;
        eh->e_ident[EI_VERSION] = EV_CURRENT;
        eh->e_type = ET_EXEC;
        eh->e_machine = EM_X86_64;
        eh->e_version = EV_CURRENT;
        eh->e_entry = entry;
        eh->e_phoff = sizeof(Elf64_Ehdr);
        eh->e_ehsize = sizeof(Elf64_Ehdr);
        eh->e_phentsize = sizeof(Elf64_Phdr);
        img.len = sizeof(Elf64_Ehdr);
}

static Elf64_Phdr phdr_get(unsigned i)
{
        Elf64_Phdr ph;
        memcpy(&ph, img.data + ehdr()->e_phoff + i * sizeof ph, sizeof ph);
        return ph;
}

static void phdr_set(unsigned i, const Elf64_Phdr *ph)
{
        size_t off = ehdr()->e_phoff + i * sizeof *ph;
        cr_assert(le(sz, off + sizeof *ph, (size_t) IMG_MAX));
        memcpy(img.data + off, ph, sizeof *ph);
        img.len = MAX(img.len, off + sizeof *ph);
}

/* Adds a program header; a PT_LOAD gets file contents. Returns its index. */
static unsigned elf_add(uint32_t type, uint64_t offset, uint64_t paddr, uint64_t filesz, uint64_t memsz)
{
        unsigned i = ehdr()->e_phnum++;
        Elf64_Phdr ph = {
                .p_type = type,
                .p_flags = PF_R | PF_X,
                .p_offset = offset,
                .p_vaddr = paddr + UINT64_C(0xffffffff80000000),
                .p_paddr = paddr,
                .p_filesz = filesz,
                .p_memsz = memsz,
                .p_align = type == PT_LOAD ? 0x200000 : 4,
        };

        phdr_set(i, &ph);
        if (type == PT_LOAD && offset + filesz <= IMG_MAX)
                fill(offset, filesz);
        return i;
}

static void phdr_update(unsigned i, void (*change)(Elf64_Phdr *ph, uint64_t v), uint64_t v)
{
        Elf64_Phdr ph = phdr_get(i);
        change(&ph, v);
        phdr_set(i, &ph);
}

/* Writes one note at off; returns the offset after it. Name and descriptor are written as far as given. */
static size_t note_put(size_t off, uint32_t type, const char *name, uint32_t namesz, const void *desc,
                       uint32_t descsz)
{
        Elf64_Nhdr nh = { .n_namesz = namesz, .n_descsz = descsz, .n_type = type };

        memcpy(img.data + off, &nh, sizeof nh);
        off += sizeof nh;
        if (name) {
                memcpy(img.data + off, name, namesz);
                off += ALIGN_UP(namesz, 4u);
        }
        if (desc) {
                memcpy(img.data + off, desc, descsz);
                off += ALIGN_UP(descsz, 4u);
        }
        img.len = MAX(img.len, off);
        return off;
}

/* A vmlinux-like image: one PT_LOAD at 16 MiB with SEG_MEMSZ - SEG_FILESZ bytes of bss. */
static void build_vmlinux(void)
{
        elf_begin(KERNEL_PADDR + 0x40);
        elf_add(PT_LOAD, SEG_OFF, KERNEL_PADDR, SEG_FILESZ, SEG_MEMSZ);
}

/* The same with a PT_NOTE holding a build-id note and the PVH entry note. */
static void build_pvh(uint32_t entry)
{
        static const uint8_t build_id[20] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17 };
        size_t end;

        build_vmlinux();
        end = note_put(NOTE_OFF, NT_GNU_BUILD_ID, "GNU", 4, build_id, sizeof build_id);
        end = note_put(end, XEN_ELFNOTE_PHYS32_ENTRY, "Xen", 4, &entry, sizeof entry);
        elf_add(PT_NOTE, NOTE_OFF, 0, end - NOTE_OFF, 0);
}

/* Loads a copy of the image of exactly its length, so that reading past it is caught by ASan. */
static int load(KernelImage *k, char *err, size_t errlen)
{
        _cleanup_free_ uint8_t *copy = malloc(MAX(img.len, (size_t) 1));
        cr_assert(not(zero(ptr, copy)));
        memcpy(copy, img.data, img.len);
        return kernel_image_load(mem, copy, img.len, k, err, errlen);
}

static void load_ok(KernelImage *k)
{
        char err[256] = "";
        int r = load(k, err, sizeof err);
        cr_assert(eq(int, r, 0), "load failed: %d %s", r, err);
}

/* Loading must fail with expected, say why, and leave guest memory as it was. */
static void load_fails(int expected, const char *reason_part)
{
        char err[256];
        KernelImage k;
        int r;

        memset(err, 'x', sizeof err);
        err[sizeof err - 1] = 0;
        r = load(&k, err, sizeof err);
        cr_assert(eq(int, r, expected), "expected %d, got %d (%s)", expected, r, err);
        cr_assert(gt(sz, strlen(err), 0));
        cr_assert(lt(sz, strlen(err), sizeof err - 1), "no reason given");
        if (reason_part)
                cr_assert(not(zero(ptr, strstr(err, reason_part))), "\"%s\" does not mention \"%s\"", err,
                          reason_part);
        assert_memory_untouched();
}

static void assert_segment_loaded(uint64_t paddr, size_t offset, size_t filesz, size_t memsz)
{
        const uint8_t *p = guest_memory_ptr(mem, paddr, memsz);

        cr_assert(not(zero(ptr, (void *) p)));
        cr_assert(eq(int, memcmp(p, img.data + offset, filesz), 0), "segment contents at 0x%" PRIx64, paddr);
        for (size_t i = filesz; i < memsz; i++)
                cr_assert(eq(u8, p[i], 0), "bss byte 0x%zx not zeroed", i);
}

Test(loader, pvh_elf)
{
        KernelImage k;
        uint8_t *seg = guest_memory_ptr(mem, KERNEL_PADDR - PAGE, SEG_MEMSZ + 2 * PAGE);

        build_pvh(KERNEL_PADDR + 0x100);
        /* Dirty the target and around it: bss must be zeroed, the rest left alone. */
        memset(seg, 0xaa, SEG_MEMSZ + 2 * PAGE);
        load_ok(&k);
        assert_untouched_outside(KERNEL_PADDR - PAGE, KERNEL_PADDR + SEG_MEMSZ + PAGE);

        cr_assert(eq(int, k.protocol, BOOT_PVH));
        cr_assert(eq(str, (char *) k.format, "ELF (PVH)"));
        cr_assert(eq(u64, k.entry, KERNEL_PADDR + 0x100));
        cr_assert(eq(u64, k.load_end, KERNEL_PADDR + SEG_MEMSZ));
        cr_assert(eq(int, k.has_setup_header, false));
        cr_assert(eq(u32, k.initrd_addr_max, UINT32_MAX));
        cr_assert(eq(u32, k.cmdline_size, 4096));
        assert_segment_loaded(KERNEL_PADDR, SEG_OFF, SEG_FILESZ, SEG_MEMSZ);
        for (size_t i = 0; i < PAGE; i++) {
                cr_assert(eq(u8, seg[i], 0xaa), "byte below the segment was written");
                cr_assert(eq(u8, seg[PAGE + SEG_MEMSZ + i], 0xaa), "byte above the segment was written");
        }
        cr_assert(eq(str, (char *) boot_protocol_to_string(k.protocol), "pvh"));
}

Test(loader, pvh_note_with_8_byte_value)
{
        uint64_t entry = KERNEL_PADDR + 0x80;
        KernelImage k;
        size_t end;

        build_vmlinux();
        end = note_put(NOTE_OFF, XEN_ELFNOTE_PHYS32_ENTRY, "Xen", 4, &entry, sizeof entry);
        elf_add(PT_NOTE, NOTE_OFF, 0, end - NOTE_OFF, 0);
        load_ok(&k);
        cr_assert(eq(int, k.protocol, BOOT_PVH));
        cr_assert(eq(u64, k.entry, entry));
}

Test(loader, pvh_note_in_second_note_segment)
{
        static const uint8_t desc[4] = { 1, 2, 3, 4 };
        uint32_t entry = KERNEL_PADDR + 0x44;
        KernelImage k;
        size_t end;

        build_vmlinux();
        end = note_put(NOTE_OFF, 1, "Linux", 6, desc, sizeof desc);
        elf_add(PT_NOTE, NOTE_OFF, 0, end - NOTE_OFF, 0);
        end = note_put(0x300, XEN_ELFNOTE_PHYS32_ENTRY, "Xen", 4, &entry, sizeof entry);
        elf_add(PT_NOTE, 0x300, 0, end - 0x300, 0);
        load_ok(&k);
        cr_assert(eq(int, k.protocol, BOOT_PVH));
        cr_assert(eq(u64, k.entry, entry));
}

Test(loader, xen_type_with_other_name_is_not_pvh)
{
        uint32_t entry = KERNEL_PADDR + 0x100;
        KernelImage k;
        size_t end;

        build_vmlinux();
        end = note_put(NOTE_OFF, XEN_ELFNOTE_PHYS32_ENTRY, "Xe", 3, &entry, sizeof entry);
        end = note_put(end, XEN_ELFNOTE_PHYS32_ENTRY, "XenX", 5, &entry, sizeof entry);
        end = note_put(end, 17, "Xen", 4, &entry, sizeof entry);
        elf_add(PT_NOTE, NOTE_OFF, 0, end - NOTE_OFF, 0);
        load_ok(&k);
        cr_assert(eq(int, k.protocol, BOOT_LINUX_64));
        cr_assert(eq(u64, k.entry, KERNEL_PADDR + 0x40));
}

Test(loader, vmlinux_without_note)
{
        KernelImage k;

        build_vmlinux();
        load_ok(&k);
        cr_assert(eq(int, k.protocol, BOOT_LINUX_64));
        cr_assert(eq(str, (char *) k.format, "ELF vmlinux"));
        cr_assert(eq(u64, k.entry, KERNEL_PADDR + 0x40));
        cr_assert(eq(u64, k.load_end, KERNEL_PADDR + SEG_MEMSZ));
        cr_assert(eq(int, k.has_setup_header, false));
        cr_assert(eq(str, (char *) boot_protocol_to_string(k.protocol), "linux-64"));
        /* Nothing but the segment was written. */
        assert_untouched_outside(KERNEL_PADDR, KERNEL_PADDR + SEG_MEMSZ);
        assert_segment_loaded(KERNEL_PADDR, SEG_OFF, SEG_FILESZ, SEG_MEMSZ);
}

Test(loader, several_segments)
{
        KernelImage k;

        elf_begin(KERNEL_PADDR);
        elf_add(PT_LOAD, SEG_OFF, KERNEL_PADDR, 0x400, 0x400);
        elf_add(PT_LOAD, SEG_OFF + 0x400, KERNEL_PADDR + 0x200000, 0x300, 0x10000);
        /* Empty segments and other types are skipped, wherever they point. */
        elf_add(PT_LOAD, UINT64_MAX, 0, 0, 0);
        elf_add(PT_GNU_STACK, UINT64_MAX, 0, UINT64_MAX, UINT64_MAX);
        elf_add(PT_LOAD, SEG_OFF + 0x700, KERNEL_PADDR + 0x100000, 0x100, 0x100);
        load_ok(&k);
        cr_assert(eq(u64, k.load_end, KERNEL_PADDR + 0x200000 + 0x10000));
        assert_segment_loaded(KERNEL_PADDR, SEG_OFF, 0x400, 0x400);
        assert_segment_loaded(KERNEL_PADDR + 0x200000, SEG_OFF + 0x400, 0x300, 0x10000);
        assert_segment_loaded(KERNEL_PADDR + 0x100000, SEG_OFF + 0x700, 0x100, 0x100);
}

Test(loader, segment_up_to_the_end_of_ram)
{
        KernelImage k;

        elf_begin(MEM_SIZE - 0x1000);
        elf_add(PT_LOAD, SEG_OFF, MEM_SIZE - 0x1000, 0x800, 0x1000);
        load_ok(&k);
        cr_assert(eq(u64, k.load_end, MEM_SIZE));
        assert_segment_loaded(MEM_SIZE - 0x1000, SEG_OFF, 0x800, 0x1000);
}

Test(loader, segment_at_1_mib_and_unaligned_phdrs)
{
        KernelImage k;

        elf_begin(LOADER_HIGH_RAM_START);
        ehdr()->e_phoff = 0x41; /* legal, if odd */
        elf_add(PT_LOAD, SEG_OFF, LOADER_HIGH_RAM_START, 0x10, 0x10);
        load_ok(&k);
        cr_assert(eq(u64, k.entry, LOADER_HIGH_RAM_START));
        assert_segment_loaded(LOADER_HIGH_RAM_START, SEG_OFF, 0x10, 0x10);
}

Test(loader, error_buffer_optional)
{
        KernelImage k;

        build_vmlinux();
        ehdr()->e_machine = EM_386;
        cr_assert(eq(int, load(&k, NULL, 0), -EINVAL));
        img.len = 3;
        cr_assert(eq(int, load(&k, NULL, 0), -ENOEXEC));
}

/* Malformed ELF images */

Test(loader, not_a_kernel)
{
        img.len = 0;
        load_fails(-ENOEXEC, NULL);
        fill(0, 4096);
        load_fails(-ENOEXEC, NULL);
        memcpy(img.data, "\177EL", 3);
        img.len = 3;
        load_fails(-ENOEXEC, NULL);
}

Test(loader, elf_truncated_header)
{
        build_vmlinux();
        img.len = 4;
        load_fails(-EINVAL, "truncated");
        img.len = sizeof(Elf64_Ehdr) - 1;
        load_fails(-EINVAL, "truncated");
}

Test(loader, elf_wrong_class_data_machine_type)
{
        build_vmlinux();
        ehdr()->e_ident[EI_CLASS] = ELFCLASS32;
        load_fails(-EINVAL, NULL);

        build_vmlinux();
        ehdr()->e_ident[EI_DATA] = ELFDATA2MSB;
        load_fails(-EINVAL, NULL);

        build_vmlinux();
        ehdr()->e_machine = EM_386;
        load_fails(-EINVAL, "machine");

        build_vmlinux();
        ehdr()->e_machine = EM_AARCH64;
        load_fails(-EINVAL, "machine");

        build_vmlinux();
        ehdr()->e_type = ET_DYN;
        load_fails(-EINVAL, "type");

        build_vmlinux();
        ehdr()->e_type = ET_REL;
        load_fails(-EINVAL, "type");
}

Test(loader, elf_bad_program_header_table)
{
        build_vmlinux();
        ehdr()->e_phnum = 0;
        load_fails(-EINVAL, "program header");

        build_vmlinux();
        ehdr()->e_phentsize = sizeof(Elf64_Phdr) - 1;
        load_fails(-EINVAL, "program header");

        build_vmlinux();
        ehdr()->e_phentsize = sizeof(Elf64_Phdr) + 8;
        load_fails(-EINVAL, "program header");

        build_vmlinux();
        ehdr()->e_phnum = 0xffff;
        load_fails(-EINVAL, "program header");
}

Test(loader, elf_program_headers_outside_the_file)
{
        build_vmlinux();
        ehdr()->e_phoff = img.len - 10;
        load_fails(-EINVAL, "outside the file");

        build_vmlinux();
        ehdr()->e_phoff = img.len;
        load_fails(-EINVAL, "outside the file");

        build_vmlinux();
        ehdr()->e_phoff = UINT64_MAX - 8;
        load_fails(-EINVAL, "outside the file");

        /* More entries than the file holds. */
        build_vmlinux();
        ehdr()->e_phnum = 2;
        img.len = sizeof(Elf64_Ehdr) + sizeof(Elf64_Phdr) + 20;
        load_fails(-EINVAL, "outside the file");
}

Test(loader, elf_program_headers_cut_off)
{
        /* The table itself is complete only if the file is: cut the last header short. */
        build_vmlinux();
        img.len = sizeof(Elf64_Ehdr) + sizeof(Elf64_Phdr) - 1;
        load_fails(-EINVAL, "outside the file");
}

static void set_offset(Elf64_Phdr *ph, uint64_t v)
{
        ph->p_offset = v;
}

static void set_filesz(Elf64_Phdr *ph, uint64_t v)
{
        ph->p_filesz = v;
}

static void set_memsz(Elf64_Phdr *ph, uint64_t v)
{
        ph->p_memsz = v;
}

static void set_paddr(Elf64_Phdr *ph, uint64_t v)
{
        ph->p_paddr = v;
}

Test(loader, elf_segment_outside_the_file)
{
        build_vmlinux();
        phdr_update(0, set_offset, img.len + 1);
        load_fails(-EINVAL, "outside the file");

        build_vmlinux();
        phdr_update(0, set_offset, img.len - SEG_FILESZ + 1);
        load_fails(-EINVAL, "outside the file");

        build_vmlinux();
        phdr_update(0, set_filesz, SEG_FILESZ + 1);
        load_fails(-EINVAL, "outside the file");

        build_vmlinux();
        phdr_update(0, set_offset, UINT64_MAX);
        load_fails(-EINVAL, "outside the file");

        /* offset + filesz wraps around to a small number */
        build_vmlinux();
        phdr_update(0, set_offset, 0x100);
        phdr_update(0, set_filesz, UINT64_MAX - 0x80);
        phdr_update(0, set_memsz, UINT64_MAX);
        load_fails(-EINVAL, "outside the file");
}

Test(loader, elf_filesz_larger_than_memsz)
{
        build_vmlinux();
        phdr_update(0, set_memsz, SEG_FILESZ - 1);
        load_fails(-EINVAL, NULL);
}

Test(loader, elf_segment_below_1_mib)
{
        build_vmlinux();
        phdr_update(0, set_paddr, 0x8000);
        ehdr()->e_entry = 0x8000;
        load_fails(-EINVAL, "below 1 MiB");

        build_vmlinux();
        phdr_update(0, set_paddr, LOADER_HIGH_RAM_START - 1);
        load_fails(-EINVAL, "below 1 MiB");

        build_vmlinux();
        phdr_update(0, set_paddr, 0);
        load_fails(-EINVAL, "below 1 MiB");
}

Test(loader, elf_segment_beyond_ram)
{
        build_vmlinux();
        phdr_update(0, set_paddr, MEM_SIZE - SEG_MEMSZ + 1);
        load_fails(-E2BIG, "does not fit");

        build_vmlinux();
        phdr_update(0, set_paddr, MEM_SIZE);
        load_fails(-E2BIG, "does not fit");

        build_vmlinux();
        phdr_update(0, set_paddr, UINT64_C(0x100000000));
        load_fails(-E2BIG, "does not fit");

        build_vmlinux();
        phdr_update(0, set_memsz, MEM_SIZE);
        load_fails(-E2BIG, "does not fit");

        build_vmlinux();
        phdr_update(0, set_paddr, UINT64_MAX - 0x100);
        load_fails(-E2BIG, "does not fit");
}

Test(loader, elf_huge_memsz_wraps_around)
{
        /* paddr + memsz wraps to a small address. */
        build_vmlinux();
        phdr_update(0, set_memsz, UINT64_MAX - KERNEL_PADDR + 2);
        load_fails(-E2BIG, "does not fit");

        build_vmlinux();
        phdr_update(0, set_memsz, UINT64_MAX);
        load_fails(-E2BIG, "does not fit");
}

Test(loader, elf_a_later_bad_segment_means_nothing_is_loaded)
{
        build_vmlinux();
        elf_add(PT_LOAD, SEG_OFF, KERNEL_PADDR + 0x100000, SEG_FILESZ, SEG_MEMSZ);
        elf_add(PT_LOAD, SEG_OFF, 0x1000, 0x10, 0x10);
        load_fails(-EINVAL, "below 1 MiB");

        build_vmlinux();
        elf_add(PT_LOAD, SEG_OFF, MEM_SIZE - 0x10, 0x10, 0x20);
        load_fails(-E2BIG, "does not fit");
}

Test(loader, elf_no_loadable_segment)
{
        build_vmlinux();
        phdr_update(0, set_memsz, 0);
        phdr_update(0, set_filesz, 0);
        load_fails(-EINVAL, "no loadable segment");

        elf_begin(KERNEL_PADDR);
        note_put(NOTE_OFF, 1, "GNU", 4, NULL, 0);
        elf_add(PT_NOTE, NOTE_OFF, 0, sizeof(Elf64_Nhdr) + 4, 0);
        load_fails(-EINVAL, "no loadable segment");
}

Test(loader, elf_entry_outside_the_image)
{
        KernelImage k;
        char err[256] = "";

        build_vmlinux();
        ehdr()->e_entry = 0;
        cr_assert(eq(int, load(&k, err, sizeof err), -EINVAL));
        cr_assert(not(zero(ptr, strstr(err, "entry point"))), "%s", err);

        build_vmlinux();
        ehdr()->e_entry = KERNEL_PADDR + SEG_MEMSZ;
        cr_assert(eq(int, load(&k, err, sizeof err), -EINVAL));

        build_vmlinux();
        ehdr()->e_entry = UINT64_C(0xffffffff81000000);
        cr_assert(eq(int, load(&k, err, sizeof err), -EINVAL));

        build_pvh(0x500);
        cr_assert(eq(int, load(&k, err, sizeof err), -EINVAL));
        cr_assert(not(zero(ptr, strstr(err, "entry point"))), "%s", err);
}

Test(loader, note_segment_outside_the_file)
{
        build_pvh(KERNEL_PADDR);
        phdr_update(1, set_offset, img.len + 4);
        load_fails(-EINVAL, "outside the file");

        build_pvh(KERNEL_PADDR);
        phdr_update(1, set_filesz, img.len);
        load_fails(-EINVAL, "outside the file");

        build_pvh(KERNEL_PADDR);
        phdr_update(1, set_offset, UINT64_MAX - 3);
        load_fails(-EINVAL, "outside the file");
}

Test(loader, note_oversized_name_or_desc)
{
        uint32_t entry = KERNEL_PADDR;

        build_vmlinux();
        note_put(NOTE_OFF, XEN_ELFNOTE_PHYS32_ENTRY, NULL, UINT32_MAX, NULL, 4);
        elf_add(PT_NOTE, NOTE_OFF, 0, 0x40, 0);
        load_fails(-EINVAL, "note");

        build_vmlinux();
        note_put(NOTE_OFF, XEN_ELFNOTE_PHYS32_ENTRY, "Xen", 4, NULL, UINT32_MAX);
        elf_add(PT_NOTE, NOTE_OFF, 0, 0x40, 0);
        load_fails(-EINVAL, "note");

        build_vmlinux();
        note_put(NOTE_OFF, XEN_ELFNOTE_PHYS32_ENTRY, NULL, UINT32_MAX - 2, NULL, UINT32_MAX - 2);
        elf_add(PT_NOTE, NOTE_OFF, 0, 0x40, 0);
        load_fails(-EINVAL, "note");

        /* A note one byte longer than its segment. */
        build_vmlinux();
        note_put(NOTE_OFF, XEN_ELFNOTE_PHYS32_ENTRY, "Xen", 4, &entry, sizeof entry);
        elf_add(PT_NOTE, NOTE_OFF, 0, sizeof(Elf64_Nhdr) + 4 + 4 - 1, 0);
        load_fails(-EINVAL, "note");

        /* The name fits the segment but the descriptor does not. */
        build_vmlinux();
        note_put(NOTE_OFF, XEN_ELFNOTE_PHYS32_ENTRY, "Xen", 4, &entry, sizeof entry);
        elf_add(PT_NOTE, NOTE_OFF, 0, sizeof(Elf64_Nhdr) + 4, 0);
        load_fails(-EINVAL, "note");
}

Test(loader, note_bad_pvh_value_size)
{
        static const uint8_t value[16] = { 0 };

        build_vmlinux();
        size_t end = note_put(NOTE_OFF, XEN_ELFNOTE_PHYS32_ENTRY, "Xen", 4, value, 2);
        elf_add(PT_NOTE, NOTE_OFF, 0, end - NOTE_OFF, 0);
        load_fails(-EINVAL, "PVH entry note");

        build_vmlinux();
        end = note_put(NOTE_OFF, XEN_ELFNOTE_PHYS32_ENTRY, "Xen", 4, value, 16);
        elf_add(PT_NOTE, NOTE_OFF, 0, end - NOTE_OFF, 0);
        load_fails(-EINVAL, "PVH entry note");
}

Test(loader, note_tail_shorter_than_a_header_is_ignored)
{
        static const uint8_t desc[4] = { 9, 9, 9, 9 };
        KernelImage k;

        build_vmlinux();
        size_t end = note_put(NOTE_OFF, NT_GNU_BUILD_ID, "GNU", 4, desc, sizeof desc);
        elf_add(PT_NOTE, NOTE_OFF, 0, end - NOTE_OFF + sizeof(Elf64_Nhdr) - 1, 0);
        load_ok(&k);
        cr_assert(eq(int, k.protocol, BOOT_LINUX_64));
}

/* bzImage */

static void build_bzimage(void)
{
        memset(&img, 0, sizeof img);
        fill(BZ_SETUP_SIZE, BZ_PAYLOAD);
        /* Some bytes in the setup area, so that the header copy can be told from zeros. */
        fill(0, 0x1f1);
        img.data[0x1f1] = BZ_SETUP_SECTS;
        put16(0x1f2, 1);      /* root_flags */
        put32(0x1f4, 0x1234); /* syssize */
        put16(0x1fe, 0xaa55);
        img.data[0x200] = 0xeb;
        img.data[0x201] = BZ_HDR_JUMP;
        memcpy(img.data + 0x202, "HdrS", 4);
        put16(0x206, 0x020f);
        img.data[0x211] = 0x01; /* loadflags: LOADED_HIGH */
        put32(0x214, 0x100000); /* code32_start */
        put32(0x22c, 0x7fffffff);
        /* Relocatable, preferring 1 MiB: the kernel runs where it is loaded (see bzimage_runtime_start). */
        put32(0x230, 0x100000); /* kernel_alignment */
        img.data[0x234] = 1;    /* relocatable_kernel */
        put64(0x258, 0x100000); /* pref_address */
        put16(0x236, 0x3);      /* xloadflags: KERNEL_64, CAN_BE_LOADED_ABOVE_4G */
        put32(0x238, 2047);     /* cmdline_size */
        put32(0x260, 0x400000); /* init_size */
        fill(0x270, 0x20);      /* after the header: must not be copied */
}

Test(loader, bzimage)
{
        KernelImage k;
        const uint8_t *p;

        build_bzimage();
        load_ok(&k);
        cr_assert(eq(int, k.protocol, BOOT_LINUX_64));
        cr_assert(eq(str, (char *) k.format, "bzImage"));
        cr_assert(eq(u64, k.entry, 0x100200));
        cr_assert(eq(u64, k.load_end, LOADER_HIGH_RAM_START + 0x400000));
        cr_assert(eq(int, k.has_setup_header, true));
        cr_assert(eq(sz, k.setup_header_len, 0x202 + BZ_HDR_JUMP - 0x1f1));
        cr_assert(eq(int, memcmp(k.setup_header, img.data + 0x1f1, k.setup_header_len), 0));
        cr_assert(eq(u32, k.initrd_addr_max, 0x7fffffff));
        cr_assert(eq(u32, k.cmdline_size, 2047));

        /* The protected-mode part is at 1 MiB, and nothing else was written. */
        assert_untouched_outside(LOADER_HIGH_RAM_START, LOADER_HIGH_RAM_START + BZ_PAYLOAD);
        p = guest_memory_ptr(mem, LOADER_HIGH_RAM_START, BZ_PAYLOAD);
        cr_assert(eq(int, memcmp(p, img.data + BZ_SETUP_SIZE, BZ_PAYLOAD), 0));
}

Test(loader, bzimage_zero_setup_sects_means_4)
{
        KernelImage k;

        build_bzimage();
        img.data[0x1f1] = 0;
        load_ok(&k);
        cr_assert(eq(int,
                     memcmp(guest_memory_ptr(mem, MiB, BZ_PAYLOAD), img.data + BZ_SETUP_SIZE, BZ_PAYLOAD),
                     0));
}

Test(loader, bzimage_other_setup_size)
{
        KernelImage k;

        build_bzimage();
        img.data[0x1f1] = 2; /* 3 sectors: the protected-mode part starts at 0x600 */
        load_ok(&k);
        cr_assert(eq(int,
                     memcmp(guest_memory_ptr(mem, MiB, img.len - 0x600), img.data + 0x600, img.len - 0x600),
                     0));
        cr_assert(eq(u64, k.load_end, LOADER_HIGH_RAM_START + 0x400000));
}

Test(loader, bzimage_load_end_covers_the_file_when_init_size_is_small)
{
        KernelImage k;

        build_bzimage();
        put32(0x260, 0x10);
        load_ok(&k);
        cr_assert(eq(u64, k.load_end, LOADER_HIGH_RAM_START + BZ_PAYLOAD));
}

Test(loader, bzimage_long_header_jump_is_capped)
{
        KernelImage k;

        build_bzimage();
        img.data[0x201] = 0xff;
        load_ok(&k);
        cr_assert(eq(sz, k.setup_header_len, BZIMAGE_SETUP_HEADER_END - BZIMAGE_SETUP_HEADER_START));
        cr_assert(eq(int, memcmp(k.setup_header, img.data + 0x1f1, k.setup_header_len), 0));
}

Test(loader, bzimage_init_size_up_to_the_end_of_ram)
{
        KernelImage k;

        build_bzimage();
        put32(0x260, (uint32_t) (MEM_SIZE - LOADER_HIGH_RAM_START));
        load_ok(&k);
        cr_assert(eq(u64, k.load_end, MEM_SIZE));
}

/*
 * init_size counts from the kernel's runtime start address, not from where the image was loaded: a
 * relocatable kernel loaded below pref_address moves itself up to pref_address (rounded up to
 * kernel_alignment) before decompressing, and a non-relocatable one runs at pref_address
 * (Documentation/arch/x86/boot.rst, init_size). What the kernel needs ends there, plus init_size.
 */
Test(loader, bzimage_runtime_start)
{
        KernelImage k;

        /* Linux's usual header: 16 MiB preferred, 2 MiB alignment. */
        build_bzimage();
        put64(0x258, 0x1000000);
        put32(0x230, 0x200000);
        put32(0x260, 0x2000000);
        load_ok(&k);
        cr_assert(eq(u64, k.entry, 0x100200), "the 64-bit entry is where the image was loaded");
        cr_assert(eq(u64, k.load_end, 0x1000000 + 0x2000000));

        /* No preference: the load address rounded up to the alignment. */
        build_bzimage();
        put64(0x258, 0);
        put32(0x230, 0x200000);
        load_ok(&k);
        cr_assert(eq(u64, k.load_end, 0x200000 + 0x400000));

        /* Not relocatable: pref_address itself. */
        build_bzimage();
        img.data[0x234] = 0;
        put64(0x258, 0x800000);
        load_ok(&k);
        cr_assert(eq(u64, k.load_end, 0x800000 + 0x400000));
}

Test(loader, bzimage_runtime_start_beyond_ram)
{
        /* 16 MiB + 52 MiB does not fit in 64 MiB, though 1 MiB + 52 MiB would. */
        build_bzimage();
        put64(0x258, 0x1000000);
        put32(0x230, 0x200000);
        put32(0x260, 0x3400000);
        load_fails(-E2BIG, NULL);
}

Test(loader, bzimage_initramfs_clear_of_the_decompressed_kernel)
{
        KernelImage k;
        uint64_t addr = 0;
        int r;

        /* The kernel decompresses into [16 MiB, 48 MiB): a 20 MiB initramfs below 64 MiB cannot avoid it. */
        build_bzimage();
        put64(0x258, 0x1000000);
        put32(0x230, 0x200000);
        put32(0x260, 0x2000000);
        load_ok(&k);
        r = initramfs_place(mem, &k, 20 * MiB, &addr);
        cr_assert(r == -E2BIG || addr >= 0x3000000,
                  "initramfs placed at 0x%" PRIx64 ", inside the kernel's %s", addr,
                  "[0x1000000, 0x3000000)");
        /* 16 MiB fits just above it. */
        cr_assert(eq(int, initramfs_place(mem, &k, 16 * MiB, &addr), 0));
        cr_assert(eq(u64, addr, 0x3000000));
}

Test(loader, bzimage_malformed)
{
        build_bzimage();
        img.len = BZIMAGE_SETUP_HEADER_END - 1;
        load_fails(-EINVAL, "truncated");

        build_bzimage();
        img.len = 0x206;
        load_fails(-EINVAL, "truncated");

        build_bzimage();
        put16(0x206, 0x020b);
        load_fails(-EINVAL, "older than 2.12");

        build_bzimage();
        put16(0x206, 0x0100);
        load_fails(-EINVAL, "older than 2.12");

        build_bzimage();
        put16(0x236, 0x2);
        load_fails(-EINVAL, "XLF_KERNEL_64");

        build_bzimage();
        img.data[0x1f1] = 0xff; /* 128 KiB of setup in a 6.5 KiB file */
        load_fails(-EINVAL, "larger than the file");

        build_bzimage();
        img.len = BZ_SETUP_SIZE; /* setup and nothing else */
        load_fails(-EINVAL, "larger than the file");

        build_bzimage();
        put32(0x260, (uint32_t) (MEM_SIZE - LOADER_HIGH_RAM_START + 1));
        load_fails(-E2BIG, NULL);

        build_bzimage();
        put32(0x260, UINT32_MAX);
        load_fails(-E2BIG, NULL);
}

Test(loader, bzimage_magic_required)
{
        build_bzimage();
        put16(0x1fe, 0x55aa);
        load_fails(-ENOEXEC, NULL);

        build_bzimage();
        memcpy(img.data + 0x202, "HdrT", 4);
        load_fails(-ENOEXEC, NULL);

        build_bzimage();
        img.len = 0x205; /* cannot even hold the magic */
        load_fails(-ENOEXEC, NULL);
}

/* initramfs placement */

static KernelImage elf_kernel(uint64_t load_end)
{
        return (KernelImage) { .protocol = BOOT_PVH, .load_end = load_end, .initrd_addr_max = UINT32_MAX };
}

Test(loader, initramfs_fits_at_the_top)
{
        KernelImage k = elf_kernel(KERNEL_PADDR + SEG_MEMSZ);
        uint64_t addr = 0;

        cr_assert(eq(int, initramfs_place(mem, &k, MiB, &addr), 0));
        cr_assert(eq(u64, addr, MEM_SIZE - MiB));
        /* Unaligned sizes are placed on a page boundary. */
        cr_assert(eq(int, initramfs_place(mem, &k, 5000, &addr), 0));
        cr_assert(eq(u64, addr, MEM_SIZE - 2 * PAGE));
        cr_assert(eq(u64, addr % PAGE, 0));
        cr_assert(ge(u64, MEM_SIZE - addr, 5000));
        cr_assert(eq(int, initramfs_place(mem, &k, 1, &addr), 0));
        cr_assert(eq(u64, addr, MEM_SIZE - PAGE));
}

Test(loader, initramfs_does_not_fit)
{
        KernelImage k = elf_kernel(KERNEL_PADDR + SEG_MEMSZ);
        uint64_t addr = 0x1234;

        cr_assert(eq(int, initramfs_place(mem, &k, MEM_SIZE, &addr), -E2BIG));
        cr_assert(eq(int, initramfs_place(mem, &k, MEM_SIZE + 1, &addr), -E2BIG));
        cr_assert(eq(int, initramfs_place(mem, &k, UINT64_MAX, &addr), -E2BIG));
        cr_assert(eq(int, initramfs_place(mem, &k, 0, &addr), -E2BIG));
        cr_assert(eq(u64, addr, 0x1234));
}

Test(loader, initramfs_stays_above_the_kernel)
{
        /* load_end not page aligned: the initramfs starts at the next page at the lowest. */
        KernelImage k = elf_kernel(KERNEL_PADDR + 0x1801);
        uint64_t room = MEM_SIZE - (KERNEL_PADDR + 0x2000), addr = 0;

        cr_assert(eq(int, initramfs_place(mem, &k, room, &addr), 0));
        cr_assert(eq(u64, addr, KERNEL_PADDR + 0x2000));
        cr_assert(eq(int, initramfs_place(mem, &k, room + 1, &addr), -E2BIG));

        k.load_end = MEM_SIZE;
        cr_assert(eq(int, initramfs_place(mem, &k, 1, &addr), -E2BIG));
}

Test(loader, initramfs_respects_initrd_addr_max)
{
        KernelImage k = elf_kernel(KERNEL_PADDR + SEG_MEMSZ);
        uint64_t addr = 0;

        k.initrd_addr_max = 32 * MiB - 1;
        cr_assert(eq(int, initramfs_place(mem, &k, MiB, &addr), 0));
        cr_assert(eq(u64, addr, 31 * MiB));
        cr_assert(le(u64, addr + MiB - 1, k.initrd_addr_max));

        /* An odd limit: the initramfs must still end at or below it. */
        k.initrd_addr_max = 0x17fffff + 0x800;
        cr_assert(eq(int, initramfs_place(mem, &k, 0x3000, &addr), 0));
        cr_assert(le(u64, addr + 0x3000 - 1, k.initrd_addr_max));
        cr_assert(eq(u64, addr % PAGE, 0));

        /* A limit below the kernel leaves no room. */
        k.initrd_addr_max = KERNEL_PADDR - 1;
        cr_assert(eq(int, initramfs_place(mem, &k, PAGE, &addr), -E2BIG));

        /* 0 means no limit. */
        k.initrd_addr_max = 0;
        cr_assert(eq(int, initramfs_place(mem, &k, MiB, &addr), 0));
        cr_assert(eq(u64, addr, MEM_SIZE - MiB));
}

Test(loader, initramfs_below_the_32bit_hole)
{
        _cleanup_(guest_memory_freep) GuestMemory *big = NULL;
        KernelImage k = elf_kernel(KERNEL_PADDR + SEG_MEMSZ);
        uint64_t addr = 0;

        cr_assert(eq(int, guest_memory_new(4 * GiB + 64 * MiB, false, false, false, &big), 0));
        cr_assert(eq(int, initramfs_place(big, &k, 16 * MiB, &addr), 0));
        cr_assert(eq(u64, addr, GUEST_MEM_32BIT_HOLE_START - 16 * MiB));

        k.initrd_addr_max = 0x37ffffff;
        cr_assert(eq(int, initramfs_place(big, &k, 16 * MiB, &addr), 0));
        cr_assert(eq(u64, addr, 0x38000000 - 16 * MiB));
}

Test(loader, with_real_guest_memory)
{
        _cleanup_(guest_memory_freep) GuestMemory *m = NULL;
        KernelImage k;
        char err[256] = "";

        build_pvh(KERNEL_PADDR + 0x20);
        cr_assert(eq(int, guest_memory_new(64 * MiB, false, false, false, &m), 0));
        cr_assert(eq(int, kernel_image_load(m, img.data, img.len, &k, err, sizeof err), 0), "%s", err);
        cr_assert(eq(int,
                     memcmp(guest_memory_ptr(m, KERNEL_PADDR, SEG_FILESZ), img.data + SEG_OFF, SEG_FILESZ),
                     0));
        cr_assert(eq(u64, k.entry, KERNEL_PADDR + 0x20));
}
