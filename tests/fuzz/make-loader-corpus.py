#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes the seed corpus of the kernel-loader fuzz target: small ELF (with and without a PVH note)
and bzImage headers, valid and malformed, each well under 8 KiB.

Usage: make-loader-corpus.py [DIRECTORY]   (default: corpus/loader next to this script)
"""

import os
import struct
import sys

KERNEL_PADDR = 0x1000000
PT_LOAD, PT_NOTE = 1, 4
XEN_ELFNOTE_PHYS32_ENTRY = 18
EHDR_SIZE, PHDR_SIZE = 64, 56


def ehdr(entry, phnum, phoff=EHDR_SIZE, cls=2, data=1, etype=2, machine=62, phentsize=PHDR_SIZE):
    ident = b"\x7fELF" + bytes([cls, data, 1, 0]) + bytes(8)
    return ident + struct.pack("<HHIQQQIHHHHHH", etype, machine, 1, entry, phoff, 0, 0, EHDR_SIZE,
                               phentsize, phnum, 64, 0, 0)


def phdr(ptype, offset, paddr, filesz, memsz, align=0x200000):
    vaddr = (paddr + 0xffffffff80000000) & 0xffffffffffffffff
    return struct.pack("<IIQQQQQQ", ptype, 5, offset, vaddr, paddr, filesz, memsz, align)


def note(ntype, name, desc, namesz=None, descsz=None):
    namesz = len(name) if namesz is None else namesz
    descsz = len(desc) if descsz is None else descsz
    pad = lambda b: b + bytes(-len(b) % 4)
    return struct.pack("<III", namesz, descsz, ntype) + pad(name) + pad(desc)


def payload(n):
    return bytes((1 + i % 251) for i in range(n))


def elf(entry, segments, notes=None, **kw):
    """segments: (paddr, filesz, memsz); notes: bytes of one PT_NOTE segment, or None."""
    headers = len(segments) + (1 if notes is not None else 0)
    offset = EHDR_SIZE + headers * PHDR_SIZE
    body, phdrs = b"", b""
    if notes is not None:
        phdrs += phdr(PT_NOTE, offset, 0, len(notes), 0, align=4)
        body += notes
    for paddr, filesz, memsz in segments:
        seg_off = offset + len(body)
        phdrs += phdr(PT_LOAD, seg_off, paddr, filesz, memsz)
        body += payload(filesz)
    return ehdr(entry, headers, **kw) + phdrs + body


def pvh_note(entry, size=4):
    return note(XEN_ELFNOTE_PHYS32_ENTRY, b"Xen\0", entry.to_bytes(size, "little"))


def build_id_note():
    return note(3, b"GNU\0", bytes(range(1, 21)))


def bzimage(version=0x020F, xloadflags=0x3, setup_sects=4, init_size=0x400000, payload_size=0x800,
            hdr_jump=0x6A, initrd_addr_max=0x7FFFFFFF, cmdline_size=2047):
    setup = bytearray((setup_sects or 4) * 512 + 512)
    setup[0x1F1] = setup_sects
    struct.pack_into("<H", setup, 0x1FE, 0xAA55)
    setup[0x200] = 0xEB
    setup[0x201] = hdr_jump
    setup[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", setup, 0x206, version)
    setup[0x211] = 0x01
    struct.pack_into("<I", setup, 0x214, 0x100000)
    struct.pack_into("<I", setup, 0x22C, initrd_addr_max)
    struct.pack_into("<I", setup, 0x230, 0x200000)
    setup[0x234] = 1
    struct.pack_into("<H", setup, 0x236, xloadflags)
    struct.pack_into("<I", setup, 0x238, cmdline_size)
    struct.pack_into("<I", setup, 0x260, init_size)
    return bytes(setup) + payload(payload_size)


def seeds():
    seg = [(KERNEL_PADDR, 0x400, 0x2000)]
    yield "elf-pvh", elf(KERNEL_PADDR + 0x40, seg, build_id_note() + pvh_note(KERNEL_PADDR + 0x100))
    yield "elf-pvh-8-byte-entry", elf(KERNEL_PADDR, seg, pvh_note(KERNEL_PADDR + 0x10, 8))
    yield "elf-vmlinux", elf(KERNEL_PADDR + 0x40, seg)
    yield "elf-vmlinux-two-segments", elf(KERNEL_PADDR, [(KERNEL_PADDR, 0x200, 0x200),
                                                         (KERNEL_PADDR + 0x200000, 0x100, 0x100000)])
    yield "elf-vmlinux-other-notes", elf(KERNEL_PADDR, seg, note(1, b"Linux\0", b"abcd") +
                                         note(XEN_ELFNOTE_PHYS32_ENTRY, b"Xe\0", b"\0\0\0\1"))
    yield "elf-note-oversized-name", elf(KERNEL_PADDR, seg, note(18, b"", b"", namesz=0xFFFFFFFF))
    yield "elf-note-oversized-desc", elf(KERNEL_PADDR, seg, note(18, b"Xen\0", b"", descsz=0xFFFFFFF0))
    yield "elf-pvh-2-byte-entry", elf(KERNEL_PADDR, seg, pvh_note(0x1234, 2))
    yield "elf-segment-below-1m", elf(0x8000, [(0x8000, 0x100, 0x100)])
    yield "elf-segment-beyond-ram", elf(KERNEL_PADDR, [(0x100000000, 0x100, 0x100)])
    yield "elf-memsz-wraps", elf(KERNEL_PADDR, [(KERNEL_PADDR, 0x100, (1 << 64) - KERNEL_PADDR + 1)])
    yield "elf-filesz-over-memsz", elf(KERNEL_PADDR, [(KERNEL_PADDR, 0x200, 0x100)])
    yield "elf-entry-outside", elf(0x500, seg)
    yield "elf-phoff-outside", elf(KERNEL_PADDR, seg, phoff=0xFFFFFFFFFFFFFF00)
    yield "elf-too-many-phdrs", ehdr(KERNEL_PADDR, 65) + bytes(65 * PHDR_SIZE)
    yield "elf-32-bit", elf(KERNEL_PADDR, seg, cls=1)
    yield "elf-aarch64", elf(KERNEL_PADDR, seg, machine=183)
    yield "elf-shared-object", elf(KERNEL_PADDR, seg, etype=3)
    yield "elf-truncated-header", ehdr(KERNEL_PADDR, 1)[:40]
    yield "elf-truncated-segment", elf(KERNEL_PADDR + 0x40, seg)[:0x100]
    yield "bzimage", bzimage()
    yield "bzimage-zero-setup-sects", bzimage(setup_sects=0)
    yield "bzimage-long-header-jump", bzimage(hdr_jump=0xFF)
    yield "bzimage-small-init-size", bzimage(init_size=0x10)
    yield "bzimage-old-protocol", bzimage(version=0x020B)
    yield "bzimage-no-64-bit-entry", bzimage(xloadflags=0x2)
    yield "bzimage-setup-larger-than-file", bzimage(setup_sects=4, payload_size=0)[:0x400] + bytes(0x100)
    yield "bzimage-init-size-beyond-ram", bzimage(init_size=0xFFFFFFFF)
    yield "bzimage-short-cmdline-size", bzimage(cmdline_size=16)
    yield "bzimage-low-initrd-addr-max", bzimage(initrd_addr_max=0x1FFFFF)
    yield "bzimage-truncated", bzimage()[:0x280]
    yield "not-a-kernel", b"#!/bin/sh\necho this is not a kernel\n"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "corpus", "loader")
    os.makedirs(out, exist_ok=True)
    for name, data in seeds():
        assert len(data) < 8192, name
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
